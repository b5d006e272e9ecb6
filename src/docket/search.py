"""Full-text search over the diary: imported messages and the current text of incidents, the
same on a diary file and on a case on a server.

A diary file searches the FTS5 indexes kept inside the encrypted file (migration 0005). The
message index reads its text from the message table and is kept in step by triggers; the
incident index holds each incident's current searchable text and is rewritten here whenever
an incident is written or removed. Removing an incident also merges the index, so the removed
words do not linger in older index segments.

A case on a server has PostgreSQL's own indexes instead (case migration c0001): a GIN index
over the words of each message body, and the plain table ``incident_fts`` (written here, as
on a file) with a GIN index over its text. PostgreSQL's parser does not cut text into words
quite as FTS5 does: it keeps e-mail and web addresses, file paths, host names and numbers with
a point or a sign whole, leaves out anything that looks like an HTML tag, and, depending on
the database's locale, may join words across characters that FTS5 treats as separators. So a
search on a server takes three steps. The index is asked for the texts that have every word
(or a word that starts so); the texts PostgreSQL may read differently (see :func:`differs`)
are found by looking for the words' letters in them; and every candidate is then matched, and
its snippet made, by SQLite's own FTS5 in memory with the very query a diary file runs. A
server so finds exactly the messages and incidents a diary file finds, with the same
snippets.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection
from sqlcipher3 import dbapi2

from docket import flags
from docket.ledger import log
from docket.store.base import dialect

# snippet markers: private-use characters, removed from the text before it is shown
MARK_START = "\ue000"
MARK_END = "\ue001"
_TOKEN = re.compile(r"\w+", re.UNICODE)
TOKENIZE = "unicode61 remove_diacritics 2"  # the diary file's FTS5 tokenizer (migration 0005)
MAX_WORDS = 20  # words of a search that are used; the rest are ignored
SNIPPET_TOKENS = 16

# PostgreSQL: the text-search configuration and the expressions its GIN indexes are built on
# (case migration c0001; a query must use the very same expression to use the index)
MESSAGE_VECTOR = "to_tsvector('public.docket_text'::regconfig, coalesce(m.body, ''))"
INCIDENT_VECTOR = "to_tsvector('public.docket_text'::regconfig, f.text)"
# Most candidates a search on a server checks one by one to count its matches exactly; a
# search with more counts what the index and the scan offer (a few may not match).
COUNT_EXACT = 20_000
_BATCH = 2_000


def incident_text(record: dict[str, Any]) -> str:
    """Everything a person might search an incident by, as one text."""
    parts: list[str] = [
        record.get("description", ""),
        record.get("exact_words", ""),
        (record.get("place") or {}).get("text", ""),
        " ".join(record.get("tags", ())),
        " ".join(f"{w.get('name', '')} {w.get('saw', '')}" for w in record.get("witnesses", ())),
        " ".join(t for t in record.get("targeted", ()) if t != "me"),
        (record.get("effect") or {}).get("details", ""),
        record.get("told_to_stop_details", ""),
        " ".join(
            f"{r.get('to', '')} {r.get('officer', '')} {r.get('reference', '')} "
            f"{r.get('outcome', '')}"
            for r in record.get("reported", ())
        ),
        " ".join(record.get("evidence_to_obtain", ())),
        record.get("orders", ""),
        record.get("private_notes", ""),
    ]
    return "\n".join(p for p in parts if p)


def index_incident(conn: Connection, incident_id: int, record: dict[str, Any] | None) -> None:
    """Put an incident's current text in the index, or take it out (``record`` None)."""
    raw = log.raw_connection(conn)
    raw.execute("DELETE FROM incident_fts WHERE rowid = ?", (incident_id,))
    if record is None:
        if dialect(conn) == "sqlite":
            raw.execute("INSERT INTO incident_fts(incident_fts) VALUES ('optimize')")
        return
    raw.execute(
        "INSERT INTO incident_fts(rowid, text) VALUES (?, ?)", (incident_id, incident_text(record))
    )


