"""The e-mail importers (.eml/.emlx, .mbox, Outlook .msg): exact items from small synthetic
messages and mailboxes (headers kept as written, encoded words, charsets, dates and zones,
threads, HTML-only bodies, attachments large and small, forwarded messages), the mbox traps
(Gmail Takeout and Thunderbird separators, unquoted "From " lines, >From quoting,
Content-Length right and wrong, CRLF, a BOM, no blank line between messages), the shared
samples, a round trip of generated mailboxes, bounded memory, damaged and foreign files, and
imports into a real diary (re-import and an overlapping later export add only what is new)."""

from __future__ import annotations

import base64
import dataclasses
import gc
import hashlib
import quopri
import random
import struct
import tracemalloc
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta, timezone
from email import message_from_string
from email.header import Header
from email.utils import format_datetime
from pathlib import Path
from typing import Any

import pytest
from extract_msg.ole_writer import OleWriter
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from docket.api import Diary
from docket.errors import ImportFormatError
from docket.importers import available, email_mbox
from docket.importers import email as email_mod
from docket.importers.base import (
    Context,
    Importer,
    ImportWarning,
    Item,
    Party,
    Probe,
    Source,
)
from docket.importers.email import Eml, decode_text, html_text, parse_date
from docket.importers.email_mbox import Mbox
from docket.importers.email_msg import OutlookMsg
from docket.model.timeparse import zone
from tests.conftest import SHARED

SAMPLES = SHARED / "samples" / "email"
needs_samples = pytest.mark.skipif(not SAMPLES.is_dir(), reason="shared samples not present")

LONDON = zone("Europe/London")
HEAD = "From: a@x\nDate: Tue, 12 Nov 2024 09:12:42 +0000\n"  # a message's least headers


# --- helpers -----------------------------------------------------------------------------------


@dataclasses.dataclass
class Parsed:
    items: list[Item]
    warnings: list[ImportWarning]
    files: list[list[bytes | None]]  # per item, each attachment's bytes (None: not included)
    order: list[Item | ImportWarning]


def run(importer: Importer, path: Path, name: str | None = None, **context: Any) -> Parsed:
    """Everything ``importer`` yields for ``path``; attachments are read while they are valid
    (before the next item is asked for)."""
    out = Parsed([], [], [], [])
    ctx = Context(name=name or path.name, **context)
    for x in importer.parse(Source(path), ctx):
        out.order.append(x)
        if isinstance(x, Item):
            out.items.append(x)
            out.files.append([b"".join(a.chunks()) if a.chunks else None for a in x.attachments])
        else:
            out.warnings.append(x)
    return out


def write(tmp_path: Path, name: str, data: bytes | str) -> Path:
    path = tmp_path / name
    path.write_bytes(data.encode("utf-8") if isinstance(data, str) else data)
    return path


def eml(tmp_path: Path, data: bytes | str, name: str = "message.eml", **context: Any) -> Parsed:
    return run(Eml(), write(tmp_path, name, data), **context)


def mbox(tmp_path: Path, data: bytes | str, name: str = "mail.mbox", **context: Any) -> Parsed:
    return run(Mbox(), write(tmp_path, name, data), **context)


def codes(parsed: Parsed) -> list[str]:
    return [w.code for w in parsed.warnings]


def utc(y: int, mo: int, d: int, h: int = 0, mi: int = 0, s: int = 0) -> datetime:
    return datetime(y, mo, d, h, mi, s, tzinfo=UTC)


def b64(data: bytes, width: int = 76, newline: str = "\n") -> str:
    text = base64.b64encode(data).decode("ascii")
    return newline.join(text[i : i + width] for i in range(0, len(text), width)) + newline


def probe(path: Path) -> Probe:
    return Probe.of(Source(path), path.name)


def scores(path: Path) -> dict[str, float]:
    p = probe(path)
    return {i.name: i.score(p) for i in available()}


def chosen(path: Path) -> str:
    s = scores(path)
    return max(s, key=lambda k: s[k])


# A message with every header the importer keeps, folded and encoded as mail programs write.
FULL = (
    "Return-Path: <sam@example.com>\n"
    "Received: from mx.example.net (mx.example.net [192.0.2.1])\n"
    "\tby mail.example.org with ESMTPS id abc123\n"
    "\tfor <alex@example.org>; Tue, 12 Nov 2024 09:12:45 +0000\n"
    "Received: from [198.51.100.7] by mx.example.net; Tue, 12 Nov 2024 09:12:43 +0000\n"
    "DKIM-Signature: v=1; a=rsa-sha256; d=example.com; s=s1;\n"
    "\th=from:to:subject:date; bh=47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=;\n"
    "\tb=dGVzdA==\n"
    'X-Gmail-Labels: Inbox,Important,"Category Personal"\n'
    "From: =?UTF-8?Q?S=C3=A1m_Example?= <Sam.Example@Example.COM>\n"
    'To: Alex <alex@example.org>, "Jo, Bloggs" <jo@example.net>\n'
    "Cc: undisclosed-recipients:;\n"
    "Cc: Priya <priya@example.org>\n"
    "Bcc: witness@example.org\n"
    "Subject: =?ISO-8859-1?Q?Re:_R=E9union?= =?UTF-8?B?IOKAlCBzZWUgeW91IPCfmKE=?=\n"
    "Date: Tue, 12 Nov 2024 09:12:42 +0000 (GMT)\n"
    "Message-ID: <msg-3@example.com>\n"
    "In-Reply-To: <msg-2@example.com>\n"
    "References: <msg-1@example.com>\n"
    " <msg-2@example.com>\n"
    "MIME-Version: 1.0\n"
    "Content-Type: text/plain; charset=utf-8\n"
    "Content-Transfer-Encoding: 8bit\n"
    "\n"
    "I saw you at the station.\n"
    "I know where you live.\n"
)


# --- one message: headers, people, threads -----------------------------------------------------


def test_a_message_keeps_every_header_as_written_and_names_its_people(tmp_path: Path) -> None:
    p = eml(tmp_path, FULL)
    assert p.warnings == []
    [item] = p.items
    assert item.kind == "message" and item.channel == "email" and item.direction == "unknown"
    assert item.sender == Party("Sam.Example@Example.COM", "email")  # as written: no lowering
    assert item.recipients == (
        Party("alex@example.org", "email"),
        Party("jo@example.net", "email"),
        Party("priya@example.org", "email"),
        Party("witness@example.org", "email"),
    )
    assert item.sent_at == utc(2024, 11, 12, 9, 12, 42)
    assert item.local_time == "Tue, 12 Nov 2024 09:12:42 +0000 (GMT)"
    assert item.body == "I saw you at the station.\nI know where you live."
    assert item.thread == "<msg-1@example.com>"
    assert (item.line, item.offset) == (1, 0)
    raw = item.raw
    assert raw["headers"] == FULL[: FULL.index("\n\n") + 1]  # byte for byte
    assert raw["headers_encoding"] == "utf-8"
    assert raw["subject"] == "Re: Réunion \u2014 see you \U0001f621"
    assert raw["from_name"] == "Sám Example"
    assert raw["message_id"] == "<msg-3@example.com>"
    assert raw["in_reply_to"] == "<msg-2@example.com>"
    assert raw["references"] == "<msg-1@example.com> <msg-2@example.com>"
    assert raw["date"] == "Tue, 12 Nov 2024 09:12:42 +0000 (GMT)"
    assert raw["x_gmail_labels"] == 'Inbox,Important,"Category Personal"'
    assert raw["dkim_signature"].startswith("v=1; a=rsa-sha256; d=example.com;")
    assert raw["received"].split("\n") == [
        "from mx.example.net (mx.example.net [192.0.2.1])\tby mail.example.org with ESMTPS id "
        "abc123\tfor <alex@example.org>; Tue, 12 Nov 2024 09:12:45 +0000",
        "from [198.51.100.7] by mx.example.net; Tue, 12 Nov 2024 09:12:43 +0000",
    ]
    assert raw["body_type"] == "text/plain"


@pytest.mark.parametrize(
    ("headers", "thread"),
    [
        ("References: <a@x>\n <b@x>\nIn-Reply-To: <b@x>\nMessage-ID: <c@x>\n", "<a@x>"),
        ("In-Reply-To: <b@x> (Sam's message)\nMessage-ID: <c@x>\n", "<b@x>"),
        ("Message-ID: <c@x>\n", "<c@x>"),
        ("Message-ID: c@x\n", "c@x"),
        ("", None),
    ],
)
def test_the_thread_is_the_first_message_of_the_conversation(
    tmp_path: Path, headers: str, thread: str | None
) -> None:
    p = eml(tmp_path, f"From: a@x\nTo: b@x\n{headers}Subject: s\n\nbody\n")
    assert p.items[0].thread == thread


def test_dkim_signature_and_labels_are_absent_when_the_message_has_none(tmp_path: Path) -> None:
    [item] = eml(
        tmp_path, "From: a@x\nTo: b@x\nDate: Tue, 12 Nov 2024 09:12:42 +0000\n\nhi\n"
    ).items
    for key in ("dkim_signature", "x_gmail_labels", "received", "subject", "message_id"):
        assert key not in item.raw
    assert "envelope" not in item.raw


