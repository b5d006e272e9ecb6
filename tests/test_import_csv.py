"""The mapped CSV importer: call logs from Android and iPhone exports and from spreadsheets kept
by hand (every call type, numeric codes, durations in every shape), delimiters, byte order
marks, UTF-16 and Windows-1252 files, Excel's "sep=" line and mangled numbers, quoted cells over
several lines (with the line each row starts on), day- or month-first dates inferred from the
whole file, 12/24-hour times, zones and clock changes, the mapping refused with a helpful
command, damaged rows and files cut short, generated tables round-tripped, and the real
pipeline."""

from __future__ import annotations

import contextlib
import csv
import io
import tracemalloc
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from docket.api import Diary
from docket.errors import ImportFormatError
from docket.importers import available
from docket.importers.base import Context, ImportWarning, Item, Party, Probe, Source
from docket.importers.csv_mapped import (
    MappedCsv,
    _Bad,
    parse_datetime,
    parse_duration,
    parse_time,
    party,
    read_words,
)
from tests.conftest import SHARED

SAMPLES = SHARED / "samples"
needs_samples = pytest.mark.skipif(not SAMPLES.is_dir(), reason="shared samples not present")

Mapping = tuple[tuple[str, str], ...]
CALL_LOG: Mapping = (
    ("date", "Date"),
    ("time", "Time"),
    ("number", "Number"),
    ("type", "Type"),
    ("duration", "Duration"),
    ("body", "Notes"),
)


# --- helpers ------------------------------------------------------------------------------------


def utc(y: int, mo: int, d: int, h: int = 0, mi: int = 0, s: int = 0) -> datetime:
    return datetime(y, mo, d, h, mi, s, tzinfo=UTC)


def run(
    path: Path, mapping: Mapping, name: str | None = None, **context: Any
) -> tuple[list[Item], list[ImportWarning]]:
    ctx = Context(name=name or path.name, mapping=mapping, **context)
    items: list[Item] = []
    warnings: list[ImportWarning] = []
    for x in MappedCsv().parse(Source(path), ctx):
        (items if isinstance(x, Item) else warnings).append(x)  # type: ignore[arg-type]
    return items, warnings


def parse(
    tmp_path: Path,
    text: str | bytes,
    mapping: Mapping = CALL_LOG,
    name: str = "calls.csv",
    **context: Any,
) -> tuple[list[Item], list[ImportWarning]]:
    path = tmp_path / name
    path.write_bytes(text.encode("utf-8") if isinstance(text, str) else text)
    return run(path, mapping, **context)


def brief(i: Item) -> tuple[object, ...]:
    who = (i.sender.raw, i.sender.kind) if i.sender else None
    to = tuple((p.raw, p.kind) for p in i.recipients)
    return (i.kind, i.direction, i.call_type, who, to, i.sent_at, i.duration_s, i.body)


# --- call logs ----------------------------------------------------------------------------------


def test_a_hand_kept_call_log(tmp_path: Path) -> None:
    text = (
        "Date,Time,Number,Type,Duration,Notes\n"
        "31/01/2024,21:05,07700 900123,Missed call,,rang three times\n"
        '01/02/2024,9:05 pm,+44 7700 900123,Incoming,3 min,"silent, then breathing"\n'
        "02/02/2024,23:59:30,Withheld,Rejected,,\n"
        "03/02/2024,07.15,07700 900123,Voicemail,0:45,left a message\n"
        "04/02/2024,12:00,07700 900123,Outgoing,1:02:03,I told him to stop\n"
        "05/02/2024,13:00,07700 900123,Blocked,,\n"
    )
    items, warnings = parse(tmp_path, text)
    assert warnings == []
    num = ("07700 900123", "phone")
    assert [brief(i) for i in items] == [
        ("call", "incoming", "missed", num, (), utc(2024, 1, 31, 21, 5), None, "rang three times"),
        (
            "call",
            "incoming",
            "incoming",
            ("+44 7700 900123", "phone"),
            (),
            utc(2024, 2, 1, 21, 5),
            180,
            "silent, then breathing",
        ),
        (
            "call",
            "incoming",
            "rejected",
            ("Withheld", "withheld"),
            (),
            utc(2024, 2, 2, 23, 59, 30),
            None,
            None,
        ),
        ("call", "incoming", "voicemail", num, (), utc(2024, 2, 3, 7, 15), 45, "left a message"),
        (
            "call",
            "outgoing",
            "outgoing",
            None,
            (num,),
            utc(2024, 2, 4, 12),
            3723,
            "I told him to stop",
        ),
        ("call", "incoming", "blocked", num, (), utc(2024, 2, 5, 13), None, None),
    ]
    first = items[0]
    assert first.channel == "phone" and first.line == 2
    assert first.local_time == "31/01/2024 21:05"
    assert first.raw == {
        "Date": "31/01/2024",
        "Time": "21:05",
        "Number": "07700 900123",
        "Type": "Missed call",
        "Duration": "",
        "Notes": "rang three times",
    }


