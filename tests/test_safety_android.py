"""The Android stalkerware indicator check (issue 10, item 1): reading Echap's indicator files,
every shape of phone output Docket reads (pm list, dumpsys, bug reports, certificate listings,
.apk files), matching by every indicator type, the words shown to the person, the indicator
download from a loopback web server, and adb driven through a fake ``adb`` program."""

from __future__ import annotations

import ast
import io
import json
import os
import re
import time
import tracemalloc
import zipfile
from collections.abc import Iterator
from itertools import permutations
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from docket.errors import (
    AdbFailed,
    IndicatorDownloadFailed,
    IndicatorFileError,
    NoIndicators,
    PhoneListUnreadable,
)
from docket.safety import adb, android, indicators
from docket.safety.android import (
    CANNOT_SEE,
    FOUND_TITLE,
    NOT_FOUND_MEANS,
    NOT_FOUND_TITLE,
    REMOVAL_ADVICE,
    SAFETY_WARNING,
    CheckResult,
    Inventory,
    Limits,
    check,
    read_inventory,
    read_inventory_bytes,
    render_text,
)
from docket.safety.indicators import IndicatorSet
from tests.conftest import SHARED
from tests.helpers import android as h

ECHAP = SHARED / "indicators" / "echap"
needs_echap = pytest.mark.skipif(
    not ((ECHAP / "ioc.yaml").is_file() and (ECHAP / "watchware.yaml").is_file()),
    reason="Echap's indicator files are not in the shared folder",
)
MODULES = [Path(m.__file__ or "") for m in (indicators, android, adb)]

# --- shared fixtures: self-made signers and a synthetic indicator set ------------------------

SPY = h.make_signer(cn="Builder", o="Example Monitoring Ltd")  # matched by SHA-1
ORG = h.make_signer(cn="Someone", o="Acme Tracking SRL")  # matched by organisation
KIDS = h.make_signer(cn="Kids Safety 01-02-2020 10:11:12", o=None)  # matched by CN pattern
HONEST = h.make_signer(cn="Honest Developer", o="Honest Apps Ltd")  # matches nothing

CN_PATTERN = r"^Kids\WSafety\W[0-9]{2}-[0-9]{2}-[0-9]{2,4}\W[0-9]{2}:[0-9]{2}:[0-9]{2}$"


def _colons(hexstr: str) -> str:
    return ":".join(hexstr[i : i + 2] for i in range(0, len(hexstr), 2))


IOC = h.indicators_yaml(
    [
        {
            "name": "FakeSpy",
            "type": "stalkerware",
            "names": ["FakeSpy", "SpyFake"],
            "packages": ["com.fakespy.app", "com.fone"],
            # written the way people paste fingerprints: lower case, with colons
            "certificates": [_colons(SPY.sha1.lower())],
            "websites": ["FakeSpy.example"],
            "c2": {"domains": ["c2.fakespy.example."], "ips": ["192.0.2.7"]},
        },
        {
            "name": "OrgSpy",
            "type": "stalkerware",
            "packages": ["com.orgspy"],
            "certificate_organizations": ["Acme Tracking SRL"],
            "c2": {"ip": ["198.51.100.9"]},  # the upstream quirk: "ip", not "ips"
        },
    ]
)
WATCH = h.indicators_yaml(
    [
        {
            "name": "KidsWatch",
            "type": "watchware",
            "packages": ["com.kids.watch"],
            "certificate_cname_re": [CN_PATTERN],
        }
    ]
)


@pytest.fixture(scope="module")
def synthetic() -> IndicatorSet:
    return indicators.from_files({"ioc.yaml": IOC, "watchware.yaml": WATCH})


@pytest.fixture(scope="module")
def echap() -> IndicatorSet:
    return indicators.load([ECHAP / "ioc.yaml", ECHAP / "watchware.yaml"])


def _read(data: bytes, name: str = "phone.txt", **kw: object) -> Inventory:
    return read_inventory_bytes(data, name, **kw)  # type: ignore[arg-type]


def _unreadable(data: bytes, name: str = "phone.txt", **kw: object) -> PhoneListUnreadable:
    with pytest.raises(PhoneListUnreadable) as err:
        read_inventory_bytes(data, name, **kw)  # type: ignore[arg-type]
    assert err.value.location is not None and err.value.location.file
    assert err.value.hint  # every refusal says which commands make a readable file
    return err.value


def _hits(result: CheckResult) -> set[tuple[str, str, str | None]]:
    return {(m.app, m.how, m.package) for m in result.matches}


# --- indicator files --------------------------------------------------------------------------


def test_parse_reads_every_field_and_normalises_certificates() -> None:
    apps = indicators.parse(IOC, "ioc.yaml")
    assert [a.name for a in apps] == ["FakeSpy", "OrgSpy"]
    spy, org = apps
    assert spy.type == "stalkerware" and spy.source == "ioc.yaml" and spy.line == 1
    assert spy.names == ("FakeSpy", "SpyFake")
    assert spy.packages == ("com.fakespy.app", "com.fone")
    assert spy.certificates == (SPY.sha1,)  # upper case, colons removed
    assert spy.websites == ("fakespy.example",)
    assert spy.c2_domains == ("c2.fakespy.example",)
    assert spy.c2_ips == ("192.0.2.7",)
    assert org.c2_ips == ("198.51.100.9",)  # "c2.ip" read like "c2.ips"
    assert org.certificate_organizations == ("Acme Tracking SRL",)
    assert org.line > spy.line
    watch = indicators.parse(WATCH, "watchware.yaml")[0]
    assert watch.type == "watchware" and watch.certificate_cname_re == (CN_PATTERN,)


def test_parse_tolerates_missing_keys_nulls_lone_values_and_unknown_keys() -> None:
    data = b"""\
- name: Sparse
- name: Lone
  type: stalkerware
  packages: com.lone.value
  certificates:
  websites: ~
  distribution:
  - somewhere.example
  c2:
    domains:
    ips:
- name: NoType
  packages: [com.no.type]
"""
    sparse, lone, no_type = indicators.parse(data, "ioc.yaml")
    assert sparse.packages == () and sparse.certificates == () and sparse.names == ("Sparse",)
    assert lone.packages == ("com.lone.value",)
    assert no_type.type == "stalkerware"
    assert indicators.parse(b"- name: W\n  packages: [com.w]\n", "watchware.yaml")[0].type == (
        "watchware"
    )
    assert indicators.parse(b"", "ioc.yaml") == []


def test_single_bad_values_are_skipped_with_a_warning_naming_the_line() -> None:
    data = (
        b"""\
- name: Messy
  packages:
  - com.good
  - not a package
  certificates:
  - 1234
  - """
        + SPY.sha1.encode()
        + b"""
  certificate_cname_re:
  - '(unclosed'
  c2:
    ips:
    - 203.0.113.5
    - not-an-ip
"""
    )
    found = indicators.from_files({"ioc.yaml": data})
    (app,) = found.apps
    assert app.packages == ("com.good",)
    assert app.certificates == (SPY.sha1,)
    assert app.certificate_cname_re == ()
    assert app.c2_ips == ("203.0.113.5",)
    assert len(found.warnings) == 4
    for fragment, line in (("package name", 4), ("certificate of", 6), ("pattern", 9)):
        assert any(fragment in w and f"line {line}" in w for w in found.warnings), fragment
    assert any("not-an-ip" in w and "line 13" in w for w in found.warnings)


