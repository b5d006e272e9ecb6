"""A plaintext marker written into an incident, a person and an attachment never appears in
any file under the diary's folder, HOME or the temp folder: while the diary is open (with a
rollback journal on disk), and after it is closed."""

from __future__ import annotations

import secrets
import subprocess
import sys
from pathlib import Path

from tests.conftest import run_cli
from tests.helpers.checks import files_containing


def test_marker_never_reaches_disk_in_plaintext(
    tmp_path: Path, diary_path: Path, cli_env: dict[str, str]
) -> None:
    marker = f"LEAKMARKER{secrets.token_hex(8)}"
    needle = marker.encode()
    watched = [diary_path.parent, Path(cli_env["HOME"]), Path(cli_env["TMPDIR"])]
    outside = tmp_path / "originals"
    outside.mkdir()
    evidence = outside / "screenshot.png"
    evidence.write_bytes(b"\x89PNG\r\n\x1a\n" + (marker.encode() + b"\n") * 200_000)  # ~5 MB

    run_cli(["init"], cli_env, check=True)
    run_cli(
        [
            "person",
            "add",
            f"Person {marker}",
            "--description",
            marker,
            "--handle",
            f"instagram:{marker}",
        ],
        cli_env,
        check=True,
    )
    run_cli(
        [
            "add",
            "-c",
            "THR",
            "--occurred",
            "yesterday 21:00",
            "-d",
            f"said {marker}",
            "--exact-words",
            marker,
            "--private-notes",
            marker,
            "--place",
            marker,
        ],
        cli_env,
        check=True,
    )
    run_cli(["attach", str(evidence), "--incident", "1", "--note", marker], cli_env, check=True)
    run_cli(["edit", "1", "--reason", marker, "-d", f"edited {marker}"], cli_env, check=True)
    shown = run_cli(["show", "1"], cli_env, check=True)
    assert marker in shown.stdout  # the marker really is in the diary
    run_cli(["backup", str(diary_path.parent / "backup.docket")], cli_env, check=True)
    run_cli(
        ["passphrase", "change"],
        {**cli_env, "DOCKET_NEW_PASSPHRASE": "new passphrase 2"},
        check=True,
    )
    cli_env["DOCKET_PASSPHRASE"] = "new passphrase 2"
    assert files_containing(watched, needle) == []

    # While open, mid-transaction: the rollback journal exists and must not hold plaintext.
    holder = subprocess.Popen(
        [sys.executable, "-m", "tests.helpers.hold_open", str(diary_path), marker],
        env={**cli_env, "PYTHONPATH": str(Path(__file__).parents[1])},
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        cwd=Path(__file__).parents[1],
    )
    assert holder.stdout is not None and holder.stdin is not None
    try:
        assert holder.stdout.readline().strip() == "READY"
        journal = Path(f"{diary_path}-journal")
        assert journal.exists() and journal.stat().st_size > 0
        assert files_containing(watched, needle) == []
        holder.stdin.write("go\n")
        holder.stdin.flush()
        assert holder.stdout.readline().strip() == "DONE"
    finally:
        holder.kill() if holder.poll() is None else None
        holder.wait(timeout=30)

    assert files_containing(watched, needle) == []
    listed = run_cli(["list", "--json"], cli_env, check=True)
    assert marker in listed.stdout
    assert sorted(p.name for p in diary_path.parent.iterdir()) == ["backup.docket", "test.docket"]


def test_tech_safety_and_witness_records_stay_encrypted(
    tmp_path: Path, diary_path: Path, cli_env: dict[str, str]
) -> None:
    """An app list checked for stalkerware, the indicator file, and a witness account are
    kept only inside the encrypted diary: their text never appears in any file written."""
    marker = f"LEAKMARKER{secrets.token_hex(8)}"
    needle = marker.encode()
    watched = [diary_path.parent, Path(cli_env["HOME"]), Path(cli_env["TMPDIR"])]
    outside = tmp_path / "from the phone"
    outside.mkdir()
    ioc = outside / "ioc.yaml"
    ioc.write_text(f"- name: App {marker}\n  type: stalkerware\n  packages:\n  - com.{marker}\n")
    apps = outside / "apps.txt"
    apps.write_text(f"package:com.{marker} installer=null\npackage:com.android.chrome\n")
    run_cli(["init"], cli_env, check=True)
    run_cli(["safety", "indicators", "load", str(ioc)], cli_env, check=True)
    found = run_cli(["safety", "phone", str(apps)], cli_env, check=True)
    assert marker in found.stdout  # the check really read it
    run_cli(["add", "-c", "LOI", "--occurred", "yesterday 21:00", "-d", "x"], cli_env, check=True)
    run_cli(
        ["witness", "add", "--incident", "1", "--name", marker, "--saw", marker],
        cli_env,
        check=True,
    )
    assert files_containing(watched, needle) == []
