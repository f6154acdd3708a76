"""SQLAlchemy models, one module per aggregate; importing this package registers them all."""

from callcenter.models import ivr  # noqa: F401  (registers the IVR tables)
from callcenter.models.audit import GENESIS_HASH, AuditEntry, AuditHead
from callcenter.models.base import Base, utcnow
from callcenter.models.call import (
    ACTIVE_CALL_STATUSES,
    CallAttempt,
    CallDirection,
    CallStatus,
    Recording,
    RecordingStatus,
    Speaker,
    TranscriptSegment,
)
from callcenter.models.campaign import (
    Campaign,
    CampaignAgent,
    CampaignKind,
    CampaignStatus,
    FollowUpTask,
    TaskState,
)
from callcenter.models.followup import Disposition, FollowUpLog
from callcenter.models.health import (
    Allergy,
    Condition,
    ExamReport,
    ExamReportItem,
    Medication,
    Observation,
    ObservationSource,
)
from callcenter.models.imports import ImportFormat, ImportJob, ImportStatus
from callcenter.models.patient import ConsentMethod, Patient, PatientPhone, Sex
from callcenter.models.qa import Scorecard
from callcenter.models.tag import PatientTag, Tag, TagSource
from callcenter.models.telephony import AgentState, NumberFormat, Presence, Trunk, TrunkStatus
from callcenter.models.user import ApiToken, Role, User

__all__ = [
    "ACTIVE_CALL_STATUSES",
    "GENESIS_HASH",
    "AgentState",
    "Allergy",
    "ApiToken",
    "AuditEntry",
    "AuditHead",
    "Base",
    "CallAttempt",
    "CallDirection",
    "CallStatus",
    "Campaign",
    "CampaignAgent",
    "CampaignKind",
    "CampaignStatus",
    "Condition",
    "ConsentMethod",
    "Disposition",
    "ExamReport",
    "ExamReportItem",
    "FollowUpLog",
    "FollowUpTask",
    "ImportFormat",
    "ImportJob",
    "ImportStatus",
    "Medication",
    "NumberFormat",
    "Observation",
    "ObservationSource",
    "Patient",
    "PatientPhone",
    "PatientTag",
    "Presence",
    "Recording",
    "RecordingStatus",
    "Role",
    "Scorecard",
    "Sex",
    "Speaker",
    "Tag",
    "TagSource",
    "TaskState",
    "TranscriptSegment",
    "Trunk",
    "TrunkStatus",
    "User",
    "utcnow",
]
