"""``docket verify``: recompute and check everything in one diary against its log.

Checks, streaming (memory does not grow with the diary): every entry's leaf hash recomputed
from its stored columns; no gaps in the sequence; every removal recorded by a redaction entry;
every stored tree node; every checkpoint's signature, origin and root against the recomputed
tree; the log's own record of its signing key; every evidence file's bytes against its
SHA-256 and size; the tables the app reads (incidents, people, identifiers, links, files)
against the entries they come from; every timestamp token; and, with ``since``, that the diary
is an append-only extension of a checkpoint handed over earlier.
"""

from __future__ import annotations

import base64
import hashlib
import itertools
import json
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from cryptography import x509
from sqlalchemy import Connection

from docket import contact_store, flag_store, importer
from docket.ledger import log, merkle, tiles, timestamp
from docket.ledger.note import NoteError, Verifier, open_checkpoint
from docket.log_records import FILES_ADDED
from docket.model.entry import encode_entry
from docket.model.records import AttachmentData, PersonData
from docket.records import REMOVED_INCIDENT, incident_projection
from docket.store import base as store_base

Cursor = Any
STREAM_BATCH = 2000  # rows per fetch from a PostgreSQL server-side cursor


class _Streamed:
    """A PostgreSQL server-side cursor read as verify reads an SQLite cursor (``fetchone``,
    iteration, ``description``), each fetch bringing a batch of rows, not one."""

    def __init__(self, cursor: Any) -> None:
        self.cursor = cursor
        self.description = cursor.description
        self._rows: Iterator[Any] = iter(cursor)

    def fetchone(self) -> Any:
        return next(self._rows, None)

    def __iter__(self) -> Iterator[Any]:
        return self._rows


class _Reads:
    """verify's queries on either database. ``execute`` is for results of a known, small
    size; ``stream`` for those that grow with the diary. SQLite's cursors already step
    through a result row by row; psycopg's ordinary cursor would hold a whole result in
    memory, so on PostgreSQL ``stream`` declares a server-side cursor (closed by ``close``,
    inside the transaction)."""

    def __init__(self, conn: Connection) -> None:
        self.raw = store_base.raw(conn)
        self.pg = store_base.dialect(conn) == "postgresql"
        self._driver: Any = conn.connection.driver_connection if self.pg else None
        self._open: dict[int, Any] = {}
        self._made = 0

    def execute(self, sql: str, params: Sequence[Any] = ()) -> Cursor:
        return self.raw.execute(sql, params)

    def stream(self, sql: str, params: Sequence[Any] = (), *, batch: int = STREAM_BATCH) -> Cursor:
        if not self.pg:
            return self.raw.execute(sql, params)
        self._made += 1
        cursor = self._driver.cursor(name=f"docket_verify_{self._made}")
        cursor.itersize = batch
        cursor.execute(_pg_sql(sql), tuple(params))
        self._open[id(cursor)] = cursor
        return _Streamed(cursor)

    def done(self, streamed: Cursor) -> None:
        """Close one streamed result early (a file's chunks, read to the end)."""
        if self.pg:
            streamed.cursor.close()
            self._open.pop(id(streamed.cursor), None)

    def close(self) -> None:
        for cursor in self._open.values():
            cursor.close()
        self._open.clear()


def _pg_sql(sql: str) -> str:
    """SQLite's ``?`` placeholders as psycopg's (as ``store.base.raw`` converts them)."""
    return sql.replace("%", "%%").replace("?", "%s")


def _is_pg(raw: Any) -> bool:
    return isinstance(raw, store_base.PgRaw) or (isinstance(raw, _Reads) and raw.pg)


@dataclass(frozen=True)
class Problem:
    code: str
    message: str
    seq: int | None = None
    subject: str | None = None

    def as_json(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if v is not None}


@dataclass(frozen=True)
class Removal:
    seq: int
    subject: str
    removed_on: str
    by_seq: int


@dataclass(frozen=True)
class TimestampResult:
    checkpoint_size: int
    url: str
    gen_time: str | None
    trusted: bool
    detail: str


@dataclass
class Report:
    entries: int = 0
    root: bytes = merkle.EMPTY_ROOT
    origin: str = ""
    vkey: str = ""
    fingerprint: str = ""
    checkpoints: int = 0
    latest_checkpoint: int = 0
    files: int = 0
    file_bytes: int = 0
    problems: list[Problem] = field(default_factory=list)
    removals: list[Removal] = field(default_factory=list)
    timestamps: list[TimestampResult] = field(default_factory=list)
    queued_timestamps: int = 0
    consistency_proofs: int = 0
    since: dict[str, Any] | None = None

    @property
    def ok(self) -> bool:
        return not self.problems

    def add(
        self, code: str, message: str, seq: int | None = None, subject: str | None = None
    ) -> None:
        self.problems.append(Problem(code, message, seq, subject))

    def affected_entries(self) -> list[int]:
        return sorted({p.seq for p in self.problems if p.seq is not None})

    def as_json(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "entries": self.entries,
            "root": self.root.hex(),
            "origin": self.origin,
            "vkey": self.vkey,
            "fingerprint": self.fingerprint,
            "checkpoints": self.checkpoints,
            "latest_checkpoint": self.latest_checkpoint,
            "files": self.files,
            "file_bytes": self.file_bytes,
            "problems": [p.as_json() for p in self.problems],
            "affected_entries": self.affected_entries(),
            "removals": [r.__dict__ for r in self.removals],
            "timestamps": [t.__dict__ for t in self.timestamps],
            "queued_timestamps": self.queued_timestamps,
            "consistency_proofs": self.consistency_proofs,
            "since": self.since,
        }


