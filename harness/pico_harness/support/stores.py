"""Keystore Secrets as files a JVM loads (`ClientStore`), and a stranger's store."""

from __future__ import annotations

import base64
from collections.abc import Mapping, Sequence
from datetime import timedelta
from pathlib import Path
from typing import Any

from cryptography import x509

from pico_harness.java.tools import ClientStore, HandshakeResult
from pico_tls.keystore import KeyEntry, KeystoreContent, StoreFormat, StoreOptions, encode_keystore
from pico_tls.pki.certs import certs_from_pem, self_signed_certificate
from pico_tls.pki.keys import KeyAlgorithm, generate_key


def decoded(data: Mapping[str, str]) -> dict[str, bytes]:
    """A Secret's `data` (base64) as bytes."""
    return {k: base64.b64decode(v) for k, v in data.items()}


def store_file(data: Mapping[str, bytes], path: Path, alias: str | None = None) -> ClientStore:
    """Write the keystore of decoded Secret data to `path` (suffix .p12 or .jks added)."""
    name = "keystore.p12" if "keystore.p12" in data else "keystore.jks"
    path = path.with_name(f"{path.name}.{name.rsplit('.', 1)[1]}")
    path.write_bytes(data[name])
    return ClientStore(
        path=path,
        store_type="PKCS12" if name.endswith("p12") else "JKS",
        store_password=data["keystore.password"].decode(),
        key_password=data["key.password"].decode(),
        alias=alias,
    )


def secret_store(
    cluster: Any, secret: str, namespace: str, folder: Path, alias: str | None = None
) -> ClientStore:
    """The keystore of a Secret in the cluster, as a new file in `folder`."""
    data = decoded(cluster.get_json("secret", secret, "-n", namespace)["data"])
    return store_file(data, folder / f"{secret}-{len(list(folder.iterdir()))}", alias)


def stranger_store(folder: Path, trusting: Sequence[x509.Certificate] = ()) -> ClientStore:
    """A key the operator never made (self-signed), trusting `trusting`: given the server's
    CA, a handshake can fail only at the server's check of the stranger's certificate."""
    key = generate_key(KeyAlgorithm.EC_P256)
    cert = self_signed_certificate(key, common_name="stranger", duration=timedelta(days=1))
    trusted = tuple((f"trusted-{i}", c) for i, c in enumerate(trusting))
    content = KeystoreContent(KeyEntry("stranger", key, (cert,)), trusted)
    options = StoreOptions(StoreFormat.PKCS12, "changeit", "changeit")
    path = folder / "stranger.p12"
    path.write_bytes(encode_keystore(content, options))
    return ClientStore(path, "PKCS12", "changeit", "changeit")


def stranger_for(cluster: Any, namespace: str, folder: Path, server_secret: str) -> ClientStore:
    """A stranger that trusts what the server of `server_secret` presents (its certificate
    and CAs), so a refused handshake is the server's refusal."""
    data = decoded(cluster.get_json("secret", server_secret, "-n", namespace)["data"])
    trusted = certs_from_pem(data["tls.crt"])
    if "ca.crt" in data:  # CA trust; pinned trust has none
        trusted += certs_from_pem(data["ca.crt"])
    return stranger_store(folder, trusting=trusted)


def rejected_by_server(result: HandshakeResult) -> bool:
    """The client reached the server's check of its certificate and the server refused it
    (not a client that gave up on its own side)."""
    event = result.server_event
    return (
        not result.ok
        and event is not None
        and not event.accepted
        and "SSLHandshakeException" in event.detail
    )
