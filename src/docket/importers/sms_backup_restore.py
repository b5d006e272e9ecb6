"""Reads Android "SMS Backup & Restore" XML backups into importer items.

One responsibility: stream one ``<smses>`` file (SMS and MMS) or ``<calls>`` file (call log),
as written by SyncTech's SMS Backup & Restore or by a converter that uses the same schema, and
yield the normalised items and warnings of :mod:`docket.importers.base`, in file order.

The traps it deals with (research notes, ``formats.md`` §2 and §8):

- Files reach many gigabytes because MMS media is inline base64. The file is read with
  ``lxml.etree.iterparse`` (``huge_tree``) through :class:`BackupFilter`, which lifts every
  attachment's base64 text out of the byte stream before lxml sees it (libxml2 would keep
  several copies of a large attribute, and cannot read one over 10^9 characters). Each record
  is cleared as soon as it has been turned into an item, and an attachment is decoded lazily,
  about 4 MiB of text at a time. Memory is bounded by the largest single record (about its
  size once), not by the file.
- With "store emojis and special characters" the app writes characters outside the Basic
  Multilingual Plane as UTF-16 surrogate character references (``&#55357;&#56834;``), which is
  not XML. :class:`BackupFilter` rewrites each high+low pair into one reference
  (``&#128514;``) on the way in. A lone surrogate, or a reference to a character XML forbids
  (``&#1;``), becomes U+FFFD with a ``bad_character_reference`` warning. The file's own bytes
  are never changed.
- The literal text ``"null"`` means "missing" in every attribute.
- ``date`` is Java epoch milliseconds (UTC); an MMS's ``date_sent`` is in *seconds* and is only
  kept in ``raw``.
- Google Messages writes RCS chats into the MMS table. The rule used here: an ``<mms>`` is RCS
  when its ``creator`` contains ``com.google.android.apps.messaging``, its ``tr_id`` starts with
  ``proto:`` and it has no MMS message id (``m_id`` missing). Google Messages puts a ``proto:``
  ``tr_id`` on carrier MMS as well, but those always carry the carrier's ``m_id`` (see the
  anonymised real backup in the shared samples).
- Each item's ``raw`` keeps every attribute as written. For an MMS the attributes of its parts
  and addresses are kept as ``parts.<i>.<name>`` and ``addrs.<i>.<name>`` (``i`` counts from 0
  in file order); a part's base64 ``data`` is replaced by its length as written,
  ``parts.<i>.data_chars`` (a ``data`` of ``"null"`` or ``""`` is kept as it is).
- Parties: the phone's own side is not named for SMS and calls (the pipeline knows who "me"
  is): the other number is the sender of what came in and the recipient of what went out. An
  MMS names everyone in ``<addrs>`` (137 from; 151 to, 130 cc, 129 bcc), so the recipients of
  an incoming MMS include the phone's own number; the sender is never also listed as a
  recipient, and Android's ``insert-address-token`` stand-in is skipped.
- ``line`` is where the record's start tag begins. libxml2 reports where it ends, which differs
  when the attributes are spread over several lines, so the filter notes the starts itself.
"""

from __future__ import annotations

import binascii
import re
from collections import deque
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import IO, Any, BinaryIO, cast

from lxml import etree

from docket.errors import ImportFormatError, Location
from docket.importers.base import (
    Attachment,
    CallType,
    Context,
    Direction,
    Importer,
    ImportWarning,
    Item,
    Party,
    PartyKind,
    Probe,
    Source,
)

# --- preparing the bytes for lxml -------------------------------------------------------------

# What follows "&#" in a reference to a surrogate code point, decimal or hexadecimal, with
# optional leading zeros and the closing ";".
_HIGH_NUMBER = (
    rb"(?:0*(?:55(?:29[6-9]|[3-9][0-9][0-9])|56(?:[0-2][0-9][0-9]|3[01][0-9]))"
    rb"|[xX]0*[dD][89abAB][0-9a-fA-F]{2});"
)  # U+D800 to U+DBFF
_LOW_NUMBER = (
    rb"(?:0*(?:56(?:3[2-9][0-9]|[4-9][0-9][0-9])|57(?:[0-2][0-9][0-9]|3[0-3][0-9]|34[0-3]))"
    rb"|[xX]0*[dD][c-fC-F][0-9a-fA-F]{2});"
)  # U+DC00 to U+DFFF
# Characters XML 1.0 forbids even as references: C0 controls other than tab, LF and CR, and
# U+FFFE and U+FFFF.
_FORBIDDEN_NUMBER = (
    rb"(?:0*(?:[0-8]|1[124-9]|2[0-9]|3[01]|6553[45])"
    rb"|[xX]0*(?:[0-8bBcCeEfF]|1[0-9a-fA-F]|[fF]{3}[eEfF]));"
)
# One leading "&#" for every alternative lets the regex engine skip ahead to candidates.
_BAD_REF = re.compile(
    rb"&#(?:(" + _HIGH_NUMBER + rb")&#(" + _LOW_NUMBER + rb")|"
    + _HIGH_NUMBER + rb"|" + _LOW_NUMBER + rb"|" + _FORBIDDEN_NUMBER + rb")"
)  # fmt: skip
_HIGH_ENDS = re.compile(rb"&#" + _HIGH_NUMBER + rb"\Z")
_HOLD_WINDOW = 64  # a reference cut by a read is held back if it started this close to the end
_REPLACEMENT_REF = b"&#65533;"
_PAIRS: dict[bytes, bytes] = {}  # a surrogate pair as written -> the one reference for it

