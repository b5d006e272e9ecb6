"""The diary's records as plain, immutable dataclasses, and their canonical record form.

No I/O here. ``as_record()`` gives the JSON-ready dict written into the log (empty fields are
left out, so a record is the same whichever front end wrote it); ``from_record()`` reads it
back. ``validate()`` checks a record against the jurisdiction's taxonomy and the vocabularies.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from docket.errors import InputError, InvalidDate, UnknownCategory, UnknownChoice
from docket.jurisdictions import Jurisdiction
from docket.model import taxonomy
from docket.model.identifiers import Identifier
from docket.model.timeparse import rfc3339

Record = dict[str, Any]


def _compact(record: Record) -> Record:
    """Drop empty values so records are canonical: None, "", [], {} and False are absent."""
    out: Record = {}
    for key, value in record.items():
        if isinstance(value, dict):
            value = _compact(value)
        if value is None or value is False or (isinstance(value, str | list | dict) and not value):
            continue
        out[key] = value
    return out


def _choice(value: str | None, allowed: dict[str, str], what: str) -> None:
    if value is None or value in allowed:
        return
    listed = "; ".join(f"{k} ({v})" for k, v in allowed.items())
    raise UnknownChoice(
        f"{value!r} is not a {what} Docket knows.",
        hint=f"Use one of: {listed}.",
        details={"valid": list(allowed)},
    )


@dataclass(frozen=True)
class Occurrence:
    """When it happened, as the person remembers it: kept apart from when it was recorded."""

    start: datetime
    timezone: str
    end: datetime | None = None
    approximate: bool = False
    date_only: bool = False

    def as_record(self) -> Record:
        return {
            "start": rfc3339(self.start),
            "end": rfc3339(self.end) if self.end else None,
            "timezone": self.timezone,
            "approximate": self.approximate,
            "date_only": self.date_only,
        }

    @classmethod
    def from_record(cls, r: Record) -> Occurrence:
        return cls(
            start=datetime.fromisoformat(r["start"]),
            timezone=r["timezone"],
            end=datetime.fromisoformat(r["end"]) if r.get("end") else None,
            approximate=bool(r.get("approximate")),
            date_only=bool(r.get("date_only")),
        )


@dataclass(frozen=True)
class Place:
    text: str
    private: bool = False  # a private named place ("home") is redacted by default in exports

    def as_record(self) -> Record:
        return {"text": self.text, "private": self.private}


@dataclass(frozen=True)
class Witness:
    name: str
    contact: str = ""
    saw: str = ""

    def as_record(self) -> Record:
        return {"name": self.name, "contact": self.contact, "saw": self.saw}


@dataclass(frozen=True)
class Report:
    """One time it was reported: to whom, when, the officer and the crime reference."""

    to: str
    on: date | None = None
    officer: str = ""
    reference: str = ""
    outcome: str = ""

    def as_record(self) -> Record:
        return {
            "to": self.to,
            "on": self.on.isoformat() if self.on else None,
            "officer": self.officer,
            "reference": self.reference,
            "outcome": self.outcome,
        }

    @classmethod
    def from_record(cls, r: Record) -> Report:
        return cls(
            to=r["to"],
            on=date.fromisoformat(r["on"]) if r.get("on") else None,
            officer=r.get("officer", ""),
            reference=r.get("reference", ""),
            outcome=r.get("outcome", ""),
        )


@dataclass(frozen=True)
class Effect:
    """The effect on the person, in the terms the law uses, plus their own words."""

    fear_of_violence: bool = False
    alarm: bool = False
    distress: bool = False
    changed_routine: bool = False
    details: str = ""

    def as_record(self) -> Record:
        return {
            "fear_of_violence": self.fear_of_violence,
            "alarm": self.alarm,
            "distress": self.distress,
            "changed_routine": self.changed_routine,
            "details": self.details,
        }

    def labels(self) -> list[str]:
        return [label for key, label in taxonomy.EFFECTS.items() if getattr(self, key)]


@dataclass(frozen=True)
class IncidentData:
    """Everything the person can say about one incident (DESIGN §5, legal-risk.md §7.2)."""

    occurred: Occurrence
    category: str
    tags: tuple[str, ...] = ()
    channel: str | None = None
    place: Place | None = None
    description: str = ""
    exact_words: str = ""  # their words, as remembered: marked as such in reports
    people: tuple[int, ...] = ()  # the person or people responsible (register ids)
    witnesses: tuple[Witness, ...] = ()
    targeted: tuple[str, ...] = ("me",)  # "me" and/or other people's names
    effect: Effect = field(default_factory=Effect)
    told_to_stop: str | None = None  # yes | no | unknown
    told_to_stop_details: str = ""
    reported: tuple[Report, ...] = ()
    evidence_to_obtain: tuple[str, ...] = ()
    orders: str = ""  # orders in force at the time
    private_notes: str = ""  # left out of exports unless the person chooses otherwise

    def as_record(self) -> Record:
        return _compact(
            {
                "occurred": self.occurred.as_record(),
                "category": self.category,
                "tags": list(self.tags),
                "channel": self.channel,
                "place": self.place.as_record() if self.place else None,
                "description": self.description,
                "exact_words": self.exact_words,
                "people": list(self.people),
                "witnesses": [w.as_record() for w in self.witnesses],
                "targeted": list(self.targeted),
                "effect": self.effect.as_record(),
                "told_to_stop": self.told_to_stop,
                "told_to_stop_details": self.told_to_stop_details,
                "reported": [r.as_record() for r in self.reported],
                "evidence_to_obtain": list(self.evidence_to_obtain),
                "orders": self.orders,
                "private_notes": self.private_notes,
            }
        )

    @classmethod
    def from_record(cls, r: Record) -> IncidentData:
        place = r.get("place")
        effect = r.get("effect", {})
        return cls(
            occurred=Occurrence.from_record(r["occurred"]),
            category=r["category"],
            tags=tuple(r.get("tags", ())),
            channel=r.get("channel"),
            place=Place(place["text"], bool(place.get("private"))) if place else None,
            description=r.get("description", ""),
            exact_words=r.get("exact_words", ""),
            people=tuple(r.get("people", ())),
            witnesses=tuple(
                Witness(w["name"], w.get("contact", ""), w.get("saw", ""))
                for w in r.get("witnesses", ())
            ),
            targeted=tuple(r.get("targeted", ())),
            effect=Effect(
                **{
                    k: effect.get(k, Effect.__dataclass_fields__[k].default)
                    for k in Effect.__dataclass_fields__
                }
            ),
            told_to_stop=r.get("told_to_stop"),
            told_to_stop_details=r.get("told_to_stop_details", ""),
            reported=tuple(Report.from_record(x) for x in r.get("reported", ())),
            evidence_to_obtain=tuple(r.get("evidence_to_obtain", ())),
            orders=r.get("orders", ""),
            private_notes=r.get("private_notes", ""),
        )

    def validate(self, jurisdiction: Jurisdiction) -> None:
        if self.category not in jurisdiction.category_codes:
            listed = "; ".join(f"{c.code} {c.name}" for c in jurisdiction.categories)
            raise UnknownCategory(
                f"{self.category!r} is not one of the diary's categories.",
                hint=f"Use one of these codes: {listed}.",
                details={"valid": list(jurisdiction.category_codes)},
            )
        _choice(self.channel, taxonomy.CHANNELS, "channel")
        _choice(self.told_to_stop, taxonomy.TOLD_TO_STOP, "answer to 'told to stop'")
        occ = self.occurred
        if occ.start.tzinfo is None or (occ.end is not None and occ.end.tzinfo is None):
            raise InvalidDate("A time without a time zone cannot be stored.")
        if occ.end is not None and occ.end < occ.start:
            raise InvalidDate(
                "The incident ends before it starts.",
                hint="Check the start and end times; the end must be the same or later.",
            )
        for tag in self.tags:
            if not tag.strip():
                raise InputError("A tag cannot be empty.")


@dataclass(frozen=True)
class PersonData:
    """Someone in the register: the person responsible, a witness, or someone affected."""

    name: str
    role: str = "responsible"
    relationship: str = "unknown"
    description: str = ""
    identifiers: tuple[Identifier, ...] = ()
    notes: str = ""

    def as_record(self) -> Record:
        return _compact(
            {
                "name": self.name,
                "role": self.role,
                "relationship": self.relationship,
                "description": self.description,
                "identifiers": [i.as_record() for i in self.identifiers],
                "notes": self.notes,
            }
        )

    @classmethod
    def from_record(cls, r: Record) -> PersonData:
        return cls(
            name=r["name"],
            role=r.get("role", "responsible"),
            relationship=r.get("relationship", "unknown"),
            description=r.get("description", ""),
            identifiers=tuple(
                Identifier(i["kind"], i["value"], i.get("platform", ""), i.get("as_given", ""))
                for i in r.get("identifiers", ())
            ),
            notes=r.get("notes", ""),
        )

    def validate(self) -> None:
        if not self.name.strip():
            raise InputError(
                "A person needs a name.",
                hint="If you do not know their name, describe them, for example "
                "'Man in the blue van'.",
            )
        _choice(self.role, taxonomy.ROLES, "role")
        _choice(self.relationship, taxonomy.RELATIONSHIPS, "relationship")


@dataclass(frozen=True)
class AttachmentData:
    """An evidence file's description; its bytes live in the chunk store."""

    sha256: str
    size: int
    media_type: str
    name: str
    incident: int | None = None
    obtained: str = ""  # how it was obtained: "screenshot on my phone", "sent by a witness"
    note: str = ""

    def as_record(self) -> Record:
        return _compact(
            {
                "sha256": self.sha256,
                "size": self.size,
                "media_type": self.media_type,
                "name": self.name,
                "incident": self.incident,
                "obtained": self.obtained,
                "note": self.note,
            }
        )

    @classmethod
    def from_record(cls, r: Record) -> AttachmentData:
        return cls(
            sha256=r["sha256"],
            size=int(r["size"]),
            media_type=r["media_type"],
            name=r["name"],
            incident=r.get("incident"),
            obtained=r.get("obtained", ""),
            note=r.get("note", ""),
        )


