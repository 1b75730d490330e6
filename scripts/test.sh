#!/usr/bin/env bash
# The whole check, as CI runs it: install, make sure Redis and PostgreSQL answer,
# then lint, type-check and run every test. Any failure stops the run non-zero
# (pytest's exit 5, "no tests collected", included).
set -euo pipefail
cd "$(dirname "$0")/.."

python3 -m uv --version >/dev/null 2>&1 || python3 -m pip install --quiet uv
uv() { python3 -m uv "$@"; }

echo "== install"
uv sync --frozen --all-packages --quiet

echo "== services"
uv run --frozen --no-sync mimeia doctor --start-missing --only redis,postgres

echo "== browser"
# the console's browser tests drive Debian's Chromium (Playwright comes from PyPI)
if [ ! -x /usr/bin/chromium ]; then
    if [ "$(id -u)" = 0 ]; then
        apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
    else
        echo "chromium is missing: run 'sudo apt-get install -y chromium'" >&2
        exit 1
    fi
fi

echo "== ruff"
uv run --frozen --no-sync ruff check .
uv run --frozen --no-sync ruff format --check .

echo "== mypy"
# every member's src/ plus bench/ (tests are checked by pytest, not mypy)
uv run --frozen --no-sync mypy $(ls -d packages/*/src services/*/src 2>/dev/null) bench

echo "== pytest"
uv run --frozen --no-sync pytest "$@"
