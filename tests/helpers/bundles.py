"""Real evidence bundles for the tests, built from Docket's own parts: Ed25519 keys and signed
checkpoints (docket.ledger.note), RFC 9162 trees and proofs (docket.ledger.merkle), entry bytes
(docket.model.entry), message records and batch roots (docket.importer), and timestamps from a
real ``openssl ts`` authority (tests/helpers/tsa.py). The verifier under test shares none of
this code, so a bundle that verifies is evidence that the two agree.
"""

from __future__ import annotations

import base64
import copy
import hashlib
import json
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import docket_verify
from docket import importer
from docket.ledger import merkle, timestamp
from docket.ledger.note import Checkpoint, Signer
from docket.model.entry import Entry, canonical
from tests.helpers.tsa import Authority

Stamp = Callable[[bytes], bytes]

RECORDED_AT = "2026-11-{day:02d}T{hour:02d}:15:00Z"


def stamper(authority: Authority, path: str = "/good") -> Stamp:
    """Ask the local authority for a token over ``message``, as ``docket checkpoint`` does."""

    def stamp(message: bytes) -> bytes:
        req = timestamp.prepare(message)
        return timestamp.send(f"{authority.url}{path}", req.der)

    return stamp


@dataclass
class Log:
    """An in-memory diary log: entry bytes by sequence number, signed by ``signer``."""

    signer: Signer
    entries: list[bytes] = field(default_factory=list)
    recorded_at: list[str] = field(default_factory=list)

    @classmethod
    def new(cls) -> Log:
        return cls(Signer.generate("docket.invalid/" + secrets.token_hex(16)))

    @property
    def origin(self) -> str:
        return self.signer.name

    def append(self, type: str, subject: str, record: dict[str, Any] | None) -> int:
        seq = len(self.entries)
        when = RECORDED_AT.format(day=1 + seq % 28, hour=seq % 24)
        entry = Entry(seq, type, subject, when, record, secrets.token_bytes(32))
        self.entries.append(entry.encode())
        self.recorded_at.append(when)
        return seq

    def leaves(self) -> list[bytes]:
        return [merkle.leaf_hash(e) for e in self.entries]

    def root(self, size: int) -> bytes:
        return merkle.root_from_leaves(self.leaves()[:size])

    def checkpoint(self, size: int, signer: Signer | None = None) -> bytes:
        s = signer or self.signer
        return s.sign(Checkpoint(self.origin, size, self.root(size)).text()).encode()

    def inclusion(self, seq: int, size: int) -> list[bytes]:
        return merkle.inclusion_proof(seq, size, merkle.nodes_from_leaves(self.leaves()))

    def consistency(self, a: int, b: int) -> list[bytes]:
        return merkle.consistency_proof(a, b, merkle.nodes_from_leaves(self.leaves()))


def b64lines(hashes: list[bytes]) -> bytes:
    return b"".join(base64.b64encode(h) + b"\n" for h in hashes)


def tlog_proof(log: Log, seq: int, size: int, checkpoint: bytes) -> bytes:
    head = f"c2sp.org/tlog-proof@v1\nindex {seq}\n".encode()
    return head + b64lines(log.inclusion(seq, size)) + b"\n" + checkpoint


def message_bytes(message_id: int, source: int, body: str, files: list[dict[str, Any]]) -> bytes:
    fields = dict.fromkeys(importer.RECORD_FIELDS)
    fields.update(
        kind="message",
        channel="sms",
        local_time="2026-10-30 21:14",
        body=body,
        deleted=False,
    )
    record = importer.message_record(
        message_id=message_id,
        source_id=source,
        direction="incoming",
        sender={"kind": "phone", "raw": "+44 7700 900123", "value": "+447700900123"},
        recipients=[],
        sent_at="2026-10-30T21:14:00Z",
        files=files,
        raw={},
        fields=fields,
    )
    return importer.canonical_json(record).encode()


