"""Reading a table (CSV or TSV) whose columns the person names: a call log or message list
exported by a phone app, or a spreadsheet they kept by hand.

One responsibility: turn the rows of one delimited text file into calls and messages, using
the mapping from field to column that the person gives (``Context.mapping``, from
``--map FIELD=COLUMN`` on the command line), in file order, without changing a character of
what was written. It never touches the diary.

The fields (see :data:`FIELDS`): ``datetime``, or ``date`` with an optional ``time``; ``from``,
``to`` and ``number`` (the other person, whichever way the call or message went); ``body``;
``type`` (call or message, and the call type: incoming, outgoing, missed, rejected, blocked,
voicemail, in the words phone apps and people use); ``direction``; ``duration``; ``channel``.
A column is named by its heading (exactly, else ignoring case and spaces) or by its number,
counting from 1.

How it reads a file:

* The first 64 KB decide the delimiter (comma, semicolon, tab or bar: the one that splits the
  first rows into the same number of columns, most of them), honouring Excel's ``sep=`` line.
  UTF-8 (with or without a byte order mark) and UTF-16 with a byte order mark are read; a line
  that is not UTF-8 is read as Windows-1252, the encoding Excel uses on Windows.
* Pass 1 reads the whole file once to learn whether its dates are day first or month first (a
  day over 12 anywhere decides; else the order of the rows; else ``Context.day_first``, else
  the region, with a warning). Pass 2 reads it again and yields items.
* Lines are read in bounded memory (a line over 1 MiB is cut, with a warning) and handed to
  Python's csv reader, so quoted cells may span lines; an item's ``line`` is the physical line
  where its row starts.
* Dates: ISO (``2024-01-31``), numeric day- or month-first with ``/ . -`` and two- or four-digit
  years, English month names (``31 Jan 2024``, ``Jan 31, 2024``, weekday optional), Unix
  seconds or milliseconds, Excel serial numbers. Times: 24-hour or 12-hour (``9:05 pm``,
  ``9.05pm``, ``9pm``), with or without seconds, optionally with ``Z``, ``UTC``, ``GMT`` or a
  numeric offset. A time without an offset is a wall-clock time in ``Context.timezone``; an
  hour when the clocks changed is flagged "ambiguous" or "nonexistent". A row with a date but
  no time is kept without a time (``sent_at`` None) and says so.
* ``raw`` keeps every cell of the row under its column heading, exactly as written.
"""

from __future__ import annotations

import codecs
import csv
import re
import shlex
from collections.abc import Generator, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
from typing import IO, Final, Literal
from zoneinfo import ZoneInfo

