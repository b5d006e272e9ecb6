"""Measure the diary store against raw baselines taken in the same run, and print the figures.

Three measurements, each next to the cost it cannot avoid:

1. adding incidents through the facade (one transaction each), against raw SQLCipher inserts of
   the same rows and text with the same pragmas, also one transaction each;
2. opening a diary of many log entries and summarising it, against Argon2id key derivation
   plus a raw keyed open and ``count(*)``;
3. attaching a large file, for peak memory (in a child process) and speed, against SHA-256 of
   the same file; then reading it back and checking its hash.

This is a benchmark, not a test: it never asserts on times. Run it from the repository root as
``.venv/bin/python bench/bench_store.py [--quick] [--workdir DIR]``.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import random
import resource
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlcipher3 import dbapi2

import docket
from docket import records
from docket.api import Diary
from docket.model import forms
from docket.model.forms import IncidentInput
from docket.store import keys, sqlcipher

PASSPHRASE = "bench passphrase here"
SEED = 20_261_101
MiB = 1024 * 1024
MB = 1_000_000
RSS_TARGET_MB = 200
OPEN_REPEATS = 5
CATEGORY = "CON"
OCCURRED = "01/11/2026 10:00"
RAW_PRAGMAS = (
    "journal_mode = DELETE",
    "synchronous = FULL",
    "secure_delete = ON",
    "cipher_memory_security = ON",
)
RAW_SCHEMA = (
    "CREATE TABLE incident (id INTEGER PRIMARY KEY, category TEXT NOT NULL, "
    "occurred TEXT NOT NULL, description TEXT NOT NULL, record TEXT NOT NULL)"
)
RAW_INSERT = "INSERT INTO incident (category, occurred, description, record) VALUES (?, ?, ?, ?)"

RawRow = tuple[str, str, str, str]


@dataclass(frozen=True)
class Sizes:
    incidents: int  # measurement 1: incidents added one transaction each
    records: int  # measurement 2: log entries in the diary that is opened
    attach_mib: int  # measurement 3: size of the attached file

    @classmethod
    def pick(cls, quick: bool) -> Sizes:
        # Quick: 10x smaller, except the open diary (40x): building it dominates the quick run.
        return cls(1_000, 2_500, 102) if quick else cls(10_000, 100_000, 1024)


@dataclass
class Report:
    """The figures gathered so far, printed as one table at the end."""

    rows: list[tuple[str, str, str]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def add(self, section: str, what: str, value: str) -> None:
        self.rows.append((section, what, value))
        print(f"  {what}: {value}", flush=True)

    def note(self, text: str) -> None:
        self.notes.append(text)

    def print_table(self, command: str) -> None:
        heads = ("section", "measure", "value")
        widths = [max(len(r[i]) for r in [heads, *self.rows]) for i in range(3)]
        line = "-+-".join("-" * w for w in widths)

        def show(cells: tuple[str, str, str]) -> None:
            print(" | ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)).rstrip())

        print()
        print("=" * len(line))
        print("RESULTS  (MB = 10^6 bytes; times are wall-clock, warm page cache)")
        print("=" * len(line))
        show(heads)
        print(line)
        previous = ""
        for section, what, value in self.rows:
            if previous and section != previous:
                print(line)
            show((section if section != previous else "", what, value))
            previous = section
        print(line)
        for text in self.notes:
            print(f"note: {text}")
        print(f"reproduce: {command}")


# --- small helpers ---------------------------------------------------------------------------


def heading(text: str) -> None:
    print(f"\n== {text}", flush=True)


def timed(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def secs(t: float) -> str:
    return f"{t * 1000:.1f} ms" if t < 1 else f"{t:.2f} s"


def rate(n: int, t: float, unit: str) -> str:
    return f"{n / t:,.0f} {unit}/s  ({n:,} in {secs(t)})"


def ratio(a: float, b: float) -> str:
    return f"{a / b:.2f}x"


def mb(n_bytes: float) -> str:
    return f"{n_bytes / MB:,.1f} MB"


def speed(n_bytes: float, t: float) -> str:
    return f"{n_bytes / MB / t:,.1f} MB/s"


def description(i: int) -> str:
    return (
        f"Incident {i}: he was waiting across the road from the flat again when I came home "
        "from work, and followed me as far as the corner shop. He did not say anything this "
        "time but stood at the window until I left. My neighbour saw him from her balcony."
    )


def incident_form(i: int) -> IncidentInput:
    return IncidentInput(category=CATEGORY, occurred=OCCURRED, description=description(i))


def raw_connect(path: Path, key: bytes, *, pragmas: bool = True, uri: bool = False) -> Any:
    """A sqlcipher3 connection keyed with a raw 256-bit key (no KDF), autocommit mode."""
    target = f"file:{path}?mode=ro" if uri else str(path)
    conn = dbapi2.connect(target, isolation_level=None, uri=uri)
    conn.execute(f"PRAGMA key = \"x'{key.hex()}'\"")
    if pragmas:
        for pragma in RAW_PRAGMAS:
            conn.execute(f"PRAGMA {pragma}").fetchall()
    return conn


def maxrss_bytes() -> int:
    """This process's peak resident set size (ru_maxrss is KiB on Linux, bytes on macOS)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak if sys.platform == "darwin" else peak * 1024


