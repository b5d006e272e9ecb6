"""The Discord importer (DiscordChatExporter JSON): exact items from small synthetic exports
written the way the exporter writes them (messages, replies, calls with and without an end,
notices, edits, bots, attachments as links, times in UTC, with offsets and without), zips with
downloaded media, the shared samples, a round trip of generated exports with exact byte
offsets, and damaged and foreign files; then the real pipeline into an encrypted diary."""

from __future__ import annotations

import json
import zipfile
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from docket.api import Diary
from docket.errors import ImportFormatError, ImportTooLarge
from docket.importers import telegram
from docket.importers.base import Context, ImportWarning, Item, Probe, Source
from docket.importers.discord import Discord
from tests.conftest import SHARED

SAMPLES = SHARED / "samples" / "discord"
needs_samples = pytest.mark.skipif(not SAMPLES.is_dir(), reason="shared samples not present")
PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4

SAM = {
    "id": "111111111111111111",
    "name": "sam_x",
    "discriminator": "0000",
    "nickname": "Sam",
    "color": None,
    "isBot": False,
    "roles": [],
    "avatarUrl": "https://cdn.example/a.png",
}
ALEX = {
    "id": "222222222222222222",
    "name": "alex",
    "discriminator": "0000",
    "nickname": "Alex",
    "color": None,
    "isBot": False,
    "roles": [],
    "avatarUrl": "https://cdn.example/b.png",
}
BOT = {
    "id": "333333333333333333",
    "name": "helper",
    "discriminator": "1234",
    "nickname": "helper",
    "color": None,
    "isBot": True,
    "roles": [],
    "avatarUrl": "",
}


def msg(
    mid: int,
    when: str,
    content: str = "",
    author: dict[str, Any] | None = None,
    kind: str = "Default",
    **extra: Any,
) -> dict[str, Any]:
    m: dict[str, Any] = {
        "id": str(mid),
        "type": kind,
        "timestamp": when,
        "timestampEdited": None,
        "callEndedTimestamp": None,
        "isPinned": False,
        "content": content,
        "author": author if author is not None else SAM,
        "attachments": [],
        "embeds": [],
        "stickers": [],
        "reactions": [],
        "mentions": [],
    }
    m.update(extra)
    m["inlineEmojis"] = []
    return m


def export(messages: list[dict[str, Any]], count: int | None = None) -> dict[str, Any]:
    return {
        "guild": {"id": "0", "name": "Direct Messages", "iconUrl": "https://cdn.example/g.png"},
        "channel": {
            "id": "900000000000000001",
            "type": "DirectTextChat",
            "categoryId": "0",
            "category": "Private",
            "name": "Sam",
            "topic": None,
        },
        "dateRange": {"after": None, "before": None},
        "exportedAt": "2024-03-01T10:00:00.000+00:00",
        "messages": messages,
        "messageCount": len(messages) if count is None else count,
    }


def dce_json(doc: Any) -> bytes:
    """As DiscordChatExporter writes (System.Text.Json, indented, relaxed escaping)."""
    return json.dumps(doc, indent=2, ensure_ascii=False).encode("utf-8")


def write(path: Path, doc: Any) -> Path:
    path.write_bytes(dce_json(doc))
    return path


def run(
    path: Path, media: dict[str, bytes] | None = None, **context: Any
) -> tuple[list[Item], list[ImportWarning]]:
    items: list[Item] = []
    warnings: list[ImportWarning] = []
    for x in Discord().parse(Source(path), Context(name=path.name, **context)):
        if isinstance(x, Item):
            items.append(x)
            for a in x.attachments:
                if media is not None and a.chunks is not None:
                    media[a.name] = b"".join(a.chunks())
        else:
            warnings.append(x)
    return items, warnings


def at_offset(data: bytes, offset: int) -> Any:
    value, _ = json.JSONDecoder().raw_decode(data[offset:].decode("utf-8"))
    return value


def utc(y: int, mo: int, d: int, h: int = 0, mi: int = 0, s: int = 0, us: int = 0) -> datetime:
    return datetime(y, mo, d, h, mi, s, us, tzinfo=UTC)


# --- golden ---------------------------------------------------------------------------------------


