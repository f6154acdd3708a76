"""Demo data for ``flask demo seed``: users of every role, patients with years of indicators,
their history and exam reports, rule-based tags, and two campaigns with tasks.

All randomness comes from one ``random.Random(random_seed)``, so a seed always gives the same
people and values; dates count back from today so the history looks current. Passwords are not
seeded: ``accounts.generate_password`` makes them and the CLI shows them once.
US and UK numbers lie in the ranges reserved for fiction (555-01xx, 020 7946 0xxx). China has no
such range, so the campaigns stay drafts: nobody is dialled until a supervisor starts one.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from statistics import fmean
from zoneinfo import ZoneInfo

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from callcenter.models import (
    Allergy,
    Campaign,
    CampaignAgent,
    CampaignKind,
    Condition,
    ConsentMethod,
    ExamReport,
    ExamReportItem,
    FollowUpTask,
    Medication,
    Observation,
    ObservationSource,
    Patient,
    PatientPhone,
    PatientTag,
    Sex,
    TagSource,
    TaskState,
    Trunk,
    User,
    utcnow,
)
from callcenter.models.ivr import IvrAppointment, IvrCampaignSettings, IvrFlow
from callcenter.services import accounts, audit, phones, tags
from callcenter.services import indicators as ind
from callcenter.services.demo_data import (
    BP_CAMPAIGN,
    BP_SCRIPT,
    CARD_NUMBER,
    CN_GIVEN,
    CN_PLACE,
    CN_SURNAMES,
    DEMO_USERS,
    EN_GIVEN,
    EN_PLACES,
    EN_SURNAMES,
    EXAM_CAMPAIGN,
    EXAM_SCRIPT,
    ILLNESSES,
    SPECS,
    TAGS,
)
from callcenter.services.patients import age

ACTOR = audit.Actor(None, "demo")


@dataclass(frozen=True)
class SeedResult:
    created: bool
    patients: int = 0
    observations: int = 0
    campaigns: list[str] = field(default_factory=list)
    users: list[tuple[str, str, str]] = field(default_factory=list)  # (username, role, password)


@dataclass
class Person:
    """A generated patient and the health story behind the rows written for them."""

    patient: Patient
    ill: dict[str, date]  # illness key -> onset
    visits: list[datetime]  # aware UTC, oldest first
    values: dict[str, list[float]]  # indicator code -> one value per visit
    allergic: bool
    has_report: bool  # the last visit was the annual exam, with a report

    def recent(self, code: str) -> float:
        """Mean of the last four visits (about a year): what tag rules and reasons look at."""
        return fmean(self.values[code][-4:])


def seed(
    session: Session, *, patients: int = 50, random_seed: int = 7, region: str = "CN"
) -> SeedResult:
    """Create the demo data in the caller's transaction, or nothing if it is already there."""
    if _already_seeded(session, CARD_NUMBER.format(1), CARD_NUMBER.format(patients)):
        return SeedResult(created=False)
    users, shown = _create_users(session)
    rng, today, used = random.Random(random_seed), utcnow().date(), set()
    no_call = set(rng.sample(range(patients), min(2, patients)))
    people = [_person(rng, i, today, region, used, i in no_call) for i in range(patients)]
    session.add_all(person.patient for person in people)
    session.flush()
    reports = _add_history(session, people)
    observations = _add_observations(session, people, reports)
    tagged = _add_tags(session, people, today)
    campaigns, tasks = _add_campaigns(session, people, tagged, users)
    counts = {"users": len(shown), "patients": patients, "observations": observations,
              "campaigns": len(campaigns), "tasks": tasks, "random_seed": random_seed}  # fmt: skip
    audit.append(session, ACTOR, "demo.seed", "database", "demo", counts)
    return SeedResult(True, patients, observations, [c.name for c in campaigns], shown)


def _already_seeded(session: Session, first_card: str, last_card: str) -> bool:
    # Demo users, campaigns or card numbers are from an earlier seed (or would clash with ours):
    # either way, touch nothing. Fixed-width card numbers make the range check exact enough.
    checks = (
        select(User.id).where(User.username.in_([user[0] for user in DEMO_USERS])),
        select(Campaign.id).where(Campaign.name.in_([BP_CAMPAIGN, EXAM_CAMPAIGN])),
        select(Patient.id).where(Patient.card_number.between(first_card, last_card)),
    )
    return any(session.scalar(query.limit(1)) is not None for query in checks)


