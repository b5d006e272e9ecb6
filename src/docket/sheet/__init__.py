"""The one-page safety sheet about a person in the register, for family and friends, a
workplace or a school (issue 11), and the witness note form its readers can fill in by hand.

Pure rendering from the facade's views: nothing here writes to the diary. The sheet shows the
person's name, description, vehicles, an optional photo, the places the user picks, what to do
and whom to tell. Nothing from the diary's incidents, messages or private notes appears unless
the user ticks it. The wording for each audience comes from ``audiences.toml``; it is calm and
factual, never labels the person, and never says what their conduct is in law.
"""

from __future__ import annotations

import base64
import contextlib
import io
import re
import tomllib
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final
from zoneinfo import ZoneInfo

from jinja2 import Environment, PackageLoader, select_autoescape

from docket import outfiles
from docket.errors import ConfigError, InputError, Location, RecordRedacted, UnknownChoice
from docket.importers.photo import _register_heif
from docket.jurisdictions import FORBIDDEN_WORDING, Helpline, Jurisdiction
from docket.model.timeparse import MONTHS
from docket.model.views import IncidentView, PersonView
from docket.records import IncidentFilter

if TYPE_CHECKING:
    from docket.api import Diary
    from docket.timeline import MessageView

# --- limits: everything the sheet shows is bounded, so that it always fits one A4 page --------

MAX_DESCRIPTION: Final = (
    320  # characters of the person's description (longer is cut, with a warning)
)
MAX_VEHICLES: Final = 4
MAX_PLACES: Final = 6
MAX_PLACE_CHARS: Final = 50
MAX_INCIDENTS: Final = 3  # ticked incidents in "What has happened"
MAX_MESSAGES: Final = 3  # ticked messages quoted
MAX_PRIVATE_NOTES: Final = 2  # ticked incidents' private notes
MAX_HAPPENED: Final = 5  # all of those together
MAX_ITEM_CHARS: Final = 140  # an incident's description or a private note, on the sheet
MAX_QUOTE_CHARS: Final = 120  # a message, quoted
MAX_PERSON_NOTES: Final = 160
MAX_EXTRA: Final = 200  # the user's own note
MAX_NAME_CHARS: Final = 60  # user_name, contact_name
MAX_PERSON_NAME: Final = 60  # the person's name from the register (longer is cut)
MAX_PHONE_CHARS: Final = 40
MAX_CONTACT_OTHER: Final = 80
MAX_REFERENCE_CHARS: Final = 30

# what the preview offers to tick
OPTION_PLACES: Final = 40
OPTION_PHOTOS: Final = 60
OPTION_REFERENCES: Final = 20
OPTION_INCIDENTS: Final = 100
OPTION_MESSAGES: Final = 50
OPTION_IDENTIFIERS: Final = 20
OPTION_SUMMARY: Final = 120

# the photo
MAX_PHOTO_BYTES: Final = 40 * 1024 * 1024
MAX_PHOTO_PIXELS: Final = 100_000_000
PHOTO_BOX: Final = 1000  # the longest side, in pixels, of the copy put on the sheet
PHOTO_MEDIA_TYPES: Final = frozenset(
    {"image/jpeg", "image/png", "image/webp", "image/heic", "image/heif"}
)
_PILLOW_FORMATS: Final = ("JPEG", "MPO", "PNG", "WEBP", "HEIF")

NOBODY: Final = "the person who gave you this"
NEUTRAL_EMERGENCY_NUMBER: Final = "your local emergency number"
DO_NOT_SHARE: Final = "Please do not post or share this sheet."


# --- the audiences --------------------------------------------------------------------------


@dataclass(frozen=True)
class Audience:
    """The wording for one kind of reader. ``{emergency}`` stands for the emergency number
    until ``for_jurisdiction`` fills it in."""

    code: str
    label: str
    title: str
    intro: str
    if_you_see: tuple[str, ...]
    record_what: str
    contact_intro: str
    witness_intro: str

    def for_jurisdiction(self, jurisdiction: Jurisdiction) -> Audience:
        number = jurisdiction.emergency_number or NEUTRAL_EMERGENCY_NUMBER

        def fill(text: str) -> str:
            return text.replace("{emergency}", number)

        return Audience(
            code=self.code,
            label=fill(self.label),
            title=fill(self.title),
            intro=fill(self.intro),
            if_you_see=tuple(fill(t) for t in self.if_you_see),
            record_what=fill(self.record_what),
            contact_intro=fill(self.contact_intro),
            witness_intro=fill(self.witness_intro),
        )


AUDIENCE_CODES: Final = ("family", "workplace", "education")
_AUDIENCE_TEXT_KEYS: Final = (
    "label",
    "title",
    "intro",
    "record_what",
    "contact_intro",
    "witness_intro",
)
_AUDIENCE_KEYS: Final = frozenset({*_AUDIENCE_TEXT_KEYS, "if_you_see"})
# Beyond the words no part of Docket may use: the sheet names a real person, so it never
# labels them or their conduct; "police are aware" is added only with a crime reference.
_SHEET_FORBIDDEN: Final = re.compile(
    r"\b(?:stalk\w*|harass\w*|criminal\w*|crimes?|offen[cs]es?|offender\w*|abus\w*"
    r"|dangerous|violent|perpetrator\w*|victim\w*|guilty|police are aware)\b",
    re.IGNORECASE,
)
_PLACEHOLDER: Final = "{emergency}"


