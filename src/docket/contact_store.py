"""Each sender's contacts, kept in the diary a day at a time: worked out when messages are
imported, read by the pattern analysis instead of the sender index (one row a day, rather
than one index entry per call or message), and worked out again by ``docket verify``.

A contact is an imported message or call not sent by the diary's owner (direction not
"outgoing", kind "message" or "call") with a time and a sender. Three tables (migration
0010; c0005 on a server):
- ``contact_day``: per sender (kind, platform, value) and UTC day (days since 1970), how
  many contacts, and their times (seconds since 1970), message ids, kind-and-direction codes
  (``CODE``, one digit each) and channels, each as one comma-joined text, in the order
  (time, channel, code, id): the lists the analysis reads of the sender index, already made;
- ``contact_odd``: the contacts a day row cannot hold (a time the database cannot read, a
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
from collections.abc import Iterable, Iterator
from datetime import date
from typing import Any

VERSION = "1"
_DAY = 86_400
_EPOCH_DAY = date(1970, 1, 1).toordinal()
_PAGE = 20_000  # message ids added at a time when every message is worked out again

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

Key = tuple[str, str, str]
Contact = tuple[int, str, int, int]  # seconds since 1970, channel, code, message id
Day = tuple[int, str, str, str, str]  # n, times, ids, codes, channels (as stored)


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


def _day(contacts: list[Contact]) -> Day:
    """A day's contacts as stored, in (time, channel, code, id) order."""
    contacts.sort()
    return (
        len(contacts),
        ",".join([str(c[0]) for c in contacts]),
        ",".join([str(c[3]) for c in contacts]),
        "".join([str(c[2]) for c in contacts]),
        ",".join([c[1] for c in contacts]),
    )


def _parse(day: Day) -> list[Contact]:
    n, secs, ids, codes, channels = day
    if not n:
        return []
    return list(
        zip(
            json.loads(f"[{secs}]"),
            channels.split(","),
            map(int, codes),
            json.loads(f"[{ids}]"),
            strict=True,
        )
    )


