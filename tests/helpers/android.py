"""Fixture generators for the Android phone check: app lists in every ``pm list packages``
shape, ``dumpsys package`` output, bug reports (text and zip), damaged and bomb zips,
apksigner and keytool listings, binary AndroidManifest.xml, .apk files signed with a
self-made certificate (v1 JAR signature, and a v2/v3 APK Signing Block), a loopback web
server for the indicator download, and a fake ``adb`` program."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import io
import os
import stat
import struct
import sys
import textwrap
import threading
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import pkcs7
from cryptography.x509.oid import NameOID

MISSING = object()


# --- certificates -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Signer:
    key: ec.EllipticCurvePrivateKey
    cert: x509.Certificate

    @property
    def der(self) -> bytes:
        return self.cert.public_bytes(serialization.Encoding.DER)

    @property
    def sha1(self) -> str:
        return hashlib.sha1(self.der, usedforsecurity=False).hexdigest().upper()

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.der).hexdigest()

    @property
    def cn(self) -> str:
        (attr,) = self.cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
        return str(attr.value)

    @property
    def dn(self) -> str:
        """The subject as apksigner and keytool print it (most specific first)."""
        parts = []
        for a in reversed(list(self.cert.subject)):
            value = a.value if isinstance(a.value, str) else a.value.decode()
            parts.append(f"{a.rfc4514_attribute_name}={value}")
        return ", ".join(parts)


def make_signer(
    cn: str = "Test Developer", o: str | None = "Test Org", *, issuer: Signer | None = None
) -> Signer:
    """A signing certificate, self-signed or issued by ``issuer`` (to build a chain)."""
    key = ec.generate_private_key(ec.SECP256R1())
    attrs = [x509.NameAttribute(NameOID.COUNTRY_NAME, "GB")]
    if o is not None:
        attrs.append(x509.NameAttribute(NameOID.ORGANIZATION_NAME, o))
    attrs.append(x509.NameAttribute(NameOID.COMMON_NAME, cn))
    name = x509.Name(attrs)
    now = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(issuer.cert.subject if issuer else name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + dt.timedelta(days=9000))
        .sign(issuer.key if issuer else key, hashes.SHA256())
    )
    return Signer(key, cert)


def indicators_yaml(apps: list[dict[str, object]]) -> bytes:
    """A synthetic indicator file in Echap's layout."""
    out: list[str] = []
    for app in apps:
        out.append(f"- name: {app['name']}")
        for key in (
            "names",
            "packages",
            "certificates",
            "certificate_organizations",
            "certificate_cname_re",
            "websites",
            "ios_bundles",
        ):
            if key in app:
                out.append(f"  {key}:")
                out.extend(f"  - '{v}'" for v in app[key])  # type: ignore[attr-defined]
        if "type" in app:
            out.append(f"  type: {app['type']}")
        if "c2" in app:
            out.append("  c2:")
            for k, vs in app["c2"].items():  # type: ignore[attr-defined]
                out.append(f"    {k}:")
                out.extend(f"    - {v}" for v in vs)
    return ("\n".join(out) + "\n").encode()


# --- pm list packages -------------------------------------------------------------------------


@dataclass(frozen=True)
class Pkg:
    name: str
    path: str | None = None
    installer: object = MISSING  # MISSING: no -i; None: "installer=null"
    uid: int | None = None
    version: int | None = None


def pm_line(p: Pkg, order: tuple[str, ...] = ("installer", "uid", "version")) -> str:
    line = "package:" + (f"{p.path}={p.name}" if p.path else p.name)
    parts = {
        "installer": None
        if p.installer is MISSING
        else f"  installer={'null' if p.installer is None else p.installer}",
        "uid": None if p.uid is None else f" uid:{p.uid}",
        "version": None if p.version is None else f" versionCode:{p.version}",
    }
    for key in order:
        if parts[key]:
            line += parts[key]  # type: ignore[operator]
    return line


def pm_list(pkgs: list[Pkg], *, newline: str = "\n", blank_lines: bool = False) -> bytes:
    lines: list[str] = []
    for p in pkgs:
        lines.append(pm_line(p))
        if blank_lines:
            lines.append("")
    return (newline.join(lines) + newline).encode()


def data_app_path(name: str) -> str:
    """A modern /data/app path; the random parts contain '=' like real ones do."""
    token = base64.urlsafe_b64encode(hashlib.sha256(name.encode()).digest()[:12]).decode()
    return f"/data/app/~~{token[:8]}==/{name}-{token[8:]}==/base.apk"