def test_an_android_call_log_export_with_epoch_milliseconds_and_codes(tmp_path: Path) -> None:
    text = (
        "number,date,duration,type,name\n"
        "+447700900123,1706735112000,0,3,Sam\n"
        "+447700900123,1706735172000,65,1,Sam\n"
        "+447700900123,1706735232000,12,2,Sam\n"
        "-2,1706735292000,0,6,\n"
        "+447700900123,1706735352000,0,5,Sam\n"
        "+447700900123,1706735412000,30,4,Sam\n"
    )
    mapping = (
        ("number", "number"),
        ("datetime", "date"),
        ("duration", "duration"),
        ("type", "type"),
    )
    items, warnings = parse(tmp_path, text, mapping)
    assert warnings == []
    assert [(i.kind, i.call_type, i.direction, i.duration_s) for i in items] == [
        ("call", "missed", "incoming", 0),
        ("call", "incoming", "incoming", 65),
        ("call", "outgoing", "outgoing", 12),
        ("call", "blocked", "incoming", 0),
        ("call", "rejected", "incoming", 0),
        ("call", "voicemail", "incoming", 30),
    ]
    assert items[0].sent_at == utc(2024, 1, 31, 21, 5, 12)
    assert items[0].local_time == "1706735112000"
    assert items[2].recipients == (Party("+447700900123", "phone"),) and items[2].sender is None
    assert items[3].sender == Party("-2", "withheld")


def test_an_iphone_style_call_history(tmp_path: Path) -> None:
    text = (
        "\ufeffDate\tCall type\tContact\tDuration\n"
        "Jan 31, 2024 at 9:05 PM\tMissed FaceTime Audio\tSam\t\n"
        "Wed, 31 Jan 2024 21:10:00\tIncoming Call\tSam\t00:02:05\n"
        "January 31, 2024 9:15:00 p.m.\tCancelled Call\tSam\t0:00\n"
        "31 Jan 24 21:20\tOutgoing FaceTime Video\tsam@example.com\t1h 2m 3s\n"
    )
    mapping = (
        ("datetime", "Date"),
        ("type", "Call type"),
        ("number", "Contact"),
        ("duration", "Duration"),
    )
    items, warnings = parse(tmp_path, text, mapping, name="calls.tsv")
    assert warnings == []
    assert [(i.sent_at, i.call_type, i.direction, i.duration_s, i.channel) for i in items] == [
        (utc(2024, 1, 31, 21, 5), "missed", "incoming", None, "facetime"),
        (utc(2024, 1, 31, 21, 10), "incoming", "incoming", 125, "phone"),
        (utc(2024, 1, 31, 21, 15), "outgoing", "outgoing", 0, "phone"),
        (utc(2024, 1, 31, 21, 20), "outgoing", "outgoing", 3723, "facetime"),
    ]
    assert items[0].sender == Party("Sam", "name")
    assert items[3].recipients == (Party("sam@example.com", "email"),)


def test_messages_and_calls_in_one_table(tmp_path: Path) -> None:
    text = (
        "When;From;To;What;Kind;Via\n"
        "2024-01-31 21:05:12;Sam;me;where are you;SMS received;\n"
        "2024-01-31T21:06:00Z;me;Sam;leave me alone;Sent;WhatsApp\n"
        "2024-01-31 21:07:00+01:00;Sam;me;;Missed call;\n"
        "2024-01-31 21:08;Sam;me;I can see you;;Instagram DM\n"
        "2024-01-31 21:09;Sam;me; ;Turned up at work;\n"
    )
    mapping = (
        ("datetime", "When"),
        ("from", "From"),
        ("to", "To"),
        ("body", "What"),
        ("type", "Kind"),
        ("channel", "Via"),
    )
    items, warnings = parse(tmp_path, text, mapping)
    assert [(i.kind, i.direction, i.channel, i.sent_at) for i in items] == [
        ("message", "incoming", "sms", utc(2024, 1, 31, 21, 5, 12)),
        ("message", "outgoing", "whatsapp", utc(2024, 1, 31, 21, 6)),
        ("call", "incoming", "phone", utc(2024, 1, 31, 20, 7)),
        ("message", "unknown", "instagram", utc(2024, 1, 31, 21, 8)),
        ("message", "unknown", "other", utc(2024, 1, 31, 21, 9)),
    ]
    assert items[1].sender == Party("me", "name") and items[1].recipients == (Party("Sam", "name"),)
    assert items[4].body == " "  # kept exactly as written
    assert [w.code for w in warnings] == ["unknown_type"]
    assert warnings[0].line == 6 and "Turned up at work" in warnings[0].message


@pytest.mark.parametrize(
    ("text", "kind", "call_type", "direction"),
    [
        ("INCOMING", "message", None, "incoming"),
        ("MISSED", "call", "missed", "incoming"),
        ("Missed call", "call", "missed", "incoming"),
        ("No answer", "call", "missed", "incoming"),
        ("Declined", "call", "rejected", "incoming"),
        ("Voice mail", "call", "voicemail", "incoming"),
        ("Dialled", "call", "outgoing", "outgoing"),
        ("Outgoing call", "call", "outgoing", "outgoing"),
        ("Text message received", "message", None, "incoming"),
        ("Sent", "message", None, "outgoing"),
        ("inbox", "message", None, "incoming"),
        ("Video call", "call", "unknown", "unknown"),
        ("Silent call", "call", "unknown", "unknown"),
    ],
)
def test_type_words(
    tmp_path: Path, text: str, kind: str, call_type: str | None, direction: str
) -> None:
    """What a type cell alone says, in a table with a text column and no durations."""
    items, _ = parse(
        tmp_path,
        f"Date,Who,Type,Text\n2024-01-31 10:00,Sam,{text},\n",
        (("datetime", "Date"), ("from", "Who"), ("type", "Type"), ("body", "Text")),
    )
    assert (items[0].kind, items[0].call_type, items[0].direction) == (kind, call_type, direction)


