"""Phone numbers: parse what people type into E.164, and mask them for display."""

from __future__ import annotations

import phonenumbers

from callcenter.errors import InvalidPhoneNumber


def to_e164(raw: str, region: str) -> str:
    """Return ``raw`` as an E.164 number, or raise InvalidPhoneNumber saying why."""
    text = (raw or "").strip()
    if not text:
        raise InvalidPhoneNumber("phone number is empty")
    try:
        parsed = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException as exc:
        raise InvalidPhoneNumber(f"{text!r} is not a phone number ({exc._msg})") from exc
    if not phonenumbers.is_valid_number(parsed):
        raise InvalidPhoneNumber(f"{text!r} is not a valid number for region {region}")
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def search_key(raw: str) -> str:
    """Digits only, for matching a partial number typed into a search box."""
    return "".join(ch for ch in raw if ch.isdigit())
