"""One validated settings object for the whole product.

Values come, highest priority first, from: explicit overrides (CLI flags), environment variables
``CALLSENSE_*`` (nested with ``__``, e.g. ``CALLSENSE_LLM__BACKEND=ollama``), the TOML file named by
``CALLSENSE_CONFIG`` (or ``./callsense.toml`` when present), then the defaults below. Every option is
documented in ``docs/configuration.md``, generated from these field descriptions.
"""

from __future__ import annotations

import os
import warnings
from enum import StrEnum
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field, SecretStr, field_validator, model_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from callsense.backends.crm.settings import DeliverySettings


class Device(StrEnum):
    auto = "auto"
    cpu = "cpu"
    cuda = "cuda"


class Channel(StrEnum):
    left = "left"
    right = "right"


class LLMBackendName(StrEnum):
    embedded = "embedded"
    ollama = "ollama"
    openai = "openai"


class TranslationEngine(StrEnum):
    whisper = "whisper"
    llm = "llm"
    off = "off"


class ASRSettings(BaseModel):
    """Speech recognition (faster-whisper)."""

    model: str = Field(
        default="base",
        description="Whisper model: a bundled name ('base' multilingual, 'tiny.en') or the path of a "
        "CTranslate2 Whisper model directory (e.g. large-v3 converted by the operator). Never a hub name.",
    )
    device: Device = Field(default=Device.auto, description="'auto' uses CUDA when a GPU is visible.")
    compute_type: str = Field(
        default="default", description="CTranslate2 compute type; 'default' is int8 on CPU, float16 on CUDA."
    )
    cpu_threads: int = Field(default=0, ge=0, description="Threads for CPU inference; 0 uses every core.")
    beam_size: int = Field(default=1, ge=1, le=10, description="1 is greedy decoding (fastest).")
    temperatures: list[float] = Field(
        default=[0.0, 0.4],
        min_length=1,
        max_length=4,
        description="Fallback temperatures tried when a window fails the compression/log-prob checks. "
        "Kept short: each fallback re-decodes the window, and long lists make hard audio very slow.",
    )
    vad: bool = Field(
        default=True, description="Skip non-speech with the Silero VAD shipped in faster-whisper."
    )
    agent_channel: Channel = Field(
        default=Channel.left, description="Which stereo channel carries the agent (Amazon Connect: right)."
    )
    mono_similarity: float = Field(
        default=0.95,
        gt=0,
        le=1,
        description="Stereo channels whose correlation exceeds this are treated as one mono channel.",
    )
    batched: bool = Field(
        default=False,
        description="Use faster-whisper's batched pipeline: on 2 cores 28% faster on a 5-minute call, but "
        "less accurate (WER 0.19 -> 0.25 on 40 short clips; docs/benchmarks.md). Worth it on GPUs.",
    )
    batch_size: int = Field(
        default=8, ge=1, le=64, description="Windows decoded together by the batched pipeline."
    )

    @field_validator("temperatures")
    @classmethod
    def _temperatures_in_range(cls, value: list[float]) -> list[float]:
        if any(not 0.0 <= t <= 1.0 for t in value) or value != sorted(value):
            raise ValueError("temperatures must be ascending values between 0 and 1")
        return value


class LLMSettings(BaseModel):
    """The LLM that writes summary, topic, sentiment and emotion."""

    backend: LLMBackendName = Field(
        default=LLMBackendName.embedded,
        description="'embedded' runs a GGUF model in-process (xllamacpp); 'ollama' and 'openai' "
        "(vLLM, llama.cpp server, LM Studio...) call a server at base_url.",
    )
    model: str = Field(
        default="qwen2.5-coder-1.5b",
        description="embedded: a bundled name ('qwen2.5-coder-1.5b', 'qwen2.5-coder-0.5b') or a GGUF path; "
        "ollama/openai: the model name the server knows.",
    )
    base_url: str | None = Field(
        default=None, description="Server URL for ollama (http://host:11434) or openai (http://host:8000/v1)."
    )
    api_key: SecretStr | None = Field(default=None, description="Bearer token for the openai back-end.")
    timeout_s: float = Field(default=300.0, gt=0, description="Longest wait for one LLM answer.")
    context_tokens: int = Field(
        default=4096, ge=1024, description="Context window; longer transcripts are summarised in chunks."
    )
    threads: int = Field(default=0, ge=0, description="embedded: CPU threads; 0 uses every core.")
    gpu_layers: int = Field(default=0, ge=0, description="embedded: layers offloaded to a GPU (CUDA builds).")

    @model_validator(mode="after")
    def _server_needs_url(self) -> LLMSettings:
        if self.backend is not LLMBackendName.embedded and not self.base_url:
            raise ValueError(f"llm.base_url is required when llm.backend is '{self.backend.value}'")
        return self


