"""The NER pipelines are read only after their directory matches its pin; a missing wheel is skipped."""

from __future__ import annotations

import pytest

from callsense.assets.catalog import NER_PIPELINES, PipelineDirectory
from callsense.errors import ModelAssetError
from callsense.redaction import ner


def test_a_pipeline_whose_files_differ_from_the_pin_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    pin = NER_PIPELINES["en"]
    monkeypatch.setattr(ner, "NER_PIPELINES", {"en": PipelineDirectory(pin.distribution, pin.path, "0" * 64)})
    with pytest.raises(ModelAssetError, match="manifest SHA-256"):
        ner.load_ner_pipelines()


def test_a_pipeline_not_installed_is_skipped(monkeypatch: pytest.MonkeyPatch) -> None:
    missing = PipelineDirectory("no-such-ner-wheel", "no_such/dir", "0" * 64)
    monkeypatch.setattr(ner, "NER_PIPELINES", {"de": missing})
    assert ner.load_ner_pipelines() == {}
