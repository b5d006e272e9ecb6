"""What photos give away before they are posted, and copies with that information taken out.

One responsibility: for a picture (JPEG, PNG, HEIC/HEIF, WebP, TIFF, GIF) or a folder of
them, say in plain words what the file itself stores about the person (GPS position, the
phone or camera and its serial number, the owner's name, when it was taken, place names, a
thumbnail that may show the uncropped picture, editing software, captions), and write copies
with that information taken out. Pure functions: nothing here touches the diary.

How it reads and copies (``shared/research/formats.md`` §6):

* The type comes from the first bytes, never from the name.
* Checking reads only the blocks that hold information, streaming through the file: a large
  picture is never read into memory whole (HEIC, whose reader needs the whole file, is checked
  only up to ``MAX_WHOLE_READ``).
* A copy keeps the picture data exactly: JPEG, PNG, WebP and GIF copies are made by taking the
  information blocks out of the file and copying everything else byte for byte (a JPEG is never
  re-compressed); HEIC, TIFF and other pictures Pillow can read are saved as a PNG of the same
  pixels (a TIFF if PNG cannot hold them exactly). Colour profiles stay, and so does which way
  up a JPEG, PNG, WebP or TIFF is shown (as a new, minimal EXIF block holding only that).
* Every copy is checked before it is handed back: its pixels must decode to exactly those of
  the original, and checking it again must find nothing. Otherwise no copy is made.
* Originals are only ever opened for reading. Copies go into another folder, each written to a
  temporary file first and then moved into place; an existing file is never replaced.

Nothing here can promise that a picture gives nothing away: the picture itself can show where
someone is (:data:`PICTURE_CAUTION`).
"""

from __future__ import annotations

import hashlib
import io
import os
import re
import struct
import tempfile
import warnings
import zlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import IO, Any, Final

from lxml import etree
from PIL import ExifTags, Image, UnidentifiedImageError

from docket.errors import Location, PhotoCheckError
from docket.importers.evidence_file import describe, sniff_head
from docket.importers.photo import (
    IMAGE_EXTENSIONS,
    MAX_CHUNK,
    MAX_WHOLE_READ,
    _dms,
    _register_heif,
    _user_comment,
)

# --- words for the person ---------------------------------------------------------------------

PICTURE_CAUTION: Final = (
    "Docket removed the information stored inside the file. The picture itself can still show "
    "where you are (street signs, your home, landmarks, the view from a window) and who you "
    "are with, and the file's name can show when it was taken. Look at each picture, and its "
    "name, before you post it."
)

# What a picture can give away, in the order they are listed.
DETAIL_GPS: Final = "GPS coordinates"
DETAIL_GPS_OTHER: Final = "Other GPS information (such as height, direction or satellite time)"
DETAIL_PLACE: Final = "Location names (city, country)"
DETAIL_PEOPLE: Final = "Names or positions of people marked in the picture"
DETAIL_DEVICE: Final = "Camera or phone make and model"
DETAIL_SERIAL: Final = "Serial number of the camera or lens"
DETAIL_OWNER: Final = "Owner or artist name"
DETAIL_TAKEN: Final = "Date and time taken"
DETAIL_CHANGED: Final = "Date and time the picture was last changed"
DETAIL_THUMBNAIL: Final = "A small preview image (thumbnail) that may show the uncropped picture"
DETAIL_EXTRA_PICTURES: Final = (
    "Extra pictures stored with the main one (such as previews, pages or depth maps)"
)
DETAIL_TRAILER: Final = (
    "Extra data after the end of the picture (such as a second picture or a short video)"
)
DETAIL_SOFTWARE: Final = "Editing software"
DETAIL_COMMENTS: Final = "Comments or captions"
DETAIL_UNIQUE_ID: Final = "A unique number that can link this picture to other copies of it"
DETAIL_MAKER_NOTES: Final = "The camera maker's own notes (these can include serial numbers)"
DETAIL_SETTINGS: Final = "Camera settings (such as exposure, flash and lens)"
DETAIL_OTHER: Final = "Other details added by the camera or an app"
DETAIL_UNREADABLE: Final = (
    "Details Docket could not read because they are damaged (they may include where and when "
    "the picture was taken)"
)
DETAIL_ORDER: Final = (
    DETAIL_GPS,
    DETAIL_GPS_OTHER,
    DETAIL_PLACE,
    DETAIL_PEOPLE,
    DETAIL_DEVICE,
    DETAIL_SERIAL,
    DETAIL_OWNER,
    DETAIL_TAKEN,
    DETAIL_CHANGED,
    DETAIL_THUMBNAIL,
    DETAIL_EXTRA_PICTURES,
    DETAIL_TRAILER,
    DETAIL_SOFTWARE,
    DETAIL_COMMENTS,
    DETAIL_UNIQUE_ID,
    DETAIL_MAKER_NOTES,
    DETAIL_SETTINGS,
    DETAIL_OTHER,
    DETAIL_UNREADABLE,
)

KEPT_PICTURE: Final = "The picture itself, exactly as it was"
KEPT_COLOUR: Final = "Colour profile"
KEPT_COLOUR_SETTINGS: Final = "Colour settings needed to show the picture correctly"
KEPT_ORIENTATION: Final = "Which way up the picture is shown"
KEPT_ANIMATION: Final = "Animation and looping"
KEPT_TRANSPARENCY: Final = "Transparency"

WARN_DAMAGED: Final = (
    "Part of the information stored inside this picture is damaged, so Docket could not read "
    "all of it. A cleaned copy leaves all of it out all the same."
)
WARN_CUT_SHORT: Final = (
    "This picture seems to be cut short (the copy or download may not have finished), so "
    "Docket could not check all of it."
)
WARN_NO_DIRECTION: Final = (
    "This picture holds GPS coordinates without saying north or south, east or west, so Docket "
    "cannot show the exact place. Other programs may still work it out."
)

# --- limits and types -------------------------------------------------------------------------

MAX_CLEAN: Final = 256 << 20  # bytes of one picture Docket will copy (it is held in memory)
MAX_XMP: Final = 16 << 20  # bytes of one XMP packet read (extended XMP is joined up to this)
MAX_INFLATE: Final = 4 << 20  # bytes a compressed PNG text chunk is expanded to
_SCAN_CHUNK: Final = 1 << 20  # bytes read at a time through a JPEG's compressed picture data
_TRAILER_LOOK: Final = 64 << 10  # bytes looked at after a picture's end
_HEAD: Final = 64  # bytes read to tell a file's type
_MAX_NAME_TRIES: Final = 10_000

PICTURE_TYPES: Final = frozenset(
    {
        "image/jpeg",
        "image/png",
        "image/heic",
        "image/heif",
        "image/webp",
        "image/tiff",
        "image/gif",
    }
)
_PICTURE_EXTENSIONS: Final = IMAGE_EXTENSIONS | {"gif", "jpe", "avif"}
# Pictures without metadata blocks of their own that Pillow reads safely: copied as a PNG.
_CONVERT_FORMATS: Final = (
    "BMP",
    "DIB",
    "ICO",
    "PPM",
    "TGA",
    "PCX",
    "SGI",
    "QOI",
    "JPEG2000",
    "AVIF",
)
_OWN_FORMATS: Final = ("JPEG", "MPO", "PNG", "WEBP", "GIF", "TIFF", "HEIF")
_EXTENSIONS: Final[dict[str, tuple[str, ...]]] = {
    "image/jpeg": ("jpg", "jpeg", "jpe", "jfif"),
    "image/png": ("png",),
    "image/webp": ("webp",),
    "image/gif": ("gif",),
    "image/tiff": ("tif", "tiff"),
}

# --- the results ------------------------------------------------------------------------------


@dataclass(frozen=True)
class PhotoFinding:
    """What one picture gives away. ``details`` says it in plain words (see ``DETAIL_*``);
    ``location`` is "latitude, longitude" to 5 places when the picture holds a usable GPS
    position; ``warnings`` says what could not be checked (damaged, cut short, not a picture
    Docket can look inside)."""

    path: str
    media_type: str
    has_location: bool = False
    location: str = ""
    device: str = ""
    details: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()

    @property
    def reveals(self) -> bool:
        return bool(self.details)


@dataclass(frozen=True)
class CleanedPhoto:
    """A copy of a picture with its information taken out: the bytes, the name to give the copy
    and its type, how it was made, what was kept and what was removed (in plain words)."""

    data: bytes
    name: str
    media_type: str
    method: str
    kept: tuple[str, ...]
    removed: tuple[str, ...]


@dataclass(frozen=True)
class CleanResult:
    """One picture of a folder: where its copy was written, or why no copy was made."""

    path: str  # the original, relative to the folder
    output: Path | None = None
    method: str = ""
    kept: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()
    reason: str = ""

    @property
    def written(self) -> bool:
        return self.output is not None


# --- collecting what a picture says -----------------------------------------------------------


class _Notes:
    """What was found while reading one picture."""

    def __init__(self) -> None:
        self.details: set[str] = set()
        self.warnings: list[str] = []
        self.has_location = False
        self.location = ""
        self.make = ""
        self.model = ""
        self.orientation = 1
        self._orientation_read = False

    def add(self, detail: str | None) -> None:
        if detail is not None:
            self.details.add(detail)

    def warn(self, text: str) -> None:
        if text not in self.warnings:
            self.warnings.append(text)

    def damaged(self) -> None:
        self.warn(WARN_DAMAGED)
        self.add(DETAIL_UNREADABLE)

    def set_orientation(self, value: Any) -> None:
        """The first EXIF block read says which way up the picture is shown (viewers, Pillow
        among them, use only that one, whether it holds an Orientation or not)."""
        if self._orientation_read:
            return
        self._orientation_read = True
        if isinstance(value, int) and 1 <= value <= 8:
            self.orientation = value

    def set_location(self, lat: float, lon: float) -> None:
        if not self.location:
            self.location = f"{lat:.5f}, {lon:.5f}"
        self.has_location = True
        self.add(DETAIL_GPS)

    def device(self) -> str:
        make, model = self.make.strip(), self.model.strip()
        if make and model.lower().startswith(make.lower()):
            return model
        return f"{make} {model}".strip()

    def finding(self, path: str, media_type: str) -> PhotoFinding:
        return PhotoFinding(
            path=path,
            media_type=media_type,
            has_location=self.has_location,
            location=self.location,
            device=self.device(),
            details=tuple(d for d in DETAIL_ORDER if d in self.details),
            warnings=tuple(self.warnings),
        )


def _meaningful(value: Any) -> bool:
    """A stored value that says something (blank text, NUL padding and empty lists do not)."""
    if value is None:
        return False
    if isinstance(value, bytes):
        return bool(value.strip(b"\x00 \t\r\n"))
    if isinstance(value, str):
        return bool(value.strip("\x00 \t\r\n"))
    if isinstance(value, tuple | list):
        return any(_meaningful(v) for v in value)
    if isinstance(value, dict):
        return bool(value)
    return True


def _as_bytes(value: Any, endian: str | None) -> bytes:
    """A TIFF tag's value as the bytes it holds (IPTC is sometimes typed as LONG)."""
    if isinstance(value, bytes):
        return value
    if isinstance(value, str):
        return value.encode("utf-8", "replace")
    if isinstance(value, tuple) and all(isinstance(v, int) for v in value):
        order = "little" if endian == "<" else "big"
        width = 1 if all(0 <= v <= 255 for v in value) else 4
        return b"".join((v & 0xFFFFFFFF).to_bytes(width, order) for v in value)
    return b""


# --- EXIF -------------------------------------------------------------------------------------

_EXIF_IFD, _GPS_IFD, _INTEROP_IFD = 0x8769, 0x8825, 0xA005
_ORIENTATION, _MAKE, _MODEL = 0x0112, 0x010F, 0x0110
_XMP_TAG, _IPTC_TAG, _PHOTOSHOP_TAG = 0x02BC, 0x83BB, 0x8649
_USER_COMMENT, _NEW_SUBFILE_TYPE, _DNG_VERSION = 0x9286, 0x00FE, 0xC612

