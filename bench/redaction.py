"""PII redaction on what Whisper hears: recall, precision and F2 per entity type and language, and its cost.

    python -m bench.redaction [--model base] [--language en] [--stereo | --mono] [--show]
                              [--transcripts /tmp/heard.json] [--compare /tmp/a.json /tmp/b.json …]

Callers read out cards, phones, e-mails, names, addresses and dates of birth in en/es/de/fr
(bench/redaction_calls.py: grouped digits, "double four", a correction halfway, a number split over two
turns with "uh"), spoken by the fixtures' voices (Piper for English, espeak-ng for the others; ``pip install
-e '.[fixtures]'``, Debian espeak-ng and sox) at telephone quality, transcribed by callsense's Whisper
transcriber (each caller turn as its own file; with ``--stereo`` the item as one stereo call, agent left and
caller right; with ``--mono`` the same call mixed into one channel, which callsense diarizes), and redacted
by ``PresidioRedactor``. An item counts as found when a span of its type was redacted and nothing of it (its
digits, four or more in a row, or its words) is left in the redacted text; every span of a type an item
does not hold counts against that type's precision. F2 weighs recall twice.
Also prints the redaction time per call against Whisper's time (the voices' left out).

Whisper decodes as configured (``CALLSENSE_ASR__BEAM_SIZE=5``, ``CALLSENSE_ASR__HOTWORDS_BY_LANGUAGE=…``),
with the number beam of redaction (``--number-beam-size``, default as callsense while redaction is on).
``--compare a.json b.json …`` scores files of stored transcripts side by side (one per decoding setting,
say), with no voices and no Whisper.
"""

from __future__ import annotations

import argparse
import json
import re
import tempfile
import time
from collections import defaultdict
from pathlib import Path

import numpy as np
from rich.console import Console
from rich.table import Table

from bench.redaction_calls import ITEMS, Item
from bench.redaction_voices import KokoroSpeaker, KokoroVoiceSpec
from callsense.calls.schemas import Segment, Speaker
from callsense.config import Settings
from callsense.config.models import Channel
from callsense.config.redaction import RedactionSettings
from callsense.redaction import Redaction
from callsense.redaction.digits import normalise
from callsense.redaction.engine import PresidioRedactor
from callsense.speech.audio import DecodedAudio, decode
from callsense.speech.whisper import WhisperTranscriber
from tests.unit.redaction_helpers import whisper_turn
from tools.make_fixtures import (
    DE_AGENT,
    DE_CUSTOMER,
    ES_AGENT,
    FR_AGENT,
    FR_CUSTOMER,
    GAP_S,
    PIPER_AGENT,
    PIPER_CUSTOMER,
    SR,
    EspeakVoiceSpec,
    Int16,
    Synthesizer,
    VoiceSpec,
    write_flac,
)

# The callers' voices, chosen by measurement on a card and a phone number per language (docs/benchmarks.md):
# whisper-base hears Kokoro-82M reading espeak-ng's phonemes (bench/redaction_voices.py) far better than
# espeak-ng's own voices, of which only Spanish "es+klatt" with a word gap gave it any digits (--espeak).
VOICES: dict[str, CallerVoice] = {
    "en": PIPER_AGENT,
    "es": KokoroVoiceSpec("es"),
    "de": KokoroVoiceSpec("de"),
    "fr": KokoroVoiceSpec("fr"),
}
ESPEAK_VOICES: dict[str, CallerVoice] = {
    "es": EspeakVoiceSpec("es+klatt", speed=120, pitch=50, word_gap=5),
    "de": DE_AGENT,
    "fr": FR_AGENT,
}
# The agent's "Mm-hmm" between the caller's parts: in the caller's voice on its own channel (--stereo); in
# another voice (the fixtures' other speaker) when both share one channel (--mono), as on a real call.
MONO_AGENT_VOICES: dict[str, VoiceSpec] = {
    "en": PIPER_CUSTOMER,
    "es": ES_AGENT,
    "de": DE_CUSTOMER,
    "fr": FR_CUSTOMER,
}
CallerVoice = VoiceSpec | KokoroVoiceSpec
AGENT_BETWEEN = Segment(speaker=Speaker.agent, start=0, end=0, text="Mm-hmm.", confidence=1.0)