def test_malformed_addresses_never_raise(tmp_path: Path) -> None:
    text = (
        "From: Sam Example\n"  # a name and no address
        'To: <>, ,,; "unterminated <alex@example.org>\n'
        "Cc: =?UTF-8?B?broken?= <jo@example.net>, (comment only)\n"
        "Subject: =?UTF-8?Q?unfinished\n"
        "Date: Tue, 12 Nov 2024 09:12:42 +0000\n\nbody\n"
    )
    [item] = eml(tmp_path, text).items
    assert item.sender == Party("Sam Example", "name")
    assert Party("jo@example.net", "email") in item.recipients
    assert item.raw["subject"] == "=?UTF-8?Q?unfinished"
    assert item.body == "body"


def test_a_message_without_from_has_no_sender_unless_sender_names_one(tmp_path: Path) -> None:
    [a] = eml(tmp_path, "To: b@x\nSubject: s\n\nbody\n").items
    assert a.sender is None
    [b] = eml(tmp_path, "Sender: Sam <sam@example.com>\nTo: b@x\n\nbody\n", "b.eml").items
    assert b.sender == Party("sam@example.com", "email")


def test_raw_8bit_headers_are_kept_and_decoded(tmp_path: Path) -> None:
    utf8 = "From: Zoë <zoe@example.com>\nTo: a@x\nSubject: Ça va ?\n\nsalut\n".encode()
    [a] = eml(tmp_path, utf8).items
    assert a.raw["headers_encoding"] == "utf-8" and a.raw["subject"] == "Ça va ?"
    assert a.raw["from_name"] == "Zoë"
    latin = "From: Zoë <zoe@example.com>\nTo: a@x\nSubject: Ça va ?\n\nsalut\n".encode("latin-1")
    [b] = eml(tmp_path, latin, "latin.eml").items
    assert b.raw["headers_encoding"] == "latin-1"
    assert b.raw["headers"].encode("latin-1") == latin[: latin.index(b"\n\n") + 1]  # lossless
    assert b.raw["subject"] == "Ça va ?"


# --- dates -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("written", "instant", "problem"),
    [
        ("Tue, 12 Nov 2024 09:12:42 -0500", utc(2024, 11, 12, 14, 12, 42), None),
        ("Tue, 12 Nov 2024 09:12:42 -0500 (EST)", utc(2024, 11, 12, 14, 12, 42), None),
        ("12 Nov 2024 09:12:42 +0530", utc(2024, 11, 12, 3, 42, 42), None),
        ("Tue, 12 Nov 24 9:12 GMT", utc(2024, 11, 12, 9, 12), None),
        ("Tue, 12 Nov 2024 09:12:42 -0000", utc(2024, 11, 12, 9, 12, 42), None),
        ("Tue, 12 Nov 2024 09:12:42 EDT", utc(2024, 11, 12, 13, 12, 42), None),
        ("Tue, 12 Nov 2024 09:12:42 CEST", utc(2024, 11, 12, 7, 12, 42), None),
        ("Tue, 12 Nov 2024 09:12:42 GMT+0200", utc(2024, 11, 12, 7, 12, 42), None),
        ("Tue,  12  Nov  2024  09:12:42  +0000", utc(2024, 11, 12, 9, 12, 42), None),
        ("Tue Nov 12 09:12:42 2024", utc(2024, 11, 12, 9, 12, 42), "no_zone"),  # asctime
        ("Tue Nov 12 09:12:42 +0100 2024", utc(2024, 11, 12, 8, 12, 42), None),
        ("2024-11-12T09:12:42+01:00", utc(2024, 11, 12, 8, 12, 42), None),
        ("Tue, 12 Nov 1999 09:12:42 +0000", utc(1999, 11, 12, 9, 12, 42), None),
        ("Fri, 23 Aug 2002 2:32:53 -0400", utc(2002, 8, 23, 6, 32, 53), None),
        # Europe/London in July is UTC+1: a zone-less time is read there, and flagged
        ("Fri, 12 Jul 2024 09:12:42", utc(2024, 7, 12, 8, 12, 42), "no_zone"),
        ("Fri, 12 Jul 2024 09:12:42 XYZT", utc(2024, 7, 12, 8, 12, 42), "unknown_zone"),
        ("next Tuesday", None, "unreadable"),
        ("Tue, 31 Feb 2024 09:12:42 +0000", None, "unreadable"),
        ("", None, "missing"),
    ],
)
def test_dates_with_and_without_zones(
    written: str, instant: datetime | None, problem: str | None
) -> None:
    parsed = parse_date(written, LONDON)
    assert (parsed.when, parsed.problem) == (instant, problem)


def test_a_missing_or_unreadable_date_is_a_warning_with_the_line(tmp_path: Path) -> None:
    data = (
        "From - \nFrom: a@x\nSubject: one\n\nno date\n\n"
        "From - \nFrom: a@x\nDate: the day after\n\nbad date\n\n"
        "From - \nFrom: a@x\nDate: Fri, 12 Jul 2024 09:12:42\n\nno zone\n"
    )
    p = mbox(tmp_path, data)
    assert [(w.code, w.line) for w in p.warnings] == [
        ("missing_date", 1),
        ("bad_date", 7),
        ("date_without_zone", 13),
    ]
    assert [(i.sent_at, i.local_time) for i in p.items] == [
        (None, ""),
        (None, "the day after"),
        (utc(2024, 7, 12, 8, 12, 42), "Fri, 12 Jul 2024 09:12:42"),
    ]
    # each warning comes just before its message
    assert [type(x).__name__ for x in p.order] == ["ImportWarning", "Item"] * 3


def test_a_zone_less_date_follows_the_context_zone(tmp_path: Path) -> None:
    text = "From: a@x\nDate: Fri, 12 Jul 2024 09:12:42\n\nbody\n"
    [item] = eml(tmp_path, text, timezone="America/New_York").items
    assert item.sent_at == utc(2024, 7, 12, 13, 12, 42)


# --- bodies and charsets -----------------------------------------------------------------------


def test_multipart_alternative_takes_the_plain_text(tmp_path: Path) -> None:
    text = (
        HEAD + "Content-Type: multipart/alternative; boundary=b\n\n"
        "--b\nContent-Type: text/html; charset=utf-8\n\n<p>rich <b>text</b></p>\n"
        "--b\nContent-Type: text/plain; charset=utf-8\n\nplain text\n--b--\n"
    )
    [item] = eml(tmp_path, text).items
    assert item.body == "plain text" and item.attachments == ()
    assert item.raw["body_type"] == "text/plain"


def test_an_html_only_message_gives_its_text(tmp_path: Path) -> None:
    html = (
        "<html><head><title>t</title><style>p {color: red}</style></head><body>"
        "<p>I am   outside\nyour door.</p><div>Open it<br>now</div>"
        "<script>alert(1)</script><ul><li>one</li><li>two &amp; three</li></ul>"
        "<pre>  kept\n    as is</pre></body></html>"
    )
    text = (
        "From: a@x\nDate: Tue, 12 Nov 2024 09:12:42 +0000\nContent-Type: text/html; charset=utf-8\n"
        "Content-Transfer-Encoding: quoted-printable\n\n"
        + quopri.encodestring(html.encode()).decode()
    )
    [item] = eml(tmp_path, text).items
    assert item.raw["body_type"] == "text/html"
    assert item.body == (
        "I am outside your door.\n\nOpen it\nnow\n\none\ntwo & three\n\n  kept\n    as is"
    )


def test_html_text_copes_with_fragments_and_junk() -> None:
    assert html_text("") == ""
    assert html_text("just text") == "just text"
    assert html_text("<b>bold</b> and <i>more") == "bold and more"
    assert html_text("<?xml version='1.0' encoding='utf-8'?><p>x</p>") == "x"


def test_html_shown_beside_plain_text_is_kept_as_an_attachment(tmp_path: Path) -> None:
    text = (
        HEAD + "Content-Type: multipart/mixed; boundary=b\n\n"
        "--b\nContent-Type: text/plain\n\nsee below\n"
        "--b\nContent-Type: text/html\n\n<p>the rest</p>\n--b--\n"
    )
    p = eml(tmp_path, text)
    [item] = p.items
    assert item.body == "see below"
    assert [(a.name, a.media_type) for a in item.attachments] == [("part-1.html", "text/html")]
    assert p.files == [[b"<p>the rest</p>"]]


def test_several_plain_parts_are_all_in_the_body(tmp_path: Path) -> None:
    png = b"\x89PNG\r\n\x1a\n" + bytes(100)
    text = (
        HEAD + "Content-Type: multipart/mixed; boundary=b\n\n"
        "--b\nContent-Type: text/plain\n\nfirst half\n"
        f"--b\nContent-Type: image/png\nContent-Transfer-Encoding: base64\n\n{b64(png)}"
        "--b\nContent-Type: text/plain\n\nsecond half\n--b--\n"
    )
    p = eml(tmp_path, text)
    assert p.items[0].body == "first half\n\nsecond half"
    assert [a.name for a in p.items[0].attachments] == ["part-1.png"]  # an inline image
    assert p.files == [[png]]


