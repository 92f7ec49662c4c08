#!/usr/bin/env bash
# Install callsense into .venv and process the bundled sample call with the embedded defaults.
CALLSENSE_EXTRAS="" source "$(dirname "$0")/_venv.sh"
exec .venv/bin/callsense process samples/call_en_refund.flac "$@"
