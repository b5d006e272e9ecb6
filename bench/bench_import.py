"""Benchmark of imports, against peers run on the same files in the same run. Prints figures
and ratios; asserts nothing.

Files (generated, seeded, in a temporary folder):
- a WhatsApp Android export of N messages (default 1,000,000): six people, 10% multi-line
  bodies, media placeholders, names and bodies with ": " in them;
- an SMS Backup & Restore file of S bytes (default 1 GB): SMS in both directions, group MMS
  with text, and an MMS with a 50 MB base64 video for every 100 MB of file.

Measured, each in its own child process (peak RSS from the child's own ``ru_maxrss``):
- whatstk ``df_from_txt_whatsapp`` (header format given, so no auto-detection) and chat-miner
  ``WhatsAppParser``, installed in the benchmark's own virtual environment (``--peers``;
  created with pip on first use);
- Docket's WhatsApp parser alone, and a full ``docket import`` (parse, encrypt, store, index,
  log) into a new diary; the same for the SMS file;
- the same Docket runs on files a quarter of the size, to show whether peak RSS grows with
  the file;
- the floor under a WhatsApp import: the message rows the import stored, read back from its
  diary and written with one plain ``executemany`` into a new diary (same table, indexes,
  triggers and pragmas; one transaction; no Python work per row), and the same without the
  message table's three secondary indexes;
- what SQLCipher's ``cipher_memory_security`` costs (Docket keeps it on, DESIGN §5): the
  WhatsApp import and the floor again with it off, in the benchmark's own process only.

Targets: parse-only at least 5x faster than whatstk; full import at least 2x faster than
whatstk's parse alone; peak RSS under 300 MB for both files and not growing with file size.

Usage: .venv/bin/python bench/bench_import.py [--messages N] [--sms-bytes S] [--workdir DIR]
       [--only RUN,RUN...]   (runs: whatstk, chat-miner, parse-whatsapp, import-whatsapp,
       import-whatsapp-quarter, floor, memory-security, parse-sms, import-sms,
       import-sms-quarter)
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PASSPHRASE = "benchmark passphrase"
PEERS = Path.home() / ".cache" / "docket-bench" / "peers"
TEXT = (
    "where are you why won't you answer I saw you today at the station you looked tired "
    "call me back now I know you are home the lights are on please just talk to me it is "
    "not fair I only want to see you again you cannot ignore me forever"
)
WORDS = TEXT.split(" ")
PEOPLE = ["Sam", "Alex", "Jo Bloggs", "Dr. Lee", "+44 7700 900123", "Priya"]


# --- generators ----------------------------------------------------------------------------


def gen_whatsapp(path: Path, n: int, seed: int = 1) -> None:
    rng = random.Random(seed)
    t = 1_700_000_000  # seconds; one message every 1-120 s
    with path.open("w", encoding="utf-8", newline="\n") as f:
        f.write(
            "13/11/2023, 22:13 - Messages and calls are end-to-end encrypted. No one outside "
            "of this chat, not even WhatsApp, can read or listen to them.\n"
        )
        for _ in range(n):
            t += rng.randint(1, 120)
            tm = time.gmtime(t)
            stamp = time.strftime("%d/%m/%Y, %H:%M", tm)
            who = PEOPLE[rng.randrange(len(PEOPLE))]
            r = rng.random()
            if r < 0.03:
                body = "<Media omitted>"
            else:
                body = " ".join(rng.choices(WORDS, k=rng.randint(2, 18)))
                if r < 0.13:
                    body += "\n" + " ".join(rng.choices(WORDS, k=rng.randint(2, 10)))
                if r > 0.98:
                    body = "note: " + body
            f.write(f"{stamp} - {who}: {body}\n")


def gen_sms(path: Path, size: int, seed: int = 2) -> int:
    """Write about ``size`` bytes; returns the number of records."""
    rng = random.Random(seed)
    video = base64.b64encode(rng.randbytes(50 * 1024 * 1024 * 3 // 4)).decode("ascii")
    t = 1_700_000_000_000
    count = 0
    next_video = 100 * 1000 * 1000
    with path.open("w", encoding="utf-8") as f:
        f.write(
            "<?xml version='1.0' encoding='UTF-8' standalone='yes' ?>\n"
            "<!--File Created By SMS Backup & Restore v10.20.002 on 01/02/2024 10:11:12-->\n"
            '<smses count="0" backup_set="bench" backup_date="1706780000000" type="full">\n'
        )
        while f.tell() < size:
            t += rng.randint(1000, 600_000)
            count += 1
            body = " ".join(rng.choices(WORDS, k=rng.randint(2, 30)))
            if f.tell() >= next_video:
                next_video += 100 * 1000 * 1000
                f.write(
                    f'  <mms date="{t}" msg_box="1" address="+447700900123" m_type="132" '
                    f'date_sent="{t // 1000}" read="1" ct_t="application/vnd.wap.multipart.'
                    'related" sub="null">\n    <parts>\n'
                    '      <part seq="0" ct="video/mp4" cl="VID_0001.mp4" '
                    f'data="{video}" />\n'
                    f'      <part seq="1" ct="text/plain" chset="106" text="{body}" />\n'
                    "    </parts>\n    <addrs>\n"
                    '      <addr address="+447700900123" type="137" charset="106" />\n'
                    '      <addr address="+447700900999" type="151" charset="106" />\n'
                    "    </addrs>\n  </mms>\n"
                )
            elif rng.random() < 0.05:
                f.write(
                    f'  <mms date="{t}" msg_box="2" address="+447700900123~+447700900456" '
                    f'm_type="128" date_sent="0" read="1" sub="null">\n    <parts>\n'
                    f'      <part seq="0" ct="text/plain" chset="106" text="{body}" />\n'
                    "    </parts>\n    <addrs>\n"
                    '      <addr address="+447700900999" type="137" charset="106" />\n'
                    '      <addr address="+447700900123" type="151" charset="106" />\n'
                    '      <addr address="+447700900456" type="151" charset="106" />\n'
                    "    </addrs>\n  </mms>\n"
                )
            else:
                number = rng.choice(["+447700900123", "07700 900123", "+447700900456"])
                kind = rng.choice("12")
                f.write(
                    f'  <sms protocol="0" address="{number}" date="{t}" type="{kind}" '
                    f'subject="null" body="{body} &#55357;&#56865;" toa="null" sc_toa="null" '
                    'service_center="null" read="1" status="-1" locked="0" date_sent="0" '
                    'contact_name="(Unknown)" />\n'
                )
        f.write("</smses>\n")
    return count


# --- children --------------------------------------------------------------------------------

# The child's own peak RSS. ru_maxrss is no good here: on Linux a child's starts at its
# parent's peak before the exec, and the parent holds the generated video.
PEAK = """
def PEAK():
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    return 0
"""

CHILD_WHATSTK = """
import sys, time
from whatstk import df_from_whatsapp
t = time.perf_counter()
df = df_from_whatsapp(sys.argv[1], hformat="%d/%m/%Y, %H:%M - %name:", max_size=None)
s = time.perf_counter() - t
print(len(df), s, PEAK())
"""

CHILD_CHATMINER = """
import logging, sys, time
logging.disable(logging.CRITICAL)
from chatminer.chatparsers import WhatsAppParser
t = time.perf_counter()
p = WhatsAppParser(sys.argv[1])
p.parse_file()
df = p.parsed_messages.get_df()
s = time.perf_counter() - t
print(len(df), s, PEAK())
"""

CHILD_PARSE = """
import sys, time
from pathlib import Path
from docket.importers import available
from docket.importers.base import Context, Item, Source
imp = {i.name: i for i in available()}[sys.argv[2]]
t = time.perf_counter()
items = imp.parse(Source(Path(sys.argv[1])), Context(name="bench"))
n = sum(1 for x in items if isinstance(x, Item))
s = time.perf_counter() - t
print(n, s, PEAK())
"""

# Run first in a child that is to measure Docket with cipher_memory_security off. Only the
# benchmark does this, to show what the setting costs; Docket itself never turns it off.
MEMORY_SECURITY_OFF = """
import sys
if "--memory-security-off" in sys.argv:
    from docket.store import sqlcipher
    sys.argv.remove("--memory-security-off")
    sqlcipher.SAFETY_PRAGMAS = tuple(
        ("cipher_memory_security", "OFF", "0") if p[0] == "cipher_memory_security" else p
        for p in sqlcipher.SAFETY_PRAGMAS
    )
