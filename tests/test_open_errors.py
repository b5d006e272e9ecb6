"""Bad diary files and wrong passphrases: one clear error each, and the file left as it was."""

from __future__ import annotations

import hashlib
import shutil
import sqlite3
from pathlib import Path

import pytest
from sqlalchemy import text

from docket.api import Diary
from docket.errors import (
    DiaryDamaged,
    DiaryExists,
    DiaryNotFound,
    NotADiary,
    PassphraseRejected,
    WrongPassphrase,
)
from docket.model.forms import IncidentInput
from tests.conftest import FRESH_ENTRIES, PASSPHRASE


def digest(p: Path) -> str:
    return hashlib.sha256(p.read_bytes()).hexdigest()


@pytest.fixture
def filled(diary_path: Path) -> Path:
    with Diary.create(diary_path, PASSPHRASE) as d:
        for i in range(200):
            d.add_incident(
                IncidentInput(
                    category="CON",
                    occurred="01/11/2026 10:00",
                    description=f"entry {i} " + "x" * 300,
                )
            )
    return diary_path


def test_wrong_passphrase_is_clear_and_changes_nothing(filled: Path) -> None:
    before = digest(filled)
    with pytest.raises(WrongPassphrase) as info:
        Diary.open(filled, PASSPHRASE + "!")
    e = info.value
    assert "did not unlock" in e.message and e.cause and e.hint and e.exit_code == 2
    assert digest(filled) == before
    assert sorted(p.name for p in filled.parent.iterdir()) == [filled.name]


def test_missing_file_is_not_created(tmp_path: Path) -> None:
    target = tmp_path / "none.docket"
    with pytest.raises(DiaryNotFound) as info:
        Diary.open(target, PASSPHRASE)
    assert "docket init" in (info.value.hint or "")
    assert not target.exists()


def test_empty_file(tmp_path: Path) -> None:
    target = tmp_path / "empty.docket"
    target.touch()
    with pytest.raises(NotADiary):
        Diary.open(target, PASSPHRASE)
    assert target.stat().st_size == 0


def test_plain_sqlite_is_not_a_diary(tmp_path: Path) -> None:
    target = tmp_path / "plain.db"
    sqlite3.connect(target).execute("create table t(x)").connection.commit()
    before = digest(target)
    with pytest.raises(NotADiary) as info:
        Diary.open(target, PASSPHRASE)
    assert "unencrypted" in info.value.message
    assert digest(target) == before


def test_folder_is_not_a_diary(tmp_path: Path) -> None:
    with pytest.raises(NotADiary):
        Diary.open(tmp_path, PASSPHRASE)


@pytest.mark.parametrize("cut", [1000, 4096 * 3 + 17])
def test_truncated_mid_page(filled: Path, cut: int) -> None:
    data = filled.read_bytes()
    filled.write_bytes(data[:cut])
    before = digest(filled)
    with pytest.raises(DiaryDamaged) as info:
        Diary.open(filled, PASSPHRASE)
    assert "incomplete" in info.value.message and info.value.exit_code == 1
    assert digest(filled) == before


def test_truncated_on_page_boundary(filled: Path) -> None:
    data = filled.read_bytes()
    filled.write_bytes(data[: len(data) // 2 // 4096 * 4096])
    before = digest(filled)
    with pytest.raises(DiaryDamaged), Diary.open(filled, PASSPHRASE) as d:
        d.incidents()
        assert d.check_file() == []  # must not be reached
    assert digest(filled) == before


def test_corrupted_byte_in_a_data_page(filled: Path) -> None:
    # a byte in the middle of the incident table's first page, which listing incidents reads
    # (the middle of the file may hold pages it does not, such as the log's tree)
    with Diary.open(filled, PASSPHRASE) as d, d._file.read() as conn:
        root = conn.execute(
            text("SELECT rootpage FROM sqlite_master WHERE name = 'incident'")
        ).scalar_one()
    assert root > 1
    data = bytearray(filled.read_bytes())
    data[(root - 1) * 4096 + 2048] ^= 0x01
    filled.write_bytes(bytes(data))
    before = digest(filled)
    with pytest.raises(DiaryDamaged) as info, Diary.open(filled, PASSPHRASE) as d:
        d.incidents()
        assert d.check_file() == []  # must not be reached
    assert "damaged" in info.value.message
    assert digest(filled) == before


def test_check_file_names_the_damaged_page(filled: Path) -> None:
    """A damaged page that ordinary reads avoid is still found by check_file."""
    data = bytearray(filled.read_bytes())
    data[-100] ^= 0xFF  # inside the last page's HMAC
    filled.write_bytes(bytes(data))
    try:
        d = Diary.open(filled, PASSPHRASE)
    except DiaryDamaged:
        return  # found even earlier: fine
    with d:
        problems = d.check_file()
    assert problems and any("HMAC" in p or "page" in p for p in problems)


def test_corrupted_salt_reads_as_wrong_passphrase(filled: Path) -> None:
    data = bytearray(filled.read_bytes())
    data[3] ^= 0x01
    filled.write_bytes(bytes(data))
    with pytest.raises(WrongPassphrase) as info:
        Diary.open(filled, PASSPHRASE)
    assert "damaged" in (info.value.cause or "")


def test_create_refuses_existing_and_weak(filled: Path, tmp_path: Path) -> None:
    before = digest(filled)
    with pytest.raises(DiaryExists):
        Diary.create(filled, PASSPHRASE)
    assert digest(filled) == before
    with pytest.raises(PassphraseRejected):
        Diary.create(tmp_path / "weak.docket", "short")
    assert not (tmp_path / "weak.docket").exists()


def test_new_diary_is_private_and_one_file(tmp_path: Path) -> None:
    target = tmp_path / "d" / "new.docket"
    Diary.create(target, PASSPHRASE).close()
    assert [p.name for p in target.parent.iterdir()] == ["new.docket"]
    assert target.stat().st_mode & 0o077 == 0
    shutil.copy(target, tmp_path / "copy.docket")
    with Diary.open(tmp_path / "copy.docket", PASSPHRASE) as d:
        assert d.summary().entries == FRESH_ENTRIES
