"""IVR outcomes on the campaign report page and on the patient's page, in both languages."""

from __future__ import annotations

import io
from datetime import timedelta

from callcenter.extensions import db
from callcenter.models import CallAttempt, CampaignKind, utcnow
from callcenter.models.ivr import IvrCall, IvrFlow, IvrOutcome
from tests import factories
from tests.conftest import login


def ivr_call(campaign, patient, outcome: IvrOutcome, step: str, keys: list[str], minutes=0):
    task = factories.task(campaign, patient)
    call = CallAttempt(task_id=task.id, campaign_id=campaign.id, patient_id=patient.id,
                       number="+8613800138000")  # fmt: skip
    db.session.add(call)
    db.session.flush()
    at = utcnow() - timedelta(minutes=minutes)
    trail = [{"step": "menu", "digits": d, "at": 1.0 + i} for i, d in enumerate(keys)]
    db.session.add(
        IvrCall(call_attempt_id=call.id, task_id=task.id, campaign_id=campaign.id,
                patient_id=patient.id, flow=IvrFlow.REMINDER, language=patient.language,
                outcome=outcome, step=step, keypad_trail=trail, started_at=at, ended_at=at)
    )  # fmt: skip
    db.session.commit()


def test_report_page_counts_outcomes_for_staff_only(client, users):
    campaign = factories.campaign("体检提醒", kind=CampaignKind.IVR)
    mary = factories.patient("Mary Yes", language="en")
    wang = factories.patient("王改期")
    ivr_call(campaign, mary, IvrOutcome.CONFIRMED, "confirmed", ["1"], minutes=3)
    ivr_call(campaign, wang, IvrOutcome.HUNG_UP_EARLY, "menu", [""], minutes=2)
    ivr_call(campaign, wang, IvrOutcome.CHANGE_REQUESTED, "change_requested", ["4", "2"])

    login(client, "supervisor")
    page = client.get(f"/campaigns/{campaign.id}/report", headers={"Accept-Language": "en"})
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert '<tr data-outcome="confirmed"><td>Confirmed</td><td>1</td></tr>' in html
    assert '<tr data-outcome="change_requested"><td>Change requested</td><td>1</td>' in html
    assert "<td>menu</td><td>1</td>" in html  # hung up early at the menu
    assert "<code>4 2</code>" in html and "<code>·</code>" in html
    assert f'href="/patients/{wang.id}"' in html

    client.set_cookie("lang", "zh")
    zh = client.get(f"/campaigns/{campaign.id}/report").get_data(as_text=True)
    assert "<td>已确认</td><td>1</td>" in zh and "自动语音外呼报表" in zh

    # (A token, not a second sign-in: the test's app context keeps flask-login's user.)
    refused = client.get(f"/campaigns/{campaign.id}/report", headers=users.headers("agent"))
    assert refused.status_code == 403


def test_patient_page_shows_the_automated_calls(client, users):
    campaign = factories.campaign("Reminders", kind=CampaignKind.IVR)
    patient = factories.patient("Ann Nine", language="en")
    quiet = factories.patient("Tom Quiet", language="en")
    ivr_call(campaign, patient, IvrOutcome.OPTED_OUT, "menu", ["9"])
    login(client, "supervisor")
    client.set_cookie("lang", "en")
    html = client.get(f"/patients/{patient.id}").get_data(as_text=True)
    assert 'id="ivr-history"' in html and "Reminders" in html
    assert '<tr data-outcome="opted_out">' in html and "Opted out (pressed 9)" in html
    assert "<code title=" in html and ">9</code>" in html
    # No automated calls: no empty section.
    assert 'id="ivr-history"' not in client.get(f"/patients/{quiet.id}").get_data(as_text=True)


def test_staff_edit_prompt_texts_and_upload_recordings_on_the_prompts_page(client, users):
    from callcenter.models.ivr import IvrPrompt
    from tests.conftest import csrf_token_from
    from tests.integration.ivr.test_ivr_api import tone_wav

    campaign = factories.campaign("体检提醒", kind=CampaignKind.IVR)
    login(client, "supervisor")
    page = client.get(f"/campaigns/{campaign.id}/prompts", headers={"Accept-Language": "en"})
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert 'id="zh-intro"' in html and 'id="en-intro"' in html
    token = csrf_token_from(html)

    saved = client.post(
        f"/campaigns/{campaign.id}/prompts/en/thanks",
        data={"csrf_token": token, "text": "Thank you, goodbye from the clinic."},
        headers={"Accept-Language": "en"},
        follow_redirects=True,
    )
    assert "Prompt saved." in saved.get_data(as_text=True)
    row = db.session.query(IvrPrompt).filter_by(campaign_id=campaign.id, key="thanks").one()
    assert row.language == "en" and row.text == "Thank you, goodbye from the clinic."

    refused = client.post(
        f"/campaigns/{campaign.id}/prompts/en/thanks",
        data={"csrf_token": token, "text": "Bye {patient_secret}"},
        headers={"Accept-Language": "en"},
        follow_redirects=True,
    )
    assert "may only use" in refused.get_data(as_text=True)
    db.session.refresh(row)
    assert row.text == "Thank you, goodbye from the clinic."  # unchanged

    uploaded = client.post(
        f"/campaigns/{campaign.id}/prompts/zh/thanks",
        data={"csrf_token": token, "file": (io.BytesIO(tone_wav()), "thanks.wav")},
        content_type="multipart/form-data",
        headers={"Accept-Language": "en"},
        follow_redirects=True,
    )
    assert "Recording saved" in uploaded.get_data(as_text=True)
    recorded = db.session.query(IvrPrompt).filter_by(campaign_id=campaign.id, language="zh")
    assert recorded.one().audio_sha256

    denied = client.get(f"/campaigns/{campaign.id}/prompts", headers=users.headers("agent"))
    assert denied.status_code == 403
