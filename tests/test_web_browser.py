"""The web app in a real browser: Debian's Chromium driven by Playwright, against a real
server and a real encrypted diary. Covers the journeys a person takes (create, add, import,
search), quick exit and the idle lock, hostile text, that no page asks for anything outside
127.0.0.1, accessibility (axe-core), and saves screenshots of every main page at phone and
desktop widths into one folder for review (``build/screenshots``, or $DOCKET_SCREENSHOTS)."""

from __future__ import annotations

import os
import re
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlparse

import pytest

from tests.conftest import PASSPHRASE
from tests.helpers.web import Server, serve

sync_api = pytest.importorskip("playwright.sync_api")

CHROMIUM = Path("/usr/bin/chromium")
ROOT = Path(__file__).resolve().parents[1]
SHOTS = Path(os.environ.get("DOCKET_SCREENSHOTS", ROOT / "build" / "screenshots"))
AXE_PATHS = [
    Path(os.environ.get("DOCKET_AXE", "/nonexistent")),
    Path.home() / ".cache" / "docket-test" / "node" / "node_modules" / "axe-core" / "axe.min.js",
]
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 900}
EXIT = "https://www.bbc.co.uk/weather"

if not CHROMIUM.exists():  # pragma: no cover - the test command installs it
    if os.environ.get("CI"):
        raise RuntimeError("Chromium is missing: scripts/test.sh installs it")
    pytest.skip("Chromium is not installed (scripts/test.sh installs it)", allow_module_level=True)


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(
            executable_path=str(CHROMIUM),
            headless=True,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
            ],
        )
        yield b
        b.close()


class Watch:
    """Every request a page makes, and any script dialogs (there must be none)."""

    def __init__(self, page: object, base: str) -> None:
        self.base = urlparse(base)
        self.outside: list[str] = []
        self.dialogs: list[str] = []
        page.on("request", self._request)  # type: ignore[attr-defined]
        page.on("dialog", self._dialog)  # type: ignore[attr-defined]

    def _request(self, request: object) -> None:
        url = urlparse(request.url)  # type: ignore[attr-defined]
        if url.scheme in ("data", "about", "blob"):
            return
        if url.hostname != "127.0.0.1" and request.url != EXIT:  # type: ignore[attr-defined]
            self.outside.append(request.url)  # type: ignore[attr-defined]

    def _dialog(self, dialog: object) -> None:
        self.dialogs.append(dialog.message)  # type: ignore[attr-defined]
        dialog.dismiss()  # type: ignore[attr-defined]


def new_page(
    browser: object, server: Server, viewport: dict[str, int] = DESKTOP
) -> tuple[object, Watch]:
    context = browser.new_context(viewport=viewport, base_url=server.base_url)  # type: ignore[attr-defined]
    # the neutral site is not on this closed network: answer for it here
    context.route(
        EXIT + "**", lambda route: route.fulfill(status=200, body="<title>Weather</title>neutral")
    )
    page = context.new_page()
    return page, Watch(page, server.base_url)


def create_diary(page: object) -> None:
    page.goto("/")  # type: ignore[attr-defined]
    page.wait_for_url("**/create")  # type: ignore[attr-defined]
    page.fill("#passphrase", "pass")  # type: ignore[attr-defined]
    page.wait_for_selector("#strength .strength")  # type: ignore[attr-defined]
    page.fill("#passphrase", PASSPHRASE)  # type: ignore[attr-defined]
    page.fill("#again", PASSPHRASE)  # type: ignore[attr-defined]
    page.check("input[name=understood]")  # type: ignore[attr-defined]
    page.click("main button[type=submit]")  # type: ignore[attr-defined]
    page.wait_for_url("**/?welcome=1")  # type: ignore[attr-defined]


def unlock(page: object) -> None:
    page.goto("/unlock")  # type: ignore[attr-defined]
    page.fill("#passphrase", PASSPHRASE)  # type: ignore[attr-defined]
    page.click("main button[type=submit]")  # type: ignore[attr-defined]
    page.wait_for_url(re.compile(r".*/$"))  # type: ignore[attr-defined]


def add_incident(page: object, description: str, category: str = "LOI") -> None:
    page.goto("/incidents/new")  # type: ignore[attr-defined]
    page.select_option("#category", category)  # type: ignore[attr-defined]
    page.fill("#description", description)  # type: ignore[attr-defined]
    page.click("main button[type=submit]")  # type: ignore[attr-defined]
    page.wait_for_url(re.compile(r".*/incidents/\d+\?saved=1"))  # type: ignore[attr-defined]


