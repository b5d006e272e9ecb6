"""The selective evidence bundle (``docket export``, format docs/bundle-format.md): choosing
which entries, messages and files go out, recording the export in the log, and assembling
the proofs that let ``docket-verify`` check them without the diary.

Selective disclosure is by whole log entry: an entry's bytes are what its leaf hash covers,
so an entry is either disclosed whole or withheld (only the number withheld is said). Entries
holding private notes are withheld unless the person chooses to include them.
"""

from __future__ import annotations

import base64
import hashlib
import itertools
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Connection

import docket_verify
from docket import integrity, log_records
from docket.errors import InputError
from docket.ledger import log, merkle
from docket.model.entry import canonical, encode_entry
from docket.store import blobs
from docket.store.base import PgRaw

FORMAT = "docket-bundle/1"
Chunks = Callable[[], Iterator[bytes]]


@dataclass(frozen=True)
class Selection:
    """Which incidents go out: by number, person, category and period (all that are given
    must hold). With ``messages``, the selected people's calls and messages in the period go
    out too."""

    incidents: tuple[int, ...] = ()
    person: int | None = None
    categories: tuple[str, ...] = ()
    start: date | None = None
    end: date | None = None  # inclusive
    messages: bool = False
    include_private: bool = False  # disclose entries that hold private notes


@dataclass
class Plan:
    """What the bundle will hold, decided before anything is written."""

    incident_ids: list[int]
    entry_seqs: list[int]
    message_ids: list[int]
    batch_seqs: list[int]  # the messages' batch entries, and the entries adding files to them
    files: dict[str, dict[str, Any]]  # sha256 hex -> size, name, media_type
    withheld_private: list[int]  # incidents withheld because they hold private notes
    withheld_entries: int = 0
    withheld_categories: list[str] = field(default_factory=list)


def _utc(day: date, tz: ZoneInfo) -> str:
    return (
        datetime.combine(day, datetime.min.time(), tz)
        .astimezone(UTC)
        .strftime("%Y-%m-%dT%H:%M:%SZ")
    )


def plan(
    conn: Connection, sel: Selection, timezone: str, names: dict[str, str] | None = None
) -> Plan:
    raw = log.raw_connection(conn)
    tz = ZoneInfo(timezone)
    where: list[str] = ["NOT i.redacted"]
    args: list[Any] = []
    if sel.incidents:
        where.append(f"i.id IN ({', '.join('?' * len(sel.incidents))})")
        args += list(sel.incidents)
    if sel.categories:
        where.append(f"i.category IN ({', '.join('?' * len(sel.categories))})")
        args += list(sel.categories)
    if sel.person is not None:
        where.append("i.id IN (SELECT incident_id FROM incident_person WHERE person_id = ?)")
        args.append(sel.person)
    if sel.start:
        where.append("i.occurred_start >= ?")
        args.append(_utc(sel.start, tz))
    if sel.end:
        where.append("i.occurred_start < ?")
        args.append(_utc(sel.end + timedelta(days=1), tz))
    chosen: list[int] = []
    private: list[int] = []
    people: set[int] = set()
    for iid, record in raw.execute(
        "SELECT i.id, e.record FROM incident i JOIN entry e ON e.seq = i.current_seq "
        f"WHERE {' AND '.join(where)} ORDER BY i.occurred_start, i.id",
        args,
    ):
        rec = json.loads(record)
        versions = [
            json.loads(r)
            for (r,) in raw.execute(
                "SELECT record FROM entry WHERE subject = ? AND record IS NOT NULL",
                (f"incident/{iid}",),
            )
        ]
        if not sel.include_private and any(v.get("private_notes") for v in versions):
            private.append(iid)
            continue
        chosen.append(iid)
        people.update(int(p) for p in rec.get("people", ()))
    unknown = set(sel.incidents) - set(chosen) - set(private)
    if unknown:
        raise InputError(
            "These incidents are not in the diary, or were removed: "
            + ", ".join(map(str, sorted(unknown)))
            + ".",
            hint="'docket list' shows the incidents and their numbers.",
        )
    subjects = [f"incident/{i}" for i in chosen]
    files: dict[str, dict[str, Any]] = {}
    for aid, sha, size, media_type, name in raw.execute(
        "SELECT id, sha256, size, media_type, original_name FROM attachment WHERE NOT redacted "
        f"AND incident_id IN ({', '.join('?' * len(chosen)) or 'NULL'})",
        chosen,
    ):
        subjects.append(f"attachment/{aid}")
        files[bytes(sha).hex()] = {"size": size, "name": name, "media_type": media_type}
    subjects += [f"person/{p}" for p in sorted(people)]
    subjects += _witness_subjects(raw, set(chosen))
    entry_seqs = _seqs(raw, subjects)
    message_ids: list[int] = []
    batch_seqs: list[int] = []
    if sel.messages and people:
        message_ids, batch_seqs = _messages(raw, sorted(people), sel, tz, files)
    total = log.size(conn)
    names = names or {}
    withheld_categories = sorted(
        {
            names.get(c, c)
            for (c,) in raw.execute(
                "SELECT DISTINCT category FROM incident WHERE NOT redacted AND id NOT IN "
                f"({', '.join('?' * len(chosen)) or 'NULL'})",
                chosen,
            )
        }
    )
    return Plan(
        incident_ids=chosen,
        entry_seqs=sorted(set(entry_seqs) | set(batch_seqs)),
        message_ids=message_ids,
        batch_seqs=batch_seqs,
        files=files,
        withheld_private=private,
        withheld_entries=total - len(set(entry_seqs) | set(batch_seqs)),
        withheld_categories=withheld_categories + (["private notes"] if private else []),
    )


