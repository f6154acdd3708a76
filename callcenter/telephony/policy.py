"""Calling rules with no I/O: windows in the patient's timezone, retries by hangup cause, pacing.

Everything takes ``now`` from the caller, so tests drive it with a controllable clock.
"""

from __future__ import annotations

import zoneinfo
from dataclasses import dataclass
from datetime import datetime, time, timedelta

import phonenumbers

from callcenter.models import Campaign, NumberFormat, Patient, Trunk

# How a call ended, in the words of the retry policy. FreeSWITCH causes: switch_types.h.
OUTCOME_BY_CAUSE = {
    "USER_BUSY": "busy",
    "NORMAL_CIRCUIT_CONGESTION": "busy",
    "SWITCH_CONGESTION": "busy",
    "DESTINATION_OUT_OF_ORDER": "busy",
    "NO_ANSWER": "no_answer",
    "NO_USER_RESPONSE": "no_answer",
    "ALLOTTED_TIMEOUT": "no_answer",
    "RECOVERY_ON_TIMER_EXPIRE": "no_answer",
    "ORIGINATOR_CANCEL": "no_answer",
    "CALL_REJECTED": "rejected",
    "USER_NOT_REGISTERED": "rejected",
    "SUBSCRIBER_ABSENT": "rejected",
    "UNALLOCATED_NUMBER": "invalid",
    "NO_ROUTE_DESTINATION": "invalid",
    "INVALID_NUMBER_FORMAT": "invalid",
    "INCOMPATIBLE_DESTINATION": "invalid",
    "NUMBER_CHANGED": "invalid",
    "ABANDONED": "busy",  # our side failed the patient: try again soon
    "IVR_NO_INPUT": "no_answer",  # answered, but pressed nothing the IVR could use
    "IVR_HUNG_UP_EARLY": "no_answer",  # hung up in the middle of an IVR flow
}


def outcome_of(cause: str | None) -> str:
    """busy, no_answer, rejected, invalid, or failed for anything else (network trouble)."""
    return OUTCOME_BY_CAUSE.get(cause or "", "failed")


@dataclass(frozen=True)
class RetryDecision:
    retry: bool
    due_at: datetime | None
    reason: str


def retry_decision(
    campaign: Campaign, attempts: int, cause: str | None, now: datetime
) -> RetryDecision:
    """Whether and when an unanswered task is dialled again."""
    outcome = outcome_of(cause)
    delays = campaign.retry_delays or {}
    delay = delays.get(outcome, delays.get("busy")) if outcome != "failed" else 300
    if outcome == "invalid" or delay is None:
        return RetryDecision(False, None, f"{cause}: the number cannot be reached; not retried")
    if attempts >= campaign.max_attempts:
        return RetryDecision(
            False, None, f"{cause} on the last of {campaign.max_attempts} attempts"
        )
    return RetryDecision(True, now + timedelta(seconds=delay), f"{cause}: retry in {delay} s")


def _hhmm(text: str) -> time:
    hours, minutes = text.split(":")
    return time(int(hours), int(minutes))


def in_window(windows: list[dict], timezone: str, now: datetime) -> bool:
    """True when ``now`` falls in one of the campaign's windows in the patient's own time."""
    local = now.astimezone(zoneinfo.ZoneInfo(timezone))
    for window in windows or []:
        if local.weekday() in window["days"] and (
            _hhmm(window["start"]) <= local.time() < _hhmm(window["end"])
        ):
            return True
    return False


def next_window_start(windows: list[dict], timezone: str, now: datetime) -> datetime | None:
    """The next moment (UTC-aware) a window opens for this patient, within a week."""
    tz = zoneinfo.ZoneInfo(timezone)
    local = now.astimezone(tz)
    best = None
    for day in range(8):
        date = (local + timedelta(days=day)).date()
        for window in windows or []:
            if date.weekday() not in window["days"]:
                continue
            start = datetime.combine(date, _hhmm(window["start"]), tz)
            if start > local and (best is None or start < best):
                best = start
    return best


def why_not_callable(
    patient: Patient, campaign: Campaign, now: datetime, do_not_call: set[str] = frozenset()
) -> str | None:
    """None if the patient may be dialled now, else the reason (for the task's record)."""
    if patient.do_not_call:
        return "patient is on the do-not-call list"
    if not patient.consent_call:
        return "patient has not consented to calls"
    if not patient.phones:
        return "patient has no phone number"
    if patient.phones[0].number in do_not_call:
        return "number is on the do-not-call list"
    if not in_window(campaign.calling_windows, patient.timezone, now):
        return "outside the calling window in the patient's timezone"
    return None


class UndialableNumber(ValueError):
    """The trunk cannot express this number (e.g. national format for a foreign number)."""


def dial_string(trunk: Trunk, e164: str, region: str) -> str:
    """Fill the trunk's template with the number in the format its carrier wants."""
    try:
        parsed = phonenumbers.parse(e164, None)
    except phonenumbers.NumberParseException as exc:
        raise UndialableNumber(f"{e164!r} is not an E.164 number") from exc
    if trunk.number_format is NumberFormat.E164:
        number = e164
    elif trunk.number_format is NumberFormat.DIGITS:
        number = e164.lstrip("+")
    else:
        if phonenumbers.region_code_for_number(parsed) != region:
            raise UndialableNumber(
                f"trunk {trunk.name} dials {region} national numbers only; {e164} is not one"
            )
        national = phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.NATIONAL)
        number = "".join(ch for ch in national if ch.isdigit())
    return trunk.dial_string.format(gateway=trunk.gateway, number=number)


class TokenBucket:
    """Calls-per-second pacing: ``rate`` tokens a second, bursts up to ``rate`` (at least 1)."""

    def __init__(self, rate: float, now: float):
        self.rate = rate
        self.capacity = max(1.0, rate)
        self.tokens = self.capacity
        self.updated = now

    def available(self, now: float) -> int:
        self.tokens = min(self.capacity, self.tokens + (now - self.updated) * self.rate)
        self.updated = now
        return int(self.tokens)

    def take(self, now: float, wanted: int) -> int:
        granted = min(wanted, self.available(now))
        self.tokens -= granted
        return granted