# Tags that describe the file's layout or colours and nothing about the person.
_STRUCTURAL: Final = frozenset(
    {
        0x00FE,  # NewSubfileType
        0x00FF,  # SubfileType
        0x0100,  # ImageWidth
        0x0101,  # ImageLength
        0x0102,  # BitsPerSample
        0x0103,  # Compression
        0x0106,  # PhotometricInterpretation
        0x0107,  # Threshholding
        0x0108,  # CellWidth
        0x0109,  # CellLength
        0x010A,  # FillOrder
        0x0111,  # StripOffsets
        0x0112,  # Orientation
        0x0115,  # SamplesPerPixel
        0x0116,  # RowsPerStrip
        0x0117,  # StripByteCounts
        0x0118,  # MinSampleValue
        0x0119,  # MaxSampleValue
        0x011A,  # XResolution
        0x011B,  # YResolution
        0x011C,  # PlanarConfiguration
        0x0122,  # GrayResponseUnit
        0x0123,  # GrayResponseCurve
        0x0124,  # T4Options
        0x0125,  # T6Options
        0x0128,  # ResolutionUnit
        0x012D,  # TransferFunction
        0x013D,  # Predictor
        0x013E,  # WhitePoint
        0x013F,  # PrimaryChromaticities
        0x0140,  # ColorMap
        0x0141,  # HalftoneHints
        0x0142,  # TileWidth
        0x0143,  # TileLength
        0x0144,  # TileOffsets
        0x0145,  # TileByteCounts
        0x014C,  # InkSet
        0x0152,  # ExtraSamples
        0x0153,  # SampleFormat
        0x0154,  # SMinSampleValue
        0x0155,  # SMaxSampleValue
        0x0200,  # JPEGProc
        0x0201,  # JPEGInterchangeFormat (in IFD0 of an old-style JPEG TIFF)
        0x0202,  # JPEGInterchangeFormatLength
        0x0211,  # YCbCrCoefficients
        0x0212,  # YCbCrSubSampling
        0x0213,  # YCbCrPositioning
        0x0214,  # ReferenceBlackWhite
        0x8773,  # InterColorProfile (colour)
        0x9000,  # ExifVersion
        0x9101,  # ComponentsConfiguration
        0xA000,  # FlashpixVersion
        0xA001,  # ColorSpace
        0xA002,  # PixelXDimension
        0xA003,  # PixelYDimension
        0xA500,  # Gamma
        0xEA1C,  # Padding (Microsoft)
        0xEA1D,  # OffsetSchema (Microsoft)
        _EXIF_IFD,
        _GPS_IFD,
        _INTEROP_IFD,
    }
)
_IFD0_TAGS: Final[dict[int, str]] = {
    0x010F: DETAIL_DEVICE,  # Make
    0x0110: DETAIL_DEVICE,  # Model
    0x013C: DETAIL_DEVICE,  # HostComputer
    0xC614: DETAIL_DEVICE,  # UniqueCameraModel (DNG)
    0xC615: DETAIL_DEVICE,  # LocalizedCameraModel (DNG)
    0xC62F: DETAIL_SERIAL,  # CameraSerialNumber (DNG)
    0xA431: DETAIL_SERIAL,  # BodySerialNumber
    0xA435: DETAIL_SERIAL,  # LensSerialNumber
    0x013B: DETAIL_OWNER,  # Artist
    0x8298: DETAIL_OWNER,  # Copyright
    0x9C9D: DETAIL_OWNER,  # XPAuthor
    0xA430: DETAIL_OWNER,  # CameraOwnerName
    0x0132: DETAIL_CHANGED,  # DateTime
    0x9003: DETAIL_TAKEN,  # DateTimeOriginal (some writers put it here)
    0x9004: DETAIL_TAKEN,
    0x0131: DETAIL_SOFTWARE,  # Software
    0x010E: DETAIL_COMMENTS,  # ImageDescription
    0x010D: DETAIL_COMMENTS,  # DocumentName
    0x011D: DETAIL_COMMENTS,  # PageName
    0x9C9B: DETAIL_COMMENTS,  # XPTitle
    0x9C9C: DETAIL_COMMENTS,  # XPComment
    0x9C9E: DETAIL_COMMENTS,  # XPKeywords
    0x9C9F: DETAIL_COMMENTS,  # XPSubject
    0xA420: DETAIL_UNIQUE_ID,  # ImageUniqueID
    0x927C: DETAIL_MAKER_NOTES,  # MakerNote
    0xC634: DETAIL_MAKER_NOTES,  # DNGPrivateData
    0x014A: DETAIL_EXTRA_PICTURES,  # SubIFDs
    0x935C: DETAIL_EXTRA_PICTURES,  # ImageSourceData (Photoshop layers)
}
_EXIF_TAGS: Final[dict[int, str]] = {
    0x9003: DETAIL_TAKEN,  # DateTimeOriginal
    0x9004: DETAIL_TAKEN,  # DateTimeDigitized
    0x9010: DETAIL_TAKEN,  # OffsetTime
    0x9011: DETAIL_TAKEN,  # OffsetTimeOriginal
    0x9012: DETAIL_TAKEN,  # OffsetTimeDigitized
    0x9290: DETAIL_TAKEN,  # SubSecTime
    0x9291: DETAIL_TAKEN,  # SubSecTimeOriginal
    0x9292: DETAIL_TAKEN,  # SubSecTimeDigitized
    0x927C: DETAIL_MAKER_NOTES,  # MakerNote
    0x9286: DETAIL_COMMENTS,  # UserComment
    0xA430: DETAIL_OWNER,  # CameraOwnerName
    0xA431: DETAIL_SERIAL,  # BodySerialNumber
    0xA435: DETAIL_SERIAL,  # LensSerialNumber
    0xA432: DETAIL_DEVICE,  # LensSpecification
    0xA433: DETAIL_DEVICE,  # LensMake
    0xA434: DETAIL_DEVICE,  # LensModel
    0xA420: DETAIL_UNIQUE_ID,  # ImageUniqueID
    0xA004: DETAIL_OTHER,  # RelatedSoundFile
    _XMP_TAG: DETAIL_OTHER,
}
_THUMBNAIL_TAGS: Final = frozenset({0x0201, 0x0111})  # JPEGInterchangeFormat, StripOffsets


def _exif_orientation_block(value: int) -> bytes:
    """A minimal EXIF (TIFF) structure holding only Orientation: big-endian, one IFD."""
    return (
        b"MM\x00*\x00\x00\x00\x08"
        + b"\x00\x01"
        + struct.pack(">HHIH", _ORIENTATION, 3, 1, value)
        + b"\x00\x00"
        + b"\x00\x00\x00\x00"
    )


def _read_exif(notes: _Notes, blob: bytes) -> None:
    """An EXIF block (a small TIFF structure, with or without the "Exif" header)."""
    if blob.startswith(b"Exif\x00") and not blob.startswith(b"Exif\x00\x00"):
        blob = blob[6:]
    exif = Image.Exif()
    with warnings.catch_warnings(record=True) as noted:
        warnings.simplefilter("always")
        try:
            exif.load(blob)
            notes.set_orientation(exif.get(_ORIENTATION, 1))
            _exif_fields(notes, exif, in_tiff=False)
        except Exception:  # damaged metadata: noted, never fatal
            notes.damaged()
    if any("corrupt" in str(w.message).lower() for w in noted):
        notes.damaged()


def _exif_fields(notes: _Notes, exif: Image.Exif, *, in_tiff: bool) -> None:
    """Everything an EXIF structure (or a TIFF file's first IFD) says."""
    endian = getattr(exif, "endian", None)
    for tag, value in list(exif.items()):
        if tag == _XMP_TAG:  # Orientation, among the structural tags, is read by _read_exif
            _read_xmp(notes, _as_bytes(value, endian))
        elif tag == _IPTC_TAG:
            _read_iim(notes, _as_bytes(value, endian))
        elif tag == _PHOTOSHOP_TAG:
            _read_irb(notes, _as_bytes(value, endian))
        elif tag == _MAKE and _meaningful(value):
            notes.make = notes.make or _clean_text(value)
            notes.add(DETAIL_DEVICE)
        elif tag == _MODEL and _meaningful(value):
            notes.model = notes.model or _clean_text(value)
            notes.add(DETAIL_DEVICE)
        elif tag in _STRUCTURAL:
            continue
        elif _meaningful(value):
            notes.add(_IFD0_TAGS.get(tag, DETAIL_OTHER))
    if _EXIF_IFD in exif:
        for tag, value in exif.get_ifd(_EXIF_IFD).items():
            if tag in _STRUCTURAL:
                continue
            if tag == _USER_COMMENT:
                if _user_comment(value):
                    notes.add(DETAIL_COMMENTS)
            elif tag == _XMP_TAG:
                _read_xmp(notes, _as_bytes(value, endian))
            elif _meaningful(value):
                notes.add(_EXIF_TAGS.get(tag, DETAIL_SETTINGS))
    if _GPS_IFD in exif:
        _gps_fields(notes, exif.get_ifd(_GPS_IFD))
    if not in_tiff:
        ifd1 = exif.get_ifd(ExifTags.IFD.IFD1)
        if _THUMBNAIL_TAGS & set(ifd1):
            notes.add(DETAIL_THUMBNAIL)


def _clean_text(value: Any) -> str:
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    return str(value).replace("\x00", "").strip()[:200]


def _gps_fields(notes: _Notes, gps: dict[int, Any]) -> None:
    lat_value, lon_value = gps.get(2), gps.get(4)
    if lat_value is not None or lon_value is not None:
        lat = _dms(lat_value, "N", 90, "S")
        lon = _dms(lon_value, "E", 180, "W")
        if lat is None or lon is None:
            notes.damaged()
            notes.add(DETAIL_GPS_OTHER)
        elif lat == 0 and lon == 0:
            notes.add(DETAIL_GPS_OTHER)  # the fields are there, but hold no position
        else:
            lat_ref = _clean_text(gps.get(1, "")).upper()
            lon_ref = _clean_text(gps.get(3, "")).upper()
            if lat_ref in ("N", "S") and lon_ref in ("E", "W"):
                notes.set_location(-lat if lat_ref == "S" else lat, -lon if lon_ref == "W" else lon)
            else:
                notes.has_location = True
                notes.add(DETAIL_GPS)
                notes.warn(WARN_NO_DIRECTION)
    for tag, value in gps.items():
        if tag not in (0, 1, 2, 3, 4, 5) and _meaningful(value):
            notes.add(DETAIL_GPS_OTHER)


# --- XMP --------------------------------------------------------------------------------------

_NS_RDF: Final = "http://www.w3.org/1999/02/22-rdf-syntax-ns#"
_NS_IGNORED: Final = frozenset({_NS_RDF, "adobe:ns:meta/", "http://www.w3.org/XML/1998/namespace"})
_NS_EXIF: Final = "http://ns.adobe.com/exif/1.0/"
_NS_EXIF_EX: Final = "http://cipa.jp/exif/1.0/"
_NS_TIFF: Final = "http://ns.adobe.com/tiff/1.0/"
_NS_IPTC_EXT: Final = "http://iptc.org/std/Iptc4xmpExt/2008-02-29/"

