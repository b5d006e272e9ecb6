"""The pattern, as facts: counts by category, channel, person and month; first and latest
incident; days since the latest; the hour-by-weekday heatmap; contact bursts; the frequency
trend and rises in it; categories recorded for the first time; other people targeted; what
was recorded after an order was made; and words flagged in messages and entries.

Each finding carries the rule that produced it, the records that support it and plain words.
Nothing here says what the conduct is in law, and nothing adds up to a score or a level
(DESIGN §3, §8): police and prosecutors decide.

Imported calls and messages count as *contacts* when their sender is in the register as a
person responsible and they were not sent by the diary's owner. Counting reads the sender
index (migration 0006) hour by hour and never the message rows, except the few hours that
may hold a burst; language flags read only the messages the full-text index offers as
candidates (on a server, also those whose words PostgreSQL's parser may read differently from
FTS5, so that a server flags exactly what a diary file flags: see ``docket.search``).
"""

from __future__ import annotations

import heapq
import json
from collections import Counter, defaultdict, deque
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta, tzinfo
from typing import Any, cast

from sqlalchemy import Connection

from docket import flag_store, log_records, search
from docket import flags as language
from docket.jurisdictions import Jurisdiction
from docket.ledger import log
from docket.model import timeparse
from docket.model.records import OrderData
from docket.model.taxonomy import CHANNELS
from docket.store.base import dialect
from docket.timeline import CHANNEL_LABELS

BURST_WINDOW = timedelta(hours=1)
BURST_MIN = 10  # contacts within one hour from one person
NEW_AFTER = timedelta(days=14)  # a category first recorded this long after the first entry
RISE_FACTOR = 2.0  # the latest month's weekly rate at least this many times an earlier one
RISE_MIN = {"incidents": 1.0, "contacts": 3.0}  # ... and higher by at least this much a week
TREND_MONTHS = 6  # the latest month is compared with up to five months before it
MIN_MONTH_DAYS = 7  # a month needs this many days in the period to have a rate
MAX_IDS = 50  # supporting ids listed per finding (the total is always given)
MAX_FLAG_HITS = 200  # flagged words kept per flag (the total is always given)
MAX_BURST_FINDINGS = 5  # more bursts than this: one finding counts them; the largest are listed
# findings are listed in this order: the counts first, then changes over time, then the rest
ORDER = (
    "occasions",
    "contacts",
    "rate_rise",
    "burst",
    "new_category",
    "first_private_place",
    "after_order",
    "third_parties",
    "flag",
)
WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


@dataclass(frozen=True)
class Finding:
    rule: str  # stable: rate_rise, new_category, first_private_place, burst, third_parties, ...
    text: str
    incidents: tuple[int, ...] = ()
    messages: tuple[int, ...] = ()  # at most MAX_IDS
    message_total: int = 0
    details: dict[str, Any] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        return {
            "rule": self.rule,
            "text": self.text,
            "incidents": list(self.incidents),
            "messages": list(self.messages),
            "message_total": self.message_total,
            "details": self.details,
        }


@dataclass(frozen=True)
class PersonCount:
    id: int | None  # None: entries not linked to anyone in the register
    name: str
    role: str
    relationship: str
    incidents: int
    incident_days: int
    contacts: int
    contact_days: int


@dataclass(frozen=True)
class Burst:
    person_id: int
    person_name: str
    start: str  # UTC, RFC 3339
    end: str
    count: int
    calls: int
    messages: int
    peak: int  # the most in any one hour
    message_ids: tuple[int, ...]


@dataclass(frozen=True)
class FlagHit:
    flag: str
    label: str
    kind: str  # message | incident
    id: int
    words: str
    when: str | None  # UTC, RFC 3339
    person_id: int | None


@dataclass(frozen=True)
class Month:
    month: str  # YYYY-MM, in the diary's zone
    days: int  # days of the month inside the period analysed
    incidents: int
    contacts: int


