"""The real `callsense` command, as a newcomer runs it: embedded PostgreSQL, bundled Whisper and LLM."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from callsense.calls.schemas import CallRecord
from callsense.config.analysis import DEFAULT_TOPICS
from tests.conftest import AUDIO, SAMPLES
from tests.crm_calls import ANALYSIS
from tests.llm_stub import openai_answering
from tests.servers import CALLSENSE, callsense_env

pytestmark = pytest.mark.slow
NEGATIVE_EMOTIONS = {"Angry", "Frustrated", "Disappointed", "Impatient"}
# Categories every analysed two-speaker call is in: one reads the talk figures, one the LLM's topic, each
# evaluated on what a real run stored.
CATEGORIES = [
    {
        "name": "Both sides talked",
        "rule": {
            "all": [
                {"talk_share": {"above": 0.1}, "speaker": "agent"},
                {"talk_share": {"above": 0.1}, "speaker": "customer"},
            ]
        },
    },
    {"name": "Call driver found", "rule": {"topic": [topic.label for topic in DEFAULT_TOPICS]}},
]


@pytest.fixture(scope="module")
def environment(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """One data directory for the module: the embedded PostgreSQL starts once and is shared by the runs."""
    data_dir = tmp_path_factory.mktemp("callsense-data")
    return callsense_env(
        data_dir,
        # The unreachable-URL test points at loopback, which is refused unless allowlisted.
        CALLSENSE_FETCH__ALLOW_NETWORKS='["127.0.0.0/8"]',
        CALLSENSE_CATEGORIES=json.dumps(CATEGORIES),
    )


def run(
    env: dict[str, str], *args: str, expect: int = 0, under: tuple[str, ...] = ()
) -> subprocess.CompletedProcess[str]:
    """`callsense ARGS`, or `UNDER... callsense ARGS` (a tracer), exiting ``expect``."""
    result = subprocess.run([*under, CALLSENSE, *args], env=env, capture_output=True, text=True, timeout=600)
    assert result.returncode == expect, (
        f"exit {result.returncode}\nstdout:\n{result.stdout}\nstderr:\n{result.stderr}"
    )
    return result


def assert_analysed(record: dict[str, Any], labels: set[str]) -> None:
    """Every field of a two-speaker call's analysis present and valid: the LLM's (a fitting taxonomy label,
    bounded lists, a trend per quarter), the talk figures of both speakers, and the categories."""
    assert record["analysis_failures"] == []
    valid = CallRecord.model_validate(record)  # the record's own bounds: 3 issues, 5 action items...
    assert valid.topic in labels and valid.topic_detail
    taxonomy = {topic.label.casefold() for topic in DEFAULT_TOPICS}
    assert valid.topic_detail.casefold() not in taxonomy, "the detail says more than a label"
    assert 1 <= len(valid.issues) <= 3
    assert len(valid.sentiment_trend.agent) == len(valid.sentiment_trend.customer) == 4
    assert set(record["outcome"]) == {"resolved", "callback_needed", "escalated"}
    talk = record["talk"]
    for side in ("agent", "customer"):
        figures = talk[side]
        assert figures["talk_seconds"] > 1 and figures["words_per_minute"] > 30, figures
        assert figures["longest_monologue_seconds"] > 0
        assert figures["loudness_dbfs"]["mean"] <= figures["loudness_dbfs"]["peak"] < 0
    assert abs(talk["agent"]["share"] + talk["customer"]["share"] - 1) < 0.01
    assert talk["turns"] >= 2 and talk["non_talk_seconds"] >= 0 and talk["overlap_seconds"] >= 0
    matched = {category["name"]: category["evidence"] for category in record["categories"]}
    assert set(matched) == {"Both sides talked", "Call driver found"}
    assert [item["text"].rsplit(": ", 1)[1] for item in matched["Call driver found"]] == [valid.topic]


def process(env: dict[str, str], source: Path | str, *extra: str) -> dict[str, Any]:
    output = json.loads(run(env, "process", str(source), "--quiet", *extra).stdout)
    assert isinstance(output, dict)
    return output


def test_help_documents_every_command() -> None:
    result = subprocess.run([CALLSENSE, "--help"], capture_output=True, text=True, check=True)
    for command in ("process", "show", "models", "keys", "doctor", "schema", "db", "backup"):
        assert command in result.stdout
    process_help = subprocess.run(
        [CALLSENSE, "process", "--help"], capture_output=True, text=True, check=True
    )
    for option in ("--call-id", "--json-out", "--language", "--force"):
        assert option in process_help.stdout


def test_sample_call_end_to_end(environment: dict[str, str], tmp_path: Path) -> None:
    out_file = tmp_path / "record.json"
    record = process(environment, SAMPLES / "call_en_refund.flac", "--json-out", str(out_file))
    assert json.loads(out_file.read_text()) == record
    assert record["call_id"] == "call_en_refund"
    assert record["status"] == "done"
    assert record["language"] == "en" and record["language_probability"] > 0.8
    assert record["channels"] == 2 and 30 < record["duration"] < 60
    speakers = [segment["speaker"] for segment in record["segments"]]
    assert speakers[:2] == ["agent", "customer"] and set(speakers) == {"agent", "customer"}
    assert record["transcript"].startswith("Agent: ")
    assert 1 <= len(record["summary"]) <= 5
    assert any(
        word in (record["topic"] + " ".join(record["summary"])).lower() for word in ("refund", "charge")
    )
    assert record["sentiment"] in {"Positive", "Neutral", "Negative"}
    assert record["models"] == {
        "asr": "whisper-base",
        "llm_backend": "embedded",
        "llm_model": "qwen2.5-coder-1.5b",
        "translation": None,
    }
    assert all(record["timings"][stage] is not None for stage in ("fetch", "transcribe", "analyse"))
    assert_analysed(record, {"Refund request", "Billing and payments"})
    # The agent refunded the double charge and the customer had nothing else: settled on the call.
    assert record["outcome"]["resolved"] is True and record["outcome"]["escalated"] is not True

    shown = json.loads(run(environment, "show", "call_en_refund").stdout)
    assert shown == record
    events = run(environment, "show", "call_en_refund", "--events").stdout
    for stage in ("ingest", "fetch", "transcribe", "analyse"):
        assert stage in events

    again = process(environment, SAMPLES / "call_en_refund.flac")
    assert {k: v for k, v in again.items() if k != "timings"} == {
        k: v for k, v in record.items() if k != "timings"
    }


def test_angry_customer_is_negative(environment: dict[str, str]) -> None:
    record = process(environment, AUDIO / "en_angry.stereo.flac")
    assert record["sentiment"] == "Negative"
    assert record["emotion"] in NEGATIVE_EMOTIONS
    assert record["speaker_sentiment"]["customer"] == "Negative"


@pytest.fixture(scope="module")
def injection_call(
    environment: dict[str, str], tmp_path_factory: pytest.TempPathFactory
) -> tuple[dict[str, Any], list[str] | None]:
    """The record of a mono call whose caller dictates instructions, processed once for two tests: its
    analysis, and, when strace is installed, the run's connect() calls to IPv4/IPv6 addresses (``None``
    without strace). Every connect() of the whole run is traced, native libraries' included (onnxruntime
    telemetry, model hubs)."""
    trace = tmp_path_factory.mktemp("strace") / "connect.trace"
    tracer = ("strace", "-f", "-qq", "--seccomp-bpf", "-e", "trace=connect,sendto,sendmsg", "-o", str(trace))
    traced = shutil.which("strace") is not None
    source = str(AUDIO / "en_injection.mono.flac")
    result = run(environment, "process", source, "--quiet", under=tracer if traced else ())
    record = json.loads(result.stdout)
    if not traced:
        return record, None
    return record, [line for line in trace.read_text().splitlines() if "sa_family=AF_INET" in line]


def test_instructions_spoken_by_the_caller_do_not_steer_the_analysis(
    injection_call: tuple[dict[str, Any], list[str] | None],
) -> None:
    record, _ = injection_call
    assert record["status"] == "done"
    assert "banana" in record["transcript"].lower()  # the caller really said it...
    assert "banana" not in (record["topic"] or "").lower()  # ...and it did not take over the analysis
    assert record["topic_detail"] and "banana" not in record["topic_detail"].lower()
    assert record["sentiment"] in {"Positive", "Neutral", "Negative"}  # never "purple", as it was asked
    assert record["summary"] and all(bullet.strip(" .!").lower() != "banana" for bullet in record["summary"])
    assert record["analysis_failures"] == []


def test_spanish_call_is_translated_to_english(environment: dict[str, str]) -> None:
    record = process(environment, AUDIO / "es_cancel.stereo.flac")
    assert record["language"] == "es"
    assert record["models"]["translation"] == "llm"
    translated = record["translated_transcript"].lower()
    assert "cancel" in translated and "internet" in translated
    # turn by turn, each line with its speaker's prefix
    speakers = [segment["speaker"] for segment in record["segments"]]
    assert [line.split(":")[0] for line in translated.split("\n")] == speakers
    assert record["summary"]
    assert_analysed(record, {topic.label for topic in DEFAULT_TOPICS})  # valid; Cancellation expected


@pytest.mark.parametrize("name", ["de_complaint.stereo.flac", "fr_delivery.stereo.flac"])
def test_german_and_french_calls_get_every_llm_field(environment: dict[str, str], name: str) -> None:
    # Translation is off: the LLM translation is asserted on the Spanish call, and this keeps each run short.
    record = process({**environment, "CALLSENSE_TRANSLATION": "off"}, AUDIO / name)
    assert record["language"] == name[:2]
    assert record["translated_transcript"] is None
    # Valid; the labels expected are "Billing and payments" (de) and "Orders and delivery" (fr).
    assert_analysed(record, {topic.label for topic in DEFAULT_TOPICS})


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "empty"),
        (b"just some text, certainly not audio\n" * 40, "holds text instead of audio"),
        (b"fLaC" + bytes(range(256)) * 8, "not a readable audio file"),  # looks like FLAC, is not
    ],
)
def test_bad_file_gives_one_line_error_and_failed_status(
    environment: dict[str, str], tmp_path: Path, content: bytes, message: str
) -> None:
    bad = tmp_path / "bad-call.wav"
    bad.write_bytes(content)
    result = run(environment, "process", str(bad), "--call-id", f"bad-{len(content)}", expect=1)
    assert result.stdout == ""
    assert len(result.stderr.strip().splitlines()) == 1
    assert result.stderr.startswith("error: ") and message in result.stderr
    shown = json.loads(run(environment, "show", f"bad-{len(content)}").stdout)
    assert shown["status"] == "failed" and message in shown["status_detail"]


def test_missing_file_and_unreachable_url(environment: dict[str, str]) -> None:
    missing = run(environment, "process", "/nonexistent/call.wav", expect=1)
    assert "no such file" in missing.stderr
    unreachable = run(
        environment, "process", "http://127.0.0.1:9/call.wav", "--call-id", "unreachable", expect=75
    )
    assert "cannot reach http://127.0.0.1:9/call.wav" in unreachable.stderr


def test_missing_whisper_model_is_a_clear_error(environment: dict[str, str], tmp_path: Path) -> None:
    env = {**environment, "CALLSENSE_ASR__MODEL": str(tmp_path / "no-such-model")}
    result = run(env, "process", str(AUDIO / "en_short.mono.flac"), "--call-id", "no-model", expect=1)
    assert "neither a bundled model" in result.stderr


@pytest.fixture
def garbage_llm_url() -> Iterator[str]:
    """An OpenAI-compatible LLM server on loopback that always answers "I cannot do JSON today."."""
    with openai_answering("I cannot do JSON today.") as url:
        yield url


def test_llm_answering_garbage_fails_the_call_without_inventing(
    environment: dict[str, str], garbage_llm_url: str
) -> None:
    env = {**environment, "CALLSENSE_LLM__BACKEND": "openai", "CALLSENSE_LLM__BASE_URL": garbage_llm_url}
    result = run(env, "process", str(AUDIO / "en_short.mono.flac"), "--call-id", "garbage-llm", expect=1)
    assert "error: the LLM gave no valid analysis" in result.stderr
    shown = json.loads(run(environment, "show", "garbage-llm").stdout)
    assert shown["status"] == "failed"
    assert shown["transcript"]  # the transcript stage's work is kept
    assert shown["summary"] == [] and shown["topic"] is None and shown["sentiment"] is None


def test_models_verify_and_doctor(environment: dict[str, str]) -> None:
    verify = run(environment, "models", "verify").stdout
    assert "base: ok" in verify and "qwen2.5-coder-1.5b: ok" in verify
    doctor = run(environment, "doctor").stdout
    assert "database" in doctor and "FAIL" not in doctor


def test_key_rotation_reencrypts_and_old_key_can_go(environment: dict[str, str], tmp_path: Path) -> None:
    env = {**environment, "CALLSENSE_DATA_DIR": str(tmp_path / "rotation")}
    # The analysis comes from a loopback LLM answering a fixed one at once: this is about the keys sealing
    # the record, and the real model's analyses are asserted above.
    with openai_answering(json.dumps(ANALYSIS)) as llm_url:
        llm = {"CALLSENSE_LLM__BACKEND": "openai", "CALLSENSE_LLM__BASE_URL": llm_url}
        process({**env, **llm}, AUDIO / "en_short.mono.flac", "--call-id", "rotate-me")
    before = json.loads(run(env, "show", "rotate-me").stdout)
    keys_before = json.loads((tmp_path / "rotation" / "keys.json").read_text())["keys"]
    rotated = run(env, "keys", "rotate", "--retire-old").stdout
    assert "re-wrapped 1 data keys" in rotated and "retired keys" in rotated
    keys_after = json.loads((tmp_path / "rotation" / "keys.json").read_text())["keys"]
    assert set(keys_after).isdisjoint(keys_before)
    assert json.loads(run(env, "show", "rotate-me").stdout) == before


@pytest.mark.skipif(shutil.which("strace") is None, reason="needs strace (apt-get install strace)")
def test_no_outbound_connection_is_ever_attempted(
    injection_call: tuple[dict[str, Any], list[str] | None],
) -> None:
    """Every connect() of a whole run, the real models' included, goes to a Unix socket or loopback: the
    process makes no network connection, not even a DNS lookup."""
    _, connections = injection_call
    assert connections, "strace recorded no loopback connections at all; the trace is not working"
    outside = [
        line for line in connections if not re.search(r'inet_addr\("127\.|inet_pton\(AF_INET6, "::1"', line)
    ]
    assert outside == []
