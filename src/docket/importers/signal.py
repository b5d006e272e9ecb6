"""Reading a Signal chat exported as Markdown text by signal-export (``chat.md``) into items,
as a stream.

One responsibility: turn the text that signal-export (carderne/signal-export, the tool that
reads Signal Desktop's database) wrote for one conversation into
:class:`~docket.importers.base.Item` records and
:class:`~docket.importers.base.ImportWarning` notes, in file order. It never touches the diary.

The format (``shared/research/formats.md`` §5.1, and signal-export's own code):

* Each message starts with a header line ``[2024-01-31 21:05:03] Name: text``; older versions
  wrote ``[2024-01-31, 21:05] Name: text``. The time is the exporting computer's wall-clock
  time without a zone, so it is read in ``Context.timezone`` and flagged "ambiguous" or
  "nonexistent" around clock changes. ``local_time`` is the header's date and time as written.
* Lines that do not start a message belong to the one above, line breaks kept. Current
  versions leave an empty line after every message; when a first pass over the file finds
  that it does, a header is only taken as one after an empty line (a message with a
  header-like line in it stays whole).
* Messages you sent are from "Me" (direction "outgoing"); others are from the contact's name
  (direction "incoming"); "No-Sender" means Signal did not know.
* signal-export adds to the text: two spaces at the end of the body (a Markdown line break),
  a quoted message before it (``> `` lines between empty lines), reactions after it
  (``(- Ann: 👍 -)``), a sticker (``(( 😀 ))`` or a link), and one Markdown link per
  attachment (``![name](./media/…)``). Docket takes these apart: the body is what the person
  wrote; the quote, reactions and sticker are kept in ``raw``; attachments become attachment
  placeholders (the files themselves are in the export's ``media`` folder, not in this file).
  ``raw["text"]`` keeps the message's text exactly as written whenever more than those two
  spaces was taken off.
* "(This message was deleted)" is kept as a deleted message; "Missed voice call",
  "Incoming video call (accepted, 2m 3s)" and the like are calls with their type and duration.
* The file is read line by line in bounded memory: a line longer than 1 MiB is cut to its
  first 1 MiB and a message longer than 4 million characters to its start, with a warning.
  Bytes that are not UTF-8 are shown as U+FFFD, with a warning.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import IO, Final
from zoneinfo import ZoneInfo

from docket.errors import ImportFormatError, Location
from docket.importers.base import (
    Attachment,
    CallType,
    Context,
    Direction,
    Importer,
    ImportWarning,
    Item,
    Kind,
    Party,
    Probe,
    Source,
    TimeNote,
)
from docket.importers.telegram import type_from_name, wall_clock
from docket.model.timeparse import zone

BLOCK: Final = 1 << 20  # bytes read at a time
MAX_LINE: Final = 1 << 20  # bytes; a longer line is cut
MAX_BODY: Final = 4 << 20  # characters kept of one message

ME: Final = "Me"
NO_SENDER: Final = "No-Sender"
DELETED: Final = "(This message was deleted)"

HEADER: Final = re.compile(
    r"\[(?P<date>\d{4}-\d{2}-\d{2})(?P<comma>,?) (?P<h>\d{2}):(?P<m>\d{2})(?::(?P<s>\d{2}))?\] "
    r"(?P<who>[^\n]*?): ?(?P<rest>.*)\Z",
    re.DOTALL,
)
_ATTACHMENT_END: Final = re.compile(r"(!?)\[([^\[\n]*)\]\(\./(media/\S*)\)  \Z")
_STICKER_LINK_END: Final = re.compile(r"\[([^\[\n]*)\]\(\.\./(exported_stickers/\S*)\)  \Z")
_STICKER_END: Final = re.compile(r"\n\(\( (.*) \)\)\Z")
_REACTIONS_END: Final = re.compile(r"\n\(- (.*) -\)\Z")
_CALL: Final = re.compile(
    r"(?P<dir>Incoming|Outgoing|Missed) (?:(?P<media>voice|video) )?call"
    r"(?: \((?P<detail>[^()\n]*)\))?\Z"
)
_DURATION: Final = re.compile(r"(?:(\d+)m )?(\d+)s\Z")
NOTE_MEDIA: Final = (
    "not included in this file: signal-export saved it in the chat's media folder as {path}"
)
_EXPORT_AGAIN: Final = (
    "Export the chat again with signal-export (sigexport) and import the chat.md file it "
    "writes in the chat's folder."
)


def _format_error(
    message: str, cause: str, hint: str, name: str, line: int | None = None
) -> ImportFormatError:
    return ImportFormatError(
        message, cause=cause, hint=hint, location=Location(file=name or None, line=line)
    )


@dataclass
class _Message:
    """A message being read: its header and its lines so far."""

    line: int
    offset: int
    header: re.Match[str]
    lines: list[str]
    size: int
    cut: bool = False


@dataclass
class _Parts:
    """What signal-export put together into a message's text, taken apart."""

    body: str
    quote: str | None = None
    reactions: str | None = None
    sticker: str | None = None
    attachments: list[tuple[str, str]] = field(default_factory=list)  # (name, path)


