"""Opening an export that came as a .zip: checked against zip bombs before anything is read,
with its members read as streams or in chunks, and one way to say it is damaged.

One responsibility: the zip handling the importers share (WhatsApp, Meta, Telegram,
Discord, photos). Each importer gives its own limits and words in a :class:`ZipRules`; this
module decides nothing about what the members mean.

* Before ``zipfile`` reads the central directory, its end record is read to refuse a zip
  listing more members than the importer allows, so a hostile file cannot fill memory with
  millions of entries. After it: the total unpacked size, the packing ratio of every large
  member, and members that are encrypted or packed in a way ``zipfile`` cannot unpack are
  refused with a plain explanation (an importer that can carry on without such a member, the
  photo importer, asks for them to be kept and warns about each instead).
* Every failure to open or read a member becomes the importer's "damaged zip" error, naming
  the file and the member.
"""

from __future__ import annotations

import zipfile
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import IO, Final

from docket.errors import ImportFormatError, ImportTooLarge, Location
from docket.importers.base import Attachment, Source
from docket.model.media import HEAD_BYTES, ZIP_MAGIC, sniff, zip_entries

CHUNK: Final = 1 << 20  # bytes per attachment chunk
MAX_RATIO: Final = 200  # packing ratio that no photo, video or export text reaches...
RATIO_MIN_SIZE: Final = 100 << 20  # ...checked for members larger than 100 MiB
MAX_MEMBERS: Final = 200_000  # files in one zip, unless the importer allows more

# What reading a damaged member can raise; opening one can also raise the rest.
READ_ERRORS: Final = (zipfile.BadZipFile, EOFError, OSError, zlib.error)
OPEN_ERRORS: Final = (*READ_ERRORS, ValueError, NotImplementedError, RuntimeError)
# What zipfile can unpack.
_METHODS: Final = frozenset(
    {zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED, zipfile.ZIP_BZIP2, zipfile.ZIP_LZMA}
)
_METHOD_NAMES: Final = {
    9: "Deflate64",
    12: "bzip2",
    14: "LZMA",
    93: "Zstandard",
    95: "XZ",
    98: "PPMd",
}
# What the first bytes of a member can show that its name's extension says more precisely.
VAGUE_TYPES: Final = frozenset({"application/octet-stream", "text/plain", "application/zip"})
_END: Final = b"PK\x05\x06"
_END64_LOCATOR: Final = b"PK\x06\x07"
_END64: Final = b"PK\x06\x06"


@dataclass(frozen=True)
class ZipRules:
    """What one importer allows in a zip, and the words its refusals use.

    ``export`` names what the zip should be ("A WhatsApp export"; "" when the zip can be
    anything); ``contents`` what real files in it are ("photos, videos or chat text");
    ``total_note`` why a huge total is suspicious ("A WhatsApp export is far smaller"; ""
    to say nothing more). ``damaged_cause`` and ``damaged_hint`` are the likely cause and the
    advice for a damaged zip; ``too_large_hint`` the advice for a refused one.
    """

    max_total: int
    contents: str
    export: str
    total_note: str
    too_large_hint: str
    damaged_cause: str
    damaged_hint: str
    max_members: int = MAX_MEMBERS
    max_ratio: int = MAX_RATIO
    ratio_min_size: int = RATIO_MIN_SIZE

    def damaged(
        self, name: str, member: str = "", *, line: int | None = None, offset: int | None = None
    ) -> ImportFormatError:
        """The error for a zip (or one ``member`` of it) that cannot be read."""
        inside = f" (Docket could not read {member} in it)" if member else ""
        return ImportFormatError(
            f"This zip file is damaged or incomplete{inside}, so Docket cannot read it.",
            cause=self.damaged_cause,
            hint=self.damaged_hint,
            location=Location(file=name or None, line=line, offset=offset),
        )

    def too_large(self, message: str, cause: str, name: str) -> ImportTooLarge:
        return ImportTooLarge(
            message, cause=cause, hint=self.too_large_hint, location=Location(file=name or None)
        )


