"""Keeping an importer's precise media type where the bytes show only its container
(``docket.model.media.refine``), never where the bytes say something else; the shared zip
reader's refusals (``docket.importers._zip``); and an e-mail's .docx attachment stored as a
Word document on both stores."""

from __future__ import annotations

import io
import zipfile
from email.message import EmailMessage
from pathlib import Path

import pytest

from docket.api import Diary
from docket.errors import ImportFormatError, ImportTooLarge
from docket.importers._zip import Archive, ZipRules, first_member_head
from docket.importers.base import Source
from docket.importers.evidence_file import sniff_head
from docket.model.media import (
    APK,
    DOCX,
    OCTET,
    OLE_MAGIC,
    PPTX,
    XLSX,
    ZIP,
    essence,
    refine,
    sniff,
    zip_type,
)

ODT = "application/vnd.oasis.opendocument.text"
DOCM = "application/vnd.ms-word.document.macroenabled.12"
MSG = "application/vnd.ms-outlook"

CONTENT_TYPES = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
    '<Default Extension="xml" ContentType="application/xml"/>'
    '<Override PartName="/{part}" ContentType="{main}"/></Types>'
)


def a_zip(members: list[tuple[str, bytes]], *, stored_first: bool = False) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for n, (name, data) in enumerate(members):
            kind = zipfile.ZIP_STORED if stored_first and n == 0 else zipfile.ZIP_DEFLATED
            z.writestr(name, data, compress_type=kind)
    return buf.getvalue()


def ooxml(main: str, part: str, folder: str) -> bytes:
    types = CONTENT_TYPES.format(part=part, main=main).encode()
    return a_zip(
        [
            ("[Content_Types].xml", types),
            ("_rels/.rels", b"<Relationships/>"),
            (f"{folder}/{part.split('/')[-1]}", b"<document/>" * 50),
        ]
    )


DOCX_BYTES = ooxml(
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml",
    "word/document.xml",
    "word",
)
XLSX_BYTES = ooxml(
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml",
    "xl/workbook.xml",
    "xl",
)
DOCM_BYTES = ooxml("application/vnd.ms-word.document.macroEnabled.main+xml", "word/d.xml", "word")
# [Content_Types].xml written last, as some programs do: the first bytes cannot confirm it
LATE_TYPES = a_zip([("word/document.xml", b"<w/>"), ("[Content_Types].xml", b"<Types/>")])
ODT_BYTES = a_zip([("mimetype", ODT.encode()), ("content.xml", b"<office/>")], stored_first=True)
APK_BYTES = a_zip([("AndroidManifest.xml", b"\x03\x00\x08\x00"), ("classes.dex", b"dex\n")])
JAR_BYTES = a_zip([("META-INF/MANIFEST.MF", b"Manifest-Version: 1.0\n"), ("A.class", b"\xca")])
PLAIN_ZIP = a_zip([("photos/one.jpg", b"\xff\xd8\xff" + b"\x00" * 100)])
ELF = b"\x7fELF\x02\x01\x01\x00" + b"\x00" * 200
PDF = b"%PDF-1.7\n" + b"1 0 obj\n" * 20
CSV = b"date,what\n2024-01-02,he rang 14 times\n"
SVG = b'<svg xmlns="http://www.w3.org/2000/svg"/>'
MP4 = b"\x00\x00\x00\x20ftypisom\x00\x00\x02\x00isomiso2mp41" + b"\x00" * 40


def ole_file(stream: str) -> bytes:
    """An OLE2 compound file whose first directory sector names ``stream``."""
    header = bytearray(512)
    header[:8] = OLE_MAGIC
    header[30:32] = (9).to_bytes(2, "little")  # 512-byte sectors
    header[48:52] = (0).to_bytes(4, "little")  # the directory is sector 0
    entry = bytearray(128)
    name = stream.encode("utf-16-le") + b"\x00\x00"
    entry[: len(name)] = name
    entry[64:66] = len(name).to_bytes(2, "little")
    entry[66] = 2  # a stream
    root = bytearray(128)
    root_name = "Root Entry".encode("utf-16-le") + b"\x00\x00"
    root[: len(root_name)] = root_name
    root[64:66] = len(root_name).to_bytes(2, "little")
    root[66] = 5
    return bytes(header) + bytes(root) + bytes(entry) + bytes(256)


