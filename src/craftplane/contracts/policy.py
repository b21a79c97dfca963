"""`CraftplanePolicy`: what the servers of a tenant may ask for, decided by the cluster admin.

Cluster-scoped, so a tenant's RBAC (namespaced) can neither read nor change it. A tenant
namespace names its policy with the ``craftplane.io/policy`` label; without one it has the
policy named ``default``. The ValidatingAdmissionPolicy in ``contracts.admission`` enforces it
for every client (the gateway, kubectl, GitOps controllers); `craftplane tenant create` turns
its ``quota`` into the namespace's ResourceQuota and LimitRange; the operator resolves a
server's ``spec.placement`` through its ``placements``.

Every default is the safe choice: the itzg image and the sandbox image, ClusterIP only, no
Service annotations, no fixed node ports, no raw scheduling, and modest per-server maxima.
"""

from __future__ import annotations

from typing import Annotated, Final, Self

from pydantic import ConfigDict, Field, StringConstraints, model_validator

from craftplane.contracts.base import ApiModel, cel_rule, cel_rules
from craftplane.contracts.scheduling import Affinity, Toleration
from craftplane.contracts.spec_values import (
    NODE_PORT_MAX,
    NODE_PORT_MIN,
    Cpu,
    Memory,
    ServiceType,
    Size,
)
from craftplane.contracts.text import (
    MAX_MAP_ENTRIES,
    LabelValue,
    OneLine,
    QualifiedName,
    qualified_keys_rules,
)

POLICY_KIND: Final = "CraftplanePolicy"
POLICY_PLURAL: Final = "craftplanepolicies"
POLICY_SINGULAR: Final = "craftplanepolicy"
POLICY_SHORT_NAMES: Final = ("cpp",)
# On a tenant namespace: the name of its CraftplanePolicy.
POLICY_LABEL: Final = "craftplane.io/policy"
DEFAULT_POLICY: Final = "default"

# The images a policy allows unless it says otherwise: itzg's (as Docker Hub names it, short
# and long) and the sandbox's stand-in, built on the node and never pulled.
DEFAULT_IMAGE_REPOSITORIES: Final = (
    "itzg/minecraft-server",
    "docker.io/itzg/minecraft-server",
    "localhost/craftplane/server",
)
MAX_POLICY_ITEMS: Final = 64
# A repository: registry host and path, no tag and no digest (those are what varies).
REPOSITORY_PATTERN: Final = r"^[a-z0-9]([-a-z0-9._:]*[a-z0-9])?(/[a-z0-9]([-a-z0-9._]*[a-z0-9])?)*$"
PROFILE_NAME_PATTERN: Final = r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$"

