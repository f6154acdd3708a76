"""Parsing of single cell values shared by the CSV and FHIR readers."""

from __future__ import annotations

import zoneinfo
from datetime import date, datetime

from callcenter.models import Sex

SEX_WORDS = {
    "m": Sex.MALE, "male": Sex.MALE, "男": Sex.MALE, "man": Sex.MALE,
    "f": Sex.FEMALE, "female": Sex.FEMALE, "女": Sex.FEMALE, "woman": Sex.FEMALE,
    "other": Sex.OTHER, "其他": Sex.OTHER,
    "unknown": Sex.UNKNOWN, "未知": Sex.UNKNOWN, "u": Sex.UNKNOWN,
}  # fmt: skip
TRUE_WORDS = {"1", "y", "yes", "true", "t", "是", "同意", "有"}
FALSE_WORDS = {"0", "n", "no", "false", "f", "否", "不同意", "无"}
LANGUAGE_WORDS = {
    "zh": "zh", "zh-cn": "zh", "zh_cn": "zh", "zh-hans": "zh", "chinese": "zh", "中文": "zh",
    "普通话": "zh", "mandarin": "zh",
    "en": "en", "en-us": "en", "en-gb": "en", "english": "en", "英文": "en", "英语": "en",
}  # fmt: skip
DATE_FORMATS = ("%Y-%m-%d", "%Y/%m/%d", "%Y%m%d", "%Y.%m.%d")
_timezones_ok: set[str] = set()


class FieldError(ValueError):
    """A cell value that cannot be used; the message says why."""


def parse_sex(text: str) -> Sex:
    try:
        return SEX_WORDS[text.strip().lower()]
    except KeyError:
        raise FieldError("sex must be male/female/other/unknown (or 男/女)") from None


def parse_bool(text: str) -> bool:
    word = text.strip().lower()
    if word in TRUE_WORDS:
        return True
    if word in FALSE_WORDS:
        return False
    raise FieldError("must be yes or no (1/0, true/false, 是/否)")


def parse_date(text: str, today: date | None = None) -> date:
    text = text.strip()
    for fmt in DATE_FORMATS:
        try:
            value = datetime.strptime(text, fmt).date()
        except ValueError:
            continue
        if value > (today or date.today()):
            raise FieldError("date is in the future")
        if value.year < 1900:
            raise FieldError("date is before 1900")
        return value
    raise FieldError("not a date; write YYYY-MM-DD")


def parse_language(text: str) -> str:
    try:
        return LANGUAGE_WORDS[text.strip().lower()]
    except KeyError:
        raise FieldError("language must be zh or en") from None


def parse_timezone(text: str) -> str:
    text = text.strip()
    if text in _timezones_ok:
        return text
    try:
        zoneinfo.ZoneInfo(text)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise FieldError("not an IANA timezone such as Asia/Shanghai") from None
    _timezones_ok.add(text)
    return text


def parse_tags(text: str) -> list[str]:
    for sep in ("；", "|", ","):
        text = text.replace(sep, ";")
    tags = []
    for part in text.split(";"):
        name = part.strip()
        if name and name not in tags:
            if len(name) > 64:
                raise FieldError("a tag name is longer than 64 characters")
            tags.append(name)
    return tags
