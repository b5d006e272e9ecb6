"""``docket import``: bring a message export (WhatsApp, SMS Backup & Restore) into the diary,
with a progress bar and a summary of what was added."""

from __future__ import annotations

import time
from pathlib import Path

import click
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TextColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)
from rich.table import Table

from docket.cli import render
from docket.cli.state import State, pass_state
from docket.importer import Summary
from docket.importers import available
from docket.importers.base import locator


def register(cli: click.Group) -> None:
    formats = [i.name for i in available()]

    @cli.command(name="import")
    @click.argument("file", type=click.Path(path_type=Path))
    @click.option(
        "--format", "fmt", type=click.Choice(formats), help="The export's format, if not guessed."
    )
    @click.option(
        "--person",
        help="Who the conversation is with (name, number or register id): their name or "
        "number in the export is added to their entry in the register.",
    )
    @click.option(
        "--me",
        multiple=True,
        help="How you appear in the export (your name or number); repeat for each.",
    )
    @click.option(
        "--timezone", help="The time zone the exporting phone was set to (default: the diary's)."
    )
    @click.option(
        "--day-first/--month-first",
        "day_first",
        default=None,
        help="Date order of a chat export, if Docket cannot tell from the file.",
    )
    @click.option(
        "--partial",
        is_flag=True,
        help="If the file is damaged or cut short, keep the items before the break.",
    )
    @click.option(
        "--map",
        "mapping",
        multiple=True,
        metavar="FIELD=COLUMN",
        help="For --format csv: which column holds each field, e.g. --map date=Date "
        "--map from=Number --map body=Notes (docs/formats/csv.md lists the fields).",
    )
    @click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
    @pass_state
    def import_(
        state: State,
        file: Path,
        fmt: str | None,
        person: str | None,
        me: tuple[str, ...],
        timezone: str | None,
        day_first: bool | None,
        partial: bool,
        mapping: tuple[str, ...],
        as_json: bool,
    ) -> None:
        """Import a message export or an evidence file: WhatsApp, SMS Backup & Restore,
        e-mail (.eml, .mbox, .msg), Telegram, Messenger, Instagram, Discord, Signal, photos,
        other files (PDF, audio, video, documents) and CSV with --map. The original file is
        kept inside the diary, unchanged."""
        pairs = []
        for m in mapping:
            field, sep, column = m.partition("=")
            if not sep or not field.strip() or not column.strip():
                raise click.BadParameter(
                    f"{m!r} is not FIELD=COLUMN, for example date=Date.", param_hint="--map"
                )
            pairs.append((field.strip(), column.strip()))
        diary = state.diary()
        person_id = diary.resolve_person(person) if person else None
        started = time.monotonic()
        with Progress(
            TextColumn("[progress.description]{task.description}"),
            BarColumn(),
            DownloadColumn(),
            TransferSpeedColumn(),
            TextColumn("{task.fields[items]:,} items"),
            TextColumn("{task.fields[rate]}"),
            TimeRemainingColumn(),
            console=render.err,
            transient=True,
            disable=as_json,
        ) as bar:
            task = bar.add_task("Checking the file", total=None, items=0, rate="")

            def progress(stage: str, done: int, total: int, items: int) -> None:
                elapsed = max(time.monotonic() - started, 1e-6)
                bar.update(
                    task,
                    description=stage,
                    completed=done,
                    total=total or None,
                    items=items,
                    rate=f"{items / elapsed:,.0f}/s" if items else "",
                )

            summary = diary.import_file(
                file,
                format=fmt,
                person=person_id,
                me=me,
                timezone=timezone,
                day_first=day_first,
                partial=partial,
                mapping=tuple(pairs),
                progress=progress,
            )
        if as_json:
            render.emit_json(summary.as_json())
            return
        show(summary)
        render.footer(diary.jurisdiction)

    @cli.command()
    @click.option("--source", "source_id", type=int, help="Only items from this import.")
    @click.option("--person", help="Only items from this person (name, number or id).")
    @click.option("--limit", type=int, default=50, show_default=True, help="How many to show.")
    @click.option("--newest-first", is_flag=True)
    @click.option("--json", "as_json", is_flag=True)
    @pass_state
    def messages(
        state: State,
        source_id: int | None,
        person: str | None,
        limit: int,
        newest_first: bool,
        as_json: bool,
    ) -> None:
        """List imported messages and calls, oldest first."""
        diary = state.diary()
        person_id = diary.resolve_person(person) if person else None
        items = diary.messages(
            source_id=source_id, person_id=person_id, limit=limit, newest_first=newest_first
        )
        if as_json:
            render.emit_json([m.as_json() for m in items])
            return
        if not items:
            render.out.print("No imported messages or calls match.")
            return
        for m in items:
            when = render.local_time(m.sent_at, diary.timezone) if m.sent_at else m.local_time
            who = m.person_name or m.sender_raw or ("me" if m.direction == "outgoing" else "")
            if m.kind == "call":
                what = f"{m.call_type} call" + (f", {m.duration_s} s" if m.duration_s else "")
            else:
                what = (m.body or "").replace("\n", " ")
                if len(what) > 100:
                    what = what[:99] + "…"
            files = f" [{len(m.attachments)} file(s)]" if m.attachments else ""
            render.out.print(
                f"{m.id:>6}  {when}  {render.text(m.channel):<8} {render.text(who)}: "
                f"{render.text(what)}{files}"
            )

    @cli.command()
    @click.option("--json", "as_json", is_flag=True)
    @pass_state
    def sources(state: State, as_json: bool) -> None:
        """List the files imported into the diary."""
        found = state.diary().sources()
        if as_json:
            render.emit_json(found)
            return
        if not found:
            render.out.print("Nothing has been imported yet. Use: docket import FILE")
            return
        for s in found:
            render.out.print(
                f"{s['id']:>4}  {s['imported_at'][:10]}  {render.text(s['name'])}  "
                f"({s['importer']} {s['importer_version']}, "
                f"{render.plural(s['summary'].get('added', 0), 'item')}, "
                f"{render.human_size(s['size'])})  SHA-256 {s['sha256']}"
            )


