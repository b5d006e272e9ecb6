"""The pattern, as facts: counts by category, channel, person and month; first and latest
incident; days since the latest; the hour-by-weekday heatmap; contact bursts; the frequency
trend and rises in it; categories recorded for the first time; other people targeted; what
was recorded after an order was made; and words flagged in messages and entries.

Each finding carries the rule that produced it, the records that support it and plain words.
Nothing here says what the conduct is in law, and nothing adds up to a score or a level
(DESIGN §3, §8): police and prosecutors decide.

Imported calls and messages count as *contacts* when their sender is in the register as a
person responsible and they were not sent by the diary's owner. Counting reads each number's
contacts as a few long lists, a stretch of time at a time (``_contacts``): from the rows an
import keeps 30 days at a time (``docket.contact_store``), or, until an import has kept every
message's, from the sender index (migration 0006), never a row per contact. Language flags
are read as kept when messages and entries were written (``docket.flag_store``); messages
past those are searched among the candidates the full-text index offers (on a server, also
those whose words PostgreSQL's parser may read differently from FTS5, so that a server flags
exactly what a diary file flags: see ``docket.search``).
"""

from __future__ import annotations

import contextlib
import functools
import gc
import heapq
import json
from bisect import bisect_left, bisect_right
from collections import Counter, defaultdict, deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta, tzinfo
from itertools import compress, islice, repeat
from operator import add, attrgetter, floordiv, ge, lt, sub
from typing import Any, NamedTuple, ParamSpec, TypeVar, cast

from sqlalchemy import Connection

from docket import contact_store, flag_store, log_records, search
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


class _Incident(NamedTuple):
    """An entry as the rules read it (a named tuple, as immutable as a frozen dataclass and
    several times quicker to make: a diary holds thousands)."""

    id: int
    start: datetime  # UTC
    local: datetime
    date_only: bool
    category: str
    channel: str | None
    people: tuple[int, ...]
    targeted: tuple[str, ...]
    private_place: bool


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
    """The entries in ``period``, from the incident table's columns alone (what the analysis
    needs of each record is kept there when it is written: ``records.incident_projection``)."""
    clause, args = period.where("occurred_start")
    rows = raw.execute(
        "SELECT id, occurred_start, category, channel, date_only, people, targeted, "
        f"private_place FROM incident WHERE NOT redacted{clause} ORDER BY occurred_start, id",
        args,
    ).fetchall()
    lists: dict[str, tuple[Any, ...]] = {}  # JSON text: its value (most entries share a few)
    out = []
    for iid, start, category, channel, date_only, people, targeted, private in rows:
        when = datetime.fromisoformat(start)
        if when.tzinfo is not UTC:
            when = _utc(start)
        who = lists.get(people)
        if who is None:
            who = lists[people] = tuple(map(int, json.loads(people)))
        whom = lists.get(targeted)
        if whom is None:
            whom = lists[targeted] = tuple(json.loads(targeted))
        out.append(
            _Incident(
                iid,
                when,
                when.astimezone(tz),
                bool(date_only),
                category,
                channel,
                who,
                whom,
                bool(private),
            )
        )
    return out


def _incident_texts(raw: Any, ids: Iterable[int]) -> Iterator[tuple[int, str]]:
    """Each incident's words that language flags are looked for in (``flag_store.incident_text``),
    for when no kept flags can be used."""
    wanted = set(ids)
    for iid, record in raw.execute(
        "SELECT i.id, e.record FROM incident i JOIN entry e ON e.seq = i.current_seq "
        "WHERE NOT i.redacted AND e.record IS NOT NULL ORDER BY i.id"
    ):
        if iid in wanted:
            yield iid, flag_store.incident_text(json.loads(record))


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
    """One person's contacts, counted by local day and hour of the week (of the start of the
    UTC bucket each falls in: an hour, or a minute in zones with half-hour offsets) and by
    channel; and their bursts."""

    timed: int = 0
    untimed: int = 0
    channels: dict[str, int] = field(default_factory=dict)
    bursts: list[Burst] = field(default_factory=list)
    days: dict[date, list[int]] = field(default_factory=dict)  # local day: [contacts, calls]
    week: list[int] = field(default_factory=lambda: [0] * 168)  # weekday * 24 + local hour

    @property
    def total(self) -> int:
        return self.timed + self.untimed