def decorations(text: str) -> _Parts:
    """Take apart the text signal-export wrote for one message (see the module docstring)."""
    quote = None
    if text.startswith("\n\n> "):
        end = text.find("\n\n", 2)
        if end > 0:
            quote = "\n".join(line[2:] for line in text[2:end].split("\n"))
            text = text[end + 2 :]
    found: list[tuple[str, str]] = []
    while (m := _ATTACHMENT_END.search(text)) is not None:
        found.append((m.group(2), m.group(3)))
        text = text[: m.start()]
    found.reverse()
    sticker = None
    if (m := _STICKER_END.search(text)) is not None or (
        m := _STICKER_LINK_END.search(text)
    ) is not None:
        sticker = m.group(1)
        text = text[: m.start()]
    reactions = None
    if (m := _REACTIONS_END.search(text)) is not None:
        reactions = m.group(1)
        text = text[: m.start()]
    if text.endswith("  "):
        text = text[:-2]
    return _Parts(text, quote, reactions, sticker, found)


def _call(body: str) -> tuple[CallType, int | None] | None:
    m = _CALL.match(body)
    if m is None:
        return None
    direction, detail = m.group("dir"), m.group("detail") or ""
    duration = None
    if (d := _DURATION.search(detail)) is not None:
        duration = int(d.group(1) or 0) * 60 + int(d.group(2))
    if direction == "Missed":
        return "missed", None
    if direction == "Outgoing":
        return "outgoing", duration
    if detail.startswith("declined"):
        return "rejected", None
    if detail and not detail.startswith("accepted"):
        return "missed", None
    return "incoming", duration


class _Lines:
    """The lines of a file with their numbers and byte offsets, read in blocks."""

    def __init__(self, stream: IO[bytes]) -> None:
        self._stream = stream
        self.warnings: list[ImportWarning] = []

    def __iter__(self) -> Iterator[tuple[int, int, str]]:
        number = 0
        offset = 0
        carry = b""
        skipping = False  # the rest of a line longer than MAX_LINE
        first = True
        while True:
            chunk = self._stream.read(BLOCK)
            if first:
                first = False
                if chunk.startswith(b"\xef\xbb\xbf"):
                    chunk = chunk[3:]
                    offset = 3
            if not chunk:
                if carry and not skipping:
                    number += 1
                    yield number, offset, self._decode(carry, number)
                return
            data = carry + chunk if carry else chunk
            start = 0
            while True:
                nl = data.find(b"\n", start)
                if nl < 0:
                    break
                if skipping:
                    skipping = False
                    offset += nl + 1 - start
                    start = nl + 1
                    continue
                number += 1
                yield number, offset, self._decode(data[start:nl], number)
                offset += nl + 1 - start
                start = nl + 1
            carry = data[start:]
            if skipping:
                offset += len(carry)
                carry = b""
            elif len(carry) > MAX_LINE:
                number += 1
                self.warnings.append(
                    ImportWarning(
                        "line_too_long",
                        f"Line {number} is longer than 1 MiB, which no message line is. Docket "
                        "has kept its first 1 MiB and left out the rest of that line. The "
                        "original file is unchanged.",
                        line=number,
                    )
                )
                yield number, offset, self._decode(carry[:MAX_LINE], number, cut=True)
                offset += len(carry)
                carry = b""
                skipping = True

    def _decode(self, raw: bytes, number: int, cut: bool = False) -> str:
        if raw.endswith(b"\r"):
            raw = raw[:-1]
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            if cut and exc.start >= len(raw) - 3:  # a character cut in two by the 1 MiB cut
                return raw[: exc.start].decode("utf-8", "replace")
            self.warnings.append(
                ImportWarning(
                    "unreadable_characters",
                    f"Line {number} contains bytes that are not valid text. They are shown as "
                    "\ufffd; the rest of the line is kept as written.",
                    line=number,
                )
            )
            return raw.decode("utf-8", "replace")