_CAMERA_XMP: Final[dict[str, str | None]] = {
    "DateTimeOriginal": DETAIL_TAKEN,
    "DateTimeDigitized": DETAIL_TAKEN,
    "UserComment": DETAIL_COMMENTS,
    "CameraOwnerName": DETAIL_OWNER,
    "BodySerialNumber": DETAIL_SERIAL,
    "LensSerialNumber": DETAIL_SERIAL,
    "SerialNumber": DETAIL_SERIAL,
    "LensMake": DETAIL_DEVICE,
    "LensModel": DETAIL_DEVICE,
    "LensSpecification": DETAIL_DEVICE,
    "ImageUniqueID": DETAIL_UNIQUE_ID,
    "MakerNote": DETAIL_MAKER_NOTES,
    "ExifVersion": None,
    "FlashpixVersion": None,
    "ColorSpace": None,
    "PixelXDimension": None,
    "PixelYDimension": None,
    "ComponentsConfiguration": None,
    "NativeDigest": None,
}
# namespace -> (properties by local name, what any other property of it says)
_XMP_NAMESPACES: Final[dict[str, tuple[dict[str, str | None], str | None]]] = {
    _NS_EXIF: (_CAMERA_XMP, DETAIL_SETTINGS),
    _NS_EXIF_EX: (_CAMERA_XMP, DETAIL_SETTINGS),
    "http://ns.adobe.com/exif/1.0/aux/": (
        {
            "SerialNumber": DETAIL_SERIAL,
            "LensSerialNumber": DETAIL_SERIAL,
            "OwnerName": DETAIL_OWNER,
            "Lens": DETAIL_DEVICE,
            "LensInfo": DETAIL_DEVICE,
            "LensID": DETAIL_DEVICE,
            "ImageNumber": DETAIL_UNIQUE_ID,
        },
        DETAIL_SETTINGS,
    ),
    _NS_TIFF: (
        {
            "Make": DETAIL_DEVICE,
            "Model": DETAIL_DEVICE,
            "Artist": DETAIL_OWNER,
            "Copyright": DETAIL_OWNER,
            "DateTime": DETAIL_CHANGED,
            "Software": DETAIL_SOFTWARE,
            "ImageDescription": DETAIL_COMMENTS,
            "Orientation": None,
            "XResolution": None,
            "YResolution": None,
            "ResolutionUnit": None,
            "ImageWidth": None,
            "ImageLength": None,
            "BitsPerSample": None,
            "Compression": None,
            "PhotometricInterpretation": None,
            "SamplesPerPixel": None,
            "PlanarConfiguration": None,
            "YCbCrPositioning": None,
            "YCbCrSubSampling": None,
            "NativeDigest": None,
        },
        DETAIL_OTHER,
    ),
    "http://ns.adobe.com/xap/1.0/": (
        {
            "CreateDate": DETAIL_TAKEN,
            "ModifyDate": DETAIL_CHANGED,
            "MetadataDate": DETAIL_CHANGED,
            "CreatorTool": DETAIL_SOFTWARE,
            "Thumbnails": DETAIL_THUMBNAIL,
        },
        DETAIL_OTHER,
    ),
    "http://ns.adobe.com/xap/1.0/g/img/": ({}, DETAIL_THUMBNAIL),
    "http://ns.adobe.com/xap/1.0/mm/": ({"History": DETAIL_SOFTWARE}, DETAIL_UNIQUE_ID),
    "http://ns.adobe.com/xap/1.0/sType/ResourceEvent#": (
        {"when": DETAIL_CHANGED, "instanceID": DETAIL_UNIQUE_ID},
        DETAIL_SOFTWARE,
    ),
    "http://ns.adobe.com/xap/1.0/sType/ResourceRef#": ({}, DETAIL_UNIQUE_ID),
    "http://ns.adobe.com/xap/1.0/rights/": ({}, DETAIL_OWNER),
    "http://purl.org/dc/elements/1.1/": (
        {
            "creator": DETAIL_OWNER,
            "rights": DETAIL_OWNER,
            "contributor": DETAIL_OWNER,
            "publisher": DETAIL_OWNER,
            "description": DETAIL_COMMENTS,
            "title": DETAIL_COMMENTS,
            "subject": DETAIL_COMMENTS,
            "date": DETAIL_TAKEN,
            "format": None,
        },
        DETAIL_OTHER,
    ),
    "http://ns.adobe.com/photoshop/1.0/": (
        {
            "City": DETAIL_PLACE,
            "State": DETAIL_PLACE,
            "Country": DETAIL_PLACE,
            "DateCreated": DETAIL_TAKEN,
            "AuthorsPosition": DETAIL_OWNER,
            "CaptionWriter": DETAIL_OWNER,
            "Credit": DETAIL_OWNER,
            "Source": DETAIL_OWNER,
            "Headline": DETAIL_COMMENTS,
            "Instructions": DETAIL_COMMENTS,
            "Category": DETAIL_COMMENTS,
            "SupplementalCategories": DETAIL_COMMENTS,
            "TransmissionReference": DETAIL_COMMENTS,
            "History": DETAIL_SOFTWARE,
            "DocumentAncestors": DETAIL_UNIQUE_ID,
            "ColorMode": None,
            "ICCProfile": None,
            "LegacyIPTCDigest": None,
        },
        DETAIL_OTHER,
    ),
    "http://iptc.org/std/Iptc4xmpCore/1.0/xmlns/": (
        {
            "Location": DETAIL_PLACE,
            "CountryCode": DETAIL_PLACE,
            "CreatorContactInfo": DETAIL_OWNER,
            "CiAdrExtadr": DETAIL_OWNER,
            "CiAdrCity": DETAIL_OWNER,
            "CiAdrRegion": DETAIL_OWNER,
            "CiAdrPcode": DETAIL_OWNER,
            "CiAdrCtry": DETAIL_OWNER,
            "CiTelWork": DETAIL_OWNER,
            "CiEmailWork": DETAIL_OWNER,
            "CiUrlWork": DETAIL_OWNER,
            "IntellectualGenre": DETAIL_COMMENTS,
            "Scene": DETAIL_COMMENTS,
            "SubjectCode": DETAIL_COMMENTS,
        },
        DETAIL_OTHER,
    ),
    _NS_IPTC_EXT: (
        {
            "LocationCreated": DETAIL_PLACE,
            "LocationShown": DETAIL_PLACE,
            "City": DETAIL_PLACE,
            "CountryName": DETAIL_PLACE,
            "CountryCode": DETAIL_PLACE,
            "ProvinceState": DETAIL_PLACE,
            "Sublocation": DETAIL_PLACE,
            "WorldRegion": DETAIL_PLACE,
            "LocationName": DETAIL_PLACE,
            "LocationId": DETAIL_PLACE,
            "PersonInImage": DETAIL_PEOPLE,
            "PersonInImageWDetails": DETAIL_PEOPLE,
            "PersonName": DETAIL_PEOPLE,
            "PersonId": DETAIL_PEOPLE,
            "GPSLatitude": DETAIL_GPS,
            "GPSLongitude": DETAIL_GPS,
            "GPSAltitude": DETAIL_GPS_OTHER,
        },
        DETAIL_OTHER,
    ),
    "http://www.metadataworkinggroup.com/schemas/regions/": ({}, DETAIL_PEOPLE),
    "http://ns.adobe.com/xmp/sType/Area#": ({}, DETAIL_PEOPLE),
    "http://ns.adobe.com/xap/1.0/sType/Dimensions#": ({}, None),
    "http://ns.microsoft.com/photo/1.2/t/RegionInfo#": ({}, DETAIL_PEOPLE),
    "http://ns.microsoft.com/photo/1.2/t/Region#": ({}, DETAIL_PEOPLE),
    "http://ns.microsoft.com/photo/1.2/": ({}, DETAIL_PEOPLE),
    "http://ns.microsoft.com/photo/1.0": (  # as Windows writes it, without the slash
        {
            "LastKeywordXMP": DETAIL_COMMENTS,
            "LastKeywordIPTC": DETAIL_COMMENTS,
            "DateAcquired": DETAIL_CHANGED,
            "CameraSerialNumber": DETAIL_SERIAL,
        },
        DETAIL_OTHER,
    ),
    "http://ns.microsoft.com/photo/1.0/": (
        {
            "LastKeywordXMP": DETAIL_COMMENTS,
            "LastKeywordIPTC": DETAIL_COMMENTS,
            "DateAcquired": DETAIL_CHANGED,
            "CameraSerialNumber": DETAIL_SERIAL,
        },
        DETAIL_OTHER,
    ),
    "http://ns.apple.com/faceinfo/1.0/": ({}, DETAIL_PEOPLE),
    "http://ns.google.com/photos/1.0/camera/": ({}, DETAIL_TRAILER),
    "http://ns.google.com/photos/1.0/container/": ({}, DETAIL_TRAILER),
    "http://ns.google.com/photos/1.0/container/item/": ({}, DETAIL_TRAILER),
    "http://ns.google.com/photos/1.0/image/": ({}, DETAIL_EXTRA_PICTURES),
    "http://ns.google.com/photos/1.0/depthmap/": ({}, DETAIL_EXTRA_PICTURES),
    "http://ns.adobe.com/camera-raw-settings/1.0/": ({}, DETAIL_SOFTWARE),
    "http://ns.adobe.com/lightroom/1.0/": ({}, DETAIL_COMMENTS),
    "http://www.digikam.org/ns/1.0/": ({"TagsList": DETAIL_COMMENTS}, DETAIL_OTHER),
    "http://ns.adobe.com/pdf/1.3/": (
        {"Keywords": DETAIL_COMMENTS, "Producer": DETAIL_SOFTWARE},
        DETAIL_OTHER,
    ),
}
# The usual prefixes, for reading a damaged packet without its namespace declarations.
_XMP_PREFIXES: Final[dict[str, str]] = {
    "exif": _NS_EXIF,
    "exifEX": _NS_EXIF_EX,
    "aux": "http://ns.adobe.com/exif/1.0/aux/",
    "tiff": _NS_TIFF,
    "xmp": "http://ns.adobe.com/xap/1.0/",
    "xap": "http://ns.adobe.com/xap/1.0/",
    "xmpMM": "http://ns.adobe.com/xap/1.0/mm/",
    "xmpRights": "http://ns.adobe.com/xap/1.0/rights/",
    "dc": "http://purl.org/dc/elements/1.1/",
    "photoshop": "http://ns.adobe.com/photoshop/1.0/",
    "Iptc4xmpCore": "http://iptc.org/std/Iptc4xmpCore/1.0/xmlns/",
    "Iptc4xmpExt": _NS_IPTC_EXT,
    "rdf": _NS_RDF,
    "x": "adobe:ns:meta/",
    "xml": "http://www.w3.org/XML/1998/namespace",
}
_XMP_PARSER: Final = etree.XMLParser(
    resolve_entities=False,
    no_network=True,
    load_dtd=False,
    huge_tree=False,
    remove_comments=True,
    remove_pis=True,
)
_XMP_COORDINATE: Final = re.compile(
    r"\s*(\d{1,3}(?:\.\d+)?),(\d{1,2}(?:\.\d+)?)(?:,(\d{1,2}(?:\.\d+)?))?\s*([NSEWnsew])\s*"
)
_XMP_DECLARATION: Final = re.compile(r'xmlns:([\w.-]+)\s*=\s*["\']([^"\']*)["\']')
# Both read a damaged packet in time that grows with its length, never with its square: each
# match starts only where a name begins, and stops at the next quote or angle bracket.
_XMP_ATTRIBUTE: Final = re.compile(
    r"(?<![\w.:-])([A-Za-z_][\w.-]*):([A-Za-z_][\w.-]*)\s*=\s*(?:\"([^\"<>]*)\"|'([^'<>]*)')"
)
_XMP_ELEMENT: Final = re.compile(r"<([A-Za-z_][\w.-]*):([A-Za-z_][\w.-]*)(?=[\s/>])[^<>]*>([^<]*)")


def _xmp_coordinate(text: str) -> float | None:
    """An XMP GPS coordinate ("51,30.4332N", "51,30,26N", or a signed decimal)."""
    m = _XMP_COORDINATE.fullmatch(text)
    if m is not None:
        degrees = float(m.group(1)) + float(m.group(2)) / 60 + float(m.group(3) or 0) / 3600
        return -degrees if m.group(4).upper() in ("S", "W") else degrees
    try:
        return float(text)
    except ValueError:
        return None


class _XmpGps:
    """The GPS latitude and longitude an XMP packet gives, joined once it has been read."""

    def __init__(self) -> None:
        self.lat: float | None = None
        self.lon: float | None = None


