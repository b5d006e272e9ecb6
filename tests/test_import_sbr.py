"""The SMS Backup & Restore importer: exact items from small synthetic backups (every SMS,
MMS, RCS and call variant), the character-reference repair (also across read boundaries), the
shared real and third-party samples, damaged and foreign files, and bounded memory on a large
backup with big attachments."""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import json
import random
import subprocess
import sys
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from docket.errors import ImportFormatError
from docket.importers import sms_backup_restore as sbr
from docket.importers.base import (
    Attachment,
    Context,
    ImportWarning,
    Item,
    Party,
    Probe,
    Source,
)
from docket.importers.sms_backup_restore import BackupFilter, SmsBackupRestore
from tests.conftest import SHARED

SAMPLES = SHARED / "samples" / "sms_backup_restore"
needs_samples = pytest.mark.skipif(not SAMPLES.is_dir(), reason="shared samples not present")

HEADER = (
    "<?xml version='1.0' encoding='UTF-8' standalone='yes' ?>\n"
    "<!--File Created By SMS Backup & Restore v10.20.002 on 01/02/2024 10:11:12-->\n"
)
FIRST = 4  # the line of the first record in a backup made by `backup`

# 1706700000123 ms after the epoch, and its neighbours
T0 = "1706700000123"
AT0 = datetime(2024, 1, 31, 11, 20, 0, 123000, tzinfo=UTC)
T1 = "1706700061000"
AT1 = datetime(2024, 1, 31, 11, 21, 1, tzinfo=UTC)

# --- writing backups ------------------------------------------------------------------------


def esc(value: str) -> str:
    """An attribute value as SMS Backup & Restore writes it."""
    return (
        value.replace("&", "&amp;")
        .replace("<", "&lt;")
        .replace(">", "&gt;")
        .replace('"', "&quot;")
        .replace("\n", "&#10;")
        .replace("\r", "&#13;")
        .replace("\t", "&#9;")
    )


def element(tag: str, attrs: dict[str, str], children: str = "") -> str:
    written = " ".join(f'{k}="{esc(v)}"' for k, v in attrs.items())
    return f"<{tag} {written}>{children}</{tag}>" if children else f"<{tag} {written} />"


def mms_element(
    attrs: dict[str, str], parts: list[dict[str, str]], addrs: list[dict[str, str]]
) -> str:
    inner = (
        "<parts>"
        + "".join(element("part", p) for p in parts)
        + "</parts><addrs>"
        + "".join(element("addr", a) for a in addrs)
        + "</addrs>"
    )
    return element("mms", attrs, inner)


def backup(records: Iterable[str], root: str = "smses", count: int | None = None) -> bytes:
    """A backup with one record a line, the first on line FIRST."""
    records = list(records)
    n = len(records) if count is None else count
    return (
        HEADER
        + f'<{root} count="{n}" backup_set="b1" backup_date="1706780000000" type="full">\n'
        + "".join(f"  {r}\n" for r in records)
        + f"</{root}>\n"
    ).encode()


# --- reading them back ------------------------------------------------------------------------


Parsed = tuple[list[Item | ImportWarning], list[bytes | None]]


def parse_file(path: Path, name: str | None = None) -> Parsed:
    """Everything the importer yields, with each attachment's bytes read while still valid
    (its chunks are replaced by None and the bytes, or None, listed in order)."""
    out: list[Item | ImportWarning] = []
    contents: list[bytes | None] = []
    for x in SmsBackupRestore().parse(Source(path), Context(name=name or path.name)):
        if isinstance(x, Item) and x.attachments:
            kept = []
            for a in x.attachments:
                contents.append(b"".join(a.chunks()) if a.chunks else None)
                kept.append(Attachment(a.name, a.media_type, None, a.note))
            x = dataclasses.replace(x, attachments=tuple(kept))
        out.append(x)
    return out, contents


def parse_bytes(tmp_path: Path, data: bytes, name: str = "sms-20240201101112.xml") -> Parsed:
    path = tmp_path / name
    path.write_bytes(data)
    return parse_file(path, name)


def items(out: list[Item | ImportWarning]) -> list[Item]:
    return [x for x in out if isinstance(x, Item)]


def warnings_of(out: list[Item | ImportWarning]) -> list[ImportWarning]:
    return [x for x in out if isinstance(x, ImportWarning)]


def sms_attrs(**kw: str) -> dict[str, str]:
    attrs = {
        "protocol": "0",
        "address": "+447700900123",
        "date": T0,
        "type": "1",
        "subject": "null",
        "body": "hello",
        "toa": "null",
        "sc_toa": "null",
        "service_center": "+447785016005",
        "read": "1",
        "status": "-1",
        "locked": "0",
        "date_sent": "1706699999000",
        "sub_id": "1",
        "readable_date": "31 Jan 2024 11:20:00",
        "contact_name": "(Unknown)",
    }
    attrs.update(kw)
    return attrs


def sms_item(attrs: dict[str, str], line: int, **kw: object) -> Item:
    fields: dict[str, object] = {
        "kind": "message",
        "channel": "sms",
        "direction": "incoming",
        "sender": Party(attrs["address"], "phone"),
        "sent_at": AT0,
        "local_time": attrs.get("readable_date", ""),
        "body": attrs["body"],
        "thread": attrs["address"],
        "line": line,
        "raw": dict(attrs),
    }
    fields.update(kw)
    return Item(**fields)  # type: ignore[arg-type]


# --- SMS ------------------------------------------------------------------------------------


