"""One validated settings object for the whole product.

Values come, highest priority first, from: explicit overrides (CLI flags), environment variables
``CALLSENSE_*`` (nested with ``__``, e.g. ``CALLSENSE_LLM__BACKEND=ollama``), the TOML file named by
``CALLSENSE_CONFIG`` (or ``./callsense.toml`` when present), then the defaults below. Every option is
documented in ``docs/configuration.md``, generated from these field descriptions.
"""

from __future__ import annotations

import json
import os
import re
import tomllib
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field, ValidationError, field_validator, model_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    SettingsError,
    TomlConfigSettingsSource,
)

from callsense.config.analysis import AnalysisSettings
from callsense.config.blobs import BlobSettings
from callsense.config.categories import Category, parse_categories, parse_category
from callsense.config.deliveries import DeliverySettings
from callsense.config.fetch import REMOVED_FETCH_OPTIONS, FetchSettings
from callsense.config.models import ASRSettings, LLMSettings, SpeakerSettings, TranslationEngine
from callsense.config.queue import QueueSettings
from callsense.config.redaction import RedactionSettings
from callsense.config.retention import RetentionSettings
from callsense.config.service import (
    MetricsSettings,
    ServerSettings,
    SignInSettings,
    TwilioSettings,
    WebhookSettings,
)
from callsense.config.sources import SourcesSettings
from callsense.config.talk import TalkSettings

