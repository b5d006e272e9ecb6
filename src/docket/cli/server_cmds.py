"""``docket server``: setting the server up (``init``) and its accounts (``user``) from the
command line. Cases and access are ``docket server case`` (:mod:`docket.cli.server_case_cmds`).

The settings come from ``docket.server.config``: ``--config`` (here, or on ``docket server``),
then ``DOCKET_SERVER_CONFIG``, then ``DOCKET_SERVER_*`` variables. Passwords are never taken
from the command line: a masked prompt asks twice, or ``DOCKET_SERVER_PASSWORD`` gives one to
a script.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import click
from rich.table import Table
from sqlalchemy import Engine, text

from docket.cli import render
from docket.cli.server_case_cmds import case
from docket.errors import (
    InputError,
    PassphraseRejected,
    PassphraseUnavailable,
    RecordNotFound,
    ServerConfigError,
)
from docket.server import accounts, audit, cases, db
from docket.server import config as server_config
from docket.server.schema import ROLES
from docket.store import postgres

ENV_PASSWORD = "DOCKET_SERVER_PASSWORD"  # noqa: S105 - the variable's name
CODE_TRIES = 3

_config_option = click.option(
    "--config",
    type=click.Path(path_type=Path, dir_okay=False),
    help="The server's configuration file. Env: DOCKET_SERVER_CONFIG "
    "(default: ~/.config/docket/server.toml).",
)


def _config_given(ctx: click.Context | None) -> Path | None:
    """--config given to this command or to a group above it, nearest first."""
    while ctx is not None:
        given = ctx.params.get("config")
        if given:
            return Path(given)
        ctx = ctx.parent
    return None


@contextlib.contextmanager
def _server(ctx: click.Context) -> Iterator[tuple[server_config.ServerSettings, Engine]]:
    """The server's settings and a database engine for one command (disposed after)."""
    settings = server_config.load(_config_given(ctx), os.environ)
    engine = postgres.make_engine(settings.database_url, pool_size=2)
    try:
        yield settings, engine
    finally:
        engine.dispose()


def _can_prompt() -> bool:
    return sys.stdin.isatty()


def _new_password(username: str) -> str:
    """A new password: from DOCKET_SERVER_PASSWORD, or typed twice at a masked prompt."""
    given = os.environ.get(ENV_PASSWORD)
    if given:
        return accounts.check_password(given, username)
    if not _can_prompt():
        raise PassphraseUnavailable(
            "Docket needs a password for the account, but there is nobody to ask.",
            cause=f"No terminal is attached and {ENV_PASSWORD} is not set.",
            hint=f"Run it in a terminal, or set {ENV_PASSWORD} for scripts.",
        )
    click.echo(
        f"Choose a password for {username}: at least {accounts.MIN_PASSWORD_CHARS} "
        "characters, for example three or four unrelated words.",
        err=True,
    )
    while True:
        value = str(click.prompt("Password", hide_input=True, err=True))
        try:
            value = accounts.check_password(value, username)
        except PassphraseRejected as exc:
            click.echo(f"{exc.message} {exc.hint or ''}".strip(), err=True)
            continue
        again = str(click.prompt("Type it again", hide_input=True, err=True))
        if accounts.normalise_password(again) == value:
            return value
        click.echo("The two did not match. Please try again.", err=True)


def _state(a: accounts.Account) -> str:
    if a.disabled:
        return "disabled"
    if a.locked_until is not None:
        return f"locked until {a.locked_until:%H:%M} UTC"
    return "active"


def _account_json(a: accounts.Account) -> dict[str, Any]:
    return {
        "id": a.id,
        "username": a.username,
        "display_name": a.display_name,
        "role": a.role,
        "disabled": a.disabled,
        "locked_until": a.locked_until.isoformat() if a.locked_until else None,
        "totp_enabled": a.totp_enabled,
        "created_at": a.created_at.isoformat(),
        "password_changed_at": a.password_changed_at.isoformat(),
    }


# --- docket server ---------------------------------------------------------------------------