def test_without_a_type_column_durations_make_calls(tmp_path: Path) -> None:
    text = "Date,Who,Length,Text\n2024-01-31 10:00,Sam,30,\n2024-01-31 10:01,Sam,,hello\n"
    mapping = (("datetime", "Date"), ("from", "Who"), ("duration", "Length"), ("body", "Text"))
    items, _ = parse(tmp_path, text, mapping)
    assert [(i.kind, i.duration_s) for i in items] == [("call", 30), ("message", None)]
    assert items[0].call_type == "unknown"


def test_android_sms_codes_when_the_rows_are_messages(tmp_path: Path) -> None:
    text = "address,date,type,body\n07700900123,1706735112,1,hi\n07700900123,1706735113,2,stop\n"
    mapping = (("number", "address"), ("datetime", "date"), ("type", "type"), ("body", "body"))
    items, _ = parse(tmp_path, text, mapping)
    assert [(i.kind, i.direction, i.call_type) for i in items] == [
        ("message", "incoming", None),
        ("message", "outgoing", None),
    ]
    assert items[0].sent_at == utc(2024, 1, 31, 21, 5, 12)


def test_from_on_outgoing_rows_names_the_person_called(tmp_path: Path) -> None:
    text = (
        "Date,Number,Type\n"
        "2024-01-31 10:00,07700900123,Outgoing\n"
        "2024-01-31 10:01,07700900123,Incoming\n"
    )
    items, warnings = parse(
        tmp_path, text, (("datetime", "Date"), ("from", "Number"), ("type", "Type"))
    )
    assert [(i.direction, i.sender, i.recipients) for i in items] == [
        ("outgoing", None, (Party("07700900123", "phone"),)),
        ("incoming", Party("07700900123", "phone"), ()),
    ]
    assert [w.code for w in warnings] == ["from_on_outgoing"] and warnings[0].line == 2


def test_several_recipients(tmp_path: Path) -> None:
    text = 'Date,From,To,Body\n2024-01-31 10:00,Sam,"Alex; +447700900123\nJo",hi\n'
    mapping = (("datetime", "Date"), ("from", "From"), ("to", "To"), ("body", "Body"))
    items, _ = parse(tmp_path, text, mapping)
    assert items[0].recipients == (
        Party("Alex", "name"),
        Party(" +447700900123", "phone"),
        Party("Jo", "name"),
    )


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("07700 900123", "phone"),
        ("+44 (0)7700-900123", "phone"),
        ("12345", "phone"),
        ("sam@example.com", "email"),
        ("Private number", "withheld"),
        ("UNKNOWN", "withheld"),
        ("-2", "withheld"),
        ("Sam Smith", "name"),
        ("4.47701E+11", "name"),
        ("12", "name"),
    ],
)
def test_parties(text: str, kind: str) -> None:
    p = party(text)
    assert p is not None and (p.raw, p.kind) == (text, kind)
    assert party("  ") is None


def test_numbers_mangled_by_a_spreadsheet_are_noted_once(tmp_path: Path) -> None:
    text = "Date,Number\n2024-01-31 10:00,4.47701E+11\n2024-01-31 10:01,4.47701E+11\n"
    items, warnings = parse(tmp_path, text, (("datetime", "Date"), ("number", "Number")))
    assert [i.sender for i in items] == [Party("4.47701E+11", "name")] * 2
    [w] = warnings
    assert (
        w.code == "number_changed_by_spreadsheet" and w.line == 2 and "2 phone numbers" in w.message
    )


# --- durations, dates and times -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("", None),
        ("125", 125),
        ("12.6", 13),
        ("2:05", 125),
        ("1:02:05", 3725),
        ("00:03:20", 200),
        ("0:00:07.5", 7),
        ("3 min", 180),
        ("3 mins", 180),
        ("3m 20s", 200),
        ("1h 2m 3s", 3723),
        ("1 hour, 5 minutes and 2 seconds", 3902),
        ("2.5 min", 150),
        ("45 sec", 45),
        ("45s", 45),
    ],
)
def test_durations(text: str, seconds: int | None) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize(
    "text", ["about a minute", "3 apples", "1:75", "-5", "1:2:3:4", "3 min ago"]
)
def test_not_durations(text: str) -> None:
    with pytest.raises(_Bad):
        parse_duration(text)


