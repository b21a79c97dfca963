"""Placement: configuration sends chosen namespaces' servers to a node pool, image included."""

from __future__ import annotations

import pytest

from craftplane.contracts.spec import DEFAULT_IMAGE, MinecraftServerSpec
from craftplane_operator.builders import ServerContext, build_statefulset
from craftplane_operator.placement import Placement, placed

pytestmark = pytest.mark.unit

TOLERATION = {"key": "pool", "operator": "Equal", "value": "game", "effect": "NoSchedule"}
PLACEMENT = Placement.model_validate(
    {
        "namespaces": ["tenant-demo", "real-*"],
        "image": "localhost/craftplane/server:1",
        "nodeSelector": {"pool": "game"},
        "tolerations": [TOLERATION],
        "storageClassName": "local",
    }
)


def server(namespace: str, **spec: object) -> ServerContext:
    return ServerContext(
        name="s",
        namespace=namespace,
        uid="u",
        generation=1,
        spec=MinecraftServerSpec.model_validate({"eula": True, **spec}),
    )


@pytest.mark.parametrize(
    ("namespace", "applies"),
    [("tenant-demo", True), ("real-x1", True), ("tenant-other", False), ("xreal-1", False)],
)
def test_namespaces_by_name_or_pattern(namespace: str, applies: bool) -> None:
    assert PLACEMENT.applies_to(namespace) is applies


def test_a_placed_server_gets_the_pool_image_and_storage_class() -> None:
    result = placed(server("real-1"), PLACEMENT)
    assert result.spec.image == "localhost/craftplane/server:1"
    assert result.spec.scheduling.node_selector == {"pool": "game"}
    assert [
        t.model_dump(by_alias=True, exclude_none=True) for t in result.spec.scheduling.tolerations
    ] == [TOLERATION]
    assert result.spec.storage.storage_class_name == "local"
    pod = build_statefulset(result, "h")["spec"]["template"]["spec"]
    assert pod["nodeSelector"] == {"pool": "game"}


def test_the_image_the_spec_chose_is_kept_but_the_pool_selector_and_storage_win() -> None:
    result = placed(
        server(
            "real-1",
            image="example/custom:1",
            storage={"storageClassName": "fast"},
            scheduling={"nodeSelector": {"pool": "other", "zone": "a"}},
        ),
        PLACEMENT,
    )
    assert result.spec.image == "example/custom:1"
    assert result.spec.storage.storage_class_name == "local"
    assert result.spec.scheduling.node_selector == {"pool": "game", "zone": "a"}


def test_other_namespaces_and_no_placement_are_untouched() -> None:
    original = server("tenant-other")
    assert placed(original, PLACEMENT) is original
    assert placed(original, None) is original
    assert original.spec.image == DEFAULT_IMAGE
