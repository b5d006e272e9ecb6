"""Jurisdiction profiles: data files (TOML) of the law's examples, the course-of-conduct rule,
orders, emergency numbers, helplines, laws and wording, validated and loaded into typed objects.

A profile that lacks an item falls back to neutral wording defined here, never to another
jurisdiction's law or numbers. Every profile is checked for wording Docket must never use.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from datetime import date, datetime
from functools import cache
from importlib import resources
from typing import Any, Final, NoReturn

from docket.errors import JurisdictionError, Location
from docket.model.taxonomy import CATEGORY_CODES
from docket.model.timeparse import MONTHS

DEFAULT = "england-wales"

# --- neutral fall-backs: they name no law, no number and no place ----------------------------

NEUTRAL_NOT_LEGAL_ADVICE = (
    "Docket is not legal advice and is not a substitute for the police, a lawyer or a "
    "specialist advocate."
)
NEUTRAL_EMERGENCY = "In an emergency, call your local emergency number."
NEUTRAL_DISCLOSURE = (
    "Anything you give to the police may have to be shown to others in a court case."
)
NEUTRAL_LAW_EXAMPLES_INTRO = (
    "Laws on stalking and harassment often give examples of the kinds of behaviour they are "
    "concerned with. Docket has no list of examples for this place, so it does not compare "
    "entries with the law. Police and prosecutors decide what, if anything, the law covers."
)
NEUTRAL_COURSE_OF_CONDUCT = (
    "Laws on stalking and harassment often look at a pattern of behaviour over time rather "
    "than at one event on its own. Docket shows how many times things were recorded; it does "
    "not say whether any legal test is met. Police and prosecutors decide what, if anything, "
    "the law covers."
)
NEUTRAL_LEGAL_CONTEXT = (
    "Docket has no list of laws for this place. The police, a lawyer or a specialist advocate "
    "can say which laws may be relevant. Police and prosecutors decide what, if anything, the "
    "law covers."
)
CHECKLIST_LEAD = "Several of these are linked in research to serious harm."
NEUTRAL_CHECKLIST_SUPPORT = "You can talk to a specialist support service or the police about them."
NEUTRAL_CHECKLIST_DANGER = "If you are in danger now, call your local emergency number."

# Stable codes for kinds of order; a profile names and describes the ones its law has.
ORDER_CODES: Final[tuple[str, ...]] = (
    "restraining_order",
    "stalking_protection_order",
    "non_molestation_order",
    "non_harassment_order",
    "bail_conditions",
    "protection_order",
    "injunction",
    "other",
)

# Words Docket must never use (DESIGN.md §3; research: legal-risk.md §7.5). A profile that
# contains any of them is refused when it is loaded.
FORBIDDEN_WORDING: Final[re.Pattern[str]] = re.compile(
    r"\b(?:risk (?:score|level|rating)|(?:high|medium|low)[- ]risk|traffic[- ]light"
    r"|is an offence|is a crime|is stalking|is harassment|court[- ]admissible"
    r"|tamper[- ]proof|forensically sound|certified|phone is (?:clean|safe))\b",
    re.IGNORECASE,
)
_DECIDE = re.compile(r"police and prosecutors decide", re.IGNORECASE)
_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


@dataclass(frozen=True)
class Category:
    code: str
    name: str
    definition: str
    similar_to: str


@dataclass(frozen=True)
class Helpline:
    name: str
    phone: str
    notes: str
    last_checked: str
    name_in_sentence: str = ""  # "the National Stalking Helpline"; empty: the name as it is

    def in_sentence(self) -> str:
        return self.name_in_sentence or self.name


@dataclass(frozen=True)
class OrderType:
    code: str  # one of ORDER_CODES
    name: str  # "Restraining order"
    description: str  # one plain sentence


@dataclass(frozen=True)
class Law:
    title: str  # "Protection from Harassment Act 1997, sections 2A and 4A"
    summary: str  # neutral, one or two sentences: "may be relevant", never a conclusion
    reference: str  # where to read it, as plain text


NEUTRAL_ORDERS: Final[tuple[OrderType, ...]] = (
    OrderType(
        "protection_order",
        "A court order",
        "An order made by a court to protect you or someone close to you.",
    ),
    OrderType(
        "bail_conditions",
        "Bail conditions",
        "Conditions set while a case goes on, such as not contacting you.",
    ),
    OrderType("other", "Something else", "Another order, condition or promise made to a court."),
)


@dataclass(frozen=True)
class Jurisdiction:
    id: str
    name: str
    default_region: str
    default_timezone: str
    emergency_number: str | None
    emergency_text: str
    helplines: tuple[Helpline, ...]
    not_legal_advice: str
    disclosure_warning: str
    categories: tuple[Category, ...]
    short_name: str = ""
    last_checked: str = ""
    non_emergency_number: str | None = None
    silent_call: str = ""
    law_examples_intro: str = NEUTRAL_LAW_EXAMPLES_INTRO
    course_of_conduct: str = NEUTRAL_COURSE_OF_CONDUCT
    course_of_conduct_occasions: int | None = None
    third_parties_count: bool = False
    orders: tuple[OrderType, ...] = NEUTRAL_ORDERS
    laws: tuple[Law, ...] = ()
    helplines_note: str = ""

    def category(self, code: str) -> Category | None:
        for c in self.categories:
            if c.code == code:
                return c
        return None

    @property
    def category_codes(self) -> tuple[str, ...]:
        return tuple(c.code for c in self.categories)

    def order_type(self, code: str) -> OrderType | None:
        for o in self.orders:
            if o.code == code:
                return o
        return None

    def safety_footer(self) -> str:
        parts = [self.not_legal_advice, self.emergency_text]
        if self.helplines:
            first = self.helplines[0]
            parts.append(f"{first.name}: {first.phone}.")
        return " ".join(parts)

    def checklist_note(self) -> str:
        """The line under the checklist of things police and advocates will want to know
        (research: legal-risk.md §7.4): where to talk, and what to do in danger."""
        parts = [CHECKLIST_LEAD]
        if self.helplines:
            first = self.helplines[0]
            parts.append(f"You can talk to {first.in_sentence()} on {first.phone}.")
        else:
            parts.append(NEUTRAL_CHECKLIST_SUPPORT)
        if self.emergency_number:
            parts.append(f"If you are in danger now, call {self.emergency_number}.")
        else:
            parts.append(NEUTRAL_CHECKLIST_DANGER)
        return " ".join(parts)

    def legal_context_note(self) -> str:
        """The opening of a report's legal-context annex, dated where the profile is."""
        if not self.laws:
            return NEUTRAL_LEGAL_CONTEXT
        note = (
            "The laws listed here may be relevant. The list is a starting point, not legal "
            "advice. Police and prosecutors decide what, if anything, the law covers."
        )
        if self.last_checked:
            note += (
                f" Docket last checked it on {_long_date(self.last_checked)}; the law can change."
            )
        return note