# Record start tags and <part> tags, and the comments and CDATA sections in which they are text.
_MARKUP = re.compile(rb"<(?:(sms|mms|call)(?=[\s/>])|(part)(?=[\s/>])|(!--|!\[CDATA\[))")
_MARKUP_HOLD = 9  # len(b"<![CDATA["): a "<" this close to the end may start one of them
_ATTRIBUTE = re.compile(rb"\s*([^\s=/>]+)\s*=\s*([\"'])")
_TAG_END = re.compile(rb"\s*/?>")
_ATTRIBUTE_MAX = 256  # an attribute name and "=" longer than this is not one we are after
_PAYLOAD_MARK = "\ue000"  # a private-use character: never part of base64 text
_TEXT, _COMMENT, _ATTRS, _VALUE, _DATA = range(5)


def _number(written: bytes) -> int:
    """The code point of a reference's number as written, with its closing ";"."""
    if written[:1] in (b"x", b"X"):
        return int(written[1:-1], 16)
    return int(written[:-1])


def _safe_end(buf: bytes) -> int:
    """Where ``buf`` can be cut without splitting a reference, a surrogate pair or the start of
    a tag in two."""
    cut = len(buf)
    lt = buf.rfind(b"<", max(0, cut - _MARKUP_HOLD))
    if lt >= 0:
        cut = lt
    amp = buf.rfind(b"&", max(0, cut - _HOLD_WINDOW), cut)
    if amp < 0:
        return cut
    if b";" in buf[amp:cut]:
        # The last reference is complete; hold it back only if it is a high surrogate whose
        # low half may arrive with the next read.
        return amp if _HIGH_ENDS.match(buf, amp, cut) else cut
    # An unfinished reference; if a complete high surrogate sits right before it, hold that too.
    high = _HIGH_ENDS.search(buf, max(0, amp - _HOLD_WINDOW), amp)
    return high.start() if high else amp


class _Lines:
    """Line numbers of positions in a buffer, asked for in increasing order."""

    __slots__ = ("buf", "line", "pos")

    def __init__(self, buf: bytes, line: int) -> None:
        self.buf, self.line, self.pos = buf, line, 0

    def at(self, pos: int) -> int:
        self.line += self.buf.count(b"\n", self.pos, pos)
        self.pos = pos
        return self.line