def rebuild_incidents(conn: Any) -> None:
    """Index every incident that is not removed, from its current log entry."""
    raw = log.raw_connection(conn)
    raw.execute("DELETE FROM incident_fts")
    rows = raw.execute(
        "SELECT i.id, e.record FROM incident i JOIN entry e ON e.seq = i.current_seq "
        "WHERE NOT i.redacted AND e.record IS NOT NULL"
    ).fetchall()
    for incident_id, record in rows:
        raw.execute(
            "INSERT INTO incident_fts(rowid, text) VALUES (?, ?)",
            (incident_id, incident_text(json.loads(record))),
        )


def match_expression(text: str) -> str | None:
    """An FTS5 query for what a person typed: every word must appear, each as a word or the
    start of one. Punctuation and FTS5 operators are taken as plain text. None if no words."""
    words = _TOKEN.findall(text)
    if not words:
        return None
    return " ".join('"' + w.replace('"', '""') + '"*' for w in words[:MAX_WORDS])


@dataclass(frozen=True)
class Hit:
    kind: str  # "message" | "incident"
    id: int
    when: str | None  # RFC 3339 UTC
    snippet: str  # the text around the match, with MARK_START/MARK_END around each match


_SNIPPET = f"snippet({{t}}, 0, '{MARK_START}', '{MARK_END}', '…', {SNIPPET_TOKENS})"


def search(conn: Connection, text: str, *, limit: int = 50) -> tuple[list[Hit], list[Hit], int]:
    """Messages and incidents that match (each list at most ``limit``), and how many messages
    match in all. Incidents come newest first. Messages come latest imported first (for one
    export, that is newest first) — so that a common word among a million messages is still
    answered at once, without sorting every match by time."""
    query = match_expression(text)
    if query is None:
        return [], [], 0
    if dialect(conn) == "postgresql":
        return _search_server(conn, query, text, limit)
    raw = log.raw_connection(conn)
    # FTS5 hands back matches in rowid order itself, so LIMIT stops it early: no sort
    messages = [
        Hit("message", r[0], r[1], r[2])
        for r in raw.execute(
            f"SELECT m.id, m.sent_at, {_SNIPPET.format(t='message_fts')} FROM message_fts "
            "JOIN message m ON m.id = message_fts.rowid WHERE message_fts MATCH ? "
            "ORDER BY message_fts.rowid DESC LIMIT ?",
            (query, limit),
        )
    ]
    total = len(messages)
    if total == limit:
        total = int(
            raw.execute(
                "SELECT count(*) FROM message_fts WHERE message_fts MATCH ?", (query,)
            ).fetchone()[0]
        )
    incidents = [
        Hit("incident", r[0], r[1], r[2])
        for r in raw.execute(
            f"SELECT i.id, i.occurred_start, {_SNIPPET.format(t='incident_fts')} FROM incident_fts "
            "JOIN incident i ON i.id = incident_fts.rowid WHERE incident_fts MATCH ? "
            "AND NOT i.redacted ORDER BY i.occurred_start DESC, i.id DESC LIMIT ?",
            (query, limit),
        )
    ]
    return messages, incidents, total


# --- PostgreSQL ------------------------------------------------------------------------------


def tsquery_term(folded: str) -> str:
    """A word, folded as FTS5 folds it, as a PostgreSQL tsquery term that also matches every
    longer word starting so: ``'kill':*``."""
    return "'" + folded.replace("\\", "\\\\").replace("'", "''") + "':*"


# Where PostgreSQL's parser reads ASCII text differently from FTS5 (each found with a fuzzer
# over random text and checked by the tests): "/", "~" and "@" make file paths, web and e-mail
# addresses; "<" and "&" start tags and entities, which are left out; a sign makes a digit
# part of a number ("-5"); a point between letters or digits makes a host name, version or
# decimal ("docket.org", "1.5"), as does an exponent ("1e5"); and a word of more than 2,047
# bytes is left out whole. Any character beyond ASCII that is not on the list below is taken
# as read differently too.
_ASCII_DIFFERS = (
    "[/~@]",
    "[<&][^[:space:]]",
    "[-+][0-9]",
    "[A-Za-z0-9][._-]*[.][._-]*[A-Za-z0-9_]",
    "[0-9][eE][-+]?[0-9]",
    "[^[:space:]]{255}",
)

