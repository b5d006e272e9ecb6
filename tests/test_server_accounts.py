"""Server accounts on a real PostgreSQL (127.0.0.1): configuration and its refusals, Argon2id
passwords, signing in without telling anyone whether an account exists, lockout and the
per-address limit, the TOTP second step, sessions that expire, the append-only audit log of
every sign-in and account change, and the ``docket server`` commands end to end."""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import re
import secrets
import stat
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pyotp
import pytest
import sqlalchemy.exc
from argon2 import PasswordHasher
from sqlalchemy import Engine, func, select, text, update

from docket.errors import (
    AccountLocked,
    DocketError,
    InputError,
    LoginFailed,
    PassphraseRejected,
    RecordNotFound,
    ServerConfigError,
    UnknownChoice,
)
from docket.server import accounts, audit, db
from docket.server import config as server_config
from docket.server.config import ServerSettings
from docket.server.schema import account, login_attempt, login_throttle, web_session
from tests.conftest import SERVER_KEY, run_cli

PASSWORD = "violet harbour pencil"
OTHER_PASSWORD = "quiet granite meadow"


# --- fixtures and helpers -----------------------------------------------------------------------


@pytest.fixture(scope="module")
def server(pg_engine: Engine) -> Engine:
    """The module's database with the server's tables."""
    db.migrate(pg_engine, SERVER_KEY)
    return pg_engine


class Clock:
    """A clock the test moves by hand."""

    def __init__(self, start: datetime | None = None) -> None:
        self.now = start or datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


def make_settings(**changes: Any) -> ServerSettings:
    base = ServerSettings(
        database_url="postgresql://docket@127.0.0.1/unused",
        server_key=SERVER_KEY,
        work_dir=Path("/nonexistent"),
        address_attempts_per_minute=1000,
    )
    return replace(base, **changes)


def new_name() -> str:
    return f"u{secrets.token_hex(5)}"


def new_address() -> str:
    return f"10.{secrets.randbelow(250)}.{secrets.randbelow(250)}.{secrets.randbelow(250)}"


def new_account(engine: Engine, role: str = "caseworker", **kw: Any) -> accounts.Account:
    return accounts.add_account(
        engine, username=new_name(), password=PASSWORD, role=role, display_name="Test", **kw
    )


def failure(call: Callable[[], object]) -> LoginFailed:
    with pytest.raises(LoginFailed) as caught:
        call()
    return caught.value


def shape(exc: DocketError) -> tuple[type, str, str, str | None, str | None]:
    return type(exc), exc.code, exc.message, exc.cause, exc.hint


def actions(engine: Engine, **where: Any) -> list[str]:
    return [e.action for e in reversed(audit.entries(engine, limit=1000, **where))]


def said(output: str) -> str:
    """Terminal output with its line wrapping undone."""
    return " ".join(output.split())


def code_at(secret: str, when: datetime, steps: int = 0) -> str:
    return pyotp.TOTP(secret).at(when + timedelta(seconds=30 * steps))


def not_a_code(secret: str, when: datetime) -> str:
    """Six digits that are none of the codes accepted around this moment."""
    near = {code_at(secret, when, n) for n in (-1, 0, 1)}
    return next(c for c in ("000000", "111111", "222222", "333333") if c not in near)


# --- configuration ----------------------------------------------------------------------------


def b64(key: bytes) -> str:
    return base64.b64encode(key).decode()


def write_config(path: Path, body: str, mode: int = 0o600) -> Path:
    path.write_text(body, "utf-8")
    path.chmod(mode)
    return path


def test_config_precedence_defaults_then_file_then_environment(tmp_path: Path) -> None:
    file_key, env_key = secrets.token_bytes(32), secrets.token_bytes(32)
    cfg = write_config(
        tmp_path / "server.toml",
        'database_url = "postgresql://docket@db.internal:5432/docket"\n'
        f'server_key = "{b64(file_key)}"\n'
        "port = 9000\nlockout_attempts = 7\ntrust_proxy = true\n",
    )
    from_file = server_config.load(cfg, {"HOME": str(tmp_path)})
    assert from_file.server_key == file_key
    assert (from_file.port, from_file.lockout_attempts, from_file.trust_proxy) == (9000, 7, True)
    assert from_file.session_idle_minutes == 30  # a default the file left alone
    assert from_file.host == "127.0.0.1"
    env = {
        "HOME": str(tmp_path),
        "DOCKET_SERVER_PORT": "9100",
        "DOCKET_SERVER_KEY": b64(env_key),
        "DOCKET_SERVER_TRUST_PROXY": "false",
        "DOCKET_SERVER_DATABASE_URL": "postgresql://docket@other/docket2",
    }
    both = server_config.load(cfg, env)
    assert both.server_key == env_key
    assert (both.port, both.lockout_attempts, both.trust_proxy) == (9100, 7, False)
    assert both.database_url == "postgresql://docket@other/docket2"
    # the file named by DOCKET_SERVER_CONFIG, when --config is not given
    assert server_config.load(None, {"DOCKET_SERVER_CONFIG": str(cfg)}).port == 9000
    # --config wins over DOCKET_SERVER_CONFIG
    other = write_config(tmp_path / "other.toml", cfg.read_text().replace("9000", "9200"))
    assert server_config.load(other, {"DOCKET_SERVER_CONFIG": str(cfg)}).port == 9200
    # the environment alone is enough
    alone = server_config.load(
        None,
        {
            "HOME": str(tmp_path / "nohome"),
            "DOCKET_SERVER_DATABASE_URL": "postgresql://d@h/x",
            "DOCKET_SERVER_KEY": b64(env_key),
        },
    )
    assert alone.server_key == env_key
    # neither the key nor the URL appears in a repr (logs, tracebacks)
    assert b64(env_key) not in repr(both) and "other" not in repr(both)


