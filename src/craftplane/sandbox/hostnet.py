"""The real node's footprint on the host: its interfaces, routes, iptables chains and mounts.

``ensure`` makes the node's address (a portless interface, never the machine's own) and routes
that keep traffic for cluster-only addresses on this machine (removed with the interface). ``cleanup`` removes
everything the node, its containers, CNI, the kubelet and kube-proxy left behind.
"""

from __future__ import annotations

import contextlib
import shutil
import subprocess
from pathlib import Path

from craftplane.sandbox import procs
from craftplane.sandbox.errors import SandboxError
from craftplane.sandbox.nodeconfig import BRIDGE, DUMMY, NodeLayout

# Chains that the kubelet (KUBE-KUBELET-CANARY, KUBE-FIREWALL …), kube-proxy and the CNI
# plugins (portmap's CNI-HOSTPORT-*, CNI-DN-*) create.
OWN_CHAIN_PREFIXES = ("KUBE-", "CNI-", "CRAFTPLANE-")


def _ip(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(["ip", *args], capture_output=True, text=True, check=False)
    if check and result.returncode != 0:
        raise SandboxError(f"ip {' '.join(args)} failed: {result.stderr.strip()}")
    return result


def _link_exists(name: str) -> bool:
    return _ip("link", "show", name, check=False).returncode == 0


def ensure(layout: NodeLayout, cluster_cidrs: list[str]) -> None:
    if not _link_exists(DUMMY):
        # A bridge without ports: like a dummy interface (an address of its own, and what is
        # routed to it is dropped), on kernels without the dummy module (this one).
        _ip("link", "add", DUMMY, "type", "bridge")
    if f" {layout.node_ip}/32 " not in _ip("-o", "addr", "show", "dev", DUMMY).stdout:
        _ip("addr", "add", f"{layout.node_ip}/32", "dev", DUMMY)
    _ip("link", "set", DUMMY, "up")
    for cidr in dict.fromkeys(cluster_cidrs):
        existing = _ip("route", "show", "exact", cidr).stdout.strip()
        if existing and f"dev {DUMMY}" not in existing:
            raise SandboxError(
                f"this host already routes {cidr} ({existing}); the real node would take that "
                "route over. Set CRAFTPLANE_REAL_NODE=false, or free the range"
            )
        # Without this, a connection to a kwok pod's fake address (through its Service) or to
        # a ClusterIP kube-proxy has not programmed yet would follow the default route off the
        # machine. A route (not a blackhole) is needed: the route is looked up before
        # kube-proxy's DNAT, which then re-routes real pods' traffic to the bridge.
        _ip("route", "replace", cidr, "dev", DUMMY)
    _keep_pods_local(layout)


FORWARD_CHAIN = "CRAFTPLANE-FORWARD"


def _iptables(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["iptables", *args], capture_output=True, text=True, check=False)


def _keep_pods_local(layout: NodeLayout) -> None:
    """The CNI bridge turns on IP forwarding for the whole host (and gives pods a default
    route): nothing a pod sends may be forwarded beyond its own range, and nothing from
    outside into it. The host's previous setting is kept to be restored by ``cleanup``."""
    saved = layout.root / "ip_forward.before"
    if not saved.exists():
        saved.write_text(Path("/proc/sys/net/ipv4/ip_forward").read_text().strip())
    _iptables("-N", FORWARD_CHAIN)
    _iptables("-F", FORWARD_CHAIN)
    pods = layout.pod_cidr
    for rule in (("-s", pods, "!", "-d", pods), ("-d", pods, "!", "-s", pods)):
        _iptables("-A", FORWARD_CHAIN, *rule, "-j", "DROP")
    if _iptables("-C", "FORWARD", "-j", FORWARD_CHAIN).returncode != 0:
        inserted = _iptables("-I", "FORWARD", "1", "-j", FORWARD_CHAIN)
        if inserted.returncode != 0:
            raise SandboxError(f"could not keep pod traffic local: {inserted.stderr.strip()}")


def _restore_forwarding(layout: NodeLayout) -> None:
    while _iptables("-D", "FORWARD", "-j", FORWARD_CHAIN).returncode == 0:
        pass
    _iptables("-F", FORWARD_CHAIN)
    _iptables("-X", FORWARD_CHAIN)
    saved = layout.root / "ip_forward.before"
    if saved.exists():
        Path("/proc/sys/net/ipv4/ip_forward").write_text(saved.read_text().strip() + "\n")
        saved.unlink()


def foreign_runtimes(root: Path) -> list[str]:
    """Container runtimes and Kubernetes node agents on this host that are not the sandbox's.

    The real node's cleanup removes KUBE-* and CNI-* iptables chains and containerd's
    /run/containerd: with another kubelet, kube-proxy or runtime here, those are shared."""
    names = {"dockerd", "containerd", "podman", "crio", "kubelet", "kube-proxy", "k3s"}
    return [
        f"{Path(argv[0]).name} (pid {pid})"
        for pid, argv in procs.command_lines()
        if Path(argv[0]).name in names and not any(str(root) in arg for arg in argv)
    ]


def cleanup(layout: NodeLayout) -> None:
    unmount_under(layout.root)
    _restore_forwarding(layout)
    for link in (BRIDGE, DUMMY):
        if _link_exists(link):
            _ip("link", "del", link, check=False)
    for tool in ("iptables", "ip6tables"):
        remove_chains(tool)
    shutil.rmtree(layout.cni_ipam_dir, ignore_errors=True)
    _remove_fixed_paths(layout)


def mounts() -> list[str]:
    points = []
    for line in Path("/proc/self/mounts").read_text().splitlines():
        fields = line.split()
        if len(fields) > 1:
            points.append(fields[1].replace("\\040", " "))
    return points


def own_mounts(root: Path) -> list[str]:
    return [m for m in mounts() if m.startswith(str(root) + "/")]


def unmount_under(root: Path) -> None:
    # Deepest first: a rootfs mount may sit under a sandbox's state directory.
    for point in sorted(own_mounts(root), key=len, reverse=True):
        subprocess.run(["umount", "-l", point], capture_output=True, check=False)


def own_netns(root: Path) -> list[str]:
    """The pods' network namespaces (containerd mounts them under its state directory)."""
    found = []
    for line in Path("/proc/self/mounts").read_text().splitlines():
        fields = line.split()
        if len(fields) > 2 and fields[2] == "nsfs" and fields[1].startswith(str(root) + "/"):
            found.append(fields[1])
    return sorted(found)


def own_chains(tool: str) -> list[str]:
    """``table/chain`` for every chain of ours that ``tool`` still has."""
    found = []
    for table in ("filter", "nat", "mangle"):
        saved = subprocess.run(
            [f"{tool}-save", "-t", table], capture_output=True, text=True, check=False
        )
        for line in saved.stdout.splitlines():
            if line.startswith(":") and line[1:].startswith(OWN_CHAIN_PREFIXES):
                found.append(f"{table}/{line[1:].split()[0]}")
    return found


def remove_chains(tool: str) -> None:
    """Drop our chains and every rule that jumps to them, leaving all other rules alone."""
    if shutil.which(f"{tool}-save") is None:
        return
    for table in ("filter", "nat", "mangle"):
        saved = subprocess.run(
            [f"{tool}-save", "-t", table], capture_output=True, text=True, check=False
        )
        if saved.returncode != 0 or not any(p in saved.stdout for p in OWN_CHAIN_PREFIXES):
            continue
        kept = [line for line in saved.stdout.splitlines() if not _ours(line)]
        restored = subprocess.run(
            [f"{tool}-restore"],
            input="\n".join(kept) + "\n",
            capture_output=True,
            text=True,
            check=False,
        )
        if restored.returncode != 0:
            raise SandboxError(f"{tool}-restore -t {table} failed: {restored.stderr.strip()}")


def _ours(line: str) -> bool:
    if line.startswith(":"):
        return line[1:].startswith(OWN_CHAIN_PREFIXES)
    if line.startswith("-A "):
        parts = line.split()
        if parts[1].startswith(OWN_CHAIN_PREFIXES):
            return True
        for flag in ("-j", "-g"):
            if flag in parts:
                target = parts[parts.index(flag) + 1]
                if target.startswith(OWN_CHAIN_PREFIXES):
                    return True
    return False


def _remove_fixed_paths(layout: NodeLayout) -> None:
    """The kubelet and containerd write to a few host paths whatever their root is."""
    logs = Path("/var/log/containers")
    if logs.is_dir():
        for link in logs.iterdir():
            with contextlib.suppress(OSError):
                if link.is_symlink() and str(link.readlink()).startswith(str(layout.root)):
                    link.unlink()
        with contextlib.suppress(OSError):
            logs.rmdir()
    shutil.rmtree("/var/lib/kubelet/device-plugins", ignore_errors=True)
    with contextlib.suppress(OSError):
        Path("/var/lib/kubelet").rmdir()
    if not _other_containerd():
        shutil.rmtree("/run/containerd", ignore_errors=True)


def _other_containerd() -> bool:
    """Whether a containerd that is not ours runs on this host (its /run/containerd stays).

    Zombies do not count: a stopped containerd that nobody reaped yet still has its name."""
    result = subprocess.run(
        ["pgrep", "-x", "containerd"], capture_output=True, text=True, check=False
    )
    return any(procs.pid_alive(int(pid)) for pid in result.stdout.split())
