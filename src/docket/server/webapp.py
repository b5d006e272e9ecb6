"""The web app in server mode: sign-in, the list of cases an account may open, the
administrators' pages (accounts, cases, access, audit), and — once a case is open — the very
same diary pages as the local app, each request checked and audited.

How it hangs together: ``app.state.server`` is a :class:`ServerWeb`. The diary pages call
``docket.web.app.session(request)``, which in server mode asks :meth:`ServerWeb.case_session`
for a :class:`CaseSession`: it checks the signed-in session (idle and absolute expiry), that
the account still has access to the case the session has open (grants are checked on every
request, so a revoked grant takes effect at once), and writes one audit entry for the request
the first time the case's data is used. Case record numbers are per case, and the case comes
from the session, never from the address, so there is no id to guess across cases.
"""

from __future__ import annotations

import contextlib
import secrets
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy import Engine

from docket.api import Diary
from docket.errors import DocketError, InputError, LoginFailed, NotAllowed
from docket.jurisdictions import Jurisdiction
from docket.jurisdictions import load as load_jurisdiction
from docket.server import accounts, audit, cases
from docket.server.config import ServerSettings
from docket.web import security
from docket.web.app import NeedUnlock, form, install_common, redirect, render
from docket.web.state import HELD_BYTES, HELD_FILES, Held, ImportJob, WebSettings

LOGIN = "/login"

# What each access-record action means, in plain words (the codes stay in the database).
AUDIT_LABELS = {
    "case.read": "Read",
    "case.write": "Added or changed something",
    "case.open": "Opened the case",
    "case.denied": "Was refused the case",
    "case.add": "Created the case",
    "case.close": "Closed the case",
    "case.grant": "Gave someone access",
    "case.revoke": "Removed someone's access",
    "case.import": "Brought in a diary file",
    "case.export": "Wrote the case out to a diary file",
    "case.access.read": "Looked at who has access",
    "denied": "Was refused a page",
    "login.ok": "Signed in",
    "login.failed": "Failed to sign in",
    "login.locked": "Was locked out after failed sign-ins",
    "login.rate_limited": "Too many sign-in attempts",
    "logout": "Signed out",
    "account.add": "Added an account",
    "account.disable": "Disabled an account",
    "account.enable": "Enabled an account",
    "account.unlock": "Unlocked an account",
    "account.password": "Changed a password",
    "account.totp_start": "Started setting up two-step sign-in",
    "account.totp_on": "Turned on two-step sign-in",
    "account.totp_off": "Turned off two-step sign-in",
    "server.init": "Set up the server",
}


class NeedCase(Exception):
    """Signed in, but no case is open: the app sends the browser to the case list."""


@dataclass
class Signed:
    """The signed-in account of one request, with its session."""

    account: accounts.Account
    token: str
    case_id: int | None


@dataclass
class _Held:
    files: dict[str, Held] = field(default_factory=dict)


class CaseSession:
    """What the diary pages see in server mode: the shape of ``docket.web.state.WebState``
    for one request, over the case the signed-in account has open."""

    def __init__(self, web: ServerWeb, request: Request, signed: Signed, case_id: int) -> None:
        self._web = web
        self._request = request
        self._signed = signed
        self.case_id = case_id
        self.settings = web.web_settings
        self.jobs = web.jobs_of(case_id)

    unlocked = True

    def valid(self, token: str | None) -> bool:
        return token == self._signed.token

    def touch(self) -> None:
        """The session's last use is updated when it is checked."""

    def lock_if_idle(self) -> bool:
        return False

    @contextlib.contextmanager
    def diary(self, *, wait: float = 2.0) -> Iterator[Diary]:
        """The case's diary for one unit of work, after an access check; the first use in a
        request is written to the audit log."""
        self.check_access()
        yield self._web.diary_of(self.case_id)

    def check_access(self) -> None:
        """Grants are checked on every use, so removing access takes effect at once; the first
        check in a request writes its entry in the access record."""
        if not cases.can_access(
            self._web.engine,
            account_id=self._signed.account.id,
            role=self._signed.account.role,
            case_id=self.case_id,
        ):
            raise NotAllowed(
                "This account cannot open that case.",
                hint="Ask an administrator for access, or choose a case from your list.",
            )
        self._web.audit_request(self._request, self._signed, self.case_id)

    def hold(self, name: str, media_type: str, data: bytes) -> str:
        return self._web.hold(self._signed.token, Held(name, media_type, data))

    def held(self, token: str) -> Held | None:
        return self._web.held(self._signed.token, token)

    def run_in_background(self, target: Callable[[], None]) -> threading.Thread:
        thread = threading.Thread(target=target, name="docket-job", daemon=True)
        thread.start()
        return thread

    def scratch_dir(self) -> Path:
        return self._web.settings.work_dir


