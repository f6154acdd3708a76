"""Trunks (how calls leave the switch) and agents' presence."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, Float, ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from callcenter.models.base import Base, StrEnum, enum_type, utcnow


class NumberFormat(StrEnum):
    E164 = "e164"  # +8613800138000
    NATIONAL = "national"  # 013800138000 / 13800138000 as the carrier wants it
    DIGITS = "digits"  # 8613800138000


class TrunkStatus(StrEnum):
    UP = "up"
    DOWN = "down"


class Trunk(Base):
    """A way out to the phone network: a dial-string template and its limits."""

    __tablename__ = "trunks"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    # Any FreeSWITCH endpoint: sofia/gateway/{gateway}/{number}, loopback/{number}, ...
    dial_string: Mapped[str] = mapped_column(
        String(200), default="sofia/gateway/{gateway}/{number}"
    )
    gateway: Mapped[str] = mapped_column(String(64), default="")
    number_format: Mapped[NumberFormat] = mapped_column(
        enum_type(NumberFormat), default=NumberFormat.E164
    )
    caller_id_number: Mapped[str] = mapped_column(String(32), default="")
    caller_id_name: Mapped[str] = mapped_column(String(64), default="")
    max_concurrent: Mapped[int] = mapped_column(default=30)
    calls_per_second: Mapped[float] = mapped_column(Float, default=10.0)
    node: Mapped[str] = mapped_column(String(64), default="fs1")  # which FreeSWITCH
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    status: Mapped[TrunkStatus] = mapped_column(enum_type(TrunkStatus), default=TrunkStatus.UP)
    status_reason: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Presence(StrEnum):
    LOGGED_OUT = "logged_out"
    READY = "ready"
    PAUSED = "paused"
    RESERVED = "reserved"  # a patient is being dialled for this agent
    IN_CALL = "in_call"
    WRAP_UP = "wrap_up"


class AgentState(Base):
    """Where an agent is right now; one row per agent, changed by services.presence."""

    __tablename__ = "agent_states"

    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    state: Mapped[Presence] = mapped_column(enum_type(Presence), default=Presence.LOGGED_OUT)
    reason: Mapped[str] = mapped_column(String(120), default="")
    since: Mapped[datetime] = mapped_column(default=utcnow)
    wrap_up_until: Mapped[datetime | None]
    call_id: Mapped[str | None] = mapped_column(String(36))
