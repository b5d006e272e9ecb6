"""The Telegram Desktop importer: exact items from small synthetic exports written the way
Telegram Desktop writes them (one chat, or a whole account with chats and left chats; text as a
string or as entities; ``\\xHH`` escapes; service messages, calls, edits and media; old exports
with only local times), zips of the export folder with and without their media, HTML exports,
the shared samples, a round trip of generated exports, exact byte offsets, and damaged,
foreign and hostile files; then the real pipeline into an encrypted diary."""

from __future__ import annotations

import json
import tracemalloc
import zipfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from docket.api import Diary
from docket.errors import ImportFormatError, ImportTooLarge
from docket.importers import telegram
from docket.importers.base import Context, ImportWarning, Item, Probe, Source
from docket.importers.telegram import Telegram
from tests.conftest import SHARED

SAMPLES = SHARED / "samples" / "telegram"
needs_samples = pytest.mark.skipif(not SAMPLES.is_dir(), reason="shared samples not present")
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + bytes(range(256)) * 8
NOT_INCLUDED = "(File not included. Change data exporting settings to download.)"
TOO_BIG = "(File exceeds maximum size. Change data exporting settings to download.)"


# --- writing exports the way Telegram Desktop does ------------------------------------------------


def tg_string(text: str) -> str:
    """A JSON string as Telegram Desktop's SerializeString writes it: control characters other
    than line breaks and tabs as ``\\xHH`` (which is not JSON), line and paragraph separators
    as ``\\u2028`` / ``\\u2029``, everything else as it is."""
    out = ['"']
    for ch in text:
        if ch == "\n":
            out.append("\\n")
        elif ch == "\r":
            out.append("\\r")
        elif ch == "\t":
            out.append("\\t")
        elif ch == '"':
            out.append('\\"')
        elif ch == "\\":
            out.append("\\\\")
        elif ord(ch) < 32:
            out.append(f"\\x{ord(ch):02X}")
        elif ch == "\u2028":
            out.append("\\u2028")
        elif ch == "\u2029":
            out.append("\\u2029")
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


def tg_json(value: Any, depth: int = 0) -> str:
    """``value`` laid out as Telegram Desktop lays out result.json (one space per level)."""
    pad = " " * (depth + 1)
    if isinstance(value, dict):
        if not value:
            return "{}"
        parts = [f"\n{pad}{tg_string(k)}: {tg_json(v, depth + 1)}" for k, v in value.items()]
        return "{" + ",".join(parts) + "\n" + " " * depth + "}"
    if isinstance(value, list):
        if not value:
            return "[]"
        parts = [f"\n{pad}{tg_json(v, depth + 1)}" for v in value]
        return "[" + ",".join(parts) + "\n" + " " * depth + "]"
    if isinstance(value, str):
        return tg_string(value)
    return json.dumps(value)


def message(
    mid: int,
    unix: int,
    text: Any = "",
    who: tuple[str | None, str] = ("Sam", "user7001"),
    *,
    date: str | None = None,
    **extra: Any,
) -> dict[str, Any]:
    m: dict[str, Any] = {"id": mid, "type": "message"}
    m["date"] = date or datetime.fromtimestamp(unix, UTC).strftime("%Y-%m-%dT%H:%M:%S")
    m["date_unixtime"] = str(unix)
    m["from"], m["from_id"] = who
    m.update(extra)
    m["text"] = text
    m["text_entities"] = (
        [{"type": "plain", "text": text}]
        if isinstance(text, str) and text
        else [p if isinstance(p, dict) else {"type": "plain", "text": p} for p in text]
        if isinstance(text, list)
        else []
    )
    return m


def service(mid: int, unix: int, action: str, actor: tuple[str | None, str], **extra: Any) -> dict:
    m: dict[str, Any] = {
        "id": mid,
        "type": "service",
        "date": datetime.fromtimestamp(unix, UTC).strftime("%Y-%m-%dT%H:%M:%S"),
        "date_unixtime": str(unix),
        "actor": actor[0],
        "actor_id": actor[1],
        "action": action,
    }
    m.update(extra)
    m["text"] = ""
    m["text_entities"] = []
    return m


def chat(
    messages: list[dict[str, Any]],
    name: str | None = "Sam",
    kind: str = "personal_chat",
    cid: int = 7001,
) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if name is not None:
        out["name"] = name
    out["type"] = kind
    out["id"] = cid
    out["messages"] = messages
    return out


def account(chats: list[dict[str, Any]], left: list[dict[str, Any]] | None = None) -> dict:
    doc: dict[str, Any] = {
        "about": "Here is the data you requested.",
        "personal_information": {
            "user_id": 5001,
            "first_name": "Alex",
            "last_name": "",
            "phone_number": "+44 7700 900123",
        },
        "contacts": {
            "about": "This is your contact list.",
            "list": [
                {"user_id": 7001, "first_name": "Sam", "phone_number": "+44 7700 900456"},
            ],
        },
        "frequent_contacts": {
            "about": "Frequent contacts.",
            "list": [{"id": 2, "category": "people", "type": "user", "name": "Sam", "rating": 1}],
        },
        "chats": {"about": "This page lists all chats from this export.", "list": chats},
    }
    if left is not None:
        doc["left_chats"] = {"about": "Chats you left.", "list": left}
    return doc


