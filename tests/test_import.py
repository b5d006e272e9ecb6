"""The import pipeline, end to end on real encrypted diaries: what is added, what is skipped as
already there, how senders map to the register, that a failed import changes nothing, and that
``verify`` catches any change to what was imported."""

from __future__ import annotations

import base64
import json
import zipfile
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import text

from docket.api import Diary
from docket.errors import ImportFormatError, UnknownFormat
from docket.importer import canonical_json
from docket.model.entry import canonical
from docket.model.identifiers import Identifier
from docket.model.records import PersonData
from tests.conftest import PASSPHRASE, SHARED, run_cli
from tests.helpers.checks import files_containing


def chat_lines(start: int, end: int, *, marker: str = "") -> list[str]:
    """Android en-GB lines: messages start..end-1, alternating Sam and Alex, one a minute."""
    out = []
    for i in range(start, end):
        who = "Sam" if i % 3 else "Alex"
        day = 13 + i // 600
        hour, minute = divmod(i % 600, 60)
        body = f"message {i} {marker}".strip()
        if i % 7 == 0:
            body += "\nsecond line of it"
        out.append(f"{day:02d}/11/2026, {8 + hour:02d}:{minute:02d} - {who}: {body}")
    return out


def write_chat(path: Path, lines: list[str], header: bool = True) -> Path:
    top = (
        [
            "13/11/2026, 07:59 - Messages and calls are end-to-end encrypted. No one outside of "
            "this chat, not even WhatsApp, can read or listen to them."
        ]
        if header
        else []
    )
    path.write_text("\n".join(top + lines) + "\n", encoding="utf-8")
    return path


def entries(d: Diary) -> int:
    return d.summary().entries


def test_whatsapp_import_adds_messages_maps_people_and_verifies(
    diary: Diary, tmp_path: Path
) -> None:
    sam = diary.add_person(PersonData(name="Sam Example"))
    chat = write_chat(tmp_path / "WhatsApp Chat with Sam.txt", chat_lines(0, 60))
    s = diary.import_file(chat, me=("Alex",), person=sam.id)
    assert s.importer == "whatsapp" and s.added == 61 and s.duplicates == 0
    assert s.by_kind == {"message": 60, "system": 1}
    assert s.by_sender["Sam"] == 40 and s.by_sender["Alex"] == 20
    assert s.linked == "Sam → Sam Example" and s.unknown_senders == []
    msgs = diary.messages()
    assert len(msgs) == 61
    first = next(m for m in msgs if m.body and m.body.startswith("message 0"))
    assert first.body == "message 0\nsecond line of it"
    assert first.direction == "outgoing" and first.sender_raw == "Alex"
    assert first.sent_at == "2026-11-13T08:00:00Z" and first.local_time.startswith("13/11/2026")
    by_sam = diary.messages(person_id=sam.id)
    assert len(by_sam) == 40 and all(m.direction == "incoming" for m in by_sam)
    assert diary.person(sam.id).data.identifiers[-1].label() == "whatsapp:sam"  # type: ignore[union-attr]
    report = diary.verify()
    assert report.ok, report.problems
    assert report.files >= 1  # the original export, kept inside the diary
    [src] = diary.sources()
    assert src["name"] == chat.name and src["importer"] == "whatsapp"
    assert src["summary"]["added"] == 61


def test_the_same_file_twice_adds_nothing(diary: Diary, tmp_path: Path) -> None:
    chat = write_chat(tmp_path / "chat.txt", chat_lines(0, 30))
    diary.import_file(chat)
    before = entries(diary)
    again = diary.import_file(chat)
    assert again.already_imported_at is not None and again.added == 0
    assert entries(diary) == before
    copy = tmp_path / "renamed copy.txt"
    copy.write_bytes(chat.read_bytes())
    assert diary.import_file(copy).already_imported_at is not None  # by content, not name


def test_a_later_overlapping_export_adds_only_what_is_new(diary: Diary, tmp_path: Path) -> None:
    diary.import_file(write_chat(tmp_path / "a.txt", chat_lines(0, 40)))
    later = diary.import_file(write_chat(tmp_path / "b.txt", chat_lines(25, 70)))
    assert later.added == 30 and later.duplicates == 16  # 15 messages and the notice
    bodies = [m.body for m in diary.messages() if m.kind == "message"]
    assert len(bodies) == 70 and len(set(bodies)) == 70
    assert diary.verify().ok


