"""The diary's pages: the dashboard, incidents (add, view, edit with a reason, history,
remove, attach files), the timeline with search, a message in its conversation, the people
register, evidence files, and verification. Each route is a thin call into the facade."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any, BinaryIO
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Request
from fastapi.responses import Response, StreamingResponse
from markupsafe import Markup, escape

from docket import timeline
from docket.api import Diary
from docket.errors import DocketError, InputError
from docket.model import forms, taxonomy
from docket.model.records import PersonData
from docket.model.views import IncidentView
from docket.records import IncidentFilter
from docket.search import MARK_END, MARK_START
from docket.web import charts, uploads
from docket.web.app import content_disposition, form, redirect, render, session
from docket.web.state import WebState

router = APIRouter()

INLINE_IMAGES = {"image/jpeg", "image/png", "image/gif", "image/webp"}


def _int(value: Any) -> int | None:
    text = str(value or "").strip()
    return int(text) if text.isdigit() and len(text) < 10 else None


def local(diary: Diary, utc_text: str | None, fmt: str = "%a %d %b %Y, %H:%M") -> str:
    """An RFC 3339 UTC time as the diary's local time, for people."""
    if not utc_text:
        return "time not known"
    when = datetime.fromisoformat(utc_text.replace("Z", "+00:00"))
    return when.astimezone(ZoneInfo(diary.timezone)).strftime(fmt)


def highlight(snippet: str) -> Markup:
    """A search snippet, escaped, with the matched words marked."""
    text = str(escape(snippet))
    return Markup(  # noqa: S704 - escaped above; only <mark> is added
        text.replace(MARK_START, "<mark>").replace(MARK_END, "</mark>")
    )


# --- dashboard -------------------------------------------------------------------------------


def _weeks(diary: Diary, starts: list[str], weeks: int = 12) -> list[tuple[str, int]]:
    tz = ZoneInfo(diary.timezone)
    today = datetime.now(UTC).astimezone(tz).date()
    monday = today - timedelta(days=today.weekday())
    first = monday - timedelta(weeks=weeks - 1)
    counts: Counter[date] = Counter()
    for s in starts:
        d = datetime.fromisoformat(s.replace("Z", "+00:00")).astimezone(tz).date()
        if d >= first:
            counts[d - timedelta(days=d.weekday())] += 1
    return [
        ((first + timedelta(weeks=i)).strftime("%d %b"), counts[first + timedelta(weeks=i)])
        for i in range(weeks)
    ]


@router.get("/")
def dashboard(request: Request) -> Response:
    state = session(request)
    with state.diary() as diary:
        summary = diary.summary()
        incidents = diary.incidents()
        people = diary.people()
        latest = diary.timeline(timeline.TimelineFilter(limit=5))
        sources = diary.sources()
        j = diary.jurisdiction
        by_category = [
            (j.category(code).name if j.category(code) else code, n)  # type: ignore[union-attr]
            for code, n in summary.by_category.items()
        ]
        channels = Counter(
            taxonomy.CHANNELS.get(i.data.channel, i.data.channel)
            for i in incidents
            if i.data is not None and i.data.channel
        )
        weekly = _weeks(diary, [i.occurred_start for i in incidents])
        ctx = {
            "summary": summary,
            "latest": latest,
            "people": [p for p in people if p.data is not None],
            "sources": sources,
            "welcome": request.query_params.get("welcome") == "1",
            "weekly_chart": charts.columns(weekly, title="Incidents each week, last 12 weeks"),
            "weekly": weekly,
            "category_chart": charts.bars(by_category, title="Incidents by what happened")
            if by_category
            else None,
            "channel_chart": charts.bars(channels.most_common(), title="Incidents by how")
            if channels
            else None,
            "local": lambda t, f="%a %d %b %Y, %H:%M": local(diary, t, f),
            "diary": diary,
        }
        return render(request, "dashboard.html", ctx)


# --- incidents -------------------------------------------------------------------------------


def _incident_context(diary: Diary) -> dict[str, Any]:
    people = [p for p in diary.people() if p.data is not None]
    return {
        "categories": diary.jurisdiction.categories,
        "channels": taxonomy.CHANNELS,
        "effects": taxonomy.EFFECTS,
        "told_to_stop": taxonomy.TOLD_TO_STOP,
        "people": people,
        "usual": diary.usual_person(),
    }