@pytest.mark.parametrize(
    ("body", "setting", "words"),
    [
        ('database_url = "postgresql://d@h/x"\n', "server_key", "not set"),
        ('server_key = "{key}"\n', "database_url", "not set"),
        (
            'database_url = "postgresql://d@h/x"\nserver_key = "not base64!"\n',
            "server_key",
            "base64",
        ),
        (
            'database_url = "postgresql://d@h/x"\nserver_key = "{short}"\n',
            "server_key",
            "16 bytes",
        ),
        ('database_url = "mysql://d@h/x"\nserver_key = "{key}"\n', "database_url", "PostgreSQL"),
        ('database_url = "postgresql://d@h"\nserver_key = "{key}"\n', "database_url", "name a"),
        ('database_url = "not a url"\nserver_key = "{key}"\n', "database_url", "URL"),
        (
            'database_url = "postgresql://d@h/x"\nserver_key = "{key}"\nport = 0\n',
            "port",
            "from 1 to 65535",
        ),
        (
            'database_url = "postgresql://d@h/x"\nserver_key = "{key}"\nlockout = 3\n',
            "lockout",
            "Unknown setting",
        ),
    ],
)
def test_config_refuses_missing_or_malformed_values_naming_file_and_key(
    tmp_path: Path, body: str, setting: str, words: str
) -> None:
    cfg = write_config(
        tmp_path / "server.toml",
        body.format(key=b64(secrets.token_bytes(32)), short=b64(secrets.token_bytes(16))),
    )
    with pytest.raises(ServerConfigError) as caught:
        server_config.load(cfg, {"HOME": str(tmp_path)})
    exc = caught.value
    assert words in exc.message
    assert setting in exc.message
    assert exc.location is not None and exc.location.file == str(cfg)
    assert exc.details["setting"] == setting
    assert exc.hint  # says what to do


def test_config_refuses_a_bad_key_in_the_environment_naming_the_variable(tmp_path: Path) -> None:
    with pytest.raises(ServerConfigError) as caught:
        server_config.load(
            None,
            {
                "HOME": str(tmp_path),
                "DOCKET_SERVER_DATABASE_URL": "postgresql://d@h/x",
                "DOCKET_SERVER_KEY": b64(b"x" * 31),
            },
        )
    assert "DOCKET_SERVER_KEY" in caught.value.message
    assert "openssl rand -base64 32" in (caught.value.hint or "")
    with pytest.raises(ServerConfigError, match="no server configuration file"):
        server_config.load(tmp_path / "missing.toml", {})


def test_config_file_with_secrets_must_not_be_world_readable(tmp_path: Path) -> None:
    key = b64(secrets.token_bytes(32))
    cfg = write_config(
        tmp_path / "server.toml",
        f'database_url = "postgresql://d@h/x"\nserver_key = "{key}"\n',
        mode=0o644,
    )
    with pytest.raises(ServerConfigError, match="every account on this machine") as caught:
        server_config.load(cfg, {})
    assert "chmod 600" in (caught.value.hint or "")
    cfg.chmod(0o640)  # a group of the server's own is fine
    assert server_config.load(cfg, {}).port == 8470
    # a database password makes it secret too
    pw = write_config(
        tmp_path / "pw.toml", 'database_url = "postgresql://d:secret@h/x"\n', mode=0o604
    )
    with pytest.raises(ServerConfigError, match="every account"):
        server_config.load(pw, {"DOCKET_SERVER_KEY": key})
    # without secrets (the key from the environment) anyone may read it, but never write it
    plain = write_config(tmp_path / "plain.toml", 'database_url = "postgresql://d@h/x"\n', 0o644)
    assert server_config.load(plain, {"DOCKET_SERVER_KEY": key}).database_url.endswith("/x")
    plain.chmod(0o646)
    with pytest.raises(ServerConfigError, match="changed by every account"):
        server_config.load(plain, {"DOCKET_SERVER_KEY": key})


def test_write_new_makes_a_private_file_with_a_fresh_key_and_never_overwrites(
    tmp_path: Path,
) -> None:
    path = tmp_path / "etc" / "docket" / "server.toml"
    made = server_config.write_new(path, "postgresql://docket:pw@127.0.0.1:5432/docket")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert len(made.server_key) == 32
    loaded = server_config.load(path, {})
    assert loaded.server_key == made.server_key
    assert loaded.database_url == "postgresql://docket:pw@127.0.0.1:5432/docket"
    other = server_config.write_new(tmp_path / "second.toml", "postgresql://d@h/x")
    assert other.server_key != made.server_key
    before = path.read_bytes()
    with pytest.raises(ServerConfigError, match="never overwrites"):
        server_config.write_new(path, "postgresql://d@h/y")
    assert path.read_bytes() == before
    with pytest.raises(ServerConfigError, match="PostgreSQL"):
        server_config.write_new(tmp_path / "third.toml", "sqlite:///x.db")
    assert not (tmp_path / "third.toml").exists()


