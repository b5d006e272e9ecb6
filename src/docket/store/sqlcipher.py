"""Opening, creating and keying the one encrypted diary file (SQLCipher 4 via sqlcipher3).

Every connection is keyed with the raw Argon2id key, then the safety pragmas of DESIGN §5 are
set and read back; a connection whose settings do not read back as asked is refused. A file is
inspected before SQLite touches it, so a missing, empty, truncated or unencrypted file gets its
own clear error and is never created or modified by a failed open.
"""

from __future__ import annotations

import contextlib
import os
import re
import urllib.parse
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlalchemy.exc
from sqlcipher3 import dbapi2

from docket.errors import (
    DiaryBusy,
    DiaryDamaged,
    DiaryFileError,
    DiaryNotFound,
    NotADiary,
    WrongPassphrase,
)
from docket.store import keys

PAGE_SIZE = 4096
APPLICATION_ID = 0x444B4554  # "DKET", in the (encrypted) SQLite header
SQLITE_PLAIN_HEADER = b"SQLite format 3\x00"

# (pragma, value set, value read back). Order matters: logging is silenced before the key is
# tried, so a wrong key never prints "hmac check failed" to the terminal.
SAFETY_PRAGMAS: tuple[tuple[str, str, str], ...] = (
    ("cipher_memory_security", "ON", "1"),
    ("temp_store", "MEMORY", "2"),
    ("secure_delete", "ON", "1"),
    ("foreign_keys", "ON", "1"),
    ("journal_mode", "DELETE", "delete"),
    ("synchronous", "FULL", "2"),
    ("cipher_log_level", "NONE", "NONE"),
)
BUSY_TIMEOUT_MS = 10_000
# 32 MB of decrypted pages: proofs and verify over a large log read tree nodes at random, and
# every cache miss costs a page decryption and HMAC check. Bounded, so memory stays flat.
CACHE_SIZE_KIB = 32_000

DbapiConnection = Any  # sqlcipher3.dbapi2.Connection has no type information


@dataclass(frozen=True)
class KeyMaterial:
    """What it takes to open one diary file: the derived raw key and the file's salt."""

    key: bytes
    salt: bytes
    profile: keys.KdfProfile


def _uri(path: Path, mode: str) -> str:
    return f"file:{urllib.parse.quote(str(path))}?mode={mode}"


def inspect_file(path: Path) -> bytes:
    """Check that ``path`` looks like a SQLCipher diary and return its 16-byte salt.

    Never creates or writes anything.
    """
    if not path.exists():
        raise DiaryNotFound(
            f"There is no diary at {path}.",
            cause="The path is mistyped, or the diary has not been created yet.",
            hint="Check the path (or DOCKET_DIARY), or create a new diary with 'docket init'.",
        )
    if not path.is_file():
        raise NotADiary(
            f"{path} is a folder, not a diary file.",
            hint="Give the path of the diary file itself (it usually ends in .docket).",
        )
    size = path.stat().st_size
    with path.open("rb") as fh:
        head = fh.read(len(SQLITE_PLAIN_HEADER))
    if size == 0:
        raise NotADiary(
            f"{path} is empty.",
            cause="The file was created but never written, or it was wiped.",
            hint="Open your backup copy of the diary instead, if you have one.",
        )
    if head == SQLITE_PLAIN_HEADER:
        raise NotADiary(
            f"{path} is an ordinary unencrypted database, not a Docket diary.",
            cause="Docket diaries are always encrypted; this file was made by another program.",
            hint="Check you picked the right file.",
        )
    hot_journal = Path(f"{path}-journal").exists()
    if not hot_journal and (size < PAGE_SIZE or size % PAGE_SIZE):
        raise DiaryDamaged(
            f"The diary file {path} is incomplete: its size ({size} bytes) is not a whole number "
            f"of {PAGE_SIZE}-byte pages.",
            cause="The file was cut short, for example by a copy that did not finish.",
            hint="Nothing has been changed. Open your most recent backup instead "
            "('docket backup' makes one).",
        )
    return head[: keys.SALT_BYTES] if len(head) >= keys.SALT_BYTES else head