def parse_audiences(data: dict[str, Any], source: str = "audiences.toml") -> dict[str, Audience]:
    """Validate the audiences' wording strictly and build them: exactly the three audiences,
    every key present and no other, text only, ``{emergency}`` the only placeholder (and used
    in ``if_you_see``), and none of the wording Docket must never use."""

    def fail(message: str, key: str) -> ConfigError:
        return ConfigError(
            f"The sheet wording {source} has a problem at {key!r}: {message}",
            hint="Correct the file; its opening comment describes each key.",
            location=Location(file=source),
            details={"file": source, "key": key},
        )

    def check_text(value: object, key: str) -> str:
        if not isinstance(value, str) or not value.strip():
            raise fail("this must be text, in quotes, and not empty.", key)
        text = " ".join(value.split())
        if re.search(r"[{}]", text.replace(_PLACEHOLDER, "")):
            raise fail(f"the only placeholder allowed is {_PLACEHOLDER}.", key)
        for pattern in (FORBIDDEN_WORDING, _SHEET_FORBIDDEN):
            found = pattern.search(text)
            if found:
                raise fail(f"it uses wording the sheet must never use ({found.group(0)!r}).", key)
        return text

    unknown = [k for k in data if k not in AUDIENCE_CODES]
    if unknown:
        raise fail("Docket does not know this audience.", str(unknown[0]))
    out: dict[str, Audience] = {}
    for code in AUDIENCE_CODES:
        table = data.get(code)
        if not isinstance(table, dict):
            raise fail(
                "this audience is missing; it must be a table, written [" + code + "].", code
            )
        for key in table:
            if key not in _AUDIENCE_KEYS:
                raise fail("Docket does not know this key.", f"{code}.{key}")
        for key in _AUDIENCE_KEYS:
            if key not in table:
                raise fail("this is required.", f"{code}.{key}")
        texts = {k: check_text(table[k], f"{code}.{k}") for k in _AUDIENCE_TEXT_KEYS}
        steps = table["if_you_see"]
        if not isinstance(steps, list) or not 3 <= len(steps) <= 8:
            raise fail("this must be a list of three to eight sentences.", f"{code}.if_you_see")
        checked = tuple(
            check_text(s, f"{code}.if_you_see[{i}]") for i, s in enumerate(steps, start=1)
        )
        if not any(_PLACEHOLDER in s for s in checked):
            raise fail(
                f"one of these must say to call {_PLACEHOLDER} if anyone is in danger.",
                f"{code}.if_you_see",
            )
        out[code] = Audience(code=code, if_you_see=checked, **texts)
    return out


def _load_audiences() -> dict[str, Audience]:
    raw = resources.files(__package__).joinpath("audiences.toml").read_text("utf-8")
    try:
        data = tomllib.loads(raw)
    except tomllib.TOMLDecodeError as exc:  # pragma: no cover - the shipped file is tested
        raise ConfigError(
            "The sheet wording audiences.toml could not be read.",
            cause=str(exc),
            location=Location(file="audiences.toml"),
        ) from exc
    return parse_audiences(data)


AUDIENCES: Final[dict[str, Audience]] = _load_audiences()


def audience(code: str) -> Audience:
    if code not in AUDIENCES:
        listed = "; ".join(f"{a.code} ({a.label})" for a in AUDIENCES.values())
        raise UnknownChoice(
            f"{code!r} is not a kind of reader Docket has wording for.",
            hint=f"Use one of: {listed}.",
            details={"valid": list(AUDIENCES)},
        )
    return AUDIENCES[code]


# --- what the user chooses, and what the preview offers -----------------------------------------


@dataclass(frozen=True)
class SheetChoices:
    person_id: int
    audience: str = "family"
    user_name: str = ""  # how the readers know the user; blank: "the person who gave you this"
    places: tuple[str, ...] = ()
    photo: int | None = None  # an image attachment in the diary
    photo_data: bytes | None = None  # or an image file chosen from disk
    reference: str = ""  # a crime reference, only if the user ticks it
    incidents: tuple[int, ...] = ()  # ticked incidents: date, category and description
    messages: tuple[int, ...] = ()  # ticked messages, quoted briefly
    private_notes: tuple[int, ...] = ()  # incidents whose private notes are ticked
    person_notes: bool = False  # the register's private notes about the person
    contact_name: str = ""
    contact_phone: str = ""
    contact_other: str = ""
    extra: str = ""


@dataclass(frozen=True)
class PlaceOption:
    text: str
    count: int  # incidents naming the person at this place
    latest: str  # the most recent, as "3 March 2026"
    private: bool  # marked private in any of them: listed, never suggested
    suggested: bool  # pre-ticked in the preview


@dataclass(frozen=True)
class PhotoOption:
    id: int
    name: str
    incident: int | None
    media_type: str


@dataclass(frozen=True)
class ReferenceOption:
    reference: str
    to: str
    on: str  # "3 March 2026", or "" when not recorded
    incident: int


@dataclass(frozen=True)
class IncidentOption:
    id: int
    date: str
    category: str
    summary: str  # the first 120 characters of the description
    has_private_notes: bool


@dataclass(frozen=True)
class MessageOption:
    id: int
    date: str
    summary: str


