"""Reading the diary back in time order: imported messages and calls (each with the person in
the register its sender resolves to, by phone number, e-mail address or account name, at the
time of reading), a message in the context of its conversation, and the one timeline that
merges incidents with messages, page by page."""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from typing import Any

from docket.errors import RecordNotFound
from docket.importers.base import locator
from docket.ledger import log
from docket.log_records import files_added
from docket.store.base import dialect


@dataclass(frozen=True)
class MessageView:
    id: int
    source_id: int
    kind: str
    channel: str
    direction: str
    sender_raw: str | None
    person_id: int | None
    person_name: str | None
    sent_at: str | None
    local_time: str
    time_note: str | None
    body: str | None
    deleted: bool
    call_type: str | None
    duration_s: int | None
    attachments: list[dict[str, Any]]
    locator: str
    thread: str | None = None

    def as_json(self) -> dict[str, Any]:
        return dict(self.__dict__)


_SELECT = (
    "SELECT m.id, m.source_id, m.kind, m.channel, m.direction, m.sender_raw, i.person_id, "
    "p.name, m.sent_at, m.local_time, m.time_note, m.body, m.deleted, m.call_type, "
    "m.duration_s, m.attachments, m.line, m.offset, m.thread FROM message m "
    "LEFT JOIN identifier i ON i.kind = m.sender_kind AND i.platform = m.sender_platform "
    "AND i.value = m.sender_value LEFT JOIN person p ON p.id = i.person_id "
)


def _view(r: Any) -> MessageView:
    return MessageView(
        id=r[0],
        source_id=r[1],
        kind=r[2],
        channel=r[3],
        direction=r[4],
        sender_raw=r[5],
        person_id=r[6],
        person_name=r[7],
        sent_at=r[8],
        local_time=r[9],
        time_note=r[10],
        body=r[11],
        deleted=bool(r[12]),
        call_type=r[13],
        duration_s=r[14],
        attachments=json.loads(r[15]),
        locator=locator(r[16], r[17]),
        thread=r[18],
    )


def _with_added(raw: Any, views: list[MessageView]) -> list[MessageView]:
    """The messages with the files later imports added to them (see
    ``importer._Writer.add_files``) in the places their records left empty, each saying
    which import added it (``added``: source, its file name, the log entry, when)."""
    listing = [v.id for v in views if v.attachments]
    if not listing:
        return views
    added = files_added(raw, None if len(listing) > 2000 else listing)
    if not added:
        return views
    wanted = sorted({f.source_id for v in views for f in added.get(v.id, ())})
    names = dict(
        raw.execute(
            f"SELECT id, name FROM source WHERE id IN ({', '.join('?' * len(wanted))})", wanted
        ).fetchall()
        if wanted
        else ()
    )
    out = []
    for v in views:
        later = added.get(v.id)
        if not later:
            out.append(v)
            continue
        files = [dict(a) for a in v.attachments]
        for f in later:
            if 0 <= f.idx < len(files):
                files[f.idx] = {
                    **files[f.idx],
                    "name": files[f.idx].get("name") or f.name,
                    "sha256": f.sha256,
                    "size": f.size,
                    "media_type": f.media_type,
                    "declared_type": f.declared_type,
                    "note": None,
                    "added": {
                        "source": f.source_id,
                        "source_name": names.get(f.source_id),
                        "entry": f.seq,
                        "recorded_at": f.recorded_at,
                    },
                }
        out.append(replace(v, attachments=files))
    return out


def messages(
    conn: Any,
    *,
    source_id: int | None = None,
    person_id: int | None = None,
    limit: int | None = None,
    newest_first: bool = False,
) -> list[MessageView]:
    where, args = [], []
    if source_id is not None:
        where.append("m.source_id = ?")
        args.append(source_id)
    if person_id is not None:
        where.append("i.person_id = ?")
        args.append(person_id)
    order = "DESC" if newest_first else "ASC"
    if dialect(conn) == "postgresql":
        # where SQLite puts messages without a time: first, oldest first; last, newest first
        order += " NULLS LAST" if newest_first else " NULLS FIRST"
    sql = (
        _SELECT
        + ("WHERE " + " AND ".join(where) + " " if where else "")
        + f"ORDER BY m.sent_at {order}, m.id"
        + (" LIMIT ?" if limit is not None else "")
    )
    if limit is not None:
        args.append(limit)
    raw = log.raw_connection(conn)
    return _with_added(raw, [_view(r) for r in raw.execute(sql, args)])


