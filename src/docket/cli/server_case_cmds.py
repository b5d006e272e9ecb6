"""``docket server case``: the server's cases from the command line — make one, list them,
give and take away access, bring a victim's diary file in, and write a case out as a diary
file. The ``server`` group adds :data:`case` as a subcommand.

The server's settings (database and server key) come from ``docket.server.config``: the
``--config`` file given here or to ``docket server``, then the environment. Passphrases are
never taken from the command line.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import click
from rich.table import Table
from sqlalchemy import Engine, func, select

from docket.cli import passphrase, render
from docket.cli.state import State
from docket.errors import InputError
from docket.server import audit, cases, transfer
from docket.server import config as server_config
from docket.server.schema import account
from docket.store import postgres


@contextlib.contextmanager
def _server(ctx: click.Context) -> Iterator[tuple[server_config.ServerSettings, Engine]]:
    """The server's settings and a database engine for one command (disposed after)."""
    path: Path | None = None
    here: click.Context | None = ctx
    while here is not None:  # --config here, or on 'docket server'
        given = here.params.get("config")
        if given:
            path = Path(given)
            break
        here = here.parent
    settings = server_config.load(path, os.environ)
    engine = postgres.make_engine(settings.database_url, pool_size=2)
    try:
        yield settings, engine
    finally:
        engine.dispose()


def _account_id(engine: Engine, username: str) -> int:
    name = username.strip().lower()
    with postgres.translate_errors(), engine.connect() as conn:
        found = conn.execute(
            select(account.c.id).where(account.c.username == func.lower(name))
        ).scalar()
    if found is None:
        raise InputError(
            f"There is no account called {name!r}.",
            hint="'docket server user list' lists the accounts.",
        )
    return int(found)


def _audit(engine: Engine, case_id: int, action: str, detail: dict[str, Any] | None = None) -> None:
    """One audit entry for a change or read made from the command line (by the server's
    operator, so no account)."""
    audit.record(
        engine,
        account=None,
        case_id=case_id,
        action=action,
        target=f"/cases/{case_id}",
        address=None,
        detail=detail,
    )


def _case_json(c: cases.Case, granted: list[cases.GrantedAccount] | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": c.id,
        "title": c.title,
        "created_at": c.created_at.isoformat(),
        "closed": c.closed,
    }
    if granted is not None:
        out["access"] = [{"username": a.username, "role": a.role} for a in granted]
    return out


def _passphrase_file(ctx: click.Context, given: Path | None) -> Path | None:
    if given is not None:
        return given
    state = ctx.find_object(State)
    return state.passphrase_file if state is not None else None


@click.group("case")
@click.option(
    "--config",
    type=click.Path(path_type=Path, dir_okay=False),
    help="The server's configuration file (default: as 'docket server' finds it).",
)
def case(config: Path | None) -> None:
    """The server's cases: make them, give access, bring diaries in and write them out."""


@case.command("add")
@click.option("--title", required=True, help="Your service's reference, not the victim's name.")
@click.option("--jurisdiction", default=None, help="Where the case is (default: the server's).")
@click.option(
    "--timezone", default=None, help="The case's time zone (default: the jurisdiction's)."
)
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def add(
    ctx: click.Context,
    title: str,
    jurisdiction: str | None,
    timezone: str | None,
    as_json: bool,
) -> None:
    """Make a new, empty case."""
    with _server(ctx) as (settings, engine):
        made = cases.create_case(
            engine,
            settings.server_key,
            title=title,
            created_by=None,
            jurisdiction=jurisdiction or settings.jurisdiction,
            timezone=timezone,
        )
        _audit(engine, made.id, "case.add")
    if as_json:
        render.emit_json(_case_json(made))
        return
    render.out.print(f"Case {made.id} is ready: {render.text(made.title)}.")
    render.out.print(
        f"Give a caseworker access with 'docket server case grant {made.id} USERNAME'."
    )


@case.command("list")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def list_(ctx: click.Context, as_json: bool) -> None:
    """Every case on the server, with who can open it (administrators can open them all)."""
    with _server(ctx) as (_settings, engine):
        found = [
            (c, cases.granted_accounts(engine, c.id))
            for c in cases.list_cases(engine, account_id=0, role="admin")
        ]
    if as_json:
        render.emit_json([_case_json(c, granted) for c, granted in found])
        return
    if not found:
        render.out.print(
            "There are no cases yet. Make one with 'docket server case add --title T'."
        )
        return
    table = Table(show_edge=False)
    for col in ("No.", "Title", "Opened", "Closed", "Access"):
        table.add_column(col)
    for c, granted in found:
        table.add_row(
            str(c.id),
            render.text(c.title),
            c.created_at.strftime("%d %b %Y"),
            "closed" if c.closed else "",
            render.text(", ".join(a.username for a in granted)) or "administrators only",
        )
    render.out.print(table)


