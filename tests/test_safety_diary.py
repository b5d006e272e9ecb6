"""The tech-safety checks as the person uses them: indicator files kept in the diary, phone
checks recorded in the log with their input kept as evidence, and the same through the CLI
and the web app (real encrypted diary, real server)."""

from __future__ import annotations

import io
import json
import re
from pathlib import Path

import httpx
import pytest
from PIL import Image

from docket.api import Diary
from docket.errors import IndicatorFileError, NoIndicators, PhoneListUnreadable
from tests.conftest import PASSPHRASE, SHARED, run_cli
from tests.helpers.web import csrf_of, serve, unlock

ECHAP = SHARED / "indicators" / "echap"

IOC = b"""\
- name: Snoopy
  type: stalkerware
  packages:
  - com.example.snoopy
  - com.example.snoopy.helper
  certificates:
  - AB12CD34EF56AB12CD34EF56AB12CD34EF56AB12
- name: Babywatch
  type: watchware
  packages:
  - org.example.babywatch
"""

PM_FOUND = (
    b"package:/data/app/~~a==/com.example.snoopy-b==/base.apk=com.example.snoopy "
    b"installer=null uid:10234\r\n"
    b"package:/product/app/Maps/Maps.apk=com.google.android.apps.maps "
    b"installer=com.android.vending uid:10101\r\n"
)
PM_NONE = b"package:com.android.chrome\npackage:com.whatsapp\n"


def test_indicators_are_kept_in_the_diary_and_checked_against_the_log(diary: Diary) -> None:
    with pytest.raises(NoIndicators):
        diary.indicator_set()
    info = diary.save_indicators([("ioc.yaml", IOC)])
    assert info.counts["apps"] == 2 and info.version == 1
    assert [f["name"] for f in info.files] == ["ioc.yaml"]
    assert diary.indicator_files() == [("ioc.yaml", IOC)]
    assert "com.example.snoopy" in diary.indicator_set().by_package
    # a broken file is refused and the earlier list stays as it was
    with pytest.raises(IndicatorFileError) as bad:
        diary.save_indicators([("ioc.yaml", b"- name: [unclosed\n")])
    assert bad.value.location is not None and bad.value.location.file == "ioc.yaml"
    assert diary.indicators_info() == info
    second = diary.save_indicators([("ioc.yaml", IOC), ("watchware.yaml", IOC)])
    assert second.version == 2
    assert diary.verify().ok


def test_a_phone_check_keeps_its_input_and_is_recorded(diary: Diary) -> None:
    diary.save_indicators([("ioc.yaml", IOC)])
    view, (result,) = diary.check_phone([("apps.txt", io.BytesIO(PM_FOUND))])
    assert view.found and view.apps_found == ("Snoopy",)
    assert result.found and result.matches[0].line == 1
    (kept,) = view.results
    # the exact input is kept as evidence, and named in the record
    assert b"".join(diary.iter_attachment(kept["attachment"])) == PM_FOUND
    assert kept["indicators"]["fingerprint"] == diary.indicator_set().fingerprint
    assert diary.phone_check(view.id) == view
    clear, _ = diary.check_phone([("apps2.txt", io.BytesIO(PM_NONE))])
    assert not clear.found and clear.packages_checked == 2
    assert [v.id for v in diary.phone_checks()] == [view.id, clear.id]
    assert [h.type for h in diary.history("phone_check", view.id)] == ["phone_check.checked"]
    assert [h.type for h in diary.history("indicators", 1)] == ["indicators.loaded"]
    assert diary.verify().ok


def test_an_unreadable_input_leaves_nothing_behind(diary: Diary) -> None:
    diary.save_indicators([("ioc.yaml", IOC)])
    before = diary.verify().entries
    files_before = len(diary.attachments())
    with pytest.raises(PhoneListUnreadable) as bad:
        diary.check_phone(
            [("apps.txt", io.BytesIO(PM_NONE)), ("notes.txt", io.BytesIO(b"dear diary\n"))]
        )
    assert "notes.txt" in bad.value.message
    assert diary.verify().entries == before and len(diary.attachments()) == files_before
    assert diary.phone_checks() == []


@pytest.mark.skipif(not ECHAP.is_dir(), reason="../shared/indicators/echap is not present")
def test_the_echap_files_load_into_the_diary_and_match(diary: Diary) -> None:
    files = [(n, (ECHAP / n).read_bytes()) for n in ("ioc.yaml", "watchware.yaml")]
    info = diary.save_indicators(files)
    assert info.counts["apps"] > 100 and info.counts["packages"] > 300
    view, _ = diary.check_phone(
        [("apps.txt", io.BytesIO(b"package:com.thetruth\npackage:com.android.chrome\n"))]
    )
    assert view.apps_found == ("TheTruthSpy",)


