"""A later import adds the files an earlier export only named to the messages already kept:
Messenger's message_1.json then the whole download, WhatsApp's chat text then the zip with
media. Each addition is recorded by its own ``message.files_added`` entry; verify checks the
files against it, the views show them with where they came from, and an evidence bundle
carries the entry so that the open verifier can check them. On both stores."""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console
from sqlalchemy import Engine, text

import docket_verify
from docket.api import Diary
from docket.bundle import Selection
from docket.cli import import_cmds, render
from docket.errors import DocketError
from docket.importer import Summary
from docket.model import forms
from docket.model.records import PersonData
from docket.store import postgres
from tests.conftest import PASSPHRASE, SHARED
from tests.helpers.web import serve, unlock
from tests.test_import_meta import JPEG, ROOT, dyi, make_zip, thread_messages

LRM = "\u200e"
PHOTO_1 = "00000001-PHOTO-2026-11-13-09-00-05.jpg"
PHOTO_2 = "00000002-PHOTO-2026-11-13-09-01-00.jpg"
PHOTO_1_BYTES = b"\xff\xd8\xff\xe0JFIF\x00" + bytes(range(256)) * 20
PHOTO_2_BYTES = b"\xff\xd8\xff\xe0JFIF\x00" + bytes(reversed(range(256))) * 20


# --- helpers ------------------------------------------------------------------------------------


def scalar(d: Diary, sql: str) -> Any:
    with d.store.read() as conn:
        return conn.exec_driver_sql(sql).scalar()


def added_entries(d: Diary) -> list[tuple[int, str, dict[str, Any]]]:
    """(seq, subject, record) of every message.files_added entry, in log order."""
    with d.store.read() as conn:
        found = conn.exec_driver_sql(
            "SELECT seq, subject, record FROM entry WHERE type = 'message.files_added' ORDER BY seq"
        ).all()
    return [(int(s), str(subject), json.loads(r)) for s, subject, r in found]


def tamper(d: Diary, request: pytest.FixtureRequest, sql: str) -> None:
    """Change the stored diary behind Docket's back ({p}: the prefix of table names)."""
    store = d.store
    if isinstance(store, postgres.CaseStore):
        engine: Engine = request.getfixturevalue("pg_engine")
        with engine.begin() as conn:
            conn.execute(text(sql.format(p=f'"{store.schema}".')))
    else:
        with store.write() as conn:
            conn.execute(text(sql.format(p="")))


def problems(d: Diary) -> set[tuple[str, int | None, str | None]]:
    report = d.verify()
    assert not report.ok
    return {(p.code, p.seq, p.subject) for p in report.problems}


def ios_chat(first: str = PHOTO_1, second: str = PHOTO_2) -> str:
    return (
        "[13/11/2026, 09:00:01] Sam: look\n"
        f"[13/11/2026, 09:00:05] Sam: {LRM}<attached: {first}>\n"
        f"[13/11/2026, 09:01:00] Sam: {LRM}<attached: {second}>\n"
        "[13/11/2026, 09:02:00] Me: please stop\n"
    )


def chat_txt(tmp: Path, chat: str, name: str = "WhatsApp Chat - Sam.txt") -> Path:
    path = tmp / name
    path.write_text(chat, encoding="utf-8")
    return path


def chat_zip(tmp: Path, name: str, chat: str, media: dict[str, bytes]) -> Path:
    path = tmp / name
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("_chat.txt", chat)
        for member, data in media.items():
            zf.writestr(member, data)
    return path


def meta_messages() -> list[dict[str, Any]]:
    """Twenty messages with Sam, a photo with every fifth."""
    return thread_messages("Sam Example", 0, 20, photo_every=5, folder="samexample_1")


def meta_json(tmp: Path) -> Path:
    """The conversation's message_1.json on its own: its photos are named, not included."""
    path = tmp / "message_1.json"
    path.write_bytes(dyi(meta_messages(), thread_path="inbox/samexample_1"))
    return path


def meta_zip(tmp: Path, name: str = "facebook-alexdoe-2024.zip", extra: bool = False) -> Path:
    """The whole "Download your information" zip: the same messages, with their photos."""
    members = {
        f"{ROOT}/inbox/samexample_1/message_1.json": dyi(
            meta_messages(), thread_path="inbox/samexample_1"
        )
    }
    for i in range(0, 20, 5):
        members[f"{ROOT}/inbox/samexample_1/photos/{i}.jpg"] = JPEG + bytes([i])
    if extra:  # a later download: other bytes, the same conversation
        members[f"{ROOT}/your_messaging_settings.json"] = b'{"settings": {"x": 1}}'
    return make_zip(tmp / name, members)


