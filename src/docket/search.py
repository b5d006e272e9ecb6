"""Full-text search over the diary: imported messages and the current text of incidents, the
same on a diary file and on a case on a server.

A diary file searches the FTS5 indexes kept inside the encrypted file (migration 0005). The
message index reads its text from the message table; the import pipeline adds each batch
of new messages to it (migration 0007) and a trigger removes a deleted message's words; the
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


# Where PostgreSQL's parser reads text differently from FTS5, found with a fuzzer over random
# text and checked by the tests (``{w}`` stands for a letter or digit): "/", "~" and "@" make
# file paths, web and e-mail addresses; "<" and "&" start tags and entities, which are left
# out; a sign makes a digit part of a number ("-5"); a point after a letter or digit, before
# another or "_", makes a host name, file name, version or decimal ("docket.org", "1.5"), as
# does an exponent ("1e5"); and a word of letters beyond ASCII with digits ("café2") is kept
# without its accents removed. Every character beyond ASCII that is not shown, by asking both
# FTS5 and the database, to be read alike is taken as read differently too.
_RULES = (
    "[/~@]",
    "[<&][^[:space:]]",
    "[-+][0-9]",
    "[{w}][._-]*[.][._-]*[{w}_]",
    "[0-9][eE][-+]?[0-9]",
)
# ... and a word of more than 2,047 bytes is left out whole: a text that long is looked at
# for a run of 255 characters without a space (a longer pattern is costly to run on every
# message, and PostgreSQL's patterns count to 255 at most)
_LONG_RUN = "[^[:space:]]{255}"
_LONG_TEXT = 2047

# Characters beyond ASCII that are common in messages and that both FTS5 and PostgreSQL (in
# most locales) take as separators: spaces, punctuation, currency, arrows, symbols, emoji.
# Each is checked against FTS5 and against the database (see ``_probe``) before it is
# trusted. All were assigned in Unicode long before the SQLite and PostgreSQL versions Docket
# runs on, so every version classifies them alike.
_SEPARATOR_RANGES: tuple[tuple[int, int], ...] = (
    (0x00A0, 0x00BF),  # Latin-1 spaces, punctuation and symbols
    (0x00D7, 0x00D7),
    (0x00F7, 0x00F7),
    (0x2000, 0x2064),  # general punctuation: spaces, dashes, quotes, bullets, ellipsis
    (0x20A0, 0x20BF),  # currency
    (0x2190, 0x23F3),  # arrows, mathematical and technical symbols
    (0x2500, 0x27BF),  # box drawing, shapes, miscellaneous symbols, dingbats
    (0x2900, 0x2BFF),  # more arrows and symbols
    (0x3000, 0x3003),  # ideographic space and punctuation
    (0xFE0E, 0xFE0F),  # variation selectors
    (0x1F000, 0x1F2FF),  # game symbols, enclosed characters
    (0x1F300, 0x1F6FF),  # emoji
    (0x1F900, 0x1F9FF),  # more emoji
    (0x1FA70, 0x1FAFF),
)
# Letters with accents (and the accents themselves) that both fold alike in most locales:
# "é" is "e" to both. Checked the same way.
_LETTER_RANGES: tuple[tuple[int, int], ...] = (
    (0x00C0, 0x00D6),  # Latin-1 letters
    (0x00D8, 0x00F6),
    (0x00F8, 0x00FF),
    (0x0100, 0x024F),  # Latin Extended-A and -B
    (0x0300, 0x036F),  # combining accents
    (0x1E00, 0x1EFF),  # Latin Extended Additional
)


_PATTERNS: dict[str, str] = {}  # database URL -> its pattern (see differs)


def _chars(ranges: tuple[tuple[int, int], ...]) -> list[str]:
    return [chr(c) for lo, hi in ranges for c in range(lo, hi + 1)]


def differs(conn: Connection, column: str) -> tuple[str, list[str]]:
    """An SQL condition (and its arguments) that holds for every text in ``column`` whose
    words PostgreSQL's parser may not find as FTS5 finds them. For any text it does not hold
    for, each word FTS5 finds is one of the words the database's index holds for it, so
    ``'word'`` and ``'word':*`` in the index find it exactly as FTS5 does.

    Worked out once for each database (which characters beyond ASCII the database reads as
    FTS5 does depends on its locale), on first use."""
    key = conn.engine.url.render_as_string(hide_password=True)
    pattern = _PATTERNS.get(key)
    if pattern is None:
        pattern = _PATTERNS[key] = _pattern(conn)
    return (
        f"({column} ~ ? OR (octet_length({column}) > {_LONG_TEXT} AND {column} ~ ?))",
        [pattern, _LONG_RUN],
    )


def _pattern(conn: Connection) -> str:
    separators = _chars(_SEPARATOR_RANGES)
    letters = _chars(_LETTER_RANGES)
    folds = flags.folds(separators)
    # where the database reads a character as FTS5 does: in every place, or (some marks,
    # such as the emoji variation selector, which PostgreSQL joins to a letter before them as
    # it joins accents) in every place but straight after a letter or digit
    everywhere = _probe(conn, [c for c in separators if folds[c] is None], _EVERYWHERE)
    rest = [c for c in separators if folds[c] in (None, "") and c not in everywhere]
    unless_after = _probe(conn, rest, _UNLESS_AFTER_A_WORD)
    alike = _probe(conn, letters, _IN_A_WORD)
    word = "A-Za-z0-9" + _ranges(alike)
    parts = [f"[^\\u0001-\\u007f{_ranges([*everywhere, *unless_after, *alike])}]"]
    parts += [rule.replace("{w}", word) for rule in _RULES]
    if alike:
        # in a word with digits, PostgreSQL keeps the accents
        letters_only = _ranges(alike)
        parts.append(f"[0-9][{word}]*[{letters_only}]|[{letters_only}][{word}]*[0-9]")
    if unless_after:
        parts.append(f"[{word}][{_ranges(unless_after)}]")
    return "|".join(parts)


# Texts that probe how the database's parser reads a character ``c``: as a separator between
# letters and digits and before and after a word; as a separator where no letter or digit
# comes just before it; or as a letter, inside, before and after a word and in a hyphenated
# word. (The words the database finds in them are compared with FTS5's.)
_EVERYWHERE = "ab{c}cd 12{c}34 {c}ef x{c}"
_UNLESS_AFTER_A_WORD = " {c}ab {c}12 .{c}cd {c}"
_IN_A_WORD = "ab{c}cd {c}xy xy{c} x-{c}y {c} {c}{c}"


def _probe(conn: Connection, chars: Sequence[str], probe: str) -> set[str]:
    """The characters for which the database finds every word FTS5 finds in the probe's
    text (and, for separators, no more)."""
    if not chars:
        return set()
    texts = [probe.replace("{c}", c) for c in chars]
    rows = (
        log.raw_connection(conn)
        .execute(
            "SELECT tsvector_to_array(to_tsvector('public.docket_text'::regconfig, t)) "
            "FROM unnest(CAST(? AS text[])) WITH ORDINALITY AS u(t, n) ORDER BY n",
            (texts,),
        )
        .fetchall()
    )
    found: set[str] = set()
    for c, text, (lexemes,) in zip(chars, texts, rows, strict=True):
        words = set(flags.words(text))
        if words <= set(lexemes) and (probe is _IN_A_WORD or words == set(lexemes)):
            found.add(c)
    return found


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

    def snippets(self, rows: Iterable[tuple[int, str | None]]) -> dict[int, str]:
        """The rows that match, by id, with their snippets."""
        self._conn.execute("DELETE FROM doc")
        self._conn.executemany(
            "INSERT INTO doc(rowid, body) VALUES (?, ?)", [r for r in rows if r[1] is not None]
        )
        return dict(
            self._conn.execute(
                f"SELECT rowid, {_SNIPPET.format(t='doc')} FROM doc WHERE doc MATCH ?",
                (self._query,),
            ).fetchall()
        )

    def close(self) -> None:
        self._conn.close()


@dataclass(frozen=True)
class _Server:
    """One search on a server: its words, folded as FTS5 folds them."""

    words: tuple[tuple[str, ...], ...]  # each word of the search, as FTS5's words

    @property
    def tsquery(self) -> str:
        """Every word (or a word starting so), as the index has words."""
        return " & ".join(tsquery_term(t) for t in self.folded)

    @property
    def folded(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(t for word in self.words for t in word))

    @property
    def phrases(self) -> bool:
        """Whether a word of the search is several words to FTS5 ("foo_bar"), which it
        finds only together and in order; the index is asked for them anywhere."""
        return any(len(word) > 1 for word in self.words)

    def letters(self, column: str) -> str:
        """That ``column`` has each word's letters, whatever its case and accents."""
        return " AND ".join(
            f"strpos(lower(public.unaccent({column})), lower(public.unaccent(?))) > 0"
            for _ in self.folded
        )


