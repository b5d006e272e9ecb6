"""The server's settings, resolved in one order: defaults < the TOML configuration file
(``--config``, else ``$DOCKET_SERVER_CONFIG``, else ``$XDG_CONFIG_HOME/docket/server.toml``) <
``DOCKET_SERVER_*`` environment variables. Nothing is read at import time.

The file holds the server key (and often the database password), so it must not be readable
by every account on the machine: like ssh with a private key, Docket refuses to use it then.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import os
import secrets
import stat
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from docket.config import data_home
from docket.errors import Location, ServerConfigError
from docket.jurisdictions import DEFAULT as DEFAULT_JURISDICTION
from docket.jurisdictions import available as available_jurisdictions

KEY_BYTES = 32
ENV_PREFIX = "DOCKET_SERVER_"
ENV_CONFIG = "DOCKET_SERVER_CONFIG"
ENV_KEY = "DOCKET_SERVER_KEY"  # the one variable not named after its setting
SECRET_KEYS = frozenset({"server_key", "database_url"})


def default_path(env: Mapping[str, str]) -> Path:
    """Where the configuration file is when neither ``--config`` nor the environment says."""
    base = env.get("XDG_CONFIG_HOME") or str(Path(env.get("HOME", "~")).expanduser() / ".config")
    return Path(base) / "docket" / "server.toml"


def config_path(given: Path | None, env: Mapping[str, str]) -> Path:
    """The configuration file to use: ``--config``, then ``$DOCKET_SERVER_CONFIG``, then the
    default place (which may not exist)."""
    if given is not None:
        return Path(given).expanduser()
    if env.get(ENV_CONFIG):
        return Path(env[ENV_CONFIG]).expanduser()
    return default_path(env)


@dataclass(frozen=True)
class ServerSettings:
    """Everything the server needs to run. The key and the database address are left out of
    ``repr`` so that neither ends up in a log or a traceback."""

    database_url: str = field(repr=False)
    server_key: bytes = field(repr=False)
    host: str = "127.0.0.1"
    port: int = 8470
    session_idle_minutes: int = 30
    session_max_hours: int = 12
    lockout_attempts: int = 5  # failed sign-ins in a row before the account is locked
    lockout_minutes: int = 15
    address_attempts_per_minute: int = 20
    totp_issuer: str = "Docket"
    trust_proxy: bool = False  # take the client's address from X-Forwarded-For
    exit_url: str = "https://www.bbc.co.uk/weather"
    jurisdiction: str = DEFAULT_JURISDICTION  # for new cases
    public_url: str | None = None  # e.g. https://docket.example.org, behind the TLS proxy
    work_dir: Path = field(default_factory=lambda: data_home(os.environ) / "server")

    @property
    def secure_cookies(self) -> bool:
        """Cookies are marked Secure when people reach the server over HTTPS."""
        return bool(self.public_url and self.public_url.startswith("https://"))

    def allowed_hosts(self) -> set[str]:
        """The Host header values the server answers to: the address it listens on (and
        loopback), and the public address behind the TLS proxy."""
        hosts = {f"127.0.0.1:{self.port}", f"localhost:{self.port}"}
        if self.host not in ("0.0.0.0", "::"):  # noqa: S104 - compared, not bound
            hosts.add(f"{_bracketed(self.host.lower())}:{self.port}")
        if self.public_url:
            parts = urlsplit(self.public_url)
            if parts.hostname:
                name = _bracketed(parts.hostname.lower())
                default = 443 if parts.scheme == "https" else 80
                if parts.port is None or parts.port == default:
                    hosts.add(name)  # browsers leave the usual port out
                hosts.add(f"{name}:{parts.port or default}")
        return hosts


def _bracketed(host: str) -> str:
    return f"[{host}]" if ":" in host else host


_INT_LIMITS: dict[str, tuple[int, int]] = {
    "port": (1, 65535),
    "session_idle_minutes": (1, 24 * 60),
    "session_max_hours": (1, 7 * 24),
    "lockout_attempts": (1, 100),
    "lockout_minutes": (1, 24 * 60),
    "address_attempts_per_minute": (1, 100_000),
}
_BOOLS = frozenset({"trust_proxy"})
_TRUE = frozenset({"1", "true", "yes", "on"})
_FALSE = frozenset({"0", "false", "no", "off"})


def _env_name(key: str) -> str:
    return ENV_KEY if key == "server_key" else ENV_PREFIX + key.upper()


class _Source:
    """Where a value came from, for error messages: the file and its key, the variable, or
    a command-line option (``label``)."""

    def __init__(self, path: Path | None, label: str | None = None) -> None:
        self.path = path
        self.label = label

    def name(self, key: str) -> str:
        if self.label is not None:
            return self.label
        return _env_name(key) if self.path is None else f"{key} in {self.path}"

    def location(self) -> Location | None:
        return Location(file=str(self.path)) if self.path is not None else None

    def error(self, key: str, message: str, *, cause: str | None, hint: str) -> ServerConfigError:
        return ServerConfigError(
            message,
            cause=cause,
            hint=hint,
            location=self.location(),
            details={"setting": key} if self.path is not None else {"variable": _env_name(key)},
        )


def _key_hint(source: _Source) -> str:
    if source.path is None:
        return (
            f"Set {ENV_KEY} to the base64 of 32 random bytes, for example the output of "
            "'openssl rand -base64 32', or unset it to use the configuration file's key."
        )
    return (
        "Restore server_key from your backup of this file. If this is a new server with no "
        "cases yet, 'docket server init' writes a new file with a fresh key."
    )


def _parse_key(value: Any, source: _Source) -> bytes:
    """A server key given as base64 text (standard or URL-safe alphabet)."""
    if not isinstance(value, str) or not value.strip():
        raise source.error(
            "server_key",
            f"The server key ({source.name('server_key')}) is empty or not text.",
            cause="It must be the base64 of 32 random bytes.",
            hint=_key_hint(source),
        )
    text = value.strip()
    try:
        key = base64.b64decode(
            text.replace("-", "+").replace("_", "/") + "=" * (-len(text) % 4), validate=True
        )
    except (binascii.Error, ValueError) as exc:
        raise source.error(
            "server_key",
            f"The server key ({source.name('server_key')}) is not valid base64.",
            cause="It was cut short or changed when it was copied.",
            hint=_key_hint(source),
        ) from exc
    if len(key) != KEY_BYTES:
        raise source.error(
            "server_key",
            f"The server key ({source.name('server_key')}) is {len(key)} bytes long; it must "
            f"be {KEY_BYTES}.",
            cause="It was cut short, or is not a Docket server key.",
            hint=_key_hint(source),
        )
    return key


def encode_key(key: bytes) -> str:
    return base64.b64encode(key).decode("ascii")


def _check_database_url(value: Any, source: _Source) -> str:
    """A PostgreSQL URL that SQLAlchemy can use, naming a database."""
    hint = (
        "Use postgresql://USER:PASSWORD@HOST:PORT/DATABASE (for example "
        "postgresql://docket@127.0.0.1:5432/docket)."
    )
    if not isinstance(value, str) or not value.strip():
        raise source.error(
            "database_url",
            f"The database URL ({source.name('database_url')}) is empty or not text.",
            cause=None,
            hint=hint,
        )
    text = value.strip()
    try:
        url = make_url(text)
    except (ArgumentError, ValueError) as exc:
        raise source.error(
            "database_url",
            f"The database URL ({source.name('database_url')}) cannot be read as a URL.",
            cause="It is not in the form SCHEME://USER:PASSWORD@HOST:PORT/DATABASE.",
            hint=hint,
        ) from exc
    if url.drivername not in ("postgresql", "postgresql+psycopg"):
        raise source.error(
            "database_url",
            f"The database URL ({source.name('database_url')}) is not a PostgreSQL URL.",
            cause=f"It starts with {url.drivername!r}; the server runs on PostgreSQL 15 or newer.",
            hint=hint,
        )
    if not url.database:
        raise source.error(
            "database_url",
            f"The database URL ({source.name('database_url')}) does not name a database.",
            cause="The part after the last '/' is missing.",
            hint=hint,
        )
    return text


def check_url_option(value: str, option: str = "--database") -> str:
    """A database URL given on the command line, checked as the configuration's would be."""
    return _check_database_url(value, _Source(None, option))


