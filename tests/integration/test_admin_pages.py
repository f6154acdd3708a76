"""Admin pages over HTTP: who may open them, campaigns made from a tag, the do-not-call list,
users, trunks and the audit verification status."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select, update

from callcenter.extensions import db
from callcenter.models import (
    AuditEntry,
    Campaign,
    FollowUpTask,
    Patient,
    PatientTag,
    Role,
    TaskState,
    Trunk,
    User,
    utcnow,
)
from callcenter.services import tags
from callcenter.telephony.policy import why_not_callable
from tests import factories
from tests.conftest import csrf_token_from
from tests.integration.review_data import EVIL_NAME, signed_in

ADMIN_ONLY = ["/admin", "/admin/users", "/admin/trunks"]
STAFF = ["/admin/campaigns", "/admin/do-not-call"]
ALWAYS = [{"days": [0, 1, 2, 3, 4, 5, 6], "start": "00:00", "end": "23:59"}]


@pytest.fixture
def admin(app, users):
    app.config["DEFAULT_LANGUAGE"] = "en"
    client = signed_in(app, "admin")
    client.token = csrf_token_from(client.get("/admin/users").get_data(as_text=True))
    return client


def post(client, path: str, data: dict):
    return client.post(path, data={"csrf_token": client.token, **data})


def text(response) -> str:
    return response.get_data(as_text=True)


def test_admins_open_every_admin_page(admin):
    for path in ADMIN_ONLY + STAFF:
        assert admin.get(path).status_code == 200, path


def test_supervisors_manage_campaigns_and_do_not_call_but_not_users(app, users):
    client = signed_in(app, "supervisor")
    for path in STAFF:
        assert client.get(path).status_code == 200, path
    for path in ADMIN_ONLY:
        assert client.get(path).status_code == 403, path


@pytest.mark.parametrize("username", ["agent", "qa"])
def test_agents_and_qa_get_403_audited(app, users, username):
    client = signed_in(app, username)
    for path in ADMIN_ONLY + STAFF:
        assert client.get(path).status_code == 403, path
    denied = db.session.scalars(select(AuditEntry).where(AuditEntry.action == "access.denied"))
    assert sorted(e.details["path"] for e in denied) == sorted(ADMIN_ONLY + STAFF)


def tagged(name: str, tag_name: str | None, **fields) -> Patient:
    patient = factories.patient(name, phone=f"+86139{abs(hash(name)) % 10**8:08d}", **fields)
    if tag_name:
        tag = tags.get_or_create(db.session, tag_name, "#dc2626")
        db.session.add(PatientTag(patient_id=patient.id, tag_id=tag.id))
        db.session.commit()
    return patient


def test_a_campaign_made_from_a_tag_gets_a_task_per_callable_tagged_patient(admin, users):
    wanted = [tagged("甲", "高血压", consent_call=True), tagged("乙", "高血压", consent_call=True)]
    tagged("丙", "高血压", consent_call=False)
    tagged("丁", "高血压", consent_call=True, do_not_call=True)
    tagged("戊", "糖尿病", consent_call=True)
    script = [{"key": "takes_medicine", "type": "yes_no", "text": {"zh": "按时服药吗？"}}]
    response = post(
        admin,
        "/admin/campaigns",
        {
            "name": "BP spring",
            "kind": "agent",
            "tag": "高血压",
            "only_consenting": "on",
            "question_script": json.dumps(script),
            "calling_windows": json.dumps(ALWAYS),
            "retry_busy": "300",
            "retry_no_answer": "1800",
            "retry_rejected": "",
            "max_attempts": "4",
            "agent_ids": [str(users.agent.id)],
        },
    )
    assert response.status_code == 302
    campaign = db.session.scalar(select(Campaign).where(Campaign.name == "BP spring"))
    assert campaign.question_script == script and campaign.calling_windows == ALWAYS
    assert campaign.retry_delays["busy"] == 300 and campaign.retry_delays["no_answer"] == 1800
    assert campaign.max_attempts == 4
    assert [a.user_id for a in campaign.agents] == [users.agent.id]
    task_rows = db.session.scalars(
        select(FollowUpTask).where(FollowUpTask.campaign_id == campaign.id)
    )
    tasks = list(task_rows)
    assert sorted(t.patient_id for t in tasks) == sorted(p.id for p in wanted)
    assert {t.state for t in tasks} == {TaskState.PENDING}
    page = text(admin.get("/admin/campaigns"))
    assert "Campaign BP spring created with 2 tasks." in page
    [entry] = db.session.scalars(
        select(AuditEntry).where(AuditEntry.action == "campaign.tasks_created")
    ).all()
    assert entry.details["tasks"] == 2 and entry.details["filter"]["tag"] == "高血压"


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("question_script", "[{", "Not valid JSON"),
        ("question_script", '[{"key": "x", "type": "essay"}]', "Must be one of"),
        (
            "calling_windows",
            '[{"days": [9], "start": "09:00", "end": "12:00"}]',
            "#1 days #1: Must be greater than or equal to 0",
        ),
        ("tag", "", "choose a tag or another patient filter"),
        ("tag", "无此标签", "there is no tag"),
        ("max_attempts", "many", "Enter a whole number."),
    ],
)
def test_a_bad_campaign_form_says_what_is_wrong(admin, field, value, message):
    tagged("甲", "高血压", consent_call=True)
    data = {"name": "Bad", "kind": "agent", "tag": "高血压", "only_consenting": "on", field: value}
    response = post(admin, "/admin/campaigns", data)
    assert response.status_code == 422
    assert message in text(response)
    assert db.session.scalar(select(Campaign).where(Campaign.name == "Bad")) is None


def test_do_not_call_takes_effect_on_the_patient(admin, users):
    patient = tagged(EVIL_NAME, None, consent_call=True, card="DNC-1")
    campaign = factories.campaign("Any")
    campaign.calling_windows = ALWAYS
    db.session.commit()
    assert why_not_callable(patient, campaign, utcnow()) is None
    response = post(
        admin, "/admin/do-not-call", {"action": "add", "card_number": "DNC-1", "reason": "asked"}
    )
    assert response.status_code == 302
    db.session.refresh(patient)
    assert patient.do_not_call and patient.do_not_call_reason == "asked"
    assert why_not_callable(patient, campaign, utcnow()) == "patient is on the do-not-call list"
    page = text(admin.get("/admin/do-not-call"))
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page and EVIL_NAME not in page
    assert "1 patient is never called." in page
    post(admin, "/admin/do-not-call", {"action": "remove", "card_number": "DNC-1"})
    db.session.refresh(patient)
    assert not patient.do_not_call and patient.callable
    actions = db.session.scalars(
        select(AuditEntry.action).where(AuditEntry.object_type == "patient")
    ).all()
    assert actions == ["patient.do_not_call", "patient.do_not_call_removed"]


def test_do_not_call_refuses_unknown_cards_missing_reasons_and_missing_csrf(admin):
    tagged("甲", None, card="K-1")
    unknown = post(admin, "/admin/do-not-call", {"card_number": "NOPE", "reason": "x"})
    assert unknown.status_code == 422 and "no patient has card number" in text(unknown)
    no_reason = post(admin, "/admin/do-not-call", {"card_number": "K-1", "reason": " "})
    assert "say why the patient must not be called" in text(no_reason)
    forged = admin.post("/admin/do-not-call", data={"card_number": "K-1", "reason": "x"})
    assert forged.status_code == 400
    assert (
        db.session.scalar(select(Patient.do_not_call).where(Patient.card_number == "K-1")) is False
    )


def test_admins_create_users_and_trunks(admin):
    made = post(
        admin,
        "/admin/users",
        {"username": "qa2", "display_name": "质检二", "role": "qa", "password": "long enough pw"},
    )
    assert made.status_code == 302
    user = db.session.scalar(select(User).where(User.username == "qa2"))
    assert user.role is Role.QA and user.display_name == "质检二"
    short = post(admin, "/admin/users", {"username": "x", "role": "qa", "password": "short"})
    assert short.status_code == 422 and "at least 10 characters" in text(short)

    trunk = post(admin, "/admin/trunks", {"name": "carrier", "dial_string": "loopback/{number}"})
    assert trunk.status_code == 302
    assert db.session.scalar(select(Trunk.dial_string).where(Trunk.name == "carrier")) == (
        "loopback/{number}"
    )
    bad = post(admin, "/admin/trunks", {"name": "bad", "dial_string": "sofia/gateway/x"})
    assert bad.status_code == 422 and "The dial string must contain {number}." in text(bad)


def test_admins_change_roles_and_deactivate_users_but_not_themselves(app, admin, users):
    token_headers = users.headers("supervisor")
    assert app.test_client().get("/api/v1/patients", headers=token_headers).status_code == 200

    demoted = post(admin, f"/admin/users/{users.supervisor.id}", {"role": "qa", "active": "on"})
    assert demoted.status_code == 302
    db.session.expire_all()
    assert db.session.get(User, users.supervisor.id).role is Role.QA
    # Permissions follow the role at the next request.
    assert app.test_client().get("/api/v1/patients", headers=token_headers).status_code == 403

    post(admin, f"/admin/users/{users.supervisor.id}", {"role": "qa"})  # "active" unticked
    db.session.expire_all()
    assert db.session.get(User, users.supervisor.id).active is False
    # A deactivated user's API token stops working at once.
    assert app.test_client().get("/api/v1/patients", headers=token_headers).status_code == 401
    changes = db.session.scalars(
        select(AuditEntry.details).where(AuditEntry.action == "user.update")
    ).all()
    assert changes == [{"role": ["supervisor", "qa"]}, {"active": [True, False]}]

    refused = post(admin, f"/admin/users/{users.admin.id}", {"role": "supervisor", "active": "on"})
    assert refused.status_code == 302
    page = text(admin.get("/admin/users"))
    assert "cannot take away your own admin role" in page
    db.session.expire_all()
    assert db.session.get(User, users.admin.id).role is Role.ADMIN
    no_extension = post(admin, f"/admin/users/{users.qa.id}", {"role": "agent", "active": "on"})
    assert no_extension.status_code == 302
    assert "needs a SIP extension" in text(admin.get("/admin/users"))


def test_the_overview_shows_whether_the_audit_chain_verifies(admin):
    assert "Verified: the chain of" in text(admin.get("/admin"))
    db.session.execute(update(AuditEntry).where(AuditEntry.seq == 1).values(action="edited"))
    db.session.commit()
    page = text(admin.get("/admin"))
    assert "Verification failed at entry 1" in page
