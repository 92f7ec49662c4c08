"""Categories benchmark: re-evaluating stored calls after a category changed, and the cost per new call.

    python bench/categories.py [--calls 1000] [--turns 40]

Stores synthetic analysed calls in a throw-away embedded PostgreSQL through the service layer (real
encryption: turns with word timings, analysis, talk figures), defines five categories (timed phrases, an
absence, sentiment, talk figures, nesting), then times (1) re-evaluating every call in batches as the queue's
jobs do, in this process, and (2) evaluating one call as the analyse stage does at its end. Prints a table.
"""

from __future__ import annotations

import argparse
import random
import statistics
import tempfile
import time
import uuid
from pathlib import Path

from rich.console import Console
from rich.table import Table

from callsense.calls import categories
from callsense.calls import service as calls
from callsense.calls.models import Call
from callsense.calls.schemas import (
    AnalysisResult,
    CallStatus,
    Segment,
    Sentiment,
    SentimentTrend,
    Speaker,
    SpeakerTalk,
    TalkFigures,
    Word,
)
from callsense.config import Settings
from callsense.config.talk import TalkSettings
from callsense.pipeline import categorise
from callsense.runtime import Runtime, open_runtime

VOCABULARY = [
    "the",
    "a",
    "my",
    "your",
    "account",
    "bill",
    "payment",
    "refund",
    "charge",
    "card",
    "number",
    "please",
    "thank",
    "you",
    "sorry",
    "help",
    "order",
    "delivery",
    "router",
    "internet",
    "contract",
    "cancel",
    "upgrade",
    "plan",
    "price",
    "month",
    "today",
    "week",
    "manager",
    "supervisor",
    "recorded",
    "call",
    "quality",
    "check",
    "wait",
    "hold",
    "moment",
    "address",
    "email",
    "password",
    "reset",
    "technician",
    "appointment",
]
CATEGORIES = [
    {
        "name": "Disclosure missing",
        "rule": {"not": {"said": "call is recorded", "speaker": "agent", "first_s": 30}},
    },
    {
        "name": "Escalation asked",
        "rule": {"said": ["speak to a manager", "your supervisor"], "speaker": "customer"},
    },
    {"name": "Unhappy ending", "rule": {"sentiment": "Negative", "speaker": "customer", "quarter": 4}},
    {"name": "Long hold", "rule": {"any": [{"non_talk_s": {"above": 60}}, {"said": "please hold"}]}},
    {
        "name": "Agent dominates",
        "rule": {
            "all": [{"talk_share": {"above": 0.7}, "speaker": "agent"}, {"interruptions": {"above": 3}}]
        },
    },
]


def _segments(rng: random.Random, turns: int) -> list[Segment]:
    found = []
    at = 0.0
    for index in range(turns):
        texts = rng.choices(VOCABULARY, k=15)
        if index == 0 and rng.random() < 0.7:  # most agents say it in their first turn
            texts[3:7] = ["this", "call", "is", "recorded"]
        words = [
            Word(start=at + i * 0.4, end=at + i * 0.4 + 0.3, text=f" {w}", probability=0.9)
            for i, w in enumerate(texts)
        ]
        speaker = Speaker.agent if index % 2 == 0 else Speaker.customer
        found.append(
            Segment(speaker=speaker, start=at, end=at + 6, text=" ".join(texts), confidence=0.9, words=words)
        )
        at += 7.5
    return found


def _store(rt: Runtime, count: int, turns: int) -> None:
    rng = random.Random(7)
    for first in range(0, count, 100):
        with rt.db.transaction() as session:
            for _ in range(first, min(first + 100, count)):
                segments = _segments(rng, turns)
                call = Call(
                    id=uuid.uuid4(), call_id=uuid.uuid4().hex, status=CallStatus.done.value, source="bench"
                )
                call.duration_s = segments[-1].end + 1
                session.add(call)
                side = SpeakerTalk(
                    talk_seconds=100, share=0.5, interruptions=rng.randrange(6), longest_monologue_seconds=6
                )
                talk = TalkFigures(
                    agent=side, customer=side, non_talk_seconds=rng.uniform(0, 120), thresholds=TalkSettings()
                )
                calls.store_transcript(
                    session=session,
                    call=call,
                    keyring=rt.keyring,
                    segments=segments,
                    translated=None,
                    translation_engine=None,
                    asr_model="bench",
                    options={},
                    talk=talk,
                )
                trend = SentimentTrend(customer=rng.choices(list(Sentiment), k=4))
                result = AnalysisResult(
                    summary=["s"], topic="Other", sentiment=rng.choice(list(Sentiment)), sentiment_trend=trend
                )
                calls.store_analysis(
                    session=session,
                    call=call,
                    keyring=rt.keyring,
                    result=result,
                    llm_backend="b",
                    llm_model="b",
                )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--calls", type=int, default=1000)
    parser.add_argument("--turns", type=int, default=40, help="turns per call, 15 words each")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        rt = open_runtime(Settings(data_dir=Path(tmp), categories=CATEGORIES))
        try:
            _store(rt, args.calls, args.turns)
            started = time.perf_counter()
            batches = categorise.stale_ranges(rt)
            evaluated = sum(categorise.run_batch(rt, first, last) for first, last in batches)
            all_seconds = time.perf_counter() - started
            one = []
            with rt.db.transaction() as session:
                found = categories.in_force(session=session, configured=rt.settings.categories)
                for call in session.query(Call).limit(50):
                    segments = calls.read_segments(call=call, keyring=rt.keyring)  # the stage has them
                    analysis = calls.read_analysis(call=call, keyring=rt.keyring)
                    tick = time.perf_counter()
                    categories.categorise(
                        session=session,
                        call=call,
                        keyring=rt.keyring,
                        categories=found,
                        segments=segments,
                        analysis=analysis,
                    )
                    session.flush()
                    one.append(time.perf_counter() - tick)
                counts = categories.counts(session=session)
        finally:
            rt.db.close()
    table = Table(title=f"categories: {len(CATEGORIES)} rules, {args.calls} calls of {args.turns} turns")
    for column in ("measure", "value"):
        table.add_column(column)
    table.add_row(
        "re-evaluate every call (batches of 100, in-process)", f"{all_seconds:.1f} s for {evaluated} calls"
    )
    table.add_row("calls per second", f"{evaluated / all_seconds:.0f}")
    table.add_row("one new call at the end of analyse (median)", f"{1000 * statistics.median(one):.1f} ms")
    table.add_row(
        "calls per category", ", ".join(f"{name}: {count}" for name, count in sorted(counts.items()))
    )
    Console().print(table)


if __name__ == "__main__":
    main()
