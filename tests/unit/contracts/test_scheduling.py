"""spec.scheduling is typed: the Pod's own shapes, unknown keys and wrong operators refused
with a field path, no cross-namespace pod terms, and the CRD says the same."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from craftplane.contracts import crd
from craftplane.contracts.base import CEL_KEY
from craftplane.contracts.spec import MinecraftServerSpec
from craftplane.contracts.structural import Schema

pytestmark = pytest.mark.unit

HOST = "kubernetes.io/hostname"
POD_TERM = {"labelSelector": {"matchLabels": {"app": "mc"}}, "topologyKey": HOST}


def scheduling(**body: Any) -> dict[str, Any]:
    return {"eula": True, "scheduling": body}


def locs(body: dict[str, Any]) -> list[tuple[int | str, ...]]:
    with pytest.raises(ValidationError) as info:
        MinecraftServerSpec.model_validate(body)
    return [tuple(error["loc"]) for error in info.value.errors()]


ACCEPTED: list[dict[str, Any]] = [
    {"tolerations": [{"key": "game", "operator": "Exists", "effect": "NoSchedule"}]},
    {"tolerations": [{"key": "pool", "operator": "Equal", "value": "game"}]},
    {"tolerations": [{"key": "pool", "value": "game"}]},  # operator defaults to Equal
    {"tolerations": [{"operator": "Exists"}]},  # every taint
    {
        "tolerations": [
            {
                "key": "node.kubernetes.io/unreachable",
                "operator": "Exists",
                "effect": "NoExecute",
                "tolerationSeconds": 30,
            }
        ]
    },
    {
        "affinity": {
            "nodeAffinity": {
                "requiredDuringSchedulingIgnoredDuringExecution": {
                    "nodeSelectorTerms": [
                        {
                            "matchExpressions": [
                                {"key": "disk", "operator": "In", "values": ["ssd"]}
                            ]
                        },
                        {"matchExpressions": [{"key": "cores", "operator": "Gt", "values": ["3"]}]},
                    ]
                },
                "preferredDuringSchedulingIgnoredDuringExecution": [
                    {
                        "weight": 10,
                        "preference": {
                            "matchExpressions": [{"key": "gpu", "operator": "DoesNotExist"}]
                        },
                    }
                ],
            }
        }
    },
    {"affinity": {"podAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [POD_TERM]}}},
    {
        "affinity": {
            "podAntiAffinity": {
                "preferredDuringSchedulingIgnoredDuringExecution": [
                    {"weight": 100, "podAffinityTerm": POD_TERM}
                ]
            }
        }
    },
]


@pytest.mark.parametrize("body", ACCEPTED)
def test_kubernetes_shapes_are_accepted_and_round_trip(body: dict[str, Any]) -> None:
    spec = MinecraftServerSpec.model_validate(scheduling(**body))
    dumped = spec.scheduling.model_dump(mode="json", by_alias=True, exclude_none=True)
    assert {k: v for k, v in dumped.items() if k in body} == body


AFFINITY = ("scheduling", "affinity")
NODE = (*AFFINITY, "nodeAffinity")
REQUIRED = "requiredDuringSchedulingIgnoredDuringExecution"
PREFERRED = "preferredDuringSchedulingIgnoredDuringExecution"
ANTI_PREFERRED = (*AFFINITY, "podAntiAffinity", PREFERRED, 0)

REFUSED: list[tuple[dict[str, Any], tuple[int | str, ...]]] = [
    ({"tolerations": [{"key": "a", "junk": 1}]}, ("scheduling", "tolerations", 0, "junk")),
    (
        {"tolerations": [{"key": "a", "operator": "Maybe"}]},
        ("scheduling", "tolerations", 0, "operator"),
    ),
    (
        {"tolerations": [{"key": "a", "effect": "NoRun"}]},
        ("scheduling", "tolerations", 0, "effect"),
    ),
    (
        {"tolerations": [{"key": "a", "operator": "Exists", "value": "x"}]},
        ("scheduling", "tolerations", 0),
    ),
    ({"tolerations": [{"value": "x"}]}, ("scheduling", "tolerations", 0)),
    ({"tolerations": [{"key": "a", "tolerationSeconds": 5}]}, ("scheduling", "tolerations", 0)),
    (
        {"tolerations": [{"key": "a", "effect": "NoExecute", "tolerationSeconds": -1}]},
        ("scheduling", "tolerations", 0, "tolerationSeconds"),
    ),
    (
        {"tolerations": [{"key": "bad key", "operator": "Exists"}]},
        ("scheduling", "tolerations", 0, "key"),
    ),
    ({"tolerations": [{"key": "a", "value": "x" * 64}]}, ("scheduling", "tolerations", 0, "value")),
    ({"tolerations": [{"operator": "Exists"}] * 33}, ("scheduling", "tolerations")),
    ({"tolerations": ["not-an-object"]}, ("scheduling", "tolerations", 0)),
    ({"affinity": {"nodeAfinity": {}}}, (*AFFINITY, "nodeAfinity")),
    ({"affinity": {"nodeAffinity": {"anything": ["goes"]}}}, (*NODE, "anything")),
    (
        {"affinity": {"nodeAffinity": {REQUIRED: {"nodeSelectorTerms": []}}}},
        (*NODE, REQUIRED, "nodeSelectorTerms"),
    ),
    (
        {
            "affinity": {
                "nodeAffinity": {
                    REQUIRED: {
                        "nodeSelectorTerms": [
                            {"matchExpressions": [{"key": "disk", "operator": "In"}]}
                        ]
                    }
                }
            }
        },
        (*NODE, REQUIRED, "nodeSelectorTerms", 0, "matchExpressions", 0),
    ),
    (
        {
            "affinity": {
                "nodeAffinity": {
                    REQUIRED: {
                        "nodeSelectorTerms": [
                            {
                                "matchExpressions": [
                                    {"key": "cores", "operator": "Gt", "values": ["many"]}
                                ]
                            }
                        ]
                    }
                }
            }
        },
        (*NODE, REQUIRED, "nodeSelectorTerms", 0, "matchExpressions", 0),
    ),
    (
        {
            "affinity": {
                "nodeAffinity": {
                    REQUIRED: {
                        "nodeSelectorTerms": [
                            {
                                "matchExpressions": [
                                    {"key": "gpu", "operator": "Exists", "values": ["x"]}
                                ]
                            }
                        ]
                    }
                }
            }
        },
        (*NODE, REQUIRED, "nodeSelectorTerms", 0, "matchExpressions", 0),
    ),
    (
        {"affinity": {"nodeAffinity": {PREFERRED: [{"weight": 0, "preference": {}}]}}},
        (*NODE, PREFERRED, 0, "weight"),
    ),
    (
        {
            "affinity": {
                "podAntiAffinity": {PREFERRED: [{"weight": 101, "podAffinityTerm": POD_TERM}]}
            }
        },
        (*ANTI_PREFERRED, "weight"),
    ),
    (
        {"affinity": {"podAffinity": {REQUIRED: [{**POD_TERM, "namespaces": ["other-tenant"]}]}}},
        (*AFFINITY, "podAffinity", REQUIRED, 0, "namespaces"),
    ),
    (
        {
            "affinity": {
                "podAntiAffinity": {
                    PREFERRED: [
                        {"weight": 1, "podAffinityTerm": {**POD_TERM, "namespaceSelector": {}}}
                    ]
                }
            }
        },
        (*ANTI_PREFERRED, "podAffinityTerm", "namespaceSelector"),
    ),
    (
        {"affinity": {"podAffinity": {REQUIRED: [{"labelSelector": {}}]}}},
        (*AFFINITY, "podAffinity", REQUIRED, 0, "topologyKey"),
    ),
    (
        {"affinity": {"podAffinity": {REQUIRED: [{"topologyKey": ""}]}}},
        (*AFFINITY, "podAffinity", REQUIRED, 0, "topologyKey"),
    ),
    (
        {
            "affinity": {
                "podAffinity": {
                    REQUIRED: [
                        {
                            "topologyKey": HOST,
                            "labelSelector": {
                                "matchExpressions": [
                                    {"key": "app", "operator": "Gt", "values": ["1"]}
                                ]
                            },
                        }
                    ]
                }
            }
        },
        (*AFFINITY, "podAffinity", REQUIRED, 0, "labelSelector", "matchExpressions", 0, "operator"),
    ),
    (
        {"affinity": {"podAffinity": {REQUIRED: [POD_TERM] * 17}}},
        (*AFFINITY, "podAffinity", REQUIRED),
    ),
]


@pytest.mark.parametrize(("body", "loc"), REFUSED)
def test_junk_is_refused_with_a_field_path(
    body: dict[str, Any], loc: tuple[int | str, ...]
) -> None:
    assert loc in locs(scheduling(**body))


# --- the CRD -----------------------------------------------------------------


def node(*path: str) -> Schema:
    schema = crd.spec_schema()["properties"]["scheduling"]
    for part in path:
        schema = schema["items"] if part == "[]" else schema["properties"][part]
    return schema


def test_crd_tolerations_are_typed_and_bounded() -> None:
    tolerations = node("tolerations")
    assert tolerations["maxItems"] == 32
    item = tolerations["items"]
    assert set(item["properties"]) == {"key", "operator", "value", "effect", "tolerationSeconds"}
    assert item["properties"]["operator"]["enum"] == ["Exists", "Equal"]
    assert item["properties"]["effect"]["enum"] == ["NoSchedule", "PreferNoSchedule", "NoExecute"]
    messages = [rule["message"] for rule in item[CEL_KEY]]
    assert any("Exists" in m and "value" in m for m in messages)
    assert any("tolerationSeconds" in m for m in messages)


def test_crd_pod_terms_have_no_namespace_fields() -> None:
    for kind in ("podAffinity", "podAntiAffinity"):
        term = node("affinity", kind, REQUIRED, "[]")
        assert set(term["properties"]) == {"labelSelector", "topologyKey"}
        assert term["required"] == ["topologyKey"]
        weighted = node("affinity", kind, PREFERRED, "[]", "podAffinityTerm")
        assert set(weighted["properties"]) == {"labelSelector", "topologyKey"}
    assert "namespace" in node("affinity")["description"]


def test_crd_selector_requirements_check_their_values() -> None:
    requirement = node(
        "affinity", "nodeAffinity", REQUIRED, "nodeSelectorTerms", "[]", "matchExpressions", "[]"
    )
    assert requirement["properties"]["operator"]["enum"] == [
        "In",
        "NotIn",
        "Exists",
        "DoesNotExist",
        "Gt",
        "Lt",
    ]
    assert any("size(self.values)" in rule["rule"] for rule in requirement[CEL_KEY])
    weight = node("affinity", "podAntiAffinity", PREFERRED, "[]", "weight")
    assert (weight["minimum"], weight["maximum"]) == (1, 100)