@pytest.mark.parametrize(
    ("charset", "encoding", "data", "body"),
    [
        ("iso-8859-1", "quoted-printable", b"caf=E9 =\nd=E9j=E0 vu\n", "café déjà vu"),
        ("windows-1252", "8bit", b"\x93quoted\x94 \x80 5\n", "\u201cquoted\u201d \u20ac 5"),
        ("iso-8859-1", "8bit", b"\x93smart\x94\n", "\u201csmart\u201d"),  # read as 1252
        ("koi8-r", "base64", base64.b64encode("привет".encode("koi8-r")), "привет"),
        ("gb2312", "8bit", "你好".encode("gbk") + b"\n", "你好"),
        ("ISO-2022-JP", "7bit", "日本語".encode("iso2022_jp") + b"\n", "日本語"),
        (None, "8bit", "naïve".encode() + b"\n", "naïve"),  # no charset: UTF-8 when valid
        (None, "8bit", "naïve".encode("cp1252") + b"\n", "naïve"),  # else Windows-1252
        ("us-ascii", "8bit", "naïve".encode() + b"\n", "naïve"),  # 8-bit UTF-8 mislabelled
        ("utf-8", "base64", base64.b64encode("stop \U0001f621".encode()), "stop \U0001f621"),
    ],
)
def test_bodies_in_any_charset(
    tmp_path: Path, charset: str | None, encoding: str, data: bytes, body: str
) -> None:
    ctype = "text/plain" + (f"; charset={charset}" if charset else "")
    message = (
        HEAD + f"Content-Type: {ctype}\nContent-Transfer-Encoding: {encoding}\n\n"
    ).encode() + data
    p = eml(tmp_path, message)
    assert p.items[0].body == body and p.warnings == []


def test_an_unknown_or_wrong_charset_is_read_as_best_can_be_with_a_warning(
    tmp_path: Path,
) -> None:
    unknown = HEAD.encode() + b"Content-Type: text/plain; charset=x-klingon\n\ncaf\xc3\xa9\n"
    p = eml(tmp_path, unknown)
    assert p.items[0].body == "café" and codes(p) == ["text_encoding"]
    wrong = HEAD.encode() + b"Content-Type: text/plain; charset=utf-8\n\ncaf\xe9 ok\n"
    q = eml(tmp_path, wrong, "b.eml")
    assert q.items[0].body == "caf\ufffd ok" and codes(q) == ["text_encoding"]


def test_decode_text_never_raises_and_never_leaves_surrogates() -> None:
    for charset in (None, "utf-8", "utf-7", "iso-2022-jp", "x-unknown", "utf-16", "bogus"):
        text, _ = decode_text(bytes(range(256)), charset)
        text.encode("utf-8")


def test_line_ends_become_newlines_and_crlf_files_read_the_same(tmp_path: Path) -> None:
    lf = eml(tmp_path, FULL).items[0]
    crlf = eml(tmp_path, FULL.replace("\n", "\r\n"), "crlf.eml").items[0]
    assert crlf.body == lf.body and crlf.sent_at == lf.sent_at and crlf.sender == lf.sender
    assert crlf.recipients == lf.recipients and crlf.raw["subject"] == lf.raw["subject"]
    assert crlf.raw["headers"] == FULL[: FULL.index("\n\n") + 1].replace("\n", "\r\n")


# --- attachments -------------------------------------------------------------------------------


def with_attachments(parts: Iterable[str], newline: str = "\n") -> str:
    body = "".join(f"--b\n{p}" for p in parts)
    text = (
        "From: Sam <sam@example.com>\nTo: a@x\nDate: Tue, 12 Nov 2024 09:12:42 +0000\n"
        "Subject: photos\nContent-Type: multipart/mixed; boundary=b\n\n"
        f"--b\nContent-Type: text/plain\n\nlook at these\n{body}--b--\n"
    )
    return text.replace("\n", newline)


@pytest.mark.parametrize("newline", ["\n", "\r\n"])
def test_attachments_small_and_large_come_back_byte_for_byte(tmp_path: Path, newline: str) -> None:
    rng = random.Random(5)
    small = b"\xff\xd8\xff\xe0" + rng.randbytes(3000)
    large = b"%PDF-1.4\n" + rng.randbytes(300_000)  # lifted: decoded from the bytes directly
    odd = rng.randbytes(100_001)  # a length that needs padding
    text = with_attachments(
        [
            'Content-Type: image/jpeg; name="photo.jpg"\nContent-Transfer-Encoding: base64\n'
            f'Content-Disposition: attachment; filename="photo.jpg"\n\n{b64(small)}',
            "Content-Type: application/pdf\nContent-Transfer-Encoding: base64\n"
            "Content-Disposition: attachment;\n filename*=UTF-8''r%C3%A9sum%C3%A9.pdf\n\n"
            f"{b64(large, 72)}",
            'Content-Type: application/octet-stream;\n name="=?UTF-8?B?w6l0w6kuYmlu?="\n'
            f"Content-Transfer-Encoding: base64\n\n{b64(odd)}",
            'Content-Type: text/plain; name="../../etc/notes.txt"\n\nfile text\n',
        ],
        newline,
    )
    p = eml(tmp_path, text)
    [item] = p.items
    assert item.body == "look at these" and p.warnings == []
    assert [(a.name, a.media_type, a.note) for a in item.attachments] == [
        ("photo.jpg", "image/jpeg", None),
        ("résumé.pdf", "application/pdf", None),
        ("été.bin", "application/octet-stream", None),
        ("notes.txt", "text/plain", None),
    ]
    # the line end before a boundary belongs to the boundary (RFC 2046)
    assert p.files == [[small, large, odd, b"file text"]]


def test_base64_written_as_one_long_line(tmp_path: Path) -> None:
    data = random.Random(8).randbytes(200_000)
    text = with_attachments(
        [
            "Content-Type: application/pdf; name=one-line.pdf\n"
            f"Content-Transfer-Encoding: base64\n\n{base64.b64encode(data).decode()}\n"
        ]
    )
    skeleton, runs = email_mod.lift(text.encode(), 0)
    assert len(runs) == 1 and len(skeleton) < 1000  # decoded from the bytes, not parsed
    assert eml(tmp_path, text).files == [[data]]


def test_odd_base64_is_read_as_the_library_reads_it_or_as_far_as_it_goes(
    tmp_path: Path,
) -> None:
    """Padding inside a body: left to the library (it stops at the padding). One character
    too many (a body cut short): the library would hand back the encoded text itself, so
    Docket decodes the complete part instead."""
    rng = random.Random(9)
    payload = rng.randbytes(60_000)
    inner_pad = b64(payload[:30_001]) + b64(payload[30_001:])
    parts = message_from_string(
        with_attachments(
            [
                "Content-Type: application/octet-stream\n"
                f"Content-Transfer-Encoding: base64\n\n{inner_pad}"
            ]
        )
    ).get_payload()
    assert isinstance(parts, list)
    library = parts[1].get_payload(decode=True)
    for i, (body, expected) in enumerate(
        (
            (inner_pad, library),
            (b64(payload) + "A\n", payload),
            (b64(payload[:999]) + "Q\n", payload[:999]),
        )
    ):
        text = with_attachments(
            [f"Content-Type: application/octet-stream\nContent-Transfer-Encoding: base64\n\n{body}"]
        )
        assert eml(tmp_path, text, f"{i}.eml").files == [[expected]], i


@given(
    data=st.binary(min_size=0, max_size=120_000),
    width=st.sampled_from([60, 64, 72, 76, 996, 10**9]),  # 10**9: one line, unwrapped
    crlf=st.booleans(),
)
@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
def test_any_attachment_round_trips(tmp_path: Path, data: bytes, width: int, crlf: bool) -> None:
    newline = "\r\n" if crlf else "\n"
    text = with_attachments(
        [
            "Content-Type: application/octet-stream; name=x.bin\n"
            f"Content-Transfer-Encoding: base64\n\n{b64(data, width)}"
        ],
        newline,
    )
    assert eml(tmp_path, text, "p.eml").files == [[data]]


def test_a_forwarded_message_is_kept_as_an_eml_attachment(tmp_path: Path) -> None:
    rng = random.Random(2)
    photo = b"\x89PNG\r\n\x1a\n" + rng.randbytes(80_000)  # large: lifted inside the forward
    inner = (
        "From: Sam <sam@example.com>\nTo: Alex <alex@example.org>\nSubject: you\n"
        "Content-Type: multipart/mixed; boundary=inner\n\n"
        "--inner\nContent-Type: text/plain\n\nI am watching you\n"
        "--inner\nContent-Type: image/png\nContent-Transfer-Encoding: base64\n\n"
        f"{b64(photo)}--inner--\n"
    )
    text = with_attachments(
        ["Content-Type: message/rfc822\nContent-Disposition: attachment\n\n" + inner]
    )
    p = eml(tmp_path, text)
    [item] = p.items
    assert item.body == "look at these"
    assert [(a.name, a.media_type) for a in item.attachments] == [("part-1.eml", "message/rfc822")]
    [[forwarded]] = p.files
    assert forwarded is not None
    again = eml(tmp_path, forwarded, "forwarded.eml")
    assert again.items[0].body == "I am watching you"
    assert again.items[0].sender == Party("sam@example.com", "email")
    assert again.files == [[photo]]


def test_an_attachment_cannot_be_read_after_the_next_item(tmp_path: Path) -> None:
    text = with_attachments(["Content-Type: image/png; name=a.png\n\nxx\n"])
    path = write(tmp_path, "m.mbox", f"From - \n{text}\nFrom - \n{text}")
    items = Mbox().parse(Source(path), Context(name=path.name))
    first = next(x for x in items if isinstance(x, Item))
    assert first.attachments[0].chunks is not None
    assert b"".join(first.attachments[0].chunks()) == b"xx"
    next(items)
    with pytest.raises(RuntimeError):
        first.attachments[0].chunks()


# --- mailboxes ---------------------------------------------------------------------------------


