"""The web app's assembly: settings and state, the guard middleware, templates, the one place
where Docket's errors become pages, and the routes that create, unlock and lock the diary
(quick exit included). The diary's own pages are in ``pages.py`` and ``imports.py``."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from jinja2 import Environment, PackageLoader, select_autoescape
from starlette.datastructures import FormData

from docket import __version__, timeline
from docket.api import Diary
from docket.errors import (
    DiaryBusy,
    DiaryExists,
    DiaryNotFound,
    DocketError,
    JurisdictionError,
    LoginFailed,
    NotAllowed,
    NotSupportedHere,
    PassphraseRejected,
    RecordNotFound,
    WrongPassphrase,
)
from docket.jurisdictions import Jurisdiction
from docket.jurisdictions import available as available_jurisdictions
from docket.jurisdictions import load as load_jurisdiction
from docket.store.keys import check_new_passphrase
from docket.web import security, strength
from docket.web.state import Locked, WebSettings, WebState

STATIC = Path(__file__).parent / "static"


class NeedUnlock(Exception):
    """The request needs the diary, and it is locked (or this browser is not the one that
    unlocked it)."""


def templates() -> Environment:
    env = Environment(
        loader=PackageLoader("docket.web", "templates"),
        autoescape=select_autoescape(default=True, default_for_string=True),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["channel"] = lambda c: timeline.CHANNEL_LABELS.get(c, c)
    return env


def web(request: Request) -> WebState:
    state: WebState = request.app.state.docket
    return state


def session(request: Request) -> WebState:
    """The state, after checking that this browser holds the unlocked diary.

    On a server (``docket server serve``) the answer is instead the signed-in account's view
    of the case it has open, after checking the login and the account's access to the case
    (see ``docket.server.webapp``); the diary pages are the same."""
    server = getattr(request.app.state, "server", None)
    if server is not None:
        case_state: WebState = server.case_session(request)
        return case_state
    state = web(request)
    state.lock_if_idle()
    if not state.unlocked or not state.valid(request.cookies.get(security.SESSION_COOKIE)):
        raise NeedUnlock
    if request.headers.get("x-docket-poll") != "1":
        state.touch()
    return state


def jurisdiction_of(request: Request) -> Jurisdiction:
    server = getattr(request.app.state, "server", None)
    if server is not None:
        found: Jurisdiction = server.jurisdiction_for(request)
        return found
    state = web(request)
    j: Jurisdiction | None = getattr(request.app.state, "jurisdiction", None)
    return j or load_jurisdiction(state.settings.jurisdiction)


def render(
    request: Request, name: str, context: dict[str, Any] | None = None, status: int = 200
) -> HTMLResponse:
    state = web(request)
    env: Environment = request.app.state.templates
    j = jurisdiction_of(request)
    ctx = {
        "request": request,
        "csrf": request.scope.get("state", {}).get("csrf", ""),
        "exit_url": state.settings.exit_url,
        "idle_seconds": int(state.settings.idle_minutes * 60),
        "unlocked": state.unlocked and state.valid(request.cookies.get(security.SESSION_COOKIE)),
        "j": j,
        "helpline": j.helplines[0] if j.helplines else None,
        "version": __version__,
        "path": request.url.path,
    }
    server = getattr(request.app.state, "server", None)
    if server is not None:
        ctx.update(server.page_context(request))
    ctx.update(context or {})
    return HTMLResponse(env.get_template(name).render(ctx), status_code=status)


def redirect(url: str, request: Request | None = None) -> Response:
    """A redirect after a form (303), or HX-Redirect for an htmx request."""
    if request is not None and request.headers.get("hx-request") == "true":
        return Response(status_code=204, headers={"HX-Redirect": url})
    return RedirectResponse(url, status_code=303)


def content_disposition(name: str, disposition: str = "attachment") -> str:
    """A Content-Disposition value with an ASCII fallback and the real name (RFC 6266/5987):
    headers cannot carry other text."""
    fallback = "".join(c if 32 <= ord(c) < 127 and c not in '"\\' else "_" for c in name)
    return f"{disposition}; filename=\"{fallback}\"; filename*=UTF-8''{quote(name, safe='')}"


def download(data: bytes, name: str, media_type: str) -> Response:
    """A file made for the person to save (a sheet, a cleaned photo), never shown in a page."""
    return Response(
        data,
        media_type=media_type,
        headers={
            "Content-Disposition": content_disposition(name),
            "Content-Security-Policy": "default-src 'none'; sandbox",
            "Cache-Control": "no-store",
        },
    )


STATUS = {
    RecordNotFound: 404,
    DiaryBusy: 503,
    WrongPassphrase: 403,
    NotAllowed: 403,
    LoginFailed: 401,
    NotSupportedHere: 400,
}


def error_page(request: Request, exc: DocketError) -> HTMLResponse:
    """The one place where a Docket error becomes a page: what happened, the likely cause,
    what to do, and where."""
    status = next((s for t, s in STATUS.items() if isinstance(exc, t)), 400)
    if exc.exit_code == 1:
        status = 500
    return render(request, "error.html", {"error": exc}, status=status)


async def form(request: Request) -> FormData:
    """An ordinary (url-encoded) form's fields. Uploads never come through here."""
    return await request.form(max_files=0)


def install_common(app: FastAPI) -> None:
    """What the local app and the server's app share: the templates, the static files, the one
    mapping of Docket's errors to pages, the not-found page, and a quiet favicon."""
    app.state.templates = templates()
    app.mount("/static", StaticFiles(directory=STATIC), name="static")

    @app.exception_handler(DocketError)
    async def _docket_error(request: Request, exc: DocketError) -> Response:
        return error_page(request, exc)

    @app.exception_handler(404)
    async def _not_found(request: Request, exc: Exception) -> Response:
        return render(request, "not_found.html", status=404)

    @app.get("/favicon.ico")
    def favicon() -> Response:
        return Response(status_code=204)


