"""Who spoke when on a mono call: voice embeddings of short windows, clustered into speakers.

Windows of 1.6 s (the length the encoder was trained on) over the speech that Silero VAD finds are embedded
(``voices.VoiceEncoder``). The speakers are learnt from the windows laid side by side: they are clustered
spectrally, the eigengaps of the affinity graph's Laplacian saying how many speakers there are (2 by
default; one when the first gap is the largest, more up to ``max_speakers`` when their gap clearly stands
out; a short distinct voice is split out of a speaker afterwards), k-means on the
leading eigenvectors grouping the windows, and a few rounds on the embeddings themselves sharpening the
centroids. On long calls the speakers are learnt from the windows that lie inside one stretch of speech,
which rarely hold two voices. Windows every STEP_SECONDS are then scored against the speakers, and a word
belongs to the speaker whose centroid the windows around it resemble most. Every 10 ms frame is then given
a speaker by ``resegmentation`` (the windows' scores and a per-speaker model of the frames' cepstra), and a
word belongs to the speaker of most of its frames. Everything is numpy; windows are embedded in batches.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np
import numpy.typing as npt

from callsense.speech import resegmentation
from callsense.speech.audio import SAMPLE_RATE, FloatArray
from callsense.speech.voices import BATCH, HOP, WINDOW_FRAMES, VoiceEncoder, mel_frames

WINDOW_SECONDS = WINDOW_FRAMES * HOP / SAMPLE_RATE
# Windows scored every STEP_SECONDS: each moment is covered by four windows, so a change of speaker is placed
# to within 0.4 s instead of 1.6 s (speaker confusion on Auto_Repairs_49: 17.4 s -> 14.1 s, bench.speakers).
# The speakers themselves are learnt from the windows laid side by side, as the clustering was measured on.
STEP_SECONDS = 0.4
# Resemblyzer normalised its training audio to this loudness (dBFS), raising quieter audio only.
TARGET_DBFS = -30.0
# Each window keeps its strongest affinities (this share of its row, at least PRUNE_MIN) at full weight.
PRUNE_SHARE = 0.1
PRUNE_MIN = 6
# Eigengaps looked at: speaker counts beyond this are not considered, whatever max_speakers says.
MAX_COUNTED = 8
# A speaker count above 2 needs an eigengap this many times larger than the 2-speaker one.
MORE_SPEAKERS_GAP = 1.5
# A cluster holding less of the windows than this is noise (a cough, a beep) and joins its nearest one.
MIN_SHARE = 0.05
KMEANS_ROUNDS = 20
# A speaker's windows split in two groups whose centroids are less alike than this are two voices. Two
# halves of one voice measure 0.80-0.97 on every call of bench.speakers; two voices of one call 0.45-0.86.
DISTINCT_VOICES = 0.7
MIN_SPLIT_WINDOWS = 3  # windows every 0.4 s: a voice heard for about 2.4 s
# Fewer windows than this inside speech stretches (a short call): learn the speakers from every window, as
# a graph of few windows, each keeping PRUNE_MIN neighbours, shows no groups.
MIN_INSIDE = 40
# Fewer windows to learn from than this (under about 5 s of speech: a 3-second call has two or three) are not
# clustered: one voice is assumed, not found, so its confidence is 0 (two people on a 3-second call read 0.88,
# the mean likeness of its windows to their one centroid).
MIN_CLUSTERED = 4
# One voice when the first eigengap is the largest and this many times the second. Single voices measure
# 1.2-22 (12 of the AWS calls' one-voice tracks and minutes and the fixtures' channels were split in two at
# 3.0, the value before); no two-voice call measured has the first gap largest at all (ratios 0.03-0.83), and
# a short second voice that the eigengaps miss is split out by ``split_distinct`` (docs/speakers.md).
ONE_VOICE_GAP = 1.1

IntArray = npt.NDArray[np.int64]


@dataclass(frozen=True)
class Diarization:
    """Windows (start seconds) with their similarity to each speaker, and the speaker of every 10 ms frame;
    speakers are numbered by the first window each one wins, so speaker 0 spoke first."""

    starts: npt.NDArray[np.float64]
    scores: FloatArray  # (windows, speakers): cosine similarity of each window to each speaker's centroid
    count: int
    confidence: float
    # The speaker of each 10 ms frame, -1 outside speech (where a frame's cepstra say nothing of a voice).
    frames: IntArray = field(default_factory=lambda: np.zeros(0, np.int64))

    def speaker_at(self, start: float, end: float) -> int | None:
        """The speaker of the span ``start``-``end``: the speaker of most of its frames inside speech, else
        the best mean score over the windows covering its middle (or the nearest window), None when nothing
        was embedded."""
        if self.count == 0:
            return None
        first = round(start * resegmentation.FRAMES_PER_SECOND)
        spanned = self.frames[first : max(round(end * resegmentation.FRAMES_PER_SECOND), first + 1)]
        spanned = spanned[spanned >= 0]
        if len(spanned):
            return int(np.argmax(np.bincount(spanned)))
        middle = (start + end) / 2
        covering = (self.starts <= middle) & (middle < self.starts + WINDOW_SECONDS)
        if not covering.any():
            covering = np.abs(self.starts + WINDOW_SECONDS / 2 - middle) == np.min(
                np.abs(self.starts + WINDOW_SECONDS / 2 - middle)
            )
        return int(np.argmax(self.scores[covering].mean(axis=0)))


NOBODY = Diarization(
    starts=np.zeros(0),
    scores=np.zeros((0, 0), np.float32),
    count=0,
    confidence=0.0,
)


def window_starts(
    speech: list[tuple[float, float]], duration: float, *, step: float = STEP_SECONDS
) -> list[float]:
    """Window starts covering every speech region: a window every ``step`` seconds along a region and one
    ending with it, one centred on a region shorter than a window, all inside the recording."""
    latest = max(duration - WINDOW_SECONDS, 0.0)
    starts: list[float] = []
    for begin, end in speech:
        if end - begin <= WINDOW_SECONDS:
            starts.append((begin + end - WINDOW_SECONDS) / 2)
        else:
            starts.extend(np.arange(begin, end - WINDOW_SECONDS, step).tolist())
            starts.append(end - WINDOW_SECONDS)  # the region's last window ends with it
    return sorted({round(min(max(start, 0.0), latest), 2) for start in starts})


def embed_windows(encoder: VoiceEncoder, samples: FloatArray, starts: list[float]) -> FloatArray:
    """Voice embeddings of the windows at ``starts`` (seconds, at least one), the audio raised to the
    loudness the encoder was trained on."""
    return _embedded(encoder, loud_mels(samples), starts)


def loud_mels(samples: FloatArray) -> FloatArray:
    """The encoder's mel frames of ``samples`` raised to the loudness it was trained on."""
    rms = float(np.sqrt(np.mean(np.square(samples, dtype=np.float64)))) if len(samples) else 0.0
    gain = max(1.0, 10 ** (TARGET_DBFS / 20) / rms) if rms > 0 else 1.0
    return mel_frames(samples * np.float32(gain))