@dataclass(frozen=True)
class Analysis:
    as_of: str  # the local date the analysis was made for
    timezone: str
    jurisdiction: str
    incidents: int
    messages: int  # every imported message and call
    contacts: int  # those counted as contacts from a person responsible
    first_incident: str | None
    latest_incident: str | None
    days_since_latest: int | None
    by_category: list[tuple[str, str, int]]  # code, name, incidents
    incident_channels: list[tuple[str, str, int]]  # code, label, incidents
    contact_channels: list[tuple[str, str, int]]  # code, label, contacts
    by_person: list[PersonCount]
    months: list[Month]
    heatmap: list[list[int]]  # [weekday 0 = Monday][hour], incidents and contacts
    untimed: int  # entries with a date but no time, left out of the heatmap
    bursts: list[Burst]
    flag_counts: dict[str, dict[str, int]]  # flag -> {"messages": n, "incidents": n}
    flag_hits: list[FlagHit]
    lexicon: str  # language and version of the word lists used
    course_of_conduct: str
    findings: list[Finding]

    def as_json(self) -> dict[str, Any]:
        out = dict(self.__dict__.items())
        out["by_category"] = [
            {"code": c, "name": n, "incidents": k} for c, n, k in self.by_category
        ]
        out["incident_channels"] = [
            {"code": c, "label": n, "incidents": k} for c, n, k in self.incident_channels
        ]
        out["contact_channels"] = [
            {"code": c, "label": n, "contacts": k} for c, n, k in self.contact_channels
        ]
        out["by_person"] = [p.__dict__ for p in self.by_person]
        out["months"] = [m.__dict__ for m in self.months]
        out["bursts"] = [{**b.__dict__, "message_ids": list(b.message_ids)} for b in self.bursts]
        out["flag_hits"] = [h.__dict__ for h in self.flag_hits]
        out["findings"] = [f.as_json() for f in self.findings]
        return out

    def finding(self, rule: str) -> list[Finding]:
        return [f for f in self.findings if f.rule == rule]


# --- reading the diary ------------------------------------------------------------------------


@dataclass(frozen=True)
class _Incident:
    id: int
    start: datetime  # UTC
    local: datetime
    date_only: bool
    category: str
    channel: str | None
    people: tuple[int, ...]
    targeted: tuple[str, ...]
    private_place: bool
    text: str  # what happened and their exact words, for language flags


@dataclass
class _Person:
    id: int
    name: str
    role: str
    relationship: str
    keys: list[tuple[str, str, str]] = field(default_factory=list)  # (kind, platform, value)


def _utc(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True)
class Period:
    """The part of the diary analysed: UTC RFC 3339 bounds, start inclusive, end exclusive."""

    start: str | None = None
    end: str | None = None

    def where(self, column: str) -> tuple[str, list[str]]:
        clause, args = "", []
        if self.start:
            clause += f" AND {column} >= ?"
            args.append(self.start)
        if self.end:
            clause += f" AND {column} < ?"
            args.append(self.end)
        return clause, args


