"""The import pipeline: the only code that writes imported items into the diary.

For one file it picks the importer (by ``score`` or by name), stores the original file whole
inside the diary, then writes the items the importer yields in batches, each batch covered by
one log entry that holds the Merkle root of its messages' records, and finally records what
was imported. Everything happens in one write transaction: an import that fails, or is
killed, leaves the diary as it was, and running it again starts afresh.

Re-importing a file already imported adds nothing. A later export of the same chat adds only
what is new: each message has a content key (sender, time, the text as it would appear in any
export of the chat, and how many identical messages came before it at that time), so the
same message from two exports is stored once.
"""

from __future__ import annotations

import gc
import hashlib
import json
import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, select

from docket.errors import (
    ImportFormatError,
    InvalidIdentifier,
    Location,
    UnknownFormat,
)
from docket.importers import available
from docket.importers.base import (
    Attachment,
    Context,
    Importer,
    ImportWarning,
    Item,
    Party,
    Probe,
    Source,
)
from docket.ledger import log, merkle
from docket.model import identifiers, media
from docket.model.identifiers import Identifier
from docket.model.timeparse import utc_rfc3339
from docket.records import get_meta, get_person, update_person
from docket.store import blobs
from docket.store.schema import meta
from docket.store.schema import source as source_table

__all__ = ["Options", "Probe", "Progress", "Source", "Summary", "choose", "find_source", "run"]

BATCH = 2000
MAX_WARNINGS_KEPT = 1000
_INVISIBLE = re.compile("[\u200e\u200f\u202a-\u202e\u2066-\u2069\ufeff]")

Progress = Callable[[str, int, int, int], None]  # stage, bytes done, bytes in all, items


