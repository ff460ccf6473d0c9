"""cert-manager's controller as a benchmark peer (bench_certmanager.py): its build folder
(bench/certmanager/build.sh), its CRDs and identity in the local cluster, the process, and the
Certificates that mirror what the operator issues for one Platform group."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
from pathlib import Path
from typing import Any

from pico_harness.cluster.localcluster import ClusterAccess, free_port

HERE = Path(__file__).resolve().parent
NAMESPACE = "cert-manager"
SERVICE_ACCOUNT = "cert-manager"
USER = f"system:serviceaccount:{NAMESPACE}:{SERVICE_ACCOUNT}"
PASSWORD_SECRET = "keystore-password"
CA_SECRET = "bench-ca"
KEY = {"algorithm": "RSA", "size": 2048, "encoding": "PKCS8", "rotationPolicy": "Never"}


def build() -> Path:
    """bench/certmanager/build.sh (builds nothing when warm); returns its output folder."""
    out = subprocess.run(
        [str(HERE / "build.sh")], check=True, stdout=subprocess.PIPE, text=True
    ).stdout
    return Path(out.strip().splitlines()[-1])


def version(folder: Path) -> str:
    return folder.name.removeprefix("cert-manager-")


def install(access: ClusterAccess, folder: Path, kubeconfig: Path) -> Path:
    """The CRDs (Established) and a ServiceAccount bound to cluster-admin (the benchmark does
    not reproduce the Helm chart's roles; RBAC does not change the requests made); returns a
    kubeconfig acting as that ServiceAccount."""
    crds = sorted((folder / "crds").glob("crd-*.yaml"))
    access.kubectl("apply", "--server-side", *[a for f in crds for a in ("-f", str(f))])
    access.kubectl(
        "wait", "--for=condition=Established", "--timeout=60s",
        *[f"crd/{n}.cert-manager.io" for n in ("certificates", "certificaterequests", "issuers")],
    )  # fmt: skip
    access.kubectl("create", "namespace", NAMESPACE)
    access.kubectl("create", "serviceaccount", SERVICE_ACCOUNT, "-n", NAMESPACE)
    access.kubectl(
        "create", "clusterrolebinding", "bench-cert-manager", "--clusterrole=cluster-admin",
        f"--serviceaccount={NAMESPACE}:{SERVICE_ACCOUNT}",
    )  # fmt: skip
    return access.service_account_kubeconfig(NAMESPACE, SERVICE_ACCOUNT, kubeconfig)


class Controller:
    """`controller` cluster-wide, no leader election, in its own process group."""

    def __init__(self, folder: Path, kubeconfig: Path, log: Path, extra: list[str]) -> None:
        self.command = [
            str(folder / "bin" / "controller"),
            f"--kubeconfig={kubeconfig}",
            "--leader-elect=false",
            f"--cluster-resource-namespace={NAMESPACE}",
            f"--metrics-listen-address=127.0.0.1:{free_port()}",
            "--v=2",
            *extra,
        ]
        self.log = log
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def start(self) -> None:
        env = {k: v for k, v in os.environ.items() if not k.startswith("KUBERNETES_")}
        env.pop("KUBECONFIG", None)
        with open(self.log, "ab") as log:
            self.process = subprocess.Popen(
                self.command, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                env=env, start_new_session=True,
            )  # fmt: skip

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(15)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(5)

    def throttled_lines(self) -> int:
        """Log lines of client-go's own rate limiter (--kube-api-qps / --kube-api-burst)."""
        text = self.log.read_text(errors="replace") if self.log.exists() else ""
        return sum("client-side throttling" in line for line in text.splitlines())


def _certificate(namespace: str, name: str, issuer: str, spec: dict[str, Any]) -> dict[str, Any]:
    return {
        "apiVersion": "cert-manager.io/v1",
        "kind": "Certificate",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {"issuerRef": {"name": issuer, "kind": "Issuer"}, "privateKey": KEY, **spec},
    }


def _leaf(namespace: str, name: str, secret: str, dns: list[str]) -> dict[str, Any]:
    """A server + client certificate with a PKCS12 and a JKS keystore, as the operator's."""
    password = {"name": PASSWORD_SECRET, "key": "password"}
    return _certificate(
        namespace, name, "ca",
        {
            "secretName": secret,
            "commonName": name,
            "dnsNames": dns,
            "duration": "8760h",
            "renewBefore": "720h",
            "usages": ["digital signature", "key encipherment", "server auth", "client auth"],
            "keystores": {
                "pkcs12": {"create": True, "passwordSecretRef": password},
                "jks": {"create": True, "passwordSecretRef": password},
            },
        },
    )  # fmt: skip


def platform_group(namespace: str, containers: int, password: str) -> list[dict[str, Any]]:
    """A self-signed Issuer, a CA Certificate, a CA Issuer, the platform's Certificate and one
    per container (named like the operator's: `bench`, `ec000`...), and the keystore password."""
    issuer = {"apiVersion": "cert-manager.io/v1", "kind": "Issuer"}
    return [
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": PASSWORD_SECRET, "namespace": namespace},
            "stringData": {"password": password},
        },
        {**issuer, "metadata": {"name": "selfsigned", "namespace": namespace},
         "spec": {"selfSigned": {}}},
        _certificate(namespace, "bench-ca", "selfsigned", {
            "isCA": True, "commonName": "bench-ca", "secretName": CA_SECRET,
            "duration": "87600h", "usages": ["cert sign", "crl sign", "digital signature"],
        }),
        {**issuer, "metadata": {"name": "ca", "namespace": namespace},
         "spec": {"ca": {"secretName": CA_SECRET}}},
        _leaf(namespace, "bench", "bench-tls",
              ["bench", f"bench.{namespace}.svc", f"bench-headless.{namespace}.svc"]),
        *(
            _leaf(namespace, f"ec{i:03d}", f"ec{i:03d}-tls", [f"ec{i:03d}.{namespace}.svc"])
            for i in range(containers)
        ),
    ]  # fmt: skip


def leaf_secrets(containers: int) -> list[str]:
    return ["bench-tls", *(f"ec{i:03d}-tls" for i in range(containers))]
