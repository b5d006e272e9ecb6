"""The tech-safety commands: ``docket safety phone`` (known stalkerware indicators in an
Android phone's app list), ``docket safety indicators load|update|show``, ``docket safety
checks``, ``docket safety photos`` (location and device details in photos before posting,
with cleaned copies) and ``docket safety accounts [answer]`` (the account-safety
checklist)."""

from __future__ import annotations

import contextlib
import io
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

import click

from docket.api import Diary
from docket.checklist import (
    ACCOUNTS_INTRO,
    ACCOUNTS_SAFETY_FIRST,
    ChecklistData,
    accounts_support,
    render_caution,
    topics,
)
from docket.cli import render
from docket.cli.pattern_cmds import gather_answers
from docket.cli.state import State, pass_state
from docket.errors import AdbFailed
from docket.safety import adb, android, indicators, photos
from docket.safety.kept import IndicatorsInfo, PhoneCheckView


def _show_accounts(diary: Diary, data: ChecklistData, updated_at: str | None) -> None:
    o = render.out
    j = diary.jurisdiction
    o.print("[bold]Checking your phone and accounts[/bold]")
    o.print(render.text(ACCOUNTS_INTRO))
    o.print(f"\n[bold]{render.text(ACCOUNTS_SAFETY_FIRST)}[/bold]")
    if updated_at:
        o.print(f"[dim]Last changed {render.local_time(updated_at, diary.timezone)}.[/dim]")
    for topic, qs in topics("accounts"):
        o.print(f"\n[bold underline]{render.text(topic)}[/bold underline]")
        for q in qs:
            a = data.answer(q.id)
            answer = "Not answered" if a is None or not a.choice else q.label(a.choice)
            o.print(f"\n[bold]{render.text(q.text)}[/bold]  [dim]({q.id})[/dim]")
            o.print(f"  Your answer: {render.text(answer)}")
            if a is not None and a.details:
                o.print(f"  Your notes: {render.text(a.details)}")
            o.print(f"  [dim]Why: {render.text(q.why)}[/dim]")
            caution = render_caution(q, j)
            if caution:
                o.print(f"  [bold]Before you do this:[/bold] {render.text(caution)}")
            for n, step in enumerate(q.how_steps, 1):
                o.print(f"  {n}. {render.text(step)}")
    o.print(f"\n{render.text(accounts_support(j))}")


def _show_indicators(info: IndicatorsInfo) -> None:
    o = render.out
    c = info.counts
    if info.source == "download":
        came = "downloaded from " + (info.url or "the upstream project")
    else:
        came = "loaded from files you gave"
    o.print(
        f"The diary holds {c.get('apps', 0)} known apps ({c.get('packages', 0)} package names, "
        f"{c.get('certificates', 0)} signing certificates), {came}, "
        f"{render.local_time(info.updated_at, 'UTC')} (UTC)."
    )
    for f in info.files:
        o.print(f"  {render.text(f['name'])}  {f['size']:,} bytes  SHA-256 {f['sha256']}")
    o.print(f"[dim]{render.text(indicators.ATTRIBUTION)}[/dim]")


def _show_check_summary(view: PhoneCheckView) -> None:
    what = (
        android.FOUND_TITLE + ": " + ", ".join(view.apps_found)
        if view.found
        else android.NOT_FOUND_TITLE
    )
    names = ", ".join(str(r.get("name", "")) for r in view.results)
    render.out.print(
        f"{view.id:>4}  {view.recorded_at[:16].replace('T', ' ')}  {render.text(what)}  "
        f"[dim]({view.packages_checked} app(s); {render.text(names)})[/dim]"
    )