def canonical_json(value: Any) -> str:
    """RFC 8785 for the values records hold (strings, integers, booleans, null, lists and
    objects with ASCII keys; never floats), at the speed of the C encoder."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


@dataclass(frozen=True)
class Options:
    format: str | None = None
    person_id: int | None = None  # the person this conversation is with
    me: tuple[str, ...] = ()  # how the user appears in the export
    timezone: str = "Europe/London"
    region: str = "GB"
    day_first: bool | None = None
    partial: bool = False  # keep what was read before a break in a damaged file


@dataclass
class Summary:
    file: str
    importer: str = ""
    importer_label: str = ""
    importer_version: str = ""
    source_id: int | None = None
    already_imported_at: str | None = None
    added: int = 0
    duplicates: int = 0
    by_kind: Counter[str] = field(default_factory=Counter)
    by_sender: Counter[str] = field(default_factory=Counter)
    files_stored: int = 0
    files_missing: int = 0
    warnings: list[dict[str, Any]] = field(default_factory=list)
    warnings_total: int = 0
    unknown_senders: list[dict[str, Any]] = field(default_factory=list)
    linked: str | None = None
    not_linked_reason: str | None = None

    def as_json(self) -> dict[str, Any]:
        return {
            "file": self.file,
            "importer": self.importer,
            "importer_version": self.importer_version,
            "source_id": self.source_id,
            "already_imported_at": self.already_imported_at,
            "added": self.added,
            "duplicates": self.duplicates,
            "by_kind": dict(sorted(self.by_kind.items())),
            "by_sender": dict(self.by_sender.most_common()),
            "files_stored": self.files_stored,
            "files_missing": self.files_missing,
            "warnings": self.warnings,
            "warnings_total": self.warnings_total,
            "unknown_senders": self.unknown_senders,
            "linked": self.linked,
            "not_linked_reason": self.not_linked_reason,
        }


def choose(probe: Probe, name: str | None) -> Importer:
    """The importer asked for by name, or the one most sure it can read the file."""
    importers = available()
    if name is not None:
        for imp in importers:
            if imp.name == name:
                return imp
        raise UnknownFormat(
            f"Docket has no importer called {name!r}.",
            hint="Formats Docket reads: " + ", ".join(i.name for i in importers) + ".",
        )
    scored = sorted(((imp.score(probe), i, imp) for i, imp in enumerate(importers)), reverse=True)
    best_score, _, best = scored[0]
    if best_score < 0.3:
        raise UnknownFormat(
            f"Docket does not recognise {probe.name!r} as an export it can read.",
            cause="It does not look like any of the formats Docket reads, or it may be damaged.",
            hint="Formats Docket reads: "
            + ", ".join(f"{i.label} ({i.name})" for i in importers)
            + ". If you know the format, name it with --format.",
            location=Location(file=probe.name),
        )
    return best


def file_sha256(path: Path, progress: Callable[[int], None] | None = None) -> bytes:
    h = hashlib.sha256()
    done = 0
    with path.open("rb") as f:
        while data := f.read(1024 * 1024):
            h.update(data)
            done += len(data)
            if progress is not None:
                progress(done)
    return h.digest()


@dataclass(frozen=True)
class _TrackedSource(Source):
    """The file, remembering the streams opened on it so progress can ask how far the
    importer has read."""

    opened: list[Any] = field(default_factory=list)

    def open(self) -> Any:
        f = super().open()
        self.opened.append(f)
        return f

    def position(self) -> int:
        for f in reversed(self.opened):
            if not f.closed:
                return int(f.tell())
        return 0


class _Keys:
    """Turns the names and numbers in an export into the register's identifier keys."""

    def __init__(self, region: str) -> None:
        self._region = region
        self._cache: dict[tuple[str, str, str], tuple[str, str, str]] = {}

    def key(self, party: Party | None, channel: str) -> tuple[str, str, str] | None:
        if party is None:
            return None
        k = (party.raw, party.kind, channel)
        found = self._cache.get(k)
        if found is None:
            if len(self._cache) > 50_000:
                self._cache.clear()
            found = self._cache[k] = self._normalise(party, channel)
        return found

    def _normalise(self, party: Party, channel: str) -> tuple[str, str, str]:
        raw = _INVISIBLE.sub("", party.raw).strip().lstrip("~").strip()
        if party.kind == "withheld":
            return ("withheld", "", "")
        if party.kind == "phone":
            try:
                return ("phone", "", identifiers.phone(raw, self._region).value)
            except InvalidIdentifier:
                pass
        if party.kind == "email":
            try:
                return ("email", "", identifiers.email(raw).value)
            except InvalidIdentifier:
                pass
        return ("handle", channel, raw.lower())


def _identifier(key: tuple[str, str, str], raw: str) -> Identifier:
    kind, platform, value = key
    return Identifier(kind, value, platform=platform, as_given=raw)


def _label(key: tuple[str, str, str] | None, party: Party | None) -> str:
    if key is None or party is None:
        return "(no sender: system)"
    if key[0] == "withheld":
        return "(number withheld)"
    return party.raw.strip()


