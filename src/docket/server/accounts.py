"""Accounts on the server and signing in: making and changing accounts, checking a password
and second-factor code with lockout and per-address rate limiting, and web sessions.

Signing in never tells anyone whether an account exists: an unknown username, a wrong
password, a disabled account and a missing or wrong code all get the same answer after the
same work (an unknown username is checked against a dummy Argon2id hash), and usernames
without an account are locked out exactly as accounts are (``docket.login_throttle``).

Every attempt is recorded in ``docket.login_attempt`` before the password is looked at, so
the per-address limit holds however many requests arrive at once, and removed after a day
(``ATTEMPTS_KEPT_FOR``); sign-ins, failures,
lockouts and every change to an account are written to the audit log in the same
transaction as the change itself.

Passwords are stored as Argon2id hashes (argon2-cffi, RFC 9106's low-memory profile), and
rehashed at the next sign-in when the parameters change. A second-factor (TOTP) secret is
sealed under the server key, bound to its account; a new authenticator takes over only once
it has given one correct code. A session's token is 32 random bytes held by the browser;
the database keeps only its SHA-256.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import re
import secrets
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pyotp
from argon2 import PasswordHasher, profiles
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import Connection, Engine, and_, delete, func, insert, or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert

from docket.errors import (
    AccountLocked,
    InputError,
    LoginFailed,
    PassphraseRejected,
    RecordNotFound,
    UnknownChoice,
)
from docket.server import audit
from docket.server.config import ServerSettings
from docket.server.schema import ROLES, account, login_attempt, login_throttle, web_session
from docket.store.postgres import ServerKey, translate_errors

Clock = Callable[[], datetime]

HASHER = PasswordHasher.from_parameters(profiles.RFC_9106_LOW_MEMORY)
MIN_PASSWORD_CHARS = 12
MAX_PASSWORD_CHARS = 1024
MIN_DISTINCT_CHARS = 5
USERNAME = re.compile(r"^[a-z0-9][a-z0-9._@-]{0,63}$")
DISPLAY_NAME_MAX = 100
ATTEMPT_USERNAME_MAX = 200  # what is recorded of a username that was typed
ADDRESS_MAX = 100
FAILURES_FORGOTTEN_AFTER = timedelta(hours=24)  # a run of failed sign-ins starts again
RATE_WINDOW = timedelta(minutes=1)
ATTEMPTS_KEPT_FOR = timedelta(days=1)  # sign-in attempts (username, address) are removed after
SESSION_TOUCH_EVERY = timedelta(seconds=15)  # last_seen is written at most this often
SESSIONS_KEPT_FOR = timedelta(days=1)  # ended sessions' rows are removed after this
TOKEN_MAX = 128
TOTP_INTERVAL = 30
TOTP_DIGITS = 6
TOTP_WINDOW = 1  # steps either side of now
TOTP_SEAL_NAME = "totp"  # the name the secret is sealed under


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class Account:
    """An account as the rest of the server sees it: never its hash or second-factor secret.
    ``locked_until`` is set only while a lockout is in force; ``failed_logins`` counts the
    failed sign-ins in a row that still count towards one."""

    id: int
    username: str
    display_name: str
    role: str
    disabled: bool
    totp_enabled: bool
    locked_until: datetime | None
    failed_logins: int
    created_at: datetime
    password_changed_at: datetime


@dataclass(frozen=True)
class SessionRow:
    """A web session that is still valid."""

    account_id: int
    created_at: datetime
    last_seen: datetime
    expires_at: datetime
    case_id: int | None


_ACCOUNT_COLUMNS = (
    account.c.id,
    account.c.username,
    account.c.display_name,
    account.c.role,
    account.c.disabled,
    account.c.totp_enabled,
    account.c.locked_until,
    account.c.failed_logins,
    account.c.created_at,
    account.c.password_changed_at,
    account.c.last_failed_at,
)


def _account(row: Any, now: datetime) -> Account:
    state = _Lockout(int(row.failed_logins), row.locked_until, row.last_failed_at).as_of(now)
    return Account(
        id=int(row.id),
        username=row.username,
        display_name=row.display_name,
        role=row.role,
        disabled=bool(row.disabled),
        totp_enabled=bool(row.totp_enabled),
        locked_until=state.locked_until,
        failed_logins=state.failed,
        created_at=row.created_at,
        password_changed_at=row.password_changed_at,
    )


# --- checks on what people choose ---------------------------------------------------------------


def check_username(username: str) -> str:
    """A username in lower case: letters, digits and . _ - @, starting with a letter or
    digit, at most 64 characters."""
    name = username.strip().lower()
    if not USERNAME.match(name):
        raise InputError(
            f"{username.strip()!r} cannot be used as a username.",
            cause="A username is 1 to 64 letters (a to z), digits, dots, dashes, underscores "
            "or @, starting with a letter or a digit.",
            hint="For example 'jsmith' or 'j.smith@example.org'.",
        )
    return name


def check_role(role: str) -> str:
    if role not in ROLES:
        raise UnknownChoice(
            f"{role!r} is not a role.",
            hint="Choose one of: " + ", ".join(ROLES) + ".",
        )
    return role


def check_display_name(display_name: str | None, username: str) -> str:
    name = " ".join((display_name or "").split())
    if not name:
        return username
    if len(name) > DISPLAY_NAME_MAX or not name.isprintable():
        raise InputError(
            f"A name shown to colleagues can be at most {DISPLAY_NAME_MAX} ordinary characters.",
            hint="Use a short name, for example 'Jo Smith'.",
        )
    return name


def normalise_password(password: str) -> str:
    """NFC, so that the same password typed on a phone and on a laptop is the same."""
    return unicodedata.normalize("NFC", password)


def check_password(password: str, username: str) -> str:
    """The minimum for a new password (at least 12 characters, not the username, not one
    character over and over); returns it normalised."""
    value = normalise_password(password)
    if len(value) < MIN_PASSWORD_CHARS:
        raise PassphraseRejected(
            f"That password is too short: it needs at least {MIN_PASSWORD_CHARS} characters.",
            cause="A short password can be guessed quickly by anyone who tries.",
            hint="Use three or four unrelated words, or a password manager.",
        )
    if len(value) > MAX_PASSWORD_CHARS:
        raise PassphraseRejected(
            f"That password is longer than {MAX_PASSWORD_CHARS} characters.",
            hint="Use a shorter one.",
        )
    if value.strip() != value:
        raise PassphraseRejected(
            "That password starts or ends with a space.",
            cause="Spaces at the ends are easy to forget when typing it again.",
            hint="Choose it again without spaces at the start or the end.",
        )
    folded = value.casefold()
    if username and (folded == username.casefold() or (len(username) >= 4 and username in folded)):
        raise PassphraseRejected(
            "A password must not contain the username.",
            cause="The username is the first thing anyone would try.",
            hint="Choose a password that has nothing to do with the username.",
        )
    if len(set(folded)) < MIN_DISTINCT_CHARS:
        raise PassphraseRejected(
            "That password repeats the same few characters.",
            cause="Passwords like that are among the first anyone would try.",
            hint="Use three or four unrelated words, or a password manager.",
        )
    return value


def hash_password(password: str) -> str:
    return HASHER.hash(normalise_password(password))


def _verify(password_hash: str, password: str) -> bool:
    try:
        return HASHER.verify(password_hash, normalise_password(password))
    except (VerificationError, InvalidHashError):
        return False


@functools.cache
def _dummy_hash() -> str:
    """A hash of nothing anybody knows, with the current parameters, checked for usernames
    that have no account so that they take as long as the ones that have."""
    return HASHER.hash(secrets.token_urlsafe(24))


# --- finding accounts ----------------------------------------------------------------------------


def _not_found(what: str) -> RecordNotFound:
    return RecordNotFound(
        f"There is no account {what}.",
        hint="'docket server user list' lists the accounts.",
    )


def get_account(engine: Engine, account_id: int, *, clock: Clock = utc_now) -> Account:
    with translate_errors(), engine.connect() as conn:
        row = conn.execute(select(*_ACCOUNT_COLUMNS).where(account.c.id == account_id)).first()
    if row is None:
        raise _not_found(str(account_id))
    return _account(row, clock())


def find_account(engine: Engine, username: str, *, clock: Clock = utc_now) -> Account:
    """The account with this username (in any case)."""
    name = username.strip().lower()
    with translate_errors(), engine.connect() as conn:
        row = conn.execute(select(*_ACCOUNT_COLUMNS).where(account.c.username == name)).first()
    if row is None:
        raise _not_found(f"called {name!r}")
    return _account(row, clock())


def list_accounts(engine: Engine, *, clock: Clock = utc_now) -> list[Account]:
    """Every account, by username."""
    now = clock()
    with translate_errors(), engine.connect() as conn:
        rows = conn.execute(select(*_ACCOUNT_COLUMNS).order_by(account.c.username)).all()
    return [_account(r, now) for r in rows]


# --- making and changing accounts --------------------------------------------------------------


def add_account(
    engine: Engine,
    *,
    username: str,
    password: str,
    role: str,
    display_name: str | None = None,
    actor: Account | None = None,
    address: str | None = None,
    clock: Clock = utc_now,
) -> Account:
    """A new account. ``actor`` is the administrator making it (None: the command line)."""
    name = check_username(username)
    check_role(role)
    shown = check_display_name(display_name, name)
    hashed = hash_password(check_password(password, name))
    now = clock()
    with translate_errors(), engine.begin() as conn:
        row = conn.execute(
            pg_insert(account)
            .values(
                username=name,
                display_name=shown,
                role=role,
                password_hash=hashed,
                totp_enabled=False,
                disabled=False,
                failed_logins=0,
                created_at=now,
                password_changed_at=now,
            )
            .on_conflict_do_nothing(index_elements=["username"])
            .returning(*_ACCOUNT_COLUMNS)
        ).first()
        if row is None:
            raise InputError(
                f"There is already an account called {name!r}.",
                hint="Choose another username, or change that account's password with "
                "'docket server user password'.",
            )
        conn.execute(delete(login_throttle).where(login_throttle.c.username == name))
        made = _account(row, now)
        audit.record(
            conn,
            account=actor,
            case_id=None,
            action="account.add",
            target=f"/accounts/{made.id}",
            address=address,
            detail={"username": name, "role": role},
            at=now,
        )
    return made


def _end_all(conn: Connection, account_id: int, now: datetime) -> int:
    result = conn.execute(
        update(web_session)
        .where(and_(web_session.c.account_id == account_id, web_session.c.ended_at.is_(None)))
        .values(ended_at=now)
    )
    return int(result.rowcount)


def _change(
    engine: Engine,
    account_id: int,
    values: dict[str, Any],
    *,
    action: str,
    actor: Account | None,
    address: str | None,
    end_sessions: bool,
    now: datetime,
    check: Callable[[Connection, Any], None] | None = None,
) -> Account:
    """Change one account's row, end its sessions if asked, and audit it, all at once."""
    with translate_errors(), engine.begin() as conn:
        before = conn.execute(
            select(account).where(account.c.id == account_id).with_for_update()
        ).first()
        if before is None:
            raise _not_found(str(account_id))
        if check is not None:
            check(conn, before)
        row = conn.execute(
            update(account)
            .where(account.c.id == account_id)
            .values(**values)
            .returning(*_ACCOUNT_COLUMNS)
        ).one()
        ended = _end_all(conn, account_id, now) if end_sessions else 0
        detail: dict[str, Any] = {"username": row.username}
        if ended:
            detail["sessions_ended"] = ended
        audit.record(
            conn,
            account=actor,
            case_id=None,
            action=action,
            target=f"/accounts/{account_id}",
            address=address,
            detail=detail,
            at=now,
        )
    return _account(row, now)