"""

CHILD_IMPORT = """
import sys, time
from pathlib import Path
from docket.api import Diary
with Diary.create(Path(sys.argv[3]), "benchmark passphrase") as d:
    t = time.perf_counter()
    s = d.import_file(Path(sys.argv[1]), format=sys.argv[2])
    el = time.perf_counter() - t
print(s.added + s.duplicates, el, PEAK())
"""

# The floor: the first rows an import stored, written again into a new diary (same table,
# indexes, triggers and pragmas; one transaction) with no Python work per row that is timed.
# "plain": one executemany; "bare": the same without the three secondary indexes;
# "chunked": the import's own INSERT statements (_Writer._insert: a chunk of rows per
# statement, their text in one bound blob). Reading the rows back from the first diary, 20,000
# at a time, and putting them in the form _insert takes are not timed; the commit is.
CHILD_FLOOR = """
import itertools, sys, time
from pathlib import Path
from docket import importer
from docket.api import Diary
from docket.ledger import log
COLUMNS = (
    "id, source_id, batch_seq, kind, channel, direction, thread, sender_raw, sender_kind, "
    "sender_platform, sender_value, recipients, sent_at, local_time, time_note, body, deleted, "
    "call_type, duration_s, line, offset, raw, attachments, dedupe, leaf"
)
NAMES = [c.strip() for c in COLUMNS.split(",")]
INSERT = f"INSERT INTO message ({COLUMNS}) VALUES ({', '.join(['?'] * 25)})"
TEXT = [NAMES.index(c) for c in importer._TEXT_COLUMNS]
BITS = [importer._NULL_BIT.get(c, 0) for c in importer._TEXT_COLUMNS]
NUMBERS = [NAMES.index(c) for c in ("duration_s", "line", "offset")]
ID, DELETED, DEDUPE, LEAF = (NAMES.index(c) for c in ("id", "deleted", "dedupe", "leaf"))

