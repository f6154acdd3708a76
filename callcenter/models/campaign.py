"""Campaigns and the follow-up tasks they turn into calls."""

from __future__ import annotations

import copy
from datetime import datetime

from sqlalchemy import Float, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from callcenter.models.base import Base, StrEnum, enum_type, json_type, utcnow


class CampaignKind(StrEnum):
    AGENT = "agent"
    IVR = "ivr"


class CampaignStatus(StrEnum):
    DRAFT = "draft"
    RUNNING = "running"
    PAUSED = "paused"
    STOPPED = "stopped"
    COMPLETED = "completed"


# Defaults a clinic would pick: mornings and afternoons on weekdays, Saturday morning.
DEFAULT_WINDOWS = [
    {"days": [0, 1, 2, 3, 4], "start": "09:00", "end": "12:00"},
    {"days": [0, 1, 2, 3, 4], "start": "14:00", "end": "20:00"},
    {"days": [5], "start": "09:00", "end": "12:00"},
]
# Seconds to wait before the next attempt, by how the last one ended. None: never again.
DEFAULT_RETRY_DELAYS = {"busy": 600, "no_answer": 3600, "rejected": 86400, "invalid": None}


class Campaign(Base):
    __tablename__ = "campaigns"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    kind: Mapped[CampaignKind] = mapped_column(enum_type(CampaignKind))
    status: Mapped[CampaignStatus] = mapped_column(
        enum_type(CampaignStatus), default=CampaignStatus.DRAFT
    )
    description: Mapped[str] = mapped_column(Text, default="")
    calling_windows: Mapped[list] = mapped_column(
        json_type(), default=lambda: copy.deepcopy(DEFAULT_WINDOWS)
    )
    retry_delays: Mapped[dict] = mapped_column(
        json_type(), default=lambda: dict(DEFAULT_RETRY_DELAYS)
    )
    max_attempts: Mapped[int] = mapped_column(default=3)
    question_script: Mapped[list] = mapped_column(json_type(), default=list)
    trunk_id: Mapped[int | None] = mapped_column(ForeignKey("trunks.id", ondelete="SET NULL"))
    max_concurrent: Mapped[int] = mapped_column(default=10)
    calls_per_second: Mapped[float] = mapped_column(Float, default=5.0)
    wrap_up_seconds: Mapped[int] = mapped_column(default=30)
    status_reason: Mapped[str | None] = mapped_column(Text)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    agents: Mapped[list[CampaignAgent]] = relationship(
        back_populates="campaign", cascade="all, delete-orphan"
    )


class CampaignAgent(Base):
    """An agent assigned to a campaign: they may see and call its patients."""

    __tablename__ = "campaign_agents"

    campaign_id: Mapped[int] = mapped_column(
        ForeignKey("campaigns.id", ondelete="CASCADE"), primary_key=True
    )
    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True, index=True
    )

    campaign: Mapped[Campaign] = relationship(back_populates="agents")


class TaskState(StrEnum):
    PENDING = "pending"
    SCHEDULED = "scheduled"
    DIALING = "dialing"
    IN_CALL = "in_call"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"
    RETRY_SCHEDULED = "retry_scheduled"


class FollowUpTask(Base):
    """One patient to reach in one campaign; its state changes only through services.tasks."""

    __tablename__ = "followup_tasks"
    __table_args__ = (
        Index("ix_followup_tasks_campaign_state", "campaign_id", "state"),
        Index("ix_followup_tasks_due", "state", "due_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id", ondelete="CASCADE"))
    patient_id: Mapped[int] = mapped_column(
        ForeignKey("patients.id", ondelete="CASCADE"), index=True
    )
    assigned_agent_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), index=True
    )
    state: Mapped[TaskState] = mapped_column(enum_type(TaskState), default=TaskState.PENDING)
    priority: Mapped[int] = mapped_column(default=0)
    reason: Mapped[str] = mapped_column(Text, default="")
    due_at: Mapped[datetime | None]
    attempts: Mapped[int] = mapped_column(default=0)
    last_hangup_cause: Mapped[str | None] = mapped_column(String(64))
    failure_reason: Mapped[str | None] = mapped_column(Text)
    state_changed_at: Mapped[datetime] = mapped_column(default=utcnow)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    campaign: Mapped[Campaign] = relationship()