class _BurstFinder:
    """Finds, in one pass over contacts in time order, every burst: the union of overlapping
    hour-long windows that each hold BURST_MIN contacts or more (windows that share a contact
    make one burst). A sliding window (a deque) and the burst being built; each contact
    enters the window once and a burst once.

    The plain form of what ``_Tally`` does a chunk at a time: used where a person's contacts
    hold something ``_Tally`` does not expect (see ``_Irregular``)."""

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


_SPAN = int(BURST_WINDOW.total_seconds())
_DAY = 86_400
_EPOCH_DAY = date(1970, 1, 1).toordinal()
_CLOCK = [f"T{h:02d}:{m:02d}:" for h in range(24) for m in range(60)]  # by minute of the day
_SECONDS = [f"{s:02d}Z" for s in range(60)]


def _rfc3339s(secs: Iterable[int]) -> list[str]:
    """Seconds since 1970 as the importer writes ``sent_at`` (``importer._Clock``), each day's
    date written once."""
    days: dict[int, str] = {}
    out = []
    for moment in secs:
        day, second = divmod(moment, _DAY)
        text = days.get(day)
        if text is None:
            text = days[day] = date.fromordinal(_EPOCH_DAY + day).isoformat()
        minute, second = divmod(second, 60)
        out.append(text + _CLOCK[minute] + _SECONDS[second])
    return out


@dataclass(slots=True)
class _Run:
    """The burst being built: contacts are numbered in time order, from 0, per person."""

    first: int  # number of its first contact
    first_secs: int
    last: int  # number of its last contact so far
    last_secs: int
    calls: int = 0
    peak: int = 0
    ids: list[int] = field(default_factory=list)  # its first MAX_IDS message ids


