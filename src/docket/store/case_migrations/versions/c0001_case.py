"""A case's tables on PostgreSQL: the same tables as a diary file at its revision 0006, with
64-bit integers, PostgreSQL's own full-text search in place of FTS5, and SQLite's rowid rule
(an id left out becomes one more than the largest) so both stores number records alike.

The statements are written out, not generated from the application's table objects, so this
revision means the same thing whatever later revisions change.

Revision ID: c0001
Revises:
Create Date: 2026-11-24
"""

from __future__ import annotations

from alembic import op

revision = "c0001"
down_revision = None
branch_labels = None
depends_on = None

TABLES = (
    """
CREATE TABLE blob (
    sha256 BYTEA NOT NULL,
    size BIGINT NOT NULL,
    chunk_count BIGINT NOT NULL,
    purged BOOLEAN NOT NULL,
    PRIMARY KEY (sha256)
)
    """,
    """
CREATE TABLE checkpoint (
    size BIGINT NOT NULL,
    root BYTEA NOT NULL,
    note TEXT NOT NULL,
    created_at TEXT NOT NULL,
    PRIMARY KEY (size)
)
    """,
    """
CREATE TABLE chunk (
    sha256 BYTEA NOT NULL,
    data BYTEA NOT NULL,
    PRIMARY KEY (sha256)
)
    """,
    """
CREATE TABLE entry (
    seq BIGINT NOT NULL,
    type TEXT NOT NULL,
    subject TEXT NOT NULL,
    recorded_at TEXT NOT NULL,
    corrects BIGINT,
    reason TEXT,
    salt BYTEA NOT NULL,
    record TEXT,
    leaf_hash BYTEA NOT NULL,
    redacted_by BIGINT,
    PRIMARY KEY (seq)
)
    """,
    """
CREATE TABLE incident (
    id BIGINT NOT NULL,
    created_seq BIGINT NOT NULL,
    current_seq BIGINT NOT NULL,
    version BIGINT NOT NULL,
    recorded_at TEXT NOT NULL,
    occurred_start TEXT NOT NULL,
    occurred_end TEXT,
    category TEXT NOT NULL,
    channel TEXT,
    redacted BOOLEAN NOT NULL,
    PRIMARY KEY (id)
)
    """,
    """
CREATE TABLE meta (
    key TEXT NOT NULL,
    value TEXT NOT NULL,
    PRIMARY KEY (key)
)
    """,
    """
CREATE TABLE person (
    id BIGINT NOT NULL,
    created_seq BIGINT NOT NULL,
    current_seq BIGINT NOT NULL,
    version BIGINT NOT NULL,
    name TEXT NOT NULL,
    role TEXT NOT NULL,
    relationship TEXT NOT NULL,
    redacted BOOLEAN NOT NULL,
    PRIMARY KEY (id)
)
    """,
    """
CREATE TABLE tree_tile (
    id BIGINT NOT NULL,
    hashes BYTEA NOT NULL,
    PRIMARY KEY (id)
)
    """,
    """
CREATE TABLE attachment (
    id BIGINT NOT NULL,
    created_seq BIGINT NOT NULL,
    current_seq BIGINT NOT NULL,
    incident_id BIGINT,
    sha256 BYTEA NOT NULL,
    size BIGINT NOT NULL,
    media_type TEXT NOT NULL,
    original_name TEXT NOT NULL,
    redacted BOOLEAN NOT NULL,
    PRIMARY KEY (id),
    FOREIGN KEY(incident_id) REFERENCES incident (id),
    FOREIGN KEY(sha256) REFERENCES blob (sha256)
)
    """,
    """
CREATE TABLE blob_chunk (
    blob_sha256 BYTEA NOT NULL,
    idx BIGINT NOT NULL,
    chunk_sha256 BYTEA NOT NULL,
    PRIMARY KEY (blob_sha256, idx),
    FOREIGN KEY(blob_sha256) REFERENCES blob (sha256),
    FOREIGN KEY(chunk_sha256) REFERENCES chunk (sha256)
)
    """,
    """
CREATE TABLE identifier (
    id BIGINT NOT NULL,
    person_id BIGINT NOT NULL,
    kind TEXT NOT NULL,
    platform TEXT NOT NULL,
    value TEXT NOT NULL,
    PRIMARY KEY (id),
    CONSTRAINT uq_identifier UNIQUE (kind, platform, value),
    FOREIGN KEY(person_id) REFERENCES person (id)
)
    """,
    """
CREATE TABLE incident_person (
    incident_id BIGINT NOT NULL,
    person_id BIGINT NOT NULL,
    PRIMARY KEY (incident_id, person_id),
    FOREIGN KEY(incident_id) REFERENCES incident (id),
    FOREIGN KEY(person_id) REFERENCES person (id)
)
    """,
    """
CREATE TABLE source (
    id BIGINT NOT NULL,
    entry_seq BIGINT NOT NULL,
    sha256 BYTEA NOT NULL,
    size BIGINT NOT NULL,
    name TEXT NOT NULL,
    importer TEXT NOT NULL,
    importer_version TEXT NOT NULL,
    options TEXT NOT NULL,
    imported_at TEXT NOT NULL,
    summary TEXT NOT NULL,
    PRIMARY KEY (id),
    FOREIGN KEY(sha256) REFERENCES blob (sha256)
)
    """,
    """
CREATE TABLE timestamp (
    id BIGINT NOT NULL,
    checkpoint_size BIGINT NOT NULL,
    url TEXT NOT NULL,
    requested_at TEXT NOT NULL,
    nonce TEXT NOT NULL,
    request BYTEA NOT NULL,
    status TEXT NOT NULL,
    response BYTEA,
    gen_time TEXT,
    tsa_root TEXT,
    error TEXT,
    completed_at TEXT,
    PRIMARY KEY (id),
    FOREIGN KEY(checkpoint_size) REFERENCES checkpoint (size)
)
    """,
    """
CREATE TABLE message (
    id BIGINT NOT NULL,
    source_id BIGINT NOT NULL,
    batch_seq BIGINT NOT NULL,
    kind TEXT NOT NULL,
    channel TEXT NOT NULL,
    direction TEXT NOT NULL,
    thread TEXT,
    sender_raw TEXT,
    sender_kind TEXT,
    sender_platform TEXT,
    sender_value TEXT,
    recipients TEXT NOT NULL,
    sent_at TEXT,
    local_time TEXT NOT NULL,
    time_note TEXT,
    body TEXT,
    deleted BOOLEAN NOT NULL,
    call_type TEXT,
    duration_s BIGINT,
    line BIGINT,
    "offset" BIGINT,
    raw TEXT NOT NULL,
    attachments TEXT NOT NULL,
    dedupe BYTEA NOT NULL,
    leaf BYTEA NOT NULL,
    PRIMARY KEY (id),
    FOREIGN KEY(source_id) REFERENCES source (id),
    UNIQUE (dedupe)
)
    """,
    """
CREATE TABLE message_file (
    message_id BIGINT NOT NULL,
    idx BIGINT NOT NULL,
    sha256 BYTEA NOT NULL,
    PRIMARY KEY (message_id, idx),
    FOREIGN KEY(message_id) REFERENCES message (id),
    FOREIGN KEY(sha256) REFERENCES blob (sha256)
)
    """,
)

