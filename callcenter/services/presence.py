"""Agent presence: ready, paused (with a reason), reserved, in call, wrap-up, logged out."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from callcenter.errors import Conflict, InvalidInput
from callcenter.models import AgentState, Presence, Role, User, utcnow

# What an agent may choose; the dialer and controller set reserved, in call and wrap-up.
CHOOSABLE = frozenset({Presence.READY, Presence.PAUSED, Presence.LOGGED_OUT})
BUSY = frozenset({Presence.RESERVED, Presence.IN_CALL})


def state_of(session: Session, user_id: int) -> AgentState:
    state = session.get(AgentState, user_id)
    if state is None:
        state = AgentState(user_id=user_id, state=Presence.LOGGED_OUT, reason="", since=utcnow())
        session.add(state)
        session.flush()
    return state


def choose(session: Session, user: User, new: Presence, reason: str = "") -> AgentState:
    """The agent's own choice; refused while a call is being placed or is up."""
    if user.role is not Role.AGENT:
        raise InvalidInput("only agents have a presence state")
    if new not in CHOOSABLE:
        raise InvalidInput(f"agents choose ready, paused or logged_out, not {new}")
    if new is Presence.PAUSED and not reason.strip():
        raise InvalidInput("a pause needs a reason", {"field": "reason"})
    state = state_of(session, user.id)
    if state.state in BUSY:
        raise Conflict(f"cannot change presence while {state.state}", {"state": str(state.state)})
    return set_state(state, new, reason.strip())


def set_state(
    state: AgentState,
    new: Presence,
    reason: str = "",
    *,
    call_id: str | None = None,
    wrap_up_until: datetime | None = None,
) -> AgentState:
    state.state = new
    state.reason = reason
    state.since = utcnow()
    state.call_id = call_id
    state.wrap_up_until = wrap_up_until
    return state


def wrap_up(state: AgentState, seconds: int, now: datetime) -> AgentState:
    return set_state(state, Presence.WRAP_UP, wrap_up_until=now + timedelta(seconds=seconds))


def end_expired_wrap_ups(session: Session, now: datetime) -> list[int]:
    """Agents whose wrap-up time is over become ready again."""
    expired = session.scalars(
        select(AgentState).where(
            AgentState.state == Presence.WRAP_UP, AgentState.wrap_up_until <= now
        )
    ).all()
    for state in expired:
        set_state(state, Presence.READY)
    return [s.user_id for s in expired]
