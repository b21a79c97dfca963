"""The platform's own processes in the sandbox: the operator, the gateway and the router.

They run outside the cluster, as local processes pointed at the sandbox's kubeconfig, NATS
and PostgreSQL, exactly as they would run in pods against in-cluster addresses.
"""

from __future__ import annotations

import contextlib
import functools
import json
import shutil
import subprocess
import sys
from collections.abc import Callable, Collection, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Final

from craftplane import tenant_access
from craftplane.contracts.admission import unknown_policy_binding
from craftplane.contracts.policy import DEFAULT_POLICY
from craftplane.sandbox import cluster, node, procs, repositories, tenants
from craftplane.sandbox.config import SandboxConfig
from craftplane.sandbox.errors import SandboxError
from craftplane.sandbox.progress import say, step

SYSTEM_NAMESPACE = tenant_access.SYSTEM_NAMESPACE


def repo_root() -> Path:
    return Path(__file__).resolve().parents[3]


def _console_script(name: str) -> str:
    candidate = Path(sys.executable).parent / name
    if candidate.exists():
        return str(candidate)
    found = shutil.which(name)
    if found is None:
        raise SandboxError(f"{name} is not installed (run: make bootstrap)")
    return found


def _pidfile(cfg: SandboxConfig, name: str) -> Path:
    return cfg.run_dir / f"{name}.pid"


def _logfile(cfg: SandboxConfig, name: str) -> Path:
    return cfg.logs_dir / f"{name}.log"


def _base_env(cfg: SandboxConfig) -> dict[str, str]:
    env = cluster.tool_env(cfg)
    env.update(
        {
            "KUBECONFIG": str(cfg.kubeconfig),
            "NATS_URL": cfg.nats_url,
            "DATABASE_URL": cfg.database_url,
        }
    )
    return env


def operator_env(cfg: SandboxConfig) -> dict[str, str]:
    env = _base_env(cfg)
    env.update(
        {
            "CRAFTPLANE_OPERATOR_LEASE_NAMESPACE": SYSTEM_NAMESPACE,
            "CRAFTPLANE_OPERATOR_HTTP_PORT": str(cfg.operator_metrics_port),
            "CRAFTPLANE_OPERATOR_HTTP_HOST": "127.0.0.1",
            **routing_env(cfg),
            **node.operator_env(cfg),
        }
    )
    return env


def routing_env(cfg: SandboxConfig) -> dict[str, str]:
    """What the operator is told about the router, so each server's status names the
    hostname players join by through it."""
    return {
        "CRAFTPLANE_GAME_DOMAIN": cfg.game_domain,
        "CRAFTPLANE_ROUTER_PUBLIC_ADDRESS": cfg.router_address,
    }


def router_env(cfg: SandboxConfig) -> dict[str, str]:
    env = _base_env(cfg)
    env.update(
        {
            "CRAFTPLANE_ROUTER_HOST": "127.0.0.1",
            "CRAFTPLANE_ROUTER_PORT": str(cfg.router_port),
            "CRAFTPLANE_ROUTER_METRICS_HOST": "127.0.0.1",
            "CRAFTPLANE_ROUTER_METRICS_PORT": str(cfg.router_metrics_port),
            # Built by `make bootstrap` beside the console scripts; "on": a missing one stops
            # the router with a message rather than leaving it on the slower Python path.
            "CRAFTPLANE_ROUTER_FAST_PATH": "on",
            "CRAFTPLANE_ROUTER_FAST_PATH_BINARY": str(
                Path(sys.executable).parent / "craftplane-router-fastpath"
            ),
        }
    )
    return env


DEMO_TENANT = "demo"


def token_key(cfg: SandboxConfig) -> str:
    """The sandbox's token signing key, generated once and kept in the state directory."""
    from craftplane import tokens

    path = cfg.state_dir / "token-key"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(tokens.generate_key())
        path.chmod(0o600)
    return path.read_text().strip()


def gateway_env(cfg: SandboxConfig) -> dict[str, str]:
    env = _base_env(cfg)
    origins = [f"http://127.0.0.1:{cfg.gateway_port}", f"http://localhost:{cfg.gateway_port}"]
    env.update(
        {
            "CRAFTPLANE_TOKEN_KEY": token_key(cfg),
            "CRAFTPLANE_ALLOWED_ORIGINS": json.dumps(origins),
            "CRAFTPLANE_GATEWAY_PORT": str(cfg.gateway_port),
            "CRAFTPLANE_GATEWAY_HOST": "127.0.0.1",
            "CRAFTPLANE_GATEWAY_RCON_REACH": "pod-ip",
        }
    )
    return env


