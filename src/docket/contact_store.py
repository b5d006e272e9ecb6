"""Each sender's contacts, kept in the diary a month or so at a time: worked out when
messages are imported, read by the pattern analysis instead of the sender index (a row per
sender and 30 days, rather than an index entry per call or message), and worked out again by
``docket verify``.

A contact is an imported message or call not sent by the diary's owner (direction not
"outgoing", kind "message" or "call") with a time and a sender. Three tables (migration
0010; c0005 on a server):
- ``contact_span``: per sender (kind, platform, value), span (the 30 UTC days from day
  30 x ``span`` since 1970) and part, how many contacts, the first one's time, and their
  times (seconds since 1970), message ids, kind-and-direction codes (``CODE``, one digit
  each) and channels, each as one comma-joined text, in the order (time, channel, code, id):
  the lists the analysis reads of the sender index, already made. An import gathers its
  contacts in memory, up to ``_HELD`` at a time, and writes them as rows in key order, each
  write a new ``part`` (the last message id it covers); rows are never changed. A span can
  so have several rows: the analysis reads them in the order of their first times, and puts
  the lists in order where two overlap. (Spans of 30 days, not days: each row written costs
  far more than its size, so fewer, longer rows make an import cheaper.)
- ``contact_odd``: the contacts a row cannot hold (a time the database cannot read, a
  channel missing or holding a comma): where a sender has any, the analysis reads the
  sender's contacts from the messages, one by one, as before;
- ``contact_scan``: the version of this layout the rows were made with, and ``through``:
  every message with an id up to it is in them.

Messages never change once imported, so the rows stay right. A diary that had messages
before these tables (or rows from another version) has no matching state: the next import
works every message's out again in its own transaction (``prepare``), and until then, or
while ``through`` falls short of the last message, the analysis reads the sender index as
before (``usable``).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Sequence
from datetime import date
from itertools import groupby
from operator import itemgetter
from typing import Any

VERSION = "1"
SPAN_DAYS = 30
SPAN = SPAN_DAYS * 86_400  # seconds in a span
_EPOCH_DAY = date(1970, 1, 1).toordinal()
_PAGE = 20_000  # about this many messages worked out at a time when every one is again

# seconds since 1970 of a stored time ("2026-03-01T19:00:00Z"), by database
EPOCH = {
    "sqlite": "unixepoch(sent_at)",
    "postgresql": "CAST(EXTRACT(EPOCH FROM CAST(sent_at AS timestamptz)) AS BIGINT)",
}
# kind and direction as one digit that sorts as the pair does: 0 an incoming call, 1 a call
# whose direction is unknown, 2 and 3 the same for messages; 5 or 7 for any other direction
CODE = (
    "CASE WHEN kind = 'call' THEN 0 ELSE 2 END "
    "+ CASE direction WHEN 'incoming' THEN 0 WHEN 'unknown' THEN 1 ELSE 5 END"
)
# the messages that are contacts (with a sender; those without a time are not kept)
WHERE = (
    "direction != 'outgoing' AND kind IN ('message', 'call') AND sent_at IS NOT NULL "
    "AND sender_kind IS NOT NULL AND sender_platform IS NOT NULL AND sender_value IS NOT NULL"
)
_COLUMNS = (
    "sender_kind, sender_platform, sender_value, span, part, first, n, secs, ids, codes, channels"
)
_HELD = 100_000  # contacts an import holds in memory (about 15 MB) before writing them

Key = tuple[str, str, str]
Contact = tuple[int, str, int, int]  # seconds since 1970, channel, code, message id
Segment = tuple[int, int, str, str, str, str]  # first, n, times, ids, codes, channels
Odd = tuple[str, str, str, int]  # sender, message id
SpanKey = tuple[str, str, str, int]  # sender, span


def _contacts_sql(db: str) -> str:
    return (
        f"SELECT sender_kind, sender_platform, sender_value, {EPOCH[db]}, channel, {CODE}, id "
        f"FROM message WHERE {WHERE}"
    )


def _state(raw: Any) -> int | None:
    """``through``, when the rows were made with this version; None otherwise."""
    row = raw.execute("SELECT version, through FROM contact_scan WHERE id = 1").fetchone()
    return None if row is None or row[0] != VERSION else int(row[1])


def _set_state(raw: Any, through: int) -> None:
    raw.execute(
        "INSERT INTO contact_scan (id, version, through) VALUES (1, ?, ?) ON CONFLICT (id) "
        "DO UPDATE SET version = excluded.version, through = excluded.through",
        (VERSION, through),
    )


def _last_message(raw: Any) -> int:
    return int(raw.execute("SELECT coalesce(max(id), 0) FROM message").fetchone()[0])


def usable(raw: Any) -> bool:
    """Whether the rows hold every message's contacts."""
    through = _state(raw)
    return through is not None and through >= _last_message(raw)


