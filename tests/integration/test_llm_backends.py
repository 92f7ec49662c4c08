"""The LLM back-ends for real: the bundled GGUF in-process, and the HTTP back-ends against live servers.

Every real-model test shares one loaded model (module scope; the model file is assembled once per session
by the ``model_dir`` fixture). Real LLM calls here: 7, each 5-40 s on 2 cores.

Ollama itself cannot run in this environment (no binary, no network), so its ``/api/chat`` contract is
served by a small loopback server in this file that forwards to the embedded model. The OpenAI back-end
talks to llama.cpp's own OpenAI-compatible HTTP server, the one xllamacpp opens on 127.0.0.1.
"""

from __future__ import annotations

import json
import os
import re
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from functools import partial
from http.server import BaseHTTPRequestHandler, SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
import structlog.testing

from callsense.assets.catalog import resolve_gguf
from callsense.backends.llm import build_llm
from callsense.backends.llm.base import JSONRequest, chat_messages
from callsense.backends.llm.embedded import EmbeddedLLM, EmbeddedOptions, loaded_server
from callsense.backends.llm.ollama import OllamaBackend
from callsense.backends.llm.openai_compat import OpenAICompatBackend
from callsense.backends.llm.prompt_states import PromptStates, state_file_name
from callsense.calls.schemas import Emotion, Segment, Sentiment, Speaker
from callsense.config.analysis import DEFAULT_TOPICS
from callsense.config.models import LLMSettings
from callsense.errors import ConfigError, LLMUnavailableError, ModelAssetError
from callsense.pipeline import prompts
from callsense.pipeline.analysis import analyse
from tests.servers import trickling


def call(*turns: str) -> list[Segment]:
    speakers = [Speaker.agent, Speaker.customer]
    return [
        Segment(speaker=speakers[i % 2], start=4.0 * i, end=4.0 * i + 3.5, text=text, confidence=0.9)
        for i, text in enumerate(turns)
    ]


ANGRY_CALL = call(
    "Thank you for calling Acme Mobile, this is Sam. How can I help?",
    "This is the third time I'm calling this week! You charged me twice again for the same bill.",
    "I'm sorry about that. Let me look at your account.",
    "I don't want you to look, I want my money back today. This is absolutely ridiculous, "
    "nobody ever fixes anything and I'm sick of being lied to.",
    "I understand. I can raise a refund request, it takes five to seven working days.",
    "Seven days? That's unacceptable! I'm furious. If this isn't sorted by tomorrow I'm cancelling "
    "and reporting you to the ombudsman.",
)
CALM_CALL = call(
    "Good morning, Acme Mobile, Sam speaking. How can I help?",
    "Hi Sam, I'd just like to know when my contract ends, please.",
    "Of course. Your contract ends on the fifteenth of March, and you can renew any time before that.",
    "Lovely, that's exactly what I needed. Thank you so much for your help!",
    "You're welcome. Have a great day.",
    "You too, thanks again. Bye.",
)


# --- the real model, in-process ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def embedded(model_dir: Path) -> EmbeddedLLM:
    gguf = resolve_gguf("qwen2.5-coder-1.5b", model_dir)
    return EmbeddedLLM(EmbeddedOptions(gguf=gguf, context_tokens=4096), model="qwen2.5-coder-1.5b")


# The angry and the calm call are analysed by the embedded model through the Ollama and the OpenAI back-ends
# below (one real analysis each serves both the back-end's contract and the model's judgement). Instructions
# spoken by a caller and the LLM translation are asserted end to end on real transcripts, once each
# (tests/acceptance/test_cli.py): the model's minute here would repeat them.


# --- a system prompt's state, saved by one server and restored by the next ---------------------------------

# Long enough (about 500 tokens) that reusing it is unmistakable in llama.cpp's timings.
LONG_SYSTEM = "You read customer-service calls and answer in JSON. Base every answer on the call. " * 30
ANSWER = {
    "type": "object",
    "properties": {"answer": {"enum": ["yes", "no"]}},
    "required": ["answer"],
    "additionalProperties": False,
}