def test_sms_every_type_and_sender_kind(tmp_path: Path) -> None:
    received = sms_attrs(body='line one\nline two & <three> "four"')
    sent = sms_attrs(type="2", date=T1, body="sent", readable_date="31 Jan 2024 11:21:01")
    draft = sms_attrs(type="3", body="draft")
    outbox = sms_attrs(type="4", body="outbox")
    failed = sms_attrs(type="5", body="failed")
    queued = sms_attrs(type="6", body="queued")
    bank = sms_attrs(address="OTP Bank", body="Your code is 1234")
    short = sms_attrs(address="80800", body="STOP")
    no_body = sms_attrs(body="null")
    no_readable = {k: v for k, v in sms_attrs(body="plain").items() if k != "readable_date"}
    records = [received, sent, draft, outbox, failed, queued, bank, short, no_body, no_readable]
    out, _ = parse_bytes(tmp_path, backup(element("sms", r) for r in records))

    me_to = {"sender": None, "direction": "outgoing"}
    assert out == [
        sms_item(received, FIRST, body='line one\nline two & <three> "four"'),
        sms_item(
            sent,
            FIRST + 1,
            **me_to,
            sent_at=AT1,
            recipients=(Party("+447700900123", "phone"),),
        ),
        sms_item(
            draft,
            FIRST + 2,
            **me_to,
            recipients=(Party("+447700900123", "phone"),),
            raw={**draft, "status_text": "draft (never sent)"},
        ),
        sms_item(
            outbox,
            FIRST + 3,
            **me_to,
            recipients=(Party("+447700900123", "phone"),),
            raw={**outbox, "status_text": "outbox (not yet sent)"},
        ),
        sms_item(
            failed,
            FIRST + 4,
            **me_to,
            recipients=(Party("+447700900123", "phone"),),
            raw={**failed, "status_text": "failed (not sent)"},
        ),
        sms_item(
            queued,
            FIRST + 5,
            **me_to,
            recipients=(Party("+447700900123", "phone"),),
            raw={**queued, "status_text": "queued (not yet sent)"},
        ),
        sms_item(bank, FIRST + 6, sender=Party("OTP Bank", "name")),
        sms_item(short, FIRST + 7, sender=Party("80800", "phone")),
        sms_item(no_body, FIRST + 8, body=None),
        sms_item(no_readable, FIRST + 9, local_time=T0),
    ]


def test_sms_bad_records_are_kept_with_a_warning(tmp_path: Path) -> None:
    no_date = {k: v for k, v in sms_attrs(body="a").items() if k != "date"}
    null_date = sms_attrs(date="null", readable_date="null", body="b")
    bad_date = sms_attrs(date="31/01/2024", body="c")
    zero_date = sms_attrs(date="0", body="d")
    odd_type = sms_attrs(type="9", body="e")
    records = [no_date, null_date, bad_date, zero_date, odd_type]
    out, _ = parse_bytes(tmp_path, backup(element("sms", r) for r in records))

    codes = [(w.code, w.line) for w in warnings_of(out)]
    assert codes == [
        ("bad_date", FIRST),
        ("bad_date", FIRST + 1),
        ("bad_date", FIRST + 2),
        ("bad_date", FIRST + 3),
        ("unknown_type", FIRST + 4),
    ]
    assert [type(x).__name__ for x in out] == ["ImportWarning", "Item"] * 5  # warning first
    got = items(out)
    assert [i.sent_at for i in got] == [None, None, None, None, AT0]
    assert [i.local_time for i in got] == [
        "31 Jan 2024 11:20:00",
        "",  # neither a readable date nor a date
        "31 Jan 2024 11:20:00",
        "31 Jan 2024 11:20:00",
        "31 Jan 2024 11:20:00",
    ]
    assert [i.body for i in got] == ["a", "b", "c", "d", "e"]
    unknown = got[4]
    assert (unknown.direction, unknown.sender, unknown.recipients) == ("unknown", None, ())
    assert unknown.thread == "+447700900123"
    assert "line 8" in warnings_of(out)[4].message


def test_line_numbers_are_where_each_record_starts(tmp_path: Path) -> None:
    data = (
        HEADER
        + '<smses count="2">\n'
        + '  <sms address="1" date="'
        + T0
        + '" type="1"\n       body="first" />\n\n'
        + '  <sms address="2"\n date="'
        + T0
        + '"\n type="2" body="second" />\n</smses>\n'
    ).encode()
    out, _ = parse_bytes(tmp_path, data)
    assert [(i.line, i.body) for i in items(out)] == [(4, "first"), (7, "second")]


def test_line_numbers_ignore_records_in_comments(tmp_path: Path) -> None:
    data = (
        HEADER
        + '<smses count="2">\n<!-- <sms address="0" body="old" />\n -->\n'
        + '  <sms address="1" date="'
        + T0
        + '" type="1"\n       body="first" />\n'
        + '  <sms address="2" date="'
        + T0
        + '" type="1"\n       body="second" />\n</smses>\n'
    ).encode()
    out, _ = parse_bytes(tmp_path, data)
    assert [(i.line, i.body) for i in items(out)] == [(6, "first"), (8, "second")]


# --- MMS and RCS ------------------------------------------------------------------------------

PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c63f8cfc0f01f0005000201a1e4cb2b0000000049454e44ae426082"
)
SMIL = '<smil><body><par dur="5000ms"><img src="IMG_0001.png"/></par></body></smil>'


def test_mms_incoming_with_image_text_and_smil(tmp_path: Path) -> None:
    attrs = {
        "date": T0,
        "msg_box": "1",
        "address": "+447700900123",
        "m_type": "132",
        "ct_t": "application/vnd.wap.multipart.related",
        "sub": "null",
        "date_sent": "1706699990",  # seconds, unlike date
        "read": "1",
        "m_id": "mid-1",
        "creator": "com.android.mms",
        "readable_date": "31 Jan 2024 11:20:00",
        "contact_name": "Sam",
    }
    parts = [
        {"seq": "-1", "ct": "application/smil", "cl": "smil.xml", "text": SMIL},
        {"seq": "0", "ct": "image/png", "cl": "IMG_0001.png", "name": "IMG_0001.png",
         "data": base64.b64encode(PNG).decode()},
        {"seq": "1", "ct": "text/plain", "chset": "106", "text": "look\nat this"},
    ]  # fmt: skip
    addrs = [
        {"address": "+447700900123", "type": "137", "charset": "106"},
        {"address": "+447700900999", "type": "151", "charset": "106"},
    ]
    out, contents = parse_bytes(tmp_path, backup([mms_element(attrs, parts, addrs)]))

    data_chars = str(len(base64.b64encode(PNG)))
    assert out == [
        Item(
            kind="message",
            channel="mms",
            direction="incoming",
            sender=Party("+447700900123", "phone"),
            recipients=(Party("+447700900999", "phone"),),
            sent_at=AT0,
            local_time="31 Jan 2024 11:20:00",
            body="look\nat this",
            thread="+447700900123",
            attachments=(Attachment("IMG_0001.png", "image/png"),),
            line=FIRST,
            raw={
                **attrs,
                "parts.0.seq": "-1",
                "parts.0.ct": "application/smil",
                "parts.0.cl": "smil.xml",
                "parts.0.text": SMIL,
                "parts.1.seq": "0",
                "parts.1.ct": "image/png",
                "parts.1.cl": "IMG_0001.png",
                "parts.1.name": "IMG_0001.png",
                "parts.1.data_chars": data_chars,
                "parts.2.seq": "1",
                "parts.2.ct": "text/plain",
                "parts.2.chset": "106",
                "parts.2.text": "look\nat this",
                "addrs.0.address": "+447700900123",
                "addrs.0.type": "137",
                "addrs.0.charset": "106",
                "addrs.1.address": "+447700900999",
                "addrs.1.type": "151",
                "addrs.1.charset": "106",
            },
        )
    ]
    assert contents == [PNG]


