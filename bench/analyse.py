"""The analyse stage alone, on a transcript made once: for before/after comparisons of the LLM prompt.

    python bench/analyse.py transcribe CALL.flac /tmp/call.json   # Whisper once (default settings)
    python bench/analyse.py run /tmp/call.json                     # the analysis on the embedded LLM, timed
    python bench/analyse.py run --warm /tmp/call.json              # ...after one short call, as in a worker

    python bench/analyse.py topics tests/fixtures/audio/references.jsonl   # topic of each labelled call
    python bench/analyse.py fields /tmp/q/*.json     # the LLM fields of transcripts made by 'transcribe'

``run`` prints one JSON line: seconds, LLM requests, prompt and answer tokens (as the model counts them), the
fields that failed, the answer, the load average before and after, and llama.cpp's own timings summed over
the requests (``engine``: prompt tokens evaluated and taken from the cache, answer tokens, milliseconds of
each; the rates derived from them are what to compare on a shared machine). With ``--warm`` a short call is
analysed first, untimed, so that the system prompt is already in llama.cpp's prompt cache, as it is in a
long-running worker from its second call on (the server reuses the longest common prefix of the previous
prompt); ``--warm --translated`` also translates that short call, as a worker does after a non-English
call, so that a translation request comes between the two analyses. ``topics`` analyses the spoken words
of each fixture call that has ``expected.topic_labels`` and prints, per call, the topic and whether it
agrees (whether it is one of the call's labels, for a taxonomy label, and whether it names one of the call's
``topic_keywords`` for a free-text topic, as callsense wrote before the taxonomy), the detail and whether it
only repeats a label, the fields that failed, the prompt and answer tokens, llama.cpp's milliseconds per
answer token (the sampling under the grammar included), the load average, and ``not_latin``: the letters
of a script other than Latin and the full-width characters found in any field (none belongs in the answers
about these English, Spanish, German and French calls); with ``--translated`` it translates each call not
in English too, timed apart, with the same figures for the translation. ``fields``
analyses transcripts made by ``transcribe``, in one process (the model loaded once, so from the second call
on the system prompt comes from the cache), and prints per call the label (and whether it is one of the
``expected.topic_labels`` of the fixture call of the same name in ``--references``), the detail, the action
items, the trends as marks, the outcome as 3 marks (resolved, callback needed, escalated: y, n or ?) and the
prompt and answer tokens: for comparing prompt variants on the fields that are not timed. All only call
``analysis.analyse`` and ``build_llm``, so the same script runs against another checkout of callsense
(``PYTHONPATH=/path/to/checkout``): run both in one command, interleaved, on a busy machine.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import time
import unicodedata
from pathlib import Path
from typing import Any

from callsense import runtime
from callsense.backends.llm import build_llm, embedded
from callsense.backends.llm.base import JSONRequest, LLMBackend
from callsense.calls.schemas import Segment
from callsense.config import load_settings
from callsense.config.analysis import DEFAULT_TOPICS
from callsense.pipeline import analysis
from callsense.pipeline.transcript_chunks import turns_of
from callsense.speech.audio import decode


class Counting:
    """The back-end, counting the tokens of every prompt and answer."""

    def __init__(self, llm: LLMBackend) -> None:
        self.llm = llm
        self.name, self.model, self.context_tokens = llm.name, llm.model, llm.context_tokens
        self.requests = self.prompt_tokens = self.answer_tokens = 0

    def complete_json(self, request: JSONRequest) -> str:
        raw = self.llm.complete_json(request)
        self.requests += 1
        self.prompt_tokens += self.llm.count_tokens(request.system) + self.llm.count_tokens(request.user)
        self.answer_tokens += self.llm.count_tokens(raw)
        return raw

    def count_tokens(self, text: str) -> int:
        return self.llm.count_tokens(text)


class Timed:
    """llama.cpp's server, adding up the timings it reports with every chat completion."""

    KEPT = ("prompt_n", "cache_n", "prompt_ms", "predicted_n", "predicted_ms")

    def __init__(self, server: Any) -> None:
        self.server = server
        self.totals = dict.fromkeys(self.KEPT, 0.0)

    def handle_chat_completions(self, payload: dict[str, Any]) -> Any:
        body = self.server.handle_chat_completions(payload)
        timings = body.get("timings", {}) if isinstance(body, dict) else {}
        for key in self.KEPT:
            self.totals[key] += timings.get(key, 0)
        return body

    def __getattr__(self, name: str) -> Any:
        return getattr(self.server, name)

    def summary(self) -> dict[str, float]:
        totals = self.totals
        return {
            **{key: round(value) for key, value in totals.items()},
            "prompt_per_s": round(1000 * totals["prompt_n"] / max(totals["prompt_ms"], 1), 1),
            "answer_per_s": round(1000 * totals["predicted_n"] / max(totals["predicted_ms"], 1), 2),
        }


