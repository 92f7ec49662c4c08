"""Frame-level resegmentation: each 10 ms frame given a speaker after the clustering, by two votes.

The window embeddings say who speaks in 1.6 s stretches, which blurs turn edges and mixes two close voices
in the windows that span both. Here every speaker also gets a diagonal Gaussian mixture over the call's own
cepstra (all 40 MFCC of the encoder's mel frames, normalised over the call's speech), trained first on the
frames where the windows clearly favour that speaker; each frame's log-likelihoods, averaged over
SMOOTH_FRAMES, are added to the windows' cosine scores, both streams in units of their own spread across
the call's speech frames (so neither needs a weight), and the frames are relabelled; a second round trains
the mixtures on the new labels. A mixture sees the line and the microphone as well as the voice, which is
what tells two similar voices apart on a call where each side has its own line (Auto_Repairs_49's speaker
confusion: 14.1 s -> 8.7 s, bench.speakers). Last, inside each stretch of speech the labels are the best
path through the frames' votes (Viterbi) where every change of speaker costs SWITCH_COST: a voice must
outvote the other by one spread for a second to take over without a pause, which removes the short
islands of the wrong voice left inside a turn (Auto_Repairs_49: 8.7 s -> 6.7 s). Everything is numpy.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
from threadpoolctl import threadpool_limits

from callsense.speech.audio import FloatArray

IntArray = npt.NDArray[np.int64]
FRAMES_PER_SECOND = 100  # the mel frames' hop: 10 ms
COMPONENTS = 16
EM_ROUNDS = 10
ROUNDS = 2
SMOOTH_FRAMES = 50  # log-likelihoods averaged over 0.5 s: a frame alone says little about a voice
# The first round trains each speaker's mixture on the frames where the windows favour it most: this share
# of them, by the margin of its score over the next speaker's.
CONFIDENT_SHARE = 0.5
MIN_FRAMES = 100  # a speaker with less than 1 s of frames keeps the windows' labels
MAX_TRAINING_FRAMES = 30_000  # per speaker: 5 minutes of speech, taken evenly, bounds EM on long calls
FRAMES_PER_COMPONENT = 50
CHUNK_FRAMES = 60_000  # 10 minutes of frames at a time
# A change of speaker inside a stretch of speech (no pause of the VAD's) costs this much of the summed vote,
# in units of its spread: one spread held for 1 s. Auto_Repairs_49's confusion falls at every cost from 10
# to 200, most from 70 to 200; no other case moves up to 300 (docs/speakers.md, third round).
SWITCH_COST = 100.0


def cepstra(mels: FloatArray) -> FloatArray:
    """MFCC (DCT-II of the log mel power, orthonormal) of each mel frame, all of them: the higher cepstra,
    which carry pitch and fine spectral shape, tell close voices apart (Auto_Repairs_49's confusion with
    13 / 20 / 30 / 40 cepstra: 11.9 / 10.8 / 9.1 / 8.7 s)."""
    bands = mels.shape[1]
    k = np.arange(bands)[:, None]
    n = np.arange(bands)[None, :]
    dct = np.cos(np.pi * k * (2 * n + 1) / (2 * bands)) * np.sqrt(2 / bands)
    dct[0] /= np.sqrt(2)
    result: FloatArray = (np.log(mels + 1e-6) @ dct.T.astype(np.float32)).astype(np.float32)
    return result


def resegment(features: FloatArray, window_scores: FloatArray, speech: npt.NDArray[np.bool_]) -> IntArray:
    """The speaker of every frame of ``features`` (frames, dims), given each frame's mean cosine score to
    every speaker from the windows covering it (frames, speakers; zero where none does) and the frames
    inside speech; the windows' labels where a speaker has too few frames to model."""
    # One BLAS thread, as for the encoder (voices.py): EM's many mid-sized products on two threads of a busy
    # machine took 5.8 s on the 5-minute call, against 0.7 s on one (load average 8 on the 2 shared cores).
    with threadpool_limits(limits=1, user_api="blas"):
        return _resegmented(features, window_scores, speech)