def _witness_subjects(raw: Any, incidents: set[int]) -> list[str]:
    """The witness accounts about the chosen incidents (kept only in the log)."""
    found: set[str] = set()
    # byte order on PostgreSQL too, whose usual collations pass over the '/' at first
    collate = ' COLLATE "C"' if isinstance(raw, PgRaw) else ""
    for subject, record in raw.execute(
        f"SELECT subject, record FROM entry WHERE subject{collate} >= 'witness/' "
        f"AND subject{collate} < 'witness0' AND record IS NOT NULL"
    ):
        if int(json.loads(record).get("incident", -1)) in incidents:
            found.add(subject)
    return sorted(found, key=lambda s: int(s.partition("/")[2]))


def _seqs(raw: Any, subjects: list[str]) -> list[int]:
    out: list[int] = []
    for s in subjects:
        out += [
            seq
            for (seq,) in raw.execute(
                "SELECT seq FROM entry WHERE subject = ? AND record IS NOT NULL "
                "AND type != 'redaction' ORDER BY seq",
                (s,),
            )
        ]
    return out


def _messages(
    raw: Any,
    people: list[int],
    sel: Selection,
    tz: ZoneInfo,
    files: dict[str, dict[str, Any]],
) -> tuple[list[int], list[int]]:
    ids: list[int] = []
    batches: set[int] = set()
    keys = list(
        raw.execute(
            f"SELECT kind, platform, value FROM identifier WHERE person_id IN "
            f"({', '.join('?' * len(people))}) AND kind != 'vehicle'",
            people,
        )
    )
    clause, args = "", []
    if sel.start:
        clause += " AND sent_at >= ?"
        args.append(_utc(sel.start, tz))
    if sel.end:
        clause += " AND sent_at < ?"
        args.append(_utc(sel.end + timedelta(days=1), tz))
    for key in keys:
        for mid, batch in raw.execute(
            "SELECT id, batch_seq FROM message WHERE sender_kind = ? AND sender_platform = ? "
            f"AND sender_value = ?{clause}",
            (*key, *args),
        ):
            ids.append(mid)
            batches.add(batch)
    ids = sorted(set(ids))
    # files later imports added to these messages: the entries that record them go out too,
    # so the verifier can check each such file against the log
    kept = set()
    for i in range(0, len(ids), 500):
        part = ids[i : i + 500]
        for sha, size in raw.execute(
            "SELECT b.sha256, b.size FROM message_file mf JOIN blob b ON b.sha256 = mf.sha256 "
            f"WHERE NOT b.purged AND mf.message_id IN ({', '.join('?' * len(part))})",
            part,
        ):
            kept.add(bytes(sha).hex())
            files.setdefault(bytes(sha).hex(), {"size": size, "name": "", "media_type": ""})
    for added in log_records.files_added(raw, ids).values():
        for f in added:
            batches.add(f.seq)
            if f.sha256 in kept and not files[f.sha256]["name"]:
                files[f.sha256].update(name=f.name, media_type=f.media_type or "")
    return ids, sorted(batches)