def register(cli: click.Group) -> None:
    @cli.group()
    def safety() -> None:
        """Tech-safety checks: spying apps on an Android phone, location in photos, and
        your accounts. None of them can prove a phone or an account is free of access."""

    @safety.command("phone")
    @click.argument("files", nargs=-1, type=click.Path(path_type=Path, exists=True, dir_okay=False))
    @click.option("--adb", "use_adb", is_flag=True, help="Read the app list from a phone over adb.")
    @click.option("--serial", help="With --adb: which phone, when several are connected.")
    @click.option("--json", "as_json", is_flag=True)
    @pass_state
    def phone(
        state: State, files: tuple[Path, ...], use_adb: bool, serial: str | None, as_json: bool
    ) -> None:
        """Look for known stalkerware in an Android phone's apps.

        FILES are what you saved from the phone: the output of 'adb shell pm list packages
        -f -i -U' or 'adb shell dumpsys package', a bug report zip ('adb bugreport'),
        'apksigner verify --print-certs' output, or an .apk file. With --adb, Docket asks a
        connected phone itself. Each file and the result are kept in your diary.
        """
        if bool(files) == use_adb:
            raise click.UsageError("Give the files saved from the phone, or --adb (not both).")
        diary = state.diary()
        if use_adb:
            diary.indicator_set()  # no indicators: say so before asking the phone anything
        with contextlib.ExitStack() as stack:
            inputs: list[tuple[str, BinaryIO]] = []
            if use_adb:
                program = adb.available()
                if program is None:
                    raise AdbFailed(
                        "adb is not installed on this computer.",
                        hint="Install it (on Debian or Ubuntu: sudo apt-get install adb), or "
                        "save the app list on another computer and give the file instead.",
                    )
                if not as_json:
                    render.err.print("Asking the phone for its list of apps…")
                outputs = adb.collect(program, serial)
                for name, data in outputs.items():
                    inputs.append((name, stack.enter_context(_bytes_stream(data))))
            else:
                for path in files:
                    inputs.append((path.name, stack.enter_context(path.open("rb"))))
            view, results = diary.check_phone(inputs, via="adb" if use_adb else "file")
        if as_json:
            render.emit_json(view.as_json())
            return
        for result in results:
            render.out.print(render.text(android.render_text(result)))
        render.out.print(f"This check is kept in your diary as phone check {view.id}.")

    @safety.command("checks")
    @click.option("--json", "as_json", is_flag=True)
    @pass_state
    def checks(state: State, as_json: bool) -> None:
        """List the phone checks kept in the diary."""
        views = state.diary().phone_checks()
        if as_json:
            render.emit_json([v.as_json() for v in views])
            return
        if not views:
            render.out.print("No phone checks are kept in the diary yet.")
            return
        for v in views:
            _show_check_summary(v)

    @safety.group("indicators", invoke_without_command=True)
    @click.option("--json", "as_json", is_flag=True)
    @pass_state
    @click.pass_context
    def indicators_group(ctx: click.Context, state: State, as_json: bool) -> None:
        """The list of known stalkerware apps a phone check compares against (Echap's
        stalkerware-indicators, CC BY 4.0), kept inside the diary."""
        if ctx.invoked_subcommand is not None:
            return
        info = state.diary().indicators_info()
        if as_json:
            render.emit_json(info.as_json() if info else None)
            return
        if info is None:
            render.out.print(
                "The diary does not hold the list of known stalkerware apps yet. Load Echap's "
                "ioc.yaml and watchware.yaml with 'docket safety indicators load FILE...', or "
                "fetch them with 'docket safety indicators update'."
            )
            return
        _show_indicators(info)

    @indicators_group.command("load")
    @click.argument(
        "files", nargs=-1, required=True, type=click.Path(path_type=Path, dir_okay=False)
    )
    @pass_state
    def indicators_load(state: State, files: tuple[Path, ...]) -> None:
        """Keep indicator files you have (ioc.yaml, watchware.yaml) in the diary."""
        # parsed once, as they are kept: errors name the file as given, and its line
        info = state.diary().save_indicators(indicators.read_files(files), source="file")
        _show_indicators(info)

    @indicators_group.command("update")
    @click.option(
        "--url",
        default=indicators.UPSTREAM_BASE,
        show_default=True,
        help="Where to fetch ioc.yaml and watchware.yaml from.",
    )
    @pass_state
    def indicators_update(state: State, url: str) -> None:
        """Fetch the latest indicator files from Echap's project (this is the only time a
        phone check uses the internet) and keep them in the diary."""
        diary = state.diary()
        render.err.print(f"Fetching {', '.join(indicators.UPSTREAM_FILES)} from {url} …")
        files = indicators.download(url)
        info = diary.save_indicators(list(files.items()), source="download", url=url)
        _show_indicators(info)

    @safety.command("photos")
    @click.argument("folder", type=click.Path(path_type=Path, file_okay=False))
    @click.option(
        "--clean-to",
        type=click.Path(path_type=Path, file_okay=False),
        help="Write copies without the hidden details into this (other) folder.",
    )
    @click.option("--no-recurse", is_flag=True, help="Leave out sub-folders.")
    @click.option("--json", "as_json", is_flag=True)
    def photos_cmd(folder: Path, clean_to: Path | None, no_recurse: bool, as_json: bool) -> None:
        """Check photos for location and device details before you post or send them.

        Nothing is kept in the diary and the photos are never changed. With --clean-to,
        copies with those details removed (the pixels untouched) are written to another
        folder. This command does not need your diary.
        """
        findings = list(photos.scan_folder(folder, recursive=not no_recurse))
        written: list[photos.CleanResult] = []
        if clean_to is not None:
            clean_to.mkdir(parents=True, exist_ok=True)
            written = photos.clean_folder(folder, clean_to, recursive=not no_recurse)
        if as_json:
            render.emit_json(
                {
                    "photos": [
                        {
                            "path": f.path,
                            "media_type": f.media_type,
                            "has_location": f.has_location,
                            "location": f.location,
                            "device": f.device,
                            "details": list(f.details),
                            "warnings": list(f.warnings),
                        }
                        for f in findings
                    ],
                    "copies": [
                        {
                            "path": r.path,
                            "output": str(r.output) if r.output else None,
                            "method": r.method,
                            "removed": list(r.removed),
                            "reason": r.reason,
                        }
                        for r in written
                    ],
                    "caution": photos.PICTURE_CAUTION,
                }
            )
            return
        _show_photos(findings, written, clean_to)

    @safety.group("accounts", invoke_without_command=True)
    @click.option("--json", "as_json", is_flag=True)
    @pass_state
    @click.pass_context
    def accounts(ctx: click.Context, state: State, as_json: bool) -> None:
        """The account-safety checklist: what to check, why, and how."""
        if ctx.invoked_subcommand is not None:
            return
        diary = state.diary()
        view = diary.checklist("accounts")
        if as_json:
            j = diary.jurisdiction
            render.emit_json(
                {
                    "updated_at": view.updated_at,
                    "topics": [
                        {
                            "topic": topic,
                            "questions": [
                                {
                                    "id": q.id,
                                    "text": q.text,
                                    "why": q.why,
                                    "caution": render_caution(q, j),
                                    "how": list(q.how_steps),
                                    "options": [{"code": c, "label": lab} for c, lab in q.options],
                                    "answer": (
                                        a.as_record() if (a := view.data.answer(q.id)) else None
                                    ),
                                }
                                for q in qs
                            ],
                        }
                        for topic, qs in topics("accounts")
                    ],
                }
            )
            return
        _show_accounts(diary, view.data, view.updated_at)

    @accounts.command("answer")
    @click.option(
        "--set",
        "given",
        multiple=True,
        metavar="QUESTION=ANSWER",
        help="e.g. --set two_step_email=done (done, not_yet, not_sure, not_applicable).",
    )
    @click.option("--details", multiple=True, metavar="QUESTION=TEXT", help="Notes (repeatable).")
    @pass_state
    def accounts_answer(state: State, given: tuple[str, ...], details: tuple[str, ...]) -> None:
        """Work through the checklist (Enter keeps an answer; '-' clears it)."""
        diary = state.diary()
        current = dict(diary.checklist("accounts").data.answers)
        answers = gather_answers(
            current, given, details, "accounts", ACCOUNTS_INTRO, "safety accounts"
        )
        diary.save_checklist(ChecklistData.build(answers, "accounts"), "accounts")
        render.out.print("Your answers are kept in the diary.")


