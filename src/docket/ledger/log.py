"""The diary's append-only log inside the encrypted file: appending entries with their Merkle
tree nodes, signing checkpoints with the diary's Ed25519 key, and producing proofs.

Everything here runs inside the caller's transaction, so an entry, its tree nodes and the
checkpoint that covers it commit together or not at all. The entries' leaf hashes and every
completed perfect subtree above them are stored in tiles (``tiles``), so a proof or a root
needs O(log n) hashes from a handful of reads.
"""

from __future__ import annotations

import base64
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, insert, select, update

from docket.ledger import merkle, tiles
from docket.ledger.merkle import NodeSource
from docket.ledger.note import Checkpoint, Signer, Verifier
from docket.ledger.tiles import LogDamaged as LogDamaged
from docket.model.entry import Entry, canonical, encode_entry, new_salt
from docket.model.timeparse import utc_rfc3339
from docket.store import base as store_base
from docket.store.schema import checkpoint, entry, meta
from docket.store.schema import timestamp as timestamp_table

ORIGIN_PREFIX = "docket.invalid/"


def now_utc() -> str:
    return utc_rfc3339(datetime.now(UTC))


def raw_connection(conn: Connection) -> Any:
    """The transaction's own DB-API connection: the log's hot paths skip SQLAlchemy's
    statement building, which costs far more than SQLCipher's work here."""
    return store_base.raw(conn)


def size(conn: Connection) -> int:
    return int(
        raw_connection(conn).execute("SELECT coalesce(max(seq) + 1, 0) FROM entry").fetchone()[0]
    )


def node_source(conn: Connection) -> NodeSource:
    """Stored tree nodes for one proof or root (reads are cached for that one use)."""
    return tiles.Reader(raw_connection(conn))


def append(
    conn: Connection,
    *,
    type: str,
    subject: str,
    record: dict[str, Any] | None,
    corrects: int | None = None,
    reason: str | None = None,
) -> Entry:
    """Append one entry to the log and extend the tree (inside the caller's transaction)."""
    e = Entry(
        seq=size(conn),
        type=type,
        subject=subject,
        recorded_at=now_utc(),
        record=record,
        salt=new_salt(),
        corrects=corrects,
        reason=reason,
    )
    record_json = None if record is None else canonical(record).decode("utf-8")
    leaf = merkle.leaf_hash(
        encode_entry(
            seq=e.seq,
            type=type,
            subject=subject,
            recorded_at=e.recorded_at,
            record_json=record_json,
            salt=e.salt,
            corrects=corrects,
            reason=reason,
        )
    )
    raw_connection(conn).execute(
        "INSERT INTO entry (seq, type, subject, recorded_at, corrects, reason, salt, record, "
        "leaf_hash, redacted_by) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, NULL)",
        (e.seq, type, subject, e.recorded_at, corrects, reason, e.salt, record_json, leaf),
    )
    tiles.add_leaf(raw_connection(conn), e.seq, leaf)
    return e


# --- the signing key and checkpoints ----------------------------------------------------------


def _meta(conn: Connection, key: str) -> str | None:
    return conn.execute(select(meta.c.value).where(meta.c.key == key)).scalar()


def signer(conn: Connection) -> Signer:
    origin, seed = _meta(conn, "log_origin"), _meta(conn, "log_key")
    if origin is None or seed is None:
        raise LogDamaged("the diary's signing key is missing")
    sealed_by = store_base.sealer(conn)
    if sealed_by is not None:
        return Signer.from_seed(origin, sealed_by.open("log_key", seed))
    return Signer.from_seed(origin, base64.b64decode(seed))


def verifier(conn: Connection) -> Verifier:
    return signer(conn).verifier()


def ensure_key(conn: Connection) -> Signer:
    """Create the diary's log identity the first time: a random origin (no personal data) and
    an Ed25519 key, both kept only inside the encrypted file. The verifier key is written into
    the log itself, so the log says which key signs it."""
    if _meta(conn, "log_origin") is not None:
        return signer(conn)
    origin = ORIGIN_PREFIX + secrets.token_hex(16)
    s = Signer.generate(origin)
    sealed_by = store_base.sealer(conn)
    kept = (
        sealed_by.seal("log_key", s.seed())
        if sealed_by is not None
        else base64.b64encode(s.seed()).decode()  # the diary file's own encryption covers it
    )
    conn.execute(
        insert(meta),
        [
            {"key": "log_origin", "value": origin},
            {"key": "log_key", "value": kept},
        ],
    )
    append(
        conn,
        type="log.key",
        subject="log",
        record={"origin": origin, "vkey": s.verifier().encode()},
    )
    return s