@pytest.mark.parametrize(
    ("data", "fragment", "line"),
    [
        (b"- name: a\n  packages: [com.a\n", "not valid YAML", 3),
        (b"- name: a\n\tpackages: x\n", "not valid YAML", 2),
        (b"name: a\npackages: [com.a]\n", "should be a list of apps", 1),
        (b"- name: a\n- just a word\n", "should be an app", 2),
        (b"- name: a\n- packages: [com.b]\n", "has no name", 2),
        (b"- name: ''\n", "name is empty", 1),
        (b"- name: [a, b]\n", "name should be a single value", 1),
        (b"- name: a\n  packages: [com.a]\n  packages: [com.b]\n", "appears twice", 3),
        (b"- name: a\n  packages:\n  - [com.a]\n", "each entry", 3),
        (b"- name: a\n  c2: [x]\n", '"c2" should hold', 2),
        (b"- name: a\n  type: two words\n", "type should be one word", 2),
        (b"- name: a\n- name: b\n  packages:\n  - com.\xff\n", "not plain text", 4),
        (b"- &a\n  name: a\n- *a\n", "by reference", 1),
        (b"- name: a\n---\n- name: b\n", "not valid YAML", 2),
        (b"\x00\x01\x02binary", "not a text file", None),
    ],
)
def test_bad_indicator_files_name_the_file_and_line(
    data: bytes, fragment: str, line: int | None
) -> None:
    with pytest.raises(IndicatorFileError) as err:
        indicators.parse(data, "ioc.yaml")
    assert fragment in err.value.message
    assert "ioc.yaml" in err.value.message
    assert err.value.location is not None
    assert err.value.location.file == "ioc.yaml"
    assert err.value.location.line == line
    assert err.value.code == "indicator_file_invalid"
    assert err.value.hint


def test_an_oversized_indicator_file_is_refused_before_parsing(tmp_path: Path) -> None:
    big = tmp_path / "ioc.yaml"
    big.write_bytes(b"#" * (indicators.MAX_FILE_BYTES + 10))
    with pytest.raises(IndicatorFileError, match="larger than 20 MB"):
        indicators.load([big])


def test_load_names_a_missing_file_and_needs_at_least_one_app(tmp_path: Path) -> None:
    missing = tmp_path / "nope.yaml"
    with pytest.raises(IndicatorFileError) as err:
        indicators.load([missing])
    assert err.value.location is not None and err.value.location.file == str(missing)
    with pytest.raises(NoIndicators):
        indicators.load([])
    empty = tmp_path / "empty.yaml"
    empty.write_bytes(b"# nothing yet\n")
    with pytest.raises(NoIndicators):
        indicators.load([empty])


def test_indicator_set_indexes_counts_and_fingerprint(
    synthetic: IndicatorSet, tmp_path: Path
) -> None:
    assert [a.name for a in synthetic.by_package["com.fone"]] == ["FakeSpy"]
    assert [a.name for a in synthetic.by_certificate[SPY.sha1]] == ["FakeSpy"]
    assert [a.name for a in synthetic.by_organisation("acme tracking srl")] == ["OrgSpy"]
    assert synthetic.by_organisation("") == ()
    assert [a.name for a, _ in synthetic.by_certificate_name(KIDS.cn)] == ["KidsWatch"]
    assert synthetic.by_certificate_name("Kids Safety") == ()
    assert synthetic.counts() == {
        "apps": 3,
        "stalkerware": 2,
        "watchware": 1,
        "packages": 4,
        "certificates": 1,
        "certificate_organizations": 1,
        "certificate_name_patterns": 1,
        "c2_domains": 1,
        "c2_ips": 2,
        "files": 2,
    }
    assert [(s.name, s.apps, s.packages, s.certificates) for s in synthetic.sources] == [
        ("ioc.yaml", 2, 3, 1),
        ("watchware.yaml", 1, 1, 0),
    ]
    # the same bytes in another order, from disk: the same fingerprint; other bytes: another
    (tmp_path / "ioc.yaml").write_bytes(IOC)
    (tmp_path / "watchware.yaml").write_bytes(WATCH)
    loaded = indicators.load([tmp_path / "watchware.yaml", tmp_path / "ioc.yaml"])
    assert loaded.fingerprint == synthetic.fingerprint
    assert re.fullmatch(r"[0-9a-f]{64}", synthetic.fingerprint)
    changed = indicators.from_files({"ioc.yaml": IOC + b"\n", "watchware.yaml": WATCH})
    assert changed.fingerprint != synthetic.fingerprint


def test_package_names_match_exactly_never_by_prefix(synthetic: IndicatorSet) -> None:
    inv = _read(b"package:com.fonetracker\npackage:com.fone.other\npackage:com\n")
    assert check(inv, synthetic).matches == ()
    inv = _read(b"package:com.fonetracker\npackage:com.fone\n")
    assert _hits(check(inv, synthetic)) == {("FakeSpy", "package name", "com.fone")}


def test_a_check_needs_indicators() -> None:
    with pytest.raises(NoIndicators):
        check(_read(b"package:com.a\n"), IndicatorSet.build([]))


# --- Echap's files ----------------------------------------------------------------------------


@needs_echap
def test_echap_files_load_without_warnings(echap: IndicatorSet) -> None:
    counts = echap.counts()
    assert echap.warnings == ()
    assert counts["apps"] == counts["stalkerware"] + counts["watchware"]
    assert counts["stalkerware"] > 100 and counts["watchware"] > 10
    assert counts["packages"] > 500 and counts["certificates"] > 400
    assert counts["certificate_organizations"] >= 1
    assert counts["certificate_name_patterns"] >= 1
    assert {s.name for s in echap.sources} == {
        str(ECHAP / "ioc.yaml"),
        str(ECHAP / "watchware.yaml"),
    }
    # every app that uses the "c2.ip" quirk keeps its addresses
    import yaml

    raw = yaml.safe_load((ECHAP / "ioc.yaml").read_bytes())
    quirky = {
        a["name"]: a["c2"]["ip"] for a in raw if isinstance(a.get("c2"), dict) and "ip" in a["c2"]
    }
    for app in echap.apps:
        if app.name in quirky:
            assert set(quirky[app.name]) <= set(app.c2_ips)


@needs_echap
def test_echap_matches_by_package_in_every_input_shape(echap: IndicatorSet) -> None:
    pm = _read(b"package:com.android.chrome\r\npackage:com.thetruth  installer=null\r\n")
    result = check(pm, echap)
    assert result.found
    assert _hits(result) == {("TheTruthSpy", "package name", "com.thetruth")}
    (m,) = result.matches
    assert (m.type, m.line, m.installer, m.sideloaded) == ("stalkerware", 2, None, True)
    assert m.indicator_file.endswith("ioc.yaml") and m.indicator_line > 0

    report = h.bugreport_zip(
        h.dumpstate(h.dumpsys_package([h.DPkg("com.thetruth", installer=None)]))
    )
    assert _hits(check(_read(report, "bugreport.zip"), echap)) == {
        ("TheTruthSpy", "package name", "com.thetruth")
    }
    watch = check(_read(b"package:com.wondershare.famisafe\n"), echap)
    assert [(m.app, m.type) for m in watch.matches] == [("FamiSafe", "watchware")]


@needs_echap
def test_echap_matches_by_certificate_organisation_and_name(echap: IndicatorSet) -> None:
    truth = echap.by_package["com.thetruth"][0].certificates[0]
    listing = f"Signer #1 certificate SHA-1 digest: {truth.lower()}\n".encode()
    assert _hits(check(_read(listing, "certs.txt"), echap)) == {
        ("TheTruthSpy", "signing certificate", None)
    }
    tesline = h.make_signer(cn="Someone", o="Tesline-Service SRL")
    apk = h.apk_bytes("com.unlisted.name", v2=[tesline])
    assert _hits(check(_read(apk, "app.apk"), echap)) == {
        ("KidsShield", "certificate organisation", "com.unlisted.name")
    }
    apk = h.apk_bytes("com.unlisted.name", v1=KIDS)
    assert _hits(check(_read(apk, "app.apk"), echap)) == {
        ("KidsShield", "certificate name", "com.unlisted.name")
    }


# --- pm list packages -------------------------------------------------------------------------

