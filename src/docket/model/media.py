"""Recognising an evidence file's type from its first bytes, not from its name.

A file called photo.jpg may be anything; the report must say what it really is. The bytes
are the authority (:func:`sniff`); a type that an importer or a sender declared is kept only
where the bytes show a generic container or base type that the declared type is a known,
narrower kind of (:func:`refine`), and where the container's own contents can say exactly
what it holds (a zip's ``mimetype`` or ``[Content_Types].xml`` member, an OLE2 compound
file's stream names), they decide.
"""

from __future__ import annotations

import io
import re
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, BinaryIO, Final, cast

SIGNATURES: tuple[tuple[int, bytes, str], ...] = (
    (0, b"\xff\xd8\xff", "image/jpeg"),
    (0, b"\x89PNG\r\n\x1a\n", "image/png"),
    (0, b"GIF87a", "image/gif"),
    (0, b"GIF89a", "image/gif"),
    (0, b"%PDF-", "application/pdf"),
    (0, b"ID3", "audio/mpeg"),
    (0, b"OggS", "audio/ogg"),
    (0, b"fLaC", "audio/flac"),
    (0, b"PK\x03\x04", "application/zip"),
    (0, b"{\\rtf", "application/rtf"),
    (0, b"\x1aE\xdf\xa3", "video/webm"),
    (0, b"II*\x00", "image/tiff"),
    (0, b"MM\x00*", "image/tiff"),
    (0, b"7z\xbc\xaf\x27\x1c", "application/x-7z-compressed"),
    (0, b"#!AMR\n", "audio/amr"),
    (0, b"#!AMR-WB\n", "audio/amr-wb"),
    (0, b"\x1f\x8b\x08", "application/gzip"),
)
# sizes of the header that follows a bitmap's "BM" file header, by version
_BMP_HEADERS = frozenset({12, 40, 52, 56, 64, 108, 124})
FTYP_BRANDS: dict[bytes, str] = {
    b"heic": "image/heic",
    b"heix": "image/heic",
    b"mif1": "image/heif",
    b"avif": "image/avif",
    b"qt  ": "video/quicktime",
    b"M4A ": "audio/mp4",
    b"M4V ": "video/mp4",
    b"3gp4": "video/3gpp",
    b"3gp5": "video/3gpp",
}
HEAD_BYTES = 64


def sniff(head: bytes) -> str:
    """The media type for a file starting with ``head`` (at least its first 64 bytes)."""
    for offset, magic, media_type in SIGNATURES:
        if head[offset : offset + len(magic)] == magic:
            return media_type
    if head[:4] == b"RIFF" and len(head) >= 12:
        return {b"WEBP": "image/webp", b"WAVE": "audio/wav", b"AVI ": "video/x-msvideo"}.get(
            head[8:12], "application/octet-stream"
        )
    if head[4:8] == b"ftyp":
        return FTYP_BRANDS.get(head[8:12], "video/mp4")
    if head[:2] == b"\xff\xfb" or head[:2] == b"\xff\xf3":
        return "audio/mpeg"
    if (
        head[:2] == b"BM"
        and len(head) >= 18
        and head[6:10] == b"\x00\x00\x00\x00"  # reserved
        and int.from_bytes(head[14:18], "little") in _BMP_HEADERS
    ):
        return "image/bmp"
    if _looks_like_text(head):
        return "text/plain"
    return "application/octet-stream"


def _looks_like_text(head: bytes) -> bool:
    if not head or b"\x00" in head:
        return False
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as exc:
        # a multi-byte character cut off at the end of the sample is still text
        return exc.start >= len(head) - 3
    return True


def sniff_stream(stream: BinaryIO) -> tuple[str, BinaryIO]:
    """The media type of a stream that may not be seekable (an upload, a pipe), and a stream
    that reads it from the start: the bytes looked at are put back in front."""
    head = stream.read(HEAD_BYTES)
    return sniff(head), cast(BinaryIO, io.BufferedReader(_Prepended(head, stream)))


class _Prepended(io.RawIOBase):
    """A stream with bytes already read from it put back in front."""

    def __init__(self, head: bytes, rest: BinaryIO) -> None:
        self._head = memoryview(head)
        self._rest = rest

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        if self._head:
            n = min(len(buffer), len(self._head))
            buffer[:n] = self._head[:n]
            self._head = self._head[n:]
            return n
        data = self._rest.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)


# --- a declared type, kept where it is a narrower kind of what the bytes show -------------------

