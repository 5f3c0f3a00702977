"""Read a timer's value as ISO 8601, within the bounds of ``engine.bpmn.limits``, before SpiffWorkflow does.

SpiffWorkflow parses timer values itself, without bounds and with errors of every type (``ValueError``,
``AttributeError`` on a number, a bare ``Exception``), and computes durations month by month in a Python
loop. Every value is read here first, by a parser that accepts a subset of what SpiffWorkflow accepts:
what passes is then safe to hand to it, and what fails is a ``TimerValueError`` saying why, naming the
limit it breaks. The same reading serves the deploy-time check of literal expressions and the run-time
check of computed ones.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

from engine.bpmn.limits import MAX_TIMER_CYCLES, MAX_TIMER_DURATION, MAX_TIMER_TEXT, MIN_CYCLE_INTERVAL, TIMER_YEARS

TimerKind = Literal["timeDate", "timeDuration", "timeCycle"]
KINDS: tuple[TimerKind, ...] = ("timeDate", "timeDuration", "timeCycle")

_DURATION = re.compile(
    r"P(?:(?P<years>\d{1,9}(?:[.,]\d{1,9})?)Y)?(?:(?P<months>\d{1,9}(?:[.,]\d{1,9})?)M)?"
    r"(?:(?P<weeks>\d{1,9}(?:[.,]\d{1,9})?)W)?(?:(?P<days>\d{1,9}(?:[.,]\d{1,9})?)D)?"
    r"(?:T(?:(?P<hours>\d{1,9}(?:[.,]\d{1,9})?)H)?(?:(?P<minutes>\d{1,9}(?:[.,]\d{1,9})?)M)?"
    r"(?:(?P<seconds>\d{1,9}(?:[.,]\d{1,9})?)S)?)?",
    re.IGNORECASE,
)
_CYCLE = re.compile(r"R(?P<count>\d{0,9})/(?P<first>[^/]+)(?:/(?P<second>[^/]+))?", re.IGNORECASE)
_DATE_UNITS = ("years", "months", "weeks", "days")
_TIME_UNITS = ("hours", "minutes", "seconds")
_AVERAGE_DAYS = {"years": 365.2425, "months": 365.2425 / 12, "weeks": 7, "days": 1}


class TimerValueError(ValueError):
    """A timer value that is not ISO 8601, or is out of bounds; ``limit`` names the bound it breaks."""

    def __init__(self, message: str, limit: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.limit = limit


@dataclass(frozen=True)
class TimerValue:
    """A checked value: a date, a duration, or a cycle (count, interval, and its start or end if given)."""

    kind: TimerKind
    text: str
    date: datetime | None = None
    duration: timedelta | None = None
    cycles: int | None = None
    anchor: Literal["start", "end"] | None = None


def check_timer_value(kind: TimerKind, value: Any) -> TimerValue:
    """The value a timer expression evaluated to, checked; ``TimerValueError`` says what is wrong."""
    if not isinstance(value, str):
        shown = "nothing (None)" if value is None else f"{type(value).__name__} {_short(value)}"
        raise TimerValueError(f"a {kind} must be an ISO 8601 text, not {shown}")
    if len(value) > MAX_TIMER_TEXT:
        raise TimerValueError(f"a {kind} of {len(value)} characters is longer than MAX_TIMER_TEXT ({MAX_TIMER_TEXT})",
                              "MAX_TIMER_TEXT")
    text = value
    if kind == "timeDate":
        return TimerValue(kind, value, date=_date(text, "timeDate"))
    if kind == "timeDuration":
        return TimerValue(kind, value, duration=_bounded_duration(text, "timeDuration"))
    return _cycle(value, text)


def _date(text: str, what: str) -> datetime:
    """An ISO 8601 date or date-time, with or without an offset, in ``TIMER_YEARS``."""
    if text[:1].upper() == "P" or "W" in text.upper():
        raise TimerValueError(f"{what} {_short(text)} is not an ISO 8601 date (a date like 2030-06-30T18:00 is needed)")
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        raise TimerValueError(f"{what} {_short(text)} is not an ISO 8601 date (a date like 2030-06-30T18:00 is needed)") from None
    if parsed.year not in TIMER_YEARS:
        raise TimerValueError(
            f"{what} {_short(text)} falls in year {parsed.year}, outside TIMER_YEARS ({TIMER_YEARS.start}–{TIMER_YEARS.stop - 1})",
            "TIMER_YEARS",
        )
    return parsed


def _duration(text: str, what: str) -> timedelta:
    """An ISO 8601 duration as SpiffWorkflow reads it (weeks not mixed with other date parts, a fraction only
    in the last part), measured with average Gregorian years and months."""
    match = _DURATION.fullmatch(text)
    parts = {name: value for name, value in (match.groupdict() if match else {}).items() if value is not None}
    has_time = "T" in text.upper()
    if (
        match is None
        or not parts
        or has_time != any(unit in parts for unit in _TIME_UNITS)
        or ("weeks" in parts and any(unit in parts for unit in ("years", "months", "days")))
        or any(_is_fraction(parts[unit]) for unit in list(parts)[:-1])
    ):
        raise TimerValueError(f"{what} {_short(text)} is not an ISO 8601 duration (a duration like P3D or PT2H is needed)")
    amounts = {unit: float(value.replace(",", ".")) for unit, value in parts.items()}
    days = sum(amounts.get(unit, 0) * _AVERAGE_DAYS[unit] for unit in _DATE_UNITS)
    return timedelta(days=days, hours=amounts.get("hours", 0), minutes=amounts.get("minutes", 0),
                     seconds=amounts.get("seconds", 0)) if days <= MAX_TIMER_DURATION.days + 1 else timedelta.max


def _bounded_duration(text: str, what: str) -> timedelta:
    duration = _duration(text, what)
    if duration > MAX_TIMER_DURATION:
        raise TimerValueError(f"{what} {_short(text)} is longer than MAX_TIMER_DURATION (10 years)", "MAX_TIMER_DURATION")
    return duration


def _cycle(value: str, text: str) -> TimerValue:
    """``R<n>/<interval>``, ``R<n>/<start>/<interval>`` or ``R<n>/<interval>/<end>``, with ``n`` written."""
    match = _CYCLE.fullmatch(text)
    if match is None:
        raise TimerValueError(
            f"timeCycle {_short(text)} is not an ISO 8601 repeating interval (a cycle like R3/PT1H is needed)")
    if not match["count"]:
        raise TimerValueError(
            f"timeCycle {_short(text)} repeats without end: write its number of repetitions, at most"
            f" MAX_TIMER_CYCLES ({MAX_TIMER_CYCLES}), as in R3/PT1H", "MAX_TIMER_CYCLES")
    cycles = int(match["count"])
    if not 1 <= cycles <= MAX_TIMER_CYCLES:
        raise TimerValueError(
            f"timeCycle {_short(text)} repeats {cycles} times; between 1 and MAX_TIMER_CYCLES ({MAX_TIMER_CYCLES}) are allowed",
            "MAX_TIMER_CYCLES")
    first, second = match["first"], match["second"]
    anchor: Literal["start", "end"] | None = None
    date = None
    if second is None:
        interval_text = first
    elif first[:1].upper() == "P" and second[:1].upper() != "P":
        interval_text, date, anchor = first, _date(second, "the cycle's end"), "end"
    elif first[:1].upper() != "P" and second[:1].upper() == "P":
        interval_text, date, anchor = second, _date(first, "the cycle's start"), "start"
    else:
        raise TimerValueError(f"timeCycle {_short(text)} needs one interval, with at most one start or end date")
    interval = _duration(interval_text, "the cycle's interval")
    if interval < MIN_CYCLE_INTERVAL:
        raise TimerValueError(
            f"timeCycle {_short(text)} repeats every {interval.total_seconds():g} s, more often than"
            f" MIN_CYCLE_INTERVAL (1 minute)", "MIN_CYCLE_INTERVAL")
    if interval > MAX_TIMER_DURATION:
        raise TimerValueError(
            f"timeCycle {_short(text)} has an interval longer than MAX_TIMER_DURATION (10 years)", "MAX_TIMER_DURATION")
    return TimerValue("timeCycle", value, date=date, duration=interval, cycles=cycles, anchor=anchor)


def _is_fraction(text: str) -> bool:
    return "." in text or "," in text


def _short(value: Any, limit: int = 40) -> str:
    shown = repr(value)
    return shown if len(shown) <= limit else shown[: limit - 1] + "…'"
