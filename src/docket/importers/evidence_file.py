"""Keeping any other file as one evidence item: a PDF, a voice recording, a video, an office
document, an archive.

One responsibility: recognise what a file really is from its bytes (never from its name),
say so, and yield a single ``kind="file"`` item whose attachment is the file's own bytes,
unchanged. It never touches the diary.

* The type comes from the content: magic numbers, the brand of an ISO media file (``ftyp``),
  the document type of a Matroska file, the members of a zip (Word, Excel, PowerPoint,
  OpenDocument, EPUB) and the stream names of an OLE2 compound file (old Word, Excel,
  PowerPoint and Outlook files). ``docket.model.media.sniff`` knows only the commonest
  signatures, so this module has its own, fuller sniffer (:func:`sniff_head`, :func:`detect`).
* The extension is only compared with that: ``raw["extension_type"]`` says what the name
  claims, and a ``type_mismatch`` warning says when it claims something else (a "photo.jpg"
  that is really a PDF).
* ``score`` is low (0.1) for a recognised evidence type, so any importer that understands the
  file's contents wins, and 0 for text, JSON, XML, HTML, CSV and unknown bytes: an export that
  no importer recognises is then refused with a reason instead of being filed away unread.
  Naming the format (``--format file``) keeps any file, text included.
* A file has no trustworthy time of its own (file dates change whenever it is copied), so
  ``sent_at`` is None and ``local_time`` is empty.
* ``match_body`` is ``"sha256:<hex>"`` of the bytes, so two different files are never taken
  for the same item, and the same file imported twice is.
"""

from __future__ import annotations

import hashlib
import re
import zipfile
from collections.abc import Callable, Iterator
from pathlib import PurePosixPath
from typing import Final

from docket.errors import ImportFormatError, Location
from docket.importers.base import (
    Attachment,
    Context,
    Importer,
    ImportWarning,
    Item,
    Probe,
    Source,
)
from docket.model.media import (
    DOCX,
    OCTET,
    OLE,
    OLE_MAGIC,
    PPTX,
    XLSX,
    ZIP,
    ole_names,
    ole_type,
    refine_zip,
    zip_type,
)

CHUNK: Final = 1 << 20  # bytes per attachment chunk
HEAD: Final = 64 * 1024  # bytes looked at to tell the type

# Plain text and the structured text formats other importers read: never "evidence files" on
# their own (score 0), though a person may still keep one with --format file.
TEXT_TYPES: Final = frozenset(
    {"text/plain", "text/csv", "application/json", "application/xml", "text/html"}
)

# What a file's name claims, by extension (compared with the content, never trusted).
EXTENSION_TYPES: Final[dict[str, str]] = {
    "pdf": "application/pdf",
    "jpg": "image/jpeg",
    "jpeg": "image/jpeg",
    "jfif": "image/jpeg",
    "png": "image/png",
    "gif": "image/gif",
    "bmp": "image/bmp",
    "webp": "image/webp",
    "tif": "image/tiff",
    "tiff": "image/tiff",
    "heic": "image/heic",
    "heif": "image/heif",
    "avif": "image/avif",
    "mp3": "audio/mpeg",
    "aac": "audio/aac",
    "m4a": "audio/mp4",
    "m4b": "audio/mp4",
    "wav": "audio/wav",
    "ogg": "audio/ogg",
    "oga": "audio/ogg",
    "opus": "audio/ogg",
    "amr": "audio/amr",
    "awb": "audio/amr-wb",
    "flac": "audio/flac",
    "mp4": "video/mp4",
    "m4v": "video/mp4",
    "mov": "video/quicktime",
    "3gp": "video/3gpp",
    "3g2": "video/3gpp2",
    "avi": "video/x-msvideo",
    "webm": "video/webm",
    "mkv": "video/x-matroska",
    "mka": "video/x-matroska",
    "ogv": "video/ogg",
    "doc": "application/msword",
    "dot": "application/msword",
    "xls": "application/vnd.ms-excel",
    "ppt": "application/vnd.ms-powerpoint",
    "msg": "application/vnd.ms-outlook",
    "docx": DOCX,
    "xlsx": XLSX,
    "pptx": PPTX,
    "odt": "application/vnd.oasis.opendocument.text",
    "ods": "application/vnd.oasis.opendocument.spreadsheet",
    "odp": "application/vnd.oasis.opendocument.presentation",
    "epub": "application/epub+zip",
    "rtf": "application/rtf",
    "zip": ZIP,
    "7z": "application/x-7z-compressed",
    "rar": "application/vnd.rar",
    "gz": "application/gzip",
    "txt": "text/plain",
    "log": "text/plain",
    "md": "text/plain",
    "csv": "text/csv",
    "tsv": "text/csv",
    "json": "application/json",
    "xml": "application/xml",
    "html": "text/html",
    "htm": "text/html",
    "eml": "message/rfc822",
    "mbox": "application/mbox",
    "vcf": "text/vcard",
}

