"""Android phone check: read what a person can get from their own phone (an app list, the
package details, a bug report, certificate listings or an app's .apk file), recognise which of
these it is from its content, and compare the apps and signing certificates with the known
stalkerware and watchware indicators.

Everything is read as a stream with fixed limits, so a 100 MB bug report or a zip bomb cannot
exhaust memory. A check can only say whether a *known* indicator was found; the wording
constants below are the words the front ends use to say so.
"""

from __future__ import annotations

import hashlib
import io
import re
import struct
import zipfile
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path, PurePosixPath
from typing import IO, Any

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding, pkcs7
from cryptography.x509.oid import NameOID

from docket.errors import Location, NoIndicators, PhoneListUnreadable
from docket.safety.indicators import ATTRIBUTION, App, IndicatorSet

# --- limits -----------------------------------------------------------------------------------

PROBE_BYTES = 64 * 1024
MAX_LINE_CHARS = 64 * 1024
MAX_ZIP_MEMBERS = 200_000
MAX_SMALL_MEMBER = 8 * 1024 * 1024  # main_entry.txt, AndroidManifest.xml, META-INF/*.RSA
MAX_SIGNING_BLOCK = 64 * 1024 * 1024
MAX_BAD_LINES = 5  # a list with more unrecognised lines than this (and > 10%) is refused
MAX_LISTED_BAD_LINES = 50  # stray lines named one by one in the warnings
MAX_PACKAGES = 100_000  # a phone holds a few hundred apps; several users a few thousand
MAX_CERTIFICATES = 100_000
MAX_V1_SIGNATURE_FILES = 16  # META-INF/*.RSA|DSA|EC read from one .apk (real apps have 1 or 2)


@dataclass(frozen=True)
class Limits:
    """How much Docket reads from one input. A text stream (a file, or one member of a zip)
    is cut off at ``max_text_bytes``; a zip member that says it would expand to more than
    ``max_member_bytes``, or to more than ``max_ratio`` times its compressed size once it is
    bigger than ``ratio_floor``, is refused before anything is decompressed; an unseekable
    zip is held in memory up to ``max_spool_bytes``."""

    max_text_bytes: int = 1024 * 1024 * 1024
    max_member_bytes: int = 1024 * 1024 * 1024
    max_ratio: int = 100
    ratio_floor: int = 64 * 1024 * 1024
    max_spool_bytes: int = 256 * 1024 * 1024


DEFAULT_LIMITS = Limits()

# --- wording for the front ends (calm British English; see DESIGN §3) --------------------------

FOUND_TITLE = "A known indicator was found"
NOT_FOUND_TITLE = "No known indicator was found"

NOT_FOUND_MEANS = (
    "This does not mean there is nothing on the phone. The indicator list only holds apps "
    "that people have found and reported, and this check cannot see everything (see below). "
    "The commonest sign that someone is monitoring you is that they know things they should "
    "not know: where you have been, what you said in messages, or who you have talked to. If "
    "that is happening, trust what you have noticed, and talk to the National Stalking "
    "Helpline on 0808 802 0300 or to an advocate."
)

SAFETY_WARNING = (
    "Please read this before you do anything about what was found. Removing an app like this "
    "can alert the person who installed it, and that may make things more dangerous for you. "
    "Speak to the National Stalking Helpline on 0808 802 0300, or to an advocate, first, so "
    "that you can plan for your safety together. Keep a record: Docket has kept this check in "
    "your diary. When you look for help, consider using a phone or computer the other person "
    "has never had access to. If you are in danger now, call 999 (or 911 in the US)."
)

REMOVAL_ADVICE = (
    "When you and the person helping you have a plan, they can help you decide whether and "
    "when to remove the app. Before anything is removed, make a note of what was found (this "
    "check is already in your diary) and keep any screenshots you have. An app that is a "
    "device administrator has to be switched off as one (Settings, Security, Device admin "
    "apps) before it can be uninstalled. A factory reset removes everything on the phone, "
    "including evidence, so keep copies first. Afterwards, change the passwords of your "
    "Google account, email and other accounts from a device the other person has never had "
    "access to, and check which devices are signed in to those accounts."
)

WATCHWARE_NOTE = (
    "is sold to parents or employers for monitoring a phone openly; it can also be used to "
    "monitor someone without their agreement"
)

NAME_ONLY_NOTE = (
    "Found by its package name. An unrelated app could, rarely, use the same name; a match on "
    "the app's signing certificate (read from its .apk file) is firmer."
)

SIDELOADED_NOTE = (
    "These apps were installed from outside an app store. That is common and is not in itself "
    "a sign of anything; they are listed so that you and an advocate can look at them."
)

SYSTEM_UNKNOWN_NOTE = (
    "The app list does not say which apps came with the phone, so some of these may be built "
    "in. The list from 'adb shell pm list packages -f -i -U' or a bug report says which."
)

PERMISSIONS_UNKNOWN_NOTE = (
    "The file checked does not show what each app has been allowed to do; a bug report or "
    "'adb shell dumpsys package' does."
)

CANNOT_SEE: tuple[str, ...] = (
    "Apps that are not on the indicator list, including new or custom-made spying apps.",
    "An app that has been renamed, unless its signing certificate is checked (that needs "
    "the app's .apk file or a certificate listing, not just the app list).",
    "iPhones and iPads: this check reads Android phones only.",
    "Someone using your accounts through the web or another device, such as your Google, "
    "Apple, email or social-media accounts, or a shared cloud backup.",
    "Bluetooth trackers, such as AirTags or Tiles, hidden in a bag, a coat or a car.",
    "Where the phone connects to on the internet: the network addresses in the indicator "
    "list are not checked.",
    "Location sharing switched on in ordinary apps, such as Google Maps, or a shared "
    "family account.",
)

HINT_COMMANDS = (
    "Docket reads these, made with the phone connected to a computer (USB debugging on): "
    "the app list from 'adb shell pm list packages -f -i -U > apps.txt'; the app details "
    "from 'adb shell dumpsys package > packages.txt'; a bug report from 'adb bugreport "
    "bugreport.zip' (or Developer options, Take bug report, on the phone); certificate "
    "details from 'apksigner verify --print-certs app.apk' or 'keytool -printcert -jarfile "
    "app.apk'; or an app's .apk file itself (find it with 'adb shell pm path NAME', copy it "
    "with 'adb pull'). Give the file as it was saved, without editing it."
)

# Installers that are app stores. Anything else (a file manager, the package installer,
# adb, or none recorded) means the app was installed from outside a store.
STORE_INSTALLERS: frozenset[str] = frozenset(
    {
        "com.android.vending",  # Google Play
        "com.google.android.feedback",  # Google Play, older phones
        "com.amazon.venezia",  # Amazon Appstore
        "com.sec.android.app.samsungapps",  # Galaxy Store
        "com.huawei.appmarket",  # Huawei AppGallery
        "com.hihonor.appmarket",  # Honor App Market
        "com.xiaomi.market",  # Xiaomi GetApps
        "com.xiaomi.mipicks",
        "com.heytap.market",  # OPPO / OnePlus / realme
        "com.oppo.market",
        "com.bbk.appstore",  # vivo
        "com.transsion.phoenix",  # Palm Store (Tecno, Infinix, itel)
        "org.fdroid.fdroid",  # F-Droid
        "org.fdroid.basic",
        "com.aurora.store",  # Aurora Store (Google Play)
    }
)

INSTALLER_WORDS: dict[str, str] = {
    "com.google.android.packageinstaller": "installed from an .apk file on the phone",
    "com.android.packageinstaller": "installed from an .apk file on the phone",
    "com.android.shell": "installed from a computer (adb)",
}

# Android permission → plain words. Only permissions the app has been *granted* are shown.
# Accessibility services, notification access and device administration are not permissions
# an app is granted (BIND_ACCESSIBILITY_SERVICE and the like protect the app's own service),
# so they are read from the bug report's settings sections instead (the ROLE_ words below).
NOTABLE_PERMISSIONS: dict[str, str] = {
    "android.permission.ACCESS_FINE_LOCATION": "see the phone's precise location",
    "android.permission.ACCESS_COARSE_LOCATION": "see the phone's approximate location",
    "android.permission.ACCESS_BACKGROUND_LOCATION": "see the location while the app is not open",
    "android.permission.READ_SMS": "read text messages",
    "android.permission.RECEIVE_SMS": "receive text messages",
    "android.permission.SEND_SMS": "send text messages",
    "android.permission.RECEIVE_MMS": "receive picture messages",
    "android.permission.READ_CALL_LOG": "read the call log",
    "android.permission.PROCESS_OUTGOING_CALLS": "see outgoing calls",
    "android.permission.RECORD_AUDIO": "use the microphone",
    "android.permission.CAMERA": "use the camera",
}

# What a bug report shows as switched on for an app, beyond permissions.
ROLE_ACCESSIBILITY = "is switched on as an accessibility service (it can read the screen)"
ROLE_NOTIFICATIONS = "has notification access (it can read notifications as they arrive)"
ROLE_DEVICE_ADMIN = "is a device administrator (this makes it harder to uninstall)"
ROLES: tuple[str, ...] = (ROLE_ACCESSIBILITY, ROLE_NOTIFICATIONS, ROLE_DEVICE_ADMIN)

