from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from craftplane.contracts.status import AddressReach, Phase
from craftplane_operator.phase import UNSCHEDULABLE_GRACE, Derived, Observed, derive, derive_address
from tests.unit.operator.factories import cr_body, pod, pvc, service, statefulset, unscheduled_pod

pytestmark = pytest.mark.unit

NOW = datetime(2025, 1, 1, 12, 0, 0, tzinfo=UTC)


def ago(seconds: float) -> str:
    return (NOW - timedelta(seconds=seconds)).strftime("%Y-%m-%dT%H:%M:%SZ")


def waiting(reason: str, message: str = "") -> dict[str, Any]:
    return {"waiting": {"reason": reason, "message": message}}


def terminated(code: int, message: str = "", reason: str = "Error") -> dict[str, Any]:
    return {"terminated": {"exitCode": code, "reason": reason, "message": message}}


REJECTED_LOG = (
    "[init] Resolving type given VANILLA\n"
    "[init] ERROR: version 9.9.9 is not a valid version for VANILLA\n"
    "\n"
)

RUNNING_POD = pod(ready=True)
STOPPED_BODY = cr_body({"stopped": True})
DELETED_BODY = cr_body(deletionTimestamp="2025-01-01T11:59:59Z")
DELETED_STOPPED_BODY = cr_body({"stopped": True}, deletionTimestamp="2025-01-01T11:59:59Z")

