"""spec.service: how the game port is exposed, and the hostnames the router may route to it.

Hostnames are a shared namespace on a shared cluster, so the rules a tenant's spec meets here
are the ones no other server's claim can decide: the shape of each name (a lowercase DNS name
of at least two labels, never a wildcard), how many (``hostnames.MAX_CUSTOM_HOSTNAMES``, each at
most ``hostnames.MAX_HOSTNAME`` characters, which bounds the cost of every CEL rule over them),
no repeats. Whether a name is *granted* depends on every other server (the oldest claim holds
it) and on the platform's game domain (names under it are reserved): the operator decides
that and reports it on the HostnamesAccepted condition.

The router's own annotations (``mc-router.itzg.me/*``) on the Service are the operator's to
write from the hostnames it granted; a spec that sets one is refused, so a tenant cannot
route another tenant's hostname, become a shared mc-router's default server, or point it at
an arbitrary address.
"""

from __future__ import annotations

from collections import Counter
from typing import Annotated, Any, Final, Self

from pydantic import (
    AfterValidator,
    ConfigDict,
    Field,
    StringConstraints,
    field_validator,
    model_validator,
)

from craftplane.contracts import hostnames
from craftplane.contracts.base import CEL_KEY, ApiModel, cel_rule, cel_rules
from craftplane.contracts.spec_values import NODE_PORT_MAX, NODE_PORT_MIN, ServiceType
from craftplane.contracts.text import (
    MAX_MAP_ENTRIES,
    AnnotationValue,
    QualifiedName,
    qualified_keys_rules,
)

# The operator writes these on the Service (MC_ROUTER_HOSTNAMES from the granted hostnames).
MC_ROUTER_PREFIX: Final = "mc-router.itzg.me/"
MC_ROUTER_HOSTNAMES: Final = f"{MC_ROUTER_PREFIX}externalServerName"
MC_ROUTER_MESSAGE: Final = (
    f"annotations with the prefix {MC_ROUTER_PREFIX} are the platform's (it routes the "
    "hostnames it granted); ask for hostnames in spec.service.hostnames"
)

# hostnames.HOSTNAME_PATTERN bounds the length with a look-ahead, which neither the API
# server's regular expressions (RE2) nor pydantic-core's support: the schema states the same
# labels, with the length as maxLength beside them.
_LENGTH_LOOKAHEAD: Final = "(?=.{1,253}$)"
HOSTNAME_LABELS_PATTERN: Final = "^" + hostnames.HOSTNAME_PATTERN.removeprefix(
    "^" + _LENGTH_LOOKAHEAD
)
if "(?" in HOSTNAME_LABELS_PATTERN:  # the contract's pattern changed shape: say so at import
    raise RuntimeError("hostnames.HOSTNAME_PATTERN no longer starts with its length look-ahead")

WILDCARD_MESSAGE: Final = "wildcards are not routed; list each hostname"
LOWERCASE_MESSAGE: Final = "hostnames are written in lowercase"


def hostname_problem(name: str) -> str | None:
    """Why ``name`` cannot be a custom hostname, in words; None when it can."""
    if "*" in name:
        return f"{name!r}: {WILDCARD_MESSAGE}"
    if name != name.lower():
        return f"{name!r}: {LOWERCASE_MESSAGE} ({name.lower()!r})"
    if len(name) > hostnames.MAX_HOSTNAME:
        return f"a hostname is at most {hostnames.MAX_HOSTNAME} characters"
    if not hostnames.valid_hostname(name):
        return (
            f"{name!r} is not a hostname: two or more dot-separated labels of lowercase letters, "
            "digits and '-' (not at either end of a label), each at most 63 characters"
        )
    return None


def _checked_hostname(name: str) -> str:
    problem = hostname_problem(name)
    if problem is not None:
        raise ValueError(problem)
    return name


Hostname = Annotated[
    str,
    StringConstraints(max_length=hostnames.MAX_HOSTNAME),
    AfterValidator(_checked_hostname),
    # The pattern is checked by the validator above with a clearer message; the CRD states it
    # for the API server, with the two usual mistakes spelt out by CEL rules.
    Field(
        json_schema_extra={
            "pattern": HOSTNAME_LABELS_PATTERN,
            **cel_rules(
                cel_rule("!self.contains('*')", WILDCARD_MESSAGE),
                cel_rule("self == self.lowerAscii()", LOWERCASE_MESSAGE),
            ),
        }
    ),
]