def test_mms_outgoing_group_and_parts_without_data(tmp_path: Path) -> None:
    attrs = {
        "date": T1,
        "msg_box": "2",
        "address": "+447700900222~+447700900111~+447700900333",
        "date_sent": "0",
        "m_id": "mid-2",
    }
    vcard = "BEGIN:VCARD\nVERSION:3.0\nFN:Sam\nEND:VCARD\n"
    parts = [
        {"seq": "0", "ct": "text/plain", "text": "first"},
        {"seq": "1", "ct": "audio/amr", "cl": "null", "name": "rec.amr", "data": "null"},
        {"seq": "2", "ct": "video/mp4", "cl": "null", "name": "null", "fn": "clip.mp4"},
        {"seq": "3", "ct": "image/jpeg", "cl": "null", "name": "null", "fn": "null",
         "data": "/9j/\n4AAQ SkZJ\r\nRg=="},
        {"seq": "4", "ct": "text/x-vCard", "cl": "sam.vcf", "text": vcard},
        {"seq": "5", "ct": "text/plain", "text": "second"},
        {"seq": "6", "ct": "text/plain", "name": "null"},
    ]  # fmt: skip
    addrs = [
        {"address": "insert-address-token", "type": "137"},
        {"address": "+447700900111", "type": "151"},
        {"address": "+447700900222", "type": "151"},
        {"address": "+447700900333", "type": "130"},
        {"address": "someone@example.org", "type": "129"},
        {"address": "+447700900111", "type": "151"},  # named twice: listed once
    ]
    out, contents = parse_bytes(tmp_path, backup([mms_element(attrs, parts, addrs)]))

    [item] = out
    assert isinstance(item, Item)
    assert (item.kind, item.channel, item.direction, item.sender) == (
        "message",
        "mms",
        "outgoing",
        None,
    )
    assert item.recipients == (
        Party("+447700900111", "phone"),
        Party("+447700900222", "phone"),
        Party("+447700900333", "phone"),
        Party("someone@example.org", "email"),
    )
    assert item.thread == "+447700900111~+447700900222~+447700900333"
    assert item.body == "first\nsecond"
    assert item.sent_at == AT1
    assert item.local_time == T1
    assert item.attachments == (
        Attachment("rec.amr", "audio/amr", None, "not included in the backup"),
        Attachment("clip.mp4", "video/mp4", None, "not included in the backup"),
        Attachment("part-3", "image/jpeg"),
        Attachment("sam.vcf", "text/x-vCard"),
    )
    assert contents == [None, None, b"\xff\xd8\xff\xe0\x00\x10JFIF", vcard.encode()]
    assert item.raw["parts.1.data"] == "null"  # "null" is not base64: kept as written
    # as written in the file, where the line breaks are "&#10;" and "&#13;"
    assert item.raw["parts.3.data_chars"] == str(len(esc("/9j/\n4AAQ SkZJ\r\nRg==")))
    assert "parts.3.data" not in item.raw
    assert item.raw["addrs.0.address"] == "insert-address-token"
    assert item.raw["date_sent"] == "0"


def test_mms_incoming_group_draft_and_missing_box(tmp_path: Path) -> None:
    group = {"date": T0, "msg_box": "1", "address": "+447700900111~+447700900222"}
    group_addrs = [
        {"address": "+447700900222", "type": "137"},
        {"address": "+447700900999", "type": "151"},  # the phone's owner
        {"address": "+447700900111", "type": "151"},
        {"address": "+447700900222", "type": "130"},  # the sender, copied: not a recipient
    ]
    draft = {"date": T0, "msg_box": "3", "address": "+447700900111"}
    no_box = {"date": T0, "address": "+447700900111"}
    no_addrs = {"date": T0, "msg_box": "1", "address": "+447700900444"}
    text = [{"seq": "0", "ct": "text/plain", "text": "hi"}]
    records = [
        mms_element(group, text, group_addrs),
        mms_element(draft, text, [{"address": "+447700900111", "type": "151"}]),
        mms_element(no_box, text, [{"address": "+447700900111", "type": "137"}]),
        mms_element(no_addrs, text, []),
    ]
    out, _ = parse_bytes(tmp_path, backup(records))

    assert [(w.code, w.line) for w in warnings_of(out)] == [("unknown_type", FIRST + 2)]
    got = items(out)
    assert [(i.direction, i.sender, i.recipients) for i in got] == [
        (
            "incoming",
            Party("+447700900222", "phone"),
            (Party("+447700900999", "phone"), Party("+447700900111", "phone")),
        ),
        ("outgoing", None, (Party("+447700900111", "phone"),)),
        ("unknown", Party("+447700900111", "phone"), ()),
        ("incoming", Party("+447700900444", "phone"), ()),  # taken from the address
    ]
    assert got[0].thread == "+447700900111~+447700900222"
    assert got[1].raw["status_text"] == "draft (never sent)"
    assert "status_text" not in got[0].raw


def test_rcs_rule(tmp_path: Path) -> None:
    google = "com.google.android.apps.messaging"
    base = {"date": T0, "msg_box": "1", "address": "group_8@rcs.google.com"}
    rcs = {**base, "creator": google, "tr_id": "proto:CkIKImNvbS5nb29n", "m_id": "null",
           "text_only": "1"}  # fmt: skip
    carrier_mms = {**rcs, "m_id": "bcc6da4b4955a542", "text_only": "0"}
    no_proto = {**rcs, "tr_id": "T1234"}
    other_app = {**rcs, "creator": "com.android.mms"}
    text = [{"seq": "0", "ct": "text/plain", "text": "hi"}]
    addrs = [
        {"address": "+447700900111", "type": "130"},
        {"address": "+447700900222", "type": "130"},
        {"address": "+447700900111", "type": "137"},
        {"address": "+447700900999", "type": "151"},
    ]
    records = [mms_element(r, text, addrs) for r in (rcs, carrier_mms, no_proto, other_app)]
    out, _ = parse_bytes(tmp_path, backup(records))

    got = items(out)
    assert [i.channel for i in got] == ["rcs", "mms", "mms", "mms"]
    assert got[0].thread == "group_8@rcs.google.com"
    assert got[0].sender == Party("+447700900111", "phone")
    assert got[0].recipients == (Party("+447700900222", "phone"), Party("+447700900999", "phone"))


