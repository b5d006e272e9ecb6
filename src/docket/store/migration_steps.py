"""Data steps that schema migrations of both stores (a diary file's and a server case's)
share, each frozen as of the revision that introduced it: a migration must do the same thing
however the application's own code changes later, so these never import it."""

from __future__ import annotations

import json
from typing import Any

import sqlalchemy as sa

_BATCH = 1000


def _compact(value: list[Any]) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def incident_analysis_columns(record: dict[str, Any]) -> dict[str, Any]:
    """Revision 0009 / c0004: what the pattern analysis reads of an incident's record, as the
    incident table's columns (the same values ``records.incident_projection`` writes)."""
    place = record.get("place")
    return {
        "date_only": bool(record["occurred"].get("date_only")),
        "private_place": bool(place and place.get("private")),
        "people": _compact([int(p) for p in record.get("people", ())]),
        "targeted": _compact(list(record.get("targeted", ("me",)))),
    }


def fill_incident_analysis_columns(bind: sa.Connection) -> None:
    """Revision 0009 / c0004: fills those columns for every incident not removed, from its
    current record, a batch at a time (a removed incident keeps the columns' defaults)."""
    select = sa.text(
        "SELECT i.id, e.record FROM incident i JOIN entry e ON e.seq = i.current_seq "
        "WHERE i.id > :after AND e.record IS NOT NULL ORDER BY i.id LIMIT :n"
    )
    update = sa.text(
        "UPDATE incident SET date_only = :date_only, private_place = :private_place, "
        "people = :people, targeted = :targeted WHERE id = :id"
    )
    after = 0
    while rows := bind.execute(select, {"after": after, "n": _BATCH}).fetchall():
        bind.execute(
            update,
            [{"id": iid, **incident_analysis_columns(json.loads(record))} for iid, record in rows],
        )
        after = rows[-1][0]