class Voices:
    """The fixtures' synthesizer (Piper, espeak-ng) and Kokoro, each speaking the voices it has."""

    def __init__(self, callers: dict[str, CallerVoice]) -> None:
        self.callers = callers
        self._fixtures = Synthesizer()
        self._kokoro = KokoroSpeaker()

    def reset(self) -> None:
        self._fixtures.reset()

    def speak(self, text: str, voice: CallerVoice) -> Int16:
        if isinstance(voice, KokoroVoiceSpec):
            return self._kokoro.speak(text, voice)
        return self._fixtures.speak(text, voice)


def speak(synth: Voices, text: str, language: str) -> DecodedAudio:
    synth.reset()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "utterance.flac"
        write_flac(path, synth.speak(text, synth.callers[language]).reshape(-1, 1))
        return decode(path.read_bytes(), max_seconds=600)


def caller_turns(transcriber: WhisperTranscriber, synth: Voices, item: Item) -> tuple[list[Segment], float]:
    """The caller's parts as Whisper heard them, one turn each, the agent's "Mm-hmm" between them, and the
    seconds Whisper took (the voices' time left out)."""
    turns: list[Segment] = [whisper_turn(Speaker.agent, item.asked)] if item.asked else []
    seconds = 0.0
    for audio in [speak(synth, part, item.language) for part in item.parts]:
        started = time.perf_counter()
        heard = transcriber.transcribe(audio, language=item.language).segments
        seconds += time.perf_counter() - started
        words = [word for segment in heard for word in segment.words]
        if turns and turns[-1].speaker is Speaker.customer:
            turns.append(AGENT_BETWEEN)
        text = "".join(word.text for word in words).strip()
        start, end = (words[0].start, words[-1].end) if words else (0.0, 0.0)
        turns.append(
            Segment(speaker=Speaker.customer, start=start, end=end, text=text, confidence=0.9, words=words)
        )
    return turns, seconds


def call_turns(
    transcriber: WhisperTranscriber, synth: Voices, item: Item, *, mono: bool
) -> tuple[list[Segment], float]:
    """The item as one call transcribed as callsense does: the caller's parts, the agent's "Mm-hmm" between
    them; stereo (agent left, caller right, one voice) or mixed into one channel (two voices, diarized); and
    the seconds Whisper took."""
    synth.reset()
    gap = np.zeros(int(GAP_S * SR), np.int16)
    agent: list[Int16] = [gap]
    caller: list[Int16] = [gap]
    agent_voice = (MONO_AGENT_VOICES if mono else synth.callers)[item.language]
    if item.asked:
        asked = synth.speak(item.asked, agent_voice)
        agent += [asked, gap]
        caller += [np.zeros_like(asked), gap]
    for index, part in enumerate(item.parts):
        if index:
            between = synth.speak(AGENT_BETWEEN.text, agent_voice)
            agent += [between, gap]
            caller += [np.zeros_like(between), gap]
        said = synth.speak(part, synth.callers[item.language])
        agent += [np.zeros_like(said), gap]
        caller += [said, gap]
    channels = [np.concatenate(agent), np.concatenate(caller)]
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "call.flac"
        write_flac(path, (channels[0] + channels[1]).reshape(-1, 1) if mono else np.stack(channels, axis=1))
        audio = decode(path.read_bytes(), max_seconds=600)
    started = time.perf_counter()
    segments = transcriber.transcribe(audio, language=item.language, agent_channel=Channel.left).segments
    return segments, time.perf_counter() - started


def script_turns(item: Item) -> list[Segment]:
    """The caller's parts as a perfect transcriber would write them, one word per token, after the agent's
    question if the item has one."""
    turns: list[Segment] = [whisper_turn(Speaker.agent, item.asked)] if item.asked else []
    for part in item.parts:
        if turns and turns[-1].speaker is Speaker.customer:
            turns.append(AGENT_BETWEEN)
        turns.append(whisper_turn(Speaker.customer, part))
    return turns


def _remaining(item: Item, segments: list[Segment]) -> tuple[str, str]:
    words = [word.text for segment in segments for word in segment.words]
    digits = normalise(words, language=item.language, turn_ends=set(), joined=True).text
    return re.sub(r"\D", " ", digits), " ".join(words).lower()


def heard(item: Item, turns: list[Segment]) -> bool:
    """Whether the transcript holds the item's secret at all: every digit in order, or every word."""
    digits, text = _remaining(item, turns)
    if item.secret.isdigit():
        return item.secret in digits.replace(" ", "")
    return all(secret in text for secret in item.secret.split())