@contextlib.contextmanager
def _bytes_stream(data: bytes) -> Iterator[BinaryIO]:
    with io.BytesIO(data) as stream:
        yield stream


def _show_photos(
    findings: list[photos.PhotoFinding], written: list[photos.CleanResult], out: Path | None
) -> None:
    o = render.out
    if not findings:
        o.print("There are no photos in that folder.")
        return
    telling = [f for f in findings if f.reveals]
    located = [f for f in findings if f.has_location]
    o.print(
        f"Checked {len(findings)} photo(s): {len(located)} hold a location, "
        f"{len(telling)} hold other details about where, when or with what they were taken."
    )
    for f in findings:
        if not f.reveals and not f.warnings:
            continue
        o.print(f"\n[bold]{render.text(f.path)}[/bold]")
        if f.location:
            o.print(f"  Location: {f.location}")
        if f.device:
            o.print(f"  Taken with: {render.text(f.device)}")
        for d in f.details:
            o.print(f"  - {render.text(d)}")
        for w in f.warnings:
            o.print(f"  [dim]{render.text(w)}[/dim]")
    if out is not None:
        made = [r for r in written if r.written]
        o.print(f"\nWrote {len(made)} cop{'y' if len(made) == 1 else 'ies'} into {out}.")
        for r in written:
            if not r.written:
                o.print(f"  No copy of {render.text(r.path)}: {render.text(r.reason)}")
        o.print("The original photos were not changed.")
    elif telling:
        o.print("\nTo make copies without these details, add --clean-to and another folder.")
    o.print(f"\n{render.text(photos.PICTURE_CAUTION)}")
