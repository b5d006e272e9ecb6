#!/usr/bin/env bash
# Install everything the tests need and run the whole suite: lint, format, types, tests.
# Used as-is by CI (.ci/run). Extra arguments go to pytest.
source "$(dirname "${BASH_SOURCE[0]}")/bootstrap.sh"
cd "$ROOT"
# openssl runs the local RFC 3161 timestamp authority the tests talk to on 127.0.0.1;
# chromium is the browser the web tests drive; npm fetches axe-core for accessibility checks;
# pango and DejaVu fonts are what WeasyPrint draws PDF reports with; poppler-utils (pdftoppm)
# turns report pages into images for the visual checks; postgresql is the server mode's
# database (the tests start their own throwaway cluster on 127.0.0.1 and stop it after)
apt_install openssl chromium fonts-dejavu-core libpango-1.0-0 libpangoft2-1.0-0 poppler-utils
if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
    apt_install postgresql
    # Debian's package may start a default cluster of its own; the tests do not use it
    command -v pg_lsclusters >/dev/null 2>&1 && pg_lsclusters --no-header 2>/dev/null \
        | while read -r ver name _; do as_root pg_ctlcluster "$ver" "$name" stop || true; done
fi
export DOCKET_REQUIRE_POSTGRES=1
command -v npm >/dev/null 2>&1 || apt_install nodejs npm
"$VENV/bin/python" -m pip install --quiet --disable-pip-version-check -e ".[test]"
AXE_DIR="${XDG_CACHE_HOME:-$HOME/.cache}/docket-test/node"
if [ ! -f "$AXE_DIR/node_modules/axe-core/axe.min.js" ]; then
    mkdir -p "$AXE_DIR"
    npm install --prefix "$AXE_DIR" --no-save --no-audit --no-fund --loglevel=error axe-core@4.14.1
fi
export DOCKET_AXE="$AXE_DIR/node_modules/axe-core/axe.min.js"
echo "== ruff"
"$VENV/bin/ruff" check src tests bench
"$VENV/bin/ruff" format --check src tests bench
echo "== mypy --strict"
"$VENV/bin/mypy"
echo "== pytest"
exec "$VENV/bin/python" -m pytest "$@"