def leaked(item: Item, redaction: Redaction) -> bool:
    """Whether anything of the item's secret is left in the redacted turns: four of its digits in a row (all
    of a shorter one, a security code), or one of its words."""
    digits, text = _remaining(item, redaction.segments)
    if item.secret.isdigit():
        width = min(4, len(item.secret))
        return any(item.secret[i : i + width] in digits for i in range(len(item.secret) - width + 1))
    return any(secret in text for secret in item.secret.split())


class Score:
    """Per (language, entity): items, heard, found, found of those heard, spans of the type on items
    without it."""

    def __init__(self) -> None:
        self.counts: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0, 0, 0, 0])

    def add(self, item: Item, turns: list[Segment], redaction: Redaction) -> None:
        types = {span.entity for span in redaction.spans}
        if item.entity is not None:
            row = self.counts[(item.language, item.entity)]
            row[0] += 1
            was_heard = heard(item, turns)
            found = item.entity in types and not leaked(item, redaction)
            row[1] += was_heard
            row[2] += found
            row[3] += was_heard and found
        for span in redaction.spans:
            if span.entity != item.entity:
                self.counts[(item.language, span.entity)][4] += 1

    def table(self, title: str) -> Table:
        table = Table(title=title)
        for column in ("language", "entity", "items", "heard", "recall", "of heard", "precision", "F2"):
            table.add_column(column)
        for (language, entity), (items, heard_, found, heard_found, false) in sorted(self.counts.items()):
            recall = found / items if items else float("nan")
            precision = found / (found + false) if found + false else float("nan")
            f2 = 5 * precision * recall / (4 * precision + recall) if precision + recall else 0.0
            of_heard = f"{heard_found / heard_:.2f}" if heard_ else "-"
            cells = (str(items), str(heard_), f"{recall:.2f}", of_heard, f"{precision:.2f}", f"{f2:.2f}")
            table.add_row(language, entity, *cells)
        return table


def transcript_key(layout: str, item: Item) -> str:
    """Where an item's transcript is stored in a ``--transcripts`` file."""
    asked = f"{item.asked} // " if item.asked else ""
    return f"{layout}{item.language}: {asked}{' / '.join(item.parts)}"


