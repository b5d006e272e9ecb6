#!/usr/bin/env bash
# Install everything the tests need and run the whole suite: lint, format, types, tests.
# Used as-is by CI (.ci/run). Extra arguments go to pytest.
source "$(dirname "${BASH_SOURCE[0]}")/bootstrap.sh"
cd "$ROOT"
# openssl runs the local RFC 3161 timestamp authority the tests talk to on 127.0.0.1
apt_install openssl
"$VENV/bin/python" -m pip install --quiet --disable-pip-version-check -e ".[test]"
echo "== ruff"
"$VENV/bin/ruff" check src tests bench
"$VENV/bin/ruff" format --check src tests bench
echo "== mypy --strict"
"$VENV/bin/mypy"
echo "== pytest"
exec "$VENV/bin/python" -m pytest "$@"
