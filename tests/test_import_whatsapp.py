"""The WhatsApp importer: exact items from small synthetic exports (Android and iOS, every date
order, 12/24-hour clocks, invisible separators, multi-line bodies, names with ": ", system and
disguised system lines, media and deleted markers in seven languages, zips with and without
their media, clock changes), the shared samples, a round trip of generated chats, and damaged,
foreign and hostile files."""

from __future__ import annotations

import dataclasses
import io
import os
import tracemalloc
import zipfile
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from docket.errors import ImportFormatError, ImportTooLarge
from docket.importers import whatsapp
from docket.importers.base import Attachment, Context, ImportWarning, Item, Probe, Source
from docket.importers.whatsapp import WhatsApp
from tests.conftest import SHARED

SAMPLES = SHARED / "samples" / "whatsapp"
needs_samples = pytest.mark.skipif(not SAMPLES.is_dir(), reason="shared samples not present")

LRM = "\u200e"
NNBSP = "\u202f"
NBSP = "\u00a0"
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + bytes(range(256)) * 8


# --- helpers ----------------------------------------------------------------------------------


def run(
    path: Path, name: str | None = None, media: dict[str, bytes] | None = None, **context: Any
) -> tuple[list[Item], list[ImportWarning]]:
    """Parse ``path``; attachments' bytes go in ``media`` (read while they are valid: before the
    next item is asked for)."""
    ctx = Context(name=name or path.name, **context)
    items: list[Item] = []
    warnings: list[ImportWarning] = []
    for x in WhatsApp().parse(Source(path), ctx):
        if isinstance(x, Item):
            items.append(x)
            for a in x.attachments:
                if media is not None and a.chunks is not None:
                    media[a.name] = b"".join(a.chunks())
        else:
            warnings.append(x)
    return items, warnings


def parse_text(
    tmp_path: Path, text: str | bytes, name: str = "WhatsApp Chat with Sam.txt", **context: Any
) -> tuple[list[Item], list[ImportWarning]]:
    path = tmp_path / name
    path.write_bytes(text.encode("utf-8") if isinstance(text, str) else text)
    return run(path, **context)


def utc(y: int, mo: int, d: int, h: int = 0, mi: int = 0, s: int = 0) -> datetime:
    return datetime(y, mo, d, h, mi, s, tzinfo=UTC)


def brief(item: Item) -> tuple[object, ...]:
    """kind, sender, sent_at, local_time, body: what most golden tests compare."""
    sender = (item.sender.raw, item.sender.kind) if item.sender else None
    return (item.kind, sender, item.sent_at, item.local_time, item.body)