class BackupFilter:
    """A read-only byte stream over an SMS Backup & Restore file that prepares it for lxml.

    - Character references: a high+low surrogate pair of references becomes the one reference
      for the real character; a lone surrogate or a forbidden control character becomes
      U+FFFD, and a warning (with the line and byte offset in the original file) is appended to
      :attr:`warnings`.
    - Record starts: :attr:`starts` gets the line and byte offset of every ``<sms``, ``<mms``
      and ``<call`` start tag outside comments, in file order. (libxml2 only knows the line on
      which a start tag *ends*, a later one when its attributes are spread over lines.)
    - Attachments: the value of every ``data`` attribute of a ``<part>`` is lifted out into
      :attr:`payloads`, as the raw bytes read, and lxml is shown a short mark in its place
      (:data:`_PAYLOAD_MARK`, the payload's number, and as many line breaks as the value had).
      libxml2 would otherwise keep several copies of a 50 MB attribute while it parses it, and
      cannot read one over 1,000,000,000 characters at all.

    References and tags cut by a read boundary are held back until the rest arrives. Line
    numbers stay those of the file.
    """

    def __init__(self, raw: BinaryIO, chunk_size: int = 1 << 16) -> None:
        self._raw = raw
        self._chunk = chunk_size
        self._held = b""
        self._out = b""
        self._eof = False
        self._offset = 0  # offset in the file of the first byte not yet passed on
        self._line = 1  # line number at that offset
        self._mode = _TEXT
        self._until = b""  # what ends the comment, CDATA section or attribute value we are in
        self._payload: list[bytes] = []
        self._records = 0
        self.bytes_read = 0
        self.warnings: deque[ImportWarning] = deque()
        self.starts: deque[tuple[int, int]] = deque()
        # payload number -> (the number of the record it came in, counting from 0; its bytes)
        self.payloads: dict[int, tuple[int, list[bytes]]] = {}
        self._next_payload = 0

    def read(self, size: int = -1) -> bytes:
        while not self._out and not self._eof:
            self._fill()
        out = self._out
        if 0 <= size < len(out):
            self._out = out[size:]
            return out[:size]
        self._out = b""
        return out

    def drop_payloads(self, record: int) -> None:
        """Forgets the payloads of records up to ``record``, claimed or not."""
        for number in [n for n, (r, _) in self.payloads.items() if r <= record]:
            del self.payloads[number]

    def _fill(self) -> None:
        chunk = self._raw.read(self._chunk)
        if chunk:
            self.bytes_read += len(chunk)
            buf = self._held + chunk if self._held else chunk
            limit = _safe_end(buf)
        else:
            self._eof = True
            buf = self._held
            limit = len(buf)
        out: list[bytes] = []
        consumed = self._scan(buf, limit, out)
        self._held = buf[consumed:]
        self._out = out[0] if len(out) == 1 else b"".join(out)
        self._line += buf.count(b"\n", 0, consumed)
        self._offset += consumed

    def _scan(self, buf: bytes, limit: int, out: list[bytes]) -> int:
        """Walks ``buf`` up to ``limit``, adding what lxml should see to ``out``; returns how
        far it got (the rest is read again with the next chunk)."""
        mode, until = self._mode, self._until
        passed = _Lines(buf, self._line)
        line, counted = self._line, 0  # for record starts, which come in order
        pos = seg = 0  # seg: where the bytes not yet added to out begin
        while pos < limit:
            if mode == _TEXT:
                for m in _MARKUP.finditer(buf, pos, limit):
                    if m.lastindex != 1:
                        break
                    start = m.start()  # a record starts: the common case, kept short
                    line += buf.count(b"\n", counted, start)
                    counted = start
                    self.starts.append((line, self._offset + start))
                    self._records += 1
                else:
                    pos = limit
                    continue
                if m.lastindex == 2:
                    mode, pos = _ATTRS, m.end()
                else:
                    mode, until = _COMMENT, b"-->" if m.group(3) == b"!--" else b"]]>"
                    pos = m.end()
            elif mode == _COMMENT:
                end = buf.find(until, pos, limit)
                if end < 0:  # keep two bytes back: the end may have been cut after "--"
                    pos = limit if self._eof else max(pos, limit - 2)
                    break
                mode, pos = _TEXT, end + len(until)
            elif mode == _ATTRS:
                attr = _ATTRIBUTE.match(buf, pos, limit)
                if attr is not None:
                    pos, until = attr.end(), attr.group(2)
                    if attr.group(1) == b"data":
                        self._pass(buf, seg, pos, passed, out)
                        mode, seg, self._payload = _DATA, pos, []
                    else:
                        mode = _VALUE
                    continue
                closed = _TAG_END.match(buf, pos, limit)
                if closed is not None:
                    mode, pos = _TEXT, closed.end()
                elif limit - pos < _ATTRIBUTE_MAX and not self._eof:
                    break  # an attribute cut short: wait for the rest
                else:
                    mode = _TEXT  # not a tag this filter understands; lxml will judge it
            elif mode == _VALUE:
                end = buf.find(until, pos, limit)
                if end < 0:
                    pos = limit
                else:
                    mode, pos = _ATTRS, end + 1
            else:  # _DATA
                end = buf.find(until, pos, limit)
                if end < 0:
                    self._payload.append(buf[pos:limit])
                    pos = seg = limit
                    break
                self._payload.append(buf[pos:end])
                out.append(self._mark())
                mode, pos, seg = _ATTRS, end + 1, end
        self._mode, self._until = mode, until
        self._pass(buf, seg, pos, passed, out)
        return pos

    def _mark(self) -> bytes:
        number = self._next_payload
        self._next_payload += 1
        self.payloads[number] = (self._records - 1, self._payload)
        breaks = sum(piece.count(b"\n") for piece in self._payload)
        self._payload = []
        return f"{_PAYLOAD_MARK}{number}".encode() + b"\n" * breaks

    def _pass(self, buf: bytes, start: int, end: int, lines: _Lines, out: list[bytes]) -> None:
        """Adds ``buf[start:end]`` to ``out``, with its character references repaired."""
        if start >= end:
            return
        part = buf if start == 0 and end == len(buf) else buf[start:end]
        if b"&#" not in part:
            out.append(part)
            return
        first_line = lines.at(start)
        base = self._offset + start

        def replace(m: re.Match[bytes]) -> bytes:
            written = m.group(0)
            known = _PAIRS.get(written)
            if known is not None:
                return known
            if m.group(1) is not None:
                high, low = _number(m.group(1)), _number(m.group(2))
                ref = b"&#%d;" % (0x10000 + ((high - 0xD800) << 10) + (low - 0xDC00))
                if len(_PAIRS) < 4096:  # the same few emoji come up again and again
                    _PAIRS[written] = ref
                return ref
            ref_text = written.decode("ascii")
            self.warnings.append(
                ImportWarning(
                    code="bad_character_reference",
                    message=(
                        f"The character reference {ref_text} does not stand for a character that "
                        "can be stored, so it was replaced with U+FFFD (the replacement "
                        "character)."
                    ),
                    line=first_line + part.count(b"\n", 0, m.start()),
                    offset=base + m.start(),
                )
            )
            return _REPLACEMENT_REF

        out.append(_BAD_REF.sub(replace, part))