def test_a_bad_duration_keeps_the_call(tmp_path: Path) -> None:
    text = "Date,Time,Number,Type,Duration,Notes\n31/01/2024,21:05,0770,Incoming,ages,\n"
    items, warnings = parse(tmp_path, text)
    assert items[0].duration_s is None and items[0].kind == "call"
    assert [(w.code, w.line) for w in warnings] == [("bad_duration", 2)]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2024-01-31 21:05:12", datetime(2024, 1, 31, 21, 5, 12)),
        ("2024/01/31 21:05", datetime(2024, 1, 31, 21, 5)),
        ("20240131T210512", datetime(2024, 1, 31, 21, 5, 12)),
        ("31/01/2024 21:05", datetime(2024, 1, 31, 21, 5)),
        ("31.01.24, 9:05 PM", datetime(2024, 1, 31, 21, 5)),
        ("31-01-2024 9.05pm", datetime(2024, 1, 31, 21, 5)),
        ("31/01/2024 12:03:41 AM", datetime(2024, 1, 31, 0, 3, 41)),
        ("31/01/2024 12:03 p.m.", datetime(2024, 1, 31, 12, 3)),
        ("31/01/2024 9pm", datetime(2024, 1, 31, 21)),
        ("31 January 2024, 21:05", datetime(2024, 1, 31, 21, 5)),
        ("31st Jan 2024 at 21:05", datetime(2024, 1, 31, 21, 5)),
        ("Sept 3, 2024 9:05:07 AM", datetime(2024, 9, 3, 9, 5, 7)),
        ("Wednesday, 31 January 2024 21:05", datetime(2024, 1, 31, 21, 5)),
        ("45322.875", datetime(2024, 1, 31, 21, 0)),
        ("2024-01-31 21:05:12.345", datetime(2024, 1, 31, 21, 5, 12)),
    ],
)
def test_datetimes(text: str, expected: datetime) -> None:
    when = parse_datetime(text, day_first=True)
    assert when is not None and when.naive == expected and when.has_time


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2024-01-31T21:05:12Z", utc(2024, 1, 31, 21, 5, 12)),
        ("2024-01-31 21:05:12 +01:00", utc(2024, 1, 31, 20, 5, 12)),
        ("2024-01-31 21:05:12-0500", utc(2024, 2, 1, 2, 5, 12)),
        ("31/01/2024 21:05 UTC", utc(2024, 1, 31, 21, 5)),
        ("31/01/2024 21:05 GMT+1", utc(2024, 1, 31, 20, 5)),
        ("1706735112", utc(2024, 1, 31, 21, 5, 12)),
        ("1706735112999", utc(2024, 1, 31, 21, 5, 12)),
    ],
)
def test_instants(text: str, expected: datetime) -> None:
    when = parse_datetime(text, day_first=True)
    assert when is not None and when.instant == expected


@pytest.mark.parametrize(
    "text",
    [
        "31/02/2024 10:00",
        "2024-13-01",
        "31/01/2024 25:00",
        "31/01/2024 13:00 PM",
        "yesterday",
        "31/01/2024 21:05 EST",
        "12345",
        "0001-01-01 00:00+05:00",
        "9999-12-31 23:59-05:00",
        "0001-01-01",
    ],
)
def test_not_dates(text: str) -> None:
    with pytest.raises(_Bad):
        parse_datetime(text, day_first=True)


def test_month_first_reading() -> None:
    when = parse_datetime("01/31/2024 9:05 PM", day_first=False)
    assert when is not None and when.naive == datetime(2024, 1, 31, 21, 5)
    with pytest.raises(_Bad):
        parse_datetime("01/31/2024", day_first=True)


def test_date_order_is_inferred_from_the_whole_file(tmp_path: Path) -> None:
    rows = "".join(
        f"{m:02d}/{d:02d}/2024,10:00,0770,Incoming,,\n" for m, d in [(1, 2), (1, 5), (2, 14)]
    )
    items, warnings = parse(tmp_path, "Date,Time,Number,Type,Duration,Notes\n" + rows)
    assert warnings == []
    assert [i.sent_at for i in items] == [
        utc(2024, 1, 2, 10),
        utc(2024, 1, 5, 10),
        utc(2024, 2, 14, 10),
    ]
    day_first = (
        "Date,Time,Number,Type,Duration,Notes\n03/04/2024,10:00,0770,,,\n25/04/2024,10:00,0770,,,\n"
    )
    items, warnings = parse(tmp_path, day_first)
    assert warnings == [] and items[0].sent_at == utc(2024, 4, 3, 9)


@pytest.mark.parametrize("descending", [False, True])
def test_row_order_decides_when_no_day_is_over_12(tmp_path: Path, descending: bool) -> None:
    # read month first, these run 1 Jan, 2 Jan, 3 Jan; day first they jump between months
    dates = ["01/01/2024", "01/02/2024", "01/03/2024", "01/04/2024", "02/01/2024", "02/02/2024"]
    if descending:
        dates.reverse()
    text = "Date,Number\n" + "".join(f"{d} 10:00,0770\n" for d in dates)
    items, warnings = parse(tmp_path, text, (("datetime", "Date"), ("number", "Number")))
    assert warnings == []
    got = sorted(i.sent_at for i in items if i.sent_at)
    assert got[0] == utc(2024, 1, 1, 10) and got[-1] == utc(2024, 2, 2, 10)


def test_ambiguous_dates_follow_the_region_with_a_warning(tmp_path: Path) -> None:
    text = "Date,Number\n03/04/2024 10:00,0770\n"
    mapping = (("datetime", "Date"), ("number", "Number"))
    items, warnings = parse(tmp_path, text, mapping)
    assert items[0].sent_at == utc(2024, 4, 3, 9)
    assert [(w.code, w.line) for w in warnings] == [("ambiguous_date_order", 2)]
    items, warnings = parse(tmp_path, text, mapping, region="US", timezone="America/New_York")
    assert items[0].sent_at == utc(2024, 3, 4, 15) and "month first" in warnings[0].message
    items, warnings = parse(tmp_path, text, mapping, day_first=False)
    assert items[0].sent_at == utc(2024, 3, 4, 10) and warnings == []


def test_the_context_overrides_inference_and_conflicts_are_said(tmp_path: Path) -> None:
    text = "Date,Number\n25/04/2024 10:00,0770\n03/04/2024 10:00,0770\n"
    items, warnings = parse(
        tmp_path, text, (("datetime", "Date"), ("number", "Number")), day_first=False
    )
    assert [w.code for w in warnings] == ["date_order_conflict", "bad_date"]
    assert warnings[1].line == 2
    assert items[0].sent_at is None and items[0].local_time == "25/04/2024 10:00"
    assert items[1].sent_at == utc(2024, 3, 4, 10)


