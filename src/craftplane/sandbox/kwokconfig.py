"""The kwokctl configuration the sandbox's control plane is created with."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Final

import yaml

from craftplane.sandbox.config import SandboxConfig

Patches = list[dict[str, Any]]


def render(cfg: SandboxConfig, patches: Patches) -> str:
    """kwokctl's configuration for a new cluster: the local binaries, short node leases and
    the components' extra flags."""
    b = cfg.bin_dir
    doc: dict[str, Any] = {
        "apiVersion": "config.kwok.x-k8s.io/v1alpha1",
        "kind": "KwokctlConfiguration",
        "options": {
            "runtime": "binary",
            "kubeVersion": cfg.k8s_version,
            "etcdVersion": cfg.etcd_version.lstrip("v"),
            "kubeApiserverPort": cfg.apiserver_port,
            "bindAddress": "127.0.0.1",
            "kubeApiserverBinary": str(b / "kube-apiserver"),
            "kubeControllerManagerBinary": str(b / "kube-controller-manager"),
            "kubeSchedulerBinary": str(b / "kube-scheduler"),
            "kwokControllerBinary": str(b / "kwok"),
            "etcdBinary": str(b / "etcd"),
            "kubectlBinary": str(b / "kubectl"),
            "quietPull": True,
            # kwokctl multiplies every heartbeat setting by 5 by default, giving 200 s node
            # leases: a kwok restarted after a crash then manages no node, and starts no pod,
            # for up to 200 s. Short leases (renewed every 10 s) with relaxed status updates
            # keep restarts quick without more node-status traffic.
            "heartbeatFactor": 1.0,
            "nodeLeaseDurationSeconds": 40,
            "nodeStatusUpdateFrequencyMilliseconds": 50_000,
            "kubeControllerManagerNodeMonitorPeriodMilliseconds": 25_000,
            "kubeControllerManagerNodeMonitorGracePeriodMilliseconds": 200_000,
        },
    }
    if patches:
        doc["componentsPatches"] = patches
    return yaml.safe_dump(doc, sort_keys=False)


# kwokctl runs kwok with --manage-all-nodes=true, which would take over a real node too; it
# manages only the nodes it creates itself (annotated kwok.x-k8s.io/node=fake) from now on.
KWOK_OWN_NODES: Patches = [
    {
        "name": "kwok-controller",
        "extraArgs": [
            {"key": "manage-all-nodes", "value": "false"},
            {"key": "manage-nodes-with-annotation-selector", "value": "kwok.x-k8s.io/node=fake"},
        ],
    }
]


def missing_patches(cluster_dir: Path, patches: Patches) -> list[str]:
    """Extra arguments that an existing cluster was created without."""
    recorded = (cluster_dir / "kwok.yaml").read_text()
    return [
        arg["key"]
        for patch in patches
        for arg in patch.get("extraArgs", [])
        if f"--{arg['key']}=" not in recorded and arg["key"] not in recorded
    ]


# The components whose API client the sandbox's kube_api_qps / kube_api_burst settings govern.
CLIENT_LIMITED: Final = ("kube-controller-manager", "kube-scheduler")
CLIENT_FLAGS: Final = ("kube-api-qps", "kube-api-burst")
# What each runs with when the flags are absent (a cluster created before the settings).
UPSTREAM_LIMITS: Final = {
    "kube-controller-manager": {"kube-api-qps": "20", "kube-api-burst": "30"},
    "kube-scheduler": {"kube-api-qps": "50", "kube-api-burst": "100"},
}


def client_limits(cfg: SandboxConfig) -> dict[str, str]:
    """The flag values the settings ask for: {"kube-api-qps": "200", "kube-api-burst": "400"}."""
    return {"kube-api-qps": f"{cfg.kube_api_qps:g}", "kube-api-burst": str(cfg.kube_api_burst)}


def client_limit_patches(cfg: SandboxConfig) -> Patches:
    """The settings as component patches for a new cluster."""
    limits = client_limits(cfg)
    return [
        {"name": name, "extraArgs": [{"key": k, "value": v} for k, v in limits.items()]}
        for name in CLIENT_LIMITED
    ]


def with_client_limits(args: list[str], limits: dict[str, str]) -> list[str]:
    """A component's arguments with these client limits instead of any it had."""
    kept = [a for a in args if not any(a.startswith(f"--{flag}=") for flag in limits)]
    return [*kept, *(f"--{flag}={value}" for flag, value in limits.items())]


class _Loader(yaml.SafeLoader):
    """Timestamps stay the strings kwokctl wrote: read back as dates, they would be written in
    a form Go's time parsing refuses."""


_Loader.yaml_implicit_resolvers = {
    first: [(tag, pattern) for tag, pattern in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def _documents(cluster_dir: Path) -> list[Any]:
    return list(yaml.load_all((cluster_dir / "kwok.yaml").read_text(), Loader=_Loader))


def _components(documents: list[Any]) -> list[dict[str, Any]]:
    """The components kwokctl recorded for the cluster: `kwokctl start` runs these arguments."""
    for doc in documents:
        if isinstance(doc, dict) and doc.get("kind") == "KwokctlConfiguration":
            return [c for c in doc.get("components") or [] if isinstance(c, dict)]
    return []


def limits_in(args: list[str]) -> dict[str, str]:
    """The client-limit flags among a component's arguments ({} when it runs with its own
    defaults); the last of a repeated flag wins, as in the components' flag parsing."""
    values: dict[str, str] = {}
    for arg in args:
        flag, _, value = str(arg).removeprefix("--").partition("=")
        if flag in CLIENT_FLAGS:
            values[flag] = value
    return values


def recorded_client_limits(cluster_dir: Path) -> dict[str, dict[str, str]]:
    """Per client-limited component of an existing cluster, the limit flags it runs with."""
    return {
        str(component["name"]): limits_in(component.get("args") or [])
        for component in _components(_documents(cluster_dir))
        if component.get("name") in CLIENT_LIMITED
    }


def update_client_limits(cluster_dir: Path, cfg: SandboxConfig) -> list[str]:
    """Rewrite an existing cluster's recorded kube-controller-manager and kube-scheduler
    arguments to the settings' limits; the components whose arguments changed (they take the
    new ones when next started). A cluster is created once, so without this a sandbox made
    before the setting (or with other values) would keep its old limits for good."""
    documents = _documents(cluster_dir)
    limits = client_limits(cfg)
    changed: list[str] = []
    for component in _components(documents):
        if component.get("name") not in CLIENT_LIMITED:
            continue
        args = [str(a) for a in component.get("args") or []]
        if limits_in(args) != limits:
            component["args"] = with_client_limits(args, limits)
            changed.append(str(component["name"]))
    if changed:
        path = cluster_dir / "kwok.yaml"
        scratch = path.with_suffix(".yaml.new")
        scratch.write_text(yaml.safe_dump_all(documents, sort_keys=False))
        scratch.replace(path)  # never a half-written file for kwokctl to read
    return changed
