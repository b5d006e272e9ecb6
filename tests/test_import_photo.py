"""The photo importer: capture times from EXIF (with and without the camera's offset, clock
changes, blank and impossible values), XMP, GPS, device and orientation, screenshots without
any of it, damaged metadata, pictures whose names lie, zips of many pictures (their order,
other files, damaged members, bombs), the shared camera samples, generated pictures, and the
real pipeline keeping pictures in an encrypted diary and recognising them when they come
again."""

from __future__ import annotations

import hashlib
import io
import zipfile
import zlib
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image
from PIL.TiffImagePlugin import IFDRational

from docket.api import Diary
from docket.errors import ImportFormatError, ImportTooLarge
from docket.importers import available, photo
from docket.importers.base import Context, ImportWarning, Item, Probe, Source
from docket.importers.photo import Photo
from tests.conftest import SHARED

SAMPLES = SHARED / "samples" / "exif"
needs_samples = pytest.mark.skipif(not SAMPLES.is_dir(), reason="shared samples not present")


# --- helpers ------------------------------------------------------------------------------------


def utc(y: int, mo: int, d: int, h: int = 0, mi: int = 0, s: int = 0) -> datetime:
    return datetime(y, mo, d, h, mi, s, tzinfo=UTC)


def picture(
    fmt: str = "JPEG",
    *,
    ifd0: dict[int, Any] | None = None,
    exif: dict[int, Any] | None = None,
    gps: dict[int, Any] | None = None,
    size: tuple[int, int] = (8, 6),
    **save: Any,
) -> bytes:
    """A small picture with the EXIF fields given (IFD0, the Exif IFD and the GPS IFD)."""
    ex = Image.Exif()
    for k, v in (ifd0 or {}).items():
        ex[k] = v
    if exif:
        sub = ex.get_ifd(0x8769)
        sub.update(exif)
    if gps:
        g = ex.get_ifd(0x8825)
        g.update(gps)
    buf = io.BytesIO()
    if fmt == "HEIF":
        photo._register_heif()
        save.setdefault("quality", 20)
        Image.new("RGB", size, "green").save(buf, fmt, exif=ex.tobytes(), **save)
    elif ifd0 or exif or gps:
        Image.new("RGB", size, "green").save(buf, fmt, exif=ex.tobytes(), **save)
    else:
        Image.new("RGB", size, "green").save(buf, fmt, **save)
    return buf.getvalue()


def run(
    path: Path, name: str | None = None, **context: Any
) -> tuple[list[Item], list[ImportWarning], dict[str, bytes]]:
    """Parse ``path``; each attachment's bytes are read while valid (before the next item)."""
    items: list[Item] = []
    warnings: list[ImportWarning] = []
    data: dict[str, bytes] = {}
    for x in Photo().parse(Source(path), Context(name=name or path.name, **context)):
        if isinstance(x, Item):
            items.append(x)
            for a in x.attachments:
                assert a.chunks is not None
                data[x.raw.get("member", a.name)] = b"".join(a.chunks())
        else:
            warnings.append(x)
    return items, warnings, data