def _xmp_property(notes: _Notes, gps: _XmpGps, ns: str, local: str, value: str) -> None:
    if ns in _NS_IGNORED or not value.strip():
        return
    if ns in (_NS_EXIF, _NS_EXIF_EX, _NS_IPTC_EXT) and local.startswith("GPS"):
        if local == "GPSLatitude":
            gps.lat = _xmp_coordinate(value)
        elif local == "GPSLongitude":
            gps.lon = _xmp_coordinate(value)
        else:
            notes.add(DETAIL_GPS_OTHER)
        return
    if ns == _NS_TIFF and local == "Make":
        notes.make = notes.make or value.strip()[:200]
    elif ns == _NS_TIFF and local == "Model":
        notes.model = notes.model or value.strip()[:200]
    known, other = _XMP_NAMESPACES.get(ns, ({}, DETAIL_OTHER))
    notes.add(known.get(local, other))


def _split(name: str) -> tuple[str, str]:
    if name.startswith("{"):
        ns, _, local = name[1:].partition("}")
        return ns, local
    return "", name


def _read_xmp(notes: _Notes, packet: bytes) -> None:
    """An XMP packet: each property that holds something, by its namespace and name."""
    text = packet.strip(b"\x00 \t\r\n")
    if len(text) > MAX_XMP:
        notes.add(DETAIL_OTHER)
        return
    end = text.rfind(b"<?xpacket end")
    if end >= 0:
        close = text.find(b"?>", end)
        text = text[: close + 2] if close >= 0 else text
    else:
        meta_end = text.rfind(b"</x:xmpmeta>")
        if meta_end >= 0:
            text = text[: meta_end + len(b"</x:xmpmeta>")]
    if not text:
        return
    gps = _XmpGps()
    try:
        root = etree.fromstring(text, parser=_XMP_PARSER)
    except (etree.XMLSyntaxError, ValueError):
        notes.damaged()
        _read_xmp_text(notes, gps, text.decode("utf-8", "replace"))
    else:
        for element in root.iter():
            if not isinstance(element.tag, str):
                continue
            for attribute, value in element.attrib.items():
                ns, local = _split(str(attribute))
                _xmp_property(notes, gps, ns, local, str(value))
            if element.text and element.text.strip():
                owner: Any = element
                while owner is not None and _split(str(owner.tag))[0] in _NS_IGNORED:
                    owner = owner.getparent()
                if owner is not None:
                    ns, local = _split(str(owner.tag))
                    _xmp_property(notes, gps, ns, local, element.text)
    if gps.lat is not None or gps.lon is not None:
        lat, lon = gps.lat, gps.lon
        if lat is not None and lon is not None and abs(lat) <= 90 and abs(lon) <= 180:
            if lat != 0 or lon != 0:
                notes.set_location(lat, lon)
            else:
                notes.add(DETAIL_GPS_OTHER)
        else:
            notes.has_location = True
            notes.add(DETAIL_GPS)


def _read_xmp_text(notes: _Notes, gps: _XmpGps, text: str) -> None:
    """A damaged packet, read for ``prefix:Name`` properties."""
    prefixes = dict(_XMP_PREFIXES)
    prefixes.update(_XMP_DECLARATION.findall(text))
    for prefix, local, double, single in _XMP_ATTRIBUTE.findall(text):
        if prefix != "xmlns":
            ns = prefixes.get(prefix, "unknown:" + prefix)
            _xmp_property(notes, gps, ns, local, double or single)
    for prefix, local, content in _XMP_ELEMENT.findall(text):
        ns = prefixes.get(prefix, "unknown:" + prefix)
        _xmp_property(notes, gps, ns, local, content if content.strip() else "x")


# --- IPTC (IIM) and Photoshop resources -------------------------------------------------------

_IIM_RECORD2: Final[dict[int, str | None]] = {
    0: None,  # record version
    5: DETAIL_COMMENTS,  # object name
    12: DETAIL_COMMENTS,  # subject reference
    15: DETAIL_COMMENTS,  # category
    20: DETAIL_COMMENTS,  # supplemental category
    25: DETAIL_COMMENTS,  # keywords
    40: DETAIL_COMMENTS,  # special instructions
    105: DETAIL_COMMENTS,  # headline
    120: DETAIL_COMMENTS,  # caption
    55: DETAIL_TAKEN,  # date created
    60: DETAIL_TAKEN,  # time created
    62: DETAIL_TAKEN,  # digital creation date
    63: DETAIL_TAKEN,  # digital creation time
    65: DETAIL_SOFTWARE,  # originating program
    70: DETAIL_SOFTWARE,  # program version
    80: DETAIL_OWNER,  # by-line
    85: DETAIL_OWNER,  # by-line title
    110: DETAIL_OWNER,  # credit
    115: DETAIL_OWNER,  # source
    116: DETAIL_OWNER,  # copyright notice
    118: DETAIL_OWNER,  # contact
    122: DETAIL_OWNER,  # writer
    26: DETAIL_PLACE,  # content location code
    27: DETAIL_PLACE,  # content location name
    90: DETAIL_PLACE,  # city
    92: DETAIL_PLACE,  # sub-location
    95: DETAIL_PLACE,  # province or state
    100: DETAIL_PLACE,  # country code
    101: DETAIL_PLACE,  # country name
}


def _read_iim(notes: _Notes, data: bytes) -> None:
    """IPTC-IIM datasets: tag byte 0x1C, record, dataset, length, value."""
    pos = 0
    while pos + 5 <= len(data):
        if data[pos] != 0x1C:
            if data[pos:].strip(b"\x00"):
                notes.damaged()
            return
        record, dataset = data[pos + 1], data[pos + 2]
        length = int.from_bytes(data[pos + 3 : pos + 5], "big")
        pos += 5
        if length & 0x8000:  # an extended length: its size in bytes, then the length
            size = length & 0x7FFF
            if size > 4 or pos + size > len(data):
                notes.damaged()
                return
            length = int.from_bytes(data[pos : pos + size], "big")
            pos += size
        value = data[pos : pos + length]
        pos += length
        if len(value) < length:
            notes.damaged()
            return
        if not _meaningful(value):
            continue
        if record == 2:
            notes.add(_IIM_RECORD2.get(dataset, DETAIL_OTHER))
        elif not (record == 1 and dataset in (0, 90)):  # version, character set
            notes.add(DETAIL_OTHER)


_IRB_SIGNATURES: Final = (b"8BIM", b"PHUT", b"AgHg", b"DCSR", b"MeSa")


def _read_irb(notes: _Notes, data: bytes) -> None:
    """Photoshop image resources ("8BIM" blocks): IPTC, thumbnails, EXIF, XMP, captions."""
    pos = 0
    while pos + 12 <= len(data):
        if data[pos : pos + 4] not in _IRB_SIGNATURES:
            if data[pos:].strip(b"\x00"):
                notes.damaged()
            return
        resource = int.from_bytes(data[pos + 4 : pos + 6], "big")
        name_length = data[pos + 6]
        p = pos + 6 + name_length + 1
        p += (name_length + 1) & 1  # the name is padded to an even length
        if p + 4 > len(data):
            notes.damaged()
            return
        size = int.from_bytes(data[p : p + 4], "big")
        value = data[p + 4 : p + 4 + size]
        if len(value) < size:
            notes.damaged()
            return
        pos = p + 4 + size + (size & 1)
        if resource == 0x0404:
            _read_iim(notes, value)
        elif resource in (0x0409, 0x040C):
            notes.add(DETAIL_THUMBNAIL)
        elif resource in (0x0422, 0x0423):
            _read_exif(notes, value)
        elif resource == 0x0424:
            _read_xmp(notes, value)
        elif resource == 0x03F0 and _meaningful(value):
            notes.add(DETAIL_COMMENTS)
        elif resource == 0x040B and _meaningful(value):
            notes.add(DETAIL_OTHER)  # a web address
        elif resource == 0x0421:
            notes.add(DETAIL_SOFTWARE)  # which program wrote the file


# --- reading a file's structure ---------------------------------------------------------------

_DATA: Final = -1  # a JPEG scan's compressed picture data
_TRAILER: Final = -2  # bytes after the picture's end
_GIF_HEAD: Final = -3  # a GIF's header, screen descriptor and colour table


@dataclass(frozen=True, slots=True)
class _Block:
    """One block of a file: a JPEG marker, a PNG or WebP chunk type, or one of the above."""

    kind: int | bytes
    start: int
    end: int
    payload: bytes | None = None


class _Broken(Exception):
    """The file's structure stops making sense at ``offset`` (``cut_short``: it ends early)."""

    def __init__(self, offset: int, cut_short: bool) -> None:
        super().__init__(offset)
        self.offset = offset
        self.cut_short = cut_short


_END_OF_SCAN: Final = re.compile(rb"\xff[^\x00\xd0-\xd7\xff]")


def _end_of_scan(f: IO[bytes], pos: int, size: int) -> int:
    """Where a JPEG scan's compressed data ends: the first 0xFF that is not stuffing (FF 00),
    a restart marker (FF D0-D7) or fill (FF FF). Read 1 MiB at a time."""
    f.seek(pos)
    offset = pos
    carry = b""
    while True:
        chunk = f.read(_SCAN_CHUNK)
        if not chunk:
            return size
        buf = carry + chunk
        m = _END_OF_SCAN.search(buf)
        if m is not None:
            return offset - len(carry) + m.start()
        carry = b"\xff" if buf.endswith(b"\xff") else b""
        offset += len(chunk)


# Markers that make up the picture: frame headers (SOF0-SOF15, with DHT and DAC among them),
# restart markers, start and end of image, scan headers, quantisation tables, number of lines,
# restart interval, and TEM.
_JPEG_PICTURE_MARKERS: Final = frozenset(range(0xC0, 0xDE)) | {0x01}


def _is_meta_marker(marker: int) -> bool:
    """A segment that is not part of the picture: APPn, COM, and any other (reserved or
    unknown) marker. Its contents are read when checking and it is left out of a copy."""
    return marker not in _JPEG_PICTURE_MARKERS


def _jpeg_blocks(f: IO[bytes], size: int) -> Iterator[_Block]:
    """A JPEG's segments in order; APPn and COM segments with their contents."""
    f.seek(0)
    if f.read(2) != b"\xff\xd8":
        raise _Broken(0, False)
    pos = 2
    while True:
        f.seek(pos)
        two = f.read(2)
        if len(two) < 2:
            raise _Broken(pos, True)
        if two[0] != 0xFF:
            raise _Broken(pos, False)
        marker = two[1]
        if marker == 0xFF:  # fill byte before a marker
            pos += 1
            continue
        if marker == 0xD9:
            yield _Block(marker, pos, pos + 2)
            if size > pos + 2:
                yield _Block(_TRAILER, pos + 2, size)
            return
        if marker == 0x01 or 0xD0 <= marker <= 0xD7:
            yield _Block(marker, pos, pos + 2)
            pos += 2
            continue
        if marker in (0x00, 0xD8):
            raise _Broken(pos, False)
        head = f.read(2)
        if len(head) < 2:
            raise _Broken(pos, True)
        length = int.from_bytes(head, "big")
        if length < 2:
            raise _Broken(pos, False)
        end = pos + 2 + length
        if end > size:
            raise _Broken(pos, True)
        payload = f.read(length - 2) if _is_meta_marker(marker) else None
        yield _Block(marker, pos, end, payload)
        pos = end
        if marker == 0xDA:
            scan_end = _end_of_scan(f, pos, size)
            yield _Block(_DATA, pos, scan_end)
            if scan_end >= size:
                raise _Broken(size, True)
            pos = scan_end


PNG_SIGNATURE: Final = b"\x89PNG\r\n\x1a\n"
_PNG_READ: Final = frozenset({b"tEXt", b"zTXt", b"iTXt", b"eXIf"})


def _png_blocks(f: IO[bytes], size: int) -> Iterator[_Block]:
    """A PNG's chunks in order (``start``..``end`` covers length, type, data and CRC); text
    and EXIF chunks with their data."""
    f.seek(0)
    if f.read(8) != PNG_SIGNATURE:
        raise _Broken(0, False)
    pos = 8
    while True:
        f.seek(pos)
        head = f.read(8)
        if len(head) < 8:
            raise _Broken(pos, True)
        length = int.from_bytes(head[:4], "big")
        kind = head[4:]
        if length > 0x7FFFFFFF or not kind.isalpha():
            raise _Broken(pos, False)
        end = pos + 12 + length
        if end > size:
            raise _Broken(pos, True)
        payload = f.read(length) if kind in _PNG_READ and length <= MAX_CHUNK else None
        yield _Block(kind, pos, end, payload)
        if kind == b"IEND":
            if size > end:
                yield _Block(_TRAILER, end, size)
            return
        pos = end


