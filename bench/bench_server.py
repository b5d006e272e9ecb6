"""Server mode under load: caseworkers browsing the timelines of large cases, at once.

Starts its own PostgreSQL on 127.0.0.1 (a throwaway cluster, removed at the end), makes the
server's tables, ``--caseworkers`` caseworker accounts and ``--cases`` cases of
``--messages`` imported WhatsApp messages each (one generated chat, imported into every case),
gives each caseworker one case, and runs the real server (``docket server serve``) in its own
process. Then a bounded Python client (one thread and one connection per caseworker) signs
every caseworker in and has each browse its case's timeline for ``--seconds``: the newest page,
older pages by following the page's own "Show older" link, and a word search. In the same run,
the same client fetches a static file from the same server with the same concurrency: the
baseline.

Prints p50 and p95 latency and throughput for both, and their ratios. Numbers only; nothing
is asserted.

    .venv/bin/python bench/bench_server.py                 # 50 caseworkers, 5 cases x 100,000
    .venv/bin/python bench/bench_server.py --quick         # 10 caseworkers, 2 cases x 5,000
"""

from __future__ import annotations

import argparse
import os
import re
import secrets
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from tests.helpers.postgres import running_cluster  # noqa: E402

from bench_import import gen_whatsapp  # noqa: E402

PASSWORD = "bench-caseworker-password"
MORE = re.compile(r'href="(/timeline\?[^"]*before=[^"]*)"')
CSRF = re.compile(r'name="csrf" value="([^"]+)"')
SEARCH_WORDS = ("meet", "tonight", "where", "call", "sorry", "home", "work", "see")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def setup(url: str, key: bytes, args: argparse.Namespace, work: Path) -> None:
    from docket.server import accounts, cases, db
    from docket.server.config import ServerSettings
    from docket.store import postgres

    engine = postgres.make_engine(url)
    db.migrate(engine, key)
    del ServerSettings
    chat = work / "chat.txt"
    gen_whatsapp(chat, args.messages)
    case_ids = []
    for n in range(args.cases):
        t0 = time.perf_counter()
        made = cases.create_case(engine, key, title=f"Bench case {n + 1}", created_by=None)
        diary = cases.open_case(engine, key, made.id)
        diary.import_file(chat, format="whatsapp")
        case_ids.append(made.id)
        print(
            f"  case {made.id}: {args.messages:,} messages imported in "
            f"{time.perf_counter() - t0:.1f} s",
            flush=True,
        )
    for i in range(args.caseworkers):
        account = accounts.add_account(
            engine,
            username=f"worker{i:03d}",
            password=PASSWORD,
            role="caseworker",
            display_name=f"Caseworker {i}",
        )
        cases.grant(engine, case_ids[i % len(case_ids)], account.id, granted_by=None)
    engine.dispose()


def sign_in(client: httpx.Client, username: str) -> None:
    page = client.get("/login")
    csrf = CSRF.search(page.text)
    assert csrf, page.text[:300]
    r = client.post(
        "/login",
        data={"csrf": csrf.group(1), "username": username, "password": PASSWORD},
        follow_redirects=True,
    )
    r.raise_for_status()
    page = client.get("/cases")
    opened = re.search(r'action="(/cases/\d+/open)"', page.text)
    assert opened, "no case listed"
    r = client.post(
        opened.group(1), data={"csrf": CSRF.search(page.text).group(1)}, follow_redirects=True
    )
    r.raise_for_status()


def browse(client: httpx.Client, until: float, times: list[float], errors: list[str]) -> None:
    rng = secrets.SystemRandom()
    next_url = "/timeline"
    while time.monotonic() < until:
        url = "/timeline?q=" + rng.choice(SEARCH_WORDS) if rng.random() < 0.15 else next_url
        t0 = time.perf_counter()
        r = client.get(url)
        times.append(time.perf_counter() - t0)
        if r.status_code != 200:
            errors.append(f"{r.status_code} {url}")
            next_url = "/timeline"
            continue
        more = MORE.search(r.text)
        next_url = more.group(1).replace("&amp;", "&") if more and url == next_url else "/timeline"