OLE_BARE = OLE_MAGIC + b"\x00" * 600  # no directory to read: only the container is known
OUTLOOK = ole_file("__substg1.0_0037001F")
WORD97 = ole_file("WordDocument")


@pytest.mark.parametrize(
    ("data", "declared", "expected"),
    [
        # a zip: confirmed from its own first bytes, whatever was declared
        (DOCX_BYTES, None, DOCX),
        (DOCX_BYTES, "application/octet-stream", DOCX),
        (DOCX_BYTES, XLSX, DOCX),  # the contents say Word, not Excel
        (XLSX_BYTES, "application/zip", XLSX),
        (DOCM_BYTES, DOCX, DOCM),
        (ODT_BYTES, None, ODT),
        (ODT_BYTES, DOCX, ODT),
        (APK_BYTES, "image/jpeg", APK),  # an app is called an app, whatever its name says
        (APK_BYTES, DOCX, APK),
        # a zip its first bytes do not explain: a zip-based declared type is kept...
        (LATE_TYPES, DOCX, DOCX),
        (PLAIN_ZIP, PPTX, PPTX),
        (PLAIN_ZIP, "application/epub+zip", "application/epub+zip"),
        (PLAIN_ZIP, "Application/Vnd.Android.Package-Archive", APK),
        (JAR_BYTES, "application/java-archive", "application/java-archive"),
        # ...and anything else is refused
        (PLAIN_ZIP, "application/pdf", ZIP),
        (PLAIN_ZIP, "image/jpeg", ZIP),
        (PLAIN_ZIP, "text/csv", ZIP),
        (PLAIN_ZIP, None, ZIP),
        (JAR_BYTES, DOCX, ZIP),  # a Java program named as a Word document
        # an OLE2 file: its stream names decide, else an OLE-based declared type is kept
        (OUTLOOK, None, MSG),
        (OUTLOOK, "application/msword", MSG),
        (WORD97, "application/octet-stream", "application/msword"),
        (OLE_BARE, MSG, MSG),
        (OLE_BARE, "application/vnd.ms-excel", "application/vnd.ms-excel"),
        (OLE_BARE, "application/pdf", OCTET),
        (OLE_BARE, None, OCTET),
        # text: a text format is kept, anything else is not
        (CSV, "text/csv", "text/csv"),
        (CSV, "text/csv; charset=utf-8", "text/csv"),
        (CSV, "text/markdown", "text/markdown"),
        (CSV, "text/calendar", "text/calendar"),
        (CSV, "text/vcard", "text/vcard"),
        (CSV, "application/json", "application/json"),
        (CSV, "message/rfc822", "message/rfc822"),
        (SVG, "image/svg+xml", "image/svg+xml"),
        (CSV, "application/pdf", "text/plain"),
        (CSV, "image/png", "text/plain"),
        (CSV, "application/x-msdownload", "text/plain"),
        (CSV, "text/csv\r\nX-Injected: 1", "text/plain"),  # not a media type at all
        (CSV, "", "text/plain"),
        # other containers
        (MP4, "audio/mp4", "audio/mp4"),
        (MP4, "audio/x-m4a", "audio/x-m4a"),
        (MP4, "image/jpeg", "video/mp4"),
        # the bytes are the authority: nothing makes a program or a PDF something else
        (ELF, "image/jpeg", OCTET),
        (ELF, "application/pdf", OCTET),
        (ELF, DOCX, OCTET),
        (ELF, "text/plain", OCTET),
        (PDF, "image/jpeg", "application/pdf"),
        (PDF, DOCX, "application/pdf"),
        (PDF, "application/pdf", "application/pdf"),
    ],
)
def test_refine(data: bytes, declared: str | None, expected: str) -> None:
    head = data[:4096]
    assert refine(sniff(head), declared, head) == expected