# --- the CLI ------------------------------------------------------------------------------------


def test_cli_phone_check_indicators_and_checks(cli_env: dict[str, str], tmp_path: Path) -> None:
    run_cli(["init", "--timezone", "Europe/London"], cli_env, check=True)
    apps = tmp_path / "apps.txt"
    apps.write_bytes(PM_FOUND)
    missing = run_cli(["safety", "phone", str(apps)], cli_env)
    assert missing.returncode != 0 and "indicators_missing" in missing.stderr
    ioc = tmp_path / "ioc.yaml"
    ioc.write_bytes(IOC)
    shown = run_cli(["safety", "indicators", "load", str(ioc)], cli_env, check=True)
    assert "2 known apps" in shown.stdout and "Echap" in shown.stdout
    found = run_cli(["safety", "phone", str(apps)], cli_env, check=True).stdout
    flat = " ".join(found.split())
    assert flat.startswith("A known indicator was found")
    # the safety warning comes before any advice about removing the app
    assert flat.index("can alert the person who installed it") < flat.index("remove the app")
    assert "0808 802 0300" in flat and "phone check 1" in flat
    none = tmp_path / "none.txt"
    none.write_bytes(PM_NONE)
    out = run_cli(["safety", "phone", str(none), "--json"], cli_env, check=True).stdout
    data = json.loads(out)
    assert data["found"] is False and data["results"][0]["packages_checked"] == 2
    listed = json.loads(run_cli(["safety", "checks", "--json"], cli_env, check=True).stdout)
    assert [c["found"] for c in listed] == [True, False]
    history = run_cli(["history", "phone_check", "1"], cli_env, check=True).stdout
    assert "phone_check.checked" in history
    run_cli(["redact", "phone_check", "2", "--reason", "twice", "--yes"], cli_env, check=True)
    listed = json.loads(run_cli(["safety", "checks", "--json"], cli_env, check=True).stdout)
    assert [c["id"] for c in listed] == [1]
    bad = tmp_path / "letter.txt"
    bad.write_text("Dear Sam,\nthank you\n")
    refused = run_cli(["safety", "phone", str(bad)], cli_env)
    assert refused.returncode != 0 and "phone_list_unreadable" in refused.stderr
    assert "letter.txt" in refused.stderr
    assert run_cli(["verify"], cli_env).returncode == 0


def _gps_jpeg() -> bytes:
    image = Image.new("RGB", (32, 24), (120, 30, 200))
    exif = Image.Exif()
    exif[0x010F] = "MARKERMAKE"
    exif[0x0110] = "MARKERMODEL"
    gps = exif.get_ifd(0x8825)
    gps[1] = "N"
    gps[2] = (51.0, 30.0, 26.0)
    gps[3] = "W"
    gps[4] = (0.0, 7.0, 39.0)
    out = io.BytesIO()
    image.save(out, "JPEG", exif=exif, quality=95)
    return out.getvalue()


def test_cli_photos_reports_and_writes_copies(cli_env: dict[str, str], tmp_path: Path) -> None:
    folder = tmp_path / "to post"
    folder.mkdir()
    original = _gps_jpeg()
    (folder / "park.jpg").write_bytes(original)
    (folder / "notes.txt").write_text("not a picture")
    out = tmp_path / "copies"
    shown = run_cli(
        ["safety", "photos", str(folder), "--clean-to", str(out)], cli_env, check=True
    ).stdout
    flat = " ".join(shown.split())
    assert "1 hold a location" in flat and "MARKERMAKE" in flat
    assert "The picture itself can still show where you are" in flat
    copy = (out / "park.jpg").read_bytes()
    assert b"MARKERMAKE" not in copy and b"MARKERMODEL" not in copy
    assert (folder / "park.jpg").read_bytes() == original
    with Image.open(io.BytesIO(copy)) as a, Image.open(io.BytesIO(original)) as b:
        assert a.tobytes() == b.tobytes()
    data = json.loads(run_cli(["safety", "photos", str(out), "--json"], cli_env, check=True).stdout)
    assert [p["has_location"] for p in data["photos"]] == [False]


# --- the web app -------------------------------------------------------------------------------


@pytest.fixture
def web(diary_path: Path):  # type: ignore[no-untyped-def]
    with serve(diary_path) as server, server.client() as client:
        unlock(client, PASSPHRASE)
        yield server, client


def _upload(client: httpx.Client, url: str, name: str, data: bytes) -> httpx.Response:
    token = csrf_of(client.get("/safety").text)
    return client.post(f"{url}?csrf={token}", files={"file": (name, data, "text/plain")})