# Types that are the same kind of file for the purpose of "does the name match the content"
# (an .m4a voice memo whose container says "MP4", an .mkv that is WebM, text of any shape).
_FAMILIES: Final[tuple[frozenset[str], ...]] = (
    frozenset(
        {"audio/mp4", "video/mp4", "video/quicktime", "video/3gpp", "video/3gpp2", "audio/aac"}
    ),
    frozenset({"video/webm", "video/x-matroska"}),
    frozenset({"audio/ogg", "video/ogg"}),
    frozenset({"audio/amr", "audio/amr-wb"}),
    frozenset({"image/heic", "image/heif", "image/avif"}),
    frozenset(
        {
            "application/msword",
            "application/vnd.ms-excel",
            "application/vnd.ms-powerpoint",
            "application/vnd.ms-outlook",
            OLE,
        }
    ),
    frozenset(
        {
            "text/plain",
            "text/csv",
            "application/json",
            "application/xml",
            "text/html",
            "message/rfc822",
            "application/mbox",
            "text/vcard",
        }
    ),
)

# Plain words for the types, as shown to a person.
DESCRIPTIONS: Final[dict[str, str]] = {
    "application/pdf": "a PDF document",
    "image/jpeg": "a JPEG picture",
    "image/png": "a PNG picture",
    "image/gif": "a GIF picture",
    "image/bmp": "a bitmap picture",
    "image/webp": "a WebP picture",
    "image/tiff": "a TIFF picture",
    "image/heic": "a HEIC photo",
    "image/heif": "a HEIF photo",
    "image/avif": "an AVIF picture",
    "audio/mpeg": "an MP3 recording",
    "audio/aac": "an AAC recording",
    "audio/mp4": "an M4A recording",
    "audio/wav": "a WAV recording",
    "audio/ogg": "an Ogg or Opus recording",
    "audio/amr": "an AMR voice recording",
    "audio/amr-wb": "an AMR voice recording",
    "audio/flac": "a FLAC recording",
    "video/mp4": "an MP4 video or recording",
    "video/quicktime": "a QuickTime (MOV) video",
    "video/3gpp": "a 3GP video or recording",
    "video/3gpp2": "a 3G2 video or recording",
    "video/x-msvideo": "an AVI video",
    "video/webm": "a WebM video",
    "video/x-matroska": "a Matroska (MKV) video",
    "video/ogg": "an Ogg video",
    "application/msword": "a Word document (.doc)",
    "application/vnd.ms-excel": "an Excel spreadsheet (.xls)",
    "application/vnd.ms-powerpoint": "a PowerPoint presentation (.ppt)",
    "application/vnd.ms-outlook": "an Outlook message (.msg)",
    OLE: "an older Microsoft Office file",
    DOCX: "a Word document (.docx)",
    XLSX: "an Excel spreadsheet (.xlsx)",
    PPTX: "a PowerPoint presentation (.pptx)",
    "application/vnd.oasis.opendocument.text": "an OpenDocument text (.odt)",
    "application/vnd.oasis.opendocument.spreadsheet": "an OpenDocument spreadsheet (.ods)",
    "application/vnd.oasis.opendocument.presentation": "an OpenDocument presentation (.odp)",
    "application/epub+zip": "an e-book (EPUB)",
    "application/rtf": "a Rich Text document (RTF)",
    ZIP: "a zip archive",
    "application/x-7z-compressed": "a 7-Zip archive",
    "application/vnd.rar": "a RAR archive",
    "application/gzip": "a gzip archive",
    "text/plain": "plain text",
    "text/csv": "a table of text (CSV)",
    "application/json": "JSON text",
    "application/xml": "XML text",
    "text/html": "a web page (HTML)",
    "message/rfc822": "an e-mail (.eml)",
    "application/mbox": "a mailbox (.mbox)",
    "text/vcard": "a contact card (.vcf)",
    OCTET: "data of a kind Docket does not recognise",
}