# --- results ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class PackageInfo:
    """One app as the phone described it. ``installer`` is the package that installed it
    (None when none was recorded or the input does not say: see ``installer_known``);
    ``permissions`` are the permissions it has been granted (empty when the input does not
    show them); ``roles`` what a bug report shows as switched on for it (accessibility
    service, notification access, device administrator); ``line`` is its line in the input
    (0 for an .apk file)."""

    name: str
    installer: str | None = None
    uid: int | None = None
    path: str | None = None
    first_install: str | None = None
    last_update: str | None = None
    version: str | None = None
    system: bool = False
    permissions: tuple[str, ...] = ()
    line: int = 0
    installer_known: bool = False
    roles: tuple[str, ...] = ()


@dataclass(frozen=True)
class CertInfo:
    """A signing certificate: SHA-1 of its DER bytes (upper-case hex, no colons), its
    subject's organisation (O) and common name (CN), the app it belongs to when the input
    says, and its line in the input (0 for an .apk file)."""

    sha1: str
    subject_o: str | None = None
    subject_cn: str | None = None
    package: str | None = None
    line: int = 0


@dataclass(frozen=True)
class Inventory:
    """What was read from one input. ``shape`` is "pm_list", "dumpsys", "bugreport",
    "print_certs" or "apk"; ``name`` the file name given."""

    shape: str
    packages: tuple[PackageInfo, ...]
    certificates: tuple[CertInfo, ...]
    warnings: tuple[str, ...] = ()
    name: str = ""

    @property
    def shows_permissions(self) -> bool:
        return self.shape in ("dumpsys", "bugreport")

    @property
    def shows_system(self) -> bool:
        return self.shape in ("dumpsys", "bugreport") or any(p.path for p in self.packages)


@dataclass(frozen=True)
class Match:
    """One indicator that matched. ``how`` is "package name", "signing certificate",
    "certificate organisation" or "certificate name"; ``indicator`` the value that matched
    (the package name, the SHA-1, the organisation or the name pattern); ``line`` the line in
    the input (0 for an .apk file); ``notable`` plain words for the powerful permissions and
    roles the app holds, when the input shows them."""

    app: str
    type: str
    how: str
    indicator: str
    package: str | None
    line: int
    installer: str | None
    sideloaded: bool | None
    notable: tuple[str, ...]
    indicator_file: str
    indicator_line: int

    def as_dict(self) -> dict[str, Any]:
        return {
            "app": self.app,
            "type": self.type,
            "how": self.how,
            "indicator": self.indicator,
            "package": self.package,
            "line": self.line,
            "installer": self.installer,
            "sideloaded": self.sideloaded,
            "notable": list(self.notable),
            "indicator_file": self.indicator_file,
            "indicator_line": self.indicator_line,
        }


