"""`pico-tls bundle -o FILE.tar.gz`: a support bundle of the custom resources (spec and
status), their Events, the operator's logs and the metadata of the objects it wrote. Never a
Secret's data: Secrets are read as metadata only."""

from __future__ import annotations

import argparse
import io
import json
import tarfile
import time
from pathlib import Path
from typing import Any

from pico_tls.clock import system_clock
from pico_tls.ctl import bundle_view, status_view
from pico_tls.ctl.api import PICO_KINDS, WRITTEN_KINDS
from pico_tls.ctl.common import Context, add_command
from pico_tls.ctl.errors import explain
from pico_tls.kube import KubeError

EXAMPLES = """\
  pico-tls bundle -o support.tar.gz -n prod
  pico-tls bundle -o support.tar.gz -A
  pico-tls bundle -o support.tar.gz --operator-log /var/log/pico-tls.log  # operator run elsewhere
"""
OPERATOR_LABEL = "app.kubernetes.io/name=pico-tls-operator"


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = add_command(
        subparsers,
        "bundle",
        "Write a support bundle: custom resources with status, Events, operator logs, "
        "metadata of the objects the operator wrote. No Secret data.",
        EXAMPLES,
        run,
    )
    parser.add_argument("-o", "--output", type=Path, required=True, help="FILE.tar.gz")
    parser.add_argument("--operator-namespace", default="pico-tls-system")
    parser.add_argument("--operator-log", type=Path, help="a log file of an operator run elsewhere")


class Bundle:
    def __init__(self) -> None:
        self.files: dict[str, str] = {}
        self.gaps: list[str] = []  # what could not be read, and why

    def add(self, name: str, text: str) -> None:
        self.files[name] = text

    def write(self, path: Path) -> None:
        with tarfile.open(path, "w:gz") as tar:
            for name, text in sorted(self.files.items()):
                data = text.encode()
                info = tarfile.TarInfo(f"pico-tls-bundle/{name}")
                info.size, info.mtime, info.mode = len(data), int(time.time()), 0o644
                tar.addfile(info, io.BytesIO(data))


def run(args: argparse.Namespace, ctx: Context) -> int:
    bundle = Bundle()
    resources = [b for k in PICO_KINDS for b in ctx.api.objects(k, ctx.namespace)]
    for body in resources:
        meta = body["metadata"]
        bundle.add(f"resources/{meta['namespace']}/{body['kind']}/{meta['name']}.yaml",
                   bundle_view.dump([bundle_view.custom_resource(body)]))  # fmt: skip
    platforms = [b for b in resources if b["kind"] == "Platform"]
    members = [b for b in resources if b["kind"] != "Platform"]
    found = status_view.groups(platforms, members, system_clock())
    bundle.add("status.txt", status_view.table(found) + "\n")
    bundle.add("status.json", json.dumps(status_view.as_data(found), indent=2))
    _try(bundle, "events", lambda: _events(args, ctx, bundle))
    for kind in WRITTEN_KINDS:
        _try(bundle, f"{kind} metadata", lambda kind=kind: _written(ctx, bundle, kind))
    _try(bundle, "operator logs", lambda: _logs(args, ctx, bundle))
    if args.operator_log:
        bundle.add("logs/operator-local.log", args.operator_log.read_text(errors="replace"))
    bundle.add("bundle.json", json.dumps(_about(ctx, bundle), indent=2))
    bundle.write(args.output)
    print(f"wrote {args.output}: {len(bundle.files)} files" + "".join(
        f"\n  not included: {gap}" for gap in bundle.gaps))  # fmt: skip
    return 0


def _try(bundle: Bundle, what: str, step: Any) -> None:
    """A part the user may not read (RBAC) is left out with the reason, not fatal."""
    try:
        step()
    except KubeError as err:
        bundle.gaps.append(f"{what}: {explain(err)}")


def _events(args: argparse.Namespace, ctx: Context, bundle: Bundle) -> None:
    events = [
        e for e in ctx.api.objects("Event", ctx.namespace) if bundle_view.ours(e, set(PICO_KINDS))
    ]
    events.sort(key=lambda e: str(e.get("lastTimestamp") or e.get("eventTime") or ""))
    bundle.add("events.yaml", bundle_view.dump(bundle_view.event_line(e) for e in events))


def _written(ctx: Context, bundle: Bundle, kind: str) -> None:
    found = bundle_view.written(ctx.api.list_metadata(kind, ctx.namespace), kind)
    bundle.add(f"written/{kind}.yaml", bundle_view.dump(found))


def _logs(args: argparse.Namespace, ctx: Context, bundle: Bundle) -> None:
    pods = ctx.api.objects("Pod", args.operator_namespace, selector=OPERATOR_LABEL)
    if not pods and not args.operator_log:
        bundle.gaps.append(f"operator logs: no operator pod in {args.operator_namespace}")
    for pod in pods:
        name = pod["metadata"]["name"]
        bundle.add(f"logs/{name}.log", ctx.api.pod_log(args.operator_namespace, name))


def _about(ctx: Context, bundle: Bundle) -> dict[str, Any]:
    session = ctx.api.session
    return {
        "createdAt": system_clock().strftime("%Y-%m-%dT%H:%M:%SZ"),
        "context": session.context,
        "server": session.server,
        "namespace": ctx.namespace or "(all)",
        "files": sorted(bundle.files),
        "notIncluded": bundle.gaps,
    }
