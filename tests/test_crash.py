"""Crash tests: writers are SIGKILLed at random moments, many times. Each time the diary must
open with its passphrase, pass the page checks, and hold every write that was acknowledged,
whole; an interrupted attachment or passphrase change leaves nothing half-done."""

from __future__ import annotations

import hashlib
import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import text

from docket.api import Diary
from docket.errors import WrongPassphrase
from tests.conftest import PASSPHRASE, run_cli
from tests.helpers.checks import assert_log_consistent

ROOT = Path(__file__).parents[1]
pytestmark = pytest.mark.slow


def writer(mode: str, diary: Path, arg: str, env: dict[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "tests.helpers.writer", mode, str(diary), arg],
        env={**env, "PYTHONPATH": str(ROOT)},
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )


def kill(proc: subprocess.Popen[str]) -> list[str]:
    proc.send_signal(signal.SIGKILL)
    out, _ = proc.communicate(timeout=30)
    return out.splitlines()


def check_acked(diary_path: Path, acked: dict[int, str], passphrase: str = PASSPHRASE) -> None:
    with Diary.open(diary_path, passphrase) as d:
        assert d.check_file() == []
        assert_log_consistent(d)
        report = d.verify()
        assert report.ok, report.problems
        stored = {v.id: v for v in d.incidents()}
        for iid, desc in acked.items():
            v = stored[iid]
            assert v.data is not None and v.data.description == desc
            assert v.data.tags and v.data.witnesses and v.data.effect.distress
        assert len(stored) >= len(acked)


def test_sigkill_during_writes(diary_path: Path, cli_env: dict[str, str]) -> None:
    Diary.create(diary_path, PASSPHRASE).close()
    rng = random.Random(int.from_bytes(os.urandom(4), "big"))
    acked: dict[int, str] = {}
    for rnd in range(25):
        proc = writer("incidents", diary_path, f"r{rnd}", cli_env)
        assert proc.stdout is not None
        want = rng.randint(0, 12)
        lines: list[str] = []
        while len(lines) < want:
            line = proc.stdout.readline()
            if not line:
                break
            lines.append(line)
        time.sleep(rng.random() * 0.05)
        lines += kill(proc)
        for line in lines:
            _, iid, desc = line.split(maxsplit=2)
            acked[int(iid)] = desc.strip()
        check_acked(diary_path, acked)
    assert len(acked) > 50


def test_sigkill_during_cli_add(diary_path: Path, cli_env: dict[str, str]) -> None:
    run_cli(["init"], cli_env, check=True)
    # how long one whole `docket add` takes on this machine now, so the kills land before,
    # during and after the write however loaded the machine is
    started = time.monotonic()
    run_cli(
        ["add", "-c", "CON", "--occurred", "01/11/2026 09:00", "-d", "timing"], cli_env, check=True
    )
    whole = time.monotonic() - started
    rng = random.Random(int.from_bytes(os.urandom(4), "big"))
    acked: dict[int, str] = {}
    for rnd in range(15):
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "docket",
                "add",
                "--json",
                "-c",
                "CON",
                "--occurred",
                "01/11/2026 10:00",
                "-d",
                f"cli-{rnd}",
                "--tag",
                "t",
                "--witness",
                "W",
                "--effect",
                "distress",
            ],
            env=cli_env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        time.sleep(whole * (0.2 + rng.random() * 2.3))
        proc.send_signal(signal.SIGKILL)
        out, _ = proc.communicate(timeout=30)
        if out.strip():
            record = json.loads(out)  # acknowledged: printed whole
            acked[record["id"]] = record["description"]
        check_acked(diary_path, acked)
    assert acked, "no CLI write completed; lengthen the delays"