def timed_engine() -> Timed:
    """The one loaded embedded server, wrapped so that its timings are kept (the model must be loaded)."""
    ((options, loaded),) = embedded._servers.items()
    timed = Timed(loaded.server)
    embedded._servers[options] = dataclasses.replace(loaded, server=timed)
    return timed


def transcribe(audio: Path, out: Path) -> None:
    settings = load_settings()
    whisper = runtime.whisper_transcriber(settings)  # as `callsense process` transcribes
    transcript = whisper.transcribe(decode(audio.read_bytes(), max_seconds=settings.max_audio_seconds))
    out.write_text(
        json.dumps(
            {
                "language": transcript.language,
                "segments": [segment.model_dump(mode="json") for segment in transcript.segments],
            }
        )
    )


WARM_UP_CALL = [
    {"speaker": "agent", "start": 0.0, "end": 3.0, "text": "Acme Energy, how can I help?", "confidence": 1},
    {"speaker": "customer", "start": 3.5, "end": 6.0, "text": "My balance, please?", "confidence": 1},
]


def run(path: Path, *, warm: bool, translated: bool) -> None:
    stored = json.loads(path.read_text())
    segments = [Segment.model_validate(item) for item in stored["segments"]]
    settings = load_settings()
    backend = build_llm(settings.llm, model_dir=settings.resolved_model_dir)
    backend.count_tokens("warm up")  # loads the model outside the timing
    if warm:
        warm_up = [Segment.model_validate(item) for item in WARM_UP_CALL]
        analysis.analyse(segments=warm_up, language="en", llm=backend, translate=translated)
    engine = timed_engine()
    llm = Counting(backend)
    load_before = os.getloadavg()[0]
    started = time.perf_counter()
    result = analysis.analyse(segments=segments, language=stored["language"], llm=llm, translate=False)
    seconds = time.perf_counter() - started
    print(
        json.dumps(
            {
                "seconds": round(seconds, 2),
                "requests": llm.requests,
                "prompt_tokens": llm.prompt_tokens,
                "answer_tokens": llm.answer_tokens,
                "failed": [failure.field for failure in result.failures],
                "load": [round(load_before, 1), round(os.getloadavg()[0], 1)],
                "engine": engine.summary(),
                "result": result.model_dump(mode="json", exclude={"failures", "translated_transcript"}),
            }
        )
    )


def not_latin(texts: list[str]) -> str:
    """The letters of another script than Latin, and the full-width or wide characters (CJK punctuation),
    in ``texts``: on the fixture calls (English, Spanish, German, French) none belongs in an answer."""
    return "".join(
        sorted(
            {
                char
                for text in texts
                for char in text
                if (char.isalpha() and "LATIN" not in unicodedata.name(char, ""))
                or unicodedata.east_asian_width(char) in ("F", "W")
            }
        )
    )