def test_a_direct_message_export(tmp_path: Path) -> None:
    messages = [
        msg(1, "2024-02-01T20:00:00.123+00:00", "you can't hide from me"),
        msg(
            2,
            "2024-02-01T21:00:05+01:00",
            "leave me alone",
            ALEX,
            timestampEdited="2024-02-01T21:02:00+01:00",
        ),
        msg(
            3,
            "2024-02-01T20:10:00+00:00",
            "I saw you",
            kind="Reply",
            reference={"messageId": "2", "channelId": "900000000000000001", "guildId": None},
            reactions=[
                {
                    "emoji": {
                        "id": "",
                        "name": "😡",
                        "code": "rage",
                        "isAnimated": False,
                        "imageUrl": "",
                    },
                    "count": 1,
                    "users": [ALEX],
                }
            ],
        ),
        msg(
            4,
            "2024-02-01T20:15:00+00:00",
            "Started a call that lasted 3 minutes.",
            kind="Call",
            callEndedTimestamp="2024-02-01T20:18:30+00:00",
        ),
        msg(5, "2024-02-01T20:20:00+00:00", "Started a call that lasted 0 minutes.", kind="Call"),
        msg(
            6,
            "2024-02-01T20:21:00+00:00",
            "Added a recipient.",
            kind="RecipientAdd",
            mentions=[ALEX],
        ),
        msg(7, "2024-02-01T20:22:00+00:00", "Pinned a message.", kind="ChannelPinnedMessage"),
        msg(
            8,
            "2024-02-01T20:23:00+00:00",
            "",
            attachments=[
                {
                    "id": "1",
                    "url": "https://cdn.discordapp.com/attachments/1/2/photo.png?ex=1",
                    "fileName": "photo.png",
                    "fileSizeBytes": 1024,
                }
            ],
        ),
        msg(9, "2024-02-01T20:24:00+00:00", "/remind me", BOT, kind="20"),
        msg(10, "2024-02-01T20:25:00", "a time without an offset"),
    ]
    path = write(tmp_path / "Direct Messages - Sam [900000000000000001].json", export(messages))
    data = path.read_bytes()
    items, warnings = run(path)
    assert warnings == []
    assert [(i.kind, i.sender.raw if i.sender else None, i.sent_at, i.body) for i in items] == [
        ("message", SAM["id"], utc(2024, 2, 1, 20, 0, 0, 123000), "you can't hide from me"),
        ("message", ALEX["id"], utc(2024, 2, 1, 20, 0, 5), "leave me alone"),
        ("message", SAM["id"], utc(2024, 2, 1, 20, 10), "I saw you"),
        ("call", SAM["id"], utc(2024, 2, 1, 20, 15), "Started a call that lasted 3 minutes."),
        ("call", SAM["id"], utc(2024, 2, 1, 20, 20), "Started a call that lasted 0 minutes."),
        ("system", SAM["id"], utc(2024, 2, 1, 20, 21), "Added a recipient."),
        ("system", SAM["id"], utc(2024, 2, 1, 20, 22), "Pinned a message."),
        ("message", SAM["id"], utc(2024, 2, 1, 20, 23), ""),
        ("message", BOT["id"], utc(2024, 2, 1, 20, 24), "/remind me"),
        ("message", SAM["id"], utc(2024, 2, 1, 20, 25), "a time without an offset"),
    ]
    assert [(i.call_type, i.duration_s) for i in items if i.kind == "call"] == [
        ("unknown", 210),
        ("unknown", None),
    ]
    assert all(i.channel == "discord" and i.direction == "unknown" for i in items)
    assert all(i.thread == "900000000000000001" and i.line is None for i in items)
    assert items[1].local_time == "2024-02-01T21:00:05+01:00"
    assert items[1].raw["timestampEdited"] == "2024-02-01T21:02:00+01:00"
    assert items[1].raw["author.name"] == "alex" and items[1].raw["author.nickname"] == "Alex"
    assert items[8].raw["author.isBot"] == "true"
    assert json.loads(items[2].raw["reference"])["messageId"] == "2"
    assert json.loads(items[2].raw["reactions"])[0]["emoji"]["name"] == "😡"
    assert items[0].raw["channel.name"] == "Sam" and items[0].raw["guild.name"] == "Direct Messages"
    assert items[0].raw["channel.type"] == "DirectTextChat"
    [photo] = items[7].attachments
    assert (photo.name, photo.media_type, photo.chunks) == ("photo.png", "image/png", None)
    assert photo.note is not None
    assert "https://cdn.discordapp.com/attachments/1/2/photo.png?ex=1" in photo.note
    for i, m in zip(items, messages, strict=True):
        assert i.offset is not None and at_offset(data, i.offset) == m