@dataclass(frozen=True)
class CheckResult:
    """The outcome of comparing one input with an indicator set: facts only."""

    source: str
    shape: str
    matches: tuple[Match, ...]
    packages_checked: int
    certificates_checked: int
    indicator_fingerprint: str
    indicator_counts: dict[str, int]
    indicator_files: tuple[tuple[str, str], ...]  # (name, sha256)
    sideloaded: tuple[PackageInfo, ...]
    shows_system: bool
    shows_permissions: bool
    cannot_see: tuple[str, ...] = CANNOT_SEE
    warnings: tuple[str, ...] = ()

    @property
    def found(self) -> bool:
        return bool(self.matches)

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready record of the check, for the diary."""
        return {
            "found": self.found,
            "source": self.source,
            "shape": self.shape,
            "matches": [m.as_dict() for m in self.matches],
            "packages_checked": self.packages_checked,
            "certificates_checked": self.certificates_checked,
            "indicators": {
                "fingerprint": self.indicator_fingerprint,
                "counts": dict(self.indicator_counts),
                "files": [{"name": n, "sha256": h} for n, h in self.indicator_files],
            },
            "sideloaded": [
                {"package": p.name, "installer": p.installer, "line": p.line}
                for p in self.sideloaded
            ],
            "shows_system": self.shows_system,
            "shows_permissions": self.shows_permissions,
            "cannot_see": list(self.cannot_see),
            "warnings": list(self.warnings),
        }

    def to_dict(self) -> dict[str, Any]:
        """The same as :meth:`as_dict` (plain types only, ready for ``json.dumps``)."""
        return self.as_dict()


# --- errors -----------------------------------------------------------------------------------


class _Unreadable(Exception):
    """Raised inside the parsers; turned into PhoneListUnreadable with the file name."""

    def __init__(self, message: str, line: int | None = None, cause: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.line = line
        self.cause = cause


def _unreadable(
    name: str,
    message: str,
    *,
    line: int | None = None,
    cause: str | None = None,
    offset: int | None = None,
) -> PhoneListUnreadable:
    return PhoneListUnreadable(
        message,
        cause=cause
        or "The file is not one of the outputs Docket reads, or it was cut short or edited.",
        hint=HINT_COMMANDS,
        location=Location(file=name, line=line, offset=offset),
    )


# --- streams ----------------------------------------------------------------------------------


class _CappedStream(io.RawIOBase):
    """``head`` followed by the rest of ``inner``, raising once more than ``limit`` bytes
    have been read. Never closes ``inner``."""

    def __init__(self, head: bytes, inner: IO[bytes], limit: int) -> None:
        super().__init__()
        self._head = head
        self._inner = inner
        self._limit = limit
        self.count = 0

    def readable(self) -> bool:
        return True

    def readinto(self, b: Any) -> int:
        view = memoryview(b).cast("B")
        want = len(view)
        if self._head:
            data = self._head[:want]
            self._head = self._head[len(data) :]
        else:
            data = self._inner.read(want)
        self.count += len(data)
        if self.count > self._limit:
            raise _TooLarge(self._limit)
        view[: len(data)] = data
        return len(data)


class _TooLarge(Exception):
    def __init__(self, limit: int) -> None:
        super().__init__(limit)
        self.limit = limit


def _encoding(head: bytes) -> str:
    if head.startswith(b"\xef\xbb\xbf"):
        return "utf-8-sig"
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        return "utf-16"  # PowerShell's ">" writes UTF-16 with a byte-order mark
    sample = head[:512]
    if len(sample) >= 4:
        odd_zeros = sample[1::2].count(0)
        even_zeros = sample[0::2].count(0)
        if odd_zeros > len(sample) // 4 and even_zeros == 0:
            return "utf-16-le"
        if even_zeros > len(sample) // 4 and odd_zeros == 0:
            return "utf-16-be"
    return "utf-8"


class _Lines:
    """Numbered lines of a text stream: line endings (LF, CRLF, or CRCRLF from old Windows
    adb) removed, each at most MAX_LINE_CHARS long (the rest of a longer line is skipped)."""

    def __init__(self, raw: _CappedStream, encoding: str) -> None:
        self._text = io.TextIOWrapper(
            io.BufferedReader(raw, 1 << 16), encoding=encoding, errors="replace", newline="\n"
        )
        self.long_lines = 0
        self.number = 0

    def __iter__(self) -> Iterator[tuple[int, str]]:
        read = self._text.readline
        while True:
            line = read(MAX_LINE_CHARS)
            if not line:
                return
            self.number += 1
            if not line.endswith("\n") and len(line) >= MAX_LINE_CHARS:
                self.long_lines += 1
                while True:
                    more = read(MAX_LINE_CHARS)
                    if not more or more.endswith("\n"):
                        break
            yield self.number, line.rstrip("\n").rstrip("\r")


# --- pm list packages -------------------------------------------------------------------------

_PACKAGE_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]*(?:\.[A-Za-z0-9_]+)*")
_DOTTED_PACKAGE = re.compile(r"[A-Za-z][A-Za-z0-9_]*(?:\.[A-Za-z0-9_]+)+")
_PM_TAIL = re.compile(r"\s+(installer=\S*|uid:\S+|versionCode:\S+|installerPackageName=\S*)\s*$")
_ADB_NOISE = re.compile(
    r"^\s*(?:\* daemon |\* server |adb server |WARNING: linker|WARNING: adb|"
    r"Warning: adb)",
    re.IGNORECASE,
)
_SYSTEM_DIRS = ("/system/", "/product/", "/vendor/", "/system_ext/", "/apex/", "/odm/", "/oem/")


def _installer(value: str) -> str | None:
    value = value.strip()
    return None if value in ("", "null") else value


def _first_int(value: str) -> int | None:
    m = re.match(r"\d+", value)
    return int(m.group(0)) if m else None


def parse_pm_line(text: str, line: int = 0) -> PackageInfo | None:
    """One line of ``pm list packages`` (any of -f, -i, -U, --show-versioncode, in any
    order), or None when it is not a package line."""
    s = text.strip()
    if not s.startswith("package:"):
        return None
    rest = s[len("package:") :]
    installer: str | None = None
    installer_known = False
    uid: int | None = None
    version: str | None = None
    while True:
        m = _PM_TAIL.search(rest)
        if m is None:
            break
        token = m.group(1)
        key, _, value = token.partition("=") if "=" in token else token.partition(":")
        if key in ("installer", "installerPackageName"):
            installer = _installer(value)
            installer_known = True
        elif key == "uid":
            uid = _first_int(value)
        elif key == "versionCode":
            version = value
        rest = rest[: m.start()]
    main = rest.strip()
    path: str | None = None
    if "=" in main:  # -f: the path can itself contain "=", the name is after the last one
        path, _, main = main.rpartition("=")
    if not _PACKAGE_NAME.fullmatch(main):
        return None
    system = path is not None and path.startswith(_SYSTEM_DIRS)
    return PackageInfo(
        name=main,
        installer=installer,
        uid=uid,
        path=path or None,
        version=version,
        system=system,
        line=line,
        installer_known=installer_known,
    )


def _merge(old: PackageInfo, new: PackageInfo) -> PackageInfo:
    """Two lines about the same app (lists joined together, or several users): keep the
    first line and fill in what it lacked."""
    return replace(
        old,
        installer=old.installer if old.installer_known else new.installer,
        installer_known=old.installer_known or new.installer_known,
        uid=old.uid if old.uid is not None else new.uid,
        path=old.path or new.path,
        version=old.version or new.version,
        system=old.system or new.system,
        first_install=old.first_install or new.first_install,
        last_update=old.last_update or new.last_update,
        permissions=tuple(dict.fromkeys(old.permissions + new.permissions)),
        roles=tuple(dict.fromkeys(old.roles + new.roles)),
    )


def _too_many_apps(line: int) -> _Unreadable:
    return _Unreadable(
        f"The file lists more than {MAX_PACKAGES} apps, far more than a phone holds.",
        line,
        "The file may not be from a phone, or several lists were joined together.",
    )


def _parse_pm_list(lines: Iterable[tuple[int, str]], name: str) -> Inventory:
    packages: dict[str, PackageInfo] = {}
    bad: list[int] = []  # the first MAX_LISTED_BAD_LINES only
    bad_count = 0
    error: tuple[int, str] | None = None
    total = 0
    for n, text in lines:
        s = text.strip()
        if not s or _ADB_NOISE.match(s):
            continue
        total += 1
        pkg = parse_pm_line(s, n)
        if pkg is None:
            low = s.lower()
            if error is None and low.startswith(("error:", "adb: error", "exception", "java.")):
                error = (n, s)
            bad_count += 1
            if len(bad) < MAX_LISTED_BAD_LINES:
                bad.append(n)
            continue
        if pkg.name in packages:
            packages[pkg.name] = _merge(packages[pkg.name], pkg)
        elif len(packages) >= MAX_PACKAGES:
            raise _too_many_apps(n)
        else:
            packages[pkg.name] = pkg
    if not packages:
        if error is not None:
            raise _Unreadable(
                "The app list holds an error message from adb instead of a list of apps.",
                error[0],
                f"adb said: {error[1][:200]}",
            )
        raise _Unreadable("The file holds no app names.", bad[0] if bad else None)
    if bad_count > MAX_BAD_LINES and bad_count * 10 > total:
        raise _Unreadable(
            f"{bad_count} of the {total} lines in the app list are not app names.",
            bad[0],
            "The file may have been edited, or other text was saved into it.",
        )
    warnings = [f"line {n}: not an app name, skipped" for n in bad]
    if bad_count > len(bad):
        warnings.append(f"and {bad_count - len(bad)} more lines that are not app names")
    return Inventory("pm_list", tuple(packages.values()), (), tuple(warnings), name)


# --- dumpsys package --------------------------------------------------------------------------

_PKG_BLOCK = re.compile(r"^\s+Package \[([^\]\s]+)\] \(([0-9a-fA-F]+)\):\s*$")
_FIELD = re.compile(r"^\s+([A-Za-z][A-Za-z0-9_]*)=(.*)$")
_PERM_ITEM = re.compile(r"^\s+([A-Za-z0-9_.]+)(?:[:,]\s*(.*))?$")
_DUMPSYS_HEADERS = frozenset(
    {
        "Packages:",
        "Hidden system packages:",
        "Activity Resolver Table:",
        "Receiver Resolver Table:",
        "Service Resolver Table:",
        "Provider Resolver Table:",
        "Database versions:",
        "Verifiers:",
        "Domain Verifier:",
        "Libraries:",
        "Features:",
        "Key Set Manager:",
        "Permissions:",
        "Registered ContentProviders:",
        "ContentProvider Authorities:",
        "Preferred Activities User 0:",
        "Shared users:",
        "Domain verification status:",
        "Package Changes:",
        "Queries:",
        "Dexopt state:",
    }
)
_PERM_LISTS = {
    "requested permissions:": "requested",
    "install permissions:": "granted_if",
    "runtime permissions:": "granted_if",
    "grantedPermissions:": "granted",  # Android 5 and older
}


def _indent(text: str) -> int:
    return len(text) - len(text.lstrip(" \t"))


@dataclass
class _Block:
    name: str
    line: int
    fields: dict[str, str] = field(default_factory=dict)
    flags: set[str] = field(default_factory=set)
    granted: list[str] = field(default_factory=list)
    hidden: bool = False


class _DumpsysParser:
    """``dumpsys package`` fed one line at a time (so a bug report can feed its section)."""

    def __init__(self) -> None:
        self.blocks: list[_Block] = []
        self._section: str | None = None
        self._block: _Block | None = None
        self._list: str | None = None
        self._list_indent = 0

    def feed(self, n: int, text: str) -> None:
        if not text.strip():
            return
        indent = _indent(text)
        if indent == 0:
            self._end_block()
            stripped = text.strip()
            if stripped == "Packages:":
                self._section = "packages"
            elif stripped == "Hidden system packages:":
                self._section = "hidden"
            else:
                self._section = None
            return
        if self._section is None:
            return
        m = _PKG_BLOCK.match(text)
        if m:
            self._end_block()
            if len(self.blocks) >= MAX_PACKAGES:
                raise _too_many_apps(n)
            self._block = _Block(m.group(1), n, hidden=self._section == "hidden")
            return
        block = self._block
        if block is None:
            return
        if self._list is not None:
            if indent > self._list_indent:
                self._list_item(block, text)
                return
            self._list = None
        stripped = text.strip()
        if stripped in _PERM_LISTS:
            self._list = _PERM_LISTS[stripped]
            self._list_indent = indent
            return
        if stripped.startswith("User ") and ":" in stripped:
            # "User 0: ceDataInode=… installed=true …": per-user install state and times
            for key, value in re.findall(r"(\w+)=(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d|\S+)", stripped):
                block.fields.setdefault(f"user.{key}", value)
            return
        fm = _FIELD.match(text)
        if fm:
            key, value = fm.group(1), fm.group(2).strip()
            if key in ("flags", "pkgFlags"):
                block.flags.update(value.strip("[] ").split())
            else:
                block.fields.setdefault(key, value)

    def _list_item(self, block: _Block, text: str) -> None:
        m = _PERM_ITEM.match(text)
        if not m:
            return
        perm, rest = m.group(1), (m.group(2) or "")
        if self._list == "granted" or (
            self._list == "granted_if" and re.search(r"\bgranted=true\b", rest)
        ):
            block.granted.append(perm)

    def _end_block(self) -> None:
        if self._block is not None:
            self.blocks.append(self._block)
            self._block = None
        self._list = None

    def packages(self) -> list[PackageInfo]:
        self._end_block()
        out: dict[str, PackageInfo] = {}
        hidden: dict[str, _Block] = {}
        for b in self.blocks:
            if b.hidden:  # the factory copy of an updated system app
                hidden.setdefault(b.name, b)
                continue
            pkg = _block_package(b)
            out[b.name] = _merge(out[b.name], pkg) if b.name in out else pkg
        for pkg_name, b in hidden.items():
            if pkg_name in out:
                out[pkg_name] = replace(out[pkg_name], system=True)
            else:
                out[pkg_name] = replace(_block_package(b), system=True)
        return list(out.values())


def _block_package(b: _Block) -> PackageInfo:
    f = b.fields
    uid = _first_int(f.get("userId", f.get("appId", "")))
    path = f.get("codePath") or None
    installer_raw = f.get("installerPackageName")
    system = "SYSTEM" in b.flags or bool(path and path.startswith(_SYSTEM_DIRS))
    version = f.get("versionName")
    if version is None and "versionCode" in f:
        version = f["versionCode"].split()[0]
    return PackageInfo(
        name=b.name,
        # Android prints installerPackageName only when an installer was recorded, so its
        # absence means none was (an app installed from a file or a computer, or built in)
        installer=_installer(installer_raw) if installer_raw is not None else None,
        uid=uid,
        path=path,
        first_install=f.get("firstInstallTime") or f.get("user.firstInstallTime"),
        last_update=f.get("lastUpdateTime"),
        version=version,
        system=system,
        permissions=tuple(dict.fromkeys(b.granted)),
        line=b.line,
        installer_known=True,
    )


def _parse_dumpsys(lines: Iterable[tuple[int, str]], name: str) -> Inventory:
    parser = _DumpsysParser()
    for n, text in lines:
        parser.feed(n, text)
    packages = parser.packages()
    if not packages:
        raise _Unreadable(
            "The package details hold no apps (there is no 'Packages:' section with "
            "'Package [name]' entries).",
            None,
            "The output may have been cut short, or the command asked about an app that is "
            "not installed.",
        )
    return Inventory("dumpsys", tuple(packages), (), (), name)


# --- bug reports ------------------------------------------------------------------------------

_SERVICE = re.compile(r"^DUMP OF SERVICE (?:(?:CRITICAL|HIGH|NORMAL) )?([A-Za-z0-9_.-]+):\s*$")
_COMPONENT = re.compile(r"([A-Za-z][A-Za-z0-9_]*(?:\.[A-Za-z0-9_]+)+)/([A-Za-z0-9_.$]+)")
_ADMIN = re.compile(rf"{_COMPONENT.pattern}:")
_WANTED = ("package", "accessibility", "device_policy", "notification")


def _boundary(text: str) -> bool:
    return (
        text.startswith("DUMP OF SERVICE")
        or text.startswith("------ ")
        or "was the duration of dumpsys" in text
        or (len(text) >= 40 and not text.strip("-"))
    )


class _RolesParser:
    """Accessibility services, notification listeners and device administrators switched
    on, from the matching ``dumpsys`` sections of a bug report."""

    def __init__(self) -> None:
        self.roles: dict[str, list[str]] = {}
        self._list: str | None = None
        self._list_indent = 0

    def _add(self, package: str, role: str) -> None:
        have = self.roles.setdefault(package, [])
        if role not in have:
            have.append(role)

    def start(self) -> None:
        self._list = None

    def feed(self, service: str, text: str) -> None:
        stripped = text.strip()
        if not stripped:
            return
        indent = _indent(text)
        if service == "accessibility":
            m = re.search(r"Enabled services:\s*\{(.*)\}", stripped, re.IGNORECASE)
            if m:
                for comp in _COMPONENT.finditer(m.group(1)):
                    self._add(comp.group(1), ROLE_ACCESSIBILITY)
            return
        if self._list is not None and indent <= self._list_indent:
            self._list = None
        if service == "device_policy":
            if "Enabled Device Admins" in stripped:
                self._list, self._list_indent = "admin", indent
                return
            if self._list == "admin":
                admin = _ADMIN.fullmatch(stripped)
                if admin:
                    self._add(admin.group(1), ROLE_DEVICE_ADMIN)
            return
        if service == "notification":
            low = stripped.lower()
            if "notification listeners" in low and ("enabled" in low or low.startswith("live ")):
                self._list, self._list_indent = "listener", indent
                return
            if self._list == "listener":
                listener = _COMPONENT.search(stripped)
                if listener:
                    self._add(listener.group(1), ROLE_NOTIFICATIONS)


def _parse_dumpstate(lines: Iterable[tuple[int, str]], name: str) -> Inventory:
    dumpsys = _DumpsysParser()
    roles = _RolesParser()
    section: str | None = None
    seen_package = False
    for n, text in lines:
        if text.startswith("DUMP OF SERVICE"):
            m = _SERVICE.match(text)
            service = m.group(1) if m else None
            if section == "package":
                dumpsys.feed(n, "-")  # an unindented line ends the last block
                break  # the services come in alphabetical order: nothing needed comes later
            section = service if service in _WANTED else None
            if section == "package":
                seen_package = True
            roles.start()
            continue
        if section is None:
            continue
        if _boundary(text):
            if section == "package":
                dumpsys.feed(n, "-")
                # the services come in alphabetical order: nothing we need comes later
                break
            section = None
            continue
        if section == "package":
            dumpsys.feed(n, text)
        else:
            roles.feed(section, text)
    if not seen_package:
        raise _Unreadable(
            "The bug report holds no list of apps (there is no 'DUMP OF SERVICE package' section).",
            None,
            "The bug report may have been cut short, or made in a way that leaves out the "
            "app list.",
        )
    packages = dumpsys.packages()
    if not packages:
        raise _Unreadable(
            "The bug report's app section holds no apps.",
            None,
            "The bug report may have been cut short.",
        )
    out: list[PackageInfo] = []
    for p in packages:
        extra = roles.roles.get(p.name)
        out.append(replace(p, roles=tuple(extra)) if extra else p)
    warnings = [
        f"{pkg}: shown as switched on in the phone's settings, but not in the app list"
        for pkg in roles.roles
        if pkg not in {p.name for p in packages}
    ]
    return Inventory("bugreport", tuple(out), (), tuple(warnings), name)


# --- certificate listings (apksigner, keytool) ------------------------------------------------

_APKSIGNER = re.compile(
    r"^Signer (#\d+|\([^)]*\)) certificate (DN|SHA-1 digest|SHA-256 digest|MD5 digest):\s*(.*)$"
)
_KEYTOOL_SIGNER = re.compile(r"^Signer #(\d+):\s*$")
_KEYTOOL_CERT = re.compile(r"^Certificate(?: #|\[)(\d+)\]?:\s*$")
_KEYTOOL_OWNER = re.compile(r"^\s*Owner:\s*(.*)$")
_KEYTOOL_SHA1 = re.compile(r"^\s*SHA1:\s*(.*)$")
_AAPT_PACKAGE = re.compile(r"package:\s*name='([^']+)'")
_APK_PATH = re.compile(r"(\S*\.apk)\b", re.IGNORECASE)


def dn_fields(dn: str) -> dict[str, str]:
    """The attributes of a distinguished name as apksigner or keytool print it
    ("CN=Foo, OU=Bar, O=\"Baz, Inc.\""), first value of each, keys upper case."""
    parts: list[str] = []
    cur: list[str] = []
    quoted = escaped = False
    for ch in dn:
        if escaped:
            cur.append(ch)
            escaped = False
        elif ch == "\\":
            escaped = True
        elif ch == '"':
            quoted = not quoted
        elif ch in ",;+" and not quoted:
            parts.append("".join(cur))
            cur = []
        else:
            cur.append(ch)
    parts.append("".join(cur))
    out: dict[str, str] = {}
    for part in parts:
        key, sep, value = part.partition("=")
        if sep:
            out.setdefault(key.strip().upper(), value.strip())
    return out


def _context_package(text: str) -> tuple[bool, str | None]:
    """Whether a line names the next app (a file name, a path, a package name, a heading),
    and the package name when it says one."""
    s = text.strip()
    m = _AAPT_PACKAGE.search(s)
    if m:
        return True, m.group(1) if _PACKAGE_NAME.fullmatch(m.group(1)) else None
    core = s.strip("=#<>-:*[]() \t")
    if core.lower().startswith(("verifying ", "checking ", "file: ", "apk: ")):
        core = core.split(None, 1)[1].strip("=#<>-:*[]()' \t")
    if core.startswith("package:"):
        core = core[len("package:") :]
    if not core or " " in core:
        return False, None
    pm = _APK_PATH.fullmatch(core)
    if pm or core.lower().endswith(".apk"):
        p = PurePosixPath(core.replace("\\", "/"))
        stem = p.stem
        if _DOTTED_PACKAGE.fullmatch(stem):
            return True, stem
        parent = p.parent.name  # /data/app/~~x==/com.foo-y==/base.apk
        cand = parent.split("-", 1)[0]
        return True, cand if _DOTTED_PACKAGE.fullmatch(cand) else None
    if _DOTTED_PACKAGE.fullmatch(core):
        return True, core
    return False, None


@dataclass
class _Pending:
    line: int
    sha1: str | None = None
    sha1_line: int = 0
    dn: str | None = None


def _hex_sha1(value: str, n: int) -> str:
    digest = re.sub(r"[\s:]", "", value).upper()
    if not re.fullmatch(r"[0-9A-F]{40}", digest):
        raise _Unreadable(
            "A certificate's SHA-1 fingerprint is not 40 hexadecimal characters.",
            n,
            "The listing may have been cut short or edited.",
        )
    return digest


def _parse_print_certs(lines: Iterable[tuple[int, str]], name: str) -> Inventory:
    certs: list[CertInfo] = []
    package: str | None = None
    pending: dict[str, _Pending] = {}
    keytool_signer = "1"
    keytool_cert = 1

    def flush() -> None:
        for p in pending.values():
            if p.sha1 is None:
                continue
            if len(certs) >= MAX_CERTIFICATES:
                raise _Unreadable(
                    f"The listing holds more than {MAX_CERTIFICATES} certificates.",
                    p.sha1_line,
                    "The file may not be a certificate listing of apps from one phone.",
                )
            fields = dn_fields(p.dn) if p.dn else {}
            certs.append(
                CertInfo(
                    sha1=p.sha1,
                    subject_o=fields.get("O") or None,
                    subject_cn=fields.get("CN") or None,
                    package=package,
                    line=p.sha1_line,
                )
            )
        pending.clear()

    for n, text in lines:
        s = text.strip()
        if not s:
            continue
        m = _APKSIGNER.match(s)
        if m:
            label, kind, value = "a" + m.group(1), m.group(2), m.group(3).strip()
            if label in pending and (
                (kind == "DN" and pending[label].dn is not None)
                or (kind == "SHA-1 digest" and pending[label].sha1 is not None)
            ):
                flush()  # the same signer again: the next APK without a heading
            p = pending.setdefault(label, _Pending(n))
            if kind == "DN":
                p.dn = value
            elif kind == "SHA-1 digest":
                p.sha1, p.sha1_line = _hex_sha1(value, n), n
            continue
        m = _KEYTOOL_SIGNER.match(s)
        if m:
            keytool_signer, keytool_cert = m.group(1), 1
            if "k" + keytool_signer in pending:
                flush()
            continue
        m = _KEYTOOL_CERT.match(s)
        if m:
            keytool_cert = int(m.group(1))
            continue
        m = _KEYTOOL_OWNER.match(text)
        if m and s.startswith("Owner:"):
            if keytool_cert == 1:  # the signer's own certificate, not its issuers
                label = "k" + keytool_signer
                if label in pending and pending[label].dn is not None:
                    flush()
                pending.setdefault(label, _Pending(n)).dn = m.group(1).strip()
            continue
        m = _KEYTOOL_SHA1.match(text)
        if m and s.startswith("SHA1:"):
            if keytool_cert == 1:
                label = "k" + keytool_signer
                p = pending.setdefault(label, _Pending(n))
                p.sha1, p.sha1_line = _hex_sha1(m.group(1), n), n
            continue
        is_context, pkg = _context_package(s)
        if is_context:
            flush()
            package = pkg
            keytool_signer, keytool_cert = "1", 1
    flush()
    if not certs:
        raise _Unreadable(
            "The certificate listing holds no SHA-1 fingerprints.",
            None,
            "apksigner prints them with --print-certs; keytool with -printcert -jarfile.",
        )
    return Inventory("print_certs", (), tuple(certs), (), name)


# --- APK files --------------------------------------------------------------------------------

_V1_SIGNATURE = re.compile(r"^META-INF/[^/]+\.(RSA|DSA|EC)$", re.IGNORECASE)
_APK_SIG_MAGIC = b"APK Sig Block 42"
_V2_ID = 0x7109871A
_V3_ID = 0xF05368C0
_V31_ID = 0x1B93AD61


class _ApkError(Exception):
    pass


def _cert_info(der: bytes, package: str | None) -> tuple[CertInfo, str | None]:
    sha1 = hashlib.sha1(der, usedforsecurity=False).hexdigest().upper()
    try:
        cert = x509.load_der_x509_certificate(der)
    except ValueError:
        return CertInfo(sha1=sha1, package=package), "a signing certificate could not be read"

    def first(oid: x509.ObjectIdentifier) -> str | None:
        try:
            attrs = cert.subject.get_attributes_for_oid(oid)
        except ValueError:
            return None
        if not attrs:
            return None
        value = attrs[0].value
        return value if isinstance(value, str) else value.decode("utf-8", "replace")

    return (
        CertInfo(
            sha1=sha1,
            subject_o=first(NameOID.ORGANIZATION_NAME),
            subject_cn=first(NameOID.COMMON_NAME),
            package=package,
        ),
        None,
    )


def _central_directory_offset(f: IO[bytes]) -> int:
    size = f.seek(0, io.SEEK_END)
    tail_len = min(size, 65535 + 22)
    f.seek(size - tail_len)
    tail = f.read(tail_len)
    at = tail.rfind(b"PK\x05\x06")
    while at >= 0:
        if at + 22 <= len(tail):
            (comment_len,) = struct.unpack_from("<H", tail, at + 20)
            if at + 22 + comment_len == len(tail):
                break
        at = tail.rfind(b"PK\x05\x06", 0, at)
    if at < 0:
        raise _ApkError("no end of central directory")
    (cd_offset,) = struct.unpack_from("<I", tail, at + 16)
    if cd_offset == 0xFFFFFFFF:  # zip64: the locator sits just before the end record
        loc = at - 20
        if loc < 0 or tail[loc : loc + 4] != b"PK\x06\x07":
            raise _ApkError("zip64 locator missing")
        (eocd64,) = struct.unpack_from("<Q", tail, loc + 8)
        f.seek(eocd64)
        rec = f.read(56)
        if len(rec) < 56 or rec[:4] != b"PK\x06\x06":
            raise _ApkError("zip64 end record missing")
        (cd_offset,) = struct.unpack_from("<Q", rec, 48)
    if cd_offset > size:
        raise _ApkError("central directory offset beyond the file")
    return int(cd_offset)


def _lp(buf: bytes, off: int, end: int) -> tuple[bytes, int]:
    """A uint32 length-prefixed value at ``off`` (bounded by ``end``)."""
    if off + 4 > end:
        raise _ApkError("truncated length")
    (n,) = struct.unpack_from("<I", buf, off)
    start = off + 4
    if start + n > end:
        raise _ApkError("length beyond its container")
    return buf[start : start + n], start + n


def _lp_items(buf: bytes) -> Iterator[bytes]:
    off = 0
    while off < len(buf):
        item, off = _lp(buf, off, len(buf))
        yield item


def _signing_block_certs(f: IO[bytes]) -> list[bytes]:
    """DER signer certificates from the APK Signing Block (v2, v3, v3.1), or [] if the
    APK has none. The signatures are not verified: only who signed it is read."""
    cd = _central_directory_offset(f)
    if cd < 32:
        return []
    f.seek(cd - 24)
    footer = f.read(24)
    if len(footer) != 24 or footer[8:] != _APK_SIG_MAGIC:
        return []
    (size,) = struct.unpack_from("<Q", footer, 0)
    if size < 24 or size > MAX_SIGNING_BLOCK or size + 8 > cd:
        raise _ApkError("signing block size out of range")
    f.seek(cd - size - 8)
    block = f.read(size + 8)
    if len(block) != size + 8 or struct.unpack_from("<Q", block, 0)[0] != size:
        raise _ApkError("signing block sizes disagree")
    ders: list[bytes] = []
    off, end = 8, len(block) - 24
    while off < end:
        if off + 12 > end:
            raise _ApkError("truncated pair")
        (pair_len,) = struct.unpack_from("<Q", block, off)
        if pair_len < 4 or off + 8 + pair_len > end:
            raise _ApkError("pair length out of range")
        (pair_id,) = struct.unpack_from("<I", block, off + 8)
        value = block[off + 12 : off + 8 + pair_len]
        off += 8 + pair_len
        if pair_id not in (_V2_ID, _V3_ID, _V31_ID):
            continue
        signers, _ = _lp(value, 0, len(value))
        for signer in _lp_items(signers):
            signed_data, _ = _lp(signer, 0, len(signer))
            _digests, pos = _lp(signed_data, 0, len(signed_data))
            certificates, _ = _lp(signed_data, pos, len(signed_data))
            for der in _lp_items(certificates):
                ders.append(der)
                break  # the first certificate is the signer's; the rest is its chain
    return ders


def _leaf_certificates(certs: list[x509.Certificate]) -> list[x509.Certificate]:
    if len(certs) <= 1:
        return certs
    issuers = {c.issuer.public_bytes() for c in certs if c.issuer != c.subject}
    leaves = [c for c in certs if c.subject.public_bytes() not in issuers]
    return leaves or certs[:1]


_ZIP_METHODS = frozenset(
    {zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED, zipfile.ZIP_BZIP2, zipfile.ZIP_LZMA}
)
# Everything that can go wrong while decompressing one member of a zip.
_ZIP_ERRORS = (zipfile.BadZipFile, OSError, EOFError, zlib.error, NotImplementedError, RuntimeError)


def _member_problem(info: zipfile.ZipInfo) -> str | None:
    """Why a zip member cannot be opened at all (a password, or a compression method Python
    cannot read, such as Deflate64 from Windows' own zip tool), or None."""
    if info.flag_bits & 0x1:
        return "it is protected with a password"
    if info.compress_type not in _ZIP_METHODS:
        return f"it is compressed in a way Docket cannot read (method {info.compress_type})"
    return None


def _read_member(zf: zipfile.ZipFile, info: zipfile.ZipInfo, cap: int) -> bytes:
    if info.file_size > cap:
        raise _ApkError(f"{info.filename} is larger than expected")
    problem = _member_problem(info)
    if problem is not None:
        raise _ApkError(f"{info.filename}: {problem}")
    with zf.open(info) as m:
        data = m.read(cap + 1)
    if len(data) > cap:
        raise _ApkError(f"{info.filename} is larger than expected")
    return data


# Android binary XML (AndroidManifest.xml inside an APK): just enough to read the package.
_RES_XML = 0x0003
_RES_STRING_POOL = 0x0001
_RES_XML_START_ELEMENT = 0x0102
_UTF8_FLAG = 1 << 8


def _pool_string(data: bytes, pool: tuple[int, int, int, int, bool], index: int) -> str | None:
    _start, count, offsets_at, strings_at, utf8 = pool
    if index < 0 or index >= count:
        return None
    (rel,) = struct.unpack_from("<I", data, offsets_at + 4 * index)
    p = strings_at + rel
    if p + 2 > len(data):
        return None
    if utf8:
        n = data[p]
        p += 2 if n & 0x80 else 1  # length in UTF-16 units, then in bytes
        n = data[p]
        if n & 0x80:
            n = ((n & 0x7F) << 8) | data[p + 1]
            p += 2
        else:
            p += 1
        raw = data[p : p + n]
        return raw.decode("utf-8", "replace") if len(raw) == n else None
    (n,) = struct.unpack_from("<H", data, p)
    p += 2
    if n & 0x8000:
        (lo,) = struct.unpack_from("<H", data, p)
        n = ((n & 0x7FFF) << 16) | lo
        p += 2
    raw = data[p : p + 2 * n]
    return raw.decode("utf-16-le", "replace") if len(raw) == 2 * n else None


def manifest_package(data: bytes) -> str | None:
    """The package name from a binary AndroidManifest.xml, or None if it cannot be read
    cheaply (only the string pool and the first element are looked at)."""
    try:
        if len(data) < 8:
            return None
        typ, header, _size = struct.unpack_from("<HHI", data, 0)
        if typ != _RES_XML:
            return None
        off = header
        pool: tuple[int, int, int, int, bool] | None = None
        while off + 8 <= len(data):
            ctype, chead, csize = struct.unpack_from("<HHI", data, off)
            if csize < 8 or off + csize > len(data):
                return None
            if ctype == _RES_STRING_POOL and chead >= 28:
                count, _styles, flags, strings_start, _ = struct.unpack_from(
                    "<IIIII", data, off + 8
                )
                if off + chead + 4 * count > off + csize:
                    return None
                pool = (off, count, off + chead, off + strings_start, bool(flags & _UTF8_FLAG))
            elif ctype == _RES_XML_START_ELEMENT and pool is not None:
                _ns, name_idx, attr_start, attr_size, attr_count = struct.unpack_from(
                    "<iIHHH", data, off + chead
                )
                if _pool_string(data, pool, name_idx) != "manifest":
                    return None
                base = off + chead + attr_start
                for i in range(attr_count):
                    a = base + i * max(attr_size, 20)
                    if a + 20 > off + csize:
                        return None
                    _ans, aname, raw_value, _vsize, _res0, vtype, vdata = struct.unpack_from(
                        "<iIIHBBI", data, a
                    )
                    if _pool_string(data, pool, aname) != "package":
                        continue
                    value = None
                    if raw_value != 0xFFFFFFFF:
                        value = _pool_string(data, pool, raw_value)
                    elif vtype == 0x03:
                        value = _pool_string(data, pool, vdata)
                    return value if value and _DOTTED_PACKAGE.fullmatch(value) else None
                return None
            off += csize
    except (struct.error, IndexError):
        return None
    return None


def _read_apk(f: IO[bytes], zf: zipfile.ZipFile, name: str) -> Inventory:
    warnings: list[str] = []
    package: str | None = None
    infos = {i.filename: i for i in zf.infolist()}
    manifest = infos.get("AndroidManifest.xml")
    if manifest is not None:
        try:
            package = manifest_package(_read_member(zf, manifest, MAX_SMALL_MEMBER))
        except (_ApkError, *_ZIP_ERRORS):
            package = None
    if package is None:
        warnings.append("the app's package name could not be read from the .apk file")
    ders: list[bytes] = []
    try:
        ders.extend(_signing_block_certs(f))
    except (_ApkError, struct.error, OSError) as exc:
        warnings.append(f"the APK Signing Block could not be read ({exc})")
    v1_files = [info for fname, info in infos.items() if _V1_SIGNATURE.match(fname)]
    if len(v1_files) > MAX_V1_SIGNATURE_FILES:
        warnings.append(
            f"only the first {MAX_V1_SIGNATURE_FILES} of {len(v1_files)} signature files were read"
        )
    for info in v1_files[:MAX_V1_SIGNATURE_FILES]:
        try:
            blob = _read_member(zf, info, MAX_SMALL_MEMBER)
            certs = pkcs7.load_der_pkcs7_certificates(blob)
        except (_ApkError, ValueError, *_ZIP_ERRORS):
            warnings.append(f"the signature file {info.filename} could not be read")
            continue
        ders.extend(c.public_bytes(Encoding.DER) for c in _leaf_certificates(certs))
    out: dict[str, CertInfo] = {}
    for der in ders:
        info_, warn = _cert_info(der, package)
        if warn:
            warnings.append(warn)
        out.setdefault(info_.sha1, info_)
    if not out:
        if package is None:  # nothing to compare: saying "no known indicator" would mislead
            raise _unreadable(
                name,
                f"Neither the app's name nor its signing certificate could be read from {name}.",
                cause="The .apk file may be damaged or cut short, or it is not an Android app.",
            )
        warnings.append("no signing certificate was found in the .apk file")
    packages = (PackageInfo(name=package),) if package else ()
    return Inventory("apk", packages, tuple(out.values()), tuple(warnings), name)


# --- reading an input -------------------------------------------------------------------------

_BUGREPORT_TEXT = re.compile(r"(?:^|/)(?:bugreport|dumpstate)[^/]*\.txt$", re.IGNORECASE)


def _text_shape(head: str) -> str | None:
    lines = head.splitlines()
    if any(line.startswith(("== dumpstate", "DUMP OF SERVICE")) for line in lines):
        return "bugreport"
    if any(_APKSIGNER.match(line.strip()) for line in lines):
        return "print_certs"
    if any(line.strip().startswith("Owner:") for line in lines) and any(
        _KEYTOOL_SHA1.match(line) for line in lines
    ):
        return "print_certs"
    if any(line.rstrip() in _DUMPSYS_HEADERS or _PKG_BLOCK.match(line) for line in lines):
        return "dumpsys"
    significant = [line.strip() for line in lines if line.strip() and not _ADB_NOISE.match(line)][
        :50
    ]
    if significant and sum(1 for s in significant if s.startswith("package:")) * 2 > len(
        significant
    ):
        return "pm_list"
    return None


_PARSERS = {
    "pm_list": _parse_pm_list,
    "dumpsys": _parse_dumpsys,
    "bugreport": _parse_dumpstate,
    "print_certs": _parse_print_certs,
}


def _size_words(n: int) -> str:
    if n >= 1024 * 1024:
        return f"{n // (1024 * 1024)} MB"
    if n >= 1024:
        return f"{n // 1024} KB"
    return f"{n} bytes"


_ADB_ERROR = re.compile(
    r"^(?:adb(?:\.exe)?: |error: |Error: |- waiting for |cmd: Can't find service|"
    r"/system/bin/sh: )"
)


def _adb_error(head_text: str) -> tuple[int, str] | None:
    """The first line of an adb or shell error message in a file that should have been a
    list (the command's error was saved instead of its output), with its line number."""
    for n, line in enumerate(head_text.splitlines()[:20], 1):
        if _ADB_ERROR.match(line.strip()):
            return n, line.strip()
    return None


def _read_text(head: bytes, f: IO[bytes], name: str, limits: Limits, cap: int) -> Inventory:
    encoding = _encoding(head)
    head_text = head.decode(encoding, "replace")
    if encoding == "utf-8" and "\x00" in head_text:
        raise _unreadable(
            name,
            f"{name} is not a text file, a bug report or an .apk file.",
            cause="It holds binary data that Docket does not recognise.",
        )
    shape = _text_shape(head_text)
    if shape is None:
        error = _adb_error(head_text)
        if error is not None:
            raise _unreadable(
                name,
                f"{name} holds an error message from adb instead of a list of apps.",
                line=error[0],
                cause=f"adb said: {error[1][:200]}",
            )
        raise _unreadable(
            name,
            f"{name} is not an app list, package details, a bug report or a certificate "
            "listing that Docket recognises.",
        )
    stream = _CappedStream(head, f, min(cap, limits.max_text_bytes))
    lines = _Lines(stream, encoding)
    try:
        inv = _PARSERS[shape](lines, name)
    except _Unreadable as exc:
        raise _unreadable(name, exc.message, line=exc.line, cause=exc.cause) from None
    except _TooLarge as exc:
        raise _unreadable(
            name,
            f"{name} is larger than Docket reads ({_size_words(exc.limit)}).",
            cause="This is far more than an app list or a bug report holds.",
            line=lines.number or None,
        ) from None
    except UnicodeError as exc:
        raise _unreadable(name, f"{name} could not be read as text.", cause=str(exc)) from None
    if lines.long_lines:
        inv = replace(
            inv,
            warnings=(*inv.warnings, f"{lines.long_lines} very long line(s) were cut short"),
        )
    return inv


_ZIP_BOMB_CAUSE = "The zip may be damaged, or made to fill the computer's memory (a zip bomb)."
MAX_INNER_APKS = 100  # .apk files read from one zip (a split-app bundle holds a handful)


def _check_member(info: zipfile.ZipInfo, zip_name: str, limits: Limits) -> None:
    """Refuse a member before anything is decompressed: too large once expanded, compressed
    far more than real text or apps ever are, or impossible to open."""
    if info.file_size > limits.max_member_bytes:
        raise _unreadable(
            zip_name,
            f"{info.filename} in {zip_name} would expand to {_size_words(info.file_size)}, "
            f"more than Docket reads from one file ({_size_words(limits.max_member_bytes)}), "
            "so Docket did not open it.",
            cause=_ZIP_BOMB_CAUSE,
        )
    if info.file_size > limits.ratio_floor and info.file_size > limits.max_ratio * max(
        info.compress_size, 1
    ):
        raise _unreadable(
            zip_name,
            f"{info.filename} in {zip_name} would expand from "
            f"{_size_words(info.compress_size)} to {_size_words(info.file_size)}, far more "
            "than a bug report or an app ever does, so Docket did not open it.",
            cause=_ZIP_BOMB_CAUSE,
        )
    problem = _member_problem(info)
    if problem is not None:
        raise _unreadable(
            zip_name,
            f"{info.filename} in {zip_name} cannot be opened: {problem}.",
            cause="Give the bug report zip exactly as the phone or adb made it.",
        )


def _bugreport_rank(info: zipfile.ZipInfo) -> tuple[int, int, int]:
    # shallowest first; "bugreport-…" before "dumpstate_log.txt" and the like; then largest
    base = PurePosixPath(info.filename).name.lower()
    return (info.filename.count("/"), 0 if base.startswith("bugreport") else 1, -info.file_size)


def _find_dumpstate(
    zf: zipfile.ZipFile, infos: list[zipfile.ZipInfo], name: str
) -> tuple[zipfile.ZipInfo | None, list[str]]:
    """The dumpstate text named by main_entry.txt (or, without one, the likeliest
    bugreport-….txt), with notes on any fallback taken."""
    warnings: list[str] = []
    by_name = {i.filename: i for i in infos if not i.is_dir()}
    entries = sorted(
        (i for i in by_name.values() if PurePosixPath(i.filename).name == "main_entry.txt"),
        key=lambda i: i.filename.count("/"),
    )
    candidates = sorted(
        (i for i in by_name.values() if _BUGREPORT_TEXT.search(i.filename)), key=_bugreport_rank
    )
    if entries:
        entry = entries[0]
        try:
            raw = _read_member(zf, entry, 4096)
        except (_ApkError, *_ZIP_ERRORS):
            raw = b""
        target = raw.decode("utf-8", "replace").strip().strip("\x00").strip()
        folder = PurePosixPath(entry.filename).parent
        path = str(folder / target) if target and str(folder) != "." else target
        if target and path in by_name:
            return by_name[path], warnings
        if not candidates:
            raise _unreadable(
                name,
                f"main_entry.txt in {name} names "
                + (f"{target[:200]!r}, which is not in the zip." if target else "no file.")
                + " The bug report's text is missing.",
                cause="The bug report zip may not have been made or copied completely.",
            )
        warnings.append(
            f"main_entry.txt names {target[:200]!r}, which is not in the zip; used "
            f"{candidates[0].filename} instead"
        )
    elif candidates:
        warnings.append(f"the zip has no main_entry.txt; used {candidates[0].filename}")
    return (candidates[0] if candidates else None), warnings


def _read_inner_apks(
    zf: zipfile.ZipFile, apks: list[zipfile.ZipInfo], name: str, limits: Limits
) -> Inventory:
    """Every .apk file in a zip (a split-app bundle such as .xapk or .apks, or apps zipped
    together), read one after another and reported as one input."""
    if len(apks) > MAX_INNER_APKS:
        raise _unreadable(
            name,
            f"{name} holds {len(apks)} .apk files; Docket reads at most {MAX_INNER_APKS} at once.",
            cause="Check the apps in smaller groups, or one at a time.",
        )
    packages: dict[str, PackageInfo] = {}
    certs: dict[tuple[str, str | None], CertInfo] = {}
    warnings: list[str] = []
    for info in sorted(apks, key=lambda i: i.filename):
        label = f"{name}: {info.filename}"
        try:
            _check_member(info, name, limits)
            with zf.open(info) as m:
                inv = _read_zip(m, label, limits, depth=1)
        except PhoneListUnreadable as exc:
            warnings.append(f"{info.filename} could not be read: {exc.message}")
            continue
        if inv.shape != "apk":
            warnings.append(f"{info.filename} is not an .apk file")
            continue
        for p in inv.packages:
            packages.setdefault(p.name, p)
        for c in inv.certificates:
            certs.setdefault((c.sha1, c.package), c)
        warnings.extend(f"{info.filename}: {w}" for w in inv.warnings)
    if not packages and not certs:
        raise _unreadable(
            name,
            f"None of the .apk files in {name} could be read.",
            cause="; ".join(warnings[:3]) or None,
        )
    return Inventory("apk", tuple(packages.values()), tuple(certs.values()), tuple(warnings), name)


def _read_zip(f: IO[bytes], name: str, limits: Limits, depth: int = 0) -> Inventory:
    try:
        zf = zipfile.ZipFile(f)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, EOFError, ValueError) as exc:
        raise _unreadable(
            name,
            f"{name} is a damaged zip file.",
            cause=f"It may not have been copied completely ({exc}).",
        ) from None
    with zf:
        infos = zf.infolist()
        if len(infos) > MAX_ZIP_MEMBERS:
            raise _unreadable(
                name,
                f"{name} holds {len(infos)} files, more than a bug report or an app holds.",
            )
        names = {i.filename for i in infos}
        try:
            if "AndroidManifest.xml" in names:
                return _read_apk(f, zf, name)
            member, warnings = _find_dumpstate(zf, infos, name)
            if member is not None:
                _check_member(member, name, limits)
                label = f"{name}: {member.filename}"
                with zf.open(member) as m:
                    head = m.read(PROBE_BYTES)
                    inv = _read_text(head, m, label, limits, limits.max_member_bytes)
                if inv.shape != "bugreport":
                    raise _unreadable(
                        label,
                        f"{member.filename} in {name} is not a bug report.",
                    )
                return replace(inv, warnings=(*warnings, *inv.warnings), name=label)
            files = [i for i in infos if not i.is_dir()]
            inner_zips = [i for i in files if i.filename.lower().endswith(".zip")]
            inner_apks = [i for i in files if i.filename.lower().endswith(".apk")]
            first_error: PhoneListUnreadable | None = None
            if depth == 0:  # one level of nesting only: a zip inside a zip is read, no deeper
                for info in sorted(inner_zips, key=lambda i: -i.file_size):
                    _check_member(info, name, limits)
                    with zf.open(info) as m:
                        try:
                            return _read_zip(m, f"{name}: {info.filename}", limits, depth=1)
                        except PhoneListUnreadable as exc:
                            first_error = first_error or exc
                if inner_apks:
                    return _read_inner_apks(zf, inner_apks, name, limits)
            if first_error is not None:
                raise first_error
        except (zipfile.BadZipFile, EOFError, zlib.error, OSError) as exc:
            raise _unreadable(
                name,
                f"{name} is a damaged zip file.",
                cause=f"Part of it could not be decompressed ({exc}).",
            ) from None
        except (NotImplementedError, RuntimeError) as exc:  # compression method, password
            raise _unreadable(
                name,
                f"{name} could not be opened.",
                cause=f"Part of it is protected with a password or compressed in a way Docket "
                f"cannot read ({exc}).",
            ) from None
    raise _unreadable(
        name,
        f"{name} is a zip file, but neither a bug report nor an .apk file.",
        cause="A bug report zip holds main_entry.txt and a bugreport-….txt file; an .apk file "
        "holds AndroidManifest.xml.",
    )


