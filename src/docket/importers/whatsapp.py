"""Reading a WhatsApp "Export chat" file (the chat text, or the .zip with the text and media)
into items, as a stream.

One responsibility: turn the bytes WhatsApp wrote into :class:`~docket.importers.base.Item`
records and :class:`~docket.importers.base.ImportWarning` notes, in file order, without
changing a character of what people wrote. It never touches the diary.

How it reads a file (see ``shared/research/formats.md`` §1 and §8 for the traps):

* Pass 1 reads the whole chat text once to learn what only the whole file can tell: whether
  dates are day first or month first (counting the changes of date in file order), and which
  names are authors (a name may contain ": "). It looks only at headers that may say
  something new; the regular expression engine skips the lines between them.
* Pass 2 reads it again and yields items. A new message starts only at a line that is a full
  header (a date and time WhatsApp could have written, then an author or a recognisable
  system event); every other line belongs to the message above it, newlines kept exactly.
* Both passes read blocks of whole lines (never more than about 2 MiB at a time), so a chat
  of several gigabytes is read in bounded memory; a line longer than 1 MiB is cut to its
  first 1 MiB, and a message longer than 4 million characters to its start, with a warning.
* Header lines are found per block by one compiled expression: the general one, or, where
  pass 1 found that it misses no header, one narrowed to the layout of the chat's first
  header, which also finds the names of the chat's authors. A chat of a million messages is
  read at a few microseconds a message, most of it the regular expressions and building the
  items; the code that runs for every message is kept short and inline for that reason.
* Times are wall-clock times in the exporting phone's zone (``Context.timezone``). The UTC
  start of each local hour is worked out once; times in an hour when the clocks change are
  worked out one by one and flagged "ambiguous" or "nonexistent".

The localised strings WhatsApp writes (media placeholders, deleted markers, system notices)
are data tables near the top of this module, so another language is a matter of adding lines.
"""

from __future__ import annotations

import codecs
import dataclasses
import heapq
import itertools
import operator
import re
import zipfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import PurePosixPath
from typing import IO, Final
from zoneinfo import ZoneInfo

from docket.errors import ImportFormatError, Location
from docket.importers._zip import READ_ERRORS as _READ_ERRORS
from docket.importers._zip import Archive, ZipRules, first_member_head, is_zip
from docket.importers.base import (
    Attachment,
    Context,
    Importer,
    ImportWarning,
    Item,
    Party,
    Probe,
    Source,
    TimeNote,
)
from docket.model.timeparse import zone

# --- limits -----------------------------------------------------------------------------------

MAX_LINE: Final = 1 << 20  # bytes; no WhatsApp message line comes near this
BLOCK: Final = 1 << 20  # bytes read at a time
MAX_ZIP_TOTAL: Final = 20 << 30  # 20 GiB uncompressed in all
MAX_NAME: Final = 128  # characters; a longer "author" is not a name
MAX_BODY: Final = 4 << 20  # characters kept of one message (WhatsApp allows about 65,000)
MAX_AUTHORS: Final = 100_000  # different names pass 1 keeps count of
TIME_CACHE: Final = 65_536  # dates and hours remembered before the caches start again

# --- localised strings WhatsApp writes (add languages here) -------------------------------------
#
# The English strings and those in the shared samples are as WhatsApp writes them; the other
# languages come from public parsers' lists and users' reports (marked "reported" where only
# one such source has them). A wrong entry only misses a marker; check against a real export
# in that language when one turns up, and add its spelling here.

# Android, exported "without media": the whole body is one of these (compared ignoring case).
MEDIA_OMITTED: Final[tuple[str, ...]] = (
    "<Media omitted>",  # en
    "<Medien ausgeschlossen>",  # de
    "<Medien ausgelassen>",  # de (reported)
    "<Medien weggelassen>",  # de (reported)
    "<Médias omis>",  # fr
    "<Fichier omis>",  # fr (reported)
    "<Multimedia omitido>",  # es
    "<Archivo omitido>",  # es (reported)
    "<Media omessi>",  # it
    "<Media eliminati>",  # it (reported)
    "<Mídia oculta>",  # pt-BR
    "<Arquivo de mídia oculto>",  # pt-BR (reported)
    "<Multimédia omitido>",  # pt-PT
    "<Media weggelaten>",  # nl
    "<メディアなし>",  # ja (reported)
    "<媒体省略>",  # zh (reported)
    "<미디어 생략>",  # ko (reported)
    "<Медиа пропущены>",  # ru (reported)
)

# Android, exported "with media": "IMG-20240101-WA0001.jpg (file attached)".
FILE_ATTACHED: Final[tuple[str, ...]] = (
    "file attached",  # en
    "Datei angehängt",  # de
    "fichier joint",  # fr
    "archivo adjunto",  # es
    "file allegato",  # it
    "arquivo anexado",  # pt-BR
    "ficheiro anexado",  # pt-PT
    "bestand bijgevoegd",  # nl
    "ファイル添付",  # ja
)

# iOS, exported with media: "<attached: 00000003-PHOTO-2024-02-01-09-12-44.jpg>".
IOS_ATTACHED: Final[tuple[str, ...]] = (
    "attached",  # en
    "Anhang",  # de
    "pièce jointe",  # fr
    "adjunto",  # es
    "allegato",  # it
    "anexo",  # pt
    "bijlage",  # nl
)

# iOS, exported without media (often in English whatever the phone's language).
IOS_OMITTED: Final[dict[str, str]] = {
    # en
    "image omitted": "image",
    "video omitted": "video",
    "audio omitted": "audio",
    "sticker omitted": "sticker",
    "GIF omitted": "gif",
    "document omitted": "document",
    "Contact card omitted": "contact",
    "video note omitted": "video",
    # de
    "Bild weggelassen": "image",
    "Video weggelassen": "video",
    "Audio weggelassen": "audio",
    "Sticker weggelassen": "sticker",
    "GIF weggelassen": "gif",
    "Dokument weggelassen": "document",
    "Kontaktkarte weggelassen": "contact",
    # fr
    "image absente": "image",
    "vidéo absente": "video",
    "audio omis": "audio",
    "autocollant omis": "sticker",
    "GIF retiré": "gif",
    "document omis": "document",
    "fiche contact omise": "contact",
    # es
    "imagen omitida": "image",
    "video omitido": "video",
    "audio omitido": "audio",
    "sticker omitido": "sticker",
    "GIF omitido": "gif",
    "documento omitido": "document",
    "tarjeta de contacto omitida": "contact",
    # it
    "immagine omessa": "image",
    "video omesso": "video",
    "audio omesso": "audio",
    "sticker omesso": "sticker",
    "GIF omessa": "gif",
    "documento omesso": "document",
    "scheda contatto omessa": "contact",
    # pt
    "imagem ocultada": "image",
    "vídeo ocultado": "video",
    "áudio ocultado": "audio",
    "figurinha omitida": "sticker",
    "GIF ocultado": "gif",
    "documento ocultado": "document",
    "cartão de contato omitido": "contact",
    # nl
    "afbeelding weggelaten": "image",
    "video weggelaten": "video",
    "audio weggelaten": "audio",
    "sticker weggelaten": "sticker",
    "GIF weggelaten": "gif",
    "document weggelaten": "document",
    "contactkaart weggelaten": "contact",
}

# "This message was deleted" and its kin: the whole body (a final full stop allowed).
DELETED: Final[tuple[str, ...]] = (
    "This message was deleted",  # en
    "You deleted this message",
    "This message was deleted by admin",
    "Diese Nachricht wurde gelöscht",  # de
    "Du hast diese Nachricht gelöscht",
    "Ce message a été supprimé",  # fr
    "Vous avez supprimé ce message",
    "Se eliminó este mensaje",  # es
    "Este mensaje fue eliminado",
    "Eliminaste este mensaje",
    "Questo messaggio è stato eliminato",  # it
    "Hai eliminato questo messaggio",
    "Esta mensagem foi apagada",  # pt
    "Você apagou esta mensagem",
    "Mensagem apagada",
    "Dit bericht is verwijderd",  # nl
    "Je hebt dit bericht verwijderd",
    "U hebt dit bericht verwijderd",
)

# Notices WhatsApp writes into the chat. On iOS they carry an "author" (the other person or
# the group's name), so they are recognised by their words, at the start of the body.
SYSTEM_NOTICES: Final[tuple[str, ...]] = (
    # en
    "Messages and calls are end-to-end encrypted",
    "Messages to this group are now secured with end-to-end encryption",
    "Messages you send to this group are now secured with end-to-end encryption",
    "Messages to this chat and calls are now secured with end-to-end encryption",
    "Messages you send to this chat and calls are now secured with end-to-end encryption",
    "This business uses a secure service from Meta",
    "This business is working with other companies",
    "This chat is with a business account",
    "This chat is with an official business account",
    "Your security code with",
    "Disappearing messages were turned",
    # de
    "Nachrichten und Anrufe sind Ende-zu-Ende-verschlüsselt",
    "Dein Sicherheitscode für",
    # fr
    "Les messages et les appels sont chiffrés de bout en bout",
    "Votre code de sécurité avec",
    # es
    "Los mensajes y las llamadas están cifrados de extremo a extremo",
    "Tu código de seguridad con",
    # it
    "I messaggi e le chiamate sono crittografati end-to-end",
    "Il tuo codice di sicurezza con",
    # pt
    "As mensagens e as chamadas são protegidas com a criptografia de ponta a ponta",
    "As mensagens e ligações são protegidas com a criptografia de ponta a ponta",
    "Seu código de segurança com",
    # nl
    "Berichten en oproepen worden end-to-end versleuteld",
    "Berichten en gesprekken zijn end-to-end versleuteld",
    "Je beveiligingscode met",
)

