"""The diary as one encrypted file: create, unlock, migrate, back up and rekey it.

Files are only ever replaced whole: a new diary, a backup or a rekeyed copy is written under a
temporary name in the same folder, flushed to disk, checked by opening it, and then moved into
place with one atomic rename. A crash at any moment leaves the old file or the new one, never
half of either.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, Engine, create_engine, event, text
from sqlalchemy.pool import StaticPool
from sqlcipher3 import dbapi2

from docket.errors import DiaryExists, DiaryFileError, DiaryTooNew
from docket.store import keys, sqlcipher
from docket.store.schema import meta as meta_table

if TYPE_CHECKING:
    from alembic.config import Config

MIGRATIONS = Path(__file__).parent / "migrations"
# The newest migration. Kept here so that opening an up-to-date diary does not import Alembic
# (a third of a second); tests check it matches the migrations folder.
SCHEMA_HEAD = "0010"


def alembic_config(connection: Connection | None = None) -> Config:
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    if connection is not None:
        cfg.attributes["connection"] = connection
    return cfg


def head_revision() -> str:
    from alembic.script import ScriptDirectory

    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None
    return head


def temp_sibling(path: Path, purpose: str) -> Path:
    """A work-in-progress name beside ``path``; opening the diary at ``path`` later removes
    one that a crash left behind."""
    return path.with_name(f".{path.name}.{purpose}-{secrets.token_hex(6)}")


def link_new(tmp: Path, path: Path, *, message: str, hint: str) -> None:
    """Make the finished file ``tmp`` appear at ``path``, durably. ``link()`` fails if the
    target appeared meanwhile, so a diary is never clobbered (DiaryExists with ``message``)."""
    sqlcipher.fsync_path(tmp)
    try:
        os.link(tmp, path)
    except FileExistsError as exc:
        raise DiaryExists(message, hint=hint) from exc
    sqlcipher.fsync_path(path.parent)


def _new_private_file(path: Path) -> None:
    """Create an empty file only the owner can read, failing if it exists."""
    fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
    os.close(fd)


@dataclass(frozen=True)
class Snapshot:
    """Enough to tell two copies of a diary apart: entry count and the last leaf hash."""

    entries: int
    last_leaf: bytes | None


class DiaryFile:
    """An unlocked diary file with its SQLAlchemy engine (one keyed connection)."""

    def __init__(self, path: Path, material: sqlcipher.KeyMaterial) -> None:
        self.path: Path = path
        self._material = material
        self.engine = self._make_engine()

    # --- opening -----------------------------------------------------------------------------

    @classmethod
    def create(cls, path: Path, passphrase: str, meta: dict[str, str]) -> DiaryFile:
        """Make a new diary at ``path``; it appears there only once complete."""
        path = path.expanduser().absolute()
        keys.check_new_passphrase(passphrase)
        if path.exists():
            raise DiaryExists(
                f"A diary already exists at {path}.",
                cause="It was created earlier; Docket never overwrites a diary.",
                hint="Open it with your passphrase, or choose another path with --diary.",
            )
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        salt = keys.new_salt()
        material = sqlcipher.KeyMaterial(keys.derive_key(passphrase, salt), salt, keys.CURRENT)
        tmp = temp_sibling(path, "creating")
        _new_private_file(tmp)
        try:
            conn = sqlcipher.create_file(tmp, material)
            conn.close()
            creating = cls(tmp, material)
            try:
                creating._migrate(backup_first=False)
                with creating.write() as c:
                    c.execute(
                        meta_table.insert(), [{"key": k, "value": v} for k, v in meta.items()]
                    )
            finally:
                creating.close()
            link_new(
                tmp,
                path,
                message=f"A diary appeared at {path} while this one was being created.",
                hint="Open that diary, or choose another path.",
            )
        finally:
            with contextlib.suppress(FileNotFoundError):
                tmp.unlink()
        return cls(path, material)

    @classmethod
    def open(cls, path: Path, passphrase: str) -> DiaryFile:
        path = path.expanduser().absolute()
        material = sqlcipher.unlock(path, passphrase)
        diary = cls(path, material)
        try:
            diary._migrate(backup_first=True)
            diary._remove_stale_temps()
        except BaseException:
            diary.close()
            raise
        return diary

    def _remove_stale_temps(self) -> None:
        """Delete encrypted temp copies left by a crash during a rekey or backup.

        Only while holding the write lock: a rekey in progress elsewhere holds it throughout.
        """
        stale = list(self.path.parent.glob(f".{self.path.name}.rekey-*"))
        stale += list(self.path.parent.glob(f".{self.path.name}.creating-*"))
        if not stale:
            return
        with self.write():
            for p in stale:
                with contextlib.suppress(FileNotFoundError):
                    p.unlink()

    def _make_engine(self) -> Engine:
        path, material = self.path, self._material

        def creator() -> Any:
            return sqlcipher.connect(path, material)

        engine = create_engine("sqlite://", module=dbapi2, creator=creator, poolclass=StaticPool)

        @event.listens_for(engine, "begin")
        def _begin(conn: Connection) -> None:
            write = conn.get_execution_options().get("docket_write", False)
            conn.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN DEFERRED")

        return engine

    @property
    def label(self) -> str:
        return str(self.path)

    def close(self) -> None:
        self.engine.dispose()

    # --- transactions ------------------------------------------------------------------------

    @contextlib.contextmanager
    def write(self) -> Iterator[Connection]:
        """One write transaction: everything inside commits together or not at all."""
        with sqlcipher.translate_errors(self.path), self.engine.connect() as conn:
            conn = conn.execution_options(docket_write=True)
            with conn.begin():
                yield conn

    @contextlib.contextmanager
    def read(self) -> Iterator[Connection]:
        with sqlcipher.translate_errors(self.path), self.engine.connect() as conn, conn.begin():
            yield conn

    # --- schema ------------------------------------------------------------------------------

    def revision(self) -> str | None:
        with self.read() as conn:
            has_table = conn.execute(
                text("SELECT 1 FROM sqlite_schema WHERE type='table' AND name='alembic_version'")
            ).first()
            if has_table is None:
                return None
            return conn.execute(text("SELECT version_num FROM alembic_version")).scalar()

    def _migrate(self, *, backup_first: bool) -> None:
        current = self.revision()
        if current == SCHEMA_HEAD:
            return
        from alembic import command
        from alembic.script import ScriptDirectory

        head = head_revision()
        script = ScriptDirectory.from_config(alembic_config())
        known = {r.revision for r in script.walk_revisions()}
        if current is not None and current not in known:
            raise DiaryTooNew(
                f"This diary was written by a newer version of Docket (schema {current}).",
                cause="Docket on this computer is older than the one that last opened the diary.",
                hint="Update Docket, then open the diary again. Nothing was changed.",
            )
        if backup_first and current is not None:
            stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
            self.backup(self.path.with_name(f"{self.path.name}.before-upgrade-{current}-{stamp}"))
        with sqlcipher.translate_errors(self.path), self.engine.connect() as conn:
            conn = conn.execution_options(docket_write=True)
            command.upgrade(alembic_config(conn), head)
            conn.commit()

    # --- copies ------------------------------------------------------------------------------

    @contextlib.contextmanager
    def _exported(self, target: Path, material: sqlcipher.KeyMaterial) -> Iterator[Snapshot]:
        """Copy the diary into the new file ``target`` under ``material`` and check the copy.

        A second connection holds the write lock from before the copy until the caller's block
        ends, so no other window or process can write in between (the caller renames inside).
        """
        _new_private_file(target)
        locker = sqlcipher.connect(self.path, self._material)
        try:
            with sqlcipher.translate_errors(self.path):
                locker.execute("BEGIN IMMEDIATE")
                snap = self.snapshot_raw(locker)
                raw = self.engine.raw_connection()
                try:
                    dbapi_conn = raw.driver_connection
                    assert dbapi_conn is not None
                    sqlcipher.export_copy(
                        dbapi_conn,
                        target,
                        material.key,
                        material.salt,
                        on_attached=lambda: dbapi_conn.execute(
                            "PRAGMA backup_target.secure_delete = ON"
                        ),
                    )
                finally:
                    raw.close()
                sqlcipher.fsync_path(target)
                self._check_copy(target, material, snap)
            yield snap
        finally:
            with contextlib.suppress(Exception):
                locker.execute("ROLLBACK")
            locker.close()

    @staticmethod
    def snapshot_raw(dbapi_conn: Any) -> Snapshot:
        row = dbapi_conn.execute(
            "SELECT seq, leaf_hash FROM entry ORDER BY seq DESC LIMIT 1"
        ).fetchone()
        return Snapshot(0, None) if row is None else Snapshot(int(row[0]) + 1, bytes(row[1]))

    def _check_copy(self, target: Path, material: sqlcipher.KeyMaterial, snap: Snapshot) -> None:
        conn = sqlcipher.connect(target, material, mode="ro")
        try:
            problems = conn.execute("PRAGMA cipher_integrity_check").fetchall()
            ok = conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
            copied = self.snapshot_raw(conn)
        finally:
            conn.close()
        if problems or not ok or copied != snap:
            raise DiaryFileError(
                f"The copy written to {target.parent} did not check out, so it was not kept.",
                cause="The disk may be full or failing.",
                hint="Free some space or try another disk. Your diary itself is unchanged.",
            )

    def backup(self, target: Path) -> Snapshot:
        """A one-file encrypted copy at ``target``, openable with the same passphrase."""
        target = target.expanduser().absolute()
        if target.exists():
            raise DiaryExists(
                f"{target} already exists; Docket will not overwrite it.",
                hint="Choose a new name for the backup, or move the old one first.",
            )
        if target == self.path:
            raise DiaryExists("A backup cannot be written over the diary itself.")
        target.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        tmp = temp_sibling(target, "backup")
        try:
            with self._exported(tmp, self._material) as snap:
                try:
                    os.link(tmp, target)
                except FileExistsError as exc:
                    raise DiaryExists(
                        f"{target} appeared while the backup was being written."
                    ) from exc
                sqlcipher.fsync_path(target.parent)
            return snap
        finally:
            with contextlib.suppress(FileNotFoundError):
                tmp.unlink()

    def rekey(self, new_passphrase: str) -> None:
        """Change the passphrase atomically: a new salt and key, a checked copy, one rename.

        Until the rename the old passphrase opens the diary; after it, only the new one.
        """
        keys.check_new_passphrase(new_passphrase)
        salt = keys.new_salt()
        material = sqlcipher.KeyMaterial(keys.derive_key(new_passphrase, salt), salt, keys.CURRENT)
        tmp = temp_sibling(self.path, "rekey")
        try:
            with self._exported(tmp, material):
                # Prove the new passphrase (not just the key) opens the copy before switching.
                sqlcipher.unlock(tmp, new_passphrase)
                tmp.replace(self.path)
                sqlcipher.fsync_path(self.path.parent)
            self.engine.dispose()
        finally:
            with contextlib.suppress(FileNotFoundError):
                tmp.unlink()
        self._material = material
        self.engine = self._make_engine()

    def integrity_problems(self) -> list[str]:
        """SQLCipher's HMAC check of every page, then SQLite's structural check, as plain
        strings; an empty list means the file is sound. Damage is reported, never raised."""
        raw = self.engine.raw_connection()
        try:
            cur = raw.driver_connection
            assert cur is not None
            try:
                problems = [str(r[0]) for r in cur.execute("PRAGMA cipher_integrity_check")]
                if not problems:
                    structure = [str(r[0]) for r in cur.execute("PRAGMA integrity_check")]
                    if structure != ["ok"]:
                        problems.extend(structure)
            except dbapi2.Error as exc:
                problems = [f"the file could not be read through: {exc}"]
        finally:
            raw.close()
        return problems
