"""Keeping photos and screenshots as evidence, with what they say about themselves: when they
were taken, where, and on which device.

One responsibility: turn one picture (JPEG, PNG, HEIC/HEIF, WebP, TIFF), or a .zip of many,
into ``kind="file"`` items whose attachment is the picture's own bytes, unchanged, with its
embedded metadata copied into ``raw`` as text. It never touches the diary and never changes a
byte of the picture: Pillow reads only the metadata, the pipeline stores the original.

How it reads a picture (``shared/research/formats.md`` §6):

* The type comes from the first bytes, never from the name.
* The capture time is EXIF ``DateTimeOriginal`` (else ``DateTimeDigitized``), with
  ``OffsetTimeOriginal`` (else ``OffsetTime``; ``OffsetTimeDigitized`` for the digitised
  time) when the camera wrote one, which gives an exact UTC instant. Without an offset the
  time is the camera's wall clock, read in ``Context.timezone`` and recorded as an assumption
  (``raw["time_zone_assumed"]``), with a clock-change hour flagged "ambiguous" or
  "nonexistent". Without EXIF times, XMP ``exif:DateTimeOriginal``, ``photoshop:DateCreated``
  or ``xmp:CreateDate`` are used. The last-changed ``DateTime`` is kept but never used as the
  capture time: editing programs reset it. ``local_time`` is the chosen field as written.
* A picture with no capture time (most screenshots) is kept without a time, with a
  ``no_capture_time`` warning; when its name holds a date (``Screenshot_20240131-210512``),
  that is noted in ``raw["name_time"]`` and in the warning, but not used.
* Damaged metadata never stops an import: the picture is kept, with a warning.
* In a zip, each picture is one item, in the zip's own order; other evidence files in it
  (videos, recordings, PDFs) are kept as ``channel="file"`` items exactly as the ``file``
  importer would keep them; anything else is listed in one warning (the whole zip is stored by
  the pipeline anyway). The zip's limits are those of the WhatsApp importer. A member's zip
  date is compared with its capture time (``capture_time_differs``), and so is a single
  picture's modification date when the pipeline knows it (a file on disk, not an upload).
* ``match_body`` is ``"sha256:<hex>"`` of the bytes: two pictures taken in the same second
  are never one item, and the same picture in two imports is recognised as the same.
"""

from __future__ import annotations

import math
import re
import warnings
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import PurePosixPath
from typing import IO, Any, Final
from zoneinfo import ZoneInfo

from PIL import Image

from docket.errors import ImportFormatError, Location
from docket.importers._zip import OPEN_ERRORS, Archive, ZipRules
from docket.importers.base import (
    PROBE_BYTES,
    Attachment,
    Context,
    Importer,
    ImportWarning,
    Item,
    Probe,
    Source,
    TimeNote,
)
from docket.importers.evidence_file import (
    EXTENSION_TYPES,
    TEXT_TYPES,
    content_key,
    describe,
    extension_of,
    file_chunks,
    same_kind,
    sniff_head,
)
from docket.model.media import OCTET, ZIP
from docket.model.timeparse import MONTHS, zone

# --- limits -----------------------------------------------------------------------------------

MAX_ZIP_TOTAL: Final = 20 << 30  # 20 GiB uncompressed in all (as for WhatsApp zips)
MAX_MEMBERS: Final = 200_000  # files in one zip
# HEIC and WebP readers load the whole file to find its metadata: not beyond this size.
MAX_WHOLE_READ: Final = 256 << 20
MAX_TEXT: Final = 2000  # characters kept of one metadata text field
MAX_CHUNK: Final = 4 << 20  # bytes of one PNG metadata chunk read
MIN_YEAR, MAX_YEAR = 1900, 2200  # a capture time outside these years is not one

# Pictures the photo importer reads (by content).
IMAGE_TYPES: Final = frozenset(
    {"image/jpeg", "image/png", "image/heic", "image/heif", "image/webp", "image/tiff"}
)
_WHOLE_READ_TYPES: Final = frozenset({"image/heic", "image/heif", "image/webp"})
# Only for guessing, from a zip's list of names, whether it is a folder of photos.
IMAGE_EXTENSIONS: Final = frozenset(
    {"jpg", "jpeg", "jfif", "png", "heic", "heif", "webp", "tif", "tiff", "dng"}
)
MEDIA_EXTENSIONS: Final = frozenset(
    {"mov", "mp4", "m4v", "3gp", "gif", "avi", "webm", "mkv", "aae", "m4a", "mp3", "pdf"}
)
_FOREIGN_EXTENSIONS: Final = frozenset({"txt", "html", "htm", "xml", "csv", "eml", "mbox", "js"})
_JUNK_NAMES: Final = frozenset({"thumbs.db", "desktop.ini"})
_PILLOW_FORMATS: Final = ("JPEG", "PNG", "HEIF", "WEBP", "TIFF", "MPO")