@pytest.mark.slow
def test_a_new_server_restores_the_saved_system_prompt_instead_of_evaluating_it(
    model_dir: Path, tmp_path: Path
) -> None:
    gguf = resolve_gguf("qwen2.5-coder-1.5b", model_dir)
    states = tmp_path / "prompt-states"
    states.mkdir()
    for age in range(8):  # older states of other prompts: the 8 most recently used are kept
        (states / f"{age:032x}.bin").write_bytes(b"old")
        os.utime(states / f"{age:032x}.bin", (1_000_000 + age, 1_000_000 + age))
    request = JSONRequest(
        system=LONG_SYSTEM, user="Did the caller say hello?", schema=ANSWER, schema_name="a", max_tokens=12
    )
    first = EmbeddedLLM(EmbeddedOptions(gguf=gguf, context_tokens=2048, prompt_states=states))
    assert json.loads(first.complete_json(request))["answer"] in {"yes", "no"}
    saved = [path for path in states.glob("*.bin") if path.read_bytes() != b"old"]
    assert len(saved) == 1 and saved[0].stat().st_size > 1_000_000
    assert sorted(path.name for path in states.iterdir() if path not in saved) == [
        f"{age:032x}.bin" for age in range(1, 8)
    ]
    # Another process in production; here a server with another thread count, so not the cached one.
    second = loaded_server(EmbeddedOptions(gguf=gguf, context_tokens=2048, threads=1, prompt_states=states))
    assert second.prompt_states is not None
    with second.prompt_states.serving(LONG_SYSTEM):
        body = second.server.handle_chat_completions(
            {"messages": chat_messages(request), "max_tokens": 1, "temperature": 0.0}
        )
    assert body["timings"]["cache_n"] > 400  # the system prompt, taken from the restored state
    assert body["timings"]["prompt_n"] < 40  # only the user message evaluated
    # /slots is on for this, and it would show prompts: only this process holds its key.
    assert httpx.get(f"{second.address}/slots", timeout=10, trust_env=False).status_code == 401


@pytest.mark.parametrize(
    ("warm_up_answer", "why"),
    [({}, "ConnectError"), ({"error": {"code": 400, "message": "too long"}}, "refused the warm-up")],
)
def test_a_state_that_cannot_be_saved_leaves_requests_alone(
    tmp_path: Path, warm_up_answer: dict[str, Any], why: str
) -> None:
    warm_ups: list[dict[str, Any]] = []

    class Server:
        def handle_chat_completions(self, payload: dict[str, Any]) -> dict[str, Any]:
            warm_ups.append(payload)
            return warm_up_answer

    states = PromptStates(
        directory=tmp_path, server=Server(), address="http://127.0.0.1:9", api_key="k", identity="i"
    )
    with structlog.testing.capture_logs() as logs:
        for _ in range(2):
            with states.serving("instructions"):  # logged, not raised,
                pass  # and not tried again in this process
    assert len(warm_ups) == 1 and list(tmp_path.iterdir()) == []
    (failure,) = [log for log in logs if log["event"] == "llm_prompt_state_failed"]
    assert why in failure["error"]


@pytest.mark.slow
def test_instructions_prepared_ahead_are_restored_by_a_new_servers_first_request(
    model_dir: Path, tmp_path: Path
) -> None:
    gguf = resolve_gguf("qwen2.5-coder-1.5b", model_dir)
    states = tmp_path / "prompt-states"
    assert EmbeddedLLM(EmbeddedOptions(gguf=gguf, context_tokens=2048, prompt_states=states)).prepare(
        [LONG_SYSTEM]
    )
    (saved,) = states.glob("*.bin")
    written = saved.stat().st_mtime_ns
    # Another process in production (another thread count here): its state is there, nothing is saved.
    later = EmbeddedOptions(gguf=gguf, context_tokens=2048, threads=1, prompt_states=states)
    assert EmbeddedLLM(later).prepare([LONG_SYSTEM])
    assert list(states.iterdir()) == [saved] and saved.stat().st_mtime_ns == written
    loaded = loaded_server(later)
    assert loaded.prompt_states is not None
    with loaded.prompt_states.serving(LONG_SYSTEM):
        body = loaded.server.handle_chat_completions(
            {"messages": [{"role": "system", "content": LONG_SYSTEM}, {"role": "user", "content": "Hi?"}]}
            | {"max_tokens": 1, "temperature": 0.0}
        )
    assert body["timings"]["cache_n"] > 400  # the instructions, restored from the file saved ahead


# A worker's analysis and translation instructions (shorter than the real ones: each evaluated once here).
ANALYSIS_SYSTEM = "You read customer-service calls and answer in JSON. Base every answer on the call. " * 15
TRANSLATION_SYSTEM = "You translate customer-service calls into English, one line per turn. " * 4


