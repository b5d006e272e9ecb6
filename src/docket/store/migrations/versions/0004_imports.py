"""Imported exports: the sources (each original file, stored whole) and the messages, calls
and events read from them, with the files that came with them.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-24
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "source",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("entry_seq", sa.Integer, nullable=False),
        sa.Column("sha256", sa.LargeBinary, sa.ForeignKey("blob.sha256"), nullable=False),
        sa.Column("size", sa.Integer, nullable=False),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("importer", sa.Text, nullable=False),
        sa.Column("importer_version", sa.Text, nullable=False),
        sa.Column("options", sa.Text, nullable=False),
        sa.Column("imported_at", sa.Text, nullable=False),
        sa.Column("summary", sa.Text, nullable=False),
    )
    op.create_index("ix_source_sha256", "source", ["sha256"])
    op.create_table(
        "message",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("source_id", sa.Integer, sa.ForeignKey("source.id"), nullable=False),
        sa.Column("batch_seq", sa.Integer, nullable=False),
        sa.Column("kind", sa.Text, nullable=False),
        sa.Column("channel", sa.Text, nullable=False),
        sa.Column("direction", sa.Text, nullable=False),
        sa.Column("thread", sa.Text, nullable=True),
        sa.Column("sender_raw", sa.Text, nullable=True),
        sa.Column("sender_kind", sa.Text, nullable=True),
        sa.Column("sender_platform", sa.Text, nullable=True),
        sa.Column("sender_value", sa.Text, nullable=True),
        sa.Column("recipients", sa.Text, nullable=False),
        sa.Column("sent_at", sa.Text, nullable=True),
        sa.Column("local_time", sa.Text, nullable=False),
        sa.Column("time_note", sa.Text, nullable=True),
        sa.Column("body", sa.Text, nullable=True),
        sa.Column("deleted", sa.Boolean, nullable=False),
        sa.Column("call_type", sa.Text, nullable=True),
        sa.Column("duration_s", sa.Integer, nullable=True),
        sa.Column("line", sa.Integer, nullable=True),
        sa.Column("offset", sa.Integer, nullable=True),
        sa.Column("raw", sa.Text, nullable=False),
        sa.Column("attachments", sa.Text, nullable=False),
        sa.Column("dedupe", sa.LargeBinary, nullable=False, unique=True),
        sa.Column("leaf", sa.LargeBinary, nullable=False),
    )
    op.create_index("ix_message_source", "message", ["source_id"])
    op.create_index(
        "ix_message_sender", "message", ["sender_kind", "sender_platform", "sender_value"]
    )
    op.create_index("ix_message_sent_at", "message", ["sent_at"])
    op.create_table(
        "message_file",
        sa.Column("message_id", sa.Integer, sa.ForeignKey("message.id"), nullable=False),
        sa.Column("idx", sa.Integer, nullable=False),
        sa.Column("sha256", sa.LargeBinary, sa.ForeignKey("blob.sha256"), nullable=False),
        sa.PrimaryKeyConstraint("message_id", "idx"),
    )
    op.create_index("ix_message_file_sha256", "message_file", ["sha256"])


def downgrade() -> None:
    raise NotImplementedError(
        "Diaries are never downgraded; restore the backup made before upgrading."
    )
