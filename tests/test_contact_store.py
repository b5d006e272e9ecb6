"""Each sender's contacts kept 30 days at a time when messages are imported
(``docket.contact_store``), on a diary file and on a case on PostgreSQL: an import fills them
and a later, overlapping one adds rows of its own; the analysis reads them and finds
exactly what reading the sender index finds, for the whole diary and for a period; a diary
from before them, or rows that fall short, make the analysis read the sender index, and the
next import works them out again; verify reports any kept row that does not match the
messages."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest

from docket import analysis, contact_store
from docket.analysis import Period
from docket.api import Diary
from docket.model.identifiers import Identifier
from docket.model.records import PersonData
from docket.store.base import raw
from tests.test_analysis import ALEX, BOB, local, sbr
from tests.test_flag_store import sql, tampered_and_reported

pytestmark = pytest.mark.parametrize("any_diary", ["sqlite", "postgresql"], indirect=True)

AS_OF = date(2026, 3, 31)
# texts from Alex (a burst of 12 in 22 minutes on 2 February), to Alex, and from Bob
TEXTS = [
    *[(local(2026, 2, 2, 21, 2 * k), ALEX, f"answer me {k}", 1) for k in range(12)],
    (local(2026, 2, 3, 8), ALEX, "morning", 1),
    (local(2026, 2, 3, 9), ALEX, "leave me alone", 2),  # sent by me: not a contact
    (local(2026, 2, 5, 23, 59), ALEX, "late", 1),
    (local(2026, 2, 6, 0, 1), BOB, "hello", 1),
]
CALLS = [
    (local(2026, 2, 2, 21, 5), ALEX, 3),  # missed
    (local(2026, 2, 4, 7), ALEX, 1),
    (local(2026, 2, 4, 7, 30), ALEX, 2),  # made by me
]
# a later export: some of the same days again, earlier and later in them, and new days
LATER = [
    (local(2026, 2, 2, 20, 59), ALEX, "before the others", 1),
    (local(2026, 2, 3, 7, 59), ALEX, "earlier still", 1),
    *[(local(2026, 3, 1, 12, k), ALEX, f"again {k}", 1) for k in range(10)],
]


@pytest.fixture
def d(any_diary: Diary, tmp_path: Path) -> Iterator[Diary]:
    any_diary.add_person(
        PersonData("Alex", "responsible", "ex_partner", identifiers=(Identifier("phone", ALEX),))
    )
    any_diary.import_file(sbr(tmp_path / "sms-1.xml", texts=TEXTS))
    any_diary.import_file(sbr(tmp_path / "calls-1.xml", calls=CALLS))
    yield any_diary


def days(d: Diary, value: str = ALEX) -> list[tuple[int, int]]:
    """(UTC day, contacts) kept for ``value``, by day."""
    counts = Counter(int(t) // 86_400 for r in rows(d, value) for t in str(r[4]).split(","))
    return sorted(counts.items())


def rows(d: Diary, value: str = ALEX) -> list[tuple[Any, ...]]:
    return sql(
        d,
        "SELECT span, part, first, n, secs, ids, codes, channels FROM contact_span "
        "WHERE sender_value = ? ORDER BY span, first",
        (value,),
    )


def from_index(d: Diary, monkeypatch: pytest.MonkeyPatch, period: Period | None = None) -> Any:
    """The analysis read from the sender index, as before the contacts were kept."""
    with monkeypatch.context() as m:
        m.setattr(contact_store, "usable", lambda raw: False)
        return d.analyse(as_of=AS_OF, period=period).as_json()


def from_kept(d: Diary, monkeypatch: pytest.MonkeyPatch, period: Period | None = None) -> Any:
    """The analysis read from the kept rows only (reading the sender index fails)."""

    def refuse(*args: object) -> None:
        raise AssertionError("read the sender index")

    with monkeypatch.context() as m:
        m.setattr(analysis, "_index_parts", refuse)
        m.setattr(analysis, "_contacts_one_by_one", refuse)
        return d.analyse(as_of=AS_OF, period=period).as_json()


def test_an_import_keeps_each_senders_contacts_30_days_at_a_time(
    d: Diary, monkeypatch: pytest.MonkeyPatch
) -> None:
    last = sql(d, "SELECT max(id) FROM message")[0][0]
    assert sql(d, "SELECT version, through FROM contact_scan") == [(contact_store.VERSION, last)]
    # 2 Feb (13: the burst and a missed call), 3 Feb (1: not the one I sent), 4 Feb (the
    # incoming call, not the one I made), 5 Feb (23:59 in London is 23:59 UTC)
    assert [r[1] for r in days(d)] == [13, 1, 1, 1]
    # each import wrote its own row for the 30 days from 7 January: the texts, then the calls
    texts, calls = rows(d)
    span = (date(2026, 2, 2) - date(1970, 1, 1)).days // contact_store.SPAN_DAYS
    assert (texts[0], texts[3], calls[0], calls[3]) == (span, 14, span, 2)
    secs = [int(s) for s in texts[4].split(",")]
    assert secs == sorted(secs) and texts[2] == secs[0] and len(texts[5].split(",")) == 14
    assert (texts[6], texts[7]) == ("2" * 14, ",".join(["sms"] * 14))
    assert calls[6] == "00" and calls[1] > texts[1]  # two calls, written later
    assert [r[1] for r in days(d, BOB)] == [1]
    assert sql(d, "SELECT count(*) FROM contact_odd") == [(0,)]
    assert d.verify().ok
    kept = from_kept(d, monkeypatch)
    assert kept == from_index(d, monkeypatch)
    assert kept["contacts"] == 16 and len(kept["bursts"]) == 1


def test_the_analysis_reads_the_kept_rows(d: Diary) -> None:
    before = d.analyse(as_of=AS_OF)
    sql(d, "DELETE FROM contact_span WHERE sender_value = ? AND n = 14", (ALEX,))
    after = d.analyse(as_of=AS_OF)
    assert (before.contacts, after.contacts) == (16, 2)
    assert before.bursts and not after.bursts


def test_a_later_overlapping_import_adds_its_own_rows(
    d: Diary, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    d.import_file(sbr(tmp_path / "sms-2.xml", texts=[*TEXTS[:3], *LATER]))  # 3 already held
    assert [r[1] for r in days(d)] == [14, 2, 1, 1, 10]
    for row in rows(d):
        secs = [int(s) for s in row[4].split(",")]
        assert secs == sorted(secs) and row[2] == secs[0] and row[3] == len(secs)
    assert d.verify().ok
    assert from_kept(d, monkeypatch) == from_index(d, monkeypatch)
    start = local(2026, 2, 3).astimezone(analysis.UTC)
    for period in (
        Period(analysis._iso(start), None),
        Period(None, analysis._iso(start + timedelta(hours=36))),
        Period(analysis._iso(start - timedelta(hours=23)), analysis._iso(start)),
    ):
        assert from_kept(d, monkeypatch, period) == from_index(d, monkeypatch, period)


def test_a_diary_from_before_kept_contacts_gets_them_at_its_next_import(
    d: Diary, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    want = days(d)
    sql(d, "DELETE FROM contact_span")
    sql(d, "DELETE FROM contact_scan")
    assert d.verify().ok  # none kept: nothing to check, and the analysis reads the index
    with d._file.read() as conn:
        assert not contact_store.usable(raw(conn))
    assert d.analyse(as_of=AS_OF).contacts == 16
    d.import_file(sbr(tmp_path / "sms-2.xml", texts=LATER))
    assert days(d)[0][1] == want[0][1] + 1
    assert d.verify().ok
    assert from_kept(d, monkeypatch) == from_index(d, monkeypatch)


def test_rows_from_another_version_are_worked_out_again(d: Diary, tmp_path: Path) -> None:
    sql(d, "UPDATE contact_scan SET version = 'old'")
    sql(d, "UPDATE contact_span SET n = 99")  # not read, and not checked: another layout
    assert d.verify().ok
    with d._file.read() as conn:
        assert not contact_store.usable(raw(conn))
    d.import_file(sbr(tmp_path / "sms-2.xml", texts=LATER))
    assert [r[1] for r in days(d)] == [14, 2, 1, 1, 10]
    assert d.verify().ok


def test_rows_that_fall_short_are_read_from_the_index_then_resumed(
    d: Diary, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    last = sql(d, "SELECT max(id) FROM message")[0][0]
    sql(d, "DELETE FROM contact_span")
    with d._write() as conn:  # as if only the first messages' contacts had been kept
        held = contact_store.Pending(raw(conn), conn.dialect.name)
        held.add(1, last - 3)
        held.write()
    with d._file.read() as conn:
        assert not contact_store.usable(raw(conn))
    assert d.analyse(as_of=AS_OF).contacts == 16
    d.import_file(sbr(tmp_path / "sms-2.xml", texts=LATER))
    assert [r[1] for r in days(d)] == [14, 2, 1, 1, 10]
    assert [r[1] for r in days(d, BOB)] == [1]
    assert d.verify().ok
    assert from_kept(d, monkeypatch) == from_index(d, monkeypatch)


def test_contacts_a_day_cannot_hold_send_the_analysis_to_the_messages(
    d: Diary, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A channel with a comma (no importer writes one): kept apart, and that sender's
    contacts read one by one."""
    mid = sql(d, "SELECT min(id) FROM message WHERE sender_value = ?", (ALEX,))[0][0]
    sql(d, "UPDATE message SET channel = 'sms,mms' WHERE id = ?", (mid,))
    sql(d, "DELETE FROM contact_scan")
    with d._write() as conn:
        contact_store.prepare(raw(conn), conn.dialect.name)
    assert sql(d, "SELECT message_id FROM contact_odd") == [(mid,)]
    assert [r[1] for r in days(d)] == [12, 1, 1, 1]  # the first text kept apart

    def refuse(*args: object) -> None:
        raise AssertionError("read the sender index in chunks")

    with monkeypatch.context() as m:
        m.setattr(analysis, "_index_parts", refuse)
        kept = d.analyse(as_of=AS_OF).as_json()
    assert kept == from_index(d, monkeypatch)
    assert kept["contacts"] == 16