@click.group("server")
@_config_option
def server(config: Path | None) -> None:
    """Server mode, for advocacy services: the server's database, accounts and cases."""


server.add_command(case)


def _refuse_if_in_use(engine: Engine, path: Path) -> None:
    """A new server key must never be paired with a database that already has accounts or
    cases: those were sealed under another key."""
    with postgres.translate_errors(), engine.connect() as conn:
        exists = conn.execute(text("SELECT to_regclass('docket.account') IS NOT NULL")).scalar()
        if not exists:
            return
        used = conn.execute(
            text(
                "SELECT EXISTS (SELECT 1 FROM docket.account) "
                'OR EXISTS (SELECT 1 FROM docket."case")'
            )
        ).scalar()
    if used:
        raise ServerConfigError(
            "This database already holds a Docket server, with accounts or cases.",
            cause=f"There is no configuration file at {path}, so Docket would make a new "
            "server key, and the cases there were sealed under the old one.",
            hint="Use the server's own configuration file (restore it from your backup), with "
            "--config or DOCKET_SERVER_CONFIG.",
        )


@server.command("init")
@click.option(
    "--database",
    "database_url",
    required=True,
    metavar="URL",
    help="The PostgreSQL database, as postgresql://USER:PASSWORD@HOST:PORT/DATABASE.",
)
@_config_option
@click.pass_context
def init(ctx: click.Context, database_url: str, config: Path | None) -> None:
    """Set up the server's database (safe to run again, for example after an upgrade).

    Writes the configuration file, with a new server key, if there is none yet.
    """
    env = os.environ
    url = server_config.check_url_option(database_url)
    path = server_config.config_path(_config_given(ctx), env)
    overridden = env.get("DOCKET_SERVER_DATABASE_URL")
    if overridden and not server_config.same_database(overridden, url):
        raise ServerConfigError(
            "DOCKET_SERVER_DATABASE_URL names another database than --database.",
            hint="Unset DOCKET_SERVER_DATABASE_URL, or give the same URL to --database.",
        )
    fresh = not path.exists()
    if fresh:
        engine = postgres.make_engine(url, pool_size=1)
        try:
            _refuse_if_in_use(engine, path)
        finally:
            engine.dispose()
        server_config.write_new(path, url)
    settings = server_config.load(path, env)
    if not server_config.same_database(settings.database_url, url):
        raise ServerConfigError(
            f"The configuration file {path} is for another database.",
            cause="--database names a different database from the file's database_url.",
            hint="Give the file's database to --database, or a different --config for a "
            "second server.",
        )
    engine = postgres.make_engine(settings.database_url, pool_size=1)
    try:
        db.migrate(engine, settings.server_key)
        audit.record(
            engine,
            account=None,
            case_id=None,
            action="server.init",
            target="/",
            address=None,
            detail={"version": db.SERVER_HEAD, "new_key": fresh},
        )
        has_admin = any(
            a.role == "admin" and not a.disabled for a in accounts.list_accounts(engine)
        )
    finally:
        engine.dispose()
    o = render.out
    o.print("The server's database is ready.")
    o.print(f"Configuration: {render.text(str(path))}")
    if fresh:
        o.print(
            "[bold]A new server key is in that file. Back it up now, separately from the "
            "database's backups:[/bold] without it no case can be opened, and anyone who has "
            "both the key and a database backup can read every case."
        )
    if not has_admin:
        o.print(
            "Next: add an administrator with "
            "'docket server user add USERNAME --role admin --name \"Your Name\"'."
        )


# --- docket server user ----------------------------------------------------------------------


@server.group("user")
@_config_option
def user(config: Path | None) -> None:
    """The server's accounts: administrators, caseworkers, and the people cases are about."""