def _lines(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines() if line.strip()]


def _form_input(fields: Any, base: IncidentView | None) -> forms.IncidentInput:
    """An IncidentInput from the incident form. For an edit, only what changed is set, and
    emptied fields are cleared."""

    def get(name: str) -> str:
        return str(fields.get(name, "") or "")

    data = base.data if base is not None else None
    given: dict[str, Any] = {
        "occurred": get("occurred").replace("T", " ").strip() or None,
        "until": get("until").replace("T", " ").strip() or None,
        "category": get("category") or None,
        "channel": get("channel") or None,
        "place": get("place").strip() or None,
        "description": get("description").strip() or None,
        "exact_words": get("exact_words").strip() or None,
        "effect_details": get("effect_details").strip() or None,
        "told_to_stop": get("told_to_stop") or None,
        "told_to_stop_details": get("told_to_stop_details").strip() or None,
        "orders": get("orders").strip() or None,
        "private_notes": get("private_notes").strip() or None,
        "tags": [t.strip() for t in get("tags").split(",") if t.strip()] or None,
        "witnesses": _lines(get("witnesses")) or None,
        "targeted": ["me", *[t.strip() for t in get("targeted").split(",") if t.strip()]]
        if get("targeted").strip()
        else None,
        "evidence_to_obtain": _lines(get("evidence_to_obtain")) or None,
        "people": [p for p in (_int(v) for v in fields.getlist("people")) if p is not None] or None,
        "effects": list(fields.getlist("effects")) or None,
        "approximate": fields.get("approximate") == "yes",
        "private_place": fields.get("private_place") == "yes",
    }
    if get("reported_to").strip():
        given.update(
            reported_to=get("reported_to").strip(),
            reported_on=get("reported_on").strip() or None,
            officer=get("officer").strip() or None,
            crime_reference=get("crime_reference").strip() or None,
            outcome=get("outcome").strip() or None,
        )
    if data is None:
        return forms.IncidentInput(**given)
    # an edit: compare with what the incident says now
    current = _form_values(base)
    changed: dict[str, Any] = {}
    clear: list[str] = []
    for name, value in given.items():
        if name in ("reported_to", "reported_on", "officer", "crime_reference", "outcome"):
            changed[name] = value
            continue
        before = current.get(name)
        if value is None or value == [] or value is False:
            if before not in (None, "", [], False) and name in forms.CLEARABLE:
                clear.append(name)
            elif name in ("approximate", "private_place") and before:
                changed[name] = False
            continue
        if _same(name, value, before):
            continue
        changed[name] = value
    if "place" in changed or "private_place" in changed:
        changed.setdefault("place", current.get("place") or None)
    return forms.IncidentInput(**changed, clear=clear)


def _same(name: str, value: Any, before: Any) -> bool:
    if name in ("occurred", "until"):
        return bool(before) and str(value) == str(before).replace("T", " ")
    return bool(value == before)


def _form_values(view: IncidentView | None) -> dict[str, Any]:
    """The incident form's fields for an existing incident, in the diary's local time."""
    if view is None or view.data is None:
        return {}
    d = view.data
    tz = ZoneInfo(d.occurred.timezone)
    fmt = "%Y-%m-%d" if d.occurred.date_only else "%Y-%m-%dT%H:%M"
    return {
        "occurred": d.occurred.start.astimezone(tz).strftime(fmt),
        "until": d.occurred.end.astimezone(tz).strftime("%Y-%m-%dT%H:%M") if d.occurred.end else "",
        "approximate": d.occurred.approximate,
        "category": d.category,
        "channel": d.channel or "",
        "place": d.place.text if d.place else "",
        "private_place": bool(d.place and d.place.private),
        "description": d.description,
        "exact_words": d.exact_words,
        "effect_details": d.effect.details,
        "told_to_stop": d.told_to_stop or "",
        "told_to_stop_details": d.told_to_stop_details,
        "orders": d.orders,
        "private_notes": d.private_notes,
        "tags": list(d.tags),
        "witnesses": [f"{w.name}; {w.contact}" if w.contact else w.name for w in d.witnesses],
        "targeted": [t for t in d.targeted if t != "me"],
        "evidence_to_obtain": list(d.evidence_to_obtain),
        "people": list(d.people),
        "effects": [k for k in taxonomy.EFFECTS if getattr(d.effect, k)],
    }