# EXIF tags
_MAKE, _MODEL, _SOFTWARE, _ORIENTATION, _DATETIME = 0x010F, 0x0110, 0x0131, 0x0112, 0x0132
_XMP_TAG = 0x02BC
_EXIF_IFD, _GPS_IFD = 0x8769, 0x8825
_ORIGINAL, _DIGITIZED = 0x9003, 0x9004
_OFFSET, _OFFSET_ORIGINAL, _OFFSET_DIGITIZED = 0x9010, 0x9011, 0x9012
_SUBSEC_ORIGINAL, _USER_COMMENT = 0x9291, 0x9286

_EXIF_TIME: Final = re.compile(
    r"\s*(\d{4})[:\-/](\d{2})[:\-/](\d{2})[ T](\d{2}):(\d{2})(?::(\d{2}))?(?:[.,]\d+)?\s*"
)
_EMPTY_TIME: Final = re.compile(r"[\s:0\-/T]*")  # "    :  :     :  :  " or all zeros
_OFFSET_TEXT: Final = re.compile(r"\s*(?:(Z)|([+-])(\d{2}):?(\d{2}))\s*")
_XMP_FIELDS: Final[tuple[tuple[str, str], ...]] = (
    ("exif:DateTimeOriginal", "xmp_date_time_original"),
    ("photoshop:DateCreated", "xmp_date_created"),
    ("xmp:CreateDate", "xmp_create_date"),
)
_NAME_TIME: Final = re.compile(
    r"(?<!\d)((?:19|20)\d\d)[-_.]?(\d\d)[-_.]?(\d\d)(?:[-_ T]|\s+at\s+)"
    r"(\d\d)[-_.:]?(\d\d)[-_.:]?(\d\d)(?!\d\d)"
)

_heif_registered = False


def _register_heif() -> None:
    """Let Pillow open HEIC/HEIF (once; pillow-heif is imported only when needed)."""
    global _heif_registered
    if not _heif_registered:
        import pillow_heif

        pillow_heif.register_heif_opener()
        _heif_registered = True


# --- errors -----------------------------------------------------------------------------------


def _format_error(
    message: str, cause: str, hint: str, name: str, offset: int | None = None
) -> ImportFormatError:
    return ImportFormatError(
        message, cause=cause, hint=hint, location=Location(file=name or None, offset=offset)
    )


def _zip_rules() -> ZipRules:
    return ZipRules(
        max_total=MAX_ZIP_TOTAL,
        max_members=MAX_MEMBERS,
        contents="photos or videos",
        export="",
        total_note="",
        too_large_hint="Unzip it on a computer you trust and import the photos one by one, "
        "or in smaller zips.",
        damaged_cause="The copy or download may have stopped before the end, or the file was "
        "changed after it was made.",
        damaged_hint="Make the zip again, or copy it again, and import the new copy. You can "
        "also import the photos one by one.",
    )


# What reading a member can raise: damaged, protected by a password (RuntimeError), or
# packed in a way Python cannot unpack (NotImplementedError).
_READ_ERRORS = OPEN_ERRORS


# --- what a picture says about itself -----------------------------------------------------------


@dataclass
class Metadata:
    """What was read from one picture: the fields for ``raw``, the capture time and notes."""

    raw: dict[str, str] = field(default_factory=dict)
    sent_at: datetime | None = None
    local_time: str = ""
    time_note: TimeNote | None = None
    naive: datetime | None = None  # the capture time as the camera's clock showed it
    warnings: list[ImportWarning] = field(default_factory=list)


def _text(value: Any) -> str:
    """A metadata value as text, as Pillow gives it (NULs that pad fixed-size fields dropped)."""
    if isinstance(value, bytes):
        text = value.decode("utf-8", "replace")
    elif isinstance(value, tuple):
        text = " ".join(_text(v) for v in value)
    else:
        text = str(value)
    return text.replace("\x00", "")[:MAX_TEXT]