Repository = Annotated[str, StringConstraints(pattern=REPOSITORY_PATTERN, max_length=255)]
ProfileName = Annotated[str, StringConstraints(pattern=PROFILE_NAME_PATTERN, max_length=63)]
StorageClassName = Annotated[
    str, StringConstraints(pattern=r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$", max_length=253)
]


def image_allowed(image: str, repositories: list[str]) -> bool:
    """Whether ``image`` is one of ``repositories``, bare, with a tag or with a digest (the
    same test as the admission rule's)."""
    return any(
        image == repo or image.startswith(f"{repo}:") or image.startswith(f"{repo}@")
        for repo in repositories
    )


class NodePortRange(ApiModel):
    """The node ports a tenant's servers may ask for by number, both ends included."""

    model_config = ConfigDict(
        json_schema_extra=cel_rules(
            cel_rule("self.min <= self.max", "min must not exceed max", field_path=".min")
        )
    )

    min: int = Field(ge=NODE_PORT_MIN, le=NODE_PORT_MAX, description="Lowest node port.")
    max: int = Field(ge=NODE_PORT_MIN, le=NODE_PORT_MAX, description="Highest node port.")

    @model_validator(mode="after")
    def _ordered(self) -> Self:
        if self.min > self.max:
            raise ValueError("min must not exceed max")
        return self


class ServerMaxima(ApiModel):
    """The most one server may ask for."""

    cpu: Cpu = Field(default="4", description="Largest spec.resources.cpu.")
    memory: Memory = Field(default="16Gi", description="Largest spec.resources.memory.")
    storage: Size = Field(default="100Gi", description="Largest spec.storage.size.")


class TenantQuota(ApiModel):
    """What all servers of one tenant may use together: the namespace's ResourceQuota."""

    servers: int = Field(default=10, ge=0, le=10_000, description="Most MinecraftServers.")
    cpu: Cpu = Field(default="8", description="Sum of the servers' CPU.")
    memory: Memory = Field(default="32Gi", description="Sum of the servers' memory.")
    storage: Size = Field(default="500Gi", description="Sum of the world volumes' sizes.")


class PlacementProfile(ApiModel):
    """Where servers naming this profile in spec.placement run: written by the admin, so a
    tenant picks a node pool without being able to tolerate any taint or select any node."""

    name: ProfileName = Field(description="The name spec.placement uses.")
    description: OneLine = Field(default="", max_length=256, description="For the tenant.")
    node_selector: dict[QualifiedName, LabelValue] = Field(
        default={},
        max_length=MAX_MAP_ENTRIES,
        description="Node labels the server's node must have.",
        json_schema_extra=qualified_keys_rules(),
    )
    tolerations: list[Toleration] = Field(
        default=[], max_length=32, description="Taints the server's pod tolerates."
    )
    affinity: Affinity | None = Field(default=None, description="Node and pod affinity.")


class CraftplanePolicySpec(ApiModel):
    """What a spec in a namespace bound to this policy may ask for."""

    model_config = ConfigDict(
        json_schema_extra=cel_rules(
            cel_rule(
                "!has(self.defaultPlacement) || "
                "self.placements.exists(p, p.name == self.defaultPlacement)",
                "defaultPlacement must name one of placements",
                field_path=".defaultPlacement",
            ),
            cel_rule(
                "self.placements.all(p, self.placements.exists_one(q, q.name == p.name))",
                "placement names must be unique",
                field_path=".placements",
            ),
        )
    )

    images: list[Repository] = Field(
        default=list(DEFAULT_IMAGE_REPOSITORIES),
        max_length=MAX_POLICY_ITEMS,
        description=(
            "Image repositories servers may run (spec.image is one of them with any tag or "
            "digest). Write each as the tenants do: itzg/minecraft-server and "
            "docker.io/itzg/minecraft-server are different strings."
        ),
    )
    service_types: list[ServiceType] = Field(
        default=[ServiceType.CLUSTER_IP],
        max_length=3,
        description="Service types servers may ask for (spec.service.type).",
    )
    service_annotation_keys: list[QualifiedName] = Field(
        default=[],
        max_length=MAX_POLICY_ITEMS,
        description=(
            "Service annotation keys servers may set (spec.service.annotations), e.g. a cloud "
            "load balancer's settings. None by default: external-dns or MetalLB annotations "
            "would let a tenant claim hostnames or addresses."
        ),
    )
    node_ports: NodePortRange | None = Field(
        default=None,
        description=(
            "Node ports servers may ask for by number (spec.service.nodePort). Without it a "
            "fixed node port is refused; NodePort servers get one Kubernetes picks."
        ),
    )
    storage_classes: list[StorageClassName] = Field(
        default=[],
        max_length=MAX_POLICY_ITEMS,
        description=(
            "StorageClasses servers may name (spec.storage.storageClassName); servers that "
            "name none use the cluster's default class, which is always allowed."
        ),
    )
    max_per_server: ServerMaxima = Field(
        default=ServerMaxima(), description="The most one server may ask for."
    )
    quota: TenantQuota = Field(
        default=TenantQuota(),
        description="The tenant's total, applied to its namespace as a ResourceQuota.",
    )
    placements: list[PlacementProfile] = Field(
        default=[],
        max_length=MAX_POLICY_ITEMS,
        description="Placement profiles servers may name in spec.placement.",
    )
    default_placement: ProfileName | None = Field(
        default=None, description="The profile of servers that name none."
    )
    raw_scheduling: bool = Field(
        default=False,
        description=(
            "Allow spec.scheduling (raw nodeSelector, tolerations, affinity). Off by default: "
            "any toleration or node selector lets a server onto nodes not meant for it."
        ),
    )

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        names = [p.name for p in self.placements]
        if len(set(names)) != len(names):
            raise ValueError("placement names must be unique")
        if self.default_placement is not None and self.default_placement not in names:
            raise ValueError("defaultPlacement must name one of placements")
        return self

    def profile(self, name: str | None) -> PlacementProfile | None:
        """The profile a server with spec.placement ``name`` gets (the default when None)."""
        wanted = name if name is not None else self.default_placement
        return next((p for p in self.placements if p.name == wanted), None)