# --- dumpsys package --------------------------------------------------------------------------


@dataclass
class DPkg:
    name: str
    user_id: int = 10200
    installer: str | None = "com.android.vending"
    system: bool = False
    version_name: str = "1.0"
    first_install: str = "2024-03-01 10:22:35"
    last_update: str = "2024-03-02 09:00:01"
    requested: list[str] = field(default_factory=list)
    install_granted: list[str] = field(default_factory=list)
    runtime: dict[str, bool] = field(default_factory=dict)
    old_style: bool = False  # Android 5: grantedPermissions, userId=, no runtime section


def _dpkg_block(p: DPkg) -> list[str]:
    code = f"/system/app/{p.name}" if p.system else data_app_path(p.name).rsplit("/", 1)[0]
    flags = "[ SYSTEM HAS_CODE ALLOW_CLEAR_USER_DATA ]" if p.system else "[ HAS_CODE ALLOW_BACKUP ]"
    out = [
        f"  Package [{p.name}] ({hashlib.md5(p.name.encode()).hexdigest()[:7]}):",  # noqa: S324
        f"    {'userId' if p.old_style else 'appId'}={p.user_id}",
        f"    pkg=Package{{4d5e6f {p.name}}}",
        f"    codePath={code}",
        f"    resourcePath={code}",
        "    primaryCpuAbi=arm64-v8a",
        "    versionCode=12 minSdk=21 targetSdk=33",
        f"    versionName={p.version_name}",
        "    splits=[base]",
        "    apkSigningVersion=2",
        f"    flags={flags}",
        "    privateFlags=[ PRIVATE_FLAG_ACTIVITIES_RESIZE_MODE_RESIZEABLE ]",
        f"    dataDir=/data/user/0/{p.name}",
        "    supportsScreens=[small, medium, large, xlarge, resizeable, anyDensity]",
        f"    timeStamp={p.first_install}",
        f"    firstInstallTime={p.first_install}",
        f"    lastUpdateTime={p.last_update}",
        "    signatures=PackageSignatures{9fb2bc3 version:2, signatures:[f2e4a8b1], "
        "past signatures:[]}",
        "    installPermissionsFixed=true",
        f"    pkgFlags={flags}",
    ]
    if p.installer:  # Android prints the line only when an installer was recorded
        out.insert(
            out.index(f"    lastUpdateTime={p.last_update}") + 1,
            f"    installerPackageName={p.installer}",
        )
    if p.old_style:
        out.append("    grantedPermissions:")
        out.extend(f"      {perm}" for perm in p.install_granted)
        out.append(
            "    User 0: installed=true hidden=false stopped=false notLaunched=false enabled=0"
        )
        return out
    if p.requested:
        out.append("    requested permissions:")
        out.extend(f"      {perm}" for perm in p.requested)
    if p.install_granted:
        out.append("    install permissions:")
        out.extend(f"      {perm}: granted=true" for perm in p.install_granted)
    out.append(
        "    User 0: ceDataInode=123456 installed=true hidden=false suspended=false "
        "distractionFlags=0 stopped=false notLaunched=false enabled=0 instant=false virtual=false"
    )
    out.append("      gids=[3003]")
    if p.runtime:
        out.append("      runtime permissions:")
        out.extend(
            f"        {perm}: granted={'true' if g else 'false'}, flags=[ USER_SET ]"
            for perm, g in p.runtime.items()
        )
    out.append("      disabledComponents:")
    out.append("        com.example.Disabled")
    return out


def dumpsys_package(pkgs: list[DPkg], hidden: list[DPkg] | None = None) -> str:
    """``adb shell dumpsys package`` as Android 13 prints it, trimmed."""
    lines = [
        "Database versions:",
        "  Internal:",
        "    sdkVersion=33 databaseVersion=3",
        "",
        "Verifiers:",
        "  Required: com.android.vending (uid=10150)",
        "",
        "Activity Resolver Table:",
        "  Non-Data Actions:",
        "      android.intent.action.MAIN:",
        "        2f6b0a1 com.example.decoy/.Main filter 7c2b4e9",
        "",
        "Key Set Manager:",
        "  [com.example.decoy]",
        "      Signing KeySets: 52",
        "",
        "Packages:",
    ]
    for p in pkgs:
        lines.extend(_dpkg_block(p))
        lines.append("")
    if hidden:
        lines.append("Hidden system packages:")
        for p in hidden:
            lines.extend(_dpkg_block(p))
        lines.append("")
    lines += [
        "Queries:",
        "  system apps queryable: false",
        "",
        "Dexopt state:",
        "  [com.not.a.real.package.in.section]",
        "    path: /data/app/x/base.apk",
        "",
    ]
    return "\n".join(lines) + "\n"