def ensure_tenant(cfg: SandboxConfig, tenant: str, policy: str = DEFAULT_POLICY) -> str:
    """A tenant's namespace as `craftplane tenant create` makes it: quota and limits from the
    CraftplanePolicy ``policy``, network policies, RBAC; and, as a cluster admin would add it,
    its backup repository in the sandbox's object store. Returns the namespace."""
    kubectl = functools.partial(cluster.kubectl, cfg)
    planned = tenants.apply_tenant(kubectl, tenant, policy)
    repositories.ensure(cfg, kubectl, tenant, planned.namespace_name)
    return planned.namespace_name


# Refused by the images rule once admission has its parameters; until the API server's
# informer for the CraftplanePolicy kind is synced (just after a start), every write in a
# tenant namespace is refused with "failed to configure policy" instead.
_ADMISSION_PROBE: Final = (
    "apiVersion: craftplane.io/v1alpha1\nkind: MinecraftServer\n"
    "metadata: {name: admission-probe}\nspec: {eula: true, image: 'probe.invalid/x:1'}\n"
)


def wait_admission(cfg: SandboxConfig, namespace: str) -> None:
    """Until the tenant policy judges a write in ``namespace`` by its rules."""

    def judged() -> bool:
        result = cluster.kubectl(
            cfg, "apply", "--dry-run=server", "-n", namespace, "-f", "-", stdin=_ADMISSION_PROBE
        )
        return result.returncode != 0 and "rule images)" in result.stderr

    procs.wait_until(judged, timeout=90, what="the tenant admission policy to judge writes")


def install_crds(cfg: SandboxConfig) -> None:
    result = cluster.kubectl(
        cfg, "apply", "--server-side", "--force-conflicts", "-f", str(repo_root() / "crds")
    )
    if result.returncode != 0:
        raise SandboxError(f"could not apply the CRDs: {result.stderr.strip()}")
    cluster.kubectl(
        cfg,
        "wait",
        "--for=condition=Established",
        "--timeout=60s",
        "crd/minecraftservers.craftplane.io",
        "crd/craftplanepolicies.craftplane.io",
    )
    # The tenant admission policy and the default CraftplanePolicy it reads: a tenant
    # namespace's writes are refused until both exist, never admitted unchecked.
    admission = cluster.kubectl(
        cfg, "apply", "--server-side", "--force-conflicts", "-f",
        str(repo_root() / "manifests" / "admission"),
    )  # fmt: skip
    if admission.returncode != 0:
        raise SandboxError(f"could not apply the admission policy: {admission.stderr.strip()}")
    _current_policy_binding(cfg)
    ns = cluster.kubectl(cfg, "create", "namespace", SYSTEM_NAMESPACE)
    if ns.returncode != 0 and "AlreadyExists" not in ns.stderr:
        raise SandboxError(f"could not create namespace {SYSTEM_NAMESPACE}: {ns.stderr.strip()}")


def _current_policy_binding(cfg: SandboxConfig) -> None:
    """The checked-in unknown-policy binding lists only `default`: list the policies that
    exist now, as the operator's leader would, so re-installing never refuses the writes of
    tenants on other policies until the operator's next pass."""
    listed = cluster.kubectl(cfg, "get", "craftplanepolicies", "-o", "json")
    if listed.returncode != 0:
        raise SandboxError(f"could not list CraftplanePolicies: {listed.stderr.strip()}")
    names = [item["metadata"]["name"] for item in json.loads(listed.stdout)["items"]]
    result = cluster.kubectl(
        cfg, "apply", "--server-side", "--force-conflicts", "-f", "-",
        stdin=json.dumps(unknown_policy_binding(names)),
    )  # fmt: skip
    if result.returncode != 0:
        raise SandboxError(f"could not update the policy binding: {result.stderr.strip()}")


def _start(cfg: SandboxConfig, name: str, argv: list[str], env: dict[str, str], port: int) -> bool:
    if procs.read_pid(_pidfile(cfg, name)) is not None:
        return False
    procs.ensure_port_free(port, name)
    procs.spawn(
        argv, pidfile=_pidfile(cfg, name), logfile=_logfile(cfg, name), env=env, cwd=repo_root()
    )
    procs.wait_until(
        lambda: procs.port_open(port), timeout=60, what=name, logfile=_logfile(cfg, name)
    )
    return True


# The platform's processes, in the order they start.
APPS: Final = ("operator", "gateway", "router")


def _start_operator(cfg: SandboxConfig) -> bool:
    argv = [_console_script("craftplane-operator")]
    return _start(cfg, "operator", argv, operator_env(cfg), cfg.operator_metrics_port)


def _start_gateway(cfg: SandboxConfig) -> bool:
    wait_admission(cfg, ensure_tenant(cfg, DEMO_TENANT))
    argv = [_console_script("craftplane-gateway")]
    return _start(cfg, "gateway", argv, gateway_env(cfg), cfg.gateway_port)


def _start_router(cfg: SandboxConfig) -> bool:
    argv = [_console_script("craftplane-router")]
    return _start(cfg, "router", argv, router_env(cfg), cfg.router_port)


