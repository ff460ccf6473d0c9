"""One catalogue of the objects a group writes: `clashes.writes_of` (what the name-clash check
protects) agrees with what the builders really write, for every kind and every option that
changes the set (trust, keystore mode, TLS on or off, retainOnDelete), on snapshots."""

from __future__ import annotations

import base64
import itertools
from datetime import timedelta
from typing import Any

import pytest

from pico_harness.support.world import NOW, World, custom
from pico_tls.builders import names
from pico_tls.pki.certs import cert_to_pem, create_ca
from pico_tls.pki.keys import KeyAlgorithm, generate_key, key_to_pem
from pico_tls.reconcile.clashes import writes_of

EC = {"key": {"algorithm": "ECDSA"}}
TRUSTS = {
    "operator-ca": {"mode": "CertificateAuthority"},
    "user-ca": {"mode": "CertificateAuthority", "caSecretRef": {"name": "corp-ca"}},
    "pinned": {"mode": "Pinned"},
}
KINDS = {
    "platform": "Platform",
    "execution-container": "ExecutionContainer",
    "desktop": "DesktopClient",
}
WRITTEN_KINDS = ("Secret", "ConfigMap", "Service", "StatefulSet", "Deployment")
CASES = list(itertools.product(TRUSTS, ("PerContainer", "Shared"), (True, False), (False, True)))


def _user_ca() -> dict[str, Any]:
    ca = create_ca(
        "corp CA", generate_key(KeyAlgorithm.EC_P256), duration=timedelta(days=3650), now=NOW
    )
    data = {"tls.crt": cert_to_pem(ca.certificate), "tls.key": key_to_pem(ca.key)}
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "corp-ca", "namespace": "ns"},
        "data": {k: base64.b64encode(v).decode() for k, v in data.items()},
    }


def _written(world: World) -> dict[tuple[str, str], set[tuple[str, str]]]:
    """Every object the operator wrote, by the custom resource it was written for."""
    out: dict[tuple[str, str], set[tuple[str, str]]] = {}
    for obj in world.of_kind(*WRITTEN_KINDS):
        labels = obj["metadata"].get("labels") or {}
        if labels.get(names.MANAGED_BY) != names.FIELD_MANAGER:
            continue  # the user's CA Secret
        owner = (KINDS[labels[names.COMPONENT_LABEL]], labels["app.kubernetes.io/instance"])
        out.setdefault(owner, set()).add((obj["kind"], obj["metadata"]["name"]))
    return out


@pytest.mark.parametrize(
    ("trust", "mode", "enabled", "retain"), CASES, ids=["-".join(map(str, c)) for c in CASES]
)
def test_the_clash_check_knows_every_object_the_builders_write(
    trust: str, mode: str, enabled: bool, retain: bool
) -> None:
    world = World()
    if trust == "user-ca":
        world.add(_user_ca())
    tls = {
        **EC,
        "trust": TRUSTS[trust],
        "keystoreMode": mode,
        "enabled": enabled,
        "retainOnDelete": retain,
    }
    bodies = [
        world.add(custom("Platform", "mz", {"image": "img", "tls": tls})),
        world.add(
            custom("ExecutionContainer", "ec1", {"platformRef": {"name": "mz"}, "image": "i"})
        ),
        world.add(
            custom("DesktopClient", "alice", {"platformRef": {"name": "mz"}, "user": "alice", **EC})
        ),
    ]
    world.settle()
    written = _written(world)
    for body in bodies:
        key = (body["kind"], body["metadata"]["name"])
        catalogue = writes_of(body)
        assert written.get(key, set()) <= catalogue  # nothing written that the check misses
        if enabled and mode == "PerContainer":
            assert written.get(key, set()) == catalogue  # nothing listed that is never written
    assert set(written) <= {(b["kind"], b["metadata"]["name"]) for b in bodies}
