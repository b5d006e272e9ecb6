"""Shared fixtures: real encrypted diaries in temporary folders, and a way to run the real
``docket`` command in a subprocess with a private HOME and TMPDIR."""

from __future__ import annotations

import hashlib
import os
import secrets
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine

from docket.api import Diary
from tests.helpers import postgres

PASSPHRASE = "kettle orbit maple drum"
FRESH_ENTRIES = 2  # a new diary's log: the signing key (log.key), then diary.created
SERVER_KEY = secrets.token_bytes(32)  # the server key of the test cases on PostgreSQL
SHARED = Path(__file__).resolve().parents[2] / "shared"


@pytest.fixture(scope="session")
def pg_cluster() -> Iterator[postgres.Cluster]:
    """A real PostgreSQL on 127.0.0.1 for this test session (stopped and deleted after)."""
    if postgres.find_bindir() is None:
        if os.environ.get("DOCKET_REQUIRE_POSTGRES") == "1":
            pytest.fail("PostgreSQL 15 or newer is needed (scripts/test.sh installs it)")
        pytest.skip("PostgreSQL 15 or newer is not installed")
    with postgres.running_cluster() as cluster:
        yield cluster


@pytest.fixture
def pg_url(pg_cluster: postgres.Cluster, request: pytest.FixtureRequest) -> str:
    """A fresh, empty database on the session's PostgreSQL, for one test."""
    name = "t_" + hashlib.sha256(request.node.nodeid.encode()).hexdigest()[:20]
    return pg_cluster.create_database(name)


@pytest.fixture(scope="module")
def pg_engine(pg_cluster: postgres.Cluster, request: pytest.FixtureRequest) -> Iterator[Engine]:
    """A prepared database for one test module, shared by its tests (each makes its own
    case schemas or rows)."""
    from docket.store import postgres as pg_store

    name = "m_" + hashlib.sha256(request.node.nodeid.encode()).hexdigest()[:20]
    engine = pg_store.make_engine(pg_cluster.create_database(name))
    pg_store.prepare_database(engine)
    yield engine
    engine.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def any_diary(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Diary]:
    """A new diary on each store: an encrypted file, then a case on PostgreSQL."""
    if request.param == "sqlite":
        d = Diary.create(tmp_path / "d.docket", PASSPHRASE)
    else:
        from docket.store import postgres as pg_store

        engine = request.getfixturevalue("pg_engine")
        schema = "case_" + secrets.token_hex(6)
        d = Diary.create_in(
            lambda meta: pg_store.CaseStore.create(engine, schema, SERVER_KEY, meta)
        )
    try:
        yield d
    finally:
        d.close()


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