def _number(value: float, places: int) -> str:
    text = f"{value:.{places}f}".rstrip("0").rstrip(".")
    return "0" if text in ("", "-0") else text


def _localise(naive: datetime, tz: ZoneInfo) -> tuple[datetime, TimeNote | None]:
    """A wall-clock time in ``tz`` as UTC; a time the clocks skipped is read as if they had not
    changed yet, a time they repeated as the first of the two."""
    first = naive.replace(tzinfo=tz).utcoffset() or timedelta(0)
    later = naive.replace(tzinfo=tz, fold=1).utcoffset() or timedelta(0)
    note: TimeNote | None = None
    if first > later:
        note = "ambiguous"
    elif first < later:
        note = "nonexistent"
    return (naive - first).replace(tzinfo=UTC), note


def _exif_time(text: str) -> datetime | bool | None:
    """An EXIF date and time: the naive datetime, None when the field is blank (the standard
    "unknown"), False when it is not a date and time."""
    if _EMPTY_TIME.fullmatch(text):
        return None
    m = _EXIF_TIME.fullmatch(text)
    if m is None:
        return False
    y, mo, d, h, mi, s = (int(g or 0) for g in m.groups())
    if not MIN_YEAR <= y <= MAX_YEAR:
        return False
    try:
        return datetime(y, mo, d, h, mi, s)
    except ValueError:
        return False


def _offset(text: str) -> timedelta | None:
    m = _OFFSET_TEXT.fullmatch(text)
    if m is None:
        return None
    if m.group(1):
        return timedelta(0)
    hours, minutes = int(m.group(3)), int(m.group(4))
    if hours > 14 or minutes > 59:
        return None
    delta = timedelta(hours=hours, minutes=minutes)
    return -delta if m.group(2) == "-" else delta


def _xmp_value(xmp: str, tag: str) -> str | None:
    """One simple property from an XMP packet, as an attribute or an element."""
    m = re.search(rf'{re.escape(tag)}\s*=\s*"([^"]*)"', xmp) or re.search(
        rf"<{re.escape(tag)}>([^<]*)</{re.escape(tag)}>", xmp
    )
    return m.group(1).strip()[:MAX_TEXT] if m else None


def _user_comment(value: Any) -> str | None:
    """EXIF UserComment: 8 bytes naming the character code, then the text."""
    if isinstance(value, str):
        return value.strip("\x00 ")[:MAX_TEXT] or None
    if not isinstance(value, bytes) or len(value) <= 8:
        return None
    code, body = value[:8], value[8:]
    if code.startswith(b"UNICODE"):
        encoding = "utf-16-be" if body[:1] == b"\x00" else "utf-16-le"
        text = body.decode(encoding, "replace")
    else:
        text = body.decode("utf-8" if not code.startswith(b"JIS") else "shift_jis", "replace")
    return text.strip("\x00 ")[:MAX_TEXT] or None


def _dms(value: Any, ref: Any, limit: float, negative: str) -> float | None:
    """Degrees, minutes and seconds as signed decimal degrees; None when not a position."""
    try:
        parts = [float(v) for v in value]
    except (TypeError, ValueError, ZeroDivisionError):
        return None
    if len(parts) != 3 or not all(math.isfinite(p) and p >= 0 for p in parts):
        return None
    degrees = parts[0] + parts[1] / 60 + parts[2] / 3600
    if degrees > limit:
        return None
    return -degrees if _text(ref).strip().upper() == negative else degrees


def _gps(gps: dict[int, Any], meta: Metadata, where: str) -> None:
    raw = meta.raw
    if 2 in gps or 4 in gps:
        lat = _dms(gps.get(2), gps.get(1), 90, "S")
        lon = _dms(gps.get(4), gps.get(3), 180, "W")
        if (
            lat is None
            or lon is None
            or _text(gps.get(1)).strip().upper() not in ("N", "S")
            or (_text(gps.get(3)).strip().upper() not in ("E", "W"))
        ):
            meta.warnings.append(
                ImportWarning(
                    "bad_location",
                    f"{where} has a GPS position that is not a valid place on Earth, so it was "
                    "not recorded as a location. The picture is kept as it is.",
                )
            )
        else:
            raw["gps_latitude"] = _number(lat, 7)
            raw["gps_longitude"] = _number(lon, 7)
    if 6 in gps:
        try:
            altitude = float(gps[6])
        except (TypeError, ValueError, ZeroDivisionError):
            altitude = math.nan
        if math.isfinite(altitude):
            ref = gps.get(5)
            below = ref in (1, b"\x01") or _text(ref).strip() == "1"
            raw["gps_altitude"] = _number(-altitude if below else altitude, 2)
    if 29 in gps:
        raw["gps_date"] = _text(gps[29]).strip()
    if 7 in gps:
        try:
            h, m, s = (float(v) for v in gps[7])
            if all(math.isfinite(v) for v in (h, m, s)):
                whole = int(s)
                fraction = _number(s - whole, 3)[1:] if s != whole else ""
                raw["gps_time"] = f"{int(h):02d}:{int(m):02d}:{whole:02d}{fraction}"
        except (TypeError, ValueError, ZeroDivisionError):
            pass