# --- attachments ------------------------------------------------------------------------------

_B64_SLICE = 4 * 1024 * 1024  # characters of base64 text decoded at a time
_B64_ALPHABET = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
_NOT_B64 = bytes(b for b in range(256) if b not in _B64_ALPHABET)
_REFERENCE = re.compile(rb"&[^;&]*;")  # e.g. "&#10;" for a line break the app escaped


class _Payload:
    """An attachment as the backup holds it, until the next item is requested.

    The importer contract lets an attachment's chunks be read only until then, so the reader
    lets go of the (possibly very large) text at that point instead of keeping it alive for as
    long as the caller keeps the item.
    """

    __slots__ = ("content", "name")

    def __init__(self, name: str, content: list[bytes] | str) -> None:
        self.name = name
        self.content: list[bytes] | str | None = content

    def release(self) -> None:
        self.content = None

    def _content(self) -> list[bytes] | str:
        if self.content is None:
            raise RuntimeError(
                f"The contents of {self.name} were asked for after the next item had been "
                "read; an attachment's chunks must be read before that."
            )
        return self.content

    def _slices(self) -> Iterator[bytes]:
        """The base64 text as bytes, about 4 MiB at a time, references removed."""
        content = self._content()
        if isinstance(content, str):
            for start in range(0, len(content), _B64_SLICE):
                yield content[start : start + _B64_SLICE].encode("ascii", "ignore")
            return
        group: list[bytes] = []
        size = 0
        for piece in content:  # pieces never end inside a reference (see _safe_end)
            group.append(_REFERENCE.sub(b"", piece) if b"&" in piece else piece)
            size += len(piece)
            if size >= _B64_SLICE:
                yield b"".join(group)
                group, size = [], 0
        if group:
            yield b"".join(group)

    def base64_chunks(self) -> Iterator[bytes]:
        """The decoded bytes, about 4 MiB of base64 text at a time.

        Decoding is lenient: anything outside the base64 alphabet (line breaks, spaces, "="
        padding, escaped line breaks) is skipped and the rest is read as one unbroken run of
        6-bit groups. The decoded payload is never held whole.
        """
        carry = b""
        for piece in self._slices():
            piece = carry + piece.translate(None, _NOT_B64)
            usable = len(piece) - len(piece) % 4
            carry = piece[usable:]
            if usable:
                yield binascii.a2b_base64(piece[:usable] if carry else piece)
        if len(carry) > 1:  # a final group of 2 or 3 characters still holds 1 or 2 bytes
            yield binascii.a2b_base64(carry + b"=" * (4 - len(carry)))

    def utf8_chunks(self) -> Iterator[bytes]:
        content = self._content()
        yield content.encode("utf-8") if isinstance(content, str) else b"".join(content)


# --- fields -----------------------------------------------------------------------------------

_NULL = "null"
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
# Below 2**32 seconds a float's error is under 0.5 µs, so millis / 1000 rounds back exactly.
_FLOAT_EXACT_MS = 2**32 * 1000
_PHONE = re.compile(r"[+0-9()\-. *#/]*[0-9][0-9()\-. *#/]*")
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+")
_OWN_NUMBER_PLACEHOLDER = "insert-address-token"  # Android's stand-in for the phone's number