@dataclass(frozen=True)
class SheetOptions:
    """What the preview offers to tick for one person (every list is capped)."""

    person_id: int
    name: str
    description: str
    description_cut: bool  # longer than the sheet shows: the preview says so
    vehicles: tuple[str, ...]  # shown on the sheet (the first MAX_VEHICLES)
    vehicles_cut: bool
    identifiers: tuple[str, ...]  # phone numbers, e-mail addresses, accounts: not on the sheet
    has_person_notes: bool
    places: tuple[PlaceOption, ...]
    photos: tuple[PhotoOption, ...]
    references: tuple[ReferenceOption, ...]
    incidents: tuple[IncidentOption, ...]
    messages: tuple[MessageOption, ...]
    audiences: tuple[tuple[str, str], ...]  # (code, label)


@dataclass(frozen=True)
class Photo:
    """The picture as put on the sheet: re-encoded, so it carries no metadata at all."""

    data: bytes
    media_type: str  # image/jpeg or image/png
    width: int
    height: int

    @property
    def data_uri(self) -> str:
        return f"data:{self.media_type};base64," + base64.b64encode(self.data).decode("ascii")


@dataclass(frozen=True)
class Happened:
    """One line of "What has happened"."""

    when: str
    kind: str  # incident | message | note
    label: str  # the category, "Message" or "My note"
    text: str
    sort_key: str = field(default="", compare=False)


@dataclass(frozen=True)
class Contact:
    name: str
    phone: str
    other: str

    @property
    def given(self) -> bool:
        return bool(self.name or self.phone or self.other)


@dataclass(frozen=True)
class Sheet:
    """Everything the sheet shows, already cut to size and checked."""

    choices: SheetChoices
    audience: Audience  # with the emergency number filled in
    person_name: str
    description: str
    vehicles: tuple[str, ...]
    places: tuple[str, ...]
    photo: Photo | None
    reference: str
    happened: tuple[Happened, ...]
    person_notes: str
    extra: str
    contact: Contact
    emergency_number: str | None
    emergency: str  # "999", or "your local emergency number"
    non_emergency_number: str | None
    silent_call: str
    helpline: Helpline | None
    jurisdiction_name: str
    prepared_by: str
    prepared_on: str
    warnings: tuple[str, ...] = ()

    @property
    def footer(self) -> str:
        return f"Prepared by {self.prepared_by} on {self.prepared_on}. {DO_NOT_SHARE}"

    @property
    def police_line(self) -> str:
        if not self.reference:
            return ""
        return f"The police are aware (crime reference {self.reference})."

    @property
    def steps(self) -> tuple[str, ...]:
        """What to do, with the crime reference when the user included it (the HTML template
        writes the same, keeping the reference on one line)."""
        if not self.reference:
            return self.audience.if_you_see
        return (
            *self.audience.if_you_see,
            f"If you speak to the police about this person, give them the crime reference "
            f"{self.reference}.",
        )


# --- small helpers ---------------------------------------------------------------------------


def _long_date(d: date) -> str:
    return f"{d.day} {MONTHS[d.month - 1]} {d.year}"


def _short_date(d: date) -> str:
    return f"{d.day} {MONTHS[d.month - 1][:3]} {d.year}"


def _local_date(utc_text: str | None, tz: ZoneInfo) -> date | None:
    if not utc_text:
        return None
    try:
        when = datetime.fromisoformat(utc_text.replace("Z", "+00:00"))
    except ValueError:
        return None
    if when.tzinfo is None:
        return when.date()
    return when.astimezone(tz).date()


def _flat(text: str) -> str:
    """One line: every run of whitespace (line ends too) becomes one space."""
    return " ".join(text.split())


def _cut(text: str, limit: int) -> tuple[str, bool]:
    """``text`` on one line, at most ``limit`` characters, cut at a word with an ellipsis."""
    flat = _flat(text)
    if len(flat) <= limit:
        return flat, False
    head = flat[: limit - 1]
    space = head.rfind(" ")
    if space > limit * 2 // 3:
        head = head[:space]
    return head.rstrip(" ,;:.-") + "…", True


def _typed(value: str, limit: int, what: str) -> str:
    """A field the user typed: on one line, and refused (not cut) when too long."""
    flat = _flat(value)
    if len(flat) > limit:
        raise InputError(
            f"{what} is too long for the sheet ({len(flat)} characters).",
            cause="The sheet must fit on one printed page.",
            hint=f"Shorten it to {limit} characters or fewer.",
        )
    return flat


def _person(diary: Diary, person_id: int) -> PersonView:
    view = diary.person(person_id)  # RecordNotFound for an unknown number
    if view.redacted or view.data is None:
        raise RecordRedacted(
            f"Person {person_id} was removed from the register, so there is nothing to put on "
            "a sheet.",
            hint="'docket person list' shows the people in the register.",
        )
    return view


def _incidents_of(diary: Diary, person_id: int) -> list[IncidentView]:
    return [
        v
        for v in diary.incidents(IncidentFilter(person_id=person_id))
        if v.data is not None and not v.redacted
    ]


def _category_name(diary: Diary, code: str) -> str:
    cat = diary.jurisdiction.category(code)
    return cat.name if cat else code


def _message_text(m: MessageView) -> str:
    if m.body and m.body.strip():
        return m.body
    if m.kind == "call" or m.call_type:
        minutes = (m.duration_s or 0) // 60
        return "A call" + (f" ({minutes} min)" if minutes else "")
    return ""


