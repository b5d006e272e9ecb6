"""Witness accounts: ``docket witness add|list|show|edit`` keep what someone else saw or heard,
in their words, linked to an incident; ``docket witness form`` prints the blank note to give
them (the same one that comes with a safety sheet)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import click

from docket import sheet
from docket.api import Diary, WitnessAccountView
from docket.cli import render
from docket.cli.state import State, pass_state
from docket.errors import AttachmentNotFound
from docket.model import timeparse
from docket.model.records import WitnessAccountData


def _show(diary: Diary, v: WitnessAccountView) -> None:
    o = render.out
    d = v.data
    o.print(
        f"[bold]Witness account {v.id}[/bold] (about incident {d.incident}), version {v.version}"
    )
    who = d.name + (f" ({d.relationship})" if d.relationship else "")
    o.print(f"Written by: {render.text(who)}")
    if d.contact:
        o.print(f"Contact: {render.text(d.contact)}")
    when = d.seen_on.strftime("%-d %B %Y") if d.seen_on else "day not given"
    if d.time_from:
        when += f", {d.time_from}" + (f" to {d.time_to}" if d.time_to else "")
    o.print(f"When: {when}")
    for label, value in (
        ("Where", d.place),
        ("What they saw", d.saw),
        ("What they heard", d.heard),
        ("What the person looked like", d.appearance),
        ("Anything else", d.other),
    ):
        if value:
            o.print(f"{label}: {render.text(value)}")
    if d.written_on:
        o.print(f"They wrote it on {d.written_on.strftime('%-d %B %Y')}.")
    if d.received_on:
        o.print(f"You received it on {d.received_on.strftime('%-d %B %Y')}.")
    if d.attachment is not None:
        o.print(f"Their note is kept as evidence file {d.attachment}.")


def _data(diary: Diary, **given: Any) -> WitnessAccountData:
    tz = diary.timezone
    return WitnessAccountData(
        incident=given["incident"],
        name=given["name"],
        saw=given["saw"],
        heard=given["heard"],
        contact=given["contact"],
        relationship=given["relationship"],
        seen_on=timeparse.parse_day(given["seen"], tz, "--date"),
        time_from=given["time_from"],
        time_to=given["time_to"],
        place=given["place"],
        appearance=given["appearance"],
        other=given["other"],
        written_on=timeparse.parse_day(given["written"], tz, "--written"),
        received_on=timeparse.parse_day(given["received"], tz, "--received"),
    )


def _fields(f: Any) -> Any:
    for option in reversed(
        (
            click.option("--incident", type=int, required=True, help="The incident it is about."),
            click.option("--name", required=True, help="Who wrote it (or how you know them)."),
            click.option("--saw", default="", help="What they saw, in their words."),
            click.option("--heard", default="", help="What they heard, in their words."),
            click.option("--contact", default="", help="How to reach them (kept private)."),
            click.option("--relationship", default="", help="e.g. 'neighbour'."),
            click.option("--date", "seen", help="The day they saw it, e.g. 14/03/2026."),
            click.option("--from", "time_from", default="", help="From what time, e.g. 08:15."),
            click.option("--to", "time_to", default="", help="Until what time."),
            click.option("--place", default="", help="Where."),
            click.option("--appearance", default="", help="What the person looked like."),
            click.option("--other", default="", help="Anything else they wrote."),
            click.option("--written", help="The day they wrote it down."),
            click.option("--received", help="The day you received it."),
        )
    ):
        f = option(f)
    return f


def register(cli: click.Group) -> None:
    @cli.group()
    def witness() -> None:
        """Keep what other people saw or heard, linked to an incident."""

    @witness.command("add")
    @_fields
    @click.option(
        "--note-file",
        type=click.Path(path_type=Path, dir_okay=False),
        help="A photo or scan of their note, kept as evidence with it.",
    )
    @click.option("--json", "as_json", is_flag=True)
    @pass_state
    def witness_add(state: State, /, note_file: Path | None, as_json: bool, **given: Any) -> None:
        """Add a witness account: copy what they wrote, in their words.

        It is kept apart from your own account of the incident, recorded in the log like
        every other entry; their contact details are left out of reports unless you choose
        otherwise.
        """
        diary = state.diary()
        data = _data(diary, **given)
        if note_file is not None:
            note_file = note_file.expanduser()
            if not note_file.is_file():
                raise AttachmentNotFound(
                    f"There is no file at {note_file}.",
                    hint="Check the path of the photo or scan of their note.",
                )
            with note_file.open("rb") as stream:
                view = diary.add_witness_account(data, note_file=stream, note_name=note_file.name)
        else:
            view = diary.add_witness_account(data)
        if as_json:
            render.emit_json(view.as_json())
            return
        render.out.print(
            f"Kept as witness account {view.id}, linked to incident {view.data.incident}."
        )

    @witness.command("edit")
    @click.argument("witness_id", type=int)
    @_fields
    @click.option("--reason", required=True, help="Why it is being changed (kept in the log).")
    @pass_state
    def witness_edit(state: State, /, witness_id: int, reason: str, **given: Any) -> None:
        """Correct a witness account. The earlier version stays in the history."""
        diary = state.diary()
        before = diary.witness_account(witness_id)
        data = _data(diary, **given)
        view = diary.edit_witness_account(
            witness_id, replace(data, attachment=before.data.attachment), reason
        )
        render.out.print(f"Witness account {view.id} is now at version {view.version}.")

    @witness.command("list")
    @click.option("--incident", type=int, help="Only those about this incident.")
    @click.option("--json", "as_json", is_flag=True)
    @pass_state
    def witness_list(state: State, incident: int | None, as_json: bool) -> None:
        """List the witness accounts."""
        views = state.diary().witness_accounts(incident)
        if as_json:
            render.emit_json([v.as_json() for v in views])
            return
        if not views:
            render.out.print("There are no witness accounts yet.")
            return
        for v in views:
            d = v.data
            day = d.seen_on.isoformat() if d.seen_on else "day not given"
            text = (d.saw or d.heard or d.other).replace("\n", " ")
            render.out.print(
                f"{v.id:>4}  incident {d.incident:<5} {day}  {render.text(d.name)}: "
                f"{render.text(text[:70])}"
            )

    @witness.command("show")
    @click.argument("witness_id", type=int)
    @click.option("--json", "as_json", is_flag=True)
    @pass_state
    def witness_show(state: State, witness_id: int, as_json: bool) -> None:
        """Show one witness account."""
        diary = state.diary()
        view = diary.witness_account(witness_id)
        if as_json:
            render.emit_json(view.as_json())
            return
        _show(diary, view)

    @witness.command("form")
    @click.option(
        "--out",
        required=True,
        type=click.Path(path_type=Path, dir_okay=False),
        help="Where to write the blank note: a name ending .pdf or .txt.",
    )
    @click.option(
        "--audience",
        type=click.Choice(list(sheet.AUDIENCES)),
        default="family",
        show_default=True,
    )
    @click.option("--name", "user_name", default="", help="Your name, as they know you.")
    @pass_state
    def witness_form(state: State, out: Path, audience: str, user_name: str) -> None:
        """Write a blank witness note for someone to fill in by hand and give back to you."""
        diary = state.diary()
        path = sheet.write_witness_form(diary, out, user_name=user_name, audience=audience)
        render.out.print(f"Written: {path}. Nothing from your diary is in it.")