def message(conn: Any, message_id: int) -> MessageView:
    raw = log.raw_connection(conn)
    return _with_added(raw, [_stored_message(raw, message_id)])[0]


def _stored_message(raw: Any, message_id: int) -> MessageView:
    """The message as its row holds it (without files added to it later)."""
    row = raw.execute(_SELECT + "WHERE m.id = ?", (message_id,)).fetchone()
    if row is None:
        raise RecordNotFound(
            f"There is no imported message number {message_id}.",
            hint="The timeline lists the messages in the diary.",
        )
    return _view(row)


def context(conn: Any, message_id: int, around: int = 5) -> list[MessageView]:
    """The message with up to ``around`` messages before and after it in the same export (and
    the same conversation, where the export names one), in order."""
    raw = log.raw_connection(conn)
    m = _stored_message(raw, message_id)
    if dialect(conn) == "sqlite":
        # "+" keeps SQLite on the (time, id) index, reading outwards from the message, rather
        # than sorting the whole export's messages
        where = "+m.source_id = ? AND " + ("+m.thread = ?" if m.thread is not None else "1")
    else:
        where = "m.source_id = ?" + (" AND m.thread = ?" if m.thread is not None else "")
    args: list[Any] = [m.source_id] + ([m.thread] if m.thread is not None else [])
    when = m.sent_at or ""
    before = raw.execute(
        _SELECT + f"WHERE {where} AND (COALESCE(m.sent_at, ''), m.id) < (?, ?) "
        "ORDER BY COALESCE(m.sent_at, '') DESC, m.id DESC LIMIT ?",
        [*args, when, m.id, around],
    ).fetchall()
    after = raw.execute(
        _SELECT + f"WHERE {where} AND (COALESCE(m.sent_at, ''), m.id) > (?, ?) "
        "ORDER BY COALESCE(m.sent_at, ''), m.id LIMIT ?",
        [*args, when, m.id, around],
    ).fetchall()
    return _with_added(raw, [_view(r) for r in reversed(before)] + [m] + [_view(r) for r in after])


# How each importer's channel shows in the diary's own channel vocabulary (taxonomy.CHANNELS).
CHANNEL_OF: dict[str, str] = {
    "sms": "text_message",
    "mms": "text_message",
    "phone": "phone_call",
    "whatsapp": "whatsapp",
    "email": "email",
    "telegram": "messaging_app",
    "signal": "messaging_app",
    "discord": "messaging_app",
    "messenger": "messaging_app",
    "instagram": "social_media",
    "photo": "other",
    "file": "other",
}


# How each importer's channel is named for people.
CHANNEL_LABELS: dict[str, str] = {
    "sms": "SMS",
    "mms": "MMS",
    "phone": "Phone",
    "whatsapp": "WhatsApp",
    "email": "E-mail",
    "telegram": "Telegram",
    "signal": "Signal",
    "discord": "Discord",
    "messenger": "Messenger",
    "instagram": "Instagram",
    "photo": "Photo",
    "file": "File",
}


@dataclass(frozen=True)
class TimelineFilter:
    person_id: int | None = None
    category: str | None = None  # incidents only: messages have no category
    channel: str | None = None  # a taxonomy channel code
    start_utc: str | None = None  # inclusive
    end_utc: str | None = None  # exclusive
    before: tuple[str, int, int] | None = None  # (when, 0 incident | 1 message, id)
    limit: int = 50


@dataclass(frozen=True)
class TimelineRow:
    """One line of the timeline: an incident (``kind`` 0) or a message or call (1)."""

    when: str
    kind: int
    id: int

    @property
    def cursor(self) -> str:
        return f"{self.when}|{self.kind}|{self.id}"


