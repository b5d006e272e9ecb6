"""The hand-over pages: the report for police, an advocate or a court — chosen, previewed
(what it includes and leaves out), then downloaded as PDF or HTML — and the evidence bundle,
locked with a passphrase. Each route is a thin call into the report module and the facade."""

from __future__ import annotations

import asyncio
import shutil
import tempfile
from datetime import date
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, Response
from starlette.background import BackgroundTask

from docket import report
from docket.api import Diary
from docket.bundle import Selection
from docket.errors import InputError, PassphraseRejected
from docket.model import timeparse
from docket.store.keys import check_new_passphrase
from docket.web.app import form, render, session

router = APIRouter()


def _options(diary: Diary, fields: Any) -> report.ReportOptions:
    def get(name: str) -> str:
        return str(fields.get(name, "") or "")

    audience = get("audience") or "police"
    options = report.ReportOptions(
        audience=audience,
        start=timeparse.parse_day(get("start"), diary.timezone, "The first day"),
        end=timeparse.parse_day(get("end"), diary.timezone, "The last day"),
        prepared_by=get("prepared_by").strip(),
    )
    return report.with_choices(
        options,
        show_private_places=get("show_private_places") == "yes",
        show_witnesses=get("show_witnesses") == "yes",
        show_private_notes=get("show_private_notes") == "yes",
        leave_out_checklist=get("leave_out_checklist") == "yes",
    )


def _context(diary: Diary, values: dict[str, Any]) -> dict[str, Any]:
    return {
        "audiences": report.AUDIENCES,
        "values": values,
        "disclosure": diary.jurisdiction.disclosure_warning,
    }


@router.get("/report")
def report_page(request: Request) -> Response:
    state = session(request)
    fields = request.query_params
    with state.diary() as diary:
        ctx = _context(diary, dict(fields))
        if fields.get("audience"):
            try:
                built = report.build(diary, _options(diary, fields))
                ctx["preview"] = report.preview(built)
                ctx["title"] = built.audience_title
            except InputError as exc:
                return render(request, "report.html", {**ctx, "error": exc}, 400)
        return render(request, "report.html", ctx)


@router.post("/report")
async def report_download(request: Request) -> Response:
    state = session(request)
    fields = await form(request)
    kind = "html" if fields.get("format") == "html" else "pdf"
    with state.diary(wait=30) as diary:
        try:
            options = _options(diary, fields)
            built = await asyncio.to_thread(report.build, diary, options)
        except InputError as exc:
            ctx = {**_context(diary, dict(fields)), "error": exc}
            return render(request, "report.html", ctx, 400)
    if kind == "pdf":
        body = await asyncio.to_thread(report.render_pdf, built)
        media = "application/pdf"
    else:
        body = report.render_html(built).encode("utf-8")
        media = "text/html; charset=utf-8"
    name = f"docket-report-{options.audience}-{date.today():%Y-%m-%d}.{kind}"
    return Response(
        body,
        media_type=media,
        headers={
            "Content-Disposition": f'attachment; filename="{name}"',
            "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; sandbox",
        },
    )


# --- the evidence bundle --------------------------------------------------------------------


def _selection(diary: Diary, fields: Any) -> Selection:
    def get(name: str) -> str:
        return str(fields.get(name, "") or "")

    person = get("person")
    return Selection(
        person=int(person) if person.isdigit() else None,
        start=timeparse.parse_day(get("start"), diary.timezone, "The first day"),
        end=timeparse.parse_day(get("end"), diary.timezone, "The last day"),
        messages=get("messages") == "yes",
        include_private=get("include_private") == "yes",
    )


def _export_context(diary: Diary, values: dict[str, Any]) -> dict[str, Any]:
    return {
        "values": values,
        "people": [p for p in diary.people() if p.data is not None],
        "audiences": report.AUDIENCES,
        "disclosure": diary.jurisdiction.disclosure_warning,
        "fingerprint": diary.key().fingerprint(),
    }


@router.get("/export")
def export_page(request: Request) -> Response:
    state = session(request)
    with state.diary() as diary:
        return render(request, "export.html", _export_context(diary, {}))


@router.post("/export")
async def export_bundle(request: Request) -> Response:
    """Make the bundle, always locked with a passphrase in the web app (the file goes through
    the browser's downloads), and send it; the copy Docket made is removed once sent."""
    state = session(request)
    fields = await form(request)
    values = {k: v for k, v in dict(fields).items() if k not in ("passphrase", "again", "csrf")}
    folder = Path(tempfile.mkdtemp(prefix=".docket-export-", dir=state.scratch_dir()))
    out = folder / "evidence.bundle"
    try:
        with state.diary(wait=30) as diary:
            try:
                passphrase = str(fields.get("passphrase", ""))
                check_new_passphrase(passphrase)
                if passphrase != str(fields.get("again", "")):
                    raise PassphraseRejected(
                        "The two passphrases are not the same.",
                        hint="Type the same passphrase in both boxes.",
                    )
                selection = _selection(diary, fields)
                result = await asyncio.to_thread(
                    diary.export,
                    out,
                    selection,
                    recipient=str(fields.get("recipient", "")),
                    purpose=str(fields.get("purpose", "")),
                    audience=str(fields.get("audience", "") or "police"),
                    passphrase=passphrase,
                )
            except (InputError, PassphraseRejected) as exc:
                shutil.rmtree(folder, ignore_errors=True)
                ctx = {**_export_context(diary, values), "error": exc}
                return render(request, "export.html", ctx, 400)
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    name = f"docket-evidence-{date.today():%Y-%m-%d}.bundle"
    return FileResponse(
        out,
        media_type="application/octet-stream",
        filename=name,
        headers={"X-Docket-Export-Entry": str(result.export_entry)},
        background=BackgroundTask(shutil.rmtree, folder, ignore_errors=True),
    )
