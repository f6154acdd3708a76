"""Keypad questionnaires: answers, number entry with read-back and correction, thresholds."""

from __future__ import annotations

from sqlalchemy import select

from callcenter.extensions import db
from callcenter.models import FollowUpTask, Observation, ObservationSource, TaskState
from callcenter.models.ivr import IvrFlow, IvrOutcome, IvrQuestionnaireResponse
from callcenter.services.indicators import DIASTOLIC, SYSTOLIC
from tests import factories
from tests.integration.ivr.conftest import (
    ivr_calls,
    ivr_campaign,
    listener,
    run_campaign,
    settled_task,
)

SCRIPT = [
    {"key": "takes_medicine", "type": "yes_no", "text": {"zh": "您每天按时服药吗？",
                                                        "en": "Do you take your medicine?"}},
    {"key": "symptoms", "type": "choice",
     "text": {"zh": "最近有以下不适吗？", "en": "Any of these?"},
     "choices": ["无 / None", "头晕 / Dizziness", "头痛 / Headache"]},
    {"key": "bp", "type": "blood_pressure", "text": {"zh": "请告诉我们您的血压。",
                                                     "en": "Your blood pressure, please."}},
    {"key": "notes", "type": "text", "text": {"zh": "其他情况", "en": "Anything else"}},
]  # fmt: skip


def patient_for(board, campaign, name, number, script, **fields):
    board.sim.script(number, script)
    patient = factories.patient(name, phone=number, consent_call=True, **fields)
    return patient, factories.task(campaign, patient)


def test_answers_measurements_correction_and_urgent_task(ivr_board):
    campaign = ivr_campaign("bp survey", IvrFlow.QUESTIONNAIRE, question_script=SCRIPT)
    # yes; choice 3; systolic 185 -> "no, re-enter" -> 182 -> yes; diastolic 95 -> yes.
    keys = [(1, "1"), (1, "3"), (1, "185#"), (0.5, "2"), (1, "182#"), (0.5, "1"),
            (1, "95#"), (0.5, "1")]  # fmt: skip
    urgent, urgent_task = patient_for(ivr_board, campaign, "周高压", "+8613900000041",
                                      listener(*keys))  # fmt: skip
    # Normal readings, in English; hangs up nowhere.
    calm_keys = [(1, "2"), (1, "1"), (1, "128#"), (0.5, "1"), (1, "82#"), (0.5, "1")]
    calm, _ = patient_for(ivr_board, campaign, "Sam Calm", "+8613900000042",
                          listener(*calm_keys), language="en")  # fmt: skip
    # Hangs up at the blood-pressure question: the answers so far are kept.
    gone, gone_task = patient_for(ivr_board, campaign, "吴半途", "+8613900000043",
                                  listener((1, "1"), (1, "2"), (1, "hangup")))  # fmt: skip
    run_campaign(ivr_board, campaign)
    results = ivr_calls(campaign.id, 3, timeout=90)

    row = results[urgent.id]
    assert row.outcome is IvrOutcome.ANSWERED and row.step == "thanks"
    digits = [(t["step"], t["digits"]) for t in row.keypad_trail]
    assert digits == [
        ("takes_medicine", "1"), ("symptoms", "3"),
        ("bp_systolic", "185"), ("bp_systolic_confirm", "2"),
        ("bp_systolic", "182"), ("bp_systolic_confirm", "1"),
        ("bp_diastolic", "95"), ("bp_diastolic_confirm", "1"),
    ]  # fmt: skip
    response = db.session.scalar(
        select(IvrQuestionnaireResponse).where(IvrQuestionnaireResponse.ivr_call_id == row.id)
    )
    assert response.complete
    assert response.answers == {
        "takes_medicine": True,
        "symptoms": "头痛 / Headache",
        "bp": "182/95",
    }
    observations = db.session.scalars(
        select(Observation).where(Observation.patient_id == urgent.id)
    ).all()
    assert {(o.code, o.value, o.source) for o in observations} == {
        (SYSTOLIC, 182.0, ObservationSource.IVR),
        (DIASTOLIC, 95.0, ObservationSource.IVR),
    }
    assert settled_task(urgent_task.id).state is TaskState.COMPLETED
    follow_ups = db.session.scalars(
        select(FollowUpTask).where(
            FollowUpTask.patient_id == urgent.id, FollowUpTask.campaign_id != campaign.id
        )
    ).all()
    assert len(follow_ups) == 1 and follow_ups[0].priority >= 100
    assert "URGENT" in follow_ups[0].reason and "182" in follow_ups[0].reason

    calm_row = results[calm.id]
    assert calm_row.outcome is IvrOutcome.ANSWERED
    calm_response = db.session.scalar(
        select(IvrQuestionnaireResponse).where(IvrQuestionnaireResponse.ivr_call_id == calm_row.id)
    )
    assert calm_response.answers == {
        "takes_medicine": False,
        "symptoms": "无 / None",
        "bp": "128/82",
    }
    assert not db.session.scalars(
        select(FollowUpTask).where(
            FollowUpTask.patient_id == calm.id, FollowUpTask.campaign_id != campaign.id
        )
    ).all()

    gone_row = results[gone.id]
    assert gone_row.outcome is IvrOutcome.HUNG_UP_EARLY and gone_row.step == "bp_systolic"
    partial = db.session.scalar(
        select(IvrQuestionnaireResponse).where(IvrQuestionnaireResponse.ivr_call_id == gone_row.id)
    )
    assert not partial.complete
    assert partial.answers == {"takes_medicine": True, "symptoms": "头晕 / Dizziness"}
    assert settled_task(gone_task.id).state is TaskState.RETRY_SCHEDULED


def test_medication_adherence_is_a_configured_questionnaire(ivr_board):
    campaign = ivr_campaign("medication", IvrFlow.MEDICATION)  # no script: the default one
    patient, task = patient_for(
        ivr_board, campaign, "Lee Pills", "+8613900000051",
        listener((1, "2"), (1, "3#"), (0.5, "1"), (1, "1")), language="en",
    )  # fmt: skip
    run_campaign(ivr_board, campaign)
    row = ivr_calls(campaign.id, 1)[patient.id]
    assert row.outcome is IvrOutcome.ANSWERED
    response = db.session.scalar(
        select(IvrQuestionnaireResponse).where(IvrQuestionnaireResponse.ivr_call_id == row.id)
    )
    assert response.answers == {"took_medicine": False, "missed_doses": 3, "side_effects": True}
    assert settled_task(task.id).state is TaskState.COMPLETED
