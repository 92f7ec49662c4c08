"""The LLM's answers to an analysis that did not finish, kept for the queue's next run of the stage.

A long call is analysed in parts (``analysis.py``); when the LLM server refuses one part (429 or 503, a
``RetryableError``), the queue runs the whole stage again later. Each answer (the raw text, validated again
as it is read back) is kept as soon as it comes, so that the next run asks only what was not answered yet:
the parts, their merging and the translation's parts alike. An answer is found again by the digest of the
exact request (back-end, model, context, prompt with the transcript, schema, answer budget): a transcript,
prompt, model or setting changed since then asks anew, and an answer is never given to another request.

The answers are one blob of the call in the blob store, JSON sealed under the call's data key, like its
recording. They quote the original transcript: they are deleted when the stage ends, whether it stored its
analysis or failed for good (``discarded_after``), and when the call is erased, its text purged or its
stage given up by the queue after its workers died (``delete``); a run writes back only the answers it
used, so a reprocessed call's stale ones go too.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING

import structlog

from callsense.backends.llm.base import JSONRequest, LLMBackend
from callsense.calls import service as calls
from callsense.errors import DecryptionError, NotFoundError
from callsense.pipeline import stages

if TYPE_CHECKING:
    from callsense.runtime import Runtime

log = structlog.get_logger(__name__)


class KeptAnswers:
    """The LLM back-end ``llm`` for one run of the call's analysis: a request it was asked before, in this
    run or an earlier one, is answered with the text kept then; every new answer is kept at once."""

    def __init__(self, rt: Runtime, call_pk: uuid.UUID, llm: LLMBackend) -> None:
        self._rt = rt
        self._call_pk = call_pk
        self._llm = llm
        self._earlier: dict[str, str] | None = None  # read on the first request
        self._used: dict[str, str] = {}  # this run's answers, reused or new: what is written
        self.reused = 0
        self.asked = 0

    @property
    def name(self) -> str:
        return self._llm.name

    @property
    def model(self) -> str:
        return self._llm.model

    @property
    def context_tokens(self) -> int:
        return self._llm.context_tokens

    def count_tokens(self, text: str) -> int:
        return self._llm.count_tokens(text)

    def prepare(self, systems: Sequence[str]) -> bool:
        return self._llm.prepare(systems)

    def complete_json(self, request: JSONRequest) -> str:
        digest = request_digest(self._llm, request)
        if self._earlier is None:
            self._earlier = _read(self._rt, self._call_pk)
        answer = self._earlier.get(digest)
        if answer is not None:
            self.reused += 1
            self._used[digest] = answer
            return answer
        answer = self._llm.complete_json(request)
        self.asked += 1
        self._used[digest] = answer
        plaintext = json.dumps({"answers": self._used}).encode()
        sealed = self._rt.keyring.encrypt(plaintext, context=calls.kept_answers_context(self._call_pk))
        self._rt.blobs.put(calls.kept_answers_blob_key(self._call_pk), [sealed])
        return answer

    def log_reuse(self) -> None:
        """One log line when an earlier run had left answers: how many this run reused."""
        if self._earlier:
            log.info(
                "analysis answers kept from an earlier run",
                reused=self.reused,
                asked=self.asked,
                kept_before=len(self._earlier),
            )


def request_digest(llm: LLMBackend, request: JSONRequest) -> str:
    """Names everything the answer depends on; the same digest means the very same question."""
    asked = {
        "backend": llm.name,
        "model": llm.model,
        "context_tokens": llm.context_tokens,
        "request": dataclasses.asdict(request),
    }
    return hashlib.sha256(json.dumps(asked, sort_keys=True).encode()).hexdigest()


@contextmanager
def discarded_after(rt: Runtime, call_pk: uuid.UUID) -> Iterator[KeptAnswers]:
    """The call's kept answers for one run of the stage, deleted when it ends: kept only when it fails in
    a way the queue will run it again for."""
    kept = KeptAnswers(rt, call_pk, rt.llm)
    try:
        yield kept
    except Exception as exc:
        if not stages.runs_again(exc):
            delete(rt, call_pk)
        raise
    finally:
        kept.log_reuse()
    delete(rt, call_pk)


def delete(rt: Runtime, call_pk: uuid.UUID) -> None:
    """Delete the call's kept answers, if any (erasure, the text purge, the stage's end or given up)."""
    rt.blobs.delete(calls.kept_answers_blob_key(call_pk))


def _read(rt: Runtime, call_pk: uuid.UUID) -> dict[str, str]:
    try:
        with rt.blobs.open(calls.kept_answers_blob_key(call_pk)) as blob:
            sealed = blob.read()
    except NotFoundError:
        return {}
    try:
        plaintext = rt.keyring.decrypt(sealed, context=calls.kept_answers_context(call_pk))
    except DecryptionError as exc:  # only a saving of work: the run asks everything again
        log.warning("the analysis answers kept from an earlier run cannot be read", error=str(exc))
        return {}
    answers: dict[str, str] = json.loads(plaintext)["answers"]
    return answers