def test_sigkill_during_large_attach(
    diary_path: Path, cli_env: dict[str, str], tmp_path: Path
) -> None:
    Diary.create(diary_path, PASSPHRASE).close()
    big = tmp_path / "video.mp4"
    with big.open("wb") as fh:
        for i in range(40):
            fh.write(hashlib.sha256(str(i).encode()).digest() * 32768)  # 40 MB, distinct chunks
    rng = random.Random(int.from_bytes(os.urandom(4), "big"))
    completed = 0
    for _ in range(6):
        proc = writer("attach", diary_path, str(big), cli_env)
        time.sleep(0.4 + rng.random() * 2.0)
        completed += sum(1 for line in kill(proc) if line.startswith("ACK"))
        with Diary.open(diary_path, PASSPHRASE) as d:
            assert d.check_file() == []
            assert d.verify().ok
            atts = d.attachments()
            assert len(atts) >= completed
            with d._file.read() as conn:
                blobs_ = conn.execute(text("SELECT count(*) FROM blob")).scalar()
                orphans = conn.execute(
                    text(
                        "SELECT count(*) FROM chunk WHERE sha256 NOT IN "
                        "(SELECT chunk_sha256 FROM blob_chunk)"
                    )
                ).scalar()
            assert blobs_ == (1 if atts else 0)
            assert orphans == 0  # no half-stored file left behind
            for a in atts:
                digest = hashlib.sha256()
                for piece in d.iter_attachment(a.id):
                    digest.update(piece)
                assert digest.hexdigest() == a.sha256


def test_sigkill_during_passphrase_change(diary_path: Path, cli_env: dict[str, str]) -> None:
    with Diary.create(diary_path, PASSPHRASE) as d:
        from docket.model.forms import IncidentInput

        for i in range(300):
            d.add_incident(
                IncidentInput(
                    category="CON",
                    occurred="01/11/2026 10:00",
                    description=f"keep {i}",
                    tags=["t"],
                    witnesses=["W"],
                    effects=["distress"],
                )
            )
    acked = {i + 1: f"keep {i}" for i in range(300)}
    rng = random.Random(int.from_bytes(os.urandom(4), "big"))
    current = PASSPHRASE
    for rnd in range(5):
        new = f"rekeyed passphrase {rnd}"
        proc = writer("rekey", diary_path, new, {**cli_env, "DOCKET_PASSPHRASE": current})
        time.sleep(0.2 + rng.random() * 0.8)
        done = any(line.startswith("ACK") for line in kill(proc))
        try:
            check_acked(diary_path, acked, new)
            current = new
        except WrongPassphrase:
            assert not done, "an acknowledged passphrase change did not take effect"
            check_acked(diary_path, acked, current)
        assert sorted(
            p.name for p in diary_path.parent.iterdir() if not p.name.startswith(".")
        ) == [diary_path.name]
    # reopening cleared any temporary copy left by the kills
    assert [p.name for p in diary_path.parent.iterdir()] == [diary_path.name]


def test_sigkill_during_an_import_leaves_all_or_nothing(
    diary_path: Path, tmp_path: Path, cli_env: dict[str, str]
) -> None:
    """An import is one transaction: killed part-way, the diary holds none of it, verifies,
    and the same import run again completes."""
    Diary.create(diary_path, PASSPHRASE).close()
    chat = tmp_path / "WhatsApp Chat with Sam.txt"
    with chat.open("w", encoding="utf-8") as f:
        for i in range(60_000):
            hour, minute = divmod(i % 1440, 60)
            f.write(f"{1 + i // 1440:02d}/10/2026, {hour:02d}:{minute:02d} - Sam: message {i}\n")
    rng = random.Random(int.from_bytes(os.urandom(4), "big"))
    for _ in range(4):
        proc = subprocess.Popen(
            [sys.executable, "-m", "docket", "import", str(chat), "--json"],
            env=cli_env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        time.sleep(1.0 + rng.random() * 2.0)
        proc.send_signal(signal.SIGKILL)
        proc.communicate(timeout=30)
        with Diary.open(diary_path, PASSPHRASE) as d:
            assert d.check_file() == []
            report = d.verify()
            assert report.ok, report.problems
            assert len(d.messages(limit=10)) in (0, 10)
            done = bool(d.sources())
        if done:  # it finished before the kill: nothing more to learn
            break
    proc_done = run_cli(["import", str(chat), "--json"], cli_env, check=True)
    summary = json.loads(proc_done.stdout)
    assert summary["added"] == 60_000 or summary["already_imported_at"]
    with Diary.open(diary_path, PASSPHRASE) as d:
        assert len(d.messages()) == 60_000
        assert d.verify().ok
