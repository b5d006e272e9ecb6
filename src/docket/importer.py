"""The import pipeline: the only code that writes imported items into the diary.

For one file it picks the importer (by ``score`` or by name), stores the original file whole
inside the diary, then writes the items the importer yields in batches, each batch covered by
one log entry that holds the Merkle root of its messages' records, and finally records what
was imported. Everything happens in one write transaction: an import that fails, or is
killed, leaves the diary as it was, and running it again starts afresh.

Re-importing a file already imported adds nothing. A later export of the same chat adds only
what is new: each message has a content key (sender, time, the text as it would appear in any
export of the chat, and how many identical messages came before it at that time), so the
same message from two exports is stored once. Keys begin with the second the message was
sent, so a batch whose span of time the diary holds nothing in is settled with one query.
When the later export has files the earlier one only named (a conversation's JSON without
its media, then the whole download), they are added to the stored message, recorded by an
entry of their own (see ``_Writer.add_files``).

The same code writes to a diary file and to a case on a server; only the bulk insert of a
batch's rows differs (SQLCipher: one bound blob per chunk, see ``_Writer._insert``;
PostgreSQL: one COPY per batch, see ``_Writer._copy``).
"""

from __future__ import annotations

import gc
import hashlib
import json
import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from itertools import accumulate
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, select