def _long_date(iso: str) -> str:
    """'2026-11-24' -> '24 November 2026', whatever the process's locale."""
    d = date.fromisoformat(iso)
    return f"{d.day} {MONTHS[d.month - 1]} {d.year}"


def available() -> list[str]:
    folder = resources.files(__package__)
    return sorted(
        p.name.removesuffix(".toml") for p in folder.iterdir() if p.name.endswith(".toml")
    )


@cache
def load(jurisdiction_id: str = DEFAULT) -> Jurisdiction:
    if jurisdiction_id not in available():
        raise JurisdictionError(
            f"There is no jurisdiction profile called {jurisdiction_id!r}.",
            hint="Choose one of: " + ", ".join(available()) + ".",
        )
    source = f"{jurisdiction_id}.toml"
    raw = resources.files(__package__).joinpath(source).read_text("utf-8")
    try:
        data = tomllib.loads(raw)
    except tomllib.TOMLDecodeError as exc:  # pragma: no cover - shipped files are tested
        raise JurisdictionError(
            f"The jurisdiction profile {source} could not be read.",
            cause=str(exc),
            location=Location(file=source),
        ) from exc
    return parse(jurisdiction_id, data, source=source)


# --- validation ----------------------------------------------------------------------------

_SECTIONS: Final[dict[str, frozenset[str]]] = {
    "jurisdiction": frozenset(
        {"id", "name", "short_name", "default_region", "default_timezone", "last_checked"}
    ),
    "emergency": frozenset({"number", "non_emergency", "text", "silent_call"}),
    "wording": frozenset(
        {
            "not_legal_advice",
            "law_examples_intro",
            "disclosure_warning",
            "helplines_note",
        }
    ),
    "course_of_conduct": frozenset({"text", "occasions", "third_parties_count"}),
}
_LISTS: Final[dict[str, frozenset[str]]] = {
    "helplines": frozenset({"name", "name_in_sentence", "phone", "notes", "last_checked"}),
    "categories": frozenset({"code", "name", "definition", "similar_to"}),
    "orders": frozenset({"code", "name", "description"}),
    "laws": frozenset({"title", "summary", "reference"}),
}