# --- recognising a file from its first bytes --------------------------------------------------

_SIGNATURES: Final[tuple[tuple[bytes, str], ...]] = (
    (b"%PDF-", "application/pdf"),
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"GIF87a", "image/gif"),
    (b"GIF89a", "image/gif"),
    (b"II*\x00", "image/tiff"),
    (b"MM\x00*", "image/tiff"),
    (b"ID3", "audio/mpeg"),
    (b"fLaC", "audio/flac"),
    (b"#!AMR-WB\n", "audio/amr-wb"),
    (b"#!AMR\n", "audio/amr"),
    (b"{\\rtf", "application/rtf"),
    (OLE_MAGIC, OLE),
    (b"7z\xbc\xaf\x27\x1c", "application/x-7z-compressed"),
    (b"Rar!\x1a\x07", "application/vnd.rar"),
    (b"\x1f\x8b", "application/gzip"),
    (b"PK\x03\x04", ZIP),
    (b"PK\x05\x06", ZIP),  # an empty zip
)

# ISO base media files (MP4, MOV, M4A, 3GP, HEIC): the "major brand" after "ftyp".
FTYP_BRANDS: Final[dict[bytes, str]] = {
    b"heic": "image/heic",
    b"heix": "image/heic",
    b"hevc": "image/heic",
    b"hevx": "image/heic",
    b"heim": "image/heic",
    b"heis": "image/heic",
    b"hevm": "image/heic",
    b"hevs": "image/heic",
    b"mif1": "image/heif",
    b"msf1": "image/heif",
    b"avif": "image/avif",
    b"avis": "image/avif",
    b"M4A ": "audio/mp4",
    b"M4B ": "audio/mp4",
    b"M4P ": "audio/mp4",
    b"F4A ": "audio/mp4",
    b"qt  ": "video/quicktime",
    b"3g2a": "video/3gpp2",
    b"3g2b": "video/3gpp2",
    b"3g2c": "video/3gpp2",
}

_HTML: Final = re.compile(rb"<(?:!doctype\s+html|html[\s>]|head[\s>]|body[\s>])", re.IGNORECASE)


def _ftyp(head: bytes) -> str:
    brand = head[8:12]
    found = FTYP_BRANDS.get(brand)
    if found is not None:
        return found
    if brand.startswith(b"3gp") or brand.startswith(b"3ge") or brand.startswith(b"3gg"):
        return "video/3gpp"
    return "video/mp4"  # isom, iso2, mp41, mp42, avc1, dash, M4V, MSNV, ...


def _riff(head: bytes) -> str:
    return {b"WEBP": "image/webp", b"WAVE": "audio/wav", b"AVI ": "video/x-msvideo"}.get(
        head[8:12], OCTET
    )


def _ogg(head: bytes) -> str:
    if b"\x80theora" in head[:256] or b"\x80kate" in head[:256]:
        return "video/ogg"
    return "audio/ogg"  # Opus, Vorbis, Speex, FLAC in Ogg


def _ebml(head: bytes) -> str:
    """WebM and Matroska share the EBML header; its DocType element says which."""
    top = head[:128]
    if b"\x42\x82" in top and b"matroska" in top:
        return "video/x-matroska"
    return "video/webm"


