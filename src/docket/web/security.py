"""The web app's guards, as one ASGI middleware around every request:

- the Host header must name this server on loopback (DNS rebinding);
- a state-changing request (POST) must carry the CSRF token — the ``csrf`` form field for
  ordinary forms, or the ``X-CSRF-Token`` header or ``csrf`` query parameter for uploads —
  matching the browser's ``docket_csrf`` cookie, and any Origin header must be this server;
- every response gets ``Cache-Control: no-store``, a strict Content-Security-Policy (nothing
  from outside this server, no inline script or style) and the other protective headers.

Form bodies are read here (they are small; a limit applies) and handed on unchanged.
"""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Awaitable, Callable, MutableMapping
from http.cookies import SimpleCookie
from typing import Any
from urllib.parse import parse_qs

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

CSRF_COOKIE = "docket_csrf"
SESSION_COOKIE = "docket_session"
FORM_LIMIT = 2 * 1024 * 1024

CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)
HEADERS = [
    (b"cache-control", b"no-store"),
    (b"pragma", b"no-cache"),
    (b"content-security-policy", CSP.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"same-origin"),
    (b"cross-origin-opener-policy", b"same-origin"),
    (b"cross-origin-resource-policy", b"same-origin"),
    (b"permissions-policy", b"camera=(), microphone=(), geolocation=(), interest-cohort=()"),
]


def cookies(scope: Scope) -> dict[str, str]:
    jar: SimpleCookie = SimpleCookie()
    for name, value in scope.get("headers", ()):
        if name == b"cookie":
            try:
                jar.load(value.decode("latin-1"))
            except Exception:  # noqa: S112 - a malformed cookie header is ignored
                continue
    return {k: m.value for k, m in jar.items()}


def header(scope: Scope, name: bytes) -> str | None:
    for k, v in scope.get("headers", ()):
        if k == name:
            return str(v.decode("latin-1"))
    return None


def new_token() -> str:
    return secrets.token_urlsafe(32)


class Guard:
    """See the module docstring. ``allowed_hosts`` are the Host header values accepted."""

    def __init__(
        self,
        app: ASGIApp,
        allowed_hosts: Callable[[], set[str]],
        *,
        scheme: str = "http",
        secure_cookies: bool = False,
    ) -> None:
        """``scheme`` is the one browsers see (https behind a TLS proxy), for the Origin
        check; ``secure_cookies`` marks cookies Secure (only sent over HTTPS)."""
        self.app = app
        self.allowed_hosts = allowed_hosts
        self.scheme = scheme
        self.cookie_flags = "; Secure" if secure_cookies else ""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        host = (header(scope, b"host") or "").lower()
        if host not in self.allowed_hosts():
            await _plain(send, 421, "This address is not Docket's. Open Docket from its own link.")
            return
        jar = cookies(scope)
        csrf = jar.get(CSRF_COOKIE)
        fresh = None
        if not csrf:
            csrf = fresh = new_token()
        scope.setdefault("state", {})["csrf"] = csrf

        if scope["method"] not in ("GET", "HEAD", "OPTIONS"):
            origin = header(scope, b"origin")
            if origin is not None and origin.lower() not in {
                f"{self.scheme}://{h}" for h in self.allowed_hosts()
            }:
                await _plain(send, 403, "This form came from another site and was refused.")
                return
            supplied = header(scope, b"x-csrf-token")
            if supplied is None:
                query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
                supplied = next(iter(query.get("csrf", [])), None)
            content_type = (header(scope, b"content-type") or "").split(";")[0].strip().lower()
            if supplied is None and content_type == "application/x-www-form-urlencoded":
                body, receive = await _buffer(receive)
                if body is None:
                    await _plain(send, 413, "The form was too large.")
                    return
                form = parse_qs(body.decode("utf-8", "replace"))
                supplied = next(iter(form.get("csrf", [])), None)
            if fresh is not None or not supplied or not hmac.compare_digest(supplied, csrf):
                await _plain(
                    send,
                    403,
                    "This form had expired or did not come from Docket, so nothing was changed. "
                    "Go back, reload the page and try again.",
                )
                return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {k.lower() for k, _ in headers}
                headers += [(k, v) for k, v in HEADERS if k not in present]
                if fresh is not None:
                    headers.append(
                        (
                            b"set-cookie",
                            (
                                f"{CSRF_COOKIE}={fresh}; Path=/; HttpOnly; "
                                f"SameSite=Strict{self.cookie_flags}"
                            ).encode(),
                        )
                    )
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_headers)


async def _buffer(receive: Receive) -> tuple[bytes | None, Receive]:
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            break
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > FORM_LIMIT:
            return None, receive
        chunks.append(chunk)
        if not message.get("more_body", False):
            break
    body = b"".join(chunks)
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return body, replay


async def _plain(send: Send, status: int, text: str) -> None:
    body = text.encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [(b"content-type", b"text/plain; charset=utf-8"), *HEADERS],
        }
    )
    await send({"type": "http.response.body", "body": body})
