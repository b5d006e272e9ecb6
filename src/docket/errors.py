"""The one exception tree: every failure Docket reports, with a stable code, a plain message,
the likely cause, what to do next, and where (file and line, or record) when that is known.

Front ends map these in one place each (``cli/errors.py`` for the terminal). Nothing here may
contain diary content: messages name files, fields and record numbers, never what was written.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar


@dataclass(frozen=True)
class Location:
    """Where the problem is: a file (and line or byte offset), or a record in the diary."""

    file: str | None = None
    line: int | None = None
    offset: int | None = None
    record: str | None = None

    def __str__(self) -> str:
        parts: list[str] = []
        if self.file:
            parts.append(self.file)
        if self.line is not None:
            parts.append(f"line {self.line}")
        if self.offset is not None:
            parts.append(f"byte {self.offset}")
        if self.record:
            parts.append(self.record)
        return ", ".join(parts)

    def as_dict(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if v is not None}


class DocketError(Exception):
    """Base of every error Docket reports to a person.

    ``code`` is stable (scripts and translations rely on it); ``message`` says what happened,
    ``cause`` the likely cause, ``hint`` what to do. ``exit_code`` follows the CLI contract:
    2 for usage or input errors, 1 for integrity failures.
    """

    code: ClassVar[str] = "error"
    exit_code: ClassVar[int] = 2

    def __init__(
        self,
        message: str,
        *,
        cause: str | None = None,
        hint: str | None = None,
        location: Location | None = None,
        details: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.cause = cause
        self.hint = hint
        self.location = location
        self.details = details or {}

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.cause:
            out["cause"] = self.cause
        if self.hint:
            out["hint"] = self.hint
        if self.location:
            out["location"] = self.location.as_dict()
        if self.details:
            out["details"] = self.details
        return out


# --- the diary file -------------------------------------------------------------------------


class DiaryFileError(DocketError):
    """A problem with the diary file itself."""

    code = "diary_file"


class DiaryNotFound(DiaryFileError):
    code = "diary_not_found"


class DiaryExists(DiaryFileError):
    code = "diary_exists"


class WrongPassphrase(DiaryFileError):
    code = "wrong_passphrase"


class NotADiary(DiaryFileError):
    code = "not_a_diary"


class DiaryDamaged(DiaryFileError):
    code = "diary_damaged"
    exit_code = 1


class DiaryTooNew(DiaryFileError):
    code = "diary_too_new"


class DiaryBusy(DiaryFileError):
    code = "diary_busy"


class PassphraseRejected(DocketError):
    """A new passphrase that does not meet the minimum, or a confirmation that did not match."""

    code = "passphrase_rejected"


class PassphraseUnavailable(DocketError):
    code = "passphrase_unavailable"


# --- input ----------------------------------------------------------------------------------


class InputError(DocketError):
    """Something the person typed or supplied cannot be used as it is."""

    code = "invalid_input"


class InvalidDate(InputError):
    code = "invalid_date"


class UnknownCategory(InputError):
    code = "unknown_category"


class UnknownChoice(InputError):
    code = "unknown_choice"


class InvalidIdentifier(InputError):
    code = "invalid_identifier"


class AttachmentNotFound(InputError):
    code = "attachment_file_not_found"


class RecordNotFound(InputError):
    code = "record_not_found"


class RecordRedacted(InputError):
    code = "record_redacted"


class NothingToChange(InputError):
    code = "nothing_to_change"


class ConfigError(InputError):
    code = "config_invalid"


class JurisdictionError(DocketError):
    code = "jurisdiction_invalid"


# --- importing exports ------------------------------------------------------------------------


class ImportFailed(InputError):
    """Base of errors about a file given to ``docket import``."""

    code = "import_failed"


class ImportFileNotFound(ImportFailed):
    code = "import_file_not_found"


class UnknownFormat(ImportFailed):
    """No importer recognised the file (or the one asked for does not exist)."""

    code = "import_unknown_format"


class ImportFormatError(ImportFailed):
    """The file as a whole cannot be read as the format: truncated, damaged, or not that
    format at all. Raised by an importer; the pipeline rolls the import back."""

    code = "import_unreadable"


class ImportTooLarge(ImportFailed):
    """A zip that would expand beyond safe limits, or a line too long to be a message."""

    code = "import_too_large"


# --- tech-safety checks ---------------------------------------------------------------------


class SafetyCheckError(InputError):
    """Base of errors about the tech-safety checks (phone app lists, indicators, photos)."""

    code = "safety_check_failed"


class IndicatorFileError(SafetyCheckError):
    """An indicator file that cannot be read: not YAML, or not the Echap layout."""

    code = "indicator_file_invalid"


class NoIndicators(SafetyCheckError):
    """A phone check was asked for before any indicator file was loaded."""

    code = "indicators_missing"


class PhoneListUnreadable(SafetyCheckError):
    """A file given as a phone's app list that is none of the shapes Docket reads."""

    code = "phone_list_unreadable"


class AdbFailed(SafetyCheckError):
    """adb is missing, no phone is connected, or the phone did not answer."""

    code = "adb_failed"


class IndicatorDownloadFailed(SafetyCheckError):
    """``docket safety indicators update`` could not fetch the upstream files."""

    code = "indicator_download_failed"


class PhotoCheckError(SafetyCheckError):
    """A photo folder or a cleaned copy that could not be read or written."""

    code = "photo_check_failed"


# --- server mode -----------------------------------------------------------------------------


class ServerError(DocketError):
    code = "server"


class ServerConfigError(ServerError):
    code = "server.config"


class DatabaseUnavailable(ServerError):
    code = "server.database"


class CaseNotFound(ServerError):
    code = "server.case_not_found"


class NotAllowed(ServerError):
    """The account may not do this (or see this case). Says no more than that."""

    code = "server.not_allowed"


class VictimHasCase(InputError):
    """A victim's account already has its one case."""

    code = "server.victim_has_case"


class CopyRefused(ServerError):
    """A diary was not copied into a case, or a case out to a file: the target was not new,
    a row could not be written, or the copy did not check out. Nothing was kept."""

    code = "server.copy_refused"


class LoginFailed(ServerError):
    code = "server.login_failed"


class AccountLocked(LoginFailed):
    code = "server.account_locked"


class NotSupportedHere(DocketError):
    """The action exists for a diary file but not for this store (or the other way round)."""

    code = "not_supported"