CASES: list[tuple[str, Observed, Phase, str]] = [
    # Terminating wins over everything.
    ("deleting", Observed(DELETED_BODY, statefulset(), RUNNING_POD), Phase.TERMINATING, "Deleting"),
    ("deleting stopped", Observed(DELETED_STOPPED_BODY), Phase.TERMINATING, "Deleting"),
    (
        "deleting crashing",
        Observed(DELETED_BODY, statefulset(), pod(state=waiting("CrashLoopBackOff"))),
        Phase.TERMINATING,
        "Deleting",
    ),
    # Stopped.
    ("stopped", Observed(STOPPED_BODY, statefulset(replicas=0)), Phase.STOPPED, "Stopped"),
    ("stopped, no statefulset", Observed(STOPPED_BODY), Phase.STOPPED, "Stopped"),
    (
        "stopping: not scaled yet",
        Observed(STOPPED_BODY, statefulset(replicas=1), RUNNING_POD),
        Phase.STOPPED,
        "Stopping",
    ),
    (
        "stopping: pod still terminating",
        Observed(STOPPED_BODY, statefulset(replicas=0), pod(terminating=True)),
        Phase.STOPPED,
        "Stopping",
    ),
    (
        "stopped wins over a crash",
        Observed(STOPPED_BODY, statefulset(replicas=0), pod(state=waiting("CrashLoopBackOff"))),
        Phase.STOPPED,
        "Stopping",
    ),
    # Error.
    (
        "crash loop",
        Observed(
            cr_body(),
            statefulset(),
            pod(state=waiting("CrashLoopBackOff"), last_state=terminated(1)),
        ),
        Phase.ERROR,
        "CrashLoop",
    ),
    (
        "crash loop killed by the liveness probe",
        Observed(
            cr_body(),
            statefulset(),
            pod(state=waiting("CrashLoopBackOff"), last_state=terminated(137, "Stopping")),
        ),
        Phase.ERROR,
        "CrashLoop",
    ),
    (
        "crash loop out of memory",
        Observed(
            cr_body(),
            statefulset(),
            pod(
                state=waiting("CrashLoopBackOff"),
                last_state=terminated(1, "java.lang.OutOfMemoryError", reason="OOMKilled"),
            ),
        ),
        Phase.ERROR,
        "OOMKilled",
    ),
    (
        "crash loop of rejected settings",
        Observed(
            cr_body(),
            statefulset(),
            pod(state=waiting("CrashLoopBackOff"), last_state=terminated(1, REJECTED_LOG)),
        ),
        Phase.ERROR,
        "SettingsRejected",
    ),
    *[
        (
            f"image pull: {reason}",
            Observed(cr_body(), statefulset(), pod(state=waiting(reason, "not found"))),
            Phase.ERROR,
            "ImagePullFailed",
        )
        for reason in ("ImagePullBackOff", "ErrImagePull", "InvalidImageName")
    ],
    (
        "container config error",
        Observed(
            cr_body(),
            statefulset(),
            pod(state=waiting("CreateContainerConfigError", 'secret "survival-rcon" not found')),
        ),
        Phase.ERROR,
        "ConfigError",
    ),
    (
        "settings rejected",
        Observed(cr_body(), statefulset(), pod(state=terminated(1, REJECTED_LOG))),
        Phase.ERROR,
        "SettingsRejected",
    ),
    (
        "exit without a message is not a rejection",
        Observed(cr_body(), statefulset(), pod(state=terminated(1))),
        Phase.STARTING,
        "Restarting",
    ),
    (
        "clean exit is not a rejection",
        Observed(cr_body(), statefulset(), pod(state=terminated(0, "Done"))),
        Phase.STARTING,
        "Restarting",
    ),
    # Unschedulable, around the grace period.
    (
        "unschedulable just now",
        Observed(cr_body(), statefulset(), unscheduled_pod(ago(0)), pvc()),
        Phase.STARTING,
        "Scheduling",
    ),
    (
        "unschedulable 1 s before the grace ends",
        Observed(cr_body(), statefulset(), unscheduled_pod(ago(119)), pvc()),
        Phase.STARTING,
        "Scheduling",
    ),
    (
        "unschedulable exactly the grace",
        Observed(cr_body(), statefulset(), unscheduled_pod(ago(120)), pvc()),
        Phase.STARTING,
        "Scheduling",
    ),
    (
        "unschedulable 1 s past the grace",
        Observed(cr_body(), statefulset(), unscheduled_pod(ago(121)), pvc()),
        Phase.ERROR,
        "Unschedulable",
    ),
    (
        "unschedulable with no transition time",
        Observed(cr_body(), statefulset(), unscheduled_pod(None), pvc()),
        Phase.STARTING,
        "Scheduling",
    ),
    (
        "unschedulable past the grace with a pending volume",
        Observed(cr_body(), statefulset(), unscheduled_pod(ago(600)), pvc("Pending")),
        Phase.ERROR,
        "Unschedulable",
    ),
    # Starting.
    (
        "volume pending",
        Observed(cr_body(), statefulset(), pod(phase="Pending", node=None), pvc("Pending")),
        Phase.STARTING,
        "WaitingForVolume",
    ),
    (
        "volume pending while unschedulable within the grace",
        Observed(cr_body(), statefulset(), unscheduled_pod(ago(30)), pvc("Pending")),
        Phase.STARTING,
        "WaitingForVolume",
    ),
    ("nothing yet", Observed(cr_body()), Phase.STARTING, "Creating"),
    ("no pod yet", Observed(cr_body(), statefulset()), Phase.STARTING, "Creating"),
    (
        "not scheduled yet",
        Observed(cr_body(), statefulset(), pod(phase="Pending", node=None, state={})),
        Phase.STARTING,
        "Scheduling",
    ),
    (
        "container creating",
        Observed(
            cr_body(), statefulset(), pod(phase="Pending", state=waiting("ContainerCreating"))
        ),
        Phase.STARTING,
        "PodStarting",
    ),
    (
        "generating the world",
        Observed(cr_body(), statefulset(), pod(), pvc()),
        Phase.STARTING,
        "PodStarting",
    ),
    (
        "started but failing readiness",
        Observed(cr_body(), statefulset(), pod(started=True), pvc()),
        Phase.STARTING,
        "NotReady",
    ),
    (
        "pod being replaced",
        Observed(cr_body(), statefulset(), pod(terminating=True, ready=True)),
        Phase.STARTING,
        "Restarting",
    ),
    (
        "pod evicted",
        Observed(cr_body(), statefulset(), pod(phase="Failed")),
        Phase.STARTING,
        "Restarting",
    ),
    (
        "ready but the statefulset has not seen the new spec",
        Observed(cr_body(), statefulset(generation=3, observed_generation=2), RUNNING_POD),
        Phase.STARTING,
        "RollingUpdate",
    ),
    (
        "ready but not rolled out",
        Observed(
            cr_body(),
            statefulset(update_revision="survival-r2", updated_replicas=0),
            pod(ready=True, revision="survival-r2"),
        ),
        Phase.STARTING,
        "RollingUpdate",
    ),
    (
        "old pod with an old error while rolling out the fix",
        Observed(
            cr_body(),
            statefulset(update_revision="survival-r2", updated_replicas=0),
            pod(state=waiting("ImagePullBackOff"), revision="survival-r1"),
        ),
        Phase.STARTING,
        "RollingUpdate",
    ),
    # Running.
    ("running", Observed(cr_body(), statefulset(), RUNNING_POD, pvc()), Phase.RUNNING, "Running"),
    (
        "running, revisions not yet equal but all replicas updated",
        Observed(
            cr_body(),
            statefulset(update_revision="survival-r2", updated_replicas=1),
            pod(ready=True, revision="survival-r2"),
        ),
        Phase.RUNNING,
        "Running",
    ),
]


