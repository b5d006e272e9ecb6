"""The report, rendered for real (WeasyPrint) and read back with pdfplumber: a 200-incident
diary gives a paginated PDF with every incident in order, the evidence hashes, page numbers
and running headers, and none of the text each audience leaves out. Plus the self-contained
HTML, the period filter, and the CLI with its preview and confirmation."""

from __future__ import annotations

import hashlib
import json
import re
import stat
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pdfplumber
import pytest

from docket import report
from docket.api import Diary
from docket.checklist import Answer, ChecklistData
from docket.model.identifiers import Identifier
from docket.model.records import (
    Effect,
    IncidentData,
    Occurrence,
    PersonData,
    Place,
    Report,
    Witness,
)
from tests.conftest import PASSPHRASE, run_cli

LONDON = ZoneInfo("Europe/London")
PLACE = "MARKERPLACE Linden Road"
NOTE = "MARKERNOTE my sister's flat"
WITNESS = "07700 900999"
CATEGORIES = ["CON", "LOI", "FOL", "PRX", "THR", "PRP", "GIF", "WAT"]


@pytest.fixture(scope="module")
def big(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[int], list[str]]:
    """A diary of 200 incidents over ten months, written out of order, with two files."""
    path = tmp_path_factory.mktemp("report") / "big.docket"
    ids_by_time: list[tuple[datetime, int]] = []
    with Diary.create(path, PASSPHRASE) as d:
        alex = d.add_person(
            PersonData("Alex Example", "responsible", "ex_partner",
                       identifiers=(Identifier("phone", "+447700900123"),))
        ).id  # fmt: skip
        start = datetime(2026, 1, 5, 9, 0, tzinfo=LONDON)
        for n in range(200):
            when = start + timedelta(hours=(n * 37) % 200 * 36 + n % 5)  # not in writing order
            cat = CATEGORIES[n % len(CATEGORIES)]
            v = d.add_incident_data(
                IncidentData(
                    occurred=Occurrence(when, "Europe/London"),
                    category=cat,
                    description=f"Incident number {n:03d}: Alex was there again.",
                    exact_words="You can't hide from me" if cat == "THR" else "",
                    people=(alex,),
                    place=Place(PLACE, private=True) if n % 10 == 0 else Place("Tesco car park"),
                    private_notes=NOTE if n % 7 == 0 else "",
                    witnesses=(Witness("Sam", WITNESS, "saw the car"),) if n % 9 == 0 else (),
                    effect=Effect(distress=True, details="I stopped going out alone.")
                    if n % 4 == 0
                    else Effect(),
                    reported=(Report("Kent Police", date(2026, 3, 1), "PC 1234", "KP/12345/26"),)
                    if n == 50
                    else (),
                )
            )
            ids_by_time.append((when, v.id))
        shas = []
        for k, content in enumerate((b"photo one" * 1000, b"screenshot two" * 500)):
            f = path.parent / f"evidence-{k}.png"
            f.write_bytes(content)
            a = d.attach(f, incident_id=ids_by_time[k][1], obtained="screenshot on my phone")
            shas.append(a.sha256)
            assert a.sha256 == hashlib.sha256(content).hexdigest()
        d.save_checklist(ChecklistData.build({"threats": Answer("yes", "MARKERCHECK brother")}))
    ordered = [i for _, i in sorted(ids_by_time)]
    return path, ordered, shas


def pdf_text(path: Path) -> tuple[str, int]:
    with pdfplumber.open(path) as pdf:
        return "\n".join(page.extract_text() or "" for page in pdf.pages), len(pdf.pages)