# --- calls ------------------------------------------------------------------------------------


def call_attrs(**kw: str) -> dict[str, str]:
    attrs = {
        "number": "+447700900123",
        "duration": "42",
        "date": T0,
        "type": "1",
        "presentation": "1",
        "subscription_id": "1",
        "post_dial_digits": "",
        "readable_date": "31 Jan 2024 11:20:00",
        "contact_name": "(Unknown)",
    }
    attrs.update(kw)
    return attrs


def call_item(attrs: dict[str, str], line: int, **kw: object) -> Item:
    fields: dict[str, object] = {
        "kind": "call",
        "channel": "phone",
        "direction": "incoming",
        "sender": Party(attrs["number"], "phone"),
        "sent_at": AT0,
        "local_time": "31 Jan 2024 11:20:00",
        "call_type": "incoming",
        "duration_s": 42,
        "line": line,
        "raw": dict(attrs),
    }
    fields.update(kw)
    return Item(**fields)  # type: ignore[arg-type]


def test_calls_every_type_and_withheld_numbers(tmp_path: Path) -> None:
    incoming = call_attrs()
    outgoing = call_attrs(type="2", duration="605")
    missed = call_attrs(type="3", duration="0")
    voicemail = call_attrs(type="4", duration="0")
    rejected = call_attrs(type="5", duration="0")
    blocked = call_attrs(type="6", duration="0")
    elsewhere = call_attrs(type="7")
    restricted = call_attrs(type="3", number="", presentation="2", duration="0")
    private = call_attrs(type="1", number="-2", presentation="1")
    unknown = call_attrs(type="3", number="-1", presentation="3", duration="0")
    payphone = call_attrs(type="1", number="-3", presentation="4")
    null_number = call_attrs(type="5", number="null", duration="0")
    records = [incoming, outgoing, missed, voicemail, rejected, blocked, elsewhere,
               restricted, private, unknown, payphone, null_number]  # fmt: skip
    out, _ = parse_bytes(
        tmp_path, backup((element("call", r) for r in records), root="calls"), "calls-1.xml"
    )

    phone = Party("+447700900123", "phone")
    assert out == [
        call_item(incoming, FIRST),
        call_item(
            outgoing,
            FIRST + 1,
            direction="outgoing",
            sender=None,
            recipients=(phone,),
            call_type="outgoing",
            duration_s=605,
        ),
        call_item(missed, FIRST + 2, call_type="missed", duration_s=0),
        call_item(voicemail, FIRST + 3, call_type="voicemail", duration_s=0),
        call_item(rejected, FIRST + 4, call_type="rejected", duration_s=0),
        call_item(blocked, FIRST + 5, call_type="blocked", duration_s=0),
        call_item(elsewhere, FIRST + 6, raw={**elsewhere, "status_text": "answered elsewhere"}),
        call_item(restricted, FIRST + 7, sender=Party("", "withheld"), call_type="missed",
                  duration_s=0),
        call_item(private, FIRST + 8, sender=Party("-2", "withheld")),
        call_item(unknown, FIRST + 9, sender=Party("-1", "withheld"), call_type="missed",
                  duration_s=0),
        call_item(payphone, FIRST + 10, sender=Party("-3", "withheld")),
        call_item(null_number, FIRST + 11, sender=Party("", "withheld"), call_type="rejected",
                  duration_s=0),
    ]  # fmt: skip


def test_call_with_odd_type_or_duration(tmp_path: Path) -> None:
    odd = call_attrs(type="12")
    bad_duration = call_attrs(duration="4m")
    no_duration = {k: v for k, v in call_attrs().items() if k != "duration"}
    records = [element("call", r) for r in (odd, bad_duration, no_duration)]
    out, _ = parse_bytes(tmp_path, backup(records, root="calls"))
    assert [(w.code, w.line) for w in warnings_of(out)] == [
        ("unknown_type", FIRST),
        ("bad_duration", FIRST + 1),
    ]
    got = items(out)
    assert (got[0].call_type, got[0].direction, got[0].sender) == ("unknown", "unknown", None)
    assert [i.duration_s for i in got] == [42, None, None]


# --- character references ---------------------------------------------------------------------


def test_surrogate_pairs_become_real_characters(tmp_path: Path) -> None:
    records = [
        '<sms address="1" date="' + T0 + '" type="1" body="a &#55357;&#56834; b" />',
        '<sms address="1" date="' + T0 + '" type="1" body="&#xD83D;&#xDE21;&#xd83d;&#Xde21;" />',
        '<sms address="1" date="' + T0 + '" type="1" body="lone &#55357; high, &#56834; low" />',
        '<sms address="1" date="' + T0 + '" type="1" body="ctl &#1; &#x1F; ok &#10;&#9;" />',
        '<sms address="1" date="' + T0 + '" type="1" body="mixed &#0055357;&#xDE02;" />',
    ]
    data = backup(records)
    out, _ = parse_bytes(tmp_path, data)

    assert [i.body for i in items(out)] == [
        "a \U0001f602 b",
        "\U0001f621\U0001f621",
        "lone \ufffd high, \ufffd low",
        "ctl \ufffd \ufffd ok \n\t",
        "mixed \U0001f602",
    ]
    bad = [(w.code, w.line, w.offset) for w in warnings_of(out)]
    assert bad == [
        ("bad_character_reference", FIRST + 2, data.index(b"&#55357; high")),
        ("bad_character_reference", FIRST + 2, data.index(b"&#56834; low")),
        ("bad_character_reference", FIRST + 3, data.index(b"&#1;")),
        ("bad_character_reference", FIRST + 3, data.index(b"&#x1F;")),
    ]
    assert "&#55357;" in warnings_of(out)[0].message
    # A reference warning comes after the item that holds it and before the next one.
    kinds = ["W" if isinstance(x, ImportWarning) else x.body[:3] for x in out]  # type: ignore[index, union-attr]
    assert kinds == [
        "a \U0001f602",
        "\U0001f621\U0001f621",
        "lon",
        "W",
        "W",
        "ctl",
        "W",
        "W",
        "mix",
    ]


