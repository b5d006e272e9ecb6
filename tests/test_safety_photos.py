"""The photo location check (``docket.safety.photos``): what a picture gives away, and copies
with that information taken out.

Shown here: the shared camera samples (skipped when shared/ is absent); generated JPEG, PNG,
WebP, GIF, TIFF and HEIC pictures carrying every kind of information block, each read by the
check and gone from the copy, whose pixels stay exactly the same (a JPEG's compressed data byte
for byte); random JPEGs with random metadata and randomly damaged pictures (hypothesis); the
folder rules (where copies may go, nothing overwritten, the same layout, other files left
alone); originals never written to, by their hashes and by the kernel's own record of how
they were opened; very large files checked without being read into memory; and the words shown
to the person.
"""

from __future__ import annotations

import ast
import contextlib
import ctypes
import hashlib
import io
import os
import random
import re
import stat
import struct
import sys
import time
import tracemalloc
import warnings
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from PIL import Image, ImageCms, ImageOps, ImageSequence, PngImagePlugin, TiffImagePlugin
from PIL.ExifTags import GPS, IFD, Base

from docket.errors import PhotoCheckError
from docket.importers.photo import MAX_WHOLE_READ, _register_heif
from docket.safety import photos
from docket.safety.photos import (
    PICTURE_CAUTION,
    CleanedPhoto,
    CleanResult,
    PhotoFinding,
    clean,
    clean_folder,
    inspect,
    scan_folder,
)
from tests.conftest import SHARED

SAMPLES = SHARED / "samples" / "exif"
needs_samples = pytest.mark.skipif(not SAMPLES.is_dir(), reason="shared samples not present")

MARK = b"MARKER"  # every value planted in a generated picture holds this
LONDON = "51.50722, -0.12750"  # 51 30 26 N, 0 7 39 W
ICC = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()


# --- making pictures ----------------------------------------------------------------------------


def noise(mode: str, size: tuple[int, int], seed: int = 1) -> Image.Image:
    """A picture of random pixels (the same for the same seed)."""
    bands = Image.getmodebands(mode)
    return Image.frombytes(mode, size, random.Random(seed).randbytes(size[0] * size[1] * bands))


def marked_exif(orientation: int | None = 6, *, gps: bool = True) -> Image.Exif:
    """EXIF with the device, owner, serial number, times and software (each value holding
    MARKER), an orientation, and a GPS position in London."""
    exif = Image.Exif()
    exif[Base.Make] = "MARKER-Make"
    exif[Base.Model] = "MARKER-Model"
    exif[Base.Artist] = "MARKER-Artist"
    exif[Base.Software] = "MARKER-Software"
    exif[Base.DateTime] = "2024:01:02 03:04:05"
    if orientation is not None:
        exif[Base.Orientation] = orientation
    sub = exif.get_ifd(IFD.Exif)
    sub[Base.DateTimeOriginal] = "2024:01:02 03:04:05"
    sub[Base.BodySerialNumber] = "MARKER-Serial"
    if gps:
        where = exif.get_ifd(IFD.GPSInfo)
        where[GPS.GPSLatitudeRef] = "N"
        where[GPS.GPSLatitude] = (51, 30, 26)
        where[GPS.GPSLongitudeRef] = "W"
        where[GPS.GPSLongitude] = (0, 7, 39)
    return exif


def xmp_packet(body: str) -> bytes:
    return (
        '<?xpacket begin="\ufeff" id="W5M0MpCehiHzreSzNTczkc9d"?>'
        '<x:xmpmeta xmlns:x="adobe:ns:meta/">'
        '<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
        '<rdf:Description rdf:about="" '
        'xmlns:photoshop="http://ns.adobe.com/photoshop/1.0/" '
        'xmlns:exif="http://ns.adobe.com/exif/1.0/" '
        'xmlns:dc="http://purl.org/dc/elements/1.1/" '
        'xmlns:Iptc4xmpExt="http://iptc.org/std/Iptc4xmpExt/2008-02-29/" '
        f"{body}</rdf:RDF></x:xmpmeta>"
        '<?xpacket end="w"?>'
    ).encode()


XMP = xmp_packet(
    'photoshop:City="MARKER-City" exif:GPSLatitude="51,30.4333N" '
    'exif:GPSLongitude="0,7.65W"><dc:creator><rdf:Seq><rdf:li>MARKER-Creator</rdf:li>'
    "</rdf:Seq></dc:creator></rdf:Description>"
)


def encode(im: Image.Image, fmt: str, **options: Any) -> bytes:
    buf = io.BytesIO()
    im.save(buf, fmt, **options)
    return buf.getvalue()


def opened(data: bytes) -> Image.Image:
    _register_heif()
    return Image.open(io.BytesIO(data))


def pixels(data: bytes) -> tuple[str, tuple[int, int], bytes]:
    """The decoded pixels as stored (orientation not applied)."""
    with quiet(), opened(data) as im:
        return im.mode, im.size, im.tobytes()


def shown(data: bytes) -> tuple[str, tuple[int, int], bytes]:
    """The pixels as a viewer shows them: turned the way the file's orientation says."""
    with quiet(), opened(data) as im:
        upright = ImageOps.exif_transpose(im)
        return upright.mode, upright.size, upright.tobytes()


def every_frame(data: bytes) -> list[bytes]:
    with quiet(), opened(data) as im:
        return [frame.convert("RGBA").tobytes() for frame in ImageSequence.Iterator(im)]


@contextlib.contextmanager
def quiet() -> Iterator[None]:
    """Pillow warns about the deliberately broken blocks of originals while decoding them."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


# --- reading the blocks of a file (independently of the module) ---------------------------------

_SCAN_END = re.compile(rb"\xff[^\x00\xd0-\xd7\xff]")


def jpeg_segments(data: bytes) -> tuple[list[tuple[int, int, int, bytes]], bytes]:
    """Every segment as (marker, start, end, payload), a scan's compressed data as marker -1,
    and whatever follows the end of the picture."""
    assert data[:2] == b"\xff\xd8"
    out: list[tuple[int, int, int, bytes]] = [(0xD8, 0, 2, b"")]
    pos = 2
    while True:
        assert data[pos] == 0xFF, f"no marker at byte {pos}"
        marker = data[pos + 1]
        if marker == 0xFF:
            pos += 1
            continue
        if marker == 0xD9:
            out.append((0xD9, pos, pos + 2, b""))
            return out, data[pos + 2 :]
        if 0xD0 <= marker <= 0xD7:
            out.append((marker, pos, pos + 2, b""))
            pos += 2
            continue
        length = int.from_bytes(data[pos + 2 : pos + 4], "big")
        out.append((marker, pos, pos + 2 + length, data[pos + 4 : pos + 2 + length]))
        pos += 2 + length
        if marker == 0xDA:
            m = _SCAN_END.search(data, pos)
            assert m is not None
            out.append((-1, pos, m.start(), data[pos : m.start()]))
            pos = m.start()


def segment(marker: int, payload: bytes) -> bytes:
    return bytes((0xFF, marker)) + (len(payload) + 2).to_bytes(2, "big") + payload


def splice_jpeg(
    data: bytes,
    *,
    head: bytes = b"",
    jfif: bytes | None = None,
    between_scans: bytes = b"",
    trailer: bytes = b"",
) -> bytes:
    """``head`` put just before the first quantisation table, the APP0 JFIF segment replaced by
    ``jfif``, ``between_scans`` put before the last scan, ``trailer`` after the end."""
    segments, _ = jpeg_segments(data)
    out = bytearray(data)
    last_scan = max(start for marker, start, _, _ in segments if marker == 0xDA)
    first_table = min(start for marker, start, _, _ in segments if marker == 0xDB)
    edits: list[tuple[int, int, bytes]] = [(last_scan, last_scan, between_scans)]
    edits.append((first_table, first_table, head))
    if jfif is not None:
        app0 = next(s for s in segments if s[0] == 0xE0)
        edits.append((app0[1], app0[2], segment(0xE0, jfif)))
    for start, end, new in sorted(edits, reverse=True):
        out[start:end] = new
    return bytes(out) + trailer


def png_chunks(data: bytes) -> tuple[list[tuple[bytes, bytes, bool]], bytes]:
    """(type, data, CRC correct) of every chunk, and whatever follows IEND."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    out: list[tuple[bytes, bytes, bool]] = []
    pos = 8
    while True:
        length = int.from_bytes(data[pos : pos + 4], "big")
        kind = data[pos + 4 : pos + 8]
        body = data[pos + 8 : pos + 8 + length]
        crc = int.from_bytes(data[pos + 8 + length : pos + 12 + length], "big")
        out.append((kind, body, zlib.crc32(kind + body) == crc))
        pos += 12 + length
        if kind == b"IEND":
            return out, data[pos:]


