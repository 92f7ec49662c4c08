"""Frame-level resegmentation: per-speaker mixtures of the frames' cepstra move blurred turn edges."""

from __future__ import annotations

import numpy as np

from callsense.speech.resegmentation import SWITCH_COST, cepstra, fewest_switches, resegment


def two_voices(turn: int = 300, turns: int = 6) -> tuple[np.ndarray, np.ndarray]:
    """Frames of two 'voices' taking turns: each draws its 12 features from its own Gaussian mixture."""
    rng = np.random.default_rng(0)
    truth = np.repeat(np.arange(turns) % 2, turn)
    shapes = rng.standard_normal((2, 3, 12))  # three sounds per voice
    sound = rng.integers(0, 3, len(truth))
    frames = shapes[truth, sound] + 0.4 * rng.standard_normal((len(truth), 12))
    return frames.astype(np.float32), truth


def test_blurred_turn_edges_are_moved_back_to_where_the_voice_changes() -> None:
    frames, truth = two_voices()
    # The windows' scores are right inside each turn, but change gradually over 1.6 s, as windows of 1.6 s
    # do, and lag 0.5 s behind every change of speaker.
    lagged = np.concatenate([np.full(50, truth[0]), truth[:-50]])
    blur = np.ones(160) / 160
    share = np.convolve(lagged.astype(float), blur, mode="same")
    scores = (0.6 + 0.2 * np.stack([1 - share, share], axis=1)).astype(np.float32)
    labels = resegment(frames, scores, np.ones(len(truth), dtype=bool))
    before = np.mean(np.argmax(scores, axis=1) != truth)
    assert before > 0.08
    assert np.mean(labels != truth) < before / 2


def test_too_little_of_a_speaker_keeps_the_windows_labels() -> None:
    frames, truth = two_voices(turn=40, turns=2)  # 0.4 s of the second voice
    scores = np.where(truth[:, None] == np.arange(2), 0.8, 0.6).astype(np.float32)
    labels = resegment(frames, scores, np.ones(len(truth), dtype=bool))
    np.testing.assert_array_equal(labels, truth)


def test_cepstra_keep_every_band_and_ignore_loudness() -> None:
    mels = np.abs(np.random.default_rng(1).standard_normal((50, 40))).astype(np.float32) + 0.1
    features = cepstra(mels)
    assert features.shape == (50, 40)
    louder = cepstra(mels * 100)
    np.testing.assert_allclose((louder - features)[:, 1:], 0, atol=1e-3)  # gain moves c0 only


def leading(first: int, second: int, *, lead: float = 1.0) -> np.ndarray:
    """Votes of two speakers: the first leads by ``lead`` for ``first`` frames, then the second for
    ``second`` frames, then the first again for ``first`` frames."""
    owner = np.repeat([0, 1, 0], [first, second, first])
    return np.where(owner[:, None] == np.arange(2), lead, 0.0).astype(np.float32)


def test_a_short_island_of_the_other_voice_inside_a_turn_is_absorbed() -> None:
    votes = leading(300, 30)  # 0.3 s of the second voice, one spread ahead: less than a switch costs
    np.testing.assert_array_equal(fewest_switches(votes, SWITCH_COST), np.zeros(len(votes)))


def test_a_turn_that_outvotes_the_cost_keeps_its_edges() -> None:
    votes = leading(300, 250)
    np.testing.assert_array_equal(fewest_switches(votes, SWITCH_COST), np.argmax(votes, axis=1))
    np.testing.assert_array_equal(fewest_switches(leading(300, 30, lead=8.0), SWITCH_COST)[300:330], 1)


def test_without_a_cost_every_frame_takes_its_best_speaker() -> None:
    votes = np.random.default_rng(2).standard_normal((500, 3)).astype(np.float32)
    np.testing.assert_array_equal(fewest_switches(votes, 0.0), np.argmax(votes, axis=1))


def test_a_short_turn_between_pauses_is_kept() -> None:
    frames, truth = two_voices()
    speech = np.ones(len(truth), dtype=bool)
    # 0.4 s of the second voice inside the first's turn, with a pause of 0.2 s on either side: a change of
    # speaker at a pause costs nothing.
    truth[100:140] = 1
    frames[100:140] = two_voices()[0][300:340]
    speech[80:100] = speech[140:160] = False
    scores = np.where(truth[:, None] == np.arange(2), 0.8, 0.6).astype(np.float32)
    labels = resegment(frames, scores, speech)
    np.testing.assert_array_equal(labels[100:140], 1)
    assert np.mean(labels[speech] != truth[speech]) < 0.02
