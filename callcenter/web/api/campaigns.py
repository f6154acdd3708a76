"""Campaigns and follow-up tasks."""

from __future__ import annotations

from flask_smorest import Blueprint

from callcenter.extensions import db
from callcenter.services import campaigns
from callcenter.web.api.common import PREFIX, page_body
from callcenter.web.api.schemas import (
    CampaignIn,
    CampaignOut,
    CampaignPage,
    PageArgs,
    TaskArgs,
    TaskIn,
    TaskOut,
    TaskPage,
)
from callcenter.web.security import current, requires

blp = Blueprint(
    "campaigns", __name__, url_prefix=PREFIX, description="Campaigns and their follow-up tasks"
)


@blp.route("/campaigns")
@blp.arguments(PageArgs, location="query")
@blp.response(200, CampaignPage)
@requires("campaigns.read")
def list_campaigns(args):
    """Campaigns, newest first (agents: those they are assigned to)."""
    return page_body(campaigns.list_campaigns(db.session, current(), **args))


@blp.route("/campaigns", methods=["POST"])
@blp.arguments(CampaignIn)
@blp.response(201, CampaignOut)
@requires("campaigns.write")
def create_campaign(data):
    """Create a campaign with its windows, retry policy, question script and agents."""
    campaign = campaigns.create(db.session, current(), data)
    db.session.commit()
    return campaign


@blp.route("/campaigns/<int:campaign_id>")
@blp.response(200, CampaignOut)
@requires("campaigns.read")
def get_campaign(campaign_id: int):
    """One campaign."""
    return campaigns.get(db.session, current(), campaign_id)


@blp.route("/tasks")
@blp.arguments(TaskArgs, location="query")
@blp.response(200, TaskPage)
@requires("tasks.read")
def list_tasks(args):
    """Follow-up tasks, filtered by campaign, state or patient."""
    return page_body(campaigns.list_tasks(db.session, current(), **args))


@blp.route("/tasks", methods=["POST"])
@blp.arguments(TaskIn)
@blp.response(201, TaskOut)
@requires("tasks.write")
def create_task(data):
    """Create a follow-up task for a patient in a campaign."""
    task = campaigns.create_task(db.session, current(), data)
    db.session.commit()
    return task


@blp.route("/tasks/<int:task_id>")
@blp.response(200, TaskOut)
@requires("tasks.read")
def get_task(task_id: int):
    """One follow-up task."""
    return campaigns.get_task(db.session, current(), task_id)
