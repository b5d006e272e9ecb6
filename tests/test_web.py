"""The web app over real HTTP (a real server on 127.0.0.1, a real encrypted diary): the
guards (Host check, CSRF, headers), locking, the forms, escaping of hostile text, uploads
streamed into the store, search and the timeline."""

from __future__ import annotations

import re
import time
from pathlib import Path

import httpx
import pytest

from docket.api import Diary
from tests.conftest import PASSPHRASE, SHARED
from tests.helpers.web import csrf_of, serve, unlock

XSS = '<script>alert("x")</script><img src=x onerror=alert(1)>'


@pytest.fixture
def server(diary_path: Path):  # type: ignore[no-untyped-def]
    with serve(diary_path) as s:
        yield s


@pytest.fixture
def client(server):  # type: ignore[no-untyped-def]
    with server.client() as c:
        unlock(c, PASSPHRASE)
        yield c


def add_incident(client: httpx.Client, **fields: str) -> int:
    page = client.get("/incidents/new")
    data = {"csrf": csrf_of(page.text), "category": "CON", "occurred": "2026-11-20T18:30"}
    data.update(fields)
    r = client.post("/incidents", data=data)
    assert r.status_code == 303, r.text
    return int(re.search(r"/incidents/(\d+)", r.headers["location"]).group(1))  # type: ignore[union-attr]


def test_first_visit_creates_a_diary_and_every_response_is_guarded(server, diary_path) -> None:  # type: ignore[no-untyped-def]
    with server.client() as c:
        r = c.get("/")
        assert r.status_code == 303 and r.headers["location"] == "/unlock"
        r = c.get("/unlock")
        assert r.headers["location"] == "/create"
        page = c.get("/create")
        assert "cannot be recovered" in page.text
        for resp in (r, page):
            assert resp.headers["cache-control"] == "no-store"
            assert "default-src 'none'" in resp.headers["content-security-policy"]
            assert "script-src 'self'" in resp.headers["content-security-policy"]
            assert resp.headers["x-frame-options"] == "DENY"
        unlock(c, PASSPHRASE)
        home = c.get("/")
        assert home.status_code == 200
        assert "Overview" in home.text and "Quick exit" in home.text
        assert "999" in home.text and "0808 802 0300" in home.text
        assert "not legal advice" in home.text
    assert diary_path.exists()


def test_create_refuses_a_mismatch_and_a_missing_acknowledgement(server, diary_path) -> None:  # type: ignore[no-untyped-def]
    with server.client() as c:
        token = csrf_of(c.get("/create").text)
        r = c.post(
            "/create",
            data={
                "csrf": token,
                "passphrase": PASSPHRASE,
                "again": "other words here",
                "understood": "yes",
            },
        )
        assert r.status_code == 400 and "not the same" in r.text
        r = c.post("/create", data={"csrf": token, "passphrase": PASSPHRASE, "again": PASSPHRASE})
        assert r.status_code == 400 and "cannot be recovered" in r.text
        assert not diary_path.exists()
        r = c.post("/create/strength", data={"csrf": token, "passphrase": "password"})
        assert "Easy to guess" in r.text
        r = c.post(
            "/create/strength", data={"csrf": token, "passphrase": "kettle orbit maple drum"}
        )
        assert "Good" in r.text or "Strong" in r.text


def test_host_header_must_be_this_server(server) -> None:  # type: ignore[no-untyped-def]
    r = httpx.get(server.base_url + "/unlock", headers={"Host": "attacker.example:80"})
    assert r.status_code == 421
    r = httpx.get(server.base_url + "/unlock", headers={"Host": f"localhost:{server.port}"})
    assert r.status_code in (200, 303)


def test_a_form_without_the_csrf_token_is_refused_and_changes_nothing(client, server) -> None:  # type: ignore[no-untyped-def]
    data = {"category": "CON", "occurred": "2026-11-20T18:30", "description": "forged"}
    r = client.post("/incidents", data=data)
    assert r.status_code == 403 and "nothing was changed" in r.text
    r = client.post("/incidents", data={**data, "csrf": "wrong"})
    assert r.status_code == 403
    token = csrf_of(client.get("/incidents/new").text)
    r = client.post(
        "/incidents", data={**data, "csrf": token}, headers={"Origin": "http://evil.example"}
    )
    assert r.status_code == 403
    r = client.post("/lock")  # even locking needs the token
    assert r.status_code == 403
    assert "forged" not in client.get("/incidents").text
    with server.state.diary() as d:
        assert d.incidents() == []