ZIP: Final = "application/zip"
OLE: Final = "application/x-ole-storage"
OCTET: Final = "application/octet-stream"
OLE_MAGIC: Final = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
ZIP_MAGIC: Final = (b"PK\x03\x04", b"PK\x05\x06")

DOCX: Final = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
XLSX: Final = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
PPTX: Final = "application/vnd.openxmlformats-officedocument.presentationml.presentation"
APK: Final = "application/vnd.android.package-archive"
JAR: Final = "application/java-archive"
_JAVA_KINDS: Final = frozenset({APK, JAR, "application/x-java-archive"})
_JAVA_MANIFEST: Final = "META-INF/MANIFEST.MF"

# Formats that are zips inside (besides every "+zip" type, such as application/epub+zip).
_ZIP_KINDS: Final = frozenset(
    {
        APK,
        JAR,
        "application/x-java-archive",
        "application/vnd.ms-xpsdocument",
        "application/oxps",
        "application/vnd.google-earth.kmz",
        "application/x-xpinstall",
        "application/vnd.apple.pages",
        "application/vnd.apple.numbers",
        "application/vnd.apple.keynote",
        "model/3mf",
    }
)
_ZIP_KIND_PREFIXES: Final = (
    "application/vnd.openxmlformats-officedocument.",
    "application/vnd.oasis.opendocument.",
)
# Office's macro-enabled and template formats (word, excel, powerpoint, ".12" types).
_MS_OOXML: Final = re.compile(r"application/vnd\.ms-(?:word|excel|powerpoint)\.[a-z.]+\.12")
# Formats that are OLE2 compound files inside.
_OLE_KINDS: Final = frozenset(
    {
        OLE,
        "application/msword",
        "application/vnd.ms-excel",
        "application/vnd.ms-powerpoint",
        "application/vnd.ms-outlook",
        "application/vnd.visio",
        "application/vnd.ms-project",
        "application/vnd.ms-publisher",
    }
)
# Text formats that are not text/*, besides every "+xml" and "+json" type.
_TEXT_KINDS: Final = frozenset(
    {
        "application/json",
        "application/xml",
        "application/x-ndjson",
        "application/yaml",
        "application/x-yaml",
        "application/toml",
        "application/javascript",
        "application/mbox",
        "application/x-subrip",
        "application/pgp-signature",
        "application/pgp-keys",
        "application/sql",
        "message/rfc822",
        "message/global",
    }
)
# A base type the bytes show -> the narrower types it may be declared as.
_MEDIA_KINDS: Final[dict[str, frozenset[str]]] = {
    "video/mp4": frozenset({"audio/mp4", "audio/x-m4a", "audio/m4a", "video/x-m4v"}),
    "audio/ogg": frozenset({"audio/opus", "video/ogg"}),
    "video/webm": frozenset({"audio/webm", "video/x-matroska", "audio/x-matroska"}),
}
_NAME_PART: Final = r"[a-z0-9][a-z0-9!#$&^_.+-]{0,126}"
_MEDIA_TYPE: Final = re.compile(rf"{_NAME_PART}/{_NAME_PART}")


def refine(sniffed: str, declared: str | None, head: bytes) -> str:
    """The media type to record for a file whose first bytes are ``head``: ``sniffed`` (what
    those bytes show) made more precise, never contradicted.

    * A zip or OLE2 file whose own contents say what it is (an OpenDocument or EPUB
      ``mimetype`` member, Office's ``[Content_Types].xml``, an Android app's manifest, the
      streams of a Word, Excel, PowerPoint or Outlook file) is that, whatever was declared.
    * Otherwise ``declared`` is kept only when it is a narrower kind of what the bytes show:
      a zip declared as a Word document, an OLE2 file as an Outlook message, text as CSV or
      a calendar, XML as a specific XML format, an MP4 container as an M4A recording.
    * Anything else is ``sniffed``: a zip declared as a PDF stays a zip, and a program
      declared as a photo stays what its bytes show, so nobody is told a file is harmless
      because of its name.
    """
    want = essence(declared)
    if head.startswith(b"PK\x03\x04") and sniffed in (ZIP, OCTET):  # not an empty zip
        found, names = _look_into_zip(head)
        if found is not None:
            return found
        if want is None or not _is_zip_kind(want):
            return sniffed
        if _JAVA_MANIFEST in names and want not in _JAVA_KINDS:
            return sniffed  # a Java program or Android app, whatever its name says
        return want
    if head.startswith(OLE_MAGIC) and sniffed in (OLE, OCTET):
        found = ole_type(ole_names(lambda at, n: head[at : at + n]))
        if found != OLE:
            return found
        return want if want in _OLE_KINDS else sniffed
    if want is None or want == sniffed:
        return sniffed
    if sniffed == "text/plain" and _is_text_kind(want):
        return want
    if sniffed in ("application/xml", "text/xml") and _is_xml_kind(want):
        return want
    if sniffed == "application/json" and (want.endswith("+json") or want == "application/x-ndjson"):
        return want
    if want in _MEDIA_KINDS.get(sniffed, ()):
        return want
    return sniffed


