"""The index the pattern analysis reads: messages by sender, then time, carrying the channel,
kind and direction, so counting one person's calls and messages hour by hour reads only this
index, in order, and never the message rows themselves. It replaces the narrower sender index
of 0004, which is a prefix of it.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-24
"""

from __future__ import annotations

from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.drop_index("ix_message_sender", "message")
    op.create_index(
        "ix_message_sender",
        "message",
        [
            "sender_kind",
            "sender_platform",
            "sender_value",
            "sent_at",
            "channel",
            "kind",
            "direction",
        ],
    )


def downgrade() -> None:
    raise NotImplementedError(
        "Diaries are never downgraded; restore the backup made before upgrading."
    )
