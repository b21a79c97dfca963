"""spec.service.hostnames and proxyProtocol, status.hostnames / internalAddress /
address.reach, and the events carrying them: pydantic and the CRD refuse the same names."""

from __future__ import annotations

import hashlib
import json
import re
from typing import Any

import pytest
from pydantic import ValidationError

from craftplane.contracts import crd, hostnames
from craftplane.contracts.base import CEL_KEY
from craftplane.contracts.cr_events import ObservedServer, phase_event
from craftplane.contracts.events import Event, EventType, ServerRef, msg_id
from craftplane.contracts.service import (
    HOSTNAME_LABELS_PATTERN,
    MC_ROUTER_HOSTNAMES,
    MC_ROUTER_PREFIX,
    ServiceSpec,
    hostname_problem,
)
from craftplane.contracts.spec import MinecraftServerSpec
from craftplane.contracts.status import Address, AddressReach, Phase, ServerStatus
from craftplane.contracts.structural import Schema

pytestmark = pytest.mark.unit


def spec(**service: Any) -> MinecraftServerSpec:
    return MinecraftServerSpec.model_validate({"eula": True, "service": service})


def refusal(**service: Any) -> tuple[tuple[int | str, ...], str]:
    with pytest.raises(ValidationError) as info:
        spec(**service)
    (error,) = info.value.errors()
    return tuple(error["loc"]), str(error["msg"])


def test_defaults_ask_for_nothing() -> None:
    service = ServiceSpec()
    assert (service.hostnames, service.proxy_protocol) == ([], False)


def test_hostnames_and_proxy_protocol_are_taken_as_written() -> None:
    service = spec(hostnames=["play.example.com", "a.b"], proxyProtocol=True).service
    assert service.hostnames == ["play.example.com", "a.b"]
    assert service.proxy_protocol is True


@pytest.mark.parametrize(
    ("names", "loc", "words"),
    [
        (["Play.example.com"], ("service", "hostnames", 0), "lowercase ('play.example.com')"),
        (["*.example.com"], ("service", "hostnames", 0), "wildcards are not routed"),
        (["ok.example.com", "localhost"], ("service", "hostnames", 1), "is not a hostname"),
        (["-x.example.com"], ("service", "hostnames", 0), "is not a hostname"),
        (["a..example.com"], ("service", "hostnames", 0), "is not a hostname"),
        (["x" * 64 + ".example.com"], ("service", "hostnames", 0), "is not a hostname"),
        ([("a" * 63 + ".") * 4 + "com"], ("service", "hostnames", 0), "at most 253"),
        (["a.example.com", "a.example.com"], ("service", "hostnames"), "more than once"),
        ([f"s{i}.example.com" for i in range(9)], ("service", "hostnames"), "at most 8"),
    ],
)
def test_bad_hostnames_are_refused_naming_the_field(
    names: list[str], loc: tuple[int | str, ...], words: str
) -> None:
    where, message = refusal(hostnames=names)
    assert where == loc
    assert words in message


@pytest.mark.parametrize(
    "key", [MC_ROUTER_HOSTNAMES, f"{MC_ROUTER_PREFIX}defaultServer", f"{MC_ROUTER_PREFIX}x"]
)
def test_the_routers_annotations_are_refused(key: str) -> None:
    where, message = refusal(annotations={key: "victim.example.com"})
    assert where == ("service", "annotations")
    assert key in message and "spec.service.hostnames" in message


def test_other_annotations_still_pass() -> None:
    service = spec(annotations={"mc-router.itzg.me.example.com/x": "y", "a/b": "c"}).service
    assert len(service.annotations) == 2


# --- the CRD says the same ------------------------------------------------------


def service_schema() -> Schema:
    node: Schema = crd.spec_schema()["properties"]["service"]
    return node


def test_the_crd_bounds_the_hostnames_so_cel_cost_is_bounded() -> None:
    node = service_schema()["properties"]["hostnames"]
    assert node["type"] == "array" and node["default"] == []
    assert node["maxItems"] == hostnames.MAX_CUSTOM_HOSTNAMES
    assert node["x-kubernetes-list-type"] == "set"
    items = node["items"]
    assert items["maxLength"] == hostnames.MAX_HOSTNAME
    assert items["pattern"] == HOSTNAME_LABELS_PATTERN
    assert [r["rule"] for r in items[CEL_KEY]] == [
        "!self.contains('*')",
        "self == self.lowerAscii()",
    ]


def test_the_crd_pattern_has_no_look_around_re2_would_refuse() -> None:
    assert "(?" not in HOSTNAME_LABELS_PATTERN
    assert "(?" not in json.dumps(crd.build_crd())


SAMPLES = [
    "play.example.com",
    "a.b",
    "10.0.0.1",
    "xn--bcher-kva.example",
    "localhost",
    "*.example.com",
    "Play.example.com",
    "-bad.example.com",
    "bad-.example.com",
    "a..b",
    ".a.b",
    "a.b.",
    "under_score.example.com",
    "x" * 63 + ".example.com",
    "x" * 64 + ".example.com",
    ("a" * 63 + ".") * 3 + "a" * 61,  # 253
    ("a" * 63 + ".") * 3 + "a" * 62,  # 254
]


