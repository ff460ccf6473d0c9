"""End-to-end on real pods: the key `pico-tls desktop-key` writes, imported as a user would,
opens the live Platform (the stand-in's desktop role over the Platform's Service), while a
stranger's key is refused; `status -A` and `bundle` (with the operator pod's log) on the
examples installed with `kubectl apply -k manifests/`."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
import tarfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from pico_harness.support import realpods_env as rp
from pico_harness.support.leaks import SecretRecorder, find_leaks
from pico_harness.support.realpods_desktops import run_desktop
from pico_harness.support.stores import decoded, stranger_store
from pico_tls.pki.certs import certs_from_pem

pytestmark = pytest.mark.e2e

NS = "ctl-demo"
BIN = Path(sys.executable).parent


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[rp.RealPods]:
    reason = rp.fallback_reason()
    if reason:  # never skipped: these run in CI, where .ci/run installs what they need
        pytest.fail(f"real pods cannot run here: {reason}")
    with rp.real_pods(tmp_path_factory.mktemp("realnode")) as env:
        yield env


def ctl(env: rp.RealPods, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(BIN / "pico-tls"), *args, "--kubeconfig", str(env.cluster.kubeconfig)],
        capture_output=True, text=True, timeout=300, check=False, env=dict(os.environ),
    )  # fmt: skip


def key_secret(env: rp.RealPods, name: str, store: bytes, password: str) -> None:
    """What a user imports, as the stand-in's desktop role reads it (no platform.crt)."""
    data = {"keystore.p12": store, "keystore.password": password.encode(),
            "key.password": password.encode()}  # fmt: skip
    env.apply(
        {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": name, "namespace": NS},
         "data": {k: base64.b64encode(v).decode() for k, v in data.items()}},
        "--server-side",
    )  # fmt: skip


def test_ctl_desktop_key_opens_the_live_platform(env: rp.RealPods, tmp_path: Path) -> None:
    rp.install_operator(env)
    recorder = SecretRecorder(env.cluster.access).start()
    try:
        env.kubectl("create", "namespace", NS)
        env.apply(rp.example_docs(env.standin), "-n", NS)
        for kind, name in [("platform", "mz"), ("executioncontainer", "ec1"),
                           ("executioncontainer", "ec2"), ("desktopclient", "alice")]:  # fmt: skip
            ready = lambda k=kind, n=name: rp.resource_ready(env, k, n, NS)  # noqa: E731
            env.wait(f"{kind} {name} Ready", ready, 300)
        status = ctl(env, "status", "-A")
        print(f"\n$ pico-tls status -A\n{status.stdout}{status.stderr}")
        assert status.returncode == 0 and "platform/mz" in status.stdout

        written = ctl(env, "desktop-key", "alice", "-n", NS, "-o", str(tmp_path / "alice.p12"))
        assert written.returncode == 0, written.stderr
        password = (tmp_path / "alice.password").read_text().strip()
        key_secret(env, "alice-imported", (tmp_path / "alice.p12").read_bytes(), password)
        served = decoded(env.get("secret", "mz-rcp-tls", "-n", NS)["data"])
        trusted = certs_from_pem(served["tls.crt"]) + certs_from_pem(served["ca.crt"])
        stranger = stranger_store(tmp_path, trusting=trusted)  # only the Platform can refuse it
        key_secret(env, "stranger-imported", stranger.path.read_bytes(), stranger.store_password)
        assert run_desktop(env, NS, "alice-imported", "desktop-alice") == 0
        assert run_desktop(env, NS, "stranger-imported", "desktop-stranger") == 10

        archive = tmp_path / "support.tar.gz"
        bundled = ctl(env, "bundle", "-o", str(archive), "-A")
        assert bundled.returncode == 0, bundled.stderr
        with tarfile.open(archive) as tar:
            texts = {m.name: tar.extractfile(m).read().decode() for m in tar.getmembers()}  # type: ignore[union-attr]
        about = json.loads(texts["pico-tls-bundle/bundle.json"])
        assert about["notIncluded"] == [], about
        logs = [n for n in texts if n.startswith("pico-tls-bundle/logs/pico-tls-operator")]
        assert logs, about["files"]
        assert texts[logs[0]].strip(), logs
        recorder.catch_up()
        assert find_leaks(recorder.snapshot(), texts) == []
    finally:
        recorder.stop()
