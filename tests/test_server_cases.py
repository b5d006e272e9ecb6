"""Cases on the server (a real PostgreSQL on 127.0.0.1): making them all or nothing, who may
see and open them, and moving diaries in and out — a diary file brought into a case and a
case written out as a file keep their log, checkpoints and proofs byte for byte, and memory
stays flat while evidence is copied."""

from __future__ import annotations

import base64
import contextlib
import ctypes
import gc
import json
import os
import secrets
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psutil
import pytest
from click.testing import CliRunner
from sqlalchemy import Boolean, Engine, Table, func, insert, select, text

from docket.api import Diary
from docket.cli import cli
from docket.errors import (
    CaseNotFound,
    CopyRefused,
    DiaryDamaged,
    DiaryExists,
    InputError,
    PassphraseRejected,
    RecordNotFound,
    VictimHasCase,
    WrongPassphrase,
)
from docket.ledger import log
from docket.model import forms
from docket.model.records import PersonData
from docket.server import cases, db, transfer
from docket.server.schema import account, case, case_access
from docket.store import postgres
from docket.store.base import Store, raw
from docket.store.diary_file import DiaryFile
from tests.conftest import FRESH_ENTRIES, PASSPHRASE, SERVER_KEY, run_cli
from tests.test_import import chat_lines, write_chat

NEW_PASSPHRASE = "lantern copper heron field"
MIB = 1024 * 1024


# --- fixtures and helpers ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def server(pg_engine: Engine) -> Engine:
    """The module's database with the server's tables."""
    db.migrate(pg_engine, SERVER_KEY)
    return pg_engine


def add_account(engine: Engine, role: str, *, disabled: bool = False) -> int:
    now = datetime.now(UTC)
    with engine.begin() as conn:
        return int(
            conn.execute(
                insert(account)
                .values(
                    username=f"{role}-{secrets.token_hex(4)}",
                    display_name=role.title(),
                    role=role,
                    password_hash="$argon2id$not-used-here",
                    totp_enabled=False,
                    disabled=disabled,
                    failed_logins=0,
                    created_at=now,
                    password_changed_at=now,
                )
                .returning(account.c.id)
            ).scalar_one()
        )


def case_rows(engine: Engine) -> set[int]:
    with engine.connect() as conn:
        return set(conn.execute(select(case.c.id)).scalars())


def case_schemas(engine: Engine) -> set[str]:
    with engine.connect() as conn:
        return set(
            conn.execute(
                text("SELECT nspname FROM pg_namespace WHERE nspname LIKE 'case\\_%'")
            ).scalars()
        )


@pytest.fixture
def nothing_left(server: Engine) -> Iterator[None]:
    """The test must leave no new case row and no new case schema behind."""
    rows, schemas = case_rows(server), case_schemas(server)
    yield
    assert case_rows(server) == rows
    assert case_schemas(server) == schemas


def incident(d: Diary, description: str, people: list[int] | None = None) -> int:
    return d.add_incident(
        forms.IncidentInput(
            occurred="2026-03-01 14:00", category="LOI", description=description, people=people
        )
    ).id


