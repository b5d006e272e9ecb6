"""Commands about the diary as a whole: init, start, summary, categories, backup, check, and
passphrase change."""

from __future__ import annotations

from pathlib import Path

import click
from rich.table import Table

from docket.api import Diary
from docket.cli import passphrase, render
from docket.cli.state import State, pass_state
from docket.jurisdictions import available
from docket.jurisdictions import load as load_jurisdiction
from docket.model.views import Summary


def _create(
    state: State, new_passphrase_file: Path | None, jurisdiction: str | None, timezone: str | None
) -> Diary:
    s = state.settings
    secret = passphrase.new(new_passphrase_file, env_name="DOCKET_PASSPHRASE")
    diary = Diary.create(
        s.diary,
        secret,
        jurisdiction=jurisdiction or s.jurisdiction,
        timezone=timezone or s.timezone,
        region=s.region,
    )
    state.adopt(diary)
    return diary


def show_summary(diary: Diary, summary: Summary) -> None:
    o = render.out
    tz = diary.timezone
    o.print(f"[bold]Your diary[/bold]  {render.text(summary.path)}")
    o.print(f"Jurisdiction: {render.text(summary.jurisdiction)}   Time zone: {tz}")
    o.print(
        f"{render.plural(summary.incidents, 'incident')}, "
        f"{render.plural(summary.people, 'person', 'people')}, "
        f"{render.plural(summary.attachments, 'evidence file')} "
        f"({render.human_size(summary.evidence_bytes)}); "
        f"{render.plural(summary.entries, 'entry', 'entries')} in the log."
    )
    if summary.first_incident and summary.latest_incident:
        o.print(f"First incident:  {render.local_time(summary.first_incident, tz)}")
        o.print(
            f"Latest incident: {render.local_time(summary.latest_incident, tz)}"
            f" ({render.plural(summary.days_since_latest or 0, 'day')} ago)"
        )
        table = Table(title="Incidents by category", show_edge=False, title_justify="left")
        table.add_column("Category")
        table.add_column("Count", justify="right")
        for code, n in summary.by_category.items():
            cat = diary.jurisdiction.category(code)
            table.add_row(f"{code} {render.text(cat.name if cat else code)}", str(n))
        o.print(table)
    else:
        o.print(
            "Nothing recorded yet. When something happens, add it with, for example:\n"
            "  docket add --category CON --occurred 'today 14:30' --description 'What happened'"
        )
    if summary.redactions:
        o.print(f"{render.plural(summary.redactions, 'removal')} made by you recorded in the log.")
    render.footer(diary.jurisdiction)


def register(cli: click.Group) -> None:
    @cli.command()
    @click.option("--jurisdiction", type=click.Choice(available()), help="Default: england-wales.")
    @click.option("--timezone", help="Time zone for dates you type (default: the jurisdiction's).")
    @click.option(
        "--new-passphrase-file",
        type=click.Path(path_type=Path, dir_okay=False),
        help="Read the new passphrase from this file. Env: DOCKET_PASSPHRASE.",
    )
    @pass_state
    def init(
        state: State,
        jurisdiction: str | None,
        timezone: str | None,
        new_passphrase_file: Path | None,
    ) -> None:
        """Create a new, empty diary."""
        diary = _create(state, new_passphrase_file, jurisdiction, timezone)
        render.out.print(f"Your new diary is ready at {render.text(str(diary.path))}.")
        render.out.print(
            "It is encrypted with your passphrase. Keep a backup ('docket backup') somewhere safe."
        )
        render.footer(diary.jurisdiction)

    @cli.command()
    @pass_state
    def start(state: State) -> None:
        """Open your diary (creating it the first time) and show its summary."""
        if not state.settings.diary.exists():
            render.out.print("Welcome to Docket. Let's create your diary.")
            diary = _create(state, None, None, None)
        else:
            diary = state.diary()
        show_summary(diary, diary.summary())

    @cli.command()
    @click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
    @pass_state
    def summary(state: State, as_json: bool) -> None:
        """Counts, first and latest incident, and incidents by category."""
        diary = state.diary()
        result = diary.summary()
        if as_json:
            render.emit_json(result.as_json())
        else:
            show_summary(diary, result)

    @cli.command()
    @click.option("--jurisdiction", type=click.Choice(available()))
    @click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
    @pass_state
    def categories(state: State, jurisdiction: str | None, as_json: bool) -> None:
        """The incident categories, and the law's examples they are similar to."""
        j = load_jurisdiction(jurisdiction or state.settings.jurisdiction)
        if as_json:
            render.emit_json([c.__dict__ for c in j.categories])
            return
        table = Table(show_edge=False)
        table.add_column("Code")
        table.add_column("Category")
        table.add_column("What it covers")
        for c in j.categories:
            table.add_row(c.code, render.text(c.name), render.text(c.definition))
        render.out.print(table)
        render.out.print(
            render.text(
                f"\n{j.name}: police and prosecutors decide what, if anything, the law covers."
            )
        )

    @cli.command()
    @click.argument("target", required=False, type=click.Path(path_type=Path, dir_okay=False))
    @pass_state
    def backup(state: State, target: Path | None) -> None:
        """Write an encrypted one-file copy of the diary, and check it opens."""
        diary = state.diary()
        target = target or diary.default_backup_path()
        snap = diary.backup(target)
        render.out.print(
            f"Backup written to {render.text(str(target))} and checked: it opens with the same "
            f"passphrase and holds all {snap.entries} log entries."
        )
        render.out.print(
            "Keep it somewhere the other person cannot reach, such as a USB stick "
            "kept with someone you trust."
        )

    @cli.command()
    @click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
    @pass_state
    def check(state: State, as_json: bool) -> None:
        """Check every page of the encrypted file (exit 1 if any is damaged)."""
        problems = state.diary().check_file()
        if as_json:
            render.emit_json({"ok": not problems, "problems": problems})
        elif problems:
            render.out.print("The diary file has damaged pages:")
            for p in problems[:50]:
                render.out.print(f"  {render.text(p)}")
        else:
            render.out.print("Every page of the diary file checks out.")
        if problems:
            raise click.exceptions.Exit(1)

    @cli.group("passphrase")
    def passphrase_group() -> None:
        """Change the diary's passphrase."""

    @passphrase_group.command("change")
    @click.option(
        "--new-passphrase-file",
        type=click.Path(path_type=Path, dir_okay=False),
        help="Read the new passphrase from this file. Env: DOCKET_NEW_PASSPHRASE.",
    )
    @pass_state
    def change(state: State, new_passphrase_file: Path | None) -> None:
        """Re-encrypt the diary under a new passphrase (all at once, or not at all)."""
        diary = state.diary()
        secret = passphrase.new(new_passphrase_file)
        diary.change_passphrase(secret)
        render.out.print("The passphrase has been changed. The old one no longer opens the diary.")
        render.out.print("Backups made before now still open with the old passphrase.")
