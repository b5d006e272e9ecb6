"""A real, throwaway PostgreSQL server for the tests: its own cluster in a temporary folder,
listening on 127.0.0.1 only, started once per test session and stopped (and deleted) after.

Debian's server binaries are found under /usr/lib/postgresql/<version>/bin (version 15 or
newer). Without them the server tests skip, unless DOCKET_REQUIRE_POSTGRES=1 (set by
scripts/test.sh, which installs PostgreSQL), when they fail instead.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

MIN_VERSION = 15
PASSWORD = "docket-test-only"  # a throwaway cluster on loopback; never a real secret


@dataclass(frozen=True)
class Cluster:
    host: str
    port: int
    user: str
    password: str
    bindir: Path

    def url(self, database: str = "postgres") -> str:
        return (
            f"postgresql+psycopg://{self.user}:{self.password}@{self.host}:{self.port}/{database}"
        )

    def create_database(self, name: str) -> str:
        """A new, empty database; returns its URL."""
        import psycopg

        with psycopg.connect(
            host=self.host,
            port=self.port,
            user=self.user,
            password=self.password,
            dbname="postgres",
            autocommit=True,
        ) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)


def find_bindir() -> Path | None:
    root = Path("/usr/lib/postgresql")
    if not root.is_dir():
        return None
    versions = sorted(
        (int(p.name) for p in root.iterdir() if p.name.isdigit() and (p / "bin/initdb").exists()),
        reverse=True,
    )
    for v in versions:
        if v >= MIN_VERSION:
            return root / str(v) / "bin"
    return None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _as_owner(cmd: list[str], owner: str | None) -> list[str]:
    # PostgreSQL refuses to run as root; as root, run its commands as the 'postgres' user
    return ["runuser", "-u", owner, "--", *cmd] if owner else cmd


@contextlib.contextmanager
def running_cluster() -> Iterator[Cluster]:
    bindir = find_bindir()
    if bindir is None:
        raise FileNotFoundError("PostgreSQL 15 or newer is not installed")
    owner: str | None = None
    if os.geteuid() == 0:
        owner = "postgres"
        pwd.getpwnam(owner)  # KeyError when Debian's package has not made the user
    base = Path(tempfile.mkdtemp(prefix="docket-pg-"))
    data, sockets = base / "data", base / "sock"
    sockets.mkdir()
    pwfile = base / "pw"
    pwfile.write_text(PASSWORD + "\n")
    if owner:
        info = pwd.getpwnam(owner)
        for p in (base, sockets, pwfile):
            os.chown(p, info.pw_uid, info.pw_gid)
    port = _free_port()
    subprocess.run(
        _as_owner(
            [
                str(bindir / "initdb"),
                "-D",
                str(data),
                "-U",
                "docket",
                "--pwfile",
                str(pwfile),
                "-A",
                "scram-sha-256",
                "-E",
                "UTF8",
                "--locale",
                "C.UTF-8",
                "--no-sync",
            ],
            owner,
        ),
        check=True,
        capture_output=True,
    )
    options = (
        f"-c listen_addresses=127.0.0.1 -p {port} -k {sockets} -c fsync=off "
        "-c synchronous_commit=off -c full_page_writes=off -c max_connections=200"
    )
    log = base / "server.log"
    if owner:
        log.touch()
        info = pwd.getpwnam(owner)
        os.chown(log, info.pw_uid, info.pw_gid)
    subprocess.run(
        _as_owner(
            [str(bindir / "pg_ctl"), "-D", str(data), "-o", options, "-l", str(log), "-w", "start"],
            owner,
        ),
        check=True,
        capture_output=True,
    )
    try:
        yield Cluster("127.0.0.1", port, "docket", PASSWORD, bindir)
    finally:
        subprocess.run(
            _as_owner([str(bindir / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"], owner),
            check=False,
            capture_output=True,
        )
        shutil.rmtree(base, ignore_errors=True)
