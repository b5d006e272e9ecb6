"""The facade: everything a front end (CLI, web) can do with a diary, in one place.

Each public method is one unit of work: it validates input, then runs in a single
transaction, so a failure changes nothing. Front ends never touch the store directly.
"""

from __future__ import annotations

import contextlib
import dataclasses
import io
import secrets
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, date, datetime
from pathlib import Path
from types import TracebackType
from typing import Any, BinaryIO, Generic, Protocol, TypeVar, cast
from zoneinfo import ZoneInfo

from cryptography import x509
from sqlalchemy import Connection

from docket import (
    __version__,
    analysis,
    bundle,
    importer,
    integrity,
    log_records,
    outfiles,
    records,
    report,
    search,
    timeline,
)
from docket.analysis import Analysis
from docket.checklist import ChecklistData
from docket.errors import (
    AttachmentNotFound,
    DiaryExists,
    ImportFileNotFound,
    InputError,
    Location,
    NothingToChange,
    NotSupportedHere,
    RecordNotFound,
    RecordRedacted,
)
from docket.jurisdictions import Jurisdiction
from docket.jurisdictions import load as load_jurisdiction
from docket.ledger import log, timestamp
from docket.ledger.note import Verifier
from docket.model import forms, identifiers, media, timeparse
from docket.model.identifiers import Identifier
from docket.model.records import IncidentData, OrderData, PersonData, WitnessAccountData
from docket.model.views import AttachmentView, IncidentView, PersonView, Summary, VersionView
from docket.records import IncidentFilter
from docket.safety import kept
from docket.safety.android import CheckResult
from docket.safety.indicators import IndicatorSet
from docket.store import blobs
from docket.store.base import Store
from docket.store.diary_file import DiaryFile, Snapshot

ProgressFn = Callable[[int], None]


def _require_reason(reason: str, what: str) -> str:
    reason = reason.strip()
    if not reason:
        raise InputError(
            f"{what} needs a reason.",
            cause="Every change is kept in the diary's history with its reason, so that anyone "
            "reading it later can see why it changed.",
            hint="Add --reason, for example --reason 'remembered the time more exactly'.",
        )
    return reason