def writer_row(r):
    texts = [r[i] for i in TEXT]
    mask = sum(bit for bit, t in zip(BITS, texts) if t is None)
    numbers = [importer._NULL_INT if r[i] is None else r[i] for i in NUMBERS]
    return (
        (r[ID], r[DELETED], *numbers, mask),
        tuple("" if t is None else t for t in texts),
        bytes(r[DEDUPE]) + bytes(r[LEAF]),
    )

source, target, mode, limit = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3], int(sys.argv[4])
PASS = "benchmark passphrase"
with Diary.open(source, PASS) as a, Diary.create(target, PASS) as b:
    with a._file.read() as ca, b._file.write() as cb:
        ra, rb = log.raw_connection(ca), log.raw_connection(cb)
        sha = ra.execute("SELECT sha256 FROM source").fetchone()[0]
        rb.execute("INSERT INTO blob VALUES (?, 0, 0, 0)", (sha,))  # for the foreign keys
        rb.execute("INSERT INTO source VALUES (1, 0, ?, 0, '', '', '', '{}', '', '{}')", (sha,))
        if mode == "bare":
            for name in ("ix_message_source", "ix_message_sender", "ix_message_sent_at"):
                rb.execute(f"DROP INDEX {name}")
        writer = importer._Writer(cb, 1, importer.Options(), importer.Summary(file="floor"))
        rows = ra.execute(f"SELECT {COLUMNS} FROM message ORDER BY id LIMIT ?", (limit,))
        n, spent = 0, 0.0
        while batch := rows.fetchmany(20_000):
            if mode == "chunked":
                groups = [
                    (seq, [writer_row(r) for r in group])
                    for seq, group in itertools.groupby(batch, key=lambda r: r[2])
                ]
                t = time.perf_counter()
                for seq, group in groups:
                    writer._insert(group, seq)
            else:
                t = time.perf_counter()
                rb.executemany(INSERT, batch)
            spent += time.perf_counter() - t
            n += len(batch)
        t = time.perf_counter()
    spent += time.perf_counter() - t  # the commit