@pytest.mark.parametrize(
    ("observed", "phase", "reason"),
    [pytest.param(o, p, r, id=case_id) for case_id, o, p, r in CASES],
)
def test_derive(observed: Observed, phase: Phase, reason: str) -> None:
    derived = derive(observed, NOW)
    assert (derived.phase, derived.reason) == (phase, reason)
    assert derived.message
    assert "\n" not in derived.message
    assert derived.ready is (phase is Phase.RUNNING)
    assert derived.degraded is (phase is Phase.ERROR)
    if phase in (Phase.STARTING, Phase.TERMINATING):
        assert derived.progressing
    if phase in (Phase.RUNNING, Phase.ERROR):
        assert not derived.progressing


def test_every_phase_and_error_reason_is_covered() -> None:
    assert {phase for _, _, phase, _ in CASES} == set(Phase)
    errors = {reason for _, _, phase, reason in CASES if phase is Phase.ERROR}
    assert errors == {
        "CrashLoop",
        "OOMKilled",
        "ImagePullFailed",
        "ConfigError",
        "SettingsRejected",
        "Unschedulable",
    }


def test_progressing_while_stopping_only() -> None:
    stopped = derive(Observed(STOPPED_BODY, statefulset(replicas=0)), NOW)
    stopping = derive(Observed(STOPPED_BODY, statefulset(replicas=1), RUNNING_POD), NOW)
    assert (stopped.progressing, stopping.progressing) == (False, True)


def test_settings_rejected_message_names_the_error_line() -> None:
    derived = derive(
        Observed(cr_body(), statefulset(), pod(state=terminated(1, REJECTED_LOG))), NOW
    )
    assert "exit code 1" in derived.message
    assert "version 9.9.9 is not a valid version" in derived.message


def test_unschedulable_message_carries_the_scheduler_message() -> None:
    observed = Observed(
        cr_body(), statefulset(), unscheduled_pod(ago(300), "0/3 nodes: Insufficient memory")
    )
    assert "Insufficient memory" in derive(observed, NOW).message


def test_out_of_memory_crash_says_so() -> None:
    observed = Observed(
        cr_body(),
        statefulset(),
        pod(state=waiting("CrashLoopBackOff"), last_state=terminated(137, reason="OOMKilled")),
    )
    assert "memory" in derive(observed, NOW).message


def test_long_details_are_shortened() -> None:
    observed = Observed(cr_body(), statefulset(), pod(state=waiting("ErrImagePull", "x" * 5000)))
    assert len(derive(observed, NOW).message) < 400


def test_grace_constant() -> None:
    assert timedelta(seconds=120) == UNSCHEDULABLE_GRACE


def test_naive_now_is_utc() -> None:
    observed = Observed(cr_body(), statefulset(), unscheduled_pod(ago(121)))
    assert derive(observed, NOW.replace(tzinfo=None)).phase is Phase.ERROR


def test_derive_is_pure() -> None:
    observed = Observed(cr_body(), statefulset(), RUNNING_POD, pvc(), service())
    assert derive(observed, NOW) == derive(observed, NOW)