def sniff_head(head: bytes) -> str:
    """The media type of a file that starts with ``head``, from its magic number; containers
    (zip, OLE2) come back as such, see :func:`detect` (and ``docket.model.media``, which
    holds what looks into them)."""
    for magic, media_type in _SIGNATURES:
        if head.startswith(magic):
            return media_type
    if head[4:8] == b"ftyp" and len(head) >= 12:
        return _ftyp(head)
    if head[:4] == b"RIFF" and len(head) >= 12:
        return _riff(head)
    if head[:4] == b"OggS":
        return _ogg(head)
    if head[:4] == b"\x1aE\xdf\xa3":
        return _ebml(head)
    if head[:2] == b"BM" and len(head) >= 26 and head[6:10] == b"\x00\x00\x00\x00":
        return "image/bmp"
    if head.startswith((b"\xff\xfe", b"\xfe\xff")) and _utf16_text(head):
        return _text_type(head)  # before MP3: a UTF-16 byte order mark looks like a frame
    if len(head) >= 2 and head[0] == 0xFF and head[1] & 0xF0 == 0xF0 and head[1] & 0x06 == 0:
        return "audio/aac"  # ADTS
    if (
        len(head) >= 3
        and head[0] == 0xFF
        and head[1] & 0xE0 == 0xE0
        and head[1] & 0x06
        and head[2] & 0xF0 != 0xF0  # a valid bit rate index
    ):
        return "audio/mpeg"  # an MP3 frame without an ID3 tag
    return _text_type(head)


