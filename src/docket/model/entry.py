"""Log entries: the canonical bytes (RFC 8785 JSON) that every write appends to the diary's
log, and their RFC 9162 leaf hash, SHA-256(0x00 || entry).

An entry carries a 256-bit random salt so that the hashes of neighbouring entries, shown in a
proof, reveal nothing about entries that were not disclosed.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
from dataclasses import dataclass
from typing import Any

import rfc8785

ENTRY_VERSION = 1
SALT_BYTES = 32
CLOCK_LABEL = "device"  # recorded_at comes from this device's clock, which nobody vouches for
assert CLOCK_LABEL == "device"  # encode_entry writes it literally


def canonical(value: Any) -> bytes:
    """RFC 8785 (JCS) canonical JSON."""
    return bytes(rfc8785.dumps(value))


def new_salt() -> bytes:
    return os.urandom(SALT_BYTES)


def jcs_string(value: str) -> str:
    """A JSON string as RFC 8785 writes it: only quote, backslash and controls escaped."""
    if value.isascii() and value.isprintable() and '"' not in value and "\\" not in value:
        return f'"{value}"'  # nothing to escape: the common case, and the fast one
    return json.dumps(value, ensure_ascii=False)


def encode_entry(
    *,
    seq: int,
    type: str,
    subject: str,
    recorded_at: str,
    record_json: str | None,
    salt: bytes,
    corrects: int | None,
    reason: str | None,
) -> bytes:
    """The canonical entry bytes, assembled from stored columns without parsing the record.

    Keys appear in RFC 8785 order (clock, corrects, reason, record, recorded_at, salt, seq,
    subject, type, v); ``record_json`` must already be canonical, as Docket stores it.
    """
    head = '{"clock":"device"'
    if corrects is not None:
        head += f',"corrects":{int(corrects)}'
    if reason is not None:
        head += f',"reason":{jcs_string(reason)}'
    return (
        f'{head},"record":{"null" if record_json is None else record_json}'
        f',"recorded_at":{jcs_string(recorded_at)}'
        f',"salt":"{base64.b64encode(salt).decode("ascii")}","seq":{int(seq)}'
        f',"subject":{jcs_string(subject)},"type":{jcs_string(type)},"v":{ENTRY_VERSION}}}'
    ).encode()


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
        return encode_entry(
            seq=self.seq,
            type=self.type,
            subject=self.subject,
            recorded_at=self.recorded_at,
            record_json=None if self.record is None else canonical(self.record).decode("utf-8"),
            salt=self.salt,
            corrects=self.corrects,
            reason=self.reason,
        )

    def leaf_hash(self) -> bytes:
        return hashlib.sha256(b"\x00" + self.encode()).digest()
