"""The server's tables: accounts, sessions, login attempts, cases, case access and the audit
log, which refuses every UPDATE, DELETE and TRUNCATE (append-only in the database itself, not
only in the application).

Revision ID: s0001
Revises:
Create Date: 2026-11-24
"""

from __future__ import annotations

from alembic import op

revision = "s0001"
down_revision = None
branch_labels = None
depends_on = None

STATEMENTS = (
    """
CREATE TABLE docket.account (
    id BIGSERIAL PRIMARY KEY,
    username TEXT NOT NULL UNIQUE CHECK (username = lower(username) AND username <> ''),
    display_name TEXT NOT NULL,
    role TEXT NOT NULL CHECK (role IN ('admin', 'caseworker', 'victim')),
    password_hash TEXT NOT NULL,
    totp_secret TEXT,
    totp_enabled BOOLEAN NOT NULL DEFAULT FALSE,
    totp_last_step BIGINT,
    disabled BOOLEAN NOT NULL DEFAULT FALSE,
    failed_logins INTEGER NOT NULL DEFAULT 0,
    locked_until TIMESTAMPTZ,
    created_at TIMESTAMPTZ NOT NULL,
    password_changed_at TIMESTAMPTZ NOT NULL
)
""",
    """
CREATE TABLE docket.login_attempt (
    id BIGSERIAL PRIMARY KEY,
    username TEXT NOT NULL,
    address TEXT NOT NULL,
    at TIMESTAMPTZ NOT NULL,
    ok BOOLEAN NOT NULL
)
""",
    "CREATE INDEX ix_login_attempt_address ON docket.login_attempt (address, at)",
    "CREATE INDEX ix_login_attempt_username ON docket.login_attempt (username, at)",
    """
CREATE TABLE docket.web_session (
    token_hash BYTEA PRIMARY KEY,
    account_id BIGINT NOT NULL REFERENCES docket.account (id),
    created_at TIMESTAMPTZ NOT NULL,
    last_seen TIMESTAMPTZ NOT NULL,
    expires_at TIMESTAMPTZ NOT NULL,
    case_id BIGINT,
    ended_at TIMESTAMPTZ
)
""",
    "CREATE INDEX ix_web_session_account ON docket.web_session (account_id)",
    """
CREATE TABLE docket."case" (
    id BIGSERIAL PRIMARY KEY,
    schema_name TEXT NOT NULL UNIQUE,
    title TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    created_by BIGINT REFERENCES docket.account (id),
    closed BOOLEAN NOT NULL DEFAULT FALSE
)
""",
    """
CREATE TABLE docket.case_access (
    case_id BIGINT NOT NULL REFERENCES docket."case" (id),
    account_id BIGINT NOT NULL REFERENCES docket.account (id),
    granted_by BIGINT REFERENCES docket.account (id),
    granted_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (case_id, account_id)
)
""",
    "CREATE INDEX ix_case_access_account ON docket.case_access (account_id)",
    """
CREATE TABLE docket.audit (
    id BIGSERIAL PRIMARY KEY,
    at TIMESTAMPTZ NOT NULL,
    account_id BIGINT,
    username TEXT,
    case_id BIGINT,
    action TEXT NOT NULL,
    target TEXT NOT NULL,
    address TEXT,
    detail TEXT
)
""",
    "CREATE INDEX ix_audit_case ON docket.audit (case_id, id)",
    "CREATE INDEX ix_audit_account ON docket.audit (account_id, id)",
    """
CREATE FUNCTION docket.audit_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'the audit log is append-only';
END $$
""",
    """
CREATE TRIGGER audit_no_change BEFORE UPDATE OR DELETE ON docket.audit
FOR EACH ROW EXECUTE FUNCTION docket.audit_append_only()
""",
    """
CREATE TRIGGER audit_no_truncate BEFORE TRUNCATE ON docket.audit
FOR EACH STATEMENT EXECUTE FUNCTION docket.audit_append_only()
""",
)


def upgrade() -> None:
    for sql in STATEMENTS:
        op.execute(sql)


def downgrade() -> None:
    raise NotImplementedError("The server's database is never downgraded; restore a backup.")