def _incidents(raw: Any, tz: tzinfo, period: Period) -> list[_Incident]:
    out = []
    clause, args = period.where("i.occurred_start")
    for iid, start, category, channel, record in raw.execute(
        "SELECT i.id, i.occurred_start, i.category, i.channel, e.record FROM incident i "
        "JOIN entry e ON e.seq = i.current_seq WHERE NOT i.redacted AND e.record IS NOT NULL"
        f"{clause} ORDER BY i.occurred_start, i.id",
        args,
    ):
        r = json.loads(record)
        when = _utc(start)
        place = r.get("place") or {}
        targeted = tuple(r.get("targeted", ("me",)))
        out.append(
            _Incident(
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


def _people(raw: Any) -> dict[int, _Person]:
    people = {
        pid: _Person(pid, name, role, relationship)
        for pid, name, role, relationship in raw.execute(
            "SELECT id, name, role, relationship FROM person WHERE NOT redacted ORDER BY id"
        )
    }
    for pid, kind, platform, value in raw.execute(
        "SELECT person_id, kind, platform, value FROM identifier ORDER BY id"
    ):
        if pid in people:
            people[pid].keys.append((kind, platform, value))
    return people


_CONTACT_WHERE = (
    "sender_kind = ? AND sender_platform = ? AND sender_value = ? AND direction != 'outgoing' "
    "AND kind IN ('message', 'call')"
)


def _half_hour_zone(tz: tzinfo) -> bool:
    probe = datetime(2026, 1, 15, tzinfo=UTC), datetime(2026, 7, 15, tzinfo=UTC)
    for moment in probe:
        offset = moment.astimezone(tz).utcoffset() or timedelta(0)
        if offset.total_seconds() % 3600:
            return True
    return False


@dataclass
class _Contacts:
    """One person's contacts, bucketed by UTC hour (or minute, in zones with half-hour
    offsets), counted by channel, and their bursts."""

    buckets: dict[datetime, list[int]] = field(default_factory=dict)  # start: [total, calls]
    channels: dict[str, int] = field(default_factory=dict)
    untimed: int = 0
    bursts: list[Burst] = field(default_factory=list)

    @property
    def total(self) -> int:
        return int(sum(b[0] for b in self.buckets.values())) + self.untimed


class _BurstFinder:
    """Finds, in one pass over contacts in time order, every burst: the union of overlapping
    hour-long windows that each hold BURST_MIN contacts or more (windows that share a contact
    make one burst). A sliding window (a deque) and the burst being built; each contact
    enters the window once and a burst once."""

    def __init__(self, person: _Person) -> None:
        self.person = person
        self.window: deque[tuple[int, int, int, str, str]] = deque()  # idx, secs, id, kind, at
        self.n = 0
        self.run: dict[str, Any] | None = None
        self.found: list[Burst] = []
        self.span = int(BURST_WINDOW.total_seconds())

    def feed(self, secs: int, mid: int, kind: str, at: str) -> None:
        """Add the next contact (in time order). The common case — a quiet hour, no burst
        being built — is an append, a comparison and a length check."""
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
        if run is not None and w[0][0] > run["last"]:  # no window can join it any more
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


# seconds since 1970 of a stored time ("2026-03-01T19:00:00Z"), by database
_EPOCH = {
    "sqlite": "unixepoch(sent_at)",
    "postgresql": "CAST(EXTRACT(EPOCH FROM CAST(sent_at AS timestamptz)) AS BIGINT)",
}


def _contacts(
    raw: Any, person: _Person, fine: bool, period: Period, epoch: str = _EPOCH["sqlite"]
) -> _Contacts:
    """One pass over the person's contacts, in time order, read from the sender index (one
    cursor per number, address or account, merged): buckets, channels and bursts together.
    This loop runs once per contact, so it is kept to plain integer work."""
    width = 60 if fine else 3600
    out = _Contacts()
    finder = _BurstFinder(person)
    clause, args = period.where("sent_at")
    cursors = [
        raw.execute(
            f"SELECT {epoch}, kind, channel, id, sent_at FROM message "
            f"WHERE {_CONTACT_WHERE}{clause} ORDER BY sent_at",
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


# --- the rules --------------------------------------------------------------------------------


def _month(d: date) -> str:
    return f"{d.year:04d}-{d.month:02d}"


def _month_name(month: str, with_year: bool = True) -> str:
    d = date.fromisoformat(month + "-01")
    return d.strftime("%B %Y") if with_year else d.strftime("%B")


def _day(d: date) -> str:
    return f"{d.day} {d.strftime('%B %Y')}"


def _rate(n: float) -> str:
    if n == 0:
        return "none"
    return f"{n:.0f}" if n >= 10 or n == int(n) else f"{n:.1f}"


def _plural(n: int, word: str, many: str | None = None) -> str:
    return f"{n:,} {word if n == 1 else (many or word + 's')}"


def _weeks(delta: timedelta) -> str:
    days = delta.days
    if days < 14:
        return _plural(days, "day")
    if days < 70:
        return _plural(days // 7, "week")
    return _plural(round(days / 30.44), "month")


def _months_between(first: date, last: date) -> list[tuple[str, int]]:
    """(YYYY-MM, days inside [first, last]) for every month from first to last."""
    out = []
    y, m = first.year, first.month
    while (y, m) <= (last.year, last.month):
        start = date(y, m, 1)
        nxt = date(y + (m == 12), m % 12 + 1, 1)
        lo, hi = max(start, first), min(nxt - timedelta(days=1), last)
        out.append((_month(start), (hi - lo).days + 1))
        y, m = nxt.year, nxt.month
    return out


def _rate_rise(
    series: str, months: Sequence[Month], counts: dict[str, int]
) -> tuple[Month, Month, float, float] | None:
    eligible = [m for m in months if m.days >= MIN_MONTH_DAYS]
    if len(eligible) < 2:
        return None
    last = eligible[-1]
    earlier = eligible[-TREND_MONTHS:-1]

    def rate(m: Month) -> float:
        return counts.get(m.month, 0) * 7 / m.days

    low = min(earlier, key=rate)  # min() keeps the earliest of equal months
    r_low, r_last = rate(low), rate(last)
    if r_last >= RISE_FACTOR * r_low and r_last - r_low >= RISE_MIN[series]:
        return low, last, r_low, r_last
    return None


def _between(a: str, b: str) -> str:
    same_year = a[:4] == b[:4]
    return f"between {_month_name(a, not same_year)} and {_month_name(b)}"


def _contact_words(calls: int, messages: int) -> str:
    if calls and messages:
        return "calls and messages"
    return "calls" if calls else "messages"


_FLAG_COLUMNS = "m.id, m.body, m.sent_at, m.sender_kind, m.sender_platform, m.sender_value"
_TSQUERY_CHUNK = 20  # words (or pairs) of the lexicon's query per part asked of the index
_INDEX_ONLY = ("enable_seqscan", "enable_indexscan", "jit")


def _flag_candidates(
    conn: Connection, raw: Any, lexicon: language.Lexicon, period: Period, after: int = 0
) -> Iterable[tuple[Any, ...]]:
    """The messages after id ``after`` not sent by the diary's owner that the full-text index
    offers as candidates for the language flags, in id order: a superset of those the rules
    match."""
    clause, bounds = period.where("m.sent_at")
    args: list[Any] = list(bounds)
    if after:
        if raw.execute("SELECT 1 FROM message WHERE id > ? LIMIT 1", (after,)).fetchone() is None:
            return ()
        clause += " AND m.id > ?"
        args.append(after)
    if dialect(conn) == "sqlite":
        return cast(
            Iterable[tuple[Any, ...]],
            raw.execute(
                f"SELECT {_FLAG_COLUMNS} FROM message_fts "
                "JOIN message m ON m.id = message_fts.rowid "
                f"WHERE message_fts MATCH ? AND m.direction != 'outgoing'{clause} ORDER BY m.id",
                (lexicon.fts_query(), *args),
            ),
        )
    return _server_candidates(conn, raw, lexicon, clause, args)


def _server_candidates(
    conn: Connection, raw: Any, lexicon: language.Lexicon, clause: str, args: list[Any]
) -> Iterator[tuple[Any, ...]]:
    """PostgreSQL: what its index offers, and every text its parser may read differently from
    FTS5 (streamed, as on a large case they can be many), merged in id order."""
    parts = lexicon.tsquery_parts()
    chunks = [
        " | ".join(parts[i : i + _TSQUERY_CHUNK]) for i in range(0, len(parts), _TSQUERY_CHUNK)
    ]
    any_chunk = " OR ".join(f"{search.MESSAGE_VECTOR} @@ CAST(? AS tsquery)" for _ in chunks)
    # The planner judges a query of so many words to match most texts and reads the whole
    # table, working out each message's words again (seconds for 100,000 messages); the
    # index, asked in parts, answers in a fraction of that. So it is told to use the index
    # (and not to compile the query, which the cost it then sees would make it do).
    for setting in _INDEX_ONLY:
        raw.execute(f"SET LOCAL {setting} = off")
    offered = raw.execute(
        f"SELECT {_FLAG_COLUMNS} FROM message m WHERE ({any_chunk}) "
        f"AND m.direction != 'outgoing'{clause} ORDER BY m.id",
        (*chunks, *args),
    ).fetchall()
    for setting in _INDEX_ONLY:  # (a failed query ends the transaction, and them with it)
        raw.execute(f"RESET {setting}")
    differs, differs_args = search.differs(conn, "m.body")
    driver = conn.connection.driver_connection
    assert driver is not None
    with driver.cursor(name="docket_flag_scan") as scan:
        scan.itersize = 2000
        scan.execute(
            # psycopg's own placeholders: this cursor is not the ``raw`` adapter
            f"SELECT {_FLAG_COLUMNS} FROM message m WHERE {differs} "
            f"AND m.direction != 'outgoing'{clause} ORDER BY m.id".replace("?", "%s"),
            (*differs_args, *args),
        )
        last = None
        for row in heapq.merge(offered, scan, key=lambda r: int(r[0])):
            if row[0] != last:
                last = row[0]
                yield row


def _flag_messages(
    conn: Connection,
    raw: Any,
    lexicon: language.Lexicon,
    owner: dict[tuple[str, str, str], int],
    period: Period,
) -> list[FlagHit]:
    hits: list[FlagHit] = []
    labels = lexicon.labels()
    after = 0
    clause, args = period.where("sent_at")
    kept = flag_store.message_hits(raw, lexicon, clause, args)
    if kept is not None:
        # worked out at import (docket.flag_store): only messages after them are searched
        stored, after = kept
        hits += [
            FlagHit(
                flag, labels.get(flag, flag), "message", mid, words, when, owner.get((k, p, v))
            )
            for mid, flag, words, when, k, p, v in stored
        ]
    for mid, body, sent_at, kind, platform, value in _flag_candidates(
        conn, raw, lexicon, period, after
    ):
        for match in lexicon.scan(body or ""):
            hits.append(
                FlagHit(
                    flag=match.flag,
                    label=labels.get(match.flag, match.flag),
                    kind="message",
                    id=mid,
                    words=match.words,
                    when=sent_at,
                    person_id=owner.get((kind, platform, value)),
                )
            )
    return hits


# --- the analysis -----------------------------------------------------------------------------


def analyse(
    conn: Connection,
    jurisdiction: Jurisdiction,
    timezone: str,
    *,
    as_of: date | None = None,
    language_code: str = "en",
    period: Period | None = None,
) -> Analysis:
    """The pattern in the whole diary, or in ``period``; rates are counted up to ``as_of``
    (today in the diary's zone, or the period's last day)."""
    raw = log.raw_connection(conn)
    tz = timeparse.zone(timezone)
    period = period or Period()
    today = as_of or datetime.now(tz).date()
    if period.end:
        today = min(today, (_utc(period.end) - timedelta(seconds=1)).astimezone(tz).date())
    incidents = _incidents(raw, tz, period)
    people = _people(raw)
    responsible = [p for p in people.values() if p.role == "responsible"]
    owner = {key: p.id for p in people.values() for key in p.keys}
    fine = _half_hour_zone(tz)
    findings: list[Finding] = []

    # contacts from each person responsible, hour by hour
    epoch = _EPOCH[dialect(conn)]
    contacts = {p.id: _contacts(raw, p, fine, period, epoch) for p in responsible}
    contact_total = sum(c.total for c in contacts.values())
    message_total = int(raw.execute("SELECT count(*) FROM message").fetchone()[0])

    # local days, months and the heatmap
    heat = [[0] * 24 for _ in range(7)]
    untimed = 0
    inc_by_month: Counter[str] = Counter()
    con_by_month: Counter[str] = Counter()
    contact_days: dict[int, set[date]] = defaultdict(set)
    con_channels: Counter[str] = Counter()
    for inc in incidents:
        inc_by_month[_month(inc.local.date())] += 1
        if inc.date_only:
            untimed += 1
        else:
            heat[inc.local.weekday()][inc.local.hour] += 1
    for pid, c in contacts.items():
        con_channels.update(c.channels)
        for start, (n, _calls) in c.buckets.items():
            local = start.astimezone(tz)
            heat[local.weekday()][local.hour] += n
            con_by_month[_month(local.date())] += n
            contact_days[pid].add(local.date())

    first_day = min(
        [i.local.date() for i in incidents] + [min(d) for d in contact_days.values() if d],
        default=None,
    )
    months = (
        [
            Month(m, days, inc_by_month.get(m, 0), con_by_month.get(m, 0))
            for m, days in _months_between(first_day, max(today, first_day))
        ]
        if first_day
        else []
    )

    # counts
    by_cat_count = Counter(i.category for i in incidents)
    by_category = [
        (c.code, c.name, by_cat_count[c.code])
        for c in jurisdiction.categories
        if by_cat_count[c.code]
    ]
    by_category.sort(key=lambda x: -x[2])
    inc_channels = Counter(i.channel or "" for i in incidents)
    incident_channels = sorted(
        (
            (code, CHANNELS.get(code, "Not said") if code else "Not said", n)
            for code, n in inc_channels.items()
        ),
        key=lambda x: -x[2],
    )
    contact_channels = sorted(
        ((c, CHANNEL_LABELS.get(c, c), n) for c, n in con_channels.items()),
        key=lambda x: -x[2],
    )
    by_person = _by_person(incidents, people, contacts, contact_days)

    latest = incidents[-1] if incidents else None
    days_since = None if latest is None else max(0, (today - latest.local.date()).days)

    # rises in frequency
    for series, counts, noun in (
        ("incidents", inc_by_month, "Incidents"),
        ("contacts", con_by_month, "Calls and messages from the person responsible"),
    ):
        rise = _rate_rise(series, months, counts)
        if rise is None:
            continue
        low, last, r_low, r_last = rise
        in_months = {low.month, last.month}
        findings.append(
            Finding(
                rule="rate_rise",
                text=f"{noun} rose from {_rate(r_low)} to {_rate(r_last)} a week "
                f"{_between(low.month, last.month)}.",
                incidents=tuple(i.id for i in incidents if _month(i.local.date()) in in_months)[
                    :MAX_IDS
                ]
                if series == "incidents"
                else (),
                details={
                    "series": series,
                    "from_month": low.month,
                    "to_month": last.month,
                    "from_per_week": round(r_low, 2),
                    "to_per_week": round(r_last, 2),
                    "from_count": counts.get(low.month, 0),
                    "to_count": counts.get(last.month, 0),
                },
            )
        )

    # first appearances
    if incidents:
        first = incidents[0]
        seen: set[str] = set()
        for inc in incidents:
            if inc.category in seen:
                continue
            seen.add(inc.category)
            gap = inc.start - first.start
            if gap >= NEW_AFTER:
                cat = jurisdiction.category(inc.category)
                name = cat.name if cat else inc.category
                findings.append(
                    Finding(
                        rule="new_category",
                        text=f"“{name}” was first recorded on {_day(inc.local.date())}, "
                        f"{_weeks(gap)} after the first entry ({_day(first.local.date())}).",
                        incidents=(inc.id,),
                        details={"category": inc.category, "first": _iso(inc.start)},
                    )
                )
        private = next((i for i in incidents if i.private_place), None)
        if private is not None and private.start - first.start >= NEW_AFTER:
            findings.append(
                Finding(
                    rule="first_private_place",
                    text="The first entry at a place you marked as private was on "
                    f"{_day(private.local.date())}, {_weeks(private.start - first.start)} "
                    "after the first entry.",
                    incidents=(private.id,),
                )
            )

    # bursts of contact
    bursts: list[Burst] = []
    for p in responsible:
        bursts += contacts[p.id].bursts
    findings += _burst_findings(bursts, tz)

    # other people targeted
    third: dict[str, list[int]] = defaultdict(list)
    for inc in incidents:
        for name in inc.targeted:
            if name.strip().lower() not in ("me", "myself", ""):
                third[name.strip()].append(inc.id)
    if third:
        listed = sorted(third.items(), key=lambda kv: (-len(kv[1]), kv[0].lower()))
        names = ", ".join(f"{n} ({len(ids)})" for n, ids in listed)
        ids = sorted({i for _, v in listed for i in v})
        findings.append(
            Finding(
                rule="third_parties",
                text=f"{_plural(len(ids), 'entry', 'entries')} name other people as targeted: "
                f"{names}.",
                incidents=tuple(ids[:MAX_IDS]),
                details={"people": dict(listed)},
            )
        )

    # after an order was made
    findings += _after_orders(conn, jurisdiction, incidents, people, contacts, tz)

    # occasions, per person responsible: the count, never the conclusion
    for pc in by_person:
        if pc.id is None or pc.role != "responsible" or not (pc.incidents or pc.contacts):
            continue
        parts = []
        if pc.incidents:
            parts.append(
                f"{_plural(pc.incidents, 'incident')} recorded on "
                f"{_plural(pc.incident_days, 'different day')}"
            )
        if pc.contacts:
            parts.append(
                f"{_plural(pc.contacts, 'call or message', 'calls and messages')} "
                f"on {_plural(pc.contact_days, 'different day')}"
            )
        findings.append(
            Finding(
                rule="occasions",
                text=f"{pc.name}: " + ", and ".join(parts) + ".",
                incidents=tuple(i.id for i in incidents if pc.id in i.people)[:MAX_IDS],
                details={
                    "person": pc.id,
                    "occasions_in_law": jurisdiction.course_of_conduct_occasions,
                },
            )
        )
    if contact_total:
        channels = ", ".join(f"{label} {n:,}" for _, label, n in contact_channels)
        findings.append(
            Finding(
                rule="contacts",
                text=f"{_plural(contact_total, 'call or message', 'calls and messages')} from "
                f"the person responsible are counted as contacts: {channels}.",
                message_total=contact_total,
            )
        )

    # language flags
    lexicon = language.load(language_code)
    hits: list[FlagHit] = []
    labels = lexicon.labels()
    # kept when each entry was written (docket.flag_store), or worked out here if not
    kept_for = flag_store.incident_hits(raw, lexicon)
    for inc in incidents:
        found = (
            kept_for.get(inc.id, ())
            if kept_for is not None
            else [(m.flag, m.words) for m in lexicon.scan(inc.text)]
        )
        for flag, words in found:
            hits.append(
                FlagHit(
                    flag,
                    labels.get(flag, flag),
                    "incident",
                    inc.id,
                    words,
                    _iso(inc.start),
                    inc.people[0] if inc.people else None,
                )
            )
    hits += _flag_messages(conn, raw, lexicon, owner, period)
    flag_counts: dict[str, dict[str, int]] = {}
    kept: list[FlagHit] = []
    for code in language.FLAG_CODES:
        mine = [h for h in hits if h.flag == code]
        if not mine:
            continue
        n_msg = len({h.id for h in mine if h.kind == "message"})
        n_inc = len({h.id for h in mine if h.kind == "incident"})
        flag_counts[code] = {"messages": n_msg, "incidents": n_inc}
        kept += mine[:MAX_FLAG_HITS]
        where = " and ".join(
            x
            for x in (
                _plural(n_msg, "message") if n_msg else "",
                _plural(n_inc, "entry", "entries") if n_inc else "",
            )
            if x
        )
        examples = list(dict.fromkeys(h.words for h in mine))[:3]
        findings.append(
            Finding(
                rule=f"flag_{code}",
                text=f"{labels.get(code, code)} found in {where}, for example "
                + ", ".join(f"“{w}”" for w in examples)
                + ".",
                incidents=tuple(sorted({h.id for h in mine if h.kind == "incident"}))[:MAX_IDS],
                messages=tuple(sorted({h.id for h in mine if h.kind == "message"}))[:MAX_IDS],
                message_total=n_msg,
                details={"flag": code},
            )
        )

    findings.sort(
        key=lambda f: ORDER.index(f.rule.split("_")[0] if f.rule.startswith("flag_") else f.rule)
    )
    return Analysis(
        as_of=today.isoformat(),
        timezone=timezone,
        jurisdiction=jurisdiction.id,
        incidents=len(incidents),
        messages=message_total,
        contacts=contact_total,
        first_incident=_iso(incidents[0].start) if incidents else None,
        latest_incident=_iso(latest.start) if latest else None,
        days_since_latest=days_since,
        by_category=by_category,
        incident_channels=incident_channels,
        contact_channels=contact_channels,
        by_person=by_person,
        months=months,
        heatmap=heat,
        untimed=untimed,
        bursts=bursts,
        flag_counts=flag_counts,
        flag_hits=kept,
        lexicon=f"{lexicon.language} {lexicon.version}",
        course_of_conduct=jurisdiction.course_of_conduct,
        findings=findings,
    )


def _burst_findings(bursts: list[Burst], tz: tzinfo) -> list[Finding]:
    """One finding per burst; when there are many, one that counts them all and one for
    each of the largest (the full list is in the analysis itself)."""
    out = []
    shown = bursts
    if len(bursts) > MAX_BURST_FINDINGS:
        by_person: dict[str, list[Burst]] = defaultdict(list)
        for b in bursts:
            by_person[b.person_name].append(b)
        for name, mine in by_person.items():
            first = _utc(min(b.start for b in mine)).astimezone(tz).date()
            last = _utc(max(b.end for b in mine)).astimezone(tz).date()
            out.append(
                Finding(
                    rule="burst",
                    text=f"{len(mine):,} times, {BURST_MIN} or more calls and messages came from "
                    f"{name} within one hour, between {_day(first)} and {_day(last)}. "
                    f"The largest are listed below.",
                    message_total=sum(b.count for b in mine),
                    details={"person": mine[0].person_id, "bursts": len(mine)},
                )
            )
        shown = sorted(bursts, key=lambda b: (-b.count, b.start))[:MAX_BURST_FINDINGS]
        shown.sort(key=lambda b: b.start)
    for b in shown:
        start, end = _utc(b.start).astimezone(tz), _utc(b.end).astimezone(tz)
        span = (
            f"on {start.strftime('%A')} {_day(start.date())}, from {start:%H:%M} to {end:%H:%M}"
            if start.date() == end.date()
            else f"from {start:%H:%M} on {_day(start.date())} to {end:%H:%M} on {_day(end.date())}"
        )
        peak = "" if b.peak == b.count else f" (up to {b.peak} in one hour)"
        out.append(
            Finding(
                rule="burst",
                text=f"{b.count:,} {_contact_words(b.calls, b.messages)} from {b.person_name} "
                f"{span}{peak}.",
                messages=b.message_ids,
                message_total=b.count,
                details={"person": b.person_id, "start": b.start, "end": b.end, "peak": b.peak},
            )
        )
    return out


def _by_person(
    incidents: list[_Incident],
    people: dict[int, _Person],
    contacts: dict[int, _Contacts],
    contact_days: dict[int, set[date]],
) -> list[PersonCount]:
    inc_n: Counter[int | None] = Counter()
    inc_days: dict[int | None, set[date]] = defaultdict(set)
    for inc in incidents:
        for pid in inc.people or (None,):
            if pid is not None and pid not in people:
                continue
            inc_n[pid] += 1
            inc_days[pid].add(inc.local.date())
    out = []
    for p in people.values():
        c = contacts.get(p.id)
        if not inc_n[p.id] and not (c and c.total):
            continue
        out.append(
            PersonCount(
                id=p.id,
                name=p.name,
                role=p.role,
                relationship=p.relationship,
                incidents=inc_n[p.id],
                incident_days=len(inc_days[p.id]),
                contacts=c.total if c else 0,
                contact_days=len(contact_days.get(p.id, ())),
            )
        )
    if inc_n[None]:
        out.append(
            PersonCount(
                None, "Not linked to anyone", "", "", inc_n[None], len(inc_days[None]), 0, 0
            )
        )
    out.sort(key=lambda p: (-(p.incidents + p.contacts), p.name))
    return out


def _after_orders(
    conn: Connection,
    jurisdiction: Jurisdiction,
    incidents: list[_Incident],
    people: dict[int, _Person],
    contacts: dict[int, _Contacts],
    tz: tzinfo,
) -> list[Finding]:
    out = []
    for rec in log_records.all_current(conn, "order"):
        assert rec.record is not None
        order = OrderData.from_record(rec.record)
        kind = jurisdiction.order_type(order.type)
        name = (kind.name if kind else order.type).lower()
        against = set(order.against) or {p.id for p in people.values() if p.role == "responsible"}
        after = [
            i
            for i in incidents
            if order.in_force_on(i.local.date())
            and i.local.date() > order.made_on
            and (not i.people or against & set(i.people))
        ]
        n_contacts = 0
        calls = messages = 0
        for pid in against:
            for start, (n, k_calls) in contacts.get(pid, _Contacts()).buckets.items():
                day = start.astimezone(tz).date()
                if day > order.made_on and order.in_force_on(day):
                    n_contacts += n
                    calls += k_calls
                    messages += n - k_calls
        who = ", ".join(people[p].name for p in sorted(against) if p in people)
        parts = []
        if after:
            parts.append(_plural(len(after), "incident"))
        if n_contacts:
            parts.append(
                f"{n_contacts:,} {_contact_words(calls, messages)}"
                + (f" from {who}" if who else "")
            )
        made = _day(order.made_on)
        text = (
            f"After the {name} made on {made}, " + " and ".join(parts) + " were recorded."
            if parts
            else f"Nothing was recorded in this diary after the {name} made on {made}."
        )
        out.append(
            Finding(
                rule="after_order",
                text=text,
                incidents=tuple(i.id for i in after)[:MAX_IDS],
                message_total=n_contacts,
                details={
                    "order": rec.id,
                    "type": order.type,
                    "made_on": order.made_on.isoformat(),
                    "incidents": len(after),
                    "contacts": n_contacts,
                },
            )
        )
    return out
