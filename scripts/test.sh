#!/usr/bin/env bash
# Install callsense with its test dependencies into .venv, then lint, type-check and run the whole suite.
CALLSENSE_EXTRAS="[test]" source "$(dirname "$0")/_venv.sh"
# The dashboard's browser tests drive Debian's Chromium through Playwright (never `playwright install`,
# which downloads a browser from the internet).
if [ ! -x /usr/bin/chromium ]; then
    if [ "$(id -u)" -eq 0 ]; then
        apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
    else
        echo "chromium missing and not root: the browser tests will be skipped (apt-get install chromium)" >&2
    fi
fi
.venv/bin/ruff check callsense tests tools bench
.venv/bin/mypy
.venv/bin/lint-imports --no-cache
exec .venv/bin/pytest "$@"