def _raw_values(fields: Any) -> dict[str, Any]:
    """What was typed, to show the form again after an error."""
    out: dict[str, Any] = {k: str(v) for k, v in fields.items()}
    for name in ("tags", "targeted"):
        out[name] = [t.strip() for t in out.get(name, "").split(",") if t.strip()]
    for name in ("witnesses", "evidence_to_obtain"):
        out[name] = _lines(out.get(name, ""))
    out["people"] = [_int(v) for v in fields.getlist("people")]
    out["effects"] = list(fields.getlist("effects"))
    out["approximate"] = fields.get("approximate") == "yes"
    out["private_place"] = fields.get("private_place") == "yes"
    return out


@router.get("/incidents")
def incident_list(request: Request) -> Response:
    state = session(request)
    category = request.query_params.get("category") or None
    person = _int(request.query_params.get("person"))
    with state.diary() as diary:
        found = diary.incidents(IncidentFilter(category=category, person_id=person))
        found.reverse()
        return render(
            request,
            "incidents.html",
            {
                "incidents": found,
                "category": category,
                "person": person,
                **_incident_context(diary),
                "local": lambda t: local(diary, t),
                "j": diary.jurisdiction,
            },
        )


@router.get("/incidents/new")
def incident_new(request: Request) -> Response:
    state = session(request)
    with state.diary() as diary:
        ctx = _incident_context(diary)
        now = datetime.now(ZoneInfo(diary.timezone)).strftime("%Y-%m-%dT%H:%M")
        values = {"occurred": now, "people": [ctx["usual"]] if ctx["usual"] else []}
        return render(request, "incident_form.html", {**ctx, "values": values, "incident": None})


@router.post("/incidents")
async def incident_create(request: Request) -> Response:
    state = session(request)
    fields = await form(request)
    with state.diary() as diary:
        try:
            view = await asyncio.to_thread(diary.add_incident, _form_input(fields, None))
        except InputError as exc:
            ctx = _incident_context(diary)
            return render(
                request,
                "incident_form.html",
                {**ctx, "values": _raw_values(fields), "incident": None, "error": exc},
                400,
            )
    return redirect(f"/incidents/{view.id}?saved=1", request)


@router.get("/incidents/{incident_id}")
def incident_show(request: Request, incident_id: int) -> Response:
    state = session(request)
    with state.diary() as diary:
        view = diary.incident(incident_id)
        people = {p.id: p for p in diary.people()}
        j = diary.jurisdiction
        return render(
            request,
            "incident.html",
            {
                "i": view,
                "people": people,
                "category": j.category(view.data.category) if view.data else None,
                "channels": taxonomy.CHANNELS,
                "effects": taxonomy.EFFECTS,
                "told_to_stop": taxonomy.TOLD_TO_STOP,
                "local": lambda t: local(diary, t),
                "saved": request.query_params.get("saved"),
                "inline_images": INLINE_IMAGES,
                "witness_accounts": diary.witness_accounts(incident_id),
            },
        )


@router.get("/incidents/{incident_id}/edit")
def incident_edit_page(request: Request, incident_id: int) -> Response:
    state = session(request)
    with state.diary() as diary:
        view = diary.incident(incident_id)
        if view.data is None:
            return redirect(f"/incidents/{incident_id}")
        return render(
            request,
            "incident_form.html",
            {**_incident_context(diary), "values": _form_values(view), "incident": view},
        )


@router.post("/incidents/{incident_id}/edit")
async def incident_edit(request: Request, incident_id: int) -> Response:
    state = session(request)
    fields = await form(request)
    with state.diary() as diary:
        view = diary.incident(incident_id)
        try:
            change = _form_input(fields, view)
            await asyncio.to_thread(
                diary.edit_incident, incident_id, change, str(fields.get("reason", ""))
            )
        except InputError as exc:
            return render(
                request,
                "incident_form.html",
                {
                    **_incident_context(diary),
                    "values": _raw_values(fields),
                    "incident": view,
                    "error": exc,
                },
                400,
            )
    return redirect(f"/incidents/{incident_id}?saved=1", request)


