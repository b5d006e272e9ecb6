"""The record layer: writing incidents, people and evidence files, each with its log entry,
and reading them back as views. Every write appends one log entry (``ledger.log.append``)
and updates the projection tables in the caller's transaction.

Callers (the facade) own the transaction, so a write and its log entry commit together or not
at all. Nothing here validates what a person typed; that is the model's job.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, BinaryIO

from sqlalchemy import Connection, Row, delete, func, insert, select, update

from docket import flag_store, log_records, search
from docket.errors import InputError, RecordNotFound, RecordRedacted
from docket.ledger import log
from docket.model.entry import Entry
from docket.model.records import AttachmentData, IncidentData, PersonData
from docket.model.timeparse import utc_rfc3339
from docket.model.views import AttachmentView, IncidentView, PersonView, VersionView
from docket.store import blobs
from docket.store.schema import (
    attachment,
    blob,
    entry,
    identifier,
    incident,
    incident_person,
    meta,
    person,
)

KINDS = ("incident", "person", "attachment")


def entry_record(row: Row[Any]) -> dict[str, Any] | None:
    text = row.record
    return None if text is None else dict(json.loads(text))


def get_meta(conn: Connection) -> dict[str, str]:
    return {r.key: r.value for r in conn.execute(select(meta.c.key, meta.c.value))}


def _next_id(conn: Connection, table: Any) -> int:
    return int(conn.execute(select(func.coalesce(func.max(table.c.id) + 1, 1))).scalar_one())


def _not_found(kind: str, record_id: int, hint: str) -> RecordNotFound:
    return RecordNotFound(
        f"There is no {kind} number {record_id} in this diary.",
        hint=hint,
        details={"kind": kind, "id": record_id},
    )


def _redacted(kind: str, record_id: int, when: str | None) -> RecordRedacted:
    return RecordRedacted(
        f"{kind.capitalize()} {record_id} was removed by you"
        + (f" on {when[:10]}" if when else "")
        + "; its content is no longer in the diary.",
        hint=f"'docket history {kind} {record_id}' shows when and why.",
    )


# --- people ---------------------------------------------------------------------------------


def _check_identifiers_free(conn: Connection, data: PersonData, person_id: int) -> None:
    for ident in data.identifiers:
        row = conn.execute(
            select(identifier.c.person_id, person.c.name)
            .join(person, person.c.id == identifier.c.person_id)
            .where(
                identifier.c.kind == ident.kind,
                identifier.c.platform == ident.platform,
                identifier.c.value == ident.value,
            )
        ).first()
        if row is not None and row.person_id != person_id:
            raise InputError(
                f"{ident.label()} already belongs to person {row.person_id} ({row.name}).",
                cause="One number, address or account can belong to only one person here.",
                hint=f"If it is the same person, add details to person {row.person_id} instead.",
            )


def _write_identifiers(conn: Connection, data: PersonData, person_id: int) -> None:
    conn.execute(delete(identifier).where(identifier.c.person_id == person_id))
    if data.identifiers:
        conn.execute(
            insert(identifier),
            [
                {"person_id": person_id, "kind": i.kind, "platform": i.platform, "value": i.value}
                for i in data.identifiers
            ],
        )


def create_person(conn: Connection, data: PersonData) -> int:
    person_id = _next_id(conn, person)
    _check_identifiers_free(conn, data, person_id)
    e = log.append(
        conn,
        type="person.created",
        subject=f"person/{person_id}",
        record={"id": person_id, **data.as_record()},
    )
    conn.execute(
        insert(person).values(
            id=person_id,
            created_seq=e.seq,
            current_seq=e.seq,
            version=1,
            name=data.name,
            role=data.role,
            relationship=data.relationship,
            redacted=False,
        )
    )
    _write_identifiers(conn, data, person_id)
    return person_id


def update_person(conn: Connection, person_id: int, data: PersonData, reason: str) -> Entry:
    row = _person_row(conn, person_id)
    _check_identifiers_free(conn, data, person_id)
    e = log.append(
        conn,
        type="person.edited",
        subject=f"person/{person_id}",
        record={"id": person_id, **data.as_record()},
        corrects=row.current_seq,
        reason=reason,
    )
    conn.execute(
        update(person)
        .where(person.c.id == person_id)
        .values(
            current_seq=e.seq,
            version=row.version + 1,
            name=data.name,
            role=data.role,
            relationship=data.relationship,
        )
    )
    _write_identifiers(conn, data, person_id)
    return e


def _person_row(conn: Connection, person_id: int) -> Row[Any]:
    row = conn.execute(select(person).where(person.c.id == person_id)).first()
    if row is None:
        raise _not_found(
            "person", person_id, "'docket person list' shows everyone in the register."
        )
    if row.redacted:
        raise _redacted("person", person_id, None)
    return row


def _person_view(conn: Connection, row: Row[Any]) -> PersonView:
    e = conn.execute(select(entry).where(entry.c.seq == row.current_seq)).one()
    created = conn.execute(select(entry.c.recorded_at).where(entry.c.seq == row.created_seq))
    record = entry_record(e)
    count = conn.execute(
        select(func.count())
        .select_from(incident_person)
        .join(incident, incident.c.id == incident_person.c.incident_id)
        .where(incident_person.c.person_id == row.id, incident.c.redacted.is_(False))
    ).scalar_one()
    return PersonView(
        id=row.id,
        version=row.version,
        recorded_at=created.scalar_one(),
        redacted=bool(row.redacted),
        data=None if record is None else PersonData.from_record(record),
        incident_count=int(count),
    )


def get_person(conn: Connection, person_id: int) -> PersonView:
    row = conn.execute(select(person).where(person.c.id == person_id)).first()
    if row is None:
        raise _not_found(
            "person", person_id, "'docket person list' shows everyone in the register."
        )
    return _person_view(conn, row)


def list_people(conn: Connection, *, include_redacted: bool = False) -> list[PersonView]:
    q = select(person).order_by(person.c.id)
    if not include_redacted:
        q = q.where(person.c.redacted.is_(False))
    return [_person_view(conn, row) for row in conn.execute(q).all()]


def find_people_by_name(conn: Connection, name: str) -> list[int]:
    rows = conn.execute(
        select(person.c.id).where(
            func.lower(person.c.name) == name.strip().lower(), person.c.redacted.is_(False)
        )
    )
    return [r.id for r in rows]


def person_ids_by_role(conn: Connection, role: str) -> list[int]:
    rows = conn.execute(
        select(person.c.id).where(person.c.role == role, person.c.redacted.is_(False))
    )
    return [r.id for r in rows]


def person_for_identifier(
    conn: Connection, kind: str, value: str, platform: str = ""
) -> int | None:
    return conn.execute(
        select(identifier.c.person_id).where(
            identifier.c.kind == kind,
            identifier.c.platform == platform,
            identifier.c.value == value,
        )
    ).scalar()


def check_people_exist(conn: Connection, ids: Iterable[int]) -> None:
    for pid in ids:
        _person_row(conn, pid)


# --- incidents ------------------------------------------------------------------------------


def incident_projection(record: dict[str, Any]) -> dict[str, Any]:
    """The incident table's columns, from an incident's record: one definition for writing
    them and for ``docket verify`` checking them. The last four are what the pattern analysis
    reads, so that it need not parse every record."""
    occ = record["occurred"]
    end = occ.get("end")
    place = record.get("place")
    return {
        "occurred_start": utc_rfc3339(datetime.fromisoformat(occ["start"])),
        "occurred_end": utc_rfc3339(datetime.fromisoformat(end)) if end else None,
        "category": record["category"],
        "channel": record.get("channel"),
        "date_only": bool(occ.get("date_only")),
        "private_place": bool(place and place.get("private")),
        "people": _compact([int(p) for p in record.get("people", ())]),
        "targeted": _compact(list(record.get("targeted", ("me",)))),
    }


# the incident table's columns of a removed incident, with its record gone
REMOVED_INCIDENT = {
    "category": "",
    "channel": None,
    "date_only": False,
    "private_place": False,
    "people": "[]",
    "targeted": "[]",
}


def _compact(value: list[Any]) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def _link_people(conn: Connection, incident_id: int, people: Sequence[int]) -> None:
    conn.execute(delete(incident_person).where(incident_person.c.incident_id == incident_id))
    if people:
        conn.execute(
            insert(incident_person),
            [{"incident_id": incident_id, "person_id": p} for p in dict.fromkeys(people)],
        )


def _index_incident(conn: Connection, incident_id: int, record: dict[str, Any] | None) -> None:
    """What is derived from an incident's current text (``record``; None once removed): its
    words in the search index, and its kept language flags."""
    search.index_incident(conn, incident_id, record)
    flag_store.keep_incident(log.raw_connection(conn), incident_id, record)


def create_incident(conn: Connection, data: IncidentData) -> int:
    check_people_exist(conn, data.people)
    incident_id = _next_id(conn, incident)
    record = {"id": incident_id, **data.as_record()}
    e = log.append(conn, type="incident.created", subject=f"incident/{incident_id}", record=record)
    conn.execute(
        insert(incident).values(
            id=incident_id,
            created_seq=e.seq,
            current_seq=e.seq,
            version=1,
            recorded_at=e.recorded_at,
            redacted=False,
            **incident_projection(record),
        )
    )
    _link_people(conn, incident_id, data.people)
    _index_incident(conn, incident_id, record)
    return incident_id


def incident_row(conn: Connection, incident_id: int) -> Row[Any]:
    row = conn.execute(select(incident).where(incident.c.id == incident_id)).first()
    if row is None:
        raise _not_found("incident", incident_id, "'docket list' shows the incidents in the diary.")
    return row


def update_incident(conn: Connection, incident_id: int, data: IncidentData, reason: str) -> Entry:
    row = incident_row(conn, incident_id)
    if row.redacted:
        raise _redacted("incident", incident_id, None)
    check_people_exist(conn, data.people)
    record = {"id": incident_id, **data.as_record()}
    e = log.append(
        conn,
        type="incident.edited",
        subject=f"incident/{incident_id}",
        record=record,
        corrects=row.current_seq,
        reason=reason,
    )
    conn.execute(
        update(incident)
        .where(incident.c.id == incident_id)
        .values(current_seq=e.seq, version=row.version + 1, **incident_projection(record))
    )
    _link_people(conn, incident_id, data.people)
    _index_incident(conn, incident_id, record)
    return e


def _redaction_time(conn: Connection, seq: int | None) -> str | None:
    if seq is None:
        return None
    return conn.execute(select(entry.c.recorded_at).where(entry.c.seq == seq)).scalar()


def _incident_view(conn: Connection, row: Row[Any]) -> IncidentView:
    current = conn.execute(select(entry).where(entry.c.seq == row.current_seq)).one()
    record = entry_record(current)
    atts = tuple(
        _attachment_view(conn, a)
        for a in conn.execute(
            select(attachment).where(attachment.c.incident_id == row.id).order_by(attachment.c.id)
        ).all()
    )
    return IncidentView(
        id=row.id,
        version=row.version,
        recorded_at=row.recorded_at,
        updated_at=current.recorded_at,
        redacted=bool(row.redacted),
        data=None if record is None else IncidentData.from_record(record),
        occurred_start=row.occurred_start,
        attachments=atts,
        redacted_at=_redaction_time(conn, current.redacted_by),
    )


def get_incident(conn: Connection, incident_id: int) -> IncidentView:
    return _incident_view(conn, incident_row(conn, incident_id))


@dataclass(frozen=True)
class IncidentFilter:
    category: str | None = None
    person_id: int | None = None
    start_utc: str | None = None  # inclusive, RFC 3339 UTC
    end_utc: str | None = None  # exclusive
    include_redacted: bool = False
    limit: int | None = None


def list_incidents(conn: Connection, f: IncidentFilter) -> list[IncidentView]:
    q = select(incident).order_by(incident.c.occurred_start, incident.c.id)
    if not f.include_redacted:
        q = q.where(incident.c.redacted.is_(False))
    if f.category:
        q = q.where(incident.c.category == f.category)
    if f.person_id is not None:
        q = q.where(
            incident.c.id.in_(
                select(incident_person.c.incident_id).where(
                    incident_person.c.person_id == f.person_id
                )
            )
        )
    if f.start_utc:
        q = q.where(incident.c.occurred_start >= f.start_utc)
    if f.end_utc:
        q = q.where(incident.c.occurred_start < f.end_utc)
    if f.limit:
        q = q.limit(f.limit)
    return [_incident_view(conn, row) for row in conn.execute(q).all()]


# --- attachments ----------------------------------------------------------------------------


def add_attachment(
    conn: Connection,
    stream: BinaryIO,
    *,
    name: str,
    media_type: str,
    incident_id: int | None,
    obtained: str = "",
    note: str = "",
    progress: Callable[[int], None] | None = None,
) -> int:
    if incident_id is not None:
        row = incident_row(conn, incident_id)
        if row.redacted:
            raise _redacted("incident", incident_id, None)
    stored = blobs.put_stream(conn, stream, progress=progress)
    attachment_id = _next_id(conn, attachment)
    data = AttachmentData(
        sha256=stored.sha256.hex(),
        size=stored.size,
        media_type=media_type,
        name=name,
        incident=incident_id,
        obtained=obtained,
        note=note,
    )
    e = log.append(
        conn,
        type="attachment.added",
        subject=f"attachment/{attachment_id}",
        record={"id": attachment_id, **data.as_record()},
    )
    conn.execute(
        insert(attachment).values(
            id=attachment_id,
            created_seq=e.seq,
            current_seq=e.seq,
            incident_id=incident_id,
            sha256=stored.sha256,
            size=stored.size,
            media_type=media_type,
            original_name=name,
            redacted=False,
        )
    )
    return attachment_id


def _attachment_view(conn: Connection, row: Row[Any]) -> AttachmentView:
    current = conn.execute(select(entry).where(entry.c.seq == row.current_seq)).one()
    record = entry_record(current)
    return AttachmentView(
        id=row.id,
        data=None if record is None else AttachmentData.from_record(record),
        recorded_at=current.recorded_at,
        redacted=bool(row.redacted),
        sha256=bytes(row.sha256).hex(),
        size=row.size,
        redacted_at=_redaction_time(conn, current.redacted_by),
    )


def attachment_row(conn: Connection, attachment_id: int) -> Row[Any]:
    row = conn.execute(select(attachment).where(attachment.c.id == attachment_id)).first()
    if row is None:
        raise _not_found("attachment", attachment_id, "'docket show INCIDENT' lists its files.")
    return row


def get_attachment(conn: Connection, attachment_id: int) -> AttachmentView:
    return _attachment_view(conn, attachment_row(conn, attachment_id))


def list_attachments(conn: Connection) -> list[AttachmentView]:
    rows = conn.execute(select(attachment).order_by(attachment.c.id)).all()
    return [_attachment_view(conn, r) for r in rows]


# --- history and redaction ------------------------------------------------------------------


def _changed_fields(before: dict[str, Any] | None, after: dict[str, Any] | None) -> tuple[str, ...]:
    if before is None or after is None:
        return ()
    keys = sorted(set(before) | set(after))
    return tuple(k for k in keys if before.get(k) != after.get(k))


def history(conn: Connection, kind: str, record_id: int) -> list[VersionView]:
    subject = f"{kind}/{record_id}"
    rows = conn.execute(select(entry).where(entry.c.subject == subject).order_by(entry.c.seq)).all()
    redactions = conn.execute(
        select(entry).where(entry.c.type == "redaction", entry.c.subject == subject)
    ).all()
    if not rows:
        raise _not_found(kind, record_id, "Check the number with 'docket list'.")
    out: list[VersionView] = []
    previous: dict[str, Any] | None = None
    for row in [*rows, *[r for r in redactions if r not in rows]]:
        record = entry_record(row)
        out.append(
            VersionView(
                seq=row.seq,
                type=row.type,
                recorded_at=row.recorded_at,
                reason=row.reason,
                record=record,
                redacted_by=row.redacted_by,
                changed=_changed_fields(previous, record) if row.type.endswith(".edited") else (),
            )
        )
        if record is not None and row.type != "redaction":
            previous = record
    return sorted(out, key=lambda v: v.seq)


def _purge_subject(conn: Connection, subject: str, by_seq: int) -> list[dict[str, Any]]:
    """Remove the content of every entry about ``subject``; return what the redaction entry
    must record about each (everything but the content), so their leaves stay checkable."""
    rows = conn.execute(
        select(entry).where(entry.c.subject == subject, entry.c.type != "redaction")
    ).all()
    listing = [
        {
            "seq": r.seq,
            "type": r.type,
            "subject": r.subject,
            "recorded_at": r.recorded_at,
            "salt": base64.b64encode(bytes(r.salt)).decode("ascii"),
            "corrects": r.corrects,
            "reason": r.reason,
            "leaf": bytes(r.leaf_hash).hex(),
        }
        for r in rows
    ]
    conn.execute(
        update(entry)
        .where(entry.c.seq.in_([r.seq for r in rows]))
        .values(record=None, redacted_by=by_seq)
    )
    return [{k: v for k, v in item.items() if v is not None} for item in listing]


def redact(conn: Connection, kind: str, record_id: int, reason: str) -> Entry:
    """Remove a record's content (and an evidence file's bytes), keeping the log's hashes.

    Redacting an incident also removes the files attached to it; redacting a file removes
    every attachment with the same bytes, since the bytes are stored once.
    """
    if kind not in KINDS and kind not in log_records.KINDS:
        raise InputError(
            f"{kind!r} cannot be removed.",
            hint="Use " + ", ".join((*KINDS, *log_records.KINDS)) + ".",
        )
    subjects: list[str] = [f"{kind}/{record_id}"]
    attachment_ids: list[int] = []
    row: Any = None
    if kind in log_records.KINDS:
        # kept only in the log: removing purges its entries, and the redaction says so
        log_records.get(conn, kind, record_id, what=kind, hint="Check the number.")
    elif kind == "incident":
        row = incident_row(conn, record_id)
        attachment_ids = [
            r.id
            for r in conn.execute(
                select(attachment.c.id).where(
                    attachment.c.incident_id == record_id, attachment.c.redacted.is_(False)
                )
            )
        ]
    elif kind == "attachment":
        row = attachment_row(conn, record_id)
        attachment_ids = [
            r.id
            for r in conn.execute(
                select(attachment.c.id).where(
                    attachment.c.sha256 == row.sha256, attachment.c.redacted.is_(False)
                )
            )
        ]
    else:
        row = _person_row(conn, record_id)
    if row is not None and row.redacted:
        raise _redacted(kind, record_id, None)
    subjects += [f"attachment/{a}" for a in attachment_ids if f"attachment/{a}" not in subjects]
    seq = log.size(conn)
    purged: list[dict[str, Any]] = []
    for s in subjects:
        purged += _purge_subject(conn, s, seq)
    shas = {
        bytes(r.sha256)
        for r in conn.execute(
            select(attachment.c.sha256).where(attachment.c.id.in_(attachment_ids))
        )
    }
    e = log.append(
        conn,
        type="redaction",
        subject=f"{kind}/{record_id}",
        record={"subjects": subjects, "entries": sorted(purged, key=lambda p: p["seq"])},
        reason=reason,
    )
    assert e.seq == seq
    if attachment_ids:
        conn.execute(
            update(attachment)
            .where(attachment.c.id.in_(attachment_ids))
            .values(redacted=True, original_name="", media_type="")
        )
        for sha in shas:
            blobs.purge(conn, sha)
    if kind == "incident":
        conn.execute(
            update(incident)
            .where(incident.c.id == record_id)
            .values(redacted=True, **REMOVED_INCIDENT)
        )
        _link_people(conn, record_id, [])
        _index_incident(conn, record_id, None)
    elif kind == "person":
        conn.execute(
            update(person)
            .where(person.c.id == record_id)
            .values(redacted=True, name="", role="", relationship="")
        )
        conn.execute(delete(identifier).where(identifier.c.person_id == record_id))
        conn.execute(delete(incident_person).where(incident_person.c.person_id == record_id))
    return e


# --- counts ---------------------------------------------------------------------------------


def counts(conn: Connection) -> dict[str, int]:
    def count(table: Any) -> int:
        return int(
            conn.execute(
                select(func.count()).select_from(table).where(table.c.redacted.is_(False))
            ).scalar_one()
        )

    redactions = conn.execute(
        select(func.count()).select_from(entry).where(entry.c.type == "redaction")
    ).scalar_one()
    return {
        "entries": log.size(conn),
        "incidents": count(incident),
        "people": count(person),
        "attachments": count(attachment),
        "redactions": int(redactions),
        "evidence_bytes": int(
            conn.execute(
                select(func.coalesce(func.sum(blob.c.size), 0)).where(blob.c.purged.is_(False))
            ).scalar_one()
        ),
    }


def incident_span(conn: Connection) -> tuple[str | None, str | None, dict[str, int]]:
    live = incident.c.redacted.is_(False)
    first, latest = conn.execute(
        select(func.min(incident.c.occurred_start), func.max(incident.c.occurred_start)).where(live)
    ).one()
    by_cat = {
        r.category: int(r.n)
        for r in conn.execute(
            select(incident.c.category, func.count().label("n"))
            .where(live)
            .group_by(incident.c.category)
            .order_by(func.count().desc(), incident.c.category)  # ties alike on both stores
        )
    }
    return first, latest, by_cat