def _create_users(session: Session) -> tuple[dict[str, User], list[tuple[str, str, str]]]:
    made, shown = {}, []
    for username, role, display_name, language, extension in DEMO_USERS:
        password = accounts.generate_password()
        made[username] = accounts.create_user(
            session, ACTOR, username=username, password=password, role=role,
            display_name=display_name, sip_extension=extension, language=language,
        )  # fmt: skip
        shown.append((username, str(role), password))
    return made, shown


def _person(
    rng: random.Random, index: int, today: date, region: str, used: set, no_call: bool
) -> Person:
    chinese = index % 2 == 0  # alternate, so every seed of two or more has both languages
    sex = rng.choice((Sex.FEMALE, Sex.MALE))
    birth = today - timedelta(days=rng.randint(round(35.1 * 365.25), round(85.9 * 365.25)))
    if chinese:
        name = rng.choice(CN_SURNAMES) + rng.choice(CN_GIVEN[sex])
        tz, prefixes, digits, kind = CN_PLACE
    else:
        name = f"{rng.choice(EN_GIVEN[sex])} {rng.choice(EN_SURNAMES)}"
        tz, prefixes, digits, kind = rng.choice(EN_PLACES)
    phone = PatientPhone(number=_phone(rng, prefixes, digits, region, used), kind=kind)
    visits = _visits(rng, today, tz)
    ill = {
        key: visits[0].date() - timedelta(days=rng.randint(90, 3000))
        for key, (prevalence, *_) in ILLNESSES.items()
        if rng.random() < prevalence
    }
    patient = Patient(
        card_number=CARD_NUMBER.format(index + 1), name=name, sex=sex, birth_date=birth,
        timezone=tz, language="zh" if chinese else "en", phones=[phone],
        id_number=_china_id(rng, birth, sex) if chinese and rng.random() < 0.3 else None,
        # Consent signed on paper at the first visit, by most patients.
        **_consent("call", rng.random() < 0.9, visits[0]),
        **_consent("record", rng.random() < 0.8, visits[0]),
        do_not_call=no_call,
        do_not_call_reason=("本人要求不再来电" if chinese else "Asked not to be called")
        if no_call else None,
    )  # fmt: skip
    values = _values(rng, ill, visits)
    return Person(
        patient, ill, visits, values, allergic=rng.random() < 0.15, has_report=rng.random() < 0.6
    )


def _consent(kind: str, given: bool, at: datetime) -> dict:
    method = ConsentMethod.WRITTEN if given else None
    return {f"consent_{kind}": given, f"consent_{kind}_at": at if given else None,
            f"consent_{kind}_method": method}  # fmt: skip


def _phone(rng: random.Random, prefixes: tuple, digits: int, region: str, used: set) -> str:
    # Unique while the range lasts, so a number search finds one person; the fictional ranges
    # are small, so a big seed may share numbers, as families do. to_e164 proves each is valid.
    for _ in range(50):
        raw = rng.choice(prefixes) + f"{rng.randrange(10**digits):0{digits}d}"
        number = phones.to_e164(raw, region)
        if number not in used:
            break
    used.add(number)
    return number


def _china_id(rng: random.Random, birth: date, sex: Sex) -> str:
    """An 18-character resident ID: area, birth date, sequence (odd for men), check character."""
    sequence = rng.randrange(0, 998, 2) + (1 if sex is Sex.MALE else 0)
    body = f"{rng.choice(('110101', '310104', '440106', '510107'))}{birth:%Y%m%d}{sequence:03d}"
    weights = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
    return body + "10X98765432"[sum(int(d) * w for d, w in zip(body, weights, strict=True)) % 11]


def _visits(rng: random.Random, today: date, tz: str) -> list[datetime]:
    """Quarterly morning visits over 3 to 6 years, the last ten days ago."""
    years = rng.randint(3, 6)
    first, last = today - timedelta(days=round(years * 365.25) + 10), years * 4
    # Jitter only the visits in between, so the history spans exactly ``years`` years.
    days = [round(k * 365.25 / 4) + (rng.randint(-7, 7) if 0 < k < last else 0)
            for k in range(last + 1)]  # fmt: skip
    return [
        datetime.combine(first + timedelta(days=d), _morning(rng), ZoneInfo(tz)).astimezone(UTC)
        for d in days
    ]


def _morning(rng: random.Random) -> time:
    return time(rng.randint(8, 11), rng.choice((0, 15, 30, 45)))


def _values(rng: random.Random, ill: dict, visits: list[datetime]) -> dict[str, list[float]]:
    """Per indicator: a personal baseline (high if ill), a yearly drift and visit-to-visit noise."""
    years = [(v - visits[0]).days / 365.25 for v in visits]
    out = {}
    for code, spec in SPECS.items():
        base = rng.uniform(*(spec.ill if spec.illness in ill else spec.healthy))
        drift = rng.uniform(*spec.drift)
        out[code] = [round(base + drift * y + rng.gauss(0, spec.noise), spec.digits) for y in years]
    return out