@router.get("/incidents/{incident_id}/history")
def incident_history(request: Request, incident_id: int) -> Response:
    state = session(request)
    with state.diary() as diary:
        return render(
            request,
            "history.html",
            {
                "i": diary.incident(incident_id),
                "versions": diary.history("incident", incident_id),
                "local": lambda t: local(diary, t),
            },
        )


@router.get("/remove/{kind}/{record_id}")
def remove_page(request: Request, kind: str, record_id: int) -> Response:
    state = session(request)
    with state.diary() as diary:
        what = _describe(diary, kind, record_id)
        return render(request, "remove.html", {"kind": kind, "id": record_id, "what": what})


def _describe(diary: Diary, kind: str, record_id: int) -> str:
    if kind == "incident":
        v = diary.incident(record_id)
        return f"incident {record_id} ({local(diary, v.occurred_start)})"
    if kind == "attachment":
        a = diary.attachment(record_id)
        return f"the file {a.data.name if a.data else record_id}"
    if kind == "person":
        p = diary.person(record_id)
        return f"{p.data.name if p.data else 'person ' + str(record_id)} from the register"
    if kind == "order":
        o = diary.order(record_id)
        kind_of = diary.jurisdiction.order_type(o.data.type)
        name = kind_of.name if kind_of else o.data.type
        return f"the {name.lower()} made on {o.data.made_on:%d %B %Y}"
    if kind == "witness":
        w = diary.witness_account(record_id)
        return f"the witness account by {w.data.name} about incident {w.data.incident}"
    raise InputError(f"{kind!r} cannot be removed.")


@router.post("/remove/{kind}/{record_id}")
async def remove(request: Request, kind: str, record_id: int) -> Response:
    state = session(request)
    fields = await form(request)
    with state.diary() as diary:
        what = _describe(diary, kind, record_id)
        incident_of = diary.witness_account(record_id).data.incident if kind == "witness" else None
        try:
            if fields.get("confirm") != "yes":
                raise InputError(
                    "Nothing was removed.",
                    hint="Tick the box to confirm that you want to remove it for good.",
                )
            await asyncio.to_thread(diary.redact, kind, record_id, str(fields.get("reason", "")))
        except InputError as exc:
            ctx = {"kind": kind, "id": record_id, "what": what, "error": exc}
            return render(request, "remove.html", ctx, 400)
    back = {"incident": f"/incidents/{record_id}", "person": "/people", "order": "/orders"}.get(
        kind, "/incidents"
    )
    if kind == "witness" and incident_of is not None:
        back = f"/incidents/{incident_of}#witnesses-h"
    return redirect(back, request)


@router.post("/incidents/{incident_id}/files")
async def incident_attach(request: Request, incident_id: int) -> Response:
    state = session(request)

    def store(stream: BinaryIO, got: uploads.Received) -> int:
        with state.diary(wait=30) as diary:
            diary.incident(incident_id)
            view = diary.attach_stream(
                stream,
                name=got.filename or "upload",
                incident_id=incident_id,
                note=got.fields.get("note", ""),
                obtained=got.fields.get("obtained", ""),
            )
            return view.id

    await uploads.receive_file(request, "file", store)
    return redirect(f"/incidents/{incident_id}?saved=file", request)


@router.get("/files/{attachment_id}")
def file_download(request: Request, attachment_id: int) -> Response:
    state = session(request)
    with state.diary() as diary:
        view = diary.attachment(attachment_id)
        pieces = list(diary.iter_attachment(attachment_id)) if view.size <= 64 << 20 else None
    media_type = view.data.media_type if view.data else "application/octet-stream"
    name = view.data.name if view.data else f"file-{attachment_id}"
    return _send_file(
        request, state, name, media_type, pieces, lambda d: d.iter_attachment(attachment_id)
    )


@router.get("/messages/{message_id}/files/{idx}")
def message_file_download(request: Request, message_id: int, idx: int) -> Response:
    """A file that came with an imported message (``idx`` from 0, as the message lists them)."""
    state = session(request)
    with state.diary() as diary:
        found = diary.message_file(message_id, idx)
        small = int(found.get("size") or 0) <= 64 << 20
        pieces = list(diary.iter_message_file(message_id, idx)) if small else None
    return _send_file(
        request,
        state,
        str(found.get("name") or f"message-{message_id}-file-{idx + 1}"),
        str(found.get("media_type") or "application/octet-stream"),
        pieces,
        lambda d: d.iter_message_file(message_id, idx),
    )