def msg_text(i: int, *, body: str | None = None, date: datetime | None = None) -> str:
    when = date or datetime(2024, 11, 12, 9, 0, tzinfo=UTC) + timedelta(minutes=7 * i)
    return (
        f"From: Sam <sam@example.com>\nTo: Alex <alex@example.org>\n"
        f"Date: {format_datetime(when)}\nSubject: message {i}\n"
        f"Message-ID: <m{i}@example.com>\n\n{body if body is not None else f'body {i}'}\n"
    )


def test_gmail_takeout_separators_with_and_without_a_date(tmp_path: Path) -> None:
    data = (
        "From 1844347792267117879@xxx\n"
        "X-GM-THRID: 1844347792267117879\nX-Gmail-Labels: Inbox,Opened\n"
        + msg_text(0)
        + "\nFrom 1669160939957813740@xxx Thu Jun 11 00:38:38 +0000 2020\n"
        "X-Gmail-Labels: Sent\n" + msg_text(1)
    )
    p = mbox(tmp_path, data)
    assert p.warnings == []
    assert [(i.line, i.offset, i.raw["envelope"]) for i in p.items] == [
        (1, 0, "From 1844347792267117879@xxx"),
        (
            12,
            data.index("From 1669"),
            "From 1669160939957813740@xxx Thu Jun 11 00:38:38 +0000 2020",
        ),
    ]
    assert [i.raw["x_gmail_labels"] for i in p.items] == ["Inbox,Opened", "Sent"]
    assert [i.body for i in p.items] == ["body 0", "body 1"]  # the blank line between: neither's


def test_thunderbird_bom_and_unquoted_from_lines(tmp_path: Path) -> None:
    data = (
        "\ufeffFrom - Tue Nov 12 09:00:00 2024\nX-Mozilla-Status: 0001\n"
        + msg_text(
            0,
            body="My favourite film:\n\nFrom Russia with love\nYear: 1963\n\n"
            "From Monday on I'll be outside your door",
        )
        + "From -\n"  # no blank line before it
        + msg_text(1)
    )
    p = mbox(tmp_path, data)
    assert [i.body for i in p.items] == [
        "My favourite film:\n\nFrom Russia with love\nYear: 1963\n\n"
        "From Monday on I'll be outside your door",
        "body 1",
    ]
    second = data.index("From -\n")
    assert [(i.line, i.offset) for i in p.items] == [
        (1, 3),
        (data[:second].count("\n") + 1, data.encode().index(b"From -\n")),
    ]


def test_classic_separators_and_mboxrd_quoting(tmp_path: Path) -> None:
    data = (
        "From sam@example.com  Tue Nov 12 09:00:00 2024\n"
        + msg_text(0, body=">From the start, I knew.\n>>From quoted twice\n> From a reply")
        + "\nFrom MAILER-DAEMON Tue Nov 12 09:07:00 2024\n"
        + msg_text(1)
    )
    p = mbox(tmp_path, data)
    first = p.items[0]
    assert first.body == ">From the start, I knew.\n>>From quoted twice\n> From a reply"
    assert first.match_body == "From the start, I knew.\nFrom quoted twice\n> From a reply"
    assert p.items[1].match_body is None and len(p.items) == 2


def test_an_address_separator_line_inside_a_body_splits_as_every_mbox_reader_would(
    tmp_path: Path,
) -> None:
    """mboxo cannot tell this from a real separator (formats.md §8 case 14); Docket splits."""
    body = "see below\n\nFrom sam@example.com Tue Nov 12 09:00:00 2024\nSubject: old\n\nold"
    p = mbox(tmp_path, "From - \n" + msg_text(0, body=body))
    assert len(p.items) == 2 and p.items[1].raw["subject"] == "old"


def test_a_right_content_length_keeps_separator_lines_in_the_body(tmp_path: Path) -> None:
    body = "see below\n\nFrom sam@example.com Tue Nov 12 09:00:00 2024\nSubject: old\n\nold\n"
    head = msg_text(0, body="").rstrip("\n").rsplit("\n", 1)[0]  # headers without the blank
    first = f"From - \n{head}\nContent-Length: {len(body.encode())}\n\n{body}"
    data = first + "\n" + "From - \n" + msg_text(1)
    p = mbox(tmp_path, data)
    assert [i.raw["subject"] for i in p.items] == ["message 0", "message 1"]
    assert p.items[0].body == body.rstrip("\n")
    # the same length at the end of the file
    q = mbox(tmp_path, first, "end.mbox")
    assert len(q.items) == 1 and q.items[0].body == body.rstrip("\n")


def test_a_wrong_content_length_is_ignored(tmp_path: Path) -> None:
    head = msg_text(0, body="").rstrip("\n").rsplit("\n", 1)[0]
    for length in (5, 10_000_000, 25):
        data = f"From - \n{head}\nContent-Length: {length}\n\nshort body\n\nFrom - \n" + msg_text(1)
        p = mbox(tmp_path, data, f"{length}.mbox")
        assert [i.body for i in p.items] == ["short body", "body 1"], length


def test_crlf_mailbox(tmp_path: Path) -> None:
    data = ("From - \n" + msg_text(0) + "\nFrom - \n" + msg_text(1)).replace("\n", "\r\n")
    p = mbox(tmp_path, data)
    assert [i.body for i in p.items] == ["body 0", "body 1"]
    assert [i.line for i in p.items] == [1, 10]
    assert p.items[0].raw["envelope"] == "From - "


def test_text_before_the_first_message_is_reported_and_skipped(tmp_path: Path) -> None:
    data = "\n\nsome notes\nnot mail\nFrom - \n" + msg_text(0)
    p = mbox(tmp_path, data)
    assert [(w.code, w.line) for w in p.warnings] == [("text_before_first_message", 3)]
    assert "Lines 3 to 4" in p.warnings[0].message
    assert [i.line for i in p.items] == [5]


def test_many_blank_lines_before_the_first_message(tmp_path: Path) -> None:
    p = mbox(tmp_path, "\n" * 10_000 + "From - \n" + msg_text(0))
    assert [(i.line, i.body) for i in p.items] == [(10_001, "body 0")] and p.warnings == []
    with pytest.raises(ImportFormatError) as err:
        mbox(tmp_path, "\n" * 10_000, "blank.mbox")
    assert "empty" in err.value.message


