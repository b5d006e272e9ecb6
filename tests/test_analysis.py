"""Golden analyses of generated diaries with known patterns — steady, escalating, bursts, third
parties, an order and what came after it, flagged words — through the real facade on real
encrypted diaries, with calls and texts imported from generated SMS Backup & Restore files.
Plus the orders register and the checklist (kept in the log, checked by verify), and the CLI.

And the fast reading of contacts and entries checked against the plain one it replaced (kept
here as the reference), on generated streams of calls and messages written straight into the
message table of a real diary file and of a real case on PostgreSQL."""

from __future__ import annotations

import gc
import heapq
import itertools
import json
from collections import defaultdict, deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta, tzinfo
from pathlib import Path
from typing import Any
from unittest.mock import patch
from zoneinfo import ZoneInfo, available_timezones

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from docket import analysis, contact_store
from docket.analysis import BURST_MIN, BURST_WINDOW, MAX_IDS, Analysis, Burst, Period
from docket.api import Diary
from docket.checklist import Answer, ChecklistData, questions
from docket.errors import InputError, NothingToChange, RecordRedacted, UnknownChoice
from docket.ledger import log
from docket.model.identifiers import Identifier
from docket.model.records import IncidentData, Occurrence, OrderData, PersonData, Place
from docket.store.base import dialect
from tests.conftest import PASSPHRASE, run_cli

LONDON = ZoneInfo("Europe/London")
ALEX = "+447700900123"
BOB = "+447700900456"
FRIEND = "+447700900789"


def local(y: int, mo: int, d: int, h: int = 12, mi: int = 0) -> datetime:
    return datetime(y, mo, d, h, mi, tzinfo=LONDON)


def esc(value: str) -> str:
    return (
        value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")
    )


def sbr(
    path: Path,
    texts: Iterable[tuple[datetime, str, str, int]] = (),
    calls: Iterable[tuple[datetime, str, int]] = (),
) -> Path:
    """An SMS Backup & Restore file: texts (when, number, body, type 1 in / 2 out) and calls
    (when, number, type 3 missed / 1 incoming / 2 outgoing)."""
    rows = []
    for when, number, body, kind in texts:
        ms = int(when.timestamp() * 1000)
        rows.append(
            f'<sms protocol="0" address="{number}" date="{ms}" type="{kind}" subject="null" '
            f'body="{esc(body)}" toa="null" sc_toa="null" service_center="null" read="1" '
            'status="-1" locked="0" date_sent="0" readable_date="" contact_name="(Unknown)" />'
        )
    for when, number, kind in calls:
        ms = int(when.timestamp() * 1000)
        rows.append(
            f'<call number="{number}" duration="0" date="{ms}" type="{kind}" presentation="1" '
            'readable_date="" contact_name="(Unknown)" />'
        )
    root = "smses" if not calls else "calls"
    assert not (calls and texts)
    path.write_text(
        "<?xml version='1.0' encoding='UTF-8' standalone='yes' ?>\n"
        f'<{root} count="{len(rows)}">\n' + "\n".join(rows) + f"\n</{root}>\n",
        encoding="utf-8",
    )
    return path


class Builder:
    def __init__(self, tmp_path: Path) -> None:
        self.tmp = tmp_path
        self.diary = Diary.create(tmp_path / "case.docket", PASSPHRASE)
        self.alex = self.diary.add_person(
            PersonData(
                "Alex", "responsible", "ex_partner", identifiers=(Identifier("phone", ALEX),)
            )
        ).id
        self.n = 0

    def incident(
        self,
        when: datetime,
        category: str = "CON",
        *,
        people: tuple[int, ...] | None = None,
        targeted: tuple[str, ...] = ("me",),
        description: str = "It happened again.",
        private: str | None = None,
        date_only: bool = False,
    ) -> int:
        data = IncidentData(
            occurred=Occurrence(when, "Europe/London", date_only=date_only),
            category=category,
            description=description,
            people=(self.alex,) if people is None else people,
            targeted=targeted,
            place=Place(private, True) if private else None,
        )
        return self.diary.add_incident_data(data).id

    def texts(self, rows: Iterable[tuple[datetime, str, str, int]]) -> None:
        self.n += 1
        self.diary.import_file(sbr(self.tmp / f"sms-{self.n}.xml", texts=rows))

    def calls(self, rows: Iterable[tuple[datetime, str, int]]) -> None:
        self.n += 1
        self.diary.import_file(sbr(self.tmp / f"calls-{self.n}.xml", calls=rows))

    def analyse(self, as_of: date) -> Analysis:
        return self.diary.analyse(as_of=as_of)


@pytest.fixture
def b(tmp_path: Path) -> Iterable[Builder]:
    builder = Builder(tmp_path)
    try:
        yield builder
    finally:
        builder.diary.close()