class ServerWeb:
    """The server's shared state: settings, the database engine, open case diaries (one
    facade per case, shared by requests: each transaction takes its own connection), import
    jobs per case, and files held in memory per session."""

    def __init__(self, settings: ServerSettings, engine: Engine) -> None:
        self.settings = settings
        self.engine = engine
        self.web_settings = WebSettings(
            diary=settings.work_dir / "unused.docket",
            idle_minutes=float(settings.session_idle_minutes),
            exit_url=settings.exit_url,
        )
        self._guard = threading.Lock()
        self._diaries: dict[int, Diary] = {}
        self._jobs: dict[int, dict[str, ImportJob]] = {}
        self._held: dict[str, _Held] = {}

    # --- who is asking ------------------------------------------------------------------------

    def address(self, request: Request) -> str:
        if self.settings.trust_proxy:
            forwarded = request.headers.get("x-forwarded-for")
            if forwarded:
                return forwarded.split(",")[-1].strip()
        return request.client.host if request.client else "unknown"

    def signed(self, request: Request) -> Signed | None:
        cached: Signed | None = getattr(request.state, "docket_signed", None)
        if cached is not None:
            return cached
        token = request.cookies.get(security.SESSION_COOKIE)
        if not token:
            return None
        found = accounts.session_account(self.engine, self.settings, token)
        if found is None:
            return None
        account, row = found
        signed = Signed(account, token, row.case_id)
        request.state.docket_signed = signed
        return signed

    def require(self, request: Request, *roles: str) -> Signed:
        signed = self.signed(request)
        if signed is None:
            raise NeedUnlock
        if roles and signed.account.role not in roles:
            self.audit(request, signed, None, "denied", request.url.path)
            raise NotAllowed(
                "This account cannot use that page.",
                hint="Sign in with an account that has the right role, or ask an administrator.",
            )
        return signed

    def case_session(self, request: Request) -> CaseSession:
        """The open case for a diary page, after checking the account may still open it; the
        request is written to the case's access record."""
        signed = self.require(request)
        if signed.case_id is None:
            raise NeedCase
        session = CaseSession(self, request, signed, signed.case_id)
        session.check_access()
        return session

    # --- the case -------------------------------------------------------------------------------

    def diary_of(self, case_id: int) -> Diary:
        with self._guard:
            diary = self._diaries.get(case_id)
        if diary is None:
            diary = cases.open_case(self.engine, self.settings.server_key, case_id)
            with self._guard:
                diary = self._diaries.setdefault(case_id, diary)
        return diary

    def jobs_of(self, case_id: int) -> dict[str, ImportJob]:
        with self._guard:
            return self._jobs.setdefault(case_id, {})

    def jurisdiction_for(self, request: Request) -> Jurisdiction:
        signed = self.signed(request)
        if signed is not None and signed.case_id is not None:
            with contextlib.suppress(DocketError):
                return self.diary_of(signed.case_id).jurisdiction
        return load_jurisdiction(self.settings.jurisdiction)

    def page_context(self, request: Request) -> dict[str, Any]:
        signed = self.signed(request)
        case_title = None
        if signed is not None and signed.case_id is not None:
            with contextlib.suppress(DocketError):
                case_title = cases.get_case(self.engine, signed.case_id).title
        return {
            "server": True,
            "account": signed.account if signed else None,
            "unlocked": signed is not None and signed.case_id is not None,
            "case_title": case_title,
            "audit_labels": AUDIT_LABELS,
        }

    # --- the audit log ---------------------------------------------------------------------------

    def audit(
        self,
        request: Request,
        signed: Signed | None,
        case_id: int | None,
        action: str,
        target: str,
        detail: dict[str, Any] | None = None,
    ) -> None:
        audit.record(
            self.engine,
            account=signed.account if signed else None,
            case_id=case_id,
            action=action,
            target=target,
            address=self.address(request),
            detail=detail,
        )

    def audit_request(self, request: Request, signed: Signed, case_id: int) -> None:
        """One entry per request that uses a case's data: reading (GET) or changing it. The
        address is recorded without its query, which can hold search words."""
        if getattr(request.state, "docket_audited", None) == case_id:
            return
        request.state.docket_audited = case_id
        action = "case.read" if request.method in ("GET", "HEAD") else "case.write"
        detail = {"searched": True} if request.query_params.get("q") else None
        self.audit(request, signed, case_id, action, request.url.path, detail)

    # --- files held for download ---------------------------------------------------------------

    def hold(self, session_token: str, item: Held) -> str:
        token = secrets.token_urlsafe(16)
        with self._guard:
            box = self._held.setdefault(session_token, _Held()).files
            box[token] = item
            while len(box) > HELD_FILES or (
                len(box) > 1 and sum(len(h.data) for h in box.values()) > HELD_BYTES
            ):
                del box[next(iter(box))]
        return token

    def held(self, session_token: str, token: str) -> Held | None:
        with self._guard:
            box = self._held.get(session_token)
            return box.files.get(token) if box else None

    def forget(self, session_token: str) -> None:
        with self._guard:
            self._held.pop(session_token, None)

    def close(self) -> None:
        with self._guard:
            diaries, self._diaries = list(self._diaries.values()), {}
        for d in diaries:
            d.close()