# --- the bundle's members -----------------------------------------------------------------------


def entry_bytes(raw: Any, seq: int) -> bytes:
    row = raw.execute(
        "SELECT seq, type, subject, recorded_at, record, salt, corrects, reason, leaf_hash "
        "FROM entry WHERE seq = ?",
        (seq,),
    ).fetchone()
    data = encode_entry(
        seq=row[0],
        type=row[1],
        subject=row[2],
        recorded_at=row[3],
        record_json=row[4],
        salt=bytes(row[5]),
        corrects=row[6],
        reason=row[7],
    )
    if merkle.leaf_hash(data) != bytes(row[8]):  # never hand over what the log does not hold
        raise InputError(
            f"Entry {seq} does not match its log hash, so it cannot be exported.",
            hint="Run 'docket verify' to see what changed.",
        )
    return data


def tlog_proof(index: int, proof: list[bytes], checkpoint_note: str) -> bytes:
    lines = ["c2sp.org/tlog-proof@v1", f"index {index}"]
    lines += [base64.b64encode(h).decode("ascii") for h in proof]
    return ("\n".join(lines) + "\n\n" + checkpoint_note).encode("utf-8")


def message_members(raw: Any, message_ids: list[int]) -> Iterator[tuple[int, int, bytes, bytes]]:
    """(id, batch seq, record bytes, proof bytes) for each message, batch by batch: the
    record is rebuilt as verify rebuilds it, and checked against the stored leaf."""
    by_batch: dict[int, list[int]] = {}
    for mid in message_ids:
        (batch,) = raw.execute("SELECT batch_seq FROM message WHERE id = ?", (mid,)).fetchone()
        by_batch.setdefault(batch, []).append(mid)
    for batch, mids in sorted(by_batch.items()):
        leaves = [
            (mid, bytes(leaf))
            for mid, leaf in raw.execute(
                "SELECT id, leaf FROM message WHERE batch_seq = ? ORDER BY id", (batch,)
            )
        ]
        order = {mid: k for k, (mid, _) in enumerate(leaves)}
        nodes = merkle.nodes_from_leaves([leaf for _, leaf in leaves])
        for mid in mids:
            record = integrity.message_record_bytes(raw, mid)
            k = order[mid]
            if merkle.leaf_hash(record) != leaves[k][1]:
                raise InputError(
                    f"Imported message {mid} does not match its log hash, so it cannot be "
                    "exported.",
                    hint="Run 'docket verify' to see what changed.",
                )
            proof = merkle.inclusion_proof(k, len(leaves), nodes)
            text = (
                f"docket-message-proof/1\nbatch {batch}\nindex {k}\nsize {len(leaves)}\n"
                + "".join(base64.b64encode(h).decode("ascii") + "\n" for h in proof)
            )
            yield mid, batch, record, text.encode("ascii")


def file_chunks(conn: Connection, sha_hex: str) -> Chunks:
    sha = bytes.fromhex(sha_hex)

    def chunks() -> Iterator[bytes]:
        yield from blobs.iter_blob(conn, sha)

    return chunks