def _message_date(m: MessageView, tz: ZoneInfo) -> tuple[str, str]:
    """(the date as shown, a sort key)."""
    day = _local_date(m.sent_at, tz)
    if day is None:
        with contextlib.suppress(ValueError):
            day = date.fromisoformat(m.local_time[:10])
    if day is None:
        return "date not known", ""
    return _short_date(day), m.sent_at or day.isoformat()


# --- the options the preview offers ----------------------------------------------------------


def options(diary: Diary, person_id: int) -> SheetOptions:
    """What the preview offers to tick for this person: places from incidents naming them,
    image attachments, crime references, the incidents, their latest messages, and their
    vehicles and other identifiers. Nothing here is on the sheet until it is ticked."""
    view = _person(diary, person_id)
    data = view.data
    assert data is not None
    tz = ZoneInfo(diary.timezone)
    incidents = _incidents_of(diary, person_id)

    places: dict[str, dict[str, Any]] = {}
    references: dict[str, ReferenceOption] = {}
    for v in incidents:
        d = v.data
        assert d is not None
        day = _local_date(v.occurred_start, tz)
        if d.place and _flat(d.place.text):
            text = _flat(d.place.text)
            p = places.setdefault(
                text.casefold(), {"text": text, "count": 0, "latest": None, "private": False}
            )
            p["count"] += 1
            p["private"] = p["private"] or d.place.private
            if day and (p["latest"] is None or day > p["latest"]):
                p["latest"] = day
        for r in d.reported:
            ref = _flat(r.reference)
            if ref and ref.casefold() not in references:
                references[ref.casefold()] = ReferenceOption(
                    reference=ref,
                    to=_flat(r.to),
                    on=_long_date(r.on) if r.on else "",
                    incident=v.id,
                )
    ranked = sorted(
        places.values(),
        key=lambda p: (-p["count"], -(p["latest"].toordinal() if p["latest"] else 0), p["text"]),
    )[:OPTION_PLACES]
    suggested = {p["text"] for p in [p for p in ranked if not p["private"]][:MAX_PLACES]}
    place_options = tuple(
        PlaceOption(
            text=p["text"],
            count=p["count"],
            latest=_long_date(p["latest"]) if p["latest"] else "",
            private=p["private"],
            suggested=p["text"] in suggested,
        )
        for p in ranked
    )

    theirs = {v.id for v in incidents}
    images = [
        a
        for a in diary.attachments()
        if not a.redacted and a.data is not None and a.data.media_type in PHOTO_MEDIA_TYPES
    ]
    # their incidents' pictures first, then loose ones, then the rest; newest first in each
    images.sort(
        key=lambda a: (
            0
            if a.data and a.data.incident in theirs
            else 1
            if a.data and a.data.incident is None
            else 2,
            -a.id,
        )
    )
    photos = tuple(
        PhotoOption(a.id, a.data.name, a.data.incident, a.data.media_type)
        for a in images[:OPTION_PHOTOS]
        if a.data is not None
    )

    incident_options = tuple(
        IncidentOption(
            id=v.id,
            date=_short_date(day) if (day := _local_date(v.occurred_start, tz)) else "",
            category=_category_name(diary, v.data.category),
            summary=_cut(v.data.description, OPTION_SUMMARY)[0],
            has_private_notes=bool(v.data.private_notes.strip()),
        )
        for v in reversed(incidents[-OPTION_INCIDENTS:])
        if v.data is not None
    )

    message_options = []
    for m in diary.messages(person_id=person_id, limit=OPTION_MESSAGES, newest_first=True):
        text = _message_text(m)
        if text:
            message_options.append(
                MessageOption(m.id, _message_date(m, tz)[0], _cut(text, OPTION_SUMMARY)[0])
            )

    vehicles = [i.as_given or i.value for i in data.identifiers if i.kind == "vehicle"]
    others = [i.as_given or i.label() for i in data.identifiers if i.kind != "vehicle"]
    description, cut = _cut(data.description, MAX_DESCRIPTION)
    return SheetOptions(
        person_id=person_id,
        name=_cut(data.name, MAX_PERSON_NAME)[0],
        description=description,
        description_cut=cut,
        vehicles=tuple(vehicles[:MAX_VEHICLES]),
        vehicles_cut=len(vehicles) > MAX_VEHICLES,
        identifiers=tuple(others[:OPTION_IDENTIFIERS]),
        has_person_notes=bool(data.notes.strip()),
        places=place_options,
        photos=photos,
        references=tuple(list(references.values())[:OPTION_REFERENCES]),
        incidents=incident_options,
        messages=tuple(message_options),
        audiences=tuple((a.code, a.label) for a in AUDIENCES.values()),
    )


# --- building the sheet ------------------------------------------------------------------------


def _too_many(what: str, limit: int) -> InputError:
    return InputError(
        f"Too many {what} were ticked for one page.",
        cause="The sheet must fit on one printed page.",
        hint=f"Tick {limit} or fewer.",
    )


def _unique(ids: Iterable[int]) -> list[int]:
    return list(dict.fromkeys(ids))


def _ticked_incident(diary: Diary, incident_id: int, person_id: int, name: str) -> IncidentView:
    v = diary.incident(incident_id)  # RecordNotFound for an unknown number
    if v.redacted or v.data is None:
        raise RecordRedacted(
            f"Incident {incident_id} was removed by you, so it cannot go on the sheet.",
            hint="Untick it.",
        )
    if person_id not in v.data.people:
        raise InputError(
            f"Incident {incident_id} is not about {name}, so it cannot go on their sheet.",
            hint="Tick only incidents that name this person; the preview lists them.",
            details={"incident": incident_id, "person": person_id},
        )
    return v


