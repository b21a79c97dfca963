"""One chaos run from start to verdict: a second operator and gateway, WebSocket views, the
servers, churn with the faults, the settle loop, the report and the clean-up."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import os
import random
import time
from collections import Counter
from dataclasses import dataclass, field

import pytest

from craftplane.sandbox import capacity, cluster
from craftplane.sandbox.config import SandboxConfig
from craftplane.testing.gateway import Tenant, gateway_process
from craftplane.testing.kubectl import Kubectl
from craftplane.testing.platform import Platform
from craftplane.testing.plugin import operator_process, server_manifest
from craftplane.testing.processes import ManagedProcess
from craftplane.testing.wait import ConditionTimeout, wait_for
from e2e.chaos.churn import Churn
from e2e.chaos.faults import Chaos
from e2e.chaos.invariants import Verdict, check, explain_ws
from e2e.chaos.liveview import LiveView
from e2e.chaos.observe import lease_holder, stream_position
from e2e.chaos.profiles import Profile

RESYNC_ENV = "CRAFTPLANE_OPERATOR_RESYNC_SECONDS"


def report(
    seed: int,
    profile: Profile,
    chaos: Chaos,
    churn: Churn,
    views: list[LiveView],
    settle_from: float,
    converged: float | None,
    bound: float,
) -> None:
    print(f"\n=== chaos: seed {seed}, {profile.servers} servers, window {profile.window:.0f}s")
    print(f"{'injected':>9} {'healed':>8}  {'kind':<16} {'target':<32} note")
    for e in sorted(chaos.log, key=lambda e: e.at):
        healed = f"{e.healed:8.1f}" if e.healed is not None else "       -"
        print(f"{e.at:9.1f} {healed}  {e.kind:<16} {e.target:<32} {e.note}")
    kinds = Counter(e.kind for e in chaos.log)
    print(f"faults: {dict(kinds)}; churn: {churn.toggles} toggles, {churn.failed} refused")
    for view in views:
        print(
            f"ws {view.label}: {view.connects} connections, {view.snapshots} snapshots, "
            f"{view.events} event frames"
        )
    took = f"{converged:.1f}s" if converged is not None else "never"
    print(
        f"last fault healed / churn stopped at {settle_from:.1f}s; converged after {took} "
        f"(bound: 2 reconciliation intervals = {bound:.0f}s)"
    )


@dataclass
class Run:
    """One chaos run: its participants and what the report needs, filled in as it goes."""

    profile: Profile
    seed: int
    platform: Platform
    cfg: SandboxConfig
    kubectl: Kubectl
    namespace: str
    names: list[str]
    gateway_db: str
    operators: list[ManagedProcess]
    gateways: list[ManagedProcess]
    chaos: Chaos
    churn: Churn
    bound: float
    views: list[LiveView] = field(default_factory=list)
    tasks: list[asyncio.Task[None]] = field(default_factory=list)
    settle_from: float = 0.0
    converged: float | None = None
    reported: bool = False

    def report(self) -> None:
        report(
            self.seed, self.profile, self.chaos, self.churn, self.views, self.settle_from,
            self.converged, self.bound,
        )  # fmt: skip
        self.reported = True


def wait_for_my_leader(run: Run) -> None:
    mine = {p.env["CRAFTPLANE_OPERATOR_IDENTITY"] for p in run.operators}

    def my_leader() -> str | None:
        holder = lease_holder(run.kubectl)
        return holder if holder in mine else None

    holder = wait_for(
        my_leader,
        timeout=40,
        what=f"the operator lease held by one of {sorted(mine)} (another operator is "
        "running against this cluster?)",
    )
    print(f"operator leader: {holder}", flush=True)


async def create_servers(run: Run) -> None:
    """Every server created and Running before the chaos starts."""
    kubectl, namespace, names = run.kubectl, run.namespace, run.names
    await asyncio.to_thread(capacity.ensure_room, run.cfg, len(names))

    created = time.monotonic()
    for i in range(0, len(names), 25):
        kubectl.apply("---\n".join(server_manifest(n) for n in names[i : i + 25]), namespace)

    phases: Counter[str | None] = Counter()

    def all_running() -> bool:
        items = kubectl.json("get", "minecraftservers", "-n", namespace)["items"]
        phases.clear()
        phases.update((item.get("status") or {}).get("phase") for item in items)
        return phases["Running"] == len(names)

    try:
        await asyncio.to_thread(
            wait_for, all_running, timeout=60 + 1.5 * len(names), interval=1, what="Running"
        )
    except ConditionTimeout as exc:
        raise AssertionError(f"{exc}; phases: {dict(phases)}") from exc
    print(f"{len(names)} servers Running after {time.monotonic() - created:.1f}s", flush=True)


async def inject(run: Run) -> None:
    """Churn, with the faults at random moments in it, until the last fault is healed."""
    chaos, profile = run.chaos, run.profile
    chaos.t0 = time.monotonic()
    plan = chaos.schedule(profile)
    print("plan: " + ", ".join(f"{kind}@{at:.0f}s" for at, kind in plan), flush=True)
    stop_churn = asyncio.Event()
    run.tasks.append(asyncio.create_task(chaos.supervise(), name="supervisor"))
    churning = asyncio.create_task(
        run.churn.run(profile.churn_every, profile.churn_batch, stop_churn), name="churn"
    )
    run.tasks.append(churning)
    by_kind: dict[str, list[float]] = {}
    for at, kind in plan:
        by_kind.setdefault(kind, []).append(at)
    faults = [
        asyncio.create_task(chaos.run_kind(kind, offsets), name=f"fault-{kind}")
        for kind, offsets in by_kind.items()
    ]
    run.tasks += faults
    await asyncio.gather(*faults)
    # The clock starts when the last fault is healed: churn stops then too, so what is
    # measured is the recovery (and the last toggles), not churn still going on.
    stop_churn.set()
    # Let the last toggles' kubectl calls finish before the clock starts.
    await asyncio.wait_for(churning, timeout=30)
    # A process that died of the last fault is revived by the supervisor: wait for that.
    await asyncio.to_thread(
        wait_for,
        lambda: (
            not chaos.unhealed
            and all(p.alive for p in [*run.operators, *run.gateways])
            and not cluster.missing_components(run.cfg)
        ),
        timeout=60,
        what="every fault healed",
    )
    run.settle_from = chaos.now()
    last_heal = chaos.last_heal
    print(f"churn stopped at {run.settle_from:.1f}s; last heal at {last_heal:.1f}s", flush=True)


async def settle(run: Run, start_seq: int) -> Verdict | None:
    """Poll the whole end state until it holds, or the deadline passes; the last verdict."""
    deadline = time.monotonic() + max(4 * run.bound, 180)
    verdict: Verdict | None = None
    last_print = 0.0
    probe = functools.partial(
        check,
        kubectl=run.kubectl,
        namespace=run.namespace,
        names=run.names,
        dsn=run.gateway_db,
        views=run.views,
        nats_url=run.platform.nats_url,
        start_seq=start_seq,
    )
    while time.monotonic() < deadline:
        observed_at = run.chaos.now()
        shallow = await probe(deep=False)
        if shallow:
            verdict = await probe(deep=True)
            if verdict:
                run.converged = observed_at - run.settle_from
                break
        else:
            verdict = shallow
        if time.monotonic() - last_print >= 3:
            last_print = time.monotonic()
            holder = await asyncio.to_thread(lease_holder, run.kubectl)
            print(
                f"[settle +{observed_at - run.settle_from:5.1f}s] leader {holder}; "
                + " | ".join(p[:160] for p in verdict.problems),
                flush=True,
            )
        await asyncio.sleep(1)
    return verdict


async def judge(run: Run, verdict: Verdict | None) -> None:
    """The report, then the promises: converged, within the bound, every fault injected."""
    run.report()
    if verdict is not None and not verdict:
        await explain_ws(run.gateway_db, run.namespace, run.views)
    assert verdict is not None and verdict, (
        f"not converged {max(4 * run.bound, 180):.0f}s after the last fault (seed {run.seed}): "
        + " | ".join(verdict.problems if verdict is not None else ["nothing checked"])
    )
    assert run.converged is not None
    assert run.converged <= run.bound, (
        f"converged only {run.converged:.1f}s after the last fault, more than two "
        f"reconciliation intervals ({run.bound:.0f}s); seed {run.seed}"
    )
    kinds = {e.kind for e in run.chaos.log}
    faults = run.profile.faults
    assert set(faults) <= kinds, f"faults not injected: {set(faults) - kinds}"


async def clean_up(run: Run) -> None:
    """Stop the chaos, bring the platform back and delete the servers, whatever happened."""
    for task in run.tasks:
        task.cancel()
    await asyncio.gather(*run.tasks, return_exceptions=True)
    if not run.reported and run.chaos.log:
        run.report()
    for view in run.views:
        await view.stop()
    errors = run.chaos.restore()
    # The fixtures' own processes (the first of each) must be alive for the next tests.
    for proc in (run.operators[0], run.gateways[0]):
        if not proc.alive:
            try:
                proc.start()
            except AssertionError as exc:
                errors.append(str(exc))
    for extra in (*run.operators[1:], *run.gateways[1:]):
        extra.terminate()
    # The operator finalizes the servers; the namespace goes with the tenant fixture.
    kubectl, namespace = run.kubectl, run.namespace
    kubectl.run("delete", "minecraftservers", "--all", "-n", namespace, "--wait=false", check=False)
    with contextlib.suppress(ConditionTimeout):
        wait_for(
            lambda: not kubectl.json("get", "minecraftservers", "-n", namespace)["items"],
            timeout=90,
            interval=2,
            what="chaos servers deleted",
        )
    assert not errors, f"could not restore the platform: {errors}"


async def run_chaos(
    profile: Profile,
    *,
    platform: Platform,
    kubectl: Kubectl,
    operator: ManagedProcess,
    gateway: ManagedProcess,
    gateway_db: str,
    token_key: str,
    consumer: str,
    tenant: Tenant,
) -> None:
    if platform.sandbox is None:
        pytest.skip("injecting faults needs the sandbox's own NATS, PostgreSQL and control plane")
    cfg = platform.sandbox
    seed = int(os.environ.get("CRAFTPLANE_CHAOS_SEED") or random.SystemRandom().randrange(10**6))
    print(f"\nchaos seed: {seed} (replay with CRAFTPLANE_CHAOS_SEED={seed})", flush=True)
    names = [f"chaos-{i:03d}" for i in range(profile.servers)]

    standby = operator_process(platform, 1)
    second = gateway_process(
        platform, index=1, database_url=gateway_db, token_key=token_key, consumer=consumer
    )
    operators, gateways = [operator, standby], [gateway, second]
    run = Run(
        profile=profile,
        seed=seed,
        platform=platform,
        cfg=cfg,
        kubectl=kubectl,
        namespace=tenant.namespace,
        names=names,
        gateway_db=gateway_db,
        operators=operators,
        gateways=gateways,
        chaos=Chaos(cfg, kubectl, operators, gateways, random.Random(seed), profile.nats_pause),
        churn=Churn(kubectl, tenant.namespace, names, random.Random(seed + 1)),
        bound=2 * max(float(p.env.get(RESYNC_ENV, "60")) for p in operators),
    )
    try:
        standby.start()
        second.start()
        wait_for_my_leader(run)
        start_seq = await stream_position(platform.nats_url)
        run.views = [
            LiveView(f"{gw.name}/{i}", gw, tenant.token) for gw in gateways for i in range(2)
        ]
        for view in run.views:
            view.start()
        await create_servers(run)
        await inject(run)
        await judge(run, await settle(run, start_seq))
    finally:
        await clean_up(run)