def _spool(head: bytes, f: IO[bytes], name: str, limit: int) -> io.BytesIO:
    buf = io.BytesIO()
    buf.write(head)
    while True:
        chunk = f.read(1 << 20)
        if not chunk:
            break
        buf.write(chunk)
        if buf.tell() > limit:
            raise _unreadable(
                name,
                f"{name} is too large to read from a stream; save it to a file first.",
            )
    buf.seek(0)
    return buf


def _read(f: IO[bytes], name: str, limits: Limits) -> Inventory:
    head = f.read(PROBE_BYTES)
    if not head.strip():
        raise _unreadable(name, f"{name} is empty.", cause="The command may not have run.")
    if head.startswith((b"PK\x03\x04", b"PK\x05\x06")):
        if f.seekable():
            f.seek(f.tell() - len(head))
            return _read_zip(f, name, limits)
        return _read_zip(_spool(head, f, name, limits.max_spool_bytes), name, limits)
    return _read_text(head, f, name, limits, limits.max_text_bytes)


def read_inventory_bytes(
    data: bytes | IO[bytes], name: str, *, limits: Limits = DEFAULT_LIMITS
) -> Inventory:
    """Read an app list, package details, bug report (zip or text), certificate listing or
    .apk file from bytes or a binary stream. The shape is recognised from the content.
    Raises :class:`PhoneListUnreadable` (with the file, and the line when known)."""
    stream: IO[bytes] = io.BytesIO(data) if isinstance(data, bytes | bytearray) else data
    return _read(stream, name, limits)


