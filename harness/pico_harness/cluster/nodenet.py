"""Host network of the real node: one bridge, the sysctls it needs, the iptables rules that keep
pod traffic on the machine, and the clean-up that removes all of it (also what kubelet and
kube-proxy add) when the node stops. Needs root; Linux only.

Addresses (none collides with the machine's own: check with ``ip -4 addr``/``ip route``):
pods 10.244.0.0/24 on bridge ``picotls0`` (gateway 10.244.0.1, also the node's and apiserver's
address), kwok's fake pods 10.244.128.0/17, Services 10.96.0.0/16, cluster DNS 10.96.0.10.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import re
import subprocess
import sys
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

BRIDGE = "picotls0"
POD_NETWORK = "10.244.0.0/16"  # every pod address of the cluster (kube-proxy's clusterCIDR)
NODE_POD_CIDR = "10.244.0.0/24"  # the real node's pods
NODE_IP = "10.244.0.1"  # the bridge: gateway, node InternalIP, apiserver, CoreDNS
KWOK_POD_CIDR = "10.244.128.1/17"  # kwok's fake pod IPs (never routed)
SERVICE_NETWORK = "10.96.0.0/16"
CLUSTER_DNS_IP = "10.96.0.10"
FORWARD_CHAIN = "PICOTLS-NODE-FORWARD"
OUTPUT_CHAIN = "PICOTLS-NODE-OUTPUT"
INPUT_CHAIN = "PICOTLS-NODE-INPUT"
# chains the node's components create; only these (and rules naming them) are removed on stop
OWNED_CHAIN = re.compile(r"^(KUBE-|PICOTLS-)")
LOCK_FILE = "/run/pico-tls-real-node.lock"
# kubelet sets these kernel tunables when it starts (protectKernelDefaults is off): restored on stop
KUBELET_SYSCTLS = ("vm/overcommit_memory", "kernel/panic", "kernel/panic_on_oops")
SYSCTLS = ("net/ipv4/ip_forward", "net/bridge/bridge-nf-call-iptables")


def run(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(list(args), capture_output=True, text=True, check=check)


# --------------------------------------------------------------------------------------------
# iptables: a snapshot of rules, and the removal of what was added since


def iptables_rules(family: str = "iptables") -> dict[str, list[str]]:
    """Rules (`-A ...` and `:CHAIN` lines, no counters) per table, from `<family>-save`."""
    out = run(f"{family}-save", check=False).stdout
    tables: dict[str, list[str]] = {}
    table = ""
    for line in out.splitlines():
        if line.startswith("*"):
            table = line[1:]
            tables.setdefault(table, [])
        elif line.startswith("-A "):
            tables[table].append(line)
        elif line.startswith(":"):
            tables[table].append(line.split()[0])  # ":CHAIN" without policy and counters
    return tables


def rules_text(family: str = "iptables") -> set[str]:
    """Flat set of `table rule` lines (builtin chains without rules are ignored)."""
    out: set[str] = set()
    builtin = {"INPUT", "OUTPUT", "FORWARD", "PREROUTING", "POSTROUTING"}
    for table, lines in iptables_rules(family).items():
        for line in lines:
            if line.startswith(":") and line[1:] in builtin:
                continue
            out.add(f"{table} {line}")
    return out


def _owned(line: str) -> bool:
    """A rule or chain line that belongs to the node (its chain or its jump target)."""
    if line.startswith(":"):
        return bool(OWNED_CHAIN.match(line[1:]))
    parts = line.split()
    chain = parts[1]
    target = parts[parts.index("-j") + 1] if "-j" in parts else ""
    return bool(OWNED_CHAIN.match(chain) or OWNED_CHAIN.match(target))


def remove_added_rules(before: dict[str, dict[str, list[str]]]) -> None:
    """Removes the node's chains and the rules jumping to them that are not in `before`
    (a snapshot per family); rules of others, added meanwhile, are left alone."""
    for family, tables in before.items():
        for table, lines in iptables_rules(family).items():
            old = set(tables.get(table, []))
            added = [line for line in lines if line not in old and _owned(line)]
            chains = [line[1:] for line in added if line.startswith(":")]
            for rule in (line for line in added if line.startswith("-A ")):
                if rule.split()[1] not in chains:  # rules of new chains go with the chain
                    run(family, "-t", table, "-D", *_split_rule(rule)[1:], check=False)
            for chain in chains:
                run(family, "-t", table, "-F", chain, check=False)
            for chain in chains:
                run(family, "-t", table, "-X", chain, check=False)


def _split_rule(rule: str) -> list[str]:
    """`-A CHAIN args...` as arguments (iptables-save quotes comments with double quotes)."""
    import shlex

    return shlex.split(rule)


def snapshot_rules() -> dict[str, dict[str, list[str]]]:
    return {family: iptables_rules(family) for family in ("iptables", "ip6tables")}


def install_drop_rules() -> None:
    """Pod traffic may go to other pods (the bridge) and to the node address only: anything
    forwarded from the pod network elsewhere (e.g. to eth0) is dropped, and so are new
    connections from pods to the machine's other addresses; the node address is not reachable
    from outside; the machine's own traffic towards pod or Service addresses never leaves by
    another interface (no DNAT done means no way out)."""
    for chain in (FORWARD_CHAIN, OUTPUT_CHAIN, INPUT_CHAIN):
        run("iptables", "-N", chain, check=False)
        run("iptables", "-F", chain)
    run("iptables", "-A", FORWARD_CHAIN, "-s", POD_NETWORK, "-o", BRIDGE, "-j", "RETURN")
    run("iptables", "-A", FORWARD_CHAIN, "-s", POD_NETWORK, "-j", "DROP")
    for out_if in ("lo", BRIDGE):
        run("iptables", "-A", OUTPUT_CHAIN, "-o", out_if, "-j", "RETURN")
    for dest in (POD_NETWORK, SERVICE_NETWORK):
        run("iptables", "-A", OUTPUT_CHAIN, "-d", dest, "-j", "DROP")
    inp = ("iptables", "-A", INPUT_CHAIN)
    run(*inp, "-i", "lo", "-j", "RETURN")
    run(*inp, "-m", "conntrack", "--ctstate", "ESTABLISHED,RELATED", "-j", "RETURN")
    run(*inp, "-i", BRIDGE, "-s", POD_NETWORK, "-d", NODE_IP, "-j", "RETURN")
    run(*inp, "-i", BRIDGE, "-j", "DROP")
    run(*inp, "-d", POD_NETWORK, "-j", "DROP")
    ensure_drop_rules_first()


def ensure_drop_rules_first() -> None:
    """Puts the jumps to the drop chains first in FORWARD and OUTPUT (kube-proxy prepends its
    own jumps when it starts)."""
    pairs = (("FORWARD", FORWARD_CHAIN), ("OUTPUT", OUTPUT_CHAIN), ("INPUT", INPUT_CHAIN))
    for builtin, chain in pairs:
        while run("iptables", "-D", builtin, "-j", chain, check=False).returncode == 0:
            pass
        run("iptables", "-I", builtin, "1", "-j", chain)


def drop_counter(chain: str = FORWARD_CHAIN) -> int:
    """Packets dropped so far by the first DROP rule of `chain` (default: the forward rule,
    pod network towards anything but pods)."""
    out = run("iptables", "-L", chain, "-v", "-x", "-n").stdout
    for line in out.splitlines():
        parts = line.split()
        if len(parts) > 2 and parts[2] == "DROP":
            return int(parts[0])
    raise RuntimeError(f"no DROP rule in {FORWARD_CHAIN}:\n{out}")


# --------------------------------------------------------------------------------------------
# bridge and sysctls


@dataclass
class HostNetwork:
    """Bridge + sysctls + drop rules of one real node; `teardown` restores what it changed."""

    saved_sysctls: dict[str, str] = field(default_factory=dict)
    rules_before: dict[str, dict[str, list[str]]] = field(default_factory=dict)
    up: bool = False
    locked: bool = False

    def setup(self) -> None:
        acquire_node_lock()
        self.locked = True
        _wait_for_unlocked_node()
        if Path(f"/sys/class/net/{BRIDGE}").exists():  # left by a node whose process was killed
            print(f"removing a stale {BRIDGE} and its drop rules", file=sys.stderr)
            run("ip", "link", "del", BRIDGE, check=False)
            remove_added_rules({"iptables": {}})
        self.up = True
        self.rules_before = snapshot_rules()
        if not Path("/proc/sys/net/bridge").is_dir():
            raise RuntimeError("no /proc/sys/net/bridge: load the br_netfilter kernel module")
        for key in (*SYSCTLS, *KUBELET_SYSCTLS):
            self.saved_sysctls[key] = (Path("/proc/sys") / key).read_text().strip()
        for key in SYSCTLS:
            (Path("/proc/sys") / key).write_text("1\n")
        run("ip", "link", "add", BRIDGE, "type", "bridge")
        run("ip", "addr", "add", f"{NODE_IP}/24", "dev", BRIDGE)
        run("ip", "link", "set", BRIDGE, "up")
        install_drop_rules()

    def teardown(self, netns: Iterable[str] = ()) -> None:
        """Removes the bridge, the veths on it, the named network namespaces (the node's pod
        sandboxes that did not end cleanly), the node's iptables chains; restores sysctls."""
        if not self.up:
            return
        for name in netns:
            remove_netns(name)
        for link in veths_on_bridge():
            run("ip", "link", "del", link, check=False)
        run("ip", "link", "del", BRIDGE, check=False)
        remove_added_rules(self.rules_before)
        for key, value in self.saved_sysctls.items():
            with contextlib.suppress(OSError):
                (Path("/proc/sys") / key).write_text(value + "\n")
        self.up = False
        if self.locked:
            release_node_lock()
            self.locked = False