def set_password(
    engine: Engine,
    account_id: int,
    password: str,
    *,
    actor: Account | None = None,
    address: str | None = None,
    clock: Clock = utc_now,
) -> Account:
    """Change an account's password. Every session it has is ended."""
    current = get_account(engine, account_id, clock=clock)
    hashed = hash_password(check_password(password, current.username))
    now = clock()
    return _change(
        engine,
        account_id,
        {"password_hash": hashed, "password_changed_at": now},
        action="account.password",
        actor=actor,
        address=address,
        end_sessions=True,
        now=now,
    )


def _keep_one_admin(conn: Connection, row: Any) -> None:
    if row.role != "admin" or row.disabled:
        return
    others = conn.execute(
        select(account.c.id)
        .where(
            and_(account.c.role == "admin", account.c.disabled.is_(False)),
            account.c.id != row.id,
        )
        .with_for_update()
    ).all()
    if not others:
        raise InputError(
            "This is the only administrator account that is not disabled, so it stays enabled.",
            cause="Without an administrator nobody could add accounts or give access to cases "
            "in the web app.",
            hint="Add another administrator first with 'docket server user add NAME --role admin'.",
        )


def disable_account(
    engine: Engine,
    account_id: int,
    *,
    actor: Account | None = None,
    address: str | None = None,
    clock: Clock = utc_now,
) -> Account:
    """Stop an account signing in; every session it has is ended at once. The last enabled
    administrator cannot be disabled."""
    now = clock()
    return _change(
        engine,
        account_id,
        {"disabled": True},
        action="account.disable",
        actor=actor,
        address=address,
        end_sessions=True,
        now=now,
        check=_keep_one_admin,
    )


