"""The demo diary (``docket serve --demo``): a few weeks of made-up incidents, two people, an
imported WhatsApp chat, a court order and a few checklist answers, dated up to yesterday so
the overview looks as it would in use. Every name, number and event in it is fictional."""

from __future__ import annotations

import contextlib
import random
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from docket.api import Diary
from docket.checklist import Answer, ChecklistData
from docket.model import forms, identifiers
from docket.model.records import OrderData, PersonData

PASSPHRASE = "demo diary only"  # noqa: S105 - the demo diary is made up, and says so
ZONE = "Europe/London"

# (days before today, hour, minute, category, channel, description, place)
INCIDENTS = [
    (41, 8, 10, "CON", "text_message", "Texts before work asking where I was going today.", ""),
    (
        38,
        21,
        40,
        "CON",
        "phone_call",
        "Five missed calls in twenty minutes from Jordan's number.",
        "",
    ),
    (
        35,
        17,
        55,
        "LOI",
        "in_person",
        "Jordan was waiting outside the office when I left work.",
        "Outside the office, Market Street",
    ),
    (33, 22, 15, "CON", "whatsapp", "Long WhatsApp messages late at night, asking me to meet.", ""),
    (
        30,
        12,
        30,
        "PRX",
        "via_someone",
        "Jordan messaged my sister asking whether I am seeing anyone.",
        "",
    ),
    (
        27,
        7,
        50,
        "FOL",
        "in_person",
        "Saw Jordan's car behind the bus for three stops.",
        "Number 14 bus route",
    ),
    (25, 19, 5, "GIF", "in_person", "Flowers and a card left on the doorstep. No stamp.", "Home"),
    (
        22,
        23,
        30,
        "CON",
        "social_media",
        "New account following me and my friends; the profile photo is Jordan's.",
        "",
    ),
    (
        20,
        18,
        20,
        "LOI",
        "in_person",
        "Jordan was at the gym car park when I arrived and when I left.",
        "Gym car park",
    ),
    (
        18,
        9,
        0,
        "MON",
        "online_other",
        "Jordan mentioned a place I had only told two friends about.",
        "",
    ),
    (16, 21, 10, "CON", "whatsapp", "Messages saying I owe Jordan a conversation.", ""),
    (
        14,
        8,
        5,
        "FOL",
        "in_person",
        "Jordan walked behind me from the station to the office.",
        "Station to office",
    ),
    (
        12,
        13,
        45,
        "PRX",
        "via_someone",
        "My manager had a phone call from Jordan asking for my hours.",
        "Work",
    ),
    (
        11,
        22,
        0,
        "CON",
        "phone_call",
        "Calls every few minutes from a withheld number between 10 and 11 pm.",
        "",
    ),
    (
        9,
        17,
        30,
        "LOI",
        "in_person",
        "Jordan sat in a car opposite the house for about an hour.",
        "Home",
    ),
    (8, 20, 15, "CON", "whatsapp", "Messages asking who was at my house on Saturday.", ""),
    (
        6,
        7,
        40,
        "WAT",
        "in_person",
        "Someone took photos of me at the bus stop; I think it was Jordan.",
        "Bus stop, Hill Road",
    ),
    (5, 23, 10, "THR", "whatsapp", "A message saying I will regret ignoring Jordan.", ""),
    (
        3,
        18,
        0,
        "LOI",
        "in_person",
        "Jordan was at the supermarket at the same time again.",
        "Supermarket",
    ),
    (1, 21, 30, "CON", "whatsapp", "More messages after I asked Jordan to stop.", ""),
]

CHAT = [
    ("Jordan", "Where are you going today?"),
    ("Jordan", "You looked nice this morning"),
    ("Alex", "Please stop messaging me."),
    ("Jordan", "I just want to talk, is that too much to ask"),
    ("Jordan", "Who was that at your door on Saturday?"),
    ("Jordan", "Answer me"),
    ("Jordan", "You owe me a conversation"),
    ("Alex", "I have asked you to stop contacting me. Please stop."),
    ("Jordan", "I know you finish at 5 on Thursdays"),
    ("Jordan", "Why won't you pick up"),
    ("Jordan", "<Media omitted>"),
    ("Jordan", "You'll regret ignoring me"),
    ("Jordan", "I'm not going anywhere"),
]


def _chat_file(path: Path, today: datetime) -> None:
    rng = random.Random(7)  # noqa: S311 - made-up chat, not security
    lines = []
    day = today - timedelta(days=40)
    while day < today:
        if rng.random() < 0.55:
            minute = rng.randint(7 * 60, 23 * 60 + 30)
            for k in range(rng.randint(1, 4)):
                who, text = CHAT[rng.randrange(len(CHAT))]
                t = day.replace(hour=0, minute=0) + timedelta(minutes=minute + k * 2)
                lines.append(f"{t:%d/%m/%Y, %H:%M} - {who}: {text}")
        day += timedelta(days=1)
    header = (
        f"{today - timedelta(days=41):%d/%m/%Y}, 09:00 - Messages and calls are end-to-end "
        "encrypted. No one outside of this chat, not even WhatsApp, can read or listen to them."
    )
    path.write_text("\n".join([header, *lines]) + "\n", encoding="utf-8")


def build(path: Path) -> str:
    """Create the demo diary at ``path``; returns its passphrase."""
    tz = ZoneInfo(ZONE)
    today = datetime.now(tz).replace(second=0, microsecond=0)
    with Diary.create(path, PASSPHRASE, timezone=ZONE) as diary:
        jordan = diary.add_person(
            PersonData(
                name="Jordan Reeve (fictional)",
                role="responsible",
                relationship="ex_partner",
                description="Tall, short dark hair, often in a grey coat. Drives a blue hatchback.",
                identifiers=(
                    identifiers.phone("07700 900461", "GB"),
                    identifiers.vehicle("AB12 CDE"),
                ),
            )
        )
        diary.add_person(
            PersonData(name="Sam Patel (fictional)", role="witness", relationship="friend")
        )
        for days, hour, minute, category, channel, description, place in INCIDENTS:
            when = (today - timedelta(days=days)).replace(hour=hour, minute=minute)
            diary.add_incident(
                forms.IncidentInput(
                    occurred=when.strftime("%Y-%m-%d %H:%M"),
                    category=category,
                    channel=channel,
                    description=description,
                    place=place or None,
                    private_place=place == "Home" or None,
                    people=[jordan.id],
                    effects=["distress"] + (["fear_of_violence"] if category == "THR" else []),
                )
            )
        chat = path.with_name("WhatsApp Chat with Jordan.txt")
        try:
            _chat_file(chat, today)
            diary.import_file(chat, person=jordan.id, me=("Alex",), day_first=True)
        finally:
            with contextlib.suppress(FileNotFoundError):
                chat.unlink()
        diary.add_order(
            OrderData(
                "non_molestation_order",
                (today - timedelta(days=20)).date(),
                against=(jordan.id,),
                terms="Not to contact Alex directly or indirectly, or to go to Park Road.",
                court="Family Court (fictional)",
            )
        )
        diary.save_checklist(
            ChecklistData.build(
                {
                    "fear": Answer("quite"),
                    "relationship": Answer("yes", "Together for three years (fictional)."),
                    "turning_up": Answer("weekly"),
                }
            )
        )
    return PASSPHRASE
