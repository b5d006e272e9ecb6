from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from sqlalchemy import text

from docket.api import Diary
from docket.errors import (
    AttachmentNotFound,
    InputError,
    InvalidDate,
    NothingToChange,
    RecordNotFound,
    RecordRedacted,
    UnknownCategory,
)
from docket.model.forms import IncidentInput
from docket.model.records import PersonData
from docket.records import IncidentFilter
from tests.conftest import FRESH_ENTRIES, PASSPHRASE
from tests.helpers.checks import assert_log_consistent, entry_from_row
from tests.helpers.pages import decrypted_pages


def add(d: Diary, **kw: object) -> int:
    kw.setdefault("category", "CON")
    kw.setdefault("occurred", "2026-11-01 10:00")
    return d.add_incident(IncidentInput(**kw)).id  # type: ignore[arg-type]


def person(d: Diary, name: str = "A Person", **kw: object) -> int:
    phones = kw.pop("phones", [])
    ids = d.parse_identifiers(phones, [], [], [])  # type: ignore[arg-type]
    return d.add_person(PersonData(name=name, identifiers=ids, **kw)).id  # type: ignore[arg-type]


def test_every_field_round_trips(diary: Diary) -> None:
    pid = person(diary, relationship="ex_partner", phones=["07700 900123"])
    form = IncidentInput(
        occurred="01/11/2026 21:15",
        until="01/11/2026 21:45",
        approximate=True,
        category="loi",
        tags=["night"],
        channel="in_person",
        place="home",
        private_place=True,
        description="Waited outside the house",
        exact_words="I'll always find you",
        people=[pid],
        witnesses=["Sam Neighbour; 07700 900999"],
        targeted=["me", "my sister"],
        effects=["fear_of_violence", "changed_routine"],
        effect_details="Could not sleep",
        told_to_stop="yes",
        told_to_stop_details="By text on 1 October",
        reported_to="Kent Police",
        reported_on="02/11/2026",
        officer="PC 1234",
        crime_reference="KP/2026/1",
        outcome="Officer visited",
        evidence_to_obtain=["Doorbell video from number 12"],
        orders="Non-molestation order, 2026-09-01",
        private_notes="Felt stupid for not calling sooner",
    )
    view = diary.add_incident(form)
    again = diary.incident(view.id)
    assert again == view
    d = again.data
    assert d is not None
    assert d.category == "LOI"
    assert d.occurred.start.isoformat() == "2026-11-01T21:15:00+00:00"
    assert d.occurred.end is not None and d.occurred.approximate
    assert d.place is not None and d.place.private
    assert d.people == (pid,)
    assert d.witnesses[0].contact == "07700 900999"
    assert d.effect.fear_of_violence and d.effect.changed_routine and not d.effect.alarm
    assert d.reported[0].reference == "KP/2026/1" and str(d.reported[0].on) == "2026-11-02"
    assert d.private_notes and d.exact_words
    assert "private_notes" not in again.as_json(include_private=False)
    assert diary.incidents(IncidentFilter(person_id=pid))[0].id == view.id


def test_recorded_at_is_kept_apart_and_late_entries_are_retrospective(diary: Diary) -> None:
    v = diary.incident(add(diary, occurred="01/10/2026 10:00"))
    assert v.recorded_at > "2026-11-01"
    assert v.retrospective
    assert not diary.incident(add(diary, occurred="now")).retrospective


def test_unknown_category_lists_valid_ones(diary: Diary) -> None:
    with pytest.raises(UnknownCategory) as info:
        add(diary, category="XYZ")
    assert "LOI" in (info.value.hint or "") and "THR" in (info.value.hint or "")
    assert diary.summary().entries == FRESH_ENTRIES


def test_end_before_start_refused(diary: Diary) -> None:
    with pytest.raises(InvalidDate):
        add(diary, occurred="02/11/2026 10:00", until="01/11/2026 10:00")


def test_unknown_person_refused(diary: Diary) -> None:
    with pytest.raises(RecordNotFound):
        add(diary, people=[99])
    with pytest.raises(RecordNotFound):
        diary.resolve_person("Nobody")


def test_resolve_person_by_name_number_and_phone(diary: Diary) -> None:
    pid = person(diary, "Jo Bloggs", phones=["+44 7700 900123"])
    assert diary.resolve_person("jo bloggs") == pid
    assert diary.resolve_person(str(pid)) == pid
    assert diary.resolve_person("07700900123") == pid


def test_identifier_belongs_to_one_person(diary: Diary) -> None:
    person(diary, "First", phones=["07700 900123"])
    with pytest.raises(InputError) as info:
        person(diary, "Second", phones=["+447700900123"])
    assert "already belongs" in info.value.message