def make_diary_file(folder: Path, *, evidence_bytes: int = 3 * MIB + 5) -> Path:
    """A diary file with people, incidents (one removed), evidence (several chunks, and one
    file removed so its bytes are purged), imported messages and a checkpoint."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "victim.docket"
    with Diary.create(path, PASSPHRASE) as d:
        sam = d.add_person(
            PersonData(
                name="Sam Example", identifiers=d.parse_identifiers(["07700 900123"], [], [], [])
            )
        ).id
        first = incident(d, "He was waiting outside work.", [sam])
        incident(d, "Twelve missed calls from a withheld number.", [sam])
        gone = incident(d, "Written by mistake.")
        evidence = folder / "photo.bin"
        evidence.write_bytes(os.urandom(evidence_bytes))
        d.attach(evidence, incident_id=first, obtained="my phone")
        small = folder / "private.bin"
        small.write_bytes(b"something private")
        removed = d.attach(small, incident_id=None)
        d.redact("attachment", removed.id, "not relevant")
        d.redact("incident", gone, "written by mistake")
        d.import_file(write_chat(folder / "WhatsApp Chat with Sam.txt", chat_lines(0, 40)))
        d.checkpoint()
        incident(d, "He drove past the house twice.", [sam])
    return path


def table_rows(store: Store, table: Table) -> list[tuple[Any, ...]]:
    """Every row of a table, in key order, booleans as bool and bytes as bytes."""
    columns = [c.name for c in table.columns]
    keys = [c.name for c in table.primary_key.columns]
    flags = {i for i, c in enumerate(table.columns) if isinstance(c.type, Boolean)}
    quoted = ", ".join(f'"{c}"' for c in columns)
    order = ", ".join(f'"{k}"' for k in keys)
    with store.read() as conn:
        rows = raw(conn).execute(f'SELECT {quoted} FROM "{table.name}" ORDER BY {order}')
        return [
            tuple(
                bool(v)
                if i in flags and v is not None
                else bytes(v)
                if isinstance(v, memoryview)
                else v
                for i, v in enumerate(r)
            )
            for r in rows
        ]


def meta_of(store: Store) -> dict[str, str]:
    with store.read() as conn:
        return dict(raw(conn).execute('SELECT "key", "value" FROM meta').fetchall())


def log_state(store: Store) -> tuple[int, bytes, list[tuple[int, bytes, str]]]:
    with store.read() as conn:
        n = log.size(conn)
        cps = [(c.size, c.root, c.note) for c in log.checkpoints(conn)]
        latest = log.latest_checkpoint(conn)
        assert latest is not None
        return n, latest.root, cps


def proofs(store: Store, size: int) -> tuple[list[list[bytes]], list[list[bytes]]]:
    with store.read() as conn:
        inclusion = [log.inclusion_proof(conn, i, size) for i in range(size)]
        consistency = [log.consistency_proof(conn, m, size) for m in range(1, size + 1)]
    return inclusion, consistency


def case_store(engine: Engine, made: cases.Case) -> postgres.CaseStore:
    return postgres.CaseStore.open(engine, made.schema_name, SERVER_KEY)


# --- making cases --------------------------------------------------------------------------------


def test_a_new_case_has_its_row_its_schema_and_a_diary_that_verifies(server: Engine) -> None:
    admin = add_account(server, "admin")
    made = cases.create_case(server, SERVER_KEY, title="  SR-2026-0142 ", created_by=admin)
    assert made.title == "SR-2026-0142" and not made.closed
    assert made.schema_name == f"case_{made.id}" and made.schema_name in case_schemas(server)
    assert cases.get_case(server, made.id) == made
    with cases.open_case(server, SERVER_KEY, made.id) as d:
        report = d.verify()
        assert report.ok, report.problems
        assert report.entries == FRESH_ENTRIES
        assert d.store.path is None
    # the signing key is sealed under the server key, bound to this case
    value = meta_of(case_store(server, made))["log_key"]
    assert value.startswith(postgres.SEALED_PREFIX)


def test_case_numbers_are_never_reused(server: Engine) -> None:
    a = cases.create_case(server, SERVER_KEY, title="first", created_by=None)
    with pytest.raises(InputError):
        cases.create_case(server, SERVER_KEY, title="", created_by=None)
    with pytest.raises(InputError):
        cases.create_case(server, SERVER_KEY, title="x" * (cases.TITLE_MAX + 1), created_by=None)
    b = cases.create_case(server, SERVER_KEY, title="second", created_by=None)
    assert b.id > a.id


def test_a_case_that_cannot_be_made_leaves_nothing(server: Engine, nothing_left: None) -> None:
    with pytest.raises(InputError, match="time zone"):
        cases.create_case(server, SERVER_KEY, title="T", created_by=None, timezone="Mars/Base")
    with pytest.raises(RecordNotFound):
        cases.create_case(server, SERVER_KEY, title="T", created_by=987654321)

    made_schema: list[str] = []

    def fails_half_way(schema: str) -> None:
        postgres.CaseStore.create(server, schema, SERVER_KEY, {"diary_id": "x"})
        made_schema.append(schema)
        assert schema in case_schemas(server)  # it was really there
        raise RuntimeError("the build stopped half-way")

    with pytest.raises(RuntimeError, match="half-way"):
        cases.create_case_with(server, title="T", created_by=None, build=fails_half_way)
    assert made_schema and made_schema[0] not in case_schemas(server)


KILLED_MID_CASE = """
import os, signal, sys
from docket.server import cases
from docket.store import postgres
engine = postgres.make_engine(sys.argv[1])
key = bytes.fromhex(sys.argv[2])

