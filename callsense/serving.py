"""What the API and the dashboard both serve, so that neither imports the other: the runtime and the job
queue that the app factory keeps in ``app.state``, the recording as a (range) response, and the actions
that queue jobs once their transaction is committed (a call run again, a delivery retried, a category
changed). Each side turns ``NotFoundError`` into its own answer: JSON for the API, a page for the
dashboard."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

import procrastinate
from fastapi import Depends, HTTPException, Request, Response, status
from fastapi.responses import StreamingResponse
from starlette.concurrency import run_in_threadpool

from callsense.calls import access, actions, categories, deliveries
from callsense.config.rule_text import parse_rule_text
from callsense.errors import UnsatisfiableRangeError
from callsense.pipeline import categorise, tasks
from callsense.runtime import Runtime


def get_runtime(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


def get_jobs(request: Request) -> procrastinate.App:
    jobs_app: procrastinate.App = request.app.state.jobs
    return jobs_app


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]
JobsDep = Annotated[procrastinate.App, Depends(get_jobs)]


def audio_response(
    rt: Runtime, *, call_id: str, range_header: str | None, actor: str, via: str, original: bool = False
) -> Response:
    """The recording, or the byte range asked for (206), decrypted as it is sent, audited; 416 for a range
    outside it. The redacted copy, unless ``original`` (the caller has checked the permission)."""
    try:
        with rt.db.transaction() as session:
            recording = access.play_recording(
                session=session,
                keyring=rt.keyring,
                blobs=rt.blobs,
                call_id=call_id,
                range_header=range_header,
                actor=actor,
                via=via,
                original=original,
                redacting=rt.settings.redaction.enabled,
            )
    except UnsatisfiableRangeError as exc:
        raise HTTPException(
            status.HTTP_416_RANGE_NOT_SATISFIABLE, headers={"Content-Range": f"bytes */{exc.size}"}
        ) from None
    # Decrypted audio must not land in a browser's or a proxy's cache.
    headers = {"Accept-Ranges": "bytes", "Content-Length": str(recording.length), "Cache-Control": "no-store"}
    code = status.HTTP_200_OK
    if recording.span is not None:
        start, end = recording.span
        headers["Content-Range"] = f"bytes {start}-{end}/{recording.size}"
        code = status.HTTP_206_PARTIAL_CONTENT
    return StreamingResponse(
        recording.content(), status_code=code, media_type=recording.media_type, headers=headers
    )


async def reprocess(
    rt: Runtime, jobs_app: procrastinate.App, *, call_id: str, actor: str, via: str
) -> actions.Restart:
    """Run the call again (``actions.restart``) and queue its first stage."""

    def reset() -> actions.Restart:
        with rt.db.transaction() as session:
            return actions.restart(session=session, call_id=call_id, actor=actor, via=via, blobs=rt.blobs)

    restart = await run_in_threadpool(reset)
    await tasks.defer_stage_async(jobs_app, restart.stage, restart.call_pk)
    return restart


async def retry_delivery(
    rt: Runtime, jobs_app: procrastinate.App, *, delivery_id: uuid.UUID, actor: str
) -> deliveries.DeliveryView:
    """Put the delivery back in the outbox (``actions.retry_delivery``) and queue it when it is pending."""

    def requeue() -> deliveries.DeliveryView:
        with rt.db.transaction() as session:
            return actions.retry_delivery(session=session, delivery_id=delivery_id, actor=actor)

    view = await run_in_threadpool(requeue)
    if view.status == deliveries.DeliveryStatus.pending:
        await tasks.defer_delivery_async(jobs_app, delivery_id)
    return view


async def retry_dead_deliveries(
    rt: Runtime, jobs_app: procrastinate.App, *, actor: str, destination: str | None = None
) -> list[uuid.UUID]:
    """Put every dead delivery (of ``destination``, or all) back in the outbox, audited, and queue them."""
    rt.settings.deliveries.check_configured(destination)  # a removed destination's rows cannot be sent

    def requeue() -> list[uuid.UUID]:
        with rt.db.transaction() as session:
            return deliveries.requeue_dead(session=session, actor=actor, destination=destination)

    ids = await run_in_threadpool(requeue)
    for delivery_id in ids:
        await tasks.defer_delivery_async(jobs_app, delivery_id)
    return ids


async def save_category(
    rt: Runtime,
    jobs_app: procrastinate.App,
    *,
    name: str,
    description: str,
    rule: str | dict[str, Any],
    actor: str,
) -> categories.Saved:
    """Create or replace a dashboard category (``categories.save``, audited), the rule as an object or as
    text (JSON or TOML), then queue the re-evaluation of the stored calls. ``CategoryError`` says what is
    wrong; nothing is stored or queued then."""

    def store() -> categories.Saved:
        raw = {
            "name": name,
            "description": description,
            "rule": parse_rule_text(rule) if isinstance(rule, str) else rule,
        }
        with rt.db.transaction() as session:
            return categories.save(
                session=session,
                raw=raw,
                configured=rt.settings.categories,
                topics={topic.label for topic in rt.settings.analysis.topics},
                actor=actor,
            )

    saved = await run_in_threadpool(store)
    await _reevaluate_categories(rt, jobs_app)
    return saved


async def delete_category(rt: Runtime, jobs_app: procrastinate.App, *, name: str, actor: str) -> None:
    """Delete a dashboard category (``categories.remove``, audited; ``NotFoundError`` when there is none of
    that name), then queue the re-evaluation of the stored calls."""

    def remove() -> None:
        with rt.db.transaction() as session:
            categories.remove(session=session, name=name, actor=actor)

    await run_in_threadpool(remove)
    await _reevaluate_categories(rt, jobs_app)


async def _reevaluate_categories(rt: Runtime, jobs_app: procrastinate.App) -> None:
    """Queue the jobs that bring every stored call up to the categories now in force."""
    for first, last in await run_in_threadpool(categorise.stale_ranges, rt):
        await tasks.defer_categorise_async(jobs_app, first, last)
