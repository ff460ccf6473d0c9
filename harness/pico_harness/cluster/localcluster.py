"""A local Kubernetes control plane for tests: etcd, kube-apiserver, kube-controller-manager,
kube-scheduler and kwok (fake nodes and pod lifecycle), all on loopback, no containers.

    with LocalCluster() as cluster:
        cluster.kubectl("get", "nodes")
        print(cluster.kubeconfig)

Binaries come from ``build.sh`` beside this module (a per-version cache folder outside the repo);
``PICO_TLS_CLUSTER_BIN`` points at another folder with the same binaries.

The dev cluster command: ``python -m pico_harness.cluster up|down|status`` (``pico-dev-cluster``).
"""

from __future__ import annotations

import argparse
import atexit
import base64
import contextlib
import datetime
import ipaddress
import json
import os
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
import weakref
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType, TracebackType
from typing import Any

import yaml
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from pico_harness import REPO_ROOT
from pico_harness.proc import ManagedProcess

from .nodenet import KWOK_POD_CIDR, NODE_IP
from .realnode import RealNode, import_image, real_node_unsupported

CLUSTER_DIR = Path(__file__).resolve().parent
BUILD_SCRIPT = CLUSTER_DIR / "build.sh"
STAGES_DIR = CLUSTER_DIR / "kwok-stages"
BINARIES = (
    "etcd",
    "kube-apiserver",
    "kube-controller-manager",
    "kube-scheduler",
    "kubectl",
    "kwok",
)
KWOK_ANNOTATION = "kwok.x-k8s.io/node"
SERVICE_CIDR = "10.96.0.0/16"
SERVICE_IP = "10.96.0.1"
# "test" in the name: tests/conftest.py accepts it as a test cluster also when its server is
# the real node's bridge address rather than 127.0.0.1
CLUSTER_NAME = "pico-tls-local-test"
# Controllers the tests need: rollouts, garbage collection, namespace deletion, default
# ServiceAccounts and their CA ConfigMap. No node lifecycle (kwok's nodes must never be evicted).
CONTROLLERS = (
    "deployment-controller",
    "replicaset-controller",
    "statefulset-controller",
    "job-controller",
    "garbage-collector-controller",
    "namespace-controller",
    "serviceaccount-controller",
    "serviceaccount-token-controller",
    "root-ca-certificate-publisher-controller",
    "clusterrole-aggregation-controller",
    "pod-garbage-collector-controller",
)


class ClusterError(RuntimeError):
    """The control plane could not be built, started or reached."""


class KubectlError(ClusterError, subprocess.CalledProcessError):
    """kubectl exited non-zero; also a CalledProcessError (with stdout and stderr)."""

    def __init__(self, returncode: int, cmd: list[str], stdout: str, stderr: str) -> None:
        subprocess.CalledProcessError.__init__(self, returncode, cmd, stdout, stderr)

    def __str__(self) -> str:
        args = " ".join(str(a) for a in self.cmd[2:])
        detail = (self.stderr or self.stdout or "").strip()
        return f"kubectl {args} failed ({self.returncode}): {detail}"


# --------------------------------------------------------------------------------------------
# binaries


def default_bin_dir() -> Path:
    """The folder build.sh builds into (it may not exist yet)."""
    env = os.environ.get("PICO_TLS_CLUSTER_BIN")
    if env:
        return Path(env)
    out = subprocess.run(
        ["bash", str(BUILD_SCRIPT), "--print"], check=True, capture_output=True, text=True
    )
    return Path(out.stdout.strip().splitlines()[-1])


def missing_binaries(bin_dir: Path) -> list[str]:
    return [name for name in BINARIES if not os.access(bin_dir / name, os.X_OK)]


def ensure_binaries(bin_dir: Path | None = None, *, build: bool = True) -> Path:
    """Returns a folder with all binaries, running build.sh when some are missing."""
    path = bin_dir or default_bin_dir()
    missing = missing_binaries(path)
    if not missing:
        return path
    if not build or os.environ.get("PICO_TLS_CLUSTER_BIN"):
        raise ClusterError(
            f"missing control plane binaries in {path}: {', '.join(missing)}; run {BUILD_SCRIPT}"
        )
    print(
        f"building control plane binaries ({', '.join(missing)}) with {BUILD_SCRIPT}; "
        "a cold build takes several minutes",
        file=sys.stderr,
    )
    out = subprocess.run(
        ["bash", str(BUILD_SCRIPT)], check=False, stdout=subprocess.PIPE, text=True
    )
    if out.returncode != 0:
        raise ClusterError(f"{BUILD_SCRIPT} failed with exit code {out.returncode}")
    path = Path(out.stdout.strip().splitlines()[-1])
    missing = missing_binaries(path)
    if missing:
        raise ClusterError(f"{BUILD_SCRIPT} did not produce {', '.join(missing)} in {path}")
    return path


# --------------------------------------------------------------------------------------------
# ports and certificates