@pytest.mark.parametrize(
    "tamper, expected",
    [
        ("UPDATE contact_span SET n = n + 1 WHERE n = 14", "do not match the messages"),
        (
            "UPDATE contact_span SET secs = replace(secs, '0,', '1,') WHERE n = 14",
            "do not match the messages",
        ),
        ("UPDATE contact_span SET first = first - 1 WHERE n = 14", "do not match the messages"),
        ("UPDATE contact_span SET ids = '1' WHERE n = 1", "do not match the messages"),
        ("UPDATE contact_span SET codes = '20' WHERE codes = '00'", "do not match the messages"),
        ("UPDATE contact_span SET channels = 'email' WHERE n = 1", "do not match the messages"),
        ("DELETE FROM contact_span WHERE n = 14", "do not match the messages"),
        ("DELETE FROM contact_span WHERE sender_value = '+447700900456'", "are missing"),
        (
            "INSERT INTO contact_span VALUES ('phone', '', '+447700900999', 666, 1, "
            "1726272000, 1, '1726272000', '1', '2', 'sms')",
            "+447700900999 in the 30 days from 2024-09-14 are for no message the diary holds",
        ),
        (  # a second copy of a row, as another part
            "INSERT INTO contact_span SELECT sender_kind, sender_platform, sender_value, span, "
            "part + 1000, first, n, secs, ids, codes, channels FROM contact_span WHERE n = 14",
            "do not match the messages",
        ),
        (
            "UPDATE contact_span SET span = span - 1 WHERE n = 14",
            "are for no message the diary holds",
        ),
        (
            "INSERT INTO contact_odd VALUES ('phone', '', '+447700900123', 1)",
            "do not match message 1",
        ),
        ("UPDATE contact_scan SET through = 1", "are for no message the diary holds"),
    ],
)
def test_verify_reports_kept_contacts_that_do_not_match(
    d: Diary, tamper: str, expected: str
) -> None:
    tampered_and_reported(d, tamper, expected)


