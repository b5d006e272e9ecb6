"""The store contract: the same facade calls give the same results on both stores — the
encrypted diary file (SQLite/SQLCipher) and a case on a server (PostgreSQL, a real server on
127.0.0.1 started for the tests).

Most tests take ``any_diary`` and so run once on each store with the same assertions; one
builds the same diary on both and compares everything the facade shows. Tampering is done
with plain SQL behind Docket's back (on PostgreSQL through the server's own engine, on the
case's schema), and ``verify`` must name the entry each change affects, alike on both."""

from __future__ import annotations

import hashlib
import io
import json
import secrets
import threading
import zipfile
from collections.abc import Callable, Iterator
from datetime import date
from pathlib import Path
from typing import Any, BinaryIO, cast

import pytest
from sqlalchemy import Connection, Engine, text

import docket_verify
from docket import bundle, integrity
from docket.api import Diary
from docket.bundle import Selection
from docket.checklist import Answer, ChecklistData
from docket.errors import (
    InputError,
    NothingToChange,
    PhoneListUnreadable,
    RecordNotFound,
    RecordRedacted,
)
from docket.ledger import log, merkle
from docket.ledger.note import open_checkpoint
from docket.model import forms
from docket.model.identifiers import Identifier
from docket.model.records import OrderData, PersonData, WitnessAccountData
from docket.records import IncidentFilter
from docket.store import postgres
from tests.conftest import FRESH_ENTRIES, PASSPHRASE, SERVER_KEY
from tests.test_safety_diary import IOC, PM_FOUND, PM_NONE

MIB = 1024 * 1024

# --- helpers ------------------------------------------------------------------------------------


def is_case(d: Diary) -> bool:
    return isinstance(d.store, postgres.CaseStore)


def scalar(d: Diary, sql: str) -> Any:
    """One value read with plain SQL in the store's own read transaction."""
    with d.store.read() as conn:
        return conn.exec_driver_sql(sql).scalar()


def rows(d: Diary) -> dict[str, int]:
    """How many rows each table the contract touches holds."""
    tables: tuple[str, ...] = (
        "entry",
        "checkpoint",
        "tree_tile",
        "chunk",
        "blob",
        "blob_chunk",
        "attachment",
    )
    tables += ("incident", "incident_person", "person", "identifier", "meta")
    return {t: int(scalar(d, f"SELECT count(*) FROM {t}")) for t in tables}


Change = Callable[[Connection, str], object]  # (connection, the prefix of table names)


def tamper(d: Diary, request: pytest.FixtureRequest, change: Change) -> None:
    """Change the stored diary behind Docket's back with plain SQL: a case through the
    server's engine on its schema, a diary file from inside (with its key)."""
    store = d.store
    if isinstance(store, postgres.CaseStore):
        engine: Engine = request.getfixturevalue("pg_engine")
        with engine.begin() as conn:
            change(conn, f'"{store.schema}".')
    else:
        with store.write() as conn:
            change(conn, "")


def problems(d: Diary) -> set[tuple[str, int | None, str | None]]:
    report = d.verify()
    assert not report.ok
    return {(p.code, p.seq, p.subject) for p in report.problems}


def incident_form(day: int, category: str, text_: str, people: list[int]) -> forms.IncidentInput:
    return forms.IncidentInput(
        occurred=f"2026-03-{day:02d} 19:00",
        category=category,
        description=text_,
        people=people,
        channel="in_person",
    )


def witness(incident: int, **kw: Any) -> WitnessAccountData:
    base: dict[str, Any] = {
        "incident": incident,
        "name": "Priya (reception)",
        "saw": "a man in a grey coat waited by the doors",
        "relationship": "receptionist at my work",
        "seen_on": date(2026, 3, 1),
        "written_on": date(2026, 3, 2),
    }
    base.update(kw)
    return WitnessAccountData(**base)


