"""Tags on patients, set by hand or by rules."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from callcenter.models.base import Base, StrEnum, enum_type, utcnow


class TagSource(StrEnum):
    MANUAL = "manual"
    RULE = "rule"


class Tag(Base):
    __tablename__ = "tags"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    colour: Mapped[str] = mapped_column(String(7), default="#6b7280")  # #rrggbb
    source: Mapped[TagSource] = mapped_column(enum_type(TagSource), default=TagSource.MANUAL)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class PatientTag(Base):
    __tablename__ = "patient_tags"

    patient_id: Mapped[int] = mapped_column(
        ForeignKey("patients.id", ondelete="CASCADE"), primary_key=True
    )
    tag_id: Mapped[int] = mapped_column(
        ForeignKey("tags.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    tag: Mapped[Tag] = relationship(lazy="joined")
