"""Who may do what: role permissions and the agent's view of patients."""

from __future__ import annotations

from sqlalchemy import Select, exists, select

from callcenter.errors import Forbidden
from callcenter.models import CampaignAgent, FollowUpTask, Patient, Role, User

ALL_ROLES = frozenset(Role)
STAFF = frozenset({Role.SUPERVISOR, Role.ADMIN})

# One place that says which roles may do what. Routes name a permission, never raw roles.
PERMISSIONS: dict[str, frozenset[Role]] = {
    "patients.read": frozenset({Role.AGENT, Role.SUPERVISOR, Role.ADMIN}),
    "patients.write": STAFF,
    "patients.import": STAFF,
    "health.write": frozenset({Role.AGENT, Role.SUPERVISOR, Role.ADMIN}),
    "tags.read": frozenset({Role.AGENT, Role.SUPERVISOR, Role.ADMIN}),
    "tags.write": STAFF,
    "campaigns.read": frozenset({Role.AGENT, Role.SUPERVISOR, Role.ADMIN}),
    "campaigns.write": STAFF,
    "tasks.read": frozenset({Role.AGENT, Role.SUPERVISOR, Role.ADMIN}),
    "tasks.write": STAFF,
    "users.manage": frozenset({Role.ADMIN}),
    "audit.read": frozenset({Role.ADMIN}),
    "recordings.play": STAFF,
    "transcripts.read": frozenset({Role.QA, Role.SUPERVISOR, Role.ADMIN}),
    "transcripts.search": frozenset({Role.QA, Role.SUPERVISOR, Role.ADMIN}),
    "recordings.read": STAFF,
    "recordings.requeue": STAFF,
    "exports.run": STAFF,
    "profile.read": ALL_ROLES,
    "trunks.manage": frozenset({Role.ADMIN}),
    "trunks.read": STAFF,
    "campaigns.control": STAFF,
    "calls.read": frozenset({Role.AGENT, Role.SUPERVISOR, Role.ADMIN}),
    "calls.hangup": frozenset({Role.AGENT, Role.SUPERVISOR, Role.ADMIN}),
    "calls.place": frozenset({Role.AGENT}),
    "presence.self": frozenset({Role.AGENT}),
    "presence.read": STAFF,
    "wallboard.read": STAFF,
    "scorecards.read": frozenset({Role.QA, Role.SUPERVISOR, Role.ADMIN}),
    "scorecards.write": frozenset({Role.QA, Role.SUPERVISOR, Role.ADMIN}),
    "donotcall.manage": STAFF,
    "ivr.manage": STAFF,
    "ivr.reports": STAFF,
}


def allowed(user: User | None, permission: str) -> bool:
    if user is None or not user.active:
        return False
    return user.role in PERMISSIONS[permission]


def require(user: User | None, permission: str) -> None:
    if not allowed(user, permission):
        raise Forbidden(f"your role may not do {permission}", {"permission": permission})


def sees_all_patients(user: User) -> bool:
    return user.role in STAFF


def visible_patients(user: User, query: Select | None = None) -> Select:
    """Limit a patient query to what ``user`` may see: agents only their campaigns' patients."""
    query = select(Patient) if query is None else query
    if sees_all_patients(user):
        return query
    if user.role is not Role.AGENT:
        return query.where(False)
    # The agent's campaigns as a constant list: each candidate patient then costs one probe of
    # the tasks' patient index, not a join per row.
    campaign_ids = select(CampaignAgent.campaign_id).where(CampaignAgent.user_id == user.id)
    assigned = exists().where(
        FollowUpTask.patient_id == Patient.id,
        FollowUpTask.campaign_id.in_(campaign_ids.scalar_subquery()),
    )
    return query.where(assigned)


def masks_identifiers(user: User) -> bool:
    """QA reads transcripts with phone and ID numbers masked."""
    return user.role is Role.QA
