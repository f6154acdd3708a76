"""A batch of call events costs the same few queries whatever its size, and stays correct."""

from __future__ import annotations

import json
import uuid

import pytest
from sqlalchemy import event

from callcenter.extensions import db
from callcenter.models import CallAttempt, CallStatus, CampaignKind, FollowUpTask, TaskState
from callcenter.telephony.controller import CallController
from callcenter.telephony.dialer import DialSettings
from callcenter.telephony.notifier import EVENT_LOG, CallNotifier
from callcenter.telephony.wire import Event, Headers
from tests import factories
from tests.integration.telephony.conftest import make_campaign, make_trunk


def _event(name: str, **headers: str) -> Event:
    return Event(Headers([("Event-Name", name), *headers.items()]))


def _dialing_calls(count: int) -> list[CallAttempt]:
    name = uuid.uuid4().hex[:8]
    trunk = make_trunk(name=name)
    campaign = make_campaign(trunk, name=name, kind=CampaignKind.IVR, max_attempts=1)
    calls = []
    for i in range(count):
        patient = factories.patient(f"Patient {i}", phone=f"+86139{i:08d}")
        task = factories.task(campaign, patient, state=TaskState.DIALING, attempts=1)
        calls.append(
            CallAttempt(
                task_id=task.id,
                campaign_id=campaign.id,
                patient_id=patient.id,
                number=patient.phones[0].number,
                trunk_id=trunk.id,
                status=CallStatus.DIALING,
            )
        )
    db.session.add_all(calls)
    db.session.commit()
    return calls


def _busy_events(calls: list[CallAttempt]) -> list[tuple[str, Event]]:
    """What FreeSWITCH reports for a busy patient: the hangup, then the originate's -ERR."""
    batch = []
    for call in calls:
        batch.append(
            (
                "fs1",
                _event(
                    "CHANNEL_HANGUP_COMPLETE", **{"Unique-ID": call.id, "Hangup-Cause": "USER_BUSY"}
                ),
            )
        )
        batch.append(
            (
                "fs1",
                Event(
                    Headers([("Event-Name", "BACKGROUND_JOB"), ("Job-UUID", call.id)]),
                    "-ERR USER_BUSY\n",
                ),
            )
        )
    return batch


def _apply(app, redis_conn, batch) -> int:
    """Apply one batch on a fresh session; the number of SQL statements it took."""
    statements = []
    listener = lambda *args: statements.append(args[2])  # noqa: E731
    controller = CallController(
        lambda: db.session, CallNotifier(redis_conn), DialSettings.from_config(app.config)
    )
    db.session.remove()
    event.listen(db.engine, "before_cursor_execute", listener)
    try:
        controller.handle_batch(batch)
    finally:
        event.remove(db.engine, "before_cursor_execute", listener)
    return len(statements)


@pytest.mark.parametrize("db_kind", ["postgresql", "sqlite"], indirect=True)
def test_a_batch_costs_the_same_queries_for_five_calls_or_forty(app, redis_conn):
    small, large = _dialing_calls(5), _dialing_calls(40)
    small_ids, large_ids = [c.id for c in small], [c.id for c in large]

    few = _apply(app, redis_conn, _busy_events(small))
    many = _apply(app, redis_conn, _busy_events(large))

    # Preload (calls, tasks, campaigns) and the batched writes: not one query per event.
    assert many == few
    assert many <= 8
    for ids in (small_ids, large_ids):
        for call_id in ids:
            call = db.session.get(CallAttempt, call_id)
            assert call.status is CallStatus.ENDED and call.hangup_cause == "USER_BUSY"
            task = db.session.get(FollowUpTask, call.task_id)
            assert task.state is TaskState.FAILED  # max_attempts=1: no retry
    ended = [
        json.loads(fields[b"event"])
        for _id, fields in redis_conn.xrange(EVENT_LOG)
        if json.loads(fields[b"event"])["type"] == "call.ended"
    ]
    # Each call ended once although both of its events report the end.
    assert sorted(e["call_id"] for e in ended) == sorted(small_ids + large_ids)


def test_events_of_unknown_calls_add_no_queries_to_a_batch(app, redis_conn):
    known, with_strangers = _dialing_calls(3), _dialing_calls(3)
    ids = [c.id for c in known + with_strangers]
    strangers = [
        ("fs1", _event("CHANNEL_ANSWER", **{"Unique-ID": "not-ours-1"})),
        ("fs1", _event("CHANNEL_HANGUP_COMPLETE", **{"Unique-ID": "not-ours-2"})),
    ]
    plain = _apply(app, redis_conn, _busy_events(known))
    mixed = _apply(app, redis_conn, [*strangers, *_busy_events(with_strangers)])
    assert mixed == plain
    statuses = {db.session.get(CallAttempt, call_id).status for call_id in ids}
    assert statuses == {CallStatus.ENDED}
