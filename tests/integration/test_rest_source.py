"""A REST source against a real HTTP server on loopback and a real PostgreSQL: pages read from the stored
cursor, each new call registered once and fetched through the SSRF-safe download, bad items refused."""

from __future__ import annotations

import dataclasses
import json
import threading
from collections.abc import Iterator
from datetime import UTC, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from sqlalchemy import func, select, update

from callsense.calls import service as calls_service
from callsense.calls import source_files
from callsense.calls.models import Call, Event, SourceStatus
from callsense.config import Settings
from callsense.config.models import AgentSpeaks, Channel
from callsense.pipeline import fetch, poll, queue_figures, tasks, transcribe
from callsense.runtime import Runtime, open_runtime
from callsense.speech.fake import FakeTranscriber
from tests.recording_trees import tiny_wav

PAGES: dict[str | None, dict[str, Any]] = {
    None: {
        "recordings": [
            {"call_id": "c1", "recording_url": "/audio/c1.wav", "agent": "ann", "direction": "inbound"},
            {"call_id": "c2", "recording_url": "/audio/c2.wav", "started_at": "2024-05-01T10:00:00Z"},
            {"call_id": "c9"},  # no recording: refused
        ],
        "next_cursor": "p2",
    },
    "p2": {
        "recordings": [
            {"call_id": "c3", "recording_url": "/audio/c3.wav"},
            {"call_id": "c1", "recording_url": "/audio/c1.wav"},  # listed again: found, not registered
        ],
        "next_cursor": "p3",
    },
    "p3": {"recordings": [], "next_cursor": "p3"},
}


class Recorder:
    def __init__(self) -> None:
        self.cursors: list[str | None] = []
        self.pages = PAGES
        self.refusal: int | None = None  # the status the listing answers instead of a page
        self.retry_after: str | None = None  # the Retry-After sent with the refusal
        self.refused = 0  # listings refused
        self.body: bytes | None = None  # what the listing answers instead of a page
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        recorder = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                parts = urlsplit(self.path)
                if parts.path == "/recordings" and recorder.refusal is not None:
                    recorder.refused += 1
                    self.send_response(recorder.refusal)
                    if recorder.retry_after is not None:
                        self.send_header("Retry-After", recorder.retry_after)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                if parts.path == "/recordings":
                    cursor = parse_qs(parts.query).get("since", [None])[0]
                    recorder.cursors.append(cursor)
                    page = dict(recorder.pages[cursor])
                    page["recordings"] = [
                        {**item, "recording_url": recorder.url + item["recording_url"]}
                        if "recording_url" in item
                        else item
                        for item in page["recordings"]
                    ]
                    body, kind = json.dumps(page).encode(), "application/json"
                else:
                    body, kind = tiny_wav(), "audio/wav"
                if parts.path == "/recordings" and recorder.body is not None:
                    body = recorder.body
                self.send_response(200)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        return Handler


@pytest.fixture
def recorder() -> Iterator[Recorder]:
    served = Recorder()
    thread = threading.Thread(target=served.server.serve_forever, daemon=True)
    thread.start()
    yield served
    served.server.shutdown()
    served.server.server_close()


def _runtime(settings: Settings, url: str, **options: Any) -> Runtime:
    source = {"name": "api", "url": url, "agent_channel": "right", **options}
    configured = Settings.model_validate(
        {**settings.model_dump(), "fetch": {"allow_networks": ["127.0.0.0/8"]}, "sources": {"rest": [source]}}
    )
    return open_runtime(configured)


def test_pages_are_read_from_the_stored_cursor_and_each_call_registered_once(
    settings: Settings, recorder: Recorder
) -> None:
    rt = _runtime(settings, f"{recorder.url}/recordings")
    app = tasks.build_app(rt)
    try:
        with app.open():
            first = tasks.poll_source_now(rt, app, "api")
            again = tasks.poll_source_now(rt, app, "api")
        assert recorder.cursors == [None, "p2", "p3", "p3"]  # the second poll starts where the first ended
        assert (first.seen, len(first.registered), first.refused) == (5, 3, 1)
        assert (again.seen, again.registered) == (0, [])
        assert first.error is not None and "item 2 after None: it names no recording_url" in first.error
        with rt.db.transaction() as session:
            calls = {call.call_id: call for call in session.scalars(select(Call))}
            status = source_files.statuses(session=session)["api"]
            refusals = session.scalars(select(Event.detail).where(Event.stage == "source")).all()
            assert sorted(calls) == ["c1", "c2", "c3"]
            assert (calls["c1"].agent, calls["c1"].direction, calls["c1"].agent_channel) == (
                "ann",
                "inbound",
                "right",
            )
            assert calls["c2"].started_at is not None and calls["c2"].started_at.isoformat().startswith(
                "2024-05-01"
            )
            assert (status.cursor, status.ingested, status.refused) == ("p3", 3, 1)
            assert refusals == ["api: item 2 after None: it names no recording_url"]
            jobs = queue_figures.job_counts(session=session)
        assert ("fetch", "todo", 3) in jobs  # downloaded by the workers, as a webhook's recording is
        assert fetch.run(rt, calls["c3"].id, local_files=False) == "transcribe"
        with rt.db.transaction() as session:
            fetched = session.get(Call, calls["c3"].id)
            assert fetched is not None and fetched.audio_bytes == len(tiny_wav())
    finally:
        rt.db.close()