# Characters beyond ASCII that are common in messages and that both FTS5 and PostgreSQL (in
# most locales) take as separators: spaces, punctuation, currency, arrows, symbols, emoji.
# Each is checked against FTS5 and against the database (see ``_separators``) before it is
# trusted. All were assigned in Unicode long before the SQLite and PostgreSQL versions
# Docket runs on, so every version classifies them alike.
_SEPARATOR_RANGES: tuple[tuple[int, int], ...] = (
    (0x00A0, 0x00BF),  # Latin-1 spaces, punctuation and symbols (the letters are dropped)
    (0x00D7, 0x00D7),
    (0x00F7, 0x00F7),
    (0x2000, 0x2064),  # general punctuation: spaces, dashes, quotes, bullets, ellipsis
    (0x20A0, 0x20BF),  # currency
    (0x2190, 0x23F3),  # arrows, mathematical and technical symbols
    (0x2500, 0x27BF),  # box drawing, shapes, miscellaneous symbols, dingbats
    (0x2900, 0x2BFF),  # more arrows and symbols
    (0x3000, 0x3003),  # ideographic space and punctuation
    (0xFE0E, 0xFE0F),  # variation selectors (FTS5 drops them, like accents)
    (0x1F000, 0x1F2FF),  # game symbols, enclosed characters
    (0x1F300, 0x1F6FF),  # emoji
    (0x1F900, 0x1F9FF),  # more emoji
    (0x1FA70, 0x1FAFF),
)


def _candidates() -> list[str]:
    return [chr(c) for lo, hi in _SEPARATOR_RANGES for c in range(lo, hi + 1)]


def differs(conn: Connection) -> str:
    """A PostgreSQL regular expression that finds every text whose words PostgreSQL's parser
    may not find as FTS5 finds them. Any text it does not find has each of its FTS5 words at
    the start of one of PostgreSQL's, so ``'word':*`` in the index finds it.

    Worked out once per database connection: which characters beyond ASCII the database
    itself takes as separators depends on its locale."""
    info = conn.connection.info
    found: str | None = info.get("docket_differs")
    if found is None:
        found = info["docket_differs"] = _differs(conn)
    return found


def _differs(conn: Connection) -> str:
    folds = flags.folds(_candidates())
    # FTS5's separators, and the marks it drops (as it drops accents), which join the letters
    # either side of them into one word
    separate = [c for c, f in folds.items() if f is None]
    dropped = [c for c, f in folds.items() if f == ""]
    everywhere = _separators(conn, separate + dropped, _EVERYWHERE)
    # PostgreSQL joins some marks (the emoji variation selector) to a letter before them,
    # as it joins accents, and separates them anywhere else
    rest = [c for c in separate + dropped if c not in everywhere]
    unless_after = _separators(conn, rest, _UNLESS_AFTER_A_WORD)
    trusted = [c for c in separate if c in everywhere]
    after = [c for c in dropped if c in everywhere] + sorted(unless_after)
    parts = [f"[^\\u0001-\\u007f{_ranges(trusted + after)}]", *_ASCII_DIFFERS]
    if after:
        parts.append(f"[A-Za-z0-9][{_ranges(after)}]")
    return "|".join(parts)


# Texts that probe how the database's parser treats a character (written here as "c"), and
# the words it must then find: between letters and digits, and before and after a word; or
# only where no letter or digit comes just before it.
_EVERYWHERE = (
    "'ab' || c || 'cd 12' || c || '34 ' || c || 'ef ' || c || 'x' || c",
    "12 34 ab cd ef x",
)
_UNLESS_AFTER_A_WORD = ("' ' || c || 'ab ' || c || '12 .' || c || 'cd ' || c", "12 ab cd")


