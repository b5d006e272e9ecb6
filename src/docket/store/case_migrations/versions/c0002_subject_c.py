"""An index on the log's subjects in byte order (COLLATE "C"): the record lookups by subject
range ("order/" up to "order0") compare in byte order on PostgreSQL, as SQLite always does,
so they need an index in that order too, or every lookup reads the whole log.

Revision ID: c0002
Revises: c0001
Create Date: 2026-11-24
"""

from __future__ import annotations

from alembic import op

revision = "c0002"
down_revision = "c0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute('CREATE INDEX ix_entry_subject_c ON entry ((subject COLLATE "C"), type)')


def downgrade() -> None:
    raise NotImplementedError("Cases are never downgraded; restore the database's backup.")
