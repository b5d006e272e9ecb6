"""Full-text search over the diary: imported messages and the current text of incidents,
through the FTS5 indexes kept inside the encrypted file (migration 0005).

The message index reads its text from the message table and is kept in step by triggers; the
incident index holds each incident's current searchable text and is rewritten here whenever
an incident is written or removed. Removing an incident also merges the index, so the removed
words do not linger in older index segments.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection

from docket.ledger import log

# snippet markers: private-use characters, removed from the text before it is shown
MARK_START = "\ue000"
MARK_END = "\ue001"
_TOKEN = re.compile(r"\w+", re.UNICODE)


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
    return " ".join('"' + w.replace('"', '""') + '"*' for w in words[:20])


@dataclass(frozen=True)
class Hit:
    kind: str  # "message" | "incident"
    id: int
    when: str | None  # RFC 3339 UTC
    snippet: str  # the text around the match, with MARK_START/MARK_END around each match


def search(conn: Connection, text: str, *, limit: int = 50) -> tuple[list[Hit], list[Hit], int]:
    """Messages and incidents that match (each list at most ``limit``), and how many messages
    match in all. Incidents come newest first. Messages come latest imported first (for one
    export, that is newest first) — so that a common word among a million messages is still
    answered at once, without sorting every match by time."""
    query = match_expression(text)
    if query is None:
        return [], [], 0
    raw = log.raw_connection(conn)
    snippet = f"snippet({{t}}, 0, '{MARK_START}', '{MARK_END}', '…', 16)"
    # FTS5 hands back matches in rowid order itself, so LIMIT stops it early: no sort
    messages = [
        Hit("message", r[0], r[1], r[2])
        for r in raw.execute(
            f"SELECT m.id, m.sent_at, {snippet.format(t='message_fts')} FROM message_fts "
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
            f"SELECT i.id, i.occurred_start, {snippet.format(t='incident_fts')} FROM incident_fts "
            "JOIN incident i ON i.id = incident_fts.rowid WHERE incident_fts MATCH ? "
            "AND NOT i.redacted ORDER BY i.occurred_start DESC, i.id DESC LIMIT ?",
            (query, limit),
        )
    ]
    return messages, incidents, total


__all__ = ["MARK_END", "MARK_START", "Hit", "index_incident", "match_expression", "search"]