class WebhookSettings(BaseModel):
    """Incoming "recording ready" webhooks."""

    secrets: list[SecretStr] = Field(
        default_factory=list,
        description="Standard Webhooks signing secrets (whsec_...). Several at once during a rotation.",
    )
    bearer_tokens: list[SecretStr] = Field(
        default_factory=list,
        description="Opt-in, for recorders that cannot sign: accepted 'Authorization: Bearer' tokens.",
    )
    tolerance_s: int = Field(
        default=300, ge=10, le=3600, description="Allowed clock skew of webhook-timestamp."
    )


class TwilioSettings(BaseModel):
    """Twilio RecordingStatusCallback webhooks and recording downloads."""

    account_sid: str | None = Field(default=None, description="Account SID, used to download recordings.")
    auth_tokens: list[SecretStr] = Field(
        default_factory=list, description="Auth tokens that sign callbacks (several during a rotation)."
    )
    public_url: str | None = Field(
        default=None,
        description="The public base URL Twilio calls (https://calls.example.com), needed behind a reverse "
        "proxy because the signature covers the URL Twilio used.",
    )


class ServerSettings(BaseModel):
    """The HTTP API and the worker that `callsense serve` runs."""

    host: str = Field(default="127.0.0.1", description="Address to listen on (0.0.0.0 for every interface).")
    port: int = Field(default=8000, ge=1, le=65535, description="Port to listen on.")
    worker_concurrency: int = Field(
        default=1, ge=0, le=64, description="Jobs the in-process worker runs at once; 0 runs no worker."
    )


class SignInSettings(BaseModel):
    """Dashboard sign-in: failure limits kept in the database (shared by every `serve` process) and the
    password hashing each process does at once."""

    window_s: int = Field(
        default=900, ge=60, le=86400, description="Failed sign-ins are counted over this many seconds."
    )
    max_failures_per_user: int = Field(
        default=10, ge=1, le=10000, description="Failed sign-ins for one user name within the window."
    )
    max_failures_per_client: int = Field(
        default=30,
        ge=1,
        le=100000,
        description="Failed sign-ins from one client address (IPv6: one /64) within the window, over all "
        "user names: stops password spraying.",
    )
    max_failures_total: int = Field(
        default=300,
        ge=1,
        le=100000,
        description="Failed sign-ins from everyone within the window; beyond it nobody can sign in until "
        "the window passes (existing sessions keep working). Also bounds the table that counts them.",
    )
    hash_concurrency: int = Field(
        default=2,
        ge=1,
        le=64,
        description="Sign-ins checked at once per process: each argon2 check takes 64 MiB and four cores.",
    )
    hash_queue: int = Field(
        default=8,
        ge=0,
        le=1000,
        description="Sign-ins that may wait for a check per process; more are answered 503 at once.",
    )


class MetricsSettings(BaseModel):
    """Who may read /metrics and the details of /readyz (call volumes, queue depths, destination names)."""

    token: SecretStr | None = Field(
        default=None,
        description="Bearer token a scraper sends ('Authorization: Bearer ...'; Prometheus: "
        "authorization.credentials). Unset: /metrics answers 401 to everyone and /readyz its status only. "
        "/healthz needs nothing.",
    )


class SourceAuthKind(StrEnum):
    basic = "basic"
    bearer = "bearer"


class SourceAuth(BaseModel):
    """Credentials sent to recording URLs that start with url_prefix."""

    model_config = {"extra": "forbid"}

    url_prefix: str = Field(
        description="http(s) URL the credentials belong to: scheme, host and port must match exactly, the "
        "path on a '/' boundary (https://api.twilio.com/2010-04-01/Accounts/AC123 matches its recordings)."
    )
    kind: SourceAuthKind = Field(description="'basic' (username + password) or 'bearer' (token).")
    username: str | None = Field(default=None, description="basic: the user name (Twilio: the account SID).")
    password: SecretStr | None = Field(default=None, description="basic: the password (Twilio: auth token).")
    token: SecretStr | None = Field(default=None, description="bearer: the token sent as 'Bearer <token>'.")

    @model_validator(mode="after")
    def _complete(self) -> SourceAuth:
        from urllib.parse import urlsplit

        parts = urlsplit(self.url_prefix)
        if parts.scheme.lower() not in {"http", "https"} or not parts.hostname:
            raise ValueError(f"url_prefix must be an http(s) URL with a host, not '{self.url_prefix}'")
        if parts.username or parts.query or parts.fragment:
            raise ValueError("url_prefix must not contain credentials, a query or a fragment")
        if self.kind is SourceAuthKind.basic and (not self.username or self.password is None):
            raise ValueError(f"basic auth for {self.url_prefix} needs username and password")
        if self.kind is SourceAuthKind.bearer and not self.token:
            raise ValueError(f"bearer auth for {self.url_prefix} needs token")
        return self


# Options that once existed, accepted with a warning so that a configuration written for an older version
# still starts; the warning says what to do instead.
REMOVED_FETCH_OPTIONS = {
    "attempts": "each job run downloads once; the job queue retries (see 'Retries' in docs/service.md)",
    "backoff_s": "the job queue's backoff decides the wait between tries (docs/service.md)",
    "backoff_max_s": "the job queue's backoff decides the wait between tries (docs/service.md)",
}