def write(path: Path, doc: Any) -> Path:
    path.write_bytes(tg_json(doc).encode("utf-8"))
    return path


def run(
    path: Path, name: str | None = None, media: dict[str, bytes] | None = None, **context: Any
) -> tuple[list[Item], list[ImportWarning]]:
    items: list[Item] = []
    warnings: list[ImportWarning] = []
    for x in Telegram().parse(Source(path), Context(name=name or path.name, **context)):
        if isinstance(x, Item):
            items.append(x)
            for a in x.attachments:
                if media is not None and a.chunks is not None:
                    media[a.name] = b"".join(a.chunks())
        else:
            warnings.append(x)
    return items, warnings


def utc(y: int, mo: int, d: int, h: int = 0, mi: int = 0, s: int = 0) -> datetime:
    return datetime(y, mo, d, h, mi, s, tzinfo=UTC)


def at_offset(data: bytes, offset: int) -> Any:
    """The JSON value that starts at ``offset`` (Telegram's ``\\x`` escapes read as ``\\u00``)."""
    text = telegram.fix_escapes(data[offset:]).decode("utf-8", "replace")
    value, _ = json.JSONDecoder(strict=False).raw_decode(text)
    return value


T0 = 1_700_000_000  # 2023-11-14 22:13:20 UTC


# --- one chat -------------------------------------------------------------------------------------