_STARTERS: Final = {"operator": _start_operator, "gateway": _start_gateway, "router": _start_router}


def start(cfg: SandboxConfig, names: Collection[str] = APPS) -> list[str]:
    """Start those of the named processes that are not running, in APPS order; the ones it
    started."""
    started: list[str] = []
    for name in (n for n in APPS if n in names):
        with step(name):
            if _STARTERS[name](cfg):
                started.append(name)
            else:
                say(f"{name} already running")
    return started


def up(cfg: SandboxConfig) -> None:
    with step("CRDs"):
        install_crds(cfg)
    start(cfg)
    say(f"players join through the router at {cfg.router_address}")
    say(f"dashboard: {cfg.gateway_url}/#token={demo_token(cfg)}")


def demo_token(cfg: SandboxConfig) -> str:
    from craftplane import tokens

    return tokens.mint(DEMO_TENANT, token_key(cfg), ttl=timedelta(days=7))


def down(cfg: SandboxConfig) -> None:
    for name in reversed(APPS):
        if procs.stop_pidfile(_pidfile(cfg, name)):
            say(f"stopped {name}")


def running(cfg: SandboxConfig) -> list[str]:
    """The platform's processes that run now, in APPS order."""
    return [name for name in APPS if procs.read_pid(_pidfile(cfg, name)) is not None]


@contextlib.contextmanager
def paused(cfg: SandboxConfig, report: Callable[[str], None] = say) -> Iterator[list[str]]:
    """The platform's processes stopped for the block (a benchmark runs its own, which they
    would compete with), then exactly those that were running started again, also when the
    block fails or is interrupted; ``report`` is told what was restored or left stopped.
    Yields the names that were running."""
    before = running(cfg)
    try:
        down(cfg)
        yield before
    finally:
        restore(cfg, before, report)


def restore(cfg: SandboxConfig, before: list[str], report: Callable[[str], None] = say) -> None:
    failure = ""
    try:
        start(cfg, before)
    except (SandboxError, OSError, subprocess.SubprocessError) as exc:
        # Reported, not raised: it would hide how the paused block itself ended.
        failure = str(exc)
    finally:
        report(restore_report(before, running(cfg), failure))


def restore_report(before: list[str], now: list[str], failure: str = "") -> str:
    """What a user needs to know after a pause: what runs again, and what is stopped."""
    lines: list[str] = []
    back = [name for name in before if name in now]
    lost = [name for name in before if name not in now]
    left = [name for name in APPS if name not in before and name not in now]
    if back:
        lines.append(f"restarted the sandbox's {', '.join(back)}, as before the run")
    if lost:
        why = f": {failure}" if failure else ""
        lines.append(
            f"STOPPED: the sandbox's {', '.join(lost)} did not start again{why}; "
            f"start {'it' if len(lost) == 1 else 'them'} with `craftplane sandbox up`"
        )
    if left:
        verb = "was" if len(left) == 1 else "were"
        lines.append(f"the sandbox's {', '.join(left)} {verb} not running before: left stopped")
    return "\n".join(lines)


def status(cfg: SandboxConfig) -> dict[str, str]:
    report = {}
    components = (
        ("operator", cfg.operator_metrics_port),
        ("gateway", cfg.gateway_port),
        ("router", cfg.router_metrics_port),
    )
    for name, port in components:
        pidfile = _pidfile(cfg, name)
        pid = procs.read_pid(pidfile)
        if pid:
            report[name] = f"running (pid {pid}, http://127.0.0.1:{port})"
        elif pidfile.exists():
            report[name] = f"stopped (exited; see {_logfile(cfg, name)})"
        else:
            report[name] = "not started"

    return report


def env(cfg: SandboxConfig) -> dict[str, str]:
    values = {
        **(
            {"CRAFTPLANE_SANDBOX_SERVER_IMAGE": node.server_image(cfg)} if node.enabled(cfg) else {}
        ),
        "CRAFTPLANE_OPERATOR_METRICS": f"http://127.0.0.1:{cfg.operator_metrics_port}/metrics",
        "CRAFTPLANE_GATEWAY_URL": cfg.gateway_url,
        "CRAFTPLANE_ROUTER_ADDRESS": cfg.router_address,
        "CRAFTPLANE_ROUTER_METRICS": f"http://127.0.0.1:{cfg.router_metrics_port}/metrics",
    }
    if cfg.state_dir.exists():
        values["CRAFTPLANE_TOKEN"] = demo_token(cfg)
    return values


__all__ = [
    "APPS",
    "SYSTEM_NAMESPACE",
    "down",
    "ensure_tenant",
    "env",
    "install_crds",
    "paused",
    "restore",
    "running",
    "start",
    "status",
    "up",
    "wait_admission",
]