class _Writer:
    """Writes one import inside the caller's transaction."""

    def __init__(
        self, conn: Connection, source_id: int, options: Options, summary: Summary
    ) -> None:
        self.conn = conn
        self.raw = log.raw_connection(conn)
        self.source_id = source_id
        self.options = options
        self.summary = summary
        self.keys = _Keys(options.region)
        stored_me = json.loads(get_meta(conn).get("me_keys", "[]"))
        self.me = {tuple(k) for k in stored_me}
        self.new_me: list[tuple[str, str, str]] = []
        for name in options.me:
            for channel in ("whatsapp", "sms"):
                for kind in ("name", "phone"):
                    k = self.keys.key(Party(name, kind), channel)
                    if k is not None and k not in self.me:
                        self.me.add(k)
                        self.new_me.append(k)
        self.next_id = int(
            self.raw.execute("SELECT coalesce(max(id), 0) + 1 FROM message").fetchone()[0]
        )
        self.batch: list[tuple[Any, ...]] = []
        self.batch_files: list[tuple[int, int, bytes]] = []
        self.batch_leaves: list[bytes] = []
        # items read but not yet stored: (item, key, sent at, content key, its base, files
        # or None when not yet settled)
        self.pending: list[
            tuple[
                Item,
                tuple[str, str, str] | None,
                str | None,
                bytes,
                bytes,
                list[dict[str, Any]] | None,
            ]
        ] = []
        self.taken: set[bytes] = set()  # content keys given out since the last flush
        self.time_key = ""
        self.ordinals: Counter[bytes] = Counter()  # per base, at the current time only
        self.unknown: Counter[tuple[str, str, str]] = Counter()
        self.unknown_raw: dict[tuple[str, str, str], str] = {}

    def direction(self, item: Item, key: tuple[str, str, str] | None) -> str:
        if item.direction != "unknown":
            return item.direction
        if key is not None and key in self.me:
            return "outgoing"
        if self.me and key is not None:
            return "incoming"
        return "unknown"

    def content_key(
        self, item: Item, key: tuple[str, str, str] | None, sent_at: str | None
    ) -> tuple[bytes, bytes]:
        """The message's content key (and its base, for trying the next ordinal): who, when,
        the text as any export of the chat would show it, and how many identical messages
        came before it at that time in this file."""
        time_key = sent_at if sent_at is not None else item.local_time
        if time_key != self.time_key:
            self.time_key = time_key
            self.ordinals.clear()
        text = item.match_body if item.match_body is not None else item.body
        text = " ".join(_INVISIBLE.sub("", text or "").split())
        if key is None:
            who = "\x1e".join(
                "\x1d".join(k) for p in item.recipients if (k := self.keys.key(p, item.channel))
            )
        else:
            who = "\x1d".join(key)
        fields = (
            item.kind,
            item.channel,
            "" if key is None else "from",
            who,
            time_key,
            text,
            item.call_type or "",
            "" if item.duration_s is None else str(item.duration_s),
        )
        base = "\x1f".join(fields).encode()
        return self.next_digest(base), base

    def next_digest(self, base: bytes) -> bytes:
        n = self.ordinals[base]
        self.ordinals[base] = n + 1
        return hashlib.sha256(base + b"\x1f%d" % n).digest()

    def lookup(self, digest: bytes) -> int | None:
        row = self.raw.execute("SELECT source_id FROM message WHERE dedupe = ?", (digest,))
        found = row.fetchone()
        return None if found is None else int(found[0])

    def settle(self, digest: bytes, base: bytes, known: int | None) -> bytes | None:
        """The key this item is stored under, or None when another import already has it.
        A key taken by this import (an identical message met again out of order) moves on to
        the next ordinal."""
        while True:
            if digest in self.taken:
                digest = self.next_digest(base)
                known = self.lookup(digest)
                continue
            if known is None:
                return digest
            if known != self.source_id:
                return None
            digest = self.next_digest(base)
            known = self.lookup(digest)

    def store_files(self, attachments: tuple[Attachment, ...]) -> list[dict[str, Any]]:
        out = []
        for a in attachments:
            entry: dict[str, Any] = {"name": a.name, "media_type": a.media_type, "note": a.note}
            if a.chunks is None:
                entry.update(sha256=None, size=None)
                self.summary.files_missing += 1
            else:
                stored = blobs.put_chunks(self.conn, a.chunks())
                entry.update(
                    sha256=stored.sha256.hex(),
                    size=stored.size,
                    media_type=media.sniff(stored.head) if stored.size else a.media_type,
                    declared_type=a.media_type,
                )
                self.summary.files_stored += 1
            out.append(entry)
        return out

    def add(self, item: Item) -> None:
        key = self.keys.key(item.sender, item.channel)
        sent_at = None if item.sent_at is None else utc_rfc3339(item.sent_at)
        digest, base = self.content_key(item, key, sent_at)
        if item.attachments:
            # an item's files can be read only now: settle whether it is new first
            settled = self.settle(digest, base, self.lookup(digest))
            if settled is None:
                self.summary.duplicates += 1
                return
            self.taken.add(settled)
            files = self.store_files(item.attachments)
            self.pending.append((item, key, sent_at, settled, base, files))
        else:
            self.pending.append((item, key, sent_at, digest, base, None))
        if len(self.pending) >= BATCH:
            self.flush()

    def _store(
        self,
        item: Item,
        key: tuple[str, str, str] | None,
        sent_at: str | None,
        digest: bytes,
        files: list[dict[str, Any]],
    ) -> None:
        message_id = self.next_id
        self.next_id += 1
        direction = self.direction(item, key)
        sender = None
        if item.sender is not None and key is not None:
            sender = {"raw": item.sender.raw, "kind": key[0], "platform": key[1], "value": key[2]}
            if key not in self.me and key[0] != "withheld":
                self.unknown[key] += 1
                self.unknown_raw.setdefault(key, item.sender.raw)
        recipients = [{"raw": p.raw, "kind": p.kind} for p in item.recipients]
        record = message_record(
            message_id=message_id,
            source_id=self.source_id,
            direction=direction,
            sender=sender,
            recipients=recipients,
            sent_at=sent_at,
            files=files,
            raw=item.raw,
            fields={k: getattr(item, k) for k in RECORD_FIELDS},
        )
        leaf = merkle.leaf_hash(canonical_json(record).encode())
        self.batch.append(
            (
                message_id,
                self.source_id,
                item.kind,
                item.channel,
                direction,
                item.thread,
                None if sender is None else sender["raw"],
                None if key is None else key[0],
                None if key is None else key[1],
                None if key is None else key[2],
                canonical_json(recipients) if recipients else "[]",
                sent_at,
                item.local_time,
                item.time_note,
                item.body,
                item.deleted,
                item.call_type,
                item.duration_s,
                item.line,
                item.offset,
                canonical_json(item.raw) if item.raw else "{}",
                canonical_json(files) if files else "[]",
                digest,
                leaf,
            )
        )
        for i, f in enumerate(files):
            if f["sha256"] is not None:
                self.batch_files.append((message_id, i, bytes.fromhex(f["sha256"])))
        self.batch_leaves.append(leaf)
        self.summary.added += 1
        self.summary.by_kind[item.kind] += 1
        self.summary.by_sender[_label(key, item.sender)] += 1

    def flush(self) -> None:
        """Settle the pending items against the diary in one query per 500, store the new
        ones, and record them with one log entry."""
        known: dict[bytes, int] = {}
        undecided = [p[3] for p in self.pending if p[5] is None]
        for i in range(0, len(undecided), 500):
            part = undecided[i : i + 500]
            rows = self.raw.execute(
                "SELECT dedupe, source_id FROM message WHERE dedupe IN "
                f"({', '.join(['?'] * len(part))})",
                part,
            )
            known.update((bytes(d), int(sid)) for d, sid in rows)
        for item, key, sent_at, digest, base, files in self.pending:
            if files is None:
                settled = self.settle(digest, base, known.get(digest))
                if settled is None:
                    self.summary.duplicates += 1
                    continue
                self.taken.add(settled)
                digest, files = settled, []
            self._store(item, key, sent_at, digest, files)
        self.pending.clear()
        if not self.batch:
            self.taken.clear()
            return
        e = log.append(
            self.conn,
            type="messages.imported",
            subject=f"source/{self.source_id}",
            record={
                "source": self.source_id,
                "first": self.batch[0][0],
                "last": self.batch[-1][0],
                "count": len(self.batch),
                "root": merkle.root_from_leaves(self.batch_leaves).hex(),
            },
        )
        self.raw.executemany(
            "INSERT INTO message (id, source_id, kind, channel, direction, thread, sender_raw, "
            "sender_kind, sender_platform, sender_value, recipients, sent_at, local_time, "
            "time_note, body, deleted, call_type, duration_s, line, offset, raw, attachments, "
            f"dedupe, leaf, batch_seq) VALUES ({', '.join(['?'] * 24)}, {e.seq})",
            self.batch,
        )
        self.raw.executemany(
            "INSERT INTO message_file (message_id, idx, sha256) VALUES (?, ?, ?)",
            self.batch_files,
        )
        self.batch.clear()
        self.batch_files.clear()
        self.batch_leaves.clear()
        self.taken.clear()  # now in the table, under this source


