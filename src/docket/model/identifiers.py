"""Normalising the identifiers that tie numbers, addresses, accounts and vehicles to a person:
phone numbers to E.164, e-mail addresses, per-platform handles and number plates.

The same number typed as 07700 900123 and +44 7700 900123 must land on the same person, so
everything is stored in one canonical form; the form the person typed is kept beside it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import phonenumbers

from docket.errors import InvalidIdentifier

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_PLATFORM = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,39}$")


@dataclass(frozen=True)
class Identifier:
    kind: str  # phone | email | handle | vehicle
    value: str  # canonical form
    platform: str = ""  # for handles: instagram, tiktok, snapchat, ...
    as_given: str = ""

    def as_record(self) -> dict[str, str]:
        out = {"kind": self.kind, "value": self.value}
        if self.platform:
            out["platform"] = self.platform
        if self.as_given and self.as_given != self.value:
            out["as_given"] = self.as_given
        return out

    def label(self) -> str:
        return f"{self.platform}:{self.value}" if self.platform else self.value


def phone(text: str, region: str) -> Identifier:
    raw = text.strip()
    try:
        number = phonenumbers.parse(raw, region.upper())
    except phonenumbers.NumberParseException as exc:
        raise InvalidIdentifier(
            f"{raw!r} is not a phone number Docket can read.",
            cause=f"It could not be read as a number ({exc.args[0] if exc.args else 'unknown'}).",
            hint="Type the number as it appears on your phone, for example 07700 900123, or with "
            "its country code, for example +44 7700 900123.",
        ) from exc
    if not phonenumbers.is_possible_number(number):
        raise InvalidIdentifier(
            f"{raw!r} is not a possible phone number for region {region.upper()}.",
            cause="It has too few or too many digits, or belongs to another country.",
            hint="Check the digits. For a number from another country, start with + and the "
            "country code.",
        )
    e164 = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    return Identifier("phone", e164, as_given=raw)


def email(text: str) -> Identifier:
    raw = text.strip()
    if not _EMAIL.match(raw):
        raise InvalidIdentifier(
            f"{raw!r} is not an e-mail address.",
            hint="An e-mail address looks like name@example.com.",
        )
    local, _, domain = raw.rpartition("@")
    return Identifier("email", f"{local}@{domain.lower()}", as_given=raw)


def handle(text: str) -> Identifier:
    raw = text.strip()
    platform, sep, name = raw.partition(":")
    platform = platform.strip().lower()
    name = name.strip().lstrip("@")
    if not sep or not name or not _PLATFORM.match(platform):
        raise InvalidIdentifier(
            f"{raw!r} is not a handle Docket can use.",
            cause="A handle needs the platform and the name.",
            hint="Write it as platform:name, for example instagram:someone or tiktok:@someone.",
        )
    return Identifier("handle", name.lower(), platform=platform, as_given=raw)


def vehicle(text: str) -> Identifier:
    raw = text.strip()
    plate = re.sub(r"[\s-]+", "", raw).upper()
    if not plate or not plate.isalnum() or len(plate) > 12:
        raise InvalidIdentifier(
            f"{raw!r} is not a number plate Docket can use.",
            hint="Write the registration as it appears, for example AB12 CDE.",
        )
    return Identifier("vehicle", plate, as_given=raw)


def parse(kind: str, text: str, region: str) -> Identifier:
    if kind == "phone":
        return phone(text, region)
    if kind == "email":
        return email(text)
    if kind == "handle":
        return handle(text)
    if kind == "vehicle":
        return vehicle(text)
    raise InvalidIdentifier(f"{kind!r} is not a kind of identifier Docket knows.")