def read_inventory(path: Path, *, limits: Limits = DEFAULT_LIMITS) -> Inventory:
    """As :func:`read_inventory_bytes`, from a file; a folder holding an unzipped bug report
    (with main_entry.txt) is read too."""
    path = Path(path)
    name = str(path)
    try:
        if path.is_dir():
            entry = path / "main_entry.txt"
            if not entry.is_file():
                raise _unreadable(
                    name,
                    f"{name} is a folder without a bug report in it (no main_entry.txt).",
                    cause="Give the bug report zip itself, or the app list file.",
                )
            target = entry.read_text("utf-8", "replace").strip()
            inner = path / target
            if not target or not inner.is_file() or path.resolve() not in inner.resolve().parents:
                raise _unreadable(
                    name,
                    f"main_entry.txt in {name} names a file that is not in the folder.",
                )
            with inner.open("rb") as f:
                inv = _read(f, str(inner), limits)
            if inv.shape != "bugreport":
                raise _unreadable(str(inner), f"{inner} is not a bug report.")
            return inv
        with path.open("rb") as f:
            return _read(f, name, limits)
    except OSError as exc:
        raise PhoneListUnreadable(
            f"{name} cannot be opened.",
            cause=exc.strerror or str(exc),
            hint="Check the file name and that the file is not open in another program.",
            location=Location(file=name),
        ) from exc