@dataclass
class _Reader:
    context: Context
    name: str
    tz: ZoneInfo
    warnings: list[ImportWarning] = field(default_factory=list)
    _parties: dict[str, Party] = field(default_factory=dict)

    @staticmethod
    def survey(stream: IO[bytes]) -> bool:
        """Pass 1: whether the file leaves an empty line before every message (current
        versions do), so that a header-like line elsewhere is text, not a new message."""
        after_blank = other = 0
        previous_blank = True
        for _, _, text in _Lines(stream):
            if text[:1] == "[" and (m := HEADER.match(text)) is not None and m.group("s"):
                if previous_blank:
                    after_blank += 1
                else:
                    other += 1
            previous_blank = text == ""
        return after_blank >= 2 and other * 10 <= after_blank

    def read(self, stream: IO[bytes], spaced: bool) -> Iterator[Item | ImportWarning]:
        """Pass 2: the messages. With ``spaced``, a header with seconds starts a message only
        after an empty line."""
        lines = _Lines(stream)
        current: _Message | None = None
        previous_blank = True
        before = 0  # lines before the first message
        for number, offset, text in lines:
            if lines.warnings:
                yield from lines.warnings
                lines.warnings.clear()
            m = HEADER.match(text) if text[:1] == "[" else None
            if m is not None and (
                previous_blank or not spaced or m.group("s") is None or current is None
            ):
                if current is not None:
                    yield from self._finish(current)
                elif before:
                    yield ImportWarning(
                        "text_before_first_message",
                        f"Lines 1 to {before} come before the first message and are not part of "
                        "any message, so they were not imported. The original file is unchanged.",
                        line=1,
                    )
                current = _Message(number, offset, m, [m.group("rest")], len(m.group("rest")))
            elif current is None:
                if text.strip():
                    before = number
            elif not current.cut:
                if current.size + len(text) + 1 > MAX_BODY:
                    current.cut = True
                    yield ImportWarning(
                        "message_too_long",
                        f"The message that starts on line {current.line} goes on for more than "
                        f"{MAX_BODY >> 20} million characters, which no Signal message does. "
                        "Docket has kept the start of it and left out the rest, up to the next "
                        "message. The original file is unchanged.",
                        line=current.line,
                    )
                else:
                    current.lines.append(text)
                    current.size += len(text) + 1
            previous_blank = text == ""
        if lines.warnings:
            yield from lines.warnings
        if current is not None:
            yield from self._finish(current)
        elif before:
            raise _not_signal(self.name)

    def _party(self, who: str) -> Party:
        party = self._parties.get(who)
        if party is None:
            party = self._parties[who] = Party(who, "name")
        return party

    def _finish(self, msg: _Message) -> Iterator[Item | ImportWarning]:
        m = msg.header
        lines = msg.lines
        new_style = m.group("s") is not None and not m.group("comma")
        if new_style:
            while len(lines) > 1 and lines[-1] == "":
                lines.pop()  # the empty line signal-export leaves after every message
        text = "\n".join(lines)
        parts = decorations(text)
        body = parts.body
        who = m.group("who")
        local_time = text_time = m.group(0)[1 : m.start("who") - 2]
        sender: Party | None = None
        direction: Direction = "unknown"
        if who and who != NO_SENDER:
            sender = self._party(who)
            direction = "outgoing" if who == ME else "incoming"
        raw = {"header": m.group(0)[: m.start("rest")].rstrip(" "), "sender": who}
        if body + "  " != text and body != text:  # more than the two spaces was taken off
            raw["text"] = text
        if parts.quote is not None:
            raw["quote"] = parts.quote
        if parts.reactions is not None:
            raw["reactions"] = parts.reactions
        if parts.sticker is not None:
            raw["sticker"] = parts.sticker
        sent_at, note = self._when(m)
        if sent_at is None:
            yield ImportWarning(
                "bad_date",
                f"The date or time on line {msg.line} ({text_time}) does not exist in the "
                "calendar, so that message is kept without a time.",
                line=msg.line,
            )
        kind: Kind = "message"
        call_type: CallType | None = None
        duration: int | None = None
        deleted = body == DELETED
        if not parts.attachments and (call := _call(body)) is not None:
            kind = "call"
            call_type, duration = call
        attachments = tuple(
            Attachment(name, type_from_name(name), None, NOTE_MEDIA.format(path=path))
            for name, path in parts.attachments
        )
        yield Item(
            kind=kind,
            channel="signal",
            direction=direction,
            sender=sender,
            sent_at=sent_at,
            local_time=local_time,
            body=body,
            time_note=note,
            deleted=deleted,
            call_type=call_type,
            duration_s=duration,
            attachments=attachments,
            line=msg.line,
            offset=msg.offset,
            raw=raw,
        )

    def _when(self, m: re.Match[str]) -> tuple[datetime | None, TimeNote | None]:
        y, mo, d = (int(x) for x in m.group("date").split("-"))
        try:
            naive = datetime(y, mo, d, int(m.group("h")), int(m.group("m")), int(m.group("s") or 0))
        except ValueError:
            return None, None
        return wall_clock(naive, self.tz)