from docket.errors import ImportFormatError, Location
from docket.importers.base import (
    PROBE_BYTES,
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
from docket.model.timeparse import zone

# --- limits -----------------------------------------------------------------------------------

BLOCK: Final = 1 << 20  # bytes read at a time
MAX_LINE: Final = 1 << 20  # bytes; a longer line is cut
MAX_TYPE_WARNINGS: Final = 20  # different unknown "type" words reported
MAX_COLUMNS_SHOWN: Final = 40
MIN_YEAR, MAX_YEAR = 1900, 2200  # a date outside these years is a mistake, not a date

# --- the fields a person can map ------------------------------------------------------------------

FIELDS: Final[dict[str, str]] = {
    "datetime": "the date and time together in one column",
    "date": "the date (with 'time' for the time, if it is in a column of its own)",
    "time": "the time of day, when it is in a column of its own",
    "from": "who sent the message or made the call",
    "to": "who it was sent to or who was called (several separated by ';')",
    "number": "the other person's number or name, whichever way the call or message went",
    "body": "the message text, or your notes about a call",
    "type": "call or message, and the kind of call (incoming, outgoing, missed, ...)",
    "direction": "incoming or outgoing (received or sent)",
    "duration": "how long a call lasted (seconds, 1:02:03, or '3 min')",
    "channel": "how it came: SMS, WhatsApp, phone, e-mail, ...",
}
ALIASES: Final[dict[str, str]] = {
    "kind": "type",
    "text": "body",
    "message": "body",
    "notes": "body",
    "sender": "from",
    "recipient": "to",
    "recipients": "to",
    "contact": "number",
    "other": "number",
    "phone": "number",
    "timestamp": "datetime",
    "when": "datetime",
}

# --- words for call and message types -------------------------------------------------------------
#
# Compared in small letters, word by word. English only, as written by Android and iPhone
# call-log exports and by people in spreadsheets; add words here.

CALL_TYPE_WORDS: Final[dict[str, CallType]] = {
    "missed": "missed",
    "unanswered": "missed",
    "rejected": "rejected",
    "declined": "rejected",
    "refused": "rejected",
    "blocked": "blocked",
    "voicemail": "voicemail",
    "voicemails": "voicemail",
}
CALL_TYPE_PHRASES: Final[dict[str, CallType]] = {
    "no answer": "missed",
    "not answered": "missed",
    "voice mail": "voicemail",
    "voice message": "voicemail",
}
INCOMING_WORDS: Final = frozenset(
    {"incoming", "inbound", "received", "receive", "in", "answered", "inbox", "from"}
)
OUTGOING_WORDS: Final = frozenset(
    {
        "outgoing",
        "outbound",
        "dialled",
        "dialed",
        "made",
        "placed",
        "sent",
        "out",
        "outbox",
        "cancelled",
        "canceled",
        "to",
    }
)
MESSAGE_WORDS: Final = frozenset(
    {"sms", "mms", "text", "texts", "message", "messages", "msg", "imessage", "rcs", "chat"}
    | {"inbox", "outbox", "sent", "email", "e-mail", "dm"}
)
CALL_WORDS: Final = frozenset(
    {"call", "calls", "phone", "phoned", "voice", "video", "facetime", "ring", "rang", "dialled"}
    | {"dialed", "answered", "cancelled", "canceled"}
)
CHANNEL_WORDS: Final[dict[str, str]] = {
    "sms": "sms",
    "text": "sms",
    "texts": "sms",
    "mms": "mms",
    "imessage": "imessage",
    "whatsapp": "whatsapp",
    "facetime": "facetime",
    "signal": "signal",
    "telegram": "telegram",
    "messenger": "messenger",
    "facebook": "messenger",
    "instagram": "instagram",
    "snapchat": "snapchat",
    "discord": "discord",
    "email": "email",
    "e-mail": "email",
    "mail": "email",
    "phone": "phone",
    "mobile": "phone",
    "landline": "phone",
    "call": "phone",
    "skype": "skype",
}
# Android's numeric codes: CallLog.Calls.TYPE, and the SMS provider's TYPE (inbox, sent, ...).
ANDROID_CALL_CODES: Final[dict[str, tuple[CallType, Direction]]] = {
    "1": ("incoming", "incoming"),
    "2": ("outgoing", "outgoing"),
    "3": ("missed", "incoming"),
    "4": ("voicemail", "incoming"),
    "5": ("rejected", "incoming"),
    "6": ("blocked", "incoming"),
    "7": ("incoming", "incoming"),  # answered on another device
}
ANDROID_SMS_CODES: Final[dict[str, Direction]] = {
    "1": "incoming",
    "2": "outgoing",
    "3": "outgoing",
    "4": "outgoing",
    "5": "outgoing",
    "6": "outgoing",
}
WITHHELD: Final = frozenset(
    {
        "withheld",
        "number withheld",
        "caller id withheld",
        "private",
        "private number",
        "unknown",
        "unknown number",
        "unknown caller",
        "no caller id",
        "restricted",
        "anonymous",
        "hidden",
        "unavailable",
        "-1",
        "-2",
        "-3",
    }
)
# Regions whose phones and spreadsheets write dates month first.
MONTH_FIRST_REGIONS: Final = frozenset({"US", "PH", "FM", "MH", "PW", "GU", "AS", "MP", "PR", "VI"})
MONTHS: Final[dict[str, int]] = {
    name: i + 1
    for i, names in enumerate(
        [
            ("jan", "january"),
            ("feb", "february"),
            ("mar", "march"),
            ("apr", "april"),
            ("may",),
            ("jun", "june"),
            ("jul", "july"),
            ("aug", "august"),
            ("sep", "sept", "september"),
            ("oct", "october"),
            ("nov", "november"),
            ("dec", "december"),
        ]
    )
    for name in names
}

# --- the grammar of dates, times and durations ----------------------------------------------------

_WEEKDAY = r"(?:(?:mon|tue|tues|wed|thu|thur|thurs|fri|sat|sun)[a-z]*\.?,?\s+)?"
_DATE_ISO = re.compile(_WEEKDAY + r"(?P<y>\d{4})[-/.](?P<mo>\d{1,2})[-/.](?P<d>\d{1,2})", re.I)
_DATE_BASIC = re.compile(r"(?P<y>(?:19|20)\d\d)(?P<mo>[01]\d)(?P<d>[0-3]\d)(?=T|\s|$)")
_DATE_NUM = re.compile(
    _WEEKDAY + r"(?P<a>\d{1,2})(?P<sep>[-/.])(?P<b>\d{1,2})(?P=sep)(?P<y>\d{4}|\d{2})(?!\d)\.?",
    re.I,
)
_DATE_DMY_NAME = re.compile(
    _WEEKDAY + r"(?P<d>\d{1,2})(?:st|nd|rd|th)?[\s\-/.]*(?P<mon>[a-z]{3,9})\.?,?[\s\-/.]*"
    r"(?P<y>\d{4}|\d{2})(?!\d)",
    re.I,
)
_DATE_MDY_NAME = re.compile(
    _WEEKDAY + r"(?P<mon>[a-z]{3,9})\.?[\s\-]+(?P<d>\d{1,2})(?:st|nd|rd|th)?,?[\s\-]+"
    r"(?P<y>\d{4})(?!\d)",
    re.I,
)
_CONNECTOR = re.compile(r"(?:\s*,\s*|\s+at\s+|\s*T\s*|\s+-\s+|\s+)", re.I)
_TIME = re.compile(
    r"(?P<h>\d{1,2})(?:[:.h](?P<m>\d{2})(?:[:.](?P<s>\d{2})(?:[.,]\d{1,9})?)?)?"
    r"(?:\s*(?P<ap>[ap])\.?\s?m\.?)?",
    re.I,
)
_TIME_COMPACT = re.compile(r"(?P<h>[01]\d|2[0-3])(?P<m>[0-5]\d)(?P<s>[0-5]\d)?(?!\d)")
_ZONE = re.compile(
    r"\s*(?:(?P<name>Z|UTC|GMT)?\s*(?:(?P<sign>[+-])(?P<oh>\d{1,2})(?::?(?P<om>\d{2}))?)?)\s*",
    re.I,
)
_FAST_ISO = re.compile(r"(\d{4})-(\d\d)-(\d\d)[ T](\d\d):(\d\d)(?::(\d\d))?")
_EPOCH = re.compile(r"(?P<n>\d{10}|\d{13})(?:\.\d+)?")
_SERIAL = re.compile(r"(?P<n>\d{5}(?:\.\d+)?)")
_FRACTION = re.compile(r"0?\.\d+")
_DURATION_CLOCK = re.compile(r"(?:(?P<h>\d+):)?(?P<m>\d+):(?P<s>\d{2})(?:[.,]\d+)?")
_DURATION_NUMBER = re.compile(r"\d+(?:[.,]\d+)?")
_DURATION_UNIT = re.compile(
    r"(?P<n>\d+(?:[.,]\d+)?)\s*(?P<u>hours?|hrs?|h|minutes?|mins?|m|seconds?|secs?|s)\b", re.I
)
_DURATION_GLUE = re.compile(r"[\s,]*(?:and)?[\s,]*", re.I)
_UNIT_SECONDS: Final = {"h": 3600, "m": 60, "s": 1}

_PHONE = re.compile(r"\+?[\d\s().\-\u00a0/]+")
_SCIENTIFIC = re.compile(r"[+-]?\d(?:[.,]\d+)?[eE]\+?\d{1,3}")
_EMAIL = re.compile(r"[^\s@<>]+@[^\s@<>]+\.[^\s@<>]+")
_WORD = re.compile(r"[a-z]+(?:-[a-z]+)?")
_EOL = re.compile(r"\r\n|\r|\n")
_LINE_TEXT = re.compile(r"[^\r\n]*(?:\r\n|\r|\n)|[^\r\n]+$")
_LINE_BYTES = re.compile(rb"[^\r\n]*(?:\r\n|\r|\n)|[^\r\n]+$")
_SEP_LINE = re.compile(r'"?sep=(.)"?', re.I)


@dataclass(frozen=True)
class When:
    """A date and time read from a cell: a naive wall-clock time, or an exact instant."""

    naive: datetime | None = None  # local wall-clock time (or the date, when not has_time)
    instant: datetime | None = None  # aware, when the text said the zone or was epoch time
    has_time: bool = True


@dataclass(frozen=True)
class _NumericDate:
    a: int
    b: int
    y: int


class _Bad(Exception):
    """A cell that is not what its field needs."""


def _year(text: str) -> int:
    y = int(text)
    if len(text) == 2:
        y += 2000 if y < 70 else 1900
    return y


def _month_name(text: str) -> int:
    found = MONTHS.get(text.lower())
    if found is None:
        raise _Bad(f"{text!r} is not a month")
    return found


def _match_date(text: str) -> tuple[date | _NumericDate, str]:
    """The date at the start of ``text`` and what follows it."""
    for pattern in (_DATE_ISO, _DATE_BASIC):
        m = pattern.match(text)
        if m:
            try:
                return date(int(m["y"]), int(m["mo"]), int(m["d"])), text[m.end() :]
            except ValueError as exc:
                raise _Bad("not a date in the calendar") from exc
    m = _DATE_NUM.match(text)
    if m:
        return _NumericDate(int(m["a"]), int(m["b"]), _year(m["y"])), text[m.end() :]
    for pattern in (_DATE_DMY_NAME, _DATE_MDY_NAME):
        m = pattern.match(text)
        if m and m["mon"].lower() in MONTHS:
            try:
                return date(_year(m["y"]), _month_name(m["mon"]), int(m["d"])), text[m.end() :]
            except ValueError as exc:
                raise _Bad("not a date in the calendar") from exc
    raise _Bad("not a date")


def numeric_fields(text: str) -> _NumericDate | None:
    """The two small fields of a numeric date such as 03/04/2024, for inferring the order."""
    m = _DATE_NUM.match(text.strip())
    if m is None:
        return None
    return _NumericDate(int(m["a"]), int(m["b"]), _year(m["y"]))


def _resolve(d: date | _NumericDate, day_first: bool) -> date:
    if isinstance(d, date):
        return d
    day, month = (d.a, d.b) if day_first else (d.b, d.a)
    try:
        return date(d.y, month, day)
    except ValueError as exc:
        order = "day first" if day_first else "month first"
        raise _Bad(f"not a date in the calendar when read {order}") from exc


def _match_time(text: str) -> tuple[tuple[int, int, int], str]:
    """A time of day at the start of ``text``: (hour, minute, second) and what follows."""
    m = _TIME.match(text)
    if m is None or (m["m"] is None and m["ap"] is None):
        m = _TIME_COMPACT.match(text)  # 2105 or 210512, as in 20240131T210512
        if m is None:
            raise _Bad("not a time")
        return (int(m["h"]), int(m["m"]), int(m["s"] or 0)), text[m.end() :]
    h, mi, s = int(m["h"]), int(m["m"] or 0), int(m["s"] or 0)
    if m["ap"]:
        if not 1 <= h <= 12:
            raise _Bad("not an hour on a 12-hour clock")
        h = h % 12 + (12 if m["ap"].lower() == "p" else 0)
    if h > 23 or mi > 59 or s > 59:
        raise _Bad("not a time of day")
    return (h, mi, s), text[m.end() :]


def _match_zone(text: str) -> timedelta | None:
    """The zone at the end of a date and time: None when there is none."""
    m = _ZONE.fullmatch(text)
    if m is None:
        raise _Bad("has something after the time that is not a time zone")
    if m["sign"]:
        hours, minutes = int(m["oh"]), int(m["om"] or 0)
        if hours > 14 or minutes > 59:
            raise _Bad("has a time zone offset that does not exist")
        delta = timedelta(hours=hours, minutes=minutes)
        return -delta if m["sign"] == "-" else delta
    if m["name"]:
        return timedelta(0)
    return None


def _instant(naive: datetime, offset: timedelta) -> datetime:
    if not MIN_YEAR <= naive.year <= MAX_YEAR:
        raise _Bad(f"in the year {naive.year}, which cannot be right")
    return (naive - offset).replace(tzinfo=UTC)


def parse_datetime(text: str, day_first: bool) -> When | None:
    """A date with an optional time. None for an empty cell; raises :class:`_Bad`."""
    when = _parse_datetime(text, day_first)
    if when is not None:
        moment = when.instant or when.naive
        if moment is not None and not MIN_YEAR <= moment.year <= MAX_YEAR:
            raise _Bad(f"in the year {moment.year}, which cannot be right")
    return when


def _parse_datetime(text: str, day_first: bool) -> When | None:
    s = text.strip()
    if not s:
        return None
    m = _FAST_ISO.fullmatch(s)
    if m:  # the commonest shape, read without trying the others
        try:
            y, mo, d, h, mi, sec = (int(g) for g in m.groups(default="0"))
            naive = datetime(y, mo, d, h, mi, sec)
        except ValueError as exc:
            raise _Bad("not a date in the calendar") from exc
        return When(naive=naive)
    m = _EPOCH.fullmatch(s)
    if m:
        n = int(m["n"])
        seconds = n / 1000 if len(m["n"]) == 13 else n
        return When(instant=datetime.fromtimestamp(int(seconds), UTC))
    m = _SERIAL.fullmatch(s)
    if m:
        serial = float(m["n"])
        if not 20_000 <= serial < 80_000:
            raise _Bad("a number that is not a date")
        moment = datetime(1899, 12, 30) + timedelta(seconds=round(serial * 86400))
        return When(naive=moment, has_time="." in m["n"])
    found, rest = _match_date(s)
    day = _resolve(found, day_first)
    rest_stripped = rest.strip()
    if not rest_stripped:
        return When(naive=datetime(day.year, day.month, day.day), has_time=False)
    c = _CONNECTOR.match(rest)
    after = rest[c.end() :] if c else rest
    (h, mi, sec), tail = _match_time(after)
    offset = _match_zone(tail)
    naive = datetime(day.year, day.month, day.day, h, mi, sec)
    if offset is not None:
        return When(instant=_instant(naive, offset))
    return When(naive=naive)


def parse_time(text: str) -> tuple[tuple[int, int, int], timedelta | None] | None:
    """A time of day in a column of its own, with its zone if it gives one."""
    s = text.strip()
    if not s:
        return None
    if _FRACTION.fullmatch(s):  # Excel's fraction of a day
        seconds = round(float(s) * 86400)
        if seconds >= 86400:
            raise _Bad("not a time of day")
        return (seconds // 3600, seconds // 60 % 60, seconds % 60), None
    hms, tail = _match_time(s)
    return hms, _match_zone(tail)


@lru_cache(maxsize=4096)
def parse_duration(text: str) -> int | None:
    """Seconds: "125", "2:05" (minutes and seconds), "1:02:05", "3 min", "1h 2m 3s"."""
    s = text.strip().lower()
    if not s:
        return None
    if _DURATION_NUMBER.fullmatch(s):
        return round(float(s.replace(",", ".")))
    m = _DURATION_CLOCK.fullmatch(s)
    if m:
        h, mi, sec = int(m["h"] or 0), int(m["m"]), int(m["s"])
        if sec > 59 or (m["h"] is not None and mi > 59):
            raise _Bad("not a length of time")
        return h * 3600 + mi * 60 + sec
    total = 0.0
    pos = 0
    found = False
    for u in _DURATION_UNIT.finditer(s):
        if not _DURATION_GLUE.fullmatch(s[pos : u.start()]):
            raise _Bad("not a length of time")
        total += float(u["n"].replace(",", ".")) * _UNIT_SECONDS[u["u"][0]]
        pos = u.end()
        found = True
    if not found or not _DURATION_GLUE.fullmatch(s[pos:]):
        raise _Bad("not a length of time")
    return round(total)


@lru_cache(maxsize=8192)
def party(text: str) -> Party | None:
    """Who a cell names, and what kind of name it is (the text kept exactly)."""
    s = text.strip()
    if not s:
        return None
    if s.lower() in WITHHELD:
        return Party(text, "withheld")
    if _EMAIL.fullmatch(s):
        return Party(text, "email")
    if _PHONE.fullmatch(s) and not _SCIENTIFIC.fullmatch(s):
        digits = sum(ch.isdigit() for ch in s)
        if 3 <= digits <= 17:
            return Party(text, "phone")
    return Party(text, "name")


@lru_cache(maxsize=1024)
def channel_name(text: str) -> str | None:
    s = " ".join(text.strip().lower().split())
    if not s:
        return None
    if s in CHANNEL_WORDS:
        return CHANNEL_WORDS[s]
    for word in _WORD.findall(s):
        if word in CHANNEL_WORDS:
            return CHANNEL_WORDS[word]
    slug = re.sub(r"[^a-z0-9]+", "-", s).strip("-")
    return slug[:32] or None


@dataclass(frozen=True)
class Reading:
    """What a "type" or "direction" cell says."""

    kind: Literal["call", "message"] | None = None
    call_type: CallType | None = None
    direction: Direction | None = None
    channel: str | None = None
    known: bool = False  # some word in it was recognised
    code: str | None = None  # an Android numeric code, read once the kind is known


@lru_cache(maxsize=2048)
def read_words(text: str) -> Reading:
    """Call or message, call type, direction and channel, from words such as "Missed call",
    "INCOMING", "Outgoing FaceTime Audio", "SMS received" or an Android numeric code."""
    s = " ".join(text.strip().lower().split())
    if not s:
        return Reading()
    if s in ANDROID_CALL_CODES:
        return Reading(known=True, code=s)
    words = _WORD.findall(s)
    call_type: CallType | None = None
    for phrase, ct in CALL_TYPE_PHRASES.items():
        if phrase in s:
            call_type = ct
    for w in words:
        if w in CALL_TYPE_WORDS:
            call_type = CALL_TYPE_WORDS[w]
    incoming = any(w in INCOMING_WORDS for w in words)
    outgoing = any(w in OUTGOING_WORDS for w in words)
    direction: Direction | None = None
    if call_type is not None:
        direction = "incoming"
    elif incoming != outgoing:
        direction = "incoming" if incoming else "outgoing"
    message = any(w in MESSAGE_WORDS for w in words)
    call = any(w in CALL_WORDS for w in words)
    kind: Literal["call", "message"] | None = None
    if call_type is not None or (call and not message):
        kind = "call"
    elif message:
        kind = "message"
    channel = next((CHANNEL_WORDS[w] for w in words if w in CHANNEL_WORDS), None)
    if channel == "phone" and kind == "message":
        channel = None
    known = bool(call_type or direction or kind or channel)
    return Reading(kind, call_type, direction, channel, known)


# --- reading lines and records --------------------------------------------------------------------


class _Lines:
    """The file's physical lines as text, line ends kept, in bounded memory. A line that is not
    UTF-8 is read as Windows-1252 (UTF-16 files, recognised by their byte order mark, are
    decoded as such)."""

    def __init__(self, stream: IO[bytes], utf16: str | None) -> None:
        self._stream = stream
        self._utf16 = utf16
        self.count = 0
        self.not_utf8: list[int] = []  # lines read as Windows-1252 (first 1000)
        self.not_utf8_total = 0
        self.utf8_non_ascii = 0
        self.cut: list[int] = []

    def __iter__(self) -> Iterator[str]:
        if self._utf16 is not None:
            yield from self._text_lines()
        else:
            yield from self._byte_lines()

    def _byte_lines(self) -> Iterator[str]:
        """Whole lines, a block at a time: each block of complete lines is decoded at once,
        and line by line only when it is not all UTF-8."""
        read = self._stream.read
        carry = b""
        first = True
        skipping = False
        while True:
            chunk = read(BLOCK)
            if first:
                first = False
                chunk = chunk.removeprefix(codecs.BOM_UTF8)
            data = carry + chunk if carry else chunk
            if chunk:
                end = max(data.rfind(b"\n"), data.rfind(b"\r"))
                if end == len(data) - 1 and data[end] == 0x0D:  # perhaps half of "\r\n"
                    end = max(data.rfind(b"\n", 0, end), data.rfind(b"\r", 0, end))
                complete, carry = data[: end + 1], data[end + 1 :]
            else:
                complete, carry = data, b""
            if complete:
                lines = self._split(complete)
                if skipping and lines:
                    lines = lines[1:]  # the rest of a line already cut
                skipping = False
                if len(complete) > MAX_LINE:
                    lines = [self._cut(line, i) for i, line in enumerate(lines)]
                self.count += len(lines)
                yield from lines
            if len(carry) > MAX_LINE:
                if not skipping:
                    self.count += 1
                    self.cut.append(self.count)
                    yield self._decode_one(carry[:MAX_LINE] + b"\n", self.count)
                    skipping = True
                carry = b""
            if not chunk:
                return

    def _split(self, block: bytes) -> list[str]:
        try:
            text = block.decode("utf-8")
        except UnicodeDecodeError:
            return [
                self._decode_one(line, self.count + i + 1)
                for i, line in enumerate(_LINE_BYTES.findall(block))
            ]
        if not block.isascii():
            self.utf8_non_ascii += 1
        return _LINE_TEXT.findall(text)

    def _cut(self, line: str, i: int) -> str:
        if len(line) <= MAX_LINE:
            return line
        self.cut.append(self.count + i + 1)
        return line[:MAX_LINE] + "\n"

    def _decode_one(self, line: bytes, number: int) -> str:
        try:
            text = line.decode("utf-8")
        except UnicodeDecodeError:
            self.not_utf8_total += 1
            if len(self.not_utf8) < 1000:
                self.not_utf8.append(number)
            return line.decode("cp1252", "replace")
        if not line.isascii():
            self.utf8_non_ascii += 1
        return text

    def _text_lines(self) -> Iterator[str]:
        decoder = codecs.getincrementaldecoder(self._utf16 or "utf-16")("replace")
        read = self._stream.read
        carry = ""
        first = True
        skipping = False
        while True:
            chunk = read(BLOCK)
            text = decoder.decode(chunk, final=not chunk)
            if first:
                first = False
                text = text.removeprefix("\ufeff")
            data = carry + text
            pos = 0
            for m in _EOL.finditer(data):
                if chunk and m.end() == len(data) and m.group() == "\r":
                    break  # perhaps the first half of "\r\n"
                line = data[pos : m.end()]
                pos = m.end()
                if skipping:
                    skipping = False
                    continue
                self.count += 1
                if len(line) > MAX_LINE:
                    self.cut.append(self.count)
                    line = line[:MAX_LINE] + "\n"
                yield line
            carry = data[pos:]
            if len(carry) > MAX_LINE:
                if not skipping:
                    self.count += 1
                    self.cut.append(self.count)
                    yield carry[:MAX_LINE] + "\n"
                    skipping = True
                carry = ""
            if not chunk:
                if carry and not skipping:
                    self.count += 1
                    yield carry
                return


@dataclass
class _Record:
    line: int
    cells: list[str]
    error: str | None = None


class _Table:
    """One delimited text file: its dialect, and its records with their first lines."""

    def __init__(self, source: Source, name: str) -> None:
        self.source = source
        self.name = name
        with source.open() as f:
            head = f.read(PROBE_BYTES)
        if not head:
            raise _format_error(
                "This file is empty, so there is nothing to import.",
                "The export or the copy may not have finished, or a different file was chosen.",
                "Check that you chose the right file and that it finished copying.",
                name,
            )
        self.utf16: str | None = None
        if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
            self.utf16 = "utf-16"
            sample = head.decode("utf-16", "replace")
        else:
            if b"\x00" in head[:4096]:
                raise _format_error(
                    "This file is not a table of text (CSV), so Docket cannot read it as one.",
                    "It contains bytes that never appear in text: it may be a spreadsheet in "
                    "Excel's own format (.xlsx or .xls), or another kind of file.",
                    "Open it in a spreadsheet program and save it as 'CSV UTF-8', then import "
                    "that file.",
                    name,
                    1,
                )
            sample = head.removeprefix(codecs.BOM_UTF8).decode("utf-8", "replace")
        if len(head) == PROBE_BYTES:  # cut by the sample: drop the partial last line
            sample = sample[: max(sample.rfind("\n"), 0)] or sample
        self.sep_line = False
        self.delimiter = _delimiter(sample, name)
        first = sample.split("\n", 1)[0].strip("\r\ufeff ")
        m = _SEP_LINE.fullmatch(first)
        if m:
            self.sep_line = True
            self.delimiter = m.group(1)
        self.lines: _Lines | None = None

    def records(self) -> Generator[_Record, None, None]:
        """Every non-empty record, with the line it starts on."""
        with self.source.open() as f:
            lines = _Lines(f, self.utf16)
            self.lines = lines
            reader = csv.reader(iter(lines), delimiter=self.delimiter, strict=False)
            previous = 0
            skip_sep = self.sep_line
            while True:
                try:
                    cells = next(reader)
                except StopIteration:
                    return
                except csv.Error as exc:
                    start = previous + 1
                    previous = reader.line_num
                    yield _Record(start, [], str(exc))
                    continue
                start = previous + 1
                previous = reader.line_num
                if skip_sep:
                    skip_sep = False
                    continue
                if not cells or not any(c.strip() for c in cells):
                    continue
                yield _Record(start, cells)


def _delimiter(sample: str, name: str) -> str:
    """The delimiter that splits the first rows into the same number of columns (most of
    them); a tab first for a .tsv file."""
    lines = [x for x in _EOL.split(sample) if x.strip()][:60]
    if lines and _SEP_LINE.fullmatch(lines[0].strip()):
        lines = lines[1:]
    order = ["\t", ",", ";", "|"] if name.lower().endswith(".tsv") else [",", ";", "\t", "|"]
    candidates: list[tuple[float, int, int, str]] = []
    for rank, d in enumerate(order):
        try:
            rows = [r for r in csv.reader(lines, delimiter=d, strict=False) if r]
        except csv.Error:
            continue
        if not rows or len(rows[0]) < 2:
            continue
        width = len(rows[0])
        same = sum(1 for r in rows if len(r) == width) / len(rows)
        candidates.append((same, min(width, 50), -rank, d))
    return max(candidates)[3] if candidates else order[0]


# --- errors ---------------------------------------------------------------------------------------


def _format_error(
    message: str,
    cause: str,
    hint: str,
    name: str,
    line: int | None = None,
    details: dict[str, object] | None = None,
) -> ImportFormatError:
    return ImportFormatError(
        message,
        cause=cause,
        hint=hint,
        location=Location(file=name or None, line=line),
        details=details,
    )


# --- the mapping ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Columns:
    """The header, and which column index each mapped field reads."""

    header: list[str]
    keys: list[str]  # raw keys: headings, made unique
    index: dict[str, int]


def _keys(header: list[str]) -> list[str]:
    keys: list[str] = []
    seen: dict[str, int] = {}
    for i, h in enumerate(header):
        key = h if h.strip() else f"column {i + 1}"
        if key in seen:
            seen[key] += 1
            key = f"{key} ({seen[key]})"
        seen.setdefault(key, 1)
        keys.append(key)
    return keys


def _norm(text: str) -> str:
    return "".join(text.lower().split())


def _example(header: list[str], file_name: str) -> str:
    """A --map command suggested from the headings."""
    guesses: dict[str, str] = {}
    hints = (
        ("datetime", ("datetime", "timestamp", "dateandtime", "date/time", "datetime(utc)")),
        ("date", ("date", "day", "datum", "callday")),
        ("time", ("time", "hour", "calltime")),
        ("from", ("from", "sender", "caller", "author")),
        ("to", ("to", "recipient", "recipients")),
        ("number", ("number", "phone", "phonenumber", "contact", "name", "address")),
        ("body", ("body", "message", "text", "notes", "note", "content", "what")),
        ("type", ("type", "calltype", "kind", "event", "status")),
        ("direction", ("direction", "folder")),
        ("duration", ("duration", "length", "durations", "duration(s)", "seconds")),
        ("channel", ("channel", "app", "service", "via")),
    )
    used: set[str] = set()
    for fld, words in hints:
        for h in header:
            if h in used or not h.strip():
                continue
            n = _norm(h)
            if n in words or any(w in n for w in words if len(w) > 3):
                guesses[fld] = h
                used.add(h)
                break
    if "datetime" in guesses and "date" in guesses:
        del guesses["date"]
    if "date" not in guesses and "datetime" not in guesses and header:
        guesses = {"date": header[0], **guesses}
    if "from" in guesses and "number" in guesses:
        del guesses["number"]
    parts = ["docket", "import", shlex.quote(file_name or "file.csv"), "--format", "csv"]
    for fld, h in guesses.items():
        if "time" in guesses and fld == "datetime":
            continue
        parts += ["--map", shlex.quote(f"{fld}={h}")]
    return " ".join(parts)


def _columns(
    header: list[str], mapping: tuple[tuple[str, str], ...], name: str, line: int
) -> tuple[_Columns, dict[str, str]]:
    """Match the mapping to the header; refuse a mapping that cannot work."""
    shown = ", ".join(f"'{h}'" for h in header[:MAX_COLUMNS_SHOWN])
    if len(header) > MAX_COLUMNS_SHOWN:
        shown += f" and {len(header) - MAX_COLUMNS_SHOWN} more"
    details: dict[str, object] = {"columns": header[:200]}
    fields_list = ", ".join(FIELDS)
    if not mapping:
        raise _format_error(
            "Docket needs to be told which column of this table holds what.",
            f"A CSV file can hold anything, so Docket does not guess. This one's columns are: "
            f"{shown}.",
            "Import it again and name the columns with --map FIELD=COLUMN, for example:\n  "
            + _example(header, name)
            + f"\nThe fields are: {fields_list}. See 'docs/formats/csv.md'.",
            name,
            line,
            details,
        )
    chosen: dict[str, str] = {}
    for given, column in mapping:
        fld = ALIASES.get(given.strip().lower(), given.strip().lower())
        if fld not in FIELDS:
            raise _format_error(
                f"'{given}' is not a field Docket can fill from a column.",
                f"The fields are: {fields_list}.",
                "Check the spelling of each --map FIELD=COLUMN, for example --map date=Date.",
                name,
            )
        if fld in chosen:
            raise _format_error(
                f"The field '{fld}' is given twice in --map.",
                "Each field can be filled from one column only.",
                "Give each field once.",
                name,
            )
        chosen[fld] = column
    if "datetime" in chosen and ("date" in chosen or "time" in chosen):
        raise _format_error(
            "Both 'datetime' and 'date' or 'time' are mapped.",
            "'datetime' is for a column holding both the date and the time; 'date' and "
            "'time' are for two separate columns.",
            "Map either datetime=COLUMN, or date=COLUMN (with time=COLUMN if there is one).",
            name,
        )
    if "datetime" not in chosen and "date" not in chosen:
        raise _format_error(
            "No column is mapped to the date.",
            "Every row needs a date for Docket to place it in the timeline.",
            "Add --map datetime=COLUMN, or --map date=COLUMN --map time=COLUMN. For example:\n  "
            + _example(header, name),
            name,
        )
    if not any(f in chosen for f in ("from", "to", "number", "body", "type")):
        raise _format_error(
            "Only dates are mapped, so the rows would say nothing.",
            "Docket needs at least one of: from, to, number, body, type.",
            "Add the columns that say who and what, for example:\n  " + _example(header, name),
            name,
        )
    index: dict[str, int] = {}
    stripped = [h.strip() for h in header]
    normed = [_norm(h) for h in header]
    for fld, column in chosen.items():
        want = column.strip()
        if want in header:
            index[fld] = header.index(want)
        elif want in stripped:
            index[fld] = stripped.index(want)
        elif _norm(want) in normed and _norm(want):
            index[fld] = normed.index(_norm(want))
        elif want.isdigit() and 1 <= int(want) <= len(header):
            index[fld] = int(want) - 1
        else:
            raise _format_error(
                f"This table has no column called '{column}' (mapped to '{fld}').",
                f"Its columns are: {shown}.",
                "Use a column's name exactly as it is in the first row, or its number counting "
                "from 1. For example:\n  " + _example(header, name),
                name,
                line,
                details,
            )
    return _Columns(header, _keys(header), index), chosen


# --- pass 1: what only the whole file can tell ---------------------------------------------------


@dataclass
class _Survey:
    day_first_votes: int = 0
    month_first_votes: int = 0
    ambiguous: int = 0  # dates with both fields 12 or under and different
    df_up: int = 0  # consecutive dates going forwards / backwards if read day first
    df_down: int = 0
    mf_up: int = 0
    mf_down: int = 0
    rows: int = 0
    first_ambiguous_line: int | None = None


def _survey(table: _Table, cols: _Columns) -> _Survey:
    s = _Survey()
    at = cols.index.get("datetime", cols.index.get("date"))
    assert at is not None
    prev_df: tuple[int, int, int] | None = None
    prev_mf: tuple[int, int, int] | None = None
    first = True
    for rec in table.records():
        if first:
            first = False
            continue  # the header
        if rec.error is not None:
            continue
        s.rows += 1
        if at >= len(rec.cells):
            continue
        f = numeric_fields(rec.cells[at])
        if f is None:
            continue
        if f.a > 12 >= f.b:
            s.day_first_votes += 1
        elif f.b > 12 >= f.a:
            s.month_first_votes += 1
        elif f.a != f.b:
            s.ambiguous += 1
            if s.first_ambiguous_line is None:
                s.first_ambiguous_line = rec.line
        df, mf = (f.y, f.b, f.a), (f.y, f.a, f.b)
        if prev_df is not None and prev_mf is not None:
            s.df_up += df > prev_df
            s.df_down += df < prev_df
            s.mf_up += mf > prev_mf
            s.mf_down += mf < prev_mf
        prev_df, prev_mf = df, mf
    return s


def _date_order(s: _Survey, context: Context) -> tuple[bool, list[ImportWarning]]:
    """Day first or month first, from the whole file, the context, or the region."""
    df, mf = s.day_first_votes, s.month_first_votes
    if context.day_first is not None:
        contrary = mf if context.day_first else df
        if contrary:
            order = "day first" if context.day_first else "month first"
            return context.day_first, [
                ImportWarning(
                    "date_order_conflict",
                    f"Docket was told to read this table's dates {order}, but {contrary} of "
                    "them can only be read the other way round. Those rows are kept without a "
                    "time. If the setting is wrong, import the file again without it.",
                )
            ]
        return context.day_first, []
    if df and not mf:
        return True, []
    if mf and not df:
        return False, []
    if df and mf:
        day_first = df >= mf
        return day_first, [
            ImportWarning(
                "mixed_date_order",
                f"Some dates in this table can only be read day first ({df}) and others only "
                f"month first ({mf}). Docket has read them "
                f"{'day' if day_first else 'month'} first; the others are kept without a time.",
            )
        ]
    # no field over 12 anywhere: the order that keeps the rows in order (either way round)
    df_jumps = min(s.df_up, s.df_down)
    mf_jumps = min(s.mf_up, s.mf_down)
    if s.ambiguous and df_jumps != mf_jumps:
        return df_jumps < mf_jumps, []
    default = context.region.upper() not in MONTH_FIRST_REGIONS
    if not s.ambiguous:
        return default, []
    how = (
        "day first (03/04/2024 is 3 April 2024)"
        if default
        else "month first (03/04/2024 is 4 March 2024)"
    )
    return default, [
        ImportWarning(
            "ambiguous_date_order",
            "Every date in this table could be read either day first or month first, so Docket "
            f"cannot tell which was meant. It has read them {how}, as is usual for the region "
            f"{context.region}. If that is wrong, import the file again with --month-first or "
            "--day-first.",
            line=s.first_ambiguous_line,
        )
    ]


# --- pass 2: the items -------------------------------------------------------------------------


def _localise(naive: datetime, tz: ZoneInfo) -> tuple[datetime, TimeNote | None]:
    """A wall-clock time in ``tz`` as UTC; a time the clocks skipped is read as if they had not
    changed yet, a time they repeated as the first of the two."""
    first = naive.replace(tzinfo=tz).utcoffset() or timedelta(0)
    later = naive.replace(tzinfo=tz, fold=1).utcoffset() or timedelta(0)
    note: TimeNote | None = None
    if first > later:
        note = "ambiguous"
    elif first < later:
        note = "nonexistent"
    return (naive - first).replace(tzinfo=UTC), note


_UNSET: Final = object()
_HOUR_SPAN: Final = timedelta(minutes=59, seconds=59)


@dataclass
class _Totals:
    """Things said once for the whole file, at the end."""

    date_only: int = 0
    date_only_line: int | None = None
    mangled: int = 0
    mangled_line: int | None = None
    from_outgoing_line: int | None = None
    unknown_types: dict[str, int] = field(default_factory=dict)


class _Rows:
    def __init__(
        self,
        table: _Table,
        cols: _Columns,
        chosen: dict[str, str],
        context: Context,
        day_first: bool,
    ) -> None:
        self.table = table
        self.cols = cols
        self.chosen = chosen
        self.context = context
        self.day_first = day_first
        self.tz = zone(context.timezone)
        self.totals = _Totals()
        self.name = context.name
        self._hours: dict[datetime, object] = {}

    def _localise(self, naive: datetime) -> tuple[datetime, TimeNote | None]:
        """:func:`_localise`, with the UTC offset of each local hour worked out once (an hour
        in which the clocks change is worked out time by time)."""
        hour = naive.replace(minute=0, second=0)
        offset = self._hours.get(hour, _UNSET)
        if offset is _UNSET:
            if len(self._hours) > 65_536:
                self._hours.clear()
            start, start_note = _localise(hour, self.tz)
            end, end_note = _localise(hour.replace(minute=59, second=59), self.tz)
            steady = start_note is None and end_note is None and end - start == _HOUR_SPAN
            offset = self._hours[hour] = (hour - start.replace(tzinfo=None)) if steady else None
        if isinstance(offset, timedelta):
            return (naive - offset).replace(tzinfo=UTC), None
        return _localise(naive, self.tz)

    def items(self) -> Iterator[Item | ImportWarning]:
        first = True
        header_width = len(self.cols.header)
        for rec in self.table.records():
            if first:
                first = False
                continue
            lines = self.table.lines
            if lines is not None and (lines.cut and lines.cut[0] <= rec.line):
                while lines.cut and lines.cut[0] <= rec.line:
                    n = lines.cut.pop(0)
                    yield ImportWarning(
                        "line_too_long",
                        f"Line {n} is longer than 1 MiB, which no row of a call log or "
                        "spreadsheet is. Docket has read its first 1 MiB and left out the rest. "
                        "The original file is unchanged.",
                        line=n,
                    )
            if rec.error is not None:
                yield ImportWarning(
                    "unreadable_row",
                    f"The row starting on line {rec.line} could not be read as part of a table "
                    f"({rec.error}), so it was left out. The original file is unchanged.",
                    line=rec.line,
                )
                continue
            yield from self._row(rec, header_width)
        yield from self._closing()

    def _row(self, rec: _Record, header_width: int) -> Iterator[Item | ImportWarning]:
        cells = rec.cells
        n = rec.line
        width = len(cells)
        vals = {f: cells[i] if i < width else None for f, i in self.cols.index.items()}
        missing = [f for f, v in vals.items() if v is None]
        if missing:
            yield ImportWarning(
                "short_row",
                f"The row on line {n} has {len(cells)} cells where the first row has "
                f"{header_width}, so it has nothing for "
                + ", ".join(f"'{m}'" for m in missing)
                + ". It is kept with what it has; the file may have been cut short or edited.",
                line=n,
            )
        if not any(v and not v.isspace() for v in vals.values()):
            yield ImportWarning(
                "empty_row",
                f"The row on line {n} has nothing in the mapped columns, so it was left out.",
                line=n,
            )
            return
        raw = dict(zip(self.cols.keys, cells, strict=False))
        for i in range(len(self.cols.keys), len(cells)):
            raw[f"column {i + 1}"] = cells[i]

        # when
        sent_at: datetime | None = None
        note: TimeNote | None = None
        local_time, when, problem = self._when(vals, n)
        if problem is not None:
            yield problem
        elif when is None:
            yield ImportWarning(
                "no_date",
                f"The row on line {n} has no date, so it is kept without a time.",
                line=n,
            )
        if when is not None:
            if when.instant is not None:
                sent_at = when.instant
            elif when.naive is not None and when.has_time:
                sent_at, note = self._localise(when.naive)
            else:
                self.totals.date_only += 1
                if self.totals.date_only_line is None:
                    self.totals.date_only_line = n

        # what
        body_text = vals.get("body")
        body = body_text if body_text else None
        type_reading = read_words(vals.get("type") or "")
        dir_reading = read_words(vals.get("direction") or "")
        duration_text = vals.get("duration") or ""
        duration: int | None = None
        try:
            duration = parse_duration(duration_text)
        except _Bad:
            yield ImportWarning(
                "bad_duration",
                f"The duration on line {n} ({duration_text.strip()!r}) is not a length of time "
                "Docket can read, so that call is kept without one.",
                line=n,
            )
        type_text = (vals.get("type") or "").strip()
        if type_text and not type_reading.known:
            key = type_text.lower()
            if key not in self.totals.unknown_types:
                if len(self.totals.unknown_types) < MAX_TYPE_WARNINGS:
                    yield ImportWarning(
                        "unknown_type",
                        f"The type {type_text[:40]!r} on line {n} is not a kind of call or "
                        "message Docket knows. Rows with it are kept as calls when they have a "
                        "duration and as messages otherwise, with the type as written.",
                        line=n,
                    )
                self.totals.unknown_types[key] = n
        kind, call_type, direction = _decide(
            type_reading,
            dir_reading,
            has_duration=duration_text.strip() != "",
            has_body=body is not None,
            mapped=self.chosen,
        )
        channel = (
            channel_name(vals.get("channel") or "")
            or type_reading.channel
            or dir_reading.channel
            or ("phone" if kind == "call" else "other")
        )

        # who
        sender: Party | None = None
        recipients: list[Party] = []
        for fld in ("from", "to", "number"):
            text = vals.get(fld)
            if text is None:
                continue
            pieces = [text] if fld != "to" else [p for p in re.split(r"[;\n]", text) if p.strip()]
            for piece in pieces:
                if _SCIENTIFIC.fullmatch(piece.strip()):
                    self.totals.mangled += 1
                    if self.totals.mangled_line is None:
                        self.totals.mangled_line = n
                p = party(piece)
                if p is None:
                    continue
                if fld == "from":
                    sender = p
                elif fld == "to" or direction == "outgoing":
                    recipients.append(p)
                elif sender is None:
                    sender = p
        if (
            direction == "outgoing"
            and sender is not None
            and "to" not in self.chosen
            and "number" not in self.chosen
        ):
            # "from" in a phone's own log of calls made names the person called
            recipients.append(sender)
            sender = None
            if self.totals.from_outgoing_line is None:
                self.totals.from_outgoing_line = n

        yield Item(
            kind=kind,
            channel=channel,
            direction=direction,
            sender=sender,
            sent_at=sent_at,
            local_time=local_time,
            body=body,
            recipients=tuple(recipients),
            time_note=note,
            call_type=call_type if kind == "call" else None,
            duration_s=duration if kind == "call" else None,
            line=n,
            raw=raw,
        )

    def _when(
        self, vals: dict[str, str | None], n: int
    ) -> tuple[str, When | None, ImportWarning | None]:
        """The row's date and time as written, as read, and a warning when unreadable."""
        if "datetime" in self.cols.index:
            text = vals.get("datetime") or ""
            local = text
            try:
                return local, parse_datetime(text, self.day_first), None
            except _Bad as exc:
                return local, None, self._bad_date(n, text, str(exc))
        date_text = vals.get("date") or ""
        time_text = vals.get("time") or ""
        local = (
            f"{date_text} {time_text}"
            if date_text.strip() and time_text.strip()
            else (date_text if date_text.strip() else time_text)
        )
        try:
            when = parse_datetime(date_text, self.day_first)
        except _Bad as exc:
            return local, None, self._bad_date(n, date_text, str(exc))
        if when is None or not time_text.strip():
            return local, when, None
        try:
            clock = parse_time(time_text)
        except _Bad as exc:
            return local, None, self._bad_date(n, time_text, str(exc))
        assert clock is not None
        (h, mi, sec), offset = clock
        base = when.naive if when.naive is not None else None
        if base is None and when.instant is not None:
            base = when.instant.replace(tzinfo=None)
        assert base is not None
        naive = base.replace(hour=h, minute=mi, second=sec)
        if offset is not None:
            try:
                return local, When(instant=_instant(naive, offset)), None
            except _Bad as exc:
                return local, None, self._bad_date(n, local, str(exc))
        return local, When(naive=naive), None

    def _bad_date(self, n: int, text: str, why: str) -> ImportWarning:
        return ImportWarning(
            "bad_date",
            f"The date or time on line {n} ({text.strip()!r}) is {why}, so that row is kept "
            "without a time.",
            line=n,
        )

    def _closing(self) -> Iterator[ImportWarning]:
        t = self.totals
        if t.date_only:
            yield ImportWarning(
                "no_time",
                f"{t.date_only} row{'s' if t.date_only != 1 else ''} (the first on line "
                f"{t.date_only_line}) {'have' if t.date_only != 1 else 'has'} a date but no time, "
                "so Docket keeps them with the date as written but without a time of day.",
                line=t.date_only_line,
            )
        if t.mangled:
            yield ImportWarning(
                "number_changed_by_spreadsheet",
                f"{t.mangled} phone number{'s' if t.mangled != 1 else ''} (the first on line "
                f"{t.mangled_line}) look{'s' if t.mangled == 1 else ''} like 4.47701E+11: a "
                "spreadsheet program has turned the number into a rounded figure, and the last "
                "digits are lost. Docket keeps them as written. If you still have the original "
                "export, import that instead of a copy saved from a spreadsheet.",
                line=t.mangled_line,
            )
        if t.from_outgoing_line is not None:
            yield ImportWarning(
                "from_on_outgoing",
                "Some rows are outgoing calls or messages (the first on line "
                f"{t.from_outgoing_line}), and the column mapped to 'from' is the only one that "
                "names anyone, so Docket has taken it as the person called or written to. To "
                "say this yourself, map that column with --map number=COLUMN instead.",
                line=t.from_outgoing_line,
            )


def _decide(
    type_reading: Reading,
    dir_reading: Reading,
    *,
    has_duration: bool,
    has_body: bool,
    mapped: dict[str, str],
) -> tuple[Kind, CallType | None, Direction]:
    """Call or message, the call type and the direction, from the type and direction cells."""
    kind: Literal["call", "message"] | None = type_reading.kind or dir_reading.kind
    call_type = type_reading.call_type or dir_reading.call_type
    direction = dir_reading.direction or type_reading.direction
    code = type_reading.code or dir_reading.code
    if kind is None and call_type is not None:
        kind = "call"
    if code is not None:
        as_message = kind == "message" or (kind is None and has_body and not has_duration)
        if as_message:
            kind = "message"
            direction = direction or ANDROID_SMS_CODES.get(code)
        else:
            kind = "call"
            ct, d = ANDROID_CALL_CODES[code]
            call_type = call_type or ct
            direction = direction or d
    if kind is None:
        # no word says: a duration makes a call, a text a message; else what the table holds
        if has_duration:
            kind = "call"
        elif has_body:
            kind = "message"
        elif "duration" in mapped:
            kind = "call"
        elif "body" in mapped:
            kind = "message"
        else:
            kind = "call" if direction is not None else "message"
    if kind == "call" and call_type is None:
        call_type = direction if direction in ("incoming", "outgoing") else "unknown"
    return kind, call_type, direction or "unknown"


# --- the importer ------------------------------------------------------------------------------


class MappedCsv(Importer):
    """A CSV or TSV table whose columns the person names with --map."""

    name = "csv"
    version = "1"
    label = "Table of calls or messages (CSV, with --map)"

    def score(self, probe: Probe) -> float:
        lowered = probe.name.lower()
        if probe.zip_names or not lowered.endswith((".csv", ".tsv")):
            return 0.0
        head = probe.head
        if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
            sample = head.decode("utf-16", "replace")
        elif b"\x00" in head[:4096] or not head.strip():
            return 0.0
        else:
            sample = head.removeprefix(codecs.BOM_UTF8).decode("utf-8", "replace")
        first_lines = [x for x in _EOL.split(sample)[:5] if x.strip()]
        if not first_lines:
            return 0.0
        d = _delimiter(sample, probe.name)
        header = next(csv.reader([first_lines[0]], delimiter=d), [])
        if _SEP_LINE.fullmatch(first_lines[0].strip()) and len(first_lines) > 1:
            header = next(csv.reader([first_lines[1]], delimiter=d), [])
        return 0.05 if len(header) >= 2 else 0.0

    def parse(self, source: Source, context: Context) -> Iterator[Item | ImportWarning]:
        name = context.name or (source.path.name if source.path else "")
        table = _Table(source, name)
        records = table.records()
        try:
            header_rec = next(records, None)
        finally:
            records.close()
        if header_rec is None or header_rec.error is not None:
            raise _format_error(
                "This file has no rows Docket can read as a table.",
                "It is empty apart from blank lines, or its first row is damaged.",
                "Open it in a spreadsheet program to check it, save it as 'CSV UTF-8', and "
                "import that file.",
                name,
                header_rec.line if header_rec else None,
            )
        cols, chosen = _columns(header_rec.cells, context.mapping, name, header_rec.line)
        survey = _survey(table, cols)
        day_first, opening = _date_order(survey, context)
        yield from opening
        lines = table.lines
        if lines is not None and lines.not_utf8_total:
            if lines.utf8_non_ascii == 0:
                yield ImportWarning(
                    "encoding_assumed",
                    "This file is not in UTF-8, so Docket has read it as Windows-1252, the "
                    "encoding Excel uses on Windows. If letters such as é or £ look wrong, save "
                    "the file from the spreadsheet as 'CSV UTF-8' and import that.",
                )
            else:
                shown = ", ".join(str(x) for x in lines.not_utf8[:10])
                yield ImportWarning(
                    "unreadable_characters",
                    f"{lines.not_utf8_total} line{'s' if lines.not_utf8_total != 1 else ''} "
                    f"(line {shown}{', ...' if lines.not_utf8_total > 10 else ''}) "
                    "contain bytes that are not UTF-8 text like the rest of the file. Docket "
                    "read them as Windows-1252; some letters in them may look wrong. The "
                    "original file is unchanged.",
                    line=lines.not_utf8[0],
                )
        if survey.rows == 0:
            yield ImportWarning(
                "no_rows",
                "This table has a first row of column names but no rows under it, so there is "
                "nothing to import.",
                line=header_rec.line,
            )
            return
        yield from _Rows(table, cols, chosen, context, day_first).items()
