"""Reading Facebook Messenger and Instagram "Download your information" exports (a conversation's
``message_N.json`` file, the end-to-end-encrypted chat export, or the .zip Meta makes) into
items, as a stream.

One responsibility: turn the JSON Meta wrote into :class:`~docket.importers.base.Item` records
and :class:`~docket.importers.base.ImportWarning` notes, in file order, without changing what
people wrote. It never touches the diary. Messenger and Instagram share one schema, so one
reader serves both; the two importers differ only in their channel and in how they score a
file.

What it reads (see ``shared/research/formats.md`` §5.2, §5.3 and §8 for the traps):

* The "Download your information" shape: ``participants`` (``[{"name": …}]``), then
  ``messages`` (``sender_name``, ``timestamp_ms``, ``content``, ``photos``/``videos``/
  ``audio_files``/``files``/``gifs``/``sticker`` with a ``uri`` each, ``share``,
  ``reactions``, ``call_duration``, ``is_unsent``, ``type`` …), then ``title`` and
  ``thread_path``. Meta writes the messages **newest first**. Items are yielded in file order
  all the same (the pipeline does not need them in time order), so a message's position in the
  file and its item's position agree.
* The end-to-end-encrypted chat export: ``participants`` (plain names), ``threadName``,
  ``messages`` with ``senderName``, ``timestamp`` (milliseconds), ``text``, ``media``,
  ``isUnsent`` and ``reactions``, oldest first. Each message is read by whichever keys it has.
* A .zip of the whole download (or of its ``inbox`` folder): every ``message_N.json`` in it
  (threads in path order, a thread's files in number order: ``message_2`` before
  ``message_10``) and every end-to-end-encrypted thread file, with each message's photos,
  videos and other files linked from the zip.

How it reads:

* Meta stores text as UTF-8 bytes written one ``\\u00XX`` escape per byte ("cafÃ©" for
  "café"). Every string that is used (text, names, reactions, titles) is repaired by
  reading it back as Latin-1 bytes decoded as UTF-8, when that works; a string that is
  already right (it holds a character Latin-1 cannot hold, or its bytes are not UTF-8) is
  left as it is. ``raw`` keeps the fields exactly as the file has them, unrepaired.
* The file is never loaded whole. A small scanner (:class:`_Json`) walks the JSON text and
  hands over one message at a time as its own bytes, with the byte offset and line where it
  starts; each is decoded on its own (numbers kept as written). So memory is bounded by one
  message, a damaged message is skipped with a warning while the rest are read, and every
  item and warning says where in the file it came from. ``title`` and ``thread_path`` come
  after the messages, so each file is read twice: once for them, once for the messages.
* Times are epoch milliseconds in UTC; ``local_time`` keeps the number as written.
* Senders are display names only (Meta exports no account ids): ``Party(kind="name")``.
  ``thread`` is the last part of ``thread_path`` (``alice_ABC123``), which stays the same
  when a conversation moves between ``inbox``, ``archived_threads`` and ``message_requests``;
  without one, the participants' names, sorted and joined.
"""

from __future__ import annotations

import json
import posixpath
import re
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import IO, Any, ClassVar, Final, Literal

from docket.errors import ImportFormatError, Location
from docket.importers._zip import READ_ERRORS as _READ_ERRORS
from docket.importers._zip import Archive, ZipRules, is_zip
from docket.importers.base import (
    Attachment,
    CallType,
    Context,
    Importer,
    ImportWarning,
    Item,
    Kind,
    Party,
    Probe,
    Source,
)

# --- limits -----------------------------------------------------------------------------------

BLOCK: Final = 1 << 20  # bytes read at a time
MAX_RECORD: Final = 64 << 20  # bytes of one message; Meta's are a few kilobytes
MAX_META: Final = 16 << 20  # bytes of one value beside the messages (the participants list)
MAX_ZIP_TOTAL: Final = 64 << 30  # 64 GiB uncompressed in all
MAX_ZIP_MEMBERS: Final = 500_000  # files in one part of a download (up to 64 GiB of them)
MAX_PEEKS: Final = 10_000  # .json members looked into to find end-to-end-encrypted threads
PEEK_BYTES: Final = 64 << 10
MAX_RECIPIENTS: Final = 25  # beyond this many other participants, recipients are not listed
MAX_RAW_DEPTH: Final = 16  # nesting kept as separate raw keys; deeper is kept as JSON text

# --- words Meta writes (English, and other languages where reported) ----------------------------
#
# Meta writes these in the language the account used when the download was made. A wrong or
# missing entry only leaves an event filed as a message (or a call as "unknown" rather than
# "missed"); nothing is lost. Add spellings here when a real export in another language turns up.

# The whole text of a message that was unsent (removed for everyone), after the sender's name,
# compared ignoring case and a final full stop. Used when the message has no ``is_unsent``.
UNSENT: Final[tuple[str, ...]] = (
    "unsent a message",  # en: "Sam unsent a message", "You unsent a message"
    "this message was unsent",
    "hat eine nachricht zurückgenommen",  # de (reported)
    "a annulé l'envoi d'un message",  # fr (reported)
    "anuló el envío de un mensaje",  # es (reported)
)

# A call's text that says nobody answered, compared ignoring case.
MISSED_CALL: Final[tuple[str, ...]] = (
    "missed",  # en: "You missed a call from Sam", "Sam missed your call", "Missed video chat"
    "verpasst",  # de (reported)
    "manqué",  # fr (reported)
    "perdida",  # es, pt (reported)
    "persa",  # it (reported)
    "gemist",  # nl (reported)
)

# Whole texts that are events rather than something a person wrote (chat-miner's Instagram
# list, and Messenger's own notices), matched ignoring case.
EVENTS: Final[tuple[str, ...]] = (
    r"(?:.{1,100} )?liked a message\.?",
    r"(?:.{1,100} )?reacted .{1,30} to your message\.?",
    r".{0,200}created a poll: .*",
    r".{1,300} in the poll\.",
    r".{1,100}'s poll has multiple updates\.",
    r"this poll is no longer available\.?",
    r"you are now connected on messenger\.?",
    r"say hi to your new facebook friend.{0,100}",
)
SYSTEM_TYPES: Final = frozenset({"subscribe", "unsubscribe"})
CALL_TYPES: Final = frozenset({"call"})

# Keys of a message that name files: lists of {"uri": …}, or one {"uri": …}.
MEDIA_LISTS: Final = ("photos", "videos", "gifs", "audio_files", "files", "media")
MEDIA_ONE: Final = ("sticker",)