def _choose_time(meta: Metadata, tz: ZoneInfo, context: Context, where: str) -> None:
    """The capture time, from the best field present."""
    raw = meta.raw
    candidates: list[tuple[str, str, str | None]] = [
        ("date_time_original", "EXIF DateTimeOriginal", "offset_time_original"),
        ("date_time_digitized", "EXIF DateTimeDigitized", "offset_time_digitized"),
    ]
    for key, source, offset_key in candidates:
        text = raw.get(key)
        if text is None:
            continue
        naive = _exif_time(text)
        if naive is None:
            continue
        if naive is False:
            meta.warnings.append(
                ImportWarning(
                    "bad_capture_time",
                    f"{where} records a capture time that is not a real date and time "
                    f"({text.strip()!r}), so Docket did not use it.",
                )
            )
            continue
        assert isinstance(naive, datetime)
        offset_text = raw.get(offset_key or "") or raw.get("offset_time")
        _set_time(meta, naive, text, source, offset_text, tz, context, where)
        return
    for xmp_tag, key in _XMP_FIELDS:
        text = raw.get(key)
        if not text:
            continue
        try:
            parsed = datetime.fromisoformat(text)
        except ValueError:
            meta.warnings.append(
                ImportWarning(
                    "bad_capture_time",
                    f"{where} records a creation time that is not a real date and time "
                    f"({text!r}), so Docket did not use it.",
                )
            )
            continue
        if "T" not in text and " " not in text.strip():
            continue  # a day without a time is not a capture time
        if not MIN_YEAR <= parsed.year <= MAX_YEAR:
            meta.warnings.append(
                ImportWarning(
                    "bad_capture_time",
                    f"{where} records a creation time in the year {parsed.year}, which cannot "
                    "be right, so Docket did not use it.",
                )
            )
            continue
        naive = parsed.replace(tzinfo=None, microsecond=0)
        if parsed.tzinfo is not None:
            meta.naive = naive
            meta.sent_at = parsed.astimezone(UTC).replace(microsecond=0)
            meta.local_time = text
            raw["time_source"] = "XMP " + xmp_tag
        else:
            _set_time(meta, naive, text, "XMP " + xmp_tag, None, tz, context, where)
        return


def _set_time(
    meta: Metadata,
    naive: datetime,
    text: str,
    source: str,
    offset_text: str | None,
    tz: ZoneInfo,
    context: Context,
    where: str,
) -> None:
    raw = meta.raw
    meta.naive = naive
    meta.local_time = text
    raw["time_source"] = source
    offset = _offset(offset_text) if offset_text else None
    if offset_text and offset is None and offset_text.strip():
        meta.warnings.append(
            ImportWarning(
                "bad_time_offset",
                f"{where} gives its time zone as {offset_text.strip()!r}, which is not a time "
                f"zone offset, so Docket read its time as {context.timezone} time.",
            )
        )
    if offset is not None:
        meta.sent_at = (naive - offset).replace(tzinfo=UTC)
    else:
        meta.sent_at, meta.time_note = _localise(naive, tz)
        raw["time_zone_assumed"] = context.timezone


def _name_time(name: str) -> tuple[str, str] | None:
    """A date and time in a file's name (``Screenshot_20240131-210512``): the text and how to
    say it."""
    m = _NAME_TIME.search(name)
    if m is None:
        return None
    y, mo, d, h, mi, s = (int(g) for g in m.groups())
    try:
        datetime(y, mo, d, h, mi, s)
    except ValueError:
        return None
    return m.group(0), f"{d} {MONTHS[mo - 1]} {y} at {h:02d}:{mi:02d}:{s:02d}"