FILTER_INPUT = (
    b"<a b='&#55357;&#56834;'>x&amp;y&#10;&#0055357;&#xDE02;\n"
    b"&#55357;\n&#56834;&#xD83D;&#xD83D;&#xDE21;&#56834;&#65;&#x2;&#55357;"
)
FILTER_OUTPUT = (
    b"<a b='&#128514;'>x&amp;y&#10;&#128514;\n"
    b"&#65533;\n&#65533;&#65533;&#128545;&#65533;&#65;&#65533;&#65533;"
)
FILTER_BAD = [  # (line, offset) of each lone surrogate or forbidden reference
    (2, FILTER_INPUT.index(b"&#55357;\n")),
    (3, FILTER_INPUT.index(b"&#56834;&#xD83D;")),
    (3, FILTER_INPUT.index(b"&#xD83D;&#xD83D;")),
    (3, FILTER_INPUT.index(b"&#56834;&#65;")),
    (3, FILTER_INPUT.index(b"&#x2;")),
    (3, FILTER_INPUT.rindex(b"&#55357;")),
]


class Trickle:
    """A file that hands out its bytes a few at a time."""

    def __init__(self, data: bytes, sizes: list[int]) -> None:
        self.data, self.sizes, self.pos, self.i = data, sizes, 0, 0

    def read(self, size: int = -1) -> bytes:
        n = self.sizes[self.i % len(self.sizes)]
        self.i += 1
        out = self.data[self.pos : self.pos + n]
        self.pos += len(out)
        return out


def drain(stream: BackupFilter, size: int = 7) -> bytes:
    out = b""
    while chunk := stream.read(size):
        out += chunk
    return out


@pytest.mark.parametrize("chunk_size", [*range(1, 41), 1 << 16])
def test_filter_with_tiny_buffers(chunk_size: int) -> None:
    stream = BackupFilter(Trickle(FILTER_INPUT, [chunk_size]), chunk_size)  # type: ignore[arg-type]
    assert drain(stream) == FILTER_OUTPUT
    assert [(w.line, w.offset) for w in stream.warnings] == FILTER_BAD


STARTS_INPUT = (
    b"<?xml version='1.0'?>\n<!-- <sms a='1'/> --><smses count='3'>\n"
    b"<sms\n a='1'/><mms a='2'><parts/></mms><!--<call/>-->\n"
    b"<![CDATA[<sms/>]]><call/><callx/><smsx a='3'/>\n<sms/></smses>"
)
STARTS = [  # (line, offset) of each <sms, <mms and <call start tag outside comments and CDATA
    (3, STARTS_INPUT.index(b"<sms\n")),
    (4, STARTS_INPUT.index(b"<mms")),
    (5, STARTS_INPUT.index(b"<call/><callx")),
    (6, STARTS_INPUT.rindex(b"<sms/>")),
]


@pytest.mark.parametrize("chunk_size", [*range(1, 30), 1 << 16])
def test_filter_finds_record_starts(chunk_size: int) -> None:
    stream = BackupFilter(Trickle(STARTS_INPUT, [chunk_size]), chunk_size)  # type: ignore[arg-type]
    assert drain(stream) == STARTS_INPUT
    assert list(stream.starts) == STARTS


EXTRACT_INPUT = (
    b"<smses><!-- <part data='no'/> -->\n<mms a='1'><parts>"
    b'<part seq="-1" ct="application/smil" text=\'&lt;img data="x"/&gt;\' />'
    b'<part ct="image/png" data="QUJD&#10;REVG\nR0g=" cl="a.png"/>'
    b"<part data = 'null' />"
    b'<part\ndata=""/>'
    b'</parts></mms>\n<![CDATA[<part data="cdata"/>]]>'
    b'<mms><parts><part data="WFla"/></parts></mms></smses>'
)
MARK = "\ue000".encode()
EXTRACT_OUTPUT = (
    EXTRACT_INPUT.replace(b"QUJD&#10;REVG\nR0g=", MARK + b"0\n")
    .replace(b"'null'", b"'" + MARK + b"1'")
    .replace(b'data=""', b'data="' + MARK + b'2"')
    .replace(b"WFla", MARK + b"3")
)
EXTRACTED = {
    0: (0, b"QUJD&#10;REVG\nR0g="),
    1: (0, b"null"),
    2: (0, b""),
    3: (1, b"WFla"),
}


@pytest.mark.parametrize("chunk_size", [*range(1, 50), 1 << 16])
def test_filter_lifts_out_attachment_data(chunk_size: int) -> None:
    stream = BackupFilter(Trickle(EXTRACT_INPUT, [chunk_size]), chunk_size)  # type: ignore[arg-type]
    assert drain(stream) == EXTRACT_OUTPUT
    got = {n: (record, b"".join(pieces)) for n, (record, pieces) in stream.payloads.items()}
    assert got == EXTRACTED
    first, second = EXTRACT_INPUT.index(b"<mms a"), EXTRACT_INPUT.rindex(b"<mms>")
    assert list(stream.starts) == [(2, first), (5, second)]
    stream.drop_payloads(0)
    assert list(stream.payloads) == [3]


_PIECES = [
    (b"plain text ", b"plain text "),
    (b"\n", b"\n"),
    (b"&amp;", b"&amp;"),
    (b"&#10;", b"&#10;"),
    (b"&#233;", b"&#233;"),
    (b"&#55357;&#56834;", b"&#128514;"),
    (b"&#xD83D;&#xDE21;", b"&#128545;"),
    (b"&#x0d83d;&#56865;", b"&#128545;"),
    (b"&#xD800;&#xDC00;", b"&#65536;"),
    (b"&#56319;&#57343;", b"&#1114111;"),
]
# Lone surrogates and forbidden characters, fenced off so that no neighbour can complete them.
_LONE = [
    (b"|&#55357;|", b"|&#65533;|"),
    (b"|&#xDE02;|", b"|&#65533;|"),
    (b"|&#57343;|", b"|&#65533;|"),
    (b"|&#3;|", b"|&#65533;|"),
]


@settings(max_examples=300, deadline=None)
@given(
    pieces=st.lists(st.sampled_from(_PIECES + _LONE), max_size=30),
    sizes=st.lists(st.integers(1, 24), min_size=1, max_size=6),
    read_size=st.integers(1, 40),
)
def test_filter_property(
    pieces: list[tuple[bytes, bytes]], sizes: list[int], read_size: int
) -> None:
    """Any mix of references, cut anywhere, comes out as if it had been read in one go."""
    data = b"".join(p for p, _ in pieces)
    expected = b"".join(e for _, e in pieces)
    bad = [i for i, piece in enumerate(pieces) if piece in _LONE]
    stream = BackupFilter(Trickle(data, sizes), min(sizes))  # type: ignore[arg-type]
    assert drain(stream, read_size) == expected
    offsets = [len(b"".join(p for p, _ in pieces[:i])) + 1 for i in bad]
    assert [w.offset for w in stream.warnings] == offsets
    assert [w.line for w in stream.warnings] == [1 + data.count(b"\n", 0, o) for o in offsets]


