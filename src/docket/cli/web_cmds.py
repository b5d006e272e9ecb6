"""``docket serve``: the local web app on 127.0.0.1, opened in the browser."""

from __future__ import annotations

import shutil
import socket
import tempfile
import threading
import webbrowser
from pathlib import Path

import click

from docket.cli import render
from docket.cli.state import State, pass_state
from docket.web.state import WebSettings


def register(cli: click.Group) -> None:
    cli.add_command(serve)


@click.command()
@click.option("--demo", is_flag=True, help="Open a demo diary of made-up entries instead of yours.")
@click.option(
    "--port", type=click.IntRange(0, 65535), default=0, help="Port (default: any free one)."
)
@click.option("--no-browser", is_flag=True, help="Do not open the browser; print the address.")
@click.option("--idle-minutes", help="Lock after this many minutes without use (default 10).")
@click.option("--exit-url", help="Where quick exit goes (default https://www.bbc.co.uk/weather).")
@pass_state
def serve(
    state: State,
    demo: bool,
    port: int,
    no_browser: bool,
    idle_minutes: str | None,
    exit_url: str | None,
) -> None:
    """Open Docket in your web browser (on this computer only, at 127.0.0.1).

    The first time, it asks you to choose a passphrase and creates your diary. Press Ctrl+C
    here to stop it; the diary is locked when it stops.
    """
    import uvicorn

    from docket.web import demo as demo_diary
    from docket.web.app import create_app

    s = state.settings
    if idle_minutes is not None or exit_url is not None:
        from dataclasses import replace

        s = replace(
            s,
            idle_minutes=idle_minutes or s.idle_minutes,
            exit_url=exit_url or s.exit_url,
        )
    workdir: Path | None = None
    diary_path, demo_passphrase = s.diary, None
    if demo:
        workdir = Path(tempfile.mkdtemp(prefix="docket-demo-"))
        diary_path = workdir / "demo.docket"
        render.err.print("Making the demo diary (made-up entries)…")
        demo_passphrase = demo_diary.build(diary_path)
    settings = WebSettings(
        diary=diary_path,
        jurisdiction=s.jurisdiction,
        timezone=s.timezone,
        region=s.region,
        idle_minutes=s.idle(),
        exit_url=s.exit_address(),
        demo_passphrase=demo_passphrase,
    )
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(("127.0.0.1", port))
    except OSError as exc:
        raise click.ClickException(
            f"Port {port} on 127.0.0.1 is in use ({exc.strerror}). Choose another with --port, "
            "or leave it out to use any free port."
        ) from exc
    port = sock.getsockname()[1]
    url = f"http://127.0.0.1:{port}/"
    app = create_app(settings, port=port)
    config = uvicorn.Config(
        app, log_level="warning", access_log=False, server_header=False, date_header=False
    )
    server = uvicorn.Server(config)
    render.err.print(f"Docket is open at {url} (this computer only). Press Ctrl+C to stop.")
    if demo_passphrase:
        render.err.print(f"The demo diary's passphrase is: {demo_passphrase}")
    if not no_browser:
        threading.Timer(0.8, webbrowser.open, args=(url,)).start()
    try:
        server.run(sockets=[sock])
    finally:
        sock.close()
        if workdir is not None:
            shutil.rmtree(workdir, ignore_errors=True)