def _text(pair: tuple[str, str], patient: Patient) -> str:
    return pair[0] if patient.language == "zh" else pair[1]


def _indicator_name(code: str, patient: Patient) -> str:
    return _text((ind.CATALOG[code].name_zh, ind.CATALOG[code].name_en), patient)


def _add_history(session: Session, people: list[Person]) -> dict[int, ExamReport]:
    """Conditions, medications, allergies and exam reports; returns reports by patient id."""
    reports = {}
    for person in people:
        p = person.patient
        for key, onset in person.ill.items():
            _, icd10, condition, drug, dose = ILLNESSES[key]
            session.add(Condition(patient_id=p.id, text=_text(condition, p), code=icd10,
                                  onset_date=onset))  # fmt: skip
            if drug:
                session.add(Medication(patient_id=p.id, name=_text(drug, p),
                                       dosage=_text(dose, p), started_on=onset))  # fmt: skip
        if person.allergic:
            substance, reaction = _text(("青霉素", "Penicillin"), p), _text(("皮疹", "Rash"), p)
            session.add(Allergy(patient_id=p.id, substance=substance, reaction=reaction,
                                severity="moderate"))  # fmt: skip
        if person.has_report:
            reports[p.id] = _exam_report(person)
            session.add(reports[p.id])
    session.flush()  # the observations taken at an exam need their report's id
    return reports


def _exam_report(person: Person) -> ExamReport:
    p, items = person.patient, []
    for code, values in person.values.items():
        known, value = ind.CATALOG[code], values[-1]
        low, high = known.ref_low, known.ref_high
        items.append(ExamReportItem(
            name=_indicator_name(code, p), code=code, value=f"{value:g}", unit=known.unit,
            reference_range=f"≤{high:g}" if low is None else f"{low:g}-{high:g}",
            # The same rule as Observation.out_of_range, so report and chart agree.
            abnormal=(low is not None and value < low) or (high is not None and value > high),
        ))  # fmt: skip
    abnormal = ", ".join(item.name for item in items if item.abnormal)
    conclusion = (
        _text((f"异常：{abnormal}。建议复查。", f"Out of range: {abnormal}. Recheck advised."), p)
        if abnormal
        else _text(("未见明显异常。", "No significant abnormality."), p)
    )
    return ExamReport(
        patient_id=p.id, title=_text(("年度健康体检", "Annual health check"), p),
        performed_at=person.visits[-1], conclusion=conclusion, items=items,
        facility=_text(("社区卫生服务中心", "Riverside Health Centre"), p),
    )  # fmt: skip


def _add_observations(session: Session, people: list[Person], reports: dict) -> int:
    # Thousands of rows: one executemany rather than an ORM object each.
    now, rows = utcnow(), []
    for person in people:
        p, report = person.patient, reports.get(person.patient.id)
        for code, values in person.values.items():
            known = ind.CATALOG[code]
            for i, (taken_at, value) in enumerate(zip(person.visits, values, strict=True)):
                at_exam = report is not None and i == len(values) - 1
                source = ObservationSource.EXAM_REPORT if at_exam else ObservationSource.MANUAL
                rows.append({
                    "patient_id": p.id, "code": code, "name": _indicator_name(code, p),
                    "value": value, "unit": known.unit, "ref_low": known.ref_low,
                    "ref_high": known.ref_high, "taken_at": taken_at, "source": source,
                    "exam_report_id": report.id if at_exam else None, "created_at": now,
                })  # fmt: skip
    session.execute(insert(Observation), rows)
    return len(rows)


def _tag_keys(person: Person, today: date) -> list[str]:
    """The rules behind the RULE tags: a diagnosis, or last year's values past a threshold."""
    high = {code: known.ref_high for code, known in ind.CATALOG.items()}
    rules = {
        "hypertension": "hypertension" in person.ill
        or person.recent(ind.SYSTOLIC) > high[ind.SYSTOLIC]
        or person.recent(ind.DIASTOLIC) > high[ind.DIASTOLIC],
        # WHO's diagnostic thresholds for diabetes; BMI 28 is the Chinese threshold for obesity.
        "diabetes": "diabetes" in person.ill
        or person.recent(ind.FASTING_GLUCOSE) >= 7.0
        or person.recent(ind.HBA1C) >= 6.5,
        "obesity": person.recent(ind.BMI) >= 28,
        "elderly": age(person.patient, today) >= 75,
    }
    return [key for key, hit in rules.items() if hit]


