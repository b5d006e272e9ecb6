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
  the file.

Targets: parse-only at least 5x faster than whatstk; full import at least 2x faster than
whatstk's parse alone; peak RSS under 300 MB for both files and not growing with file size.

Usage: .venv/bin/python bench/bench_import.py [--messages N] [--sms-bytes S] [--workdir DIR]
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


def child(python: Path | str, code: str, *args: object) -> tuple[int, float, int]:
    proc = subprocess.run(
        [str(python), "-c", PEAK + code, *map(str, args)],
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


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--messages", type=int, default=1_000_000)
    ap.add_argument("--sms-bytes", type=int, default=1_000_000_000)
    ap.add_argument("--workdir", type=Path, default=Path(tempfile.gettempdir()))
    ap.add_argument("--peers", type=Path, default=PEERS, help="virtual environment for peers")
    ap.add_argument("--skip-chat-miner", action="store_true")
    args = ap.parse_args()
    peer = peers_python(args.peers)
    started = time.perf_counter()
    rows: list[tuple[str, int, float, int]] = []
    with tempfile.TemporaryDirectory(dir=args.workdir) as tmp:
        work = Path(tmp)
        chat, chat_q = work / "chat.txt", work / "chat-quarter.txt"
        sms, sms_q = work / "sms.xml", work / "sms-quarter.xml"
        print("Generating files …", file=sys.stderr)
        gen_whatsapp(chat, args.messages)
        gen_whatsapp(chat_q, args.messages // 4)
        gen_sms(sms, args.sms_bytes)
        gen_sms(sms_q, args.sms_bytes // 4)

        def run(label: str, python: Path | str, code: str, *a: object) -> tuple[int, float, int]:
            print(f"  {label} …", file=sys.stderr)
            result = child(python, code, *a)
            rows.append((label, *result))
            return result

        me = sys.executable
        wt = run("whatstk parse", peer, CHILD_WHATSTK, chat)
        cm = None if args.skip_chat_miner else run("chat-miner parse", peer, CHILD_CHATMINER, chat)
        dp = run("docket parse (WhatsApp)", me, CHILD_PARSE, chat, "whatsapp")
        di = run("docket import (WhatsApp)", me, CHILD_IMPORT, chat, "whatsapp", work / "a.docket")
        dq = run(
            "docket import (WhatsApp, 1/4)", me, CHILD_IMPORT, chat_q, "whatsapp", work / "b.docket"
        )
        sp = run("docket parse (SMS)", me, CHILD_PARSE, sms, "sms-backup-restore")
        si = run(
            "docket import (SMS)", me, CHILD_IMPORT, sms, "sms-backup-restore", work / "c.docket"
        )
        sq = run(
            "docket import (SMS, 1/4)",
            me,
            CHILD_IMPORT,
            sms_q,
            "sms-backup-restore",
            work / "d.docket",
        )
        sizes = {p.name: p.stat().st_size for p in (chat, chat_q, sms, sms_q)}

    print(f"\nImport benchmark ({os.cpu_count()} cores; {time.perf_counter() - started:,.0f} s)")
    print(
        f"  WhatsApp export: {args.messages:,} messages, {mb(sizes['chat.txt'])}; "
        f"SMS Backup & Restore: {mb(sizes['sms.xml'])}"
    )
    print(f"  {'run':34} {'items':>10} {'seconds':>9} {'items/s':>10} {'peak RSS':>9}")
    for label, n, secs, rss in rows:
        print(f"  {label:34} {n:10,} {secs:9.1f} {n / secs:10,.0f} {mb(rss):>9}")
    print("\n  Ratios (higher is better for Docket)")
    print(f"  whatstk parse / docket parse     {wt[1] / dp[1]:6.2f}   (target: at least 5)")
    print(f"  whatstk parse / docket import    {wt[1] / di[1]:6.2f}   (target: at least 2)")
    if cm is not None:
        print(f"  chat-miner parse / docket parse  {cm[1] / dp[1]:6.2f}")
        print(f"  chat-miner parse / docket import {cm[1] / di[1]:6.2f}")
    print("\n  Peak RSS (target: under 300 MB, not growing with file size)")
    print(f"  WhatsApp import: {mb(di[2])} (full file), {mb(dq[2])} (a quarter)")
    print(f"  SMS import:      {mb(si[2])} (full file), {mb(sq[2])} (a quarter)")
    print(f"  SMS parse alone: {mb(sp[2])}")
    print(
        "\n  Counts agree: "
        + json.dumps({"whatstk": wt[0], "chat-miner": cm[0] if cm else None, "docket": dp[0]})
        + " (whatstk and chat-miner count messages only; Docket also counts the system line)"
    )
    print(
        f"\nReproduce: .venv/bin/python bench/bench_import.py --messages {args.messages} "
        f"--sms-bytes {args.sms_bytes}"
    )


if __name__ == "__main__":
    main()
