"""Voice embeddings with Resemblyzer's GE2E speaker encoder, run in plain numpy (no torch).

The encoder is a 3-layer LSTM (40 mel bands in, 256 hidden units) and a 256-d ReLU projection, trained with
the GE2E loss so that windows of one voice lie close together (cosine). Its weights come from the
``resemblyzer`` wheel on PyPI as ``pretrained.pt``, a pickle in torch's pre-1.6 format. That file is read
here by a restricted unpickler that knows only the three names such a checkpoint uses (an ordered dict, the
tensor rebuild call, the float storage) and refuses everything else, so the untrusted bytes never run code
and torch is never needed: the install stays light and the LSTM is a few numpy matrix products.
"""

from __future__ import annotations

import collections
import pickle
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np
import numpy.typing as npt
from threadpoolctl import threadpool_limits

from callsense.errors import ModelAssetError
from callsense.speech.audio import SAMPLE_RATE, FloatArray

# Resemblyzer's features (its hparams.py): 25 ms windows every 10 ms, 40 mel bands of the power spectrum.
N_FFT = 400
HOP = 160
N_MELS = 40
LAYERS = 3
# Windows of this many frames (1.6 s) are what the encoder was trained on ("partial utterances").
WINDOW_FRAMES = 160
# Windows embedded together: bounds the memory of one batch of LSTM states and gate products.
BATCH = 256


@dataclass(frozen=True)
class _Tensor:
    storage: str
    offset: int
    shape: tuple[int, ...]


class _CheckpointReader(pickle.Unpickler):
    """Unpickles a legacy torch checkpoint into ``_Tensor`` references; any other class is refused."""

    def __init__(self, handle: BinaryIO) -> None:
        super().__init__(handle)
        self.storages: dict[str, int] = {}  # key -> number of float32 elements

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) == ("collections", "OrderedDict"):
            return collections.OrderedDict
        if (module, name) == ("torch._utils", "_rebuild_tensor_v2"):
            return lambda storage, offset, shape, *_: _Tensor(storage, int(offset), tuple(shape))
        if (module, name) == ("torch", "FloatStorage"):
            return name
        raise pickle.UnpicklingError(f"unexpected {module}.{name} in the speaker encoder's weights")

    def persistent_load(self, pid: Any) -> str:
        _, kind, key, _, numel, _ = pid
        if kind != "FloatStorage":
            raise pickle.UnpicklingError(f"unexpected storage {kind} in the speaker encoder's weights")
        self.storages[str(key)] = int(numel)
        return str(key)


def read_checkpoint(path: Path) -> dict[str, npt.NDArray[np.float32]]:
    """The ``model_state`` tensors of a pre-1.6 torch checkpoint as float32 arrays."""
    try:
        with path.open("rb") as handle:
            for _ in range(3):  # magic number, protocol version, system info
                pickle.load(handle)
            reader = _CheckpointReader(handle)
            checkpoint = reader.load()
            data: dict[str, npt.NDArray[np.float32]] = {}
            for key in pickle.load(handle):
                (count,) = struct.unpack("<q", handle.read(8))
                data[key] = np.frombuffer(handle.read(4 * count), dtype="<f4").astype(np.float32)
    except (OSError, pickle.UnpicklingError, struct.error, EOFError, ValueError) as exc:
        raise ModelAssetError(f"cannot read the speaker encoder's weights at {path}: {exc}") from exc
    state = {}
    for name, tensor in checkpoint["model_state"].items():
        size = int(np.prod(tensor.shape))
        state[name] = data[tensor.storage][tensor.offset : tensor.offset + size].reshape(tensor.shape)
    return state


