"""Each sender's contacts kept 30 days at a time: ``contact_span`` (per sender, span of 30
UTC days and part, one part per write, the contacts' times, message ids, kind-and-direction
codes and channels, as the pattern analysis reads them of the sender index),
``contact_odd`` (contacts a row cannot hold) and ``contact_scan`` (the layout's version and
the last message in them). The analysis reads them instead of the sender index; verify
works them out again. Nothing is filled here: the next import fills them for the whole
diary, and until then the analysis reads the sender index as before (see
``docket.contact_store``).

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    def sender() -> list[sa.Column[str]]:
        return [
            sa.Column(name, sa.Text, nullable=False)
            for name in ("sender_kind", "sender_platform", "sender_value")
        ]

    op.create_table(
        "contact_span",
        *sender(),
        sa.Column("span", sa.Integer, nullable=False),
        sa.Column("part", sa.Integer, nullable=False),
        sa.Column("first", sa.Integer, nullable=False),
        sa.Column("n", sa.Integer, nullable=False),
        sa.Column("secs", sa.Text, nullable=False),
        sa.Column("ids", sa.Text, nullable=False),
        sa.Column("codes", sa.Text, nullable=False),
        sa.Column("channels", sa.Text, nullable=False),
        sa.PrimaryKeyConstraint("sender_kind", "sender_platform", "sender_value", "span", "part"),
    )
    op.create_table(
        "contact_odd",
        *sender(),
        sa.Column("message_id", sa.Integer, sa.ForeignKey("message.id"), nullable=False),
        sa.PrimaryKeyConstraint("sender_kind", "sender_platform", "sender_value", "message_id"),
    )
    op.create_table(
        "contact_scan",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("version", sa.Text, nullable=False),
        sa.Column("through", sa.Integer, nullable=False),
    )


def downgrade() -> None:
    raise NotImplementedError(
        "Diaries are never downgraded; restore the backup made before upgrading."
    )
