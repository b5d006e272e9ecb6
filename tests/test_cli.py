"""The CLI contract (DESIGN §10): commands, --json, exit codes, passphrase sources, and one
clear message per bad input, with nothing changed."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from tests.conftest import PASSPHRASE, run_cli


def digest(p: Path) -> str:
    return hashlib.sha256(p.read_bytes()).hexdigest()


def test_a_session(cli_env: dict[str, str], diary_path: Path, tmp_path: Path) -> None:
    r = run_cli(["init"], cli_env, check=True)
    assert "999" in r.stdout and "0808 802 0300" in r.stdout and "not legal advice" in r.stdout
    r = run_cli(
        [
            "person",
            "add",
            "Jo Bloggs",
            "--relationship",
            "ex_partner",
            "--phone",
            "07700 900123",
            "--json",
        ],
        cli_env,
        check=True,
    )
    assert json.loads(r.stdout)["identifiers"][0]["value"] == "+447700900123"
    # the only person responsible is the default for new incidents
    r = run_cli(
        [
            "add",
            "-c",
            "loi",
            "--occurred",
            "yesterday 21:15",
            "-d",
            "Outside work",
            "--effect",
            "fear_of_violence",
            "--json",
        ],
        cli_env,
        check=True,
    )
    added = json.loads(r.stdout)
    assert added["people"] == [1] and added["category"] == "LOI"
    assert added["recorded_at_clock"] == "device"
    r = run_cli(["edit", "1", "--reason", "typo", "-d", "Outside my work"], cli_env, check=True)
    assert "version 2" in r.stdout
    hist = json.loads(run_cli(["history", "1", "--json"], cli_env, check=True).stdout)
    assert [h["type"] for h in hist] == ["incident.created", "incident.edited"]
    assert hist[1]["changed"] == ["description"] and hist[1]["reason"] == "typo"
    listed = json.loads(
        run_cli(["list", "--person", "07700900123", "--json"], cli_env, check=True).stdout
    )
    assert [i["description"] for i in listed] == ["Outside my work"]
    f = tmp_path / "shot.png"
    f.write_bytes(b"\x89PNG\r\n\x1a\nabc")
    att = json.loads(run_cli(["attach", str(f), "-i", "1", "--json"], cli_env, check=True).stdout)
    assert att["sha256"] == digest(f) and att["media_type"] == "image/png"
    run_cli(["extract", str(att["id"]), "--out", str(tmp_path / "back.png")], cli_env, check=True)
    assert (tmp_path / "back.png").read_bytes() == f.read_bytes()
    shown = run_cli(["show", "1"], cli_env, check=True).stdout
    assert "Outside my work" in shown and "shot.png" in shown
    summary = json.loads(run_cli(["summary", "--json"], cli_env, check=True).stdout)
    assert summary["incidents"] == 1 and summary["attachments"] == 1
    assert run_cli(["check"], cli_env).returncode == 0
    people = json.loads(run_cli(["person", "list", "--json"], cli_env, check=True).stdout)
    assert people[0]["incident_count"] == 1


def test_redact_needs_confirmation(cli_env: dict[str, str]) -> None:
    run_cli(["init"], cli_env, check=True)
    run_cli(["add", "-c", "CON", "-d", "to remove"], cli_env, check=True)
    r = run_cli(["redact", "1", "--reason", "private"], cli_env)
    assert r.returncode == 2 and "Nothing was removed" in r.stderr
    r = run_cli(["redact", "1", "--reason", "private", "--yes"], cli_env, check=True)
    shown = json.loads(run_cli(["show", "1", "--json"], cli_env, check=True).stdout)
    assert shown["redacted"] and "description" not in shown


def test_wrong_passphrase(cli_env: dict[str, str], diary_path: Path) -> None:
    run_cli(["init"], cli_env, check=True)
    before = digest(diary_path)
    r = run_cli(["list"], {**cli_env, "DOCKET_PASSPHRASE": "not the passphrase"})
    assert r.returncode == 2
    assert "did not unlock" in r.stderr and "What to do" in r.stderr and r.stdout == ""
    r = run_cli(["list", "--json"], {**cli_env, "DOCKET_PASSPHRASE": "not the passphrase"})
    assert json.loads(r.stdout)["error"]["code"] == "wrong_passphrase"
    assert digest(diary_path) == before


def test_bad_inputs_have_clear_errors_and_change_nothing(
    cli_env: dict[str, str], diary_path: Path
) -> None:
    run_cli(["init"], cli_env, check=True)
    before = digest(diary_path)
    cases = [
        (["add", "-c", "XYZ"], "not one of the diary's categories", "LOI"),
        (
            ["add", "-c", "CON", "--occurred", "31/02/2026 10:00"],
            "February 2026 has 28 days",
            "day first",
        ),
        (["add", "-c", "CON", "--person", "Nobody"], "Nobody called", "person add"),
        (["attach", "/no/such/file.jpg"], "There is no file", "Check the path"),
        (["edit", "7", "--reason", "x", "-d", "y"], "no incident number 7", "docket list"),
        (["person", "add", "X", "--phone", "12"], "not a possible phone number", "country code"),
    ]
    for args, message, hint in cases:
        r = run_cli(args, cli_env)
        assert r.returncode == 2, args
        assert message in r.stderr and hint in r.stderr, (args, r.stderr)
        assert "Traceback" not in r.stderr
    assert digest(diary_path) == before


def test_passphrase_never_from_argv(cli_env: dict[str, str], tmp_path: Path) -> None:
    r = run_cli(["--passphrase", PASSPHRASE, "list"], cli_env)
    assert r.returncode == 2 and "No such option" in r.stderr
    run_cli(["init"], cli_env, check=True)
    pf = tmp_path / "pass.txt"
    pf.write_text(PASSPHRASE + "\n")
    env = {k: v for k, v in cli_env.items() if k != "DOCKET_PASSPHRASE"}
    assert run_cli(["--passphrase-file", str(pf), "list"], env).returncode == 0
    r = run_cli(["list"], env)  # no terminal, no env, no file: a clear error, not a hang
    assert r.returncode == 2 and "nobody to ask" in r.stderr


def test_missing_diary(cli_env: dict[str, str], diary_path: Path) -> None:
    r = run_cli(["list"], cli_env)
    assert r.returncode == 2 and "docket init" in r.stderr
    assert not diary_path.exists()


def test_start_creates_then_opens(cli_env: dict[str, str], diary_path: Path) -> None:
    r = run_cli(["start"], cli_env, check=True)
    assert "Nothing recorded yet" in r.stdout and diary_path.exists()
    run_cli(["add", "-c", "CON", "--occurred", "yesterday 10:00"], cli_env, check=True)
    r = run_cli(["start"], cli_env, check=True)
    assert "1 incident," in r.stdout and "Latest incident" in r.stdout


def test_passphrase_change_and_backup(cli_env: dict[str, str], diary_path: Path) -> None:
    run_cli(["init"], cli_env, check=True)
    run_cli(["add", "-c", "CON", "-d", "kept"], cli_env, check=True)
    backup = diary_path.parent / "safe.docket"
    r = run_cli(["backup", str(backup)], cli_env, check=True)
    assert "checked" in r.stdout
    r = run_cli(["passphrase", "change"], {**cli_env, "DOCKET_NEW_PASSPHRASE": "short"})
    assert r.returncode == 2 and "too short" in r.stderr
    run_cli(
        ["passphrase", "change"],
        {**cli_env, "DOCKET_NEW_PASSPHRASE": "brand new phrase"},
        check=True,
    )
    assert run_cli(["list"], cli_env).returncode == 2
    new_env = {**cli_env, "DOCKET_PASSPHRASE": "brand new phrase"}
    assert "kept" in run_cli(["list"], new_env, check=True).stdout
    assert "kept" in run_cli(["--diary", str(backup), "list"], cli_env, check=True).stdout


def test_categories(cli_env: dict[str, str]) -> None:
    cats = json.loads(run_cli(["categories", "--json"], cli_env, check=True).stdout)
    assert len(cats) == 20 and {c["code"] for c in cats} >= {"FOL", "THR", "ORD"}
    text = run_cli(["categories"], cli_env, check=True).stdout
    assert "police and prosecutors decide" in text
