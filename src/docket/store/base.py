"""The one store interface the core is written against, whichever database holds the diary.

A store hands out transactions as SQLAlchemy connections: ``read()`` for a consistent
snapshot, ``write()`` for one all-or-nothing change with a single writer at a time. Two
stores implement it: the encrypted diary file (:class:`docket.store.diary_file.DiaryFile`,
SQLCipher) and a case on a server (:class:`docket.store.postgres.CaseStore`, PostgreSQL,
one schema per case). Both hold the same tables.

Hot paths skip SQLAlchemy and talk DB-API through :func:`raw`, which takes SQLite's ``?``
placeholders on both databases, so a statement is written once. What differs between the
two — full-text search, upserts written the portable ``ON CONFLICT`` way — is chosen with
:func:`dialect`. Secrets that the diary file keeps inside its own encryption (the signing
key) go through :func:`sealer`, which a server store sets to encrypt them under its key.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal, Protocol

from sqlalchemy import Connection

Dialect = Literal["sqlite", "postgresql"]


class Store(Protocol):
    """Where one diary's tables live."""

    @property
    def label(self) -> str:
        """Names the store in messages ('/home/me/diary.docket', 'case 12')."""
        ...

    @property
    def path(self) -> Path | None:
        """The diary file, or None for a store that is not a file."""
        ...

    def read(self) -> contextlib.AbstractContextManager[Connection]: ...

    def write(self) -> contextlib.AbstractContextManager[Connection]: ...

    def close(self) -> None: ...


class Sealer(Protocol):
    """Protects a secret kept in the store's tables (the log's signing key)."""

    def seal(self, name: str, secret: bytes) -> str: ...

    def open(self, name: str, sealed: str) -> bytes: ...


def dialect(conn: Connection) -> Dialect:
    name = conn.dialect.name
    if name not in ("sqlite", "postgresql"):  # pragma: no cover - no other store exists
        raise ValueError(f"unsupported database: {name}")
    return name  # type: ignore[return-value]


def sealer(conn: Connection) -> Sealer | None:
    """The store's sealer, or None when the whole store is already encrypted (a diary file)."""
    found: Sealer | None = conn.get_execution_options().get("docket_sealer")
    return found


_PLACEHOLDER = re.compile(r"\?")


class PgRaw:
    """psycopg's connection with sqlite3's calling convention: ``?`` placeholders, and
    ``execute``/``executemany`` on the connection itself."""

    def __init__(self, conn: Any) -> None:
        self._conn = conn
        self._cache: dict[str, str] = {}

    def _sql(self, sql: str) -> str:
        done = self._cache.get(sql)
        if done is None:
            done = _PLACEHOLDER.sub("%s", sql.replace("%", "%%"))
            self._cache[sql] = done
        return done

    def execute(self, sql: str, params: Sequence[Any] = ()) -> Any:
        # always with a parameter tuple (even empty), so psycopg reads %% back as one %
        return self._conn.execute(self._sql(sql), tuple(params))

    def executemany(self, sql: str, rows: Any) -> Any:
        cur = self._conn.cursor()
        cur.executemany(self._sql(sql), rows)
        return cur


def raw(conn: Connection) -> Any:
    """The transaction's own DB-API connection, taking ``?`` placeholders on either database.

    Statements must not contain a literal ``?`` (pass values as parameters instead)."""
    driver = conn.connection.driver_connection
    assert driver is not None
    if conn.dialect.name == "sqlite":
        return driver
    info = conn.connection.info
    adapter = info.get("docket_raw")
    if adapter is None or adapter._conn is not driver:
        adapter = PgRaw(driver)
        info["docket_raw"] = adapter
    return adapter
