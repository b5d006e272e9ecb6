"""Shared fixtures: real encrypted diaries in temporary folders, and a way to run the real
``docket`` command in a subprocess with a private HOME and TMPDIR."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from docket.api import Diary

PASSPHRASE = "kettle orbit maple drum"
FRESH_ENTRIES = 2  # a new diary's log: the signing key (log.key), then diary.created
SHARED = Path(__file__).resolve().parents[2] / "shared"


@pytest.fixture
def diary_path(tmp_path: Path) -> Path:
    return tmp_path / "diaries" / "test.docket"


@pytest.fixture
def diary(diary_path: Path) -> Iterator[Diary]:
    d = Diary.create(diary_path, PASSPHRASE)
    try:
        yield d
    finally:
        d.close()


@pytest.fixture
def cli_env(tmp_path: Path, diary_path: Path) -> dict[str, str]:
    home = tmp_path / "home"
    tmp = tmp_path / "tmp"
    home.mkdir(exist_ok=True)
    tmp.mkdir(exist_ok=True)
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("DOCKET_") and k != "XDG_CONFIG_HOME"
    }
    env.update(
        HOME=str(home),
        TMPDIR=str(tmp),
        DOCKET_DIARY=str(diary_path),
        DOCKET_PASSPHRASE=PASSPHRASE,
        COLUMNS="120",
        PYTHONDONTWRITEBYTECODE="1",
    )
    return env


def run_cli(
    args: list[str], env: dict[str, str], *, input: str | None = None, check: bool = False
) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(
        [sys.executable, "-m", "docket", *args],
        env=env,
        input=input,
        capture_output=True,
        text=True,
        timeout=120,
    )
    if check and proc.returncode != 0:
        raise AssertionError(
            f"docket {args} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}"
        )
    return proc
