"""Server mode's web app against a real PostgreSQL: sign-in, the case list, authorisation on
every route (anonymous, wrong role, a case not granted), the audit entry for every access,
lockout through the sign-in form, and the same diary pages working on a case."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from fastapi.routing import APIRoute
from sqlalchemy import Engine

from docket.model import forms
from docket.model.records import PersonData
from docket.server import accounts, audit, cases, db
from docket.server.config import ServerSettings
from tests.conftest import SERVER_KEY
from tests.helpers.server import RunningServer, open_case, serve_server, sign_in
from tests.helpers.web import csrf_of

PASSWORD = "correct horse battery staple"
MARK_A = "Marker-of-case-A"
MARK_B = "Marker-of-case-B"


@dataclass
class World:
    server: RunningServer
    engine: Engine
    case_a: int
    case_b: int
    ids: dict[str, int]


@pytest.fixture(scope="module")
def world(pg_engine: Engine, tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    db.migrate(pg_engine, SERVER_KEY)
    ids = {}
    for name, role in (
        ("admin1", "admin"),
        ("worker1", "caseworker"),
        ("worker2", "caseworker"),
        ("victim1", "victim"),
        ("locky", "caseworker"),
    ):
        ids[name] = accounts.add_account(
            pg_engine, username=name, password=PASSWORD, role=role, display_name=name.title()
        ).id
    a = cases.create_case(pg_engine, SERVER_KEY, title="Ref A-1", created_by=ids["admin1"])
    b = cases.create_case(pg_engine, SERVER_KEY, title="Ref B-2", created_by=ids["admin1"])
    for case, mark in ((a, MARK_A), (b, MARK_B)):
        diary = cases.open_case(pg_engine, SERVER_KEY, case.id)
        person = diary.add_person(PersonData(name=f"Person {mark}", role="responsible"))
        diary.add_incident(
            forms.IncidentInput(
                occurred="2026-03-01 14:00",
                category="LOI",
                description=f"Waiting outside work. {mark}",
                people=[person.id],
            )
        )
        diary.close()
    cases.grant(pg_engine, a.id, ids["worker1"], granted_by=ids["admin1"])
    cases.grant(pg_engine, a.id, ids["victim1"], granted_by=ids["admin1"])
    cases.grant(pg_engine, b.id, ids["worker2"], granted_by=ids["admin1"])
    settings = ServerSettings(
        database_url="postgresql://unused",
        server_key=SERVER_KEY,
        work_dir=tmp_path_factory.mktemp("server-work"),
        lockout_attempts=3,
        address_attempts_per_minute=1000,
    )
    with serve_server(settings, pg_engine) as server:
        yield World(server, pg_engine, a.id, b.id, ids)


def signed_in(world: World, username: str, case_id: int | None = None) -> httpx.Client:
    client = world.server.client()
    r = sign_in(client, username, PASSWORD)
    assert r.status_code == 303, r.text[:500]
    if case_id is not None:
        r = open_case(client, case_id)
        assert r.status_code == 303 and r.headers["location"] == "/", r.text[:500]
    return client


def diary_routes(world: World) -> list[tuple[str, str]]:
    """Every route of the diary pages, with its path parameters filled in."""
    own = {"/login", "/healthz", "/favicon.ico", "/cases", "/locked", "/exit", "/lock"}
    found = []
    routes = list(world.server.app.routes)
    for r in list(routes):  # routers included by FastAPI keep their own route lists
        inner = getattr(r, "original_router", None)
        if inner is not None:
            routes.extend(inner.routes)
    for route in routes:
        if not isinstance(route, APIRoute) or route.path in own or route.path.startswith("/admin"):
            continue
        if route.path.startswith("/cases/"):
            continue
        path = re.sub(r"\{[^}]+\}", "1", route.path)
        for method in sorted(route.methods or ()):
            if method != "HEAD":
                found.append((method, path))
    assert len(found) > 40  # the whole diary app, not a handful of pages
    return found


def test_anonymous_requests_go_to_sign_in_on_every_route(world: World) -> None:
    client = world.server.client()
    page = client.get("/login")
    csrf = csrf_of(page.text)
    for method, path in diary_routes(world):
        if method == "GET":
            r = client.get(path)
        else:
            r = client.post(path, data={"csrf": csrf}, params={"csrf": csrf})
        assert r.status_code in (303, 204), (method, path, r.status_code)
        if r.status_code == 303:
            assert r.headers["location"] == "/login", (method, path)
        else:  # htmx requests are redirected by header
            assert r.headers.get("hx-redirect") == "/login"
    for path in ("/admin", "/admin/audit", "/admin/cases/1", "/cases", "/case-audit"):
        r = client.get(path)
        assert r.status_code == 303 and r.headers["location"] == "/login", path


def test_a_caseworker_sees_only_the_case_granted(world: World) -> None:
    client = signed_in(world, "worker1")
    listing = client.get("/cases").text
    assert "Ref A-1" in listing and "Ref B-2" not in listing
    # guessing the other case's number is refused, and the refusal is recorded
    r = open_case(client, world.case_b)
    assert r.status_code == 403
    assert MARK_B not in r.text and "Ref B-2" not in r.text
    denied = audit.entries(world.engine, account_id=world.ids["worker1"], action_prefix="case.")
    assert any(e.action == "case.denied" and e.target == f"/cases/{world.case_b}" for e in denied)
    # a case number that does not exist gets the same answer as one not granted
    r_missing = open_case(client, 999_999)
    assert r_missing.status_code == 403
    # with case A open, every page of the diary app answers and shows only case A
    r = open_case(client, world.case_a)
    assert r.status_code == 303
    page = client.get("/incidents/1")
    assert MARK_A in page.text
    audited = 0
    for method, path in diary_routes(world):
        if method != "GET":
            continue
        before = _newest_audit_id(world)
        r = client.get(path)
        assert r.status_code < 500, (path, r.status_code, r.text[:300])
        assert MARK_B not in r.text, path
        # every diary page left exactly one entry naming it
        new = [
            e
            for e in audit.entries(world.engine, account_id=world.ids["worker1"], limit=20)
            if e.id > before and e.action.startswith("case.")
        ]
        if r.status_code in (200, 204, 303, 404):
            assert [(e.action, e.case_id, e.target) for e in new] == [
                ("case.read", world.case_a, path)
            ], path
            audited += 1
        assert all(e.case_id == world.case_a for e in new), path
    assert audited > 15
    client.close()


def _newest_audit_id(world: World) -> int:
    newest = audit.entries(world.engine, limit=1)
    return newest[0].id if newest else 0


def test_roles(world: World) -> None:
    client = signed_in(world, "worker1", world.case_a)
    for path in ("/admin", "/admin/audit", f"/admin/cases/{world.case_a}"):
        assert client.get(path).status_code == 403, path
    csrf = csrf_of(client.get("/").text)
    r = client.post("/admin/cases", data={"csrf": csrf, "title": "Sneaky"})
    assert r.status_code == 403
    assert all(
        c.title != "Sneaky" for c in cases.list_cases(world.engine, account_id=0, role="admin")
    )
    r = client.post(
        f"/admin/cases/{world.case_b}/grant", data={"csrf": csrf, "account": world.ids["worker1"]}
    )
    assert r.status_code == 403
    assert not cases.can_access(
        world.engine, account_id=world.ids["worker1"], role="caseworker", case_id=world.case_b
    )
    victim = signed_in(world, "victim1")
    # a victim with one case goes straight into it
    assert victim.get("/").status_code == 200
    assert victim.get("/admin").status_code == 403
    assert open_case(victim, world.case_b).status_code == 403


def test_every_access_is_audited_and_search_words_are_not(world: World) -> None:
    client = signed_in(world, "worker1", world.case_a)
    before = audit.entries(world.engine, case_id=world.case_a, limit=1)[0].id
    client.get("/incidents")
    client.get("/timeline", params={"q": "secretword"})
    client.get("/people/1")
    csrf = csrf_of(client.get("/incidents/new").text)
    r = client.post(
        "/incidents",
        data={
            "csrf": csrf,
            "occurred": "2026-03-02 09:00",
            "category": "CON",
            "description": "A call from a withheld number.",
        },
    )
    assert r.status_code == 303
    rows = [
        e
        for e in audit.entries(world.engine, case_id=world.case_a, limit=50)
        if e.id > before and e.account_id == world.ids["worker1"]
    ]
    seen = [(e.action, e.target) for e in reversed(rows)]
    assert ("case.read", "/incidents") in seen
    assert ("case.read", "/timeline") in seen
    assert ("case.read", "/people/1") in seen
    assert ("case.write", "/incidents") in seen
    # one entry per request, never the search words
    assert len([s for s in seen if s == ("case.read", "/incidents")]) == 1
    assert all("secretword" not in e.target + str(e.detail) for e in rows)
    # the victim reads who opened their case
    victim = signed_in(world, "victim1")
    page = victim.get("/case-audit")
    assert page.status_code == 200
    assert "worker1" in page.text and "/timeline" in page.text
    assert "secretword" not in page.text


def test_revoking_access_takes_effect_at_once(world: World) -> None:
    cases.grant(world.engine, world.case_b, world.ids["worker1"], granted_by=world.ids["admin1"])
    client = signed_in(world, "worker1", world.case_b)
    assert MARK_B in client.get("/incidents/1").text
    cases.revoke(world.engine, world.case_b, world.ids["worker1"])
    r = client.get("/incidents/1")
    assert r.status_code == 403
    assert MARK_B not in r.text


def test_lockout_through_the_sign_in_form(world: World) -> None:
    client = world.server.client()
    for _ in range(3):
        r = sign_in(client, "locky", "wrong password entirely")
        assert r.status_code == 401
    r = sign_in(client, "locky", PASSWORD)
    assert r.status_code == 401
    assert "locked" in r.text.lower()
    assert client.cookies.get("docket_session") is None
    # an unknown user gets the same answer as a wrong password
    unknown = sign_in(world.server.client(), "nobody-here", "wrong password entirely")
    wrong = sign_in(world.server.client(), "worker2", "wrong password entirely")
    assert unknown.status_code == wrong.status_code == 401
    assert _message(unknown.text) == _message(wrong.text)
    accounts.unlock_account(world.engine, world.ids["locky"])
    assert sign_in(client, "locky", PASSWORD).status_code == 303


def _message(html: str) -> str:
    found = re.search(r'role="alert">\s*<p><strong>([^<]+)</strong>', html)
    assert found, html[:500]
    return found.group(1)


def test_sign_out_and_quick_exit_end_the_session(world: World) -> None:
    client = signed_in(world, "worker1", world.case_a)
    token = client.cookies.get("docket_session")
    r = client.get("/exit")
    assert r.status_code == 303 and r.headers["location"].startswith("https://")
    again = world.server.client()
    again.cookies.set("docket_session", token or "")
    assert again.get("/incidents").headers.get("location") == "/login"


def test_admin_pages_add_case_and_grant(world: World, tmp_path: Path) -> None:
    client = signed_in(world, "admin1")
    page = client.get("/admin")
    assert page.status_code == 200 and "Ref A-1" in page.text
    csrf = csrf_of(page.text)
    r = client.post("/admin/cases", data={"csrf": csrf, "title": "Ref C-3"})
    assert r.status_code == 303
    new_id = int(r.headers["location"].rsplit("/", 1)[1])
    r = client.post(
        f"/admin/cases/{new_id}/grant", data={"csrf": csrf, "account": world.ids["worker2"]}
    )
    assert r.status_code == 303
    assert cases.can_access(
        world.engine, account_id=world.ids["worker2"], role="caseworker", case_id=new_id
    )
    grants = audit.entries(world.engine, case_id=new_id)
    assert {"case.add", "case.grant"} <= {e.action for e in grants}
    assert client.get("/admin/audit").status_code == 200
    worker2 = signed_in(world, "worker2", new_id)
    page = worker2.get("/verify")
    assert page.status_code == 200
    checked = worker2.post("/verify", data={"csrf": csrf_of(page.text)})
    assert checked.status_code == 200, checked.text[:500]
    assert 'role="alert"' not in checked.text


def test_host_header_and_foreign_origin_refused(world: World) -> None:
    client = world.server.client()
    r = client.get("/login", headers={"host": "evil.example"})
    assert r.status_code == 421
    page = client.get("/login")
    r = client.post(
        "/login",
        data={"csrf": csrf_of(page.text), "username": "worker1", "password": PASSWORD},
        headers={"origin": "http://evil.example"},
    )
    assert r.status_code == 403


def test_docket_server_serve_end_to_end(
    pg_url: str, cli_env: dict[str, str], tmp_path: Path
) -> None:
    """The real command: init, an administrator, a case, then `docket server serve` in its
    own process, signed in to through its forms; and a non-loopback address refused."""
    import socket
    import subprocess
    import sys
    import time

    from tests.conftest import run_cli

    cfg = tmp_path / "server.toml"
    env = {**cli_env, "DOCKET_SERVER_CONFIG": str(cfg), "DOCKET_SERVER_PASSWORD": PASSWORD}
    run_cli(["server", "init", "--database", pg_url], env, check=True)
    run_cli(["server", "user", "add", "boss", "--role", "admin"], env, check=True)
    run_cli(["server", "case", "add", "--title", "Ref Z-9"], env, check=True)
    refused = run_cli(["server", "serve", "--host", "0.0.0.0"], env)  # noqa: S104 - refused
    assert refused.returncode == 2 and "reverse proxy" in refused.stderr
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env["DOCKET_SERVER_WORK_DIR"] = str(tmp_path / "work")
    proc = subprocess.Popen(
        [sys.executable, "-m", "docket", "server", "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(base + "/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert proc.poll() is None, proc.communicate()[1]
            assert time.monotonic() < deadline, "the server did not start"
            time.sleep(0.2)
        with httpx.Client(base_url=base, timeout=30) as client:
            r = sign_in(client, "boss", PASSWORD)
            assert r.status_code == 303
            listing = client.get("/cases")
            assert "Ref Z-9" in listing.text
            case_id = int(re.findall(r'action="/cases/(\d+)/open"', listing.text)[0])
            assert open_case(client, case_id).status_code == 303
            assert client.get("/verify").status_code == 200
    finally:
        proc.terminate()
        _out, err = proc.communicate(timeout=30)
    assert proc.returncode in (0, -15), err
    assert "Traceback" not in err