APPS = [
    h.Pkg("com.fakespy.app", path=h.data_app_path("com.fakespy.app"), installer=None, uid=10231),
    h.Pkg(
        "com.android.chrome",
        path=h.data_app_path("com.android.chrome"),
        installer="com.android.vending",
        uid=10120,
        version=5735,
    ),
    h.Pkg("android", path="/system/framework/framework-res.apk", installer=None, uid=1000),
    h.Pkg(
        "com.side.loaded",
        path=h.data_app_path("com.side.loaded"),
        installer="com.google.android.packageinstaller",
        uid=10300,
    ),
]


@pytest.mark.parametrize(
    "order", list(permutations(("installer", "uid", "version"))), ids=lambda o: "-".join(o)
)
@pytest.mark.parametrize("newline", ["\n", "\r\n", "\r\r\n"], ids=["lf", "crlf", "crcrlf"])
def test_pm_list_with_every_flag_in_any_order(order: tuple[str, ...], newline: str) -> None:
    text = newline.join(h.pm_line(p, order) for p in APPS) + newline
    inv = _read(text.encode())
    assert inv.shape == "pm_list" and inv.warnings == ()
    got = {p.name: p for p in inv.packages}
    assert list(got) == [p.name for p in APPS]
    spy, chrome, system, side = (got[p.name] for p in APPS)
    assert spy.path == APPS[0].path and "==" in (spy.path or "")  # split on the LAST "="
    assert (spy.installer, spy.installer_known, spy.uid, spy.line) == (None, True, 10231, 1)
    assert (chrome.installer, chrome.version, chrome.uid) == ("com.android.vending", "5735", 10120)
    assert system.system and not spy.system
    assert side.installer == "com.google.android.packageinstaller"


@pytest.mark.parametrize(
    ("text", "names"),
    [
        ("package:com.a\npackage:com.b\n", ["com.a", "com.b"]),  # plain, -d, -e, -3, -u
        ("\npackage:com.a\n\n\npackage:com.b\n\n", ["com.a", "com.b"]),  # blank lines
        ("package:android\npackage:com.a  installer=\n", ["android", "com.a"]),
        (
            "* daemon not running; starting now at tcp:5037\n* daemon started successfully\n"
            "package:com.a\n",
            ["com.a"],
        ),
        ("package:com.a uid:10123,1010123\n", ["com.a"]),  # -U with a second user
        ("package:com.a\npackage:com.a  installer=com.android.vending\n", ["com.a"]),
    ],
    ids=["plain", "blank-lines", "empty-installer", "adb-noise", "two-users", "repeated"],
)
def test_pm_list_variants(text: str, names: list[str]) -> None:
    inv = _read(text.encode())
    assert [p.name for p in inv.packages] == names


def test_pm_list_merges_a_package_listed_twice() -> None:
    inv = _read(b"package:com.a\npackage:/data/app/x/base.apk=com.a  installer=null uid:10001\n")
    (pkg,) = inv.packages
    assert (pkg.line, pkg.path, pkg.uid, pkg.installer_known) == (
        1,
        "/data/app/x/base.apk",
        10001,
        True,
    )


@pytest.mark.parametrize(
    ("encoding", "bom"),
    [
        ("utf-16-le", b"\xff\xfe"),
        ("utf-16-be", b"\xfe\xff"),
        ("utf-8", b"\xef\xbb\xbf"),
        ("utf-16-le", b""),
    ],
    ids=["utf16le-bom", "utf16be-bom", "utf8-bom", "utf16le-no-bom"],
)
def test_pm_list_saved_by_windows_powershell(encoding: str, bom: bytes) -> None:
    text = "\r\n".join(h.pm_line(p) for p in APPS) + "\r\n"
    inv = _read(bom + text.encode(encoding))
    assert [p.name for p in inv.packages] == [p.name for p in APPS]
    assert inv.packages[0].installer_known


def test_pm_list_with_a_few_stray_lines_warns_with_their_line_numbers() -> None:
    text = "package:com.a\nsomething else\npackage:com.b\n" + "package:com.c\n" * 20
    inv = _read(text.encode())
    assert [p.name for p in inv.packages] == ["com.a", "com.b", "com.c"]
    assert inv.warnings == ("line 2: not an app name, skipped",)


def test_pm_list_stray_line_warnings_are_bounded() -> None:
    text = "package:com.a\n" * 700 + "stray\n" * 60
    inv = _read(text.encode())
    assert len(inv.warnings) == android.MAX_LISTED_BAD_LINES + 1
    assert inv.warnings[0] == "line 701: not an app name, skipped"
    assert inv.warnings[-1] == "and 10 more lines that are not app names"


def test_a_list_of_more_apps_than_a_phone_holds_is_refused() -> None:
    count = android.MAX_PACKAGES + 1
    text = "".join(f"package:com.app{i}\n" for i in range(count))
    err = _unreadable(text.encode())
    assert "more than" in err.message
    assert err.location is not None and err.location.line == count


def test_pm_list_with_many_stray_lines_is_refused_at_the_first() -> None:
    text = "package:com.a\n" * 30 + "this was typed by hand\n" * 10
    err = _unreadable(text.encode())
    assert "10 of the 40 lines" in err.message
    assert err.location is not None and err.location.line == 31


# --- dumpsys package --------------------------------------------------------------------------

SPY_DPKG = h.DPkg(
    "com.fakespy.app",
    user_id=10234,
    installer=None,
    version_name="7.2",
    first_install="2024-02-28 23:10:00",
    last_update="2024-02-29 01:00:00",
    requested=["android.permission.READ_SMS", "android.permission.RECORD_AUDIO"],
    install_granted=["android.permission.INTERNET", "android.permission.RECEIVE_SMS"],
    runtime={
        "android.permission.ACCESS_FINE_LOCATION": True,
        "android.permission.READ_CALL_LOG": True,
        "android.permission.CAMERA": False,
        "android.permission.RECORD_AUDIO": False,
    },
)
DUMPSYS = h.dumpsys_package(
    [SPY_DPKG, h.DPkg("com.android.phone", system=True, installer=None), h.DPkg("com.maps")],
    hidden=[h.DPkg("com.maps", system=True)],
)


def test_dumpsys_package_fields_permissions_and_system_apps() -> None:
    inv = _read(DUMPSYS.encode(), "packages.txt")
    assert inv.shape == "dumpsys" and inv.shows_permissions and inv.shows_system
    got = {p.name: p for p in inv.packages}
    assert set(got) == {"com.fakespy.app", "com.android.phone", "com.maps"}  # nothing else
    spy = got["com.fakespy.app"]
    assert (spy.uid, spy.version, spy.installer, spy.installer_known) == (10234, "7.2", None, True)
    assert (spy.first_install, spy.last_update) == ("2024-02-28 23:10:00", "2024-02-29 01:00:00")
    assert spy.path is not None and spy.path.startswith("/data/app/")
    assert not spy.system
    # granted only: requested-but-not-granted and granted=false are left out
    assert spy.permissions == (
        "android.permission.INTERNET",
        "android.permission.RECEIVE_SMS",
        "android.permission.ACCESS_FINE_LOCATION",
        "android.permission.READ_CALL_LOG",
    )
    assert DUMPSYS.splitlines()[spy.line - 1].strip().startswith("Package [com.fakespy.app]")
    assert got["com.android.phone"].system  # flags=[ SYSTEM … ]
    assert got["com.maps"].system  # an updated system app: also under Hidden system packages
    assert got["com.maps"].installer == "com.android.vending"
    assert inv.certificates == ()  # signatures=[…] are hash codes, not fingerprints


def test_dumpsys_for_one_package_and_from_android_5() -> None:
    one = h.dumpsys_package([SPY_DPKG]).split("Packages:", 1)
    text = "Activity Resolver Table:\n  Non-Data Actions:\n\nPackages:" + one[1]
    inv = _read(text.encode())
    assert [p.name for p in inv.packages] == ["com.fakespy.app"]
    old = h.dumpsys_package(
        [h.DPkg("com.old", old_style=True, install_granted=["android.permission.READ_SMS"])]
    )
    (pkg,) = _read(old.encode()).packages
    assert (pkg.uid, pkg.permissions) == (10200, ("android.permission.READ_SMS",))