# type -> (direction, what the status was when it is not simply received or sent)
_SMS_TYPES: dict[str, tuple[Direction, str | None]] = {
    "1": ("incoming", None),
    "2": ("outgoing", None),
    "3": ("outgoing", "draft (never sent)"),
    "4": ("outgoing", "outbox (not yet sent)"),
    "5": ("outgoing", "failed (not sent)"),
    "6": ("outgoing", "queued (not yet sent)"),
}
_MMS_BOXES: dict[str, tuple[Direction, str | None]] = {
    "1": ("incoming", None),
    "2": ("outgoing", None),
    "3": ("outgoing", "draft (never sent)"),
    "4": ("outgoing", "outbox (not yet sent)"),
    "5": ("outgoing", "failed (not sent)"),
}
_CALL_TYPES: dict[str, tuple[CallType, Direction, str | None]] = {
    "1": ("incoming", "incoming", None),
    "2": ("outgoing", "outgoing", None),
    "3": ("missed", "incoming", None),
    "4": ("voicemail", "incoming", None),
    "5": ("rejected", "incoming", None),
    "6": ("blocked", "incoming", None),
    "7": ("incoming", "incoming", "answered elsewhere"),  # on another device
}
_UNKNOWN_DIRECTION: tuple[Direction, str | None] = ("unknown", None)
_UNKNOWN_CALL: tuple[CallType, Direction, str | None] = ("unknown", "unknown", None)
_WITHHELD_PRESENTATION = frozenset({"2", "3", "4"})  # restricted, unknown, payphone
_WITHHELD_NUMBERS = frozenset({"", _NULL, "-1", "-2", "-3"})
_ADDR_FROM, _ADDR_RECIPIENTS = "137", frozenset({"151", "130", "129"})  # to, cc, bcc
_RCS_CREATOR = "com.google.android.apps.messaging"


def _present(value: str | None) -> str | None:
    """The value, or None when the attribute is absent or the literal "null"."""
    return None if value is None or value == _NULL else value


@lru_cache(maxsize=4096)
def _party(address: str) -> Party:
    kind: PartyKind
    if _PHONE.fullmatch(address):
        kind = "phone"
    elif _EMAIL.fullmatch(address):
        kind = "email"
    else:
        kind = "name"  # alphanumeric sender ids such as "OTP Bank"
    return Party(address, kind)


def _instant(value: str | None) -> datetime | None:
    """Java epoch milliseconds (UTC) as an aware datetime; None when unusable."""
    if value is None or not value.isascii() or not value.isdigit():
        return None
    millis = int(value)
    if millis == 0:
        return None  # "0" is what Android stores when it has no time
    if millis < _FLOAT_EXACT_MS:
        # Rounding to the microsecond makes this exact, and it is the quicker way.
        return datetime.fromtimestamp(millis / 1000, UTC)
    try:
        return _EPOCH + timedelta(milliseconds=millis)
    except OverflowError:
        return None


def _local_time(raw: dict[str, str]) -> str:
    readable = raw.get("readable_date")
    if readable is not None and readable != _NULL:
        return readable
    return _present(raw.get("date")) or ""


def _where(what: str, line: int | None) -> str:
    return f"The {what} at line {line}" if line else f"A {what}"


def _bad_date(what: str, line: int | None) -> ImportWarning:
    return ImportWarning(
        code="bad_date",
        message=f"{_where(what, line)} has no usable date, so it was kept without one.",
        line=line,
    )


def _unknown_direction(what: str, field: str, line: int | None) -> ImportWarning:
    return ImportWarning(
        code="unknown_type",
        message=(
            f"{_where(what, line)} does not say whether it was sent or received ({field} is "
            "missing or has a value Docket does not know), so its direction is recorded as "
            "unknown."
        ),
        line=line,
    )


class _Batch:
    """What reading one record leaves besides its item: warnings about it, and the payloads
    to let go of once the next item is asked for. ``extracted`` is the filter's store of
    attachment data lifted out of the file."""

    __slots__ = ("extracted", "payloads", "warnings")

    def __init__(self, extracted: dict[int, tuple[int, list[bytes]]]) -> None:
        self.extracted = extracted
        self.warnings: list[ImportWarning] = []
        self.payloads: list[_Payload] = []


_Reader = Callable[[etree._Element, "int | None", _Batch], Item]


