"""QA scorecards: a reviewer's checklist, comments and score for one call."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Float, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from callcenter.models.base import Base, json_type, utcnow


class Scorecard(Base):
    """One review of one call. ``items`` keeps the checklist as it was when scored (key, label,
    weight, passed), so changing the checklist later never rewrites old scores."""

    __tablename__ = "scorecards"
    __table_args__ = (Index("ix_scorecards_agent_created", "agent_id", "created_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    call_attempt_id: Mapped[str] = mapped_column(
        ForeignKey("call_attempts.id", ondelete="CASCADE"), index=True
    )
    recording_id: Mapped[int | None] = mapped_column(
        ForeignKey("recordings.id", ondelete="SET NULL")
    )
    # The agent being scored, copied from the call so per-agent scores need no join.
    agent_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    reviewer_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    checklist: Mapped[str] = mapped_column(String(64), default="followup")
    items: Mapped[list] = mapped_column(json_type(), default=list)
    comments: Mapped[str] = mapped_column(Text, default="")
    score: Mapped[float] = mapped_column(Float)  # 0..100, weighted share of items passed
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
