from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from docket.errors import InvalidDate
from docket.model import timeparse

NOW = datetime(2026, 11, 23, 22, 0, tzinfo=UTC)
LONDON = "Europe/London"


def p(text: str, **kw: object) -> timeparse.ParsedTime:
    return timeparse.parse(text, LONDON, now=NOW, **kw)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-11-20 18:30", "2026-11-20T18:30:00+00:00"),
        ("20/11/2026 18:30", "2026-11-20T18:30:00+00:00"),
        ("03/11/2026 7.30pm", "2026-11-03T19:30:00+00:00"),
        ("3/11/26 9pm", "2026-11-03T21:00:00+00:00"),
        ("yesterday 21:15", "2026-11-22T21:15:00+00:00"),
        ("today 12am", "2026-11-23T00:00:00+00:00"),
        ("2026-07-01 08:00", "2026-07-01T08:00:00+01:00"),  # summer time kept as an offset
        ("2026-07-01T08:00:00+02:00", "2026-07-01T08:00:00+02:00"),
        ("  20.11.2026   18:30 ", "2026-11-20T18:30:00+00:00"),
    ],
)
def test_accepted_forms(text: str, expected: str) -> None:
    assert timeparse.rfc3339(p(text).value) == expected


def test_date_only_is_marked() -> None:
    r = p("20/11/2026")
    assert r.date_only and r.value.hour == 0


def test_now() -> None:
    assert p("now").value == NOW.astimezone(timeparse.zone(LONDON))


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("31/02/2026 10:00", "February 2026 has 28 days"),
        ("29/02/2025", "February 2025 has 28 days"),
        ("12/13/2026", "no month 13"),
        ("2026-11-20 25:00", "not a time"),
        ("20/11/2026 13pm", "12-hour clock"),
        ("20/11/2026 9", "give minutes"),
        ("next tuesday", "not a date"),
        ("", "empty"),
        ("2026-11-20T18:61", "ISO 8601"),
    ],
)
def test_impossible_dates_explain_why(text: str, fragment: str) -> None:
    with pytest.raises(InvalidDate) as info:
        p(text)
    assert fragment in info.value.message
    assert info.value.hint


def test_spring_forward_gap_is_refused() -> None:
    with pytest.raises(InvalidDate) as info:
        p("29/03/2026 01:30")
    assert "clocks went forward" in info.value.message


def test_autumn_ambiguous_time_keeps_first_offset() -> None:
    assert timeparse.rfc3339(p("25/10/2026 01:30").value).endswith("+01:00")


def test_future_refused_unless_allowed() -> None:
    with pytest.raises(InvalidDate) as info:
        p("24/12/2026 10:00")
    assert "future" in info.value.message
    assert p("24/12/2026 10:00", allow_future=True).value.year == 2026


def test_unknown_zone() -> None:
    with pytest.raises(InvalidDate):
        timeparse.parse("now", "Mars/Olympus")


@given(st.datetimes(min_value=datetime(1990, 1, 1), max_value=datetime(2026, 11, 20)))
def test_round_trip_iso_and_uk_forms(moment: datetime) -> None:
    moment = moment.replace(second=0, microsecond=0)
    iso = moment.strftime("%Y-%m-%d %H:%M")
    uk = moment.strftime("%d/%m/%Y %H:%M")
    try:
        a = p(iso)
    except InvalidDate as exc:  # only clock-change gaps may be refused
        assert "clocks went forward" in exc.message
        return
    b = p(uk)
    assert a.value == b.value
    assert a.value.replace(tzinfo=None) == moment


@given(st.dates(min_value=date(1990, 1, 1), max_value=date(2026, 11, 20)))
def test_every_real_day_parses(day: date) -> None:
    assert p(day.strftime("%d/%m/%Y")).value.date() == day


@given(st.text(max_size=40))
def test_arbitrary_text_never_crashes(text: str) -> None:
    try:
        r = p(text)
    except InvalidDate:
        return
    assert r.value.tzinfo is not None
    assert r.value - NOW <= timedelta(minutes=5)
