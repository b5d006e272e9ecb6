"""Benchmark of the tamper-evident log: append N entries, then ``docket verify``, against
baselines measured in the same run. Prints figures and ratios; asserts nothing.

- verify / floor, where the floor is reading every entry's bytes out of the same encrypted
  diary and hashing each once with hashlib (target: at most 3);
- time to produce an inclusion proof at N entries / the same at 1,000 (target: under 3).

Usage: .venv/bin/python bench/bench_ledger.py [--entries N] [--workdir DIR]
"""

from __future__ import annotations

import argparse
import hashlib
import os
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

from docket.api import Diary
from docket.integrity import verify
from docket.ledger import log, merkle, tiles

PASSPHRASE = "benchmark passphrase"
BATCH = 10_000


def fill(diary: Diary, n: int) -> float:
    """Append entries in transactions of BATCH, each sealed by a signed checkpoint."""
    rng = random.Random(1)
    start = time.perf_counter()
    done = diary.summary().entries
    while done < n:
        with diary._write() as conn:
            for _ in range(min(BATCH, n - done)):
                log.append(
                    conn,
                    type="bench.note",
                    subject=f"note/{done}",
                    record={"text": "x" * rng.randint(80, 240), "n": done},
                )
                done += 1
        print(f"\r  appended {done:,}/{n:,}", end="", file=sys.stderr, flush=True)
    print(file=sys.stderr)
    return time.perf_counter() - start


def floor(diary: Diary) -> float:
    """Read every entry's stored bytes and hash them once: the least verify could do."""
    start = time.perf_counter()
    with diary._file.read() as conn:
        raw = conn.connection.driver_connection
        assert raw is not None
        h = 0
        for row in raw.execute(
            "SELECT seq, type, subject, recorded_at, corrects, reason, salt, record, leaf_hash "
            "FROM entry ORDER BY seq"
        ):
            data = (row[7] or "").encode() + bytes(row[6]) + row[3].encode() + row[2].encode()
            h ^= hashlib.sha256(data).digest()[0]
    return time.perf_counter() - start


def time_verify(diary: Diary) -> tuple[float, bool]:
    start = time.perf_counter()
    with diary._file.read() as conn:
        report = verify(conn)
    return time.perf_counter() - start, report.ok


class CountingReader(tiles.Reader):
    """The log's own tile reader, counting the tiles it fetches from the diary."""

    fetched = 0

    def tile(self, tier: int, tile: int) -> bytes:
        if (tier, tile) not in self._tiles:
            CountingReader.fetched += 1
        return super().tile(tier, tile)


def proof_time(diary: Diary, size: int, samples: int = 300) -> tuple[float, float]:
    """Median time of one inclusion proof at random indices (a fresh reader each, as
    ``log.inclusion_proof`` uses), and mean tiles read per proof."""
    rng = random.Random(7)
    times = []
    CountingReader.fetched = 0
    with diary._file.read() as conn:
        raw = conn.connection.driver_connection
        for _ in range(samples):
            index = rng.randrange(size)
            t = time.perf_counter()
            proof = merkle.inclusion_proof(index, size, CountingReader(raw))
            times.append(time.perf_counter() - t)
        node = tiles.Reader(raw)
        merkle.verify_inclusion(index, size, node(0, index), proof, merkle.root(size, node))
    return statistics.median(times), CountingReader.fetched / samples


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--entries", type=int, default=1_000_000)
    ap.add_argument("--workdir", type=Path, default=Path(tempfile.gettempdir()))
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(dir=args.workdir) as tmp:
        small_path, big_path = Path(tmp) / "small.docket", Path(tmp) / "big.docket"
        with Diary.create(small_path, PASSPHRASE) as small:
            fill(small, 1_000)
            small_proof, small_reads = proof_time(small, 1_000)
        with Diary.create(big_path, PASSPHRASE) as big:
            append_s = fill(big, args.entries)
            floor_s = min(floor(big) for _ in range(2))
            verify_s, ok = time_verify(big)
            big_proof, big_reads = proof_time(big, args.entries)
        size_mb = big_path.stat().st_size / 1e6
    n = args.entries
    print(f"\nLedger benchmark ({n:,} entries; {os.cpu_count()} cores)")
    print(
        f"  append           {append_s:8.2f} s  {n / append_s:10,.0f} entries/s "
        f"(transactions of {BATCH:,}, each sealed by a signed checkpoint)"
    )
    print(f"  diary file       {size_mb:8.1f} MB")
    print(f"  floor            {floor_s:8.2f} s  (read every entry's bytes, hash each once)")
    print(f"  docket verify    {verify_s:8.2f} s  ok={ok}")
    print(f"  verify / floor   {verify_s / floor_s:8.2f}    (target: at most 3)")
    print(
        f"  inclusion proof  {big_proof * 1e6:8.1f} us at {n:,}; "
        f"{small_proof * 1e6:.1f} us at 1,000 (median of 300)"
    )
    print(f"  proof ratio      {big_proof / small_proof:8.2f}    (target: under 3)")
    print(f"  tiles read       {big_reads:8.1f}    per proof at {n:,}; {small_reads:.1f} at 1,000")
    print(f"\nReproduce: .venv/bin/python bench/bench_ledger.py --entries {n}")


if __name__ == "__main__":
    main()