def _search_server(
    conn: Connection, query: str, text: str, limit: int
) -> tuple[list[Hit], list[Hit], int]:
    # each word as FTS5 reads it: "foo_bar" is two words to it, and "_" none (and ignored)
    words = (tuple(flags.words(w)) for w in _TOKEN.findall(text)[:MAX_WORDS])
    server = _Server(tuple(w for w in words if w))
    if not server.words or limit <= 0:
        return [], [], 0
    raw = log.raw_connection(conn)
    exact = _Exact(query)
    try:
        messages, total = _server_messages(conn, raw, server, exact, limit)
        incidents = _server_incidents(conn, raw, server, exact, limit)
    finally:
        exact.close()
    return messages, incidents, total


def _server_messages(
    conn: Connection, raw: Any, server: _Server, exact: _Exact, limit: int
) -> tuple[list[Hit], int]:
    """The latest ``limit`` messages that match, newest id first, and how many match.

    The texts the index may not read as FTS5 does, and that have the words' letters, are
    fetched and checked first (one pass over the table); the index then offers the rest a
    page at a time, each page checked by FTS5 too (so the hits are exact). The count is the
    index's, less the texts it offered that FTS5 does not match, plus those it missed."""
    differs_sql, differs_args = differs(conn, "m.body")
    index = f"{MESSAGE_VECTOR} @@ CAST(? AS tsquery)"
    other_rows = raw.execute(
        f"SELECT m.id, m.sent_at, m.body, {index} FROM message m "
        f"WHERE {differs_sql} AND {server.letters('m.body')} ORDER BY m.id DESC",
        [server.tsquery, *differs_args, *server.folded],
    ).fetchall()
    other: dict[int, Hit] = {}
    for batch in _batches(other_rows, _BATCH):
        snippets = exact.snippets((r[0], r[2]) for r in batch)
        other.update(
            (r[0], Hit("message", r[0], r[1], snippets[r[0]])) for r in batch if r[0] in snippets
        )
    checked = {r[0] for r in other_rows}
    found: list[Hit] = []
    pending = iter(other.values())  # newest first
    waiting = next(pending, None)
    page = max(limit + limit // 4, 64)
    below: int | None = None
    while len(found) < limit:
        keyset = "" if below is None else " AND m.id < ?"
        # "OFFSET 0" keeps the planner on the index: walking the table backwards by id
        # until enough rows match looks cheap to it, and is slow for a rare word
        rows = raw.execute(
            "SELECT m.id, m.sent_at, m.body FROM message m WHERE m.id IN ("
            "SELECT id FROM (SELECT m.id FROM message m "
            f"WHERE {index}{keyset} OFFSET 0) AS s ORDER BY id DESC LIMIT ?) "
            "ORDER BY m.id DESC",
            [server.tsquery, *([] if below is None else [below]), page],
        ).fetchall()
        offered = [r for r in rows if r[0] not in checked]
        snippets = exact.snippets((r[0], r[2]) for r in offered)
        for mid, sent_at, _body in offered:
            while waiting is not None and waiting.id > mid and len(found) < limit:
                found.append(waiting)
                waiting = next(pending, None)
            if mid in snippets and len(found) < limit:
                found.append(Hit("message", mid, sent_at, snippets[mid]))
        if len(rows) < page:
            break
        below = rows[-1][0]
    while waiting is not None and len(found) < limit:
        found.append(waiting)
        waiting = next(pending, None)
    if len(found) < limit:
        return found, len(found)
    # how many match: what the index offers, less the texts it offered that were checked
    # one by one, plus those that matched
    offered_total = int(
        raw.execute(f"SELECT count(*) FROM message m WHERE {index}", [server.tsquery]).fetchone()[0]
    )
    total = offered_total - sum(1 for r in other_rows if r[3]) + len(other)
    if server.phrases:
        total = _phrase_count(raw, server, exact, index, checked, total)
    return found, total


def _phrase_count(
    raw: Any, server: _Server, exact: _Exact, index: str, checked: set[int], estimate: int
) -> int:
    """The count for a search with a word that is several words to FTS5: the index offers
    texts with those words anywhere, so each is checked (up to COUNT_EXACT of them; beyond
    that, the index's count stands)."""
    if estimate > COUNT_EXACT:
        return estimate
    rows = [
        r
        for r in raw.execute(
            f"SELECT m.id, m.body FROM message m WHERE {index}", [server.tsquery]
        ).fetchall()
        if r[0] not in checked
    ]
    matched = sum(len(exact.snippets(batch)) for batch in _batches(rows, _BATCH))
    return estimate - len(rows) + matched


def _server_incidents(
    conn: Connection, raw: Any, server: _Server, exact: _Exact, limit: int
) -> list[Hit]:
    """The incidents that match, latest first (a diary holds hundreds, not millions, so
    every candidate is fetched and checked)."""
    differs_sql, differs_args = differs(conn, "f.text")
    rows = raw.execute(
        "SELECT i.id, i.occurred_start, f.text FROM incident_fts f "
        "JOIN incident i ON i.id = f.rowid "
        f"WHERE NOT i.redacted AND ({INCIDENT_VECTOR} @@ CAST(? AS tsquery) "
        f"OR ({differs_sql} AND {server.letters('f.text')})) "
        "ORDER BY i.occurred_start DESC, i.id DESC",
        [server.tsquery, *differs_args, *server.folded],
    ).fetchall()
    found: list[Hit] = []
    for batch in _batches(rows, _BATCH):
        snippets = exact.snippets((r[0], r[2]) for r in batch)
        for iid, when, _text in batch:
            if iid in snippets:
                found.append(Hit("incident", iid, when, snippets[iid]))
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
