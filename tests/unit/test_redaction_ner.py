"""The NER pipelines are read only after their directory matches its pin, and only for a language that has a
text to read; a missing wheel is skipped."""

from __future__ import annotations

import pytest
from spacy.language import Language

from callsense.assets.catalog import NER_PIPELINES, PipelineDirectory
from callsense.errors import ModelAssetError
from callsense.redaction import ner
from callsense.redaction.nlp import TokenizerNlpEngine


def test_a_pipeline_whose_files_differ_from_the_pin_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    pin = NER_PIPELINES["en"]
    monkeypatch.setattr(ner, "NER_PIPELINES", {"en": PipelineDirectory(pin.distribution, pin.path, "0" * 64)})
    with pytest.raises(ModelAssetError, match="manifest SHA-256"):
        ner.load_ner_pipelines()


def test_a_pipeline_not_installed_is_skipped(monkeypatch: pytest.MonkeyPatch) -> None:
    missing = PipelineDirectory("no-such-ner-wheel", "no_such/dir", "0" * 64)
    monkeypatch.setattr(ner, "NER_PIPELINES", {"de": missing})
    assert ner.load_ner_pipelines() == {}


def test_a_language_pipeline_is_loaded_on_its_first_text_and_once() -> None:
    loaded: list[str] = []

    def load(language: str) -> Language | None:
        loaded.append(language)
        return None  # as for a language without an NER wheel: its tokenizer alone

    engine = TokenizerNlpEngine(["en", "fr"], frozenset(), ner=load)
    assert loaded == []  # French's tokenizer takes seconds to build: nothing up front
    for text in ("Thanks, Mr Miller.", "Thank you, goodbye."):
        artifacts = engine.process_text(text, "en")
    assert loaded == ["en"]
    assert [token.text for token in artifacts.tokens] == ["Thank", "you", ",", "goodbye", "."]
    assert engine.is_stopword("you", "en") and not engine.is_stopword("goodbye", "en")
    assert engine.get_supported_languages() == ["en", "fr"]
