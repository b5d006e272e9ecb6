"""Read-only views of stored records, as the facade returns them to front ends: a record's
current data plus what the log says about it (versions, when recorded, redactions).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from docket.model.records import AttachmentData, IncidentData, PersonData

RETROSPECTIVE_AFTER = timedelta(hours=24)


@dataclass(frozen=True)
class AttachmentView:
    id: int
    data: AttachmentData | None  # None once redacted
    recorded_at: str
    redacted: bool
    sha256: str
    size: int
    redacted_at: str | None = None

    def as_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "id": self.id,
            "recorded_at": self.recorded_at,
            "sha256": self.sha256,
            "size": self.size,
            "redacted": self.redacted,
        }
        if self.data is not None:
            out.update(self.data.as_record())
        if self.redacted_at:
            out["redacted_at"] = self.redacted_at
        return out


@dataclass(frozen=True)
class IncidentView:
    id: int
    version: int
    recorded_at: str  # when first written (device clock, UTC)
    updated_at: str
    redacted: bool
    data: IncidentData | None  # None once redacted
    occurred_start: str
    attachments: tuple[AttachmentView, ...] = ()
    redacted_at: str | None = None

    @property
    def retrospective(self) -> bool:
        """Written more than a day after it happened (reports mark such entries)."""
        if self.data is None:
            return False
        occ = self.data.occurred
        latest = occ.end or (occ.start + timedelta(days=1) if occ.date_only else occ.start)
        return datetime.fromisoformat(self.recorded_at) - latest > RETROSPECTIVE_AFTER

    def as_json(self, *, include_private: bool = True) -> dict[str, Any]:
        out: dict[str, Any] = {
            "id": self.id,
            "version": self.version,
            "recorded_at": self.recorded_at,
            "recorded_at_clock": "device",
            "updated_at": self.updated_at,
            "redacted": self.redacted,
            "retrospective": self.retrospective,
        }
        if self.data is not None:
            record = self.data.as_record()
            if not include_private:
                record.pop("private_notes", None)
            out.update(record)
        else:
            out["occurred"] = {"start": self.occurred_start}
            out["redacted_at"] = self.redacted_at
        out["attachments"] = [a.as_json() for a in self.attachments]
        return out


@dataclass(frozen=True)
class PersonView:
    id: int
    version: int
    recorded_at: str
    redacted: bool
    data: PersonData | None
    incident_count: int = 0

    def as_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "id": self.id,
            "version": self.version,
            "recorded_at": self.recorded_at,
            "redacted": self.redacted,
            "incident_count": self.incident_count,
        }
        if self.data is not None:
            out.update(self.data.as_record())
        return out


@dataclass(frozen=True)
class VersionView:
    """One entry in a record's history."""

    seq: int
    type: str
    recorded_at: str
    reason: str | None
    record: dict[str, Any] | None  # None once redacted
    redacted_by: int | None
    changed: tuple[str, ...] = ()

    def as_json(self) -> dict[str, Any]:
        return {
            "seq": self.seq,
            "type": self.type,
            "recorded_at": self.recorded_at,
            "recorded_at_clock": "device",
            "reason": self.reason,
            "record": self.record,
            "redacted_by": self.redacted_by,
            "changed": list(self.changed),
        }


@dataclass(frozen=True)
class Summary:
    path: str
    diary_id: str
    jurisdiction: str
    created_at: str
    entries: int
    incidents: int
    people: int
    attachments: int
    evidence_bytes: int
    redactions: int
    first_incident: str | None
    latest_incident: str | None
    days_since_latest: int | None
    by_category: dict[str, int] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        return dict(self.__dict__)