@dataclass(frozen=True)
class StoredCheckpoint:
    size: int
    root: bytes
    note: str
    created_at: str


def seal(conn: Connection) -> StoredCheckpoint | None:
    """Sign a checkpoint for the log as it is now, unless one exists at this size."""
    n = size(conn)
    if n == 0:
        return None
    existing = latest_checkpoint(conn)
    if existing is not None and existing.size == n:
        return existing
    root = merkle.root(n, node_source(conn))
    s = signer(conn)
    note = s.sign(Checkpoint(s.name, n, root).text())
    row = StoredCheckpoint(n, root, note, now_utc())
    conn.execute(insert(checkpoint).values(size=n, root=root, note=note, created_at=row.created_at))
    return row


def _stored(row: Any) -> StoredCheckpoint:
    return StoredCheckpoint(int(row.size), bytes(row.root), row.note, row.created_at)


def latest_checkpoint(conn: Connection) -> StoredCheckpoint | None:
    row = conn.execute(select(checkpoint).order_by(checkpoint.c.size.desc()).limit(1)).first()
    return None if row is None else _stored(row)


def checkpoint_at(conn: Connection, size: int) -> StoredCheckpoint | None:
    """The checkpoint signed when the log had ``size`` entries, if one was."""
    row = conn.execute(select(checkpoint).where(checkpoint.c.size == size)).first()
    return None if row is None else _stored(row)


def checkpoints(conn: Connection) -> list[StoredCheckpoint]:
    return [_stored(r) for r in conn.execute(select(checkpoint).order_by(checkpoint.c.size))]


def inclusion_proof(conn: Connection, index: int, tree_size: int) -> list[bytes]:
    return merkle.inclusion_proof(index, tree_size, node_source(conn))


def consistency_proof(conn: Connection, size1: int, size2: int) -> list[bytes]:
    return merkle.consistency_proof(size1, size2, node_source(conn))


def build_tree(conn: Connection) -> None:
    """Store the tree's tiles for every existing entry (used by the migration that added
    them)."""
    raw = raw_connection(conn)
    compact = merkle.CompactRange()
    builder = tiles.Builder()
    done: list[tuple[int, int, bytes]] = []
    full: list[tuple[int, int, bytes]] = []
    for (leaf,) in conn.execute(select(entry.c.leaf_hash).order_by(entry.c.seq)):
        compact.push(bytes(leaf), done)
        for level, _, value in [(0, 0, bytes(leaf)), *done]:
            tile = builder.add(level, value)
            if tile is not None:
                full.append(tile)
        done.clear()
        if len(full) >= 500:
            raw.executemany(tiles.INSERT, [(tiles.key(t, i), h) for t, i, h in full])
            full.clear()
    full += builder.partial()
    raw.executemany(tiles.INSERT, [(tiles.key(t, i), h) for t, i, h in full])


# --- timestamp requests -----------------------------------------------------------------------


@dataclass(frozen=True)
class PendingTimestamp:
    id: int
    checkpoint_size: int
    url: str
    nonce: int
    request: bytes
    note: str
    tsa_root: str | None


def queue_timestamp(
    conn: Connection,
    checkpoint_size: int,
    url: str,
    request: bytes,
    nonce: int,
    tsa_root: str | None,
) -> int:
    result = conn.execute(
        insert(timestamp_table).values(
            checkpoint_size=checkpoint_size,
            url=url,
            requested_at=now_utc(),
            nonce=str(nonce),
            request=request,
            status="queued",
            tsa_root=tsa_root,
        )
    )
    key = result.inserted_primary_key
    assert key is not None
    return int(key[0])


def pending_timestamps(conn: Connection) -> list[PendingTimestamp]:
    rows = conn.execute(
        select(timestamp_table, checkpoint.c.note)
        .join(checkpoint, checkpoint.c.size == timestamp_table.c.checkpoint_size)
        .where(timestamp_table.c.status == "queued")
        .order_by(timestamp_table.c.id)
    )
    return [
        PendingTimestamp(
            r.id, r.checkpoint_size, r.url, int(r.nonce), bytes(r.request), r.note, r.tsa_root
        )
        for r in rows
    ]


def finish_timestamp(
    conn: Connection,
    ts_id: int,
    *,
    status: str,
    response: bytes | None = None,
    gen_time: str | None = None,
    error: str | None = None,
) -> None:
    conn.execute(
        update(timestamp_table)
        .where(timestamp_table.c.id == ts_id)
        .values(
            status=status,
            response=response,
            gen_time=gen_time,
            error=error,
            completed_at=None if status == "queued" else now_utc(),
        )
    )