# Missed calls, which WhatsApp writes as a message from the caller.
MISSED_CALLS: Final[tuple[str, ...]] = (
    "Missed voice call",  # en
    "Missed video call",
    "Missed group voice call",
    "Missed group video call",
    "Verpasster Sprachanruf",  # de
    "Verpasster Videoanruf",
    "Appel vocal manqué",  # fr
    "Appel vidéo manqué",
    "Llamada perdida",  # es
    "Llamada de voz perdida",
    "Videollamada perdida",
    "Chiamata vocale persa",  # it
    "Videochiamata persa",
    "Chamada de voz perdida",  # pt
    "Chamada de vídeo perdida",
    "Gemiste spraakoproep",  # nl
    "Gemiste video-oproep",
)

# Words that show a header line without an author is a system event, wherever they are in it
# (matched case-sensitively, as WhatsApp writes them). Short forms such as "Ann added Bob" or
# "You left" are recognised by their subject instead: a known author, a YOU_WORDS word, a
# phone number or a "~ " name. A header-like line with neither is kept as continuation text.
SYSTEM_EVENTS: Final[tuple[str, ...]] = (
    # en
    "created group",
    "created this group",
    "joined using this group's invite link",
    "joined using this community's invite link",
    "joined using an invite link",
    "changed the subject",
    "changed this group's icon",
    "deleted this group's icon",
    "changed the group description",
    "deleted the group description",
    "changed this group's settings",
    "changed their phone number",
    "security code changed",
    "'s security code with",
    "turned on disappearing messages",
    "turned off disappearing messages",
    "is now an admin",
    "no longer an admin",
    "end-to-end encrypted",
    "end-to-end encryption",
    "reset this group's invite link",
    "requested to join",
    "pinned a message",
    # de
    "hat die Gruppe",
    "hat den Betreff",
    "hat das Gruppenbild",
    "hat die Gruppenbeschreibung",
    "über den Einladungslink",
    "Sicherheitsnummer",
    "Ende-zu-Ende-verschlüsselt",
    "selbstlöschende Nachrichten",
    # fr
    "a créé le groupe",
    "a rejoint",
    "lien d'invitation",
    "chiffrés de bout en bout",
    "code de sécurité",
    # es
    "creó el grupo",
    "se unió",
    "enlace de invitación",
    "cifrados de extremo a extremo",
    "código de seguridad",
    # it
    "ha creato il gruppo",
    "link d'invito",
    "crittografati end-to-end",
    "codice di sicurezza",
    # pt
    "criou o grupo",
    "criou este grupo",
    "link de convite",
    "criptografia de ponta a ponta",
    "código de segurança",
    # nl
    "heeft groep",
    "heeft de groep",
    "uitnodigingslink",
    "end-to-end versleuteld",
    "beveiligingscode",
)

# The exporting person as the subject of a system line ("You added Ann", "Du hast …").
YOU_WORDS: Final[tuple[str, ...]] = ("You", "Du", "Vous", "Tú", "Tu", "Você", "Jij", "Je", "U")

# Regions whose phones write dates month first; every other region is read day first.
MONTH_FIRST_REGIONS: Final = frozenset({"US", "PH", "FM", "MH", "PW", "GU", "AS", "MP", "PR", "VI"})

# Media types by file extension, used when the bytes are absent or say only "some data".
EXTENSION_TYPES: Final[dict[str, str]] = {
    "jpg": "image/jpeg",
    "jpeg": "image/jpeg",
    "png": "image/png",
    "gif": "image/gif",
    "webp": "image/webp",
    "heic": "image/heic",
    "mp4": "video/mp4",
    "3gp": "video/3gpp",
    "mov": "video/quicktime",
    "opus": "audio/ogg",
    "ogg": "audio/ogg",
    "m4a": "audio/mp4",
    "aac": "audio/aac",
    "mp3": "audio/mpeg",
    "amr": "audio/amr",
    "wav": "audio/wav",
    "pdf": "application/pdf",
    "vcf": "text/vcard",
    "txt": "text/plain",
    "doc": "application/msword",
    "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "xls": "application/vnd.ms-excel",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "ppt": "application/vnd.ms-powerpoint",
    "pptx": "application/vnd.openxmlformats-officedocument.presentationml.presentation",
    "zip": "application/zip",
}

NOTE_NOT_IN_EXPORT: Final = "not included in the export"
NOTE_EXPORTED_WITHOUT: Final = "not included in the export: the chat was exported without media"
NOTE_TEXT_ONLY: Final = "not included: only the chat text was imported, not the media files"
MEDIA_MATCH: Final = "<media>"

# --- the header grammar -------------------------------------------------------------------------

# Direction marks and other invisible bidirectional controls, removed only in ``match_body``.
# ZWJ (U+200D) and ZWNJ (U+200C) are content and are kept.
MARKS: Final = "\u200e\u200f\u061c\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
_DROP_MARKS: Final = {ord(c): None for c in MARKS}
_SP = "[ \u00a0\u202f]"  # space, no-break space, narrow no-break space

# One header: "[d/m/y, h:m:s PM] " (iOS) or "d/m/y, h:m - " (Android), in every date order,
# separator (/ . - or ". "), year length, 12/24 h clock and connector word seen in exports.
# (The connector words are tried only when the next character is not a digit: most headers
# have none, and trying eight words against a digit costs more than the rest of the match.)
_JOIN = rf"(?:,?{_SP}(?:(?!\d)(?:à|klo|um|at|a las|alle|às|om){_SP})?|,)"
_AMPM_FORM = rf"{_SP}?[aApP]\.?{_SP}?[mM]\.?"
_AMPM = rf"(?:{_SP}?(?P<ap>[aApP])\.?{_SP}?[mM]\.?)?"
_TIMESTAMP = (
    r"(?P<date>\d{1,4}(?P<sep>[./-]|\. )\d{1,2}(?P=sep)\d{1,4})\.?"
    + _JOIN
    + r"(?P<H>\d{1,2})(?P<tsep>[:.])(?P<M>\d{2})(?:(?P=tsep)(?P<S>\d{2}))?"
    + _AMPM
)
_HEADER = (
    r"(?P<pre>[\u200e\u200f]*(?P<open>\[)?(?P<ts>" + _TIMESTAMP + rf")(?(open)\]{_SP}?|(?: - |: )))"
)
HEADER_LINE: Final = re.compile(_HEADER)
# A header's date and time alone (its "ts" group), to read them in full.
TIMESTAMP: Final = re.compile(_TIMESTAMP)
# Pass 2 splits each block of text at its headers. Blocks start with "\n", so every header
# follows one; re.split gives, per header, its groups in the order of _SPLIT_FIELDS and then
# the text up to the next header: the rest of the header's line and its continuation lines.
HEADER_SPLIT: Final = re.compile("\n" + _HEADER)
_SPLIT_FIELDS: Final = ("pre", "open", "ts", "date", "sep", "H", "tsep", "M", "S", "ap")
_STRIDE: Final = len(_SPLIT_FIELDS) + 1
# The same, as pass 2 uses it where a chat's narrow shape (see _Shape) will not do: with the
# date and hour (group "hour") and the minutes and seconds (group "minute") in groups of their
# own, as the narrow shapes have them.
TIMED_SPLIT: Final = re.compile(
    r"\n(?P<pre>[\u200e\u200f]*(?P<open>\[)?(?P<ts>"
    r"(?P<hour>(?P<date>\d{1,4}(?P<sep>[./-]|\. )\d{1,2}(?P=sep)\d{1,4})\.?"
    + _JOIN
    + r"\d{1,2})(?P<tsep>[:.])(?P<minute>\d{2}(?:(?P=tsep)\d{2})?)"
    + _AMPM
    + rf")(?(open)\]{_SP}?|(?: - |: )))"
)
# Pass 1 looks at headers for what it needs to know: the date, and the first one or two
# ": "-separated words after the timestamp (a name, or a name with ": " in it). The words'
# repeats are possessive: a line without ": " is given up at once, not tried again shorter.
_NAMES = rf"(?:(?P<p1>[^:\r\n]{{1,{MAX_NAME}}}+): (?:(?P<p2>[^:\r\n]{{0,{MAX_NAME}}}+): )?)?"
HEADER_SURVEY: Final = re.compile(
    r"\n[\u200e\u200f]*(?P<open>\[)?"
    r"(?P<date>\d{1,4}(?P<sep>[./-]|\. )\d{1,2}(?P=sep)\d{1,4})\.?"
    + _JOIN
    + rf"\d{{1,2}}(?P<tsep>[:.])\d{{2}}(?:(?P=tsep)\d{{2}})?(?:{_AMPM_FORM})?"
    rf"(?(open)\]{_SP}?|(?: - |: ))" + _NAMES
)
# A header line dated as the one matched in group "date", in any layout, up to the author's
# name. It is looser than the header pattern (it does not pair "[" with "]"), which does no
# harm where it is used: see _runs.
_SAME_DAY: Final = (
    rf"[\u200e\u200f]*\[?(?P=date)\.?{_JOIN}\d{{1,2}}[:.]\d{{2}}(?:[:.]\d{{2}})?"
    rf"(?:{_AMPM_FORM})?(?:\]{_SP}?| - |: )"
)