def test_allowed_hosts_include_the_public_address_and_the_listening_one() -> None:
    s = make_settings(public_url="https://docket.example.org", port=8470)
    assert s.secure_cookies
    assert {"docket.example.org", "docket.example.org:443", "127.0.0.1:8470"} <= (s.allowed_hosts())
    assert not make_settings().secure_cookies


# --- passwords and accounts ---------------------------------------------------------------------


def test_passwords_are_argon2id_and_the_policy_is_enforced(server: Engine) -> None:
    made = new_account(server)
    with server.connect() as conn:
        stored = conn.execute(
            select(account.c.password_hash).where(account.c.id == made.id)
        ).scalar_one()
    assert stored.startswith("$argon2id$v=19$m=65536,t=3,p=4$")
    assert PASSWORD not in stored
    assert PasswordHasher().verify(stored, PASSWORD)
    name = new_name()
    for bad, words in [
        ("short words", "too short"),
        (f"{name}-is-my-name", "contain the username"),
        (" leading space here", "space"),
        ("aaaaaaaaaaaaaaaa", "repeats"),
    ]:
        with pytest.raises(PassphraseRejected, match=words):
            accounts.add_account(server, username=name, password=bad, role="victim")
    with pytest.raises(UnknownChoice):
        accounts.add_account(server, username=name, password=PASSWORD, role="superuser")
    with pytest.raises(InputError, match="cannot be used as a username"):
        accounts.add_account(server, username="no spaces please", password=PASSWORD, role="admin")
    with pytest.raises(InputError, match="already an account"):
        accounts.add_account(
            server, username=made.username.upper(), password=PASSWORD, role="admin"
        )
    assert accounts.find_account(server, made.username.upper()).id == made.id
    with pytest.raises(RecordNotFound):
        accounts.get_account(server, 10**12)


def test_signing_in_rehashes_a_password_made_with_older_parameters(server: Engine) -> None:
    made = new_account(server)
    weak = PasswordHasher(time_cost=1, memory_cost=8192, parallelism=1).hash(PASSWORD)
    with server.begin() as conn:
        conn.execute(update(account).where(account.c.id == made.id).values(password_hash=weak))
    accounts.authenticate(server, make_settings(), made.username, PASSWORD, None, new_address())
    with server.connect() as conn:
        stored = conn.execute(
            select(account.c.password_hash).where(account.c.id == made.id)
        ).scalar_one()
    assert stored != weak and stored.startswith("$argon2id$v=19$m=65536,t=3,p=4$")
    assert actions(server, account_id=made.id)[-1] == "login.ok"
    assert audit.entries(server, account_id=made.id, limit=1)[0].detail == {"rehashed": True}


def test_unknown_user_wrong_password_and_disabled_account_look_the_same(server: Engine) -> None:
    settings = make_settings()
    made = new_account(server)
    off = new_account(server)
    accounts.disable_account(server, off.id)
    where = new_address()

    def timed(username: str, password: str) -> tuple[LoginFailed, float]:
        started = time.perf_counter()
        exc = failure(
            lambda: accounts.authenticate(server, settings, username, password, None, where)
        )
        return exc, time.perf_counter() - started

    wrong, t_wrong = timed(made.username, OTHER_PASSWORD)
    unknown, t_unknown = timed(new_name(), PASSWORD)
    disabled, t_disabled = timed(off.username, PASSWORD)  # the right password, even
    assert shape(wrong) == shape(unknown) == shape(disabled)
    assert type(wrong) is LoginFailed
    # an unknown username costs a full Argon2id check too (a dummy hash), so it is not quick
    assert t_unknown > 0.5 * t_wrong and t_disabled > 0.5 * t_wrong
    # and the right password on the enabled account works
    assert accounts.authenticate(server, settings, made.username, PASSWORD, None, where).id == (
        made.id
    )


def test_lockout_after_failures_in_a_row_then_lifted_by_time(server: Engine) -> None:
    clock = Clock()
    settings = make_settings(lockout_attempts=3, lockout_minutes=15)
    made = new_account(server)
    where = new_address()

    def login(password: str) -> accounts.Account:
        return accounts.authenticate(
            server, settings, made.username, password, None, where, clock=clock
        )

    assert type(failure(lambda: login(OTHER_PASSWORD))) is LoginFailed
    login(PASSWORD)  # a success starts the count again
    for _ in range(2):
        assert type(failure(lambda: login(OTHER_PASSWORD))) is LoginFailed
    locked = failure(lambda: login(OTHER_PASSWORD))
    assert isinstance(locked, AccountLocked)
    until = clock.now + timedelta(minutes=15)
    assert f"{until:%H:%M} UTC" in (locked.hint or "")
    assert "administrator" in (locked.hint or "")
    assert accounts.get_account(server, made.id, clock=clock).locked_until == until
    # the right password does not get through a lock, and does not extend it
    clock.advance(minutes=14)
    assert isinstance(failure(lambda: login(PASSWORD)), AccountLocked)
    clock.advance(minutes=1, seconds=1)
    assert accounts.get_account(server, made.id, clock=clock).locked_until is None
    assert login(PASSWORD).id == made.id
    # after a lock has passed, the count starts from nothing
    for _ in range(2):
        assert type(failure(lambda: login(OTHER_PASSWORD))) is LoginFailed
    assert isinstance(failure(lambda: login(OTHER_PASSWORD)), AccountLocked)
    events = actions(server, account_id=made.id)
    assert events.count("login.locked") == 2
    assert events.count("login.ok") == 2


