"""`spec.scheduling`: where the server pod may run, as typed mirrors of the Pod's own fields.

Typed rather than free-form so that a junk key or a wrong operator is refused with a field
path by the REST API and by the API server at apply time, instead of failing later when the
operator writes the StatefulSet. Every list and string is bounded. Pod affinity terms have
no ``namespaces`` nor ``namespaceSelector``: they select pods of the tenant's own namespace
only, so a tenant cannot probe for pods in other namespaces.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Final, Self

from pydantic import ConfigDict, Field, model_validator

from craftplane.contracts.base import ApiModel, cel_rule, cel_rules
from craftplane.contracts.text import (
    MAX_MAP_ENTRIES,
    LabelValue,
    QualifiedName,
    qualified_keys_rules,
)

MAX_TOLERATIONS: Final = 32
MAX_TERMS: Final = 16
MAX_EXPRESSIONS: Final = 16
MAX_VALUES: Final = 64
MAX_TOLERATION_SECONDS: Final = 31_536_000  # a year; the API server's field is int64


class TolerationOperator(StrEnum):
    EXISTS = "Exists"
    EQUAL = "Equal"


class TaintEffect(StrEnum):
    NO_SCHEDULE = "NoSchedule"
    PREFER_NO_SCHEDULE = "PreferNoSchedule"
    NO_EXECUTE = "NoExecute"


class SelectorOperator(StrEnum):
    IN = "In"
    NOT_IN = "NotIn"
    EXISTS = "Exists"
    DOES_NOT_EXIST = "DoesNotExist"


class NodeSelectorOperator(StrEnum):
    IN = "In"
    NOT_IN = "NotIn"
    EXISTS = "Exists"
    DOES_NOT_EXIST = "DoesNotExist"
    GT = "Gt"
    LT = "Lt"


_VALUES_RULE: Final = (
    "self.operator in ['In', 'NotIn'] ? (has(self.values) && size(self.values) > 0) : "
    "self.operator in ['Gt', 'Lt'] ? (has(self.values) && size(self.values) == 1 && "
    "self.values[0].matches(r'^-?[0-9]+$')) : (!has(self.values) || size(self.values) == 0)"
)
_VALUES_MESSAGE: Final = (
    "values must be non-empty for In and NotIn, one integer for Gt and Lt, and empty for "
    "Exists and DoesNotExist"
)


def _check_values(operator: str, values: list[str] | None) -> None:
    count = len(values or [])
    if operator in ("In", "NotIn"):
        ok = count > 0
    elif operator in ("Gt", "Lt"):
        ok = count == 1 and (values or [""])[0].lstrip("-").isdigit()
    else:
        ok = count == 0
    if not ok:
        raise ValueError(_VALUES_MESSAGE)


class Toleration(ApiModel):
    """A taint the pod tolerates, as in a Pod spec."""

    model_config = ConfigDict(
        json_schema_extra=cel_rules(
            cel_rule(
                "!has(self.operator) || self.operator != 'Exists' || "
                "!has(self.value) || self.value == ''",
                "value must be empty when operator is Exists",
                field_path=".value",
            ),
            cel_rule(
                "(has(self.key) && self.key != '') || "
                "(has(self.operator) && self.operator == 'Exists')",
                "operator must be Exists when key is empty (tolerate every taint)",
                field_path=".operator",
            ),
            cel_rule(
                "!has(self.tolerationSeconds) || (has(self.effect) && self.effect == 'NoExecute')",
                "tolerationSeconds may only be set when effect is NoExecute",
                field_path=".tolerationSeconds",
            ),
        )
    )

    key: QualifiedName | None = Field(
        default=None, description="Taint key; empty with operator Exists tolerates every taint."
    )
    operator: TolerationOperator | None = Field(
        default=None, description="Exists or Equal (the default): how key and value match."
    )
    value: LabelValue | None = Field(
        default=None, description="Taint value for operator Equal; empty for Exists."
    )
    effect: TaintEffect | None = Field(
        default=None,
        description="NoSchedule, PreferNoSchedule or NoExecute; every effect when omitted.",
    )
    toleration_seconds: int | None = Field(
        default=None,
        ge=0,
        le=MAX_TOLERATION_SECONDS,
        description="With NoExecute: how long the pod stays bound after the taint appears.",
    )

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        exists = self.operator is TolerationOperator.EXISTS
        if exists and self.value:
            raise ValueError("value must be empty when operator is Exists")
        if not self.key and not exists:
            raise ValueError("operator must be Exists when key is empty (tolerate every taint)")
        if self.toleration_seconds is not None and self.effect is not TaintEffect.NO_EXECUTE:
            raise ValueError("tolerationSeconds may only be set when effect is NoExecute")
        return self


class LabelSelectorRequirement(ApiModel):
    """One expression of a label selector."""

    model_config = ConfigDict(json_schema_extra=cel_rules(cel_rule(_VALUES_RULE, _VALUES_MESSAGE)))

    key: QualifiedName = Field(description="Label key the expression tests.")
    operator: SelectorOperator = Field(description="In, NotIn, Exists or DoesNotExist.")
    values: list[LabelValue] | None = Field(
        default=None,
        max_length=MAX_VALUES,
        description="Values for In and NotIn; empty for Exists and DoesNotExist.",
    )

    @model_validator(mode="after")
    def _values_fit(self) -> Self:
        _check_values(self.operator.value, self.values)
        return self


class LabelSelector(ApiModel):
    """Pods of the tenant's namespace, by their labels."""

    match_labels: dict[QualifiedName, LabelValue] | None = Field(
        default=None,
        max_length=MAX_MAP_ENTRIES,
        description="Labels the pods must carry, key to value.",
        json_schema_extra=qualified_keys_rules(),
    )
    match_expressions: list[LabelSelectorRequirement] | None = Field(
        default=None, max_length=MAX_EXPRESSIONS, description="Expressions the labels satisfy."
    )


