"""Each sender's contacts kept 30 days at a time, as in a diary file's revision 0010:
``contact_span``, ``contact_odd`` and ``contact_scan``. The next import fills them (see
``docket.contact_store``).

Revision ID: c0005
Revises: c0004
Create Date: 2026-11-25
"""

from __future__ import annotations

from alembic import op

revision = "c0005"
down_revision = "c0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        """
CREATE TABLE contact_span (
    sender_kind TEXT NOT NULL,
    sender_platform TEXT NOT NULL,
    sender_value TEXT NOT NULL,
    span BIGINT NOT NULL,
    part BIGINT NOT NULL,
    first BIGINT NOT NULL,
    n BIGINT NOT NULL,
    secs TEXT NOT NULL,
    ids TEXT NOT NULL,
    codes TEXT NOT NULL,
    channels TEXT NOT NULL,
    PRIMARY KEY (sender_kind, sender_platform, sender_value, span, part)
)
        """
    )
    op.execute(
        """
CREATE TABLE contact_odd (
    sender_kind TEXT NOT NULL,
    sender_platform TEXT NOT NULL,
    sender_value TEXT NOT NULL,
    message_id BIGINT NOT NULL,
    PRIMARY KEY (sender_kind, sender_platform, sender_value, message_id),
    FOREIGN KEY(message_id) REFERENCES message (id)
)
        """
    )
    op.execute(
        """
CREATE TABLE contact_scan (
    id BIGINT NOT NULL,
    version TEXT NOT NULL,
    through BIGINT NOT NULL,
    PRIMARY KEY (id)
)
        """
    )


def downgrade() -> None:
    raise NotImplementedError("Cases are never downgraded; restore the database's backup.")
