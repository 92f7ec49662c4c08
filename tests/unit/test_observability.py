"""The Grafana dashboard and the Prometheus rules under deploy/observability/ name only metrics callsense
exports, and the rules pass Prometheus's own checks and unit tests (promtool, where installed)."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from callsense import metrics
from tests.conftest import ROOT

OBSERVABILITY = ROOT / "deploy" / "observability"
DOCS = ROOT / "docs"
# A metric name in PromQL: callsense's own, or what Prometheus itself adds (up).
METRIC = re.compile(r"\b(callsense_[a-z_]+|up)\b(?!\s*\()")


def _exported() -> set[str]:
    """Every sample name the registry can expose (a counter's _total, a histogram's _bucket/_sum/_count)."""
    suffixes = {"counter": ("_total",), "histogram": ("_bucket", "_sum", "_count"), "gauge": ("",)}
    return {family.name + suffix for family in metrics.REGISTRY.collect() for suffix in suffixes[family.type]}


def _dashboard_queries() -> list[str]:
    dashboard = json.loads((OBSERVABILITY / "grafana-dashboard.json").read_text())
    return [target["expr"] for panel in dashboard["panels"] for target in panel["targets"]]


def _rule_queries() -> list[str]:
    rules = yaml.safe_load((OBSERVABILITY / "alerts.yml").read_text())
    return [rule["expr"] for group in rules["groups"] for rule in group["rules"]]


@pytest.mark.parametrize("source", ["dashboard", "alerts"])
def test_every_metric_queried_is_one_callsense_exports(source: str) -> None:
    queries = _dashboard_queries() if source == "dashboard" else _rule_queries()
    named = {name for query in queries for name in METRIC.findall(query)} - {"up"}
    assert named and named <= _exported(), sorted(named - _exported())


def test_the_dashboard_covers_what_issue_14_asks_to_watch() -> None:
    queried = " ".join(_dashboard_queries())
    for family in (
        "callsense_queue_depth",
        "callsense_stage_duration_seconds_bucket",
        'callsense_stage_duration_seconds_count{outcome="failed"}',
        'callsense_outbox{status="pending"}',
        'callsense_outbox{status="dead"}',
        "callsense_model_load_seconds",
        "callsense_transcription_realtime_factor",
    ):
        assert family in queried


def _promtool(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    if shutil.which("promtool") is None:
        pytest.skip("promtool is not installed (Debian package prometheus)")
    return subprocess.run(["promtool", *args], cwd=cwd, capture_output=True, text=True, timeout=60)


def test_the_alerting_rules_pass_promtool_check_and_their_unit_tests() -> None:
    checked = _promtool("check", "rules", "alerts.yml", cwd=OBSERVABILITY)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    tested = _promtool("test", "rules", "alerts.test.yml", cwd=OBSERVABILITY)
    assert tested.returncode == 0 and "SUCCESS" in tested.stdout, tested.stdout + tested.stderr


def test_the_example_scrape_configuration_passes_promtool(tmp_path: Path) -> None:
    token = tmp_path / "token"
    token.write_text("scrape-token")
    config = (OBSERVABILITY / "prometheus.yml").read_text()
    installed_token = "/etc/prometheus/callsense-metrics-token"
    assert installed_token in config
    # The file operations.md installs the token as, wherever a page shows a scrape configuration.
    shown = re.findall(r"credentials_file: (\S+)", "".join(page.read_text() for page in DOCS.glob("*.md")))
    assert shown and set(shown) == {installed_token}
    (tmp_path / "prometheus.yml").write_text(config.replace(installed_token, str(token)))
    shutil.copy(OBSERVABILITY / "alerts.yml", tmp_path)
    checked = _promtool("check", "config", "prometheus.yml", cwd=tmp_path)
    assert checked.returncode == 0, checked.stdout + checked.stderr
