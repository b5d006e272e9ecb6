"""Stalkerware and watchware indicators: reading Echap's ``stalkerware-indicators`` files
(``ioc.yaml``, ``watchware.yaml``; CC BY 4.0) into an :class:`IndicatorSet` that a phone check
can match against, and fetching fresh copies of those files when the person asks for it.

The files are parsed from bytes so that the diary can keep the exact files it used inside
itself and record their hashes with every check. Nothing in this module touches the network
unless :func:`download` is called.
"""

from __future__ import annotations

import hashlib
import ipaddress
import re
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import IO, Any

import yaml

from docket.errors import IndicatorDownloadFailed, IndicatorFileError, Location, NoIndicators

try:  # the C loader is much faster on the 95 KB upstream file; both are safe loaders
    _Loader: Any = yaml.CSafeLoader
except AttributeError:  # pragma: no cover - depends on how PyYAML was built
    _Loader = yaml.SafeLoader

UPSTREAM_FILES: tuple[str, ...] = ("ioc.yaml", "watchware.yaml")
UPSTREAM_BASE = "https://raw.githubusercontent.com/AssoEchap/stalkerware-indicators/master/"
UPSTREAM_PROJECT = "https://github.com/AssoEchap/stalkerware-indicators"
LICENCE_URL = "https://creativecommons.org/licenses/by/4.0/"

ATTRIBUTION = (
    "The stalkerware and watchware indicators come from Echap's stalkerware-indicators "
    f"project ({UPSTREAM_PROJECT}), used under the Creative Commons Attribution 4.0 licence "
    f"(CC BY 4.0, {LICENCE_URL}). Docket reads them as published and does not change them. "
    "Echap gives no guarantee that the indicators are accurate or complete."
)

APP_TYPES: tuple[str, ...] = ("stalkerware", "watchware")
MAX_FILE_BYTES = 20 * 1024 * 1024
_MAX_VALUE_CHARS = 1024  # one package name, domain or pattern; the longest upstream is ~120

_SHA1 = re.compile(r"[0-9A-F]{40}")
_PACKAGE = re.compile(r"[A-Za-z0-9_]+(?:\.[A-Za-z0-9_]+)*")
_TYPE_WORD = re.compile(r"[a-z][a-z0-9_-]{0,40}")


@dataclass(frozen=True)
class App:
    """One app as the indicator files describe it. ``type`` is "stalkerware" (ioc.yaml) or
    "watchware" (watchware.yaml: monitoring apps sold for parents or employers, which can
    be misused). ``certificates`` are SHA-1 fingerprints of the signing certificate, upper
    case, without colons. ``line`` is where the app starts in ``source``."""

    name: str
    names: tuple[str, ...]
    type: str
    packages: tuple[str, ...]
    certificates: tuple[str, ...]
    certificate_organizations: tuple[str, ...]
    certificate_cname_re: tuple[str, ...]
    websites: tuple[str, ...]
    c2_domains: tuple[str, ...]
    c2_ips: tuple[str, ...]
    ios_bundles: tuple[str, ...]
    source: str = ""
    line: int = 0


@dataclass(frozen=True)
class IndicatorSource:
    """One indicator file that was loaded: its name, the SHA-256 of its exact bytes, and
    how much it holds."""

    name: str
    sha256: str
    apps: int
    packages: int
    certificates: int


def _frozen(d: dict[str, list[App]]) -> Mapping[str, tuple[App, ...]]:
    return MappingProxyType({k: tuple(v) for k, v in d.items()})


