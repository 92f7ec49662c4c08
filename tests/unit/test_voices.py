"""The numpy GE2E encoder against Resemblyzer's torch model, and its refusal of unexpected pickles."""

from __future__ import annotations

import pickle
import struct
from pathlib import Path

import numpy as np
import pytest

from callsense.assets import catalog
from callsense.errors import ModelAssetError
from callsense.speech.audio import SAMPLE_RATE
from callsense.speech.voices import WINDOW_FRAMES, VoiceEncoder, mel_frames, read_checkpoint

# Computed once with torch 2.13 and librosa: Resemblyzer's own nn.LSTM + Linear + ReLU on librosa's mel
# spectrogram of the chirp below; the six largest dimensions of its unit-length embedding (103 are > 0).
REFERENCE_TOP = {243: 0.25846, 18: 0.20765, 133: 0.20183, 203: 0.20107, 127: 0.19471, 238: 0.18201}
REFERENCE_POSITIVE = 103


def chirp() -> np.ndarray:
    t = np.arange(int(1.6 * SAMPLE_RATE)) / SAMPLE_RATE
    return (0.3 * np.sin(2 * np.pi * (150 + 100 * t) * t) + 0.1 * np.sin(2 * np.pi * 1100 * t)).astype(
        np.float32
    )


@pytest.fixture(scope="module")
def encoder() -> VoiceEncoder:
    weights = catalog.lookup(catalog.VOICE_ENCODER).main_file.parts[0].locate()
    return VoiceEncoder.load(weights)


def test_embedding_matches_resemblyzers_torch_model(encoder: VoiceEncoder) -> None:
    embedding = encoder.embed(mel_frames(chirp())[None, :WINDOW_FRAMES])[0]
    assert np.linalg.norm(embedding) == pytest.approx(1.0, abs=1e-5)
    assert int((embedding > 0).sum()) == REFERENCE_POSITIVE
    for dimension, value in REFERENCE_TOP.items():
        assert embedding[dimension] == pytest.approx(value, abs=2e-4)


def test_batches_give_the_same_embeddings_as_single_windows(encoder: VoiceEncoder) -> None:
    mels = mel_frames(np.tile(chirp(), 2))
    windows = np.stack([mels[i : i + WINDOW_FRAMES] for i in (0, 40, 80)])
    together = encoder.embed(windows)
    alone = np.concatenate([encoder.embed(w[None]) for w in windows])
    np.testing.assert_allclose(together, alone, atol=1e-5)


def test_a_tone_lands_in_the_mel_band_of_its_frequency() -> None:
    t = np.arange(SAMPLE_RATE) / SAMPLE_RATE
    low = mel_frames(np.sin(2 * np.pi * 300 * t).astype(np.float32)).mean(axis=0)
    high = mel_frames(np.sin(2 * np.pi * 3000 * t).astype(np.float32)).mean(axis=0)
    assert mel_frames(np.zeros(SAMPLE_RATE, np.float32)).shape == (101, 40)  # 10 ms frames, centred
    assert np.argmax(low) < 10 < 25 < np.argmax(high)


class _Exploit:
    def __reduce__(self) -> tuple[object, tuple[str]]:
        return (print, ("pwned",))


def test_a_checkpoint_with_other_classes_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "evil.pt"
    with path.open("wb") as handle:
        for header in (0x1950A86A20F9469CFC6C, 1001, {}):
            pickle.dump(header, handle)
        pickle.dump({"model_state": _Exploit()}, handle)
        pickle.dump([], handle)
        handle.write(struct.pack("<q", 0))
    with pytest.raises(ModelAssetError, match=r"unexpected builtins\.print"):
        read_checkpoint(path)
