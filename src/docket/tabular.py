"""The timeline as a table for analysts: incidents and imported messages and calls, one row
each, written as CSV, JSON or JSON Lines, streamed page by page so memory stays flat however
large the diary. Private notes are left out unless asked for; places marked private are
shown as "[a private place]" unless asked for."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from docket import outfiles, timeline
from docket.errors import InputError

if TYPE_CHECKING:
    from docket.api import Diary, TimelineEntry

COLUMNS = (
    "when_utc",
    "type",
    "id",
    "category",
    "channel",
    "direction",
    "person",
    "sender",
    "text",
    "exact_words",
    "place",
    "effect",
    "reported",
    "files",
    "source",
    "recorded_at",
    "private_notes",
)
PAGE = 500


def _row(e: TimelineEntry, diary: Diary, private: bool) -> dict[str, Any]:
    if e.incident is not None and e.incident.data is not None:
        d = e.incident.data
        cat = diary.jurisdiction.category(d.category)
        place = ""
        if d.place:
            place = d.place.text if (private or not d.place.private) else "[a private place]"
        return {
            "when_utc": e.incident.occurred_start,
            "type": "incident",
            "id": e.incident.id,
            "category": cat.name if cat else d.category,
            "channel": d.channel or "",
            "direction": "",
            "person": ", ".join(str(p) for p in d.people),
            "sender": "",
            "text": d.description,
            "exact_words": d.exact_words,
            "place": place,
            "effect": ", ".join(d.effect.labels()),
            "reported": "; ".join(
                " ".join(x for x in (r.to, r.reference) if x) for r in d.reported
            ),
            "files": " ".join(a.sha256 for a in e.incident.attachments if not a.redacted),
            "source": "",
            "recorded_at": e.incident.recorded_at,
            "private_notes": d.private_notes if private else "",
        }
    m = e.message
    assert m is not None
    return {
        "when_utc": m.sent_at or "",
        "type": m.kind,
        "id": m.id,
        "category": "",
        "channel": timeline.CHANNEL_LABELS.get(m.channel, m.channel),
        "direction": m.direction,
        "person": "" if m.person_id is None else str(m.person_id),
        "sender": m.sender_raw or "",
        "text": (m.call_type or "call") if m.kind == "call" else (m.body or ""),
        "exact_words": "",
        "place": "",
        "effect": "",
        "reported": "",
        "files": " ".join(a.get("sha256") or "" for a in m.attachments).strip(),
        "source": f"source {m.source_id}, {m.locator}".strip(", "),
        "recorded_at": "",
        "private_notes": "",
    }


def rows(diary: Diary, f: timeline.TimelineFilter, *, private: bool) -> Iterator[dict[str, Any]]:
    """Every matching row, newest first, a page at a time."""
    cursor = f.before
    while True:
        page = diary.timeline(
            timeline.TimelineFilter(
                person_id=f.person_id,
                category=f.category,
                channel=f.channel,
                start_utc=f.start_utc,
                end_utc=f.end_utc,
                before=cursor,
                limit=PAGE,
            )
        )
        for e in page:
            if e.incident is not None and e.incident.data is None:
                continue
            yield _row(e, diary, private)
        if len(page) < PAGE:
            return
        last = page[-1].row
        cursor = (last.when, last.kind, last.id)


def write(diary: Diary, out: Path, f: timeline.TimelineFilter, *, private: bool) -> int:
    """Write the table to ``out`` (.csv, .json or .jsonl), atomically and readable only by the
    user; returns the number of rows."""
    kind = out.suffix.lower()
    if kind not in (".csv", ".json", ".jsonl"):
        raise InputError(
            f"Docket cannot tell what kind of table {out.name!r} should be.",
            hint="End the file name with .csv, .json or .jsonl.",
        )
    n = 0
    with outfiles.private_file(out) as raw:
        fh = io.TextIOWrapper(raw, encoding="utf-8", newline="")
        if kind == ".csv":
            w = csv.DictWriter(fh, fieldnames=COLUMNS)
            w.writeheader()
            for row in rows(diary, f, private=private):
                w.writerow(row)
                n += 1
        else:
            if kind == ".json":
                fh.write("[\n")
            for row in rows(diary, f, private=private):
                text = json.dumps(row, ensure_ascii=False, sort_keys=True)
                if kind == ".json":
                    fh.write(("" if n == 0 else ",\n") + text)
                else:
                    fh.write(text + "\n")
                n += 1
            if kind == ".json":
                fh.write("\n]\n")
        fh.flush()
        fh.detach()
    return n
