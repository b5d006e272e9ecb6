"""Reading a Telegram Desktop export (``result.json``, for one chat or a whole account, or a
.zip of the export folder with its media) into items, as a stream.

One responsibility: turn the JSON that Telegram Desktop wrote into
:class:`~docket.importers.base.Item` records and
:class:`~docket.importers.base.ImportWarning` notes, in file order, without changing a
character of what people wrote. It never touches the diary. This module also holds the
streaming JSON reader and the export-zip reader that ``discord.py`` uses for
DiscordChatExporter files (see "Streaming JSON records" below).

How a file is read (``shared/research/formats.md`` §4 and §8, case 13):

* The file is never loaded whole. Messages are built by ijson's C backend
  (``ijson.items``), one at a time. A second, light reader (:class:`_Walker`) follows the
  document's structure on its own stream of the same bytes, so that every message is known
  with its chat (``chats.list[i]`` and ``left_chats.list[i]`` of a whole-account export, or
  the one chat of a single-chat export) and its exact byte offset. ijson reports no
  positions, so the walker finds them: Telegram Desktop writes each message as an object
  whose first key is ``"id"``, so the next message starts at the next ``{"id": N`` with the
  id that ijson just returned; a ``"messages"`` key in between means a new chat began, and
  only then (and for messages without an id) does the walker read that stretch token by
  token. ``Item.offset`` is therefore the exact offset of the message's ``{`` in
  ``result.json`` (inside the zip, in the ``result.json`` member); ``Item.line`` is None.
  The message id is also in ``raw["id"]``.
* ijson is started at the first message of each part of the file with the few bytes that
  make the rest a valid document (``{"chats":{"list":[{"messages":[``), so the contacts and
  other account data before the chats are walked once and not parsed twice.
* Telegram Desktop writes control characters in text as ``\\xHH``, which is not JSON; they are
  read as ``\\u00HH``. A message that ijson still cannot read (damaged bytes) is read by the
  walker alone, with a warning, and ijson starts again after it; the file is refused only
  where its structure breaks (a truncated copy), with the byte offset of the break.
* Times: ``date_unixtime`` (UTC) is used when present; ``date`` is the exporting computer's
  wall-clock time without a zone, so older exports that have only ``date`` are read in
  ``Context.timezone`` and flagged "ambiguous" or "nonexistent" around clock changes.
  ``local_time`` is ``date`` as written (or ``date_unixtime`` when there is no ``date``).
* ``text`` is a string or a list of strings and ``{"type", "text"}`` objects; the body is the
  plain text of all of them. Every field of the message is kept in ``raw`` as text (strings
  as they are, anything else as compact JSON), with the chat's ``chat.id``, ``chat.name`` and
  ``chat.type``.
* Service messages: ``phone_call`` and ``group_call`` become calls (missed, rejected, incoming
  or outgoing, with their duration); every other action is a system item described in plain
  words (who added whom, pinned, cleared the history, took a screenshot, ...).
* The sender is ``from_id`` ("user123"), a handle, with the display name in ``raw["from"]``.
  Who "me" is comes from ``personal_information`` (whole-account exports) or, for a
  single personal chat, from the chat's id (the other person's user id).
* Photos and files are attachments: with their bytes when the export is a .zip of the
  folder that holds them, otherwise listed as "not included in the export".
* In supergroups and channels message ids count up one by one, so a gap means messages that
  were deleted before the export: each gap is reported as a warning.
"""

from __future__ import annotations

import json
import json.encoder
import posixpath
import re
import zipfile
from collections.abc import Callable, Generator, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import IO, Any, Final, NamedTuple
from zoneinfo import ZoneInfo

import ijson  # type: ignore[import-untyped]

from docket.errors import ImportFormatError, Location
from docket.importers._zip import READ_ERRORS as ZIP_READ_ERRORS
from docket.importers._zip import Archive, ZipRules, is_zip
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
    PartyKind,
    Probe,
    Source,
    TimeNote,
)
from docket.model.timeparse import zone

_new = object.__new__

# --- limits -----------------------------------------------------------------------------------

BLOCK: Final = 1 << 18  # bytes the walker reads at a time
FEED_BLOCK: Final = 1 << 16  # bytes ijson is given at a time
MAX_ZIP_TOTAL: Final = 20 << 30  # 20 GiB uncompressed in all
MAX_ZIP_MEMBERS: Final = 500_000  # files in one export folder (a whole account's media)
MAX_KEPT_SCALARS: Final = 256  # values remembered per object outside the messages
FAST_MISSES: Final = 8  # records in a row without a findable id before ids are not looked for
DROP_AT: Final = 1 << 20  # bytes read past before the walker's window lets go of them
MAX_GAP_WARNINGS: Final = 20  # id gaps reported one by one per chat, then summed up


# ijson's C backend (yajl2_c) builds each message in C; the pure-Python backends give the same
# results several times more slowly, and are used only where the C one cannot be loaded.
def _ijson_backend() -> Any:
    try:
        return ijson.get_backend("yajl2_c")
    except ImportError:  # pragma: no cover - the wheel ships the C backend
        return ijson


_IJSON: Final[Any] = _ijson_backend()
IJSON_BACKEND: Final[str] = str(getattr(_IJSON, "backend_name", _IJSON.backend))

# --- local wall-clock time to UTC ---------------------------------------------------------------


def wall_clock(naive: datetime, tz: ZoneInfo) -> tuple[datetime, TimeNote | None]:
    """A wall-clock time in ``tz`` as an aware UTC datetime, and whether that time happened
    twice ("ambiguous": the first is taken) or not at all ("nonexistent": read as if the clocks
    had not yet gone forward) because of a clock change."""
    first = naive.replace(tzinfo=tz).utcoffset() or timedelta(0)
    later = naive.replace(tzinfo=tz, fold=1).utcoffset() or timedelta(0)
    note: TimeNote | None = None
    if first > later:
        note = "ambiguous"
    elif first < later:
        note = "nonexistent"
    return (naive - first).replace(tzinfo=UTC), note


# --- media types ---------------------------------------------------------------------------------

