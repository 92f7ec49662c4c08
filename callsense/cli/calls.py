"""``callsense process``, ``show`` and ``schema``: one call through the pipeline, and the stored record."""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from callsense.cli import common
from callsense.errors import ConfigError


def process(
    source: Annotated[str, typer.Argument(help="Recording to process: a file path or an http(s) URL.")],
    call_id: Annotated[
        str | None,
        typer.Option(
            help="The call's id in your systems: up to 200 letters, digits, '.', '_', ':' and '-'. "
            "Default: the file name without extension, other characters made '-'."
        ),
    ] = None,
    json_out: Annotated[Path | None, typer.Option(help="Also write the record to this JSON file.")] = None,
    language: Annotated[
        str | None, typer.Option(help="Language code (en, es, de...) instead of detecting it.")
    ] = None,
    force: Annotated[
        bool, typer.Option(help="Redo every stage even if this call was processed before.")
    ] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress display.")] = False,
    sensitive: SensitiveOption = False,
) -> None:
    """Fetch, transcribe and analyse one call, store it encrypted, and print the analysed record as JSON
    (redacted, unless --sensitive)."""
    from callsense.pipeline import inline

    with common.errors_as_exit():  # checked before minutes of work, not after
        _check_inputs(source=source, call_id=call_id, language=language, json_out=json_out)
    try:
        with common.runtime() as rt, _progress(quiet) as on_progress:
            record = inline.process(
                rt,
                source=source,
                call_id=call_id or _default_call_id(source),
                language=language,
                force=force,
                on_progress=on_progress,
                original_for=common.actor() if sensitive else None,
            )
    except KeyboardInterrupt:
        # Every finished stage is stored: the same command goes on from the stage that was cut short.
        common.err.print(
            "interrupted: the stages already done are kept; run the same command again to go on",
            highlight=False,
            soft_wrap=True,
        )
        raise typer.Exit(common.EXIT_INTERRUPTED) from None
    text = record.model_dump_json(indent=2)
    sys.stdout.write(text + "\n")
    if json_out is not None:
        with common.errors_as_exit():
            try:
                json_out.write_text(text + "\n", encoding="utf-8")
            except OSError as exc:
                raise ConfigError(f"cannot write the record to {json_out}: {exc.strerror}") from exc


def _check_inputs(*, source: str, call_id: str | None, language: str | None, json_out: Path | None) -> None:
    from callsense.backends.recordings import is_path, local
    from callsense.backends.recordings.sources.metadata import CALL_ID
    from callsense.config.models import whisper_languages

    if is_path(source):
        local.existing_file(source)  # a typo stores no failed call
    if call_id is not None and not CALL_ID.fullmatch(call_id):
        raise ConfigError(
            f"the call id '{call_id[:80]}' must be 1 to 200 letters, digits, '.', '_', ':' or '-', "
            "starting with a letter or digit (what the webhooks accept)"
        )
    if language is not None and language not in (known := whisper_languages()):
        raise ConfigError(f"unknown language '{language}' (Whisper knows {', '.join(sorted(known))})")
    if json_out is not None and json_out.is_dir():
        raise ConfigError(f"cannot write the record to {json_out}: it is a directory")
    if json_out is not None and not json_out.parent.is_dir():
        raise ConfigError(f"cannot write the record to {json_out}: there is no directory {json_out.parent}")


SensitiveOption = Annotated[
    bool,
    typer.Option(
        "--sensitive",
        help="Print the original text instead of the redacted view (personal data included); the reading "
        "is written to the call's audit trail with your user name.",
    ),
]


def _default_call_id(source: str) -> str:
    """The file name without extension, made a call id: other characters become '-', at most 200 of them."""
    name = source.rstrip("/").rsplit("/", 1)[-1].split("?", 1)[0]
    stem = re.sub(r"[^A-Za-z0-9._:-]+", "-", name.split(".", 1)[0])
    return stem.lstrip("._:-")[:200].rstrip("-") or "call"


@contextmanager
def _progress(quiet: bool) -> Iterator[Callable[[str, float], None] | None]:
    if quiet or not common.err.is_terminal:
        yield None
        return
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.percentage:>3.0f}%"),
        TimeElapsedColumn(),
        console=common.err,
        transient=True,
    ) as bar:
        tasks: dict[str, Any] = {}

        def update(stage: str, fraction: float) -> None:
            if stage not in tasks:
                tasks[stage] = bar.add_task(stage, total=1.0)
            bar.update(tasks[stage], completed=fraction)

        yield update


def show(
    call_id: Annotated[str, typer.Argument(help="The call's id.")],
    events: Annotated[bool, typer.Option(help="Print the audit trail instead of the record.")] = False,
    sensitive: SensitiveOption = False,
) -> None:
    """Print a stored call's record as JSON (decrypted, redacted unless --sensitive), or its audit trail."""
    from callsense.calls import access
    from callsense.calls import service as calls_service

    if events and sensitive:  # it would be ignored: the audit trail holds no call text to show unredacted
        with common.errors_as_exit():
            raise ConfigError(
                "--sensitive shows the record as said; the audit trail (--events) has no text to unredact"
            )
    with common.runtime() as rt, rt.db.transaction() as session:
        call = calls_service.get(session=session, call_id=call_id)
        if events:
            table = Table("at", "stage", "event", "seconds", "actor", "detail")
            for event in calls_service.events(session=session, call_pk=call.id):
                seconds = f"{event.seconds:.2f}" if event.seconds is not None else ""
                table.add_row(
                    event.at.isoformat(timespec="seconds"),
                    event.stage,
                    event.kind,
                    seconds,
                    event.actor or "",
                    event.detail or "",
                )
            common.out.print(table)
            return
        if sensitive:
            record = access.read_record(
                session=session,
                keyring=rt.keyring,
                call=call,
                transcript_allowed=True,
                actor=common.actor(),
                via="cli",
                original=True,
            )
        else:
            record = calls_service.to_record(call=call, keyring=rt.keyring)
    sys.stdout.write(record.model_dump_json(indent=2) + "\n")


def schema() -> None:
    """Print the JSON Schema of the call record."""
    from callsense.calls.schemas import CallRecord

    sys.stdout.write(json.dumps(CallRecord.model_json_schema(), indent=2) + "\n")