KIND_WORDS = {
    "message": ("message", "messages"),
    "call": ("call", "calls"),
    "system": ("system notice", "system notices"),
}


def show(s: Summary) -> None:
    out = render.out
    if s.already_imported_at is not None:
        out.print(
            f"{render.text(s.file)} was already imported on "
            f"{s.already_imported_at[:10]} (source {s.source_id}). Nothing was added."
        )
        return
    out.print(
        f"Imported {render.text(s.file)} ({render.text(s.importer_label)}; importer "
        f"{s.importer} {s.importer_version}) as source {s.source_id}."
    )
    out.print(
        f"Added {render.plural(s.added, 'item')}; skipped "
        f"{render.plural(s.duplicates, 'duplicate')} already in the diary."
    )
    if s.by_kind:
        out.print(
            "By kind: "
            + ", ".join(
                render.plural(n, *KIND_WORDS.get(k, (k, k + "s")))
                for k, n in sorted(s.by_kind.items())
            )
            + "."
        )
    if s.by_sender:
        table = Table("Sender", "Items", title="By sender", title_justify="left")
        for sender, n in s.by_sender.most_common(15):
            table.add_row(render.text(sender), f"{n:,}")
        if len(s.by_sender) > 15:
            table.add_row(f"… and {len(s.by_sender) - 15} more", "")
        out.print(table)
    if s.files_stored or s.files_missing:
        out.print(
            f"Files kept: {s.files_stored:,}. Files the export mentions but does not include: "
            f"{s.files_missing:,}."
        )
    if s.files_added:
        out.print(
            f"Files added to messages already kept: {s.files_added:,} (an earlier import "
            "had these messages without them; each addition is recorded in the log)."
        )
    if s.linked:
        out.print(f"Linked in your register: {render.text(s.linked)}.")
    if s.not_linked_reason:
        out.print(f"Not linked: {render.text(s.not_linked_reason)}")
    if s.unknown_senders:
        out.print("These senders are not in your register yet:")
        for u in s.unknown_senders[:20]:
            out.print(
                f"  {render.text(u['raw'])}  ({render.plural(u['messages'], 'item')}; "
                f"identifier {render.text(u['identifier'])})"
            )
        if len(s.unknown_senders) > 20:
            out.print(f"  … and {len(s.unknown_senders) - 20} more (see --json)")
        out.print(
            "To say who someone is: docket person add NAME --phone NUMBER (or --handle "
            "whatsapp:NAME), or docket person edit. Their items are linked as soon as they "
            "are in the register."
        )
    if s.warnings_total:
        out.print(f"{render.plural(s.warnings_total, 'warning')} while reading the file:")
        for w in s.warnings[:20]:
            where = locator(w.get("line"), w.get("offset"))
            out.print(f"  {where + ': ' if where else ''}{render.text(w['message'])}")
        if s.warnings_total > 20:
            out.print(f"  … and {s.warnings_total - 20} more (see --json)")
