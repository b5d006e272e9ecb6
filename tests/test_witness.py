"""Witness accounts: kept in the log, linked to an incident, corrected with a reason, removed
for good, shown in the report (contacts withheld by default), carried in a bundle with their
incident and checked there by docket-verify."""

from __future__ import annotations

import json
import zipfile
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

import docket_verify
from docket import report
from docket.api import Diary
from docket.bundle import Selection
from docket.errors import InputError, InvalidDate, NothingToChange, RecordNotFound, RecordRedacted
from docket.model.records import IncidentData, Occurrence, PersonData, WitnessAccountData
from tests.conftest import run_cli

LONDON = ZoneInfo("Europe/London")


def _incident(d: Diary, day: int, text: str) -> int:
    alex = d.resolve_person("Alex") if d.people() else d.add_person(PersonData("Alex")).id
    return d.add_incident_data(
        IncidentData(
            occurred=Occurrence(datetime(2026, 3, day, 8, 10, tzinfo=LONDON), "Europe/London"),
            category="LOI",
            description=text,
            people=(alex,),
        )
    ).id


def _account(incident: int, **kw: object) -> WitnessAccountData:
    base: dict[str, object] = {
        "incident": incident,
        "name": "Priya (reception)",
        "saw": "WITNESS-SAW a man in a grey coat waited by the doors for 40 minutes",
        "heard": "WITNESS-HEARD 'Tell her I am not going anywhere'",
        "contact": "WITNESS-PHONE 07700 900999",
        "relationship": "receptionist at my work",
        "seen_on": date(2026, 3, 14),
        "time_from": "8.10",
        "time_to": "0850",
        "place": "Front entrance, Harbour House",
        "written_on": date(2026, 3, 14),
    }
    base.update(kw)
    return WitnessAccountData(**base)  # type: ignore[arg-type]


def test_add_edit_remove_and_the_log(diary: Diary) -> None:
    i1 = _incident(diary, 14, "He was at my work")
    i2 = _incident(diary, 15, "Again at the gym")
    w = diary.add_witness_account(_account(i1))
    assert (w.id, w.version) == (1, 1)
    assert (w.data.time_from, w.data.time_to) == ("08:10", "08:50")  # normalised
    assert [v.id for v in diary.witness_accounts(i1)] == [1]
    assert diary.witness_accounts(i2) == []
    (entry,) = diary.history("witness", 1)
    assert entry.type == "witness.added" and entry.record["incident"] == i1  # type: ignore[index]

    with pytest.raises(InputError, match="reason"):
        diary.edit_witness_account(1, _account(i1, place="Side door"), "")
    with pytest.raises(NothingToChange):
        diary.edit_witness_account(1, _account(i1), "no change")
    w2 = diary.edit_witness_account(1, _account(i1, place="Side door"), "She corrected the door")
    assert w2.version == 2 and w2.data.place == "Side door"
    assert [h.type for h in diary.history("witness", 1)] == ["witness.added", "witness.edited"]
    assert diary.verify().ok

    diary.redact("witness", 1, "Asked me to remove it")
    assert diary.witness_accounts() == []
    with pytest.raises(RecordRedacted):
        diary.witness_account(1)
    assert diary.verify().ok


def test_bad_accounts_are_refused_and_nothing_is_written(diary: Diary) -> None:
    i1 = _incident(diary, 14, "He was at my work")
    size = len(diary.history("incident", i1))
    with pytest.raises(InputError, match="needs the name"):
        diary.add_witness_account(_account(i1, name="  "))
    with pytest.raises(InputError, match="empty"):
        diary.add_witness_account(_account(i1, saw="", heard="", other=""))
    with pytest.raises(InvalidDate, match="time of day"):
        diary.add_witness_account(_account(i1, time_from="25:00"))
    with pytest.raises(InvalidDate, match="future"):
        diary.add_witness_account(_account(i1, seen_on=date.today() + timedelta(days=3)))
    with pytest.raises(InvalidDate, match="before the day"):
        diary.add_witness_account(_account(i1, written_on=date(2026, 3, 1)))
    with pytest.raises(RecordNotFound):
        diary.add_witness_account(_account(999))
    with pytest.raises(RecordNotFound):
        diary.add_witness_account(_account(i1, attachment=42))
    assert diary.witness_accounts() == []
    assert len(diary.history("incident", i1)) == size