_DOC_PIECES = [
    b'<sms address="1" body="x &#55357;&#56834; &amp; y" />',
    b"\n  ",
    b"<!-- <sms/> <part data='no'/> -- -->",
    b'<mms a="1"><parts><part ct="image/png" data="QUJD&#10;REVG\nR0g=" />'
    b"<part text='a data=\"b\"' data = 'WFla' /><part\n data=\"null\"/></parts></mms>",
    b"<![CDATA[<mms><part data='no'/>]]>",
    b"<call number='1' />",
    b"&#56834;",
    b"<smses count='2'>",
]


@settings(max_examples=300, deadline=None)
@given(
    pieces=st.lists(st.sampled_from(_DOC_PIECES), max_size=20),
    sizes=st.lists(st.integers(1, 40), min_size=1, max_size=6),
    read_size=st.integers(1, 50),
)
def test_filter_structure_property(pieces: list[bytes], sizes: list[int], read_size: int) -> None:
    """However the file is cut into reads, the filter passes on the same bytes and finds the
    same record starts, attachment data and bad references as when it reads it in one go."""
    data = b"".join(pieces)
    whole = BackupFilter(Trickle(data, [len(data) + 1]), 1 << 20)  # type: ignore[arg-type]
    expected = drain(whole, 1 << 20)
    stream = BackupFilter(Trickle(data, sizes), min(sizes))  # type: ignore[arg-type]
    assert drain(stream, read_size) == expected
    assert stream.starts == whole.starts
    assert len(whole.starts) == sum(p.startswith((b"<sms ", b"<mms ", b"<call ")) for p in pieces)

    def payloads(f: BackupFilter) -> dict[int, tuple[int, bytes]]:
        return {n: (r, b"".join(pieces)) for n, (r, pieces) in f.payloads.items()}

    assert payloads(stream) == payloads(whole)
    assert len(whole.payloads) == 3 * sum(p.startswith(b"<mms") for p in pieces)
    assert [(w.line, w.offset) for w in stream.warnings] == [
        (w.line, w.offset) for w in whole.warnings
    ]


_XML_CHARS = st.characters(
    codec="utf-8",
    exclude_characters="\ufffe\uffff",
).filter(lambda c: c in "\t\n\r" or ord(c) >= 0x20)


def write_text(text: str, mode: int) -> str:
    """``text`` as an attribute value, with non-ASCII characters written in one of the ways
    the app and other tools write them: as they are, as numeric references, or (outside the
    Basic Multilingual Plane) as UTF-16 surrogate pairs of references."""
    out = []
    for c in text:
        cp = ord(c)
        if cp < 0x80 or mode == 0:
            out.append(esc(c))
        elif cp < 0x10000:
            out.append(f"&#{cp};" if mode == 1 else f"&#x{cp:X};")
        else:
            high, low = 0xD800 + ((cp - 0x10000) >> 10), 0xDC00 + ((cp - 0x10000) & 0x3FF)
            out.append(f"&#{high};&#{low};" if mode == 1 else f"&#x{high:x};&#x{low:X};")
    return "".join(out)


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    bodies=st.lists(
        st.tuples(
            st.text(_XML_CHARS, max_size=40).filter(lambda t: t != "null"), st.integers(0, 2)
        ),
        min_size=1,
        max_size=8,
    )
)
def test_sms_bodies_round_trip(tmp_path: Path, bodies: list[tuple[str, int]]) -> None:
    records = [
        f'<sms address="+447700900123" date="{T0}" type="2" body="{write_text(b, m)}" />'
        for b, m in bodies
    ]
    out, _ = parse_bytes(tmp_path, backup(records))
    assert warnings_of(out) == []
    assert [i.body for i in items(out)] == [b for b, _ in bodies]


# --- attachments ------------------------------------------------------------------------------


@pytest.mark.parametrize("as_pieces", [False, True], ids=["text", "pieces"])
@pytest.mark.parametrize("slice_chars", [1, 2, 3, 4, 5, 7, 8, 13, 64])
def test_base64_is_decoded_in_slices(
    monkeypatch: pytest.MonkeyPatch, slice_chars: int, as_pieces: bool
) -> None:
    monkeypatch.setattr(sbr, "_B64_SLICE", slice_chars)
    payload = bytes(range(256)) * 3 + b"tail"
    text = base64.encodebytes(payload).decode()  # with a line break every 76 characters
    content: str | list[bytes] = " " + text.replace("\n", "\r\n ")
    if as_pieces:  # as the filter lifts it out of the file: line breaks escaped, cut anywhere
        content = _cut_outside_references(text.replace("\n", "&#13;&#10; ").encode())
    chunks = list(sbr._Payload("x.bin", content).base64_chunks())
    assert b"".join(chunks) == payload
    # a slice (for pieces: up to one piece more), plus at most 3 characters carried over
    longest = slice_chars + 36 if as_pieces else slice_chars
    assert max(len(c) for c in chunks) <= (longest + 3) // 4 * 3


def _cut_outside_references(data: bytes) -> list[bytes]:
    """``data`` in pieces of about 37 bytes, never cut inside a "&...;" reference."""
    pieces, start = [], 0
    while start < len(data):
        end = min(start + 37, len(data))
        amp = data.rfind(b"&", start, end)
        if amp > start and b";" not in data[amp:end]:
            end = amp
        pieces.append(data[start:end])
        start = end
    return pieces


def test_chunks_are_valid_only_until_the_next_item(tmp_path: Path) -> None:
    part = [{"seq": "0", "ct": "image/png", "cl": "a.png", "data": base64.b64encode(PNG).decode()}]
    data = backup([mms_element({"date": T0, "msg_box": "1"}, part, [])] * 2)
    path = tmp_path / "sms.xml"
    path.write_bytes(data)
    stream = SmsBackupRestore().parse(Source(path), Context(name="sms.xml"))
    first = next(stream)
    assert isinstance(first, Item) and first.attachments[0].chunks
    next(stream)
    with pytest.raises(RuntimeError, match=r"a\.png"):
        list(first.attachments[0].chunks())


# --- the shared samples -------------------------------------------------------------------------