def png_chunk(kind: bytes, body: bytes) -> bytes:
    return len(body).to_bytes(4, "big") + kind + body + zlib.crc32(kind + body).to_bytes(4, "big")


def splice_png(data: bytes, *, before_idat: bytes = b"", before_iend: bytes = b"") -> bytes:
    idat = data.index(b"IDAT") - 4
    iend = data.rindex(b"IEND") - 4
    return data[:idat] + before_idat + data[idat:iend] + before_iend + data[iend:]


def riff_chunks(data: bytes) -> list[tuple[bytes, bytes]]:
    assert data[:4] == b"RIFF" and data[8:12] == b"WEBP"
    assert int.from_bytes(data[4:8], "little") == len(data) - 8, "RIFF size"
    out: list[tuple[bytes, bytes]] = []
    pos = 12
    while pos < len(data):
        kind = data[pos : pos + 4]
        length = int.from_bytes(data[pos + 4 : pos + 8], "little")
        out.append((kind, data[pos + 8 : pos + 8 + length]))
        pos += 8 + length + (length & 1)
    assert pos == len(data)
    return out


def riff_chunk(kind: bytes, body: bytes) -> bytes:
    return kind + len(body).to_bytes(4, "little") + body + b"\x00" * (len(body) & 1)


def gif_blocks(data: bytes) -> tuple[list[tuple[str, bytes]], bytes]:
    """("image", b"") and ("ext", label + application id) of each block, and what follows the
    trailer."""
    assert data[:6] in (b"GIF87a", b"GIF89a")
    flags = data[10]
    pos = 13 + ((3 << ((flags & 7) + 1)) if flags & 0x80 else 0)
    out: list[tuple[str, bytes]] = []

    def skip_sub_blocks(p: int) -> int:
        while data[p]:
            p += 1 + data[p]
        return p + 1

    while True:
        introducer = data[pos]
        if introducer == 0x3B:
            return out, data[pos + 1 :]
        if introducer == 0x21:
            label = data[pos + 1]
            ident = data[pos + 3 : pos + 14] if label == 0xFF else b""
            out.append(("ext", bytes([label]) + ident))
            pos = skip_sub_blocks(pos + 2)
        else:
            assert introducer == 0x2C
            local = data[pos + 9]
            pos += 10 + ((3 << ((local & 7) + 1)) if local & 0x80 else 0) + 1
            out.append(("image", b""))
            pos = skip_sub_blocks(pos)


def sub_blocks(data: bytes) -> bytes:
    out = bytearray()
    for i in range(0, len(data), 255):
        part = data[i : i + 255]
        out += bytes([len(part)]) + part
    return bytes(out + b"\x00")


# --- the information blocks planted in generated pictures ----------------------------------------


def iptc_photoshop() -> bytes:
    """An APP13 Photoshop block holding IPTC city and caption, and a caption resource."""
    iim = b"".join(
        b"\x1c\x02" + bytes([dataset]) + len(value).to_bytes(2, "big") + value
        for dataset, value in ((90, b"MARKER-IptcCity"), (120, b"MARKER-Caption"))
    )
    iim += b"\x00" * (len(iim) & 1)
    resource = b"8BIM\x04\x04\x00\x00" + len(iim).to_bytes(4, "big") + iim
    return b"Photoshop 3.0\x00" + resource


def extended_xmp() -> bytes:
    packet = xmp_packet(
        "><Iptc4xmpExt:PersonInImage><rdf:Bag><rdf:li>MARKER-Person</rdf:li></rdf:Bag>"
        "</Iptc4xmpExt:PersonInImage></rdf:Description>"
    )
    guid = hashlib.md5(packet, usedforsecurity=False).hexdigest().upper().encode()
    head = b"http://ns.adobe.com/xmp/extension/\x00" + guid + len(packet).to_bytes(4, "big")
    return head + (0).to_bytes(4, "big") + packet


def loaded_jpeg(*, progressive: bool = False, size: tuple[int, int] = (40, 24)) -> bytes:
    """A JPEG with EXIF (GPS, orientation 6), XMP, extended XMP, IPTC, a JFIF thumbnail, MPF,
    vendor and C2PA blocks, two comments, an ICC profile and data after its end."""
    base = encode(
        noise("RGB", size, 3),
        "JPEG",
        exif=marked_exif(6),
        icc_profile=ICC,
        comment=b"MARKER-Comment",
        xmp=XMP,
        quality=85,
        progressive=progressive,
    )
    head = b"".join(
        (
            segment(0xED, iptc_photoshop()),
            segment(0xE1, extended_xmp()),
            segment(0xE2, b"MPF\x00MM\x00*MARKER-MultiPicture"),
            segment(0xE3, b"MARKER-Vendor"),
            segment(0xEB, b"JP\x00\x00c2pa MARKER-ContentCredentials"),
            segment(0xEF, b"MARKER-App15"),
            segment(0xFE, b"MARKER-SecondComment"),
        )
    )
    thumbnail = b"JFIF\x00\x01\x01\x00\x00\x01\x00\x01" + b"\x02\x01" + bytes(range(6))
    return splice_jpeg(
        base,
        head=head,
        jfif=thumbnail,
        between_scans=segment(0xE4, b"MARKER-BetweenScans") if progressive else b"",
        trailer=b"MARKER-Trailer" * 40,
    )


def loaded_png() -> bytes:
    """A PNG with tEXt, zTXt and iTXt text, XMP, eXIf (GPS, orientation 6), tIME, a private
    chunk and data after IEND, and the colour, transparency and print-size chunks a copy keeps."""
    info = PngImagePlugin.PngInfo()
    info.add_text("Author", "MARKER-Author")
    info.add_text("Comment", "MARKER-Comment", zip=True)
    info.add_itxt("Description", "MARKER-Description", lang="en", tkey="Beschreibung", zip=True)
    info.add_itxt("XML:com.adobe.xmp", XMP.decode())
    data = encode(
        noise("RGB", (31, 17), 4),
        "PNG",
        pnginfo=info,
        exif=marked_exif(6),
        icc_profile=ICC,
        transparency=(1, 2, 3),
        dpi=(300, 300),
    )
    data = splice_png(
        data,
        before_idat=png_chunk(b"prVt", b"MARKER-Private"),
        before_iend=png_chunk(b"tIME", b"\x07\xe8\x01\x02\x03\x04\x05"),
    )
    return data + b"MARKER-Trailer"


def loaded_webp(*, lossless: bool = True) -> bytes:
    """A WebP with EXIF (GPS, orientation 6), XMP, an ICC profile and an unknown chunk."""
    data = encode(
        noise("RGBA" if lossless else "RGB", (29, 19), 5),
        "WEBP",
        lossless=lossless,
        quality=80,
        exif=marked_exif(6),
        xmp=XMP,
        icc_profile=ICC,
    )
    body = data[12:] + riff_chunk(b"MRKR", b"MARKER-Unknown")
    return b"RIFF" + (len(body) + 4).to_bytes(4, "little") + b"WEBP" + body


def gif_xmp(packet: bytes) -> bytes:
    """An XMP application extension as Adobe writes it: the packet raw, then the 258-byte
    "magic trailer" that lets readers skip it as sub-blocks."""
    magic = b"\x01" + bytes(range(255, -1, -1)) + b"\x00"
    return b"!\xff\x0bXMP DataXMP" + packet + magic