def is_zip(head: bytes) -> bool:
    """Whether a file starting with ``head`` is a zip (an empty one included)."""
    return head[:4] in ZIP_MAGIC


def first_member_head(head: bytes, suffix: str = "") -> bytes:
    """The first bytes of a zip's first member, read from the zip's own first bytes, when that
    member is stored plainly or deflated (and, given ``suffix``, its name ends so, in any
    case); b"" otherwise."""
    for entry in zip_entries(head):
        if suffix and not entry.name.lower().endswith(suffix):
            return b""
        return entry.start(8192)
    return b""


def unreadable(info: zipfile.ZipInfo) -> str:
    """Why ``zipfile`` cannot unpack a member ("encrypted", or the packing method's name),
    or "" when it can."""
    if info.flag_bits & 0x1:
        return "encrypted"
    if info.compress_type not in _METHODS:
        return _METHOD_NAMES.get(info.compress_type, f"method {info.compress_type}")
    return ""


class Archive:
    """An open zip whose list of members has passed the rules' checks.

    ``infos`` are its files (not folders), in the zip's order. The source stays open with the
    zip until :meth:`close`. With ``keep_unreadable``, encrypted members and members packed
    in a way that cannot be unpacked are kept in ``infos`` (the importer warns about each);
    otherwise the zip is refused.
    """

    def __init__(
        self, source: Source, name: str, rules: ZipRules, *, keep_unreadable: bool = False
    ) -> None:
        self.name = name
        self.rules = rules
        try:
            fh = source.open()
        except OSError as exc:
            raise rules.damaged(name) from exc
        try:
            _check_count(fh, name, rules)
            zf = zipfile.ZipFile(fh)
        except BaseException as exc:
            fh.close()
            if isinstance(exc, (zipfile.BadZipFile, OSError, EOFError, ValueError)):
                raise rules.damaged(name) from exc
            raise
        try:
            self.infos = [i for i in zf.infolist() if not i.is_dir()]
            _check_sizes(self.infos, name, rules)
            if not keep_unreadable:
                _check_readable(self.infos, name)
        except BaseException:
            zf.close()
            fh.close()
            raise
        self.zip = zf
        self._fh: IO[bytes] = fh

    def damaged(
        self, member: str = "", *, line: int | None = None, offset: int | None = None
    ) -> ImportFormatError:
        return self.rules.damaged(self.name, member, line=line, offset=offset)

    def open(self, info: zipfile.ZipInfo) -> IO[bytes]:
        """The member as a stream; a member that cannot be opened is a damaged zip."""
        try:
            return self.zip.open(info)
        except OPEN_ERRORS as exc:
            raise self.damaged(info.filename) from exc

    def head(self, info: zipfile.ZipInfo, size: int) -> bytes:
        """The member's first ``size`` bytes."""
        with self.open(info) as f:
            try:
                return f.read(size)
            except READ_ERRORS as exc:
                raise self.damaged(info.filename) from exc

    def attachment(self, info: zipfile.ZipInfo, name: str, by_ext: str | None) -> Attachment:
        """The member as an attachment called ``name``: typed from its first bytes, or from
        its extension's type ``by_ext`` where the bytes show only something vague."""
        head = self.head(info, HEAD_BYTES)
        media_type = sniff(head) if head else None
        if media_type is None or (media_type in VAGUE_TYPES and by_ext is not None):
            media_type = by_ext or media_type
        return Attachment(name, media_type, self.chunks(info))

    def chunks(self, info: zipfile.ZipInfo, *, wrap: bool = True) -> Callable[[], Iterator[bytes]]:
        """The member's bytes, :data:`CHUNK` at a time, for :attr:`Attachment.chunks`. A
        failure part of the way is a damaged zip (with ``wrap=False``, the error as it is)."""
        zf = self.zip

        def read() -> Iterator[bytes]:
            try:
                with zf.open(info) as f:
                    while block := f.read(CHUNK):
                        yield block
            except OPEN_ERRORS as exc:
                if not wrap:
                    raise
                raise self.damaged(info.filename) from exc

        return read

    def close(self) -> None:
        self.zip.close()
        self._fh.close()