@pytest.mark.parametrize("name", SAMPLES)
def test_the_crd_pattern_with_its_max_length_is_the_contracts_rule(name: str) -> None:
    in_crd = re.fullmatch(HOSTNAME_LABELS_PATTERN, name) is not None and len(name) <= 253
    assert in_crd == hostnames.valid_hostname(name)
    assert in_crd == (hostname_problem(name) is None)


def test_the_crd_refuses_router_annotation_keys() -> None:
    rules = [r["rule"] for r in service_schema()["properties"]["annotations"][CEL_KEY]]
    assert f"self.all(k, !k.startsWith('{MC_ROUTER_PREFIX}'))" in rules


def test_the_crd_has_proxy_protocol_off_by_default() -> None:
    node = service_schema()["properties"]["proxyProtocol"]
    assert (node["type"], node["default"]) == ("boolean", False)
    assert "PROXY protocol v2" in node["description"]


def test_the_status_schema_lists_hostnames_and_the_internal_address() -> None:
    status = crd.status_schema()["properties"]
    assert status["hostnames"]["items"]["pattern"] == HOSTNAME_LABELS_PATTERN
    assert status["hostnames"]["maxItems"] == hostnames.MAX_CUSTOM_HOSTNAMES + 1
    for key in ("address", "internalAddress"):
        reach = status[key]["properties"]["reach"]
        assert reach["enum"] == ["router", "loadBalancer", "nodePort", "cluster"]
    condition_types = status["conditions"]["items"]["properties"]["type"]["enum"]
    assert "HostnamesAccepted" in condition_types


def test_kubectl_get_still_shows_the_address_players_join_by() -> None:
    (column,) = [c for c in crd.PRINTER_COLUMNS if c["name"] == "Address"]
    assert column["jsonPath"] == ".status.address.display"


def test_an_address_says_how_far_it_reaches_and_displays_as_before() -> None:
    address = Address(host="survival.acme.mc.example.com", port=25566, reach=AddressReach.ROUTER)
    assert address.display == "survival.acme.mc.example.com:25566"
    status = ServerStatus.model_validate(
        {"address": address, "internalAddress": {"host": "10.96.0.10", "port": 25565}}
    )
    dumped = status.model_dump(mode="json", by_alias=True, exclude_none=True)
    assert dumped["address"]["reach"] == "router"
    assert dumped["internalAddress"] == {
        "host": "10.96.0.10",
        "port": 25565,
        "display": "10.96.0.10:25565",
    }
    assert dumped["hostnames"] == []


# --- events ---------------------------------------------------------------------

REF = ServerRef(uid="u1", namespace="team-a", name="survival", tenant="acme")


def running(**fields: Any) -> Event:
    return Event(
        type=EventType.K8S_RUNNING,
        server=REF,
        phase=Phase.RUNNING,
        generation=2,
        address="10.0.0.1",
        port=25565,
        **fields,
    )


def test_an_event_without_the_new_fields_keeps_its_old_id() -> None:
    old = ["k8s.running", "u1", 2, "Running", "10.0.0.1", 25565, None, None, None]
    expected = hashlib.sha256(json.dumps(old, separators=(",", ":")).encode()).hexdigest()
    assert msg_id(running()) == expected


def test_hostnames_and_reach_are_part_of_the_state() -> None:
    ids = {
        msg_id(running()),
        msg_id(running(reach="cluster")),
        msg_id(running(reach="router", hostnames=["a.example.com"])),
        msg_id(running(reach="router", hostnames=["a.example.com", "b.example.com"])),
        msg_id(running(reach="router", hostnames=[])),
    }
    assert len(ids) == 5


def test_the_cr_mapping_reads_hostnames_and_reach() -> None:
    body = {
        "metadata": {"uid": "u1", "namespace": "team-a", "name": "survival", "generation": 2},
        "status": {
            "phase": "Running",
            "address": {"host": "survival.acme.mc.example.com", "port": 25566, "reach": "router"},
            "hostnames": ["survival.acme.mc.example.com", "shop.example.com"],
        },
    }
    event = phase_event(body, "acme")
    assert event is not None
    assert event.reach == "router"
    assert event.hostnames == ["survival.acme.mc.example.com", "shop.example.com"]
    assert event.address == "survival.acme.mc.example.com" and event.port == 25566


@pytest.mark.parametrize("raw", [None, "a.example.com", ["a.example.com", 7], {"a": 1}])
def test_a_malformed_hostname_list_is_absent(raw: Any) -> None:
    body = {"metadata": {"uid": "u", "namespace": "n", "name": "s"}, "status": {"hostnames": raw}}
    assert ObservedServer.from_cr(body, None).hostnames is None