def _separators(conn: Connection, chars: Sequence[str], probe: tuple[str, str]) -> set[str]:
    """The characters the database's parser takes as separators in the probe's places."""
    if not chars:
        return set()
    raw = log.raw_connection(conn)
    rows = raw.execute(
        "SELECT c FROM unnest(CAST(? AS text[])) AS c "
        f"WHERE tsvector_to_array(to_tsvector('public.docket_text'::regconfig, {probe[0]})) "
        "= CAST(? AS text[])",
        (list(chars), probe[1].split()),
    ).fetchall()
    return {r[0] for r in rows}


def _ranges(chars: Iterable[str]) -> str:
    """Characters as the inside of a regular expression's bracket, in runs: \\uXXXX-\\uYYYY."""
    points = sorted({ord(c) for c in chars})
    out: list[str] = []
    i = 0
    while i < len(points):
        j = i
        while j + 1 < len(points) and points[j + 1] == points[j] + 1:
            j += 1
        out.append(_escape(points[i]) + ("" if j == i else "-" + _escape(points[j])))
        i = j + 1
    return "".join(out)


def _escape(point: int) -> str:
    return f"\\u{point:04x}" if point <= 0xFFFF else f"\\U{point:08x}"


class _Exact:
    """SQLite's own FTS5, in memory, with the diary file's tokenizer: which candidates match a
    query and their snippets, exactly as a diary file would give them. The texts stay in this
    process's memory (no file, no temporary file) and are gone when it is closed."""

    def __init__(self, query: str) -> None:
        self._query = query
        self._conn = dbapi2.connect(":memory:")
        self._conn.execute("PRAGMA temp_store = MEMORY")
        self._conn.execute(f"CREATE VIRTUAL TABLE doc USING fts5(body, tokenize='{TOKENIZE}')")

    def _load(self, rows: Iterable[tuple[int, str | None]]) -> None:
        self._conn.execute("DELETE FROM doc")
        self._conn.executemany(
            "INSERT INTO doc(rowid, body) VALUES (?, ?)", [r for r in rows if r[1] is not None]
        )

    def snippets(self, rows: Iterable[tuple[int, str | None]]) -> dict[int, str]:
        """The rows that match, by id, with their snippets."""
        self._load(rows)
        return dict(
            self._conn.execute(
                f"SELECT rowid, {_SNIPPET.format(t='doc')} FROM doc WHERE doc MATCH ?",
                (self._query,),
            ).fetchall()
        )

    def count(self, rows: Iterable[tuple[int, str | None]]) -> int:
        self._load(rows)
        return int(
            self._conn.execute(
                "SELECT count(*) FROM doc WHERE doc MATCH ?", (self._query,)
            ).fetchone()[0]
        )

    def close(self) -> None:
        self._conn.close()


@dataclass(frozen=True)
class _Server:
    """One search on a server: the index's query, and the scan for texts it may miss."""

    tsquery: str  # every word (or a word starting so), as the index has words
    differs: str  # the texts PostgreSQL may read differently (see differs())
    folded: tuple[str, ...]  # each word, folded as FTS5 folds it: all are in any match

    def where(self, column: str, vector: str) -> tuple[str, str, list[Any]]:
        """The index's condition, and the scan's (with its arguments)."""
        letters = " AND ".join(
            f"strpos(lower(public.unaccent({column})), lower(public.unaccent(?))) > 0"
            for _ in self.folded
        )
        return (
            f"{vector} @@ CAST(? AS tsquery)",
            f"{column} ~ ? AND {letters}",
            [self.differs, *self.folded],
        )


def _server_query(conn: Connection, text: str) -> _Server | None:
    """The PostgreSQL side of a search, or None when no word of it is a word to FTS5 either
    (FTS5 then finds nothing)."""
    folded = [t for w in _TOKEN.findall(text)[:MAX_WORDS] for t in flags.words(w)]
    if not folded:
        return None
    unique = tuple(dict.fromkeys(folded))
    return _Server(
        tsquery=" & ".join(tsquery_term(t) for t in unique), differs=differs(conn), folded=unique
    )