def test_dumpsys_installer_and_install_time_variants(synthetic: IndicatorSet) -> None:
    text = """\
Packages:
  Package [com.fakespy.app] (1a2b3c):
    appId=10300
    codePath=/data/app/~~x==/com.fakespy.app-y==
    User 0: ceDataInode=1 installed=true firstInstallTime=2024-05-06 07:08:09 enabled=0
  Package [com.b] (4d5e6f):
    userId=10301
    installerPackageName=null
"""
    a, b = _read(text.encode()).packages
    # no installerPackageName line: Android prints one only when an installer was recorded
    assert (a.installer, a.installer_known, a.uid) == (None, True, 10300)
    assert a.first_install == "2024-05-06 07:08:09"
    assert (b.installer, b.installer_known) == (None, True)
    (m,) = check(_read(text.encode()), synthetic).matches
    assert m.sideloaded is True
    assert "Installed: from outside an app store (installer: none recorded)" in render_text(
        check(_read(text.encode()), synthetic)
    )


def test_dumpsys_without_packages_is_refused() -> None:
    err = _unreadable(b"Packages:\n\nQueries:\n  x\n", "packages.txt")
    assert "no apps" in err.message


# --- bug reports ------------------------------------------------------------------------------

DUMPSTATE = h.dumpstate(
    DUMPSYS,
    accessibility=["com.fakespy.app/com.fakespy.app.Watcher", "com.gone/.Svc"],
    admins=["com.fakespy.app/.Admin"],
    listeners=["com.fakespy.app/com.fakespy.app.Notes"],
)


def _check_bugreport_inventory(inv: Inventory) -> None:
    assert inv.shape == "bugreport"
    got = {p.name: p for p in inv.packages}
    # only the package service: not the filler, package_native or CHECKIN PACKAGE after it
    assert set(got) == {"com.fakespy.app", "com.android.phone", "com.maps"}
    spy = got["com.fakespy.app"]
    assert spy.roles == (
        android.ROLE_ACCESSIBILITY,
        android.ROLE_DEVICE_ADMIN,
        android.ROLE_NOTIFICATIONS,
    )
    assert got["com.maps"].roles == ()
    assert "android.permission.ACCESS_FINE_LOCATION" in spy.permissions
    assert any("com.gone" in w for w in inv.warnings)


def test_bare_dumpstate_text() -> None:
    inv = _read(DUMPSTATE.encode(), "bugreport.txt")
    _check_bugreport_inventory(inv)
    spy = next(p for p in inv.packages if p.name == "com.fakespy.app")
    assert DUMPSTATE.splitlines()[spy.line - 1].strip().startswith("Package [com.fakespy.app]")


@pytest.mark.parametrize("folder", ["", "bugreport-oriole-2024/"], ids=["root", "folder"])
def test_bugreport_zip(folder: str) -> None:
    inv = _read(h.bugreport_zip(DUMPSTATE, folder=folder), "bugreport.zip")
    _check_bugreport_inventory(inv)
    assert inv.name.startswith("bugreport.zip: ") and inv.name.endswith(".txt")
    assert not any("main_entry" in w for w in inv.warnings)


def test_bugreport_zip_without_main_entry_picks_the_bug_report_text() -> None:
    decoy = {"dumpstate_log.txt": ("dumpstate log " * 50_000).encode()}  # larger on purpose
    inv = _read(h.bugreport_zip(DUMPSTATE, main_entry=False, extra=decoy), "bugreport.zip")
    _check_bugreport_inventory(inv)
    assert any("no main_entry.txt" in w for w in inv.warnings)


def test_bugreport_zip_whose_main_entry_names_a_missing_file() -> None:
    data = h.bugreport_zip(DUMPSTATE, entry_name="bugreport-a.txt")
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        members = {i.filename: z.read(i) for i in z.infolist()}
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("main_entry.txt", "bugreport-gone.txt")
        z.writestr("bugreport-a.txt", members["bugreport-a.txt"])
    inv = _read(buf.getvalue(), "bugreport.zip")
    assert any("bugreport-gone.txt" in w for w in inv.warnings)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("main_entry.txt", "bugreport-gone.txt")
        z.writestr("version.txt", "2.0")
    err = _unreadable(buf.getvalue(), "bugreport.zip")
    assert "bugreport-gone.txt" in err.message and "not in the zip" in err.message


def test_bugreport_zip_nested_one_level_but_no_deeper() -> None:
    inner = h.bugreport_zip(DUMPSTATE)
    inv = _read(h.nested_zip(inner), "mail.zip")
    _check_bugreport_inventory(inv)
    assert inv.name.startswith("mail.zip: bugreport-2024-03-05.zip: ")
    err = _unreadable(h.nested_zip(h.nested_zip(inner)), "mail.zip")
    assert "neither a bug report nor an .apk" in err.message


def test_zip_bomb_is_refused_before_it_is_expanded() -> None:
    bomb = h.zip_bomb(100 * 1024 * 1024)
    assert len(bomb) < 1024 * 1024
    tracemalloc.start()
    started = time.monotonic()
    try:
        err = _unreadable(bomb, "bugreport.zip")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert time.monotonic() - started < 2
    assert peak < 4 * 1024 * 1024
    assert "zip bomb" in (err.cause or "") and "100 MB" in err.message
    # a member that says it expands beyond what Docket reads at all
    small = h.bugreport_zip(DUMPSTATE)
    huge = h.patch_central(
        small, "bugreport-oriole-TQ3A.230805.001-2024-03-05-18-01-02.txt", file_size=0xFFFFFFF0
    )
    err = _unreadable(huge, "bugreport.zip")
    assert "more than Docket reads" in err.message
    # a nested bomb is checked the same way
    err = _unreadable(h.nested_zip(bomb), "mail.zip")
    assert "zip bomb" in (err.cause or "")


def test_zip_bomb_guards_follow_the_limits() -> None:
    ten_mb = h.zip_bomb(10 * 1024 * 1024)
    strict = Limits(ratio_floor=1024 * 1024)
    assert "would expand" in _unreadable(ten_mb, "b.zip", limits=strict).message
    # honest sizes, but more text than allowed: cut off while streaming, never held whole
    text_cap = Limits(max_text_bytes=256 * 1024)
    big = h.bugreport_zip(h.dumpstate(DUMPSYS, filler_lines=20_000))
    assert "larger than Docket reads (256 KB)" in _unreadable(big, "b.zip", limits=text_cap).message
    assert _read(big, "b.zip").shape == "bugreport"


