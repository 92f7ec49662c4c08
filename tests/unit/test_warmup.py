"""The instructions made ready ahead of the first call (``pipeline/warmup.py``)."""

from __future__ import annotations

from pathlib import Path

import structlog

from callsense.config import Settings
from callsense.pipeline import ask, prompts, warmup
from callsense.runtime import LazyLLM

TAXONOMY = {
    "topics": [
        {"label": "Lost card", "description": "a card lost or stolen"},
        {"label": "Other", "description": "none of these"},
    ]
}


def test_the_instructions_are_those_of_the_configured_taxonomy_the_analysis_first(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, analysis=TAXONOMY, translation="llm")
    analysis = warmup.every_instruction(settings)[0]
    assert "Lost card (a card lost or stolen)" in analysis
    assert warmup.every_instruction(settings) == [
        analysis,
        prompts.analysis_prompt(settings.analysis.topics).reduce_system,
        prompts.TRANSLATION_SYSTEM,
        ask.SYSTEM,
    ]
    whisper_translates = Settings(data_dir=tmp_path, analysis=TAXONOMY, translation="whisper")
    assert prompts.TRANSLATION_SYSTEM not in warmup.every_instruction(whisper_translates)
    assert warmup.every_instruction(Settings(data_dir=tmp_path))[0] != analysis


def test_a_model_that_cannot_be_loaded_is_a_warning_not_a_failure(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, model_dir=tmp_path, llm={"model": str(tmp_path / "gone.gguf")})
    with structlog.testing.capture_logs() as logs:
        assert warmup.prepare(LazyLLM(settings), ["instructions"]) is False
    failures = [log for log in logs if log["event"] == "llm_instructions_not_prepared"]
    assert len(failures) == 1 and all("gone.gguf" in log["error"] for log in failures)