_WEBP_READ: Final = frozenset({b"VP8X", b"EXIF", b"XMP "})


def _webp_blocks(f: IO[bytes], size: int) -> Iterator[_Block]:
    """A WebP's RIFF chunks in order (``end`` includes the padding byte); VP8X, EXIF and XMP
    with their data."""
    f.seek(0)
    head = f.read(12)
    if len(head) < 12 or head[:4] != b"RIFF" or head[8:12] != b"WEBP":
        raise _Broken(0, False)
    riff_end = 8 + int.from_bytes(head[4:8], "little")
    cut_short = riff_end > size
    riff_end = min(riff_end, size)
    pos = 12
    while pos + 8 <= riff_end:
        f.seek(pos)
        chunk_head = f.read(8)
        kind = chunk_head[:4]
        length = int.from_bytes(chunk_head[4:8], "little")
        data_end = pos + 8 + length
        if data_end > riff_end:
            raise _Broken(pos, True)
        payload = f.read(length) if kind in _WEBP_READ and length <= MAX_CHUNK else None
        padded = min(data_end + (length & 1), riff_end)
        yield _Block(kind, pos, padded, payload)
        pos = padded
    if cut_short:
        raise _Broken(size, True)
    if pos != riff_end:
        raise _Broken(pos, False)
    if size > riff_end:
        yield _Block(_TRAILER, riff_end, size)


def _sub_blocks(f: IO[bytes], pos: int, size: int, *, collect: bool) -> tuple[int, bytes]:
    """GIF data sub-blocks from ``pos``: where they end, and (when ``collect``) their bytes
    with the length bytes (up to ``MAX_CHUNK``)."""
    f.seek(pos)
    parts: list[bytes] = []
    total = 0
    while True:
        length_byte = f.read(1)
        if not length_byte:
            raise _Broken(pos, True)
        length = length_byte[0]
        pos += 1
        if length == 0:
            return pos, b"".join(parts)
        if pos + length > size:
            raise _Broken(pos, True)
        if collect and total < MAX_CHUNK:
            parts.append(length_byte + f.read(length))
            total += length + 1
        else:
            f.seek(length, os.SEEK_CUR)
        pos += length


def _unblock(raw: bytes) -> bytes:
    """GIF sub-blocks (length byte, data) joined into their data."""
    out = bytearray()
    pos = 0
    while pos < len(raw):
        length = raw[pos]
        out += raw[pos + 1 : pos + 1 + length]
        pos += 1 + length
    return bytes(out)


def _gif_blocks(f: IO[bytes], size: int) -> Iterator[_Block]:
    """A GIF's blocks in order: the header with its colour table, extensions (comment and
    application extensions with their sub-blocks, payload = label + raw sub-blocks), images,
    the trailer."""
    f.seek(0)
    head = f.read(13)
    if len(head) < 13 or head[:6] not in (b"GIF87a", b"GIF89a"):
        raise _Broken(0, False)
    flags = head[10]
    pos = 13 + ((3 << ((flags & 7) + 1)) if flags & 0x80 else 0)
    if pos > size:
        raise _Broken(13, True)
    yield _Block(_GIF_HEAD, 0, pos)
    while True:
        f.seek(pos)
        introducer = f.read(1)
        if not introducer:
            raise _Broken(pos, True)
        if introducer == b";":
            yield _Block(0x3B, pos, pos + 1)
            if size > pos + 1:
                yield _Block(_TRAILER, pos + 1, size)
            return
        if introducer == b"!":
            label = f.read(1)
            if not label:
                raise _Broken(pos, True)
            end, raw = _sub_blocks(f, pos + 2, size, collect=label[0] in (0x01, 0xFE, 0xFF))
            yield _Block(0x21, pos, end, label + raw)
        elif introducer == b",":
            descriptor = f.read(9)
            if len(descriptor) < 9:
                raise _Broken(pos, True)
            local = descriptor[8]
            start = pos + 10 + ((3 << ((local & 7) + 1)) if local & 0x80 else 0) + 1
            if start > size:
                raise _Broken(pos, True)
            end, _ = _sub_blocks(f, start, size, collect=False)
            yield _Block(0x2C, pos, end)
        else:
            raise _Broken(pos, False)
        pos = end


def _trailer_says_something(f: IO[bytes], start: int, size: int) -> bool:
    """Bytes after a picture's end that are more than padding."""
    if size - start > _TRAILER_LOOK:
        return True
    f.seek(start)
    return bool(f.read(_TRAILER_LOOK).strip(b"\x00\xff"))


# --- looking inside one picture ---------------------------------------------------------------


def _read_jpeg(notes: _Notes, f: IO[bytes], size: int) -> None:
    photoshop = bytearray()
    extended: dict[bytes, list[tuple[int, bytes]]] = {}
    extended_size = 0
    try:
        for block in _jpeg_blocks(f, size):
            if block.kind == _TRAILER:
                if _trailer_says_something(f, block.start, size):
                    notes.add(DETAIL_TRAILER)
                continue
            payload = block.payload
            if payload is None or not isinstance(block.kind, int):
                continue
            marker = block.kind
            if marker == 0xFE:
                if _meaningful(payload):
                    notes.add(DETAIL_COMMENTS)
            elif marker == 0xE0:
                if payload.startswith(b"JFIF\x00"):
                    if len(payload) >= 14 and (payload[12] or payload[13]):
                        notes.add(DETAIL_THUMBNAIL)
                elif payload.startswith(b"JFXX\x00"):
                    notes.add(DETAIL_THUMBNAIL)
                else:
                    notes.add(DETAIL_OTHER)
            elif marker == 0xE1:
                if payload.startswith(b"Exif\x00"):
                    _read_exif(notes, payload[6:])
                elif payload.startswith(b"http://ns.adobe.com/xap/1.0/\x00"):
                    _read_xmp(notes, payload[29:])
                elif payload.startswith(b"http://ns.adobe.com/xmp/extension/\x00"):
                    part = payload[35:]
                    if len(part) >= 40 and extended_size < MAX_XMP:
                        guid, offset = part[:32], int.from_bytes(part[36:40], "big")
                        extended.setdefault(guid, []).append((offset, part[40:]))
                        extended_size += len(part)
                    else:
                        notes.add(DETAIL_OTHER)
                else:
                    notes.add(DETAIL_OTHER)
            elif marker == 0xE2:
                if payload.startswith(b"MPF\x00"):
                    notes.add(DETAIL_EXTRA_PICTURES)
                elif not payload.startswith(b"ICC_PROFILE\x00"):
                    notes.add(DETAIL_OTHER)
            elif marker == 0xED and payload.startswith(b"Photoshop 3.0\x00"):
                if len(photoshop) < MAX_XMP:
                    photoshop += payload[14:]
            elif marker == 0xEE and payload.startswith(b"Adobe"):
                continue  # colour transform: needed to show the picture
            elif _meaningful(payload):
                notes.add(DETAIL_OTHER)
    except _Broken as exc:
        notes.warn(WARN_CUT_SHORT if exc.cut_short else WARN_DAMAGED)
    if photoshop:
        _read_irb(notes, bytes(photoshop))
    for parts in extended.values():
        _read_xmp(notes, b"".join(data for _, data in sorted(parts)))


_PNG_STRUCTURAL: Final = frozenset(
    {
        b"IHDR",
        b"PLTE",
        b"IDAT",
        b"IEND",
        b"tRNS",
        b"gAMA",
        b"cHRM",
        b"sRGB",
        b"iCCP",
        b"cICP",
        b"mDCV",
        b"cLLI",
        b"mDCv",
        b"cLLi",
        b"pHYs",
        b"sBIT",
        b"bKGD",
        b"acTL",
        b"fcTL",
        b"fdAT",
    }
)
# Ancillary chunks about layout or decoding that say nothing about anyone (a copy leaves them
# out all the same).
_PNG_LAYOUT: Final = frozenset(
    {b"hIST", b"sPLT", b"iDOT", b"sTER", b"oFFs", b"sCAL", b"pCAL", b"vpAg", b"caNv", b"orNT"}
)
_PNG_TEXT_KEYS: Final[dict[str, str | None]] = {
    "author": DETAIL_OWNER,
    "artist": DETAIL_OWNER,
    "copyright": DETAIL_OWNER,
    "disclaimer": DETAIL_OWNER,
    "owner": DETAIL_OWNER,
    "comment": DETAIL_COMMENTS,
    "description": DETAIL_COMMENTS,
    "title": DETAIL_COMMENTS,
    "caption": DETAIL_COMMENTS,
    "warning": DETAIL_COMMENTS,
    "keywords": DETAIL_COMMENTS,
    "subject": DETAIL_COMMENTS,
    "label": DETAIL_COMMENTS,
    "software": DETAIL_SOFTWARE,
    "creation time": DETAIL_TAKEN,
    "date": DETAIL_TAKEN,
    "datetime": DETAIL_TAKEN,
    "date:create": DETAIL_CHANGED,
    "date:modify": DETAIL_CHANGED,
    "date:timestamp": DETAIL_CHANGED,
    "modify-date": DETAIL_CHANGED,
    "source": DETAIL_DEVICE,
    "make": DETAIL_DEVICE,
    "model": DETAIL_DEVICE,
    "camera": DETAIL_DEVICE,
    "raw profile type icc": None,
    "raw profile type icm": None,
}


def _inflate(data: bytes) -> bytes:
    """Compressed PNG text, expanded to at most ``MAX_INFLATE`` bytes."""
    return zlib.decompressobj().decompress(data, MAX_INFLATE)


def _png_text(kind: bytes, payload: bytes) -> tuple[str, bytes]:
    """The keyword and text of a tEXt, zTXt or iTXt chunk."""
    keyword, _, rest = payload.partition(b"\x00")
    key = keyword.decode("latin-1").strip()
    if kind == b"tEXt":
        return key, rest
    if kind == b"zTXt":
        return key, _inflate(rest[1:])
    compressed = rest[:1] == b"\x01"
    parts = rest[2:].split(b"\x00", 2)  # language, translated keyword, text
    text = parts[2] if len(parts) == 3 else b""
    return key, _inflate(text) if compressed else text


def _raw_profile(text: bytes) -> bytes:
    """ImageMagick's "Raw profile type ..." text: a name line, a length line, then hex."""
    lines = text.strip().split(b"\n")
    if len(lines) < 3:
        raise ValueError("not a raw profile")
    length = int(lines[1].strip())
    data = bytes.fromhex(b"".join(line.strip() for line in lines[2:]).decode("ascii"))
    return data[:length]


def _read_png_text(notes: _Notes, key: str, text: bytes) -> None:
    lower = key.lower()
    if lower == "xml:com.adobe.xmp":
        _read_xmp(notes, text)
        return
    if not _meaningful(text):
        return
    if lower in ("raw profile type exif", "raw profile type app1", "exif"):
        try:
            blob = _raw_profile(text) if lower != "exif" or b"\n" in text[:4] else text
        except ValueError:
            notes.damaged()
            return
        _read_exif(notes, blob)
    elif lower in ("raw profile type iptc", "raw profile type 8bim"):
        try:
            blob = _raw_profile(text)
        except ValueError:
            notes.damaged()
            return
        _read_irb(notes, blob) if blob.startswith(b"8BIM") else _read_iim(notes, blob)
    elif lower == "raw profile type xmp":
        try:
            _read_xmp(notes, _raw_profile(text))
        except ValueError:
            notes.damaged()
    else:
        notes.add(_PNG_TEXT_KEYS.get(lower, DETAIL_OTHER))


