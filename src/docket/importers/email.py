"""Reading one e-mail message into an item: the single-message importers (.eml, and Apple
Mail's .emlx), and the message reader the mbox and Outlook importers share.

One responsibility: turn the bytes of one RFC 5322 message (headers, MIME body, attachments)
into one :class:`~docket.importers.base.Item` and its
:class:`~docket.importers.base.ImportWarning` notes, keeping every header exactly as written.
It never touches the diary. Splitting a mailbox into messages is ``email_mbox``'s job; Outlook
.msg files are ``email_msg``'s.

What it does with a message (research notes: ``formats.md`` §5.7, §5.8 and §8 case 14):

* ``raw["headers"]`` is the header block exactly as in the file (UTF-8 when it is valid
  UTF-8, otherwise Latin-1, so every byte maps to one character and nothing is lost;
  ``raw["headers_encoding"]`` says which). The fields the pipeline and a reader need are
  also kept one by one: subject (RFC 2047 encoded words decoded), message id, in-reply-to,
  references, date as written, every Received line, the DKIM signature (only when present)
  and Gmail's labels.
* The sender is the first address of From (else of Sender), as written; its display name is
  in ``raw["from_name"]``. To, Cc and Bcc are the recipients. Only the domain of an address
  is case-insensitive, and that is the pipeline's business: nothing is lowered here.
* The time is the Date header, with its own zone. A Date with no zone, or a zone name
  Docket does not know, is read in the exporting device's zone with a warning; a missing or
  unreadable Date gives a message without a time and a warning.
* The body is the text of the message as a mail program shows it: the plain-text parts in
  order (one of each ``multipart/alternative``), or the text of the HTML part with its tags
  removed when there is no plain text. Charsets are decoded (with a warning when a declared
  charset is unknown or wrong); line ends become ``\\n``.
* Attachments are every part with a file name, marked as an attachment, or that is not text
  (inline images, signatures, calendar invitations, forwarded messages), read only when the
  pipeline asks. The MIME structure is parsed by the standard library (``compat32`` policy,
  which is many times faster than ``policy.default`` and as tolerant); large base64 bodies
  are first lifted out of the text the parser sees and decoded straight from the message's
  bytes, 1 MiB at a time, so a message with a 30 MB attachment costs about 30 MB, not five
  times that. Encoded words are decoded with ``policy.default``'s header parser.
* A base64 body cut short (the last message of a file that did not finish copying) is
  decoded as far as it goes; the standard library would hand back the encoded text.
* A message larger than 200 MB is not read whole: its headers and the text at its start are
  imported and its attachments are listed as not loaded, with a warning (the original file,
  which the diary keeps, still holds them).
* Nothing here raises for a malformed message: a header or part that cannot be read is kept
  as written, with a warning where it matters to the user.
* Nothing here makes a reference cycle. The import pipeline switches Python's cycle
  collector off while it imports, so anything left in a cycle (a message's parts, its
  bytes) would stay in memory until the import ends, and memory would grow with the file.
"""

from __future__ import annotations

import binascii
import codecs
import io
import re
from collections.abc import Callable, Iterator
from contextlib import suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email import errors as email_errors
from email import policy as email_policy
from email.generator import BytesGenerator
from email.header import decode_header, make_header
from email.headerregistry import AddressHeader, HeaderRegistry
from email.message import Message
from email.parser import BytesParser
from email.utils import collapse_rfc2231_value, getaddresses, parsedate_tz
from functools import lru_cache
from pathlib import PurePosixPath, PureWindowsPath
from typing import Final, cast
from zoneinfo import ZoneInfo

import lxml.html
from lxml import etree

from docket.errors import ImportFormatError, Location
from docket.importers.base import (
    Attachment,
    Context,
    Importer,
    ImportWarning,
    Item,
    Party,
    Probe,
    Source,
)
from docket.model.timeparse import zone

# --- limits -----------------------------------------------------------------------------------

MAX_MESSAGE: Final = 200_000_000  # bytes of one message read into memory
HEAD_KEEP: Final = 4 << 20  # bytes kept of a message larger than that
MAX_SKELETON: Final = 32 << 20  # bytes the MIME parser is given, once large bodies are lifted
MAX_HEADER: Final = 1 << 20  # bytes of header block; no real message comes near it
LIFT_MIN: Final = 32 << 10  # base64 bodies at least this long are decoded from the bytes
CHUNK: Final = 1 << 20  # bytes per attachment chunk
MAX_DEPTH: Final = 40  # nested multiparts followed
MAX_ATTACHMENTS: Final = 2000  # per message
MAX_BODY: Final = 16 << 20  # characters of text kept per message

NOTE_TOO_LARGE: Final = (
    "not loaded: the message is larger than Docket reads at once; the original file holds it"
)
NOTE_UNREADABLE: Final = "could not be read from the message"

BOM: Final = b"\xef\xbb\xbf"

# --- the header block -------------------------------------------------------------------------

_HEADER_END = re.compile(rb"\n\r?\n")
_FIELD_NAME = re.compile(r"([!-9;-~]+)[ \t]*:")
_FIELD_LINE = re.compile(rb"[!-9;-~]{1,200}[ \t]*:")
_FOLD = re.compile(r"\r?\n(?=[ \t])")
_COMMENT = re.compile(r"\([^()]*\)")
_MSGID = re.compile(r"<[^<>]*>")
_SURROGATES = re.compile("[\ud800-\udfff]")


def clean(text: str) -> str:
    """``text`` with any lone surrogate (an undecodable byte smuggled through) replaced, so it
    can be stored as UTF-8."""
    if text.isascii():
        return text
    return _SURROGATES.sub("\ufffd", text)


def decode_header_block(block: bytes | bytearray) -> tuple[str, str]:
    """The header block as text, and the encoding used: UTF-8 when it is valid UTF-8, else
    Latin-1 (one character per byte, so nothing is lost)."""
    try:
        return bytes(block).decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        return bytes(block).decode("latin-1"), "latin-1"


def split_fields(block: str) -> list[tuple[str, str]]:
    """The header fields of a block, in order: (name in lower case, value unfolded and
    stripped). Lines that are neither a field nor a continuation are skipped."""
    fields: list[tuple[str, str]] = []
    name: str | None = None
    value: list[str] = []
    for line in block.split("\n"):
        if line[:1] in (" ", "\t"):
            if name is not None:
                value.append(line)
            continue
        if name is not None:
            fields.append((name, "".join(v.rstrip("\r") for v in value).strip()))
            name = None
        m = _FIELD_NAME.match(line)
        if m is not None:
            name = m.group(1).lower()
            value = [line[m.end() :]]
    if name is not None:
        fields.append((name, "".join(v.rstrip("\r") for v in value).strip()))
    return fields


CACHED_VALUE: Final = 1024  # header values up to this long are remembered once decoded
SLOW_PARSER_LIMIT: Final = 16 << 10  # longer values skip policy.default's (slow) parser