def test_mixed_date_orders(tmp_path: Path) -> None:
    text = "Date,Number\n25/04/2024 10:00,0770\n26/04/2024 10:00,0770\n04/27/2024 10:00,0770\n"
    items, warnings = parse(tmp_path, text, (("datetime", "Date"), ("number", "Number")))
    assert [w.code for w in warnings] == ["mixed_date_order", "bad_date"]
    assert [i.sent_at is None for i in items] == [False, False, True]


def test_clock_changes_and_zones(tmp_path: Path) -> None:
    text = (
        "Date,Number\n2024-03-31 01:30,0770\n2024-10-27 01:30,0770\n2024-10-27 01:30+00:00,0770\n"
    )
    items, _ = parse(tmp_path, text, (("datetime", "Date"), ("number", "Number")))
    assert [(i.sent_at, i.time_note) for i in items] == [
        (utc(2024, 3, 31, 1, 30), "nonexistent"),
        (utc(2024, 10, 27, 0, 30), "ambiguous"),
        (utc(2024, 10, 27, 1, 30), None),
    ]
    items, _ = parse(
        tmp_path, text, (("datetime", "Date"), ("number", "Number")), timezone="Asia/Kolkata"
    )
    assert items[0].sent_at == utc(2024, 3, 30, 20) and items[0].time_note is None


def test_dates_without_times_are_kept_without_a_time(tmp_path: Path) -> None:
    text = "Date,What\n31/01/2024,he was at the school gates\n01/02/2024,again\n"
    items, warnings = parse(tmp_path, text, (("date", "Date"), ("body", "What")))
    assert [(i.sent_at, i.local_time) for i in items] == [
        (None, "31/01/2024"),
        (None, "01/02/2024"),
    ]
    [w] = warnings
    assert w.code == "no_time" and w.line == 2 and "2 rows" in w.message


def test_a_separate_time_column_and_excel_fractions(tmp_path: Path) -> None:
    text = "Date,Time,Who\n2024-01-31 00:00:00,0.875,Sam\n45322,21:05,Sam\n31/01/2024,,Sam\n"
    items, warnings = parse(tmp_path, text, (("date", "Date"), ("time", "Time"), ("from", "Who")))
    assert [i.sent_at for i in items] == [utc(2024, 1, 31, 21), utc(2024, 1, 31, 21, 5), None]
    assert items[0].local_time == "2024-01-31 00:00:00 0.875"
    assert [w.code for w in warnings] == ["no_time"]


def test_rows_without_a_date_or_with_a_bad_one(tmp_path: Path) -> None:
    text = "Date,Who\n,Sam\nsoon,Sam\n2024-01-31 10:00,Sam\n"
    items, warnings = parse(tmp_path, text, (("datetime", "Date"), ("from", "Who")))
    assert [i.sent_at for i in items] == [None, None, utc(2024, 1, 31, 10)]
    assert [(w.code, w.line) for w in warnings] == [("no_date", 2), ("bad_date", 3)]
    assert "'soon'" in warnings[1].message


# --- the file: dialects, encodings, quoting and line numbers ------------------------------------

ROWS = [
    ["Date", "From", "Message"],
    ["2024-01-31 10:00", "Sam", "hello"],
    ["2024-01-31 10:01", "Sam", 'he said "stop", then\nleft;\ttab'],
    ["2024-01-31 10:02", "Sam", "last"],
]
MSG_MAP: Mapping = (("datetime", "Date"), ("from", "From"), ("body", "Message"))


@pytest.mark.parametrize("delimiter", [",", ";", "\t", "|"])
@pytest.mark.parametrize("newline", ["\n", "\r\n", "\r"])
def test_delimiters_and_line_ends(tmp_path: Path, delimiter: str, newline: str) -> None:
    buf = io.StringIO()
    csv.writer(buf, delimiter=delimiter, lineterminator=newline).writerows(ROWS)
    items, warnings = parse(tmp_path, buf.getvalue(), MSG_MAP)
    assert warnings == []
    assert [i.body for i in items] == ["hello", 'he said "stop", then\nleft;\ttab', "last"]
    assert [i.line for i in items] == [2, 3, 5]  # the quoted cell spans lines 3 and 4


def test_byte_order_marks_and_utf16(tmp_path: Path) -> None:
    buf = io.StringIO()
    csv.writer(buf, delimiter="\t", lineterminator="\r\n").writerows(
        [*ROWS, ["2024-01-31 10:03", "Zoë", "café 😡"]]
    )
    for data in (
        b"\xef\xbb\xbf" + buf.getvalue().encode("utf-8"),
        buf.getvalue().encode("utf-16"),  # Excel's "Unicode text"
        b"\xfe\xff" + buf.getvalue().encode("utf-16-be"),
    ):
        items, warnings = parse(tmp_path, data, MSG_MAP, name="messages.txt")
        assert warnings == []
        assert [i.line for i in items] == [2, 3, 5, 6]
        assert items[-1].sender == Party("Zoë", "name") and items[-1].body == "café 😡"
        assert "Date" in items[0].raw