def essence(media_type: str | None) -> str | None:
    """A media type without its parameters, in small letters; None when it is not one."""
    if not media_type:
        return None
    found = media_type.split(";", 1)[0].strip().lower()
    return found if _MEDIA_TYPE.fullmatch(found) else None


def _is_zip_kind(media_type: str) -> bool:
    return (
        media_type in _ZIP_KINDS
        or media_type.endswith("+zip")
        or media_type.startswith(_ZIP_KIND_PREFIXES)
        or _MS_OOXML.fullmatch(media_type) is not None
    )


def _is_xml_kind(media_type: str) -> bool:
    return media_type in ("application/xml", "text/xml") or media_type.endswith("+xml")


def _is_text_kind(media_type: str) -> bool:
    return (
        media_type.startswith("text/")
        or media_type in _TEXT_KINDS
        or _is_xml_kind(media_type)
        or media_type.endswith("+json")
    )


# --- what a zip says about itself in its first bytes --------------------------------------------


@dataclass(frozen=True)
class ZipEntry:
    """A zip member whose local header lies in the first bytes of the zip: its name, how it is
    packed, and as much of its packed data as those bytes hold."""

    name: str
    method: int  # 0 stored, 8 deflated, ...
    flags: int
    size: int  # unpacked size from the local header (0 when a data descriptor follows)
    data: bytes

    def start(self, limit: int = 8192) -> bytes:
        """Up to ``limit`` unpacked bytes from the start of the member, or b"" when they
        cannot be had from the bytes at hand (encrypted, or packed in another way)."""
        if self.flags & 0x1:
            return b""
        if self.method == 0:
            return self.data[:limit]
        if self.method == 8:
            try:
                return zlib.decompressobj(-15).decompress(self.data, limit)
            except zlib.error:
                return b""
        return b""


def zip_entries(head: bytes) -> Iterator[ZipEntry]:
    """The members whose local headers are in ``head``, the first bytes of a zip, in order;
    it stops at a member whose packed size is not in its header."""
    at = 0
    while head[at : at + 4] == b"PK\x03\x04" and len(head) >= at + 30:
        flags = int.from_bytes(head[at + 6 : at + 8], "little")
        method = int.from_bytes(head[at + 8 : at + 10], "little")
        packed = int.from_bytes(head[at + 18 : at + 22], "little")
        size = int.from_bytes(head[at + 22 : at + 26], "little")
        name_len = int.from_bytes(head[at + 26 : at + 28], "little")
        extra_len = int.from_bytes(head[at + 28 : at + 30], "little")
        name = head[at + 30 : at + 30 + name_len].decode("utf-8", "replace")
        start = at + 30 + name_len + extra_len
        if start > len(head):
            return
        sized = not flags & 0x8 and packed != 0xFFFFFFFF
        yield ZipEntry(name, method, flags, size, head[start : start + packed if sized else None])
        if not sized:
            return
        at = start + packed


# The main part of an Office Open XML package, as [Content_Types].xml names it -> the file type.
_OOXML_MAIN: Final[dict[bytes, str]] = {
    b"application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml": DOCX,
    b"application/vnd.openxmlformats-officedocument.wordprocessingml.template.main+xml": (
        "application/vnd.openxmlformats-officedocument.wordprocessingml.template"
    ),
    b"application/vnd.ms-word.document.macroenabled.main+xml": (
        "application/vnd.ms-word.document.macroenabled.12"
    ),
    b"application/vnd.ms-word.template.macroenabledtemplate.main+xml": (
        "application/vnd.ms-word.template.macroenabled.12"
    ),
    b"application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml": XLSX,
    b"application/vnd.openxmlformats-officedocument.spreadsheetml.template.main+xml": (
        "application/vnd.openxmlformats-officedocument.spreadsheetml.template"
    ),
    b"application/vnd.ms-excel.sheet.macroenabled.main+xml": (
        "application/vnd.ms-excel.sheet.macroenabled.12"
    ),
    b"application/vnd.openxmlformats-officedocument.presentationml.presentation.main+xml": PPTX,
    b"application/vnd.openxmlformats-officedocument.presentationml.slideshow.main+xml": (
        "application/vnd.openxmlformats-officedocument.presentationml.slideshow"
    ),
    b"application/vnd.openxmlformats-officedocument.presentationml.template.main+xml": (
        "application/vnd.openxmlformats-officedocument.presentationml.template"
    ),
    b"application/vnd.ms-powerpoint.presentation.macroenabled.main+xml": (
        "application/vnd.ms-powerpoint.presentation.macroenabled.12"
    ),
}
_CONTENT_TYPE: Final = re.compile(rb'contenttype\s*=\s*"([^"]{1,200})"')
_OOXML_PARTS: Final[tuple[tuple[str, str], ...]] = (("word/", DOCX), ("xl/", XLSX), ("ppt/", PPTX))
_ZIP_MIMETYPES: Final = re.compile(r"application/(?:vnd\.oasis\.opendocument\.[a-z.-]+|epub\+zip)")


