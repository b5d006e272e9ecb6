"""The incident taxonomy's codes (research: legal-risk.md §7.1) and the fixed vocabularies of
the data model: channels, relationships, roles, effects.

Codes are stable identifiers stored in the diary; names and definitions come from the
jurisdiction profile, with neutral fall-backs here for a profile that lacks one.
"""

from __future__ import annotations

from typing import Final

# code -> neutral name used when a jurisdiction profile has no wording of its own
CATEGORY_CODES: Final[dict[str, str]] = {
    "FOL": "Following",
    "WAT": "Watching or spying",
    "LOI": "Turning up or hanging around",
    "APP": "Approaching",
    "ENT": "Entering or trying to enter",
    "CON": "Unwanted contact",
    "GIF": "Gifts or items left",
    "PRX": "Contacting people around you",
    "PUB": "Posting or spreading things",
    "IMP": "Impersonation",
    "IIA": "Intimate images",
    "MON": "Monitoring online",
    "HAC": "Accounts or devices interfered with",
    "TRK": "Location tracking",
    "PRP": "Property interfered with",
    "THR": "Threats",
    "VIO": "Violence",
    "SYS": "Misusing systems",
    "ORD": "Breaking an order",
    "OTH": "Something else",
}

CHANNELS: Final[dict[str, str]] = {
    "in_person": "In person",
    "phone_call": "Phone call",
    "text_message": "Text message (SMS)",
    "whatsapp": "WhatsApp",
    "email": "E-mail",
    "social_media": "Social media",
    "messaging_app": "Another messaging app",
    "letter": "Letter or post",
    "via_someone": "Through someone else",
    "device_or_account": "A device or account",
    "online_other": "Online, other",
    "other": "Other",
}

RELATIONSHIPS: Final[dict[str, str]] = {
    "ex_partner": "Ex-partner",
    "partner": "Partner",
    "family": "Family member",
    "acquaintance": "Acquaintance",
    "friend": "Friend or former friend",
    "colleague": "Colleague or former colleague",
    "neighbour": "Neighbour",
    "online_only": "Known only online",
    "stranger": "Stranger",
    "unknown": "Not known",
}

ROLES: Final[dict[str, str]] = {
    "responsible": "The person responsible",
    "witness": "Witness",
    "affected": "Someone else affected",
    "other": "Other",
}

EFFECTS: Final[dict[str, str]] = {
    "fear_of_violence": "Feared violence",
    "alarm": "Alarmed",
    "distress": "Distressed",
    "changed_routine": "Changed what I do (route, routine, work, going out)",
}

TOLD_TO_STOP: Final[dict[str, str]] = {
    "yes": "Yes",
    "no": "No",
    "unknown": "Not sure",
}

IDENTIFIER_KINDS: Final[tuple[str, ...]] = ("phone", "email", "handle", "vehicle")