class _PageState:
    """What the shared page renderer reads from ``app.state.docket``; whether a case is open
    comes from :meth:`ServerWeb.page_context` instead."""

    unlocked = False

    def __init__(self, settings: WebSettings) -> None:
        self.settings = settings

    def valid(self, token: str | None) -> bool:
        return False


def _int(value: Any) -> int | None:
    text = str(value or "").strip()
    return int(text) if text.isdigit() else None


def server_router(web: ServerWeb) -> APIRouter:
    router = APIRouter()
    engine, settings = web.engine, web.settings

    def _signed_in(request: Request, signed: Signed, to: str) -> Response:
        response = redirect(to)
        response.set_cookie(
            security.SESSION_COOKIE,
            signed.token,
            httponly=True,
            samesite="strict",
            path="/",
            secure=settings.secure_cookies,
        )
        return response

    # --- signing in and out ----------------------------------------------------------------

    @router.get("/login")
    def login_page(request: Request) -> Response:
        if web.signed(request) is not None:
            return redirect("/cases")
        return render(request, "server_login.html")

    @router.post("/login")
    async def login(request: Request) -> Response:
        fields = await form(request)
        username = str(fields.get("username", "")).strip()
        try:
            account = accounts.authenticate(
                engine,
                settings,
                username,
                str(fields.get("password", "")),
                str(fields.get("code", "")).strip() or None,
                web.address(request),
            )
        except LoginFailed as exc:
            return render(
                request,
                "server_login.html",
                {"error": exc, "username": username},
                status=401 if not isinstance(exc, NotAllowed) else 403,
            )
        token = accounts.start_session(engine, settings, account.id)
        signed = Signed(account, token, None)
        request.state.docket_signed = signed
        mine = cases.list_cases(engine, account_id=account.id, role=account.role)
        if account.role == "victim" and len(mine) == 1:
            return _open(request, signed, mine[0].id)
        return _signed_in(request, signed, "/cases")

    def _sign_out(request: Request, to: str) -> Response:
        signed = web.signed(request)
        if signed is not None:
            accounts.end_session(engine, signed.token)
            web.forget(signed.token)
            web.audit(request, signed, signed.case_id, "logout", "/logout")
        response = RedirectResponse(to, status_code=303)
        response.delete_cookie(security.SESSION_COOKIE, path="/")
        return response

    @router.post("/lock")
    def lock(request: Request) -> Response:
        return _sign_out(request, LOGIN)

    @router.get("/exit")
    def quick_exit(request: Request) -> Response:
        return _sign_out(request, settings.exit_url)

    @router.post("/alive")
    def alive(request: Request) -> Response:
        web.require(request)
        return Response(status_code=204)

    @router.get("/locked")
    def locked(request: Request) -> Response:
        return redirect(LOGIN)

    # --- cases ---------------------------------------------------------------------------------

    @router.get("/cases")
    def case_list(request: Request) -> Response:
        signed = web.require(request)
        mine = cases.list_cases(engine, account_id=signed.account.id, role=signed.account.role)
        return render(request, "server_cases.html", {"cases": mine})

    def _open(request: Request, signed: Signed, case_id: int) -> Response:
        if not cases.can_access(
            engine, account_id=signed.account.id, role=signed.account.role, case_id=case_id
        ):
            web.audit(request, signed, None, "case.denied", f"/cases/{case_id}")
            raise NotAllowed(
                "This account cannot open that case.",
                hint="Choose a case from your list, or ask an administrator for access.",
            )
        accounts.set_session_case(engine, signed.token, case_id)
        web.audit(request, signed, case_id, "case.open", f"/cases/{case_id}")
        return _signed_in(request, signed, "/")

    @router.post("/cases/{case_id}/open")
    def open_case(request: Request, case_id: str) -> Response:
        signed = web.require(request)
        number = _int(case_id)
        if number is None:
            raise NotAllowed("This account cannot open that case.")
        return _open(request, signed, number)

    @router.get("/case-audit")
    def case_audit(request: Request) -> Response:
        """Who has read or changed the open case: for the victim, their own case's record."""
        state = web.case_session(request)
        with state.diary():
            rows = audit.entries(engine, case_id=state.case_id, limit=200)
        return render(request, "server_audit.html", {"entries": rows, "scope": "case"})

    # --- administration -------------------------------------------------------------------------

    @router.get("/admin")
    def admin_home(request: Request) -> Response:
        web.require(request, "admin")
        return render(
            request,
            "server_admin.html",
            {
                "accounts": accounts.list_accounts(engine),
                "cases": cases.list_cases(engine, account_id=0, role="admin"),
                "roles": ("caseworker", "victim", "admin"),
            },
        )

    @router.post("/admin/accounts")
    async def admin_add_account(request: Request) -> Response:
        signed = web.require(request, "admin")
        fields = await form(request)
        account = accounts.add_account(
            engine,
            username=str(fields.get("username", "")),
            password=str(fields.get("password", "")),
            role=str(fields.get("role", "")),
            display_name=str(fields.get("display_name", "")),
            actor=signed.account,
            address=web.address(request),
        )
        return redirect(f"/admin?added={account.id}", request)

    @router.post("/admin/accounts/{account_id}/{action}")
    def admin_account_action(request: Request, account_id: str, action: str) -> Response:
        signed = web.require(request, "admin")
        number = _int(account_id)
        if number is None or action not in ("disable", "unlock"):
            raise InputError("There is no such account action.")
        if action == "disable":
            if number == signed.account.id:
                raise InputError(
                    "You cannot disable the account you are signed in with.",
                    hint="Ask another administrator.",
                )
            accounts.disable_account(
                engine, number, actor=signed.account, address=web.address(request)
            )
        else:
            accounts.unlock_account(
                engine, number, actor=signed.account, address=web.address(request)
            )
        return redirect("/admin", request)

    @router.post("/admin/cases")
    async def admin_add_case(request: Request) -> Response:
        signed = web.require(request, "admin")
        fields = await form(request)
        made = cases.create_case(
            engine,
            settings.server_key,
            title=str(fields.get("title", "")).strip(),
            created_by=signed.account.id,
            jurisdiction=str(fields.get("jurisdiction") or settings.jurisdiction),
        )
        web.audit(request, signed, made.id, "case.add", f"/admin/cases/{made.id}")
        return redirect(f"/admin/cases/{made.id}", request)

    @router.get("/admin/cases/{case_id}")
    def admin_case(request: Request, case_id: str) -> Response:
        signed = web.require(request, "admin")
        number = _int(case_id)
        if number is None:
            raise NotAllowed("There is no such case.")
        found = cases.get_case(engine, number)
        web.audit(request, signed, number, "case.access.read", f"/admin/cases/{number}")
        return render(
            request,
            "server_case_admin.html",
            {
                "case": found,
                "granted": cases.granted_accounts(engine, number),
                "accounts": accounts.list_accounts(engine),
                "entries": audit.entries(engine, case_id=number, limit=100),
            },
        )

    @router.post("/admin/cases/{case_id}/{action}")
    async def admin_case_action(request: Request, case_id: str, action: str) -> Response:
        signed = web.require(request, "admin")
        number = _int(case_id)
        fields = await form(request)
        account_id = _int(fields.get("account"))
        if number is None or account_id is None or action not in ("grant", "revoke"):
            raise InputError("There is no such case action.")
        if action == "grant":
            cases.grant(engine, number, account_id, granted_by=signed.account.id)
        else:
            cases.revoke(engine, number, account_id)
        web.audit(
            request,
            signed,
            number,
            f"case.{action}",
            f"/admin/cases/{number}",
            {"account": account_id},
        )
        return redirect(f"/admin/cases/{number}", request)

    @router.get("/admin/audit")
    def admin_audit(request: Request) -> Response:
        web.require(request, "admin")
        before = _int(request.query_params.get("before"))
        rows = audit.entries(engine, before_id=before, limit=200)
        return render(request, "server_audit.html", {"entries": rows, "scope": "all"})

    return router