def free_port() -> int:
    """A TCP port on 127.0.0.1 that is free right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def port_in_use(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return True
        return False


def _pem_key(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def _pem_cert(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


@dataclass(frozen=True)
class Issued:
    cert: x509.Certificate
    key: ec.EllipticCurvePrivateKey

    @property
    def cert_pem(self) -> bytes:
        return _pem_cert(self.cert)

    @property
    def key_pem(self) -> bytes:
        return _pem_key(self.key)


class TestCA:
    """A throw-away CA for one cluster (EC P-256, certificates with SKI and AKI)."""

    __test__ = False  # not a pytest test class

    def __init__(self, common_name: str = "pico-tls-local-ca") -> None:
        self.key = ec.generate_private_key(ec.SECP256R1())
        now = datetime.datetime.now(datetime.UTC)
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
        ski = x509.SubjectKeyIdentifier.from_public_key(self.key.public_key())
        self.cert = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(self.key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=30))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=True,
                    content_commitment=False,
                    key_encipherment=False,
                    data_encipherment=False,
                    key_agreement=False,
                    key_cert_sign=True,
                    crl_sign=True,
                    encipher_only=False,
                    decipher_only=False,
                ),
                critical=True,
            )
            .add_extension(ski, critical=False)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ski), critical=False
            )
            .sign(self.key, hashes.SHA256())
        )

    @property
    def cert_pem(self) -> bytes:
        return _pem_cert(self.cert)

    def issue(
        self,
        common_name: str,
        *,
        organizations: Sequence[str] = (),
        dns_names: Sequence[str] = (),
        ip_addresses: Sequence[str] = (),
        server: bool = False,
        client: bool = False,
    ) -> Issued:
        key = ec.generate_private_key(ec.SECP256R1())
        now = datetime.datetime.now(datetime.UTC)
        attrs = [x509.NameAttribute(NameOID.ORGANIZATION_NAME, o) for o in organizations]
        attrs.append(x509.NameAttribute(NameOID.COMMON_NAME, common_name))
        usages = []
        if server:
            usages.append(ExtendedKeyUsageOID.SERVER_AUTH)
        if client:
            usages.append(ExtendedKeyUsageOID.CLIENT_AUTH)
        builder = (
            x509.CertificateBuilder()
            .subject_name(x509.Name(attrs))
            .issuer_name(self.cert.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=30))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=True,
                    content_commitment=False,
                    key_encipherment=False,
                    data_encipherment=False,
                    key_agreement=False,
                    key_cert_sign=False,
                    crl_sign=False,
                    encipher_only=False,
                    decipher_only=False,
                ),
                critical=True,
            )
            .add_extension(x509.ExtendedKeyUsage(usages), critical=False)
            .add_extension(
                x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False
            )
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(self.key.public_key()),
                critical=False,
            )
        )
        sans: list[x509.GeneralName] = [x509.DNSName(d) for d in dns_names]
        sans += [x509.IPAddress(ipaddress.ip_address(ip)) for ip in ip_addresses]
        if sans:
            builder = builder.add_extension(x509.SubjectAlternativeName(sans), critical=False)
        return Issued(builder.sign(self.key, hashes.SHA256()), key)


def write_kubeconfig(
    path: Path,
    *,
    server: str,
    ca_pem: bytes,
    user: str,
    client_cert_pem: bytes | None = None,
    client_key_pem: bytes | None = None,
    token: str | None = None,
    cluster_name: str = CLUSTER_NAME,
    namespace: str | None = None,
) -> Path:
    """Writes a one-context kubeconfig with embedded credentials (mode 0600)."""
    credentials: dict[str, str] = {}
    if client_cert_pem is not None and client_key_pem is not None:
        credentials["client-certificate-data"] = base64.b64encode(client_cert_pem).decode()
        credentials["client-key-data"] = base64.b64encode(client_key_pem).decode()
    if token is not None:
        credentials["token"] = token
    context_name = f"{user}@{cluster_name}"
    context: dict[str, str] = {"cluster": cluster_name, "user": user}
    if namespace:
        context["namespace"] = namespace
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [
            {
                "name": cluster_name,
                "cluster": {
                    "server": server,
                    "certificate-authority-data": base64.b64encode(ca_pem).decode(),
                },
            }
        ],
        "users": [{"name": user, "user": credentials}],
        "contexts": [{"name": context_name, "context": context}],
        "current-context": context_name,
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        yaml.safe_dump(config, fh, sort_keys=False)
    return path


# --------------------------------------------------------------------------------------------
# kubectl access (shared by the local cluster and an external one)


@dataclass
class ClusterAccess:
    """A kubeconfig plus a kubectl to use it with."""

    kubeconfig: Path
    kubectl_bin: str = "kubectl"

    def kubectl(
        self,
        *args: str,
        input_text: str | None = None,
        check: bool = True,
        timeout: float = 120,
    ) -> subprocess.CompletedProcess[str]:
        """Runs kubectl against this cluster; raises ClusterError with stderr when check fails."""
        cmd = [self.kubectl_bin, f"--kubeconfig={self.kubeconfig}", *args]
        proc = subprocess.run(
            cmd, input=input_text, capture_output=True, text=True, timeout=timeout, check=False
        )
        if check and proc.returncode != 0:
            raise KubectlError(proc.returncode, cmd, proc.stdout, proc.stderr)
        return proc

    def get_json(self, *args: str) -> Any:
        return json.loads(self.kubectl("get", *args, "-o", "json").stdout)

    def apply(
        self, manifest: str | Mapping[str, Any] | Sequence[Mapping[str, Any]], *extra: str
    ) -> str:
        """kubectl apply of YAML text or object(s); returns kubectl's output."""
        if isinstance(manifest, str):
            text = manifest
        elif isinstance(manifest, Mapping):
            text = yaml.safe_dump(dict(manifest))
        else:
            text = yaml.safe_dump_all([dict(m) for m in manifest])
        return self.kubectl("apply", "-f", "-", *extra, input_text=text).stdout

    def service_account_kubeconfig(
        self, namespace: str, name: str, path: Path, duration: str = "6h"
    ) -> Path:
        """A kubeconfig for the same server that acts as ServiceAccount namespace/name, with a
        TokenRequest token (waits for the ServiceAccount to exist)."""
        self.wait_until(
            f"ServiceAccount {namespace}/{name}",
            lambda: (
                self.kubectl("get", "serviceaccount", name, "-n", namespace, check=False).returncode
                == 0
            ),
            timeout=30,
        )
        token = self.kubectl(
            "create", "token", name, "-n", namespace, f"--duration={duration}"
        ).stdout.strip()
        raw = self.kubectl("config", "view", "--raw", "--minify", "--flatten", "-o", "json")
        cluster = json.loads(raw.stdout)["clusters"][0]["cluster"]
        return write_kubeconfig(
            path,
            server=cluster["server"],
            ca_pem=base64.b64decode(cluster.get("certificate-authority-data", "")),
            user=f"system:serviceaccount:{namespace}:{name}",
            token=token,
        )

    def wait_until(
        self, what: str, predicate: Any, timeout: float = 60, interval: float = 0.5
    ) -> Any:
        """Polls predicate() until it returns a truthy value; raises TimeoutError with `what`."""
        deadline = time.monotonic() + timeout
        last_error: Exception | None = None
        while True:
            try:
                result = predicate()
                if result:
                    return result
            except (ClusterError, KeyError, IndexError, TypeError, ValueError) as exc:
                last_error = exc
            if time.monotonic() >= deadline:
                suffix = f" (last error: {last_error})" if last_error else ""
                raise TimeoutError(f"timed out after {timeout}s waiting for {what}{suffix}")
            time.sleep(interval)


