"""Progress across a call's channels: what `callsense process` and the worker report while Whisper runs."""

from __future__ import annotations

from callsense.speech.transcriber import Progress


def test_progress_reaches_the_whole_when_every_second_is_done() -> None:
    # A tenth of a second ten times adds up to 0.9999999999999999: reported as a call not quite done.
    reported: list[float] = []
    progress = Progress(total=1.0, callback=reported.append)
    for _ in range(10):
        progress.advance(0.1)
    assert reported == sorted(reported) and reported[-1] == 1.0
