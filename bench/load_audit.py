"""The apiserver's own count of the operator's requests (bench_load.py): an audit policy that
logs the operator's ServiceAccount alone at the Metadata level (no bodies: never Secret data),
and a reader that counts the log's entries by verb, resource and response code."""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

OPERATOR_USER = "system:serviceaccount:pico-tls-system:pico-tls-operator"


def audit_flags(work: Path) -> list[str]:
    """kube-apiserver flags for an audit log of the operator's requests in `work`."""
    policy = {
        "apiVersion": "audit.k8s.io/v1",
        "kind": "Policy",
        "omitStages": ["RequestReceived"],
        "rules": [{"level": "Metadata", "users": [OPERATOR_USER]}, {"level": "None"}],
    }
    policy_file = work / "audit-policy.yaml"
    policy_file.write_text(yaml.safe_dump(policy))
    return [
        f"--audit-policy-file={policy_file}",
        f"--audit-log-path={audit_log(work)}",
        "--audit-log-format=json",
        "--audit-log-mode=blocking",
    ]


def audit_log(work: Path) -> Path:
    return work / "audit.log"


@dataclass
class RequestCount:
    """The operator's requests as the apiserver saw them; a watch counts once, when it starts."""

    by_verb: Counter[str] = field(default_factory=Counter)
    by_resource: Counter[str] = field(default_factory=Counter)
    by_code: Counter[int] = field(default_factory=Counter)

    @property
    def total(self) -> int:
        return sum(self.by_verb.values())

    def without(self, resource: str) -> int:
        return self.total - self.by_resource[resource]

    def as_dict(self) -> dict[str, Any]:
        return {
            "total": self.total,
            "by_verb": dict(self.by_verb.most_common()),
            "by_resource": dict(self.by_resource.most_common()),
            "by_code": {str(k): v for k, v in sorted(self.by_code.items())},
        }


def size(work: Path) -> int:
    try:
        return audit_log(work).stat().st_size
    except OSError:
        return 0


def count(work: Path, since: int) -> RequestCount:
    """The operator's requests logged after byte offset `since`."""
    out = RequestCount()
    with open(audit_log(work), "rb") as log:
        log.seek(since)
        for line in log:
            try:
                entry = json.loads(line)
            except ValueError:
                continue  # a line being written
            if (entry.get("user") or {}).get("username") != OPERATOR_USER:
                continue
            verb = str(entry.get("verb"))
            wanted = "ResponseStarted" if verb == "watch" else "ResponseComplete"
            if entry.get("stage") != wanted:
                continue
            ref = entry.get("objectRef") or {}
            resource = str(ref.get("resource", ""))
            if ref.get("subresource"):
                resource += "/" + str(ref["subresource"])
            out.by_verb[verb] += 1
            out.by_resource[resource] += 1
            out.by_code[int((entry.get("responseStatus") or {}).get("code", 0))] += 1
    return out