def photos(d: Diary) -> dict[str, dict[str, Any]]:
    """The messages' files by their name, as the views show them."""
    return {a["name"]: a for m in d.messages() for a in m.attachments}


# --- Messenger: message_1.json, then the whole download -------------------------------------------


def test_meta_json_then_zip_adds_the_photos(any_diary: Diary, tmp_path: Path) -> None:
    d = any_diary
    first = d.import_file(meta_json(tmp_path))
    assert first.added == 20 and first.files_missing == 4 and first.files_added == 0
    assert all(a["sha256"] is None for a in photos(d).values())

    later = d.import_file(meta_zip(tmp_path))
    assert later.added == 0 and later.duplicates == 20
    assert later.files_added == 4 and later.files_stored == 0 and later.files_missing == 0
    assert later.warnings == []
    assert later.as_json()["files_added"] == 4
    kept = photos(d)
    for i in range(0, 20, 5):
        a = kept[f"{i}.jpg"]
        assert a["sha256"] == hashlib.sha256(JPEG + bytes([i])).hexdigest()
        assert a["size"] == len(JPEG) + 1 and a["media_type"] == "image/jpeg"
        assert a["added"]["source"] == later.source_id
        assert a["added"]["source_name"] == "facebook-alexdoe-2024.zip"
    # one entry per message, naming the message, the import and the files
    entries = added_entries(d)
    assert len(entries) == 4
    for _seq, subject, record in entries:
        assert subject == f"message/{record['message']}"
        assert record["source"] == later.source_id
        [f] = record["files"]
        assert set(f) == {"idx", "name", "sha256", "size", "media_type", "declared_type"}
        assert f["idx"] == 0 and f["media_type"] == "image/jpeg"
    assert scalar(d, "SELECT count(*) FROM message_file") == 4
    # the stored message and its record are as the first import wrote them
    mid = entries[0][2]["message"]
    stored = json.loads(scalar(d, f"SELECT attachments FROM message WHERE id = {mid}"))
    assert stored[0]["sha256"] is None
    # the source's recorded summary says so too
    summary = next(s for s in d.sources() if s["id"] == later.source_id)["summary"]
    assert summary["files_added"] == 4
    report = d.verify()
    assert report.ok, report.problems
    assert report.files == 2 + 4  # the two originals and the four photos

    # idempotent: the same download again adds nothing; a later one adds nothing either
    again = d.import_file(meta_zip(tmp_path))
    assert again.already_imported_at is not None and again.files_added == 0
    third = d.import_file(meta_zip(tmp_path, "facebook-alexdoe-2024-06.zip", extra=True))
    assert third.added == 0 and third.duplicates == 20 and third.files_added == 0
    assert third.warnings == []
    assert len(added_entries(d)) == 4
    assert scalar(d, "SELECT count(*) FROM message_file") == 4
    assert d.verify().ok


# --- WhatsApp: the chat text, then the zip with media ---------------------------------------------


def test_whatsapp_txt_then_zips_add_what_each_has(any_diary: Diary, tmp_path: Path) -> None:
    d = any_diary
    first = d.import_file(chat_txt(tmp_path, ios_chat()))
    assert first.added == 4 and first.files_missing == 2
    # a zip with only the first photo: it is added; the second stays missing
    one = d.import_file(
        chat_zip(tmp_path, "WhatsApp Chat - Sam.zip", ios_chat(), {PHOTO_1: PHOTO_1_BYTES})
    )
    assert one.added == 0 and one.duplicates == 4 and one.files_added == 1
    assert one.warnings == []
    kept = photos(d)
    assert kept[PHOTO_1]["sha256"] and kept[PHOTO_1]["added"]["source"] == one.source_id
    assert kept[PHOTO_2]["sha256"] is None and "added" not in kept[PHOTO_2]
    # a later zip with both: only the second is new
    both = d.import_file(
        chat_zip(
            tmp_path,
            "WhatsApp Chat - Sam (2).zip",
            ios_chat(),
            {PHOTO_1: PHOTO_1_BYTES, PHOTO_2: PHOTO_2_BYTES},
        )
    )
    assert both.files_added == 1 and both.duplicates == 4 and both.warnings == []
    kept = photos(d)
    assert kept[PHOTO_1]["added"]["source"] == one.source_id
    assert kept[PHOTO_2]["added"]["source"] == both.source_id
    assert len(added_entries(d)) == 2
    # and a third time: nothing
    third = d.import_file(
        chat_zip(
            tmp_path,
            "WhatsApp Chat - Sam (3).zip",
            ios_chat() + "[13/11/2026, 09:03:00] Sam: again\n",
            {PHOTO_1: PHOTO_1_BYTES, PHOTO_2: PHOTO_2_BYTES},
        )
    )
    assert third.added == 1 and third.files_added == 0 and len(added_entries(d)) == 2
    report = d.verify()
    assert report.ok, report.problems