# policy.default's header classes, made once. ``header_factory(name, value)`` makes a new
# class at every call, and a class is always part of a reference cycle (its ``__mro__``
# holds it), so every header read that way would be garbage only the cycle collector frees;
# the import pipeline switches that collector off while it imports (``docket.importer.run``),
# so they would pile up for the whole import. Nothing in this module may make a cycle.
# (``HeaderRegistry()`` is the registry ``policy.default`` is made with.)
_HEADER_CLASSES: Final = HeaderRegistry()
_UNSTRUCTURED_HEADER: Final = _HEADER_CLASSES["subject"]
_ADDRESS_HEADER: Final = _HEADER_CLASSES["to"]  # its instances are AddressHeaders


def decode_words(value: str) -> str:
    """A header value with RFC 2047 encoded words decoded (``policy.default``), or as written
    when it has none or they cannot be decoded."""
    if "=?" not in value:
        return value
    return _decode_words(value) if len(value) <= CACHED_VALUE else _decode_words.__wrapped__(value)


@lru_cache(maxsize=4096)
def _decode_words(value: str) -> str:
    if len(value) <= SLOW_PARSER_LIMIT:
        with suppress(Exception):  # the stdlib raises many kinds on broken input
            return clean(str(_UNSTRUCTURED_HEADER("subject", value)))
    with suppress(Exception):
        return clean(str(make_header(decode_header(value))))
    return value


_ADDR_SPEC = re.compile(r"[^\s<>(),;:\"\[\]\\]+@[^\s<>(),;:\"\[\]\\]+")
_SIMPLE_ADDRESS = re.compile(
    r"\s*(?:([^\"<>,;:()\\@\[\]=]*?)\s*<([^<>\s,;:()\\\"@]+@[^<>\s,;:()\\\"@]+)>"
    r"|([^<>\s,;:()\\\"@]+@[^<>\s,;:()\\\"@]+))\s*"
)


def addresses(value: str) -> tuple[tuple[str, str], ...]:
    """(display name, address) for each mailbox in an address header, as written. Group
    names ("undisclosed-recipients:;") give nothing; a mailbox without an address gives its
    name and an empty address."""
    return _addresses(value) if len(value) <= CACHED_VALUE else _addresses.__wrapped__(value)


@lru_cache(maxsize=8192)
def _addresses(value: str) -> tuple[tuple[str, str], ...]:
    if "=?" not in value and '"' not in value and "(" not in value:
        simple: list[tuple[str, str]] = []
        for piece in value.split(","):
            if not piece.strip():
                continue
            m = _SIMPLE_ADDRESS.fullmatch(piece)
            if m is None:
                break
            if m.group(2):
                simple.append((" ".join(m.group(1).split()), m.group(2)))
            else:
                simple.append(("", m.group(3)))
        else:
            return tuple(simple)
    with suppress(Exception):  # the stdlib raises many kinds on broken input
        if len(value) > SLOW_PARSER_LIMIT:
            raise ValueError("too long for the slow parser")
        header = cast(AddressHeader, _ADDRESS_HEADER("to", value))
        found = tuple(
            (clean(a.display_name), clean(a.addr_spec if a.domain else a.username))
            for a in header.addresses
        )
        if found or not value.strip() or value.rstrip().endswith(";"):
            return found
    with suppress(Exception):  # RecursionError on deeply nested comments, among others
        return tuple(
            (decode_words(name), address)
            for name, address in getaddresses([value])
            if name or address
        )
    return tuple(("", a) for a in _ADDR_SPEC.findall(value))


def party(name: str, address: str) -> Party | None:
    """A mailbox as a party: its address as written when it has one, else its name."""
    if "@" in address:
        return Party(address, "email")
    if address or name:
        return Party(address or name, "name")
    return None


def message_ids(value: str) -> list[str]:
    """The message ids in a References or In-Reply-To value, with their angle brackets."""
    found = _MSGID.findall(value)
    if found:
        return [" ".join(f.split()) for f in found]
    return value.split()


# --- dates ------------------------------------------------------------------------------------

_MONTHS: Final[dict[str, int]] = {
    m: i
    for i, names in enumerate(
        (
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
        ),
        start=1,
    )
    for m in names
}
# RFC 5322's obsolete zone names, and other names mail programs write that mean one offset
# (hours). Names that mean several (IST: India, Ireland, Israel) are not here.
ZONE_NAMES: Final[dict[str, float]] = {
    "UT": 0, "UTC": 0, "GMT": 0, "Z": 0, "WET": 0,
    "EST": -5, "EDT": -4, "CST": -6, "CDT": -5, "MST": -7, "MDT": -6, "PST": -8, "PDT": -7,
    "AKST": -9, "AKDT": -8, "HST": -10, "AST": -4, "ADT": -3, "NST": -3.5, "NDT": -2.5,
    "BST": 1, "WEST": 1, "CET": 1, "MET": 1, "CEST": 2, "MEST": 2, "EET": 2, "EEST": 3,
    "MSK": 3, "JST": 9, "KST": 9, "HKT": 8, "SGT": 8, "AWST": 8, "ACST": 9.5, "ACDT": 10.5,
    "AEST": 10, "AEDT": 11, "NZST": 12, "NZDT": 13,
}  # fmt: skip
_DATE_RFC = re.compile(
    r"(?:[A-Za-z]+\.?\s*,?\s*)?"
    r"(?:(?P<d>\d{1,2})[\s-]+(?P<m>[A-Za-z]{3,9})\.?|(?P<m2>[A-Za-z]{3,9})\.?\s+(?P<d2>\d{1,2}),?)"
    r"[\s-]+(?P<y>\d{2,4}),?"
    r"(?:\s+|\s*,\s*)(?:at\s+)?"
    r"(?P<H>\d{1,2})[:.](?P<M>\d{2})(?:[:.](?P<S>\d{2})(?:[.,]\d+)?)?"
    r"\s*(?P<ap>[AaPp]\.?[Mm]\.?)?"
    r"\s*(?P<z>[+-]\d{2}:?\d{2}|[A-Za-z]{1,5}(?:\s*[+-]\d{1,2}(?::?\d{2})?)?)?"
)
_DATE_ASCTIME = re.compile(
    r"(?:[A-Za-z]+,?\s+)?(?P<m>[A-Za-z]{3,9})\s+(?P<d>\d{1,2})\s+"
    r"(?P<H>\d{1,2}):(?P<M>\d{2})(?::(?P<S>\d{2}))?\s+"
    r"(?:(?P<z>[+-]\d{4}|[A-Za-z]{1,5})\s+)?(?P<y>\d{4})"
)
_NUMERIC_ZONE = re.compile(r"([+-])(\d{1,2}):?(\d{2})?")


@dataclass(frozen=True)
class ParsedDate:
    """A Date header read: the instant (None when unreadable) and what was wrong, if
    anything: "missing", "unreadable", "no_zone" or "unknown_zone"."""

    when: datetime | None
    problem: str | None = None


_ZONE = re.compile(r"([A-Za-z]*)(?:([+-])(\d{1,2}):?(\d{2})?)?")