def test_refine_takes_the_other_sniffers_container_names() -> None:
    """The evidence-file importer's sniffer names containers as such; the same rules hold."""
    assert refine(ZIP, DOCX, LATE_TYPES[:4096]) == DOCX
    assert refine("application/x-ole-storage", MSG, OLE_BARE) == MSG
    assert refine("application/x-ole-storage", "image/png", OLE_BARE) == (
        "application/x-ole-storage"
    )
    assert refine("application/xml", "application/rss+xml", b"<rss/>") == "application/rss+xml"
    assert refine("application/xml", "text/html", b"<rss/>") == "application/xml"
    assert refine("application/json", "application/ld+json", b"{}") == "application/ld+json"
    assert refine("application/json", "text/csv", b"{}") == "application/json"


def test_an_empty_zip_is_never_a_document() -> None:
    empty = a_zip([])
    assert empty.startswith(b"PK\x05\x06")
    assert refine(ZIP, DOCX, empty) == ZIP


def test_essence() -> None:
    assert essence(" Text/CSV ; charset=UTF-8") == "text/csv"
    assert essence("text") is None
    assert essence("text/csv/x") is None
    assert essence(None) is None


def test_zip_type_reads_only_what_the_head_holds() -> None:
    assert zip_type(DOCX_BYTES) == DOCX
    assert zip_type(DOCX_BYTES[:40]) is None  # cut inside the first member's name
    assert zip_type(PLAIN_ZIP) is None
    assert zip_type(b"not a zip") is None


def test_first_member_head() -> None:
    chat = a_zip([("WhatsApp Chat.txt", b"12/01/2024, 10:00 - Sam: hi\n" * 10)])
    assert first_member_head(chat, ".txt").startswith(b"12/01/2024, 10:00 - Sam: hi\n")
    assert first_member_head(chat, ".json") == b""
    assert first_member_head(ODT_BYTES) == ODT.encode()
    assert first_member_head(b"PK\x03\x04") == b""


# --- the shared zip reader's refusals -----------------------------------------------------------

RULES = ZipRules(
    max_total=1 << 20,
    max_members=3,
    contents="photos",
    export="A test export",
    total_note="A test export is far smaller",
    too_large_hint="Make it smaller.",
    damaged_cause="It was cut short.",
    damaged_hint="Copy it again.",
)


def source_of(tmp_path: Path, data: bytes) -> Source:
    path = tmp_path / "x.zip"
    path.write_bytes(data)
    return Source(path=path)


def test_the_reader_refuses_too_many_members(tmp_path: Path) -> None:
    data = a_zip([(f"{n}.txt", b"x") for n in range(7)])  # over twice the cap: before zipfile
    with pytest.raises(ImportTooLarge, match="too many files") as err:
        Archive(source_of(tmp_path, data), "x.zip", RULES)
    assert "7 files" in (err.value.cause or "")
    data = a_zip([(f"{n}.txt", b"x") for n in range(4)])  # over the cap: after it
    with pytest.raises(ImportTooLarge, match="too many files"):
        Archive(source_of(tmp_path, data), "x.zip", RULES)


def test_the_reader_refuses_a_large_total(tmp_path: Path) -> None:
    data = a_zip([("a.bin", b"\x00" * (2 << 20))])
    with pytest.raises(ImportTooLarge) as err:
        Archive(source_of(tmp_path, data), "x.zip", RULES)
    assert "A test export is far smaller" in (err.value.cause or "")
    assert err.value.hint == "Make it smaller."


def test_the_reader_refuses_an_encrypted_member(tmp_path: Path) -> None:
    data = bytearray(a_zip([("secret.txt", b"hello")]))
    data[6] |= 0x1  # the local header's "encrypted" flag...
    central = data.rfind(b"PK\x01\x02")
    data[central + 8] |= 0x1  # ...and the central directory's
    with pytest.raises(ImportFormatError, match="protected by a password") as err:
        Archive(source_of(tmp_path, bytes(data)), "x.zip", RULES)
    assert "secret.txt" in (err.value.cause or "")
    kept = Archive(source_of(tmp_path, bytes(data)), "x.zip", RULES, keep_unreadable=True)
    try:
        [info] = kept.infos
        with pytest.raises(ImportFormatError, match=r"could not read secret\.txt"):
            list(kept.chunks(info)())
    finally:
        kept.close()


