"""`craftplane tenant create | sync`: tenant namespaces from their CraftplanePolicy.

The parser is in ``cli`` (which imports this module only to run a tenant command: the
Kubernetes client takes a second to import); the exit codes are its ``TENANT_EPILOG``.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Awaitable, Callable
from typing import Final

from kubernetes_asyncio.config import ConfigException

from craftplane import tenancy, tenant_apply
from craftplane.contracts.policy import DEFAULT_POLICY
from craftplane.kube import KubeClient, KubeError

OK: Final = 0
PARTLY: Final = 1
REFUSED: Final = 2


def _fail(message: str, code: int = REFUSED) -> int:
    print(f"craftplane: error: {message}", file=sys.stderr)
    return code


def run(args: argparse.Namespace) -> int:
    if args.action == "create":
        policy = args.policy or DEFAULT_POLICY
        error = tenancy.tenant_error(args.name) or tenancy.policy_error(policy)
        if error:
            return _fail(error)
        return asyncio.run(_connected(lambda kube: _create(kube, args.name, policy, args.dry_run)))
    errors = [tenancy.tenant_error(name) for name in args.tenants]
    errors.append(tenancy.policy_error(args.policy) if args.policy is not None else None)
    error = next((e for e in errors if e), None)
    if error:
        return _fail(error)
    return asyncio.run(_connected(lambda kube: _sync(kube, args.tenants, args.policy)))


async def _connected(work: Callable[[KubeClient], Awaitable[int]]) -> int:
    try:
        kube = await KubeClient.connect()
    except (ConfigException, OSError) as exc:
        return _fail(f"no cluster to talk to: {exc}")
    except Exception as exc:  # noqa: BLE001 - only loading the kubeconfig: any failure is "no cluster"
        return _fail(f"no cluster to talk to: the kubeconfig could not be read ({exc!r})")
    try:
        return await work(kube)
    finally:
        await kube.close()


async def _create(kube: KubeClient, tenant: str, policy: str, dry_run: bool) -> int:
    try:
        planned = await tenant_apply.plan_tenant(kube, tenant, policy)
    except tenant_apply.TenancyError as exc:
        return _fail(str(exc))
    except KubeError as exc:
        return _fail(f"could not read the cluster at {kube.host}: {exc}")
    if dry_run:
        sys.stdout.write(tenancy.render_yaml(planned.objects()))
        return OK
    done: list[tenant_apply.Applied] = []
    try:
        for obj in planned.objects():
            done += await tenant_apply.apply_objects(kube, [obj])
            print(done[-1])
    except KubeError as exc:
        total = len(planned.objects())
        code = PARTLY if done else REFUSED
        return _fail(f"applied {len(done)} of {total} objects, then: {exc}", code)
    hard = planned.quota["spec"]["hard"]
    print(
        f"tenant {planned.tenant}: namespace {planned.namespace_name} on {kube.host}, "
        f"policy {planned.policy} ({hard[tenancy.SERVER_COUNT]} servers, cpu "
        f"{hard['requests.cpu']}, memory {hard['requests.memory']}, storage "
        f"{hard['requests.storage']})"
    )
    if not await _quota_enforced(kube, planned.namespace_name):
        print(
            f"craftplane: warning: the quota of {planned.namespace_name} is not counted yet "
            "(is kube-controller-manager running?); servers are refused until it is",
            file=sys.stderr,
        )
    return OK


async def _quota_enforced(kube: KubeClient, namespace: str) -> bool:
    try:
        return await tenant_apply.quota_enforced(kube, namespace)
    except KubeError:
        return False


async def _sync(kube: KubeClient, tenants: list[str], policy: str | None) -> int:
    try:
        results = await tenant_apply.sync_tenants(kube, tenants=tenants, policy=policy)
    except KubeError as exc:
        return _fail(f"could not list the tenant namespaces at {kube.host}: {exc}")
    if not results:
        print(f"no tenant namespaces to sync on {kube.host}")
    failed = 0
    for result in results:
        if result.error is not None:
            failed += 1
            print(f"craftplane: error: {result.namespace}: {result.error}", file=sys.stderr)
        else:
            done = ", ".join(map(str, result.applied))
            print(f"{result.namespace} (policy {result.policy}): {done}")
    return PARTLY if failed else OK
