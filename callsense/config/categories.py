"""The rule language of call categories: what an admin writes, in TOML (``[[categories]]``) or on the
dashboard, validated here. ``calls/categorise.py`` evaluates a rule on a stored call; docs/analytics.md
("Categories") describes the language with examples.

A rule is one table with one of these keys; ``all``, ``any`` and ``not`` nest other rules::

    said = ["this call is recorded"], speaker = "agent", first_s = 30   # a phrase, optionally timed
    sentiment = "Negative", speaker = "customer", quarter = 4            # call, speaker or quarter sentiment
    topic = ["Cancellation", "Refund request"]                           # taxonomy labels
    outcome = ["unresolved", "escalated"]                                # the outcome flags
    non_talk_s = { above = 60 }        interruptions = { above = 3 }     # talk figures
    talk_share = { above = 0.7 }, speaker = "agent"        duration_s = { below = 30 }
    all = [...]   any = [...]   not = {...}
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Discriminator,
    Field,
    Tag,
    TypeAdapter,
    ValidationError,
    field_validator,
    model_validator,
)

from callsense.config.rule_bounds import Bounds, Number, RuleTable, a_number
from callsense.errors import ConfigError

CATEGORY_NAME_MAX_CHARS = 60
PHRASES_MAX = 50
RULE_TEXT_MAX_CHARS = 20_000  # a rule written as text (the dashboard's form, the API)
NESTING_MAX = 8

SpeakerName = Literal["agent", "customer"]
SentimentName = Literal["Positive", "Neutral", "Negative"]
# As the calls list and the API filter on them: "unresolved" is resolved = false.
OutcomeName = Literal["resolved", "unresolved", "callback_needed", "escalated"]


def _as_list(value: Any) -> Any:
    return [value] if isinstance(value, str) else value


class PhraseRule(RuleTable):
    """Any of ``said`` was said (by ``speaker`` when given; within the first or last seconds when given).
    Matching ignores case, accents and punctuation and keeps to whole words (docs/analytics.md)."""

    said: list[Annotated[str, Field(min_length=1, max_length=200)]] = Field(
        min_length=1, max_length=PHRASES_MAX
    )
    speaker: SpeakerName | None = None
    first_s: Number | None = Field(default=None, gt=0, description="said starting within the first seconds")
    last_s: Number | None = Field(default=None, gt=0, description="said starting within the last seconds")

    _listed = field_validator("said", mode="before")(_as_list)

    @field_validator("said")
    @classmethod
    def _has_words(cls, value: list[str]) -> list[str]:
        empty = [phrase for phrase in value if not re.search(r"\w", phrase)]
        if empty:
            raise ValueError(f"a phrase needs at least one word: {empty[0]!r}")
        return value

    @model_validator(mode="after")
    def _one_window(self) -> PhraseRule:
        if self.first_s is not None and self.last_s is not None:
            raise ValueError("give 'first_s' or 'last_s', not both")
        return self


class SentimentRule(RuleTable):
    """The call's sentiment is one of these; with ``speaker``, that speaker's; with ``quarter`` (1-4) too,
    that speaker's in that quarter of the call."""

    sentiment: list[SentimentName] = Field(min_length=1)
    speaker: SpeakerName | None = None
    quarter: Annotated[int, BeforeValidator(a_number)] | None = Field(default=None, ge=1, le=4)

    _listed = field_validator("sentiment", mode="before")(_as_list)

    @model_validator(mode="after")
    def _quarter_has_speaker(self) -> SentimentRule:
        if self.quarter is not None and self.speaker is None:
            raise ValueError("'quarter' needs 'speaker' (the trend is kept per speaker)")
        return self


class TopicRule(RuleTable):
    """The call's topic is one of these taxonomy labels (analysis.topics)."""

    topic: list[Annotated[str, Field(min_length=1)]] = Field(min_length=1)

    _listed = field_validator("topic", mode="before")(_as_list)


class OutcomeRule(RuleTable):
    """The call's outcome says one of these: resolved, unresolved (resolved is false), callback_needed,
    escalated. A flag the call leaves unsaid (null) is unknown: it never holds, nor does its ``not``."""

    outcome: list[OutcomeName] = Field(min_length=1)

    _listed = field_validator("outcome", mode="before")(_as_list)


class NonTalkRule(RuleTable):
    """Seconds nobody talked (the sum of non-talk spans)."""

    non_talk_s: Bounds


