"""A real Docket server (server mode) for tests: the app from ``docket.server.webapp`` under
uvicorn, in a thread, on a free port on 127.0.0.1, over a real PostgreSQL database; and ways to
sign in through its real forms."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterator
from contextlib import contextmanager

import httpx
from fastapi import FastAPI
from sqlalchemy import Engine

from docket.server.config import ServerSettings
from docket.server.webapp import create_server_app
from tests.helpers.web import ThreadedServer, csrf_of


class RunningServer(ThreadedServer):
    """The server-mode app, with the settings' port set to the one it listens on."""

    def __init__(self, settings: ServerSettings, engine: Engine) -> None:
        def make(port: int) -> FastAPI:
            self.settings = dataclasses.replace(settings, port=port)
            return create_server_app(self.settings, engine)

        super().__init__(make)


@contextmanager
def serve_server(settings: ServerSettings, engine: Engine) -> Iterator[RunningServer]:
    server = RunningServer(settings, engine)
    server.start()
    try:
        yield server
    finally:
        server.stop()


def sign_in(
    client: httpx.Client, username: str, password: str, code: str | None = None
) -> httpx.Response:
    page = client.get("/login")
    data = {"csrf": csrf_of(page.text), "username": username, "password": password}
    if code is not None:
        data["code"] = code
    return client.post("/login", data=data)


def open_case(client: httpx.Client, case_id: int) -> httpx.Response:
    page = client.get("/cases")
    token = re.search(r'name="csrf" value="([^"]+)"', page.text)
    csrf = token.group(1) if token else client.cookies.get("docket_csrf", "")
    return client.post(f"/cases/{case_id}/open", data={"csrf": csrf})