def test_web_phone_check_from_upload(web) -> None:  # type: ignore[no-untyped-def]
    server, client = web
    page = client.get("/safety")
    assert page.status_code == 200 and "Docket needs the list of known apps" in page.text
    assert 'href="/safety"' in page.text and "Quick exit" in page.text
    r = _upload(client, "/safety/indicators", "ioc.yaml", IOC)
    assert r.status_code == 303, r.text
    assert "holds 2 known apps" in client.get("/safety").text
    r = _upload(client, "/safety/phone", "apps.txt", PM_FOUND)
    assert r.status_code == 303, r.text
    result = client.get(r.headers["location"])
    text = " ".join(re.sub(r"<[^>]+>", " ", result.text).split())
    assert "A known indicator was found" in text and "Snoopy" in text
    assert text.index("can alert the person who installed it") < text.index("remove the app")
    r = _upload(client, "/safety/phone", "none.txt", PM_NONE)
    clear = client.get(r.headers["location"]).text
    assert "No known indicator was found" in clear and "does not mean" in clear
    bad = _upload(client, "/safety/phone", "letter.txt", b"Dear Sam,\n")
    assert bad.status_code == 400 and "letter.txt" in bad.text
    with server.state.diary() as d:
        assert [c.found for c in d.phone_checks()] == [True, False]


def test_web_photo_check_gives_a_copy_without_location(web) -> None:  # type: ignore[no-untyped-def]
    server, client = web
    original = _gps_jpeg()
    token = csrf_of(client.get("/safety").text)
    r = client.post(
        f"/safety/photos?csrf={token}", files={"file": ("park.jpg", original, "image/jpeg")}
    )
    assert r.status_code == 200, r.text
    assert "The place it was taken" in r.text and "MARKERMAKE" in r.text
    link = re.search(r'href="(/safety/photos/copy/[^"]+)"', r.text)
    assert link
    copy = client.get(link.group(1))
    assert copy.status_code == 200 and "attachment" in copy.headers["content-disposition"]
    assert b"MARKERMAKE" not in copy.content
    with Image.open(io.BytesIO(copy.content)) as a, Image.open(io.BytesIO(original)) as b:
        assert a.tobytes() == b.tobytes()
    with server.state.diary() as d:
        assert d.attachments() == []  # a photo check keeps nothing in the diary
    # locking forgets the copy
    server.state.lock()
    unlock(client, PASSPHRASE)
    assert client.get(link.group(1)).status_code == 303


# --- the account-safety checklist from both front ends ------------------------------------------


def test_web_account_checklist_keeps_answers(web) -> None:  # type: ignore[no-untyped-def]
    server, client = web
    page = client.get("/safety/accounts")
    assert page.status_code == 200 and "Before you do this" in page.text
    token = csrf_of(page.text)
    r = client.post(
        "/safety/accounts",
        data={"csrf": token, "q_passwords_known": "done", "d_passwords_known": "WEBNOTE list"},
    )
    assert r.status_code == 303 and r.headers["location"] == "/safety/accounts?saved=1"
    again = client.get("/safety/accounts?saved=1").text
    assert "Your answers are kept in the diary" in again and "WEBNOTE list" in again
    assert re.search(r'name="q_passwords_known" value="done" checked', again)
    assert "You have answered 1 of" in client.get("/safety").text
    wrong = client.post("/safety/accounts", data={"csrf": token, "q_passwords_known": "maybe"})
    assert wrong.status_code == 400
    with server.state.diary() as d:
        assert d.checklist("accounts").data.answer("passwords_known").details == "WEBNOTE list"  # type: ignore[union-attr]
        assert d.checklist("risk").data.answers == ()  # the two checklists are kept apart


def test_cli_account_checklist(cli_env: dict[str, str]) -> None:
    run_cli(["init", "--timezone", "Europe/London"], cli_env, check=True)
    shown = run_cli(["safety", "accounts"], cli_env, check=True).stdout
    assert "Bluetooth trackers" in shown and "0808 802 0300" in " ".join(shown.split())
    run_cli(
        ["safety", "accounts", "answer", "--set", "passwords_known=done",
         "--details", "passwords_known=CLINOTE"],
        cli_env,
        check=True,
    )  # fmt: skip
    data = json.loads(run_cli(["safety", "accounts", "--json"], cli_env, check=True).stdout)
    answers = {q["id"]: q["answer"] for t in data["topics"] for q in t["questions"]}
    assert answers["passwords_known"]["details"] == "CLINOTE"
    bad = run_cli(["safety", "accounts", "answer", "--set", "passwords_known=maybe"], cli_env)
    assert bad.returncode == 2