def _send_file(
    request: Request,
    state: WebState,
    name: str,
    media_type: str,
    pieces: list[bytes] | None,
    read: Callable[[Diary], Iterator[bytes]],
) -> Response:
    """A file from the diary: pictures shown in the page (unless ?download=1), anything else
    as a download, never run by the browser (a sandbox with nothing allowed). Up to 64 MiB
    is read before answering; a larger file is streamed from a diary opened for the answer."""
    inline = media_type in INLINE_IMAGES and request.query_params.get("download") != "1"
    headers = {
        "Content-Disposition": content_disposition(name, "inline" if inline else "attachment"),
        "Content-Security-Policy": "default-src 'none'; sandbox",
    }
    if pieces is None:

        def stream() -> Any:
            with state.diary(wait=30) as d:
                yield from read(d)

        body: Any = stream()
    else:
        body = iter(pieces)
    return StreamingResponse(
        body, media_type=media_type if inline else "application/octet-stream", headers=headers
    )


# --- the timeline and search ----------------------------------------------------------------


@router.get("/timeline")
def timeline_page(request: Request) -> Response:
    state = session(request)
    q = request.query_params
    text = (q.get("q") or "").strip()
    with state.diary() as diary:
        people = [p for p in diary.people() if p.data is not None]
        ctx: dict[str, Any] = {
            "q": text,
            "people": people,
            "person": _int(q.get("person")),
            "category": q.get("category") or "",
            "channel": q.get("channel") or "",
            "start": q.get("from") or "",
            "end": q.get("to") or "",
            "categories": diary.jurisdiction.categories,
            "channels": taxonomy.CHANNELS,
            "local": lambda t: local(diary, t),
            "highlight": highlight,
            "j": diary.jurisdiction,
        }
        try:
            if text:
                ctx["results"] = diary.search(text)
            else:
                lo, hi = diary.date_range(ctx["start"] or None, ctx["end"] or None)
                f = timeline.TimelineFilter(
                    person_id=ctx["person"],
                    category=ctx["category"] or None,
                    channel=ctx["channel"] or None,
                    start_utc=lo,
                    end_utc=hi,
                    before=timeline.parse_cursor(q.get("before")),
                    limit=50,
                )
                entries = diary.timeline(f)
                ctx["entries"] = entries
                if len(entries) == f.limit:
                    keep = [(k, v) for k, v in q.multi_items() if k not in ("before", "partial")]
                    keep.append(("before", entries[-1].row.cursor))
                    ctx["more_url"] = "/timeline?" + urlencode(keep)
        except InputError as exc:
            ctx["error"] = exc
            ctx["entries"] = []
        template = "_timeline_rows.html" if q.get("partial") == "1" else "timeline.html"
        return render(request, template, ctx)


@router.get("/messages/{message_id}")
def message_page(request: Request, message_id: int) -> Response:
    state = session(request)
    with state.diary() as diary:
        around = diary.message_context(message_id, 8)
        sources = {s["id"]: s for s in diary.sources()}
        target = next(m for m in around if m.id == message_id)
        return render(
            request,
            "message.html",
            {
                "around": around,
                "target": target,
                "source": sources.get(target.source_id),
                "local": lambda t: local(diary, t),
            },
        )


# --- people -----------------------------------------------------------------------------------


def _person_context(diary: Diary) -> dict[str, Any]:
    return {"roles": taxonomy.ROLES, "relationships": taxonomy.RELATIONSHIPS}


def _person_data(diary: Diary, fields: Any) -> PersonData:
    def get(name: str) -> str:
        return str(fields.get(name, "") or "").strip()

    idents = diary.parse_identifiers(
        _lines(get("phones")),
        _lines(get("emails")),
        _lines(get("handles")),
        _lines(get("vehicles")),
    )
    return PersonData(
        name=get("name"),
        role=get("role") or "responsible",
        relationship=get("relationship") or "unknown",
        description=get("description"),
        identifiers=idents,
        notes=get("notes"),
    )