def build(schema):
    postgres.CaseStore.create(engine, schema, key, {"diary_id": "killed"})
    print(schema, flush=True)
    os.kill(os.getpid(), signal.SIGKILL)  # no except, no finally: the schema stays

cases.create_case_with(engine, title="Killed", created_by=None, build=build)
"""


def test_a_case_left_half_made_by_a_killed_process_is_removed(server: Engine) -> None:
    """SIGKILL while a case is being made leaves its schema without a row; the next case
    made (and the server's start) removes it, and nothing else."""
    before = case_schemas(server)
    url = server.url.render_as_string(hide_password=False)
    run = subprocess.run(
        [sys.executable, "-c", KILLED_MID_CASE, url, SERVER_KEY.hex()],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == -signal.SIGKILL, run.stderr
    left = run.stdout.strip()
    assert left.startswith("case_") and left in case_schemas(server)
    assert left not in {c.schema_name for c in cases.list_cases(server, account_id=0, role="admin")}
    made = cases.create_case(server, SERVER_KEY, title="Next", created_by=None)
    assert case_schemas(server) == before | {made.schema_name}
    assert cases.remove_unfinished(server) == []  # nothing else is taken for unfinished


def test_a_case_being_made_is_not_taken_for_one_left_behind(server: Engine) -> None:
    building, finish = threading.Event(), threading.Event()
    made: list[cases.Case] = []
    seen: list[str] = []

    def slow_build(schema: str) -> None:
        postgres.CaseStore.create(server, schema, SERVER_KEY, {"diary_id": "slow"})
        seen.append(schema)
        building.set()
        assert finish.wait(60)

    worker = threading.Thread(
        target=lambda: made.append(
            cases.create_case_with(server, title="Slow", created_by=None, build=slow_build)
        )
    )
    worker.start()
    try:
        assert building.wait(60)
        assert cases.remove_unfinished(server) == []
        assert seen[0] in case_schemas(server)
    finally:
        finish.set()
        worker.join(60)
    assert made and made[0].schema_name == seen[0] in case_schemas(server)


def test_unknown_cases_are_reported(server: Engine) -> None:
    with pytest.raises(CaseNotFound):
        cases.get_case(server, 10**12)
    with pytest.raises(CaseNotFound):
        cases.open_case(server, SERVER_KEY, 10**12)
    with pytest.raises(CaseNotFound):
        cases.close_case(server, 10**12)
    with pytest.raises(CaseNotFound):
        cases.grant(server, 10**12, add_account(server, "caseworker"), None)


def test_closing_a_case_keeps_its_diary(server: Engine) -> None:
    made = cases.create_case(server, SERVER_KEY, title="to close", created_by=None)
    closed = cases.close_case(server, made.id)
    assert closed.closed and cases.get_case(server, made.id).closed
    with cases.open_case(server, SERVER_KEY, made.id) as d:
        assert d.verify().ok


# --- who may see and open a case -----------------------------------------------------------------


def test_admins_see_every_case_others_only_what_they_are_given(server: Engine) -> None:
    admin = add_account(server, "admin")
    alice = add_account(server, "caseworker")
    bob = add_account(server, "caseworker")
    mine = cases.create_case(server, SERVER_KEY, title="alice's", created_by=admin)
    theirs = cases.create_case(server, SERVER_KEY, title="bob's", created_by=admin)
    cases.grant(server, mine.id, alice, admin)
    cases.grant(server, theirs.id, bob, admin)
    cases.grant(server, theirs.id, bob, admin)  # giving it again changes nothing

    everything = {c.id for c in cases.list_cases(server, account_id=admin, role="admin")}
    assert {mine.id, theirs.id} <= everything
    assert [c.id for c in cases.list_cases(server, account_id=alice, role="caseworker")] == [
        mine.id
    ]
    assert [c.id for c in cases.list_cases(server, account_id=bob, role="caseworker")] == [
        theirs.id
    ]

    def may(who: int, role: str, case_id: int) -> bool:
        return cases.can_access(server, account_id=who, role=role, case_id=case_id)

    assert may(admin, "admin", mine.id) and may(admin, "admin", theirs.id)
    assert not may(admin, "admin", 10**12)  # no such case
    assert not may(alice, "admin", theirs.id)  # claiming a role the account does not have
    assert not may(10**12, "admin", mine.id)  # no such account
    assert may(alice, "caseworker", mine.id)
    assert not may(alice, "caseworker", theirs.id)  # guessing another case's number
    assert not may(bob, "caseworker", mine.id)
    # the role must be the account's own: a caseworker claiming to be an admin gets nothing
    # more, and a made-up role gets nothing at all
    assert not may(alice, "victim", mine.id)
    assert not may(alice, "superuser", mine.id)

    assert [(a.id, a.role) for a in cases.granted_accounts(server, mine.id)] == [
        (alice, "caseworker")
    ]
    assert cases.revoke(server, mine.id, alice) is True
    assert cases.revoke(server, mine.id, alice) is False
    assert not may(alice, "caseworker", mine.id)
    assert cases.list_cases(server, account_id=alice, role="caseworker") == []
    assert cases.granted_accounts(server, mine.id) == []


def test_a_disabled_account_opens_nothing(server: Engine) -> None:
    made = cases.create_case(server, SERVER_KEY, title="t", created_by=None)
    worker = add_account(server, "caseworker")
    cases.grant(server, made.id, worker, None)
    with server.begin() as conn:
        conn.execute(account.update().where(account.c.id == worker).values(disabled=True))
    assert not cases.can_access(server, account_id=worker, role="caseworker", case_id=made.id)
    boss = add_account(server, "admin", disabled=True)
    assert not cases.can_access(server, account_id=boss, role="admin", case_id=made.id)
    off = add_account(server, "caseworker", disabled=True)
    with pytest.raises(InputError, match="disabled"):
        cases.grant(server, made.id, off, None)
    with pytest.raises(RecordNotFound):
        cases.grant(server, made.id, 10**12, None)


def test_a_victim_has_one_case_only(server: Engine) -> None:
    victim = add_account(server, "victim")
    own = cases.create_case(server, SERVER_KEY, title="own", created_by=None)
    other = cases.create_case(server, SERVER_KEY, title="other", created_by=None)
    cases.grant(server, own.id, victim, None)
    cases.grant(server, own.id, victim, None)  # the same case again is fine
    with pytest.raises(VictimHasCase, match="one case only") as refused:
        cases.grant(server, other.id, victim, None)
    assert f"case {own.id}" in refused.value.message
    assert not cases.can_access(server, account_id=victim, role="victim", case_id=other.id)
    assert [c.id for c in cases.list_cases(server, account_id=victim, role="victim")] == [own.id]
    cases.revoke(server, own.id, victim)
    cases.grant(server, other.id, victim, None)
    assert cases.can_access(server, account_id=victim, role="victim", case_id=other.id)


def test_two_grants_at_once_cannot_give_a_victim_two_cases(server: Engine) -> None:
    victim = add_account(server, "victim")
    made = [cases.create_case(server, SERVER_KEY, title=f"c{i}", created_by=None) for i in range(2)]
    start = threading.Barrier(2)
    outcomes: list[str] = []

    def give(case_id: int) -> None:
        start.wait()
        try:
            cases.grant(server, case_id, victim, None)
            outcomes.append("granted")
        except InputError:
            outcomes.append("refused")

    threads = [threading.Thread(target=give, args=(c.id,)) for c in made]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outcomes) == ["granted", "refused"]
    with server.connect() as conn:
        n = conn.execute(
            select(func.count()).select_from(case_access).where(case_access.c.account_id == victim)
        ).scalar_one()
    assert n == 1


# --- bringing a diary file in --------------------------------------------------------------------


def test_a_diary_file_comes_in_byte_for_byte_and_verifies(server: Engine, tmp_path: Path) -> None:
    path = make_diary_file(tmp_path / "in")
    before = path.read_bytes()
    made = transfer.import_diary(
        server, SERVER_KEY, path, PASSPHRASE, title="SR-1", created_by=None
    )
    assert path.read_bytes() == before  # the file is only read
    assert made.title == "SR-1" and made.id in case_rows(server)

    file_store = DiaryFile.open(path, PASSPHRASE)
    try:
        store = case_store(server, made)
        with cases.open_case(server, SERVER_KEY, made.id) as d:
            report = d.verify()
            assert report.ok, report.problems
            assert report.files >= 2  # the evidence and the chat export
            assert report.removals  # the removed incident and file are shown as removed
        size, root, checkpoints = log_state(store)
        assert (size, root, checkpoints) == log_state(file_store)
        assert size > 10 and len(checkpoints) > 3
        for table in transfer.TABLES:
            assert table_rows(store, table) == table_rows(file_store, table), table.name
        # booleans arrived as booleans: the removed incident and the purged file
        with store.read() as conn:
            assert (
                raw(conn).execute("SELECT count(*) FROM incident WHERE redacted").fetchone()[0] == 1
            )
            assert raw(conn).execute("SELECT count(*) FROM blob WHERE purged").fetchone()[0] == 1
            assert (
                raw(conn).execute("SELECT count(*) FROM chunk").fetchone()[0] >= 4
            )  # the evidence file, in 1 MiB chunks
        file_meta, case_meta = meta_of(file_store), meta_of(store)
        assert {k: v for k, v in case_meta.items() if k != "log_key"} == {
            k: v for k, v in file_meta.items() if k != "log_key"
        }
        assert case_meta["log_key"].startswith(postgres.SEALED_PREFIX)
        seed = postgres.ServerKey(SERVER_KEY, made.schema_name).open(
            "log_key", case_meta["log_key"]
        )
        assert seed == base64.b64decode(file_meta["log_key"])
        assert proofs(store, size) == proofs(file_store, size)
    finally:
        file_store.close()


def index_rows(store: Store) -> list[tuple[int, str]]:
    with store.read() as conn:
        return [
            (int(r[0]), str(r[1]))
            for r in raw(conn).execute("SELECT rowid, text FROM incident_fts ORDER BY rowid")
        ]


def test_an_imported_case_carries_on_with_the_same_key(server: Engine, tmp_path: Path) -> None:
    path = make_diary_file(tmp_path / "in", evidence_bytes=1000)
    with Diary.open(path, PASSPHRASE) as original:
        key = original.key().encode()
        indexed = index_rows(original.store)
    assert len(indexed) == 3  # the removed incident is not searchable
    made = transfer.import_diary(server, SERVER_KEY, path, PASSPHRASE, title="t", created_by=None)
    with cases.open_case(server, SERVER_KEY, made.id) as d:
        # the search index was rebuilt from the copied rows
        assert index_rows(d.store) == indexed
        assert d.key().encode() == key
        n = incident(d, "Another visit, after the diary came to the service.")
        assert d.incident(n).data is not None
        report = d.verify()
        assert report.ok, report.problems
        assert report.vkey == key


def test_a_wrong_passphrase_makes_no_case(
    server: Engine, tmp_path: Path, nothing_left: None
) -> None:
    path = make_diary_file(tmp_path / "in", evidence_bytes=10)
    with pytest.raises(WrongPassphrase):
        transfer.import_diary(
            server, SERVER_KEY, path, "not the passphrase", title="t", created_by=None
        )


def test_a_diary_changed_outside_docket_makes_no_case(
    server: Engine, tmp_path: Path, nothing_left: None
) -> None:
    path = make_diary_file(tmp_path / "in", evidence_bytes=10)
    with Diary.open(path, PASSPHRASE) as d, d.store.write() as conn:
        raw(conn).execute(
            "UPDATE entry SET record = replace(record, 'waiting outside', 'waiting inside') "
            "WHERE record LIKE '%waiting outside%'"
        )
    with pytest.raises(DiaryDamaged, match="integrity check") as refused:
        transfer.import_diary(server, SERVER_KEY, path, PASSPHRASE, title="t", created_by=None)
    assert refused.value.details["problems"] >= 1


def test_changed_evidence_bytes_make_no_case(
    server: Engine, tmp_path: Path, nothing_left: None
) -> None:
    path = make_diary_file(tmp_path / "in", evidence_bytes=2 * MIB)
    with Diary.open(path, PASSPHRASE) as d, d.store.write() as conn:
        sha, data = (
            raw(conn)
            .execute("SELECT sha256, data FROM chunk ORDER BY length(data) DESC LIMIT 1")
            .fetchone()
        )
        flipped = bytes([data[0] ^ 1]) + bytes(data[1:])
        raw(conn).execute("UPDATE chunk SET data = ? WHERE sha256 = ?", (flipped, sha))
    with pytest.raises(DiaryDamaged):
        transfer.import_diary(server, SERVER_KEY, path, PASSPHRASE, title="t", created_by=None)


def test_a_row_the_server_refuses_mid_copy_makes_no_case(
    server: Engine, tmp_path: Path, nothing_left: None
) -> None:
    path = make_diary_file(tmp_path / "in", evidence_bytes=2 * MIB)
    # PostgreSQL's text cannot hold a NUL character; SQLite's can. The person table comes
    # after the evidence chunks and the log, so the copy fails part of the way through.
    with Diary.open(path, PASSPHRASE) as d, d.store.write() as conn:
        raw(conn).execute("UPDATE person SET name = 'Sam' || char(0) || 'Example'")
    with pytest.raises(CopyRefused, match="person table") as refused:
        transfer.import_diary(server, SERVER_KEY, path, PASSPHRASE, title="t", created_by=None)
    assert "Sam" not in str(refused.value.as_dict())  # the database's message is not passed on


def test_copying_into_a_store_that_holds_records_is_refused(server: Engine, tmp_path: Path) -> None:
    path = make_diary_file(tmp_path / "in", evidence_bytes=10)
    used = cases.create_case(server, SERVER_KEY, title="in use", created_by=None)
    with cases.open_case(server, SERVER_KEY, used.id) as d:
        incident(d, "Already written here.")
    before = log_state(case_store(server, used))
    with (
        Diary.open(path, PASSPHRASE) as source,
        pytest.raises(CopyRefused, match="already holds records"),
    ):
        transfer.copy_diary(source.store, case_store(server, used))
    assert log_state(case_store(server, used)) == before


# --- writing a case out --------------------------------------------------------------------------


def test_a_case_goes_out_as_a_file_with_the_same_log(server: Engine, tmp_path: Path) -> None:
    made = transfer.import_diary(
        server, SERVER_KEY, make_diary_file(tmp_path / "in"), PASSPHRASE, title="t", created_by=None
    )
    with cases.open_case(server, SERVER_KEY, made.id) as d:
        incident(d, "Written on the server.")
    store = case_store(server, made)
    out = tmp_path / "out" / "returned.docket"
    assert transfer.export_case(server, SERVER_KEY, made.id, out, NEW_PASSPHRASE) == out
    assert sorted(p.name for p in out.parent.iterdir()) == ["returned.docket"]  # no temp left
    with pytest.raises(WrongPassphrase):
        Diary.open(out, PASSPHRASE)
    with Diary.open(out, NEW_PASSPHRASE) as back:
        report = back.verify()
        assert report.ok, report.problems
        file_store = back.store
        size, root, checkpoints = log_state(file_store)
        assert (size, root, checkpoints) == log_state(store)
        for table in transfer.TABLES:
            assert table_rows(file_store, table) == table_rows(store, table), table.name
        assert proofs(file_store, size) == proofs(store, size)
        assert back.search("server").incidents
        # the message index of the file is built from the copied rows
        assert len(back.search("second line").messages) == 6
        assert back.check_file() == []
    # the case is unchanged by being written out
    assert log_state(store) == (size, root, checkpoints)


def test_an_export_never_overwrites(server: Engine, tmp_path: Path) -> None:
    made = cases.create_case(server, SERVER_KEY, title="t", created_by=None)
    out = tmp_path / "there.docket"
    out.write_bytes(b"someone else's file")
    with pytest.raises(DiaryExists):
        transfer.export_case(server, SERVER_KEY, made.id, out, NEW_PASSPHRASE)
    assert out.read_bytes() == b"someone else's file"
    with pytest.raises(PassphraseRejected):
        transfer.export_case(server, SERVER_KEY, made.id, tmp_path / "new.docket", "short")
    with pytest.raises(CaseNotFound):
        transfer.export_case(server, SERVER_KEY, 10**12, tmp_path / "new.docket", NEW_PASSPHRASE)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["there.docket"]


def test_a_file_copies_to_a_file(tmp_path: Path) -> None:
    """The copy needs no server: a diary file into a new diary file, the same log."""
    path = make_diary_file(tmp_path / "in", evidence_bytes=MIB + 1)
    with Diary.open(path, PASSPHRASE) as source:
        with source.store.read() as conn:
            meta = transfer.plain_meta(conn)
        target = DiaryFile.create(tmp_path / "copy.docket", NEW_PASSPHRASE, meta)
        try:
            copied = transfer.copy_diary(source.store, target)
        finally:
            target.close()
        with Diary.open(tmp_path / "copy.docket", NEW_PASSPHRASE) as copy:
            report = copy.verify()
            assert report.ok and report.root == copied.root and report.entries == copied.log_size
            assert log_state(copy.store) == log_state(source.store)
            assert meta_of(copy.store) == meta_of(source.store)


# --- memory --------------------------------------------------------------------------------------


class PeakRss:
    """The process's resident memory, sampled every few milliseconds while in use."""

    def __init__(self) -> None:
        gc.collect()
        with contextlib.suppress(OSError, AttributeError):  # give freed memory back first
            ctypes.CDLL("libc.so.6").malloc_trim(0)
        self._proc = psutil.Process()
        self._stop = threading.Event()
        self.base = self._proc.memory_info().rss
        self.peak = self.base
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, self._proc.memory_info().rss)
            time.sleep(0.002)

    def __enter__(self) -> PeakRss:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, self._proc.memory_info().rss)

    @property
    def growth(self) -> int:
        return self.peak - self.base