def test_single_personal_chat(tmp_path: Path) -> None:
    sam, me = ("Sam", "user7001"), ("Alex", "user5001")
    messages = [
        service(1, T0, "joined_telegram", sam),
        message(2, T0 + 60, "where are you", sam),
        message(
            3,
            T0 + 120,
            [
                "call me on ",
                {"type": "phone", "text": "+44 7700 900123"},
                " or ",
                {"type": "bold", "text": "I will come round"},
                {"type": "mention_name", "text": "Alex", "user_id": 5001},
                {"type": "text_link", "text": " here", "href": "https://example.org/"},
            ],
            sam,
        ),
        message(
            4,
            T0 + 180,
            "leave me alone",
            me,
            edited="2023-11-14T22:20:00",
            edited_unixtime=str(T0 + 400),
        ),
        message(5, T0 + 240, "", sam, photo=NOT_INCLUDED, width=960, height=1280),
        message(
            6,
            T0 + 250,
            "read this",
            sam,
            file=TOO_BIG,
            file_name="plan.pdf",
            mime_type="application/pdf",
        ),
        message(
            7,
            T0 + 260,
            "",
            sam,
            file="stickers/sticker.webp",
            media_type="sticker",
            sticker_emoji="😡",
        ),
        service(8, T0 + 300, "phone_call", sam, duration_seconds=0, discard_reason="missed"),
        service(9, T0 + 310, "phone_call", sam, discard_reason="busy"),
        service(10, T0 + 320, "phone_call", me, duration_seconds=75, discard_reason="hangup"),
        service(11, T0 + 330, "phone_call", me, discard_reason="missed"),
        service(12, T0 + 340, "take_screenshot", sam),
        service(13, T0 + 350, "clear_history", sam),
        message(
            14,
            T0 + 360,
            'tab\there, vertical\x0btab, line\u2028sep "quoted" \\ slash',
            sam,
            forwarded_from="Someone Else",
            reply_to_message_id=4,
        ),
        message(15, T0 + 370, "from a deleted account", (None, "user7001")),
    ]
    path = write(tmp_path / "result.json", chat(messages))
    data = path.read_bytes()
    items, warnings = run(path)
    assert warnings == []
    brief = [
        (i.kind, i.sender.raw if i.sender else None, i.direction, i.sent_at, i.body) for i in items
    ]
    assert brief == [
        ("system", "user7001", "incoming", utc(2023, 11, 14, 22, 13, 20), "Sam joined Telegram"),
        ("message", "user7001", "incoming", utc(2023, 11, 14, 22, 14, 20), "where are you"),
        (
            "message",
            "user7001",
            "incoming",
            utc(2023, 11, 14, 22, 15, 20),
            "call me on +44 7700 900123 or I will come roundAlex here",
        ),
        ("message", "user5001", "outgoing", utc(2023, 11, 14, 22, 16, 20), "leave me alone"),
        ("message", "user7001", "incoming", utc(2023, 11, 14, 22, 17, 20), ""),
        ("message", "user7001", "incoming", utc(2023, 11, 14, 22, 17, 30), "read this"),
        ("message", "user7001", "incoming", utc(2023, 11, 14, 22, 17, 40), ""),
        ("call", "user7001", "incoming", utc(2023, 11, 14, 22, 18, 20), "Missed call from Sam"),
        ("call", "user7001", "incoming", utc(2023, 11, 14, 22, 18, 30), "Declined call from Sam"),
        ("call", "user5001", "outgoing", utc(2023, 11, 14, 22, 18, 40), "Call by Alex, 1 min 15 s"),
        (
            "call",
            "user5001",
            "outgoing",
            utc(2023, 11, 14, 22, 18, 50),
            "Call by Alex, not answered",
        ),
        (
            "system",
            "user7001",
            "incoming",
            utc(2023, 11, 14, 22, 19, 0),
            "Sam took a screenshot of the chat",
        ),
        (
            "system",
            "user7001",
            "incoming",
            utc(2023, 11, 14, 22, 19, 10),
            "Sam cleared the chat history",
        ),
        (
            "message",
            "user7001",
            "incoming",
            utc(2023, 11, 14, 22, 19, 20),
            'tab\there, vertical\x0btab, line\u2028sep "quoted" \\ slash',
        ),
        (
            "message",
            "user7001",
            "incoming",
            utc(2023, 11, 14, 22, 19, 30),
            "from a deleted account",
        ),
    ]
    assert [(i.call_type, i.duration_s) for i in items if i.kind == "call"] == [
        ("missed", 0),
        ("rejected", None),
        ("outgoing", 75),
        ("outgoing", None),
    ]
    assert all(i.channel == "telegram" and i.thread == "7001" for i in items)
    assert all(i.line is None and i.sender and i.sender.kind == "handle" for i in items)
    # every offset is the exact start of that message's object
    for i, m in zip(items, messages, strict=True):
        assert i.offset is not None and data[i.offset : i.offset + 1] == b"{"
        assert at_offset(data, i.offset)["id"] == m["id"] == int(i.raw["id"])
    # raw keeps every field as text, and the chat
    edited = items[3]
    assert edited.raw["edited"] == "2023-11-14T22:20:00"
    assert edited.raw["edited_unixtime"] == str(T0 + 400)
    assert edited.raw["from"] == "Alex" and edited.raw["chat.name"] == "Sam"
    assert edited.raw["chat.type"] == "personal_chat" and edited.raw["chat.id"] == "7001"
    assert json.loads(items[2].raw["text"])[1] == {"type": "phone", "text": "+44 7700 900123"}
    assert items[2].raw["text_entities"].startswith('[{"type":"plain","text":"call me on "}')
    assert items[13].raw["forwarded_from"] == "Someone Else"
    assert items[13].raw["reply_to_message_id"] == "4"
    assert items[14].raw["from"] == "null"
    assert items[1].local_time == "2023-11-14T22:14:20"
    # media the export left out
    photo, pdf, sticker = items[4].attachments, items[5].attachments, items[6].attachments
    assert [(a.name, a.media_type, a.chunks) for a in photo] == [("photo", "image/jpeg", None)]
    assert photo[0].note == (
        "not included in the export: Telegram Desktop was set not to download this kind of file"
    )
    assert [(a.name, a.media_type) for a in pdf] == [("plan.pdf", "application/pdf")]
    assert pdf[0].note == (
        "not included in the export: the file was over the size limit set for the export"
    )
    assert [(a.name, a.media_type, a.note) for a in sticker] == [
        ("sticker.webp", "image/webp", telegram.NOTE_JSON_ONLY)
    ]
    # system items match across exports by what happened, calls by their type and duration
    assert items[0].match_body == "[joined_telegram]"
    assert items[7].match_body == ""


def test_saved_messages_and_bot_chat_directions(tmp_path: Path) -> None:
    saved = chat(
        [message(1, T0, "note to self", ("Alex", "user5001"))], None, "saved_messages", 5001
    )
    items, _ = run(write(tmp_path / "saved.json", saved))
    assert [(i.direction, i.thread, "chat.name" in i.raw) for i in items] == [
        ("outgoing", "5001", False)
    ]
    group = chat(
        [message(1, T0, "hi", ("Sam", "user7001")), message(2, T0 + 1, "yo", ("Jo", "user7002"))],
        "Friends",
        "private_group",
        4242,
    )
    items, _ = run(write(tmp_path / "group.json", group))
    assert [i.direction for i in items] == ["unknown", "unknown"]