@pytest.mark.slow
def test_a_worker_reuses_the_restored_instructions_after_a_request_with_other_ones(
    model_dir: Path, tmp_path: Path
) -> None:
    gguf = resolve_gguf("qwen2.5-coder-1.5b", model_dir)
    states = tmp_path / "prompt-states"
    assert EmbeddedLLM(EmbeddedOptions(gguf=gguf, context_tokens=2048, prompt_states=states)).prepare(
        [ANALYSIS_SYSTEM, TRANSLATION_SYSTEM]
    )
    # A worker: another process in production (another thread count here), both states restored on first use.
    worker = loaded_server(EmbeddedOptions(gguf=gguf, context_tokens=2048, threads=1, prompt_states=states))
    assert worker.prompt_states is not None

    def timings(system: str, user: str) -> dict[str, Any]:
        assert worker.prompt_states is not None
        with worker.prompt_states.serving(system):
            body = worker.server.handle_chat_completions(
                {"messages": [{"role": "system", "content": system}, {"role": "user", "content": user}]}
                | {"max_tokens": 1, "temperature": 0.0}
            )
        found: dict[str, Any] = body["timings"]
        return found

    assert timings(ANALYSIS_SYSTEM, "First call: did the caller say hello?")["cache_n"] > 200
    assert timings(TRANSLATION_SYSTEM, "Hola, buenos días.")["cache_n"] > 40
    second = timings(ANALYSIS_SYSTEM, "Second call: did the agent say goodbye?")
    assert second["cache_n"] > 200  # the instructions kept, though the translation's state replaced them
    assert second["prompt_n"] < 40


def test_a_restore_has_llama_cpp_keep_the_prompt_it_replaces(tmp_path: Path) -> None:
    """Restoring a state replaces the slot's prompt, which llama.cpp then does not keep in its RAM prompt
    cache; a request with another prompt makes it keep it, so one comes first (the effect on llama.cpp's
    timings: the slow test above)."""
    events: list[str] = []

    class Server:  # llama.cpp's in-process calls
        def handle_chat_completions(self, payload: dict[str, Any]) -> dict[str, Any]:
            events.append("warm-up")
            return {}

        def handle_completions(self, payload: dict[str, Any]) -> dict[str, Any]:
            events.append(f"completion {payload['prompt']!r}")
            return {"content": ""}

    class Slots(BaseHTTPRequestHandler):  # its /slots endpoint
        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            events.append(f"{self.path.split('=')[1]} {body['filename']}")
            data = json.dumps({"n_restored": 600}).encode()
            self.send_response(200)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    slots = ThreadingHTTPServer(("127.0.0.1", 0), Slots)
    threading.Thread(target=slots.serve_forever, args=(0.05,), daemon=True).start()
    analysis, translation = (state_file_name("i", system) for system in ("analysis", "translation"))
    for name in (analysis, translation):
        (tmp_path / name).write_bytes(b"state")
    states = PromptStates(
        directory=tmp_path,
        server=Server(),
        address=f"http://127.0.0.1:{slots.server_address[1]}",
        api_key="k",
        identity="i",
    )
    try:
        for system in ("analysis", "analysis", "translation", "analysis", "translation"):
            with states.serving(system):
                events.append(system)
    finally:
        slots.shutdown()
        slots.server_close()
    assert events == [
        f"restore {analysis}",  # into an empty slot: nothing to keep
        "analysis",
        "analysis",
        "completion '-'",  # the slot's analysis prompt kept in llama.cpp's RAM cache,
        f"restore {translation}",  # then replaced
        "translation",
        "analysis",  # from then on llama.cpp's cache has both
        "translation",
    ]


def test_preparing_saves_only_the_missing_states_and_says_when_one_failed(tmp_path: Path) -> None:
    warm_ups: list[dict[str, Any]] = []

    class Server:
        def handle_chat_completions(self, payload: dict[str, Any]) -> dict[str, Any]:
            warm_ups.append(payload)
            return {"error": {"code": 400, "message": "too long"}}

    states = PromptStates(
        directory=tmp_path, server=Server(), address="http://127.0.0.1:9", api_key="k", identity="i"
    )
    (tmp_path / state_file_name("i", "saved before")).write_bytes(b"state")
    assert states.prepare(["saved before"])  # by another process, say: nothing to do
    assert warm_ups == []
    with structlog.testing.capture_logs() as logs:
        assert not states.prepare(["saved before", "too long"])
    assert [payload["messages"][0]["content"] for payload in warm_ups] == ["too long"]
    assert [log["event"] for log in logs] == ["llm_prompt_state_failed"]


# --- the grammar keeps out the scripts a call is not written in --------------------------------------------

