"""Golden analyses of generated diaries with known patterns — steady, escalating, bursts, third
parties, an order and what came after it, flagged words — through the real facade on real
encrypted diaries, with calls and texts imported from generated SMS Backup & Restore files.
Plus the orders register and the checklist (kept in the log, checked by verify), and the CLI."""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from docket.analysis import BURST_MIN, Analysis
from docket.api import Diary
from docket.checklist import Answer, ChecklistData, questions
from docket.errors import InputError, NothingToChange, RecordRedacted, UnknownChoice
from docket.model.identifiers import Identifier
from docket.model.records import IncidentData, Occurrence, OrderData, PersonData, Place
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