@case.command("grant")
@click.argument("case_id", metavar="CASE", type=int)
@click.argument("username")
@click.pass_context
def grant(ctx: click.Context, case_id: int, username: str) -> None:
    """Let an account open a case (a victim's account can have one case only)."""
    with _server(ctx) as (_settings, engine):
        who = _account_id(engine, username)
        cases.grant(engine, case_id, who, granted_by=None)
        _audit(engine, case_id, "case.grant", {"account": who})
    render.out.print(f"{render.text(username.strip().lower())} can now open case {case_id}.")


@case.command("revoke")
@click.argument("case_id", metavar="CASE", type=int)
@click.argument("username")
@click.pass_context
def revoke(ctx: click.Context, case_id: int, username: str) -> None:
    """Take an account's access to a case away (from its next request on)."""
    name = username.strip().lower()
    with _server(ctx) as (_settings, engine):
        who = _account_id(engine, name)
        removed = cases.revoke(engine, case_id, who)
        if removed:
            _audit(engine, case_id, "case.revoke", {"account": who})
    if removed:
        render.out.print(f"{render.text(name)} can no longer open case {case_id}.")
    else:
        render.out.print(
            f"{render.text(name)} did not have access to case {case_id}; nothing changed."
        )


@case.command("close")
@click.argument("case_id", metavar="CASE", type=int)
@click.pass_context
def close(ctx: click.Context, case_id: int) -> None:
    """Mark a case closed (its diary and access stay as they are)."""
    with _server(ctx) as (_settings, engine):
        done = cases.close_case(engine, case_id)
        _audit(engine, case_id, "case.close")
    render.out.print(f"Case {done.id} is marked closed.")


@case.command("import")
@click.argument("diary_file", type=click.Path(path_type=Path, dir_okay=False))
@click.option("--title", required=True, help="Your service's reference, not the victim's name.")
@click.option(
    "--passphrase-file",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Read the diary's passphrase from this file. Env: DOCKET_PASSPHRASE.",
)
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def import_(
    ctx: click.Context,
    diary_file: Path,
    title: str,
    passphrase_file: Path | None,
    as_json: bool,
) -> None:
    """Bring a victim's diary file into a new case, with its log and proofs intact.

    The diary's passphrase comes from DOCKET_PASSPHRASE, --passphrase-file, or a prompt.
    The file itself is only read. The case is kept only if it verifies with the same log as
    the file.
    """
    secret = passphrase.existing(
        _passphrase_file(ctx, passphrase_file), prompt="The diary's passphrase"
    )
    with _server(ctx) as (settings, engine):
        made = transfer.import_diary(
            engine, settings.server_key, diary_file, secret, title=title, created_by=None
        )
        _audit(engine, made.id, "case.import")
        with contextlib.closing(cases.open_case(engine, settings.server_key, made.id)) as diary:
            summary = diary.integrity_summary()
    if as_json:
        render.emit_json(
            {**_case_json(made), "log_size": summary["log_size"], "root": summary["root_hex"]}
        )
        return
    render.out.print(
        f"The diary is now case {made.id} ({render.text(made.title)}): "
        f"{render.plural(int(summary['log_size']), 'entry', 'entries')} in its log, checked "
        "against the file."
    )
    render.out.print(f"Log root: {summary['root_hex']}")
    render.out.print(
        f"Give access with 'docket server case grant {made.id} USERNAME'. The diary file "
        "is unchanged; the person can keep it, or delete it once they are sure of the case."
    )


@case.command("export")
@click.argument("case_id", metavar="CASE", type=int)
@click.option("--out", "out", required=True, type=click.Path(path_type=Path, dir_okay=False))
@click.option(
    "--new-passphrase-file",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Read the new diary's passphrase from this file. Env: DOCKET_NEW_PASSPHRASE.",
)
@click.pass_context
def export(ctx: click.Context, case_id: int, out: Path, new_passphrase_file: Path | None) -> None:
    """Write a case out as a new diary file, locked with a new passphrase.

    The passphrase is asked for twice (or read from --new-passphrase-file or
    DOCKET_NEW_PASSPHRASE). An existing file is never overwritten.
    """
    with _server(ctx) as (settings, engine):
        cases.get_case(engine, case_id)  # an unknown case is reported before asking
        secret = passphrase.new(new_passphrase_file)
        # recorded before the case is read: a copy may leave even if the command then fails
        _audit(engine, case_id, "case.export")
        written = transfer.export_case(engine, settings.server_key, case_id, out, secret)
    render.out.print(
        f"Case {case_id} is written to {render.text(str(written))}, checked by opening it "
        "with the new passphrase and verifying its log."
    )
    render.out.print(
        "Open it with 'docket --diary FILE summary'. Anyone with the file and the passphrase "
        "can read everything in it."
    )


__all__ = ["case"]
