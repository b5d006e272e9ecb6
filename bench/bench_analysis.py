"""Benchmark of the pattern analysis (``docket analyse``) against a plain SQL ``count(*)`` over
the same tables, in the same process and the same run. Prints figures and the ratio; asserts
nothing.

The diary (built once, seeded, kept in --workdir for later runs):
- 1,000,000 SMS imported from a generated SMS Backup & Restore file of a whole phone, over
  two years: about 12% from the person responsible (with 300 bursts of 30 messages in 20
  minutes), 4% sent to them, and the rest to and from 200 numbers not in the register (family,
  friends, work); about 1% with words the language flags look for;
- 10,000 incidents over the same two years, in eight categories, with threats appearing
  after the first year, some at a private place, some naming other people as targeted;
- two people in the register (the person responsible, a witness) and one court order.

Measured cold (each on a diary just opened, the baseline and the analysis in turns, --repeat
turns) and warm (each timed after one untimed run, median of --repeat runs):
- baseline: ``SELECT count(*) FROM incident`` and ``SELECT count(*) FROM message`` on the
  diary's own connection;
- ``Diary.analyse()``: every count, the heatmap, the trend, bursts, third parties, the order
  and the language flags.

Target: analysis within 10x of the baseline.

Usage: .venv/bin/python bench/bench_analysis.py [--messages N] [--incidents N]
       [--workdir DIR] [--repeat N] [--rebuild]
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from docket.api import Diary
from docket.ledger import log
from docket.model.identifiers import Identifier
from docket.model.records import (
    IncidentData,
    Occurrence,
    OrderData,
    PersonData,
    Place,
)

PASSPHRASE = "bench analysis diary"
ALEX = "+447700900123"
START = datetime(2025, 1, 1, tzinfo=UTC)
SPAN = timedelta(days=730)
BODIES = [
    "Why won't you answer me",
    "I just want to talk",
    "Pick up the phone",
    "You can't ignore me forever",
    "I saw your post",
    "Call me back",
    "Are you there?",
    "I miss you",
    "We need to sort this out",
    "Answer me",
    "Is this how you treat people",
    "I'm outside",
]
FLAGGED = [
    "I know where you live",
    "You'll regret this, I will hurt you",
    "I know you were at the gym at 7",
    "I'll kill myself if you don't answer",
    "I've got a knife",
]
CATEGORIES = ["CON", "LOI", "FOL", "PRX", "GIF", "WAT", "PRP", "MON"]


def esc(value: str) -> str:
    return value.replace("&", "&amp;").replace("<", "&lt;").replace('"', "&quot;")


def gen_sms(path: Path, n: int, seed: int = 7) -> None:
    """A whole phone's texts, as a real backup is: most with family and friends."""
    rnd = random.Random(seed)
    others = [f"+4477009{i:05d}" for i in range(1000, 1200)]
    bursts = 300 * 30
    rows = [(START + SPAN * rnd.random(), None) for _ in range(n - bursts)]
    for _ in range(300):
        t0 = START + SPAN * rnd.random()
        rows += [(t0 + timedelta(seconds=40 * k), (ALEX, 1)) for k in range(30)]
    rows.sort(key=lambda r: r[0])
    with path.open("w", encoding="utf-8") as out:
        out.write("<?xml version='1.0' encoding='UTF-8' standalone='yes' ?>\n")
        out.write(f'<smses count="{n}">\n')
        for i, (t, fixed) in enumerate(rows):
            r = rnd.random()
            if fixed is not None:
                number, kind = fixed
            elif r < 0.11:
                number, kind = ALEX, 1
            elif r < 0.15:
                number, kind = ALEX, 2
            elif r < 0.55:
                number, kind = rnd.choice(others), 2
            else:
                number, kind = rnd.choice(others), 1
            body = rnd.choice(FLAGGED) if rnd.random() < 0.01 else rnd.choice(BODIES)
            body += f" ({i})"  # every message distinct, as in life
            ms = int(t.timestamp() * 1000)
            out.write(
                f'<sms protocol="0" address="{number}" date="{ms}" type="{kind}" '
                f'subject="null" body="{esc(body)}" toa="null" sc_toa="null" '
                'service_center="null" read="1" status="-1" locked="0" date_sent="0" '
                'readable_date="" contact_name="(Unknown)" />\n'
            )
        out.write("</smses>\n")


