"""The language flags of imported messages and incident entries, kept, as in a diary file's
revision 0008: ``message_flag`` (each place a rule matched, with the message's time and
sender), ``incident_flag`` (the same in each incident's current text) and ``flag_scan`` (the
lexicon version, and the last message looked at). The next import and the next entry
written fill them (see ``docket.flag_store``).

Revision ID: c0003
Revises: c0002
Create Date: 2026-11-24
"""

from __future__ import annotations

from alembic import op

revision = "c0003"
down_revision = "c0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        """
CREATE TABLE message_flag (
    language TEXT NOT NULL,
    message_id BIGINT NOT NULL,
    ordinal BIGINT NOT NULL,
    flag TEXT NOT NULL,
    words TEXT NOT NULL,
    sent_at TEXT,
    sender_kind TEXT,
    sender_platform TEXT,
    sender_value TEXT,
    PRIMARY KEY (language, message_id, ordinal),
    FOREIGN KEY(message_id) REFERENCES message (id)
)
        """
    )
    op.execute(
        """
CREATE TABLE incident_flag (
    language TEXT NOT NULL,
    incident_id BIGINT NOT NULL,
    ordinal BIGINT NOT NULL,
    flag TEXT NOT NULL,
    words TEXT NOT NULL,
    PRIMARY KEY (language, incident_id, ordinal),
    FOREIGN KEY(incident_id) REFERENCES incident (id)
)
        """
    )
    op.execute(
        """
CREATE TABLE flag_scan (
    what TEXT NOT NULL,
    language TEXT NOT NULL,
    version TEXT NOT NULL,
    through BIGINT NOT NULL,
    PRIMARY KEY (what, language)
)
        """
    )


def downgrade() -> None:
    raise NotImplementedError("Cases are never downgraded; restore the database's backup.")
