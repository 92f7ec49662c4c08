#!/usr/bin/env bash
# Install callsense with its test dependencies into .venv, then lint, type-check and run the whole suite.
CALLSENSE_EXTRAS="[test]" source "$(dirname "$0")/_venv.sh"
# Debian packages some tests drive, each skipped with its reason when missing: Chromium for the dashboard's
# browser tests through Playwright (never `playwright install`, which downloads a browser from the internet),
# systemd-analyze for the service units, promtool (package prometheus) for the alerting rules, espeak-ng for
# the read-out card that Whisper must not drop as a loop (tests/integration/test_read_out_numbers.py).
tools=""
command -v systemd-analyze >/dev/null || tools="$tools systemd"
command -v promtool >/dev/null || tools="$tools prometheus"
command -v espeak-ng >/dev/null || tools="$tools espeak-ng"
if [ ! -x /usr/bin/chromium ] || [ -n "$tools" ]; then
    if [ "$(id -u)" -eq 0 ]; then
        export DEBIAN_FRONTEND=noninteractive
        apt-get update -qq
        [ -x /usr/bin/chromium ] || apt-get install -y -qq chromium >/dev/null
        [ -z "$tools" ] || apt-get install -y -qq --no-install-recommends $tools >/dev/null
    else
        echo "not root: chromium, systemd-analyze or promtool missing, so their tests will be skipped" >&2
    fi
fi
.venv/bin/ruff check callsense tests tools bench
.venv/bin/mypy
.venv/bin/lint-imports --no-cache
# One worker per core (pytest-xdist), each test module whole on one worker: a module's tests share its
# fixtures (a served dashboard, a loaded model) and some build on the one before. `-n 0` after the script's
# name runs everything in this process.
exec .venv/bin/pytest -n auto --dist loadfile "$@"