def test_hostile_text_is_shown_as_text(client) -> None:  # type: ignore[no-untyped-def]
    n = add_incident(client, description=XSS, place=XSS, exact_words=XSS)
    for url in (f"/incidents/{n}", "/incidents", "/timeline", "/", "/timeline?q=alert"):
        page = client.get(url).text
        assert "<script>alert" not in page and "<img src=x" not in page, url
        assert "&lt;script&gt;" in page or "alert" not in page, url


def test_no_diary_content_in_page_titles(client) -> None:  # type: ignore[no-untyped-def]
    marker = "ZebraMarker"
    n = add_incident(client, description=f"{marker} outside", place=marker)
    for url in (
        "/",
        "/incidents",
        f"/incidents/{n}",
        f"/incidents/{n}/edit",
        "/timeline",
        f"/timeline?q={marker}",
        "/people",
        "/import",
        "/verify",
    ):
        page = client.get(url)
        assert page.status_code == 200, url
        title = re.search(r"<title>(.*?)</title>", page.text, re.S).group(1)  # type: ignore[union-attr]
        assert marker not in title and "Docket" in title, url


def test_edit_needs_a_reason_and_keeps_history(client, server) -> None:  # type: ignore[no-untyped-def]
    n = add_incident(client, description="first version")
    form = client.get(f"/incidents/{n}/edit").text
    token = csrf_of(form)
    base = {"csrf": token, "category": "CON", "occurred": "2026-11-20T18:30"}
    r = client.post(f"/incidents/{n}/edit", data={**base, "description": "second version"})
    assert r.status_code == 400 and "reason" in r.text
    r = client.post(
        f"/incidents/{n}/edit",
        data={**base, "description": "second version", "reason": "remembered more"},
    )
    assert r.status_code == 303
    page = client.get(f"/incidents/{n}").text
    assert "second version" in page and "changed 1 time" in page
    history = client.get(f"/incidents/{n}/history").text
    assert "remembered more" in history and "description" in history
    with server.state.diary() as d:
        assert [v.reason for v in d.history("incident", n)] == [None, "remembered more"]


def test_removal_needs_confirmation(client, server) -> None:  # type: ignore[no-untyped-def]
    n = add_incident(client, description="to be removed")
    token = csrf_of(client.get(f"/remove/incident/{n}").text)
    r = client.post(f"/remove/incident/{n}", data={"csrf": token, "reason": "private"})
    assert r.status_code == 400
    assert "to be removed" in client.get(f"/incidents/{n}").text
    r = client.post(
        f"/remove/incident/{n}", data={"csrf": token, "reason": "private", "confirm": "yes"}
    )
    assert r.status_code == 303
    page = client.get(f"/incidents/{n}").text
    assert "to be removed" not in page and "You removed this incident" in page
    assert "to be removed" not in client.get("/timeline?q=removed").text


def test_an_upload_is_stored_byte_exact(client, server, tmp_path) -> None:  # type: ignore[no-untyped-def]
    n = add_incident(client, description="with a photo")
    token = csrf_of(client.get(f"/incidents/{n}").text)
    payload = b"\xff\xd8\xff\xe0" + bytes(range(256)) * 20_000  # ~5 MB, a JPEG's first bytes
    r = client.post(
        f"/incidents/{n}/files?csrf={token}",
        data={"note": "taken at the door"},
        files={"file": ("door.jpg", payload, "image/jpeg")},
    )
    assert r.status_code == 303, r.text
    with server.state.diary() as d:
        (a,) = d.incident(n).attachments
        assert (
            a.data is not None and a.data.name == "door.jpg" and a.data.note == "taken at the door"
        )
        assert b"".join(d.iter_attachment(a.id)) == payload
    got = client.get(f"/files/{a.id}")
    assert got.content == payload
    assert got.headers["content-type"] == "image/jpeg"
    assert "sandbox" in got.headers["content-security-policy"]
    r = client.post(f"/incidents/{n}/files", files={"file": ("x.jpg", b"abc", "image/jpeg")})
    assert r.status_code == 403


