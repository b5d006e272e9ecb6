"""Benchmark of the Telegram importer on a large whole-account export. Prints figures and
ratios; asserts nothing.

The file (generated, seeded, in a temporary folder) is a Telegram Desktop ``result.json`` of
about N bytes (default 500 MB), laid out the way Telegram Desktop writes it: personal
information, contacts, then ``chats.list`` with a personal chat, a group, a supergroup and
saved messages, and ``left_chats`` with a channel; text as plain strings and as entity lists
(phone numbers, links, bold, mentions), ``text_entities``, edits, replies, forwards, photos
and files left out of the export, and service messages (calls with durations and reasons,
members added, pins, screenshots). It has no control characters, which Telegram Desktop writes
as ``\\xHH`` (not JSON): the baseline below could not read them.

Measured, each in its own child process, with its peak RSS (``ru_maxrss`` from
``resource.getrusage`` in the child, and the kernel's ``VmHWM`` as a cross-check; the parent
holds nothing large, so the child's figure is its own):

- baseline: ``json.load`` of the whole file, then iterating over every message (what a
  simple parser does; its memory grows with the file);
- floor: ``ijson.items`` (C backend) over the chats' and left chats' messages, building each
  message and nothing else (the least a streaming parser has to do);
- Docket's Telegram parser alone (items with chats, offsets, raw fields, warnings);
- a full import into a new encrypted diary through ``docket.api.Diary`` (parse, encrypt,
  store, index, log);
- the parser and the import again on a file a quarter of the size, to show that peak RSS does
  not grow with the file.

The full size needs about 5 GB of memory for the baseline and 3 GB of disk, and takes about
20 minutes on 2 cores, most of it the two imports; ``--bytes 40000000`` takes about 2 minutes
on a quiet machine.

Usage: .venv/bin/python bench/bench_telegram.py [--bytes N] [--workdir DIR] [--skip-import]
"""

from __future__ import annotations

import argparse
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PASSPHRASE = "benchmark passphrase"
TEXT = (
    "where are you why won't you answer I saw you today at the station you looked tired call "
    "me back now I know you are home the lights are on please just talk to me it is not fair "
    "I only want to see you again you cannot ignore me forever где ты почему не отвечаешь 😡 "
    "🙏 ❤️ ok fine"
)
WORDS = TEXT.split()
PEOPLE = [("Sam", 7001), ("Alex", 5001), ("Jo Bloggs", 7002), ("Dr. Lee", 7003), ("Priya", 7004)]
ME = 5001


# --- the generator -------------------------------------------------------------------------------