@dataclass(frozen=True)
class OrderData:
    """A court order or bail conditions protecting the person: what kind (from the
    jurisdiction's list), when it was made and ends, whom it is against, and its terms. The
    analysis counts what was recorded after it was made."""

    type: str  # a jurisdiction's order code, e.g. "restraining_order"
    made_on: date
    ends_on: date | None = None
    against: tuple[int, ...] = ()  # register ids of the people it is against
    terms: str = ""  # e.g. "not to contact me directly or indirectly; not to enter Park Road"
    reference: str = ""  # case number
    court: str = ""
    notes: str = ""

    def as_record(self) -> Record:
        return _compact(
            {
                "type": self.type,
                "made_on": self.made_on.isoformat(),
                "ends_on": self.ends_on.isoformat() if self.ends_on else None,
                "against": list(self.against),
                "terms": self.terms,
                "reference": self.reference,
                "court": self.court,
                "notes": self.notes,
            }
        )

    @classmethod
    def from_record(cls, r: Record) -> OrderData:
        return cls(
            type=r["type"],
            made_on=date.fromisoformat(r["made_on"]),
            ends_on=date.fromisoformat(r["ends_on"]) if r.get("ends_on") else None,
            against=tuple(int(p) for p in r.get("against", ())),
            terms=r.get("terms", ""),
            reference=r.get("reference", ""),
            court=r.get("court", ""),
            notes=r.get("notes", ""),
        )

    def in_force_on(self, day: date) -> bool:
        return self.made_on <= day and (self.ends_on is None or day <= self.ends_on)

    def validate(self, jurisdiction: Jurisdiction) -> None:
        known = [o.code for o in jurisdiction.orders]
        if self.type not in known:
            listed = "; ".join(f"{o.code} ({o.name})" for o in jurisdiction.orders)
            raise UnknownChoice(
                f"{self.type!r} is not a kind of order Docket knows for {jurisdiction.short_name}.",
                hint=f"Use one of: {listed}.",
                details={"valid": known},
            )
        if self.ends_on is not None and self.ends_on < self.made_on:
            raise InvalidDate(
                "The order ends before it was made.",
                hint="Check the dates: the end date must be the same as or after the date "
                "it was made.",
            )