def _add_tags(session: Session, people: list[Person], today: date) -> dict[str, set[int]]:
    """Tag patients by rule; returns patient ids by tag key."""
    tagged: dict[str, set[int]] = {key: set() for key in TAGS}
    for person in people:
        for key in _tag_keys(person, today):
            tagged[key].add(person.patient.id)
    for key, (name, colour) in TAGS.items():
        tag = tags.get_or_create(session, name, colour, TagSource.RULE)
        session.add_all(PatientTag(patient_id=pid, tag_id=tag.id) for pid in sorted(tagged[key]))
    return tagged


# A demo must be tryable at any hour; real campaigns keep the clinic's windows (the default).
DEMO_WINDOWS = [{"days": [0, 1, 2, 3, 4, 5, 6], "start": "00:00", "end": "23:59"}]


def _add_campaigns(
    session: Session, people: list[Person], tagged: dict[str, set[int]], users: dict[str, User]
) -> tuple[list[Campaign], int]:
    creator, due = users["supervisor"].id, utcnow()
    # The single-machine demo dials through the simulator, which answers loopback/ numbers.
    trunk = Trunk(
        name="simulator",
        dial_string="loopback/{number}",
        caller_id_number="02150000000",
        caller_id_name="Demo clinic",
        max_concurrent=10,
        calls_per_second=5,
    )
    session.add(trunk)
    session.flush()
    bp = Campaign(
        name=BP_CAMPAIGN, kind=CampaignKind.AGENT, question_script=BP_SCRIPT,
        description="每季度电话了解血压控制情况 / A quarterly call about blood pressure",
        agents=[CampaignAgent(user_id=users[name].id) for name in ("agent", "agent2")],
        created_by_id=creator, trunk_id=trunk.id, calling_windows=DEMO_WINDOWS,
    )  # fmt: skip
    exam = Campaign(
        name=EXAM_CAMPAIGN, kind=CampaignKind.IVR, question_script=EXAM_SCRIPT,
        description="自动语音提醒年度体检复查 / An automated check-up reminder",
        created_by_id=creator, trunk_id=trunk.id, calling_windows=DEMO_WINDOWS,
    )  # fmt: skip
    session.add_all((bp, exam))
    session.flush()
    tasks = []
    for person in people:
        p = person.patient
        if not p.callable:  # no consent, or do-not-call: such a task could never be worked
            continue
        if p.id in tagged["hypertension"]:
            sbp, dbp = round(person.recent(ind.SYSTOLIC)), round(person.recent(ind.DIASTOLIC))
            tasks.append(FollowUpTask(
                campaign_id=bp.id, patient_id=p.id, state=TaskState.PENDING, due_at=due,
                # Each patient goes to the agent who speaks their language.
                assigned_agent_id=users["agent" if p.language == "zh" else "agent2"].id,
                priority=1 if sbp >= 160 else 0,
                reason=_text((f"近一年平均血压 {sbp}/{dbp} mmHg", f"Mean BP {sbp}/{dbp} mmHg"), p),
            ))  # fmt: skip
        tasks.append(FollowUpTask(
            campaign_id=exam.id, patient_id=p.id, state=TaskState.PENDING, due_at=due,
            reason=_text(("年度体检复查", "Yearly check-up"), p),
        ))  # fmt: skip
    session.add_all(tasks)
    session.flush()
    _add_reminders(session, exam, [t for t in tasks if t.campaign_id == exam.id], people)
    return [bp, exam], len(tasks)


def _add_reminders(
    session: Session, campaign: Campaign, tasks: list[FollowUpTask], people: list[Person]
) -> None:
    """Make the IVR campaign an appointment reminder: each task gets a morning appointment in
    the patient's own timezone, one to three days ahead, on half-hour slots (so the spoken
    sentences repeat and the prompt cache helps)."""
    session.add(IvrCampaignSettings(campaign_id=campaign.id, flow=IvrFlow.REMINDER))
    by_id = {person.patient.id: person.patient for person in people}
    for index, task in enumerate(tasks):
        patient = by_id[task.patient_id]
        zone = ZoneInfo(patient.timezone)
        day = datetime.now(zone).date() + timedelta(days=1 + index % 3)
        slot = time(8 + index % 4, 30 * (index // 4 % 2))
        starts = datetime.combine(day, slot, zone).astimezone(UTC)
        place = _text(("门诊楼二层体检中心", "the check-up clinic, second floor"), patient)
        session.add(IvrAppointment(task_id=task.id, starts_at=starts, place=place))
    session.flush()