EXTENSION_TYPES: Final[dict[str, str]] = {
    "jpg": "image/jpeg",
    "jpeg": "image/jpeg",
    "png": "image/png",
    "gif": "image/gif",
    "webp": "image/webp",
    "heic": "image/heic",
    "tgs": "application/x-tgsticker",
    "webm": "video/webm",
    "mp4": "video/mp4",
    "mov": "video/quicktime",
    "3gp": "video/3gpp",
    "ogg": "audio/ogg",
    "oga": "audio/ogg",
    "opus": "audio/ogg",
    "m4a": "audio/mp4",
    "mp3": "audio/mpeg",
    "wav": "audio/wav",
    "aac": "audio/aac",
    "pdf": "application/pdf",
    "txt": "text/plain",
    "vcf": "text/vcard",
    "zip": "application/zip",
    "doc": "application/msword",
    "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "xls": "application/vnd.ms-excel",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}


def type_from_name(name: str) -> str | None:
    """The media type a file name's extension suggests, from a fixed table (the same on every
    computer)."""
    _, dot, ext = name.rpartition(".")
    return EXTENSION_TYPES.get(ext.lower()) if dot else None


# --- streaming JSON records (shared with discord.py) -------------------------------------------
#
# A JSON export is one large object whose messages sit in one or more arrays (the "record
# arrays"). RecordSpec says which arrays those are and which objects' plain values to
# remember (the chat's name and id). JsonRecords yields each record as ijson built it, with
# its exact byte offset and the remembered values of the object that holds its array.


@dataclass(frozen=True)
class RecordSpec:
    """Where the records are in a format's JSON document."""

    is_records: Callable[[tuple[str | int, ...]], bool]  # the path of an array of records
    remember: Callable[[tuple[str | int, ...]], bool]  # objects whose plain values to keep
    id_key: str = "id"  # the key every record starts with, when the producer writes one
    array_key: str = "messages"  # the key of the record arrays: seeing it means a new array


class Record(NamedTuple):
    """One element of a record array."""

    value: Any  # as ijson built it: dict, list, str, int, Decimal, bool or None
    offset: int  # of its first byte, in the stream read
    array: tuple[str | int, ...]  # the path of the array it is in (the same object per array)
    owner: dict[str, str | None]  # plain values of the object holding the array (None: null)


class JsonBroken(Exception):
    """The document's structure breaks at ``offset``."""

    def __init__(self, offset: int, ends: bool) -> None:
        super().__init__(offset)
        self.offset = offset
        self.ends = ends  # the bytes stop before the document is complete


class _Window:
    """The bytes of a stream from file offset ``base`` on, read on demand."""

    __slots__ = ("_stream", "base", "buf", "eof")

    def __init__(self, stream: IO[bytes]) -> None:
        self._stream = stream
        self.buf = bytearray()
        self.base = 0
        self.eof = False

    @property
    def end(self) -> int:
        return self.base + len(self.buf)

    def more(self, want: int = 0) -> None:
        chunk = self._stream.read(max(want, BLOCK))
        if chunk:
            self.buf += chunk
        else:
            self.eof = True

    def fill(self, upto: int) -> None:
        """Read until the window holds every byte before offset ``upto`` (or the stream ends)."""
        while self.end < upto and not self.eof:
            self.more(upto - self.end)

    def drop_before(self, offset: int) -> None:
        n = offset - self.base
        if n > 0:
            del self.buf[:n]
            self.base = offset


_TOKEN: Final = re.compile(rb'[ \t\r\n]*+(?:(")|([{}\[\],:])|([^ \t\r\n{}\[\],:"]++))')
_STRING_END: Final = re.compile(rb'(?:[^"\\]++|\\[\s\S])*+"')
_LITERAL: Final = re.compile(
    rb"-?+(?:0|[1-9][0-9]*+)(?:\.[0-9]++)?+(?:[eE][+-]?+[0-9]++)?+|true|false|null"
)
_X_ESCAPE: Final = re.compile(rb"\\(?:x([0-9A-Fa-f]{2})|[\s\S])")

# what the walker expects next
_VALUE, _KEY_OR_END, _KEY, _COLON, _AFTER, _VALUE_OR_END, _DONE = range(7)


def fix_escapes(data: bytes) -> bytes:
    """Rewrite Telegram Desktop's ``\\xHH`` escapes (not JSON) as ``\\u00HH``; every other
    escape is left as it is."""
    if b"\\x" not in data:
        return data
    return _X_ESCAPE.sub(
        lambda m: b"\\u00" + m.group(1) if m.group(1) is not None else m.group(0), data
    )


def decode_string(token: bytes) -> str:
    """The text of a JSON string token (quotes included), read leniently: bytes that are not
    UTF-8 become U+FFFD."""
    if b"\\" not in token:
        return token[1:-1].decode("utf-8", "replace")
    try:
        value = json.loads(fix_escapes(token).decode("utf-8", "replace"), strict=False)
    except ValueError:
        return token[1:-1].decode("utf-8", "replace")
    return value if isinstance(value, str) else token[1:-1].decode("utf-8", "replace")


class _Frame:
    __slots__ = ("index", "is_map", "key", "path", "records", "scalars")

    def __init__(
        self,
        is_map: bool,
        path: tuple[str | int, ...] | None,
        records: bool,
        scalars: dict[str, str | None] | None,
    ) -> None:
        self.is_map = is_map
        self.path = path  # None inside a record: nothing there is followed
        self.records = records
        self.scalars = scalars
        self.key: str | None = None
        self.index = 0


class _Walker:
    """Follows a JSON document's structure token by token, stopping at each record's start.

    It checks the grammar as it goes, so it can say exactly where a damaged document breaks.
    Inside records it only keeps count of nesting; outside them it tracks every key, and keeps
    the plain values of the objects the spec names.
    """

    def __init__(self, window: _Window, spec: RecordSpec) -> None:
        self.win = window
        self.spec = spec
        self.pos = 0  # offset of the next byte to read
        self.state = _VALUE
        self.stack: list[_Frame] = []
        self.reported = -1  # offset of the record start last returned
        self.record_end = -1  # offset just after the last record that was walked through
        self.pin: int | None = None  # keep the window's bytes from here (a record being read)
        self.kept: dict[tuple[str | int, ...], dict[str, str | None]] = {}  # closed objects
        self.root_keys: list[str] = []

    # -- tokens --

    def _more(self) -> None:
        win = self.win
        keep = self.pos if self.pin is None else min(self.pin, self.pos)
        win.drop_before(keep)
        win.more(len(win.buf))  # read at least as much again: long strings cost O(n)

    def _token(self) -> tuple[int, int, int] | None:
        """Start, end and first byte of the next token; None when only whitespace is left."""
        win = self.win
        while True:
            buf = win.buf
            i = self.pos - win.base
            m = _TOKEN.match(buf, i)
            if m is None:
                if win.eof:
                    self.pos = win.end
                    return None
                self._more()
                continue
            if m.group(2) is not None:
                return win.base + m.start(2), win.base + m.end(2), buf[m.start(2)]
            if m.group(3) is not None:
                if m.end() == len(buf) and not win.eof:
                    self._more()
                    continue
                if _LITERAL.fullmatch(buf, m.start(3), m.end(3)) is None:
                    raise JsonBroken(win.base + m.start(3), False)
                return win.base + m.start(3), win.base + m.end(3), buf[m.start(3)]
            q = m.start(1)
            e = _STRING_END.match(buf, q + 1)
            if e is None:
                if win.eof:
                    raise JsonBroken(win.end, True)
                self._more()
                continue
            return win.base + q, win.base + e.end(), 0x22

    def _text(self, start: int, end: int) -> bytes:
        base = self.win.base
        return bytes(self.win.buf[start - base : end - base])

    # -- structure --

    def _push(self, is_map: bool) -> None:
        parent = self.stack[-1] if self.stack else None
        path: tuple[str | int, ...] | None
        if parent is None:
            path = ()
        elif parent.path is None or parent.records:
            path = None
        elif parent.is_map:
            path = (*parent.path, parent.key or "")
        else:
            path = (*parent.path, parent.index)
        records = path is not None and not is_map and self.spec.is_records(path)
        scalars: dict[str, str | None] | None = None
        if path is not None and is_map and self.spec.remember(path):
            scalars = {}
        self.stack.append(_Frame(is_map, path, records, scalars))
        self.state = _KEY_OR_END if is_map else _VALUE_OR_END

    def _pop(self, end: int) -> None:
        frame = self.stack.pop()
        if (
            frame.scalars is not None
            and frame.path is not None
            and not any(isinstance(c, int) for c in frame.path)
        ):
            self.kept[frame.path] = frame.scalars
        self._value_done(end)

    def _value_done(self, end: int) -> None:
        if not self.stack:
            self.state = _DONE
            return
        top = self.stack[-1]
        if top.records:
            self.record_end = end
        self.state = _AFTER

    def advance(self) -> int | None:
        """Walk on to the start of the next record and return its offset (the record is not
        read yet); None at the end of the document. Raises :class:`JsonBroken` where the
        document breaks."""
        while True:
            tok = self._token()
            if tok is None:
                if self.state == _DONE:
                    return None
                raise JsonBroken(self.pos, True)
            start, end, c = tok
            state = self.state
            top = self.stack[-1] if self.stack else None
            if state in (_VALUE, _VALUE_OR_END):
                if top is None and c != 0x7B:  # an export is one object
                    raise JsonBroken(start, False)
                if c == 0x5D and state == _VALUE_OR_END:  # "]" of an empty array
                    self.pos = end
                    self._pop(end)
                    continue
                if top is not None and top.records and start != self.reported:
                    self.pos = self.reported = start
                    return start
                self.pos = end
                if c == 0x7B:  # "{"
                    self._push(True)
                elif c == 0x5B:  # "["
                    self._push(False)
                elif c in b"}],:":
                    raise JsonBroken(start, False)
                else:
                    if (
                        top is not None
                        and top.scalars is not None
                        and top.key is not None
                        and len(top.scalars) < MAX_KEPT_SCALARS
                    ):
                        text = self._text(start, end)
                        top.scalars[top.key] = (
                            decode_string(text)
                            if c == 0x22
                            else None
                            if text == b"null"
                            else text.decode("ascii")
                        )
                    self._value_done(end)
            elif state in (_KEY_OR_END, _KEY):
                assert top is not None
                self.pos = end
                if c == 0x7D and state == _KEY_OR_END:  # "}" of an empty object
                    self._pop(end)
                elif c == 0x22:
                    if top.path is not None:
                        top.key = decode_string(self._text(start, end))
                        if len(self.stack) == 1 and len(self.root_keys) < MAX_KEPT_SCALARS:
                            self.root_keys.append(top.key)
                    self.state = _COLON
                else:
                    raise JsonBroken(start, False)
            elif state == _COLON:
                if c != 0x3A:  # ":"
                    raise JsonBroken(start, False)
                self.pos = end
                self.state = _VALUE
            elif state == _AFTER:
                assert top is not None
                self.pos = end
                if c == 0x2C:  # ","
                    if top.is_map:
                        self.state = _KEY
                    else:
                        top.index += 1
                        self.state = _VALUE
                elif (c == 0x7D and top.is_map) or (c == 0x5D and not top.is_map):
                    self._pop(end)
                else:
                    raise JsonBroken(start, False)
            else:  # _DONE: something after the end of the document
                raise JsonBroken(start, False)

    def jump(self, offset: int) -> None:
        """Move from the record last returned straight to the next one in the same array,
        which starts at ``offset`` (found by its id)."""
        self.stack[-1].index += 1
        self.pos = self.reported = offset
        self.state = _VALUE

    # -- where the walker is --

    def array_path(self) -> tuple[str | int, ...]:
        path = self.stack[-1].path
        assert path is not None
        return path

    def owner(self) -> dict[str, str | None]:
        if len(self.stack) >= 2 and self.stack[-2].scalars is not None:
            return self.stack[-2].scalars
        return {}

    def synthetic_start(self) -> bytes:
        """The bytes that, followed by the document from the current record on, make a valid
        document in which the record has the same path."""
        out: list[str] = []
        for frame in self.stack:
            if frame.is_map:
                out.append("{" + json.dumps(frame.key, ensure_ascii=False) + ":")
            else:
                out.append("[")
        return "".join(out).encode("utf-8")

    def kept_values(self, path: tuple[str | int, ...]) -> dict[str, str | None]:
        """The remembered plain values of the object at ``path`` (open or closed)."""
        for frame in self.stack:
            if frame.path == path and frame.scalars is not None:
                return frame.scalars
        return self.kept.get(path, {})


def ijson_prefix(path: tuple[str | int, ...]) -> str:
    parts = ["item" if isinstance(c, int) else c for c in path]
    return ".".join([*parts, "item"])


class _Feed:
    """What ijson reads: a synthetic start, then the file from a record on, with
    ``\\xHH`` escapes rewritten. ``raw_pos`` is the file offset of the next byte not yet read."""

    def __init__(self, stream: IO[bytes], offset: int, start: bytes) -> None:
        self._stream = stream
        self.raw_pos = offset
        self._pending = start
        self._hold = b""
        self._eof = False

    def read(self, size: int = -1) -> bytes:
        if size == 0:  # ijson asks for nothing to learn whether it is given bytes
            return b""
        if self._pending:
            out, self._pending = self._pending, b""
            return out
        while not self._eof:
            chunk = self._stream.read(FEED_BLOCK)
            if not chunk:
                self._eof = True
                out, self._hold = self._hold, b""
                return fix_escapes(out)
            self.raw_pos += len(chunk)
            data = self._hold + chunk if self._hold else chunk
            cut = _escape_tail(data)
            self._hold = data[cut:]
            if cut:
                return fix_escapes(data[:cut])
        return b""


def _escape_tail(data: bytes) -> int:
    """Where ``data`` can be cut without splitting an escape sequence."""
    k = data.rfind(b"\\", max(0, len(data) - 3))
    if k < 0:
        return len(data)
    j = k
    while j > 0 and data[j - 1] == 0x5C:
        j -= 1
    if (k - j) % 2:  # the backslash at k is itself escaped
        return len(data)
    tail = data[k:]
    if len(tail) == 1 or (tail[1:2] == b"x" and len(tail) < 4):
        return k
    return len(data)


_Records = Generator[Record | ImportWarning, None, int | None]  # returns where to go on
_ID_AT: Final = re.compile(rb'\{[ \t\r\n]*+"id"[ \t\r\n]*+:[ \t\r\n]*+(-?[0-9]++|"[^"\\]*+")')


class JsonRecords:
    """The records of one JSON export, in file order, each with its exact byte offset.

    ``opener`` opens the document afresh (it is read twice at once: by ijson and by the
    walker). Yields :class:`Record` and :class:`ImportWarning`; raises :class:`JsonBroken`
    where the document's structure breaks. After the iteration, :attr:`walker` has what was
    remembered (for instance values that come after the records).
    """

    def __init__(self, opener: Callable[[], IO[bytes]], spec: RecordSpec) -> None:
        self._opener = opener
        self._spec = spec
        self.count = 0
        self.walker: _Walker | None = None
        key = re.escape(json.dumps(spec.array_key).encode())
        self._boundary = re.compile(key + rb"[ \t\r\n]*+:")
        self._misses = 0

    def __iter__(self) -> Iterator[Record | ImportWarning]:
        with self._opener() as raw:
            window = _Window(raw)
            walker = self.walker = _Walker(window, self._spec)
            window.fill(3)
            if window.buf.startswith(b"\xef\xbb\xbf"):  # a byte order mark
                walker.pos = 3
            start = walker.advance()
            while start is not None:
                start = yield from self._pass(walker, window, start)

    def _pass(self, walker: _Walker, window: _Window, start: int) -> _Records:
        """Records from ``start`` on, built by ijson, until ijson's document ends or fails;
        returns where the next pass starts (None at the end)."""
        array = walker.array_path()
        owner = walker.owner()
        prefix = ijson_prefix(array)
        done_here = 0
        locate = self._locate
        with self._opener() as stream:
            _seek(stream, start)
            feed = _Feed(stream, start, walker.synthetic_start())
            try:
                for value in _IJSON.items(feed, prefix, use_float=False):
                    if done_here:
                        found = locate(walker, window, value, feed.raw_pos)
                        if found is None:  # walked there: the array may be another one
                            nxt = walker.advance()
                            if nxt is None or ijson_prefix(walker.array_path()) != prefix:
                                raise JsonBroken(walker.pos, False)
                            start = nxt
                            if walker.array_path() != array:
                                array = walker.array_path()
                                owner = walker.owner()
                        else:
                            start = found
                        if start - window.base > DROP_AT:
                            window.drop_before(start)
                    done_here += 1
                    self.count += 1
                    yield Record(value, start, array, owner)
            except ijson.JSONError:
                return (yield from self._recover(walker, window, done_here > 0))
        if not done_here:  # ijson saw no record where the walker did: read it the slow way
            return (yield from self._recover(walker, window, False))
        # ijson read to the end of the document: walk on from the last record
        return walker.advance()

    def _locate(self, walker: _Walker, window: _Window, value: Any, bound: int) -> int | None:
        """The start of the record after the one the walker is at, found by its id, when it
        is in the same array; None when the walker has to walk there."""
        if self._misses >= FAST_MISSES or value.__class__ is not dict:
            return None
        rid = value.get(self._spec.id_key)
        if rid.__class__ is int:
            needle = str(rid).encode()
        elif rid.__class__ is str:
            needle = json.dumps(rid).encode()
        else:
            return None
        here = walker.pos
        pos = here + 1 - window.base
        search = _ID_AT.search
        while True:
            buf = window.buf
            m = search(buf, pos)
            if m is None or (m.end() == len(buf) and not window.eof):
                if window.eof or window.end >= bound:
                    self._misses += 1
                    return None
                if m is None:
                    pos = max(pos, len(buf) - 64)
                window.more()
                continue
            if m.group(1) != needle:  # an object inside the record, say its author
                pos = m.end()
                continue
            if self._boundary.search(buf, here - window.base, m.start()) is not None:
                return None  # a new array of records begins in between
            self._misses = 0
            found = window.base + m.start()
            walker.jump(found)
            return found

    def _recover(self, walker: _Walker, window: _Window, current_done: bool) -> _Records:
        """After ijson failed: read the record it could not read with the walker alone (with a
        warning), and return where ijson can start again."""
        if current_done:
            return walker.advance()
        start = walker.pos
        path, owner = walker.array_path(), dict(walker.owner())
        walker.pin = start
        try:
            nxt = walker.advance()
            end = walker.record_end
            data = bytes(window.buf[start - window.base : end - window.base])
        finally:
            walker.pin = None
        value, readable = lenient_json(data)
        if value is _UNREADABLE:
            yield ImportWarning(
                "unreadable_record",
                f"The message at byte {start} could not be read, so it was left out. The rest "
                "of the file was imported.",
                offset=start,
            )
            return nxt
        if not readable:
            yield ImportWarning(
                "unreadable_characters",
                f"The message at byte {start} contains bytes that are not valid text. They are "
                "shown as \ufffd; the rest of the message is kept as written.",
                offset=start,
            )
        else:
            yield ImportWarning(
                "repaired_record",
                f"The message at byte {start} is not written quite as JSON should be (for "
                "example a backslash that starts no escape). Docket read it as best it could; "
                "the original file is unchanged.",
                offset=start,
            )
        self.count += 1
        yield Record(value, start, path, owner)
        return nxt


_UNREADABLE: Final = object()
_ESCAPE_OR_LONE: Final = re.compile(r'\\(u[0-9A-Fa-f]{4}|["\\/bfnrt])?')


def lenient_json(data: bytes) -> tuple[Any, bool]:
    """One JSON value read as leniently as its bytes allow: ``\\xHH`` escapes, bytes that
    are not UTF-8 (as U+FFFD), control characters in strings and backslashes that start no
    escape (kept as backslashes). Returns the value (:data:`_UNREADABLE` when even that
    fails) and whether the bytes were valid UTF-8."""
    try:
        text = fix_escapes(data).decode("utf-8")
        readable = True
    except UnicodeDecodeError:
        text = fix_escapes(data).decode("utf-8", "replace")
        readable = False
    mended = _ESCAPE_OR_LONE.sub(lambda m: m.group(0) if m.group(1) else "\\\\", text)
    for attempt in (text, mended):
        try:
            return json.loads(attempt, strict=False), readable
        except ValueError:
            continue
    return _UNREADABLE, readable


def _seek(stream: IO[bytes], offset: int) -> None:
    if stream.seekable():
        stream.seek(offset)
        return
    left = offset
    while left > 0:
        got = stream.read(min(left, 1 << 20))
        if not got:
            return
        left -= len(got)


def _no_default(value: Any) -> Any:
    raise TypeError(type(value).__name__)


def _make_dumps() -> Callable[[Any], str]:
    """Compact JSON, through one C encoder made once (json.dumps makes one per call)."""
    make = getattr(json.encoder, "c_make_encoder", None)
    if make is None:  # pragma: no cover - Python implementations without the C encoder
        encoder = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), default=_no_default)
        return encoder.encode
    encode = make(None, _no_default, json.encoder.encode_basestring, None, ":", ",", 0, 0, 1)

    def dumps(value: Any) -> str:
        return "".join(encode(value, 0))

    return dumps


