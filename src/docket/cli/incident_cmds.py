"""Commands for incidents: add, edit, list, show, history and redact."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import click
from rich.table import Table

from docket import log_records
from docket.api import Diary
from docket.cli import render
from docket.cli.state import State, pass_state
from docket.model import taxonomy
from docket.model.forms import CLEARABLE, IncidentInput
from docket.model.views import IncidentView, VersionView
from docket.records import KINDS, IncidentFilter

F = Callable[..., Any]


def incident_options(f: F) -> F:
    """The fields of an incident, shared by add and edit."""
    opts = [
        click.option(
            "--occurred",
            help="When it happened: 'now', 'yesterday 21:15', "
            "'20/11/2026 18:30' (day first). Default for add: now.",
        ),
        click.option("--until", help="When it ended, if it went on for a while."),
        click.option(
            "--approximate/--exact", default=None, help="Whether the time is only approximate."
        ),
        click.option(
            "--category",
            "-c",
            help="Category code, e.g. CON, LOI, THR ('docket categories' lists them).",
        ),
        click.option("--tag", "tags", multiple=True, help="A tag (repeatable)."),
        click.option(
            "--channel", type=click.Choice(list(taxonomy.CHANNELS)), help="How it happened."
        ),
        click.option("--place", help="Where it happened."),
        click.option(
            "--private-place/--public-place",
            default=None,
            help="A private place such as your home is hidden in exports by default.",
        ),
        click.option("--description", "-d", help="What happened, in your own words."),
        click.option("--exact-words", help="What they said or wrote, word for word."),
        click.option(
            "--person",
            "people",
            multiple=True,
            help="The person responsible: a name or number from the register "
            "(repeatable). Default for add: the one person responsible, if there is one.",
        ),
        click.option(
            "--witness",
            "witnesses",
            multiple=True,
            help="A witness, as 'Name; how to contact them' (repeatable).",
        ),
        click.option(
            "--targeted",
            multiple=True,
            help="Who it was aimed at: 'me' (the default) or someone's name (repeatable).",
        ),
        click.option(
            "--effect",
            "effects",
            multiple=True,
            type=click.Choice(list(taxonomy.EFFECTS)),
            help="How it affected you (repeatable).",
        ),
        click.option("--effect-details", help="The effect on you, in your own words."),
        click.option(
            "--told-to-stop",
            type=click.Choice(list(taxonomy.TOLD_TO_STOP)),
            help="Had they been told to stop?",
        ),
        click.option("--told-to-stop-details", help="When and how they were told."),
        click.option("--reported-to", help="Who you reported it to, e.g. 'Kent Police'."),
        click.option("--reported-on", help="The date you reported it."),
        click.option("--officer", help="The officer's name or number."),
        click.option("--crime-reference", help="The crime or incident reference number."),
        click.option("--outcome", help="What happened after you reported it."),
        click.option(
            "--to-obtain",
            "evidence_to_obtain",
            multiple=True,
            help="Evidence still to get, e.g. 'CCTV at the station' (repeatable).",
        ),
        click.option("--orders", help="Orders in force at the time (e.g. a restraining order)."),
        click.option("--private-notes", help="Notes for you only: left out of exports."),
    ]
    for opt in reversed(opts):
        f = opt(f)
    return f


def form_from(diary: Diary, kw: dict[str, Any], clear: tuple[str, ...] = ()) -> IncidentInput:
    def listed(name: str) -> list[str] | None:
        values = kw.get(name) or ()
        return list(values) if values else None

    people = listed("people")
    return IncidentInput(
        occurred=kw.get("occurred"),
        until=kw.get("until"),
        approximate=kw.get("approximate"),
        category=kw.get("category"),
        tags=listed("tags"),
        channel=kw.get("channel"),
        place=kw.get("place"),
        private_place=kw.get("private_place"),
        description=kw.get("description"),
        exact_words=kw.get("exact_words"),
        people=[diary.resolve_person(p) for p in people] if people else None,
        witnesses=listed("witnesses"),
        targeted=listed("targeted"),
        effects=listed("effects"),
        effect_details=kw.get("effect_details"),
        told_to_stop=kw.get("told_to_stop"),
        told_to_stop_details=kw.get("told_to_stop_details"),
        reported_to=kw.get("reported_to"),
        reported_on=kw.get("reported_on"),
        officer=kw.get("officer"),
        crime_reference=kw.get("crime_reference"),
        outcome=kw.get("outcome"),
        evidence_to_obtain=listed("evidence_to_obtain"),
        orders=kw.get("orders"),
        private_notes=kw.get("private_notes"),
        clear=list(clear),
    )


def show_incident(diary: Diary, v: IncidentView) -> None:
    o, t, tz = render.out, render.text, diary.timezone
    o.print(f"[bold]Incident {v.id}[/bold] (version {v.version})")
    o.print(
        f"Recorded: {render.local_time(v.recorded_at, tz)} (this device's clock)"
        + ("  [italic]written more than a day later[/italic]" if v.retrospective else "")
    )
    if v.data is None:
        when = v.redacted_at[:10] if v.redacted_at else "an earlier date"
        o.print(f"Removed by you on {when}. Its content is no longer in the diary.")
        return
    d = v.data
    occ = d.occurred
    when = render.local_time(occ.start.isoformat(), occ.timezone)
    if occ.date_only:
        when = occ.start.strftime("%a %d %b %Y") + " (time not given)"
    if occ.end:
        when += f" until {render.local_time(occ.end.isoformat(), occ.timezone)}"
    if occ.approximate:
        when = "About " + when
    cat = diary.jurisdiction.category(d.category)
    rows: list[tuple[str, str]] = [
        ("Happened", when),
        ("Category", f"{d.category} {cat.name if cat else ''}"),
    ]
    if d.tags:
        rows.append(("Tags", ", ".join(d.tags)))
    if d.channel:
        rows.append(("How", taxonomy.CHANNELS.get(d.channel, d.channel)))
    if d.place:
        rows.append(("Where", d.place.text + (" (private place)" if d.place.private else "")))
    if d.people:
        names = []
        for pid in d.people:
            p = diary.person(pid)
            names.append(f"{p.data.name} ({pid})" if p.data else f"a removed person ({pid})")
        rows.append(("Person responsible", ", ".join(names)))
    if d.description:
        rows.append(("What happened", d.description))
    if d.exact_words:
        rows.append(("Their exact words", f"\u201c{d.exact_words}\u201d"))
    if d.witnesses:
        rows.append(
            (
                "Witnesses",
                "; ".join(w.name + (f" ({w.contact})" if w.contact else "") for w in d.witnesses),
            )
        )
    if d.targeted:
        rows.append(("Aimed at", ", ".join(d.targeted)))
    effects = d.effect.labels()
    if effects or d.effect.details:
        rows.append(
            (
                "Effect on me",
                "; ".join([*effects, d.effect.details] if d.effect.details else effects),
            )
        )
    if d.told_to_stop:
        rows.append(
            (
                "Told to stop",
                taxonomy.TOLD_TO_STOP[d.told_to_stop]
                + (f": {d.told_to_stop_details}" if d.told_to_stop_details else ""),
            )
        )
    for r in d.reported:
        parts = [r.to] + [
            x
            for x in (
                r.on.isoformat() if r.on else "",
                r.officer,
                f"ref {r.reference}" if r.reference else "",
                r.outcome,
            )
            if x
        ]
        rows.append(("Reported", ", ".join(parts)))
    if d.evidence_to_obtain:
        rows.append(("Evidence to get", "; ".join(d.evidence_to_obtain)))
    if d.orders:
        rows.append(("Orders in force", d.orders))
    if d.private_notes:
        rows.append(("Private notes", d.private_notes))
    table = Table(show_header=False, show_edge=False, box=None, padding=(0, 2, 0, 0))
    table.add_column(style="bold", no_wrap=True)
    table.add_column()
    for k, val in rows:
        table.add_row(k, t(val))
    o.print(table)
    for a in v.attachments:
        if a.data is None:
            o.print(f"  File {a.id}: removed by you")
        else:
            o.print(
                f"  File {a.id}: {t(a.data.name)} ({a.data.media_type}, "
                f"{render.human_size(a.size)}) sha256 {a.sha256}"
            )


def show_history(versions: list[VersionView], tz: str) -> None:
    for v in versions:
        when = render.local_time(v.recorded_at, tz)
        label = {
            "incident.created": "Written",
            "person.created": "Added",
            "attachment.added": "File added",
            "incident.edited": "Changed",
            "person.edited": "Changed",
            "redaction": "Removed by you",
        }.get(v.type, v.type)
        line = f"[bold]#{v.seq}[/bold] {when}  {label}"
        if v.changed:
            line += f": {', '.join(v.changed)}"
        render.out.print(line)
        if v.reason:
            render.out.print(f"    Reason: {render.text(v.reason)}")
        if v.record is None and v.type != "redaction":
            render.out.print(
                "    [dim]content removed by you; its fingerprint stays in the log[/dim]"
            )


def register(cli: click.Group) -> None:
    @cli.command()
    @incident_options
    @click.option("--json", "as_json", is_flag=True, help="Print the new incident as JSON.")
    @pass_state
    def add(state: State, /, as_json: bool, **kw: Any) -> None:
        """Write down an incident. Only the category is needed; everything else can wait."""
        diary = state.diary()
        if not kw.get("people"):
            usual = diary.usual_person()
            kw["people"] = (str(usual),) if usual is not None else ()
        view = diary.add_incident(form_from(diary, kw))
        if as_json:
            render.emit_json(view.as_json())
            return
        render.out.print(f"Incident {view.id} is saved.")
        show_incident(diary, view)

    @cli.command()
    @click.argument("incident_id", type=int)
    @incident_options
    @click.option("--reason", "-r", required=True, help="Why it is changing; kept in the history.")
    @click.option(
        "--clear",
        multiple=True,
        type=click.Choice(CLEARABLE),
        help="Empty this field (repeatable).",
    )
    @click.option("--json", "as_json", is_flag=True, help="Print the new version as JSON.")
    @pass_state
    def edit(
        state: State,
        /,
        incident_id: int,
        reason: str,
        clear: tuple[str, ...],
        as_json: bool,
        **kw: Any,
    ) -> None:
        """Change an incident. The earlier version is kept; 'docket history' shows both."""
        diary = state.diary()
        view = diary.edit_incident(incident_id, form_from(diary, kw, clear), reason)
        if as_json:
            render.emit_json(view.as_json())
            return
        render.out.print(
            f"Incident {view.id} is now at version {view.version}; the earlier version is kept."
        )
        show_incident(diary, view)

    @cli.command("list")
    @click.option("--category", "-c", help="Only this category code.")
    @click.option("--person", help="Only incidents involving this person (name or number).")
    @click.option("--from", "start", help="From this date (inclusive).")
    @click.option("--to", "end", help="Up to this date (inclusive).")
    @click.option("--removed", is_flag=True, help="Also list incidents you removed.")
    @click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
    @pass_state
    def list_(
        state: State,
        category: str | None,
        person: str | None,
        start: str | None,
        end: str | None,
        removed: bool,
        as_json: bool,
    ) -> None:
        """List incidents in the order they happened."""
        diary = state.diary()
        lo, hi = diary.date_range(start, end)
        f = IncidentFilter(
            category=category.upper() if category else None,
            person_id=diary.resolve_person(person) if person else None,
            start_utc=lo,
            end_utc=hi,
            include_redacted=removed,
        )
        items = diary.incidents(f)
        if as_json:
            render.emit_json([v.as_json() for v in items])
            return
        if not items:
            render.out.print("No incidents match.")
            return
        table = Table(show_edge=False)
        for col in ("No.", "Happened", "Category", "What happened", "Files"):
            table.add_column(col)
        for v in items:
            if v.data is None:
                table.add_row(
                    str(v.id),
                    render.local_time(v.occurred_start, diary.timezone),
                    "",
                    "[dim]removed by you[/dim]",
                    "",
                )
                continue
            desc = v.data.description or v.data.exact_words
            if len(desc) > 60:
                desc = desc[:57] + "..."
            table.add_row(
                str(v.id),
                render.local_time(v.data.occurred.start.isoformat(), diary.timezone)
                + (" ~" if v.data.occurred.approximate else ""),
                v.data.category,
                render.text(desc),
                str(len(v.attachments) or ""),
            )
        render.out.print(table)
        render.out.print(f"{render.plural(len(items), 'incident')}.")

    @cli.command()
    @click.argument("incident_id", type=int)
    @click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
    @pass_state
    def show(state: State, incident_id: int, as_json: bool) -> None:
        """Everything recorded about one incident."""
        diary = state.diary()
        view = diary.incident(incident_id)
        if as_json:
            render.emit_json(view.as_json())
        else:
            show_incident(diary, view)

    @cli.command()
    @click.argument("kind_or_id")
    @click.argument("record_id", required=False, type=int)
    @click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
    @pass_state
    def history(state: State, kind_or_id: str, record_id: int | None, as_json: bool) -> None:
        """Every version of a record: 'docket history 3' (incident 3) or 'history person 2'."""
        kind, rid = _kind_and_id(kind_or_id, record_id)
        diary = state.diary()
        versions = diary.history(kind, rid)
        if as_json:
            render.emit_json([v.as_json() for v in versions])
        else:
            show_history(versions, diary.timezone)

    @cli.command()
    @click.argument("kind_or_id")
    @click.argument("record_id", required=False, type=int)
    @click.option("--reason", "-r", required=True, help="Why; kept in the log.")
    @click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
    @pass_state
    def redact(
        state: State, kind_or_id: str, record_id: int | None, reason: str, yes: bool
    ) -> None:
        """Remove something's content from the diary for good (e.g. an intimate image).

        The log keeps a fingerprint and a note that you removed it, so checks still pass.
        """
        kind, rid = _kind_and_id(kind_or_id, record_id)
        diary = state.diary()
        extra = " and the files attached to it" if kind == "incident" else ""
        if not render.confirm(
            f"Remove {kind} {rid}{extra} from the diary for good? This cannot be undone.", yes
        ):
            render.err.print("Nothing was removed. (Use --yes to confirm without a prompt.)")
            raise click.exceptions.Exit(2)
        seq = diary.redact(kind, rid, reason)
        render.out.print(f"Removed. The log records it as entry #{seq}, with your reason.")


def _kind_and_id(kind_or_id: str, record_id: int | None) -> tuple[str, int]:
    if record_id is None:
        if not kind_or_id.isdigit():
            raise click.UsageError("Give a number, e.g. 'docket history 3' or 'history person 2'.")
        return "incident", int(kind_or_id)
    kind = kind_or_id.lower()
    if kind not in KINDS and kind not in log_records.KINDS:
        kinds = ", ".join((*KINDS, *log_records.KINDS))
        raise click.UsageError(f"{kind_or_id!r} is not one of: {kinds}.")
    return kind, record_id
