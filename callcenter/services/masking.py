"""Masking of identifiers in text shown to people who may not see them (QA, screens)."""

from __future__ import annotations

import re

# Mainland ID numbers (18 characters, last may be X) and long digit runs that look like phones.
_ID_NUMBER = re.compile(r"(?<!\d)(\d{6})\d{8}(\d{3}[\dXx])(?![\dXx])")
_PHONE = re.compile(r"(?<![\dA-Za-z])(\+?\d[\d \-]{6,}\d)(?!\d)")


def mask_phone(number: str | None) -> str:
    """Keep the country code and the last four digits: ``+86138****5678``."""
    if not number:
        return ""
    digits = number.lstrip("+")
    prefix = "+" if number.startswith("+") else ""
    if len(digits) <= 4:
        return prefix + "*" * len(digits)
    keep_head = min(5, max(0, len(digits) - 8))
    return prefix + digits[:keep_head] + "*" * (len(digits) - keep_head - 4) + digits[-4:]


def mask_identifiers(text: str) -> str:
    """Mask ID numbers and phone numbers inside free text such as transcripts."""
    text = _ID_NUMBER.sub(lambda m: m.group(1) + "*" * 8 + m.group(2), text)

    def phone(match: re.Match) -> str:
        raw = match.group(1)
        digits = [c for c in raw if c.isdigit()]
        if len(digits) < 7:
            return raw
        keep = 4
        out, seen = [], 0
        total = len(digits)
        for ch in raw:
            if ch.isdigit():
                seen += 1
                out.append(ch if seen > total - keep else "*")
            else:
                out.append(ch)
        return "".join(out)

    return _PHONE.sub(phone, text)