def same_database(a: str, b: str) -> bool:
    """Whether two database URLs name the same database (the driver part aside)."""
    try:
        first, second = make_url(a), make_url(b)
    except (ArgumentError, ValueError):
        return a == b
    return first.set(drivername="postgresql") == second.set(drivername="postgresql")


def url_has_password(url: str) -> bool:
    with contextlib.suppress(ValueError):
        parts = urlsplit(url)
        if parts.password:
            return True
        return "password" in parse_qs(parts.query)
    return False


def _convert(key: str, value: Any, source: _Source) -> Any:
    if key == "server_key":
        return _parse_key(value, source)
    if key == "database_url":
        return _check_database_url(value, source)
    if key in _INT_LIMITS:
        low, high = _INT_LIMITS[key]
        number: int | None = None
        if isinstance(value, int) and not isinstance(value, bool):
            number = value
        elif isinstance(value, str) and value.strip().isdigit():
            number = int(value.strip())
        if number is None or not low <= number <= high:
            raise source.error(
                key,
                f"{source.name(key)} must be a whole number from {low} to {high}, not {value!r}.",
                cause=None,
                hint=f"For example {key} = {getattr(_DEFAULTS, key)}.",
            )
        return number
    if key in _BOOLS:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.strip().lower() in _TRUE | _FALSE:
            return value.strip().lower() in _TRUE
        raise source.error(
            key,
            f"{source.name(key)} must be true or false, not {value!r}.",
            cause=None,
            hint=f"For example {key} = false.",
        )
    if not isinstance(value, str):
        raise source.error(
            key,
            f"{source.name(key)} must be text, not {value!r}.",
            cause=None,
            hint=f'Write it in double quotes, for example {key} = "…".',
        )
    if key == "work_dir":
        return Path(value).expanduser()
    if key == "public_url" and not value.strip():
        return None
    return value.strip()