EXTENSION_TYPES: Final[dict[str, str]] = {
    "jpg": "image/jpeg",
    "jpeg": "image/jpeg",
    "png": "image/png",
    "gif": "image/gif",
    "webp": "image/webp",
    "heic": "image/heic",
    "mp4": "video/mp4",
    "mov": "video/quicktime",
    "webm": "video/webm",
    "m4a": "audio/mp4",
    "aac": "audio/aac",
    "mp3": "audio/mpeg",
    "ogg": "audio/ogg",
    "opus": "audio/ogg",
    "wav": "audio/wav",
    "pdf": "application/pdf",
    "txt": "text/plain",
    "doc": "application/msword",
    "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "xls": "application/vnd.ms-excel",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "zip": "application/zip",
}

NOTE_NOT_IN_EXPORT: Final = "not included in the export"
NOTE_NOT_IN_ZIP: Final = "not found in the zip"
NOTE_LINK: Final = "a link to a file on Meta's servers, not included in the export"

# JSON files in a download's messages folder that are settings, not conversations (msgvault).
METADATA_FILES: Final = frozenset(
    {
        "autofill_information.json",
        "chat_invites_received.json",
        "community_chats_settings.json",
        "encrypted_messaging_backup_settings.json",
        "information_about_your_devices.json",
        "messaging_settings.json",
        "messenger_active_status_platform_settings.json",
        "messenger_active_status_settings.json",
        "messenger_ui_settings.json",
        "secret_conversations.json",
        "support_messages.json",
        "your_chat_settings_on_web.json",
        "your_end-to-end_encryption_enabled_messenger_device.json",
        "your_messenger_app_install_information.json",
        "your_responsiveness_in_messaging_threads.json",
    }
)

# --- text repair ----------------------------------------------------------------------------------


def repair(text: str) -> str:
    """``text`` with Meta's mojibake undone: the UTF-8 bytes it was written as, when it reads
    back as UTF-8; otherwise ``text`` unchanged (it was right already, or is not mojibake)."""
    if text.isascii():
        return text
    try:
        return text.encode("latin-1").decode("utf-8")
    except UnicodeError:
        return text


def _fixed(value: object) -> str | None:
    """A string field, repaired; None when it is missing or not a string."""
    return repair(value) if isinstance(value, str) else None


# --- the JSON scanner -----------------------------------------------------------------------------

_WS: Final = re.compile(rb"[ \t\r\n]*")
_STRING_RE: Final = rb'"[^"\\]*+(?:\\.[^"\\]*+)*+"'


def _nesting(levels: int) -> bytes:
    """A pattern for a bracketed value nested at most ``levels`` deep, as the scanner reads
    one: strings followed to their closing quote, brackets counted, all else passed over.
    Every repeat is possessive and its choices start with different bytes, so a failed match
    costs one pass over the text."""
    inner = b""
    for _ in range(levels):
        inner = (
            rb'[\[{](?:[^"\[\]{}]++|' + _STRING_RE + (b"|" + inner if inner else b"") + rb")*+[\]}]"
        )
    return inner


# A message with its photos, reactions and share is nested three deep; five leaves room.
_SHALLOW: Final = re.compile(_nesting(5), re.DOTALL)
_NESTED: Final = re.compile(rb'[\[\]{}"]')
_SCALAR: Final = re.compile(rb'[^ \t\r\n,:\[\]{}"]+')
_QUOTE, _BACKSLASH = 0x22, 0x5C
_LBRACE, _RBRACE, _LBRACKET, _RBRACKET = 0x7B, 0x7D, 0x5B, 0x5D
_COMMA, _COLON = 0x2C, 0x3A
_BOM: Final = b"\xef\xbb\xbf"

_What = Literal["empty", "encoding", "not_object", "ends_early", "unexpected"]


class _Broken(Exception):
    """The JSON text cannot be read on from here: ``what`` went wrong at ``offset``/``line``
    (for a file that ends early: where the unfinished value began)."""

    def __init__(self, what: _What, offset: int, line: int, found: int | None = None) -> None:
        super().__init__(what)
        self.what: _What = what
        self.offset = offset
        self.line = line
        self.found = found  # the byte found where something else was expected


_EventKind = Literal["message", "value", "messages", "trailing"]


@dataclass(frozen=True)
class _Event:
    """What the scanner found: one of the ``messages`` ("message"); the value of another
    top-level ``key`` ("value"); where the ``messages`` array starts ("messages"); or text
    after the end of the document ("trailing"). ``data`` is the value's JSON text, or None
    when it was not kept (not asked for, or longer than the limit: then ``too_large``)."""

    kind: _EventKind
    key: str
    data: bytes | None
    offset: int
    line: int
    too_large: bool = False


