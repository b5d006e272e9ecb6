"""Records kept only in the log — court orders, checklist answers, witness accounts and the
tech-safety checks: written as entries with their own subject ("order/3", "checklist/1"),
read back from the log by subject, with no table of their own, so ``docket verify`` checks
them with the log itself.

The latest entry for a subject is the record's current version; a purged entry (content
removed by a redaction) means the record was removed. Callers own the transaction.

Also read from here: the files a later import added to an imported message (entries of type
``message.files_added``, subject "message/<id>"), which are additions, never versions.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection

from docket.errors import RecordNotFound, RecordRedacted
from docket.ledger import log
from docket.model.entry import Entry
from docket.store.base import dialect

KINDS = ("order", "checklist", "witness", "indicators", "phone_check")

# Files a later import added to a message an earlier one kept without them: record
# {"message": id, "source": the import, "files": [{"idx", "name", "sha256", "size",
# "media_type", "declared_type"}]}, with message_file rows that verify checks against it.
FILES_ADDED = "message.files_added"

_BY_KIND = (
    "SELECT seq, type, subject, recorded_at, record, redacted_by FROM entry "
    "WHERE subject >= ? AND subject < ? ORDER BY seq"
)
# PostgreSQL compares text by the database's collation, which in most locales passes over
# the '/' at first; the range must be compared byte by byte, as SQLite does.
_BY_KIND_PG = (
    "SELECT seq, type, subject, recorded_at, record, redacted_by FROM entry "
    'WHERE subject COLLATE "C" >= ? AND subject COLLATE "C" < ? ORDER BY seq'
)


@dataclass(frozen=True)
class LogRecord:
    kind: str
    id: int
    version: int
    created_seq: int
    current_seq: int
    recorded_at: str  # when first written
    updated_at: str  # when last changed
    record: dict[str, Any] | None  # None once removed
    removed_at: str | None = None


@dataclass(frozen=True)
class AddedFile:
    """A file a later import added to an imported message, in the place ``idx`` that the
    message's own record left without one."""

    message_id: int
    idx: int
    name: str
    sha256: str
    size: int
    media_type: str | None
    declared_type: str | None
    source_id: int  # the import that added it
    seq: int  # the log entry that records it
    recorded_at: str

    def as_json(self) -> dict[str, Any]:
        return dict(self.__dict__)


def files_added(raw: Any, message_ids: Iterable[int] | None = None) -> dict[int, list[AddedFile]]:
    """The files later imports added to these messages (None: to any), by message, in place
    order. ``raw`` is the connection's raw cursor (``log.raw_connection``)."""
    out: dict[int, list[AddedFile]] = {}
    select = "SELECT seq, recorded_at, record FROM entry WHERE type = ? AND record IS NOT NULL"
    if message_ids is None:
        queries = [(select + " ORDER BY seq", [FILES_ADDED])]
    else:
        ids = sorted(set(message_ids))
        queries = [
            (
                select + f" AND subject IN ({', '.join('?' * len(part))}) ORDER BY seq",
                [FILES_ADDED, *(f"message/{m}" for m in part)],
            )
            for part in (ids[i : i + 500] for i in range(0, len(ids), 500))
        ]
    for sql, args in queries:
        for seq, recorded_at, record in raw.execute(sql, args):
            rec = json.loads(record)
            mid = int(rec["message"])
            out.setdefault(mid, []).extend(
                AddedFile(
                    message_id=mid,
                    idx=int(f["idx"]),
                    name=str(f["name"]),
                    sha256=str(f["sha256"]),
                    size=int(f["size"]),
                    media_type=f.get("media_type"),
                    declared_type=f.get("declared_type"),
                    source_id=int(rec["source"]),
                    seq=int(seq),
                    recorded_at=str(recorded_at),
                )
                for f in rec["files"]
            )
    for files in out.values():
        files.sort(key=lambda f: f.idx)
    return out


def _rows(conn: Connection, kind: str, record_id: int | None = None) -> list[Any]:
    raw = log.raw_connection(conn)
    if record_id is None:
        # the subject range ("order/" up to "order0") is an index range scan
        sql = _BY_KIND_PG if dialect(conn) == "postgresql" else _BY_KIND
        return list(raw.execute(sql, (f"{kind}/", f"{kind}0")))
    return list(
        raw.execute(
            "SELECT seq, type, subject, recorded_at, record, redacted_by FROM entry "
            "WHERE subject = ? ORDER BY seq",
            (f"{kind}/{record_id}",),
        )
    )


def _fold(kind: str, rows: list[Any]) -> dict[int, LogRecord]:
    out: dict[int, LogRecord] = {}
    for seq, etype, subject, recorded_at, record, _redacted_by in rows:
        rid = int(subject.split("/", 1)[1])
        before = out.get(rid)
        if etype == "redaction":
            if before is not None:
                out[rid] = LogRecord(
                    kind, rid, before.version, before.created_seq, seq,
                    before.recorded_at, recorded_at, None, removed_at=recorded_at,
                )  # fmt: skip
            continue
        out[rid] = LogRecord(
            kind=kind,
            id=rid,
            version=1 if before is None else before.version + 1,
            created_seq=seq if before is None else before.created_seq,
            current_seq=seq,
            recorded_at=recorded_at if before is None else before.recorded_at,
            updated_at=recorded_at,
            record=None if record is None else dict(json.loads(record)),
        )
    return out


def all_current(conn: Connection, kind: str, *, include_removed: bool = False) -> list[LogRecord]:
    """Every record of ``kind``, current version, by id."""
    records = sorted(_fold(kind, _rows(conn, kind)).values(), key=lambda r: r.id)
    return [r for r in records if include_removed or r.record is not None]


def current(conn: Connection, kind: str, record_id: int) -> LogRecord | None:
    return _fold(kind, _rows(conn, kind, record_id)).get(record_id)


def get(conn: Connection, kind: str, record_id: int, *, what: str, hint: str) -> LogRecord:
    rec = current(conn, kind, record_id)
    if rec is None:
        raise RecordNotFound(
            f"There is no {what} number {record_id} in this diary.",
            hint=hint,
            details={"kind": kind, "id": record_id},
        )
    if rec.record is None:
        raise RecordRedacted(
            f"{what.capitalize()} {record_id} was removed by you"
            + (f" on {rec.removed_at[:10]}" if rec.removed_at else "")
            + "; its content is no longer in the diary."
        )
    return rec


def next_id(conn: Connection, kind: str) -> int:
    ids = [r.id for r in all_current(conn, kind, include_removed=True)]
    return max(ids, default=0) + 1


def write(
    conn: Connection,
    kind: str,
    record_id: int,
    record: dict[str, Any],
    *,
    reason: str | None = None,
    created_type: str = "created",
    edited_type: str = "edited",
) -> Entry:
    """Append the first or a new version of a record. A new version names the entry it
    corrects and needs a reason, like every other change."""
    before = current(conn, kind, record_id)
    if before is not None and before.record is None:
        raise RecordRedacted(f"{kind.capitalize()} {record_id} was removed and cannot be changed.")
    return log.append(
        conn,
        type=f"{kind}.{created_type if before is None else edited_type}",
        subject=f"{kind}/{record_id}",
        record={"id": record_id, **record},
        corrects=None if before is None else before.current_seq,
        reason=None if before is None else reason,
    )