def test_a_time_without_offset_is_read_in_the_given_zone(tmp_path: Path) -> None:
    path = write(
        tmp_path / "x.json", export([msg(1, "2024-07-01T12:00:00"), msg(2, "2024-10-27T01:30:00")])
    )
    items, _ = run(path, timezone="Europe/London")
    assert [(i.sent_at, i.time_note) for i in items] == [
        (utc(2024, 7, 1, 11), None),
        (utc(2024, 10, 27, 0, 30), "ambiguous"),
    ]


def test_an_unreadable_time_is_a_warning(tmp_path: Path) -> None:
    path = write(tmp_path / "x.json", export([msg(1, "yesterday"), msg(2, "2024-01-01T00:00:00Z")]))
    items, warnings = run(path)
    assert [i.sent_at for i in items] == [None, utc(2024, 1, 1)]
    assert [(w.code, w.offset) for w in warnings] == [("bad_date", items[0].offset)]


def test_message_count_that_does_not_match_is_reported(tmp_path: Path) -> None:
    path = write(tmp_path / "x.json", export([msg(1, "2024-01-01T00:00:00Z")], count=3))
    items, warnings = run(path)
    assert len(items) == 1 and [w.code for w in warnings] == ["message_count_differs"]


def test_an_export_with_no_messages(tmp_path: Path) -> None:
    items, warnings = run(write(tmp_path / "x.json", export([])))
    assert items == [] and [w.code for w in warnings] == ["no_messages"]


# --- media ----------------------------------------------------------------------------------------