def enable_account(
    engine: Engine,
    account_id: int,
    *,
    actor: Account | None = None,
    address: str | None = None,
    clock: Clock = utc_now,
) -> Account:
    """Let a disabled account sign in again (with the password it had)."""
    now = clock()
    return _change(
        engine,
        account_id,
        {"disabled": False},
        action="account.enable",
        actor=actor,
        address=address,
        end_sessions=False,
        now=now,
    )


def unlock_account(
    engine: Engine,
    account_id: int,
    *,
    actor: Account | None = None,
    address: str | None = None,
    clock: Clock = utc_now,
) -> Account:
    """End a lockout after failed sign-ins, and forget those failures."""
    now = clock()
    return _change(
        engine,
        account_id,
        {"failed_logins": 0, "locked_until": None, "last_failed_at": None},
        action="account.unlock",
        actor=actor,
        address=address,
        end_sessions=False,
        now=now,
    )


# --- the second factor (TOTP) ------------------------------------------------------------------


def _sealer(settings: ServerSettings, account_id: int) -> ServerKey:
    return ServerKey(settings.server_key, f"account:{account_id}", holder=f"Account {account_id}")


def _totp(secret: str) -> pyotp.TOTP:
    return pyotp.TOTP(secret, digits=TOTP_DIGITS, interval=TOTP_INTERVAL)


