"""What the pattern analysis reads of each incident's current record, as columns of the
incident table: whether only the date is known, whether it happened at a private place, the
people recorded (in their order) and who was targeted. The analysis reads these instead of
parsing every record; verify checks them against the record. Filled here from each record.

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from docket.store.migration_steps import fill_incident_analysis_columns

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    false = sa.text("0")
    op.add_column(
        "incident", sa.Column("date_only", sa.Boolean, nullable=False, server_default=false)
    )
    op.add_column(
        "incident", sa.Column("private_place", sa.Boolean, nullable=False, server_default=false)
    )
    op.add_column("incident", sa.Column("people", sa.Text, nullable=False, server_default="[]"))
    op.add_column("incident", sa.Column("targeted", sa.Text, nullable=False, server_default="[]"))
    fill_incident_analysis_columns(op.get_bind())


def downgrade() -> None:
    raise NotImplementedError(
        "Diaries are never downgraded; restore the backup made before upgrading."
    )
