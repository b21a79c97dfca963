"""The backup resources' contracts: generated CRDs, spec.backups validation."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from craftplane.contracts import backup_crd
from craftplane.contracts.backup import BackupPolicy, MinecraftBackupSpec, Retention
from craftplane.contracts.spec import MinecraftServerSpec

ROOT = Path(__file__).resolve().parents[3]


@pytest.mark.parametrize(
    ("which", "path"),
    [
        ("backup", "crds/minecraftbackups.craftplane.io.yaml"),
        ("restore", "crds/minecraftrestores.craftplane.io.yaml"),
    ],
)
def test_the_checked_in_backup_crds_are_generated(which: str, path: str) -> None:
    assert (ROOT / path).read_text() == backup_crd.render_yaml(which), "regenerate: make crds"


def test_the_specs_are_immutable_and_namespaced() -> None:
    for build in (backup_crd.build_backup_crd, backup_crd.build_restore_crd):
        crd = build()
        assert crd["spec"]["scope"] == "Namespaced"
        spec = crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]
        assert {"rule": "self == oldSelf", "message": "spec is immutable; create a new one"} in (
            spec["x-kubernetes-validations"]
        )


def test_a_server_has_no_schedule_and_keeps_seven_by_default() -> None:
    spec = MinecraftServerSpec.model_validate({"eula": True})
    assert spec.backups.schedule is None
    assert spec.backups.retention == Retention(keep_last=7)
    assert spec.restore_from is None


@pytest.mark.parametrize(
    ("field", "value"),
    [("schedule", "61 * * * *"), ("schedule", "every hour"), ("timeZone", "Mars/Olympus")],
)
def test_a_bad_schedule_or_zone_is_refused(field: str, value: str) -> None:
    with pytest.raises(ValidationError) as raised:
        BackupPolicy.model_validate({"schedule": "0 * * * *", field: value})
    assert raised.value.errors()[0]["loc"] == (field,)


@pytest.mark.parametrize("server", ["", "Upper", "a.b", "x" * 53, "-lead"])
def test_a_backup_names_a_server_by_its_dns_label(server: str) -> None:
    with pytest.raises(ValidationError):
        MinecraftBackupSpec.model_validate({"server": server})