class _Json:
    """Walks one JSON document: an object whose ``messages`` member is an array.

    It yields each element of ``messages`` and the value of every other top-level key as the
    bytes of its JSON text, with the byte offset (from the start of the document, a byte order
    mark included) and the line where it starts. It checks the grammar of the top two levels
    itself; what is inside a value is checked when the value is decoded. Inside a value it only
    follows strings and brackets, so it reads quickly and never needs more memory than the
    largest value it keeps (values it does not keep are passed over in blocks).
    """

    def __init__(self, stream: IO[bytes], block: int | None = None) -> None:
        self._read = stream.read
        self._block = block or BLOCK
        self._buf = b""
        self._pos = 0  # where reading goes on, in _buf
        self._mark = 0  # where the value being kept starts, in _buf
        self._keep = False  # whether the value being read is kept
        self._limit = 0
        self._too_large = False
        self._base = 0  # the document offset of _buf[0]
        self._line = 1  # the line number at _buf[_counted]
        self._counted = 0
        self._eof = False
        self.empty = True

    # buffer ------------------------------------------------------------------------------------

    def _fill(self, keep: int) -> bool:
        """Read more, letting go of the bytes before ``keep``; False at the end."""
        if self._eof:
            return False
        buf = self._buf
        if keep > self._counted:
            self._line += buf.count(b"\n", self._counted, keep)
            self._counted = keep
        chunk = self._read(max(self._block, len(buf) - keep))
        if not chunk:
            self._eof = True
            return False
        self.empty = False
        self._buf = buf[keep:] + chunk if keep < len(buf) else chunk
        self._base += keep
        self._pos -= keep
        self._mark -= keep
        self._counted -= keep
        return True

    def _more(self, p: int) -> int | None:
        """Read more while a value is being read at ``p``; the new ``p``, or None at the end."""
        self._pos = p
        if self._keep and len(self._buf) - self._mark > self._limit:
            self._keep = False
            self._too_large = True
        if not self._fill(self._mark if self._keep else p):
            return None
        return self._pos

    def _here(self) -> tuple[int, int]:
        """The document offset and line of the reading position."""
        p = self._pos
        self._line += self._buf.count(b"\n", self._counted, p)
        self._counted = p
        return self._base + p, self._line

    def _next(self) -> int | None:
        """The next byte after any white space (not taken), or None at the end."""
        while True:
            p = _WS.match(self._buf, self._pos).end()  # type: ignore[union-attr]
            self._pos = p
            if p < len(self._buf):
                return self._buf[p]
            if not self._fill(p):
                return None

    # values ------------------------------------------------------------------------------------

    def _value(self, keep: bool, limit: int) -> _Event:
        """Read the value at the reading position (not white space)."""
        offset, line = self._here()
        self._mark = self._pos
        self._keep = keep
        self._limit = limit
        self._too_large = False
        first = self._buf[self._pos]
        if first == _QUOTE:
            end = self._scan(self._pos + 1, True, offset, line)
        elif first in (_LBRACE, _LBRACKET):
            m = _SHALLOW.match(self._buf, self._pos)
            if m is not None and m.end() - self._pos <= limit:
                end = m.end()  # the usual case: the whole value in one step
            else:
                end = self._scan(self._pos, False, offset, line)
        else:
            end = self._scalar(offset, line)
        if self._keep and end - self._mark > limit:
            self._keep = False
            self._too_large = True
        data = self._buf[self._mark : end] if self._keep else None
        self._pos = end
        self._keep = False
        return _Event("message", "", data, offset, line, self._too_large)

    def _scalar(self, offset: int, line: int) -> int:
        """The end of a number, ``true``, ``false`` or ``null`` (checked when decoded)."""
        while True:
            m = _SCALAR.match(self._buf, self._pos)
            if m is None or m.end() - self._pos > 4096:  # no number is this long
                found = self._buf[self._pos] if m is None else None
                raise _Broken("unexpected", offset, line, found)
            if m.end() < len(self._buf) or self._eof:
                return m.end()
            if not self._fill(self._mark):
                return m.end()

    def _scan(self, p: int, in_string: bool, offset: int, line: int) -> int:
        """The end of the string (``in_string``: ``p`` is just after its opening quote) or the
        bracketed value starting at ``p``."""
        depth = 0
        while True:
            buf = self._buf
            n = len(buf)
            while p < n:
                if in_string:
                    j = buf.find(b'"', p)
                    if j < 0:
                        # keep a final run of backslashes: it decides what comes next
                        k = n
                        while k > p and buf[k - 1] == _BACKSLASH:
                            k -= 1
                        p = k
                        break
                    k = j
                    while k > p and buf[k - 1] == _BACKSLASH:
                        k -= 1
                    p = j + 1
                    if (j - k) & 1:
                        continue  # an escaped quote
                    in_string = False
                    if depth == 0:
                        return p
                else:
                    m = _NESTED.search(buf, p)
                    if m is None:
                        p = n
                        break
                    c = buf[m.start()]
                    p = m.end()
                    if c == _QUOTE:
                        in_string = True
                    elif c in (_LBRACE, _LBRACKET):
                        depth += 1
                    else:
                        depth -= 1
                        if depth <= 0:
                            return p
            more = self._more(p)
            if more is None:
                raise _Broken("ends_early", offset, line)
            p = more

    # the document ------------------------------------------------------------------------------

    def _expected(self, c: int | None) -> _Broken:
        offset, line = self._here()
        if c is None:
            return _Broken("ends_early", offset, line)
        return _Broken("unexpected", offset, line, c)

    def events(self, keep_messages: bool) -> Iterator[_Event]:
        """The document's messages and top-level values, in file order. Raises
        :class:`_Broken` where the text stops being a readable JSON object."""
        while len(self._buf) < 4096 and self._fill(0):
            pass  # enough to see how the text starts, however small the blocks
        if not self._buf:
            raise _Broken("empty", 0, 1)
        head = self._buf[:4096]
        if head.startswith(_BOM):
            self._pos = len(_BOM)
        elif head.startswith((b"\xff\xfe", b"\xfe\xff")) or b"\x00" in head:
            raise _Broken("encoding", 0, 1)
        c = self._next()
        if c is None:
            raise _Broken("empty", 0, 1)
        if c != _LBRACE:
            offset, line = self._here()
            raise _Broken("not_object", offset, line, c)
        self._pos += 1
        c = self._next()
        if c == _RBRACE:
            self._pos += 1
        else:
            while True:
                if c != _QUOTE:
                    raise self._expected(c)
                name = self._value(True, MAX_META)
                key = _key(name.data)
                if self._next() != _COLON:
                    raise self._expected(self._next())
                self._pos += 1
                c = self._next()
                if c is None:
                    raise self._expected(c)
                if key == "messages" and c == _LBRACKET:
                    yield _Event("messages", key, None, *self._here())
                    self._pos += 1
                    yield from self._elements(keep_messages)
                else:
                    value = self._value(True, MAX_META)
                    yield _Event(
                        "value", key, value.data, value.offset, value.line, value.too_large
                    )
                c = self._next()
                if c == _COMMA:
                    self._pos += 1
                    c = self._next()
                    continue
                if c == _RBRACE:
                    self._pos += 1
                    break
                raise self._expected(c)
        if self._next() is not None:
            offset, line = self._here()
            yield _Event("trailing", "", None, offset, line)

    def _elements(self, keep: bool) -> Iterator[_Event]:
        c = self._next()
        if c == _RBRACKET:
            self._pos += 1
            return
        while True:
            if c is None:
                raise self._expected(c)
            yield self._value(keep, MAX_RECORD)
            c = self._next()
            if c == _COMMA:
                self._pos += 1
                c = self._next()
                continue
            if c == _RBRACKET:
                self._pos += 1
                return
            raise self._expected(c)


def _key(data: bytes | None) -> str:
    if data is None:
        return "\x00long"
    try:
        value = json.loads(data)
    except ValueError:
        return "\x00unreadable"
    return value if isinstance(value, str) else "\x00unreadable"


def _decode(data: bytes) -> tuple[Any, bool]:
    """A value's JSON text decoded, numbers kept as the text written; (value, whether some
    bytes were not UTF-8). Raises ValueError (or RecursionError) when it is not JSON."""
    try:
        text = data.decode("utf-8")
        bad = False
    except UnicodeDecodeError:
        text = data.decode("utf-8", "replace")
        bad = True
    return _DECODER.decode(text), bad


