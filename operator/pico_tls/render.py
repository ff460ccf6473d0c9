"""`pico-tls render`: every object the operator would create for some custom resources.

The operator's own `decide`, on a snapshot that holds only the given custom resources (no
cluster): keys and certificates are generated fresh. Secret values are redacted unless asked
for. StatefulSets and Deployments in the files offered to a Platform (picotls.dev/attach) stand
for the users' workloads, so the additions to them are printed too (the attach apply).
"""

from __future__ import annotations

import argparse
import base64
import secrets
import sys
from collections.abc import Iterable, Iterator, Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

import yaml

from pico_tls.builders import names
from pico_tls.clock import system_clock
from pico_tls.reconcile.decide import decide
from pico_tls.reconcile.snapshot import Snapshot, attached_workloads, referenced_secrets
from pico_tls.spec import SpecError
from pico_tls.spec_fields import ATTACH_KINDS
from pico_tls.spec_model import API_VERSION


def load_documents(paths: Iterable[str]) -> Iterator[dict[str, Any]]:
    for raw in paths:
        path = Path(raw)
        files = sorted(path.rglob("*.y*ml")) if path.is_dir() else [path]
        for file in files:
            for doc in yaml.safe_load_all(file.read_text()):
                if isinstance(doc, dict) and _wanted(doc):
                    doc.setdefault("metadata", {}).setdefault("namespace", "default")
                    yield doc


def _wanted(doc: Mapping[str, Any]) -> bool:
    """Our custom resources, and the workloads they may attach to (spec.workloadRef)."""
    return doc.get("apiVersion") == API_VERSION or (
        doc.get("apiVersion") == "apps/v1" and doc.get("kind") in ATTACH_KINDS
    )


def _attachable(
    namespace: str, platform: str, by_kind: Mapping[str, list[Mapping[str, Any]]]
) -> dict[tuple[str, str], Mapping[str, Any]]:
    """The workloads of the files offered to `platform` (label picotls.dev/attach)."""
    return {
        (kind, str(w["metadata"]["name"])): w
        for kind in ATTACH_KINDS
        for w in by_kind.get(kind, [])
        if w["metadata"]["namespace"] == namespace
        and (w["metadata"].get("labels") or {}).get(names.ATTACH_LABEL) == platform
    }


def _snapshot(
    platform: Mapping[str, Any], by_kind: Mapping[str, list[Mapping[str, Any]]]
) -> Snapshot:
    """The group of `platform` as a first pass would see it: no objects written yet."""
    meta = platform["metadata"]
    namespace, name = meta["namespace"], meta["name"]

    def members(kind: str) -> tuple[Mapping[str, Any], ...]:
        return tuple(
            b
            for b in by_kind.get(kind, [])
            if b["metadata"]["namespace"] == namespace
            and ((b.get("spec") or {}).get("platformRef") or {}).get("name") == name
        )

    platforms = tuple(
        b for b in by_kind.get("Platform", []) if b["metadata"]["namespace"] == namespace
    )
    desktops, containers = members("DesktopClient"), members("ExecutionContainer")
    attachable = _attachable(namespace, name, by_kind)
    return Snapshot(
        namespace,
        name,
        platforms,
        containers,
        desktops,
        user_secrets={
            ref: _placeholder_password_secret(ref, namespace)
            for ref in referenced_secrets(platform, desktops)
        },
        workloads=attached_workloads((platform, *containers), attachable),
        attachable=attachable,
    )


def _placeholder_password_secret(name: str, namespace: str) -> dict[str, Any]:
    """render has no cluster: a password Secret the specs name is stood in for by one with
    fresh random passwords (the rendered Secrets are redacted anyway)."""

    def fresh() -> str:
        return base64.b64encode(secrets.token_urlsafe(24).encode()).decode()

    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": name, "namespace": namespace},
        "data": {"keystore.password": fresh(), "key.password": fresh()},
    }


def render_objects(
    docs: Iterable[Mapping[str, Any]], now: datetime | None = None
) -> list[dict[str, Any]]:
    """All objects for the platforms in `docs`, in the order the operator writes them.
    SpecError: a spec the operator would reject, or a Secret that render cannot read."""
    now = now or system_clock()
    by_kind: dict[str, list[Mapping[str, Any]]] = {}
    for doc in docs:
        by_kind.setdefault(str(doc["kind"]), []).append(doc)
    out: list[dict[str, Any]] = []
    for body in by_kind.get("Platform", []):
        trust = ((body.get("spec") or {}).get("tls") or {}).get("trust") or {}
        if trust.get("caSecretRef"):
            raise SpecError("render cannot read the CA Secret named by spec.tls.trust.caSecretRef")
        decision = decide(_snapshot(body, by_kind), now)
        problems = [e.message for e in decision.events if e.type == "Warning"]
        if problems:
            raise SpecError("; ".join(problems))
        out += [w.manifest for w in decision.writes]
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