def test_old_export_with_local_times_only(tmp_path: Path) -> None:
    """Before 2022 Telegram Desktop wrote only ``date``: the exporting computer's wall-clock
    time, read in the given zone, with clock changes flagged."""

    def old(mid: int, date: str) -> dict[str, Any]:
        m = message(mid, 0, f"m{mid}", date=date)
        del m["date_unixtime"]
        return m

    doc = chat(
        [
            old(1, "2023-07-01T12:00:00"),
            old(2, "2023-10-29T01:30:00"),  # happened twice in London
            old(3, "2023-03-26T01:30:00"),  # did not happen in London
            old(4, "2023-02-30T10:00:00"),  # not a date
        ]
    )
    items, warnings = run(write(tmp_path / "result.json", doc))
    assert [(i.sent_at, i.time_note, i.local_time) for i in items] == [
        (utc(2023, 7, 1, 11), None, "2023-07-01T12:00:00"),
        (utc(2023, 10, 29, 0, 30), "ambiguous", "2023-10-29T01:30:00"),
        (utc(2023, 3, 26, 1, 30), "nonexistent", "2023-03-26T01:30:00"),
        (None, None, "2023-02-30T10:00:00"),
    ]
    assert [(w.code, w.offset) for w in warnings] == [("bad_date", items[3].offset)]
    items, _ = run(tmp_path / "result.json", timezone="America/New_York")
    assert items[0].sent_at == utc(2023, 7, 1, 16)


def test_old_numeric_from_id_reads_as_a_user(tmp_path: Path) -> None:
    m = message(1, T0, "hi")
    m["from_id"] = 7001
    items, _ = run(write(tmp_path / "result.json", chat([m])))
    assert items[0].sender is not None and items[0].sender.raw == "user7001"
    assert items[0].raw["from_id"] == "7001"


# --- a whole account ------------------------------------------------------------------------------


def test_whole_account_export(tmp_path: Path) -> None:
    sam, me, jo = ("Sam", "user7001"), ("Alex", "user5001"), ("Jo", "user7002")
    personal = chat([message(10, T0, "hello", sam), message(11, T0 + 5, "go away", me)])
    empty = chat([], "Nobody", "personal_chat", 7003)
    group = chat(
        [
            message(1, T0 + 10, "first", jo),
            service(2, T0 + 11, "invite_members", jo, members=["Sam", None]),
            message(5, T0 + 12, "after a gap", sam),
            message(6, T0 + 13, "next", sam),
            message(9, T0 + 14, "another gap", me),
        ],
        "Neighbours",
        "private_supergroup",
        1234567890,
    )
    saved = chat([message(3, T0 + 20, "saved", me)], None, "saved_messages", 5001)
    channel = chat(
        [message(100, T0 + 30, "post", ("Channel", "channel555"))], "News", "public_channel", 555
    )
    doc = account([personal, empty, group, saved], left=[channel])
    path = write(tmp_path / "result.json", doc)
    data = path.read_bytes()
    items, warnings = run(path)
    assert [(i.body, i.thread, i.direction) for i in items] == [
        ("hello", "7001", "incoming"),
        ("go away", "7001", "outgoing"),
        ("first", "1234567890", "incoming"),
        ("Jo added Sam and a deleted account", "1234567890", "incoming"),
        ("after a gap", "1234567890", "incoming"),
        ("next", "1234567890", "incoming"),
        ("another gap", "1234567890", "outgoing"),
        ("saved", "5001", "outgoing"),
        ("post", "555", "incoming"),
    ]
    assert items[2].raw["chat.name"] == "Neighbours"
    assert items[2].raw["chat.type"] == "private_supergroup"
    assert items[-1].raw["chat.left"] == "true" and "chat.left" not in items[0].raw
    assert [(w.code, w.offset) for w in warnings] == [
        ("missing_messages", items[4].offset),
        ("missing_messages", items[6].offset),
    ]
    assert "messages 3 to 4" in warnings[0].message and "“Neighbours”" in warnings[0].message
    assert "messages 7 to 8" in warnings[1].message
    for i in items:
        assert i.offset is not None
        assert at_offset(data, i.offset)["id"] == int(i.raw["id"])


def test_account_export_without_chats_says_so(tmp_path: Path) -> None:
    doc = account([])
    items, warnings = run(write(tmp_path / "result.json", doc))
    assert items == [] and [w.code for w in warnings] == ["no_messages"]


def test_messages_without_ids_and_other_layouts(tmp_path: Path) -> None:
    """Files not laid out as Telegram Desktop writes them (no ids, keys in another order, all
    on one line) are still read, with exact offsets."""
    doc = {
        "messages": [
            {"type": "message", "date_unixtime": str(T0), "from": "A", "text": "one"},
            {"text": "two", "type": "message", "date_unixtime": str(T0 + 1), "from": "B", "id": 9},
            {"type": "message", "date_unixtime": str(T0 + 2), "from": "A", "text": ["thr", "ee"]},
        ],
        "name": "After",
        "type": "personal_chat",
        "id": 1,
    }
    for text in (json.dumps(doc), json.dumps(doc, indent=4, ensure_ascii=True)):
        path = tmp_path / "result.json"
        path.write_text(text, encoding="utf-8")
        items, warnings = run(path)
        assert warnings == []
        assert [(i.body, i.sender.raw if i.sender else None) for i in items] == [
            ("one", "A"),
            ("two", "B"),
            ("three", "A"),
        ]
        data = path.read_bytes()
        for i, m in zip(items, doc["messages"], strict=True):
            assert i.offset is not None and at_offset(data, i.offset) == m


