"""Tamper tests: with the passphrase, change the diary directly in SQL, in any of many ways;
``docket verify`` must fail and name what was changed, every time. A log rewritten and
re-signed with the diary's own key is caught by ``verify --since`` an earlier checkpoint."""

from __future__ import annotations

import json
import random
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Connection, text

from docket.api import Diary
from docket.ledger import log, merkle
from docket.model.forms import IncidentInput
from docket.model.records import PersonData
from docket.store import sqlcipher
from docket.store.diary_file import DiaryFile
from tests.conftest import PASSPHRASE


def build(path: Path, tmp: Path) -> None:
    with Diary.create(path, PASSPHRASE) as d:
        ids = d.parse_identifiers(["07700 900123"], ["x@example.com"], [], ["AB12 CDE"])
        p = d.add_person(
            PersonData(name="Alex Example", relationship="ex_partner", identifiers=ids)
        )
        for i in range(12):
            d.add_incident(
                IncidentInput(
                    category="CON" if i % 2 else "LOI",
                    occurred=f"0{1 + i % 9}/11/2026 10:00",
                    description=f"incident {i}",
                    people=[p.id],
                    tags=["t"],
                    channel="phone_call",
                )
            )
        d.edit_incident(3, IncidentInput(description="edited"), "typo")
        f = tmp / "photo.jpg"
        f.write_bytes(b"\xff\xd8\xff" + bytes(range(256)) * 9000)  # three chunks
        d.attach(f, incident_id=2)
        d.redact("incident", 7, "private")
        assert d.verify().ok