from docket import contact_store, flag_store
from docket.errors import (
    DocketError,
    ImportFailed,
    ImportFormatError,
    ImportTooLarge,
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
from docket.model.timeparse import zone
from docket.records import get_meta, get_person, update_person
from docket.store import blobs
from docket.store.base import dialect
from docket.store.schema import meta
from docket.store.schema import source as source_table
from docket.timeline import CHANNEL_OF

__all__ = ["Options", "Probe", "Progress", "Source", "Summary", "choose", "find_source", "run"]

BATCH = 2048  # items per messages.imported log entry
CHUNK = 1024  # rows per INSERT statement (see _Writer._insert): 23,558 parameters, under
# SQLite's default limit of 32,766
KNOWN_LIMIT = 4 * BATCH  # most keys fetched by one range query when settling a batch
MAX_WARNINGS_KEPT = 1000
OPTIMIZE_AFTER = 20_000  # messages added by one import before its full-text index is merged
_INVISIBLE = re.compile("[\u200e\u200f\u202a-\u202e\u2066-\u2069\ufeff]")

Progress = Callable[[str, int, int, int], None]  # stage, bytes done, bytes in all, items


def _not_json(value: Any) -> Any:
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


# json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False), calling the C
# encoder directly: json.dumps spends more time setting the encoder up than a record takes
_ENCODE = (
    json.encoder.c_make_encoder(  # type: ignore[attr-defined]
        None, _not_json, json.encoder.encode_basestring, None, ":", ",", True, False, False
    )
    if json.encoder.c_make_encoder is not None  # type: ignore[attr-defined]
    else None
)


def canonical_json(value: Any) -> str:
    """RFC 8785 for the values records hold (strings, integers, booleans, null, lists and
    objects with ASCII keys; never floats), at the speed of the C encoder."""
    if _ENCODE is None:  # pragma: no cover - a Python without the json accelerator
        return json.dumps(
            value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
        )
    return "".join(_ENCODE(value, 0))


@dataclass(frozen=True)
class Options:
    format: str | None = None
    person_id: int | None = None  # the person this conversation is with
    me: tuple[str, ...] = ()  # how the user appears in the export
    timezone: str = "Europe/London"
    region: str = "GB"
    day_first: bool | None = None
    partial: bool = False  # keep what was read before a break in a damaged file
    mapping: tuple[tuple[str, str], ...] = ()  # field -> column, for the mapped CSV importer


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
    files_added: int = 0  # to messages an earlier import kept without them
    warnings: list[dict[str, Any]] = field(default_factory=list)
    warnings_total: int = 0
    unknown_senders: list[dict[str, Any]] = field(default_factory=list)
    linked: str | None = None
    not_linked_reason: str | None = None

    @classmethod
    def already(cls, name: str, source: Any) -> Summary:
        """The summary for a file imported before (``source`` is its row): nothing added."""
        done = cls(file=name, source_id=source.id)
        done.already_imported_at = source.imported_at
        done.duplicates = int(json.loads(source.summary).get("added", 0))
        return done

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
            "files_added": self.files_added,
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
    scored = sorted(((-imp.score(probe), i, imp) for i, imp in enumerate(importers)))
    best_score, _, best = -scored[0][0], scored[0][1], scored[0][2]
    if best_score < best.confident_at:
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
        return "(no sender)"
    if key[0] == "withheld":
        return "(number withheld)"
    return party.raw.strip()


class _Writer:
    """Writes one import inside the caller's transaction.

    Every item is first given its content key (see ``content_key``) and held until a batch is
    full. The batch is then settled against the diary in one range query over the keys' time
    span (or, when the diary has many messages in that span, by key), its new messages are
    recorded with one log entry holding their Merkle root, and the rows are inserted
    ``CHUNK`` at a time (see ``_insert``).
    """

    def __init__(
        self,
        conn: Connection,
        source_id: int,
        options: Options,
        summary: Summary,
        contacts: contact_store.Pending,
    ) -> None:
        self.conn = conn
        self.raw = log.raw_connection(conn)
        self.postgres = dialect(conn) == "postgresql"
        # the contacts kept 30 days at a time (docket.contact_store), gathered as batches go in
        self.contacts = contacts
        self.source_id = source_id
        self.options = options
        self.summary = summary
        self.keys = _Keys(options.region)
        stored_me = json.loads(get_meta(conn).get("me_keys", "[]"))
        self.me = {tuple(k) for k in stored_me}
        self.new_me: list[tuple[str, str, str]] = []
        for name in options.me:
            # the user, as a name, number, address or account, on every channel
            for channel in CHANNEL_OF:
                for kind in ("name", "phone", "email", "handle"):
                    try:
                        k = self.keys.key(Party(name, kind), channel)
                    except DocketError:
                        continue
                    if k is not None and k not in self.me:
                        self.me.add(k)
                        self.new_me.append(k)
        self.next_id = int(
            self.raw.execute("SELECT coalesce(max(id), 0) + 1 FROM message").fetchone()[0]
        )
        self.senders: dict[tuple[str, str, str], _Sender] = {}
        self.clock = _Clock()
        # items read but not yet stored: (item, sender, sent at, content key, its base, files
        # or None when not yet settled)
        self.pending: list[
            tuple[Item, _Sender | None, str | None, bytes, bytes, list[dict[str, Any]] | None]
        ] = []
        # the batch's new messages, in id order: their integers, text, content key and leaf
        self.rows: list[tuple[tuple[int, ...], tuple[str, ...], bytes]] = []
        self.batch_files: list[tuple[int, int, bytes]] = []
        # the batch's messages whose words the language flags look at (flag_store's columns)
        self.batch_words: list[tuple[Any, ...]] = []
        self.batch_leaves: list[bytes] = []
        self.taken: set[bytes] = set()  # content keys given out since the last flush
        # What the diary held, at the start of this flush, under the keys in [lo, hi): keys
        # in that range and not in ``known`` are not in the diary.
        self.known: dict[bytes, int] = {}
        self.known_range = (b"", b"")
        self.time_key = ""
        self.ordinals: dict[bytes, int] = {}  # per base, at the current time only
        self.unknown: Counter[tuple[str, str, str]] = Counter()
        self.unknown_raw: dict[tuple[str, str, str], str] = {}
        self.statements: dict[int, str] = {}  # INSERT statements by number of rows

    def sender(self, party: Party, channel: str) -> _Sender:
        """The sender's register key, its part of the record, label and whether it counts as
        someone the register may not know; worked out once per name and channel."""
        found = self.senders.get((party.raw, party.kind, channel))
        if found is not None:
            return found
        if len(self.senders) > 50_000:
            self.senders.clear()
        key = self.keys.key(party, channel)
        assert key is not None
        kind, platform, value = key
        as_json = (
            f'{{"kind":{_json_string(kind)},"platform":{_json_string(platform)},'
            f'"raw":{_json_string(party.raw)},"value":{_json_string(value)}}}'
        )
        counts = key not in self.me and kind != "withheld"
        found = _Sender(key, "\x1d".join(key), party.raw, as_json, _label(key, party), counts)
        self.senders[(party.raw, party.kind, channel)] = found
        return found

    def direction(self, item: Item, key: tuple[str, str, str] | None) -> str:
        if item.direction != "unknown":
            return item.direction
        if key is not None and key in self.me:
            return "outgoing"
        if self.me and key is not None:
            return "incoming"
        return "unknown"

    def content_key(
        self, item: Item, sender: _Sender | None, sent_at: str | None, prefix: bytes
    ) -> tuple[bytes, bytes]:
        """The message's content key (and its base, for trying the next ordinal): who, when,
        the text as any export of the chat would show it, and how many identical messages
        came before it at that time in this file. The key starts with the second it was
        sent, so keys sort by time: the unique index on them grows at its end, like the
        others, and one range query tells whether the diary has anything in a batch's
        span of time."""
        time_key = sent_at if sent_at is not None else item.local_time
        if time_key != self.time_key:
            self.time_key = time_key
            self.ordinals.clear()
        text = item.match_body if item.match_body is not None else item.body
        if text:
            if not text.isascii():
                text = _INVISIBLE.sub("", text)
            text = " ".join(text.split())
        else:
            text = ""
        if sender is None:
            who = "\x1e".join(
                "\x1d".join(k) for p in item.recipients if (k := self.keys.key(p, item.channel))
            )
        else:
            who = sender.joined
        duration = item.duration_s
        base = "\x1f".join(
            (
                item.kind,
                item.channel,
                "" if sender is None else "from",
                who,
                time_key,
                text,
                item.call_type or "",
                "" if duration is None else str(duration),
            )
        ).encode()
        return self.next_digest(base, prefix), base

    def next_digest(self, base: bytes, prefix: bytes) -> bytes:
        n = self.ordinals.get(base, 0)
        self.ordinals[base] = n + 1
        return prefix + _sha256(base + (b"\x1f0" if n == 0 else b"\x1f%d" % n)).digest()[:24]

    def lookup(self, digest: bytes) -> int | None:
        lo, hi = self.known_range
        if lo <= digest < hi:
            return self.known.get(digest)
        row = self.raw.execute("SELECT source_id FROM message WHERE dedupe = ?", (digest,))
        found = row.fetchone()
        return None if found is None else int(found[0])

    def settle(self, digest: bytes, base: bytes, known: int | None) -> bytes | None:
        """The key this item is stored under, or None when another import already has it."""
        found, new = self.resolve(digest, base, known)
        return found if new else None

    def resolve(self, digest: bytes, base: bytes, known: int | None) -> tuple[bytes, bool]:
        """The key this item is stored under and True; or, when another import already has
        it, the key that import stored it under and False. A key taken by this import (an
        identical message met again out of order) moves on to the next ordinal."""
        while True:
            if digest in self.taken:
                digest = self.next_digest(base, digest[:8])
                known = self.lookup(digest)
                continue
            if known is None:
                return digest, True
            if known != self.source_id:
                return digest, False
            digest = self.next_digest(base, digest[:8])
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
                # the bytes decide; a declared type is kept only where it is a narrower kind
                # of what they show (a .docx is a zip, a .msg an OLE2 file, a .csv text)
                entry.update(
                    sha256=stored.sha256.hex(),
                    size=stored.size,
                    media_type=(
                        media.refine(media.sniff(stored.head), a.media_type, stored.head)
                        if stored.size
                        else a.media_type
                    ),
                    declared_type=a.media_type,
                )
                self.summary.files_stored += 1
            out.append(entry)
        return out

    def add(self, item: Item) -> None:
        who = None if item.sender is None else self.sender(item.sender, item.channel)
        when = item.sent_at
        if when is None:
            sent_at: str | None = None
            prefix = _NO_TIME
        else:
            sent_at, prefix = self.clock(when)
        digest, base = self.content_key(item, who, sent_at, prefix)
        if item.attachments:
            # an item's files can be read only now: settle whether it is new first
            settled, new = self.resolve(digest, base, self.lookup(digest))
            if not new:
                self.summary.duplicates += 1
                self.add_files(settled, item)
                return
            self.taken.add(settled)
            files = self.store_files(item.attachments)
            self.pending.append((item, who, sent_at, settled, base, files))
        else:
            self.pending.append((item, who, sent_at, digest, base, None))
        if len(self.pending) >= BATCH:
            self.flush()

    def add_files(self, digest: bytes, item: Item) -> None:
        """Keep the files an item brings for the message an earlier import stored under
        ``digest`` without them (its export only named them: a conversation's JSON without
        its media, a chat exported without media).

        A file goes in the place with the same number in the message's record, and only
        where that place has no file, from the record or added since, and names the same
        file (or names none: WhatsApp's "<Media omitted>"). The stored message and its record
        stay as they are, since its leaf is in the log: the files are recorded by one
        ``message.files_added`` entry of their own, and ``message_file`` rows that verify
        checks against it. One entry per message, so that an evidence bundle can disclose
        the files of the messages it holds and nothing about any other."""
        if all(a.chunks is None for a in item.attachments):
            return
        row = self.raw.execute(
            "SELECT id, attachments FROM message WHERE dedupe = ?", (digest,)
        ).fetchone()
        if row is None:  # pragma: no cover - resolve has just found it
            return
        message_id = int(row[0])
        try:
            places = json.loads(row[1])
        except ValueError:
            places = None  # changed outside Docket: verify reports it; add nothing to it
        if not isinstance(places, list):
            places = []
        taken = {
            int(i)
            for (i,) in self.raw.execute(
                "SELECT idx FROM message_file WHERE message_id = ?", (message_id,)
            )
        }
        added: list[dict[str, Any]] = []
        for i, a in enumerate(item.attachments):
            if a.chunks is None:
                continue
            place = places[i] if i < len(places) else None
            if not isinstance(place, dict):
                self._not_added(
                    item,
                    f"The file {a.name!r} came with message {message_id}, which is already in "
                    "the diary, but the earlier import of that message listed no file in its "
                    "place, so Docket did not add it to the message.",
                )
                continue
            if place.get("sha256") is not None or i in taken:
                continue  # kept already, by the earlier import or a later one
            named = place.get("name") or ""
            if named and named != a.name:
                self._not_added(
                    item,
                    f"The file {a.name!r} came with message {message_id}, which is already in "
                    f"the diary, but the earlier import named the file in its place {named!r}, "
                    "so Docket did not add it to the message.",
                )
                continue
            [kept] = self.store_files((a,))
            self.summary.files_stored -= 1  # counted below, as added to a message kept before
            added.append(
                {
                    "idx": i,
                    "name": a.name,
                    "sha256": kept["sha256"],
                    "size": kept["size"],
                    "media_type": kept["media_type"],
                    "declared_type": kept["declared_type"],
                }
            )
        if not added:
            return
        log.append(
            self.conn,
            type="message.files_added",
            subject=f"message/{message_id}",
            record={"message": message_id, "source": self.source_id, "files": added},
        )
        self.raw.executemany(
            "INSERT INTO message_file (message_id, idx, sha256) VALUES (?, ?, ?)",
            [(message_id, f["idx"], bytes.fromhex(f["sha256"])) for f in added],
        )
        self.summary.files_added += len(added)

    def _not_added(self, item: Item, message: str) -> None:
        _warn(
            self.summary,
            ImportWarning(
                code="file_not_added", message=message, line=item.line, offset=item.offset
            ),
        )

    def _store(
        self,
        item: Item,
        who: _Sender | None,
        sent_at: str | None,
        digest: bytes,
        files: list[dict[str, Any]],
    ) -> None:
        message_id = self.next_id
        self.next_id += 1
        if who is None:
            direction = self.direction(item, None)
            sender_json = "null"
            label = "(no sender)"
            nulls = _NULL_SENDER
            sender_raw = sender_kind = sender_platform = sender_value = ""
        else:
            direction = self.direction(item, who.key)
            sender_json = who.as_json
            label = who.label
            nulls = 0
            sender_raw = who.raw
            sender_kind, sender_platform, sender_value = who.key
            if who.counts:
                self.unknown[who.key] += 1
                self.unknown_raw.setdefault(who.key, who.raw)
        recipients = (
            canonical_json([{"raw": p.raw, "kind": p.kind} for p in item.recipients])
            if item.recipients
            else "[]"
        )
        raw = canonical_json(item.raw) if item.raw else "{}"
        attachments = canonical_json(files) if files else "[]"
        deleted = bool(item.deleted)
        body, thread, time_note, call_type = item.body, item.thread, item.time_note, item.call_type
        # canonical_json(message_record(...)), written out: its keys in their sorted order.
        # The string encoder is canonical_json's own; it refuses anything but a str.
        record = (
            f'{{"attachments":{attachments},'
            f'"body":{"null" if body is None else _json_string(body)},'
            f'"call_type":{"null" if call_type is None else _json_string(call_type)},'
            f'"channel":{_json_string(item.channel)},'
            f'"deleted":{"true" if deleted else "false"},'
            f'"direction":{_json_string(direction)},'
            f'"duration_s":{_json_int(item.duration_s)},'
            f'"id":{message_id},'
            f'"kind":{_json_string(item.kind)},'
            f'"line":{_json_int(item.line)},'
            f'"local_time":{_json_string(item.local_time)},'
            f'"offset":{_json_int(item.offset)},'
            f'"raw":{raw},'
            f'"recipients":{recipients},'
            f'"sender":{sender_json},'
            f'"sent_at":{"null" if sent_at is None else _json_string(sent_at)},'
            f'"source":{self.source_id},'
            f'"thread":{"null" if thread is None else _json_string(thread)},'
            f'"time_note":{"null" if time_note is None else _json_string(time_note)}}}'
        )
        leaf = merkle.leaf_hash(record.encode())
        if thread is None:
            nulls |= _NULL_THREAD
        if sent_at is None:
            nulls |= _NULL_SENT_AT
        if time_note is None:
            nulls |= _NULL_TIME_NOTE
        if body is None:
            nulls |= _NULL_BODY
        if call_type is None:
            nulls |= _NULL_CALL_TYPE
        self.rows.append(
            (
                (
                    message_id,
                    int(deleted),
                    _NULL_INT if item.duration_s is None else item.duration_s,
                    _NULL_INT if item.line is None else item.line,
                    _NULL_INT if item.offset is None else item.offset,
                    nulls,
                ),
                (  # in _TEXT_COLUMNS' order, "" for NULL
                    item.kind,
                    item.channel,
                    direction,
                    thread or "",
                    sender_raw,
                    sender_kind,
                    sender_platform,
                    sender_value,
                    recipients,
                    sent_at or "",
                    item.local_time,
                    time_note or "",
                    body or "",
                    call_type or "",
                    raw,
                    attachments,
                ),
                digest + leaf,
            )
        )
        for i, f in enumerate(files):
            if f["sha256"] is not None:
                self.batch_files.append((message_id, i, bytes.fromhex(f["sha256"])))
        if body and direction != "outgoing":  # words the language flags may find
            sender = (
                (None, None, None)
                if nulls & _NULL_SENDER
                else (sender_kind, sender_platform, sender_value)
            )
            self.batch_words.append((message_id, direction, body, sent_at, *sender))
        self.batch_leaves.append(leaf)
        self.summary.added += 1
        self.summary.by_kind[item.kind] += 1
        self.summary.by_sender[label] += 1

    def load_known(self, digests: list[bytes]) -> None:
        """What the diary holds under these keys. One query over their span of time, which
        finds nothing when the diary has no messages then (a first import, or a later export
        past the end of the earlier one); by key when that span holds many messages, and
        for items without a time (whose keys all start with the same eight zero bytes)."""
        self.known = {}
        self.known_range = (b"", b"")
        dated = [d for d in digests if not d.startswith(_NO_TIME)]
        by_key = [d for d in digests if d.startswith(_NO_TIME)]
        if dated:
            lo = min(d[:8] for d in dated)
            hi = max(d[:8] for d in dated) + b"\xff" * 25  # above every key in that second
            rows = self.raw.execute(
                "SELECT dedupe, source_id FROM message WHERE dedupe >= ? AND dedupe < ? LIMIT ?",
                (lo, hi, KNOWN_LIMIT + 1),
            ).fetchall()
            if len(rows) <= KNOWN_LIMIT:
                self.known = {bytes(d): int(s) for d, s in rows}
                self.known_range = (lo, hi)
            else:
                by_key += dated
        for i in range(0, len(by_key), 500):
            part = by_key[i : i + 500]
            found = self.raw.execute(
                "SELECT dedupe, source_id FROM message WHERE dedupe IN "
                f"({', '.join(['?'] * len(part))})",
                part,
            )
            self.known.update((bytes(d), int(s)) for d, s in found)

    def flush(self) -> None:
        """Settle the pending items against the diary, store the new ones, and record them
        with one log entry."""
        undecided = [p[3] for p in self.pending if p[5] is None]
        self.load_known(undecided)
        for item, who, sent_at, digest, base, files in self.pending:
            if files is None:
                settled = self.settle(digest, base, self.known.get(digest))
                if settled is None:
                    self.summary.duplicates += 1
                    continue
                self.taken.add(settled)
                digest, files = settled, []
            self._store(item, who, sent_at, digest, files)
        self.pending.clear()
        self.known = {}
        self.known_range = (b"", b"")
        if not self.rows:
            self.taken.clear()
            return
        e = log.append(
            self.conn,
            type="messages.imported",
            subject=f"source/{self.source_id}",
            record={
                "source": self.source_id,
                "first": self.rows[0][0][0],
                "last": self.rows[-1][0][0],
                "count": len(self.rows),
                "root": _merkle_root(self.batch_leaves).hex(),
            },
        )
        self._insert(self.rows, e.seq)
        if not self.postgres:
            # the batch's words into the search index in one statement (PostgreSQL's GIN
            # index keeps itself): a trigger would run once per row
            self.raw.execute(
                "INSERT INTO message_fts(rowid, body) SELECT id, body FROM message "
                "WHERE id BETWEEN ? AND ? AND body IS NOT NULL",
                (self.rows[0][0][0], self.rows[-1][0][0]),
            )
        self.raw.executemany(
            "INSERT INTO message_file (message_id, idx, sha256) VALUES (?, ?, ?)",
            self.batch_files,
        )
        first, last = self.rows[0][0][0], self.rows[-1][0][0]
        flag_store.add(self.raw, first, last, self.batch_words)
        self.contacts.add(first, last)
        self.rows.clear()
        self.batch_files.clear()
        self.batch_words.clear()
        self.batch_leaves.clear()
        self.taken.clear()  # now in the table, under this source
        # run() imports with the cycle collector off; free any cycle an importer left in
        # this batch (only objects made since the last flush are looked at: milliseconds)
        gc.collect(0)

    def _insert(
        self, rows: list[tuple[tuple[int, ...], tuple[str, ...], bytes]], batch_seq: int
    ) -> None:
        """Insert the batch's rows ``CHUNK`` at a time, each chunk one INSERT ... SELECT over a
        VALUES list whose text is one bound blob, cut up by ``substr``.

        Why not ``executemany``: with ``cipher_memory_security`` on, every heap allocation
        SQLite makes is mlocked and, when freed, wiped and munlocked: two system calls. A
        statement run once per row allocates about 25 times (each bound text value, each
        cursor and each record it builds, since a finished statement frees its registers),
        and the connection's lookaside memory, which would absorb most of that, is taken by
        the prepared statements the connection keeps. Run once per chunk, the statement
        keeps its cursors and registers from row to row, and a chunk's text is one
        allocation. A chunk smaller than ``CHUNK`` is cut into powers of two, so a
        connection prepares at most a handful of these statements.

        Every value bound for a row is an ``int``: the driver binds those directly, but
        looks for an adapter for anything else (None, bytes, bool), which costs it several
        microseconds a value. A NULL is a bit in the row's mask for text, and ``_NULL_INT``
        for a number.

        On PostgreSQL none of that applies: the rows go in through COPY (``_copy``)."""
        if self.postgres:
            self._copy(rows, batch_seq)
            return
        start = 0
        while start < len(rows):
            left = len(rows) - start
            n = CHUNK if left >= CHUNK else 1 << (left.bit_length() - 1)
            chunk = rows[start : start + n]
            start += n
            params: list[int | bytes] = [b"", self.source_id, batch_seq, b"", chunk[0][0][0]]
            params.append(_NULL_INT)
            parts: list[bytes] = []
            hashes: list[bytes] = []
            pos = 1
            for numbers, texts, digest_and_leaf in chunk:
                data = list(map(str.encode, texts))
                bounds = list(accumulate(map(len, data), initial=pos))
                pos = bounds[-1]
                params += numbers
                params += bounds
                parts += data
                hashes.append(digest_and_leaf)
            params[0] = b"".join(parts)
            params[3] = b"".join(hashes)
            sql = self.statements.get(n)
            if sql is None:
                sql = self.statements[n] = _insert_sql(n)
            self.raw.execute(sql, params)

    def _copy(
        self, rows: list[tuple[tuple[int, ...], tuple[str, ...], bytes]], batch_seq: int
    ) -> None:
        """PostgreSQL: the batch's rows in one COPY, each row as the table holds it (NULLs
        and booleans back from ``_store``'s compact form). COPY streams the rows to the
        server in large messages and skips the planner and per-statement work entirely. It
        goes through psycopg's own connection: the ``?`` adapter (``store.base.raw``) has no
        COPY."""
        import psycopg

        driver = self.conn.connection.driver_connection
        assert driver is not None
        source_id = self.source_id
        try:
            with (
                driver.cursor() as cur,
                cur.copy(f"COPY message ({', '.join(_COPY_COLUMNS)}) FROM STDIN") as copy,
            ):
                write = copy.write_row
                for numbers, texts, digest_and_leaf in rows:
                    message_id, deleted, duration, line, offset, nulls = numbers
                    write(
                        (
                            message_id,
                            source_id,
                            batch_seq,
                            deleted == 1,
                            None if duration == _NULL_INT else duration,
                            None if line == _NULL_INT else line,
                            None if offset == _NULL_INT else offset,
                            *(
                                [
                                    None if nulls & bit else t
                                    for bit, t in zip(_NULL_BITS, texts, strict=True)
                                ]
                                if nulls
                                else texts
                            ),
                            digest_and_leaf[:32],
                            digest_and_leaf[32:],
                        )
                    )
        except psycopg.DataError as exc:
            at = _row_with_nul(rows)
            if at is None:
                raise
            raise ImportFailed(
                f"{self.summary.file} holds a character that the server's database cannot "
                "store (NUL, code 0), so nothing was imported.",
                cause="The export is damaged, or a program wrote raw binary data into it.",
                hint="Import the file into a diary file on your own computer, which can hold "
                "it, or ask for a fresh export.",
                location=_row_location(self.summary.file, at),
            ) from exc
        except psycopg.errors.ProgramLimitExceeded as exc:
            longest = max(rows, key=lambda r: len(r[1][_BODY_AT]))
            raise ImportTooLarge(
                f"A message in {self.summary.file} is too long for the server's search index, "
                "so nothing was imported.",
                cause="PostgreSQL's full-text index holds at most about a megabyte of words "
                "for one message.",
                hint="Import the file into a diary file on your own computer, which has no "
                "such limit.",
                location=_row_location(self.summary.file, longest),
            ) from exc


def _row_with_nul(
    rows: list[tuple[tuple[int, ...], tuple[str, ...], bytes]],
) -> tuple[tuple[int, ...], tuple[str, ...], bytes] | None:
    for row in rows:
        if any("\x00" in t for t in row[1]):
            return row
    return None


def _row_location(name: str, row: tuple[tuple[int, ...], tuple[str, ...], bytes]) -> Location:
    line, offset = row[0][3], row[0][4]
    return Location(
        file=name,
        line=None if line == _NULL_INT else line,
        offset=None if offset == _NULL_INT else offset,
    )


@dataclass(frozen=True, slots=True)
class _Sender:
    key: tuple[str, str, str]
    joined: str  # the key as the content key holds it
    raw: str
    as_json: str  # the record's "sender" object
    label: str  # for the summary's count by sender
    counts: bool  # a sender the register may not know (not the user, not withheld)


_NO_TIME = bytes(8)
_sha256 = hashlib.sha256


def _merkle_root(leaves: list[bytes]) -> bytes:
    """RFC 9162's MTH of the leaf hashes, built level by level: pairs from the left, an odd
    node at a level's end carried up as it is (the same tree as the RFC's split at the
    largest power of two)."""
    if not leaves:
        return merkle.EMPTY_ROOT
    level = leaves
    while len(level) > 1:
        pairs = [
            _sha256(b"\x01" + level[i] + level[i + 1]).digest() for i in range(0, len(level) - 1, 2)
        ]
        if len(level) % 2:
            pairs.append(level[-1])
        level = pairs
    return level[0]


# NULL in an integer column, for _Writer._insert. No line, offset or duration can be this
# (_json_int refuses it), so it never stands for a real value.
_NULL_INT = -(2**63)


_EPOCH_DAY = datetime(1970, 1, 1).toordinal()
_TWO_DIGITS = tuple(f"{i:02d}" for i in range(100))


class _Clock:
    """A time as ``utc_rfc3339`` writes it, and the key prefix of its second (eight bytes
    that sort as the seconds since 1970 do, before 1970 too). The date's text is kept from
    one time to the next, as most messages share their day with the one before:
    formatting a whole datetime costs several microseconds."""

    def __init__(self) -> None:
        self.day = 0  # not a day any datetime has
        self.day_text = ""
        self.day_second = 0

    def __call__(self, when: datetime) -> tuple[str, bytes]:
        if when.tzinfo is not UTC:
            when = when.astimezone(UTC)
        day = when.toordinal()
        if day != self.day:
            self.day = day
            self.day_text = f"{when.year:04d}-{when.month:02d}-{when.day:02d}T"
            self.day_second = (day - _EPOCH_DAY) * 86_400
        hour, minute, second = when.hour, when.minute, when.second
        two = _TWO_DIGITS
        return (
            self.day_text + two[hour] + ":" + two[minute] + ":" + two[second] + "Z",
            (self.day_second + hour * 3600 + minute * 60 + second + (1 << 63)).to_bytes(8, "big"),
        )


_json_string = json.encoder.encode_basestring  # the C encoder canonical_json uses for strings


def _json_int(value: Any) -> str:
    if value is None:
        return "null"
    if type(value) is int and value != _NULL_INT:
        return str(value)
    raise TypeError(f"an importer gave {value!r} where a whole number was expected")


# The message table's columns as _Writer.rows holds them: integers, bound as they are; text,
# cut from the chunk's blob; then the content key and the leaf, cut from a second blob.
_INT_COLUMNS = ("id", "deleted", "duration_s", "line", '"offset"')
_TEXT_COLUMNS = (
    "kind",
    "channel",
    "direction",
    "thread",
    "sender_raw",
    "sender_kind",
    "sender_platform",
    "sender_value",
    "recipients",
    "sent_at",
    "local_time",
    "time_note",
    "body",
    "call_type",
    "raw",
    "attachments",
)
_TEXT_AT = len(_INT_COLUMNS)
# the text columns that may be NULL, with their bit in a row's NULL mask
_NULL_BIT = {
    name: 1 << _TEXT_COLUMNS.index(name)
    for name in (
        "thread",
        "sender_raw",
        "sender_kind",
        "sender_platform",
        "sender_value",
        "sent_at",
        "time_note",
        "body",
        "call_type",
    )
}
_NULL_BITS = tuple(_NULL_BIT.get(name, 0) for name in _TEXT_COLUMNS)  # in their order
_BODY_AT = _TEXT_COLUMNS.index("body")
_COPY_COLUMNS = (
    "id",
    "source_id",
    "batch_seq",
    *_INT_COLUMNS[1:],
    *_TEXT_COLUMNS,
    "dedupe",
    "leaf",
)
_NULL_THREAD = _NULL_BIT["thread"]
_NULL_SENDER = (
    _NULL_BIT["sender_raw"]
    | _NULL_BIT["sender_kind"]
    | _NULL_BIT["sender_platform"]
    | _NULL_BIT["sender_value"]
)
_NULL_SENT_AT = _NULL_BIT["sent_at"]
_NULL_TIME_NOTE = _NULL_BIT["time_note"]
_NULL_BODY = _NULL_BIT["body"]
_NULL_CALL_TYPE = _NULL_BIT["call_type"]


def _insert_sql(rows: int) -> str:
    """INSERT ... SELECT for ``rows`` rows. ?1 is the chunk's text, UTF-8, as a blob; ?2 the
    source, ?3 the batch's log entry; ?4 the rows' content keys and leaves, 64 bytes a row;
    ?5 the first row's id; ?6 ``_NULL_INT``. Each row then gives its integer columns, a
    bit mask of its NULL text columns, and where in ?1 its text starts and each of its text
    columns ends (the next one's start)."""
    per_row = _TEXT_AT + 2 + len(_TEXT_COLUMNS)
    mask = _TEXT_AT + 1  # the VALUES column with the NULL mask; then the bounds
    names = ["id", "source_id", "batch_seq", *_INT_COLUMNS[1:], *_TEXT_COLUMNS, "dedupe", "leaf"]
    select = ["column1", "?2", "?3", "column2"]  # id, source, batch, deleted
    select += [f"nullif(column{c}, ?6)" for c in range(3, _TEXT_AT + 1)]
    for i, name in enumerate(_TEXT_COLUMNS):
        start, end = f"column{mask + 1 + i}", f"column{mask + 2 + i}"
        text = f"CAST(substr(?1, {start}, {end} - {start}) AS TEXT)"
        if _NULL_BIT.get(name):
            text = f"CASE WHEN column{mask} & {_NULL_BIT[name]} THEN NULL ELSE {text} END"
        select.append(text)
    select += [
        "substr(?4, (column1 - ?5) * 64 + 1, 32)",
        "substr(?4, (column1 - ?5) * 64 + 33, 32)",
    ]
    values = ", ".join(
        "(" + ", ".join(f"?{7 + r * per_row + c}" for c in range(per_row)) + ")"
        for r in range(rows)
    )
    return (
        f"INSERT INTO message ({', '.join(names)}) SELECT {', '.join(select)} "
        f"FROM (VALUES {values})"
    )


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
    """The record a message's leaf hash covers, as verify builds it from the stored row. The
    importer writes the same record out by hand, from the item (see ``_Writer._store``):
    both must give the same canonical JSON, byte for byte."""
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


def _modified(source: Source, timezone: str) -> datetime | None:
    """The file's modification time on the exporting device's clock, for a file on disk."""
    if source.path is None:
        return None
    try:
        stamp = source.path.stat().st_mtime
    except OSError:
        return None
    return datetime.fromtimestamp(stamp, UTC).astimezone(zone(timezone)).replace(tzinfo=None)


def run(
    conn: Connection,
    source: Source,
    options: Options,
    *,
    sha256: bytes,
    importer: Importer,
    name: str,
    progress: Progress | None = None,
    stored: blobs.StoredBlob | None = None,
) -> Summary:
    """Import ``source`` inside the caller's write transaction. ``stored`` is the original,
    when it is already in the store (an upload); otherwise it is stored here first."""
    summary = Summary(
        file=name,
        importer=importer.name,
        importer_label=importer.label,
        importer_version=importer.version,
    )
    size = source.size

    items_read = [0]

    def report(stage: str) -> Callable[[int], None]:
        def inner(done: int) -> None:
            if progress is not None:
                progress(stage, done, size, items_read[0])

        return inner

    if stored is None:
        with source.open() as f:
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
    opts: dict[str, Any] = {
        "timezone": options.timezone,
        "region": options.region,
        "day_first": options.day_first,
        "me": list(options.me),
        "person": options.person_id,
        "partial": options.partial,
    }
    if options.mapping:
        opts["mapping"] = [list(pair) for pair in options.mapping]
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
    flag_store.prepare(raw)  # the language flags kept cover every message already held
    contacts = contact_store.prepare(raw, dialect(conn))  # and the contacts kept
    writer = _Writer(conn, source_id, options, summary, contacts)
    context = Context(
        timezone=options.timezone,
        region=options.region,
        day_first=options.day_first,
        name=name,
        mapping=options.mapping,
        modified=_modified(source, options.timezone),
    )
    tracked = _TrackedSource(source.path, source.opener, source.length)
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
    writer.contacts.write()  # the last contacts gathered, and the state that covers them
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
        "files_added": summary.files_added,
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
    if writer.postgres:
        # move the words of the new messages from the GIN index's pending list (up to 4 MB,
        # which every search would otherwise read through entry by entry, making the
        # pattern's language flags several times slower) into the index proper: tens of
        # milliseconds, where the server would otherwise wait for its next vacuum
        if summary.added:
            raw.execute("SELECT gin_clean_pending_list(CAST('ix_message_fts' AS regclass))")
    elif summary.added >= OPTIMIZE_AFTER:
        # merge the full-text index's segments into one: seconds for a million messages, and
        # searches (and the pattern's language flags) read one segment instead of many
        raw.execute("INSERT INTO message_fts(message_fts) VALUES ('optimize')")
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
            "platform": key[1],
            "value": key[2],
            "messages": count,
        }
        for key, count in unknown
    ]