def test_an_administrator_can_unlock_at_once(server: Engine) -> None:
    clock = Clock()
    settings = make_settings(lockout_attempts=2)
    made = new_account(server)
    admin = new_account(server, role="admin")
    where = new_address()
    for _ in range(2):
        failure(
            lambda: accounts.authenticate(
                server, settings, made.username, OTHER_PASSWORD, None, where, clock=clock
            )
        )
    assert isinstance(
        failure(
            lambda: accounts.authenticate(
                server, settings, made.username, PASSWORD, None, where, clock=clock
            )
        ),
        AccountLocked,
    )
    accounts.unlock_account(server, made.id, actor=admin, address="192.0.2.7", clock=clock)
    assert accounts.authenticate(
        server, settings, made.username, PASSWORD, None, where, clock=clock
    ).id == (made.id)
    entry = next(
        e for e in audit.entries(server, account_id=admin.id) if e.action == "account.unlock"
    )
    assert entry.target == f"/accounts/{made.id}" and entry.address == "192.0.2.7"
    assert entry.username == admin.username


def test_usernames_without_an_account_lock_out_just_the_same(server: Engine) -> None:
    clock = Clock()
    settings = make_settings(lockout_attempts=2, lockout_minutes=5)
    real = new_account(server)
    ghost = new_name()
    where = new_address()

    def answers(username: str) -> list[tuple[type, str, str | None, str | None]]:
        out = []
        for password in (OTHER_PASSWORD, OTHER_PASSWORD, PASSWORD):
            exc = failure(
                lambda p=password: accounts.authenticate(
                    server, settings, username, p, None, where, clock=clock
                )
            )
            out.append((type(exc), exc.message, exc.hint, exc.cause))
        return out

    assert answers(real.username) == answers(ghost)
    with server.connect() as conn:
        kept = conn.execute(
            select(login_throttle.c.failed_logins).where(login_throttle.c.username == ghost)
        ).scalar_one()
    assert kept == 2


def test_too_many_attempts_from_one_address_are_refused_without_checking(server: Engine) -> None:
    clock = Clock()
    settings = make_settings(address_attempts_per_minute=3, lockout_attempts=10)
    made = new_account(server)
    where = new_address()
    checked = 0.0
    for _ in range(3):
        started = time.perf_counter()
        failure(
            lambda: accounts.authenticate(
                server, settings, made.username, OTHER_PASSWORD, None, where, clock=clock
            )
        )
        checked = time.perf_counter() - started
    started = time.perf_counter()
    limited = failure(
        lambda: accounts.authenticate(
            server, settings, made.username, PASSWORD, None, where, clock=clock
        )
    )
    assert time.perf_counter() - started < checked / 2  # no Argon2id work was done
    assert "too many sign-in attempts from this address" in limited.message
    assert accounts.get_account(server, made.id).failed_logins == 3  # not counted against it
    # another address is not held up
    accounts.authenticate(
        server, settings, made.username, PASSWORD, None, new_address(), clock=clock
    )
    clock.advance(seconds=61)
    accounts.authenticate(server, settings, made.username, PASSWORD, None, where, clock=clock)
    with server.connect() as conn:
        rows = (
            conn.execute(
                select(login_attempt.c.ok)
                .where(login_attempt.c.address == where)
                .order_by(login_attempt.c.id)
            )
            .scalars()
            .all()
        )
    assert rows == [False, False, False, False, True]  # every attempt is recorded
    assert actions(server).count("login.rate_limited") >= 1


def test_the_address_limit_holds_for_requests_at_the_same_moment(server: Engine) -> None:
    """Eight requests from one address arrive together. The test holds back every insert into
    login_attempt until all eight are waiting, so any request that counted the address's
    attempts without waiting for the others would see none, and slip past the limit."""
    settings = make_settings(address_attempts_per_minute=3)
    where = new_address()
    results: list[str] = []

    def attempt() -> None:
        try:
            accounts.authenticate(server, settings, new_name(), PASSWORD, None, where)
        except LoginFailed as exc:
            results.append("limited" if "too many" in exc.message else "checked")

    threads = [threading.Thread(target=attempt) for _ in range(8)]
    with server.connect() as gate:
        with gate.begin():
            gate.execute(text("LOCK TABLE docket.login_attempt IN SHARE ROW EXCLUSIVE MODE"))
            for t in threads:
                t.start()
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                gate.execute(text("SELECT pg_stat_clear_snapshot()"))
                waiting = gate.execute(
                    text(
                        "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                        "AND datname = current_database()"
                    )
                ).scalar_one()
                if waiting >= 8:
                    break
                time.sleep(0.05)
            assert waiting >= 8
        for t in threads:
            t.join()
    assert sorted(results) == ["checked"] * 3 + ["limited"] * 5


