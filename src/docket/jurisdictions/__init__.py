"""Jurisdiction profiles: data files (TOML) of the law's examples, emergency numbers, helplines
and wording, loaded into typed objects.

A profile that lacks an item falls back to neutral wording defined here, never to another
jurisdiction's law or numbers.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

from docket.errors import JurisdictionError
from docket.model.taxonomy import CATEGORY_CODES

DEFAULT = "england-wales"

NEUTRAL_NOT_LEGAL_ADVICE = (
    "Docket is not legal advice and is not a substitute for the police, a lawyer or a "
    "specialist advocate."
)
NEUTRAL_EMERGENCY = "In an emergency, call your local emergency number."
NEUTRAL_DISCLOSURE = (
    "Anything you give to the police may have to be shown to others in a court case."
)


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

    def category(self, code: str) -> Category | None:
        for c in self.categories:
            if c.code == code:
                return c
        return None

    @property
    def category_codes(self) -> tuple[str, ...]:
        return tuple(c.code for c in self.categories)

    def safety_footer(self) -> str:
        parts = [self.not_legal_advice, self.emergency_text]
        if self.helplines:
            first = self.helplines[0]
            parts.append(f"{first.name}: {first.phone}.")
        return " ".join(parts)


def available() -> list[str]:
    folder = resources.files(__package__)
    return sorted(
        p.name.removesuffix(".toml") for p in folder.iterdir() if p.name.endswith(".toml")
    )


def _str(table: dict[str, Any], key: str, default: str) -> str:
    value = table.get(key, default)
    if not isinstance(value, str):
        raise JurisdictionError(f"Jurisdiction field {key!r} must be text.")
    return value


@cache
def load(jurisdiction_id: str = DEFAULT) -> Jurisdiction:
    if jurisdiction_id not in available():
        raise JurisdictionError(
            f"There is no jurisdiction profile called {jurisdiction_id!r}.",
            hint="Choose one of: " + ", ".join(available()) + ".",
        )
    raw = resources.files(__package__).joinpath(f"{jurisdiction_id}.toml").read_text("utf-8")
    try:
        data = tomllib.loads(raw)
    except tomllib.TOMLDecodeError as exc:  # pragma: no cover - shipped files are tested
        raise JurisdictionError(f"The {jurisdiction_id} profile could not be read: {exc}") from exc
    return parse(jurisdiction_id, data)


def parse(jurisdiction_id: str, data: dict[str, Any]) -> Jurisdiction:
    head = data.get("jurisdiction", {})
    emergency = data.get("emergency", {})
    wording = data.get("wording", {})
    by_code = {c.get("code"): c for c in data.get("categories", [])}
    unknown = set(by_code) - set(CATEGORY_CODES)
    if unknown:
        raise JurisdictionError(
            f"The {jurisdiction_id} profile has categories Docket does not know: "
            + ", ".join(sorted(map(str, unknown)))
        )
    categories = tuple(
        Category(
            code=code,
            name=_str(by_code.get(code, {}), "name", neutral),
            definition=_str(by_code.get(code, {}), "definition", ""),
            similar_to=_str(by_code.get(code, {}), "similar_to", ""),
        )
        for code, neutral in CATEGORY_CODES.items()
    )
    helplines = tuple(
        Helpline(
            name=_str(h, "name", ""),
            phone=_str(h, "phone", ""),
            notes=_str(h, "notes", ""),
            last_checked=_str(h, "last_checked", ""),
        )
        for h in data.get("helplines", [])
    )
    number = emergency.get("number")
    return Jurisdiction(
        id=jurisdiction_id,
        name=_str(head, "name", jurisdiction_id),
        default_region=_str(head, "default_region", "ZZ"),
        default_timezone=_str(head, "default_timezone", "UTC"),
        emergency_number=number if isinstance(number, str) else None,
        emergency_text=_str(emergency, "text", NEUTRAL_EMERGENCY),
        helplines=helplines,
        not_legal_advice=_str(wording, "not_legal_advice", NEUTRAL_NOT_LEGAL_ADVICE),
        disclosure_warning=_str(wording, "disclosure_warning", NEUTRAL_DISCLOSURE),
        categories=categories,
    )
