"""Server-rendered pages: sign-in, home, patients, the agent desk and its event stream,
supervisor, QA and admin pages, campaign reports."""

from flask import Blueprint

pages = Blueprint("pages", __name__)

# The modules register their routes on ``pages`` when imported.
from callcenter.web.pages import (  # noqa: E402,F401
    admin,
    auth,
    campaign_report,
    desk,
    events,
    home,
    ivr_prompts,
    patients,
    qa,
    supervisor,
)