def q(text: str) -> str:
    """A JSON string as Telegram Desktop writes it (no control characters are generated)."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


class Writer:
    """Writes messages in Telegram Desktop's layout (one space of indent per level)."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.t = 1_600_000_000
        self.mid = 0

    def words(self, lo: int, hi: int) -> str:
        return " ".join(self.rng.choices(WORDS, k=self.rng.randint(lo, hi)))

    def stamp(self) -> tuple[str, str]:
        self.t += self.rng.randint(1, 400)
        return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(self.t)), str(self.t)

    def message(self, members: list[tuple[str, int]]) -> str:
        rng = self.rng
        self.mid += 1
        date, unix = self.stamp()
        pad = "     "
        r = rng.random()
        if r < 0.04:
            name, uid = rng.choice(members)
            if rng.random() < 0.6:
                reason = rng.choice(["missed", "busy", "hangup", "hangup", "disconnect"])
                dur = (
                    f',\n{pad} "duration_seconds": {rng.randint(1, 3600)}'
                    if reason
                    in (
                        "hangup",
                        "disconnect",
                    )
                    else ""
                )
                action = f'"phone_call"{dur},\n{pad} "discard_reason": "{reason}"'
            else:
                action = rng.choice(
                    [
                        '"pin_message",\n' + pad + f' "message_id": {max(1, self.mid - 3)}',
                        '"take_screenshot"',
                        '"invite_members",\n'
                        + pad
                        + ' "members": [\n'
                        + pad
                        + '  "Priya"\n'
                        + pad
                        + " ]",
                    ]
                )
            return (
                f'{{\n{pad} "id": {self.mid},\n{pad} "type": "service",\n{pad} "date": "{date}",'
                f'\n{pad} "date_unixtime": "{unix}",\n{pad} "actor": {q(name)},\n{pad} '
                f'"actor_id": "user{uid}",\n{pad} "action": {action},\n{pad} "text": "",\n{pad} '
                f'"text_entities": []\n{pad}}}'
            )
        name, uid = rng.choice(members)
        extra = ""
        if r < 0.10:
            edit = self.t + rng.randint(10, 600)
            extra += (
                f',\n{pad} "edited": "{time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(edit))}",'
                f'\n{pad} "edited_unixtime": "{edit}"'
            )
        if rng.random() < 0.08:
            extra += f',\n{pad} "reply_to_message_id": {max(1, self.mid - rng.randint(1, 20))}'
        if rng.random() < 0.03:
            extra += f',\n{pad} "forwarded_from": {q(rng.choice(PEOPLE)[0])}'
        if rng.random() < 0.05:
            extra += (
                f',\n{pad} "photo": "(File not included. Change data exporting settings to '
                f'download.)",\n{pad} "width": 1280,\n{pad} "height": 960'
            )
        elif rng.random() < 0.01:
            extra += (
                f',\n{pad} "file": "(File exceeds maximum size. Change data exporting '
                f'settings to download.)",\n{pad} "mime_type": "application/pdf"'
            )
        if rng.random() < 0.2:
            a, b = self.words(1, 8), self.words(1, 8)
            parts = [
                (None, a + " "),
                rng.choice(
                    [
                        ("phone", "+44 7700 900123"),
                        ("link", "https://example.org/x"),
                        ("bold", "NOW"),
                        ("mention", "@sam"),
                    ]
                ),
                (None, " " + b),
            ]
            inner = pad + "  "
            text = (
                "[\n"
                + ",\n".join(
                    f"{inner}{q(t)}"
                    if k is None
                    else f'{inner}{{\n{inner} "type": "{k}",\n{inner} "text": {q(t)}\n{inner}}}'
                    for k, t in parts
                )
                + f"\n{pad} ]"
            )
            ents = (
                "[\n"
                + ",\n".join(
                    f'{inner}{{\n{inner} "type": "{k or "plain"}",\n{inner} "text": {q(t)}\n'
                    f"{inner}}}"
                    for k, t in parts
                )
                + f"\n{pad} ]"
            )
        else:
            body = self.words(1, 30)
            if rng.random() < 0.1:
                body += "\n" + self.words(1, 10)
            text = q(body)
            ents = (
                f'[\n{pad}  {{\n{pad}   "type": "plain",\n{pad}   "text": {q(body)}\n{pad}  }}\n'
                f"{pad} ]"
            )
        return (
            f'{{\n{pad} "id": {self.mid},\n{pad} "type": "message",\n{pad} "date": "{date}",\n'
            f'{pad} "date_unixtime": "{unix}",\n{pad} "from": {q(name)},\n{pad} "from_id": '
            f'"user{uid}"{extra},\n{pad} "text": {text},\n{pad} "text_entities": {ents}\n{pad}}}'
        )


CHATS = [
    ("Sam", "personal_chat", 7001, [("Sam", 7001), ("Alex", ME)]),
    ("Family", "private_group", 4242, PEOPLE),
    ("Neighbours", "private_supergroup", 1234567890, PEOPLE),
    (None, "saved_messages", ME, [("Alex", ME)]),
]