def _sms(elem: etree._Element, line: int | None, batch: _Batch) -> Item:
    raw = cast("dict[str, str]", dict(elem.items()))
    sent_at = _instant(raw.get("date"))
    if sent_at is None:
        batch.warnings.append(_bad_date("text message", line))
    known = _SMS_TYPES.get(raw.get("type", ""))
    if known is None:
        batch.warnings.append(_unknown_direction("text message", "type", line))
        known = _UNKNOWN_DIRECTION
    direction, status = known
    if status:
        raw["status_text"] = status
    address = raw.get("address")
    if address == _NULL or not address:
        address = None
    party = _party(address) if address else None
    body = raw.get("body")
    return Item(
        kind="message",
        channel="sms",
        direction=direction,
        sender=party if direction == "incoming" else None,
        recipients=(party,) if party and direction == "outgoing" else (),
        sent_at=sent_at,
        local_time=_local_time(raw),
        body=None if body == _NULL else body,
        thread=address,
        line=line,
        raw=raw,
    )


def _mms(elem: etree._Element, line: int | None, batch: _Batch) -> Item:
    raw = cast("dict[str, str]", dict(elem.items()))
    sent_at = _instant(raw.get("date"))
    if sent_at is None:
        batch.warnings.append(_bad_date("multimedia message", line))
    texts: list[str] = []
    attachments: list[Attachment] = []
    senders: list[str] = []
    recipients: list[str] = []
    for group in elem:
        tag = group.tag
        if not isinstance(tag, str):
            continue  # a comment or processing instruction
        for i, child in enumerate(group):
            prefix = f"{tag}.{i}."
            data: list[bytes] | str | None = None
            attrs: dict[str, str] = {}
            for key, value in cast("list[tuple[str, str]]", child.items()):
                if key == "data":
                    data, written, size = _claim(value, batch, line)
                    if data is None:
                        raw[prefix + "data"] = written
                    else:
                        raw[prefix + "data_chars"] = str(size)
                else:
                    attrs[key] = value
                    raw[prefix + key] = value
            if tag == "parts":
                part = _part(attrs, data, i, texts, batch.payloads)
                if part is not None:
                    attachments.append(part)
            elif tag == "addrs":
                address = _present(attrs.get("address"))
                if address and address != _OWN_NUMBER_PLACEHOLDER:
                    kind = attrs.get("type")
                    if kind == _ADDR_FROM:
                        senders.append(address)
                    elif kind in _ADDR_RECIPIENTS:
                        recipients.append(address)

    known = _MMS_BOXES.get(raw.get("msg_box", ""))
    if known is None:
        batch.warnings.append(_unknown_direction("multimedia message", "msg_box", line))
        known = _UNKNOWN_DIRECTION
    direction, status = known
    if status:
        raw["status_text"] = status

    # The <addrs> name the people; the "~"-joined address is the fallback when they are missing
    # (an RCS group id such as group_8@rcs.google.com names a chat, not a person).
    address = _present(raw.get("address"))
    members = [a for a in address.split("~") if a and "@rcs." not in a] if address else []
    sender = senders[0] if senders else None
    if sender is None and direction == "incoming" and len(members) == 1:
        sender = members[0]
    if not recipients and not senders and direction == "outgoing":
        recipients = members
    named: list[Party] = []
    seen = {sender}  # the sender is not also one of the recipients
    for a in recipients:
        if a not in seen:
            seen.add(a)
            named.append(_party(a))

    rcs = (
        _RCS_CREATOR in raw.get("creator", "")
        and raw.get("tr_id", "").startswith("proto:")
        and _present(raw.get("m_id")) is None
    )
    return Item(
        kind="message",
        channel="rcs" if rcs else "mms",
        direction=direction,
        sender=_party(sender) if sender and direction != "outgoing" else None,
        recipients=tuple(named),
        sent_at=sent_at,
        local_time=_local_time(raw),
        body="\n".join(texts) if texts else None,
        thread="~".join(sorted(address.split("~"))) if address and "~" in address else address,
        attachments=tuple(attachments),
        line=line,
        raw=raw,
    )


def _claim(
    value: str, batch: _Batch, line: int | None
) -> tuple[list[bytes] | str | None, str, int]:
    """A part's ``data`` as lxml saw it -> (the attachment's content, or None when the backup
    does not include it; the value as written when it is not included; its length)."""
    if value.startswith(_PAYLOAD_MARK):
        number = value[len(_PAYLOAD_MARK) :].strip()
        entry = batch.extracted.pop(int(number), None) if number.isdigit() else None
        if entry is None:  # only a file made to confuse the reader gets here
            batch.warnings.append(
                ImportWarning(
                    code="unreadable_attachment",
                    message=f"{_where('multimedia message', line)} has an attachment whose "
                    "data could not be read, so it was kept without it.",
                    line=line,
                )
            )
            return None, "", 0
        pieces = entry[1]
        size = sum(len(piece) for piece in pieces)
        if size > len(_NULL):
            return pieces, "", size
        value = b"".join(pieces).decode("ascii", "replace")
    if value in ("", _NULL):
        return None, value, 0
    return value, "", len(value)


