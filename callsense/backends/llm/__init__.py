"""LLM back-ends behind one port (``base.LLMBackend``), chosen by ``llm.backend`` in the settings."""

from __future__ import annotations

from pathlib import Path

from callsense.backends.llm.base import JSONRequest, LLMBackend
from callsense.config.models import LLMBackendName, LLMSettings
from callsense.errors import ConfigError

__all__ = ["JSONRequest", "LLMBackend", "build_llm"]


def build_llm(settings: LLMSettings, *, model_dir: Path) -> LLMBackend:
    """The back-end ``settings`` ask for. The embedded model is assembled (and checksummed) here,
    but loaded lazily on the first request."""
    if settings.backend is LLMBackendName.embedded:
        from callsense.assets.catalog import resolve_gguf
        from callsense.backends.llm.embedded import EmbeddedLLM, EmbeddedOptions

        gguf = resolve_gguf(settings.model, model_dir)
        options = EmbeddedOptions(
            gguf=gguf,
            context_tokens=settings.context_tokens,
            threads=settings.threads,
            gpu_layers=settings.gpu_layers,
            prompt_states=model_dir / "prompt-states" if settings.prompt_states else None,
        )
        return EmbeddedLLM(options, model=settings.model)
    if not settings.base_url:  # LLMSettings already refuses this; kept for callers that bypass validation
        raise ConfigError(f"llm.base_url is required when llm.backend is '{settings.backend.value}'")
    api_key = settings.api_key.get_secret_value() if settings.api_key else None
    if settings.backend is LLMBackendName.ollama:
        from callsense.backends.llm.ollama import OllamaBackend

        return OllamaBackend(
            base_url=settings.base_url,
            model=settings.model,
            context_tokens=settings.context_tokens,
            timeout_s=settings.timeout_s,
        )
    from callsense.backends.llm.openai_compat import OpenAICompatBackend

    return OpenAICompatBackend(
        base_url=settings.base_url,
        model=settings.model,
        context_tokens=settings.context_tokens,
        timeout_s=settings.timeout_s,
        api_key=api_key,
    )