# --------------------------------------------------------------------------------------------
# processes

_live_clusters: weakref.WeakSet[LocalCluster] = weakref.WeakSet()
_handlers_installed = False


def _stop_all_live() -> None:
    for cluster in list(_live_clusters):
        with contextlib.suppress(Exception):
            cluster.stop()


def _raise_exit(signum: int, frame: FrameType | None) -> None:
    raise SystemExit(128 + signum)


def _install_exit_handlers() -> None:
    """atexit stops running clusters; SIGTERM/SIGHUP become SystemExit so that context managers,
    fixture teardown and atexit run (only when nobody else handles those signals)."""
    global _handlers_installed
    if _handlers_installed:
        return
    _handlers_installed = True
    atexit.register(_stop_all_live)
    if threading.current_thread() is not threading.main_thread():
        return
    for sig in (signal.SIGTERM, signal.SIGHUP):
        if signal.getsignal(sig) is signal.SIG_DFL:
            signal.signal(sig, _raise_exit)


def _die_with_parent() -> None:  # pragma: no cover - runs in the child before exec
    """Linux: the child gets SIGTERM when the process that started it dies (even by SIGKILL)."""
    try:
        import ctypes

        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except Exception:
        pass


@dataclass
class Component:
    name: str
    args: list[str]
    log_path: Path
    process: ManagedProcess | None = None
    ports: list[int] = field(default_factory=list)

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process else None

    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def log_tail(self, lines: int = 30) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])


