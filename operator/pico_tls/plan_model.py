"""What a group's plan is: the keystore Secrets with what they must mean, and every other
object the operator writes for the group (built by `plan.build_plan`)."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from cryptography import x509

from pico_tls.builders import names, secret_manifests
from pico_tls.keystore import KeystoreContent, StoreOptions, content_fingerprint, encode_keystore
from pico_tls.material import Identity
from pico_tls.pki.certs import CertificateAuthority


@dataclass(frozen=True)
class PlannedStore:
    """A keystore Secret: what it must mean, and how to write it."""

    meta: dict[str, Any]
    content: KeystoreContent
    options: StoreOptions
    identity: Identity
    ca: CertificateAuthority | None
    with_properties: bool
    extra_certs: Mapping[str, Any] = field(default_factory=dict)
    previous_cas: tuple[x509.Certificate, ...] = ()  # still trusted during a CA rotation

    @property
    def name(self) -> str:
        return str(self.meta["name"])

    @cached_property
    def fingerprint(self) -> str:
        return content_fingerprint(self.content, self.options)

    @cached_property
    def data_digest(self) -> str:
        """Hash of everything in the Secret besides the keystore bytes."""
        digest = hashlib.sha256(self.fingerprint.encode())
        for key, value in sorted(self.data(b"").items()):
            digest.update(key.encode() + b"\0")
            digest.update((value.encode() if isinstance(value, str) else value) + b"\0")
        return digest.hexdigest()

    def data(self, keystore: bytes) -> dict[str, bytes | str]:
        return secret_manifests.keystore_secret_data(
            self.options.format,
            keystore,
            self.identity,
            self.ca,
            previous_cas=self.previous_cas,
            with_properties=self.with_properties,
            extra_certs=self.extra_certs,
        )

    def encode(self) -> dict[str, Any]:
        return self.manifest(encode_keystore(self.content, self.options))

    def manifest(self, keystore: bytes) -> dict[str, Any]:
        """The Secret with `keystore` (this store's content, encoded)."""
        manifest = secret_manifests.keystore_secret(
            self.meta, self.data(keystore), self.fingerprint
        )
        manifest["metadata"]["annotations"][names.DATA_DIGEST] = self.data_digest
        return manifest


@dataclass(frozen=True)
class GroupPlan:
    stores: list[PlannedStore]
    state_secrets: list[dict[str, Any]]
    configmaps: list[dict[str, Any]]
    workloads: list[dict[str, Any]]  # the StatefulSet and Deployments: they run pods
    services: list[dict[str, Any]]
    mounted_hashes: dict[str, str]  # party name -> hash of what its pods mount
    # Server-side apply configurations for the users' own workloads (spec.workloadRef).
    attachments: list[dict[str, Any]] = field(default_factory=list)