def create_app(settings: WebSettings, *, port: int) -> FastAPI:
    """The app for a server listening on 127.0.0.1:``port``."""
    state = WebState(settings)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async def idle_watch() -> None:
            while True:
                await asyncio.sleep(5)
                state.lock_if_idle()

        task = asyncio.create_task(idle_watch())
        try:
            yield
        finally:
            task.cancel()
            state.close()

    app = FastAPI(
        title="Docket", docs_url=None, redoc_url=None, openapi_url=None, lifespan=lifespan
    )
    app.state.docket = state
    allowed = {f"127.0.0.1:{port}", f"localhost:{port}"}
    app.add_middleware(security.Guard, allowed_hosts=lambda: allowed)
    install_common(app)

    @app.exception_handler(NeedUnlock)
    async def _need_unlock(request: Request, exc: NeedUnlock) -> Response:
        return redirect("/unlock", request)

    @app.exception_handler(Locked)
    async def _locked(request: Request, exc: Locked) -> Response:
        return redirect("/unlock", request)

    # --- create, unlock, lock --------------------------------------------------------------

    @app.get("/unlock")
    def unlock_page(request: Request) -> Response:
        if not settings.diary.exists():
            return redirect("/create")
        if state.unlocked and state.valid(request.cookies.get(security.SESSION_COOKIE)):
            return redirect("/")
        return render(request, "unlock.html", {"demo": settings.demo_passphrase})

    @app.post("/unlock")
    async def unlock(request: Request) -> Response:
        fields = await form(request)
        passphrase = str(fields.get("passphrase", ""))
        try:
            diary = await asyncio.to_thread(Diary.open, settings.diary, passphrase)
        except (WrongPassphrase, DiaryNotFound, DiaryBusy) as exc:
            return render(
                request, "unlock.html", {"error": exc, "demo": settings.demo_passphrase}, 403
            )
        return _start(request, diary)

    @app.get("/create")
    def create_page(request: Request) -> Response:
        if settings.diary.exists():
            return redirect("/unlock")
        return render(request, "create.html", _create_context())

    def _create_context() -> dict[str, Any]:
        return {
            "diary_path": settings.diary,
            "places": [load_jurisdiction(j) for j in available_jurisdictions()],
            "chosen": settings.jurisdiction,
        }

    @app.post("/create/strength")
    async def passphrase_strength(request: Request) -> Response:
        fields = await form(request)
        s = strength.estimate(str(fields.get("passphrase", "")))
        return render(request, "_strength.html", {"s": s})

    @app.post("/create")
    async def create(request: Request) -> Response:
        fields = await form(request)
        passphrase = str(fields.get("passphrase", ""))
        again = str(fields.get("again", ""))
        chosen = str(fields.get("jurisdiction", "") or settings.jurisdiction)
        values = {**_create_context(), "chosen": chosen}
        try:
            if chosen not in available_jurisdictions():
                raise JurisdictionError(f"There is no jurisdiction profile called {chosen!r}.")
            check_new_passphrase(passphrase)
            if passphrase != again:
                raise PassphraseRejected(
                    "The two passphrases are not the same.",
                    hint="Type the same passphrase in both boxes.",
                )
            if fields.get("understood") != "yes":
                raise PassphraseRejected(
                    "Please confirm that you understand a lost passphrase cannot be recovered.",
                    hint="Tick the box once you have somewhere safe to keep it.",
                )
            settings.diary.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            diary = await asyncio.to_thread(
                Diary.create,
                settings.diary,
                passphrase,
                jurisdiction=chosen,
                timezone=settings.timezone,
                region=settings.region,
            )
        except (PassphraseRejected, DiaryExists, JurisdictionError) as exc:
            return render(request, "create.html", {**values, "error": exc}, 400)
        return _start(request, diary, "/?welcome=1")

    def _start(request: Request, diary: Diary, to: str = "/") -> Response:
        token = state.start_session(diary)
        app.state.jurisdiction = diary.jurisdiction
        response = redirect(to)
        response.set_cookie(
            security.SESSION_COOKIE, token, httponly=True, samesite="strict", path="/"
        )
        return response

    @app.post("/lock")
    def lock(request: Request) -> Response:
        state.lock()
        response = redirect("/locked", request)
        response.delete_cookie(security.SESSION_COOKIE, path="/")
        return response

    @app.get("/exit")
    def quick_exit(request: Request) -> Response:
        """Quick exit without script: lock, then leave for the neutral site."""
        state.lock()
        response = RedirectResponse(settings.exit_url, status_code=303)
        response.delete_cookie(security.SESSION_COOKIE, path="/")
        return response

    @app.get("/locked")
    def locked_page(request: Request) -> Response:
        return render(request, "locked.html")

    @app.post("/alive")
    def alive(request: Request) -> Response:
        """The page's heartbeat while someone is typing or moving around it."""
        session(request)
        return Response(status_code=204)

    from docket.web import handover, imports, pages, pattern, safety, tellpeople

    app.include_router(pages.router)
    app.include_router(pattern.router)
    app.include_router(handover.router)
    app.include_router(imports.router)
    app.include_router(safety.router)
    app.include_router(tellpeople.router)
    return app


__all__ = ["NeedUnlock", "create_app", "error_page", "form", "redirect", "render", "session"]
