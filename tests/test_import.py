"""The import pipeline, end to end on real encrypted diaries: what is added, what is skipped as
already there, how senders map to the register, that a failed import changes nothing, and that
``verify`` catches any change to what was imported."""

from __future__ import annotations

import base64
import hashlib
import json
import string
import zipfile
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import text

from docket import importer as pipeline
from docket.api import Diary
from docket.errors import ImportFormatError, UnknownFormat
from docket.importer import Summary, canonical_json
from docket.importers.base import (
    Context,
    Importer,
    ImportWarning,
    Item,
    Party,
    Probe,
    Source,
)
from docket.ledger import merkle
from docket.model.entry import canonical
from docket.model.identifiers import Identifier
from docket.model.records import PersonData
from docket.model.timeparse import utc_rfc3339
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


# --- the write path: chunked inserts, the record written out by hand, time-ordered keys -------


class ListImporter(Importer):
    """An importer whose items are given to it: for feeding the pipeline items no export
    format would produce together (every field empty or set, odd text)."""

    name = "test-list"
    version = "1"
    label = "items given by a test"

    def __init__(self, items: list[Item]) -> None:
        self.items = items

    def score(self, probe: Probe) -> float:
        return 0.0

    def parse(self, source: Source, context: Context) -> Iterator[Item | ImportWarning]:
        yield from self.items


def import_items(diary: Diary, tmp_path: Path, items: list[Item], tag: str) -> Summary:
    """Run the real pipeline on ``items`` (the file only stands for the original)."""
    path = tmp_path / f"items-{tag}.bin"
    path.write_bytes(tag.encode())
    with diary._write() as conn:
        return pipeline.run(
            conn,
            Source(path),
            pipeline.Options(),
            sha256=hashlib.sha256(tag.encode()).digest(),
            importer=ListImporter(items),
            name=path.name,
        )


ROW_COLUMNS = (
    "kind, channel, direction, thread, sender_raw, recipients, sent_at, local_time, "
    "time_note, body, deleted, call_type, duration_s, line, offset, raw"
)


def stored_rows(diary: Diary, source_id: int) -> list[tuple[object, ...]]:
    with diary._file.read() as conn:
        return [
            tuple(r)
            for r in conn.execute(
                text(f"SELECT {ROW_COLUMNS} FROM message WHERE source_id = :s ORDER BY id"),
                {"s": source_id},
            )
        ]


def expected_row(item: Item) -> tuple[object, ...]:
    return (
        item.kind,
        item.channel,
        item.direction,
        item.thread,
        None if item.sender is None else item.sender.raw,
        canonical_json([{"raw": p.raw, "kind": p.kind} for p in item.recipients]),
        None if item.sent_at is None else utc_rfc3339(item.sent_at),
        item.local_time,
        item.time_note,
        item.body,
        int(item.deleted),
        item.call_type,
        item.duration_s,
        item.line,
        item.offset,
        canonical_json(item.raw),
    )


any_text = st.text(st.characters(exclude_categories=("Cs",)), max_size=30)
parties = st.builds(
    Party,
    raw=any_text,
    kind=st.sampled_from(["name", "phone", "email", "handle", "withheld"]),
)
items = st.builds(
    Item,
    kind=st.sampled_from(["message", "call", "system", "file"]),
    channel=st.sampled_from(["whatsapp", "sms", "email"]),
    direction=st.sampled_from(["incoming", "outgoing", "unknown"]),
    sender=st.none() | parties,
    sent_at=st.none()
    | st.datetimes(
        min_value=datetime(1930, 1, 1),
        max_value=datetime(2090, 1, 1),
        timezones=st.sampled_from([UTC, timezone(timedelta(hours=-7, minutes=-30))]),
    ),
    local_time=any_text,
    body=st.none() | any_text,
    recipients=st.lists(parties, max_size=2).map(tuple),
    thread=st.none() | any_text,
    time_note=st.none() | st.sampled_from(["ambiguous", "nonexistent"]),
    deleted=st.booleans(),
    call_type=st.none() | st.sampled_from(["incoming", "missed", "unknown"]),
    duration_s=st.none() | st.integers(0, 2**40),
    line=st.none() | st.integers(1, 2**31),
    offset=st.none() | st.integers(0, 2**62),
    raw=st.dictionaries(st.text(string.ascii_letters, max_size=6), any_text, max_size=3),
)


def test_any_items_are_stored_as_given_and_verify(diary: Diary, tmp_path: Path) -> None:
    """Every field, set or empty, in any text (NUL, newlines, emoji, right-to-left marks),
    comes back from the table as the item gave it, and verify rebuilds every leaf: the
    record the importer wrote out by hand is canonical_json(message_record(...))."""
    count = iter(range(10**6))

    @settings(max_examples=30, deadline=None, suppress_health_check=list(HealthCheck))
    @given(st.lists(items, min_size=1, max_size=12))
    def check(batch: list[Item]) -> None:
        s = import_items(diary, tmp_path, batch, f"example-{next(count)}")
        assert s.source_id is not None
        stored = stored_rows(diary, s.source_id)
        assert s.added + s.duplicates == len(batch)
        kept = [expected_row(i) for i in batch]
        assert len(stored) == s.added and all(row in kept for row in stored)
        if s.duplicates == 0:
            assert stored == kept

    check()
    report = diary.verify()
    assert report.ok, report.problems


