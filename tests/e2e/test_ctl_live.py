"""End-to-end: `pico-tls` (and `kubectl pico-tls`) for people, on the local control plane
with the operator under the RBAC of manifests/: every command on the examples, and every
error a person meets (not found, wrong kind, forbidden, no cluster, no kubeconfig)."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import tarfile
from pathlib import Path
from typing import Any

import pytest
import yaml

from pico_harness.java.tools import ClientStore, keytool_listing, start_servers, tls_handshake_batch
from pico_harness.support.leaks import find_leaks
from pico_harness.support.resources import examples_in, get, member, platform_server, wait_ready
from pico_harness.support.stores import secret_store
from pico_tls.keystore.protection import EVERY_JAVA

pytestmark = pytest.mark.e2e

BIN = Path(sys.executable).parent  # where the package installs pico-tls and kubectl-pico_tls


def ctl(
    cluster: Any,
    *args: str,
    kubeconfig: Path | None = None,
    env: dict[str, str] | None = None,
    own_config: bool = False,
) -> subprocess.CompletedProcess[str]:
    """`pico-tls ARGS` as a person runs it, on the test cluster's (or another) kubeconfig;
    `own_config`: no --kubeconfig (KUBECONFIG of `env`, else ~/.kube/config)."""
    config = [] if own_config else ["--kubeconfig", str(kubeconfig or cluster.kubeconfig)]
    return subprocess.run(
        [str(BIN / "pico-tls"), *args, *config],
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
        env={**os.environ, **(env or {})},
    )


def ok(proc: subprocess.CompletedProcess[str]) -> str:
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc.stdout


def private(path: Path) -> bool:
    return stat.S_IMODE(path.stat().st_mode) == 0o600


def desktop_user(cluster: Any, ns: str, desktop: str, path: Path) -> Path:
    """A kubeconfig of a ServiceAccount that may get one DesktopClient and its key Secret."""
    cluster.kubectl("create", "serviceaccount", f"{desktop}-user", "-n", ns)
    rules = [
        {"apiGroups": ["picotls.dev"], "resources": ["desktopclients"],
         "resourceNames": [desktop], "verbs": ["get"]},
        {"apiGroups": [""], "resources": ["secrets"],
         "resourceNames": [f"{desktop}-desktop-key"], "verbs": ["get"]},
    ]  # fmt: skip
    meta = {"name": f"{desktop}-user", "namespace": ns}
    cluster.apply([
        {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role", "metadata": meta,
         "rules": rules},
        {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding", "metadata": meta,
         "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": meta["name"]},
         "subjects": [{"kind": "ServiceAccount", "name": meta["name"], "namespace": ns}]},
    ])  # fmt: skip
    result: Path = cluster.service_account_kubeconfig(ns, f"{desktop}-user", path)
    return result


def progress_reason(cluster: Any, ns: str) -> str | None:
    conditions = get(cluster, "platform", "mz", ns)["status"].get("conditions") or []
    return next((c.get("reason") for c in conditions if c["type"] == "Progressing"), None)


def test_ctl_commands_on_the_examples(
    kube_cluster: Any,
    operator: Any,
    namespace: str,
    java_probe: Path,
    tmp_path: Path,
    leak_check: Any,
) -> None:
    ns = namespace
    kube_cluster.apply(examples_in(ns))
    wait_ready(kube_cluster, "platform", "mz", ns)
    for kind, name in [("executioncontainer", "ec1"), ("executioncontainer", "ec2"),
                       ("desktopclient", "alice"), ("desktopclient", "bob")]:  # fmt: skip
        wait_ready(kube_cluster, kind, name, ns)

    # status: the table, the data, and kubectl's plugin lookup of kubectl-pico_tls
    everywhere = ctl(kube_cluster, "status", "-A")
    print(f"\n$ pico-tls status -A\n{everywhere.stdout}{everywhere.stderr}")  # for the report
    table = ok(ctl(kube_cluster, "status", "-n", ns))
    mz_row = next(line.split() for line in table.splitlines() if "platform/mz" in line)
    assert mz_row[2:6] == ["True", "Enforced", "CA", "-"] and "alice,bob" in mz_row, table
    members = [line.split() for line in table.splitlines() if "client/" in line or "r/ec" in line]
    assert [m[2] for m in members] == ["True"] * 4, table
    (group,) = json.loads(ok(ctl(kube_cluster, "status", "mz", "-n", ns, "-o", "json")))
    assert group["ready"] and group["trustedDesktops"] == ["alice", "bob"]
    assert len(group["members"]) == 4 and group["status"]["daysLeft"] >= 364
    plugin = subprocess.run(
        [kube_cluster.kubectl_bin, "pico-tls", "status", "-n", ns,
         "--kubeconfig", str(kube_cluster.kubeconfig)],
        capture_output=True, text=True, check=False, timeout=120,
        env={**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}"},
    )  # fmt: skip
    assert plugin.returncode == 0 and "platform/mz" in plugin.stdout, plugin.stderr

    # desktop-key: files of mode 0600, the seed's steps, keytool opens it, the Platform takes it
    alice = ctl(kube_cluster, "desktop-key", "alice", "-n", ns, "-o", str(tmp_path / "alice.p12"),
                "--warn-days", "400")  # fmt: skip
    steps = ok(alice)
    key_file, password_file = tmp_path / "alice.p12", tmp_path / "alice.password"
    assert private(key_file) and private(password_file)
    password = password_file.read_text().strip()
    assert password not in steps + alice.stderr
    for step in ("Instance Settings", "Security tab", "Client Key", "Import Key From File"):
        assert step in steps
    assert f"Select {key_file}" in steps and str(password_file) in steps
    assert "renewed at" in alice.stderr  # renewal within 400 days
    listing = keytool_listing(key_file, password, "PKCS12").by_alias()
    fingerprint = get(kube_cluster, "desktopclient", "alice", ns)["status"][
        "certificateFingerprint"
    ]
    assert listing["desktop"].entry_type == "PrivateKeyEntry"
    assert listing["desktop"].fingerprints[0] == fingerprint
    bob = ok(ctl(kube_cluster, "desktop-key", "bob", "-n", ns, "-o", str(tmp_path / "bob.jks"),
                 "--show-password"))  # fmt: skip
    bob_password = bob.split("keystore password: ")[1].split()[0]
    assert not (tmp_path / "bob.password").exists() and private(tmp_path / "bob.jks")
    assert keytool_listing(tmp_path / "bob.jks", bob_password, "JKS").by_alias()["desktop"]
    # a desktop user who may read their own DesktopClient and key Secret, nothing else
    user = desktop_user(kube_cluster, ns, "alice", tmp_path / "alice-user.yaml")
    own = ctl(kube_cluster, "desktop-key", "alice", "-n", ns, "-o", str(tmp_path / "own.p12"),
              kubeconfig=user)  # fmt: skip
    assert own.returncode == 0 and "you may not read Platform mz" in own.stdout, own.stderr
    assert (tmp_path / "own.p12").read_bytes() == key_file.read_bytes()
    server_store = secret_store(kube_cluster, "mz-rcp-tls", ns, tmp_path)
    clients = [ClientStore(key_file, "PKCS12", password, password),
               ClientStore(tmp_path / "bob.jks", "JKS", bob_password, bob_password)]  # fmt: skip
    with start_servers([platform_server(java_probe, server_store, "platform")]) as (server,):
        results = tls_handshake_batch([(server, c) for c in clients])
    assert [r.ok for r in results] == [True, True], [r.detail for r in results]
    assert all(r.server_event and r.server_event.accepted for r in results)

    # inspect: a Secret against its resource, a JKS desktop, a local file
    found = json.loads(ok(ctl(kube_cluster, "inspect", "secret", "mz-rcp-tls", "-n", ns,
                              "-o", "json")))  # fmt: skip
    assert found["matches"]["owner"] == "platform/mz"
    assert [c["ok"] for c in found["matches"]["checks"]] == [True] * 6, found["matches"]
    assert found["protection"]["profile"] == "legacy-3des"
    assert found["protection"]["readableBy"] == EVERY_JAVA
    key_entry = found["entries"][0]
    assert key_entry["alias"] == "platform" and key_entry["type"] == "PrivateKeyEntry"
    assert key_entry["chain"][0]["keyType"] == "RSA 2048"
    assert "matches desktopclient/bob" in ok(ctl(kube_cluster, "inspect", "secret",
                                                 "bob-desktop-key", "-n", ns))  # fmt: skip
    local = ok(ctl(kube_cluster, "inspect", "--file", str(key_file),
                   "--password-file", str(password_file)))  # fmt: skip
    assert "desktop  (PrivateKeyEntry)" in local and fingerprint in local

    # bundle: what support needs, never a secret (the leak check over every file in it)
    archive = tmp_path / "support.tar.gz"
    ok(ctl(kube_cluster, "bundle", "-o", str(archive), "-n", ns,
           "--operator-log", str(operator.log_path)))  # fmt: skip
    with tarfile.open(archive) as tar:
        texts = {m.name: tar.extractfile(m).read().decode() for m in tar.getmembers()}  # type: ignore[union-attr]
    names = {n.removeprefix("pico-tls-bundle/") for n in texts}
    assert {f"resources/{ns}/Platform/mz.yaml", f"resources/{ns}/DesktopClient/alice.yaml",
            "events.yaml", "written/Secret.yaml", "logs/operator-local.log",
            "status.txt", "bundle.json"} <= names  # fmt: skip
    assert "alice-desktop-key" in texts["pico-tls-bundle/written/Secret.yaml"]
    leak_check.recorder.catch_up()
    assert find_leaks(leak_check.recorder.snapshot(), texts) == []

    # renew --wait: a new certificate for ec1 (same key), followed until rolled out
    before = get(kube_cluster, "executioncontainer", "ec1", ns)["status"]
    renewed = ok(ctl(kube_cluster, "renew", "ec1", "-n", ns, "--wait", "--value", "r1"))
    assert "executioncontainer/ec1: done" in renewed
    after = get(kube_cluster, "executioncontainer", "ec1", ns)["status"]
    assert after["renewRequest"] == "r1"
    assert after["certificateFingerprint"] != before["certificateFingerprint"]

    # rotate-ca --wait: the three phases, followed to the end, first with TrustBoth held for
    # desktop users (tls.desktopReimportPeriod 1h) until both say they imported again
    refused = ctl(kube_cluster, "reimported", "alice", "-n", ns)
    assert refused.returncode != 0 and "no CA rotation under way" in refused.stderr, refused.stderr
    period = '{"spec": {"tls": {"desktopReimportPeriod": "1h"}}}'
    kube_cluster.kubectl("patch", "platform", "mz", "-n", ns, "--type=merge", "-p", period)
    wait_ready(kube_cluster, "platform", "mz", ns)
    old_ca = get(kube_cluster, "platform", "mz", ns)["status"]["caFingerprint"]
    ok(ctl(kube_cluster, "rotate-ca", "mz", "-n", ns, "--value", "c0"))
    kube_cluster.wait_until("TrustBoth held for the desktops", lambda: progress_reason(
        kube_cluster, ns) == "CARotationHolding", timeout=120)  # fmt: skip
    said = ok(ctl(kube_cluster, "reimported", "alice", "bob", "-n", ns))
    target = get(kube_cluster, "platform", "mz", ns)["status"]["caRotation"]["targetFingerprint"]
    assert f"desktopclient/bob: re-import acknowledged for the CA {target}" in said, said
    kube_cluster.wait_until("rotation done long before the hour", lambda: not get(
        kube_cluster, "platform", "mz", ns)["status"].get("caRotation"), timeout=180)  # fmt: skip
    assert get(kube_cluster, "platform", "mz", ns)["status"]["caFingerprint"] != old_ca
    old_ca = get(kube_cluster, "platform", "mz", ns)["status"]["caFingerprint"]
    kube_cluster.kubectl("patch", "platform", "mz", "-n", ns, "--type=merge", "-p",
                         period.replace('"1h"', '"0s"'))  # fmt: skip
    rotated = ok(ctl(kube_cluster, "rotate-ca", "mz", "-n", ns, "--wait", "--value", "c1"))
    assert "platform/mz: done" in rotated, rotated
    final = get(kube_cluster, "platform", "mz", ns)["status"]
    assert final["caFingerprint"] != old_ca and not final.get("caRotation")

    # something not Ready: exit 1, and the table says what
    kube_cluster.apply(member(ns, "DesktopClient", "carol", user="Carol") | {
        "spec": {"platformRef": {"name": "nope"}, "user": "Carol"}})  # fmt: skip
    broken = ctl(kube_cluster, "status", "-n", ns)
    assert (
        broken.returncode == 1 and "platform/nope" in broken.stdout and "Missing" in broken.stdout
    )


def test_ctl_errors_in_a_persons_words(
    kube_cluster: Any, crds: Any, namespace: str, tmp_path: Path
) -> None:
    ns = namespace
    kube_cluster.apply([
        {"apiVersion": "picotls.dev/v1alpha1", "kind": "Platform",
         "metadata": {"name": "mz", "namespace": ns}, "spec": {"image": "pico/platform:test"}},
        # its Platform does not exist, so no operator of an earlier test writes its key
        member(ns, "DesktopClient", "alice", user="Alice") | {
            "spec": {"platformRef": {"name": "gone"}, "user": "Alice"}},
        {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "plain", "namespace": ns},
         "stringData": {"note": "no keystore here"}},
    ])  # fmt: skip

    def fails(*args: str, **kw: Any) -> str:
        proc = ctl(kube_cluster, *args, **kw)
        assert proc.returncode == 2, proc.stdout + proc.stderr
        assert "Traceback" not in proc.stderr
        return proc.stderr

    assert f"Platform nope not found in namespace {ns}" in fails("status", "nope", "-n", ns)
    assert "mz is a Platform, not a DesktopClient" in fails("desktop-key", "mz", "-n", ns)
    assert "alice is a DesktopClient, not a Platform" in fails("rotate-ca", "alice", "-n", ns)
    assert "keystore is in Secret mz-rcp-tls" in fails("inspect", "secret", "mz", "-n", ns)
    assert "Secret plain holds no keystore" in fails("inspect", "secret", "plain", "-n", ns)
    assert "holds no desktop keystore yet" in fails("desktop-key", "alice", "-n", ns)
    assert "works in one namespace" in fails("desktop-key", "alice", "-A")
    assert "NAME..., or -l SELECTOR, or --all" in fails("renew", "-n", ns)

    # forbidden: a ServiceAccount that may read Platforms and DesktopClients only
    kube_cluster.kubectl("create", "serviceaccount", "viewer", "-n", ns)
    kube_cluster.kubectl("create", "role", "viewer", "-n", ns, "--verb=get,list",
                         "--resource=platforms.picotls.dev,desktopclients.picotls.dev")  # fmt: skip
    kube_cluster.kubectl("create", "rolebinding", "viewer", "-n", ns, "--role=viewer",
                         f"--serviceaccount={ns}:viewer")  # fmt: skip
    viewer = kube_cluster.service_account_kubeconfig(ns, "viewer", tmp_path / "viewer.yaml")
    said = fails("status", "-n", ns, kubeconfig=viewer)
    assert f"may not list executioncontainers.picotls.dev in namespace {ns}" in said
    assert f"kubectl auth can-i list executioncontainers.picotls.dev -n {ns}" in said
    said = fails("desktop-key", "alice", "-n", ns, kubeconfig=viewer)
    assert f"may not get secrets in namespace {ns}" in said

    # no cluster there; no kubeconfig at all; no such context
    config = yaml.safe_load(Path(kube_cluster.kubeconfig).read_text())
    for cluster in config["clusters"]:
        cluster["cluster"]["server"] = "https://127.0.0.1:1"
    (tmp_path / "gone.yaml").write_text(yaml.safe_dump(config))
    said = fails("status", "-n", ns, kubeconfig=tmp_path / "gone.yaml")
    assert "no cluster answers: the API server at https://127.0.0.1:1 does not answer" in said
    missing = {"KUBECONFIG": str(tmp_path / "missing.yaml")}
    said = fails("status", own_config=True, env=missing)
    assert f"no kubeconfig (KUBECONFIG={tmp_path / 'missing.yaml'} does not exist)" in said
    said = fails("status", "--context", "nope")
    assert "no context 'nope' in the kubeconfig" in said
