"""The built image tars import into containerd and run as imported (no Kubernetes).

Builds (or takes from the cache) the operator and stand-in images, imports their tars into a
private containerd with ``ctr -n k8s.io images import``, and runs them with ``ctr run
--read-only`` as the images' own user: the operator image's ``kopf --version``; a stand-in
Platform and Execution Container with mutual TLS over loopback (stores from ``pico_tls``,
mounted read-only), and a desktop Job-style run whose exit code is the outcome.

Needs root, buildah, debootstrap, runc and containerd (harness/pico_harness/images/install-deps.sh).
A cold build takes minutes (see README.md); a warm one reuses the cached tars.
"""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from pico_harness.images.build import Image, build_images
from pico_harness.images.containerd_local import PrivateContainerd
from pico_harness.support.identities import new_identity
from pico_tls.builders import stores as store_builders
from pico_tls.keystore import KeystoreContent, StoreFormat, StoreOptions, encode_keystore
from pico_tls.material import Identity
from pico_tls.pki import KeyAlgorithm, create_ca, generate_key

pytestmark = pytest.mark.images
TOOLS = ("buildah", "debootstrap", "runc", "containerd", "ctr", "javac")
YEAR = timedelta(days=365)


@pytest.fixture(scope="module")
def images() -> dict[str, Image]:
    missing = [t for t in TOOLS if shutil.which(t) is None]
    if missing:
        pytest.fail(
            f"missing {missing}: run harness/pico_harness/images/install-deps.sh", pytrace=False
        )
    return build_images(["operator", "standin"])


@pytest.fixture(scope="module")
def containerd(
    images: dict[str, Image], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[PrivateContainerd]:
    with PrivateContainerd(tmp_path_factory.mktemp("containerd")) as ctrd:
        for name in ("operator", "standin"):
            listed = ctrd.import_tar(images[name].tar)
            assert images[name].ref in listed, (images[name].ref, listed)
        yield ctrd


def _identity(name: str, issuer: Any, n: int) -> Identity:
    return new_identity(name, issuer, f"s-{name}-{n}", f"k-{name}-{n}")


def _store(path: Path, content: KeystoreContent, identity: Identity, fmt: StoreFormat) -> None:
    options = StoreOptions(fmt, identity.passwords.store, identity.passwords.key)
    path.write_bytes(encode_keystore(content, options))
    path.chmod(0o644)  # read by uid 10001 in the container


@pytest.fixture(scope="module")
def stores(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Path, Identity]]:
    """One folder per party (mounted read-only at /etc/pico/tls), as the operator's Secrets."""
    base = tmp_path_factory.mktemp("image-stores")
    base.chmod(0o755)
    ca = create_ca("pico-ca", generate_key(KeyAlgorithm.EC_P256), duration=YEAR)
    platform, ec = _identity("platform", ca, 1), _identity("ec-1", ca, 2)
    desktop = _identity("alice", None, 3)
    parties = {
        "platform": (
            store_builders.platform_store(
                "platform", platform, ca, [], [("alice", desktop.certificate)]
            ),
            platform,
            StoreFormat.PKCS12,
        ),
        "ec": (store_builders.peer_store("ec-1", ec, ca, platform), ec, StoreFormat.JKS),
        "desktop": (
            store_builders.peer_store("desktop", desktop, ca, platform),
            desktop,
            StoreFormat.PKCS12,
        ),
    }
    out: dict[str, tuple[Path, Identity]] = {}
    for name, (content, identity, fmt) in parties.items():
        folder = base / name
        folder.mkdir(mode=0o755)
        folder.chmod(0o755)
        _store(folder / f"keystore.{'jks' if fmt is StoreFormat.JKS else 'p12'}", content,
               identity, fmt)  # fmt: skip
        for file, value in (("keystore.password", identity.passwords.store),
                            ("key.password", identity.passwords.key)):  # fmt: skip
            (folder / file).write_text(value)
            (folder / file).chmod(0o644)
        out[name] = (folder, identity)
    return out


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _run_args(
    ctrd: PrivateContainerd, ref: str, cid: str, mount: Path | None, *command: str
) -> list[str]:
    """``ctr run`` as a kubelet would run the pod: read-only root, the image's user; loopback."""
    args = ["run", "--rm", "--read-only", "--net-host"]
    if mount is not None:
        args += ["--mount", f"type=bind,src={mount},dst=/etc/pico/tls,options=rbind:ro"]
    return ctrd.ctr_command(*args, ref, cid, *command)


