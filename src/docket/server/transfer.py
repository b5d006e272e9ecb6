"""Moving a diary between stores: a diary file brought into a case on the server, and a case
written out as a new diary file, row for row and byte for byte, so its log, checkpoints and
proofs stay exactly what they were.

The copy streams each table in small batches (evidence chunks two at a time), so memory
stays flat however large the diary. Two things change on the way, and only these: the log's
signing key, kept as base64 of its seed inside a diary file's own encryption and sealed
under the server key in a case (:func:`docket.store.base.sealer`); and the search index,
rebuilt in the target from the copied rows (FTS5 in a file, PostgreSQL's own on a server).
Each store keeps its own migration record.

Bringing a diary in and writing one out are all or nothing: the new case or file is checked
by verifying its log against what was copied, and only then made visible.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import secrets
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import psycopg
from sqlalchemy import Boolean, Connection, Engine, Table
from sqlcipher3 import dbapi2

from docket import integrity, search
from docket.api import Diary
from docket.errors import CopyRefused, DiaryDamaged, DiaryExists, DiaryTooNew
from docket.ledger import log, merkle
from docket.store import keys
from docket.store.base import Store, dialect, raw, sealer
from docket.store.diary_file import SCHEMA_HEAD, DiaryFile, link_new, temp_sibling
from docket.store.postgres import CASE_HEAD, CaseStore
from docket.store.schema import metadata

if TYPE_CHECKING:
    from docket.server.cases import Case

# Every diary table but ``meta`` (copied on its own, for the signing key), parents first.
TABLES: tuple[Table, ...] = tuple(t for t in metadata.sorted_tables if t.name != "meta")
# What a new store may already hold: the start of its own log.
_LOG_TABLES = frozenset({"entry", "tree_tile", "checkpoint"})
BATCH_ROWS = 500
# Evidence chunks are up to 1 MiB each (docket.store.blobs.CHUNK_SIZE): a few per batch.
BATCH_ROWS_BY_TABLE = {"chunk": 2}
# The page cache (KiB) of a diary file while its evidence chunks are copied (_lean_cache).
LEAN_TABLES = frozenset({"chunk"})
LEAN_CACHE_KIB = 2048
_HEADS = {"sqlite": SCHEMA_HEAD, "postgresql": CASE_HEAD}
# Rows a database refuses to take (a constraint, or a value it cannot hold). Their messages
# can quote a whole row, so they are never passed on.
_REFUSED = (psycopg.DataError, psycopg.IntegrityError, dbapi2.DataError, dbapi2.IntegrityError)


@dataclass(frozen=True)
class Copied:
    """What was copied, as the source held it in the one snapshot the copy read."""

    log_size: int
    root: bytes  # the log's root at log_size
    checkpoints: tuple[tuple[int, bytes], ...]  # (size, root) of every signed checkpoint
    rows: tuple[tuple[str, int], ...]  # rows per table, in the order copied


def copy_diary(source: Store, target: Store) -> Copied:
    """Copy every diary table of ``source`` into ``target``, a store just created (which holds
    at most the start of its own log, replaced by the source's). One read snapshot of the
    source, one write transaction in the target: the target gets all of it or none."""
    with source.read() as src, target.write() as dst:
        _check_revision(src, source)
        _check_revision(dst, target)
        _clear_new(dst, target)
        rows = [("meta", _copy_meta(src, dst))]
        to_postgres = dialect(dst) == "postgresql"
        for table in TABLES:
            with _lean_cache(src, dst, table):
                rows.append((table.name, _copy_table(src, dst, table, target, to_postgres)))
        search.rebuild_incidents(dst)
        if not to_postgres:  # a diary file's message index is filled by whoever adds rows
            raw(dst).execute("INSERT INTO message_fts(message_fts) VALUES ('rebuild')")
        size = log.size(src)
        root = merkle.root(size, log.node_source(src)) if size else merkle.EMPTY_ROOT
        checkpoints = tuple((cp.size, cp.root) for cp in log.checkpoints(src))
    return Copied(size, root, checkpoints, tuple(rows))


def _check_revision(conn: Connection, store: Store) -> None:
    version = raw(conn).execute("SELECT version_num FROM alembic_version").fetchone()
    expected = _HEADS[dialect(conn)]
    if version is None or version[0] != expected:
        raise DiaryTooNew(
            f"The tables of {store.label} are at revision {version[0] if version else 'none'}, "
            f"not {expected} as this version of Docket expects, so they cannot be copied.",
            cause="It was last opened by a newer version of Docket.",
            hint="Update Docket on this computer or server, then try again. Nothing was changed.",
        )


def _clear_new(conn: Connection, store: Store) -> None:
    """Empty a store that holds nothing but the start of a new log (its signing key and the
    entry saying it was created), ready to receive a copy; refuse one that holds more."""
    driver = raw(conn)
    used = driver.execute(
        "SELECT 1 FROM entry WHERE type NOT IN ('log.key', 'diary.created') LIMIT 1"
    ).fetchone()
    if used is None:
        used = next(
            (
                t
                for t in TABLES
                if t.name not in _LOG_TABLES
                and driver.execute(f'SELECT 1 FROM "{t.name}" LIMIT 1').fetchone() is not None
            ),
            None,
        )
    if used is not None:
        raise CopyRefused(
            f"{store.label} already holds records, so a diary cannot be copied into it.",
            hint="Copy into a new case or a new diary file.",
        )
    for table in reversed(TABLES):
        driver.execute(f'DELETE FROM "{table.name}"')


@contextlib.contextmanager
def _lean_cache(src: Connection, dst: Connection, table: Table) -> Iterator[None]:
    """While evidence chunks are copied, a diary file keeps only a small page cache: each
    page is read or written once, so a large cache would only hold up to its size of
    decrypted evidence in memory. Other tables keep the full cache, which their indexes
    need."""
    if table.name not in LEAN_TABLES:
        yield
        return
    files = [raw(c) for c in (src, dst) if dialect(c) == "sqlite"]
    before = [int(f.execute("PRAGMA cache_size").fetchone()[0]) for f in files]
    for f in files:
        f.execute(f"PRAGMA cache_size = -{LEAN_CACHE_KIB}")
    try:
        yield
    finally:
        for f, size in zip(files, before, strict=True):
            f.execute(f"PRAGMA cache_size = {size}")


# --- the signing key ------------------------------------------------------------------------------


def _open_key(conn: Connection, kept: str) -> bytes:
    by = sealer(conn)
    if by is not None:
        return by.open("log_key", kept)
    try:
        seed = base64.b64decode(kept, validate=True)
    except (binascii.Error, ValueError):
        seed = b""
    if len(seed) != 32:
        raise DiaryDamaged(
            "The diary's signing key is not readable, so the diary cannot be copied.",
            cause="The key was changed outside Docket, or the file is damaged.",
            hint="Run 'docket verify' on the diary; open a backup if it reports damage.",
        )
    return seed


def _keep_key(conn: Connection, seed: bytes) -> str:
    by = sealer(conn)
    if by is not None:
        return by.seal("log_key", seed)
    return base64.b64encode(seed).decode()  # the diary file's own encryption covers it


def plain_meta(conn: Connection) -> dict[str, str]:
    """A store's metadata but its log identity: what a new store for its copy is made with
    (a new store makes a log identity of its own, which the copy then replaces)."""
    rows = raw(conn).execute('SELECT "key", "value" FROM meta').fetchall()
    return {str(k): str(v) for k, v in rows if k not in ("log_key", "log_origin")}


def _copy_meta(src: Connection, dst: Connection) -> int:
    rows = [(str(k), str(v)) for k, v in raw(src).execute('SELECT "key", "value" FROM meta')]
    rows = [(k, _keep_key(dst, _open_key(src, v)) if k == "log_key" else v) for k, v in rows]
    out = raw(dst)
    out.execute("DELETE FROM meta")  # the target's own metadata gives way to the source's
    out.executemany('INSERT INTO meta ("key", "value") VALUES (?, ?)', rows)
    return len(rows)


# --- tables -------------------------------------------------------------------------------------


@contextlib.contextmanager
def _rows(conn: Connection, sql: str, batch: int) -> Iterator[Any]:
    """A cursor over ``sql`` that fetches as it is read: SQLite steps through the table
    itself; on PostgreSQL a server-side cursor hands rows over ``batch`` at a time."""
    if dialect(conn) == "postgresql":
        driver: Any = conn.connection.driver_connection
        cur = driver.cursor(name=f"docket_copy_{secrets.token_hex(4)}")
        cur.itersize = batch
    else:
        cur = raw(conn).cursor()
    try:
        cur.execute(sql)
        yield cur
    finally:
        cur.close()


def _copy_table(
    src: Connection, dst: Connection, table: Table, target: Store, to_postgres: bool
) -> int:
    names = [c.name for c in table.columns]
    columns = ", ".join(f'"{n}"' for n in names)
    size = BATCH_ROWS_BY_TABLE.get(table.name, BATCH_ROWS)
    write = _postgres_writer if to_postgres else _sqlite_writer
    copied = 0
    try:
        with (
            _rows(src, f'SELECT {columns} FROM "{table.name}"', size) as cur,
            write(dst, table, columns) as put,
        ):
            while batch := cur.fetchmany(size):
                put(batch)
                copied += len(batch)
    except _REFUSED as exc:
        raise CopyRefused(
            f"A row of the diary's {table.name} table could not be written to "
            f"{target.label}, so nothing was copied.",
            cause="The diary holds a value the target database cannot take, or the diary's "
            "tables do not agree with each other.",
            hint="Run 'docket verify' on the diary; if it passes, please report this.",
            details={"table": table.name, "database_error": type(exc).__name__},
        ) from None
    return copied


Put = Callable[[list[tuple[Any, ...]]], None]


@contextlib.contextmanager
def _sqlite_writer(dst: Connection, table: Table, columns: str) -> Iterator[Put]:
    """Rows into a diary file, one statement per batch: one statement per row would make the
    full-text trigger on messages flush its index at every row (ten times slower)."""
    out = raw(dst)
    one_row = "(" + ", ".join("?" for _ in table.columns) + ")"
    head = f'INSERT INTO "{table.name}" ({columns}) VALUES '
    statements: dict[int, str] = {}

    def put(batch: list[tuple[Any, ...]]) -> None:
        n = len(batch)
        sql = statements.get(n)
        if sql is None:
            sql = statements[n] = head + ", ".join(one_row for _ in range(n))
        out.execute(sql, [value for row in batch for value in row])

    yield put


@contextlib.contextmanager
def _postgres_writer(dst: Connection, table: Table, columns: str) -> Iterator[Put]:
    """Rows into a case through one COPY per table (twice as fast as inserting), streamed:
    psycopg sends each batch as it is written."""
    # a diary file holds booleans as 0 and 1: they go to PostgreSQL as true and false
    flags = [i for i, c in enumerate(table.columns) if isinstance(c.type, Boolean)]
    driver: Any = dst.connection.driver_connection
    with (
        driver.cursor() as cur,
        cur.copy(f'COPY "{table.name}" ({columns}) FROM STDIN') as copy,
    ):

        def put(batch: list[tuple[Any, ...]]) -> None:
            for row in batch:
                copy.write_row(_with_bools(row, flags) if flags else row)

        yield put


def _with_bools(row: tuple[Any, ...], flags: list[int]) -> tuple[Any, ...]:
    values = list(row)
    for i in flags:
        if values[i] is not None:
            values[i] = bool(values[i])
    return tuple(values)


# --- checking a copy ----------------------------------------------------------------------------


def _check_copy(copy: Diary, copied: Copied) -> integrity.Report:
    """Verify the copy in full and compare its log with what was copied; raises
    :class:`_CopyDiffers` (for the caller to explain) unless both agree."""
    report = copy.verify()
    with copy.store.read() as conn:
        checkpoints = tuple((cp.size, cp.root) for cp in log.checkpoints(conn))
    if (
        report.ok
        and report.entries == copied.log_size
        and report.root == copied.root
        and checkpoints == copied.checkpoints
    ):
        return report
    raise _CopyDiffers(report)


class _CopyDiffers(Exception):
    def __init__(self, report: integrity.Report) -> None:
        super().__init__("the copy does not match its source")
        self.report = report


def _problems(report: integrity.Report) -> dict[str, Any]:
    return {
        "problems": len(report.problems),
        "affected_entries": report.affected_entries()[:50],
    }


# --- a diary file into a case -------------------------------------------------------------------


def import_diary(
    engine: Engine,
    server_key: bytes,
    path: Path,
    passphrase: str,
    *,
    title: str,
    created_by: int | None,
) -> Case:
    """Bring a victim's diary file into a new case: open it with its passphrase, copy it in,
    and keep the case only if it verifies with the same log (size, root, checkpoints) as the
    file. If anything fails, no case is left behind. The file is only read (a diary from an
    older Docket is first brought up to date, as opening it always does, with a backup made
    beside it)."""
    from docket.server import cases

    title = cases.check_title(title)
    with Diary.open(path, passphrase) as source:
        with source.store.read() as conn:
            meta = plain_meta(conn)

        def build(schema: str) -> None:
            store = CaseStore.create(engine, schema, server_key, meta)
            copied = copy_diary(source.store, store)
            try:
                _check_copy(Diary(store), copied)
            except _CopyDiffers as differs:
                own = source.verify()
                if not own.ok:
                    raise DiaryDamaged(
                        "The diary file did not pass its integrity check, so it was not "
                        "brought in. No case was made.",
                        cause="Something in the file changed after it was written (outside "
                        "Docket), or the file is damaged.",
                        hint="Run 'docket verify' on the diary file to see what is affected.",
                        details=_problems(own),
                    ) from None
                raise CopyRefused(
                    "The copy of the diary on the server did not check out, so it was not "
                    "kept. No case was made.",
                    cause="The server's database changed or lost part of the copy.",
                    hint="Try again; if it happens again, check the database server's logs.",
                    details=_problems(differs.report),
                ) from None

        return cases.create_case_with(engine, title=title, created_by=created_by, build=build)


# --- a case into a diary file -------------------------------------------------------------------


def export_case(
    engine: Engine, server_key: bytes, case_id: int, path: Path, passphrase: str
) -> Path:
    """Write a case out as a new diary file at ``path``, locked with ``passphrase``.

    Never overwrites: the file is written under a temporary name beside ``path``, opened
    again with the passphrase and verified against the case (same log size, root and
    checkpoints), and only then linked into place. Returns the file's path."""
    from docket.server import cases

    path = path.expanduser().absolute()
    keys.check_new_passphrase(passphrase)
    if path.exists():
        raise DiaryExists(
            f"{path} already exists; Docket will not overwrite it.",
            hint="Choose a new name for the exported diary, or move the old file first.",
        )
    found = cases.get_case(engine, case_id)
    store = CaseStore.open(engine, found.schema_name, server_key)
    with store.read() as conn:
        meta = plain_meta(conn)
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    # the name DiaryFile.create gives its own work in progress, so that opening the diary at
    # ``path`` later removes a copy left behind by a crash
    tmp = temp_sibling(path, "creating")
    try:
        written = DiaryFile.create(tmp, passphrase, meta)
        try:
            copied = copy_diary(store, written)
        finally:
            written.close()
        with Diary.open(tmp, passphrase) as copy:
            try:
                _check_copy(copy, copied)
            except _CopyDiffers as differs:
                own = Diary(store).verify()
                if not own.ok:
                    raise DiaryDamaged(
                        f"Case {case_id} did not pass its integrity check, so it was not exported.",
                        cause="Something in the case changed after it was written, outside Docket.",
                        hint="Compare it with the server's database backups; ask the "
                        "server's administrator.",
                        details=_problems(own),
                    ) from None
                raise CopyRefused(
                    "The exported diary did not check out, so it was not kept.",
                    cause="The disk may be full or failing.",
                    hint="Free some space or write to another disk, then try again.",
                    details=_problems(differs.report),
                ) from None
        link_new(
            tmp,
            path,
            message=f"{path} appeared while the case was being exported; it was left as it is.",
            hint="Choose another name and export again.",
        )
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
    return path


__all__ = [
    "BATCH_ROWS",
    "TABLES",
    "Copied",
    "copy_diary",
    "export_case",
    "import_diary",
    "plain_meta",
]
