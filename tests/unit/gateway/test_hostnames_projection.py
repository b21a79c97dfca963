"""The join address and hostnames through the gateway: event -> projection row -> API object
and WebSocket frame, never regressing, and the migration that adds their columns."""

from __future__ import annotations

import json
import re
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from craftplane.contracts.cr_events import phase_event
from craftplane.contracts.events import Event, EventType, ServerRef
from craftplane.contracts.status import Phase
from craftplane_gateway import schemas, ws_frames
from craftplane_gateway.db.migrate import load_migrations
from craftplane_gateway.db.models import COLUMNS, ClusterServer, hostname_list, stored_hostnames
from craftplane_gateway.db.rules import Verdict, fold, project, unprojectable
from craftplane_gateway.frames import delta_from_event, delta_from_row, public_server
from craftplane_gateway.routes.servers import server_out

pytestmark = pytest.mark.unit

REF = ServerRef(uid="u-1", namespace="team-a", name="survival", tenant="acme")
T0 = datetime(2025, 1, 1, 12, 0, tzinfo=UTC)
CANONICAL = "survival.acme.mc.example.com"


def running(revision: str, **fields: Any) -> Event:
    fields.setdefault("address", CANONICAL)
    fields.setdefault("port", 25566)
    return Event(
        type=EventType.K8S_RUNNING,
        server=REF,
        phase=Phase.RUNNING,
        generation=2,
        revision=revision,
        time=T0 + timedelta(seconds=int(revision)),
        **fields,
    )


ROUTED = running("10", reach="router", hostnames=[CANONICAL, "shop.example.com"])


def test_a_state_event_projects_the_join_address_and_hostnames() -> None:
    row = fold(None, ROUTED, 1)
    assert (row.address, row.port, row.reach) == (CANONICAL, 25566, "router")
    assert row.hostnames == f"{CANONICAL},shop.example.com"
    view = public_server(row.to_json())
    assert view["hostnames"] == [CANONICAL, "shop.example.com"]
    assert view["reach"] == "router"


def test_an_event_that_does_not_list_hostnames_keeps_the_rows() -> None:
    row = fold(None, ROUTED, 1)
    older_operator = running("11", address="10.96.0.10", port=25565)
    after = fold(row, older_operator, 2)
    assert after.hostnames == row.hostnames
    assert (after.address, after.reach) == ("10.96.0.10", None)  # the address goes whole
    emptied = fold(after, running("12", reach="cluster", hostnames=[]), 3)
    assert emptied.hostnames == "" and hostname_list(emptied.hostnames) == []


def test_an_older_state_never_takes_the_hostnames_back() -> None:
    row = fold(None, running("20", reach="router", hostnames=[CANONICAL]), 1)
    late = running("19", reach="router", hostnames=[CANONICAL, "old.example.com"])
    verdict, kept = project(row, late, 2)
    assert verdict is Verdict.STALE and kept == row


def test_hostnames_and_reach_are_visible_changes() -> None:
    row = fold(None, ROUTED, 1)
    assert replace(row, hostnames=CANONICAL).visible() != row.visible()
    assert replace(row, reach="cluster").visible() != row.visible()


def test_a_nul_in_a_hostname_is_dead_lettered_not_stored() -> None:
    assert unprojectable(running("1", hostnames=["a\x00.example.com"])) is not None
    assert unprojectable(running("1", reach="rou\x00ter")) is not None
    assert unprojectable(ROUTED) is None


@pytest.mark.parametrize(
    ("stored", "names"),
    [(None, []), ("", []), ("a.example.com", ["a.example.com"]), ("a.b,c.d", ["a.b", "c.d"])],
)
def test_the_hostnames_column_round_trips(stored: str | None, names: list[str]) -> None:
    assert hostname_list(stored) == names
    if stored is not None:
        assert stored_hostnames(names) == stored
    assert stored_hostnames(None) is None


def test_the_api_object_lists_hostnames_and_the_join_address() -> None:
    out = server_out(fold(None, ROUTED, 1)).model_dump(mode="json", by_alias=True)
    assert out["address"] == CANONICAL and out["port"] == 25566
    assert out["reach"] == "router"
    assert out["hostnames"] == [CANONICAL, "shop.example.com"]


def test_a_row_from_before_the_migration_reads_as_not_said() -> None:
    row = replace(fold(None, running("1", address="10.96.0.10", port=25565), 1), hostnames=None)
    out = server_out(row).model_dump(mode="json", by_alias=True)
    assert (out["reach"], out["hostnames"]) == (None, [])


def as_sent(frame: dict[str, Any]) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(json.dumps(frame, default=str))
    return loaded


def test_event_frames_carry_what_the_row_will_say() -> None:
    delta = delta_from_event(ROUTED)
    assert delta is not None
    server = delta.frame["server"]
    assert (server["reach"], server["hostnames"]) == ("router", [CANONICAL, "shop.example.com"])
    frame = ws_frames.SERVER_FRAME.validate_python(as_sent(delta.frame))
    assert isinstance(frame, ws_frames.EventFrame) and frame.server.hostnames == server["hostnames"]
    # An event that does not list hostnames says nothing about them (the row keeps its own).
    quiet = delta_from_event(running("11"))
    assert quiet is not None and "hostnames" not in quiet.frame["server"]


def test_polled_frames_carry_them_too() -> None:
    cr = {
        "metadata": {"uid": "u-1", "namespace": "team-a", "name": "survival", "generation": 2,
                     "resourceVersion": "10"},
        "status": {"phase": "Running",
                   "address": {"host": CANONICAL, "port": 25566, "reach": "router"},
                   "hostnames": [CANONICAL]},
    }  # fmt: skip
    operator, polled = phase_event(cr, "acme"), ClusterServer.from_cr(cr, "acme").phase_event()
    assert operator is not None and polled is not None
    assert polled.id == operator.id  # the gateway's poll and the operator's event are one
    row = fold(None, operator, None)
    sent = as_sent(delta_from_row(row.to_json()).frame)
    assert sent["server"]["hostnames"] == [CANONICAL] and sent["server"]["reach"] == "router"
    coerced = ClusterServer.coerce({"uid": "u-1", "namespace": "n", "name": "s",
                                    "hostnames": f"{CANONICAL},b.example.com"})  # fmt: skip
    assert coerced.hostnames == (CANONICAL, "b.example.com")


def test_the_wire_models_document_the_fields() -> None:
    out = schemas.ServerOut.model_json_schema(by_alias=True)["properties"]
    assert {"reach", "hostnames", "address", "port"} <= set(out)
    assert "cluster" in json.dumps(out["reach"])
    assert {"reach", "hostnames"} <= set(ws_frames.ServerDelta.model_json_schema()["properties"])


def test_the_migration_adds_the_columns_cockroachdb_can_add_online() -> None:
    migration = load_migrations()[-1]
    assert (migration.version, migration.name) == (4, "hostnames")
    statements = [s.strip() for s in re.sub(r"--[^\n]*", "", migration.sql).split(";") if s.strip()]
    assert statements == [
        "ALTER TABLE servers ADD COLUMN reach text DEFAULT NULL, "
        "ADD COLUMN hostnames text DEFAULT NULL"
    ]
    assert {"reach", "hostnames"} <= set(COLUMNS)