def test_the_reader_refuses_an_unsupported_method(tmp_path: Path) -> None:
    data = bytearray(a_zip([("big.mov", b"\x00" * 1000)]))
    data[8:10] = (9).to_bytes(2, "little")  # Deflate64
    central = data.rfind(b"PK\x01\x02")
    data[central + 10 : central + 12] = (9).to_bytes(2, "little")
    with pytest.raises(ImportFormatError, match="cannot unpack") as err:
        Archive(source_of(tmp_path, bytes(data)), "x.zip", RULES)
    assert "Deflate64" in (err.value.cause or "")


def test_a_damaged_zip_names_the_file_and_the_member(tmp_path: Path) -> None:
    with pytest.raises(ImportFormatError, match="damaged or incomplete") as err:
        Archive(source_of(tmp_path, b"PK\x03\x04 cut short"), "export.zip", RULES)
    assert err.value.location is not None and err.value.location.file == "export.zip"
    assert err.value.cause == "It was cut short."
    named = RULES.damaged("export.zip", "media/one.jpg", offset=12)
    assert "media/one.jpg" in named.message
    assert named.location is not None and named.location.offset == 12


# --- end to end: the stored type of an e-mail's attachments --------------------------------------


def test_an_email_attachment_keeps_its_precise_type(any_diary: Diary, tmp_path: Path) -> None:
    msg = EmailMessage()
    msg["From"] = "Sam <sam@example.org>"
    msg["To"] = "me@example.org"
    msg["Subject"] = "the letter"
    msg["Date"] = "Tue, 02 Jan 2024 10:00:00 +0000"
    msg["Message-ID"] = "<letter-1@example.org>"
    msg.set_content("See attached.")
    msg.add_attachment(
        DOCX_BYTES, maintype="application", subtype="octet-stream", filename="letter.docx"
    )
    msg.add_attachment(PLAIN_ZIP, maintype="application", subtype="pdf", filename="bill.pdf")
    msg.add_attachment(CSV, maintype="text", subtype="csv", filename="log.csv")
    msg.add_attachment(ELF, maintype="image", subtype="jpeg", filename="photo.jpg")
    path = tmp_path / "letter.eml"
    path.write_bytes(msg.as_bytes())
    summary = any_diary.import_file(path)
    assert summary.files_stored == 4
    [message] = any_diary.messages()
    stored = {a["name"]: (a["media_type"], a["declared_type"]) for a in message.attachments}
    assert stored == {
        "letter.docx": (DOCX, "application/octet-stream"),  # confirmed from its contents
        "bill.pdf": (ZIP, "application/pdf"),  # a zip, whatever the sender said
        "log.csv": ("text/csv", "text/csv"),
        "photo.jpg": (OCTET, "image/jpeg"),  # a program is never called a photo
    }
    assert any_diary.verify().ok


@pytest.mark.parametrize(
    ("head", "expected"),
    [
        (b"II*\x00\x08\x00\x00\x00", "image/tiff"),
        (b"MM\x00*\x00\x00\x00\x08", "image/tiff"),
        (b"7z\xbc\xaf\x27\x1c\x00\x04", "application/x-7z-compressed"),
        (b"#!AMR\n\x3c\x91\x17\x16", "audio/amr"),
        (b"#!AMR-WB\n\x04", "audio/amr-wb"),
        (b"\x1f\x8b\x08\x00\x00\x00\x00\x00", "application/gzip"),
        (
            b"BM\x46\x00\x00\x00\x00\x00\x00\x00\x36\x00\x00\x00\x28\x00\x00\x00"
            b"\x02\x00\x00\x00\x02\x00\x00\x00",
            "image/bmp",
        ),
        # "BM" alone is not a bitmap: text that starts so stays text
        (b"BMW parked outside at 7 again\n", "text/plain"),
    ],
)
def test_the_pipelines_sniffer_knows_the_evidence_importers_types(
    head: bytes, expected: str
) -> None:
    """What the pipeline records for a file (media.sniff) agrees with what the evidence file
    importer detected, for the types it used to leave as application/octet-stream."""
    assert sniff(head) == expected
    assert sniff_head(head) == expected