def _embedded(encoder: VoiceEncoder, mels: FloatArray, starts: list[float]) -> FloatArray:
    if len(mels) < WINDOW_FRAMES:
        mels = np.pad(mels, ((0, WINDOW_FRAMES - len(mels)), (0, 0)))
    first = [min(round(start * SAMPLE_RATE / HOP), len(mels) - WINDOW_FRAMES) for start in starts]
    batches = (first[i : i + BATCH] for i in range(0, len(first), BATCH))  # bounds the memory of the windows
    return np.concatenate(
        [encoder.embed(np.stack([mels[f : f + WINDOW_FRAMES] for f in b])) for b in batches]
    )


def diarize(
    encoder: VoiceEncoder, samples: FloatArray, speech: list[tuple[float, float]], *, max_speakers: int
) -> Diarization:
    """The speakers of ``samples`` (16 kHz mono), given its speech regions in seconds."""
    duration = len(samples) / SAMPLE_RATE
    side_by_side = window_starts(speech, duration, step=WINDOW_SECONDS)
    starts = sorted(set(side_by_side) | set(window_starts(speech, duration)))
    if not starts:
        return NOBODY
    mels = loud_mels(samples)
    embeddings = _embedded(encoder, mels, starts)
    # Windows inside one stretch of speech rarely hold two voices (turns meet at pauses): the speakers are
    # learnt from those of the side-by-side windows, and every window is then scored against them.
    learning = np.isin(starts, side_by_side)
    begins, ends = np.array(speech).T
    region = np.searchsorted(begins, starts, side="right") - 1  # the speech region each window starts in
    inside = learning & (region >= 0) & (np.asarray(starts) + WINDOW_SECONDS <= ends[np.maximum(region, 0)])
    learnt = embeddings[inside] if inside.sum() >= MIN_INSIDE else embeddings[learning]
    labels = cluster(learnt, max_speakers=max_speakers)
    # A voice heard briefly beside a dominant one (a customer's few "yes"), too small a group for the
    # eigengaps, is split out of the one voice they found as out of any speaker.
    centroids = split_distinct(embeddings, _centroids(learnt, labels), max_speakers)
    if len(centroids) < 2:
        alone = _described(np.asarray(starts), embeddings, centroids)
        return alone if len(learnt) >= MIN_CLUSTERED else replace(alone, confidence=0.0)
    found = _described(np.asarray(starts), embeddings, centroids)
    in_speech = np.zeros(len(mels), dtype=bool)
    for begin, end in speech:
        in_speech[
            round(begin * resegmentation.FRAMES_PER_SECOND) : round(end * resegmentation.FRAMES_PER_SECOND)
        ] = True
    frames = resegmentation.resegment(
        resegmentation.cepstra(mels), _frame_scores(found, len(mels)), in_speech
    )
    return replace(found, frames=np.where(in_speech, frames, -1))