def _resegmented(features: FloatArray, window_scores: FloatArray, speech: npt.NDArray[np.bool_]) -> IntArray:
    labels: IntArray = np.argmax(window_scores, axis=1)
    covered = speech & (window_scores.any(axis=1))
    count = window_scores.shape[1]
    if count < 2 or any(np.sum(covered & (labels == j)) < MIN_FRAMES for j in range(count)):
        return labels
    mean, spread = features[speech].mean(axis=0), features[speech].std(axis=0) + 1e-6
    normalised: FloatArray = ((features - mean) / spread).astype(np.float32)
    ranked = np.sort(window_scores, axis=1)
    margin = ranked[:, -1] - ranked[:, -2]
    windows_vote = window_scores / _spread(window_scores, covered)
    for round_ in range(ROUNDS):
        likelihoods = []
        for j in range(count):
            training = covered & (labels == j)
            if round_ == 0:
                training &= margin >= np.quantile(margin[training], 1 - CONFIDENT_SHARE)
            if training.sum() < MIN_FRAMES:
                return labels
            mixture = _fit(normalised[training][:: max(1, int(training.sum()) // MAX_TRAINING_FRAMES)])
            likelihoods.append(_smoothed(_log_likelihood(normalised, mixture)))
        frames_vote = np.stack(likelihoods, axis=1)
        votes = frames_vote / _spread(frames_vote, covered) + windows_vote
        labels = np.argmax(votes, axis=1)
    for first, last in _stretches(speech):
        labels[first:last] = fewest_switches(votes[first:last], SWITCH_COST)
    return labels


def _stretches(mask: npt.NDArray[np.bool_]) -> list[tuple[int, int]]:
    """The runs of True in ``mask``, as (first, end) frame indices."""
    edges = np.diff(np.concatenate([[0], mask.astype(np.int8), [0]]))
    return list(zip(np.flatnonzero(edges == 1).tolist(), np.flatnonzero(edges == -1).tolist(), strict=True))


def fewest_switches(votes: FloatArray, cost: float) -> IntArray:
    """The labels (frames) maximising the summed ``votes`` (frames, speakers) less ``cost`` per change of
    label: Viterbi over the speakers, every change costing the same. Plain Python floats, as a frame has only
    2-4 speakers: 0.08 s for the 30,000 frames of a 5-minute call."""
    rows = votes.astype(np.float64).tolist()
    speakers = range(len(rows[0])) if rows else range(0)
    best = list(rows[0]) if rows else []
    came_from: list[list[int]] = []
    for row in rows[1:]:
        leader = max(speakers, key=best.__getitem__)
        switching = best[leader] - cost
        step = [j if best[j] >= switching else leader for j in speakers]
        best = [max(best[j], switching) + row[j] for j in speakers]
        came_from.append(step)
    path = np.zeros(len(rows), dtype=np.int64)
    if rows:
        path[-1] = max(speakers, key=best.__getitem__)
        for t in range(len(rows) - 1, 0, -1):
            path[t - 1] = came_from[t - 1][path[t]]
    return path


def _spread(scores: FloatArray, where: npt.NDArray[np.bool_]) -> float:
    """How far the speakers' scores of a frame lie from their mean, across the frames ``where``."""
    centred = scores - scores.mean(axis=1, keepdims=True)
    return float(np.std(centred[where])) + 1e-9


Mixture = tuple[FloatArray, FloatArray, FloatArray]  # weights, means, variances


def _fit(points: FloatArray) -> Mixture:
    """A diagonal Gaussian mixture by EM, started from points drawn with a fixed seed."""
    count = len(points)
    k = max(1, min(COMPONENTS, count // FRAMES_PER_COMPONENT))
    means = points[np.random.default_rng(0).choice(count, k, replace=False)]
    squares = points * points
    floor = 1e-2 * points.var(axis=0)
    variances = np.tile(points.var(axis=0) + 1e-3, (k, 1))
    weights = np.full(k, 1 / k, dtype=np.float32)
    for _ in range(EM_ROUNDS):
        joint = _component_log_likelihoods(points, squares, (weights, means, variances))
        joint -= joint.max(axis=1, keepdims=True)
        responsibilities = np.exp(joint, out=joint)
        responsibilities /= responsibilities.sum(axis=1, keepdims=True)
        totals = responsibilities.sum(axis=0) + 1e-6
        weights = totals / count
        means = (responsibilities.T @ points) / totals[:, None]
        variances = np.maximum((responsibilities.T @ squares) / totals[:, None] - means**2, floor)
    return weights, means, variances


def _component_log_likelihoods(x: FloatArray, squares: FloatArray, mixture: Mixture) -> FloatArray:
    weights, means, variances = mixture
    inverse = 1 / variances
    quadratic = squares @ inverse.T - 2 * x @ (means * inverse).T + np.sum(means * means * inverse, axis=1)
    result: FloatArray = (
        -0.5 * (quadratic + np.sum(np.log(2 * np.pi * variances), axis=1)) + np.log(weights)
    ).astype(np.float32)
    return result


def _log_likelihood(x: FloatArray, mixture: Mixture) -> FloatArray:
    """Each frame's log-likelihood under the mixture, a chunk at a time (bounds a long call's memory)."""
    parts = []
    for first in range(0, len(x), CHUNK_FRAMES):
        chunk = x[first : first + CHUNK_FRAMES]
        joint = _component_log_likelihoods(chunk, chunk * chunk, mixture)
        top = joint.max(axis=1)
        parts.append((top + np.log(np.exp(joint - top[:, None]).sum(axis=1))).astype(np.float32))
    result: FloatArray = np.concatenate(parts) if parts else np.zeros(0, dtype=np.float32)
    return result


def _smoothed(values: FloatArray) -> FloatArray:
    result: FloatArray = np.convolve(values, np.ones(SMOOTH_FRAMES) / SMOOTH_FRAMES, mode="same").astype(
        np.float32
    )
    return result
