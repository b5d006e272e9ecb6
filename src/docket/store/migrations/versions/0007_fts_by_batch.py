"""Fill the message search index once per imported batch instead of once per row: drops the
insert trigger of 0005, which ran a trigger program for every message an import stored. The
import pipeline (``docket.importer``) now adds each batch's bodies to ``message_fts`` with one
``INSERT ... SELECT`` over the batch's ids, in the same transaction as the rows, and a copy of
a case into a diary file rebuilds the index. The delete trigger stays: deletions are rare and
one at a time. An index built either way holds the same words, so nothing is rebuilt here.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-24
"""

from __future__ import annotations

from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("DROP TRIGGER message_fts_insert")


def downgrade() -> None:
    raise NotImplementedError(
        "Diaries are never downgraded; restore the backup made before upgrading."
    )
