"""The language flags of imported messages and of incident entries, kept in the diary: worked
out when a message is imported or an entry is written, and read by the pattern analysis
instead of searching every message and entry each time the pattern is shown; ``docket
verify`` works them out again and reports any difference.

Three tables (migration 0008; c0003 on a server):
- ``message_flag``: one row per place a language rule matched in a message not sent by the
  diary's owner: the flag, the words as written, and the message's time and sender (so the
  analysis needs no message rows), in the lexicon's scan order (``ordinal``);
- ``incident_flag``: the same for each incident's current text (what happened and their
  exact words); an edit replaces its rows, removing the incident removes them;
- ``flag_scan``: per kind ("message", "incident") and language, the lexicon version the rows
  were made with, and for messages ``through``: every message with an id up to it has been
  looked at with that version.

Messages never change once imported, so their rows stay right until the lexicon does. A
Docket with a new lexicon (or a diary that had messages before these tables) has no matching
state: the next import works the messages' flags out again inside its own transaction
(``prepare``), the next entry written works the entries' flags out again, and until then the
analysis scans as before (``message_hits`` and ``incident_hits`` return None; rows up to
``through`` are read and later messages searched).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from functools import cache
from typing import Any

from docket import flags as language

PAGE = 5000  # messages read at a time when every message is looked at again

# the message columns a flag row needs, in this order
_COLUMNS = "id, direction, body, sent_at, sender_kind, sender_platform, sender_value"


@dataclass(frozen=True)
class State:
    version: str
    through: int


@cache
def lexicons() -> tuple[language.Lexicon, ...]:
    """Every lexicon Docket has: each is kept for every diary."""
    return tuple(language.load(code) for code in language.available())


def state(raw: Any, what: str, code: str) -> State | None:
    row = raw.execute(
        "SELECT version, through FROM flag_scan WHERE what = ? AND language = ?", (what, code)
    ).fetchone()
    return None if row is None else State(str(row[0]), int(row[1]))


def _current(raw: Any, what: str, lexicon: language.Lexicon) -> State | None:
    """The state of ``lexicon``'s kept flags for ``what``, when they were made with its
    version; None when there are none, or they come from other word lists."""
    now = state(raw, what, lexicon.language)
    return now if now is not None and now.version == lexicon.version else None


def _lexicon(code: str, version: str) -> language.Lexicon | None:
    """The lexicon for ``code`` when this Docket's has ``version``."""
    return next((x for x in lexicons() if x.language == code and x.version == version), None)


