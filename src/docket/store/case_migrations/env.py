"""Alembic environment for one case's schema on PostgreSQL.

Like the diary file's migrations, these run only on a connection Docket opened itself
(``config.attributes["connection"]``), inside the transaction that creates or upgrades the
case, with ``search_path`` already set to the case's schema; the version table lives in that
schema too, so each case records its own revision.
"""

from __future__ import annotations

from alembic import context

connection = context.config.attributes.get("connection")
schema = context.config.attributes.get("schema")
if connection is None or schema is None:  # pragma: no cover - only by running alembic by hand
    raise RuntimeError("Case migrations run only through docket.store.postgres")

context.configure(
    connection=connection,
    target_metadata=None,
    version_table_schema=schema,
    transactional_ddl=True,
)
with context.begin_transaction():
    context.run_migrations()
