"""Health data: indicator observations, exam reports, conditions, medications, allergies."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Date, Float, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from callcenter.models.base import Base, StrEnum, enum_type, utcnow


class ObservationSource(StrEnum):
    MANUAL = "manual"
    IMPORT = "import"
    EXAM_REPORT = "exam_report"
    IVR = "ivr"
    CALL = "call"


class Observation(Base):
    """One measured value of an indicator (LOINC code where one exists)."""

    __tablename__ = "observations"
    __table_args__ = (
        # One value per indicator and moment: re-importing the same data updates, never duplicates.
        UniqueConstraint("patient_id", "code", "taken_at", name="uq_observations_patient_code_at"),
        Index("ix_observations_patient_code_taken", "patient_id", "code", "taken_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id", ondelete="CASCADE"))
    code: Mapped[str] = mapped_column(String(32))
    name: Mapped[str] = mapped_column(String(120))
    value: Mapped[float] = mapped_column(Float)
    unit: Mapped[str] = mapped_column(String(32), default="")
    ref_low: Mapped[float | None] = mapped_column(Float)
    ref_high: Mapped[float | None] = mapped_column(Float)
    taken_at: Mapped[datetime]
    source: Mapped[ObservationSource] = mapped_column(enum_type(ObservationSource))
    exam_report_id: Mapped[int | None] = mapped_column(
        ForeignKey("exam_reports.id", ondelete="SET NULL")
    )
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    @property
    def out_of_range(self) -> bool:
        return out_of_range(self.value, self.ref_low, self.ref_high)


def out_of_range(value: float, low: float | None, high: float | None) -> bool:
    return (low is not None and value < low) or (high is not None and value > high)


class ExamReport(Base):
    __tablename__ = "exam_reports"

    id: Mapped[int] = mapped_column(primary_key=True)
    patient_id: Mapped[int] = mapped_column(
        ForeignKey("patients.id", ondelete="CASCADE"), index=True
    )
    title: Mapped[str] = mapped_column(String(200))
    performed_at: Mapped[datetime]
    facility: Mapped[str] = mapped_column(String(200), default="")
    conclusion: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    items: Mapped[list[ExamReportItem]] = relationship(
        back_populates="report", cascade="all, delete-orphan", order_by="ExamReportItem.id"
    )


class ExamReportItem(Base):
    __tablename__ = "exam_report_items"

    id: Mapped[int] = mapped_column(primary_key=True)
    report_id: Mapped[int] = mapped_column(
        ForeignKey("exam_reports.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(200))
    code: Mapped[str | None] = mapped_column(String(32))
    value: Mapped[str] = mapped_column(String(200))
    unit: Mapped[str] = mapped_column(String(32), default="")
    reference_range: Mapped[str] = mapped_column(String(64), default="")
    abnormal: Mapped[bool] = mapped_column(default=False)

    report: Mapped[ExamReport] = relationship(back_populates="items")


class Condition(Base):
    __tablename__ = "conditions"

    id: Mapped[int] = mapped_column(primary_key=True)
    patient_id: Mapped[int] = mapped_column(
        ForeignKey("patients.id", ondelete="CASCADE"), index=True
    )
    text: Mapped[str] = mapped_column(Text)
    code: Mapped[str | None] = mapped_column(String(32))  # ICD-10 where the clinic has one
    onset_date: Mapped[date | None] = mapped_column(Date)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Medication(Base):
    __tablename__ = "medications"

    id: Mapped[int] = mapped_column(primary_key=True)
    patient_id: Mapped[int] = mapped_column(
        ForeignKey("patients.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(200))
    dosage: Mapped[str] = mapped_column(String(200), default="")
    started_on: Mapped[date | None] = mapped_column(Date)
    stopped_on: Mapped[date | None] = mapped_column(Date)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Allergy(Base):
    __tablename__ = "allergies"

    id: Mapped[int] = mapped_column(primary_key=True)
    patient_id: Mapped[int] = mapped_column(
        ForeignKey("patients.id", ondelete="CASCADE"), index=True
    )
    substance: Mapped[str] = mapped_column(String(200))
    reaction: Mapped[str] = mapped_column(String(200), default="")
    severity: Mapped[str] = mapped_column(String(32), default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
