"""Filling the search index for calls stored before it existed (migration 0004): their text is decrypted
and its words indexed, one call per transaction so that a long backfill can be interrupted and resumed."""

from __future__ import annotations

from callsense.calls import search
from callsense.calls import service as calls
from callsense.crypto import KeyRing
from callsense.db import Database


def backfill(*, db: Database, keyring: KeyRing, again: bool = False) -> int:
    """Index every call that has text but no search row (with ``again``, every call that has text); returns
    how many were indexed."""
    with db.transaction() as session:
        waiting = search.calls_to_index(session=session, again=again)
    for call_pk in waiting:
        with db.transaction() as session:
            call = calls.lock(session=session, call_pk=call_pk)
            record = calls.to_record(call=call, keyring=keyring)
            if call.transcript is not None:
                texts = [segment.text for segment in record.segments]
                search.index_transcript(
                    session=session, call_pk=call.id, texts=[*texts, record.translated_transcript or ""]
                )
            analysis = calls.read_analysis(call=call, keyring=keyring)
            if analysis is not None:
                search.index_analysis(session=session, call_pk=call.id, texts=calls.analysis_texts(analysis))
    return len(waiting)