class RemovedSettingWarning(FutureWarning):
    """A setting that no longer has any effect; shown by default, unlike a DeprecationWarning."""


class FetchSettings(BaseModel):
    """Downloading recordings: timeouts, the address allowlist and per-source credentials."""

    connect_timeout_s: float = Field(default=10.0, gt=0, description="Longest wait to open a connection.")
    read_timeout_s: float = Field(default=60.0, gt=0, description="Longest wait for more bytes of a body.")
    download_timeout_s: float = Field(
        default=1800.0, gt=0, description="Longest one download attempt may take, redirects included."
    )
    max_redirects: int = Field(default=5, ge=0, le=20, description="Redirects followed, each one re-checked.")
    allow_hosts: list[str] = Field(
        default_factory=list,
        description="Host names (exact, e.g. recorder.corp.example) downloaded from even when they resolve "
        "to a private, loopback or link-local address. Cloud metadata addresses stay refused.",
    )
    allow_networks: list[str] = Field(
        default_factory=list,
        description="CIDRs (10.20.0.0/16, fd12::/48) downloaded from although not public, for an on-premises "
        "recorder. Cloud metadata addresses (169.254.169.254...) are refused unless listed as a /32 or /128.",
    )
    sources: list[SourceAuth] = Field(
        default_factory=list,
        description="Credentials per recording source: a list of {url_prefix, kind: basic|bearer, "
        "username, password, token}; the longest matching url_prefix wins, and nothing is sent after a "
        "redirect to another host. Twilio: kind basic, url_prefix "
        "https://api.twilio.com/2010-04-01/Accounts/<account SID>, username the account SID, password "
        "the auth token.",
    )
    ca_file: Path | None = Field(
        default=None, description="PEM bundle of extra CAs to trust, for an on-premises recorder's https."
    )

    @model_validator(mode="before")
    @classmethod
    def _removed(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        for name in REMOVED_FETCH_OPTIONS.keys() & data.keys():
            warnings.warn(
                f"fetch.{name} was removed and is ignored: {REMOVED_FETCH_OPTIONS[name]}; "
                f"delete it from the configuration (CALLSENSE_FETCH__{name.upper()} in the environment)",
                RemovedSettingWarning,
                stacklevel=2,
            )
        return {key: value for key, value in data.items() if key not in REMOVED_FETCH_OPTIONS}

    @field_validator("allow_networks")
    @classmethod
    def _networks(cls, value: list[str]) -> list[str]:
        import ipaddress

        try:
            return [str(ipaddress.ip_network(item.strip(), strict=False)) for item in value]
        except ValueError as exc:
            raise ValueError(f"allow_networks: {exc}") from exc

    @field_validator("allow_hosts")
    @classmethod
    def _hosts(cls, value: list[str]) -> list[str]:
        return [item.strip().rstrip(".").lower() for item in value if item.strip()]


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
    blob_dir: Path | None = Field(default=None, description="Encrypted audio store. Unset: data_dir/blobs.")
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
    llm: LLMSettings = Field(default_factory=LLMSettings)
    webhooks: WebhookSettings = Field(default_factory=WebhookSettings)
    twilio: TwilioSettings = Field(default_factory=TwilioSettings)
    server: ServerSettings = Field(default_factory=ServerSettings)
    sign_in: SignInSettings = Field(default_factory=SignInSettings)
    metrics: MetricsSettings = Field(default_factory=MetricsSettings)
    fetch: FetchSettings = Field(default_factory=FetchSettings)
    deliveries: DeliverySettings = Field(default_factory=DeliverySettings)

    @field_validator("log_level")
    @classmethod
    def _known_level(cls, value: str) -> str:
        if value.upper() not in {"DEBUG", "INFO", "WARNING", "ERROR"}:
            raise ValueError("log_level must be DEBUG, INFO, WARNING or ERROR")
        return value.upper()

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


def known_variables() -> set[str]:
    names = {"CALLSENSE_CONFIG"}
    for name, info in Settings.model_fields.items():
        names.add(f"CALLSENSE_{name.upper()}")
        nested = info.annotation
        if isinstance(nested, type) and issubclass(nested, BaseModel):
            names.update(f"CALLSENSE_{name.upper()}__{inner.upper()}" for inner in nested.model_fields)
    # Known, so that they reach FetchSettings and its warning instead of stopping the start.
    names.update(f"CALLSENSE_FETCH__{name.upper()}" for name in REMOVED_FETCH_OPTIONS)
    return names


def load_settings(**overrides: Any) -> Settings:
    """Build the settings; raises ``ConfigError`` with every problem listed, one per line."""
    from pydantic import ValidationError

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
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(part) for part in error['loc']) or 'settings'}: {error['msg']}"
            for error in exc.errors()
        )
        raise ConfigError(f"invalid configuration: {problems}") from exc
