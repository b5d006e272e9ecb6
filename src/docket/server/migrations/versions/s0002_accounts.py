"""Accounts, second part: a second-factor secret waiting for its first code (so enrolling a
new authenticator never switches the old one off before the new one works), when the last
failed sign-in was (a run of failures is forgotten a day later), and the same lockout
bookkeeping for usernames that have no account, so that a lockout never tells anyone whether
an account exists.

Revision ID: s0002
Revises: s0001
Create Date: 2026-11-25
"""

from __future__ import annotations

from alembic import op

revision = "s0002"
down_revision = "s0001"
branch_labels = None
depends_on = None

STATEMENTS = (
    "ALTER TABLE docket.account ADD COLUMN totp_pending TEXT",
    "ALTER TABLE docket.account ADD COLUMN last_failed_at TIMESTAMPTZ",
    """
CREATE TABLE docket.login_throttle (
    username TEXT PRIMARY KEY,
    failed_logins INTEGER NOT NULL DEFAULT 0,
    locked_until TIMESTAMPTZ,
    last_failed_at TIMESTAMPTZ NOT NULL
)
""",
    "CREATE INDEX ix_login_throttle_last ON docket.login_throttle (last_failed_at)",
)


def upgrade() -> None:
    for sql in STATEMENTS:
        op.execute(sql)


def downgrade() -> None:
    raise NotImplementedError("The server's database is never downgraded; restore a backup.")