def test_separators_across_read_blocks(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Tiny read blocks put every separator, line end and header across a block boundary."""
    data = "".join(f"From - \n{msg_text(i)}\n" for i in range(40))
    expected = mbox(tmp_path, data)
    monkeypatch.setattr(email_mbox, "BLOCK", 7)
    small = mbox(tmp_path, data, "small.mbox")
    assert small.items == expected.items and len(small.items) == 40


def test_a_message_larger_than_the_limit_is_kept_without_its_attachments(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(email_mbox, "MAX_MESSAGE", 200_000)
    monkeypatch.setattr(email_mbox, "HEAD_KEEP", 50_000)
    big = random.Random(1).randbytes(300_000)
    text = with_attachments(
        [f"Content-Type: video/mp4; name=v.mp4\nContent-Transfer-Encoding: base64\n\n{b64(big)}"]
    )
    p = mbox(tmp_path, f"From - \n{text}\nFrom - \n{msg_text(1)}")
    assert codes(p) == ["message_too_large"] and p.warnings[0].line == 1
    first, second = p.items
    assert first.body == "look at these" and first.sender == Party("sam@example.com", "email")
    assert [(a.name, a.chunks) for a in first.attachments] == [("v.mp4", None)]
    assert first.attachments[0].note == email_mod.NOTE_TOO_LARGE
    assert second.body == "body 1" and second.line == text.count("\n") + 3


def test_a_mailbox_cut_short_in_its_last_message_says_so(tmp_path: Path) -> None:
    photo = random.Random(3).randbytes(50_000)
    last = with_attachments(
        [f"Content-Type: image/jpeg; name=p.jpg\nContent-Transfer-Encoding: base64\n\n{b64(photo)}"]
    )
    data = f"From - \n{msg_text(0)}\nFrom - \n{last}"
    cut = data[: len(data) - 30_000]  # inside the attachment, mid-line
    p = mbox(tmp_path, cut)
    assert [(w.code, w.line) for w in p.warnings] == [("message_cut_short", 10)]
    assert [i.body for i in p.items] == ["body 0", "look at these"]


def test_an_eml_cut_short_says_so_and_keeps_what_is_there(tmp_path: Path) -> None:
    photo = random.Random(6).randbytes(40_000)
    text = with_attachments(
        [f"Content-Type: image/jpeg; name=p.jpg\nContent-Transfer-Encoding: base64\n\n{b64(photo)}"]
    )
    p = eml(tmp_path, text[: len(text) - 20_001])
    assert [(w.code, w.line) for w in p.warnings] == [("message_cut_short", 1)]
    assert p.items[0].body == "look at these" and p.items[0].sender is not None
    [[partial]] = p.files
    assert partial is not None and photo.startswith(partial[:1000])


def test_memory_stays_bounded_on_a_large_mailbox(tmp_path: Path) -> None:
    """40 MB of messages with 1.5 MB attachments: peak Python memory is a few messages' worth,
    whatever the file's size."""
    rng = random.Random(4)
    photo = b64(rng.randbytes(1_500_000))
    path = tmp_path / "big.mbox"
    with path.open("w") as f:
        for i in range(20):
            f.write(
                "From - \n"
                + with_attachments(
                    [
                        f"Content-Type: image/jpeg; name=p{i}.jpg\n"
                        f"Content-Transfer-Encoding: base64\n\n{photo}"
                    ]
                )
                + "\n"
            )
            f.write("".join(f"From - \n{msg_text(j)}\n" for j in range(i * 60, i * 60 + 60)))
    assert path.stat().st_size > 40_000_000
    gc.collect()
    tracemalloc.start()
    n = files = 0
    try:
        for x in Mbox().parse(Source(path), Context(name=path.name)):
            if isinstance(x, Item):
                n += 1
                for a in x.attachments:
                    assert a.chunks is not None
                    files += sum(len(c) for c in a.chunks())
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert n == 20 * 61 and files == 20 * 1_500_000
    assert peak < 16_000_000, peak


def _gmail_message(i: int, photo: str) -> str:
    """A message as Gmail writes one with an attachment (text and HTML as alternatives, a
    photo, a forwarded message), its names and subject encoded, and every value new."""
    subject = Header(f"Re: on se voit ? n°{i}", "utf-8").encode()
    return (
        f"From: =?utf-8?q?Z=C3=B6e_{i}?= <zoe{i}@example.net>\n"
        f'To: "Alex ({i})" <alex@example.org>\n'
        f"Subject: {subject}\nDate: Tue, 12 Nov 2024 09:12:42 +0000\nMessage-ID: <g{i}@x>\n"
        "MIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=m\n\n"
        "--m\nContent-Type: multipart/alternative; boundary=a\n\n"
        f"--a\nContent-Type: text/plain; charset=utf-8\n\nsee you at {i}\n"
        f"--a\nContent-Type: text/html; charset=utf-8\n\n<p>see you at {i}</p>\n--a--\n"
        f'--m\nContent-Type: image/jpeg; name="IMG_{i}.jpg"\nContent-Transfer-Encoding: base64\n\n'
        f"{photo}--m\nContent-Type: message/rfc822\n\nFrom: x@y\nSubject: fw {i}\n\nbody\n--m--\n\n"
        f"From - \nFrom: sam{i}@example.com\nSubject: =?utf-8?b?w6l0w6k=?= {i}\n"
        "Content-Type: text/html\n\n<html><body><p>only <b>HTML</b></p></body></html>\n\n"
    )


def test_reading_messages_leaves_no_reference_cycles(tmp_path: Path) -> None:
    """The import pipeline switches Python's cycle collector off while it imports (its items
    are short-lived and acyclic), so anything a reader leaves in a reference cycle stays in
    memory to the end of the import: a message's whole walk and bytes, attachments included,
    made a 1 GB Gmail import's memory grow with the file. Nothing may be left for it."""
    photo = b64(random.Random(6).randbytes(60_000))  # large enough to be lifted

    def read(path: Path) -> int:
        n = 0
        for x in Mbox().parse(Source(path), Context(name=path.name)):
            if isinstance(x, Item):
                n += 1
                for a in x.attachments:
                    assert a.chunks is not None
                    for _ in a.chunks():
                        pass
        return n

    first = write(
        tmp_path, "a.mbox", "".join(f"From - \n{_gmail_message(i, photo)}" for i in range(3))
    )
    later = write(
        tmp_path, "b.mbox", "".join(f"From - \n{_gmail_message(i, photo)}" for i in range(3, 40))
    )
    read(first)  # the modules' own caches, filled once
    was_enabled = gc.isenabled()
    gc.collect()
    gc.disable()
    try:
        assert read(later) == 2 * 37
        gc.set_debug(gc.DEBUG_SAVEALL)
        found = gc.collect()
        left = sorted({type(o).__name__ for o in gc.garbage})
    finally:
        gc.set_debug(0)
        gc.garbage.clear()
        if was_enabled:
            gc.enable()
    assert found == 0, left


def test_a_large_attachment_is_decoded_without_copying_it(tmp_path: Path) -> None:
    """A 4 MB photo (5.4 MB of base64): reading the message takes almost no memory beyond
    its bytes, and reading the photo about one decoded chunk at a time."""
    photo = random.Random(7).randbytes(4_000_000)
    part = "Content-Type: image/jpeg; name=p.jpg\nContent-Transfer-Encoding: base64\n\n"
    data = bytearray(with_attachments([part + b64(photo)]).encode())
    gc.collect()
    tracemalloc.start()
    try:
        item, _, held = email_mod.read_message(email_mod.RawMessage(data, 1, 0), LONDON)
        _, reading = tracemalloc.get_traced_memory()
        tracemalloc.reset_peak()
        [a] = item.attachments
        assert a.chunks is not None
        out = hashlib.sha256()
        size = 0
        for c in a.chunks():
            out.update(c)
            size += len(c)
        _, decoding = tracemalloc.get_traced_memory()
        held.release()
    finally:
        tracemalloc.stop()
    assert out.digest() == hashlib.sha256(photo).digest() and size == len(photo)
    assert reading < 1_000_000, reading
    assert decoding < 2 * email_mod.CHUNK + 200_000, decoding


@settings(max_examples=300, deadline=None)
@given(
    data=st.binary(max_size=400),
    width=st.integers(1, 90),
    crlf=st.booleans(),
    unpadded=st.booleans(),
    chunk=st.integers(1, 64),
)
def test_base64_decoded_in_pieces_is_the_whole_decoded(
    data: bytes, width: int, crlf: bool, unpadded: bool, chunk: int
) -> None:
    """Each piece is decoded straight from the message's bytes, cut where the text before it
    holds whole groups of four characters, at any line length, line end and piece size."""
    text = base64.b64encode(data)
    if unpadded:
        text = text.rstrip(b"=")
    if not text or len(text) % 4 == 1:
        return  # lift leaves such a body to the library
    newline = b"\r\n" if crlf else b"\n"
    body = newline.join(text[i : i + width] for i in range(0, len(text), width)) + newline
    message = b"Content-Transfer-Encoding: base64\n\n" + body + b"--b--\n"
    a = message.index(body)
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(email_mod, "CHUNK", chunk)
        for form in (bytes, bytearray):
            pieces = list(email_mod._b64_chunks(form(message), a, a + len(body)))
            assert b"".join(pieces) == data
            assert all(pieces)


# --- the shared samples ------------------------------------------------------------------------


@needs_samples
def test_shared_gmail_takeout_sample() -> None:
    p = run(Mbox(), SAMPLES / "gmail_takeout_style_from_lines__mimekit.mbox")
    assert p.warnings == []
    assert [i.raw["subject"] for i in p.items] == [f"Message {n}" for n in range(1, 5)]
    assert [i.body for i in p.items] == [f"Body of message {n}." for n in range(1, 5)]
    assert [i.line for i in p.items] == [1, 22, 53, 74]
    assert p.items[0].sent_at == utc(2025, 9, 26, 17, 18, 40)
    assert [[a.name for a in i.attachments] for i in p.items] == [[], ["Attachment.zip"], [], []]
    zipped = p.files[1][0]
    assert zipped is not None and zipped.startswith(b"7z\xbc\xaf\x27\x1c") and len(zipped) == 3750


@needs_samples
def test_shared_thunderbird_sample_with_bom_and_unmunged_from_lines() -> None:
    p = run(Mbox(), SAMPLES / "unmunged_from_lines_bom__mimekit.mbox")
    assert [i.raw["subject"] for i in p.items] == [
        "This is a test message with an unmunged From line",
        "Another test message with an unmunged From line",
    ]
    assert "From Russia with love\nYear: 1963" in (p.items[1].body or "")
    assert [(i.line, i.offset) for i in p.items] == [(1, 3), (13, 245)]
    assert codes(p) == ["missing_date", "missing_date"]


@needs_samples
def test_shared_nested_multipart_sample() -> None:
    p = run(Mbox(), SAMPLES / "simple__mimekit.mbox")
    assert len(p.items) == 3 and p.warnings == []
    assert all((i.body or "").startswith("Hello world.") for i in p.items)
    assert [i.line for i in p.items] == [1, 25, 48]
    assert all(i.sent_at == utc(2002, 8, 23, 6, 32, 53) for i in p.items)


@needs_samples
@pytest.mark.parametrize(
    ("name", "sender", "sent_at", "body_start", "attachments"),
    [
        (
            "iso2022jp_encoded_words__mimekit.eml",
            "x@x.com",
            utc(2015, 7, 21, 16, 2, 29),
            "Let's see if both subject and body works fine...\n\n日本語が",
            [],
        ),
        (
            "malformed_2__mailparser.eml",
            "postmaster@netpar.com.br",
            utc(2016, 8, 22, 9, 23, 36),
            "Your message has encountered delivery problems",
            ["DSN57BAC498.txt", "part-2.txt"],
        ),
        (
            "simple_multipart__mimekit.eml",
            "xxxxxxx@xxxxxxx.xxx",
            utc(2013, 11, 12, 14, 12, 42),
            "xxxx xx xxx xxxxxxx xxxxx",
            ["xxxxxxxxxxxxxx"],
        ),
        (
            "test_3__mailparser.eml",
            "Oneil.844@randtelekom.com.tr",
            utc(2016, 8, 22, 13, 56, 9),
            "I am sending you the bills",
            ["message.txt"],
        ),
    ],
)
def test_shared_eml_samples(
    name: str, sender: str, sent_at: datetime, body_start: str, attachments: list[str]
) -> None:
    path = SAMPLES / name
    assert chosen(path) == "eml"
    p = run(Eml(), path)
    [item] = p.items
    assert p.warnings == []
    assert item.sender == Party(sender, "email") and item.sent_at == sent_at
    assert (item.body or "").startswith(body_start)
    assert [a.name for a in item.attachments] == attachments
    assert all(f is not None for f in p.files[0])


@needs_samples
def test_shared_japanese_subject_is_decoded() -> None:
    [item] = run(Eml(), SAMPLES / "iso2022jp_encoded_words__mimekit.eml").items
    assert item.raw["subject"] == "日本語メールテスト (testing Japanese emails)"
    assert item.raw["from_name"] == "Atsushi Eno"


@needs_samples
def test_shared_outlook_sample_is_a_draft_without_a_date() -> None:
    path = SAMPLES / "strange_date__msgextractor.msg"
    assert chosen(path) == "msg"
    p = run(OutlookMsg(), path)
    [item] = p.items
    assert codes(p) == ["missing_date"] and "draft" in p.warnings[0].message
    assert item.sent_at is None and item.local_time == ""
    assert item.sender is None
    assert item.recipients == (Party("time2talk@online-convert.com", "email"),)
    assert item.raw["subject"] == "MSG Test File" and item.raw["message_class"] == "IPM.Note"
    assert item.raw["creation_time"] == "2016-02-23T14:57:50.904000+00:00"
    assert (item.body or "").startswith("MSG test file\nPurpose: Provide example")
    assert "\r" not in (item.body or "")


@needs_samples
def test_every_shared_email_sample_is_recognised_by_content() -> None:
    expected = {".eml": "eml", ".mbox": "mbox", ".msg": "msg"}
    for path in sorted(SAMPLES.iterdir()):
        if path.suffix in expected:
            assert chosen(path) == expected[path.suffix], path.name
            assert scores(path)[expected[path.suffix]] >= 0.9
            # the same bytes under a name that says nothing
            p = Probe(name="file.dat", head=probe(path).head, size=path.stat().st_size)
            by_content = {i.name: i.score(p) for i in available()}
            assert max(by_content, key=lambda k: by_content[k]) == expected[path.suffix]


# --- recognising files -------------------------------------------------------------------------


def test_scores_decline_other_formats(tmp_path: Path) -> None:
    whatsapp = write(
        tmp_path, "chat.txt", "12/07/2017, 22:35 - Sam: From: me\n13/07/2017, 09:12 - Sam: hi\n"
    )
    xml = write(tmp_path, "sms.xml", "<?xml version='1.0'?>\n<smses count='0'></smses>\n")
    vcard = write(tmp_path, "c.vcf", "BEGIN:VCARD\nVERSION:3.0\nFN:Sam\nEND:VCARD\n")
    doc = write(tmp_path, "report.doc", ole_word_document())
    prose = write(tmp_path, "notes.txt", "From Russia with love\nYear: 1963\n")
    for path in (whatsapp, xml, vcard, doc, prose):
        s = scores(path)
        assert s["eml"] < 0.3 and s["mbox"] < 0.3 and s["msg"] < 0.3, (path.name, s)


def ole_word_document() -> bytes:
    """The start of an OLE2 file whose directory names a Word document."""
    return (
        b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
        + bytes(504)
        + "Root Entry".encode("utf-16-le")
        + bytes(54)
        + "WordDocument".encode("utf-16-le")
        + bytes(400)
    )


def test_a_file_named_as_ours_that_is_not_is_explained(tmp_path: Path) -> None:
    notes = write(tmp_path, "notes.eml", "These are my notes about what happened.\n")
    assert scores(notes)["eml"] == 0.3
    with pytest.raises(ImportFormatError) as err:
        run(Eml(), notes)
    assert "does not look like an e-mail" in err.value.message
    assert err.value.location is not None and err.value.location.file == "notes.eml"
    assert err.value.location.line == 1


def test_emlx_files_are_read_up_to_their_byte_count(tmp_path: Path) -> None:
    message = msg_text(0).encode()
    plist = b'<?xml version="1.0"?>\n<plist version="1.0"><dict/></plist>\n'
    path = write(tmp_path, "12.emlx", str(len(message)).encode() + b"\n" + message + plist)
    assert chosen(path) == "eml"
    p = run(Eml(), path)
    assert p.items[0].body == "body 0" and p.items[0].raw["emlx_length"] == str(len(message))
    assert (p.items[0].line, p.items[0].offset) == (2, len(str(len(message))) + 1)


def test_an_eml_that_starts_with_an_envelope_line(tmp_path: Path) -> None:
    path = write(
        tmp_path, "saved.eml", "From sam@example.com Tue Nov 12 09:00:00 2024\n" + msg_text(0)
    )
    p = run(Eml(), path)
    assert p.items[0].raw["envelope"] == "From sam@example.com Tue Nov 12 09:00:00 2024"
    assert p.items[0].body == "body 0"
    assert chosen(path) == "mbox"  # a one-message mailbox: both read it the same


# --- damaged and foreign files -----------------------------------------------------------------


@pytest.mark.parametrize("importer", [Eml(), Mbox(), OutlookMsg()])
def test_an_empty_file_is_refused_with_its_name(tmp_path: Path, importer: Importer) -> None:
    path = write(tmp_path, "empty.file", b"")
    with pytest.raises(ImportFormatError) as err:
        run(importer, path)
    assert err.value.location is not None and err.value.location.file == "empty.file"
    assert "empty" in err.value.message


def test_a_file_that_is_not_a_mailbox_is_refused(tmp_path: Path) -> None:
    junk = write(tmp_path, "junk.mbox", bytes(range(1, 256)) * 50)
    with pytest.raises(ImportFormatError) as err:
        run(Mbox(), junk)
    assert "does not look like a mailbox" in err.value.message
    assert err.value.location is not None and err.value.location.file == "junk.mbox"
    assert err.value.location.line == 1
    single = write(tmp_path, "one.mbox", msg_text(0))
    with pytest.raises(ImportFormatError) as err2:
        run(Mbox(), single)
    assert "single e-mail message" in err2.value.message


def test_a_damaged_outlook_file_is_refused(tmp_path: Path) -> None:
    not_ole = write(tmp_path, "x.msg", b"this is not an Outlook file at all")
    assert scores(not_ole)["msg"] == 0.0
    with pytest.raises(ImportFormatError) as err:
        run(OutlookMsg(), not_ole)
    assert "not an Outlook message" in err.value.message
    assert err.value.location is not None and err.value.location.offset == 0
    if SAMPLES.is_dir():
        cut = write(
            tmp_path, "cut.msg", (SAMPLES / "strange_date__msgextractor.msg").read_bytes()[:9000]
        )
        with pytest.raises(ImportFormatError) as err2:
            run(OutlookMsg(), cut)
        assert err2.value.location is not None and err2.value.location.file == "cut.msg"


def test_a_read_error_half_way_names_the_offset(monkeypatch: pytest.MonkeyPatch) -> None:
    """A stream that fails part-way (a disk or network error) stops with the byte offset."""

    class Failing:
        def __init__(self, data: bytes) -> None:
            self.data, self.pos = data, 0

        def read(self, n: int) -> bytes:
            if self.pos >= 3000:
                raise OSError(5, "Input/output error")
            out = self.data[self.pos : self.pos + n]
            self.pos += len(out)
            return out

    monkeypatch.setattr(email_mbox, "BLOCK", 1000)
    data = "".join(f"From - \n{msg_text(i)}\n" for i in range(100)).encode()
    reader = email_mbox._Reader(Failing(data), "mail.mbox")  # type: ignore[arg-type]
    with pytest.raises(ImportFormatError) as err:
        list(reader.messages())
    assert err.value.location is not None and err.value.location.offset == 3000
    assert err.value.location.file == "mail.mbox"


# --- Outlook .msg files (built with extract-msg's own OLE writer) ------------------------------


def filetime(when: datetime) -> int:
    return int((when - datetime(1601, 1, 1, tzinfo=UTC)).total_seconds() * 10**7)


def mapi(tag: int, value: int) -> bytes:
    return struct.pack("<IIQ", tag, 6, value)


def utf16(text: str) -> bytes:
    return text.encode("utf-16-le")


def outlook(
    path: Path,
    *,
    headers: str | None = None,
    sender: tuple[str, str] | None = ("Sam Example", "sam@example.com"),
    submitted: datetime | None = None,
    body: str | None = "I am outside.\r\nOpen the door.",
    html: bytes | None = None,
    subject: str = "tonight",
    recipients: Iterable[tuple[str, str, int]] = (("Alex", "alex@example.org", 1),),
    attachments: Iterable[tuple[str, str, bytes]] = (),
    message_class: str = "IPM.Note",
) -> Path:
    """A minimal Outlook message file, as [MS-OXMSG] lays it out."""
    recipients, attachments = list(recipients), list(attachments)
    w = OleWriter()
    props = [mapi(0x340D0003, 0x00040000), mapi(0x0E070003, 1)]  # Unicode strings; read
    if submitted is not None:
        props += [mapi(0x00390040, filetime(submitted)), mapi(0x0E060040, filetime(submitted))]
    top = struct.pack(
        "<8sIIII8s",
        bytes(8),
        len(recipients),
        len(attachments),
        len(recipients),
        len(attachments),
        bytes(8),
    )
    w.addEntry("__properties_version1.0", top + b"".join(props))
    w.addEntry("__substg1.0_001A001F", utf16(message_class))
    w.addEntry("__substg1.0_0037001F", utf16(subject))
    if body is not None:
        w.addEntry("__substg1.0_1000001F", utf16(body))
    if html is not None:
        w.addEntry("__substg1.0_10130102", html)
    if headers is not None:
        w.addEntry("__substg1.0_007D001F", utf16(headers))
    if sender is not None:
        w.addEntry("__substg1.0_0C1A001F", utf16(sender[0]))
        w.addEntry("__substg1.0_5D01001F", utf16(sender[1]))
    w.addEntry("__nameid_version1.0", storage=True)
    for stream in ("00020102", "00030102", "00040102"):
        w.addEntry(f"__nameid_version1.0/__substg1.0_{stream}", b"")
    for i, (name, address, kind) in enumerate(recipients):
        d = f"__recip_version1.0_#{i:08X}"
        w.addEntry(d, storage=True)
        w.addEntry(
            f"{d}/__properties_version1.0", bytes(8) + mapi(0x0C150003, kind) + mapi(0x30000003, i)
        )
        w.addEntry(f"{d}/__substg1.0_3001001F", utf16(name))
        w.addEntry(f"{d}/__substg1.0_39FE001F", utf16(address))
        w.addEntry(f"{d}/__substg1.0_3003001F", utf16(address))
    for i, (name, media_type, data) in enumerate(attachments):
        d = f"__attach_version1.0_#{i:08X}"
        w.addEntry(d, storage=True)
        w.addEntry(
            f"{d}/__properties_version1.0",
            bytes(8) + mapi(0x37050003, 1) + mapi(0x0E200003, len(data)),
        )
        w.addEntry(f"{d}/__substg1.0_3707001F", utf16(name))
        w.addEntry(f"{d}/__substg1.0_370E001F", utf16(media_type))
        w.addEntry(f"{d}/__substg1.0_37010102", data)
    w.write(path)
    return path


def test_an_outlook_message_written_in_outlook(tmp_path: Path) -> None:
    photo = b"\xff\xd8\xff\xe0" + bytes(range(256)) * 40
    path = outlook(
        tmp_path / "x.bin",  # recognised by its content, not its name
        submitted=datetime(2024, 11, 12, 9, 12, 42, 904000, tzinfo=UTC),
        recipients=[
            ("Alex", "alex@example.org", 1),
            ("Jo", "jo@example.net", 2),
            ("W", "w@x.org", 3),
        ],
        attachments=[("photo.jpg", "image/jpeg", photo)],
    )
    assert chosen(path) == "msg"
    p = run(OutlookMsg(), path, "Tonight.msg")
    assert p.warnings == []
    [item] = p.items
    assert item.sender == Party("sam@example.com", "email")
    assert item.recipients == (
        Party("alex@example.org", "email"),
        Party("jo@example.net", "email"),
        Party("w@x.org", "email"),
    )
    assert item.sent_at == datetime(2024, 11, 12, 9, 12, 42, 904000, tzinfo=UTC)
    assert item.local_time == "2024-11-12T09:12:42.904000+00:00"
    assert item.body == "I am outside.\nOpen the door."
    assert (item.line, item.offset, item.channel, item.direction) == (None, 0, "email", "unknown")
    assert item.raw["subject"] == "tonight" and item.raw["from_name"] == "Sam Example"
    assert item.raw["client_submit_time"] == "2024-11-12T09:12:42.904000+00:00"
    assert "headers" not in item.raw
    assert [(a.name, a.media_type) for a in item.attachments] == [("photo.jpg", "image/jpeg")]
    assert p.files == [[photo]]


def test_an_outlook_message_that_came_by_email_uses_its_internet_headers(tmp_path: Path) -> None:
    headers = (
        "Received: from mx.example.net by mail.example.org; Tue, 12 Nov 2024 09:12:45 +0000\r\n"
        "From: =?UTF-8?Q?S=C3=A1m?= <Sam@Example.com>\r\nTo: Alex <alex@example.org>\r\n"
        "Subject: =?UTF-8?Q?R=C3=A9union?=\r\nDate: Tue, 12 Nov 2024 04:12:42 -0500\r\n"
        "Message-ID: <m2@example.com>\r\nReferences: <m1@example.com>\r\n"
        "DKIM-Signature: v=1; d=example.com; b=abc\r\n\r\n"
    )
    p = run(OutlookMsg(), outlook(tmp_path / "in.msg", headers=headers, sender=None))
    [item] = p.items
    assert item.sender == Party("Sam@Example.com", "email") and item.raw["from_name"] == "Sám"
    assert item.sent_at == utc(2024, 11, 12, 9, 12, 42)
    assert item.local_time == "Tue, 12 Nov 2024 04:12:42 -0500"
    assert item.raw["headers"] == headers and item.raw["subject"] == "Réunion"
    assert item.thread == "<m1@example.com>" and item.raw["message_id"] == "<m2@example.com>"
    assert item.raw["dkim_signature"] == "v=1; d=example.com; b=abc"
    assert item.raw["received"].startswith("from mx.example.net")


def test_an_outlook_message_with_only_html(tmp_path: Path) -> None:
    html = b"<html><body><p>I know where</p><p>you are.</p></body></html>"
    p = run(OutlookMsg(), outlook(tmp_path / "h.msg", body=None, html=html))
    assert p.items[0].body == "I know where\n\nyou are."
    assert p.items[0].raw["body_type"] == "text/html"


def test_an_outlook_contact_is_refused_plainly(tmp_path: Path) -> None:
    path = outlook(tmp_path / "card.msg", message_class="IPM.Contact")
    with pytest.raises(ImportFormatError) as err:
        run(OutlookMsg(), path)
    assert err.value.message == "This Outlook file is a contact card, not an e-mail message."
    assert "docket attach" in (err.value.hint or "")


def test_the_same_message_from_outlook_and_as_an_eml_is_stored_once(
    diary: Diary, tmp_path: Path
) -> None:
    headers = msg_text(3).split("\n\n")[0].replace("\n", "\r\n") + "\r\n\r\n"
    saved = outlook(tmp_path / "saved.msg", headers=headers, body="body 3")
    assert diary.import_file(saved).added == 1
    again = diary.import_file(write(tmp_path, "saved.eml", msg_text(3)))
    assert again.added == 0 and again.duplicates == 1


# --- hostile and random input ------------------------------------------------------------------


@given(st.text(max_size=300))
@settings(max_examples=300, deadline=None)
def test_header_helpers_never_raise_or_leave_surrogates(value: str) -> None:
    for name, address in email_mod.addresses(value):
        (name + address).encode("utf-8")
    email_mod.decode_words(value).encode("utf-8")
    parse_date(value, LONDON)
    email_mod.message_ids(value)


@given(
    when=st.datetimes(
        min_value=datetime(1970, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC)
    ),
    minutes=st.integers(-14 * 60, 14 * 60),
)
@settings(max_examples=200, deadline=None)
def test_dates_as_mail_programs_write_them_round_trip(when: datetime, minutes: int) -> None:
    local = when.replace(microsecond=0).astimezone(timezone(timedelta(minutes=minutes)))
    assert parse_date(format_datetime(local), LONDON) == email_mod.ParsedDate(local.astimezone(UTC))


@given(st.binary(max_size=3000))
@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
def test_any_bytes_after_a_header_give_one_message(tmp_path: Path, junk: bytes) -> None:
    data = b"From: Sam <sam@example.com>\nDate: Tue, 12 Nov 2024 09:12:42 +0000\n" + junk
    p = eml(tmp_path, data, "junk.eml")
    assert len(p.items) == 1
    item = p.items[0]
    for text in [item.body or "", *item.raw.values(), *(a.name for a in item.attachments)]:
        text.encode("utf-8")


def test_hostile_structures_are_bounded(tmp_path: Path) -> None:
    deep = HEAD + "Content-Type: multipart/mixed; boundary=b0\n\n"
    for i in range(1, 400):
        deep += f"--b{i - 1}\nContent-Type: multipart/mixed; boundary=b{i}\n\n"
    deep += "--b399\nContent-Type: text/plain\n\ndeep down\n"
    p = eml(tmp_path, deep, "deep.eml")
    assert len(p.items) == 1  # the parser gives up or the walk stops; never a crash
    many = with_attachments([f"Content-Type: image/png; name=p{i}.png\n\nx\n" for i in range(2500)])
    q = eml(tmp_path, many, "many.eml")
    assert len(q.items[0].attachments) == email_mod.MAX_ATTACHMENTS
    assert "too_many_parts" in codes(q)
    nested = "From: " + "(" * 5000 + "a@b.org" + ")" * 5000 + "\nTo: " + "<" * 20000 + "\n\nx\n"
    assert len(eml(tmp_path, nested, "nested.eml").items) == 1


# --- a round trip of generated mailboxes -------------------------------------------------------

WORDS = st.sampled_from(
    ["hello", "From", "From ", ">From", "where", "are", "you", "café", "😡", "日本", "--b", ""]
)
LINES = st.lists(st.lists(WORDS, max_size=8).map(" ".join), min_size=1, max_size=6)


@st.composite
def mailboxes(draw: st.DrawFn) -> tuple[str, list[dict[str, Any]]]:
    style = draw(st.sampled_from(["gmail", "thunderbird", "classic", "mboxrd"]))
    messages = []
    for i in range(draw(st.integers(1, 6))):
        lines = [line.rstrip() for line in draw(LINES)]
        body = "\n".join(lines).strip("\n") or "x"
        messages.append(
            {
                "i": i,
                "body": body,
                "when": datetime(2024, 1, 1, tzinfo=UTC)
                + timedelta(seconds=draw(st.integers(0, 10**8))),
                "subject": draw(
                    st.text(st.characters(whitelist_categories=("L", "N", "Zs", "So")), max_size=30)
                ),
                "html": draw(st.booleans()),
            }
        )
    return style, messages


def render(
    style: str, messages: list[dict[str, Any]], crlf: bool, bom: bool
) -> tuple[bytes, list[int]]:
    """A mailbox as the named writer would make it, and the line of each message."""
    out: list[str] = []
    lines: list[int] = []
    line = 1
    for m in messages:
        envelope = {
            "gmail": f"From 18443477922671178{m['i']:02d}@xxx",
            "thunderbird": "From - Mon Jan 01 00:00:00 2024",
            "classic": "From sam@example.com Mon Jan  1 00:00:00 2024",
            "mboxrd": "From sam@example.com Mon Jan  1 00:00:00 2024",
        }[style]
        body = m["body"]
        if style == "classic":
            body = "\n".join(">" + x if x.startswith("From ") else x for x in body.split("\n"))
        elif style == "mboxrd":
            body = "\n".join(
                ">" + x if x.lstrip(">").startswith("From ") else x for x in body.split("\n")
            )
        encoded = base64.b64encode(m["body"].encode()).decode()
        text = (
            f"{envelope}\nFrom: Sam <sam@example.com>\nTo: alex@example.org\n"
            f"Subject: {Header(m['subject'], 'utf-8').encode()}\n"
            f"Date: {format_datetime(m['when'])}\nMIME-Version: 1.0\n"
        )
        if m["html"]:
            text += (
                'Content-Type: multipart/alternative; boundary="=_b"\n\n--=_b\n'
                "Content-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: base64\n\n"
                f"{encoded}\n--=_b\nContent-Type: text/html; charset=utf-8\n\n<p>x</p>\n--=_b--\n"
            )
        else:
            text += (
                "Content-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: 8bit\n\n"
                f"{body}\n"
            )
        if style != "thunderbird" or m is not messages[-1]:
            text += "\n"
        lines.append(line)
        line += text.count("\n")
        out.append(text)
    data = "".join(out)
    if crlf:
        data = data.replace("\n", "\r\n")
    raw = data.encode()
    return (b"\xef\xbb\xbf" + raw if bom else raw), lines


def plausible_separator(line: str) -> bool:
    return email_mbox.is_separator(line.encode(), b"X: y")


@given(box=mailboxes(), crlf=st.booleans(), bom=st.booleans())
@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
def test_generated_mailboxes_round_trip(
    tmp_path: Path, box: tuple[str, list[dict[str, Any]]], crlf: bool, bom: bool
) -> None:
    style, messages = box
    data, lines = render(style, messages, crlf, bom)
    p = mbox(tmp_path, data, "gen.mbox")
    assert len(p.items) == len(messages)
    assert [i.line for i in p.items] == lines
    assert [w.code for w in p.warnings] == []
    for item, m in zip(p.items, messages, strict=True):
        assert item.sent_at == m["when"]
        assert item.sender == Party("sam@example.com", "email")
        assert " ".join(item.raw["subject"].split()) == " ".join(m["subject"].split())
        if m["html"] or style == "thunderbird":
            assert item.body == m["body"]  # base64, or written unquoted
        else:
            # written with "From " lines quoted: the body keeps the quoting as written, and
            # without it is the text that was sent
            assert item.body is not None and unquote(item.body) == unquote(m["body"])
            assert unquote(item.match_body or item.body) == unquote(m["body"])


def unquote(text: str) -> str:
    return "\n".join(
        x.lstrip(">") if x.lstrip(">").startswith("From ") else x for x in text.split("\n")
    )


def test_parsing_is_deterministic(tmp_path: Path) -> None:
    data, _ = render(
        "gmail",
        [
            {
                "i": i,
                "body": f"b{i}",
                "when": utc(2024, 1, 1, i),
                "subject": "s",
                "html": i % 2 == 0,
            }
            for i in range(6)
        ],
        False,
        False,
    )
    a = mbox(tmp_path, data, "a.mbox")
    b = mbox(tmp_path, data, "b.mbox")
    assert a.items == b.items and a.files == b.files


# --- into a real diary -------------------------------------------------------------------------


def conversation(first: int, last: int, *, style: str = "gmail", crlf: bool = False) -> bytes:
    """Messages first..last-1 between Sam and Alex, every fifth with a photo."""
    out = []
    for i in range(first, last):
        who, to = (
            ("Sam <sam@example.com>", "alex@example.org")
            if i % 3
            else ("Alex <alex@example.org>", "sam@example.com")
        )
        when = format_datetime(datetime(2024, 11, 12, 9, 0, tzinfo=UTC) + timedelta(minutes=i))
        envelope = (
            f"From 18443{i:014d}@xxx" if style == "gmail" else "From - Mon Jan 01 00:00:00 2024"
        )
        head = (
            f"{envelope}\nFrom: {who}\nTo: {to}\nDate: {when}\nSubject: about {i}\n"
            f"Message-ID: <c{i}@example.com>\n"
        )
        if i % 5 == 0:
            photo = b64(b"\xff\xd8\xff\xe0" + bytes([i]) * 5000)
            out.append(
                head
                + "Content-Type: multipart/mixed; boundary=b\n\n--b\nContent-Type: text/plain\n\n"
                f"message {i}\n--b\nContent-Type: image/jpeg; name=p{i}.jpg\n"
                f"Content-Transfer-Encoding: base64\n\n{photo}--b--\n\n"
            )
        else:
            out.append(head + f"\nmessage {i}\n\n")
    data = "".join(out)
    return (data.replace("\n", "\r\n") if crlf else data).encode()


def test_import_into_a_diary_then_again_then_a_later_export(diary: Diary, tmp_path: Path) -> None:
    first = write(tmp_path, "All mail Including Spam and Trash.mbox", conversation(0, 40))
    s = diary.import_file(first)
    assert s.importer == "mbox" and s.added == 40 and s.duplicates == 0
    assert s.files_stored == 8 and s.warnings == []
    assert s.by_sender["sam@example.com"] == 26 and s.by_sender["alex@example.org"] == 14
    msgs = diary.messages()
    m5 = next(m for m in msgs if m.body == "message 5")
    assert m5.channel == "email" and m5.sender_raw == "sam@example.com"
    assert m5.sent_at == "2024-11-12T09:05:00Z" and m5.attachments[0]["media_type"] == "image/jpeg"
    assert m5.thread == "<c5@example.com>"
    again = diary.import_file(first)
    assert again.already_imported_at is not None and again.added == 0
    # a later export from another program (Thunderbird, CRLF) overlapping the first
    later = write(tmp_path, "Inbox", conversation(25, 70, style="thunderbird", crlf=True))
    s2 = diary.import_file(later)
    assert s2.importer == "mbox" and s2.added == 30 and s2.duplicates == 15
    bodies = [m.body for m in diary.messages()]
    assert len(bodies) == 70 and len(set(bodies)) == 70
    # one of them saved on its own as an .eml is already there
    single = conversation(12, 13).split(b"\n", 1)[1]
    s3 = diary.import_file(write(tmp_path, "saved.eml", single))
    assert s3.importer == "eml" and s3.added == 0 and s3.duplicates == 1
    report = diary.verify()
    assert report.ok, report.problems


def test_a_gmail_mailbox_imports_into_either_store(any_diary: Diary, tmp_path: Path) -> None:
    """Messages with alternatives, a photo decoded from the bytes and a forwarded message,
    into a diary file and into a case on the server: each photo stored byte for byte, the
    text chosen as a mail program shows it, and the log verifies."""
    raw = random.Random(6).randbytes(60_000)
    photo = b64(raw)
    text = "".join(f"From - \n{_gmail_message(i, photo)}" for i in range(12))
    s = any_diary.import_file(write(tmp_path, "All mail Including Spam and Trash.mbox", text))
    assert s.importer == "mbox" and s.added == 24 and s.files_stored == 24
    assert {w["code"] for w in s.warnings} == {"missing_date"}  # the HTML-only ones have none
    msgs = any_diary.messages()
    assert sorted(m.body or "" for m in msgs) == sorted(
        [f"see you at {i}" for i in range(12)] + ["only HTML"] * 12
    )
    kept = {a["name"]: a for m in msgs for a in m.attachments}
    for i in range(12):
        assert kept[f"IMG_{i}.jpg"]["sha256"] == hashlib.sha256(raw).hexdigest()
        assert kept[f"IMG_{i}.jpg"]["size"] == len(raw)
    report = any_diary.verify()
    assert report.ok, report.problems


@needs_samples
def test_every_shared_email_sample_imports_into_a_diary(diary: Diary) -> None:
    counts = {
        "gmail_takeout_style_from_lines__mimekit.mbox": 4,
        "simple__mimekit.mbox": 3,
        "unmunged_from_lines_bom__mimekit.mbox": 2,
        "iso2022jp_encoded_words__mimekit.eml": 1,
        "malformed_2__mailparser.eml": 1,
        "simple_multipart__mimekit.eml": 1,
        "test_3__mailparser.eml": 1,
        "strange_date__msgextractor.msg": 1,
    }
    seen = {p.name for p in SAMPLES.iterdir() if p.suffix in (".eml", ".mbox", ".msg")}
    assert seen == set(counts)
    for name, count in counts.items():
        s = diary.import_file(SAMPLES / name)
        assert s.added == count, name
    assert diary.verify().ok