def _defines(settings: dict[str, object]) -> list[str]:
    """Startup properties as ``-e key=value`` arguments."""
    return [word for key, value in settings.items() for word in ("-e", f"{key}={value}")]


def _stats(port: int) -> dict[str, Any]:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/stats", timeout=5) as response:
        data: dict[str, Any] = json.load(response)
    return data


def _wait_stats(port: int, outcome: str, count: int, timeout: float = 60) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    last: dict[str, Any] | Exception = RuntimeError("never answered")
    while time.monotonic() < deadline:
        try:
            last = _stats(port)
            if last["outcomes"].get(outcome, {}).get("count", 0) >= count:
                return last
        except OSError as e:
            last = e
        time.sleep(0.3)
    raise TimeoutError(f"{outcome} x{count} not reached: {last}")


def test_operator_image_runs_from_containerd(
    containerd: PrivateContainerd, images: dict[str, Image]
) -> None:
    script = (
        "id -u; kopf --version; python -c 'import pico_tls; print(\"imported\")'; "
        "if touch /tmp/probe 2>/dev/null; then echo root-writable; else echo root-read-only; fi"
    )
    command = _run_args(
        containerd, images["operator"].ref, "operator-check", None, "/bin/sh", "-c", script
    )
    proc = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr + proc.stdout
    assert proc.stdout.split()[0] == "10001" and "imported" in proc.stdout, proc.stdout
    assert "root-read-only" in proc.stdout, proc.stdout


def _start(command: list[str]) -> subprocess.Popen[str]:
    return subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def test_standin_containers_talk_mutual_tls(
    containerd: PrivateContainerd,
    images: dict[str, Image],
    stores: dict[str, tuple[Path, Identity]],
) -> None:
    ref = images["standin"].ref
    entrypoint = "/opt/standin/entrypoint.sh"
    rcp, platform_http, ec_http = _free_port(), _free_port(), _free_port()
    platform_dir, platform_id = stores["platform"]
    platform_settings = {
        "standin.bind": "127.0.0.1",
        "pico.rcp.tls.keystore": "/etc/pico/tls/keystore.p12",
        "pico.rcp.tls.keystore.alias": "platform",
        "pico.rcp.tls.keystore.password": platform_id.passwords.store,
        "pico.rcp.tls.key.password": platform_id.passwords.key,
        "pico.rcp.tls.require_clientauth": "true",
        "pico.rcp.platform.port": rcp,
        "standin.http.port": platform_http,
    }
    platform = _start(
        _run_args(containerd, ref, "standin-platform", platform_dir, entrypoint, "platform",
                  *_defines(platform_settings))
    )  # fmt: skip
    ec_dir, ec_id = stores["ec"]
    ec_settings = {
        "standin.bind": "127.0.0.1",
        "pico.rcp.tls.keystore": "/etc/pico/tls/keystore.jks",
        "pico.rcp.tls.keystore.alias": "ec-1",
        "pico.rcp.tls.keystore.password": ec_id.passwords.store,
        "pico.rcp.tls.key.password": ec_id.passwords.key,
        "pico.rcp.platform.host": "127.0.0.1",
        "pico.rcp.platform.port": rcp,
        "standin.http.port": ec_http,
    }
    ec = _start(
        _run_args(containerd, ref, "standin-ec", ec_dir, entrypoint, "ec", *_defines(ec_settings))
    )
    try:
        stats = _wait_stats(ec_http, "ok", 5)
        assert stats["peers"].get("CN=platform", {}).get("ok", 0) >= 5, stats
        served = _stats(platform_http)
        assert served["peers"]["CN=ec-1"]["ok"] >= 5, served
        desktop_dir, _ = stores["desktop"]
        desktop_settings = {
            "standin.desktop.dir": "/etc/pico/tls",
            "pico.rcp.platform.host": "127.0.0.1",
            "pico.rcp.platform.port": rcp,
        }
        command = _run_args(containerd, ref, "standin-desktop", desktop_dir, entrypoint,
                            "desktop", *_defines(desktop_settings))  # fmt: skip
        desktop = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
        assert desktop.returncode == 0, desktop.stdout + desktop.stderr
        result = json.loads(next(x for x in desktop.stdout.splitlines() if x.startswith("{")))
        assert result["outcome"] == "ok" and result["subject"] == "CN=alice", result
    finally:
        for name in ("standin-ec", "standin-platform"):
            containerd.ctr_ok("tasks", "kill", "-s", "SIGKILL", name)
        for proc in (ec, platform):
            try:
                proc.communicate(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
