"""Checks shared by the crash and leak tests."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from sqlalchemy import text

from docket.api import Diary
from docket.model.entry import Entry


def entry_from_row(r: Any) -> Entry:
    """The Entry a stored ``entry`` row (with its record) describes."""
    return Entry(
        r.seq,
        r.type,
        r.subject,
        r.recorded_at,
        json.loads(r.record),
        bytes(r.salt),
        r.corrects,
        r.reason,
    )


def assert_log_consistent(diary: Diary) -> int:
    """Every entry's stored leaf hash matches its stored record; sequence has no gaps."""
    with diary._file.read() as conn:
        rows = conn.execute(text("SELECT * FROM entry ORDER BY seq")).all()
    assert [r.seq for r in rows] == list(range(len(rows)))
    for r in rows:
        if r.record is None:
            continue
        e = entry_from_row(r)
        assert e.leaf_hash() == bytes(r.leaf_hash), f"entry {r.seq} does not hash as stored"
    return len(rows)


def files_containing(roots: list[Path], needle: bytes) -> list[Path]:
    hits = []
    for root in roots:
        for p in root.rglob("*"):
            if p.is_file() and not p.is_symlink():
                try:
                    data = p.read_bytes()
                except OSError:
                    continue
                if needle in data or needle.decode().encode("utf-16-le") in data:
                    hits.append(p)
    return hits
