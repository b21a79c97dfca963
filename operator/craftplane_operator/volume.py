"""What to do when `spec.storage` no longer matches the world volume (pure: no I/O).

A StatefulSet's volumeClaimTemplates are immutable, so a changed size never reaches the PVC
by itself. Growing is done on the PVC directly (the API server checks that its StorageClass
allows expansion); shrinking and changing the class are impossible for a volume that exists,
and are reported instead of silently ignored.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from craftplane.contracts.quantity import parse_quantity
from craftplane.contracts.spec import Storage

STORAGE_NOT_APPLIED: Final = "StorageNotApplied"


@dataclass(frozen=True)
class VolumePlan:
    patch: dict[str, Any] | None = None  # merge patch growing the PVC
    problem: str | None = None  # why spec.storage cannot be applied as asked


def requested_size(pvc: Mapping[str, Any]) -> str | None:
    value = ((pvc.get("spec") or {}).get("resources") or {}).get("requests", {}).get("storage")
    return str(value) if value else None


def plan_volume(storage: Storage, pvc: Mapping[str, Any] | None) -> VolumePlan:
    if pvc is None or pvc.get("metadata", {}).get("deletionTimestamp"):
        return VolumePlan()  # the StatefulSet creates it from the template
    current = requested_size(pvc)
    wanted_class = storage.storage_class_name
    actual_class = (pvc.get("spec") or {}).get("storageClassName")
    if wanted_class and actual_class and wanted_class != actual_class:
        return VolumePlan(
            problem=(
                f"storage.storageClassName {wanted_class} cannot be applied: the world volume "
                f"exists with class {actual_class}, and a volume's class cannot change"
            )
        )
    if current is None:
        return VolumePlan()
    wanted, have = parse_quantity(storage.size), parse_quantity(current)
    if wanted > have:
        return VolumePlan(patch={"spec": {"resources": {"requests": {"storage": storage.size}}}})
    if wanted < have:
        return VolumePlan(
            problem=(
                f"storage.size {storage.size} is smaller than the world volume ({current}); "
                f"volumes cannot shrink, so it keeps {current}"
            )
        )
    return VolumePlan()


@dataclass(frozen=True)
class VolumeResize:
    name: str
    size: str
    patch: dict[str, Any]


def plan_resize(
    storage: Storage, pvc: Mapping[str, Any] | None, refusal: str | None
) -> tuple[VolumeResize | None, str | None]:
    """The resize to ask for, and the problem to report when spec.storage cannot apply."""
    if refusal is not None:
        # Refused by admission, typically a StorageClass without allowVolumeExpansion.
        return None, f"the world volume cannot grow to {storage.size}: {refusal}"
    volume = plan_volume(storage, pvc)
    if volume.patch is None or pvc is None:
        return None, volume.problem
    return VolumeResize(pvc["metadata"]["name"], storage.size, volume.patch), None