def _raw_connect(path: Path, *, mode: str) -> DbapiConnection:
    try:
        conn = dbapi2.connect(
            _uri(path, mode),
            uri=True,
            isolation_level=None,  # we issue BEGIN ourselves (see engine.py)
            check_same_thread=False,
            timeout=BUSY_TIMEOUT_MS / 1000,
        )
    except dbapi2.Error as exc:  # pragma: no cover - permissions, ENOSPC on create
        raise DiaryFileError(
            f"The diary file {path} could not be opened.",
            cause=str(exc),
            hint="Check that the file and its folder can be read and written by you.",
        ) from exc
    return conn


def _apply_key(conn: DbapiConnection, literal: str) -> None:
    conn.execute("PRAGMA cipher_log_level = NONE")
    conn.execute(f"PRAGMA key = {literal}")


def _key_works(conn: DbapiConnection) -> bool:
    try:
        conn.execute("SELECT count(*) FROM sqlite_schema").fetchone()
    except dbapi2.DatabaseError as exc:
        if "not a database" in str(exc) or "encrypted" in str(exc):
            return False
        raise
    return True


def apply_safety_pragmas(conn: DbapiConnection, path: Path) -> None:
    """Set DESIGN §5's pragmas and read each one back; refuse the connection otherwise."""
    conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
    conn.execute(f"PRAGMA cache_size = -{CACHE_SIZE_KIB}")
    for name, value, expected in SAFETY_PRAGMAS:
        conn.execute(f"PRAGMA {name} = {value}").fetchall()
        row = conn.execute(f"PRAGMA {name}").fetchone()
        got = str(row[0]) if row else ""
        if got.lower() != expected.lower():
            conn.close()
            raise DiaryFileError(
                f"A safety setting could not be applied to {path} ({name} is {got!r}).",
                cause="The installed SQLCipher library does not behave as Docket expects.",
                hint="Reinstall Docket; if it keeps happening, report it as a bug.",
            )


def unlock(path: Path, passphrase: str) -> KeyMaterial:
    """Derive the key for an existing diary and prove it opens the file (read-only check)."""
    salt = inspect_file(path)
    # A hot journal (left by a crash) must be rolled back, which needs write access.
    mode = "rw" if Path(f"{path}-journal").exists() else "ro"
    for profile in keys.PROFILES:
        key = keys.derive_key(passphrase, salt, profile)
        conn = _raw_connect(path, mode=mode)
        try:
            _apply_key(conn, keys.sqlcipher_key_literal(key))
            with translate_errors(path):
                if _key_works(conn):
                    return KeyMaterial(key=key, salt=salt, profile=profile)
        finally:
            conn.close()
    raise WrongPassphrase(
        "That passphrase did not unlock the diary.",
        cause="Most often a typing mistake or Caps Lock; less often the start of the file "
        "is damaged.",
        hint="Type it again slowly. If you are sure it is right, try your most recent backup. "
        "A lost passphrase cannot be recovered by anyone.",
        details={"file": str(path)},
    )


def connect(path: Path, material: KeyMaterial, *, mode: str = "rw") -> DbapiConnection:
    """A keyed connection with the safety pragmas set and read back."""
    conn = _raw_connect(path, mode=mode)
    try:
        _apply_key(conn, keys.sqlcipher_key_literal(material.key))
        with translate_errors(path):
            if not _key_works(conn):
                raise WrongPassphrase(
                    "The diary no longer opens with the key it was unlocked with.",
                    cause="The diary's passphrase was changed by another window or program.",
                    hint="Close Docket everywhere and unlock the diary again.",
                )
            apply_safety_pragmas(conn, path)
    except BaseException:
        with contextlib.suppress(Exception):
            conn.close()
        raise
    return conn


