"""Alembic environment: runs migrations on the already-open, already-keyed diary connection.

Docket never lets Alembic open a database itself (it would not know the key); the caller
passes its connection in ``config.attributes["connection"]``.
"""

from __future__ import annotations

from alembic import context

from docket.store.schema import metadata

connection = context.config.attributes.get("connection")
if connection is None:  # pragma: no cover - only reachable by running the alembic CLI by hand
    raise RuntimeError("Docket migrations run only through docket.store.migrate")

context.configure(
    connection=connection,
    target_metadata=metadata,
    render_as_batch=True,  # SQLite cannot ALTER most things in place
    transactional_ddl=True,
)
with context.begin_transaction():
    context.run_migrations()