def _places(choices: SheetChoices, private: set[str]) -> tuple[tuple[str, ...], list[str]]:
    out: dict[str, str] = {}
    warnings = []
    for raw in choices.places:
        full = _flat(raw)
        if not full or full.casefold() in out:
            continue
        text, cut = _cut(full, MAX_PLACE_CHARS)
        out[full.casefold()] = text
        if cut:
            warnings.append(
                f"The place {text!r} is long; the sheet shows its first {MAX_PLACE_CHARS} "
                "characters."
            )
        if full.casefold() in private:
            warnings.append(
                f"{text!r} is a place you marked as private in your diary; it will be on the "
                "sheet because you ticked it."
            )
    if len(out) > MAX_PLACES:
        raise _too_many("places", MAX_PLACES)
    return tuple(out.values()), warnings


def build(diary: Diary, choices: SheetChoices) -> Sheet:
    """Check the user's choices against the diary and gather what the sheet shows."""
    chosen = audience(choices.audience)
    view = _person(diary, choices.person_id)
    data = view.data
    assert data is not None
    name, name_cut = _cut(data.name, MAX_PERSON_NAME)
    tz = ZoneInfo(diary.timezone)
    j = diary.jurisdiction
    warnings: list[str] = []
    if name_cut:
        warnings.append(
            f"The name in the register is long; the sheet shows its first {MAX_PERSON_NAME} "
            "characters."
        )

    description, cut = _cut(data.description, MAX_DESCRIPTION)
    if cut:
        warnings.append(
            f"The description is longer than the sheet has room for; only the first "
            f"{MAX_DESCRIPTION} characters are shown."
        )
    all_vehicles = [i.as_given or i.value for i in data.identifiers if i.kind == "vehicle"]
    vehicles = tuple(_flat(v) for v in all_vehicles[:MAX_VEHICLES])
    if len(all_vehicles) > MAX_VEHICLES:
        warnings.append(
            f"{name} has {len(all_vehicles)} vehicles in the register; the sheet shows the "
            f"first {MAX_VEHICLES}."
        )

    incident_ids = _unique(choices.incidents)
    note_ids = _unique(choices.private_notes)
    message_ids = _unique(choices.messages)
    if len(incident_ids) > MAX_INCIDENTS:
        raise _too_many("incidents", MAX_INCIDENTS)
    if len(message_ids) > MAX_MESSAGES:
        raise _too_many("messages", MAX_MESSAGES)
    if len(note_ids) > MAX_PRIVATE_NOTES:
        raise _too_many("private notes", MAX_PRIVATE_NOTES)
    if len(incident_ids) + len(message_ids) + len(note_ids) > MAX_HAPPENED:
        raise _too_many("items for 'What has happened'", MAX_HAPPENED)

    happened: list[Happened] = []
    shortened = False
    for incident_id in incident_ids:
        v = _ticked_incident(diary, incident_id, choices.person_id, name)
        assert v.data is not None
        day = _local_date(v.occurred_start, tz)
        text, was_cut = _cut(v.data.description, MAX_ITEM_CHARS)
        shortened = shortened or was_cut
        happened.append(
            Happened(
                when=_short_date(day) if day else "",
                kind="incident",
                label=_category_name(diary, v.data.category),
                text=text,
                sort_key=v.occurred_start,
            )
        )
    for incident_id in note_ids:
        v = _ticked_incident(diary, incident_id, choices.person_id, name)
        assert v.data is not None
        if not v.data.private_notes.strip():
            raise InputError(
                f"Incident {incident_id} has no private notes to put on the sheet.",
                hint="Untick its private notes.",
            )
        day = _local_date(v.occurred_start, tz)
        text, was_cut = _cut(v.data.private_notes, MAX_ITEM_CHARS)
        shortened = shortened or was_cut
        happened.append(
            Happened(
                when=_short_date(day) if day else "",
                kind="note",
                label="My note",
                text=text,
                sort_key=v.occurred_start + "~",
            )
        )
    for message_id in message_ids:
        m = diary.message(message_id)  # RecordNotFound for an unknown number
        if m.person_id != choices.person_id:
            raise InputError(
                f"Message {message_id} is not from {name}, so it cannot go on their sheet.",
                hint="Tick only their messages; the preview lists them.",
                details={"message": message_id, "person": choices.person_id},
            )
        body = _message_text(m)
        if not body:
            raise InputError(f"Message {message_id} has no words to quote.", hint="Untick it.")
        quoted, was_cut = _cut(body, MAX_QUOTE_CHARS)
        shortened = shortened or was_cut
        when, key = _message_date(m, tz)
        happened.append(
            Happened(when=when, kind="message", label="Message", text=quoted, sort_key=key)
        )
    happened.sort(key=lambda h: h.sort_key)
    if shortened:
        warnings.append("Some of what you ticked is long, so the sheet shows only its start.")

    person_notes = ""
    if choices.person_notes:
        if not data.notes.strip():
            raise InputError(
                f"There are no notes about {name} in the register to put on the sheet.",
                hint="Untick the notes.",
            )
        person_notes, was_cut = _cut(data.notes, MAX_PERSON_NOTES)
        if was_cut:
            warnings.append(
                f"Your notes about {name} are long; the sheet shows the first "
                f"{MAX_PERSON_NOTES} characters."
            )

    private_places = set()
    for v in _incidents_of(diary, choices.person_id) if choices.places else ():
        if v.data and v.data.place and v.data.place.private:
            private_places.add(_flat(v.data.place.text).casefold())
    places, place_warnings = _places(choices, private_places)
    warnings += place_warnings

    photo = _photo(diary, choices)
    user_name = _typed(choices.user_name, MAX_NAME_CHARS, "Your name")
    reference = _typed(choices.reference, MAX_REFERENCE_CHARS, "The crime reference")
    contact = Contact(
        name=_typed(choices.contact_name, MAX_NAME_CHARS, "The contact's name"),
        phone=_typed(choices.contact_phone, MAX_PHONE_CHARS, "The contact's phone number"),
        other=_typed(choices.contact_other, MAX_CONTACT_OTHER, "The other contact details"),
    )
    extra = _typed(choices.extra, MAX_EXTRA, "Your note")
    today = datetime.now(tz).date()
    return Sheet(
        choices=choices,
        audience=chosen.for_jurisdiction(j),
        person_name=name,
        description=description,
        vehicles=vehicles,
        places=places,
        photo=photo,
        reference=reference,
        happened=tuple(happened),
        person_notes=person_notes,
        extra=extra,
        contact=contact,
        emergency_number=j.emergency_number,
        emergency=j.emergency_number or NEUTRAL_EMERGENCY_NUMBER,
        non_emergency_number=j.non_emergency_number,
        silent_call=j.silent_call,
        helpline=j.helplines[0] if j.helplines else None,
        jurisdiction_name=j.short_name or j.name,
        prepared_by=user_name or NOBODY,
        prepared_on=_long_date(today),
        warnings=tuple(warnings),
    )


