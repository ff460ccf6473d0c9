"""Alerts and dashboard (manifests/monitoring/): the PrometheusRule holds exactly the rules file's
groups; `promtool check rules` and `promtool test rules` (tests/monitoring/alerts-test.yaml:
every alert firing and not firing) pass; every metric the rules and the Grafana dashboard use is
one the operator exports (read from a real scrape of its registry)."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families

from pico_harness.support.world import World, custom
from pico_tls.metrics import Metrics
from pico_tls.reconcile.samples import group_samples

ROOT = Path(__file__).resolve().parents[2]
MONITORING = ROOT / "manifests" / "monitoring"
RULES = MONITORING / "rules.yaml"
ALERT_TESTS = ROOT / "tests" / "monitoring" / "alerts-test.yaml"
METRIC = re.compile(r"\bpicotls_[a-z0-9_]+")


def promtool(*args: str) -> subprocess.CompletedProcess[str]:
    tool = shutil.which("promtool")
    if tool is None:
        pytest.fail("promtool missing: install-monitoring-deps.sh installs it (as root)")
    return subprocess.run([tool, *args], capture_output=True, text=True, timeout=120)


def alerts() -> list[dict[str, Any]]:
    groups = yaml.safe_load(RULES.read_text())["groups"]
    return [r for g in groups for r in g["rules"] if "alert" in r]


def test_the_prometheusrule_holds_exactly_the_rules_file() -> None:
    rule = yaml.safe_load((MONITORING / "prometheusrule.yaml").read_text())
    assert rule["apiVersion"] == "monitoring.coreos.com/v1" and rule["kind"] == "PrometheusRule"
    assert rule["spec"] == yaml.safe_load(RULES.read_text())


def test_promtool_checks_the_rules(tmp_path: Path) -> None:
    spec = yaml.safe_load((MONITORING / "prometheusrule.yaml").read_text())["spec"]
    (tmp_path / "from-prometheusrule.yaml").write_text(yaml.safe_dump(spec))
    result = promtool("check", "rules", str(RULES), str(tmp_path / "from-prometheusrule.yaml"))
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"SUCCESS: {len(alerts())} rules found" in result.stdout


def test_promtool_unit_tests_of_every_alert_pass() -> None:
    result = promtool("test", "rules", str(ALERT_TESTS))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


def test_every_alert_is_tested_firing_and_not_firing() -> None:
    cases = [
        case
        for t in yaml.safe_load(ALERT_TESTS.read_text())["tests"]
        for case in t["alert_rule_test"]
    ]
    names = {a["alert"] for a in alerts()}
    assert names == {
        "PicoTLSCertificateExpiringSoon",
        "PicoTLSCertificateNotReady",
        "PicoTLSCARotationStuck",
        "PicoTLSClientAuthRolloutStuck",
        "PicoTLSReconcileErrors",
        "PicoTLSNoLeader",
    }
    for name in names:
        mine = [c for c in cases if c["alertname"] == name]
        assert any(c["exp_alerts"] for c in mine), f"{name} never tested firing"
        assert any(not c["exp_alerts"] for c in mine), f"{name} never tested silent"


def exported() -> set[str]:
    """Every metric name a scrape of the operator's registry shows (histogram series too)."""
    world = World()
    world.add(custom("Platform", "mz", {"image": "img", "tls": {"key": {"algorithm": "ECDSA"}}}))
    world.settle()
    metrics = Metrics()
    metrics.record_group(("ns", "mz"), group_samples(world.snapshot(), world.decide()))
    metrics.observe_reconcile("success", 0.1)
    metrics.count_request("GET", 200)
    families = text_string_to_metric_families(metrics.scrape())
    return {s.name for f in families for s in f.samples}


def dashboard_queries() -> list[str]:
    board = json.loads((MONITORING / "grafana-dashboard.json").read_text())
    queries = [t["expr"] for p in board["panels"] for t in p["targets"]]
    queries += [v["query"] for v in board["templating"]["list"] if v["type"] == "query"]
    return queries


def test_every_metric_the_dashboard_and_the_rules_use_is_exported() -> None:
    names = exported()
    queries = [a["expr"] for a in alerts()] + dashboard_queries()
    assert len(dashboard_queries()) >= 10
    for query in queries:
        used = set(METRIC.findall(query))
        assert used, f"no picotls_ metric in {query!r}"
        assert used <= names, (query, sorted(used - names))
    # the check itself: a misspelt name is caught
    assert not {"picotls_certificate_expiry_seconds"} <= names