# What callsense.db connects with: psycopg 3, also under the names PostgreSQL's own URLs use.
POSTGRESQL_DRIVERS = {"postgresql", "postgres", "postgresql+psycopg"}


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="CALLSENSE_", env_nested_delimiter="__", extra="forbid", validate_default=True
    )

    data_dir: Path = Field(
        default=Path.home() / ".local" / "share" / "callsense",
        description="Where the embedded database, the key file, blobs and assembled models live.",
    )
    database_url: str | None = Field(
        default=None,
        description="SQLAlchemy URL of an external PostgreSQL (postgresql+psycopg://user@host/db). "
        "Unset: an embedded PostgreSQL starts itself in data_dir/postgres.",
    )
    key_file: Path | None = Field(
        default=None,
        description="Encryption key ring (JSON, mode 0600). Unset: data_dir/keys.json, made on first run.",
    )
    blob_dir: Path | None = Field(
        default=None,
        description="The filesystem archive of encrypted recordings (blobs.backend 'filesystem'; a local "
        "disk or a NAS mount, see docs/archive.md). Unset: data_dir/blobs.",
    )
    model_dir: Path | None = Field(default=None, description="Assembled model cache. Unset: data_dir/models.")
    max_file_bytes: int = Field(default=512 * 1024 * 1024, gt=0, description="Largest recording accepted.")
    max_audio_seconds: float = Field(default=4 * 3600, gt=0, description="Longest recording accepted.")
    translation: TranslationEngine = Field(
        default=TranslationEngine.llm,
        description="How non-English calls become English: the LLM (turn by turn, from the transcript), "
        "Whisper's translate task (faster, but whisper-base translates poorly: chrF 38 against the LLM's 57 "
        "in bench/translation.py), or off.",
    )
    log_level: str = Field(default="WARNING", description="DEBUG, INFO, WARNING or ERROR.")
    log_json: bool = Field(default=False, description="Write logs as JSON lines (for log shippers).")
    asr: ASRSettings = Field(default_factory=ASRSettings)
    speakers: SpeakerSettings = Field(default_factory=SpeakerSettings)
    llm: LLMSettings = Field(default_factory=LLMSettings)
    talk: TalkSettings = Field(default_factory=TalkSettings)
    analysis: AnalysisSettings = Field(default_factory=AnalysisSettings)
    webhooks: WebhookSettings = Field(default_factory=WebhookSettings)
    twilio: TwilioSettings = Field(default_factory=TwilioSettings)
    server: ServerSettings = Field(default_factory=ServerSettings)
    sign_in: SignInSettings = Field(default_factory=SignInSettings)
    metrics: MetricsSettings = Field(default_factory=MetricsSettings)
    fetch: FetchSettings = Field(default_factory=FetchSettings)
    queue: QueueSettings = Field(default_factory=QueueSettings)
    deliveries: DeliverySettings = Field(default_factory=DeliverySettings)
    sources: SourcesSettings = Field(default_factory=SourcesSettings)
    blobs: BlobSettings = Field(default_factory=BlobSettings)
    redaction: RedactionSettings = Field(default_factory=RedactionSettings)
    retention: RetentionSettings = Field(default_factory=RetentionSettings)
    categories: tuple[Category, ...] = Field(
        default=(),
        description="Call categories (rules on what was said, sentiment, topic, outcome and talk figures), "
        "evaluated on every call; read-only on the dashboard, which can add its own. TOML: [[categories]] "
        "name = '...' rule = { said = ['this call is recorded'], speaker = 'agent', first_s = 30 }. The rule "
        "language: docs/analytics.md, Categories.",
    )

    @field_validator("log_level")
    @classmethod
    def _known_level(cls, value: str) -> str:
        if value.upper() not in {"DEBUG", "INFO", "WARNING", "ERROR"}:
            raise ValueError("log_level must be DEBUG, INFO, WARNING or ERROR")
        return value.upper()

    @model_validator(mode="after")
    def _retention_names_sources(self) -> Settings:
        known = {source.name for source in self.sources.all()}
        unknown = sorted(set(self.retention.sources) - known)
        if unknown:
            raise ValueError(
                f"retention.sources names {', '.join(unknown)}, not a configured source "
                f"(configured: {', '.join(sorted(known)) or 'none'})"
            )
        return self

    @field_validator("database_url")
    @classmethod
    def _postgresql_url(cls, value: str | None) -> str | None:
        from sqlalchemy.engine import make_url
        from sqlalchemy.exc import ArgumentError

        if not value:
            return None
        try:
            driver = make_url(value).drivername
        except (ArgumentError, ValueError) as exc:
            raise ValueError(f"not a PostgreSQL URL (postgresql://user@host/db): {exc}") from exc
        if driver not in POSTGRESQL_DRIVERS:
            raise ValueError(f"not a PostgreSQL URL (postgresql://user@host/db): it names {driver}")
        return value

    @field_validator("talk", mode="before")
    @classmethod
    def _known_talk_keys(cls, value: object) -> object:
        # Here, not in TalkSettings: it also reads the thresholds stored with past calls, which may hold more.
        if isinstance(value, dict) and (unknown := sorted(value.keys() - TalkSettings.model_fields.keys())):
            raise ValueError(f"unknown option(s) {', '.join(unknown)}")
        return value

    @field_validator("categories", mode="before")
    @classmethod
    def _valid_categories(cls, value: object) -> tuple[Category, ...]:
        return parse_categories(value)

    @model_validator(mode="after")
    def _categories_name_topics(self) -> Settings:
        labels = {topic.label for topic in self.analysis.topics}
        for category in self.categories:
            parse_category(category, topics=labels)
        return self

    def make_data_dir(self) -> Path:
        """``data_dir``, made if it is missing: 0700, as it holds the key file and the recordings (the
        embedded PostgreSQL, run by root, opens it to the user it runs as: docs/security.md)."""
        from callsense.errors import ConfigError

        try:
            self.data_dir.mkdir(parents=True, mode=0o700)
        except FileExistsError as exc:  # strerror would say "File exists", which reads as no problem at all
            if not self.data_dir.is_dir():
                problem = "it is a file, not a directory"
                raise ConfigError(f"cannot use data_dir {self.data_dir}: {problem}") from exc
        except OSError as exc:
            raise ConfigError(f"cannot use data_dir {self.data_dir}: {exc.strerror}") from exc
        else:
            self.data_dir.chmod(0o700)  # mkdir's mode is filtered by the umask
        return self.data_dir

    @property
    def resolved_key_file(self) -> Path:
        return self.key_file or self.data_dir / "keys.json"

    @property
    def resolved_blob_dir(self) -> Path:
        return self.blob_dir or self.data_dir / "blobs"

    @property
    def resolved_model_dir(self) -> Path:
        return self.model_dir or self.data_dir / "models"

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        toml_path = config_file_path()
        if toml_path is not None:
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=toml_path))
        return tuple(sources)


def config_file_path() -> Path | None:
    explicit = os.environ.get("CALLSENSE_CONFIG")
    if explicit:
        return Path(explicit)
    local = Path("callsense.toml")
    return local if local.is_file() else None