def loaded_gif() -> bytes:
    """A three-frame looping GIF with a comment, XMP, a plain-text block, an unknown application
    block and data after its end."""
    frames = [noise("P", (23, 13), seed) for seed in range(3)]
    data = encode(
        frames[0],
        "GIF",
        save_all=True,
        append_images=frames[1:],
        loop=0,
        duration=80,
        comment=b"MARKER-Comment",
    )
    flags = data[10]
    head_end = 13 + ((3 << ((flags & 7) + 1)) if flags & 0x80 else 0)
    plain_text = b"!\x01\x0c" + bytes(12) + sub_blocks(b"MARKER-PlainText")
    unknown_app = b"!\xff\x0bMRKRAPPS1.0" + sub_blocks(b"MARKER-App")
    extra = gif_xmp(XMP) + plain_text + unknown_app
    return data[:head_end] + extra + data[head_end:] + b"MARKER-Trailer"


def loaded_tiff(mode: str = "RGB") -> bytes:
    """A TIFF with make, model, artist, XMP, IPTC, an EXIF IFD (serial number, time), a GPS IFD
    and orientation 6."""
    tags = TiffImagePlugin.ImageFileDirectory_v2()
    tags[Base.Make] = "MARKER-Make"
    tags[Base.Model] = "MARKER-Model"
    tags[Base.Artist] = "MARKER-Artist"
    tags[Base.Orientation] = 6
    tags[700] = XMP
    tags[33723] = b"\x1c\x02\x5a\x00\x0fMARKER-IptcCity"
    tags[IFD.GPSInfo] = {1: "N", 2: (51.0, 30.0, 26.0), 3: "W", 4: (0.0, 7.0, 39.0)}
    tags[IFD.Exif] = {Base.DateTimeOriginal: "2024:01:02 03:04:05", Base.BodySerialNumber: "MARKER"}
    return encode(noise(mode, (27, 15), 6), "TIFF", tiffinfo=tags)


# --- the shared camera samples -------------------------------------------------------------------

SAMPLE_FINDINGS: dict[str, dict[str, Any]] = {
    "camera_canon_40d.jpg": {
        "location": "",
        "device": "Canon EOS 40D",
        "details": {photos.DETAIL_DEVICE, photos.DETAIL_TAKEN, photos.DETAIL_THUMBNAIL},
        "leaks": [b"Canon", b"GIMP"],
    },
    "gps_nikon_DSCN0010.jpg": {
        "location": "43.46745, 11.88513",
        "device": "NIKON COOLPIX P6000",
        "details": {photos.DETAIL_GPS, photos.DETAIL_DEVICE, photos.DETAIL_MAKER_NOTES},
        "leaks": [b"NIKON", b"Nikon", b"COOLPIX"],
    },
    "iphone_IMG_5195.HEIC": {
        "location": "39.05134, -94.28877",
        "device": "Apple iPhone 11 Pro Max",
        "details": {photos.DETAIL_GPS, photos.DETAIL_DEVICE, photos.DETAIL_TAKEN},
        "leaks": [b"iPhone"],
    },
    "malformed_zero_length_string.jpg": {
        "location": "51.02500, 7.59194",
        "device": "samsung SM-G930F",
        "details": {photos.DETAIL_GPS, photos.DETAIL_DEVICE},
        "leaks": [b"samsung", b"SM-G930F"],
    },
    "orientation_6.jpg": {
        "location": "",
        "device": "",
        "details": set(),
        "leaks": [],
    },
    "xmp_no_exif.jpg": {
        "location": "",
        "device": "",
        "details": {photos.DETAIL_OWNER, photos.DETAIL_TAKEN, photos.DETAIL_SOFTWARE},
        "leaks": [b"xpacket", b"adobe:ns:meta", b"http://ns.adobe.com"],
    },
}
GPS_IFD_ENTRY = (b"\x88\x25\x00\x04", b"\x25\x88\x04\x00")  # tag 0x8825, type LONG, either order


@needs_samples
def test_every_sample_is_in_the_table() -> None:
    assert sorted(p.name for p in SAMPLES.iterdir()) == sorted(SAMPLE_FINDINGS)


@needs_samples
def test_the_nikon_sample_loses_its_gps_and_camera_and_keeps_its_pixels() -> None:
    path = SAMPLES / "gps_nikon_DSCN0010.jpg"
    before = sha256(path)
    finding = inspect(path)
    assert finding.has_location and finding.location == "43.46745, 11.88513"
    assert "NIKON" in finding.device and "COOLPIX P6000" in finding.device
    assert {photos.DETAIL_GPS, photos.DETAIL_DEVICE} <= set(finding.details)

    copy = clean(path, path.name)
    with opened(copy.data) as im:
        exif = im.getexif()
        assert not exif and not exif.get_ifd(IFD.GPSInfo)
        assert Base.Make not in exif and Base.Model not in exif
    assert b"nikon" not in copy.data.lower()
    assert b"Exif\x00" not in copy.data
    assert not any(entry in copy.data for entry in GPS_IFD_ENTRY)
    original = path.read_bytes()
    assert any(entry in original for entry in GPS_IFD_ENTRY)  # the scan above can find it
    assert pixels(copy.data) == pixels(original)
    assert sha256(path) == before
    assert copy.name == path.name and copy.media_type == "image/jpeg"
    assert photos.DETAIL_GPS in copy.removed and photos.KEPT_PICTURE in copy.kept
    assert not inspect(copy.data).reveals


@needs_samples
@pytest.mark.parametrize("name", sorted(SAMPLE_FINDINGS))
def test_shared_sample(name: str) -> None:
    expected = SAMPLE_FINDINGS[name]
    path = SAMPLES / name
    before = sha256(path)
    finding = inspect(path)
    assert finding.path == name and not finding.warnings
    assert finding.location == expected["location"]
    assert finding.has_location == bool(expected["location"])
    assert finding.device == expected["device"]
    assert expected["details"] <= set(finding.details)
    assert finding.reveals == bool(expected["details"])

    copy = clean(path, name)
    again = inspect(copy.data, copy.name)
    assert not again.reveals and not again.has_location and not again.warnings
    for leak in expected["leaks"]:
        assert leak in path.read_bytes() and leak not in copy.data
    assert pixels(copy.data) == pixels(path.read_bytes())
    assert shown(copy.data) == shown(path.read_bytes())
    assert set(copy.removed) == set(finding.details)
    assert sha256(path) == before
    if name.endswith(".HEIC"):
        assert (copy.name, copy.media_type) == ("iphone_IMG_5195.png", "image/png")
        assert "PNG" in copy.method
        chunks, trailer = png_chunks(copy.data)
        assert {kind for kind, _, _ in chunks} <= {b"IHDR", b"iCCP", b"IDAT", b"IEND"}
        assert trailer == b""
    else:
        assert (copy.name, copy.media_type) == (name, "image/jpeg")
        assert "not compressed again" in copy.method


@needs_samples
def test_the_sideways_sample_stays_sideways() -> None:
    path = SAMPLES / "orientation_6.jpg"
    copy = clean(path, path.name)
    with opened(copy.data) as im:
        assert dict(im.getexif()) == {Base.Orientation: 6}
    assert photos.KEPT_ORIENTATION in copy.kept
    assert shown(copy.data) == shown(path.read_bytes())
    assert shown(copy.data)[1] == (450, 600)


# --- JPEG ----------------------------------------------------------------------------------------

JPEG_PICTURE_SEGMENTS = {0xD8, 0xDB, 0xC0, 0xC2, 0xC4, 0xDD, 0xDA, -1, 0xD9, *range(0xD0, 0xD8)}


