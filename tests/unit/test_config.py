from __future__ import annotations

from pathlib import Path

import pytest

from callsense.config import load_settings
from callsense.config.fetch import RemovedSettingWarning
from callsense.config.models import LLMBackendName
from callsense.errors import ConfigError


def test_environment_overrides_nested_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CALLSENSE_ASR__MODEL", "tiny.en")
    monkeypatch.setenv("CALLSENSE_LLM__BACKEND", "ollama")
    monkeypatch.setenv("CALLSENSE_LLM__BASE_URL", "http://127.0.0.1:11434")
    settings = load_settings()
    assert settings.asr.model == "tiny.en"
    assert settings.llm.backend is LLMBackendName.ollama


def test_toml_file_is_read_and_env_wins(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = tmp_path / "callsense.toml"
    config.write_text('log_level = "info"\n[asr]\nbeam_size = 3\nagent_channel = "right"\n')
    monkeypatch.setenv("CALLSENSE_CONFIG", str(config))
    monkeypatch.setenv("CALLSENSE_ASR__BEAM_SIZE", "2")
    settings = load_settings()
    assert settings.log_level == "INFO"
    assert settings.asr.agent_channel.value == "right"
    assert settings.asr.beam_size == 2


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("CALLSENSE_LLM__BACKEND", "openai", "llm.base_url is required"),
        ("CALLSENSE_ASR__BEAM_SIZE", "0", r"asr\.beam_size: .* \(CALLSENSE_ASR__BEAM_SIZE\)"),
        ("CALLSENSE_ASR__TEMPERATURES", "[0.8, 0.2]", "ascending"),
        ("CALLSENSE_LOG_LEVEL", "loud", "log_level"),
        # Taken as they were: every analysis then failed, each Twilio callback was refused as badly signed.
        (
            "CALLSENSE_LLM__BASE_URL",
            "gpu-box:11434",
            r"^invalid configuration: llm\.base_url: must be an http\(s\) URL with a host "
            r"\(http://host:port\), not 'gpu-box:11434' \(CALLSENSE_LLM__BASE_URL\)$",
        ),
        ("CALLSENSE_TWILIO__PUBLIC_URL", "calls.example.com", r"twilio\.public_url: must be an http\(s\)"),
        (  # the environment file's placeholder left in place: every signed webhook was answered 503
            "CALLSENSE_WEBHOOKS__SECRETS",
            '["whsec_CHANGE-ME"]',
            r"webhooks\.secrets: secret #1 is not valid base64 \(a secret is whsec_ followed by base64\) "
            r"\(CALLSENSE_WEBHOOKS__SECRETS\)$",
        ),
        ("CALLSENSE_NO_SUCH_OPTION", "1", "CALLSENSE_NO_SUCH_OPTION"),
        (
            "CALLSENSE_DATABASE_URL",
            "db.internal/callsense",
            "database_url: not a PostgreSQL URL",
        ),
        (
            "CALLSENSE_DATABASE_URL",
            "mysql://callsense@db/callsense",
            "database_url: not a PostgreSQL",
        ),
        (
            "CALLSENSE_DATABASE_URL",
            "postgresql://callsense@db:port/callsense",
            "database_url: not a PostgreSQL URL",
        ),
    ],
)
def test_invalid_settings_name_the_option(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str, message: str
) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(ConfigError, match=message):
        load_settings()


@pytest.mark.parametrize(("content", "problem"), [(None, "is not a file"), ("not a PEM\n", "holds no CA")])
def test_a_ca_file_that_cannot_be_read_is_refused_at_start(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, content: str | None, problem: str
) -> None:
    """Taken as it was, it failed every download, of public https recordings too, each retried for half an
    hour as an unexpected error."""
    ca_file = tmp_path / "recorder-ca.pem"
    if content is not None:
        ca_file.write_text(content)
    monkeypatch.setenv("CALLSENSE_FETCH__CA_FILE", str(ca_file))
    with pytest.raises(ConfigError, match=rf"fetch\.ca_file: {ca_file} {problem}.*CALLSENSE_FETCH__CA_FILE"):
        load_settings()


