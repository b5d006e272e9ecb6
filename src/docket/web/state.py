"""The web app's one piece of shared state: which diary is unlocked, by which browser session,
and when it was last used — with the lock that serialises every use of the diary, the idle
auto-lock, and the import jobs running in the background.

Only one browser session holds the diary at a time. Locking forgets the session token and
closes the diary (once any running import has finished: an import is all or nothing, so it
is never cut short to lock).
"""

from __future__ import annotations

import contextlib
import hmac
import secrets
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from docket.api import Diary
from docket.errors import DiaryBusy


@dataclass(frozen=True)
class WebSettings:
    diary: Path
    jurisdiction: str = "england-wales"
    timezone: str | None = None
    region: str | None = None
    idle_minutes: float = 10.0
    exit_url: str = "https://www.bbc.co.uk/weather"
    demo_passphrase: str | None = None  # set for the demo diary, which unlocks itself


@dataclass
class ImportJob:
    """An import running in the background, as the progress page shows it."""

    id: str
    name: str
    stage: str = "Receiving the file"
    done: int = 0
    total: int = 0
    items: int = 0
    started: float = field(default_factory=time.monotonic)
    finished: bool = False
    summary: dict[str, Any] | None = None
    error: dict[str, Any] | None = None


HELD_FILES = 40
HELD_BYTES = 512 * 1024 * 1024


@dataclass(frozen=True)
class Held:
    name: str
    media_type: str
    data: bytes


class WebState:
    def __init__(self, settings: WebSettings, *, clock: Callable[[], float] = time.monotonic):
        self.settings = settings
        self._clock = clock
        self._diary: Diary | None = None
        self._token: str | None = None
        self._last_seen = clock()
        self._use = threading.RLock()  # one use of the diary at a time
        self._guard = threading.Lock()  # protects the fields above
        self._close_after_use = False
        self.jobs: dict[str, ImportJob] = {}
        self._held: dict[str, Held] = {}  # files made for the person to save, e.g. photo copies

    def scratch_dir(self) -> Path:
        """Where an encrypted file made for download is written before it is sent (beside
        the diary, so it never lands in a shared temporary folder)."""
        return self.settings.diary.parent

    # --- the session -------------------------------------------------------------------

    def start_session(self, diary: Diary) -> str:
        with self._guard:
            old = self._diary
            self._diary = diary
            self._token = secrets.token_urlsafe(32)
            self._last_seen = self._clock()
            self._close_after_use = False
        if old is not None and old is not diary:
            with self._use:
                old.close()
        return self._token

    def valid(self, token: str | None) -> bool:
        with self._guard:
            current = self._token
        return bool(token) and current is not None and hmac.compare_digest(current, token or "")

    @property
    def unlocked(self) -> bool:
        return self._diary is not None and self._token is not None

    def touch(self) -> None:
        with self._guard:
            self._last_seen = self._clock()

    def idle_seconds(self) -> float:
        return self._clock() - self._last_seen

    # --- files made for the person to save (kept in memory only, forgotten on locking) ----

    def hold(self, name: str, media_type: str, data: bytes) -> str:
        """Keep a file in memory for the person to save; the oldest are forgotten beyond
        ``HELD_FILES`` files or ``HELD_BYTES`` bytes. Returns the token to fetch it with."""
        token = secrets.token_urlsafe(16)
        with self._guard:
            self._held[token] = Held(name, media_type, data)
            while len(self._held) > HELD_FILES or (
                len(self._held) > 1 and sum(len(h.data) for h in self._held.values()) > HELD_BYTES
            ):
                del self._held[next(iter(self._held))]
        return token

    def held(self, token: str) -> Held | None:
        with self._guard:
            return self._held.get(token)

    def lock(self) -> None:
        """Forget the session at once; close the diary as soon as nothing is using it."""
        with self._guard:
            self._token = None
            self._held.clear()
        if self._use.acquire(blocking=False):
            try:
                self._close()
            finally:
                self._use.release()
        else:
            with self._guard:
                self._close_after_use = True

    def _close(self) -> None:
        with self._guard:
            diary, self._diary = self._diary, None
            self._close_after_use = False
        if diary is not None:
            diary.close()

    def lock_if_idle(self) -> bool:
        if self.unlocked and self.idle_seconds() > self.settings.idle_minutes * 60:
            self.lock()
            return True
        return False

    # --- using the diary ---------------------------------------------------------------

    @contextlib.contextmanager
    def diary(self, *, wait: float = 2.0) -> Iterator[Diary]:
        """The unlocked diary, for one unit of work. Raises DiaryBusy when an import holds it
        for longer than ``wait`` seconds."""
        if not self._use.acquire(timeout=wait):
            raise DiaryBusy(
                "Docket is busy importing a file.",
                cause="An import keeps the diary to itself until it has finished.",
                hint="This page will be ready when the import ends; the import page shows how "
                "far it has got.",
            )
        try:
            if self._diary is None:
                raise Locked
            yield self._diary
        finally:
            try:
                if self._close_after_use:
                    self._close()
            finally:
                self._use.release()

    def run_in_background(self, target: Callable[[], None]) -> threading.Thread:
        thread = threading.Thread(target=target, name="docket-job", daemon=True)
        thread.start()
        return thread

    def close(self) -> None:
        with self._guard:
            self._token = None
        with self._use:
            self._close()


class Locked(Exception):
    """The diary was locked while a request was on its way; the app sends it to the unlock
    page."""