def _not_signal(name: str) -> ImportFormatError:
    return _format_error(
        "This file does not look like a Signal chat exported by signal-export.",
        "No line in it starts a message the way signal-export writes them, such as "
        "'[2024-01-31 21:05:03] Name: message'.",
        "Check that you chose the chat.md file from the chat's folder. " + _EXPORT_AGAIN,
        name,
        1,
    )


def _head_score(head: bytes, size: int, name: str) -> float:
    if head.startswith(b"\xef\xbb\xbf"):
        head = head[3:]
    if not head or b"\x00" in head[:4096] or head.lstrip()[:1] == b"<":
        return 0.0
    lines = head.decode("utf-8", "replace").split("\n")
    if len(lines) > 1 and len(head) < size:
        lines.pop()  # cut off by the probe
    lines = [x.rstrip("\r") for x in lines[:400]]
    found = [(i, m) for i, x in enumerate(lines) if x[:1] == "[" and (m := HEADER.match(x))]
    if not found or found[0][0] != next((i for i, x in enumerate(lines) if x.strip()), -1):
        return 0.0
    score = 0.6
    new_style = [i for i, m in found if m.group("s") is not None]
    after_blank = sum(i == 0 or lines[i - 1] == "" for i in new_style)
    if new_style and after_blank * 4 >= len(new_style) * 3:
        # the empty line signal-export leaves after each message, and the two spaces it puts
        # at the end of each body: no other chat export looks like this
        score = 0.96 if any(x.endswith("  ") for x in lines) else 0.9
    lower = name.lower()
    if lower.endswith(".md"):
        score += 0.08
    if "signal" in lower:
        score += 0.05
    return round(min(score, 0.98), 3)


class Signal(Importer):
    """signal-export's Markdown chat (chat.md), current and older layouts."""

    name = "signal"
    version = "1"
    label = "Signal chat (signal-export Markdown)"

    def score(self, probe: Probe) -> float:
        if probe.zip_names or probe.head.startswith(b"PK"):
            return 0.0
        return _head_score(probe.head, probe.size, probe.name)

    def parse(self, source: Source, context: Context) -> Iterator[Item | ImportWarning]:
        name = context.name
        tz = zone(context.timezone)
        with source.open() as f:
            head = f.read(4096)
            if not head:
                raise _format_error(
                    "This file is empty, so there is nothing to import.",
                    "The export or the copy may not have finished, or a different file was chosen.",
                    _EXPORT_AGAIN,
                    name,
                )
            if head.startswith((b"\xff\xfe", b"\xfe\xff")) or b"\x00" in head:
                raise _format_error(
                    "This file is not plain text in the form signal-export writes (UTF-8), so "
                    "Docket cannot read it as a chat.",
                    "It may be a different kind of file, or the chat was saved again by another "
                    "program in another text encoding.",
                    "Use the file exactly as signal-export wrote it. " + _EXPORT_AGAIN,
                    name,
                    1,
                )
            f.seek(0)
            spaced = _Reader.survey(f)
            f.seek(0)
            reader = _Reader(context, name, tz)
            found = False
            for out in reader.read(f, spaced):
                found = found or isinstance(out, Item)
                yield out
            if not found:
                raise _not_signal(name)
