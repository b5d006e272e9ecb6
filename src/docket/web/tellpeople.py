"""Telling people: the safety sheet about a person (preview with ticks, then the PDF or the
text), the blank witness note, and keeping what a witness wrote as a witness account linked
to an incident. Each route is a thin call into the facade and ``docket.sheet``."""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from starlette.datastructures import FormData

from docket import sheet
from docket.api import Diary
from docket.errors import InputError
from docket.model import timeparse
from docket.model.records import WitnessAccountData
from docket.web.app import download, form, redirect, render, session
from docket.web.pages import local

router = APIRouter()

_WITNESS_FIELDS = (
    "name",
    "relationship",
    "contact",
    "seen_on",
    "time_from",
    "time_to",
    "place",
    "saw",
    "heard",
    "appearance",
    "other",
    "written_on",
    "received_on",
    "attachment",
)


def _witness_data(diary: Diary, incident_id: int, fields: Any) -> WitnessAccountData:
    def get(name: str) -> str:
        return str(fields.get(name, "") or "").strip()

    tz = diary.timezone
    attachment = get("attachment")
    return WitnessAccountData(
        incident=incident_id,
        name=get("name"),
        saw=get("saw"),
        heard=get("heard"),
        contact=get("contact"),
        relationship=get("relationship"),
        seen_on=timeparse.parse_day(get("seen_on"), tz, "The day they saw it"),
        time_from=get("time_from"),
        time_to=get("time_to"),
        place=get("place"),
        appearance=get("appearance"),
        other=get("other"),
        written_on=timeparse.parse_day(get("written_on"), tz, "The day they wrote it"),
        received_on=timeparse.parse_day(get("received_on"), tz, "The day you received it"),
        attachment=int(attachment) if attachment.isdigit() else None,
    )


def _witness_context(diary: Diary, incident_id: int) -> dict[str, Any]:
    view = diary.incident(incident_id)
    files = [a for a in view.attachments if a.data is not None]
    return {"i": view, "files": files, "local": lambda t: local(diary, t)}


@router.get("/incidents/{incident_id}/witness")
def witness_page(request: Request, incident_id: int) -> Response:
    state = session(request)
    with state.diary() as diary:
        ctx = _witness_context(diary, incident_id)
        if ctx["i"].data is None:
            return redirect(f"/incidents/{incident_id}")
        return render(request, "witness_form.html", {**ctx, "values": {}})


@router.post("/incidents/{incident_id}/witness")
async def witness_add(request: Request, incident_id: int) -> Response:
    state = session(request)
    fields = await form(request)
    with state.diary() as diary:
        try:
            data = _witness_data(diary, incident_id, fields)
            await asyncio.to_thread(diary.add_witness_account, data)
        except InputError as exc:
            ctx = _witness_context(diary, incident_id)
            values = {k: str(fields.get(k, "")) for k in _WITNESS_FIELDS}
            return render(
                request, "witness_form.html", {**ctx, "values": values, "error": exc}, 400
            )
    return redirect(f"/incidents/{incident_id}?saved=witness#witnesses-h", request)


# --- the safety sheet -----------------------------------------------------------------------


def _ids(fields: FormData, name: str) -> tuple[int, ...]:
    return tuple(int(str(v)) for v in fields.getlist(name) if str(v).isdigit())


def _choices(person_id: int, fields: FormData) -> sheet.SheetChoices:
    def get(name: str) -> str:
        return str(fields.get(name, "") or "").strip()

    photo = get("photo")
    return sheet.SheetChoices(
        person_id=person_id,
        audience=get("audience") or "family",
        user_name=get("user_name"),
        places=tuple(str(v) for v in fields.getlist("place")),
        photo=int(photo) if photo.isdigit() else None,
        reference=get("reference"),
        incidents=_ids(fields, "incident"),
        messages=_ids(fields, "message"),
        private_notes=_ids(fields, "note"),
        person_notes=get("person_notes") == "yes",
        contact_name=get("contact_name"),
        contact_phone=get("contact_phone"),
        contact_other=get("contact_other"),
        extra=get("extra"),
    )


def _sheet_context(
    diary: Diary, person_id: int, choices: sheet.SheetChoices | None
) -> dict[str, Any]:
    opts = sheet.options(diary, person_id)
    if choices is None:  # the first visit: suggested places ticked, nothing else
        choices = sheet.SheetChoices(
            person_id, places=tuple(p.text for p in opts.places if p.suggested)
        )
    return {"o": opts, "c": choices, "audiences": sheet.AUDIENCES}


@router.get("/people/{person_id}/sheet")
def sheet_page(request: Request, person_id: int) -> Response:
    state = session(request)
    with state.diary() as diary:
        return render(request, "sheet_form.html", _sheet_context(diary, person_id, None))


@router.post("/people/{person_id}/sheet")
async def sheet_make(request: Request, person_id: int) -> Response:
    """Preview the sheet, or download it as a PDF or as text: nothing is kept anywhere."""
    state = session(request)
    fields = await form(request)
    action = str(fields.get("action", "preview"))
    choices = _choices(person_id, fields)
    with state.diary() as diary:
        try:
            built = await asyncio.to_thread(sheet.build, diary, choices)
            if action == "pdf":
                pdf = await asyncio.to_thread(sheet.render_pdf, built)
                return download(pdf, f"sheet-{built.audience.code}.pdf", "application/pdf")
            if action == "txt":
                text = sheet.render_text(built).encode("utf-8")
                return download(text, f"sheet-{built.audience.code}.txt", "text/plain")
        except InputError as exc:
            ctx = {**_sheet_context(diary, person_id, choices), "error": exc}
            return render(request, "sheet_form.html", ctx, 400)
        ctx = {
            **_sheet_context(diary, person_id, choices),
            "preview": sheet.render_text(built),
            "built": built,
        }
        return render(request, "sheet_form.html", ctx)


@router.get("/witness-note")
def witness_note(request: Request) -> Response:
    """The blank witness note to print or send, for the chosen kind of reader."""
    state = session(request)
    audience = request.query_params.get("audience", "family")
    name = request.query_params.get("name", "")
    as_text = request.query_params.get("format") == "txt"
    with state.diary() as diary:
        j = diary.jurisdiction
    if as_text:
        text = sheet.witness_form_text(j, user_name=name, audience=audience)
        return download(text.encode("utf-8"), "witness-note.txt", "text/plain")
    pdf = sheet.witness_form(j, user_name=name, audience=audience)
    return download(pdf, "witness-note.pdf", "application/pdf")
