"""The one-page safety sheet and the witness note form, rendered for real (WeasyPrint) from a
real encrypted diary and read back with pdfplumber: one page for every audience, even with the
longest content the sheet allows; nothing from incidents, messages or private notes unless it
is ticked; each audience's wording and the jurisdiction's emergency number; no photo metadata;
and the errors for choices that do not belong to the person."""

from __future__ import annotations

import base64
import io
import re
import stat
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pdfplumber
import pytest
from pdfminer.high_level import extract_text
from PIL import Image

from docket import sheet
from docket.api import Diary
from docket.errors import ConfigError, InputError, RecordNotFound, RecordRedacted, UnknownChoice
from docket.jurisdictions import NEUTRAL_EMERGENCY
from docket.jurisdictions import load as load_jurisdiction
from docket.model import identifiers
from docket.model.records import IncidentData, Occurrence, PersonData, Place, Report
from tests.conftest import PASSPHRASE
from tests.test_wording import violations

LONDON = ZoneInfo("Europe/London")
ALEX_PHONE = "+447700900123"
OTHER_PHONE = "+447700900555"
MARKERS = {
    "incident": "MARKERINCIDENT",
    "message": "MARKERMESSAGE",
    "private_note": "MARKERPRIVATENOTE",
    "person_note": "MARKERPERSONNOTE",
    "private_place": "MARKERPRIVATEPLACE",
}
# one sentence only each audience's sheet says
DISTINCT = {
    "family": "Be careful what you post online",
    "workplace": "Please do not confirm that I work here",
    "education": "Do not let this person collect or take away any child or student",
}
THREE_PLACES = ("Tesco car park", "Outside the gym", "Station Road bus stop")


@dataclass(frozen=True)
class World:
    alex: int
    bob: int
    gone: int
    incidents: dict[str, int]
    photo: int  # a JPEG with GPS in its EXIF, attached to one of Alex's incidents
    text_file: int  # a text file attached to the same incident
    marker_message: int
    other_message: int  # from a number that is not Alex's


def gps_jpeg(size: tuple[int, int] = (300, 400), orientation: int = 1) -> bytes:
    """A JPEG whose EXIF names a camera (MARKERCAMERA) and a place (GPS)."""
    im = Image.new("RGB", size, (200, 120, 80))
    exif = Image.Exif()
    exif[0x010F] = "MARKERCAMERA"
    exif[0x0112] = orientation
    exif.get_ifd(0x8825).update({1: "N", 2: (51.0, 30.0, 12.0), 3: "W", 4: (0.0, 7.0, 39.0)})
    out = io.BytesIO()
    im.save(out, "JPEG", exif=exif.tobytes())
    data = out.getvalue()
    # the test picture really carries what must not come along
    assert Image.open(io.BytesIO(data)).getexif().get_ifd(0x8825)[1] == "N"
    return data


