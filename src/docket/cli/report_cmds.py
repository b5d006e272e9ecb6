"""The report command: ``docket report --out FILE.pdf|FILE.html`` for police, an advocate or a
court, with a preview of what it leaves out before anything is written."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import click

from docket import report, tabular, timeline
from docket.bundle import Selection
from docket.cli import passphrase as passphrase_for
from docket.cli import render
from docket.cli.state import State, pass_state
from docket.model import timeparse


def register(cli: click.Group) -> None:
    @cli.command("report")
    @click.option(
        "--out",
        "out",
        type=click.Path(path_type=Path, dir_okay=False),
        help="Where to write it: a name ending .pdf or .html.",
    )
    @click.option(
        "--audience", type=click.Choice(list(report.AUDIENCES)), default="police", show_default=True
    )
    @click.option("--from", "start", help="The first day to include, e.g. 01/03/2026.")
    @click.option("--to", "end", help="The last day to include.")
    @click.option("--name", "prepared_by", default="", help="A name or reference for the cover.")
    @click.option("--include-private-places", is_flag=True, help="Show places marked private.")
    @click.option("--include-witness-contacts", is_flag=True, help="Show witnesses' contacts.")
    @click.option("--include-private-notes", is_flag=True, help="Show your private notes.")
    @click.option("--without-checklist", is_flag=True, help="Leave out your checklist answers.")
    @click.option("--preview", is_flag=True, help="Only say what it would include and leave out.")
    @click.option("--yes", "-y", is_flag=True, help="Do not ask for confirmation.")
    @click.option("--json", "as_json", is_flag=True)
    @pass_state
    def report_cmd(
        state: State,
        out: Path | None,
        audience: str,
        start: str | None,
        end: str | None,
        prepared_by: str,
        include_private_places: bool,
        include_witness_contacts: bool,
        include_private_notes: bool,
        without_checklist: bool,
        preview: bool,
        yes: bool,
        as_json: bool,
    ) -> None:
        """Make a report of the diary for the police, an advocate or a court.

        It has a cover with an integrity summary, the pattern on one page with charts, every
        incident in order, the effect on you in your own words, the evidence with fingerprints,
        contact with the police, the law's context and how to check it. Private notes are left
        out unless you ask; places marked private and witnesses' contacts are left out of the
        police and court versions unless you ask.
        """
        diary = state.diary()
        options = report.ReportOptions(
            audience=audience,
            start=timeparse.parse_day(start, diary.timezone, "--from"),
            end=timeparse.parse_day(end, diary.timezone, "--to"),
            prepared_by=prepared_by.strip(),
        )
        options = report.with_choices(
            options,
            show_private_places=include_private_places,
            show_witnesses=include_witness_contacts,
            show_private_notes=include_private_notes,
            leave_out_checklist=without_checklist,
        )
        built = report.build(diary, options)
        seen = report.preview(built)
        if preview or out is None:
            if as_json:
                render.emit_json(seen)
                return
            o = render.out
            o.print(f"[bold]{render.text(built.audience_title)}[/bold]: {seen['period']}.")
            o.print(
                f"It would include {render.plural(seen['incidents'], 'incident')}, "
                f"{render.plural(seen['files'], 'evidence file')} and "
                f"{render.plural(seen['checklist_answers'], 'checklist answer')}."
            )
            if seen["withheld"]:
                o.print("It leaves out: " + "; ".join(seen["withheld"]) + ".")
            o.print(f"\n[dim]{render.text(diary.jurisdiction.disclosure_warning)}[/dim]")
            if out is None:
                o.print("Give --out FILE.pdf or --out FILE.html to write it.")
            return
        if not as_json:
            render.out.print(render.text(diary.jurisdiction.disclosure_warning))
            if seen["withheld"]:
                render.out.print("Left out: " + "; ".join(seen["withheld"]) + ".")
            if not render.confirm(f"Write the report to {out}?", yes):
                if not yes:
                    render.out.print(
                        "Nothing was written. Add --yes to write it without being asked."
                    )
                return
        path, sha = report.write(built, out)
        if as_json:
            render.emit_json({**seen, "file": str(path), "sha256": sha})
            return
        render.out.print(f"Written: {path} (SHA-256 {sha}).")
        render.footer(diary.jurisdiction)


def register_export(cli: click.Group) -> None:
    @cli.command("export")
    @click.option(
        "--out",
        "out",
        required=True,
        type=click.Path(path_type=Path, dir_okay=False),
        help="Where to write the bundle, e.g. evidence.zip.",
    )
    @click.option(
        "--to",
        "recipient",
        required=True,
        help="Who it is for, e.g. 'Kent Police, PC 1234 Smith' (kept in the log).",
    )
    @click.option("--purpose", default="", help="Why, e.g. a crime reference.")
    @click.option(
        "--audience",
        type=click.Choice(list(report.AUDIENCES)),
        default="police",
        show_default=True,
        help="Which report goes in the bundle.",
    )
    @click.option(
        "--incident",
        "incidents",
        multiple=True,
        type=int,
        help="An incident's number (repeatable).",
    )
    @click.option("--person", help="Only incidents with this person (name or number).")
    @click.option(
        "--category", "categories", multiple=True, help="Only this category (repeatable)."
    )
    @click.option("--from", "start", help="The first day to include.")
    @click.option("--to-date", "end", help="The last day to include.")
    @click.option(
        "--messages",
        is_flag=True,
        help="Also the calls and messages from the people in the chosen incidents.",
    )
    @click.option(
        "--include-private",
        is_flag=True,
        help="Also incidents that hold private notes (disclosed whole).",
    )
    @click.option("--encrypt", is_flag=True, help="Lock the bundle with a passphrase.")
    @click.option("--yes", "-y", is_flag=True, help="Do not ask for confirmation.")
    @click.option("--json", "as_json", is_flag=True)
    @pass_state
    def export_cmd(
        state: State,
        out: Path,
        recipient: str,
        purpose: str,
        audience: str,
        incidents: tuple[int, ...],
        person: str | None,
        categories: tuple[str, ...],
        start: str | None,
        end: str | None,
        messages: bool,
        include_private: bool,
        encrypt: bool,
        yes: bool,
        as_json: bool,
    ) -> None:
        """Make an evidence bundle: only the entries you choose, their files, a report, and
        the proofs that let anyone check them with docket-verify, without your diary.

        Each entry goes out whole. Incidents that hold private notes stay out unless you add
        --include-private. The export is recorded in the diary: what went, to whom, when.
        """
        diary = state.diary()
        selection = Selection(
            incidents=incidents,
            person=diary.resolve_person(person) if person else None,
            categories=tuple(c.upper() for c in categories),
            start=timeparse.parse_day(start, diary.timezone, "--from"),
            end=timeparse.parse_day(end, diary.timezone, "--to-date"),
            messages=messages,
            include_private=include_private,
        )
        if not as_json:
            render.out.print(render.text(diary.jurisdiction.disclosure_warning))
            if not render.confirm(f"Write the bundle for {recipient} to {out}?", yes):
                render.out.print("Nothing was written. Add --yes to write it without being asked.")
                return
        passphrase = None
        if encrypt:
            passphrase = passphrase_for.new(None, env_name="DOCKET_BUNDLE_PASSPHRASE")
        result = diary.export(
            out,
            selection,
            recipient=recipient,
            purpose=purpose,
            audience=audience,
            passphrase=passphrase,
        )
        if as_json:
            render.emit_json(result.as_json())
            return
        o = render.out
        o.print(f"Written: {result.path} (SHA-256 {result.sha256}).")
        o.print(
            f"It holds {render.plural(result.entries, 'log entry', 'log entries')}, "
            f"{render.plural(result.messages, 'message')} and "
            f"{render.plural(result.files, 'file')}; {result.withheld_entries:,} entries of "
            "the diary are not in it."
        )
        if result.withheld_private:
            o.print(
                "Left out because they hold private notes: incidents "
                + ", ".join(map(str, result.withheld_private))
                + " (add --include-private to include them)."
            )
        o.print(f"The export is recorded in the diary as log entry {result.export_entry}.")
        o.print(
            "Give the key fingerprint ('docket key') to the recipient separately, so they can "
            "check the bundle with docket-verify."
        )


def register_timeline(cli: click.Group) -> None:
    @cli.command("timeline")
    @click.option(
        "--out",
        "out",
        type=click.Path(path_type=Path, dir_okay=False),
        help="Write every matching row to a .csv, .json or .jsonl file.",
    )
    @click.option("--person", help="Only this person (name or number).")
    @click.option("--category", help="Only incidents of this category.")
    @click.option("--from", "start", help="The first day.")
    @click.option("--to", "end", help="The last day.")
    @click.option(
        "--include-private", is_flag=True, help="Include private notes and places marked private."
    )
    @click.option("--limit", default=30, show_default=True, help="Rows to show on screen.")
    @pass_state
    def timeline_cmd(
        state: State,
        out: Path | None,
        person: str | None,
        category: str | None,
        start: str | None,
        end: str | None,
        include_private: bool,
        limit: int,
    ) -> None:
        """Incidents and imported messages together, newest first; or, with --out, the whole
        table for an analyst (CSV or JSON)."""

        diary = state.diary()
        tz = timeparse.zone(diary.timezone)
        iso = "%Y-%m-%dT%H:%M:%SZ"

        def bound(text: str | None, what: str, add: int) -> str | None:
            day = timeparse.parse_day(text, diary.timezone, what)
            if day is None:
                return None
            moment = datetime.combine(day, datetime.min.time(), tz) + timedelta(days=add)
            return moment.astimezone(UTC).strftime(iso)

        f = timeline.TimelineFilter(
            person_id=diary.resolve_person(person) if person else None,
            category=category.upper() if category else None,
            start_utc=bound(start, "--from", 0),
            end_utc=bound(end, "--to", 1),
        )
        if out is not None:
            n = tabular.write(diary, out, f, private=include_private)
            render.out.print(f"Written: {out} ({render.plural(n, 'row')}, newest first).")
            return
        for i, row in enumerate(tabular.rows(diary, f, private=include_private)):
            if i >= limit:
                render.out.print("[dim]… more with --limit, or --out FILE.csv for all.[/dim]")
                break
            when = render.local_time(row["when_utc"], diary.timezone) if row["when_utc"] else "?"
            what = row["category"] or row["channel"]
            render.out.print(
                f"{when}  {row['type']:<8} {render.text(str(what))}: "
                f"{render.text(str(row['text'])[:90])}"
            )
