#!/usr/bin/env bash
# Install Docket into .venv and open your diary (it is created the first time).
# The diary lives at ~/.local/share/docket/diary.docket unless DOCKET_DIARY says otherwise.
source "$(dirname "${BASH_SOURCE[0]}")/bootstrap.sh"
"$VENV/bin/python" -m pip install --quiet --disable-pip-version-check "$ROOT"
exec "$VENV/bin/docket" start "$@"