def _read_png(notes: _Notes, f: IO[bytes], size: int) -> None:
    try:
        for block in _png_blocks(f, size):
            kind = block.kind
            if kind == _TRAILER:
                if _trailer_says_something(f, block.start, size):
                    notes.add(DETAIL_TRAILER)
                continue
            if not isinstance(kind, bytes) or kind in _PNG_STRUCTURAL or kind in _PNG_LAYOUT:
                continue
            if kind == b"tIME":
                notes.add(DETAIL_CHANGED)
            elif block.payload is None:
                notes.add(DETAIL_OTHER)  # an unknown chunk, or one too large to read
            elif kind == b"eXIf":
                _read_exif(notes, block.payload)
            else:
                try:
                    key, text = _png_text(kind, block.payload)
                except (zlib.error, ValueError):
                    notes.damaged()
                    continue
                _read_png_text(notes, key, text)
    except _Broken as exc:
        notes.warn(WARN_CUT_SHORT if exc.cut_short else WARN_DAMAGED)


_WEBP_STRUCTURAL: Final = frozenset({b"VP8X", b"VP8 ", b"VP8L", b"ALPH", b"ANIM", b"ANMF", b"ICCP"})


def _read_webp(notes: _Notes, f: IO[bytes], size: int) -> None:
    try:
        for block in _webp_blocks(f, size):
            kind = block.kind
            if kind == _TRAILER:
                if _trailer_says_something(f, block.start, size):
                    notes.add(DETAIL_TRAILER)
            elif kind == b"EXIF":
                if block.payload is None:
                    notes.add(DETAIL_OTHER)
                else:
                    _read_exif(notes, block.payload)
            elif kind == b"XMP ":
                if block.payload is None:
                    notes.add(DETAIL_OTHER)
                else:
                    _read_xmp(notes, block.payload)
            elif kind not in _WEBP_STRUCTURAL:
                notes.add(DETAIL_OTHER)
    except _Broken as exc:
        notes.warn(WARN_CUT_SHORT if exc.cut_short else WARN_DAMAGED)


# GIF application extensions that a copy keeps: looping, and the colour profile.
_GIF_KEEP_APPS: Final = frozenset({b"NETSCAPE2.0", b"ANIMEXTS1.0", b"ICCRGBG1012"})


def _gif_application(raw: bytes) -> bytes:
    """An application extension's identifier and authentication code (11 bytes)."""
    return raw[1:12] if raw[:1] == b"\x0b" else raw[1 : 1 + raw[0]] if raw else b""


def _read_gif(notes: _Notes, f: IO[bytes], size: int) -> None:
    try:
        for block in _gif_blocks(f, size):
            if block.kind == _TRAILER:
                if _trailer_says_something(f, block.start, size):
                    notes.add(DETAIL_TRAILER)
                continue
            if block.kind != 0x21 or not block.payload:
                continue
            label, raw = block.payload[0], block.payload[1:]
            if label == 0xFE:
                if _meaningful(_unblock(raw)):
                    notes.add(DETAIL_COMMENTS)
            elif label == 0x01:
                # Plain text meant to be drawn over the picture, which viewers (Pillow and web
                # browsers among them) do not draw: text kept out of sight, like a comment.
                if _meaningful(_unblock(raw)[12:]):
                    notes.add(DETAIL_COMMENTS)
            elif label == 0xFF:
                application = _gif_application(raw)
                if application == b"XMP DataXMP":
                    _read_xmp(notes, raw[12:])  # XMP is stored raw, length bytes and all
                elif application not in _GIF_KEEP_APPS:
                    notes.add(DETAIL_OTHER)
            elif label != 0xF9:  # graphic control: how the next picture is shown
                notes.add(DETAIL_OTHER)
    except _Broken as exc:
        notes.warn(WARN_CUT_SHORT if exc.cut_short else WARN_DAMAGED)


def _read_tiff(notes: _Notes, f: IO[bytes], size: int) -> None:
    with warnings.catch_warnings(record=True) as noted:
        warnings.simplefilter("always")
        try:
            f.seek(0)
            with Image.open(f, formats=("TIFF",)) as im:
                _exif_fields(notes, im.getexif(), in_tiff=True)
                if getattr(im, "n_frames", 1) > 1:
                    notes.add(DETAIL_EXTRA_PICTURES)
        except Image.DecompressionBombError:
            notes.warn(_too_large_to_check(size))
        except Exception:  # damaged metadata: noted, never fatal
            notes.damaged()
    if any("corrupt" in str(w.message).lower() for w in noted):
        notes.damaged()


def _too_large_to_check(size: int) -> str:
    return (
        f"This picture is too large for Docket to look inside ({size >> 20} MiB, or more "
        "pixels than any camera or phone makes), so it may hold details Docket could not check."
    )


def _read_heif(notes: _Notes, f: IO[bytes], size: int) -> None:
    if size > MAX_WHOLE_READ:
        notes.warn(_too_large_to_check(size))
        return
    _register_heif()
    import pillow_heif

    try:
        f.seek(0)
        heif = pillow_heif.open_heif(f, convert_hdr_to_8bit=False)
    except Exception:  # a damaged picture: noted, never fatal
        notes.warn(WARN_DAMAGED)
        return
    try:
        if len(heif) > 1:
            notes.add(DETAIL_EXTRA_PICTURES)
        for picture in heif:
            info = picture.info
            exif = info.get("exif")
            if isinstance(exif, bytes) and exif:
                _read_exif(notes, exif)
            xmp = info.get("xmp")
            if isinstance(xmp, bytes) and xmp:
                _read_xmp(notes, xmp)
            metadata = info.get("metadata")
            for item in metadata if isinstance(metadata, list) else []:
                data = item.get("data") if isinstance(item, dict) else None
                kind = str(item.get("type", "")).lower() if isinstance(item, dict) else ""
                if kind == "iptc" and isinstance(data, bytes):
                    _read_iim(notes, data)
                elif data:
                    notes.add(DETAIL_OTHER)
            if info.get("thumbnails"):
                notes.add(DETAIL_THUMBNAIL)
            if info.get("depth_images") or info.get("aux"):
                notes.add(DETAIL_EXTRA_PICTURES)
    except Exception:  # damaged metadata: noted, never fatal
        notes.damaged()


_READERS: Final[dict[str, Callable[[_Notes, IO[bytes], int], None]]] = {
    "image/jpeg": _read_jpeg,
    "image/png": _read_png,
    "image/webp": _read_webp,
    "image/gif": _read_gif,
    "image/tiff": _read_tiff,
    "image/heic": _read_heif,
    "image/heif": _read_heif,
}


def _unsupported(media_type: str) -> str:
    return (
        f"Docket cannot look inside this kind of file ({describe(media_type)}). It checks "
        "JPEG, PNG, HEIC, WebP, TIFF and GIF pictures."
    )


def _examine(f: IO[bytes], size: int) -> tuple[str, _Notes]:
    """The type of the file open as ``f`` and what it says. Never raises for a damaged or
    unknown file: what could not be checked is a warning."""
    f.seek(0)
    media_type = sniff_head(f.read(_HEAD))
    notes = _Notes()
    reader = _READERS.get(media_type)
    if reader is None:
        notes.warn(_unsupported(media_type))
        return media_type, notes
    try:
        reader(notes, f, size)
    except Exception:  # whatever a damaged file does, it is a warning, never a crash
        notes.warn(WARN_DAMAGED)
    return media_type, notes


def inspect(data_or_path: Path | bytes, name: str | None = None) -> PhotoFinding:
    """What one picture gives away. The type is read from the contents, never the name; a
    damaged picture gets a finding with a warning. A path is read a block at a time, not
    whole. Raises :class:`PhotoCheckError` only when a path cannot be opened."""
    if isinstance(data_or_path, bytes | bytearray | memoryview):
        data = bytes(data_or_path)
        media_type, notes = _examine(io.BytesIO(data), len(data))
        return notes.finding(name or "picture", media_type)
    path = Path(data_or_path)
    label = name or path.name
    try:
        with path.open("rb") as f:
            media_type, notes = _examine(f, os.fstat(f.fileno()).st_size)
    except OSError as exc:
        raise _unreadable(label, exc) from exc
    return notes.finding(label, media_type)


# --- making a copy ----------------------------------------------------------------------------


def _problem(message: str, cause: str, hint: str, name: str) -> PhotoCheckError:
    return PhotoCheckError(message, cause=cause, hint=hint, location=Location(file=name or None))


def _unreadable(name: str, exc: OSError) -> PhotoCheckError:
    return _problem(
        "Docket could not read this picture.",
        f"The computer reported: {exc.strerror or exc}.",
        "Check that the file is still there and that you are allowed to open it, then try again.",
        name,
    )


def _damaged(name: str) -> PhotoCheckError:
    return _problem(
        "This picture is damaged, so Docket has not made a copy of it.",
        "Part of the file could not be read: the copy or download may not have finished, or "
        "the file was changed after it was made.",
        "Copy the picture again from the phone or camera it came from, then try again. The "
        "original has not been changed.",
        name,
    )


def _too_large(name: str, size: int) -> PhotoCheckError:
    return _problem(
        "This picture is too large for Docket to copy.",
        f"It is {size / (1 << 20):.0f} MiB, or has more pixels than any camera or phone makes; "
        f"Docket copies pictures of up to {MAX_CLEAN >> 20} MiB.",
        "Make a smaller copy in your photo app (for example by exporting or sharing it as a "
        "JPEG), then try again with that copy.",
        name,
    )


def _not_exact(name: str) -> PhotoCheckError:
    return _problem(
        "Docket could not make an exact copy of this picture, so it has not made one.",
        "The copy did not show exactly the same picture as the original.",
        "Open the picture in your photo app and export or share it as a JPEG or PNG, then try "
        "again with that copy.",
        name,
    )


def _still_reveals(name: str, finding: PhotoFinding) -> PhotoCheckError:
    found = "; ".join(finding.details) or "; ".join(finding.warnings)
    return _problem(
        "Docket could not take all the information out of this picture, so it has not made a copy.",
        f"Checking the copy still found: {found}.",
        "Keep the original private. One way round this is to take a screenshot of the picture "
        "on a device you trust, and check the screenshot with Docket.",
        name,
    )


def _read_all(src: Path | bytes, name: str) -> bytes:
    if isinstance(src, bytes | bytearray | memoryview):
        data = bytes(src)
        if len(data) > MAX_CLEAN:
            raise _too_large(name, len(data))
        return data
    try:
        with Path(src).open("rb") as f:
            size = os.fstat(f.fileno()).st_size
            if size > MAX_CLEAN:
                raise _too_large(name, size)
            return f.read(MAX_CLEAN + 1)
    except OSError as exc:
        raise _unreadable(name, exc) from exc


def _segment(marker: int, payload: bytes) -> bytes:
    return bytes((0xFF, marker)) + (len(payload) + 2).to_bytes(2, "big") + payload


def _clean_jpeg(data: bytes, orientation: int) -> tuple[bytes, list[str]]:
    """SOI, JFIF (without its thumbnail), a minimal EXIF holding only Orientation when that is
    not 1, ICC profile and Adobe segments, then every other segment and all compressed data
    unchanged, up to EOI. EXIF, XMP, IPTC, other APPn and COM segments and anything after EOI
    are left out."""
    out = bytearray(b"\xff\xd8")
    kept = [KEPT_PICTURE]
    pending = orientation != 1
    jfif_written = False
    for block in _jpeg_blocks(io.BytesIO(data), len(data)):
        kind, payload = block.kind, block.payload or b""
        if kind == _TRAILER:
            break
        if kind == _DATA:
            out += data[block.start : block.end]
            continue
        assert isinstance(kind, int)
        is_jfif = (
            kind == 0xE0
            and not jfif_written
            and payload.startswith(b"JFIF\x00")
            and len(payload) >= 14
        )
        if pending and not is_jfif:
            out += _segment(0xE1, b"Exif\x00\x00" + _exif_orientation_block(orientation))
            kept.append(KEPT_ORIENTATION)
            pending = False
        if is_jfif:
            out += _segment(0xE0, payload[:12] + b"\x00\x00")  # no thumbnail
            jfif_written = True
        elif kind == 0xE2 and payload.startswith(b"ICC_PROFILE\x00"):
            out += data[block.start : block.end]
            if KEPT_COLOUR not in kept:
                kept.append(KEPT_COLOUR)
        elif kind == 0xEE and payload.startswith(b"Adobe"):
            out += data[block.start : block.end]
            if KEPT_COLOUR_SETTINGS not in kept:
                kept.append(KEPT_COLOUR_SETTINGS)
        elif _is_meta_marker(kind):
            continue
        else:
            out += data[block.start : block.end]
            if kind == 0xD9:
                break
    return bytes(out), kept


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return len(data).to_bytes(4, "big") + kind + data + zlib.crc32(kind + data).to_bytes(4, "big")


