"""``docket export`` end to end: a real diary (incidents, an evidence file, imported texts, a
real RFC 3161 timestamp from the local openssl authority) exported selectively, then checked
by the independent verifier — and the withheld entries' words found nowhere in the bundle."""

from __future__ import annotations

import json
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from cryptography import x509

import docket_verify
from docket.api import Diary
from docket.bundle import Selection
from docket.errors import InputError, RecordNotFound
from docket.model.identifiers import Identifier
from docket.model.records import IncidentData, Occurrence, PersonData
from tests.conftest import PASSPHRASE, run_cli
from tests.helpers.tsa import Authority, running_tsa

LONDON = ZoneInfo("Europe/London")
ALEX = "+447700900123"


@pytest.fixture(scope="module")
def tsa(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Authority]:
    with running_tsa(tmp_path_factory.mktemp("tsa")) as authority:
        yield authority


def sms(path: Path, rows: list[tuple[datetime, str, str]]) -> Path:
    body = "".join(
        f'<sms protocol="0" address="{n}" date="{int(t.timestamp() * 1000)}" type="1" '
        f'subject="null" body="{b}" toa="null" sc_toa="null" service_center="null" read="1" '
        'status="-1" locked="0" date_sent="0" readable_date="" contact_name="(Unknown)" />\n'
        for t, n, b in rows
    )
    path.write_text(
        "<?xml version='1.0' encoding='UTF-8' standalone='yes' ?>\n"
        f'<smses count="{len(rows)}">\n{body}</smses>\n',
        encoding="utf-8",
    )
    return path


@pytest.fixture
def case(tmp_path: Path, tsa: Authority) -> Iterator[tuple[Diary, dict[str, int]]]:
    d = Diary.create(tmp_path / "case.docket", PASSPHRASE)
    alex = d.add_person(
        PersonData("Alex", "responsible", "ex_partner", identifiers=(Identifier("phone", ALEX),))
    ).id
    bob = d.add_person(PersonData("Bob", "responsible", "stranger")).id

    def add(day: int, text: str, people: tuple[int, ...], cat: str = "CON", **kw: str) -> int:
        data = IncidentData(
            occurred=Occurrence(datetime(2026, 3, day, 19, 0, tzinfo=LONDON), "Europe/London"),
            category=cat,
            description=text,
            people=people,
            **kw,  # type: ignore[arg-type]
        )
        return d.add_incident_data(data).id

    ids = {
        "a1": add(1, "SHOWN-ONE he waited by the gate", (alex,), "LOI"),
        "a2": add(3, "SHOWN-TWO forty calls", (alex,)),
        "private": add(4, "PRIVATE-ENTRY at the clinic", (alex,), private_notes="SECRET-NOTE"),
        "bob": add(5, "WITHHELD-BOB left a parcel", (bob,), "GIF"),
    }
    photo = tmp_path / "gate.jpg"
    photo.write_bytes(b"\xff\xd8\xff\xe0 a photo of the gate " * 100)
    d.attach(photo, incident_id=ids["a1"], obtained="photo on my phone")
    d.checkpoint([f"{tsa.url}/good"], tsa.root_pem.read_bytes())  # a trusted anchor
    d.import_file(
        sms(
            tmp_path / "sms.xml",
            [
                (datetime(2026, 3, 2, 20, 0, tzinfo=LONDON), ALEX, "SHOWN-TEXT answer me"),
                (datetime(2026, 3, 2, 21, 0, tzinfo=LONDON), "+447700900555", "WITHHELD-MUM"),
            ],
        )
    )
    try:
        yield d, ids
    finally:
        d.close()


def roots(tsa: Authority) -> list[x509.Certificate]:
    return [x509.load_pem_x509_certificate(tsa.root_pem.read_bytes())]


def test_a_selective_bundle_verifies_and_holds_nothing_withheld(
    case: tuple[Diary, dict[str, int]], tmp_path: Path, tsa: Authority
) -> None:
    d, ids = case
    out = tmp_path / "bundle.zip"
    result = d.export(
        out,
        Selection(person=d.resolve_person("Alex"), messages=True),
        recipient="Kent Police, PC 1234",
        purpose="KP/12345/26",
    )
    assert result.withheld_private == (ids["private"],)
    report = docket_verify.verify_bundle(out, key=d.key().encode(), tsa_roots=roots(tsa))
    assert report.ok, [f.reason for f in report.failures]
    assert report.export_bound and len(report.messages) == 1 and len(report.files) == 1
    assert any(t.trusted for t in report.timestamps)
    text = docket_verify.render_text(report)
    assert "no later than" in text and "does NOT show" in text
    data = out.read_bytes()
    with zipfile.ZipFile(out) as z:
        everything = data + b"".join(z.read(n) for n in z.namelist())
        manifest = json.loads(z.read("manifest.json"))
    for shown in (b"SHOWN-ONE", b"SHOWN-TWO", b"SHOWN-TEXT"):
        assert shown in everything
    for hidden in (b"PRIVATE-ENTRY", b"SECRET-NOTE", b"WITHHELD-BOB", b"WITHHELD-MUM"):
        assert hidden not in everything, hidden
    assert manifest["recipient"] == "Kent Police, PC 1234"
    assert "private notes" in manifest["withheld"]["categories"]
    assert "Gifts or items left" in manifest["withheld"]["categories"]
    # the export itself is in the diary's log, with what went and to whom
    (export,) = d.history("export", 1)
    assert export.type == "export.made" and export.record["to"] == "Kent Police, PC 1234"  # type: ignore[index]
    assert d.verify().ok


