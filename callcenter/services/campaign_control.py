"""Starting, pausing, resuming and stopping campaigns, and how far they have got."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from callcenter.errors import Conflict, InvalidInput
from callcenter.models import (
    CallAttempt,
    Campaign,
    CampaignStatus,
    FollowUpTask,
    TaskState,
    Trunk,
    User,
)
from callcenter.services import audit, campaigns, tasks

S = CampaignStatus
# Which control verb moves a campaign from which states to which.
CONTROLS = {
    "start": ({S.DRAFT, S.STOPPED, S.COMPLETED}, S.RUNNING),
    "pause": ({S.RUNNING}, S.PAUSED),
    "resume": ({S.PAUSED}, S.RUNNING),
    "stop": ({S.RUNNING, S.PAUSED, S.DRAFT}, S.STOPPED),
}


def control(
    session: Session, user: User, campaign_id: int, verb: str, reason: str = ""
) -> Campaign:
    campaign = campaigns.get(session, user, campaign_id)
    allowed_from, target = CONTROLS[verb]
    if campaign.status not in allowed_from:
        raise Conflict(
            f"campaign {campaign.id} is {campaign.status}; cannot {verb} it",
            {"status": str(campaign.status)},
        )
    if target is S.RUNNING:
        trunk = session.get(Trunk, campaign.trunk_id) if campaign.trunk_id else None
        if trunk is None:
            raise InvalidInput(
                "give the campaign a trunk before starting it", {"field": "trunk_id"}
            )
        if not trunk.enabled:
            raise Conflict(f"trunk {trunk.name} is disabled")
    campaign.status = target
    campaign.status_reason = reason or None
    if verb == "stop":
        _cancel_waiting_tasks(session, campaign)
    audit.append(
        session,
        audit.Actor.of(user),
        f"campaign.{verb}",
        "campaign",
        campaign.id,
        {"reason": reason} if reason else {},
    )
    return campaign


def _cancel_waiting_tasks(session: Session, campaign: Campaign) -> None:
    """A stopped campaign dials no one; calls in progress finish normally."""
    waiting = session.scalars(
        select(FollowUpTask).where(
            FollowUpTask.campaign_id == campaign.id,
            FollowUpTask.state.in_(
                (TaskState.PENDING, TaskState.SCHEDULED, TaskState.RETRY_SCHEDULED)
            ),
        )
    ).all()
    for task in waiting:
        tasks.transition(task, TaskState.CANCELLED, reason="campaign stopped")


def progress(session: Session, user: User, campaign_id: int) -> dict:
    campaign = campaigns.get(session, user, campaign_id)
    by_state = dict(
        session.execute(
            select(FollowUpTask.state, func.count())
            .where(FollowUpTask.campaign_id == campaign.id)
            .group_by(FollowUpTask.state)
        ).all()
    )
    by_cause = dict(
        session.execute(
            select(CallAttempt.hangup_cause, func.count())
            .where(CallAttempt.campaign_id == campaign.id, CallAttempt.hangup_cause.is_not(None))
            .group_by(CallAttempt.hangup_cause)
        ).all()
    )
    answered = session.scalar(
        select(func.count()).where(
            CallAttempt.campaign_id == campaign.id, CallAttempt.answered_at.is_not(None)
        )
    )
    # The rate is over ended calls only (those with a cause), so a live answered call does not
    # push it past 100%.
    answered_and_ended = session.scalar(
        select(func.count()).where(
            CallAttempt.campaign_id == campaign.id,
            CallAttempt.answered_at.is_not(None),
            CallAttempt.hangup_cause.is_not(None),
        )
    )
    total_calls = sum(by_cause.values())
    return {
        "campaign_id": campaign.id,
        "status": str(campaign.status),
        "status_reason": campaign.status_reason,
        "tasks": {str(state): by_state.get(state, 0) for state in TaskState},
        "calls": total_calls,
        "answered": answered,
        "answer_rate": round(answered_and_ended / total_calls, 3) if total_calls else None,
        "hangup_causes": by_cause,
    }