INDEXES = (
    "CREATE INDEX ix_incident_occurred ON incident (occurred_start)",
    "CREATE INDEX ix_blob_chunk_chunk ON blob_chunk (chunk_sha256)",
    "CREATE INDEX ix_attachment_incident ON attachment (incident_id)",
    "CREATE INDEX ix_incident_person_person ON incident_person (person_id)",
    "CREATE INDEX ix_timestamp_status ON timestamp (status)",
    "CREATE INDEX ix_entry_type ON entry (type)",
    "CREATE INDEX ix_entry_subject_type ON entry (subject, type)",
    "CREATE INDEX ix_source_sha256 ON source (sha256)",
    "CREATE INDEX ix_message_source ON message (source_id)",
    "CREATE INDEX ix_message_sent_at ON message (sent_at)",
    "CREATE INDEX ix_message_file_sha256 ON message_file (sha256)",
    "CREATE INDEX ix_message_when ON message ((COALESCE(sent_at, '')), id)",
    "CREATE INDEX ix_message_sender ON message "
    "(sender_kind, sender_platform, sender_value, sent_at, channel, kind, direction)",
)

# Full-text search: words as FTS5's unicode61 tokenizer with remove_diacritics would see them
# (lower case, accents removed), through the 'docket_text' configuration that server init
# creates in the public schema (simple + unaccent).
SEARCH = (
    "CREATE INDEX ix_message_fts ON message "
    "USING gin (to_tsvector('public.docket_text'::regconfig, coalesce(body, '')))",
    "CREATE TABLE incident_fts (rowid BIGINT PRIMARY KEY, text TEXT NOT NULL)",
    "CREATE INDEX ix_incident_fts ON incident_fts "
    "USING gin (to_tsvector('public.docket_text'::regconfig, text))",
)

ROWID_TABLES = (
    "person",
    "incident",
    "attachment",
    "identifier",
    "source",
    "timestamp",
    "message",
)


def upgrade() -> None:
    for sql in TABLES + INDEXES + SEARCH:
        op.execute(sql)
    for table in ROWID_TABLES:
        op.execute(
            f"CREATE TRIGGER {table}_rowid BEFORE INSERT ON {table} "
            "FOR EACH ROW WHEN (NEW.id IS NULL) EXECUTE FUNCTION public.docket_rowid()"
        )


def downgrade() -> None:
    raise NotImplementedError("Cases are never downgraded; restore the database's backup.")
