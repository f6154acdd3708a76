"""Small factories for test data; each returns committed rows."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from functools import cache

from callcenter.extensions import db
from callcenter.models import (
    Campaign,
    CampaignAgent,
    CampaignKind,
    FollowUpTask,
    Patient,
    PatientPhone,
    Role,
    User,
)
from callcenter.services import accounts

PASSWORD = "correct horse battery"


@cache
def _password_hash() -> str:
    return accounts.hash_password(PASSWORD)  # argon2 is slow on purpose: hash once per run


def user(username: str, role: Role, **fields) -> User:
    u = User(
        username=username,
        display_name=fields.pop("display_name", username.title()),
        role=role,
        password_hash=_password_hash(),
        **fields,
    )
    db.session.add(u)
    db.session.commit()
    return u


def token_for(u: User) -> str:
    _token, plain = accounts.issue_token(db.session, u, "tests")
    db.session.commit()
    return plain


_serial = {"n": 0}


def patient(
    name: str = "王小明", *, card: str | None = None, phone: str = "+8613800138000", **fields
) -> Patient:
    _serial["n"] += 1
    p = Patient(
        card_number=card or f"C{_serial['n']:06d}",
        name=name,
        timezone=fields.pop("timezone", "Asia/Shanghai"),
        language=fields.pop("language", "zh"),
        birth_date=fields.pop("birth_date", date(1960, 5, 1)),
        **fields,
    )
    p.phones = [PatientPhone(number=phone)]
    db.session.add(p)
    db.session.commit()
    return p


def campaign(
    name: str = "Hypertension follow-up",
    *,
    agents: list[User] = (),
    kind: CampaignKind = CampaignKind.AGENT,
) -> Campaign:
    c = Campaign(name=name, kind=kind)
    c.agents = [CampaignAgent(user_id=a.id) for a in agents]
    db.session.add(c)
    db.session.commit()
    return c


def task(c: Campaign, p: Patient, **fields) -> FollowUpTask:
    t = FollowUpTask(campaign_id=c.id, patient_id=p.id, **fields)
    db.session.add(t)
    db.session.commit()
    return t


@dataclass
class Users:
    agent: User
    other_agent: User
    supervisor: User
    qa: User
    admin: User
    tokens: dict[str, str]

    @classmethod
    def create(cls) -> Users:
        made = {
            "agent": user("agent", Role.AGENT, sip_extension="1001"),
            "other_agent": user("agent2", Role.AGENT, sip_extension="1002"),
            "supervisor": user("supervisor", Role.SUPERVISOR),
            "qa": user("qa", Role.QA),
            "admin": user("admin", Role.ADMIN),
        }
        tokens = {key: token_for(u) for key, u in made.items()}
        return cls(**made, tokens=tokens)

    def headers(self, who: str) -> dict:
        return {"Authorization": f"Bearer {self.tokens[who]}"}
