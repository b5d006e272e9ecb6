"""Server mode's store: one PostgreSQL database, one schema per case, each schema holding the
same tables as a diary file — the case's own log, tree, checkpoints, signing key and
evidence chunks — behind the same interface (:class:`docket.store.base.Store`).

Transactions: ``write()`` takes a per-case advisory lock, so each case has one writer at a
time (as a diary file has), while readers go on; ``read()`` runs at REPEATABLE READ, so a
verify or a report sees one consistent snapshot. Every transaction sets ``search_path`` to
its case's schema only (``SET LOCAL``), so a pooled connection never carries one case's
path into another's work.

The log's signing key is stored sealed: AES-256-GCM under the server key from the server's
configuration, bound to the case and the key's name, so a row copied to another case does
not open.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import re
import secrets
from collections.abc import Iterator
from pathlib import Path

import sqlalchemy.exc
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy import Connection, Engine, create_engine, text

from docket.errors import CaseNotFound, DatabaseUnavailable, ServerConfigError
from docket.store.schema import meta as meta_table

CASE_MIGRATIONS = Path(__file__).parent / "case_migrations"
CASE_HEAD = "c0005"
SCHEMA_NAME = re.compile(r"^[a-z][a-z0-9_]{0,62}$")
SEALED_PREFIX = "sealed:v1:"

# Database-wide objects every case schema uses; idempotent, run by `docket server init`.
# Run through exec_driver_sql, so a literal percent sign is written %%.
PREREQUISITES = (
    "CREATE EXTENSION IF NOT EXISTS unaccent SCHEMA public",
    """
DO $$ BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_ts_config c JOIN pg_namespace n ON n.oid = c.cfgnamespace
                 WHERE c.cfgname = 'docket_text' AND n.nspname = 'public') THEN
    CREATE TEXT SEARCH CONFIGURATION public.docket_text (COPY = pg_catalog.simple);
    ALTER TEXT SEARCH CONFIGURATION public.docket_text
      ALTER MAPPING FOR hword, hword_part, word WITH public.unaccent, pg_catalog.simple;
  END IF;
END $$
""",
    """
CREATE OR REPLACE FUNCTION public.docket_rowid() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  EXECUTE format('SELECT coalesce(max(id), 0) + 1 FROM %%I.%%I', TG_TABLE_SCHEMA, TG_TABLE_NAME)
    INTO NEW.id;
  RETURN NEW;