# --- the second step (TOTP) --------------------------------------------------------------------


def test_totp_enrol_confirm_require_and_refuse_a_replayed_code(server: Engine) -> None:
    clock = Clock(datetime(2026, 11, 25, 10, 0, 5, tzinfo=UTC))
    settings = make_settings(lockout_attempts=10, totp_issuer="Example Service")
    made = new_account(server)
    where = new_address()

    def login(code: str | None) -> accounts.Account:
        return accounts.authenticate(
            server, settings, made.username, PASSWORD, code, where, clock=clock
        )

    secret, uri = accounts.start_totp(server, settings, made.id, clock=clock)
    assert uri.startswith("otpauth://totp/Example%20Service:" + made.username)
    assert f"secret={secret}" in uri and "issuer=Example%20Service" in uri
    with server.connect() as conn:
        row = conn.execute(select(account).where(account.c.id == made.id)).one()
    assert row.totp_pending.startswith("sealed:v1:") and secret not in row.totp_pending
    assert not row.totp_enabled and row.totp_secret is None
    assert login(None).id == made.id  # not switched on until a code has been given
    with pytest.raises(InputError, match="not the one the authenticator app shows"):
        accounts.confirm_totp(server, settings, made.id, code_at(secret, clock.now, 5), clock=clock)
    assert not accounts.get_account(server, made.id).totp_enabled
    accounts.confirm_totp(server, settings, made.id, code_at(secret, clock.now), clock=clock)
    assert accounts.get_account(server, made.id).totp_enabled
    # now a code is needed, and the one used to confirm cannot be used again
    assert type(failure(lambda: login(None))) is LoginFailed
    assert type(failure(lambda: login(code_at(secret, clock.now)))) is LoginFailed
    assert type(failure(lambda: login(not_a_code(secret, clock.now)))) is LoginFailed
    assert login(code_at(secret, clock.now, 1)).id == made.id  # one step ahead is allowed
    assert type(failure(lambda: login(code_at(secret, clock.now, 1)))) is LoginFailed  # replay
    clock.advance(seconds=90)
    assert type(failure(lambda: login(code_at(secret, clock.now, 2)))) is LoginFailed  # too far
    spaced = " ".join(code_at(secret, clock.now, -1))  # as some apps show it: 1 2 3 4 5 6
    assert login(spaced).id == made.id
    # every failure looks like a wrong password; the reasons are in the audit log only
    wrong = failure(
        lambda: accounts.authenticate(
            server, settings, made.username, OTHER_PASSWORD, None, where, clock=clock
        )
    )
    assert shape(failure(lambda: login(None))) == shape(wrong)
    reasons = [
        (e.detail or {}).get("reason")
        for e in reversed(audit.entries(server, account_id=made.id))
        if e.action == "login.failed"
    ]
    assert reasons[:5] == ["code_missing", "wrong_code", "wrong_code", "wrong_code", "wrong_code"]


def test_a_new_authenticator_does_not_switch_off_the_old_one_until_confirmed(
    server: Engine,
) -> None:
    clock = Clock(datetime(2026, 11, 25, 11, 0, 5, tzinfo=UTC))
    settings = make_settings()
    made = new_account(server)
    old, _ = accounts.start_totp(server, settings, made.id, clock=clock)
    accounts.confirm_totp(server, settings, made.id, code_at(old, clock.now), clock=clock)
    new, _ = accounts.start_totp(server, settings, made.id, clock=clock)
    clock.advance(seconds=30)
    assert (
        accounts.authenticate(
            server,
            settings,
            made.username,
            PASSWORD,
            code_at(old, clock.now),
            new_address(),
            clock=clock,
        ).id
        == made.id
    )
    clock.advance(seconds=30)
    accounts.confirm_totp(server, settings, made.id, code_at(new, clock.now), clock=clock)
    clock.advance(seconds=30)
    with pytest.raises(LoginFailed):
        accounts.authenticate(
            server,
            settings,
            made.username,
            PASSWORD,
            code_at(old, clock.now),
            new_address(),
            clock=clock,
        )
    # the sealed secret is bound to its account: copied to another, it does not open
    other = new_account(server)
    with server.begin() as conn:
        sealed = conn.execute(
            select(account.c.totp_secret).where(account.c.id == made.id)
        ).scalar_one()
        conn.execute(
            update(account)
            .where(account.c.id == other.id)
            .values(totp_secret=sealed, totp_enabled=True)
        )
    with pytest.raises(
        ServerConfigError,
        match=f"^Account {other.id}'s authenticator secret cannot be opened with this server key",
    ):
        accounts.authenticate(
            server,
            settings,
            other.username,
            PASSWORD,
            code_at(new, clock.now),
            new_address(),
            clock=clock,
        )
    accounts.remove_totp(server, made.id)
    assert (
        accounts.authenticate(
            server, settings, made.username, PASSWORD, None, new_address(), clock=clock
        ).id
        == made.id
    )


# --- sessions -----------------------------------------------------------------------------------