class InterruptionsRule(RuleTable):
    """Interruptions by ``speaker``, or by both when not given."""

    interruptions: Bounds
    speaker: SpeakerName | None = None


class TalkShareRule(RuleTable):
    """The speaker's share of the talk time, 0 to 1."""

    talk_share: Bounds
    speaker: SpeakerName

    @field_validator("talk_share")
    @classmethod
    def _fraction(cls, value: Bounds) -> Bounds:
        if any(bound is not None and not 0 <= bound <= 1 for bound in (value.above, value.below)):
            raise ValueError("a talk share is a fraction between 0 and 1 (0.7 for 70%)")
        return value


class DurationRule(RuleTable):
    """Seconds of audio."""

    duration_s: Bounds


class AllRule(RuleTable):
    """Every rule holds."""

    all_: list[Rule] = Field(alias="all", min_length=1)


class AnyRule(RuleTable):
    """At least one rule holds."""

    any_: list[Rule] = Field(alias="any", min_length=1)


class NotRule(RuleTable):
    """The rule is false: with a phrase, the phrase was not said (as the phrase rule narrows it). Where the
    rule is unknown on a call (``calls.categorise.Verdict``), so is its ``not``."""

    not_: Rule = Field(alias="not")


_KINDS: dict[str, type[RuleTable]] = {
    "said": PhraseRule,
    "sentiment": SentimentRule,
    "topic": TopicRule,
    "outcome": OutcomeRule,
    "non_talk_s": NonTalkRule,
    "interruptions": InterruptionsRule,
    "talk_share": TalkShareRule,
    "duration_s": DurationRule,
    "all": AllRule,
    "any": AnyRule,
    "not": NotRule,
}


def _kind(value: Any) -> str | None:
    """The key that says which rule a table is (the first known key present)."""
    if isinstance(value, BaseModel):
        return next(key for key, kind in _KINDS.items() if isinstance(value, kind))
    if isinstance(value, dict):
        return next((key for key in _KINDS if key in value), None)
    return None


Rule = Annotated[
    Annotated[PhraseRule, Tag("said")]
    | Annotated[SentimentRule, Tag("sentiment")]
    | Annotated[TopicRule, Tag("topic")]
    | Annotated[OutcomeRule, Tag("outcome")]
    | Annotated[NonTalkRule, Tag("non_talk_s")]
    | Annotated[InterruptionsRule, Tag("interruptions")]
    | Annotated[TalkShareRule, Tag("talk_share")]
    | Annotated[DurationRule, Tag("duration_s")]
    | Annotated[AllRule, Tag("all")]
    | Annotated[AnyRule, Tag("any")]
    | Annotated[NotRule, Tag("not")],
    Discriminator(
        _kind,
        custom_error_type="unknown_rule",
        custom_error_message="a rule is a table with one of the keys " + ", ".join(_KINDS),
    ),
]
AllRule.model_rebuild()
AnyRule.model_rebuild()
NotRule.model_rebuild()


def children(rule: Rule) -> list[Rule]:
    if isinstance(rule, AllRule):
        return rule.all_
    if isinstance(rule, AnyRule):
        return rule.any_
    if isinstance(rule, NotRule):
        return [rule.not_]
    return []


def _depth(rule: Rule) -> int:
    return 1 + max((_depth(child) for child in children(rule)), default=0)


def topics_named(rule: Rule) -> set[str]:
    """The taxonomy labels the rule names, anywhere in it."""
    own = set(rule.topic) if isinstance(rule, TopicRule) else set()
    return own.union(*(topics_named(child) for child in children(rule)))


class Category(BaseModel):
    """A named rule; a call is in the category when the rule holds for it."""

    model_config = ConfigDict(frozen=True, extra="forbid", str_strip_whitespace=True)

    name: str = Field(
        min_length=1,
        max_length=CATEGORY_NAME_MAX_CHARS,
        pattern=r"^[\w][\w .,&'()/+-]*$",
        description="Shown, filtered and counted; letters, digits, spaces and . , & ' ( ) / + -",
    )
    description: str = Field(default="", max_length=300, description="What the category is for.")
    rule: Rule

    @model_validator(mode="after")
    def _not_too_deep(self) -> Category:
        if _depth(self.rule) > NESTING_MAX:
            raise ValueError(f"rules nest at most {NESTING_MAX} deep")
        return self

    def stored_rule(self) -> dict[str, Any]:
        """The rule as written (JSON, keys as in TOML), for the database and the CLI."""
        dumped: dict[str, Any] = _RULE.dump_python(self.rule, mode="json", by_alias=True, exclude_none=True)
        return dumped


