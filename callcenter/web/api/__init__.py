"""The JSON API under /api/v1; flask-smorest builds its OpenAPI document from the schemas."""

from callcenter.web.api.campaigns import blp as campaigns_blp
from callcenter.web.api.imports import blp as imports_blp
from callcenter.web.api.ivr import blp as ivr_blp
from callcenter.web.api.patients import blp as patients_blp
from callcenter.web.api.recording_audio import blp as recording_audio_blp
from callcenter.web.api.tags import blp as tags_blp
from callcenter.web.api.telephony import blp as telephony_blp
from callcenter.web.api.transcripts import blp as transcripts_blp
from callcenter.web.api.users import blp as users_blp

API_BLUEPRINTS = (
    patients_blp,
    tags_blp,
    campaigns_blp,
    users_blp,
    imports_blp,
    telephony_blp,
    transcripts_blp,
    recording_audio_blp,
    ivr_blp,
)