# --- address ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("svc", "the_pod", "display"),
    [
        pytest.param(None, RUNNING_POD, None, id="no service"),
        pytest.param(service(), RUNNING_POD, "10.96.0.10:25565", id="cluster ip"),
        pytest.param(service(cluster_ip="None"), RUNNING_POD, None, id="headless"),
        pytest.param(
            service(cluster_ip="fd00::10"), RUNNING_POD, "[fd00::10]:25565", id="cluster ipv6"
        ),
        pytest.param(
            service("NodePort", node_port=30565), RUNNING_POD, "10.0.0.7:30565", id="node port"
        ),
        pytest.param(service("NodePort", node_port=30565), None, None, id="node port, no pod"),
        pytest.param(service("NodePort"), RUNNING_POD, None, id="node port not allocated"),
        pytest.param(service("LoadBalancer"), RUNNING_POD, None, id="load balancer pending"),
        pytest.param(
            service("LoadBalancer", ingress=[{"ip": "203.0.113.9"}]),
            RUNNING_POD,
            "203.0.113.9:25565",
            id="load balancer ip",
        ),
        pytest.param(
            service("LoadBalancer", ingress=[{"hostname": "lb.example.com"}]),
            RUNNING_POD,
            "lb.example.com:25565",
            id="load balancer hostname",
        ),
    ],
)
def test_address(
    svc: dict[str, Any] | None, the_pod: dict[str, Any] | None, display: str | None
) -> None:
    observed = Observed(cr_body(), statefulset(), the_pod, pvc(), svc)
    address = derive_address(observed)
    assert (address.display if address else None) == display
    assert derive(observed, NOW).address == address


@pytest.mark.parametrize(
    ("svc", "reach"),
    [
        (service(), AddressReach.CLUSTER),
        (service("NodePort", node_port=30565), AddressReach.NODE_PORT),
        (service("LoadBalancer", ingress=[{"ip": "203.0.113.9"}]), AddressReach.LOAD_BALANCER),
    ],
)
def test_the_address_says_how_far_it_reaches(svc: dict[str, Any], reach: AddressReach) -> None:
    address = derive_address(Observed(cr_body(), statefulset(), RUNNING_POD, pvc(), svc))
    assert address is not None and address.reach is reach


def test_derived_defaults() -> None:
    derived = Derived(Phase.STARTING, "Creating", "Creating.")
    assert (derived.ready, derived.progressing, derived.degraded, derived.address) == (
        False,
        False,
        False,
        None,
    )


def _limited_pod(**kwargs: Any) -> dict[str, Any]:
    body = pod(**kwargs)
    body["spec"]["containers"] = [
        {"name": "minecraft", "resources": {"limits": {"memory": "512Mi"}}}
    ]
    for status in body["status"]["containerStatuses"]:
        status["name"] = "minecraft"
    return body


@pytest.mark.parametrize(
    ("case", "kwargs", "reason"),
    [
        (
            "killed just now",
            {"state": {"terminated": {"exitCode": 137, "reason": "OOMKilled"}}},
            "OOMKilled",
        ),
        (
            "backing off after",
            {
                "state": waiting("CrashLoopBackOff"),
                "last_state": terminated(137, reason="OOMKilled"),
            },
            "OOMKilled",
        ),
        (
            "restarted, not ready yet",
            {"state": {"running": {}}, "last_state": terminated(137, reason="OOMKilled")},
            "OOMKilled",
        ),
    ],
)
def test_out_of_memory_is_its_own_error(case: str, kwargs: dict[str, Any], reason: str) -> None:
    derived = derive(Observed(cr_body(), statefulset(), _limited_pod(**kwargs)), NOW)
    assert (derived.phase, derived.reason) == (Phase.ERROR, reason), case
    assert "its 512Mi memory limit" in derived.message
    assert "set spec.resources.memory to at least 1Gi" in derived.message


def test_a_ready_server_is_running_whatever_killed_it_before() -> None:
    body = _limited_pod(state={"running": {}}, last_state=terminated(137, reason="OOMKilled"))
    body["status"]["containerStatuses"][0]["ready"] = True
    body["status"]["conditions"] = [{"type": "Ready", "status": "True"}]
    assert derive(Observed(cr_body(), statefulset(), body), NOW).phase is Phase.RUNNING