def axe(page: object) -> list[dict[str, object]]:
    source = next((p for p in AXE_PATHS if p.exists()), None)
    if source is None:
        if os.environ.get("CI"):
            raise RuntimeError("axe-core is missing: scripts/test.sh installs it")
        pytest.skip("axe-core is not installed (scripts/test.sh installs it)")
    # evaluate, not a script tag: the page's CSP rightly refuses inline scripts
    page.evaluate(source.read_text("utf-8"))  # type: ignore[attr-defined]
    result = page.evaluate(  # type: ignore[attr-defined]
        "async () => (await axe.run(document, {resultTypes: ['violations']})).violations"
        ".map(v => ({id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.map(n => n.target)}))"
    )
    return [v for v in result if v["impact"] in ("serious", "critical")]


def test_a_person_creates_a_diary_adds_an_incident_imports_and_searches(
    browser, diary_path, tmp_path
) -> None:  # type: ignore[no-untyped-def]
    with serve(diary_path) as server:
        page, watch = new_page(browser, server, PHONE)
        started = time.monotonic()
        create_diary(page)
        add_incident(page, "Waited outside the office again at half five")
        assert "Waited outside the office" in page.content()  # type: ignore[attr-defined]
        quick = time.monotonic() - started
        assert quick < 60, "creating a diary and adding an incident should take well under a minute"

        chat = tmp_path / "WhatsApp Chat with Jo.txt"
        chat.write_text(
            "20/11/2026, 21:15 - Jo: where were you tonight\n"
            "20/11/2026, 21:16 - Jo: I saw your car at the harbour\n"
            "20/11/2026, 21:20 - Me: please stop contacting me\n",
            encoding="utf-8",
        )
        page.goto("/import")  # type: ignore[attr-defined]
        page.fill("#me", "Me")  # type: ignore[attr-defined]
        page.set_input_files("#file", str(chat))  # type: ignore[attr-defined]
        page.click("form button.primary")  # type: ignore[attr-defined]
        page.wait_for_selector("text=Done.", timeout=60_000)  # type: ignore[attr-defined]
        assert "3 added" in page.content()  # type: ignore[attr-defined]
        assert "Who are these senders?" in page.content()  # type: ignore[attr-defined]

        page.goto("/timeline")  # type: ignore[attr-defined]
        page.fill("#q", "harbour")  # type: ignore[attr-defined]
        page.press("#q", "Enter")  # type: ignore[attr-defined]
        page.wait_for_selector("mark")  # type: ignore[attr-defined]
        assert page.inner_text("mark").lower() == "harbour"  # type: ignore[attr-defined]
        page.click("text=See it in the conversation")  # type: ignore[attr-defined]
        assert "please stop contacting me" in page.content()  # type: ignore[attr-defined]
        assert watch.outside == [] and watch.dialogs == []


def test_hostile_text_renders_as_text_and_runs_nothing(browser, diary_path) -> None:  # type: ignore[no-untyped-def]
    payload = '<script>alert("s")</script><img src=x onerror=alert("i")>'
    with serve(diary_path) as server:
        page, watch = new_page(browser, server)
        create_diary(page)
        add_incident(page, payload)
        page.goto("/incidents")  # type: ignore[attr-defined]
        assert payload in page.inner_text("main")  # type: ignore[attr-defined]
        page.goto("/timeline")  # type: ignore[attr-defined]
        assert payload in page.inner_text("main")  # type: ignore[attr-defined]
        assert watch.dialogs == []
        assert all("/x" not in u for u in watch.outside)


def test_quick_exit_leaves_locks_and_replaces_the_history_entry(browser, diary_path) -> None:  # type: ignore[no-untyped-def]
    with serve(diary_path) as server:
        page, _ = new_page(browser, server)
        create_diary(page)
        add_incident(page, "something private")
        page.click("#quick-exit")  # type: ignore[attr-defined]
        page.wait_for_url(EXIT)  # type: ignore[attr-defined]
        deadline = time.monotonic() + 5
        while server.state.unlocked and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not server.state.unlocked
        page.go_back()  # type: ignore[attr-defined]
        assert "something private" not in page.content()  # type: ignore[attr-defined]

        unlock(page)
        page.goto("/incidents")  # type: ignore[attr-defined]
        page.keyboard.press("Escape")  # type: ignore[attr-defined]
        page.keyboard.press("Escape")  # type: ignore[attr-defined]
        page.wait_for_url(EXIT)  # type: ignore[attr-defined]
        deadline = time.monotonic() + 5
        while server.state.unlocked and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not server.state.unlocked


