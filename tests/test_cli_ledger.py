"""The CLI of the tamper-evident log: checkpoint, key, verify (exit codes and output)."""

from __future__ import annotations

import json
from pathlib import Path

from sqlalchemy import text

from docket.store import sqlcipher
from docket.store.diary_file import DiaryFile
from tests.conftest import PASSPHRASE, run_cli
from tests.helpers.tsa import running_tsa


def test_checkpoint_key_and_verify(
    cli_env: dict[str, str], diary_path: Path, tmp_path: Path
) -> None:
    run_cli(["init"], cli_env, check=True)
    run_cli(["add", "-c", "CON", "-d", "first"], cli_env, check=True)
    cp_file = tmp_path / "handed-over.txt"
    r = run_cli(["checkpoint", "--out", str(cp_file)], cli_env, check=True)
    note = cp_file.read_text()
    assert note.splitlines()[1] == "3" and note in r.stdout  # printed whole, never wrapped
    key = json.loads(run_cli(["key", "--json"], cli_env, check=True).stdout)
    assert key["vkey"].startswith("docket.invalid/") and len(key["fingerprint"]) == 24
    run_cli(["add", "-c", "LOI", "-d", "second"], cli_env, check=True)
    r = run_cli(["verify", "--since", str(cp_file), "--key", key["vkey"]], cli_env)
    assert r.returncode == 0, r.stdout + r.stderr
    flat = " ".join(r.stdout.split())  # Rich wraps prose at the terminal width
    assert "Every check passed" in flat and "append-only extension" in flat
    assert "cannot show that what was written is true" in flat
    report = json.loads(run_cli(["verify", "--json"], cli_env).stdout)
    assert report["ok"] and report["entries"] == 4

    # change an entry behind Docket's back
    f = DiaryFile(diary_path, sqlcipher.unlock(diary_path, PASSPHRASE))
    with f.write() as conn:
        conn.execute(text("UPDATE entry SET recorded_at = '2020-01-01T00:00:00Z' WHERE seq = 2"))
    f.close()
    r = run_cli(["verify"], cli_env)
    flat = " ".join(r.stdout.split())
    assert r.returncode == 1
    assert "entry 2 (incident 1) was changed" in flat and "Entries affected: 2" in flat
    r = run_cli(["verify", "--json"], cli_env)
    assert r.returncode == 1 and json.loads(r.stdout)["affected_entries"] == [2]


def test_timestamp_and_retry_from_the_cli(cli_env: dict[str, str], tmp_path: Path) -> None:
    run_cli(["init"], cli_env, check=True)
    with running_tsa(tmp_path / "tsa") as tsa:
        r = run_cli(
            [
                "checkpoint",
                "--timestamp",
                f"{tsa.url}/good",
                "--tsa-root",
                str(tsa.root_pem),
                "--json",
            ],
            cli_env,
            check=True,
        )
        assert json.loads(r.stdout)["timestamps"][0]["status"] == "granted"
        r = run_cli(["checkpoint", "--timestamp", f"{tsa.url}/down"], cli_env, check=True)
        assert "--retry" in r.stdout
        r = run_cli(["verify", "--tsa-roots", str(tsa.root_pem)], cli_env)
        flat = " ".join(r.stdout.split())
        assert r.returncode == 0 and "existed by" in flat and "waiting" in flat


def test_bad_since_file(cli_env: dict[str, str], tmp_path: Path) -> None:
    run_cli(["init"], cli_env, check=True)
    bad = tmp_path / "cp.txt"
    bad.write_text("not a checkpoint\n")
    r = run_cli(["verify", "--since", str(bad)], cli_env)
    assert r.returncode == 1 and "does not check out" in " ".join(r.stdout.split())
    r = run_cli(["verify", "--since", str(tmp_path / "missing.txt")], cli_env)
    assert r.returncode == 2 and "could not be read" in r.stderr