def test_analyses_agree_for_every_period(d: Diary, monkeypatch: pytest.MonkeyPatch) -> None:
    """Periods that start and end inside days, at midnight, and hold nothing."""
    base = local(2026, 2, 2).astimezone(analysis.UTC)
    for lo, hi in [(0, 24), (21, 22), (45, 100), (-100, 0), (500, 600), (21.1, 21.3)]:
        period = Period(
            analysis._iso(base + timedelta(hours=lo)), analysis._iso(base + timedelta(hours=hi))
        )
        assert from_kept(d, monkeypatch, period) == from_index(d, monkeypatch, period), (lo, hi)


def test_an_import_holds_a_bounded_number_of_contacts(
    any_diary: Diary, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Past ``_HELD`` contacts an import writes what it holds and starts again: more rows
    (parts) for the same 30 days, the same findings, and verify content."""
    any_diary.add_person(
        PersonData("Alex", "responsible", "ex_partner", identifiers=(Identifier("phone", ALEX),))
    )
    monkeypatch.setattr(contact_store, "_HELD", 5)
    monkeypatch.setattr("docket.importer.BATCH", 4)
    any_diary.import_file(sbr(tmp_path / "sms-1.xml", texts=TEXTS))
    parts = sql(any_diary, "SELECT count(DISTINCT part) FROM contact_span")[0][0]
    assert parts >= 2
    assert [r[1] for r in days(any_diary)] == [12, 1, 1]
    assert any_diary.verify().ok
    assert from_kept(any_diary, monkeypatch) == from_index(any_diary, monkeypatch)