def test_people_and_the_timeline_with_filters_and_search(client, server, tmp_path) -> None:  # type: ignore[no-untyped-def]
    token = csrf_of(client.get("/people/new").text)
    r = client.post(
        "/people",
        data={"csrf": token, "name": "Jo Bloggs", "role": "responsible", "phones": "07700 900123"},
    )
    assert r.status_code == 303
    person = int(r.headers["location"].rsplit("/", 1)[1])
    add_incident(client, description="waited outside work", category="LOI", people=str(person))
    add_incident(client, description="sent flowers", category="GIF", occurred="2026-11-18T09:00")
    chat = tmp_path / "chat.txt"
    chat.write_text(
        "19/11/2026, 21:15 - Jo Bloggs: where were you tonight\n"
        "19/11/2026, 21:16 - Jo Bloggs: I saw your car at the station\n"
        "19/11/2026, 21:20 - Me: please stop\n",
        encoding="utf-8",
    )
    with server.state.diary() as d:
        d.import_file(chat, person=person, me=("Me",), day_first=True)
    page = client.get("/timeline").text
    assert (
        page.index("waited outside work")
        < page.index("I saw your car")
        < page.index("sent flowers")
    )
    only_loi = client.get("/timeline?category=LOI").text
    assert "waited outside work" in only_loi and "sent flowers" not in only_loi
    assert "I saw your car" not in only_loi
    whatsapp = client.get("/timeline?channel=whatsapp").text
    assert "I saw your car" in whatsapp and "sent flowers" not in whatsapp
    theirs = client.get(f"/timeline?person={person}").text
    assert "I saw your car" in theirs and "please stop" not in theirs
    dated = client.get("/timeline?from=2026-11-19&to=2026-11-19").text
    assert "I saw your car" in dated and "sent flowers" not in dated
    found = client.get("/timeline?q=statio").text
    assert "<mark>station</mark>" in found
    link = re.search(r'href="/messages/(\d+)"', found).group(1)  # type: ignore[union-attr]
    context = client.get(f"/messages/{link}").text
    assert "where were you tonight" in context and "please stop" in context
    assert 'aria-current="true"' in context


def test_the_timeline_pages_through_many_rows(client, server, tmp_path) -> None:  # type: ignore[no-untyped-def]
    chat = tmp_path / "long.txt"
    lines = [
        f"{1 + i // 60:02d}/11/2026, {i % 24:02d}:{i % 60:02d} - Sam: message number {i}"
        for i in range(130)
    ]
    chat.write_text("\n".join(lines) + "\n", encoding="utf-8")
    with server.state.diary() as d:
        d.import_file(chat, me=("Me",), day_first=True)
    seen: set[str] = set()
    url: str | None = "/timeline"
    while url:
        page = client.get(url).text
        seen.update(re.findall(r"message number (\d+)", page))
        more = re.search(r'<a href="(/timeline\?[^"]+)" hx-get', page)
        url = more.group(1).replace("&amp;", "&") if more else None
    assert seen == {str(i) for i in range(130)}


def test_lock_quick_exit_and_idle_lock(diary_path) -> None:  # type: ignore[no-untyped-def]
    with serve(diary_path, idle_minutes=0.02) as server, server.client() as c:
        unlock(c, PASSPHRASE)
        assert c.get("/").status_code == 200
        token = csrf_of(c.get("/").text)
        assert c.post("/lock", data={"csrf": token}).status_code == 303
        assert c.get("/").headers["location"] == "/unlock"
        assert not server.state.unlocked
        unlock(c, PASSPHRASE)
        r = c.get("/exit")
        assert r.status_code == 303 and r.headers["location"] == "https://www.bbc.co.uk/weather"
        assert c.get("/").headers["location"] == "/unlock"
        unlock(c, PASSPHRASE)
        time.sleep(1.5)  # idle for longer than 0.02 minutes
        assert c.get("/").headers["location"] == "/unlock"
        assert not server.state.unlocked


def test_wrong_passphrase_is_refused_calmly(diary_path) -> None:  # type: ignore[no-untyped-def]
    Diary.create(diary_path, PASSPHRASE).close()
    with serve(diary_path) as server, server.client() as c:
        token = csrf_of(c.get("/unlock").text)
        r = c.post("/unlock", data={"csrf": token, "passphrase": "not it at all"})
        assert r.status_code == 403 and "passphrase" in r.text.lower()
        assert c.get("/").headers["location"] == "/unlock"


def test_verify_page_reports_in_plain_words(client) -> None:  # type: ignore[no-untyped-def]
    add_incident(client, description="something")
    token = csrf_of(client.get("/verify").text)
    page = client.post("/verify", data={"csrf": token}).text
    assert "No changes were found" in page
    for word in ("tamper-proof", "court-admissible", "forensically sound"):
        assert word not in page.lower()


