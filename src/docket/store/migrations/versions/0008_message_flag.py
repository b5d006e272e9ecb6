"""The language flags of imported messages and incident entries, kept: ``message_flag`` holds
each place a rule of a lexicon matched in a message not sent by the diary's owner (with the
message's time and sender), ``incident_flag`` each in an incident's current text, and
``flag_scan`` the lexicon version they were made with (and the last message looked at). The
pattern analysis reads them instead of searching every message; verify works them out again.
Nothing is filled here: the next import fills the messages' for the whole diary, the next
entry written the entries', and until then the analysis searches as before (see
``docket.flag_store``).

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-24
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "message_flag",
        sa.Column("language", sa.Text, nullable=False),
        sa.Column("message_id", sa.Integer, sa.ForeignKey("message.id"), nullable=False),
        sa.Column("ordinal", sa.Integer, nullable=False),
        sa.Column("flag", sa.Text, nullable=False),
        sa.Column("words", sa.Text, nullable=False),
        sa.Column("sent_at", sa.Text, nullable=True),
        sa.Column("sender_kind", sa.Text, nullable=True),
        sa.Column("sender_platform", sa.Text, nullable=True),
        sa.Column("sender_value", sa.Text, nullable=True),
        sa.PrimaryKeyConstraint("language", "message_id", "ordinal"),
    )
    op.create_table(
        "incident_flag",
        sa.Column("language", sa.Text, nullable=False),
        sa.Column("incident_id", sa.Integer, sa.ForeignKey("incident.id"), nullable=False),
        sa.Column("ordinal", sa.Integer, nullable=False),
        sa.Column("flag", sa.Text, nullable=False),
        sa.Column("words", sa.Text, nullable=False),
        sa.PrimaryKeyConstraint("language", "incident_id", "ordinal"),
    )
    op.create_table(
        "flag_scan",
        sa.Column("what", sa.Text, nullable=False),
        sa.Column("language", sa.Text, nullable=False),
        sa.Column("version", sa.Text, nullable=False),
        sa.Column("through", sa.Integer, nullable=False),
        sa.PrimaryKeyConstraint("what", "language"),
    )


def downgrade() -> None:
    raise NotImplementedError(
        "Diaries are never downgraded; restore the backup made before upgrading."
    )
