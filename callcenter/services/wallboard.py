"""The supervisors' wallboard: agents and their states, live calls, campaign progress."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from callcenter.models import (
    ACTIVE_CALL_STATUSES,
    AgentState,
    CallAttempt,
    Campaign,
    CampaignStatus,
    Patient,
    Presence,
    Role,
    User,
)
from callcenter.services import authz, campaign_control

# Campaigns worth a tile: those that dial now or may again soon.
SHOWN_CAMPAIGNS = (CampaignStatus.RUNNING, CampaignStatus.PAUSED)


@dataclass(frozen=True)
class AgentTile:
    user_id: int
    name: str
    extension: str | None
    state: Presence
    reason: str
    seconds_in_state: int
    call_id: str | None


@dataclass(frozen=True)
class LiveCall:
    call_id: str
    status: str
    agent_name: str | None
    patient_name: str | None
    campaign_name: str | None
    seconds: int  # since answer if answered, else since dialling began


@dataclass(frozen=True)
class CampaignTile:
    campaign_id: int
    name: str
    status: str
    tasks: dict[str, int]
    calls: int
    answered: int
    answer_rate: float | None
    average_handle_seconds: float | None


@dataclass(frozen=True)
class Wallboard:
    agents: list[AgentTile]
    calls: list[LiveCall]
    campaigns: list[CampaignTile]
    counts: dict[str, int]  # agents by state
    at: datetime


def _seconds(since: datetime | None, now: datetime) -> int:
    return max(0, int((now - since).total_seconds())) if since else 0


def _agents(session: Session, now: datetime) -> list[AgentTile]:
    rows = session.execute(
        select(User, AgentState)
        .outerjoin(AgentState, AgentState.user_id == User.id)
        .where(User.role == Role.AGENT, User.active.is_(True))
        .order_by(User.display_name, User.id)
    ).all()
    tiles = []
    for user, state in rows:
        tiles.append(
            AgentTile(
                user_id=user.id,
                name=user.display_name,
                extension=user.sip_extension,
                state=state.state if state else Presence.LOGGED_OUT,
                reason=state.reason if state else "",
                seconds_in_state=_seconds(state.since if state else None, now),
                call_id=state.call_id if state else None,
            )
        )
    return tiles


def _live_calls(session: Session, now: datetime) -> list[LiveCall]:
    rows = session.execute(
        select(CallAttempt, User.display_name, Patient.name, Campaign.name)
        .outerjoin(User, User.id == CallAttempt.agent_id)
        .outerjoin(Patient, Patient.id == CallAttempt.patient_id)
        .outerjoin(Campaign, Campaign.id == CallAttempt.campaign_id)
        .where(CallAttempt.status.in_(ACTIVE_CALL_STATUSES))
        .order_by(CallAttempt.started_at)
        .limit(200)
    ).all()
    return [
        LiveCall(
            call_id=call.id,
            status=str(call.status),
            agent_name=agent,
            patient_name=patient,
            campaign_name=campaign,
            seconds=_seconds(call.answered_at or call.started_at, now),
        )
        for call, agent, patient, campaign in rows
    ]


def average_handle_seconds(session: Session, campaign_id: int) -> float | None:
    """Mean talk time (billsec) of the campaign's answered calls; None before the first one."""
    value = session.scalar(
        select(func.avg(CallAttempt.billsec)).where(
            CallAttempt.campaign_id == campaign_id,
            CallAttempt.answered_at.is_not(None),
            CallAttempt.billsec.is_not(None),
        )
    )
    return round(float(value), 1) if value is not None else None


def _ended_answer_rate(session: Session, campaign_id: int) -> tuple[int, float | None]:
    """Answered share of the calls that have ended. (campaign_control.progress divides every
    answered call, live ones included, by ended calls, which passes 100% while calls are up.)"""
    ended = CallAttempt.hangup_cause.is_not(None)
    total, answered = session.execute(
        select(
            func.count(),
            func.count(CallAttempt.answered_at),
        ).where(CallAttempt.campaign_id == campaign_id, ended)
    ).one()
    return answered, (round(answered / total, 3) if total else None)


def _campaigns(session: Session, user: User) -> list[CampaignTile]:
    shown = session.scalars(
        select(Campaign).where(Campaign.status.in_(SHOWN_CAMPAIGNS)).order_by(Campaign.name)
    ).all()
    tiles = []
    for campaign in shown:
        progress = campaign_control.progress(session, user, campaign.id)
        answered, answer_rate = _ended_answer_rate(session, campaign.id)
        tiles.append(
            CampaignTile(
                campaign_id=campaign.id,
                name=campaign.name,
                status=progress["status"],
                tasks=progress["tasks"],
                calls=progress["calls"],
                answered=answered,
                answer_rate=answer_rate,
                average_handle_seconds=average_handle_seconds(session, campaign.id),
            )
        )
    return tiles


def snapshot(session: Session, user: User, now: datetime) -> Wallboard:
    """Everything the wallboard shows, as of ``now``."""
    authz.require(user, "wallboard.read")
    agents = _agents(session, now)
    counts: dict[str, int] = {str(p): 0 for p in Presence}
    for tile in agents:
        counts[str(tile.state)] += 1
    return Wallboard(agents, _live_calls(session, now), _campaigns(session, user), counts, now)