# --- the photo ---------------------------------------------------------------------------------


def _read_attachment(diary: Diary, attachment_id: int) -> bytes:
    view = diary.attachment(attachment_id)  # RecordNotFound for an unknown number
    if view.redacted or view.data is None:
        raise RecordRedacted(
            f"The file in attachment {attachment_id} was removed by you.",
            hint="Choose another photo.",
        )
    if view.data.media_type not in PHOTO_MEDIA_TYPES:
        raise InputError(
            f"Attachment {attachment_id} ({view.data.name}) is not a photo Docket can put on "
            "the sheet.",
            cause=f"It is stored as {view.data.media_type}.",
            hint="Choose a JPEG, PNG, WebP or HEIC picture.",
            details={"attachment": attachment_id, "media_type": view.data.media_type},
        )
    if view.size > MAX_PHOTO_BYTES:
        raise _photo_too_big()
    out = io.BytesIO()
    for piece in diary.iter_attachment(attachment_id):
        out.write(piece)
    return out.getvalue()


def _photo_too_big() -> InputError:
    return InputError(
        "That picture is too large to put on the sheet.",
        hint=f"Choose a picture smaller than {MAX_PHOTO_BYTES >> 20} MB.",
    )


def _photo(diary: Diary, choices: SheetChoices) -> Photo | None:
    if choices.photo is not None and choices.photo_data is not None:
        raise InputError(
            "Choose one photo: either a picture in the diary or a file, not both.",
            hint="Leave out one of them.",
        )
    if choices.photo is not None:
        return clean_photo(_read_attachment(diary, choices.photo))
    if choices.photo_data is not None:
        return clean_photo(choices.photo_data)
    return None


def clean_photo(data: bytes) -> Photo:
    """Re-encode a picture for the sheet: turned upright, at most PHOTO_BOX pixels on its
    longest side, as a fresh JPEG (or PNG when it has transparency) built from the pixels
    alone, so nothing stored in the original (place, time, camera, names) comes along."""
    from PIL import Image, ImageOps, UnidentifiedImageError

    if len(data) > MAX_PHOTO_BYTES:
        raise _photo_too_big()
    _register_heif()
    Image.init()
    formats = tuple(f for f in _PILLOW_FORMATS if f in Image.OPEN)
    unreadable = InputError(
        "Docket cannot read that file as a photo.",
        cause="It is not a JPEG, PNG, WebP or HEIC picture, or it is damaged.",
        hint="Choose another picture, or save it again as a JPEG.",
    )
    try:
        with Image.open(io.BytesIO(data), formats=formats) as im:
            width, height = im.size
            if width * height > MAX_PHOTO_PIXELS:
                raise InputError(
                    "That picture has far more pixels than the sheet can use.",
                    hint="Choose a smaller picture, or save a smaller copy of it first.",
                )
            im.draft("RGB", (PHOTO_BOX, PHOTO_BOX))  # JPEG: decode at a reduced size
            upright = ImageOps.exif_transpose(im)
            upright.thumbnail((PHOTO_BOX, PHOTO_BOX), Image.Resampling.LANCZOS)
            alpha = upright.mode in ("RGBA", "LA", "PA") or (
                upright.mode == "P" and "transparency" in upright.info
            )
            pixels = upright.convert("RGBA" if alpha else "RGB")
    except (UnidentifiedImageError, Image.DecompressionBombError, OSError, ValueError) as exc:
        raise unreadable from exc
    # a new image from the pixels alone: no EXIF, XMP, ICC or comments can survive
    fresh = Image.frombytes(pixels.mode, pixels.size, pixels.tobytes())
    out = io.BytesIO()
    if alpha:
        fresh.save(out, format="PNG", optimize=True)
        media_type = "image/png"
    else:
        fresh.save(out, format="JPEG", quality=85, optimize=True)
        media_type = "image/jpeg"
    return Photo(out.getvalue(), media_type, fresh.size[0], fresh.size[1])