def split_distinct(embeddings: FloatArray, centroids: FloatArray, max_speakers: int) -> FloatArray:
    """The centroids, with a speaker whose windows fall into two groups as unlike as two voices replaced by
    both: a third voice heard for a few seconds is too small a group for the eigengaps, and joins the
    nearest speaker however unlike it (Picovoice Falcon's first voice, 3 windows)."""
    while len(centroids) < max_speakers:
        labels = np.argmax(embeddings @ centroids.T, axis=1)
        for speaker in range(len(centroids)):
            own = embeddings[labels == speaker]
            if len(own) < 2 * MIN_SPLIT_WINDOWS:
                continue
            halves = _refine(own, _kmeans(own, 2))
            if halves.max() < 1 or np.bincount(halves).min() < MIN_SPLIT_WINDOWS:
                continue
            parts = _centroids(own, halves)
            if float(parts[0] @ parts[1]) < DISTINCT_VOICES:
                centroids = np.concatenate([np.delete(centroids, speaker, axis=0), parts])
                break
        else:
            return centroids
    return centroids


def _frame_scores(found: Diarization, frames: int) -> FloatArray:
    """Each 10 ms frame's mean score to every speaker over the windows covering it (zero where none does)."""
    totals = np.zeros((frames, found.count), dtype=np.float32)
    covering = np.zeros(frames, dtype=np.int64)
    width = WINDOW_FRAMES
    for start, row in zip(found.starts, found.scores, strict=True):
        first = round(start * resegmentation.FRAMES_PER_SECOND)
        totals[first : first + width] += row
        covering[first : first + width] += 1
    scores: FloatArray = totals / np.maximum(covering, 1).astype(np.float32)[:, None]
    return scores


def cluster(embeddings: FloatArray, *, max_speakers: int) -> IntArray:
    """Speaker index of each unit-length embedding, speakers numbered by first appearance."""
    count = len(embeddings)
    if count < MIN_CLUSTERED or max_speakers < 2:
        return np.zeros(count, dtype=np.int64)
    eigenvalues, eigenvectors = np.linalg.eigh(_laplacian(embeddings))
    k = _speaker_count(eigenvalues, max_speakers)
    if k == 1:
        return np.zeros(count, dtype=np.int64)
    spectral = eigenvectors[:, :k]
    spectral = spectral / np.maximum(np.linalg.norm(spectral, axis=1, keepdims=True), 1e-9)
    labels = _kmeans(spectral.astype(np.float32), k)
    labels = _refine(embeddings, labels)
    return _merge_tiny(embeddings, labels)


def _laplacian(embeddings: FloatArray) -> npt.NDArray[np.float64]:
    """The symmetric normalised Laplacian of the pruned cosine-affinity graph."""
    affinity = np.clip(embeddings.astype(np.float64) @ embeddings.T.astype(np.float64), 0.0, 1.0)
    keep = min(len(affinity), max(PRUNE_MIN, int(PRUNE_SHARE * len(affinity))))
    threshold = np.sort(affinity, axis=1)[:, -keep][:, None]
    affinity = np.where(affinity >= threshold, affinity, affinity * 0.01)
    affinity = np.maximum(affinity, affinity.T)
    np.fill_diagonal(affinity, 0.0)
    inverse_root = 1.0 / np.sqrt(np.maximum(affinity.sum(axis=1), 1e-9))
    laplacian: npt.NDArray[np.float64] = (
        np.eye(len(affinity)) - inverse_root[:, None] * affinity * (inverse_root[None, :])
    )
    return laplacian


