"""The import page: an export uploaded from the browser is streamed into the encrypted diary
and imported in the background while the page shows how far it has got; then the same summary
as the command line, and a form to say who each unknown sender is."""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import time
from typing import Any, BinaryIO

from fastapi import APIRouter, Request
from fastapi.responses import Response

from docket.errors import DocketError, InputError
from docket.importers import available
from docket.web import uploads
from docket.web.app import form, redirect, render, session
from docket.web.state import ImportJob, WebState

router = APIRouter()


def _formats() -> list[tuple[str, str]]:
    return [(i.name, i.label) for i in available()]


@router.get("/import")
def import_page(request: Request) -> Response:
    state = session(request)
    with state.diary() as diary:
        people = [p for p in diary.people() if p.data is not None]
        sources = list(reversed(diary.sources()))
        running = [j for j in state.jobs.values() if not j.finished]
        return render(
            request,
            "import.html",
            {"formats": _formats(), "people": people, "sources": sources, "running": running},
        )


@router.post("/import")
async def import_upload(request: Request) -> Response:
    state = session(request)
    job = ImportJob(id=secrets.token_urlsafe(12), name="")
    state.jobs[job.id] = job

    def progress(stage: str, done: int, total: int, items: int) -> None:
        job.stage, job.done, job.total, job.items = stage, done, total, items

    def run(stream: BinaryIO, got: uploads.Received) -> None:
        job.name = got.filename or "upload"
        fields = got.fields
        person = fields.get("person", "")
        me = tuple(m.strip() for m in fields.get("me", "").split(",") if m.strip())
        try:
            with state.diary(wait=60) as diary:
                summary = diary.import_stream(
                    stream,
                    name=job.name,
                    format=fields.get("format") or None,
                    person=int(person) if person.isdigit() else None,
                    me=me,
                    partial=fields.get("partial") == "yes",
                    progress=progress,
                )
            job.summary = summary.as_json()
        except DocketError as exc:
            job.error = exc.as_dict()
        except Exception as exc:
            job.error = {
                "code": "unexpected",
                "message": "The import stopped because of a fault in Docket; nothing was kept.",
                "cause": type(exc).__name__,
                "hint": "Please try again. If it happens again, the file may need a newer "
                "version of Docket.",
            }
        finally:
            # after a failure, the rest of the upload is read and dropped, so the browser
            # gets its answer (after success there is nothing left to read)
            with contextlib.suppress(uploads.UploadError):
                while stream.read(1 << 20):
                    pass
            job.finished = True

    await uploads.receive_file(request, "file", run, wait_for_store=False)
    return redirect(f"/import/jobs/{job.id}", request)


def _job(state: WebState, job_id: str) -> ImportJob:
    job = state.jobs.get(job_id)
    if job is None:
        raise InputError(
            "That import is not known to this Docket window.",
            cause="Docket was restarted, or the page is from an earlier session.",
            hint="The import page lists every file imported into the diary.",
        )
    return job


def _job_context(state: WebState, job: ImportJob) -> dict[str, Any]:
    elapsed = time.monotonic() - job.started
    rate = job.done / elapsed if elapsed > 0 else 0
    left = (job.total - job.done) / rate if rate > 0 and job.total else None
    ctx: dict[str, Any] = {"job": job, "elapsed": int(elapsed), "left": left}
    if job.finished and job.summary and job.summary.get("unknown_senders"):
        with state.diary() as diary:
            ctx["people"] = [p for p in diary.people() if p.data is not None]
    return ctx


@router.get("/import/jobs/{job_id}")
def job_page(request: Request, job_id: str) -> Response:
    state = session(request)
    job = _job(state, job_id)
    return render(request, "import_job.html", _job_context(state, job))


@router.get("/import/jobs/{job_id}/status")
def job_status(request: Request, job_id: str) -> Response:
    state = session(request)
    job = _job(state, job_id)
    if job.finished:
        # the whole page, so the summary and the assignment form appear
        return Response(status_code=204, headers={"HX-Redirect": f"/import/jobs/{job_id}"})
    return render(request, "_import_progress.html", _job_context(state, job))


@router.post("/import/jobs/{job_id}/assign")
async def job_assign(request: Request, job_id: str) -> Response:
    state = session(request)
    job = _job(state, job_id)
    fields = await form(request)
    senders = (job.summary or {}).get("unknown_senders", [])
    assigned: list[str] = []
    with state.diary() as diary:
        for n, sender in enumerate(senders):
            choice = str(fields.get(f"sender-{n}", "") or "")
            if not choice.isdigit():
                continue
            await asyncio.to_thread(
                diary.assign_sender,
                int(choice),
                sender["kind"],
                sender["platform"],
                sender["value"],
                sender["raw"],
            )
            sender["assigned_to"] = int(choice)
            assigned.append(sender["raw"])
    return redirect(f"/import/jobs/{job_id}?assigned={len(assigned)}", request)


__all__ = ["router"]
