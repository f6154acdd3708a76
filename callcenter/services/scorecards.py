"""QA scorecards: score a call against a weighted checklist; agents' scores over time."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from callcenter.errors import InvalidInput, NotFound
from callcenter.models import CallAttempt, Recording, Scorecard, User
from callcenter.services import audit, authz

MAX_COMMENTS = 4000


@dataclass(frozen=True)
class Item:
    key: str
    weight: int
    label: str  # English; pages show their translation of the key


# What a follow-up call should contain. Weights sum to 100 so a score reads as a percentage.
FOLLOWUP_CHECKLIST: tuple[Item, ...] = (
    Item("greeting", 10, "Greeted and introduced the clinic"),
    Item("identity_verified", 20, "Identity verified"),
    Item("medication_adherence_asked", 25, "Medication adherence asked"),
    Item("indicators_collected", 15, "Latest readings collected"),
    Item("advice_given", 20, "Advice given"),
    Item("next_step_agreed", 10, "Next follow-up agreed"),
)
CHECKLISTS = {"followup": FOLLOWUP_CHECKLIST}


def weighted_score(items: list[dict]) -> float:
    """Weighted share of passed items, 0..100, rounded to one decimal."""
    total = sum(item["weight"] for item in items)
    if total <= 0:
        raise InvalidInput("the checklist has no weight to score against")
    passed = sum(item["weight"] for item in items if item["passed"])
    return round(100.0 * passed / total, 1)


def save(
    session: Session,
    reviewer: User,
    call_attempt_id: str,
    passed: set[str] | list[str],
    comments: str = "",
    checklist: str = "followup",
) -> Scorecard:
    """Score one call: ``passed`` names the checklist items the agent did."""
    authz.require(reviewer, "scorecards.write")
    items_def = CHECKLISTS.get(checklist)
    if items_def is None:
        raise InvalidInput(f"unknown checklist {checklist!r}", {"field": "checklist"})
    passed = set(passed)
    unknown = sorted(passed - {item.key for item in items_def})
    if unknown:
        raise InvalidInput(f"not on the checklist: {', '.join(unknown)}", {"field": "passed"})
    if len(comments) > MAX_COMMENTS:
        raise InvalidInput(
            f"comments are longer than {MAX_COMMENTS} characters", {"field": "comments"}
        )
    call = session.get(CallAttempt, call_attempt_id)
    if call is None:
        raise NotFound(f"call {call_attempt_id} not found", {"call_attempt_id": call_attempt_id})
    recording_id = session.scalar(
        select(Recording.id)
        .where(Recording.call_attempt_id == call.id)
        .order_by(Recording.id.desc())
        .limit(1)
    )
    items = [
        {"key": i.key, "label": i.label, "weight": i.weight, "passed": i.key in passed}
        for i in items_def
    ]
    card = Scorecard(
        call_attempt_id=call.id,
        recording_id=recording_id,
        agent_id=call.agent_id,
        reviewer_id=reviewer.id,
        checklist=checklist,
        items=items,
        comments=comments.strip(),
        score=weighted_score(items),
    )
    session.add(card)
    session.flush()
    audit.append(
        session,
        audit.Actor.of(reviewer),
        "scorecard.create",
        "call",
        call.id,
        {"scorecard_id": card.id, "score": card.score, "agent_id": call.agent_id},
    )
    return card


def for_call(session: Session, user: User, call_attempt_id: str) -> list[Scorecard]:
    authz.require(user, "scorecards.read")
    return list(
        session.scalars(
            select(Scorecard)
            .where(Scorecard.call_attempt_id == call_attempt_id)
            .order_by(Scorecard.created_at.desc(), Scorecard.id.desc())
        )
    )


@dataclass(frozen=True)
class AgentScores:
    agent_id: int
    name: str
    by_week: dict[str, float]  # ISO week start (YYYY-MM-DD) -> average score that week
    average: float
    reviews: int


def _week_start(moment: datetime, zone: ZoneInfo) -> str:
    day = moment.astimezone(zone).date()
    return (day - timedelta(days=day.weekday())).isoformat()


def agent_scores(
    session: Session, user: User, since: datetime, until: datetime, timezone: str = "UTC"
) -> tuple[list[str], list[AgentScores]]:
    """Average score per agent per week (weeks start on Monday in ``timezone``), oldest first."""
    authz.require(user, "scorecards.read")
    if since >= until:
        raise InvalidInput("the 'from' date is after the 'to' date", {"field": "from"})
    zone = ZoneInfo(timezone)
    rows = session.execute(
        select(Scorecard.agent_id, User.display_name, Scorecard.score, Scorecard.created_at)
        .join(User, User.id == Scorecard.agent_id)
        .where(Scorecard.created_at >= since, Scorecard.created_at < until)
    ).all()
    scores: dict[int, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    names: dict[int, str] = {}
    for agent_id, name, score, created_at in rows:
        names[agent_id] = name
        scores[agent_id][_week_start(created_at, zone)].append(score)
    weeks = sorted({week for by_week in scores.values() for week in by_week})
    result = []
    for agent_id, by_week in scores.items():
        every = [s for week_scores in by_week.values() for s in week_scores]
        result.append(
            AgentScores(
                agent_id=agent_id,
                name=names[agent_id],
                by_week={w: round(sum(v) / len(v), 1) for w, v in sorted(by_week.items())},
                average=round(sum(every) / len(every), 1),
                reviews=len(every),
            )
        )
    result.sort(key=lambda a: (a.name, a.agent_id))
    return weeks, result