print(n, spent, PEAK())
"""


CHILD_TRIGGERS = """
import sys, tempfile
from pathlib import Path
from docket.api import Diary
from docket.ledger import log
with tempfile.TemporaryDirectory(dir=sys.argv[1]) as tmp:
    with Diary.create(Path(tmp) / "t.docket", "benchmark passphrase") as d, d._file.read() as c:
        names = log.raw_connection(c).execute(
            "SELECT name FROM sqlite_schema WHERE type = 'trigger' AND tbl_name = 'message'"
        ).fetchall()
print(",".join(n for (n,) in names) or "none")
"""


def message_triggers(work: Path) -> str:
    """The triggers a new diary has on its message table (they run in every floor too)."""
    proc = subprocess.run(
        [sys.executable, "-c", CHILD_TRIGGERS, str(work)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT / "src")},
        check=True,
    )
    return proc.stdout.strip()


def child(python: Path | str, code: str, *args: object) -> tuple[int, float, int]:
    proc = subprocess.run(
        [str(python), "-c", PEAK + MEMORY_SECURITY_OFF + code, *map(str, args)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT / "src")},
    )
    if proc.returncode != 0:
        raise SystemExit(f"child failed:\n{proc.stderr[-3000:]}")
    n, secs, rss = proc.stdout.split()[-3:]
    return int(n), float(secs), int(rss)


def peers_python(venv: Path) -> Path:
    python = venv / "bin" / "python"
    if not python.exists():
        print(f"Installing whatstk and chat-miner into {venv} …", file=sys.stderr)
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        subprocess.run(
            [str(python), "-m", "pip", "install", "-q", "whatstk", "chat-miner"], check=True
        )
    return python


def mb(n: int) -> str:
    return f"{n / 1e6:,.0f} MB"


RUNS = (
    "whatstk",
    "chat-miner",
    "parse-whatsapp",
    "import-whatsapp",
    "import-whatsapp-quarter",
    "floor",
    "memory-security",
    "parse-sms",
    "import-sms",
    "import-sms-quarter",
)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--messages", type=int, default=1_000_000)
    ap.add_argument("--sms-bytes", type=int, default=1_000_000_000)
    ap.add_argument("--workdir", type=Path, default=Path(tempfile.gettempdir()))
    ap.add_argument("--peers", type=Path, default=PEERS, help="virtual environment for peers")
    ap.add_argument("--skip-chat-miner", action="store_true")
    ap.add_argument(
        "--floor-rows",
        type=int,
        default=100_000,
        help="rows written again for each floor (the first ones the import stored)",
    )
    ap.add_argument(
        "--only",
        type=lambda v: [r.strip() for r in v.split(",") if r.strip()],
        default=list(RUNS),
        help="comma-separated runs, from: " + ", ".join(RUNS),
    )
    args = ap.parse_args()
    only = set(args.only) - ({"chat-miner"} if args.skip_chat_miner else set())
    if unknown := only - set(RUNS):
        ap.error(f"unknown runs: {', '.join(sorted(unknown))}")
    if only & {"floor", "memory-security"}:
        only.add("import-whatsapp")  # the floor writes again the rows this import stored
    peer = peers_python(args.peers) if only & {"whatstk", "chat-miner"} else None
    started = time.perf_counter()
    rows: list[tuple[str, int, float, int]] = []
    results: dict[str, tuple[int, float, int]] = {}
    sizes: dict[str, int] = {}
    triggers = ""
    with tempfile.TemporaryDirectory(dir=args.workdir) as tmp:
        work = Path(tmp)
        chat, chat_q = work / "chat.txt", work / "chat-quarter.txt"
        sms, sms_q = work / "sms.xml", work / "sms-quarter.xml"
        print("Generating files …", file=sys.stderr)
        gen_whatsapp(chat, args.messages)
        if "import-whatsapp-quarter" in only:
            gen_whatsapp(chat_q, args.messages // 4)
        if only & {"parse-sms", "import-sms"}:
            gen_sms(sms, args.sms_bytes)
        if "import-sms-quarter" in only:
            gen_sms(sms_q, args.sms_bytes // 4)

        def run(name: str, label: str, python: Path | str, code: str, *a: object) -> None:
            if name.split(":")[0] not in only:
                return
            print(f"  {label} …", file=sys.stderr)
            result = child(python, code, *a)
            rows.append((label, *result))
            results[name] = result

        me = sys.executable
        if peer is not None:
            run("whatstk", "whatstk parse", peer, CHILD_WHATSTK, chat)
            run("chat-miner", "chat-miner parse", peer, CHILD_CHATMINER, chat)
        run("parse-whatsapp", "docket parse (WhatsApp)", me, CHILD_PARSE, chat, "whatsapp")
        diary = work / "a.docket"
        run(
            "import-whatsapp", "docket import (WhatsApp)", me, CHILD_IMPORT, chat, "whatsapp", diary
        )
        run(
            "import-whatsapp-quarter",
            "docket import (WhatsApp, 1/4)",
            me,
            CHILD_IMPORT,
            chat_q,
            "whatsapp",
            work / "b.docket",
        )
        floor = (CHILD_FLOOR, diary)
        rows_ = args.floor_rows
        run("floor", "floor: executemany", me, *floor, work / "f1", "plain", rows_)
        run("floor:bare", "floor, no 2ndary indexes", me, *floor, work / "f2", "bare", rows_)
        run("floor:chunked", "floor: chunked INSERT", me, *floor, work / "f3", "chunked", rows_)
        off = "--memory-security-off"
        run(
            "memory-security",
            "import (WhatsApp), mem. sec. OFF",
            me,
            CHILD_IMPORT,
            chat,
            "whatsapp",
            work / "e.docket",
            off,
        )
        run(
            "memory-security:floor",
            "floor: executemany, mem. sec. OFF",
            me,
            *floor,
            work / "f4",
            "plain",
            args.floor_rows,
            off,
        )
        run(
            "memory-security:chunked",
            "floor: chunked, mem. sec. OFF",
            me,
            *floor,
            work / "f5",
            "chunked",
            args.floor_rows,
            off,
        )
        run("parse-sms", "docket parse (SMS)", me, CHILD_PARSE, sms, "sms-backup-restore")
        run(
            "import-sms",
            "docket import (SMS)",
            me,
            CHILD_IMPORT,
            sms,
            "sms-backup-restore",
            work / "c.docket",
        )
        run(
            "import-sms-quarter",
            "docket import (SMS, 1/4)",
            me,
            CHILD_IMPORT,
            sms_q,
            "sms-backup-restore",
            work / "d.docket",
        )
        sizes = {p.name: p.stat().st_size for p in (chat, chat_q, sms, sms_q) if p.exists()}
        triggers = message_triggers(work) if "floor" in results else ""

    print(f"\nImport benchmark ({os.cpu_count()} cores; {time.perf_counter() - started:,.0f} s)")
    described = [f"WhatsApp export: {args.messages:,} messages, {mb(sizes['chat.txt'])}"]
    if "sms.xml" in sizes:
        described.append(f"SMS Backup & Restore: {mb(sizes['sms.xml'])}")
    print("  " + "; ".join(described))
    print(f"  {'run':34} {'items':>10} {'seconds':>9} {'items/s':>10} {'peak RSS':>9}")
    for label, n, secs, rss in rows:
        print(f"  {label:34} {n:10,} {secs:9.1f} {n / secs:10,.0f} {mb(rss):>9}")
    r = results
    print("\n  Ratios (higher is better for Docket)")
    if "whatstk" in r and "parse-whatsapp" in r:
        print(
            f"  whatstk parse / docket parse     {r['whatstk'][1] / r['parse-whatsapp'][1]:6.2f}"
            "   (target: at least 5)"
        )
    if "whatstk" in r and "import-whatsapp" in r:
        print(
            f"  whatstk parse / docket import    {r['whatstk'][1] / r['import-whatsapp'][1]:6.2f}"
            "   (target: at least 2)"
        )
    if "chat-miner" in r and "parse-whatsapp" in r:
        print(
            f"  chat-miner parse / docket parse  {r['chat-miner'][1] / r['parse-whatsapp'][1]:6.2f}"
        )
    if "chat-miner" in r and "import-whatsapp" in r:
        ratio = r["chat-miner"][1] / r["import-whatsapp"][1]
        print(f"  chat-miner parse / docket import {ratio:6.2f}")
    if "floor" in r:
        n, plain, _ = r["floor"]
        print(
            f"\n  Floor: the first {n:,} rows the WhatsApp import stored, written again into a new"
        )
        print("  diary (same table, indexes, triggers and pragmas; one transaction).")
        print(f"  Triggers on the message table: {triggers}.")
        print(f"  plain executemany               {n / plain:10,.0f} rows/s")
        if "floor:bare" in r:
            print(f"  the same, no secondary indexes  {n / r['floor:bare'][1]:10,.0f} rows/s")
        if "floor:chunked" in r:
            print(f"  the import's chunked INSERT     {n / r['floor:chunked'][1]:10,.0f} rows/s")
        if "import-whatsapp" in r:
            items = r["import-whatsapp"][0] / r["import-whatsapp"][1]
            print(f"  docket import (parse included)  {items:10,.0f} items/s")
    if "memory-security" in r and "import-whatsapp" in r:
        on, off_ = r["import-whatsapp"][1], r["memory-security"][1]
        print(
            f"\n  cipher_memory_security ON costs the WhatsApp import {on - off_:,.1f} s "
            f"({on / off_:.2f}x its time with it OFF)"
        )
        for name, label in (("floor", "executemany"), ("floor:chunked", "chunked")):
            off_name = "memory-security:" + ("floor" if name == "floor" else "chunked")
            if name in r and off_name in r:
                fon, foff = r[name][1], r[off_name][1]
                print(f"  and the {label} floor {fon - foff:,.1f} s ({fon / foff:.2f}x)")
    print("\n  Peak RSS (target: under 300 MB, not growing with file size)")
    if "import-whatsapp" in r and "import-whatsapp-quarter" in r:
        print(
            f"  WhatsApp import: {mb(r['import-whatsapp'][2])} (full file), "
            f"{mb(r['import-whatsapp-quarter'][2])} (a quarter)"
        )
    if "import-sms" in r and "import-sms-quarter" in r:
        print(
            f"  SMS import:      {mb(r['import-sms'][2])} (full file), "
            f"{mb(r['import-sms-quarter'][2])} (a quarter)"
        )
    if "parse-sms" in r:
        print(f"  SMS parse alone: {mb(r['parse-sms'][2])}")
    if "parse-whatsapp" in r:
        counts = {
            "whatstk": r["whatstk"][0] if "whatstk" in r else None,
            "chat-miner": r["chat-miner"][0] if "chat-miner" in r else None,
            "docket": r["parse-whatsapp"][0],
        }
        print(
            "\n  Counts agree: "
            + json.dumps(counts)
            + " (whatstk and chat-miner count messages only; Docket also counts the system line)"
        )
    print(
        f"\nReproduce: .venv/bin/python bench/bench_import.py --messages {args.messages} "
        f"--sms-bytes {args.sms_bytes}"
        + ("" if only >= set(RUNS) else f" --only {','.join(sorted(only))}")
    )


if __name__ == "__main__":
    main()