class Diary:
    """An unlocked diary. Use as a context manager, or call ``close()``."""

    def __init__(self, file: Store) -> None:
        self._file = file
        with file.read() as conn:
            self._meta = records.get_meta(conn)
        self.jurisdiction: Jurisdiction = load_jurisdiction(self._meta["jurisdiction"])

    # --- lifecycle -------------------------------------------------------------------------

    @classmethod
    def create(
        cls,
        path: Path,
        passphrase: str,
        *,
        jurisdiction: str = "england-wales",
        timezone: str | None = None,
        region: str | None = None,
    ) -> Diary:
        meta = cls.new_meta(jurisdiction=jurisdiction, timezone=timezone, region=region)
        return cls._initialise(DiaryFile.create(path, passphrase, meta), meta)

    @staticmethod
    def new_meta(
        *,
        jurisdiction: str = "england-wales",
        timezone: str | None = None,
        region: str | None = None,
    ) -> dict[str, str]:
        """The metadata of a new diary (or case), checked before anything is written."""
        j = load_jurisdiction(jurisdiction)
        tz = timezone or j.default_timezone
        timeparse.zone(tz)  # refuse an unknown zone before anything is written
        return {
            "diary_id": secrets.token_hex(16),
            "jurisdiction": j.id,
            "timezone": tz,
            "region": (region or j.default_region).upper(),
            "created_at": log.now_utc(),
            "created_by": f"docket {__version__}",
        }

    @classmethod
    def _initialise(cls, store: Store, meta: dict[str, str]) -> Diary:
        """Start the log of a store that ``meta`` was just written into."""
        diary = cls(store)
        with diary._write() as conn:
            # a diary file's migrations made the signing key and its first checkpoint; a new
            # case on a server gets them here, so both logs start alike
            log.ensure_key(conn)
            log.seal(conn)
            log.append(
                conn,
                type="diary.created",
                subject="diary",
                record={
                    "diary_id": meta["diary_id"],
                    "jurisdiction": meta["jurisdiction"],
                    "timezone": meta["timezone"],
                    "region": meta["region"],
                    "software": meta["created_by"],
                },
            )
        return diary

    @classmethod
    def open(cls, path: Path, passphrase: str) -> Diary:
        return cls(DiaryFile.open(path, passphrase))

    @classmethod
    def create_in(
        cls,
        make_store: Callable[[dict[str, str]], Store],
        *,
        jurisdiction: str = "england-wales",
        timezone: str | None = None,
        region: str | None = None,
    ) -> Diary:
        """A new diary in a store other than a file: ``make_store(meta)`` creates the store
        (a case on a server, say) holding ``meta``; then the log is started in it."""
        meta = cls.new_meta(jurisdiction=jurisdiction, timezone=timezone, region=region)
        return cls._initialise(make_store(meta), meta)

    def close(self) -> None:
        self._file.close()

    def __enter__(self) -> Diary:
        return self

    def __exit__(
        self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    @property
    def path(self) -> Path:
        """The diary file (a case on a server has none)."""
        path = self._file.path
        if path is None:
            raise NotSupportedHere(
                "This diary is a case on a server, not a file.",
                hint="Export the case to a diary file first ('docket server case export').",
            )
        return path

    @property
    def store(self) -> Store:
        return self._file

    def _diary_file(self, what: str) -> DiaryFile:
        if not isinstance(self._file, DiaryFile):
            raise NotSupportedHere(
                f"{what} works on a diary file, not on a case on a server.",
                cause="The server's database has its own passphrases, backups and checks.",
                hint="Ask the server's administrator; PostgreSQL's own backups cover cases.",
            )
        return self._file

    @property
    def timezone(self) -> str:
        return self._meta["timezone"]

    @property
    def region(self) -> str:
        return self._meta["region"]

    @property
    def diary_id(self) -> str:
        return self._meta["diary_id"]

    @contextlib.contextmanager
    def _write(self) -> Iterator[Connection]:
        """One write transaction that ends by signing a checkpoint over the grown log."""
        with self._file.write() as conn:
            yield conn
            log.seal(conn)

    # --- incidents ------------------------------------------------------------------------

    def add_incident(self, form: forms.IncidentInput) -> IncidentView:
        data = forms.apply(form, self.timezone)
        return self.add_incident_data(data)

    def add_incident_data(self, data: IncidentData) -> IncidentView:
        data.validate(self.jurisdiction)
        with self._write() as conn:
            incident_id = records.create_incident(conn, data)
            return records.get_incident(conn, incident_id)

    def edit_incident(
        self, incident_id: int, form: forms.IncidentInput, reason: str
    ) -> IncidentView:
        reason = _require_reason(reason, "A change")
        if form.is_empty():
            raise NothingToChange(
                "Nothing to change was given.",
                hint="Give the fields to change, for example --description '...'. "
                "'docket edit --help' lists them.",
            )
        with self._write() as conn:
            current = records.get_incident(conn, incident_id)
            if current.data is None:
                raise RecordRedacted(f"Incident {incident_id} was removed and cannot be edited.")
            data = forms.apply(form, self.timezone, base=current.data)
            data.validate(self.jurisdiction)
            if data == current.data:
                raise NothingToChange(
                    f"Incident {incident_id} already says that; nothing was changed."
                )
            records.update_incident(conn, incident_id, data, reason)
            return records.get_incident(conn, incident_id)

    def incident(self, incident_id: int) -> IncidentView:
        with self._file.read() as conn:
            return records.get_incident(conn, incident_id)

    def incidents(self, f: IncidentFilter | None = None) -> list[IncidentView]:
        with self._file.read() as conn:
            return records.list_incidents(conn, f or IncidentFilter())

    def history(self, kind: str, record_id: int) -> list[VersionView]:
        with self._file.read() as conn:
            return records.history(conn, kind, record_id)

    def redact(self, kind: str, record_id: int, reason: str) -> int:
        """Remove a record's content for good; returns the redaction's log sequence number."""
        reason = _require_reason(reason, "Removing something")
        with self._write() as conn:
            return records.redact(conn, kind, record_id, reason).seq

    def date_range(self, start: str | None, end: str | None) -> tuple[str | None, str | None]:
        """UTC bounds for a list filter: ``start`` inclusive, ``end`` inclusive of its day."""
        lo = timeparse.utc_rfc3339(timeparse.parse(start, self.timezone).value) if start else None
        hi = None
        if end:
            parsed = timeparse.parse(end, self.timezone, allow_future=True)
            bound = parsed.value
            if parsed.date_only:
                bound = bound + (datetime(2000, 1, 2) - datetime(2000, 1, 1))
            hi = timeparse.utc_rfc3339(bound)
        return lo, hi

    # --- people ---------------------------------------------------------------------------

    def parse_identifiers(
        self, phones: list[str], emails: list[str], handles: list[str], vehicles: list[str]
    ) -> tuple[Identifier, ...]:
        out = [identifiers.phone(p, self.region) for p in phones]
        out += [identifiers.email(e) for e in emails]
        out += [identifiers.handle(h) for h in handles]
        out += [identifiers.vehicle(v) for v in vehicles]
        return tuple(dict.fromkeys(out))

    def add_person(self, data: PersonData) -> PersonView:
        data.validate()
        with self._write() as conn:
            return records.get_person(conn, records.create_person(conn, data))

    def edit_person(
        self, person_id: int, change: Callable[[PersonData], PersonData], reason: str
    ) -> PersonView:
        reason = _require_reason(reason, "A change")
        with self._write() as conn:
            current = records.get_person(conn, person_id)
            if current.data is None:
                raise RecordRedacted(f"Person {person_id} was removed and cannot be edited.")
            data = change(current.data)
            data.validate()
            if data == current.data:
                raise NothingToChange(f"Person {person_id} already says that; nothing was changed.")
            records.update_person(conn, person_id, data, reason)
            return records.get_person(conn, person_id)

    def person(self, person_id: int) -> PersonView:
        with self._file.read() as conn:
            return records.get_person(conn, person_id)

    def people(self) -> list[PersonView]:
        with self._file.read() as conn:
            return records.list_people(conn)

    def resolve_person(self, ref: str) -> int:
        """A person's id from an id, a name, or one of their identifiers."""
        ref = ref.strip()
        with self._file.read() as conn:
            if ref.isdigit() and len(ref) <= 6:
                with contextlib.suppress(RecordNotFound):
                    records.get_person(conn, int(ref))
                    return int(ref)
            ids = records.find_people_by_name(conn, ref)
            if len(ids) == 1:
                return ids[0]
            if len(ids) > 1:
                raise InputError(
                    f"More than one person is called {ref!r}.",
                    hint="Use their number instead: " + ", ".join(map(str, ids)) + ".",
                )
            for kind in ("phone", "email", "vehicle"):
                with contextlib.suppress(InputError):
                    ident = identifiers.parse(kind, ref, self.region)
                    found = records.person_for_identifier(conn, ident.kind, ident.value)
                    if found is not None:
                        return found
        raise RecordNotFound(
            f"Nobody called {ref!r} is in the register.",
            hint="'docket person list' shows the register; 'docket person add' adds someone.",
        )

    def usual_person(self) -> int | None:
        """The one person responsible, when there is exactly one (the default for new entries)."""
        with self._file.read() as conn:
            ids = records.person_ids_by_role(conn, "responsible")
        return ids[0] if len(ids) == 1 else None

    # --- orders, the checklist and the pattern -------------------------------------------

    def add_order(self, data: OrderData) -> OrderView:
        data.validate(self.jurisdiction)
        with self._write() as conn:
            records.check_people_exist(conn, data.against)
            order_id = log_records.next_id(conn, "order")
            log_records.write(conn, "order", order_id, data.as_record())
            return _order_view(log_records.get(conn, "order", order_id, **_ORDER))

    def edit_order(self, order_id: int, data: OrderData, reason: str) -> OrderView:
        reason = _require_reason(reason, "A change")
        data.validate(self.jurisdiction)
        with self._write() as conn:
            before = _order_view(log_records.get(conn, "order", order_id, **_ORDER))
            if before.data == data:
                raise NothingToChange(f"Order {order_id} already says that; nothing was changed.")
            records.check_people_exist(conn, data.against)
            log_records.write(conn, "order", order_id, data.as_record(), reason=reason)
            return _order_view(log_records.get(conn, "order", order_id, **_ORDER))

    def order(self, order_id: int) -> OrderView:
        with self._file.read() as conn:
            return _order_view(log_records.get(conn, "order", order_id, **_ORDER))

    def orders(self) -> list[OrderView]:
        with self._file.read() as conn:
            return [_order_view(r) for r in log_records.all_current(conn, "order")]

    # --- witness accounts --------------------------------------------------------------------

    def add_witness_account(
        self,
        data: WitnessAccountData,
        *,
        note_file: BinaryIO | None = None,
        note_name: str = "",
    ) -> WitnessAccountView:
        """Keep what a witness wrote, linked to its incident; ``note_file`` (a photo or scan
        of their note) is stored as evidence on the same incident, in the same transaction."""
        data = data.normalised()
        data.validate(datetime.now(ZoneInfo(self.timezone)).date())
        with self._write() as conn:
            row = records.incident_row(conn, data.incident)
            if row.redacted:
                raise RecordRedacted(
                    f"Incident {data.incident} was removed, so nothing can be linked to it."
                )
            if note_file is not None:
                media_type, note_stream = media.sniff_stream(note_file)
                attachment_id = records.add_attachment(
                    conn,
                    note_stream,
                    name=note_name or "witness note",
                    media_type=media_type,
                    incident_id=data.incident,
                    obtained=f"Witness note written by {data.name.strip()}",
                )
                data = dataclasses.replace(data, attachment=attachment_id)
            elif data.attachment is not None:
                records.attachment_row(conn, data.attachment)
            witness_id = log_records.next_id(conn, "witness")
            log_records.write(conn, "witness", witness_id, data.as_record(), created_type="added")
            return _witness_view(log_records.get(conn, "witness", witness_id, **_WITNESS))

    def edit_witness_account(
        self, witness_id: int, data: WitnessAccountData, reason: str
    ) -> WitnessAccountView:
        reason = _require_reason(reason, "A change")
        data = data.normalised()
        data.validate(datetime.now(ZoneInfo(self.timezone)).date())
        with self._write() as conn:
            before = _witness_view(log_records.get(conn, "witness", witness_id, **_WITNESS))
            if before.data == data:
                raise NothingToChange(
                    f"Witness account {witness_id} already says that; nothing was changed."
                )
            records.incident_row(conn, data.incident)
            log_records.write(conn, "witness", witness_id, data.as_record(), reason=reason)
            return _witness_view(log_records.get(conn, "witness", witness_id, **_WITNESS))

    def witness_account(self, witness_id: int) -> WitnessAccountView:
        with self._file.read() as conn:
            return _witness_view(log_records.get(conn, "witness", witness_id, **_WITNESS))

    def witness_accounts(self, incident_id: int | None = None) -> list[WitnessAccountView]:
        """Witness accounts (those removed left out), all or those about one incident."""
        with self._file.read() as conn:
            views = [_witness_view(r) for r in log_records.all_current(conn, "witness")]
        if incident_id is not None:
            views = [v for v in views if v.data.incident == incident_id]
        return views

    # --- tech safety -----------------------------------------------------------------------

    def save_indicators(
        self, files: Sequence[tuple[str, bytes]], *, source: str = "file", url: str | None = None
    ) -> kept.IndicatorsInfo:
        """Keep the stalkerware indicator files (Echap's ioc.yaml and watchware.yaml) inside
        the diary, replacing any loaded before (the earlier version stays in the log)."""
        with self._write() as conn:
            return kept.save_indicators(conn, files, source=source, url=url)

    def indicators_info(self) -> kept.IndicatorsInfo | None:
        """Which indicator files the diary holds, or None."""
        with self._file.read() as conn:
            return kept.indicators_info(conn)

    def indicator_set(self) -> IndicatorSet:
        """The indicator files the diary holds, parsed (NoIndicators when there are none)."""
        with self._file.read() as conn:
            return kept.load_indicators(conn)

    def indicator_files(self) -> list[tuple[str, bytes]]:
        """The indicator files the diary holds, as (name, exact bytes)."""
        with self._file.read() as conn:
            return kept.indicator_files(conn)

    def check_phone(
        self, inputs: Sequence[tuple[str, BinaryIO]], *, via: str = "file"
    ) -> tuple[kept.PhoneCheckView, tuple[CheckResult, ...]]:
        """Compare a phone's app list (or package details, bug report, certificate listing or
        .apk) with the indicators; each input is kept as evidence and the check recorded in
        the log. An unreadable input and nothing is kept."""
        with self._write() as conn:
            return kept.check_phone(conn, inputs, via=via)

    def phone_check(self, check_id: int) -> kept.PhoneCheckView:
        with self._file.read() as conn:
            return kept.phone_check(conn, check_id)

    def phone_checks(self) -> list[kept.PhoneCheckView]:
        with self._file.read() as conn:
            return kept.phone_checks(conn)

    def checklist(self, set_name: str = "risk") -> ChecklistView:
        """A checklist's answers as last saved (none yet: an empty checklist). ``set_name``
        is "risk" (things police will want to know) or "accounts" (account safety)."""
        with self._file.read() as conn:
            rec = log_records.current(conn, "checklist", _CHECKLISTS[set_name])
        if rec is None or rec.record is None:
            return ChecklistView(ChecklistData((), set_name), None, 0)
        return ChecklistView(
            ChecklistData.from_record(rec.record, set_name), rec.updated_at, rec.version
        )

    def save_checklist(self, data: ChecklistData, set_name: str = "risk") -> ChecklistView:
        """Keep the answers as a new version; the earlier answers stay in the history."""
        record_id = _CHECKLISTS[set_name]
        if data.set_name != set_name:
            raise InputError(
                f"Those are answers to the {data.set_name} checklist, not the {set_name} one."
            )
        with self._write() as conn:
            rec = log_records.current(conn, "checklist", record_id)
            if (
                rec
                and rec.record is not None
                and ChecklistData.from_record(rec.record, set_name) == data
            ):
                raise NothingToChange("Those are already your answers; nothing was changed.")
            log_records.write(
                conn,
                "checklist",
                record_id,
                data.as_record(),
                reason="Answers updated",
                created_type="answered",
                edited_type="answered",
            )
        return self.checklist(set_name)

    def analyse(
        self,
        *,
        as_of: date | None = None,
        language: str = "en",
        period: analysis.Period | None = None,
    ) -> Analysis:
        """The pattern, as facts and findings (never a verdict, score or level)."""
        with self._file.read() as conn:
            return analysis.analyse(
                conn,
                self.jurisdiction,
                self.timezone,
                as_of=as_of,
                language_code=language,
                period=period,
            )

    # --- evidence files -------------------------------------------------------------------

    def attach(
        self,
        file: Path,
        *,
        incident_id: int | None,
        obtained: str = "",
        note: str = "",
        progress: ProgressFn | None = None,
    ) -> AttachmentView:
        file = file.expanduser()
        if not file.is_file():
            raise AttachmentNotFound(
                f"There is no file at {file}.",
                cause="The path is mistyped, or the file was moved or is on a disk not plugged in.",
                hint="Check the path; you can drag the file into the terminal to fill it in.",
                details={"file": str(file)},
            )
        try:
            stream = file.open("rb")
        except OSError as exc:
            raise AttachmentNotFound(
                f"The file {file} could not be read.",
                cause=exc.strerror,
                hint="Check that you are allowed to read it.",
            ) from exc
        with stream:
            return self.attach_stream(
                stream,
                name=file.name,
                incident_id=incident_id,
                obtained=obtained,
                note=note,
                progress=progress,
            )

    def attach_stream(
        self,
        stream: BinaryIO,
        *,
        name: str,
        incident_id: int | None,
        obtained: str = "",
        note: str = "",
        progress: ProgressFn | None = None,
    ) -> AttachmentView:
        """Store a file read from ``stream`` (an upload, say) as evidence; the stream need not
        be seekable and is read once."""
        media_type, stream = media.sniff_stream(stream)
        with self._write() as conn:
            attachment_id = records.add_attachment(
                conn,
                stream,
                name=name,
                media_type=media_type,
                incident_id=incident_id,
                obtained=obtained.strip(),
                note=note.strip(),
                progress=progress,
            )
            return records.get_attachment(conn, attachment_id)

    # --- imported exports -------------------------------------------------------------------

    def import_file(
        self,
        file: Path,
        *,
        format: str | None = None,
        person: int | None = None,
        me: tuple[str, ...] = (),
        timezone: str | None = None,
        day_first: bool | None = None,
        partial: bool = False,
        mapping: tuple[tuple[str, str], ...] = (),
        name: str | None = None,
        progress: importer.Progress | None = None,
    ) -> importer.Summary:
        """Import one export file (see ``docket.importer``). ``name`` is the file's name as the
        user knows it; ``mapping`` names the columns for the mapped CSV importer."""
        file = file.expanduser()
        shown = name or file.name
        if not file.is_file():
            raise ImportFileNotFound(
                f"There is no file at {file}.",
                cause="The path is mistyped, or the file was moved or is on a disk not plugged in.",
                hint="Check the path; you can drag the file into the terminal to fill it in.",
                location=Location(file=str(file)),
            )
        size = file.stat().st_size

        def hashing(done: int) -> None:
            if progress is not None:
                progress("Checking the file", done, size, 0)

        sha = importer.file_sha256(file, hashing)
        with self._file.read() as conn:
            earlier = importer.find_source(conn, sha)
            if person is not None:
                records.get_person(conn, person)
        if earlier is not None:
            return importer.Summary.already(shown, earlier)
        source = importer.Source(file)
        chosen = importer.choose(importer.Probe.of(source, shown), format)
        options = self._import_options(format, person, me, timezone, day_first, partial, mapping)
        with self._write() as conn:
            return importer.run(
                conn, source, options, sha256=sha, importer=chosen, name=shown, progress=progress
            )

    def _import_options(
        self,
        format: str | None,
        person: int | None,
        me: tuple[str, ...],
        timezone: str | None,
        day_first: bool | None,
        partial: bool,
        mapping: tuple[tuple[str, str], ...],
    ) -> importer.Options:
        return importer.Options(
            format=format,
            person_id=person,
            me=me,
            timezone=timezone or self.timezone,
            region=self.region,
            day_first=day_first,
            partial=partial,
            mapping=mapping,
        )

    def import_stream(
        self,
        stream: BinaryIO,
        *,
        name: str,
        format: str | None = None,
        person: int | None = None,
        me: tuple[str, ...] = (),
        timezone: str | None = None,
        day_first: bool | None = None,
        partial: bool = False,
        mapping: tuple[tuple[str, str], ...] = (),
        progress: importer.Progress | None = None,
    ) -> importer.Summary:
        """Import an export read once from ``stream`` (an upload): its bytes go straight into
        the encrypted store, and the importer reads them back from there, so no plaintext copy
        is ever written to disk. All in one transaction: a failure leaves the diary as it was."""

        def receiving(done: int) -> None:
            if progress is not None:
                progress("Receiving the file", done, 0, 0)

        try:
            with self._write() as conn:
                if person is not None:
                    records.get_person(conn, person)
                stored = blobs.put_stream(conn, stream, progress=receiving)
                earlier = importer.find_source(conn, stored.sha256)
                if earlier is not None:
                    raise _AlreadyImported(earlier)
                source = importer.Source(
                    opener=lambda: cast(
                        BinaryIO, io.BufferedReader(blobs.BlobReader(conn, stored.sha256))
                    ),
                    length=stored.size,
                )
                chosen = importer.choose(importer.Probe.of(source, name), format)
                options = self._import_options(
                    format, person, me, timezone, day_first, partial, mapping
                )
                return importer.run(
                    conn,
                    source,
                    options,
                    sha256=stored.sha256,
                    importer=chosen,
                    name=name,
                    progress=progress,
                    stored=stored,
                )
        except _AlreadyImported as already:
            return importer.Summary.already(name, already.source)

    def messages(
        self,
        *,
        source_id: int | None = None,
        person_id: int | None = None,
        limit: int | None = None,
        newest_first: bool = False,
    ) -> list[timeline.MessageView]:
        with self._file.read() as conn:
            return timeline.messages(
                conn,
                source_id=source_id,
                person_id=person_id,
                limit=limit,
                newest_first=newest_first,
            )

    def sources(self) -> list[dict[str, Any]]:
        with self._file.read() as conn:
            return timeline.sources(conn)

    def message(self, message_id: int) -> timeline.MessageView:
        with self._file.read() as conn:
            return timeline.message(conn, message_id)

    def message_file(self, message_id: int, idx: int) -> dict[str, Any]:
        """The file in place ``idx`` (from 0) of an imported message, as its attachments list
        it (name, media type, size, SHA-256), when the diary holds its bytes."""
        files = self.message(message_id).attachments
        found = files[idx] if 0 <= idx < len(files) else None
        if found is None or not found.get("sha256"):
            raise RecordNotFound(
                f"Message {message_id} has no file kept in place {idx + 1}.",
                cause="The export named the file but did not include it, or there is no such file.",
                hint="The message's page lists its files.",
            )
        return found

    def iter_message_file(self, message_id: int, idx: int) -> Iterator[bytes]:
        """The bytes of a file that came with an imported message, exactly as imported."""
        sha256 = bytes.fromhex(self.message_file(message_id, idx)["sha256"])
        with self._file.read() as conn:
            yield from blobs.iter_blob(conn, sha256)

    def message_context(self, message_id: int, around: int = 5) -> list[timeline.MessageView]:
        with self._file.read() as conn:
            return timeline.context(conn, message_id, around)

    def timeline(self, f: timeline.TimelineFilter) -> list[TimelineEntry]:
        """One page of incidents and messages together, newest first."""
        with self._file.read() as conn:
            rows = timeline.rows(conn, f)
            out = []
            for r in rows:
                if r.kind == 0:
                    out.append(TimelineEntry(r, records.get_incident(conn, r.id), None))
                else:
                    out.append(TimelineEntry(r, None, timeline.message(conn, r.id)))
            return out

    def search(self, text: str, *, limit: int = 50) -> SearchResults:
        """Incidents and messages whose words match ``text`` (each word, or the start of one)."""
        with self._file.read() as conn:
            message_hits, incident_hits, total = search.search(conn, text, limit=limit)
            return SearchResults(
                text=text,
                message_total=total,
                messages=[(h, timeline.message(conn, h.id)) for h in message_hits],
                incidents=[(h, records.get_incident(conn, h.id)) for h in incident_hits],
            )

    def assign_sender(
        self, person_id: int, kind: str, platform: str, value: str, raw: str
    ) -> PersonView:
        """Record that a sender from an import (a number, address or account) is this person."""
        ident = Identifier(kind, value, platform=platform, as_given=raw)

        def add(data: PersonData) -> PersonData:
            if ident in data.identifiers:
                return data
            return dataclasses.replace(data, identifiers=(*data.identifiers, ident))

        return self.edit_person(person_id, add, f"Linked to the sender {raw!r} of an import")

    def attachment(self, attachment_id: int) -> AttachmentView:
        with self._file.read() as conn:
            return records.get_attachment(conn, attachment_id)

    def attachments(self) -> list[AttachmentView]:
        with self._file.read() as conn:
            return records.list_attachments(conn)

    def iter_attachment(self, attachment_id: int) -> Iterator[bytes]:
        with self._file.read() as conn:
            view = records.get_attachment(conn, attachment_id)
            if view.redacted:
                raise RecordRedacted(f"The file in attachment {attachment_id} was removed by you.")
            yield from blobs.iter_blob(conn, bytes.fromhex(view.sha256))

    def save_attachment(self, attachment_id: int, out: Path) -> Path:
        """Write the original bytes to ``out`` (which must not exist), whole or not at all."""
        out = out.expanduser()
        if out.exists():
            raise DiaryExists(
                f"{out} already exists; Docket will not overwrite it.",
                hint="Choose a new file name.",
            )
        return outfiles.write_private(out, self.iter_attachment(attachment_id), overwrite=False)

    # --- the diary as a whole -------------------------------------------------------------

    def summary(self) -> Summary:
        with self._file.read() as conn:
            c = records.counts(conn)
            first, latest, by_cat = records.incident_span(conn)
        days = None
        if latest:
            # calendar days in the diary's zone: yesterday evening is "1 day ago"
            tz = timeparse.zone(self.timezone)
            then = datetime.fromisoformat(latest.replace("Z", "+00:00")).astimezone(tz).date()
            days = max(0, (datetime.now(tz).date() - then).days)
        return Summary(
            path=str(self._file.path or self._file.label),  # a case on a server has no file
            diary_id=self.diary_id,
            jurisdiction=self.jurisdiction.name,
            created_at=self._meta["created_at"],
            entries=c["entries"],
            incidents=c["incidents"],
            people=c["people"],
            attachments=c["attachments"],
            evidence_bytes=c["evidence_bytes"],
            redactions=c["redactions"],
            first_incident=first,
            latest_incident=latest,
            days_since_latest=days,
            by_category=by_cat,
        )

    def change_passphrase(self, new_passphrase: str) -> None:
        self._diary_file("Changing the passphrase").rekey(new_passphrase)

    def backup(self, target: Path) -> Snapshot:
        return self._diary_file("A backup").backup(target)

    def default_backup_path(self) -> Path:
        stamp = datetime.now(UTC).strftime("%Y-%m-%d-%H%M%S")
        return self.path.with_name(f"{self.path.stem}-backup-{stamp}{self.path.suffix}")

    # --- the tamper-evident log ------------------------------------------------------------

    def key(self) -> Verifier:
        """The verifier key of the diary's signing key, to hand over separately."""
        with self._file.read() as conn:
            return log.verifier(conn)

    def integrity_summary(self) -> dict[str, Any]:
        """What a report's cover says about the log: its size, the latest checkpoint and its
        root, the key and its fingerprint, and the trusted timestamps obtained."""
        with self._file.read() as conn:
            verifier = log.verifier(conn)
            cp = log.latest_checkpoint(conn)
            stamps = [
                {"size": size, "url": url, "gen_time": gen}
                for size, url, gen in log.raw_connection(conn).execute(
                    "SELECT checkpoint_size, url, gen_time FROM timestamp "
                    "WHERE status = 'granted' ORDER BY checkpoint_size, id"
                )
            ]
            size = log.size(conn)
        return {
            "log_size": size,
            "root_hex": cp.root.hex() if cp else "",
            "checkpoint": cp.note if cp else "",
            "checkpoint_size": cp.size if cp else 0,
            "checkpoint_at": cp.created_at if cp else "",
            "key": verifier.encode(),
            "fingerprint": verifier.fingerprint(),
            "timestamps": stamps,
        }

    def export(
        self,
        out: Path,
        selection: bundle.Selection,
        *,
        recipient: str,
        purpose: str = "",
        audience: str = "police",
        passphrase: str | None = None,
    ) -> bundle.ExportResult:
        """Write an evidence bundle of the selected entries to ``out``, after recording in the
        log what goes out and to whom (docs/bundle-format.md)."""
        if not recipient.strip():
            raise InputError(
                "Please say who the bundle is for.",
                cause="Every export is recorded in the diary: what was given, to whom, and when.",
                hint="For example --to 'Kent Police, PC 1234 Smith'.",
            )
        with self._file.read() as conn:
            names = {c.code: c.name for c in self.jurisdiction.categories}
            planned = bundle.plan(conn, selection, self.timezone, names)
        if not planned.incident_ids and not planned.message_ids:
            raise InputError(
                "Nothing matches that selection, so there is nothing to export.",
                hint="'docket list' shows the incidents; check the numbers, person, "
                "categories and dates you gave.",
            )
        built = report.build(
            self,
            report.ReportOptions(
                audience=audience, only=tuple(planned.incident_ids), prepared_by=""
            ),
        )
        reports = {
            "report.pdf": report.render_pdf(built),
            "report.html": report.render_html(built).encode("utf-8"),
        }
        with self._write() as conn:
            reading = bundle.texts(planned, log.size(conn) + 1)
            export_id = log_records.next_id(conn, "export")
            e = log_records.write(
                conn,
                "export",
                export_id,
                bundle.export_record(planned, recipient, purpose, audience, reports, reading),
                created_type="made",
            )
        with self._file.read() as conn:
            return bundle.write(
                conn,
                out,
                planned,
                e.seq,
                e.recorded_at,
                reports,
                reading,
                recipient,
                purpose,
                audience,
                passphrase,
            )

    def checkpoint(
        self, timestamp_urls: list[str] | None = None, tsa_root_pem: bytes | None = None
    ) -> CheckpointOutcome:
        """Sign a checkpoint for the log as it is now; with URLs, ask each authority for a
        trusted timestamp over it (queued for later if an authority cannot be reached)."""
        roots = timestamp.load_roots(tsa_root_pem) if tsa_root_pem else None
        with self._write() as conn:
            cp = log.seal(conn)
            assert cp is not None  # a diary always has at least its log.key entry
            ids = []
            for url in timestamp_urls or []:
                prepared = timestamp.prepare(cp.note.encode("utf-8"))
                ids.append(
                    log.queue_timestamp(
                        conn,
                        cp.size,
                        url,
                        prepared.der,
                        prepared.nonce,
                        tsa_root_pem.decode("ascii") if tsa_root_pem else None,
                    )
                )
        results = self._send_timestamps(ids, roots) if ids else []
        return CheckpointOutcome(cp.size, cp.root, cp.note, results)

    def retry_timestamps(self) -> list[TimestampOutcome]:
        """Send every queued timestamp request again."""
        return self._send_timestamps(None, None)

    def _send_timestamps(
        self, ids: list[int] | None, roots: list[x509.Certificate] | None
    ) -> list[TimestampOutcome]:
        with self._file.read() as conn:
            pending = [p for p in log.pending_timestamps(conn) if ids is None or p.id in ids]
        outcomes = []
        for p in pending:
            use_roots = roots or (timestamp.load_roots(p.tsa_root.encode()) if p.tsa_root else None)
            try:
                response = timestamp.send(p.url, p.request)
                checked = timestamp.check(response, p.note.encode("utf-8"), p.nonce, use_roots)
            except timestamp.Unreachable as exc:
                with self._file.write() as conn:
                    log.finish_timestamp(conn, p.id, status="queued", error=str(exc))
                outcomes.append(
                    TimestampOutcome(p.checkpoint_size, p.url, "queued", None, str(exc))
                )
                continue
            except timestamp.TimestampError as exc:
                with self._file.write() as conn:
                    log.finish_timestamp(conn, p.id, status="failed", error=str(exc))
                outcomes.append(
                    TimestampOutcome(p.checkpoint_size, p.url, "failed", None, str(exc))
                )
                continue
            gen = checked.gen_time.isoformat()
            with self._file.write() as conn:
                log.finish_timestamp(conn, p.id, status="granted", response=response, gen_time=gen)
            outcomes.append(
                TimestampOutcome(p.checkpoint_size, p.url, "granted", gen, checked.detail)
            )
        return outcomes

    def verify(
        self,
        *,
        since: bytes | None = None,
        since_vkey: str | None = None,
        tsa_roots_pem: bytes | None = None,
        progress: Callable[[int, int], None] | None = None,
    ) -> integrity.Report:
        """Recompute and check everything in the diary (see ``docket.integrity``)."""
        since_arg = None
        if since is not None:
            since_arg = integrity.Since(since, Verifier.parse(since_vkey) if since_vkey else None)
        roots = timestamp.load_roots(tsa_roots_pem) if tsa_roots_pem else None
        with self._file.read() as conn:
            return integrity.verify(conn, since=since_arg, tsa_roots=roots, progress=progress)

    def check_file(self) -> list[str]:
        """Page-level checks of the encrypted file (HMAC of every page, SQLite structure)."""
        return self._diary_file("The file check").integrity_problems()


_ORDER = {"what": "order", "hint": "'docket order list' shows the orders in the diary."}


class _Recorded(Protocol):
    def as_record(self) -> dict[str, Any]: ...


_D = TypeVar("_D", bound=_Recorded)


@dataclasses.dataclass(frozen=True)
class LogRecordView(Generic[_D]):
    """A record kept only in the log (an order, a witness account) at its current version."""

    id: int
    version: int
    recorded_at: str
    updated_at: str
    data: _D

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "version": self.version,
            "recorded_at": self.recorded_at,
            "updated_at": self.updated_at,
            **self.data.as_record(),
        }


