"""The first diary schema: the entry log, people and identifiers, incidents, evidence chunks.

Revision ID: 0001
Revises:
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "meta",
        sa.Column("key", sa.Text, primary_key=True),
        sa.Column("value", sa.Text, nullable=False),
    )
    op.create_table(
        "entry",
        sa.Column("seq", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("type", sa.Text, nullable=False),
        sa.Column("subject", sa.Text, nullable=False),
        sa.Column("recorded_at", sa.Text, nullable=False),
        sa.Column("corrects", sa.Integer, nullable=True),
        sa.Column("reason", sa.Text, nullable=True),
        sa.Column("salt", sa.LargeBinary, nullable=False),
        sa.Column("record", sa.Text, nullable=True),
        sa.Column("leaf_hash", sa.LargeBinary, nullable=False),
        sa.Column("redacted_by", sa.Integer, nullable=True),
    )
    op.create_index("ix_entry_subject", "entry", ["subject"])
    op.create_table(
        "person",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("created_seq", sa.Integer, nullable=False),
        sa.Column("current_seq", sa.Integer, nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("role", sa.Text, nullable=False),
        sa.Column("relationship", sa.Text, nullable=False),
        sa.Column("redacted", sa.Boolean, nullable=False, server_default=sa.false()),
    )
    op.create_table(
        "identifier",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("person_id", sa.Integer, sa.ForeignKey("person.id"), nullable=False),
        sa.Column("kind", sa.Text, nullable=False),
        sa.Column("platform", sa.Text, nullable=False, server_default=""),
        sa.Column("value", sa.Text, nullable=False),
        sa.UniqueConstraint("kind", "platform", "value", name="uq_identifier"),
    )
    op.create_table(
        "incident",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("created_seq", sa.Integer, nullable=False),
        sa.Column("current_seq", sa.Integer, nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("recorded_at", sa.Text, nullable=False),
        sa.Column("occurred_start", sa.Text, nullable=False),
        sa.Column("occurred_end", sa.Text, nullable=True),
        sa.Column("category", sa.Text, nullable=False),
        sa.Column("channel", sa.Text, nullable=True),
        sa.Column("redacted", sa.Boolean, nullable=False, server_default=sa.false()),
    )
    op.create_index("ix_incident_occurred", "incident", ["occurred_start"])
    op.create_table(
        "blob",
        sa.Column("sha256", sa.LargeBinary, primary_key=True),
        sa.Column("size", sa.Integer, nullable=False),
        sa.Column("chunk_count", sa.Integer, nullable=False),
        sa.Column("purged", sa.Boolean, nullable=False, server_default=sa.false()),
    )
    op.create_table(
        "chunk",
        sa.Column("sha256", sa.LargeBinary, primary_key=True),
        sa.Column("data", sa.LargeBinary, nullable=False),
    )
    op.create_table(
        "blob_chunk",
        sa.Column("blob_sha256", sa.LargeBinary, sa.ForeignKey("blob.sha256"), nullable=False),
        sa.Column("idx", sa.Integer, nullable=False),
        sa.Column("chunk_sha256", sa.LargeBinary, sa.ForeignKey("chunk.sha256"), nullable=False),
        sa.PrimaryKeyConstraint("blob_sha256", "idx"),
    )
    op.create_index("ix_blob_chunk_chunk", "blob_chunk", ["chunk_sha256"])
    op.create_table(
        "attachment",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("created_seq", sa.Integer, nullable=False),
        sa.Column("current_seq", sa.Integer, nullable=False),
        sa.Column("incident_id", sa.Integer, sa.ForeignKey("incident.id"), nullable=True),
        sa.Column("sha256", sa.LargeBinary, sa.ForeignKey("blob.sha256"), nullable=False),
        sa.Column("size", sa.Integer, nullable=False),
        sa.Column("media_type", sa.Text, nullable=False),
        sa.Column("original_name", sa.Text, nullable=False),
        sa.Column("redacted", sa.Boolean, nullable=False, server_default=sa.false()),
    )
    op.create_index("ix_attachment_incident", "attachment", ["incident_id"])


def downgrade() -> None:
    raise NotImplementedError(
        "Diaries are never downgraded; restore the backup made before upgrading."
    )