def _renamed(pattern: str, suffix: str) -> str:
    """``pattern`` with its groups renamed, to be used inside another pattern that has groups
    of those names."""
    return re.sub(r"\(\?(P<|P=|\()(\w+)", rf"(?\1\2{suffix}", pattern)


# Names pass 1 skips over (see _runs); a longer list would cost more than it saves.
MAX_RUN_NAMES: Final = 64

_DATE_FIELDS: Final = re.compile(r"(\d+)\D+(\d+)\D+(\d+)")


def _alternatives(words: Iterable[str]) -> str:
    """A regular expression matching any of ``words`` (none of them empty), as a tree of
    their common beginnings, so that the engine tries each character once rather than each
    word in turn."""
    branches: dict[str, list[str]] = {}
    for word in sorted(set(words)):
        branches.setdefault(word[0], []).append(word[1:])
    out = []
    for first, rests in branches.items():
        ends = "" in rests
        rests = [r for r in rests if r]
        tail = _alternatives(rests) if rests else ""
        if tail and ends:
            tail = f"(?:{tail})?"
        out.append(re.escape(first) + tail)
    return out[0] if len(out) == 1 else "(?:" + "|".join(out) + ")"


@dataclass(frozen=True)
class _Shape:
    """How to find and read the headers of one layout.

    The general shape (:data:`_GENERAL`) reads every layout. A narrow shape is the general one
    narrowed to the literal separators of a chat's first header (and to ASCII digits): a block
    of text whose every candidate line it matches has exactly the headers the general pattern
    would find there, and they are found in a fraction of the time. Its pattern also gives the
    date and hour and the minutes of each header on their own, and pass 2 finds the names of
    known authors with the header (see :meth:`named`).
    """

    split: re.Pattern[str]  # "\n" and a header; groups "pre" (all of it) and "ts" (date, time)
    survey: re.Pattern[str]  # "\n", a header and its names; groups "date", "p1" and "p2"
    same_day: str = _SAME_DAY  # a header line with group "date"'s date, up to the name
    # a narrow shape's header after its newline: groups "ts", and in it "hour" (the date and
    # hour), "minute" (minutes, and seconds when there are) and "ap" (the a or p of am/pm)
    head: str = ""

    @classmethod
    def of(cls, m: re.Match[str]) -> _Shape:
        """The narrow shape of the header matched by ``HEADER_SPLIT`` in ``m``."""
        text = m.string
        sep, tsep = re.escape(m["sep"]), re.escape(m["tsep"])
        join = re.escape(text[m.end("date") : m.start("H")])
        end = text[m.end("ts") : m.end("pre")]
        # the general pattern takes a space after "]" when there is one; so must this
        after = re.escape(end) + (rf"(?!{_SP})" if end == "]" else "")
        opening = r"\[" if m["open"] else ""
        date = rf"[0-9]{{1,4}}{sep}[0-9]{{1,2}}{sep}[0-9]{{1,4}}"
        minute = rf"[0-9]{{2}}{tsep}[0-9]{{2}}" if m["S"] else r"[0-9]{2}"
        ampm = ap = ""
        if m["ap"]:
            # the same spaces and full stops as the first header's, either letter, either case
            written = text[m.end("S" if m["S"] else "M") : m.end("ts")]
            at = m.start("ap") - m.end("S" if m["S"] else "M")
            for i, c in enumerate(written):
                ampm += "[aApP]" if i == at else "[mM]" if c in "mM" else re.escape(c)
                ap += "(?P<ap>[aApP])" if i == at else "[mM]" if c in "mM" else re.escape(c)
        clock = rf"{join}[0-9]{{1,2}}{tsep}{minute}{ampm}{after}"
        head = (
            rf"[\u200e\u200f]*{opening}(?P<ts>(?P<hour>{date}{join}[0-9]{{1,2}}){tsep}"
            rf"(?P<minute>{minute}){ap}){after}"
        )
        return cls(
            re.compile(rf"\n(?P<pre>{head})"),
            re.compile(rf"\n[\u200e\u200f]*{opening}(?P<date>{date}){clock}{_NAMES}"),
            same_day=rf"[\u200e\u200f]*{opening}(?P=date){clock}",
            head=head,
        )

    def named(self, names: Iterable[str]) -> re.Pattern[str]:
        """Pass 2's pattern: ``split`` with group "name" after it, the author when the line
        goes on with one of ``names`` and ": " (that ": " then ends the header, which is the
        header and "Name:", as Item.raw keeps it)."""
        names = sorted(names)
        if not self.head or not names:
            return self.split
        return re.compile(
            rf"\n(?P<pre>{self.head}(?:(?P<name>{_alternatives(names)})(?=: ):)?)(?(name) )"
        )


_GENERAL: Final = _Shape(HEADER_SPLIT, HEADER_SURVEY)


def _runs(shape: _Shape, names: tuple[str, ...], flag: bool) -> re.Pattern[str]:
    """Pass 1's pattern: a header with its names, then every line after it that cannot tell
    pass 1 anything new (continuation lines, and headers with the same date whose author is
    one of ``names``, names already known to be whole). Python then sees about one match per
    change of date or of an unknown author, and the regular expression engine skips the rest.

    With ``flag``, a header that the shape does not match starts a match of its own, with an
    empty date: the block has a header that the shape's pattern would miss. The looser
    ``_SAME_DAY`` of the general shape does no harm: a line it takes has the date and a known
    author, so it tells pass 1 nothing.
    """
    head = shape.survey.pattern
    if flag:
        head = rf"(?:{head}|\n(?={_renamed(_HEADER, '_f')}))"
    # most lines are headers by known authors, so that test comes first
    known = rf"{shape.same_day}{_alternatives(names)}: |" if names else ""
    other = _renamed(_HEADER, "_r")  # a line that is not a header goes on the message above
    return re.compile(rf"{head}[^\n]*+(?:\n(?:{known}(?!{other}))[^\n]*+)*+")


_PHONE: Final = re.compile(
    rf"[{MARKS}]*(?:~{_SP}?)?[{MARKS}]*\+?[0-9 ().\-\u00a0\u202f\u2011]+[{MARKS}]*"
)
_FILE_ATTACHED: Final = re.compile(
    r"(?P<name>.*?)\s\((?:" + "|".join(re.escape(s) for s in FILE_ATTACHED) + r")\)\s*",
    re.IGNORECASE,
)
_IOS_ATTACHED: Final = re.compile(
    r"[\u200e\u200f]?<(?:"
    + "|".join(re.escape(s) for s in IOS_ATTACHED)
    + rf"){_SP}?[:：]{_SP}?(?P<name>[^<>\n]+)>",
    re.IGNORECASE,
)
_SYSTEM_EVENT: Final = re.compile("|".join(re.escape(s) for s in SYSTEM_EVENTS))

_MEDIA_OMITTED_KEYS: Final = frozenset(s.casefold() for s in MEDIA_OMITTED)
# as written in the table, all in small letters, or with a capital first letter
_IOS_OMITTED_FORMS: Final = frozenset(
    form for k in IOS_OMITTED for form in (k, k.lower(), k[0].upper() + k[1:])
)
_DOCUMENT_OMITTED: Final = tuple(k for k, v in IOS_OMITTED.items() if v == "document")
_BLANKS: Final = MARKS + " \u00a0\u202f"


def _variants(phrases: tuple[str, ...]) -> frozenset[str]:
    """The exact forms a whole-body phrase takes: with or without a leading direction mark and
    a final full stop."""
    out: set[str] = set()
    for p in phrases:
        for lead in ("", "\u200e", "\u200f"):
            out.update((lead + p, lead + p + "."))
    return frozenset(out)


_DELETED_FORMS: Final = _variants(DELETED)
_NOTICE_PREFIXES: Final = tuple(SYSTEM_NOTICES)
_CALL_PREFIXES: Final = tuple(MISSED_CALLS)
# The first ten characters of every notice, with or without a direction mark before it.
_NOTICE_HEADS: Final = frozenset(
    (lead + p)[:10] for p in SYSTEM_NOTICES + MISSED_CALLS for lead in ("", "\u200e", "\u200f")
)
_EXT_FROM_NAME: Final = re.compile(r"\.([A-Za-z0-9]{1,5})$")


