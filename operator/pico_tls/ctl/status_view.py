"""`pico-tls status`, pure: custom resources in, one status per Platform group out, as a
table or as data for `-o json|yaml`."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pico_tls.ctl.table import format_table, parse_time, shorten

PROBLEM_WIDTH = 72


@dataclass(frozen=True)
class Row:
    kind: str
    name: str
    ready: str  # True, False, Unknown, or Pending (status not yet of this generation)
    not_after: str | None
    days_left: int | None
    problem: str | None  # "Reason: message" of the latest failing condition


@dataclass(frozen=True)
class Group:
    namespace: str
    platform: str
    row: Row | None  # None: the Platform its members name does not exist
    client_auth: str | None
    trust_mode: str | None
    ca_rotation: str | None
    trusted_desktops: tuple[str, ...]
    excluded: tuple[Mapping[str, Any], ...]
    members: tuple[Row, ...]

    def rows(self) -> tuple[Row, ...]:
        return ((self.row,) if self.row else ()) + self.members

    @property
    def ready(self) -> bool:
        return self.row is not None and all(r.ready == "True" for r in self.rows())


def _status(body: Mapping[str, Any]) -> Mapping[str, Any]:
    return body.get("status") or {}


def problem(body: Mapping[str, Any]) -> str | None:
    """The latest condition that says something is wrong (False; Progressing is no fault)."""
    failing = [
        c
        for c in _status(body).get("conditions") or []
        if c.get("status") != "True" and c.get("type") != "Progressing"
    ]
    if not failing:
        return None
    latest = max(
        failing, key=lambda c: (str(c.get("lastTransitionTime", "")), c["type"] == "Ready")
    )
    return f"{latest.get('reason', latest['type'])}: {latest.get('message', '')}".rstrip(": ")


def row(body: Mapping[str, Any], now: datetime) -> Row:
    status, meta = _status(body), body["metadata"]
    ready = next(
        (str(c.get("status")) for c in status.get("conditions") or [] if c.get("type") == "Ready"),
        "Unknown",
    )
    if status.get("observedGeneration") != meta.get("generation"):
        ready = "Pending"
    not_after = status.get("notAfter")
    days = (parse_time(not_after) - now).days if not_after else None
    return Row(body["kind"], meta["name"], ready, not_after, days, problem(body))


def _platform_ref(body: Mapping[str, Any]) -> str:
    return str(((body.get("spec") or {}).get("platformRef") or {}).get("name", ""))


def group_of(
    namespace: str,
    name: str,
    platform: Mapping[str, Any] | None,
    members: Sequence[Mapping[str, Any]],
    now: datetime,
) -> Group:
    status = _status(platform) if platform else {}
    excluded = tuple(status.get("excludedMembers") or ())
    left_out = {(e.get("kind"), e.get("name")) for e in excluded}
    desktops = tuple(
        m["metadata"]["name"]
        for m in members
        if m["kind"] == "DesktopClient"
        and _status(m).get("certificateFingerprint")
        and ("DesktopClient", m["metadata"]["name"]) not in left_out
    )
    tls = ((platform or {}).get("spec") or {}).get("tls") or {}
    return Group(
        namespace,
        name,
        row(platform, now) if platform else None,
        (status.get("clientAuth") or {}).get("phase"),
        ((tls.get("trust") or {}).get("mode") or "CertificateAuthority") if platform else None,
        (status.get("caRotation") or {}).get("phase"),
        desktops,
        excluded,
        tuple(
            row(m, now) for m in sorted(members, key=lambda m: (m["kind"], m["metadata"]["name"]))
        ),
    )


def groups(
    platforms: Iterable[Mapping[str, Any]],
    members: Iterable[Mapping[str, Any]],
    now: datetime,
) -> list[Group]:
    """One group per Platform, and one per missing Platform that members name."""
    by_key: dict[tuple[str, str], Mapping[str, Any] | None] = {
        (p["metadata"]["namespace"], p["metadata"]["name"]): p for p in platforms
    }
    grouped: dict[tuple[str, str], list[Mapping[str, Any]]] = {}
    for m in members:
        key = (m["metadata"]["namespace"], _platform_ref(m))
        grouped.setdefault(key, []).append(m)
        by_key.setdefault(key, None)
    return [
        group_of(ns, name, by_key[(ns, name)], grouped.get((ns, name), []), now)
        for ns, name in sorted(by_key)
    ]


HEADER = (
    "NAMESPACE", "NAME", "READY", "CLIENT-AUTH", "TRUST", "CA-ROTATION",
    "NOT-AFTER", "DAYS", "DESKTOPS", "EXCLUDED", "PROBLEM",
)  # fmt: skip


def _cells(namespace: str, r: Row, member: bool) -> list[str]:
    name = ("  " if member else "") + f"{r.kind.lower()}/{r.name}"
    days = "-" if r.days_left is None else str(r.days_left)
    return [namespace, name, r.ready, "", "", "", (r.not_after or "-")[:10], days, "", "",
            shorten(r.problem or "-", PROBLEM_WIDTH)]  # fmt: skip


def table(found: Sequence[Group]) -> str:
    lines: list[list[str]] = []
    notes: list[str] = []
    for g in found:
        if g.row is None:
            lines.append([g.namespace, f"platform/{g.platform}", "Missing"] + [""] * 7
                         + ["members name a Platform that does not exist"])  # fmt: skip
        else:
            cells = _cells(g.namespace, g.row, member=False)
            cells[3:6] = [g.client_auth or "-", _trust(g.trust_mode), g.ca_rotation or "-"]
            cells[8:10] = [",".join(g.trusted_desktops) or "-", str(len(g.excluded))]
            lines.append(cells)
        lines += [_cells(g.namespace, m, member=True) for m in g.members]
        notes += [
            f"{g.namespace}/{g.platform} leaves out {str(e.get('kind', '')).lower()}/"
            f"{e.get('name')}: {e.get('reason')}: {e.get('message', '')}"
            for e in g.excluded
        ]
    if not found:
        return "No Platforms, ExecutionContainers or DesktopClients found."
    return "\n".join([format_table([list(HEADER), *lines]), *notes])


def _trust(mode: str | None) -> str:
    return {"CertificateAuthority": "CA", None: "-"}.get(mode, mode or "-")


def _row_data(r: Row) -> dict[str, Any]:
    return {"kind": r.kind, "name": r.name, "ready": r.ready, "notAfter": r.not_after,
            "daysLeft": r.days_left, "problem": r.problem}  # fmt: skip


def as_data(found: Sequence[Group]) -> list[dict[str, Any]]:
    """For scripts: every field of the table, messages in full."""
    return [
        {
            "namespace": g.namespace,
            "platform": g.platform,
            "found": g.row is not None,
            "ready": g.ready,
            **({"status": _row_data(g.row)} if g.row else {}),
            "clientAuthPhase": g.client_auth,
            "trustMode": g.trust_mode,
            "caRotationPhase": g.ca_rotation,
            "trustedDesktops": list(g.trusted_desktops),
            "excludedMembers": [dict(e) for e in g.excluded],
            "members": [_row_data(m) for m in g.members],
        }
        for g in found
    ]