@user.command("add")
@click.argument("username")
@click.option("--role", type=click.Choice(ROLES), required=True, help="What the account can do.")
@click.option("--name", "display_name", help="The name shown to colleagues.")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def user_add(
    ctx: click.Context, username: str, role: str, display_name: str | None, as_json: bool
) -> None:
    """Add an account. Its password is asked for twice (or read from DOCKET_SERVER_PASSWORD)."""
    name = accounts.check_username(username)
    shown = accounts.check_display_name(display_name, name)
    with _server(ctx) as (_settings, engine):
        try:
            accounts.find_account(engine, name)
        except RecordNotFound:
            pass
        else:
            raise InputError(
                f"There is already an account called {name!r}.",
                hint="Choose another username, or change its password with "
                f"'docket server user password {name}'.",
            )
        password = _new_password(name)
        made = accounts.add_account(
            engine, username=name, password=password, role=role, display_name=shown
        )
    if as_json:
        render.emit_json(_account_json(made))
        return
    render.out.print(f"The account {render.text(made.username)} ({made.role}) is ready.")
    if made.role != "admin":
        render.out.print(
            f"Give it a case with 'docket server case grant CASE {render.text(made.username)}'."
        )
    render.out.print(
        "To add a second step at sign-in (a code from an app): "
        f"'docket server user totp {render.text(made.username)}'."
    )


@user.command("list")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def user_list(ctx: click.Context, as_json: bool) -> None:
    """Every account, with its role and whether it can sign in."""
    with _server(ctx) as (_settings, engine):
        found = accounts.list_accounts(engine)
    if as_json:
        render.emit_json([_account_json(a) for a in found])
        return
    if not found:
        render.out.print(
            "There are no accounts yet. Add one with 'docket server user add USERNAME "
            "--role admin'."
        )
        return
    table = Table(show_edge=False)
    for col in ("Username", "Name", "Role", "State", "Two-step", "Added"):
        table.add_column(col)
    for a in found:
        table.add_row(
            render.text(a.username),
            render.text(a.display_name),
            a.role,
            _state(a),
            "on" if a.totp_enabled else "",
            a.created_at.strftime("%d %b %Y"),
        )
    render.out.print(table)


@user.command("disable")
@click.argument("username")
@click.pass_context
def user_disable(ctx: click.Context, username: str) -> None:
    """Stop an account signing in; its sessions end at once."""
    with _server(ctx) as (_settings, engine):
        done = accounts.disable_account(engine, accounts.find_account(engine, username).id)
    render.out.print(
        f"{render.text(done.username)} can no longer sign in; any session it had has ended."
    )


@user.command("enable")
@click.argument("username")
@click.pass_context
def user_enable(ctx: click.Context, username: str) -> None:
    """Let a disabled account sign in again."""
    with _server(ctx) as (_settings, engine):
        done = accounts.enable_account(engine, accounts.find_account(engine, username).id)
    render.out.print(f"{render.text(done.username)} can sign in again.")


@user.command("unlock")
@click.argument("username")
@click.pass_context
def user_unlock(ctx: click.Context, username: str) -> None:
    """End a lockout after failed sign-ins."""
    with _server(ctx) as (_settings, engine):
        before = accounts.find_account(engine, username)
        done = accounts.unlock_account(engine, before.id)
    if before.locked_until is None:
        render.out.print(f"{render.text(done.username)} was not locked; it can sign in.")
    else:
        render.out.print(f"{render.text(done.username)} is unlocked and can sign in now.")


@user.command("password")
@click.argument("username")
@click.pass_context
def user_password(ctx: click.Context, username: str) -> None:
    """Give an account a new password (asked for twice, or DOCKET_SERVER_PASSWORD). Its
    sessions end."""
    with _server(ctx) as (_settings, engine):
        who = accounts.find_account(engine, username)
        password = _new_password(who.username)
        done = accounts.set_password(engine, who.id, password)
    render.out.print(
        f"The password of {render.text(done.username)} is changed; any session it had has ended."
    )