def create_file(path: Path, material: KeyMaterial) -> DbapiConnection:
    """Key an empty file with an explicit salt (the 96-hex raw key form) and set pragmas."""
    conn = _raw_connect(path, mode="rw")
    _apply_key(conn, keys.sqlcipher_key_literal(material.key, material.salt))
    apply_safety_pragmas(conn, path)
    # Write page 1 now, on this connection, so the file gets *our* salt (a later connection
    # keyed without it would make SQLCipher choose a random one).
    conn.execute(f"PRAGMA application_id = {APPLICATION_ID}")
    with path.open("rb") as fh:
        if fh.read(keys.SALT_BYTES) != material.salt:
            conn.close()
            raise DiaryFileError(
                f"The new diary at {path} could not be set up.",
                cause="SQLCipher did not store the file salt Docket gave it.",
                hint="Reinstall Docket; if it keeps happening, report it as a bug.",
            )
    return conn


def export_copy(
    conn: DbapiConnection, target: Path, key: bytes, salt: bytes, *, on_attached: Callable[[], None]
) -> None:
    """Write an encrypted copy of the open diary to ``target`` with ``sqlcipher_export``.

    The copy is keyed with ``key`` and gets ``salt`` as its file salt. ``on_attached`` runs after
    the target is attached and before the copy (the caller uses it to set the target's pragmas).
    """
    literal = keys.sqlcipher_key_literal(key, salt)
    conn.execute(f"ATTACH DATABASE ? AS backup_target KEY {literal}", (str(target),))
    try:
        on_attached()
        conn.execute("SELECT sqlcipher_export('backup_target')").fetchall()
        version = conn.execute("PRAGMA main.user_version").fetchone()[0]
        conn.execute(f"PRAGMA backup_target.user_version = {int(version)}")
    finally:
        conn.execute("DETACH DATABASE backup_target")


def fsync_path(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def where_of(path: Path | None) -> str:
    return f" ({path})" if path else ""


_DAMAGE = re.compile(r"malformed|not a database|hmac|corrupt|disk image", re.IGNORECASE)


@contextlib.contextmanager
def translate_errors(path: Path | None) -> Iterator[None]:
    """Turn SQLCipher's terse errors into Docket's; nothing else is caught."""
    try:
        yield
    except dbapi2.Error as exc:
        raise translate(exc, path) from exc
    except sqlalchemy.exc.DBAPIError as exc:
        raise translate(exc.orig if exc.orig is not None else exc, path) from exc


def translate(exc: BaseException, path: Path | None) -> Exception:
    text = str(exc)
    if "readonly database" in text or "moved" in text:
        return DiaryBusy(
            f"The diary file was replaced while it was open{where_of(path)}.",
            cause="Its passphrase was changed, or it was restored, from another window.",
            hint="Nothing was written. Close this window and unlock the diary again.",
        )
    where = where_of(path)
    if "locked" in text or "busy" in text:
        return DiaryBusy(
            f"The diary is busy{where}.",
            cause="Another Docket window or command is writing to it right now.",
            hint="Wait a moment and try again; close other Docket windows if it keeps happening.",
        )
    if "disk is full" in text or "disk I/O" in text:
        return DiaryFileError(
            f"The diary could not be written{where}: the disk is full or failing.",
            cause=text,
            hint="Free some space (or use another disk) and try again. Nothing was half-written.",
        )
    if _DAMAGE.search(text):
        return DiaryDamaged(
            f"Part of the diary file could not be read{where}: it looks damaged.",
            cause="The file was changed outside Docket, or the disk has a fault.",
            hint="Nothing has been changed. Open your most recent backup, and keep this file "
            "as it is in case it can be examined later.",
        )
    if isinstance(exc, Exception):
        return exc
    return RuntimeError(text)  # pragma: no cover