def generate(path: Path, size: int, seed: int = 3) -> int:
    """Write a whole-account export of about ``size`` bytes; returns the number of messages."""
    rng = random.Random(seed)
    w = Writer(rng)
    count = 0
    with path.open("w", encoding="utf-8") as f:
        f.write(
            '{\n "about": "Here is the data you requested.",\n "personal_information": {\n'
            f'  "user_id": {ME},\n  "first_name": "Alex",\n  "last_name": "",\n'
            '  "phone_number": "+44 7700 900000"\n },\n "contacts": {\n  "about": "Contacts.",\n'
            '  "list": [\n'
            + ",\n".join(
                f'   {{\n    "user_id": {uid},\n    "first_name": {q(n)},\n    "last_name": "",'
                f'\n    "phone_number": "+44 7700 9{uid:05d}"\n   }}'
                for n, uid in PEOPLE
            )
            + '\n  ]\n },\n "chats": {\n  "about": "Chats.",\n  "list": ['
        )
        budget = int(size * 0.92)
        per_chat = budget // len(CHATS)
        for c, (name, kind, cid, members) in enumerate(CHATS):
            head = f"{',' if c else ''}\n   {{\n" + (f'    "name": {q(name)},\n' if name else "")
            f.write(head + f'    "type": "{kind}",\n    "id": {cid},\n    "messages": [')
            end = f.tell() + per_chat
            first = True
            while f.tell() < end:
                f.write(("\n     " if first else ",\n     ") + w.message(members))
                first = False
                count += 1
            f.write("\n    ]\n   }")
        f.write(
            '\n  ]\n },\n "left_chats": {\n  "about": "Left chats.",\n  "list": [\n   {\n'
            '    "name": "Local news",\n    "type": "public_channel",\n    "id": 555,\n'
            '    "messages": ['
        )
        first = True
        while f.tell() < size:
            f.write(("\n     " if first else ",\n     ") + w.message([("Local news", 555)]))
            first = False
            count += 1
        f.write("\n    ]\n   }\n  ]\n }\n}\n")
    return count


# --- children ------------------------------------------------------------------------------------

PEAK = """
import resource
def PEAK():
    hwm = 0
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            hwm = int(line.split()[1]) * 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024, hwm
"""

CHILD_JSON_LOAD = """
import json, sys, time
t = time.perf_counter()
with open(sys.argv[1], encoding="utf-8") as f:
    doc = json.load(f)
n = 0
for section in ("chats", "left_chats"):
    for chat in doc.get(section, {}).get("list", []):
        for m in chat["messages"]:
            n += m["text"] is not None
s = time.perf_counter() - t
print(n, s, *PEAK())
"""

CHILD_IJSON = """
import sys, time, ijson
assert ijson.backend == "yajl2_c", ijson.backend
t = time.perf_counter()
n = 0
for prefix in ("chats.list.item.messages.item", "left_chats.list.item.messages.item"):
    with open(sys.argv[1], "rb") as f:
        for m in ijson.items(f, prefix):
            n += 1
s = time.perf_counter() - t
print(n, s, *PEAK())
"""

CHILD_PARSE = """
import sys, time
from pathlib import Path
from docket.importers.base import Context, Item, Source
from docket.importers.telegram import Telegram
t = time.perf_counter()
n = 0
for x in Telegram().parse(Source(Path(sys.argv[1])), Context(name="result.json")):
    n += isinstance(x, Item)
s = time.perf_counter() - t
print(n, s, *PEAK())
"""

CHILD_IMPORT = """
import sys, time
from pathlib import Path
from docket.api import Diary
with Diary.create(Path(sys.argv[2]), "benchmark passphrase") as d:
    t = time.perf_counter()
    s = d.import_file(Path(sys.argv[1]), format="telegram")
    el = time.perf_counter() - t
print(s.added + s.duplicates, el, *PEAK())
"""


def child(code: str, *args: object) -> tuple[int, float, int, int]:
    proc = subprocess.run(
        [sys.executable, "-c", PEAK + code, *map(str, args)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT / "src")},
    )
    if proc.returncode != 0:
        raise SystemExit(f"child failed:\n{proc.stderr[-3000:]}")
    n, secs, maxrss, hwm = proc.stdout.split()[-4:]
    return int(n), float(secs), int(maxrss), int(hwm)