def test_a_scanned_note_is_kept_as_evidence_with_the_account(diary: Diary, tmp_path: Path) -> None:
    i1 = _incident(diary, 14, "He was at my work")
    note = tmp_path / "note.jpg"
    note.write_bytes(b"\xff\xd8\xff\xe0" + b"scan of the note " * 50)
    with note.open("rb") as f:
        w = diary.add_witness_account(_account(i1), note_file=f, note_name="note.jpg")
    assert w.data.attachment is not None
    a = diary.attachment(w.data.attachment)
    assert a.data is not None and a.data.incident == i1 and a.data.media_type == "image/jpeg"
    assert b"".join(diary.iter_attachment(a.id)) == note.read_bytes()
    assert diary.verify().ok


def test_report_shows_the_account_and_withholds_the_contact(diary: Diary) -> None:
    i1 = _incident(diary, 14, "He was at my work")
    diary.add_witness_account(_account(i1))
    html = report.render_html(report.build(diary, report.ReportOptions()))
    assert "WITNESS-SAW" in html and "WITNESS-HEARD" in html and "Witness account 1" in html
    assert "WITNESS-PHONE" not in html
    shown = report.with_choices(report.ReportOptions(), show_witnesses=True)
    assert "WITNESS-PHONE" in report.render_html(report.build(diary, shown))


def test_a_bundle_carries_the_accounts_of_its_incidents_only(diary: Diary, tmp_path: Path) -> None:
    i1 = _incident(diary, 14, "He was at my work")
    i2 = _incident(diary, 15, "Again at the gym")
    diary.add_witness_account(_account(i1))
    diary.add_witness_account(_account(i2, saw="OTHER-ACCOUNT at the gym", heard=""))
    out = tmp_path / "b.zip"
    diary.export(out, Selection(incidents=(i1,)), recipient="PC 1234")
    result = docket_verify.verify_bundle(out, key=diary.key().encode())
    assert result.ok, [f.reason for f in result.failures]
    with zipfile.ZipFile(out) as z:
        names = z.namelist()
        everything = b"".join(z.read(n) for n in names)
        entries = [
            json.loads(line)
            for n in names
            if n.endswith(".jsonl")
            for line in z.read(n).decode().splitlines()
            if line.strip()
        ]
    assert b"WITNESS-SAW" in everything
    assert b"OTHER-ACCOUNT" not in everything
    assert any(e.get("type") == "witness.added" for e in entries) or b"witness.added" in everything


def test_cli_witness_add_list_show(cli_env: dict[str, str], tmp_path: Path) -> None:
    run_cli(["init", "--timezone", "Europe/London"], cli_env, check=True)
    run_cli(["person", "add", "Alex"], cli_env, check=True)
    run_cli(
        ["add", "--category", "LOI", "--occurred", "14/03/2026 08:10", "-d", "At my work"],
        cli_env,
        check=True,
    )
    scan = tmp_path / "scan.png"
    scan.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\0" * 64)
    added = run_cli(
        [
            "witness", "add", "--incident", "1", "--name", "Priya", "--saw", "CLI-SAW him",
            "--date", "14/03/2026", "--from", "08:10", "--note-file", str(scan), "--json",
        ],
        cli_env,
        check=True,
    )  # fmt: skip
    view = json.loads(added.stdout)
    assert view["incident"] == 1 and view["attachment"] == 1 and view["time_from"] == "08:10"
    listed = run_cli(["witness", "list"], cli_env, check=True).stdout
    assert "CLI-SAW" in listed and "Priya" in listed
    shown = run_cli(["witness", "show", "1"], cli_env, check=True).stdout
    assert "14 March 2026, 08:10" in shown and "evidence file 1" in shown
    bad = run_cli(["witness", "add", "--incident", "1", "--name", "X"], cli_env)
    assert bad.returncode == 2 and "empty" in bad.stderr
    assert run_cli(["verify"], cli_env).returncode == 0
