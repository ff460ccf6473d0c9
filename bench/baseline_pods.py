"""The baseline of bench_real_pods.py: the same stand-in pods with no operator. Keystores are
made by hand with keytool (self-signed, each side pins the other: the seed's procedure), put in
Secrets with a properties file, and run as a bare Deployment (Platform, with its Service) and
Deployments per Execution Container, client authentication required from the start."""

from __future__ import annotations

import base64
import subprocess
import tempfile
from pathlib import Path
from typing import Any

from pico_harness.support.realpods_env import REAL_NODE_SELECTOR

PASSWORD = "baseline-store-pw"  # a throw-away test password of a throw-away namespace
PORT = 6790
LABEL = "app.kubernetes.io"


def keytool(*args: str) -> None:
    subprocess.run(["keytool", *args], check=True, capture_output=True, text=True)


def make_stores(folder: Path, parties: list[str]) -> dict[str, bytes]:
    """A PKCS12 store per party with its own key (alias = its name); the platform (parties[0])
    trusts every container's certificate, each container the platform's."""
    common = ["-storetype", "PKCS12", "-storepass", PASSWORD]
    for name in parties:
        keytool(
            "-genkeypair", "-alias", name, "-keyalg", "RSA", "-keysize", "2048",
            "-dname", f"CN={name}", "-validity", "30", "-keystore", str(folder / f"{name}.p12"),
            "-keypass", PASSWORD, *common,
        )  # fmt: skip
        keytool(
            "-exportcert", "-alias", name, "-file", str(folder / f"{name}.crt"),
            "-keystore", str(folder / f"{name}.p12"), *common,
        )  # fmt: skip
    platform, containers = parties[0], parties[1:]
    for other in containers:
        for store, cert in ((platform, other), (other, platform)):
            keytool(
                "-importcert", "-noprompt", "-alias", f"peer-{cert}",
                "-file", str(folder / f"{cert}.crt"), "-keystore", str(folder / f"{store}.p12"),
                *common,
            )  # fmt: skip
    return {name: (folder / f"{name}.p12").read_bytes() for name in parties}


def _secret(name: str, store: bytes, properties: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": f"{name}-tls"},
        "data": {
            "keystore.p12": base64.b64encode(store).decode(),
            "pico.properties": base64.b64encode(properties.encode()).decode(),
        },
    }


def _deployment(name: str, component: str, replicas: int, image: str, port: int) -> dict[str, Any]:
    labels = {f"{LABEL}/name": "pico", f"{LABEL}/instance": name, f"{LABEL}/component": component}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": labels},
            "template": {
                "metadata": {"labels": labels},
                "spec": {
                    "nodeSelector": dict(REAL_NODE_SELECTOR),
                    "securityContext": {"fsGroup": 10001},
                    "containers": [
                        {
                            "name": component.split("-")[0],
                            "image": image,
                            "imagePullPolicy": "Never",
                            "env": [
                                {
                                    "name": "PICO_PROPERTIES_FILES",
                                    "value": "/etc/pico/tls/pico.properties",
                                }
                            ],
                            "volumeMounts": [
                                {"name": "tls", "mountPath": "/etc/pico/tls", "readOnly": True}
                            ],
                            "readinessProbe": {"tcpSocket": {"port": port}, "periodSeconds": 10},
                        }
                    ],
                    "volumes": [
                        {"name": "tls", "secret": {"secretName": f"{name}-tls", "defaultMode": 288}}
                    ],
                },
            },
        },
    }


def manifests(ns: str, image: str, containers: dict[str, int]) -> list[dict[str, Any]]:
    """Secrets, Deployments and the Platform's Service `mzb`: what a user writes by hand."""
    parties = ["mzb", *containers]
    with tempfile.TemporaryDirectory(prefix="pico-baseline-") as tmp:
        stores = make_stores(Path(tmp), parties)
    tls = (
        "pico.rcp.tls.keystore=/etc/pico/tls/keystore.p12\n"
        f"pico.rcp.tls.keystore.password={PASSWORD}\n"
    )
    platform_props = (
        f"{tls}pico.rcp.tls.keystore.alias=mzb\npico.rcp.tls.require_clientauth=true\n"
        "standin.http.port=9000\n"
    )
    docs = [
        _secret("mzb", stores["mzb"], platform_props),
        _deployment("mzb", "platform", 1, image, PORT),
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": "mzb"},
            "spec": {
                "selector": {f"{LABEL}/instance": "mzb"},
                "ports": [{"name": "rcp", "port": PORT, "targetPort": PORT}],
            },
        },
    ]
    for name, replicas in containers.items():
        props = (
            f"{tls}pico.rcp.tls.keystore.alias={name}\n"
            f"pico.rcp.platform.host=mzb.{ns}.svc\npico.rcp.platform.port={PORT}\n"
        )
        docs += [
            _secret(name, stores[name], props),
            _deployment(name, "execution-container", replicas, image, 9090),
        ]
    return docs
