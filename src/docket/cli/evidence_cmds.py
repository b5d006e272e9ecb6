"""Commands for evidence files: attach a file to the diary, and save an original back out."""

from __future__ import annotations

from pathlib import Path

import click
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TimeRemainingColumn,
    TransferSpeedColumn,
)

from docket.cli import render
from docket.cli.state import State, pass_state


def register(cli: click.Group) -> None:
    @cli.command()
    @click.argument("file", type=click.Path(path_type=Path))
    @click.option(
        "--incident", "-i", "incident_id", type=int, help="The incident it belongs to (optional)."
    )
    @click.option("--obtained", default="", help="How you got it, e.g. 'screenshot on my phone'.")
    @click.option("--note", default="", help="Anything to note about the file.")
    @click.option("--json", "as_json", is_flag=True)
    @pass_state
    def attach(
        state: State, file: Path, incident_id: int | None, obtained: str, note: str, as_json: bool
    ) -> None:
        """Keep a photo, screenshot, recording or document inside the diary, byte for byte."""
        diary = state.diary()
        size = file.stat().st_size if file.is_file() else 0
        with Progress(
            "[progress.description]{task.description}",
            BarColumn(),
            DownloadColumn(),
            TransferSpeedColumn(),
            TimeRemainingColumn(),
            console=render.err,
            transient=True,
            disable=as_json or size < 8 * 1024 * 1024,
        ) as bar:
            task = bar.add_task("Encrypting into the diary", total=size)
            view = diary.attach(
                file,
                incident_id=incident_id,
                obtained=obtained,
                note=note,
                progress=lambda done: bar.update(task, completed=done),
            )
        if as_json:
            render.emit_json(view.as_json())
            return
        assert view.data is not None
        where = f" to incident {incident_id}" if incident_id else ""
        render.out.print(
            f"Kept {render.text(view.data.name)}{where} as file {view.id} "
            f"({view.data.media_type}, {render.human_size(view.size)})."
        )
        render.out.print(f"SHA-256 fingerprint: {view.sha256}")
        render.out.print(
            "The original file is unchanged. You may delete it from this device "
            "if it is not safe to keep it here."
        )

    @cli.command()
    @click.argument("attachment_id", type=int)
    @click.option(
        "--out",
        "-o",
        required=True,
        type=click.Path(path_type=Path, dir_okay=False),
        help="Where to write it (must not exist).",
    )
    @pass_state
    def extract(state: State, attachment_id: int, out: Path) -> None:
        """Write an evidence file's original bytes to a file you choose (not encrypted)."""
        written = state.diary().save_attachment(attachment_id, out)
        render.out.print(
            f"Written to {render.text(str(written))}. This copy is not encrypted: "
            "delete it when you no longer need it."
        )
