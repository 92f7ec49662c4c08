# Sourced by demo.sh and test.sh: make .venv with Python >= 3.11 and install callsense (plus extras) into it.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-python3}"
if ! "$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
    echo "callsense needs Python 3.11 or newer; set PYTHON=/path/to/python3.11" >&2
    exit 2
fi
if [ ! -x .venv/bin/python ]; then
    "$PYTHON" -m venv .venv || { echo "python venv module missing: apt-get install python3-venv" >&2; exit 2; }
fi
.venv/bin/python -m pip install --quiet --disable-pip-version-check --upgrade pip
.venv/bin/python -m pip install --quiet --disable-pip-version-check \
    --constraint scripts/constraints.txt -e ".${CALLSENSE_EXTRAS:-}"
# The speaker encoder's weights (callsense/assets/catalog.py, VOICE_ENCODER_PIN): only the data file is read,
# so the wheel's declared torch and librosa are not installed.
.venv/bin/python -m pip install --quiet --disable-pip-version-check --no-deps \
    "$(.venv/bin/python -c 'from callsense.assets.catalog import VOICE_ENCODER_PIN; print(VOICE_ENCODER_PIN)')"