def _web_address(url: str) -> bool:
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number
    except ValueError:
        return False
    return parts.scheme in ("https", "http") and bool(parts.hostname)


def _check(settings: ServerSettings, origin: Mapping[str, _Source]) -> None:
    """Checks across settings, and of the text settings' values, reported against where
    each value came from."""

    def source(key: str) -> _Source:
        return origin.get(key, _Source(None))

    if settings.session_idle_minutes > settings.session_max_hours * 60:
        raise source("session_idle_minutes").error(
            "session_idle_minutes",
            "session_idle_minutes is longer than session_max_hours.",
            cause="A session always ends after session_max_hours, however busy it is.",
            hint="Make session_idle_minutes shorter (30 is usual).",
        )
    if not settings.exit_url.startswith(("https://", "http://")):
        raise source("exit_url").error(
            "exit_url",
            f"exit_url must be a web address starting with https://, not {settings.exit_url!r}.",
            cause=None,
            hint='For example exit_url = "https://www.bbc.co.uk/weather".',
        )
    if settings.public_url is not None and not _web_address(settings.public_url):
        raise source("public_url").error(
            "public_url",
            f"public_url must start with https://, not {settings.public_url!r}.",
            cause=None,
            hint='The address people type, for example public_url = "https://docket.example.org".',
        )
    if not settings.totp_issuer or ":" in settings.totp_issuer:
        raise source("totp_issuer").error(
            "totp_issuer",
            "totp_issuer must be a short name without a colon.",
            cause="Authenticator apps show it next to the account; a colon breaks the link.",
            hint='For example totp_issuer = "Docket (Example Service)".',
        )
    if not settings.host:
        raise source("host").error(
            "host", "host must not be empty.", cause=None, hint='For example host = "127.0.0.1".'
        )
    if settings.jurisdiction not in available_jurisdictions():
        raise source("jurisdiction").error(
            "jurisdiction",
            f"There is no jurisdiction profile called {settings.jurisdiction!r}.",
            cause=None,
            hint="Choose one of: " + ", ".join(available_jurisdictions()) + ".",
        )