def test_copying_50_mib_of_evidence_keeps_memory_flat(server: Engine, tmp_path: Path) -> None:
    folder = tmp_path / "big"
    path = make_diary_file(folder, evidence_bytes=10)
    evidence = 0
    with Diary.open(path, PASSPHRASE) as d:
        for i in range(5):
            f = folder / f"video-{i}.bin"
            f.write_bytes(os.urandom(10 * MIB + i))
            d.attach(f, incident_id=1)
            evidence += f.stat().st_size
            f.unlink()
    assert evidence >= 50 * MIB

    with Diary.open(path, PASSPHRASE) as source:
        with source.store.read() as conn:
            meta = transfer.plain_meta(conn)
        store = postgres.CaseStore.create(
            server, "case_mem_" + secrets.token_hex(4), SERVER_KEY, meta
        )
        try:
            with PeakRss() as inward:
                copied = transfer.copy_diary(source.store, store)
            with Diary(store) as d:
                report = d.verify()
                assert report.ok and report.root == copied.root, report.problems
            target = DiaryFile.create(tmp_path / "back.docket", NEW_PASSPHRASE, meta)
            try:
                with PeakRss() as outward:
                    again = transfer.copy_diary(store, target)
            finally:
                target.close()
            assert again == copied
        finally:
            store.drop()
    print(
        f"\nRSS growth copying {evidence / MIB:.0f} MiB of evidence: "
        f"into a case {inward.growth / MIB:.1f} MiB, out to a file {outward.growth / MIB:.1f} MiB"
    )
    # flat: the same whatever the diary's size (about 10 and 20 MiB here, and the same for
    # 150 MiB of evidence), and well under the evidence copied
    assert inward.growth < 24 * MIB
    assert outward.growth < 24 * MIB