@user.command("totp")
@click.argument("username")
@click.option(
    "--remove", is_flag=True, help="Switch the second step off (for example, a lost phone)."
)
@click.pass_context
def user_totp(ctx: click.Context, username: str, remove: bool) -> None:
    """Set up a second step at sign-in: a code from an authenticator app.

    Prints a link to add to the app (most apps can also take the key typed in), then asks for
    the code the app shows, to check it works. Until then the account signs in as before.
    """
    with _server(ctx) as (settings, engine):
        who = accounts.find_account(engine, username)
        if remove:
            accounts.remove_totp(engine, who.id)
            render.out.print(
                f"{render.text(who.username)} now signs in with the password alone. Set up a "
                f"new authenticator with 'docket server user totp {render.text(who.username)}'."
            )
            return
        secret, uri = accounts.start_totp(engine, settings, who.id)
        o = render.out
        o.print(
            f"Add {render.text(who.username)} to the authenticator app with this link (or a "
            "QR code made from it):"
        )
        o.print(render.text(uri), soft_wrap=True)
        grouped = " ".join(secret[i : i + 4] for i in range(0, len(secret), 4))
        o.print(f"Or type this key into the app: {grouped}")
        for attempt in range(1, CODE_TRIES + 1):
            code = str(click.prompt("The code the app shows now", err=True))
            try:
                accounts.confirm_totp(engine, settings, who.id, code)
                break
            except InputError as exc:
                if attempt == CODE_TRIES:
                    raise
                click.echo(f"{exc.message} {exc.hint or ''}".strip(), err=True)
    o.print(
        f"The second step is on: {render.text(who.username)} now signs in with the password "
        "and a code from the app."
    )


LOOPBACK = ("127.0.0.1", "::1", "localhost")


@server.command("serve")
@click.option("--host", help="Address to listen on: a loopback address (default 127.0.0.1).")
@click.option("--port", type=int, help="Port to listen on (default 8470).")
@click.option(
    "--workers-threads",
    "threads",
    type=int,
    default=40,
    show_default=True,
    help="Requests handled at once.",
)
@click.pass_context
def serve(ctx: click.Context, host: str | None, port: int | None, threads: int) -> None:
    """Run the server for caseworkers, on this machine only, behind a TLS reverse proxy.

    It listens on a loopback address; the proxy in front of it (nginx, Caddy) terminates TLS
    and passes requests on. See docs/server.md.
    """
    import dataclasses

    import anyio.to_thread
    import uvicorn

    from docket.server.webapp import create_server_app

    settings = server_config.load(_config_given(ctx), os.environ)
    settings = dataclasses.replace(
        settings, host=host or settings.host, port=port if port is not None else settings.port
    )
    if settings.host not in LOOPBACK:
        raise ServerConfigError(
            f"Docket's server listens on this machine only, not on {settings.host}.",
            cause="People should reach it through a reverse proxy that adds TLS, never directly.",
            hint='Use host = "127.0.0.1" and put nginx or Caddy in front (docs/server.md).',
        )
    settings.work_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    engine = postgres.make_engine(settings.database_url, pool_size=max(5, threads // 2))
    try:
        db.check_current(engine)
        for schema in cases.remove_unfinished(engine):
            render.err.print(
                f"Removed {schema}: a case that was being made when Docket last stopped, "
                "and was never finished (no one could open it)."
            )
        app = create_server_app(settings, engine)

        async def widen() -> None:  # the thread pool that runs the pages' database work
            anyio.to_thread.current_default_thread_limiter().total_tokens = threads

        config = uvicorn.Config(
            app,
            host=settings.host,
            port=settings.port,
            log_level="warning",
            access_log=False,  # addresses can carry search words
            server_header=False,
            date_header=False,
            proxy_headers=False,  # the client address comes from trust_proxy, in one place
        )
        server_ = uvicorn.Server(config)
        render.err.print(
            f"Docket's server is listening on http://{settings.host}:{settings.port}/ "
            f"(this machine only). Press Ctrl+C to stop."
        )
        if settings.public_url:
            render.err.print(f"People reach it at {settings.public_url} through the proxy.")
        import asyncio

        async def main() -> None:
            await widen()
            await server_.serve()

        asyncio.run(main())
    finally:
        engine.dispose()


def register(cli: click.Group) -> None:
    cli.add_command(server)


__all__ = ["register", "server"]
