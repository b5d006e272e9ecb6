"""``docket sheet``: the one-page safety sheet about a person in the register, for family and
friends, a workplace or a school, as a PDF, HTML or text; ``--preview`` lists what could be
ticked. Nothing from incidents, messages or private notes goes on it unless named."""

from __future__ import annotations

from pathlib import Path

import click

from docket import sheet
from docket.api import Diary
from docket.cli import render
from docket.cli.state import State, pass_state
from docket.errors import AttachmentNotFound


def _show_options(diary: Diary, person_id: int) -> None:
    o = render.out
    opts = sheet.options(diary, person_id)
    o.print(f"[bold]What a sheet about {render.text(opts.name)} can show[/bold]")
    o.print(
        "Always on it: the name, the description and the vehicles from the register, what "
        "to do, the emergency number and the helpline. Everything listed below is not on the "
        "sheet unless you name it with the option shown."
    )
    if opts.description_cut:
        o.print("[dim]The description is longer than the sheet has room for.[/dim]")
    if opts.vehicles:
        o.print("Vehicles: " + render.text(", ".join(opts.vehicles)))
    if opts.places:
        o.print("\n[bold]Places[/bold] (--place TEXT)")
        for p in opts.places:
            flag = " (you marked this private)" if p.private else ""
            o.print(f"  {render.text(p.text)}  ({p.count} time(s), latest {p.latest}){flag}")
    if opts.photos:
        o.print("\n[bold]Photos[/bold] (--photo ID, or --photo FILE)")
        for ph in opts.photos:
            o.print(f"  {ph.id:>4}  {render.text(ph.name)}")
    if opts.references:
        o.print("\n[bold]Crime references[/bold] (--reference REF)")
        for r in opts.references:
            o.print(
                f"  {render.text(r.reference)}  ({render.text(r.to)}{', ' + r.on if r.on else ''})"
            )
    if opts.incidents:
        o.print("\n[bold]Incidents[/bold] (--incident ID; their private notes: --private-notes ID)")
        for i in opts.incidents:
            notes = "  (has private notes)" if i.has_private_notes else ""
            o.print(
                f"  {i.id:>4}  {i.date}, {render.text(i.category)}: {render.text(i.summary)}{notes}"
            )
    if opts.messages:
        o.print("\n[bold]Their latest messages[/bold] (--message ID)")
        for m in opts.messages:
            o.print(f"  {m.id:>6}  {m.date}: {render.text(m.summary)}")
    if opts.has_person_notes:
        o.print("\nYour notes about this person can be added with --person-notes.")
    o.print(
        "\nKinds of reader (--audience): " + "; ".join(f"{c} ({lab})" for c, lab in opts.audiences)
    )


def register(cli: click.Group) -> None:
    @cli.command("sheet")
    @click.option("--person", required=True, help="The person's name or number in the register.")
    @click.option(
        "--out",
        type=click.Path(path_type=Path, dir_okay=False),
        help="Where to write it: a name ending .pdf, .html or .txt.",
    )
    @click.option("--preview", is_flag=True, help="List what could go on it; write nothing.")
    @click.option(
        "--audience",
        type=click.Choice(list(sheet.AUDIENCES)),
        default="family",
        show_default=True,
        help="Who it is for: family and friends, a workplace, or a school or college.",
    )
    @click.option("--name", "user_name", default="", help="Your name, as they know you.")
    @click.option("--place", "places", multiple=True, help="A place they have turned up (repeat).")
    @click.option("--photo", help="A photo: the number of an image in the diary, or a file.")
    @click.option("--reference", default="", help="A crime reference to include.")
    @click.option("--incident", "incidents", type=int, multiple=True, help="An incident to list.")
    @click.option("--message", "messages", type=int, multiple=True, help="A message to quote.")
    @click.option(
        "--private-notes", "notes", type=int, multiple=True, help="An incident whose notes to add."
    )
    @click.option("--person-notes", is_flag=True, help="Add your notes about them.")
    @click.option("--contact-name", default="", help="Whom the reader should tell.")
    @click.option("--contact-phone", default="")
    @click.option("--contact-other", default="", help="e.g. an e-mail address.")
    @click.option("--note", "extra", default="", help="A short note of your own.")
    @pass_state
    def sheet_cmd(
        state: State,
        person: str,
        out: Path | None,
        preview: bool,
        audience: str,
        user_name: str,
        places: tuple[str, ...],
        photo: str | None,
        reference: str,
        incidents: tuple[int, ...],
        messages: tuple[int, ...],
        notes: tuple[int, ...],
        person_notes: bool,
        contact_name: str,
        contact_phone: str,
        contact_other: str,
        extra: str,
    ) -> None:
        """Make a one-page sheet about a person to give to family, friends, colleagues or
        reception staff: who they are, what they look like, what to do if they see them, and
        whom to tell.

        Only the name, description and vehicles from the register are on it by default; add
        places, a photo, a crime reference, incidents, messages or notes by naming them.
        Run with --preview first to see what you can choose from.
        """
        diary = state.diary()
        person_id = diary.resolve_person(person)
        if preview:
            _show_options(diary, person_id)
            return
        if out is None:
            raise click.UsageError("Give --out FILE (.pdf, .html or .txt), or --preview.")
        photo_id: int | None = None
        photo_data: bytes | None = None
        if photo:
            if photo.isdigit():
                photo_id = int(photo)
            else:
                path = Path(photo).expanduser()
                if not path.is_file():
                    raise AttachmentNotFound(
                        f"There is no photo at {path}.",
                        hint="Give the number of an image in the diary, or the path of a file.",
                    )
                if path.stat().st_size > sheet.MAX_PHOTO_BYTES:
                    raise AttachmentNotFound(
                        f"{path.name} is too large to be a photo for the sheet.",
                        hint="Choose a smaller picture.",
                    )
                photo_data = path.read_bytes()
        choices = sheet.SheetChoices(
            person_id=person_id,
            audience=audience,
            user_name=user_name,
            places=places,
            photo=photo_id,
            photo_data=photo_data,
            reference=reference,
            incidents=incidents,
            messages=messages,
            private_notes=notes,
            person_notes=person_notes,
            contact_name=contact_name,
            contact_phone=contact_phone,
            contact_other=contact_other,
            extra=extra,
        )
        built = sheet.build(diary, choices)
        for warning in built.warnings:
            render.err.print(render.text(warning))
        written = sheet.write(built, out)
        pages = " (1 page)" if written.suffix.lower() == ".pdf" else ""
        render.out.print(f"Written: {written}{pages}. Only you can read the file.")
        render.out.print(
            "Think about who will see it before you hand it over: a sheet can be passed on."
        )
