"""Commands for the tamper-evident log: checkpoint, key and verify."""

from __future__ import annotations

from pathlib import Path

import click
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

from docket.cli import render
from docket.cli.state import State, pass_state
from docket.errors import InputError
from docket.integrity import Report


def _read(path: Path, what: str) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise InputError(
            f"The {what} {path} could not be read.",
            cause=exc.strerror,
            hint="Check the path.",
        ) from exc


def show_report(report: Report, tz: str) -> None:
    o, t = render.out, render.text
    if report.ok:
        o.print(
            f"[bold]Every check passed.[/bold] {render.plural(report.entries, 'entry', 'entries')}"
            f" in the log, {render.plural(report.checkpoints, 'signed checkpoint')}, "
            f"{render.plural(report.files, 'evidence file')} "
            f"({render.human_size(report.file_bytes)}) re-checked byte for byte."
        )
    else:
        o.print(f"[bold]Problems were found ({len(report.problems)}):[/bold]")
        for p in report.problems[:200]:
            o.print(f"  - {t(p.message)}")
        if len(report.problems) > 200:
            o.print(f"  … and {len(report.problems) - 200} more (use --json to see them all)")
        if report.affected_entries():
            listed = ", ".join(map(str, report.affected_entries()[:50]))
            o.print(f"Entries affected: {listed}")
    for r in report.removals:
        o.print(
            f"  Entry {r.seq} ({r.subject.replace('/', ' ')}): removed by you on {r.removed_on}"
            " (its fingerprint stays in the log)."
        )
    for ts in report.timestamps:
        when = render.local_time(ts.gen_time, tz) if ts.gen_time else "unknown"
        o.print(
            f"  Timestamp from {t(ts.url)}: the first {ts.checkpoint_size} entries existed by "
            f"{when} ({t(ts.detail)})."
        )
    if report.queued_timestamps:
        o.print(
            f"  {render.plural(report.queued_timestamps, 'timestamp request')} still waiting "
            "to be sent ('docket checkpoint --retry')."
        )
    if report.since is not None and report.since.get("append_only"):
        o.print(
            f"The diary is an append-only extension of the checkpoint you gave "
            f"({report.since['size']} entries): nothing in it was changed or removed since, "
            "other than removals you recorded."
        )
    o.print(f"Signing key fingerprint: {report.fingerprint}")
    o.print(
        "[dim]These checks show whether entries and files changed after they were written. "
        "They cannot show that what was written is true, or when it was written, unless a "
        "checkpoint was timestamped or handed to someone at the time.[/dim]"
    )


def register(cli: click.Group) -> None:
    @cli.command()
    @click.option(
        "--timestamp",
        "urls",
        multiple=True,
        metavar="URL",
        help="Ask this RFC 3161 timestamp authority to stamp the checkpoint "
        "(repeatable). Only a hash is sent.",
    )
    @click.option(
        "--tsa-root",
        type=click.Path(path_type=Path, dir_okay=False),
        help="The authority's root certificate (PEM), to check its answer.",
    )
    @click.option("--retry", is_flag=True, help="Send timestamp requests that are waiting.")
    @click.option(
        "--out",
        "-o",
        type=click.Path(path_type=Path, dir_okay=False),
        help="Also write the signed checkpoint to this file.",
    )
    @click.option("--json", "as_json", is_flag=True)
    @pass_state
    def checkpoint(
        state: State,
        urls: tuple[str, ...],
        tsa_root: Path | None,
        retry: bool,
        out: Path | None,
        as_json: bool,
    ) -> None:
        """Sign a checkpoint of the log (and optionally get it timestamped).

        Keep the printed checkpoint, or give it to the police or your advocate: later,
        'docket verify --since FILE' proves nothing before it was changed.
        """
        diary = state.diary()
        root_pem = _read(tsa_root, "root certificate") if tsa_root else None
        retried = diary.retry_timestamps() if retry else []
        result = diary.checkpoint(list(urls), root_pem)
        if out is not None:
            if out.exists():
                raise InputError(
                    f"{out} already exists; Docket will not overwrite it.",
                    hint="Choose a new file name.",
                )
            out.write_text(result.note, encoding="utf-8")
        stamps = [*retried, *result.timestamps]
        if as_json:
            render.emit_json(
                {
                    "size": result.size,
                    "root": result.root.hex(),
                    "note": result.note,
                    "timestamps": [s.__dict__ for s in stamps],
                }
            )
            return
        render.out.print(f"Signed checkpoint of the first {result.size} log entries:\n")
        render.out.print(render.text(result.note), soft_wrap=True)
        for s in stamps:
            if s.status == "granted":
                render.out.print(
                    f"Timestamp from {render.text(s.url)}: granted, "
                    f"{s.gen_time} ({render.text(s.detail or '')})."
                )
            elif s.status == "queued":
                render.out.print(
                    f"Timestamp from {render.text(s.url)}: could not be reached "
                    "now; it will be sent with 'docket checkpoint --retry'."
                )
            else:
                render.out.print(
                    f"Timestamp from {render.text(s.url)}: refused ({render.text(s.detail or '')})."
                )
        if out is not None:
            render.out.print(f"Written to {render.text(str(out))}.")

    @cli.command()
    @click.option("--json", "as_json", is_flag=True)
    @pass_state
    def key(state: State, as_json: bool) -> None:
        """Show the diary's verifier key and its fingerprint, to hand over separately."""
        v = state.diary().key()
        if as_json:
            render.emit_json({"vkey": v.encode(), "fingerprint": v.fingerprint()})
            return
        render.out.print(f"Verifier key: {v.encode()}", soft_wrap=True)
        render.out.print(f"Fingerprint:  {v.fingerprint()}")
        render.out.print(
            "Give these to the police or your advocate separately from any evidence, for "
            "example written on paper, so they can check that checkpoints really come from "
            "this diary. The key cannot be used to read the diary."
        )

    @cli.command()
    @click.option(
        "--since",
        "since",
        type=click.Path(path_type=Path, dir_okay=False),
        help="A checkpoint file handed over earlier: prove the diary only grew since.",
    )
    @click.option(
        "--key",
        "vkey",
        help="The verifier key the checkpoint must be signed with (default: the diary's own).",
    )
    @click.option(
        "--tsa-roots",
        type=click.Path(path_type=Path, dir_okay=False),
        help="Root certificates (PEM) to check timestamps against.",
    )
    @click.option("--json", "as_json", is_flag=True)
    @pass_state
    def verify(
        state: State, since: Path | None, vkey: str | None, tsa_roots: Path | None, as_json: bool
    ) -> None:
        """Check every entry, file and checkpoint (exit 1 if anything changed)."""
        diary = state.diary()
        with Progress(
            "Checking",
            BarColumn(),
            MofNCompleteColumn(),
            TimeRemainingColumn(),
            console=render.err,
            transient=True,
            disable=as_json,
        ) as bar:
            task = bar.add_task("verify", total=None)
            report = diary.verify(
                since=_read(since, "checkpoint file") if since else None,
                since_vkey=vkey,
                tsa_roots_pem=_read(tsa_roots, "root certificate file") if tsa_roots else None,
                progress=lambda done, total: bar.update(task, completed=done, total=total),
            )
        if as_json:
            render.emit_json(report.as_json())
        else:
            show_report(report, diary.timezone)
        if not report.ok:
            raise click.exceptions.Exit(1)
