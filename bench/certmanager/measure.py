"""Measuring two controllers the same way (bench_certmanager.py): API requests from the
apiserver's audit log by user, CPU and resident memory of a process tree from /proc, Secrets
polled by name (their keystores are checked by validation.py)."""

from __future__ import annotations

import base64
import json
import os
import threading
import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml

METADATA_LIST = "application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1"
# Leader election's Lease renewals (the operator's every 2 s; cert-manager runs without leader
# election) are a fixed cost per second, not per certificate: left out of every count.
NOT_COUNTED = {"leases"}


# ---------------------------------------------------------------------------------- audit log


def audit_flags(work: Path, users: Sequence[str]) -> tuple[list[str], Path]:
    """kube-apiserver flags for an audit log of `users`' requests (metadata only, one line per
    finished request); returns the flags and the log's path."""
    policy = {
        "apiVersion": "audit.k8s.io/v1",
        "kind": "Policy",
        "omitStages": ["RequestReceived", "ResponseStarted"],
        "rules": [{"level": "Metadata", "users": list(users)}, {"level": "None"}],
    }
    policy_file = work / "audit-policy.yaml"
    policy_file.write_text(yaml.safe_dump(policy))
    log = work / "audit.log"
    flags = [
        f"--audit-policy-file={policy_file}",
        f"--audit-log-path={log}",
        "--audit-log-format=json",
        "--audit-log-maxsize=0",
    ]
    return flags, log


@dataclass(frozen=True)
class Request:
    user: str
    verb: str
    resource: str
    code: int
    received: datetime


class AuditLog:
    """The requests of the audit log, read incrementally."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.requests: list[Request] = []
        self._offset = 0

    def read(self) -> list[Request]:
        try:
            with open(self.path, "rb") as f:
                f.seek(self._offset)
                data = f.read()
        except OSError:
            return self.requests
        end = data.rfind(b"\n") + 1
        self._offset += end
        for line in data[:end].splitlines():
            event = json.loads(line)
            ref = event.get("objectRef") or {}
            if ref.get("resource") in NOT_COUNTED:
                continue
            resource = "/".join(p for p in (ref.get("resource"), ref.get("subresource")) if p)
            self.requests.append(
                Request(
                    user=event["user"]["username"],
                    verb=event["verb"],
                    resource=resource or event.get("requestURI", ""),
                    code=int((event.get("responseStatus") or {}).get("code", 0)),
                    received=datetime.fromisoformat(event["requestReceivedTimestamp"]),
                )
            )
        return self.requests

    def of(self, user: str, since: datetime, until: datetime | None = None) -> list[Request]:
        return [
            r
            for r in self.read()
            if r.user == user and r.received >= since and (until is None or r.received <= until)
        ]

    def wait_quiet(self, user: str, quiet: float, limit: float) -> None:
        """Returns once `user` has made no request for `quiet` seconds (or after `limit`)."""
        deadline = time.monotonic() + limit
        while time.monotonic() < deadline:
            now = datetime.now(UTC)
            recent = [r for r in self.read()[-2000:] if r.user == user]
            if not recent or (now - recent[-1].received).total_seconds() >= quiet:
                return
            time.sleep(0.5)


def summary(requests: Sequence[Request]) -> dict[str, Any]:
    by_verb = Counter(r.verb for r in requests)
    by_call = Counter(f"{r.verb} {r.resource}" for r in requests)
    return {
        "total": len(requests),
        "by_verb": dict(by_verb.most_common()),
        "by_call": dict(by_call.most_common()),
        "throttled_429": sum(r.code == 429 for r in requests),
        "errors": sum(r.code >= 400 and r.code != 429 for r in requests),
        "conflicts_409": sum(r.code == 409 for r in requests),
    }


# ------------------------------------------------------------------------------ process tree


def _stat_fields(pid: int) -> list[str]:
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()


def tree_pids(root: int) -> list[int]:
    """`root` and every process below it."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                children.setdefault(int(_stat_fields(int(entry))[1]), []).append(int(entry))
            except (OSError, IndexError):
                continue
    out, todo = [], [root]
    while todo:
        pid = todo.pop()
        out.append(pid)
        todo.extend(children.get(pid, []))
    return out


def tree_cpu_seconds(root: int) -> float:
    """User + system CPU of the tree, with the children it has already reaped."""
    total = 0
    for pid in tree_pids(root):
        try:
            f = _stat_fields(pid)
        except OSError:
            continue
        total += int(f[11]) + int(f[12]) + int(f[13]) + int(f[14])
    return total / os.sysconf("SC_CLK_TCK")


def tree_rss_bytes(root: int) -> int:
    total = 0
    for pid in tree_pids(root):
        try:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1]) * 1024
        except OSError:
            continue
    return total


class PeakRss:
    """Samples a process tree's resident memory in a thread; `peak` since the last reset()."""

    def __init__(self, pid: int, interval: float = 0.2) -> None:
        self.pid = pid
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, args=(interval,), daemon=True)
        self._thread.start()

    def _loop(self, interval: float) -> None:
        while not self._stop.wait(interval):
            self.peak = max(self.peak, tree_rss_bytes(self.pid))

    def reset(self) -> None:
        self.peak = tree_rss_bytes(self.pid)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(2)


# ---------------------------------------------------------------------------------- Secrets


def _list(api_client: Any, path: str, accept: str = "application/json") -> Any:
    """GET of a list with the kubernetes client (its requests carry the kubeconfig's auth)."""
    url = api_client.configuration.host + path
    response = api_client.call_api("GET", url, header_params={"Accept": accept})
    return json.loads(response.read())


def secret_names(api_client: Any, namespace: str) -> set[str]:
    """The names of a namespace's Secrets (a metadata-only list: no data crosses the wire)."""
    found = _list(api_client, f"/api/v1/namespaces/{namespace}/secrets", METADATA_LIST)
    return {item["metadata"]["name"] for item in found.get("items") or []}


def secrets_data(api_client: Any, namespace: str) -> dict[str, dict[str, bytes]]:
    return {
        item["metadata"]["name"]: {
            k: base64.b64decode(v) for k, v in (item.get("data") or {}).items()
        }
        for item in _list(api_client, f"/api/v1/namespaces/{namespace}/secrets").get("items") or []
    }


def wait_for_secrets(
    api_client: Any,
    namespace: str,
    complete: Mapping[str, Callable[[Mapping[str, bytes]], bool]],
    started: float,
    timeout: float,
) -> tuple[float | None, dict[str, dict[str, bytes]]]:
    """Polls every 0.25 s until every named Secret exists and its data passes its check;
    returns the seconds since `started` of the read that saw them all, and that read."""
    while time.monotonic() - started < timeout:
        if set(complete) <= secret_names(api_client, namespace):
            read_at = time.monotonic()
            data = secrets_data(api_client, namespace)
            if all(check(data.get(name, {})) for name, check in complete.items()):
                return read_at - started, data
        time.sleep(0.25)
    return None, {}