def _matching_step(
    secret: str, code: str | None, now: datetime, last_step: int | None
) -> int | None:
    """The time step whose code this is (now, or one step either side), if it has not been
    used before: a code is accepted once only."""
    typed = "".join((code or "").split())
    if len(typed) != TOTP_DIGITS or not typed.isascii() or not typed.isdigit():
        return None
    totp = _totp(secret)
    current = int(now.timestamp()) // TOTP_INTERVAL
    found: int | None = None
    for step in range(current - TOTP_WINDOW, current + TOTP_WINDOW + 1):
        if last_step is not None and step <= last_step:
            continue
        # every step is compared, so the time taken says nothing about which one matched
        if hmac.compare_digest(totp.generate_otp(step), typed) and found is None:
            found = step
    return found


def start_totp(
    engine: Engine,
    settings: ServerSettings,
    account_id: int,
    *,
    actor: Account | None = None,
    address: str | None = None,
    clock: Clock = utc_now,
) -> tuple[str, str]:
    """A new second-factor secret for the account, and the ``otpauth://`` link (or QR code)
    for an authenticator app. It takes over only when :func:`confirm_totp` is given a
    correct code from it; until then the account signs in as before."""
    secret = pyotp.random_base32(32)
    now = clock()
    found = _change(
        engine,
        account_id,
        {"totp_pending": _sealer(settings, account_id).seal(TOTP_SEAL_NAME, secret.encode())},
        action="account.totp_start",
        actor=actor,
        address=address,
        end_sessions=False,
        now=now,
    )
    uri = _totp(secret).provisioning_uri(name=found.username, issuer_name=settings.totp_issuer)
    return secret, uri