# Expected counts, taken from the files themselves and not from this importer:
#   grep -o '<sms ' FILE | wc -l; grep -o '<mms ' FILE | wc -l; grep -o '<call ' FILE | wc -l
# and, for RCS, by reading each <mms> by hand (creator com.google.android.apps.messaging,
# tr_id "proto:…", m_id "null"). sms_and_mms_rcs_anonymised ends part-way through its ninth
# <mms> (line 136, inside <parts>; the upstream copy is cut there too): grep -c '</mms>' gives
# 8 complete ones, _id 7256-7261 being RCS (text_only="1", m_id="null") and 7263 and 7265 being
# carrier MMS with a PNG each (m_id set).
SAMPLE_COUNTS = {
    # file: (sms, mms, rcs, calls, warnings by code)
    "country_code_variants__dedup.xml": (2, 2, 0, 0, {"unknown_type": 2}),  # no msg_box
    "similar_timestamps_group_mms__dedup.xml": (4, 4, 0, 0, {"unknown_type": 4}),
    "smil_variants__dedup.xml": (0, 10, 0, 0, {"unknown_type": 10}),
    "sms_small__smsbackupreader2.xml": (12, 0, 0, 0, {}),
    "surrogate_pair_charrefs__dedup.xml": (2, 0, 0, 0, {}),
    "surrogate_pair_charrefs_corrected__dedup.xml": (2, 0, 0, 0, {}),
    "whitespace_duplicates__dedup.xml": (5, 5, 0, 0, {"unknown_type": 5}),
}
TRUNCATED_SAMPLE = "sms_and_mms_rcs_anonymised__smsbackupreader2.xml"


def count(out: list[Item | ImportWarning]) -> tuple[int, int, int, int, dict[str, int]]:
    got = items(out)
    codes: dict[str, int] = {}
    for w in warnings_of(out):
        codes[w.code] = codes.get(w.code, 0) + 1
    return (
        sum(i.channel == "sms" for i in got),
        sum(i.channel == "mms" for i in got),
        sum(i.channel == "rcs" for i in got),
        sum(i.channel == "phone" for i in got),
        codes,
    )


@needs_samples
def test_every_sample_is_accounted_for() -> None:
    assert {p.name for p in SAMPLES.glob("*.xml")} == {*SAMPLE_COUNTS, TRUNCATED_SAMPLE}


@needs_samples
@pytest.mark.parametrize("name", sorted(SAMPLE_COUNTS))
def test_sample_counts(name: str) -> None:
    path = SAMPLES / name
    assert SmsBackupRestore().score(Probe.of(Source(path), name)) >= 0.9
    out, _ = parse_file(path)
    assert count(out) == SAMPLE_COUNTS[name]


@needs_samples
def test_surrogate_sample_decodes_to_real_emoji() -> None:
    broken, _ = parse_file(SAMPLES / "surrogate_pair_charrefs__dedup.xml")
    fixed, _ = parse_file(SAMPLES / "surrogate_pair_charrefs_corrected__dedup.xml")
    assert [i.body for i in items(broken)] == ["Some text content here \U0001f602"] * 2
    assert [i.body for i in items(broken)] == [i.body for i in items(fixed)]


@needs_samples
def test_truncated_real_sample() -> None:
    path = SAMPLES / TRUNCATED_SAMPLE
    got: list[Item] = []
    contents: list[bytes] = []
    with pytest.raises(ImportFormatError) as caught:
        for x in SmsBackupRestore().parse(Source(path), Context(name=TRUNCATED_SAMPLE)):
            assert isinstance(x, Item)
            got.append(x)
            contents += [b"".join(a.chunks()) for a in x.attachments if a.chunks]
    assert count(got) == (41, 2, 6, 0, {})
    assert caught.value.location is not None
    assert (caught.value.location.file, caught.value.location.line) == (TRUNCATED_SAMPLE, 136)
    assert [i.raw["_id"] for i in got if i.channel != "sms"] == [
        "7256", "7257", "7258", "7259", "7260", "7261", "7263", "7265"
    ]  # fmt: skip
    assert [c[:8] for c in contents] == [b"\x89PNG\r\n\x1a\n"] * 2
    group = got[43]  # _id 7258: an incoming RCS group message
    assert (group.channel, group.thread, group.sender) == (
        "rcs",
        "group_8@rcs.google.com",
        Party("+15550000009", "phone"),
    )
    assert got[46].body == "Body text 50\nBody text 51\nBody text 52\nBody text 53"
    assert got[0].sent_at == datetime(2017, 12, 2, 14, 49, 27, 463000, tzinfo=UTC)
    assert got[0].local_time == "Dec 2, 2017 06:49:27"


# --- damaged and foreign files ------------------------------------------------------------------


def test_truncated_backup_yields_what_came_before(tmp_path: Path) -> None:
    data = backup(element("sms", sms_attrs(body=f"message {i}")) for i in range(6))
    cut = data.index(b"message 4") + 3
    path = tmp_path / "sms-cut.xml"
    path.write_bytes(data[:cut])
    got = []
    with pytest.raises(ImportFormatError) as caught:
        for x in SmsBackupRestore().parse(Source(path), Context(name="sms-cut.xml")):
            got.append(x)
    assert [i.body for i in items(got)] == [f"message {i}" for i in range(4)]
    error = caught.value
    assert error.location is not None
    assert (error.location.file, error.location.line) == ("sms-cut.xml", FIRST + 4)
    assert error.message == "The backup is damaged or incomplete from line 8 onwards."
    assert error.cause and error.hint
    assert error.details == {"records_read": 4}
    assert isinstance(error.__cause__, Exception)


def test_unclosed_tag_is_an_error(tmp_path: Path) -> None:
    data = (HEADER + f'<smses>\n<mms date="{T0}" msg_box="1"><parts>\n</mms>\n</smses>\n').encode()
    with pytest.raises(ImportFormatError) as caught:
        parse_bytes(tmp_path, data)
    assert caught.value.location is not None and caught.value.location.line == 5


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "The file is empty."),
        (
            b"12/01/2024, 09:00 - Sam: are you home?\n",
            "This file is not an SMS Backup & Restore backup: it is not XML.",
        ),
        (bytes(range(256)) * 4, "This file is not an SMS Backup & Restore backup: it is not XML."),
        (
            b"<?xml version='1.0'?>\n<html><body><p>hi</p></body></html>\n",
            "This file is XML, but not an SMS Backup & Restore backup.",
        ),
        (
            b"<feed><sms address='1' date='1' type='1' body='x'/></feed>",
            "This file is XML, but not an SMS Backup & Restore backup.",
        ),
    ],
    ids=["empty", "whatsapp", "binary", "html", "wrong-root"],
)
def test_not_a_backup(tmp_path: Path, data: bytes, message: str) -> None:
    path = tmp_path / "export.txt"
    path.write_bytes(data)
    got = []
    with pytest.raises(ImportFormatError) as caught:
        for x in SmsBackupRestore().parse(Source(path), Context(name="export.txt")):
            got.append(x)
    assert got == []
    assert caught.value.message == message
    assert caught.value.hint
    assert caught.value.location is not None and caught.value.location.file == "export.txt"


