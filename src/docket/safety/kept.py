"""The tech-safety records the diary keeps: the indicator files a phone check compares
against (their exact bytes inside the diary, their hashes in the log) and each phone check
(the app list the person gave, kept as evidence, and what was found), as log records
"indicators/1" and "phone_check/N". Callers own the transaction.

Keeping the indicator files inside the diary means a check can be repeated, and shown later,
against exactly the list it used, without the network and without a file left on the disk.
"""

from __future__ import annotations

import hashlib
import io
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, BinaryIO, cast

from sqlalchemy import Connection

from docket import log_records, records
from docket.errors import IndicatorFileError, Location, NoIndicators
from docket.model import media
from docket.safety import android, indicators
from docket.store import blobs

INDICATORS_ID = 1  # one current set of indicator files: "indicators/1", new versions on update
VIA: tuple[str, ...] = ("file", "adb", "web")

_PHONE_CHECK = {
    "what": "phone check",
    "hint": "'docket safety checks' lists the phone checks kept in the diary.",
}


@dataclass(frozen=True)
class IndicatorsInfo:
    """Which indicator files the diary holds: names, hashes, sizes, where they came from,
    and what they hold."""

    version: int
    updated_at: str
    source: str  # "file" or "download"
    url: str | None
    files: tuple[dict[str, Any], ...]  # {"name", "sha256", "size"}
    fingerprint: str
    counts: dict[str, int]

    def as_json(self) -> dict[str, Any]:
        return {
            "version": self.version,
            "updated_at": self.updated_at,
            "source": self.source,
            "url": self.url,
            "files": [dict(f) for f in self.files],
            "fingerprint": self.fingerprint,
            "counts": dict(self.counts),
        }


@dataclass(frozen=True)
class PhoneCheckView:
    """One phone check as the diary keeps it. ``results`` are the per-file results in the
    shape of :meth:`docket.safety.android.CheckResult.as_dict`, each with the evidence file
    (``attachment``) that holds the exact input."""

    id: int
    recorded_at: str
    via: str
    results: tuple[dict[str, Any], ...]
    removed: bool = False

    @property
    def found(self) -> bool:
        return any(r.get("found") for r in self.results)

    @property
    def apps_found(self) -> tuple[str, ...]:
        names = {m["app"] for r in self.results for m in r.get("matches", [])}
        return tuple(sorted(names, key=str.casefold))

    @property
    def packages_checked(self) -> int:
        return sum(int(r.get("packages_checked", 0)) for r in self.results)

    @property
    def certificates_checked(self) -> int:
        return sum(int(r.get("certificates_checked", 0)) for r in self.results)

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "recorded_at": self.recorded_at,
            "via": self.via,
            "found": self.found,
            "apps_found": list(self.apps_found),
            "results": [dict(r) for r in self.results],
        }


# --- indicator files ------------------------------------------------------------------------


def save_indicators(
    conn: Connection, files: Sequence[tuple[str, bytes]], *, source: str, url: str | None = None
) -> IndicatorsInfo:
    """Check the files parse as indicators, then keep their bytes and a new version of
    "indicators/1" that names them. Nothing is kept if any file is unreadable."""
    parsed = indicators.from_files(list(files))  # raises before anything is written
    stored: list[dict[str, Any]] = []
    for (name, data), src in zip(files, parsed.sources, strict=True):
        blob = blobs.put_chunks(conn, [data])
        stored.append({"name": _base_name(name), "sha256": blob.sha256.hex(), "size": blob.size})
        assert blob.sha256.hex() == src.sha256
    record = {
        "source": source,
        "url": url,
        "files": stored,
        "fingerprint": parsed.fingerprint,
        "counts": parsed.counts(),
    }
    log_records.write(
        conn,
        "indicators",
        INDICATORS_ID,
        record,
        reason="Indicator files replaced" if source == "file" else "Indicator files updated",
        created_type="loaded",
        edited_type="loaded",
    )
    info = indicators_info(conn)
    assert info is not None
    return info


def _base_name(name: str) -> str:
    return name.replace("\\", "/").rsplit("/", 1)[-1] or "indicators.yaml"