def confirm_totp(
    engine: Engine,
    settings: ServerSettings,
    account_id: int,
    code: str,
    *,
    actor: Account | None = None,
    address: str | None = None,
    clock: Clock = utc_now,
) -> Account:
    """Switch the second factor on with the secret from :func:`start_totp`, once the
    authenticator has given a correct code (which cannot then be used to sign in)."""
    now = clock()
    with translate_errors(), engine.begin() as conn:
        row = conn.execute(
            select(account).where(account.c.id == account_id).with_for_update()
        ).first()
        if row is None:
            raise _not_found(str(account_id))
        if row.totp_pending is None:
            raise InputError(
                "No new authenticator is waiting to be confirmed for this account.",
                hint="Start again with 'docket server user totp USERNAME'.",
            )
        secret = _sealer(settings, account_id).open(TOTP_SEAL_NAME, row.totp_pending).decode()
        step = _matching_step(secret, code, now, None)
        if step is None:
            raise InputError(
                "That code is not the one the authenticator app shows now.",
                cause="It was mistyped, it had already changed, or the phone's clock is wrong.",
                hint="Type the code the app shows now (it changes every 30 seconds).",
            )
        updated = conn.execute(
            update(account)
            .where(account.c.id == account_id)
            .values(
                totp_secret=row.totp_pending,
                totp_pending=None,
                totp_enabled=True,
                totp_last_step=step,
            )
            .returning(*_ACCOUNT_COLUMNS)
        ).one()
        audit.record(
            conn,
            account=actor,
            case_id=None,
            action="account.totp_on",
            target=f"/accounts/{account_id}",
            address=address,
            detail={"username": row.username},
            at=now,
        )
    return _account(updated, now)


def remove_totp(
    engine: Engine,
    account_id: int,
    *,
    actor: Account | None = None,
    address: str | None = None,
    clock: Clock = utc_now,
) -> Account:
    """Switch the second factor off (a lost phone); the account signs in with its password
    alone until a new authenticator is confirmed."""
    now = clock()
    return _change(
        engine,
        account_id,
        {"totp_secret": None, "totp_pending": None, "totp_enabled": False, "totp_last_step": None},
        action="account.totp_off",
        actor=actor,
        address=address,
        end_sessions=False,
        now=now,
    )


# --- signing in -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Lockout:
    """The lockout bookkeeping of one username."""

    failed: int
    locked_until: datetime | None
    last_failed_at: datetime | None

    def as_of(self, now: datetime) -> _Lockout:
        """With a lockout that has ended, or a run of failures long past, forgotten."""
        if self.locked_until is not None:
            if self.locked_until > now:
                return self
            return _Lockout(0, None, None)
        if self.last_failed_at is not None and now - self.last_failed_at > FAILURES_FORGOTTEN_AFTER:
            return _Lockout(0, None, None)
        return self

    def after_failure(self, now: datetime, settings: ServerSettings) -> _Lockout:
        failed = self.failed + 1
        until = None
        if failed >= settings.lockout_attempts:
            until = now + timedelta(minutes=settings.lockout_minutes)
        return _Lockout(failed, until, now)

    def values(self) -> dict[str, Any]:
        return {
            "failed_logins": self.failed,
            "locked_until": self.locked_until,
            "last_failed_at": self.last_failed_at,
        }


def _login_failed(settings: ServerSettings) -> LoginFailed:
    return LoginFailed(
        "The username, password or code was not right.",
        hint="Check them and try again (the code is needed only if your account uses an "
        f"authenticator app). After {settings.lockout_attempts} attempts in a row that are "
        f"not right, the account is locked for {settings.lockout_minutes} minutes.",
    )


def _account_locked(until: datetime) -> AccountLocked:
    return AccountLocked(
        "This account is locked for now, after too many sign-in attempts that were not right.",
        cause="Signing in is paused after several wrong passwords or codes in a row, so that "
        "nobody can keep guessing.",
        hint=f"Try again after {until.astimezone(UTC):%H:%M} UTC, or ask your service's "
        "administrator to unlock the account now.",
        details={"locked_until": until.astimezone(UTC).isoformat()},
    )


