"""Dates as people in Iran read them: Tehran time, the Solar Hijri calendar and
Persian digits when the page is Persian; Gregorian with ASCII digits in English.

Also the reverse, for the history filter: a day typed as ``1403/05/01`` (Jalali,
Persian or ASCII digits) or ``2024-07-22`` (Gregorian) becomes a UTC instant.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import jdatetime
from flask import Flask

from webapp.i18n import ASCII_DIGITS, PERSIAN_DIGITS, current_lang

TEHRAN = ZoneInfo("Asia/Tehran")
_DAY_RE = re.compile(r"^(\d{4})[-/.](\d{1,2})[-/.](\d{1,2})$")
# Years below this are read as Solar Hijri (1403 ≈ 2024).
_JALALI_BEFORE = 1700


def as_utc(value: datetime) -> datetime:
    """``value`` as an aware UTC instant; naive means UTC (see models.base.UTCDateTime)."""
    return (value if value.tzinfo else value.replace(tzinfo=UTC)).astimezone(UTC)


def format_datetime(value: datetime | None, *, with_time: bool = True) -> str:
    """``۱۴۰۳/۰۵/۰۱ ۱۴:۳۰`` in Persian, ``2024-07-22 14:30`` in English (Tehran time)."""
    if value is None:
        return "—"
    local = as_utc(value).astimezone(TEHRAN)
    clock = f" {local.hour:02d}:{local.minute:02d}" if with_time else ""
    if current_lang() == "fa":
        day = jdatetime.date.fromgregorian(date=local.date())
        return f"{day.year:04d}/{day.month:02d}/{day.day:02d}{clock}".translate(PERSIAN_DIGITS)
    return f"{local:%Y-%m-%d}{clock}"


def iso_utc(value: datetime | None) -> str:
    """Machine-readable instant for ``<time datetime="…">``."""
    return "" if value is None else as_utc(value).isoformat(timespec="seconds")


def parse_day(text: str) -> date:
    """A calendar day typed by a person; Jalali when the year is below 1700.

    Raises ValueError for anything that is not a real day.
    """
    match = _DAY_RE.match(text.strip().translate(ASCII_DIGITS))
    if match is None:
        raise ValueError(text)
    year, month, day = (int(part) for part in match.groups())
    if year < _JALALI_BEFORE:
        return jdatetime.date(year, month, day).togregorian()
    return date(year, month, day)


def day_start_utc(day: date) -> datetime:
    """The UTC instant at which ``day`` begins in Tehran."""
    return datetime.combine(day, time.min, tzinfo=TEHRAN).astimezone(UTC)


def day_end_utc(day: date) -> datetime:
    """The UTC instant at which the day after ``day`` begins in Tehran (exclusive end)."""
    return day_start_utc(day + timedelta(days=1))


def init_app(app: Flask) -> None:
    app.jinja_env.filters["local_datetime"] = format_datetime
    app.jinja_env.filters["iso_utc"] = iso_utc


_CLOCK_RE = re.compile(r"^(\d{1,2}):(\d{2})$")


def local_instant_utc(day_text: str, clock_text: str, zone: ZoneInfo = TEHRAN) -> datetime:
    """A day as ``parse_day`` reads it (Jalali or Gregorian) and an ``HH:MM`` wall-clock
    time in ``zone`` (Tehran: Iran keeps +03:30 all year since 2022), as a UTC instant.

    Raises ValueError for anything that is not a real day or time.
    """
    match = _CLOCK_RE.match(clock_text.strip().translate(ASCII_DIGITS))
    if match is None:
        raise ValueError(clock_text)
    clock = time(int(match.group(1)), int(match.group(2)))
    return datetime.combine(parse_day(day_text), clock, tzinfo=zone).astimezone(UTC)
