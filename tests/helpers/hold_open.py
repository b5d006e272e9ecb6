"""Hold a diary open in the middle of a write transaction that contains MARKER, until told
to go on (a line on stdin); then commit and exit.

Usage: python -m tests.helpers.hold_open DIARY MARKER"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from docket import records
from docket.api import Diary
from docket.model import forms
from docket.model.forms import IncidentInput


def main() -> None:
    path, marker = Path(sys.argv[1]), sys.argv[2]
    with Diary.open(path, os.environ["DOCKET_PASSPHRASE"]) as diary, diary._file.write() as conn:
        for i in range(50):
            data = forms.apply(
                IncidentInput(
                    category="THR", occurred="now", description=f"open {marker} {i}" * 20
                ),
                diary.timezone,
            )
            records.create_incident(conn, data)
        print("READY", flush=True)
        sys.stdin.readline()
    print("DONE", flush=True)


if __name__ == "__main__":
    main()
