"""Speech made on the spot for benchmarks: the fixtures' Piper voice at telephone quality, decoded as a call.

Needs the fixtures extra (``pip install -e '.[fixtures]'``) and Debian's sox, like ``tools/make_fixtures.py``.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from callsense.speech.audio import DecodedAudio, decode
from tools.make_fixtures import PIPER_AGENT, Synthesizer, write_flac


class Speaker:
    """Says sentences the same way every time: Piper is re-seeded before each one."""

    def __init__(self) -> None:
        self._synth = Synthesizer()

    def say(self, text: str) -> DecodedAudio:
        self._synth.reset()
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "utterance.flac"
            write_flac(path, self._synth.speak(text, PIPER_AGENT).reshape(-1, 1))
            return decode(path.read_bytes(), max_seconds=600)