def _clean_png(data: bytes, orientation: int) -> tuple[bytes, list[str]]:
    """Critical chunks and colour, transparency, print-size and animation chunks, copied with
    their CRCs; a minimal eXIf holding only Orientation before the image data when that is not
    1. Text, EXIF, time and unknown chunks and anything after IEND are left out."""
    out = bytearray(PNG_SIGNATURE)
    kept = [KEPT_PICTURE]
    pending = orientation != 1
    for block in _png_blocks(io.BytesIO(data), len(data)):
        kind = block.kind
        if kind == _TRAILER or not isinstance(kind, bytes):
            break
        if pending and kind in (b"IDAT", b"IEND"):
            out += _png_chunk(b"eXIf", _exif_orientation_block(orientation))
            kept.append(KEPT_ORIENTATION)
            pending = False
        if kind in _PNG_STRUCTURAL or kind[:1].isupper():
            out += data[block.start : block.end]
            if kind in (b"iCCP", b"sRGB", b"cICP") and KEPT_COLOUR not in kept:
                kept.append(KEPT_COLOUR)
            elif kind == b"acTL":
                kept.append(KEPT_ANIMATION)
            elif kind == b"tRNS":
                kept.append(KEPT_TRANSPARENCY)
        if kind == b"IEND":
            break
    return bytes(out), kept


def _riff_chunk(kind: bytes, data: bytes) -> bytes:
    return kind + len(data).to_bytes(4, "little") + data + (b"\x00" if len(data) & 1 else b"")


def _clean_webp(data: bytes, orientation: int) -> tuple[bytes, list[str]]:
    """The picture, alpha, animation and ICC chunks, with VP8X's EXIF and XMP flags cleared
    (and EXIF set again for a minimal EXIF chunk holding only Orientation when that is not 1)
    and the RIFF size fixed. EXIF, XMP, unknown chunks and anything after the RIFF data are
    left out."""
    body = bytearray()
    kept = [KEPT_PICTURE]
    extended = False
    for block in _webp_blocks(io.BytesIO(data), len(data)):
        kind = block.kind
        if kind == _TRAILER or not isinstance(kind, bytes):
            continue
        length = int.from_bytes(data[block.start + 4 : block.start + 8], "little")
        content = data[block.start + 8 : block.start + 8 + length]
        if kind == b"VP8X":
            flags = bytearray(content)
            if flags:
                flags[0] &= ~0x0C & 0xFF  # EXIF (0x08) and XMP (0x04)
                if orientation != 1:
                    flags[0] |= 0x08
                if flags[0] & 0x20:
                    kept.append(KEPT_COLOUR)
                if flags[0] & 0x02:
                    kept.append(KEPT_ANIMATION)
            body += _riff_chunk(kind, bytes(flags))
            extended = True
        elif kind in _WEBP_STRUCTURAL:
            body += _riff_chunk(kind, content)
    if orientation != 1 and extended:
        body += _riff_chunk(b"EXIF", _exif_orientation_block(orientation))
        kept.append(KEPT_ORIENTATION)
    return b"RIFF" + (len(body) + 4).to_bytes(4, "little") + b"WEBP" + bytes(body), kept


def _clean_gif(data: bytes) -> tuple[bytes, list[str]]:
    """Header, colour tables, images, graphic-control extensions, and the looping
    (NETSCAPE2.0) and colour-profile application extensions, copied unchanged. Comments,
    plain-text extensions (text viewers do not draw), other application extensions (XMP among
    them) and anything after the trailer are left out."""
    out = bytearray()
    kept = [KEPT_PICTURE]
    for block in _gif_blocks(io.BytesIO(data), len(data)):
        kind = block.kind
        if kind == _TRAILER:
            break
        if kind in (_GIF_HEAD, 0x2C, 0x3B):
            out += data[block.start : block.end]
        elif kind == 0x21 and block.payload:
            label = block.payload[0]
            application = _gif_application(block.payload[1:]) if label == 0xFF else b""
            if label == 0xF9 or application in _GIF_KEEP_APPS:
                out += data[block.start : block.end]
                if application in (b"NETSCAPE2.0", b"ANIMEXTS1.0"):
                    kept.append(KEPT_ANIMATION)
                elif application == b"ICCRGBG1012":
                    kept.append(KEPT_COLOUR)
    return bytes(out), kept


@dataclass(frozen=True)
class _Pixels:
    """A decoded picture: the first frame's mode, size and pixels (as a digest), the number of
    frames, and a digest of every frame in turn (the first frame's when not asked for)."""

    mode: str
    size: tuple[int, int]
    frames: int
    digest: bytes
    every_frame: bytes

    def same(self, other: _Pixels) -> bool:
        return (self.mode, self.size, self.digest) == (other.mode, other.size, other.digest)


def _pixels_of(im: Image.Image, *, every_frame: bool = False) -> _Pixels:
    im.load()
    frames = getattr(im, "n_frames", 1)
    digest = hashlib.sha256(im.tobytes()).digest()
    every = digest
    if every_frame and frames > 1:
        whole = hashlib.sha256()
        for index in range(frames):
            im.seek(index)
            im.load()
            whole.update(f"{index} {im.mode} {im.size}\n".encode())
            whole.update(im.tobytes())
        im.seek(0)
        every = whole.digest()
    return _Pixels(im.mode, im.size, frames, digest, every)


def _decode(
    data: bytes, name: str, formats: Iterable[str] | None = None, *, every_frame: bool = False
) -> _Pixels:
    """The pixels as Pillow decodes them: the first frame's, and every frame's when asked."""
    _register_heif()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with Image.open(io.BytesIO(data), formats=_formats(formats)) as im:
                return _pixels_of(im, every_frame=every_frame)
    except Image.DecompressionBombError as exc:
        raise _too_large(name, len(data)) from exc
    except Exception as exc:  # a picture Pillow cannot decode in full
        raise _damaged(name) from exc


def _formats(wanted: Iterable[str] | None) -> list[str]:
    Image.init()
    names = _OWN_FORMATS + _CONVERT_FORMATS if wanted is None else tuple(wanted)
    return [n for n in names if n in Image.OPEN]


def _cannot_copy_kind(name: str, media_type: str) -> PhotoCheckError:
    return _problem(
        f"Docket cannot copy this kind of file ({describe(media_type)}).",
        "It is not a picture, or not a kind of picture Docket can read.",
        "Docket copies JPEG, PNG, HEIC, WebP, TIFF and GIF pictures. If this is a picture, "
        "open it in your photo app and export or share it as a JPEG, then try again with that "
        "copy.",
        name,
    )


def _several_pictures(name: str, count: int) -> PhotoCheckError:
    return _problem(
        f"This file holds {count} pictures (such as pages or a burst of photos), and Docket can "
        "only copy a file that holds one.",
        "Docket saves the copy as a single picture, so the others would be lost.",
        "Save each picture on its own from your photo app, then try again with those.",
        name,
    )


def _raw_file(name: str) -> PhotoCheckError:
    return _problem(
        "This looks like a camera's raw file, which Docket cannot copy exactly.",
        "A raw file holds the camera's sensor data, and Docket can only read the small preview "
        "inside it.",
        "Export the picture as a JPEG from your photo app, then try again with that copy.",
        name,
    )


def _only_previews(im: Image.Image) -> bool:
    """True when every frame after a TIFF's first is a reduced-resolution preview."""
    if im.format != "TIFF":
        return False
    try:
        for frame in range(1, getattr(im, "n_frames", 1)):
            im.seek(frame)
            tags = getattr(im, "tag_v2", {})
            if not int(tags.get(_NEW_SUBFILE_TYPE, 0)) & 1:
                return False
        return True
    finally:
        im.seek(0)


def _convert(data: bytes, name: str, media_type: str) -> tuple[bytes, str, str, list[str]]:
    """A PNG (or, when PNG cannot hold the pixels exactly, a TIFF) of the decoded picture with
    only its colour profile, transparency and orientation: the bytes, the media type, how it
    was made and what was kept. ``media_type`` is what the file's first bytes say it is."""
    _register_heif()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with Image.open(io.BytesIO(data), formats=_formats(None)) as im:
                source_format = im.format or "picture"
                frames = getattr(im, "n_frames", 1)
                if im.format == "TIFF":
                    tags = getattr(im, "tag_v2", {})
                    if _DNG_VERSION in tags or int(tags.get(_NEW_SUBFILE_TYPE, 0)) & 1:
                        raise _raw_file(name)
                    if data[8:10] == b"CR":
                        raise _raw_file(name)
                if frames > 1 and not _only_previews(im):
                    raise _several_pictures(name, frames)
                before = _pixels_of(im)
                orientation = 1
                if im.format == "TIFF":
                    value = getattr(im, "tag_v2", {}).get(_ORIENTATION, 1)
                    orientation = value if isinstance(value, int) and 1 <= value <= 8 else 1
                icc = im.info.get("icc_profile")
                transparency = im.info.get("transparency")
                pixels = im.copy()
    except PhotoCheckError:
        raise
    except Image.DecompressionBombError as exc:
        raise _too_large(name, len(data)) from exc
    except UnidentifiedImageError as exc:
        if media_type in PICTURE_TYPES:
            raise _damaged(name) from exc
        raise _cannot_copy_kind(name, media_type) from exc
    except Exception as exc:  # a picture Pillow cannot decode in full
        raise _damaged(name) from exc
    pixels.info = {}
    kept = [KEPT_PICTURE]
    options: dict[str, Any] = {}
    if isinstance(icc, bytes) and icc:
        options["icc_profile"] = icc
        kept.append(KEPT_COLOUR)
    if transparency is not None:
        options["transparency"] = transparency
        kept.append(KEPT_TRANSPARENCY)
    if orientation != 1:
        kept.append(KEPT_ORIENTATION)
    for fmt, media_type in (("PNG", "image/png"), ("TIFF", "image/tiff")):
        buf = io.BytesIO()
        extra: dict[str, Any] = {}
        if orientation != 1:
            if fmt == "PNG":
                extra["exif"] = b"Exif\x00\x00" + _exif_orientation_block(orientation)
            else:
                extra["tiffinfo"] = {_ORIENTATION: orientation}
        if fmt == "TIFF":
            extra["compression"] = "tiff_adobe_deflate"
        try:
            pixels.save(buf, fmt, **options, **extra)
        except (OSError, ValueError, KeyError, TypeError):
            continue
        out = buf.getvalue()
        try:
            after = _decode(out, name, (fmt,))
        except PhotoCheckError:
            continue
        if after.same(before):
            method = (
                f"Saved as {fmt}: the picture was copied pixel for pixel into a new {fmt} file, "
                f"because a {source_format} file cannot have its information taken out in place."
            )
            return out, media_type, method, kept
    raise _not_exact(name)


_SURGERY_METHOD: Final = (
    "The blocks of information were taken out of the {kind} file; the picture data was copied "
    "byte for byte{extra}."
)


def _copy_name(name: str, media_type: str) -> str:
    """The copy's file name: the original's, with an extension that matches what it holds."""
    base = PurePosixPath(name.replace("\\", "/")).name.replace("\x00", "").strip() or "picture"
    stem, dot, extension = base.rpartition(".")
    if not dot or not stem:
        stem, extension = base, ""
    allowed = _EXTENSIONS.get(media_type, ())
    if extension.lower() in allowed:
        return base
    return f"{stem}.{allowed[0] if allowed else 'png'}"