_dumps: Final = _make_dumps()


def raw_text(value: Any) -> str:
    """A JSON value as text for ``Item.raw``: strings as they are, anything else as compact
    JSON (numbers as written)."""
    cls = value.__class__
    if cls is str:
        return value  # type: ignore[no-any-return]
    if cls is int or cls is Decimal:
        return str(value)
    if value is None:
        return "null"
    if cls is bool:
        return "true" if value else "false"
    try:
        return _dumps(value)
    except TypeError:  # a Decimal inside: written as its digits, as in the file
        return _compact(value)


def _compact(value: Any) -> str:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, dict):
        inner = ",".join(
            json.dumps(str(k), ensure_ascii=False) + ":" + _compact(v) for k, v in value.items()
        )
        return "{" + inner + "}"
    if isinstance(value, list):
        return "[" + ",".join(_compact(v) for v in value) + "]"
    return json.dumps(value, ensure_ascii=False)


# --- zips of export folders (shared with discord.py) ------------------------------------------


# reads one JSON document, given what opens it afresh
_ReadJson = Callable[[Callable[[], IO[bytes]]], Iterator[Item | ImportWarning]]


class ExportZip(Archive):
    """A .zip of an export folder: its text members and the media beside them, checked against
    zip bombs before anything is read. ``app`` names the program that made the export."""

    def __init__(self, source: Source, name: str, app: str) -> None:
        again = f"Export again from {app} and zip the export folder, or import its JSON file "
        super().__init__(
            source,
            name,
            ZipRules(
                max_total=MAX_ZIP_TOTAL,
                max_members=MAX_ZIP_MEMBERS,
                contents="photos, videos or export files",
                export=f"A {app} export",
                total_note=f"A {app} export is far smaller",
                too_large_hint=again + "on its own.",
                damaged_cause="The copy or download may have stopped before the end, or the "
                f"file was changed after it was made from the {app} export.",
                damaged_hint="Make the zip again from the export folder, or import the "
                "export's JSON file on its own.",
            ),
        )
        self._names: dict[str, zipfile.ZipInfo | None] | None = None
        self.members: dict[str, zipfile.ZipInfo] = {}
        for i in self.infos:
            if not i.filename.startswith("__MACOSX/"):
                self.members.setdefault(i.filename.replace("\\", "/"), i)

    def opener(self, info: zipfile.ZipInfo) -> Callable[[], IO[bytes]]:
        """What opens the member afresh, for :class:`JsonRecords`."""
        return lambda: self.open(info)

    def read_json(
        self,
        members: list[str],
        reader: Callable[
            [str], Callable[[Callable[[], IO[bytes]]], Iterator[Item | ImportWarning]]
        ],
    ) -> Iterator[Item | ImportWarning]:
        """The items of each JSON member in turn, read by ``reader(member)``; the zip is closed
        at the end. A member that fails part of the way through is a damaged zip."""
        try:
            for member in members:
                read = reader(member)
                try:
                    yield from read(self.opener(self.members[member]))
                except ZIP_READ_ERRORS as exc:
                    raise self.damaged(member) from exc
        finally:
            self.close()

    def find(self, folder: str, relative: str) -> zipfile.ZipInfo | None:
        """The member a path relative to ``folder`` names, if the zip has it."""
        rel = relative.replace("\\", "/")
        if not rel or rel.startswith("/") or re.match(r"[A-Za-z]:/", rel):
            return None
        path = posixpath.normpath(posixpath.join(folder, rel))
        if path.startswith("../") or path == "..":
            return None
        return self.members.get(path)

    def only_one_named(self, name: str) -> zipfile.ZipInfo | None:
        """The member with this file name, in whatever folder, if exactly one has it."""
        if self._names is None:
            self._names = {}
            for path, info in self.members.items():
                base = posixpath.basename(path)
                self._names[base] = None if base in self._names else info
        return self._names.get(name)