def test_large_bug_report_streams_in_bounded_memory() -> None:
    """A 24 MB dumpstate read from an unseekable stream: the memory used stays a small
    fraction of it."""
    filler = "x" * 100 + " filler line DUMP OF nothing\n"
    head, tail = h.dumpstate(DUMPSYS, filler_lines=0).split("------ DUMPSYS", 1)
    parts = [head.encode(), filler.encode(), b"------ DUMPSYS" + tail.encode()]
    repeats = 24 * 1024 * 1024 // len(filler)

    class Stream(io.RawIOBase):
        def __init__(self) -> None:
            self._chunks: Iterator[bytes] = self._gen()
            self._buf = b""

        def _gen(self) -> Iterator[bytes]:
            yield parts[0]
            block = parts[1] * 1000
            for _ in range(repeats // 1000):
                yield block
            yield parts[2]

        def readable(self) -> bool:
            return True

        def readinto(self, b: memoryview) -> int:  # type: ignore[override]
            while not self._buf:
                try:
                    self._buf = next(self._chunks)
                except StopIteration:
                    return 0
            n = min(len(b), len(self._buf))
            b[:n] = self._buf[:n]
            self._buf = self._buf[n:]
            return n

    tracemalloc.start()
    try:
        inv = read_inventory_bytes(io.BufferedReader(Stream()), "big-bugreport.txt")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert {p.name for p in inv.packages} == {"com.fakespy.app", "com.android.phone", "com.maps"}
    assert peak < 4 * 1024 * 1024


@pytest.mark.parametrize(
    ("patch", "fragment"),
    [({"flag_bits": 1}, "password"), ({"method": 9}, "compressed in a way")],
    ids=["encrypted", "deflate64"],
)
def test_zip_members_that_cannot_be_opened(patch: dict[str, int], fragment: str) -> None:
    member = "bugreport-oriole-TQ3A.230805.001-2024-03-05-18-01-02.txt"
    data = h.patch_central(h.bugreport_zip(DUMPSTATE), member, **patch)
    err = _unreadable(data, "bugreport.zip")
    assert fragment in err.message and member in err.message


def test_damaged_and_foreign_zips() -> None:
    whole = h.bugreport_zip(DUMPSTATE)
    assert "damaged zip" in _unreadable(whole[: len(whole) // 2], "b.zip").message
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("holiday.jpg", b"\xff\xd8")
    assert "neither a bug report nor an .apk" in _unreadable(buf.getvalue(), "b.zip").message
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("main_entry.txt", "bugreport-a.txt")
        z.writestr("bugreport-a.txt", "package:com.a\n")
    err = _unreadable(buf.getvalue(), "b.zip")
    assert "is not a bug report" in err.message
    assert err.location is not None and err.location.file == "b.zip: bugreport-a.txt"


def test_unzipped_bug_report_folder(tmp_path: Path) -> None:
    folder = tmp_path / "bugreport"
    folder.mkdir()
    (folder / "main_entry.txt").write_text("bugreport-x.txt")
    (folder / "bugreport-x.txt").write_text(DUMPSTATE)
    _check_bugreport_inventory(read_inventory(folder))
    (folder / "main_entry.txt").write_text("../outside.txt")
    (tmp_path / "outside.txt").write_text(DUMPSTATE)
    with pytest.raises(PhoneListUnreadable, match="names a file that is not in the folder"):
        read_inventory(folder)
    (folder / "main_entry.txt").unlink()
    with pytest.raises(PhoneListUnreadable, match=r"no main_entry\.txt"):
        read_inventory(folder)


def test_bug_report_zip_from_an_unseekable_stream() -> None:
    class OneWay(io.RawIOBase):
        def __init__(self, data: bytes) -> None:
            self._data = io.BytesIO(data)

        def readable(self) -> bool:
            return True

        def readinto(self, b: memoryview) -> int:  # type: ignore[override]
            chunk = self._data.read(len(b))
            b[: len(chunk)] = chunk
            return len(chunk)

    inv = read_inventory_bytes(io.BufferedReader(OneWay(h.bugreport_zip(DUMPSTATE))), "b.zip")
    _check_bugreport_inventory(inv)


@pytest.mark.parametrize(
    ("data", "fragment", "line"),
    [
        (b"", "is empty", None),
        (b"   \n\n", "is empty", None),
        (b"hello\nthis is a shopping list\n", "not an app list", None),
        (bytes(range(256)) * 4, "not a text file", None),
        (b"adb: no devices/emulators found\n", "error message from adb", 1),
        (b"\n- waiting for device -\nerror: device unauthorized.\n", "error message from adb", 2),
        (
            b"Signer #1 certificate DN: CN=x\nSigner #1 certificate SHA-1 digest: abcd\n",
            "not 40 hexadecimal",
            2,
        ),
        (b"Owner: CN=x\n\tSHA1: AB:CD\n", "not 40 hexadecimal", 2),
        (b"== dumpstate: 2024\nDUMP OF SERVICE power:\n  x\n", "no list of apps", None),
        (b"== dumpstate: 2024\nDUMP OF SERVICE package:\nPackages:\n", "holds no apps", None),
    ],
    ids=[
        "empty",
        "blank",
        "prose",
        "binary",
        "adb-error",
        "adb-unauthorized",
        "apksigner-digest",
        "keytool-digest",
        "bugreport-no-package",
        "bugreport-empty-package",
    ],
)
def test_unreadable_inputs_name_the_file_and_line(
    data: bytes, fragment: str, line: int | None
) -> None:
    err = _unreadable(data, "from-phone.txt")
    assert fragment in err.message
    assert err.location is not None
    assert err.location.file == "from-phone.txt"
    assert err.location.line == line
    assert err.code == "phone_list_unreadable"
    assert "adb shell pm list packages" in (err.hint or "")


def test_a_missing_file_cannot_be_opened(tmp_path: Path) -> None:
    with pytest.raises(PhoneListUnreadable, match="cannot be opened") as err:
        read_inventory(tmp_path / "nope.txt")
    assert err.value.location is not None
    assert err.value.location.file == str(tmp_path / "nope.txt")


# --- certificate listings ---------------------------------------------------------------------


def test_apksigner_output_for_one_app() -> None:
    text = h.apksigner_output([SPY, KIDS], verbose=True)
    inv = _read(text.encode(), "certs.txt")
    assert inv.shape == "print_certs" and inv.packages == ()
    spy, kids = inv.certificates
    assert (spy.sha1, spy.subject_o, spy.subject_cn, spy.package) == (
        SPY.sha1,
        "Example Monitoring Ltd",
        "Builder",
        None,
    )
    assert text.splitlines()[spy.line - 1].startswith("Signer #1 certificate SHA-1 digest")
    assert (kids.subject_o, kids.subject_cn) == (None, KIDS.cn)
    # the Play source-stamp signer is not the app's signer
    assert all(c.subject_cn != "Google Play" for c in inv.certificates)


def test_apksigner_output_for_several_apps_with_headings() -> None:
    text = (
        "com.fakespy.app.apk\n"
        + h.apksigner_output([SPY])
        + "\n==> /data/app/~~Qx1==/com.kids.watch-9Zk==/base.apk <==\n"
        + h.apksigner_output([KIDS])
        + "\nVerifying base.apk\n"
        + h.apksigner_output([HONEST])
        + h.apksigner_output([ORG])  # no heading: the same signer label again starts an app
    )
    inv = _read(text.encode(), "certs.txt")
    assert [(c.sha1, c.package) for c in inv.certificates] == [
        (SPY.sha1, "com.fakespy.app"),
        (KIDS.sha1, "com.kids.watch"),
        (HONEST.sha1, None),
        (ORG.sha1, None),
    ]


@pytest.mark.parametrize("old_style", [False, True], ids=["jdk11", "jdk8"])
def test_keytool_output(old_style: bool) -> None:
    text = "package: name='com.orgspy' versionCode='3'\n" + h.keytool_output(
        [ORG, SPY], old_style=old_style
    )
    # a chain certificate after the signer's own is not the signer
    chain = (
        ("Certificate #2:\n" if not old_style else "Certificate[2]:\n")
        + "Owner: CN=Some CA\nIssuer: CN=Some CA\nCertificate fingerprints:\n"
        + f"\t SHA1: {_colons(HONEST.sha1)}\n"
    )
    text = text.replace("Signer #2:", chain + "Signer #2:")
    inv = _read(text.encode(), "certs.txt")
    assert [(c.sha1, c.subject_o, c.package) for c in inv.certificates] == [
        (ORG.sha1, "Acme Tracking SRL", "com.orgspy"),
        (SPY.sha1, "Example Monitoring Ltd", "com.orgspy"),
    ]


def test_distinguished_names_with_quotes_and_escapes() -> None:
    assert android.dn_fields('CN=A\\, B, O="Spy, Inc.", C=GB') == {
        "CN": "A, B",
        "O": "Spy, Inc.",
        "C": "GB",
    }


# --- .apk files -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "expected"),
    [
        ({"v1": SPY}, [SPY]),
        ({"v2": [KIDS]}, [KIDS]),
        ({"v2": [SPY], "v3": [ORG]}, [SPY, ORG]),  # key rotation: the old and the new signer
        ({"v1": SPY, "v2": [SPY]}, [SPY]),  # the same certificate twice is one certificate
    ],
    ids=["v1", "v2", "v2+v3", "v1+v2"],
)
def test_apk_signing_certificates(kwargs: dict[str, object], expected: list[h.Signer]) -> None:
    inv = _read(h.apk_bytes("com.some.app", **kwargs), "base.apk")  # type: ignore[arg-type]
    assert inv.shape == "apk" and inv.warnings == ()
    assert [p.name for p in inv.packages] == ["com.some.app"]
    assert [(c.sha1, c.subject_cn, c.package) for c in inv.certificates] == [
        (s.sha1, s.cn, "com.some.app") for s in expected
    ]


def test_apk_v1_signature_with_a_certificate_chain_gives_the_signer() -> None:
    ca = h.make_signer(cn="Some CA", o="CA Org")
    leaf = h.make_signer(cn="Leaf", o="Acme Tracking SRL", issuer=ca)
    inv = _read(h.apk_bytes("com.chain", v1=leaf, v1_chain=[ca]), "base.apk")
    assert [c.sha1 for c in inv.certificates] == [leaf.sha1]


def test_apk_with_a_damaged_signing_block_still_reads_the_v1_signature() -> None:
    apk = bytearray(h.apk_bytes("com.both", v1=SPY, v2=[KIDS]))
    magic = apk.rfind(b"APK Sig Block 42")
    apk[magic - 8 : magic] = (2**62).to_bytes(8, "little")  # a block size beyond the file
    inv = _read(bytes(apk), "base.apk")
    assert [c.sha1 for c in inv.certificates] == [SPY.sha1]
    assert any("Signing Block could not be read" in w for w in inv.warnings)


def test_apk_manifest_in_utf8_and_unreadable(tmp_path: Path) -> None:
    apk = h.apk_bytes("com.u8", v1=SPY, manifest=h.axml_manifest("com.u8", utf8=True))
    path = tmp_path / "base.apk"
    path.write_bytes(apk)
    assert [p.name for p in read_inventory(path).packages] == ["com.u8"]
    inv = _read(h.apk_bytes(None, v2=[SPY], manifest=b"not binary xml"), "base.apk")
    assert inv.packages == () and [c.sha1 for c in inv.certificates] == [SPY.sha1]
    assert any("package name could not be read" in w for w in inv.warnings)
    assert android.manifest_package(h.axml_manifest("com.utf16")) == "com.utf16"
    assert android.manifest_package(b"\x03\x00\x08\x00") is None


def test_apk_without_signature_or_anything_readable() -> None:
    inv = _read(h.apk_bytes("com.unsigned"), "base.apk")
    assert inv.certificates == () and any("no signing certificate" in w for w in inv.warnings)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("AndroidManifest.xml", b"junk")
        z.writestr("META-INF/CERT.RSA", b"junk")
    err = _unreadable(buf.getvalue(), "base.apk")
    assert "Neither the app's name nor its signing certificate" in err.message


def test_split_app_bundle_reads_every_apk() -> None:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED) as z:
        z.writestr("manifest.json", "{}")
        z.writestr("com.kids.watch.apk", h.apk_bytes("com.kids.watch", v2=[KIDS]))
        z.writestr("config.en.apk", h.apk_bytes("com.kids.watch", v2=[KIDS]))
        z.writestr("other.apk", h.apk_bytes("com.other", v1=HONEST))
        z.writestr("broken.apk", b"PK\x03\x04 not really")
    inv = _read(buf.getvalue(), "bundle.xapk")
    assert inv.shape == "apk"
    assert sorted(p.name for p in inv.packages) == ["com.kids.watch", "com.other"]
    assert sorted((c.package, c.sha1) for c in inv.certificates) == sorted(
        [("com.kids.watch", KIDS.sha1), ("com.other", HONEST.sha1)]
    )
    assert any(w.startswith("broken.apk") for w in inv.warnings)


# --- matching ---------------------------------------------------------------------------------


def _inputs() -> list[tuple[str, bytes, set[tuple[str, str, str | None]]]]:
    return [
        ("pm-list", b"package:com.fakespy.app\n", {("FakeSpy", "package name", "com.fakespy.app")}),
        (
            "apksigner",
            h.apksigner_output([SPY]).encode(),
            {("FakeSpy", "signing certificate", None)},
        ),
        (
            "keytool",
            ("com.renamed.app.apk\n" + h.keytool_output([SPY])).encode(),
            {("FakeSpy", "signing certificate", "com.renamed.app")},
        ),
        (
            "apk-v1",
            h.apk_bytes("com.renamed.app", v1=SPY),
            {("FakeSpy", "signing certificate", "com.renamed.app")},
        ),
        (
            "apk-v2",
            h.apk_bytes("com.fakespy.app", v2=[SPY]),
            {
                ("FakeSpy", "signing certificate", "com.fakespy.app"),
                ("FakeSpy", "package name", "com.fakespy.app"),
            },
        ),
        (
            "organisation",
            h.apk_bytes("com.renamed.app", v2=[ORG]),
            {("OrgSpy", "certificate organisation", "com.renamed.app")},
        ),
        (
            "cn-pattern",
            h.apk_bytes("com.renamed.app", v1=KIDS),
            {("KidsWatch", "certificate name", "com.renamed.app")},
        ),
        ("innocent-apk", h.apk_bytes("com.honest", v1=HONEST), set()),
        ("innocent-list", b"package:com.honest\npackage:com.fakespy\n", set()),
    ]


@pytest.mark.parametrize(("label", "data", "expected"), _inputs(), ids=[i[0] for i in _inputs()])
def test_every_indicator_type_matches(
    synthetic: IndicatorSet,
    label: str,
    data: bytes,
    expected: set[tuple[str, str, str | None]],
) -> None:
    result = check(_read(data, label), synthetic)
    assert _hits(result) == expected
    assert result.found == bool(expected)
    text = render_text(result)
    for app, _how, package in expected:  # a hit is always shown, with its package
        assert app in text
        if package:
            assert package in text
    assert text.startswith(FOUND_TITLE if expected else NOT_FOUND_TITLE)


def test_bugreport_match_lists_permissions_roles_and_installer(synthetic: IndicatorSet) -> None:
    result = check(_read(h.bugreport_zip(DUMPSTATE), "bugreport.zip"), synthetic)
    (m,) = result.matches
    assert (m.app, m.type, m.how, m.package) == (
        "FakeSpy",
        "stalkerware",
        "package name",
        "com.fakespy.app",
    )
    assert (m.installer, m.sideloaded) == (None, True)
    assert m.notable == (
        "receive text messages",
        "see the phone's precise location",
        "read the call log",
        android.ROLE_ACCESSIBILITY,
        android.ROLE_DEVICE_ADMIN,
        android.ROLE_NOTIFICATIONS,
    )
    assert m.line > 0 and result.source.startswith("bugreport.zip: ")
    text = render_text(result)
    assert "It has been allowed to: receive text messages; see the phone's precise" in text
    assert "In the phone's settings, it is switched on as an accessibility service" in text
    assert "use the camera" not in text  # CAMERA was not granted
    assert [p.name for p in result.sideloaded] == ["com.fakespy.app"]  # system apps left out


def test_watchware_is_named_as_such(synthetic: IndicatorSet) -> None:
    result = check(_read(b"package:com.kids.watch  installer=com.android.vending\n"), synthetic)
    (m,) = result.matches
    assert (m.type, m.sideloaded) == ("watchware", False)
    text = render_text(result)
    assert android.WATCHWARE_NOTE in text
    assert "from an app store" in text


def test_sideloaded_apps_are_listed_factually(synthetic: IndicatorSet) -> None:
    text = "\n".join(h.pm_line(p) for p in APPS) + "\n"
    result = check(_read(text.encode()), synthetic)
    assert [p.name for p in result.sideloaded] == ["com.fakespy.app", "com.side.loaded"]
    out = render_text(result)
    assert android.SIDELOADED_NOTE in out
    assert "com.side.loaded: installed from an .apk file on the phone" in out
    assert "suspicious" not in out.lower()
    # without -f the list cannot say which apps are built in, and says so
    bare = b"package:android  installer=null\npackage:com.x  installer=null\n"
    assert android.SYSTEM_UNKNOWN_NOTE in render_text(check(_read(bare), synthetic))
    # without -i nothing is known about installers, so nothing is listed
    assert check(_read(b"package:com.x\n"), synthetic).sideloaded == ()


def test_result_as_dict_is_json_ready(synthetic: IndicatorSet) -> None:
    result = check(_read(h.bugreport_zip(DUMPSTATE), "bugreport.zip"), synthetic)
    record = result.to_dict()
    assert record == result.as_dict()
    assert json.loads(json.dumps(record)) == record
    assert record["found"] is True
    assert record["indicators"]["fingerprint"] == synthetic.fingerprint
    assert record["indicators"]["counts"] == synthetic.counts()
    assert record["matches"][0]["app"] == "FakeSpy"
    assert record["cannot_see"] == list(CANNOT_SEE)
    assert record["packages_checked"] == 3 and record["certificates_checked"] == 0


# --- the words shown to the person ------------------------------------------------------------


def test_found_text_puts_the_safety_warning_before_removal_advice(
    synthetic: IndicatorSet,
) -> None:
    text = render_text(check(_read(b"package:com.fakespy.app\n", "apps.txt"), synthetic))
    assert text.startswith(FOUND_TITLE + "\n")
    assert SAFETY_WARNING in text and REMOVAL_ADVICE in text
    assert text.index(SAFETY_WARNING) < text.index(REMOVAL_ADVICE)
    assert "0808 802 0300" in SAFETY_WARNING
    assert "line 1 of apps.txt" in text
    assert android.NAME_ONLY_NOTE in text  # a name-only match says a certificate is firmer
    assert android.PERMISSIONS_UNKNOWN_NOTE in text
    assert indicators.ATTRIBUTION in text
    for item in CANNOT_SEE:
        assert item in text


def test_not_found_text_says_what_it_does_not_mean(synthetic: IndicatorSet) -> None:
    text = render_text(check(_read(b"package:com.honest\n"), synthetic))
    assert text.startswith(NOT_FOUND_TITLE + "\n")
    assert NOT_FOUND_MEANS in text
    assert "does not mean there is nothing" in NOT_FOUND_MEANS
    assert "know things they should" in NOT_FOUND_MEANS
    assert REMOVAL_ADVICE not in text
    for item in CANNOT_SEE:
        assert item in text
    assert indicators.ATTRIBUTION in text
    assert "CC BY 4.0" in indicators.ATTRIBUTION and "no guarantee" in indicators.ATTRIBUTION


FORBIDDEN = re.compile(
    r"\bclean\b|\bsafe\b|no stalkerware|not infected|risk (?:score|level|rating)|"
    r"high risk|low risk|tamper-proof|forensically sound|court-admissible|certified|"
    r"\bis (?:stalking|harassment)\b",
    re.IGNORECASE,
)


def _user_facing_strings(path: Path) -> list[tuple[int, str]]:
    """Every string literal in a module except docstrings (f-string parts included)."""
    tree = ast.parse(path.read_text("utf-8"))
    docstrings = {
        id(node.body[0].value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef)
        and node.body
        and isinstance(node.body[0], ast.Expr)
        and isinstance(node.body[0].value, ast.Constant)
    }
    return [
        (node.lineno, node.value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant)
        and isinstance(node.value, str)
        and id(node) not in docstrings
    ]


def test_the_forbidden_words_pattern_catches_them() -> None:
    for text in ("Your phone is clean.", "It is safe now", "No stalkerware found", "risk level"):
        assert FORBIDDEN.search(text), text
    for text in ("plan for your safety", "cleaned copies", "safely"):
        assert not FORBIDDEN.search(text), text


@pytest.mark.parametrize("module", MODULES, ids=[m.stem for m in MODULES])
def test_no_user_facing_string_promises_anything(module: Path) -> None:
    strings = _user_facing_strings(module)
    assert len(strings) > 20
    bad = [(line, s) for line, s in strings if FORBIDDEN.search(s)]
    assert bad == []


def test_rendered_texts_promise_nothing(synthetic: IndicatorSet) -> None:
    for data in (b"package:com.honest\n", h.bugreport_zip(DUMPSTATE)):
        text = render_text(check(_read(data, "x"), synthetic))
        assert not FORBIDDEN.search(text), FORBIDDEN.search(text)


# --- download ---------------------------------------------------------------------------------


def test_download_from_a_loopback_server() -> None:
    routes = {"/ind/ioc.yaml": h.Reply(body=IOC), "/ind/watchware.yaml": h.Reply(body=WATCH)}
    with h.web_server(routes) as base:
        got = indicators.download(base + "ind", timeout=5)
    assert got == {"ioc.yaml": IOC, "watchware.yaml": WATCH}
    assert (
        indicators.from_files(got).fingerprint
        == indicators.from_files({"ioc.yaml": IOC, "watchware.yaml": WATCH}).fingerprint
    )


@pytest.mark.parametrize(
    ("watch", "max_bytes", "fragment"),
    [
        (h.Reply(body=b"- name: a\n  packages: [x\n"), 1 << 20, "not usable"),
        (h.Reply(body=b"# emptied\n"), 1 << 20, "not usable"),
        (h.Reply(body=b"- name: a\n" * 5000), 10_000, "larger than expected"),
        (h.Reply(body=b"- name: a\n" * 5000, length=False), 10_000, "larger than expected"),
        (h.Reply(404, b"gone"), 1 << 20, "could not be fetched"),
        (h.Reply(302, location="http://example.invalid/ioc.yaml"), 1 << 20, "could not be fetched"),
    ],
    ids=["broken-yaml", "no-apps", "too-large", "too-large-streamed", "404", "redirect-to-http"],
)
def test_download_failures_change_nothing(watch: h.Reply, max_bytes: int, fragment: str) -> None:
    routes = {"/ioc.yaml": h.Reply(body=IOC), "/watchware.yaml": watch}
    with h.web_server(routes) as base, pytest.raises(IndicatorDownloadFailed) as err:
        indicators.download(base, timeout=5, max_bytes=max_bytes)
    assert fragment in err.value.message
    assert err.value.location is not None and (err.value.location.file or "").endswith(
        "watchware.yaml"
    )
    assert "Nothing was changed" in (err.value.hint or "")
    if watch.status == 404:
        assert "404" in (err.value.cause or "")
    if watch.body.startswith(b"- name: a\n  packages"):
        assert "line 3" in (err.value.cause or "")


def test_download_refuses_plain_http_to_other_computers() -> None:
    for url in ("http://example.invalid/", "ftp://127.0.0.1/", "file:///etc/"):
        with pytest.raises(IndicatorDownloadFailed, match="secure"):
            indicators.download(url, timeout=1)
    assert indicators.UPSTREAM_BASE.startswith("https://raw.githubusercontent.com/AssoEchap/")
    assert indicators.UPSTREAM_FILES == ("ioc.yaml", "watchware.yaml")


# --- adb --------------------------------------------------------------------------------------

DEVICE = "emulator-5554          device product:sdk model:Pixel_7 device:panther transport_id:1\n"


@pytest.fixture
def fake_adb(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "adb-bin"
    h.install_fake_adb(folder)
    monkeypatch.setenv("PATH", str(folder) + os.pathsep + os.environ.get("PATH", ""))
    monkeypatch.setenv("FAKE_ADB_DIR", str(folder))
    (folder / "scenario").write_text("normal")
    (folder / "devices.txt").write_text("List of devices attached\n" + DEVICE + "\n")
    (folder / "pm.txt").write_bytes(("\r\n".join(h.pm_line(p) for p in APPS) + "\r\n").encode())
    (folder / "dumpsys.txt").write_bytes(DUMPSYS.encode())
    return folder


def _set(folder: Path, scenario: str | None = None, devices: str | None = None) -> None:
    if scenario is not None:
        (folder / "scenario").write_text(scenario)
    if devices is not None:
        (folder / "devices.txt").write_text("List of devices attached\n" + devices + "\n")


def test_adb_available_only_when_on_path(fake_adb: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert adb.available() == str(fake_adb / "adb")
    monkeypatch.setenv("PATH", str(fake_adb.parent / "empty"))
    assert adb.available() is None


def test_adb_devices(fake_adb: Path) -> None:
    _set(
        fake_adb,
        devices="* daemon not running; starting now at tcp:5037\n"
        + DEVICE
        + "R58M123ABC             unauthorized usb:1-1 transport_id:2\n"
        + "0123456789             no permissions (user in plugdev group); see [http://x]\n"
        + "192.168.1.5:5555       offline\n",
    )
    found = adb.devices(str(fake_adb / "adb"))
    assert [(d.serial, d.state, d.model) for d in found] == [
        ("emulator-5554", "device", "Pixel 7"),
        ("R58M123ABC", "unauthorized", None),
        ("0123456789", "no permissions", None),
        ("192.168.1.5:5555", "offline", None),
    ]
    assert found[0].label == "Pixel 7 (emulator-5554)"


def test_adb_collect_and_check(fake_adb: Path, synthetic: IndicatorSet) -> None:
    got = adb.collect(str(fake_adb / "adb"))
    assert set(got) == {adb.PM_LIST_FILE, adb.DUMPSYS_FILE}
    calls = (fake_adb / "calls.log").read_text().splitlines()
    assert calls == [
        "devices -l",
        "-s emulator-5554 shell pm list packages -f -i -U",
        "-s emulator-5554 shell dumpsys package",
    ]
    pm = read_inventory_bytes(got[adb.PM_LIST_FILE], adb.PM_LIST_FILE)
    assert pm.shape == "pm_list" and len(pm.packages) == len(APPS)
    details = read_inventory_bytes(got[adb.DUMPSYS_FILE], adb.DUMPSYS_FILE)
    assert details.shape == "dumpsys"
    assert _hits(check(details, synthetic)) == {("FakeSpy", "package name", "com.fakespy.app")}


def test_adb_collect_on_android_before_8_drops_the_uid_flag(fake_adb: Path) -> None:
    _set(fake_adb, "old_android")
    got = adb.collect(str(fake_adb / "adb"))
    assert b"package:" in got[adb.PM_LIST_FILE]
    calls = (fake_adb / "calls.log").read_text().splitlines()
    assert "-s emulator-5554 shell pm list packages -f -i" in calls


@pytest.mark.parametrize(
    ("devices", "scenario", "serial", "fragment"),
    [
        ("", "normal", None, "No phone is connected"),
        ("R58M123ABC unauthorized usb:1-1", "normal", None, "has not yet allowed"),
        (DEVICE + "R58M123ABC device usb:1-1 model:Galaxy", "normal", None, "More than one"),
        (DEVICE, "normal", "NOT-THERE", "is not connected"),
        ("192.168.1.5:5555 offline", "normal", None, "not answering"),
        ("0123 no permissions (udev)", "normal", None, "not allowed to talk"),
        (DEVICE, "unauthorized_late", None, "has not yet allowed"),
        (DEVICE, "flood", None, "far more than expected"),
    ],
    ids=[
        "no-device",
        "unauthorized",
        "several",
        "unknown-serial",
        "offline",
        "no-permissions",
        "unauthorized-later",
        "flood",
    ],
)
def test_adb_failures_say_what_to_do(
    fake_adb: Path, devices: str, scenario: str, serial: str | None, fragment: str
) -> None:
    _set(fake_adb, scenario, devices)
    with pytest.raises(AdbFailed) as err:
        adb.collect(str(fake_adb / "adb"), serial)
    assert fragment in err.value.message
    assert err.value.hint and err.value.code == "adb_failed"
    if "unauthorized" in devices or scenario == "unauthorized_late":
        assert "Allow USB debugging" in err.value.hint


def test_adb_several_phones_with_a_serial(fake_adb: Path) -> None:
    _set(fake_adb, devices=DEVICE + "R58M123ABC device usb:1-1 model:Galaxy")
    adb.collect(str(fake_adb / "adb"), "R58M123ABC")
    calls = (fake_adb / "calls.log").read_text().splitlines()
    assert calls[1].startswith("-s R58M123ABC shell pm list packages")


def test_adb_timeout(fake_adb: Path) -> None:
    _set(fake_adb, "timeout")
    started = time.monotonic()
    with pytest.raises(AdbFailed, match="did not answer within 2 seconds"):
        adb.collect(str(fake_adb / "adb"), timeout=2)
    assert time.monotonic() - started < 15


def test_adb_that_cannot_be_started(tmp_path: Path) -> None:
    with pytest.raises(AdbFailed, match="could not be started"):
        adb.devices(str(tmp_path / "no-adb-here"))


# --- property: pm list lines round-trip -------------------------------------------------------

_SEGMENT = st.from_regex(r"[A-Za-z][A-Za-z0-9_]{0,12}", fullmatch=True)
_NAME = st.lists(_SEGMENT, min_size=1, max_size=5).map(".".join)
_TOKEN = st.text(
    alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_=~", max_size=24
)


@st.composite
def _pkgs(draw: st.DrawFn) -> h.Pkg:
    name = draw(_NAME)
    path = draw(
        st.one_of(
            st.none(),
            st.builds(lambda a, b: f"/data/app/~~{a}/{name}-{b}/base.apk", _TOKEN, _TOKEN),
            st.builds(lambda a: f"/system/priv-app/{a}/{a}.apk", _SEGMENT),
        )
    )
    installer = draw(st.one_of(st.just(h.MISSING), st.none(), _NAME))
    uid = draw(st.one_of(st.none(), st.integers(0, 2**31 - 1)))
    version = draw(st.one_of(st.none(), st.integers(0, 2**63 - 1)))
    return h.Pkg(name, path=path, installer=installer, uid=uid, version=version)


def _expect(p: h.Pkg, got: android.PackageInfo) -> None:
    assert got.name == p.name
    assert got.path == p.path
    assert got.system == bool(p.path and p.path.startswith("/system/"))
    assert got.installer_known == (p.installer is not h.MISSING)
    assert got.installer == (None if p.installer is h.MISSING else p.installer)
    assert got.uid == p.uid
    assert got.version == (None if p.version is None else str(p.version))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(p=_pkgs(), order=st.permutations(["installer", "uid", "version"]))
def test_pm_line_round_trip(p: h.Pkg, order: list[str]) -> None:
    got = android.parse_pm_line(h.pm_line(p, tuple(order)), 7)
    assert got is not None and got.line == 7
    _expect(p, got)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    pkgs=st.lists(_pkgs(), min_size=1, max_size=30, unique_by=lambda p: p.name),
    newline=st.sampled_from(["\n", "\r\n"]),
    blank=st.booleans(),
)
def test_pm_list_round_trip(pkgs: list[h.Pkg], newline: str, blank: bool) -> None:
    inv = _read(h.pm_list(pkgs, newline=newline, blank_lines=blank))
    assert [p.name for p in inv.packages] == [p.name for p in pkgs]
    for p, got, n in zip(pkgs, inv.packages, range(len(pkgs)), strict=True):
        _expect(p, got)
        assert got.line == (2 * n + 1 if blank else n + 1)