def photo_bytes() -> bytes:
    """2.5 MiB that look like a JPEG: three chunks, the last one short."""
    return b"\xff\xd8\xff\xe0" + hashlib.sha256(b"photo").digest() * (5 * MIB // 64 - 1) + b"end"


def populate(d: Diary, tmp: Path) -> dict[str, int]:
    """The same diary, step by step, on whichever store: people, incidents (one edited, one
    removed), evidence, an order, a witness account and checklist answers."""
    alex = d.add_person(
        PersonData(
            "Alex Example",
            "responsible",
            "ex_partner",
            identifiers=d.parse_identifiers(
                ["07700 900123"], ["alex@example.com"], [], ["AB12CDE"]
            ),
        )
    ).id
    bob = d.add_person(PersonData("Bob", "responsible", "stranger")).id
    i1 = d.add_incident(incident_form(1, "LOI", "He waited outside my work.", [alex])).id
    i2 = d.add_incident(incident_form(3, "CON", "Forty missed calls.", [alex])).id
    i3 = d.add_incident(incident_form(5, "GIF", "A parcel was left.", [bob])).id
    i4 = d.add_incident(incident_form(7, "CON", "He messaged my sister.", [alex])).id
    d.edit_incident(i2, forms.IncidentInput(description="Forty-two missed calls."), "counted again")
    photo = tmp / "gate.jpg"
    photo.write_bytes(photo_bytes())
    a1 = d.attach(photo, incident_id=i1, obtained="photo on my phone").id
    d.edit_person(bob, lambda p: PersonData(p.name, p.role, "neighbour"), "he lives next door")
    d.add_order(
        OrderData("restraining_order", date(2026, 2, 1), against=(alex,), terms="No contact")
    )
    w = d.add_witness_account(witness(i1)).id
    d.save_checklist(ChecklistData.build({"fear": Answer("very"), "threats": Answer("yes")}))
    d.redact("incident", i3, "entered by mistake")
    return {"alex": alex, "bob": bob, "i1": i1, "i2": i2, "i3": i3, "i4": i4, "a1": a1, "w": w}


VARYING = {"recorded_at", "updated_at", "redacted_at", "removed_on", "created_at", "root"}
VARYING |= {
    "origin",
    "vkey",
    "fingerprint",
    "path",
    "diary_id",
    "days_since_latest",
    "leaf",
    "salt",
}


def steady(value: Any) -> Any:
    """``value`` without what differs between two diaries built the same way (clock times,
    keys, ids and the roots that cover them)."""
    if isinstance(value, dict):
        return {k: steady(v) for k, v in value.items() if k not in VARYING}
    if isinstance(value, list | tuple):
        return [steady(v) for v in value]
    return value


def observe(d: Diary, ids: dict[str, int]) -> dict[str, Any]:
    """Everything the facade shows about a populated diary."""
    shown: dict[str, Any] = steady(
        {
            "summary": d.summary().as_json(),
            "incidents": [v.as_json() for v in d.incidents(IncidentFilter(include_redacted=True))],
            "people": [p.as_json() for p in d.people()],
            "attachments": [a.as_json() for a in d.attachments()],
            "histories": {
                f"{kind}/{rid}": [v.as_json() for v in d.history(kind, rid)]
                for kind, rid in [
                    ("incident", ids["i2"]),
                    ("incident", ids["i3"]),
                    ("person", ids["bob"]),
                    ("witness", ids["w"]),
                    ("checklist", 1),
                    ("order", 1),
                ]
            },
            "orders": [o.as_json() for o in d.orders()],
            "witnesses": [w.as_json() for w in d.witness_accounts()],
            "checklist": d.checklist().data.as_record(),
            "file": hashlib.sha256(b"".join(d.iter_attachment(ids["a1"]))).hexdigest(),
            "verify": d.verify().as_json(),
            "rows": rows(d),
        }
    )
    return shown


# --- a new diary ------------------------------------------------------------------------------


def test_new_diary_verifies(any_diary: Diary) -> None:
    result = any_diary.verify()
    assert result.ok, result
    assert result.entries == FRESH_ENTRIES and result.checkpoints == FRESH_ENTRIES


def test_add_incident_and_read_back(any_diary: Diary) -> None:
    view = any_diary.add_incident(
        forms.IncidentInput(
            occurred="2026-03-01 14:00", category="LOI", description="He was waiting outside work."
        )
    )
    assert view.id == 1
    again = any_diary.incident(view.id)
    assert again.data is not None
    assert again.data.description == "He was waiting outside work."
    assert any_diary.verify().ok


def test_both_stores_give_the_same_results(tmp_path: Path, pg_engine: Engine) -> None:
    """The same steps on a diary file and on a case: everything the facade shows is the
    same, apart from clock times, keys and the roots that cover them."""
    seen = []
    with Diary.create(tmp_path / "d.docket", PASSPHRASE) as file_diary:
        seen.append(observe(file_diary, populate(file_diary, tmp_path)))
    schema = "case_" + secrets.token_hex(6)
    with Diary.create_in(
        lambda meta: postgres.CaseStore.create(pg_engine, schema, SERVER_KEY, meta)
    ) as case:
        seen.append(observe(case, populate(case, tmp_path)))
    assert seen[0]["verify"]["ok"] and seen[0]["verify"]["removals"]
    assert seen[0] == seen[1]


# --- people -------------------------------------------------------------------------------------


def test_people_and_their_identifiers(any_diary: Diary) -> None:
    d = any_diary
    ids = d.parse_identifiers(
        ["07700 900123"], ["Alex@Example.com"], ["instagram:@alex_x"], ["ab12 cde"]
    )
    alex = d.add_person(PersonData("Alex Example", "responsible", "ex_partner", identifiers=ids))
    assert alex.id == 1 and alex.version == 1
    assert alex.data is not None and len(alex.data.identifiers) == 4
    assert d.resolve_person("alex example") == 1
    assert d.resolve_person("+447700900123") == 1
    assert d.resolve_person("Alex@example.com") == 1
    assert d.usual_person() == 1

    # one number belongs to one person only
    with pytest.raises(InputError, match="already belongs to person 1"):
        d.add_person(PersonData("Sam", "responsible", "unknown", identifiers=ids[:1]))
    sam = d.add_person(PersonData("Sam", "witness", "colleague"))
    assert d.usual_person() == 1

    def new_number(p: PersonData) -> PersonData:
        return PersonData(
            "Alex Example",
            p.role,
            p.relationship,
            identifiers=(Identifier("phone", "+447700900999"),),
        )

    with pytest.raises(InputError, match="reason"):
        d.edit_person(1, new_number, " ")
    edited = d.edit_person(1, new_number, "he changed his number")
    assert edited.version == 2 and edited.data is not None
    assert [i.value for i in edited.data.identifiers] == ["+447700900999"]
    with pytest.raises(RecordNotFound):
        d.resolve_person("+447700900123")  # the old number is no longer his
    with pytest.raises(NothingToChange):
        d.edit_person(1, lambda p: p, "nothing")
    history = d.history("person", 1)
    assert [(v.type, v.reason) for v in history] == [
        ("person.created", None),
        ("person.edited", "he changed his number"),
    ]
    assert "identifiers" in history[1].changed
    assert [p.id for p in d.people()] == [1, sam.id]

    d.redact("person", sam.id, "added by mistake")
    assert [p.id for p in d.people()] == [1]
    assert d.person(sam.id).redacted and d.person(sam.id).data is None
    assert scalar(d, "SELECT count(*) FROM identifier") == 1
    assert d.verify().ok


# --- incidents ----------------------------------------------------------------------------------


def test_incidents_edit_history_redact_and_filters(any_diary: Diary) -> None:
    d = any_diary
    alex = d.add_person(PersonData("Alex", "responsible", "ex_partner")).id
    bob = d.add_person(PersonData("Bob", "responsible", "stranger")).id
    i1 = d.add_incident(incident_form(1, "LOI", "Outside my work.", [alex])).id
    i2 = d.add_incident(incident_form(9, "CON", "Calls all night.", [alex])).id
    i3 = d.add_incident(incident_form(5, "GIF", "A parcel.", [bob])).id
    i4 = d.add_incident(incident_form(20, "CON", "A message to my sister.", [alex, bob])).id

    with pytest.raises(InputError, match="reason"):
        d.edit_incident(i2, forms.IncidentInput(description="x"), "")
    with pytest.raises(NothingToChange):
        d.edit_incident(i2, forms.IncidentInput(description="Calls all night."), "same")
    v = d.edit_incident(i2, forms.IncidentInput(description="Calls all night, 40."), "counted")
    assert v.version == 2 and v.data is not None and v.data.description == "Calls all night, 40."
    history = d.history("incident", i2)
    assert [(h.type, h.reason, h.changed) for h in history] == [
        ("incident.created", None, ()),
        ("incident.edited", "counted", ("description",)),
    ]

    def listed(**kw: Any) -> list[int]:
        return [v.id for v in d.incidents(IncidentFilter(**kw))]

    assert listed() == [i1, i3, i2, i4]  # by when they happened
    assert listed(category="CON") == [i2, i4]
    assert listed(person_id=bob) == [i3, i4]
    start, end = d.date_range("2026-03-05", "2026-03-09")
    assert listed(start_utc=start, end_utc=end) == [i3, i2]
    assert listed(limit=2) == [i1, i3]

    d.redact("incident", i3, "entered by mistake")
    assert listed() == [i1, i2, i4]
    assert listed(include_redacted=True) == [i1, i3, i2, i4]
    gone = d.incident(i3)
    assert gone.redacted and gone.data is None and gone.redacted_at
    with pytest.raises(RecordRedacted):
        d.edit_incident(i3, forms.IncidentInput(description="x"), "why")
    assert [h.type for h in d.history("incident", i3)] == ["incident.created", "redaction"]
    assert d.person(bob).incident_count == 1
    summary = d.summary()
    assert (summary.incidents, summary.people, summary.redactions) == (3, 2, 1)
    assert summary.by_category == {"CON": 2, "LOI": 1}
    report = d.verify()
    assert report.ok, report.problems
    assert [r.subject for r in report.removals] == [f"incident/{i3}"]


# --- evidence files -----------------------------------------------------------------------------


class Pieces(io.RawIOBase):
    """A stream read once, in pieces of odd sizes (as an upload arrives); it fails with
    OSError after ``fail_after`` bytes when that is given."""

    def __init__(self, data: bytes, fail_after: int | None = None) -> None:
        self._data = memoryview(data)
        self._pos = 0
        self._fail_after = fail_after

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        if self._fail_after is not None and self._pos >= self._fail_after:
            raise OSError("the connection was lost")
        n = min(len(buffer), 300_007, len(self._data) - self._pos)
        buffer[:n] = self._data[self._pos : self._pos + n]
        self._pos += n
        return n


def test_evidence_files_are_kept_byte_exact_and_once(any_diary: Diary, tmp_path: Path) -> None:
    d = any_diary
    i1 = d.add_incident(incident_form(1, "LOI", "Outside my work.", [])).id
    small = b"%PDF-1.4 a letter\n" + bytes(range(256))
    a_small = d.attach_stream(cast(BinaryIO, Pieces(small)), name="letter.pdf", incident_id=i1)
    assert a_small.data is not None and a_small.data.media_type == "application/pdf"
    assert b"".join(d.iter_attachment(a_small.id)) == small

    big = secrets.token_bytes(3 * MIB + 12_345)  # four chunks, the last one short
    before = rows(d)
    first = d.attach_stream(cast(BinaryIO, Pieces(big)), name="video.mp4", incident_id=i1)
    after = rows(d)
    assert after["chunk"] - before["chunk"] == 4 and after["blob"] - before["blob"] == 1
    assert first.sha256 == hashlib.sha256(big).hexdigest() and first.size == len(big)
    assert b"".join(d.iter_attachment(first.id)) == big
    saved = d.save_attachment(first.id, tmp_path / "out.mp4")
    assert saved.read_bytes() == big

    # the same bytes again: a second attachment, the bytes stored once
    second = d.attach_stream(cast(BinaryIO, Pieces(big)), name="copy.mp4", incident_id=None)
    again = rows(d)
    assert second.id != first.id and second.sha256 == first.sha256
    assert (again["chunk"], again["blob"], again["blob_chunk"]) == (
        after["chunk"],
        after["blob"],
        after["blob_chunk"],
    )
    assert again["attachment"] == after["attachment"] + 1
    assert d.summary().evidence_bytes == len(small) + len(big)
    assert [a.id for a in d.incident(i1).attachments] == [a_small.id, first.id]
    assert d.verify().files >= 2

    # removing the file removes its bytes (every attachment of them), keeping the hash
    d.redact("attachment", first.id, "too intimate")
    assert d.attachment(second.id).redacted
    with pytest.raises(RecordRedacted):
        list(d.iter_attachment(second.id))
    assert rows(d)["chunk"] == before["chunk"]
    report = d.verify()
    assert report.ok, report.problems


def test_a_write_that_fails_half_way_changes_nothing(any_diary: Diary) -> None:
    d = any_diary
    i1 = d.add_incident(incident_form(1, "LOI", "Outside my work.", [])).id
    before = rows(d)
    data = secrets.token_bytes(3 * MIB)
    with pytest.raises(OSError, match="connection was lost"):
        d.attach_stream(
            cast(BinaryIO, Pieces(data, fail_after=2 * MIB)), name="v.mp4", incident_id=i1
        )
    assert rows(d) == before  # two chunks were written, then rolled back
    with pytest.raises(RecordNotFound):
        d.add_order(OrderData("restraining_order", date(2026, 2, 1), against=(99,)))
    assert rows(d) == before
    # and the store takes the next write as usual (on a server: the case lock was let go)
    d.attach_stream(cast(BinaryIO, Pieces(data)), name="v.mp4", incident_id=i1)
    assert rows(d)["chunk"] == before["chunk"] + 3
    assert d.verify().ok


# --- records kept only in the log ---------------------------------------------------------------


def test_orders_witness_accounts_and_checklists(any_diary: Diary) -> None:
    d = any_diary
    alex = d.add_person(PersonData("Alex", "responsible", "ex_partner")).id
    i1 = d.add_incident(incident_form(1, "LOI", "Outside my work.", [alex])).id

    order = d.add_order(OrderData("restraining_order", date(2026, 2, 1), against=(alex,)))
    assert (order.id, order.version) == (1, 1)
    changed = d.edit_order(
        1,
        OrderData("restraining_order", date(2026, 2, 1), against=(alex,), terms="No contact"),
        "terms",
    )
    assert changed.version == 2 and changed.data.terms == "No contact"
    d.add_order(OrderData("restraining_order", date(2026, 1, 1), date(2026, 1, 31)))
    assert [(o.id, o.version) for o in d.orders()] == [(1, 2), (2, 1)]

    w = d.add_witness_account(witness(i1))
    d.add_witness_account(witness(i1, name="Sam"))
    w2 = d.edit_witness_account(w.id, witness(i1, place="Side door"), "she corrected the door")
    assert w2.version == 2 and w2.data.place == "Side door"
    d.redact("witness", 2, "asked me to remove it")
    assert [v.id for v in d.witness_accounts(i1)] == [1]
    with pytest.raises(RecordRedacted):
        d.witness_account(2)

    assert d.checklist().version == 0
    d.save_checklist(ChecklistData.build({"fear": Answer("very")}))
    view = d.save_checklist(
        ChecklistData.build({"fear": Answer("quite"), "threats": Answer("yes")})
    )
    assert view.version == 2 and [q for q, _ in view.data.answers] == ["fear", "threats"]
    with pytest.raises(NothingToChange):
        d.save_checklist(view.data)
    assert [v.type for v in d.history("checklist", 1)] == ["checklist.answered"] * 2
    assert [v.type for v in d.history("order", 1)] == ["order.created", "order.edited"]
    report = d.verify()
    assert report.ok, report.problems
    assert [r.subject for r in report.removals] == ["witness/2"]


def test_tech_safety_records(any_diary: Diary) -> None:
    """Indicator files and phone checks: kept in the log, their inputs kept as evidence; an
    unreadable input, and nothing of the check is kept."""
    d = any_diary
    info = d.save_indicators([("ioc.yaml", IOC)])
    assert info.version == 1 and d.indicator_files() == [("ioc.yaml", IOC)]
    view, (result,) = d.check_phone([("apps.txt", io.BytesIO(PM_FOUND))])
    assert view.found and view.apps_found == ("Snoopy",) and result.matches[0].line == 1
    (kept,) = view.results
    assert b"".join(d.iter_attachment(kept["attachment"])) == PM_FOUND
    before = rows(d)
    with pytest.raises(PhoneListUnreadable):
        d.check_phone([("apps.txt", io.BytesIO(PM_NONE)), ("notes.txt", io.BytesIO(b"dear diary"))])
    assert rows(d) == before
    assert [v.id for v in d.phone_checks()] == [view.id]
    assert d.verify().ok


# --- checkpoints and proofs ---------------------------------------------------------------------


def test_checkpoints_and_proofs_check_against_the_signed_note(any_diary: Diary) -> None:
    d = any_diary
    for day in (1, 2, 3):
        d.add_incident(incident_form(day, "CON", f"Calls on day {day}.", []))
    first = d.checkpoint()
    for day in range(4, 40):
        d.add_incident(incident_form(1 + day % 28, "CON", f"More calls ({day}).", []))
    second = d.checkpoint()
    assert (first.size, second.size) == (FRESH_ENTRIES + 3, FRESH_ENTRIES + 39)
    key = d.key()
    cp1, cp2 = open_checkpoint(first.note, key), open_checkpoint(second.note, key)
    assert (cp1.size, cp1.root, cp2.size, cp2.root) == (
        first.size,
        first.root,
        second.size,
        second.root,
    )
    with d.store.read() as conn:
        raw = log.raw_connection(conn)
        for seq in range(cp2.size):
            leaf = merkle.leaf_hash(bundle.entry_bytes(raw, seq))
            merkle.verify_inclusion(
                seq, cp2.size, leaf, log.inclusion_proof(conn, seq, cp2.size), cp2.root
            )
        proof = log.consistency_proof(conn, cp1.size, cp2.size)
        merkle.verify_consistency(cp1.size, cp2.size, proof, cp1.root, cp2.root)
        with pytest.raises(merkle.ProofError):
            merkle.verify_inclusion(
                3, cp2.size, b"\0" * 32, log.inclusion_proof(conn, 3, cp2.size), cp2.root
            )
        with pytest.raises(merkle.ProofError):
            merkle.verify_consistency(cp1.size, cp2.size, proof, b"\1" * 32, cp2.root)
        assert merkle.root(cp2.size, log.node_source(conn)) == cp2.root
    report = d.verify(since=first.note.encode())
    assert report.ok, report.problems
    assert report.since is not None and report.since["append_only"]
    assert report.checkpoints == FRESH_ENTRIES + 39  # one for each size the log has had


# --- tamper detection ---------------------------------------------------------------------------


def _flip_record_byte(seq: int) -> Change:
    def run(conn: Connection, p: str) -> None:
        record = str(
            conn.execute(text(f"SELECT record FROM {p}entry WHERE seq = :s"), {"s": seq}).scalar()
        )
        at = record.index("waited") + 1  # one letter of what was written: 'w[a]ited' -> 'wbited'
        changed = record[:at] + "b" + record[at + 1 :]
        conn.execute(
            text(f"UPDATE {p}entry SET record = :r WHERE seq = :s"), {"r": changed, "s": seq}
        )

    return run


def _flip_chunk_byte(conn: Connection, p: str) -> None:
    sha, data = conn.execute(
        text(
            f"SELECT c.sha256, c.data FROM {p}chunk c JOIN {p}blob_chunk bc "
            "ON bc.chunk_sha256 = c.sha256 WHERE bc.idx = 1"
        )
    ).one()
    changed = bytearray(data)
    changed[1000] ^= 0x01
    conn.execute(
        text(f"UPDATE {p}chunk SET data = :d WHERE sha256 = :s"), {"d": bytes(changed), "s": sha}
    )


@pytest.mark.parametrize("change", ["entry_record", "chunk_data", "entry_deleted", "incident_row"])
def test_tampering_is_named_with_the_entry_it_affects(
    any_diary: Diary, tmp_path: Path, request: pytest.FixtureRequest, change: str
) -> None:
    d = any_diary
    ids = populate(d, tmp_path)
    assert d.verify().ok
    created_i1 = d.history("incident", ids["i1"])[0].seq
    attached = d.history("attachment", ids["a1"])[0].seq
    bob_created = d.history("person", ids["bob"])[0].seq
    i4 = d.history("incident", ids["i4"])[-1].seq
    if change == "entry_record":
        tamper(d, request, _flip_record_byte(created_i1))
        found = problems(d)
        assert ("entry_changed", created_i1, f"incident/{ids['i1']}") in found
    elif change == "chunk_data":
        tamper(d, request, _flip_chunk_byte)
        found = problems(d)
        assert found == {("file_changed", attached, f"attachment/{ids['a1']}")}
        with pytest.raises(Exception, match="missing or changed"):
            list(d.iter_attachment(ids["a1"]))
    elif change == "entry_deleted":
        tamper(
            d,
            request,
            lambda conn, p: conn.execute(
                text(f"DELETE FROM {p}entry WHERE seq = :s"), {"s": bob_created}
            ),
        )
        found = problems(d)
        assert ("entry_missing", bob_created, None) in found
    else:
        tamper(
            d,
            request,
            lambda conn, p: conn.execute(
                text(f"UPDATE {p}incident SET category = 'THR' WHERE id = :i"), {"i": ids["i4"]}
            ),
        )
        found = problems(d)
        assert found == {("table_changed", i4, f"incident/{ids['i4']}")}
    assert all(code != "checkpoint" for code, _, _ in found)  # the signatures themselves hold


def test_tampering_gives_the_same_report_on_both_stores(
    tmp_path: Path, pg_engine: Engine, request: pytest.FixtureRequest
) -> None:
    """Every change above at once: both stores report exactly the same problems."""
    found = []
    file_diary = Diary.create(tmp_path / "d.docket", PASSPHRASE)
    schema = "case_" + secrets.token_hex(6)
    case = Diary.create_in(
        lambda meta: postgres.CaseStore.create(pg_engine, schema, SERVER_KEY, meta)
    )
    for d in (file_diary, case):
        with d:
            ids = populate(d, tmp_path)
            created_i1 = d.history("incident", ids["i1"])[0].seq
            bob_created = d.history("person", ids["bob"])[0].seq

            def everything(
                conn: Connection, p: str, s: int = created_i1, b: int = bob_created
            ) -> None:
                _flip_record_byte(s)(conn, p)
                _flip_chunk_byte(conn, p)
                conn.execute(text(f"DELETE FROM {p}entry WHERE seq = :s"), {"s": b})
                conn.execute(text(f"UPDATE {p}incident SET category = 'THR' WHERE id = 4"))

            tamper(d, request, everything)
            report = d.verify()
            found.append(
                sorted((p.code, p.seq or -1, p.subject or "", p.message) for p in report.problems)
            )
    assert found[0] == found[1]
    assert {code for code, _, _, _ in found[0]} >= {
        "entry_changed",
        "file_changed",
        "entry_missing",
        "table_changed",
    }


def whatsapp_zip(tmp: Path) -> Path:
    """A WhatsApp export with one photo: a message with a file, one whose file is missing."""
    photo = b"\xff\xd8\xff\xe0" + b"JFIF" + bytes(5000)
    z = tmp / "WhatsApp Chat - Sam.zip"
    with zipfile.ZipFile(z, "w") as zf:
        zf.writestr(
            "_chat.txt",
            "[13/11/2026, 09:00:01] Sam: look\n"
            "[13/11/2026, 09:00:05] Sam: \u200e<attached: "
            "00000001-PHOTO-2026-11-13-09-00-05.jpg>\n"
            "[13/11/2026, 09:01:00] Sam: \u200e<attached: "
            "00000002-PHOTO-2026-11-13-09-01-00.jpg>\n",
        )
        zf.writestr("00000001-PHOTO-2026-11-13-09-00-05.jpg", photo)
    return z


@pytest.mark.parametrize("change", ["message_body", "message_file"])
def test_imported_messages_verify_and_changes_are_named(
    any_diary: Diary, tmp_path: Path, request: pytest.FixtureRequest, change: str
) -> None:
    d = any_diary
    summary = d.import_file(whatsapp_zip(tmp_path))
    assert summary.added == 3 and summary.files_stored == 1
    report = d.verify()
    assert report.ok, report.problems
    assert report.files == 2  # the export itself and the photo
    batch = next(v.seq for v in d.history("source", 1) if v.type == "messages.imported")
    if change == "message_body":
        statement = "UPDATE {p}message SET body = 'something else' WHERE id = 1"
    else:
        statement = "DELETE FROM {p}message_file"
    tamper(d, request, lambda conn, p: conn.execute(text(statement.format(p=p))))
    assert problems(d) == {("table_changed", batch, "source/1")}


# --- evidence bundles ---------------------------------------------------------------------------


def test_a_bundle_from_either_store_verifies_offline(any_diary: Diary, tmp_path: Path) -> None:
    d = any_diary
    ids = populate(d, tmp_path)
    d.add_incident(
        forms.IncidentInput(
            occurred="2026-03-10 19:00",
            category="CON",
            description="PRIVATE-ENTRY at the clinic",
            people=[ids["alex"]],
            private_notes="SECRET-NOTE",
        )
    )
    out = tmp_path / "bundle.zip"
    result = d.export(out, Selection(person=ids["alex"]), recipient="Kent Police, PC 1234")
    assert len(result.withheld_private) == 1 and result.files == 1
    report = docket_verify.verify_bundle(out, key=d.key().encode())
    assert report.ok, [f.reason for f in report.failures]
    assert report.export_bound and len(report.files) == 1
    with zipfile.ZipFile(out) as z:
        manifest = json.loads(z.read("manifest.json"))
        held = b"".join(z.read(n) for n in z.namelist())
        assert z.read(f"files/{hashlib.sha256(photo_bytes()).hexdigest()}") == photo_bytes()
    assert b"PRIVATE-ENTRY" not in held and b"SECRET-NOTE" not in held
    subjects = {e["subject"] for e in manifest["entries"]}
    assert {f"incident/{ids['i1']}", f"witness/{ids['w']}", f"attachment/{ids['a1']}"} <= subjects
    assert f"incident/{ids['i3']}" not in subjects  # removed before
    assert d.verify().ok


# --- the server's own guarantees ----------------------------------------------------------------


def test_signing_key_is_sealed_on_the_server(pg_engine: Engine) -> None:
    schema = "case_" + secrets.token_hex(6)
    d = Diary.create_in(lambda meta: postgres.CaseStore.create(pg_engine, schema, SERVER_KEY, meta))
    d.close()
    with pg_engine.connect() as conn:
        value = conn.exec_driver_sql(
            f"SELECT value FROM {schema}.meta WHERE key = 'log_key'"
        ).scalar()
    assert value is not None and value.startswith(postgres.SEALED_PREFIX)
    with pytest.raises(Exception, match=r"^The case's signing key cannot be opened"):
        postgres.ServerKey(secrets.token_bytes(32), schema).open("log_key", value)
    # bound to its case: the same sealed value does not open as another case's key
    with pytest.raises(Exception, match="cannot be opened"):
        postgres.ServerKey(SERVER_KEY, "case_other").open("log_key", value)
    assert len(postgres.ServerKey(SERVER_KEY, schema).open("log_key", value)) == 32


def _new_case(engine: Engine) -> str:
    schema = "case_" + secrets.token_hex(6)
    Diary.create_in(
        lambda meta: postgres.CaseStore.create(engine, schema, SERVER_KEY, meta)
    ).close()
    return schema


def test_two_writers_on_one_case_at_once(pg_engine: Engine) -> None:
    """Two caseworkers adding to the same case at the same moment: every write lands, each
    incident gets its own number, and the log stays one consistent, verifiable sequence."""
    schema = _new_case(pg_engine)
    start = threading.Barrier(2)
    errors: list[BaseException] = []
    each = 12

    def worker(name: str) -> None:
        try:
            d = Diary(postgres.CaseStore.open(pg_engine, schema, SERVER_KEY))
            start.wait(timeout=30)
            for k in range(each):
                d.add_incident(incident_form(1 + k, "CON", f"{name} {k}", []))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(n,)) for n in ("first", "second")]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not errors, errors
    with Diary(postgres.CaseStore.open(pg_engine, schema, SERVER_KEY)) as d:
        views = d.incidents()
        assert sorted(v.id for v in views) == list(range(1, 2 * each + 1))
        descriptions = sorted(v.data.description for v in views if v.data is not None)
        assert descriptions == sorted(f"{n} {k}" for n in ("first", "second") for k in range(each))
        report = d.verify()
        assert report.ok, report.problems
        assert report.entries == FRESH_ENTRIES + 2 * each
        assert report.checkpoints == FRESH_ENTRIES + 2 * each