IN_CHINESE = "Translate each numbered sentence into Chinese (Simplified Chinese characters). " + (
    'Answer with {"lines": [...]}, one string per sentence.'
)
SENTENCES = '1. Good morning, I want to cancel my "internet" contract because I am moving.\n2. Thank you.'
HAN = re.compile("[\u4e00-\u9fff]")


@pytest.mark.slow
def test_the_grammar_keeps_han_out_of_a_spanish_call_not_out_of_a_chinese_one(embedded: EmbeddedLLM) -> None:
    # The model is told to write Chinese: only the grammar stands in its way (about 10 s a request).
    def lines(language: str) -> list[str]:
        request = JSONRequest(
            system=IN_CHINESE,
            user=SENTENCES,
            schema=prompts.translation_schema(2, 40),
            schema_name="translation",
            max_tokens=120,
            foreign_chars=prompts.foreign_chars(language),
        )
        answer = json.loads(embedded.complete_json(request))["lines"]
        assert len(answer) == 2 and all(len(line) <= 40 for line in answer), "still bounded"
        return list(answer)

    assert not any(HAN.search(line) for line in lines("es"))
    assert all(HAN.search(line) for line in lines("zh"))


@pytest.mark.slow
def test_the_grammar_keeps_the_detail_off_the_labels(embedded: EmbeddedLLM) -> None:
    # Told to copy the label, the model can only write something else (a few seconds: a short answer).
    properties = prompts.analysis_prompt(DEFAULT_TOPICS).schema["properties"]
    request = JSONRequest(
        system="Answer with JSON. Copy the topic into topic_detail, word for word.",
        user="Topic: Refund request",  # without the grammar: "refund request"
        schema={
            "type": "object",
            "properties": {key: properties[key] for key in ("topic", "topic_detail")},
            "required": ["topic", "topic_detail"],
            "additionalProperties": False,
        },
        schema_name="detail",
        max_tokens=40,
    )
    answer = json.loads(embedded.complete_json(request))
    labels = {topic.label.casefold() for topic in DEFAULT_TOPICS}
    assert answer["topic"].casefold() in labels
    assert answer["topic_detail"].rstrip(" .").casefold() not in labels
    assert 0 < len(answer["topic_detail"]) <= prompts.TOPIC_DETAIL_MAX_CHARS


# --- OpenAI-compatible: llama.cpp's own HTTP server -------------------------------------------------------


@pytest.mark.slow
def test_openai_backend_against_llama_cpp_http_server(embedded: EmbeddedLLM) -> None:
    assert embedded.listening_address.startswith("http://127.0.0.1:")
    settings = LLMSettings(
        backend="openai",
        base_url=embedded.listening_address + "/v1",
        model="qwen2.5-coder-1.5b",
        api_key=embedded.api_key,
    )
    backend = build_llm(settings, model_dir=Path("/nonexistent"))
    assert isinstance(backend, OpenAICompatBackend)
    try:
        result = analyse(segments=CALM_CALL, language="en", llm=backend, translate=False)
    finally:
        backend.close()
    assert result.failures == []  # the calm thank-you call is not negative
    assert result.sentiment in {Sentiment.positive, Sentiment.neutral}
    assert result.emotion not in {Emotion.angry, Emotion.frustrated}


@pytest.mark.slow
def test_openai_backend_reports_a_refused_key_as_a_permanent_error(embedded: EmbeddedLLM) -> None:
    backend = OpenAICompatBackend(
        base_url=embedded.listening_address + "/v1",
        model="m",
        context_tokens=4096,
        timeout_s=30,
        api_key="wrong",
    )
    request = JSONRequest(system="s", user="u", schema={"type": "object"}, schema_name="x", max_tokens=5)
    with pytest.raises(ConfigError, match=r"HTTP 401.*Invalid API Key"):
        backend.complete_json(request)
    backend.close()


# --- Ollama: a loopback stand-in for /api/chat ------------------------------------------------------------

# (status, body) or (status, body, headers); None closes the connection without answering.
Reply = tuple[int, dict[str, Any]] | tuple[int, dict[str, Any], dict[str, str]]
Handler = Callable[[dict[str, Any]], Reply | None]