def test_whatsapp_exported_without_media_then_with(any_diary: Diary, tmp_path: Path) -> None:
    """Android's "<Media omitted>" names no file: the file in that place is added."""
    d = any_diary
    without = "13/11/2026, 09:00 - Sam: <Media omitted>\n13/11/2026, 09:01 - Sam: hello\n"
    with_media = (
        "13/11/2026, 09:00 - Sam: IMG-20261113-WA0001.jpg (file attached)\n"
        "13/11/2026, 09:01 - Sam: hello\n"
    )
    first = d.import_file(chat_txt(tmp_path, without), day_first=True)
    assert first.added == 2
    later = d.import_file(
        chat_zip(
            tmp_path,
            "WhatsApp Chat with Sam.zip",
            with_media,
            {"IMG-20261113-WA0001.jpg": PHOTO_1_BYTES},
        ),
        day_first=True,
    )
    assert later.added == 0 and later.duplicates == 2 and later.files_added == 1
    [m] = [m for m in d.messages() if m.attachments]
    [a] = m.attachments
    assert a["name"] == "IMG-20261113-WA0001.jpg" and a["sha256"] and a["note"] is None
    assert d.verify().ok


def test_a_file_with_another_name_is_not_added(any_diary: Diary, tmp_path: Path) -> None:
    d = any_diary
    d.import_file(chat_txt(tmp_path, ios_chat()))
    other = "00000009-PHOTO-2026-11-13-09-00-05.jpg"
    s = d.import_file(
        chat_zip(
            tmp_path,
            "WhatsApp Chat - Sam.zip",
            ios_chat(first=other),
            {other: PHOTO_1_BYTES},
        )
    )
    assert s.duplicates == 4 and s.files_added == 0 and s.files_stored == 0
    [w] = s.warnings
    assert w["code"] == "file_not_added" and other in w["message"] and PHOTO_1 in w["message"]
    assert w["line"] == 2
    assert added_entries(d) == [] and scalar(d, "SELECT count(*) FROM message_file") == 0
    assert photos(d)[PHOTO_1]["sha256"] is None
    assert d.verify().ok


# --- verify ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("change", ["extra_row", "changed_sha256", "deleted_row"])
def test_verify_reports_changes_to_added_files(
    any_diary: Diary, tmp_path: Path, request: pytest.FixtureRequest, change: str
) -> None:
    d = any_diary
    d.import_file(chat_txt(tmp_path, ios_chat()))
    d.import_file(
        chat_zip(tmp_path, "WhatsApp Chat - Sam.zip", ios_chat(), {PHOTO_1: PHOTO_1_BYTES})
    )
    report = d.verify()
    assert report.ok, report.problems
    [(seq, subject, record)] = added_entries(d)
    mid = record["message"]
    original = "(SELECT sha256 FROM {p}source WHERE id = 1)"  # a stored blob, not the photo
    if change == "extra_row":
        # a file in the second photo's place, which no log entry records
        other = next(m.id for m in d.messages() if m.attachments and m.id != mid)
        tamper(
            d,
            request,
            "INSERT INTO {p}message_file (message_id, idx, sha256) "
            f"SELECT {other}, 0, sha256 FROM {{p}}source WHERE id = 1",
        )
        assert problems(d) == {("table_changed", None, f"message/{other}")}
    elif change == "changed_sha256":
        tamper(
            d,
            request,
            f"UPDATE {{p}}message_file SET sha256 = {original} WHERE message_id = {mid}",
        )
        assert problems(d) == {("table_changed", seq, subject)}
    else:
        tamper(d, request, f"DELETE FROM {{p}}message_file WHERE message_id = {mid}")
        assert problems(d) == {("table_changed", seq, subject)}