def test_a_second_writer_waits_for_the_first(pg_engine: Engine) -> None:
    """The case lock: a write that starts while another is open waits for it to commit, then
    builds on what it wrote."""
    schema = _new_case(pg_engine)
    first = Diary(postgres.CaseStore.open(pg_engine, schema, SERVER_KEY))
    second = Diary(postgres.CaseStore.open(pg_engine, schema, SERVER_KEY))
    holding, release, finished = threading.Event(), threading.Event(), threading.Event()
    errors: list[BaseException] = []

    def hold() -> None:
        try:
            with first._write() as conn:
                log.append(conn, type="diary.note", subject="note/1", record={"text": "held"})
                holding.set()
                release.wait(timeout=30)
        except BaseException as exc:
            errors.append(exc)

    def add() -> None:
        try:
            second.add_incident(incident_form(1, "CON", "while held", []))
            finished.set()
        except BaseException as exc:
            errors.append(exc)

    a = threading.Thread(target=hold)
    a.start()
    assert holding.wait(timeout=30)
    b = threading.Thread(target=add)
    b.start()
    assert not finished.wait(timeout=1.0)  # blocked on the case lock
    assert second.incidents() == []  # and readers go on meanwhile
    release.set()
    a.join(timeout=30)
    b.join(timeout=30)
    assert not errors, errors
    assert finished.is_set()
    (view,) = second.incidents()
    assert [h.seq for h in second.history("incident", view.id)] == [FRESH_ENTRIES + 1]
    report = second.verify()
    assert report.ok, report.problems
    first.close()
    second.close()