def test_an_encrypted_bundle_and_a_tampered_one(
    case: tuple[Diary, dict[str, int]], tmp_path: Path
) -> None:
    d, ids = case
    out = tmp_path / "locked.bundle"
    d.export(
        out,
        Selection(incidents=(ids["a2"],)),
        recipient="Advocate",
        passphrase="tulip rain bench lamp",
    )
    assert not zipfile.is_zipfile(out)
    assert docket_verify.verify_bundle(out, passphrase="tulip rain bench lamp").ok
    assert not docket_verify.verify_bundle(out, passphrase="wrong words here ok").ok
    plain = tmp_path / "plain.zip"
    d.export(plain, Selection(incidents=(ids["a2"],)), recipient="Advocate")
    data = bytearray(plain.read_bytes())
    at = data.index(b"SHOWN-TWO")
    data[at] ^= 0x20
    plain.write_bytes(bytes(data))
    bad = docket_verify.verify_bundle(plain)
    assert not bad.ok and bad.failures[0].reason


def test_nothing_selected_or_no_recipient_writes_nothing(
    case: tuple[Diary, dict[str, int]], tmp_path: Path
) -> None:
    d, _ = case
    with pytest.raises(InputError):
        d.export(tmp_path / "x.zip", Selection(categories=("VIO",)), recipient="Police")
    with pytest.raises(InputError):
        d.export(tmp_path / "x.zip", Selection(), recipient=" ")
    assert not (tmp_path / "x.zip").exists()
    with pytest.raises(RecordNotFound):
        d.history("export", 1)  # nothing was recorded either


def test_cli_export_then_docket_verify(cli_env: dict[str, str], tmp_path: Path) -> None:
    run_cli(["init"], cli_env, check=True)
    run_cli(
        ["add", "-c", "CON", "--occurred", "01/03/2026 19:00", "-d", "Ten missed calls"],
        cli_env,
        check=True,
    )
    out = tmp_path / "b.zip"
    done = run_cli(
        ["export", "--out", str(out), "--to", "Kent Police", "--yes", "--json"], cli_env, check=True
    )
    result = json.loads(done.stdout)
    assert result["entries"] >= 2 and out.exists()
    key = json.loads(run_cli(["key", "--json"], cli_env, check=True).stdout)
    checked = subprocess.run(
        [sys.executable, "-m", "docket_verify", str(out), "--key", key["vkey"]],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr
    flipped = bytearray(out.read_bytes())
    flipped[len(flipped) // 2] ^= 1
    bad = tmp_path / "bad.zip"
    bad.write_bytes(bytes(flipped))
    refused = subprocess.run(
        [sys.executable, "-m", "docket_verify", str(bad)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert refused.returncode == 1


def test_timeline_table_for_analysts(case: tuple[Diary, dict[str, int]], tmp_path: Path) -> None:
    import csv

    from docket import tabular, timeline

    d, _ = case
    out = tmp_path / "t.csv"
    n = tabular.write(d, out, timeline.TimelineFilter(), private=False)
    with out.open(encoding="utf-8") as fh:
        got = list(csv.DictReader(fh))
    assert n == len(got) == 4 + 2  # four incidents, two texts
    assert [r["when_utc"] for r in got] == sorted((r["when_utc"] for r in got), reverse=True)
    assert "SECRET-NOTE" not in out.read_text("utf-8")
    texts = {r["text"] for r in got}
    assert "SHOWN-TEXT answer me" in texts and "WITHHELD-BOB left a parcel" in texts
    as_json = tmp_path / "t.json"
    tabular.write(d, as_json, timeline.TimelineFilter(), private=True)
    rows = json.loads(as_json.read_text("utf-8"))
    assert len(rows) == 6 and any(r["private_notes"] == "SECRET-NOTE" for r in rows)
    with pytest.raises(InputError):
        tabular.write(d, tmp_path / "t.xlsx", timeline.TimelineFilter(), private=False)
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []


def test_an_encrypted_bundle_never_touches_the_disk_unencrypted(tmp_path: Path) -> None:
    marker = b"PLAINTEXT-MARKER-7731"
    seen: list[bytes] = []

    def chunks() -> Iterator[bytes]:
        for _ in range(3):  # while the bundle is being written, look at every file beside it
            seen.extend(p.read_bytes() for p in tmp_path.iterdir() if p.is_file())
            yield marker * 50_000  # over 1 MiB in all: several sealed chunks

    out = tmp_path / "b.bundle"
    written = docket_verify.write_bundle(
        out, [("files/" + "ab" * 32, chunks), ("WITHHELD.txt", marker)], passphrase="sea horse"
    )
    assert seen and not any(marker in data for data in seen)
    assert marker not in out.read_bytes() and written.size == out.stat().st_size
    plain = tmp_path / "plain.zip"
    with plain.open("wb") as fh:
        docket_verify.decrypt_bundle(out, fh, "sea horse")
    with zipfile.ZipFile(plain) as z:
        assert z.read("WITHHELD.txt") == marker
        assert z.read("files/" + "ab" * 32) == marker * 150_000