def make_zip(path: Path, members: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for member, data in members.items():
            zf.writestr(member, data)
    return path


# --- layouts and clocks -----------------------------------------------------------------------


def test_android_en_gb_day_first_24h(tmp_path: Path) -> None:
    text = (
        "12/07/2017, 22:35 - Messages to this group are now secured with end-to-end "
        "encryption. Tap for more info.\n"
        '12/07/2017, 22:35 - You created group "Tes"\n'
        "13/07/2017, 09:12 - Test: It's fun doing text analysis\n"
        "isn't it?\n"
        "\n"
        "  indented third line\n"
        "13/07/2017, 09:16 - +44 7700 900123: Haha\n"
        "13/07/2017, 09:17 - ~ Sam: who?\n"
        "13/07/2017, 09:18 - ~\u202f+44 7700 900456: me\n"
    )
    items, warnings = parse_text(tmp_path, text)
    assert warnings == []
    assert [brief(i) for i in items] == [
        (
            "system",
            None,
            utc(2017, 7, 12, 21, 35),
            "12/07/2017, 22:35",
            "Messages to this group are now secured with end-to-end encryption. Tap for more info.",
        ),
        ("system", None, utc(2017, 7, 12, 21, 35), "12/07/2017, 22:35", 'You created group "Tes"'),
        (
            "message",
            ("Test", "name"),
            utc(2017, 7, 13, 8, 12),
            "13/07/2017, 09:12",
            "It's fun doing text analysis\nisn't it?\n\n  indented third line",
        ),
        (
            "message",
            ("+44 7700 900123", "phone"),
            utc(2017, 7, 13, 8, 16),
            "13/07/2017, 09:16",
            "Haha",
        ),
        ("message", ("~ Sam", "name"), utc(2017, 7, 13, 8, 17), "13/07/2017, 09:17", "who?"),
        (
            "message",
            ("~\u202f+44 7700 900456", "phone"),
            utc(2017, 7, 13, 8, 18),
            "13/07/2017, 09:18",
            "me",
        ),
    ]
    assert [i.line for i in items] == [1, 2, 3, 7, 8, 9]
    third = items[2]
    assert third.raw == {"header": "13/07/2017, 09:12 - Test:", "author": "Test"}
    assert third.channel == "whatsapp" and third.direction == "unknown" and third.thread is None
    assert items[0].raw == {"header": "12/07/2017, 22:35 -"}


def test_ios_12h_with_narrow_no_break_space(tmp_path: Path) -> None:
    text = (
        f"[31/12/2023, 9:05:07{NNBSP}PM] Ann: hi\n"
        f"[01/01/2024, 12:03:41{NNBSP}AM] +1 (555) 000-0000: late\n"
        f"[01/01/2024, 12:30:00{NNBSP}PM] Ann: lunch\n"
        f"{LRM}[01/01/2024, 1:00:00{NNBSP}PM] Ann: {LRM}joke\n"
    )
    items, warnings = parse_text(tmp_path, text, "_chat.txt")
    assert warnings == []
    assert [brief(i) for i in items] == [
        (
            "message",
            ("Ann", "name"),
            utc(2023, 12, 31, 21, 5, 7),
            f"31/12/2023, 9:05:07{NNBSP}PM",
            "hi",
        ),
        (
            "message",
            ("+1 (555) 000-0000", "phone"),
            utc(2024, 1, 1, 0, 3, 41),
            f"01/01/2024, 12:03:41{NNBSP}AM",
            "late",
        ),
        (
            "message",
            ("Ann", "name"),
            utc(2024, 1, 1, 12, 30),
            f"01/01/2024, 12:30:00{NNBSP}PM",
            "lunch",
        ),
        (
            "message",
            ("Ann", "name"),
            utc(2024, 1, 1, 13, 0),
            f"01/01/2024, 1:00:00{NNBSP}PM",
            f"{LRM}joke",
        ),
    ]
    assert items[3].match_body == "joke"
    assert items[3].raw["header"] == f"{LRM}[01/01/2024, 1:00:00{NNBSP}PM] Ann:"


def test_us_month_first_12h_inferred_from_a_day_over_12(tmp_path: Path) -> None:
    text = (
        f"12/01/23, 9:05{NNBSP}PM - Ann: first\n"
        f"12/31/23, 11:59{NNBSP}PM - Ann: new year soon\n"
        f"1/2/24, 7:00{NNBSP}AM - Bob: morning\n"
    )
    items, warnings = parse_text(tmp_path, text, timezone="America/New_York")
    assert warnings == []
    assert [i.sent_at for i in items] == [
        utc(2023, 12, 2, 2, 5),
        utc(2024, 1, 1, 4, 59),
        utc(2024, 1, 2, 12, 0),
    ]


@pytest.mark.parametrize(
    ("line", "local", "expected"),
    [
        (
            f"31/12/2023, 9:05{NBSP}p.{NBSP}m. - Ann: hola",
            f"31/12/2023, 9:05{NBSP}p.{NBSP}m.",
            utc(2023, 12, 31, 21, 5),
        ),
        ("31/12/2023, 9:05 p. m. - Ann: hola", "31/12/2023, 9:05 p. m.", utc(2023, 12, 31, 21, 5)),
        ("31/12/2023, 12:05 a. m. - Ann: hola", "31/12/2023, 12:05 a. m.", utc(2023, 12, 31, 0, 5)),
        (
            "[31/12/2023, 2:14:40 a.m.] Ann: hola",
            "31/12/2023, 2:14:40 a.m.",
            utc(2023, 12, 31, 2, 14, 40),
        ),
        ("31/12/2023, 1:58 pm - Ann: hola", "31/12/2023, 1:58 pm", utc(2023, 12, 31, 13, 58)),
        ("31.12.23, 21:05 - Ann: hallo", "31.12.23, 21:05", utc(2023, 12, 31, 21, 5)),
        ("[31.12.23, 21:05:07] Ann: hallo", "31.12.23, 21:05:07", utc(2023, 12, 31, 21, 5, 7)),
        ("31-12-2023, 21:05 - Ann: hoi", "31-12-2023, 21:05", utc(2023, 12, 31, 21, 5)),
        (
            "[31.12.2023 klo 21.05.07] Ann: moi",
            "31.12.2023 klo 21.05.07",
            utc(2023, 12, 31, 21, 5, 7),
        ),
        ("31/12/2023 à 21:05 - Ann: salut", "31/12/2023 à 21:05", utc(2023, 12, 31, 21, 5)),
        ("13. 6. 2018. 21:25 - Ana: bok", "13. 6. 2018. 21:25", utc(2018, 6, 13, 20, 25)),
        ("[13. 6. 2018. 21:25:15] Ana: bok", "13. 6. 2018. 21:25:15", utc(2018, 6, 13, 20, 25, 15)),
        ("2023-12-31 21:05 - Ann: hi", "2023-12-31 21:05", utc(2023, 12, 31, 21, 5)),
        ("2023/12/31, 21:05 - Ann: hi", "2023/12/31, 21:05", utc(2023, 12, 31, 21, 5)),
        ("[2023/5/4, 16:17:13] ~ Carolina: hi", "2023/5/4, 16:17:13", utc(2023, 5, 4, 15, 17, 13)),
        ("13.06.18 21.25.15: Laura: testi", "13.06.18 21.25.15", utc(2018, 6, 13, 20, 25, 15)),
    ],
)
def test_timestamp_variants(tmp_path: Path, line: str, local: str, expected: datetime) -> None:
    items, warnings = parse_text(tmp_path, line + "\n")
    assert warnings == []
    assert len(items) == 1
    assert items[0].local_time == local
    assert items[0].sent_at == expected
    assert items[0].sent_at is not None and items[0].sent_at.tzinfo is UTC


# --- the day/month order ------------------------------------------------------------------------

AMBIGUOUS = "03/04/24, 09:15 - Sam: are you home?\n05/06/24, 10:00 - Sam: answer me\n"


def test_ambiguous_dates_are_read_day_first_in_gb_with_a_warning(tmp_path: Path) -> None:
    items, warnings = parse_text(tmp_path, AMBIGUOUS)
    assert [w.code for w in warnings] == ["ambiguous_date_order"]
    assert "day first" in warnings[0].message
    assert [i.sent_at for i in items] == [utc(2024, 4, 3, 8, 15), utc(2024, 6, 5, 9, 0)]


def test_ambiguous_dates_follow_the_region(tmp_path: Path) -> None:
    items, warnings = parse_text(tmp_path, AMBIGUOUS, region="US", timezone="UTC")
    assert [w.code for w in warnings] == ["ambiguous_date_order"]
    assert "month first" in warnings[0].message
    assert [i.sent_at for i in items] == [utc(2024, 3, 4, 9, 15), utc(2024, 5, 6, 10, 0)]


def test_the_context_overrides_inference(tmp_path: Path) -> None:
    items, warnings = parse_text(tmp_path, AMBIGUOUS, day_first=False, timezone="UTC")
    assert warnings == []
    assert [i.sent_at for i in items] == [utc(2024, 3, 4, 9, 15), utc(2024, 5, 6, 10, 0)]
    # a date that can only be day first, read month first as told: kept without a time
    text = AMBIGUOUS + "25/06/24, 10:00 - Sam: hello?\n"
    items, warnings = parse_text(tmp_path, text, day_first=False, timezone="UTC")
    assert [w.code for w in warnings] == ["date_order_conflict", "bad_date"]
    assert warnings[1].line == 3
    assert items[2].sent_at is None and items[2].local_time == "25/06/24, 10:00"
    assert items[2].body == "hello?"


def test_one_unambiguous_date_anywhere_decides_for_the_whole_file(tmp_path: Path) -> None:
    text = AMBIGUOUS * 50 + "13/06/24, 10:00 - Sam: ok\n"
    items, warnings = parse_text(tmp_path, text, region="US", timezone="UTC")
    assert warnings == []
    assert items[0].sent_at == utc(2024, 4, 3, 9, 15)
    text = AMBIGUOUS * 50 + "06/13/24, 10:00 - Sam: ok\n"
    items, warnings = parse_text(tmp_path, text, timezone="UTC")
    assert warnings == []
    assert items[0].sent_at == utc(2024, 3, 4, 9, 15)


@pytest.mark.parametrize(
    "dates", [("02/01/24", "01/02/24", "03/02/24"), ("01/02/24", "02/01/24", "02/03/24")]
)
def test_chronological_order_decides_when_no_field_is_over_12(
    tmp_path: Path, dates: tuple[str, ...]
) -> None:
    # read one way these dates go forwards, read the other way they go back and forth
    text = "".join(f"{d}, 10:00 - Sam: hi\n" for d in dates)
    items, warnings = parse_text(tmp_path, text, timezone="UTC")
    assert warnings == []
    assert [i.sent_at for i in items] == [
        utc(2024, 1, 2, 10),
        utc(2024, 2, 1, 10),
        utc(2024, 2, 3, 10),
    ]


def test_dates_with_equal_fields_are_not_ambiguous(tmp_path: Path) -> None:
    items, warnings = parse_text(tmp_path, "1/1/21, 12:00 - A: Hi\n1/1/21, 12:01 - B: Yo\n")
    assert warnings == []
    assert len(items) == 2


# --- bodies, authors, system lines ------------------------------------------------------------


def test_continuation_lines_that_look_like_dates(tmp_path: Path) -> None:
    text = (
        "14/01/2024, 08:59 - Sam: I know where you were\n"
        "2016-04-29 10:30:00\n"
        "14/01/2024, 09:00 - this is when you left\n"
        "[14/01/2024] not a header either\n"
        "14/01/2024, 09:05 - Sam: answer me\n"
    )
    items, warnings = parse_text(tmp_path, text, timezone="UTC")
    assert [brief(i) for i in items] == [
        (
            "message",
            ("Sam", "name"),
            utc(2024, 1, 14, 8, 59),
            "14/01/2024, 08:59",
            "I know where you were\n2016-04-29 10:30:00\n14/01/2024, 09:00 - this is when you "
            "left\n[14/01/2024] not a header either",
        ),
        ("message", ("Sam", "name"), utc(2024, 1, 14, 9, 5), "14/01/2024, 09:05", "answer me"),
    ]
    assert [(w.code, w.line) for w in warnings] == [("header_like_continuation", 3)]
    assert items[1].line == 5


def test_system_lines_are_not_swallowed(tmp_path: Path) -> None:
    text = (
        "14/01/2024, 09:00 - Ann: hello\n"
        "14/01/2024, 09:01 - Ann added Bob\n"
        "14/01/2024, 09:02 - Bob left\n"
        "14/01/2024, 09:03 - +44 7700 900123 joined using this group's invite link\n"
        "14/01/2024, 09:04 - Bob: hi\n"
        "14/01/2024, 09:05 - You removed Bob\n"
    )
    items, warnings = parse_text(tmp_path, text, timezone="UTC")
    assert warnings == []
    assert [(i.kind, i.sender.raw if i.sender else None, i.body) for i in items] == [
        ("message", "Ann", "hello"),
        ("system", None, "Ann added Bob"),
        ("system", None, "Bob left"),
        ("system", None, "+44 7700 900123 joined using this group's invite link"),
        ("message", "Bob", "hi"),
        ("system", None, "You removed Bob"),
    ]


def test_authors_with_colons_and_bodies_with_colons(tmp_path: Path) -> None:
    text = (
        "14/01/2024, 09:00 - Dr. Lee: Clinic: Room 2: bring ID\n"
        "14/01/2024, 09:01 - Dr. Lee: ok\n"
        "14/01/2024, 09:02 - Team: Alpha: hello\n"
        "14/01/2024, 09:03 - Team: Alpha: note: 5pm\n"
        "14/01/2024, 09:04 - John Doe:.\n"
        "14/01/2024, 09:05 - John Doe: Lorem ipsum : dolor\n"
        "14/01/2024, 09:06 - Dr:Who: hi\n"
    )
    items, warnings = parse_text(tmp_path, text, timezone="UTC")
    assert warnings == []
    assert [(i.sender.raw if i.sender else None, i.body) for i in items] == [
        ("Dr. Lee", "Clinic: Room 2: bring ID"),
        ("Dr. Lee", "ok"),
        ("Team: Alpha", "hello"),
        ("Team: Alpha", "note: 5pm"),
        ("John Doe", "."),
        ("John Doe", "Lorem ipsum : dolor"),
        ("Dr:Who", "hi"),
    ]
    assert items[2].raw == {"header": "14/01/2024, 09:02 - Team: Alpha:", "author": "Team: Alpha"}


def test_ios_system_notice_with_an_author_is_a_system_item(tmp_path: Path) -> None:
    text = (
        f"[01/02/2024, 10:00:00] Family: {LRM}Messages and calls are end-to-end encrypted. No "
        "one outside of this chat, not even WhatsApp, can read or listen to them.\n"
        f"[01/02/2024, 10:00:05] Amazon EG: {LRM}This business uses a secure service from Meta "
        "to manage this chat. Tap to learn more.\n"
        "[13/02/2024, 10:01:00] Mum: Messages and calls are fine here\n"
        f"[13/02/2024, 10:02:00] Sam: {LRM}Missed voice call\n"
        "[13/02/2024, 10:02:30] Amazon EG:\n"
    )
    items, warnings = parse_text(tmp_path, text, "_chat.txt", timezone="UTC")
    assert warnings == []
    assert [(i.kind, i.sender.raw if i.sender else None, i.call_type) for i in items] == [
        ("system", None, None),
        ("system", None, None),
        ("message", "Mum", None),
        ("call", "Sam", "missed"),
        ("message", "Amazon EG", None),
    ]
    assert items[0].raw["author"] == "Family"
    assert (items[0].body or "").startswith(LRM + "Messages and calls")
    assert items[4].body == ""


def test_invisible_characters_are_kept_in_the_body_and_dropped_in_match_body(
    tmp_path: Path,
) -> None:
    family = "👨\u200d👩\u200d👧"
    text = f"[01/02/2024, 10:00:00] Sam: {LRM}see {family}\u200c{NBSP}x{LRM}\u200f\n"
    items, _ = parse_text(tmp_path, text, "_chat.txt", timezone="UTC")
    assert items[0].body == f"{LRM}see {family}\u200c{NBSP}x{LRM}\u200f"
    assert items[0].match_body == f"see {family}\u200c{NBSP}x"


def test_windows_line_ends_are_kept_between_lines_only(tmp_path: Path) -> None:
    text = "14/01/2024, 09:00 - Sam: one\r\ntwo\r\n14/01/2024, 09:01 - Sam: three\r\n"
    items, _ = parse_text(tmp_path, text, timezone="UTC")
    assert [i.body for i in items] == ["one\r\ntwo", "three"]
    assert [i.match_body for i in items] == ["one\ntwo", "three"]
    assert items[1].raw["header"] == "14/01/2024, 09:01 - Sam:"


def test_byte_order_mark_and_text_before_the_first_message(tmp_path: Path) -> None:
    items, warnings = parse_text(tmp_path, "\ufeff14/01/2024, 09:00 - Sam: hi\n", timezone="UTC")
    assert len(items) == 1 and warnings == []
    items, warnings = parse_text(
        tmp_path, "chat exported by me\n\n14/01/2024, 09:00 - Sam: hi\n", timezone="UTC"
    )
    assert [i.line for i in items] == [3]
    assert [(w.code, w.line) for w in warnings] == [("text_before_first_message", 1)]


# --- media and deleted markers ------------------------------------------------------------------

LANGUAGES = ["en", "de", "fr", "es", "it", "pt", "nl"]
ANDROID_OMITTED = dict(
    zip(
        LANGUAGES,
        [
            "<Media omitted>",
            "<Medien ausgeschlossen>",
            "<Médias omis>",
            "<Multimedia omitido>",
            "<Media omessi>",
            "<Mídia oculta>",
            "<Media weggelaten>",
        ],
        strict=True,
    )
)
ANDROID_ATTACHED = dict(
    zip(
        LANGUAGES,
        [
            "file attached",
            "Datei angehängt",
            "fichier joint",
            "archivo adjunto",
            "file allegato",
            "arquivo anexado",
            "bestand bijgevoegd",
        ],
        strict=True,
    )
)
IOS_ATTACHED = dict(
    zip(
        LANGUAGES,
        [
            "attached: {}",
            "Anhang: {}",
            "pièce jointe : {}",
            "adjunto: {}",
            "allegato: {}",
            "anexo: {}",
            "bijlage: {}",
        ],
        strict=True,
    )
)
IOS_OMITTED = dict(
    zip(
        LANGUAGES,
        [
            "image omitted",
            "Bild weggelassen",
            "image absente",
            "imagen omitida",
            "immagine omessa",
            "imagem ocultada",
            "afbeelding weggelaten",
        ],
        strict=True,
    )
)
DELETED = dict(
    zip(
        LANGUAGES,
        [
            ("This message was deleted", "You deleted this message"),
            ("Diese Nachricht wurde gelöscht", "Du hast diese Nachricht gelöscht"),
            ("Ce message a été supprimé", "Vous avez supprimé ce message"),
            ("Se eliminó este mensaje", "Eliminaste este mensaje"),
            ("Questo messaggio è stato eliminato", "Hai eliminato questo messaggio"),
            ("Esta mensagem foi apagada", "Você apagou esta mensagem"),
            ("Dit bericht is verwijderd", "Je hebt dit bericht verwijderd"),
        ],
        strict=True,
    )
)


@pytest.mark.parametrize("lang", LANGUAGES)
def test_media_placeholders_and_deleted_markers(tmp_path: Path, lang: str) -> None:
    photo = "IMG-20240101-WA0001.jpg"
    ios_photo = "00000003-PHOTO-2024-02-01-09-12-44.jpg"
    android = (
        f"01/01/2024, 10:00 - Sam: {ANDROID_OMITTED[lang]}\n"
        f"01/01/2024, 10:01 - Sam: {photo} ({ANDROID_ATTACHED[lang]})\n"
        "caption on the next line\n"
        f"01/01/2024, 10:02 - Sam: {DELETED[lang][0]}\n"
        f"01/01/2024, 10:03 - Sam: {DELETED[lang][1]}\n"
        f"01/01/2024, 10:04 - Sam: {DELETED[lang][0]} but with more words\n"
    )
    items, warnings = parse_text(tmp_path, android, timezone="UTC")
    assert warnings == []
    omitted, attached, deleted, you_deleted, not_deleted = items
    assert omitted.attachments == (Attachment("", None, None, whatsapp.NOTE_EXPORTED_WITHOUT),)
    assert omitted.body == ANDROID_OMITTED[lang] and omitted.match_body == "<media>"
    assert attached.attachments == (Attachment(photo, "image/jpeg", None, whatsapp.NOTE_TEXT_ONLY),)
    assert attached.match_body == "<media>\ncaption on the next line"
    assert attached.body == f"{photo} ({ANDROID_ATTACHED[lang]})\ncaption on the next line"
    assert (deleted.deleted, you_deleted.deleted, not_deleted.deleted) == (True, True, False)
    assert deleted.body == DELETED[lang][0]

    ios = (
        f"[01/01/2024, 10:00:00] Sam: {LRM}{IOS_OMITTED[lang]}\n"
        f"[01/01/2024, 10:00:01] Sam: look {LRM}<{IOS_ATTACHED[lang].format(ios_photo)}>\n"
        f"[01/01/2024, 10:00:02] Sam: {LRM}{DELETED[lang][0]}.\n"
    )
    items, warnings = parse_text(tmp_path, ios, "_chat.txt", timezone="UTC")
    assert warnings == []
    omitted, attached, deleted = items
    assert omitted.attachments == (Attachment("", None, None, whatsapp.NOTE_EXPORTED_WITHOUT),)
    assert omitted.match_body == "<media>"
    assert attached.attachments == (
        Attachment(ios_photo, "image/jpeg", None, whatsapp.NOTE_TEXT_ONLY),
    )
    assert attached.match_body == "<media>\nlook"
    assert deleted.deleted and deleted.body == f"{LRM}{DELETED[lang][0]}."


def test_with_and_without_media_exports_match(tmp_path: Path) -> None:
    with_media, _ = parse_text(
        tmp_path,
        "01/01/2024, 10:01 - Sam: IMG-20240101-WA0001.jpg (file attached)\nsee this\n",
        timezone="UTC",
    )
    without, _ = parse_text(
        tmp_path, "01/01/2024, 10:01 - Sam: <Media omitted>\nsee this\n", timezone="UTC"
    )
    assert with_media[0].match_body == without[0].match_body == "<media>\nsee this"
    ios_with, _ = parse_text(
        tmp_path, f"[01/01/2024, 10:01:00] Sam: {LRM}<attached: 0001-PHOTO.jpg>\n", "_chat.txt"
    )
    ios_without, _ = parse_text(tmp_path, f"[01/01/2024, 10:01:00] Sam: {LRM}image omitted\n")
    assert ios_with[0].match_body == ios_without[0].match_body == "<media>"


def test_ios_document_omitted_keeps_its_name(tmp_path: Path) -> None:
    text = f"[01/01/2024, 10:00:00] Sam: {LRM}Report.pdf • {LRM}3 pages {LRM}document omitted\n"
    items, _ = parse_text(tmp_path, text, "_chat.txt", timezone="UTC")
    assert items[0].attachments == (
        Attachment("Report.pdf", None, None, whatsapp.NOTE_EXPORTED_WITHOUT),
    )


# --- zips ---------------------------------------------------------------------------------------


def test_ios_zip_with_media_present_and_missing(tmp_path: Path) -> None:
    photo_name = "00000001-PHOTO-2024-01-01-10-00-00.jpg"
    chat = (
        f"[01/01/2024, 10:00:00] Sam: look {LRM}<attached: {photo_name}>\n"
        f"[01/01/2024, 10:00:01] Sam: {LRM}<attached: 00000002-AUDIO-2024-01-01-10-00-01.opus>\n"
        f"[01/01/2024, 10:00:02] Sam: {LRM}<attached: 00000003-Contract.pdf>\n"
    )
    pdf_bytes = b"%PDF-1.4\n" + b"x" * (3 << 20)
    path = make_zip(
        tmp_path / "WhatsApp Chat - Sam.zip",
        {"_chat.txt": chat.encode(), photo_name: JPEG, "00000003-Contract.pdf": pdf_bytes},
    )
    sizes: list[int] = []
    for x in WhatsApp().parse(Source(path), Context(name=path.name, timezone="UTC")):
        assert isinstance(x, Item)
        for a in x.attachments:
            if a.chunks is not None:  # valid until the next item is asked for
                sizes.extend(len(c) for c in a.chunks())
    assert max(sizes) <= 1 << 20 and len(sizes) >= 4
    media: dict[str, bytes] = {}
    items, warnings = run(path, media=media, timezone="UTC")
    assert warnings == []
    photo, audio, pdf = (i.attachments[0] for i in items)
    assert (photo.name, photo.media_type, photo.note) == (photo_name, "image/jpeg", None)
    assert audio == Attachment(
        "00000002-AUDIO-2024-01-01-10-00-01.opus", "audio/ogg", None, "not included in the export"
    )
    assert pdf.media_type == "application/pdf"
    assert media == {photo_name: JPEG, "00000003-Contract.pdf": pdf_bytes}
    assert [i.match_body for i in items] == ["<media>\nlook", "<media>", "<media>"]


def test_android_zip_with_windows_line_ends_and_a_folder(tmp_path: Path) -> None:
    chat = "01/01/2024, 10:00 - Sam: IMG-20240101-WA0001.jpg (file attached)\r\nhi\r\n"
    path = make_zip(
        tmp_path / "WhatsApp Chat with Sam.zip",
        {
            "WhatsApp Chat with Sam/WhatsApp Chat with Sam.txt": chat.encode(),
            "WhatsApp Chat with Sam/IMG-20240101-WA0001.jpg": JPEG,
            "__MACOSX/._IMG-20240101-WA0001.jpg": b"junk",
        },
    )
    media: dict[str, bytes] = {}
    items, _ = run(path, media=media, timezone="UTC")
    assert items[0].body == "IMG-20240101-WA0001.jpg (file attached)\r\nhi"
    assert media == {"IMG-20240101-WA0001.jpg": JPEG}


def test_zip_without_a_chat(tmp_path: Path) -> None:
    path = make_zip(tmp_path / "photos.zip", {"a.jpg": JPEG})
    with pytest.raises(ImportFormatError) as e:
        run(path)
    assert e.value.location is not None and e.value.location.file == "photos.zip"


def test_truncated_zip(tmp_path: Path) -> None:
    whole = make_zip(tmp_path / "whole.zip", {"_chat.txt": b"01/01/2024, 10:00 - Sam: hi\n" * 999})
    cut = tmp_path / "cut.zip"
    cut.write_bytes(whole.read_bytes()[: whole.stat().st_size // 2])
    with pytest.raises(ImportFormatError) as e:
        run(cut)
    assert e.value.location is not None and e.value.location.file == "cut.zip"
    assert e.value.hint and e.value.cause
    named = tmp_path / "WhatsApp Chat - Sam.zip"
    named.write_bytes(cut.read_bytes())
    assert WhatsApp().score(Probe.of(Source(named), named.name)) >= 0.5


def test_zip_bomb_is_refused_before_reading(tmp_path: Path) -> None:
    path = tmp_path / "WhatsApp Chat - bomb.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as zf:
        zf.writestr("_chat.txt", "01/01/2024, 10:00 - Sam: hi\n")
        with zf.open("00000001-PHOTO.jpg", "w", force_zip64=True) as member:
            zeros = bytes(1 << 20)
            for _ in range(101):
                member.write(zeros)
    assert path.stat().st_size < 1 << 20  # small on disk, 101 MiB inside
    with pytest.raises(ImportTooLarge) as e:
        run(path)
    assert e.value.location is not None and e.value.location.file == "WhatsApp Chat - bomb.zip"
    assert "00000001-PHOTO.jpg" in (e.value.cause or "")
    assert e.value.hint


def test_zip_over_the_total_limit_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(whatsapp, "MAX_ZIP_TOTAL", 1000)
    path = make_zip(tmp_path / "big.zip", {"_chat.txt": b"01/01/2024, 10:00 - Sam: hi\n" * 50})
    with pytest.raises(ImportTooLarge) as e:
        run(path)
    assert e.value.location is not None and e.value.location.file == "big.zip"


# --- clock changes ------------------------------------------------------------------------------


def test_clock_changes_in_london(tmp_path: Path) -> None:
    text = (
        "31/03/2024, 00:59 - Sam: before the gap\n"
        "31/03/2024, 01:30 - Sam: in the gap\n"
        "31/03/2024, 02:30 - Sam: after the gap\n"
        "27/10/2024, 00:30 - Sam: before the repeat\n"
        "27/10/2024, 01:30 - Sam: in the repeated hour\n"
        "27/10/2024, 02:30 - Sam: after it\n"
    )
    items, warnings = parse_text(tmp_path, text, timezone="Europe/London")
    assert warnings == []
    assert [(i.sent_at, i.time_note) for i in items] == [
        (utc(2024, 3, 31, 0, 59), None),
        (utc(2024, 3, 31, 1, 30), "nonexistent"),  # read as 02:30 BST
        (utc(2024, 3, 31, 1, 30), None),
        (utc(2024, 10, 26, 23, 30), None),
        (utc(2024, 10, 27, 0, 30), "ambiguous"),  # the first 01:30 (BST)
        (utc(2024, 10, 27, 2, 30), None),
    ]


def test_zones_with_half_hour_offsets(tmp_path: Path) -> None:
    items, _ = parse_text(tmp_path, "31/12/2023, 00:10 - Sam: hi\n", timezone="Asia/Kolkata")
    assert items[0].sent_at == utc(2023, 12, 30, 18, 40)


# --- the shared samples ---------------------------------------------------------------------------

# Expected counts, established without this importer: header lines were counted with
#   grep -cP '^\x{200E}?\[?[0-9]{1,4}([./-]|\. )[0-9]{1,2}([./-]|\. )[0-9]{2,4}' FILE
# (for the zips, on `unzip -p FILE '*.txt'`), and senders with a one-line Perl script that cuts
# each such line after "] ", " - " or the time's ": " and takes the text up to the first ": "
# (or a final ":"). Lines with no such text are system lines. Then, reading the files by hand,
# authored lines that are WhatsApp notices were moved to "system": "Pokemon Chat: Messages and
# calls are end-to-end encrypted…", "Alice: Messages and calls are end-to-end encrypted…" and
# "Amazon EG: ‎This business uses a secure service from Meta…". The German, Spanish and French
# fixtures' "System:"/"Sistema:"/"Système:" lines are written as authored lines, so they count
# as authors here (real Android system lines have no author).
SAMPLE_COUNTS: dict[str, tuple[int, dict[str, int], int]] = {
    "android_dd-mm-yyyy_dash__whatsreader.txt": (5, {"Alice": 3, "Bob": 2}, 0),
    "android_dd.mm.yyyy_24h__whatstk_pokemon.txt": (
        20,
        {
            "Misty": 4,
            "Ash Ketchum": 4,
            "Brock": 3,
            "Raichu": 2,
            "Prof. Oak": 2,
            "Wobbuffet": 1,
            "Meowth": 1,
            "Jessie & James": 1,
        },
        2,
    ),
    "android_ddmmyy_24h__chatminer.txt": (
        9,
        {"John Doe": 3, "🤓": 1, "John-John Doe": 1, "John Doe 🤓": 1, "Jahn Doe": 1},
        2,
    ),
    "android_ddmmyyyy_12h_dotted_ampm__whatsreader.txt": (4, {"Luke": 2, "Loris": 2}, 0),
    "android_de_ddmmyyyy_dots__whatsreader.txt": (
        6,
        {"Jane Smith": 3, "John Doe": 2, "System": 1},
        0,
    ),
    "android_dmyy_24h_group__chatanalytics.txt": (
        14,
        {"Alice": 3, "Trent": 2, "Mallory": 2, "Eve": 2, "Bob": 2},
        3,
    ),
    "android_enGB_ddmmyyyy_24h_2017__rwhatsapp.txt": (9, {"Johannes Gruber": 6, "Test": 1}, 2),
    "android_es_ddmmyyyy__whatsreader.txt": (
        6,
        {"María García": 3, "Juan Pérez": 2, "Sistema": 1},
        0,
    ),
    "android_fr_ddmmyyyy__whatsreader.txt": (
        6,
        {"Sophie Dubois": 3, "Pierre Martin": 2, "Système": 1},
        0,
    ),
    "android_group_fictional__whatsreader__orig_name_has_ZWJ_emoji.txt": (
        50,
        {"Sarah": 11, "Mom": 11, "Mike": 10, "Dad": 10},
        8,
    ),
    "android_ja_yyyymmdd__whatsreader.txt": (5, {"山田太郎": 3, "佐藤花子": 2}, 0),
    "android_mmddyy_24h__chatminer.txt": (
        9,
        {"John Doe": 3, "🤓": 1, "John-John Doe": 1, "John Doe 🤓": 1, "Jahn Doe": 1},
        2,
    ),
    "android_mmddyyyy_12h_es_a_m__chatminer.txt": (
        9,
        {"John Doe": 3, "🤓": 1, "John-John Doe": 1, "John Doe 🤓": 1, "Jahn Doe": 1},
        2,
    ),
    "android_out_of_order__chatanalytics.txt": (5, {"A": 3, "B": 2}, 0),
    "android_yyyymmdd_12h_lower_ampm__whatsreader.txt": (5, {"Alice": 2, "Bob": 2}, 1),
    "android_yyyymmdd_24h__chatminer.txt": (
        9,
        {"John Doe": 3, "🤓": 1, "John-John Doe": 1, "John Doe 🤓": 1, "Jahn Doe": 1},
        2,
    ),
    "bracket_dd-mm-yy_seconds__whatstk_lorem.txt": (
        500,
        {"+1 123 456 789": 145, "John": 124, "Giuseppe": 118, "Mary": 113},
        0,
    ),
    "fi_klo_dot_time__whatsreader.txt": (3, {"Mika": 2, "Laura": 1}, 0),
    "ios_bracket_mmddyy_24h__chatminer.txt": (
        9,
        {"John Doe": 3, "🤓": 1, "John-John Doe": 1, "John Doe 🤓": 1, "Jahn Doe": 1},
        2,
    ),
    "ios_bracket_yyyymmdd__whatsreader.txt": (3, {"Ana": 2, "Bruno": 1}, 0),
    "ios_ddmmyyyy_12h_nnbsp_arabic__whatsreader.txt": (5, {"Amazon EG": 4}, 1),
    "ios_group_fictional__whatsreader__chat.txt": (
        39,
        {"Mom": 10, "Sarah": 8, "Dad": 8, "Jake": 7},
        6,
    ),
    "android_enGB_2017__rwhatsapp.zip": (9, {"Johannes Gruber": 6, "Test": 1}, 2),
    "android_group__chatanalytics.zip": (
        14,
        {"Alice": 3, "Trent": 2, "Mallory": 2, "Eve": 2, "Bob": 2},
        3,
    ),
}


@needs_samples
def test_every_sample_is_in_the_table() -> None:
    present = {p.name for p in SAMPLES.iterdir() if p.suffix in (".txt", ".zip")}
    assert present == set(SAMPLE_COUNTS)


@needs_samples
@pytest.mark.parametrize("name", sorted(SAMPLE_COUNTS))
def test_shared_sample(name: str) -> None:
    total, senders, systems = SAMPLE_COUNTS[name]
    items, warnings = run(SAMPLES / name)
    assert len(items) == total
    assert Counter(i.sender.raw for i in items if i.sender) == Counter(senders)
    assert sum(i.kind == "system" for i in items) == systems
    assert all(i.sent_at is not None and i.sent_at.tzinfo is UTC for i in items)
    assert {w.code for w in warnings} <= {"ambiguous_date_order"}
    assert WhatsApp().score(Probe.of(Source(SAMPLES / name), name)) >= 0.5


@needs_samples
def test_samples_details() -> None:
    items, _ = run(SAMPLES / "android_mmddyy_24h__chatminer.txt")
    assert items[1].sent_at == utc(2019, 1, 20, 11, 23)  # month first, from "01/20/19"
    items, _ = run(SAMPLES / "android_enGB_ddmmyyyy_24h_2017__rwhatsapp.txt")
    zipped, _ = run(SAMPLES / "android_enGB_2017__rwhatsapp.zip")
    assert [brief(i) for i in items] == [brief(i) for i in zipped]
    assert items[4].body == "It's fun doing text analysis with R\nisn't it?"
    arabic, _ = run(SAMPLES / "ios_ddmmyyyy_12h_nnbsp_arabic__whatsreader.txt")
    assert (arabic[2].body or "").count("\n") == 5 and arabic[2].line == 3
    assert arabic[3].line == 9


@needs_samples
def test_sms_backup_is_not_claimed() -> None:
    for path in (SHARED / "samples" / "sms_backup_restore").glob("*.xml"):
        assert WhatsApp().score(Probe.of(Source(path), path.name)) == 0.0
        with pytest.raises(ImportFormatError):
            run(path)


# --- generated chats round-trip --------------------------------------------------------------


def _android_dmy(t: datetime) -> str:
    return f"{t:%d/%m/%Y, %H:%M} - "


def _android_us_12h(t: datetime) -> str:
    hour = t.hour % 12 or 12
    return f"{t.month}/{t.day}/{t:%y}, {hour}:{t:%M}{NNBSP}{'AM' if t.hour < 12 else 'PM'} - "


def _ios_de(t: datetime) -> str:
    return f"[{t:%d.%m.%y, %H:%M:%S}] "


def _ios_year_first_12h(t: datetime) -> str:
    hour = t.hour % 12 or 12
    return f"[{t.year}/{t.month}/{t.day}, {hour}:{t:%M:%S} {'a.m.' if t.hour < 12 else 'p.m.'}] "


# (render, day_first, with seconds)
LAYOUTS = [
    (_android_dmy, True, False),
    (_android_us_12h, False, False),
    (_ios_de, True, True),
    (_ios_year_first_12h, None, True),
]
NAME_CHARS = st.characters(
    codec="utf-8", categories=("L", "M", "N", "Zs", "So", "Pd"), exclude_characters="\n\r:"
)
BODY_CHARS = st.characters(codec="utf-8", exclude_categories=("Cc", "Cs"))
NOTICES = whatsapp.SYSTEM_NOTICES + whatsapp.MISSED_CALLS
SYSTEM_LINES = [
    'You created group "Tes"',
    "Messages and calls are end-to-end encrypted. No one outside of this chat can read them.",
    "You were added",
]


@st.composite
def chats(draw: st.DrawFn) -> tuple[int, list[tuple[datetime, str | None, str]]]:
    layout = draw(st.integers(0, len(LAYOUTS) - 1))
    # names: not WhatsApp's own system phrases (a "name" like "se unió" marks a system line)
    base = (
        st.text(NAME_CHARS, min_size=1, max_size=12)
        .map(str.strip)
        .filter(lambda n: bool(n) and not whatsapp._system_words(n))
    )
    plain = draw(st.lists(base, min_size=1, max_size=3, unique=True))
    plain = [n for n in plain if n[0] not in "~+" and n.split(" ")[0] not in ("You", "Du", "Je")]
    colon = draw(st.lists(st.tuples(base, base), max_size=2))
    colon_names = [f"{a}: {b}" for a, b in colon if a not in plain]
    colon_names = [n for n in dict.fromkeys(colon_names) if n.split(": ")[0] not in plain]
    heads = {n.split(": ")[0] for n in colon_names}
    colon_names = [
        n
        for n in colon_names
        if sum(m.startswith(n.split(": ")[0] + ": ") for m in colon_names) == 1
        and n.split(": ")[0] in heads
    ]
    names = plain + colon_names
    if not names:
        names = ["Ann"]
    line = st.text(BODY_CHARS, max_size=30).filter(
        lambda s: not s.strip() or s.strip()[0] not in "0123456789[\u200e\u200f"
    )
    # a body that is one of WhatsApp's own notices is a system item or a call, not a message
    first_line = line.filter(lambda s: not s.lstrip(whatsapp.MARKS).startswith(NOTICES))
    events: list[tuple[datetime, str | None, str]] = []
    seconds = LAYOUTS[layout][2]
    moments = st.datetimes(datetime(2001, 1, 1), datetime(2098, 12, 31)).map(
        lambda t: t.replace(microsecond=0, second=t.second if seconds else 0)
    )
    for name in names:
        # every author's first message has no ": ", and names with ": " write twice
        events.append((draw(moments), name, draw(first_line).replace(":", ";")))
        if ": " in name:
            events.append((draw(moments), name, draw(first_line)))
    for _ in range(draw(st.integers(0, 12))):
        if draw(st.booleans()) and draw(st.booleans()):
            events.append((draw(moments), None, draw(st.sampled_from(SYSTEM_LINES))))
            continue
        lines = [draw(first_line), *draw(st.lists(line, max_size=3))]
        if draw(st.booleans()):
            lines.insert(1, "2016-04-29 10:30:00")
        events.append((draw(moments), draw(st.sampled_from(names)), "\n".join(lines)))
    order = draw(st.permutations(range(len(events))))
    return layout, [events[i] for i in order]


@given(chats(), st.sampled_from([23, 97, 1 << 20]), st.booleans())
@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
def test_generated_chats_round_trip(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    chat: tuple[int, list[tuple[datetime, str | None, str]]],
    block: int,
    crlf: bool,
) -> None:
    """Render generated messages as an export, parse it (also in small read blocks, so that
    messages straddle them, and with Windows line ends), and get the same messages back."""
    monkeypatch.setattr(whatsapp, "BLOCK", block)
    layout, events = chat
    render, day_first, _ = LAYOUTS[layout]
    newline = "\r\n" if crlf else "\n"
    text = "".join(
        render(t) + (f"{who}: {body}" if who is not None else body).replace("\n", newline) + newline
        for t, who, body in events
    )
    items, warnings = parse_text(tmp_path, text, timezone="UTC", day_first=day_first)
    assert [w.code for w in warnings] == []
    got = [
        (i.sent_at, i.sender.raw if i.sender else None, i.body, i.kind != "message") for i in items
    ]
    want = [
        (t.replace(tzinfo=UTC), who, body.replace("\n", newline), who is None)
        for t, who, body in events
    ]
    assert got == want
    assert [i.local_time for i in items] == [render(t).strip("[] -") for t, _, _ in events]
    for i in items:  # plain text: match_body is the body with plain line ends
        if i.body is not None and i.body.isascii() and not i.attachments:
            assert i.match_body == i.body.replace("\r\n", "\n")


# --- score ------------------------------------------------------------------------------------


def probe(tmp_path: Path, data: bytes, name: str) -> float:
    path = tmp_path / name
    path.write_bytes(data)
    return WhatsApp().score(Probe.of(Source(path), name))


def test_score(tmp_path: Path) -> None:
    chat = b"12/07/2017, 22:35 - Sam: hi\n13/07/2017, 09:12 - Sam: there\n"
    assert probe(tmp_path, chat, "WhatsApp Chat with Sam.txt") >= 0.9
    assert probe(tmp_path, b"[31/12/2023, 9:05:07 PM] Ann: hi\n", "_chat.txt") >= 0.9
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("_chat.txt", chat)
    assert probe(tmp_path, buf.getvalue(), "WhatsApp Chat - Sam.zip") >= 0.9
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("photo.jpg", JPEG)
    assert probe(tmp_path, buf.getvalue(), "photos.zip") == 0.0
    sms = b"<?xml version='1.0' encoding='UTF-8' standalone='yes' ?>\n<smses count=\"1\">\n"
    assert probe(tmp_path, sms, "sms-20240101.xml") == 0.0
    assert probe(tmp_path, b"Dear diary,\ntoday was fine.\n", "notes.txt") == 0.0
    signal = b"[2019-12-24, 12:23] Jane Doe: Hello John!\n[2020-01-17, 21:49] John: Hi\n"
    assert 0 < probe(tmp_path, signal, "signal.txt") <= 0.5


# --- damaged and hostile input ------------------------------------------------------------------


def test_empty_file(tmp_path: Path) -> None:
    with pytest.raises(ImportFormatError) as e:
        parse_text(tmp_path, b"", "empty.txt")
    assert e.value.location is not None and e.value.location.file == "empty.txt"
    assert e.value.hint


@pytest.mark.parametrize(
    "data",
    [
        os.urandom(5000) + b"\x00",
        b"Dear diary,\n2024 was long.\n",
        b"\xff\xfe" + "14/01/2024, 09:00 - Sam: hi\n".encode("utf-16-le"),
        "14/01/2024, 09:00 - Sam: café\n".encode("cp1252") * 3,
        b"<?xml version='1.0' encoding='UTF-8' standalone='yes' ?>\n<smses count=\"0\"></smses>\n",
    ],
)
def test_not_a_whatsapp_chat(tmp_path: Path, data: bytes) -> None:
    with pytest.raises(ImportFormatError) as e:
        parse_text(tmp_path, data, "chat.txt")
    assert e.value.location is not None and e.value.location.file == "chat.txt"
    assert e.value.cause and e.value.hint


def test_one_undecodable_line_is_kept_with_a_warning(tmp_path: Path) -> None:
    data = (
        b"14/01/2024, 09:00 - Sam: hi\n"
        b"14/01/2024, 09:01 - Sam: caf\xe9\n"
        b"14/01/2024, 09:02 - Sam: ok\n"
        b"14/01/2024, 09:03 - Sam: ok\n"
    )
    items, warnings = parse_text(tmp_path, data, timezone="UTC")
    assert [i.body for i in items] == ["hi", "caf\ufffd", "ok", "ok"]
    assert [(w.code, w.line) for w in warnings] == [("unreadable_characters", 2)]


def test_a_line_over_1_mib_is_cut_with_a_warning_in_bounded_memory(tmp_path: Path) -> None:
    path = tmp_path / "chat.txt"
    with path.open("wb") as f:
        f.write(b"14/01/2024, 09:00 - Sam: hi\n14/01/2024, 09:01 - Sam: ")
        block = b"\xc3\xa9" * (1 << 19)  # 1 MiB of "é", so the cut falls between characters
        for _ in range(24):
            f.write(block)
        f.write(b"\nstill the same message\n14/01/2024, 09:02 - Sam: after\n")
    tracemalloc.start()
    try:
        items, warnings = run(path, timezone="UTC")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 12 << 20  # the line is 24 MiB
    assert [(w.code, w.line) for w in warnings] == [("line_too_long", 2)]
    assert [i.line for i in items] == [1, 2, 4]
    long = items[1].body or ""
    assert long.endswith("\nstill the same message")
    assert long.startswith("é" * 1000) and len(long.encode()) <= (1 << 20) + 64
    assert "\ufffd" not in long
    assert items[2].body == "after"


MIXED = (
    "[2018/06/13, 21:25:15] Ana: one\n"
    "continued: 13/06/2018 is a date\n"
    "[2018/06/13 1:55:00 p. m.] Bruno: two\n"
    f"{LRM}[2018/06/13, 01:56:00 AM] Ana: {LRM}<attached: 00000001-PHOTO.jpg>\n"
    "[2018/06/13, 21:26:00] Ana: Diese Nachricht wurde gelöscht\n"
    "[2018/06/13, 21:27:00] Ana: three\n\n\nlast line\n"
)


def _everything(items: list[Item], warnings: list[ImportWarning]) -> list[object]:
    return [
        (
            i.kind,
            i.sender,
            i.sent_at,
            i.local_time,
            i.body,
            i.match_body,
            i.deleted,
            i.attachments,
            i.line,
            i.raw,
            i.time_note,
        )
        for i in items
    ] + [(w.code, w.line) for w in warnings]


@pytest.mark.parametrize("newline", ["\n", "\r\n"])
@pytest.mark.parametrize("block", [7, 40, 64, 101])
def test_small_read_blocks_give_the_same_items(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, newline: str, block: int
) -> None:
    text = (MIXED + AMBIGUOUS.replace("03/04/24, 09:15", "13/06/18, 09:15")).replace("\n", newline)
    whole = _everything(*parse_text(tmp_path, text, "_chat.txt", timezone="UTC"))
    monkeypatch.setattr(whatsapp, "BLOCK", block)
    assert _everything(*parse_text(tmp_path, text, "_chat.txt", timezone="UTC")) == whole
    assert len(whole) == 7
    bodies = [entry[4] for entry in whole]  # type: ignore[index]
    assert bodies[0] == f"one{newline}continued: 13/06/2018 is a date"
    assert bodies[4] == f"three{newline}{newline}{newline}last line"
    assert [entry[6] for entry in whole] == [False, False, False, True, False, False, False]  # type: ignore[index]


@needs_samples
def test_the_narrow_pattern_finds_what_the_general_one_does(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    files = [*sorted(SAMPLES.iterdir()), tmp_path / "mixed.txt"]
    files[-1].write_text(MIXED, encoding="utf-8")
    narrow = [_everything(*run(f)) for f in files]
    general = whatsapp._Shape(whatsapp.HEADER_SPLIT, whatsapp.HEADER_SURVEY)
    monkeypatch.setattr(whatsapp._Shape, "of", classmethod(lambda cls, m: general))
    assert [_everything(*run(f)) for f in files] == narrow


def test_a_runaway_message_is_cut_with_a_warning(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # a text file whose first line happens to look like a WhatsApp message
    text = "14/01/2024, 09:00 - Sam: start\n" + "log line 0123456789\n" * 50
    text += "14/01/2024, 09:05 - Sam: after\n"
    monkeypatch.setattr(whatsapp, "BLOCK", 64)
    monkeypatch.setattr(whatsapp, "MAX_BODY", 200)
    items, warnings = parse_text(tmp_path, text, timezone="UTC")
    assert [(w.code, w.line) for w in warnings] == [("message_too_long", 1)]
    assert [i.line for i in items] == [1, 52]
    body = items[0].body or ""
    assert body.startswith("start\nlog line") and len(body) < 200 + 64
    assert items[1].body == "after"


def test_header_regex_groups_are_in_the_order_the_parser_unpacks() -> None:
    assert tuple(whatsapp.HEADER_SPLIT.groupindex) == whatsapp._SPLIT_FIELDS
    assert whatsapp.HEADER_SPLIT.groups + 1 == whatsapp._STRIDE


# --- the fast paths read what the general ones read ---------------------------------------------


def _all_general(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make pass 2 read every block with the general pattern (TIMED_SPLIT)."""
    survey = whatsapp._survey

    def general(export: Any, name: str) -> Any:
        s = survey(export, name)
        s.narrow = [False] * len(s.narrow)
        return s

    monkeypatch.setattr(whatsapp, "_survey", general)


TRICKY = [
    # Android, with lines in bodies that start like dates or lists, and a bracketed header
    "14/01/2024, 09:00 - Sam: shopping\n1. milk\n2. bread\n3-4 people\n12/3 was fine\n"
    "14/01/2024, 09:01 - Ann: ok\n[14/01/24, 09:02:00] Ann: pasted from an iPhone\n"
    "14/01/2024, 09:03 - Sam:\n14/01/2024, 09:04 - Sam: <Media omitted>\n"
    "14/01/2024, 09:05 - Sam added Bob\n14/01/2024, 09:06 - Bob: Missed voice call\n"
    "14/01/2024, 09:07 - Team: Alpha: hello\n14/01/2024, 09:08 - Team: Alpha: again\n"
    "14/01/2024, 25:00 - Sam: no such hour\n14/01/2024, 09:75 - Sam: no such minute\n",
    # iOS, 12-hour clock with seconds, direction marks, a notice with an author
    f"{LRM}[1/14/24, 9:00:01{NNBSP}AM] Sam: {LRM}image omitted\n"
    f"[1/14/24, 12:00:00{NNBSP}PM] Ann: noon\n[1/14/24, 12:00:00{NNBSP}AM] Ann: midnight\n"
    f"[1/14/24, 1:30:59{NNBSP}pm] Sam: Messages and calls are end-to-end encrypted.\n"
    f"[1/14/24, 11:59:59{NNBSP}PM] Sam: This message was deleted\n"
    f"[1/14/24, 13:00:00{NNBSP}PM] Sam: not a time\n",
    # dotted German layout across the clock change, and a header-like continuation
    "31.03.24, 00:59 - Sam: before\n31.03.24, 01:30 - Sam: in the gap\n"
    "31.03.24, 02:30 - Sam: after\n31.03.24, 02:31 - this is when you left\n"
    "27.10.24, 01:30 - Sam: twice\n",
]


@pytest.mark.parametrize("newline", ["\n", "\r\n"])
@pytest.mark.parametrize("text", TRICKY)
def test_narrow_named_and_general_patterns_read_the_same(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, text: str, newline: str
) -> None:
    text = text.replace("\n", newline)
    context = {"timezone": "Europe/London"}
    fast = _everything(*parse_text(tmp_path, text, "_chat.txt", **context))
    assert len(fast) >= 5
    with monkeypatch.context() as m:
        _all_general(m)
        assert _everything(*parse_text(tmp_path, text, "_chat.txt", **context)) == fast
    with monkeypatch.context() as m:
        general = whatsapp._Shape(whatsapp.HEADER_SPLIT, whatsapp.HEADER_SURVEY)
        m.setattr(whatsapp._Shape, "of", classmethod(lambda cls, _: general))
        assert _everything(*parse_text(tmp_path, text, "_chat.txt", **context)) == fast
    for block in (7, 64, 333):
        with monkeypatch.context() as m:
            m.setattr(whatsapp, "BLOCK", block)
            assert _everything(*parse_text(tmp_path, text, "_chat.txt", **context)) == fast


@given(chats(), st.booleans())
@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
def test_generated_chats_read_the_same_with_the_general_pattern(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    chat: tuple[int, list[tuple[datetime, str | None, str]]],
    crlf: bool,
) -> None:
    layout, events = chat
    render, day_first, _ = LAYOUTS[layout]
    newline = "\r\n" if crlf else "\n"
    text = "".join(
        render(t) + (f"{who}: {body}" if who is not None else body).replace("\n", newline) + newline
        for t, who, body in events
    )
    fast = _everything(*parse_text(tmp_path, text, timezone="UTC", day_first=day_first))
    with monkeypatch.context() as m:
        _all_general(m)
        general = parse_text(tmp_path, text, timezone="UTC", day_first=day_first)
    assert _everything(*general) == fast


def test_dates_are_counted_the_same_whatever_the_read_blocks(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Dates that go back and forth (a pasted header, a merged file) are counted in file order,
    so how the file is read in blocks does not change which order wins, nor the counts."""
    text = "".join(
        f"{d}/{m}/24, 10:{i:02d} - {who}: line {i}\n"
        for i, (d, m, who) in enumerate(
            [
                (13, 1, "Sam"),
                (1, 13, "Ann"),
                (13, 1, "Ann"),
                (2, 13, "Sam"),
                (2, 13, "Ann"),
                (3, 13, "Sam"),
                (13, 1, "Sam"),
                (4, 13, "Ann"),
                (14, 1, "Sam"),
            ]
        )
    )
    results = set()
    for block in (7, 40, 64, 101, 1 << 20):
        monkeypatch.setattr(whatsapp, "BLOCK", block)
        items, warnings = parse_text(tmp_path, text, timezone="UTC")
        results.add(repr(_everything(items, warnings)))
        assert [(w.code, w.line) for w in warnings][:1] == [("mixed_date_order", None)]
        assert "day first (4) and others only month first (4)" in warnings[0].message
    assert len(results) == 1


def test_a_name_met_before_the_general_pattern_takes_over_is_still_known(
    tmp_path: Path,
) -> None:
    """Pass 1 reads a block with the chat's own layout first and learns names as it goes; when
    a line in another layout sends it back to read the block with the general pattern, the
    names it learnt are learnt again there, not skipped over unseen."""
    filler = "".join(
        f"14/01/2024, 10:{i % 60:02d} - Ann: filler {i} {'x' * 60}\n" for i in range(80)
    )
    text = (
        "14/01/2024, 09:00 - Ann: first\n"
        "14/01/2024, 09:01 - Bob: hello\n"
        + filler
        + "[14/01/24, 11:00:00] Ann: pasted from an iPhone\n"
        "14/01/2024, 11:01 - Bob:\n"  # "Name:" with nothing after it: Bob must be known
    )
    assert text.index("[14/01/24") > 4096  # past the part of the block read before the rest
    items, warnings = parse_text(tmp_path, text, timezone="UTC")
    assert warnings == []
    assert brief(items[-1]) == (
        "message",
        ("Bob", "name"),
        utc(2024, 1, 14, 11, 1),
        "14/01/2024, 11:01",
        "",
    )


def test_items_are_complete_item_instances(tmp_path: Path) -> None:
    """Items are built without Item's __init__: they must still hold every field."""
    items, _ = parse_text(tmp_path, TRICKY[0] + TRICKY[2], "_chat.txt", timezone="Europe/London")
    names = [f.name for f in dataclasses.fields(Item)]
    for item in items:
        assert list(vars(item)) == names
        assert Item(**{n: getattr(item, n) for n in names}) == item
        assert dataclasses.replace(item) == item


def test_a_zip_read_through_an_opener(tmp_path: Path) -> None:
    """A source without a path (bytes kept elsewhere, opened as a stream) reads the same."""
    path = make_zip(
        tmp_path / "WhatsApp Chat - Sam.zip",
        {
            "_chat.txt": f"[14/01/2024, 09:00:00] Sam: {LRM}<attached: 00000001-PHOTO.jpg>\n"
            "[14/01/2024, 09:01:00] Sam: see?\n".encode(),
            "00000001-PHOTO.jpg": JPEG,
        },
    )
    data = path.read_bytes()
    source = Source(opener=lambda: io.BytesIO(data), length=len(data))
    got: list[tuple[str | None, bytes | None]] = []
    for x in WhatsApp().parse(source, Context(name=path.name, timezone="UTC")):
        if isinstance(x, Item):
            chunks = x.attachments[0].chunks if x.attachments else None
            got.append((x.body, b"".join(chunks()) if chunks else None))
    assert got == [(f"{LRM}<attached: 00000001-PHOTO.jpg>", JPEG), ("see?", None)]