END $$
""",
)


# what each sealed secret is, in words, for the messages below
_SEALED_WORDS = {"log_key": "signing key", "totp": "authenticator secret"}


class ServerKey:
    """Seals secrets kept in the server's tables under its 32-byte key, each bound to where
    it is kept (``scope``: a case's schema, or an account) so that a sealed value copied
    elsewhere does not open. ``holder`` names that place in messages ("The case", "Account
    7")."""

    def __init__(self, key: bytes, case: str, *, holder: str = "The case") -> None:
        if len(key) != 32:
            raise ServerConfigError(
                "The server key must be 32 bytes.",
                cause="The configured server key is the wrong length.",
                hint="Make a new one with 'docket server init', or set DOCKET_SERVER_KEY to "
                "the base64 of 32 random bytes.",
            )
        self._aead = AESGCM(key)
        self._case = case
        self._holder = holder

    def _aad(self, name: str) -> bytes:
        return f"docket case {self._case} {name}".encode()

    def seal(self, name: str, secret: bytes) -> str:
        nonce = secrets.token_bytes(12)
        sealed = nonce + self._aead.encrypt(nonce, secret, self._aad(name))
        return SEALED_PREFIX + base64.b64encode(sealed).decode()

    def open(self, name: str, sealed: str) -> bytes:
        what = f"{self._holder}'s {_SEALED_WORDS.get(name, name)}"
        if not sealed.startswith(SEALED_PREFIX):
            raise ServerConfigError(
                f"{what} is not sealed.",
                cause="The row was written without the server key, or was changed by hand.",
                hint="Restore the database from a backup.",
            )
        raw = base64.b64decode(sealed[len(SEALED_PREFIX) :])
        try:
            return self._aead.decrypt(raw[:12], raw[12:], self._aad(name))
        except InvalidTag as exc:
            raise ServerConfigError(
                f"{what} cannot be opened with this server key.",
                cause="The server key in the configuration is not the one it was sealed "
                "with, or the row was changed.",
                hint="Check DOCKET_SERVER_KEY (or server_key in the configuration file).",
            ) from exc


def make_engine(url: str, *, pool_size: int = 10) -> Engine:
    """An engine for the server's database (``postgresql+psycopg://…``)."""
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://") :]
    if not url.startswith("postgresql+psycopg://"):
        raise ServerConfigError(
            "The database URL must be a PostgreSQL URL.",
            cause=f"It starts with {url.split(':', 1)[0]!r}.",
            hint="Use postgresql://USER:PASSWORD@HOST:PORT/DATABASE.",
        )
    return create_engine(url, pool_size=pool_size, max_overflow=pool_size, pool_pre_ping=True)


def prepare_database(engine: Engine) -> None:
    """Create the database-wide objects cases need (safe to run again)."""
    with translate_errors(), engine.begin() as conn:
        for sql in PREREQUISITES:
            conn.exec_driver_sql(sql)


def check_schema_name(schema: str) -> str:
    if not SCHEMA_NAME.match(schema) or schema.startswith("pg_"):
        raise ValueError(f"not a valid case schema name: {schema!r}")
    return schema


@contextlib.contextmanager
def translate_errors(label: str = "the server's database") -> Iterator[None]:
    try:
        yield
    except sqlalchemy.exc.OperationalError as exc:
        raise DatabaseUnavailable(
            f"Docket could not reach {label}.",
            cause="PostgreSQL is not running, or the address, user or password is wrong.",
            hint="Check the database URL in the server configuration and that PostgreSQL "
            "is running.",
        ) from exc


class CaseStore:
    """One case's tables in its own schema."""

    def __init__(self, engine: Engine, schema: str, server_key: bytes) -> None:
        self.engine = engine
        self.schema = check_schema_name(schema)
        self._sealer = ServerKey(server_key, schema)
        self._lock_key = int.from_bytes(
            hashlib.sha256(schema.encode()).digest()[:8], "big", signed=True
        )

    @property
    def label(self) -> str:
        return f"case {self.schema}"

    @property
    def path(self) -> Path | None:
        return None

    # --- lifecycle ----------------------------------------------------------------------------

    @classmethod
    def create(
        cls, engine: Engine, schema: str, server_key: bytes, meta: dict[str, str]
    ) -> CaseStore:
        """Make the case's schema, its tables and its metadata, all in one transaction."""
        store = cls(engine, schema, server_key)
        with translate_errors(), engine.connect() as conn, conn.begin():
            conn.exec_driver_sql(f'CREATE SCHEMA "{store.schema}"')
            conn.exec_driver_sql(f'SET LOCAL search_path TO "{store.schema}"')
            _migrate(conn, store.schema)
            conn.execute(meta_table.insert(), [{"key": k, "value": v} for k, v in meta.items()])
        return store

    @classmethod
    def open(cls, engine: Engine, schema: str, server_key: bytes) -> CaseStore:
        store = cls(engine, schema, server_key)
        with translate_errors(), engine.connect() as conn, conn.begin():
            found = conn.execute(
                text("SELECT 1 FROM pg_namespace WHERE nspname = :s"), {"s": store.schema}
            ).first()
            if found is None:
                raise CaseNotFound(
                    "There is no such case.",
                    hint="Check the case number; 'docket server case list' lists them.",
                )
            conn.exec_driver_sql(f'SET LOCAL search_path TO "{store.schema}"')
            version = conn.exec_driver_sql("SELECT version_num FROM alembic_version").scalar()
            if version != CASE_HEAD:
                _migrate(conn, store.schema)
        return store

    def drop(self) -> None:
        with translate_errors(), self.engine.begin() as conn:
            conn.exec_driver_sql(f'DROP SCHEMA "{self.schema}" CASCADE')

    def close(self) -> None:
        """The engine belongs to the server, which disposes of it."""

    # --- transactions ---------------------------------------------------------------------------

    def _options(self, conn: Connection, *, write: bool) -> Connection:
        return conn.execution_options(docket_sealer=self._sealer, docket_write=write)

    @contextlib.contextmanager
    def write(self) -> Iterator[Connection]:
        with translate_errors(self.label), self.engine.connect() as base:
            conn = self._options(base, write=True)
            with conn.begin():
                conn.exec_driver_sql(f'SET LOCAL search_path TO "{self.schema}"')
                conn.exec_driver_sql(f"SELECT pg_advisory_xact_lock({self._lock_key})")
                yield conn

    @contextlib.contextmanager
    def read(self) -> Iterator[Connection]:
        with translate_errors(self.label), self.engine.connect() as base:
            conn = self._options(
                base.execution_options(isolation_level="REPEATABLE READ"), write=False
            )
            with conn.begin():
                conn.exec_driver_sql(f'SET LOCAL search_path TO "{self.schema}"')
                yield conn


def _migrate(conn: Connection, schema: str) -> None:
    from alembic import command
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(CASE_MIGRATIONS))
    cfg.attributes["connection"] = conn
    cfg.attributes["schema"] = schema
    command.upgrade(cfg, "head")