def listening_on(address: str) -> list[str]:
    """Listening TCP/UDP sockets on `address` (from `ss`)."""
    out = run("ss", "-Htlnu", check=False).stdout
    return [line for line in out.splitlines() if f" {address}:" in line]


def _wait_for_unlocked_node() -> None:
    """A node started by a version without the lock shows by its sockets on the node address:
    wait for it to stop instead of taking its bridge away."""
    deadline = time.monotonic() + float(os.environ.get("PICO_TLS_REAL_NODE_WAIT", "1800"))
    while Path(f"/sys/class/net/{BRIDGE}").exists() and listening_on(NODE_IP):
        if time.monotonic() > deadline:
            raise RuntimeError(f"a real node is serving on {NODE_IP}; gave up waiting")
        time.sleep(2)


_lock_fd: int | None = None
_lock_depth = 0


def release_node_lock() -> None:
    global _lock_fd, _lock_depth
    _lock_depth -= 1
    if _lock_depth == 0 and _lock_fd is not None:
        os.close(_lock_fd)  # releases the lock
        _lock_fd = None


@contextlib.contextmanager
def node_lock() -> Iterator[None]:
    """Holds the real-node lock (re-entrant within this process), e.g. across several
    start/stop cycles so that no other run's node appears in between."""
    acquire_node_lock()
    try:
        yield
    finally:
        release_node_lock()