def read_metadata(
    open_stream: Callable[[], IO[bytes]],
    size: int,
    media_type: str,
    name: str,
    where: str,
    tz: ZoneInfo,
    context: Context,
) -> Metadata:
    """Everything one picture says about itself. Never raises for a damaged picture."""
    meta = Metadata()
    raw = meta.raw
    if media_type in _WHOLE_READ_TYPES and size > MAX_WHOLE_READ:
        meta.warnings.append(
            ImportWarning(
                "metadata_not_read",
                f"{where} is too large ({size >> 20} MiB) for Docket to read the information "
                "stored inside it. The picture itself is kept exactly as it is.",
            )
        )
    else:
        _register_heif()
        damaged = False
        try:
            # Pillow reads what it can of damaged EXIF and says so with a warning
            with open_stream() as f, warnings.catch_warnings(record=True) as noted:
                warnings.simplefilter("always")
                with Image.open(f, formats=_pillow_formats()) as im:
                    raw["format"] = im.format or ""
                    raw["width"], raw["height"] = str(im.size[0]), str(im.size[1])
                    late = _png_late_chunks(im, f) if im.format == "PNG" else {}
                    damaged = _read_image(im, meta, where, late)
            damaged = damaged or any("corrupt" in str(w.message).lower() for w in noted)
        except Image.DecompressionBombError:
            meta.warnings.append(
                ImportWarning(
                    "metadata_not_read",
                    f"{where} says it is far larger (in pixels) than any camera or phone makes, "
                    "so Docket did not read the information stored inside it. The file itself is "
                    "kept exactly as it is.",
                )
            )
        except Exception:  # a damaged picture must never stop the import
            damaged = True
        if damaged:
            meta.warnings.append(
                ImportWarning(
                    "unreadable_metadata",
                    f"Part of the information stored inside {where} (such as when and where it "
                    "was taken) is damaged, so Docket could not read all of it. The picture "
                    "itself is kept exactly as it is.",
                )
            )
    _choose_time(meta, tz, context, where)
    if meta.sent_at is None:
        found = _name_time(name)
        suggestion = ""
        if found is not None:
            raw["name_time"] = found[0]
            suggestion = (
                f" Its name contains a date and time ({found[1]}), which is often when a "
                "screenshot was taken, but a name is easy to change, so Docket has not used "
                "it. You can note the time in the diary yourself."
            )
        meta.warnings.append(
            ImportWarning(
                "no_capture_time",
                f"{where} does not record when it was taken (screenshots and pictures saved "
                "from apps often do not), so it is kept without a time." + suggestion,
            )
        )
    return meta


def _pillow_formats() -> tuple[str, ...]:
    """The formats Pillow is asked to try (those this Pillow build can open)."""
    Image.init()
    return tuple(f for f in _PILLOW_FORMATS if f in Image.OPEN)


def _png_late_chunks(im: Image.Image, f: IO[bytes]) -> dict[str, bytes]:
    """EXIF and XMP that a PNG keeps after its image data, where Pillow looks only when it
    decodes the whole picture: found by walking the chunk headers, skipping their data."""
    if "exif" in im.info and ("XML:com.adobe.xmp" in im.info or "xmp" in im.info):
        return {}
    found: dict[str, bytes] = {}
    f.seek(8)
    while True:
        header = f.read(8)
        if len(header) < 8:
            break
        length = int.from_bytes(header[:4], "big")
        kind = header[4:8]
        if kind == b"IEND":
            break
        if kind == b"eXIf" and "exif" not in im.info and length <= MAX_CHUNK:
            found["exif"] = f.read(length)
            f.seek(4, 1)
            continue
        if kind == b"iTXt" and length <= MAX_CHUNK:
            data = f.read(length)
            f.seek(4, 1)
            if data.startswith(b"XML:com.adobe.xmp\x00"):
                # keyword, NUL, compression flag and method, language, NUL, keyword, NUL, text
                parts = data.split(b"\x00", 1)[1]
                if parts[:1] == b"\x00":
                    text = parts[2:].split(b"\x00", 2)
                    if len(text) == 3:
                        found["xmp"] = text[2]
            continue
        f.seek(length + 4, 1)
    return found


