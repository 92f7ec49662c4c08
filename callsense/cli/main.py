"""The ``callsense`` command line: the typer app, the service commands, and the command groups it mounts."""

from __future__ import annotations

import inspect
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from callsense import __version__
from callsense.cli import ask as asking
from callsense.cli import (
    backup,
    calls,
    categories,
    common,
    deliveries,
    keys,
    models,
    search,
    sources,
    tokens,
    users,
)
from callsense.cli import db as db_commands  # `db` names the database module in the commands below
from callsense.cli import retention as retention_commands  # its own line: the commands merge apart
from callsense.errors import ConfigError

app = typer.Typer(
    help="Self-hosted call analytics: transcribe, analyse and store contact-center calls on-premises.\n\n"
    "Configuration: environment variables CALLSENSE_* or a TOML file (CALLSENSE_CONFIG or ./callsense.toml); "
    "see docs/configuration.md.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
# `--help` lists commands in the order they are registered: those of one call first, then the service's.
app.command()(calls.process)
app.command()(calls.show)
app.command()(calls.schema)
app.command()(asking.ask)
app.add_typer(models.app, name="models")
app.add_typer(keys.app, name="keys")
app.add_typer(tokens.app, name="tokens")
app.add_typer(deliveries.app, name="deliveries")
app.add_typer(sources.app, name="sources")
app.add_typer(users.app, name="users")
app.add_typer(search.app, name="search")
app.add_typer(categories.app, name="categories")
app.add_typer(db_commands.app, name="db")
app.add_typer(backup.app, name="backup")
app.add_typer(retention_commands.app, name="retention")
app.add_typer(retention_commands.calls_app, name="calls")


def _version(value: bool) -> None:
    if value:
        common.out.print(f"callsense {__version__}")
        raise typer.Exit()


@app.callback()
def main(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version and exit.")
    ] = False,
) -> None:
    """Self-hosted call analytics."""


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Address to listen on (default: server.host).")] = None,
    port: Annotated[int | None, typer.Option(min=1, max=65535, help="Port (default: server.port).")] = None,
    worker_concurrency: Annotated[
        int | None,
        typer.Option(
            min=0,
            max=64,
            help="Jobs the in-process worker runs at once; 0 for an API-only node (default: "
            "server.worker_concurrency).",
        ),
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
    from callsense.pipeline import tasks
    from callsense.runtime import open_runtime
    from callsense.server import create_app

    settings = common.settings()
    listen_host, listen_port = host or settings.server.host, port or settings.server.port
    with common.errors_as_exit():
        if ssl_certfile is not None:
            _check_tls(ssl_certfile, ssl_keyfile)
        _check_listen(listen_host, listen_port)  # before anything is opened or started
        rt = open_runtime(settings)
    common.warn_of_kept_erasures(settings)
    concurrency = settings.server.worker_concurrency if worker_concurrency is None else worker_concurrency
    api = create_app(rt, tasks.build_app(rt), worker_concurrency=concurrency)
    # After its graceful shutdown uvicorn re-raises SIGTERM to the handler it found. Make that handler exit
    # through Python, so atexit still stops the embedded PostgreSQL this process started.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    stop_supervising = db.supervise(rt.db)  # an embedded PostgreSQL that dies is started again
    try:
        uvicorn.run(
            api,
            host=listen_host,
            port=listen_port,
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


def _check_tls(certfile: Path, keyfile: Path | None) -> None:
    """Load the certificate as uvicorn will: it does so after the start, where a bad one is a traceback."""
    import ssl

    try:
        ssl.create_default_context(ssl.Purpose.CLIENT_AUTH).load_cert_chain(certfile, keyfile)
    except OSError as exc:  # ssl.SSLError included
        raise ConfigError(
            f"cannot load the TLS certificate {certfile} and key {keyfile or certfile}: {exc}"
        ) from exc


def _check_listen(host: str, port: int) -> None:
    """Bind the address as uvicorn will (asyncio's server, address reuse included), then let it go: uvicorn
    finds a port in use only after the start, and ends with its own message and exit code 3."""
    import asyncio
    import errno
    import os

    async def bind() -> None:
        server = await asyncio.get_running_loop().create_server(asyncio.Protocol, host, port)
        server.close()
        await server.wait_closed()

    try:
        asyncio.run(bind())
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE:
            raise ConfigError(
                f"cannot listen on {host}:{port}: the port is in use; stop what holds it, or choose another "
                "port with --port or server.port (CALLSENSE_SERVER__PORT)"
            ) from exc
        # asyncio's message repeats the address; a host name that does not resolve has no errno of the OS
        reason = os.strerror(exc.errno) if exc.errno and exc.errno > 0 else exc.strerror
        raise ConfigError(
            f"cannot listen on {host}:{port}: {reason}; check --host and --port, or server.host and "
            "server.port (CALLSENSE_SERVER__HOST, CALLSENSE_SERVER__PORT)"
        ) from exc


@app.command()
def worker(
    queue: Annotated[
        list[str] | None,
        typer.Option(
            help="Only these queues (fetch, transcribe, analyse, deliver, categories, maintenance, sources); "
            "repeat it."
        ),
    ] = None,
    concurrency: Annotated[int, typer.Option(min=1, max=64, help="Jobs run at once.")] = 1,
    metrics_port: Annotated[
        int | None,
        typer.Option(
            min=1,
            max=65535,
            help="Serve this worker's own metrics (stage durations, model load, real-time factor) for "
            "Prometheus at http://METRICS-HOST:PORT/metrics, without a token. Default: not served.",
        ),
    ] = None,
    metrics_host: Annotated[
        str, typer.Option(help="Address for --metrics-port; keep it on loopback or a scrape-only network.")
    ] = "127.0.0.1",
) -> None:
    """Run a worker against the shared database: more throughput, or transcription on GPU machines only."""
    import asyncio
    import contextlib
    import signal

    from prometheus_client import start_http_server

    from callsense import metrics
    from callsense.pipeline import tasks, workers
    from callsense.runtime import open_runtime

    settings = common.settings()
    with common.errors_as_exit():
        if unknown := sorted(set(queue or ()) - tasks.queue_names()):
            raise ConfigError(
                f"no queue named {', '.join(unknown)} (queues: {', '.join(sorted(tasks.queue_names()))})"
            )
        if metrics_port is not None:  # first: a port taken stops the worker before it opens anything
            try:
                start_http_server(metrics_port, addr=metrics_host, registry=metrics.REGISTRY)
            except OSError as exc:
                raise ConfigError(f"cannot serve metrics on {metrics_host}:{metrics_port}: {exc}") from exc
        rt = open_runtime(settings)
    common.warn_of_kept_erasures(settings)
    jobs_app = tasks.build_app(rt)

    async def run() -> None:
        async with jobs_app.open_async():
            options = tasks.worker_options(rt, queues=queue, concurrency=concurrency)
            supervised = asyncio.create_task(workers.run_worker_supervised(jobs_app, options))

            def stop(signal_name: str) -> None:
                # A running analysis may take minutes to finish: without a word, the worker looks hung.
                workers.log.warning("stopping: the running jobs finish first", signal=signal_name)
                supervised.cancel()

            for stop_signal in (signal.SIGINT, signal.SIGTERM):  # finish running jobs, then exit
                asyncio.get_running_loop().add_signal_handler(stop_signal, stop, stop_signal.name)
            with contextlib.suppress(asyncio.CancelledError):
                await supervised

    try:
        asyncio.run(run())
    finally:
        rt.db.close()


@app.command()
def doctor() -> None:
    """Check the environment: settings, models, LLM server, database, key file, archive, disk, GPU."""
    from callsense.cli import doctor as checks

    settings = common.settings()
    table = Table("check", "result", "detail")
    ok = True
    for check in checks.run_all(settings):
        ok &= check.ok
        table.add_row(check.name, "[green]ok[/]" if check.ok else "[red]FAIL[/]", check.detail)
    common.out.print(table)
    if not ok:
        raise typer.Exit(common.EXIT_PERMANENT)


def _summaries_as_one_line(typer_app: typer.Typer) -> None:
    """Give each command its docstring's first paragraph as one line: typer's command lists keep the line
    breaks of a docstring (its command pages do not), which left half-empty lines in ``--help``."""
    for info in typer_app.registered_commands:
        if info.callback is not None and info.callback.__doc__ and info.short_help is None:
            info.short_help = " ".join(inspect.cleandoc(info.callback.__doc__).split("\n\n")[0].split())
    for group in typer_app.registered_groups:
        if group.typer_instance is not None:
            _summaries_as_one_line(group.typer_instance)


_summaries_as_one_line(app)
