"""A diary written at an earlier schema opens, is backed up first, and loses nothing."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from sqlalchemy import text

from docket.api import Diary
from docket.errors import DiaryTooNew
from docket.records import IncidentFilter
from docket.store.diary_file import SCHEMA_HEAD, DiaryFile, head_revision
from tests.fixtures.make_schema_0001 import INCIDENTS, PASSPHRASE, PEOPLE

FIXTURE = Path(__file__).parent / "fixtures" / "diary-schema-0001.docket"


@pytest.fixture
def old(tmp_path: Path) -> Path:
    target = tmp_path / "old.docket"
    shutil.copy(FIXTURE, target)
    return target


def leaves(f: DiaryFile) -> list[bytes]:
    with f.read() as conn:
        return [bytes(r[0]) for r in conn.execute(text("SELECT leaf_hash FROM entry ORDER BY seq"))]


def test_schema_head_constant_matches_migrations() -> None:
    assert head_revision() == SCHEMA_HEAD != "0001"


def test_old_diary_upgrades_with_nothing_lost(old: Path) -> None:
    with Diary.open(old, PASSPHRASE) as d:
        assert d._file.revision() == head_revision()
        incidents = d.incidents()
        assert [i.data.description for i in incidents if i.data] == [
            x["description"] for x in INCIDENTS
        ]
        assert [p.data.name for p in d.people() if p.data] == [p["name"] for p in PEOPLE]
        # the new incident_person table was filled from the old records
        assert [i.id for i in d.incidents(IncidentFilter(person_id=1))] == [1, 2]
        assert d.resolve_person("07700 900001") == 1
        # 0009 filled what the analysis reads of each record
        with d._file.read() as conn:
            columns = conn.execute(
                text("SELECT id, people, targeted, date_only FROM incident ORDER BY id")
            ).all()
        assert [tuple(r) for r in columns] == [
            (1, "[1]", '["me"]', 0),
            (2, "[1]", '["me"]', 0),
            (3, "[]", '["me"]', 0),
        ]
        # the old entries, then the log.key entry added by migration 0003
        assert d.summary().entries == 1 + len(PEOPLE) + len(INCIDENTS) + 1
        upgraded_leaves = leaves(d._file)
        report = d.verify()  # 0003 built the tree, the key entry and a first checkpoint
        assert report.ok, report.problems
        assert report.entries == report.latest_checkpoint == len(upgraded_leaves)
    backups = sorted(old.parent.glob("old.docket.before-upgrade-0001-*"))
    assert len(backups) == 1
    backup = DiaryFile.open.__func__  # type: ignore[attr-defined]
    del backup
    # the backup is the untouched old diary: same passphrase, old schema, same log
    from docket.store import sqlcipher

    material = sqlcipher.unlock(backups[0], PASSPHRASE)
    raw = DiaryFile(backups[0], material)
    try:
        assert raw.revision() == "0001"
        assert leaves(raw) == upgraded_leaves[:-1]  # 0003 appended its log.key entry
    finally:
        raw.close()


def test_second_open_does_not_back_up_again(old: Path) -> None:
    Diary.open(old, PASSPHRASE).close()
    Diary.open(old, PASSPHRASE).close()
    assert len(list(old.parent.glob("old.docket.before-upgrade-*"))) == 1


def test_diary_from_newer_docket_is_refused_untouched(old: Path) -> None:
    Diary.open(old, PASSPHRASE).close()
    from docket.store import sqlcipher

    f = DiaryFile(old, sqlcipher.unlock(old, PASSPHRASE))
    with f.write() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = '9999'"))
    f.close()
    before = old.read_bytes()
    with pytest.raises(DiaryTooNew):
        Diary.open(old, PASSPHRASE)
    assert old.read_bytes() == before