# Numbers are kept as the text written (a float would change "1.50"; an int "1e3").
_DECODER: Final = json.JSONDecoder(parse_int=str, parse_float=str, parse_constant=str)


# --- errors -------------------------------------------------------------------------------------

_DOWNLOAD_AGAIN = (
    "Download your information again (Accounts Centre → Your information and permissions → "
    "Download your information), choosing Messages and the JSON format, and import the new "
    "file."
)


def _format_error(
    message: str,
    cause: str,
    hint: str,
    name: str,
    line: int | None = None,
    offset: int | None = None,
) -> ImportFormatError:
    return ImportFormatError(
        message,
        cause=cause,
        hint=hint,
        location=Location(file=name or None, line=line, offset=offset),
    )


def _html_error(app: str, name: str) -> ImportFormatError:
    where = (
        "In the Instagram app: your profile → ☰ → Accounts Centre → Your information and "
        "permissions → Download your information → Download or transfer information → your "
        "Instagram account → Some of your information → Messages → Download to device, and "
        "under Format choose JSON (not HTML)."
        if app == "instagram"
        else "On Facebook: Menu → Settings & privacy → Settings → Accounts Centre → Your "
        "information and permissions → Download your information → Download or transfer "
        "information → your Facebook account → Specific types of information → Messages → "
        "Download to device, and under Format choose JSON (not HTML)."
    )
    return _format_error(
        "This is the web-page (HTML) version of a Meta download, which Docket does not read. "
        "Docket reads the JSON version.",
        "Meta offers the download in two formats, HTML and JSON, and HTML was chosen. The HTML "
        "pages show times in words, in your language and without a time zone, so the exact "
        "time of each message cannot be read from them reliably; the JSON version has it.",
        f"Ask for a new download in the JSON format. {where} Meta sends a notification when "
        "it is ready (it can take from a few minutes to a few days). Keep this HTML download "
        "too: it is still a record, and you can add it to the diary as a file.",
        name,
    )


def _broken_error(err: _Broken, name: str, member: str, app: str) -> ImportFormatError:
    """The error for a file that cannot be read as a whole, or from some point on."""
    inside = f" (the file {member} inside the zip)" if member else ""
    product = "Instagram" if app == "instagram" else "Messenger"
    if err.what == "empty":
        return _format_error(
            f"This file{inside} is empty, so there is nothing to import.",
            "The download or the copy may not have finished.",
            "Copy the file again, or " + _DOWNLOAD_AGAIN[0].lower() + _DOWNLOAD_AGAIN[1:],
            name,
        )
    if err.what == "encoding":
        return _format_error(
            f"This file{inside} is not text in the form Meta writes (UTF-8), so Docket cannot "
            f"read it as a {product} conversation.",
            "It may be a different kind of file, or it was saved again by another program in "
            "another text encoding.",
            "Use the file exactly as it came in the download. " + _DOWNLOAD_AGAIN,
            name,
            1,
            0,
        )
    if err.what == "not_object":
        return _format_error(
            f"This file{inside} is not a {product} conversation from a Meta download.",
            f"A conversation file starts with '{{' and lists its participants and messages; "
            f"this one starts differently (line {err.line}).",
            "Choose a message_1.json file from the download's messages folder, or the .zip "
            "file Meta gave you.",
            name,
            err.line,
            err.offset,
        )
    if err.what == "ends_early":
        return _format_error(
            f"This conversation file{inside} stops part of the way through, at line "
            f"{err.line}, so Docket cannot read the rest of it.",
            "The download or the copy may have stopped before the end, or the file was "
            "changed after Meta made it.",
            "Copy the file again from the download and check that the copy is complete. If "
            "that does not help, " + _DOWNLOAD_AGAIN[0].lower() + _DOWNLOAD_AGAIN[1:],
            name,
            err.line,
            err.offset,
        )
    found = chr(err.found) if err.found is not None and 32 < err.found < 127 else "another byte"
    return _format_error(
        f"This conversation file{inside} is damaged at line {err.line}: Docket found "
        f"{found!r} where the file's layout does not allow it, and cannot read on from there.",
        "The file may have been changed by hand or by another program, or damaged in copying.",
        "Copy the file again from the download, exactly as Meta made it. If that does not "
        "help, " + _DOWNLOAD_AGAIN[0].lower() + _DOWNLOAD_AGAIN[1:],
        name,
        err.line,
        err.offset,
    )


def _zip_rules() -> ZipRules:
    return ZipRules(
        max_total=MAX_ZIP_TOTAL,
        max_members=MAX_ZIP_MEMBERS,
        contents="photos, videos or message files",
        export="A Meta download",
        total_note="That is more than a Meta download holds in one part",
        too_large_hint="Download your information again from Meta, and import the new zip "
        "file. If it is still refused, unzip it and import each conversation's "
        "message_1.json file.",
        damaged_cause="The download or the copy may have stopped before the end, or the file "
        "was changed after Meta made it.",
        damaged_hint="Download the zip file again (Meta keeps it for a few days), or copy it "
        "again, and import the new copy.",
    )


def _damaged_zip(name: str, member: str = "") -> ImportFormatError:
    return _zip_rules().damaged(name, member)


# --- the export: one JSON file, or the conversations and media in a zip --------------------------

_MESSAGE_FILE: Final = re.compile(r"(?:^|/)message_(\d{1,9})\.json$")
_MESSAGE_HTML: Final = re.compile(r"(?:^|/)message_\d{1,9}\.html?$", re.IGNORECASE)
_PARTICIPANTS_KEY: Final = re.compile(rb'"participants"\s*:')
_MESSAGES_KEY: Final = re.compile(rb'"messages"\s*:\s*\[')
_SENDER_KEY: Final = re.compile(rb'"(?:sender_name|senderName)"\s*:')
_TIME_KEY: Final = re.compile(rb'"(?:timestamp_ms|timestamp)"\s*:')
_NAME_KEY: Final = re.compile(rb'\[\s*\{\s*"name"\s*:')
_HTML_START: Final = re.compile(rb"\s*<(?:!doctype\s+html|html)[\s>]", re.IGNORECASE)
# class names in Meta's download pages (the 2019 to 2024 layouts)
_META_HTML: Final = re.compile(
    rb'class="[^"]*(?:_a6-g|_a6-h|_a6-p|_a72d|_a706|_3b0d|_2ph_|_3-95|_2lej|_2let|_2pio)'
)