_HHMM_DIGITS = 4


def _hhmm(value: str, what: str) -> str:
    """A clock time as HH:MM (given as 9:05, 09:05 or 0905), or "" when not given."""
    text = value.strip().replace(".", ":")
    if not text:
        return ""
    hours, sep, minutes = text.partition(":")
    if not sep and len(text) == _HHMM_DIGITS:
        hours, minutes = text[:2], text[2:]
    if hours.isdigit() and minutes.isdigit() and int(hours) < 24 and int(minutes) < 60:
        return f"{int(hours):02d}:{int(minutes):02d}"
    raise InvalidDate(
        f"{value!r} is not a time of day Docket can read ({what}).",
        hint="Use the 24-hour clock, for example 09:05 or 17:30.",
    )


@dataclass(frozen=True)
class WitnessAccountData:
    """What someone else saw or heard, in their own words, as they wrote it down (often on
    the witness note from a safety sheet), linked to the incident it is about.

    It is kept apart from the person's own account of the incident, so a report can show
    both; the note they wrote, photographed or scanned, can be attached as evidence."""

    incident: int
    name: str
    saw: str = ""
    heard: str = ""
    contact: str = ""  # how to reach them: left out of exports like other third-party details
    relationship: str = ""  # "neighbour", "receptionist at my work"
    seen_on: date | None = None
    time_from: str = ""  # HH:MM, local
    time_to: str = ""
    place: str = ""
    appearance: str = ""  # what the person looked like, wore, drove
    other: str = ""
    written_on: date | None = None  # when the witness wrote it down
    received_on: date | None = None  # when the person got it
    attachment: int | None = None  # the note itself, photographed or scanned

    def as_record(self) -> Record:
        return _compact(
            {
                "incident": self.incident,
                "name": self.name.strip(),
                "saw": self.saw.strip(),
                "heard": self.heard.strip(),
                "contact": self.contact.strip(),
                "relationship": self.relationship.strip(),
                "seen_on": self.seen_on.isoformat() if self.seen_on else None,
                "time_from": self.time_from,
                "time_to": self.time_to,
                "place": self.place.strip(),
                "appearance": self.appearance.strip(),
                "other": self.other.strip(),
                "written_on": self.written_on.isoformat() if self.written_on else None,
                "received_on": self.received_on.isoformat() if self.received_on else None,
                "attachment": self.attachment,
            }
        )

    @classmethod
    def from_record(cls, r: Record) -> WitnessAccountData:
        def day(key: str) -> date | None:
            return date.fromisoformat(r[key]) if r.get(key) else None

        return cls(
            incident=int(r["incident"]),
            name=r["name"],
            saw=r.get("saw", ""),
            heard=r.get("heard", ""),
            contact=r.get("contact", ""),
            relationship=r.get("relationship", ""),
            seen_on=day("seen_on"),
            time_from=r.get("time_from", ""),
            time_to=r.get("time_to", ""),
            place=r.get("place", ""),
            appearance=r.get("appearance", ""),
            other=r.get("other", ""),
            written_on=day("written_on"),
            received_on=day("received_on"),
            attachment=int(r["attachment"]) if r.get("attachment") is not None else None,
        )

    def normalised(self) -> WitnessAccountData:
        """Times as HH:MM; raises for a time that cannot be read."""
        return WitnessAccountData(
            **{
                **self.__dict__,
                "time_from": _hhmm(self.time_from, "from"),
                "time_to": _hhmm(self.time_to, "to"),
            }
        )

    def validate(self, today: date) -> None:
        if not self.name.strip():
            raise InputError(
                "A witness account needs the name of the person who wrote it.",
                hint="If they would rather not be named, write how you know them, for example "
                "'Receptionist at my work'.",
            )
        if not (self.saw.strip() or self.heard.strip() or self.other.strip()):
            raise InputError(
                "The witness account is empty: it says nothing about what they saw or heard.",
                hint="Copy what they wrote, in their words, into 'what they saw' or 'what they "
                "heard'.",
            )
        for label, day in (
            ("the day they saw it", self.seen_on),
            ("the day they wrote it", self.written_on),
            ("the day you received it", self.received_on),
        ):
            if day is not None and day > today:
                raise InvalidDate(
                    f"{label.capitalize()} ({day.isoformat()}) is in the future.",
                    hint="Check the date.",
                )
        if self.seen_on and self.written_on and self.written_on < self.seen_on:
            raise InvalidDate(
                "The witness account says it was written before the day it describes.",
                hint="Check both dates.",
            )
        for text in (self.saw, self.heard, self.other, self.appearance):
            if len(text) > 20_000:
                raise InputError(
                    "Part of the witness account is too long to keep as text.",
                    hint="Attach a photo or scan of their note instead, and copy the key "
                    "sentences.",
                )