def spread(start: date, days: int, n: int, hour: int = 19) -> list[datetime]:
    """n moments spread evenly over days from start, at different minutes of an evening."""
    return [
        datetime.combine(start + timedelta(days=i * days // n), datetime.min.time(), LONDON)
        + timedelta(hours=hour, minutes=(i * 7) % 50)
        for i in range(n)
    ]


# --- patterns ---------------------------------------------------------------------------------


def test_steady_pattern_counts_and_no_rise(b: Builder) -> None:
    ids = [b.incident(local(2026, 1, 5) + timedelta(weeks=w)) for w in range(20)]
    b.texts((t, ALEX, "Why won't you answer me", 1) for t in spread(date(2026, 1, 1), 140, 60))
    b.texts([(local(2026, 2, 2, 9), FRIEND, "Coffee on Saturday?", 1)])
    a = b.analyse(date(2026, 5, 20))
    assert a.incidents == 20 and a.messages == 61 and a.contacts == 60
    assert a.first_incident == "2026-01-05T12:00:00Z"
    assert a.days_since_latest == (date(2026, 5, 20) - date(2026, 5, 18)).days
    assert a.by_category == [("CON", "Unwanted contact", 20)]
    assert [(c, n) for c, _, n in a.contact_channels] == [("sms", 60)]
    assert sum(map(sum, a.heatmap)) == 80 and a.untimed == 0
    assert a.heatmap[0][12] == 20  # every incident: a Monday at noon
    assert sum(m.incidents for m in a.months) == 20 and sum(m.contacts for m in a.months) == 60
    assert [m.month for m in a.months] == ["2026-01", "2026-02", "2026-03", "2026-04", "2026-05"]
    assert not a.finding("rate_rise") and not a.finding("new_category") and not a.finding("burst")
    (occ,) = a.finding("occasions")
    assert occ.text == (
        "Alex: 20 incidents recorded on 20 different days, "
        "and 60 calls and messages on 60 different days."
    )
    assert set(occ.incidents) == set(ids)
    assert "police and prosecutors decide" in a.course_of_conduct.lower()
    (alex,) = [p for p in a.by_person if p.id == b.alex]
    assert (alex.incidents, alex.incident_days, alex.contacts) == (20, 20, 60)


def test_escalation_rise_and_new_categories(b: Builder) -> None:
    # incidents: 2 in February, then 4, 8, 16; contacts: 3 a week in February, 21 a week in May
    for month, n in ((2, 2), (3, 4), (4, 8), (5, 16)):
        for t in spread(date(2026, month, 1), 27, n, hour=18):
            b.incident(t)
    threat = b.incident(local(2026, 4, 12, 22), "THR", description="He said I'd regret it.")
    home = b.incident(local(2026, 4, 20, 7), "LOI", private="Home")
    rows = [(t, ALEX, "answer me", 1) for t in spread(date(2026, 2, 1), 28, 12)]
    rows += [(t, ALEX, "answer me", 1) for t in spread(date(2026, 3, 1), 31, 20)]
    rows += [(t, ALEX, "answer me", 1) for t in spread(date(2026, 4, 1), 30, 40)]
    rows += [(t, ALEX, "answer me", 1) for t in spread(date(2026, 5, 1), 31, 93)]
    b.texts(rows)
    a = b.analyse(date(2026, 5, 31))
    rises = {f.details["series"]: f for f in a.finding("rate_rise")}
    assert rises["contacts"].text == (
        "Calls and messages from the person responsible rose from 3 to 21 a week "
        "between February and May 2026."
    )
    assert (
        rises["contacts"].details["from_count"] == 12
        and rises["contacts"].details["to_count"] == 93
    )
    assert (
        rises["incidents"].text
        == "Incidents rose from 0.5 to 3.6 a week between February and May 2026."
    )
    new = {f.details["category"]: f for f in a.finding("new_category")}
    assert set(new) == {"THR", "LOI"}
    assert new["THR"].incidents == (threat,)
    assert new["THR"].text.startswith(
        "“Threats” was first recorded on 12 April 2026, 2 months after"
    )
    (private,) = a.finding("first_private_place")
    assert private.incidents == (home,) and "Home" not in private.text


def test_no_rise_when_it_falls_or_is_too_small(b: Builder) -> None:
    for month, n in ((2, 12), (3, 6), (4, 3)):
        for t in spread(date(2026, month, 1), 27, n):
            b.incident(t)
    a = b.analyse(date(2026, 4, 30))
    assert not a.finding("rate_rise")
    # one incident in February, two in April: doubled, but less than one more a week
    b2 = Builder(b.tmp / "second")
    try:
        b2.incident(local(2026, 2, 3))
        b2.incident(local(2026, 4, 3))
        b2.incident(local(2026, 4, 9))
        assert not b2.analyse(date(2026, 4, 30)).finding("rate_rise")
    finally:
        b2.diary.close()


def test_partial_last_month_is_not_compared(b: Builder) -> None:
    for t in spread(date(2026, 2, 1), 27, 4):
        b.incident(t)
    b.incident(local(2026, 3, 2))  # 3 days into March: March is too short to have a rate
    b.incident(local(2026, 3, 3))
    a = b.analyse(date(2026, 3, 4))
    assert a.months[-1].month == "2026-03" and a.months[-1].days == 4
    assert not a.finding("rate_rise")


def test_bursts_are_found_exactly(b: Builder) -> None:
    night = datetime(2026, 3, 7, 21, 5, tzinfo=UTC)
    calls = [(night + timedelta(seconds=80 * i), ALEX, 3) for i in range(40)]  # 40 in 53 min
    # 12 across an hour boundary, 22:40 to 23:35: found, though no clock hour holds 10
    edge = datetime(2026, 3, 8, 22, 40, tzinfo=UTC)
    calls += [(edge + timedelta(minutes=5 * i), ALEX, 3) for i in range(12)]
    # BURST_MIN - 1 within an hour: not a burst
    calls += [
        (datetime(2026, 3, 10, 8, 0, tzinfo=UTC) + timedelta(minutes=6 * i), ALEX, 3)
        for i in range(BURST_MIN - 1)
    ]
    # a burst from someone not in the register is not counted as contact
    calls += [
        (datetime(2026, 3, 11, 8, 0, tzinfo=UTC) + timedelta(minutes=i), BOB, 3) for i in range(30)
    ]
    b.calls(calls)
    b.texts((night + timedelta(seconds=80 * i + 30), ALEX, "pick up", 1) for i in range(5))
    a = b.analyse(date(2026, 3, 31))
    assert a.contacts == 40 + 12 + BURST_MIN - 1 + 5
    first, second = sorted(a.bursts, key=lambda x: x.start)
    assert (first.count, first.calls, first.messages) == (45, 40, 5)
    assert first.start == "2026-03-07T21:05:00Z" and first.peak == 45
    assert (second.count, second.calls, second.peak) == (12, 12, 12)
    assert second.start == "2026-03-08T22:40:00Z" and second.end == "2026-03-08T23:35:00Z"
    texts = [f.text for f in a.finding("burst")]
    assert texts[0] == (
        "45 calls and messages from Alex on Saturday 7 March 2026, from 21:05 to 21:57."
    )
    assert (
        texts[1]
        == "12 calls from Alex on Sunday 8 March 2026, from 22:40 to 23:35 (up to 12 in one hour)."
        or "(up to" not in texts[1]
    )
    by_id = {f.details["start"]: f for f in a.finding("burst")}
    assert len(by_id["2026-03-07T21:05:00Z"].messages) == 45


def test_third_parties_targeted(b: Builder) -> None:
    b.incident(local(2026, 2, 1), "PRX", targeted=("me", "Mum"))
    b.incident(local(2026, 2, 8), "PRX", targeted=("Mum",))
    sam = b.incident(local(2026, 2, 9), "PRX", targeted=("Sam",))
    b.incident(local(2026, 2, 10))
    (f,) = b.analyse(date(2026, 2, 28)).finding("third_parties")
    assert f.text == "3 entries name other people as targeted: Mum (2), Sam (1)."
    assert sam in f.incidents and len(f.incidents) == 3


def test_what_was_recorded_after_an_order(b: Builder) -> None:
    bob = b.diary.add_person(
        PersonData("Bob", "responsible", "acquaintance", identifiers=(Identifier("phone", BOB),))
    ).id
    b.incident(local(2026, 2, 20))  # before the order
    b.incident(local(2026, 3, 1, 18))  # the day it was made: not "after"
    after = [b.incident(local(2026, 3, d)) for d in (4, 9, 20)]
    b.incident(local(2026, 3, 21), people=(bob,))  # someone else: not counted for this order
    b.texts(
        [(local(2026, 2, 25), ALEX, "before", 1)]
        + [(local(2026, 3, d), ALEX, "after", 1) for d in (5, 6, 7, 8, 9)]
        + [(local(2026, 3, 6), ALEX, "my reply", 2)]  # sent by me: not a contact
        + [(local(2026, 3, 7), BOB, "from bob", 1)]
    )
    order = b.diary.add_order(
        OrderData("restraining_order", date(2026, 3, 1), against=(b.alex,), terms="No contact")
    )
    a = b.analyse(date(2026, 3, 31))
    (f,) = a.finding("after_order")
    assert f.text == (
        "After the restraining order made on 1 March 2026, 3 incidents and 5 messages from "
        "Alex were recorded."
    )
    assert f.incidents == tuple(after) and f.details["order"] == order.id
    # an end date in the past stops the count
    b.diary.edit_order(
        order.id,
        OrderData("restraining_order", date(2026, 3, 1), date(2026, 3, 5), (b.alex,), "No contact"),
        "It was only an interim order",
    )
    (f,) = b.analyse(date(2026, 3, 31)).finding("after_order")
    assert f.details["incidents"] == 1 and f.details["contacts"] == 1


def test_orders_are_kept_in_the_log_and_checked(b: Builder) -> None:
    with pytest.raises(UnknownChoice):
        b.diary.add_order(OrderData("banishment", date(2026, 3, 1)))
    with pytest.raises(InputError):
        b.diary.add_order(OrderData("restraining_order", date(2026, 3, 1), date(2026, 2, 1)))
    o = b.diary.add_order(OrderData("restraining_order", date(2026, 3, 1), terms="No contact"))
    with pytest.raises(NothingToChange):
        b.diary.edit_order(o.id, o.data, "no change")
    changed = b.diary.edit_order(
        o.id, OrderData("restraining_order", date(2026, 3, 2), terms="No contact"), "Wrong day"
    )
    assert changed.version == 2 and changed.data.made_on == date(2026, 3, 2)
    history = b.diary.history("order", o.id)
    assert [v.type for v in history] == ["order.created", "order.edited"]
    assert history[1].reason == "Wrong day"
    assert b.diary.verify().ok
    b.diary.redact("order", o.id, "Entered by mistake")
    assert b.diary.orders() == []
    with pytest.raises(RecordRedacted):
        b.diary.order(o.id)
    assert b.diary.verify().ok


def test_checklist_answers_are_kept_unscored(b: Builder) -> None:
    assert b.diary.checklist().updated_at is None
    data = ChecklistData.build(
        {
            "threats": Answer("yes", "Said he'd hurt my brother"),
            "fear": Answer("very"),
            "weapons": Answer(),
        }
    )
    view = b.diary.save_checklist(data)
    assert view.version == 1 and [q for q, _ in view.data.answers] == ["fear", "threats"]
    with pytest.raises(NothingToChange):
        b.diary.save_checklist(data)
    view = b.diary.save_checklist(ChecklistData.build({"fear": Answer("quite")}))
    assert view.version == 2 and view.data.answer("threats") is None
    assert [v.type for v in b.diary.history("checklist", 1)] == ["checklist.answered"] * 2
    with pytest.raises(UnknownChoice):
        ChecklistData.build({"fear": Answer("extreme")})
    with pytest.raises(InputError):
        ChecklistData.build({"nonsense": Answer("yes")})
    note = b.diary.jurisdiction.checklist_note()
    assert "Several of these are linked in research to serious harm" in note
    assert "999" in note and "0808 802 0300" in note
    assert len(questions()) >= 12
    assert b.diary.verify().ok


def test_language_flags_in_messages_and_entries(b: Builder) -> None:
    inc = b.incident(local(2026, 2, 1), description="He shouted that he would kill me.")
    b.texts(
        [
            (local(2026, 2, 2), ALEX, "I know where you live now", 1),
            (local(2026, 2, 3), ALEX, "see you soon", 1),
            (local(2026, 2, 4), ALEX, "I could kill for a coffee", 1),
            (local(2026, 2, 5), ALEX, "I will kill you", 2),  # written by me: never flagged
        ]
    )
    a = b.analyse(date(2026, 2, 28))
    assert a.flag_counts["threat"] == {"messages": 0, "incidents": 1}
    assert a.flag_counts["whereabouts"]["messages"] == 1
    hit = next(h for h in a.flag_hits if h.flag == "whereabouts")
    assert hit.words == "know where you live" and hit.person_id == b.alex
    (threat,) = a.finding("flag_threat")
    assert threat.incidents == (inc,) and "kill me" in threat.text
    assert a.lexicon.startswith("en ")


def test_an_empty_diary_analyses_calmly(b: Builder) -> None:
    a = b.analyse(date(2026, 2, 28))
    assert a.incidents == 0 and a.first_incident is None and a.days_since_latest is None
    assert a.findings == [] and a.months == []


def test_analysis_json_has_no_score_or_level(b: Builder) -> None:
    b.incident(local(2026, 2, 1), "THR", description="He said he would hurt me")
    text = json.dumps(b.analyse(date(2026, 2, 28)).as_json())

    def keys(value: object) -> Iterable[str]:
        if isinstance(value, dict):
            for k, v in value.items():
                yield str(k)
                yield from keys(v)
        elif isinstance(value, list):
            for v in value:
                yield from keys(v)

    for k in keys(json.loads(text)):
        assert not any(w in k.lower() for w in ("score", "level", "risk", "rating")), k


def test_cli_analyse_order_and_checklist(cli_env: dict[str, str], tmp_path: Path) -> None:
    run_cli(["init"], cli_env, check=True)
    run_cli(["person", "add", "Alex", "--phone", "07700 900123"], cli_env, check=True)
    for when in ("01/02/2026 19:00", "08/02/2026 19:00", "20/04/2026 07:30"):
        run_cli(
            ["add", "--category", "CON", "--occurred", when, "--description", "Texted again"],
            cli_env,
            check=True,
        )
    out = run_cli(
        [
            "order",
            "add",
            "--type",
            "restraining_order",
            "--made-on",
            "01/03/2026",
            "--against",
            "Alex",
            "--json",
        ],
        cli_env,
        check=True,
    )
    assert json.loads(out.stdout)["made_on"] == "2026-03-01"
    bad = run_cli(["order", "add", "--type", "banishment", "--made-on", "01/03/2026"], cli_env)
    assert bad.returncode == 2 and "restraining_order" in bad.stderr
    out = run_cli(["analyse", "--as-of", "30/04/2026", "--json"], cli_env, check=True)
    a = json.loads(out.stdout)
    assert a["incidents"] == 3
    assert any(f["rule"] == "after_order" for f in a["findings"])
    human = run_cli(["analyse", "--as-of", "30/04/2026"], cli_env, check=True).stdout
    assert "After the restraining order made on 1 March 2026, 1 incident" in human
    assert "999" in human and "prosecutors decide" in human
    run_cli(
        ["checklist", "answer", "--set", "threats=yes", "--details", "threats=To my brother"],
        cli_env,
        check=True,
    )
    shown = json.loads(run_cli(["checklist", "--json"], cli_env, check=True).stdout)
    threats = next(q for q in shown["questions"] if q["id"] == "threats")
    assert threats["answer"] == {"choice": "yes", "details": "To my brother"}
    bad = run_cli(["checklist", "answer", "--set", "threats=maybe"], cli_env)
    assert bad.returncode == 2 and "not_sure" in bad.stderr
    human = run_cli(["checklist"], cli_env, check=True).stdout
    assert "To my brother" in human and "linked in research to serious harm" in human


def test_many_bursts_are_counted_and_the_largest_listed(b: Builder) -> None:
    calls = []
    for day in range(1, 9):  # eight evenings of 10 + day calls within half an hour
        t0 = datetime(2026, 3, day, 20, 0, tzinfo=UTC)
        calls += [(t0 + timedelta(minutes=2 * i), ALEX, 3) for i in range(10 + day)]
    b.calls(calls)
    a = b.analyse(date(2026, 3, 31))
    assert len(a.bursts) == 8
    found = a.finding("burst")
    assert found[0].text == (
        "8 times, 10 or more calls and messages came from Alex within one hour, between "
        "1 March 2026 and 8 March 2026. The largest are listed below."
    )
    assert [f.message_total for f in found[1:]] == [14, 15, 16, 17, 18]


# --- the fast reading against the plain one it replaced ---------------------------------------
# The reference below is the reading of contacts and entries as it was before it was made fast
# (issue 7's benchmark), kept word for word apart from the order of contacts in one second on
# PostgreSQL, which it left to the database and which is now stated (as the sender index holds
# them in SQLite). Every result of the fast reading must be the same as its.


class _ReferenceBurstFinder:
    def __init__(self, person: analysis._Person) -> None:
        self.person = person
        self.window: deque[tuple[int, int, int, str, str]] = deque()  # idx, secs, id, kind, at
        self.n = 0
        self.run: dict[str, Any] | None = None
        self.found: list[Burst] = []
        self.span = int(BURST_WINDOW.total_seconds())

    def feed(self, secs: int, mid: int, kind: str, at: str) -> None:
        w = self.window
        w.append((self.n, secs, mid, kind, at))
        self.n += 1
        while secs - w[0][1] >= self.span:
            w.popleft()
        if self.run is not None or len(w) >= BURST_MIN:
            self._grow()

    def _grow(self) -> None:
        w = self.window
        idx, _secs, _mid, _kind, at = w[-1]
        run = self.run
        if run is not None and w[0][0] > run["last"]:
            self._close()
            run = None
        if len(w) < BURST_MIN:
            return
        if run is None:
            run = self.run = {"last": w[0][0] - 1, "count": 0, "calls": 0, "ids": [],
                              "start": w[0][4], "end": at, "peak": 0}  # fmt: skip
        new = []
        for e in reversed(w):
            if e[0] <= run["last"]:
                break
            new.append(e)
        for e in reversed(new):
            run["count"] += 1
            run["calls"] += e[3] == "call"
            if len(run["ids"]) < MAX_IDS:
                run["ids"].append(e[2])
        run["last"], run["end"], run["peak"] = idx, at, max(run["peak"], len(w))

    def _close(self) -> None:
        run, self.run = self.run, None
        if run is None:
            return
        self.found.append(
            Burst(
                person_id=self.person.id,
                person_name=self.person.name,
                start=run["start"],
                end=run["end"],
                count=run["count"],
                calls=run["calls"],
                messages=run["count"] - run["calls"],
                peak=run["peak"],
                message_ids=tuple(run["ids"]),
            )
        )

    def finish(self) -> list[Burst]:
        self._close()
        return self.found


@dataclass
class _ReferenceContacts:
    buckets: dict[datetime, list[int]] = field(default_factory=dict)
    channels: dict[str, int] = field(default_factory=dict)
    untimed: int = 0
    bursts: list[Burst] = field(default_factory=list)


_REFERENCE_ORDER = {"sqlite": "sent_at", "postgresql": analysis._ORDER["postgresql"]}


def _reference_contacts(
    raw: Any, person: analysis._Person, fine: bool, period: Period, db: str
) -> _ReferenceContacts:
    epoch, order = analysis._EPOCH[db], _REFERENCE_ORDER[db]
    width = 60 if fine else 3600
    out = _ReferenceContacts()
    finder = _ReferenceBurstFinder(person)
    clause, args = period.where("sent_at")
    cursors = [
        raw.execute(
            f"SELECT {epoch}, kind, channel, id, sent_at FROM message "
            f"WHERE {analysis._CONTACT_WHERE}{clause} ORDER BY {order}",
            (*key, *args),
        )
        for key in person.keys
        if key[0] != "vehicle"
    ]
    rows = cursors[0] if len(cursors) == 1 else heapq.merge(*cursors, key=lambda r: r[0] or 0)
    buckets: dict[int, list[int]] = {}
    channels: dict[str, int] = defaultdict(int)
    current = -1
    slot = [0, 0]
    feed = finder.feed
    for secs, kind, channel, mid, sent_at in rows:
        if secs is None:
            out.untimed += 1
            continue
        b = secs // width
        if b != current:
            current = b
            slot = buckets.setdefault(b, [0, 0])
        slot[0] += 1
        if kind == "call":
            slot[1] += 1
        channels[channel] += 1
        feed(secs, mid, kind, sent_at)
    out.buckets = {datetime.fromtimestamp(b * width, UTC): v for b, v in sorted(buckets.items())}
    out.channels = dict(channels)
    out.bursts = finder.finish()
    return out


def _assert_same_contacts(got: analysis._Contacts, ref: _ReferenceContacts, tz: tzinfo) -> None:
    assert list(got.channels.items()) == list(ref.channels.items())  # the order counts too
    assert got.untimed == ref.untimed
    assert got.timed == sum(n for n, _ in ref.buckets.values())
    assert got.bursts == ref.bursts
    # local days and hours of the week, as the analysis worked them out bucket by bucket
    week = [0] * 168
    days: dict[date, list[int]] = {}
    for start, (n, calls) in ref.buckets.items():
        local = start.astimezone(tz)
        week[local.weekday() * 24 + local.hour] += n
        day = days.setdefault(local.date(), [0, 0])
        day[0] += n
        day[1] += calls
    assert got.week == week
    assert got.days == days


def _rfc3339(secs: int) -> str:
    return datetime.fromtimestamp(secs, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


# moments a little before the clocks change somewhere (and one when they do not)
_NEAR_CHANGES = [
    int(datetime(2026, 3, 29, 0, 20, tzinfo=UTC).timestamp()),  # London, forward
    int(datetime(2026, 10, 25, 0, 20, tzinfo=UTC).timestamp()),  # London, back
    int(datetime(2026, 4, 4, 14, 20, tzinfo=UTC).timestamp()),  # Lord Howe, back half an hour
    int(datetime(2026, 4, 4, 13, 35, tzinfo=UTC).timestamp()),  # Chatham, back an hour
    int(datetime(2026, 3, 8, 6, 20, tzinfo=UTC).timestamp()),  # New York, forward
    int(datetime(2026, 1, 15, 12, 0, tzinfo=UTC).timestamp()),
]
_ZONES = [
    "Europe/London",
    "Australia/Lord_Howe",
    "Pacific/Chatham",
    "Asia/Kolkata",
    "America/St_Johns",
    "America/New_York",
]
_EDGES = st.sampled_from([0, 0, 1, 59, 60, 61, 3599, 3600, 3601, 40_000])  # seconds apart
# the rare things that send the reading back to one row at a time (the last only on SQLite)
_ODDITIES = ["untimed", "direction", "comma", "empty channel", "not a time"]
_SENDERS = [("phone", "", "+4477"), ("email", "", "x@"), ("handle", "signal", "@h")]
_INSERT = (
    "INSERT INTO message (id, source_id, batch_seq, kind, channel, direction, sender_raw, "
    "sender_kind, sender_platform, sender_value, recipients, sent_at, local_time, body, "
    "deleted, raw, attachments, dedupe, leaf) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, '[]', ?, '', ?, ?, '{}', '[]', ?, ?)"
)
_RUNS = itertools.count()


@dataclass
class _Stream:
    person: analysis._Person
    rows: list[tuple[Any, ...]]  # (id, kind, channel, direction, sender, sent_at)
    period: Period
    fine: bool
    zone: str
    chunk: int


@st.composite
def _streams(draw: st.DrawFn, server: bool) -> _Stream:
    run = next(_RUNS)
    times = [draw(st.sampled_from(_NEAR_CHANGES))]
    # spells of calls and messages, each at its own pace, an edge of an hour or more apart
    spells = st.tuples(st.integers(1, 40), st.sampled_from([5, 30, 400]), _EDGES)
    for count, pace, apart in draw(st.lists(spells, max_size=7)):
        times[-1] += apart
        gaps = draw(st.lists(st.one_of(_EDGES, *[st.integers(0, pace)] * 4), min_size=count,
                             max_size=count))  # fmt: skip
        times += itertools.accumulate(gaps, initial=times[-1])
    n = len(times) - 1
    n_keys = draw(st.integers(1, 3))
    keys = [(kind, platform, f"{value}{run}-{k}") for k, (kind, platform, value) in
            enumerate(draw(st.permutations(_SENDERS))[:n_keys])]  # fmt: skip
    vehicle = ("vehicle", "", f"AB{run}CDE")
    others = [("phone", "", f"+4488{run}"), vehicle]  # someone else; a vehicle's plate
    at = draw(st.integers(0, n_keys))
    person = analysis._Person(900 + run, "Alex", "responsible", "ex_partner",
                              keys=[*keys[:at], vehicle, *keys[at:]])  # fmt: skip
    ids = draw(st.permutations(range(n)))  # ids not in time order, so that ties show
    details = draw(
        st.lists(
            st.tuples(
                # the sender: mostly one of the person's, at times someone else or a vehicle
                st.integers(0, 9),
                st.sampled_from(["message"] * 3 + ["call"] * 3 + ["system"]),
                st.sampled_from(["incoming"] * 4 + ["unknown", "outgoing"]),
                st.sampled_from(["sms", "sms", "phone", "whatsapp"]),
            ),
            min_size=n,
            max_size=n,
        )
    )
    odd = draw(st.sampled_from([None] * 6 + _ODDITIES[: 4 if server else 5]))
    rows = []
    for i, (t, mid, (who, kind, direction, channel)) in enumerate(
        zip(times[1:], ids, details, strict=True)
    ):
        sender = keys[who % n_keys] if who < 8 else others[who - 8]
        sent_at: str | None = _rfc3339(t)
        if odd is not None and i % 7 == 3:
            if odd == "untimed":
                sent_at = None
            elif odd == "not a time":
                sent_at = "soon"
            elif odd == "direction":
                direction = "sideways"
            elif odd == "comma":
                channel = "sms,mms"
            else:
                channel = ""
        rows.append((mid, kind, channel, direction, sender, sent_at))
    bounds = st.one_of(*[st.none()] * 4, st.sampled_from(times)) if times else st.none()
    lo, hi = draw(bounds), draw(bounds)
    period = Period(
        _rfc3339(lo) if lo is not None else None, _rfc3339(hi) if hi is not None else None
    )
    return _Stream(
        person,
        rows,
        period,
        fine=draw(st.booleans()),
        zone=draw(st.sampled_from(_ZONES)),
        chunk=draw(st.sampled_from([1, 2, 3, 7, 30])),
    )


@dataclass
class _Seeded:
    diary: Diary
    source_id: int
    batch_seq: int
    server: bool


@pytest.fixture
def seeded(any_diary: Diary, tmp_path: Path) -> _Seeded:
    """A diary with one imported message (from no one in the register), whose source and
    batch the generated messages are written under."""
    any_diary.import_file(sbr(tmp_path / "seed.xml", texts=[(local(2026, 1, 1), FRIEND, "Hi", 1)]))
    with any_diary._file.read() as conn:
        source_id, batch_seq = (
            log.raw_connection(conn).execute("SELECT source_id, batch_seq FROM message").fetchone()
        )
        server = dialect(conn) == "postgresql"
    return _Seeded(any_diary, source_id, batch_seq, server)


def _keep_contacts(seeded: _Seeded) -> None:
    """The contacts of messages written by ``_write`` kept 30 days at a time, as the next
    import would keep them."""
    with seeded.diary._file.write() as conn:
        contact_store.prepare(log.raw_connection(conn), dialect(conn))


def _write(seeded: _Seeded, rows: list[tuple[Any, ...]]) -> None:
    with seeded.diary._file.write() as conn:
        raw = log.raw_connection(conn)
        first = int(raw.execute("SELECT max(id) FROM message").fetchone()[0]) + 1
        raw.executemany(
            _INSERT,
            [
                (
                    first + mid,
                    seeded.source_id,
                    seeded.batch_seq,
                    kind,
                    channel,
                    direction,
                    sender[2],
                    *sender,
                    sent_at,
                    f"message {first + mid}",
                    False,
                    (first + mid).to_bytes(8, "big") + b"generated",
                    bytes(32),
                )
                for mid, kind, channel, direction, sender, sent_at in rows
            ],
        )


@settings(
    max_examples=120,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data())
def test_contacts_read_in_chunks_match_the_plain_reading(
    seeded: _Seeded, data: st.DataObject
) -> None:
    """Buckets, channels (and the order they first came in), untimed contacts, every field of
    every burst and the local days and hours: the same as the plain reading gives, for
    contacts in the same second, exactly an hour apart, from several numbers of one person,
    without a time, in a period, and read in chunks of any size."""
    stream = data.draw(_streams(seeded.server))
    _write(seeded, stream.rows)
    _keep_contacts(seeded)
    tz = ZoneInfo(stream.zone)
    with seeded.diary._file.read() as conn:
        raw = log.raw_connection(conn)
        db = dialect(conn)
        assert contact_store.usable(raw)
        ref = _reference_contacts(raw, stream.person, stream.fine, stream.period, db)
        chunked = []
        # in small chunks and all in one; from the sender index and from the kept rows
        for size, kept in itertools.product((stream.chunk, 100_000), (False, True)):
            with patch.object(analysis, "_CHUNK", size):
                chunked.append(
                    analysis._contacts(raw, stream.person, stream.fine, stream.period, tz, db, kept)
                )
        keys = [k for k in stream.person.keys if k[0] != "vehicle"]
        calendar = analysis._Calendar(tz, 60 if stream.fine else 3600)
        plain = analysis._contacts_one_by_one(raw, stream.person, keys, calendar, stream.period, db)
        plain.days, plain.week = calendar.days(), calendar.week
    event(f"bursts: {min(len(ref.bursts), 3)}")
    event(f"numbers: {len(keys)}")
    event(f"chunk: {stream.chunk}")
    for got in (*chunked, plain):
        _assert_same_contacts(got, ref, tz)


def test_ordinary_contacts_never_need_the_plain_reading(seeded: _Seeded) -> None:
    """Two numbers of one person, calls and texts, several in one second and bursts across
    chunks: all read in chunks (the plain reading is only for what the chunks cannot hold)."""
    t0 = _NEAR_CHANGES[0]
    keys = [("phone", "", "+447700900321"), ("email", "", "alex@example.com")]
    person = analysis._Person(77, "Alex", "responsible", "ex_partner", keys=list(keys))
    rows = []
    for i in range(60):
        when = _rfc3339(t0 + 97 * (i // 3))  # three in each second
        rows.append((i, "call" if i % 4 else "message", ("phone", "sms")[i % 2], "incoming",
                     keys[i % 2], when))  # fmt: skip
    _write(seeded, rows)
    _keep_contacts(seeded)
    tz = ZoneInfo("Europe/London")

    def refuse(*args: object) -> None:
        raise AssertionError("read one by one")

    with seeded.diary._file.read() as conn:
        raw = log.raw_connection(conn)
        db = dialect(conn)
        ref = _reference_contacts(raw, person, False, Period(), db)
        with (
            patch.object(analysis, "_CHUNK", 7),
            patch.object(analysis, "_contacts_one_by_one", refuse),
        ):
            got = [
                analysis._contacts(raw, person, False, Period(), tz, db, k) for k in (False, True)
            ]
    assert ref.bursts and len(ref.bursts[0].message_ids) == MAX_IDS
    for one in got:
        _assert_same_contacts(one, ref, tz)


def test_contacts_out_of_order_are_put_in_order(any_diary: Diary) -> None:
    """The database's concatenation is checked, never trusted: contacts that come back out of
    order (by time, then channel, kind and direction, then id) are put in it."""
    times = "5,3,3,3,9"
    ids = "1,7,6,8,2"
    codes = "02200"  # a call, then messages (incoming) and another call
    channels = "sms,sms,sms,phone,sms"
    with any_diary._file.read() as conn:
        raw = log.raw_connection(conn)
        chunk = analysis._read_chunk(raw, "SELECT ?, ?, ?, ?, ?", (times, ids, codes, channels, 5))
        assert chunk is not None
        assert (chunk.secs, chunk.ids, chunk.codes) == ([3, 3, 3, 5, 9], [8, 6, 7, 1, 2], "02200")
        assert list(chunk.counts.items()) == [("sms", 4), ("phone", 1)]
        for odd in (("1,2", "1,2", "05", "sms,sms", 2), ("1,2", "1,2", "00", "sms,a,b", 2)):
            with pytest.raises(analysis._Irregular):
                analysis._read_chunk(raw, "SELECT ?, ?, ?, ?, ?", odd)


@dataclass(frozen=True)
class _ReferenceIncident:
    id: int
    start: datetime
    local: datetime
    date_only: bool
    category: str
    channel: str | None
    people: tuple[int, ...]
    targeted: tuple[str, ...]
    private_place: bool
    text: str


def _reference_incidents(raw: Any, tz: tzinfo, period: Period) -> list[_ReferenceIncident]:
    out = []
    clause, args = period.where("i.occurred_start")
    for iid, start, category, channel, record in raw.execute(
        "SELECT i.id, i.occurred_start, i.category, i.channel, e.record FROM incident i "
        "JOIN entry e ON e.seq = i.current_seq WHERE NOT i.redacted AND e.record IS NOT NULL"
        f"{clause} ORDER BY i.occurred_start, i.id",
        args,
    ):
        r = json.loads(record)
        when = datetime.fromisoformat(start.replace("Z", "+00:00")).astimezone(UTC)
        place = r.get("place") or {}
        targeted = tuple(r.get("targeted", ("me",)))
        out.append(
            _ReferenceIncident(
                id=iid,
                start=when,
                local=when.astimezone(tz),
                date_only=bool(r["occurred"].get("date_only")),
                category=category,
                channel=channel,
                people=tuple(int(p) for p in r.get("people", ())),
                targeted=targeted,
                private_place=bool(place.get("private")),
                text="\n".join(x for x in (r.get("description"), r.get("exact_words")) if x),
            )
        )
    return out


def test_entries_read_at_once_match_the_plain_reading(any_diary: Diary) -> None:
    alex = any_diary.add_person(PersonData("Alex", "responsible", "ex_partner")).id
    sam = any_diary.add_person(PersonData("Sam", "witness", "friend")).id
    york = ZoneInfo("America/New_York")
    for i in range(24):
        when = datetime(2026, 3, 7, 22, tzinfo=york) + timedelta(hours=5 * i, minutes=7 * i)
        any_diary.add_incident_data(
            IncidentData(
                occurred=Occurrence(when, "America/New_York", date_only=i % 5 == 0),
                category=("CON", "LOI", "FOL")[i % 3],
                channel=("phone_call", None)[i % 2],
                description=("They waited outside.", "")[i % 4 == 1],
                exact_words=("", "You can't hide.")[i % 3 == 1],
                people=((), (alex,), (alex, sam))[i % 3],
                targeted=(("me",), ("me", " Mum "), ("Myself", "Jo"))[i % 3],
                place=Place("Home", i % 2 == 0) if i % 4 else None,
            )
        )
    with any_diary._file.read() as conn:
        raw = log.raw_connection(conn)
        for zone in ("Europe/London", "Australia/Lord_Howe"):
            tz = ZoneInfo(zone)
            for period in (Period(), Period("2026-03-09T00:00:00Z", "2026-03-11T12:00:00Z")):
                got = analysis._incidents(raw, tz, period)
                ref = _reference_incidents(raw, tz, period)
                assert [tuple(i) for i in got] == [
                    tuple(getattr(r, f) for f in analysis._Incident._fields) for r in ref
                ]
                assert [(i.start.isoformat(), i.local.isoformat()) for i in got] == [
                    (r.start.isoformat(), r.local.isoformat()) for r in ref
                ]
    assert len(ref) < 24 and any(i.date_only for i in got) and any(i.private_place for i in got)


def test_no_offset_in_the_zone_database_lasts_less_than_a_day() -> None:
    """Local times are worked out once for each stretch of one offset, which assumes no offset
    lasts less than a day (``analysis._offset_until``). Checked on the installed database:
    every change listed, then the rules for the years after, to 2100."""
    zoneinfo_py = pytest.importorskip("zoneinfo._zoneinfo")
    shortest: tuple[float, str] = (float("inf"), "")
    for key in sorted(available_timezones()):
        try:
            zone = zoneinfo_py.ZoneInfo.no_cache(key)
        except (OSError, ValueError):
            continue
        changes: list[tuple[float, Any]] = []
        for moment, info in zip(zone._trans_utc, zone._ttinfos, strict=True):
            if not changes or info.utcoff != changes[-1][1]:
                changes.append((moment, info.utcoff))
        after = zone._tz_after
        if hasattr(after, "transitions"):  # clocks still change, by a rule
            first_year = datetime.fromtimestamp(max(changes[-1][0], 0) if changes else 0, UTC).year
            for year in range(first_year, 2101):
                start, end = after.transitions(year)
                for moment, offset in sorted(
                    ((start - after.std.utcoff.total_seconds(), after.dst.utcoff),
                     (end - after.dst.utcoff.total_seconds(), after.std.utcoff))
                ):  # fmt: skip
                    if not changes or (moment > changes[-1][0] and offset != changes[-1][1]):
                        changes.append((moment, offset))
        for (a, _), (b, _) in itertools.pairwise(changes):
            shortest = min(shortest, (b - a, key))
    assert shortest[0] >= 86_400, shortest


def test_analysis_leaves_the_cycle_collector_as_it_was(b: Builder) -> None:
    assert gc.isenabled()
    b.analyse(date(2026, 3, 31))
    assert gc.isenabled()
    gc.disable()
    try:
        b.analyse(date(2026, 3, 31))
        assert not gc.isenabled()
    finally:
        gc.enable()


@pytest.mark.parametrize("gap", [3599, 3600, 3601])
def test_bursts_an_hour_apart_across_chunk_edges(seeded: _Seeded, gap: int) -> None:
    """Two bursts whose closing contacts are ``gap`` seconds apart: one burst when the second's
    first full window still holds the first's last contact, two when it does not; the same
    wherever the chunks end, among them between the two."""
    t0 = _NEAR_CHANGES[5]
    key = ("phone", "", f"+4479{gap}")
    person = analysis._Person(78, "Alex", "responsible", "ex_partner", keys=[key])
    moments = [t0] * BURST_MIN + [t0 + gap] * (BURST_MIN + 2)  # all of each in one second
    _write(seeded, [(i, "call", "phone", "incoming", key, _rfc3339(t)) for i, t in
                    enumerate(moments)])  # fmt: skip
    tz = ZoneInfo("Europe/London")
    with seeded.diary._file.read() as conn:
        raw = log.raw_connection(conn)
        db = dialect(conn)
        ref = _reference_contacts(raw, person, False, Period(), db)
        assert len(ref.bursts) == (1 if gap < 3600 else 2)
        for chunk in [*range(1, len(moments) + 1), 100_000]:
            with patch.object(analysis, "_CHUNK", chunk):
                got = analysis._contacts(raw, person, False, Period(), tz, db)
            _assert_same_contacts(got, ref, tz)