# --- Telegram ------------------------------------------------------------------------------------

CHAT_TYPES: Final = frozenset(
    {
        "personal_chat",
        "bot_chat",
        "saved_messages",
        "replies",
        "verification_codes",
        "private_group",
        "private_supergroup",
        "public_supergroup",
        "private_channel",
        "public_channel",
    }
)
SECTIONS: Final = ("chats", "left_chats")
NUMBERED_TYPES: Final = frozenset(
    {"private_supergroup", "public_supergroup", "private_channel", "public_channel"}
)
NOT_INCLUDED: Final = "not included in the export"
NOTE_JSON_ONLY: Final = (
    "not included: only result.json was imported, not the export folder's media files "
    "(import a .zip of the whole export folder to keep them)"
)
NOTE_NOT_IN_ZIP: Final = "not included: the file was not found in the zip"
_PLACEHOLDER: Final = re.compile(r"\((?:File|Photo)\b[^()]*\)\s*\Z")
_PLACEHOLDER_REASONS: Final = (
    ("not included", "Telegram Desktop was set not to download this kind of file"),
    ("exceeds maximum size", "the file was over the size limit set for the export"),
    ("unavailable", "Telegram could not provide the file at the time of the export"),
)
_DATE: Final = re.compile(r"(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2}):(\d{2})\Z")
_EXPORT_AGAIN: Final = (
    "In Telegram Desktop, open the chat, then ⋮ → Export chat history, choose the format "
    "“Machine-readable JSON”, and import the result.json it makes (or a .zip of its folder)."
)
_MATCH_FIELDS: Final = ("title", "new_title", "message_id", "period", "distance", "to_id")