@dataclass(frozen=True)
class Since:
    """A checkpoint handed over earlier, and the key it must be signed with."""

    note: bytes
    verifier: Verifier | None = None  # None: the diary's own key


class _Tiles:
    """The stored tree tiles, compared tier by tier with the tiles the recomputation builds."""

    def __init__(self, raw: _Reads, report: Report) -> None:
        self._raw = raw
        self._select = (
            f"SELECT id, {tiles.hashes_column(raw.raw)} FROM tree_tile WHERE id >= ? AND id < ? "
            "ORDER BY id"
        )
        self._cursors: dict[int, Cursor] = {}
        self._builder = tiles.Builder()
        self.add = self._builder.add  # returns each completed tile, for ``check``
        self._report = report
        self._failed = False

    def _cursor(self, tier: int) -> Cursor:
        if tier not in self._cursors:
            self._cursors[tier] = self._raw.stream(self._select, tiles.tier_range(tier))
        return self._cursors[tier]

    def check(self, tier: int, idx: int, hashes: bytes) -> None:
        if self._failed:
            return
        row = self._cursor(tier).fetchone()
        if row is None or row[0] != tiles.key(tier, idx) or bytes(row[1]) != hashes:
            self._failed = True
            self._report.add(
                "tree_node",
                "the stored Merkle tree disagrees with the entries from entry "
                f"{tiles.first_leaf(tier, idx)} on",
            )

    def finish(self) -> None:
        """Check the growing tiles; any stored tile the recomputation never produced is one
        too many."""
        if self._failed:
            return
        for full in self._builder.partial():
            self.check(*full)
            if self._failed:
                return
        extra = self._raw.execute(
            "SELECT count(*) FROM tree_tile WHERE id < 0 OR id >= ?",
            (tiles.tier_range(len(self._cursors))[0],),
        ).fetchone()[0]
        if extra or any(c.fetchone() is not None for c in self._cursors.values()):
            self._report.add("tree_node", "the stored Merkle tree has nodes beyond the log")
            self._failed = True


def _subject_label(subject: str) -> str:
    kind, _, rid = subject.partition("/")
    return f"{kind} {rid}" if rid else kind


def _entries(raw: _Reads) -> Iterator[tuple[Any, ...]]:
    yield from raw.stream(
        "SELECT seq, type, subject, recorded_at, corrects, reason, salt, record, leaf_hash, "
        "redacted_by FROM entry ORDER BY seq"
    )


