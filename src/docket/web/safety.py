"""The tech-safety pages: an overview, the Android indicator check (an uploaded app list or
bug report, checked against the indicators kept in the diary), the photo check before posting
(findings and a cleaned copy), and the account-safety checklist. Thin calls into the facade
and ``docket.safety``."""

from __future__ import annotations

import asyncio
from typing import Any, BinaryIO

from fastapi import APIRouter, Request
from fastapi.responses import Response

from docket.api import Diary
from docket.checklist import (
    ACCOUNTS_INTRO,
    ACCOUNTS_SAFETY_FIRST,
    accounts_support,
    render_caution,
    topics,
)
from docket.errors import InputError, PhotoCheckError
from docket.safety import android, indicators, photos
from docket.web import uploads
from docket.web.app import download, form, redirect, render, session
from docket.web.pages import local
from docket.web.pattern import save_answers, show_answers

router = APIRouter()


def _hub_context(diary: Diary) -> dict[str, Any]:
    accounts = diary.checklist("accounts")
    asked = sum(len(qs) for _, qs in topics("accounts"))
    answered = sum(1 for _, a in accounts.data.answers if a.choice)
    return {
        "accounts": accounts,
        "asked": asked,
        "answered": answered,
        "info": diary.indicators_info(),
        "checks": list(reversed(diary.phone_checks()))[:20],
        "attribution": indicators.ATTRIBUTION,
        "upstream": indicators.UPSTREAM_BASE,
        "caution": photos.PICTURE_CAUTION,
        "not_found_means": android.NOT_FOUND_MEANS,
        "local": lambda t: local(diary, t),
        "support": accounts_support(diary.jurisdiction),
    }


@router.get("/safety")
def safety(request: Request) -> Response:
    state = session(request)
    with state.diary() as diary:
        ctx = _hub_context(diary)
        ctx["saved"] = request.query_params.get("saved", "")
        return render(request, "safety.html", ctx)


# --- the phone check ---------------------------------------------------------------------------


@router.post("/safety/phone")
async def phone_check(request: Request) -> Response:
    """An uploaded app list, bug report or .apk: streamed into the diary as evidence, read
    back from there and compared with the indicators the diary holds."""
    state = session(request)

    def check(stream: BinaryIO, got: uploads.Received) -> int:
        with state.diary(wait=30) as diary:
            view, _ = diary.check_phone([(got.filename or "app list", stream)], via="web")
            return view.id

    try:
        _, check_id = await uploads.receive_file(request, "file", check)
    except InputError as exc:
        with state.diary() as diary:
            return render(request, "safety.html", {**_hub_context(diary), "error": exc}, 400)
    return redirect(f"/safety/phone/{check_id}", request)


@router.get("/safety/phone/{check_id}")
def phone_result(request: Request, check_id: int) -> Response:
    state = session(request)
    with state.diary() as diary:
        view = diary.phone_check(check_id)
        ctx = {
            "c": view,
            "found_title": android.FOUND_TITLE,
            "not_found_title": android.NOT_FOUND_TITLE,
            "not_found_means": android.NOT_FOUND_MEANS,
            "safety_warning": android.SAFETY_WARNING,
            "removal_advice": android.REMOVAL_ADVICE,
            "sideloaded_note": android.SIDELOADED_NOTE,
            "attribution": indicators.ATTRIBUTION,
            "local": lambda t: local(diary, t),
        }
        return render(request, "safety_phone.html", ctx)


# --- the indicator files ----------------------------------------------------------------------