@dataclass(frozen=True)
class IndicatorSet:
    """Every app from the loaded files, with look-ups by exact package name and by
    certificate SHA-1. Build one with :func:`load`, :func:`from_files` or :meth:`build`."""

    apps: tuple[App, ...]
    by_package: Mapping[str, tuple[App, ...]]
    by_certificate: Mapping[str, tuple[App, ...]]
    sources: tuple[IndicatorSource, ...]
    warnings: tuple[str, ...] = ()
    _cname_patterns: tuple[tuple[re.Pattern[str], App], ...] = field(
        default=(), repr=False, compare=False
    )

    @classmethod
    def build(
        cls, parsed: Sequence[tuple[str, bytes, list[App]]], warnings: Sequence[str] = ()
    ) -> IndicatorSet:
        """An indicator set from already parsed files: (name, exact bytes, apps) each."""
        apps: list[App] = []
        by_package: dict[str, list[App]] = {}
        by_cert: dict[str, list[App]] = {}
        patterns: list[tuple[re.Pattern[str], App]] = []
        sources: list[IndicatorSource] = []
        for name, data, file_apps in parsed:
            packages: set[str] = set()
            certs: set[str] = set()
            for app in file_apps:
                apps.append(app)
                for p in app.packages:
                    by_package.setdefault(p, []).append(app)
                    packages.add(p)
                for c in app.certificates:
                    by_cert.setdefault(c, []).append(app)
                    certs.add(c)
                # patterns were checked when the file was parsed
                patterns.extend((re.compile(r), app) for r in app.certificate_cname_re)
            sources.append(
                IndicatorSource(
                    name=name,
                    sha256=hashlib.sha256(data).hexdigest(),
                    apps=len(file_apps),
                    packages=len(packages),
                    certificates=len(certs),
                )
            )
        return cls(
            apps=tuple(apps),
            by_package=_frozen(by_package),
            by_certificate=_frozen(by_cert),
            sources=tuple(sources),
            warnings=tuple(warnings),
            _cname_patterns=tuple(patterns),
        )

    @property
    def fingerprint(self) -> str:
        """SHA-256 (hex) over the sorted SHA-256 hashes of the loaded files: the same files
        give the same fingerprint whatever order they were loaded in."""
        h = hashlib.sha256(b"docket indicator set v1\n")
        for digest in sorted(s.sha256 for s in self.sources):
            h.update(digest.encode("ascii") + b"\n")
        return h.hexdigest()

    def counts(self) -> dict[str, int]:
        """How much the set holds: apps (and of each type), unique package names, unique
        certificate fingerprints, certificate organisations and name patterns, and the
        network indicators this check does not use."""
        return {
            "apps": len(self.apps),
            "stalkerware": sum(1 for a in self.apps if a.type == "stalkerware"),
            "watchware": sum(1 for a in self.apps if a.type == "watchware"),
            "packages": len(self.by_package),
            "certificates": len(self.by_certificate),
            "certificate_organizations": len(
                {o.casefold() for a in self.apps for o in a.certificate_organizations}
            ),
            "certificate_name_patterns": len(self._cname_patterns),
            "c2_domains": len({d for a in self.apps for d in a.c2_domains}),
            "c2_ips": len({i for a in self.apps for i in a.c2_ips}),
            "files": len(self.sources),
        }

    def by_organisation(self, organisation: str) -> tuple[App, ...]:
        """Apps whose signing certificate names this organisation (case-insensitive, exact
        otherwise)."""
        key = organisation.strip().casefold()
        if not key:
            return ()
        return tuple(
            a for a in self.apps if any(o.casefold() == key for o in a.certificate_organizations)
        )

    def by_certificate_name(self, common_name: str) -> tuple[tuple[App, str], ...]:
        """(app, pattern) for every certificate-name pattern that matches this CN."""
        if not common_name:
            return ()
        return tuple((app, p.pattern) for p, app in self._cname_patterns if p.search(common_name))


# --- parsing ----------------------------------------------------------------------------------