def mb(n: float) -> str:
    return f"{n / 1e6:,.0f} MB"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--bytes", type=int, default=500_000_000, help="size of the export")
    ap.add_argument("--workdir", type=Path, default=Path(tempfile.gettempdir()))
    ap.add_argument("--skip-import", action="store_true", help="measure parsing only")
    args = ap.parse_args()
    started = time.perf_counter()
    rows: list[tuple[str, int, float, int, int, int]] = []
    with tempfile.TemporaryDirectory(dir=args.workdir) as tmp:
        work = Path(tmp)
        full, quarter = work / "result.json", work / "quarter" / "result.json"
        quarter.parent.mkdir()
        print("Generating files …", file=sys.stderr)
        n_full = generate(full, args.bytes)
        n_quarter = generate(quarter, args.bytes // 4)
        sizes = {full: full.stat().st_size, quarter: quarter.stat().st_size}

        def run(label: str, path: Path, code: str, *extra: object) -> tuple[int, float, int, int]:
            print(f"  {label} …", file=sys.stderr)
            result = child(code, path, *extra)
            rows.append((label, sizes[path], *result))
            return result

        base = run("json.load + iterate", full, CHILD_JSON_LOAD)
        floor = run("ijson.items (C) alone", full, CHILD_IJSON)
        parse = run("docket parse", full, CHILD_PARSE)
        parse_q = run("docket parse, 1/4 size", quarter, CHILD_PARSE)
        imp = imp_q = None
        if not args.skip_import:
            imp = run("docket import", full, CHILD_IMPORT, work / "a.docket")
            imp_q = run("docket import, 1/4 size", quarter, CHILD_IMPORT, work / "b.docket")

    print(
        f"\nTelegram import benchmark ({os.cpu_count()} cores; "
        f"{time.perf_counter() - started:,.0f} s in all)"
    )
    print(
        f"  result.json: {mb(sizes[full])}, {n_full:,} messages; quarter: "
        f"{mb(sizes[quarter])}, {n_quarter:,} messages"
    )
    print(
        f"  {'run':26} {'file':>8} {'items':>10} {'seconds':>8} {'MB/s':>7} {'items/s':>9} "
        f"{'peak RSS':>9} {'VmHWM':>9}"
    )
    for label, size, n, secs, maxrss, hwm in rows:
        print(
            f"  {label:26} {mb(size):>8} {n:10,} {secs:8.1f} {size / secs / 1e6:7.1f} "
            f"{n / secs:9,.0f} {mb(maxrss):>9} {mb(hwm):>9}"
        )
    print("\n  Ratios")
    print(f"  docket parse time / json.load time      {parse[1] / base[1]:6.2f}")
    print(f"  docket parse time / ijson floor time    {parse[1] / floor[1]:6.2f}")
    if imp is not None:
        print(f"  docket import time / docket parse time  {imp[1] / parse[1]:6.2f}")
        print(f"  docket import time / json.load time     {imp[1] / base[1]:6.2f}")
    print(f"  json.load peak RSS / docket parse peak  {base[2] / parse[2]:6.1f}")
    print("\n  Peak RSS at full size and at a quarter (should not grow with the file)")
    print(f"  parse:  {mb(parse[2])} / {mb(parse_q[2])}")
    if imp is not None and imp_q is not None:
        print(f"  import: {mb(imp[2])} / {mb(imp_q[2])}")
    counts = {base[0], floor[0], parse[0], n_full}
    print(
        f"\n  Counts agree: {len(counts) == 1} ({base[0]:,} json.load, {floor[0]:,} ijson, "
        f"{parse[0]:,} docket, {n_full:,} written)"
    )
    print(f"\nReproduce: .venv/bin/python bench/bench_telegram.py --bytes {args.bytes}")


if __name__ == "__main__":
    main()