def _utf16_text(head: bytes) -> bool:
    sample = head[2:4098]
    sample = sample[: len(sample) // 2 * 2]
    try:
        text = sample.decode("utf-16-le" if head[0] == 0xFF else "utf-16-be")
    except UnicodeDecodeError:
        return False
    return bool(text) and all(c.isprintable() or c in "\r\n\t" for c in text)


def _text_type(head: bytes) -> str:
    """Text, and which kind of text, or unknown bytes."""
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            text = head[:4096].decode("utf-16")
        except UnicodeDecodeError:
            return OCTET
        return _text_shape(text.encode("utf-8", "replace"))
    if not head or b"\x00" in head[:4096]:
        return OCTET
    sample = head[:8192]
    try:
        sample.decode("utf-8")
    except UnicodeDecodeError as exc:
        if exc.start < len(sample) - 3:
            # not UTF-8: text in an older 8-bit encoding still has no control bytes
            controls = sum(1 for b in sample if b < 9 or 13 < b < 32)
            if controls * 100 > len(sample):
                return OCTET
    return _text_shape(sample)


def _text_shape(sample: bytes) -> str:
    start = sample.removeprefix(b"\xef\xbb\xbf").lstrip()
    if start.startswith((b"{", b"[")):
        return "application/json"
    if _HTML.search(start[:1024]):
        return "text/html"
    if start.startswith(b"<?xml") or start.startswith(b"<"):
        return "application/xml"
    if start.startswith(b"From ") or start.startswith(b"Return-Path:"):
        return "message/rfc822" if start.startswith(b"Return-Path:") else "application/mbox"
    if start.upper().startswith(b"BEGIN:VCARD"):
        return "text/vcard"
    return "text/plain"


def detect_probe(probe: Probe) -> str:
    """The type of the file behind ``probe``, from what the probe holds."""
    head = probe.head
    found = sniff_head(head)
    if found == ZIP:
        return zip_type(head) or refine_zip(probe.zip_names)
    if found == OLE:
        return ole_type(ole_names(lambda at, n: head[at : at + n]))
    return found


def detect(source: Source) -> str:
    """The type of the file, looking into zips and OLE2 files as far as needed."""
    with source.open() as f:
        head = f.read(HEAD)
        found = sniff_head(head)
        if found == OLE:

            def read_at(at: int, n: int) -> bytes:
                f.seek(at)
                return f.read(n)

            try:
                return ole_type(ole_names(read_at))
            except OSError:
                return OLE
    if found == ZIP:
        try:
            with source.open() as fh, zipfile.ZipFile(fh) as zf:
                names = zf.namelist()
                mimetype = b""
                if "mimetype" in names and zf.getinfo("mimetype").file_size <= 200:
                    mimetype = zf.read("mimetype")
                return refine_zip(names, mimetype)
        except (zipfile.BadZipFile, OSError, EOFError, ValueError, NotImplementedError):
            return ZIP
    return found


def extension_of(name: str) -> str:
    """The file name's extension in small letters, without the dot ("" when it has none)."""
    suffix = PurePosixPath(name.replace("\\", "/")).suffix
    return suffix[1:].lower() if len(suffix) > 1 else ""


def same_kind(a: str, b: str) -> bool:
    """Whether two media types are the same kind of file for a person's purposes."""
    if a == b:
        return True
    return any(a in family and b in family for family in _FAMILIES)


def describe(media_type: str) -> str:
    return DESCRIPTIONS.get(media_type, media_type)


def file_chunks(source: Source) -> Callable[[], Iterator[bytes]]:
    """The file's bytes, 1 MiB at a time."""

    def chunks() -> Iterator[bytes]:
        with source.open() as f:
            while block := f.read(CHUNK):
                yield block

    return chunks


def content_key(chunks: Iterator[bytes]) -> tuple[str, int]:
    """``"sha256:<hex>"`` of the bytes, and their length."""
    h = hashlib.sha256()
    size = 0
    for block in chunks:
        h.update(block)
        size += len(block)
    return "sha256:" + h.hexdigest(), size


# --- the importer -----------------------------------------------------------------------------


class EvidenceFile(Importer):
    """Any file kept as it is: PDF, audio, video, office documents, archives."""

    name = "file"
    version = "1"
    label = "Any other file (PDF, recording, video, document)"
    # when no export claims a file, a recognised photo, recording or document is evidence
    confident_at = 0.1

    def score(self, probe: Probe) -> float:
        if probe.size == 0:
            return 0.0
        found = detect_probe(probe)
        if found in TEXT_TYPES or found == OCTET:
            return 0.0
        if found in ("message/rfc822", "application/mbox", "text/vcard"):
            return 0.0
        return 0.1

    def parse(self, source: Source, context: Context) -> Iterator[Item | ImportWarning]:
        name = context.name or (source.path.name if source.path else "")
        try:
            size = source.size
            detected = detect(source) if size else ""
            key, read = content_key(file_chunks(source)())
        except OSError as exc:
            raise ImportFormatError(
                "Docket could not read this file.",
                cause=f"The computer reported: {exc.strerror or exc}.",
                hint="Copy the file to this computer's own disk and import the copy.",
                location=Location(file=name),
            ) from exc
        if read == 0:
            raise ImportFormatError(
                "This file is empty, so there is nothing to keep.",
                cause="The copy or download may not have finished, or a different file was chosen.",
                hint="Check the file on the device it came from and copy it again.",
                location=Location(file=name),
            )
        ext = extension_of(name)
        ext_type = EXTENSION_TYPES.get(ext, "")
        raw = {"name": name, "size": str(read), "detected_type": detected, "extension": ext}
        if ext_type:
            raw["extension_type"] = ext_type
        if ext_type and not same_kind(detected, ext_type):
            yield ImportWarning(
                "type_mismatch",
                f"The name '{name}' says it is {describe(ext_type)}, but its contents are "
                f"{describe(detected)}. Docket has kept it as it is and recorded what it "
                "really contains. Files are sometimes renamed by apps or by hand; if you did "
                "not expect this, keep the device it came from.",
            )
        elif detected == OCTET:
            yield ImportWarning(
                "unknown_type",
                f"Docket does not recognise what kind of file '{name}' is. It has been kept "
                "exactly as it is, so it can still be opened with the right program later.",
            )
        yield Item(
            kind="file",
            channel="file",
            direction="unknown",
            sender=None,
            sent_at=None,
            local_time="",
            attachments=(Attachment(name=name, media_type=detected, chunks=file_chunks(source)),),
            match_body=key,
            raw=raw,
        )