@dataclass
class Batch:
    seq: int
    first: int
    records: list[bytes]

    def proof(self, message_id: int) -> bytes:
        index = message_id - self.first
        leaves = [merkle.leaf_hash(r) for r in self.records]
        path = merkle.inclusion_proof(index, len(leaves), merkle.nodes_from_leaves(leaves))
        head = f"docket-message-proof/1\nbatch {self.seq}\nindex {index}\nsize {len(leaves)}\n"
        return head.encode() + b64lines(path)


@dataclass
class Built:
    """A bundle's members (name -> bytes), its manifest and the log it was cut from."""

    members: dict[str, bytes]
    manifest: dict[str, Any]
    log: Log
    batches: dict[int, Batch]
    vkey: str

    def write(self, path: Path, members: dict[str, bytes] | None = None) -> Path:
        docket_verify.write_bundle(path, list((members or self.members).items()))
        return path

    def changed(self, **members: bytes) -> dict[str, bytes]:
        out = dict(self.members)
        out.update(members)
        return out

    def with_manifest(self, change: Callable[[dict[str, Any]], None]) -> dict[str, bytes]:
        manifest = copy.deepcopy(self.manifest)
        change(manifest)
        return self.changed(**{"manifest.json": canonical(manifest)})


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def build(
    *,
    stamp: Stamp | None = None,
    small: bool = False,
    noise: int = 6,
    verifier_source: bytes | None = None,
    verify_text: bytes | None = None,
    timestamp_newest: bool = False,
) -> Built:
    """A bundle with two checkpoints (the older one timestamped when ``stamp`` is given),
    disclosed incidents, an attachment, messages from two import batches, withheld entries,
    and the export entry that binds it all. ``small`` keeps the reading members tiny (for the
    flip-every-byte test)."""
    log = Log.new()
    vkey = log.signer.verifier().encode()
    log.append("log.key", "log", {"origin": log.origin, "vkey": vkey})
    log.append("diary.created", "diary", {"name": "diary"})
    photo = b"\x89PNG\r\n\x1a\n a photo of the car outside" * (1 if small else 40)
    incident = log.append(
        "incident.created",
        "incident/1",
        {
            "id": 1,
            "category": "CON",
            "occurred": "2026-10-30T21:00:00Z",
            "summary": "He waited outside",
        },
    )
    attach = log.append(
        "attachment.added",
        "attachment/1",
        {"id": 1, "sha256": sha(photo), "size": len(photo), "media_type": "image/png",
         "name": "IMG_2231.png", "incident": 1},
    )  # fmt: skip
    for i in range(noise):
        log.append("note.created", f"note/{i + 1}", {"id": i + 1, "text": f"private note {i}"})
    voice = b"OggS a voicemail" * (1 if small else 30)
    batches: dict[int, Batch] = {}
    next_id = 1
    for source, bodies in ((1, ["You can't hide", "Answer me", "I saw you"]), (2, ["Call me"])):
        records = []
        for j, body in enumerate(bodies):
            files = []
            if source == 1 and j == 1:
                files = [{"name": "voice.ogg", "media_type": "audio/ogg", "note": "",
                          "sha256": sha(voice), "size": len(voice),
                          "declared_type": "audio/ogg"}]  # fmt: skip
            records.append(message_bytes(next_id + j, source, body, files))
        seq = log.append(
            "messages.imported",
            f"source/{source}",
            {"source": source, "first": next_id, "last": next_id + len(bodies) - 1,
             "count": len(bodies),
             "root": importer._merkle_root([merkle.leaf_hash(r) for r in records]).hex()},
        )  # fmt: skip
        batches[seq] = Batch(seq, next_id, records)
        next_id += len(bodies)
    older = len(log.entries)  # the older checkpoint covers everything so far
    later = log.append("incident.updated", "incident/1", {"id": 1, "summary": "He waited again"})
    log.append("note.created", "note/99", {"id": 99, "text": "another private note"})
    [b1, b2] = sorted(batches)
    messages = [(1, b1), (2, b1), (4, b2)]
    entries = [incident, attach, b1, b2, later]
    files = {
        sha(photo): (photo, "IMG_2231.png", "image/png"),
        sha(voice): (voice, "voice.ogg", "audio/ogg"),
    }
    reports = {
        "report.pdf": b"%PDF-1.7 a report\n",
        "report.html": b"<!doctype html><p>report</p>\n",
    }
    texts = {
        "VERIFY.txt": verify_text
        if verify_text is not None
        else (b"check it\n" if small else docket_verify.verify_txt().encode()),
        "WITHHELD.txt": b"2 categories withheld: private notes; THR.\n",
        "docket-verify.py": verifier_source
        if verifier_source is not None
        else (b"# verifier\n" if small else Path(docket_verify.__file__).read_bytes()),
    }
    withheld = {"entries": older + 2 - len(entries), "categories": ["private notes", "THR"]}
    export_seq = log.append(
        "export.made",
        "export/1",
        {"id": 1, "to": "Kent Police, PC 1234 Smith", "purpose": "Crime reference KP/12345/26",
         "audience": "police", "entries": entries, "messages": [m for m, _ in messages],
         "files": sorted(files), "reports": {n: sha(b) for n, b in reports.items()},
         "texts": {n: sha(b) for n, b in texts.items()}, "withheld": withheld},
    )  # fmt: skip
    entries.append(export_seq)
    size = len(log.entries)
    sizes = [older, size]
    cps = {s: log.checkpoint(s) for s in sizes}
    members: dict[str, bytes] = {"key.vkey": vkey.encode() + b"\n"}
    for s in sizes:
        members[f"checkpoints/{s}.checkpoint"] = cps[s]
    members[f"consistency/{older}-{size}.proof"] = b64lines(log.consistency(older, size))
    stamped = []
    if stamp is not None:
        for s in [older, size] if timestamp_newest else [older]:
            members[f"timestamps/{s}-1.tsr"] = stamp(cps[s])
            stamped.append({"checkpoint": s, "file": f"timestamps/{s}-1.tsr"})
    manifest_entries = []
    for seq in entries:
        doc = canonical_entry(log.entries[seq])
        members[f"entries/{seq}.json"] = log.entries[seq]
        members[f"proofs/{seq}.tlog-proof"] = tlog_proof(log, seq, size, cps[size])
        manifest_entries.append(
            {"seq": seq, "type": doc["type"], "subject": doc["subject"],
             "file": f"entries/{seq}.json", "proof": f"proofs/{seq}.tlog-proof"}
        )  # fmt: skip
    for mid, bseq in messages:
        batch = batches[bseq]
        members[f"messages/{mid}.json"] = batch.records[mid - batch.first]
        members[f"message-proofs/{mid}.proof"] = batch.proof(mid)
    for digest, (data, _, _) in files.items():
        members[f"files/{digest}"] = data
    members.update(reports)
    members.update(texts)
    manifest = {
        "format": "docket-bundle/1",
        "created_at": log.recorded_at[export_seq],
        "created_by": "docket 0.1.0",
        "origin": log.origin,
        "key": vkey,
        "fingerprint": log.signer.verifier().fingerprint(),
        "log_size": size,
        "recipient": "Kent Police, PC 1234 Smith",
        "purpose": "Crime reference KP/12345/26",
        "audience": "police",
        "checkpoints": [{"size": s, "file": f"checkpoints/{s}.checkpoint"} for s in sizes],
        "consistency": [{"from": older, "to": size, "file": f"consistency/{older}-{size}.proof"}],
        "timestamps": stamped,
        "entries": manifest_entries,
        "messages": [
            {
                "id": mid,
                "batch": b,
                "file": f"messages/{mid}.json",
                "proof": f"message-proofs/{mid}.proof",
            }
            for mid, b in messages
        ],
        "files": [
            {"sha256": d, "size": len(data), "file": f"files/{d}", "name": name, "media_type": mt}
            for d, (data, name, mt) in sorted(files.items())
        ],
        "withheld": withheld,
        "export_entry": export_seq,
        "reports": ["report.pdf", "report.html"],
    }
    members["manifest.json"] = canonical(manifest)
    return Built(members, manifest, log, batches, vkey)


def canonical_entry(data: bytes) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads(data)
    return doc