def _is_records(path: tuple[str | int, ...]) -> bool:
    if path == ("messages",):
        return True
    return (
        len(path) == 4
        and path[0] in SECTIONS
        and path[1] == "list"
        and isinstance(path[2], int)
        and path[3] == "messages"
    )


def _remember(path: tuple[str | int, ...]) -> bool:
    if path in ((), ("personal_information",)):
        return True
    return len(path) == 3 and path[0] in SECTIONS and path[1] == "list"


SPEC: Final = RecordSpec(is_records=_is_records, remember=_remember)


def _format_error(
    message: str, cause: str, hint: str, name: str, offset: int | None = None
) -> ImportFormatError:
    return ImportFormatError(
        message, cause=cause, hint=hint, location=Location(file=name or None, offset=offset)
    )


def broken_error(app: str, name: str, broken: JsonBroken, again: str) -> ImportFormatError:
    """The error for a JSON export whose structure breaks part of the way through."""
    if broken.ends:
        return _format_error(
            f"This {app} export stops part of the way through (at byte {broken.offset}), so "
            "Docket cannot read it to the end.",
            "The export, the download or the copy may not have finished.",
            "Copy the file again, or export again, and import the new file. " + again,
            name,
            broken.offset,
        )
    return _format_error(
        f"This {app} export is damaged at byte {broken.offset}: from there on it is not in the "
        "form the app writes (JSON), so Docket cannot read it safely.",
        "The file may have been changed by another program, or damaged while it was copied.",
        "Use the file exactly as it was exported. " + again,
        name,
        broken.offset,
    )