class LocalCluster:
    """etcd + kube-apiserver + kube-controller-manager + kube-scheduler + kwok on loopback.

    Every component runs in its own process group; stop() ends them by pid (SIGTERM, then
    SIGKILL), also from atexit and on SIGTERM/SIGHUP of the Python process.
    `apiserver_args` are added to kube-apiserver's own (benchmarks: an audit log).
    """

    def __init__(
        self,
        *,
        bin_dir: Path | None = None,
        work_dir: Path | None = None,
        nodes: int = 2,
        build: bool = True,
        keep_work_dir: bool | None = None,
        die_with_parent: bool = True,
        verbosity: int = 1,
        real_node: bool = False,
        apiserver_args: Sequence[str] = (),
    ) -> None:
        self._bin_dir_arg = bin_dir
        self.apiserver_args = list(apiserver_args)  # extra flags (benchmarks: an audit log)
        self._work_dir_arg = work_dir
        self.node_count = nodes
        self._build = build
        self.keep_work_dir = (
            keep_work_dir
            if keep_work_dir is not None
            else work_dir is not None or os.environ.get("PICO_TLS_KEEP_CLUSTER_DIR") == "1"
        )
        self._die_with_parent = die_with_parent
        self.verbosity = verbosity
        self.bin_dir: Path = Path()
        self.work_dir: Path = Path()
        self.components: list[Component] = []
        self.server = ""
        self.kubeconfig = Path()
        self.ca: TestCA | None = None
        self.node_names = [f"kwok-node-{i}" for i in range(nodes)]
        self.started = False
        self.startup_seconds: float | None = None
        self._lock = threading.Lock()
        # the real node (realnode.py): the apiserver then listens on the node's bridge address
        self.real_node = real_node
        self.apiserver_args = list(apiserver_args)
        self.node: RealNode | None = None
        self.bind_ip = "127.0.0.1"

    # -- public API --------------------------------------------------------------------------

    @property
    def access(self) -> ClusterAccess:
        return ClusterAccess(self.kubeconfig, str(self.bin_dir / "kubectl"))

    def kubectl(
        self, *args: str, input_text: str | None = None, check: bool = True, timeout: float = 120
    ) -> subprocess.CompletedProcess[str]:
        return self.access.kubectl(*args, input_text=input_text, check=check, timeout=timeout)

    @property
    def pids(self) -> dict[str, int]:
        return {c.name: c.process.pid for c in self.components if c.process is not None}

    @property
    def ports(self) -> list[int]:
        return [p for c in self.components for p in c.ports]

    def __enter__(self) -> LocalCluster:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def start(self, timeout: float = 120) -> LocalCluster:
        if self.started:
            return self
        began = time.monotonic()
        self.bin_dir = ensure_binaries(self._bin_dir_arg, build=self._build)
        _install_exit_handlers()
        if self._work_dir_arg is not None:
            self.work_dir = self._work_dir_arg
            self.work_dir.mkdir(parents=True, exist_ok=True)
        else:
            self.work_dir = Path(tempfile.mkdtemp(prefix="pico-tls-cluster-"))
        _live_clusters.add(self)
        self.started = True
        try:
            if self.real_node:
                self.node = RealNode(self)
                self.node.prepare()
                self.bind_ip = NODE_IP
            self._write_credentials()
            deadline = time.monotonic() + timeout
            self._start_etcd()
            self._wait_etcd(deadline)
            self._start_apiserver()
            self._wait_readyz(deadline)
            self._start_controllers()
            self._create_nodes()
            self._wait_nodes_ready(deadline)
            self._wait_default_service_account(deadline)
            if self.node is not None:
                self.node.start(time.monotonic() + timeout)
        except BaseException:
            logs = self._failure_report()
            self.stop()
            if logs:
                print(logs, file=sys.stderr)
            raise
        self.startup_seconds = time.monotonic() - began
        return self

    def stop(self, timeout: float = 15) -> None:
        with self._lock:
            if not self.started:
                return
            if self.node is not None:
                self.node.stop()
            for component in reversed(self.components):
                if component.process is not None:
                    component.process.stop(timeout)
            self.started = False
            _live_clusters.discard(self)
            if not self.keep_work_dir and self.work_dir != Path():
                shutil.rmtree(self.work_dir, ignore_errors=True)

    def import_image(self, tar: Path) -> list[str]:
        """Loads an OCI layout or docker-archive tar into the real node's containerd (see
        RealNode.import_image); returns the image names it added."""
        if self.node is None:
            raise ClusterError("import_image needs LocalCluster(real_node=True)")
        return self.node.import_image(tar)

    def rss_bytes(self) -> dict[str, int]:
        """Resident memory of each running component (from /proc)."""
        out: dict[str, int] = {}
        for c in self.components:
            if c.running() and c.pid is not None:
                out[c.name] = _rss_of(c.pid)
        return out

    # -- start-up steps ----------------------------------------------------------------------

    def _path(self, name: str) -> Path:
        return self.work_dir / name

    def _write(self, name: str, data: bytes, mode: int = 0o600) -> Path:
        path = self._path(name)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        return path

    def _write_credentials(self) -> None:
        self.ca = ca = TestCA()
        self._write("ca.crt", ca.cert_pem, 0o644)
        self._write("ca.key", _pem_key(ca.key))
        serving = ca.issue(
            "kube-apiserver",
            dns_names=[
                "localhost",
                "kubernetes",
                "kubernetes.default",
                "kubernetes.default.svc",
                "kubernetes.default.svc.cluster.local",
            ],
            ip_addresses=["127.0.0.1", SERVICE_IP, NODE_IP],
            server=True,
        )
        self._write("apiserver.crt", serving.cert_pem, 0o644)
        self._write("apiserver.key", serving.key_pem)
        sa_key = ec.generate_private_key(ec.SECP256R1())
        self._write("sa.key", _pem_key(sa_key))
        self._write(
            "sa.pub",
            sa_key.public_key().public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            ),
            0o644,
        )
        self._admin = ca.issue("pico-tls-admin", organizations=["system:masters"], client=True)
        self._write("admin.crt", self._admin.cert_pem, 0o644)
        self._write("admin.key", self._admin.key_pem)
        self._kcm = ca.issue("system:kube-controller-manager", client=True)
        kubelet_client = ca.issue(
            "kube-apiserver-kubelet-client", organizations=["system:masters"], client=True
        )
        self._write("kubelet-client.crt", kubelet_client.cert_pem, 0o644)
        self._write("kubelet-client.key", kubelet_client.key_pem)
        self._scheduler = ca.issue("system:kube-scheduler", client=True)

    def _controllers(self) -> list[str]:
        """With real pods, Services need their EndpointSlices (kube-proxy reads them)."""
        extra = ["endpointslice-controller", "endpoints-controller"] if self.real_node else []
        return [*CONTROLLERS, *extra]

    def client_kubeconfig(self, user: str, groups: Sequence[str] = ()) -> Path:
        """A kubeconfig with a new client certificate of this cluster's CA for `user`."""
        assert self.ca is not None
        issued = self.ca.issue(user, organizations=groups, client=True)
        return write_kubeconfig(
            self._path(f"{user.replace(':', '-')}.kubeconfig"),
            server=self.server,
            ca_pem=self.ca.cert_pem,
            user=user,
            client_cert_pem=issued.cert_pem,
            client_key_pem=issued.key_pem,
        )

    def spawn_component(self, name: str, args: list[str], ports: Sequence[int] = ()) -> Component:
        return self._spawn(name, args, ports)

    def poll(self, what: str, predicate: Any, deadline: float, component: str) -> None:
        self._poll(what, predicate, deadline, component)

    def stop_component(self, name: str, timeout: float = 15) -> None:
        for component in self.components:
            if component.name == name and component.process is not None:
                component.process.stop(timeout)

    def _spawn(self, name: str, args: list[str], ports: Sequence[int] = ()) -> Component:
        log_path = self._path(f"{name}.log")
        component = Component(name, args, log_path, ports=list(ports))
        component.process = ManagedProcess(
            args,
            log_path=log_path,
            cwd=self.work_dir,
            group=True,
            preexec_fn=_die_with_parent if self._die_with_parent else None,
            kill_wait=5,
        ).start()
        self.components.append(component)
        return component

    def _start_etcd(self) -> None:
        client, peer = free_port(), free_port()
        self.etcd_url = f"http://127.0.0.1:{client}"
        peer_url = f"http://127.0.0.1:{peer}"
        self._spawn(
            "etcd",
            [
                str(self.bin_dir / "etcd"),
                "--name=default",
                f"--data-dir={self._path('etcd-data')}",
                f"--listen-client-urls={self.etcd_url}",
                f"--advertise-client-urls={self.etcd_url}",
                f"--listen-peer-urls={peer_url}",
                f"--initial-advertise-peer-urls={peer_url}",
                f"--initial-cluster=default={peer_url}",
                "--unsafe-no-fsync",
                "--log-level=warn",
                "--quota-backend-bytes=1073741824",
            ],
            ports=(client, peer),
        )

    def _wait_etcd(self, deadline: float) -> None:
        def healthy() -> bool:
            with urllib.request.urlopen(f"{self.etcd_url}/health", timeout=2) as resp:
                return bool(json.loads(resp.read()).get("health") == "true")

        self._poll("etcd /health", healthy, deadline, "etcd")

    def _start_apiserver(self) -> None:
        port = free_port()
        self.server = f"https://{self.bind_ip}:{port}"
        self._spawn(
            "kube-apiserver",
            [
                str(self.bin_dir / "kube-apiserver"),
                f"--etcd-servers={self.etcd_url}",
                f"--bind-address={self.bind_ip}",
                f"--advertise-address={self.bind_ip}",
                f"--kubelet-client-certificate={self._path('kubelet-client.crt')}",
                f"--kubelet-client-key={self._path('kubelet-client.key')}",
                "--kubelet-preferred-address-types=InternalIP",
                f"--secure-port={port}",
                f"--cert-dir={self._path('apiserver-certs')}",
                f"--tls-cert-file={self._path('apiserver.crt')}",
                f"--tls-private-key-file={self._path('apiserver.key')}",
                f"--client-ca-file={self._path('ca.crt')}",
                "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
                f"--service-account-key-file={self._path('sa.pub')}",
                f"--service-account-signing-key-file={self._path('sa.key')}",
                f"--service-cluster-ip-range={SERVICE_CIDR}",
                "--authorization-mode=RBAC",
                "--allow-privileged=true",
                "--endpoint-reconciler-type=none",
                # its not-ready taint would only be lifted by the node lifecycle controller,
                # which is off (kwok's nodes must never be evicted)
                "--disable-admission-plugins=TaintNodesByCondition",
                "--profiling=false",
                "--event-ttl=15m",
                f"--v={self.verbosity}",
                *self.apiserver_args,
            ],
            ports=(port,),
        )
        self.kubeconfig = write_kubeconfig(
            self._path("admin.kubeconfig"),
            server=self.server,
            ca_pem=self.ca.cert_pem if self.ca else b"",
            user="admin",
            client_cert_pem=self._admin.cert_pem,
            client_key_pem=self._admin.key_pem,
        )

    def _ssl_context(self) -> ssl.SSLContext:
        ctx = ssl.create_default_context(cafile=str(self._path("ca.crt")))
        ctx.load_cert_chain(str(self._path("admin.crt")), str(self._path("admin.key")))
        return ctx

    def _wait_readyz(self, deadline: float) -> None:
        ctx = self._ssl_context()

        def ready() -> bool:
            with urllib.request.urlopen(f"{self.server}/readyz", timeout=3, context=ctx) as r:
                return bool(r.status == 200)

        self._poll("kube-apiserver /readyz", ready, deadline, "kube-apiserver")

    def _start_controllers(self) -> None:
        assert self.ca is not None
        kcm_config = write_kubeconfig(
            self._path("kube-controller-manager.kubeconfig"),
            server=self.server,
            ca_pem=self.ca.cert_pem,
            user="system:kube-controller-manager",
            client_cert_pem=self._kcm.cert_pem,
            client_key_pem=self._kcm.key_pem,
        )
        sched_config = write_kubeconfig(
            self._path("kube-scheduler.kubeconfig"),
            server=self.server,
            ca_pem=self.ca.cert_pem,
            user="system:kube-scheduler",
            client_cert_pem=self._scheduler.cert_pem,
            client_key_pem=self._scheduler.key_pem,
        )
        self._spawn(
            "kube-controller-manager",
            [
                str(self.bin_dir / "kube-controller-manager"),
                f"--kubeconfig={kcm_config}",
                "--leader-elect=false",
                "--secure-port=0",
                f"--root-ca-file={self._path('ca.crt')}",
                f"--service-account-private-key-file={self._path('sa.key')}",
                "--use-service-account-credentials=true",
                f"--controllers={','.join(self._controllers())}",
                f"--service-cluster-ip-range={SERVICE_CIDR}",
                "--concurrent-gc-syncs=5",
                "--namespace-sync-period=10s",
                f"--v={self.verbosity}",
            ],
        )
        self._spawn(
            "kube-scheduler",
            [
                str(self.bin_dir / "kube-scheduler"),
                f"--kubeconfig={sched_config}",
                f"--authentication-kubeconfig={sched_config}",
                f"--authorization-kubeconfig={sched_config}",
                "--leader-elect=false",
                "--secure-port=0",
                f"--v={self.verbosity}",
            ],
        )
        stage_args = [f"--config={p}" for p in sorted(STAGES_DIR.glob("*.yaml"))]
        self._spawn(
            "kwok",
            [
                str(self.bin_dir / "kwok"),
                f"--kubeconfig={self.kubeconfig}",
                "--manage-all-nodes=false",
                f"--manage-nodes-with-annotation-selector={KWOK_ANNOTATION}=fake",
                "--node-ip=127.0.0.1",
                "--node-lease-duration-seconds=40",
                f"--cidr={KWOK_POD_CIDR}",
                *stage_args,
            ],
        )

    def _create_nodes(self) -> None:
        nodes = [
            {
                "apiVersion": "v1",
                "kind": "Node",
                "metadata": {
                    "name": name,
                    "annotations": {KWOK_ANNOTATION: "fake", "node.alpha.kubernetes.io/ttl": "0"},
                    "labels": {
                        "type": "kwok",
                        "picotls.dev/node": "kwok",
                        "kubernetes.io/hostname": name,
                        "kubernetes.io/os": "linux",
                        "kubernetes.io/arch": "amd64",
                    },
                },
                "spec": {},
                "status": {},
            }
            for name in self.node_names
        ]
        self.access.apply(nodes)

    def _wait_nodes_ready(self, deadline: float) -> None:
        def ready() -> bool:
            items = self.access.get_json("nodes")["items"]
            ready_names = {
                n["metadata"]["name"]
                for n in items
                if any(
                    c["type"] == "Ready" and c["status"] == "True"
                    for c in n.get("status", {}).get("conditions", [])
                )
            }
            return set(self.node_names) <= ready_names

        self._poll("fake nodes Ready", ready, deadline, "kwok")

    def _wait_default_service_account(self, deadline: float) -> None:
        def exists() -> bool:
            proc = self.kubectl("get", "serviceaccount", "default", "-n", "default", check=False)
            return proc.returncode == 0

        self._poll("ServiceAccount default/default", exists, deadline, "kube-controller-manager")

    def _poll(self, what: str, predicate: Any, deadline: float, component: str) -> None:
        while True:
            for c in self.components:
                if not c.running():
                    code = c.process.returncode if c.process else None
                    raise ClusterError(
                        f"{c.name} exited with {code} while waiting for {what}; "
                        f"log {c.log_path}:\n{c.log_tail()}"
                    )
            try:
                if predicate():
                    return
            except (OSError, ClusterError, ValueError, KeyError, ssl.SSLError):
                pass
            if time.monotonic() > deadline:
                comp = next((c for c in self.components if c.name == component), None)
                tail = f"\n{comp.log_tail()}" if comp else ""
                raise ClusterError(f"timed out waiting for {what}{tail}")
            time.sleep(0.2)

    def _failure_report(self) -> str:
        parts = []
        for c in self.components:
            parts.append(f"--- {c.name} ({c.log_path}) ---\n{c.log_tail(15)}")
        return "\n".join(parts)

    # -- faults (pico_harness.support.faults) ------------------------------------------------

    def restart_component(self, name: str, timeout: float = 60) -> float:
        """SIGKILLs one component (etcd, kube-apiserver, ...) and starts it again with the same
        arguments and ports; returns the seconds until the apiserver is ready again."""
        began = time.monotonic()
        index, old = next((i, c) for i, c in enumerate(self.components) if c.name == name)
        if old.process is not None:
            old.process.kill(wait=10)
        self.components.remove(old)
        self._spawn(name, old.args, old.ports)
        self.components.insert(index, self.components.pop())
        deadline = time.monotonic() + timeout
        if name == "etcd":
            self._wait_etcd(deadline)
        self._wait_readyz(deadline)
        return time.monotonic() - began

    def compact_etcd(self) -> int:
        """Compacts etcd's history up to its current revision (watches resuming from an older
        resourceVersion then get 410 Gone); returns that revision."""

        def call(path: str, body: dict[str, Any]) -> dict[str, Any]:
            request = urllib.request.Request(
                f"{self.etcd_url}{path}", data=json.dumps(body).encode(), method="POST"
            )
            with urllib.request.urlopen(request, timeout=10) as resp:
                return dict(json.loads(resp.read()))

        revision = int(call("/v3/kv/range", {"key": "Lw==", "limit": 1})["header"]["revision"])
        call("/v3/kv/compaction", {"revision": str(revision), "physical": True})
        return revision