def _read_image(im: Image.Image, meta: Metadata, where: str, late: dict[str, bytes]) -> bool:
    """Copy the picture's EXIF and XMP fields into ``meta.raw``; True when some were damaged."""
    raw = meta.raw
    damaged = False
    # Image.getexif of the base class: PNG's own version decodes the whole picture first.
    if "exif" in late:
        exif = Image.Exif()
        exif.load(late["exif"])
    else:
        exif = Image.Image.getexif(im)
    for tag, key in (
        (_MAKE, "make"),
        (_MODEL, "model"),
        (_SOFTWARE, "software"),
        (_ORIENTATION, "orientation"),
        (_DATETIME, "date_time"),
    ):
        if tag in exif:
            raw[key] = _text(exif[tag])
    sub: dict[int, Any] = {}
    try:
        sub = dict(exif.get_ifd(_EXIF_IFD))
    except Exception:  # damaged metadata: noted, never fatal
        damaged = True
    for tag, key in (
        (_ORIGINAL, "date_time_original"),
        (_DIGITIZED, "date_time_digitized"),
        (_OFFSET, "offset_time"),
        (_OFFSET_ORIGINAL, "offset_time_original"),
        (_OFFSET_DIGITIZED, "offset_time_digitized"),
        (_SUBSEC_ORIGINAL, "subsec_time_original"),
    ):
        if tag in sub:
            raw[key] = _text(sub[tag])
    comment = _user_comment(sub.get(_USER_COMMENT))
    if comment:
        raw["user_comment"] = comment
    gps: dict[int, Any] = {}
    try:
        gps = dict(exif.get_ifd(_GPS_IFD))
    except Exception:  # damaged metadata: noted, never fatal
        damaged = True
    try:
        _gps(gps, meta, where)
    except Exception:  # damaged metadata: noted, never fatal
        damaged = True
    xmp_value = (
        im.info.get("xmp")
        or im.info.get("XML:com.adobe.xmp")
        or late.get("xmp")
        or exif.get(_XMP_TAG)
    )
    if xmp_value:
        xmp = (
            _text(xmp_value)
            if not isinstance(xmp_value, bytes)
            else xmp_value.decode("utf-8", "replace")
        )
        for xmp_tag, key in _XMP_FIELDS:
            found = _xmp_value(xmp, xmp_tag)
            if found:
                raw[key] = found
        if "UserComment" in xmp and "Screenshot" in xmp and "user_comment" not in raw:
            raw["user_comment"] = "Screenshot"
    creation = im.info.get("Creation Time")
    if isinstance(creation, str) and creation.strip():
        raw["png_creation_time"] = creation[:MAX_TEXT]
    return damaged


# --- one picture, or a zip of them --------------------------------------------------------------


def _picture_item(
    meta: Metadata,
    name: str,
    media_type: str,
    chunks: Callable[[], Iterator[bytes]],
    key: str,
    offset: int | None,
) -> Item:
    return Item(
        kind="file",
        channel="photo",
        direction="unknown",
        sender=None,
        sent_at=meta.sent_at,
        local_time=meta.local_time,
        time_note=meta.time_note,
        attachments=(Attachment(name=name, media_type=media_type, chunks=chunks),),
        match_body=key,
        offset=offset,
        raw=meta.raw,
    )


def _where(name: str) -> str:
    return f"The picture '{name}'"


class Photo(Importer):
    """Photos and screenshots (JPEG, PNG, HEIC, WebP, TIFF), alone or in a .zip."""

    name = "photo"
    version = "1"
    label = "Photos and screenshots"

    def score(self, probe: Probe) -> float:
        if probe.zip_names:
            return _zip_score(probe.zip_names)
        return 0.6 if sniff_head(probe.head) in IMAGE_TYPES else 0.0

    def parse(self, source: Source, context: Context) -> Iterator[Item | ImportWarning]:
        name = context.name or (source.path.name if source.path else "")
        tz = zone(context.timezone)
        try:
            with source.open() as f:
                head = f.read(PROBE_BYTES)
        except OSError as exc:
            raise _format_error(
                "Docket could not read this file.",
                f"The computer reported: {exc.strerror or exc}.",
                "Copy the file to this computer's own disk and import the copy.",
                name,
            ) from exc
        if not head:
            raise _format_error(
                "This file is empty, so there is nothing to import.",
                "The copy or download may not have finished, or a different file was chosen.",
                "Copy the picture again from the device it is on.",
                name,
            )
        found = sniff_head(head)
        if found in IMAGE_TYPES:
            yield from self._single(source, context, name, found, tz)
        elif found == ZIP:
            yield from _Zip(source, context, name, tz).items()
        else:
            raise _format_error(
                f"This file is not a photo or screenshot: its contents are {describe(found)}.",
                "Docket reads JPEG, PNG, HEIC, WebP and TIFF pictures, or a zip of them, and "
                "tells them apart by their contents, not their names.",
                "To keep this file as evidence as it is, import it with --format file.",
                name,
                0,
            )

    def _single(
        self, source: Source, context: Context, name: str, media_type: str, tz: ZoneInfo
    ) -> Iterator[Item | ImportWarning]:
        size = source.size
        meta = read_metadata(source.open, size, media_type, name, _where(name), tz, context)
        meta.raw["detected_type"] = media_type
        ext_type = EXTENSION_TYPES.get(extension_of(name), "")
        if ext_type and not same_kind(ext_type, media_type):
            meta.warnings.append(_mismatch(name, ext_type, media_type))
        modified = context.modified
        if meta.naive is not None and modified is not None:
            meta.raw["file_date"] = modified.strftime("%Y-%m-%d %H:%M:%S")
            if abs(modified - meta.naive) > timedelta(days=1):
                meta.warnings.append(
                    ImportWarning(
                        "capture_time_differs",
                        f"{_where(name)} says it was taken on {_say(meta.naive)}, but the file "
                        f"is dated {_say(modified)}. Files get new dates whenever they are "
                        "copied, downloaded or sent, so this is common and not on its own a "
                        "sign that anything is wrong; Docket uses the time stored inside the "
                        "picture.",
                    )
                )
        yield from meta.warnings
        chunks = file_chunks(source)
        key, _ = content_key(chunks())
        yield _picture_item(meta, name, media_type, chunks, key, None)


