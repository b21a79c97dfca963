from __future__ import annotations

import pytest

from craftplane.contracts import names

pytestmark = pytest.mark.unit


def test_api_names() -> None:
    assert names.API_VERSION == "craftplane.io/v1alpha1"
    assert names.CRD_NAME == "minecraftservers.craftplane.io"
    assert names.FINALIZER == "craftplane.io/finalizer"
    assert names.PING_TARGET_ANNOTATION == "craftplane.io/ping-target"


def test_standard_labels() -> None:
    assert names.standard_labels("survival") == {
        "app.kubernetes.io/name": "minecraft-server",
        "app.kubernetes.io/instance": "survival",
        "app.kubernetes.io/managed-by": "craftplane-operator",
        "app.kubernetes.io/part-of": "craftplane",
        "craftplane.io/server": "survival",
    }


def test_selector_labels_are_a_subset_of_the_standard_ones() -> None:
    selector = names.selector_labels("survival")
    assert selector.items() <= names.standard_labels("survival").items()
    assert selector[names.LABEL_SERVER] == "survival"
