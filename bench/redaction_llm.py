"""Names for redaction: spaCy's NER pipelines against the local LLM, on the labelled set's name utterances.

    python -m bench.redaction_llm

For each item of bench/redaction_calls.py (its script, as a perfect transcriber would write it), asks the
embedded LLM for the person names in it (a JSON list) and runs the NER pipeline of its language (en, fr);
prints the NAME items with what each found and the seconds it took, then the names found, and the names
reported on items that hold none (false positives), for each.
"""

from __future__ import annotations

import json
import time

from rich.console import Console
from rich.table import Table

from bench.redaction_calls import ITEMS
from callsense.backends.llm import build_llm
from callsense.backends.llm.base import JSONRequest
from callsense.config import Settings
from callsense.redaction.ner import load_ner_pipelines

SCHEMA = {
    "type": "object",
    "properties": {"names": {"type": "array", "items": {"type": "string"}}},
    "required": ["names"],
}
SYSTEM = (
    "You find the names of people in a sentence from a phone call: first names and surnames only, never "
    'pronouns, common words, numbers, streets or companies. Answer with JSON: {"names": [...]}, each name '
    'exactly as written. Most sentences contain no name: then answer {"names": []}.'
)


def main() -> None:
    settings = Settings()
    llm = build_llm(settings.llm, model_dir=settings.resolved_model_dir)
    started = time.perf_counter()
    pipelines = load_ner_pipelines()
    ner_load = time.perf_counter() - started
    table = Table(title="names: NER pipeline against the local LLM")
    for column in ("language", "said", "NER", "s", "LLM", "s"):
        table.add_column(column)
    found = {"NER": 0, "LLM": 0}
    false = {"NER": 0, "LLM": 0}
    seconds = {"NER": 0.0, "LLM": 0.0}
    items = [item for item in ITEMS if item.entity == "NAME"]
    for item in ITEMS:
        text, secret = " ".join(item.parts), (item.secret.split() or [""])[-1]
        ner_names, ner_seconds = "-", 0.0
        if item.language in pipelines:
            started = time.perf_counter()
            doc = pipelines[item.language](text)
            ner_seconds = time.perf_counter() - started
            ner_names = ", ".join(e.text for e in doc.ents if e.label_ in ("PERSON", "PER"))
        started = time.perf_counter()
        answer = llm.complete_json(JSONRequest(SYSTEM, text, SCHEMA, "names", max_tokens=150))
        llm_seconds = time.perf_counter() - started
        try:
            llm_names = ", ".join(json.loads(answer).get("names", []))
        except json.JSONDecodeError:  # cut off at max_tokens: a list of words, not names
            llm_names = "(unfinished answer)"
        seconds["NER"] += ner_seconds
        seconds["LLM"] += llm_seconds
        if item.entity != "NAME":
            false["NER"] += ner_names != "-" and bool(ner_names)
            false["LLM"] += bool(llm_names)
            continue
        found["NER"] += secret in ner_names.lower()
        found["LLM"] += secret in llm_names.lower()
        table.add_row(item.language, text, ner_names, f"{ner_seconds:.3f}", llm_names, f"{llm_seconds:.1f}")
    console = Console(width=140)
    console.print(table)
    others = len(ITEMS) - len(items)
    for finder in ("NER", "LLM"):
        console.print(
            f"{finder}: found {found[finder]}/{len(items)} names, named someone on {false[finder]}/{others} "
            f"items without one, {seconds[finder] / len(ITEMS):.3f} s per sentence"
        )
    console.print(f"NER pipelines loaded in {ner_load:.1f} s; LLM: {llm.model}")


if __name__ == "__main__":
    main()