def proc_status_bytes(name: str) -> int | None:
    """A ``VmXXX`` figure from /proc/self/status (Linux only), in bytes."""
    try:
        lines = Path("/proc/self/status").read_text().splitlines()
    except OSError:
        return None
    for line in lines:
        if line.startswith(f"{name}:"):
            return int(line.split()[1]) * 1024
    return None


def reset_peak_rss() -> bool:
    """Reset the kernel's peak-RSS mark (VmHWM) so a later phase's own peak can be read."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        return False
    return True


# --- 1. adding incidents ---------------------------------------------------------------------


def bench_add(report: Report, work: Path, n: int) -> None:
    section = "1 add"
    heading(f"1. Adding {n:,} incidents")
    path = work / "add.docket"
    diary = Diary.create(path, PASSPHRASE)
    try:
        forms_in = [incident_form(i) for i in range(n)]

        def add_all() -> None:
            for form in forms_in:
                diary.add_incident(form)

        t_docket = timed(add_all)
    finally:
        diary.close()
    report.add(section, "docket facade, 1 txn each", rate(n, t_docket, "incidents"))
    report.add(section, "docket facade, bulk", "n/a (the facade has no bulk API)")

    # The raw rows carry the same text Docket stored: the description (in the incident
    # projection) and the exact canonical JSON of each log entry.
    key = sqlcipher.unlock(path, PASSPHRASE).key
    conn = raw_connect(path, key, pragmas=False, uri=True)
    try:
        logged = [
            str(r[0])
            for r in conn.execute(
                "SELECT record FROM entry WHERE type = 'incident.created' ORDER BY seq"
            )
        ]
    finally:
        conn.close()
    rows: list[RawRow] = [(CATEGORY, OCCURRED, description(i), logged[i]) for i in range(n)]
    text_per_row = sum(len(d) + len(r) for _, _, d, r in rows) / n
    report.add(section, "text per row (description + log JSON)", f"{text_per_row:,.0f} chars")

    t_raw = raw_inserts(work / "raw-each.db", rows, per_row=True)
    report.add(section, "raw sqlcipher3, 1 txn each", rate(n, t_raw, "incidents"))
    t_bulk = raw_inserts(work / "raw-bulk.db", rows, per_row=False)
    report.add(section, "raw sqlcipher3, 1 txn for all (context)", rate(n, t_bulk, "incidents"))
    report.add(section, "time ratio docket / raw (1 txn each)", ratio(t_docket, t_raw))
    report.add(section, "time ratio docket / raw bulk (context)", ratio(t_docket, t_bulk))
    path.unlink()


def raw_inserts(path: Path, rows: list[RawRow], *, per_row: bool) -> float:
    """Insert ``rows`` into a fresh raw SQLCipher file; returns the seconds taken."""
    conn = raw_connect(path, os.urandom(keys.KEY_BYTES))
    try:
        conn.execute(RAW_SCHEMA)

        def insert_each() -> None:
            for row in rows:
                conn.execute("BEGIN IMMEDIATE")
                conn.execute(RAW_INSERT, row)
                conn.execute("COMMIT")

        def insert_bulk() -> None:
            conn.execute("BEGIN IMMEDIATE")
            for row in rows:
                conn.execute(RAW_INSERT, row)
            conn.execute("COMMIT")

        return timed(insert_each if per_row else insert_bulk)
    finally:
        conn.close()
        path.unlink()


# --- 2. opening a large diary ----------------------------------------------------------------


def bench_open(report: Report, work: Path, n: int) -> None:
    section = "2 open"
    heading(f"2. Opening a diary of {n:,} incidents")
    path = work / "open.docket"
    diary = Diary.create(path, PASSPHRASE)
    try:

        def build() -> None:
            # The facade's own write transaction, which ends by sealing a checkpoint.
            with diary._write() as conn:
                for i in range(n):
                    data = forms.apply(incident_form(i), diary.timezone)
                    records.create_incident(conn, data)

        t_build = timed(build)
    finally:
        diary.close()
    report.add(section, "build: store API, 1 txn for all (context)", rate(n, t_build, "incidents"))

    key = sqlcipher.unlock(path, PASSPHRASE).key

    def raw_open() -> None:
        conn = raw_connect(path, key, pragmas=False, uri=True)
        try:
            conn.execute("SELECT count(*) FROM entry").fetchone()
        finally:
            conn.close()

    # Round-robin, so that a burst of load from other programs hits all three alike.
    opens: list[float] = []
    summaries: list[float] = []
    kdfs: list[float] = []
    raws: list[float] = []
    entries = 0
    for _ in range(OPEN_REPEATS):
        start = time.perf_counter()
        d = Diary.open(path, PASSPHRASE)
        opened = time.perf_counter()
        summary = d.summary()
        done = time.perf_counter()
        d.close()
        opens.append(opened - start)
        summaries.append(done - opened)
        entries = summary.entries
        kdfs.append(timed(lambda: keys.derive_key(PASSPHRASE, os.urandom(keys.SALT_BYTES))))
        raws.append(timed(raw_open))
    t_open = statistics.median(o + s for o, s in zip(opens, summaries, strict=True))
    t_kdf = statistics.median(kdfs)
    t_raw = statistics.median(raws)
    report.add(section, "records (log entries) in the diary", f"{entries:,}")
    report.add(section, "file size", mb(path.stat().st_size))
    report.add(section, f"Diary.open + summary(), median of {OPEN_REPEATS}", secs(t_open))
    report.add(section, "  of which Diary.open (median)", secs(statistics.median(opens)))
    report.add(section, "  of which summary() (median)", secs(statistics.median(summaries)))
    report.add(section, "(a) Argon2id derive_key alone (median)", secs(t_kdf))
    report.add(section, "(b) raw keyed open + count(*) (median)", secs(t_raw))
    report.add(section, "ratio open / ((a) + (b))", ratio(t_open, t_kdf + t_raw))
    path.unlink()


# --- 3. attaching a large file ---------------------------------------------------------------


def write_random_file(path: Path, mib: int) -> None:
    rng = random.Random(SEED)
    with path.open("wb") as fh:
        for _ in range(mib):
            fh.write(rng.randbytes(MiB))


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while piece := fh.read(MiB):
            digest.update(piece)
    return digest.hexdigest()


def raw_blob_write(path: Path, data: Path) -> float:
    """Store ``data`` as 1 MiB blobs keyed by SHA-256 in one transaction of a raw SQLCipher
    file (Docket's chunk layout without the ORM or the log); returns the seconds taken."""
    conn = raw_connect(path, os.urandom(keys.KEY_BYTES))
    try:
        conn.execute("CREATE TABLE chunk (sha256 BLOB PRIMARY KEY, data BLOB NOT NULL)")

        def write() -> None:
            conn.execute("BEGIN IMMEDIATE")
            with data.open("rb") as fh:
                while piece := fh.read(MiB):
                    digest = hashlib.sha256(piece).digest()
                    conn.execute("INSERT INTO chunk (sha256, data) VALUES (?, ?)", (digest, piece))
            conn.execute("COMMIT")

        return timed(write)
    finally:
        conn.close()
        path.unlink()


def run_child(kind: str, job: dict[str, Any]) -> dict[str, Any]:
    """Run one step in a fresh interpreter (so its peak RSS is its own) and return its result."""
    done = subprocess.run(
        [sys.executable, str(Path(__file__).resolve()), "--child", kind],
        input=json.dumps(job),
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        sys.stderr.write(done.stderr)
        raise RuntimeError(f"child {kind!r} failed with exit status {done.returncode}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def bench_attach(report: Report, work: Path, mib: int) -> None:
    section = "3 attach"
    size = mib * MiB
    heading(f"3. Attaching a {mib:,} MiB file ({mb(size)})")
    data = work / "evidence.bin"
    t_gen = timed(lambda: write_random_file(data, mib))
    print(f"  (generated {data.name} in {secs(t_gen)})", flush=True)

    hashes: list[str] = []
    t_hash = timed(lambda: hashes.append(sha256_file(data)))
    expected = hashes[0]
    t_raw = raw_blob_write(work / "raw-blobs.db", data)

    path = work / "attach.docket"
    Diary.create(path, PASSPHRASE).close()
    job = {"diary": str(path), "passphrase": PASSPHRASE, "file": str(data)}

    base = run_child("open", job)
    att = run_child("attach", job)
    back = run_child("readback", {**job, "attachment": att["id"], "sha256": att["sha256"]})

    peak = att["maxrss"]
    report.add(section, "file size", mb(size))
    report.add(section, "RSS baseline child: import docket + open, peak", mb(base["maxrss"]))
    report.add(section, "attach child: peak RSS before attach", mb(att["peak_before"]))
    report.add(section, "attach child: RSS just before attach", mb(att["rss_before"]))
    if att["phase_peak"] is not None:
        report.add(section, "attach child: peak RSS during attach only", mb(att["phase_peak"]))
        grew = att["phase_peak"] - att["rss_before"]
        report.add(section, "attach's own growth (phase peak - before)", mb(grew))
    report.add(section, "attach child: peak RSS (whole process)", mb(peak))
    report.add(section, "attach peak minus baseline child's peak", mb(peak - base["maxrss"]))
    met = "met" if peak < RSS_TARGET_MB * MB else "NOT MET"
    report.add(section, f"target: under {RSS_TARGET_MB} MB", met)
    report.add(section, "attach speed (in child, excl. open)", speed(size, att["seconds"]))
    report.add(section, "baseline: hashlib SHA-256, 1 MiB reads", speed(size, t_hash))
    report.add(section, "time ratio attach / hash", ratio(att["seconds"], t_hash))
    report.add(section, "raw sqlcipher3 1 MiB blobs, 1 txn (context)", speed(size, t_raw))
    report.add(section, "time ratio attach / raw blobs (context)", ratio(att["seconds"], t_raw))
    report.add(section, "diary file size after attach", mb(path.stat().st_size))
    report.add(section, "read back (iter_attachment, context)", speed(size, back["seconds"]))
    report.add(section, "read-back child: peak RSS (context)", mb(back["maxrss"]))
    same = back["ok"] and att["sha256"] == expected
    report.add(section, "read-back SHA-256 vs att.sha256 and file", "ok" if same else "mismatch")


def child_main(kind: str) -> None:
    """One step of measurement 3, run in its own interpreter; prints a JSON result line."""
    job = json.loads(sys.stdin.read())
    diary = Diary.open(Path(job["diary"]), job["passphrase"])
    out: dict[str, Any] = {}
    try:
        if kind == "attach":
            out["peak_before"] = maxrss_bytes()
            out["rss_before"] = proc_status_bytes("VmRSS")
            reset = reset_peak_rss()
            start = time.perf_counter()
            att = diary.attach(Path(job["file"]), incident_id=None)
            out["seconds"] = time.perf_counter() - start
            out["phase_peak"] = proc_status_bytes("VmHWM") if reset else None
            out.update(id=att.id, sha256=att.sha256, size=att.size)
        elif kind == "readback":
            digest = hashlib.sha256()
            start = time.perf_counter()
            for piece in diary.iter_attachment(job["attachment"]):
                digest.update(piece)
            out["seconds"] = time.perf_counter() - start
            out["ok"] = digest.hexdigest() == job["sha256"]
    finally:
        diary.close()
    # The peak mark may have been reset before the attach: the whole-process peak is the larger.
    out["maxrss"] = max(maxrss_bytes(), out.get("peak_before") or 0, out.get("phase_peak") or 0)
    print(json.dumps(out))


# --- running it ------------------------------------------------------------------------------


def environment() -> str:
    conn = dbapi2.connect(":memory:")
    try:
        cipher = conn.execute("PRAGMA cipher_version").fetchone()[0]
    finally:
        conn.close()
    return (
        f"docket {docket.__version__} from {Path(docket.__file__).parent}, "
        f"Python {platform.python_version()}, SQLite {dbapi2.sqlite_version}, "
        f"SQLCipher {cipher}, {platform.system()} {platform.machine()}, "
        f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f}"
    )


def reproduce_command(argv: list[str]) -> str:
    root = Path(__file__).resolve().parent.parent
    exe = Path(sys.executable)
    python = str(exe.relative_to(root)) if exe.is_relative_to(root) else str(exe)
    args = " ".join(shlex.quote(a) for a in argv)
    env = os.environ.get("PYTHONPATH")
    prefix = f"PYTHONPATH={shlex.quote(env)} " if env else ""
    return f"cd {shlex.quote(str(root))} && {prefix}{python} bench/bench_store.py {args}".rstrip()


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="sizes about 10x smaller")
    parser.add_argument(
        "--workdir",
        type=Path,
        default=None,
        help="where to put the temporary work directory (default: the system temp dir)",
    )
    parser.add_argument("--child", choices=("open", "attach", "readback"), help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def main(argv: list[str]) -> None:
    args = parse_args(argv)
    if args.child:
        child_main(args.child)
        return
    sizes = Sizes.pick(args.quick)
    print(f"docket store benchmark ({'quick' if args.quick else 'full'} sizes)")
    print(environment())
    report = Report()
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="docket-bench-", dir=args.workdir) as tmp:
        work = Path(tmp)
        print(f"work directory: {work}")
        bench_add(report, work, sizes.incidents)
        bench_open(report, work, sizes.records)
        bench_attach(report, work, sizes.attach_mib)
    report.note(
        "raw baselines use the same pragmas as Docket (journal_mode=DELETE, synchronous=FULL, "
        "secure_delete=ON, cipher_memory_security=ON) and a raw 256-bit key (no KDF)."
    )
    report.note(f"whole run took {secs(time.perf_counter() - started)}; {environment()}")
    report.print_table(reproduce_command(argv))


if __name__ == "__main__":
    main(sys.argv[1:])
