#!/usr/bin/env bash
# Install callsense with its test dependencies into .venv, then lint, type-check and run the whole suite.
CALLSENSE_EXTRAS="[test]" source "$(dirname "$0")/_venv.sh"
.venv/bin/ruff check callsense tests tools bench
.venv/bin/mypy
exec .venv/bin/pytest "$@"