# --- matching ---------------------------------------------------------------------------------


def _notable(pkg: PackageInfo | None) -> tuple[str, ...]:
    if pkg is None:
        return ()
    words = [NOTABLE_PERMISSIONS[p] for p in pkg.permissions if p in NOTABLE_PERMISSIONS]
    words.extend(pkg.roles)
    return tuple(dict.fromkeys(words))


def _sideloaded(pkg: PackageInfo | None) -> bool | None:
    if pkg is None or not pkg.installer_known:
        return None
    if pkg.system:
        return False
    return pkg.installer not in STORE_INSTALLERS


def check(inv: Inventory, indicators: IndicatorSet) -> CheckResult:
    """Compare one input with the indicator set: exact package names, then each signing
    certificate by SHA-1, organisation and name pattern. Facts only: what matched, where
    in the input, how the app was installed and what it has been allowed to do."""
    if not indicators.apps:
        raise NoIndicators(
            "No indicators are loaded, so the phone cannot be checked.",
            cause="The indicator files are missing or empty.",
            hint="Fetch the indicator files with the indicator update command.",
        )
    by_name = {p.name: p for p in inv.packages}
    found: dict[tuple[str, str, str, str | None, int], Match] = {}

    def add(app: App, how: str, indicator: str, package: str | None, line: int) -> None:
        pkg = by_name.get(package) if package else None
        key = (app.name, how, indicator, package, line)
        found.setdefault(
            key,
            Match(
                app=app.name,
                type=app.type,
                how=how,
                indicator=indicator,
                package=package,
                line=line,
                installer=pkg.installer if pkg else None,
                sideloaded=_sideloaded(pkg),
                notable=_notable(pkg),
                indicator_file=app.source,
                indicator_line=app.line,
            ),
        )

    for p in inv.packages:
        for app in indicators.by_package.get(p.name, ()):
            add(app, "package name", p.name, p.name, p.line)
    for c in inv.certificates:
        for app in indicators.by_certificate.get(c.sha1, ()):
            add(app, "signing certificate", c.sha1, c.package, c.line)
        if c.subject_o:
            for app in indicators.by_organisation(c.subject_o):
                add(app, "certificate organisation", c.subject_o, c.package, c.line)
        if c.subject_cn:
            for app, pattern in indicators.by_certificate_name(c.subject_cn):
                add(app, "certificate name", pattern, c.package, c.line)
    order = {"stalkerware": 0, "watchware": 1}
    matches = sorted(
        found.values(),
        key=lambda m: (order.get(m.type, 2), m.app.casefold(), m.package or "", m.line, m.how),
    )
    sideloaded = tuple(sorted((p for p in inv.packages if _sideloaded(p)), key=lambda p: p.name))
    return CheckResult(
        source=inv.name,
        shape=inv.shape,
        matches=tuple(matches),
        packages_checked=len(inv.packages),
        certificates_checked=len(inv.certificates),
        indicator_fingerprint=indicators.fingerprint,
        indicator_counts=indicators.counts(),
        indicator_files=tuple((s.name, s.sha256) for s in indicators.sources),
        sideloaded=sideloaded,
        shows_system=inv.shows_system,
        shows_permissions=inv.shows_permissions,
        warnings=inv.warnings,
    )