def sms_backup(path: Path, texts: list[tuple[datetime, str, str]]) -> Path:
    rows = []
    for when, number, body in texts:
        ms = int(when.timestamp() * 1000)
        rows.append(
            f'<sms protocol="0" address="{number}" date="{ms}" type="1" subject="null" '
            f'body="{body}" toa="null" sc_toa="null" service_center="null" read="1" '
            'status="-1" locked="0" date_sent="0" readable_date="" contact_name="(Unknown)" />'
        )
    path.write_text(
        "<?xml version='1.0' encoding='UTF-8' standalone='yes' ?>\n"
        f'<smses count="{len(rows)}">\n' + "\n".join(rows) + "\n</smses>\n",
        encoding="utf-8",
    )
    return path


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Diary, World]]:
    folder = tmp_path_factory.mktemp("sheet")
    d = Diary.create(folder / "sheet.docket", PASSPHRASE)
    alex = d.add_person(
        PersonData(
            "Alex Example",
            "responsible",
            "ex_partner",
            description="Tall, short grey hair, usually in a dark green parka.",
            identifiers=(
                identifiers.phone(ALEX_PHONE, "GB"),
                identifiers.vehicle("AB12 CDE"),
                identifiers.vehicle("XY65 ZZZ"),
            ),
            notes=f"{MARKERS['person_note']} lives with his brother",
        )
    ).id
    bob = d.add_person(PersonData("Bob Other", "responsible")).id
    gone = d.add_person(PersonData("Gone Person", "responsible")).id
    d.redact("person", gone, "added by mistake")

    def add(day: int, place: Place | None, text: str, **kw: Any) -> int:
        data = IncidentData(
            occurred=Occurrence(datetime(2026, 3, day, 19, 0, tzinfo=LONDON), "Europe/London"),
            category="LOI",
            description=text,
            place=place,
            people=kw.pop("people", (alex,)),
            **kw,
        )
        return d.add_incident_data(data).id

    incidents = {
        "car": add(1, Place("Tesco car park"), "Waited by my car"),
        "gym": add(
            3,
            Place("Outside the gym"),
            "Stood across the road",
            reported=(Report("Kent Police", date(2026, 3, 4), "PC 1234", "KP/12345/26"),),
        ),
        "gym2": add(5, Place("Outside the gym"), "Stood across the road again"),
        "home": add(6, Place(f"{MARKERS['private_place']} Linden Road", private=True), "At home"),
        "marker": add(8, Place("Tesco car park"), f"{MARKERS['incident']} shouted at me"),
        "noted": add(
            9, None, "Walked past twice", private_notes=f"{MARKERS['private_note']} my sister"
        ),
        "bob": add(
            10,
            Place("Bus stop"),
            "MARKERBOB left a parcel",
            people=(bob,),
            private_notes="MARKERBOBNOTE",
        ),
    }
    photo_file = folder / "alex.jpg"
    photo_file.write_bytes(gps_jpeg())
    photo = d.attach(photo_file, incident_id=incidents["car"], obtained="photo on my phone").id
    text_file = folder / "notes.txt"
    text_file.write_text("just some notes I typed\n")
    text_id = d.attach(text_file, incident_id=incidents["car"]).id
    start = datetime(2026, 2, 1, 9, 0, tzinfo=LONDON)
    texts = [(start + timedelta(hours=n), ALEX_PHONE, f"Message number {n:02d}") for n in range(55)]
    texts.append((start + timedelta(days=10), ALEX_PHONE, f"{MARKERS['message']} answer me"))
    texts.append((start + timedelta(days=11), OTHER_PHONE, "MARKEROTHER from mum"))
    d.import_file(sms_backup(folder / "sms.xml", texts))
    marker_message = next(
        m.id for m in d.messages(person_id=alex) if (m.body or "").startswith("MARKERMESSAGE")
    )
    other_message = next(m.id for m in d.messages() if (m.body or "").startswith("MARKEROTHER"))
    try:
        yield d, World(alex, bob, gone, incidents, photo, text_id, marker_message, other_message)
    finally:
        d.close()


def flat(text: str) -> str:
    return " ".join(text.split())


def pdf_read(pdf: bytes) -> tuple[str, int, list[bytes]]:
    """(the text, flattened; the number of pages; each embedded image's data). The text is
    read by pdfminer's layout analysis, which keeps each column's lines together."""
    with pdfplumber.open(io.BytesIO(pdf)) as doc:
        images = [img["stream"].get_data() for page in doc.pages for img in page.images]
        pages = len(doc.pages)
    return flat(extract_text(io.BytesIO(pdf))), pages, images


def html_images(html: str) -> list[bytes]:
    return [
        base64.b64decode(b) for b in re.findall(r'src="data:image/[a-z]+;base64,([^"]+)"', html)
    ]


def assert_no_metadata(image: bytes) -> None:
    for marker in (b"Exif", b"MARKERCAMERA", b"eXIf", b"XML:com.adobe.xmp"):
        assert marker not in image, marker
    im = Image.open(io.BytesIO(image))
    assert not im.getexif() and "exif" not in im.info