def _check_count(fh: IO[bytes], name: str, rules: ZipRules) -> None:
    """Refuse a zip whose end record lists far more members than allowed, before ``zipfile``
    reads them all into memory. A zip without a readable end record is left to ``zipfile``."""
    count = _member_count(fh)
    fh.seek(0)
    # folders are entries too: allow as many again for them (the list after it is exact)
    if count is not None and count > 2 * rules.max_members:
        raise rules.too_large(
            "This zip file holds too many files for Docket to open safely.",
            f"It lists {count:,} files; Docket opens zips of up to {rules.max_members:,}.",
            name,
        )


def _member_count(fh: IO[bytes]) -> int | None:
    """How many members a zip's end record (or its Zip64 end record) says it has."""
    size = fh.seek(0, 2)
    tail_size = min(size, 22 + 0xFFFF + 20)
    fh.seek(size - tail_size)
    tail = fh.read(tail_size)
    at = tail.rfind(_END)
    if at < 0 or len(tail) < at + 22:
        return None
    count = int.from_bytes(tail[at + 10 : at + 12], "little")
    if count != 0xFFFF:
        return count
    locator = tail[at - 20 : at] if at >= 20 else b""
    if not locator.startswith(_END64_LOCATOR):
        return None
    fh.seek(int.from_bytes(locator[8:16], "little"))
    record = fh.read(56)
    if not record.startswith(_END64) or len(record) < 40:
        return None
    return int.from_bytes(record[32:40], "little")


def _check_sizes(infos: list[zipfile.ZipInfo], name: str, rules: ZipRules) -> None:
    if len(infos) > rules.max_members:
        raise rules.too_large(
            "This zip file holds too many files for Docket to open safely.",
            f"It lists {len(infos):,} files; Docket opens zips of up to {rules.max_members:,}.",
            name,
        )
    total = sum(i.file_size for i in infos)
    if total > rules.max_total:
        note = f". {rules.total_note}" if rules.total_note else ""
        raise rules.too_large(
            f"This zip file would expand to more than {rules.max_total >> 30} GiB, so Docket "
            "has not opened it.",
            f"Its contents add up to {total / (1 << 30):.1f} GiB{note}, so the file may be "
            "damaged or made to fill the disk.",
            name,
        )
    for i in infos:
        if i.file_size > rules.ratio_min_size and i.file_size > rules.max_ratio * max(
            i.compress_size, 1
        ):
            never = f". {rules.export} never does that" if rules.export else ""
            raise rules.too_large(
                f"A file inside this zip is packed far more tightly than real {rules.contents} "
                "can be, so Docket has not opened the zip.",
                f"The file {i.filename!r} would expand more than {rules.max_ratio} times, to "
                f"{i.file_size / (1 << 20):.0f} MiB{never}, so the zip may be damaged or made "
                "to fill up the disk.",
                name,
            )


def _check_readable(infos: list[zipfile.ZipInfo], name: str) -> None:
    for i in infos:
        why = unreadable(i)
        if why == "encrypted":
            raise ImportFormatError(
                "This zip file is protected by a password, so Docket cannot read it.",
                cause=f"The file {i.filename!r} inside it is encrypted, and Docket does not "
                "ask for zip passwords.",
                hint="Unzip it with its password on a computer you trust, make a new zip of "
                "the folder without a password, and import that.",
                location=Location(file=name or None),
            )
        if why:
            raise ImportFormatError(
                "A file inside this zip is packed in a way Docket cannot unpack.",
                cause=f"The file {i.filename!r} is packed with {why}, which some zip "
                "programs use for very large files; Docket reads the usual methods only.",
                hint="Unzip it on a computer you trust, make a new zip of the folder with the "
                "usual settings (Deflate), and import that.",
                location=Location(file=name or None),
            )