@pytest.fixture(scope="module")
def golden(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("golden")
    path = folder / "golden.docket"
    build(path, folder)
    return path


_MATERIAL: dict[Path, sqlcipher.KeyMaterial] = {}
_ROWS: dict[Path, list[tuple[int, str, str, bool]]] = {}


def material(golden: Path) -> sqlcipher.KeyMaterial:
    """Copies of the golden diary share its salt and key: derive it (Argon2) only once."""
    if golden not in _MATERIAL:
        _MATERIAL[golden] = sqlcipher.unlock(golden, PASSPHRASE)
    return _MATERIAL[golden]


def tampered(golden: Path, tmp: Path, change: Callable[[Connection], None]) -> Diary:
    path = tmp / f"t{random.randrange(10**9)}.docket"
    shutil.copy(golden, path)
    f = DiaryFile(path, material(golden))
    with f.write() as conn:
        change(conn)
    return Diary(f)


def entry_rows(golden: Path) -> list[tuple[int, str, str, bool]]:
    """(seq, type, subject, has its record) for every entry of the golden diary."""
    if golden not in _ROWS:
        f = DiaryFile(golden, material(golden))
        with f.read() as conn:
            rows = conn.execute(
                text("SELECT seq, type, subject, record IS NOT NULL FROM entry ORDER BY seq")
            ).all()
        f.close()
        _ROWS[golden] = [(r[0], r[1], r[2], bool(r[3])) for r in rows]
    return _ROWS[golden]


def sql(statement: str, **params: object) -> Callable[[Connection], None]:
    def run(conn: Connection) -> None:
        conn.execute(text(statement), params)

    return run


def swap(a: int, b: int) -> Callable[[Connection], None]:
    """Exchange two entries' places in the log (seq is unique, so in three steps)."""

    def run(conn: Connection) -> None:
        conn.execute(text("UPDATE entry SET seq = -1 WHERE seq = :a"), {"a": a})
        conn.execute(text("UPDATE entry SET seq = :a WHERE seq = :b"), {"a": a, "b": b})
        conn.execute(text("UPDATE entry SET seq = :b WHERE seq = -1"), {"b": b})

    return run


def mutate_record(seq: int, rng: random.Random) -> Callable[[Connection], None]:
    """Change one value anywhere inside an entry's record, keeping it valid, canonical JSON."""

    def run(conn: Connection) -> None:
        record = conn.execute(text("SELECT record FROM entry WHERE seq = :s"), {"s": seq}).scalar()
        data = json.loads(record)

        def paths(value: object, prefix: tuple[object, ...] = ()) -> list[tuple[object, ...]]:
            if isinstance(value, dict):
                return [p for k, v in value.items() for p in paths(v, (*prefix, k))]
            if isinstance(value, list):
                return [p for i, v in enumerate(value) for p in paths(v, (*prefix, i))]
            return [prefix]

        target = rng.choice(paths(data))
        holder = data
        for key in target[:-1]:
            holder = holder[key]  # type: ignore[index]
        old = holder[target[-1]]  # type: ignore[index]
        new = (
            (old + 1)
            if isinstance(old, int) and not isinstance(old, bool)
            else ((not old) if isinstance(old, bool) else f"{old}!")
        )
        holder[target[-1]] = new  # type: ignore[index]
        from docket.model.entry import canonical

        conn.execute(
            text("UPDATE entry SET record = :r WHERE seq = :s"),
            {"r": canonical(data).decode(), "s": seq},
        )

    return run


@settings(max_examples=30, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.data())
def test_any_change_to_any_entry_is_named(
    golden: Path, tmp_path: Path, data: st.DataObject
) -> None:
    rows = entry_rows(golden)
    seq, _etype, _subject, has_record = data.draw(st.sampled_from(rows))
    rng = random.Random(data.draw(st.integers(0, 2**32)))
    kind = data.draw(
        st.sampled_from(
            ["record", "type", "subject", "recorded_at", "salt", "reason", "corrects", "swap"]
        )
    )
    changes: dict[str, Callable[[Connection], None]] = {
        "type": sql("UPDATE entry SET type = type || 'x' WHERE seq = :s", s=seq),
        "subject": sql("UPDATE entry SET subject = subject || '0' WHERE seq = :s", s=seq),
        "recorded_at": sql(
            "UPDATE entry SET recorded_at = '2020-01-01T00:00:00Z' WHERE seq = :s", s=seq
        ),
        "salt": sql("UPDATE entry SET salt = zeroblob(32) WHERE seq = :s", s=seq),
        "reason": sql(
            "UPDATE entry SET reason = coalesce(reason, '') || 'z' WHERE seq = :s", s=seq
        ),
        "corrects": sql(
            "UPDATE entry SET corrects = coalesce(corrects, 0) + 1 WHERE seq = :s", s=seq
        ),
        "swap": swap(seq, (seq + 1) % len(rows)),
    }
    if kind == "record":
        if not has_record:
            return
        change = mutate_record(seq, rng)
    else:
        change = changes[kind]
    with tampered(golden, tmp_path, change) as d:
        report = d.verify()
    assert not report.ok
    if has_record or kind == "swap":
        assert seq in report.affected_entries(), (kind, seq, report.problems)


@pytest.mark.parametrize(
    ("statement", "subject"),
    [
        ("UPDATE incident SET category = 'THR' WHERE id = 4", "incident/4"),
        ("UPDATE incident SET occurred_start = '2026-01-01T00:00:00Z' WHERE id = 5", "incident/5"),
        ("UPDATE incident SET channel = 'email' WHERE id = 6", "incident/6"),
        ("UPDATE incident SET current_seq = created_seq WHERE id = 3", "incident/3"),
        ("UPDATE incident SET redacted = 1 WHERE id = 8", "incident/8"),
        # what the analysis reads of each record, kept as columns
        ("UPDATE incident SET people = '[]' WHERE id = 4", "incident/4"),
        ('UPDATE incident SET targeted = \'["me","Mum"]\' WHERE id = 5', "incident/5"),
        ("UPDATE incident SET date_only = 1 - date_only WHERE id = 6", "incident/6"),
        ("UPDATE incident SET private_place = 2 WHERE id = 3", "incident/3"),
        ("UPDATE incident SET people = '[1]' WHERE id = 7", "incident/7"),  # removed
        ("DELETE FROM incident_person WHERE incident_id = 9", "incident/9"),
        ("INSERT INTO incident_person VALUES (7, 1)", "incident/7"),
        ("UPDATE person SET name = 'Someone Else' WHERE id = 1", "person/1"),
        ("UPDATE identifier SET value = '+447700900999' WHERE kind = 'phone'", "person/1"),
        ("DELETE FROM identifier WHERE kind = 'vehicle'", "person/1"),
        ("UPDATE attachment SET original_name = 'other.jpg' WHERE id = 1", "attachment/1"),
        ("UPDATE attachment SET incident_id = 3 WHERE id = 1", "attachment/1"),
        ("DELETE FROM attachment WHERE id = 1", "attachment/1"),
    ],
)
def test_changes_to_the_tables_are_named(
    golden: Path, tmp_path: Path, statement: str, subject: str
) -> None:
    def change(conn: Connection) -> None:
        conn.execute(text("PRAGMA foreign_keys = OFF"))
        conn.execute(text(statement))

    with tampered(golden, tmp_path, change) as d:
        report = d.verify()
    assert not report.ok
    assert subject in {p.subject for p in report.problems}, report.problems


def test_any_attachment_byte(golden: Path, tmp_path: Path) -> None:
    for offset in (0, 1000, 262143, 500000, 700000):

        def change(conn: Connection, offset: int = offset) -> None:
            for sha, data in conn.execute(text("SELECT sha256, data FROM chunk")).all():
                if offset < len(data):
                    b = bytearray(data)
                    b[offset] ^= 1
                    conn.execute(
                        text("UPDATE chunk SET data = :d WHERE sha256 = :s"),
                        {"d": bytes(b), "s": sha},
                    )
                    return
                offset -= len(data)

        with tampered(golden, tmp_path, change) as d:
            report = d.verify()
        assert "attachment/1" in {p.subject for p in report.problems}


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE tree_tile SET hashes = zeroblob(32) || substr(hashes, 33) WHERE id = 0",
        "UPDATE tree_tile SET hashes = substr(hashes, 1, length(hashes) - 32) WHERE id = 0",
        "DELETE FROM tree_tile WHERE id = 0",
        "INSERT INTO tree_tile VALUES (99, zeroblob(32))",
        "INSERT INTO tree_tile VALUES (7 << 48, zeroblob(32))",
        "INSERT INTO tree_tile VALUES (-1, zeroblob(32))",
    ],
)
def test_changes_to_the_stored_tree_are_caught(
    golden: Path, tmp_path: Path, statement: str
) -> None:
    """Proofs are built from the stored tree, so verify checks it against the entries."""
    with tampered(golden, tmp_path, sql(statement)) as d:
        report = d.verify()
    assert "tree_node" in {p.code for p in report.problems}, report.problems