def _import(client: httpx.Client, name: str, data: bytes, **fields: str) -> str:
    token = csrf_of(client.get("/import").text)
    r = client.post(
        f"/import?csrf={token}", data=fields, files={"file": (name, data, "text/plain")}
    )
    assert r.status_code == 303, r.text
    job = r.headers["location"]
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        page = client.get(job)
        if "Importing" in page.text and (
            "Done." in page.text
            or "already imported" in page.text
            or "Nothing from this file" in page.text
        ):
            return page.text
        time.sleep(0.2)
    raise AssertionError("the import did not finish")


CHAT = (
    b"20/11/2026, 21:15 - Jo: where were you tonight\n"
    b"20/11/2026, 21:16 - Jo: I saw your car at the harbour\n"
    b"20/11/2026, 21:20 - Me: please stop contacting me\n"
)


def test_import_by_upload_then_name_the_unknown_sender(client, server) -> None:  # type: ignore[no-untyped-def]
    page = _import(client, "WhatsApp Chat with Jo.txt", CHAT, me="Me")
    assert "3 added" in page and "Who are these senders?" in page and "Jo (2 messages)" in page
    token = csrf_of(client.get("/people/new").text)
    r = client.post("/people", data={"csrf": token, "name": "Jo Bloggs", "role": "responsible"})
    person = r.headers["location"].rsplit("/", 1)[1]
    job = re.search(r'action="(/import/jobs/[^/]+)/assign"', page).group(1)  # type: ignore[union-attr]
    r = client.post(f"{job}/assign", data={"csrf": token, "sender-0": person})
    assert r.status_code == 303
    assert "Linked." in client.get(job).text
    theirs = client.get(f"/timeline?person={person}").text
    assert "I saw your car at the harbour" in theirs and "please stop" not in theirs
    with server.state.diary() as d:
        (src,) = d.sources()
        assert src["name"] == "WhatsApp Chat with Jo.txt" and src["summary"]["added"] == 3
        assert d.verify().ok
    # the same file again adds nothing and says so
    again = _import(client, "copy.txt", CHAT)
    assert "already imported" in again
    with server.state.diary() as d:
        assert len(d.sources()) == 1


def test_a_broken_upload_changes_nothing_and_says_why(client, server) -> None:  # type: ignore[no-untyped-def]
    with server.state.diary() as d:
        before = d.summary().entries
    page = _import(client, "notes.txt", b"this is not an export of anything\n" * 10)
    assert "Nothing from this file was added" in page
    with server.state.diary() as d:
        assert d.summary().entries == before and d.sources() == []


def test_a_whatsapp_zip_from_the_shared_corpus_imports_with_its_media(client, server) -> None:  # type: ignore[no-untyped-def]
    sample = SHARED / "samples" / "whatsapp" / "android_enGB_2017__rwhatsapp.zip"
    if not sample.exists():
        pytest.skip("../shared is not beside the repository")
    page = _import(client, sample.name, sample.read_bytes())
    assert "Done." in page
    with server.state.diary() as d:
        (src,) = d.sources()
        assert src["summary"]["added"] > 0
        assert d.verify().ok


def test_uploads_and_imports_leave_no_plaintext_anywhere(cli_env, tmp_path, diary_path) -> None:  # type: ignore[no-untyped-def]
    """The real `docket serve` in its own process, with a private HOME and TMPDIR: after an
    upload and an import, a marker from them is in no file it wrote."""
    import subprocess
    import sys

    marker = "PlaintextMarker7Q"
    env = {k: v for k, v in cli_env.items() if k != "DOCKET_PASSPHRASE"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "docket", "serve", "--no-browser"],
        env=env,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stderr is not None
        line = ""
        deadline = time.monotonic() + 60
        while "http://127.0.0.1:" not in line and time.monotonic() < deadline:
            line += proc.stderr.readline()
        base = re.search(r"http://127\.0\.0\.1:\d+", line).group(0)  # type: ignore[union-attr]
        with httpx.Client(base_url=base, timeout=60) as c:
            unlock(c, PASSPHRASE)
            n = add_incident(c, description=f"{marker} in the description")
            token = csrf_of(c.get(f"/incidents/{n}").text)
            photo = b"\xff\xd8\xff\xe0" + f"{marker} in a photo ".encode() * 100_000
            r = c.post(
                f"/incidents/{n}/files?csrf={token}", files={"file": ("p.jpg", photo, "image/jpeg")}
            )
            assert r.status_code == 303
            chat = f"20/11/2026, 21:15 - Jo: {marker} in a message\n".encode() * 50
            page = _import(c, "chat.txt", chat)
            assert "Done." in page
            assert marker in c.get(f"/timeline?q={marker}").text
            c.post("/lock", data={"csrf": token})
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    written = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert diary_path in written
    for path in written:
        assert marker.encode() not in path.read_bytes(), path


