"""A real Docket server (server mode) for tests: the app from ``docket.server.webapp`` under
uvicorn, in a thread, on a free port on 127.0.0.1, over a real PostgreSQL database; and ways to
sign in through its real forms."""

from __future__ import annotations

import dataclasses
import re
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import httpx
import uvicorn
from sqlalchemy import Engine

from docket.server.config import ServerSettings
from docket.server.webapp import create_server_app
from tests.helpers.web import csrf_of


class RunningServer:
    def __init__(self, settings: ServerSettings, engine: Engine) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.bind(("127.0.0.1", 0))
        self.port = int(self.sock.getsockname()[1])
        self.settings = dataclasses.replace(settings, port=self.port)
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.app = create_server_app(self.settings, engine)
        config = uvicorn.Config(self.app, log_level="warning", access_log=False, lifespan="on")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(
            target=self.server.run, kwargs={"sockets": [self.sock]}, daemon=True
        )

    def start(self) -> None:
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            if time.monotonic() > deadline:
                raise RuntimeError("the test server did not start")
            time.sleep(0.02)

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=30)
        self.sock.close()

    def client(self) -> httpx.Client:
        return httpx.Client(base_url=self.base_url, follow_redirects=False, timeout=60)


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