def indicators_info(conn: Connection) -> IndicatorsInfo | None:
    rec = log_records.current(conn, "indicators", INDICATORS_ID)
    if rec is None or rec.record is None:
        return None
    r = rec.record
    return IndicatorsInfo(
        version=rec.version,
        updated_at=rec.updated_at,
        source=str(r.get("source", "file")),
        url=r.get("url"),
        files=tuple(dict(f) for f in r.get("files", [])),
        fingerprint=str(r.get("fingerprint", "")),
        counts={str(k): int(v) for k, v in dict(r.get("counts", {})).items()},
    )


def load_indicators(conn: Connection) -> indicators.IndicatorSet:
    """The indicator set the diary holds, read from its kept bytes, each file's hash checked
    against the log first. Raises NoIndicators when none were loaded."""
    return indicators.from_files(indicator_files(conn))


def indicator_files(conn: Connection) -> list[tuple[str, bytes]]:
    """The indicator files the diary holds, as (name, exact bytes), each checked against the
    hash in the log. Raises NoIndicators when none were loaded."""
    info = indicators_info(conn)
    if info is None:
        raise NoIndicators(
            "The diary does not hold the list of known stalkerware apps yet.",
            cause="A phone check compares the phone's apps with that list, which Docket does "
            "not download unless you ask it to.",
            hint="Load Echap's ioc.yaml and watchware.yaml with 'docket safety indicators load "
            "FILE...', or fetch them with 'docket safety indicators update'.",
        )
    files: list[tuple[str, bytes]] = []
    for f in info.files:
        data = b"".join(blobs.iter_blob(conn, bytes.fromhex(f["sha256"])))
        if hashlib.sha256(data).hexdigest() != f["sha256"]:
            raise IndicatorFileError(
                f"The copy of {f['name']} kept in the diary does not match its record.",
                cause="The diary file may have been changed outside Docket.",
                hint="Run 'docket verify', then load the indicator files again.",
                location=Location(file=f["name"]),
            )
        files.append((f["name"], data))
    return files


# --- phone checks -----------------------------------------------------------------------------


def check_phone(
    conn: Connection, inputs: Sequence[tuple[str, BinaryIO]], *, via: str
) -> tuple[PhoneCheckView, tuple[android.CheckResult, ...]]:
    """Keep each input as an evidence file, read it back from the diary, compare it with the
    indicator files the diary holds, and record the check. One unreadable input and nothing
    is kept (the caller's transaction rolls back)."""
    if via not in VIA:
        raise ValueError(f"unknown way of getting the app list: {via!r}")
    found_set = load_indicators(conn)
    results: list[android.CheckResult] = []
    kept: list[dict[str, Any]] = []
    for name, stream in inputs:
        media_type, whole = media.sniff_stream(stream)
        attachment_id = records.add_attachment(
            conn,
            whole,
            name=_base_name(name),
            media_type=media_type,
            incident_id=None,
            obtained="App list from a phone, given for a stalkerware indicator check"
            + (" (read from the phone with adb)" if via == "adb" else ""),
        )
        sha = bytes.fromhex(records.get_attachment(conn, attachment_id).sha256)
        reader = io.BufferedReader(blobs.BlobReader(conn, sha))
        inventory = android.read_inventory_bytes(cast(BinaryIO, reader), _base_name(name))
        result = android.check(inventory, found_set)
        results.append(result)
        kept.append({**result.as_dict(), "attachment": attachment_id, "name": _base_name(name)})
    check_id = log_records.next_id(conn, "phone_check")
    log_records.write(
        conn,
        "phone_check",
        check_id,
        {"via": via, "results": kept},
        created_type="checked",
    )
    view = phone_check(conn, check_id)
    return view, tuple(results)


def _view(rec: log_records.LogRecord) -> PhoneCheckView:
    r = rec.record or {}
    return PhoneCheckView(
        id=rec.id,
        recorded_at=rec.recorded_at,
        via=str(r.get("via", "file")),
        results=tuple(dict(x) for x in r.get("results", [])),
        removed=rec.record is None,
    )


def phone_check(conn: Connection, check_id: int) -> PhoneCheckView:
    return _view(log_records.get(conn, "phone_check", check_id, **_PHONE_CHECK))


def phone_checks(conn: Connection) -> list[PhoneCheckView]:
    """Every phone check kept (those removed left out), oldest first."""
    return [_view(r) for r in log_records.all_current(conn, "phone_check")]