def test_windows_1252_files(tmp_path: Path) -> None:
    text = "Date,Qui,Message\n2024-01-31 10:00,Zoë,£50 or else\n"
    items, warnings = parse(
        tmp_path,
        text.encode("cp1252"),
        (("datetime", "Date"), ("from", "Qui"), ("body", "Message")),
    )
    assert items[0].sender == Party("Zoë", "name") and items[0].body == "£50 or else"
    assert [w.code for w in warnings] == ["encoding_assumed"]


def test_a_stray_windows_1252_line_in_a_utf8_file(tmp_path: Path) -> None:
    data = (
        "Date,From,Message\n2024-01-31 10:00,Zoë,hi\n".encode()
        + "2024-01-31 10:01,Sam,£5\n".encode("cp1252")
    )
    items, warnings = parse(tmp_path, data, MSG_MAP)
    assert items[1].body == "£5"
    assert [(w.code, w.line) for w in warnings] == [("unreadable_characters", 3)]


def test_excels_sep_line(tmp_path: Path) -> None:
    text = "sep=;\nDate;From;Message\n2024-01-31 10:00;Sam;a,b\n"
    items, warnings = parse(tmp_path, text, MSG_MAP)
    assert warnings == [] and items[0].body == "a,b" and items[0].line == 3


def test_columns_are_found_by_name_loosely_or_by_number(tmp_path: Path) -> None:
    text = " Date , From,Message\n2024-01-31 10:00,Sam,hi\n"
    for mapping in [
        (("datetime", "Date"), ("from", "from"), ("body", "3")),
        (("timestamp", " date "), ("sender", "FROM"), ("text", "Message")),
    ]:
        items, _ = parse(tmp_path, text, mapping)
        assert (items[0].sent_at, items[0].sender, items[0].body) == (
            utc(2024, 1, 31, 10),
            Party("Sam", "name"),
            "hi",
        )


def test_duplicate_and_blank_headings_and_extra_cells(tmp_path: Path) -> None:
    text = "Date,Note,Note,,From\n2024-01-31 10:00,a,b,c,Sam,extra\n"
    items, warnings = parse(
        tmp_path, text, (("datetime", "Date"), ("from", "From"), ("body", "Note"))
    )
    assert warnings == []
    assert items[0].raw == {
        "Date": "2024-01-31 10:00",
        "Note": "a",
        "Note (2)": "b",
        "column 4": "c",
        "From": "Sam",
        "column 6": "extra",
    }
    assert items[0].body == "a"


def test_blank_lines_and_empty_rows(tmp_path: Path) -> None:
    text = "Date,From,Message\n\n2024-01-31 10:00,Sam,hi\n,,\n , ,\n,,,,\nTotal,,\n"
    items, warnings = parse(
        tmp_path, text, (("date", "Date"), ("from", "From"), ("body", "Message"))
    )
    assert [i.line for i in items] == [3, 7]
    assert [(w.code, w.line) for w in warnings] == [("bad_date", 7)]


def test_a_file_cut_short_in_a_quoted_cell(tmp_path: Path) -> None:
    text = 'Date,From,Message\n2024-01-31 10:00,Sam,hi\n2024-01-31 10:01,Sam,"this was cut'
    items, warnings = parse(tmp_path, text, MSG_MAP)
    assert [i.body for i in items] == ["hi", "this was cut"]
    text = "Date,From,Message\n2024-01-31 10:00,Sam,hi\n2024-01-31 10:01,Sa"
    items, warnings = parse(tmp_path, text, MSG_MAP)
    assert len(items) == 2 and items[1].body is None
    assert [(w.code, w.line) for w in warnings] == [("short_row", 3)]
    assert "'body'" in warnings[0].message


def test_a_line_over_1_mib_is_cut_with_a_warning(tmp_path: Path) -> None:
    long = "x" * ((1 << 20) + 100)
    text = f"Date,From,Message\n2024-01-31 10:00,Sam,{long}\n2024-01-31 10:01,Sam,after\n"
    items, warnings = parse(tmp_path, text, MSG_MAP)
    codes = [(w.code, w.line) for w in warnings]
    assert ("line_too_long", 2) in codes
    assert items[-1].body == "after" and items[-1].line == 3


def test_a_runaway_quote_is_reported_and_reading_goes_on(tmp_path: Path) -> None:
    big = "y" * 200_000
    text = f'Date,From,Message\n2024-01-31 10:00,Sam,"{big}\n2024-01-31 10:01,Sam,after\n'
    items, warnings = parse(tmp_path, text, MSG_MAP)
    assert ("unreadable_row", 2) in [(w.code, w.line) for w in warnings]
    assert items[-1].body == "after"


def test_a_large_table_is_read_in_bounded_memory(tmp_path: Path) -> None:
    path = tmp_path / "big.csv"
    row = '2024-01-31 10:00,+447700900123,"a message, with ""quotes""\nand two lines' + (
        " and more" * 110 + '"\n'
    )
    rows = 25_000
    with path.open("w") as f:
        f.write("Date,From,Message\n")
        for _ in range(rows):
            f.write(row)
    assert path.stat().st_size > 25 << 20
    tracemalloc.start()
    try:
        count = 0
        for x in MappedCsv().parse(Source(path), Context(name="big.csv", mapping=MSG_MAP)):
            count += isinstance(x, Item)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert count == rows
    assert peak < 12 << 20, peak  # a few 1 MiB blocks and their lines, not the file


def test_header_only(tmp_path: Path) -> None:
    items, warnings = parse(tmp_path, "Date,From,Message\n", MSG_MAP)
    assert items == [] and [w.code for w in warnings] == ["no_rows"]


