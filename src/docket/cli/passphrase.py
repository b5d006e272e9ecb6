"""Getting a passphrase without ever taking it from the command line: from DOCKET_PASSPHRASE,
from a file named by --passphrase-file, or from a masked prompt on the terminal."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import click

from docket.errors import PassphraseRejected, PassphraseUnavailable
from docket.store.keys import check_new_passphrase


def _from_file(path: Path) -> str:
    try:
        text = path.read_text("utf-8")
    except OSError as exc:
        raise PassphraseUnavailable(
            f"The passphrase file {path} could not be read.",
            cause=exc.strerror,
            hint="Check the path given to --passphrase-file.",
        ) from exc
    # One trailing newline (as editors add) is not part of the passphrase.
    return text[:-1] if text.endswith("\n") else text


def _can_prompt() -> bool:
    return sys.stdin.isatty()


def existing(passphrase_file: Path | None, prompt: str = "Passphrase") -> str:
    if passphrase_file is not None:
        return _from_file(passphrase_file)
    env = os.environ.get("DOCKET_PASSPHRASE")
    if env:
        return env
    if not _can_prompt():
        raise PassphraseUnavailable(
            "Docket needs the diary's passphrase, but there is nobody to ask.",
            cause="No terminal is attached and neither DOCKET_PASSPHRASE nor "
            "--passphrase-file was given.",
            hint="Run it in a terminal, or set DOCKET_PASSPHRASE for scripts.",
        )
    return str(click.prompt(prompt, hide_input=True, err=True))


def new(new_passphrase_file: Path | None, env_name: str = "DOCKET_NEW_PASSPHRASE") -> str:
    """A new passphrase, typed twice when prompted, and checked against the minimum."""
    if new_passphrase_file is not None:
        value = _from_file(new_passphrase_file)
    elif os.environ.get(env_name):
        value = os.environ[env_name]
    elif _can_prompt():
        click.echo(
            "Choose a passphrase. Nobody, not even the people who make Docket, can recover "
            "the diary if it is lost, so keep a copy somewhere safe that the other person "
            "cannot reach.",
            err=True,
        )
        while True:
            value = str(click.prompt("New passphrase", hide_input=True, err=True))
            try:
                check_new_passphrase(value)
            except PassphraseRejected as exc:
                click.echo(f"{exc.message} {exc.hint or ''}", err=True)
                continue
            again = str(click.prompt("Type it again", hide_input=True, err=True))
            if again == value:
                break
            click.echo("The two did not match. Please try again.", err=True)
    else:
        raise PassphraseUnavailable(
            "Docket needs a new passphrase, but there is nobody to ask.",
            cause=f"No terminal is attached and neither {env_name} nor a passphrase file "
            "was given.",
            hint="Run it in a terminal, or set the variable for scripts.",
        )
    check_new_passphrase(value)
    return value
