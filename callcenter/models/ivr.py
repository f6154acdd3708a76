"""Automated (IVR) calls: per-campaign settings, prompts, appointments, outcomes and answers."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from callcenter.models.base import Base, StrEnum, enum_type, json_type, utcnow


class IvrFlow(StrEnum):
    REMINDER = "reminder"
    QUESTIONNAIRE = "questionnaire"
    MEDICATION = "medication"


class IvrOutcome(StrEnum):
    REACHED = "reached"  # answered, the flow started
    CONFIRMED = "confirmed"
    CHANGE_REQUESTED = "change_requested"
    TRANSFERRED = "transferred"
    CALLBACK_SCHEDULED = "callback_scheduled"  # asked for someone, nobody was free
    ANSWERED = "answered"  # a questionnaire answered to the end
    NO_INPUT = "no_input"
    WRONG_INPUT = "wrong_input"
    HUNG_UP_EARLY = "hung_up_early"
    OPTED_OUT = "opted_out"
    FAILED = "failed"  # our side could not run the flow


class IvrCampaignSettings(Base):
    """Which flow an IVR campaign runs and how; campaigns without a row use the defaults."""

    __tablename__ = "ivr_campaign_settings"

    campaign_id: Mapped[int] = mapped_column(
        ForeignKey("campaigns.id", ondelete="CASCADE"), primary_key=True
    )
    flow: Mapped[IvrFlow] = mapped_column(enum_type(IvrFlow), default=IvrFlow.REMINDER)
    clinic_name: Mapped[str] = mapped_column(String(200), default="")
    # Seconds a patient who pressed 0 waits for a ready agent before we offer a callback.
    transfer_wait_seconds: Mapped[int] = mapped_column(default=20)
    # The agent campaign that receives callback and urgent tasks (made on first need if unset).
    callback_campaign_id: Mapped[int | None] = mapped_column(
        ForeignKey("campaigns.id", ondelete="SET NULL")
    )


class IvrPrompt(Base):
    """A prompt's text per campaign and language, and optionally uploaded audio that wins."""

    __tablename__ = "ivr_prompts"
    __table_args__ = (
        UniqueConstraint("campaign_id", "language", "key", name="uq_ivr_prompts_campaign_lang_key"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id", ondelete="CASCADE"))
    language: Mapped[str] = mapped_column(String(8))
    key: Mapped[str] = mapped_column(String(64))
    text: Mapped[str | None] = mapped_column(Text)
    audio_key: Mapped[str | None] = mapped_column(String(300))  # name in the prompt store
    audio_sha256: Mapped[str | None] = mapped_column(String(64))
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class IvrAppointment(Base):
    """The appointment a reminder task is about."""

    __tablename__ = "ivr_appointments"

    id: Mapped[int] = mapped_column(primary_key=True)
    task_id: Mapped[int] = mapped_column(
        ForeignKey("followup_tasks.id", ondelete="CASCADE"), unique=True
    )
    starts_at: Mapped[datetime]
    place: Mapped[str] = mapped_column(String(200), default="")


class IvrCall(Base):
    """The structured result of one automated call: outcome, the step reached, keys pressed."""

    __tablename__ = "ivr_calls"

    id: Mapped[int] = mapped_column(primary_key=True)
    call_attempt_id: Mapped[str] = mapped_column(
        ForeignKey("call_attempts.id", ondelete="CASCADE"), unique=True
    )
    task_id: Mapped[int | None] = mapped_column(
        ForeignKey("followup_tasks.id", ondelete="SET NULL"), index=True
    )
    campaign_id: Mapped[int | None] = mapped_column(
        ForeignKey("campaigns.id", ondelete="SET NULL"), index=True
    )
    patient_id: Mapped[int | None] = mapped_column(
        ForeignKey("patients.id", ondelete="CASCADE"), index=True
    )
    flow: Mapped[IvrFlow] = mapped_column(enum_type(IvrFlow))
    language: Mapped[str] = mapped_column(String(8))
    outcome: Mapped[IvrOutcome] = mapped_column(enum_type(IvrOutcome))
    step: Mapped[str] = mapped_column(String(64), default="")  # where the flow ended
    # [{"step": "menu", "digits": "1", "at": 3.2}, ...]: seconds after the flow started.
    keypad_trail: Mapped[list] = mapped_column(json_type(), default=list)
    detail: Mapped[str] = mapped_column(Text, default="")
    callback_task_id: Mapped[int | None] = mapped_column(
        ForeignKey("followup_tasks.id", ondelete="SET NULL")
    )
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    ended_at: Mapped[datetime | None]


class IvrQuestionnaireResponse(Base):
    """The answers a patient keyed in during one call, by question key."""

    __tablename__ = "ivr_questionnaire_responses"

    id: Mapped[int] = mapped_column(primary_key=True)
    ivr_call_id: Mapped[int] = mapped_column(
        ForeignKey("ivr_calls.id", ondelete="CASCADE"), unique=True
    )
    patient_id: Mapped[int] = mapped_column(
        ForeignKey("patients.id", ondelete="CASCADE"), index=True
    )
    campaign_id: Mapped[int | None] = mapped_column(ForeignKey("campaigns.id", ondelete="SET NULL"))
    answers: Mapped[dict] = mapped_column(json_type(), default=dict)
    complete: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