def test_edits_make_versions_with_reasons(diary: Diary) -> None:
    iid = add(diary, description="first words")
    diary.edit_incident(iid, IncidentInput(description="second words"), "typo")
    diary.edit_incident(iid, IncidentInput(place="bus stop"), "remembered where")
    versions = diary.history("incident", iid)
    assert [v.type for v in versions] == ["incident.created", "incident.edited", "incident.edited"]
    assert versions[0].record is not None and versions[0].record["description"] == "first words"
    assert versions[1].changed == ("description",) and versions[1].reason == "typo"
    assert versions[2].changed == ("place",)
    assert diary.incident(iid).version == 3
    with pytest.raises(InputError):
        diary.edit_incident(iid, IncidentInput(description="x"), "   ")
    with pytest.raises(NothingToChange):
        diary.edit_incident(iid, IncidentInput(description="second words"), "same")
    with pytest.raises(NothingToChange):
        diary.edit_incident(iid, IncidentInput(), "nothing")


def test_edit_clear_and_reports_accumulate(diary: Diary) -> None:
    iid = add(diary, tags=["a"], reported_to="Police A")
    diary.edit_incident(iid, IncidentInput(reported_to="Police B", clear=["tags"]), "update")
    d = diary.incident(iid).data
    assert d is not None and d.tags == () and [r.to for r in d.reported] == ["Police A", "Police B"]


def test_log_entries_are_canonical_and_hash_as_stored(diary: Diary, diary_path: Path) -> None:
    iid = add(diary, description="hash me")
    diary.edit_incident(iid, IncidentInput(description="hash me again"), "why")
    assert assert_log_consistent(diary) == FRESH_ENTRIES + 2
    with diary._file.read() as conn:
        rows = conn.execute(text("SELECT * FROM entry ORDER BY seq")).all()
    for r in rows:
        assert len(r.salt) == 32
        assert entry_from_row(r).encode().decode().startswith('{"clock":"device"')
    assert rows[-1].corrects == rows[-2].seq


def test_attachment_is_byte_exact_and_streamed(diary: Diary, tmp_path: Path) -> None:
    iid = add(diary)
    src = tmp_path / "clip.mp4"
    payload = b"\x00\x00\x00\x18ftypmp42" + bytes(range(256)) * 20000  # ~5 MB, several chunks
    src.write_bytes(payload)
    seen: list[int] = []
    v = diary.attach(src, incident_id=iid, obtained="recorded on my phone", progress=seen.append)
    assert v.sha256 == hashlib.sha256(payload).hexdigest()
    assert v.data is not None and v.data.media_type == "video/mp4"
    assert seen[-1] == len(payload) and len(seen) >= 5
    out = diary.save_attachment(v.id, tmp_path / "out.mp4")
    assert out.read_bytes() == payload
    assert diary.incident(iid).attachments[0].id == v.id


def test_same_bytes_stored_once(diary: Diary, tmp_path: Path) -> None:
    a, b = tmp_path / "a.png", tmp_path / "b.png"
    a.write_bytes(b"\x89PNG\r\n\x1a\n" + b"x" * 3_000_000)
    b.write_bytes(a.read_bytes())
    diary.attach(a, incident_id=None)
    diary.attach(b, incident_id=None)
    with diary._file.read() as conn:
        assert conn.execute(text("SELECT count(*) FROM blob")).scalar() == 1
        assert conn.execute(text("SELECT count(*) FROM chunk")).scalar() == 3
    assert diary.summary().attachments == 2


def test_missing_attachment_file(diary: Diary, tmp_path: Path) -> None:
    with pytest.raises(AttachmentNotFound) as info:
        diary.attach(tmp_path / "nope.jpg", incident_id=None)
    assert "nope.jpg" in info.value.message
    assert diary.summary().entries == FRESH_ENTRIES


def test_attachment_to_missing_incident_changes_nothing(diary: Diary, tmp_path: Path) -> None:
    f = tmp_path / "f.txt"
    f.write_text("hello")
    with pytest.raises(RecordNotFound):
        diary.attach(f, incident_id=42)
    with diary._file.read() as conn:
        assert conn.execute(text("SELECT count(*) FROM chunk")).scalar() == 0


