"""Reading a DiscordChatExporter JSON export (one channel or direct-message conversation per
file, or a .zip of the export folder with its downloaded media) into items, as a stream.

One responsibility: turn the JSON that DiscordChatExporter (Tyrrrz/DiscordChatExporter, the
tool people use to save both sides of a Discord conversation) wrote into
:class:`~docket.importers.base.Item` records and
:class:`~docket.importers.base.ImportWarning` notes, in file order, without changing a
character of what people wrote. It never touches the diary.

How a file is read (``shared/research/formats.md`` §5.5):

* The file is never loaded whole: messages are built one at a time by ijson's C backend, and
  their exact byte offsets come from the streaming reader in ``telegram.py``
  (:class:`~docket.importers.telegram.JsonRecords`): DiscordChatExporter writes every message
  as an object whose first key is ``"id"``, so each message is found by its id.
  ``Item.offset`` is the offset of the message's ``{`` (in the JSON member, for a zip);
  ``Item.line`` is None; the message id is in ``raw["id"]``.
* The export's header (``guild``, ``channel``) comes before the messages and gives the
  conversation (``thread`` is the channel id; its name, type and server are in ``raw``).
* ``timestamp`` is ISO 8601 with its UTC offset (in UTC or the exporting computer's zone,
  depending on the export's settings), so every time is exact; a time without an offset is
  read in ``Context.timezone``. ``local_time`` is the timestamp as written.
  ``timestampEdited`` (the message was edited) is kept in ``raw``.
* The sender is the author's id, a handle; the name, nickname and whether it is a bot are in
  ``raw``. Discord exports do not say whose account made them, so directions are "unknown".
* Types: "Default" and "Reply" (and any type Discord adds that has text) are messages;
  "Call" is a call, with its duration from ``callEndedTimestamp``; "RecipientAdd",
  "ChannelPinnedMessage" and the other notices are system items.
* Attachments are links to Discord's servers (which stop working after a while), kept as
  attachments without their bytes and with the link in the note; when the export was made
  with its media downloaded and the folder is imported as a .zip, the files are read from it.
* Reactions, embeds, stickers, mentions and the replied-to message are kept in ``raw`` as
  JSON. ``messageCount`` at the end of the file is checked against the messages found.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import IO, Any, Final
from urllib.parse import unquote
from zoneinfo import ZoneInfo

from docket.errors import ImportFormatError, Location
from docket.importers._zip import first_member_head, is_zip
from docket.importers.base import (
    Attachment,
    CallType,
    Context,
    Importer,
    ImportWarning,
    Item,
    Kind,
    Party,
    Probe,
    Source,
    TimeNote,
)
from docket.importers.telegram import (
    ExportZip,
    JsonRecords,
    Record,
    RecordSpec,
    raw_text,
    read_records,
    type_from_name,
    wall_clock,
)
from docket.model.timeparse import zone

_new = object.__new__

MESSAGE_TYPES: Final = frozenset({"Default", "Reply"})
SYSTEM_TYPES: Final = frozenset(
    {
        "RecipientAdd",
        "RecipientRemove",
        "ChannelNameChange",
        "ChannelIconChange",
        "ChannelPinnedMessage",
        "GuildMemberJoin",
        "ThreadCreated",
        "UserJoin",
        "GuildBoost",
        "GuildBoostTier1",
        "GuildBoostTier2",
        "GuildBoostTier3",
        "ChannelFollowAdd",
        "ThreadStarterMessage",
        "AutoModerationAction",
    }
)
CHANNEL_KEYS: Final = ("id", "name", "type", "category", "categoryId")
GUILD_KEYS: Final = ("id", "name")
_EXPORT_AGAIN: Final = (
    "Export the conversation again with DiscordChatExporter and choose the JSON format; to "
    "keep the pictures and files too, tick “Download assets” (or use --media) and import a "
    ".zip of the export folder."
)
_WEB: Final = re.compile(r"(?i)https?://")
_ABSOLUTE: Final = re.compile(r"[A-Za-z]:[\\/]|[\\/]")


def _is_records(path: tuple[str | int, ...]) -> bool:
    return path == ("messages",)


def _remember(path: tuple[str | int, ...]) -> bool:
    return path in ((), ("guild",), ("channel",))


SPEC: Final = RecordSpec(is_records=_is_records, remember=_remember)


def _format_error(
    message: str, cause: str, hint: str, name: str, offset: int | None = None
) -> ImportFormatError:
    return ImportFormatError(
        message, cause=cause, hint=hint, location=Location(file=name or None, offset=offset)
    )


def _time(text: Any, tz: ZoneInfo) -> tuple[datetime | None, TimeNote | None]:
    """An ISO 8601 timestamp as UTC (read in ``tz`` when it has no offset)."""
    if not isinstance(text, str) or not text:
        return None, None
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        return None, None
    if when.tzinfo is None:
        return wall_clock(when, tz)
    return when.astimezone(UTC), None


@dataclass
class _Discord:
    """Turns the records of one DiscordChatExporter file into items."""

    context: Context
    name: str
    tz: ZoneInfo
    media: ExportZip | None
    folder: str
    member: str | None
    _chat: dict[str, str] = field(default_factory=dict)
    _thread: str | None = None
    _owner: dict[str, str | None] | None = None
    _parties: dict[str, Party] = field(default_factory=dict)

    def read(self, opener: Callable[[], IO[bytes]]) -> Iterator[Item | ImportWarning]:
        records = JsonRecords(opener, SPEC)
        yield from read_records(
            records, self._record, "Discord", self.name, _EXPORT_AGAIN, self._not_discord
        )
        walker = records.walker
        assert walker is not None
        keys = set(walker.root_keys)
        if records.count == 0 and not ({"guild", "channel"} <= keys and "messages" in keys):
            raise self._not_discord()
        stated = walker.kept.get((), {}).get("messageCount")
        if stated is not None and stated.isdigit() and int(stated) != records.count:
            yield ImportWarning(
                "message_count_differs",
                f"The export says it holds {int(stated):,} messages, but {records.count:,} "
                "were found in it. The file may have been changed after it was exported.",
            )
        if records.count == 0:
            yield ImportWarning(
                "no_messages", "This Discord export holds no messages, so nothing was imported."
            )

    def _not_discord(self) -> ImportFormatError:
        return _format_error(
            "This file does not look like a DiscordChatExporter export.",
            "A DiscordChatExporter JSON file starts with the server (“guild”) and the channel, "
            "followed by a list of “messages”.",
            "Check that you chose the .json file the exporter made. " + _EXPORT_AGAIN,
            self.name,
        )

    def _context(self, rec: Record, records: JsonRecords) -> None:
        walker = records.walker
        assert walker is not None
        channel = walker.kept_values(("channel",))
        guild = walker.kept_values(("guild",))
        chat: dict[str, str] = {}
        for key in CHANNEL_KEYS:
            value = channel.get(key)
            if value is not None:
                chat[f"channel.{key}"] = value
        for key in GUILD_KEYS:
            value = guild.get(key)
            if value is not None:
                chat[f"guild.{key}"] = value
        if self.member is not None:
            chat["zip.member"] = self.member
        self._chat = chat
        self._thread = channel.get("id")
        self._owner = rec.owner

    def _party(self, who: str) -> Party:
        party = self._parties.get(who)
        if party is None:
            if len(self._parties) > 10_000:
                self._parties.clear()
            party = self._parties[who] = Party(who, "handle")
        return party

    def _record(self, rec: Record, records: JsonRecords) -> list[Item | ImportWarning]:
        if self._owner is not rec.owner:
            self._context(rec, records)
        msg = rec.value
        at = rec.offset
        if msg.__class__ is not dict:
            return [
                ImportWarning(
                    "unreadable_record",
                    f"The entry at byte {at} in the list of messages is not a message, so it "
                    "was left out.",
                    offset=at,
                )
            ]
        out: list[Item | ImportWarning] = []
        raw = {k: v if v.__class__ is str else raw_text(v) for k, v in msg.items()}
        author = msg.get("author")
        sender: Party | None = None
        if isinstance(author, dict):
            for key in ("id", "name", "nickname", "discriminator", "isBot"):
                if key in author:
                    raw[f"author.{key}"] = raw_text(author[key])
            who = author.get("id")
            if isinstance(who, str | int) and not isinstance(who, bool) and str(who):
                sender = self._party(str(who))
        raw.update(self._chat)
        stamp = msg.get("timestamp")
        sent_at, note = _time(stamp, self.tz)
        local_time = stamp if isinstance(stamp, str) else ""
        if sent_at is None:
            out.append(
                ImportWarning(
                    "bad_date",
                    f"The message at byte {at} has no time Docket can read, so it is kept "
                    "without one.",
                    offset=at,
                )
            )
        kind_of = msg.get("type")
        content = msg.get("content")
        body = content if isinstance(content, str) else ""
        kind: Kind = "message"
        call_type: CallType | None = None
        duration: int | None = None
        if kind_of == "Call":
            kind = "call"
            call_type = "unknown"
            ended, _ = _time(msg.get("callEndedTimestamp"), self.tz)
            if ended is not None and sent_at is not None and ended >= sent_at:
                duration = int((ended - sent_at).total_seconds())
        elif kind_of in SYSTEM_TYPES or (
            isinstance(kind_of, str) and kind_of not in MESSAGE_TYPES and not body
        ):
            kind = "system"
        attachments: tuple[Attachment, ...] = ()
        files = msg.get("attachments")
        if isinstance(files, list) and files:
            attachments = tuple(self._attachments(files))
        item = _new(Item)
        item.__dict__.update(
            {
                "kind": kind,
                "channel": "discord",
                "direction": "unknown",
                "sender": sender,
                "sent_at": sent_at,
                "local_time": local_time,
                "body": body,
                "recipients": (),
                "thread": self._thread,
                "time_note": note,
                "deleted": False,
                "call_type": call_type,
                "duration_s": duration,
                "attachments": attachments,
                "match_body": None,
                "line": None,
                "offset": at,
                "raw": raw,
            }
        )
        out.append(item)
        return out

    def _attachments(self, files: list[Any]) -> Iterator[Attachment]:
        for f in files:
            if not isinstance(f, dict):
                continue
            url = f.get("url")
            url = url if isinstance(url, str) else ""
            file_name = f.get("fileName")
            name = file_name if isinstance(file_name, str) and file_name else ""
            if not name:
                name = posixpath.basename(unquote(url.split("?", 1)[0]).replace("\\", "/"))
            name = name or "attachment"
            media_type = type_from_name(name)
            if not url:
                yield Attachment(name, media_type, None, "not included in the export")
            elif _WEB.match(url):
                yield Attachment(
                    name,
                    media_type,
                    None,
                    f"not included in the export: it was at {url} on Discord's servers "
                    "(such links stop working after a while)",
                )
            elif self.media is None:
                yield Attachment(
                    name,
                    media_type,
                    None,
                    "not included: the exporter saved it beside the .json file as "
                    f"{url}; import a .zip of the whole export folder to keep it",
                )
            else:
                info = self.media.find(self.folder, url) or self.media.find(
                    self.folder, unquote(url)
                )
                if info is None and _ABSOLUTE.match(url):  # media saved outside the folder
                    info = self.media.only_one_named(posixpath.basename(url.replace("\\", "/")))
                if info is None:
                    yield Attachment(
                        name, media_type, None, "not included: the file was not found in the zip"
                    )
                else:
                    yield Attachment(name, media_type, self.media.chunks(info))


_HEAD: Final = re.compile(rb'\A\s*\{\s*"guild"\s*:\s*\{')


def _json_score(head: bytes) -> float:
    if head.startswith(b"\xef\xbb\xbf"):
        head = head[3:]
    if _HEAD.match(head) and b'"channel"' in head:
        return 0.95
    if head.lstrip().startswith(b"{") and b'"channel"' in head and b'"messages"' in head:
        return 0.6
    return 0.0


class Discord(Importer):
    """DiscordChatExporter JSON (a channel or direct messages), .json or a .zip with media."""

    name = "discord"
    version = "1"
    label = "Discord export (DiscordChatExporter JSON)"

    def score(self, probe: Probe) -> float:
        if probe.zip_names:
            names = [n.replace("\\", "/") for n in probe.zip_names]
            names = [n for n in names if not n.startswith("__MACOSX/")]
            jsons = [n for n in names if n.lower().endswith(".json")]
            if jsons and any(".json_Files/" in n for n in names):
                return 0.9
            if jsons and not any(posixpath.basename(n).lower() == "result.json" for n in jsons):
                inner = first_member_head(probe.head)
                return min(_json_score(inner), 0.9) if inner else 0.0
            return 0.0
        if probe.head.startswith(b"PK"):
            return 0.0
        return _json_score(probe.head)

    def parse(self, source: Source, context: Context) -> Iterator[Item | ImportWarning]:
        name = context.name
        tz = zone(context.timezone)
        with source.open() as f:
            head = f.read(4096)
        if not head:
            raise _format_error(
                "This file is empty, so there is nothing to import.",
                "The export or the copy may not have finished, or a different file was chosen.",
                _EXPORT_AGAIN,
                name,
            )
        if is_zip(head):
            yield from self._zip(source, context, name, tz)
            return
        yield from _Discord(context, name, tz, None, "", None).read(source.open)

    def _zip(
        self, source: Source, context: Context, name: str, tz: ZoneInfo
    ) -> Iterator[Item | ImportWarning]:
        export = ExportZip(source, name, "DiscordChatExporter")
        try:
            found = sorted(
                m
                for m in export.members
                if m.lower().endswith(".json") and "_Files/" not in m  # not a downloaded file
            )
            exports = [m for m in found if _json_score(export.head(export.members[m], 4096)) > 0]
        except BaseException:
            export.close()
            raise
        if not exports:
            export.close()
            raise _format_error(
                "This zip file does not contain a Discord export.",
                "DiscordChatExporter writes each conversation to a .json file that starts "
                "with the server and the channel, and there is none in this zip.",
                "Check that this is the zip of the export folder. " + _EXPORT_AGAIN,
                name,
            )
        yield from export.read_json(
            exports,
            lambda m: _Discord(context, name, tz, export, posixpath.dirname(m), m).read,
        )