# --- rendering -----------------------------------------------------------------------------------


def _env() -> Environment:
    return Environment(
        loader=PackageLoader("docket.sheet", "templates"),
        autoescape=select_autoescape(default=True, default_for_string=True),
        trim_blocks=True,
        lstrip_blocks=True,
    )


def _css(env: Environment) -> str:
    assert env.loader is not None
    return env.loader.get_source(env, "sheet.css")[0]


# the layouts tried in turn for the PDF: the normal one, then tighter ones
LAYOUTS: Final = ("", "compact", "compact tight")


def _html(sheet: Sheet, *, for_pdf: bool, layout: str = "") -> str:
    env = _env()
    return env.get_template("sheet.html").render(
        s=sheet, css=_css(env), for_pdf=for_pdf, layout=layout
    )


def render_html(sheet: Sheet, *, for_pdf: bool = False) -> str:
    """The sheet as one self-contained HTML file: its style inline, the photo as a data: URI,
    nothing loaded from anywhere."""
    return _html(sheet, for_pdf=for_pdf)


def _fetcher() -> Any:
    """WeasyPrint's URL fetcher for the sheet: it reads the photo from its data: URI and
    fetches nothing else, not from the network and not from the disk."""
    from weasyprint.urls import URLFetcher, URLFetcherResponse

    class _DataOnly(URLFetcher):  # type: ignore[misc]
        def fetch(self, url: str, headers: Any = None) -> Any:
            found = re.fullmatch(r"data:(image/(?:png|jpeg));base64,([A-Za-z0-9+/=]+)", url)
            if not found:
                raise ValueError(f"the sheet loads nothing from outside itself ({url[:40]})")
            body = base64.b64decode(found.group(2), validate=True)
            return URLFetcherResponse(url, body, {"Content-Type": found.group(1)})

    return _DataOnly(fail_on_errors=True, allowed_protocols=("data",))


def _one_page(html: str) -> bytes | None:
    """The PDF, or None when it would need more than one page."""
    from weasyprint import HTML

    document = HTML(string=html, url_fetcher=_fetcher()).render()
    if len(document.pages) != 1:
        return None
    pdf: bytes = document.write_pdf()
    return pdf


def _too_long_for_a_page() -> InputError:
    return InputError(
        "What was chosen does not fit on one page.",
        cause="The sheet is printed on one A4 page, so that it is quick to read.",
        hint="Untick some of 'What has happened', or shorten your own note.",
    )


def render_pdf(sheet: Sheet) -> bytes:
    """The sheet as a one-page A4 PDF. The layout is designed so that the most the sheet
    allows fits; a tighter layout is tried before giving up."""
    for layout in LAYOUTS:
        pdf = _one_page(_html(sheet, for_pdf=True, layout=layout))
        if pdf is not None:
            return pdf
    raise _too_long_for_a_page()


def _wrap_list(title: str, items: Iterable[str]) -> list[str]:
    lines = [title]
    lines += [f"- {item}" for item in items]
    return lines


def render_text(sheet: Sheet) -> str:
    """The sheet as plain text, to paste into a message."""
    a = sheet.audience
    lines = [a.title.upper(), "", a.intro]
    if sheet.police_line:
        lines.append(sheet.police_line)
    lines += ["", f"Who: {sheet.person_name}"]
    if sheet.description:
        lines.append(f"What they look like: {sheet.description}")
    if sheet.vehicles:
        lines.append("Vehicles: " + ", ".join(sheet.vehicles))
    if sheet.places:
        lines.append("Places they have been seen: " + "; ".join(sheet.places))
    if sheet.photo is not None:
        lines.append("(There is a photo on the printed sheet.)")
    if sheet.person_notes:
        lines.append(f"Also: {sheet.person_notes}")
    lines.append("")
    lines += _wrap_list("If you see them, or they contact you:", sheet.steps)
    lines += ["", "What to write down:", a.record_what]
    if sheet.happened:
        lines.append("")
        lines += _wrap_list(
            "What has happened:",
            (
                f"{h.when}, {h.label}: " + (f"“{h.text}”" if h.kind == "message" else h.text)
                for h in sheet.happened
            ),
        )
    if sheet.extra:
        lines += ["", sheet.extra]
    lines += ["", "Who to contact:", a.contact_intro]
    lines += [f"- {line}" for line in _contact_lines(sheet)]
    lines += ["", sheet.footer]
    return "\n".join(lines) + "\n"


def _contact_lines(sheet: Sheet) -> list[str]:
    c = sheet.contact
    out = []
    if c.given:
        out.append(", ".join(x for x in (c.name, c.phone, c.other) if x))
    else:
        out.append("Tell the person who gave you this sheet.")
    out.append(f"If anyone is in danger: call {sheet.emergency}.")
    if sheet.non_emergency_number:
        out.append(f"Police, when it is not an emergency: {sheet.non_emergency_number}.")
    if sheet.reference:
        out.append(f"Crime reference: {sheet.reference}.")
    if sheet.helpline is not None:
        out.append(f"Advice and support: {sheet.helpline.name}, {sheet.helpline.phone}.")
    return out


