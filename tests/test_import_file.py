"""The "any other file" importer: every evidence type told from its bytes (never its name), the
name compared with the contents, text and unknown bytes declined when no format is named, the
original bytes kept unchanged in 1 MiB chunks, the shared samples, generated files, and the
real pipeline keeping files in an encrypted diary without ever mistaking one for another."""

from __future__ import annotations

import hashlib
import struct
import zipfile
from dataclasses import replace
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from docket.api import Diary
from docket.errors import ImportFormatError, UnknownFormat
from docket.importers import available
from docket.importers.base import Context, ImportWarning, Item, Probe, Source
from docket.importers.evidence_file import (
    EvidenceFile,
    detect,
    detect_probe,
    same_kind,
    sniff_head,
)
from tests.conftest import SHARED

SAMPLES = SHARED / "samples"
needs_samples = pytest.mark.skipif(not SAMPLES.is_dir(), reason="shared samples not present")

PDF = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<< /Type /Catalog >>\nendobj\n" + b"x" * 500
MP4 = b"\x00\x00\x00\x20ftypisom\x00\x00\x02\x00isomiso2avc1mp41" + b"\x00" * 300


# --- helpers ----------------------------------------------------------------------------------


def run(path: Path, name: str | None = None) -> tuple[list[Item], list[ImportWarning], bytes]:
    items: list[Item] = []
    warnings: list[ImportWarning] = []
    data = b""
    for x in EvidenceFile().parse(Source(path), Context(name=name or path.name)):
        if isinstance(x, Item):
            items.append(x)
            for a in x.attachments:
                assert a.chunks is not None
                data = b"".join(a.chunks())
        else:
            warnings.append(x)
    return items, warnings, data


