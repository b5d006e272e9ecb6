"""The tamper-evident log: Merkle tree tiles, signed checkpoints and trusted timestamps.

Builds the tree over every entry already in the diary, gives the diary its log identity (a
random origin and an Ed25519 key, recorded in the log as an entry), and signs a first
checkpoint.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from docket.ledger import log

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "tree_tile",
        # tier * 2**48 + index: a rowid key keeps each ~2 KB tile inline in its page
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("hashes", sa.LargeBinary, nullable=False),
    )
    op.create_table(
        "checkpoint",
        sa.Column("size", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("root", sa.LargeBinary, nullable=False),
        sa.Column("note", sa.Text, nullable=False),
        sa.Column("created_at", sa.Text, nullable=False),
    )
    op.create_table(
        "timestamp",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("checkpoint_size", sa.Integer, sa.ForeignKey("checkpoint.size"), nullable=False),
        sa.Column("url", sa.Text, nullable=False),
        sa.Column("requested_at", sa.Text, nullable=False),
        sa.Column("nonce", sa.Text, nullable=False),
        sa.Column("request", sa.LargeBinary, nullable=False),
        sa.Column("status", sa.Text, nullable=False),
        sa.Column("response", sa.LargeBinary, nullable=True),
        sa.Column("gen_time", sa.Text, nullable=True),
        sa.Column("tsa_root", sa.Text, nullable=True),
        sa.Column("error", sa.Text, nullable=True),
        sa.Column("completed_at", sa.Text, nullable=True),
    )
    op.create_index("ix_timestamp_status", "timestamp", ["status"])
    # counting redactions (summary) and finding log.key entries must not scan the whole log
    op.create_index("ix_entry_type", "entry", ["type"])
    # verify groups each record's entries by subject, leaving out redactions: a covering index
    op.drop_index("ix_entry_subject", "entry")
    op.create_index("ix_entry_subject_type", "entry", ["subject", "type"])
    bind = op.get_bind()
    log.build_tree(bind)
    log.ensure_key(bind)
    log.seal(bind)


def downgrade() -> None:
    raise NotImplementedError(
        "Diaries are never downgraded; restore the backup made before upgrading."
    )