# --- writing -------------------------------------------------------------------------------------


def write(sheet: Sheet, out: Path) -> Path:
    """Write the sheet as PDF, HTML or plain text (by the file's suffix), whole or not at
    all, readable only by the user."""
    suffix = out.suffix.lower()
    if suffix == ".pdf":
        data = render_pdf(sheet)
    elif suffix in (".html", ".htm"):
        data = render_html(sheet).encode("utf-8")
    elif suffix == ".txt":
        data = render_text(sheet).encode("utf-8")
    else:
        raise InputError(
            f"Docket cannot tell what kind of sheet {out.name!r} should be.",
            hint="End the file name with .pdf, .html or .txt.",
        )
    return outfiles.write_private(out, data)


# --- the witness note form -----------------------------------------------------------------------


@dataclass(frozen=True)
class WitnessForm:
    audience: Audience
    give_to: str  # "Jo", or "the person who gave you this"
    emergency: str
    emergency_number: str | None
    guidance: tuple[str, ...]
    fields: tuple[tuple[str, int], ...]  # (label, lines to write on)


WITNESS_FIELDS: Final[tuple[tuple[str, int], ...]] = (
    ("Your name", 1),
    ("How to contact you (phone or e-mail)", 1),
    ("Date", 1),
    ("Time: from … to …", 1),
    ("Place (as exactly as you can: street, building, entrance)", 1),
    ("What you saw", 6),
    ("What you heard (their exact words, if you can)", 5),
    ("What the person looked like and was wearing; any vehicle and its number plate", 3),
    ("Anything else (who else was there, anything left behind, any photos or CCTV)", 3),
)


def _witness(
    diary_or_jurisdiction: Diary | Jurisdiction, user_name: str, audience_code: str
) -> WitnessForm:
    j = (
        diary_or_jurisdiction
        if isinstance(diary_or_jurisdiction, Jurisdiction)
        else diary_or_jurisdiction.jurisdiction
    )
    chosen = audience(audience_code).for_jurisdiction(j)
    name = _typed(user_name, MAX_NAME_CHARS, "Your name")
    give_to = name or NOBODY
    emergency = j.emergency_number or NEUTRAL_EMERGENCY_NUMBER
    guidance = (
        "Write it down as soon as you can, while you remember it clearly.",
        "Use your own words. Write only what you saw and heard yourself; if you are not sure "
        "of something, say so rather than guess.",
        f"Give it to {give_to}, who can add it to their diary, or to the police if they ask "
        "for it. Keep a copy if you can.",
        f"If anyone is in danger, call {emergency} straight away.",
    )
    return WitnessForm(chosen, give_to, emergency, j.emergency_number, guidance, WITNESS_FIELDS)


def witness_form(
    diary_or_jurisdiction: Diary | Jurisdiction, *, user_name: str = "", audience: str = "family"
) -> bytes:
    """A printable one-page form on which someone writes down what they saw or heard."""
    form = _witness(diary_or_jurisdiction, user_name, audience)
    env = _env()
    html = env.get_template("witness_form.html").render(w=form, css=_css(env))
    pdf = _one_page(html)
    if pdf is None:  # pragma: no cover - the form is fixed text; the tests check it fits
        raise _too_long_for_a_page()
    return pdf


def witness_form_text(
    diary_or_jurisdiction: Diary | Jurisdiction, *, user_name: str = "", audience: str = "family"
) -> str:
    """The witness note form as plain text, to send in a message."""
    form = _witness(diary_or_jurisdiction, user_name, audience)
    lines = ["WITNESS NOTE: WHAT I SAW OR HEARD", "", form.audience.witness_intro, ""]
    lines += [f"- {g}" for g in form.guidance]
    lines.append("")
    for label, rows in form.fields:
        lines.append(f"{label}:" + (" ________" if rows == 1 else ""))
        lines += ["________________________________________"] * (rows if rows > 1 else 0)
        lines.append("")
    lines += ["I wrote this on (date) ________ at (time) ________", "", "Signed: ________"]
    return "\n".join(lines) + "\n"


def write_witness_form(
    diary_or_jurisdiction: Diary | Jurisdiction,
    out: Path,
    *,
    user_name: str = "",
    audience: str = "family",
) -> Path:
    """Write the blank witness note as PDF or plain text (by the file's suffix), whole or not
    at all, readable only by the user."""
    suffix = out.suffix.lower()
    if suffix == ".pdf":
        data = witness_form(diary_or_jurisdiction, user_name=user_name, audience=audience)
    elif suffix == ".txt":
        text = witness_form_text(diary_or_jurisdiction, user_name=user_name, audience=audience)
        data = text.encode("utf-8")
    else:
        raise InputError(
            f"Docket cannot tell what kind of note {out.name!r} should be.",
            hint="End the file name with .pdf or .txt.",
        )
    return outfiles.write_private(out, data)


__all__ = [
    "AUDIENCES",
    "Audience",
    "IncidentOption",
    "MessageOption",
    "PhotoOption",
    "PlaceOption",
    "ReferenceOption",
    "Sheet",
    "SheetChoices",
    "SheetOptions",
    "build",
    "clean_photo",
    "options",
    "parse_audiences",
    "render_html",
    "render_pdf",
    "render_text",
    "witness_form",
    "witness_form_text",
    "write",
    "write_witness_form",
]
