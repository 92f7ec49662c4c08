"""Diarization error rate, as NIST md-eval and pyannote.metrics define it, on 10 ms frames.

DER = (missed speech + false alarm + speaker confusion) / reference speech, each counted per speaker per
frame, so overlapping reference speech counts once per speaker. Hypothesis speakers are mapped to reference
speakers one-to-one by the mapping that maximises their overlap (every mapping is tried: calls have few
speakers). A collar excludes the frames within ``collar`` seconds of every reference boundary;
``skip_overlap`` excludes the frames where two or more reference speakers talk at once (pyannote.metrics'
option of that name), which a diarization giving one speaker per moment can never get right.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

FRAME = 0.01
Turn = tuple[float, float, str]  # start, end (seconds), speaker


@dataclass(frozen=True)
class DERResult:
    missed: float
    false_alarm: float
    confusion: float
    total: float  # seconds of reference speech (per speaker)
    # The part of ``missed`` where two or more reference speakers talk at once: what one speaker per moment
    # cannot avoid missing, whatever the clustering.
    missed_in_overlap: float

    @property
    def der(self) -> float:
        return (self.missed + self.false_alarm + self.confusion) / self.total if self.total else 0.0


def _activity(turns: list[Turn], speakers: list[str], frames: int) -> npt.NDArray[np.bool_]:
    active = np.zeros((len(speakers), frames), dtype=bool)
    for start, end, speaker in turns:
        active[speakers.index(speaker), round(start / FRAME) : round(end / FRAME)] = True
    return active


def der(
    reference: list[Turn], hypothesis: list[Turn], *, collar: float = 0.0, skip_overlap: bool = False
) -> DERResult:
    ends = [end for _, end, _ in reference + hypothesis]
    frames = round(max(ends, default=0.0) / FRAME) + 1
    ref_speakers = sorted({s for _, _, s in reference})
    hyp_speakers = sorted({s for _, _, s in hypothesis})
    ref = _activity(reference, ref_speakers, frames)
    hyp = _activity(hypothesis, hyp_speakers, frames)
    scored = np.ones(frames, dtype=bool)
    if collar > 0:
        width = round(collar / FRAME)
        for start, end, _ in reference:
            for boundary in (round(start / FRAME), round(end / FRAME)):
                scored[max(boundary - width, 0) : boundary + width] = False
    if skip_overlap:
        scored &= ref.sum(axis=0) < 2
    ref, hyp = ref[:, scored], hyp[:, scored]
    overlap = ref.astype(np.int64) @ hyp.T.astype(np.int64)  # frames each pair speaks together
    best = 0
    size = max(len(ref_speakers), len(hyp_speakers))
    padded = np.zeros((size, size), dtype=np.int64)
    padded[: overlap.shape[0], : overlap.shape[1]] = overlap
    for permutation in itertools.permutations(range(size)):
        best = max(best, int(padded[np.arange(size), permutation].sum()))
    n_ref = ref.sum(axis=0)
    n_hyp = hyp.sum(axis=0)
    missed = np.maximum(n_ref - n_hyp, 0)
    return DERResult(
        missed=float(missed.sum()) * FRAME,
        false_alarm=float(np.maximum(n_hyp - n_ref, 0).sum()) * FRAME,
        confusion=float(np.minimum(n_ref, n_hyp).sum() - best) * FRAME,
        total=float(n_ref.sum()) * FRAME,
        missed_in_overlap=float(missed[n_ref >= 2].sum()) * FRAME,
    )