def _add_range(raw: Any, db: str, first: int, last: int) -> None:
    """Adds the contacts among messages ``first`` to ``last`` to the rows."""
    days: dict[tuple[str, str, str, int], list[Contact]] = {}
    odd: list[tuple[str, str, str, int]] = []
    for kind, platform, value, secs, channel, code, mid in raw.execute(
        _contacts_sql(db) + " AND id BETWEEN ? AND ?", (first, last)
    ):
        if _odd(secs, channel):
            odd.append((kind, platform, value, int(mid)))
        else:
            secs = int(secs)
            days.setdefault((kind, platform, value, secs // _DAY), []).append(
                (secs, channel, int(code), int(mid))
            )
    if odd:
        raw.executemany(
            "INSERT INTO contact_odd (sender_kind, sender_platform, sender_value, message_id) "
            "VALUES (?, ?, ?, ?)",
            odd,
        )
    rows = []
    for (kind, platform, value, day), contacts in days.items():
        held = raw.execute(
            "SELECT n, secs, ids, codes, channels FROM contact_day WHERE sender_kind = ? "
            "AND sender_platform = ? AND sender_value = ? AND day = ?",
            (kind, platform, value, day),
        ).fetchone()
        if held is not None:
            contacts += _parse(tuple(held))
        rows.append((kind, platform, value, day, *_day(contacts)))
    if rows:
        raw.executemany(
            "INSERT INTO contact_day (sender_kind, sender_platform, sender_value, day, n, secs, "
            "ids, codes, channels) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) "
            "ON CONFLICT (sender_kind, sender_platform, sender_value, day) DO UPDATE SET "
            "n = excluded.n, secs = excluded.secs, ids = excluded.ids, "
            "codes = excluded.codes, channels = excluded.channels",
            rows,
        )


def prepare(raw: Any, db: str) -> None:
    """Before an import adds messages: make the rows hold every message's contacts: every
    message's again where they were made by another version or never (seconds for a million
    messages, once), those past ``through`` where they fall short."""
    last = _last_message(raw)
    through = _state(raw)
    if through is not None and through >= last:
        return
    if through is None:
        raw.execute("DELETE FROM contact_day")
        raw.execute("DELETE FROM contact_odd")
        through = 0
    for first in range(through + 1, last + 1, _PAGE):
        _add_range(raw, db, first, min(first + _PAGE - 1, last))
    _set_state(raw, last)


def add(raw: Any, db: str, first: int, last: int) -> None:
    """An import's new messages ``first`` to ``last``, when the rows hold every message
    before them."""
    if _state(raw) != first - 1:
        return  # not kept (yet): the analysis reads the sender index instead
    _add_range(raw, db, first, last)
    _set_state(raw, last)


def has_odd(raw: Any, key: Key) -> bool:
    return (
        raw.execute(
            "SELECT 1 FROM contact_odd WHERE sender_kind = ? AND sender_platform = ? "
            "AND sender_value = ? LIMIT 1",
            key,
        ).fetchone()
        is not None
    )


def day_counts(raw: Any, key: Key, lo: int | None, hi: int | None) -> list[tuple[int, int]]:
    """(day, contacts) for ``key``'s days in [lo, hi) (None: no bound), in day order."""
    clause = (" AND day >= ?" if lo is not None else "") + (
        " AND day < ?" if hi is not None else ""
    )
    bounds = [b for b in (lo, hi) if b is not None]
    return [
        (int(d), int(n))
        for d, n in raw.execute(
            "SELECT day, n FROM contact_day WHERE sender_kind = ? AND sender_platform = ? "
            f"AND sender_value = ?{clause} ORDER BY day",
            (*key, *bounds),
        )
    ]


def read_sql(db: str) -> str:
    """``key``'s days in [?, ?) as one row of the four lists (times in seconds since 1970)
    and their count, in day order, as the analysis reads them of the sender index."""
    rows = (
        "SELECT day, n, secs, ids, codes, channels FROM contact_day WHERE sender_kind = ? "
        "AND sender_platform = ? AND sender_value = ? AND day >= ? AND day < ?"
    )
    if db == "sqlite":
        return (
            "SELECT group_concat(secs), group_concat(ids), group_concat(codes, ''), "
            f"group_concat(channels), sum(n) FROM ({rows} ORDER BY day)"
        )
    return (
        "SELECT string_agg(secs, ',' ORDER BY day), string_agg(ids, ',' ORDER BY day), "
        "string_agg(codes, '' ORDER BY day), string_agg(channels, ',' ORDER BY day), sum(n) "
        f"FROM ({rows}) AS kept"
    )


# --- docket verify ----------------------------------------------------------------------------


def _expected(
    contacts: Iterable[tuple[Any, ...]], odd: list[tuple[str, str, str, int]]
) -> Iterator[tuple[Key, int, Day]]:
    """The rows ``contacts`` (rows of ``_contacts_sql`` in sender index order) make, in
    (sender, day) order; the odd ones are added to ``odd``."""
    key: Key | None = None
    day = 0
    held: list[Contact] = []
    for kind, platform, value, secs, channel, code, mid in contacts:
        if _odd(secs, channel):
            odd.append((kind, platform, value, int(mid)))
            continue
        secs = int(secs)
        k, d = (kind, platform, value), secs // _DAY
        if (k, d) != (key, day):
            if held and key is not None:
                yield key, day, _day(held)
            key, day, held = k, d, []
        held.append((secs, channel, int(code), int(mid)))
    if held and key is not None:
        yield key, day, _day(held)


def _date(day: int) -> str:
    return date.fromordinal(_EPOCH_DAY + day).isoformat()


def check(reads: Any, report: Any) -> None:
    """``docket verify``: the kept contacts against the messages, worked out again (each
    sender's contacts in the sender index's order, a day at a time). ``reads`` streams
    (integrity's reader); ``report.add`` records a problem."""
    through = _state(reads)
    if through is None:
        return  # none kept, or by another version: the analysis does not read them
    db = "postgresql" if reads.pg else "sqlite"
    collate = ' COLLATE "C"' if reads.pg else ""
    by_key = ", ".join(f"{c}{collate}" for c in ("sender_kind", "sender_platform", "sender_value"))

    def problem(key: Any, what: str) -> None:
        report.add("table_changed", f"the contacts kept for {key[0]} {key[2]} {what}", None, None)

    def unheld(row: Any) -> None:
        problem(row, f"on {_date(int(row[3]))} are for no message the diary holds")

    messages = reads.stream(
        f"{_contacts_sql(db)} AND id <= ? ORDER BY {by_key}, sent_at{collate}, id", (through,)
    )
    kept = iter(
        reads.stream(
            "SELECT sender_kind, sender_platform, sender_value, day, n, secs, ids, codes, "
            f"channels FROM contact_day ORDER BY {by_key}, day"
        )
    )
    odd_want: list[tuple[str, str, str, int]] = []
    have = next(kept, None)
    for key, day, want in _expected(messages, odd_want):
        while have is not None and (tuple(have[:3]), int(have[3])) < (key, day):
            unheld(have)
            have = next(kept, None)
        if have is None or (tuple(have[:3]), int(have[3])) != (key, day):
            problem(key, f"on {_date(day)} are missing")
            continue
        if (int(have[4]), *have[5:]) != want:
            problem(key, f"on {_date(day)} do not match the messages")
        have = next(kept, None)
    while have is not None:
        unheld(have)
        have = next(kept, None)
    odd_have = {
        (r[0], r[1], r[2], int(r[3]))
        for r in reads.stream(
            "SELECT sender_kind, sender_platform, sender_value, message_id FROM contact_odd"
        )
    }
    for row in sorted(odd_have ^ set(odd_want)):
        problem(row, f"do not match message {row[3]}, whose time or channel is odd")