def _search_server(
    conn: Connection, query: str, text: str, limit: int
) -> tuple[list[Hit], list[Hit], int]:
    server = _server_query(conn, text)
    if server is None or limit <= 0:
        return [], [], 0
    raw = log.raw_connection(conn)
    exact = _Exact(query)
    try:
        messages = _server_messages(raw, server, exact, limit)
        total = len(messages)
        if total == limit:
            total = _server_count(raw, server, exact)
        incidents = _server_incidents(raw, server, exact, limit)
    finally:
        exact.close()
    return messages, incidents, total


def _server_messages(raw: Any, server: _Server, exact: _Exact, limit: int) -> list[Hit]:
    """The latest ``limit`` messages that match, newest id first: candidates a page at a time,
    each page checked by FTS5."""
    index, scan, scan_args = server.where("m.body", MESSAGE_VECTOR)
    page = max(limit + limit // 4, 64)
    found: list[Hit] = []
    below: int | None = None
    while len(found) < limit:
        keyset = "" if below is None else " AND m.id < ?"
        upper = [] if below is None else [below]
        rows = raw.execute(
            "SELECT id, sent_at, body FROM ("
            f"SELECT m.id, m.sent_at, m.body FROM message m WHERE {index}{keyset} "
            "UNION ALL "
            f"SELECT m.id, m.sent_at, m.body FROM message m WHERE {scan}{keyset}"
            ") AS c ORDER BY id DESC LIMIT ?",
            [server.tsquery, *upper, *scan_args, *upper, page],
        ).fetchall()
        if not rows:
            break
        unique = list({r[0]: r for r in rows}.values())
        snippets = exact.snippets((r[0], r[2]) for r in unique)
        for mid, sent_at, _body in unique:
            snippet = snippets.get(mid)
            if snippet is not None:
                found.append(Hit("message", mid, sent_at, snippet))
                if len(found) == limit:
                    break
        if len(rows) < page:
            break
        below = rows[-1][0]
    return found


def _server_count(raw: Any, server: _Server, exact: _Exact) -> int:
    """How many messages match: exactly, each candidate checked by FTS5, when there are at
    most COUNT_EXACT candidates; otherwise the candidates' count."""
    index, scan, scan_args = server.where("m.body", MESSAGE_VECTOR)
    union = (
        f"SELECT m.id, m.body FROM message m WHERE {index} "
        f"UNION SELECT m.id, m.body FROM message m WHERE {scan}"
    )
    args = [server.tsquery, *scan_args]
    rows = raw.execute(f"{union} LIMIT ?", [*args, COUNT_EXACT + 1]).fetchall()
    if len(rows) > COUNT_EXACT:
        return int(raw.execute(f"SELECT count(*) FROM ({union}) AS c", args).fetchone()[0])
    return sum(exact.count(batch) for batch in _batches(rows, _BATCH))


def _server_incidents(raw: Any, server: _Server, exact: _Exact, limit: int) -> list[Hit]:
    """The incidents that match, latest first (a diary holds hundreds, not millions, so every
    candidate is fetched and checked)."""
    index, scan, scan_args = server.where("f.text", INCIDENT_VECTOR)
    rows = raw.execute(
        "SELECT i.id, i.occurred_start, f.text FROM incident_fts f "
        "JOIN incident i ON i.id = f.rowid "
        f"WHERE NOT i.redacted AND (({index}) OR ({scan})) "
        "ORDER BY i.occurred_start DESC, i.id DESC",
        [server.tsquery, *scan_args],
    ).fetchall()
    found: list[Hit] = []
    for batch in _batches(rows, _BATCH):
        snippets = exact.snippets((r[0], r[2]) for r in batch)
        for iid, when, _text in batch:
            snippet = snippets.get(iid)
            if snippet is not None:
                found.append(Hit("incident", iid, when, snippet))
                if len(found) == limit:
                    return found
    return found


def _batches(rows: Sequence[Any], size: int) -> Iterator[Sequence[Any]]:
    for start in range(0, len(rows), size):
        yield rows[start : start + size]


__all__ = [
    "MARK_END",
    "MARK_START",
    "Hit",
    "differs",
    "index_incident",
    "match_expression",
    "search",
    "tsquery_term",
]
