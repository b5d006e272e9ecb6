"""Log entries: the canonical bytes (RFC 8785 JSON) that every write appends to the diary's
log, and their RFC 9162 leaf hash, SHA-256(0x00 || entry).

An entry carries a 256-bit random salt so that the hashes of neighbouring entries, shown in a
proof, reveal nothing about entries that were not disclosed.
"""

from __future__ import annotations

import base64
import hashlib
import os
from dataclasses import dataclass
from typing import Any

import rfc8785

ENTRY_VERSION = 1
SALT_BYTES = 32
CLOCK_LABEL = "device"  # recorded_at comes from this device's clock, which nobody vouches for


def canonical(value: Any) -> bytes:
    """RFC 8785 (JCS) canonical JSON."""
    return bytes(rfc8785.dumps(value))


def new_salt() -> bytes:
    return os.urandom(SALT_BYTES)


@dataclass(frozen=True)
class Entry:
    seq: int
    type: str
    subject: str
    recorded_at: str  # RFC 3339, UTC, from the device clock
    record: dict[str, Any] | None
    salt: bytes
    corrects: int | None = None
    reason: str | None = None

    def document(self) -> dict[str, Any]:
        doc: dict[str, Any] = {
            "v": ENTRY_VERSION,
            "seq": self.seq,
            "type": self.type,
            "subject": self.subject,
            "recorded_at": self.recorded_at,
            "clock": CLOCK_LABEL,
            "record": self.record,
            "salt": base64.b64encode(self.salt).decode("ascii"),
        }
        if self.corrects is not None:
            doc["corrects"] = self.corrects
        if self.reason is not None:
            doc["reason"] = self.reason
        return doc

    def encode(self) -> bytes:
        return canonical(self.document())

    def leaf_hash(self) -> bytes:
        return hashlib.sha256(b"\x00" + self.encode()).digest()