# --- the command line ----------------------------------------------------------------------------


@pytest.fixture
def server_env(server: Engine, cli_env: dict[str, str]) -> dict[str, str]:
    """The real ``docket`` command's environment, pointed at the module's server."""
    env = dict(cli_env)
    env["DOCKET_SERVER_DATABASE_URL"] = server.url.render_as_string(hide_password=False)
    env["DOCKET_SERVER_KEY"] = base64.b64encode(SERVER_KEY).decode()
    return env


def said(output: str) -> str:
    """What the command printed, with the terminal's line wrapping undone."""
    return " ".join(output.split())


def audit_actions(engine: Engine, case_id: int) -> list[str]:
    with engine.connect() as conn:
        return list(
            conn.execute(
                text("SELECT action FROM docket.audit WHERE case_id = :c ORDER BY id"),
                {"c": case_id},
            ).scalars()
        )


def username_of(engine: Engine, account_id: int) -> str:
    with engine.connect() as conn:
        return str(
            conn.execute(select(account.c.username).where(account.c.id == account_id)).scalar_one()
        )


def test_cases_from_the_command_line(
    server: Engine, server_env: dict[str, str], tmp_path: Path
) -> None:
    """In-process (the next test runs the real command in a subprocess)."""

    def run_cli(
        args: list[str], env: dict[str, str], *, check: bool = False
    ) -> subprocess.CompletedProcess[str]:
        got = CliRunner().invoke(cli, args, env=env)
        done = subprocess.CompletedProcess(args, got.exit_code, got.stdout, got.stderr)
        if check and got.exit_code != 0:
            raise AssertionError(f"docket {args} failed:\n{got.stdout}\n{got.stderr}")
        return done

    made = json.loads(
        run_cli(
            ["server", "case", "add", "--title", "SR-CLI-1", "--json"], server_env, check=True
        ).stdout
    )
    assert made["title"] == "SR-CLI-1" and made["closed"] is False
    case_id = made["id"]
    worker = username_of(server, add_account(server, "caseworker"))
    victim = username_of(server, add_account(server, "victim"))

    run_cli(["server", "case", "grant", str(case_id), worker.upper()], server_env, check=True)
    run_cli(["server", "case", "grant", str(case_id), victim], server_env, check=True)
    listed = json.loads(
        run_cli(["server", "case", "list", "--json"], server_env, check=True).stdout
    )
    mine = next(c for c in listed if c["id"] == case_id)
    assert sorted(a["username"] for a in mine["access"]) == sorted([worker, victim])

    # a victim's second case is refused, with the reason and what to do
    other = json.loads(
        run_cli(
            ["server", "case", "add", "--title", "other", "--json"], server_env, check=True
        ).stdout
    )
    refused = run_cli(["server", "case", "grant", str(other["id"]), victim], server_env)
    assert refused.returncode == 2
    assert "one case only" in said(refused.stderr)
    assert "error code: server.victim_has_case" in said(refused.stderr)
    unknown = run_cli(["server", "case", "grant", str(case_id), "nobody-here"], server_env)
    assert unknown.returncode == 2 and "no account called 'nobody-here'" in said(unknown.stderr)
    missing = run_cli(["server", "case", "grant", "999999999", worker], server_env)
    assert missing.returncode == 2 and "server.case_not_found" in said(missing.stderr)

    gone = run_cli(["server", "case", "revoke", str(case_id), worker], server_env, check=True)
    assert "can no longer open" in said(gone.stdout)
    again = run_cli(["server", "case", "revoke", str(case_id), worker], server_env, check=True)
    assert "nothing changed" in said(again.stdout)
    run_cli(["server", "case", "close", str(case_id)], server_env, check=True)
    assert cases.get_case(server, case_id).closed
    assert audit_actions(server, case_id) == [
        "case.add",
        "case.grant",
        "case.grant",
        "case.revoke",
        "case.close",
    ]


