"""Speakers on mono calls: diarization error, word attribution, roles and cost (docs/speakers.md).

    python -m bench.speakers ../shared/testdata [--only der|words|roles|cost]

* der: DER with and without a 0.25 s collar, and with the collar and overlapping speech left out
  (bench/der.py), of the diarization alone, on the two-track AWS live-call-analytics calls downmixed to mono
  (each track's Silero VAD speech is the truth: on the bare track, and with a line-noise floor, see
  LINE_NOISE_DBFS), pyannote's sample.wav (its RTTM), Picovoice Falcon's test.wav (its segments) and the
  TTS fixtures mixed to mono (their scripted turns).
* words: the downmixed AWS calls transcribed as mono; each word's speaker against the speaker of the word
  the stereo transcription heard at the same time (role as decided, and under the best voice mapping).
* swap: the stereo swap check on the fixtures' scripted words, as recorded and with the sides exchanged.
* roles: every two-speaker fixture mixed to mono and transcribed; whether the agent voice was found, and
  the share of words whose role matches the scripted turn they fall in.
* cost: the 5-minute call mixed to mono: transcription with diarization off, then the diarization alone.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
from rich.console import Console
from rich.table import Table

from bench.der import Turn, der
from callsense.assets import catalog
from callsense.calls.schemas import Segment, Speaker
from callsense.config import Settings
from callsense.config.models import SpeakerSettings
from callsense.speech import diarization
from callsense.speech.audio import SAMPLE_RATE, DecodedAudio, FloatArray, decode
from callsense.speech.roles import guess_agent
from callsense.speech.voices import VoiceEncoder
from callsense.speech.whisper import WhisperTranscriber

FIXTURES = Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "audio"
COLLAR = 0.25
ROLES = ("agent", "customer")
FRAME = 0.1  # hypothesis turns are written in steps of this many seconds
# The AWS tracks are digital silence (-80 dBFS) while the other side talks, and Silero VAD, run over a whole
# such track, then misses much of the caller's speech on Auto_Repairs_49 (the same audio in the mix, or on
# the track with a fresh VAD state, is speech, and Whisper transcribes it). Under this floor of seeded
# white noise, a quiet telephone line's, the tracks' VAD finds it: the second reference of each call.
LINE_NOISE_DBFS = -60.0
# The reference's VAD, fixed here rather than taken from diarization.speech_regions, so that a change to the
# diarization's speech mask is measured against the same reference (these are the options it was set with).
REFERENCE_VAD = {"min_silence_duration_ms": 300, "speech_pad_ms": 100}
console = Console(width=150)


def load(path: Path) -> DecodedAudio:
    return decode(path.read_bytes(), max_seconds=4 * 3600)


def as_mono(audio: DecodedAudio) -> DecodedAudio:
    return replace(audio, channels=audio.channels.sum(axis=0, keepdims=True).clip(-1, 1))


def hypothesis(found: diarization.Diarization, samples: FloatArray) -> list[Turn]:
    """The diarization as turns: every FRAME of VAD speech labelled with its speaker."""
    turns = []
    for start, end in diarization.speech_regions(samples):
        for t in np.arange(start, end, FRAME):
            speaker = found.speaker_at(t, min(t + FRAME, end))
            turns.append((float(t), float(min(t + FRAME, end)), f"s{speaker}"))
    return turns


def track_truth(tracks: dict[str, FloatArray], *, noise_dbfs: float | None = None) -> list[Turn]:
    """Each track's VAD speech as its speaker's turns, on the bare track or over a noise floor."""
    noise = np.random.default_rng(0)
    turns = []
    for name, x in tracks.items():
        if noise_dbfs is not None:
            x = x + (10 ** (noise_dbfs / 20) * noise.standard_normal(len(x))).astype(np.float32)
        turns += [(s, e, name) for s, e in reference_regions(x)]
    return turns


def reference_regions(samples: FloatArray) -> list[tuple[float, float]]:
    from faster_whisper.vad import VadOptions, get_speech_timestamps

    spans = get_speech_timestamps(samples, VadOptions(**REFERENCE_VAD))
    return [(span["start"] / SAMPLE_RATE, span["end"] / SAMPLE_RATE) for span in spans]


def der_cases(data: Path) -> list[tuple[str, FloatArray, list[Turn]]]:
    cases = []
    for call in ("Auto_Repairs_40", "Auto_Repairs_49"):
        tracks = {
            side: load(data / f"aws-lca/{call}_UTC_{side}.wav").channels[0] for side in ("agent", "caller")
        }
        mix = tracks["agent"] + tracks["caller"]
        cases.append((f"aws-lca {call} (mono mix), track VAD", mix, track_truth(tracks)))
        floor = track_truth(tracks, noise_dbfs=LINE_NOISE_DBFS)
        cases.append((f"aws-lca {call} (mono mix), track VAD over noise", mix, floor))
    rttm = [line.split() for line in (data / "pyannote/sample.rttm").read_text().splitlines() if line.strip()]
    pyannote = [(float(f[3]), float(f[3]) + float(f[4]), f[7]) for f in rttm]
    cases.append(("pyannote sample.wav", load(data / "pyannote/sample.wav").channels[0], pyannote))
    falcon = json.loads((data / "picovoice-falcon/test_data.json").read_text())["tests"]["diarization_tests"][
        0
    ]
    truth = [(s["start_sec"], s["end_sec"], str(s["speaker_tag"])) for s in falcon["segments"]]
    cases.append(("picovoice-falcon test.wav", load(data / "picovoice-falcon/test.wav").channels[0], truth))
    for entry in fixtures_with_two_speakers():
        samples = as_mono(load(FIXTURES / entry["audio"])).channels[0]
        truth = [(t["start"], t["end"], t["speaker"]) for t in entry["turns"]]
        cases.append((f"fixture {entry['audio']}", samples, truth))
    return cases


def fixtures_with_two_speakers() -> list[dict]:
    entries = [json.loads(line) for line in (FIXTURES / "references.jsonl").read_text().splitlines()]
    return [e for e in entries if len({t["speaker"] for t in e["turns"]}) == 2]


def run_der(data: Path, encoder: VoiceEncoder, max_speakers: int) -> None:
    table = Table(
        "audio",
        "seconds",
        "speakers (found/true)",
        "DER",
        "DER collar 0.25",
        "collar, no overlap",
        "miss (in overlap)/FA/conf s",
    )
    for name, samples, truth in der_cases(data):
        found = diarization.diarize(
            encoder, samples, diarization.speech_regions(samples), max_speakers=max_speakers
        )
        turns = hypothesis(found, samples)
        plain, collared = der(truth, turns), der(truth, turns, collar=COLLAR)
        single = der(truth, turns, collar=COLLAR, skip_overlap=True)
        table.add_row(
            name,
            f"{len(samples) / SAMPLE_RATE:.0f}",
            f"{found.count}/{len({s for _, _, s in truth})}",
            f"{plain.der:.1%}",
            f"{collared.der:.1%}",
            f"{single.der:.1%}",
            f"{plain.missed:.1f} ({plain.missed_in_overlap:.1f})/{plain.false_alarm:.1f}"
            f"/{plain.confusion:.1f}",
        )
    console.print(table)


def timed_words(segments: list[Segment]) -> list[tuple[float, float, Speaker]]:
    return [(w.start, w.end, s.speaker) for s in segments for w in s.words]


def run_words(data: Path, transcriber: WhisperTranscriber) -> None:
    table = Table("call", "words compared", "role right", "voice right (best mapping)")
    for call in ("Auto_Repairs_40", "Auto_Repairs_49"):
        stereo = load(data / f"aws-lca/derived/{call}_stereo_agentL_callerR.flac")
        truth = timed_words(transcriber.transcribe(stereo, language="en").segments)
        mono = timed_words(transcriber.transcribe(as_mono(stereo), language="en").segments)
        pairs = []
        for start, end, speaker in mono:
            overlaps = [
                (min(end, e) - max(start, s), who) for s, e, who in truth if min(end, e) > max(start, s)
            ]
            if overlaps:
                pairs.append((speaker, max(overlaps, key=lambda o: o[0])[1]))
        right = sum(a == b for a, b in pairs)
        flipped = {Speaker.agent: Speaker.customer, Speaker.customer: Speaker.agent}
        right_flipped = sum(flipped.get(a, a) == b for a, b in pairs)
        table.add_row(
            call,
            str(len(pairs)),
            f"{right / len(pairs):.1%}",
            f"{max(right, right_flipped) / len(pairs):.1%}",
        )
    console.print(table)


def run_roles(transcriber: WhisperTranscriber) -> None:
    table = Table(
        "fixture (mono mix)", "voices", "agent found", "role confidence", "words with the right role"
    )
    for entry in fixtures_with_two_speakers():
        transcript = transcriber.transcribe(as_mono(load(FIXTURES / entry["audio"])), language=entry["lang"])
        words = timed_words(transcript.segments)
        scored = [
            (speaker, turn["speaker"])
            for start, end, speaker in words
            for turn in entry["turns"]
            if turn["start"] - 0.3 <= (start + end) / 2 <= turn["end"] + 0.3
        ]
        right = sum(speaker.value == truth for speaker, truth in scored)
        first_agent = next(t["start"] for t in entry["turns"] if t["speaker"] == "agent")
        agent_words = [speaker for start, end, speaker in words if abs(start - first_agent) < 1.0]
        found = transcript.speakers.found if transcript.speakers else None
        table.add_row(
            entry["audio"],
            str(found.count if found else 0),
            "yes" if agent_words and agent_words[0] is Speaker.agent else "no",
            f"{found.role_confidence:.2f}" if found else "-",
            f"{right / max(len(scored), 1):.1%}",
        )
    console.print(table)


def run_cost(data: Path, settings: Settings, encoder: VoiceEncoder) -> None:
    mono = as_mono(load(data / "aws-lca/derived/call_5min_stereo_agentL_callerR.flac"))
    plain = WhisperTranscriber(
        settings.asr, model_dir=settings.resolved_model_dir, speakers=SpeakerSettings(diarization=False)
    )
    started = time.perf_counter()
    plain.transcribe(mono, language="en")
    transcribing = time.perf_counter() - started
    samples = mono.channels[0]
    started = time.perf_counter()
    regions = diarization.speech_regions(samples)
    found = diarization.diarize(encoder, samples, regions, max_speakers=settings.speakers.max_speakers)
    diarizing = time.perf_counter() - started
    table = Table("5-minute call, mono", "seconds", "load average (1, 5, 15 min)")
    load_avg = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    table.add_row("transcription (diarization off)", f"{transcribing:.1f}", load_avg)
    table.add_row(f"diarization ({len(found.starts)} windows)", f"{diarizing:.1f}", "")
    table.add_row("diarization / transcription", f"{diarizing / transcribing:.0%}", "")
    console.print(table)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("data", type=Path, help="the shared testdata folder (read in place, never copied)")
    parser.add_argument("--only", choices=["der", "swap", "words", "roles", "cost"], action="append")
    args = parser.parse_args()
    parts = args.only or ["der", "swap", "words", "roles", "cost"]
    settings = Settings()
    encoder = VoiceEncoder.load(catalog.resolve_voice_encoder(settings.resolved_model_dir))
    transcriber = WhisperTranscriber(
        settings.asr, model_dir=settings.resolved_model_dir, speakers=settings.speakers
    )
    console.print(f"cores: {os.cpu_count()}, load average at start: {os.getloadavg()}")
    if "der" in parts:
        run_der(args.data, encoder, settings.speakers.max_speakers)
    if "swap" in parts:
        run_swap_check(args.data)
    if "roles" in parts:
        run_roles(transcriber)
    if "words" in parts:
        run_words(args.data, transcriber)
    if "cost" in parts:
        run_cost(args.data, settings, encoder)


def run_swap_check(data: Path) -> None:
    """The stereo swap check on transcripts: the roles it reads from each side's words, as configured and
    with the sides exchanged (a swapped trunk), on the fixtures' scripts (which the cue list was written
    beside) and the AWS calls' machine transcripts (which it was not)."""
    table = Table("call", "agent read from the words", "confidence", "swapped sides: agent read")
    calls = []
    for entry in fixtures_with_two_speakers():
        if entry["channels"] == 2:
            texts = [" ".join(t["text"] for t in entry["turns"] if t["speaker"] == side) for side in ROLES]
            calls.append((entry["audio"], texts))
    for silver in sorted((data / "aws-lca/derived").glob("*.SILVER_*.json")):
        segments = json.loads(silver.read_text())["segments"]
        texts = [
            " ".join(s["text"] for s in segments if s["speaker"] == side) for side in ("agent", "caller")
        ]
        calls.append((silver.name.split(".")[0], texts))
    for name, (left, right) in calls:
        kept, flipped = guess_agent([left, right]), guess_agent([right, left])
        table.add_row(
            name,
            ROLES[0] if kept.agent == 0 else ROLES[1],
            f"{kept.confidence:.2f}",
            f"{'right (swap detected)' if flipped.agent == 1 else 'left (missed)'} {flipped.confidence:.2f}",
        )
    console.print(table)


if __name__ == "__main__":
    main()