def test_a_byte_order_mark_is_skipped(tmp_path: Path) -> None:
    path = tmp_path / "result.json"
    path.write_bytes(b"\xef\xbb\xbf" + tg_json(chat([message(1, T0, "hi")])).encode())
    items, _ = run(path)
    assert [i.body for i in items] == ["hi"]
    assert path.read_bytes()[items[0].offset or 0 :].startswith(b"{")


# --- zips of the export folder --------------------------------------------------------------------


def make_zip(path: Path, members: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for member, data in members.items():
            zf.writestr(member, data)
    return path


def test_zip_with_media_present_and_missing(tmp_path: Path) -> None:
    messages = [
        message(1, T0, "look", photo="photos/photo_1@14-11-2023_22-13-20.jpg"),
        message(2, T0 + 1, "", file="files/plan.pdf", mime_type="application/pdf"),
        message(
            3,
            T0 + 2,
            "voice",
            file="voice_messages/audio_1.ogg",
            media_type="voice_message",
            mime_type="audio/ogg",
        ),
        message(4, T0 + 3, "", photo="../../etc/passwd"),
    ]
    doc = tg_json(chat(messages)).encode()
    path = make_zip(
        tmp_path / "ChatExport_2023-11-15.zip",
        {
            "ChatExport_2023-11-15/result.json": doc,
            "ChatExport_2023-11-15/photos/photo_1@14-11-2023_22-13-20.jpg": JPEG,
            "ChatExport_2023-11-15/voice_messages/audio_1.ogg": b"OggS" + bytes(100),
            "__MACOSX/ChatExport_2023-11-15/._result.json": b"junk",
        },
    )
    media: dict[str, bytes] = {}
    items, warnings = run(path, media=media)
    assert warnings == []
    got = [
        [(a.name, a.media_type, a.chunks is not None, a.note) for a in i.attachments] for i in items
    ]
    assert got == [
        [("photo_1@14-11-2023_22-13-20.jpg", "image/jpeg", True, None)],
        [("plan.pdf", "application/pdf", False, telegram.NOTE_NOT_IN_ZIP)],
        [("audio_1.ogg", "audio/ogg", True, None)],
        [("passwd", "image/jpeg", False, telegram.NOTE_NOT_IN_ZIP)],
    ]
    assert media == {"photo_1@14-11-2023_22-13-20.jpg": JPEG, "audio_1.ogg": b"OggS" + bytes(100)}
    assert items[0].raw["zip.member"] == "ChatExport_2023-11-15/result.json"
    assert at_offset(doc, items[1].offset or 0)["id"] == 2  # offsets are into result.json


def test_zip_with_two_exports_imports_both(tmp_path: Path) -> None:
    one = tg_json(chat([message(1, T0, "from one")])).encode()
    two = tg_json(chat([message(1, T0 + 9, "from two")], "Jo", cid=7002)).encode()
    path = make_zip(tmp_path / "exports.zip", {"b/result.json": two, "a/result.json": one})
    items, _ = run(path)
    assert [(i.body, i.thread, i.raw["zip.member"]) for i in items] == [
        ("from one", "7001", "a/result.json"),
        ("from two", "7002", "b/result.json"),
    ]


def test_zip_without_an_export(tmp_path: Path) -> None:
    path = make_zip(tmp_path / "photos.zip", {"a.jpg": JPEG})
    with pytest.raises(ImportFormatError) as e:
        run(path)
    assert e.value.location is not None and e.value.location.file == "photos.zip"
    assert "result.json" in (e.value.cause or "")


def test_zip_bomb_is_refused_before_reading(tmp_path: Path) -> None:
    path = tmp_path / "bomb.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as zf:
        zf.writestr("result.json", tg_json(chat([message(1, T0, "hi")])))
        with zf.open("photos/photo_1.jpg", "w", force_zip64=True) as member:
            zeros = bytes(1 << 20)
            for _ in range(101):
                member.write(zeros)
    assert path.stat().st_size < 1 << 20
    with pytest.raises(ImportTooLarge) as e:
        run(path)
    assert e.value.location is not None and e.value.location.file == "bomb.zip"
    assert "photos/photo_1.jpg" in (e.value.cause or "")


def test_zip_over_the_total_limit_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(telegram, "MAX_ZIP_TOTAL", 1000)
    path = make_zip(tmp_path / "big.zip", {"result.json": b" " * 2000})
    with pytest.raises(ImportTooLarge):
        run(path)


def test_truncated_zip(tmp_path: Path) -> None:
    doc = tg_json(chat([message(i, T0 + i, f"m{i}") for i in range(300)])).encode()
    whole = make_zip(tmp_path / "whole.zip", {"result.json": doc})
    cut = tmp_path / "cut.zip"
    cut.write_bytes(whole.read_bytes()[: whole.stat().st_size // 2])
    with pytest.raises(ImportFormatError) as e:
        run(cut)
    assert e.value.location is not None and e.value.location.file == "cut.zip"


# --- HTML exports ---------------------------------------------------------------------------------

HTML = (
    b'<!DOCTYPE html>\n<html>\n\n <head>\n\n  <meta charset="utf-8"/>\n'
    b"<title>Exported Data</title>\n"
    b'  <link href="css/style.css" rel="stylesheet"/>\n </head>\n <body>\n'
    b'  <div class="page_wrap">\n   <div class="history">\n'
)


def test_html_export_is_declined_with_advice(tmp_path: Path) -> None:
    path = tmp_path / "messages.html"
    path.write_bytes(HTML)
    assert Telegram().score(Probe.of(Source(path), path.name)) >= 0.5
    with pytest.raises(ImportFormatError) as e:
        run(path)
    assert "Machine-readable JSON" in (e.value.hint or "")
    z = make_zip(
        tmp_path / "ChatExport.zip",
        {"ChatExport/messages.html": HTML, "ChatExport/css/style.css": b"body{}"},
    )
    assert Telegram().score(Probe.of(Source(z), z.name)) >= 0.5
    with pytest.raises(ImportFormatError) as e:
        run(z)
    assert "Machine-readable JSON" in (e.value.hint or "")


# --- damaged and foreign files --------------------------------------------------------------------


def big_chat(n: int = 400) -> dict[str, Any]:
    return chat([message(i, T0 + i, f"message number {i} " + "x" * (i % 50)) for i in range(n)])


def test_truncated_file_names_the_byte_and_keeps_what_came_before(tmp_path: Path) -> None:
    data = tg_json(big_chat()).encode()
    path = tmp_path / "result.json"
    path.write_bytes(data[: len(data) * 2 // 3])
    got: list[Item] = []
    with pytest.raises(ImportFormatError) as e:
        for x in Telegram().parse(Source(path), Context(name="result.json")):
            if isinstance(x, Item):
                got.append(x)
    loc = e.value.location
    assert loc is not None and loc.file == "result.json" and loc.offset == len(data) * 2 // 3
    assert "stops part of the way through" in e.value.message and e.value.hint
    last_whole = data.rfind(b"\n  {", 0, len(data) * 2 // 3)  # the message cut in two
    assert got and got[-1].offset is not None and got[-1].offset < last_whole + 3
    assert [i.body for i in got] == [
        f"message number {i} " + "x" * (i % 50) for i in range(len(got))
    ]
    assert len(got) >= 250


def test_broken_half_way_names_the_byte(tmp_path: Path) -> None:
    data = bytearray(tg_json(big_chat()).encode())
    where = data.find(b'"id": 200')
    data[where : where + 9] = b'"id" 200 '  # a missing colon
    path = tmp_path / "result.json"
    path.write_bytes(bytes(data))
    with pytest.raises(ImportFormatError) as e:
        run(path)
    assert e.value.location is not None and e.value.location.offset == where + 5
    assert "damaged at byte" in e.value.message


def test_bytes_that_are_not_text_in_one_message(tmp_path: Path) -> None:
    data = bytearray(tg_json(big_chat(50)).encode())
    where = data.find(b"message number 20 ")
    data[where : where + 7] = b"mess\xff\xfe "
    path = tmp_path / "result.json"
    path.write_bytes(bytes(data))
    items, warnings = run(path)
    assert len(items) == 50
    assert items[20].body == "mess\ufffd\ufffd  number 20 " + "x" * 20
    assert [(w.code, w.offset) for w in warnings] == [("unreadable_characters", items[20].offset)]
    assert [i.body for i in items[21:]] == [
        f"message number {i} " + "x" * (i % 50) for i in range(21, 50)
    ]


def test_a_message_that_is_not_quite_json_is_read_as_best_it_can_be(tmp_path: Path) -> None:
    data = bytearray(tg_json(big_chat(30)).encode())
    where = data.find(b"message number 12 ")
    data[where : where + 7] = b"mess\\q "  # a backslash that starts no escape
    path = tmp_path / "result.json"
    path.write_bytes(bytes(data))
    items, warnings = run(path)
    assert len(items) == 30 and items[12].body == "mess\\q  number 12 " + "x" * 12
    assert [(w.code, w.offset) for w in warnings] == [("repaired_record", items[12].offset)]


@pytest.mark.parametrize(
    "data",
    [
        b"[1, 2, 3]",
        b'{"hello": "world"}',
        b"Dear diary,\ntoday was fine.\n",
        b'{"messages": 5}',
    ],
)
def test_not_a_telegram_export(tmp_path: Path, data: bytes) -> None:
    path = tmp_path / "thing.json"
    path.write_bytes(data)
    with pytest.raises(ImportFormatError) as e:
        run(path)
    assert e.value.location is not None and e.value.location.file == "thing.json"
    assert e.value.hint and e.value.cause


def test_empty_file(tmp_path: Path) -> None:
    path = tmp_path / "result.json"
    path.write_bytes(b"")
    with pytest.raises(ImportFormatError) as e:
        run(path)
    assert "empty" in e.value.message


def test_an_entry_that_is_not_a_message(tmp_path: Path) -> None:
    doc = chat([message(1, T0, "a"), "stray text", message(2, T0 + 1, "b")])  # type: ignore[list-item]
    items, warnings = run(write(tmp_path / "result.json", doc))
    assert [i.body for i in items] == ["a", "b"]
    assert [w.code for w in warnings] == ["unreadable_record"]


# --- the shared samples ---------------------------------------------------------------------------

SAMPLE_COUNTS = {
    "result_personal_chat__chatanalytics.json": {"message": 6, "system": 1, "call": 1},
    "result_single_minimal__chatminer.json": {"message": 2},
    "result_full_account_batch__chatminer.json": {"message": 2},
}


@needs_samples
def test_every_sample_is_in_the_table() -> None:
    assert sorted(p.name for p in SAMPLES.iterdir()) == sorted(SAMPLE_COUNTS)


@needs_samples
@pytest.mark.parametrize("name", sorted(SAMPLE_COUNTS))
def test_shared_sample(name: str) -> None:
    path = SAMPLES / name
    assert Telegram().score(Probe.of(Source(path), name)) >= 0.6
    items, warnings = run(path)
    counts: dict[str, int] = {}
    for i in items:
        counts[i.kind] = counts.get(i.kind, 0) + 1
    assert counts == SAMPLE_COUNTS[name]
    assert warnings == []
    assert all(i.sent_at is not None for i in items)


@needs_samples
def test_sample_details() -> None:
    items, _ = run(SAMPLES / "result_personal_chat__chatanalytics.json")
    assert items[1].body == "https://google.com 👀"
    assert items[0].sent_at == utc(2019, 7, 5, 15, 55, 32)  # date only: London summer time
    call = items[-1]
    assert (call.call_type, call.duration_s, call.direction) == ("outgoing", 56, "outgoing")
    assert call.sent_at == utc(2023, 8, 11, 2, 11, 2)  # date_unixtime wins over date
    assert [a.note for a in items[5].attachments] == [
        "not included in the export: Telegram Desktop was set not to download this kind of file"
    ]
    batch, _ = run(SAMPLES / "result_full_account_batch__chatminer.json")
    assert [i.body for i in batch] == ["Minimal Message", "Link:https://telegram.org/"]
    assert batch[0].raw["chat.name"] == "Chatname"


# --- round trip of generated exports --------------------------------------------------------------

TEXT = st.text(st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=40)
PART = st.one_of(
    TEXT,
    st.builds(
        lambda kind, text: {"type": kind, "text": text},
        st.sampled_from(["bold", "phone", "link", "mention", "spoiler", "code"]),
        TEXT,
    ),
)


@st.composite
def exports(draw: st.DrawFn) -> tuple[dict[str, Any], list[tuple[str, str, int]]]:
    """A whole-account or one-chat export, and per message (body, chat id, message id)."""
    n_chats = draw(st.integers(1, 4))
    chats: list[dict[str, Any]] = []
    want: list[tuple[str, str, int]] = []
    t = T0
    for c in range(n_chats):
        msgs: list[dict[str, Any]] = []
        for mid in range(1, draw(st.integers(0, 6)) + 1):
            t += draw(st.integers(0, 10_000))
            text = draw(st.one_of(TEXT, st.lists(PART, max_size=4)))
            who = draw(st.sampled_from([("Sam", "user7001"), ("Alex", "user5001")]))
            msgs.append(message(mid, t, text, who))
            body = (
                text
                if isinstance(text, str)
                else "".join(p if isinstance(p, str) else p["text"] for p in text)
            )
            want.append((body, str(8000 + c), mid))
        chats.append(chat(msgs, draw(TEXT), "private_group", 8000 + c))
    if n_chats == 1 and draw(st.booleans()):
        return chats[0], want
    return account(chats), want


@given(exports(), st.sampled_from(["telegram", "compact", "indented"]), st.sampled_from([7, 64]))
@settings(
    max_examples=120,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
def test_generated_exports_round_trip(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    export: tuple[dict[str, Any], list[tuple[str, str, int]]],
    layout: str,
    block: int,
) -> None:
    """Write a generated export (as Telegram Desktop does, or as other JSON writers do), read
    it back in tiny blocks (so that tokens straddle reads), and get every message back, in its
    chat, at the exact offset of its object."""
    monkeypatch.setattr(telegram, "BLOCK", block)
    monkeypatch.setattr(telegram, "FEED_BLOCK", block)
    doc, want = export
    if layout == "telegram":
        text = tg_json(doc)
    elif layout == "compact":
        text = json.dumps(doc, ensure_ascii=False, separators=(",", ":"))
    else:
        text = json.dumps(doc, ensure_ascii=True, indent=3)
    path = tmp_path / "result.json"
    path.write_bytes(text.encode("utf-8"))
    items, warnings = run(path)
    if not want:
        assert items == [] and [w.code for w in warnings] in (["no_messages"], [])
        return
    assert warnings == []
    assert [(i.body, i.thread, int(i.raw["id"])) for i in items] == want
    data = path.read_bytes()
    for i in items:
        assert i.offset is not None and at_offset(data, i.offset)["id"] == int(i.raw["id"])


# --- score ----------------------------------------------------------------------------------------


def probe(tmp_path: Path, data: bytes, name: str) -> float:
    path = tmp_path / name
    path.write_bytes(data)
    return Telegram().score(Probe.of(Source(path), name))


def test_score(tmp_path: Path) -> None:
    single = tg_json(chat([message(1, T0, "hi")])).encode()
    assert probe(tmp_path, single, "result.json") >= 0.95
    assert probe(tmp_path, single, "renamed.json") >= 0.9
    whole = tg_json(account([chat([message(1, T0, "hi")])])).encode()
    assert probe(tmp_path, whole, "result.json") >= 0.95
    assert probe(tmp_path, b'[{"id": 1}]', "list.json") == 0.0
    assert (
        probe(tmp_path, b'{"guild": {"id": "0"}, "channel": {}, "messages": []}', "d.json") == 0.0
    )
    assert probe(tmp_path, b"12/07/2017, 22:35 - Sam: hi\n", "chat.txt") == 0.0
    z = make_zip(tmp_path / "export.zip", {"ChatExport/result.json": single})
    assert Telegram().score(Probe.of(Source(z), z.name)) >= 0.95
    other = make_zip(tmp_path / "other.zip", {"a.json": b"{}"})
    assert Telegram().score(Probe.of(Source(other), other.name)) == 0.0


def test_the_c_backend_of_ijson_is_used() -> None:
    assert telegram.IJSON_BACKEND == "yajl2_c"


# --- bounded memory -------------------------------------------------------------------------------


def test_memory_stays_bounded_on_a_large_export(tmp_path: Path) -> None:
    """An export of 8 MB is read with a small fraction of that in Python memory (items are
    dropped as they come, as the pipeline does)."""
    one = tg_json(message(1, T0, ["text " * 20, {"type": "bold", "text": "loud"}]), 5)
    path = tmp_path / "result.json"
    with path.open("w", encoding="utf-8") as f:
        f.write('{\n "about": "x",\n "personal_information": {"user_id": 5001},\n')
        f.write(' "chats": {\n  "about": "x",\n  "list": [\n')
        for c in range(2):
            head = tg_json(chat([], f"Chat {c}", "private_group", c), 3).rsplit("[]", 1)[0]
            f.write(("," if c else "") + head + "[\n     ")
            f.write(",\n     ".join(one.replace('"id": 1,', f'"id": {i},', 1) for i in range(9000)))
            f.write("\n    ]\n   }")
        f.write("\n  ]\n }\n}\n")
    size = path.stat().st_size
    assert size > 8_000_000
    tracemalloc.start()
    try:
        n = 0
        for x in Telegram().parse(Source(path), Context(name="r.json")):
            n += isinstance(x, Item)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert n == 18_000
    assert peak < 4 << 20, peak


# --- through the real pipeline --------------------------------------------------------------------


def test_pipeline_imports_reimports_and_adds_only_new_messages(
    diary: Diary, tmp_path: Path
) -> None:
    sam, me = ("Sam", "user7001"), ("Alex", "user5001")

    def export(start: int, end: int) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        for i in range(start, end):
            if i % 10 == 5:
                out.append(service(i, T0 + 60 * i, "phone_call", sam, discard_reason="missed"))
            else:
                out.append(message(i, T0 + 60 * i, f"message {i}", sam if i % 3 else me))
        return out

    first = write(tmp_path / "result.json", chat(export(0, 40)))
    s = diary.import_file(first)
    assert s.importer == "telegram" and s.added == 40 and s.duplicates == 0
    assert s.by_kind == {"message": 36, "call": 4}
    again = diary.import_file(first)
    assert again.already_imported_at is not None and again.added == 0
    later_dir = tmp_path / "later"
    later_dir.mkdir()
    later = write(later_dir / "result.json", account([chat(export(25, 70))]))
    s2 = diary.import_file(later)
    assert s2.added == 30 and s2.duplicates == 15
    msgs = diary.messages()
    assert len(msgs) == 70
    assert sum(m.kind == "call" for m in msgs) == 7
    assert diary.verify().ok


def test_pipeline_keeps_media_from_a_zip(diary: Diary, tmp_path: Path) -> None:
    doc = tg_json(
        chat(
            [
                message(1, T0, "look", photo="photos/p.jpg"),
                message(2, T0 + 1, "", photo=NOT_INCLUDED),
            ]
        )
    ).encode()
    z = make_zip(
        tmp_path / "ChatExport.zip",
        {"ChatExport/result.json": doc, "ChatExport/photos/p.jpg": JPEG},
    )
    s = diary.import_file(z)
    assert s.importer == "telegram" and s.added == 2
    assert s.files_stored == 1 and s.files_missing == 1
    assert diary.verify().ok