def check_jpeg_copy(original: bytes, copy: CleanedPhoto, orientation: int) -> None:
    """The copy holds only picture segments, JFIF without a thumbnail, the ICC profile, the
    Adobe block and an EXIF block holding only the orientation; its tables and compressed data
    are the original's, byte for byte; it shows the same picture the same way up."""
    assert MARK not in copy.data
    segments, trailer = jpeg_segments(copy.data)
    assert trailer == b""
    markers = [m for m, _, _, _ in segments]
    assert set(markers) <= JPEG_PICTURE_SEGMENTS | {0xE0, 0xE1, 0xE2, 0xEE}
    for marker, _, _, payload in segments:
        if marker == 0xE0:
            assert payload.startswith(b"JFIF\x00") and payload[12:] == b"\x00\x00"
        elif marker == 0xE1:
            assert payload.startswith(b"Exif\x00\x00")
        elif marker == 0xE2:
            assert payload.startswith(b"ICC_PROFILE\x00")
        elif marker == 0xEE:
            assert payload.startswith(b"Adobe")
    assert markers.count(0xE1) == (orientation != 1)
    with opened(copy.data) as im:
        assert dict(im.getexif()) == ({} if orientation == 1 else {Base.Orientation: orientation})
    old, _ = jpeg_segments(original)
    picture_parts = [(m, p) for m, _, _, p in old if m in JPEG_PICTURE_SEGMENTS]
    assert [(m, p) for m, _, _, p in segments if m in JPEG_PICTURE_SEGMENTS] == picture_parts
    assert pixels(copy.data) == pixels(original)
    assert shown(copy.data) == shown(original)


@pytest.mark.parametrize("progressive", [False, True], ids=["baseline", "progressive"])
def test_a_jpeg_loses_every_information_block(progressive: bool) -> None:
    data = loaded_jpeg(progressive=progressive)
    finding = inspect(data, "holiday.jpg")
    assert finding.media_type == "image/jpeg" and not finding.warnings
    assert finding.location == LONDON and finding.has_location
    assert finding.device == "MARKER-Make MARKER-Model"
    expected = {
        photos.DETAIL_GPS,
        photos.DETAIL_PLACE,
        photos.DETAIL_PEOPLE,
        photos.DETAIL_DEVICE,
        photos.DETAIL_SERIAL,
        photos.DETAIL_OWNER,
        photos.DETAIL_TAKEN,
        photos.DETAIL_CHANGED,
        photos.DETAIL_THUMBNAIL,
        photos.DETAIL_EXTRA_PICTURES,
        photos.DETAIL_TRAILER,
        photos.DETAIL_SOFTWARE,
        photos.DETAIL_COMMENTS,
        photos.DETAIL_OTHER,
    }
    assert expected <= set(finding.details)
    assert list(finding.details) == [d for d in photos.DETAIL_ORDER if d in finding.details]

    copy = clean(data, "holiday.jpg")
    check_jpeg_copy(data, copy, 6)
    assert set(copy.removed) == set(finding.details)
    assert copy.kept == (photos.KEPT_PICTURE, photos.KEPT_ORIENTATION, photos.KEPT_COLOUR)
    with opened(copy.data) as im:
        assert im.info["icc_profile"] == ICC
    scans = [m for m, *_ in jpeg_segments(copy.data)[0] if m == 0xDA]
    assert len(scans) == (10 if progressive else 1)  # every scan is there (checked above too)


def test_a_jpeg_colour_profile_in_several_segments_is_kept_whole() -> None:
    big_profile = ICC + bytes(150_000)
    data = encode(noise("RGB", (16, 16), 7), "JPEG", icc_profile=big_profile, exif=marked_exif(1))
    assert data.count(b"ICC_PROFILE\x00") == 3
    copy = clean(data, "colour.jpg")
    assert copy.data.count(b"ICC_PROFILE\x00") == 3
    with opened(copy.data) as im:
        assert im.info["icc_profile"] == big_profile
    check_jpeg_copy(data, copy, 1)


def test_a_jpeg_with_restart_markers_keeps_them() -> None:
    data = encode(noise("RGB", (64, 48), 8), "JPEG", restart_marker_rows=1, exif=marked_exif(3))
    copy = clean(data, "restart.jpg")
    scans = [p for m, _, _, p in jpeg_segments(copy.data)[0] if m == -1]
    assert any(re.search(rb"\xff[\xd0-\xd7]", scan) for scan in scans)
    check_jpeg_copy(data, copy, 3)


def test_only_the_first_exif_block_says_which_way_up() -> None:
    """Viewers read the first EXIF block only: a second one saying "turned" must not turn the
    copy."""
    first = encode(noise("RGB", (24, 16), 10), "JPEG", exif=marked_exif(None))
    second = segment(0xE1, b"Exif\x00\x00" + marked_exif(6, gps=False).tobytes())
    data = splice_jpeg(first, head=second)
    with opened(data) as im:
        assert im.getexif().get(Base.Orientation) is None
    copy = clean(data, "two.jpg")
    assert photos.KEPT_ORIENTATION not in copy.kept
    check_jpeg_copy(data, copy, 1)


def test_a_cmyk_jpeg_keeps_its_adobe_block() -> None:
    data = encode(noise("CMYK", (20, 12), 9), "JPEG", exif=marked_exif(8))
    copy = clean(data, "print.jpg")
    assert photos.KEPT_COLOUR_SETTINGS in copy.kept
    assert any(m == 0xEE for m, *_ in jpeg_segments(copy.data)[0])
    check_jpeg_copy(data, copy, 8)


# --- random JPEGs (hypothesis) -------------------------------------------------------------------

_TEXT = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789 .-", max_size=16).map(
    lambda s: "MARKER" + s
)
_IFD0_TEXT: list[int] = [Base.Make, Base.Model, Base.Artist, Base.Software, Base.Copyright]
_EXIF_TEXT: list[int] = [
    Base.BodySerialNumber,
    Base.CameraOwnerName,
    Base.LensModel,
    Base.ImageUniqueID,
]


@st.composite
def jpegs_with_metadata(draw: st.DrawFn) -> tuple[bytes, int, str]:
    """A small JPEG (random pixels, mode, size and encoding) with random metadata whose values
    all hold MARKER: the bytes, its orientation and its expected location."""
    mode = draw(st.sampled_from(["L", "RGB", "CMYK"]))
    size = (draw(st.integers(1, 48)), draw(st.integers(1, 48)))
    options: dict[str, Any] = {"quality": draw(st.integers(5, 100))}
    if mode == "RGB":
        options["subsampling"] = draw(st.sampled_from([0, 1, 2]))
    options["progressive"] = draw(st.booleans())
    options["optimize"] = draw(st.booleans())
    if draw(st.booleans()):
        options["restart_marker_blocks"] = draw(st.integers(1, 3))
    exif = Image.Exif()
    for tag, value in draw(st.dictionaries(st.sampled_from(_IFD0_TEXT), _TEXT, max_size=4)).items():
        exif[tag] = value
    sub = draw(st.dictionaries(st.sampled_from(_EXIF_TEXT), _TEXT, max_size=3))
    if sub:
        exif.get_ifd(IFD.Exif).update(sub)
    orientation = draw(st.sampled_from([None, 1, 2, 3, 4, 5, 6, 7, 8]))
    if orientation is not None:
        exif[Base.Orientation] = orientation
    location = ""
    if draw(st.booleans()):
        lat = (draw(st.integers(0, 89)), draw(st.integers(0, 59)), draw(st.integers(0, 59)))
        lon = (draw(st.integers(0, 179)), draw(st.integers(0, 59)), draw(st.integers(0, 59)))
        assume(any(lat) or any(lon))
        south, west = draw(st.booleans()), draw(st.booleans())
        where = exif.get_ifd(IFD.GPSInfo)
        where.update({1: "S" if south else "N", 2: lat, 3: "W" if west else "E", 4: lon})
        lat_value = lat[0] + lat[1] / 60 + lat[2] / 3600
        lon_value = lon[0] + lon[1] / 60 + lon[2] / 3600
        location = (
            f"{-lat_value if south else lat_value:.5f}, {-lon_value if west else lon_value:.5f}"
        )
    if len(exif) or location:
        options["exif"] = exif
    if draw(st.booleans()):
        options["xmp"] = xmp_packet(f'photoshop:City="{draw(_TEXT)}"/>')
    if draw(st.booleans()):
        options["comment"] = draw(_TEXT).encode()
    if draw(st.booleans()):
        options["icc_profile"] = ICC
    seed = draw(st.integers(0, 2**32 - 1))
    data = encode(noise(mode, size, seed), "JPEG", **options)
    vendor = draw(
        st.lists(
            st.tuples(
                st.sampled_from([0xE3, 0xE5, 0xE9, 0xEA, 0xEB, 0xEC, 0xEF, 0xFE]), st.binary()
            ),
            max_size=3,
        )
    )
    head = b"".join(segment(marker, MARK + payload) for marker, payload in vendor)
    trailer = (MARK + draw(st.binary(max_size=64))) if draw(st.booleans()) else b""
    return splice_jpeg(data, head=head, trailer=trailer), orientation or 1, location


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(jpegs_with_metadata())
def test_random_jpegs_lose_all_their_metadata_and_keep_their_pixels(
    case: tuple[bytes, int, str],
) -> None:
    data, orientation, location = case
    finding = inspect(data, "random.jpg")
    assert not finding.warnings
    assert finding.location == location and finding.has_location == bool(location)
    assert finding.reveals == (MARK in data)
    copy = clean(data, "random.jpg")
    check_jpeg_copy(data, copy, orientation)
    again = inspect(copy.data, copy.name)
    assert not again.reveals and not again.has_location and not again.warnings


