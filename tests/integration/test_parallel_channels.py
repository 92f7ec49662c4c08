"""A stereo call's two channels transcribed at once (asr.parallel_channels) give the same transcript as one
after the other, and the progress they report together only goes forward, to the end; Ctrl-C stops both
channel threads at their next segment, not at the end of the call."""

from __future__ import annotations

import signal
import threading
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from callsense.config.models import ASRSettings
from callsense.speech.audio import decode
from callsense.speech.whisper import WhisperTranscriber

pytestmark = pytest.mark.slow

CALL = Path(__file__).parent.parent / "fixtures" / "audio" / "en_refund.stereo.flac"


def test_channels_at_once_give_the_transcript_of_channels_in_turn(model_dir: Path) -> None:
    audio = decode(CALL.read_bytes(), max_seconds=120)
    transcripts = {}
    reported: dict[bool, list[float]] = {True: [], False: []}
    for parallel in (True, False):
        transcriber = WhisperTranscriber(
            ASRSettings(model="base", device="cpu", parallel_channels=parallel), model_dir=model_dir
        )
        transcripts[parallel] = transcriber.transcribe(audio, on_progress=reported[parallel].append)
    at_once, in_turn = transcripts[True], transcripts[False]
    assert {segment.speaker.value for segment in at_once.segments} == {"agent", "customer"}
    assert at_once.segments == in_turn.segments
    assert at_once.language == in_turn.language == "en"
    fractions = reported[True]
    assert fractions == sorted(fractions) and fractions[-1] == 1.0, fractions


def test_ctrl_c_stops_both_channels_at_their_next_segment(model_dir: Path) -> None:
    call = decode(CALL.read_bytes(), max_seconds=120)
    audio = replace(call, channels=np.tile(call.channels, 4))  # 160 s a channel: several windows each
    transcriber = WhisperTranscriber(
        ASRSettings(model="base", device="cpu", parallel_channels=True), model_dir=model_dir
    )
    reported: list[float] = []

    def ctrl_c_once(fraction: float) -> None:
        if not reported:  # the first segment of either channel: a real SIGINT, as a terminal sends it
            signal.pthread_kill(threading.main_thread().ident or 0, signal.SIGINT)
        reported.append(fraction)

    # Python's own handler, as `callsense process` has it: a server or worker started by an earlier test in
    # this process may have left its own (the full run then saw no KeyboardInterrupt).
    earlier = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        with pytest.raises(KeyboardInterrupt):
            transcriber.transcribe(audio, language="en", on_progress=ctrl_c_once)
    finally:
        signal.signal(signal.SIGINT, earlier)
    assert not [thread for thread in threading.enumerate() if thread.name.startswith("whisper-channel")]
    # The windows being decoded when the signal came, at most: not the 320 channel-seconds to the end.
    assert reported[-1] < 0.5, reported