def compare(files: list[Path], items: list[Item], layout: str, redactor: PresidioRedactor) -> Table:
    """Recall per language and type (items heard in full in brackets) and Whisper's seconds per call, one
    column per file of stored transcripts (``--transcripts`` of runs with different decoding settings)."""
    scores: list[Score] = []
    seconds: list[list[float]] = []
    for path in files:
        stored = json.loads(path.read_text())
        score, times = Score(), []
        for item in items:
            key = transcript_key(layout, item)
            if key in stored:
                spent, dumped = stored[key]
                turns = [Segment.model_validate(turn) for turn in dumped]
                score.add(item, turns, redactor.redact_segments(turns, language=item.language))
                times.append(spent)
        scores.append(score)
        seconds.append(times)
    table = Table(title=f"Recall (heard) on stored transcripts, {layout or 'per turn '}")
    for column in ("language", "entity", *(path.stem for path in files)):
        table.add_column(column)
    for language, entity in sorted({key for score in scores for key in score.counts}):
        cells = []
        for score in scores:
            items_, heard_, found = score.counts.get((language, entity), [0, 0, 0])[:3]
            cells.append(f"{found / items_:.2f} ({heard_})" if items_ else "-")
        table.add_row(language, entity, *cells)
    table.add_section()
    calls = [f"{sum(times) / len(times):.2f} s ({len(times)} calls)" if times else "-" for times in seconds]
    table.add_row("", "Whisper s/call", *calls)
    return table


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--model", default="base")
    parser.add_argument("--language", action="append", help="only these languages (repeatable)")
    parser.add_argument(
        "--script-only", action="store_true", help="skip TTS and Whisper: the scripts' text only"
    )
    parser.add_argument(
        "--without-ner", action="store_true", help="names by cue only (redaction.ner_models off)"
    )
    layout = parser.add_mutually_exclusive_group()
    layout.add_argument(
        "--stereo",
        action="store_true",
        help="each item as one stereo call (agent left, caller right) instead of one file per caller turn",
    )
    layout.add_argument(
        "--mono",
        action="store_true",
        help="each item as one mono call (agent and caller mixed, diarized by callsense)",
    )
    parser.add_argument(
        "--espeak",
        action="store_true",
        help="Spanish, German and French callers in espeak-ng's voices instead of Kokoro's (as before)",
    )
    parser.add_argument(
        "--number-beam-size",
        type=int,
        default=RedactionSettings().number_beam_size,
        help="decode the segments holding read-out numbers again with this beam, as callsense does while "
        "redaction is on (redaction.number_beam_size; 1: Whisper's first pass alone)",
    )
    parser.add_argument("--show", action="store_true", help="print each transcript and its redaction")
    parser.add_argument(
        "--compare",
        type=Path,
        nargs="+",
        help="score these files of stored transcripts (--transcripts of earlier runs, e.g. one per decoding "
        "setting) side by side, in the layout given: no voices, no Whisper",
    )
    parser.add_argument(
        "--transcripts",
        type=Path,
        help="a JSON file keeping Whisper's transcripts (and their times) between runs: a change to the "
        "redactor is then measured in seconds",
    )
    args = parser.parse_args()
    settings = Settings()
    redactor = PresidioRedactor(RedactionSettings(ner_models=not args.without_ner))
    console = Console(width=120)
    started = time.perf_counter()
    redactor.redact_text("warm up", language="en")
    load_seconds = time.perf_counter() - started
    items = [item for item in ITEMS if not args.language or item.language in args.language]
    layout = ("stereo " if args.stereo else "mono " if args.mono else "") + ("espeak " if args.espeak else "")
    if args.compare:
        console.print(compare(args.compare, items, layout, redactor))
        return
    script, asr = Score(), Score()
    asr_seconds = redact_seconds = 0.0
    # Decoding as configured (CALLSENSE_ASR__BEAM_SIZE=5 …), the model as given here.
    asr_settings = settings.asr.model_copy(update={"model": args.model})
    transcriber = WhisperTranscriber(
        asr_settings, model_dir=settings.resolved_model_dir, number_beam_size=args.number_beam_size
    )
    synth = None if args.script_only else Voices(VOICES | (ESPEAK_VOICES if args.espeak else {}))
    heard_before: dict[str, tuple[float, list[dict[str, object]]]] = {}
    if args.transcripts and args.transcripts.is_file():
        heard_before = json.loads(args.transcripts.read_text())
    for item in items:
        turns = script_turns(item)
        script.add(item, turns, redactor.redact_segments(turns, language=item.language))
        if synth is None:
            continue
        key = transcript_key(layout, item)
        if key not in heard_before:
            if args.stereo or args.mono:
                turns, seconds = call_turns(transcriber, synth, item, mono=args.mono)
            else:
                turns, seconds = caller_turns(transcriber, synth, item)
            heard_before[key] = (seconds, [turn.model_dump(mode="json") for turn in turns])
            if args.transcripts:
                args.transcripts.write_text(json.dumps(heard_before, ensure_ascii=False, indent=1))
        seconds, dumped = heard_before[key]
        asr_seconds += seconds
        turns = [Segment.model_validate(turn) for turn in dumped]
        started = time.perf_counter()
        redaction = redactor.redact_segments(turns, language=item.language)
        redact_seconds += time.perf_counter() - started
        asr.add(item, turns, redaction)
        if args.show:
            said = " / ".join(turn.text for turn in turns)
            console.print(f"[{item.language} {item.entity}] {said}", markup=False)
            console.print(f"    -> {' / '.join(turn.text for turn in redaction.segments)}", markup=False)
    console.print(script.table("PII redaction on the scripts (what a perfect transcriber would write)"))
    if synth is not None:
        decoding = f"beam {asr_settings.beam_size}, temperatures {asr_settings.temperatures}"
        if args.number_beam_size > asr_settings.beam_size:
            decoding += f", numbers again with beam {args.number_beam_size}"
        if asr_settings.hotwords or asr_settings.hotwords_by_language:
            decoding += ", with hotwords"
        console.print(
            asr.table(f"PII redaction on whisper-{args.model} ({decoding}) transcripts of the TTS callers")
        )
        console.print(
            f"{len(items)} calls: transcription {asr_seconds / len(items):.2f} s/call, redaction "
            f"{redact_seconds / len(items) * 1000:.0f} ms/call ({redact_seconds / asr_seconds:.1%} of it); "
            f"loading the redactor once: {load_seconds:.1f} s"
        )


if __name__ == "__main__":
    main()