def test_zip_with_downloaded_media(tmp_path: Path) -> None:
    files = [
        {
            "id": "1",
            "url": "Direct Messages - Sam.json_Files\\photo-ABC12.png",
            "fileName": "photo.png",
            "fileSizeBytes": len(PNG),
        },
        {
            "id": "2",
            "url": "Direct Messages - Sam.json_Files/voice%20note-XYZ.ogg",
            "fileName": "voice note.ogg",
            "fileSizeBytes": 4,
        },
        {
            "id": "3",
            "url": "Direct Messages - Sam.json_Files/missing-000.pdf",
            "fileName": "missing.pdf",
            "fileSizeBytes": 4,
        },
        {
            "id": "4",
            "url": "C:\\Users\\me\\assets\\other.png",
            "fileName": "other.png",
            "fileSizeBytes": 4,
        },
        {
            "id": "5",
            "url": "/home/me/discord-assets/kept-9F2.png",
            "fileName": "kept.png",
            "fileSizeBytes": len(PNG),
        },
    ]
    doc = dce_json(export([msg(1, "2024-01-01T00:00:00Z", "see", attachments=files)]))
    z = tmp_path / "export.zip"
    with zipfile.ZipFile(z, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("export/Direct Messages - Sam.json", doc)
        zf.writestr("export/Direct Messages - Sam.json_Files/photo-ABC12.png", PNG)
        zf.writestr("export/Direct Messages - Sam.json_Files/voice note-XYZ.ogg", b"OggS")
        zf.writestr("export/Direct Messages - Sam.json_Files/saved.json", b'{"not": "an export"}')
        zf.writestr("discord-assets/kept-9F2.png", PNG)  # saved outside the export folder
    assert Discord().score(Probe.of(Source(z), z.name)) >= 0.9
    media: dict[str, bytes] = {}
    items, warnings = run(z, media=media)
    assert warnings == []
    [item] = items
    assert [(a.name, a.chunks is not None) for a in item.attachments] == [
        ("photo.png", True),
        ("voice note.ogg", True),
        ("missing.pdf", False),
        ("other.png", False),
        ("kept.png", True),
    ]
    assert media == {"photo.png": PNG, "voice note.ogg": b"OggS", "kept.png": PNG}
    assert item.raw["zip.member"] == "export/Direct Messages - Sam.json"
    assert at_offset(doc, item.offset or 0)["id"] == "1"


def test_media_beside_a_bare_json_file_is_listed_with_advice(tmp_path: Path) -> None:
    files = [{"id": "1", "url": "x.json_Files/p-1.png", "fileName": "p.png", "fileSizeBytes": 1}]
    items, _ = run(
        write(tmp_path / "x.json", export([msg(1, "2024-01-01T00:00:00Z", attachments=files)]))
    )
    [a] = items[0].attachments
    assert a.chunks is None and a.note is not None and ".zip" in a.note


def test_zip_without_an_export(tmp_path: Path) -> None:
    z = tmp_path / "stuff.zip"
    with zipfile.ZipFile(z, "w") as zf:
        zf.writestr("notes.json", b'{"a": 1}')
    with pytest.raises(ImportFormatError) as e:
        run(z)
    assert e.value.location is not None and e.value.location.file == "stuff.zip"


def test_zip_bomb_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(telegram, "MAX_ZIP_TOTAL", 1000)
    z = tmp_path / "big.zip"
    with zipfile.ZipFile(z, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("x.json", dce_json(export([msg(1, "2024-01-01T00:00:00Z", "a" * 2000)])))
    with pytest.raises(ImportTooLarge):
        run(z)


# --- damaged and foreign files --------------------------------------------------------------------


def many(n: int = 300) -> dict[str, Any]:
    t = datetime(2024, 1, 1, tzinfo=UTC)
    return export(
        [msg(i, (t + timedelta(minutes=i)).isoformat(), f"message {i}") for i in range(n)]
    )


def test_truncated_export(tmp_path: Path) -> None:
    data = dce_json(many())
    path = tmp_path / "x.json"
    path.write_bytes(data[: len(data) // 2])
    got: list[Item] = []
    with pytest.raises(ImportFormatError) as e:
        for x in Discord().parse(Source(path), Context(name="x.json")):
            if isinstance(x, Item):
                got.append(x)
    assert e.value.location is not None and e.value.location.offset == len(data) // 2
    assert e.value.location.file == "x.json" and e.value.hint
    assert [i.body for i in got] == [f"message {i}" for i in range(len(got))] and len(got) > 100


def test_damaged_in_the_middle(tmp_path: Path) -> None:
    data = bytearray(dce_json(many()))
    where = data.find(b'"content": "message 150"')
    data[where + 9] = ord("}")  # the colon becomes a brace
    path = tmp_path / "x.json"
    path.write_bytes(bytes(data))
    with pytest.raises(ImportFormatError) as e:
        run(path)
    assert e.value.location is not None and e.value.location.offset == where + 9


@pytest.mark.parametrize(
    "data", [b"[]", b'{"messages": []}', b"hello", b'{"guild": {}, "channel": {}}']
)
def test_not_a_discord_export(tmp_path: Path, data: bytes) -> None:
    path = tmp_path / "thing.json"
    path.write_bytes(data)
    with pytest.raises(ImportFormatError) as e:
        run(path)
    assert e.value.location is not None and e.value.location.file == "thing.json"


def test_empty_file(tmp_path: Path) -> None:
    path = tmp_path / "x.json"
    path.write_bytes(b"")
    with pytest.raises(ImportFormatError):
        run(path)


# --- samples --------------------------------------------------------------------------------------

SAMPLE_COUNTS = {
    "discordchatexporter_dm__chatanalytics.json": ({"message": 2, "call": 1}, []),
    "discordchatexporter_group__chatanalytics.json": (
        {"message": 3, "system": 2, "call": 1},
        ["message_count_differs"],  # the file says 5 but holds 6
    ),
}


@needs_samples
def test_every_sample_is_in_the_table() -> None:
    assert sorted(p.name for p in SAMPLES.iterdir()) == sorted(SAMPLE_COUNTS)


@needs_samples
@pytest.mark.parametrize("name", sorted(SAMPLE_COUNTS))
def test_shared_sample(name: str) -> None:
    path = SAMPLES / name
    assert Discord().score(Probe.of(Source(path), name)) >= 0.9
    items, warnings = run(path)
    counts: dict[str, int] = {}
    for i in items:
        counts[i.kind] = counts.get(i.kind, 0) + 1
    want_counts, want_warnings = SAMPLE_COUNTS[name]
    assert counts == want_counts
    assert [w.code for w in warnings] == want_warnings
    data = path.read_bytes()
    for i in items:
        assert i.offset is not None and at_offset(data, i.offset)["id"] == i.raw["id"]


@needs_samples
def test_sample_details() -> None:
    items, _ = run(SAMPLES / "discordchatexporter_dm__chatanalytics.json")
    call = items[-1]
    assert (call.kind, call.duration_s) == ("call", 4 * 3600 + 11 * 60 + 38)
    assert items[1].raw["author.isBot"] == "true"
    assert json.loads(items[0].raw["reactions"])[0]["count"] == 42


# --- round trip -----------------------------------------------------------------------------------

TEXT = st.text(st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=50)


@st.composite
def exports(draw: st.DrawFn) -> list[tuple[str, str, str, int]]:
    """(id, timestamp, content, offset hours) per message."""
    out = []
    t = datetime(2020, 1, 1, tzinfo=UTC)
    for i in range(draw(st.integers(1, 12))):
        t += timedelta(
            seconds=draw(st.integers(0, 10**6)), microseconds=1000 * draw(st.integers(0, 999))
        )
        hours = draw(st.integers(-12, 14))
        stamp = t.astimezone(timezone(timedelta(hours=hours))).isoformat(timespec="milliseconds")
        out.append((str(10**17 + i), stamp, draw(TEXT), hours))
    return out


@given(exports(), st.booleans(), st.sampled_from([5, 64]))
@settings(
    max_examples=80,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
def test_generated_exports_round_trip(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    spec: list[tuple[str, str, str, int]],
    compact: bool,
    block: int,
) -> None:
    monkeypatch.setattr(telegram, "BLOCK", block)
    monkeypatch.setattr(telegram, "FEED_BLOCK", block)
    messages = [
        msg(int(mid), stamp, content, ALEX if n % 2 else SAM)
        for n, (mid, stamp, content, _) in enumerate(spec)
    ]
    doc = export(messages)
    path = tmp_path / "x.json"
    if compact:
        path.write_bytes(json.dumps(doc, separators=(",", ":")).encode())
    else:
        path.write_bytes(dce_json(doc))
    items, warnings = run(path)
    assert warnings == []
    assert [(i.raw["id"], i.local_time, i.body) for i in items] == [
        (mid, stamp, content) for mid, stamp, content, _ in spec
    ]
    assert [i.sent_at for i in items] == [datetime.fromisoformat(s) for _, s, _, _ in spec]
    data = path.read_bytes()
    for i, m in zip(items, messages, strict=True):
        assert i.offset is not None and at_offset(data, i.offset) == m


# --- score ----------------------------------------------------------------------------------------


def test_score(tmp_path: Path) -> None:
    path = write(tmp_path / "x.json", export([msg(1, "2024-01-01T00:00:00Z")]))
    assert Discord().score(Probe.of(Source(path), path.name)) >= 0.9
    other = tmp_path / "result.json"
    other.write_text('{"name": "Sam", "type": "personal_chat", "id": 1, "messages": []}')
    assert Discord().score(Probe.of(Source(other), other.name)) == 0.0
    z = tmp_path / "t.zip"
    with zipfile.ZipFile(z, "w") as zf:
        zf.writestr("ChatExport/result.json", other.read_bytes())
    assert Discord().score(Probe.of(Source(z), z.name)) == 0.0
    z2 = tmp_path / "d.zip"
    with zipfile.ZipFile(z2, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("x.json", path.read_bytes())
    assert Discord().score(Probe.of(Source(z2), z2.name)) >= 0.9


# --- through the real pipeline --------------------------------------------------------------------


def test_pipeline_imports_reimports_and_adds_only_new_messages(
    diary: Diary, tmp_path: Path
) -> None:
    def part(start: int, end: int, utc_times: bool) -> dict[str, Any]:
        t = datetime(2024, 1, 1, tzinfo=UTC)
        zone = UTC if utc_times else timezone(timedelta(hours=1))
        out = []
        for i in range(start, end):
            when = (t + timedelta(minutes=i)).astimezone(zone).isoformat(timespec="milliseconds")
            if i % 10 == 7:
                out.append(
                    msg(
                        i,
                        when,
                        "Started a call that lasted 1 minutes.",
                        kind="Call",
                        callEndedTimestamp=(t + timedelta(minutes=i, seconds=90)).isoformat(),
                    )
                )
            else:
                out.append(msg(i, when, f"message {i}", SAM if i % 3 else ALEX))
        return export(out)

    first = write(tmp_path / "a.json", part(0, 40, True))
    s = diary.import_file(first)
    assert s.importer == "discord" and s.added == 40
    assert s.by_kind == {"message": 36, "call": 4}
    assert diary.import_file(first).already_imported_at is not None
    # a later export, made with local times: the same moments, so only new messages are added
    s2 = diary.import_file(write(tmp_path / "b.json", part(25, 70, False)))
    assert s2.added == 30 and s2.duplicates == 15
    assert len(diary.messages()) == 70
    assert diary.verify().ok


def test_pipeline_keeps_downloaded_media(diary: Diary, tmp_path: Path) -> None:
    files = [{"id": "1", "url": "x.json_Files/p-1.png", "fileName": "p.png", "fileSizeBytes": 1}]
    z = tmp_path / "export.zip"
    with zipfile.ZipFile(z, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr(
            "x.json", dce_json(export([msg(1, "2024-01-01T00:00:00Z", "see", attachments=files)]))
        )
        zf.writestr("x.json_Files/p-1.png", PNG)
    s = diary.import_file(z)
    assert s.importer == "discord" and s.added == 1 and s.files_stored == 1
    assert diary.verify().ok
