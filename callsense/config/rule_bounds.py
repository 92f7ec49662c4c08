"""The ranges and numbers of the category rule language (``categories.py``): ``non_talk_s = { above = 60 }``,
``first_s = 30``."""

from __future__ import annotations

import json
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, model_validator


class RuleTable(BaseModel):
    """A table of the rule language: its keys as written, no others."""

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)


def a_number(value: Any) -> Any:
    """A number as written, nothing pydantic's lax mode would turn into one: it read ``first_s = true`` as
    1 second and ``first_s = "30"`` as 30, a quoted value the admin may have meant as something else."""
    if isinstance(value, bool):
        raise ValueError("a number is expected here, not true or false")
    if isinstance(value, str):
        shown = json.dumps(value if len(value) <= 40 else value[:40] + "…", ensure_ascii=False)
        try:
            float(value)
        except ValueError:
            raise ValueError(f"a number is expected here, not the text {shown}") from None
        raise ValueError(f"a number is expected here, not the text {shown}: write it without quotes")
    return value


# A bound or window in a rule. Finite only: NaN or inf (TOML's ``nan``, ``inf``) would be stored as JSON null,
# so a dashboard rule read back lost its bound and was skipped ("category skipped") on every call.
Number = Annotated[float, Field(allow_inf_nan=False), BeforeValidator(a_number)]


class Bounds(RuleTable):
    """A range of a figure: above (exclusive) and/or below (exclusive)."""

    above: Number | None = None
    below: Number | None = None

    @model_validator(mode="before")
    @classmethod
    def _a_table(cls, value: Any) -> Any:
        # "interruptions = 3" is the natural first try; pydantic answered "Input should be a valid dictionary
        # or instance of Bounds".
        if isinstance(value, dict | Bounds):
            return value
        number = f"{value:g}" if isinstance(value, int | float) and not isinstance(value, bool) else "N"
        raise ValueError(f"a range is a table: {{ above = {number} }}, {{ below = {number} }} or both")

    @model_validator(mode="after")
    def _some_bound(self) -> Bounds:
        if self.above is None and self.below is None:
            raise ValueError("give 'above', 'below' or both")
        if self.above is not None and self.below is not None and self.above >= self.below:
            raise ValueError(f"'above' ({self.above}) must be less than 'below' ({self.below})")
        return self

    def holds(self, value: float) -> bool:
        return (self.above is None or value > self.above) and (self.below is None or value < self.below)

    def describe(self) -> str:
        parts = [f"over {self.above:g}" if self.above is not None else "", ""]
        parts[1] = f"under {self.below:g}" if self.below is not None else ""
        return " and ".join(part for part in parts if part)
