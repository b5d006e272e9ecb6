"""Talking to a phone through Android's ``adb`` program: find it, list the connected phones,
and collect the app list and package details a phone check reads.

Only ``adb devices``, ``pm list packages`` and ``dumpsys package`` are run; nothing on the
phone is changed. Every command has a time limit and a limit on how much output is kept, and
each failure becomes an :class:`AdbFailed` that says what to do in plain words.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import threading
import time
from dataclasses import dataclass
from typing import IO

from docket.errors import AdbFailed

PM_LIST_FILE = "pm-list-packages.txt"
DUMPSYS_FILE = "dumpsys-package.txt"
PM_LIST_ARGS: tuple[str, ...] = ("shell", "pm", "list", "packages", "-f", "-i", "-U")
PM_LIST_ARGS_OLD: tuple[str, ...] = ("shell", "pm", "list", "packages", "-f", "-i")
DUMPSYS_ARGS: tuple[str, ...] = ("shell", "dumpsys", "package")

MAX_PM_LIST_BYTES = 16 * 1024 * 1024
MAX_DUMPSYS_BYTES = 256 * 1024 * 1024
MAX_DEVICES_BYTES = 1024 * 1024
MAX_STDERR_BYTES = 64 * 1024

_HINT_CONNECT = (
    "Connect the phone with a USB cable, unlock it, and switch on USB debugging "
    "(Settings, About phone: tap Build number seven times; then Settings, System, Developer "
    "options, USB debugging). Then try again."
)


@dataclass(frozen=True)
class Device:
    """A phone adb can see. ``state`` is adb's word: "device" (ready), "unauthorized",
    "offline", "no permissions", "recovery", …; ``model`` as the phone reports it."""

    serial: str
    state: str
    model: str | None = None

    @property
    def label(self) -> str:
        return f"{self.model} ({self.serial})" if self.model else self.serial


def available() -> str | None:
    """The path of the adb program, or None when it is not installed (not on PATH)."""
    return shutil.which("adb")


def _pump(stream: IO[bytes], limit: int, out: list[bytes], over: threading.Event) -> None:
    size = 0
    while True:
        chunk = stream.read(65536)
        if not chunk:
            return
        if size + len(chunk) > limit:
            out.append(chunk[: limit - size])
            over.set()
            # keep reading so the child is not blocked, but keep nothing more
            while stream.read(65536):
                pass
            return
        out.append(chunk)
        size += len(chunk)


def _run(adb: str, args: list[str], *, timeout: float, max_bytes: int) -> tuple[int, bytes, str]:
    """Run adb with a time limit and a cap on the output kept: (exit code, output, errors)."""
    what = "adb " + " ".join(args)
    try:
        proc = subprocess.Popen(
            [adb, *args],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
    except OSError as exc:
        raise AdbFailed(
            "adb could not be started.",
            cause=f"{adb}: {exc.strerror or exc}",
            hint="Install Android's platform tools (they include adb), or give the app list "
            "as a file instead.",
        ) from exc
    assert proc.stdout is not None and proc.stderr is not None
    out: list[bytes] = []
    err: list[bytes] = []
    over = threading.Event()
    err_over = threading.Event()
    readers = [
        threading.Thread(target=_pump, args=(proc.stdout, max_bytes, out, over), daemon=True),
        threading.Thread(
            target=_pump, args=(proc.stderr, MAX_STDERR_BYTES, err, err_over), daemon=True
        ),
    ]
    for t in readers:
        t.start()
    deadline = time.monotonic() + timeout
    timed_out = False
    try:
        while proc.poll() is None:
            if time.monotonic() > deadline:
                timed_out = True
                break
            if over.is_set():
                break
            try:
                proc.wait(timeout=0.1)
            except subprocess.TimeoutExpired:
                continue
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        for t in readers:
            t.join(timeout=5)
        proc.stdout.close()
        proc.stderr.close()
    if timed_out:
        raise AdbFailed(
            f"The phone did not answer within {timeout:g} seconds.",
            cause=f"'{what}' was still running.",
            hint="Unlock the phone and keep it unlocked, check the cable, and try again. A "
            "phone with very many apps can be slow: allow more time.",
        )
    if over.is_set():
        raise AdbFailed(
            "The phone sent far more than expected, so Docket stopped reading.",
            cause=f"'{what}' printed more than {max_bytes // (1024 * 1024)} MB.",
            hint="Save the output to a file yourself and give Docket the file.",
        )
    return proc.returncode, b"".join(out), b"".join(err).decode("utf-8", "replace")


def _failure(stderr: str, stdout: bytes, what: str) -> AdbFailed:
    text = (stderr + "\n" + stdout[-4096:].decode("utf-8", "replace")).lower()
    if "unauthorized" in text:
        return _unauthorized()
    if "more than one device" in text or "more than one emulator" in text:
        return _several([])
    if "no devices" in text or re.search(r"device (?:'[^']*' )?not found", text):
        return _no_device()
    if "offline" in text:
        return _offline()
    if "insufficient permissions" in text or "no permissions" in text:
        return _no_permission()
    detail = stderr.strip().splitlines()[-1] if stderr.strip() else "no error message"
    return AdbFailed(
        "adb could not read the app list from the phone.",
        cause=f"'{what}' failed: {detail[:300]}",
        hint="Unplug the phone, plug it in again, unlock it and try again. If it keeps "
        "failing, save the app list to a file with adb yourself and give Docket the file.",
    )


def _no_device() -> AdbFailed:
    return AdbFailed(
        "No phone is connected.",
        cause="adb cannot see a phone with USB debugging switched on.",
        hint=_HINT_CONNECT,
    )


def _unauthorized() -> AdbFailed:
    return AdbFailed(
        "The phone has not yet allowed this computer to read it.",
        cause="The phone is asking whether to allow USB debugging from this computer.",
        hint="Unlock the phone and look for the question 'Allow USB debugging?'. Tap Allow, "
        "then try again. If no question appears, unplug the cable and plug it in again.",
    )


def _offline() -> AdbFailed:
    return AdbFailed(
        "The phone is connected but not answering.",
        cause="adb lists the phone as offline.",
        hint="Unplug the phone, unlock it, plug it in again and try again.",
    )


def _no_permission() -> AdbFailed:
    return AdbFailed(
        "This computer is not allowed to talk to the phone over USB.",
        cause="adb lists the phone with 'no permissions' (on Linux, the USB rules for Android "
        "phones are missing).",
        hint="Install your system's Android USB rules (for example the 'android-sdk-platform-"
        "tools-common' package), or ask someone you trust to help, then try again.",
    )


def _several(devs: list[Device]) -> AdbFailed:
    names = ", ".join(d.label for d in devs) if devs else "several"
    return AdbFailed(
        "More than one phone is connected, so Docket does not know which to check.",
        cause=f"adb can see: {names}.",
        hint="Unplug the phones you do not want to check, or choose one by its serial number.",
    )


def devices(adb: str, *, timeout: float = 30) -> list[Device]:
    """The phones adb can see, from ``adb devices -l``."""
    code, out, err = _run(adb, ["devices", "-l"], timeout=timeout, max_bytes=MAX_DEVICES_BYTES)
    if code != 0:
        raise _failure(err, out, "adb devices -l")
    found: list[Device] = []
    for raw in out.decode("utf-8", "replace").splitlines():
        line = raw.strip()
        if not line or line.startswith(("*", "List of devices", "adb server", "adb:")):
            continue
        parts = line.split()
        if len(parts) < 2:
            continue
        serial, rest = parts[0], line[len(parts[0]) :].strip()
        state = "no permissions" if rest.startswith("no permissions") else rest.split()[0]
        model = None
        for token in rest.split():
            if token.startswith("model:"):
                model = token[len("model:") :].replace("_", " ") or None
        found.append(Device(serial=serial, state=state, model=model))
    return found


def _choose(devs: list[Device], serial: str | None) -> Device:
    if serial is not None:
        for d in devs:
            if d.serial == serial:
                return d
        raise AdbFailed(
            f"The phone {serial} is not connected.",
            cause="adb cannot see a phone with that serial number"
            + (f"; it can see: {', '.join(d.label for d in devs)}." if devs else "."),
            hint=_HINT_CONNECT,
        )
    if not devs:
        raise _no_device()
    if len(devs) > 1:
        raise _several(devs)
    return devs[0]


def _ready(dev: Device) -> None:
    if dev.state == "device":
        return
    if dev.state == "unauthorized":
        raise _unauthorized()
    if dev.state == "offline":
        raise _offline()
    if dev.state == "no permissions":
        raise _no_permission()
    if dev.state in ("authorizing", "connecting"):
        raise AdbFailed(
            "The phone is still connecting.",
            cause=f"adb lists the phone as {dev.state}.",
            hint="Wait a few seconds, unlock the phone, and try again.",
        )
    raise AdbFailed(
        "The phone is not started normally.",
        cause=f"adb lists the phone as '{dev.state}' (for example recovery or bootloader mode).",
        hint="Restart the phone normally, unlock it, and try again.",
    )


def collect(adb: str, serial: str | None = None, *, timeout: float = 60) -> dict[str, bytes]:
    """Run ``pm list packages -f -i -U`` and ``dumpsys package`` on the connected phone (or
    the one with ``serial``) and return their exact output as {file name: bytes}. ``timeout``
    applies to each command."""
    dev = _choose(devices(adb, timeout=min(timeout, 30)), serial)
    _ready(dev)
    target = ["-s", dev.serial]

    code, pm_list, err = _run(
        adb, [*target, *PM_LIST_ARGS], timeout=timeout, max_bytes=MAX_PM_LIST_BYTES
    )
    if b"package:" not in pm_list and (
        "unknown option" in (err + pm_list.decode("utf-8", "replace")).lower()
    ):  # Android before 8 has no -U
        code, pm_list, err = _run(
            adb, [*target, *PM_LIST_ARGS_OLD], timeout=timeout, max_bytes=MAX_PM_LIST_BYTES
        )
    if code != 0 or b"package:" not in pm_list:
        raise _failure(err, pm_list, "adb shell pm list packages")

    code, dumpsys, err = _run(
        adb, [*target, *DUMPSYS_ARGS], timeout=timeout, max_bytes=MAX_DUMPSYS_BYTES
    )
    if code != 0 or b"Package [" not in dumpsys:
        raise _failure(err, dumpsys, "adb shell dumpsys package")
    return {PM_LIST_FILE: pm_list, DUMPSYS_FILE: dumpsys}
