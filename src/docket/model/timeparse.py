"""Reading the dates and times people type ("yesterday 21:15", "03/11/2026 7.30pm") into
timezone-aware datetimes, with clear errors for impossible dates and clock-change gaps.

Numeric dates are read day first (British order). A time that does not exist because the
clocks went forward is refused; an ambiguous time when the clocks went back is read as the
first of the two and the offset is kept, so the stored instant is never ambiguous.
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from docket.errors import InvalidDate

ACCEPTED = (
    "now; today or yesterday, optionally with a time (yesterday 21:15); "
    "2026-11-20 18:30; 20/11/2026 18:30 (day first); 20/11/2026 6.30pm; 2026-11-20"
)
FUTURE_TOLERANCE = timedelta(minutes=5)


@dataclass(frozen=True)
class ParsedTime:
    """A moment the person gave. ``date_only`` when they gave a day but no time."""

    value: datetime  # aware, in the zone it was given in
    date_only: bool


MONTHS: tuple[str, ...] = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)  # in English whatever the process's locale (calendar.month_name follows the locale)


def zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise InvalidDate(
            f"{name!r} is not a time zone Docket knows.",
            hint="Use a name such as Europe/London or America/New_York.",
        ) from exc


_TIME = re.compile(
    r"^(?P<h>\d{1,2})(?:[:.](?P<m>\d{2})(?::(?P<s>\d{2}))?)?\s*(?P<ampm>am|pm|a\.m\.|p\.m\.)?$",
    re.IGNORECASE,
)
_ISO_DATE = re.compile(r"^(?P<y>\d{4})-(?P<mo>\d{1,2})-(?P<d>\d{1,2})$")
_UK_DATE = re.compile(r"^(?P<d>\d{1,2})[/.-](?P<mo>\d{1,2})[/.-](?P<y>\d{2}|\d{4})$")
_ISO_DATETIME = re.compile(r"^\d{4}-\d{2}-\d{2}[T ]\d")
_OFFSET = re.compile(r"(?:Z|[+-]\d{2}:?\d{2})$")


def _bad(text: str, why: str) -> InvalidDate:
    return InvalidDate(
        f"{text!r} is not a date and time Docket can use: {why}",
        hint=f"Write it like one of these: {ACCEPTED}.",
    )


def _parse_time(text: str, original: str) -> time:
    m = _TIME.match(text.strip())
    if not m:
        raise _bad(original, f"{text.strip()!r} is not a time.")
    hour, minute, second = int(m["h"]), int(m["m"] or 0), int(m["s"] or 0)
    ampm = (m["ampm"] or "").lower().replace(".", "")
    if ampm:
        if not 1 <= hour <= 12:
            raise _bad(original, f"{hour} is not an hour on a 12-hour clock.")
        hour = hour % 12 + (12 if ampm == "pm" else 0)
    elif m["m"] is None:
        raise _bad(original, "give minutes too, such as 21:00, or use am/pm, such as 9pm.")
    if hour > 23 or minute > 59 or second > 59:
        raise _bad(original, f"{text.strip()!r} is not a time on a 24-hour clock.")
    return time(hour, minute, second)


def _make_date(y: int, mo: int, d: int, original: str) -> date:
    if not 1 <= mo <= 12:
        raise _bad(original, f"there is no month {mo} (dates are read day first: 20/11/2026).")
    days = calendar.monthrange(y, mo)[1]
    if not 1 <= d <= days:
        month = calendar.month_name[mo]
        raise _bad(original, f"{month} {y} has {days} days, so day {d} does not exist.")
    return date(y, mo, d)


def _parse_date(text: str, original: str, today: date) -> date:
    word = text.lower()
    if word == "today":
        return today
    if word == "yesterday":
        return today - timedelta(days=1)
    if m := _ISO_DATE.match(text):
        return _make_date(int(m["y"]), int(m["mo"]), int(m["d"]), original)
    if m := _UK_DATE.match(text):
        year = int(m["y"])
        if len(m["y"]) == 2:
            year += 2000
        return _make_date(year, int(m["mo"]), int(m["d"]), original)
    raise _bad(original, f"{text!r} is not a date.")


def localise(naive: datetime, tz: ZoneInfo, original: str) -> datetime:
    """Attach ``tz`` to a wall-clock time, refusing times skipped by a clock change."""
    aware = naive.replace(tzinfo=tz, fold=0)
    round_trip = aware.astimezone(UTC).astimezone(tz)
    if round_trip.replace(tzinfo=None) != naive:
        raise InvalidDate(
            f"{original!r} did not happen in {tz.key}: the clocks went forward then.",
            cause="At a clock change an hour is skipped, so times inside it do not exist.",
            hint="Check the time; if it was just after the change, add an hour.",
        )
    return aware


def parse(
    text: str, tz_name: str, *, now: datetime | None = None, allow_future: bool = False
) -> ParsedTime:
    """Parse ``text`` as a moment in the time zone ``tz_name``."""
    original = text
    text = " ".join(text.strip().split())
    if not text:
        raise _bad(original, "it is empty.")
    tz = zone(tz_name)
    now = (now or datetime.now(UTC)).astimezone(tz)
    result: ParsedTime
    if text.lower() == "now":
        result = ParsedTime(now.replace(microsecond=0), date_only=False)
    elif _ISO_DATETIME.match(text) and ("T" in text or _OFFSET.search(text)):
        try:
            parsed = datetime.fromisoformat(text)
        except ValueError as exc:
            raise _bad(original, "it looks like an ISO 8601 time but is not a valid one.") from exc
        if parsed.tzinfo is None:
            parsed = localise(parsed, tz, original)
        result = ParsedTime(parsed, date_only=False)
    else:
        date_part, _, time_part = text.partition(" ")
        day = _parse_date(date_part, original, now.date())
        if time_part:
            wall = datetime.combine(day, _parse_time(time_part, original))
            result = ParsedTime(localise(wall, tz, original), date_only=False)
        else:
            result = ParsedTime(localise(datetime.combine(day, time()), tz, original), True)
    if not allow_future and result.value - now > FUTURE_TOLERANCE:
        raise InvalidDate(
            f"{original!r} is in the future.",
            cause="The date or the day and month may be the wrong way round.",
            hint="Dates are read day first: 03/11/2026 is 3 November 2026.",
        )
    if result.value.year < 1900:
        raise _bad(original, "it is too long ago to be right.")
    return result


def rfc3339(value: datetime) -> str:
    """Seconds precision with an explicit offset, e.g. 2026-11-20T18:30:00+00:00."""
    if value.tzinfo is None:
        raise ValueError("naive datetime")
    return value.replace(microsecond=0).isoformat()


def utc_rfc3339(value: datetime) -> str:
    return rfc3339(value.astimezone(UTC)).replace("+00:00", "Z")


def parse_day(
    text: str | None, tz_name: str, what: str, *, allow_future: bool = False
) -> date | None:
    """A day a person typed for a form field or option (``what`` names it in the message);
    None when nothing was typed."""
    text = (text or "").strip()
    if not text:
        return None
    try:
        return parse(text, tz_name, allow_future=allow_future).value.date()
    except InvalidDate as exc:
        exc.message = f"{what}: {exc.message}"
        raise