def test_redaction_purges_bytes_but_keeps_the_leaf(
    diary: Diary, diary_path: Path, tmp_path: Path
) -> None:
    marker = "PURGEMARKER-7c1e"
    iid = add(diary, description=f"intimate {marker}")
    diary.edit_incident(iid, IncidentInput(description=f"still {marker} here"), "more")
    img = tmp_path / "img.jpg"
    img.write_bytes(b"\xff\xd8\xff" + marker.encode() * 50_000)
    att = diary.attach(img, incident_id=iid)
    keep = add(diary, description="unrelated entry stays")
    key = diary._file._material.key

    def marker_in_pages() -> bool:
        return any(marker.encode() in page for page in decrypted_pages(diary_path, key))

    assert marker_in_pages()  # the helper really sees content
    with diary._file.read() as conn:
        leaves_before = [bytes(r[0]) for r in conn.execute(text("SELECT leaf_hash FROM entry"))]
    seq = diary.redact("incident", iid, "intimate content")
    assert not marker_in_pages()
    with diary._file.read() as conn:
        leaves_after = [bytes(r[0]) for r in conn.execute(text("SELECT leaf_hash FROM entry"))]
    assert leaves_after[: len(leaves_before)] == leaves_before
    v = diary.incident(iid)
    assert v.redacted and v.data is None and v.redacted_at
    assert diary.attachment(att.id).redacted
    assert [h.redacted_by for h in diary.history("incident", iid)][:2] == [seq, seq]
    with pytest.raises(RecordRedacted):
        diary.edit_incident(iid, IncidentInput(description="x"), "why")
    with pytest.raises(RecordRedacted):
        list(diary.iter_attachment(att.id))
    assert diary.incident(keep).data is not None
    assert [i.id for i in diary.incidents()] == [keep]
    assert diary.summary().redactions == 1
    assert diary.check_file() == []


def test_summary(diary: Diary) -> None:
    add(diary, category="CON", occurred="01/11/2026 10:00")
    add(diary, category="CON", occurred="05/11/2026 10:00")
    add(diary, category="LOI", occurred="03/11/2026 10:00")
    s = diary.summary()
    assert (s.incidents, s.entries) == (3, FRESH_ENTRIES + 3)
    assert s.by_category == {"CON": 2, "LOI": 1}
    assert s.first_incident == "2026-11-01T10:00:00Z"
    assert s.latest_incident == "2026-11-05T10:00:00Z"
    assert s.days_since_latest is not None and s.days_since_latest >= 0


def test_list_filters(diary: Diary) -> None:
    pid = person(diary)
    add(diary, category="CON", occurred="01/11/2026 10:00", people=[pid])
    add(diary, category="LOI", occurred="05/11/2026 10:00")
    lo, hi = diary.date_range("02/11/2026", "05/11/2026")
    assert [
        v.data.category for v in diary.incidents(IncidentFilter(start_utc=lo, end_utc=hi)) if v.data
    ] == ["LOI"]
    assert len(diary.incidents(IncidentFilter(category="CON"))) == 1
    assert len(diary.incidents(IncidentFilter(person_id=pid))) == 1


def test_reopen_sees_everything(diary: Diary, diary_path: Path) -> None:
    iid = add(diary, description="persisted")
    diary.close()
    with Diary.open(diary_path, PASSPHRASE) as again:
        v = again.incident(iid)
        assert v.data is not None and v.data.description == "persisted"


def test_clearing_both_effect_fields(diary: Diary) -> None:
    iid = add(diary, effects=["alarm", "distress"], effect_details="shaken")
    diary.edit_incident(iid, IncidentInput(clear=["effects", "effect_details"]), "too much")
    d = diary.incident(iid).data
    assert d is not None and d.effect.labels() == [] and d.effect.details == ""
    with pytest.raises(InputError):
        diary.edit_incident(iid, IncidentInput(clear=["category"]), "no")


def test_a_new_diary_verifies_and_is_fully_checkpointed(diary: Diary) -> None:
    report = diary.verify()
    assert report.ok, report.problems
    assert report.entries == FRESH_ENTRIES == report.latest_checkpoint


def test_a_stored_blob_reads_back_as_a_seekable_file(diary: Diary) -> None:
    import io
    import random
    import zipfile

    from docket.store import blobs

    rng = random.Random(3)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("a.txt", "hello " * 1000)
        z.writestr("b.bin", rng.randbytes(3 * blobs.CHUNK_SIZE // 2))
    data = buf.getvalue()
    with diary._file.write() as conn:
        stored = blobs.put_chunks(
            conn, [data[i : i + 100_000] for i in range(0, len(data), 100_000)]
        )
        reader = blobs.BlobReader(conn, stored.sha256)
        assert reader.size == len(data) == stored.size
        assert reader.read() == data
        for pos in (0, 1, blobs.CHUNK_SIZE - 3, blobs.CHUNK_SIZE, len(data) - 5, len(data) + 10):
            reader.seek(pos)
            assert reader.read(7) == data[pos : pos + 7]
        reader.seek(-4, io.SEEK_END)
        assert reader.read() == data[-4:]
        with zipfile.ZipFile(io.BufferedReader(reader)) as z:
            assert z.read("a.txt") == b"hello " * 1000
            assert len(z.read("b.bin")) == 3 * blobs.CHUNK_SIZE // 2