# --- the mapping and whole-file errors ----------------------------------------------------------


def test_without_a_mapping_the_columns_and_an_example_are_shown(tmp_path: Path) -> None:
    text = "Date,Time,Number,Call type,Duration (s),My notes\n31/01/2024,21:05,0770,Missed,,x\n"
    with pytest.raises(ImportFormatError) as e:
        parse(tmp_path, text, (), name="my calls.csv")
    err = e.value
    assert (
        err.location is not None and err.location.file == "my calls.csv" and err.location.line == 1
    )
    assert "'Date', 'Time', 'Number', 'Call type', 'Duration (s)', 'My notes'" in (err.cause or "")
    assert err.hint is not None
    assert (
        "docket import 'my calls.csv' --format csv --map date=Date --map time=Time "
        "--map number=Number --map 'body=My notes' --map 'type=Call type' "
        "--map 'duration=Duration (s)'" in err.hint
    )
    assert err.details["columns"] == [
        "Date",
        "Time",
        "Number",
        "Call type",
        "Duration (s)",
        "My notes",
    ]


@pytest.mark.parametrize(
    ("mapping", "words"),
    [
        ((("date", "Date"), ("colour", "From")), "'colour' is not a field"),
        ((("date", "Date"), ("date", "From")), "given twice"),
        ((("datetime", "Date"), ("time", "Date"), ("from", "From")), "Both 'datetime'"),
        ((("from", "From"),), "No column is mapped to the date"),
        ((("date", "Date"),), "Only dates are mapped"),
        ((("date", "Date"), ("from", "Sender")), "no column called 'Sender'"),
        ((("date", "Date"), ("from", "9")), "no column called '9'"),
    ],
)
def test_mappings_that_cannot_work(tmp_path: Path, mapping: Mapping, words: str) -> None:
    with pytest.raises(ImportFormatError) as e:
        parse(tmp_path, "Date,From\n2024-01-31,Sam\n", mapping)
    assert words in e.value.message
    assert e.value.location is not None and e.value.location.file == "calls.csv"


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"\n\n  \n",
        b"PK\x03\x04\x14\x00\x00\x00\x08\x00" + bytes(200),  # an .xlsx
        b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(600),  # an .xls
    ],
)
def test_files_that_are_not_tables(tmp_path: Path, data: bytes) -> None:
    with pytest.raises(ImportFormatError) as e:
        parse(tmp_path, data, MSG_MAP)
    assert e.value.location is not None and e.value.location.file == "calls.csv"
    assert e.value.cause and e.value.hint


# --- score --------------------------------------------------------------------------------------


def score(tmp_path: Path, name: str, data: bytes) -> float:
    path = tmp_path / name
    path.write_bytes(data)
    return MappedCsv().score(Probe.of(Source(path), name))


def test_score(tmp_path: Path) -> None:
    assert score(tmp_path, "calls.csv", b"Date,Number\n2024-01-31,0770\n") == 0.05
    assert score(tmp_path, "calls.TSV", b"Date\tNumber\n") == 0.05
    assert score(tmp_path, "calls.csv", b"sep=;\nDate;Number\n") == 0.05
    assert score(tmp_path, "calls.csv", "Date,Number\n".encode("utf-16")) == 0.05
    assert score(tmp_path, "calls.txt", b"Date,Number\n") == 0.0
    assert score(tmp_path, "calls.csv", b"just one column\n") == 0.0
    assert score(tmp_path, "calls.csv", b"") == 0.0
    assert score(tmp_path, "calls.csv", b"\x00\x01\x02,\x03") == 0.0


@needs_samples
def test_no_shared_sample_is_claimed() -> None:
    for path in sorted(SAMPLES.glob("*/*")):
        if path.is_file():
            assert MappedCsv().score(Probe.of(Source(path), path.name)) == 0.0, path.name


@needs_samples
def test_a_shared_sample_forced_as_csv_is_refused_with_its_columns() -> None:
    path = SAMPLES / "whatsapp" / "android_ddmmyy_24h__chatminer.txt"
    with pytest.raises(ImportFormatError) as e:
        run(path, ())
    assert "--map" in (e.value.hint or "")


def test_csv_is_chosen_only_when_named(tmp_path: Path) -> None:
    path = tmp_path / "calls.csv"
    path.write_bytes(b"Date,Number\n2024-01-31,0770\n")
    probe = Probe.of(Source(path), path.name)
    assert max(imp.score(probe) for imp in available() if imp.name == "csv") < 0.3


# --- generated tables ---------------------------------------------------------------------------

_TEXT = st.text(
    st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=40
)
_FORMATS = [
    ("%d/%m/%Y %H:%M:%S", True),
    ("%m/%d/%Y %I:%M:%S %p", False),
    ("%Y-%m-%dT%H:%M:%S", None),
    ("%d %b %Y, %H:%M:%S", None),
    ("%d.%m.%y %H:%M:%S", True),
]


@st.composite
def tables(draw: st.DrawFn) -> tuple[str, str, list[tuple[datetime, str, str, int | None]]]:
    fmt, _ = draw(st.sampled_from(_FORMATS))
    delimiter = draw(st.sampled_from([",", ";", "\t"]))
    start = draw(st.datetimes(min_value=datetime(2001, 1, 1), max_value=datetime(2030, 1, 1)))
    rows = []
    when = start.replace(microsecond=0)
    for _ in range(draw(st.integers(min_value=1, max_value=12))):
        when += timedelta(seconds=draw(st.integers(min_value=0, max_value=40 * 86400)))
        who = draw(st.sampled_from(["Sam", "+447700900123", "07700 900456", "sam@example.com"]))
        body = draw(_TEXT)
        duration = draw(st.one_of(st.none(), st.integers(min_value=0, max_value=20_000)))
        rows.append((when, who, body, duration))
    return fmt, delimiter, rows


