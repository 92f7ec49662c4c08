"""The LLM's instructions made ready before the first call needs them (``LLMBackend.prepare``).

With the embedded back-end the first request with a system prompt that has no saved prompt state evaluates
it (about 10 s on 2 cores, ``backends/llm/prompt_states.py``). That first request used to be a real call's:
after an install, a model change or a new taxonomy, the first call took that much longer. Now
``callsense models assemble`` saves the state of every instruction the settings use. A state already saved
costs a file check, and nothing is loaded for it. A failure is logged and left to the analysis itself. No
process builds states as it starts: on 2 cores that competes with the first call's transcription.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

import structlog

from callsense.backends.llm.base import LLMBackend
from callsense.config import Settings
from callsense.config.models import TranslationEngine
from callsense.pipeline import ask, prompts

log = structlog.get_logger(__name__)


def every_instruction(settings: Settings) -> list[str]:
    """Every system prompt the settings may use, the analysis's first: the merge of a long call's parts,
    the translation of a call not in English (with ``translation = "llm"``) and a question about a call."""
    analysis = prompts.analysis_prompt(settings.analysis.topics)
    found = [analysis.system, analysis.reduce_system]
    if settings.translation is TranslationEngine.llm:
        found.append(prompts.TRANSLATION_SYSTEM)
    found.append(ask.SYSTEM)
    return found


def prepare(llm: LLMBackend, systems: Sequence[str]) -> bool:
    """``llm.prepare(systems)``, never raising: False, logged, when it failed (the model cannot be loaded,
    say); the analysis then meets the same problem and reports it as its own."""
    started = time.perf_counter()
    try:
        ready = llm.prepare(systems)
    except Exception as exc:  # whatever it is, the call that needs the model will raise it in its stage
        log.warning("llm_instructions_not_prepared", error=repr(exc))
        return False
    log.info(
        "llm_instructions_prepared",
        count=len(systems),
        ready=ready,
        seconds=round(time.perf_counter() - started, 2),
    )
    return ready