_RULE: TypeAdapter[Rule] = TypeAdapter(Rule)


class CategoryError(ConfigError, ValueError):
    """A category refused: the message names it and says what is wrong, one problem per line (a
    ``ValueError`` too, so that the settings' validation reports it)."""


def _place(location: tuple[int | str, ...]) -> str:
    """Where in the category a problem is, as written: ``rule.all[0].said``. Pydantic puts each rule's kind
    in front of its field of the same name (``rule.all.all.0.said.said``); the admin wrote it once."""
    place = ""
    for index, part in enumerate(location):
        if isinstance(part, int):
            place += f"[{part}]"
        elif index + 1 == len(location) or location[index + 1] != part:
            place += f".{part}" if place else part
    return place or "category"


def _unknown_key(location: tuple[int | str, ...]) -> str:
    """Says what to write instead of a key the table does not take: pydantic's "Extra inputs are not
    permitted" left an admin who wrote two rules in one table (``{ said = [...], topic = "..." }``) or
    mistyped a key guessing."""
    key, parent = str(location[-1]), location[:-1]
    model: type[BaseModel] = Category
    if len(parent) > 1 and parent[-1] == parent[-2] != "not":  # a figure's range: its kind, then its field
        model = Bounds
    elif parent and parent[-1] in _KINDS:  # a rule: pydantic puts its kind in front of its keys
        model = _KINDS[str(parent[-1])]
    if key in _KINDS and model is Category:
        return f"'{key}' goes in the rule: rule = {{ {key} = ... }}"
    if key in _KINDS and model is not Bounds:
        return (
            f"'{key}' is another rule (a table holds one): combine them with "
            f"all = [{{ {parent[-1]} = ... }}, {{ {key} = ... }}] or any = [...]"
        )
    keys = ", ".join(field.alias or name for name, field in model.model_fields.items())
    return f"unknown key '{key}' (the keys here: {keys})"


def _problems(exc: ValidationError) -> str:
    # A validator's own words, without pydantic's "Value error, " in front of them (as the settings say it).
    return "; ".join(
        f"{_place(error['loc'])}: "
        + (
            str(error["ctx"]["error"])
            if error["type"] == "value_error"
            else _unknown_key(error["loc"])
            if error["type"] == "extra_forbidden"
            else error["msg"]
        )
        for error in exc.errors()
    )


def parse_category(raw: Any, *, topics: set[str] | None = None) -> Category:
    """A category from what an admin wrote (a TOML table, a JSON object, a form); ``topics``: the taxonomy
    labels a topic rule may name. Raises ``CategoryError`` naming the category."""
    if isinstance(raw, Category):
        category = raw
    else:
        name = raw.get("name") if isinstance(raw, dict) else None
        label = (
            f"category '{name}'" if isinstance(name, str) and name.strip() else "a category without a name"
        )
        try:
            category = Category.model_validate(raw)
        except ValidationError as exc:
            raise CategoryError(f"{label}: {_problems(exc)}") from None
    unknown = sorted(topics_named(category.rule) - topics) if topics is not None else []
    if unknown:
        raise CategoryError(
            f"category '{category.name}': topic {', '.join(map(repr, unknown))} is not a taxonomy label "
            f"(analysis.topics: {', '.join(sorted(topics or ()))})"
        )
    return category


def parse_categories(raw: Any, *, topics: set[str] | None = None) -> tuple[Category, ...]:
    """Every category of a list, their names distinct (ignoring case); every problem in one error."""
    if not isinstance(raw, list | tuple):
        raise CategoryError("categories must be a list of tables ([[categories]] in TOML)")
    found: list[Category] = []
    problems: list[str] = []
    for item in raw:
        try:
            found.append(parse_category(item, topics=topics))
        except CategoryError as exc:
            problems.append(str(exc))
    seen: set[str] = set()
    for category in found:
        if category.name.casefold() in seen:
            problems.append(f"category '{category.name}': defined twice (names ignore case)")
        seen.add(category.name.casefold())
    if problems:
        raise CategoryError("\n".join(problems))
    return tuple(found)