def test_a_large_overlapping_export_adds_only_what_is_new(diary: Diary, tmp_path: Path) -> None:
    """Thousands of messages: several batches and INSERT chunks of every size, then a later
    export overlapping the first by 1,200 messages."""
    first = diary.import_file(write_chat(tmp_path / "a.txt", chat_lines(0, 4237)))
    assert first.added == 4238
    later = diary.import_file(write_chat(tmp_path / "b.txt", chat_lines(3037, 6100)))
    assert later.added == 1863 and later.duplicates == 1201  # 1,200 messages and the notice
    bodies = [m.body for m in diary.messages() if m.kind == "message"]
    assert len(bodies) == 6100 and len(set(bodies)) == 6100
    assert diary.verify().ok


def test_settling_by_key_when_the_time_span_is_crowded(
    diary: Diary, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """When a batch's span of time holds more messages than one range query fetches, the
    batch is settled key by key, with the same result."""
    monkeypatch.setattr(pipeline, "KNOWN_LIMIT", 3)
    diary.import_file(write_chat(tmp_path / "a.txt", chat_lines(0, 40)))
    later = diary.import_file(write_chat(tmp_path / "b.txt", chat_lines(25, 70)))
    assert later.added == 30 and later.duplicates == 16
    same = ["14/11/2026, 23:01 - Sam: answer me"] * 5
    diary.import_file(write_chat(tmp_path / "c.txt", same[:3]))
    again = diary.import_file(write_chat(tmp_path / "d.txt", [*same, "14/11/2026, 23:05 - Sam: x"]))
    assert again.added == 3 and again.duplicates == 4  # 3 of the 5, and the notice
    assert diary.verify().ok


def test_items_without_a_time_are_recognised_again(diary: Diary, tmp_path: Path) -> None:
    undated = [
        Item(
            kind="message",
            channel="sms",
            direction="incoming",
            sender=Party("Sam"),
            sent_at=None,
            local_time="yesterday",
            body=f"note {i % 3}",
        )
        for i in range(7)
    ]
    assert import_items(diary, tmp_path, undated, "one").added == 7
    dated = Item(
        kind="message",
        channel="sms",
        direction="incoming",
        sender=Party("Sam"),
        sent_at=datetime(2026, 1, 1, tzinfo=UTC),
        local_time="1 Jan",
        body="new",
    )
    again = import_items(diary, tmp_path, [*undated, *undated[:2], dated], "two")
    assert again.added == 3 and again.duplicates == 7  # two more identical notes, one new
    assert diary.verify().ok


def test_content_keys_sort_by_time(diary: Diary, tmp_path: Path) -> None:
    """The unique index on content keys grows at its end, like the others."""
    diary.import_file(write_chat(tmp_path / "a.txt", chat_lines(0, 300)))
    with diary._file.read() as conn:
        rows = conn.execute(text("SELECT sent_at, dedupe FROM message ORDER BY id")).all()
    assert [r.dedupe for r in rows] == sorted(r.dedupe for r in rows)
    assert len({bytes(r.dedupe) for r in rows}) == len(rows)


def test_an_importer_giving_the_wrong_type_fails_the_import_cleanly(
    diary: Diary, tmp_path: Path
) -> None:
    before = entries(diary)
    bad = Item(
        kind="message",
        channel="sms",
        direction="incoming",
        sender=None,
        sent_at=None,
        local_time="now",
        line="7",
    )  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        import_items(diary, tmp_path, [bad], "bad")
    assert entries(diary) == before and diary.sources() == []


@given(
    st.datetimes(
        min_value=datetime(1, 1, 2),
        max_value=datetime(9999, 12, 30),
        timezones=st.sampled_from(
            [UTC, timezone(timedelta(hours=14)), timezone(-timedelta(hours=11, minutes=30))]
        ),
    )
)
def test_the_clock_writes_times_as_utc_rfc3339_does(when: datetime) -> None:
    text_, prefix = pipeline._Clock()(when)
    assert text_ == utc_rfc3339(when)
    second = (when - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(seconds=1)
    assert int.from_bytes(prefix, "big") - 2**63 == second


@pytest.mark.parametrize("n", [*range(0, 70), 1023, 1024, 1025, 2048, 2049])
def test_the_batch_root_is_rfc9162(n: int) -> None:
    leaves = [merkle.leaf_hash(str(i).encode()) for i in range(n)]
    assert pipeline._merkle_root(leaves) == merkle.root_from_leaves(leaves)


def test_a_large_import_merges_the_full_text_index(
    diary: Diary, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from docket.ledger import log

    def segments() -> int:
        with diary._file.read() as conn:
            return int(
                log.raw_connection(conn)
                .execute("SELECT count(DISTINCT segid) FROM message_fts_idx")
                .fetchone()[0]
            )

    diary.import_file(write_chat(tmp_path / "a.txt", chat_lines(0, 50, marker="alpha")))
    diary.import_file(write_chat(tmp_path / "b.txt", chat_lines(50, 100, marker="beta")))
    assert segments() >= 2  # one per import while imports are small
    monkeypatch.setattr(pipeline, "OPTIMIZE_AFTER", 10)
    diary.import_file(write_chat(tmp_path / "c.txt", chat_lines(100, 150, marker="gamma")))
    assert segments() == 1
    hits = diary.search("beta")
    assert hits.message_total == 50
    assert diary.verify().ok
