from __future__ import annotations

import functools
import json
import os
import re
import shlex
import tomllib
from pathlib import Path

import pytest
import typer
from typer.core import TyperGroup

from callsense import docs
from callsense.cli.main import app
from callsense.config import BACKUP_PASSPHRASE_VARIABLE, known_variables, load_settings
from callsense.errors import ConfigError
from tests.conftest import ROOT


def test_generated_docs_are_current() -> None:
    """Run `python -m callsense.docs` when this fails."""
    assert (ROOT / "docs" / "configuration.md").read_text(encoding="utf-8") == docs.configuration_markdown()
    assert (ROOT / "docs" / "call-record.schema.json").read_text(
        encoding="utf-8"
    ) == docs.record_schema_json()
    assert (ROOT / "docs" / "openapi.json").read_text(encoding="utf-8") == docs.openapi_json()


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


# What an operator follows literally: every page of docs/ and the README.
DOC_PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


def _fenced_blocks(language: str) -> list[tuple[str, str]]:
    """Each ```language block of the docs (also one indented in a list item), as (page:line, its text)."""
    blocks = []
    for page in DOC_PAGES:
        text = page.read_text(encoding="utf-8")
        for found in re.finditer(rf"^( *)```{language}\n(.*?)^\1```", text, re.DOTALL | re.MULTILINE):
            indent = len(found.group(1))
            block = "\n".join(line[indent:] for line in found.group(2).splitlines())
            blocks.append((f"{page.name}:{text.count(chr(10), 0, found.start()) + 1}", block))
    return blocks


def _without_callsense_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in [name for name in os.environ if name.startswith("CALLSENSE_")]:
        monkeypatch.delenv(name)