def _thread_head(head: bytes) -> bool:
    """Whether the first bytes of a JSON file look like a conversation of either shape."""
    if head.startswith(_BOM):
        head = head[len(_BOM) :]
    if head.lstrip()[:1] != b"{":
        return False
    if _MESSAGES_KEY.search(head) is None:
        return False
    return _PARTICIPANTS_KEY.search(head) is not None or (
        _SENDER_KEY.search(head) is not None and _TIME_KEY.search(head) is not None
    )


def meta_html(head: bytes) -> bool:
    """Whether the first bytes of a file are one of Meta's download web pages."""
    if head.startswith(_BOM):
        head = head[len(_BOM) :]
    return _HTML_START.match(head) is not None and _META_HTML.search(head) is not None


@dataclass(frozen=True)
class _Doc:
    """One conversation file: the whole source, or a member of the zip."""

    path: str  # the member's name in the zip, "" for a plain file
    info: zipfile.ZipInfo | None = None

    @property
    def folder(self) -> str:
        return posixpath.dirname(self.path)


def _tail(path: str) -> str:
    """The last three parts of a path (thread folder, media folder, file name)."""
    return "/".join(path.split("/")[-3:])


def _common(a: str, b: str) -> int:
    n = 0
    for x, y in zip(a, b, strict=False):
        if x != y:
            break
        n += 1
    return n


class _Export:
    """The conversation files to read and, for a zip, the other files in it."""

    def __init__(self, source: Source, name: str, app: str) -> None:
        self._source = source
        self._name = name
        self._app = app
        self.archive: Archive | None = None
        self.docs: list[_Doc] = []
        self._by_name: dict[str, zipfile.ZipInfo] = {}
        self._by_tail: dict[str, list[zipfile.ZipInfo]] = {}
        with source.open() as f:
            head = f.read(PEEK_BYTES)
        if is_zip(head):
            self._open_zip()
        elif meta_html(head):
            raise _html_error(app, name)
        else:
            self.docs = [_Doc("")]

    def _open_zip(self) -> None:
        # opened through the source, so progress can follow it
        archive = Archive(self._source, self._name, _zip_rules())
        infos = [
            i
            for i in archive.infos
            if not i.filename.startswith("__MACOSX/")
            and not posixpath.basename(i.filename).startswith("._")
        ]
        try:
            self.docs = self._find_docs(archive, infos)
        except BaseException:
            archive.close()
            raise
        self.archive = archive
        chosen = {d.path for d in self.docs}
        for i in infos:
            if i.filename in chosen:
                continue
            self._by_name.setdefault(i.filename, i)
            self._by_tail.setdefault(_tail(i.filename), []).append(i)

    def _find_docs(self, archive: Archive, infos: list[zipfile.ZipInfo]) -> list[_Doc]:
        numbered: list[tuple[str, int, str, zipfile.ZipInfo]] = []
        others: list[zipfile.ZipInfo] = []
        html = False
        for i in infos:
            m = _MESSAGE_FILE.search(i.filename)
            if m is not None:
                numbered.append((posixpath.dirname(i.filename), int(m.group(1)), i.filename, i))
            elif i.filename.lower().endswith(".json"):
                if posixpath.basename(i.filename) not in METADATA_FILES:
                    others.append(i)
            elif _MESSAGE_HTML.search(i.filename):
                html = True
        in_messages = [i for i in others if "messages" in i.filename.split("/")[:-1]]
        candidates = in_messages if (numbered or in_messages) else others
        flat: list[tuple[str, int, str, zipfile.ZipInfo]] = []
        for i in sorted(candidates, key=lambda i: i.filename)[:MAX_PEEKS]:
            if _thread_head(archive.head(i, PEEK_BYTES)):
                flat.append((posixpath.dirname(i.filename), 0, i.filename, i))
        found = sorted(numbered + flat, key=lambda t: t[:3])
        if found:
            return [_Doc(path, info) for _, _, path, info in found]
        if html:
            raise _html_error(self._app, self._name)
        product = "Instagram" if self._app == "instagram" else "Facebook"
        raise _format_error(
            f"This zip file holds no {product} conversations that Docket can read.",
            "Docket looks for the message_1.json files (and end-to-end-encrypted chat files) "
            "in the download's messages folder, and there are none in this zip. Meta "
            "sometimes splits a large download into several zip files, and the conversations "
            "may be in another one; or Messages was not chosen for this download.",
            "Import each of the zip files Meta gave you. If none has conversations, "
            + _DOWNLOAD_AGAIN[0].lower()
            + _DOWNLOAD_AGAIN[1:],
            self._name,
        )

    def open(self, doc: _Doc) -> IO[bytes]:
        if self.archive is not None and doc.info is not None:
            return self.archive.open(doc.info)
        return self._source.open()

    def close(self) -> None:
        if self.archive is not None:
            self.archive.close()

    def find(self, uri: str, doc: _Doc) -> zipfile.ZipInfo | None:
        """The zip member a message's ``uri`` names: the path from the download's root, or
        from the conversation file's folder, or the same last three parts of a path."""
        rel = uri.strip().replace("\\", "/").lstrip("/")
        while rel.startswith("./"):
            rel = rel[2:]
        if not rel:
            return None
        found = self._by_name.get(rel)
        if found is not None:
            return found
        if doc.folder:
            found = self._by_name.get(posixpath.normpath(f"{doc.folder}/{rel}"))
            if found is not None:
                return found
        candidates = self._by_tail.get(_tail(posixpath.normpath(rel)))
        if not candidates:
            return None
        if len(candidates) == 1:
            return candidates[0]
        # the same last parts in several places: the one nearest the conversation file
        return max(candidates, key=lambda i: (_common(i.filename, doc.path), i.filename))

    def attachment(self, info: zipfile.ZipInfo, name: str, by_ext: str | None) -> Attachment:
        assert self.archive is not None
        return self.archive.attachment(info, name, by_ext)


# --- pass 1: what the whole file says about the conversation -------------------------------------


@dataclass
class _Thread:
    participants: tuple[str, ...] = ()  # repaired names, in the file's order, once each
    thread_path: str | None = None  # as written
    title: str | None = None  # repaired
    has_messages: bool = False
    broken: _Broken | None = None

    @property
    def thread(self) -> str | None:
        if self.thread_path:
            last = repair(self.thread_path).rstrip("/").rsplit("/", 1)[-1]
            if last:
                return last
        if self.participants:
            return ", ".join(sorted(self.participants))
        return self.title or None