def read_records(
    records: JsonRecords,
    handle: Callable[[Record, JsonRecords], Iterable[Item | ImportWarning]],
    app: str,
    name: str,
    again: str,
    not_ours: Callable[[], ImportFormatError],
) -> Iterator[Item | ImportWarning]:
    """The items ``handle`` makes of each record of one JSON export, with the reader's own
    warnings in between. A document that breaks before anything of it was recognised is
    ``not_ours()``; one that breaks later is :func:`broken_error`; a failing read is
    :func:`read_error`."""
    try:
        for rec in records:
            if isinstance(rec, ImportWarning):
                yield rec
                continue
            yield from handle(rec, records)
    except JsonBroken as broken:
        walker = records.walker
        if records.count == 0 and (walker is None or not walker.root_keys):
            raise not_ours() from broken
        raise broken_error(app, name, broken, again) from broken
    except OSError as exc:
        raise read_error(name) from exc


def read_error(name: str) -> ImportFormatError:
    """The error for a file the computer could not read to the end."""
    return _format_error(
        "Docket could not read this file to the end.",
        "The disk or the device the file is on may have a problem, or the file is being "
        "changed while it is read.",
        "Copy the file to this computer's own disk and import the copy.",
        name,
    )


def _chat_text(text: Any) -> str:
    """The plain text of a message's ``text``: a string, or a list of strings and
    ``{"type", "text"}`` parts."""
    if isinstance(text, str):
        return text
    if isinstance(text, list):
        out: list[str] = []
        for part in text:
            if isinstance(part, str):
                out.append(part)
            elif isinstance(part, dict):
                inner = part.get("text")
                if isinstance(inner, str):
                    out.append(inner)
        return "".join(out)
    return ""


def _user(value: Any) -> str | None:
    """A ``from_id`` / ``actor_id`` as text: "user123" (old exports wrote the bare number)."""
    if isinstance(value, str) and value:
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return f"user{value}"
    return None


def _names(value: Any) -> str:
    if isinstance(value, list):
        names = [v if isinstance(v, str) else "a deleted account" for v in value]
        if len(names) > 1:
            return ", ".join(names[:-1]) + " and " + names[-1]
        return names[0] if names else "nobody"
    return "someone"


def _describe(action: str, msg: dict[str, Any], actor: str) -> str:
    """Plain words for a service message."""
    title = msg.get("title")
    title_text = f"“{title}”" if isinstance(title, str) else "a new name"
    members = _names(msg.get("members"))
    period = msg.get("period")
    words: dict[str, str] = {
        "create_group": f"{actor} created the group {title_text}",
        "edit_group_title": f"{actor} changed the group name to {title_text}",
        "edit_group_photo": f"{actor} changed the group photo",
        "delete_group_photo": f"{actor} removed the group photo",
        "invite_members": f"{actor} added {members}",
        "remove_members": f"{actor} removed {members}",
        "join_group_by_link": f"{actor} joined the group with an invite link",
        "join_group_by_request": f"{actor} was let into the group after asking to join",
        "create_channel": f"{actor} created the channel {title_text}",
        "migrate_to_supergroup": f"{actor} turned the group into a supergroup",
        "migrate_from_group": f"{actor} turned the group {title_text} into a supergroup",
        "pin_message": f"{actor} pinned message {msg.get('message_id', '')}".rstrip(),
        "clear_history": f"{actor} cleared the chat history",
        "take_screenshot": f"{actor} took a screenshot of the chat",
        "joined_telegram": f"{actor} joined Telegram",
        "contact_sign_up": f"{actor} joined Telegram",
        "requested_phone_number": f"{actor} asked for a phone number",
        "edit_chat_theme": f"{actor} changed the chat theme",
        "set_chat_wallpaper": f"{actor} changed the chat wallpaper",
        "set_same_chat_wallpaper": f"{actor} set the same chat wallpaper",
        "topic_created": f"{actor} created the topic {title_text}",
        "invite_to_group_call": f"{actor} invited {members} to a voice chat",
        "group_call_scheduled": f"{actor} scheduled a voice chat",
        "set_messages_ttl": (
            f"{actor} turned off disappearing messages"
            if period in (0, None)
            else f"{actor} set messages to disappear after {period} seconds"
        ),
    }
    if action == "proximity_reached":
        who = msg.get("from") if isinstance(msg.get("from"), str) else "someone"
        to = msg.get("to") if isinstance(msg.get("to"), str) else "someone"
        return f"{who} came within {msg.get('distance', '?')} metres of {to}"
    info = msg.get("information_text")
    if isinstance(info, str) and info:
        return info
    return words.get(action, f"{actor}: {action.replace('_', ' ')}")


@dataclass
class _Chat:
    """What is known about the chat whose messages are being read."""

    array: tuple[str | int, ...]
    chat_id: str | None
    name: str | None
    type: str | None
    me: str | None  # the exporting account's from_id, when known
    peer: str | None  # the other person's from_id in a personal chat, when known
    raw: dict[str, str]  # the chat's fields added to each message's raw
    numbered: bool  # a supergroup or channel: message ids count up one by one
    last_id: int | None = None
    gaps: int = 0

    def direction(self, who: str) -> Direction:
        if self.me is not None:
            return "outgoing" if who == self.me else "incoming"
        if self.type == "saved_messages":
            return "outgoing"
        if self.peer is not None:
            return "incoming" if who == self.peer else "outgoing"
        return "unknown"