OrderView = LogRecordView[OrderData]
WitnessAccountView = LogRecordView[WitnessAccountData]


def _order_view(rec: log_records.LogRecord) -> OrderView:
    assert rec.record is not None
    return OrderView(
        rec.id, rec.version, rec.recorded_at, rec.updated_at, OrderData.from_record(rec.record)
    )


_CHECKLISTS = {"risk": 1, "accounts": 2}  # each set is one record: checklist/1, checklist/2

_WITNESS = {
    "what": "witness account",
    "hint": "'docket witness list' shows the witness accounts in the diary.",
}


def _witness_view(rec: log_records.LogRecord) -> WitnessAccountView:
    assert rec.record is not None
    return WitnessAccountView(
        rec.id,
        rec.version,
        rec.recorded_at,
        rec.updated_at,
        WitnessAccountData.from_record(rec.record),
    )


@dataclasses.dataclass(frozen=True)
class ChecklistView:
    data: ChecklistData
    updated_at: str | None  # None: never answered
    version: int


@dataclasses.dataclass(frozen=True)
class TimelineEntry:
    row: timeline.TimelineRow
    incident: IncidentView | None
    message: timeline.MessageView | None


@dataclasses.dataclass(frozen=True)
class SearchResults:
    text: str
    message_total: int
    messages: list[tuple[search.Hit, timeline.MessageView]]
    incidents: list[tuple[search.Hit, IncidentView]]


class _AlreadyImported(Exception):
    """The upload is a file imported before: rolls the stored copy back."""

    def __init__(self, source: Any) -> None:
        super().__init__("already imported")
        self.source = source


@dataclasses.dataclass(frozen=True)
class TimestampOutcome:
    checkpoint_size: int
    url: str
    status: str  # granted | queued | failed
    gen_time: str | None
    detail: str | None


@dataclasses.dataclass(frozen=True)
class CheckpointOutcome:
    size: int
    root: bytes
    note: str
    timestamps: list[TimestampOutcome]