RECORD_FIELDS = (
    "kind",
    "channel",
    "thread",
    "local_time",
    "time_note",
    "body",
    "deleted",
    "call_type",
    "duration_s",
    "line",
    "offset",
)


def message_record(
    *,
    message_id: int,
    source_id: int,
    direction: str,
    sender: dict[str, Any] | None,
    recipients: list[dict[str, Any]],
    sent_at: str | None,
    files: list[dict[str, Any]],
    raw: dict[str, Any],
    fields: dict[str, Any],
) -> dict[str, Any]:
    """The record a message's leaf hash covers. The importer builds it from an item, verify
    from the stored row: both must give the same record."""
    return {
        "id": message_id,
        "source": source_id,
        "direction": direction,
        "sender": sender,
        "recipients": recipients,
        "sent_at": sent_at,
        "attachments": files,
        "raw": raw,
        **{k: fields[k] for k in RECORD_FIELDS},
    }


def find_source(conn: Connection, sha256: bytes) -> Any:
    return conn.execute(
        select(source_table.c.id, source_table.c.imported_at, source_table.c.summary)
        .where(source_table.c.sha256 == sha256)
        .order_by(source_table.c.id)
    ).first()


def run(
    conn: Connection,
    path: Path,
    options: Options,
    *,
    sha256: bytes,
    importer: Importer,
    name: str,
    progress: Progress | None = None,
) -> Summary:
    """Import ``path`` inside the caller's write transaction."""
    summary = Summary(
        file=name,
        importer=importer.name,
        importer_label=importer.label,
        importer_version=importer.version,
    )
    size = path.stat().st_size

    items_read = [0]

    def report(stage: str) -> Callable[[int], None]:
        def inner(done: int) -> None:
            if progress is not None:
                progress(stage, done, size, items_read[0])

        return inner

    with path.open("rb") as f:
        stored = blobs.put_stream(conn, f, progress=report("Keeping the original"))
    if stored.sha256 != sha256:
        raise ImportFormatError(
            f"{name} changed while Docket was reading it.",
            cause="Another program may still be writing the file (a download or a copy).",
            hint="Wait until it has finished, then import it again.",
            location=Location(file=name),
        )
    raw = log.raw_connection(conn)
    source_id = int(raw.execute("SELECT coalesce(max(id), 0) + 1 FROM source").fetchone()[0])
    opts = {
        "timezone": options.timezone,
        "region": options.region,
        "day_first": options.day_first,
        "me": list(options.me),
        "person": options.person_id,
        "partial": options.partial,
    }
    e = log.append(
        conn,
        type="source.imported",
        subject=f"source/{source_id}",
        record={
            "id": source_id,
            "sha256": sha256.hex(),
            "size": size,
            "name": name,
            "importer": importer.name,
            "importer_version": importer.version,
            "options": opts,
        },
    )
    imported_at = e.recorded_at
    raw.execute(
        "INSERT INTO source (id, entry_seq, sha256, size, name, importer, importer_version, "
        "options, imported_at, summary) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, '{}')",
        (
            source_id,
            e.seq,
            sha256,
            size,
            name,
            importer.name,
            importer.version,
            canonical_json(opts),
            imported_at,
        ),
    )
    summary.source_id = source_id
    writer = _Writer(conn, source_id, options, summary)
    context = Context(
        timezone=options.timezone, region=options.region, day_first=options.day_first, name=name
    )
    tracked = _TrackedSource(path)
    reading = report("Importing")
    read = 0
    collecting = gc.isenabled()
    gc.disable()  # items are short-lived and acyclic: the collector only costs time here
    try:
        for n, out in enumerate(importer.parse(tracked, context)):
            if progress is not None and n % 2000 == 0:
                reading(tracked.position())
            if isinstance(out, ImportWarning):
                _warn(summary, out)
            else:
                read += 1
                items_read[0] = read
                writer.add(out)
    except ImportFormatError as exc:
        if not (options.partial and read):
            if read:
                exc.hint = (
                    f"{exc.hint + ' ' if exc.hint else ''}Nothing was imported. To keep the "
                    f"{read:,} items before the break, run the import again with --partial."
                )
            raise
        where = exc.location
        _warn(
            summary,
            ImportWarning(
                code="file_ends_early",
                message=f"{exc.message} Only the {read:,} items before that were imported.",
                line=where.line if where else None,
                offset=where.offset if where else None,
            ),
        )
    finally:
        if collecting:
            gc.enable()
    writer.flush()
    _people(conn, writer, options, summary, name)
    if writer.new_me:
        stored_me = sorted(writer.me)
        conn.execute(
            meta.delete().where(meta.c.key == "me_keys"),
        )
        conn.execute(meta.insert().values(key="me_keys", value=canonical_json(stored_me)))
    final = {
        "added": summary.added,
        "duplicates": summary.duplicates,
        "by_kind": dict(sorted(summary.by_kind.items())),
        "files_stored": summary.files_stored,
        "files_missing": summary.files_missing,
        "warnings_total": summary.warnings_total,
        "warnings": summary.warnings,
    }
    e = log.append(
        conn,
        type="source.finished",
        subject=f"source/{source_id}",
        record={"id": source_id, "summary": final},
    )
    raw.execute("UPDATE source SET summary = ? WHERE id = ?", (canonical_json(final), source_id))
    return summary