def _mel_filters() -> npt.NDArray[np.float32]:
    """librosa's default mel filter bank (Slaney scale and area normalisation), as Resemblyzer used it."""

    def hz_to_mel(hz: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        linear = hz / (200.0 / 3)
        log_part = 15.0 + np.log(np.maximum(hz, 1e-10) / 1000.0) / (np.log(6.4) / 27.0)
        return np.where(hz >= 1000.0, log_part, linear)

    def mel_to_hz(mel: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        linear = mel * (200.0 / 3)
        log_part = 1000.0 * np.exp((np.log(6.4) / 27.0) * (mel - 15.0))
        return np.where(mel >= 15.0, log_part, linear)

    fft_hz = np.linspace(0, SAMPLE_RATE / 2, N_FFT // 2 + 1)
    edges = mel_to_hz(np.linspace(hz_to_mel(np.array(0.0)), hz_to_mel(np.array(SAMPLE_RATE / 2)), N_MELS + 2))
    widths = np.diff(edges)
    ramps = edges[:, None] - fft_hz[None, :]
    lower = -ramps[:-2] / widths[:-1, None]
    upper = ramps[2:] / widths[1:, None]
    weights = np.maximum(0, np.minimum(lower, upper)) * (2.0 / (edges[2:] - edges[:-2]))[:, None]
    return weights.astype(np.float32)


def mel_frames(samples: FloatArray) -> FloatArray:
    """Mel power spectrogram, one row of 40 bands per 10 ms (librosa's centred, zero-padded framing)."""
    padded = np.pad(samples.astype(np.float32), N_FFT // 2)
    count = 1 + (len(padded) - N_FFT) // HOP
    frames = np.lib.stride_tricks.as_strided(
        padded, shape=(count, N_FFT), strides=(padded.strides[0] * HOP, padded.strides[0])
    )
    window = (0.5 - 0.5 * np.cos(2 * np.pi * np.arange(N_FFT) / N_FFT)).astype(np.float32)
    power = np.abs(np.fft.rfft(frames * window, axis=1)) ** 2
    mels: FloatArray = (power.astype(np.float32) @ _MEL.T).astype(np.float32)
    return mels


_MEL = _mel_filters()


class VoiceEncoder:
    """Maps windows of mel frames to unit-length 256-d voice embeddings."""

    def __init__(self, state: dict[str, npt.NDArray[np.float32]]) -> None:
        self._layers = [
            _gates_for_one_tanh(
                state[f"lstm.weight_ih_l{n}"],
                state[f"lstm.weight_hh_l{n}"],
                state[f"lstm.bias_ih_l{n}"] + state[f"lstm.bias_hh_l{n}"],
            )
            for n in range(LAYERS)
        ]
        self._projection = np.ascontiguousarray(state["linear.weight"].T)
        self._projection_bias = state["linear.bias"]

    @classmethod
    def load(cls, path: Path) -> VoiceEncoder:
        return cls(read_checkpoint(path))

    def embed(self, windows: FloatArray) -> FloatArray:
        """``windows`` of shape (n, frames, 40) -> (n, 256) embeddings, each of length 1."""
        # One BLAS thread: the LSTM is hundreds of small products per batch, and OpenBLAS threads waiting
        # for each other on a busy machine made it 4.5 times slower (189 windows: 14 s with two threads,
        # 3.1 s with one, at a load average of 6.6 on 2 cores).
        with threadpool_limits(limits=1, user_api="blas"):
            parts = [self._embed_batch(windows[i : i + BATCH]) for i in range(0, len(windows), BATCH)]
        if not parts:
            return np.zeros((0, self._projection.shape[1]), dtype=np.float32)
        return np.concatenate(parts)

    def _embed_batch(self, windows: FloatArray) -> FloatArray:
        sequence = windows
        batch, steps = windows.shape[:2]
        hidden = np.zeros((batch, 0), dtype=np.float32)
        for depth, (w_input, w_hidden, bias) in enumerate(self._layers):
            size = w_hidden.shape[0]
            inputs = sequence @ w_input + bias  # every step's input projection at once
            hidden = np.zeros((batch, size), dtype=np.float32)
            cell = np.zeros_like(hidden)
            last = depth == LAYERS - 1
            outputs = None if last else np.empty((batch, steps, size), dtype=np.float32)
            for step in range(steps):
                gates = inputs[:, step] + hidden @ w_hidden
                np.tanh(gates, out=gates)
                gates[:, : 3 * size] *= 0.5
                gates[:, : 3 * size] += 0.5  # sigmoid(x) = (tanh(x/2) + 1) / 2; the x/2 is in the weights
                cell *= gates[:, size : 2 * size]
                cell += gates[:, :size] * gates[:, 3 * size :]
                hidden = gates[:, 2 * size : 3 * size] * np.tanh(cell)
                if outputs is not None:
                    outputs[:, step] = hidden
            if outputs is not None:
                sequence = outputs
        raw = np.maximum(hidden @ self._projection + self._projection_bias, 0.0)
        norms = np.linalg.norm(raw, axis=1, keepdims=True)
        embeddings: FloatArray = (raw / np.maximum(norms, 1e-9)).astype(np.float32)
        return embeddings


def _gates_for_one_tanh(
    w_input: npt.NDArray[np.float32], w_hidden: npt.NDArray[np.float32], bias: npt.NDArray[np.float32]
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """One LSTM layer's weights, transposed for ``x @ w``, with torch's gate order (input, forget, cell,
    output) rearranged to (input, forget, output, cell) and the three sigmoid gates halved, so that one
    ``tanh`` over all gates yields every activation of a step."""
    size = w_hidden.shape[1]
    order = np.r_[0 : 2 * size, 3 * size : 4 * size, 2 * size : 3 * size]
    scale = np.r_[np.full(3 * size, 0.5), np.ones(size)].astype(np.float32)
    return (
        np.ascontiguousarray(w_input[order].T * scale),
        np.ascontiguousarray(w_hidden[order].T * scale),
        (bias[order] * scale).astype(np.float32),
    )
