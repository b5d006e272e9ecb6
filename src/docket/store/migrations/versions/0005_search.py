"""Full-text search inside the encrypted file: an FTS5 index over imported message bodies
(kept in step by triggers, reading its text from the message table) and one over the
current text of each incident (kept by ``docket.search``); and the index the timeline pages
through.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-24
"""

from __future__ import annotations

from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

TOKENIZE = "unicode61 remove_diacritics 2"


def upgrade() -> None:
    op.execute(
        "CREATE VIRTUAL TABLE message_fts USING fts5(body, content='message', "
        f"content_rowid='id', tokenize='{TOKENIZE}', prefix='2 3')"
    )
    op.execute(
        "CREATE TRIGGER message_fts_insert AFTER INSERT ON message WHEN new.body IS NOT NULL "
        "BEGIN INSERT INTO message_fts(rowid, body) VALUES (new.id, new.body); END"
    )
    op.execute(
        "CREATE TRIGGER message_fts_delete AFTER DELETE ON message WHEN old.body IS NOT NULL "
        "BEGIN INSERT INTO message_fts(message_fts, rowid, body) "
        "VALUES ('delete', old.id, old.body); END"
    )
    op.execute("INSERT INTO message_fts(message_fts) VALUES ('rebuild')")
    # the timeline pages through messages newest first, those without a time last
    op.execute("CREATE INDEX ix_message_when ON message (COALESCE(sent_at, ''), id)")
    op.execute(
        f"CREATE VIRTUAL TABLE incident_fts USING fts5(text, tokenize='{TOKENIZE}', prefix='2 3')"
    )
    from docket import search

    search.rebuild_incidents(op.get_bind())


def downgrade() -> None:
    raise NotImplementedError(
        "Diaries are never downgraded; restore the backup made before upgrading."
    )
