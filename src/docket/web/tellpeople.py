"""Telling people: the safety sheet about a person (preview with ticks, then the PDF or the
text), the blank witness note, and keeping what a witness wrote as a witness account linked
to an incident. Each route is a thin call into the facade and ``docket.sheet``."""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from docket.api import Diary
from docket.errors import InputError
from docket.model import timeparse
from docket.model.records import WitnessAccountData
from docket.web.app import form, redirect, render, session
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