def _survey(json_text: _Json) -> _Thread:
    """Pass 1: the conversation's participants, thread path and title."""
    t = _Thread()
    try:
        for ev in json_text.events(keep_messages=False):
            if ev.kind == "messages":
                t.has_messages = True
            elif ev.kind == "value" and ev.key in (
                "participants",
                "thread_path",
                "title",
                "threadName",
            ):
                if ev.data is None:
                    continue
                try:
                    value, _ = _decode(ev.data)
                except (ValueError, RecursionError):
                    continue
                if ev.key == "participants" and isinstance(value, list):
                    names: dict[str, None] = {}
                    for p in value:
                        who = p.get("name") if isinstance(p, dict) else p
                        if isinstance(who, str) and who:
                            names.setdefault(repair(who), None)
                    t.participants = tuple(names)
                elif ev.key == "thread_path" and isinstance(value, str):
                    t.thread_path = value
                elif isinstance(value, str):
                    t.title = repair(value)
    except _Broken as exc:
        if exc.what in ("ends_early", "unexpected"):
            t.broken = exc  # pass 2 reads up to here and stops with the error
        else:
            raise
    return t


# --- pass 2: the items ----------------------------------------------------------------------------


def _flatten(value: Any, prefix: str, out: dict[str, str], depth: int = 0) -> None:
    """``value`` as raw text fields: nested keys joined with ".", list items numbered."""
    if isinstance(value, dict):
        if not value:
            out[prefix] = "{}"
        elif depth >= MAX_RAW_DEPTH:
            out[prefix] = json.dumps(value, ensure_ascii=False)
        else:
            for k, v in value.items():
                _flatten(v, f"{prefix}.{k}" if prefix else str(k), out, depth + 1)
    elif isinstance(value, list):
        if not value:
            out[prefix] = "[]"
        elif depth >= MAX_RAW_DEPTH:
            out[prefix] = json.dumps(value, ensure_ascii=False)
        else:
            for i, v in enumerate(value):
                _flatten(v, f"{prefix}.{i}", out, depth + 1)
    elif isinstance(value, str):
        out[prefix] = value
    elif value is True:
        out[prefix] = "true"
    elif value is False:
        out[prefix] = "false"
    elif value is None:
        out[prefix] = "null"
    else:  # not produced by the decoder, kept for safety
        out[prefix] = str(value)


_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)
_SECONDS_BELOW: Final = 10**11  # as milliseconds this is March 1973; as seconds, year 5138


def _when(written: object) -> tuple[datetime | None, bool]:
    """An epoch timestamp as written (a number's text) -> (the UTC time, whether it was read
    as seconds rather than milliseconds); None when it is not a usable time."""
    if not isinstance(written, str) or not written:
        return None, False
    text = written.strip()
    if text.isascii() and text.isdigit():
        value = int(text)
    else:
        try:
            number = Decimal(text)
        except InvalidOperation:
            return None, False
        if not number.is_finite() or number != number.to_integral_value():
            return None, False
        value = int(number)
    if value <= 0:
        return None, False
    seconds = value < _SECONDS_BELOW
    try:
        when = _EPOCH + (timedelta(seconds=value) if seconds else timedelta(milliseconds=value))
    except OverflowError:
        return None, False
    if when.year > 2200:
        return None, False
    return when, seconds


def _lower_has(text: str, words: tuple[str, ...]) -> bool:
    folded = text.casefold()
    return any(w in folded for w in words)


_EVENT: Final = re.compile("|".join(f"(?:{e})" for e in EVENTS), re.IGNORECASE | re.DOTALL)


def _event_text(text: str) -> bool:
    return len(text) < 500 and _EVENT.fullmatch(text.strip()) is not None


def _unsent_text(text: str) -> bool:
    """Whether a message's whole text is Meta's note that it was unsent."""
    if len(text) > 150:
        return False
    folded = text.casefold().strip().rstrip(".")
    return any(folded == u or folded.endswith(" " + u) for u in UNSENT)


def _as_bool(value: object) -> bool:
    return value is True or (isinstance(value, str) and value.lower() == "true")


def _as_int(value: object) -> int | None:
    if isinstance(value, str) and value.isascii() and value.isdigit():
        return int(value)
    return None