def _speaker_count(eigenvalues: npt.NDArray[np.float64], most: int) -> int:
    """The count after which the eigenvalues jump most, where 1 and counts above 2 must beat the 2-speaker
    jump (measured first/second jumps: 1.2-22 on monologues, 0.86 or less on two-speaker calls); at most
    ``most``."""
    gaps = np.diff(eigenvalues[: MAX_COUNTED + 1])  # gaps[k - 1] = lambda_k - lambda_(k-1): after k groups
    k = int(np.argmax(gaps)) + 1
    if k == 1:
        return 1 if gaps[0] > ONE_VOICE_GAP * gaps[1] else 2
    if k > 2 and gaps[k - 1] <= MORE_SPEAKERS_GAP * gaps[1]:
        k = 2
    return min(k, most)


def _kmeans(points: FloatArray, k: int) -> IntArray:
    """Deterministic k-means: farthest-point initialisation from the first point, Lloyd rounds."""
    centres = [points[0]]
    for _ in range(1, k):
        distances = np.min([np.sum((points - c) ** 2, axis=1) for c in centres], axis=0)
        centres.append(points[int(np.argmax(distances))])
    centroids = np.stack(centres)
    labels = np.zeros(len(points), dtype=np.int64)
    for _ in range(KMEANS_ROUNDS):
        labels = np.argmin(((points[:, None, :] - centroids[None]) ** 2).sum(axis=2), axis=1)
        for j in range(k):
            if (labels == j).any():
                centroids[j] = points[labels == j].mean(axis=0)
    return labels


def _centroids(embeddings: FloatArray, labels: IntArray) -> FloatArray:
    centroids = np.stack([embeddings[labels == j].mean(axis=0) for j in np.unique(labels)])
    normed: FloatArray = centroids / np.maximum(np.linalg.norm(centroids, axis=1, keepdims=True), 1e-9)
    return normed


def _renumber(labels: IntArray) -> IntArray:
    """Labels 0..n-1 in order of first appearance."""
    order = {label: index for index, label in enumerate(dict.fromkeys(labels.tolist()))}
    return np.array([order[label] for label in labels.tolist()], dtype=np.int64)


def _refine(embeddings: FloatArray, labels: IntArray) -> IntArray:
    """A few rounds of cosine k-means in the embedding space, started from the spectral clusters."""
    labels = _renumber(labels)
    for _ in range(3):
        labels = _renumber(np.argmax(embeddings @ _centroids(embeddings, labels).T, axis=1))
    return labels


def _merge_tiny(embeddings: FloatArray, labels: IntArray) -> IntArray:
    """Fold clusters too small to be a speaker into their nearest neighbour, smallest first."""
    while (count := int(labels.max()) + 1) > 1:
        shares = np.bincount(labels, minlength=count) / len(labels)
        smallest = int(np.argmin(shares))
        if shares[smallest] >= MIN_SHARE:
            break
        centroids = _centroids(embeddings, labels)
        similarity = centroids @ centroids[smallest]
        similarity[smallest] = -1.0
        labels = _renumber(np.where(labels == smallest, int(np.argmax(similarity)), labels))
    return labels


def _described(starts: npt.NDArray[np.float64], embeddings: FloatArray, centroids: FloatArray) -> Diarization:
    """Every window scored against the speakers, who are renumbered by the first window each one wins."""
    first_won = list(dict.fromkeys(np.argmax(embeddings @ centroids.T, axis=1).tolist()))
    centroids = centroids[first_won]
    scores: FloatArray = (embeddings @ centroids.T).astype(np.float32)
    if len(centroids) > 1:
        ranked = np.sort(scores, axis=1)
        margin = (ranked[:, -1] - ranked[:, -2]) / np.maximum(ranked[:, -1], 1e-9)
        confidence = float(np.clip(np.mean(margin) * 2, 0.0, 1.0))
    else:
        confidence = float(np.clip(np.mean(scores), 0.0, 1.0))
    return Diarization(starts=starts, scores=scores, count=len(centroids), confidence=round(confidence, 3))


def speech_regions(samples: FloatArray) -> list[tuple[float, float]]:
    """Seconds of speech by Silero VAD, cut at pauses of 0.3 s: finer than transcription needs, so that a
    window rarely spans two speakers' turns."""
    from faster_whisper.vad import VadOptions, get_speech_timestamps

    options = VadOptions(min_silence_duration_ms=300, speech_pad_ms=100)
    return [
        (span["start"] / SAMPLE_RATE, span["end"] / SAMPLE_RATE)
        for span in get_speech_timestamps(samples, options)
    ]
