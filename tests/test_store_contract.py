"""The store contract: the same facade calls give the same results on both stores — the
encrypted diary file (SQLite/SQLCipher) and a case on a server (PostgreSQL, a real server on
127.0.0.1 started for the tests)."""

from __future__ import annotations

import secrets

import pytest
from sqlalchemy import Engine

from docket.api import Diary
from docket.model import forms
from docket.store import postgres
from tests.conftest import SERVER_KEY


def test_new_diary_verifies(any_diary: Diary) -> None:
    result = any_diary.verify()
    assert result.ok, result


def test_add_incident_and_read_back(any_diary: Diary) -> None:
    view = any_diary.add_incident(
        forms.IncidentInput(
            occurred="2026-03-01 14:00", category="LOI", description="He was waiting outside work."
        )
    )
    assert view.id == 1
    again = any_diary.incident(view.id)
    assert again.data.description == "He was waiting outside work."
    assert any_diary.verify().ok


def test_signing_key_is_sealed_on_the_server(pg_engine: Engine) -> None:
    schema = "case_" + secrets.token_hex(6)
    d = Diary.create_in(lambda meta: postgres.CaseStore.create(pg_engine, schema, SERVER_KEY, meta))
    d.close()
    with pg_engine.connect() as conn:
        value = conn.exec_driver_sql(
            f"SELECT value FROM {schema}.meta WHERE key = 'log_key'"
        ).scalar()
    assert value is not None and value.startswith(postgres.SEALED_PREFIX)
    with pytest.raises(Exception, match="cannot be opened"):
        postgres.ServerKey(secrets.token_bytes(32), schema).open("log_key", value)
    # bound to its case: the same sealed value does not open as another case's key
    with pytest.raises(Exception, match="cannot be opened"):
        postgres.ServerKey(SERVER_KEY, "case_other").open("log_key", value)
    assert len(postgres.ServerKey(SERVER_KEY, schema).open("log_key", value)) == 32