def _part(
    attrs: dict[str, str],
    data: list[bytes] | str | None,
    index: int,
    texts: list[str],
    payloads: list[_Payload],
) -> Attachment | None:
    """Adds a text part to ``texts``; returns the attachment for any other part but SMIL."""
    content_type = _present(attrs.get("ct"))
    lowered = (content_type or "").lower()
    if lowered == "application/smil":
        return None  # the slide layout; its text stays in raw
    text = _present(attrs.get("text"))
    if lowered in ("text/plain", ""):
        if text is not None:
            texts.append(text)
            return None
        if data is None:
            return None  # an empty text part
    name = (
        _present(attrs.get("cl"))
        or _present(attrs.get("name"))
        or _present(attrs.get("fn"))
        or f"part-{_present(attrs.get('seq')) or index}"
    )
    if data is not None:
        payload = _Payload(name, data)
        payloads.append(payload)
        return Attachment(name, content_type, payload.base64_chunks)
    if text is not None:  # e.g. a vCard kept as text rather than as data
        payload = _Payload(name, text)
        payloads.append(payload)
        return Attachment(name, content_type, payload.utf8_chunks)
    return Attachment(name, content_type, None, note="not included in the backup")


def _call(elem: etree._Element, line: int | None, batch: _Batch) -> Item:
    raw = cast("dict[str, str]", dict(elem.items()))
    sent_at = _instant(raw.get("date"))
    if sent_at is None:
        batch.warnings.append(_bad_date("call", line))
    known = _CALL_TYPES.get(raw.get("type", ""))
    if known is None:
        batch.warnings.append(_unknown_direction("call", "type", line))
        known = _UNKNOWN_CALL
    call_type, direction, status = known
    if status:
        raw["status_text"] = status
    number = raw.get("number")
    if raw.get("presentation") in _WITHHELD_PRESENTATION or (number or "") in _WITHHELD_NUMBERS:
        party = Party(_present(number) or "", "withheld")
    else:
        party = _party(cast(str, number))
    duration: int | None = None
    written = _present(raw.get("duration"))
    if written is not None:
        if written.isascii() and written.isdigit():
            duration = int(written)
        else:
            batch.warnings.append(
                ImportWarning(
                    code="bad_duration",
                    message=f"{_where('call', line)} has a duration that is not a whole "
                    "number of seconds, so it was kept without one.",
                    line=line,
                )
            )
    return Item(
        kind="call",
        channel="phone",
        direction=direction,
        sender=party if direction == "incoming" else None,
        recipients=(party,) if direction == "outgoing" else (),
        sent_at=sent_at,
        local_time=_local_time(raw),
        call_type=call_type,
        duration_s=duration,
        line=line,
        raw=raw,
    )


_READERS: dict[str, _Reader] = {"sms": _sms, "mms": _mms, "call": _call}
_ROOTS = ("smses", "calls")

# --- the importer -----------------------------------------------------------------------------

_ROOT_IN_HEAD = re.compile(rb"<(?:smses|calls)[\s>/]")
_RECORD_IN_HEAD = re.compile(rb"<(?:sms|mms|call)\s")
_SYNCTECH = b"File Created By SMS Backup & Restore"
_BOM = b"\xef\xbb\xbf"


class SmsBackupRestore(Importer):
    """SMS, MMS (and RCS) messages and call logs from an SMS Backup & Restore XML backup."""

    name = "sms-backup-restore"
    version = "1"
    label = "SMS Backup & Restore (Android)"

    def score(self, probe: Probe) -> float:
        head = probe.head
        if probe.zip_names or head.startswith(b"PK\x03\x04"):
            return 0.0
        start = head[len(_BOM) :] if head.startswith(_BOM) else head
        if not start.lstrip().startswith(b"<"):
            return 0.0
        if _ROOT_IN_HEAD.search(head):
            return 1.0 if _SYNCTECH in head else 0.95
        if _SYNCTECH in head:
            return 0.9
        if _RECORD_IN_HEAD.search(head):
            return 0.6
        return 0.0

    def parse(self, source: Source, context: Context) -> Iterator[Item | ImportWarning]:
        with source.open() as f:
            yield from _read(BackupFilter(f), context.name)