def _offset(written: str | None) -> tuple[timedelta | None, str | None]:
    """A zone as written ("-0500", "EST", "GMT+2") -> its offset from UTC, or (None, what was
    wrong)."""
    if not written:
        return None, "no_zone"
    m = _ZONE.fullmatch(written.replace(" ", ""))
    if m is None:
        return None, "unknown_zone"
    name, sign, hours, minutes = m.group(1).upper(), m.group(2), m.group(3), m.group(4)
    if sign:
        if name not in ("", "UT", "UTC", "GMT"):
            return None, "unknown_zone"
        h, mi = int(hours), int(minutes or 0)
        if h >= 24 or mi >= 60:
            return None, "unknown_zone"
        delta = timedelta(hours=h, minutes=mi)
        return (-delta if sign == "-" else delta), None
    if name in ZONE_NAMES:
        return timedelta(hours=ZONE_NAMES[name]), None
    if len(name) == 1:
        return timedelta(0), None  # military zones: RFC 5322 reads them as -0000
    return None, "unknown_zone"


def parse_date(value: str | None, tz: ZoneInfo) -> ParsedDate:
    """A Date header's value -> the UTC instant it names. A time without a usable zone is read
    in ``tz`` (the exporting device's zone) and flagged."""
    if value is None or not value.strip():
        return ParsedDate(None, "missing")
    text = " ".join(_COMMENT.sub(" ", value).split())
    m = _DATE_RFC.fullmatch(text) or _DATE_ASCTIME.fullmatch(text)
    if m is None:
        return _other_date(text, tz)
    groups = m.groupdict()
    month = _MONTHS.get((groups.get("m") or groups.get("m2") or "").lower())
    day = int(groups.get("d") or groups.get("d2") or 0)
    year = int(groups["y"])
    if len(groups["y"]) == 2:
        year += 2000 if year < 50 else 1900
    elif len(groups["y"]) == 3:
        year += 1900
    hour, minute, second = int(groups["H"]), int(groups["M"]), int(groups["S"] or 0)
    ap = groups.get("ap")
    if ap:
        if not 1 <= hour <= 12:
            return ParsedDate(None, "unreadable")
        hour = hour % 12 + (12 if ap[0] in "pP" else 0)
    if month is None:
        return ParsedDate(None, "unreadable")
    if second == 60:
        second = 59  # a leap second: the instant a second before is the best Python can hold
    try:
        naive = datetime(year, month, day, hour, minute, second)
    except ValueError:
        return ParsedDate(None, "unreadable")
    offset, problem = _offset(groups.get("z"))
    if offset is None:
        local = _local(naive, tz)
        return ParsedDate(local.when, problem if local.when is not None else local.problem)
    try:
        return ParsedDate((naive - offset).replace(tzinfo=UTC))
    except OverflowError:
        return ParsedDate(None, "unreadable")


def _other_date(text: str, tz: ZoneInfo) -> ParsedDate:
    """A date in neither RFC 5322 nor asctime form: ISO 8601, or whatever the standard
    library's lenient reader makes of it (its zone trusted only when written as digits)."""
    if re.match(r"\d{4}-\d{2}-\d{2}[T ]\d", text):
        try:
            iso = datetime.fromisoformat(text.replace("Z", "+00:00").replace(" ", "T", 1))
        except ValueError:
            return ParsedDate(None, "unreadable")
        if iso.tzinfo is None:
            return _local(iso, tz)
        return ParsedDate(iso.astimezone(UTC))
    found = parsedate_tz(text)
    if found is None:
        return ParsedDate(None, "unreadable")
    try:
        naive = datetime(*found[:6])
    except (ValueError, TypeError):
        return ParsedDate(None, "unreadable")
    if found[9] is None or not re.search(r"[+-]\d{4}", text):
        return _local(naive, tz)
    try:
        return ParsedDate((naive - timedelta(seconds=found[9])).replace(tzinfo=UTC))
    except OverflowError:
        return ParsedDate(None, "unreadable")


def _local(naive: datetime, tz: ZoneInfo) -> ParsedDate:
    aware = naive.replace(tzinfo=tz, fold=0)
    try:
        return ParsedDate(aware.astimezone(UTC), "no_zone")
    except (OverflowError, ValueError):
        return ParsedDate(None, "unreadable")


# --- text -------------------------------------------------------------------------------------

# Charset names mail programs write that Python does not know by that name, and labels that are
# habitually used for a larger set (decoding with the larger set loses nothing).
CHARSET_ALIASES: Final[dict[str, str]] = {
    "x-sjis": "shift_jis",
    "shift-jis": "shift_jis",
    "x-euc-jp": "euc_jp",
    "iso-8859-8-i": "iso-8859-8",
    "iso-8859-6-i": "iso-8859-6",
    "windows-874": "cp874",
    "cp-850": "cp850",
    "x-mac-roman": "mac-roman",
    "x-mac-cyrillic": "mac-cyrillic",
    "gb2312": "gb18030",
    "gbk": "gb18030",
    "x-gbk": "gb18030",
    "ks_c_5601-1987": "cp949",
    "euc-kr": "cp949",
    "big5": "big5hkscs",
    "iso-8859-1": "windows-1252",  # as browsers and mail programs read it
    "latin1": "windows-1252",
    "latin-1": "windows-1252",
    "us-ascii": "windows-1252",
    "ascii": "windows-1252",
    "utf8": "utf-8",
    "unicode-1-1-utf-7": "utf-7",
}
# Labels that say "some 8-bit text", not which.
_NO_CHARSET: Final = frozenset(
    {"unknown-8bit", "x-unknown", "x-user-defined", "unknown", "default", "8bit", "binary", "none"}
)


def decode_text(data: bytes, charset: str | None) -> tuple[str, str | None]:
    """Decoded text and what went wrong, if anything ("unknown_charset", "wrong_charset").

    No charset (or "unknown-8bit"): UTF-8 when valid, else Windows-1252. A known charset: as
    declared, unless the bytes are not valid in it but are valid UTF-8. Windows-1252 bytes it
    leaves undefined are read as Latin-1, so no byte becomes U+FFFD for that reason alone."""
    label = (charset or "").strip().strip("\"'").lower()
    if not label or label in _NO_CHARSET:
        if data.isascii():
            return data.decode("ascii"), None
        return _utf8_or_1252(data), None
    name = CHARSET_ALIASES.get(label, label)
    try:
        codec = codecs.lookup(name).name
    except LookupError:
        return _utf8_or_1252(data), "unknown_charset"
    if data.isascii() and codec not in ("utf-7", "iso2022_jp", "iso2022_kr", "hz", "utf-16"):
        return data.decode("ascii"), None
    if codec == "cp1252":
        try:
            return data.decode("utf-8"), None  # 8-bit UTF-8 mislabelled, or no label at all
        except UnicodeDecodeError:
            return _cp1252(data), None
    try:
        return data.decode(codec), None
    except UnicodeDecodeError:
        pass
    except (LookupError, ValueError):
        return _utf8_or_1252(data), "unknown_charset"
    if codec != "utf-8":
        try:
            return data.decode("utf-8"), "wrong_charset"
        except UnicodeDecodeError:
            pass
    return data.decode(codec, errors="replace"), "wrong_charset"


def _utf8_or_1252(data: bytes) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return _cp1252(data)


def _cp1252(data: bytes) -> str:
    try:
        return data.decode("cp1252")
    except UnicodeDecodeError:
        return "".join(
            bytes([b]).decode("cp1252", errors="strict")
            if b not in (0x81, 0x8D, 0x8F, 0x90, 0x9D)
            else chr(b)
            for b in data
        )


