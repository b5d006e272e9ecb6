"""The Messenger and Instagram importers: exact items from small synthetic "Download your
information" exports (newest-first messages, Meta's mojibake, calls, shares, stickers, unsent
messages, reactions, events, the end-to-end-encrypted chat shape, whole-download zips with and
without their media), the shared samples, generated exports and JSON documents round-tripped
through the reader, damaged, foreign and hostile files, and the real pipeline end to end."""

from __future__ import annotations

import io
import json
import tracemalloc
import zipfile
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from docket.api import Diary
from docket.errors import ImportFormatError, ImportTooLarge, UnknownFormat
from docket.importers import available, meta
from docket.importers.base import Context, Importer, ImportWarning, Item, Probe, Source
from docket.importers.meta import Instagram, Messenger, repair
from tests.conftest import SHARED

MESSENGER_SAMPLES = SHARED / "samples" / "facebook_messenger"
INSTAGRAM_SAMPLES = SHARED / "samples" / "instagram"
needs_samples = pytest.mark.skipif(
    not MESSENGER_SAMPLES.is_dir(), reason="shared samples not present"
)

JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + bytes(range(256)) * 8
PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4
MP4 = b"\x00\x00\x00\x18ftypmp42" + bytes(600)
ROOT = "your_activity_across_facebook/messages"


# --- helpers ----------------------------------------------------------------------------------


def moj(text: str) -> str:
    """Text as Meta writes it: each UTF-8 byte as a character of its own (in the JSON file,
    one \\u00XX escape per byte)."""
    return text.encode("utf-8").decode("latin-1")


def as_meta(value: Any) -> Any:
    """Every string in ``value`` (not the keys) as Meta writes it."""
    if isinstance(value, str):
        return moj(value)
    if isinstance(value, list):
        return [as_meta(v) for v in value]
    if isinstance(value, dict):
        return {k: as_meta(v) for k, v in value.items()}
    return value


def dyi(
    messages: list[dict[str, Any]],
    *,
    participants: tuple[str, ...] = ("Sam Example", "Alex Doe"),
    title: str = "Sam Example",
    thread_path: str | None = "inbox/samexample_ABC123",
) -> bytes:
    """A message_N.json as Meta writes it: two-space indent, ASCII with \\u00XX escapes, the
    thread's title and path after the messages."""
    doc: dict[str, Any] = {
        "participants": [{"name": p} for p in participants],
        "messages": messages,
        "title": title,
        "is_still_participant": True,
        "thread_type": "Regular",
    }
    if thread_path is not None:
        doc["thread_path"] = thread_path
    doc["magic_words"] = []
    return json.dumps(as_meta(doc), indent=2).encode("ascii")


def e2ee(messages: list[dict[str, Any]], participants: tuple[str, ...], name: str) -> bytes:
    doc = {"participants": list(participants), "threadName": name, "messages": messages}
    return json.dumps(as_meta(doc), indent=2).encode("ascii")


def run(
    path: Path,
    importer: Importer | None = None,
    media: dict[str, bytes] | None = None,
    name: str | None = None,
) -> tuple[list[Item], list[ImportWarning]]:
    """Parse ``path``; attachments' bytes go in ``media`` (read while they are valid: before
    the next item is asked for)."""
    items: list[Item] = []
    warnings: list[ImportWarning] = []
    for x in (importer or Messenger()).parse(Source(path), Context(name=name or path.name)):
        if isinstance(x, Item):
            items.append(x)
            for a in x.attachments:
                if media is not None and a.chunks is not None:
                    media[a.name] = b"".join(a.chunks())
        else:
            warnings.append(x)
    return items, warnings


def write(tmp_path: Path, data: bytes, name: str = "message_1.json") -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


def parse(
    tmp_path: Path, data: bytes, name: str = "message_1.json", importer: Importer | None = None
) -> tuple[list[Item], list[ImportWarning]]:
    return run(write(tmp_path, data, name), importer)