def _person_values(p: PersonData) -> dict[str, Any]:
    def by(kind: str) -> str:
        return "\n".join((i.as_given or i.label()) for i in p.identifiers if i.kind == kind)

    return {
        "name": p.name,
        "role": p.role,
        "relationship": p.relationship,
        "description": p.description,
        "notes": p.notes,
        "phones": by("phone"),
        "emails": by("email"),
        "handles": "\n".join(
            (f"{i.platform}:{i.value}" if i.platform else i.value)
            for i in p.identifiers
            if i.kind == "handle"
        ),
        "vehicles": by("vehicle"),
    }


@router.get("/people")
def people_page(request: Request) -> Response:
    state = session(request)
    with state.diary() as diary:
        people = [p for p in diary.people() if p.data is not None]
        return render(request, "people.html", {"people": people, **_person_context(diary)})


@router.get("/people/new")
def person_new(request: Request) -> Response:
    state = session(request)
    with state.diary() as diary:
        values = {"role": request.query_params.get("role") or "responsible"}
        for kind in ("phones", "emails", "handles"):
            if request.query_params.get(kind):
                values[kind] = request.query_params[kind]
        return render(
            request, "person_form.html", {**_person_context(diary), "values": values, "p": None}
        )


@router.post("/people")
async def person_create(request: Request) -> Response:
    state = session(request)
    fields = await form(request)
    with state.diary() as diary:
        try:
            view = await asyncio.to_thread(diary.add_person, _person_data(diary, fields))
        except InputError as exc:
            ctx = {**_person_context(diary), "values": dict(fields), "p": None, "error": exc}
            return render(request, "person_form.html", ctx, 400)
    back = str(fields.get("back", "") or "")
    return redirect(back if back.startswith("/import/") else f"/people/{view.id}", request)


@router.get("/people/{person_id}")
def person_show(request: Request, person_id: int) -> Response:
    state = session(request)
    with state.diary() as diary:
        p = diary.person(person_id)
        incidents = diary.incidents(IncidentFilter(person_id=person_id))
        incidents.reverse()
        messages = diary.messages(person_id=person_id, limit=20, newest_first=True)
        return render(
            request,
            "person.html",
            {
                "p": p,
                "incidents": incidents,
                "messages": messages,
                **_person_context(diary),
                "local": lambda t: local(diary, t),
                "j": diary.jurisdiction,
            },
        )


@router.get("/people/{person_id}/edit")
def person_edit_page(request: Request, person_id: int) -> Response:
    state = session(request)
    with state.diary() as diary:
        p = diary.person(person_id)
        if p.data is None:
            return redirect(f"/people/{person_id}")
        ctx = {**_person_context(diary), "values": _person_values(p.data), "p": p}
        return render(request, "person_form.html", ctx)


@router.post("/people/{person_id}/edit")
async def person_edit(request: Request, person_id: int) -> Response:
    state = session(request)
    fields = await form(request)
    with state.diary() as diary:
        p = diary.person(person_id)
        try:
            data = _person_data(diary, fields)
            await asyncio.to_thread(
                diary.edit_person, person_id, lambda _: data, str(fields.get("reason", ""))
            )
        except InputError as exc:
            ctx = {**_person_context(diary), "values": dict(fields), "p": p, "error": exc}
            return render(request, "person_form.html", ctx, 400)
    return redirect(f"/people/{person_id}", request)


# --- verify -----------------------------------------------------------------------------------


@router.get("/verify")
def verify_page(request: Request) -> Response:
    session(request)
    return render(request, "verify.html", {})


@router.post("/verify")
async def verify(request: Request) -> Response:
    state = session(request)
    with state.diary(wait=10) as diary:
        try:
            report = await asyncio.to_thread(diary.verify)
            # the page-level check is of the encrypted file; a case on a server has none
            problems = (
                await asyncio.to_thread(diary.check_file) if diary.store.path is not None else []
            )
        except DocketError as exc:
            return render(request, "verify.html", {"error": exc}, 500)
        summary = diary.summary()
    return render(
        request, "verify.html", {"report": report, "file_problems": problems, "summary": summary}
    )


__all__ = ["router"]