@dataclass
class _Telegram:
    """Turns the records of one result.json into items."""

    context: Context
    name: str
    tz: ZoneInfo
    media: ExportZip | None  # the zip the export came in, when it did
    folder: str  # result.json's folder inside the zip
    member: str | None  # result.json's path inside the zip
    chat: _Chat | None = None
    _parties: dict[tuple[str, PartyKind], Party] = field(default_factory=dict)

    def read(self, opener: Callable[[], IO[bytes]]) -> Iterator[Item | ImportWarning]:
        records = JsonRecords(opener, SPEC)
        yield from read_records(
            records, self._record, "Telegram", self.name, _EXPORT_AGAIN, self._not_telegram
        )
        walker = records.walker
        if records.count == 0 and walker is not None:
            keys = set(walker.root_keys)
            if keys & {"personal_information", "chats", "left_chats", "about"} or (
                keys & {"messages"} and walker.kept.get((), {}).get("type") in CHAT_TYPES
            ):
                yield ImportWarning(
                    "no_messages",
                    "This Telegram export holds no messages, so nothing was imported. When "
                    "exporting all your data, tick the chats you want (for example “Personal "
                    "chats”).",
                )
            else:
                raise self._not_telegram()

    def _not_telegram(self) -> ImportFormatError:
        return _format_error(
            "This file does not look like a Telegram export.",
            "A Telegram Desktop export (result.json) is a JSON file with a list of "
            "“messages”, or with “chats” when the whole account was exported.",
            "Check that you chose result.json from the export folder. " + _EXPORT_AGAIN,
            self.name,
        )

    def _chat_for(self, rec: Record, records: JsonRecords) -> _Chat:
        chat = self.chat
        if chat is not None and chat.array == rec.array:
            chat.array = rec.array
            return chat
        owner = rec.owner
        walker = records.walker
        assert walker is not None
        me = None
        uid = walker.kept_values(("personal_information",)).get("user_id")
        if uid and uid.isdigit():
            me = f"user{uid}"
        chat_type = owner.get("type")
        chat_id = owner.get("id")
        name = owner.get("name")
        peer = None
        if chat_id and chat_id.isdigit() and chat_type in ("personal_chat", "bot_chat"):
            peer = f"user{chat_id}"
        raw: dict[str, str] = {}
        if chat_id is not None:
            raw["chat.id"] = chat_id
        if name is not None:
            raw["chat.name"] = name
        if chat_type is not None:
            raw["chat.type"] = chat_type
        if rec.array[0] == "left_chats":
            raw["chat.left"] = "true"
        if self.member is not None:
            raw["zip.member"] = self.member
        chat = self.chat = _Chat(
            array=rec.array,
            chat_id=chat_id,
            name=name,
            type=chat_type,
            me=me,
            peer=peer,
            raw=raw,
            numbered=chat_type in NUMBERED_TYPES,
        )
        return chat

    def _party(self, who: str, kind: PartyKind) -> Party:
        key = (who, kind)
        party = self._parties.get(key)
        if party is None:
            if len(self._parties) > 10_000:
                self._parties.clear()
            party = self._parties[key] = Party(who, kind)
        return party

    def _record(self, rec: Record, records: JsonRecords) -> list[Item | ImportWarning]:
        chat = self.chat
        if chat is None or chat.array is not rec.array:
            chat = self._chat_for(rec, records)
        msg = rec.value
        at = rec.offset
        if msg.__class__ is not dict:
            return [
                ImportWarning(
                    "unreadable_record",
                    f"The entry at byte {at} in the list of messages is not a message, so it "
                    "was left out.",
                    offset=at,
                )
            ]
        out: list[Item | ImportWarning] = []
        raw = {k: v if v.__class__ is str else raw_text(v) for k, v in msg.items()}
        raw.update(chat.raw)
        if chat.numbered:
            self._gap(chat, msg, at, out)
        # when
        sent_at: datetime | None = None
        note: TimeNote | None = None
        date = msg.get("date")
        unix = msg.get("date_unixtime")
        local_time = date if date.__class__ is str else raw.get("date_unixtime", "")
        if unix.__class__ is str or unix.__class__ is int:
            try:
                sent_at = datetime.fromtimestamp(int(unix), UTC)
            except (ValueError, OverflowError, OSError):
                sent_at = None
        if sent_at is None:
            sent_at, note = self._local(date)
            if sent_at is None:
                out.append(
                    ImportWarning(
                        "bad_date",
                        f"The message at byte {at} has no date Docket can read, so it is kept "
                        "without a time.",
                        offset=at,
                    )
                )
        kind_of = msg.get("type")
        kind: Kind = "message"
        sender: Party | None = None
        body: str | None
        match_body: str | None = None
        call_type: CallType | None = None
        duration: int | None = None
        attachments: tuple[Attachment, ...] = ()
        direction: Direction = "unknown"
        if kind_of == "message":
            who = _user(msg.get("from_id"))
            if who is not None:
                sender = self._party(who, "handle")
                direction = chat.direction(who)
            else:
                author = msg.get("from")
                if author.__class__ is str:
                    sender = self._party(author, "name")
            text = msg.get("text")
            body = text if text.__class__ is str else _chat_text(text)
            if "photo" in msg or "file" in msg or "contact_vcard" in msg:
                attachments = tuple(self._attachments(msg))
        elif kind_of == "service":
            action = msg.get("action")
            action = action if isinstance(action, str) else ""
            who = _user(msg.get("actor_id"))
            actor = msg.get("actor") if isinstance(msg.get("actor"), str) else None
            if who is not None:
                sender = self._party(who, "handle")
                direction = chat.direction(who)
            elif actor is not None:
                sender = self._party(actor, "name")
            name = actor or ("a deleted account" if "actor" in msg else "someone")
            if action in ("phone_call", "group_call"):
                kind = "call"
                reason = msg.get("discard_reason")
                secs = msg.get("duration_seconds", msg.get("duration"))
                duration = secs if isinstance(secs, int) and not isinstance(secs, bool) else None
                outgoing = None if direction == "unknown" else direction == "outgoing"
                call_type = _call_type(reason if isinstance(reason, str) else None, outgoing)
                body = _call_words(action, name, call_type, duration, reason)
                match_body = ""
            else:
                kind = "system"
                body = _describe(action, msg, name)
                match_body = "\x1f".join(
                    [f"[{action}]"] + [raw[k] for k in _MATCH_FIELDS if k in raw]
                )
        else:
            kind = "system"
            body = "A message Telegram Desktop could not export (the app did not support its kind)"
            match_body = f"[{kind_of}]"
        item = _new(Item)
        item.__dict__.update(
            {
                "kind": kind,
                "channel": "telegram",
                "direction": direction,
                "sender": sender,
                "sent_at": sent_at,
                "local_time": local_time,
                "body": body,
                "recipients": (),
                "thread": chat.chat_id,
                "time_note": note,
                "deleted": False,
                "call_type": call_type,
                "duration_s": duration,
                "attachments": attachments,
                "match_body": match_body,
                "line": None,
                "offset": at,
                "raw": raw,
            }
        )
        out.append(item)
        return out

    def _local(self, date: Any) -> tuple[datetime | None, TimeNote | None]:
        """``date`` (the exporting computer's wall-clock time) in UTC."""
        if isinstance(date, str) and (m := _DATE.match(date)) is not None:
            y, mo, d, h, mi, sec = (int(g) for g in m.groups())
            try:
                naive = datetime(y, mo, d, h, mi, sec)
            except ValueError:
                return None, None
            return wall_clock(naive, self.tz)
        return None, None

    def _gap(
        self, chat: _Chat, msg: dict[str, Any], at: int, out: list[Item | ImportWarning]
    ) -> None:
        mid = msg.get("id")
        if mid.__class__ is not int:
            return
        last, chat.last_id = chat.last_id, mid
        if last is None or mid <= last + 1:
            return
        chat.gaps += 1
        missing = mid - last - 1
        where = f"“{chat.name}”" if chat.name else "this chat"
        if chat.gaps <= MAX_GAP_WARNINGS:
            numbers = f"message {last + 1}" if missing == 1 else f"messages {last + 1} to {mid - 1}"
            out.append(
                ImportWarning(
                    "missing_messages",
                    f"In {where}, {numbers} are not in the export (before the message at byte "
                    f"{at}). Telegram numbers the messages of groups and channels one by one, "
                    "so they were probably deleted before the export.",
                    offset=at,
                )
            )
        elif chat.gaps == MAX_GAP_WARNINGS + 1:
            out.append(
                ImportWarning(
                    "missing_messages",
                    f"In {where}, more messages are missing from the numbering than are listed "
                    "one by one here; each message's number is kept with it (raw id).",
                    offset=at,
                )
            )

    def _attachments(self, msg: dict[str, Any]) -> Iterator[Attachment]:
        for key in ("photo", "file", "contact_vcard"):
            value = msg.get(key)
            if not isinstance(value, str) or not value:
                continue
            declared = msg.get("mime_type") if key == "file" else None
            media_type = declared if isinstance(declared, str) and declared else None
            if key == "photo":
                media_type = "image/jpeg"
            elif key == "contact_vcard":
                media_type = "text/vcard"
            file_name = msg.get("file_name")
            if _PLACEHOLDER.search(value):
                reason = next((why for k, why in _PLACEHOLDER_REASONS if k in value), None)
                name = (
                    file_name if isinstance(file_name, str) and file_name else _kind_name(key, msg)
                )
                note = NOT_INCLUDED + (f": {reason}" if reason else "")
                yield Attachment(name, media_type or type_from_name(name), None, note)
                continue
            name = posixpath.basename(value.replace("\\", "/")) or _kind_name(key, msg)
            media_type = media_type or type_from_name(name)
            if self.media is None:
                yield Attachment(name, media_type, None, NOTE_JSON_ONLY)
                continue
            info = self.media.find(self.folder, value)
            if info is None:
                yield Attachment(name, media_type, None, NOTE_NOT_IN_ZIP)
            else:
                yield Attachment(name, media_type, self.media.chunks(info))