# --- one page, every audience ----------------------------------------------------------------


@pytest.mark.parametrize("code", sheet.AUDIENCE_CODES)
def test_one_page_with_a_photo_two_vehicles_and_three_places(
    world: tuple[Diary, World], code: str
) -> None:
    d, w = world
    built = sheet.build(
        d,
        sheet.SheetChoices(
            w.alex,
            audience=code,
            user_name="Jo",
            places=THREE_PLACES,
            photo=w.photo,
            contact_name="Sam",
            contact_phone="07700 900777",
        ),
    )
    text, pages, images = pdf_read(sheet.render_pdf(built))
    assert pages == 1
    assert len(images) == 1
    assert_no_metadata(images[0])
    for expected in ("Alex Example", "dark green parka", "AB12 CDE", "XY65 ZZZ", *THREE_PLACES,
                     "Sam", "07700 900777"):  # fmt: skip
        assert expected in text, expected
    # this audience's wording, all of it, and none of the others'
    wording = sheet.AUDIENCES[code].for_jurisdiction(d.jurisdiction)
    for step in (*wording.if_you_see, wording.title, wording.record_what, wording.intro):
        assert flat(step) in text, step
    for other, phrase in DISTINCT.items():
        assert (phrase in text) is (other == code), (other, phrase)
    assert "call 999 straight away" in text and "0808 802 0300" in text
    assert f"Prepared by Jo on {built.prepared_on}. Please do not post or share this sheet." in text
    assert not violations(text)
    assert not re.search(r"\bstalker\b|\bcriminal\b|\boffen[cs]e\b", text, re.IGNORECASE)