def texts_of(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    items = value.values() if isinstance(value, dict) else value if isinstance(value, list) else []
    return [text for item in items for text in texts_of(item)]


def topics(references: Path, *, translated: bool) -> None:
    settings = load_settings()
    backend = build_llm(settings.llm, model_dir=settings.resolved_model_dir)
    backend.count_tokens("warm up")  # loads the model outside the timing
    engine = timed_engine()
    labels = {topic.label.casefold() for topic in DEFAULT_TOPICS}  # those analyse is given
    seen = set()
    for line in references.read_text().splitlines():
        call = json.loads(line)
        name, expected = call["audio"].split(".")[0], call.get("expected", {})
        if "topic_labels" not in expected or name in seen:
            continue
        seen.add(name)
        segments = [Segment.model_validate({**turn, "confidence": 1.0}) for turn in call["turns"]]
        llm = Counting(backend)
        engine.totals = dict.fromkeys(engine.KEPT, 0.0)
        started = time.perf_counter()
        result = analysis.analyse(segments=segments, language=call["lang"], llm=llm, translate=False)
        seconds = time.perf_counter() - started
        answer_ms, answer_n = engine.totals["predicted_ms"], engine.totals["predicted_n"]
        topic = result.topic
        words = (topic or "").lower()
        found = {
            "call": name,
            "topic": topic,
            "label_agrees": topic in expected["topic_labels"],
            "keyword_agrees": any(word in words for word in expected["topic_keywords"]),
            "detail": result.topic_detail,
            "detail_is_label": result.topic_detail is not None and result.topic_detail.casefold() in labels,
            "not_latin": not_latin(texts_of(result.model_dump(mode="json", exclude={"failures"}))),
            "failed": [failure.field for failure in result.failures],
            "prompt_tokens": llm.prompt_tokens,
            "answer_tokens": llm.answer_tokens,
            "seconds": round(seconds, 1),
            "answer_ms_per_token": round(answer_ms / max(answer_n, 1), 1),
            "load": round(os.getloadavg()[0], 1),
        }
        if translated and call["lang"] != "en":
            llm = Counting(backend)
            started = time.perf_counter()
            lines, failure = analysis.translate_turns(
                turns_of(segments), language=call["lang"], llm=llm, options=analysis.AnalysisOptions()
            )
            found["translation"] = {
                "not_latin": not_latin([lines or ""]),
                "failed": failure is not None,
                "answer_tokens": llm.answer_tokens,
                "seconds": round(time.perf_counter() - started, 1),
                "answer_ms_per_token": round(
                    (engine.totals["predicted_ms"] - answer_ms)
                    / max(engine.totals["predicted_n"] - answer_n, 1),
                    1,
                ),
            }
        print(json.dumps(found, ensure_ascii=False))


MARKS = {"Positive": "+", "Neutral": "0", "Negative": "-", None: "_"}
OUTCOME_MARKS = {True: "y", False: "n", None: "?"}  # resolved, callback needed, escalated


def fields(transcripts: list[Path], references: Path) -> None:
    expected: dict[str, list[str] | None] = {}
    for line in references.read_text().splitlines():
        call = json.loads(line)
        expected.setdefault(call["audio"].split(".")[0], call.get("expected", {}).get("topic_labels"))
    settings = load_settings()
    backend = build_llm(settings.llm, model_dir=settings.resolved_model_dir)
    for path in transcripts:
        stored = json.loads(path.read_text())
        segments = [Segment.model_validate(item) for item in stored["segments"]]
        llm = Counting(backend)
        load = os.getloadavg()[0]
        started = time.perf_counter()
        result = analysis.analyse(segments=segments, language=stored["language"], llm=llm, translate=False)
        labels = expected.get(path.stem)
        trend = result.sentiment_trend.model_dump(mode="json")
        found = {
            "call": path.stem,
            "topic": result.topic,
            "label_agrees": None if labels is None else result.topic in labels,
            "detail": result.topic_detail,
            "action_items": [f"{item.owner.value}: {item.text}" for item in result.action_items],
            "trend": {
                speaker: "".join(MARKS[value] for value in values) for speaker, values in trend.items()
            },
            "outcome": "".join(OUTCOME_MARKS[flag] for flag in result.outcome.model_dump().values()),
            "failed": [failure.field for failure in result.failures],
            "prompt_tokens": llm.prompt_tokens,
            "answer_tokens": llm.answer_tokens,
            "seconds": round(time.perf_counter() - started, 1),
            "load": round(load, 1),
        }
        print(json.dumps(found))


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    commands = parser.add_subparsers(dest="command", required=True)
    making = commands.add_parser("transcribe", help="transcribe AUDIO with Whisper into OUT (JSON)")
    making.add_argument("audio", type=Path)
    making.add_argument("out", type=Path)
    timing = commands.add_parser("run", help="time the analysis of a transcript made by 'transcribe'")
    timing.add_argument("transcript", type=Path)
    timing.add_argument("--warm", action="store_true", help="analyse a short call first, untimed")
    timing.add_argument(
        "--translated", action="store_true", help="with --warm: translate the short call too, untimed"
    )
    labelled = commands.add_parser("topics", help="the topic of each labelled fixture call, and if it agrees")
    labelled.add_argument("references", type=Path)
    labelled.add_argument(
        "--translated", action="store_true", help="translate each call not in English too, timed apart"
    )
    many = commands.add_parser("fields", help="the LLM fields of transcripts made by 'transcribe'")
    many.add_argument("transcripts", type=Path, nargs="+")
    many.add_argument(
        "--references", type=Path, default=Path("tests/fixtures/audio/references.jsonl"), help="labels"
    )
    args = parser.parse_args()
    if args.command == "transcribe":
        transcribe(args.audio, args.out)
    elif args.command == "topics":
        topics(args.references, translated=args.translated)
    elif args.command == "fields":
        fields(args.transcripts, args.references)
    else:
        run(args.transcript, warm=args.warm, translated=args.translated)


if __name__ == "__main__":
    main()