def _odd(secs: Any, channel: Any) -> bool:
    return secs is None or channel is None or "," in channel


def _segment(contacts: list[Contact]) -> Segment:
    """Contacts as stored, in (time, channel, code, id) order."""
    contacts.sort()
    return (
        contacts[0][0],
        len(contacts),
        ",".join([str(c[0]) for c in contacts]),
        ",".join([str(c[3]) for c in contacts]),
        "".join([str(c[2]) for c in contacts]),
        ",".join([c[1] for c in contacts]),
    )


def _keyed(
    contacts: Iterable[tuple[Any, ...]], odd: list[Odd]
) -> Iterator[tuple[SpanKey, Contact]]:
    """Rows of ``_contacts_sql`` as (sender and span, contact); the odd ones added to ``odd``."""
    for kind, platform, value, secs, channel, code, mid in contacts:
        if _odd(secs, channel):
            odd.append((kind, platform, value, int(mid)))
            continue
        secs = int(secs)
        yield (kind, platform, value, secs // SPAN), (secs, channel, int(code), int(mid))


def _group(contacts: Iterable[tuple[Any, ...]], into: Pending) -> int:
    """Rows of ``_contacts_sql`` added to ``into`` by (sender, span); how many."""
    spans = into.spans
    added = 0
    for key, contact in _keyed(contacts, into.odd):
        held = spans.get(key)
        if held is None:
            held = spans[key] = []
        held.append(contact)
        added += 1
    return added


class Pending:
    """An import's contacts not written yet, by (sender, span), up to about ``_HELD`` (made by
    ``prepare``, once the rows hold every message before the import's)."""

    def __init__(self, raw: Any, db: str) -> None:
        self.raw = raw
        self.db = db
        self.spans: dict[SpanKey, list[Contact]] = {}
        self.odd: list[Odd] = []
        self.count = 0
        self.through = 0  # the last message added

    def add(self, first: int, last: int) -> None:
        """Messages ``first`` to ``last`` (all after those added before)."""
        self.count += _group(
            self.raw.execute(_contacts_sql(self.db) + " AND id BETWEEN ? AND ?", (first, last)),
            self,
        )
        self.through = last
        if self.count >= _HELD:
            self.write()

    def write(self) -> None:
        """Writes what is held, in key order, as part ``through``, and the state."""
        if self.odd:  # rare: no importer writes such a time or channel
            self.raw.executemany(
                "INSERT INTO contact_odd (sender_kind, sender_platform, sender_value, "
                "message_id) VALUES (?, ?, ?, ?)",
                self.odd,
            )
        if self.spans:
            part = self.through
            self.raw.executemany(
                f"INSERT INTO contact_span ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [(*k, part, *_segment(self.spans[k])) for k in sorted(self.spans)],
            )
        _set_state(self.raw, self.through)
        self.spans, self.odd, self.count = {}, [], 0


def prepare(raw: Any, db: str) -> Pending:
    """Before an import adds messages: make the rows hold every message's contacts: every
    message's again where they were made by another version or never (seconds for a million
    messages, once), those past ``through`` where they fall short. Returns what gathers the
    import's own."""
    last = _last_message(raw)
    through = _state(raw)
    if through is None:
        raw.execute("DELETE FROM contact_span")
        raw.execute("DELETE FROM contact_odd")
        through = 0
    pending = Pending(raw, db)
    for first in range(through + 1, last + 1, _PAGE):
        pending.add(first, min(first + _PAGE - 1, last))
    pending.through = last
    pending.write()
    return pending


def has_odd(raw: Any, key: Key) -> bool:
    return (
        raw.execute(
            "SELECT 1 FROM contact_odd WHERE sender_kind = ? AND sender_platform = ? "
            "AND sender_value = ? LIMIT 1",
            key,
        ).fetchone()
        is not None
    )


def span_counts(raw: Any, key: Key, lo: int | None, hi: int | None) -> list[tuple[int, int]]:
    """(span, contacts) for ``key``'s spans in [lo, hi) (None: no bound), in order."""
    clause = " AND span >= ?" if lo is not None else ""
    clause += " AND span < ?" if hi is not None else ""
    bounds = [b for b in (lo, hi) if b is not None]
    return [
        (int(d), int(n))
        for d, n in raw.execute(
            "SELECT span, sum(n) FROM contact_span WHERE sender_kind = ? AND sender_platform = ? "
            f"AND sender_value = ?{clause} GROUP BY span ORDER BY span",
            (*key, *bounds),
        )
    ]


def read(raw: Any, key: Key, first: int, after: int) -> tuple[str, str, str, str, int]:
    """``key``'s spans in [first, after) as the four lists (times in seconds since 1970, ids,
    codes, channels), each joined in the order of the spans and of their rows' first times,
    and their count: what the analysis reads of the sender index. (Joined here: the
    database's own ``group_concat`` of a few megabytes takes ten times as long, each step of
    the growing text being locked and wiped.)"""
    rows = raw.execute(
        "SELECT n, secs, ids, codes, channels FROM contact_span WHERE sender_kind = ? "
        "AND sender_platform = ? AND sender_value = ? AND span >= ? AND span < ? "
        "ORDER BY span, first, part",
        (*key, first, after),
    ).fetchall()
    return (
        ",".join([r[1] for r in rows]),
        ",".join([r[2] for r in rows]),
        "".join([r[3] for r in rows]),
        ",".join([r[4] for r in rows]),
        sum(int(r[0]) for r in rows),
    )


# --- docket verify ----------------------------------------------------------------------------


def _expected(
    contacts: Iterable[tuple[Any, ...]], odd: list[Odd]
) -> Iterator[tuple[SpanKey, list[Contact]]]:
    """Per (sender, span), in that order, the contacts ``contacts`` (rows of ``_contacts_sql``
    in sender index order) hold, in (time, channel, code, id) order; the odd ones are added
    to ``odd``."""
    for key, group in groupby(_keyed(contacts, odd), key=itemgetter(0)):
        yield key, sorted(map(itemgetter(1), group))


def _parse(n: int, secs: str, ids: str, codes: str, channels: str) -> list[Contact]:
    return list(
        zip(
            json.loads(f"[{secs}]"),
            channels.split(","),
            map(int, codes),
            json.loads(f"[{ids}]"),
            strict=True,
        )
    )


def _sound(row: Sequence[Any]) -> list[Contact] | None:
    """A kept row's contacts, if it is as ``Pending.write`` writes one (its count and first
    time right, its contacts in order); None if not."""
    first, n, *lists = row
    try:
        contacts = _parse(int(n), *lists)
    except (ValueError, TypeError):
        return None
    if not contacts or len(contacts) != int(n) or contacts[0][0] != int(first):
        return None
    return contacts if contacts == sorted(contacts) else None


def _date(span: int) -> str:
    return date.fromordinal(_EPOCH_DAY + span * SPAN_DAYS).isoformat()


def check(reads: Any, report: Any) -> None:
    """``docket verify``: the kept contacts against the messages, worked out again (each
    sender's contacts in the sender index's order, a span at a time). ``reads`` streams
    (integrity's reader); ``report.add`` records a problem."""
    through = _state(reads)
    if through is None:
        return  # none kept, or by another version: the analysis does not read them
    db = "postgresql" if reads.pg else "sqlite"
    collate = ' COLLATE "C"' if reads.pg else ""
    by_key = ", ".join(f"{c}{collate}" for c in ("sender_kind", "sender_platform", "sender_value"))

    def problem(key: Any, span: int, what: str) -> None:
        report.add(
            "table_changed",
            f"the contacts kept for {key[0]} {key[2]} in the {SPAN_DAYS} days from "
            f"{_date(span)} {what}",
            None,
            None,
        )

    messages = reads.stream(
        f"{_contacts_sql(db)} AND id <= ? ORDER BY {by_key}, sent_at{collate}, id", (through,)
    )
    kept = iter(reads.stream(f"SELECT {_COLUMNS} FROM contact_span ORDER BY {by_key}, span"))
    have = next(kept, None)

    def kept_for(at: SpanKey) -> list[Contact] | None:
        """The contacts of the kept rows for ``at``, in order (None if a row is unsound);
        rows before it reported."""
        nonlocal have
        out: list[Contact] | None = []
        while have is not None and (*have[:3], int(have[3])) <= at:
            row, have = have, next(kept, None)
            if (*row[:3], int(row[3])) < at:
                problem(row, int(row[3]), "are for no message the diary holds")
                continue
            contacts = _sound(row[5:])
            if contacts is None or out is None:
                out = None
            else:
                out += contacts
        return None if out is None else sorted(out)

    odd_want: list[Odd] = []
    for at, want in _expected(messages, odd_want):
        found = kept_for(at)
        if found == []:
            problem(at, at[3], "are missing")
        elif found != want:
            problem(at, at[3], "do not match the messages")
    while have is not None:
        problem(have, int(have[3]), "are for no message the diary holds")
        have = next(kept, None)
    odd_have = {
        (r[0], r[1], r[2], int(r[3]))
        for r in reads.stream(
            "SELECT sender_kind, sender_platform, sender_value, message_id FROM contact_odd"
        )
    }
    for row in sorted(odd_have ^ set(odd_want)):
        report.add(
            "table_changed",
            f"the contacts kept for {row[0]} {row[2]} do not match message {row[3]}, whose "
            "time or channel is odd",
            None,
            None,
        )