# Placeholders for the two settings that have no default; replaced or refused in load().
_DEFAULTS = ServerSettings(database_url="", server_key=b"", work_dir=Path())
_FIELDS = tuple(f.name for f in fields(ServerSettings))


def _check_file_mode(path: Path, values: Mapping[str, Any]) -> None:
    """Refuse a configuration file that other accounts on the machine could change, or read
    when it holds a secret."""
    if os.name != "posix":
        return
    mode = path.stat().st_mode
    holds_secret = "server_key" in values or (
        isinstance(values.get("database_url"), str) and url_has_password(values["database_url"])
    )
    fix = f"Run 'chmod 600 {path}' (or 640, if the server runs under a group of its own)."
    if mode & stat.S_IWOTH:
        raise ServerConfigError(
            f"The server's configuration file {path} can be changed by every account on this "
            "machine, so Docket will not use it.",
            cause="Its permissions let anyone write to it.",
            hint=fix,
            location=Location(file=str(path)),
        )
    if holds_secret and mode & stat.S_IROTH:
        raise ServerConfigError(
            f"The server's configuration file {path} holds the server key or the database "
            "password and can be read by every account on this machine, so Docket will not "
            "use it.",
            cause="Its permissions let anyone read it.",
            hint=fix + " Anyone who has read it could have a copy of the key: if that is "
            "possible, tell your service's security lead.",
            location=Location(file=str(path)),
        )


