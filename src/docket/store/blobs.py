"""Evidence bytes inside the diary: content-addressed chunks (SHA-256), written and read as
streams so that a 2 GB video never sits in memory whole.

A blob is an ordered list of chunks; identical chunks are stored once. Purging a blob (a
recorded redaction) deletes its chunks unless another live blob still uses them; with
``secure_delete`` on, SQLite zeroes the freed space inside the file.
"""

from __future__ import annotations

import bisect
import hashlib
import io
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any, BinaryIO

from sqlalchemy import Connection, and_, delete, exists, insert, select, update

from docket.store import base
from docket.store.schema import blob, blob_chunk, chunk

CHUNK_SIZE = 1024 * 1024
INSERT_CHUNK = "INSERT INTO chunk (sha256, data) VALUES (?, ?) ON CONFLICT (sha256) DO NOTHING"


@dataclass(frozen=True)
class StoredBlob:
    sha256: bytes
    size: int
    chunk_count: int
    already_present: bool
    head: bytes = b""  # the first bytes, for sniffing the media type


def put_chunks(
    conn: Connection, pieces: Iterable[bytes], *, chunk_size: int = CHUNK_SIZE
) -> StoredBlob:
    """Store bytes given in pieces of any size (re-cut into the diary's fixed chunks, so the
    same bytes always make the same chunks); memory use is about one chunk."""
    buffer = bytearray()

    def chunks() -> Iterator[bytes]:
        for piece in pieces:
            buffer.extend(piece)
            while len(buffer) >= chunk_size:
                yield bytes(buffer[:chunk_size])
                del buffer[:chunk_size]
        if buffer:
            yield bytes(buffer)

    return _put(conn, chunks())


def put_stream(
    conn: Connection,
    stream: BinaryIO,
    *,
    chunk_size: int = CHUNK_SIZE,
    progress: Callable[[int], None] | None = None,
) -> StoredBlob:
    """Store everything read from ``stream``; memory use is one chunk, whatever the size."""
    return _put(conn, iter(lambda: stream.read(chunk_size), b""), progress=progress)


def _put(
    conn: Connection, pieces: Iterator[bytes], *, progress: Callable[[int], None] | None = None
) -> StoredBlob:
    whole = hashlib.sha256()
    head = b""
    chunk_hashes: list[bytes] = []
    size = 0
    raw = base.raw(conn)
    for data in pieces:
        if not head:
            head = data[:4096]
        whole.update(data)
        digest = hashlib.sha256(data).digest()
        raw.execute(INSERT_CHUNK, (digest, data))
        chunk_hashes.append(digest)
        size += len(data)
        if progress is not None:
            progress(size)
    sha = whole.digest()
    existing = conn.execute(select(blob.c.purged).where(blob.c.sha256 == sha)).first()
    if existing is not None and not existing.purged:
        return StoredBlob(sha, size, len(chunk_hashes), already_present=True, head=head)
    if existing is None:
        conn.execute(
            insert(blob).values(sha256=sha, size=size, chunk_count=len(chunk_hashes), purged=False)
        )
    else:  # the same bytes were redacted before and are being added again, deliberately
        conn.execute(update(blob).where(blob.c.sha256 == sha).values(purged=False))
    if chunk_hashes:
        conn.execute(
            insert(blob_chunk),
            [{"blob_sha256": sha, "idx": i, "chunk_sha256": h} for i, h in enumerate(chunk_hashes)],
        )
    return StoredBlob(sha, size, len(chunk_hashes), already_present=False, head=head)


def iter_blob(conn: Connection, sha256: bytes) -> Iterator[bytes]:
    """Yield the blob's bytes chunk by chunk, checking each chunk's hash as it goes."""
    rows = conn.execute(
        select(blob_chunk.c.idx, blob_chunk.c.chunk_sha256)
        .where(blob_chunk.c.blob_sha256 == sha256)
        .order_by(blob_chunk.c.idx)
    ).all()
    for row in rows:
        data = conn.execute(select(chunk.c.data).where(chunk.c.sha256 == row.chunk_sha256)).scalar()
        if data is None or hashlib.sha256(data).digest() != row.chunk_sha256:
            raise BlobDamaged(sha256, row.idx)
        yield bytes(data)


class BlobReader(io.RawIOBase):
    """A stored blob as a seekable, read-only file (for a zip inside the diary, say): one chunk
    is held at a time and each chunk's hash is checked when it is read."""

    def __init__(self, conn: Connection, sha256: bytes) -> None:
        self._raw: Any = base.raw(conn)
        self._sha = sha256
        rows = self._raw.execute(
            "SELECT bc.chunk_sha256, length(c.data) FROM blob_chunk bc "
            "JOIN chunk c ON c.sha256 = bc.chunk_sha256 WHERE bc.blob_sha256 = ? ORDER BY bc.idx",
            (sha256,),
        ).fetchall()
        self._chunks = [bytes(r[0]) for r in rows]
        self._starts = []
        pos = 0
        for r in rows:
            self._starts.append(pos)
            pos += int(r[1])
        self._size = pos
        self._pos = 0
        self._current = -1
        self._data = b""

    @property
    def size(self) -> int:
        return self._size

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._pos

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        if whence == io.SEEK_SET:
            target = offset
        elif whence == io.SEEK_CUR:
            target = self._pos + offset
        elif whence == io.SEEK_END:
            target = self._size + offset
        else:
            raise ValueError(f"invalid whence {whence}")
        if target < 0:
            raise ValueError("negative seek position")
        self._pos = target
        return target

    def _load(self, idx: int) -> None:
        if idx == self._current:
            return
        digest = self._chunks[idx]
        row = self._raw.execute("SELECT data FROM chunk WHERE sha256 = ?", (digest,)).fetchone()
        if row is None or hashlib.sha256(row[0]).digest() != digest:
            raise BlobDamaged(self._sha, idx)
        self._current, self._data = idx, bytes(row[0])

    def readinto(self, buffer: Any) -> int:
        view = memoryview(buffer).cast("B")
        done = 0
        while done < len(view) and self._pos < self._size:
            idx = bisect.bisect_right(self._starts, self._pos) - 1
            self._load(idx)
            start = self._pos - self._starts[idx]
            piece = self._data[start : start + len(view) - done]
            view[done : done + len(piece)] = piece
            done += len(piece)
            self._pos += len(piece)
        return done


class BlobDamaged(Exception):
    """A chunk is missing or its bytes no longer match its hash."""

    def __init__(self, sha256: bytes, idx: int) -> None:
        super().__init__(f"chunk {idx} of {sha256.hex()} is missing or changed")
        self.sha256 = sha256
        self.idx = idx


def purge(conn: Connection, sha256: bytes) -> int:
    """Remove a blob's bytes, keeping its hash and size. Returns how many chunks were deleted."""
    chunk_hashes = [
        r[0]
        for r in conn.execute(
            select(blob_chunk.c.chunk_sha256).where(blob_chunk.c.blob_sha256 == sha256)
        )
    ]
    conn.execute(delete(blob_chunk).where(blob_chunk.c.blob_sha256 == sha256))
    conn.execute(update(blob).where(blob.c.sha256 == sha256).values(purged=True))
    removed = 0
    for h in set(chunk_hashes):
        still_used = conn.execute(
            select(exists().where(and_(blob_chunk.c.chunk_sha256 == h)))
        ).scalar()
        if not still_used:
            conn.execute(delete(chunk).where(chunk.c.sha256 == h))
            removed += 1
    return removed