class _Reader:
    """Reads one profile's tables, naming the file and the key in every complaint."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.texts: list[tuple[str, str]] = []  # (key, text) for the wording check

    def error(self, message: str, key: str, *, hint: str | None = None) -> JurisdictionError:
        return JurisdictionError(
            f"The jurisdiction profile {self.source} has a problem at {key!r}: {message}",
            hint=hint or "Correct the profile; docs/jurisdictions.md describes each key.",
            location=Location(file=self.source),
            details={"file": self.source, "key": key},
        )

    def fail(self, message: str, key: str, *, hint: str | None = None) -> NoReturn:
        raise self.error(message, key, hint=hint)

    def check_keys(self, table: dict[str, Any], where: str, known: frozenset[str]) -> None:
        for key in table:
            if key not in known:
                self.fail(
                    "Docket does not know this key.",
                    f"{where}.{key}" if where else str(key),
                    hint="Check the spelling. The keys Docket knows here are: "
                    + ", ".join(sorted(known))
                    + ".",
                )

    def section(self, data: dict[str, Any], name: str) -> dict[str, Any]:
        table = data.get(name, {})
        if not isinstance(table, dict):
            self.fail("this must be a table, written [" + name + "].", name)
        self.check_keys(table, name, _SECTIONS[name])
        return table

    def items(self, data: dict[str, Any], name: str) -> list[tuple[str, dict[str, Any]]]:
        rows = data.get(name, [])
        if not isinstance(rows, list):
            self.fail("this must be a list of tables, each written [[" + name + "]].", name)
        out: list[tuple[str, dict[str, Any]]] = []
        for i, row in enumerate(rows, start=1):
            where = f"{name}[{i}]"
            if not isinstance(row, dict):
                self.fail("each entry must be a table, written [[" + name + "]].", where)
            self.check_keys(row, where, _LISTS[name])
            out.append((where, row))
        return out

    def text(self, table: dict[str, Any], where: str, key: str, default: str) -> str:
        if key not in table:
            return default
        value = table[key]
        if not isinstance(value, str):
            self.fail("this must be text, in quotes.", f"{where}.{key}")
        value = value.strip()
        self.texts.append((f"{where}.{key}", value))
        return value

    def required(self, table: dict[str, Any], where: str, key: str) -> str:
        value = self.text(table, where, key, "")
        if not value:
            self.fail("this is required and must not be empty.", f"{where}.{key}")
        return value

    def optional(self, table: dict[str, Any], where: str, key: str) -> str | None:
        value = self.text(table, where, key, "")
        return value or None

    def day(self, table: dict[str, Any], where: str, key: str, *, required: bool) -> str:
        value = table.get(key)
        if value is None:
            if required:
                self.fail("a date is required, written like 2026-11-24.", f"{where}.{key}")
            return ""
        if isinstance(value, date) and not isinstance(value, datetime):
            return value.isoformat()
        if isinstance(value, str) and _ISO_DATE.fullmatch(value.strip()):
            try:
                return date.fromisoformat(value.strip()).isoformat()
            except ValueError:
                pass
        raise self.error("this must be a date, written like 2026-11-24.", f"{where}.{key}")

    def check_wording(self) -> None:
        for key, value in self.texts:
            found = FORBIDDEN_WORDING.search(value)
            if found:
                self.fail(
                    f"it uses wording Docket must never use ({found.group(0)!r}).",
                    key,
                    hint="Say 'similar to the law's example of …' and 'police and prosecutors "
                    "decide'; never a verdict, a risk level or a claim about evidence.",
                )


def parse(jurisdiction_id: str, data: dict[str, Any], *, source: str | None = None) -> Jurisdiction:
    """Validate one profile's data and build it, with neutral fall-backs for what it lacks.

    ``source`` names the file in error messages (default ``<jurisdiction_id>.toml``).
    """
    r = _Reader(source or f"{jurisdiction_id}.toml")
    unknown_sections = [k for k in data if k not in _SECTIONS and k not in _LISTS]
    if unknown_sections:
        r.fail(
            "Docket does not know this key.",
            str(unknown_sections[0]),
            hint="The sections Docket knows are: " + ", ".join(sorted([*_SECTIONS, *_LISTS])) + ".",
        )

    head = r.section(data, "jurisdiction")
    emergency = r.section(data, "emergency")
    wording = r.section(data, "wording")
    conduct = r.section(data, "course_of_conduct")

    declared = r.text(head, "jurisdiction", "id", jurisdiction_id)
    if declared != jurisdiction_id:
        r.fail(f"the profile says it is {declared!r}, not {jurisdiction_id!r}.", "jurisdiction.id")
    name = r.text(head, "jurisdiction", "name", jurisdiction_id) or jurisdiction_id

    categories = _categories(r, data)
    helplines = tuple(
        Helpline(
            name=r.required(h, where, "name"),
            phone=r.required(h, where, "phone"),
            notes=r.text(h, where, "notes", ""),
            last_checked=r.day(h, where, "last_checked", required=True),
            name_in_sentence=r.text(h, where, "name_in_sentence", ""),
        )
        for where, h in r.items(data, "helplines")
    )
    orders = _orders(r, data)
    laws = tuple(
        Law(
            title=r.required(row, where, "title"),
            summary=r.required(row, where, "summary"),
            reference=r.required(row, where, "reference"),
        )
        for where, row in r.items(data, "laws")
    )

    course = r.text(conduct, "course_of_conduct", "text", "")
    if course and not _DECIDE.search(course):
        r.fail(
            "the rule must say that police and prosecutors decide.",
            "course_of_conduct.text",
        )
    occasions = conduct.get("occasions")
    if occasions is not None and (
        isinstance(occasions, bool) or not isinstance(occasions, int) or occasions < 1
    ):
        r.fail("this must be a whole number such as 2.", "course_of_conduct.occasions")
    third_parties = conduct.get("third_parties_count", False)
    if not isinstance(third_parties, bool):
        r.fail("this must be true or false.", "course_of_conduct.third_parties_count")

    j = Jurisdiction(
        id=jurisdiction_id,
        name=name,
        short_name=r.text(head, "jurisdiction", "short_name", "") or name,
        last_checked=r.day(head, "jurisdiction", "last_checked", required=False),
        default_region=r.text(head, "jurisdiction", "default_region", "ZZ") or "ZZ",
        default_timezone=r.text(head, "jurisdiction", "default_timezone", "UTC") or "UTC",
        emergency_number=r.optional(emergency, "emergency", "number"),
        non_emergency_number=r.optional(emergency, "emergency", "non_emergency"),
        emergency_text=r.text(emergency, "emergency", "text", "") or NEUTRAL_EMERGENCY,
        silent_call=r.text(emergency, "emergency", "silent_call", ""),
        helplines=helplines,
        helplines_note=r.text(wording, "wording", "helplines_note", ""),
        not_legal_advice=r.text(wording, "wording", "not_legal_advice", "")
        or NEUTRAL_NOT_LEGAL_ADVICE,
        disclosure_warning=r.text(wording, "wording", "disclosure_warning", "")
        or NEUTRAL_DISCLOSURE,
        law_examples_intro=r.text(wording, "wording", "law_examples_intro", "")
        or NEUTRAL_LAW_EXAMPLES_INTRO,
        course_of_conduct=course or NEUTRAL_COURSE_OF_CONDUCT,
        course_of_conduct_occasions=occasions if course else None,
        third_parties_count=third_parties,
        orders=orders,
        laws=laws,
        categories=categories,
    )
    r.check_wording()
    return j


def _categories(r: _Reader, data: dict[str, Any]) -> tuple[Category, ...]:
    by_code: dict[str, tuple[str, dict[str, Any]]] = {}
    unknown: list[str] = []
    for where, row in r.items(data, "categories"):
        code = row.get("code")
        if not isinstance(code, str) or not code:
            r.fail('each category needs a code, such as "FOL".', f"{where}.code")
        if code in by_code:
            r.fail(f"the category {code} appears more than once.", f"{where}.code")
        if code not in CATEGORY_CODES:
            unknown.append(code)
        by_code[code] = (where, row)
    if unknown:
        r.fail(
            "it has categories Docket does not know: " + ", ".join(sorted(unknown)) + ".",
            "categories",
            hint="The codes Docket knows are: " + ", ".join(CATEGORY_CODES) + ".",
        )
    out: list[Category] = []
    for code, neutral in CATEGORY_CODES.items():
        where, row = by_code.get(code, (f"categories.{code}", {}))
        out.append(
            Category(
                code=code,
                name=r.text(row, where, "name", "") or neutral,
                definition=r.text(row, where, "definition", ""),
                similar_to=r.text(row, where, "similar_to", ""),
            )
        )
    return tuple(out)


def _orders(r: _Reader, data: dict[str, Any]) -> tuple[OrderType, ...]:
    rows = r.items(data, "orders")
    if not rows:
        return NEUTRAL_ORDERS
    seen: set[str] = set()
    out: list[OrderType] = []
    for where, row in rows:
        code = r.required(row, where, "code")
        if code not in ORDER_CODES:
            r.fail(
                f"Docket does not know the order code {code!r}.",
                f"{where}.code",
                hint="The order codes Docket knows are: " + ", ".join(ORDER_CODES) + ".",
            )
        if code in seen:
            r.fail(f"the order code {code!r} appears more than once.", f"{where}.code")
        seen.add(code)
        out.append(
            OrderType(
                code=code,
                name=r.required(row, where, "name"),
                description=r.required(row, where, "description"),
            )
        )
    return tuple(out)