@pytest.mark.parametrize("where", ["first", "middle", "last"])
def test_deleted_entries_are_named(golden: Path, tmp_path: Path, where: str) -> None:
    n = len(entry_rows(golden))
    seq = {"first": 0, "middle": n // 2, "last": n - 1}[where]
    with tampered(golden, tmp_path, sql("DELETE FROM entry WHERE seq = :s", s=seq)) as d:
        report = d.verify()
    assert not report.ok and seq in report.affected_entries(), report.problems


def test_removed_content_without_a_redaction_is_caught(golden: Path, tmp_path: Path) -> None:
    with tampered(golden, tmp_path, sql("UPDATE entry SET record = NULL WHERE seq = 4")) as d:
        report = d.verify()
    assert 4 in report.affected_entries()
    assert any(p.code == "content_missing" for p in report.problems)


def test_redaction_is_reported_not_failed(golden: Path) -> None:
    with Diary(DiaryFile(golden, material(golden))) as d:
        report = d.verify()
    assert report.ok
    assert [r.subject for r in report.removals] == ["incident/7"]
    assert report.removals[0].removed_on


def test_a_forged_checkpoint_is_caught(golden: Path, tmp_path: Path) -> None:
    def change(conn: Connection) -> None:
        note = conn.execute(text("SELECT note FROM checkpoint ORDER BY size DESC")).scalar()
        conn.execute(
            text("UPDATE checkpoint SET note = :n WHERE size = (SELECT max(size) FROM checkpoint)"),
            {"n": note.replace("\n1", "\n2", 1)},
        )

    with tampered(golden, tmp_path, change) as d:
        assert any(p.code == "checkpoint" for p in d.verify().problems)


def test_rewritten_and_resigned_log_is_caught_by_since(golden: Path, tmp_path: Path) -> None:
    """Someone with the passphrase rewrites an entry and everything derived from it — leaf
    hash, tree, checkpoints, re-signed with the diary's own key. Only a checkpoint handed over
    earlier can catch this, and it does."""
    with Diary.open(golden, PASSPHRASE) as d:
        handed_over = d.checkpoint().note.encode()

    def rewrite(conn: Connection) -> None:
        from docket.model.entry import canonical, encode_entry

        row = conn.execute(
            text("SELECT * FROM entry WHERE subject = 'incident/2' AND type = 'incident.created'")
        ).one()
        record = json.loads(row.record)
        record["description"] = "a rewritten description"
        new_json = canonical(record).decode()
        leaf = merkle.leaf_hash(
            encode_entry(
                seq=row.seq,
                type=row.type,
                subject=row.subject,
                recorded_at=row.recorded_at,
                record_json=new_json,
                salt=bytes(row.salt),
                corrects=row.corrects,
                reason=row.reason,
            )
        )
        conn.execute(
            text("UPDATE entry SET record = :r, leaf_hash = :h WHERE seq = :s"),
            {"r": new_json, "h": leaf, "s": row.seq},
        )
        conn.execute(text("DELETE FROM tree_tile"))
        conn.execute(text("DELETE FROM timestamp"))
        conn.execute(text("DELETE FROM checkpoint"))
        log.build_tree(conn)
        log.seal(conn)

    with tampered(golden, tmp_path, rewrite) as d:
        plain = d.verify()
        assert plain.ok  # nothing inside the file can tell: this is what anchors are for
        caught = d.verify(since=handed_over)
    assert not caught.ok
    assert any(p.code == "since_checkpoint" and "rewritten" in p.message for p in caught.problems)


def test_since_accepts_an_honest_extension(golden: Path, tmp_path: Path) -> None:
    path = tmp_path / "honest.docket"
    shutil.copy(golden, path)
    with Diary.open(path, PASSPHRASE) as d:
        earlier = d.checkpoint().note.encode()
        d.add_incident(IncidentInput(category="CON", occurred="01/11/2026 11:00"))
        d.redact("incident", 2, "changed my mind")
        report = d.verify(since=earlier, since_vkey=d.key().encode())
    assert report.ok, report.problems
    assert report.since is not None and report.since["append_only"]


def test_since_with_another_key_is_refused(golden: Path) -> None:
    from docket.ledger.note import Checkpoint, Signer

    other = Signer.generate("docket.invalid/someone")
    forged = other.sign(Checkpoint("docket.invalid/someone", 3, b"\0" * 32).text()).encode()
    with Diary.open(golden, PASSPHRASE) as d:
        report = d.verify(since=forged)
    assert not report.ok and report.problems[0].code == "since_checkpoint"


@pytest.mark.parametrize(
    "record",
    ['{"entries":[1,2]}', '{"entries":"x"}', "[]", '{"subjects":[]', '"just a string"'],
)
def test_unreadable_redaction_records_are_reported_not_crashed(
    golden: Path, tmp_path: Path, record: str
) -> None:
    change = sql("UPDATE entry SET record = :r WHERE type = 'redaction'", r=record)
    with tampered(golden, tmp_path, change) as d:
        report = d.verify()
    assert not report.ok


@pytest.mark.parametrize("table", ["incident", "person", "attachment"])
def test_unreadable_current_records_are_reported(golden: Path, tmp_path: Path, table: str) -> None:
    change = sql(
        f"UPDATE entry SET record = '{{}}' WHERE seq = (SELECT max(current_seq) FROM {table})"
    )
    with tampered(golden, tmp_path, change) as d:
        report = d.verify()
    assert not report.ok


def test_consistency_proofs_between_anchored_checkpoints(golden: Path) -> None:
    with Diary(DiaryFile(golden, material(golden))) as d:
        report = d.verify()
    assert report.ok and report.consistency_proofs >= 1


def test_inconsistent_checkpoints_are_caught(golden: Path, tmp_path: Path) -> None:
    """Two signed checkpoints that no append-only history can join: the first one is
    re-signed over a different root, as if the log had been rewritten in between."""
    from docket.ledger.note import Checkpoint

    def change(conn: Connection) -> None:
        first = conn.execute(text("SELECT min(size) FROM checkpoint")).scalar()
        signer = log.signer(conn)
        fake = b"\x11" * 32
        note = signer.sign(Checkpoint(signer.name, first, fake).text())
        conn.execute(
            text("UPDATE checkpoint SET root = :r, note = :n WHERE size = :s"),
            {"r": fake, "n": note, "s": first},
        )

    with tampered(golden, tmp_path, change) as d:
        report = d.verify()
    assert {"checkpoint_consistency", "checkpoint_root"} <= {p.code for p in report.problems}
