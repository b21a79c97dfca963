"""Chaos: servers churning while the platform's parts fail at random moments, then proof that
nothing was lost, doubled or left behind.

Two operator replicas (leader election) and two gateway replicas (one shared durable consumer)
run as real processes; WebSocket clients watch both gateways. While servers are stopped and
started on a schedule, the harness SIGKILLs the operator leader and gateway replicas, stops and
starts NATS and PostgreSQL, restarts the kube-apiserver once and pauses NATS for
longer than JetStream's duplicate window. Every fault kind happens several times, at moments
drawn from a seeded RNG (the seed is printed; CRAFTPLANE_CHAOS_SEED replays a run). Processes
that exit on their own (an operator that lost its lease while the API server was away) are
restarted the way a kubelet would, and that is reported too.

Then churn stops and, once the system has settled:
- every CR is in the phase its spec asks for, and its projected status (servers table) matches;
- the stream's last phase event per server matches the CR phase;
- every server has exactly one StatefulSet, Service, ConfigMap, Secret and PVC;
- the timeline (server_events) holds every stream event once, and no stream message twice;
- every WebSocket client (connected throughout, or reconnected with a fresh snapshot) holds the
  state the database holds;
and the time from the last fault being healed to all of that must stay within two
reconciliation intervals (the operators' CRAFTPLANE_OPERATOR_RESYNC_SECONDS).

The short form (100 servers, every fault kind including one NATS pause) runs in `make test`;
the long form (300 servers, more of each fault) runs with --long
(`make test PYTEST_ARGS="--long e2e/test_chaos.py"`).

The parts are in e2e/chaos: profiles, the fault injector (faults), churn, the WebSocket views
(liveview), the end-state invariants, and the run that ties them together.
"""

from __future__ import annotations

import pytest

from craftplane.testing.gateway import Tenant
from craftplane.testing.kubectl import Kubectl
from craftplane.testing.platform import Platform
from craftplane.testing.processes import ManagedProcess
from e2e.chaos.profiles import LONG, SHORT, Profile
from e2e.chaos.run import run_chaos

pytestmark = pytest.mark.e2e


@pytest.mark.parametrize(
    "profile",
    [
        pytest.param(SHORT, id="short", marks=pytest.mark.timeout(900)),
        pytest.param(LONG, id="long", marks=[pytest.mark.slow, pytest.mark.timeout(2400)]),
    ],
)
async def test_chaos(
    profile: Profile,
    platform: Platform,
    kubectl: Kubectl,
    operator: ManagedProcess,
    gateway: ManagedProcess,
    gateway_db: str,
    token_key: str,
    consumer: str,
    tenant_a: Tenant,
) -> None:
    await run_chaos(
        profile,
        platform=platform,
        kubectl=kubectl,
        operator=operator,
        gateway=gateway,
        gateway_db=gateway_db,
        token_key=token_key,
        consumer=consumer,
        tenant=tenant_a,
    )
