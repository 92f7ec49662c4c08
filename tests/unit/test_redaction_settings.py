"""Redaction settings: defaults, a custom pattern that does not compile is refused with its name."""

from __future__ import annotations

import pytest

from callsense.config import load_settings
from callsense.config.redaction import EntityType, RedactionSettings
from callsense.errors import ConfigError


def test_redaction_is_on_for_every_type_by_default_and_keeps_no_original_audio() -> None:
    settings = RedactionSettings()
    assert settings.enabled and settings.entities == list(EntityType) and settings.audio == "tone"
    assert not settings.keeps_original_audio
    assert RedactionSettings(enabled=False).keeps_original_audio
    assert RedactionSettings(keep_original_audio=True).keeps_original_audio


def test_a_custom_pattern_that_does_not_compile_stops_the_start_with_its_name(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("CALLSENSE_REDACTION__CUSTOM_PATTERNS", '{"POLICY_NUMBER": "POL-(\\\\d{8}"}')
    with pytest.raises(ConfigError, match="POLICY_NUMBER does not compile"):
        load_settings()


def test_a_custom_pattern_compiles_and_loads(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CALLSENSE_REDACTION__CUSTOM_PATTERNS", '{"POLICY_NUMBER": "POL-\\\\d{8}"}')
    assert load_settings().redaction.custom_patterns == {"POLICY_NUMBER": r"POL-\d{8}"}


def test_phone_regions_are_country_codes_libphonenumber_knows() -> None:
    assert RedactionSettings(phone_regions=["CN", "HK"]).phone_regions == ["CN", "HK"]
    with pytest.raises(ValueError, match="unknown phone region"):
        RedactionSettings(phone_regions=["CN", "cn", "China"])