# --- PNG, WebP, GIF, TIFF, HEIC ------------------------------------------------------------------


def test_a_png_loses_its_text_exif_time_and_private_chunks() -> None:
    data = loaded_png()
    finding = inspect(data, "screen.png")
    assert finding.media_type == "image/png" and finding.location == LONDON
    assert {
        photos.DETAIL_GPS,
        photos.DETAIL_PLACE,
        photos.DETAIL_DEVICE,
        photos.DETAIL_SERIAL,
        photos.DETAIL_OWNER,
        photos.DETAIL_TAKEN,
        photos.DETAIL_CHANGED,
        photos.DETAIL_TRAILER,
        photos.DETAIL_SOFTWARE,
        photos.DETAIL_COMMENTS,
        photos.DETAIL_OTHER,
    } <= set(finding.details)

    copy = clean(data, "screen.png")
    assert MARK not in copy.data and b"xpacket" not in copy.data
    chunks, trailer = png_chunks(copy.data)
    assert trailer == b""
    assert all(crc_ok for _, _, crc_ok in chunks)
    kinds = [kind for kind, _, _ in chunks]
    assert set(kinds) == {b"IHDR", b"iCCP", b"pHYs", b"tRNS", b"eXIf", b"IDAT", b"IEND"}
    assert kinds.index(b"eXIf") < kinds.index(b"IDAT")
    original_chunks = {kind: body for kind, body, _ in png_chunks(data)[0]}
    for kind, body, _ in chunks:
        if kind != b"eXIf":
            assert body == original_chunks[kind]  # copied unchanged
    with opened(copy.data) as im:
        assert dict(im.getexif()) == {Base.Orientation: 6}
        assert im.info["icc_profile"] == ICC and im.info["transparency"] == (1, 2, 3)
    assert pixels(copy.data) == pixels(data)
    assert shown(copy.data) == shown(data)
    assert copy.kept == (
        photos.KEPT_PICTURE,
        photos.KEPT_COLOUR,
        photos.KEPT_TRANSPARENCY,
        photos.KEPT_ORIENTATION,
    )


def test_an_animated_png_keeps_every_frame() -> None:
    frames = [noise("RGB", (12, 10), seed) for seed in range(3)]
    info = PngImagePlugin.PngInfo()
    info.add_text("Comment", "MARKER-Comment")
    data = encode(frames[0], "PNG", save_all=True, append_images=frames[1:], pnginfo=info)
    copy = clean(data, "moving.png")
    assert MARK not in copy.data
    assert every_frame(copy.data) == every_frame(data) and len(every_frame(data)) == 3
    assert photos.KEPT_ANIMATION in copy.kept


@pytest.mark.parametrize("lossless", [True, False], ids=["lossless", "lossy"])
def test_a_webp_loses_its_exif_xmp_and_unknown_chunks(lossless: bool) -> None:
    data = loaded_webp(lossless=lossless)
    finding = inspect(data, "shared.webp")
    assert finding.media_type == "image/webp" and finding.location == LONDON
    assert {photos.DETAIL_GPS, photos.DETAIL_PLACE, photos.DETAIL_DEVICE} <= set(finding.details)
    assert photos.DETAIL_OTHER in finding.details  # the unknown chunk

    copy = clean(data, "shared.webp")
    assert MARK not in copy.data and b"xpacket" not in copy.data
    chunks = riff_chunks(copy.data)  # checks the RIFF size too
    kinds = [kind for kind, _ in chunks]
    assert kinds == [b"VP8X", b"ICCP", b"VP8L" if lossless else b"VP8 ", b"EXIF"]
    flags = chunks[0][1][0]
    assert flags & 0x04 == 0  # no XMP
    assert flags & 0x08 and flags & 0x20  # EXIF (the orientation) and the colour profile
    with opened(copy.data) as im:
        assert dict(im.getexif()) == {Base.Orientation: 6}
        assert im.info["icc_profile"] == ICC
    assert pixels(copy.data) == pixels(data)
    assert shown(copy.data) == shown(data)


def test_an_animated_webp_keeps_every_frame() -> None:
    frames = [noise("RGB", (12, 10), seed) for seed in range(3)]
    data = encode(
        frames[0], "WEBP", save_all=True, append_images=frames[1:], lossless=True, xmp=XMP
    )
    copy = clean(data, "moving.webp")
    assert MARK not in copy.data
    assert every_frame(copy.data) == every_frame(data) and len(every_frame(data)) == 3
    assert photos.KEPT_ANIMATION in copy.kept


def test_a_gif_loses_its_comment_xmp_plain_text_and_unknown_blocks() -> None:
    data = loaded_gif()
    finding = inspect(data, "reaction.gif")
    assert finding.media_type == "image/gif" and not finding.warnings
    assert {
        photos.DETAIL_GPS,
        photos.DETAIL_PLACE,
        photos.DETAIL_OWNER,
        photos.DETAIL_TRAILER,
        photos.DETAIL_COMMENTS,
        photos.DETAIL_OTHER,
    } <= set(finding.details)

    copy = clean(data, "reaction.gif")
    assert MARK not in copy.data and b"XMP DataXMP" not in copy.data
    blocks, trailer = gif_blocks(copy.data)
    assert trailer == b""
    labels = {ident for kind, ident in blocks if kind == "ext"}
    assert labels <= {b"\xf9", b"\xffNETSCAPE2.0"}
    assert b"\xffNETSCAPE2.0" in labels
    assert [kind for kind, _ in blocks].count("image") == 3
    with opened(copy.data) as im:
        assert im.info["loop"] == 0 and getattr(im, "n_frames", 1) == 3
    assert every_frame(copy.data) == every_frame(data)
    assert pixels(copy.data) == pixels(data)
    assert photos.KEPT_ANIMATION in copy.kept


def test_a_tiff_becomes_a_png_with_the_same_pixels() -> None:
    data = loaded_tiff()
    finding = inspect(data, "scan.tif")
    assert finding.media_type == "image/tiff" and finding.location == LONDON
    assert finding.device == "MARKER-Make MARKER-Model"
    assert {
        photos.DETAIL_GPS,
        photos.DETAIL_PLACE,
        photos.DETAIL_DEVICE,
        photos.DETAIL_SERIAL,
        photos.DETAIL_OWNER,
        photos.DETAIL_TAKEN,
    } <= set(finding.details)

    copy = clean(data, "scan.tif")
    assert (copy.name, copy.media_type) == ("scan.png", "image/png")
    assert "PNG" in copy.method
    assert MARK not in copy.data and b"xpacket" not in copy.data
    assert pixels(copy.data) == pixels(data)
    assert shown(copy.data) == shown(data)
    assert not inspect(copy.data).reveals


def test_a_tiff_png_cannot_hold_stays_a_tiff() -> None:
    data = loaded_tiff("CMYK")
    copy = clean(data, "print.tiff")
    assert (copy.name, copy.media_type) == ("print.tiff", "image/tiff")
    assert MARK not in copy.data
    assert pixels(copy.data) == pixels(data)


