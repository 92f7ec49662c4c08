"""The analyse stage alone, on a transcript made once: for before/after comparisons of the LLM prompt.

    python bench/analyse.py transcribe CALL.flac /tmp/call.json   # Whisper once (default settings)
    python bench/analyse.py run /tmp/call.json                     # the analysis on the embedded LLM, timed

``run`` prints one JSON line: seconds, LLM requests, prompt and answer tokens (as the model counts them),
the fields that failed, and the answer. It only calls ``analysis.analyse`` and ``build_llm``, so the same
script times another checkout of callsense (``PYTHONPATH=/path/to/checkout``): run both in one command,
interleaved, on a busy machine.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from callsense.backends.llm import build_llm
from callsense.backends.llm.base import JSONRequest, LLMBackend
from callsense.calls.schemas import Segment
from callsense.config import load_settings
from callsense.pipeline import analysis
from callsense.speech.audio import decode
from callsense.speech.whisper import WhisperTranscriber


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


def transcribe(audio: Path, out: Path) -> None:
    settings = load_settings()
    whisper = WhisperTranscriber(settings.asr, model_dir=settings.resolved_model_dir)
    transcript = whisper.transcribe(decode(audio.read_bytes(), max_seconds=settings.max_audio_seconds))
    out.write_text(
        json.dumps(
            {
                "language": transcript.language,
                "segments": [segment.model_dump(mode="json") for segment in transcript.segments],
            }
        )
    )


def run(path: Path) -> None:
    stored = json.loads(path.read_text())
    segments = [Segment.model_validate(item) for item in stored["segments"]]
    settings = load_settings()
    llm = Counting(build_llm(settings.llm, model_dir=settings.resolved_model_dir))
    llm.count_tokens("warm up")  # loads the model outside the timing
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
                "result": result.model_dump(mode="json", exclude={"failures", "translated_transcript"}),
            }
        )
    )


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
    args = parser.parse_args()
    if args.command == "transcribe":
        transcribe(args.audio, args.out)
    else:
        run(args.transcript)


if __name__ == "__main__":
    main()
