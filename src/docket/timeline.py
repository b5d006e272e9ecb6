"""Reading imported messages and calls back, each with the person in the register its sender
resolves to (by phone number, e-mail address or account name), at the time of reading."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from docket.importers.base import locator
from docket.ledger import log


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

    def as_json(self) -> dict[str, Any]:
        return dict(self.__dict__)


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
    sql = (
        "SELECT m.id, m.source_id, m.kind, m.channel, m.direction, m.sender_raw, i.person_id, "
        "p.name, m.sent_at, m.local_time, m.time_note, m.body, m.deleted, m.call_type, "
        "m.duration_s, m.attachments, m.line, m.offset FROM message m "
        "LEFT JOIN identifier i ON i.kind = m.sender_kind AND i.platform = m.sender_platform "
        "AND i.value = m.sender_value LEFT JOIN person p ON p.id = i.person_id "
        + ("WHERE " + " AND ".join(where) + " " if where else "")
        + f"ORDER BY m.sent_at {'DESC' if newest_first else 'ASC'}, m.id"
        + (" LIMIT ?" if limit is not None else "")
    )
    if limit is not None:
        args.append(limit)
    out = []
    for r in log.raw_connection(conn).execute(sql, args):
        out.append(
            MessageView(
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
            )
        )
    return out


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