# --- errors -------------------------------------------------------------------------------------

_EXPORT_AGAIN = (
    "Export the chat again on the phone (open the chat, then More or the chat's name, then "
    "Export chat), and import the new file."
)


def _format_error(
    message: str, cause: str, hint: str, name: str, line: int | None = None
) -> ImportFormatError:
    return ImportFormatError(
        message, cause=cause, hint=hint, location=Location(file=name or None, line=line)
    )


def _zip_rules() -> ZipRules:
    return ZipRules(
        max_total=MAX_ZIP_TOTAL,
        contents="photos, videos or chat text",
        export="A WhatsApp export",
        total_note="A WhatsApp export is far smaller",
        too_large_hint="Export the chat again on the phone. If it has a lot of media, export "
        "it without media, and keep the media files separately.",
        damaged_cause="The copy or download may have stopped before the end, or the file was "
        "changed after WhatsApp made it.",
        damaged_hint="Copy or download the export again and import the new copy. " + _EXPORT_AGAIN,
    )


# --- reading text in blocks of whole lines ------------------------------------------------------


class _Reader:
    """Reads UTF-8 text as blocks of whole lines, in bounded memory.

    Each block is ``"\\n"`` followed by its lines joined by ``"\\n"`` (the block's last newline
    is dropped), so a header is always preceded by a newline and a message's body is one slice.
    Lines longer than :data:`MAX_LINE` bytes are cut to that length. Problems are added to
    ``warnings`` as ``(line, order, warning)`` tuples.
    """

    def __init__(self, stream: IO[bytes], name: str, count: bool = True) -> None:
        self._stream = stream
        self._name = name
        # lines read so far; with ``count`` False, the reader's user counts them and sets this
        # after each block (pass 2 counts the lines of every message anyway)
        self.lines = 0
        self._count = count
        self.bad_lines = 0
        self.warnings: list[tuple[int, int, ImportWarning]] = []
        self._seq = 0

    def _warn(self, line: int, code: str, message: str) -> None:
        self._seq += 1
        self.warnings.append((line, self._seq, ImportWarning(code, message, line=line)))

    def blocks(self) -> Iterator[tuple[int, str]]:
        """Yield ``(lines before the block, block text)``."""
        read = self._stream.read
        carry = b""
        first = True
        skipping = False
        while True:
            want = MAX_LINE + 1 - len(carry)
            chunk = read(min(want, BLOCK))
            if first:
                first = False
                chunk = self._check_start(chunk)
            if skipping:
                if not chunk:
                    return
                j = chunk.find(b"\n")
                if j >= 0:
                    skipping = False
                    carry = chunk[j + 1 :]
                continue
            if not chunk:
                if carry:  # the last line; after a cut line, the lines that followed it
                    yield self._emit(carry[:-1] if carry.endswith(b"\n") else carry)
                return
            data = carry + chunk if carry else chunk
            cut = data.rfind(b"\n")
            if cut < 0:
                if len(data) > MAX_LINE:
                    yield self._emit_long(data[:MAX_LINE])
                    carry = b""
                    skipping = True
                else:
                    carry = data
                continue
            carry = data[cut + 1 :]
            yield self._emit(data[:cut])

    def _check_start(self, chunk: bytes) -> bytes:
        if chunk.startswith(b"\xef\xbb\xbf"):
            return chunk[3:]
        head = chunk[:4096]
        if head.startswith((b"\xff\xfe", b"\xfe\xff")) or b"\x00" in head:
            raise _format_error(
                "This file is not plain text in the form WhatsApp writes (UTF-8), so Docket "
                "cannot read it as a chat.",
                "It may be a different kind of file, or the chat was saved again by another "
                "program in another text encoding.",
                "Use the file exactly as WhatsApp exported it. " + _EXPORT_AGAIN,
                self._name,
                1,
            )
        return chunk

    def _emit(self, data: bytes) -> tuple[int, str]:
        base = self.lines
        if self._count:
            self.lines += data.count(b"\n") + 1
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            text = self._decode_lines(data, base)
        return base, "\n" + text

    def _emit_long(self, data: bytes) -> tuple[int, str]:
        base = self.lines
        self.lines += 1
        text = codecs.getincrementaldecoder("utf-8")("replace").decode(data, final=False)
        self._warn(
            base + 1,
            "line_too_long",
            f"Line {base + 1} is longer than 1 MiB, which no WhatsApp message is. Docket has "
            "kept its first 1 MiB and left out the rest of that line. The original file is "
            "unchanged.",
        )
        return base, "\n" + text

    def _decode_lines(self, data: bytes, base: int) -> str:
        out: list[str] = []
        for i, raw in enumerate(data.split(b"\n")):
            try:
                out.append(raw.decode("utf-8"))
            except UnicodeDecodeError:
                out.append(raw.decode("utf-8", "replace"))
                self.bad_lines += 1
                self._warn(
                    base + i + 1,
                    "unreadable_characters",
                    f"Line {base + i + 1} contains bytes that are not valid text. They are "
                    "shown as \ufffd; the rest of the line is kept as written.",
                )
        return "\n".join(out)


# --- the export: a text file, or a zip with the chat text and media ----------------------------


class _Export:
    """The chat text (opened afresh for each pass) and, for a zip, the media files in it."""

    def __init__(self, source: Source, name: str) -> None:
        self._source = source
        self._name = name
        self.archive: Archive | None = None
        self.member: zipfile.ZipInfo | None = None
        self.media: dict[str, zipfile.ZipInfo] = {}
        with source.open() as f:
            magic = f.read(4)
        if not magic:
            raise _format_error(
                "This file is empty, so there is nothing to import.",
                "The export or the copy may not have finished, or a different file was chosen.",
                _EXPORT_AGAIN,
                name,
            )
        if is_zip(magic):
            self._open_zip()

    def _open_zip(self) -> None:
        archive = Archive(self._source, self._name, _zip_rules())
        try:
            self.member = self._find_chat(archive.infos)
        except BaseException:
            archive.close()
            raise
        self.archive = archive
        for i in archive.infos:
            if i is not self.member and not i.filename.startswith("__MACOSX/"):
                self.media.setdefault(PurePosixPath(i.filename).name, i)

    def _find_chat(self, infos: list[zipfile.ZipInfo]) -> zipfile.ZipInfo:
        texts = [
            i
            for i in infos
            if i.filename.lower().endswith(".txt") and not i.filename.startswith("__MACOSX/")
        ]
        for i in texts:
            if PurePosixPath(i.filename).name == "_chat.txt":
                return i
        named = [i for i in texts if "whatsapp" in PurePosixPath(i.filename).name.lower()]
        if len(named) == 1:
            return named[0]
        if len(texts) == 1:
            return texts[0]
        if not texts:
            raise _format_error(
                "This zip file does not contain a WhatsApp chat.",
                "WhatsApp puts the chat in a text file called '_chat.txt' or 'WhatsApp Chat "
                "with ….txt', and there is no text file in this zip.",
                "Check that this is the zip WhatsApp made. " + _EXPORT_AGAIN,
                self._name,
            )
        raise _format_error(
            "This zip file holds several text files, and Docket cannot tell which one is the chat.",
            "A WhatsApp export holds one chat text file ('_chat.txt' or 'WhatsApp Chat with "
            "….txt'); this zip seems to have been put together by hand.",
            "Unzip it and import the chat's text file on its own.",
            self._name,
        )

    def open_text(self) -> IO[bytes]:
        if self.archive is not None and self.member is not None:
            return self.archive.open(self.member)
        return self._source.open()

    def close(self) -> None:
        if self.archive is not None:
            self.archive.close()

    def unreadable(self, line: int) -> ImportFormatError:
        """The error for a read that failed part of the way through the chat text."""
        if self.archive is not None and self.member is not None:
            return self.archive.damaged(self.member.filename, line=line)
        return _format_error(
            f"Docket could not read this file to the end (it stopped at line {line}).",
            "The disk or the device the file is on may have a problem, or the file is being "
            "changed while it is read.",
            "Copy the file to this computer's own disk and import the copy.",
            self._name,
            line,
        )

    def attachment(self, name: str, note_when_missing: str) -> Attachment:
        """The attachment a message names: with its bytes when the zip has the file."""
        info = self.media.get(name) if name else None
        ext = _EXT_FROM_NAME.search(name)
        by_ext = EXTENSION_TYPES.get(ext.group(1).lower()) if ext else None
        if info is None or self.archive is None:
            return Attachment(name, by_ext, None, note_when_missing)
        return self.archive.attachment(info, name, by_ext)


# --- pass 1: what only the whole file can tell -------------------------------------------------


@dataclass
class _Author:
    count: int = 0
    definite: bool = False  # wrote a line with only one ": " in it, so this is the whole name
    second: str | None = None  # the word every line shared after "name: ", "" when none did


