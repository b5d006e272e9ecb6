"""The server's database: connecting, and bringing its schemas up to date.

``migrate`` creates the ``docket`` schema, the database-wide objects that cases need
(:func:`docket.store.postgres.prepare_database`), and runs the server's Alembic migrations,
then brings every case schema up to date; it is safe to run again.
"""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import Engine, select

from docket.errors import ServerConfigError
from docket.server.schema import SCHEMA, case
from docket.store import postgres

MIGRATIONS = Path(__file__).parent / "migrations"
SERVER_HEAD = "s0002"


def migrate(engine: Engine, server_key: bytes) -> None:
    from alembic import command
    from alembic.config import Config

    postgres.prepare_database(engine)
    with postgres.translate_errors(), engine.begin() as conn:
        conn.exec_driver_sql(f"CREATE SCHEMA IF NOT EXISTS {SCHEMA}")
        cfg = Config()
        cfg.set_main_option("script_location", str(MIGRATIONS))
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "head")
        schemas = list(conn.execute(select(case.c.schema_name)).scalars())
    for schema in schemas:  # opening a case upgrades its schema when it is behind
        postgres.CaseStore.open(engine, schema, server_key)


def check_current(engine: Engine) -> None:
    """Refuse to serve a database that ``docket server init`` has not set up, or that an older
    Docket left behind (the server's tables are not at this version's newest revision)."""
    with postgres.translate_errors(), engine.connect() as conn:
        found = conn.exec_driver_sql(
            "SELECT 1 FROM pg_tables WHERE schemaname = 'docket' AND tablename = 'alembic_version'"
        ).first()
        version = (
            conn.exec_driver_sql("SELECT version_num FROM docket.alembic_version").scalar()
            if found is not None
            else None
        )
    if version != SERVER_HEAD:
        raise ServerConfigError(
            "The server's database is not ready for this version of Docket."
            if version is not None
            else "The server's database has not been set up.",
            cause=f"Its tables are at revision {version or 'none'}; this Docket needs "
            f"{SERVER_HEAD}.",
            hint="Run 'docket server init' with the same configuration (it is safe to run "
            "again), then start the server.",
        )