def parse_cursor(text: str | None) -> tuple[str, int, int] | None:
    if not text:
        return None
    when, _, rest = text.partition("|")
    kind, _, ident = rest.partition("|")
    if kind not in ("0", "1") or not ident.isdigit():
        return None
    return when, int(kind), int(ident)


def rows(conn: Any, f: TimelineFilter) -> list[TimelineRow]:
    """The newest ``f.limit`` timeline rows older than ``f.before``, incidents and messages
    merged (ties: messages first, then higher ids first)."""
    raw = log.raw_connection(conn)
    found: list[TimelineRow] = []
    # incidents
    where: list[str] = ["NOT i.redacted"]
    args: list[Any] = []
    if f.category:
        where.append("i.category = ?")
        args.append(f.category)
    if f.channel:
        where.append("i.channel = ?")
        args.append(f.channel)
    if f.person_id is not None:
        where.append("i.id IN (SELECT incident_id FROM incident_person WHERE person_id = ?)")
        args.append(f.person_id)
    if f.start_utc:
        where.append("i.occurred_start >= ?")
        args.append(f.start_utc)
    if f.end_utc:
        where.append("i.occurred_start < ?")
        args.append(f.end_utc)
    if f.before is not None:
        when, kind, ident = f.before
        if kind == 1:
            where.append("i.occurred_start <= ?")
            args.append(when)
        else:
            where.append("(i.occurred_start, i.id) < (?, ?)")
            args += [when, ident]
    found += [
        TimelineRow(r[0], 0, r[1])
        for r in raw.execute(
            "SELECT i.occurred_start, i.id FROM incident i WHERE "
            + " AND ".join(where)
            + " ORDER BY i.occurred_start DESC, i.id DESC LIMIT ?",
            [*args, f.limit],
        )
    ]
    # messages and calls
    if not f.category:
        where, args = [], []
        if f.channel:
            own = [c for c, mapped in CHANNEL_OF.items() if mapped == f.channel]
            if not own:
                own = [""]
            where.append(f"m.channel IN ({', '.join('?' * len(own))})")
            args += own
        if f.person_id is not None:
            where.append(
                "EXISTS (SELECT 1 FROM identifier i WHERE i.person_id = ? AND "
                "i.kind = m.sender_kind AND i.platform = m.sender_platform AND "
                "i.value = m.sender_value)"
            )
            args.append(f.person_id)
        if f.start_utc:
            where.append("m.sent_at >= ?")
            args.append(f.start_utc)
        if f.end_utc:
            where.append("m.sent_at < ?")
            args.append(f.end_utc)
        if f.before is not None:
            when, kind, ident = f.before
            if kind == 1:
                where.append("(COALESCE(m.sent_at, ''), m.id) < (?, ?)")
                args += [when, ident]
            else:
                where.append("COALESCE(m.sent_at, '') < ?")
                args.append(when)
        found += [
            TimelineRow(r[0], 1, r[1])
            for r in raw.execute(
                "SELECT COALESCE(m.sent_at, ''), m.id FROM message m "
                + ("WHERE " + " AND ".join(where) if where else "")
                + " ORDER BY COALESCE(m.sent_at, '') DESC, m.id DESC LIMIT ?",
                [*args, f.limit],
            )
        ]
    found.sort(key=lambda r: (r.when, r.kind, r.id), reverse=True)
    return found[: f.limit]


def sources(conn: Any) -> list[dict[str, Any]]:
    rows = log.raw_connection(conn).execute(
        "SELECT id, name, size, importer, importer_version, imported_at, summary, sha256 "
        "FROM source ORDER BY id"
    )
    return [
        {
            "id": r[0],
            "name": r[1],
            "size": r[2],
            "importer": r[3],
            "importer_version": r[4],
            "imported_at": r[5],
            "summary": json.loads(r[6]),
            "sha256": bytes(r[7]).hex(),
        }
        for r in rows
    ]
