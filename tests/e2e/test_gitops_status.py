"""End-to-end: the status GitOps tools read, on every version of live custom resources that the
API server reported (kubectl watch), computed with kstatus's rules (tests/support/kstatus.py)
and with the Argo CD health checks run in Lua (docs/argocd-health/): a CA rotation reads
InProgress / Progressing in every version between its start and its end, never Current;
settled resources read Current / Healthy, and what the user must fix Failed / Degraded, for
each of the three kinds."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest

from pico_harness.support import kstatus
from pico_harness.support.argocd_lua import health
from pico_harness.support.objectwatch import ObjectVersions
from pico_harness.support.resources import member, platform, wait_ready

pytestmark = pytest.mark.e2e

KINDS = ("platforms", "executioncontainers", "desktopclients")
AGREES = {"Current": "Healthy", "InProgress": "Progressing", "Failed": "Degraded"}
HEALTHY = {"platform": "mz", "executioncontainer": "ec1", "desktopclient": "alice"}
_summary: list[str] = []


class _Summary:
    """Registered while the module runs: what the samples read, in the terminal summary."""

    @staticmethod
    def pytest_terminal_summary(terminalreporter: Any) -> None:
        for line in _summary:
            terminalreporter.write_line(line)


@pytest.fixture
def watches(
    kube_cluster: Any, namespace: str, request: pytest.FixtureRequest
) -> Iterator[dict[str, ObjectVersions]]:
    plugins = request.config.pluginmanager
    if not plugins.has_plugin("gitops-status-summary"):
        plugins.register(_Summary(), "gitops-status-summary")
    found = {kind: ObjectVersions(kube_cluster, kind, namespace) for kind in KINDS}
    yield found
    for watch in found.values():
        watch.stop()


def brief(obj: dict[str, Any]) -> str:
    """A version's phase and conditions, for a failure message."""
    status = obj.get("status") or {}
    conditions = [f"{c['type']}={c['status']}({c['reason']})" for c in status.get("conditions", [])]
    return f"{(status.get('caRotation') or {}).get('phase')} {' '.join(conditions)}"


def rotating(obj: dict[str, Any]) -> bool:
    return (obj.get("status") or {}).get("caRotation") is not None


def test_a_live_ca_rotation_never_reads_current_until_it_is_done(
    kube_cluster: Any, operator: Any, namespace: str, watches: dict[str, ObjectVersions]
) -> None:
    ns = namespace
    kube_cluster.apply(
        [
            platform(ns),
            member(ns, "ExecutionContainer", "ec1", image="pico/ec:test"),
            member(ns, "DesktopClient", "alice", user="Alice"),
        ]
    )
    for kind, name in (
        ("platform", "mz"),
        ("executioncontainer", "ec1"),
        ("desktopclient", "alice"),
    ):
        wait_ready(kube_cluster, kind, name, ns)
    start = len(watches["platforms"].of("mz"))
    kube_cluster.kubectl("annotate", "platform", "mz", "-n", ns, "picotls.dev/rotate-ca=1")

    def done() -> bool:
        seen = watches["platforms"].of("mz")[start:]
        return (
            any(map(rotating, seen))
            and not rotating(seen[-1])
            and (kstatus.compute(seen[-1]) == "Current")
        )

    kube_cluster.wait_until("the CA rotation done", done, timeout=300, interval=0.5)
    versions = watches["platforms"].of("mz")
    before, after = versions[:start], versions[start:]
    first = next(i for i, v in enumerate(after) if rotating(v))
    last = max(i for i, v in enumerate(after) if rotating(v))
    during = after[first : last + 1]
    computed = Counter(kstatus.compute(v) for v in during)
    phases = [v["status"]["caRotation"]["phase"] for v in during]
    _summary.append(
        f"kstatus over a live CA rotation: before {dict(Counter(map(kstatus.compute, before)))}, "
        f"{len(after[:first])} versions before the operator saw the request "
        f"{dict(Counter(map(kstatus.compute, after[:first])))}, during {dict(computed)} "
        f"(phases {sorted(set(phases))}), after {kstatus.compute(after[-1])}"
    )
    print(_summary[-1])
    assert {"TrustBoth", "Reissue", "DropOld"} <= set(phases), phases
    current = [brief(v) for v in during if kstatus.compute(v) == "Current"]
    assert not current and computed["InProgress"] == len(during), (computed, current)
    assert {health(v)[0] for v in during} == {"Progressing"}
    assert kstatus.compute(after[-1]) == "Current" and health(after[-1])[0] == "Healthy"
    # Argo CD and kstatus agree on every version of every kind seen in the test that carries a
    # status; before the operator's first status kstatus reads Current (no conditions), the
    # Argo CD check Progressing (docs/gitops.md)
    for watch in watches.values():
        for version in watch.versions:
            if version.get("status"):
                assert AGREES[kstatus.compute(version)] == health(version)[0], brief(version)
            else:
                assert health(version)[0] == "Progressing"


def test_every_kind_reads_healthy_progressing_and_degraded_live(
    kube_cluster: Any, operator: Any, namespace: str, watches: dict[str, ObjectVersions]
) -> None:
    ns = namespace
    unowned = [
        {"apiVersion": "v1", "kind": kind, "metadata": {"name": name, "namespace": ns}}
        for kind, name in (("ConfigMap", "clash-rcp-tls"), ("Secret", "bob-desktop-key"))
    ]
    broken = platform(ns, passwordSecretRef={"name": "absent"})
    broken["metadata"]["name"] = "nopw"
    kube_cluster.apply(
        [
            *unowned,
            platform(ns),
            broken,
            member(ns, "ExecutionContainer", "ec1", image="pico/ec:test"),
            member(ns, "ExecutionContainer", "clash", image="pico/ec:test"),
            member(ns, "DesktopClient", "alice", user="Alice"),
            member(ns, "DesktopClient", "bob", user="Bob"),
        ]
    )
    for kind, name in HEALTHY.items():
        wait_ready(kube_cluster, kind, name, ns)
    degraded = {"platform": "nopw", "executioncontainer": "clash", "desktopclient": "bob"}

    def health_now(kind: str, name: str) -> tuple[str, str]:
        return health(kube_cluster.get_json(kind, name, "-n", ns))

    for kind, name in degraded.items():
        kube_cluster.wait_until(
            f"{kind} {name} Degraded", lambda k=kind, n=name: health_now(k, n)[0] == "Degraded"
        )
    messages = {kind: health_now(kind, name)[1] for kind, name in degraded.items()}
    assert "absent" in messages["platform"], messages
    assert "clash-rcp-tls" in messages["executioncontainer"], messages
    assert "bob-desktop-key" in messages["desktopclient"], messages
    for kind, name in HEALTHY.items():
        obj = kube_cluster.get_json(kind, name, "-n", ns)
        assert (health(obj)[0], kstatus.compute(obj)) == ("Healthy", "Current"), obj["status"]
    for kind, watch in watches.items():
        states = Counter(health(v)[0] for v in watch.versions)
        assert {"Healthy", "Progressing", "Degraded"} <= set(states), (kind, states)
        _summary.append(f"Argo CD health of live {kind} versions: {dict(states)}")