def _rss_of(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # a zombie counts as gone
    with contextlib.suppress(OSError):
        stat = Path(f"/proc/{pid}/stat").read_text()
        if stat.rsplit(")", 1)[1].split()[0] == "Z":
            return False
    return True


# --------------------------------------------------------------------------------------------
# dev cluster: a detached cluster for manual use


def dev_state_dir() -> Path:
    env = os.environ.get("PICO_TLS_DEV_CLUSTER_DIR")
    if env:
        return Path(env)
    cache = os.environ.get("PICO_TLS_CLUSTER_CACHE") or str(Path.home() / ".cache" / "pico-tls")
    return Path(cache) / "dev-cluster"


def _read_state(state_dir: Path) -> dict[str, Any] | None:
    try:
        data: dict[str, Any] = json.loads((state_dir / "state.json").read_text())
        return data
    except (OSError, ValueError):
        return None


def _serve(state_dir: Path, nodes: int, real_node: bool = False) -> int:
    """Runs in the detached supervisor process: starts the cluster, writes state.json, waits."""
    stop_event = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop_event.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGHUP, on_signal)
    work = state_dir / "cluster"
    if work.exists():
        shutil.rmtree(work)
    cluster = LocalCluster(work_dir=work, nodes=nodes, keep_work_dir=True, real_node=real_node)
    try:
        cluster.start()
    except BaseException as exc:
        (state_dir / "error.txt").write_text(f"{exc}\n")
        return 1
    try:
        state = {
            "supervisor_pid": os.getpid(),
            "kubeconfig": str(cluster.kubeconfig),
            "server": cluster.server,
            "pids": cluster.pids,
            "ports": cluster.ports,
            "work_dir": str(cluster.work_dir),
            "startup_seconds": cluster.startup_seconds,
            "real_node": cluster.node is not None,
            "node_startup_seconds": cluster.node.startup_seconds if cluster.node else None,
            "containerd_socket": str(cluster.node.socket) if cluster.node else None,
        }
        tmp = state_dir / "state.json.tmp"
        tmp.write_text(json.dumps(state, indent=2) + "\n")
        tmp.replace(state_dir / "state.json")
        while not stop_event.is_set():
            if any(not c.running() for c in cluster.components):
                (state_dir / "error.txt").write_text(
                    "a component exited: "
                    + ", ".join(c.name for c in cluster.components if not c.running())
                    + "\n"
                )
                break
            stop_event.wait(1)
    finally:
        cluster.stop()
        with contextlib.suppress(OSError):
            (state_dir / "state.json").unlink()
    return 0


