"""The Signal importer (signal-export's Markdown chat): exact items from small synthetic chats
written the way signal-export writes them (current and older layouts; quotes, reactions,
stickers, attachments, deleted messages, calls; multi-line bodies and header-like lines inside
them; clock changes), the shared sample, a round trip of generated chats, damaged and foreign
files, bounded reading of hostile ones; then the real pipeline into an encrypted diary."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from docket.api import Diary
from docket.errors import ImportFormatError
from docket.importers import available, signal
from docket.importers.base import Context, ImportWarning, Item, Probe, Source
from docket.importers.signal import Signal
from tests.conftest import SHARED

SAMPLES = SHARED / "samples" / "signal"
needs_samples = pytest.mark.skipif(not SAMPLES.is_dir(), reason="shared samples not present")


def to_md(
    when: datetime,
    sender: str,
    body: str,
    *,
    quote: str = "",
    reactions: list[tuple[str, str]] | None = None,
    sticker: str | None = None,
    attachments: list[str] | None = None,
    deleted: bool = False,
) -> str:
    """One message as signal-export's Message.to_md writes it, with the empty line ``print``
    adds after it."""
    date = when.strftime("%Y-%m-%d %H:%M:%S")
    if deleted:
        return f"[{date}] {sender}: (This message was deleted)\n\n"
    body = body.replace("`", "") + "  "
    if reactions:
        body += "\n(- " + ", ".join(f"{n}: {e}" for n, e in reactions) + " -)"
    if sticker:
        body += "\n(( " + sticker + " ))"
    for name in attachments or []:
        path = "media/" + name.replace(" ", "%20")
        image = name.rsplit(".", 1)[-1] in ("png", "jpg", "jpeg", "gif", "webp")
        body += ("!" if image else "") + f"[{name}](./{path})  "
    q = ""
    if quote:
        q = "\n\n> " + quote.rstrip("\n").replace("\n", "\n> ") + "\n\n"
    return f"[{date}] {sender}: {q}{body}\n\n"


def write(path: Path, text: str) -> Path:
    path.write_bytes(text.encode("utf-8"))
    return path


def run(path: Path, **context: Any) -> tuple[list[Item], list[ImportWarning]]:
    items: list[Item] = []
    warnings: list[ImportWarning] = []
    for x in Signal().parse(Source(path), Context(name=path.name, **context)):
        (items if isinstance(x, Item) else warnings).append(x)  # type: ignore[arg-type]
    return items, warnings


def t(h: int, mi: int = 0, s: int = 0, d: int = 31, mo: int = 1) -> datetime:
    return datetime(2024, mo, d, h, mi, s)


def utc(y: int, mo: int, d: int, h: int = 0, mi: int = 0, s: int = 0) -> datetime:
    return datetime(y, mo, d, h, mi, s, tzinfo=UTC)


# --- golden ---------------------------------------------------------------------------------------


def test_current_layout(tmp_path: Path) -> None:
    text = (
        to_md(t(21, 5, 3), "Sam", "where are you")
        + to_md(t(21, 6), "Me", "at home\n\nleave me alone", quote="where are you")
        + to_md(
            t(21, 7),
            "Sam",
            "ok",
            reactions=[("Me", "👍"), ("Jo", "😡")],
            attachments=["2024-01-31T21-07-00.000_00_IMG 1.jpg", "plan.pdf"],
        )
        + to_md(t(21, 7, 30), "Sam", "", sticker="😀")
        + to_md(t(21, 8), "Sam", "", deleted=True)
        + to_md(t(21, 9), "Sam", "Missed voice call")
        + to_md(t(21, 10), "Me", "Outgoing video call (accepted, 2m 3s)")
        + to_md(t(21, 11), "Sam", "Incoming voice call (declined)")
        + to_md(t(21, 12), "Sam", "Incoming voice call (accepted, 45s)")
        + to_md(t(21, 13), "Me", "Outgoing call")
        + to_md(t(21, 14), "Sam", "line one\n[2024-01-01 10:00:00] Bob: not a new message\nend")
        + to_md(t(21, 15), "No-Sender", "who?")
        + to_md(t(21, 16), "Sam", "`code` is dropped by the exporter")
    )
    path = write(tmp_path / "chat.md", text)
    items, warnings = run(path)
    assert warnings == []
    assert [
        (i.kind, i.sender.raw if i.sender else None, i.direction, i.local_time, i.body)
        for i in items
    ] == [
        ("message", "Sam", "incoming", "2024-01-31 21:05:03", "where are you"),
        ("message", "Me", "outgoing", "2024-01-31 21:06:00", "at home\n\nleave me alone"),
        ("message", "Sam", "incoming", "2024-01-31 21:07:00", "ok"),
        ("message", "Sam", "incoming", "2024-01-31 21:07:30", ""),
        ("message", "Sam", "incoming", "2024-01-31 21:08:00", "(This message was deleted)"),
        ("call", "Sam", "incoming", "2024-01-31 21:09:00", "Missed voice call"),
        ("call", "Me", "outgoing", "2024-01-31 21:10:00", "Outgoing video call (accepted, 2m 3s)"),
        ("call", "Sam", "incoming", "2024-01-31 21:11:00", "Incoming voice call (declined)"),
        ("call", "Sam", "incoming", "2024-01-31 21:12:00", "Incoming voice call (accepted, 45s)"),
        ("call", "Me", "outgoing", "2024-01-31 21:13:00", "Outgoing call"),
        (
            "message",
            "Sam",
            "incoming",
            "2024-01-31 21:14:00",
            "line one\n[2024-01-01 10:00:00] Bob: not a new message\nend",
        ),
        ("message", None, "unknown", "2024-01-31 21:15:00", "who?"),
        ("message", "Sam", "incoming", "2024-01-31 21:16:00", "code is dropped by the exporter"),
    ]
    calls = [(i.call_type, i.duration_s) for i in items if i.kind == "call"]
    assert calls == [
        ("missed", None),
        ("outgoing", 123),
        ("rejected", None),
        ("incoming", 45),
        ("outgoing", None),
    ]
    assert [i.deleted for i in items].count(True) == 1 and items[4].deleted
    assert items[0].sent_at == utc(2024, 1, 31, 21, 5, 3)  # January in London: UTC
    assert all(i.channel == "signal" and i.thread is None for i in items)
    # lines and offsets are where each message's header is
    data = path.read_bytes()
    lines = data.split(b"\n")
    for i in items:
        assert i.line is not None and lines[i.line - 1].startswith(b"[" + i.local_time.encode())
        assert i.offset is not None and data[i.offset :].startswith(b"[" + i.local_time.encode())
    # what signal-export added is taken apart and kept in raw
    assert items[1].raw["quote"] == "where are you"
    assert items[1].raw["text"].startswith("\n\n> where are you\n\n")
    assert items[2].raw["reactions"] == "Me: 👍, Jo: 😡"
    assert [(a.name, a.media_type, a.chunks) for a in items[2].attachments] == [
        ("2024-01-31T21-07-00.000_00_IMG 1.jpg", "image/jpeg", None),
        ("plan.pdf", "application/pdf", None),
    ]
    assert items[2].attachments[0].note == (
        "not included in this file: signal-export saved it in the chat's media folder as "
        "media/2024-01-31T21-07-00.000_00_IMG%201.jpg"
    )
    assert items[3].raw["sticker"] == "😀"
    assert "text" not in items[0].raw  # only the two spaces were taken off
    assert items[0].raw["header"] == "[2024-01-31 21:05:03] Sam:"
    assert items[11].raw["sender"] == "No-Sender"


def test_older_layout_without_seconds_or_empty_lines(tmp_path: Path) -> None:
    text = (
        "[2019-12-24, 12:23] Jane Doe: Hello John!\n"
        "[2020-01-17, 21:49] John Doe: Hello\n"
        "Jane!\n"
        "[2020-06-01, 08:00] Jane Doe: summer\n"
    )
    items, warnings = run(write(tmp_path / "old.md", text))
    assert warnings == []
    assert [
        (i.sender.raw if i.sender else None, i.sent_at, i.local_time, i.body) for i in items
    ] == [
        ("Jane Doe", utc(2019, 12, 24, 12, 23), "2019-12-24, 12:23", "Hello John!"),
        ("John Doe", utc(2020, 1, 17, 21, 49), "2020-01-17, 21:49", "Hello\nJane!"),
        ("Jane Doe", utc(2020, 6, 1, 7), "2020-06-01, 08:00", "summer"),
    ]
    assert [i.line for i in items] == [1, 2, 4]


def test_sticker_as_a_link_and_windows_line_ends(tmp_path: Path) -> None:
    text = (
        "[2024-01-31 21:05:03] Sam: hi  [😀](../exported_stickers/abc/1.webp)  \r\n\r\n"
        "[2024-01-31 21:06:00] Me: two\r\nlines  \r\n\r\n"
    )
    items, _ = run(write(tmp_path / "chat.md", text))
    assert [(i.body, i.raw.get("sticker")) for i in items] == [("hi", "😀"), ("two\nlines", None)]


def test_clock_changes(tmp_path: Path) -> None:
    text = (
        to_md(datetime(2024, 10, 27, 1, 30), "Sam", "happened twice")
        + to_md(datetime(2024, 3, 31, 1, 30), "Sam", "did not happen")
        + to_md(datetime(2024, 7, 1, 12, 0), "Sam", "summer")
    )
    items, _ = run(write(tmp_path / "chat.md", text))
    assert [(i.sent_at, i.time_note) for i in items] == [
        (utc(2024, 10, 27, 0, 30), "ambiguous"),
        (utc(2024, 3, 31, 1, 30), "nonexistent"),
        (utc(2024, 7, 1, 11), None),
    ]
    items, _ = run(tmp_path / "chat.md", timezone="Asia/Kolkata")
    assert items[2].sent_at == utc(2024, 7, 1, 6, 30)


def test_impossible_date_is_kept_without_a_time(tmp_path: Path) -> None:
    text = "[2024-02-30 10:00:00] Sam: when?  \n\n[2024-03-01 10:00:00] Sam: ok  \n\n"
    items, warnings = run(write(tmp_path / "chat.md", text))
    assert [i.sent_at for i in items] == [None, utc(2024, 3, 1, 10)]
    assert [(w.code, w.line) for w in warnings] == [("bad_date", 1)]


# --- damaged, foreign and hostile files -----------------------------------------------------------


def test_text_before_the_first_message_and_a_byte_order_mark(tmp_path: Path) -> None:
    path = tmp_path / "chat.md"
    path.write_bytes(b"\xef\xbb\xbf# Sam\n\n" + to_md(t(10), "Sam", "hi").encode())
    items, warnings = run(path)
    assert [i.body for i in items] == ["hi"] and items[0].line == 3
    assert path.read_bytes()[items[0].offset or 0 :].startswith(b"[2024")
    assert [(w.code, w.line) for w in warnings] == [("text_before_first_message", 1)]


def test_bytes_that_are_not_text(tmp_path: Path) -> None:
    path = tmp_path / "chat.md"
    path.write_bytes(b"[2024-01-31 10:00:00] Sam: caf\xe9  \n\n[2024-01-31 10:01:00] Sam: ok  \n")
    items, warnings = run(path)
    assert [i.body for i in items] == ["caf\ufffd", "ok"]
    assert [(w.code, w.line) for w in warnings] == [("unreadable_characters", 1)]


@pytest.mark.parametrize(
    "data",
    [
        b"Dear diary,\ntoday was fine.\n",
        b"12/07/2017, 22:35 - Sam: a WhatsApp line\n",
        "[2024-01-31 10:00:00] Sam: hi\n".encode("utf-16"),
        b"\x00\x01\x02binary",
    ],
)
def test_not_a_signal_chat(tmp_path: Path, data: bytes) -> None:
    path = tmp_path / "thing.md"
    path.write_bytes(data)
    with pytest.raises(ImportFormatError) as e:
        run(path)
    assert e.value.location is not None and e.value.location.file == "thing.md"
    assert e.value.hint and e.value.cause


def test_empty_file(tmp_path: Path) -> None:
    with pytest.raises(ImportFormatError) as e:
        run(write(tmp_path / "chat.md", ""))
    assert "empty" in e.value.message


def test_a_line_too_long_is_cut(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(signal, "MAX_LINE", 100)
    monkeypatch.setattr(signal, "BLOCK", 64)
    text = to_md(t(10), "Sam", "x" * 500) + to_md(t(11), "Sam", "after")
    items, warnings = run(write(tmp_path / "chat.md", text))
    assert [len(i.body or "") for i in items] == [100 - len("[2024-01-31 10:00:00] Sam: "), 5]
    assert [(w.code, w.line) for w in warnings] == [("line_too_long", 1)]
    assert items[1].line == 3


def test_a_runaway_message_is_cut(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(signal, "MAX_BODY", 1000)
    text = to_md(t(10), "Sam", "\n".join(["y" * 50] * 100)) + to_md(t(11), "Sam", "after")
    items, warnings = run(write(tmp_path / "chat.md", text))
    assert len(items[0].body or "") <= 1000 and items[1].body == "after"
    assert [w.code for w in warnings] == ["message_too_long"]


# --- samples and choosing the importer ------------------------------------------------------------


@needs_samples
def test_shared_sample() -> None:
    path = SAMPLES / "signal_export_markdown__chatminer.txt"
    items, warnings = run(path)
    assert warnings == []
    assert [(i.sender.raw if i.sender else None, i.body) for i in items] == [
        ("Jane Doe", "Hello John!"),
        ("John Doe", "Hello\nJane!"),
    ]
    pr = Probe.of(Source(path), path.name)
    best = max(available(), key=lambda imp: imp.score(pr))
    assert best.name == "signal"


def test_signal_is_chosen_over_whatsapp_for_both_layouts(tmp_path: Path) -> None:
    current = write(tmp_path / "chat.md", to_md(t(10), "Sam", "hi") + to_md(t(11), "Me", "yo"))
    renamed = write(tmp_path / "chat.txt", current.read_text())
    old = write(tmp_path / "old.txt", "[2024-01-31, 10:00] Sam: hi\n[2024-01-31, 10:01] Me: yo\n")
    for path in (current, renamed, old):
        pr = Probe.of(Source(path), path.name)
        scores = {imp.name: imp.score(pr) for imp in available()}
        assert max(scores, key=lambda k: scores[k]) == "signal", (path.name, scores)
    whatsapp = write(tmp_path / "w.txt", "[31/01/2024, 10:00:00] Sam: hi\n")
    assert Signal().score(Probe.of(Source(whatsapp), whatsapp.name)) == 0.0


# --- round trip -----------------------------------------------------------------------------------

LINE = st.text(
    st.characters(
        codec="utf-8", exclude_categories=["Cs", "Cc", "Zl", "Zp"], exclude_characters="`"
    ),
    max_size=30,
).map(str.strip)
NAMES = st.sampled_from(["Me", "Sam", "Jo Bloggs", "Ånne"])


@st.composite
def chats(draw: st.DrawFn) -> list[dict[str, Any]]:
    out = []
    when = datetime(2024, 1, 1, 12)
    for _ in range(draw(st.integers(1, 8))):
        when = when.replace(second=0) + (datetime(2024, 1, 1, 12, 1) - datetime(2024, 1, 1, 12))
        lines = draw(st.lists(LINE, min_size=1, max_size=4))
        body = "\n".join(lines).strip("\n")
        if not body or body == signal.DELETED or signal._CALL.match(body):
            body = "x" + body
        out.append(
            {
                "when": when.replace(second=draw(st.integers(0, 59))),
                "sender": draw(NAMES),
                "body": body,
                "quote": draw(st.one_of(st.just(""), LINE.filter(bool))),
                "reactions": draw(st.lists(st.tuples(NAMES, st.sampled_from("👍😡❤️")), max_size=2)),
                "attachments": draw(
                    st.lists(
                        st.sampled_from(["a.jpg", "b c.pdf", "d.ogg"]), max_size=2, unique=True
                    )
                ),
            }
        )
    return out


@given(chats(), st.sampled_from([16, 1 << 20]))
@settings(
    max_examples=100,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
def test_generated_chats_round_trip(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, chat: list[dict[str, Any]], block: int
) -> None:
    monkeypatch.setattr(signal, "BLOCK", block)
    text = "".join(
        to_md(
            m["when"],
            m["sender"],
            m["body"],
            quote=m["quote"],
            reactions=m["reactions"],
            attachments=m["attachments"],
        )
        for m in chat
    )
    items, warnings = run(write(tmp_path / "chat.md", text), timezone="UTC")
    assert warnings == []
    assert [
        (
            i.sent_at,
            i.sender.raw if i.sender else None,
            i.body,
            i.raw.get("quote"),
            [a.name for a in i.attachments],
        )
        for i in items
    ] == [
        (
            m["when"].replace(tzinfo=UTC),
            m["sender"],
            m["body"],
            m["quote"] or None,
            m["attachments"],
        )
        for m in chat
    ]
    for i, m in zip(items, chat, strict=True):
        want = ", ".join(f"{n}: {e}" for n, e in m["reactions"]) if m["reactions"] else None
        assert i.raw.get("reactions") == want


# --- through the real pipeline --------------------------------------------------------------------


def test_pipeline_imports_reimports_and_adds_only_new_messages(
    diary: Diary, tmp_path: Path
) -> None:
    def part(start: int, end: int) -> str:
        out = []
        for i in range(start, end):
            when = datetime(2024, 1, 1, 9).replace(minute=i % 60, hour=9 + i // 60)
            if i % 10 == 4:
                out.append(to_md(when, "Sam", "Missed voice call"))
            else:
                out.append(
                    to_md(
                        when,
                        "Sam" if i % 3 else "Me",
                        f"message {i}",
                        attachments=["p.jpg"] if i % 7 == 0 else None,
                    )
                )
        return "".join(out)

    first = write(tmp_path / "chat.md", part(0, 40))
    s = diary.import_file(first)
    assert s.importer == "signal" and s.added == 40
    assert s.by_kind == {"message": 36, "call": 4} and s.files_missing == 5
    assert diary.import_file(first).already_imported_at is not None
    later_dir = tmp_path / "later"
    later_dir.mkdir()
    s2 = diary.import_file(write(later_dir / "chat.md", part(25, 70)))
    assert s2.added == 30 and s2.duplicates == 15
    msgs = diary.messages()
    assert len(msgs) == 70
    assert {m.direction for m in msgs} == {"incoming", "outgoing"}
    assert diary.verify().ok


def test_a_layout_with_seconds_but_no_empty_lines(tmp_path: Path) -> None:
    """If a version of signal-export wrote seconds without the empty line after each message,
    every header still starts a message."""
    text = (
        "[2024-01-31 10:00:00] Sam: one  \n"
        "[2024-01-31 10:01:00] Me: two  \n"
        "more of two  \n"
        "[2024-01-31 10:02:00] Sam: three  \n"
    )
    items, _ = run(write(tmp_path / "chat.md", text))
    assert [i.body for i in items] == ["one", "two  \nmore of two", "three"]