def test_missing_config_file_is_reported(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("CALLSENSE_CONFIG", str(tmp_path / "absent.toml"))
    with pytest.raises(ConfigError, match="not a file"):
        load_settings()


def test_removed_retry_options_still_start_with_a_warning(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A configuration written for the version whose downloads retried by themselves must keep starting,
    # and must say that these options no longer do anything.
    config = tmp_path / "callsense.toml"
    config.write_text("[fetch]\nattempts = 6\nbackoff_max_s = 60\nconnect_timeout_s = 3\n")
    monkeypatch.setenv("CALLSENSE_CONFIG", str(config))
    monkeypatch.setenv("CALLSENSE_FETCH__BACKOFF_S", "2")
    with pytest.warns(RemovedSettingWarning) as warned:
        settings = load_settings()
    messages = sorted(str(warning.message) for warning in warned)
    assert [message.split(" ", 1)[0] for message in messages] == [
        "fetch.attempts",
        "fetch.backoff_max_s",
        "fetch.backoff_s",
    ]
    assert all("ignored" in message and "job queue" in message for message in messages)
    assert settings.fetch.connect_timeout_s == 3
    assert not hasattr(settings.fetch, "attempts")


@pytest.mark.parametrize(
    ("toml", "message"),
    [
        ("[asr\nbeam_size = 2\n", r"callsense\.toml is not valid TOML: Expected '\]'.*line 1"),
        (b"log_level = '\xff'\n", r"callsense\.toml is not valid TOML: .*utf-8"),
        ("[asr]\nbeam_sise = 2\n", r"asr\.beam_sise: Extra inputs are not permitted \(in .*/callsense\.toml"),
        ("[llm]\nbase_ulr = 'http://gpu:8000/v1'\n", r"llm\.base_ulr: Extra inputs are not permitted \(in "),
        ("[talk]\nword_gap = 0.5\n", r"talk: unknown option\(s\) word_gap"),
    ],
)
def test_a_broken_config_file_is_one_clear_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, toml: str | bytes, message: str
) -> None:
    config = tmp_path / "callsense.toml"
    config.write_bytes(toml if isinstance(toml, bytes) else toml.encode())
    monkeypatch.setenv("CALLSENSE_CONFIG", str(config))
    with pytest.raises(ConfigError, match=message):
        load_settings()


def test_an_invalid_value_names_the_file_or_the_variable_that_set_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = tmp_path / "callsense.toml"
    config.write_text("[server]\nport = 'eighty'\n[asr]\nbeam_size = 2\n")
    monkeypatch.setenv("CALLSENSE_CONFIG", str(config))
    monkeypatch.setenv("CALLSENSE_ASR", '{"beam_size": 0}')  # a table in one variable wins over the file
    with pytest.raises(ConfigError) as raised:
        load_settings()
    problems = str(raised.value).removeprefix("invalid configuration: ").split("; ")
    assert [problem.rsplit(" (", 1)[1] for problem in sorted(problems)] == ["CALLSENSE_ASR)", f"in {config})"]


def test_a_variable_that_is_not_json_names_itself(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CALLSENSE_REDACTION__CUSTOM_PATTERNS", "POLICY=POL-\\d{8}")
    with pytest.raises(ConfigError, match=r"CALLSENSE_REDACTION__CUSTOM_PATTERNS is not valid JSON"):
        load_settings()


def test_an_option_of_two_kinds_is_one_problem_without_pydantic_s_names_for_them(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("CALLSENSE_RETENTION__AUDIO_DAYS", "0")  # a number of days or 'forever'
    with pytest.raises(ConfigError) as raised:
        load_settings()
    assert str(raised.value) == (
        "invalid configuration: retention.audio_days: Input should be greater than or equal to 1 or Input "
        "should be 'forever' (CALLSENSE_RETENTION__AUDIO_DAYS)"
    )
