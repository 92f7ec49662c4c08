"""A database outage while a folder's or bucket's poll takes a file says nothing of the file: the take is
tried again at the next poll without counting towards the file's max_attempts, so a long outage (many polls
cut short) gives no good file up."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from pathlib import Path

from sqlalchemy import select

from callsense.backends.recordings.sources import Listed
from callsense.backends.recordings.sources.fake import FakeSource
from callsense.calls.models import SourceFile
from callsense.config import Settings
from callsense.pipeline import poll
from callsense.runtime import Runtime, open_runtime
from tests.integration.test_database_outage import refuse_connections
from tests.recording_trees import put, tiny_wav

OUTAGE_S = 0.5


class _CutOffMidTake(FakeSource):
    """Cuts the database off (every connection closed, no new one) once a take claimed its file and staged
    it, and lets it back ``OUTAGE_S`` later; the take's registration of the call then meets the outage."""

    def __init__(self, listed: Listed, database_url: str) -> None:
        super().__init__("nas", [listed])
        self.database_url = database_url
        self.outages = 0

    @contextlib.contextmanager
    def staged(self, listed: Listed) -> Iterator[str]:
        if self.outages:
            self.outages -= 1
            refuse_connections(self.database_url, allowed=False)
            back = threading.Timer(OUTAGE_S, refuse_connections, [self.database_url], {"allowed": True})
            back.start()
        with super().staged(listed) as local_copy:
            yield local_copy


def _row(rt: Runtime) -> tuple[str, int, str | None]:
    with rt.db.transaction() as session:
        row = session.execute(select(SourceFile.status, SourceFile.attempts, SourceFile.reason)).one()
        return row.status, row.attempts, row.reason


def test_takes_cut_short_by_the_database_do_not_count_towards_giving_the_file_up(
    settings: Settings, database_url: str, tmp_path: Path
) -> None:
    rt = open_runtime(settings)
    try:
        listed = Listed(
            key="good.wav", location=str(put(tmp_path, "good.wav", tiny_wav())), size=10, mtime=1.0
        )
        source = _CutOffMidTake(listed, database_url)
        rules = poll.TakeRules(max_attempts=2)
        source.outages = 3  # more polls cut short than the file's max_attempts
        for _poll in range(3):
            report = poll.poll(rt, source, stable_seconds=0, rules=rules)
            assert (report.failed, report.given_up, report.fetched) == (1, 0, [])
            status, attempts, reason = _row(rt)
            assert (status, attempts) == ("error", 0)
            assert "the database could not be reached; tried again at the next poll" in (reason or "")
        report = poll.poll(rt, source, stable_seconds=0, rules=rules)
        assert (len(report.fetched), report.given_up) == (1, 0)
        assert _row(rt) == ("ingested", 0, None)
    finally:
        rt.db.close()
