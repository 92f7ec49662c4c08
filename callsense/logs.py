"""Structured logs on stderr: readable on a terminal, JSON lines for log shippers. Never transcript text."""

from __future__ import annotations

import logging
import sys
from typing import Any, TypeVar

import structlog

from callsense.errors import CallsenseError

Unexpected = TypeVar("Unexpected", bound=CallsenseError)


class _Stderr:
    """Whatever ``sys.stderr`` is when a line is written, not when logging was configured: a test runner
    or a daemon may swap the stream later, and the old one may be closed by then."""

    def write(self, text: str) -> int:
        return sys.stderr.write(text)

    def flush(self) -> None:
        sys.stderr.flush()


def configure(*, level: str, json_lines: bool) -> None:
    numeric = logging.getLevelName(level)
    # Plain tracebacks, without the local variables a rich one shows: a stage's locals hold transcript text.
    renderers: list[structlog.typing.Processor] = (
        [structlog.processors.format_exc_info, structlog.processors.JSONRenderer()]
        if json_lines
        else [structlog.dev.ConsoleRenderer(colors=False, exception_formatter=structlog.dev.plain_traceback)]
    )
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            *renderers,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(numeric),
        logger_factory=structlog.PrintLoggerFactory(file=_Stderr()),  # type: ignore[arg-type]  # duck-typed stream
        # Not cached: a logger bound once would keep the first configuration for good (a test's log capture,
        # a later configure); resolving it per call costs microseconds, nothing next to a stage.
        cache_logger_on_first_use=False,
    )
    # The libraries' own records (alembic, procrastinate, uvicorn) too: a shipper parses every line as JSON.
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=[
                structlog.stdlib.add_logger_name,
                structlog.processors.add_log_level,
                structlog.processors.TimeStamper(fmt="iso", utc=True),
            ],
            processors=[
                structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                structlog.processors.format_exc_info,
                structlog.processors.JSONRenderer(),
            ],
        )
        if json_lines
        else logging.Formatter("%(levelname)s %(name)s: %(message)s")
    )
    logging.basicConfig(level=numeric, handlers=[handler])
    # httpx logs every request's whole URL at INFO (httpcore its connections at DEBUG): a recording's query
    # string (a presigned URL's signature), a CRM lookup by the caller's number, a line per CRM post or LLM
    # request. callsense logs what it fetched itself, without them; at DEBUG too.
    # Presidio logs at DEBUG the words around each hit it weighs ("Context list is: card 4111111111111111
    # rose miller"): the very values the redactor takes out.
    for name in ("httpx", "httpcore", "presidio-analyzer", "presidio-anonymizer"):
        logging.getLogger(name).setLevel(max(numeric, logging.WARNING))


def unexpected(
    raised: BaseException, kind: type[Unexpected], logger: Any, event: str, **fields: Any
) -> Unexpected:
    """An error of no callsense kind, named by its type alone as ``kind``, logged with the frames it stopped
    in. Its message is kept nowhere: a library's message may quote what it was handed (pydantic's
    ``input_value``, a server's answer, a record a response failed to validate), here the words said on a
    call (docs/redaction.md). Raise what it returns ``from None``: a chained original is printed whole by
    whatever logs the raise next (the job queue, the ASGI server)."""
    stand_in = kind(f"unexpected {type(raised).__name__} (the log has where it stopped)")
    logger.error(event, exc_info=(kind, stand_in, raised.__traceback__), **fields)
    return stand_in