def _rate_limited() -> LoginFailed:
    return LoginFailed(
        "There have been too many sign-in attempts from this address in the last minute.",
        cause="Signing in is limited per address, so that nobody can try password after password.",
        hint="Please wait a minute, then try again.",
        details={"retry_after": int(RATE_WINDOW.total_seconds())},
    )


def _clean_address(address: str | None) -> str:
    return (address or "").strip()[:ADDRESS_MAX] or "unknown"


def _lock_key(label: str) -> int:
    digest = hashlib.sha256(f"docket login {label}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


def _count_attempt(
    engine: Engine, settings: ServerSettings, name: str, where: str, now: datetime
) -> tuple[int, bool]:
    """Record the attempt (as failed until it succeeds) and say whether the address is over
    its limit. One address's attempts are counted one at a time, so a burst of parallel
    requests cannot all slip under the limit."""
    with translate_errors(), engine.begin() as conn:
        conn.execute(select(func.pg_advisory_xact_lock(_lock_key(f"address {where}"))))
        recent = int(
            conn.execute(
                select(func.count())
                .select_from(login_attempt)
                .where(
                    and_(login_attempt.c.address == where, login_attempt.c.at > now - RATE_WINDOW)
                )
            ).scalar_one()
        )
        attempt_id = int(
            conn.execute(
                insert(login_attempt)
                .values(username=name, address=where, at=now, ok=False)
                .returning(login_attempt.c.id)
            ).scalar_one()
        )
        # the rate limit needs only the last minute; who tried from where is not kept longer
        # than a day (sign-ins, failures and lockouts stay in the audit log)
        conn.execute(delete(login_attempt).where(login_attempt.c.at < now - ATTEMPTS_KEPT_FOR))
        limited = recent >= settings.address_attempts_per_minute
        if recent == settings.address_attempts_per_minute:  # once per burst, not per request
            audit.record(
                conn,
                account=None,
                case_id=None,
                action="login.rate_limited",
                target="/login",
                address=where,
                detail={"attempts": recent + 1},
                at=now,
            )
    return attempt_id, limited


def authenticate(
    engine: Engine,
    settings: ServerSettings,
    username: str,
    password: str,
    totp_code: str | None,
    address: str | None,
    *,
    clock: Clock = utc_now,
) -> Account:
    """The account, if the username, password and (when the account has one) the
    authenticator's code are right.

    Refuses with :class:`LoginFailed` — the same message for an unknown username, a wrong
    password, a disabled account and a missing or wrong code — or with
    :class:`AccountLocked` after ``lockout_attempts`` failures in a row (for
    ``lockout_minutes``, or until an administrator unlocks it), or, without looking at the
    password, when the address has made ``address_attempts_per_minute`` attempts in the
    last minute.
    """
    dummy = _dummy_hash()  # made once, before any timing matters
    now = clock()
    name = username.strip().lower()[:ATTEMPT_USERNAME_MAX]
    where = _clean_address(address)
    attempt_id, limited = _count_attempt(engine, settings, name, where, now)
    if limited:
        raise _rate_limited()

    error: LoginFailed | None = None
    signed_in: Account | None = None
    with translate_errors(), engine.begin() as conn:
        row = conn.execute(
            select(account).where(account.c.username == name).with_for_update()
        ).first()
        if row is None:
            error = _unknown_username(conn, settings, name, password, where, now, dummy)
        else:
            signed_in, error = _check_account(conn, settings, row, password, totp_code, where, now)
            if signed_in is not None:
                conn.execute(
                    update(login_attempt).where(login_attempt.c.id == attempt_id).values(ok=True)
                )
    if error is not None:
        raise error
    assert signed_in is not None
    return signed_in


def _unknown_username(
    conn: Connection,
    settings: ServerSettings,
    name: str,
    password: str,
    where: str,
    now: datetime,
    dummy: str,
) -> LoginFailed:
    """A username without an account: the same work, bookkeeping and answer as a wrong
    password for an account that has one."""
    conn.execute(
        pg_insert(login_throttle)
        .values(username=name, failed_logins=0, locked_until=None, last_failed_at=now)
        .on_conflict_do_nothing(index_elements=["username"])
    )
    row = conn.execute(
        select(login_throttle).where(login_throttle.c.username == name).with_for_update()
    ).one()
    state = _Lockout(row.failed_logins, row.locked_until, row.last_failed_at).as_of(now)
    _verify(dummy, password)
    detail: dict[str, Any] = {"reason": "unknown_account"}
    if state.locked_until is not None:
        detail["reason"] = "locked"
        error: LoginFailed = _account_locked(state.locked_until)
    else:
        state = state.after_failure(now, settings)
        detail["failures"] = state.failed
        error = (
            _account_locked(state.locked_until)
            if state.locked_until is not None
            else _login_failed(settings)
        )
    conn.execute(
        update(login_throttle).where(login_throttle.c.username == name).values(**state.values())
    )
    # usernames nobody has tried for a day are forgotten, as accounts' failures are
    conn.execute(
        delete(login_throttle).where(
            and_(
                login_throttle.c.last_failed_at < now - FAILURES_FORGOTTEN_AFTER,
                or_(login_throttle.c.locked_until.is_(None), login_throttle.c.locked_until < now),
            )
        )
    )
    audit.record(
        conn,
        account=None,
        case_id=None,
        action="login.failed",
        target="/login",
        address=where,
        detail=detail,
        at=now,
    )
    return error


def _check_account(
    conn: Connection,
    settings: ServerSettings,
    row: Any,
    password: str,
    totp_code: str | None,
    where: str,
    now: datetime,
) -> tuple[Account | None, LoginFailed | None]:
    state = _Lockout(row.failed_logins, row.locked_until, row.last_failed_at).as_of(now)
    password_ok = _verify(row.password_hash, password)  # always, so every answer takes as long
    step: int | None = None
    reason: str | None = None
    if state.locked_until is not None:
        reason = "locked"
    elif row.disabled:
        reason = "disabled"
    elif not password_ok:
        reason = "wrong_password"
    elif row.totp_enabled:
        if not (totp_code or "").strip():
            reason = "code_missing"
        else:
            secret = _sealer(settings, int(row.id)).open(TOTP_SEAL_NAME, row.totp_secret)
            step = _matching_step(secret.decode(), totp_code, now, row.totp_last_step)
            if step is None:
                reason = "wrong_code"
    who = _account(row, now)

    def log(action: str, detail: dict[str, Any] | None) -> None:
        audit.record(
            conn,
            account=who,
            case_id=None,
            action=action,
            target="/login",
            address=where,
            detail=detail,
            at=now,
        )

    if reason is None:
        values: dict[str, Any] = _Lockout(0, None, None).values()
        if step is not None:
            values["totp_last_step"] = step
        if HASHER.check_needs_rehash(row.password_hash):
            values["password_hash"] = hash_password(password)
        updated = conn.execute(
            update(account)
            .where(account.c.id == row.id)
            .values(**values)
            .returning(*_ACCOUNT_COLUMNS)
        ).one()
        log("login.ok", {"rehashed": True} if "password_hash" in values else None)
        return _account(updated, now), None
    if reason == "locked":
        assert state.locked_until is not None
        log("login.failed", {"reason": reason})
        return None, _account_locked(state.locked_until)
    state = state.after_failure(now, settings)
    conn.execute(update(account).where(account.c.id == row.id).values(**state.values()))
    log("login.failed", {"reason": reason, "failures": state.failed})
    if state.locked_until is not None:
        log(
            "login.locked",
            {"until": state.locked_until.astimezone(UTC).isoformat(), "failures": state.failed},
        )
        return None, _account_locked(state.locked_until)
    return None, _login_failed(settings)


# --- sessions ----------------------------------------------------------------------------------


def _token_hash(token: str) -> bytes:
    return hashlib.sha256(token.encode("utf-8")).digest()


def start_session(
    engine: Engine, settings: ServerSettings, account_id: int, *, clock: Clock = utc_now
) -> str:
    """A new session for a signed-in account: the token for the browser's cookie (only its
    SHA-256 is kept)."""
    now = clock()
    token = secrets.token_urlsafe(32)
    with translate_errors(), engine.begin() as conn:
        conn.execute(
            insert(web_session).values(
                token_hash=_token_hash(token),
                account_id=account_id,
                created_at=now,
                last_seen=now,
                expires_at=now + timedelta(hours=settings.session_max_hours),
                case_id=None,
                ended_at=None,
            )
        )
        cutoff = now - SESSIONS_KEPT_FOR
        conn.execute(
            delete(web_session).where(
                or_(web_session.c.expires_at < cutoff, web_session.c.ended_at < cutoff)
            )
        )
    return token


def session_account(
    engine: Engine, settings: ServerSettings, token: str, *, clock: Clock = utc_now
) -> tuple[Account, SessionRow] | None:
    """The account and session for a browser's token, or None when there is no such session
    or it has ended: signed out, idle for ``session_idle_minutes``, older than
    ``session_max_hours``, its account disabled, or the password changed since it began.
    A session found valid is marked as used now."""
    if not token or len(token) > TOKEN_MAX:
        return None
    now = clock()
    digest = _token_hash(token)
    with translate_errors(), engine.begin() as conn:
        row = conn.execute(
            select(
                *_ACCOUNT_COLUMNS,
                web_session.c.created_at.label("session_created_at"),
                web_session.c.last_seen,
                web_session.c.expires_at,
                web_session.c.case_id,
            )
            .join_from(web_session, account, web_session.c.account_id == account.c.id)
            .where(and_(web_session.c.token_hash == digest, web_session.c.ended_at.is_(None)))
        ).first()
        if row is None:
            return None
        over = (
            row.expires_at <= now
            or now - row.last_seen >= timedelta(minutes=settings.session_idle_minutes)
            or row.disabled
            or row.session_created_at < row.password_changed_at
        )
        if over:
            conn.execute(
                update(web_session).where(web_session.c.token_hash == digest).values(ended_at=now)
            )
            return None
        last_seen = row.last_seen
        if now - row.last_seen >= SESSION_TOUCH_EVERY:
            conn.execute(
                update(web_session).where(web_session.c.token_hash == digest).values(last_seen=now)
            )
            last_seen = now
    return _account(row, now), SessionRow(
        account_id=int(row.id),
        created_at=row.session_created_at,
        last_seen=last_seen,
        expires_at=row.expires_at,
        case_id=None if row.case_id is None else int(row.case_id),
    )


def set_session_case(engine: Engine, token: str, case_id: int | None) -> bool:
    """Record which case the session has open (None: none). False if the session has
    ended. Whether the account may open the case is the caller's check."""
    with translate_errors(), engine.begin() as conn:
        result = conn.execute(
            update(web_session)
            .where(
                and_(
                    web_session.c.token_hash == _token_hash(token), web_session.c.ended_at.is_(None)
                )
            )
            .values(case_id=case_id)
        )
    return bool(result.rowcount)


def end_session(engine: Engine, token: str, *, clock: Clock = utc_now) -> bool:
    """Sign out: the session's token no longer works. False if it had already ended."""
    with translate_errors(), engine.begin() as conn:
        result = conn.execute(
            update(web_session)
            .where(
                and_(
                    web_session.c.token_hash == _token_hash(token), web_session.c.ended_at.is_(None)
                )
            )
            .values(ended_at=clock())
        )
    return bool(result.rowcount)


def end_all_sessions(engine: Engine, account_id: int, *, clock: Clock = utc_now) -> int:
    """End every session of an account (done for you when its password changes or it is
    disabled); how many there were."""
    with translate_errors(), engine.begin() as conn:
        return _end_all(conn, account_id, clock())


__all__ = [
    "HASHER",
    "Account",
    "SessionRow",
    "add_account",
    "authenticate",
    "check_display_name",
    "check_password",
    "check_role",
    "check_username",
    "confirm_totp",
    "disable_account",
    "enable_account",
    "end_all_sessions",
    "end_session",
    "find_account",
    "get_account",
    "list_accounts",
    "normalise_password",
    "remove_totp",
    "session_account",
    "set_password",
    "set_session_case",
    "start_session",
    "start_totp",
    "unlock_account",
]
