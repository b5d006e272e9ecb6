"""Reading a mailbox file (.mbox: Gmail Takeout, Thunderbird, Apple Mail, mutt and others)
into items, as a stream.

One responsibility: split the file into messages, in file order and in bounded memory, and
hand each to :func:`docket.importers.email.read_message`. It never touches the diary.

How it splits (research notes: ``formats.md`` §5.7, §5.8 and §8 case 14):

* The file is read in binary, 1 MiB at a time; it is never loaded whole, and no table of
  contents is built (Python's ``mailbox`` module does both). Memory is one block plus the
  message being read (at most 200 MB; a larger message keeps only its start, and says so).
* A message starts at a "From " line only when that line looks like a mailbox separator and
  the next line is a header field. Separators seen in exports: ``From sender@example.com Mon
  Jan  1 00:00:00 2024`` (classic), ``From 1844347792267117879@xxx`` and ``From 16691…@xxx Thu
  Jun 11 00:38:38 +0000 2020`` (Gmail Takeout, with or without a date), ``From -`` and ``From
  - Mon Jan 01 …`` (Thunderbird), ``From MAILER-DAEMON Fri Jul  8 12:08:34 2011``. So a line of
  a message such as "From Russia with love" (Thunderbird does not quote them) stays in its
  message. No blank line is needed before a separator (some writers leave none).
* ``Content-Length`` (mboxcl2) is used only when it is right: when the bytes it points to are
  the end of the file or another separator. Then "From " lines inside that body are the
  body's. When it is wrong (``formats.md`` §8 case 14), separators decide, as without it.
* ">From " lines (mboxrd quoting) are kept as written; ``match_body`` drops the quoting so the
  same message imported from an .eml still matches.
* A UTF-8 byte order mark at the start, CRLF or LF line ends, and blank lines before the first
  message are all accepted. Text before the first separator is reported and skipped.
* The blank line a writer puts between messages is not part of either message. ``line`` and
  ``offset`` of each item are those of its "From " line (1-based line, byte offset).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import BinaryIO, Final

from docket.errors import ImportFormatError, Location
from docket.importers.base import Context, Importer, ImportWarning, Item, Probe, Source
from docket.importers.email import (
    BOM,
    HEAD_KEEP,
    MAX_HEADER,
    MAX_MESSAGE,
    RawMessage,
    decode_header_block,
    format_error,
    looks_like_headers,
    stream,
)

BLOCK: Final = 1 << 20  # bytes read at a time
LINE_MAX: Final = 1024  # a separator line longer than this is not one
FIELD_PROBE: Final = 256  # bytes of the next line needed to see a header field name
LOOKAHEAD: Final = 16 << 20  # how far Docket reads ahead to check a Content-Length

# A time (h:mm) and a four-digit year somewhere in the rest of the line.
_DATEISH = rb"(?=[^\n]*\d{1,2}:\d{2})(?=[^\n]*(?<!\d)\d{4}(?!\d))"
_ENVELOPE = re.compile(
    rb"From(?:"
    rb"[ \t]*"  # nothing after it
    rb"|[ \t]+-(?:[ \t].*)?"  # Thunderbird: "From -", "From - Mon Jan 01 00:00:00 2024"
    rb"|[ \t]+[^ \t]*@[^ \t]*(?:[ \t]+" + _DATEISH + rb".*)?"  # an address, perhaps a date
    rb"|[ \t]+[^ \t@]+[ \t]+" + _DATEISH + rb".*"  # a name (MAILER-DAEMON), then a date
    rb")"
)
_FIELD = re.compile(rb"[!-9;-~]{1,200}[ \t]*:")
_BLANKS = re.compile(rb"(?:[ \t]*\r?\n)*")
_CONTENT_LENGTH = re.compile(rb"(?im)^content-length:[ \t]*(\d{1,15})[ \t]*\r?$")
_HEADER_END = re.compile(rb"\n\r?\n")


def is_separator(line: bytes, following: bytes) -> bool:
    """Whether ``line`` (without its line end) starts a message when ``following`` (the start
    of the next line) comes after it."""
    if line.endswith(b"\r"):
        line = line[:-1]
    return _ENVELOPE.fullmatch(line) is not None and _FIELD.match(following) is not None


class _Reader:
    """Splits one mailbox stream into raw messages."""

    def __init__(self, f: BinaryIO, name: str, extra: dict[str, str] | None = None) -> None:
        self.f = f
        self.name = name
        self.extra = extra or {}
        self.buf = b""
        self.base = 0  # file offset of buf[0]
        self.eof = False

    # -- the buffer

    def _read(self) -> bytes:
        try:
            return self.f.read(BLOCK)
        except OSError as exc:
            raise ImportFormatError(
                f"Docket could not read {self.name or 'the file'} past byte "
                f"{self.base + len(self.buf):,}.",
                cause=f"Reading it failed ({exc.strerror or exc}).",
                hint="If the file is on a memory card or a network drive, copy it to this "
                "computer first, then import the copy.",
                location=Location(file=self.name or None, offset=self.base + len(self.buf)),
            ) from exc

    def grow(self) -> bool:
        """Read another block onto the end of the buffer; False at the end of the file."""
        if self.eof:
            return False
        chunk = self._read()
        if not chunk:
            self.eof = True
            return False
        self.buf += chunk
        return True

    def drop(self, keep: int) -> None:
        """Forget the buffer before index ``keep``."""
        if keep:
            self.buf = self.buf[keep:]
            self.base += keep

    # -- separators

    def judge(self, i: int) -> bool | None:
        """Whether a separator starts at buf[i]; None when more of the file is needed."""
        buf = self.buf
        nl = buf.find(b"\n", i, i + LINE_MAX)
        if nl < 0:
            if not self.eof and len(buf) < i + LINE_MAX:
                return None
            return False
        if not self.eof and len(buf) < nl + 1 + FIELD_PROBE:
            return None
        return is_separator(buf[i:nl], buf[nl + 1 : nl + 1 + FIELD_PROBE])

    def judge_at(self, i: int) -> bool:
        """:meth:`judge`, reading more of the file as needed (without dropping anything)."""
        while True:
            verdict = self.judge(i)
            if verdict is not None:
                return verdict
            self.grow()

    # -- messages

    def messages(self) -> Iterator[RawMessage | ImportWarning]:
        while len(self.buf) < 4096 and self.grow():
            pass
        pos = len(BOM) if self.buf.startswith(BOM) else 0
        line = 1
        while True:  # blank lines before the first message, however many
            blank = _BLANKS.match(self.buf, pos)
            end = blank.end() if blank else pos
            line += self.buf.count(b"\n", pos, end)
            pos = end
            if self.buf[pos : pos + LINE_MAX].strip() or self.eof:
                break
            self.drop(pos)
            pos = 0
            self.grow()
        if not self.buf[pos:].strip():
            raise format_error(
                "The file is empty.",
                "It has no messages in it.",
                "Check that you chose the right file, and that it finished copying.",
                self.name,
            )
        if not self.judge_at(pos):
            single = looks_like_headers(self.buf[pos : pos + 65536]) > 0
            first = self._first_separator(pos, line)
            if first is None:
                raise self._not_mbox(single)
            pos, skipped_to = first
            yield ImportWarning(
                "text_before_first_message",
                f"Lines {line} to {skipped_to - 1} come before the first message and are not "
                "part of any message, so they were not imported. The original file is "
                "unchanged.",
                line=line,
            )
            line = skipped_to
        yield from self._split(pos, line)

    def _first_separator(self, pos: int, line: int) -> tuple[int, int] | None:
        """The first separator after ``pos`` (its index, its line), reading as far as needed."""
        scan = pos
        while True:
            c = self.buf.find(b"\nFrom ", scan)
            if c < 0:
                if self.eof:
                    return None
                keep = max(pos, len(self.buf) - 8)
                line += self.buf.count(b"\n", pos, keep)
                self.drop(keep)
                pos = scan = 0
                self.grow()
                continue
            if self.judge_at(c + 1):
                return c + 1, line + self.buf.count(b"\n", pos, c + 1)
            scan = c + 1

    def _not_mbox(self, single: bool) -> ImportFormatError:
        if single:
            return format_error(
                "This file is a single e-mail message, not a mailbox.",
                "A mailbox (.mbox) holds messages one after another, each starting with a "
                "line such as 'From sender@example.com Mon Jan 1 00:00:00 2024'. This file "
                "starts straight away with the header lines of one message.",
                "Import it as an e-mail message: leave out --format, or use --format eml.",
                self.name,
                1,
            )
        return format_error(
            "This file does not look like a mailbox (.mbox).",
            "No line in it starts a message the way mailbox files do, with a line such as "
            "'From sender@example.com Mon Jan 1 00:00:00 2024' followed by header lines.",
            "Choose the .mbox file your mail program or Google Takeout made (for Gmail: "
            "'All mail Including Spam and Trash.mbox'). For one message, choose its .eml file.",
            self.name,
            1,
        )

    def _content_length(self, start: int) -> int | None:
        """The Content-Length of the message whose headers start at buf[start], and the file
        offset its body starts at; None when it has none (or its headers are too long to
        look through)."""
        while True:
            m = _HEADER_END.search(self.buf, start, start + MAX_HEADER)
            if m is not None:
                break
            if self.eof or len(self.buf) - start > 256 << 10 or not self.grow():
                return None
        if self.buf.find(b"ontent-", start, m.start()) < 0:
            return None
        cl = _CONTENT_LENGTH.search(self.buf, start, m.start() + 1)
        if cl is None:
            return None
        return self.base + m.end() + int(cl.group(1))

    def _trust_length(self, end: int) -> bool:
        """Whether a message whose Content-Length says it ends at file offset ``end`` really
        does: the end of the file, or a separator, is there (after blank lines)."""
        i = end - self.base
        if i < 0:
            return False
        while len(self.buf) < i + LINE_MAX + FIELD_PROBE and self.grow():
            pass
        if i > len(self.buf):
            return False
        blank = _BLANKS.match(self.buf, i)
        j = blank.end() if blank else i
        if j >= len(self.buf):
            return self.eof
        if self.buf[j : j + 5] != b"From ":
            return False
        return self.judge_at(j)

    def _split(self, pos: int, line: int) -> Iterator[RawMessage]:
        """Messages from the separator at buf[pos] to the end of the file."""
        while True:
            # the separator line of this message
            nl = self.buf.find(b"\n", pos)
            envelope = decode_header_block(self.buf[pos:nl].rstrip(b"\r"))[0]
            offset = self.base + pos
            start = nl + 1  # where its headers start
            body_end = self._content_length(start)
            if body_end is not None and body_end < self.base + start:
                body_end = None
            acc: bytearray | None = None
            size = 0
            complete = True
            newlines = 1  # the separator line's own
            scan = start
            while True:
                c = self.buf.find(b"\nFrom ", scan)
                if c < 0:
                    if self.eof:
                        end = len(self.buf)
                        break
                    keep = max(start, len(self.buf) - 8)
                    acc, size, complete = self._keep(acc, start, keep, size, complete)
                    newlines += self.buf.count(b"\n", start, keep)
                    self.drop(keep)
                    start = scan = 0
                    self.grow()
                    continue
                verdict = self.judge(c + 1)
                if verdict is None:
                    acc, size, complete = self._keep(acc, start, c, size, complete)
                    newlines += self.buf.count(b"\n", start, c)
                    self.drop(c)
                    start = scan = 0
                    self.grow()
                    continue
                if verdict and body_end is not None and self.base + c + 1 < body_end:
                    if body_end - (self.base + c) <= LOOKAHEAD and self._trust_length(body_end):
                        scan = c + 1  # inside a body whose length is right: not a separator
                        continue
                    body_end = None  # a Content-Length that is wrong: separators decide
                if not verdict:
                    scan = c + 1
                    continue
                end = c + 1
                break
            acc, size, complete = self._keep(acc, start, end, size, complete)
            newlines += self.buf.count(b"\n", start, end)
            data = acc if acc is not None else bytearray()
            # the blank line a writer puts between messages belongs to neither
            if complete and data.endswith(b"\r\n\r\n"):
                del data[-2:]
            elif complete and data.endswith(b"\n\n"):
                del data[-1:]
            last = self.eof and end >= len(self.buf)
            yield RawMessage(
                data=data,
                line=line,
                offset=offset,
                envelope=envelope,
                size=size,
                complete=complete,
                last=last,
                extra=dict(self.extra),
            )
            if last:
                return
            line += newlines
            pos = end

    def _keep(
        self, acc: bytearray | None, start: int, end: int, size: int, complete: bool
    ) -> tuple[bytearray | None, int, bool]:
        """Add buf[start:end] to the message being read, up to :data:`MAX_MESSAGE` (past
        that, only its first :data:`HEAD_KEEP` bytes are kept)."""
        if end <= start:
            return acc, size, complete
        size += end - start
        if not complete:
            return acc, size, complete
        if size > MAX_MESSAGE:
            if acc is None:
                acc = bytearray(self.buf[start : start + HEAD_KEEP])
            elif len(acc) > HEAD_KEEP:
                del acc[HEAD_KEEP:]
            return acc, size, False
        if acc is None:
            acc = bytearray(memoryview(self.buf)[start:end])
        else:
            acc += memoryview(self.buf)[start:end]
        return acc, size, complete


def _looks_like_mbox(head: bytes) -> bool:
    at = len(BOM) if head.startswith(BOM) else 0
    blank = _BLANKS.match(head, at)
    at = blank.end() if blank else at
    nl = head.find(b"\n", at, at + LINE_MAX)
    if nl < 0:
        return False
    return is_separator(head[at:nl], head[nl + 1 : nl + 1 + FIELD_PROBE])


class Mbox(Importer):
    """A mailbox file: Gmail (Google Takeout), Thunderbird, Apple Mail and other .mbox files."""

    name = "mbox"
    version = "1"
    label = "Mailbox file (.mbox, Gmail Takeout)"

    def score(self, probe: Probe) -> float:
        head = probe.head
        if probe.zip_names or head.startswith((b"PK\x03\x04", b"\xd0\xcf\x11\xe0")):
            return 0.0
        lower = probe.name.lower()
        named = lower.endswith((".mbox", ".mbx")) or lower in ("inbox", "sent", "mbox")
        if _looks_like_mbox(head):
            return 0.97 if named else 0.95
        if named and head.strip() and b"\x00" not in head[:4096]:
            return 0.3  # named as ours: ours to explain why it cannot be read
        return 0.0

    def parse(self, source: Source, context: Context) -> Iterator[Item | ImportWarning]:
        with source.open() as f:
            yield from stream(_Reader(f, context.name).messages(), context)
