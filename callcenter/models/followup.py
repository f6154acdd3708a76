"""Follow-up logs: what an agent (or the IVR) recorded as the outcome of a contact."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Date, ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from callcenter.models.base import Base, StrEnum, enum_type, json_type, utcnow


class Disposition(StrEnum):
    REACHED = "reached"
    CALLBACK_REQUESTED = "callback_requested"
    WRONG_NUMBER = "wrong_number"
    NOT_REACHED = "not_reached"
    REFUSED = "refused"
    DECEASED = "deceased"


class FollowUpLog(Base):
    __tablename__ = "followup_logs"

    id: Mapped[int] = mapped_column(primary_key=True)
    patient_id: Mapped[int] = mapped_column(
        ForeignKey("patients.id", ondelete="CASCADE"), index=True
    )
    task_id: Mapped[int | None] = mapped_column(
        ForeignKey("followup_tasks.id", ondelete="SET NULL"), index=True
    )
    agent_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    call_attempt_id: Mapped[str | None] = mapped_column(
        ForeignKey("call_attempts.id", ondelete="SET NULL"), index=True
    )
    recording_id: Mapped[int | None] = mapped_column(
        ForeignKey("recordings.id", ondelete="SET NULL")
    )
    disposition: Mapped[Disposition] = mapped_column(enum_type(Disposition))
    notes: Mapped[str] = mapped_column(Text, default="")
    answers: Mapped[dict] = mapped_column(json_type(), default=dict)
    next_follow_up_on: Mapped[date | None] = mapped_column(Date)
    summary: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
