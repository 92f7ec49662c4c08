"""A category's rule written as text, as the dashboard's form and the API take it: JSON, or TOML as in the
settings file. ``categories.parse_category`` validates what it gives."""

from __future__ import annotations

import json
import tomllib
from typing import Any

from callsense.config.categories import CategoryError


def parse_rule_text(text: str) -> Any:
    """A rule written as text: JSON, or TOML as in the settings file (``not = { said = ["..."] }``); the
    dashboard's form and the API take either. ``parse_category`` validates what it returns."""
    text = text.strip()
    if not text:
        raise CategoryError("the rule is empty")
    try:
        parsed = json.loads(text) if text.startswith("{") else tomllib.loads(text)
    except (json.JSONDecodeError, tomllib.TOMLDecodeError) as exc:
        kind = "JSON" if text.startswith("{") else "TOML"
        raise CategoryError(f"the rule is not valid {kind}: {exc}") from None
    # The settings file's line copied whole, 'rule = { not = { said = [...] } }' (or {"rule": ...}): the
    # rule is its value; it was refused as "a rule is a table with one of the keys ...".
    if isinstance(parsed, dict) and list(parsed) == ["rule"] and isinstance(parsed["rule"], dict):
        return parsed["rule"]
    return parsed