# Not a setting: ``callsense backup`` reads the key ring's passphrase from it, so a script need not type it.
BACKUP_PASSPHRASE_VARIABLE = "CALLSENSE_BACKUP_PASSPHRASE"


def known_variables() -> set[str]:
    names = {"CALLSENSE_CONFIG", BACKUP_PASSPHRASE_VARIABLE, *_variables(Settings, "CALLSENSE_")}
    # Known, so that they reach FetchSettings and its warning instead of stopping the start.
    names.update(f"CALLSENSE_FETCH__{name.upper()}" for name in REMOVED_FETCH_OPTIONS)
    return names


def _variables(model: type[BaseModel], prefix: str) -> set[str]:
    """The variable of each option of ``model``, and of the groups of options within it."""
    names = set()
    for name, info in model.model_fields.items():
        names.add(f"{prefix}{name.upper()}")
        nested = info.annotation
        if isinstance(nested, type) and issubclass(nested, BaseModel):
            names |= _variables(nested, f"{prefix}{name.upper()}__")
    return names


def load_settings(**overrides: Any) -> Settings:
    """Build the settings; raises ``ConfigError`` with every problem listed, one per line."""
    from callsense.errors import ConfigError

    explicit = os.environ.get("CALLSENSE_CONFIG")
    if explicit and not Path(explicit).is_file():
        raise ConfigError(f"CALLSENSE_CONFIG points to {explicit}, which is not a file")
    unknown = sorted(set(name for name in os.environ if name.startswith("CALLSENSE_")) - known_variables())
    if unknown:  # pydantic-settings ignores them; a typo would silently fall back to a default
        raise ConfigError(
            f"unknown setting(s) in the environment: {', '.join(unknown)} (see docs/configuration.md)"
        )
    try:
        return Settings(**overrides)
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"{config_file_path()} is not valid TOML: {exc}") from exc
    except OSError as exc:  # reading the TOML file: the settings' own checks raise ValueError
        raise ConfigError(f"cannot read {exc.filename or config_file_path()}: {exc.strerror or exc}") from exc
    except SettingsError as exc:
        raise ConfigError(f"invalid configuration: {_unparsed_variable(exc)}") from exc
    except ValidationError as exc:
        raise ConfigError(f"invalid configuration: {_problems(exc)}") from exc


# The names pydantic gives the members of a union ("constrained-int", "literal['forever']") in an error's
# location: not options, and nothing an operator wrote.
_UNION_MEMBER = re.compile(r"constrained-\w+|(literal|function-\w+|json-or-python|lax-or-strict)\[.*\]")


def _problems(exc: ValidationError) -> str:
    """One problem per option: the messages of a union's members joined with "or", where it was set."""
    by_option: dict[tuple[int | str, ...], list[str]] = {}
    for error in exc.errors():
        location = tuple(
            part for part in error["loc"] if not (isinstance(part, str) and _UNION_MEMBER.fullmatch(part))
        )
        # A validator's own words, without pydantic's "Value error, " in front of them.
        message = str(error["ctx"]["error"]) if error["type"] == "value_error" else error["msg"]
        by_option.setdefault(location, []).append(message)
    return "; ".join(
        f"{'.'.join(str(part) for part in location) or 'settings'}: {' or '.join(dict.fromkeys(messages))}"
        + _set_in(location)
        for location, messages in by_option.items()
    )


def _set_in(location: tuple[int | str, ...]) -> str:
    """Where the faulty option was set, for an operator with both a file and variables: the variable of the
    option or of its table (variables win over the file), else the file."""
    for depth in (2, 1):
        name = "CALLSENSE_" + "__".join(str(part) for part in location[:depth]).upper()
        if len(location) >= depth and name in os.environ:
            return f" ({name})"
    path = config_file_path()
    return f" (in {path})" if location and path is not None else ""


def _unparsed_variable(exc: SettingsError) -> str:
    """Which variable holds no JSON where a list or a table is expected: pydantic-settings names the field."""
    cause = exc.__cause__
    if isinstance(cause, json.JSONDecodeError):
        names = sorted(
            name for name, value in os.environ.items() if name.startswith("CALLSENSE_") and value == cause.doc
        )
        if names:
            example = """'["a", "b"]' or '{"NAME": "value"}'"""
            return (
                f"{' or '.join(names)} is not valid JSON ({cause.msg}); write lists and tables as {example}"
            )
    return str(exc)