def _kind_name(key: str, msg: dict[str, Any]) -> str:
    if key == "photo":
        return "photo"
    if key == "contact_vcard":
        return "contact.vcf"
    media = msg.get("media_type")
    return media if isinstance(media, str) and media else "file"


def _call_type(reason: str | None, outgoing: bool | None) -> CallType:
    """A Telegram call's type, from its ``discard_reason`` and who made it."""
    if outgoing:
        return "outgoing"
    if reason == "missed":
        return "missed"
    if reason == "busy":  # the person called declined it (or was on another call)
        return "rejected"
    if outgoing is None:
        return "unknown"
    return "incoming"


def _call_words(
    action: str, name: str, call_type: CallType, duration: int | None, reason: Any
) -> str:
    what = "voice chat" if action == "group_call" else "call"
    words = {
        "missed": f"Missed {what} from {name}",
        "rejected": f"Declined {what} from {name}",
        "incoming": f"{what.capitalize()} from {name}",
        "outgoing": f"{what.capitalize()} by {name}",
        "unknown": f"{what.capitalize()} by {name}",
    }.get(call_type, f"{what.capitalize()} by {name}")
    if duration:
        minutes, seconds = divmod(duration, 60)
        words += f", {minutes} min {seconds} s" if minutes else f", {seconds} s"
    if call_type == "outgoing" and reason in ("missed", "busy"):
        words += ", not answered" if reason == "missed" else ", declined"
    return words


# --- telling the file ---------------------------------------------------------------------------

_SINGLE_CHAT: Final = re.compile(
    rb'\A\s*\{\s*(?:"name"\s*:\s*(?:"(?:[^"\\]|\\.)*"|null)\s*,\s*)?"type"\s*:\s*"('
    + b"|".join(t.encode() for t in sorted(CHAT_TYPES))
    + rb')"\s*,\s*"id"\s*:\s*-?\d+\s*,\s*"messages"\s*:\s*\['
)
_ACCOUNT: Final = re.compile(
    rb'\A\s*\{\s*"about"\s*:\s*"(?:[^"\\]|\\.)*"\s*,\s*"personal_information"'
)
_HTML_MARKERS: Final = (b"<title>Exported Data</title>", b"page_wrap", b"history")


def _json_score(head: bytes) -> float:
    if head.startswith(b"\xef\xbb\xbf"):
        head = head[3:]
    if _SINGLE_CHAT.match(head) or _ACCOUNT.match(head):
        return 0.95
    stripped = head.lstrip()
    if not stripped.startswith(b"{"):
        return 0.0
    hits = sum(
        marker in head
        for marker in (b'"date_unixtime"', b'"from_id"', b'"text_entities"', b'"actor_id"')
    )
    if b'"messages"' in head and (hits or b'"type": "message"' in head):
        return 0.6 + 0.1 * min(hits, 3)
    if b'"chats"' in head and b'"list"' in head and b'"messages"' in head:
        return 0.7
    return 0.0


def _is_html_export(head: bytes) -> bool:
    return b"<html" in head[:2048].lower() and all(m in head for m in _HTML_MARKERS[:2])


class Telegram(Importer):
    """Telegram Desktop "Export chat history" / "Export Telegram data" in JSON."""

    name = "telegram"
    version = "1"
    label = "Telegram Desktop export (result.json)"

    def score(self, probe: Probe) -> float:
        if probe.zip_names:
            names = [n for n in probe.zip_names if not n.startswith("__MACOSX/")]
            bases = [posixpath.basename(n.replace("\\", "/")).lower() for n in names]
            if "result.json" in bases:
                return 0.95
            if "messages.html" in bases and any(
                n.replace("\\", "/").lower().endswith("css/style.css") for n in names
            ):
                return 0.6  # an HTML export: ours to explain
            return 0.0
        if probe.head.startswith(b"PK"):
            return 0.0
        if _is_html_export(probe.head):
            return 0.6
        score = _json_score(probe.head)
        if score and probe.name.lower() == "result.json":
            score = min(0.97, score + 0.1)
        return score

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
        if is_zip(head):
            yield from self._zip(source, context, name, tz)
            return
        if _is_html_export(head):
            raise _html_error(name)
        reader = _Telegram(context, name, tz, None, "", None)
        yield from reader.read(source.open)

    def _zip(
        self, source: Source, context: Context, name: str, tz: ZoneInfo
    ) -> Iterator[Item | ImportWarning]:
        export = ExportZip(source, name, "Telegram Desktop")
        results = sorted(
            (m for m in export.members if posixpath.basename(m).lower() == "result.json"),
            key=lambda m: (m.count("/"), m),
        )
        if not results:
            export.close()
            if any(posixpath.basename(m).lower() == "messages.html" for m in export.members):
                raise _html_error(name)
            raise _format_error(
                "This zip file does not contain a Telegram export.",
                "A Telegram Desktop export in JSON has a file called result.json, and "
                "there is none in this zip.",
                "Check that this is the zip of the export folder. " + _EXPORT_AGAIN,
                name,
            )
        yield from export.read_json(
            results,
            lambda m: _Telegram(context, name, tz, export, posixpath.dirname(m), m).read,
        )


def _html_error(name: str) -> ImportFormatError:
    return _format_error(
        "This is a Telegram export in HTML (web pages), which Docket cannot read.",
        "Telegram Desktop exports HTML unless “Machine-readable JSON” is chosen as the format.",
        "Export the chat again and choose the format “Machine-readable JSON” at the bottom of "
        "the export settings. " + _EXPORT_AGAIN,
        name,
    )


__all__ = [
    "EXTENSION_TYPES",
    "ZIP_READ_ERRORS",
    "ExportZip",
    "JsonBroken",
    "JsonRecords",
    "Record",
    "RecordSpec",
    "Telegram",
    "broken_error",
    "decode_string",
    "fix_escapes",
    "raw_text",
    "read_error",
    "read_records",
    "type_from_name",
    "wall_clock",
]
