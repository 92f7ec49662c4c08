from __future__ import annotations

import json

from callsense import docs
from tests.conftest import ROOT


def test_generated_docs_are_current() -> None:
    """Run `python -m callsense.docs` when this fails."""
    assert (ROOT / "docs" / "configuration.md").read_text(encoding="utf-8") == docs.configuration_markdown()
    assert (ROOT / "docs" / "call-record.schema.json").read_text(
        encoding="utf-8"
    ) == docs.record_schema_json()


def test_every_setting_is_documented() -> None:
    text = docs.configuration_markdown()
    for variable in ("CALLSENSE_DATABASE_URL", "CALLSENSE_ASR__AGENT_CHANNEL", "CALLSENSE_LLM__BASE_URL"):
        assert variable in text
    rows = [line for line in text.splitlines() if line.startswith("| `")]
    assert len(rows) > 20
    assert all(line.rsplit("|", 2)[1].strip() for line in rows), "an option has no description"


def test_every_field_of_the_record_is_described() -> None:
    """The JSON Schema, and the API's lists of calls and categories, say what each field holds: an
    integrator reads them, not the code."""
    schema = json.loads(docs.record_schema_json())
    undescribed = [
        f"{name}.{field}"
        for name, model in [("CallRecord", schema), *schema["$defs"].items()]
        for field, spec in model.get("properties", {}).items()
        if not spec.get("description")
    ]
    assert undescribed == []
    components = json.loads(docs.openapi_json())["components"]["schemas"]
    analytics = ("CallPage", "CallSummary", "CategoryList", "CategoryView", "CategoryChange", "Reevaluation")
    assert [
        f"{name}.{field}"
        for name in analytics
        for field, spec in components[name]["properties"].items()
        if not spec.get("description")
    ] == []
