"""What the pattern analysis reads of each incident's current record, as columns of the
incident table, as in a diary file's revision 0009: whether only the date is known, whether
it happened at a private place, the people recorded (in their order) and who was targeted.
Filled here from each record.

Revision ID: c0004
Revises: c0003
Create Date: 2026-11-25
"""

from __future__ import annotations

from alembic import op

from docket.store.migration_steps import fill_incident_analysis_columns

revision = "c0004"
down_revision = "c0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        "ALTER TABLE incident "
        "ADD COLUMN date_only BOOLEAN NOT NULL DEFAULT false, "
        "ADD COLUMN private_place BOOLEAN NOT NULL DEFAULT false, "
        "ADD COLUMN people TEXT NOT NULL DEFAULT '[]', "
        "ADD COLUMN targeted TEXT NOT NULL DEFAULT '[]'"
    )
    fill_incident_analysis_columns(op.get_bind())


def downgrade() -> None:
    raise NotImplementedError("Cases are never downgraded; restore a backup made before.")
