"""Benchmark of the mbox importer against Python's own ``mailbox`` module, on the same file in
the same run. Prints figures and ratios; asserts nothing.

File (generated, seeded, in a temporary folder): a Gmail-Takeout-style mbox of about N bytes
(default 1 GB; ``--bytes``): "From <id>@xxx" separators, Received chains, DKIM signatures and
Gmail labels; plain and multipart/alternative messages; RFC 2047 subjects and names; bodies in
UTF-8 (8-bit and quoted-printable), ISO-8859-1, Windows-1252, KOI8-R (base64) and ISO-2022-JP;
"From " lines inside bodies (quoted as ">From "); and one message in sixteen with one or two
attachments (photos and documents of 20 KB to 4 MB), plus the same at a quarter of the size.

Measured, each in its own child process (peak RSS from ``resource.getrusage`` in the child;
the parent only streams the file to disk, so its own small peak does not distort the
child's):
- baseline: ``mailbox.mbox``, iterating over every message and decoding every part's
  payload (``get_payload(decode=True)``);
- Docket's mbox parser alone, reading every attachment's bytes (so it decodes as much);
- a full import into a new diary through ``docket.api.Diary`` (parse, encrypt, store, index,
  log), on the file and on the quarter-size file, to show whether peak RSS grows with size.

Usage: .venv/bin/python bench/bench_mbox.py [--bytes N] [--workdir DIR] [--skip-import]
"""

from __future__ import annotations

import argparse
import base64
import os
import quopri
import random
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from email.header import Header
from email.utils import format_datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_import import child, mb

TEXT = [
    "where",
    "are",
    "you",
    "why",
    "won't",
    "you",
    "answer",
    "I",
    "saw",
    "you",
    "today",
    "at",
    "the",
    "station",
    "you",
    "looked",
    "tired",
    "call",
    "me",
    "back",
    "now",
    "I",
    "know",
    "you",
    "are",
    "home",
    "the",
    "lights",
    "are",
    "on",
    "please",
    "just",
    "talk",
    "to",
    "me",
    "it",
    "is",
    "not",
    "fair",
    "I",
    "only",
    "want",
    "to",
    "see",
    "you",
    "again",
    "you",
    "cannot",
    "ignore",
    "me",
    "forever",
]
PEOPLE = [
    ("Sam Example", "sam@example.com"),
    ("Alex Smith", "alex.smith@example.org"),
    ("Zoë Brontë", "zoe@example.net"),
    ("Dr. Lee", "lee@clinic.example"),
    ("Priya", "priya@example.co.uk"),
    ("", "no-reply@service.example"),
]
CHARSETS = ["utf-8-8bit", "utf-8-qp", "iso-8859-1", "windows-1252", "koi8-r", "iso-2022-jp"]
LABELS = ["Inbox", "Opened", "Important", '"Category Personal"', "Sent", "Archived"]


# --- the generator ----------------------------------------------------------------------------


def _words(rng: random.Random, n: int) -> str:
    return " ".join(rng.choices(TEXT, k=n))


def _body(rng: random.Random) -> str:
    lines = []
    for _ in range(rng.randint(2, 30)):
        lines.append(_words(rng, rng.randint(3, 14)))
        if rng.random() < 0.03:
            lines.append(">From Monday on I'll be outside your door")  # quoted, as Gmail does
    return "\n".join(lines)


def _text_part(rng: random.Random, body: str) -> bytes:
    kind = rng.choice(CHARSETS)
    if kind == "utf-8-8bit":
        text = body + " — naïve café 😡"
        return (
            b"Content-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: 8bit\n\n"
            + text.encode()
            + b"\n"
        )
    if kind == "utf-8-qp":
        encoded = quopri.encodestring((body + " — déjà vu").encode())
        return (
            b"Content-Type: text/plain; charset=utf-8\n"
            b"Content-Transfer-Encoding: quoted-printable\n\n" + encoded + b"\n"
        )
    if kind in ("iso-8859-1", "windows-1252"):
        text = body + (" “quoted” €5" if kind == "windows-1252" else " café")
        return (
            f"Content-Type: text/plain; charset={kind}\n".encode()
            + b"Content-Transfer-Encoding: 8bit\n\n"
            + text.encode(kind)
            + b"\n"
        )
    if kind == "koi8-r":
        data = base64.encodebytes(("Привет. " + body).encode("koi8-r"))
        return (
            b"Content-Type: text/plain; charset=koi8-r\nContent-Transfer-Encoding: base64\n\n"
            + data
        )
    data = ("日本語のテスト " + body).encode("iso2022_jp")
    return (
        b"Content-Type: text/plain; charset=ISO-2022-JP\nContent-Transfer-Encoding: 7bit\n\n"
        + data
        + b"\n"
    )