@dataclass
class _Survey:
    headers: int = 0
    day_first_votes: int = 0  # dates whose first field is over 12
    month_first_votes: int = 0  # dates whose second field is over 12
    df_decreases: int = 0  # dates going backwards if read day first
    mf_decreases: int = 0
    ambiguous_dates: int = 0  # dates with first field != second field, both 12 or under
    lines: int = 0
    bad_lines: int = 0
    authors: dict[str, _Author] = field(default_factory=dict)
    shape: _Shape | None = None  # the layout of the first header
    narrow: list[bool] = field(default_factory=list)  # per block: the shape's pattern will do


def _system_words(text: str) -> bool:
    return _SYSTEM_EVENT.search(text) is not None


def _survey(export: _Export, name: str) -> _Survey:
    """Pass 1: count what the whole file says about its date order and its authors.

    Each block is matched with the pattern from :func:`_runs`, narrow when the chat has a
    first header, else general: one match per header that may tell something new (a new
    date, or an author not yet known to be a whole name), the lines after it skipped inside
    the regular expression engine. The names learnt in a block's first few kilobytes are
    skipped over in the rest of it, so the first block is quick too."""
    s = _Survey()
    authors = s.authors
    not_names: set[str] = set()
    names: list[str] = []  # whole names to skip over, in the order they were learnt
    learnt: set[str] = set()
    patterns: dict[tuple[bool, tuple[str, ...]], re.Pattern[str]] = {}
    prev_date = ""
    prev_df: tuple[int, int, int] = (0, 0, 0)
    prev_mf: tuple[int, int, int] = (0, 0, 0)

    def rows(shape: _Shape, narrow: bool, text: str) -> list[tuple[str, str, str]] | None:
        """The (date, p1, p2) of each match in ``text``; None when the narrow shape does not
        match a line that may be a header."""
        out: list[tuple[str, str, str]] = []
        start = 0
        known = len(names)
        for end in (text.find("\n", 4096), len(text)):
            if end <= start:
                continue
            key = (narrow, tuple(names))
            pattern = patterns.get(key)
            if pattern is None:
                if len(patterns) >= 2 * MAX_RUN_NAMES:
                    patterns.clear()
                pattern = patterns[key] = _runs(shape, key[1], narrow)
            index = pattern.groupindex
            pick = operator.itemgetter(index["date"] - 1, index["p1"] - 1, index["p2"] - 1)
            found: list[tuple[str, str, str]] = [pick(r) for r in pattern.findall(text, start, end)]
            if narrow and any(not date for date, _, _ in found):
                # the block is read again with the general pattern: the names learnt here are
                # not counted yet, so they must not be skipped over there
                learnt.difference_update(names[known:])
                del names[known:]
                return None
            for _, p1, p2 in found:  # whole names to skip over from here on
                if p1 and not p2 and p1 not in learnt and len(names) < MAX_RUN_NAMES:
                    learnt.add(p1)
                    if not _system_words(p1):
                        names.append(p1)
            out += found
            start = end
        return out

    with export.open_text() as stream:
        reader = _Reader(stream, name)
        try:
            for _, text in reader.blocks():
                if s.shape is None and (first := HEADER_SPLIT.search(text)) is not None:
                    s.shape = _Shape.of(first)
                found = rows(s.shape, True, text) if s.shape is not None else None
                s.narrow.append(found is not None)
                if found is None:
                    found = rows(_GENERAL, False, text) or []
                for date, p1, p2 in found:
                    s.headers += 1
                    if (
                        date != prev_date
                        and (fields := _DATE_FIELDS.match(date)) is not None
                        and len(fields.group(1)) <= 2  # year first leaves no doubt
                    ):
                        prev_date = date
                        x, y, z = (int(f) for f in fields.groups())
                        if x > 12 >= y:
                            s.day_first_votes += 1
                        elif y > 12 >= x:
                            s.month_first_votes += 1
                        elif x != y and x <= 12 and y <= 12:
                            s.ambiguous_dates += 1
                        df, mf = (z, y, x), (z, x, y)
                        s.df_decreases += df < prev_df
                        s.mf_decreases += mf < prev_mf
                        prev_df, prev_mf = df, mf
                    if not p1 or p1 in not_names:
                        continue
                    st = authors.get(p1)
                    if st is None:
                        if len(authors) + len(not_names) >= MAX_AUTHORS:
                            continue  # not a real chat's authors; names are split at ": "
                        if _system_words(p1):
                            not_names.add(p1)
                            continue
                        st = authors[p1] = _Author()
                    st.count += 1
                    if not p2:
                        st.definite = True
                    elif st.second is None:
                        st.second = p2
                    elif st.second != p2:
                        st.second = ""
        except _READ_ERRORS as exc:
            raise export.unreadable(reader.lines + 1) from exc
    s.lines = reader.lines
    s.bad_lines = reader.bad_lines
    return s


def _resolve_names(authors: dict[str, _Author]) -> dict[str, str]:
    """Map each first ": "-split name to the author's full name.

    A name that contains ": " ("Team: Alpha") shows as every line of "Team" going on with
    "Alpha: ". When that holds for two lines or more and "Team" never wrote a line of its own,
    the name is "Team: Alpha". Otherwise the first split is the name. (A name with two ": " in
    it is split at the second.)
    """
    names: dict[str, str] = {}
    for p1, st in authors.items():
        if not st.definite and st.count >= 2 and st.second:
            names[p1] = f"{p1}: {st.second}"
        else:
            names[p1] = p1
    return names


# --- local time to UTC --------------------------------------------------------------------------

_NO_TIME: Final[tuple[datetime | None, TimeNote | None]] = (None, None)
# minute * 60 + second -> that many seconds, to add to the start of an hour
SECONDS: Final = tuple(timedelta(seconds=i) for i in range(3600))
# a header's minutes ("05"), or minutes and seconds ("05:09", "05.09"), as its "minute" group
# has them -> that much time
_MINUTES: Final = {f"{mi:02d}": SECONDS[mi * 60] for mi in range(60)} | {
    f"{mi:02d}{tsep}{s:02d}": SECONDS[mi * 60 + s]
    for tsep in ":."
    for mi in range(60)
    for s in range(60)
}


class _Clock:
    """Turns header timestamps (wall-clock time in ``tz``) into aware UTC datetimes.

    The UTC moment at which each local hour starts is worked out once, so a message costs
    one addition. An hour in which the clocks change is worked out message by message.
    """

    def __init__(self, tz: ZoneInfo, day_first: bool) -> None:
        self._tz = tz
        self._day_first = day_first
        # a header's date and hour as a narrow shape's "hour" group has them ("31/12/23, 21"),
        # with the a or p of am/pm when there is one -> when that hour started, in UTC; None
        # if the clocks change during it or it is not a time. Filled by ``stamp``.
        self.hours: dict[str | tuple[str, str] | None, datetime | None] = {}
        # the same, by (date, hour, am/pm)
        self._starts: dict[tuple[str, str, str | None], datetime | None] = {}
        self._days: dict[str, tuple[int, int, int, timedelta | None] | None] = {}

    def stamp(
        self, ts: str, hour: str | tuple[str, str] | None
    ) -> tuple[datetime | None, TimeNote | None]:
        """The time of a header whose date and time are ``ts`` (its "ts" group), read in full;
        the start of its hour is remembered in ``hours`` under ``hour``, unless that is None."""
        m = TIMESTAMP.fullmatch(ts)
        if m is None:  # not the text of a header's "ts" group
            return _NO_TIME
        date, h, mi, s, ap = m.group("date", "H", "M", "S", "ap")
        result = self.when(date, h, mi, s, ap)
        if hour is not None:
            if len(self.hours) >= TIME_CACHE:
                self.hours.clear()
            self.hours[hour] = self._starts[(date, h, ap)]
        return result

    def when(
        self, date: str, h: str, mi: str, s: str | None, ap: str | None
    ) -> tuple[datetime | None, TimeNote | None]:
        key = (date, h, ap)
        if key not in self._starts:
            if len(self._starts) >= TIME_CACHE:
                self._starts.clear()
            self._starts[key] = self._hour_start(date, h, ap)
        start = self._starts[key]
        try:
            minute, second = int(mi), int(s or 0)  # also digits of other scripts
        except ValueError:
            return _NO_TIME
        if minute > 59 or second > 59:
            return _NO_TIME
        if start is not None:
            return start + SECONDS[minute * 60 + second], None
        local = self._local(date, h, ap)
        if local is None:
            return _NO_TIME
        naive = datetime(*local[:3], local[4], minute, second)
        first = naive.replace(tzinfo=self._tz).utcoffset() or timedelta(0)
        later = naive.replace(tzinfo=self._tz, fold=1).utcoffset() or timedelta(0)
        note: TimeNote | None = None
        if first > later:
            note = "ambiguous"  # the clocks went back: this time happened twice; take the first
        elif first < later:
            note = "nonexistent"  # the clocks went forward: read it as if they had not yet
        return (naive - first).replace(tzinfo=UTC), note

    def _hour_start(self, date: str, h: str, ap: str | None) -> datetime | None:
        local = self._local(date, h, ap)
        if local is None:
            return None
        y, mo, d, offset, hour = local
        if offset is None:  # the clocks change this day: look at this hour
            offset = self._offset(datetime(y, mo, d, hour), datetime(y, mo, d, hour, 59, 59))
            if offset is None:
                return None
        return datetime(y, mo, d, hour, tzinfo=UTC) - offset

    def _local(
        self, date: str, h: str, ap: str | None
    ) -> tuple[int, int, int, timedelta | None, int] | None:
        """The local date, the day's UTC offset (None if the clocks change that day) and the
        hour on a 24-hour clock; None when they are not a date and time."""
        day = self._day(date)
        try:
            hour = int(h)
        except ValueError:
            return None
        if ap:  # "" or None when the clock has 24 hours
            if hour > 12:
                return None
            hour = hour % 12 + (12 if ap in "pP" else 0)
        if day is None or hour > 23:
            return None
        return (*day, hour)

    def _day(self, date: str) -> tuple[int, int, int, timedelta | None] | None:
        if date in self._days:
            return self._days[date]
        ymd = self._date(date)
        day: tuple[int, int, int, timedelta | None] | None = None
        if ymd is not None:
            y, mo, d = ymd
            offset = self._offset(
                datetime(y, mo, d), datetime(y, mo, d, 12), datetime(y, mo, d, 23, 59, 59)
            )
            day = (y, mo, d, offset)
        if len(self._days) >= TIME_CACHE:
            self._days.clear()
        self._days[date] = day
        return day

    def _offset(self, *moments: datetime) -> timedelta | None:
        """The zone's UTC offset at these wall-clock times, if it is the same at all of them
        whichever side of a clock change they are read on; else None."""
        tz = self._tz
        offsets = {m.replace(tzinfo=tz, fold=fold).utcoffset() for m in moments for fold in (0, 1)}
        if len(offsets) != 1:
            return None
        return offsets.pop() or timedelta(0)

    def _date(self, date: str) -> tuple[int, int, int] | None:
        fields = _DATE_FIELDS.match(date)
        if fields is None:
            return None
        a, b, c = fields.groups()
        try:
            if len(a) == 4:
                ymd = (int(a), int(b), int(c))
            elif len(a) <= 2 and len(c) in (2, 4):
                y = int(c) + (2000 if len(c) == 2 else 0)
                ymd = (y, int(b), int(a)) if self._day_first else (y, int(a), int(b))
            else:
                return None
            datetime(*ymd)
        except ValueError:
            return None
        return ymd