def test_idle_lock_in_the_browser(browser, diary_path) -> None:  # type: ignore[no-untyped-def]
    with serve(diary_path, idle_minutes=0.05) as server:  # three seconds
        page, _ = new_page(browser, server)
        create_diary(page)
        page.wait_for_url("**/locked", timeout=20_000)  # type: ignore[attr-defined]
        assert not server.state.unlocked
        page.goto("/")  # type: ignore[attr-defined]
        page.wait_for_url("**/unlock")  # type: ignore[attr-defined]


def test_a_form_post_without_the_token_is_rejected_in_the_browser(browser, diary_path) -> None:  # type: ignore[no-untyped-def]
    with serve(diary_path) as server:
        page, _ = new_page(browser, server)
        create_diary(page)
        page.goto("/incidents/new")  # type: ignore[attr-defined]
        page.evaluate("document.querySelector('main form input[name=csrf]').remove()")  # type: ignore[attr-defined]
        page.select_option("#category", "CON")  # type: ignore[attr-defined]
        page.fill("#description", "forged entry")  # type: ignore[attr-defined]
        page.click("main button[type=submit]")  # type: ignore[attr-defined]
        assert "nothing was changed" in page.content()  # type: ignore[attr-defined]
        with server.state.diary() as d:
            assert d.incidents() == []


def test_every_main_page_is_accessible_and_is_photographed(browser, tmp_path) -> None:  # type: ignore[no-untyped-def]
    from docket.web import demo

    path = tmp_path / "demo.docket"
    passphrase = demo.build(path)
    SHOTS.mkdir(parents=True, exist_ok=True)
    with serve(path, demo_passphrase=passphrase) as server:
        failures: dict[str, object] = {}
        for label, viewport in (("phone", PHONE), ("desktop", DESKTOP)):
            page, watch = new_page(browser, server, viewport)
            page.goto("/unlock")  # type: ignore[attr-defined]
            page.screenshot(path=str(SHOTS / f"unlock-{label}.png"), full_page=True)  # type: ignore[attr-defined]
            page.fill("#passphrase", passphrase)  # type: ignore[attr-defined]
            page.click("main button[type=submit]")  # type: ignore[attr-defined]
            page.wait_for_url(re.compile(r".*/$"))  # type: ignore[attr-defined]
            with server.state.diary() as d:
                incident = d.incidents()[-1].id
                message = d.messages(limit=1, newest_first=True)[0].id
                person = d.people()[0].id
            pages = {
                "overview": "/",
                "add": "/incidents/new",
                "diary": "/incidents",
                "incident": f"/incidents/{incident}",
                "edit": f"/incidents/{incident}/edit",
                "history": f"/incidents/{incident}/history",
                "timeline": "/timeline",
                "search": "/timeline?q=regret",
                "message": f"/messages/{message}",
                "people": "/people",
                "person": f"/people/{person}",
                "import": "/import",
                "verify": "/verify",
                "pattern": "/pattern",
                "checklist": "/checklist",
                "orders": "/orders",
                "report": "/report?audience=police",
                "export": "/export",
                "safety": "/safety",
                "accounts": "/safety/accounts",
                "sheet": f"/people/{person}/sheet",
                "witness": f"/incidents/{incident}/witness",
            }
            for name, url in pages.items():
                page.goto(url)  # type: ignore[attr-defined]
                page.screenshot(path=str(SHOTS / f"{name}-{label}.png"), full_page=True)  # type: ignore[attr-defined]
                if name == "pattern":  # a finding's entries and messages, read as two sentences
                    refs = page.inner_text("main")  # type: ignore[attr-defined]
                    assert "Messages: " in refs and ".Messages:" not in refs
                problems = axe(page)
                if problems:
                    failures[f"{name}-{label}"] = problems
            page.goto("/verify")  # type: ignore[attr-defined]
            page.click("main form button")  # type: ignore[attr-defined]
            page.wait_for_selector("text=No changes were found")  # type: ignore[attr-defined]
            page.screenshot(path=str(SHOTS / f"verified-{label}.png"), full_page=True)  # type: ignore[attr-defined]
            assert watch.outside == [], watch.outside
            page.click("#quick-exit")  # type: ignore[attr-defined]
            page.wait_for_url(EXIT)  # type: ignore[attr-defined]
        assert failures == {}, failures
        assert len(list(SHOTS.glob("*-phone.png"))) >= len(pages)