def read_file(path: Path) -> dict[str, Any]:
    """The configuration file's settings, checked for unknown keys and safe permissions."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError as exc:
        raise ServerConfigError(
            f"There is no server configuration file at {path}.",
            cause="The path given with --config or DOCKET_SERVER_CONFIG is wrong, or the "
            "server has not been set up yet.",
            hint="Check the path, or make the file with 'docket server init --database URL'.",
            location=Location(file=str(path)),
        ) from exc
    except OSError as exc:
        raise ServerConfigError(
            f"The server configuration file {path} could not be read.",
            cause=exc.strerror,
            hint="Check that the account running Docket owns the file.",
            location=Location(file=str(path)),
        ) from exc
    try:
        values = tomllib.loads(raw.decode("utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ServerConfigError(
            f"The server configuration file {path} is not valid TOML.",
            cause=str(exc),
            hint="Fix the line it names; every setting is written as name = value.",
            location=Location(file=str(path)),
        ) from exc
    unknown = sorted(set(values) - set(_FIELDS))
    if unknown:
        raise ServerConfigError(
            f"Unknown setting {unknown[0]!r} in {path}.",
            hint="Known settings: " + ", ".join(_FIELDS) + ".",
            location=Location(file=str(path)),
            details={"setting": unknown[0]},
        )
    _check_file_mode(path, values)
    return values


def load(path: Path | None, env: Mapping[str, str]) -> ServerSettings:
    """The server's settings: defaults, then the configuration file (``path``, else
    ``$DOCKET_SERVER_CONFIG``, else the default place if a file is there), then
    ``DOCKET_SERVER_*`` variables. Refused, with what to do, if the database URL or the
    server key is missing or malformed, or if the file is unsafe."""
    file = config_path(path, env)
    explicit = path is not None or bool(env.get(ENV_CONFIG))
    changes: dict[str, Any] = {"work_dir": data_home(env) / "server"}
    origin: dict[str, _Source] = {}
    if explicit or file.exists():
        source = _Source(file)
        for key, value in read_file(file).items():
            changes[key] = _convert(key, value, source)
            origin[key] = source
    env_source = _Source(None)
    for key in _FIELDS:
        value = env.get(_env_name(key))
        if value:
            changes[key] = _convert(key, value, env_source)
            origin[key] = env_source
    for key, what in (("database_url", "database URL"), ("server_key", "server key")):
        if key not in changes:
            where = f"in {file}" if file.exists() else "(there is no configuration file)"
            raise ServerConfigError(
                f"The server's {what} ({key}) is not set {where}.",
                cause=f"Neither the configuration file's {key} nor {_env_name(key)} is set.",
                hint="Set up the server with 'docket server init --database URL', or point "
                f"--config or {ENV_CONFIG} at its configuration file.",
                location=Location(file=str(file)) if file.exists() else None,
                details={"setting": key},
            )
    settings = replace(_DEFAULTS, **changes)
    _check(settings, origin)
    return settings


def _toml_string(value: str) -> str:
    out = ['"']
    for ch in value:
        if ch in '"\\':
            out.append("\\" + ch)
        elif ord(ch) < 0x20 or ord(ch) == 0x7F:
            out.append(f"\\u{ord(ch):04x}")
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


def write_new(path: Path, database_url: str) -> ServerSettings:
    """Write a new configuration file (mode 0600, never over an existing one) with the
    database URL and a fresh random server key, and return its settings."""
    url = _check_database_url(database_url, _Source(path))
    key = secrets.token_bytes(KEY_BYTES)
    body = (
        "# Docket server configuration. Keep this file private (mode 0600).\n"
        "#\n"
        "# server_key seals every case's signing key and every account's second-factor\n"
        "# secret. Back it up separately from the database's backups: without it no case\n"
        "# can be opened, and anyone holding both the key and a backup can open them all.\n"
        "\n"
        f"database_url = {_toml_string(url)}\n"
        f"server_key = {_toml_string(encode_key(key))}\n"
        "\n"
        "# Defaults, shown for reference:\n"
        f'# host = "{_DEFAULTS.host}"\n'
        f"# port = {_DEFAULTS.port}\n"
        f"# session_idle_minutes = {_DEFAULTS.session_idle_minutes}\n"
        f"# session_max_hours = {_DEFAULTS.session_max_hours}\n"
        f"# lockout_attempts = {_DEFAULTS.lockout_attempts}\n"
        f"# lockout_minutes = {_DEFAULTS.lockout_minutes}\n"
        f"# address_attempts_per_minute = {_DEFAULTS.address_attempts_per_minute}\n"
        f'# totp_issuer = "{_DEFAULTS.totp_issuer}"\n'
        "# trust_proxy = false  # true only behind a TLS proxy that sets X-Forwarded-For\n"
        '# public_url = "https://docket.example.org"\n'
        f'# exit_url = "{_DEFAULTS.exit_url}"\n'
        f'# jurisdiction = "{_DEFAULTS.jurisdiction}"\n'
    )
    path = Path(path).expanduser()
    try:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError as exc:
        raise ServerConfigError(
            f"There is already a server configuration file at {path}; Docket never overwrites one.",
            cause="It holds the server key, without which the server's cases cannot be opened.",
            hint="Use it as it is, or choose another path with --config.",
            location=Location(file=str(path)),
        ) from exc
    except OSError as exc:
        raise ServerConfigError(
            f"The server configuration file {path} could not be written.",
            cause=exc.strerror,
            hint="Choose a folder the account running Docket can write to, with --config.",
            location=Location(file=str(path)),
        ) from exc
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(body)
            handle.flush()
            os.fsync(handle.fileno())
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    return replace(
        _DEFAULTS,
        database_url=url,
        server_key=key,
        work_dir=data_home(os.environ) / "server",
    )


__all__ = [
    "ServerSettings",
    "check_url_option",
    "config_path",
    "default_path",
    "encode_key",
    "load",
    "read_file",
    "same_database",
    "write_new",
]