# How elements break lines, as a browser lays them out: a line of their own, or a paragraph
# with a blank line around it. A <br> is a line break; a table cell ends with a space.
_LINE_BLOCKS: Final = frozenset(
    {"div", "tr", "li", "dt", "dd", "header", "footer", "section", "article", "address",
     "center", "form", "fieldset", "nav", "aside", "main", "figure", "figcaption", "caption"}
)  # fmt: skip
_PARA_BLOCKS: Final = frozenset(
    {"p", "h1", "h2", "h3", "h4", "h5", "h6", "blockquote", "pre", "table", "ul", "ol", "dl",
     "hr"}
)  # fmt: skip
_CELLS: Final = frozenset({"td", "th"})
_DROP: Final = frozenset({"script", "style", "head", "title", "template", "noscript"})
_SPACES = re.compile(r"[ \t\r\n\f\v]+")
_BLANK_LINES = re.compile(r"\n{3,}")


class _Text:
    """Text laid out line by line: collapsed runs of spaces, pending line breaks."""

    def __init__(self) -> None:
        self.out: list[str] = []
        self.pending = 0  # newlines owed before the next text: 1 (a line) or 2 (a paragraph)

    def at_line_start(self) -> bool:
        return not self.out or self.out[-1].endswith("\n")

    def text(self, value: str, pre: bool = False) -> None:
        if not pre:
            value = _SPACES.sub(" ", value)
            if self.pending or self.at_line_start() or self.out[-1].endswith(" "):
                value = value.lstrip(" ")
        if not value:
            return
        if self.pending:
            if self.out:
                self.out[-1] = self.out[-1].rstrip(" ")
                self.out.append("\n" * self.pending)
            self.pending = 0
        self.out.append(value)

    def br(self) -> None:
        if self.pending and self.out:
            self.out[-1] = self.out[-1].rstrip(" ")
            self.out.append("\n" * self.pending)
        self.pending = 0
        if self.out:
            self.out[-1] = self.out[-1].rstrip(" ")
        self.out.append("\n")

    def block(self, paragraph: bool) -> None:
        self.pending = max(self.pending, 2 if paragraph else 1)

    def result(self) -> str:
        text = "".join(self.out)
        return _BLANK_LINES.sub("\n\n", text).strip("\n").rstrip(" ")


def html_text(html: str) -> str:
    """The text a reader sees in an HTML body: tags removed, scripts and styles dropped,
    spaces collapsed as a browser does (but not inside <pre>), a line break for each <br>
    and each block, a blank line around paragraphs."""
    if not html.strip():
        return ""
    parser = lxml.html.HTMLParser(encoding="utf-8", remove_comments=True, remove_pis=True)
    try:
        doc = lxml.html.document_fromstring(html.encode("utf-8", "replace"), parser=parser)
    except (etree.ParserError, etree.XMLSyntaxError, ValueError):
        return clean(_SPACES.sub(" ", re.sub(r"<[^>]*>", " ", html)).strip())
    out = _Text()
    pre = skip = 0
    for event, el in etree.iterwalk(doc, events=("start", "end")):
        tag = el.tag.lower() if isinstance(el.tag, str) else ""
        if event == "start":
            if skip or tag in _DROP:
                skip += 1
                continue
            if tag == "br":
                out.br()
            elif tag in _LINE_BLOCKS or tag in _PARA_BLOCKS:
                out.block(tag in _PARA_BLOCKS)
            if tag == "pre":
                pre += 1
            if el.text:
                out.text(el.text, pre > 0)
            continue
        if skip:
            skip -= 1
            if skip == 0 and el.tail:
                out.text(el.tail, pre > 0)
            continue
        if tag == "pre":
            pre -= 1
        if tag in _LINE_BLOCKS or tag in _PARA_BLOCKS:
            out.block(tag in _PARA_BLOCKS)
        elif tag in _CELLS:
            out.text(" ")
        if el.tail:
            out.text(el.tail, pre > 0)
    result = out.result()
    if not result:  # nested deeper than the HTML parser goes: the text without its tags
        result = _SPACES.sub(" ", re.sub(r"<[^>]*>", " ", html)).strip()
    return clean(result)


# >From lines: mboxrd quotes "From " at a line start as ">From ", ">From " as ">>From ", …; a
# message read from another kind of file has the line as written. ``match_body`` drops the
# quoting so the same message matches across both.
_QUOTED_FROM = re.compile(r"^>+(?=From )", re.MULTILINE)


def match_text(body: str | None) -> str | None:
    if body is None or ">From " not in body:
        return None
    return _QUOTED_FROM.sub("", body)


# --- lifting large base64 bodies --------------------------------------------------------------

# Where a base64 body may start: just after an empty line (where a part's body starts), a line
# of base64 text. The body then runs to the next line that starts with "-" (its boundary).
_RUN_START = re.compile(rb"\n\r?\n(?=[A-Za-z0-9+/]{16,}={0,2}\r?\n)")  # some write one line
_RUN_LINES = re.compile(rb"(?:[A-Za-z0-9+/=]+\r?\n)*")
_B64_TEXT = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=\r\n"
_LINE_END_BYTES = frozenset(b"\r\n")
_LOOK = 1 << 16  # bytes of a body checked at a time
_B64_ALPHABET = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/")
_TOKEN = re.compile(r"<docket-lifted-(\d+)>")
_TOKEN_BYTES = b"<docket-lifted-"
_TOKEN_LINE = re.compile(rb"<docket-lifted-(\d+)>\r?\n")
_LAST_LINE = re.compile(rb"[A-Za-z0-9+/]*={0,2}\r?\n")


def _base64_text(data: bytes | bytearray, a: int, b: int) -> bool:
    """Whether ``data[a:b]`` holds nothing but base64 text (its alphabet, "=" and line ends).
    Looked at a slice at a time, so that a body of many megabytes is never copied whole."""
    view = memoryview(data)
    for i in range(a, b, _LOOK):
        if bytes(view[i : min(b, i + _LOOK)]).translate(None, _B64_TEXT):
            return False
    return True


def _runs(data: bytes | bytearray, start: int) -> Iterator[tuple[int, int]]:
    """(start, end) of each run of base64 lines of at least :data:`LIFT_MIN` bytes that
    starts a part's body, after ``start``."""
    pos = max(0, start - 2)
    size = len(data)
    mixed = -1  # the end of a stretch known to hold more than base64 text
    while True:
        m = _RUN_START.search(data, pos)
        if m is None:
            return
        a = m.end()
        e = data.find(b"\n-", a)
        b = size if e < 0 else e + 1
        if b - a < LIFT_MIN:
            pos = b  # any run starting before b also ends by b
            continue
        if b == mixed or not _base64_text(data, a, b):
            mixed = b
            # something else in there: the base64 lines at its start, if long enough
            found = _RUN_LINES.match(data, a, b)
            end = found.end() if found is not None else a
            if end - a >= LIFT_MIN:
                yield a, end
            pos = max(end, a)
            continue
        if data[b - 1 : b] != b"\n":  # the message ends inside the run's last line
            b = data.rfind(b"\n", a, b) + 1
            if b - a < LIFT_MIN:
                return
        yield a, b
        pos = b


