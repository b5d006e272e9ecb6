"""A real Docket web server for tests: the app from ``docket.web.app`` under uvicorn, in a
thread, on a free port on 127.0.0.1."""

from __future__ import annotations

import re
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import uvicorn
from fastapi import FastAPI

from docket.web.app import create_app
from docket.web.state import WebSettings, WebState


class ThreadedServer:
    """An app under uvicorn in a thread, on a free port on 127.0.0.1; ``make_app(port)``
    builds the app once the port is known."""

    def __init__(self, make_app: Callable[[int], FastAPI]) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.bind(("127.0.0.1", 0))
        self.port = int(self.sock.getsockname()[1])
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.app = make_app(self.port)
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


class Server(ThreadedServer):
    """The local app over one diary file."""

    def __init__(self, settings: WebSettings) -> None:
        super().__init__(lambda port: create_app(settings, port=port))

    @property
    def state(self) -> WebState:
        state: WebState = self.app.state.docket
        return state


@contextmanager
def serve(diary: Path, **options: object) -> Iterator[Server]:
    server = Server(WebSettings(diary=diary, **options))  # type: ignore[arg-type]
    server.start()
    try:
        yield server
    finally:
        server.stop()


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', html) or re.search(
        r'data-csrf="([^"]+)"', html
    )
    assert found, "no CSRF token in the page"
    return found.group(1)


def unlock(client: httpx.Client, passphrase: str) -> None:
    """Unlock (or create) the diary through the real forms."""
    page = client.get("/unlock")
    if page.status_code == 303 and page.headers["location"] == "/create":
        form = client.get("/create")
        token = csrf_of(form.text)
        r = client.post(
            "/create",
            data={
                "csrf": token,
                "passphrase": passphrase,
                "again": passphrase,
                "understood": "yes",
            },
        )
    else:
        token = csrf_of(page.text)
        r = client.post("/unlock", data={"csrf": token, "passphrase": passphrase})
    assert r.status_code == 303, r.text
