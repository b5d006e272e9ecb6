"""The safety sheet and the witness note from the two front ends: the web page's preview
with ticks and its downloads, and ``docket sheet`` (real diary, real server, real PDFs)."""

from __future__ import annotations

import io
import re
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx
import pdfplumber
import pytest

from docket.api import Diary
from docket.model import identifiers
from docket.model.records import IncidentData, Occurrence, PersonData, Place
from tests.conftest import PASSPHRASE, run_cli
from tests.helpers.web import csrf_of, serve, unlock

LONDON = ZoneInfo("Europe/London")


def _pdf_text(data: bytes) -> tuple[str, int]:
    with pdfplumber.open(io.BytesIO(data)) as pdf:
        return " ".join(" ".join((p.extract_text() or "") for p in pdf.pages).split()), len(
            pdf.pages
        )


def _world(diary: Diary) -> tuple[int, int]:
    alex = diary.add_person(
        PersonData(
            "Alex Example",
            "responsible",
            "ex_partner",
            description="Tall, short grey hair, dark green parka.",
            identifiers=(identifiers.vehicle("AB12 CDE"),),
            notes="WEBMARKERPERSON",
        )
    ).id
    incident = diary.add_incident_data(
        IncidentData(
            occurred=Occurrence(datetime(2026, 3, 1, 19, 0, tzinfo=LONDON), "Europe/London"),
            category="LOI",
            description="WEBMARKERINCIDENT waited by my car",
            place=Place("Tesco car park"),
            people=(alex,),
            private_notes="WEBMARKERNOTE",
        )
    ).id
    return alex, incident


@pytest.fixture
def web(diary_path: Path):  # type: ignore[no-untyped-def]
    d = Diary.create(diary_path, PASSPHRASE)
    try:
        alex, incident = _world(d)
    finally:
        d.close()
    with serve(diary_path) as server, server.client() as client:
        unlock(client, PASSPHRASE)
        yield client, alex, incident


def _post(client: httpx.Client, alex: int, **fields: object) -> httpx.Response:
    token = csrf_of(client.get(f"/people/{alex}/sheet").text)
    return client.post(f"/people/{alex}/sheet", data={"csrf": token, **fields})


def test_web_sheet_preview_and_pdf_show_only_what_is_ticked(web) -> None:  # type: ignore[no-untyped-def]
    client, alex, incident = web
    person = client.get(f"/people/{alex}").text
    assert f"/people/{alex}/sheet" in person
    page = client.get(f"/people/{alex}/sheet")
    assert page.status_code == 200 and "Only what you tick below goes on the sheet" in page.text
    assert "Quick exit" in page.text
    # the suggested place is ticked; the incident, its notes and the person's notes are not
    assert re.search(r'name="place" value="Tesco car park" checked', page.text)
    plain = _post(client, alex, action="preview", place="Tesco car park", audience="workplace")
    assert plain.status_code == 200
    preview = plain.text.split('id="preview"', 1)[1]
    assert "Alex Example" in preview and "Tesco car park" in preview and "999" in preview
    for marker in ("WEBMARKERINCIDENT", "WEBMARKERNOTE", "WEBMARKERPERSON"):
        assert marker not in preview
    pdf = _post(client, alex, action="pdf", audience="workplace")
    assert pdf.status_code == 200 and pdf.headers["content-type"] == "application/pdf"
    assert "attachment" in pdf.headers["content-disposition"]
    text, pages = _pdf_text(pdf.content)
    assert pages == 1 and "Alex Example" in text and "AB12 CDE" in text and "999" in text
    assert not any(m in text for m in ("WEBMARKERINCIDENT", "WEBMARKERNOTE", "WEBMARKERPERSON"))
    ticked = _post(
        client,
        alex,
        action="txt",
        incident=str(incident),
        note=str(incident),
        person_notes="yes",
        audience="education",
    )
    body = ticked.content.decode("utf-8")
    for marker in ("WEBMARKERINCIDENT", "WEBMARKERNOTE", "WEBMARKERPERSON"):
        assert marker in body
    # a wrong choice is explained on the page, not a crash
    wrong = _post(client, alex, action="preview", incident="4242")
    assert wrong.status_code in (400, 404) and "4242" in wrong.text


def test_web_witness_note_and_account(web) -> None:  # type: ignore[no-untyped-def]
    client, _, incident = web
    note = client.get("/witness-note?audience=workplace")
    assert note.status_code == 200 and note.headers["content-type"] == "application/pdf"
    text, pages = _pdf_text(note.content)
    assert pages == 1 and "What you saw" in text and "999" in text
    as_text = client.get("/witness-note?format=txt").text
    assert "What you heard" in as_text
    form = client.get(f"/incidents/{incident}/witness")
    token = csrf_of(form.text)
    r = client.post(
        f"/incidents/{incident}/witness",
        data={"csrf": token, "name": "Priya", "saw": "WEBSAW him by the car", "seen_on": ""},
    )
    assert r.status_code == 303, r.text
    page = client.get(f"/incidents/{incident}").text
    assert "WEBSAW him by the car" in page and "Priya" in page
    empty = client.post(f"/incidents/{incident}/witness", data={"csrf": token, "name": "Sam"})
    assert empty.status_code == 400


def test_cli_sheet_and_witness_form(cli_env: dict[str, str], tmp_path: Path) -> None:
    run_cli(["init", "--timezone", "Europe/London"], cli_env, check=True)
    d = Diary.open(Path(cli_env["DOCKET_DIARY"]), PASSPHRASE)
    try:
        _, incident = _world(d)
    finally:
        d.close()
    out = tmp_path / "sheet.pdf"
    shown = run_cli(
        [
            "sheet", "--person", "Alex Example", "--out", str(out), "--audience", "family",
            "--place", "Tesco car park", "--contact-name", "Sam", "--contact-phone", "07700 900777",
        ],
        cli_env,
        check=True,
    )  # fmt: skip
    assert "1 page" in shown.stdout
    text, pages = _pdf_text(out.read_bytes())
    assert pages == 1 and "Tesco car park" in text and "07700 900777" in text
    assert "WEBMARKERINCIDENT" not in text and "WEBMARKERNOTE" not in text
    txt = tmp_path / "sheet.txt"
    run_cli(
        ["sheet", "--person", "Alex Example", "--out", str(txt), "--incident", str(incident),
         "--private-notes", str(incident)],
        cli_env,
        check=True,
    )  # fmt: skip
    body = txt.read_text()
    assert "WEBMARKERINCIDENT" in body and "WEBMARKERNOTE" in body
    preview = run_cli(["sheet", "--person", "Alex Example", "--preview"], cli_env, check=True)
    assert "Tesco car park" in preview.stdout and "WEBMARKERINCIDENT" in preview.stdout
    assert "not on the sheet unless" in " ".join(preview.stdout.split())
    missing = run_cli(["sheet", "--person", "Nobody", "--out", str(tmp_path / "x.pdf")], cli_env)
    assert missing.returncode != 0 and "Nobody" in missing.stderr
    form = tmp_path / "note.pdf"
    run_cli(["witness", "form", "--out", str(form)], cli_env, check=True)
    text, pages = _pdf_text(form.read_bytes())
    assert pages == 1 and "What you saw" in text
