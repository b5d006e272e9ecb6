"""Reading an Outlook message saved as a file (.msg) into an item.

One responsibility: turn one Outlook .msg file (an OLE2 compound file of MAPI properties, read
with the ``extract-msg`` library) into one :class:`~docket.importers.base.Item` and its
warnings, with the same fields and ``raw`` keys as an .eml. It never touches the diary.

What an Outlook file holds (research notes: ``formats.md`` §5.8):

* A message that came in by e-mail usually carries its internet headers as received
  (``PR_TRANSPORT_MESSAGE_HEADERS``). When it does, sender, recipients, Date, Message-ID and
  the rest come from them, exactly as for an .eml, and ``raw["headers"]`` keeps them.
* Otherwise (a message written in Outlook, a draft, a message from an Exchange colleague)
  they come from MAPI properties: the sender's SMTP address, the recipient table, and the
  times Outlook stores in UTC (client submit time, else delivery time; ``local_time`` is then
  that instant written in ISO 8601, since the file has no text for it). A draft that was never
  sent has no such time: it is imported without one, with a warning; ``raw["creation_time"]``
  says when Outlook made it.
* The body is the plain-text body, else the text of the HTML body, else the text of the RTF
  body (``extract-msg`` decompresses and de-encapsulates it).
* Attachments are read from the file when the pipeline asks; an attached Outlook message is
  written out as an .msg of its own. Links to files online are listed without content.
* Contacts, tasks, notes and calendar entries saved as .msg are not messages: the file is
  refused with a plain explanation.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any, Final

import extract_msg
from extract_msg.enums import AttachmentType, ErrorBehavior, RecipientType

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
from docket.importers.email import (
    CHUNK,
    NOTE_UNREADABLE,
    addresses,
    clean,
    decode_words,
    html_text,
    match_text,
    message_ids,
    parse_date,
    party,
    split_fields,
)
from docket.model.timeparse import zone

logging.getLogger("extract_msg").addHandler(logging.NullHandler())

OLE_MAGIC: Final = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
# Stream names only an Outlook item has, as they appear (UTF-16) in the file's directory.
_MSG_STREAMS: Final = tuple(
    s.encode("utf-16-le")
    for s in ("__substg1.0_", "__properties_version1.0", "__nameid_version1.0")
)
# Message classes that are messages (a meeting request or a task request is sent as one).
_MESSAGE_CLASSES: Final = (
    "ipm.note",
    "report",
    "ipm.post",
    "ipm.schedule.meeting",
    "ipm.taskrequest",
    "ipm.skypeteams.message",
    "ipm.outlook.recall",
)
_OTHER_CLASSES: Final = {
    "ipm.contact": "a contact card",
    "ipm.distlist": "a contact group",
    "ipm.task": "a task",
    "ipm.stickynote": "a note",
    "ipm.activity": "a journal entry",
    "ipm.appointment": "a calendar entry",
}
NOTE_LINK: Final = "a link to a file stored online; the file itself is not in the message"

# MAPI property tags (stream names without their type, or property ids with their type)
_SENDER_SMTP = "__substg1.0_5D01"
_SENDER_ADDRESS = "__substg1.0_0C1F"
_SENDER_NAME = "__substg1.0_0C1A"
_REPRESENTING_SMTP = "__substg1.0_5D02"
_REPRESENTING_ADDRESS = "__substg1.0_0065"
_REPRESENTING_NAME = "__substg1.0_0042"
_MESSAGE_ID = "__substg1.0_1035"
_IN_REPLY_TO = "__substg1.0_1042"
_REFERENCES = "__substg1.0_1039"
_SUBMIT_TIME = "00390040"
_DELIVERY_TIME = "0E060040"
_CREATION_TIME = "30070040"


def _is_msg(head: bytes) -> bool:
    return head.startswith(OLE_MAGIC) and any(s in head for s in _MSG_STREAMS)


class OutlookMsg(Importer):
    """One Outlook message saved as a file (.msg)."""

    name = "msg"
    version = "1"
    label = "Outlook message (.msg)"

    def score(self, probe: Probe) -> float:
        head = probe.head
        if not head.startswith(OLE_MAGIC):
            return 0.0
        if _is_msg(head):
            return 0.95
        if probe.name.lower().endswith(".msg"):
            return 0.8  # the directory lies beyond the first 64 KB
        return 0.1  # another Office file (.doc, .xls) most likely

    def parse(self, source: Source, context: Context) -> Iterator[Item | ImportWarning]:
        name = context.name
        msg = _open(source, name)
        try:
            item, warnings = _item(msg, context, name)
            yield from warnings
            yield item
        finally:
            msg.close()


def _unreadable(name: str, detail: str) -> ImportFormatError:
    return ImportFormatError(
        "Docket cannot read this Outlook message file.",
        cause=f"It is damaged, incomplete, or not an Outlook .msg file ({detail}).",
        hint="Save the message from Outlook again (File, Save As, Outlook Message Format) "
        "and import the new file. If it was copied or downloaded, check the copy finished.",
        location=Location(file=name or None),
    )


def _open(source: Source, name: str) -> Any:
    with source.open() as f:
        head = f.read(8)
    if not head:
        raise ImportFormatError(
            "The file is empty.",
            cause="It has no bytes at all, so there is nothing to import.",
            hint="Check that you chose the right file, and that it finished copying.",
            location=Location(file=name or None),
        )
    if head != OLE_MAGIC:
        raise ImportFormatError(
            "This file is not an Outlook message (.msg).",
            cause="Outlook message files start with the signature of an Office compound "
            "file, and this one does not.",
            hint="For a message saved from another mail program choose its .eml file; for a "
            "mailbox, its .mbox file.",
            location=Location(file=name or None, offset=0),
        )
    behaviour = ErrorBehavior.ATTACH_SUPPRESS_ALL | ErrorBehavior.RTFDE
    try:
        msg = extract_msg.openMsg(
            source.open(), strict=False, errorBehavior=behaviour, delayAttachments=True
        )
    except Exception as exc:  # olefile and extract-msg raise many kinds on damaged files
        raise _unreadable(name, type(exc).__name__) from exc
    kind = str(getattr(msg, "classType", "") or "").lower()
    if not kind.startswith(_MESSAGE_CLASSES):
        msg.close()
        what = next((v for k, v in _OTHER_CLASSES.items() if kind.startswith(k)), None)
        if what is None and kind:
            what = f"an Outlook item of type {kind!r}"
        if what is None:
            raise _unreadable(name, "it has no message class")
        raise ImportFormatError(
            f"This Outlook file is {what}, not an e-mail message.",
            cause="Docket imports e-mail messages saved from Outlook.",
            hint="To keep it as evidence anyway, add it to the diary as a file with "
            "'docket attach'.",
            location=Location(file=name or None),
        )
    return msg


def _string(msg: Any, stream: str) -> str | None:
    try:
        value = msg.getStringStream(stream)
    except Exception:  # a damaged stream
        return None
    return clean(value) if isinstance(value, str) and value.strip() else None


def _time(msg: Any, prop: str) -> datetime | None:
    try:
        value = msg.getPropertyVal(prop)
    except Exception:  # a damaged property
        return None
    if isinstance(value, datetime) and value.tzinfo is not None and value.year > 1601:
        return value.astimezone(UTC)
    return None


def _item(msg: Any, context: Context, name: str) -> tuple[Item, list[ImportWarning]]:
    warnings: list[ImportWarning] = []

    def warn(code: str, message: str) -> None:
        warnings.append(ImportWarning(code, message, offset=0))

    raw: dict[str, str] = {"message_class": str(msg.classType)}
    header_text = _string(msg, "__substg1.0_007D")
    fields: list[tuple[str, str]] = []
    if header_text:
        if header_text.startswith("Microsoft Mail Internet Headers Version 2.0"):
            header_text = header_text[43:].lstrip()
        fields = split_fields(header_text)
        raw["headers"] = header_text

    def first(field_name: str) -> str | None:
        return next((v for n, v in fields if n == field_name), None)

    def every(field_name: str) -> list[str]:
        return [v for n, v in fields if n == field_name]

    # who
    sender: Party | None = None
    from_name = ""
    value = first("from")
    if value:
        found = addresses(value)
        if found:
            from_name, address = found[0]
            sender = party(from_name, address)
    if sender is None:
        for smtp, address_stream, name_stream in (
            (_SENDER_SMTP, _SENDER_ADDRESS, _SENDER_NAME),
            (_REPRESENTING_SMTP, _REPRESENTING_ADDRESS, _REPRESENTING_NAME),
        ):
            address = _string(msg, smtp) or _string(msg, address_stream) or ""
            from_name = _string(msg, name_stream) or ""
            sender = party(from_name, address if "@" in address else "")
            if sender is not None:
                break
    recipients: list[Party] = []
    seen: set[str] = set()
    if fields:
        for field_name in ("to", "cc", "bcc"):
            for value in every(field_name):
                for n, a in addresses(value):
                    p = party(n, a)
                    if p is not None and p.raw not in seen:
                        seen.add(p.raw)
                        recipients.append(p)
    try:
        table = list(msg.recipients)
    except Exception:  # a damaged recipient table
        table = []
    for r in table:
        if getattr(r, "type", None) not in (RecipientType.TO, RecipientType.CC, RecipientType.BCC):
            continue
        address = str(getattr(r, "email", "") or "")
        p = party(
            clean(str(getattr(r, "name", "") or "")), clean(address if "@" in address else "")
        )
        if p is not None and p.raw not in seen:
            seen.add(p.raw)
            recipients.append(p)

    # when
    tz = zone(context.timezone)
    date_value = first("date")
    sent_at: datetime | None = None
    local_time = ""
    submitted = _time(msg, _SUBMIT_TIME)
    delivered = _time(msg, _DELIVERY_TIME)
    created = _time(msg, _CREATION_TIME)
    for key, instant in (
        ("client_submit_time", submitted),
        ("delivery_time", delivered),
        ("creation_time", created),
    ):
        if instant is not None:
            raw[key] = instant.isoformat()
    if date_value:
        parsed = parse_date(date_value, tz)
        sent_at, local_time = parsed.when, date_value
        if parsed.problem in ("no_zone", "unknown_zone"):
            warn(
                "date_without_zone",
                f"The date of the message in {name or 'this file'} has no time zone Docket "
                f"knows, so it was read as a time in {tz.key}. The date is kept as written.",
            )
    if sent_at is None:
        instant = submitted or delivered
        if instant is not None:
            sent_at, local_time = instant, instant.isoformat()
    if sent_at is None:
        warn(
            "missing_date",
            f"The message in {name or 'this file'} has no date it was sent or received (it "
            "may be a draft that was never sent), so it was imported without a time.",
        )

    # what
    body: str | None = None
    body_type = "text/plain"
    try:
        plain = msg.body
    except Exception:  # a damaged or undecodable body stream
        plain = None
    if isinstance(plain, str) and plain.strip():
        body = plain
    else:
        try:
            html = msg.htmlBody
        except Exception:  # a damaged HTML or RTF body
            html = None
        if isinstance(html, bytes) and html.strip():
            try:
                text = html.decode("utf-8")
            except UnicodeDecodeError:
                text = html.decode("cp1252", errors="replace")
            body, body_type = html_text(text), "text/html"
    if body is not None:
        body = clean(body).replace("\r\n", "\n").replace("\r", "\n").rstrip("\n")
        raw["body_type"] = body_type

    subject = msg.subject if isinstance(getattr(msg, "subject", None), str) else None
    if first("subject") is not None:
        subject = decode_words(first("subject") or "")
    if subject is not None:
        raw["subject"] = clean(subject)
    if from_name:
        raw["from_name"] = from_name
    for key, field_name, stream in (
        ("message_id", "message-id", _MESSAGE_ID),
        ("in_reply_to", "in-reply-to", _IN_REPLY_TO),
        ("references", "references", _REFERENCES),
    ):
        value = first(field_name) or _string(msg, stream)
        if value:
            raw[key] = value
    if date_value:
        raw["date"] = date_value
    labels = first("x-gmail-labels")
    if labels:
        raw["x_gmail_labels"] = labels
    for key, field_name in (("dkim_signature", "dkim-signature"), ("received", "received")):
        values = every(field_name)
        if values:
            raw[key] = "\n".join(values)
    thread = None
    for key in ("references", "in_reply_to", "message_id"):
        if raw.get(key):
            ids = message_ids(raw[key])
            if ids:
                thread = ids[0]
                break

    attachments, broken = _attachments(msg)
    if broken:
        many = broken > 1
        warn(
            "unreadable_attachment",
            f"{broken} attachment{'s' if many else ''} of the message in "
            f"{name or 'this file'} could not be read, so {'they were' if many else 'it was'} "
            "listed without content. The original file, which the diary keeps, still holds "
            f"{'them' if many else 'it'}.",
        )

    item = Item(
        kind="message",
        channel="email",
        direction="unknown",
        sender=sender,
        sent_at=sent_at,
        local_time=local_time,
        body=body,
        recipients=tuple(recipients),
        thread=thread,
        attachments=tuple(attachments),
        match_body=match_text(body),
        offset=0,
        raw={k: clean(v) for k, v in raw.items()},
    )
    return item, warnings


def _attachments(msg: Any) -> tuple[list[Attachment], int]:
    try:
        found = list(msg.attachments)
    except Exception:  # a damaged attachment table
        return [Attachment("attachments", None, None, note=NOTE_UNREADABLE)], 1
    out: list[Attachment] = []
    broken = 0
    for i, att in enumerate(found, start=1):
        kind = getattr(att, "type", None)
        try:
            filename = att.longFilename or att.shortFilename or att.name
        except Exception:  # a damaged name stream
            filename = None
        label = clean(str(filename)) if filename else f"attachment-{i}"
        try:
            media_type = att.mimetype
        except Exception:  # a damaged type stream
            media_type = None
        if kind in (AttachmentType.MSG, AttachmentType.SIGNED_EMBEDDED):
            if not label.lower().endswith(".msg"):
                label += ".msg"
            out.append(Attachment(label, "application/vnd.ms-outlook", _embedded(att)))
        elif kind in (AttachmentType.DATA, AttachmentType.SIGNED, AttachmentType.CUSTOM):
            out.append(Attachment(label, media_type, _data(att)))
        elif kind == AttachmentType.WEB:
            out.append(Attachment(label, media_type, None, note=NOTE_LINK))
        else:
            broken += 1
            out.append(Attachment(label, media_type, None, note=NOTE_UNREADABLE))
    return out, broken


def _slices(data: bytes) -> Iterator[bytes]:
    for i in range(0, len(data), CHUNK):
        yield data[i : i + CHUNK]


def _data(att: Any) -> Callable[[], Iterator[bytes]]:
    def chunks() -> Iterator[bytes]:
        data = att.data
        if isinstance(data, bytes):
            yield from _slices(data)
        elif data is not None and hasattr(data, "exportBytes"):
            yield from _slices(data.exportBytes(allowBadEmbed=True))

    return chunks


def _embedded(att: Any) -> Callable[[], Iterator[bytes]]:
    def chunks() -> Iterator[bytes]:
        data = att.data
        if isinstance(data, bytes):
            yield from _slices(data)
        else:
            yield from _slices(data.exportBytes(allowBadEmbed=True))

    return chunks