def dev_up(state_dir: Path, nodes: int, real_node: bool = False, timeout: float = 240) -> int:
    state = _read_state(state_dir)
    if state and pid_alive(int(state["supervisor_pid"])):
        print(f"dev cluster already running (server {state['server']})", file=sys.stderr)
        print(state["kubeconfig"])
        return 0
    ensure_binaries()  # build in the foreground, so its output is visible
    state_dir.mkdir(parents=True, exist_ok=True)
    for stale in ("state.json", "error.txt"):
        with contextlib.suppress(OSError):
            (state_dir / stale).unlink()
    proc = ManagedProcess(
        [
            sys.executable,
            "-m",
            "pico_harness.cluster",
            f"--state-dir={state_dir}",
            "_serve",
            f"--nodes={nodes}",
            *(["--real-node"] if real_node else []),
        ],
        log_path=state_dir / "supervisor.log",
        cwd=REPO_ROOT,
        group=True,
        grace=20,
        stop_at_exit=False,  # it outlives `dev-cluster up`
    ).start()
    (state_dir / "supervisor.pid").write_text(f"{proc.pid}\n")
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        state = _read_state(state_dir)
        if state:
            print(
                f"dev cluster up in {state['startup_seconds']:.1f}s: server {state['server']}, "
                f"logs in {state['work_dir']}",
                file=sys.stderr,
            )
            print(f"export KUBECONFIG={state['kubeconfig']}", file=sys.stderr)
            print(state["kubeconfig"])
            return 0
        if proc.poll() is not None:
            break
        time.sleep(0.3)
    error = state_dir / "error.txt"
    msg = error.read_text() if error.exists() else "timed out"
    print(
        f"dev cluster failed to start: {msg.strip()} (see {state_dir}/supervisor.log)",
        file=sys.stderr,
    )
    proc.stop()
    return 1


