"""The CR -> event mapping both the operator and the gateway use."""

from __future__ import annotations

from typing import Any

import pytest

from craftplane.contracts.cr_events import phase_event, spec_event
from craftplane.contracts.events import EventType
from craftplane.contracts.status import Phase

pytestmark = pytest.mark.unit


def body(**status: Any) -> dict[str, Any]:
    return {
        "metadata": {"uid": "u", "namespace": "ns", "name": "n", "generation": 4,
                     "resourceVersion": "9"},
        "spec": {"type": "FABRIC"},
        "status": status,
    }  # fmt: skip


def test_no_phase_no_event() -> None:
    assert phase_event(body(), None) is None
    assert phase_event(body(phase="Exploded"), None) is None


def test_phase_event_from_the_status() -> None:
    event = phase_event(body(phase="Error", message="crash loop", observedGeneration=3), "t")
    assert event is not None
    assert (event.type, event.phase, event.generation, event.message, event.revision) == (
        EventType.K8S_ERROR, Phase.ERROR, 3, "crash loop", "9",
    )  # fmt: skip
    assert event.server.tenant == "t"


def test_spec_events_default_type_and_version_as_the_crd_does() -> None:
    created = spec_event(EventType.SERVER_CREATED, body(), None)
    assert (created.server_type, created.version, created.message) == (
        "FABRIC", "LATEST", "FABRIC LATEST",
    )  # fmt: skip
    assert created.phase is None and created.generation == 4
    deleted = spec_event(EventType.SERVER_DELETED, body(), None)
    assert deleted.phase is Phase.TERMINATING
    with pytest.raises(ValueError, match="not a spec event"):
        spec_event(EventType.K8S_RUNNING, body(), None)