def _long(n: int, wide: bool) -> str:
    """``n`` characters of ordinary English, or of the widest letters."""
    base = (
        "Wwwwww Mmmmmm Wwwwww Mmmmmm "
        if wide
        else "He stood by the blue railings near the main entrance in a grey hooded top. "
    )
    return (base * (n // len(base) + 1))[: n - 1] + "Z"


@pytest.mark.parametrize(
    ("code", "wide"),
    [("family", False), ("workplace", False), ("education", False), ("education", True)],
)
def test_the_longest_content_allowed_still_fits_one_page(
    tmp_path: Path, code: str, wide: bool
) -> None:
    with Diary.create(tmp_path / "long.docket", PASSPHRASE) as d:
        pid = d.add_person(
            PersonData(
                _long(sheet.MAX_PERSON_NAME + 30, wide),
                description=_long(sheet.MAX_DESCRIPTION * 3, wide),
                identifiers=tuple(identifiers.vehicle(f"WW{n}2 WWW") for n in range(6)),
                notes=_long(sheet.MAX_PERSON_NOTES * 2, wide),
            )
        ).id
        ids = [
            d.add_incident_data(
                IncidentData(
                    occurred=Occurrence(datetime(2026, 3, n + 1, 19, tzinfo=LONDON),
                                        "Europe/London"),
                    category="PRP",
                    description=_long(sheet.MAX_ITEM_CHARS * 3, wide),
                    private_notes=_long(sheet.MAX_ITEM_CHARS * 3, wide),
                    people=(pid,),
                )
            ).id
            for n in range(sheet.MAX_INCIDENTS)
        ]  # fmt: skip
        photo = io.BytesIO()
        Image.new("RGB", (600, 1800), (90, 90, 90)).save(photo, "PNG")  # tall and narrow
        notes = sheet.MAX_HAPPENED - sheet.MAX_INCIDENTS
        choices = sheet.SheetChoices(
            pid,
            audience=code,
            user_name=_long(sheet.MAX_NAME_CHARS, wide),
            places=tuple(_long(sheet.MAX_PLACE_CHARS, wide)[:-2] + f"{n}Q" for n in range(6)),
            photo_data=photo.getvalue(),
            reference=_long(sheet.MAX_REFERENCE_CHARS, True),
            incidents=tuple(ids),
            private_notes=tuple(ids[:notes]),
            person_notes=True,
            contact_name=_long(sheet.MAX_NAME_CHARS, wide),
            contact_phone="0" * sheet.MAX_PHONE_CHARS,
            contact_other=_long(sheet.MAX_CONTACT_OTHER, wide),
            extra=_long(sheet.MAX_EXTRA - 1, wide) + "!",
        )
        built = sheet.build(d, choices)
    assert len(built.happened) == sheet.MAX_HAPPENED and len(built.vehicles) == 4
    assert len(built.places) == 6 and len(built.warnings) >= 3  # name, description, vehicles…
    text, pages, images = pdf_read(sheet.render_pdf(built))
    assert pages == 1 and len(images) == 1
    # everything is on the page, down to the last line and the footer
    squeezed = text.replace(" ", "")
    for n in range(6):
        assert f"{n}Q" in squeezed
    assert built.extra[-20:].replace(" ", "") in squeezed
    assert "Pleasedonotpostorsharethissheet." in squeezed
    assert built.reference.replace(" ", "") in squeezed


# --- nothing private unless ticked ---------------------------------------------------------------


def _all_forms(built: sheet.Sheet) -> dict[str, str]:
    return {
        "pdf": pdf_read(sheet.render_pdf(built))[0],
        "html": sheet.render_html(built),
        "text": sheet.render_text(built),
    }


def test_markers_appear_only_when_ticked(world: tuple[Diary, World]) -> None:
    d, w = world
    plain = sheet.build(d, sheet.SheetChoices(w.alex, places=THREE_PLACES, photo=w.photo))
    for form, text in _all_forms(plain).items():
        for marker in (*MARKERS.values(), "MARKERBOB", "MARKEROTHER", "KP/12345/26"):
            assert marker not in text, (form, marker)
        assert "police are aware" not in text.lower()

    ticked = sheet.build(
        d,
        sheet.SheetChoices(
            w.alex,
            places=(*THREE_PLACES, f"{MARKERS['private_place']} Linden Road"),
            reference="KP/12345/26",
            incidents=(w.incidents["marker"],),
            messages=(w.marker_message,),
            private_notes=(w.incidents["noted"],),
            person_notes=True,
        ),
    )
    assert any("private" in warning for warning in ticked.warnings)
    for form, text in _all_forms(ticked).items():
        for marker in MARKERS.values():
            assert marker in text, (form, marker)
        for marker in ("MARKERBOB", "MARKEROTHER", "Message number"):
            assert marker not in text, (form, marker)
        shown = re.sub(r"<[^>]+>", "", text) if form == "html" else text
        assert "The police are aware (crime reference KP/12345/26)." in flat(shown), form
    # what has happened is in the order it happened, with the category's name
    happened = [(h.kind, h.when) for h in ticked.happened]
    assert happened == [("message", "11 Feb 2026"), ("incident", "8 Mar 2026"),
                        ("note", "9 Mar 2026")]  # fmt: skip
    assert ticked.happened[1].label == d.jurisdiction.category("LOI").name  # type: ignore[union-attr]


def test_the_html_is_self_contained_and_the_text_is_plain(world: tuple[Diary, World]) -> None:
    d, w = world
    built = sheet.build(d, sheet.SheetChoices(w.alex, photo_data=gps_jpeg(), user_name="Jo"))
    html = sheet.render_html(built)
    assert "<script" not in html and "<link" not in html and "href=" not in html
    assert re.findall(r'src="([a-z]+):', html) == ["data"]
    for image in html_images(html):
        assert_no_metadata(image)
    text = sheet.render_text(built)
    assert "<" not in text and "Alex Example" in text and "photo on the printed sheet" in text
    assert text.rstrip().endswith("Please do not post or share this sheet.")


# --- the jurisdiction's words -------------------------------------------------------------------


def test_the_emergency_number_comes_from_the_jurisdiction(tmp_path: Path) -> None:
    with Diary.create(tmp_path / "us.docket", PASSPHRASE, jurisdiction="united-states") as d:
        pid = d.add_person(PersonData("Casey Example", description="Red pickup truck.")).id
        built = sheet.build(d, sheet.SheetChoices(pid, audience="workplace"))
        us_text, pages, _ = pdf_read(sheet.render_pdf(built))
        assert pages == 1
        assert "call 911 straight away" in us_text and "999" not in us_text
        assert "800-799-7233" in us_text

        neutral = replace(
            load_jurisdiction("england-wales"),
            emergency_number=None,
            non_emergency_number=None,
            silent_call="",
            emergency_text=NEUTRAL_EMERGENCY,
            helplines=(),
        )
        d.jurisdiction = neutral
        built = sheet.build(d, sheet.SheetChoices(pid, audience="education"))
        for text in (pdf_read(sheet.render_pdf(built))[0], sheet.render_text(built)):
            assert "call your local emergency number straight away" in flat(text)
            assert not re.search(r"\b(?:999|911|101)\b", text)
        form = flat(sheet.witness_form_text(neutral))
        assert "call your local emergency number straight away" in form


# --- the photo ---------------------------------------------------------------------------------


def _heic(im: Image.Image, exif: bytes) -> bytes:
    import pillow_heif

    pillow_heif.register_heif_opener()
    out = io.BytesIO()
    im.save(out, "HEIF", exif=exif)
    return out.getvalue()


@pytest.mark.parametrize("kind", ["jpeg", "png", "webp", "heic"])
def test_photo_metadata_is_never_embedded(world: tuple[Diary, World], kind: str) -> None:
    d, w = world
    exif = Image.open(io.BytesIO(gps_jpeg())).getexif().tobytes()
    im = Image.new("RGBA" if kind == "png" else "RGB", (300, 400), (10, 120, 200, 255))
    if kind == "jpeg":
        data = gps_jpeg(orientation=6)  # turned on its side: must come out upright
    elif kind == "heic":
        data = _heic(im, exif)
    else:
        out = io.BytesIO()
        im.save(out, kind.upper(), exif=exif)
        data = out.getvalue()
    assert b"MARKERCAMERA" in data
    built = sheet.build(d, sheet.SheetChoices(w.alex, photo_data=data))
    assert built.photo is not None
    assert_no_metadata(built.photo.data)
    if kind == "jpeg":
        assert (built.photo.width, built.photo.height) == (400, 300)
    pdf = sheet.render_pdf(built)
    _, pages, images = pdf_read(pdf)
    assert pages == 1 and len(images) == 1 and b"MARKERCAMERA" not in pdf
    if built.photo.media_type == "image/jpeg":  # a JPEG is embedded as it is
        assert images[0] == built.photo.data
    for image in html_images(sheet.render_html(built)):
        assert_no_metadata(image)


def test_a_huge_or_broken_picture_is_refused_plainly(world: tuple[Diary, World]) -> None:
    d, w = world
    with pytest.raises(InputError, match="cannot read that file as a photo"):
        sheet.build(d, sheet.SheetChoices(w.alex, photo_data=b"\xff\xd8\xff\xe0 not really"))
    with pytest.raises(InputError, match="too large"):
        sheet.clean_photo(b"\0" * (sheet.MAX_PHOTO_BYTES + 1))


# --- the witness note form -----------------------------------------------------------------------


@pytest.mark.parametrize("code", sheet.AUDIENCE_CODES)
def test_the_witness_form_is_one_page_with_its_fields(
    world: tuple[Diary, World], code: str
) -> None:
    d, _ = world
    text, pages, _ = pdf_read(sheet.witness_form(d, user_name="Jo", audience=code))
    plain = flat(sheet.witness_form_text(d, user_name="Jo", audience=code))
    assert pages == 1
    for label, _ in sheet.WITNESS_FIELDS:
        assert label in text and label in plain
    for words in (
        "I wrote this on (date)",
        "as soon as you can",
        "Use your own words",
        "rather than guess",
        "Give it to Jo, who can add it to their diary, or to the police if they ask",
        "call 999 straight away",
        flat(sheet.AUDIENCES[code].witness_intro),
    ):
        assert words in text and words in plain, words
    us = load_jurisdiction("united-states")
    assert "call 911 straight away" in pdf_read(sheet.witness_form(us))[0]
    assert "Give it to the person who gave you this" in sheet.witness_form_text(us)


# --- the preview's options -----------------------------------------------------------------------


def test_options_offer_what_can_be_ticked(world: tuple[Diary, World]) -> None:
    d, w = world
    o = sheet.options(d, w.alex)
    places = {p.text: p for p in o.places}
    assert places["Tesco car park"].count == 2 and places["Outside the gym"].count == 2
    assert places["Tesco car park"].latest == "8 March 2026"
    private = places[f"{MARKERS['private_place']} Linden Road"]
    assert private.private and not private.suggested
    assert places["Tesco car park"].suggested and "Bus stop" not in places  # Bob's
    assert [p.id for p in o.photos] == [w.photo]  # images only
    assert [(r.reference, r.to, r.on) for r in o.references] == [
        ("KP/12345/26", "Kent Police", "4 March 2026")
    ]
    assert {i.id for i in o.incidents} == set(w.incidents.values()) - {w.incidents["bob"]}
    assert o.incidents[0].id == w.incidents["noted"] and o.incidents[0].has_private_notes
    assert len(o.messages) == sheet.OPTION_MESSAGES  # the latest 50 of 56
    assert o.messages[0].id == w.marker_message
    assert all("MARKEROTHER" not in m.summary for m in o.messages)
    assert o.vehicles == ("AB12 CDE", "XY65 ZZZ") and o.identifiers == (ALEX_PHONE,)
    assert o.has_person_notes and not o.description_cut
    assert [c for c, _ in o.audiences] == ["family", "workplace", "education"]


# --- wrong choices -------------------------------------------------------------------------------


def test_wrong_choices_are_refused_with_the_right_error(world: tuple[Diary, World]) -> None:
    d, w = world

    def build(**kw: Any) -> sheet.Sheet:
        return sheet.build(d, sheet.SheetChoices(kw.pop("person_id", w.alex), **kw))

    with pytest.raises(RecordNotFound):
        build(person_id=9999)
    with pytest.raises(RecordNotFound):
        sheet.options(d, 9999)
    with pytest.raises(RecordRedacted):
        build(person_id=w.gone)
    with pytest.raises(UnknownChoice):
        build(audience="police")
    with pytest.raises(InputError, match="is not about Alex Example") as caught:
        build(incidents=(w.incidents["bob"],))
    assert type(caught.value) is InputError and caught.value.hint
    with pytest.raises(InputError, match="is not about Alex Example"):
        build(private_notes=(w.incidents["bob"],))
    with pytest.raises(InputError, match="no private notes"):
        build(private_notes=(w.incidents["car"],))
    with pytest.raises(RecordNotFound):
        build(incidents=(9999,))
    with pytest.raises(InputError, match="is not from Alex Example"):
        build(messages=(w.other_message,))
    with pytest.raises(RecordNotFound):
        build(messages=(999_999,))
    with pytest.raises(InputError, match="not a photo") as not_photo:
        build(photo=w.text_file)
    assert not_photo.value.details["media_type"] == "text/plain"
    with pytest.raises(RecordNotFound):
        build(photo=9999)
    with pytest.raises(InputError, match="one photo"):
        build(photo=w.photo, photo_data=gps_jpeg())
    with pytest.raises(InputError, match="Too many places"):
        build(places=tuple(f"Place {n}" for n in range(sheet.MAX_PLACES + 1)))
    ticked = tuple(v for k, v in w.incidents.items() if k != "bob")
    with pytest.raises(InputError, match="Too many incidents"):
        build(incidents=ticked[: sheet.MAX_INCIDENTS + 1])
    two_messages = tuple(m.id for m in d.messages(person_id=w.alex)[:2])
    with pytest.raises(InputError, match="What has happened"):
        build(incidents=ticked[:3], messages=two_messages, private_notes=(w.incidents["noted"],))
    with pytest.raises(InputError, match="too long"):
        build(extra="x" * (sheet.MAX_EXTRA + 1))
    with pytest.raises(InputError, match="too long"):
        build(user_name="x" * (sheet.MAX_NAME_CHARS + 1))


def test_write_by_extension_atomic_and_private(world: tuple[Diary, World], tmp_path: Path) -> None:
    d, w = world
    built = sheet.build(d, sheet.SheetChoices(w.alex, places=THREE_PLACES))
    out = tmp_path / "out"
    out.mkdir()
    for name, start in (("s.pdf", b"%PDF-"), ("s.html", b"<!doctype html>"), ("s.txt", b"PLEASE")):
        path = sheet.write(built, out / name)
        assert path.read_bytes().startswith(start), name
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
    with pytest.raises(InputError, match="cannot tell what kind of sheet") as wrong:
        sheet.write(built, out / "s.docx")
    assert ".pdf, .html or .txt" in (wrong.value.hint or "")
    with pytest.raises(InputError, match="does not exist"):
        sheet.write(built, tmp_path / "missing" / "s.pdf")
    assert sorted(p.name for p in out.iterdir()) == ["s.html", "s.pdf", "s.txt"]


# --- the wording file ----------------------------------------------------------------------------


def _wording() -> dict[str, Any]:
    return {
        a.code: {
            "label": a.label,
            "title": a.title,
            "intro": a.intro,
            "if_you_see": list(a.if_you_see),
            "record_what": a.record_what,
            "contact_intro": a.contact_intro,
            "witness_intro": a.witness_intro,
        }
        for a in sheet.AUDIENCES.values()
    }


@pytest.mark.parametrize(
    ("change", "complaint"),
    [
        (lambda t: t.pop("education"), "missing"),
        (lambda t: t.update(police=t["family"]), "does not know this audience"),
        (lambda t: t["family"].update(colour="blue"), "does not know this key"),
        (lambda t: t["family"].pop("witness_intro"), "required"),
        (lambda t: t["family"].update(title=""), "not empty"),
        (lambda t: t["family"].update(title=3), "must be text"),
        (lambda t: t["workplace"].update(intro="Call {number}."), "only placeholder"),
        (lambda t: t["workplace"].update(intro="This man is a stalker."), "never use"),
        (lambda t: t["workplace"].update(intro="What they do is harassment."), "never use"),
        (lambda t: t["education"].update(intro="Their conduct is an offence."), "never use"),
        (lambda t: t["family"].update(intro="Police are aware of him."), "never use"),
        (lambda t: t["family"].update(if_you_see=["Call someone."] * 4), "{emergency}"),
        (lambda t: t["family"].update(if_you_see="Call {emergency}."), "list"),
    ],
)
def test_the_wording_file_is_checked_strictly(change: Any, complaint: str) -> None:
    data = _wording()
    assert sheet.parse_audiences(data) == sheet.AUDIENCES  # the shipped wording round-trips
    change(data)
    with pytest.raises(ConfigError, match=re.escape(complaint)):
        sheet.parse_audiences(data)


def test_message_dates_are_local(world: tuple[Diary, World]) -> None:
    d, w = world
    m = d.message(w.marker_message)
    assert m.sent_at is not None
    sent = datetime.fromisoformat(m.sent_at.replace("Z", "+00:00")).astimezone(UTC)
    built = sheet.build(d, sheet.SheetChoices(w.alex, messages=(w.marker_message,)))
    local = sent.astimezone(LONDON)
    assert built.happened[0].when == f"{local.day} {local:%b} {local.year}"
    assert built.happened[0].text == "MARKERMESSAGE answer me"