def test_count_mismatch_is_reported(tmp_path: Path) -> None:
    data = backup((element("sms", sms_attrs()) for _ in range(3)), count=5)
    out, _ = parse_bytes(tmp_path, data)
    assert len(items(out)) == 3
    [w] = warnings_of(out)
    assert (w.code, w.line) == ("count_mismatch", 3)
    assert "5 records, but 3" in w.message


def test_empty_backup_is_not_an_error(tmp_path: Path) -> None:
    out, _ = parse_bytes(tmp_path, backup([]))
    assert out == []


def test_deterministic(tmp_path: Path) -> None:
    records = [element("sms", sms_attrs(body=f"{i} &#55357;")) for i in range(5)]
    data = backup(records).replace(b"&amp;#55357;", b"&#55357;")
    first, _ = parse_bytes(tmp_path, data)
    second, _ = parse_bytes(tmp_path, data)
    assert first == second
    assert len(warnings_of(first)) == 5


# --- recognising the format ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("head", "expected"),
    [
        (HEADER.encode() + b'<smses count="1">', 1.0),
        (b"<?xml version='1.0'?>\n<calls count='1'>\n<call number='1'/>", 0.95),
        (b"\xef\xbb\xbf<smses>", 0.95),
        (b"<!--File Created By SMS Backup & Restore v10-->", 0.9),
        (b'  <sms address="1" date="1"/>', 0.6),
        (b"<?xml version='1.0'?><html>", 0.0),
        (b"12/01/2024, 09:00 - Sam: <sms please", 0.0),
        (b"[12/01/2024, 09:00:00] Sam: hello", 0.0),
        (b"PK\x03\x04 <smses>", 0.0),
        (b"", 0.0),
    ],
)
def test_score(head: bytes, expected: float) -> None:
    probe = Probe(name="file", head=head, size=len(head))
    assert SmsBackupRestore().score(probe) == expected


def test_score_zip() -> None:
    probe = Probe(name="chat.zip", head=b"PK\x03\x04", size=4, zip_names=("_chat.txt",))
    assert SmsBackupRestore().score(probe) == 0.0


def test_identity() -> None:
    assert (SmsBackupRestore.name, SmsBackupRestore.version, SmsBackupRestore.label) == (
        "sms-backup-restore",
        "1",
        "SMS Backup & Restore (Android)",
    )


# --- memory on a large backup --------------------------------------------------------------------

MEASURE = r"""
import hashlib, json, resource, sys
from pathlib import Path
from docket.importers.base import Context, Item, Source
from docket.importers.sms_backup_restore import SmsBackupRestore

counts, hashes = {}, []
for x in SmsBackupRestore().parse(Source(Path(sys.argv[1])), Context(name="big.xml")):
    if isinstance(x, Item):
        counts[x.channel] = counts.get(x.channel, 0) + 1
        for a in x.attachments:
            h = hashlib.sha256()
            for chunk in a.chunks():
                h.update(chunk)
            hashes.append(h.hexdigest())
# VmHWM is this process's own peak. On Linux ru_maxrss also counts the parent's peak at the
# time of the fork, so it is only the fallback.
try:
    with open("/proc/self/status") as status:
        peak = next(int(l.split()[1]) for l in status if l.startswith("VmHWM:")) * 1024
except OSError:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # KiB on Linux
print(json.dumps({"counts": counts, "hashes": hashes, "peak": peak}))
"""


def write_big_backup(path: Path, part_mib: list[int], sms_between: int) -> list[str]:
    """A backup of SMS runs between MMS that each carry one image of the given size (as
    base64 text), written a block at a time; returns the SHA-256 of each image."""
    rng = random.Random(20240201)
    block = 3 * 1024 * 1024  # a multiple of 3: its base64 needs no padding
    hashes = []
    sms = "".join(
        f'  <sms protocol="0" address="+4477009{i:05d}" date="{1706700000123 + i}" type="1" '
        f'subject="null" body="message {i} &#55357;&#56834;&#10;second line" read="1" '
        f'status="-1" locked="0" readable_date="31 Jan 2024 11:20:00" contact_name="Sam" />\n'
        for i in range(sms_between)
    ).encode()
    with path.open("wb") as f:
        f.write(HEADER.encode() + b'<smses count="0" type="full">\n')
        for mib in part_mib:
            f.write(sms)
            f.write(
                f'  <mms date="{T0}" msg_box="1" address="+447700900123" m_id="x">\n'
                '    <parts>\n      <part seq="0" ct="image/jpeg" cl="big.jpg" data="'.encode()
            )
            h = hashlib.sha256()
            left = mib * 1024 * 1024 * 3 // 4
            while left:
                data = rng.randbytes(min(block, left))
                left -= len(data)
                h.update(data)
                f.write(base64.b64encode(data))
            hashes.append(h.hexdigest())
            f.write(b'" />\n    </parts>\n  </mms>\n')
        f.write(sms + b"</smses>\n")
    return hashes


@pytest.mark.slow
def test_peak_memory_stays_bounded(tmp_path: Path) -> None:
    path = tmp_path / "sms-big.xml"
    parts = [20, 50, 35, 50, 30, 50, 50]  # MiB of base64 text each
    hashes = write_big_backup(path, parts, sms_between=15_000)
    assert path.stat().st_size > 300 * 1024 * 1024  # more than the limit below
    proc = subprocess.run(
        [sys.executable, "-c", MEASURE, str(path)],
        capture_output=True,
        text=True,
        timeout=600,
        check=True,
    )
    result = json.loads(proc.stdout)
    assert result["counts"] == {"sms": 15_000 * (len(parts) + 1), "mms": len(parts)}
    assert result["hashes"] == hashes
    assert result["peak"] < 300 * 1024 * 1024, result["peak"]
    # Attachments are lifted out before lxml sees them, so the peak is near one attachment's
    # size above the interpreter's own, not several times it.
    assert result["peak"] < 150 * 1024 * 1024, result["peak"]
