"""The importer contract: what an importer declares, what it is given and what it yields.

An importer reads one export file and yields normalised items (messages, calls, system
events) and warnings, in file order. It is deterministic (the same file and context give the
same items), never touches the diary, never raises for one bad record (it yields a warning
with the line or byte offset and carries on) and raises :class:`docket.errors.ImportFormatError`
only when the file as a whole cannot be read (or :class:`docket.errors.ImportTooLarge` for
a zip bomb or a line too long to be a message). The pipeline (``docket.importer``) is the only
writer.

Memory stays bounded: ``parse`` reads its source as a stream (it may read it more than once,
say to infer the day/month order from the whole file first), and an attachment's bytes are
read through :attr:`Attachment.chunks`, which is valid only until the next item is requested.
"""

from __future__ import annotations

import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import BinaryIO, ClassVar, Literal

PROBE_BYTES = 64 * 1024

Kind = Literal["message", "call", "system", "file"]
Direction = Literal["incoming", "outgoing", "unknown"]
PartyKind = Literal["name", "phone", "email", "handle", "withheld"]
CallType = Literal["incoming", "outgoing", "missed", "rejected", "blocked", "voicemail", "unknown"]
TimeNote = Literal["ambiguous", "nonexistent"]


@dataclass(frozen=True)
class Party:
    """Someone as the export names them: the raw text, exactly as in the file, and what kind
    of name it is. Mapping to the people register is the pipeline's job."""

    raw: str
    kind: PartyKind = "name"


@dataclass(frozen=True)
class Attachment:
    """A file that came with an item. ``chunks`` is None when the export only says that a
    file existed (``<Media omitted>``, ``image omitted``, an MMS part without data)."""

    name: str
    media_type: str | None = None
    chunks: Callable[[], Iterator[bytes]] | None = None
    note: str | None = None  # e.g. "not included in the export"


@dataclass(frozen=True)
class Item:
    """One normalised record from an export.

    ``sent_at`` is an aware UTC datetime when the export says when (with ``local_time``, the
    file's own timestamp text, kept as written); ``time_note`` flags a wall-clock time that
    was ambiguous or impossible in the exporting device's zone. ``match_body`` is the body as
    used to recognise the same message in another export of the same chat (media placeholders
    normalised, invisible marks removed); the pipeline falls back to ``body``. ``line`` is
    1-based; ``offset`` is a byte offset into the file (or into the chat text inside a zip).
    ``raw`` keeps the original fields, as text, exactly as they were.
    """

    kind: Kind
    # "whatsapp", "sms", "mms", "phone", "email", "telegram", "messenger", "instagram",
    # "discord", "signal", "photo", "file"
    channel: str
    direction: Direction
    sender: Party | None
    sent_at: datetime | None
    local_time: str
    body: str | None = None
    recipients: tuple[Party, ...] = ()
    thread: str | None = None  # the conversation, where the format names one reliably
    time_note: TimeNote | None = None
    deleted: bool = False  # a "this message was deleted" marker, kept as such
    call_type: CallType | None = None
    duration_s: int | None = None
    attachments: tuple[Attachment, ...] = ()
    match_body: str | None = None
    line: int | None = None
    offset: int | None = None
    raw: dict[str, str] = field(default_factory=dict)


def locator(line: int | None, offset: int | None) -> str:
    """Where in the file an item or a warning comes from: its line, else its byte offset."""
    if line is not None:
        return f"line {line}"
    if offset is not None:
        return f"byte {offset}"
    return ""


@dataclass(frozen=True)
class ImportWarning:
    """Something in the file the importer could not take as it is; the import goes on."""

    code: str  # stable: "unreadable_line", "bad_date", "missing_media", ...
    message: str  # plain words for the user
    line: int | None = None
    offset: int | None = None


@dataclass(frozen=True)
class Context:
    """What the importer is told about the export besides its bytes."""

    timezone: str = "Europe/London"  # the exporting device's zone, for zone-less formats
    region: str = "GB"  # default region for phone numbers without a country code
    day_first: bool | None = None  # None: infer from the whole file
    name: str = ""  # the file's name as the user has it (its folder is not kept)
    # for formats whose columns the user names (the mapped CSV importer): field -> column
    mapping: tuple[tuple[str, str], ...] = ()
    # the file's modification time as the exporting device's wall clock (naive), when known
    # (a file on disk; not an upload), to compare with times recorded inside the file
    modified: datetime | None = None


@dataclass(frozen=True)
class Source:
    """The file being imported, opened afresh for each pass as a seekable binary stream: a file
    on disk (``path``), or bytes kept elsewhere — an upload already stored inside the encrypted
    diary, say — through ``opener`` and ``length``. Importers read it through ``open()`` and
    ``size`` only, never through ``path``, so that both kinds work the same; the file's name
    as the user knows it is ``Context.name``."""

    path: Path | None = None
    opener: Callable[[], BinaryIO] | None = None
    length: int | None = None

    def open(self) -> BinaryIO:
        if self.opener is not None:
            return self.opener()
        assert self.path is not None
        return self.path.open("rb")

    @property
    def size(self) -> int:
        if self.length is not None:
            return self.length
        assert self.path is not None
        return self.path.stat().st_size


@dataclass(frozen=True)
class Probe:
    """What an importer sees when asked whether it can read a file."""

    name: str
    head: bytes  # the first PROBE_BYTES of the file
    size: int
    zip_names: tuple[str, ...] = ()  # the member names, when the file is a zip

    @classmethod
    def of(cls, source: Source, name: str) -> Probe:
        with source.open() as f:
            head = f.read(PROBE_BYTES)
        names: tuple[str, ...] = ()
        if head.startswith(b"PK\x03\x04"):
            try:
                with source.open() as f, zipfile.ZipFile(f) as z:
                    names = tuple(z.namelist()[:10_000])
            except (zipfile.BadZipFile, OSError, EOFError, ValueError):
                names = ()
        return cls(name=name, head=head, size=source.size, zip_names=names)


class Importer:
    """One export format. Subclasses set ``name`` and ``version`` and implement both methods.

    Bump ``version`` whenever the items produced from the same file could change: it is
    recorded with every source imported.
    """

    name: ClassVar[str]
    version: ClassVar[str]
    label: ClassVar[str]  # for people: "WhatsApp chat export"
    # the lowest score at which the importer is chosen without --format
    confident_at: ClassVar[float] = 0.3

    def score(self, probe: Probe) -> float:
        """How sure this importer is that it can read the file: 0 (no) to 1 (certain)."""
        raise NotImplementedError

    def parse(self, source: Source, context: Context) -> Iterator[Item | ImportWarning]:
        raise NotImplementedError
