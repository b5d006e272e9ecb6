#!/usr/bin/env bash
# Install Docket into .venv and open it in your web browser, on this computer only.
# The first time, it asks for a passphrase and creates your diary at
# ~/.local/share/docket/diary.docket (DOCKET_DIARY chooses another file).
# Add --demo to look around a diary of made-up entries instead.
source "$(dirname "${BASH_SOURCE[0]}")/bootstrap.sh"
# WeasyPrint draws PDF reports with pango and these fonts
apt_install libpango-1.0-0 libpangoft2-1.0-0 fonts-dejavu-core
"$VENV/bin/python" -m pip install --quiet --disable-pip-version-check "$ROOT"
exec "$VENV/bin/docket" serve "$@"