def _read(stream: BackupFilter, file_name: str) -> Iterator[Item | ImportWarning]:
    pending = stream.warnings
    starts = stream.starts
    records = 0
    events: Any = etree.iterparse(
        cast(IO[bytes], stream),
        events=("end",),
        tag=tuple(_READERS),
        huge_tree=True,
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
    )
    batch = _Batch(stream.payloads)
    try:
        for _event, elem in events:
            line: int | None = elem.sourceline
            if starts:  # where the start tag begins, which libxml2 does not say
                first_line = starts.popleft()[0]
                if line is None or first_line <= line:
                    line = first_line
            parent = elem.getparent()
            if records == 0:
                _check_root(parent, file_name, line)
            item = _READERS[elem.tag](elem, line, batch)
            if stream.payloads:
                stream.drop_payloads(records)  # any this record left unclaimed
            # Forget the record, and the empty shells of those before it, so the tree stays
            # one record deep however long the file is.
            elem.clear(keep_tail=False)
            if parent is not None:
                while elem.getprevious() is not None:
                    del parent[0]
            records += 1
            if pending and line is not None:
                while pending and (pending[0].line or 0) < line:
                    yield pending.popleft()
            if batch.warnings:
                yield from batch.warnings
                batch.warnings.clear()
            yield item
            if batch.payloads:
                for payload in batch.payloads:
                    payload.release()
                batch.payloads.clear()
    except etree.LxmlError as exc:
        error = _unreadable(exc, stream, file_name, records)
        line = error.location.line if error.location else None
        while pending and (line is None or (pending[0].line or 0) <= line):
            yield pending.popleft()
        raise error from exc
    yield from pending
    pending.clear()
    root = events.root
    if records == 0:
        _check_root(root, file_name, None)
    if root is not None:
        expected = root.get("count")
        if expected and expected.isascii() and expected.isdigit() and int(expected) != records:
            yield ImportWarning(
                code="count_mismatch",
                message=(
                    f"The backup says it holds {expected} records, but {records} were found. "
                    "Records may have been removed from the file, or the app may have skipped "
                    "some when it made the backup."
                ),
                line=root.sourceline,
            )


def _check_root(root: etree._Element | None, file_name: str, line: int | None) -> None:
    tag = root.tag if root is not None else None
    if tag in _ROOTS:
        return
    found = f"<{tag}>" if isinstance(tag, str) else "a record with nothing around it"
    raise ImportFormatError(
        "This file is XML, but not an SMS Backup & Restore backup.",
        cause=f"Its records are inside {found}, where a backup has <smses> or <calls>.",
        hint="Choose the sms-….xml or calls-….xml file that SMS Backup & Restore made.",
        location=Location(file=file_name or None, line=line),
    )


def _unreadable(
    exc: etree.LxmlError, stream: BackupFilter, file_name: str, records: int
) -> ImportFormatError:
    line = cast("int | None", getattr(exc, "lineno", None)) or None
    reason = cast(str, getattr(exc, "msg", None) or str(exc))
    location = Location(file=file_name or None, line=line)
    details = {"records_read": records}
    if stream.bytes_read == 0:
        return ImportFormatError(
            "The file is empty.",
            cause="It has no bytes at all, so there is nothing to import.",
            hint="Check that you chose the right file, and that it finished copying.",
            location=Location(file=file_name or None),
            details=details,
        )
    if records == 0 and (line or 0) <= 1 and ("Start tag" in reason or "empty" in reason):
        return ImportFormatError(
            "This file is not an SMS Backup & Restore backup: it is not XML.",
            cause=f"The XML reader stopped at once ({reason}).",
            hint="Choose the sms-….xml or calls-….xml file that SMS Backup & Restore made.",
            location=location,
            details=details,
        )
    if "too long" in reason.lower():  # libxml2's limit of 10^9 characters for one value
        hint = (
            "One value in this backup, other than an attachment, is longer than Docket can "
            "read. Please report this, with the line number but not the file."
        )
    else:
        hint = (
            "If the file was copied or downloaded, copy it again and check that the copy is "
            "complete. Otherwise make a fresh backup in SMS Backup & Restore and import that."
        )
    return ImportFormatError(
        f"The backup is damaged or incomplete from line {line} onwards."
        if line
        else "The backup is damaged or incomplete.",
        cause=f"{records} records were read before the XML broke off ({reason}).",
        hint=hint,
        location=location,
        details=details,
    )