def test_sessions_keep_only_a_hash_and_expire_when_idle(server: Engine) -> None:
    settings = make_settings(session_idle_minutes=30, session_max_hours=12)
    made = new_account(server)
    clock = Clock()  # after the password was set
    token = accounts.start_session(server, settings, made.id, clock=clock)
    assert len(base64.urlsafe_b64decode(token + "=")) == 32
    with server.connect() as conn:
        stored = conn.execute(
            select(web_session.c.token_hash).where(web_session.c.account_id == made.id)
        ).scalar_one()
    assert stored == hashlib.sha256(token.encode()).digest()
    found = accounts.session_account(server, settings, token, clock=clock)
    assert found is not None and found[0].id == made.id and found[1].case_id is None
    assert accounts.set_session_case(server, token, 42)
    clock.advance(minutes=29)
    found = accounts.session_account(server, settings, token, clock=clock)
    assert found is not None and found[1].case_id == 42
    assert found[1].last_seen == clock.now  # used now, so the idle time starts again
    clock.advance(minutes=29)
    assert accounts.session_account(server, settings, token, clock=clock) is not None
    clock.advance(minutes=30)
    assert accounts.session_account(server, settings, token, clock=clock) is None
    clock.advance(minutes=-30)  # ended for good, not merely out of date
    assert accounts.session_account(server, settings, token, clock=clock) is None
    assert accounts.session_account(server, settings, "x" * 43, clock=clock) is None
    assert accounts.session_account(server, settings, "", clock=clock) is None


def test_sessions_end_at_their_absolute_limit_however_busy(server: Engine) -> None:
    settings = make_settings(session_idle_minutes=30, session_max_hours=2)
    made = new_account(server)
    clock = Clock()  # after the password was set
    token = accounts.start_session(server, settings, made.id, clock=clock)
    for _ in range(11):
        clock.advance(minutes=10)
        assert accounts.session_account(server, settings, token, clock=clock) is not None
    clock.advance(minutes=10)  # two hours since it began
    assert accounts.session_account(server, settings, token, clock=clock) is None


def test_sessions_end_on_sign_out_password_change_and_disabling(server: Engine) -> None:
    settings = make_settings()
    made = new_account(server)
    admin = new_account(server, role="admin")
    new_account(server, role="admin")  # so that one may be disabled
    first = accounts.start_session(server, settings, made.id)
    second = accounts.start_session(server, settings, made.id)
    assert accounts.end_session(server, first)
    assert accounts.session_account(server, settings, first) is None
    assert accounts.session_account(server, settings, second) is not None
    changed = accounts.set_password(server, made.id, OTHER_PASSWORD, actor=admin)
    assert changed.password_changed_at > made.password_changed_at
    assert accounts.session_account(server, settings, second) is None
    with pytest.raises(LoginFailed):
        accounts.authenticate(server, settings, made.username, PASSWORD, None, new_address())
    accounts.authenticate(server, settings, made.username, OTHER_PASSWORD, None, new_address())
    third = accounts.start_session(server, settings, made.id)
    fourth = accounts.start_session(server, settings, admin.id)
    accounts.disable_account(server, made.id, actor=admin)
    assert accounts.session_account(server, settings, third) is None
    assert accounts.session_account(server, settings, fourth) is not None
    assert accounts.end_all_sessions(server, admin.id) == 1
    assert accounts.session_account(server, settings, fourth) is None
    assert actions(server, account_id=admin.id)[-2:] == ["account.password", "account.disable"]


def test_the_last_enabled_administrator_cannot_be_disabled(pg_url: str) -> None:
    from docket.store.postgres import make_engine

    engine = make_engine(pg_url, pool_size=2)
    try:
        db.migrate(engine, SERVER_KEY)
        only = new_account(engine, role="admin")
        with pytest.raises(InputError, match="only administrator"):
            accounts.disable_account(engine, only.id)
        second = new_account(engine, role="admin")
        accounts.disable_account(engine, only.id)
        with pytest.raises(InputError, match="only administrator"):
            accounts.disable_account(engine, second.id)
        accounts.enable_account(engine, only.id)
        assert not accounts.get_account(engine, only.id).disabled
    finally:
        engine.dispose()


# --- the audit log -------------------------------------------------------------------------------


def test_every_sign_in_event_and_account_change_is_audited(server: Engine) -> None:
    clock = Clock()
    settings = make_settings(lockout_attempts=2, address_attempts_per_minute=6)
    admin = new_account(server, role="admin")
    made = new_account(server, actor=admin, address="192.0.2.1")
    where = new_address()

    def login(username: str, password: str) -> None:
        with contextlib.suppress(LoginFailed):
            accounts.authenticate(server, settings, username, password, None, where, clock=clock)

    login(made.username, PASSWORD)
    login(made.username, OTHER_PASSWORD)
    login(made.username, OTHER_PASSWORD)  # locks it
    login(made.username, PASSWORD)  # refused: locked
    login(new_name(), PASSWORD)
    login(made.username, PASSWORD)  # the sixth from this address
    login(made.username, PASSWORD)  # over the limit
    entries = list(reversed(audit.entries(server, limit=1000)))
    mine = [e for e in entries if e.address == where]
    assert [e.action for e in mine] == [
        "login.ok",
        "login.failed",
        "login.failed",
        "login.locked",
        "login.failed",
        "login.failed",
        "login.failed",
        "login.rate_limited",
    ]
    assert [(e.detail or {}).get("reason") for e in mine if e.action == "login.failed"] == [
        "wrong_password",
        "wrong_password",
        "locked",
        "unknown_account",
        "locked",
    ]
    assert all(e.target == "/login" and e.case_id is None for e in mine)
    assert mine[0].account_id == made.id and mine[0].username == made.username
    assert (
        next(e for e in mine if (e.detail or {}).get("reason") == "unknown_account").account_id
        is None
    )
    added = next(
        e for e in entries if e.action == "account.add" and e.target == f"/accounts/{made.id}"
    )
    assert added.account_id == admin.id and added.address == "192.0.2.1"
    assert added.detail == {"role": "caseworker", "username": made.username}
    with server.connect() as conn:
        assert (
            conn.execute(
                select(func.count())
                .select_from(login_attempt)
                .where(login_attempt.c.address == where)
            ).scalar_one()
            == 7
        )


