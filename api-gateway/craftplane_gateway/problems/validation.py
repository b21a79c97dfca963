"""Pydantic validation errors as field errors, paths as the client sent them."""

from __future__ import annotations

import functools
import typing
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Final

from pydantic import BaseModel, ValidationError

from craftplane.contracts.spec import MinecraftServerSpec
from craftplane_gateway.problems.details import ROOT_FIELD, FieldError, Problem, unprocessable

_VALUE_ERROR_PREFIXES: Final = ("Value error, ", "Assertion failed, ")


def _models_in(annotation: Any) -> Iterable[type[BaseModel]]:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        yield annotation
    for arg in typing.get_args(annotation):
        yield from _models_in(arg)


@functools.cache
def _aliases() -> dict[str, str]:
    """Python field name -> camelCase alias, over the spec's models."""
    found: dict[str, str] = {}
    seen: set[type[BaseModel]] = set()
    todo: list[type[BaseModel]] = [MinecraftServerSpec]
    while todo:
        model = todo.pop()
        if model in seen:
            continue
        seen.add(model)
        for name, info in model.model_fields.items():
            if info.alias and info.alias != name:
                found[name] = info.alias
            todo.extend(_models_in(info.annotation))
    return found


def field_path(loc: Iterable[int | str], prefix: str = "") -> str:
    """A pydantic ``loc`` as a dotted path: ``spec.env[0].name``, ``spec.x[some key]``."""
    path = prefix
    parts = list(loc)
    for index, part in enumerate(parts):
        if isinstance(part, int):
            path += f"[{part}]"
        elif part == "[key]":
            # The preceding part was a mapping key, already in the path.
            continue
        elif index + 1 < len(parts) and parts[index + 1] == "[key]":
            path += f"[{part}]"
        else:
            path = f"{path}.{part}" if path else part
    return path or ROOT_FIELD


def _aliased(loc: Sequence[int | str], error_type: str) -> list[int | str]:
    # The key a client sent is reported as sent when it is unknown; a known
    # field reached by its Python name (a model built in code) gets its alias.
    aliases = _aliases()
    last = len(loc) - 1
    return [
        aliases.get(part, part)
        if isinstance(part, str) and not (i == last and error_type == "extra_forbidden")
        else part
        for i, part in enumerate(loc)
    ]


def _message(error: Mapping[str, Any]) -> str:
    msg = str(error.get("msg", "invalid value"))
    for head in _VALUE_ERROR_PREFIXES:
        if msg.startswith(head):
            msg = msg[len(head) :]
    if error.get("type") == "extra_forbidden":
        return "unknown field"
    if tuple(error.get("loc", ()))[-1:] == ("[key]",):
        msg = f"invalid key: {msg}"
    return msg


def field_errors(exc: ValidationError, *, prefix: str = "") -> list[FieldError]:
    """The field errors of a pydantic ValidationError, paths as in the request body.

    Paths are the keys the client sent, which are the camelCase aliases: the
    gateway validates with ``by_name=False`` so snake_case keys are unknown.
    Input values are left out: they may be long, or secret.
    """
    return [
        FieldError(
            field=field_path(_aliased(error["loc"], error["type"]), prefix),
            message=_message(error),
        )
        for error in exc.errors(include_url=False, include_input=False)
    ]


def from_validation_error(exc: ValidationError, *, prefix: str = "") -> Problem:
    """422 naming every invalid field; ``prefix`` (e.g. ``"spec"``) is put before each path."""
    return unprocessable(field_errors(exc, prefix=prefix))
