"""What a real node leaves on the machine while it runs (processes, mounts, netns, veths,
iptables rules, sysctls), and what is left of it after it stopped. Used by
tests/e2e/test_real_node.py (start/stop cycles) and tests/e2e/test_demo_live.py (scripts/demo
ended by Ctrl-C or SIGTERM)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from pico_harness.cluster import nodenet

NODE_MARKERS = ("KUBE-", "PICOTLS-", "10.244.", "10.96.", nodenet.BRIDGE)
SYSCTL_KEYS = (*nodenet.SYSCTLS, *nodenet.KUBELET_SYSCTLS)


def node_rules() -> set[str]:
    """The iptables and ip6tables rules a node adds (kube-proxy's, the drop rules)."""
    rules = nodenet.rules_text("iptables") | {f"v6 {r}" for r in nodenet.rules_text("ip6tables")}
    return {r for r in rules if any(m in r for m in NODE_MARKERS)}


def sysctls() -> dict[str, str]:
    return {k: (Path("/proc/sys") / k).read_text() for k in SYSCTL_KEYS}


def processes_using(work: Path) -> list[str]:
    """Processes whose command line, working folder or root is in the work folder."""
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode()
            places = [cmdline, os.readlink(proc / "cwd"), os.readlink(proc / "root")]
        except OSError:
            continue
        if any(str(work) in p for p in places):
            found.append(f"{proc.name}: {cmdline[:120]}")
    return found


@dataclass(frozen=True)
class Baseline:
    """The machine before a node starts (taken while holding the node lock)."""

    rules: set[str]
    sysctls: dict[str, str]

    @classmethod
    def now(cls) -> Baseline:
        return cls(node_rules(), sysctls())


@dataclass(frozen=True)
class Traces:
    """What a running node of the work folder `work` has made."""

    work: Path
    netns: list[str]
    veths: list[str]
    mounts: list[str]
    processes: list[str]

    @classmethod
    def of(cls, work: Path) -> Traces:
        return cls(
            work,
            [n for n in nodenet.netns_names() if n.startswith("cni-")],
            nodenet.veths_on_bridge(),
            nodenet.mounts_under([work]),
            processes_using(work),
        )

    def left_after_stop(self, before: Baseline) -> dict[str, object]:
        """Everything of this node still on the machine (empty when it stopped cleanly); to
        be called while holding the node lock, so that no other node is up."""
        left: dict[str, object] = {
            "processes": processes_using(self.work),
            "mounts": nodenet.mounts_under([self.work]),
            "netns": sorted(set(self.netns) & set(nodenet.netns_names())),
            "bridge": Path(f"/sys/class/net/{nodenet.BRIDGE}").exists(),
            "veths": sorted(set(self.veths) & set(nodenet.veth_links())),
            "rules": sorted(node_rules() ^ before.rules),
            "listening": nodenet.listening_on(nodenet.NODE_IP),
            "cgroups": [str(p) for p in Path("/sys/fs/cgroup/memory").glob("kubepods*")],
            "sysctls": {k: v for k, v in sysctls().items() if before.sysctls.get(k) != v},
        }
        return {k: v for k, v in left.items() if v}