def verify(
    conn: Connection,
    *,
    since: Since | None = None,
    tsa_roots: list[x509.Certificate] | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> Report:
    """Check the diary open on ``conn`` (a read transaction) and return the report."""
    raw = _Reads(conn)
    try:
        return _verify(conn, raw, since, tsa_roots, progress)
    finally:
        raw.close()


def _verify(
    conn: Connection,
    raw: _Reads,
    since: Since | None,
    tsa_roots: list[x509.Certificate] | None,
    progress: Callable[[int, int], None] | None,
) -> Report:
    report = Report()
    try:
        diary_verifier = log.verifier(conn)
    except log.LogDamaged:
        report.add("signing_key", "the diary's signing key is missing")
        return report
    report.origin = diary_verifier.name  # the key is named after the log's origin
    report.vkey = diary_verifier.encode()
    report.fingerprint = diary_verifier.fingerprint()
    total = int(raw.execute("SELECT coalesce(max(seq) + 1, 0) FROM entry").fetchone()[0])

    since_cp = None
    if since is not None:
        try:
            since_cp = open_checkpoint(since.note, since.verifier or diary_verifier)
        except NoteError as exc:
            report.add("since_checkpoint", f"the checkpoint you gave does not check out: {exc}")
        report.since = {"given": True}

    checkpoints = raw.stream("SELECT size, root, note FROM checkpoint ORDER BY size")
    next_cp = checkpoints.fetchone()
    compact = merkle.CompactRange()
    stored_tree = _Tiles(raw, report)
    add_node = stored_tree.add
    redacted: list[tuple[int, str, int, dict[str, Any]]] = []
    redactions: dict[int, tuple[dict[int, dict[str, Any]], str]] = {}
    files: list[tuple[int, str, str, int]] = []
    batches: list[tuple[int, int, int, int, int, str]] = []
    sources: dict[int, dict[str, tuple[int, dict[str, Any]]]] = {}
    key_entry: str | None = None
    expected = 0
    roots_at: dict[int, bytes] = {}
    mismatched: list[int] = []
    done: list[tuple[int, int, bytes]] = []
    # the first checkpoint, the timestamped ones and the newest: proved consistent pairwise
    anchored = {
        int(r[0])
        for r in raw.execute(
            "SELECT DISTINCT checkpoint_size FROM timestamp WHERE status = 'granted'"
        )
    }
    anchored.add(int(raw.execute("SELECT coalesce(max(size), 0) FROM checkpoint").fetchone()[0]))
    anchors: list[tuple[int, bytes]] = []
    wanted_sizes = {since_cp.size} if since_cp is not None else set()
    stop = -1  # the next size at_size must look at; -1 for none

    def next_stop() -> int:
        """The next size at which ``at_size`` has something to do."""
        sizes = [int(next_cp[0])] if next_cp is not None else []
        sizes += [w for w in wanted_sizes if w > compact.size]
        return min(sizes, default=-1)

    def at_size() -> None:
        nonlocal next_cp, stop
        n = compact.size
        if n in wanted_sizes:
            roots_at[n] = compact.root()
        while next_cp is not None and next_cp[0] <= n:
            size, stored_root, note = int(next_cp[0]), bytes(next_cp[1]), next_cp[2]
            if size in anchored or not anchors:
                anchors.append((size, stored_root))
            report.checkpoints += 1
            report.latest_checkpoint = size
            try:
                cp = open_checkpoint(note, diary_verifier, report.origin)
                if cp.size != size or cp.root != stored_root:
                    raise NoteError("its text does not match the stored size and root")
                if size == n and cp.root != compact.root():
                    mismatched.append(size)
            except NoteError as exc:
                report.add("checkpoint", f"the checkpoint at {size} entries is not valid: {exc}")
            next_cp = checkpoints.fetchone()
        stop = next_stop()

    stop = next_stop()
    for row in _entries(raw):
        seq, etype, subject, recorded_at, corrects, reason, salt, record, stored, by = row
        if seq != expected:
            if seq > expected:
                report.add(
                    "entry_missing",
                    f"entries {expected} to {seq - 1} are missing: deleted outside Docket"
                    if seq - expected > 1
                    else f"entry {expected} is missing: deleted outside Docket",
                    expected,
                )
            expected = seq
        stored = bytes(stored)
        if record is not None:
            entry_bytes = encode_entry(
                seq=seq,
                type=etype,
                subject=subject,
                recorded_at=recorded_at,
                record_json=record,
                salt=bytes(salt),
                corrects=corrects,
                reason=reason,
            )
            leaf = hashlib.sha256(b"\x00" + entry_bytes).digest()
            if leaf != stored:
                report.add(
                    "entry_changed",
                    f"entry {seq} ({_subject_label(subject)}) was changed after it was written",
                    seq,
                    subject,
                )
            try:
                if etype == "redaction":
                    rec = json.loads(record)
                    purged = {int(item["seq"]): dict(item) for item in rec.get("entries", [])}
                    redactions[seq] = (purged, recorded_at)
                elif etype == "attachment.added":
                    rec = json.loads(record)
                    files.append((seq, subject, str(rec["sha256"]), int(rec["size"])))
                elif etype == "messages.imported":
                    rec = json.loads(record)
                    batches.append(
                        (
                            seq,
                            int(rec["source"]),
                            int(rec["first"]),
                            int(rec["last"]),
                            int(rec["count"]),
                            str(rec["root"]),
                        )
                    )
                elif etype in ("source.imported", "source.finished"):
                    rec = json.loads(record)
                    sources.setdefault(int(rec["id"]), {})[etype] = (seq, rec)
                elif etype == "log.key" and key_entry is None:
                    key_entry = str(json.loads(record)["vkey"])
            except (ValueError, TypeError, KeyError, AttributeError):
                report.add(
                    "entry_unreadable",
                    f"entry {seq} ({_subject_label(subject)}) holds a record Docket cannot read",
                    seq,
                    subject,
                )
        else:
            leaf = stored
            redacted.append(
                (
                    seq,
                    subject,
                    by if by is not None else -1,
                    {
                        "seq": seq,
                        "type": etype,
                        "subject": subject,
                        "recorded_at": recorded_at,
                        "salt": base64.b64encode(bytes(salt)).decode("ascii"),
                        "corrects": corrects,
                        "reason": reason,
                        "leaf": stored.hex(),
                    },
                )
            )
        add_node(0, leaf)  # a leaf never completes a tile: its parents do
        compact.push(leaf, done)
        if done:
            for level, _, value in done:
                full = add_node(level, value)
                if full is not None:
                    stored_tree.check(*full)
            done.clear()
        expected = seq + 1
        if 0 <= stop <= compact.size:
            at_size()
        if progress is not None and seq % 4096 == 0:
            progress(seq, total)
    stored_tree.finish()
    if mismatched:
        report.add(
            "checkpoint_root",
            f"{len(mismatched)} signed checkpoint(s), covering {mismatched[0]} to "
            f"{mismatched[-1]} entries, do not match the entries now in the diary: something "
            f"in the first {mismatched[0]} entries was changed after it was signed",
        )
    report.entries = compact.size
    report.root = compact.root()
    if next_cp is not None:
        report.add(
            "entry_missing",
            f"a signed checkpoint covers {int(next_cp[0])} entries but the diary has only "
            f"{compact.size}: the newest entries were deleted outside Docket",
            compact.size,
        )
        while next_cp is not None:
            report.checkpoints += 1
            next_cp = checkpoints.fetchone()

    if next_cp is None and report.latest_checkpoint < compact.size and compact.size:
        report.add(
            "checkpoint_missing",
            f"the log has {compact.size} entries but its newest signed checkpoint covers only "
            f"{report.latest_checkpoint}: entries were added outside Docket",
            report.latest_checkpoint,
        )
    if key_entry != diary_verifier.encode():
        report.add(
            "signing_key",
            "the key that signs this diary's checkpoints is not the one recorded in its log",
        )

    for seq, subject, by, columns in redacted:
        redaction = redactions.get(by)
        if redaction is None or seq not in redaction[0]:
            report.add(
                "content_missing",
                f"the content of entry {seq} ({_subject_label(subject)}) is gone, but no "
                "removal by you is recorded for it",
                seq,
                subject,
            )
            continue
        recorded = {k: v for k, v in columns.items() if v is not None}
        if redaction[0][seq] != recorded:
            report.add(
                "entry_changed",
                f"entry {seq} ({_subject_label(subject)}), whose content you removed, was "
                "changed afterwards",
                seq,
                subject,
            )
            continue
        report.removals.append(Removal(seq, subject, redaction[1][:10], by))

    _check_consistency(conn, raw, report, anchors)
    _check_files(raw, report, files)
    _check_projections(raw, report)
    _check_imports(raw, report, sources, batches)
    flag_store.check(raw, report)
    contact_store.check(raw, report)
    _check_timestamps(raw, report, tsa_roots)
    if since_cp is not None and report.since is not None:
        _check_since(conn, report, since_cp, roots_at.get(since_cp.size))
    return report


def _check_consistency(
    conn: Connection, raw: _Reads, report: Report, anchors: list[tuple[int, bytes]]
) -> None:
    """RFC 9162 consistency proofs, from the stored tree, between consecutive anchored
    checkpoints: each later one extends the earlier, which was only appended to."""
    for (size1, root1), (size2, root2) in itertools.pairwise(anchors):
        if size2 > report.entries:
            break
        try:
            proof = log.consistency_proof(conn, size1, size2)
            merkle.verify_consistency(size1, size2, proof, root1, root2)
        except (merkle.ProofError, log.LogDamaged) as exc:
            report.add(
                "checkpoint_consistency",
                f"the checkpoints at {size1} and {size2} entries are not consistent: {exc}",
            )
            return
        report.consistency_proofs += 1


def _check_files(raw: _Reads, report: Report, files: list[tuple[int, str, str, int]]) -> None:
    for seq, subject, sha_hex, size in files:
        row = raw.execute(
            "SELECT a.redacted, a.sha256, b.purged FROM attachment a "
            "LEFT JOIN blob b ON b.sha256 = a.sha256 WHERE a.id = ?",
            (int(subject.partition("/")[2] or -1),),
        ).fetchone()
        if row is None:
            continue  # reported by the projection check
        if row[0]:
            continue  # removed by the person: its bytes are meant to be gone
        if bytes(row[1]).hex() != sha_hex or row[2] is None or row[2]:
            report.add(
                "file_changed",
                f"the file in entry {seq} ({_subject_label(subject)}) is not the one recorded",
                seq,
                subject,
            )
            continue
        count = _blob_bytes(raw, sha_hex, size)
        if count is None:
            report.add(
                "file_changed",
                f"the bytes of the file in entry {seq} ({_subject_label(subject)}) changed",
                seq,
                subject,
            )
            continue
        report.files += 1
        report.file_bytes += count


def _blob_bytes(raw: _Reads, sha_hex: str, size: int) -> int | None:
    """Read a stored file chunk by chunk; its size when every byte matches its SHA-256."""
    digest = hashlib.sha256()
    count = 0
    chunks = raw.stream(
        "SELECT bc.idx, bc.chunk_sha256, c.data FROM blob_chunk bc "
        "LEFT JOIN chunk c ON c.sha256 = bc.chunk_sha256 "
        "WHERE bc.blob_sha256 = ? ORDER BY bc.idx",
        (bytes.fromhex(sha_hex),),
        batch=1,  # a chunk is a megabyte
    )
    try:
        for expected_idx, (idx, chunk_sha, data) in enumerate(chunks):
            if idx != expected_idx or data is None or hashlib.sha256(data).digest() != chunk_sha:
                return None
            digest.update(data)
            count += len(data)
    finally:
        raw.done(chunks)
    if count != size or digest.hexdigest() != sha_hex:
        return None
    return count


_MESSAGE_COLUMNS = (
    "SELECT m.id, m.source_id, m.batch_seq, m.kind, m.channel, m.direction, m.thread, "
    "m.sender_raw, m.sender_kind, m.sender_platform, m.sender_value, m.recipients, "
    "m.sent_at, m.local_time, m.time_note, m.body, m.deleted, m.call_type, m.duration_s, "
    "m.line, m.offset, m.raw, m.attachments, m.leaf, "
)
# ``files``: the message's rows in message_file, as "idx:SHA256" (upper-case hex), by idx
MESSAGE_SELECT = (
    _MESSAGE_COLUMNS + "(SELECT group_concat(f.idx || ':' || hex(f.sha256), ',') FROM "
    "(SELECT idx, sha256 FROM message_file WHERE message_id = m.id ORDER BY idx) f) AS files "
    "FROM message m "
)
MESSAGE_SELECT_PG = (
    _MESSAGE_COLUMNS + "(SELECT string_agg(f.idx || ':' || upper(encode(f.sha256, 'hex')), ',' "
    "ORDER BY f.idx) FROM message_file f WHERE f.message_id = m.id) AS files "
    "FROM message m "
)


def message_select(raw: Any) -> str:
    """MESSAGE_SELECT for ``raw``'s database (a file's hashes, joined, differ in spelling)."""
    return MESSAGE_SELECT_PG if _is_pg(raw) else MESSAGE_SELECT


def rebuild_message(m: dict[str, Any]) -> dict[str, Any]:
    """The record an imported message's leaf covers, rebuilt from its stored row (a dict of
    MESSAGE_SELECT's columns)."""
    who = ("sender_raw", "sender_kind", "sender_platform", "sender_value")
    sender = (
        None
        if all(m[k] is None for k in who)  # a system line: no sender at all
        else {
            "raw": m["sender_raw"],
            "kind": m["sender_kind"],
            "platform": m["sender_platform"],
            "value": m["sender_value"],
        }
    )
    fields = {**m, "deleted": bool(m["deleted"])}
    return importer.message_record(
        message_id=m["id"],
        source_id=m["source_id"],
        direction=m["direction"],
        sender=sender,
        recipients=json.loads(m["recipients"]),
        sent_at=m["sent_at"],
        files=json.loads(m["attachments"]),
        raw=json.loads(m["raw"]),
        fields=fields,
    )


def message_record_bytes(raw: Any, message_id: int) -> bytes:
    """One imported message's record bytes, exactly as its leaf hash covers them."""
    cursor = raw.execute(message_select(raw) + "WHERE m.id = ?", (message_id,))
    names = [d[0] for d in cursor.description]
    row = cursor.fetchone()
    if row is None:
        raise KeyError(message_id)
    return importer.canonical_json(rebuild_message(dict(zip(names, row, strict=True)))).encode()


def _stored_files(text: str | None) -> dict[int, str]:
    """MESSAGE_SELECT's ``files``: upper-case SHA-256 by place."""
    out: dict[int, str] = {}
    for part in (text or "").split(","):
        if part:
            idx, _, sha = part.partition(":")
            out[int(idx)] = sha
    return out


@dataclass(frozen=True)
class _Added:
    seq: int
    sha256: str  # upper-case hex, as MESSAGE_SELECT spells it
    size: int


class _AddedFiles:
    """The ``message.files_added`` entries (files a later import added to a message kept
    before), read in message order alongside the messages: memory holds one message's."""

    def __init__(self, raw: _Reads, report: Report) -> None:
        self.report = report
        if raw.pg:
            mid = "coalesce(CAST(substring(subject from ?) AS BIGINT), 0)"
            pattern = "^message/([0-9]{1,18})$"
        else:
            mid = "CAST(substr(subject, ?) AS INTEGER)"
            pattern = str(len("message/") + 1)
        self.rows: Iterator[tuple[Any, ...]] = iter(
            raw.stream(
                f"SELECT {mid} AS mid, seq, subject, record FROM entry WHERE type = ? "
                "AND record IS NOT NULL ORDER BY mid, seq",
                (pattern, FILES_ADDED),
            )
        )
        self.row = next(self.rows, None)

    def take(self, message_id: int) -> dict[int, _Added]:
        """The files added to this message, by place; entries for messages before it that
        were not taken are for messages the diary does not hold."""
        while self.row is not None and self.row[0] < message_id:
            self._orphan(self.row)
            self.row = next(self.rows, None)
        found: dict[int, _Added] = {}
        while self.row is not None and self.row[0] == message_id:
            mid, seq, subject, record = self.row
            self.row = next(self.rows, None)
            try:
                rec = json.loads(record)
                if int(rec["message"]) != mid or subject != f"message/{mid}":
                    raise ValueError("not the message its subject names")
                files = [
                    (int(f["idx"]), str(f["sha256"]).upper(), int(f["size"])) for f in rec["files"]
                ]
            except (ValueError, TypeError, KeyError, AttributeError):
                self.report.add(
                    "entry_unreadable",
                    f"entry {seq} ({_subject_label(subject)}) holds a record Docket cannot read",
                    seq,
                    subject,
                )
                continue
            for idx, sha, size in files:
                if idx in found:
                    self.report.add(
                        "table_changed",
                        f"entry {seq} adds a file to imported message {mid} in a place entry "
                        f"{found[idx].seq} had already filled",
                        seq,
                        subject,
                    )
                    continue
                found[idx] = _Added(seq, sha, size)
        return found

    def finish(self) -> None:
        while self.row is not None:
            self._orphan(self.row)
            self.row = next(self.rows, None)

    def _orphan(self, row: tuple[Any, ...]) -> None:
        mid, seq, subject, _ = row
        self.report.add(
            "table_changed",
            f"entry {seq} added files to imported message {mid}, which is not in the diary",
            seq,
            subject,
        )


def _check_imports(
    raw: _Reads,
    report: Report,
    sources: dict[int, dict[str, tuple[int, dict[str, Any]]]],
    batches: list[tuple[int, int, int, int, int, str]],
) -> None:
    """Imported sources against their entries and original files; every imported message
    against the Merkle root its batch entry holds; the files that came with them, and those
    added to them by later imports (each against the entry that added it)."""

    def problem(subject: str, seq: int | None, what: str) -> None:
        report.add("table_changed", f"the imported {_subject_label(subject)} {what}", seq, subject)

    checked: set[str] = set()

    def file_ok(sha_hex: str, size: int) -> bool:
        if sha_hex in checked:
            return True
        count = _blob_bytes(raw, sha_hex, size)
        if count is None:
            return False
        checked.add(sha_hex)
        report.files += 1
        report.file_bytes += count
        return True

    rows = {
        int(r[0]): r
        for r in raw.execute(
            "SELECT id, entry_seq, sha256, size, name, importer, importer_version, options, "
            "summary FROM source ORDER BY id"
        )
    }
    for sid in sorted(set(rows) | set(sources)):
        subject = f"source/{sid}"
        logged = sources.get(sid, {})
        if "source.imported" not in logged:
            problem(subject, None, "is not recorded in the log")
            continue
        seq, rec = logged["source.imported"]
        row = rows.get(sid)
        if row is None:
            problem(subject, seq, "is missing from the diary's table of imports")
            continue
        expected = (
            seq,
            rec["sha256"],
            rec["size"],
            rec["name"],
            rec["importer"],
            rec["importer_version"],
            importer.canonical_json(rec["options"]),
        )
        got = (row[1], bytes(row[2]).hex(), row[3], row[4], row[5], row[6], row[7])
        if got != expected:
            problem(subject, seq, "does not match its log entry")
        finished = logged.get("source.finished")
        if finished is None or json.loads(row[8]) != finished[1]["summary"]:
            problem(subject, seq, "has a summary that does not match its log entry")
        if not file_ok(rec["sha256"], int(rec["size"])):
            report.add(
                "file_changed",
                f"the original file of the imported {_subject_label(subject)} changed",
                seq,
                subject,
            )

    def added_files(
        m: dict[str, Any], files: list[Any] | None, stored: dict[int, str], linked: dict[int, str]
    ) -> None:
        """The message's files in places its record leaves empty, against the entries of
        the later imports that added them (``files`` None: the record could not be read)."""
        subject = f"message/{m['id']}"
        added = later.take(m["id"])
        if files is None:
            return
        for idx, a in sorted(added.items()):
            place = files[idx] if 0 <= idx < len(files) else None
            if not isinstance(place, dict) or place.get("sha256") is not None:
                problem(
                    subject,
                    a.seq,
                    f"has no empty place {idx + 1} for the file entry {a.seq} says was added",
                )
            elif stored.get(idx) != a.sha256:
                problem(
                    subject,
                    a.seq,
                    f"does not have the file entry {a.seq} added in place {idx + 1}",
                )
            elif not file_ok(a.sha256.lower(), a.size):
                report.add(
                    "file_changed",
                    f"a file added later to imported message {m['id']} changed",
                    a.seq,
                    subject,
                )
        for idx in sorted(set(stored) - set(linked) - set(added)):
            problem(subject, None, f"has a file in place {idx + 1} that no log entry records")

    later = _AddedFiles(raw, report)
    cursor = raw.stream(message_select(raw) + "ORDER BY m.id")
    names = [d[0] for d in cursor.description]
    row = cursor.fetchone()
    for seq, sid, first, last, count, root in batches:
        leaves: list[bytes] = []
        while row is not None and row[0] < first:
            problem(f"message/{row[0]}", None, "is not recorded in any batch of the log")
            later.take(row[0])
            row = cursor.fetchone()
        bad = False
        while row is not None and row[0] <= last:
            m = dict(zip(names, row, strict=True))
            files: list[Any] | None
            try:
                record = rebuild_message(m)
                files = list(record["attachments"])
                leaf = merkle.leaf_hash(importer.canonical_json(record).encode())
                linked = {
                    i: f["sha256"].upper() for i, f in enumerate(files) if f["sha256"] is not None
                }
                stored = _stored_files(m["files"])
            except (ValueError, TypeError, KeyError, AttributeError):
                leaf, linked, files, stored = b"", {}, None, {}
            if leaf != bytes(m["leaf"]) or m["source_id"] != sid or m["batch_seq"] != seq:
                bad = True
            if {i: stored.get(i) for i in linked} != linked:
                bad = True  # a file that came with the message, removed or changed
            for f in files or ():
                if f["sha256"] is not None and not file_ok(f["sha256"], int(f["size"])):
                    report.add(
                        "file_changed",
                        f"a file that came with imported message {m['id']} changed",
                        seq,
                        f"message/{m['id']}",
                    )
            added_files(m, files, stored, linked)
            leaves.append(leaf)
            row = cursor.fetchone()
        if bad or len(leaves) != count or merkle.root_from_leaves(leaves).hex() != root:
            report.add(
                "entry_changed" if not bad else "table_changed",
                f"imported messages {first} to {last} do not match the log entry that "
                "recorded them",
                seq,
                f"source/{sid}",
            )
    while row is not None:
        problem(f"message/{row[0]}", None, "is not recorded in any batch of the log")
        later.take(row[0])
        row = cursor.fetchone()
    later.finish()


def _merge(
    rows: Iterator[tuple[Any, ...]], groups: Iterator[tuple[Any, ...]]
) -> Iterator[tuple[tuple[Any, ...] | None, tuple[Any, ...] | None]]:
    """Merge two streams sorted by their first column; yield (row, group) pairs by key."""
    r = next(rows, None)
    g = next(groups, None)
    while r is not None or g is not None:
        if g is None or (r is not None and r[0] < g[0]):
            yield r, None
            r = next(rows, None)
        elif r is None or g[0] < r[0]:
            yield None, g
            g = next(groups, None)
        else:
            yield r, g
            r = next(rows, None)
            g = next(groups, None)


def _groups(raw: _Reads, kind: str) -> Iterator[tuple[Any, ...]]:
    """(id, first seq, last seq, versions) per record of ``kind``, by id. The subject range
    ("kind/" up to "kind0", '0' following '/') is an index range scan, unlike LIKE."""
    if not raw.pg:
        return iter(
            raw.stream(
                "SELECT CAST(substr(subject, ?) AS INTEGER) AS id, min(seq), max(seq), count(*) "
                "FROM entry WHERE subject >= ? AND subject < ? AND type != 'redaction' "
                "GROUP BY subject ORDER BY id",
                (len(kind) + 2, f"{kind}/", f"{kind}0"),
            )
        )
    # PostgreSQL: the range compared byte by byte whatever the database's collation (in
    # most, '/' is ignored at first), and the number read as SQLite's CAST reads it (the
    # leading digits; 0 for none) rather than failing on a subject changed by hand.
    return iter(
        raw.stream(
            "SELECT coalesce(CAST(substring(subject from ?) AS BIGINT), 0) AS id, min(seq), "
            'max(seq), count(*) FROM entry WHERE subject COLLATE "C" >= ? '
            "AND subject COLLATE \"C\" < ? AND type != 'redaction' GROUP BY subject ORDER BY id",
            (f"^{kind}/\\s*([-+]?[0-9]{{1,18}})", f"{kind}/", f"{kind}0"),
        )
    )


def _check_projections(raw: _Reads, report: Report) -> None:
    def mismatch(kind: str, rid: int, seq: int | None, what: str) -> None:
        report.add(
            "table_changed",
            f"the diary's table for {kind} {rid} does not match its log entries ({what})",
            seq,
            f"{kind}/{rid}",
        )

    # incidents, with their links to people
    links = iter(
        raw.stream("SELECT incident_id, person_id FROM incident_person ORDER BY incident_id")
    )
    link = next(links, None)
    live_people = {r[0] for r in raw.execute("SELECT id FROM person WHERE NOT redacted")}
    rows = iter(
        raw.stream(
            "SELECT i.id, i.created_seq, i.current_seq, i.version, i.recorded_at, "
            "i.occurred_start, i.occurred_end, i.category, i.channel, i.redacted, e.subject, "
            "e.record, c.recorded_at, i.date_only, i.private_place, i.people, i.targeted "
            "FROM incident i LEFT JOIN entry e ON e.seq = i.current_seq "
            "LEFT JOIN entry c ON c.seq = i.created_seq ORDER BY i.id"
        )
    )
    for row, group in _merge(rows, _groups(raw, "incident")):
        if row is None:
            assert group is not None
            mismatch("incident", group[0], group[2], "it is missing from the table")
            continue
        iid = row[0]
        linked: set[int] = set()
        while link is not None and link[0] <= iid:
            if link[0] == iid:
                linked.add(link[1])
            link = next(links, None)
        if group is None:
            mismatch("incident", iid, None, "no entry records it")
            continue
        _, first, last, count = group
        if (row[1], row[2], row[3]) != (first, last, count) or row[10] != f"incident/{iid}":
            mismatch("incident", iid, last, "its versions")
            continue
        if row[4] != row[12]:
            mismatch("incident", iid, first, "when it was recorded")
        got = {
            "occurred_start": row[5],
            "occurred_end": row[6],
            "category": row[7],
            "channel": row[8],
            "date_only": row[13],
            "private_place": row[14],
            "people": row[15],
            "targeted": row[16],
        }
        if row[11] is None:
            removed = {k: got[k] for k in REMOVED_INCIDENT}
            if not row[9] or removed != REMOVED_INCIDENT or linked:
                mismatch("incident", iid, last, "it should show as removed")
            continue
        if row[9]:
            mismatch("incident", iid, last, "it shows as removed but is not")
            continue
        try:
            rec = json.loads(row[11])
            proj = incident_projection(rec)
            people = {int(p) for p in rec.get("people", ())}
        except (ValueError, TypeError, KeyError, AttributeError):
            mismatch("incident", iid, last, "its record cannot be read")
            continue
        if got != proj:
            fields = ", ".join(k for k in proj if proj[k] != got[k])
            mismatch("incident", iid, last, fields)
        if linked != people & live_people:
            mismatch("incident", iid, last, "the people linked to it")

    # people and their identifiers
    rows = iter(
        raw.stream(
            "SELECT p.id, p.created_seq, p.current_seq, p.version, p.name, p.role, "
            "p.relationship, p.redacted, e.subject, e.record FROM person p "
            "LEFT JOIN entry e ON e.seq = p.current_seq ORDER BY p.id"
        )
    )
    for row, group in _merge(rows, _groups(raw, "person")):
        if row is None:
            assert group is not None
            mismatch("person", group[0], group[2], "they are missing from the register")
            continue
        pid = row[0]
        idents = {
            (k, p, v)
            for k, p, v in raw.execute(
                "SELECT kind, platform, value FROM identifier WHERE person_id = ?", (pid,)
            )
        }
        if group is None:
            mismatch("person", pid, None, "no entry records them")
            continue
        _, first, last, count = group
        if (row[1], row[2], row[3]) != (first, last, count) or row[8] != f"person/{pid}":
            mismatch("person", pid, last, "their versions")
            continue
        if row[9] is None:
            if not row[7] or row[4] != "" or idents:
                mismatch("person", pid, last, "they should show as removed")
            continue
        try:
            pdata = PersonData.from_record(json.loads(row[9]))
        except (ValueError, TypeError, KeyError, AttributeError):
            mismatch("person", pid, last, "their record cannot be read")
            continue
        if (row[4], row[5], row[6], bool(row[7])) != (
            pdata.name,
            pdata.role,
            pdata.relationship,
            False,
        ):
            mismatch("person", pid, last, "name, role or relationship")
        if idents != {(i.kind, i.platform, i.value) for i in pdata.identifiers}:
            mismatch("person", pid, last, "their numbers, addresses, accounts or vehicles")

    # evidence files
    rows = iter(
        raw.stream(
            "SELECT a.id, a.created_seq, a.current_seq, a.incident_id, a.sha256, a.size, "
            "a.media_type, a.original_name, a.redacted, e.subject, e.record FROM attachment a "
            "LEFT JOIN entry e ON e.seq = a.current_seq ORDER BY a.id"
        )
    )
    for row, group in _merge(rows, _groups(raw, "attachment")):
        if row is None:
            assert group is not None
            mismatch("attachment", group[0], group[2], "it is missing from the table")
            continue
        aid = row[0]
        if group is None:
            mismatch("attachment", aid, None, "no entry records it")
            continue
        _, first, last, count = group
        if (row[1], row[2], count) != (first, last, 1) or row[9] != f"attachment/{aid}":
            mismatch("attachment", aid, last, "its entry")
            continue
        if row[10] is None:
            if not row[8] or row[6] != "" or row[7] != "":
                mismatch("attachment", aid, last, "it should show as removed")
            continue
        try:
            adata = AttachmentData.from_record(json.loads(row[10]))
        except (ValueError, TypeError, KeyError, AttributeError):
            mismatch("attachment", aid, last, "its record cannot be read")
            continue
        got_a = (row[3], bytes(row[4]).hex(), row[5], row[6], row[7], bool(row[8]))
        want_a = (adata.incident, adata.sha256, adata.size, adata.media_type, adata.name, False)
        if got_a != want_a:
            mismatch("attachment", aid, last, "its name, type, size or fingerprint")


def _check_timestamps(raw: _Reads, report: Report, roots: list[x509.Certificate] | None) -> None:
    for tid, size, url, nonce, status, response, tsa_root, note in raw.execute(
        "SELECT t.id, t.checkpoint_size, t.url, t.nonce, t.status, t.response, t.tsa_root, "
        "c.note FROM timestamp t LEFT JOIN checkpoint c ON c.size = t.checkpoint_size "
        "ORDER BY t.id"
    ):
        if status == "queued":
            report.queued_timestamps += 1
            continue
        if status != "granted":
            continue
        if note is None or response is None:
            report.add("timestamp", f"timestamp {tid} has lost its checkpoint or token")
            continue
        use_roots = roots
        if not use_roots and tsa_root:
            use_roots = timestamp.load_roots(tsa_root.encode())
        try:
            result = timestamp.check(bytes(response), note.encode("utf-8"), int(nonce), use_roots)
        except timestamp.TimestampError as exc:
            report.add("timestamp", f"the timestamp from {url} on checkpoint {size} fails: {exc}")
            continue
        detail = result.detail
        if result.trusted and not roots:
            detail = "verified against the root certificate stored with it (not independent)"
        report.timestamps.append(
            TimestampResult(
                size, url, result.gen_time.isoformat(), result.trusted and bool(roots), detail
            )
        )


def _check_since(conn: Connection, report: Report, cp: Any, recomputed: bytes | None) -> None:
    assert report.since is not None
    report.since.update({"size": cp.size, "root": cp.root.hex(), "origin": cp.origin})
    if cp.origin != report.origin:
        report.add("since_checkpoint", "the checkpoint you gave belongs to another diary")
        return
    if cp.size > report.entries:
        report.add(
            "since_checkpoint",
            f"the checkpoint you gave covers {cp.size} entries but the diary now has only "
            f"{report.entries}: entries were removed",
        )
        return
    if recomputed != cp.root:
        report.add(
            "since_checkpoint",
            f"the diary's first {cp.size} entries are not the ones the checkpoint you gave "
            "covers: the log was rewritten",
        )
        return
    try:
        proof = log.consistency_proof(conn, cp.size, report.entries)
        merkle.verify_consistency(cp.size, report.entries, proof, cp.root, report.root)
    except (merkle.ProofError, log.LogDamaged) as exc:
        report.add("since_checkpoint", f"the consistency proof does not verify: {exc}")
        return
    report.since["append_only"] = True
    report.since["proof_hashes"] = len(proof)