def test_a_file_with_a_name_in_any_script_downloads(client) -> None:  # type: ignore[no-untyped-def]
    n = add_incident(client, description="a note")
    token = csrf_of(client.get(f"/incidents/{n}").text)
    name = 'фото "двери" 😟.pdf'
    r = client.post(
        f"/incidents/{n}/files?csrf={token}",
        files={"file": (name, b"%PDF-1.4 a document", "application/pdf")},
    )
    assert r.status_code == 303
    link = re.search(r'href="(/files/\d+)\?download=1"', client.get(f"/incidents/{n}").text)
    got = client.get(link.group(1) + "?download=1")  # type: ignore[union-attr]
    assert got.status_code == 200 and got.content == b"%PDF-1.4 a document"
    disposition = got.headers["content-disposition"]
    assert disposition.startswith("attachment; filename=")
    assert "filename*=UTF-8''%D1%84%D0%BE%D1%82%D0%BE" in disposition


def test_pattern_page_shows_findings_with_links_and_no_score(client, server) -> None:  # type: ignore[no-untyped-def]
    page = client.get("/people/new")
    r = client.post(
        "/people",
        data={"csrf": csrf_of(page.text), "name": "Alex", "role": "responsible",
              "relationship": "ex_partner", "phones": "07700 900123"},
    )  # fmt: skip
    assert r.status_code == 303
    first = add_incident(
        client, occurred="2026-09-01T19:00", description="Sent flowers", people="1"
    )
    threat = add_incident(
        client,
        category="THR",
        occurred="2026-10-20T22:00",
        description="He said he would kill me",
        people="1",
    )
    page = client.get("/pattern")
    assert page.status_code == 200
    text = page.text
    assert "“Threats” was first recorded on 20 October 2026" in text
    assert f'href="/incidents/{threat}"' in text and f'href="/incidents/{first}"' in text
    assert "kill me" in text  # the matched words are shown
    assert "Alex: 2 incidents recorded on 2 different days." in text
    assert "Police and prosecutors decide" in text or "police and prosecutors decide" in text
    assert 'class="chart heatmap"' in text and "<title>" in text
    for word in ("score", "risk level", "high risk"):
        assert word not in text.lower().replace("does not give a score", "")
    assert "999" in text


def test_orders_and_checklist_pages_keep_what_is_entered(client, server) -> None:  # type: ignore[no-untyped-def]
    page = client.get("/orders")
    assert "Restraining order" in page.text
    token = csrf_of(page.text)
    bad = client.post("/orders", data={"csrf": token, "type": "restraining_order", "made_on": ""})
    assert bad.status_code == 400 and "the day the order was made" in bad.text
    r = client.post(
        "/orders",
        data={"csrf": token, "type": "restraining_order", "made_on": "2026-03-01",
              "terms": "No contact <b>at all</b>"},
    )  # fmt: skip
    assert r.status_code == 303
    page = client.get("/orders")
    assert (
        "made on 01 March 2026" in page.text and "No contact &lt;b&gt;at all&lt;/b&gt;" in page.text
    )
    edit = client.get("/orders/1/edit")
    r = client.post(
        "/orders/1/edit",
        data={"csrf": csrf_of(edit.text), "type": "restraining_order", "made_on": "2026-03-02",
              "reason": ""},
    )  # fmt: skip
    assert r.status_code == 400 and "needs a reason" in r.text
    r = client.post(
        "/orders/1/edit",
        data={"csrf": csrf_of(edit.text), "type": "restraining_order", "made_on": "2026-03-02",
              "reason": "Wrong day"},
    )  # fmt: skip
    assert r.status_code == 303
    with server.state.diary() as diary:
        assert diary.order(1).version == 2

    page = client.get("/checklist")
    assert "Several of these are linked in research to serious harm" in page.text
    assert "0808 802 0300" in page.text
    token = csrf_of(page.text)
    r = client.post(
        "/checklist",
        data={"csrf": token, "q_threats": "yes", "d_threats": "About my brother", "q_fear": "",
              "q_weapons": "nonsense"},
    )  # fmt: skip
    assert r.status_code == 400 and "not an answer" in r.text
    r = client.post(
        "/checklist",
        data={"csrf": token, "q_threats": "yes", "d_threats": "About my brother"},
    )
    assert r.status_code == 303 and r.headers["location"] == "/checklist?saved=1"
    page = client.get("/checklist?saved=1")
    assert "Your answers are kept in the diary" in page.text and "About my brother" in page.text
    assert 'value="yes" checked' in page.text
    with server.state.diary() as diary:
        assert diary.checklist().data.answer("threats").details == "About my brother"  # type: ignore[union-attr]
        assert diary.verify().ok