# --- bodies: media, deleted markers, notices ----------------------------------------------------


def _match_text(text: str) -> str:
    """``text`` as used to match the same message in another export: direction marks removed,
    Windows line ends made plain. Nothing else changes."""
    if text.isascii():
        return text.replace("\r\n", "\n") if "\r" in text else text
    return text.translate(_DROP_MARKS).replace("\r\n", "\n")


@dataclass(frozen=True)
class _Media:
    attachments: tuple[Attachment, ...]
    match_body: str


def _media(first: str, more: str, export: _Export) -> _Media | None:
    """The attachment a body stands for, if its first line is a media line. ``more`` is the
    rest of the body after the first line (with its leading newline), which WhatsApp uses for
    a caption on Android."""
    plain = first.strip(_BLANKS).translate(_DROP_MARKS)
    if plain.casefold() in _MEDIA_OMITTED_KEYS or plain in _IOS_OMITTED_FORMS:
        return _Media((Attachment("", None, None, NOTE_EXPORTED_WITHOUT),), _with(more))
    for phrase in _DOCUMENT_OMITTED:
        # "Report.pdf • 3 pages document omitted": a document keeps its name in front
        if plain.endswith(" " + phrase):
            name = plain[: -len(phrase)].split("\u2022")[0].strip(_BLANKS)
            return _Media((Attachment(name, None, None, NOTE_EXPORTED_WITHOUT),), _with(more))
    m = _IOS_ATTACHED.search(first)
    if m is not None:
        name = m.group("name").strip(_BLANKS)
        caption = (first[: m.start()] + first[m.end() :]).strip(_BLANKS)
        attachment = export.attachment(name, _missing_note(export))
        return _Media((attachment,), _with(("\n" + caption if caption else "") + more))
    m = _FILE_ATTACHED.fullmatch(first)
    if m is not None:
        name = m.group("name").strip(_BLANKS)
        return _Media((export.attachment(name, _missing_note(export)),), _with(more))
    return None


def _missing_note(export: _Export) -> str:
    return NOTE_NOT_IN_EXPORT if export.archive is not None else NOTE_TEXT_ONLY


def _with(caption: str) -> str:
    return MEDIA_MATCH + _match_text(caption)


def _notice(first: str) -> str | None:
    """``"system"`` or ``"call"`` when the body is a WhatsApp notice, else None."""
    bare = first.lstrip(MARKS)
    if bare[:10] not in _NOTICE_HEADS:
        return None
    if bare.startswith(_NOTICE_PREFIXES):
        return "system"
    if bare.startswith(_CALL_PREFIXES):
        return "call"
    return None


def _party(raw: str) -> Party:
    if _PHONE.fullmatch(raw) and sum(ch.isdigit() for ch in raw) >= 5:
        return Party(raw, "phone")
    return Party(raw, "name")


# --- the importer ---------------------------------------------------------------------------


# Items are built by filling their ``__dict__`` from a template rather than by calling the
# frozen dataclass's ``__init__``, whose one ``object.__setattr__`` per field is most of the
# cost of a message in a chat of a million. The template has every field of Item, in order,
# with the contract's own defaults (so a field added to Item keeps its default here); "kind",
# "sent_at", "local_time" and "raw" (the fields without a plain default) are always set.
_ITEM_DEFAULTS: Final = {
    f.name: None if f.default is dataclasses.MISSING else f.default
    for f in dataclasses.fields(Item)
} | {"channel": "whatsapp", "direction": "unknown"}
_SYSTEM_ITEM: Final = _ITEM_DEFAULTS | {"kind": "system"}
_MEDIA_LAST: Final = frozenset(">) \u00a0\u202f" + MARKS) - {""}
# The last four characters of every whole-body marker: iOS "image omitted" and its kin, and
# "This message was deleted" and its kin (a cheap first test before the real one).
_MARKER_TAILS: Final = (
    frozenset(k[-4:] for k in IOS_OMITTED)
    | frozenset(k[-4:].lower() for k in IOS_OMITTED)
    | frozenset(f[-4:] for f in _variants(DELETED))
)

# The first characters of notices and the last of markers (cheap first tests).
_NOTICE_FIRST: Final = frozenset(h[0] for h in _NOTICE_HEADS)
_TAIL_LAST: Final = frozenset(t[-1] for t in _MARKER_TAILS)

# An author as pass 2 uses it: name, raw header suffix ("Name:"), sender, whether the name
# is longer than the text before the line's first ": ", where the body starts after it, and
# the template of that author's messages.
_Writer = tuple[str, str, Party, bool, int, dict[str, object]]
_UNSEEN: Final[_Writer] = ("", "", Party(""), False, 0, {})


