"""End-to-end: the Helm chart installed by helm into the local control plane in each install mode
(cluster-wide, one namespace, a list of namespaces), the operator run under exactly that RBAC and
admission policy (its ServiceAccount's token, the namespaces of the rendered Deployment's args).
`kubectl auth can-i --list` for the ServiceAccount shows exactly the allow-list of the mode; a
Platform in a namespace served becomes Ready, one in a namespace not served is left untouched.

The chart is installed without its CRDs (the session installed crds/ already; tests/unit/
test_chart.py renders them) and with replicaCount 0: the operator runs as a process here."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from pico_harness.support.helm import CHART, docs_of, helm_bin, run
from pico_harness.support.operator_process import OperatorProcess
from pico_harness.support.rbac_review import EVERYONE, LEASES, NEEDED, rules_in
from pico_harness.support.resources import exists, get, platform, wait_ready

pytestmark = pytest.mark.e2e

MODES = {"cluster-wide": 0, "namespace": 1, "namespaces": 2}  # mode -> namespaces served


class Release:
    """`helm install` of the chart as `name` into its own namespace; uninstalled on close."""

    def __init__(self, cluster: Any, name: str, values: dict[str, Any]) -> None:
        self.cluster, self.name, self.namespace = cluster, name, f"{name}-system"
        self.helm = [
            helm_bin(),
            f"--kubeconfig={cluster.kubeconfig}",
            "--namespace",
            self.namespace,
        ]
        text = yaml.safe_dump(values)
        run(
            *self.helm,
            "install",
            name,
            str(CHART),
            "--create-namespace",
            "--values",
            "-",
            input_text=text,
        )

    def objects(self) -> list[dict[str, Any]]:
        return docs_of(run(*self.helm, "get", "manifest", self.name).stdout)

    def served(self) -> list[str]:
        (deployment,) = [o for o in self.objects() if o["kind"] == "Deployment"]
        args = deployment["spec"]["template"]["spec"]["containers"][0]["args"]
        return [a.removeprefix("--namespace=") for a in args if a.startswith("--namespace=")]

    def account(self) -> tuple[str, str]:
        (sa,) = [o for o in self.objects() if o["kind"] == "ServiceAccount"]
        return self.namespace, str(sa["metadata"]["name"])

    def close(self) -> None:
        run(*self.helm, "uninstall", self.name, check=False)
        self.cluster.kubectl("delete", "namespace", self.namespace, "--wait=false", check=False)


@pytest.fixture
def scratch_namespaces(kube_cluster: Any) -> Iterator[list[str]]:
    """Three fresh namespaces (created here, deleted after the test)."""
    names = [f"t-mode-{uuid.uuid4().hex[:6]}" for _ in range(3)]
    for name in names:
        kube_cluster.kubectl("create", "namespace", name)
    try:
        yield names
    finally:
        for name in names:
            kube_cluster.kubectl("delete", "namespace", name, "--wait=false", check=False)


@pytest.mark.parametrize("mode", list(MODES))
def test_the_chart_in_each_install_mode(
    mode: str,
    kube_cluster: Any,
    crds: Any,
    operator_process: OperatorProcess,
    scratch_namespaces: list[str],
    tmp_path: Path,
) -> None:
    operator_process.stop()  # one operator at a time
    count = MODES[mode]
    watched = scratch_namespaces[:count]  # the namespaces named in the values (none: all)
    unwatched = scratch_namespaces[count:] if watched else []
    values = {"watchNamespaces": watched, "crds": {"enabled": False}, "replicaCount": 0}
    release = Release(kube_cluster, f"pt-{mode}-{uuid.uuid4().hex[:4]}", values)
    try:
        assert release.served() == watched
        namespace, account = release.account()
        user = f"system:serviceaccount:{namespace}:{account}"

        # What the apiserver says the ServiceAccount may do, namespace by namespace.
        served = watched or scratch_namespaces
        counts: dict[str, int] = {}
        lease = f"{release.name}-pico-tls-operator"  # the chart's fullname
        for ns in [*scratch_namespaces, namespace]:
            own = ns == namespace
            rules = rules_in(kube_cluster, user, ns, lease if own else None)
            serves = not watched or ns in watched
            counts[f"{'served' if serves else 'not served'} {ns}"] = len(rules)
            expected = {**NEEDED, **EVERYONE} if serves else dict(EVERYONE)
            if own:  # leader election: create a Lease there (get/update: by name only)
                expected[LEASES] = {"create"}
            assert rules == expected, (mode, ns, sorted(set(rules) ^ set(expected)))
        cluster_wide = kube_cluster.kubectl(
            "auth", "can-i", "list", "secrets", "--all-namespaces", f"--as={user}", check=False
        )
        assert cluster_wide.stdout.strip() == ("yes" if not watched else "no")
        print(f"\ninstall mode {mode}: can-i --list rules {json.dumps(counts)}")

        # The operator under exactly that RBAC (and the release's admission policy).
        kubeconfig = kube_cluster.service_account_kubeconfig(
            namespace, account, tmp_path / "operator.kubeconfig", duration="1h"
        )
        operator = OperatorProcess(
            kubeconfig,
            tmp_path / "operator.log",
            namespaces=watched,
            env={"POD_NAMESPACE": namespace, "PICO_TLS_LEASE_NAME": lease},
        )
        for ns in unwatched:  # created first: the operator would see them before the others
            kube_cluster.apply(platform(ns))
        operator.start()
        try:
            for ns in served:
                kube_cluster.apply(platform(ns))
            for ns in served:
                wait_ready(kube_cluster, "platform", "mz", ns)
            for ns in unwatched:
                assert "status" not in get(kube_cluster, "platform", "mz", ns)
                assert not exists(kube_cluster, "secret", "mz-rcp-tls", ns)
            log = operator.log_text()
            assert "Forbidden" not in log and "permissions" not in log, log[-3000:]
        finally:
            operator.stop()
    finally:
        release.close()