def test_identical_messages_at_the_same_minute_are_all_kept(diary: Diary, tmp_path: Path) -> None:
    same = ["14/11/2026, 23:01 - Sam: answer me"] * 5
    first = diary.import_file(
        write_chat(tmp_path / "a.txt", [*same[:3], "14/11/2026, 23:02 - Sam: x"])
    )
    assert first.added == 5
    second = diary.import_file(
        write_chat(tmp_path / "b.txt", [*same, "14/11/2026, 23:02 - Sam: x"])
    )
    assert second.added == 2 and second.duplicates == 5
    assert sum(m.body == "answer me" for m in diary.messages()) == 5


def sbr(tmp_path: Path, name: str = "sms-20261120.xml", *, truncate: bool = False) -> Path:
    png = base64.b64encode(b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 40).decode()
    xml = f"""<?xml version='1.0' encoding='UTF-8' standalone='yes' ?>
<smses count="4">
  <sms protocol="0" address="07700 900123" date="1763600000000" type="1" subject="null"
       body="I know where you are &#55357;&#56865;" read="1" status="-1" locked="0"
       date_sent="1763599999000" readable_date="20 Nov 2025 00:53:20" contact_name="(Unknown)" />
  <sms protocol="0" address="+447700900123" date="1763600060000" type="2" subject="null"
       body="Please stop contacting me.&#10;I mean it." read="1" status="-1" locked="0"
       date_sent="0" contact_name="(Unknown)" />
  <mms date="1763600120000" msg_box="1" address="+447700900123" m_type="132" date_sent="1763600119"
       read="1" ct_t="application/vnd.wap.multipart.related" sub="null">
    <parts>
      <part seq="-1" ct="application/smil" cl="smil.xml" text="&lt;smil&gt;&lt;/smil&gt;" />
      <part seq="0" ct="image/png" cl="IMG_0001.png" name="IMG_0001.png" data="{png}" />
      <part seq="1" ct="text/plain" chset="106" text="outside your house" />
    </parts>
    <addrs>
      <addr address="+447700900123" type="137" charset="106" />
      <addr address="+447700900999" type="151" charset="106" />
    </addrs>
  </mms>
  <sms protocol="0" address="+447700900555" date="1763600180000" type="1" subject="null"
       body="from someone else" read="1" status="-1" locked="0" date_sent="0" />
</smses>
"""
    path = tmp_path / name
    data = xml.encode()
    path.write_bytes(data[: len(data) * 2 // 3] if truncate else data)
    return path


def test_sms_backup_restore_import_keeps_files_and_maps_numbers(
    diary: Diary, tmp_path: Path
) -> None:
    sam = diary.add_person(
        PersonData(name="Sam Example", identifiers=(Identifier("phone", "+447700900123"),))
    )
    s = diary.import_file(sbr(tmp_path))
    assert s.importer == "sms-backup-restore" and s.added == 4
    assert s.files_stored == 1
    assert [u["identifier"] for u in s.unknown_senders] == ["+447700900555"]
    from_sam = diary.messages(person_id=sam.id)
    assert [m.channel for m in from_sam] == ["sms", "mms"]  # 07700… and +44… are one number
    assert from_sam[0].body == "I know where you are \U0001f621"
    [mms] = [m for m in from_sam if m.channel == "mms"]
    assert mms.body == "outside your house" and mms.attachments[0]["media_type"] == "image/png"
    assert diary.verify().ok
    again = diary.import_file(sbr(tmp_path, "sms-later.xml"))  # same content, new name
    assert again.already_imported_at is not None


def test_a_failed_import_changes_nothing(diary: Diary, tmp_path: Path) -> None:
    diary.import_file(write_chat(tmp_path / "ok.txt", chat_lines(0, 5)))
    before = (entries(diary), len(diary.messages()), len(diary.sources()))
    with pytest.raises(ImportFormatError) as err:
        diary.import_file(sbr(tmp_path, truncate=True))
    assert err.value.location is not None and err.value.location.file == "sms-20261120.xml"
    assert err.value.location.line is not None
    junk = tmp_path / "junk.bin"
    junk.write_bytes(bytes(range(256)) * 100)
    with pytest.raises(UnknownFormat):
        diary.import_file(junk)
    assert (entries(diary), len(diary.messages()), len(diary.sources())) == before
    assert diary.verify().ok


def test_whatsapp_zip_media_is_kept_as_evidence(diary: Diary, tmp_path: Path) -> None:
    photo = b"\xff\xd8\xff\xe0" + b"JFIF" + bytes(5000)
    z = tmp_path / "WhatsApp Chat - Sam.zip"
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
    s = diary.import_file(z)
    assert s.added == 3 and s.files_stored == 1 and s.files_missing == 1
    [with_photo] = [m for m in diary.messages() if m.attachments and m.attachments[0]["sha256"]]
    assert with_photo.attachments[0]["media_type"] == "image/jpeg"
    assert diary.verify().ok


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE message SET body = 'nothing happened' WHERE id = 3",
        "UPDATE message SET sent_at = '2026-01-01T00:00:00Z' WHERE id = 4",
        "UPDATE message SET sender_value = 'someone else' WHERE id = 5",
        "DELETE FROM message WHERE id = 6",
        "UPDATE message SET attachments = '[]' WHERE id = 3",
        "DELETE FROM message_file",
        "UPDATE source SET name = 'other.xml'",
        "UPDATE chunk SET data = zeroblob(length(data))",
    ],
)
def test_changes_to_imported_items_are_caught(
    diary_path: Path, tmp_path: Path, statement: str
) -> None:
    with Diary.create(diary_path, PASSPHRASE) as d:
        d.import_file(sbr(tmp_path))
        d.import_file(write_chat(tmp_path / "c.txt", chat_lines(0, 10)))
        assert d.verify().ok
        with d._file.write() as conn:
            conn.execute(text("PRAGMA foreign_keys = OFF"))
            conn.execute(text(statement))
        report = d.verify()
    assert not report.ok, statement