@router.post("/safety/indicators")
async def indicators_upload(request: Request) -> Response:
    """One indicator file at a time (ioc.yaml, then watchware.yaml): each upload is added to
    the files the diary already holds, replacing one of the same name."""
    state = session(request)

    def keep(stream: BinaryIO, got: uploads.Received) -> None:
        data = stream.read(indicators.MAX_FILE_BYTES + 1)
        if len(data) > indicators.MAX_FILE_BYTES:
            raise uploads.UploadError(
                "That file is far larger than an indicator file.",
                hint="Choose ioc.yaml or watchware.yaml from Echap's stalkerware-indicators.",
            )
        name = got.filename or "indicators.yaml"
        with state.diary(wait=30) as diary:
            files = [(name, data)]
            info = diary.indicators_info()
            if info is not None and info.source == "file":
                kept = diary.indicator_files()
                files = [(n, d) for n, d in kept if n != name] + files
            diary.save_indicators(files, source="file")

    try:
        await uploads.receive_file(request, "file", keep)
    except InputError as exc:
        with state.diary() as diary:
            return render(request, "safety.html", {**_hub_context(diary), "error": exc}, 400)
    return redirect("/safety?saved=indicators#phone", request)


@router.post("/safety/indicators/update")
async def indicators_update(request: Request) -> Response:
    """Fetch the indicator files from Echap's project: the one thing on these pages that uses
    the internet, and only when the person presses the button."""
    state = session(request)
    await form(request)
    try:
        files = await asyncio.to_thread(indicators.download)
        with state.diary() as diary:
            await asyncio.to_thread(
                diary.save_indicators,
                list(files.items()),
                source="download",
                url=indicators.UPSTREAM_BASE,
            )
    except InputError as exc:
        with state.diary() as diary:
            return render(request, "safety.html", {**_hub_context(diary), "error": exc}, 400)
    return redirect("/safety?saved=indicators#phone", request)


# --- the photo check ----------------------------------------------------------------------------


@router.post("/safety/photos")
async def photo_check(request: Request) -> Response:
    """One photo: what it gives away, and a copy without it held in memory to save. Nothing
    is kept in the diary and nothing is written to the disk."""
    state = session(request)

    def look(stream: BinaryIO, got: uploads.Received) -> dict[str, Any]:
        name = got.filename or "photo"
        data = stream.read(photos.MAX_CLEAN + 1)
        if len(data) > photos.MAX_CLEAN:
            raise uploads.UploadError(
                "That picture is too large for Docket to copy.",
                hint="Check it with 'docket safety photos' on the computer instead.",
            )
        finding = photos.inspect(data, name)
        out: dict[str, Any] = {"finding": finding, "token": None, "copy": None, "reason": ""}
        try:
            copy = photos.clean(data, name)
        except PhotoCheckError as exc:
            out["reason"] = exc.message
        else:
            out["copy"] = copy
            out["token"] = state.hold(copy.name, copy.media_type, copy.data)
        return out

    try:
        _, result = await uploads.receive_file(request, "file", look)
    except InputError as exc:
        with state.diary() as diary:
            return render(request, "safety.html", {**_hub_context(diary), "error": exc}, 400)
    ctx = {**(result or {}), "caution": photos.PICTURE_CAUTION}
    return render(request, "safety_photo.html", ctx)


@router.get("/safety/photos/copy/{token}")
def photo_copy(request: Request, token: str) -> Response:
    state = session(request)
    held = state.held(token)
    if held is None:
        return redirect("/safety#photos")
    return download(held.data, held.name, held.media_type)


# --- the account-safety checklist ------------------------------------------------------------


def _accounts_context(diary: Diary) -> dict[str, Any]:
    view = diary.checklist("accounts")
    j = diary.jurisdiction
    return {
        "topics": topics("accounts"),
        "answers": dict(view.data.answers),
        "updated": view.updated_at,
        "intro": ACCOUNTS_INTRO,
        "safety_first": ACCOUNTS_SAFETY_FIRST,
        "support": accounts_support(j),
        "caution": lambda q: render_caution(q, j),
        "local": lambda t: local(diary, t),
    }


@router.get("/safety/accounts")
def accounts(request: Request) -> Response:
    return show_answers(request, "safety_accounts.html", _accounts_context)


@router.post("/safety/accounts")
async def accounts_save(request: Request) -> Response:
    return await save_answers(
        request, "accounts", "/safety/accounts", "safety_accounts.html", _accounts_context
    )