def zip_type(head: bytes) -> str | None:
    """What a zip is, when its first bytes say so: its ``mimetype`` member (OpenDocument,
    EPUB), the main part ``[Content_Types].xml`` names (Word, Excel, PowerPoint), or an
    Android app's manifest. None when they do not say."""
    return _look_into_zip(head)[0]


def _look_into_zip(head: bytes) -> tuple[str | None, list[str]]:
    """:func:`zip_type`, and the names of the members seen on the way."""
    names: list[str] = []
    for entry in zip_entries(head):
        names.append(entry.name)
        if entry.name == "mimetype" and entry.method == 0 and entry.size <= 200:
            declared = entry.data.strip().decode("ascii", "replace").lower()
            if _ZIP_MIMETYPES.fullmatch(declared):
                return declared, names
        elif entry.name == "[Content_Types].xml":
            for value in _CONTENT_TYPE.findall(entry.start(1 << 16).lower()):
                found = _OOXML_MAIN.get(value)
                if found is not None:
                    return found, names
        elif entry.name in ("AndroidManifest.xml", "classes.dex"):
            return APK, names
    if "[Content_Types].xml" in names:
        for prefix, media_type in _OOXML_PARTS:
            if any(n.startswith(prefix) for n in names):
                return media_type, names
    return None, names


def refine_zip(names: tuple[str, ...] | list[str], mimetype: bytes = b"") -> str:
    """What a zip holds, from its member names (and its ``mimetype`` member, for OpenDocument
    and EPUB): an office document, or just a zip."""
    if mimetype:
        declared = mimetype.strip().decode("ascii", "replace")
        if _ZIP_MIMETYPES.fullmatch(declared.lower()):
            return declared
    if "[Content_Types].xml" in names:
        for prefix, media_type in _OOXML_PARTS:
            if any(n.startswith(prefix) for n in names):
                return media_type
    return ZIP


# --- what an OLE2 compound file says about itself -----------------------------------------------

_OLE_STREAMS: Final[tuple[tuple[str, str], ...]] = (
    ("worddocument", "application/msword"),
    ("workbook", "application/vnd.ms-excel"),
    ("book", "application/vnd.ms-excel"),
    ("powerpoint document", "application/vnd.ms-powerpoint"),
    ("__properties_version1.0", "application/vnd.ms-outlook"),
    ("__substg1.0_", "application/vnd.ms-outlook"),
)


def ole_names(read_at: Callable[[int, int], bytes]) -> list[str]:
    """The names in an OLE2 compound file's first directory sector (enough to tell Word,
    Excel, PowerPoint and Outlook apart: their main streams come first)."""
    header = read_at(0, 512)
    if len(header) < 512 or not header.startswith(OLE_MAGIC):
        return []
    shift = int.from_bytes(header[30:32], "little")
    if shift not in (9, 12):
        return []
    size = 1 << shift
    first_dir = int.from_bytes(header[48:52], "little")
    if first_dir >= 0xFFFFFFFA:
        return []
    sector = read_at((first_dir + 1) * size, size)
    names: list[str] = []
    for at in range(0, len(sector) - 127, 128):
        entry = sector[at : at + 128]
        length = int.from_bytes(entry[64:66], "little")
        if 2 <= length <= 64 and entry[66] in (1, 2, 5):
            names.append(entry[: length - 2].decode("utf-16-le", "replace"))
    return names


def ole_type(names: list[str]) -> str:
    """The kind of OLE2 file its stream names show, or the generic OLE2 type."""
    lowered = [n.lower() for n in names]
    for stream, media_type in _OLE_STREAMS:
        if any(n == stream or (stream.endswith("_") and n.startswith(stream)) for n in lowered):
            return media_type
    return OLE
