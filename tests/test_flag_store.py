"""The language flags kept when messages are imported and entries written
(``docket.flag_store``), on a diary file and on a case on PostgreSQL: an import fills them, an
entry's edit replaces its own, removing it removes them; the analysis reads them and finds
exactly what searching every message and entry finds; a new lexicon version, a diary from
before them, or rows that fall short make the analysis search instead, and the next import
(or entry) works them out again; verify reports any kept flag that does not match the
words."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from docket import flag_store, flags, integrity
from docket.analysis import Analysis, Period
from docket.api import Diary
from docket.model.forms import IncidentInput
from docket.model.identifiers import Identifier
from docket.model.records import IncidentData, Occurrence, PersonData
from docket.store.base import raw
from tests.test_analysis import ALEX, BOB, local, sbr

pytestmark = pytest.mark.parametrize("any_diary", ["sqlite", "postgresql"], indirect=True)

TEXTS = [
    (local(2026, 2, 2), ALEX, "I know where you live now", 1),
    (local(2026, 2, 3), ALEX, "see you soon", 1),
    (local(2026, 2, 4), ALEX, "I will kill you, I have a knife", 1),
    (local(2026, 2, 5), ALEX, "I will kill you", 2),  # written by me: never flagged
    (local(2026, 2, 6), BOB, "I know you were at the gym at 7", 1),
    (local(2026, 2, 7), ALEX, "", 1),
]
LATER = [
    (local(2026, 3, 2), ALEX, "I'll kill myself if you don't answer", 1),
    (local(2026, 3, 3), ALEX, "nothing to see here", 1),
    (local(2026, 3, 4), BOB, "I know where you live", 1),
]


@pytest.fixture
def d(any_diary: Diary, tmp_path: Path) -> Iterator[Diary]:
    any_diary.add_person(
        PersonData("Alex", "responsible", "ex_partner", identifiers=(Identifier("phone", ALEX),))
    )
    any_diary.import_file(sbr(tmp_path / "sms-1.xml", texts=TEXTS))
    yield any_diary


def sql(d: Diary, statement: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    with d._write() as conn:
        cursor = raw(conn).execute(statement, params)
        return [tuple(r) for r in cursor.fetchall()] if cursor.description else []


def kept(d: Diary) -> list[tuple[Any, ...]]:
    return sql(
        d,
        "SELECT message_id, ordinal, flag, words, sender_value FROM message_flag "
        "ORDER BY message_id, ordinal",
    )


def searched(d: Diary, as_of: date, period: Period | None = None) -> Analysis:
    """The analysis with no kept flags: every message searched, as before they were kept."""
    with d._write() as conn:
        saved = (
            raw(conn).execute("SELECT what, language, version, through FROM flag_scan").fetchall()
        )
        raw(conn).execute("DELETE FROM flag_scan")
    try:
        return d.analyse(as_of=as_of, period=period)
    finally:
        with d._write() as conn:
            for row in saved:
                raw(conn).execute(
                    "INSERT INTO flag_scan (what, language, version, through) VALUES (?, ?, ?, ?)",
                    tuple(row),
                )


def same_flags(a: Analysis, b: Analysis) -> None:
    assert a.flag_counts == b.flag_counts
    assert a.flag_hits == b.flag_hits
    assert [f for f in a.findings if f.rule.startswith("flag_")] == [
        f for f in b.findings if f.rule.startswith("flag_")
    ]


def test_an_import_keeps_the_flags_of_messages_not_sent_by_me(d: Diary) -> None:
    lexicon = flags.load("en")
    assert sql(d, "SELECT what, language, version, through FROM flag_scan") == [
        ("message", "en", lexicon.version, 6)
    ]
    rows = kept(d)
    assert {r[0] for r in rows} == {1, 3, 5}  # not 4 (mine), not 2, 6 (nothing to flag)
    words = {(r[0], r[2]): r[3] for r in rows}
    assert words[(1, "whereabouts")] == "know where you live"
    assert "kill you" in words[(3, "threat")] and words[(3, "weapon")] == "knife"
    assert {r[4] for r in rows if r[0] == 5} == {BOB}
    a = d.analyse(as_of=date(2026, 2, 28))
    assert a.flag_counts["threat"]["messages"] == 1
    assert a.flag_counts["whereabouts"]["messages"] == 2
    hit = next(h for h in a.flag_hits if h.id == 1)
    assert hit.person_id is not None and hit.words == "know where you live"
    same_flags(a, searched(d, date(2026, 2, 28)))
    assert d.verify().ok
    # the analysis reads the kept rows: what they say is what it shows
    sql(d, "UPDATE message_flag SET words = 'changed words' WHERE message_id = 1")
    shown = d.analyse(as_of=date(2026, 2, 28))
    assert next(h for h in shown.flag_hits if h.id == 1).words == "changed words"


def test_a_later_import_adds_to_them_and_periods_agree(d: Diary, tmp_path: Path) -> None:
    d.import_file(sbr(tmp_path / "sms-2.xml", texts=LATER))
    assert sql(d, "SELECT through FROM flag_scan") == [(9,)]
    assert {r[0] for r in kept(d)} == {1, 3, 5, 7, 9}
    as_of = date(2026, 3, 31)
    same_flags(d.analyse(as_of=as_of), searched(d, as_of))
    march = Period("2026-03-01T00:00:00Z", "2026-04-01T00:00:00Z")
    a = d.analyse(as_of=as_of, period=march)
    assert {h.id for h in a.flag_hits} == {7, 9}
    same_flags(a, searched(d, as_of, march))
    assert d.verify().ok


def test_messages_past_the_kept_ones_are_searched(d: Diary, tmp_path: Path) -> None:
    """Rows that stop short (a diary whose last import could not keep them): the analysis
    reads what is kept and searches the rest, and finds the same."""
    d.import_file(sbr(tmp_path / "sms-2.xml", texts=LATER))
    full = d.analyse(as_of=date(2026, 3, 31))
    sql(d, "DELETE FROM message_flag WHERE message_id > 6")
    sql(d, "UPDATE flag_scan SET through = 6")
    same_flags(d.analyse(as_of=date(2026, 3, 31)), full)
    assert d.verify().ok  # rows up to 6 still match
    # the next import looks at the messages past 6 and its own, and keeps the rows before
    d.import_file(sbr(tmp_path / "sms-3.xml", texts=[(local(2026, 3, 9), BOB, "kill you", 1)]))
    assert sql(d, "SELECT through FROM flag_scan WHERE what = 'message'") == [(10,)]
    assert {r[0] for r in kept(d)} == {1, 3, 5, 7, 9, 10}
    assert d.verify().ok


def test_a_new_lexicon_version_is_searched_then_rebuilt(d: Diary, tmp_path: Path) -> None:
    before = d.analyse(as_of=date(2026, 2, 28))
    sql(d, "UPDATE flag_scan SET version = 'older'")
    sql(d, "UPDATE message_flag SET words = 'stale words'")
    # the analysis ignores rows made by other word lists, and so does verify
    same_flags(d.analyse(as_of=date(2026, 2, 28)), before)
    assert d.verify().ok
    d.import_file(sbr(tmp_path / "sms-2.xml", texts=LATER))
    assert sql(d, "SELECT version, through FROM flag_scan") == [(flags.load("en").version, 9)]
    assert "stale words" not in {r[3] for r in kept(d)}
    assert {r[0] for r in kept(d)} == {1, 3, 5, 7, 9}
    assert d.verify().ok


def test_a_diary_from_before_kept_flags_gets_them_at_its_next_import(
    d: Diary, tmp_path: Path
) -> None:
    sql(d, "DELETE FROM message_flag")
    sql(d, "DELETE FROM flag_scan")
    before = d.analyse(as_of=date(2026, 2, 28))
    assert before.flag_counts["threat"]["messages"] == 1
    d.import_file(sbr(tmp_path / "sms-2.xml", texts=LATER))
    assert {r[0] for r in kept(d)} == {1, 3, 5, 7, 9}
    assert d.verify().ok


@pytest.mark.parametrize(
    "tamper, expected",
    [
        ("UPDATE message_flag SET words = 'nice' WHERE message_id = 1", "message 1 do not match"),
        ("DELETE FROM message_flag WHERE message_id = 3 AND ordinal = 1", "message 3 do not"),
        (
            "INSERT INTO message_flag (language, message_id, ordinal, flag, words, sent_at, "
            "sender_kind, sender_platform, sender_value) "
            "VALUES ('en', 4, 0, 'threat', 'kill you', NULL, NULL, NULL, NULL)",
            "message 4 do not match",
        ),
        ("UPDATE message_flag SET flag = 'sexual' WHERE message_id = 5", "message 5 do not"),
        ("UPDATE message_flag SET sender_value = '+447700900999'", "message 1 do not match"),
        ("UPDATE flag_scan SET through = 2", "message 3 are for a message not yet looked at"),
    ],
)
def test_verify_reports_kept_flags_that_do_not_match(d: Diary, tamper: str, expected: str) -> None:
    tampered_and_reported(d, tamper, expected)


def tampered_and_reported(d: Diary, tamper: str, expected: str) -> None:
    """A diary that verifies, changed by ``tamper``: verify reports the derived table changed,
    with ``expected`` in one of its problems, and nothing else."""
    assert d.verify().ok
    sql(d, tamper)
    report = d.verify()
    assert not report.ok
    texts = [p.message for p in report.problems]
    assert any(expected in t for t in texts), texts
    assert all(p.code == "table_changed" for p in report.problems)


def test_a_flag_for_a_message_the_diary_does_not_hold_is_reported(d: Diary) -> None:
    """(The tables' foreign key stops such a row being written; verify still says so.)"""
    report = integrity.Report()
    row = ("en", 2, 0, "threat", "kill you", None, None, None, None)
    expected = iter([(1, []), (3, [])])
    flag_store._compare(report, "en", 3, expected, iter([row[1:]]))
    flag_store._compare(report, "en", 3, iter([(1, [])]), iter([(5, *row[2:])]))
    assert [p.message for p in report.problems] == [
        "the en language flags kept for imported message 2 are for a message the diary "
        "does not hold",
        "the en language flags kept for imported message 5 are for a message not yet looked at",
    ]


def test_the_state_is_kept_for_every_lexicon(d: Diary) -> None:
    d.add_incident_data(entry("He said he would kill me."))
    for what in ("message", "incident"):
        found = sql(d, "SELECT language FROM flag_scan WHERE what = ?", (what,))
        assert {r[0] for r in found} == set(flags.available())
    assert [x.language for x in flag_store.lexicons()] == flags.available()


# --- incident entries ---------------------------------------------------------------------------


def entry(description: str, exact_words: str | None = None) -> IncidentData:
    return IncidentData(
        occurred=Occurrence(local(2026, 2, 10), "Europe/London"),
        category="CON",
        description=description,
        exact_words=exact_words,
    )


def incident_rows(d: Diary) -> list[tuple[Any, ...]]:
    return sql(d, "SELECT incident_id, ordinal, flag, words FROM incident_flag ORDER BY 1, 2")


def test_entries_keep_their_flags_through_edits_and_removal(d: Diary) -> None:
    first = d.add_incident_data(entry("A car parked across the road.", "I know where you live")).id
    plain = d.add_incident_data(entry("A missed call at work.")).id
    assert sql(d, "SELECT version FROM flag_scan WHERE what = 'incident'") == [
        (flags.load("en").version,)
    ]
    assert incident_rows(d) == [(first, 0, "whereabouts", "know where you live")]
    a = d.analyse(as_of=date(2026, 2, 28))
    assert a.flag_counts["whereabouts"]["incidents"] == 1
    same_flags(a, searched(d, date(2026, 2, 28)))
    d.edit_incident(plain, IncidentInput(description="He said he would kill me."), "his words")
    assert {r[0] for r in incident_rows(d)} == {first, plain}
    d.edit_incident(first, IncidentInput(clear=["exact_words"]), "the words were another day")
    assert [r[0] for r in incident_rows(d)] == [plain]
    assert d.verify().ok
    d.redact("incident", plain, "entered in the wrong diary")
    assert incident_rows(d) == []
    a = d.analyse(as_of=date(2026, 2, 28))
    assert "threat" not in a.flag_counts or a.flag_counts["threat"]["incidents"] == 0
    same_flags(a, searched(d, date(2026, 2, 28)))
    assert d.verify().ok


def test_the_analysis_reads_entries_kept_flags(d: Diary) -> None:
    iid = d.add_incident_data(entry("He said he would kill me.")).id
    sql(d, "UPDATE incident_flag SET words = 'changed words'")
    shown = d.analyse(as_of=date(2026, 2, 28))
    assert [h.words for h in shown.flag_hits if h.kind == "incident"] == ["changed words"]
    report = d.verify()
    assert [p.message for p in report.problems] == [
        f"the en language flags kept for incident {iid} do not match its words"
    ]


@pytest.mark.parametrize(
    "tamper, expected",
    [
        ("DELETE FROM incident_flag", "incident {iid} do not match"),
        (
            "INSERT INTO incident_flag (language, incident_id, ordinal, flag, words) "
            "VALUES ('en', {other}, 0, 'weapon', 'knife')",
            "incident {other} do not match",
        ),
        ("UPDATE incident_flag SET flag = 'sexual'", "incident {iid} do not match"),
    ],
)
def test_verify_reports_entries_kept_flags_that_do_not_match(
    d: Diary, tamper: str, expected: str
) -> None:
    iid = d.add_incident_data(entry("He said he would kill me.")).id
    other = d.add_incident_data(entry("A quiet day.")).id
    assert d.verify().ok
    sql(d, tamper.format(iid=iid, other=other))
    texts = [p.message for p in d.verify().problems]
    assert any(expected.format(iid=iid, other=other) in t for t in texts), texts


def test_a_removed_entrys_kept_flags_are_reported(d: Diary) -> None:
    iid = d.add_incident_data(entry("He said he would kill me.")).id
    d.redact("incident", iid, "entered in the wrong diary")
    sql(
        d,
        "INSERT INTO incident_flag (language, incident_id, ordinal, flag, words) "
        "VALUES ('en', ?, 0, 'threat', 'kill me')",
        (iid,),
    )
    texts = [p.message for p in d.verify().problems]
    assert texts == [
        f"the en language flags kept for incident {iid} are for an incident that is removed "
        "or not in the diary"
    ]


def test_entries_flags_from_other_word_lists_are_worked_out_again(d: Diary) -> None:
    iid = d.add_incident_data(entry("He said he would kill me.")).id
    before = d.analyse(as_of=date(2026, 2, 28))
    sql(d, "UPDATE flag_scan SET version = 'older' WHERE what = 'incident'")
    sql(d, "DELETE FROM incident_flag")
    same_flags(d.analyse(as_of=date(2026, 2, 28)), before)  # worked out from the words
    assert d.verify().ok  # rows of other word lists are not checked
    d.add_incident_data(entry("A quiet day."))  # the next entry works every one out again
    assert [r[0] for r in incident_rows(d)] == [iid]
    same_flags(d.analyse(as_of=date(2026, 2, 28)), before)
    assert d.verify().ok