def static(client: httpx.Client, until: float, times: list[float], errors: list[str]) -> None:
    while time.monotonic() < until:
        t0 = time.perf_counter()
        r = client.get("/static/app.css")
        times.append(time.perf_counter() - t0)
        if r.status_code != 200:
            errors.append(str(r.status_code))


def run_load(base: str, users: list[str], seconds: float, work: str) -> tuple[list[float], int]:
    clients = [httpx.Client(base_url=base, timeout=120) for _ in users]
    for c, u in zip(clients, users, strict=True):
        sign_in(c, u)
    per: list[list[float]] = [[] for _ in users]
    errors: list[str] = []
    until = time.monotonic() + seconds
    target = browse if work == "timeline" else static
    threads = [
        threading.Thread(target=target, args=(c, until, per[i], errors))
        for i, c in enumerate(clients)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for c in clients:
        c.close()
    if errors:
        print(f"  {len(errors)} failed requests, e.g. {errors[:3]}")
    return [x for p in per for x in p], len(errors)


def report(name: str, times: list[float], seconds: float) -> tuple[float, float, float]:
    p50, p95 = pct(times, 0.50), pct(times, 0.95)
    rate = len(times) / seconds
    print(
        f"{name:<26} {len(times):>8,} requests  p50 {p50 * 1000:8.1f} ms  "
        f"p95 {p95 * 1000:8.1f} ms  {rate:8.1f} req/s  "
        f"(mean {statistics.fmean(times) * 1000:.1f} ms)"
    )
    return p50, p95, rate


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--caseworkers", type=int, default=50)
    ap.add_argument("--cases", type=int, default=5)
    ap.add_argument("--messages", type=int, default=100_000)
    ap.add_argument("--seconds", type=float, default=60.0)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--workdir", default=None)
    args = ap.parse_args()
    if args.quick:
        args.caseworkers, args.cases, args.messages, args.seconds = 10, 2, 5_000, 15.0

    with tempfile.TemporaryDirectory(dir=args.workdir) as tmp, running_cluster() as cluster:
        work = Path(tmp)
        url = cluster.create_database("bench")
        key = secrets.token_bytes(32)
        print(
            f"Setting up: {args.cases} cases of {args.messages:,} messages, "
            f"{args.caseworkers} caseworkers",
            flush=True,
        )
        setup(url, key, args, work)
        port = free_port()
        import base64

        config = work / "server.toml"
        config.write_text(
            f'database_url = "{url}"\nserver_key = "{base64.b64encode(key).decode()}"\n'
            f'port = {port}\nwork_dir = "{work}"\n'
            f"address_attempts_per_minute = 100000\n"
        )
        config.chmod(0o600)
        env = {**os.environ, "DOCKET_SERVER_CONFIG": str(config)}
        server = subprocess.Popen(
            [sys.executable, "-m", "docket", "server", "serve"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            start_new_session=True,
        )
        base = f"http://127.0.0.1:{port}"
        try:
            for _ in range(200):
                try:
                    if httpx.get(base + "/healthz", timeout=1).status_code == 200:
                        break
                except httpx.TransportError:
                    time.sleep(0.1)
            else:
                raise SystemExit("the server did not start: " + server.stderr.read(4000).decode())
            users = [f"worker{i:03d}" for i in range(args.caseworkers)]
            print(f"\n{args.caseworkers} concurrent clients, {args.seconds:.0f} s each run")
            timeline, _ = run_load(base, users, args.seconds, "timeline")
            baseline, _ = run_load(base, users, args.seconds, "static")
            t50, t95, trate = report("timeline browsing", timeline, args.seconds)
            s50, s95, srate = report("static page (baseline)", baseline, args.seconds)
            print(
                f"\nratio to the static page: p50 {t50 / s50:.2f}x, p95 {t95 / s95:.2f}x, "
                f"throughput {trate / srate:.2f}x"
            )
        finally:
            os.killpg(server.pid, signal.SIGTERM)
            server.wait(timeout=30)


if __name__ == "__main__":
    main()
