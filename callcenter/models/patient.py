"""Patients: identity, contact numbers, consent and do-not-call state."""

from __future__ import annotations

from datetime import date, datetime
from typing import TYPE_CHECKING

from sqlalchemy import Boolean, Date, ForeignKey, Index, String, Text, UniqueConstraint, func
from sqlalchemy.orm import Mapped, mapped_column, relationship, validates

from callcenter.models.base import Base, StrEnum, enum_type, utcnow

if TYPE_CHECKING:
    from callcenter.models.tag import Tag


class Sex(StrEnum):
    FEMALE = "female"
    MALE = "male"
    OTHER = "other"
    UNKNOWN = "unknown"


class ConsentMethod(StrEnum):
    """How a consent was given, so an auditor can tell a signature from a keypress."""

    WRITTEN = "written"
    VERBAL = "verbal"
    ELECTRONIC = "electronic"
    IVR = "ivr"
    IMPORT = "import"


class Patient(Base):
    __tablename__ = "patients"

    id: Mapped[int] = mapped_column(primary_key=True)
    card_number: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    sex: Mapped[Sex] = mapped_column(enum_type(Sex), default=Sex.UNKNOWN)
    birth_date: Mapped[date | None] = mapped_column(Date)
    timezone: Mapped[str] = mapped_column(String(64))
    language: Mapped[str] = mapped_column(String(8))
    id_number: Mapped[str | None] = mapped_column(String(64))

    consent_call: Mapped[bool] = mapped_column(Boolean, default=False)
    consent_call_at: Mapped[datetime | None]
    consent_call_method: Mapped[ConsentMethod | None] = mapped_column(enum_type(ConsentMethod))
    consent_record: Mapped[bool] = mapped_column(Boolean, default=False)
    consent_record_at: Mapped[datetime | None]
    consent_record_method: Mapped[ConsentMethod | None] = mapped_column(enum_type(ConsentMethod))
    do_not_call: Mapped[bool] = mapped_column(Boolean, default=False)
    do_not_call_reason: Mapped[str | None] = mapped_column(Text)

    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    phones: Mapped[list[PatientPhone]] = relationship(
        back_populates="patient",
        cascade="all, delete-orphan",
        order_by="PatientPhone.position",
        lazy="selectin",
    )

    # Read-only view of the tags; PatientTag rows are written by services.tags and imports.
    tags: Mapped[list[Tag]] = relationship(
        secondary="patient_tags", viewonly=True, order_by="Tag.name", lazy="selectin"
    )

    @property
    def primary_phone(self) -> str | None:
        return self.phones[0].number if self.phones else None

    @property
    def callable(self) -> bool:
        """Whether the clinic may phone this patient at all."""
        return self.consent_call and not self.do_not_call and bool(self.phones)


def name_key(dialect: str):
    """The sort and prefix-search key for names: lower-case, compared byte by byte.

    With the "C" collation one PostgreSQL index serves both ``LIKE 'mary%'`` and
    ``ORDER BY ... LIMIT``, so a broad prefix reads 20 index entries instead of sorting
    thousands of rows. SQLite compares bytes already.
    """
    key = func.lower(Patient.name)
    return key.collate("C") if dialect == "postgresql" else key


Index("ix_patients_name_key", name_key("postgresql"), Patient.id).ddl_if(dialect="postgresql")
Index("ix_patients_name_key_sqlite", name_key("sqlite"), Patient.id).ddl_if(dialect="sqlite")
# Alembic can neither reflect these expressions faithfully nor honour ddl_if when comparing;
# migrations create them by hand and autogenerate leaves them alone (see migrations/env.py).
HAND_MADE_INDEXES = frozenset({"ix_patients_name_key", "ix_patients_name_key_sqlite"})


class PatientPhone(Base):
    __tablename__ = "patient_phones"
    __table_args__ = (
        UniqueConstraint("patient_id", "number", name="uq_patient_phones_patient_number"),
        Index("ix_patient_phones_number", "number"),
        Index(
            "ix_patient_phones_digits_reversed",
            "digits_reversed",
            postgresql_ops={"digits_reversed": "varchar_pattern_ops"},
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id", ondelete="CASCADE"))
    number: Mapped[str] = mapped_column(String(32))  # E.164
    # The digits backwards, so "ends with 5678" is an indexable prefix search.
    digits_reversed: Mapped[str] = mapped_column(String(32))
    kind: Mapped[str] = mapped_column(String(16), default="mobile")
    position: Mapped[int] = mapped_column(default=0)

    patient: Mapped[Patient] = relationship(back_populates="phones")

    @validates("number")
    def _keep_reversed_digits(self, _key: str, number: str) -> str:
        self.digits_reversed = reversed_digits(number)
        return number


def reversed_digits(number: str) -> str:
    return "".join(ch for ch in reversed(number) if ch.isdigit())
