"""A writer process for the crash tests: it writes and prints ACK after each committed write,
until it is killed. Usage: python -m tests.helpers.writer MODE DIARY ARG"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from docket.api import Diary
from docket.model.forms import IncidentInput


def main() -> None:
    mode, path, arg = sys.argv[1], Path(sys.argv[2]), sys.argv[3]
    passphrase = os.environ["DOCKET_PASSPHRASE"]
    diary = Diary.open(path, passphrase)
    if mode == "incidents":
        i = 0
        while True:
            v = diary.add_incident(
                IncidentInput(
                    category="CON",
                    occurred="01/11/2026 10:00",
                    description=f"{arg}-{i}",
                    tags=[f"t{i}"],
                    witnesses=[f"W {i}"],
                    effects=["distress"],
                    private_notes="n" * (i % 500),
                )
            )
            if i % 7 == 3:
                diary.edit_incident(v.id, IncidentInput(description=f"{arg}-{i}-edited"), "e")
                print(f"ACK {v.id} {arg}-{i}-edited", flush=True)
            else:
                print(f"ACK {v.id} {arg}-{i}", flush=True)
            i += 1
    elif mode == "attach":
        v = diary.attach(Path(arg), incident_id=None)
        print(f"ACK {v.id} {v.sha256}", flush=True)
    elif mode == "rekey":
        diary.change_passphrase(arg)
        print("ACK rekey", flush=True)
    diary.close()


if __name__ == "__main__":
    main()