def test_a_tiff_of_several_pages_is_not_copied() -> None:
    pages = [noise("RGB", (8, 8), seed) for seed in range(2)]
    data = encode(pages[0], "TIFF", save_all=True, append_images=pages[1:])
    with pytest.raises(PhotoCheckError) as caught:
        clean(data, "pages.tif")
    assert "2 pictures" in caught.value.message and caught.value.hint


def test_a_heic_becomes_a_png_with_the_same_pixels() -> None:
    _register_heif()
    data = encode(noise("RGB", (32, 24), 10), "HEIF", exif=marked_exif(6).tobytes(), xmp=XMP)
    finding = inspect(data, "IMG_0001.HEIC")
    assert finding.media_type == "image/heic" and finding.location == LONDON
    assert {photos.DETAIL_GPS, photos.DETAIL_PLACE, photos.DETAIL_SERIAL} <= set(finding.details)
    copy = clean(data, "IMG_0001.HEIC")
    assert (copy.name, copy.media_type) == ("IMG_0001.png", "image/png")
    assert MARK not in copy.data
    assert pixels(copy.data) == pixels(data)
    assert shown(copy.data) == shown(data)


def test_the_type_comes_from_the_contents_not_the_name() -> None:
    data = encode(noise("RGB", (9, 9), 11), "PNG", exif=marked_exif(1))
    finding = inspect(data, "holiday.jpg")
    assert finding.media_type == "image/png" and finding.location == LONDON
    copy = clean(data, "holiday.jpg")
    assert (copy.name, copy.media_type) == ("holiday.png", "image/png")


def test_a_picture_without_information_reveals_nothing() -> None:
    data = encode(noise("RGB", (9, 9), 12), "PNG")
    finding = inspect(data, "plain.png")
    assert finding == PhotoFinding(path="plain.png", media_type="image/png")
    assert not finding.reveals
    copy = clean(data, "plain.png")
    assert copy.removed == () and copy.data == data


# --- damaged and unexpected input ---------------------------------------------------------------


def test_a_cut_short_jpeg_is_reported_and_not_copied() -> None:
    data = encode(noise("RGB", (64, 64), 13), "JPEG", exif=marked_exif(1), quality=95)
    cut = data[: len(data) * 2 // 3]
    finding = inspect(cut, "cut.jpg")
    assert photos.WARN_CUT_SHORT in finding.warnings
    assert finding.location == LONDON  # what could be read is still shown
    with pytest.raises(PhotoCheckError) as caught:
        clean(cut, "cut.jpg")
    error = caught.value
    assert error.code == "photo_check_failed"
    assert error.message and error.cause and error.hint
    assert "not been changed" in error.hint


def test_damaged_exif_is_noted_and_still_taken_out() -> None:
    base = encode(noise("RGB", (16, 16), 14), "JPEG")
    broken = segment(0xE1, b"Exif\x00\x00MM\x00*\x00\x00\x00\x08\xff\xffMARKER")
    data = splice_jpeg(base, head=broken)
    finding = inspect(data, "odd.jpg")
    assert photos.DETAIL_UNREADABLE in finding.details
    assert photos.WARN_DAMAGED in finding.warnings
    copy = clean(data, "odd.jpg")
    check_jpeg_copy(data, copy, 1)


def test_a_damaged_xmp_packet_is_still_read_and_quickly() -> None:
    broken = b"<x:xmpmeta><rdf:Description photoshop:City='MARKER-City'><dc:creator>MARKER"
    data = splice_jpeg(
        encode(noise("RGB", (8, 8), 15), "JPEG"),
        head=segment(0xE1, b"http://ns.adobe.com/xap/1.0/\x00" + broken),
    )
    finding = inspect(data, "xmp.jpg")
    assert {photos.DETAIL_PLACE, photos.DETAIL_OWNER, photos.DETAIL_UNREADABLE} <= set(
        finding.details
    )
    # Packets made to be slow to read: a damaged packet is searched for "prefix:name" with
    # patterns whose time must grow with the packet's length, not its square (the first took
    # 13 seconds for each block before the reader was changed).
    slow = [b"<x " + b" a:b" * 16_000, b"<x " + b"a" * 65_000, b"<x " + b"<a:b" * 16_000]
    data = splice_jpeg(
        encode(noise("RGB", (8, 8), 15), "JPEG"),
        head=b"".join(segment(0xE1, b"http://ns.adobe.com/xap/1.0/\x00" + s) for s in slow * 3),
    )
    started = time.monotonic()
    finding = inspect(data, "slow.jpg")
    assert time.monotonic() - started < 2
    assert photos.DETAIL_UNREADABLE in finding.details


def test_a_file_that_is_not_a_picture_gets_a_warning_not_a_crash() -> None:
    finding = inspect(b"Dear diary, this is not a picture.", "notes.jpg")
    assert finding.media_type == "text/plain"
    assert not finding.reveals and len(finding.warnings) == 1
    assert "cannot look inside" in finding.warnings[0]
    with pytest.raises(PhotoCheckError) as caught:
        clean(b"Dear diary, this is not a picture.", "notes.jpg")
    assert "cannot copy this kind of file" in caught.value.message
    with pytest.raises(PhotoCheckError):
        clean(b"", "empty.jpg")


def test_a_copy_that_would_still_hold_something_unknown_is_refused() -> None:
    """A chunk PNG readers must understand (its name starts with a capital) is kept in a copy,
    since leaving it out could change the picture; the check of the copy finds it, so no copy
    is handed back."""
    data = splice_png(
        encode(noise("RGB", (8, 8), 16), "PNG"), before_idat=png_chunk(b"MRKr", b"MARKER")
    )
    assert pixels(data)  # Pillow still reads the picture
    with pytest.raises(PhotoCheckError) as caught:
        clean(data, "odd.png")
    assert "could not take all the information out" in caught.value.message
    assert photos.DETAIL_OTHER in (caught.value.cause or "")


def test_the_pixel_check_compares_every_frame_of_an_animation() -> None:
    frames = [Image.new("RGB", (10, 10), colour) for colour in ("red", "green", "blue")]
    one = encode(frames[0], "GIF", save_all=True, append_images=frames[1:])
    other = encode(frames[0], "GIF", save_all=True, append_images=[frames[1], frames[0]])
    a = photos._decode(one, "one.gif", every_frame=True)
    b = photos._decode(other, "other.gif", every_frame=True)
    assert a.same(b) and a.frames == b.frames == 3  # the first frames are the same
    assert a.every_frame != b.every_frame
    assert photos._decode(one, "one.gif", every_frame=True) == a


_SEEDS: list[bytes] = []


def damage_seeds() -> list[bytes]:
    if not _SEEDS:
        _SEEDS.extend(
            [
                loaded_jpeg(size=(16, 16)),
                loaded_jpeg(progressive=True, size=(16, 16)),
                loaded_png(),
                loaded_webp(),
                loaded_gif(),
                loaded_tiff(),
            ]
        )
    return _SEEDS


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.integers(0, 5),
    cut=st.one_of(st.just(1.0), st.floats(0.05, 1.0)),
    changes=st.lists(st.tuples(st.floats(0, 1, exclude_max=True), st.integers(0, 255)), max_size=8),
)
def test_damaged_pictures_never_crash_and_their_copies_hold_nothing_readable(
    seed: int, cut: float, changes: list[tuple[float, int]]
) -> None:
    """Whatever the damage, checking gives a finding and copying gives a copy or a reason. A
    copy must check as holding nothing and show the same pixels. (The planted text itself may
    survive: damage can move it into the picture data, where every viewer draws it as
    colours. A GIF whose colour-table size byte is changed swallows its comment that way.)"""
    data = bytearray(damage_seeds()[seed])
    for where, value in changes:
        data[int(where * len(data))] = value
    damaged = bytes(data[: max(1, int(cut * len(data)))])
    finding = inspect(damaged, "damaged")
    assert isinstance(finding, PhotoFinding)
    try:
        copy = clean(damaged, "damaged")
    except PhotoCheckError as error:
        assert error.message and error.cause and error.hint
        return
    again = inspect(copy.data, copy.name)
    assert not again.reveals and not again.warnings
    assert pixels(copy.data) == pixels(damaged)