class _Bad(Exception):
    def __init__(self, message: str, node: yaml.Node | None, cause: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.line = node.start_mark.line + 1 if node is not None else None
        self.cause = cause


_FILE_HINT = (
    "Use the files from Echap's stalkerware-indicators project (ioc.yaml, watchware.yaml) "
    "unchanged, or fetch fresh copies with the indicator update command."
)


def _file_error(name: str, message: str, line: int | None, cause: str | None) -> IndicatorFileError:
    return IndicatorFileError(
        f"The indicator file {name} cannot be read: {message}",
        cause=cause
        or "The file is damaged, is not one of Echap's indicator files, or was changed by hand.",
        hint=_FILE_HINT,
        location=Location(file=name, line=line),
    )


def _scalar_text(node: yaml.Node, what: str) -> str:
    if not isinstance(node, yaml.ScalarNode):
        raise _Bad(f"{what} should be a single value", node)
    text = str(node.value).strip()
    if len(text) > _MAX_VALUE_CHARS:
        raise _Bad(f"{what} is longer than {_MAX_VALUE_CHARS} characters", node)
    return text


def _is_null(node: yaml.Node) -> bool:
    return isinstance(node, yaml.ScalarNode) and node.tag == "tag:yaml.org,2002:null"


def _values(node: yaml.Node, what: str) -> list[tuple[str, yaml.Node]]:
    """A list of single values (an empty or missing list is fine; a lone value is taken as a
    one-item list, as the upstream files are hand-written)."""
    if _is_null(node):
        return []
    items = node.value if isinstance(node, yaml.SequenceNode) else [node]
    out: list[tuple[str, yaml.Node]] = []
    for item in items:
        if _is_null(item):
            continue
        text = _scalar_text(item, f"each entry of {what}")
        if text:
            out.append((text, item))
    return out


def _mapping(node: yaml.Node) -> Iterator[tuple[str, yaml.Node, yaml.Node]]:
    assert isinstance(node, yaml.MappingNode)
    for key_node, value_node in node.value:
        if not isinstance(key_node, yaml.ScalarNode):
            raise _Bad("a key should be a plain word", key_node)
        yield str(key_node.value).strip(), key_node, value_node


def _certificate(text: str) -> str | None:
    cert = re.sub(r"[\s:]", "", text).upper()
    return cert if _SHA1.fullmatch(cert) else None


def _app(node: yaml.Node, name: str, default_type: str, warnings: list[str]) -> App:
    if not isinstance(node, yaml.MappingNode):
        raise _Bad("each entry in the list should be an app with a name and its details", node)
    fields: dict[str, tuple[yaml.Node, yaml.Node]] = {}
    for key, key_node, value in _mapping(node):
        if key in fields:
            raise _Bad(f'the key "{key}" appears twice in one app', key_node)
        fields[key] = (key_node, value)
    if "name" not in fields:
        raise _Bad("an app has no name", node)
    app_name = _scalar_text(fields["name"][1], "an app's name")
    if not app_name:
        raise _Bad("an app's name is empty", fields["name"][1])
    line = node.start_mark.line + 1
    where = f"{name}, line"

    def values(key: str) -> list[tuple[str, yaml.Node]]:
        return _values(fields[key][1], f'"{key}"') if key in fields else []

    app_type = default_type
    if "type" in fields:
        app_type = _scalar_text(fields["type"][1], "an app's type").lower() or default_type
        if not _TYPE_WORD.fullmatch(app_type):
            raise _Bad("an app's type should be one word", fields["type"][1])

    packages: list[str] = []
    for text, item in values("packages"):
        if _PACKAGE.fullmatch(text):
            packages.append(text)
        else:
            warnings.append(
                f"{where} {item.start_mark.line + 1}: skipped the package name {text!r} "
                f"of {app_name} (not a package name)"
            )
    certificates: list[str] = []
    for text, item in values("certificates"):
        cert = _certificate(text)
        if cert is None:
            warnings.append(
                f"{where} {item.start_mark.line + 1}: skipped a certificate of {app_name} "
                "(not a 40-character SHA-1 fingerprint)"
            )
        else:
            certificates.append(cert)
    patterns: list[str] = []
    for text, item in values("certificate_cname_re"):
        try:
            re.compile(text)
        except re.error as exc:
            warnings.append(
                f"{where} {item.start_mark.line + 1}: skipped a certificate name pattern of "
                f"{app_name} ({exc})"
            )
        else:
            patterns.append(text)

    domains: list[str] = []
    ips: list[str] = []
    if "c2" in fields and not _is_null(fields["c2"][1]):
        c2 = fields["c2"][1]
        if not isinstance(c2, yaml.MappingNode):
            raise _Bad('"c2" should hold "domains" and "ips"', c2)
        for key, _key_node, value in _mapping(c2):
            if key == "domains":
                domains.extend(t.lower().rstrip(".") for t, _ in _values(value, '"c2.domains"'))
            elif key in ("ips", "ip"):  # two upstream apps use "ip"
                for text, item in _values(value, f'"c2.{key}"'):
                    try:
                        ips.append(str(ipaddress.ip_address(text)))
                    except ValueError:
                        warnings.append(
                            f"{where} {item.start_mark.line + 1}: skipped the address {text!r} "
                            f"of {app_name} (not an IP address)"
                        )

    names = [t for t, _ in values("names")]
    if app_name not in names:
        names.insert(0, app_name)
    return App(
        name=app_name,
        names=tuple(dict.fromkeys(names)),
        type=app_type,
        packages=tuple(dict.fromkeys(packages)),
        certificates=tuple(dict.fromkeys(certificates)),
        certificate_organizations=tuple(
            dict.fromkeys(t for t, _ in values("certificate_organizations"))
        ),
        certificate_cname_re=tuple(dict.fromkeys(patterns)),
        websites=tuple(dict.fromkeys(t.lower() for t, _ in values("websites"))),
        c2_domains=tuple(dict.fromkeys(domains)),
        c2_ips=tuple(dict.fromkeys(ips)),
        ios_bundles=tuple(dict.fromkeys(t for t, _ in values("ios_bundles"))),
        source=name,
        line=line,
    )


def _repeated_node(root: yaml.Node) -> yaml.Node | None:
    """The first node reached twice (YAML anchors and aliases), or None. Echap's files never
    use aliases, and a file that repeats a large list by reference thousands of times could
    otherwise take a very long time to read."""
    seen: set[int] = set()
    stack: list[yaml.Node] = [root]
    while stack:
        node = stack.pop()
        if id(node) in seen:
            return node
        seen.add(id(node))
        if isinstance(node, yaml.SequenceNode):
            stack.extend(node.value)
        elif isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                stack.extend((key, value))
    return None


def _default_type(name: str) -> str:
    # only used for an app that does not say its type; the upstream files always do
    return "watchware" if "watchware" in name.lower() else "stalkerware"


def _parse(data: bytes, name: str, warnings: list[str]) -> list[App]:
    if len(data) > MAX_FILE_BYTES:
        raise _file_error(
            name,
            f"it is larger than {MAX_FILE_BYTES // (1024 * 1024)} MB",
            None,
            "Echap's files are well under 1 MB; this is some other file.",
        )
    if b"\x00" in data[:4096]:
        raise _file_error(name, "it is not a text file", None, None)
    try:
        root = yaml.compose(data, Loader=_Loader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else None
        problem = exc.problem or "unreadable"
        raise _file_error(name, f"it is not valid YAML ({problem})", line, None) from exc
    except yaml.reader.ReaderError as exc:  # not UTF-8, or a control character
        position = exc.position if isinstance(exc.position, int) else None
        line = data[:position].count(b"\n") + 1 if position is not None else None
        raise _file_error(
            name,
            "it is not plain text (it holds a character that is not allowed in YAML)",
            line,
            "The file is damaged, or it was saved in a different text encoding than UTF-8.",
        ) from exc
    except (yaml.YAMLError, UnicodeDecodeError, ValueError) as exc:
        raise _file_error(name, "it is not valid YAML", None, str(exc) or None) from exc
    if root is None:
        return []
    if not isinstance(root, yaml.SequenceNode):
        raise _file_error(name, "it should be a list of apps", root.start_mark.line + 1, None)
    repeated = _repeated_node(root)
    if repeated is not None:
        raise _file_error(
            name,
            "it repeats a part of itself by reference (a YAML alias), which Echap's files never do",
            repeated.start_mark.line + 1,
            None,
        )
    default_type = _default_type(name)
    apps: list[App] = []
    try:
        for node in root.value:
            apps.append(_app(node, name, default_type, warnings))
    except _Bad as exc:
        raise _file_error(name, exc.message, exc.line, exc.cause) from None
    return apps


def parse(data: bytes, name: str) -> list[App]:
    """The apps in one indicator file, read from its exact bytes. ``name`` is used in error
    messages and in :attr:`App.source`. Raises :class:`IndicatorFileError` (with the line)
    when the file is not YAML or not a list of apps with names. Single bad values (a
    certificate that is not a SHA-1, a pattern that does not compile) are skipped; use
    :func:`from_files` to see the warnings."""
    return _parse(data, name, [])


def from_files(files: Mapping[str, bytes] | Sequence[tuple[str, bytes]]) -> IndicatorSet:
    """An indicator set from files given as bytes, e.g. the copies kept in the diary."""
    items = list(files.items()) if isinstance(files, Mapping) else list(files)
    if not items:
        raise _no_indicators()
    warnings: list[str] = []
    parsed = [(name, data, _parse(data, name, warnings)) for name, data in items]
    if not any(apps for _, _, apps in parsed):
        raise _no_indicators("The indicator files hold no apps.")
    return IndicatorSet.build(parsed, warnings)


def _no_indicators(message: str = "No indicator files were given.") -> NoIndicators:
    return NoIndicators(
        message,
        cause="A phone check needs the list of known stalkerware and watchware apps to compare "
        "against.",
        hint="Fetch the indicator files with the indicator update command, or give the path of "
        "Echap's ioc.yaml and watchware.yaml.",
    )


def load(paths: Sequence[Path]) -> IndicatorSet:
    """An indicator set from files on disk (each read whole, at most 20 MB)."""
    return from_files(read_files(paths))


def read_files(paths: Sequence[Path]) -> list[tuple[str, bytes]]:
    """Indicator files from disk as (path, bytes), each read whole (at most 20 MB and one
    byte, so that a larger file is refused when it is parsed), not yet parsed."""
    files: list[tuple[str, bytes]] = []
    for path in paths:
        try:
            with Path(path).open("rb") as f:
                data = f.read(MAX_FILE_BYTES + 1)
        except OSError as exc:
            raise IndicatorFileError(
                f"The indicator file {path} cannot be opened.",
                cause=exc.strerror or str(exc),
                hint="Check the file name, or fetch the files again with the indicator update "
                "command.",
                location=Location(file=str(path)),
            ) from exc
        files.append((str(path), data))
    return files


# --- download ---------------------------------------------------------------------------------

_LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")


def _allowed(url: str) -> bool:
    parts = urllib.parse.urlsplit(url)
    if parts.scheme == "https":
        return bool(parts.hostname)
    return parts.scheme == "http" and parts.hostname in _LOOPBACK_HOSTS


def _is_loopback(url: str) -> bool:
    return urllib.parse.urlsplit(url).hostname in _LOOPBACK_HOSTS


class _CheckedRedirects(urllib.request.HTTPRedirectHandler):
    """Follow a redirect only to an address :func:`download` would accept in the first
    place (https, or http on this computer)."""

    def redirect_request(
        self,
        req: urllib.request.Request,
        fp: IO[bytes],
        code: int,
        msg: str,
        headers: Any,
        newurl: str,
    ) -> urllib.request.Request | None:
        if not _allowed(newurl):
            raise urllib.error.URLError(f"redirected to an address that is not https: {newurl}")
        return super().redirect_request(req, fp, code, msg, headers, newurl)


def _download_error(url: str, message: str, cause: str) -> IndicatorDownloadFailed:
    return IndicatorDownloadFailed(
        message,
        cause=cause,
        hint="Nothing was changed: Docket keeps using the indicator files it already had. Check "
        "the internet connection and try again later.",
        location=Location(file=url),
    )


def _fetch(
    opener: urllib.request.OpenerDirector, url: str, timeout: float, max_bytes: int
) -> bytes:
    try:
        with opener.open(url, timeout=timeout) as resp:
            length = resp.headers.get("Content-Length")
            if length is not None and length.isdigit() and int(length) > max_bytes:
                raise _download_error(
                    url,
                    f"The indicator file at {url} is larger than expected.",
                    f"The server says it is {int(length)} bytes; the limit is {max_bytes}.",
                )
            chunks: list[bytes] = []
            size = 0
            while True:
                chunk = resp.read(min(65536, max_bytes + 1 - size))
                if not chunk:
                    break
                chunks.append(chunk)
                size += len(chunk)
                if size > max_bytes:
                    raise _download_error(
                        url,
                        f"The indicator file at {url} is larger than expected.",
                        f"It is more than {max_bytes} bytes.",
                    )
            return b"".join(chunks)
    except urllib.error.HTTPError as exc:
        raise _download_error(
            url,
            f"The indicator file at {url} could not be fetched.",
            f"The server answered {exc.code} {exc.reason}.",
        ) from exc
    except urllib.error.URLError as exc:
        raise _download_error(
            url, f"The indicator file at {url} could not be fetched.", str(exc.reason)
        ) from exc
    except (TimeoutError, OSError, ValueError) as exc:
        raise _download_error(
            url,
            f"The indicator file at {url} could not be fetched.",
            str(exc) or type(exc).__name__,
        ) from exc


def download(
    base_url: str = UPSTREAM_BASE,
    *,
    timeout: float = 30,
    max_bytes: int = MAX_FILE_BYTES,
) -> dict[str, bytes]:
    """Fetch :data:`UPSTREAM_FILES` from ``base_url`` (https; plain http only on this
    computer, for tests) and return {file name: exact bytes}. Every file is parsed before
    anything is returned, so a broken or partial download raises
    :class:`IndicatorDownloadFailed` and nothing is half-saved. Only called when the person
    asks for fresh indicators."""
    if not base_url.endswith("/"):
        base_url += "/"
    if not _allowed(base_url):
        raise _download_error(
            base_url,
            "Docket only fetches indicator files over a secure (https) connection.",
            f"The address {base_url} is not https.",
        )
    handlers: list[urllib.request.BaseHandler] = [_CheckedRedirects()]
    if _is_loopback(base_url):  # never send a request for this computer through a proxy
        handlers.append(urllib.request.ProxyHandler({}))
    opener = urllib.request.build_opener(*handlers)
    out: dict[str, bytes] = {}
    for name in UPSTREAM_FILES:
        url = urllib.parse.urljoin(base_url, name)
        data = _fetch(opener, url, timeout, max_bytes)
        try:
            apps = parse(data, name)
        except IndicatorFileError as exc:
            raise _download_error(
                url,
                f"The indicator file fetched from {url} is not usable.",
                exc.message + (f" ({exc.location})" if exc.location else ""),
            ) from exc
        if not apps:
            raise _download_error(
                url,
                f"The indicator file fetched from {url} is not usable.",
                "It holds no apps.",
            )
        out[name] = data
    return out
