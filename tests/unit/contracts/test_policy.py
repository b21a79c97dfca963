"""CraftplanePolicy: its model, its generated CRD and admission policy, and their agreement."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from pydantic import ValidationError

from craftplane.contracts import admission, policy_crd
from craftplane.contracts.policy import (
    DEFAULT_IMAGE_REPOSITORIES,
    CraftplanePolicySpec,
    image_allowed,
)
from craftplane.contracts.spec import DEFAULT_IMAGE
from craftplane.testing.hostile import HOSTILE_SPECS

pytestmark = pytest.mark.unit

ROOT = Path(__file__).parents[3]


def test_the_checked_in_policy_crd_is_generated() -> None:
    path = ROOT / "crds" / "craftplanepolicies.craftplane.io.yaml"
    assert path.read_text() == policy_crd.render_yaml(), (
        "regenerate: python -m craftplane.contracts.policy_crd > " + str(path.relative_to(ROOT))
    )


def test_the_checked_in_admission_policy_is_generated() -> None:
    path = ROOT / "manifests" / "admission" / "tenant-policy.yaml"
    assert path.read_text() == admission.render_yaml(), (
        "regenerate: python -m craftplane.contracts.admission > " + str(path.relative_to(ROOT))
    )


def test_the_default_policy_is_the_safe_one() -> None:
    manifest = yaml.safe_load(
        (ROOT / "manifests" / "admission" / "default-policy.yaml").read_text()
    )
    assert manifest["metadata"]["name"] == "default"
    spec = CraftplanePolicySpec.model_validate(manifest["spec"])
    assert spec.service_types == ["ClusterIP"]
    assert (spec.service_annotation_keys, spec.storage_classes, spec.placements) == ([], [], [])
    assert spec.node_ports is None and not spec.raw_scheduling
    # The default server image must pass the default policy.
    assert image_allowed(DEFAULT_IMAGE, list(DEFAULT_IMAGE_REPOSITORIES))


def test_the_crd_defaults_spec_to_the_model_defaults() -> None:
    root = policy_crd.build_crd()["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
    default = root["properties"]["spec"]["default"]
    assert CraftplanePolicySpec.model_validate(default) == CraftplanePolicySpec()


@pytest.mark.parametrize(
    ("image", "allowed"),
    [
        ("itzg/minecraft-server", True),
        ("itzg/minecraft-server:java21", True),
        ("itzg/minecraft-server@sha256:" + "a" * 64, True),
        ("itzg/minecraft-server-evil:1", False),
        ("evil.io/itzg/minecraft-server:1", False),
        ("docker.io/itzg/minecraft-server:1", True),
    ],
)
def test_image_allowed_is_repository_exact(image: str, allowed: bool) -> None:
    assert image_allowed(image, list(DEFAULT_IMAGE_REPOSITORIES)) is allowed


@pytest.mark.parametrize(
    "spec",
    [
        {"placements": [{"name": "a"}, {"name": "a"}]},
        {"defaultPlacement": "b", "placements": [{"name": "a"}]},
        {"nodePorts": {"min": 30500, "max": 30400}},
        {"nodePorts": {"min": 80, "max": 30400}},
        {"images": ["Not A Repo"]},
        {"serviceTypes": ["ExternalName"]},
        {"placements": [{"name": "a", "tolerations": [{"operator": "Sometimes"}]}]},
    ],
)
def test_inconsistent_policies_are_refused(spec: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        CraftplanePolicySpec.model_validate(spec)


def test_profile_falls_back_to_the_default_placement() -> None:
    spec = CraftplanePolicySpec.model_validate(
        {"placements": [{"name": "a"}, {"name": "b"}], "defaultPlacement": "b"}
    )
    assert spec.profile("a") is not None and spec.profile("a").name == "a"  # type: ignore[union-attr]
    assert spec.profile(None) is not None and spec.profile(None).name == "b"  # type: ignore[union-attr]
    assert spec.profile("c") is None


def test_every_rule_has_a_unique_name_and_ratchets() -> None:
    names = [rule.name for rule in admission.RULES]
    assert len(set(names)) == len(names)
    for rule in admission.RULES:
        expression = rule.expression()
        assert expression.startswith("!variables.applies || (request.operation == 'UPDATE'")
        assert "oldObject.spec" in expression, rule.name
        assert f"rule {rule.name})" in rule.message_expression()


def test_the_hostile_list_covers_every_rule() -> None:
    # nodePorts needs a policy that allows NodePort at all: test_hostile_kubectl's ratchet test.
    assert {h.rule for h in HOSTILE_SPECS} | {"nodePorts"} == {r.name for r in admission.RULES}
    assert {h.field for h in HOSTILE_SPECS} <= {rule.field_path for rule in admission.RULES}