class _Reader:
    """Reads one conversation file: pass 1 (:func:`_survey`), then its items in file order."""

    def __init__(
        self, export: _Export, doc: _Doc, channel: str, context: Context, app: str
    ) -> None:
        self._export = export
        self._doc = doc
        self._channel = channel
        self._name = context.name
        self._app = app
        self._where = f" of {doc.path}" if doc.path else ""
        self._placeholders = 0
        self._seconds_warned = False

    def items(self) -> Iterator[Item | ImportWarning]:
        export, doc = self._export, self._doc
        with export.open(doc) as stream:
            try:
                thread = _survey(_Json(stream))
            except _READ_ERRORS as exc:
                raise _damaged_zip(self._name, doc.path) from exc
            except _Broken as exc:
                if doc.path:  # a file in a zip that is not a conversation after all
                    yield self._skipped(exc)
                    return
                raise self._error(exc) from None
        if not thread.has_messages:
            if thread.broken is not None:  # it stopped before its messages began
                if doc.path:
                    yield self._skipped(thread.broken)
                    return
                raise self._error(thread.broken)
            if doc.path:
                yield ImportWarning(
                    "not_a_conversation",
                    f"The file {doc.path} in this zip has no list of messages, so it was left out.",
                )
                return
            raise _format_error(
                "This file is JSON, but not a Messenger or Instagram conversation.",
                "A conversation file from a Meta download has a list of 'messages'; this one "
                "has none.",
                "Choose a message_1.json file from the download's messages folder, or the "
                ".zip file Meta gave you.",
                self._name,
            )
        self._thread = thread
        self._thread_id = thread.thread
        self._others = thread.participants if len(thread.participants) <= MAX_RECIPIENTS else ()
        with export.open(doc) as stream:
            scanner = _Json(stream)
            try:
                for ev in scanner.events(keep_messages=True):
                    if ev.kind != "message":
                        if ev.kind == "trailing":
                            yield ImportWarning(
                                "text_after_the_end",
                                f"There is more text after the end of the conversation, at "
                                f"line {ev.line}{self._where}. It is not part of any message, "
                                "so it was left out; the original file is unchanged.",
                                line=ev.line,
                                offset=ev.offset,
                            )
                        continue
                    yield from self._message(ev)
            except _READ_ERRORS as exc:
                raise _damaged_zip(self._name, doc.path) from exc
            except _Broken as exc:
                if doc.path:
                    yield ImportWarning(
                        "damaged_conversation",
                        _broken_error(exc, self._name, doc.path, self._app).message
                        + " The messages before that point were imported; the other "
                        "conversations in the zip are not affected.",
                        line=exc.line,
                        offset=exc.offset,
                    )
                    return
                raise self._error(exc) from None
        if self._placeholders:
            n = self._placeholders
            yield ImportWarning(
                "media_not_in_file",
                f"The messages in this file name {n} photo{'s' if n != 1 else ''}, video"
                f"{'s' if n != 1 else ''} or other file{'s' if n != 1 else ''}. Those files "
                "are kept in other folders of the download, not in this file, so they were "
                "not imported. To keep them in the diary too, import the whole .zip file Meta "
                "gave you instead of this file.",
            )

    def _error(self, exc: _Broken) -> ImportFormatError:
        return _broken_error(exc, self._name, self._doc.path, self._app)

    def _skipped(self, exc: _Broken) -> ImportWarning:
        why = {
            "empty": "it is empty",
            "encoding": "it is not text in the form Meta writes",
            "not_object": "it is not a conversation",
            "ends_early": f"it stops part of the way through, at line {exc.line}",
            "unexpected": f"it is damaged at line {exc.line}",
        }[exc.what]
        return ImportWarning(
            "not_a_conversation",
            f"The file {self._doc.path} in this zip could not be read as a conversation "
            f"({why}), so it was left out. The original zip is unchanged.",
            line=exc.line if exc.what != "empty" else None,
            offset=exc.offset if exc.what != "empty" else None,
        )

    def _warn(self, code: str, message: str, ev: _Event) -> ImportWarning:
        return ImportWarning(code, message, line=ev.line, offset=ev.offset)

    def _message(self, ev: _Event) -> Iterator[Item | ImportWarning]:
        at = f"line {ev.line}{self._where}"
        if ev.data is None:
            yield self._warn(
                "message_too_long",
                f"The message at {at} is longer than {MAX_RECORD >> 20} MiB, which no "
                "Messenger or Instagram message is, so it was left out. The original file "
                "is unchanged.",
                ev,
            )
            return
        try:
            obj, bad_bytes = _decode(ev.data)
        except (ValueError, RecursionError):
            yield self._warn(
                "unreadable_message",
                f"The message at {at} is damaged (it is not valid JSON), so it was left "
                "out. The rest of the file was read; the original file is unchanged.",
                ev,
            )
            return
        if not isinstance(obj, dict):
            yield self._warn(
                "unreadable_message",
                f"The entry at {at} in the list of messages is not a message, so it was left out.",
                ev,
            )
            return
        if bad_bytes:
            yield self._warn(
                "unreadable_characters",
                f"The message at {at} contains bytes that are not valid text. They are shown "
                "as \ufffd; the rest of the message is kept as written.",
                ev,
            )
        yield from self._item(obj, ev, at)

    def _item(self, obj: dict[str, Any], ev: _Event, at: str) -> Iterator[Item | ImportWarning]:
        raw: dict[str, str] = {}
        _flatten(obj, "", raw)
        time_key = "timestamp_ms" if "timestamp_ms" in obj else "timestamp"
        written_time = obj.get(time_key)
        sent_at, in_seconds = _when(written_time)
        if sent_at is None:
            yield self._warn(
                "bad_date",
                f"The message at {at} has no usable time, so it was kept without one.",
                ev,
            )
        elif in_seconds and not self._seconds_warned:
            self._seconds_warned = True
            yield self._warn(
                "time_in_seconds",
                f"The times in this file (from {at}) are written in seconds rather than "
                "milliseconds. Docket has read them as seconds.",
                ev,
            )
        local_time = written_time if isinstance(written_time, str) else ""

        sender_name = _fixed(obj.get("sender_name", obj.get("senderName")))
        sender = Party(sender_name, "name") if sender_name else None
        text = _fixed(obj.get("content", obj.get("text")))
        body = text or None
        kind_name = str(obj.get("type", "")).casefold()

        kind: Kind = "message"
        call_type: CallType | None = None
        duration: int | None = None
        flag = obj.get("is_unsent", obj.get("isUnsent"))
        deleted = _as_bool(flag)
        if body is not None and (deleted or flag is None) and _unsent_text(body):
            deleted = True
            body = None  # Meta's note, not what was written: it stays in raw
        if kind_name in CALL_TYPES:
            kind = "call"
            duration = _as_int(obj.get("call_duration", obj.get("callDuration")))
            missed = _as_bool(obj.get("missed")) or duration == 0
            if not missed and text and _lower_has(text, MISSED_CALL):
                missed = True
            call_type = "missed" if missed else "unknown"
        elif kind_name in SYSTEM_TYPES or (body is not None and _event_text(body)):
            kind = "system"

        share = obj.get("share")
        if body is None and not deleted and isinstance(share, dict):
            link = _fixed(share.get("link"))
            if link:
                body = link

        reactions = obj.get("reactions")
        if isinstance(reactions, list) and reactions:
            lines = []
            for r in reactions:
                if isinstance(r, dict):
                    what = _fixed(r.get("reaction")) or ""
                    who = _fixed(r.get("actor")) or ""
                    lines.append(f"{what} by {who}" if who else what)
            if lines:
                raw.setdefault("reactions", "\n".join(lines))

        attachments: list[Attachment] = []
        for key, value in obj.items():
            if key in MEDIA_LISTS and isinstance(value, list):
                entries = value
            elif key in MEDIA_ONE and isinstance(value, dict):
                entries = [value]
            else:
                continue
            for entry in entries:
                uri = entry.get("uri") if isinstance(entry, dict) else None
                if not isinstance(uri, str) or not uri.strip():
                    yield self._warn(
                        "unreadable_attachment",
                        f"The message at {at} names a file ({key}) without saying where it "
                        "is, so it is kept without it.",
                        ev,
                    )
                    continue
                attachment, warning = self._attachment(uri, at, ev)
                attachments.append(attachment)
                if warning is not None:
                    yield warning

        # where the message came from (kept beside, never over, the message's own fields)
        if self._doc.path:
            raw.setdefault("file", self._doc.path)
        if self._thread.thread_path is not None:
            raw.setdefault("thread_path", self._thread.thread_path)
        recipients = tuple(Party(p, "name") for p in self._others if p != sender_name)
        yield Item(
            kind=kind,
            channel=self._channel,
            direction="unknown",
            sender=sender,
            sent_at=sent_at,
            local_time=local_time,
            body=body,
            recipients=recipients,
            thread=self._thread_id,
            deleted=deleted,
            call_type=call_type,
            duration_s=duration,
            attachments=tuple(attachments),
            line=ev.line,
            offset=ev.offset,
            raw=raw,
        )

    def _attachment(self, uri: str, at: str, ev: _Event) -> tuple[Attachment, ImportWarning | None]:
        name = posixpath.basename(uri.strip().replace("\\", "/").rstrip("/")) or uri
        ext = name.rsplit(".", 1)[-1].lower() if "." in name else ""
        by_ext = EXTENSION_TYPES.get(ext)
        if uri.strip().lower().startswith(("http://", "https://")):
            return Attachment(name, by_ext, None, NOTE_LINK), None
        export = self._export
        if export.archive is None:
            self._placeholders += 1
            return Attachment(name, by_ext, None, NOTE_NOT_IN_EXPORT), None
        info = export.find(uri, self._doc)
        if info is None:
            return Attachment(name, by_ext, None, NOTE_NOT_IN_ZIP), self._warn(
                "missing_media",
                f"The file {name!r} that the message at {at} names is not in this zip, so "
                "the message is kept without it. Meta sometimes splits a large download into "
                "several zip files, and the file may be in another one.",
                ev,
            )
        return export.attachment(info, name, by_ext), None