def create_server_app(settings: ServerSettings, engine: Engine) -> FastAPI:
    """The server's app. Listens where the settings say (127.0.0.1 by default, behind a TLS
    proxy for anything else)."""
    web = ServerWeb(settings, engine)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> Any:
        try:
            yield
        finally:
            web.close()

    app = FastAPI(
        title="Docket server", docs_url=None, redoc_url=None, openapi_url=None, lifespan=lifespan
    )
    app.state.server = web
    app.state.docket = _PageState(web.web_settings)
    hosts = settings.allowed_hosts()
    app.add_middleware(
        security.Guard,
        allowed_hosts=lambda: hosts,
        scheme=urlsplit(settings.public_url).scheme if settings.public_url else "http",
        secure_cookies=settings.secure_cookies,
    )
    install_common(app)

    @app.exception_handler(NeedUnlock)
    async def _need_login(request: Request, exc: NeedUnlock) -> Response:
        return redirect(LOGIN, request)

    @app.exception_handler(NeedCase)
    async def _need_case(request: Request, exc: NeedCase) -> Response:
        return redirect("/cases", request)

    @app.get("/healthz")
    def healthz() -> Response:
        """For the reverse proxy's health check: says nothing about any case."""
        return Response("ok", media_type="text/plain")

    app.include_router(server_router(web))
    from docket.web import handover, imports, pages, pattern, safety, tellpeople

    app.include_router(pages.router)
    app.include_router(pattern.router)
    app.include_router(handover.router)
    app.include_router(imports.router)
    app.include_router(safety.router)
    app.include_router(tellpeople.router)
    return app