class _Tally:
    """One person's contacts, fed in time order a chunk at a time: counted by bucket into a
    ``_Calendar`` and by channel, and their bursts, the same ``_BurstFinder`` finds contact
    by contact.

    A contact closes a full window when the contact BURST_MIN - 1 before it came less than an
    hour earlier; the window starts at the first contact less than an hour before it. Full
    windows that share a contact make one burst, so a burst runs from the start of its first
    full window to the contact that closed its last, and the next full window joins it when
    that contact came less than an hour before the one closing it (as it always does when
    the two closing contacts are next to each other). The last hour of contacts is carried
    from one chunk to the next, and with it the burst being built."""

    def __init__(self, person: _Person, calendar: _Calendar) -> None:
        self.person = person
        self.calendar = calendar
        self.channels: Counter[str] = Counter()
        self.seen = 0  # contacts fed so far
        self.secs: list[int] = []  # the last hour of contacts fed: times, ids and calls
        self.ids: list[int] = []
        self.is_call = b""
        self.run: _Run | None = None
        self.found: list[Burst] = []

    def feed(
        self, secs: list[int], ids: list[int], is_call: bytes, channels: dict[str, int]
    ) -> None:
        """The next contacts, in time order: times (seconds from _BASE), message ids, one
        byte each (1 for a call), and how many came by each channel."""
        if not secs:
            return
        self._count(secs, is_call)
        self.channels.update(channels)
        held = len(self.secs)
        at = self.secs + secs  # a contact's number is ``base`` + its place here
        mids = self.ids + ids
        calls = self.is_call + is_call
        base = self.seen - held
        self.seen += len(secs)
        gap = BURST_MIN - 1
        lo = max(held, gap)
        full = list(  # the contacts (from ``lo``) that close a full window
            compress(
                range(lo, len(at)),
                map(lt, map(sub, islice(at, lo, None), islice(at, lo - gap, None)), repeat(_SPAN)),
            )
        )
        if full:
            times = list(map(at.__getitem__, full))
            starts = list(map(bisect_right, repeat(at), map(sub, times, repeat(_SPAN))))
            sizes = list(map(sub, full, starts))  # one fewer than the contacts in each window
            cuts = compress(range(1, len(full)), map(ge, map(sub, times[1:], times), repeat(_SPAN)))
            edges = [0, *cuts, len(full)]  # the bursts: full[edges[k]:edges[k + 1]] close them
            heads, tails = edges[:-1], edges[1:]
            firsts = list(map(starts.__getitem__, heads))
            lasts = list(map(full.__getitem__, map(sub, tails, repeat(1))))
            peaks = list(map(max, map(sizes.__getitem__, map(slice, heads, tails))))
            k = 0
            run = self.run
            if run is not None and times[0] - run.last_secs < _SPAN:  # it goes on
                self._extend(run, at, mids, calls, base, lasts[0], peaks[0])
                k = 1
            if k < len(heads):
                self._close()
                m = len(heads) - 1  # the last may go on into the next chunk
                self._add(at, mids, calls, firsts[k:m], lasts[k:m], peaks[k:m])
                first = firsts[m]
                run = self.run = _Run(base + first, at[first], base + first - 1, 0)
                self._extend(run, at, mids, calls, base, lasts[m], peaks[m])
        keep = bisect_right(at, at[-1] - _SPAN)  # the last hour, for the next chunk
        self.secs, self.ids, self.is_call = at[keep:], mids[keep:], calls[keep:]

    @staticmethod
    def _extend(
        run: _Run, at: list[int], mids: list[int], calls: bytes, base: int, last: int, peak: int
    ) -> None:
        """Adds to ``run`` the contacts after its last, to the one at ``last``."""
        since = run.last + 1 - base  # the first contact not in it yet
        run.calls += calls.count(1, since, last + 1)
        room = MAX_IDS - len(run.ids)
        if room > 0:
            run.ids += mids[since : min(last + 1, since + room)]
        run.last, run.last_secs = base + last, at[last]
        run.peak = max(run.peak, peak + 1)

    def _add(
        self,
        at: list[int],
        mids: list[int],
        calls: bytes,
        firsts: list[int],
        lasts: list[int],
        peaks: list[int],
    ) -> None:
        """The bursts from each of ``firsts`` to the matching one of ``lasts``, all in one go:
        there can be thousands."""
        ends = list(map(add, lasts, repeat(1)))
        counts = list(map(sub, ends, firsts))
        with_calls = list(map(calls.count, repeat(1), firsts, ends))
        first_ids = map(slice, firsts, map(min, ends, map(add, firsts, repeat(MAX_IDS))))
        self.found += map(
            Burst,
            repeat(self.person.id),
            repeat(self.person.name),
            _rfc3339s(map(add, map(at.__getitem__, firsts), repeat(_BASE))),
            _rfc3339s(map(add, map(at.__getitem__, lasts), repeat(_BASE))),
            counts,
            with_calls,
            map(sub, counts, with_calls),
            map(add, peaks, repeat(1)),
            map(tuple, map(mids.__getitem__, first_ids)),
        )

    def _count(self, secs: list[int], is_call: bytes) -> None:
        """Contacts and calls by bucket, added to the calendar. Where there are fewer buckets
        from the first contact to the last than contacts, where each bucket ends is looked up
        instead."""
        width = self.calendar.width
        first, last = secs[0] // width, secs[-1] // width
        buckets: dict[int, int]
        if last - first < len(secs):
            ends = range((first + 1) * width, (last + 1) * width, width)
            cuts = [0, *map(bisect_left, repeat(secs), ends), len(secs)]
            counts = map(sub, islice(cuts, 1, None), cuts)
            buckets = {b: k for b, k in zip(range(first, last + 1), counts, strict=True) if k}
        else:
            buckets = Counter(map(floordiv, secs, repeat(width)))
        calls = (
            Counter(map(floordiv, compress(secs, is_call), repeat(width))) if 1 in is_call else {}
        )
        self.calendar.add(buckets, calls, _BASE // width)

    def _close(self) -> None:
        run, self.run = self.run, None
        if run is None:
            return
        count = run.last - run.first + 1
        self.found.append(
            Burst(
                person_id=self.person.id,
                person_name=self.person.name,
                start=_rfc3339s([_BASE + run.first_secs])[0],
                end=_rfc3339s([_BASE + run.last_secs])[0],
                count=count,
                calls=run.calls,
                messages=count - run.calls,
                peak=run.peak,
                message_ids=tuple(run.ids),
            )
        )

    def finish(self) -> list[Burst]:
        self._close()
        return self.found


class _Irregular(Exception):
    """A person's contacts hold something the chunked reading does not expect (a time the
    database cannot read, a channel with a comma, a direction other than incoming or
    unknown): they are read again one by one, as ``_BurstFinder`` does."""


_EPOCH = contact_store.EPOCH
# The order of one number's (address's, account's) contacts: time, then as the sender index
# holds those of the same second. Byte order on PostgreSQL, as in SQLite.
_ORDER = {
    "sqlite": "sent_at, channel, kind, direction, id",
    "postgresql": 'sent_at COLLATE "C", channel COLLATE "C", kind COLLATE "C", '
    'direction COLLATE "C", id',
}
_CODE = contact_store.CODE
_IS_CALL = str.maketrans({"0": "\x01", "1": "\x01", "2": "\x00", "3": "\x00"})
# Times are read as seconds from here (14 November 2023; a whole number of hours after 1970),
# small numbers that Python works with faster than seconds since 1970.
_BASE = 472_222 * 3600
_CHUNK = 100_000  # at most this many messages of one number, address or account at once


def _chunk_sql(db: str, upper: bool) -> str:
    """One number's contacts in [?, ?) as four lists in one row: times (seconds from _BASE),
    ids, kind and direction codes, channels. SQLite concatenates them in the order of the
    sender index it reads; PostgreSQL in that of the rows it is given, sorted once for all
    four. Neither order is promised, so ``_read_chunk`` checks it."""
    where = f"WHERE {_CONTACT_WHERE} AND sent_at >= ?" + (" AND sent_at < ?" if upper else "")
    if db == "sqlite":
        return (
            f"SELECT group_concat({_EPOCH[db]} - {_BASE}), group_concat(id), "
            f"group_concat({_CODE}, ''), group_concat(channel), count(*) FROM message {where}"
        )
    return (
        "SELECT string_agg(CAST(secs AS TEXT), ','), string_agg(CAST(id AS TEXT), ','), "
        "string_agg(CAST(code AS TEXT), ''), string_agg(channel, ','), count(*) FROM "
        f"(SELECT {_EPOCH[db]} - {_BASE} AS secs, id, {_CODE} AS code, channel FROM message "
        f"{where} ORDER BY {_ORDER[db]}) AS contact"
    )


class _Chunk(NamedTuple):
    """One number's contacts in one chunk of time, in order."""

    secs: list[int]  # seconds from _BASE
    ids: list[int]
    codes: str  # a _CODE digit each
    counts: dict[str, int]  # contacts by channel, in the order each channel first came
    joined: str  # the channels, joined by commas


def _read_chunk(raw: Any, sql: str, args: Sequence[Any]) -> _Chunk | None:
    """One number's contacts in one chunk, as ``sql`` returns them (``_chunk_sql``)."""
    return _parse_chunk(raw.execute(sql, args).fetchone())


def _parse_chunk(lists: Sequence[Any], shift: int = 0) -> _Chunk | None:
    """One number's contacts in one chunk (times in seconds from ``shift``, ids, codes and
    channels, as comma-joined lists, and their count), checked to be in order (time,
    channel, kind, direction, id) and put in it if they are not."""
    times, ids, codes, joined, n = lists
    if not n:
        return None
    if times is None or "5" in codes or "7" in codes:
        raise _Irregular
    secs: list[int] = json.loads(f"[{times}]")  # far quicker than int() on each
    if shift:
        secs = list(map(sub, secs, repeat(shift)))
    mids: list[int] = json.loads(f"[{ids}]")
    counts = _channel_counts(joined, n)
    if not len(secs) == len(mids) == len(codes) == n:
        raise _Irregular
    steps = list(map(sub, islice(secs, 1, None), secs))
    unordered = bool(steps) and min(steps) < 0
    ties = []  # contacts in the same second as the one before
    i = -1
    with contextlib.suppress(ValueError):
        while not unordered:
            i = steps.index(0, i + 1)
            ties.append(i + 1)
    if ties and len(counts) == 1:  # one channel: those of one second in code, then id order
        unordered = any((codes[i - 1], mids[i - 1]) > (codes[i], mids[i]) for i in ties)
    elif ties:
        chans = joined.split(",")
        unordered = any(
            (chans[i - 1], codes[i - 1], mids[i - 1]) > (chans[i], codes[i], mids[i]) for i in ties
        )
    if unordered:
        every = joined.split(",")
        order = sorted(range(n), key=lambda i: (secs[i], every[i], codes[i], mids[i]))
        secs = [secs[i] for i in order]
        mids = [mids[i] for i in order]
        codes = "".join([codes[i] for i in order])
        joined = ",".join([every[i] for i in order])
    return _Chunk(secs, mids, codes, counts, joined)


def _channel_counts(joined: str, n: int) -> dict[str, int]:
    """How many of ``n`` comma-separated channels are each one, counted in the text: with
    each comma doubled, every channel is one ",channel," apart from the next."""
    text = "," + joined.replace(",", ",,") + ","
    counts: dict[str, int] = {}
    while text:
        name = text[1 : text.index(",", 1)]
        if not name:  # an empty channel: counted the plain way
            counts = Counter(joined.split(","))
            break
        one = f",{name},"
        counts[name] = text.count(one)
        text = text.replace(one, "")
    if sum(counts.values()) != n:  # a channel with a comma in it
        raise _Irregular
    return counts


def _chunks(
    raw: Any, keys: Sequence[tuple[str, str, str]], period: Period
) -> Iterator[tuple[str, str | None]]:
    """[start, end) ranges of sent_at in which each number holds at most _CHUNK messages
    (more only when more than that share one second); end None: the end of the period."""
    upper = " AND sent_at < ?" if period.end else ""
    bound = [period.end] if period.end else []
    probe = (
        "SELECT sent_at FROM message WHERE sender_kind = ? AND sender_platform = ? "
        f"AND sender_value = ? AND sent_at >= ?{upper} ORDER BY sent_at LIMIT 1 OFFSET ?"
    )
    after = (
        "SELECT sent_at FROM message WHERE sender_kind = ? AND sender_platform = ? "
        f"AND sender_value = ? AND sent_at > ?{upper} ORDER BY sent_at LIMIT 1"
    )
    lo = period.start or ""
    while True:
        ends = [
            row[0]
            for key in keys
            if (row := raw.execute(probe, (*key, lo, *bound, _CHUNK)).fetchone()) is not None
        ]
        hi = min(ends) if ends else None
        if hi == lo:  # more than _CHUNK in one second: that second alone
            ends = [
                row[0]
                for key in keys
                if (row := raw.execute(after, (*key, lo, *bound)).fetchone()) is not None
            ]
            hi = min(ends) if ends else None
        yield lo, hi
        if hi is None:
            return
        lo = hi


def _contacts(
    raw: Any,
    person: _Person,
    fine: bool,
    period: Period,
    tz: tzinfo,
    db: str = "sqlite",
    kept: bool = False,
) -> _Contacts:
    """The person's contacts, read a chunk of time at a time, from the rows kept 30 days at
    a time when ``kept`` (``docket.contact_store``), else from the sender index (one query
    per number, address or account and chunk, each returning its contacts as a few long
    strings rather than a row each, which costs far less), merged in time order (those of
    the same second in the order of the person's numbers), and tallied by ``_Tally``."""
    keys = [key for key in person.keys if key[0] != "vehicle"]
    calendar = _Calendar(tz, 60 if fine else 3600)
    try:
        chunks = (_kept_parts if kept else _index_parts)(raw, keys, period, db)
        out = _contacts_in_chunks(raw, person, keys, calendar, period, chunks)
    except _Irregular:
        calendar = _Calendar(tz, calendar.width)
        out = _contacts_one_by_one(raw, person, keys, calendar, period, db)
    out.days, out.week = calendar.days(), calendar.week
    return out


def _index_parts(
    raw: Any, keys: list[tuple[str, str, str]], period: Period, db: str
) -> Iterator[list[_Chunk]]:
    """From the sender index, a chunk of time at a time (``_chunks``): each number's
    contacts in it."""
    for lo, hi in _chunks(raw, keys, period):
        end = hi or period.end
        sql = _chunk_sql(db, bool(end))
        yield [
            part
            for key in keys
            if (part := _read_chunk(raw, sql, (*key, lo, *([end] if end else [])))) is not None
        ]


def _kept_parts(
    raw: Any, keys: list[tuple[str, str, str]], period: Period, db: str
) -> Iterator[list[_Chunk]]:
    """From the rows kept 30 days at a time (``docket.contact_store``), a run of spans at a
    time (in which each number holds at most _CHUNK contacts, or a single span): each
    number's contacts in it, those of the first and last span cut to the period."""
    if any(contact_store.has_odd(raw, key) for key in keys):
        raise _Irregular
    start = int(_utc(period.start).timestamp()) if period.start else None
    end = int(_utc(period.end).timestamp()) if period.end else None
    span = contact_store.SPAN
    lo = None if start is None else start // span
    hi = None if end is None else (end - 1) // span + 1
    counts = [dict(contact_store.span_counts(raw, key, lo, hi)) for key in keys]
    for first, after in _span_runs(sorted(set().union(*counts)), counts):
        parts = []
        for key in keys:
            part = _parse_chunk(contact_store.read(raw, key, first, after), _BASE)
            if part is not None and (part := _cut(part, start, end)) is not None:
                parts.append(part)
        yield parts


def _span_runs(spans: list[int], counts: list[dict[int, int]]) -> Iterator[tuple[int, int]]:
    """[first, after) runs of ``spans`` in which no number's contacts (``counts``: one
    span -> contacts for each number) pass _CHUNK, but for a run of one span."""
    run: list[int] = []
    sums = [0] * len(counts)
    for span in spans:
        more = [held + c.get(span, 0) for held, c in zip(sums, counts, strict=True)]
        if run and max(more) > _CHUNK:
            yield run[0], run[-1] + 1
            run, more = [], [c.get(span, 0) for c in counts]
        run.append(span)
        sums = more
    if run:
        yield run[0], run[-1] + 1


def _cut(part: _Chunk, start: int | None, end: int | None) -> _Chunk | None:
    """``part``'s contacts from ``start`` to before ``end`` (seconds since 1970)."""
    a = 0 if start is None else bisect_left(part.secs, start - _BASE)
    b = len(part.secs) if end is None else bisect_left(part.secs, end - _BASE)
    if (a, b) == (0, len(part.secs)):
        return part
    if a >= b:
        return None
    channels = part.joined.split(",")[a:b]
    return _Chunk(
        part.secs[a:b], part.ids[a:b], part.codes[a:b], dict(Counter(channels)), ",".join(channels)
    )


def _contacts_in_chunks(
    raw: Any,
    person: _Person,
    keys: list[tuple[str, str, str]],
    calendar: _Calendar,
    period: Period,
    chunks: Iterator[list[_Chunk]],
) -> _Contacts:
    """A chunk of time at a time: each number's contacts in it, merged in time order, fed
    to a ``_Tally``; those without a time counted apart."""
    tally = _Tally(person, calendar)
    out = _Contacts()
    if not keys:
        return out
    if not period.start and not period.end:
        for key in keys:
            out.untimed += int(
                raw.execute(
                    f"SELECT count(*) FROM message WHERE {_CONTACT_WHERE} AND sent_at IS NULL",
                    key,
                ).fetchone()[0]
            )
    for parts in chunks:
        if not parts:
            continue
        if len(parts) == 1:
            secs, ids, codes, counts = parts[0].secs, parts[0].ids, parts[0].codes, parts[0].counts
        else:  # merged by time; in a second, the first number's first (the sort is stable)
            every = [s for p in parts for s in p.secs]
            order = sorted(range(len(every)), key=every.__getitem__)
            secs = [every[i] for i in order]
            every = [i for p in parts for i in p.ids]
            ids = [every[i] for i in order]
            joined = "".join(p.codes for p in parts)
            codes = "".join([joined[i] for i in order])
            counts = _merged_counts(parts, order)
        tally.feed(secs, ids, codes.translate(_IS_CALL).encode("ascii"), counts)
        out.timed += len(secs)
    out.channels = dict(tally.channels)
    out.bursts = tally.finish()
    return out


def _merged_counts(parts: list[_Chunk], order: list[int]) -> dict[str, int]:
    """Contacts by channel over several numbers' chunks merged in ``order``, in the order each
    channel first came in them (as counting contact by contact would list them)."""
    first: dict[str, int] = {}  # channel: the place in ``order`` of its first contact
    offset = 0
    for part in parts:
        text = f",{part.joined},"
        for name in part.counts:
            place = order.index(offset + text.count(",", 0, text.find(f",{name},")))
            first[name] = min(first.get(name, place), place)
        offset += len(part.secs)
    return {
        name: sum(part.counts.get(name, 0) for part in parts)
        for name in sorted(first, key=first.__getitem__)
    }


def _contacts_one_by_one(
    raw: Any,
    person: _Person,
    keys: list[tuple[str, str, str]],
    calendar: _Calendar,
    period: Period,
    db: str,
) -> _Contacts:
    """Row by row (one cursor per number, merged), for contacts ``_read_chunk`` cannot take."""
    width = calendar.width
    out = _Contacts()
    finder = _BurstFinder(person)
    buckets: Counter[int] = Counter()
    calls: Counter[int] = Counter()
    clause, args = period.where("sent_at")
    cursors = [
        raw.execute(
            f"SELECT {_EPOCH[db]}, kind, channel, id, sent_at FROM message "
            f"WHERE {_CONTACT_WHERE}{clause} ORDER BY {_ORDER[db]}",
            (*key, *args),
        )
        for key in keys
    ]
    rows = cursors[0] if len(cursors) == 1 else heapq.merge(*cursors, key=lambda r: r[0] or 0)
    channels: Counter[str] = Counter()
    for secs, kind, channel, mid, sent_at in rows:
        if secs is None:
            out.untimed += 1
            continue
        b = secs // width
        buckets[b] += 1
        if kind == "call":
            calls[b] += 1
        if len(buckets) > _CHUNK:  # added to the calendar as they come, a batch at a time
            calendar.add(buckets, calls)
            buckets, calls = Counter(), Counter()
        channels[channel] += 1
        finder.feed(secs, mid, kind, sent_at)
        out.timed += 1
    calendar.add(buckets, calls)
    out.channels = dict(channels)
    out.bursts = finder.finish()
    return out


def _offset(tz: tzinfo, secs: int) -> int:
    offset = datetime.fromtimestamp(secs, tz).utcoffset()
    return 0 if offset is None else int(offset.total_seconds())


def _offset_until(tz: tzinfo, secs: int) -> tuple[int, int]:
    """The zone's offset from UTC at ``secs``, and the first moment after it at which the
    offset may differ. No offset in the time zone database lasts less than a day (the
    shortest, Freetown's in 1939, lasted four; a test checks the installed database), so an
    offset that is the same a day later held all day; where it is not, the change is found
    to the second."""
    offset = _offset(tz, secs)
    lo, hi = secs, secs + _DAY
    try:
        if _offset(tz, hi) == offset:
            return offset, hi
    except (OverflowError, OSError, ValueError):  # near the ends of the calendar
        return offset, secs + 1
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if _offset(tz, mid) == offset:
            lo = mid
        else:
            hi = mid
    return offset, hi


class _Calendar:
    """Contacts by the local day and the local hour of the week that the start of their UTC
    bucket falls in, added a batch of buckets at a time; the zone's offset is worked out once
    for each stretch of time it holds."""

    def __init__(self, tz: tzinfo, width: int) -> None:
        self.tz = tz
        self.width = width  # seconds in a bucket
        self.by_day: dict[int, list[int]] = {}  # local days since 1970: [contacts, calls]
        self.week = [0] * 168  # weekday * 24 + local hour (1 January 1970 was a Thursday)

    def add(self, buckets: dict[int, int], calls: dict[int, int], shift: int = 0) -> None:
        """Buckets (numbered from ``shift``: bucket b starts at (b + shift) * width) and the
        calls among them."""
        width = self.width
        starts = sorted(buckets)
        local: list[int] = []  # each bucket's start, in local seconds since 1970
        i, n = 0, len(starts)
        while i < n:
            offset, until = _offset_until(self.tz, (starts[i] + shift) * width)
            j = bisect_left(starts, -(-until // width) - shift, i)
            local += [(b + shift) * width + offset for b in starts[i:j]]
            i = j
        counts = list(map(buckets.__getitem__, starts))
        week = self.week
        for hour, k in zip(map(floordiv, local, repeat(3600)), counts, strict=True):
            week[(hour + 72) % 168] += k
        local_days = list(map(floordiv, local, repeat(_DAY)))
        days = self.by_day
        for d, k in zip(local_days, counts, strict=True):
            day = days.get(d)
            if day is None:
                days[d] = [k, 0]
            else:
                day[0] += k
        if calls:
            day_of = dict(zip(starts, local_days, strict=True))
            for b, k in calls.items():
                days[day_of[b]][1] += k

    def days(self) -> dict[date, list[int]]:
        return {date.fromordinal(_EPOCH_DAY + d): v for d, v in self.by_day.items()}


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
            FlagHit(flag, labels.get(flag, flag), "message", mid, words, when, owner.get((k, p, v)))
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

_P = ParamSpec("_P")
_R = TypeVar("_R")


def _collector_off(fn: Callable[_P, _R]) -> Callable[_P, _R]:
    """Runs ``fn`` with the cycle collector off (as imports do): an analysis makes a great
    many small objects and no cycles, so the collector's passes over them only cost time
    (about a tenth of an analysis)."""

    @functools.wraps(fn)
    def run(*args: _P.args, **kwargs: _P.kwargs) -> _R:
        collecting = gc.isenabled()
        gc.disable()
        try:
            return fn(*args, **kwargs)
        finally:
            if collecting:
                gc.enable()

    return run


@_collector_off
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
    db = dialect(conn)
    kept_spans = contact_store.usable(raw)  # every message's contacts kept 30 days at a time
    contacts = {p.id: _contacts(raw, p, fine, period, tz, db, kept_spans) for p in responsible}
    contact_total = sum(c.total for c in contacts.values())
    # every imported message and call, as each import's summary records (verify checks the
    # summaries against the log and the messages against their batches): a handful of rows,
    # where counting the message table reads all of it
    message_total = sum(
        int(json.loads(summary).get("added", 0))
        for (summary,) in raw.execute("SELECT summary FROM source")
    )

    # local days, months and the heatmap
    heat = [[0] * 24 for _ in range(7)]
    inc_by_month: Counter[str] = Counter()
    con_by_month: Counter[str] = Counter()
    contact_days: dict[int, set[date]] = defaultdict(set)
    con_channels: Counter[str] = Counter()
    moments = list(map(attrgetter("local"), incidents))
    for (year, month), n in Counter(map(attrgetter("year", "month"), moments)).items():
        inc_by_month[f"{year:04d}-{month:02d}"] += n  # as _month() writes it
    timed = [inc.local for inc in incidents if not inc.date_only]
    untimed = len(incidents) - len(timed)
    hours = zip(map(datetime.weekday, timed), map(attrgetter("hour"), timed), strict=True)
    for (weekday, hour), n in Counter(hours).items():
        heat[weekday][hour] += n
    for pid, c in contacts.items():
        con_channels.update(c.channels)
        for k, n in enumerate(c.week):
            heat[k // 24][k % 24] += n
        for day, (n, _calls) in c.days.items():
            con_by_month[_month(day)] += n
            contact_days[pid].add(day)

    first_day = min(
        [*map(datetime.date, moments), *(min(d) for d in contact_days.values() if d)],
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
        key=lambda x: (-x[2], x[0]),
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
    others: dict[tuple[str, ...], list[str]] = {}  # each different list of names read once
    for inc in incidents:
        named = others.get(inc.targeted)
        if named is None:
            named = others[inc.targeted] = [
                n.strip() for n in inc.targeted if n.strip().lower() not in ("me", "myself", "")
            ]
        for name in named:
            third[name].append(inc.id)
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
    findings += _after_orders(conn, jurisdiction, incidents, people, contacts)

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
    if kept_for is None:
        kept_for = {
            iid: [(m.flag, m.words) for m in lexicon.scan(text)]
            for iid, text in _incident_texts(raw, (i.id for i in incidents))
        }
    for inc in incidents:
        for flag, words in kept_for.get(inc.id, ()):
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
    groups = list(map(attrgetter("people"), incidents))  # few different ones: counted once each
    days_of: dict[tuple[int, ...], set[date]] = defaultdict(set)
    days = map(datetime.date, map(attrgetter("local"), incidents))
    for group, day in zip(groups, days, strict=True):
        days_of[group].add(day)
    for group, n in Counter(groups).items():
        for pid in group or (None,):
            if pid is not None and pid not in people:
                continue
            inc_n[pid] += n
            inc_days[pid] |= days_of[group]
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
            for day, (n, k_calls) in contacts.get(pid, _Contacts()).days.items():
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
