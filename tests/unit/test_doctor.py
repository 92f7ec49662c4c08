"""`callsense doctor`'s check of an external LLM server: the README's Ollama and vLLM settings, checked
before the first call's analysis fails on them."""

from __future__ import annotations

from pathlib import Path

from callsense.cli import doctor
from callsense.config import Settings
from tests.llm_stub import listing

PULLED = {"models": [{"name": "qwen2.5:7b"}, {"name": "llama3.1:latest"}]}


def _check(tmp_path: Path, **llm: str) -> doctor.Check:
    return doctor._llm_server(Settings(data_dir=tmp_path, llm=llm))


def test_an_ollama_model_that_was_not_pulled_fails_the_check(tmp_path: Path) -> None:
    with listing("/api/tags", PULLED) as url:
        pulled = _check(tmp_path, backend="ollama", base_url=url, model="qwen2.5:7b")
        latest = _check(tmp_path, backend="ollama", base_url=url, model="llama3.1")
        missing = _check(tmp_path, backend="ollama", base_url=url, model="qwen2.5:14b")
    assert pulled == doctor.Check("llm server", True, f"ollama at {url} has qwen2.5:7b")
    assert latest.ok
    assert missing == doctor.Check(
        "llm server",
        False,
        f"ollama at {url} has not pulled qwen2.5:14b (it has llama3.1:latest, qwen2.5:7b): "
        "`ollama pull qwen2.5:14b`",
    )


def test_a_server_that_does_not_answer_fails_the_check(tmp_path: Path) -> None:
    refused = _check(tmp_path, backend="ollama", base_url="http://127.0.0.1:9", model="qwen2.5:7b")
    assert not refused.ok and refused.detail.startswith("ollama at http://127.0.0.1:9/api/tags: ")
    with listing("/api/tags", PULLED) as url:  # an OpenAI-compatible server has no /v1/models there
        wrong_path = _check(tmp_path, backend="openai", base_url=url, model="qwen2.5:7b")
    assert not wrong_path.ok and "404" in wrong_path.detail


def test_an_openai_compatible_server_answers_whatever_model_it_lists(tmp_path: Path) -> None:
    with listing("/v1/models", {"object": "list", "data": [{"id": "qwen2.5-7b-instruct"}]}) as url:
        served = _check(tmp_path, backend="openai", base_url=f"{url}/v1", model="qwen2.5-7b-instruct")
        other = _check(tmp_path, backend="openai", base_url=f"{url}/v1", model="any")
    assert served == doctor.Check(
        "llm server", True, f"openai at {url}/v1 answers; it lists llm.model qwen2.5-7b-instruct"
    )
    assert other.ok and "does not list (vLLM would refuse it) llm.model any" in other.detail