# --- bug reports ------------------------------------------------------------------------------


def dumpstate(
    package_section: str,
    *,
    accessibility: list[str] = (),  # type: ignore[assignment]
    admins: list[str] = (),  # type: ignore[assignment]
    listeners: list[str] = (),  # type: ignore[assignment]
    filler_lines: int = 200,
) -> str:
    """A dumpstate text file with the package service and, optionally, the accessibility,
    device policy and notification services."""
    sep = "-" * 79
    out = [
        "========================================================",
        "== dumpstate: 2024-03-05 18:01:02",
        "========================================================",
        "",
        "Build: TQ3A.230805.001",
        "Build fingerprint: 'google/oriole/oriole:13/TQ3A.230805.001/10316531:user/release-keys'",
        "",
        "------ UPTIME (uptime) ------",
        " 18:01:02 up 3 days,  4:12,  0 users,  load average: 5.1, 5.0, 4.9",
        "------ 0.010s was the duration of 'UPTIME' ------",
    ]
    out += [f"filler line {i} DUMP OF nothing package: com.not.listed" for i in range(filler_lines)]
    out += ["------ DUMPSYS (/system/bin/dumpsys) ------", sep]
    out += ["DUMP OF SERVICE accessibility:", "ACCESSIBILITY MANAGER (dumpsys accessibility)", ""]
    out += ["currentUserId=0", "User state["]
    out += ["     attributes:{id=0, touchExplorationEnabled=false}"]
    enabled = ", ".join("{" + c + "}" for c in accessibility)
    out += [f"     Enabled services:{{{enabled}}}", "     Binding services:{}", "]"]
    out += ["--------- 0.004s was the duration of dumpsys accessibility, ending at: x", sep]
    out += ["DUMP OF SERVICE device_policy:", "Current Device Policy Manager state:"]
    out += ["  Immutable state:", "    mHasFeature=true"]
    out += ["  Enabled Device Admins (User 0, provisioningState: 0):"]
    for c in admins:
        out += [f"    {c}:", "      uid=10234", "      testOnlyAdmin=false"]
    out += ["  Other:", "    com.not.an.admin/.Receiver:"]
    out += ["--------- 0.003s was the duration of dumpsys device_policy, ending at: x", sep]
    out += ["DUMP OF SERVICE notification:", "Current Notification Manager state:"]
    out += ["  Notification listeners:", "    Allowed user-set approvals:", "      0: x"]
    out += [f"    All notification listeners ({len(listeners)}) enabled for current profiles:"]
    out += [f"      ComponentInfo{{{c}}}" for c in listeners]
    out += ["    Live notification listeners (0):", "  Policy access:"]
    out += ["--------- 0.002s was the duration of dumpsys notification, ending at: x", sep]
    out += ["DUMP OF SERVICE package:"]
    out += package_section.rstrip("\n").split("\n")
    out += ["--------- 0.145s was the duration of dumpsys package, ending at: x", sep]
    out += ["DUMP OF SERVICE package_native:", "  Package [com.after.the.section] (abc):"]
    out += ["------ 12.3s was the duration of 'DUMPSYS' ------", "------ CHECKIN PACKAGE ------"]
    out += ["pkg,com.after.the.section,1"]
    return "\n".join(out) + "\n"


def bugreport_zip(
    text: str,
    *,
    main_entry: bool = True,
    folder: str = "",
    entry_name: str = "bugreport-oriole-TQ3A.230805.001-2024-03-05-18-01-02.txt",
    extra: dict[str, bytes] | None = None,
) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        if main_entry:
            z.writestr(folder + "main_entry.txt", entry_name)
        z.writestr(folder + "version.txt", "2.0")
        z.writestr(folder + entry_name, text)
        z.writestr(folder + "FS/proc/cpuinfo", "processor: 0\n")
        for k, v in (extra or {}).items():
            z.writestr(folder + k, v)
    return buf.getvalue()


def nested_zip(inner: bytes, inner_name: str = "bugreport-2024-03-05.zip") -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED) as z:
        z.writestr("README.txt", "sent by email\n")
        z.writestr(inner_name, inner)
    return buf.getvalue()