class _Messages:
    """One reading of a chat: pass 1 (:func:`_survey`), then pass 2, which gives out the
    chat's items and warnings in file order."""

    def __init__(self, source: Source, context: Context) -> None:
        self._source = source
        self._context = context
        self._name = context.name

    def items(self) -> Iterator[Item | ImportWarning]:
        """The whole reading, as one generator (a generator that passed on the items of
        another would add a step to each of them)."""
        context = self._context
        tz = zone(context.timezone)
        export = _Export(self._source, self._name)
        try:
            survey = _survey(export, self._name)
            _check(survey, self._name)
            day_first, opening = _date_order(survey, context)
            yield from opening
            self._start(export, tz, survey, day_first)
            # Pass 2: split each block of text at its headers and build one item per header;
            # the text up to the next header is the rest of its line and its continuation
            # lines. The work per message is inlined here, because this loop runs once for
            # every message in the chat; what only some messages need (notices, media and
            # deleted markers, header-like lines, times in an hour when the clocks change,
            # names the pattern does not know) is done in methods.
            shape = self._shape or _GENERAL
            narrow_split = shape.named(self._by_name)
            narrow_blocks = iter(self._narrow)
            by_name = self._by_name
            authors_get = self._authors.get
            hours_get = self._clock.hours.get
            minutes_get = _MINUTES.get
            stamp = self._clock.stamp
            queue = self._queue
            new = object.__new__
            system_item = _SYSTEM_ITEM
            media_last = _MEDIA_LAST
            tail_last = _TAIL_LAST
            marker_tails = _MARKER_TAILS
            notice_first = _NOTICE_FIRST
            notice_heads = _NOTICE_HEADS
            special = self._special
            known = self._known
            name_end = MAX_NAME + 2  # the ": " after a name starts at MAX_NAME at the latest
            unseen = _UNSEEN
            item: Item | None = None  # the message being read: built, not yet given out
            raw_body_above = ""  # its body as far as its block goes, line end included
            more: list[str] | None = None  # the rest of its body, when there is more
            preamble = False  # text before the first header
            n = 0  # line number
            with self._export.open_text() as stream:
                reader = _Reader(stream, self._name, count=False)  # this loop counts
                try:
                    for base, text in reader.blocks():
                        if reader.warnings:
                            for w in reader.warnings:
                                heapq.heappush(queue, w)
                            reader.warnings.clear()
                        crlf = "\r" in text
                        narrow = next(narrow_blocks, False)
                        split = narrow_split if narrow else TIMED_SPLIT
                        parts = split.split(text)
                        before = parts[0]  # continuation of the message above, or preamble
                        n = base + before.count("\n")  # the line before this block's first header
                        if item is None:
                            preamble = preamble or bool(before.strip())
                        elif before:
                            more = self._more(more, item, before)
                        # per header: the header, its date and time, then as the pattern
                        # finds them (else None) its date and hour, minutes, the a or p of
                        # am/pm and the author's name; and the text after it (the rest of the
                        # line, and the lines up to the next header)
                        stride = split.groups + 1
                        index = dict(split.groupindex)
                        if "hour" not in index:  # HEADER_SPLIT (in tests): only these
                            index = {"pre": index["pre"], "ts": index["ts"]}
                        columns = [
                            parts[index[group] :: stride]
                            if group in index
                            else itertools.repeat(None, len(parts) // stride)
                            for group in ("pre", "ts", "hour", "minute", "ap", "name")
                        ]
                        for pre, ts, hour, minute, ap, name, after in zip(
                            *columns, parts[stride::stride], strict=True
                        ):
                            n += 1
                            # who wrote it: the first ": ", unless the file shows a longer name
                            if name is not None:
                                author: _Writer | None = by_name[name]
                                header = pre
                                raw_body = after
                            else:
                                author = None
                                i = after.find(": ", 0, name_end)
                                if i > 0:
                                    author = authors_get(after[:i], unseen)
                                    if author is unseen:
                                        author = self._writer(after[:i])
                                    if (
                                        author is not None
                                        and author[3]
                                        and not after.startswith(author[0] + ": ")
                                    ):
                                        author = self._named(after[:i])
                                if author is None:
                                    nl = after.find("\n")
                                    rest = after if nl < 0 else after[:nl]
                                    if crlf and rest.endswith("\r"):
                                        rest = rest[:-1]
                                    j = rest.find(":")
                                    if 0 < j <= MAX_NAME and rest[:j] in known:
                                        # "Name:" with an empty body, or "Name:."
                                        named = self._named(rest[:j])
                                        author = (
                                            named[0],
                                            named[1],
                                            named[2],
                                            False,
                                            j + 1,
                                            named[5],
                                        )
                                    elif (
                                        item is not None
                                        and item.kind != "system"
                                        and not self._is_system_line(rest)
                                    ):
                                        # a line of the message above that starts with a date and
                                        # time
                                        self._warn(
                                            n,
                                            "header_like_continuation",
                                            f"Line {n} starts with a date and time like a new "
                                            "message, but has no sender and is not a WhatsApp "
                                            "system message, so Docket has kept it as part of the "
                                            "message above it. Check it against the chat on the "
                                            "phone.",
                                        )
                                        more = self._more(more, item, "\n", pre, after)
                                        if nl >= 0:
                                            n += after.count("\n", nl)
                                        continue
                                if author is None:  # a system line
                                    header = pre.rstrip(" ")
                                    raw_body = after
                                else:
                                    header = pre + author[1]
                                    raw_body = after[author[4] :]
                            # give out the message above, now that its body is complete
                            if item is not None:
                                if more is not None:
                                    self._extend(item, raw_body_above, more)
                                    more = None
                                    self._more_size = 0
                                yield item
                                if queue and queue[0][0] < n:
                                    yield from self._warnings_before(n)
                            elif preamble:
                                preamble = False
                                self._warn(
                                    1,
                                    "text_before_first_message",
                                    f"Lines 1 to {n - 1} come before the first message and are "
                                    "not part of any message, so they were not imported. The "
                                    "original file is unchanged.",
                                )
                                yield from self._warnings_before(n)
                            raw_body_above = raw_body
                            # when: the start of its hour in UTC plus its minutes (and seconds),
                            # or worked out in full
                            note: TimeNote | None = None
                            key = hour if ap is None else (hour, ap)
                            start = hours_get(key)
                            if start is not None and (delta := minutes_get(minute)) is not None:
                                sent_at: datetime | None = start + delta
                            else:
                                sent_at, note = stamp(ts, key)
                                if sent_at is None:
                                    self._warn(
                                        n,
                                        "bad_date",
                                        f"The date or time on line {n} does not exist in the "
                                        "calendar as Docket reads this chat's dates, so that "
                                        "message is kept without a time.",
                                    )
                            # the item, complete unless lines follow in the next block
                            body = raw_body[:-1] if crlf and raw_body.endswith("\r") else raw_body
                            if "\n" in raw_body:
                                nl = raw_body.find("\n")
                                first = raw_body[:nl]
                                if crlf and first.endswith("\r"):
                                    first = first[:-1]
                                lines = raw_body.count("\n", nl)
                            else:
                                first = body
                                lines = 0
                            item = new(Item)
                            values = item.__dict__
                            if author is None:
                                values.update(system_item)
                                values["match_body"] = (
                                    body if not crlf and body.isascii() else _match_text(body)
                                )
                                values["raw"] = {"header": header}
                            else:
                                values.update(author[5])
                                # a notice, or a media or deleted marker (the tests of _special,
                                # each after a cheaper one that most lines fail)
                                if first and (
                                    (last := first[-1]) in media_last
                                    or (last in tail_last and first[-4:] in marker_tails)
                                    or (first[0] in notice_first and first[:10] in notice_heads)
                                ):
                                    special(values, first, body, crlf)
                                else:
                                    values["match_body"] = (
                                        body if not crlf and body.isascii() else _match_text(body)
                                    )
                                values["raw"] = {"header": header, "author": author[0]}
                            values["body"] = body
                            values["local_time"] = ts
                            values["sent_at"] = sent_at
                            values["line"] = n
                            if note is not None:
                                values["time_note"] = note
                            n += lines
                        reader.lines = n  # the block's last line
                except _READ_ERRORS as exc:
                    raise self._export.unreadable(reader.lines + 1) from exc
                for w in reader.warnings:
                    heapq.heappush(queue, w)
            if item is not None:
                if more is not None:
                    self._extend(item, raw_body_above, more)
                yield item
            elif preamble:
                self._warn(
                    1,
                    "text_before_first_message",
                    "No line in this file starts a WhatsApp message, so nothing was imported.",
                )
            yield from self._warnings_before(1 << 62)
        finally:
            export.close()

    def _start(self, export: _Export, tz: ZoneInfo, survey: _Survey, day_first: bool) -> None:
        """Pass 2's state, from what pass 1 found."""
        self._export = export
        self._clock = _Clock(tz, day_first)
        self._names = _resolve_names(survey.authors)
        self._shape = survey.shape
        self._narrow = survey.narrow
        self._known = frozenset(self._names.values())
        # first ": "-split word -> its _Writer, or None when that word is not a name; filled
        # as the words are met
        self._authors: dict[str, _Writer | None] = {}
        self._writers: dict[str, _Writer] = {}
        # the authors whose names pass 2's pattern finds (see _Shape.named): names that are
        # whole (not the start of a name with ": " in it), those pass 1 met most often first
        simple = [p1 for p1, full in self._names.items() if full == p1]
        simple.sort(key=lambda p1: -survey.authors[p1].count)
        self._by_name = {p1: self._named(p1) for p1 in simple[:MAX_RUN_NAMES]}
        self._queue: list[tuple[int, int, ImportWarning]] = []
        self._seq = -(1 << 40)  # below the reader's numbers, which are positive
        self._more_size = 0  # characters of body kept after the message's first block

    def _warn(self, line: int, code: str, message: str) -> None:
        self._seq += 1
        heapq.heappush(self._queue, (line, self._seq, ImportWarning(code, message, line=line)))

    def _warnings_before(self, line: int) -> Iterator[ImportWarning]:
        queue = self._queue
        while queue and queue[0][0] < line:
            yield heapq.heappop(queue)[2]

    def _writer(self, p1: str) -> _Writer | None:
        """Who wrote a line whose text before its first ": " is ``p1`` (None when ``p1`` runs
        on past the line's end: that line has no ": ")."""
        full = self._names.get(p1)
        writer: _Writer | None = None
        if "\n" in p1:
            pass
        elif full is not None or not _system_words(p1):  # not 'Ann changed the subject to "A: B"'
            writer = self._named(full or p1)
            if len(writer[0]) != len(p1):
                writer = (writer[0], writer[1], writer[2], True, writer[4], writer[5])
        if len(self._authors) >= MAX_AUTHORS:
            self._authors.clear()
        self._authors[p1] = writer
        return writer

    def _named(self, name: str) -> _Writer:
        writer = self._writers.get(name)
        if writer is None:
            sender = _party(name)
            template = _ITEM_DEFAULTS | {"kind": "message", "sender": sender}
            writer = (name, name + ":", sender, False, len(name) + 2, template)
            if len(self._writers) >= MAX_AUTHORS:
                self._writers.clear()
            self._writers[name] = writer
        return writer

    def _special(self, values: dict[str, object], first: str, body: str, crlf: bool) -> None:
        """Kind, attachments, deleted flag and ``match_body`` of a message whose first line
        may be a notice ("Missed voice call", iOS system notices) or a media or deleted
        marker."""
        kind = "message"
        if first[:10] in _NOTICE_HEADS:
            notice = _notice(first)
            if notice is not None:
                kind = notice
        values["kind"] = kind
        if kind == "system":
            values["sender"] = None
        if kind == "message" and (first[-1:] in _MEDIA_LAST or first[-4:] in _MARKER_TAILS):
            self._describe(values, first, body)
            return
        if kind == "call":
            values["call_type"] = "missed"
        values["match_body"] = body if not crlf and body.isascii() else _match_text(body)

    def _is_system_line(self, rest: str) -> bool:
        """Whether a header line without an author is a WhatsApp system message (rather than a
        line of a message that happens to start with a date and time)."""
        bare = rest.lstrip(MARKS)
        if _notice(bare) is not None or _system_words(bare):
            return True
        if bare.split(" ", 1)[0] in YOU_WORDS or bare.startswith(("~", "+")):
            return True
        return any(bare.startswith(n + " ") for n in self._known if n and n[0] == bare[:1])

    def _more(self, more: list[str] | None, item: Item, *pieces: str) -> list[str]:
        """Add text to the rest of ``item``'s body, up to :data:`MAX_BODY` characters."""
        if more is None:
            more = []
        room = MAX_BODY - self._more_size
        if room <= 0:
            return more
        for piece in pieces:
            if len(piece) >= room:
                more.append(piece[:room])
                self._more_size = MAX_BODY
                self._warn(
                    item.line or 0,
                    "message_too_long",
                    f"The message that starts on line {item.line} goes on for more than "
                    f"{MAX_BODY >> 20} million characters, which no WhatsApp message does. "
                    "Docket has kept the start of it and left out the rest, up to the next "
                    "message. From there on the file may not be a WhatsApp chat; the original "
                    "file is unchanged.",
                )
                return more
            more.append(piece)
            room -= len(piece)
        self._more_size = MAX_BODY - room
        return more

    def _extend(self, item: Item, raw_body: str, more: list[str]) -> None:
        """Give a message the lines that followed it in the next block(s), or that looked like
        a header but were not."""
        values = item.__dict__
        body = "".join((raw_body, *more))
        if body.endswith("\r"):
            body = body[:-1]
        values["body"] = body
        if item.kind == "message":
            values["deleted"] = False
            values["attachments"] = ()
            first = body.partition("\n")[0]
            if first.endswith("\r"):
                first = first[:-1]
            self._describe(values, first, body)
        else:
            values["match_body"] = _match_text(body)

    def _describe(self, values: dict[str, object], first: str, body: str) -> None:
        """A message's attachments, deleted flag and ``match_body``, from its body."""
        if first[-1:] in _MEDIA_LAST or first[-4:] in _MARKER_TAILS:
            media = _media(first, body[len(first) :], self._export)
            if media is not None:
                values["attachments"] = media.attachments
                values["match_body"] = media.match_body
                return
        if len(body) == len(first) and first in _DELETED_FORMS:
            values["deleted"] = True
        values["match_body"] = _match_text(body)


def _text_score(head: bytes, size: int, name: str = "") -> float:
    """How much the start of a text file looks like a WhatsApp chat."""
    if head.startswith(b"\xef\xbb\xbf"):
        head = head[3:]
    if not head or head.lstrip()[:1] == b"<" or b"\x00" in head:
        return 0.0  # XML (an SMS backup), HTML, binary
    lines = head.decode("utf-8", "replace").split("\n")
    if len(lines) > 1 and len(head) < size:
        lines.pop()  # cut off by the probe
    lines = [x.rstrip("\r") for x in lines[:200]]
    headers = [m for m in (HEADER_LINE.match(x) for x in lines) if m is not None]
    if not headers:
        return 0.0
    first = next((x for x in lines if x.strip()), "")
    score = 0.5 + 0.4 * min(1.0, 4 * len(headers) / max(1, len(lines)))
    if HEADER_LINE.match(first) is None:
        score -= 0.3
    if all(m.group("open") and m.group("S") is None and m.group("sep") == "-" for m in headers):
        score = min(score, 0.4)  # "[2023-12-31, 21:05] Name:" is Signal's Markdown export
    if name.lower().endswith(".txt"):
        score += 0.05
    return round(max(0.0, min(score, 0.95)), 3)


class WhatsApp(Importer):
    """WhatsApp "Export chat": Android and iOS layouts, .txt or .zip."""

    name = "whatsapp"
    version = "1"
    label = "WhatsApp chat export"

    def score(self, probe: Probe) -> float:
        if probe.zip_names:
            bases = [
                PurePosixPath(n).name.lower()
                for n in probe.zip_names
                if not n.startswith("__MACOSX/")
            ]
            if "_chat.txt" in bases or any(
                b.startswith("whatsapp chat") and b.endswith(".txt") for b in bases
            ):
                return 0.95
            if any("whatsapp" in b and b.endswith(".txt") for b in bases):
                return 0.8
            texts = [b for b in bases if b.endswith(".txt")]
            if len(texts) != 1:
                return 0.0
            # one text file under another name: look at its first lines, if it comes first
            inner = first_member_head(probe.head, ".txt")
            return min(_text_score(inner, probe.size), 0.85) if inner else 0.2
        if probe.head.startswith(b"PK"):
            # a zip whose list of files cannot be read: ours to explain if it is named as ours
            return 0.5 if "whatsapp" in probe.name.lower() else 0.0
        return _text_score(probe.head, probe.size, probe.name)

    def parse(self, source: Source, context: Context) -> Iterator[Item | ImportWarning]:
        return _Messages(source, context).items()  # a generator: nothing is read until asked


def _check(survey: _Survey, name: str) -> None:
    """Refuse a file that pass 1 found is not a WhatsApp chat at all."""
    if survey.lines == 0:  # only an empty chat inside a zip gets here
        raise _format_error(
            "The chat text in this zip file is empty, so there is nothing to import.",
            "The export or the copy may not have finished.",
            _EXPORT_AGAIN,
            name,
        )
    if survey.bad_lines and survey.bad_lines * 2 > survey.lines:
        raise _format_error(
            "Most of this file's lines are not text in the form WhatsApp writes (UTF-8), so "
            "Docket cannot read it safely.",
            "The chat may have been opened and saved again by another program, which "
            "changed its text encoding.",
            "Use the file exactly as WhatsApp exported it. " + _EXPORT_AGAIN,
            name,
            1,
        )
    if survey.headers == 0:
        raise _format_error(
            "This file does not look like a WhatsApp chat export.",
            "No line in it starts with a WhatsApp date and time, such as "
            "'31/12/2023, 21:05 - Name: message' or '[31/12/2023, 21:05:07] Name: message'.",
            "Check that you chose the chat's text file (for example 'WhatsApp Chat with "
            "….txt' or '_chat.txt'), or the .zip that WhatsApp made.",
            name,
            1,
        )


def _date_order(survey: _Survey, context: Context) -> tuple[bool, list[ImportWarning]]:
    """Day first or month first, from the whole file, the context, or the region."""
    df, mf = survey.day_first_votes, survey.month_first_votes
    if context.day_first is not None:
        contrary = mf if context.day_first else df
        if contrary:
            order = "day first" if context.day_first else "month first"
            return context.day_first, [
                ImportWarning(
                    "date_order_conflict",
                    f"Docket was told to read this chat's dates {order}, but {contrary} of them "
                    "can only be read the other way round. Those messages are kept without a "
                    "time. If the setting is wrong, import the chat again without it.",
                )
            ]
        return context.day_first, []
    if df and not mf:
        return True, []
    if mf and not df:
        return False, []
    if df and mf:
        day_first = df >= mf
        return day_first, [
            ImportWarning(
                "mixed_date_order",
                f"Some dates in this chat can only be read day first ({df}) and others only "
                f"month first ({mf}). Docket has read them "
                f"{'day' if day_first else 'month'} first; the others are kept without a time.",
            )
        ]
    if survey.df_decreases != survey.mf_decreases:
        return survey.df_decreases < survey.mf_decreases, []
    default = context.region.upper() not in MONTH_FIRST_REGIONS
    if not survey.ambiguous_dates:
        return default, []
    if default:
        how = (
            "day first, as phones set up for "
            f"{'the United Kingdom' if context.region.upper() == 'GB' else context.region} "
            "write them (03/04/24 is 3 April 2024)"
        )
    else:
        how = (
            f"month first, as phones set up for {context.region} write them "
            "(03/04/24 is 4 March 2024)"
        )
    return default, [
        ImportWarning(
            "ambiguous_date_order",
            "Every date in this chat could be read either day first or month first, so Docket "
            f"cannot tell which the phone used. It has read them {how}. If the phone that made "
            "the export shows dates the other way round, import the chat again and say which "
            "order it uses.",
        )
    ]