def test_verify_streams_long_results_on_the_server(pg_engine: Engine, tmp_path: Path) -> None:
    """On PostgreSQL, verify reads the log, the tree and files through server-side cursors
    (a batch of rows at a time, not the whole result in memory), and closes them all."""
    schema = _new_case(pg_engine)
    with Diary(postgres.CaseStore.open(pg_engine, schema, SERVER_KEY)) as d:
        populate(d, tmp_path)
        open_during: list[int] = []
        with d.store.read() as conn:

            def cursors(seq: int, total: int) -> None:
                found = conn.exec_driver_sql("SELECT count(*) FROM pg_cursors").scalar()
                open_during.append(int(found or 0))

            report = integrity.verify(conn, progress=cursors)
            left = conn.exec_driver_sql("SELECT count(*) FROM pg_cursors").scalar()
        assert report.ok, report.problems
        assert open_during and open_during[0] >= 2  # the log and its checkpoints, at least
        assert left == 0


def test_an_export_while_another_caseworker_writes(
    pg_engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Between the export's own entry and the bundle being assembled, someone else adds to
    the case: the bundle still stops at the export's checkpoint and verifies."""
    schema = _new_case(pg_engine)
    other = Diary(postgres.CaseStore.open(pg_engine, schema, SERVER_KEY))
    real_write = bundle.write

    def write_after_another(conn: Connection, *args: Any, **kw: Any) -> bundle.ExportResult:
        other.add_incident(incident_form(9, "CON", "added during the export", []))
        return real_write(conn, *args, **kw)

    with Diary(postgres.CaseStore.open(pg_engine, schema, SERVER_KEY)) as d:
        i1 = d.add_incident(incident_form(1, "LOI", "He waited outside my work.", [])).id
        monkeypatch.setattr(bundle, "write", write_after_another)
        out = tmp_path / "bundle.zip"
        result = d.export(out, Selection(incidents=(i1,)), recipient="Advocate")
        monkeypatch.undo()
        checked = docket_verify.verify_bundle(out, key=d.key().encode())
        assert checked.ok, [f.reason for f in checked.failures]
        assert checked.export_bound
        with zipfile.ZipFile(out) as z:
            assert json.loads(z.read("manifest.json"))["log_size"] == result.export_entry + 1
            assert b"added during the export" not in b"".join(z.read(n) for n in z.namelist())
        assert len(d.incidents()) == 2 and d.verify().ok
    other.close()


@pytest.fixture(scope="module")
def shifted_engine(pg_cluster: Any) -> Iterator[Engine]:
    """A database whose collation passes over punctuation at first, as most installed
    locales do (en_US.UTF-8, say): 'order/10' sorts after 'order0' there."""
    import psycopg

    name = "m_shifted_" + secrets.token_hex(4)
    with psycopg.connect(
        host=pg_cluster.host,
        port=pg_cluster.port,
        user=pg_cluster.user,
        password=pg_cluster.password,
        dbname="postgres",
        autocommit=True,
    ) as conn:
        conn.execute(
            f"CREATE DATABASE \"{name}\" LOCALE_PROVIDER icu ICU_LOCALE 'en-u-ka-shifted' "
            "LOCALE 'C.UTF-8' TEMPLATE template0"
        )
    engine = postgres.make_engine(pg_cluster.url(name))
    postgres.prepare_database(engine)
    with engine.connect() as conn:
        assert not conn.exec_driver_sql("SELECT 'order/10' < 'order0'").scalar()
    yield engine
    engine.dispose()


def test_records_numbered_past_nine_under_any_collation(
    shifted_engine: Engine, tmp_path: Path
) -> None:
    """Records are found by their subject's range ('witness/' up to 'witness0'), compared
    byte by byte whatever the database's collation: in the log, by verify and for bundles."""
    schema = _new_case(shifted_engine)
    with Diary(postgres.CaseStore.open(shifted_engine, schema, SERVER_KEY)) as d:
        i1 = d.add_incident(incident_form(1, "LOI", "He waited outside my work.", [])).id
        for n in range(12):
            d.add_order(OrderData("restraining_order", date(2026, 1, 1 + n)))
            d.add_witness_account(witness(i1, name=f"Witness {n}"))
            d.add_incident(incident_form(2 + n, "CON", f"Calls ({n}).", []))
        assert [o.id for o in d.orders()] == list(range(1, 13))
        assert [w.id for w in d.witness_accounts(i1)] == list(range(1, 13))
        assert d.witness_account(11).data.name == "Witness 10"
        report = d.verify()
        assert report.ok, report.problems
        out = tmp_path / "bundle.zip"
        d.export(out, Selection(incidents=(i1,)), recipient="Advocate")
        with zipfile.ZipFile(out) as z:
            subjects = {e["subject"] for e in json.loads(z.read("manifest.json"))["entries"]}
        assert {f"witness/{n}" for n in range(1, 13)} <= subjects
        assert docket_verify.verify_bundle(out, key=d.key().encode()).ok