def _warn(summary: Summary, w: ImportWarning) -> None:
    summary.warnings_total += 1
    if len(summary.warnings) < MAX_WARNINGS_KEPT:
        found = {"code": w.code, "message": w.message, "line": w.line, "offset": w.offset}
        summary.warnings.append({k: v for k, v in found.items() if v is not None})


def _people(
    conn: Connection, writer: _Writer, options: Options, summary: Summary, name: str
) -> None:
    """Link the conversation's other party to ``--person`` when that is unambiguous, and list
    the senders the register does not know."""
    raw = writer.raw
    unknown = []
    for key, count in writer.unknown.most_common():
        known = raw.execute(
            "SELECT person_id FROM identifier WHERE kind = ? AND platform = ? AND value = ?",
            key,
        ).fetchone()
        if known is None:
            unknown.append((key, count))
    if options.person_id is not None:
        if len(unknown) == 1:
            key = unknown[0][0]
            person = get_person(conn, options.person_id)
            assert person.data is not None
            ident = _identifier(key, writer.unknown_raw[key])
            data = replace(person.data, identifiers=(*person.data.identifiers, ident))
            update_person(conn, options.person_id, data, f"Linked from the import of {name}")
            summary.linked = f"{writer.unknown_raw[key]} → {person.data.name}"
            unknown = []
        elif unknown:
            summary.not_linked_reason = (
                f"{len(unknown)} senders in this file are not in your register, so Docket "
                "could not tell which one --person meant."
            )
    summary.unknown_senders = [
        {
            "raw": writer.unknown_raw[key],
            "identifier": _identifier(key, writer.unknown_raw[key]).label(),
            "kind": key[0],
            "messages": count,
        }
        for key, count in unknown
    ]
