"""The base model of the Kubernetes-facing API, and CEL rules attached to it."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict
from pydantic.alias_generators import to_camel

CEL_KEY = "x-kubernetes-validations"


class ApiModel(BaseModel):
    """camelCase on the wire (Kubernetes convention), snake_case in Python.

    Unknown fields are refused rather than dropped so that a typo such as
    ``maxplayers`` is an error in the REST API, as it is for ``kubectl apply``
    with server-side field validation.
    """

    model_config = ConfigDict(
        alias_generator=to_camel,
        populate_by_name=True,
        extra="forbid",
    )


def cel_rule(
    rule: str,
    message: str,
    *,
    field_path: str | None = None,
    reason: str | None = None,
) -> dict[str, Any]:
    """One ``x-kubernetes-validations`` entry.

    Every rule mirrors a pydantic validator next to it, so that the REST API
    and the API server refuse the same objects; the CRD generator copies these
    into the schema unchanged.
    """
    entry: dict[str, Any] = {"rule": rule, "message": message}
    if field_path is not None:
        entry["fieldPath"] = field_path
    if reason is not None:
        entry["reason"] = reason
    return entry


def cel_rules(*rules: dict[str, Any]) -> dict[str, Any]:
    """A ``json_schema_extra`` carrying CEL rules."""
    return {CEL_KEY: list(rules)}
