"""Alembic environment for the server's own tables (schema ``docket``).

Run only through :func:`docket.server.db.migrate`, on a connection Docket opened; the version
table lives in the ``docket`` schema.
"""

from __future__ import annotations

from alembic import context

from docket.server.schema import SCHEMA

connection = context.config.attributes.get("connection")
if connection is None:  # pragma: no cover - only by running alembic by hand
    raise RuntimeError("Server migrations run only through docket.server.db.migrate")

context.configure(
    connection=connection,
    target_metadata=None,
    version_table_schema=SCHEMA,
    transactional_ddl=True,
)
with context.begin_transaction():
    context.run_migrations()
