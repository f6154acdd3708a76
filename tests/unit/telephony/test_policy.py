"""Calling rules with a controllable clock: windows across timezones, retries, dial strings."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from callcenter.models import Campaign, NumberFormat, Patient, PatientPhone, Trunk
from callcenter.models.campaign import DEFAULT_RETRY_DELAYS
from callcenter.telephony import policy

WEEKDAY_MORNINGS = [{"days": [0, 1, 2, 3, 4], "start": "09:00", "end": "12:00"}]


def campaign(**fields) -> Campaign:
    return Campaign(
        name="c",
        kind="agent",
        calling_windows=WEEKDAY_MORNINGS,
        retry_delays=dict(DEFAULT_RETRY_DELAYS),
        max_attempts=3,
        **fields,
    )


def utc(*args) -> datetime:
    return datetime(*args, tzinfo=UTC)


@pytest.mark.parametrize(
    ("timezone", "now", "inside"),
    [
        # Monday 2026-11-30 02:30 UTC is 10:30 in Shanghai but 21:30 Sunday in New York.
        ("Asia/Shanghai", utc(2026, 11, 30, 2, 30), True),
        ("America/New_York", utc(2026, 11, 30, 2, 30), False),
        # Monday 15:00 UTC is 10:00 in New York, 23:00 in Shanghai.
        ("America/New_York", utc(2026, 11, 30, 15, 0), True),
        ("Asia/Shanghai", utc(2026, 11, 30, 15, 0), False),
        # The end is exclusive; Saturday is not in the window.
        ("Asia/Shanghai", utc(2026, 11, 30, 4, 0), False),
        ("Asia/Shanghai", utc(2026, 12, 5, 2, 0), False),
        # London in summer time (BST): 08:30 UTC is 09:30 local.
        ("Europe/London", utc(2026, 7, 6, 8, 30), True),
        ("Europe/London", utc(2026, 1, 5, 8, 30), False),
    ],
)
def test_windows_are_in_the_patients_own_time(timezone, now, inside):
    assert policy.in_window(WEEKDAY_MORNINGS, timezone, now) is inside


def test_next_window_start_is_the_next_opening_in_local_time():
    # Friday 2026-12-04 13:00 Shanghai: next opening is Monday 09:00 Shanghai = 01:00 UTC.
    opens = policy.next_window_start(WEEKDAY_MORNINGS, "Asia/Shanghai", utc(2026, 12, 4, 5, 0))
    assert opens.astimezone(UTC) == utc(2026, 12, 7, 1, 0)


@pytest.mark.parametrize(
    ("cause", "retry", "delay"),
    [
        ("USER_BUSY", True, 600),
        ("NORMAL_CIRCUIT_CONGESTION", True, 600),
        ("NO_ANSWER", True, 3600),
        ("CALL_REJECTED", True, 86400),
        ("UNALLOCATED_NUMBER", False, None),
        ("NO_ROUTE_DESTINATION", False, None),
        ("DESTINATION_OUT_OF_ORDER", True, 600),
        ("SOMETHING_ELSE", True, 300),
    ],
)
def test_retry_delay_depends_on_the_cause(cause, retry, delay):
    now = utc(2026, 11, 30, 2, 0)
    decision = policy.retry_decision(campaign(), attempts=1, cause=cause, now=now)
    assert decision.retry is retry
    if retry:
        assert (decision.due_at - now).total_seconds() == delay
    assert cause in decision.reason


def test_no_retry_after_the_last_attempt():
    decision = policy.retry_decision(campaign(), attempts=3, cause="NO_ANSWER", now=utc(2026, 1, 1))
    assert not decision.retry and "last of 3" in decision.reason


def test_campaign_can_switch_a_retry_off():
    c = campaign()
    c.retry_delays = {**DEFAULT_RETRY_DELAYS, "rejected": None}
    assert not policy.retry_decision(c, 1, "CALL_REJECTED", utc(2026, 1, 1)).retry


def patient(**fields) -> Patient:
    p = Patient(
        name="x",
        card_number="1",
        timezone="Asia/Shanghai",
        language="zh",
        consent_call=True,
        do_not_call=False,
        **fields,
    )
    p.phones = [PatientPhone(number="+8613800138000")]
    return p


def test_why_not_callable_explains_itself():
    now = utc(2026, 11, 30, 2, 30)  # inside the Shanghai window
    assert policy.why_not_callable(patient(), campaign(), now) is None
    assert "do-not-call" in policy.why_not_callable(patient(), campaign(), now, {"+8613800138000"})
    p = patient()
    p.do_not_call = True
    assert "do-not-call" in policy.why_not_callable(p, campaign(), now)
    p = patient()
    p.consent_call = False
    assert "consented" in policy.why_not_callable(p, campaign(), now)
    assert "window" in policy.why_not_callable(patient(), campaign(), utc(2026, 11, 30, 12))


@pytest.mark.parametrize(
    ("fmt", "template", "number", "expected"),
    [
        (
            NumberFormat.E164,
            "sofia/gateway/{gateway}/{number}",
            "+8613800138000",
            "sofia/gateway/carrier/+8613800138000",
        ),
        (
            NumberFormat.DIGITS,
            "sofia/gateway/{gateway}/{number}",
            "+8613800138000",
            "sofia/gateway/carrier/8613800138000",
        ),
        (
            NumberFormat.NATIONAL,
            "sofia/gateway/{gateway}/{number}",
            "+8613800138000",
            "sofia/gateway/carrier/13800138000",
        ),
        (
            NumberFormat.NATIONAL,
            "sofia/gateway/{gateway}/{number}",
            "+862161234567",
            "sofia/gateway/carrier/02161234567",
        ),
        (NumberFormat.E164, "loopback/{number}", "+14155552671", "loopback/+14155552671"),
    ],
)
def test_dial_strings_follow_the_trunk(fmt, template, number, expected):
    trunk = Trunk(name="t", dial_string=template, gateway="carrier", number_format=fmt)
    assert policy.dial_string(trunk, number, "CN") == expected


def test_a_national_trunk_cannot_dial_abroad():
    trunk = Trunk(name="cn", dial_string="x/{number}", number_format=NumberFormat.NATIONAL)
    with pytest.raises(policy.UndialableNumber, match="CN national numbers only"):
        policy.dial_string(trunk, "+14155552671", "CN")


def test_token_bucket_never_exceeds_its_rate():
    bucket = policy.TokenBucket(rate=5, now=0.0)
    granted = sum(bucket.take(t / 10, 100) for t in range(0, 101))  # ten seconds
    assert 50 <= granted <= 55  # the first burst plus 5 a second
    slow = policy.TokenBucket(rate=0.5, now=0.0)
    assert slow.take(0.0, 10) == 1 and slow.take(1.0, 10) == 0 and slow.take(2.0, 10) == 1
