"""The retention settings: defaults, per-source rules, "forever", and the errors a bad rule gives."""

from __future__ import annotations

from pathlib import Path

import pytest

from callsense.config import load_settings
from callsense.config.retention import Policy, RetentionSettings
from callsense.errors import ConfigError


def test_nothing_is_purged_by_default() -> None:
    settings = RetentionSettings()
    assert settings.default == Policy(audio_days=None, text_days=None) and not settings.active


def test_a_source_overrides_what_it_sets_and_inherits_the_rest() -> None:
    settings = RetentionSettings.model_validate(
        {
            "audio_days": 30,
            "text_days": 365,
            "sources": {
                "nas": {"audio_days": 7},
                "archive": {"text_days": "forever", "audio_days": "forever"},
            },
        }
    )
    assert settings.policy(None) == Policy(30, 365)
    assert settings.policy("nas") == Policy(7, 365)
    assert settings.policy("archive") == Policy(None, None)
    assert settings.policy("other") == Policy(30, 365)
    assert settings.active


def test_a_rule_is_read_from_the_toml_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = tmp_path / "callsense.toml"
    config.write_text(
        '[[sources.folders]]\nname = "nas"\npath = "/srv/nas"\n'
        '[retention]\naudio_days = 90\n[retention.sources.nas]\ntext_days = "forever"\n'
    )
    monkeypatch.setenv("CALLSENSE_CONFIG", str(config))
    settings = load_settings()
    assert settings.retention.policy("nas") == Policy(90, None)


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("CALLSENSE_RETENTION__AUDIO_DAYS", "0", "retention.audio_days"),
        ("CALLSENSE_RETENTION__TEXT_DAYS", "always", "retention.text_days"),
        ("CALLSENSE_RETENTION__AUDIO_DAYS", "36501", "retention.audio_days"),
        ("CALLSENSE_RETENTION__PURGE_CRON", "every night", "purge_cron 'every night' is not a cron line"),
        ("CALLSENSE_RETENTION__SOURCES", '{"nas": {"audio_days": 7}}', "names nas, not a configured source"),
        ("CALLSENSE_RETENTION__SOURCES", '{"x": {"audio_dayz": 7}}', "audio_dayz"),
    ],
)
def test_bad_rules_name_the_option(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str, message: str
) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(ConfigError, match=message):
        load_settings()