def build(path: Path, work: Path, messages: int, incidents: int) -> None:
    tmp = path.with_suffix(".building")
    tmp.unlink(missing_ok=True)
    diary = Diary.create(tmp, PASSPHRASE)
    try:
        alex = diary.add_person(
            PersonData(
                "Alex", "responsible", "ex_partner", identifiers=(Identifier("phone", ALEX),)
            )
        ).id
        diary.add_person(PersonData("Sam", "witness", "friend"))
        sms = work / "bench-analysis-sms.xml"
        t = time.perf_counter()
        gen_sms(sms, messages)
        print(f"generated {messages:,} SMS ({sms.stat().st_size / 1e6:.0f} MB) "
              f"in {time.perf_counter() - t:.1f} s", flush=True)  # fmt: skip
        t = time.perf_counter()
        diary.import_file(sms)
        print(f"imported in {time.perf_counter() - t:.1f} s", flush=True)
        sms.unlink()
        rnd = random.Random(11)
        london = ZoneInfo("Europe/London")
        t = time.perf_counter()
        for i in range(incidents):
            when = (START + SPAN * (i / incidents)).astimezone(london).replace(microsecond=0)
            second_year = i > incidents // 2
            cat = "THR" if second_year and rnd.random() < 0.05 else rnd.choice(CATEGORIES)
            diary.add_incident_data(
                IncidentData(
                    occurred=Occurrence(when, "Europe/London"),
                    category=cat,
                    description=rnd.choice(BODIES + FLAGGED[:1]) + f" (entry {i})",
                    people=(alex,),
                    targeted=("me", "Mum") if cat == "PRX" else ("me",),
                    place=Place("Home", True) if cat == "LOI" and second_year else None,
                )
            )
            if i and i % 2000 == 0:
                print(f"  {i:,} incidents ({time.perf_counter() - t:.0f} s)", flush=True)
        diary.add_order(OrderData("restraining_order", date(2026, 1, 10), against=(alex,)))
    finally:
        diary.close()
    os.replace(tmp, path)


def timed(fn: object, repeat: int) -> tuple[float, float]:
    """(first run, median of ``repeat`` runs after it), in seconds."""
    assert callable(fn)
    t = time.perf_counter()
    fn()
    first = time.perf_counter() - t
    runs = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        runs.append(time.perf_counter() - t)
    return first, statistics.median(runs)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--messages", type=int, default=1_000_000)
    ap.add_argument("--incidents", type=int, default=10_000)
    ap.add_argument("--workdir", type=Path, default=Path(tempfile.gettempdir()))
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--rebuild", action="store_true")
    args = ap.parse_args()
    path = args.workdir / f"bench-analysis-{args.messages}-{args.incidents}.docket"
    if args.rebuild or not path.exists():
        build(path, args.workdir, args.messages, args.incidents)
    as_of = date(2026, 12, 31)

    def baseline(diary: Diary) -> tuple[int, int]:
        with diary._file.read() as conn:  # the diary's own connection
            raw = log.raw_connection(conn)
            n_inc = raw.execute("SELECT count(*) FROM incident").fetchone()[0]
            n_msg = raw.execute("SELECT count(*) FROM message").fetchone()[0]
            return int(n_inc), int(n_msg)

    def cold_pairs() -> tuple[float, float, float]:
        """On a diary just opened: SQLCipher's page cache empty, so every page read is
        decrypted (the operating system's file cache is warm for both). The baseline and the
        analysis are timed in turns, so that a change in the machine's speed during the run
        touches both alike: (median baseline, median analysis, median of each turn's ratio)."""
        base, full = [], []
        for _ in range(args.repeat):
            for fn, times in ((baseline, base), (lambda d: d.analyse(as_of=as_of), full)):
                diary = Diary.open(path, PASSPHRASE)
                try:
                    t = time.perf_counter()
                    fn(diary)
                    times.append(time.perf_counter() - t)
                finally:
                    diary.close()
        ratios = [a / b for a, b in zip(full, base, strict=True)]
        return statistics.median(base), statistics.median(full), statistics.median(ratios)

    diary = Diary.open(path, PASSPHRASE)
    try:
        n_inc, n_msg = baseline(diary)
        print(f"diary: {n_inc:,} incidents, {n_msg:,} messages, "
              f"{path.stat().st_size / 1e6:.0f} MB")  # fmt: skip
        _, b_warm = timed(lambda: baseline(diary), args.repeat)
        _, a_warm = timed(lambda: diary.analyse(as_of=as_of), args.repeat)
        a = diary.analyse(as_of=as_of)
        print(
            f"analysis: {len(a.findings)} findings, {len(a.bursts)} bursts, "
            f"{a.contacts:,} contacts, flags {a.flag_counts}"
        )
    finally:
        diary.close()
    b_cold, a_cold, paired = cold_pairs()
    print(f"count(*) baseline: cold {b_cold * 1000:8.1f} ms   warm {b_warm * 1000:8.1f} ms")
    print(f"analysis:          cold {a_cold * 1000:8.1f} ms   warm {a_warm * 1000:8.1f} ms")
    print(
        f"ratio, cold: {a_cold / b_cold:.1f}x of the medians, {paired:.1f}x the median of "
        f"{args.repeat} turns   (target: within 10x)"
    )
    print(
        f"ratio, warm: {a_warm / b_warm:.0f}x   (a warm count(*) is answered from pages "
        "already decrypted in memory, reading nothing)"
    )


if __name__ == "__main__":
    main()
