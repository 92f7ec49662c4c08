"""Settings of the models: speech recognition (Whisper) and the LLM."""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator

from callsense.config.service import http_url

# faster-whisper keeps the first half of Whisper's 448-token window for hotwords and cuts the rest silently;
# at about four characters a token, longer hints would lose their tail without a word.
MAX_HOTWORDS_CHARACTERS = 800


def whisper_languages() -> tuple[str, ...]:
    """The language codes Whisper knows: its tokenizer's list, which faster-whisper does not export."""
    from faster_whisper.tokenizer import _LANGUAGE_CODES

    return tuple(_LANGUAGE_CODES)


class Device(StrEnum):
    auto = "auto"
    cpu = "cpu"
    cuda = "cuda"


class Channel(StrEnum):
    left = "left"
    right = "right"

    @property
    def row(self) -> int:
        """The channel's row in decoded stereo audio."""
        return 0 if self is Channel.left else 1


class AgentSpeaks(StrEnum):
    """Mono: whether the agent is the first or the second voice to say a word (an inbound call's agent
    answers first; on an outbound call the customer does)."""

    first = "first"
    second = "second"

    @property
    def rank(self) -> int:
        """The agent's place among the voices ordered by their first word."""
        return 0 if self is AgentSpeaks.first else 1


class SwapCheck(StrEnum):
    off = "off"
    warn = "warn"
    swap = "swap"


class LLMBackendName(StrEnum):
    embedded = "embedded"
    ollama = "ollama"
    openai = "openai"


class TranslationEngine(StrEnum):
    whisper = "whisper"
    llm = "llm"
    off = "off"


class SourceVocabulary(BaseModel):
    """A recording source's own custom vocabulary, for the calls taken from it (docs/sources.md)."""

    hotwords: list[str] = Field(
        default=[],
        description="Hotwords for this source's calls (its products, plans, competitors), added to "
        "asr.hotwords.",
    )
    hotwords_by_language: dict[str, list[str]] = Field(
        default={},
        description="More hotwords for this source's calls in one language, by language code.",
    )
    hotwords_replace: bool = Field(
        default=False,
        description="True: this source's hotwords replace asr.hotwords and asr.hotwords_by_language for its "
        "calls, instead of adding to them.",
    )

    @model_validator(mode="after")
    def _hotwords_fit_the_prompt(self) -> SourceVocabulary:
        check_hotwords(self.hotwords, self.hotwords_by_language)
        return self


def check_hotwords(common: list[str], by_language: dict[str, list[str]]) -> None:
    """No empty word, and each language's hint (the common words and its own) short enough for Whisper."""
    for language, words in {"": common, **by_language}.items():
        if any(not word.strip() for word in words):
            raise ValueError("hotwords must not be empty strings")
        length = len(", ".join(word.strip() for word in [*common, *by_language.get(language, [])]))
        if length > MAX_HOTWORDS_CHARACTERS:
            raise ValueError(
                f"hotwords{' for ' + language if language else ''} are {length} characters long; "
                f"Whisper reads at most about {MAX_HOTWORDS_CHARACTERS} (half its 448-token window)"
            )


class ASRSettings(BaseModel):
    """Speech recognition (faster-whisper)."""

    model_config = ConfigDict(extra="forbid")

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
    parallel_channels: bool = Field(
        default=True,
        description="Transcribe a stereo call's two channels at the same time (two model workers, about "
        "300 MiB more memory): a third less time for stereo calls on 2 cores; mono calls are unchanged.",
    )
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
    languages: list[str] = Field(
        default=[],
        description="The languages calls may be in (Whisper's codes: ['he', 'ar', 'en']): detection chooses "
        "among them, one language is taken for every call without detecting. Empty: any of Whisper's 99.",
    )
    hotwords: list[str] = Field(
        default=[],
        description="Custom vocabulary: product, plan and competitor names Whisper should expect, given to "
        "it as a hint before every window (faster-whisper's hotwords; docs/analytics.md).",
    )
    hotwords_by_language: dict[str, list[str]] = Field(
        default={},
        description="More hotwords for calls in one language, by language code ({de = ['Stromtarif Plus']}); "
        "added to hotwords for calls detected (or declared) in that language.",
    )

    @field_validator("languages")
    @classmethod
    def _known_languages(cls, value: list[str]) -> list[str]:
        unknown = [code for code in value if code not in whisper_languages()]
        if unknown:
            raise ValueError(f"Whisper has no language {unknown[0]!r} (its codes: 'en', 'he', 'zh', 'pt'...)")
        return value

    @model_validator(mode="after")
    def _hotwords_fit_the_prompt(self) -> ASRSettings:
        check_hotwords(self.hotwords, self.hotwords_by_language)
        return self

    def hotwords_for(self, language: str | None, source: SourceVocabulary | None = None) -> str | None:
        """The hint given to Whisper for a call in ``language``: the common and that language's words, then
        those of the call's recording ``source`` (which may replace them), as a comma-separated list (joined
        by spaces, base reads the list as text to continue and loops on it)."""
        words = [*self.hotwords, *self.hotwords_by_language.get(language or "", [])]
        if source is not None:
            words = [] if source.hotwords_replace else words
            words += [*source.hotwords, *source.hotwords_by_language.get(language or "", [])]
        return ", ".join(dict.fromkeys(word.strip() for word in words)) or None

    @field_validator("temperatures")
    @classmethod
    def _temperatures_in_range(cls, value: list[float]) -> list[float]:
        if any(not 0.0 <= t <= 1.0 for t in value) or value != sorted(value):
            raise ValueError("temperatures must be ascending values between 0 and 1")
        return value


class SpeakerSettings(BaseModel):
    """Telling speakers apart: diarization of mono calls, and the agent's role (docs/speakers.md)."""

    model_config = ConfigDict(extra="forbid")

    diarization: bool = Field(
        default=True,
        description="Split mono calls into speakers by voice (Resemblyzer's encoder, run in numpy), and "
        "stereo calls whose words are all on one channel when it clearly holds two voices; off: every mono "
        "turn is 'unknown'.",
    )
    max_speakers: int = Field(
        default=4,
        ge=1,
        le=8,
        description="Most speakers diarization may find; 2 unless the voices clearly form more groups.",
    )
    swap_check: SwapCheck = Field(
        default=SwapCheck.warn,
        description="Stereo: when the conversation says the agent is on the other channel than "
        "asr.agent_channel: 'off' ignores it, 'warn' records it, 'swap' relabels the speakers. An agent "
        "channel from the call's metadata or its recording source always wins: there it is only warned of.",
    )
    swap_confidence: float = Field(
        default=0.8,
        ge=0,
        le=1,
        description="Role confidence (0-1) the conversation must reach before a swap is warned of or made.",
    )


class LLMSettings(BaseModel):
    """The LLM that writes summary, topic, sentiment and emotion."""

    model_config = ConfigDict(extra="forbid")

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
    prompt_states: bool = Field(
        default=True,
        description="embedded: save llama.cpp's state after each system prompt (the instructions, never call "
        "data; about 18 MB each, the 8 last used kept) in model_dir/prompt-states, so that a new process "
        "restores it instead of evaluating the instructions again (about 10 s on 2 cores). `models "
        "assemble` saves them ahead of the first call.",
    )

    _base_url = field_validator("base_url")(http_url)

    @model_validator(mode="after")
    def _server_needs_url(self) -> LLMSettings:
        if self.backend is not LLMBackendName.embedded and not self.base_url:
            raise ValueError(f"llm.base_url is required when llm.backend is '{self.backend.value}'")
        return self