def acquire_node_lock() -> None:
    """One real node per machine (one bridge, fixed ranges): an exclusive lock, waited for up to
    PICO_TLS_REAL_NODE_WAIT seconds (default 1800) while another run holds it. The kernel
    drops it when the holder dies, so a held lock always means a live node."""
    global _lock_fd, _lock_depth
    if _lock_depth:
        _lock_depth += 1
        return
    fd = os.open(LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o644)
    deadline = time.monotonic() + float(os.environ.get("PICO_TLS_REAL_NODE_WAIT", "1800"))
    said = False
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            os.ftruncate(fd, 0)
            os.write(fd, f"{os.getpid()}\n".encode())
            _lock_fd, _lock_depth = fd, 1
            return
        except BlockingIOError:
            if time.monotonic() > deadline:
                os.close(fd)
                raise RuntimeError(f"another real node holds {LOCK_FILE}; gave up") from None
            if not said:
                holder = Path(LOCK_FILE).read_text().strip()
                print(f"waiting for the real node of pid {holder} to stop", file=sys.stderr)
                said = True
            time.sleep(0.3)


def netns_names() -> list[str]:
    try:
        return sorted(p.name for p in Path("/run/netns").iterdir())
    except OSError:
        return []


def orphan_pod_netns() -> list[str]:
    """Pod network namespaces of a node that is gone: named by the CNI plugins (`cni-`), no
    process inside, and no address but loopback and the node's pod range. A run killed with its
    shims (the whole process tree) and whose folder was removed leaves exactly these."""
    found = []
    for name in (n for n in netns_names() if n.startswith("cni-")):
        if run("ip", "netns", "pids", name, check=False).stdout.strip():
            continue
        out = run("ip", "netns", "exec", name, "ip", "-4", "-o", "addr", check=False).stdout
        addrs = [line.split()[3] for line in out.splitlines() if len(line.split()) > 3]
        prefix = NODE_POD_CIDR.rsplit(".", 1)[0] + "."
        if all(a.startswith(("127.", prefix)) for a in addrs):
            found.append(name)
    return found


def remove_netns(name: str) -> None:
    path = Path("/run/netns") / name
    run("umount", "-l", str(path), check=False)
    with contextlib.suppress(OSError):
        path.unlink()


def veths_on_bridge() -> list[str]:
    base = Path(f"/sys/class/net/{BRIDGE}/brif")
    try:
        return sorted(p.name for p in base.iterdir())
    except OSError:
        return []


def veth_links() -> list[str]:
    out = run("ip", "-o", "link", "show", "type", "veth", check=False).stdout
    return sorted(line.split(":")[1].strip().split("@")[0] for line in out.splitlines())


def mounts_under(paths: Iterable[Path]) -> list[str]:
    """Mount points (from /proc/self/mountinfo) at or below any of `paths`, deepest first."""
    prefixes = [str(p).rstrip("/") for p in paths]
    found = []
    for line in Path("/proc/self/mountinfo").read_text().splitlines():
        point = line.split()[4].replace("\\040", " ")
        if any(point == p or point.startswith(p + "/") for p in prefixes):
            found.append(point)
    return sorted(found, key=lambda p: p.count("/"), reverse=True)


def unmount_under(paths: Iterable[Path]) -> None:
    for point in mounts_under(paths):
        run("umount", "-l", point, check=False)
