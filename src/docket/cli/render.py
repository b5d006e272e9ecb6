"""Output for people (Rich, calm and plain) and for scripts (--json), and the safety footer."""

from __future__ import annotations

import json
import sys
from typing import Any

import click
from rich.console import Console
from rich.markup import escape

from docket.jurisdictions import Jurisdiction

out = Console(highlight=False, soft_wrap=False)
err = Console(stderr=True, highlight=False)


def emit_json(value: Any) -> None:
    sys.stdout.write(json.dumps(value, ensure_ascii=False, indent=2, sort_keys=True) + "\n")


def text(value: str) -> str:
    """Escape user text so that square brackets in a diary entry are never read as markup."""
    return escape(value)


def footer(j: Jurisdiction) -> None:
    out.print(f"\n[dim]{text(j.safety_footer())}[/dim]")


def local_time(rfc3339: str, tz: str) -> str:
    from datetime import datetime

    from docket.model.timeparse import zone

    value = datetime.fromisoformat(rfc3339.replace("Z", "+00:00")).astimezone(zone(tz))
    return value.strftime("%a %d %b %Y, %H:%M")


def human_size(n: int) -> str:
    size = float(n)
    for unit in ("bytes", "KB", "MB", "GB"):
        if size < 1024 or unit == "GB":
            return f"{int(size)} {unit}" if unit == "bytes" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{n} bytes"  # pragma: no cover


def plural(n: int, word: str, many: str | None = None) -> str:
    return f"{n} {word if n == 1 else (many or word + 's')}"


def confirm(question: str, assume_yes: bool) -> bool:
    if assume_yes:
        return True
    if not sys.stdin.isatty():
        return False
    return click.confirm(question, default=False, err=True)