def test_verify_still_reports_the_records_own_files(
    any_diary: Diary, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    """A file that came with the message is still checked against the batch's record, and a
    row beyond the record's places is reported."""
    d = any_diary
    d.import_file(chat_zip(tmp_path, "a.zip", ios_chat(), {PHOTO_1: PHOTO_1_BYTES}))
    assert d.verify().ok
    batch = int(scalar(d, "SELECT seq FROM entry WHERE type = 'messages.imported'"))
    mid = next(m.id for m in d.messages() if m.attachments and m.attachments[0]["sha256"])
    tamper(
        d,
        request,
        "INSERT INTO {p}message_file (message_id, idx, sha256) "
        f"SELECT {mid}, 3, sha256 FROM {{p}}message_file WHERE message_id = {mid}",
    )
    assert problems(d) == {("table_changed", None, f"message/{mid}")}
    tamper(d, request, f"DELETE FROM {{p}}message_file WHERE message_id = {mid} AND idx = 0")
    assert problems(d) == {
        ("table_changed", None, f"message/{mid}"),
        ("table_changed", batch, "source/1"),
    }


# --- the evidence bundle ------------------------------------------------------------------------


def test_a_bundle_with_an_added_file_verifies_offline(any_diary: Diary, tmp_path: Path) -> None:
    d = any_diary
    sam = d.add_person(
        PersonData(
            "Sam",
            "responsible",
            "ex_partner",
            identifiers=d.parse_identifiers([], [], ["whatsapp:Sam"], []),
        )
    ).id
    d.add_incident(
        forms.IncidentInput(
            occurred="2026-11-13 09:30",
            category="CON",
            description="He sent me photos of my house.",
            people=[sam],
            channel="whatsapp",
        )
    )
    d.import_file(chat_txt(tmp_path, ios_chat()))
    d.import_file(
        chat_zip(tmp_path, "WhatsApp Chat - Sam.zip", ios_chat(), {PHOTO_1: PHOTO_1_BYTES})
    )
    [(seq, _, record)] = added_entries(d)
    photo_sha = record["files"][0]["sha256"]
    out = tmp_path / "bundle.zip"
    result = d.export(out, Selection(person=sam, messages=True), recipient="Kent Police, PC 1234")
    assert result.messages == 3
    report = docket_verify.verify_bundle(out, key=d.key().encode())
    assert report.ok, [f.reason for f in report.failures]
    assert any(e.seq == seq and e.type == "message.files_added" for e in report.entries)
    [photo] = [f for f in report.files if f.sha256 == photo_sha]
    assert photo.ok and photo.name == PHOTO_1
    assert photo.named_by == (f"entry {seq} (added later to message {record['message']})",)
    assert report.missing_files == []
    with zipfile.ZipFile(out) as z:
        assert z.read(f"files/{photo_sha}") == PHOTO_1_BYTES
    text_report = docket_verify.render_text(report)
    assert "added later to message" in text_report
    assert d.verify().ok


def test_the_verifier_refuses_a_file_added_in_a_place_already_filled() -> None:
    """The open verifier's own check: an added file must fill a place the disclosed
    message's record leaves empty, under the same name (or none)."""
    record = {
        "message": 4,
        "source": 2,
        "files": [{"idx": 0, "name": "a.jpg", "sha256": "ab" * 32, "size": 3}],
    }
    at = "2026-11-13T09:30:00Z"
    entry = docket_verify.LogEntry(9, "message.files_added", "message/4", at, record)
    assert docket_verify._added_refs(entry) == [(4, 0, "a.jpg", "ab" * 32, 3)]
    empty = {"attachments": [{"name": "a.jpg", "sha256": None}]}
    docket_verify._check_added_place(empty, 4, 0, "a.jpg")
    docket_verify._check_added_place({"attachments": [{"name": "", "sha256": None}]}, 4, 0, "a.jpg")
    for message in (
        {"attachments": [{"name": "a.jpg", "sha256": "cd" * 32}]},  # filled already
        {"attachments": []},  # no such place
        {"attachments": [{"name": "b.jpg", "sha256": None}]},  # another file
    ):
        with pytest.raises(docket_verify.VerifyError):
            docket_verify._check_added_place(message, 4, 0, "a.jpg")
    for bad in (
        docket_verify.LogEntry(9, "message.files_added", "message/5", at, record),
        docket_verify.LogEntry(9, "message.files_added", "message/4", at, {**record, "files": []}),
        docket_verify.LogEntry(
            9,
            "message.files_added",
            "message/4",
            at,
            {**record, "files": [{"idx": 0, "name": "a.jpg", "sha256": "AB" * 32, "size": 3}]},
        ),
    ):
        with pytest.raises(docket_verify.VerifyError):
            docket_verify._added_refs(bad)


# --- what people see ------------------------------------------------------------------------------


def test_the_summary_says_how_many_files_were_added(monkeypatch: pytest.MonkeyPatch) -> None:
    buffer = io.StringIO()
    monkeypatch.setattr(render, "out", Console(file=buffer, width=200, highlight=False))
    s = Summary(file="facebook.zip", importer="messenger", source_id=2, duplicates=20)
    s.files_added = 4
    import_cmds.show(s)
    assert "Files added to messages already kept: 4" in buffer.getvalue()
    buffer.truncate(0)
    import_cmds.show(Summary(file="chat.txt", importer="whatsapp", source_id=1, added=3))
    assert "added to messages already kept" not in buffer.getvalue()


def test_the_message_page_shows_an_added_file_and_its_origin(
    diary_path: Path, tmp_path: Path
) -> None:
    Diary.create(diary_path, PASSPHRASE).close()
    with serve(diary_path) as server, server.client() as client:
        unlock(client, PASSPHRASE)
        with server.state.diary() as d:
            d.import_file(chat_txt(tmp_path, ios_chat()))
            d.import_file(
                chat_zip(tmp_path, "WhatsApp Chat - Sam.zip", ios_chat(), {PHOTO_1: PHOTO_1_BYTES})
            )
            [m] = [m for m in d.messages() if m.attachments and m.attachments[0]["sha256"]]
            [a] = m.attachments
        page = client.get(f"/messages/{m.id}").text
        assert a["sha256"] in page
        assert "Added later, by the import of WhatsApp Chat - Sam.zip" in page
        other = next(x for x in d.messages() if x.attachments and x.id != m.id)
        assert "not in the export" in client.get(f"/messages/{other.id}").text
        assert f"{a['name']} (added later)" in client.get("/timeline").text
        # the file itself, byte for byte: a picture shown in the page, never run
        got = client.get(f"/messages/{m.id}/files/0")
        assert got.status_code == 200 and got.content == PHOTO_1_BYTES
        assert got.headers["content-type"] == "image/jpeg"
        assert got.headers["content-disposition"].startswith("inline")
        assert "sandbox" in got.headers["content-security-policy"]
        saved = client.get(f"/messages/{m.id}/files/0?download=1")
        assert saved.content == PHOTO_1_BYTES
        assert saved.headers["content-type"] == "application/octet-stream"
        assert saved.headers["content-disposition"].startswith("attachment")
        # a file the export only named, and a place the message does not have
        assert client.get(f"/messages/{other.id}/files/0").status_code == 404
        assert client.get(f"/messages/{m.id}/files/5").status_code == 404
        assert "1 file added to messages kept before" in client.get("/import").text


# --- the shared corpus --------------------------------------------------------------------------


needs_samples = pytest.mark.skipif(
    not (SHARED / "samples" / "whatsapp").is_dir(), reason="shared samples not present"
)


@needs_samples
def test_the_shared_corpus_is_unaffected(diary: Diary) -> None:
    """Real exports: nothing is added to any message, and a chat's text then its zip (the
    same chat) is all duplicates, as before."""
    samples = SHARED / "samples"
    txt = diary.import_file(
        samples / "whatsapp" / "android_enGB_ddmmyyyy_24h_2017__rwhatsapp.txt", day_first=True
    )
    zipped = diary.import_file(
        samples / "whatsapp" / "android_enGB_2017__rwhatsapp.zip", day_first=True
    )
    assert txt.added > 0 and zipped.added == 0 and zipped.duplicates == txt.added
    assert zipped.files_added == 0 and zipped.files_stored == 0
    assert [w for w in zipped.warnings if w["code"] == "file_not_added"] == []
    skipped: list[str] = []
    for folder in ("facebook_messenger", "instagram", "whatsapp"):
        for path in sorted((samples / folder).iterdir()):
            if path.suffix not in (".json", ".txt", ".zip"):
                continue
            try:
                s = diary.import_file(path, day_first=True)
            except DocketError:  # a damaged sample: its importer's own tests cover it
                skipped.append(path.name)
                continue
            assert s.files_added == 0, path.name
            assert not [w for w in s.warnings if w["code"] == "file_not_added"], path.name
    assert skipped == []
    assert added_entries(diary) == []
    report = diary.verify()
    assert report.ok, report.problems