class NodeSelectorRequirement(ApiModel):
    """One expression over a node's labels."""

    model_config = ConfigDict(json_schema_extra=cel_rules(cel_rule(_VALUES_RULE, _VALUES_MESSAGE)))

    key: QualifiedName = Field(description="Node label key the expression tests.")
    operator: NodeSelectorOperator = Field(
        description="In, NotIn, Exists, DoesNotExist, Gt or Lt (Gt/Lt compare one integer)."
    )
    values: list[LabelValue] | None = Field(
        default=None,
        max_length=MAX_VALUES,
        description="Values for In and NotIn, one integer for Gt and Lt, none otherwise.",
    )

    @model_validator(mode="after")
    def _values_fit(self) -> Self:
        _check_values(self.operator.value, self.values)
        return self


class NodeSelectorTerm(ApiModel):
    """Expressions a node must all satisfy."""

    match_expressions: list[NodeSelectorRequirement] | None = Field(
        default=None, max_length=MAX_EXPRESSIONS, description="Expressions over node labels."
    )


class NodeSelector(ApiModel):
    """Terms of which a node must satisfy at least one."""

    node_selector_terms: list[NodeSelectorTerm] = Field(
        min_length=1, max_length=MAX_TERMS, description="Terms, any of which suffices."
    )


class PreferredSchedulingTerm(ApiModel):
    """A weighted node preference."""

    weight: int = Field(ge=1, le=100, description="Weight of this preference, 1-100.")
    preference: NodeSelectorTerm = Field(description="Nodes this preference favours.")


class NodeAffinity(ApiModel):
    """Which nodes the pod must or should run on."""

    required_during_scheduling_ignored_during_execution: NodeSelector | None = Field(
        default=None, description="Nodes the pod may only run on."
    )
    preferred_during_scheduling_ignored_during_execution: list[PreferredSchedulingTerm] | None = (
        Field(default=None, max_length=MAX_TERMS, description="Nodes the pod prefers.")
    )


class PodAffinityTerm(ApiModel):
    """Pods of the tenant's own namespace, and the topology domain shared with them."""

    label_selector: LabelSelector | None = Field(
        default=None, description="Pods of this namespace the term is about."
    )
    topology_key: QualifiedName = Field(
        min_length=1,
        description="Node label defining the domain (e.g. kubernetes.io/hostname).",
    )


class WeightedPodAffinityTerm(ApiModel):
    """A weighted pod (anti-)affinity preference."""

    weight: int = Field(ge=1, le=100, description="Weight of this preference, 1-100.")
    pod_affinity_term: PodAffinityTerm = Field(description="The pods and the domain.")


class PodAffinity(ApiModel):
    """Run near (affinity) or away from (anti-affinity) pods of the tenant's namespace."""

    required_during_scheduling_ignored_during_execution: list[PodAffinityTerm] | None = Field(
        default=None, max_length=MAX_TERMS, description="Terms the pod's node must satisfy."
    )
    preferred_during_scheduling_ignored_during_execution: list[WeightedPodAffinityTerm] | None = (
        Field(default=None, max_length=MAX_TERMS, description="Terms the scheduler favours.")
    )


class Affinity(ApiModel):
    """Affinity of the pod, as in a Pod spec; pod terms apply within this namespace only."""

    node_affinity: NodeAffinity | None = Field(default=None, description="Node affinity.")
    pod_affinity: PodAffinity | None = Field(
        default=None, description="Run near pods of this namespace."
    )
    pod_anti_affinity: PodAffinity | None = Field(
        default=None, description="Run away from pods of this namespace (e.g. other servers)."
    )


class Scheduling(ApiModel):
    """Where the server pod may run."""

    node_selector: dict[QualifiedName, LabelValue] = Field(
        default={},
        max_length=MAX_MAP_ENTRIES,
        description="Node labels the pod's node must have, as in a Pod's nodeSelector.",
        json_schema_extra=qualified_keys_rules(),
    )
    tolerations: list[Toleration] = Field(
        default=[],
        max_length=MAX_TOLERATIONS,
        description="Tolerations of the pod, as in a Pod spec (key, operator, value, effect).",
    )
    affinity: Affinity | None = Field(
        default=None,
        description=(
            "Affinity of the pod, as in a Pod spec (nodeAffinity, podAffinity, "
            "podAntiAffinity). Pod affinity terms select pods of this namespace only: "
            "namespaces and namespaceSelector are not accepted."
        ),
    )