def dev_down(state_dir: Path) -> int:
    state = _read_state(state_dir)
    pid_file = state_dir / "supervisor.pid"
    sup_pid = int(state["supervisor_pid"]) if state else None
    if sup_pid is None and pid_file.exists():
        with contextlib.suppress(ValueError):
            sup_pid = int(pid_file.read_text().strip())
    if sup_pid is None or not pid_alive(sup_pid):
        print("dev cluster is not running", file=sys.stderr)
    else:
        os.kill(sup_pid, signal.SIGTERM)
        deadline = time.monotonic() + 30
        while pid_alive(sup_pid) and time.monotonic() < deadline:
            time.sleep(0.2)
        if pid_alive(sup_pid):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(sup_pid, signal.SIGKILL)
        print("dev cluster stopped", file=sys.stderr)
    # components that outlived their supervisor (it was killed): stop them by pid
    for name, pid in (state or {}).get("pids", {}).items():
        if pid_alive(pid):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pid, signal.SIGKILL)
            print(f"killed leftover {name} ({pid})", file=sys.stderr)
    with contextlib.suppress(OSError):
        pid_file.unlink()
    with contextlib.suppress(OSError):
        (state_dir / "state.json").unlink()
    return 0


def dev_import(state_dir: Path, tars: Sequence[Path]) -> int:
    state = _read_state(state_dir)
    if not state or not state.get("containerd_socket"):
        print("no dev cluster with a real node is running (dev-cluster up --real-node)")
        return 1
    for tar in tars:
        names = import_image(Path(state["containerd_socket"]), tar)
        print(f"{tar}: {', '.join(names) or 'already imported'}")
    return 0