# --- text for the terminal --------------------------------------------------------------------

_SHAPE_WORDS = {
    "pm_list": "app list",
    "dumpsys": "package details",
    "bugreport": "bug report",
    "print_certs": "certificate listing",
    "apk": ".apk file",
}

_HOW_WORDS = {
    "package name": "by its package name",
    "signing certificate": "by its signing certificate",
    "certificate organisation": "by the organisation named in its signing certificate",
    "certificate name": "by the name in its signing certificate",
}


def installer_words(pkg: PackageInfo) -> str:
    """How an app was installed, in plain words, as far as the input says."""
    if not pkg.installer_known:
        return "not shown in this input"
    if pkg.installer is None:
        return "no installer recorded (installed from a file or a computer)"
    if pkg.installer in STORE_INSTALLERS:
        return f"from an app store ({pkg.installer})"
    return INSTALLER_WORDS.get(pkg.installer, f"by {pkg.installer}, which is not an app store")


def _where(line: int, source: str) -> str:
    return f"line {line} of {source}" if line else source


def render_text(result: CheckResult) -> str:
    """The result as plain text. When something is found, the safety warning always comes
    before any advice about removing it."""
    out: list[str] = []
    if result.found:
        out += [FOUND_TITLE, ""]
        for m in result.matches:
            label = f"{m.app} ({m.type})"
            what = f"the app {m.package}" if m.package else "an app"
            out.append(
                f"- {label}: {what}, found {_HOW_WORDS.get(m.how, m.how)} "
                f"({_where(m.line, result.source)})."
            )
            if m.how != "package name":
                out.append(f"  Matched: {m.indicator}")
            if m.type == "watchware":
                out.append(f"  {m.app} {WATCHWARE_NOTE}.")
            if m.how == "package name" and not any(
                o.app == m.app and o.package == m.package and o.how != "package name"
                for o in result.matches
            ):
                out.append(f"  {NAME_ONLY_NOTE}")
            if m.sideloaded is not None:
                out.append(
                    "  Installed: "
                    + ("from outside an app store" if m.sideloaded else "from an app store")
                    + (f" (installer: {m.installer or 'none recorded'})")
                )
            allowed = [w for w in m.notable if w not in ROLES]
            roles = [w for w in m.notable if w in ROLES]
            if allowed:
                out.append("  It has been allowed to: " + "; ".join(allowed) + ".")
            elif m.package and result.shows_permissions:
                out.append("  It holds none of the permissions Docket lists as notable.")
            if roles:
                out.append("  In the phone's settings, it " + "; it ".join(roles) + ".")
        if not result.shows_permissions:
            out += ["", PERMISSIONS_UNKNOWN_NOTE]
        out += ["", SAFETY_WARNING, "", REMOVAL_ADVICE]
    else:
        out += [NOT_FOUND_TITLE, "", NOT_FOUND_MEANS]
    if result.sideloaded:
        out += ["", "Apps installed from outside an app store:"]
        out += [f"- {p.name}: {installer_words(p)}" for p in result.sideloaded]
        out.append(SIDELOADED_NOTE)
        if not result.shows_system:
            out.append(SYSTEM_UNKNOWN_NOTE)
    counts = result.indicator_counts
    out += [
        "",
        f"What was checked: {result.packages_checked} app(s) and "
        f"{result.certificates_checked} signing certificate(s) from the "
        f"{_SHAPE_WORDS.get(result.shape, result.shape)} {result.source}, against "
        f"{counts.get('apps', 0)} known apps ({counts.get('packages', 0)} package names, "
        f"{counts.get('certificates', 0)} certificate(s); indicator set "
        f"{result.indicator_fingerprint[:16]}).",
    ]
    if result.warnings:
        out += ["", "Notes on the input:"]
        out += [f"- {w}" for w in result.warnings[:20]]
        if len(result.warnings) > 20:
            out.append(f"- and {len(result.warnings) - 20} more")
    out += ["", "What this check cannot see:"]
    out += [f"- {c}" for c in result.cannot_see]
    out += ["", ATTRIBUTION]
    return "\n".join(out) + "\n"