def _mismatch(name: str, ext_type: str, media_type: str) -> ImportWarning:
    return ImportWarning(
        "type_mismatch",
        f"The name '{name}' says it is {describe(ext_type)}, but its contents are "
        f"{describe(media_type)}. Docket has kept it as it is and recorded what it really "
        "contains. Apps often change a picture's type when they save or send it.",
    )


def _zip_members(names: tuple[str, ...] | list[str]) -> list[str]:
    return [
        n
        for n in names
        if not n.endswith("/")
        and not n.startswith("__MACOSX/")
        and not PurePosixPath(n).name.startswith(".")
        and PurePosixPath(n).name.lower() not in _JUNK_NAMES
    ]


def _zip_score(names: tuple[str, ...]) -> float:
    """How much a zip's list of names looks like a folder of photos (WhatsApp, Telegram and
    other exports always have a text, HTML or JSON file of their own, and are left alone)."""
    members = _zip_members(names)
    images = others = 0
    for n in members:
        ext = extension_of(n)
        if ext in IMAGE_EXTENSIONS:
            images += 1
        elif ext in _FOREIGN_EXTENSIONS:
            return 0.0
        elif ext in MEDIA_EXTENSIONS:
            continue
        elif ext == "json" and extension_of(n[: -len(".json")].split(".supplemental")[0]) in (
            IMAGE_EXTENSIONS | MEDIA_EXTENSIONS
        ):
            continue  # Google Photos' sidecar for one picture
        else:
            others += 1
    if images == 0:
        return 0.0
    if others == 0:
        return 0.6
    return 0.4 if others * 10 <= len(members) else 0.0