def _attachment_pool(rng: random.Random) -> list[tuple[str, str, bytes]]:
    """Encoded attachments to reuse: (name, type, base64 text)."""
    pool = []
    for i, size in enumerate((20_000, 80_000, 250_000, 600_000, 1_500_000, 4_000_000)):
        data = rng.randbytes(size)
        kind, name = (
            ("image/jpeg", f"IMG_{1000 + i}.jpg")
            if i % 2
            else ("application/pdf", f"letter-{i}.pdf")
        )
        pool.append((name, kind, base64.encodebytes(data)))
    return pool


def message(
    rng: random.Random, n: int, when: datetime, pool: list[tuple[str, str, bytes]]
) -> bytes:
    sender, recipient = rng.sample(PEOPLE, 2)
    subject = f"Re: {_words(rng, rng.randint(2, 8))} #{n}"
    if rng.random() < 0.3:
        subject = Header(subject + " — ça va ? 😡", "utf-8").encode()
    name = sender[0]
    if name and rng.random() < 0.3:
        name = Header(name, "utf-8").encode()
    elif name:
        name = f'"{name}"'
    from_line = f"From: {name} <{sender[1]}>\n" if name else f"From: {sender[1]}\n"
    thread = rng.randrange(n // 3 + 1)
    date = format_datetime(when)
    references = (
        f"In-Reply-To: <{thread}.0@mail.example.com>\nReferences: <{thread}.0@mail.example.com>\n"
        if thread != n
        else ""
    )
    head = (
        f"From 18{n:017d}@xxx\n"
        f"X-GM-THRID: 17{thread:017d}\n"
        f"X-Gmail-Labels: {','.join(rng.sample(LABELS, rng.randint(1, 3)))}\n"
        "Delivered-To: alex.smith@example.org\n"
        f"Received: by 2002:a05:6a10:{n % 9999:x} with SMTP id x{n}; {date}\n"
        f"Received: from mail-{n % 97}.example.net\n"
        f"        (mail-{n % 97}.example.net [192.0.2.{n % 250}])\n"
        f"        by mx.google.com with ESMTPS id y{n}\n"
        f"        for <{recipient[1]}>; {date}\n"
        "DKIM-Signature: v=1; a=rsa-sha256; c=relaxed/relaxed; d=example.com; s=20230601;\n"
        "        h=to:subject:message-id:date:from:mime-version:from:to:cc:subject;\n"
        f"        bh={base64.b64encode(rng.randbytes(32)).decode()};\n"
        f"        b={base64.b64encode(rng.randbytes(180)).decode()}\n"
        + from_line
        + f"To: {recipient[0]} <{recipient[1]}>\n"
        f"Subject: {subject}\n"
        f"Date: {date}\n"
        f"Message-ID: <{n}.{rng.getrandbits(40):x}@mail.example.com>\n"
        + references
        + "MIME-Version: 1.0\n"
    ).encode()
    body = _body(rng)
    r = rng.random()
    if r < 1 / 16:
        chosen = rng.sample(pool[:5] if rng.random() < 0.9 else pool, rng.randint(1, 2))
        files = b"".join(
            f'--mixed{n}\nContent-Type: {kind}; name="{fname}"\n'
            f'Content-Disposition: attachment; filename="{fname}"\n'
            "Content-Transfer-Encoding: base64\n\n".encode()
            + data
            for fname, kind, data in chosen
        )
        return (
            head
            + f'Content-Type: multipart/mixed; boundary="mixed{n}"\n\n--mixed{n}\n'.encode()
            + _text_part(rng, body)
            + files
            + f"--mixed{n}--\n\n".encode()
        )
    if r < 0.35:
        html = "".join(f"<p>{line}</p>" for line in body.split("\n"))
        return (
            head
            + f'Content-Type: multipart/alternative; boundary="alt{n}"\n\n--alt{n}\n'.encode()
            + _text_part(rng, body)
            + f"--alt{n}\nContent-Type: text/html; charset=utf-8\n\n"
            f'<div dir="ltr">{html}</div>\n--alt{n}--\n\n'.encode()
        )
    return head + _text_part(rng, body) + b"\n"


def gen_mbox(path: Path, size: int, seed: int = 7) -> int:
    """Write about ``size`` bytes; returns the number of messages."""
    rng = random.Random(seed)
    pool = _attachment_pool(rng)
    when = datetime(2023, 1, 1, tzinfo=UTC)
    n = 0
    with path.open("wb") as f:
        while f.tell() < size:
            when += timedelta(seconds=rng.randint(30, 7200))
            f.write(message(rng, n, when, pool))
            n += 1
    return n


# --- children --------------------------------------------------------------------------------

CHILD_MAILBOX = """
import mailbox, resource, sys, time
t = time.perf_counter()
n = 0
for msg in mailbox.mbox(sys.argv[1], create=False):
    n += 1
    for part in msg.walk():
        part.get_payload(decode=True)
s = time.perf_counter() - t
print(n, s, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024)
"""

CHILD_PARSE = """
import resource, sys, time
from pathlib import Path
from docket.importers.base import Context, Item, Source
from docket.importers.email_mbox import Mbox
t = time.perf_counter()
n = 0
for x in Mbox().parse(Source(Path(sys.argv[1])), Context(name="bench.mbox")):
    if isinstance(x, Item):
        n += 1
        for a in x.attachments:
            if a.chunks is not None:
                for _ in a.chunks():
                    pass
s = time.perf_counter() - t
print(n, s, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024)
"""

CHILD_IMPORT = """
import resource, sys, time
from pathlib import Path
from docket.api import Diary
with Diary.create(Path(sys.argv[2]), "benchmark passphrase") as d:
    t = time.perf_counter()
    s = d.import_file(Path(sys.argv[1]), format="mbox")
    el = time.perf_counter() - t
print(s.added + s.duplicates, el, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024)
"""


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--bytes", type=int, default=1_000_000_000, help="size of the mbox")
    ap.add_argument("--workdir", type=Path, default=Path(tempfile.gettempdir()))
    ap.add_argument("--skip-import", action="store_true", help="measure parsing only")
    args = ap.parse_args()
    started = time.perf_counter()
    rows: list[tuple[str, int, int, float, int]] = []
    me = sys.executable
    with tempfile.TemporaryDirectory(dir=args.workdir) as tmp:
        work = Path(tmp)
        full, quarter = work / "mail.mbox", work / "mail-quarter.mbox"
        print("Generating files …", file=sys.stderr)
        count = gen_mbox(full, args.bytes)
        gen_mbox(quarter, args.bytes // 4)
        sizes = {p: p.stat().st_size for p in (full, quarter)}

        def run(label: str, code: str, path: Path, *extra: object) -> tuple[int, float, int]:
            print(f"  {label} …", file=sys.stderr)
            n, secs, rss = child(me, code, path, *extra)
            rows.append((label, sizes[path], n, secs, rss))
            return n, secs, rss

        base = run("mailbox.mbox (baseline)", CHILD_MAILBOX, full)
        parse = run("docket parse", CHILD_PARSE, full)
        base_q = run("mailbox.mbox, 1/4", CHILD_MAILBOX, quarter)
        parse_q = run("docket parse, 1/4", CHILD_PARSE, quarter)
        imp = imp_q = None
        if not args.skip_import:
            imp = run("docket import", CHILD_IMPORT, full, work / "a.docket")
            imp_q = run("docket import, 1/4", CHILD_IMPORT, quarter, work / "b.docket")

    print(f"\nmbox benchmark ({os.cpu_count()} cores; {time.perf_counter() - started:,.0f} s)")
    print(f"  file: {mb(sizes[full])}, {count:,} messages; quarter: {mb(sizes[quarter])}")
    columns = (
        ("size", 9),
        ("messages", 9),
        ("seconds", 8),
        ("MB/s", 7),
        ("msg/s", 8),
        ("peak RSS", 9),
    )
    print(f"  {'run':26} " + " ".join(f"{name:>{width}}" for name, width in columns))
    for label, size, n, secs, rss in rows:
        print(
            f"  {label:26} {mb(size):>9} {n:9,} {secs:8.1f} {size / 1e6 / secs:7.1f} "
            f"{n / secs:8,.0f} {mb(rss):>9}"
        )
    print("\n  Ratios against mailbox.mbox (time: higher is faster for Docket; RSS: lower is less)")
    print(f"  parse time   {base[1] / parse[1]:6.2f}   (1/4 size: {base_q[1] / parse_q[1]:.2f})")
    print(f"  parse RSS    {parse[2] / base[2]:6.2f}   (1/4 size: {parse_q[2] / base_q[2]:.2f})")
    if imp is not None and imp_q is not None:
        print(f"  import time  {base[1] / imp[1]:6.2f}")
        print(f"  import RSS   {imp[2] / base[2]:6.2f}")
        print(f"\n  Import peak RSS: {mb(imp[2])} (full file), {mb(imp_q[2])} (a quarter)")
    print(f"  Parse peak RSS:  {mb(parse[2])} (full file), {mb(parse_q[2])} (a quarter)")
    print(f"  Counts agree: mailbox {base[0]:,}, docket {parse[0]:,}, generated {count:,}")
    print(f"\nReproduce: .venv/bin/python bench/bench_mbox.py --bytes {args.bytes}")


if __name__ == "__main__":
    main()
