"""Generated documentation: the configuration reference and the record's JSON Schema.

``python -m callsense.docs`` rewrites ``docs/configuration.md``, ``docs/call-record.schema.json`` and
``docs/openapi.json``;
a test fails when they are out of date with the code.
"""

from __future__ import annotations

import json
from pathlib import Path

from pydantic import BaseModel

from callsense.calls.schemas import CallRecord
from callsense.config import Settings
from callsense.config.analysis import DEFAULT_TOPICS, TopicLabel
from callsense.config.deliveries import DestinationSettings
from callsense.config.retention import SourceRetention
from callsense.config.sources import FolderSourceSettings, RestSourceSettings, S3SourceSettings

HEADER = """# Configuration reference

Generated from `callsense/config/` by `python -m callsense.docs`; do not edit by hand.

Set options as environment variables (`CALLSENSE_` + the name in capitals, nested with `__`:
`CALLSENSE_ASR__AGENT_CHANNEL=right`) or in a TOML file named by `CALLSENSE_CONFIG` (default
`./callsense.toml`), where nested options live in tables (`[asr]` then `agent_channel = "right"`).
Environment variables win over the file. Unknown `CALLSENSE_` variables and unknown keys in the file are
refused at start, so a typo cannot silently fall back to a default.
`CALLSENSE_BACKUP_PASSPHRASE` is no setting: `callsense backup` reads the key ring's passphrase from it
([operations](operations.md#10-backup-and-restore)).
"""


def _default(model: type[BaseModel], name: str) -> str:
    """The default as the settings hold it: "(see table below)" only for a list of tables that has entries
    by default (the taxonomy); an empty list or table shows as one, not as a table that is not there."""
    value = model.model_fields[name].get_default(call_default_factory=True)
    if isinstance(value, tuple | list) and value and isinstance(value[0], BaseModel):
        return "(see table below)"
    if name == "data_dir":
        return "`~/.local/share/callsense`"
    value = [getattr(item, "value", item) for item in value] if isinstance(value, tuple | list) else value
    value = getattr(value, "value", value)
    return f"`{json.dumps(value) if not isinstance(value, str) else value}`" if value is not None else "unset"


def _table(model: type[BaseModel], prefix: str) -> list[str]:
    lines = ["| option | environment variable | default | description |", "|---|---|---|---|"]
    for name, field in model.model_fields.items():
        nested = field.annotation
        if isinstance(nested, type) and issubclass(nested, BaseModel):
            continue
        option = f"{prefix}.{name}" if prefix else name
        variable = "CALLSENSE_" + (f"{prefix.replace('.', '__').upper()}__" if prefix else "") + name.upper()
        description = (field.description or "").replace("|", "\\|")
        lines.append(f"| `{option}` | `{variable}` | {_default(model, name)} | {description} |")
    return lines


def configuration_markdown() -> str:
    parts = [HEADER, "## General", "", *_table(Settings, ""), *_sections(Settings, "")]
    parts += ["", "### Each of `analysis.topics`", "", *_item_table(TopicLabel)]
    parts += ["", "The default taxonomy:", "", "| label | description |", "|---|---|"]
    parts += [f"| {topic.label} | {topic.description} |" for topic in DEFAULT_TOPICS]
    parts += ["", "### Each of `deliveries.destinations`", "", *_item_table(DestinationSettings)]
    parts += ["", "### Each of `sources.folders`", "", *_item_table(FolderSourceSettings)]
    parts += ["", "### Each of `sources.s3`", "", *_item_table(S3SourceSettings)]
    parts += ["", "### Each of `sources.rest`", "", *_item_table(RestSourceSettings)]
    parts += ["", "### Each of `retention.sources.<name>`", "", *_item_table(SourceRetention)]
    return "\n".join(parts) + "\n"


def _sections(model: type[BaseModel], prefix: str) -> list[str]:
    """A section for each group of options in ``model``, then for the groups within it."""
    parts: list[str] = []
    for name, field in model.model_fields.items():
        nested = field.annotation
        if isinstance(nested, type) and issubclass(nested, BaseModel):
            option = f"{prefix}.{name}" if prefix else name
            parts += ["", f"## `{option}`: {nested.__doc__ or name}".rstrip(), "", *_table(nested, option)]
            parts += _sections(nested, option)
    return parts


def _item_table(model: type[BaseModel]) -> list[str]:
    """Options of the entries of a list setting: set in the TOML file, or as JSON in the list's variable."""
    lines = ["| option | default | description |", "|---|---|---|"]
    for name, field in model.model_fields.items():
        value = field.get_default(call_default_factory=True)
        value = getattr(value, "value", value)
        shown = f"`{json.dumps(value, default=str)}`"  # default=str: paths
        default = "required" if field.is_required() else "unset" if value is None else shown
        description = (field.description or "").replace("|", "\\|")
        lines.append(f"| `{name}` | {default} | {description} |")
    return lines


def record_schema_json() -> str:
    return json.dumps(CallRecord.model_json_schema(), indent=2) + "\n"


def openapi_json() -> str:
    from callsense.server import openapi_document

    return json.dumps(openapi_document(), indent=2) + "\n"


def write(docs_dir: Path) -> None:
    docs_dir.mkdir(parents=True, exist_ok=True)
    (docs_dir / "openapi.json").write_text(openapi_json(), encoding="utf-8")
    (docs_dir / "configuration.md").write_text(configuration_markdown(), encoding="utf-8")
    (docs_dir / "call-record.schema.json").write_text(record_schema_json(), encoding="utf-8")


if __name__ == "__main__":
    write(Path(__file__).resolve().parent.parent / "docs")