def lift(data: bytes | bytearray, start: int) -> tuple[bytes | bytearray, list[tuple[int, int]]]:
    """``data`` with every large base64 body after ``start`` replaced by a one-line token, and
    where each was: (start, end) in ``data``. Runs that the standard library would decode
    differently from a plain concatenation (padding inside, or a stray length) are left."""
    if _TOKEN_BYTES in data:
        return data, []  # a message that already contains our token: leave it whole
    runs: list[tuple[int, int]] = []
    pieces: list[bytes | memoryview] = []
    view = memoryview(data)
    at = 0
    for a, b in _runs(data, start):
        last = max(a, data.rfind(b"\n", a, b - 1) + 1)  # where the run's last line starts
        if data.find(b"=", a, last) >= 0 or not _LAST_LINE.fullmatch(data, last, b):
            continue  # padding inside: the library stops there; keep its reading
        count = (b - a) - data.count(b"\n", a, b) - data.count(b"\r", a, b)
        if count % 4 == 1:
            continue  # the library keeps such a body as written
        newline = b"\r\n" if data[b - 2 : b] == b"\r\n" else b"\n"
        pieces.append(view[at:a])
        pieces.append(b"<docket-lifted-%d>" % len(runs) + newline)
        runs.append((a, b))
        at = b
    if not runs:
        return data, []
    pieces.append(view[at:])
    return b"".join(pieces), runs


