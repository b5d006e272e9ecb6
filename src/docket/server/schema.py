"""The server's own tables (schema ``docket``), as SQLAlchemy Core objects mirroring the
newest server migration: accounts, their sessions, login attempts and lockouts, cases and who
may open them, and the append-only audit log. Each case's diary tables live in a schema of
their own (:mod:`docket.store.postgres`), never here.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    DateTime,
    ForeignKey,
    Integer,
    LargeBinary,
    MetaData,
    PrimaryKeyConstraint,
    Table,
    Text,
)

SCHEMA = "docket"
metadata = MetaData(schema=SCHEMA)

ROLES = ("admin", "caseworker", "victim")

account = Table(
    "account",
    metadata,
    Column("id", BigInteger, primary_key=True, autoincrement=True),
    Column("username", Text, nullable=False, unique=True),  # stored in lower case
    Column("display_name", Text, nullable=False),
    Column("role", Text, nullable=False),  # one of ROLES
    Column("password_hash", Text, nullable=False),  # Argon2id, PHC string
    Column("totp_secret", Text, nullable=True),  # sealed under the server key
    Column("totp_pending", Text, nullable=True),  # sealed; enabled by its first code
    Column("totp_enabled", Boolean, nullable=False, default=False),
    Column("totp_last_step", BigInteger, nullable=True),  # a code is accepted once only
    Column("disabled", Boolean, nullable=False, default=False),
    Column("failed_logins", Integer, nullable=False, default=0),
    Column("locked_until", DateTime(timezone=True), nullable=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("password_changed_at", DateTime(timezone=True), nullable=False),
    Column("last_failed_at", DateTime(timezone=True), nullable=True),
)

login_attempt = Table(
    "login_attempt",
    metadata,
    Column("id", BigInteger, primary_key=True, autoincrement=True),
    Column("username", Text, nullable=False),
    Column("address", Text, nullable=False),  # client address as the server saw it
    Column("at", DateTime(timezone=True), nullable=False),
    Column("ok", Boolean, nullable=False),
)

# The lockout bookkeeping of usernames that have no account, kept exactly as for accounts so
# that locking out tells nobody whether an account exists.
login_throttle = Table(
    "login_throttle",
    metadata,
    Column("username", Text, primary_key=True),
    Column("failed_logins", Integer, nullable=False, default=0),
    Column("locked_until", DateTime(timezone=True), nullable=True),
    Column("last_failed_at", DateTime(timezone=True), nullable=False),
)

web_session = Table(
    "web_session",
    metadata,
    Column("token_hash", LargeBinary, primary_key=True),  # SHA-256 of the cookie's token
    Column("account_id", BigInteger, ForeignKey("account.id"), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("last_seen", DateTime(timezone=True), nullable=False),
    Column("expires_at", DateTime(timezone=True), nullable=False),  # absolute limit
    Column("case_id", BigInteger, nullable=True),  # the case open in this session
    Column("ended_at", DateTime(timezone=True), nullable=True),
)

case = Table(
    "case",
    metadata,
    Column("id", BigInteger, primary_key=True, autoincrement=True),
    Column("schema_name", Text, nullable=False, unique=True),
    Column("title", Text, nullable=False),  # a reference, not the victim's name
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("created_by", BigInteger, ForeignKey("account.id"), nullable=True),
    Column("closed", Boolean, nullable=False, default=False),
)

case_access = Table(
    "case_access",
    metadata,
    Column("case_id", BigInteger, ForeignKey("case.id"), nullable=False),
    Column("account_id", BigInteger, ForeignKey("account.id"), nullable=False),
    Column("granted_by", BigInteger, ForeignKey("account.id"), nullable=True),
    Column("granted_at", DateTime(timezone=True), nullable=False),
    PrimaryKeyConstraint("case_id", "account_id"),
)

audit = Table(
    "audit",
    metadata,
    Column("id", BigInteger, primary_key=True, autoincrement=True),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("account_id", BigInteger, nullable=True),  # None: the server itself, or no login
    Column("username", Text, nullable=True),  # as it was then
    Column("case_id", BigInteger, nullable=True),
    Column("action", Text, nullable=False),  # e.g. case.read, case.write, login.failed
    Column("target", Text, nullable=False),  # what was touched, e.g. "/incidents/3"
    Column("address", Text, nullable=True),
    Column("detail", Text, nullable=True),  # JSON; never diary content
)
