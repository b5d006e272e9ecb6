"""The ``docket`` command line: a thin front end over ``docket.api``.

This module builds the root command and is the one place where Docket's errors become
messages and exit codes (0 ok, 1 integrity failure, 2 usage or input error). Passphrases are
never taken from the command line.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from docket import __version__
from docket.cli import (
    diary_cmds,
    evidence_cmds,
    import_cmds,
    incident_cmds,
    ledger_cmds,
    pattern_cmds,
    people_cmds,
    render,
    report_cmds,
    safety_cmds,
    server_cmds,
    sheet_cmds,
    web_cmds,
    witness_cmds,
)
from docket.cli.state import State
from docket.config import Settings
from docket.errors import DocketError


class DocketGroup(click.Group):
    """Maps every DocketError to one clear message and its exit code."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except DocketError as exc:
            wants_json = "--json" in sys.argv[1:]
            report_error(exc, as_json=wants_json)
            ctx.exit(exc.exit_code)
        finally:
            state = ctx.find_object(State)
            if state is not None:
                state.close()


def report_error(exc: DocketError, *, as_json: bool) -> None:
    if as_json:
        render.emit_json({"error": exc.as_dict()})
        return
    e = render.err
    e.print(f"[bold]{render.text(exc.message)}[/bold]")
    if exc.location:
        e.print(f"  Where: {render.text(str(exc.location))}")
    if exc.cause:
        e.print(f"  Likely cause: {render.text(exc.cause)}")
    if exc.hint:
        e.print(f"  What to do: {render.text(exc.hint)}")
    e.print(f"  [dim](error code: {exc.code})[/dim]")


@click.group(cls=DocketGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="docket")
@click.option(
    "--diary",
    type=click.Path(path_type=Path, dir_okay=False),
    envvar="DOCKET_DIARY",
    help="The diary file (default: ~/.local/share/docket/diary.docket). Env: DOCKET_DIARY.",
)
@click.option(
    "--passphrase-file",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Read the passphrase from this file instead of asking. Env: DOCKET_PASSPHRASE.",
)
@click.pass_context
def cli(ctx: click.Context, diary: Path | None, passphrase_file: Path | None) -> None:
    """Docket: a private, encrypted diary of stalking and harassment, kept on your computer.

    In an emergency call 999 (UK) or 911 (US). National Stalking Helpline (England and
    Wales): 0808 802 0300. Docket is not legal advice.
    """
    try:
        settings = Settings.resolve(flags={"diary": str(diary) if diary else None})
    except DocketError as exc:
        report_error(exc, as_json="--json" in sys.argv[1:])
        ctx.exit(exc.exit_code)
    ctx.obj = State(settings=settings, passphrase_file=passphrase_file)


for module in (
    diary_cmds,
    incident_cmds,
    people_cmds,
    evidence_cmds,
    import_cmds,
    pattern_cmds,
    report_cmds,
    ledger_cmds,
    safety_cmds,
    sheet_cmds,
    web_cmds,
    witness_cmds,
    server_cmds,
):
    module.register(cli)
report_cmds.register_export(cli)
report_cmds.register_timeline(cli)


def main() -> None:
    cli(prog_name="docket")