@given(
    tables(),
    st.sampled_from(["\n", "\r\n"]),
    st.booleans(),
    st.sampled_from([csv.QUOTE_MINIMAL, csv.QUOTE_ALL]),
)
@settings(
    max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
def test_generated_tables_round_trip(
    tmp_path: Path,
    table: tuple[str, str, list[tuple[datetime, str, str, int | None]]],
    newline: str,
    bom: bool,
    quoting: int,
) -> None:
    fmt, delimiter, rows = table
    if quoting == csv.QUOTE_MINIMAL and newline == "\n":
        # Python's writer then leaves a lone "\r" unquoted, which every reader (Excel's too)
        # takes for the end of a line: not a table any program writes
        rows = [(w, who, body.replace("\r", "\n"), d) for w, who, body, d in rows]
    buf = io.StringIO()
    w = csv.writer(buf, delimiter=delimiter, lineterminator=newline, quoting=quoting)
    w.writerow(["When", "Who", "Text", "Seconds"])
    for when, who, body, duration in rows:
        w.writerow([when.strftime(fmt), who, body, "" if duration is None else str(duration)])
    data = ("\ufeff" if bom else "") + buf.getvalue()
    day_first = dict(_FORMATS)[fmt]
    mapping = (("datetime", "When"), ("from", "Who"), ("body", "Text"), ("duration", "Seconds"))
    items, warnings = parse(
        tmp_path, data, mapping, timezone="UTC", day_first=True if day_first is None else day_first
    )
    assert [w.code for w in warnings] == []
    assert len(items) == len(rows)
    for item, (when, who, body, duration) in zip(items, rows, strict=True):
        assert item.sent_at == when.replace(tzinfo=UTC)
        assert item.sender is not None and item.sender.raw == who
        assert item.body == (body or None)
        # no word says; a duration makes a call, a text a message, and a row with neither is
        # taken as a call in a table that has a duration column
        assert item.kind == ("message" if duration is None and body else "call")
        assert item.duration_s == (duration if item.kind == "call" else None)
        assert item.local_time == when.strftime(fmt)
    # every row starts on the line the writer put it on
    expected, line = [], 2
    for when, who, body, duration in rows:
        expected.append(line)
        cells = [when.strftime(fmt), who, body, "" if duration is None else str(duration)]
        out = io.StringIO()
        csv.writer(out, delimiter=delimiter, lineterminator=newline, quoting=quoting).writerow(
            cells
        )
        text = out.getvalue()
        line += (
            text.count("\r\n")
            + text.replace("\r\n", "").count("\n")
            + text.replace("\r\n", "").count("\r")
        )
    assert [i.line for i in items] == expected


@given(st.binary(max_size=400))
@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
def test_any_bytes_give_items_warnings_or_a_clear_error(tmp_path: Path, tail: bytes) -> None:
    data = b"Date,From,Message\n2024-01-31 10:00,Sam,hi\n" + tail
    try:
        items, _ = parse(tmp_path, data, MSG_MAP)
    except ImportFormatError as e:
        assert e.location is not None and e.location.file == "calls.csv"
        return
    assert items[0].body == "hi" and all(i.line for i in items)


@given(st.text(max_size=40), st.booleans())
@settings(max_examples=400, deadline=None)
def test_any_cell_is_read_or_refused_never_an_error(text: str, day_first: bool) -> None:
    for reader in (
        lambda t: parse_datetime(t, day_first),
        parse_duration,
        party,
        read_words,
        parse_time,
    ):
        with contextlib.suppress(_Bad):
            reader(text)


# --- through the real pipeline ------------------------------------------------------------------


def test_a_call_log_in_a_real_diary(diary: Diary, tmp_path: Path) -> None:
    header = "Date,Time,Number,Type,Duration,Notes\n"
    rows = [
        f"{d:02d}/01/2024,21:{m:02d},07700 900123,{t},{s},{n}\n"
        for d, m, t, s, n in [
            (13, 5, "Missed", "", "rang"),
            (13, 6, "Missed", "", "rang"),
            (14, 1, "Incoming", "0:05", '"silent,\nthen hung up"'),
            (15, 2, "Rejected", "", ""),
            (16, 3, "Outgoing", "1:00", "told him to stop"),
        ]
    ]
    first = tmp_path / "calls-january.csv"
    first.write_text(header + "".join(rows[:3]))
    mapping = CALL_LOG
    s = diary.import_file(first, format="csv", mapping=mapping)
    assert s.importer == "csv" and s.added == 3 and s.by_kind == {"call": 3}
    again = diary.import_file(first, format="csv", mapping=mapping)
    assert again.already_imported_at is not None
    later = tmp_path / "calls-later.csv"
    later.write_text(header + "".join(rows[1:]))  # overlaps by two rows
    s = diary.import_file(later, format="csv", mapping=mapping)
    assert s.added == 2 and s.duplicates == 2
    calls = diary.messages()
    assert len(calls) == 5 and {c.call_type for c in calls} == {
        "missed",
        "incoming",
        "rejected",
        "outgoing",
    }
    assert diary.verify().ok