def test_cli_import_summary_json_and_messages(
    diary_path: Path, tmp_path: Path, cli_env: dict[str, str]
) -> None:
    run_cli(["init"], cli_env, check=True)
    chat = write_chat(tmp_path / "WhatsApp Chat with Sam.txt", chat_lines(0, 12))
    out = run_cli(["import", str(chat), "--me", "Alex"], cli_env, check=True).stdout
    assert "Added 13 items" in out and "not in your register" in out and "Sam" in out
    again = run_cli(["import", str(chat), "--json"], cli_env, check=True)
    assert json.loads(again.stdout)["already_imported_at"]
    listed = run_cli(["messages", "--json", "--limit", "5"], cli_env, check=True)
    assert len(json.loads(listed.stdout)) == 5
    bad = run_cli(["import", str(tmp_path / "missing.txt")], cli_env)
    assert bad.returncode == 2 and "There is no file" in bad.stderr
    assert run_cli(["verify"], cli_env).returncode == 0


def test_no_plaintext_from_an_import_reaches_disk(
    diary_path: Path, tmp_path: Path, cli_env: dict[str, str]
) -> None:
    marker = "ZEBRA-MARKER-7731"
    run_cli(["init"], cli_env, check=True)
    source_dir = tmp_path / "outside"
    source_dir.mkdir()
    chat = write_chat(source_dir / "chat.txt", chat_lines(0, 40, marker=marker))
    run_cli(["import", str(chat)], cli_env, check=True)
    run_cli(["messages"], cli_env, check=True)
    leaks = [
        p for p in files_containing([tmp_path], marker.encode()) if source_dir not in p.parents
    ]
    assert leaks == []


@pytest.mark.skipif(not SHARED.is_dir(), reason="the shared sample corpus is not present")
def test_every_shared_sample_imports_and_verifies(diary: Diary) -> None:
    samples = sorted(
        p
        for folder in ("whatsapp", "sms_backup_restore")
        for p in (SHARED / "samples" / folder).iterdir()
        if p.suffix in (".txt", ".zip", ".xml")
    )
    assert len(samples) >= 30
    cut_short = {"sms_and_mms_rcs_anonymised__smsbackupreader2.xml"}  # ends inside an <mms>
    for p in samples:
        if p.name in cut_short:
            with pytest.raises(ImportFormatError) as err:
                diary.import_file(p)
            assert "--partial" in (err.value.hint or "")
        s = diary.import_file(p, partial=p.name in cut_short)
        assert s.added + s.duplicates > 0 or s.already_imported_at, p.name
        if p.name in cut_short:
            assert s.added == 49 and s.warnings[-1]["code"] == "file_ends_early"
    report = diary.verify()
    assert report.ok, report.problems


record_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**53) + 1, 2**53 - 1) | st.text(),
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(
            st.text(alphabet=st.characters(max_codepoint=127), max_size=8), inner, max_size=4
        )
    ),
    max_leaves=20,
)


@given(record_values)
def test_message_records_are_rfc8785_canonical(value: object) -> None:
    """The pipeline's fast encoder gives RFC 8785 bytes for every value a record can hold."""
    assert canonical_json(value).encode() == canonical(value)