def dev_status(state_dir: Path) -> int:
    state = _read_state(state_dir)
    if not state or not pid_alive(int(state["supervisor_pid"])):
        print("dev cluster is not running")
        return 1
    print(f"server:     {state['server']}")
    print(f"kubeconfig: {state['kubeconfig']}")
    total = 0
    for name, pid in state["pids"].items():
        alive = pid_alive(pid)
        rss = _rss_of(pid) if alive else 0
        total += rss
        print(
            f"  {name:<24} pid {pid:<8} {'running' if alive else 'GONE':<8} "
            f"rss {rss / 2**20:6.0f} MiB"
        )
    print(f"  {'total':<24} {'':<12} {'':<8} rss {total / 2**20:6.0f} MiB")
    access = ClusterAccess(Path(state["kubeconfig"]), str(default_bin_dir() / "kubectl"))
    proc = access.kubectl("get", "--raw=/readyz", check=False, timeout=10)
    print(f"readyz:     {proc.stdout.strip() or proc.stderr.strip()}")
    return 0 if proc.returncode == 0 else 1


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="dev-cluster", description="A local Kubernetes control plane with fake kwok nodes."
    )
    parser.add_argument(
        "--state-dir",
        type=Path,
        default=None,
        help="state folder (default $HOME/.cache/pico-tls/dev-cluster)",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    up = sub.add_parser("up", help="start in the background; prints the kubeconfig path")
    up.add_argument("--nodes", type=int, default=2)
    up.add_argument(
        "--real-node",
        action="store_true",
        help="also a real node (containerd, kubelet, kube-proxy, CoreDNS; needs root and "
        "harness/pico_harness/cluster/install-node-deps.sh)",
    )
    load = sub.add_parser("import-image", help="load OCI/docker-archive tars into the real node")
    load.add_argument("tars", nargs="+", type=Path)
    sub.add_parser("down", help="stop it")
    sub.add_parser("status", help="pids, memory, /readyz")
    sub.add_parser("kubeconfig", help="print the kubeconfig path")
    sub.add_parser("build", help="build the binaries (harness/pico_harness/cluster/build.sh)")
    sub.add_parser(
        "real-node-check", help="exit 0 if this machine can run the real node, else say why"
    )
    serve = sub.add_parser("_serve")
    serve.add_argument("--nodes", type=int, default=2)
    serve.add_argument("--real-node", action="store_true")
    args = parser.parse_args(argv)
    state_dir: Path = args.state_dir or dev_state_dir()
    if args.command == "up":
        return dev_up(state_dir, args.nodes, args.real_node)
    if args.command == "down":
        return dev_down(state_dir)
    if args.command == "status":
        return dev_status(state_dir)
    if args.command == "kubeconfig":
        state = _read_state(state_dir)
        if not state:
            print("dev cluster is not running", file=sys.stderr)
            return 1
        print(state["kubeconfig"])
        return 0
    if args.command == "build":
        print(ensure_binaries())
        return 0
    if args.command == "_serve":
        return _serve(state_dir, args.nodes, args.real_node)
    if args.command == "real-node-check":
        reason = real_node_unsupported()
        print(reason or "this machine can run the real node")
        return 1 if reason else 0
    if args.command == "import-image":
        return dev_import(state_dir, args.tars)
    return 2


def iter_component_logs(cluster: LocalCluster) -> Iterator[tuple[str, Path]]:
    for c in cluster.components:
        yield c.name, c.log_path