# --- the importers ----------------------------------------------------------------------------

_INSTAGRAM_PATH: Final = re.compile(
    r"(?:^|/)(?:your_instagram_activity|followers_and_following|instagram_[a-z_]+)(?:/|$)"
)
_FACEBOOK_PATH: Final = re.compile(
    r"(?:^|/)(?:your_activity_across_facebook|your_facebook_activity|profile_information|"
    r"facebook_[a-z_]+)(?:/|$)"
)
_THREAD_FOLDER: Final = re.compile(
    r"(?:^|/)messages/(?:inbox|archived_threads|filtered_threads|message_requests|e2ee_cutover)/"
)
_OLD_INSTAGRAM: Final = re.compile(rb'^\s*\[\s*\{\s*"participants"\s*:.*"conversation"', re.DOTALL)


def _leaning(probe: Probe) -> str | None:
    """ "instagram" or "messenger" when the file says which app it came from."""
    name = probe.name.lower()
    if probe.zip_names:
        insta = sum(1 for n in probe.zip_names[:2000] if _INSTAGRAM_PATH.search(n))
        face = sum(1 for n in probe.zip_names[:2000] if _FACEBOOK_PATH.search(n))
        if insta > face:
            return "instagram"
        if face > insta:
            return "messenger"
    if "instagram" in name:
        return "instagram"
    if "facebook" in name or "messenger" in name:
        return "messenger"
    head = probe.head
    insta_links = head.count(b"instagram.com/")
    if insta_links >= 3 and head.count(b"facebook.com/") == 0:
        return "instagram"
    return None


def _shape_score(probe: Probe) -> float:
    """How sure the shape of the file makes us that it is a Meta message export."""
    if probe.zip_names:
        names = [n for n in probe.zip_names if not n.startswith("__MACOSX/")]
        if any(_MESSAGE_FILE.search(n) for n in names):
            return 0.95
        if any(
            n.lower().endswith(".json")
            and "messages" in n.split("/")[:-1]
            and posixpath.basename(n) not in METADATA_FILES
            for n in names
        ):
            return 0.6
        if any(_MESSAGE_HTML.search(n) for n in names):
            return 0.5  # ours to explain: the HTML download
        if any(_THREAD_FOLDER.search(n) for n in names):
            # a large download: the probe lists only its first names, all photos and such
            return 0.6
        return 0.0
    head = probe.head
    if head.startswith(b"PK"):
        return 0.0
    if meta_html(head):
        return 0.5  # ours to explain
    if head.startswith(_BOM):
        head = head[len(_BOM) :]
    if head.lstrip()[:1] != b"{":
        return 0.0
    sender = _SENDER_KEY.search(head) is not None
    timed = _TIME_KEY.search(head) is not None
    messages = _MESSAGES_KEY.search(head) is not None
    participants = _PARTICIPANTS_KEY.search(head) is not None
    if sender and timed and messages:
        return 0.95
    if sender and timed:
        return 0.8
    if messages and participants:
        return 0.6
    if participants and _NAME_KEY.search(head) is not None:
        return 0.5  # a large group: its participants fill the first bytes
    return 0.0


class _MetaImporter(Importer):
    """The reader both Meta importers share."""

    app: ClassVar[str]
    channel: ClassVar[str]

    def _lean_score(self, probe: Probe) -> float:
        shape = _shape_score(probe)
        if shape == 0.0:
            return 0.0
        lean = _leaning(probe)
        if lean == self.app:
            return shape
        if lean is None:
            return shape if self.app == "messenger" else round(shape - 0.1, 3)
        return round(shape - 0.2, 3)

    def parse(self, source: Source, context: Context) -> Iterator[Item | ImportWarning]:
        export = _Export(source, context.name, self.app)
        try:
            for doc in export.docs:
                yield from _Reader(export, doc, self.channel, context, self.app).items()
        finally:
            export.close()


class Messenger(_MetaImporter):
    """Facebook Messenger: "Download your information" JSON (a message_N.json file or the
    .zip), and the end-to-end-encrypted chat export."""

    name = "messenger"
    version = "1"
    label = "Facebook Messenger download (JSON)"
    app = "messenger"
    channel = "messenger"

    def score(self, probe: Probe) -> float:
        return self._lean_score(probe)


class Instagram(_MetaImporter):
    """Instagram direct messages: "Download your information" JSON (a message_N.json file or
    the .zip). The same schema as Messenger's."""

    name = "instagram"
    version = "1"
    label = "Instagram download (JSON)"
    app = "instagram"
    channel = "instagram"

    def score(self, probe: Probe) -> float:
        if not probe.zip_names and _OLD_INSTAGRAM.match(probe.head):
            return 0.5  # ours to explain: the download's shape before December 2020
        return self._lean_score(probe)

    def parse(self, source: Source, context: Context) -> Iterator[Item | ImportWarning]:
        with source.open() as f:
            head = f.read(PEEK_BYTES)
        if _OLD_INSTAGRAM.match(head.removeprefix(_BOM)):
            raise _format_error(
                "This is an Instagram download from before December 2020 (one messages.json "
                "file for every conversation), which Docket does not read.",
                "Instagram changed the layout of its download in December 2020; Docket reads "
                "the newer layout, with a message_1.json file for each conversation.",
                "Ask Instagram for a new download in the JSON format (in the app: your "
                "profile → ☰ → Accounts Centre → Your information and permissions → Download "
                "your information). Keep this file too: it is still a record.",
                context.name,
                1,
            )
        yield from super().parse(source, context)