@pytest.mark.parametrize(("where", "block"), _fenced_blocks("toml"), ids=lambda value: value.split("\n")[0])
def test_every_toml_example_in_the_docs_is_accepted(
    where: str, block: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An operator pastes these into callsense.toml as they are, with their own secrets where one reads
    "whsec_..." or "bcrm_pat_...": each must start. A retention example names sources another example
    configures; those are given here as folders."""
    _without_callsense_variables(monkeypatch)
    block = re.sub(r'"(\w*)\.\.\."', r'"\1c2VjcmV0"', block)  # base64, as a webhook secret must be
    config = tmp_path / "callsense.toml"
    sources = tomllib.loads(block).get("retention", {}).get("sources", {})
    folders = "".join(f'[[sources.folders]]\nname = "{name}"\npath = "/srv/{name}"\n' for name in sources)
    config.write_text(f"{folders}{block}\n", encoding="utf-8")
    monkeypatch.setenv("CALLSENSE_CONFIG", str(config))
    try:
        load_settings()
    except ConfigError as exc:
        pytest.fail(f"{where}: {exc}")


def test_every_variable_the_docs_name_is_a_setting() -> None:
    """A variable spelt otherwise stops the start (unknown setting), or, spelt as a container's secret file
    (CALLSENSE_<SETTING>_FILE, docs/operations.md), names none."""
    known = known_variables()
    unknown = {
        f"{page.name}: {name}"
        for page in DOC_PAGES
        for name in re.findall(r"\bCALLSENSE_[A-Z0-9_]*[A-Z0-9]", page.read_text(encoding="utf-8"))
        if name not in known and name.removesuffix("_FILE") not in known
    }
    assert not unknown, "\n".join(sorted(unknown))


def test_every_variable_set_in_the_docs_is_accepted(monkeypatch: pytest.MonkeyPatch) -> None:
    """`CALLSENSE_X=value` as the docs write it (a shell word, quoted or not), each alone or with the
    variables the same line sets beside it (an S3 archive needs its bucket)."""
    refused = []
    for page in DOC_PAGES:
        for number, line in enumerate(page.read_text(encoding="utf-8").splitlines(), 1):
            assignments = re.findall(r"\b(CALLSENSE_[A-Z0-9_]+)=('[^']*'|\"[^\"]*\"|[^\s`,)]+)", line)
            values = {name: shlex.split(value)[0] for name, value in assignments if not _placeholder(value)}
            values.pop(BACKUP_PASSPHRASE_VARIABLE, None)
            if values.get("CALLSENSE_CONFIG") or not values:
                continue
            _without_callsense_variables(monkeypatch)
            for name, value in values.items():
                monkeypatch.setenv(name, value)
            try:
                load_settings()
            except ConfigError as exc:
                refused.append(f"{page.name}:{number}: {exc}")
    assert not refused, "\n".join(refused)


def _placeholder(value: str) -> bool:
    """A value the reader fills in: `whsec_...`, `<your URL>`, `…/callsense_restore_test`."""
    return any(mark in value for mark in ("...", "…", "<", "$"))


def _command_lines() -> list[tuple[str, str]]:
    """Each `callsense ...` command line of the docs: in a bash block, or a code span of the text."""
    lines = [
        (where, line)
        for where, block in _fenced_blocks("bash")
        for line in block.replace("\\\n", " ").splitlines()
    ]
    for page in DOC_PAGES:
        text = page.read_text(encoding="utf-8")
        lines += [(page.name, span) for span in re.findall(r"`([^`\n]+)`", text)]
    return [
        (where, found.group(1))
        for where, line in lines
        if (found := re.match(r"(?:[A-Z_]+=\S+\s+)*(?:callsense|callsense-admin) ([a-z].*?)\s*(?:#|$)", line))
    ]


def test_every_command_and_option_in_the_docs_exists() -> None:
    """`callsense keys rotate --retire-old`: each command path names a command, each `--option` one of its
    options. `a | b | c` after a group lists several of its commands, whose options are pooled."""
    root = typer.main.get_command(app)
    wrong = []
    for where, line in _command_lines():
        words = line.split()
        group, commands = root, [root]
        while words and isinstance(group, TyperGroup) and re.fullmatch(r"[a-z][a-z-]*", words[0]):
            names = [words.pop(0)]
            while len(words) >= 2 and words[0] == "|":  # `models list | assemble | verify`
                names.append(words[1])
                del words[:2]
            if any(name not in group.commands for name in names):
                wrong.append(f"{where}: no command {' '.join(names)!r} in `callsense {line}`")
                break
            commands = [group.commands[name] for name in names]
            group = commands[0]
        options = {option for command in commands for param in command.params for option in param.opts}
        options |= {
            option for command in commands for param in command.params for option in param.secondary_opts
        }
        wrong += [
            f"{where}: no option {option} in `callsense {line}`"
            for option in re.findall(r"(?<![\w-])--[a-z][a-z-]*", " ".join(words))
            if option not in options | {"--help"}
        ]
    assert not wrong, "\n".join(wrong)


def _anchors(page: Path) -> set[str]:
    """The anchors GitHub gives a page's headings: lower case, punctuation dropped, spaces as '-', a repeated
    heading's anchor numbered."""
    text = re.sub(r"^```.*?^```", "", page.read_text(encoding="utf-8"), flags=re.DOTALL | re.MULTILINE)
    anchors: set[str] = set()
    for heading in re.findall(r"^#{1,6} +(.+?) *$", text, re.MULTILINE):
        anchor = re.sub(r"[^\w\- ]", "", heading.lower()).replace(" ", "-")
        repeated = sum(1 for known in anchors if re.fullmatch(rf"{re.escape(anchor)}(-\d+)?", known))
        anchors.add(f"{anchor}-{repeated}" if repeated else anchor)
    return anchors


def test_every_link_between_the_docs_finds_its_page_and_heading() -> None:
    broken = []
    for page in DOC_PAGES:
        for target, anchor in re.findall(
            r"\]\(([^)#\s]*)(?:#([^)\s]+))?\)", page.read_text(encoding="utf-8")
        ):
            if target.startswith(("http://", "https://")):
                continue
            linked = page.parent / target if target else page
            if not linked.exists():
                broken.append(f"{page.name}: {target} does not exist")
            elif anchor and linked.suffix == ".md" and anchor not in _anchors(linked):
                broken.append(f"{page.name}: {target}#{anchor} names no heading")
    assert not broken, "\n".join(broken)


def test_each_default_in_the_configuration_reference_is_the_default(monkeypatch: pytest.MonkeyPatch) -> None:
    """An operator who sets an option to the default the reference shows gets the settings they had
    without it; "(see table below)" stands only where the default has entries listed below (the taxonomy),
    not for an empty list."""
    _without_callsense_variables(monkeypatch)
    monkeypatch.chdir(ROOT / "docs")  # no callsense.toml here
    defaults = load_settings()
    rows = re.findall(
        r"^\| `([\w.]+)` \| `(CALLSENSE_\w+)` \| ([^|]+) \|", docs.configuration_markdown(), re.M
    )
    assert len(rows) > 100
    differ = []
    for option, variable, shown in rows:
        default = functools.reduce(getattr, option.split("."), defaults)
        shown = shown.strip()
        if shown == "(see table below)":
            if not default:
                differ.append(f"{option}: (see table below), but the default is empty")
            continue
        if shown == "unset" or option == "data_dir":
            continue
        monkeypatch.setenv(variable, shown.strip("`"))
        if functools.reduce(getattr, option.split("."), load_settings()) != default:
            differ.append(f"{option}: {shown} is not the default")
        monkeypatch.delenv(variable)
    assert not differ, "\n".join(differ)