def test_a_diary_in_and_out_from_the_command_line(
    server: Engine, server_env: dict[str, str], tmp_path: Path
) -> None:
    path = make_diary_file(tmp_path / "in", evidence_bytes=MIB + 3)
    with Diary.open(path, PASSPHRASE) as d:
        size, root, _ = log_state(d.store)
    env = {**server_env, "DOCKET_PASSPHRASE": PASSPHRASE}
    made = json.loads(
        run_cli(
            ["server", "case", "import", str(path), "--title", "from a file", "--json"],
            env,
            check=True,
        ).stdout
    )
    assert made["log_size"] == size and made["root"] == root.hex()

    wrong = run_cli(
        ["server", "case", "import", str(path), "--title", "t"],
        {**server_env, "DOCKET_PASSPHRASE": "not the passphrase"},
    )
    assert wrong.returncode == 2 and "wrong_passphrase" in said(wrong.stderr)

    out = tmp_path / "returned.docket"
    secret = tmp_path / "new-passphrase.txt"
    secret.write_text(NEW_PASSPHRASE + "\n")
    done = run_cli(
        [
            "server",
            "case",
            "export",
            str(made["id"]),
            "--out",
            str(out),
            "--new-passphrase-file",
            str(secret),
        ],
        server_env,
        check=True,
    )
    assert "checked by opening it" in said(done.stdout)
    with Diary.open(out, NEW_PASSPHRASE) as back:
        report = back.verify()
        assert report.ok and report.root == root and report.entries == size
    twice = run_cli(
        [
            "server",
            "case",
            "export",
            str(made["id"]),
            "--out",
            str(out),
            "--new-passphrase-file",
            str(secret),
        ],
        server_env,
    )
    assert twice.returncode == 2 and "will not overwrite" in said(twice.stderr)
    assert audit_actions(server, made["id"]) == ["case.import", "case.export", "case.export"]