def test_audit_entries_cannot_be_changed_or_deleted(server: Engine) -> None:
    audit.record(
        server, account=None, case_id=7, action="case.read", target="/incidents/3", address=None
    )
    newest = audit.entries(server, case_id=7, limit=1)[0]
    assert (newest.action, newest.target) == ("case.read", "/incidents/3")
    for sql in (
        f"UPDATE docket.audit SET action = 'case.nothing' WHERE id = {newest.id}",
        f"DELETE FROM docket.audit WHERE id = {newest.id}",
        "TRUNCATE docket.audit",
    ):
        with pytest.raises(sqlalchemy.exc.DBAPIError, match="append-only"), server.begin() as conn:
            conn.execute(text(sql))
    assert audit.entries(server, case_id=7, limit=1)[0] == newest


def test_audit_targets_never_carry_a_query(server: Engine) -> None:
    with pytest.raises(ValueError, match="without its query"):
        audit.record(
            server, account=None, case_id=1, action="case.read", target="/search?q=x", address=None
        )
    with pytest.raises(ValueError, match="plain values"):
        audit.record(
            server,
            account=None,
            case_id=1,
            action="case.read",
            target="/search",
            address=None,
            detail={"found": {"nested": "record"}},
        )
    # paging back through the log
    for n in range(3):
        audit.record(
            server,
            account=None,
            case_id=99,
            action="case.read",
            target=f"/incidents/{n}",
            address=None,
        )
    newest = audit.entries(server, case_id=99, limit=2)
    older = audit.entries(server, case_id=99, before_id=newest[-1].id)
    assert [e.target for e in newest + older] == ["/incidents/2", "/incidents/1", "/incidents/0"]


# --- the command line ----------------------------------------------------------------------------


def test_cli_init_then_user_add_and_list(
    pg_url: str, cli_env: dict[str, str], tmp_path: Path
) -> None:
    cfg = tmp_path / "srv" / "server.toml"
    env = dict(cli_env)
    init = run_cli(["server", "--config", str(cfg), "init", "--database", pg_url], env, check=True)
    assert "Back it up now" in init.stdout and str(cfg) in init.stdout
    assert stat.S_IMODE(cfg.stat().st_mode) == 0o600
    assert "server_key" in cfg.read_text() and "--role admin" in init.stdout
    again = run_cli(["server", "init", "--database", pg_url, "--config", str(cfg)], env, check=True)
    assert "Back it up now" not in again.stdout  # the same key, kept
    env["DOCKET_SERVER_CONFIG"] = str(cfg)
    env["DOCKET_SERVER_PASSWORD"] = PASSWORD
    run_cli(
        ["server", "user", "add", "Alice", "--role", "admin", "--name", "Alice Smith"],
        env,
        check=True,
    )
    run_cli(["server", "user", "add", "bob", "--role", "caseworker"], env, check=True)
    listed = run_cli(["server", "user", "list", "--json"], env, check=True)
    people = json.loads(listed.stdout)
    assert [(p["username"], p["role"], p["display_name"]) for p in people] == [
        ("alice", "admin", "Alice Smith"),
        ("bob", "caseworker", "bob"),
    ]
    table = run_cli(["server", "user", "list"], env, check=True)
    assert "Alice Smith" in table.stdout and "active" in table.stdout
    # the password works, and came from the environment, never the command line
    from docket.store.postgres import make_engine

    engine = make_engine(pg_url, pool_size=1)
    try:
        settings = server_config.load(cfg, {})
        alice = accounts.authenticate(engine, settings, "alice", PASSWORD, None, "127.0.0.1")
        assert alice.role == "admin"
        assert actions(engine)[:3] == ["server.init", "server.init", "account.add"]
    finally:
        engine.dispose()
    # no password anywhere: refused, not asked on a pipe
    del env["DOCKET_SERVER_PASSWORD"]
    refused = run_cli(["server", "user", "add", "carol", "--role", "victim"], env)
    assert refused.returncode == 2 and "nobody to ask" in said(refused.stderr)
    duplicate = run_cli(
        ["server", "user", "add", "ALICE", "--role", "victim", "--json"],
        {**env, "DOCKET_SERVER_PASSWORD": PASSWORD},
    )
    assert duplicate.returncode == 2
    assert '"code": "invalid_input"' in duplicate.stdout
    # a second init against another database with this file is refused
    other = run_cli(["server", "init", "--database", pg_url + "x"], env)
    assert other.returncode == 2 and "another database" in said(other.stderr)
    # a new configuration file is never paired with a database that already has accounts
    fresh = tmp_path / "fresh.toml"
    clash = run_cli(["server", "--config", str(fresh), "init", "--database", pg_url], cli_env)
    assert clash.returncode == 2 and "already holds a Docket server" in said(clash.stderr)
    assert not fresh.exists()