def sha256_of(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def checkpoints_to_include(conn: Connection, newest: int) -> list[tuple[int, str]]:
    """The newest checkpoint and every one a trusted timestamp was obtained for."""
    raw = log.raw_connection(conn)
    sizes = {
        s
        for (s,) in raw.execute(
            "SELECT DISTINCT checkpoint_size FROM timestamp WHERE status = 'granted'"
        )
    }
    sizes.add(newest)
    return [
        (cp.size, cp.note) for cp in log.checkpoints(conn) if cp.size in sizes and cp.size <= newest
    ]


def timestamps(conn: Connection, sizes: set[int]) -> list[tuple[int, int, bytes, str | None]]:
    raw = log.raw_connection(conn)
    out = []
    counter: dict[int, int] = {}
    for size, response, root in raw.execute(
        "SELECT checkpoint_size, response, tsa_root FROM timestamp WHERE status = 'granted' "
        "ORDER BY checkpoint_size, id"
    ):
        if size in sizes and response is not None:
            counter[size] = counter.get(size, 0) + 1
            out.append((size, counter[size], bytes(response), root))
    return out


def withheld_text(p: Plan, total: int) -> str:
    lines = [
        "What this bundle does not include",
        "",
        f"The diary's log holds {total:,} entries. This bundle discloses "
        f"{total - p.withheld_entries:,} of them; {p.withheld_entries:,} are not included.",
        "",
    ]
    if p.withheld_categories:
        lines.append("Entries in these categories were not included (their content is not here):")
        lines += [f"- {c}" for c in p.withheld_categories]
        lines.append("")
    lines.append(
        "Not including something is the person's choice: police may ask for more. The "
        "verifier can show that each included entry is unchanged; it cannot show that nothing "
        "relevant was left out."
    )
    return "\n".join(lines) + "\n"


# --- writing it ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class ExportResult:
    path: str
    sha256: str
    size: int
    export_entry: int
    entries: int
    messages: int
    files: int
    withheld_entries: int
    withheld_private: tuple[int, ...]
    encrypted: bool

    def as_json(self) -> dict[str, Any]:
        return {**self.__dict__, "withheld_private": list(self.withheld_private)}


def texts(p: Plan, log_size: int) -> dict[str, bytes]:
    """The bundle's reading texts; the log will have ``log_size`` entries once the export
    entry is written, so they can be made (and hashed into that entry) beforehand."""
    return {
        "VERIFY.txt": docket_verify.verify_txt().encode("utf-8"),
        "WITHHELD.txt": withheld_text(p, log_size).encode("utf-8"),
        "docket-verify.py": docket_verify.source_bytes(),
    }


def export_record(
    p: Plan,
    recipient: str,
    purpose: str,
    audience: str,
    reports: dict[str, bytes],
    reading: dict[str, bytes],
) -> dict[str, Any]:
    """What the log records about an export (the bundle's ``export_entry``)."""
    return {
        "to": recipient.strip(),
        "purpose": purpose.strip(),
        "audience": audience,
        "entries": p.entry_seqs,
        "messages": p.message_ids,
        "files": sorted(p.files),
        "reports": {name: sha256_of(data) for name, data in sorted(reports.items())},
        "texts": {name: sha256_of(data) for name, data in sorted(reading.items())},
        "withheld": {"entries": p.withheld_entries, "categories": p.withheld_categories},
    }


def write(
    conn: Connection,
    out: Any,
    p: Plan,
    export_seq: int,
    export_at: str,
    reports: dict[str, bytes],
    reading: dict[str, bytes],
    recipient: str,
    purpose: str,
    audience: str,
    passphrase: str | None,
) -> ExportResult:
    """Assemble the bundle (inside one read transaction, so the log cannot move under it)
    and write it to ``out`` atomically."""

    from docket import __version__

    raw = log.raw_connection(conn)
    # the checkpoint signed with the export entry (in its transaction); on a server another
    # caseworker's entries may follow it by now, and the bundle leaves them out
    size = export_seq + 1
    newest = log.checkpoint_at(conn, size)
    assert newest is not None
    verifier = log.verifier(conn)
    cps = checkpoints_to_include(conn, size)
    seqs = sorted({*p.entry_seqs, export_seq})
    members: list[tuple[str, Any]] = []
    entries, proofs = [], []
    for seq in seqs:
        data = entry_bytes(raw, seq)
        doc = json.loads(data)
        entries.append(
            {
                "seq": seq,
                "type": doc["type"],
                "subject": doc["subject"],
                "file": f"entries/{seq}.json",
                "proof": f"proofs/{seq}.tlog-proof",
            }
        )
        proofs.append(
            (seq, data, tlog_proof(seq, log.inclusion_proof(conn, seq, size), newest.note))
        )
    messages, message_files = [], []
    for mid, batch, record, proof in message_members(raw, p.message_ids):
        messages.append(
            {
                "id": mid,
                "batch": batch,
                "file": f"messages/{mid}.json",
                "proof": f"message-proofs/{mid}.proof",
            }
        )
        message_files.append((mid, record, proof))
    consistency = []
    for (a, _), (b, _) in itertools.pairwise(cps):
        hashes = log.consistency_proof(conn, a, b)
        consistency.append((a, b, "".join(base64.b64encode(h).decode() + "\n" for h in hashes)))
    stamps = timestamps(conn, {s for s, _ in cps})
    manifest = {
        "format": FORMAT,
        "created_at": export_at,
        "created_by": f"docket {__version__}",
        "origin": verifier.name,
        "key": verifier.encode(),
        "fingerprint": verifier.fingerprint(),
        "log_size": size,
        "recipient": recipient.strip(),
        "purpose": purpose.strip(),
        "audience": audience,
        "checkpoints": [{"size": s, "file": f"checkpoints/{s}.checkpoint"} for s, _ in cps],
        "consistency": [
            {"from": a, "to": b, "file": f"consistency/{a}-{b}.proof"} for a, b, _ in consistency
        ],
        "timestamps": [
            {
                "checkpoint": s,
                "file": f"timestamps/{s}-{n}.tsr",
                "root": f"timestamps/{s}-{n}.pem" if root else None,
            }
            for s, n, _, root in stamps
        ],
        "entries": entries,
        "messages": messages,
        "files": [
            {
                "sha256": sha,
                "size": info["size"],
                "file": f"files/{sha}",
                "name": info["name"],
                "media_type": info["media_type"],
            }
            for sha, info in sorted(p.files.items())
        ],
        "withheld": {"entries": p.withheld_entries, "categories": p.withheld_categories},
        "export_entry": export_seq,
        "reports": sorted(reports),
    }
    members.append(("manifest.json", canonical(manifest)))
    members.append(("key.vkey", (verifier.encode() + "\n").encode("ascii")))
    members += [(f"checkpoints/{s}.checkpoint", note.encode("utf-8")) for s, note in cps]
    members += [(f"consistency/{a}-{b}.proof", text.encode("ascii")) for a, b, text in consistency]
    for s, n, der, root in stamps:
        members.append((f"timestamps/{s}-{n}.tsr", der))
        if root:
            members.append((f"timestamps/{s}-{n}.pem", root.encode("ascii")))
    members += [(f"entries/{seq}.json", data) for seq, data, _ in proofs]
    members += [(f"proofs/{seq}.tlog-proof", proof) for seq, _, proof in proofs]
    members += [(f"messages/{mid}.json", record) for mid, record, _ in message_files]
    members += [(f"message-proofs/{mid}.proof", proof) for mid, _, proof in message_files]
    members += [(f"files/{sha}", file_chunks(conn, sha)) for sha in sorted(p.files)]
    members += sorted(reports.items())
    members += sorted(reading.items())
    path, digest, length = docket_verify.write_bundle(out, members, passphrase=passphrase)
    return ExportResult(
        path=str(path),
        sha256=digest,
        size=length,
        export_entry=export_seq,
        entries=len(seqs),
        messages=len(messages),
        files=len(p.files),
        withheld_entries=p.withheld_entries,
        withheld_private=tuple(p.withheld_private),
        encrypted=passphrase is not None,
    )