def _b64_chunks(data: bytes | bytearray, a: int, b: int) -> Iterator[bytes]:
    """The decoded bytes of the base64 text ``data[a:b]`` (a run :func:`lift` took: base64
    lines, padding only at the end), about :data:`CHUNK` at a time.

    Each piece is decoded straight from ``data``, which ``binascii.a2b_base64`` reads past
    line ends: the decoded piece is the only memory it takes (taking the line ends out
    first made four copies of every piece). A piece ends where the text before it holds
    whole groups of four characters, so the pieces decode as the whole text would."""
    step = CHUNK * 4 // 3
    pos = a
    while pos < b:
        end = min(b, pos + step)
        if end < b:
            nl = data.rfind(b"\n", pos + step // 2, end)
            if nl >= 0:
                end = nl + 1  # at a line end, when there is one near
        chars = (end - pos) - data.count(b"\n", pos, end) - data.count(b"\r", pos, end)
        if chars < 4 and end < b:
            step *= 2  # not one whole group in reach (only with a tiny CHUNK): look further
            continue
        whole = end
        extra = chars % 4
        while extra:  # step back over the characters of an unfinished group
            whole -= 1
            if data[whole] not in _LINE_END_BYTES:
                extra -= 1
        if chars >= 4:
            yield binascii.a2b_base64(memoryview(data)[pos:whole])
        if end == b and whole < b:  # the text ends in an unfinished group: pad it
            tail = bytes(data[whole:b]).translate(None, b"\r\n")
            yield binascii.a2b_base64(tail + b"=" * (-len(tail) % 4))
            return
        pos = whole


# --- the message ------------------------------------------------------------------------------


@dataclass
class RawMessage:
    """One message's bytes as found in a file. ``data`` starts at its first header line;
    ``line`` and ``offset`` are where the message starts (for an mbox, its "From " line)."""

    data: bytes | bytearray
    line: int
    offset: int
    envelope: str | None = None  # the mbox "From " line, without its line end
    size: int = 0  # the message's full size in the file (``data`` may hold only its start)
    complete: bool = True
    last: bool = False  # the last message in the file (a cut-off end shows there)
    extra: dict[str, str] = field(default_factory=dict)  # added to ``raw``


class Held:
    """What the attachments of one item read from. :meth:`release` is called when the next
    item is asked for; an attachment read after that is a programming error."""

    __slots__ = ("data", "sources")

    def __init__(self, data: bytes | bytearray | None) -> None:
        self.data = data
        self.sources: list[Callable[[], Iterator[bytes]]] | None = []

    def add(self, source: Callable[[], Iterator[bytes]]) -> Callable[[], Iterator[bytes]]:
        assert self.sources is not None
        index = len(self.sources)
        self.sources.append(source)

        def chunks() -> Iterator[bytes]:
            if self.sources is None:
                raise RuntimeError("an attachment was read after the next item was asked for")
            return self.sources[index]()

        return chunks

    def release(self) -> None:
        self.data = None
        self.sources = None


_TYPE_EXTENSIONS: Final[dict[str, str]] = {
    "image/jpeg": ".jpg",
    "image/png": ".png",
    "image/gif": ".gif",
    "image/webp": ".webp",
    "image/heic": ".heic",
    "image/bmp": ".bmp",
    "image/tiff": ".tif",
    "text/plain": ".txt",
    "text/html": ".html",
    "text/calendar": ".ics",
    "text/vcard": ".vcf",
    "text/x-vcard": ".vcf",
    "message/rfc822": ".eml",
    "message/delivery-status": ".txt",
    "message/disposition-notification": ".txt",
    "text/rfc822-headers": ".txt",
    "message/rfc822-headers": ".txt",
    "application/pdf": ".pdf",
    "application/pgp-signature": ".asc",
    "application/pgp-encrypted": ".asc",
    "application/pkcs7-signature": ".p7s",
    "application/x-pkcs7-signature": ".p7s",
    "application/ms-tnef": ".dat",
    "audio/mpeg": ".mp3",
    "audio/ogg": ".ogg",
    "audio/mp4": ".m4a",
    "video/mp4": ".mp4",
    "video/quicktime": ".mov",
    "application/zip": ".zip",
}

_TRUNCATION_DEFECTS = (
    email_errors.CloseBoundaryNotFoundDefect,
    email_errors.StartBoundaryNotFoundDefect,
)


def _safe_name(name: str) -> str:
    """A file name as given, without any folder part or control characters."""
    base = PureWindowsPath(PurePosixPath(name).name).name
    return "".join(c for c in base if c >= " " and c != "\x7f").strip() or "attachment"


class _Walk:
    """Walks one parsed message: its body texts and its attachments."""

    def __init__(
        self, data: bytes | bytearray, runs: list[tuple[int, int]], held: Held, complete: bool
    ) -> None:
        self.data = data
        self.runs = runs
        self.held = held
        self.complete = complete
        self.texts: list[tuple[str, str, Message]] = []  # (content type, text, part)
        self.attachments: list[Attachment] = []
        self.problems: set[str] = set()
        self.count = 0
        self.cut = False  # a multipart without its closing boundary
        self.names: dict[int, str | None] = {}  # part (by id, while the tree lives) -> file name

    def filename(self, part: Message) -> str | None:
        key = id(part)
        if key not in self.names:
            self.names[key] = _filename(part)
        return self.names[key]

    # -- one part's content

    def _tokens(self, part: Message) -> tuple[str, list[int]]:
        payload = part.get_payload()
        if not isinstance(payload, str) or not self.runs:
            return (payload if isinstance(payload, str) else ""), []
        return payload, [int(n) for n in _TOKEN.findall(payload)]

    def _restore(self, part: Message, payload: str, numbers: list[int]) -> None:
        """Puts lifted text back into a part that the library must decode itself."""

        def back(m: re.Match[str]) -> str:
            n = int(m.group(1))
            if n >= len(self.runs):
                return m.group(0)
            a, b = self.runs[n]
            text = bytes(self.data[a:b]).decode("ascii")
            return text[:-2] if text.endswith("\r\n") else text[:-1]

        part.set_payload(_TOKEN.sub(back, payload))

    def _lifted(self, part: Message) -> int | None:
        """The run a base64 part's whole body was lifted into, if it was."""
        payload, numbers = self._tokens(part)
        if not numbers:
            return None
        cte = str(part.get("content-transfer-encoding", "")).strip().lower()
        if (
            len(numbers) == 1
            and cte == "base64"
            and payload.strip() == f"<docket-lifted-{numbers[0]}>"
            and numbers[0] < len(self.runs)
        ):
            return numbers[0]
        self._restore(part, payload, numbers)
        return None

    def _bytes(self, part: Message) -> bytes:
        run = self._lifted(part)
        if run is not None:
            a, b = self.runs[run]
            return b"".join(_b64_chunks(self.data, a, b))
        return decoded_payload(part)

    def text(self, part: Message, ctype: str) -> str:
        text, problem = decode_text(self._bytes(part), part.get_content_charset())
        if problem:
            self.problems.add(problem)
        text = clean(text).replace("\r\n", "\n").replace("\r", "\n")
        return html_text(text) if ctype == "text/html" else text

    # -- the tree

    def walk(self, part: Message, depth: int = 0, shown: bool = True) -> None:
        """``shown``: whether this part's text is what a mail program would show (not an
        alternative it passed over)."""
        for defect in part.defects:
            if isinstance(defect, _TRUNCATION_DEFECTS):
                self.cut = True
        if depth > MAX_DEPTH:
            self.problems.add("too_deep")
            return
        ctype = part.get_content_type()
        if ctype == "message/rfc822" or (
            part.is_multipart() and part.get_content_maintype() == "message"
        ):
            self.attach(part, ctype)
            return
        if part.is_multipart():
            payload = part.get_payload()
            if not isinstance(payload, list):
                return
            children = [c for c in payload if isinstance(c, Message)]
            if ctype == "multipart/alternative":
                chosen = self._choose(children)
                for child in children:
                    self.walk(child, depth + 1, shown and child is chosen)
            else:
                for child in children:
                    self.walk(child, depth + 1, shown)
            return
        if part.get_content_maintype() == "multipart":
            # a multipart whose parts could not be found: its body is shown as text
            if shown and str(part.get_payload() or "").strip():
                self.texts.append(("text/plain", self.text(part, "text/plain"), part))
            return
        disposition = part.get_content_disposition()
        if (
            ctype in ("text/plain", "text/html")
            and disposition != "attachment"
            and self.filename(part) is None
        ):
            if shown:
                self.texts.append((ctype, self.text(part, ctype), part))
            return
        self.attach(part, ctype)

    def _has_plain(self, part: Message, depth: int = 0) -> bool:
        """Whether ``part`` is, or holds, a plain-text body (not an attachment).

        A method, not a function nested in :meth:`_choose`: a nested function that calls
        itself refers to itself through its closure, a reference cycle that would keep this
        walk (and with it the message's bytes) alive until the cycle collector runs, and the
        import pipeline switches that off while it imports."""
        if depth > MAX_DEPTH:
            return False
        if part.is_multipart():
            sub = part.get_payload()
            return isinstance(sub, list) and any(
                isinstance(s, Message) and self._has_plain(s, depth + 1) for s in sub
            )
        return part.get_content_type() == "text/plain" and self.filename(part) is None

    def _choose(self, children: list[Message]) -> Message | None:
        """The alternative whose text is taken: plain text first, then a part holding plain
        text, then HTML, then the last."""
        for want in ("plain", "nested", "html"):
            for child in children:
                if want == "plain" and not child.is_multipart() and self._has_plain(child):
                    return child
                if want == "nested" and child.is_multipart() and self._has_plain(child):
                    return child
                if (
                    want == "html"
                    and child.get_content_type() == "text/html"
                    and self.filename(child) is None
                ):
                    return child
        return children[-1] if children else None

    def attach(self, part: Message, ctype: str) -> None:
        self.count += 1
        if len(self.attachments) >= MAX_ATTACHMENTS:
            self.problems.add("too_many_parts")
            return
        name = self.filename(part)
        if name is None:
            name = f"part-{self.count}{_TYPE_EXTENSIONS.get(ctype, '')}"
        name = _safe_name(name)
        if not self.complete:
            self.attachments.append(Attachment(name, ctype, None, note=NOTE_TOO_LARGE))
            return
        if part.is_multipart():  # a forwarded message
            source: Callable[[], Iterator[bytes]] = self._message_source(part)
        else:
            run = self._lifted(part)
            if run is not None:
                a, b = self.runs[run]
                source = _run_source(self.data, a, b)
            else:
                source = _part_source(part)
        self.attachments.append(Attachment(name, ctype, self.held.add(source)))

    def _message_source(self, part: Message) -> Callable[[], Iterator[bytes]]:
        """A message/* part's content written back as bytes: a forwarded message whole, a
        delivery report's blocks without the part's own headers. Lifted bodies go back in."""
        inner = part.get_payload()
        message = part
        whole = False
        if (
            part.get_content_type() == "message/rfc822"
            and isinstance(inner, list)
            and inner
            and isinstance(inner[0], Message)
        ):
            message, whole = inner[0], True
        runs, data = self.runs, self.data

        def chunks() -> Iterator[bytes]:
            out = io.BytesIO()
            try:
                BytesGenerator(out, mangle_from_=False, maxheaderlen=0).flatten(message)
                written = out.getvalue()
            except Exception:  # a part the generator cannot write back
                written = message.as_string().encode("utf-8", "surrogateescape")
            if not whole:
                m = _HEADER_END.search(written)
                written = written[m.end() :] if m is not None else b""
            at = 0
            for m in _TOKEN_LINE.finditer(written):
                n = int(m.group(1))
                if n >= len(runs):
                    continue
                yield written[at : m.start()]
                a, b = runs[n]
                yield bytes(data[a:b])
                at = m.end()
            yield written[at:]

        return chunks


def _run_source(data: bytes | bytearray, a: int, b: int) -> Callable[[], Iterator[bytes]]:
    def chunks() -> Iterator[bytes]:
        return _b64_chunks(data, a, b)

    return chunks


def _part_source(part: Message) -> Callable[[], Iterator[bytes]]:
    def chunks() -> Iterator[bytes]:
        payload = decoded_payload(part)
        for i in range(0, len(payload), CHUNK):
            yield payload[i : i + CHUNK]

    return chunks


def decoded_payload(part: Message) -> bytes:
    """A part's body with its transfer encoding undone. A base64 body the library gives back
    still encoded (one character too many: a body cut short) is decoded as far as it goes."""
    payload = part.get_payload(decode=True)
    if not isinstance(payload, bytes):
        return b""
    if any(isinstance(d, email_errors.InvalidBase64LengthDefect) for d in part.defects):
        text = part.get_payload()
        if isinstance(text, str):
            data = text.encode("ascii", "replace").translate(None, b" \t\r\n")
            data = bytes(c for c in data if c in _B64_ALPHABET)
            with suppress(binascii.Error):
                return binascii.a2b_base64(data[: len(data) - len(data) % 4])
    return payload


def _filename(part: Message) -> str | None:
    """The part's file name (Content-Disposition filename, else Content-Type name), RFC 2231
    and RFC 2047 decoded."""
    try:
        name = part.get_filename()
        if name is None:
            param = part.get_param("name")
            if param is not None:
                name = collapse_rfc2231_value(param)
    except Exception:  # malformed parameters: the stdlib raises many kinds
        return None
    if name is None:
        return None
    name = clean(decode_words(" ".join(str(name).split())))
    return name or None


@dataclass(frozen=True)
class Headers:
    """The header fields of one message, read once."""

    block: str
    encoding: str
    fields: list[tuple[str, str]]

    def first(self, name: str) -> str | None:
        for n, v in self.fields:
            if n == name:
                return v
        return None

    def all(self, name: str) -> list[str]:
        return [v for n, v in self.fields if n == name]


def header_block(data: bytes | bytearray) -> tuple[int, int, bool]:
    """Where the header block ends in ``data`` (exclusive, after its last line end), where
    the body starts, and whether the block was cut at :data:`MAX_HEADER`."""
    if data[:1] == b"\n":
        return 0, 1, False
    if data[:2] == b"\r\n":
        return 0, 2, False
    m = _HEADER_END.search(data, 0, MAX_HEADER + 2)
    if m is not None:
        return m.start() + 1, m.end(), False
    if len(data) <= MAX_HEADER:
        return len(data), len(data), False
    cut = data.rfind(b"\n", 0, MAX_HEADER) + 1 or MAX_HEADER
    return cut, cut, True


def read_message(
    raw: RawMessage, tz: ZoneInfo, what: str = "message"
) -> tuple[Item, list[ImportWarning], Held]:
    """One message -> its item, the warnings about it (in order) and what its attachments
    read from (release it when the next item is asked for)."""
    data = raw.data
    line = raw.line
    warnings: list[ImportWarning] = []

    def warn(code: str, message: str) -> None:
        warnings.append(ImportWarning(code, message, line=line, offset=raw.offset))

    where = f"The {what} that starts on line {line}"
    end, body_start, cut = header_block(data)
    block, encoding = decode_header_block(data[:end])
    headers = Headers(block, encoding, split_fields(block))
    if cut:
        warn(
            "headers_too_long",
            f"{where} has more than {MAX_HEADER >> 20} MB of header lines, which no real "
            "e-mail has. Docket kept the first part of them; the file may be damaged.",
        )

    complete = raw.complete
    skeleton, runs = lift(data, body_start)
    if len(skeleton) > MAX_SKELETON:
        skeleton = bytes(skeleton[:MAX_SKELETON])
        complete = False
    held = Held(data)
    walk = _Walk(data, runs, held, complete)
    try:
        message = BytesParser(policy=email_policy.compat32).parsebytes(bytes(skeleton))
        walk.walk(message)
    except Exception:  # the parser is tolerant; this is a last resort
        walk.problems.add("unreadable")
    if not complete:
        size_mb = max(raw.size, len(data)) // 1_000_000
        warn(
            "message_too_large",
            f"{where} is about {size_mb:,} MB, more than Docket reads at once. Its sender, date "
            "and the text at its start were imported, but its attachments were not; they are "
            "still in the original file, which the diary keeps.",
        )
    if "unreadable" in walk.problems:
        warn(
            "unreadable_message",
            f"The body of {where[4:]} could not be read, so only its headers were imported. "
            "The original file, which the diary keeps, still holds it.",
        )
    if walk.problems & {"unknown_charset", "wrong_charset"}:
        warn(
            "text_encoding",
            f"Some text in {where[4:]} says it is in a character set that does not match its "
            "bytes, so Docket read it as UTF-8 or Windows-1252. A few characters may show "
            "wrongly; the original is unchanged in the file.",
        )
    if "too_deep" in walk.problems or "too_many_parts" in walk.problems:
        warn(
            "too_many_parts",
            f"{where} has more nested parts than Docket follows ({MAX_DEPTH} levels, "
            f"{MAX_ATTACHMENTS} attachments). The rest were not imported; the original file "
            "holds them.",
        )
    if raw.last and walk.cut and not data.endswith(b"\n"):
        warn(
            "message_cut_short",
            f"{where} ends before its last part does, so the file may have been cut short "
            "(a copy or download that did not finish). What was there was imported.",
        )

    # who, when, what
    sender: Party | None = None
    from_name = ""
    for field_name in ("from", "sender"):
        value = headers.first(field_name)
        if value:
            found = addresses(value)
            if found:
                from_name, address = found[0]
                sender = party(from_name, address)
                if sender is not None:
                    break
    recipients: list[Party] = []
    seen: set[str] = set()
    for field_name in ("to", "cc", "bcc"):
        for value in headers.all(field_name):
            for name, address in addresses(value):
                p = party(name, address)
                if p is not None and p.raw not in seen:
                    seen.add(p.raw)
                    recipients.append(p)

    date_value = headers.first("date")
    parsed = parse_date(date_value, tz)
    if parsed.problem == "missing":
        warn("missing_date", f"{where} has no date, so it was imported without a time.")
    elif parsed.problem == "unreadable":
        warn(
            "bad_date",
            f"The date of {where[4:]} is not written in a way Docket can read, so it was "
            "imported without a time. The date is kept as written.",
        )
    elif parsed.problem in ("no_zone", "unknown_zone"):
        why = (
            "has no time zone"
            if parsed.problem == "no_zone"
            else "names a time zone Docket does not know"
        )
        warn(
            "date_without_zone",
            f"The date of {where[4:]} {why}, so Docket read it as a time in {tz.key}. The "
            "date is kept as written.",
        )

    texts = walk.texts
    if any(t == "text/plain" for t, _, _ in texts):
        # HTML shown beside plain text (not as its alternative) is kept as an attachment
        for t, _, part in texts:
            if t == "text/html":
                walk.attach(part, t)
        texts = [x for x in texts if x[0] == "text/plain"]
    body: str | None = None
    if texts:
        body = "\n\n".join(x.rstrip("\n") for _, x, _ in texts if x.strip())
        if len(body) > MAX_BODY:
            body = body[:MAX_BODY]
            warn(
                "message_too_long",
                f"The text of {where[4:]} is longer than {MAX_BODY >> 20} million characters. "
                "Docket kept the start of it; the original file holds the rest.",
            )

    references = headers.first("references")
    in_reply_to = headers.first("in-reply-to")
    message_id = headers.first("message-id")
    thread = None
    for value in (references, in_reply_to, message_id):
        if value:
            ids = message_ids(value)
            if ids:
                thread = clean(ids[0])
                break

    item_raw: dict[str, str] = {}
    if raw.envelope is not None:
        item_raw["envelope"] = raw.envelope
    item_raw["headers"] = headers.block
    item_raw["headers_encoding"] = headers.encoding
    subject = headers.first("subject")
    if subject is not None:
        item_raw["subject"] = decode_words(subject)
    if from_name:
        item_raw["from_name"] = from_name
    for key, field_name in (
        ("message_id", "message-id"),
        ("in_reply_to", "in-reply-to"),
        ("references", "references"),
        ("date", "date"),
        ("x_gmail_labels", "x-gmail-labels"),
    ):
        value = headers.first(field_name)
        if value is not None:
            item_raw[key] = value
    for key, field_name in (("dkim_signature", "dkim-signature"), ("received", "received")):
        values = headers.all(field_name)
        if values:
            item_raw[key] = "\n".join(values)
    if texts:
        item_raw["body_type"] = texts[0][0]
    item_raw.update(raw.extra)

    item = Item(
        kind="message",
        channel="email",
        direction="unknown",
        sender=sender,
        sent_at=parsed.when,
        local_time=date_value or "",
        body=body,
        recipients=tuple(recipients),
        thread=thread,
        attachments=tuple(walk.attachments),
        match_body=match_text(body),
        line=line,
        offset=raw.offset,
        raw={k: clean(v) for k, v in item_raw.items()},
    )
    return item, warnings, held


def stream(
    messages: Iterator[RawMessage | ImportWarning], context: Context, what: str = "message"
) -> Iterator[Item | ImportWarning]:
    """Items from raw messages, releasing each item's attachments when the next is asked
    for. Warnings from the reader pass through in order."""
    tz = zone(context.timezone)
    held: Held | None = None
    try:
        for raw in messages:
            if isinstance(raw, ImportWarning):
                yield raw
                continue
            try:
                item, warnings, held = read_message(raw, tz, what)
            except Exception:  # a fault in Docket on one message must not stop the rest
                yield ImportWarning(
                    "unreadable_message",
                    f"The {what} that starts on line {raw.line} could not be read, so it was "
                    "not imported. The original file, which the diary keeps, still holds it. "
                    "Please report this, with the line number but not the file.",
                    line=raw.line,
                    offset=raw.offset,
                )
                continue
            yield from warnings
            yield item
            held.release()  # the consumer has asked for the next item
            held = None
    finally:
        if held is not None:
            held.release()


# --- finding an e-mail in a file ----------------------------------------------------------------

_CORE_FIELDS: Final = frozenset(
    {
        "from",
        "to",
        "cc",
        "date",
        "subject",
        "message-id",
        "received",
        "return-path",
        "mime-version",
        "delivered-to",
        "reply-to",
        "sender",
        "in-reply-to",
        "references",
        "content-type",
        "x-gm-thrid",
        "x-gmail-labels",
        "dkim-signature",
        "authentication-results",
        "arc-seal",
        "x-mozilla-status",
        "user-agent",
        "x-mailer",
    }
)


def looks_like_headers(head: bytes) -> float:
    """How much ``head`` (a file's start, after any envelope line) looks like a message's
    header block: 0 (not at all) to 0.9."""
    if not head:
        return 0.0
    lines = head[:16384].split(b"\n")
    if len(lines) > 1 and len(head) > 16384:
        lines.pop()
    names: list[str] = []
    for raw_line in lines[:200]:
        text = raw_line.rstrip(b"\r")
        if not text:
            break
        if b"\x00" in text:
            return 0.0
        if text[:1] in (b" ", b"\t"):
            if not names:
                return 0.0
            continue
        m = _FIELD_LINE.match(text)
        if m is None:
            return 0.0 if len(names) < 2 else min(0.5, 0.1 * len(names))
        names.append(text[: text.index(b":")].strip().decode("ascii").lower())
    core = {n for n in names if n in _CORE_FIELDS}
    if len(names) < 2 or not core:
        return 0.0
    if "from" in core and core & {"date", "subject", "message-id", "to", "received"}:
        return 0.9
    if len(core) >= 2:
        return 0.75
    return 0.5


def _eml_start(head: bytes) -> tuple[int, int | None]:
    """Where the message starts in a file beginning ``head``: after a BOM, and after an Apple
    Mail .emlx byte count; the count itself when there is one."""
    at = len(BOM) if head.startswith(BOM) else 0
    m = re.match(rb"[ \t]*(\d{1,12})[ \t]*\r?\n", head[at : at + 32])
    if m is not None:
        return at + m.end(), int(m.group(1))
    return at, None


# --- the importer -----------------------------------------------------------------------------


def format_error(
    message: str, cause: str, hint: str, name: str, line: int | None = None
) -> ImportFormatError:
    return ImportFormatError(
        message, cause=cause, hint=hint, location=Location(file=name or None, line=line)
    )


class Eml(Importer):
    """One e-mail saved as a file: .eml (any mail program's "Save as"), or Apple Mail .emlx."""

    name = "eml"
    version = "1"
    label = "E-mail message (.eml)"

    def score(self, probe: Probe) -> float:
        head = probe.head
        if probe.zip_names or head.startswith((b"PK\x03\x04", b"\xd0\xcf\x11\xe0")):
            return 0.0
        at, count = _eml_start(head)
        body = head[at:]
        if body.startswith(b"From "):
            return 0.5 if looks_like_headers(body.partition(b"\n")[2]) else 0.0
        score = looks_like_headers(body)
        lower = probe.name.lower()
        if score and (lower.endswith((".eml", ".emlx")) or count is not None):
            score += 0.05
        if not score and lower.endswith((".eml", ".emlx")) and head.strip():
            score = 0.3  # named as ours: ours to explain why it cannot be read
        return round(min(score, 0.95), 3)

    def parse(self, source: Source, context: Context) -> Iterator[Item | ImportWarning]:
        return stream(_eml_messages(source, context.name), context)


def _eml_messages(source: Source, name: str) -> Iterator[RawMessage]:
    size = source.size
    with source.open() as f:
        head = f.read(64 * 1024)
        if not head.strip():
            raise format_error(
                "The file is empty.",
                "It has no text in it, so there is no message to import.",
                "Check that you chose the right file, and that it finished copying.",
                name,
            )
        at, count = _eml_start(head)
        line = 1 + head.count(b"\n", 0, at)
        start = at
        envelope: str | None = None
        if head[at:].startswith(b"From ") and looks_like_headers(head[at:].partition(b"\n")[2]):
            first, _, _ = head[at:].partition(b"\n")
            envelope = decode_header_block(first.rstrip(b"\r"))[0]
            start = at + len(first) + 1
        if not _FIELD_LINE.match(head, start):
            raise format_error(
                "This file does not look like an e-mail message.",
                "An e-mail file starts with header lines such as 'From: …', 'To: …' and "
                "'Subject: …', and this one does not.",
                "Choose a message saved from a mail program (a .eml file). For a whole "
                "mailbox, choose the .mbox file; for Outlook, the .msg file.",
                name,
                1,
            )
        length = size - start
        if count is not None:
            length = min(length, count)
        complete = length <= MAX_MESSAGE
        f.seek(start)
        try:
            data = f.read(length if complete else HEAD_KEEP)
        except OSError as exc:
            raise format_error(
                "Docket could not read the whole file.",
                f"Reading it failed ({exc.strerror or exc}).",
                "If the file is on a memory card or a network drive, copy it to this "
                "computer first, then import the copy.",
                name,
            ) from exc
    extra = {"emlx_length": str(count)} if count is not None else {}
    yield RawMessage(
        data=data,
        line=line,
        offset=at,
        envelope=envelope,
        size=length,
        complete=complete,
        last=True,
        extra=extra,
    )