def zip_bomb(size: int, member: str = "bugreport-x.txt") -> bytes:
    """A zip whose one text member expands from a few KB to ``size`` bytes of zeros."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as z:
        z.writestr("main_entry.txt", member)
        with z.open(member, "w", force_zip64=True) as m:
            chunk = b"\x00" * (1 << 20)
            left = size
            while left > 0:
                m.write(chunk[: min(left, len(chunk))])
                left -= len(chunk)
    return buf.getvalue()


def patch_central(
    zip_bytes: bytes,
    member: str,
    *,
    flag_bits: int | None = None,
    method: int | None = None,
    file_size: int | None = None,
) -> bytes:
    """Change what a zip says about one member, in its central directory and (for flags and
    method) its local header: a password flag, another compression method, or a declared
    expanded size (a bomb that says how big it is, without the test having to write it)."""
    out = bytearray(zip_bytes)
    name = member.encode()
    at = 0
    while (at := out.find(b"PK\x01\x02", at)) >= 0:
        (name_len,) = struct.unpack_from("<H", out, at + 28)
        if bytes(out[at + 46 : at + 46 + name_len]) == name:
            (local,) = struct.unpack_from("<I", out, at + 42)
            if flag_bits is not None:
                struct.pack_into("<H", out, at + 8, flag_bits)
                struct.pack_into("<H", out, local + 6, flag_bits)
            if method is not None:
                struct.pack_into("<H", out, at + 10, method)
                struct.pack_into("<H", out, local + 8, method)
            if file_size is not None:
                struct.pack_into("<I", out, at + 24, file_size)
            return bytes(out)
        at += 4
    raise KeyError(member)


# --- apksigner and keytool --------------------------------------------------------------------


def apksigner_output(signers: list[Signer], *, verbose: bool = False) -> str:
    out: list[str] = []
    if verbose:
        out += ["Verifies", "Verified using v1 scheme (JAR signing): true"]
        out += ["Verified using v2 scheme (APK Signature Scheme v2): true"]
        out += [f"Number of signers: {len(signers)}"]
    for i, s in enumerate(signers, 1):
        md5 = hashlib.md5(s.der).hexdigest()  # noqa: S324
        out += [
            f"Signer #{i} certificate DN: {s.dn}",
            f"Signer #{i} certificate SHA-256 digest: {s.sha256}",
            f"Signer #{i} certificate SHA-1 digest: {s.sha1.lower()}",
            f"Signer #{i} certificate MD5 digest: {md5}",
        ]
        if verbose:
            out += [
                f"Signer #{i} key algorithm: EC",
                f"Signer #{i} key size (bits): 256",
                f"Signer #{i} public key SHA-256 digest: {'0' * 64}",
            ]
    out += ["Source Stamp Signer certificate DN: CN=Google Play, O=Google", "WARNING: x"]
    return "\n".join(out) + "\n"


def _colons(hexstr: str) -> str:
    return ":".join(hexstr[i : i + 2] for i in range(0, len(hexstr), 2)).upper()


def keytool_output(signers: list[Signer], *, old_style: bool = False) -> str:
    out: list[str] = []
    for i, s in enumerate(signers, 1):
        out += [f"Signer #{i}:", ""]
        out += ["Certificate[1]:" if old_style else "Certificate #1:"]
        out += [
            f"Owner: {s.dn}",
            f"Issuer: {s.dn}",
            "Serial number: 3b95aa06ac5c2576",
            "Valid from: Mon Jan 01 00:00:00 UTC 2024 until: Sat Aug 21 00:00:00 UTC 2048",
            "Certificate fingerprints:",
            f"\t MD5:  {_colons(hashlib.md5(s.der).hexdigest())}" if old_style else "",  # noqa: S324
            f"\t SHA1: {_colons(s.sha1)}",
            f"\t SHA256: {_colons(s.sha256)}",
            "Signature algorithm name: SHA256withECDSA",
            "Subject Public Key Algorithm: 256-bit EC (secp256r1) key",
            "Version: 3",
            "",
        ]
    return "\n".join(line for line in out if line is not None) + "\n"


# --- binary AndroidManifest.xml ---------------------------------------------------------------


def axml_manifest(package: str, *, utf8: bool = False) -> bytes:
    """A minimal binary AndroidManifest.xml: a string pool and a <manifest package=…>."""
    strings = ["versionCode", "versionName", "manifest", "package", package, "android"]
    offsets: list[int] = []
    data = b""
    for s in strings:
        offsets.append(len(data))
        if utf8:
            b = s.encode()
            data += bytes([len(s), len(b)]) + b + b"\x00"
        else:
            data += struct.pack("<H", len(s)) + s.encode("utf-16-le") + b"\x00\x00"
    while len(data) % 4:
        data += b"\x00"
    header = 28
    strings_start = header + 4 * len(strings)
    pool_size = strings_start + len(data)
    pool = struct.pack(
        "<HHIIIIII",
        0x0001,
        header,
        pool_size,
        len(strings),
        0,
        (1 << 8) if utf8 else 0,
        strings_start,
        0,
    )
    pool += b"".join(struct.pack("<I", o) for o in offsets) + data
    # <manifest package="..." versionCode=1>
    attrs = struct.pack("<iIIHBBI", -1, 0, 0xFFFFFFFF, 8, 0, 0x10, 1)  # versionCode (int)
    attrs += struct.pack("<iIIHBBI", -1, 3, 4, 8, 0, 0x03, 4)  # package (string)
    ext = struct.pack("<iIHHHHHH", -1, 2, 20, 20, 2, 0, 0, 0)
    body = struct.pack("<II", 1, 0xFFFFFFFF) + ext + attrs
    element = struct.pack("<HHI", 0x0102, 16, 8 + len(body)) + body
    total = 8 + len(pool) + len(element)
    return struct.pack("<HHI", 0x0003, 8, total) + pool + element


# --- APK files --------------------------------------------------------------------------------


def _manifest_mf(entries: dict[str, bytes]) -> tuple[bytes, dict[str, bytes]]:
    head = b"Manifest-Version: 1.0\r\nCreated-By: docket-tests\r\n\r\n"
    sections: dict[str, bytes] = {}
    for name, content in entries.items():
        digest = base64.b64encode(hashlib.sha256(content).digest()).decode()
        sections[name] = f"Name: {name}\r\nSHA-256-Digest: {digest}\r\n\r\n".encode()
    return head + b"".join(sections.values()), sections


def apk_bytes(
    package: str | None,
    *,
    v1: Signer | None = None,
    v2: list[Signer] | None = None,
    v3: list[Signer] | None = None,
    manifest: bytes | None = None,
    v1_chain: list[Signer] | None = None,
) -> bytes:
    """An .apk-shaped zip: AndroidManifest.xml (binary), classes.dex and, when asked, a v1
    JAR signature (MANIFEST.MF, CERT.SF, CERT.EC signed with PKCS#7) and an APK Signing Block
    with v2 and/or v3 signers (certificates real, signatures not meaningful)."""
    entries: dict[str, bytes] = {
        "AndroidManifest.xml": manifest
        if manifest is not None
        else axml_manifest(package or "com.example.app"),
        "classes.dex": b"dex\n035\x00" + os.urandom(64),
        "res/raw/note.txt": b"hello\n",
    }
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        if v1 is not None:
            mf, sections = _manifest_mf(entries)
            sf = b"Signature-Version: 1.0\r\nCreated-By: docket-tests\r\n"
            sf += b"SHA-256-Digest-Manifest: " + base64.b64encode(hashlib.sha256(mf).digest())
            sf += b"\r\n\r\n"
            for name, section in sections.items():
                d = base64.b64encode(hashlib.sha256(section).digest()).decode()
                sf += f"Name: {name}\r\nSHA-256-Digest: {d}\r\n\r\n".encode()
            builder = pkcs7.PKCS7SignatureBuilder().set_data(sf)
            for extra in v1_chain or []:  # issuers first, as some signing tools write them
                builder = builder.add_certificate(extra.cert)
            sig = builder.add_signer(v1.cert, v1.key, hashes.SHA256()).sign(
                serialization.Encoding.DER,
                [pkcs7.PKCS7Options.DetachedSignature, pkcs7.PKCS7Options.NoCapabilities],
            )
            z.writestr("META-INF/MANIFEST.MF", mf)
            z.writestr("META-INF/CERT.SF", sf)
            z.writestr("META-INF/CERT.EC", sig)
        for name, content in entries.items():
            z.writestr(name, content)
    data = buf.getvalue()
    pairs: list[tuple[int, bytes]] = []
    if v2:
        pairs.append((0x7109871A, _scheme_value(v2, v3=False)))
    if v3:
        pairs.append((0xF05368C0, _scheme_value(v3, v3=True)))
    if pairs:
        pairs.append((0x42726577, b"\x00" * 100))  # verity padding, ignored
        data = insert_signing_block(data, pairs)
    return data


def _lp(b: bytes) -> bytes:
    return struct.pack("<I", len(b)) + b


def _scheme_value(signers: list[Signer], *, v3: bool) -> bytes:
    out = b""
    for s in signers:
        digests = _lp(_lp(struct.pack("<I", 0x0201) + _lp(b"\x11" * 32)))
        certs = _lp(_lp(s.der))
        signed = digests + certs
        if v3:
            signed += struct.pack("<II", 28, 0x7FFFFFFF)
        signed += _lp(b"")  # additional attributes
        pub = s.key.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        signer = _lp(signed)
        if v3:
            signer += struct.pack("<II", 28, 0x7FFFFFFF)
        signer += _lp(_lp(struct.pack("<I", 0x0201) + _lp(b"\x22" * 64))) + _lp(pub)
        out += _lp(signer)
    return _lp(out)


def insert_signing_block(zip_bytes: bytes, pairs: list[tuple[int, bytes]]) -> bytes:
    """Insert an APK Signing Block before the central directory and fix the EOCD."""
    eocd = zip_bytes.rfind(b"PK\x05\x06")
    (cd_offset,) = struct.unpack_from("<I", zip_bytes, eocd + 16)
    body = b"".join(struct.pack("<QI", len(v) + 4, pid) + v for pid, v in pairs)
    size = len(body) + 24
    block = struct.pack("<Q", size) + body + struct.pack("<Q", size) + b"APK Sig Block 42"
    new_cd = cd_offset + len(block)
    out = zip_bytes[:cd_offset] + block + zip_bytes[cd_offset:]
    eocd += len(block)
    return out[: eocd + 16] + struct.pack("<I", new_cd) + out[eocd + 20 :]


# --- a fake adb -------------------------------------------------------------------------------

FAKE_ADB = textwrap.dedent(
    """\
    import os, sys, time
    from pathlib import Path
    here = Path(os.environ["FAKE_ADB_DIR"])
    with (here / "calls.log").open("a") as log:
        log.write(" ".join(sys.argv[1:]) + "\\n")
    scenario = (here / "scenario").read_text().strip()
    args = sys.argv[1:]
    if args[:1] == ["-s"]:
        serial, args = args[1], args[2:]
    if args == ["devices", "-l"]:
        sys.stdout.write((here / "devices.txt").read_text())
        sys.exit(0)
    if scenario == "timeout":
        time.sleep(30)
    if scenario == "flood":
        chunk = b"package:com.flood\\n" * 4096
        while True:
            sys.stdout.buffer.write(chunk)
    if scenario == "unauthorized_late":
        sys.stderr.write("error: device unauthorized.\\n")
        sys.exit(1)
    if args[:4] == ["shell", "pm", "list", "packages"]:
        if scenario == "old_android" and "-U" in args:
            sys.stdout.write("Error: Unknown option: -U\\n")
            sys.exit(0)
        sys.stdout.buffer.write((here / "pm.txt").read_bytes())
        sys.exit(0)
    if args == ["shell", "dumpsys", "package"]:
        sys.stdout.buffer.write((here / "dumpsys.txt").read_bytes())
        sys.exit(0)
    sys.stderr.write("unexpected: " + " ".join(args) + "\\n")
    sys.exit(2)
    """
)


def install_fake_adb(folder: Path) -> Path:
    """Write an executable ``adb`` into ``folder`` (run by this Python)."""
    folder.mkdir(parents=True, exist_ok=True)
    script = folder / "adb"
    script.write_text(f"#!{sys.executable}\n" + FAKE_ADB)
    script.chmod(script.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return script


# --- a loopback web server for download() ---------------------------------------------------


@dataclass(frozen=True)
class Reply:
    """What the test server answers for one path: a status, a body, and whether to send a
    Content-Length (without one, the body ends when the connection closes)."""

    status: int = 200
    body: bytes = b""
    length: bool = True
    location: str | None = None


@contextmanager
def web_server(routes: dict[str, Reply]) -> Iterator[str]:
    """Serve ``routes`` ({path: Reply}) on 127.0.0.1; yields the base address."""

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.0"

        def do_GET(self) -> None:
            reply = routes.get(self.path, Reply(404, b"not found\n"))
            self.send_response(reply.status)
            if reply.location:
                self.send_header("Location", reply.location)
            if reply.length:
                self.send_header("Content-Length", str(len(reply.body)))
            self.end_headers()
            self.wfile.write(reply.body)

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
    )
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)