def make_zip(path: Path, members: dict[str, bytes]) -> Path:
    """A zip of ``members``, the same bytes every time for the same members."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for member, data in members.items():
            zf.writestr(zipfile.ZipInfo(member, (2024, 1, 1, 0, 0, 0)), data, zipfile.ZIP_DEFLATED)
    return path


def ms(y: int, mo: int, d: int, h: int = 0, mi: int = 0, s: int = 0) -> int:
    return int(datetime(y, mo, d, h, mi, s, tzinfo=UTC).timestamp() * 1000)


def utc(y: int, mo: int, d: int, h: int = 0, mi: int = 0, s: int = 0) -> datetime:
    return datetime(y, mo, d, h, mi, s, tzinfo=UTC)


def element_starts(data: bytes) -> list[tuple[int, int]]:
    """(offset, line) of each message in a file written by :func:`dyi` (indent 2)."""
    start = data.index(b'"messages": [')
    end = data.index(b"\n  ]", start)
    out = []
    pos = data.find(b"\n    {", start, end)
    while pos >= 0:
        out.append((pos + 5, data.count(b"\n", 0, pos + 5) + 1))
        pos = data.find(b"\n    {", pos + 1, end)
    return out


def brief(item: Item) -> tuple[object, ...]:
    """kind, sender, sent_at, body: what most golden tests compare."""
    return (item.kind, item.sender.raw if item.sender else None, item.sent_at, item.body)


# --- the text repair --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("written", "expected"),
    [
        ("caf\u00c3\u00a9 time?", "café time?"),
        # formats.md §8 case 8: partial corruption, emoji as four bytes
        ("I\u00e2\u0080\u0099m outside \u00f0\u009f\u0098\u00a1", "I’m outside 😡"),
        ("\u00e2\u009d\u00a4", "❤"),
        ("\u00f0\u009f\u0091\u008d", "👍"),
        ("plain ASCII", "plain ASCII"),
        ("", ""),
        # already right: a character Latin-1 cannot hold, so it is left alone (no crash)
        ("“quoted” café", "“quoted” café"),
        ("😡", "😡"),
        # Latin-1 only, but its bytes are not UTF-8: left alone
        ("café", "café"),
        ("Zoë", "Zoë"),
        # a half-repaired mixture cannot be undone safely: left alone
        ("caf\u00c3\u00a9 and “quotes”", "caf\u00c3\u00a9 and “quotes”"),
    ],
)
def test_repair(written: str, expected: str) -> None:
    assert repair(written) == expected


@given(st.text(st.characters(codec="utf-8")))
def test_repair_undoes_what_meta_does(text: str) -> None:
    assert repair(moj(text)) == text


# --- the download's shape, message by message --------------------------------------------------

GOLDEN: list[dict[str, Any]] = [
    {
        "sender_name": "Zoë Example",
        "timestamp_ms": ms(2023, 11, 14, 22, 15, 3),
        "content": "I’m outside 😡",
        "reactions": [
            {"reaction": "😢", "actor": "Alex Doe"},
            {"reaction": "❤", "actor": "Zoë Example"},
        ],
        "is_geoblocked_for_viewer": False,
    },
    {
        "sender_name": "Alex Doe",
        "timestamp_ms": ms(2023, 11, 14, 22, 14),
        "content": "Please stop.\nI mean it.",
        "is_geoblocked_for_viewer": False,
    },
    {
        "sender_name": "Zoë Example",
        "timestamp_ms": ms(2023, 11, 14, 22, 13, 20),
        "content": "Где ты? 你在哪里",
        "is_geoblocked_for_viewer": False,
    },
]


def test_legacy_thread_golden(tmp_path: Path) -> None:
    data = dyi(GOLDEN, participants=("Zoë Example", "Alex Doe"), title="Zoë Example")
    items, warnings = parse(tmp_path, data)
    assert warnings == []
    # newest first, as Meta writes them: the items come in the file's order
    assert [brief(i) for i in items] == [
        ("message", "Zoë Example", utc(2023, 11, 14, 22, 15, 3), "I’m outside 😡"),
        ("message", "Alex Doe", utc(2023, 11, 14, 22, 14), "Please stop.\nI mean it."),
        ("message", "Zoë Example", utc(2023, 11, 14, 22, 13, 20), "Где ты? 你在哪里"),
    ]
    first = items[0]
    assert first.channel == "messenger" and first.direction == "unknown"
    assert first.sender is not None and first.sender.kind == "name"
    assert first.local_time == str(GOLDEN[0]["timestamp_ms"])
    assert first.thread == "samexample_ABC123"
    assert [p.raw for p in first.recipients] == ["Alex Doe"]
    assert [p.raw for p in items[1].recipients] == ["Zoë Example"]
    assert not first.deleted and first.attachments == () and first.call_type is None
    # raw keeps the fields as written (unrepaired), plus the reactions as text
    assert first.raw == {
        "sender_name": moj("Zoë Example"),
        "timestamp_ms": str(GOLDEN[0]["timestamp_ms"]),
        "content": moj("I’m outside 😡"),
        "reactions.0.reaction": moj("😢"),
        "reactions.0.actor": "Alex Doe",
        "reactions.1.reaction": moj("❤"),
        "reactions.1.actor": moj("Zoë Example"),
        "is_geoblocked_for_viewer": "false",
        "reactions": "😢 by Alex Doe\n❤ by Zoë Example",
        "thread_path": "inbox/samexample_ABC123",
    }
    assert [(i.offset, i.line) for i in items] == element_starts(data)
    assert data[items[1].offset or 0 :].startswith(b'{\n      "sender_name": "Alex Doe"')


def test_byte_order_mark_is_tolerated(tmp_path: Path) -> None:
    data = dyi(GOLDEN)
    plain, _ = parse(tmp_path, data)
    items, warnings = parse(tmp_path, b"\xef\xbb\xbf" + data, "bom.json")
    assert warnings == []
    assert [brief(i) for i in items] == [brief(i) for i in plain]
    assert [i.offset for i in items] == [(i.offset or 0) + 3 for i in plain]
    assert [i.line for i in items] == [i.line for i in plain]


def test_numbers_are_kept_as_written(tmp_path: Path) -> None:
    text = (
        '{"participants": [], "messages": [{"sender_name": "Sam", "timestamp_ms": '
        '1.7e12, "content": "x", "call_duration": 12.50, "weird": -0.0}]}'
    )
    [item], warnings = parse(tmp_path, text.encode())
    assert warnings == []
    assert item.sent_at == utc(2023, 11, 14, 22, 13, 20)
    assert item.local_time == "1.7e12"
    assert item.raw["timestamp_ms"] == "1.7e12" and item.raw["call_duration"] == "12.50"
    assert item.raw["weird"] == "-0.0"


def test_calls(tmp_path: Path) -> None:
    t = ms(2024, 3, 1, 20)
    messages = [
        {"sender_name": "Sam Example", "timestamp_ms": t, "type": "Call", "call_duration": 192,
         "content": "Sam called you."},
        {"sender_name": "Sam Example", "timestamp_ms": t - 1000, "type": "Call",
         "call_duration": 0, "missed": True},
        {"sender_name": "Sam Example", "timestamp_ms": t - 2000, "type": "Call",
         "call_duration": 0, "content": "The video chat ended."},
        {"sender_name": "Sam Example", "timestamp_ms": t - 3000, "type": "Call",
         "content": "You missed a call from Sam."},
        {"sender_name": "Alex Doe", "timestamp_ms": t - 4000, "type": "Call",
         "content": "You called Sam."},
    ]  # fmt: skip
    items, warnings = parse(tmp_path, dyi(messages))
    assert warnings == []
    assert [(i.kind, i.call_type, i.duration_s, i.body) for i in items] == [
        ("call", "unknown", 192, "Sam called you."),
        ("call", "missed", 0, None),
        ("call", "missed", 0, "The video chat ended."),
        ("call", "missed", None, "You missed a call from Sam."),
        ("call", "unknown", None, "You called Sam."),
    ]
    assert items[1].raw["missed"] == "true" and items[0].raw["call_duration"] == "192"


def test_shares_stickers_gifs_and_media_in_a_plain_file(tmp_path: Path) -> None:
    t = ms(2024, 3, 1, 20)
    base = "messages/inbox/samexample_ABC123"
    messages = [
        {"sender_name": "Sam Example", "timestamp_ms": t, "type": "Share",
         "share": {"link": "https://example.com/you", "share_text": "Seen this?"}},
        {"sender_name": "Sam Example", "timestamp_ms": t - 1, "type": "Share",
         "content": "look at this", "share": {"link": "https://example.com/x"}},
        {"sender_name": "Sam Example", "timestamp_ms": t - 2,
         "sticker": {"uri": "messages/stickers_used/39178562_1505197616293642_n.png"}},
        {"sender_name": "Sam Example", "timestamp_ms": t - 3,
         "gifs": [{"uri": f"{base}/gifs/angry.gif"}]},
        {"sender_name": "Sam Example", "timestamp_ms": t - 4, "content": "this is you",
         "photos": [{"uri": f"{base}/photos/1.jpg", "creation_timestamp": 1709323200},
                    {"uri": f"{base}/photos/2.jpg", "creation_timestamp": 1709323200}]},
        {"sender_name": "Sam Example", "timestamp_ms": t - 5,
         "videos": [{"uri": f"{base}/videos/v.mp4"}],
         "audio_files": [{"uri": f"{base}/audio/a.m4a"}],
         "files": [{"uri": f"{base}/files/notes.pdf"}]},
    ]  # fmt: skip
    items, warnings = parse(tmp_path, dyi(messages))
    assert [i.body for i in items] == [
        "https://example.com/you",
        "look at this",
        None,
        None,
        "this is you",
        None,
    ]
    assert items[0].raw["share.link"] == "https://example.com/you"
    assert items[0].raw["share.share_text"] == "Seen this?"
    assert [[(a.name, a.media_type, a.chunks, a.note) for a in i.attachments] for i in items] == [
        [],
        [],
        [("39178562_1505197616293642_n.png", "image/png", None, "not included in the export")],
        [("angry.gif", "image/gif", None, "not included in the export")],
        [
            ("1.jpg", "image/jpeg", None, "not included in the export"),
            ("2.jpg", "image/jpeg", None, "not included in the export"),
        ],
        [
            ("v.mp4", "video/mp4", None, "not included in the export"),
            ("a.m4a", "audio/mp4", None, "not included in the export"),
            ("notes.pdf", "application/pdf", None, "not included in the export"),
        ],
    ]
    [w] = warnings
    assert w.code == "media_not_in_file" and "7 photos" in w.message and ".zip" in w.message


def test_unsent_messages(tmp_path: Path) -> None:
    t = ms(2024, 3, 1, 20)
    messages = [
        {"sender_name": "Sam Example", "timestamp_ms": t, "content": "Sam unsent a message.",
         "is_unsent": True},
        {"sender_name": "Sam Example", "timestamp_ms": t - 1, "is_unsent": True},
        {"sender_name": "Sam Example", "timestamp_ms": t - 2, "content": "Sam unsent a message"},
        {"sender_name": "Alex Doe", "timestamp_ms": t - 3, "content": "You unsent a message",
         "is_unsent": False},
        {"sender_name": "Alex Doe", "timestamp_ms": t - 4, "content": "I unsent a message to him"},
    ]  # fmt: skip
    items, warnings = parse(tmp_path, dyi(messages))
    assert warnings == []
    assert [(i.deleted, i.body) for i in items] == [
        (True, None),
        (True, None),
        (True, None),
        (False, "You unsent a message"),  # the file says it was not unsent
        (False, "I unsent a message to him"),
    ]
    assert items[0].raw["content"] == "Sam unsent a message."  # the placeholder stays in raw


def test_system_messages_and_events(tmp_path: Path) -> None:
    t = ms(2024, 3, 1, 20)
    texts = [
        ("Sam left the group.", "Unsubscribe", "system"),
        ("Sam added Kim to the group.", "Subscribe", "system"),
        ("Liked a message", None, "system"),
        ("Reacted 😡 to your message", None, "system"),
        ("Sam created a poll: Where is she?", None, "system"),
        ("You are now connected on Messenger", None, "system"),
        ("Reacted badly to the news", None, "message"),
        ("I liked a message you sent yesterday", None, "message"),
    ]
    messages = [
        {"sender_name": "Sam Example", "timestamp_ms": t - i, "content": text}
        | ({"type": kind} if kind else {})
        for i, (text, kind, _) in enumerate(texts)
    ]
    items, warnings = parse(tmp_path, dyi(messages))
    assert warnings == []
    assert [(i.kind, i.body) for i in items] == [(k, text) for text, _, k in texts]
    assert all(i.sender is not None and i.sender.raw == "Sam Example" for i in items)


def test_end_to_end_encrypted_shape(tmp_path: Path) -> None:
    t = ms(2024, 5, 2, 7, 30)
    messages = [
        {"senderName": "Sam Example", "text": "Ich weiß, wo du bist", "timestamp": t,
         "type": "Generic", "isUnsent": False, "media": [], "reactions": []},
        {"senderName": "Alex Doe", "text": "", "timestamp": t + 5000, "type": "Generic",
         "isUnsent": False, "media": [{"uri": "./media/abc.jpeg"}],
         "reactions": [{"actor": "Sam Example", "reaction": "😂"}]},
        {"senderName": "Sam Example", "text": "you'll regret this", "timestamp": t + 9000,
         "type": "Generic", "isUnsent": True, "media": [], "reactions": []},
    ]  # fmt: skip
    items, warnings = parse(
        tmp_path, e2ee(messages, ("Sam Example", "Alex Doe"), "Sam Example"), "Sam_1.json"
    )
    assert [w.code for w in warnings] == ["media_not_in_file"]
    assert [(*brief(i), i.deleted) for i in items] == [
        ("message", "Sam Example", utc(2024, 5, 2, 7, 30), "Ich weiß, wo du bist", False),
        ("message", "Alex Doe", utc(2024, 5, 2, 7, 30, 5), None, False),
        # unsent, but this export still has the text: it is kept, marked as deleted
        ("message", "Sam Example", utc(2024, 5, 2, 7, 30, 9), "you'll regret this", True),
    ]
    assert items[0].thread == "Alex Doe, Sam Example"  # no thread path: the names, sorted
    assert items[1].raw["reactions"] == "😂 by Sam Example"
    assert items[1].attachments[0].name == "abc.jpeg"
    assert items[0].local_time == str(t) and items[0].raw["isUnsent"] == "false"


def test_thread_survives_a_move_between_folders(tmp_path: Path) -> None:
    msg = [{"sender_name": "Sam Example", "timestamp_ms": ms(2024, 1, 1), "content": "hi"}]
    threads = set()
    for folder in ("inbox", "archived_threads", "message_requests", "filtered_threads"):
        [item], _ = parse(tmp_path, dyi(msg, thread_path=f"{folder}/samexample_ABC123"))
        threads.add(item.thread)
        assert item.raw["thread_path"] == f"{folder}/samexample_ABC123"
    assert threads == {"samexample_ABC123"}
    [item], _ = parse(tmp_path, dyi(msg, thread_path=None, participants=("Sam", "Alex")))
    assert item.thread == "Alex, Sam" and "thread_path" not in item.raw


def test_large_groups_do_not_list_recipients(tmp_path: Path) -> None:
    many = tuple(f"Member {i}" for i in range(40))
    msg = [{"sender_name": "Member 3", "timestamp_ms": ms(2024, 1, 1), "content": "hi"}]
    [item], _ = parse(tmp_path, dyi(msg, participants=many))
    assert item.recipients == ()
    few = many[:5]
    [item], _ = parse(tmp_path, dyi(msg, participants=few))
    assert [p.raw for p in item.recipients] == ["Member 0", "Member 1", "Member 2", "Member 4"]


def test_times(tmp_path: Path) -> None:
    text = json.dumps(
        {
            "participants": [{"name": "Sam"}],
            "messages": [
                {"sender_name": "Sam", "timestamp_ms": 1700000000, "content": "seconds"},
                {"sender_name": "Sam", "timestamp_ms": 1700000001, "content": "seconds too"},
                {"sender_name": "Sam", "timestamp_ms": 0, "content": "zero"},
                {"sender_name": "Sam", "timestamp_ms": -5, "content": "negative"},
                {"sender_name": "Sam", "timestamp_ms": "soon", "content": "words"},
                {"sender_name": "Sam", "content": "none"},
                {"sender_name": "Sam", "timestamp_ms": 10**30, "content": "far"},
                {"sender_name": "Sam", "timestamp_ms": 1.5, "content": "fraction"},
                {"sender_name": "Sam", "timestamp_ms": "1700000000000", "content": "quoted"},
            ],
        },
        indent=1,
    ).encode()
    items, warnings = parse(tmp_path, text)
    assert [i.sent_at for i in items] == [
        utc(2023, 11, 14, 22, 13, 20),
        utc(2023, 11, 14, 22, 13, 21),
        None,
        None,
        None,
        None,
        None,
        None,
        utc(2023, 11, 14, 22, 13, 20),
    ]
    assert [i.local_time for i in items][:6] == ["1700000000", "1700000001", "0", "-5", "soon", ""]
    assert [(w.code, w.line) for w in warnings] == [("time_in_seconds", items[0].line)] + [
        ("bad_date", i.line) for i in items[2:8]
    ]


# --- damaged records, damaged files, and files that are not ours ---------------------------------


def test_bad_records_are_skipped_with_a_warning(tmp_path: Path) -> None:
    text = (
        b'{\n "participants": [{"name": "Sam"}],\n "messages": [\n'
        b'  {"sender_name": "Sam", "timestamp_ms": 1700000000000, "content": "one"},\n'
        b'  {"sender_name": "Sam", "timestamp_ms": 1700000000000, "content": "bad \\x escape"},\n'
        b"  42,\n"
        b'  {"sender_name": "Sam", "timestamp_ms": 1700000000000, "content": "caf\xe9"},\n'
        b'  {"sender_name": "Sam", "timestamp_ms": 1700000000000, "content": "x", '
        b'"photos": [{"creation_timestamp": 1}]},\n'
        b'  {"sender_name": "Sam", "timestamp_ms": 1700000000000, "content": "last"}\n'
        b' ],\n "thread_path": "inbox/sam_1"\n}\n'
    )
    items, warnings = parse(tmp_path, text)
    assert [i.body for i in items] == ["one", "caf\ufffd", "x", "last"]
    assert [(w.code, w.line) for w in warnings] == [
        ("unreadable_message", 5),
        ("unreadable_message", 6),
        ("unreadable_characters", 7),
        ("unreadable_attachment", 8),
    ]
    assert all(w.offset is not None for w in warnings)
    assert "line 5" in warnings[0].message
    assert items[-1].thread == "sam_1"


def test_a_message_over_the_limit_is_left_out(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(meta, "MAX_RECORD", 300)
    monkeypatch.setattr(meta, "BLOCK", 64)
    messages = [
        {"sender_name": "Sam", "timestamp_ms": ms(2024, 1, 1), "content": "x" * 1000},
        {"sender_name": "Sam", "timestamp_ms": ms(2024, 1, 2), "content": "short"},
    ]
    items, warnings = parse(tmp_path, dyi(messages))
    assert [i.body for i in items] == ["short"]
    assert [w.code for w in warnings] == ["message_too_long"]


def test_text_after_the_end_is_a_warning(tmp_path: Path) -> None:
    data = dyi(GOLDEN) + b"\n{garbage}\n"
    items, warnings = parse(tmp_path, data)
    assert len(items) == 3
    assert [w.code for w in warnings] == ["text_after_the_end"]


def test_truncated_file_yields_what_came_before_then_an_error(tmp_path: Path) -> None:
    data = dyi(GOLDEN)
    cut = element_starts(data)[2][0] + 30  # inside the third message
    path = write(tmp_path, data[:cut], "message_1.json")
    got: list[Item] = []
    with pytest.raises(ImportFormatError) as err:
        for x in Messenger().parse(Source(path), Context(name="message_1.json")):
            if isinstance(x, Item):
                got.append(x)
    assert [i.body for i in got] == ["I’m outside 😡", "Please stop.\nI mean it."]
    assert got[0].thread == "Alex Doe, Sam Example"  # the thread path was never reached
    e = err.value
    assert e.location is not None and e.location.file == "message_1.json"
    offset, line = element_starts(data)[2]
    assert (e.location.line, e.location.offset) == (line, offset)
    assert f"line {line}" in e.message and "stops part of the way" in e.message
    assert e.hint and "again" in e.hint


def test_broken_half_way_names_the_line(tmp_path: Path) -> None:
    data = dyi(GOLDEN)
    offset, line = element_starts(data)[2]
    assert data[offset - 7 : offset] == b"},\n    {"[:7]
    broken = data[: offset - 6] + data[offset - 5 :]  # the comma before the third message
    with pytest.raises(ImportFormatError) as err:
        run(write(tmp_path, broken))
    assert err.value.location is not None
    assert (err.value.location.line, err.value.location.offset) == (line, offset - 1)
    assert "damaged at line" in err.value.message


def test_truncated_before_the_messages(tmp_path: Path) -> None:
    data = dyi(GOLDEN)
    with pytest.raises(ImportFormatError) as err:
        run(write(tmp_path, data[:40]))
    assert "stops part of the way" in err.value.message


@pytest.mark.parametrize(
    ("data", "words"),
    [
        (b"", "empty"),
        (b"   \n", "empty"),
        (b"\xef\xbb\xbf", "empty"),
        ("{}".encode("utf-16"), "UTF-8"),
        (b"hello, this is a text file\n", "is not a Messenger"),
        (b'[{"sender_name": "x"}]', "is not a Messenger"),
        (b'{"chats": {"list": []}}', "not a Messenger or Instagram conversation"),
        (b'{"name": "Sam", "messages": 12}', "not a Messenger or Instagram conversation"),
        (b"<html><body>hi</body></html>", "is not a Messenger"),
    ],
)
def test_not_a_conversation(tmp_path: Path, data: bytes, words: str) -> None:
    with pytest.raises(ImportFormatError) as err:
        run(write(tmp_path, data, "file.json"))
    assert words in err.value.message
    assert err.value.location is not None and err.value.location.file == "file.json"
    assert err.value.hint


def test_empty_conversation_is_not_an_error(tmp_path: Path) -> None:
    assert parse(tmp_path, dyi([])) == ([], [])


# --- the HTML download ----------------------------------------------------------------------------

HTML = (
    b'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>Sam</title></head>'
    b'<body><div class="_a706"><div class="_a6-g"><div class="_a6-p">'
    b'<div class="_2ph_ _a6-h _a6-i"><div>Sam</div></div>'
    b'<div class="_a72d">Sep 13, 2020, 12:26 PM</div></div></div></div></body></html>'
)


def test_html_download_is_declined_with_the_way_to_get_json(tmp_path: Path) -> None:
    path = write(tmp_path, HTML, "message_1.html")
    assert Messenger().score(Probe.of(Source(path), path.name)) == 0.5
    for importer in (Messenger(), Instagram()):
        with pytest.raises(ImportFormatError) as err:
            run(path, importer)
        assert "HTML" in err.value.message and "JSON" in (err.value.hint or "")
        assert "Download your information" in (err.value.hint or "")
    zipped = make_zip(
        tmp_path / "facebook-sam.zip",
        {f"{ROOT}/inbox/sam_1/message_1.html": HTML, f"{ROOT}/inbox/sam_1/photos/1.jpg": JPEG},
    )
    assert Messenger().score(Probe.of(Source(zipped), zipped.name)) == 0.5
    with pytest.raises(ImportFormatError) as err:
        run(zipped)
    assert "HTML" in err.value.message


def test_old_instagram_layout_is_declined(tmp_path: Path) -> None:
    old = json.dumps(
        [{"participants": ["a", "b"], "conversation": [{"sender": "a", "text": "hi"}]}]
    ).encode()
    path = write(tmp_path, old, "messages.json")
    assert Instagram().score(Probe.of(Source(path), path.name)) == 0.5
    assert Messenger().score(Probe.of(Source(path), path.name)) == 0.0
    with pytest.raises(ImportFormatError) as err:
        run(path, Instagram())
    assert "before December 2020" in err.value.message


# --- zips of the whole download ---------------------------------------------------------------


def thread_messages(
    who: str, start: int, end: int, *, photo_every: int = 0, folder: str = ""
) -> list[dict[str, Any]]:
    """Messages start..end-1, newest first, one a minute, alternating ``who`` and Alex."""
    out = []
    for i in reversed(range(start, end)):
        m: dict[str, Any] = {
            "sender_name": who if i % 2 else "Alex Doe",
            "timestamp_ms": ms(2024, 2, 1) + i * 60_000,
            "content": f"message {i} ✉",
            "is_geoblocked_for_viewer": False,
        }
        if photo_every and i % photo_every == 0:
            m["photos"] = [{"uri": f"messages/inbox/{folder}/photos/{i}.jpg"}]
        out.append(m)
    return out


def test_whole_download_zip(tmp_path: Path) -> None:
    sam = thread_messages("Sam Example", 0, 12, photo_every=5, folder="sam_1")
    kim = thread_messages("Kim", 0, 3)
    members = {
        # Meta splits long threads: message_1 holds the newest, and 10 sorts after 2
        f"{ROOT}/inbox/sam_1/message_1.json": dyi(sam[:4], thread_path="inbox/sam_1"),
        f"{ROOT}/inbox/sam_1/message_10.json": dyi(sam[8:], thread_path="inbox/sam_1"),
        f"{ROOT}/inbox/sam_1/message_2.json": dyi(sam[4:8], thread_path="inbox/sam_1"),
        f"{ROOT}/inbox/sam_1/photos/10.jpg": JPEG,
        f"{ROOT}/inbox/sam_1/photos/0.jpg": PNG,  # the bytes decide the type, not the name
        f"{ROOT}/message_requests/kim_2/message_1.json": dyi(
            kim, participants=("Kim", "Alex Doe"), thread_path="message_requests/kim_2"
        ),
        f"{ROOT}/stickers_used/1.png": PNG,
        f"{ROOT}/autofill_information.json": b'{"autofill": []}',
        f"{ROOT}/your_messaging_settings.json": b'{"settings": {"x": 1}}',
        "personal_information/profile_information/profile_information.json": b"{}",
        "__MACOSX/._message_1.json": b"junk",
    }
    path = make_zip(tmp_path / "facebook-alexdoe-2024.zip", members)
    probe = Probe.of(Source(path), path.name)
    assert Messenger().score(probe) == 0.95 and Instagram().score(probe) < 0.95
    media: dict[str, bytes] = {}
    items, warnings = run(path, media=media)
    assert [i.raw["file"].split("/", 2)[-1] for i in items] == (
        ["inbox/sam_1/message_1.json"] * 4
        + ["inbox/sam_1/message_2.json"] * 4
        + ["inbox/sam_1/message_10.json"] * 4
        + ["message_requests/kim_2/message_1.json"] * 3
    )
    assert [i.body for i in items[:12]] == [f"message {i} ✉" for i in reversed(range(12))]
    assert {i.thread for i in items} == {"kim_2", "sam_1"}
    photos = {i.body: i.attachments for i in items if i.attachments}
    assert photos["message 10 ✉"][0].media_type == "image/jpeg"
    assert photos["message 0 ✉"][0].media_type == "image/png"
    assert media == {"10.jpg": JPEG, "0.jpg": PNG}
    missing = photos["message 5 ✉"][0]
    assert (missing.name, missing.chunks, missing.note) == ("5.jpg", None, "not found in the zip")
    [w] = warnings
    assert w.code == "missing_media" and "5.jpg" in w.message and "several zip files" in w.message
    assert w.line == next(i.line for i in items if i.body == "message 5 ✉")
    # lines and offsets are within the member named in raw
    data = members[f"{ROOT}/inbox/sam_1/message_2.json"]
    assert [(i.offset, i.line) for i in items[4:8]] == element_starts(data)


def test_zip_of_the_inbox_folder_and_of_a_wrapper_folder(tmp_path: Path) -> None:
    msgs = thread_messages("Sam Example", 0, 6, photo_every=3, folder="sam_1")
    for prefix in ("inbox/", "", "facebook-alexdoe-2024-01-01-x/messages/inbox/"):
        path = make_zip(
            tmp_path / "export.zip",
            {
                f"{prefix}sam_1/message_1.json": dyi(msgs, thread_path="inbox/sam_1"),
                f"{prefix}sam_1/photos/0.jpg": JPEG,
                f"{prefix}sam_1/photos/3.jpg": JPEG,
            },
        )
        media: dict[str, bytes] = {}
        items, warnings = run(path, media=media)
        assert len(items) == 6 and warnings == [], prefix
        assert sorted(media) == ["0.jpg", "3.jpg"]


def test_zip_with_end_to_end_encrypted_threads(tmp_path: Path) -> None:
    t = ms(2024, 5, 2, 7, 30)
    msgs = [
        {"senderName": "Sam Example", "text": "first", "timestamp": t, "type": "Generic",
         "isUnsent": False, "media": [], "reactions": []},
        {"senderName": "Sam Example", "text": "", "timestamp": t + 1, "type": "Generic",
         "isUnsent": False, "media": [{"uri": "./media/3f2a.jpeg"}], "reactions": []},
    ]  # fmt: skip
    path = make_zip(
        tmp_path / "messages.zip",
        {
            "Sam_1.json": e2ee(msgs, ("Sam Example", "Alex Doe"), "Sam Example"),
            "media/3f2a.jpeg": JPEG,
            "notes.json": b'{"something": "else"}',
            "list.json": b"[1, 2]",
        },
    )
    media: dict[str, bytes] = {}
    items, warnings = run(path, media=media)
    assert [i.body for i in items] == ["first", None] and warnings == []
    assert media == {"3f2a.jpeg": JPEG}


def test_a_damaged_conversation_in_a_zip_does_not_stop_the_others(tmp_path: Path) -> None:
    good = dyi(thread_messages("Sam Example", 0, 3), thread_path="inbox/sam_1")
    bad = dyi(thread_messages("Kim", 0, 3), thread_path="inbox/kim_2")
    cut = element_starts(bad)[1][0] + 10
    path = make_zip(
        tmp_path / "export.zip",
        {
            "messages/inbox/kim_2/message_1.json": bad[:cut],
            "messages/inbox/odd_3/message_1.json": b'"just a string"',
            "messages/inbox/sam_1/message_1.json": good,
        },
    )
    items, warnings = run(path)
    assert [i.thread for i in items] == ["Alex Doe, Sam Example"] + ["sam_1"] * 3
    assert [(w.code, w.line) for w in warnings] == [
        ("damaged_conversation", element_starts(bad)[1][1]),
        ("not_a_conversation", 1),
    ]
    assert "kim_2/message_1.json" in warnings[0].message


def test_zip_without_conversations(tmp_path: Path) -> None:
    path = make_zip(
        tmp_path / "facebook-part2.zip",
        {f"{ROOT}/inbox/sam_1/photos/1.jpg": JPEG, "posts/your_posts.json": b"[]"},
    )
    with pytest.raises(ImportFormatError) as err:
        run(path)
    assert "no Facebook conversations" in err.value.message
    assert "several zip files" in (err.value.cause or "")


def test_truncated_zip(tmp_path: Path) -> None:
    path = make_zip(tmp_path / "a.zip", {f"{ROOT}/inbox/s/message_1.json": dyi(GOLDEN)})
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(ImportFormatError) as err:
        run(path)
    assert "damaged or incomplete" in err.value.message


def test_zip_bomb_is_refused_before_reading(tmp_path: Path) -> None:
    path = tmp_path / "bomb.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as zf:
        zf.writestr(f"{ROOT}/inbox/s/message_1.json", dyi(GOLDEN))
        with zf.open(f"{ROOT}/inbox/s/photos/1.jpg", "w", force_zip64=True) as f:
            block = bytes(1 << 20)
            for _ in range(150):
                f.write(block)
    with pytest.raises(ImportTooLarge) as err:
        run(path)
    assert "photos/1.jpg" in (err.value.cause or "")


def test_zip_over_the_total_limit_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(meta, "MAX_ZIP_TOTAL", 1000)
    path = make_zip(tmp_path / "a.zip", {f"{ROOT}/inbox/s/message_1.json": dyi(GOLDEN * 4)})
    with pytest.raises(ImportTooLarge):
        run(path)


def test_chunks_read_the_zip_member_each_time(tmp_path: Path) -> None:
    msgs = thread_messages("Sam Example", 0, 2, photo_every=1, folder="s")
    path = make_zip(
        tmp_path / "a.zip",
        {
            f"{ROOT}/inbox/s/message_1.json": dyi(msgs),
            f"{ROOT}/inbox/s/photos/0.jpg": JPEG,
            f"{ROOT}/inbox/s/photos/1.jpg": PNG,
        },
    )
    gen = Messenger().parse(Source(path), Context(name="a.zip"))
    first = next(gen)
    assert isinstance(first, Item)
    chunks = first.attachments[0].chunks
    assert chunks is not None
    assert b"".join(chunks()) == PNG and b"".join(chunks()) == PNG
    rest = list(gen)
    assert len(rest) == 1


# --- scores -------------------------------------------------------------------------------------


def score(tmp_path: Path, data: bytes, name: str) -> tuple[float, float]:
    path = write(tmp_path, data, name)
    probe = Probe.of(Source(path), name)
    return Messenger().score(probe), Instagram().score(probe)


def test_scores(tmp_path: Path) -> None:
    legacy = dyi(GOLDEN)
    assert score(tmp_path, legacy, "message_1.json") == (0.95, 0.85)
    assert score(tmp_path, legacy, "instagram message_1.json") == (0.75, 0.95)
    assert score(tmp_path, b"\xef\xbb\xbf" + legacy, "m.json") == (0.95, 0.85)
    e2e = e2ee([{"senderName": "a", "timestamp": 1, "text": "x"}], ("a",), "a")
    assert score(tmp_path, e2e, "a_1.json")[0] == 0.95
    # a conversation whose participants fill the first 64 KB
    crowd = dyi(GOLDEN, participants=tuple(f"Person number {i}" for i in range(3000)))
    assert score(tmp_path, crowd, "message_1.json")[0] == 0.5
    group = dyi(GOLDEN, participants=tuple(f"Person number {i}" for i in range(250)))
    assert score(tmp_path, group, "message_1.json")[0] == 0.95
    telegram = json.dumps({"name": "Sam", "type": "personal_chat", "messages": [
        {"id": 1, "type": "message", "date": "2024-01-01T10:00:00", "from": "Sam", "text": "x"}
    ]}).encode()  # fmt: skip
    assert score(tmp_path, telegram, "result.json") == (0.0, 0.0)
    assert score(tmp_path, b"12/07/2017, 22:35 - Sam: hi\n", "chat.txt") == (0.0, 0.0)
    assert score(tmp_path, b"<smses count='1'>", "sms.xml") == (0.0, 0.0)
    assert score(tmp_path, b"<html><body>my page</body></html>", "page.html") == (0.0, 0.0)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("your_instagram_activity/messages/inbox/sam_1/message_1.json", legacy)
        zf.writestr("connections/followers_and_following/followers_1.json", b"[]")
    assert score(tmp_path, buf.getvalue(), "export.zip") == (0.75, 0.95)
    # a large download whose first names (all the probe lists) are photos
    big = Probe("facebook-x.zip", b"PK\x03\x04", 1 << 30, (f"{ROOT}/inbox/s_1/photos/1.jpg",))
    assert (Messenger().score(big), Instagram().score(big)) == (0.6, 0.4)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("_chat.txt", b"12/07/2017, 22:35 - Sam: hi\n")
    assert score(tmp_path, buf.getvalue(), "WhatsApp Chat.zip") == (0.0, 0.0)


def test_registered() -> None:
    names = [i.name for i in available()]
    assert "messenger" in names and "instagram" in names


# --- the shared samples -------------------------------------------------------------------------

# file -> (items, Counter of senders, kinds, warning codes)
SAMPLE_COUNTS: dict[str, tuple[int, dict[str, int], dict[str, int], list[str]]] = {
    "dyi_json_files_audio_sticker_bom__chatanalytics.json": (
        7,
        {"Alice": 2, "Bob": 5},
        {"message": 7},
        ["media_not_in_file"],
    ),
    "dyi_json_group__msgvault.json": (
        3,
        {"Test User": 1, "Alice Example": 1, "Bob Example": 1},
        {"message": 3},
        [],
    ),
    "dyi_json_mojibake_message_1__msgvault.json": (
        3,
        {"Test User": 2, "Alice Example": 1},
        {"message": 3},
        [],
    ),
    "dyi_json_nontext_calls_shares__msgvault.json": (
        6,
        {"Test User": 3, "Sam NonText": 3},
        {"message": 3, "call": 2, "system": 1},
        ["media_not_in_file"],
    ),
    "e2ee_export_alice_1__msgvault.json": (
        4,
        {"Test User": 3, "Alice Example": 1},
        {"message": 4},
        [],
    ),
}


@needs_samples
def test_every_sample_is_accounted_for() -> None:
    present = {p.name for p in MESSENGER_SAMPLES.iterdir()}
    assert present == {*SAMPLE_COUNTS, "dyi_html_message_1__msgvault.html"}


@needs_samples
@pytest.mark.parametrize("name", sorted(SAMPLE_COUNTS))
def test_shared_sample(name: str) -> None:
    total, senders, kinds, codes = SAMPLE_COUNTS[name]
    path = MESSENGER_SAMPLES / name
    items, warnings = run(path)
    assert len(items) == total
    assert Counter(i.sender.raw for i in items if i.sender) == Counter(senders)
    assert Counter(i.kind for i in items) == Counter(kinds)
    assert [w.code for w in warnings] == codes
    assert all(i.sent_at is not None and i.sent_at.tzinfo is UTC for i in items)
    assert all(i.channel == "messenger" and i.line and i.offset for i in items)
    assert Messenger().score(Probe.of(Source(path), name)) == 0.95


@needs_samples
def test_samples_details() -> None:
    items, _ = run(MESSENGER_SAMPLES / "dyi_json_mojibake_message_1__msgvault.json")
    assert [i.body for i in items] == ["See you soon", "café time?", "Hello"]
    assert items[1].raw["reactions"] == "❤ by Test User\n👍 by Alice Example"
    assert items[0].thread == "alice_ABC123"
    e2e, _ = run(MESSENGER_SAMPLES / "e2ee_export_alice_1__msgvault.json")
    assert [i.body for i in e2e] == ["Hello", "café time?", "See you soon", "oops"]
    assert [i.deleted for i in e2e] == [False, False, False, True]
    # the same three messages in both shapes are the same in every field the pipeline compares
    assert {brief(i) for i in e2e[:3]} == {brief(i) for i in items}
    calls, _ = run(MESSENGER_SAMPLES / "dyi_json_nontext_calls_shares__msgvault.json")
    assert [(i.kind, i.call_type, i.duration_s) for i in calls if i.kind == "call"] == [
        ("call", "unknown", 192),
        ("call", "missed", 0),
    ]
    assert [i.body for i in calls][4:] == ["https://example.com/article", "Sam left the chat"]
    assert [a.name for i in calls for a in i.attachments] == ["1.png", "missing.jpg"]
    bom, _ = run(MESSENGER_SAMPLES / "dyi_json_files_audio_sticker_bom__chatanalytics.json")
    assert bom[0].offset == 155 and bom[0].body == "Hello"
    assert [a.name for i in bom for a in i.attachments] == [
        "blabla.docx",
        "audioclip11111.mp4",
        "123123123123123.png",
        "123123123123123.jpg",
    ]


@needs_samples
def test_shared_html_sample_is_declined() -> None:
    path = MESSENGER_SAMPLES / "dyi_html_message_1__msgvault.html"
    probe = Probe.of(Source(path), path.name)
    assert Messenger().score(probe) == 0.5
    with pytest.raises(ImportFormatError) as err:
        run(path)
    assert "HTML" in err.value.message


@needs_samples
def test_shared_instagram_sample() -> None:
    path = INSTAGRAM_SAMPLES / "message_1_minimal__chatminer.json"
    items, warnings = run(path, Instagram())
    assert warnings == []
    assert [brief(i) for i in items] == [
        ("message", "John Doe", utc(2020, 1, 17, 20, 49), "Hello Jane!"),
        ("message", "Jane Doe", utc(2019, 12, 24, 11, 23), "Hello John!"),
    ]
    assert all(i.channel == "instagram" and i.thread is None for i in items)
    probe = Probe.of(Source(path), path.name)
    assert Instagram().score(probe) == 0.85  # nothing in it says Instagram: Messenger wins
    assert Instagram().score(Probe.of(Source(path), "instagram-" + path.name)) == 0.95


@needs_samples
def test_other_formats_samples_are_not_claimed() -> None:
    for folder in ("whatsapp", "sms_backup_restore"):
        for path in (SHARED / "samples" / folder).iterdir():
            probe = Probe.of(Source(path), path.name)
            assert Messenger().score(probe) == 0.0, path.name
            assert Instagram().score(probe) == 0.0, path.name


# --- generated documents and exports round-trip -------------------------------------------------

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(st.characters(codec="utf-8"), max_size=8),
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(st.text(st.characters(codec="utf-8"), max_size=5), inner, max_size=4)
    ),
    max_leaves=16,
)
keys = st.text(st.characters(codec="utf-8"), max_size=6).filter(lambda k: k != "messages")


@given(
    st.lists(json_values, max_size=8),
    st.dictionaries(keys, json_values, max_size=3),
    st.dictionaries(keys, json_values, max_size=3),
    st.sampled_from([None, 0, 1, 2, 4]),
    st.booleans(),
    st.integers(1, 70),
    st.booleans(),
)
@settings(max_examples=300, deadline=None)
def test_scanner_finds_every_value_where_it_is(
    elements: list[Any],
    before: dict[str, Any],
    after: dict[str, Any],
    indent: int | None,
    ascii_only: bool,
    block: int,
    bom: bool,
) -> None:
    doc = {**before, "messages": elements, **{k: v for k, v in after.items() if k not in before}}
    data = (b"\xef\xbb\xbf" if bom else b"") + json.dumps(
        doc, indent=indent, ensure_ascii=ascii_only
    ).encode()
    events = list(meta._Json(io.BytesIO(data), block=block).events(keep_messages=True))
    found = [e for e in events if e.kind == "message"]
    assert [json.loads(e.data or b"") for e in found] == elements
    values = [e for e in events if e.kind == "value"]
    for e in [*found, *values]:
        assert e.data is not None and data[e.offset : e.offset + len(e.data)] == e.data
        assert e.line == data.count(b"\n", 0, e.offset) + 1
    assert {e.key: json.loads(e.data or b"") for e in values} == {
        k: v for k, v in doc.items() if k != "messages"
    }
    [start] = [e for e in events if e.kind == "messages"]
    assert data[start.offset : start.offset + 1] == b"["
    # pass 1 sees the same, without keeping the messages
    skipped = list(meta._Json(io.BytesIO(data), block=block).events(keep_messages=False))
    assert [(e.kind, e.key, e.offset, e.line) for e in skipped] == [
        (e.kind, e.key, e.offset, e.line) for e in events
    ]
    assert all(e.data is None for e in skipped if e.kind == "message")


@given(st.binary(max_size=300), st.integers(1, 40))
@settings(max_examples=300, deadline=None)
def test_scanner_never_fails_otherwise_on_any_bytes(data: bytes, block: int) -> None:
    try:
        for _ in meta._Json(io.BytesIO(data), block=block).events(keep_messages=True):
            pass
    except meta._Broken as exc:
        assert 0 <= exc.offset <= len(data) and exc.line >= 1


NAME_CHARS = st.characters(codec="utf-8", categories=("L", "M", "N", "Zs", "So", "Pd"))
BODY = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=40)


@st.composite
def exports(draw: st.DrawFn) -> list[dict[str, Any]]:
    names = draw(st.lists(st.text(NAME_CHARS, min_size=1, max_size=12), min_size=1, max_size=3))
    out = []
    for _ in range(draw(st.integers(0, 15))):
        m: dict[str, Any] = {
            "sender_name": draw(st.sampled_from(names)),
            "timestamp_ms": draw(st.integers(ms(2004, 1, 1), ms(2099, 1, 1))),
        }
        text = draw(BODY)
        if text and not meta._event_text(text) and not meta._unsent_text(text):
            m["content"] = text
        if draw(st.booleans()):
            m["reactions"] = [
                {"reaction": draw(st.sampled_from(["❤", "😡", "👍", "😢"])), "actor": a}
                for a in draw(st.lists(st.sampled_from(names), max_size=2))
            ]
        if draw(st.booleans()):
            m["photos"] = [{"uri": f"messages/inbox/t/photos/{draw(st.integers(0, 99))}.jpg"}]
        if draw(st.booleans()):
            m["is_unsent"] = draw(st.booleans())
        out.append(m)
    return out


@given(exports(), st.sampled_from([17, 64, 1 << 20]))
@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
def test_generated_exports_round_trip(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    messages: list[dict[str, Any]],
    block: int,
) -> None:
    """Write generated messages as Meta would (mojibake, indent, newest first), read them in
    small blocks, and get the same messages back."""
    monkeypatch.setattr(meta, "BLOCK", block)
    items, warnings = parse(tmp_path, dyi(messages))
    assert [w.code for w in warnings] == (
        ["media_not_in_file"] if any("photos" in m for m in messages) else []
    )
    assert [
        (i.sender.raw if i.sender else None, i.sent_at, i.body, i.deleted, len(i.attachments))
        for i in items
    ] == [
        (
            m["sender_name"],
            datetime.fromtimestamp(m["timestamp_ms"] / 1000, UTC),
            m.get("content"),
            m.get("is_unsent", False),
            len(m.get("photos", [])),
        )
        for m in messages
    ]
    for i, m in zip(items, messages, strict=True):
        if m.get("reactions"):
            assert i.raw["reactions"] == "\n".join(
                f"{r['reaction']} by {r['actor']}" for r in m["reactions"]
            )
        assert i.raw["sender_name"] == moj(m["sender_name"])


@pytest.mark.parametrize("block", [1, 2, 3, 7, 64, 1 << 20])
def test_small_read_blocks_give_the_same_items(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, block: int
) -> None:
    data = dyi(GOLDEN + thread_messages("Sam Example", 0, 5, photo_every=2, folder="s"))
    whole = parse(tmp_path, data)
    monkeypatch.setattr(meta, "BLOCK", block)
    assert parse(tmp_path, data) == whole


def test_deterministic(tmp_path: Path) -> None:
    path = make_zip(
        tmp_path / "a.zip",
        {
            f"{ROOT}/inbox/s/message_1.json": dyi(
                thread_messages("Sam", 0, 9, photo_every=3, folder="s")
            ),
            f"{ROOT}/inbox/s/photos/3.jpg": JPEG,
        },
    )

    def shape() -> list[Any]:
        items, warnings = run(path)
        return [
            (i.__dict__ | {"attachments": [(a.name, a.media_type, a.note) for a in i.attachments]})
            for i in items
        ] + list(warnings)

    assert shape() == shape()


@pytest.mark.slow
def test_memory_stays_bounded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(meta, "BLOCK", 64 << 10)
    messages = [
        {"sender_name": "Sam Example", "timestamp_ms": ms(2024, 1, 1) - i,
         "content": f"message {i} 😡 " + "x" * 200, "reactions": [{"reaction": "❤", "actor": "A"}]}
        for i in range(12_000)
    ]  # fmt: skip
    path = write(tmp_path, dyi(messages))
    del messages
    size = path.stat().st_size
    assert size > 4 << 20
    tracemalloc.start()
    try:
        count = sum(1 for x in Messenger().parse(Source(path), Context()) if isinstance(x, Item))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert count == 12_000
    assert peak < size // 4, peak


# --- through the real pipeline --------------------------------------------------------------------


def export_zip(path: Path, start: int, end: int) -> Path:
    """A whole-download zip with Sam's conversation, messages start..end-1, a photo every
    tenth message, split into files of 20 as Meta does."""
    msgs = thread_messages("Sam Example", start, end, photo_every=10, folder="samexample_1")
    members: dict[str, bytes] = {}
    for n, first in enumerate(range(0, len(msgs), 20), 1):
        members[f"{ROOT}/inbox/samexample_1/message_{n}.json"] = dyi(
            msgs[first : first + 20], thread_path="inbox/samexample_1"
        )
    for i in range(start, end):
        if i % 10 == 0:
            members[f"{ROOT}/inbox/samexample_1/photos/{i}.jpg"] = JPEG + bytes([i % 256])
    return make_zip(path, members)


def test_pipeline_import_reimport_and_a_later_overlapping_export(
    diary: Diary, tmp_path: Path
) -> None:
    first = diary.import_file(export_zip(tmp_path / "facebook-alex-2024-03.zip", 0, 40))
    assert first.importer == "messenger" and first.added == 40 and first.duplicates == 0
    assert first.files_stored == 4 and first.files_missing == 0
    assert first.by_sender == {"Sam Example": 20, "Alex Doe": 20}
    msgs = diary.messages()
    assert len(msgs) == 40 and {m.channel for m in msgs} == {"messenger"}
    m5 = next(m for m in msgs if m.body == "message 5 ✉")
    assert m5.sender_raw == "Sam Example" and m5.thread == "samexample_1"
    assert m5.sent_at == "2024-02-01T00:05:00Z" and m5.local_time == str(ms(2024, 2, 1, 0, 5))
    with_photo = next(m for m in msgs if m.body == "message 30 ✉")
    assert with_photo.attachments[0]["media_type"] == "image/jpeg"
    assert with_photo.attachments[0]["sha256"]
    # the same file again: nothing added
    again = diary.import_file(export_zip(tmp_path / "facebook-alex-2024-03.zip", 0, 40))
    assert again.already_imported_at is not None and again.added == 0
    # a later download overlapping the first: only what is new is added
    later = diary.import_file(export_zip(tmp_path / "facebook-alex-2024-05.zip", 25, 70))
    assert later.added == 30 and later.duplicates == 15
    bodies = [m.body for m in diary.messages()]
    assert len(bodies) == 70 and len(set(bodies)) == 70
    # the same messages from a loose message_1.json (newest 20) are all known already
    loose = tmp_path / "message_1.json"
    loose.write_bytes(dyi(thread_messages("Sam Example", 50, 70), thread_path="inbox/x_1"))
    s = diary.import_file(loose)
    assert s.added == 0 and s.duplicates == 20
    report = diary.verify()
    assert report.ok, report.problems


def test_pipeline_end_to_end_encrypted_export_matches_the_download(
    diary: Diary, tmp_path: Path
) -> None:
    msgs = thread_messages("Sam Example", 0, 10)
    legacy = tmp_path / "message_1.json"
    legacy.write_bytes(dyi(msgs))
    assert diary.import_file(legacy).added == 10
    # the same conversation exported from the encrypted chat, oldest first, plus two more
    newer = [
        {"senderName": m["sender_name"], "text": m["content"], "timestamp": m["timestamp_ms"],
         "type": "Generic", "isUnsent": False, "media": [], "reactions": []}
        for m in reversed(thread_messages("Sam Example", 0, 12))
    ]  # fmt: skip
    secure = tmp_path / "Sam_1.json"
    secure.write_bytes(e2ee(newer, ("Sam Example", "Alex Doe"), "Sam Example"))
    s = diary.import_file(secure)
    assert s.importer == "messenger" and s.added == 2 and s.duplicates == 10
    assert diary.verify().ok


@needs_samples
def test_pipeline_samples_and_the_html_refusal(diary: Diary) -> None:
    for name in sorted(SAMPLE_COUNTS):
        s = diary.import_file(MESSENGER_SAMPLES / name)
        assert s.importer == "messenger"
        assert s.added + s.duplicates == SAMPLE_COUNTS[name][0], name
    with pytest.raises(ImportFormatError) as err:
        diary.import_file(MESSENGER_SAMPLES / "dyi_html_message_1__msgvault.html")
    assert "JSON" in (err.value.hint or "")
    s = diary.import_file(
        INSTAGRAM_SAMPLES / "message_1_minimal__chatminer.json", format="instagram"
    )
    assert s.importer == "instagram" and s.added == 2
    assert {m.channel for m in diary.messages() if m.source_id == s.source_id} == {"instagram"}
    assert diary.verify().ok


def test_pipeline_truncated_file_changes_nothing_unless_partial(
    diary: Diary, tmp_path: Path
) -> None:
    data = dyi(thread_messages("Sam Example", 0, 10))
    cut = element_starts(data)[6][0] + 20
    path = write(tmp_path, data[:cut], "message_1.json")
    with pytest.raises(ImportFormatError) as err:
        diary.import_file(path)
    assert "--partial" in (err.value.hint or "")
    assert diary.messages() == []
    s = diary.import_file(path, partial=True)
    assert s.added == 6 and s.warnings[-1]["code"] == "file_ends_early"
    junk = write(tmp_path, b'{"hello": "world"}', "other.json")
    with pytest.raises(UnknownFormat):
        diary.import_file(junk)
    assert diary.verify().ok