def clean(src: Path | bytes, name: str) -> CleanedPhoto:
    """A copy of the picture with the information stored inside it taken out (see the module
    notes for how, per type). The copy is checked before it is returned: its pixels decode to
    exactly the original's, and checking it finds nothing; otherwise, or when the picture is
    damaged, too large or of a kind Docket cannot copy, raises :class:`PhotoCheckError`.
    ``name`` is the original's file name, used for the copy's name and in messages."""
    data = _read_all(src, name)
    media_type, notes = _examine(io.BytesIO(data), len(data))
    surgery: dict[str, tuple[str, Callable[[bytes], tuple[bytes, list[str]]]]] = {
        "image/jpeg": ("JPEG", lambda d: _clean_jpeg(d, notes.orientation)),
        "image/png": ("PNG", lambda d: _clean_png(d, notes.orientation)),
        "image/webp": ("WebP", lambda d: _clean_webp(d, notes.orientation)),
        "image/gif": ("GIF", _clean_gif),
    }
    if media_type in surgery:
        kind, cleaner = surgery[media_type]
        # A JPEG copy keeps only the first picture (a second one after it is left out); the
        # other kinds keep every frame of an animation, and each must stay exactly the same.
        every_frame = media_type != "image/jpeg"
        before = _decode(data, name, every_frame=every_frame)
        try:
            out, kept = cleaner(data)
        except _Broken as exc:
            raise _damaged(name) from exc
        except Exception as exc:  # a layout the copier does not expect: no copy, never a crash
            raise _not_exact(name) from exc
        after = _decode(out, name, every_frame=every_frame)
        if not after.same(before) or (
            every_frame and (after.frames, after.every_frame) != (before.frames, before.every_frame)
        ):
            raise _not_exact(name)
        extra = " (it was not compressed again)" if media_type == "image/jpeg" else ""
        method = _SURGERY_METHOD.format(kind=kind, extra=extra)
        out_type = media_type
    else:
        out, out_type, method, kept = _convert(data, name, media_type)
    check_type, check = _examine(io.BytesIO(out), len(out))
    finding = check.finding(name, check_type)
    if finding.reveals or finding.has_location or finding.warnings or check_type != out_type:
        raise _still_reveals(name, finding)
    removed = tuple(d for d in DETAIL_ORDER if d in notes.details)
    return CleanedPhoto(
        data=out,
        name=_copy_name(name, out_type),
        media_type=out_type,
        method=method,
        kept=tuple(dict.fromkeys(kept)),
        removed=removed,
    )


# --- folders ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Entry:
    path: Path
    relative: str
    error: str = ""


def _folder(folder: Path) -> Path:
    try:
        root = Path(folder).resolve(strict=True)
    except (OSError, RuntimeError) as exc:
        raise _no_folder(folder) from exc
    if not root.is_dir():
        raise _no_folder(folder)
    return root


def _no_folder(folder: Path) -> PhotoCheckError:
    return _problem(
        "Docket could not find the photo folder.",
        f"'{folder}' is not a folder on this computer, or Docket is not allowed to open it.",
        "Check the folder's name and where it is, then try again.",
        str(folder),
    )


def _hidden(name: str) -> bool:
    return name.startswith(".")


def _files(root: Path, recursive: bool) -> Iterator[_Entry]:
    """Every file under ``root`` that is not hidden and not a link, in name order; a folder
    that cannot be opened is reported as an entry with an error."""
    stack: list[tuple[Path, str]] = [(root, "")]
    while stack:
        folder, prefix = stack.pop()
        try:
            with os.scandir(folder) as it:
                entries = sorted(it, key=lambda e: e.name)
        except OSError as exc:
            yield _Entry(
                folder,
                prefix or ".",
                f"Docket could not open this folder, so the pictures in it were not checked "
                f"(the computer reported: {exc.strerror or exc}).",
            )
            continue
        subfolders: list[tuple[Path, str]] = []
        for entry in entries:
            if _hidden(entry.name):
                continue
            relative = f"{prefix}{entry.name}"
            try:
                if entry.is_symlink():
                    continue
                if entry.is_dir(follow_symlinks=False):
                    if recursive:
                        subfolders.append((Path(entry.path), relative + "/"))
                elif entry.is_file(follow_symlinks=False):
                    yield _Entry(Path(entry.path), relative)
            except OSError:
                continue
        stack.extend(reversed(subfolders))


def _looks_like_picture_name(name: str) -> bool:
    return name.rpartition(".")[2].lower() in _PICTURE_EXTENSIONS


def _open_picture(entry: _Entry) -> tuple[str, IO[bytes] | None, str]:
    """The entry's type and an open file when it is a picture (by its first bytes); an error
    when its name says it is a picture but it cannot be read or is not one Docket checks."""
    try:
        f = entry.path.open("rb")
    except OSError as exc:
        if _looks_like_picture_name(entry.relative):
            return "", None, f"Docket could not open this file (the computer reported: {exc})."
        return "", None, ""
    try:
        media_type = sniff_head(f.read(_HEAD))
    except OSError as exc:
        f.close()
        return "", None, f"Docket could not read this file (the computer reported: {exc})."
    if media_type not in PICTURE_TYPES:
        f.close()
        if not _looks_like_picture_name(entry.relative):
            return media_type, None, ""  # not a picture: skipped without a word
        if media_type.startswith("image/"):
            return media_type, None, _unsupported(media_type)
        return media_type, None, _not_recognised(media_type)
    return media_type, f, ""


def _not_recognised(media_type: str) -> str:
    return (
        "This file's name says it is a picture, but Docket does not recognise what is inside "
        f"it ({describe(media_type)}), so Docket has left it alone. It may be damaged, or not "
        "a picture at all."
    )


def scan_folder(folder: Path, *, recursive: bool = True) -> Iterator[PhotoFinding]:
    """What each picture in ``folder`` gives away (in sub-folders too unless ``recursive`` is
    False), in name order. Other files, hidden files and links are skipped; a picture or folder
    that cannot be read is reported with a warning. Files are read a block at a time."""
    root = _folder(folder)
    for entry in _files(root, recursive):
        if entry.error:
            yield PhotoFinding(path=entry.relative, media_type="", warnings=(entry.error,))
            continue
        media_type, f, error = _open_picture(entry)
        if error:
            yield PhotoFinding(path=entry.relative, media_type=media_type, warnings=(error,))
        if f is None:
            continue
        with f:
            try:
                _, notes = _examine(f, os.fstat(f.fileno()).st_size)
            except OSError as exc:
                yield PhotoFinding(
                    path=entry.relative,
                    media_type=media_type,
                    warnings=(f"Docket could not read this file (the computer reported: {exc}).",),
                )
                continue
        yield notes.finding(entry.relative, media_type)


def _same_place(message: str, cause: str, out: Path) -> PhotoCheckError:
    return _problem(
        message,
        cause,
        "Choose a new, empty folder for the copies that is outside the photo folder, then try "
        "again.",
        str(out),
    )


def _output_folder(root: Path, out: Path, recursive: bool) -> Path:
    target = Path(out).resolve()
    if target == root:
        raise _same_place(
            "Docket cannot put the cleaned copies in the folder the photos are in.",
            "The folder for the copies is the photo folder itself, so the copies would sit "
            "next to the originals and could be mixed up with them.",
            out,
        )
    if recursive and target.is_relative_to(root):
        raise _same_place(
            "Docket cannot put the cleaned copies inside the photo folder.",
            "The folder for the copies is inside the photo folder, so Docket would come across "
            "its own copies while it goes through the photos.",
            out,
        )
    if root.is_relative_to(target):
        raise _same_place(
            "Docket cannot put the cleaned copies in a folder that holds the photo folder.",
            "The photo folder is inside the folder chosen for the copies, so copies and "
            "originals would be mixed together.",
            out,
        )
    if target.exists() and not target.is_dir():
        raise _problem(
            "The place chosen for the cleaned copies is a file, not a folder.",
            f"'{out}' already exists and is not a folder.",
            "Choose a new, empty folder for the copies, then try again.",
            str(out),
        )
    try:
        target.mkdir(parents=True, exist_ok=True, mode=0o700)
    except OSError as exc:
        raise _problem(
            "Docket could not make the folder for the cleaned copies.",
            f"The computer reported: {exc.strerror or exc}.",
            "Choose a folder you are allowed to write to (for example in your Documents), "
            "then try again.",
            str(out),
        ) from exc
    return target


def _reserve(folder: Path, name: str) -> Path:
    """A new, empty file named ``name`` in ``folder``, or "name (cleaned 2)" and so on when
    that is taken: created exclusively, so no existing file is ever replaced."""
    stem, dot, extension = name.rpartition(".")
    if not dot or not stem:
        stem, dot, extension = name, "", ""
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
    for attempt in range(1, _MAX_NAME_TRIES + 1):
        candidate = name if attempt == 1 else f"{stem} (cleaned {attempt}){dot}{extension}"
        path = folder / candidate
        try:
            fd = os.open(path, flags, 0o600)
        except FileExistsError:
            continue
        os.close(fd)
        return path
    raise _problem(
        "Docket could not find a free name for the cleaned copy.",
        f"The folder for the copies already holds {_MAX_NAME_TRIES:,} files named like '{name}'.",
        "Choose a new, empty folder for the copies, then try again.",
        name,
    )


def _fsync_folder(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass  # not every file system can sync a folder
    finally:
        os.close(fd)


def _write_copy(folder: Path, cleaned: CleanedPhoto) -> Path:
    """Write the copy to a temporary file in ``folder``, read it back and check it again, then
    move it into place under a name no other file has."""
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd, temp_name = tempfile.mkstemp(prefix=".docket-", suffix=".part", dir=folder)
    temp = Path(temp_name)
    final: Path | None = None
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(cleaned.data)
            fh.flush()
            os.fsync(fh.fileno())
        written = temp.read_bytes()
        check_type, check = _examine(io.BytesIO(written), len(written))
        finding = check.finding(cleaned.name, check_type)
        if written != cleaned.data or finding.reveals or finding.warnings:
            raise _still_reveals(cleaned.name, finding)
        final = _reserve(folder, cleaned.name)
        temp.replace(final)
    except BaseException:
        temp.unlink(missing_ok=True)
        if final is not None and final.exists() and final.stat().st_size == 0:
            final.unlink(missing_ok=True)
        raise
    _fsync_folder(folder)
    return final


def _reason(exc: PhotoCheckError) -> str:
    return " ".join(p for p in (exc.message, exc.cause or "", exc.hint or "") if p)


def clean_folder(src: Path, out: Path, *, recursive: bool = True) -> list[CleanResult]:
    """Cleaned copies of every picture in ``src`` (and its sub-folders unless ``recursive`` is
    False), written into ``out`` in the same layout. Originals are only read. Raises
    :class:`PhotoCheckError` before writing anything when ``out`` is ``src``, inside it (when
    recursive) or holds it; a picture that cannot be copied is reported in its result, with
    the reason, and the others are still written. Other files and hidden files are skipped."""
    root = _folder(src)
    target = _output_folder(root, out, recursive)
    results: list[CleanResult] = []
    for entry in _files(root, recursive):
        if entry.error:
            results.append(CleanResult(path=entry.relative, reason=entry.error))
            continue
        _, f, error = _open_picture(entry)
        if error:
            results.append(CleanResult(path=entry.relative, reason=error))
        if f is None:
            continue
        f.close()
        parent = PurePosixPath(entry.relative).parent
        try:
            cleaned = clean(entry.path, entry.path.name)
            written = _write_copy(target.joinpath(*parent.parts), cleaned)
        except PhotoCheckError as exc:
            results.append(CleanResult(path=entry.relative, reason=_reason(exc)))
            continue
        except OSError as exc:
            results.append(
                CleanResult(
                    path=entry.relative,
                    reason="Docket could not save the cleaned copy (the computer reported: "
                    f"{exc.strerror or exc}). Check that there is space on the disk and that "
                    "you are allowed to write to the folder for the copies.",
                )
            )
            continue
        results.append(
            CleanResult(
                path=entry.relative,
                output=written,
                method=cleaned.method,
                kept=cleaned.kept,
                removed=cleaned.removed,
            )
        )
    return results
