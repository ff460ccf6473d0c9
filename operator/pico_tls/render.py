"""`pico-tls render`: every object the operator would create for some custom resources.

Uses the same parsers, material resolution and builders as the operator, with no cluster:
keys and certificates are generated fresh. Secret values are redacted unless asked for.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

import yaml

from pico_tls.builders import names, secret_manifests
from pico_tls.material import Existing, Identity, resolve_identity
from pico_tls.pki.certs import CertificateAuthority, create_ca
from pico_tls.pki.keys import generate_key
from pico_tls.plan import (
    Member,
    build_group,
    cert_request_container,
    cert_request_desktop,
    cert_request_platform,
    identity_key,
    uses_ca,
)
from pico_tls.spec import (
    API_VERSION,
    KeystoreMode,
    PlatformSpec,
    SpecError,
    parse_container,
    parse_desktop,
    parse_platform,
)

CA_DAYS = 3650


def load_documents(paths: Iterable[str]) -> Iterator[dict[str, Any]]:
    for raw in paths:
        path = Path(raw)
        files = sorted(path.rglob("*.y*ml")) if path.is_dir() else [path]
        for file in files:
            for doc in yaml.safe_load_all(file.read_text()):
                if isinstance(doc, dict) and doc.get("apiVersion") == API_VERSION:
                    doc.setdefault("metadata", {}).setdefault("namespace", "default")
                    yield doc


def render_objects(docs: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """All objects for the platforms in `docs`, in a stable order."""
    from datetime import timedelta

    by_kind: dict[str, list[Mapping[str, Any]]] = {}
    for doc in docs:
        by_kind.setdefault(str(doc["kind"]), []).append(doc)
    out: list[dict[str, Any]] = []
    for body in by_kind.get("Platform", []):
        platform = Member(body, parse_platform(body))
        p: PlatformSpec = platform.spec
        members = [Member(b, parse_container(b)) for b in by_kind.get("ExecutionContainer", [])]
        containers = [
            Member(m.body, parse_container(m.body, p))  # checked against its delivery form
            for m in members
            if (m.spec.platform, m.spec.namespace) == (p.name, p.namespace)
        ]
        members = [Member(b, parse_desktop(b)) for b in by_kind.get("DesktopClient", [])]
        desktops = [
            m for m in members if (m.spec.platform, m.spec.namespace) == (p.name, p.namespace)
        ]
        ca: CertificateAuthority | None = None
        if p.tls.enabled and uses_ca(p) and not p.tls.ca_secret_name:
            ca = create_ca(
                names.ca_common_name(p),
                generate_key(p.tls.key_algorithm),
                duration=timedelta(days=CA_DAYS),
            )
            meta = names.metadata(
                names.ca_secret(p.name), p.namespace, names.labels(p.name, "platform", p.name), body
            )
            out.append(secret_manifests.ca_secret(meta, ca))
        elif p.tls.ca_secret_name:
            raise SpecError("render cannot read the CA Secret named by spec.tls.trust.caSecretRef")
        identities: dict[str, Identity] = {}
        if p.tls.enabled:
            identities[identity_key("platform", p.name)] = resolve_identity(
                cert_request_platform(p), ca, Existing()
            )[0]
            if p.tls.keystore_mode is KeystoreMode.PER_CONTAINER:
                for c in containers:
                    identities[identity_key("container", c.spec.name)] = resolve_identity(
                        cert_request_container(c.spec, p), ca, Existing()
                    )[0]
            for d in desktops:
                identities[identity_key("desktop", d.spec.name)] = resolve_identity(
                    cert_request_desktop(d.spec), None, Existing()
                )[0]
        plan = build_group(
            platform,
            containers,
            desktops,
            ca=ca,
            identities=identities,
            require_client_auth=p.tls.enabled and p.tls.require_client_auth,
        )
        out += plan.state_secrets + [s.encode() for s in plan.stores]
        out += plan.configmaps + plan.workloads
    return out


def redact(obj: dict[str, Any]) -> dict[str, Any]:
    if obj.get("kind") != "Secret":
        return obj
    data = {k: f"<redacted: {len(v) * 3 // 4} bytes>" for k, v in obj.get("data", {}).items()}
    return {**obj, "data": data}


class _BlockDumper(yaml.SafeDumper):
    """Writes multi-line strings (properties files) as readable literal blocks."""


def _str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_BlockDumper.add_representer(str, _str)


def add_parser(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "render", help="print the objects the operator would create, as one YAML stream"
    )
    parser.add_argument(
        "-f",
        "--filename",
        action="append",
        required=True,
        help="a YAML file or a folder of them (repeatable)",
    )
    parser.add_argument(
        "--include-secrets",
        action="store_true",
        help="print Secret data (private keys, passwords) instead of redacting it",
    )
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    try:
        objects = render_objects(load_documents(args.filename))
    except (SpecError, OSError, yaml.YAMLError) as err:
        print(f"pico-tls render: {err}", file=sys.stderr)
        return 2
    if not args.include_secrets:
        objects = [redact(o) for o in objects]
    yaml.dump_all(objects, sys.stdout, Dumper=_BlockDumper, sort_keys=False)
    return 0