def _annotation_rules() -> dict[str, Any]:
    return cel_rules(
        *qualified_keys_rules()[CEL_KEY],
        cel_rule(f"self.all(k, !k.startsWith('{MC_ROUTER_PREFIX}'))", MC_ROUTER_MESSAGE),
    )


class ServiceSpec(ApiModel):
    """The Service exposing the game port (25565). RCON is never exposed outside the cluster."""

    model_config = ConfigDict(
        json_schema_extra=cel_rules(
            cel_rule(
                "!has(self.nodePort) || self.type == 'NodePort'",
                "nodePort may only be set when type is NodePort",
                field_path=".nodePort",
                reason="FieldValueForbidden",
            ),
        )
    )

    type: ServiceType = Field(
        default=ServiceType.CLUSTER_IP,
        description=(
            "ClusterIP: reachable inside the cluster only, or through the platform's router by "
            "hostname when it has one (status.address says which). NodePort: on a port of every "
            "node. LoadBalancer: on an external IP from the cloud provider."
        ),
    )
    annotations: dict[QualifiedName, AnnotationValue] = Field(
        default={},
        max_length=MAX_MAP_ENTRIES,
        description=(
            "Annotations for the Service, e.g. to configure a cloud load balancer or "
            f"external-dns: at most {MAX_MAP_ENTRIES}, keys as Kubernetes qualified names "
            "(optional DNS prefix and '/', then up to 63 characters). Keys starting with "
            f"{MC_ROUTER_PREFIX} are refused: the operator sets {MC_ROUTER_HOSTNAMES} to the "
            "granted hostnames (status.hostnames), so an mc-router watching the cluster routes "
            "them too."
        ),
        json_schema_extra=_annotation_rules(),
    )
    node_port: int | None = Field(
        default=None,
        ge=NODE_PORT_MIN,
        le=NODE_PORT_MAX,
        description=(
            f"Fixed node port ({NODE_PORT_MIN}-{NODE_PORT_MAX}) for type NodePort; "
            f"Kubernetes picks one when omitted. Refused for other types."
        ),
    )
    hostnames: list[Hostname] = Field(
        default=[],
        max_length=hostnames.MAX_CUSTOM_HOSTNAMES,
        description=(
            f"Custom hostnames players may join by through the platform's router (at most "
            f"{hostnames.MAX_CUSTOM_HOSTNAMES}, lowercase DNS names such as play.example.com, "
            "no wildcards, no repeats), besides the server's own <server>.<tenant>.<game "
            "domain>. Point their DNS at the router. A name under the platform's game domain "
            "is refused (those are given, not chosen), and a name another server asked for "
            "first stays that server's: condition HostnamesAccepted says which were refused "
            "and why; status.hostnames lists those routed."
        ),
        json_schema_extra={"x-kubernetes-list-type": "set"},
    )
    proxy_protocol: bool = Field(
        default=False,
        description=(
            "The router opens each connection to this server with a PROXY protocol v2 header "
            "carrying the player's own address (so bans and logs see players, not the "
            "router). The server must be configured to expect it, or it refuses every player "
            "coming through the router: Paper's proxies.proxy-protocol: true in "
            "config/paper-global.yml, Velocity's haproxy-protocol = true. A server expecting "
            "it refuses connections without the header, which includes the operator's "
            "player-count ping."
        ),
    )

    @model_validator(mode="after")
    def _node_port_needs_node_port_type(self) -> Self:
        if self.node_port is not None and self.type is not ServiceType.NODE_PORT:
            raise ValueError("nodePort may only be set when type is NodePort")
        return self

    @field_validator("hostnames")
    @classmethod
    def _hostnames_once_each(cls, names: list[str]) -> list[str]:
        repeated = sorted(name for name, count in Counter(names).items() if count > 1)
        if repeated:
            raise ValueError(f"{', '.join(repeated)} listed more than once")
        return names

    @field_validator("annotations")
    @classmethod
    def _router_annotations_are_the_platforms(cls, annotations: dict[str, str]) -> dict[str, str]:
        taken = sorted(key for key in annotations if key.startswith(MC_ROUTER_PREFIX))
        if taken:
            raise ValueError(f"{', '.join(taken)}: {MC_ROUTER_MESSAGE}")
        return annotations
