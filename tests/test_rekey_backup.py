from __future__ import annotations

from pathlib import Path

import pytest

from docket.api import Diary
from docket.errors import DiaryExists, PassphraseRejected, WrongPassphrase
from docket.model.forms import IncidentInput
from tests.conftest import PASSPHRASE

NEW = "a different long passphrase"


def fill(d: Diary, tmp_path: Path) -> list[dict[str, object]]:
    for i in range(30):
        d.add_incident(
            IncidentInput(category="CON", occurred="01/11/2026 10:00", description=f"incident {i}")
        )
    f = tmp_path / "photo.jpg"
    f.write_bytes(b"\xff\xd8\xff" + b"p" * 2_500_000)
    d.attach(f, incident_id=1)
    return [v.as_json() for v in d.incidents()]


def test_rekey(diary: Diary, diary_path: Path, tmp_path: Path) -> None:
    before = fill(diary, tmp_path)
    salt_before = diary_path.read_bytes()[:16]
    diary.change_passphrase(NEW)
    # the open diary keeps working after the switch
    diary.add_incident(IncidentInput(category="LOI", occurred="02/11/2026 10:00"))
    diary.close()
    with pytest.raises(WrongPassphrase):
        Diary.open(diary_path, PASSPHRASE)
    with Diary.open(diary_path, NEW) as d:
        after = [v.as_json() for v in d.incidents()]
        assert after[:-1] == before
        assert b"".join(d.iter_attachment(1)) == b"\xff\xd8\xff" + b"p" * 2_500_000
        assert d.check_file() == []
    assert diary_path.read_bytes()[:16] != salt_before  # fresh salt
    assert [p.name for p in diary_path.parent.iterdir()] == [diary_path.name]


def test_rekey_refuses_weak_passphrase(diary: Diary, diary_path: Path) -> None:
    before = diary_path.read_bytes()
    with pytest.raises(PassphraseRejected):
        diary.change_passphrase("tiny")
    assert diary_path.read_bytes() == before


def test_backup_opens_with_same_passphrase(diary: Diary, tmp_path: Path) -> None:
    before = fill(diary, tmp_path)
    target = tmp_path / "backups" / "copy.docket"
    snap = diary.backup(target)
    assert snap.entries == diary.summary().entries
    with Diary.open(target, PASSPHRASE) as b:
        assert [v.as_json() for v in b.incidents()] == before
    assert target.stat().st_mode & 0o077 == 0
    with pytest.raises(DiaryExists):
        diary.backup(target)
    assert sorted(p.name for p in target.parent.iterdir()) == ["copy.docket"]