# --- very large files ----------------------------------------------------------------------------


def sparse(path: Path, head: bytes, size: int, tail: bytes = b"") -> Path:
    """A file of ``size`` bytes that takes almost no disk: ``head``, a hole, then ``tail``."""
    with path.open("wb") as f:
        f.write(head)
        f.seek(size - len(tail))
        f.write(tail)
        f.truncate(size)
    assert path.stat().st_size == size
    return path


def peak_memory(call: Any) -> tuple[Any, int]:
    tracemalloc.start()
    try:
        result = call()
        return result, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_large_files_are_checked_without_reading_them_whole(tmp_path: Path) -> None:
    jpeg = encode(noise("RGB", (8, 8), 17), "JPEG", exif=marked_exif(1))
    segments, _ = jpeg_segments(jpeg)
    scan_start = next(end for m, _, end, _ in segments if m == 0xDA)
    big_jpeg = sparse(tmp_path / "big.jpg", jpeg[:scan_start], 96 << 20, b"\xff\xd9")
    png = encode(noise("RGB", (8, 8), 17), "PNG")
    huge = 1500 << 20
    idat = (huge - 45 - 12).to_bytes(4, "big") + b"IDAT"
    big_png = sparse(tmp_path / "big.png", png[:33] + idat, huge, png[-12:])
    heic = b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic"
    big_heic = sparse(tmp_path / "big.heic", heic, MAX_WHOLE_READ + 1)

    finding, peak = peak_memory(lambda: inspect(big_jpeg))
    assert finding.location == LONDON and not finding.warnings
    assert peak < 8 << 20
    finding, peak = peak_memory(lambda: inspect(big_png))
    assert finding.media_type == "image/png" and not finding.warnings
    assert peak < 1 << 20
    finding, peak = peak_memory(lambda: inspect(big_heic))
    assert "too large for Docket to look inside" in finding.warnings[0]
    assert peak < 1 << 20
    findings, peak = peak_memory(lambda: list(scan_folder(tmp_path)))
    assert [f.path for f in findings] == ["big.heic", "big.jpg", "big.png"]
    assert peak < 8 << 20

    # A copy is made in memory, so only of pictures up to MAX_CLEAN; larger ones are not read.
    with pytest.raises(PhotoCheckError) as caught:
        peak_memory(lambda: clean(big_png, "big.png"))
    assert "too large" in caught.value.message
    big_jpeg.unlink()
    results, peak = peak_memory(lambda: clean_folder(tmp_path, tmp_path.parent / "copies"))
    assert peak < 1 << 20
    assert [r.path for r in results] == ["big.heic", "big.png"]
    assert all("too large" in r.reason and not r.written for r in results)


# --- folders -------------------------------------------------------------------------------------

PICTURES_IN_FOLDER = [
    "a.jpg",
    "b.png",
    "broken.jpg",
    "fake.jpg",
    "trips/e.gif",
    "trips/scan.tif",
    "trips/2024/d.webp",
]