def write(tmp_path: Path, name: str, data: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


def office_zip(members: dict[str, bytes], *, mimetype: bytes | None = None) -> bytes:
    """A zip laid out like an office document (OpenDocument's mimetype first, stored)."""
    import io

    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        if mimetype is not None:
            zf.writestr(zipfile.ZipInfo("mimetype"), mimetype, compress_type=zipfile.ZIP_STORED)
        for name, data in members.items():
            zf.writestr(name, data)
    return buf.getvalue()


def ole_file(streams: list[str], sector_shift: int = 9) -> bytes:
    """A minimal but valid OLE2 compound file (version 3 or 4) holding empty streams: sector 0
    is the FAT, sector 1 the directory."""
    size = 1 << sector_shift
    header = bytearray(512)
    header[0:8] = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
    struct.pack_into(
        "<HHHHH6xIIIIIIIII",
        header,
        24,
        0x3E,  # minor version
        3 if sector_shift == 9 else 4,  # major version
        0xFFFE,  # byte order
        sector_shift,
        6,  # mini sector shift
        0,  # directory sectors (0 in version 3)
        1,  # FAT sectors
        1,  # first directory sector
        0,  # transaction signature
        4096,  # mini stream cutoff
        0xFFFFFFFE,  # first mini FAT sector: none
        0,  # mini FAT sectors
        0xFFFFFFFE,  # first DIFAT sector: none
        0,  # DIFAT sectors
    )
    struct.pack_into("<I", header, 76, 0)  # DIFAT[0]: the FAT is sector 0
    for i in range(1, 109):
        struct.pack_into("<I", header, 76 + 4 * i, 0xFFFFFFFF)
    fat = bytearray(b"\xff" * size)
    struct.pack_into("<II", fat, 0, 0xFFFFFFFD, 0xFFFFFFFE)

    def entry(name: str, kind: int, child: int, right: int) -> bytes:
        e = bytearray(128)
        encoded = name.encode("utf-16-le") + b"\x00\x00"
        e[: len(encoded)] = encoded
        struct.pack_into("<HBBIII", e, 64, len(encoded), kind, 1, 0xFFFFFFFF, right, child)
        struct.pack_into("<IQ", e, 116, 0xFFFFFFFE, 0)
        return bytes(e)

    entries = [entry("Root Entry", 5, 1 if streams else 0xFFFFFFFF, 0xFFFFFFFF)]
    for i, name in enumerate(streams, start=1):
        entries.append(entry(name, 2, 0xFFFFFFFF, i + 1 if i < len(streams) else 0xFFFFFFFF))
    directory = b"".join(entries).ljust(size, b"\x00")
    assert len(directory) == size, "too many streams for one directory sector"
    return bytes(header).ljust(size, b"\x00") + bytes(fat) + directory


# --- recognising files by their contents --------------------------------------------------------


@pytest.mark.parametrize(
    ("head", "expected"),
    [
        (PDF, "application/pdf"),
        (b"ID3\x04\x00\x00\x00\x00\x00\x00" + b"\x00" * 40, "audio/mpeg"),
        (b"\xff\xfb\x90\x64" + b"\x00" * 40, "audio/mpeg"),
        (b"\xff\xf1\x50\x80" + b"\x00" * 40, "audio/aac"),
        (b"\x00\x00\x00\x20ftypM4A \x00\x00\x00\x00M4A isommp42", "audio/mp4"),
        (MP4, "video/mp4"),
        (b"\x00\x00\x00\x14ftypqt  \x00\x00\x00\x00qt  ", "video/quicktime"),
        (b"\x00\x00\x00\x18ftyp3gp4\x00\x00\x02\x00isom3gp4", "video/3gpp"),
        (b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic", "image/heic"),
        (b"RIFF\x24\x08\x00\x00WAVEfmt \x10\x00\x00\x00", "audio/wav"),
        (b"RIFF\x24\x08\x00\x00AVI LIST", "video/x-msvideo"),
        (b"OggS\x00\x02" + b"\x00" * 22 + b"OpusHead\x01\x01", "audio/ogg"),
        (b"OggS\x00\x02" + b"\x00" * 22 + b"\x80theora", "video/ogg"),
        (b"#!AMR\n\x3c\x91\x17\x16", "audio/amr"),
        (b"#!AMR-WB\n\x04", "audio/amr-wb"),
        (b"fLaC\x00\x00\x00\x22", "audio/flac"),
        (b"\x1aE\xdf\xa3\xa3B\x86\x81\x01B\xf7\x81\x01B\x82\x84webmB\x87", "video/webm"),
        (b"\x1aE\xdf\xa3\xa3B\x86\x81\x01B\x82\x88matroskaB\x87", "video/x-matroska"),
        (b"{\\rtf1\\ansi\\deff0 {\\fonttbl}", "application/rtf"),
        (b"\xff\xd8\xff\xe0\x00\x10JFIF\x00", "image/jpeg"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "image/png"),
        (b"GIF89a\x01\x00\x01\x00", "image/gif"),
        (b"II*\x00\x08\x00\x00\x00", "image/tiff"),
        (b"RIFF\x24\x08\x00\x00WEBPVP8 ", "image/webp"),
        (b"7z\xbc\xaf\x27\x1c\x00\x04", "application/x-7z-compressed"),
        (b"Rar!\x1a\x07\x01\x00", "application/vnd.rar"),
        (b"\x1f\x8b\x08\x00", "application/gzip"),
        (b"Dear diary,\nhe was outside again.\n", "text/plain"),
        ("Caf\u00e9 \u2014 \U0001f621\n".encode(), "text/plain"),
        (b'\xef\xbb\xbf{"messages": []}', "application/json"),
        (b"[1, 2, 3]", "application/json"),
        (b"<?xml version='1.0'?><smses/>", "application/xml"),
        (b"<!DOCTYPE html><html><body>hi</body></html>", "text/html"),
        (b"Date,Number\n31/01/2024,07700900123\n", "text/plain"),
        (b"\xff\xfeD\x00a\x00t\x00e\x00", "text/plain"),
        (b"From sam@example.com Mon Jan  1 00:00:00 2024\n", "application/mbox"),
        (b"BEGIN:VCARD\r\nVERSION:3.0\r\n", "text/vcard"),
        (bytes(range(256)), "application/octet-stream"),
        (b"\x00\x01\x02\x03garbage", "application/octet-stream"),
    ],
)
def test_sniff_head(head: bytes, expected: str) -> None:
    assert sniff_head(head) == expected


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (
            office_zip({"[Content_Types].xml": b"<Types/>", "word/document.xml": b"<w:document/>"}),
            "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        ),
        (
            office_zip({"[Content_Types].xml": b"<Types/>", "xl/workbook.xml": b"<workbook/>"}),
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        ),
        (
            office_zip({"[Content_Types].xml": b"<Types/>", "ppt/presentation.xml": b"<p/>"}),
            "application/vnd.openxmlformats-officedocument.presentationml.presentation",
        ),
        (
            office_zip(
                {"content.xml": b"<office:document-content/>"},
                mimetype=b"application/vnd.oasis.opendocument.text",
            ),
            "application/vnd.oasis.opendocument.text",
        ),
        (
            office_zip({"OEBPS/content.opf": b"<package/>"}, mimetype=b"application/epub+zip"),
            "application/epub+zip",
        ),
        (office_zip({"notes.txt": b"hello"}), "application/zip"),
        (ole_file(["WordDocument", "1Table", "\x05SummaryInformation"]), "application/msword"),
        (ole_file(["Workbook", "\x05SummaryInformation"]), "application/vnd.ms-excel"),
        (ole_file(["Book"]), "application/vnd.ms-excel"),
        (ole_file(["PowerPoint Document", "Current User"]), "application/vnd.ms-powerpoint"),
        (
            ole_file(["__properties_version1.0", "__substg1.0_0037001F"]),
            "application/vnd.ms-outlook",
        ),
        (ole_file(["WordDocument"], sector_shift=12), "application/msword"),
        (ole_file(["Something Else"]), "application/x-ole-storage"),
    ],
)
def test_containers_are_told_apart_by_what_they_hold(
    tmp_path: Path, data: bytes, expected: str
) -> None:
    path = write(tmp_path, "file.bin", data)
    assert detect(Source(path)) == expected
    assert detect_probe(Probe.of(Source(path), path.name)) == expected


def test_the_ole_helper_makes_files_a_real_reader_accepts(tmp_path: Path) -> None:
    olefile = pytest.importorskip("olefile")
    path = write(tmp_path, "a.doc", ole_file(["WordDocument", "1Table"]))
    with olefile.OleFileIO(str(path)) as ole:
        assert sorted(e[0] for e in ole.listdir()) == ["1Table", "WordDocument"]


def test_families_of_types() -> None:
    assert same_kind("audio/mp4", "video/mp4")
    assert same_kind("video/webm", "video/x-matroska")
    assert same_kind("application/msword", "application/x-ole-storage")
    assert not same_kind("application/pdf", "image/jpeg")
    assert not same_kind("application/zip", "application/vnd.oasis.opendocument.text")


# --- score --------------------------------------------------------------------------------------


def score(tmp_path: Path, name: str, data: bytes) -> float:
    path = write(tmp_path, name, data)
    return EvidenceFile().score(Probe.of(Source(path), name))


def test_score_is_low_for_evidence_and_zero_for_text_and_unknown_bytes(tmp_path: Path) -> None:
    assert score(tmp_path, "statement.pdf", PDF) == 0.1
    assert score(tmp_path, "video.mp4", MP4) == 0.1
    assert score(tmp_path, "report.doc", ole_file(["WordDocument"])) == 0.1
    assert score(tmp_path, "voice.amr", b"#!AMR\n" + b"\x00" * 100) == 0.1
    for name, data in [
        ("notes.txt", b"he said he would come round\n"),
        ("chat.json", b'{"messages": []}'),
        ("sms.xml", b"<?xml version='1.0'?><smses/>"),
        ("page.html", b"<html><body>x</body></html>"),
        ("calls.csv", b"Date,Number\n01/01/2024,0770\n"),
        ("mystery.bin", bytes(range(256)) * 4),
        ("empty.pdf", b""),
    ]:
        assert score(tmp_path, name, data) == 0.0, name


def test_a_text_file_is_declined_by_the_pipeline_with_a_reason(
    diary: Diary, tmp_path: Path
) -> None:
    path = write(tmp_path, "export.txt", b"This is not any export Docket knows.\n" * 10)
    with pytest.raises(UnknownFormat) as e:
        diary.import_file(path)
    assert e.value.location is not None and e.value.location.file == "export.txt"
    assert "--format" in (e.value.hint or "")


# --- the item -----------------------------------------------------------------------------------


def test_a_pdf_is_one_item_with_its_bytes_unchanged(tmp_path: Path) -> None:
    data = PDF + bytes(range(256)) * 10_000  # 2.5 MiB
    path = write(tmp_path, "police statement.pdf", data)
    chunks: list[bytes] = []
    items = []
    warnings = []
    for x in EvidenceFile().parse(Source(path), Context(name="police statement.pdf")):
        if isinstance(x, Item):
            items.append(x)
            assert x.attachments[0].chunks is not None
            chunks = list(x.attachments[0].chunks())
        else:
            warnings.append(x)
    assert warnings == []
    [item] = items
    assert (item.kind, item.channel, item.direction, item.sender) == (
        "file",
        "file",
        "unknown",
        None,
    )
    assert item.sent_at is None and item.local_time == "" and item.body is None
    assert [len(c) for c in chunks] == [1 << 20, 1 << 20, len(data) - (2 << 20)]
    assert b"".join(chunks) == data
    [att] = item.attachments
    assert att.name == "police statement.pdf" and att.media_type == "application/pdf"
    assert item.match_body == "sha256:" + hashlib.sha256(data).hexdigest()
    assert item.raw == {
        "name": "police statement.pdf",
        "size": str(len(data)),
        "detected_type": "application/pdf",
        "extension": "pdf",
        "extension_type": "application/pdf",
    }


def test_the_name_is_compared_with_the_contents(tmp_path: Path) -> None:
    items, warnings, data = run(write(tmp_path, "holiday.jpg", PDF))
    assert data == PDF
    assert items[0].raw["detected_type"] == "application/pdf"
    assert items[0].raw["extension_type"] == "image/jpeg"
    assert items[0].attachments[0].media_type == "application/pdf"
    [w] = warnings
    assert w.code == "type_mismatch"
    assert "holiday.jpg" in w.message and "PDF" in w.message and "JPEG" in w.message


def test_the_same_kind_of_file_under_a_related_name_is_not_a_mismatch(tmp_path: Path) -> None:
    items, warnings, _ = run(write(tmp_path, "Voice memo.m4a", MP4))
    assert warnings == [] and items[0].raw["detected_type"] == "video/mp4"
    items, warnings, _ = run(write(tmp_path, "clip.mkv", b"\x1aE\xdf\xa3" + b"webm" * 10))
    assert warnings == []


def test_a_name_without_a_known_extension_says_nothing(tmp_path: Path) -> None:
    items, warnings, _ = run(write(tmp_path, "recording", b"#!AMR\n" + b"\x00" * 64))
    assert warnings == []
    assert items[0].raw["extension"] == "" and "extension_type" not in items[0].raw
    assert items[0].raw["detected_type"] == "audio/amr"


def test_text_and_unknown_bytes_are_kept_when_the_format_is_named(tmp_path: Path) -> None:
    items, warnings, data = run(write(tmp_path, "note.txt", b"he followed me home\n"))
    assert warnings == [] and data == b"he followed me home\n"
    assert items[0].raw["detected_type"] == "text/plain"
    items, warnings, _ = run(write(tmp_path, "blob", bytes(range(256))))
    assert [w.code for w in warnings] == ["unknown_type"]
    assert items[0].raw["detected_type"] == "application/octet-stream"


def test_an_office_document_renamed_as_a_zip_is_a_mismatch(tmp_path: Path) -> None:
    docx = office_zip({"[Content_Types].xml": b"<Types/>", "word/document.xml": b"<w/>"})
    items, warnings, _ = run(write(tmp_path, "archive.zip", docx))
    assert items[0].raw["detected_type"].endswith("wordprocessingml.document")
    assert [w.code for w in warnings] == ["type_mismatch"]


def test_empty_file(tmp_path: Path) -> None:
    with pytest.raises(ImportFormatError) as e:
        run(write(tmp_path, "empty.pdf", b""))
    assert e.value.location is not None and e.value.location.file == "empty.pdf"
    assert e.value.cause and e.value.hint


def test_a_file_that_cannot_be_read(tmp_path: Path) -> None:
    folder = tmp_path / "folder.pdf"
    folder.mkdir()
    with pytest.raises(ImportFormatError) as e:
        list(EvidenceFile().parse(Source(folder), Context(name="folder.pdf")))
    assert e.value.location is not None and e.value.location.file == "folder.pdf"


def test_parsing_is_deterministic(tmp_path: Path) -> None:
    path = write(tmp_path, "a.pdf", PDF)

    def plain(items: list[Item]) -> list[object]:
        return [
            (replace(i, attachments=()), [(a.name, a.media_type) for a in i.attachments])
            for i in items
        ]

    (a, wa, _), (b, wb, _) = run(path), run(path)
    assert plain(a) == plain(b) and wa == wb


# --- the shared samples -------------------------------------------------------------------------


@needs_samples
def test_the_outlook_message_sample_is_recognised_inside_its_ole_container() -> None:
    path = SAMPLES / "email" / "strange_date__msgextractor.msg"
    assert detect(Source(path)) == "application/vnd.ms-outlook"
    assert detect_probe(Probe.of(Source(path), path.name)) == "application/vnd.ms-outlook"
    items, warnings, data = run(path)
    assert warnings == [] and data == path.read_bytes()
    assert items[0].raw["extension_type"] == "application/vnd.ms-outlook"


@needs_samples
def test_every_shared_sample_is_scored_by_its_contents() -> None:
    expected_zero = {"json", "xml", "txt", "html", "eml", "mbox", "typedstream", "plist"}
    seen = 0
    for path in sorted(SAMPLES.glob("*/*")):
        if not path.is_file() or path.name == "SOURCES.md":
            continue
        seen += 1
        probe = Probe.of(Source(path), path.name)
        got = EvidenceFile().score(probe)
        ext = path.suffix.lower().lstrip(".")
        if ext in {"jpg", "heic", "msg", "zip"}:
            assert got == 0.1, path.name
        elif ext in expected_zero and ext not in {"typedstream", "plist"}:
            assert got == 0.0, path.name
        # every sample that another importer claims is not taken by this one
        best = max(available(), key=lambda imp: imp.score(probe))
        if best.score(probe) >= 0.3:
            assert best.name != "file", path.name
    assert seen > 50


# --- generated files ----------------------------------------------------------------------------


@given(st.binary(min_size=1, max_size=5000), st.sampled_from(["a.pdf", "b", "c.mp3", "d.txt"]))
@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
def test_any_bytes_become_exactly_one_unchanged_item(
    tmp_path: Path, data: bytes, name: str
) -> None:
    path = write(tmp_path, name, data)
    items, warnings, stored = run(path)
    assert len(items) == 1 and stored == data
    assert items[0].match_body == "sha256:" + hashlib.sha256(data).hexdigest()
    assert items[0].raw["detected_type"] == detect(Source(path))
    assert {w.code for w in warnings} <= {"type_mismatch", "unknown_type"}


# --- through the real pipeline ------------------------------------------------------------------


def test_files_in_a_real_diary_are_kept_and_never_confused(diary: Diary, tmp_path: Path) -> None:
    statement = write(tmp_path, "statement.pdf", PDF + b"statement")
    letter = write(tmp_path, "letter.pdf", PDF + b"letter")
    first = diary.import_file(statement, format="file")
    assert first.importer == "file" and first.added == 1 and first.files_stored == 1
    assert first.by_kind == {"file": 1}
    # a different file with no time and no sender is not taken for the first
    second = diary.import_file(letter, format="file")
    assert second.added == 1 and second.duplicates == 0
    # the same file again, under another name, adds nothing
    copy = write(tmp_path, "copy of statement.pdf", statement.read_bytes())
    again = diary.import_file(copy, format="file")
    assert again.already_imported_at is not None and again.added == 0
    # the same bytes inside a zip of photos are recognised as the file already kept
    photo_zip = tmp_path / "evidence.zip"
    from PIL import Image

    jpeg = tmp_path / "p.jpg"
    Image.new("RGB", (4, 4), "blue").save(jpeg, "JPEG")
    with zipfile.ZipFile(photo_zip, "w") as zf:
        zf.write(jpeg, "p.jpg")
        zf.writestr("statement.pdf", statement.read_bytes())
    mixed = diary.import_file(photo_zip)
    assert mixed.importer == "photo" and mixed.added == 1 and mixed.duplicates == 1
    msgs = diary.messages()
    files = [m for m in msgs if m.channel == "file"]
    assert len(files) == 2
    report = diary.verify()
    assert report.ok, report.problems