def test_cli_user_disable_unlock_password_and_totp(
    pg_url: str, cli_env: dict[str, str], tmp_path: Path
) -> None:
    cfg = tmp_path / "server.toml"
    env = {**cli_env, "DOCKET_SERVER_CONFIG": str(cfg), "DOCKET_SERVER_PASSWORD": PASSWORD}
    run_cli(["server", "init", "--database", pg_url], env, check=True)
    run_cli(["server", "user", "add", "admin1", "--role", "admin"], env, check=True)
    run_cli(["server", "user", "add", "cw", "--role", "caseworker"], env, check=True)
    # the second step: the key is printed, then the app's code is asked for
    proc = subprocess.Popen(
        [sys.executable, "-m", "docket", "server", "user", "totp", "cw"],
        env={**env, "PYTHONUNBUFFERED": "1"},
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None and proc.stdin is not None
    printed = ""
    while "Or type this key" not in printed:
        line = proc.stdout.readline()
        assert line, proc.stderr.read() if proc.stderr else ""
        printed += line
    assert "otpauth://totp/Docket:cw?" in printed.replace("\n", "")
    secret = re.search(r"Or type this key into the app: ([A-Z2-7 ]+)", printed)
    assert secret is not None
    key = secret.group(1).replace(" ", "")
    rest, errors = proc.communicate(pyotp.TOTP(key).now() + "\n", timeout=120)
    assert proc.returncode == 0, errors
    assert "The second step is on" in rest
    from docket.store.postgres import make_engine

    engine = make_engine(pg_url, pool_size=1)
    try:
        settings = replace(server_config.load(cfg, {}), lockout_attempts=2)
        assert accounts.find_account(engine, "cw").totp_enabled
        for _ in range(2):
            with pytest.raises(LoginFailed):
                accounts.authenticate(engine, settings, "cw", PASSWORD, None, "127.0.0.1")
        listed = run_cli(["server", "user", "list"], env, check=True)
        assert "locked until" in listed.stdout
        run_cli(["server", "user", "totp", "cw", "--remove"], env, check=True)
        unlocked = run_cli(["server", "user", "unlock", "cw"], env, check=True)
        assert "is unlocked" in unlocked.stdout
        assert accounts.authenticate(engine, settings, "cw", PASSWORD, None, "127.0.0.1").id
        token = accounts.start_session(engine, settings, accounts.find_account(engine, "cw").id)
        changed = run_cli(
            ["server", "user", "password", "cw"],
            {**env, "DOCKET_SERVER_PASSWORD": OTHER_PASSWORD},
            check=True,
        )
        assert "session it had has ended" in changed.stdout
        assert accounts.session_account(engine, settings, token) is None
        assert accounts.authenticate(engine, settings, "cw", OTHER_PASSWORD, None, "127.0.0.2").id
        run_cli(["server", "user", "disable", "cw"], env, check=True)
        with pytest.raises(LoginFailed):
            accounts.authenticate(engine, settings, "cw", OTHER_PASSWORD, None, "127.0.0.3")
        last = run_cli(["server", "user", "disable", "admin1"], env)
        assert last.returncode == 2 and "only administrator" in said(last.stderr)
        missing = run_cli(["server", "user", "disable", "nobody"], env)
        assert missing.returncode == 2 and "no account called 'nobody'" in said(missing.stderr)
    finally:
        engine.dispose()


def test_cli_without_a_configuration_says_how_to_set_one_up(cli_env: dict[str, str]) -> None:
    done = run_cli(["server", "user", "list"], cli_env)
    assert done.returncode == 2
    assert "docket server init --database URL" in said(done.stderr)
    assert "server.config" in said(done.stderr)


def test_sign_in_attempts_are_forgotten_after_a_day(server: Engine) -> None:
    """Who tried to sign in from where is kept for the rate limit, not for ever: the next
    attempt a day later removes it (the audit log keeps the sign-ins themselves)."""
    clock = Clock()
    settings = make_settings()
    made = new_account(server)
    where = new_address()

    def attempts() -> int:
        with server.connect() as conn:
            return int(
                conn.execute(
                    select(func.count())
                    .select_from(login_attempt)
                    .where(login_attempt.c.address == where)
                ).scalar_one()
            )

    for _ in range(3):
        failure(
            lambda: accounts.authenticate(
                server, settings, made.username, OTHER_PASSWORD, None, where, clock=clock
            )
        )
    assert attempts() == 3
    clock.advance(hours=23)
    accounts.authenticate(
        server, settings, made.username, PASSWORD, None, "192.0.2.200", clock=clock
    )
    assert attempts() == 3  # a day has not passed
    clock.advance(hours=1, seconds=1)
    accounts.authenticate(
        server, settings, made.username, PASSWORD, None, "192.0.2.200", clock=clock
    )
    assert attempts() == 0