def write(tmp_path: Path, name: str, data: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


def one(tmp_path: Path, name: str, data: bytes, **context: Any) -> tuple[Item, list[str]]:
    items, warnings, stored = run(write(tmp_path, name, data), **context)
    [item] = items
    assert stored[name] == data  # the picture's bytes, unchanged
    return item, [w.code for w in warnings]


def make_zip(
    path: Path, members: list[tuple[str, bytes] | zipfile.ZipInfo | tuple[Any, ...]]
) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for m in members:
            info, data = m[0], m[1]
            zf.writestr(info, data)
    return path


TAKEN = {0x9003: "2024:01:31 21:05:12"}


# --- capture time -------------------------------------------------------------------------------


def test_a_phone_photo_with_offset_and_location(tmp_path: Path) -> None:
    data = picture(
        ifd0={0x010F: "Apple", 0x0110: "iPhone 15", 0x0131: "17.2", 0x0112: 6},
        exif={
            0x9003: "2024:07:31 21:05:12",
            0x9004: "2024:07:31 21:05:12",
            0x9011: "+05:30",
            0x9010: "+05:30",
            0x9291: "123",
        },
        gps={
            1: "S",
            2: (IFDRational(33), IFDRational(51), IFDRational(5448, 100)),
            3: "W",
            4: (IFDRational(70), IFDRational(39), IFDRational(0)),
            5: b"\x01",
            6: IFDRational(55, 2),
            7: (IFDRational(15), IFDRational(35), IFDRational(12)),
            29: "2024:07:31",
        },
        size=(40, 30),
    )
    item, warnings = one(tmp_path, "IMG_0001.JPG", data)
    assert warnings == []
    assert (item.kind, item.channel, item.direction, item.sender) == (
        "file",
        "photo",
        "unknown",
        None,
    )
    assert item.sent_at == utc(2024, 7, 31, 15, 35, 12)
    assert item.local_time == "2024:07:31 21:05:12" and item.time_note is None
    assert item.attachments[0].name == "IMG_0001.JPG"
    assert item.attachments[0].media_type == "image/jpeg"
    assert item.match_body == "sha256:" + hashlib.sha256(data).hexdigest()
    assert item.raw == {
        "format": "JPEG",
        "width": "40",
        "height": "30",
        "make": "Apple",
        "model": "iPhone 15",
        "software": "17.2",
        "orientation": "6",
        "date_time_original": "2024:07:31 21:05:12",
        "date_time_digitized": "2024:07:31 21:05:12",
        "offset_time": "+05:30",
        "offset_time_original": "+05:30",
        "subsec_time_original": "123",
        "gps_latitude": "-33.8651333",
        "gps_longitude": "-70.65",
        "gps_altitude": "-27.5",
        "gps_date": "2024:07:31",
        "gps_time": "15:35:12",
        "time_source": "EXIF DateTimeOriginal",
        "detected_type": "image/jpeg",
    }


@pytest.mark.parametrize(
    ("exif", "expected", "source"),
    [
        ({0x9003: "2024:01:31 21:05:12", 0x9010: "-05:00"}, utc(2024, 2, 1, 2, 5, 12), "Original"),
        ({0x9003: "2024:01:31 21:05:12", 0x9011: "Z"}, utc(2024, 1, 31, 21, 5, 12), "Original"),
        (
            {0x9004: "2024:01:31 21:05:12", 0x9012: "+01:00"},
            utc(2024, 1, 31, 20, 5, 12),
            "Digitized",
        ),
        ({0x9003: "2024-01-31 21:05", 0x9011: "+0100"}, utc(2024, 1, 31, 20, 5), "Original"),
    ],
)
def test_offsets(tmp_path: Path, exif: dict[int, str], expected: datetime, source: str) -> None:
    item, warnings = one(tmp_path, "a.jpg", picture(exif=exif))
    assert warnings == [] and item.sent_at == expected
    assert item.raw["time_source"] == "EXIF DateTime" + source
    assert "time_zone_assumed" not in item.raw


def test_without_an_offset_the_time_is_read_in_the_given_zone(tmp_path: Path) -> None:
    summer = picture(exif={0x9003: "2024:07:01 12:00:00"})
    item, warnings = one(tmp_path, "a.jpg", summer)
    assert warnings == [] and item.sent_at == utc(2024, 7, 1, 11)
    assert item.raw["time_zone_assumed"] == "Europe/London"
    item, _ = one(tmp_path, "b.jpg", summer, timezone="America/New_York")
    assert (
        item.sent_at == utc(2024, 7, 1, 16) and item.raw["time_zone_assumed"] == "America/New_York"
    )


@pytest.mark.parametrize(
    ("text", "expected", "note"),
    [
        ("2024:03:31 01:30:00", utc(2024, 3, 31, 1, 30), "nonexistent"),
        ("2024:10:27 01:30:00", utc(2024, 10, 27, 0, 30), "ambiguous"),
        ("2024:10:27 02:30:00", utc(2024, 10, 27, 2, 30), None),
    ],
)
def test_clock_changes(tmp_path: Path, text: str, expected: datetime, note: str | None) -> None:
    item, _ = one(tmp_path, "a.jpg", picture(exif={0x9003: text}))
    assert (item.sent_at, item.time_note) == (expected, note)


@pytest.mark.parametrize("blank", ["    :  :     :  :  ", "0000:00:00 00:00:00", ""])
def test_a_blank_capture_time_is_no_capture_time(tmp_path: Path, blank: str) -> None:
    item, warnings = one(tmp_path, "a.jpg", picture(exif={0x9003: blank, 0x9011: "+01:00"}))
    assert item.sent_at is None and item.local_time == ""
    assert warnings == ["no_capture_time"]


def test_an_impossible_capture_time_is_not_used(tmp_path: Path) -> None:
    data = picture(exif={0x9003: "2024:13:45 25:00:00", 0x9004: "2024:01:02 03:04:05"})
    item, warnings = one(tmp_path, "a.jpg", data)
    assert warnings == ["bad_capture_time"]
    assert item.sent_at == utc(2024, 1, 2, 3, 4, 5) and item.local_time == "2024:01:02 03:04:05"
    assert item.raw["date_time_original"] == "2024:13:45 25:00:00"  # kept as written
    item, warnings = one(tmp_path, "b.jpg", picture(exif={0x9003: "yesterday"}))
    assert warnings == ["bad_capture_time", "no_capture_time"] and item.sent_at is None


@pytest.mark.parametrize(
    "exif",
    [
        {0x9003: "0001:01:01 00:00:00", 0x9011: "+05:00"},
        {0x9003: "9999:12:31 23:59:59", 0x9011: "-05:00"},
        {0x9003: "9999:12:31 23:59:59"},
    ],
)
def test_years_no_camera_writes_are_not_used(tmp_path: Path, exif: dict[int, str]) -> None:
    item, warnings = one(tmp_path, "a.jpg", picture(exif=exif))
    assert warnings == ["bad_capture_time", "no_capture_time"] and item.sent_at is None
    xmp = _with_xmp(picture(), XMP.format(create="0001-01-01T00:00:00+05:00"))
    item, warnings = one(tmp_path, "b.jpg", xmp)
    assert warnings == ["bad_capture_time", "no_capture_time"]


def test_a_bad_offset_is_said_and_the_zone_assumed(tmp_path: Path) -> None:
    item, warnings = one(tmp_path, "a.jpg", picture(exif={**TAKEN, 0x9011: "+99:00"}))
    assert warnings == ["bad_time_offset"]
    assert item.sent_at == utc(2024, 1, 31, 21, 5, 12)
    assert item.raw["time_zone_assumed"] == "Europe/London"


def test_the_last_changed_time_is_kept_but_never_used(tmp_path: Path) -> None:
    data = picture(ifd0={0x0132: "2024:02:01 10:00:00", 0x0131: "GIMP 2.10"})
    item, warnings = one(tmp_path, "edited.jpg", data)
    assert item.sent_at is None and warnings == ["no_capture_time"]
    assert item.raw["date_time"] == "2024:02:01 10:00:00"


def _with_xmp(jpeg: bytes, xmp: str) -> bytes:
    """Insert an XMP APP1 segment after the JPEG's start marker."""
    payload = b"http://ns.adobe.com/xap/1.0/\x00" + xmp.encode()
    segment = b"\xff\xe1" + (len(payload) + 2).to_bytes(2, "big") + payload
    return jpeg[:2] + segment + jpeg[2:]


XMP = (
    '<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-'
    'syntax-ns#"><rdf:Description rdf:about="" xmlns:xmp="http://ns.adobe.com/xap/1.0/" '
    'xmp:CreateDate="{create}"/></rdf:RDF></x:xmpmeta>'
)


def test_xmp_creation_time_when_there_is_no_exif_time(tmp_path: Path) -> None:
    data = _with_xmp(picture(), XMP.format(create="2013-09-23T10:09:46+02:00"))
    item, warnings = one(tmp_path, "a.jpg", data)
    assert warnings == []
    assert item.sent_at == utc(2013, 9, 23, 8, 9, 46)
    assert item.local_time == "2013-09-23T10:09:46+02:00"
    assert item.raw["xmp_create_date"] == "2013-09-23T10:09:46+02:00"
    assert item.raw["time_source"] == "XMP xmp:CreateDate"
    zoneless = _with_xmp(picture(), XMP.format(create="2021-04-11T15:47:53"))
    item, _ = one(tmp_path, "b.jpg", zoneless)
    assert item.sent_at == utc(2021, 4, 11, 14, 47, 53)
    assert item.raw["time_zone_assumed"] == "Europe/London"
    day_only = _with_xmp(picture(), XMP.format(create="2021-04-11"))
    item, warnings = one(tmp_path, "c.jpg", day_only)
    assert item.sent_at is None and warnings == ["no_capture_time"]
    # EXIF wins over XMP
    both = _with_xmp(picture(exif=TAKEN), XMP.format(create="2013-09-23T10:09:46+02:00"))
    item, _ = one(tmp_path, "d.jpg", both)
    assert item.raw["time_source"] == "EXIF DateTimeOriginal"


# --- screenshots, formats and names -------------------------------------------------------------


def test_an_android_screenshot_without_metadata(tmp_path: Path) -> None:
    name = "Screenshot_20240131-210512_WhatsApp.png"
    item, warnings = one(tmp_path, name, picture("PNG", size=(108, 240)))
    assert warnings == ["no_capture_time"]
    assert item.sent_at is None and item.local_time == ""
    assert item.attachments[0].media_type == "image/png"
    assert item.raw == {
        "format": "PNG",
        "width": "108",
        "height": "240",
        "name_time": "20240131-210512",
        "detected_type": "image/png",
    }
    _, w, _ = run(tmp_path / name)
    assert "31 January 2024 at 21:05:12" in w[0].message and name in w[0].message


@pytest.mark.parametrize(
    ("name", "found"),
    [
        ("Screenshot 2024-01-31 at 21.05.12.png", "2024-01-31 at 21.05.12"),
        ("IMG_20240131_210512.jpg", "20240131_210512"),
        ("Screenshot_2024-01-31-21-05-12-345_com.whatsapp.jpg", "2024-01-31-21-05-12"),
        ("photo.png", None),
        ("Screenshot_20241340-250000.png", None),
    ],
)
def test_times_in_names_are_noted_not_used(tmp_path: Path, name: str, found: str | None) -> None:
    item, _ = one(tmp_path, name, picture("PNG"))
    assert item.sent_at is None and item.raw.get("name_time") == found


@pytest.mark.parametrize("fmt", ["PNG", "WEBP", "HEIF"])
def test_exif_in_other_formats(tmp_path: Path, fmt: str) -> None:
    data = picture(fmt, ifd0={0x010F: "Pixel"}, exif={**TAKEN, 0x9011: "+00:00"}, size=(64, 64))
    item, warnings = one(tmp_path, f"a.{fmt.lower()}", data)
    assert warnings == []
    assert item.sent_at == utc(2024, 1, 31, 21, 5, 12) and item.raw["make"] == "Pixel"
    expected = {"PNG": "image/png", "WEBP": "image/webp", "HEIF": "image/heic"}[fmt]
    assert item.attachments[0].media_type == expected


def _chunk(kind: bytes, data: bytes) -> bytes:
    return len(data).to_bytes(4, "big") + kind + data + zlib.crc32(kind + data).to_bytes(4, "big")


def test_png_metadata_after_the_image_data(tmp_path: Path) -> None:
    """The PNG standard lets eXIf and XMP come after the image data, where Pillow does not
    look without decoding the picture; Docket finds them by walking the chunks."""
    d = picture("PNG", exif={0x9003: "2024:01:31 21:05:12", 0x9011: "+00:00"})
    chunks, i = [], 8
    while i < len(d):
        n = int.from_bytes(d[i : i + 4], "big")
        chunks.append((d[i + 4 : i + 8], d[i + 8 : i + 8 + n]))
        i += 12 + n
    order = {b"IHDR": 0, b"IDAT": 1, b"eXIf": 2, b"IEND": 4}
    xmp = XMP.format(create="2013-09-23T10:09:46+02:00").encode()
    chunks.append((b"iTXt", b"XML:com.adobe.xmp\x00\x00\x00\x00\x00" + xmp))
    chunks.sort(key=lambda c: order.get(c[0], 3))
    late = d[:8] + b"".join(_chunk(k, v) for k, v in chunks)
    assert [k for k, _ in chunks] == [b"IHDR", b"IDAT", b"eXIf", b"iTXt", b"IEND"]
    item, warnings = one(tmp_path, "late.png", late)
    assert warnings == []
    assert item.sent_at == utc(2024, 1, 31, 21, 5, 12)
    assert item.raw["xmp_create_date"] == "2013-09-23T10:09:46+02:00"


def test_an_impossible_gps_position_is_not_recorded(tmp_path: Path) -> None:
    gps = {1: "N", 2: (95.0, 0.0, 0.0), 3: "E", 4: (1.0, 2.0, 3.0)}
    item, warnings = one(tmp_path, "a.jpg", picture(exif=TAKEN, gps=gps))
    assert warnings == ["bad_location"] and "gps_latitude" not in item.raw
    gps = {1: "X", 2: (5.0, 0.0, 0.0), 3: "E", 4: (1.0, 2.0, 3.0)}
    item, warnings = one(tmp_path, "b.jpg", picture(exif=TAKEN, gps=gps))
    assert warnings == ["bad_location"]


def test_tiff(tmp_path: Path) -> None:
    ex = Image.Exif()
    ex[0x010F] = "Scanner"
    buf = io.BytesIO()
    Image.new("RGB", (4, 4)).save(buf, "TIFF", tiffinfo=ex)
    item, warnings = one(tmp_path, "scan.tif", buf.getvalue())
    assert item.raw["make"] == "Scanner" and item.raw["detected_type"] == "image/tiff"
    assert warnings == ["no_capture_time"]


def test_a_picture_whose_name_lies(tmp_path: Path) -> None:
    item, warnings = one(tmp_path, "photo.jpg", picture("PNG", exif=TAKEN))
    assert warnings == ["type_mismatch"]
    assert item.attachments[0].media_type == "image/png" and item.sent_at is not None
    _, w, _ = run(tmp_path / "photo.jpg")
    assert "PNG" in w[0].message and "JPEG" in w[0].message
    _, warnings = one(tmp_path, "photo.heic", picture("HEIF", exif=TAKEN, size=(64, 64)))
    assert warnings == []


def test_large_files_are_read_in_1_mib_chunks(tmp_path: Path) -> None:
    data = picture(exif=TAKEN) + bytes(range(256)) * 10_000  # trailing bytes after the image
    path = write(tmp_path, "big.jpg", data)
    [item] = [
        x for x in Photo().parse(Source(path), Context(name="big.jpg")) if isinstance(x, Item)
    ]
    assert item.attachments[0].chunks is not None
    sizes = [len(c) for c in item.attachments[0].chunks()]
    assert sizes == [1 << 20, 1 << 20, len(data) - (2 << 20)]
    assert item.sent_at is not None


# --- damaged and foreign files ------------------------------------------------------------------


@pytest.mark.parametrize(
    "blob",
    [
        b"Exif\x00\x00II*\x00\x08\x00\x00\x00\xff\xff",  # an IFD of 65,535 entries, none there
        b"Exif\x00\x00II*\x00\xff\xff\x00\x00",  # the first IFD beyond the end
        b"Exif\x00\x00MM\x00*\x00\x00\x00\x08\x00\x01\x87\x69\x00\x04\x00\x00\x00\x01"
        b"\x0f\xff\xff\xff",  # the Exif IFD beyond the end
    ],
)
def test_damaged_exif_is_said_and_the_picture_kept(tmp_path: Path, blob: bytes) -> None:
    buf = io.BytesIO()
    Image.new("RGB", (8, 6)).save(buf, "JPEG", exif=blob)
    item, warnings = one(tmp_path, "damaged.jpg", buf.getvalue())
    assert "unreadable_metadata" in warnings and "no_capture_time" in warnings
    assert item.sent_at is None


def test_a_picture_pillow_cannot_open_is_still_kept(tmp_path: Path) -> None:
    data = b"\xff\xd8\xff\xe0" + b"\x00" * 50  # a JPEG start and nothing of a picture
    item, warnings = one(tmp_path, "broken.jpg", data)
    assert warnings == ["unreadable_metadata", "no_capture_time"]
    assert item.raw == {"detected_type": "image/jpeg"}


def test_a_picture_far_larger_than_any_camera_makes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 10)
    _item, warnings = one(tmp_path, "huge.png", picture("PNG", exif=TAKEN, size=(20, 20)))
    assert warnings == ["metadata_not_read", "no_capture_time"]