def test_an_api_that_is_down_is_the_source_s_error_and_the_cursor_stays(settings: Settings) -> None:
    rt = _runtime(settings, "http://127.0.0.1:9/recordings")  # the discard port: nothing listens
    app = tasks.build_app(rt)
    try:
        with app.open():
            report = tasks.poll_source_now(rt, app, "api")
        assert report.registered == [] and report.error is not None
        assert "the listing at http://127.0.0.1:9/recordings: cannot reach" in report.error
        with rt.db.transaction() as session:
            status = source_files.statuses(session=session)["api"]
        assert status.cursor is None and status.last_error == report.error
    finally:
        rt.db.close()


def test_a_listing_refused_or_broken_says_what_to_look_at(settings: Settings, recorder: Recorder) -> None:
    recorder.refusal = 401
    rt = _runtime(settings, recorder.url + "/recordings")
    try:
        no_credentials = poll.poll_named(rt, "api").error or ""
        assert "answered 401: no credentials were sent" in no_credentials
        assert "no [[fetch.sources]] url_prefix covers" in no_credentials
        recorder.refusal = 403
        configured = Settings.model_validate(
            {
                **rt.settings.model_dump(),
                "fetch": {
                    **rt.settings.fetch.model_dump(),
                    "sources": [{"url_prefix": recorder.url, "kind": "bearer", "token": "stale"}],
                },
            }
        )
        refused = poll.poll_named(dataclasses.replace(rt, settings=configured), "api").error or ""
        assert (
            f"answered 403: the credentials of the [[fetch.sources]] entry {recorder.url} were refused"
            in refused
        )
        recorder.refusal, recorder.body = None, b"[" * 100_000  # a broken API's answer: nothing to list
        broken = poll.poll_named(rt, "api")
        assert broken.error == f"{recorder.url}/recordings answered JSON nested too deeply"
    finally:
        rt.db.close()


@pytest.mark.parametrize("refusal", [429, 503])
def test_an_api_asking_for_a_wait_is_not_polled_again_before_then(
    settings: Settings, recorder: Recorder, refusal: int
) -> None:
    recorder.refusal, recorder.retry_after = refusal, "120"
    rt = _runtime(settings, recorder.url + "/recordings")
    try:
        refused = poll.poll_named(rt, "api")
        assert refused.held_until is not None and refused.error is not None
        with rt.db.transaction() as session:
            wait = session.scalar(select(func.now()))
            status = source_files.statuses(session=session)["api"]
        assert wait is not None and 118 <= (refused.held_until - wait).total_seconds() <= 121
        shown = f"{refused.held_until.astimezone(UTC):%Y-%m-%d %H:%M:%S} UTC"
        assert refused.error.endswith(
            f"answered {refusal} for {recorder.url}/recordings; not polled again before {shown}, as it asked"
        )
        assert status.last_error == refused.error  # as `callsense sources list` and the operations page show
        recorder.refusal = None
        held = poll.poll_named(rt, "api")  # the next minute's poll: the API is not asked
        assert (recorder.refused, recorder.cursors) == (1, [])
        assert held.held_until == refused.held_until and held.seen == 0
        with rt.db.transaction() as session:  # two minutes later, when another source's API asks to wait
            session.execute(update(SourceStatus).values(not_before=func.now() - timedelta(seconds=1)))
            source_files.hold_off(session=session, source="other-api", seconds=120)
        after = poll.poll_named(rt, "api")
        assert recorder.cursors == [None, "p2", "p3"] and after.held_until is None and after.seen == 5
    finally:
        rt.db.close()


def test_each_listed_call_may_name_its_agent_over_the_source_s(
    settings: Settings, recorder: Recorder
) -> None:
    # One API for inbound and outbound calls: the source says the agent speaks first and is on the right,
    # an item may say otherwise for its own call, and a value that is neither is noted, as a webhook's is.
    recorder.pages = {
        None: {
            "recordings": [
                {"call_id": "out", "recording_url": "/audio/out.wav", "agent_speaks": "second"},
                {"call_id": "left", "recording_url": "/audio/left.wav", "agent_channel": "left"},
                {"call_id": "odd", "recording_url": "/audio/odd.wav", "agent_speaks": "agent"},
                {"call_id": "plain", "recording_url": "/audio/plain.wav"},
            ]
        }
    }
    rt = _runtime(settings, f"{recorder.url}/recordings", agent_speaks="first")
    given: dict[str, tuple[AgentSpeaks | None, Channel | None]] = {}
    notes: dict[str, list[str]] = {}
    try:
        assert len(poll.poll_named(rt, "api").registered) == 4
        with rt.db.transaction() as session:
            registered = {call.call_id: call.id for call in session.scalars(select(Call))}
        for call_id, call_pk in registered.items():
            transcriber = FakeTranscriber([])
            assert fetch.run(rt, call_pk, local_files=False) == "transcribe"
            transcribe.run(dataclasses.replace(rt, transcriber=transcriber), call_pk)
            given[call_id] = (transcriber.agent_speaks[0], transcriber.agent_channels[0])
            with rt.db.transaction() as session:
                trail = calls_service.events(session=session, call_pk=call_pk)
                notes[call_id] = [event.detail or "" for event in trail if event.kind == "speakers"]
    finally:
        rt.db.close()
    assert given == {
        "out": (AgentSpeaks.second, Channel.right),
        "left": (AgentSpeaks.first, Channel.left),
        "odd": (AgentSpeaks.first, Channel.right),
        "plain": (AgentSpeaks.first, Channel.right),
    }
    assert "metadata agent_speaks='agent' ignored: expected 'first' or 'second'" in notes["odd"]
