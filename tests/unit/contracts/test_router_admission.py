"""The router's admission policy: generated from the contracts (a test fails when the checked-in
copy drifts), matched for the router's identity alone, and spelling the wake annotations and
their formats exactly as the router writes them and the operator reads them.

The CEL itself is evaluated by the API server only (tests/deploy checks it there)."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

import pytest
import yaml

from craftplane.contracts import router_admission
from craftplane.contracts.hibernation import (
    JOIN_REQUESTER_PATTERN,
    TIME_PATTERN,
    WAKE_REQUEST_ANNOTATION,
    WAKE_REQUESTER_ANNOTATION,
    wake_annotations,
    wake_request,
)

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[3]
FILE = ROOT / "manifests" / "admission" / "router-wake.yaml"


def test_the_checked_in_policy_is_the_generated_one() -> None:
    assert FILE.read_text() == router_admission.render_yaml(), (
        "regenerate: python -m craftplane.contracts.router_admission > "
        "manifests/admission/router-wake.yaml"
    )
    kustomization = yaml.safe_load((FILE.parent / "Kustomization").read_text())
    assert FILE.name in kustomization["resources"]


def test_it_judges_the_routers_writes_only_and_every_one_of_them() -> None:
    policy, binding = yaml.safe_load_all(router_admission.render_yaml())
    (condition,) = policy["spec"]["matchConditions"]
    assert condition["expression"] == (
        "request.userInfo.username == 'system:serviceaccount:craftplane-system:craftplane-router'"
    )
    (rule,) = policy["spec"]["matchConstraints"]["resourceRules"]
    assert set(rule["operations"]) == {"CREATE", "UPDATE", "DELETE"}
    assert policy["spec"]["failurePolicy"] == "Fail"
    assert binding["spec"] == {
        "policyName": policy["metadata"]["name"],
        "validationActions": ["Deny"],
    }
    expressions = [v["expression"] for v in policy["spec"]["validations"]]
    assert "object.?spec.orValue({}) == oldObject.?spec.orValue({})" in expressions
    every = " ".join(expressions)
    for key in (WAKE_REQUEST_ANNOTATION, WAKE_REQUESTER_ANNOTATION):
        assert f"'{key}'" in every
    assert f"matches('{TIME_PATTERN}')" in every
    assert f"matches('{JOIN_REQUESTER_PATTERN}')" in every


@pytest.mark.parametrize("player", ["Steve", "a", "x" * 16, "Évil§name", ""])
def test_what_the_router_writes_passes_the_policys_patterns(player: str) -> None:
    written = wake_annotations(datetime(2025, 1, 1, 12, 0, 0, tzinfo=UTC), player)
    assert set(written) == set(router_admission.WAKE_KEYS)
    assert re.fullmatch(TIME_PATTERN, written[WAKE_REQUEST_ANNOTATION])
    assert re.fullmatch(JOIN_REQUESTER_PATTERN, written[WAKE_REQUESTER_ANNOTATION])
    found = wake_request(written)
    assert found is not None and found.by_join


@pytest.mark.parametrize("requester", ["alice", "join:", "join:two words", "join:" + "x" * 17])
def test_a_requester_the_router_must_not_write_fails_its_pattern(requester: str) -> None:
    assert not re.fullmatch(JOIN_REQUESTER_PATTERN, requester)
