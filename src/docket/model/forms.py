"""Turning what a person typed (CLI options today, web form fields later) into an incident.

``IncidentInput`` holds raw text; ``apply()`` parses it in the diary's time zone and merges it
onto an existing incident for an edit (fields left as ``None`` keep their value; names in
``clear`` are emptied; a new report is added to the earlier ones, never replacing them).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import date

from docket.errors import InputError, InvalidDate
from docket.model import taxonomy, timeparse
from docket.model.records import Effect, IncidentData, Occurrence, Place, Report, Witness

CLEARABLE = (
    "until",
    "tags",
    "channel",
    "place",
    "description",
    "exact_words",
    "people",
    "witnesses",
    "targeted",
    "effects",
    "effect_details",
    "told_to_stop",
    "evidence_to_obtain",
    "orders",
    "private_notes",
)


@dataclass
class IncidentInput:
    occurred: str | None = None
    until: str | None = None
    approximate: bool | None = None
    category: str | None = None
    tags: list[str] | None = None
    channel: str | None = None
    place: str | None = None
    private_place: bool | None = None
    description: str | None = None
    exact_words: str | None = None
    people: list[int] | None = None
    witnesses: list[str] | None = None
    targeted: list[str] | None = None
    effects: list[str] | None = None
    effect_details: str | None = None
    told_to_stop: str | None = None
    told_to_stop_details: str | None = None
    reported_to: str | None = None
    reported_on: str | None = None
    officer: str | None = None
    crime_reference: str | None = None
    outcome: str | None = None
    evidence_to_obtain: list[str] | None = None
    orders: str | None = None
    private_notes: str | None = None
    clear: list[str] = dataclasses.field(default_factory=list)

    def is_empty(self) -> bool:
        return not self.clear and all(
            getattr(self, f.name) is None for f in dataclasses.fields(self) if f.name != "clear"
        )


def _parse_day(text: str, tz: str) -> date:
    return timeparse.parse(text, tz).value.date()


def _witness(text: str) -> Witness:
    name, _, contact = text.partition(";")
    if not name.strip():
        raise InputError("A witness needs a name.", hint="Write it as 'Name; how to contact them'.")
    return Witness(name.strip(), contact.strip())


def apply(form: IncidentInput, tz: str, base: IncidentData | None = None) -> IncidentData:
    """Build an incident from ``form``, on top of ``base`` when editing."""
    for name in form.clear:
        if name not in CLEARABLE:
            raise InputError(
                f"{name!r} is not a field that can be cleared.",
                hint="Fields you can clear: " + ", ".join(CLEARABLE) + ".",
            )
    if base is None:
        if form.category is None:
            raise InputError(
                "An incident needs a category.",
                hint="Add --category with a code such as CON (unwanted contact); "
                "'docket categories' lists them all.",
            )
        start = timeparse.parse(form.occurred or "now", tz)
        base = IncidentData(
            occurred=Occurrence(start.value, tz, date_only=start.date_only),
            category=form.category.upper(),
        )
    data = base
    changes: dict[str, object] = {}

    occ = data.occurred
    if form.occurred is not None:
        start = timeparse.parse(form.occurred, tz)
        occ = dataclasses.replace(occ, start=start.value, date_only=start.date_only, timezone=tz)
    if form.until is not None:
        end = timeparse.parse(form.until, tz)
        occ = dataclasses.replace(occ, end=end.value)
    elif "until" in form.clear:
        occ = dataclasses.replace(occ, end=None)
    if form.approximate is not None:
        occ = dataclasses.replace(occ, approximate=form.approximate)
    if occ.end is not None and occ.end < occ.start:
        raise InvalidDate(
            "The end time is before the start time.",
            hint="Check --occurred and --until; the end must be the same or later.",
        )
    changes["occurred"] = occ

    if form.category is not None:
        changes["category"] = form.category.strip().upper()
    if form.tags is not None:
        changes["tags"] = tuple(t.strip() for t in form.tags)
    if form.channel is not None:
        changes["channel"] = form.channel.strip().lower()
    if form.place is not None:
        private = form.private_place if form.private_place is not None else False
        changes["place"] = Place(form.place.strip(), private)
    elif form.private_place is not None and data.place is not None:
        changes["place"] = Place(data.place.text, form.private_place)
    for name in ("description", "exact_words", "orders", "private_notes", "told_to_stop_details"):
        value = getattr(form, name)
        if value is not None:
            changes[name] = value.strip()
    if form.people is not None:
        changes["people"] = tuple(form.people)
    if form.witnesses is not None:
        changes["witnesses"] = tuple(_witness(w) for w in form.witnesses)
    if form.targeted is not None:
        changes["targeted"] = tuple(t.strip() for t in form.targeted if t.strip())
    if form.evidence_to_obtain is not None:
        changes["evidence_to_obtain"] = tuple(e.strip() for e in form.evidence_to_obtain)
    if form.told_to_stop is not None:
        changes["told_to_stop"] = form.told_to_stop.strip().lower()

    effect = data.effect
    if form.effects is not None:
        unknown = [e for e in form.effects if e not in taxonomy.EFFECTS]
        if unknown:
            raise InputError(
                f"{unknown[0]!r} is not an effect Docket knows.",
                hint="Use any of: " + ", ".join(taxonomy.EFFECTS) + ".",
            )
        effect = Effect(**{k: k in form.effects for k in taxonomy.EFFECTS}, details=effect.details)
    if form.effect_details is not None:
        effect = dataclasses.replace(effect, details=form.effect_details.strip())
    changes["effect"] = effect

    report_fields = (form.reported_on, form.officer, form.crime_reference, form.outcome)
    if form.reported_to is not None:
        report = Report(
            to=form.reported_to.strip(),
            on=_parse_day(form.reported_on, tz) if form.reported_on else None,
            officer=(form.officer or "").strip(),
            reference=(form.crime_reference or "").strip(),
            outcome=(form.outcome or "").strip(),
        )
        changes["reported"] = (*data.reported, report)
    elif any(v is not None for v in report_fields):
        raise InputError(
            "A report date, officer, crime reference or outcome needs --reported-to as well.",
            hint="Say who it was reported to, for example --reported-to 'Thames Valley Police'.",
        )

    data = dataclasses.replace(data, **changes)  # type: ignore[arg-type]
    cleared: dict[str, object] = {}
    effect = data.effect
    for name in form.clear:
        if name in ("tags", "people", "witnesses", "targeted", "evidence_to_obtain"):
            cleared[name] = ()
        elif name in ("channel", "told_to_stop", "place"):
            cleared[name] = None
        elif name == "effects":
            effect = Effect(details=effect.details)
        elif name == "effect_details":
            effect = dataclasses.replace(effect, details="")
        elif name != "until":
            cleared[name] = ""
    cleared["effect"] = effect
    return dataclasses.replace(data, **cleared)  # type: ignore[arg-type]
