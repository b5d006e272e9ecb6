"""Server mode in a real browser (Debian's Chromium via Playwright) against a real server over a
real PostgreSQL: signing in, the case list, the administration pages and the access record
pass axe-core with no serious or critical problems at phone and desktop widths and are
photographed for review; a caseworker's journey into a case and out by quick exit, which ends
the session on the server; and no request leaves 127.0.0.1."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from sqlalchemy import Engine

from docket.model import forms
from docket.server import accounts, cases, db
from docket.server.config import ServerSettings
from tests.conftest import SERVER_KEY
from tests.helpers.server import RunningServer, serve_server
from tests.test_web_browser import DESKTOP, EXIT, PHONE, SHOTS, axe, new_page

pytest.importorskip("playwright.sync_api")
from tests.test_web_browser import browser  # noqa: F401 - the shared browser fixture

PASSWORD = "correct horse battery staple"


@pytest.fixture(scope="module")
def server(pg_engine: Engine, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    db.migrate(pg_engine, SERVER_KEY)
    ids = {
        name: accounts.add_account(
            pg_engine, username=name, password=PASSWORD, role=role, display_name=shown
        ).id
        for name, role, shown in (
            ("amira", "admin", "Amira (manager)"),
            ("colin", "caseworker", "Colin"),
            ("vic", "victim", "Vic"),
        )
    }
    made = cases.create_case(pg_engine, SERVER_KEY, title="SA-2026-014", created_by=ids["amira"])
    diary = cases.open_case(pg_engine, SERVER_KEY, made.id)
    diary.add_incident(
        forms.IncidentInput(
            occurred="2026-03-01 14:00", category="LOI", description="Waiting outside work again."
        )
    )
    diary.close()
    cases.grant(pg_engine, made.id, ids["colin"], granted_by=ids["amira"])
    cases.grant(pg_engine, made.id, ids["vic"], granted_by=ids["amira"])
    settings = ServerSettings(
        database_url="postgresql://unused",
        server_key=SERVER_KEY,
        work_dir=tmp_path_factory.mktemp("work"),
        exit_url=EXIT,
    )
    with serve_server(settings, pg_engine) as running:
        yield running


def sign_in(page: object, username: str) -> None:
    page.goto("/login")  # type: ignore[attr-defined]
    page.fill("#username", username)  # type: ignore[attr-defined]
    page.fill("#password", PASSWORD)  # type: ignore[attr-defined]
    page.click("main button[type=submit]")  # type: ignore[attr-defined]
    page.wait_for_load_state()  # type: ignore[attr-defined]


def check(page: object, name: str, label: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"server-{name}-{label}.png"), full_page=True)  # type: ignore[attr-defined]
    problems = axe(page)
    assert not problems, (name, label, problems)


def test_server_pages_are_accessible_and_photographed(browser, server) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    for label, viewport in (("phone", PHONE), ("desktop", DESKTOP)):
        page, watch = new_page(browser, server, viewport)  # type: ignore[arg-type]
        page.goto("/login")  # type: ignore[attr-defined]
        check(page, "login", label)
        sign_in(page, "amira")
        page.wait_for_url("**/cases")  # type: ignore[attr-defined]
        check(page, "cases", label)
        for path, name in (("/admin", "admin"), ("/admin/cases/1", "case-access")):
            page.goto(path)  # type: ignore[attr-defined]
            check(page, name, label)
        page.goto("/admin/audit")  # type: ignore[attr-defined]
        assert "amira" in page.content()  # type: ignore[attr-defined]
        check(page, "audit", label)
        page.click("text=Sign out")  # type: ignore[attr-defined]
        page.wait_for_url("**/login")  # type: ignore[attr-defined]
        sign_in(page, "vic")  # a victim with one case goes straight into it
        page.wait_for_url(lambda url: url.endswith("/"))  # type: ignore[attr-defined]
        page.goto("/case-audit")  # type: ignore[attr-defined]
        assert "amira" in page.content()  # type: ignore[attr-defined]
        check(page, "case-audit", label)
        assert not watch.outside and not watch.dialogs
        page.context.close()  # type: ignore[attr-defined]


def test_caseworker_opens_a_case_and_leaves_by_quick_exit(browser, server, pg_engine) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    page, watch = new_page(browser, server)  # type: ignore[arg-type]
    sign_in(page, "colin")
    page.wait_for_url("**/cases")  # type: ignore[attr-defined]
    page.click("text=SA-2026-014")  # type: ignore[attr-defined]
    page.wait_for_url(lambda url: url.endswith("/"))  # type: ignore[attr-defined]
    page.goto("/incidents")  # type: ignore[attr-defined]
    assert "Waiting outside work again." in page.content()  # type: ignore[attr-defined]
    page.goto("/timeline")  # type: ignore[attr-defined]
    check(page, "timeline", "desktop")
    token = next(
        c["value"]
        for c in page.context.cookies()  # type: ignore[attr-defined]
        if c["name"] == "docket_session"
    )
    page.keyboard.press("Escape")  # type: ignore[attr-defined]
    page.keyboard.press("Escape")  # type: ignore[attr-defined]
    page.wait_for_url(EXIT)  # type: ignore[attr-defined]
    settings = ServerSettings(database_url="postgresql://unused", server_key=SERVER_KEY)
    deadline = time.monotonic() + 5
    while accounts.session_account(pg_engine, settings, token) is not None:
        assert time.monotonic() < deadline, "quick exit did not end the session"
        time.sleep(0.05)
    page.go_back()  # type: ignore[attr-defined]
    assert "Waiting outside work again." not in page.content()  # type: ignore[attr-defined]
    assert not watch.outside and not watch.dialogs
