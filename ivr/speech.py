"""Dates and times as people say them, in Mandarin and English."""

from __future__ import annotations

from datetime import datetime

ZH_WEEKDAYS = ("星期一", "星期二", "星期三", "星期四", "星期五", "星期六", "星期日")
ZH_DIGITS = "零一二三四五六七八九"
# Spelled out here, not by strftime, which would follow the process locale.
EN_WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
EN_MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August",
             "September", "October", "November", "December")  # fmt: skip
EN_DIGITS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")


def ordinal(day: int) -> str:
    """1 -> 1st, 2 -> 2nd, 11 -> 11th, 23 -> 23rd."""
    if 11 <= day % 100 <= 13:
        return f"{day}th"
    return f"{day}{ {1: 'st', 2: 'nd', 3: 'rd'}.get(day % 10, 'th') }"


def zh_day_part(hour: int) -> str:
    if hour < 6:
        return "凌晨"
    if hour < 12:
        return "上午"
    if hour < 13:
        return "中午"
    if hour < 18:
        return "下午"
    return "晚上"


def say_datetime(when: datetime, language: str) -> str:
    """``12月3日星期四上午9点30分`` or ``Thursday, December 3rd at 9:30 AM`` (local time)."""
    if language == "zh":
        hour12 = when.hour % 12 or 12
        minutes = "" if when.minute == 0 else f"{when.minute}分"
        clock = f"{hour12}点{minutes}" if minutes else f"{hour12}点"
        weekday = ZH_WEEKDAYS[when.weekday()]
        return f"{when.month}月{when.day}日{weekday}{zh_day_part(when.hour)}{clock}"
    hour12 = when.hour % 12 or 12
    suffix = "AM" if when.hour < 12 else "PM"
    clock = f"{hour12}:{when.minute:02d} {suffix}" if when.minute else f"{hour12} {suffix}"
    weekday, month = EN_WEEKDAYS[when.weekday()], EN_MONTHS[when.month - 1]
    return f"{weekday}, {month} {ordinal(when.day)} at {clock}"


def say_digits(digits: str, language: str) -> list[str]:
    """Each digit as a word (how a keyed-in number is read back)."""
    names = ZH_DIGITS if language == "zh" else EN_DIGITS
    return [names[int(d)] for d in digits if d.isdigit()]