def test_a_200_incident_police_report_is_complete_in_order_and_redacted(
    big: tuple[Path, list[int], list[str]], tmp_path: Path
) -> None:
    path, ordered, shas = big
    with Diary.open(path, PASSPHRASE) as d:
        built = report.build(d, report.ReportOptions(audience="police", prepared_by="Jo"))
        out, sha = report.write(built, tmp_path / "report.pdf")
    assert sha == hashlib.sha256(out.read_bytes()).hexdigest()
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    assert [p.name for p in tmp_path.iterdir()] == ["report.pdf"]  # nothing half-written left
    text, pages = pdf_text(out)
    assert pages >= 20
    # every incident, once, in the order they happened
    found = [int(m) for m in re.findall(r"Entry (\d+) ·", text)]
    assert found == ordered
    for n in range(200):
        assert f"Incident number {n:03d}" in text
    # the files' fingerprints, whole (a long hash may wrap: compare without whitespace)
    flat = re.sub(r"\s+", "", text)
    for sha256 in shas:
        assert sha256 in flat
    # page numbers and the running header on every page after the cover
    assert f"Page 1 of {pages}" in text and f"Page {pages} of {pages}" in text
    assert text.count("Docket report · the whole diary") == pages - 1
    # what the police version leaves out
    for marker in ("MARKERPLACE", "MARKERNOTE", WITNESS):
        assert marker not in text, marker
    assert "[a private place]" in text
    assert "MARKERCHECK" in text  # the checklist is in the police version
    assert "KP/12345/26" in text and "not legal advice" in text
    assert "999" in text and "0808 802 0300" in text


def test_the_advocate_version_shows_places_and_witnesses_but_never_private_notes(
    big: tuple[Path, list[int], list[str]], tmp_path: Path
) -> None:
    path, _, _ = big
    with Diary.open(path, PASSPHRASE) as d:
        built = report.build(d, report.ReportOptions(audience="advocate"))
        html = report.render_html(built)
        court = report.render_html(report.build(d, report.ReportOptions(audience="court")))
        noted = report.render_html(
            report.build(
                d, report.with_redactions(report.ReportOptions("advocate"), private_notes=False)
            )
        )
    assert PLACE in html and WITNESS in html and "MARKERNOTE" not in html
    assert "MARKERNOTE" in noted
    assert "MARKERCHECK" not in court and "MARKERPLACE" not in court
    # self-contained: nothing is loaded from anywhere
    for h in (html, court):
        assert "<script" not in h and "<link" not in h
        assert not re.search(r'(src|href)="(?!#)', h)


def test_a_period_keeps_only_its_incidents(
    big: tuple[Path, list[int], list[str]],
) -> None:
    path, _, _ = big
    with Diary.open(path, PASSPHRASE) as d:
        options = report.ReportOptions(start=date(2026, 3, 1), end=date(2026, 3, 31))
        built = report.build(d, options)
        every = d.incidents()
        backwards = report.ReportOptions(start=date(2026, 3, 2), end=date(2026, 3, 1))
        with pytest.raises(report.InputError):
            report.build(d, backwards)
    expect = [
        v.id
        for v in every
        if date(2026, 3, 1)
        <= datetime.fromisoformat(v.occurred_start.replace("Z", "+00:00")).astimezone(LONDON).date()
        <= date(2026, 3, 31)
    ]
    assert sorted(built.incident_ids) == sorted(expect) and 0 < len(expect) < 200
    assert built.period_label == "01 March 2026 to 31 March 2026"
    assert built.analysis.incidents == len(expect)


def test_cli_report_previews_asks_and_writes(cli_env: dict[str, str], tmp_path: Path) -> None:
    run_cli(["init"], cli_env, check=True)
    run_cli(["add", "-c", "LOI", "--occurred", "01/03/2026 19:00", "-d", "Outside my house",
             "--place", "Home", "--private-place"], cli_env, check=True)  # fmt: skip
    seen = json.loads(run_cli(["report", "--preview", "--json"], cli_env, check=True).stdout)
    assert seen["incidents"] == 1 and seen["private_places_hidden"] == 1
    out = tmp_path / "r.pdf"
    asked = run_cli(["report", "--out", str(out)], cli_env)
    assert asked.returncode == 0 and not out.exists() and "Nothing was written" in asked.stdout
    done = json.loads(
        run_cli(["report", "--out", str(out), "--yes", "--json"], cli_env, check=True).stdout
    )
    assert out.exists() and done["sha256"] == hashlib.sha256(out.read_bytes()).hexdigest()
    text, _ = pdf_text(out)
    assert "Outside my house" in text and "Home" not in text.replace("home)", "")
    bad = run_cli(["report", "--out", str(tmp_path / "r.docx"), "--yes"], cli_env)
    assert bad.returncode == 2 and ".pdf or .html" in bad.stderr