def test_a_diary_created_for_scotland_speaks_for_scotland(server, diary_path) -> None:  # type: ignore[no-untyped-def]
    with server.client() as c:
        page = c.get("/create")
        assert '<option value="scotland"' in page.text
        data = {"csrf": csrf_of(page.text), "passphrase": PASSPHRASE, "again": PASSPHRASE,
                "understood": "yes"}  # fmt: skip
        bad = c.post("/create", data={**data, "jurisdiction": "atlantis"})
        assert bad.status_code == 400 and not diary_path.exists()
        r = c.post("/create", data={**data, "jurisdiction": "scotland"})
        assert r.status_code == 303
        home = c.get("/")
        assert "Victim Support Scotland" in home.text and "0808 802 0300" not in home.text
        checklist = c.get("/checklist")
        assert "0800 160 1985" in checklist.text
    with Diary.open(diary_path, PASSPHRASE) as d:
        assert d.jurisdiction.id == "scotland"


def test_report_page_previews_then_downloads_a_pdf(client, server) -> None:  # type: ignore[no-untyped-def]
    add_incident(client, occurred="2026-09-01T19:00", description="Waited by my gate",
                 place="MARKERHOME 4 Elm Street", private_place="yes")  # fmt: skip
    page = client.get("/report")
    assert page.status_code == 200 and "Who is it for?" in page.text
    shown = client.get("/report", params={"audience": "police", "start": "2026-08-01"})
    assert "It includes 1 incident" in shown.text and "places you marked as private" in shown.text
    bad = client.get("/report", params={"audience": "police", "start": "31/02/2026"})
    assert bad.status_code == 400
    token = csrf_of(shown.text)
    pdf = client.post("/report", data={"csrf": token, "audience": "police", "format": "pdf"})
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
    assert "attachment" in pdf.headers["content-disposition"]
    assert pdf.headers["cache-control"] == "no-store"
    html = client.post("/report", data={"csrf": token, "audience": "police", "format": "html"})
    assert "Waited by my gate" in html.text and "MARKERHOME" not in html.text
    shown_home = client.post(
        "/report",
        data={"csrf": token, "audience": "police", "format": "html", "show_private_places": "yes"},
    )
    assert "MARKERHOME" in shown_home.text
    refused = client.post("/report", data={"audience": "police", "format": "pdf"})
    assert refused.status_code == 403


def test_export_page_makes_a_locked_bundle_that_verifies(client, server, diary_path) -> None:  # type: ignore[no-untyped-def]
    import docket_verify

    add_incident(client, occurred="2026-09-01T19:00", description="SHOWN waited by the gate")
    add_incident(client, occurred="2026-09-02T19:00", description="HIDDEN note entry",
                 private_notes="MARKER-PRIVATE")  # fmt: skip
    page = client.get("/export")
    assert page.status_code == 200 and "Make an evidence bundle" in page.text
    token = csrf_of(page.text)
    data = {"csrf": token, "recipient": "Kent Police", "passphrase": "river stone lamp",
            "again": "river stone lamp", "audience": "police"}  # fmt: skip
    bad = client.post("/export", data={**data, "again": "other words"})
    assert bad.status_code == 400 and "not the same" in bad.text
    r = client.post("/export", data=data)
    assert r.status_code == 200 and "attachment" in r.headers["content-disposition"]
    bundle = diary_path.parent / "got.bundle"
    bundle.write_bytes(r.content)
    checked = docket_verify.verify_bundle(bundle, passphrase="river stone lamp")
    assert checked.ok, [f.reason for f in checked.failures]
    plain = diary_path.parent / "plain.zip"
    with plain.open("wb") as fh:
        docket_verify.decrypt_bundle(bundle, fh, "river stone lamp")
    content = plain.read_bytes()
    assert b"SHOWN waited" in content and b"MARKER-PRIVATE" not in content
    leftovers = [p.name for p in diary_path.parent.iterdir() if p.name.startswith(".docket-export")]
    assert leftovers == []