def _rows(lexicon: language.Lexicon, messages: Iterable[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
    """message_flag rows for ``messages`` (rows of ``_COLUMNS``)."""
    out: list[tuple[Any, ...]] = []
    code = lexicon.language
    for mid, direction, body, sent_at, kind, platform, value in messages:
        if direction == "outgoing" or not body:
            continue
        for ordinal, match in enumerate(lexicon.scan(body)):
            out.append(
                (code, mid, ordinal, match.flag, match.words, sent_at, kind, platform, value)
            )
    return out


_INSERT = (
    "INSERT INTO message_flag (language, message_id, ordinal, flag, words, sent_at, "
    "sender_kind, sender_platform, sender_value) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
)


def _set_state(raw: Any, what: str, lexicon: language.Lexicon, through: int) -> None:
    raw.execute(
        "INSERT INTO flag_scan (what, language, version, through) VALUES (?, ?, ?, ?) "
        "ON CONFLICT (what, language) DO UPDATE SET version = excluded.version, "
        "through = excluded.through",
        (what, lexicon.language, lexicon.version, through),
    )


def prepare(raw: Any) -> None:
    """Before an import adds messages: make every lexicon's flags cover every message the
    diary holds: every message's again where none are kept for this lexicon's version
    (seconds for a million messages, once), and those past ``through`` where they fall
    short."""
    last = int(raw.execute("SELECT coalesce(max(id), 0) FROM message").fetchone()[0])
    for lexicon in lexicons():
        now = _current(raw, "message", lexicon)
        if now is not None and now.through >= last:
            continue
        if now is None:  # none kept, or by other word lists: every message again
            raw.execute("DELETE FROM message_flag WHERE language = ?", (lexicon.language,))
        after = 0 if now is None else now.through  # those up to it are kept already
        while True:
            page = raw.execute(
                f"SELECT {_COLUMNS} FROM message WHERE id > ? AND id <= ? ORDER BY id LIMIT ?",
                (after, last, PAGE),
            ).fetchall()
            if not page:
                break
            rows = _rows(lexicon, page)
            if rows:
                raw.executemany(_INSERT, rows)
            after = int(page[-1][0])
        _set_state(raw, "message", lexicon, last)


def add(raw: Any, first: int, last: int, messages: Iterable[tuple[Any, ...]]) -> None:
    """An import's new messages ``first`` to ``last``: the flags of ``messages`` (rows of
    ``_COLUMNS``: those of them that may have flags, the others may be left out), for each
    lexicon whose rows cover every message before them."""
    batch = list(messages)
    for lexicon in lexicons():
        now = _current(raw, "message", lexicon)
        if now is None or now.through != first - 1:
            continue  # not kept (yet) for this lexicon: the analysis searches instead
        rows = _rows(lexicon, batch)
        if rows:
            raw.executemany(_INSERT, rows)
        _set_state(raw, "message", lexicon, last)


def message_hits(
    raw: Any, lexicon: language.Lexicon, where: str, args: list[str]
) -> tuple[list[tuple[Any, ...]], int] | None:
    """The kept flags for ``lexicon`` whose ``sent_at`` passes ``where`` (a clause starting
    " AND ", over the column ``sent_at``), in message order, then text order, as rows
    (message id, flag, words, sent at, sender kind, platform, value); and the last message
    id they cover. None when none are kept for this lexicon's version."""
    now = _current(raw, "message", lexicon)
    if now is None:
        return None
    found = raw.execute(
        "SELECT message_id, flag, words, sent_at, sender_kind, sender_platform, "
        "sender_value FROM message_flag WHERE language = ? AND message_id <= ?"
        f"{where} ORDER BY message_id, ordinal",
        (lexicon.language, now.through, *args),
    ).fetchall()
    return found, now.through


# --- incident entries -------------------------------------------------------------------------


def incident_text(record: dict[str, Any]) -> str:
    """The words of an incident the language flags look at: what happened, and their exact
    words."""
    return "\n".join(x for x in (record.get("description"), record.get("exact_words")) if x)


_CURRENT_INCIDENTS = (
    "SELECT i.id, e.record FROM incident i JOIN entry e ON e.seq = i.current_seq "
    "WHERE NOT i.redacted AND e.record IS NOT NULL ORDER BY i.id"
)
_INSERT_INCIDENT = (
    "INSERT INTO incident_flag (language, incident_id, ordinal, flag, words) VALUES (?, ?, ?, ?, ?)"
)


def _incident_rows(
    lexicon: language.Lexicon, incident_id: int, record: dict[str, Any]
) -> list[tuple[Any, ...]]:
    return [
        (lexicon.language, incident_id, n, m.flag, m.words)
        for n, m in enumerate(lexicon.scan(incident_text(record)))
    ]


def keep_incident(raw: Any, incident_id: int, record: dict[str, Any] | None) -> None:
    """After an incident is written (``record``, its current version) or removed (None): its
    kept flags, for every lexicon; where a lexicon's kept flags are missing or from another
    version, every incident's are worked out again (entries are few: milliseconds)."""
    raw.execute("DELETE FROM incident_flag WHERE incident_id = ?", (incident_id,))
    for lexicon in lexicons():
        if _current(raw, "incident", lexicon) is not None:
            if record is not None:
                rows = _incident_rows(lexicon, incident_id, record)
                if rows:
                    raw.executemany(_INSERT_INCIDENT, rows)
            continue
        # the incident table already holds this write: rebuild from it
        raw.execute("DELETE FROM incident_flag WHERE language = ?", (lexicon.language,))
        for iid, text in raw.execute(_CURRENT_INCIDENTS).fetchall():
            rows = _incident_rows(lexicon, int(iid), json.loads(text))
            if rows:
                raw.executemany(_INSERT_INCIDENT, rows)
        _set_state(raw, "incident", lexicon, 0)


def incident_hits(raw: Any, lexicon: language.Lexicon) -> dict[int, list[tuple[str, str]]] | None:
    """Incident id -> its kept flags (flag, words), in text order; None when none are kept for
    this lexicon's version."""
    if _current(raw, "incident", lexicon) is None:
        return None
    out: dict[int, list[tuple[str, str]]] = {}
    for iid, flag, words in raw.execute(
        "SELECT incident_id, flag, words FROM incident_flag WHERE language = ? "
        "ORDER BY incident_id, ordinal",
        (lexicon.language,),
    ):
        out.setdefault(int(iid), []).append((flag, words))
    return out


def _check_incidents(reads: Any, report: Any, lexicon: language.Lexicon) -> None:
    kept: dict[int, list[tuple[Any, ...]]] = {}
    for row in reads.stream(
        "SELECT incident_id, ordinal, flag, words FROM incident_flag WHERE language = ? "
        "ORDER BY incident_id, ordinal",
        (lexicon.language,),
    ):
        kept.setdefault(int(row[0]), []).append((int(row[0]), int(row[1]), row[2], row[3]))

    def problem(iid: int, what: str) -> None:
        report.add(
            "table_changed",
            f"the {lexicon.language} language flags kept for incident {iid} {what}",
            None,
            f"incident/{iid}",
        )

    for iid, text in reads.stream(_CURRENT_INCIDENTS):
        want = [r[1:] for r in _incident_rows(lexicon, int(iid), json.loads(text))]
        if kept.pop(int(iid), []) != want:
            problem(int(iid), "do not match its words")
    for iid in sorted(kept):
        problem(iid, "are for an incident that is removed or not in the diary")


def check(reads: Any, report: Any) -> None:
    """``docket verify``: every kept flag against the message's or entry's words, worked out
    again.
    ``reads`` streams (integrity's reader); ``report.add`` records a problem."""
    for code, version, through in list(
        reads.execute(
            "SELECT language, version, through FROM flag_scan WHERE what = 'message' "
            "ORDER BY language"
        )
    ):
        lexicon = _lexicon(code, version)
        if lexicon is None:
            continue  # made by another version of the word lists: the analysis ignores them
        kept = iter(
            reads.stream(
                "SELECT message_id, ordinal, flag, words, sent_at, sender_kind, "
                "sender_platform, sender_value FROM message_flag WHERE language = ? "
                "ORDER BY message_id, ordinal",
                (code,),
            )
        )
        messages = reads.stream(
            f"SELECT {_COLUMNS} FROM message WHERE id <= ? ORDER BY id", (int(through),)
        )
        _compare(report, code, int(through), _expected(lexicon, messages), kept)
    for code, version in list(
        reads.execute("SELECT language, version FROM flag_scan WHERE what = 'incident'")
    ):
        lexicon = _lexicon(code, version)
        if lexicon is not None:
            _check_incidents(reads, report, lexicon)


def _expected(
    lexicon: language.Lexicon, messages: Iterable[tuple[Any, ...]]
) -> Iterator[tuple[int, list[tuple[Any, ...]]]]:
    for message in messages:
        rows = _rows(lexicon, [message])
        yield int(message[0]), [r[1:] for r in rows]


def _compare(
    report: Any,
    code: str,
    through: int,
    expected: Iterator[tuple[int, list[tuple[Any, ...]]]],
    kept: Iterator[Any],
) -> None:
    row = next(kept, None)
    bad: set[int] = set()

    def problem(mid: int, what: str) -> None:
        if mid not in bad:
            bad.add(mid)
            report.add(
                "table_changed",
                f"the {code} language flags kept for imported message {mid} {what}",
                None,
                f"message/{mid}",
            )

    for mid, want in expected:
        while row is not None and int(row[0]) < mid:
            problem(int(row[0]), "are for a message the diary does not hold")
            row = next(kept, None)
        have = []
        while row is not None and int(row[0]) == mid:
            have.append((int(row[0]), int(row[1]), *row[2:]))
            row = next(kept, None)
        if have != [tuple(w) for w in want]:
            problem(mid, "do not match its words")
    while row is not None:
        mid = int(row[0])
        what = (
            "are for a message the diary does not hold"
            if mid <= through
            else "are for a message not yet looked at"
        )
        problem(mid, what)
        row = next(kept, None)