def test_heic_too_large_to_read_whole(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(photo, "MAX_WHOLE_READ", 100)
    _item, warnings = one(tmp_path, "a.heic", picture("HEIF", exif=TAKEN, size=(64, 64)))
    assert warnings == ["metadata_not_read", "no_capture_time"]


@pytest.mark.parametrize(
    ("name", "data", "what"),
    [
        ("statement.pdf", b"%PDF-1.7\n", "PDF"),
        ("photo.jpg", b"%PDF-1.7\n", "PDF"),
        ("notes.txt", b"hello\n", "plain text"),
        ("anim.gif", b"GIF89a\x01\x00", "GIF"),
    ],
)
def test_not_a_photo(tmp_path: Path, name: str, data: bytes, what: str) -> None:
    with pytest.raises(ImportFormatError) as e:
        run(write(tmp_path, name, data))
    assert what in e.value.message and "--format file" in (e.value.hint or "")
    assert e.value.location is not None and e.value.location.file == name


def test_empty_file(tmp_path: Path) -> None:
    with pytest.raises(ImportFormatError) as e:
        run(write(tmp_path, "empty.jpg", b""))
    assert e.value.location is not None and e.value.location.file == "empty.jpg"


# --- zips of pictures ---------------------------------------------------------------------------


def test_a_zip_gives_one_item_per_picture_in_member_order(tmp_path: Path) -> None:
    a = picture(exif={0x9003: "2024:01:02 10:00:00"})
    b = picture("PNG")
    c = picture("HEIF", exif={0x9003: "2024:01:01 09:00:00", 0x9011: "+00:00"}, size=(64, 64))
    mov = b"\x00\x00\x00\x14ftypqt  \x00\x00\x00\x00qt  " + b"\x00" * 100
    path = make_zip(
        tmp_path / "photos.zip",
        [
            ("DCIM/IMG_0002.JPG", a),
            ("DCIM/", b""),
            ("__MACOSX/DCIM/._IMG_0002.JPG", b"\x00\x05\x16\x07"),
            ("DCIM/.DS_Store", b"\x00\x00\x00\x01Bud1"),
            ("Screenshot_20240103-101500.png", b),
            ("IMG_0001.HEIC", c),
            ("IMG_0001.MOV", mov),
            ("IMG_0002.AAE", b"<?xml version='1.0'?><plist/>"),
            ("notes.bin", bytes(range(256))),
        ],
    )
    items, warnings, data = run(path)
    assert [(i.channel, i.raw["member"]) for i in items] == [
        ("photo", "DCIM/IMG_0002.JPG"),
        ("photo", "Screenshot_20240103-101500.png"),
        ("photo", "IMG_0001.HEIC"),
        ("file", "IMG_0001.MOV"),
    ]
    assert data == {
        "DCIM/IMG_0002.JPG": a,
        "Screenshot_20240103-101500.png": b,
        "IMG_0001.HEIC": c,
        "IMG_0001.MOV": mov,
    }
    assert items[0].attachments[0].name == "IMG_0002.JPG"
    assert items[0].sent_at == utc(2024, 1, 2, 10) and items[2].sent_at == utc(2024, 1, 1, 9)
    assert items[1].raw["name_time"] == "20240103-101500"
    assert items[3].raw["detected_type"] == "video/quicktime" and items[3].sent_at is None
    assert all(i.offset is not None for i in items)
    codes = [w.code for w in warnings]
    assert codes.count("capture_time_differs") == 2  # the members were zipped today
    assert codes[-1] == "files_not_imported" and "no_capture_time" in codes
    assert "IMG_0002.AAE" in warnings[-1].message and "notes.bin" in warnings[-1].message
    assert "2 files" in warnings[-1].message
    assert not any(".DS_Store" in w.message or "__MACOSX" in w.message for w in warnings)


def test_zip_dates_close_to_the_capture_time_say_nothing(tmp_path: Path) -> None:
    info = zipfile.ZipInfo("a.jpg", date_time=(2024, 1, 31, 23, 0, 0))
    old = zipfile.ZipInfo("b.jpg", date_time=(2020, 5, 1, 8, 0, 0))
    undated = zipfile.ZipInfo("c.jpg", date_time=(1980, 1, 1, 0, 0, 0))
    data = picture(exif=TAKEN)
    items, warnings, _ = run(
        make_zip(tmp_path / "p.zip", [(info, data), (old, data), (undated, data)])
    )
    assert len(items) == 3
    assert items[0].raw["zip_date"] == "2024-01-31 23:00:00" and "zip_date" not in items[2].raw
    [w] = warnings
    assert w.code == "capture_time_differs" and "b.jpg" in w.message
    assert "31 January 2024 at 21:05" in w.message and "1 May 2020 at 08:00" in w.message
    assert w.offset == items[1].offset


def test_a_damaged_member_is_skipped_and_the_rest_imported(tmp_path: Path) -> None:
    good = picture(exif=TAKEN)
    path = make_zip(tmp_path / "p.zip", [("a.jpg", good), ("b.jpg", good + b"x" * 2000)])
    raw = bytearray(path.read_bytes())
    with zipfile.ZipFile(path) as zf:
        info = zf.getinfo("b.jpg")
    start = info.header_offset + 30 + len(info.filename) + 10
    raw[start : start + 20] = b"\xff" * 20  # damage b.jpg's compressed data
    path.write_bytes(bytes(raw))
    items, warnings, data = run(path)
    assert [i.raw["member"] for i in items] == ["a.jpg"] and data["a.jpg"] == good
    warnings = [w for w in warnings if w.code != "capture_time_differs"]  # zipped today
    assert [w.code for w in warnings] == ["unreadable_member"]
    assert "b.jpg" in warnings[0].message and warnings[0].offset == info.header_offset


def test_a_password_protected_member_is_skipped(tmp_path: Path) -> None:
    path = make_zip(tmp_path / "p.zip", [("a.jpg", picture(exif=TAKEN)), ("b.jpg", b"x")])
    raw = bytearray(path.read_bytes())
    with zipfile.ZipFile(path) as zf:
        infos = {i.filename: i for i in zf.infolist()}
    # set the "encrypted" flag of b.jpg in its local and central headers
    raw[infos["b.jpg"].header_offset + 6] |= 1
    central = raw.rfind(b"PK\x01\x02")
    raw[central + 8] |= 1
    path.write_bytes(bytes(raw))
    items, warnings, _ = run(path)
    codes = [w.code for w in warnings if w.code != "capture_time_differs"]
    assert len(items) == 1 and codes == ["unreadable_member"]


def test_a_zip_without_pictures(tmp_path: Path) -> None:
    path = make_zip(tmp_path / "docs.zip", [("a.txt", b"hello"), ("b.json", b"{}")])
    with pytest.raises(ImportFormatError) as e:
        run(path)
    assert e.value.location is not None and e.value.location.file == "docs.zip"
    assert "--format file" in (e.value.hint or "")


def test_a_truncated_zip(tmp_path: Path) -> None:
    whole = make_zip(tmp_path / "whole.zip", [(f"{i}.jpg", picture(exif=TAKEN)) for i in range(5)])
    cut = write(tmp_path, "cut.zip", whole.read_bytes()[: whole.stat().st_size // 2])
    with pytest.raises(ImportFormatError) as e:
        run(cut)
    assert e.value.location is not None and e.value.location.file == "cut.zip"
    assert e.value.cause and e.value.hint


def test_a_zip_bomb_is_refused_before_reading(tmp_path: Path) -> None:
    path = tmp_path / "photos.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as zf:
        zf.writestr("a.jpg", picture())
        with zf.open("b.jpg", "w", force_zip64=True) as member:
            zeros = bytes(1 << 20)
            for _ in range(101):
                member.write(zeros)
    assert path.stat().st_size < 1 << 20
    with pytest.raises(ImportTooLarge) as e:
        run(path)
    assert e.value.location is not None and e.value.location.file == "photos.zip"
    assert "b.jpg" in (e.value.cause or "") and e.value.hint


def test_zip_limits(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = make_zip(tmp_path / "p.zip", [(f"{i}.jpg", picture()) for i in range(3)])
    monkeypatch.setattr(photo, "MAX_ZIP_TOTAL", 100)
    with pytest.raises(ImportTooLarge):
        run(path)
    monkeypatch.setattr(photo, "MAX_ZIP_TOTAL", 1 << 30)
    monkeypatch.setattr(photo, "MAX_MEMBERS", 2)
    with pytest.raises(ImportTooLarge):
        run(path)


# --- score --------------------------------------------------------------------------------------


def score(tmp_path: Path, name: str, data: bytes) -> float:
    path = write(tmp_path, name, data)
    return Photo().score(Probe.of(Source(path), name))


def zip_bytes(names: list[str]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for n in names:
            zf.writestr(n, picture() if n.lower().endswith(".jpg") else b"x")
    return buf.getvalue()


def test_score(tmp_path: Path) -> None:
    for fmt in ("JPEG", "PNG", "WEBP", "TIFF"):
        assert score(tmp_path, "x", picture(fmt)) == 0.6, fmt
    assert score(tmp_path, "x.heic", picture("HEIF", size=(64, 64))) == 0.6
    assert score(tmp_path, "x.jpg", b"%PDF-1.7\n") == 0.0
    assert score(tmp_path, "x.gif", b"GIF89a\x01\x00") == 0.0
    assert score(tmp_path, "x.txt", b"hello") == 0.0
    assert score(tmp_path, "p.zip", zip_bytes(["a.jpg", "b.JPG", "c.mov", ".DS_Store"])) == 0.6
    takeout = ["a.jpg", "a.jpg.json", "b.jpg", "b.jpg.supplemental-metadata.json"]
    assert score(tmp_path, "t.zip", zip_bytes(takeout)) == 0.6
    assert score(tmp_path, "m.zip", zip_bytes([f"{i}.jpg" for i in range(20)] + ["x.dat"])) == 0.4
    assert score(tmp_path, "w.zip", zip_bytes(["_chat.txt", "a.jpg"])) == 0.0
    assert score(tmp_path, "t.zip", zip_bytes(["result.json", "photos/a.jpg"])) == 0.0
    assert score(tmp_path, "d.zip", zip_bytes(["a.doc", "b.doc"])) == 0.0


def test_whatsapp_zips_with_photos_go_to_whatsapp(tmp_path: Path) -> None:
    path = write(tmp_path, "WhatsApp Chat - Sam.zip", zip_bytes(["_chat.txt", "IMG-1.jpg"]))
    probe = Probe.of(Source(path), path.name)
    best = max(available(), key=lambda imp: imp.score(probe))
    assert best.name == "whatsapp"


# --- the shared samples -------------------------------------------------------------------------

SAMPLE_EXPECTED: dict[str, dict[str, Any]] = {
    "camera_canon_40d.jpg": {
        "sent_at": utc(2008, 5, 30, 14, 56, 1),
        "local_time": "2008:05:30 15:56:01",
        "warnings": [],
        "raw": {"make": "Canon", "model": "Canon EOS 40D", "software": "GIMP 2.4.5"},
    },
    "gps_nikon_DSCN0010.jpg": {
        "sent_at": utc(2008, 10, 22, 15, 28, 39),
        "local_time": "2008:10:22 16:28:39",
        "warnings": [],
        "raw": {
            "make": "NIKON",
            "gps_latitude": "43.4674483",
            "gps_longitude": "11.8851267",
            "gps_date": "2008:10:23",
        },
    },
    "iphone_IMG_5195.HEIC": {
        "sent_at": utc(2021, 4, 11, 20, 47, 53),
        "local_time": "2021:04:11 15:47:53",
        "warnings": [],
        "raw": {
            "make": "Apple",
            "model": "iPhone 11 Pro Max",
            "offset_time_original": "-05:00",
            "gps_latitude": "39.0513444",
            "gps_longitude": "-94.2887722",
            "gps_altitude": "260.56",
            "detected_type": "image/heic",
        },
    },
    "malformed_zero_length_string.jpg": {
        "sent_at": None,
        "local_time": "",
        "warnings": ["no_capture_time"],
        "raw": {"make": "samsung", "model": "SM-G930F", "gps_latitude": "51.025"},
    },
    "orientation_6.jpg": {
        "sent_at": None,
        "local_time": "",
        "warnings": ["no_capture_time"],
        "raw": {"orientation": "6", "width": "600", "height": "450"},
    },
    "xmp_no_exif.jpg": {
        "sent_at": utc(2013, 9, 23, 8, 9, 46),
        "local_time": "2013-09-23T10:09:46+02:00",
        "warnings": [],
        "raw": {"time_source": "XMP xmp:CreateDate", "date_time": "2014:09:22 10:56:35"},
    },
}


@needs_samples
def test_every_sample_is_in_the_table() -> None:
    assert sorted(p.name for p in SAMPLES.iterdir()) == sorted(SAMPLE_EXPECTED)


@needs_samples
@pytest.mark.parametrize("name", sorted(SAMPLE_EXPECTED))
def test_shared_sample(name: str) -> None:
    expected = SAMPLE_EXPECTED[name]
    path = SAMPLES / name
    probe = Probe.of(Source(path), name)
    assert max(available(), key=lambda imp: imp.score(probe)).name == "photo"
    items, warnings, data = run(path)
    [item] = items
    assert data[name] == path.read_bytes()
    assert item.sent_at == expected["sent_at"] and item.local_time == expected["local_time"]
    assert [w.code for w in warnings] == expected["warnings"]
    assert expected["raw"].items() <= item.raw.items()


@needs_samples
def test_the_samples_in_one_zip(tmp_path: Path) -> None:
    path = tmp_path / "samples.zip"
    with zipfile.ZipFile(path, "w") as zf:
        for name in sorted(SAMPLE_EXPECTED):
            zf.write(SAMPLES / name, name)
    items, _, data = run(path)
    assert [i.raw["member"] for i in items] == sorted(SAMPLE_EXPECTED)
    assert [i.sent_at for i in items] == [
        SAMPLE_EXPECTED[n]["sent_at"] for n in sorted(SAMPLE_EXPECTED)
    ]
    assert all(data[n] == (SAMPLES / n).read_bytes() for n in SAMPLE_EXPECTED)


@needs_samples
def test_other_samples_are_not_claimed() -> None:
    for path in sorted(SAMPLES.parent.glob("*/*")):
        if path.parent.name != "exif" and path.is_file():
            assert Photo().score(Probe.of(Source(path), path.name)) == 0.0, path.name


# --- generated pictures -------------------------------------------------------------------------


@given(
    st.datetimes(min_value=datetime(1990, 1, 1), max_value=datetime(2037, 12, 31)),
    st.one_of(st.none(), st.integers(min_value=-12 * 4, max_value=14 * 4)),
    st.sampled_from(["JPEG", "PNG", "WEBP"]),
)
@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
def test_generated_capture_times_round_trip(
    tmp_path: Path, taken: datetime, quarters: int | None, fmt: str
) -> None:
    taken = taken.replace(microsecond=0)
    exif: dict[int, str] = {0x9003: taken.strftime("%Y:%m:%d %H:%M:%S")}
    if quarters is not None:
        sign = "-" if quarters < 0 else "+"
        h, m = divmod(abs(quarters) * 15, 60)
        exif[0x9011] = f"{sign}{h:02d}:{m:02d}"
    data = picture(fmt, exif=exif)
    item, warnings = one(tmp_path, "g.img", data, timezone="UTC")
    assert warnings == []
    assert item.local_time == exif[0x9003]
    if quarters is None:
        assert item.sent_at == taken.replace(tzinfo=UTC)
    else:
        from datetime import timedelta

        assert item.sent_at == (taken - timedelta(minutes=quarters * 15)).replace(tzinfo=UTC)


@given(st.binary(min_size=0, max_size=600), st.integers(min_value=2, max_value=400))
@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
def test_damaged_pictures_never_stop_an_import(tmp_path: Path, junk: bytes, at: int) -> None:
    """Bytes overwritten anywhere in a picture's metadata: still one item, bytes unchanged."""
    base = bytearray(
        picture(exif=TAKEN, gps={1: "N", 2: (1.0, 2.0, 3.0), 3: "E", 4: (4.0, 5.0, 6.0)})
    )
    base[at : at + len(junk)] = junk
    data = bytes(base)
    if not data.startswith(b"\xff\xd8\xff"):
        return
    item, warnings = one(tmp_path, "x.jpg", data)
    assert item.attachments[0].media_type == "image/jpeg"
    assert set(warnings) <= {
        "unreadable_metadata",
        "metadata_not_read",  # junk that makes the frame's size absurd: too large to decode
        "no_capture_time",
        "bad_capture_time",
        "bad_time_offset",
        "bad_location",
    }


_ASCII = st.text(st.characters(min_codepoint=32, max_codepoint=126), max_size=24)


@given(_ASCII, _ASCII, _ASCII)
@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
def test_any_time_fields_are_read_or_refused(
    tmp_path: Path, original: str, offset: str, digitized: str
) -> None:
    data = picture(exif={0x9003: original, 0x9011: offset, 0x9004: digitized})
    item, warnings = one(tmp_path, "t.jpg", data)
    assert (item.sent_at is None) == ("no_capture_time" in warnings)
    assert set(warnings) <= {"no_capture_time", "bad_capture_time", "bad_time_offset"}


# --- through the real pipeline ------------------------------------------------------------------


def test_photos_in_a_real_diary(diary: Diary, tmp_path: Path) -> None:
    a = picture(exif={0x9003: "2024:01:01 10:00:00"})
    b = picture(exif={0x9003: "2024:01:01 10:00:00"}, size=(9, 6))  # same second, other photo
    c = picture("PNG")
    d = picture(exif={0x9003: "2024:01:02 08:00:00"})
    first = diary.import_file(
        make_zip(tmp_path / "first.zip", [("a.jpg", a), ("b.jpg", b), ("c.png", c)])
    )
    assert first.importer == "photo" and first.added == 3 and first.files_stored == 3
    assert first.by_kind == {"file": 3}
    again = diary.import_file(tmp_path / "first.zip")
    assert again.already_imported_at is not None and again.added == 0
    later = diary.import_file(
        make_zip(tmp_path / "later.zip", [("c.png", c), ("d.jpg", d), ("a.jpg", a)])
    )
    assert later.added == 1 and later.duplicates == 2
    # the same picture on its own is recognised too
    single = diary.import_file(write(tmp_path, "copy of b.jpg", b))
    assert single.importer == "photo" and single.added == 0 and single.duplicates == 1
    msgs = diary.messages()
    assert len(msgs) == 4 and all(m.channel == "photo" for m in msgs)
    dated = {m.sent_at for m in msgs}
    assert dated == {"2024-01-01T10:00:00Z", "2024-01-02T08:00:00Z", None}
    stored = [f for m in msgs for f in m.attachments]
    assert sorted(f["sha256"] for f in stored) == sorted(
        hashlib.sha256(x).hexdigest() for x in (a, b, c, d)
    )
    report = diary.verify()
    assert report.ok, report.problems


def test_items_are_the_same_from_a_zip_and_alone(tmp_path: Path) -> None:
    data = picture(exif=TAKEN)
    alone, _, _ = run(write(tmp_path, "a.jpg", data))
    zipped, _, _ = run(make_zip(tmp_path / "z.zip", [("a.jpg", data)]))
    strip = {"member", "zip_date"}
    a, z = alone[0], zipped[0]
    assert replace(a, attachments=(), offset=None, raw={}) == replace(
        z, attachments=(), offset=None, raw={}
    )
    assert a.raw == {k: v for k, v in z.raw.items() if k not in strip}


def test_a_single_pictures_file_date_is_compared_with_its_capture_time(tmp_path: Path) -> None:
    taken = picture(exif={0x9003: "2024:07:01 12:00:00"})
    item, warnings = one(tmp_path, "a.jpg", taken, modified=datetime(2024, 7, 1, 18, 0))
    assert warnings == [] and item.raw["file_date"] == "2024-07-01 18:00:00"
    item, warnings = one(tmp_path, "b.jpg", taken, modified=datetime(2025, 1, 9, 8, 0))
    assert warnings == ["capture_time_differs"]
    assert item.sent_at == utc(2024, 7, 1, 11)  # the time inside the picture is the one used


def test_the_pipeline_passes_the_files_date(tmp_path: Path) -> None:
    import os

    path = write(tmp_path, "IMG_1.jpg", picture(exif={0x9003: "2024:07:01 12:00:00"}))
    stamp = datetime(2025, 3, 1, 9, 0, tzinfo=UTC).timestamp()
    os.utime(path, (stamp, stamp))
    with Diary.create(tmp_path / "d.docket", "kettle orbit maple drum") as d:
        summary = d.import_file(path)
    assert [w["code"] for w in summary.warnings] == ["capture_time_differs"]