@pytest.fixture
def serve() -> Iterator[Callable[[Handler], str]]:
    """Starts loopback HTTP servers answering POSTs with ``handler(body) -> (status, json[, headers])``; a
    handler returning None closes the connection without answering."""
    servers: list[ThreadingHTTPServer] = []

    def start(handler: Handler) -> str:
        class Handle(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                assert self.path in ("/api/chat", "/v1/chat/completions")
                reply = handler(body)
                if reply is None:
                    self.close_connection = True
                    return
                status, answer, *headers = reply
                data = json.dumps(answer).encode()
                self.send_response(status)
                for name, value in (headers[0] if headers else {}).items():
                    self.send_header(name, value)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        server = ThreadingHTTPServer(("127.0.0.1", 0), Handle)
        servers.append(server)
        threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
        return f"http://127.0.0.1:{server.server_address[1]}"

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


def ollama(url: str) -> OllamaBackend:
    return OllamaBackend(base_url=url, model="qwen2.5:1.5b", context_tokens=4096, timeout_s=60)


def ollama_reply(content: str) -> dict[str, Any]:
    return {"model": "qwen2.5:1.5b", "message": {"role": "assistant", "content": content}, "done": True}


@pytest.mark.slow
def test_ollama_backend_against_an_api_chat_server(
    embedded: EmbeddedLLM, serve: Callable[[Handler], str]
) -> None:
    seen: list[dict[str, Any]] = []

    def forward(body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        seen.append(body)
        system, user = body["messages"]
        request = JSONRequest(
            system=system["content"],
            user=user["content"],
            schema=body["format"],
            schema_name="ollama",
            max_tokens=body["options"]["num_predict"],
            temperature=body["options"]["temperature"],
        )
        # Ollama's count of the prompt it read, by the model's own tokenizer: a whole prompt passes the
        # back-end's check for a cut one
        read = embedded.count_tokens(system["content"]) + embedded.count_tokens(user["content"])
        answer = embedded.complete_json(request)
        return 200, {**ollama_reply(answer), "done_reason": "stop", "prompt_eval_count": read}

    backend = ollama(serve(forward))
    result = analyse(segments=ANGRY_CALL, language="en", llm=backend, translate=False)
    backend.close()
    # Every field is valid, but the detail may not be: without the grammar a server is not sent, the model
    # here sometimes writes a label as the detail, and again when asked once more (the validators refuse it).
    assert all(failure.field == "topic_detail" for failure in result.failures)
    assert all("repeats a topic label" in failure.reason for failure in result.failures)
    assert len(seen) <= 2, "asked once more at most"
    assert result.sentiment is Sentiment.negative
    assert result.emotion in {Emotion.angry, Emotion.frustrated}
    assert result.speaker_sentiment.customer is Sentiment.negative
    assert result.summary and result.topic in {topic.label for topic in DEFAULT_TOPICS}
    assert len(result.sentiment_trend.customer) == 4 and result.issues
    body = seen[0]  # a second, if any, is the retry of a field the validators refused
    assert body["stream"] is False and body["model"] == "qwen2.5:1.5b"
    assert body["format"]["properties"]["sentiment"]["enum"] == ["Positive", "Neutral", "Negative"]
    assert "not" not in body["format"]["properties"]["topic_detail"], "a keyword servers may refuse"
    assert body["options"]["num_ctx"] == 4096 and body["options"]["temperature"] == 0.0
    assert [m["role"] for m in body["messages"]] == ["system", "user"]


REQUEST = JSONRequest(system="s", user="u", schema={"type": "object"}, schema_name="x", max_tokens=5)


def test_ollama_server_errors_are_one_retryable_failure_per_call(serve: Callable[[Handler], str]) -> None:
    # The job queue retries the stage; a server answering 5xx gets one request per job run, no burst.
    answers = [
        (500, {"error": "model is loading"}),
        (503, {"error": "busy"}),
        (200, ollama_reply('{"a": 1}')),
    ]
    backend = ollama(serve(lambda body: answers.pop(0)))
    for status, left in ((500, 2), (503, 1)):
        with pytest.raises(LLMUnavailableError, match=f"HTTP {status}") as raised:
            backend.complete_json(REQUEST)
        assert raised.value.retryable and len(answers) == left
    assert backend.complete_json(REQUEST) == '{"a": 1}'
    assert answers == []
    backend.close()


def test_a_dropped_connection_is_sent_once_more_at_once(serve: Callable[[Handler], str]) -> None:
    answers: list[tuple[int, dict[str, Any]] | None] = [None, (200, ollama_reply('{"a": 1}'))]
    backend = ollama(serve(lambda body: answers.pop(0)))
    assert backend.complete_json(REQUEST) == '{"a": 1}'
    assert answers == []
    backend.close()
    calls: list[int] = []
    backend = ollama(serve(lambda body: calls.append(1)))  # never answers: one more try, not a burst
    with pytest.raises(LLMUnavailableError, match="did not answer") as raised:
        backend.complete_json(REQUEST)
    assert raised.value.retryable and len(calls) == 2
    backend.close()


def test_ollama_client_errors_are_permanent_and_not_retried(serve: Callable[[Handler], str]) -> None:
    calls: list[int] = []
    backend = ollama(serve(lambda body: (calls.append(1), (400, {"error": 'model "x" not found'}))[1]))
    with pytest.raises(ConfigError, match=r'HTTP 400\): model "x" not found') as raised:
        backend.complete_json(REQUEST)
    assert not raised.value.retryable and len(calls) == 1
    backend.close()


SAID = "[3] Customer: my card is 4111 1111 1111 1111, Rose Miller"


def _openai_echo(body: dict[str, Any]) -> dict[str, Any]:
    message = f"invalid request: {json.dumps(body)}"
    return {"error": {"message": message, "type": "invalid_request_error", "code": "bad_request"}}


@pytest.mark.parametrize(
    ("status", "echo", "kept"),
    [
        (400, _openai_echo, "refused the request (HTTP 400): invalid_request_error bad_request (its message"),
        (
            500,
            lambda body: {"error": f"cannot read {body['messages'][1]['content'][-12:]}"},
            "HTTP 500: (its",
        ),
        (
            502,
            lambda body: {"error": "card 4111 1111"},
            "HTTP 502: (its message quotes the request: left out)",
        ),
        # one word of the call: a name, quoted as servers quote a value they were sent, or not
        (400, lambda body: {"error": "invalid token 'Miller'"}, "HTTP 400): (its message quotes the request"),
        (500, lambda body: {"error": "unknown speaker Rose"}, "HTTP 500: (its message quotes the request"),
    ],
    ids=["openai-shape", "ollama-shape", "a-number", "a-quoted-word", "a-name"],
)
def test_a_server_that_echoes_the_request_leaves_none_of_the_call_in_the_error(
    serve: Callable[[Handler], str], status: int, echo: Callable[[dict[str, Any]], Any], kept: str
) -> None:
    # The reason becomes a call's status detail, which viewers read: the request held the transcript.
    url = serve(lambda body: (status, echo(body)))
    backend = ollama(url)
    with pytest.raises((ConfigError, LLMUnavailableError)) as raised:
        backend.complete_json(JSONRequest(system="s", user=SAID, schema={}, schema_name="x", max_tokens=5))
    backend.close()
    # The server's address is named, and a random port can hold "4111" (127.0.0.1:41113): not the call's.
    message = str(raised.value).replace(url, "<server>")
    assert kept in message
    assert not [word for word in ("4111", "1111", "Rose", "Miller", "my card") if word in message]


@pytest.mark.parametrize(
    ("status", "message"), [(404, "model 'qwen2.5:7b' not found"), (400, "invalid JSON schema in format")]
)
def test_a_message_sharing_only_common_words_with_the_call_is_kept(
    serve: Callable[[Handler], str], status: int, message: str
) -> None:
    # A long call holds most words of any error message: one at a time, they are no echo of it.
    said = "Answer in JSON. [1] Agent: Hello, Acme Mobile. [2] Customer: the model was not sent, none found"
    backend = ollama(serve(lambda body: (status, {"error": message})))
    with pytest.raises(ConfigError) as raised:
        backend.complete_json(JSONRequest(system="s", user=said, schema={}, schema_name="x", max_tokens=5))
    backend.close()
    assert f"(HTTP {status}): {message}" in str(raised.value)


# A chunk of a long call as the analyse stage sends it: 11,288 characters, 2,858 tokens of Qwen2.5.
LONG_REQUEST = JSONRequest(
    system="Read the call and answer in JSON. " * 17,
    user="[1] Customer: my parcel never came, and nobody called me back. " * 170,
    schema={"type": "object"},
    schema_name="x",
    max_tokens=5,
)


@pytest.mark.parametrize(
    ("read", "cut"),
    [
        (1024, True),  # Ollama ran the model with a smaller context and kept its last 1,024 tokens
        (2858, False),
        (None, False),  # a server that does not count: nothing to tell
    ],
)
def test_a_prompt_ollama_cut_to_fit_its_context_is_a_warning_naming_the_setting(
    serve: Callable[[Handler], str], read: int | None, cut: bool
) -> None:
    answer = {**ollama_reply('{"a": 1}'), "done_reason": "stop"}
    if read is not None:
        answer["prompt_eval_count"] = read
    backend = ollama(serve(lambda body: (200, answer)))
    # Not a failure: an Ollama whose count leaves out the prompt's cached start reads like one that cut it.
    with structlog.testing.capture_logs() as logs:
        assert backend.complete_json(LONG_REQUEST) == '{"a": 1}'
    warned = [entry for entry in logs if entry["event"] == "llm_prompt_maybe_cut"]
    if cut:
        assert warned and warned[0]["read_tokens"] == 1024 and warned[0]["prompt_tokens_at_least"] == 1881
        assert warned[0]["context_tokens"] == 4096 and "llm.context_tokens" in warned[0]["advice"]
    else:
        assert not warned
    backend.close()


def openai(url: str) -> OpenAICompatBackend:
    return OpenAICompatBackend(base_url=f"{url}/v1", model="qwen", context_tokens=8192, timeout_s=60)


@pytest.mark.parametrize(
    ("status", "answer"),
    [
        # vLLM before 0.10 (top-level message), and since (OpenAI's shape)
        (
            400,
            {
                "object": "error",
                "message": "This model's maximum context length is 4096 tokens. However, "
                "you requested 8000 tokens.",
                "type": "BadRequestError",
                "code": 400,
            },
        ),
        (
            400,
            {
                "error": {
                    "message": "The decoder prompt (length 7000) is longer than the maximum model "
                    "length of 4096.",
                    "type": "BadRequestError",
                    "code": 400,
                }
            },
        ),
        # llama.cpp server: today's 400, and the 500 of older builds, which the queue would retry in vain
        (
            400,
            {
                "error": {
                    "code": 400,
                    "message": "the request exceeds the available context size, try increasing it",
                    "type": "exceed_context_size_error",
                    "n_ctx": 4096,
                }
            },
        ),
        (
            500,
            {
                "error": {
                    "code": 500,
                    "message": "the request exceeds the available context size. try "
                    "increasing the context size or enable context shift",
                    "type": "server_error",
                }
            },
        ),
    ],
)
def test_a_prompt_longer_than_the_servers_context_names_the_setting(
    serve: Callable[[Handler], str], status: int, answer: dict[str, Any]
) -> None:
    backend = openai(serve(lambda body: (status, answer)))
    with pytest.raises(ConfigError, match=r"longer than its context .*llm\.context_tokens=8192") as raised:
        backend.complete_json(REQUEST)
    backend.close()
    assert not raised.value.retryable
    assert "{" not in str(raised.value)  # the server's message, not its JSON body


@pytest.mark.parametrize(
    ("answer", "error"),
    [
        ({"choices": []}, LLMUnavailableError),  # a proxy's empty answer: the queue asks again later
        ({"choices": [{"message": {"content": None}, "finish_reason": "stop"}]}, LLMUnavailableError),
        # vLLM with --reasoning-parser: the budget spent thinking; asking again spends it the same way
        (
            {
                "choices": [
                    {
                        "message": {"content": None, "reasoning_content": "Okay, the customer wants"},
                        "finish_reason": "length",
                    }
                ]
            },
            ConfigError,
        ),
    ],
)
def test_an_answer_without_content(
    serve: Callable[[Handler], str], answer: dict[str, Any], error: type[Exception]
) -> None:
    backend = openai(serve(lambda body: (200, answer)))
    with pytest.raises(error) as raised:
        backend.complete_json(REQUEST)
    backend.close()
    if error is ConfigError:
        assert "reasoned and wrote no answer within max_tokens=5" in str(raised.value)


def test_an_ollama_thinking_model_that_never_answers_is_a_permanent_error(
    serve: Callable[[Handler], str],
) -> None:
    thought = {**ollama_reply(""), "done_reason": "length"}
    thought["message"]["thinking"] = "The customer seems upset because"
    backend = ollama(serve(lambda body: (200, thought)))
    with pytest.raises(ConfigError, match="reasoned and wrote no answer within max_tokens=5"):
        backend.complete_json(REQUEST)
    backend.close()


@pytest.mark.parametrize(
    ("backend", "answer"),
    [
        (ollama, {"error": "model 'qwen2.5:7b' not found"}),
        (openai, {"object": "error", "message": "The model `qwen2.5:7b` does not exist.", "code": 404}),
    ],
)
def test_an_unknown_model_names_the_settings(
    serve: Callable[[Handler], str],
    backend: Callable[[str], OllamaBackend | OpenAICompatBackend],
    answer: dict[str, Any],
) -> None:
    client = backend(serve(lambda body: (404, answer)))
    with pytest.raises(ConfigError, match=r"HTTP 404\): The model|HTTP 404\): model") as raised:
        client.complete_json(REQUEST)
    client.close()
    assert str(raised.value).endswith("; check llm.model and llm.base_url")


def _in_two_minutes() -> str:
    return format_datetime(datetime.now(UTC) + timedelta(seconds=120), usegmt=True)


@pytest.mark.parametrize(
    ("status", "retry_after", "waits"),
    [
        (429, lambda: "30", (30, 30)),
        (503, lambda: "2.5", (2.5, 2.5)),  # a decimal, as some proxies send
        (429, _in_two_minutes, (110, 120)),
        (429, lambda: "later", None),  # unreadable: the queue's backoff alone
        (503, lambda: None, None),
    ],
    ids=["seconds", "decimal", "http-date", "unreadable", "none"],
)
@pytest.mark.parametrize("backend", [ollama, openai], ids=["ollama", "openai"])
def test_a_busy_server_says_how_long_to_wait(
    serve: Callable[[Handler], str],
    backend: Callable[[str], OllamaBackend | OpenAICompatBackend],
    status: int,
    retry_after: Callable[[], str | None],
    waits: tuple[float, float] | None,
) -> None:
    # A shared, rate-limited server: its Retry-After reaches the queue's wait (retries.Backoff).
    def answer(body: dict[str, Any]) -> Reply:
        value = retry_after()
        return status, {"error": "rate limit reached"}, {"Retry-After": value} if value else {}

    client = backend(serve(answer))
    with pytest.raises(LLMUnavailableError, match=f"HTTP {status}: rate limit reached") as raised:
        client.complete_json(REQUEST)
    client.close()
    if waits is None:
        assert raised.value.retry_after is None
    else:
        assert raised.value.retry_after is not None and waits[0] <= raised.value.retry_after <= waits[1]


def test_an_html_error_page_is_one_line_of_the_error(tmp_path: Path) -> None:
    # A web server that is no LLM (here Python's, which answers POST with a 501 page): its page, not a
    # dozen lines of HTML in the CLI's one error line and the call's status.
    class Quiet(SimpleHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), partial(Quiet, directory=str(tmp_path)))
    threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
    backend = ollama(f"http://127.0.0.1:{server.server_address[1]}")
    try:
        with pytest.raises(LLMUnavailableError, match="answered HTTP 501: <!DOCTYPE HTML> <html") as raised:
            backend.complete_json(REQUEST)
    finally:
        backend.close()
        server.shutdown()
        server.server_close()
    assert "\n" not in str(raised.value)


def test_unreachable_server_is_retryable() -> None:
    backend = ollama("http://127.0.0.1:9")  # discard port: nothing listens there
    with pytest.raises(LLMUnavailableError):
        backend.complete_json(REQUEST)
    backend.close()


# --- choosing a back-end -----------------------------------------------------------------------------------


def test_build_llm_picks_the_backend_named_in_the_settings(tmp_path: Path) -> None:
    ollama_backend = build_llm(
        LLMSettings(
            backend="ollama", base_url="http://gpu-box:11434", model="qwen2.5:7b", context_tokens=8192
        ),
        model_dir=tmp_path,
    )
    assert isinstance(ollama_backend, OllamaBackend)
    assert (ollama_backend.name, ollama_backend.model, ollama_backend.context_tokens) == (
        "ollama",
        "qwen2.5:7b",
        8192,
    )
    openai_backend = build_llm(
        LLMSettings(backend="openai", base_url="http://gpu-box:8000/v1", model="m"), model_dir=tmp_path
    )
    assert isinstance(openai_backend, OpenAICompatBackend) and openai_backend.name == "openai"
    for backend in (ollama_backend, openai_backend):
        backend.close()


def test_build_llm_refuses_an_embedded_model_that_is_neither_bundled_nor_a_file(tmp_path: Path) -> None:
    with pytest.raises(ModelAssetError, match="neither a bundled model nor a GGUF file"):
        build_llm(LLMSettings(model=str(tmp_path / "missing.gguf")), model_dir=tmp_path)


def test_an_answer_that_trickles_in_is_cut_off_at_the_timeout() -> None:
    """A server (or a proxy) that sends a byte now and then never trips a per-read timeout: the setting is
    the longest wait for the whole answer, or an analyse job would hold its worker for as long."""
    started = time.monotonic()
    with trickling(seconds=4) as url:
        backend = OllamaBackend(base_url=url, model="m", context_tokens=4096, timeout_s=1)
        with pytest.raises(LLMUnavailableError, match="within 1 s") as raised:
            backend.complete_json(REQUEST)
        backend.close()
    assert raised.value.retryable and time.monotonic() - started < 2