def photo_folder(root: Path) -> Path:
    """Pictures (some with information, one cut short, one not a picture at all) in nested
    folders, with hidden files, a hidden folder, a link and other files beside them."""
    src = root / "photos"
    (src / "trips" / "2024").mkdir(parents=True)
    (src / ".private").mkdir()
    (src / "a.jpg").write_bytes(
        encode(noise("RGB", (20, 10), 20), "JPEG", exif=marked_exif(6), xmp=XMP)
    )
    (src / "b.png").write_bytes(loaded_png())
    full = encode(noise("RGB", (48, 48), 21), "JPEG", exif=marked_exif(1), quality=95)
    (src / "broken.jpg").write_bytes(full[: len(full) // 2])
    (src / "fake.jpg").write_text("this is a note, not a picture")
    (src / "notes.txt").write_text("MARKER notes")
    (src / "report.pdf").write_bytes(b"%PDF-1.4\n% MARKER\n")
    (src / ".hidden.jpg").write_bytes((src / "a.jpg").read_bytes())
    (src / ".private" / "c.jpg").write_bytes((src / "a.jpg").read_bytes())
    (src / "link.jpg").symlink_to(src / "a.jpg")
    (src / "trips" / "e.gif").write_bytes(loaded_gif())
    (src / "trips" / "scan.tif").write_bytes(loaded_tiff())
    (src / "trips" / "2024" / "d.webp").write_bytes(loaded_webp())
    return src


def snapshot(folder: Path) -> dict[str, tuple[str, int, int]]:
    """Every file and link under ``folder``: its hash, size and modification time."""
    out: dict[str, tuple[str, int, int]] = {}
    for path in sorted(folder.rglob("*")):
        info = path.lstat()
        if stat.S_ISREG(info.st_mode):
            out[str(path.relative_to(folder))] = (sha256(path), info.st_size, info.st_mtime_ns)
        else:
            out[str(path.relative_to(folder))] = ("", info.st_mode, info.st_mtime_ns)
    return out


def test_scan_folder_checks_pictures_only(tmp_path: Path) -> None:
    src = photo_folder(tmp_path)
    findings = list(scan_folder(src))
    assert [f.path for f in findings] == PICTURES_IN_FOLDER
    by_path = {f.path: f for f in findings}
    assert by_path["a.jpg"].location == LONDON and by_path["a.jpg"].media_type == "image/jpeg"
    assert by_path["trips/scan.tif"].has_location and by_path["trips/2024/d.webp"].has_location
    assert photos.WARN_CUT_SHORT in by_path["broken.jpg"].warnings
    assert "does not recognise what is inside" in by_path["fake.jpg"].warnings[0]
    assert not by_path["fake.jpg"].reveals
    assert [f.path for f in scan_folder(src, recursive=False)] == PICTURES_IN_FOLDER[:4]


def test_clean_folder_writes_copies_in_the_same_layout(tmp_path: Path) -> None:
    src = photo_folder(tmp_path)
    before = snapshot(src)
    out = tmp_path / "to post"
    results = clean_folder(src, out)
    assert all(isinstance(r, CleanResult) for r in results)
    assert [r.path for r in results] == PICTURES_IN_FOLDER
    by_path = {r.path: r for r in results}
    expected = {
        "a.jpg": out / "a.jpg",
        "b.png": out / "b.png",
        "trips/e.gif": out / "trips" / "e.gif",
        "trips/scan.tif": out / "trips" / "scan.png",
        "trips/2024/d.webp": out / "trips" / "2024" / "d.webp",
    }
    for relative, path in expected.items():
        result = by_path[relative]
        assert result.written and result.output == path.resolve() and not result.reason
        assert result.method and photos.KEPT_PICTURE in result.kept and result.removed
        copy = path.read_bytes()
        assert MARK not in copy
        assert not inspect(path).reveals
        assert pixels(copy) == pixels((src / relative).read_bytes())
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
    for relative in ("broken.jpg", "fake.jpg"):
        assert not by_path[relative].written and by_path[relative].reason
    assert "damaged" in by_path["broken.jpg"].reason
    written = sorted(str(p.relative_to(out)) for p in out.rglob("*") if p.is_file())
    assert written == sorted(str(p.relative_to(out.resolve())) for p in expected.values())
    assert snapshot(src) == before


def test_clean_folder_never_replaces_a_file(tmp_path: Path) -> None:
    src = tmp_path / "photos"
    src.mkdir()
    (src / "a.jpg").write_bytes(encode(noise("RGB", (8, 8), 22), "JPEG", exif=marked_exif(1)))
    out = tmp_path / "out"
    out.mkdir()
    (out / "a.jpg").write_bytes(b"someone else's file")
    first = clean_folder(src, out)
    second = clean_folder(src, out)
    assert (out / "a.jpg").read_bytes() == b"someone else's file"
    assert first[0].output == (out / "a (cleaned 2).jpg").resolve()
    assert second[0].output == (out / "a (cleaned 3).jpg").resolve()
    assert (out / "a (cleaned 2).jpg").read_bytes() == (out / "a (cleaned 3).jpg").read_bytes()
    assert not [p for p in out.iterdir() if p.name.startswith(".")]  # no temporary files left


def test_two_originals_that_make_the_same_copy_name_both_get_written(tmp_path: Path) -> None:
    src = tmp_path / "photos"
    src.mkdir()
    (src / "scan.png").write_bytes(encode(noise("RGB", (8, 8), 23), "PNG"))
    (src / "scan.tif").write_bytes(loaded_tiff())
    results = clean_folder(src, tmp_path / "out")
    assert [r.output.name if r.output else "" for r in results] == [
        "scan.png",
        "scan (cleaned 2).png",
    ]


def refusal(src: Path, out: Path, *, recursive: bool = True) -> PhotoCheckError:
    before = snapshot(src)
    with pytest.raises(PhotoCheckError) as caught:
        clean_folder(src, out, recursive=recursive)
    assert snapshot(src) == before
    error = caught.value
    assert error.code == "photo_check_failed" and error.message and error.cause and error.hint
    return error


def test_the_copies_cannot_go_in_the_photo_folder(tmp_path: Path) -> None:
    src = photo_folder(tmp_path)
    assert "folder the photos are in" in refusal(src, src).message
    assert "folder the photos are in" in refusal(src, src / "trips" / "..").message
    link = tmp_path / "shortcut"
    link.symlink_to(src)
    assert "folder the photos are in" in refusal(src, link).message


def test_the_copies_cannot_go_inside_the_photo_folder(tmp_path: Path) -> None:
    src = photo_folder(tmp_path)
    assert "inside the photo folder" in refusal(src, src / "cleaned").message
    assert "inside the photo folder" in refusal(src, src / "trips").message
    assert not (src / "cleaned").exists()


def test_without_sub_folders_the_copies_may_go_in_a_sub_folder(tmp_path: Path) -> None:
    src = photo_folder(tmp_path)
    results = clean_folder(src, src / "cleaned", recursive=False)
    assert [r.path for r in results] == PICTURES_IN_FOLDER[:4]
    assert (src / "cleaned" / "a.jpg").is_file() and (src / "cleaned" / "b.png").is_file()


def test_the_photo_folder_cannot_be_inside_the_copies_folder(tmp_path: Path) -> None:
    src = photo_folder(tmp_path)
    assert "holds the photo folder" in refusal(src, tmp_path).message


def test_a_missing_folder_or_a_file_in_the_way_is_refused(tmp_path: Path) -> None:
    with pytest.raises(PhotoCheckError) as caught:
        list(scan_folder(tmp_path / "nowhere"))
    assert "could not find the photo folder" in caught.value.message
    src = photo_folder(tmp_path)
    with pytest.raises(PhotoCheckError):
        list(scan_folder(src / "a.jpg"))
    in_the_way = tmp_path / "copies"
    in_the_way.write_text("a file")
    assert "is a file, not a folder" in refusal(src, in_the_way).message


# --- originals are never opened for writing (Linux: the kernel's record) ------------------------

_IN_MODIFY, _IN_ATTRIB, _IN_CLOSE_WRITE, _IN_CLOSE_NOWRITE, _IN_OPEN = 0x2, 0x4, 0x8, 0x10, 0x20
_IN_MOVES_AND_CHANGES = 0x40 | 0x80 | 0x100 | 0x200 | 0x400 | 0x800
_WRITES = _IN_MODIFY | _IN_ATTRIB | _IN_CLOSE_WRITE | _IN_MOVES_AND_CHANGES


class OpenWatch:
    """inotify on every folder under ``root``: how each file there was opened and closed."""

    def __init__(self, root: Path) -> None:
        self.libc = ctypes.CDLL(None, use_errno=True)
        self.fd = self.libc.inotify_init1(os.O_NONBLOCK | os.O_CLOEXEC)
        assert self.fd >= 0
        self.folders: dict[int, Path] = {}
        mask = _WRITES | _IN_OPEN | _IN_CLOSE_NOWRITE
        for folder in [root, *(p for p in root.rglob("*") if p.is_dir() and not p.is_symlink())]:
            wd = self.libc.inotify_add_watch(self.fd, os.fsencode(folder), ctypes.c_uint32(mask))
            assert wd >= 0
            self.folders[wd] = folder

    def events(self) -> Iterator[tuple[Path, int]]:
        buf = b""
        while True:
            try:
                chunk = os.read(self.fd, 1 << 16)
            except BlockingIOError:
                break
            buf += chunk
        pos = 0
        while pos < len(buf):
            wd, mask, _, length = struct.unpack_from("iIII", buf, pos)
            name = buf[pos + 16 : pos + 16 + length].rstrip(b"\x00")
            pos += 16 + length
            if name:
                yield self.folders[wd] / os.fsdecode(name), mask

    def close(self) -> None:
        os.close(self.fd)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="inotify is Linux's")
def test_originals_are_only_ever_opened_for_reading(tmp_path: Path) -> None:
    src = photo_folder(tmp_path)
    watch = OpenWatch(src)
    try:
        list(scan_folder(src))
        clean_folder(src, tmp_path / "out")
        for picture in PICTURES_IN_FOLDER:
            clean(src / picture, picture) if picture not in ("broken.jpg", "fake.jpg") else None
        inspect(src / "a.jpg")
        seen = list(watch.events())
    finally:
        watch.close()
    opened_files = {path for path, mask in seen if mask & _IN_OPEN}
    assert {src / p for p in PICTURES_IN_FOLDER} <= opened_files  # the watch sees the reads
    assert {path for path, mask in seen if mask & _IN_CLOSE_NOWRITE} >= opened_files
    assert [(path, hex(mask)) for path, mask in seen if mask & _WRITES] == []


# --- words ---------------------------------------------------------------------------------------

FORBIDDEN_WORDS = [
    r"\bsafe(?:ly|ty)?\b",
    r"\bsecur\w*",
    r"\bclean\b",  # "cleaned copy" names the copy; "clean" alone would be a verdict
    r"\bguarantee\w*",
    r"\bno (?:more )?(?:trace|risk)\b",
    r"\buntraceable\b",
    r"\banonym\w*",
    r"\bnothing (?:left|remains)\b",
    r"\ball (?:the )?(?:metadata|information) (?:is |was |has been )?(?:removed|gone)\b",
]


def words_shown(source: str) -> list[str]:
    """Every string in the module that can reach a person: all string constants and f-string
    parts, except docstrings (which are for developers)."""
    tree = ast.parse(source)
    docstrings: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
                docstrings.add(id(body[0].value))
    return [
        node.value
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant)
        and isinstance(node.value, str)
        and id(node) not in docstrings
    ]


def verdicts(texts: list[str]) -> list[str]:
    return [text for text in texts for p in FORBIDDEN_WORDS if re.search(p, text, re.IGNORECASE)]


def test_no_words_promise_a_picture_is_safe_or_clean() -> None:
    source = Path(photos.__file__).read_text(encoding="utf-8")
    texts = words_shown(source)
    assert PICTURE_CAUTION in texts and photos.DETAIL_GPS in texts and len(texts) > 100
    assert verdicts(texts) == []
    # the check itself catches what it is for
    sample = "x = 'Your photo is now clean and safe to post.'\ny = f'Secure copy of {x}'\n"
    assert len(verdicts(words_shown(sample))) == 3


def test_the_caution_says_the_picture_itself_can_still_show_where_you_are() -> None:
    assert PICTURE_CAUTION.startswith("Docket removed the information stored inside the file.")
    assert "can still show where you are" in PICTURE_CAUTION
    assert "street signs" in PICTURE_CAUTION and "name" in PICTURE_CAUTION


def test_copy_errors_say_what_happened_why_and_what_to_do(tmp_path: Path) -> None:
    src = photo_folder(tmp_path)
    results = {r.path: r for r in clean_folder(src, tmp_path / "out")}
    reason = results["broken.jpg"].reason
    assert "damaged" in reason and "Copy the picture again" in reason
    assert "has not been changed" in reason
