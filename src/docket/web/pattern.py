"""The pattern pages: the analysis as facts and findings (with links to the records behind
each one), the orders register, and the unscored checklist. Each route is a thin call into
the facade."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import date
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from docket.analysis import WEEKDAYS
from docket.api import Diary, OrderView
from docket.checklist import ASK_FOR_ASSESSMENT, INTRO, Answer, ChecklistData, questions
from docket.errors import InputError
from docket.model import timeparse
from docket.model.records import OrderData
from docket.web import charts
from docket.web.app import form, redirect, render, session
from docket.web.pages import local

router = APIRouter()


@router.get("/pattern")
def pattern(request: Request) -> Response:
    state = session(request)
    with state.diary() as diary:
        a = diary.analyse()
        months = a.months[-18:]
        ctx = {
            "a": a,
            "orders": diary.orders(),
            "checklist": diary.checklist(),
            "month_chart": charts.columns(
                [(_short_month(m.month), m.incidents) for m in months],
                title="Incidents each month",
                every=max(1, len(months) // 9),
            )
            if months
            else None,
            "contact_chart": charts.columns(
                [(_short_month(m.month), m.contacts) for m in months],
                title="Calls and messages from the person responsible, each month",
                every=max(1, len(months) // 9),
            )
            if a.contacts
            else None,
            "heat_chart": charts.heatmap(
                a.heatmap, WEEKDAYS, title="Incidents and contacts by day of the week and hour"
            ),
            "category_chart": charts.bars(
                [(name, n) for _, name, n in a.by_category], title="Incidents by what happened"
            )
            if a.by_category
            else None,
            "flag_hits": a.flag_hits[:100],
            "local": lambda t, f="%a %d %b %Y, %H:%M": local(diary, t, f),
        }
        return render(request, "pattern.html", ctx)


def _short_month(month: str) -> str:
    return date.fromisoformat(month + "-01").strftime("%b %y")


# --- orders ----------------------------------------------------------------------------------


def _order_data(diary: Diary, fields: Any) -> OrderData:
    def get(name: str) -> str:
        return str(fields.get(name, "") or "").strip()

    made_on = timeparse.parse_day(
        get("made_on"), diary.timezone, "The day it was made", allow_future=True
    )
    if made_on is None:
        raise InputError(
            "Please give the day the order was made.",
            hint="It is on the order, usually at the top or bottom. If you are not sure, "
            "give your best guess and say so in the notes.",
        )
    against = []
    for value in fields.getlist("against"):
        if str(value).isdigit():
            against.append(int(str(value)))
    return OrderData(
        type=get("type"),
        made_on=made_on,
        ends_on=timeparse.parse_day(
            get("ends_on"), diary.timezone, "The day it ends", allow_future=True
        ),
        against=tuple(against),
        terms=get("terms"),
        reference=get("reference"),
        court=get("court"),
        notes=get("notes"),
    )


def _order_context(diary: Diary) -> dict[str, Any]:
    return {
        "kinds": diary.jurisdiction.orders,
        "people": [p for p in diary.people() if p.data is not None],
    }


def _order_values(o: OrderView) -> dict[str, Any]:
    d = o.data
    return {
        "type": d.type,
        "made_on": d.made_on.isoformat(),
        "ends_on": d.ends_on.isoformat() if d.ends_on else "",
        "against": [str(p) for p in d.against],
        "terms": d.terms,
        "reference": d.reference,
        "court": d.court,
        "notes": d.notes,
    }


def _form_values(fields: Any) -> dict[str, Any]:
    return {**dict(fields), "against": [str(v) for v in fields.getlist("against")]}


@router.get("/orders")
def orders(request: Request) -> Response:
    state = session(request)
    with state.diary() as diary:
        ctx = {**_order_context(diary), "orders": diary.orders(), "values": {}, "o": None}
        return render(request, "orders.html", ctx)


@router.post("/orders")
async def order_add(request: Request) -> Response:
    state = session(request)
    fields = await form(request)
    with state.diary() as diary:
        try:
            await asyncio.to_thread(diary.add_order, _order_data(diary, fields))
        except InputError as exc:
            ctx = {
                **_order_context(diary),
                "orders": diary.orders(),
                "values": _form_values(fields),
                "o": None,
                "error": exc,
            }
            return render(request, "orders.html", ctx, 400)
    return redirect("/orders", request)


@router.get("/orders/{order_id}/edit")
def order_edit_page(request: Request, order_id: int) -> Response:
    state = session(request)
    with state.diary() as diary:
        o = diary.order(order_id)
        ctx = {**_order_context(diary), "o": o, "values": _order_values(o)}
        return render(request, "order_form.html", ctx)


@router.post("/orders/{order_id}/edit")
async def order_edit(request: Request, order_id: int) -> Response:
    state = session(request)
    fields = await form(request)
    with state.diary() as diary:
        o = diary.order(order_id)
        try:
            data = _order_data(diary, fields)
            reason = str(fields.get("reason", "") or "")
            await asyncio.to_thread(diary.edit_order, order_id, data, reason)
        except InputError as exc:
            ctx = {**_order_context(diary), "o": o, "values": _form_values(fields), "error": exc}
            return render(request, "order_form.html", ctx, 400)
    return redirect("/orders", request)


# --- the checklist ---------------------------------------------------------------------------


def _checklist_context(diary: Diary) -> dict[str, Any]:
    view = diary.checklist()
    return {
        "questions": questions(),
        "answers": dict(view.data.answers),
        "updated": view.updated_at,
        "intro": INTRO,
        "ask": ASK_FOR_ASSESSMENT,
        "note": diary.jurisdiction.checklist_note(),
        "local": lambda t: local(diary, t),
    }


def answers_from_form(fields: Any, set_name: str) -> dict[str, Answer]:
    """A checklist form's answers: a choice ``q_<id>`` and words ``d_<id>`` per question."""
    return {
        q.id: Answer(
            str(fields.get(f"q_{q.id}", "") or "") or None,
            str(fields.get(f"d_{q.id}", "") or ""),
        )
        for q in questions(set_name)
    }


def show_answers(
    request: Request, template: str, context: Callable[[Diary], dict[str, Any]]
) -> Response:
    """A checklist page with the answers as last saved."""
    state = session(request)
    with state.diary() as diary:
        ctx = {**context(diary), "saved": request.query_params.get("saved") == "1"}
        return render(request, template, ctx)


async def save_answers(
    request: Request,
    set_name: str,
    page: str,
    template: str,
    context: Callable[[Diary], dict[str, Any]],
) -> Response:
    """Keep a checklist form's answers as a new version (unchanged answers change nothing),
    or show the form again with what was given and the error."""
    state = session(request)
    fields = await form(request)
    given = answers_from_form(fields, set_name)
    with state.diary() as diary:
        try:
            data = ChecklistData.build(given, set_name)
            await asyncio.to_thread(diary.save_checklist, data, set_name)
        except InputError as exc:
            if exc.code == "nothing_to_change":
                return redirect(f"{page}?saved=1", request)
            ctx = {**context(diary), "answers": given, "error": exc}
            return render(request, template, ctx, 400)
    return redirect(f"{page}?saved=1", request)


@router.get("/checklist")
def checklist(request: Request) -> Response:
    return show_answers(request, "checklist.html", _checklist_context)


@router.post("/checklist")
async def checklist_save(request: Request) -> Response:
    return await save_answers(request, "risk", "/checklist", "checklist.html", _checklist_context)
