"""Data for the desk tests: a patient with a full health record, a campaign with a script."""

from __future__ import annotations

from datetime import date, timedelta

from callcenter.extensions import db
from callcenter.models import (
    Allergy,
    CallAttempt,
    CallStatus,
    Campaign,
    CampaignAgent,
    CampaignKind,
    Condition,
    FollowUpTask,
    Medication,
    Observation,
    ObservationSource,
    PatientTag,
    utcnow,
)
from callcenter.services import indicators, tags
from tests import factories

SCRIPT = [
    {"key": "bp", "type": "blood_pressure",
     "text": {"zh": "您最近的血压是多少？", "en": "Latest blood pressure?"}},
    {"key": "takes_medicine", "type": "yes_no",
     "text": {"zh": "您按时服药吗？", "en": "Do you take your medicine?"}},
    {"key": "symptoms", "type": "choice", "text": {"zh": "最近有不适吗？", "en": "Any symptoms?"},
     "choices": ["无 / None", "头晕 / Dizziness"]},
    {"key": "glucose", "type": "number", "text": {"zh": "空腹血糖？", "en": "Fasting glucose?"},
     "indicator_code": indicators.FASTING_GLUCOSE},
    {"key": "other", "type": "text", "text": {"zh": "其他情况", "en": "Anything else"}},
]  # fmt: skip

# (code, first value, yearly drift); the last systolic value is out of range on purpose.
SERIES = (
    (indicators.SYSTOLIC, 128.0, 2.0),
    (indicators.DIASTOLIC, 80.0, 0.8),
    (indicators.FASTING_GLUCOSE, 5.6, 0.15),
    (indicators.HBA1C, 5.8, 0.1),
    (indicators.BMI, 24.5, 0.2),
    (indicators.TOTAL_CHOLESTEROL, 5.0, 0.05),
)


def patient_with_record(name: str, phone: str, *, years: int = 10, tag_names=("高血压",)):
    """A consenting patient with tags, quarterly indicators for ``years``, and a history."""
    patient = factories.patient(
        name, phone=phone, consent_call=True, consent_record=True, birth_date=date(1958, 3, 9)
    )
    for tag_name in tag_names:
        tag = tags.get_or_create(db.session, tag_name, "#dc2626")
        db.session.add(PatientTag(patient_id=patient.id, tag_id=tag.id))
    now = utcnow().replace(microsecond=0)
    quarters = years * 4
    for code, first, drift in SERIES:
        known = indicators.CATALOG[code]
        for q in range(quarters):
            db.session.add(
                Observation(
                    patient_id=patient.id,
                    code=code,
                    name=known.name_en,
                    value=round(first + drift * q / 4, 1),
                    unit=known.unit,
                    ref_low=known.ref_low,
                    ref_high=known.ref_high,
                    taken_at=now - timedelta(days=91 * (quarters - q)),
                    source=ObservationSource.IMPORT,
                )
            )
    db.session.add_all(
        [
            Condition(patient_id=patient.id, text="原发性高血压", code="I10"),
            Medication(patient_id=patient.id, name="氨氯地平", dosage="5 mg qd"),
            Allergy(patient_id=patient.id, substance="青霉素", reaction="皮疹"),
        ]
    )
    db.session.commit()
    return patient


def campaign_for(agents, trunk_id: int | None = None, **fields) -> Campaign:
    campaign = Campaign(
        name=fields.pop("name", "高血压随访"),
        kind=CampaignKind.AGENT,
        question_script=SCRIPT,
        trunk_id=trunk_id,
        **fields,
    )
    campaign.agents = [CampaignAgent(user_id=a.id) for a in agents]
    db.session.add(campaign)
    db.session.commit()
    return campaign


def bridged_call(agent, patient, campaign: Campaign) -> CallAttempt:
    """A call of ``campaign`` to ``patient`` that is up and bridged to ``agent``."""
    task = FollowUpTask(campaign_id=campaign.id, patient_id=patient.id)
    db.session.add(task)
    db.session.flush()
    now = utcnow()
    call = CallAttempt(
        task_id=task.id,
        campaign_id=campaign.id,
        patient_id=patient.id,
        agent_id=agent.id,
        number=patient.primary_phone,
        status=CallStatus.BRIDGED,
        answered_at=now,
        bridged_at=now,
    )
    db.session.add(call)
    db.session.commit()
    return call