class _Zip:
    """A zip of pictures (and perhaps videos and documents), read member by member."""

    def __init__(self, source: Source, context: Context, name: str, tz: ZoneInfo) -> None:
        self._source = source
        self._context = context
        self._name = name
        self._tz = tz

    def _open(self) -> tuple[Archive, list[zipfile.ZipInfo]]:
        # members that are encrypted or cannot be unpacked are warned about one by one
        archive = Archive(self._source, self._name, _zip_rules(), keep_unreadable=True)
        members = set(_zip_members([i.filename for i in archive.infos]))
        return archive, [i for i in archive.infos if i.filename in members]

    def items(self) -> Iterator[Item | ImportWarning]:
        archive, infos = self._open()
        zf = archive.zip
        skipped: list[str] = []
        unreadable: list[str] = []
        pictures = files = 0
        try:
            for info in infos:
                try:
                    with zf.open(info) as f:
                        head = f.read(PROBE_BYTES)
                    key, _ = content_key(archive.chunks(info, wrap=False)())
                except _READ_ERRORS:
                    unreadable.append(info.filename)
                    yield ImportWarning(
                        "unreadable_member",
                        f"The file '{info.filename}' inside this zip is damaged or protected "
                        "by a password, so Docket could not read it. The rest of the zip is "
                        "imported.",
                        offset=info.header_offset,
                    )
                    continue
                found = sniff_head(head)
                if found in IMAGE_TYPES:
                    pictures += 1
                    yield from self._picture(archive, info, found, key)
                elif found not in TEXT_TYPES and found != OCTET and head:
                    files += 1
                    yield _file_item(archive, info, found, key)
                else:
                    skipped.append(info.filename)
        finally:
            archive.close()
        if pictures + files == 0:
            if unreadable and not skipped:
                raise archive.damaged(unreadable[0] if len(unreadable) == 1 else "")
            raise _format_error(
                "This zip file holds no photos or screenshots.",
                "Docket looked at the contents of every file in it and found no JPEG, PNG, "
                "HEIC, WebP or TIFF picture.",
                "If it is an export from an app, import it with that app's format; to keep the "
                "zip as it is, import it with --format file.",
                self._name,
            )
        if skipped:
            shown = ", ".join(f"'{n}'" for n in skipped[:5])
            more = f" and {len(skipped) - 5} more" if len(skipped) > 5 else ""
            yield ImportWarning(
                "files_not_imported",
                f"{len(skipped)} file{'s' if len(skipped) != 1 else ''} in this zip "
                f"{'are' if len(skipped) != 1 else 'is'} not a picture, recording, video or "
                f"document Docket recognises ({shown}{more}), so "
                f"{'they were' if len(skipped) != 1 else 'it was'} not added as items. The whole "
                "zip is still kept, unchanged, inside the diary.",
            )

    def _picture(
        self, archive: Archive, info: zipfile.ZipInfo, media_type: str, key: str
    ) -> Iterator[Item | ImportWarning]:
        zf = archive.zip
        base = PurePosixPath(info.filename).name
        where = f"The picture '{info.filename}'"

        def open_member() -> IO[bytes]:
            return zf.open(info)

        meta = read_metadata(
            open_member, info.file_size, media_type, base, where, self._tz, self._context
        )
        raw = meta.raw
        raw["member"] = info.filename
        raw["detected_type"] = media_type
        y, mo, d, h, mi, s = info.date_time
        zipped: datetime | None = None
        if y > 1980:  # 1980-01-01 is the zip format's "no date"
            raw["zip_date"] = f"{y:04d}-{mo:02d}-{d:02d} {h:02d}:{mi:02d}:{s:02d}"
            try:
                zipped = datetime(y, mo, d, h, mi, s)
            except ValueError:
                zipped = None
        if (
            meta.naive is not None
            and zipped is not None
            and abs(zipped - meta.naive) > timedelta(days=1)
        ):
            meta.warnings.append(
                ImportWarning(
                    "capture_time_differs",
                    f"{where} says it was taken on {_say(meta.naive)}, but the zip dates the "
                    f"file {_say(zipped)}. Files get new dates whenever they are copied, "
                    "downloaded or sent, so this is common and not on its own a sign that "
                    "anything is wrong; Docket uses the time stored inside the picture.",
                    offset=info.header_offset,
                )
            )
        ext_type = EXTENSION_TYPES.get(extension_of(base), "")
        if ext_type and not same_kind(ext_type, media_type):
            meta.warnings.append(_mismatch(info.filename, ext_type, media_type))
        for w in meta.warnings:
            yield (
                w
                if w.offset is not None
                else ImportWarning(w.code, w.message, offset=info.header_offset)
            )
        chunks = archive.chunks(info)
        yield _picture_item(meta, base, media_type, chunks, key, info.header_offset)


def _say(t: datetime) -> str:
    return f"{t.day} {MONTHS[t.month - 1]} {t.year} at {t:%H:%M}"


def _file_item(archive: Archive, info: zipfile.ZipInfo, media_type: str, key: str) -> Item:
    """Another evidence file in a zip of photos, kept as the ``file`` importer keeps one."""
    base = PurePosixPath(info.filename).name
    ext = extension_of(base)
    raw = {
        "name": base,
        "member": info.filename,
        "size": str(info.file_size),
        "detected_type": media_type,
        "extension": ext,
    }
    if ext in EXTENSION_TYPES:
        raw["extension_type"] = EXTENSION_TYPES[ext]
    return Item(
        kind="file",
        channel="file",
        direction="unknown",
        sender=None,
        sent_at=None,
        local_time="",
        attachments=(Attachment(name=base, media_type=media_type, chunks=archive.chunks(info)),),
        match_body=key,
        offset=info.header_offset,
        raw=raw,
    )
