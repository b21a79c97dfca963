"""The Kubernetes API server's admission errors as field errors, paths as in the REST body."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, Final

from craftplane_gateway.problems.details import ROOT_FIELD, FieldError, Problem, unprocessable

# field.ErrorType strings in k8s.io/apimachinery/pkg/util/validation/field.
_KUBE_ERROR_TYPES: Final = (
    "Invalid value",
    "Unsupported value",
    "Required value",
    "Forbidden",
    "Too long",
    "Too many",
    "Duplicate value",
    "Not found",
    "Internal error",
)
_TYPES_RE: Final = "|".join(re.escape(t) for t in _KUBE_ERROR_TYPES)
_FIELD_RE: Final = r"[A-Za-z_.$][^\s:,\[\]]*(?:\[[^\]]*\][^\s:,\[\]]*)*"
_HEAD_RE: Final = re.compile(r'^.*?"[^"]*" is invalid: ', re.DOTALL)
_ERROR_START_RE: Final = re.compile(rf"(?:^|, )(?=(?:{_FIELD_RE}: )?(?:{_TYPES_RE})\b)")
_ERROR_RE: Final = re.compile(
    rf"^(?:(?P<field>{_FIELD_RE}): )?(?P<body>(?:{_TYPES_RE}).*)$", re.DOTALL
)
_VALUED_KINDS: Final = (
    "Invalid value",
    "Unsupported value",
    "Duplicate value",
    "Not found",
    "Too many",
    "Too long",
)
_VALUE_DETAIL_RE: Final = re.compile(
    r'^(?P<value>"(?:[^"\\]|\\.)*"|[^:\s]+): (?P<detail>.+)$', re.DOTALL
)
_UNKNOWN_FIELD_RE: Final = re.compile(r'unknown field "(?P<field>[^"]+)"')
_NOT_DECLARED_RE: Final = re.compile(r"(?P<field>\.[^\s:]+): field not declared in schema")
# A ValidatingAdmissionPolicy's denial; Craftplane's policy begins each message with the field.
_POLICY_DENIED_RE: Final = re.compile(
    r"ValidatingAdmissionPolicy '[^']*' with binding '[^']*' denied request: "
    r"(?:(?P<field>spec(?:\.[A-Za-z0-9]+)*): )?(?P<message>.+)$",
    re.DOTALL,
)


def _rest_field(field: str) -> str:
    """A Kubernetes field path as the REST body names it."""
    field = field.lstrip(".")
    if field == "metadata.name":
        return "name"
    return field or ROOT_FIELD


def _split_aggregate(text: str) -> list[str]:
    text = text.strip()
    if text.startswith("[") and text.endswith("]"):
        text = text[1:-1]
    starts = [m.start() for m in _ERROR_START_RE.finditer(text)]
    if not starts or starts[0] != 0:
        starts.insert(0, 0)
    pieces = []
    for begin, end in zip(starts, [*starts[1:], len(text)], strict=True):
        piece = text[begin:end]
        pieces.append(piece.removeprefix(", ").strip())
    return [p for p in pieces if p]


def _kube_message(body: str) -> str:
    # "Invalid value: false: eula must be true" -> "eula must be true";
    # "Unsupported value: \"X\": supported values: ..." keeps the list.
    kind, _, rest = body.partition(": ")
    if not rest:
        return kind.lower()
    if kind in _VALUED_KINDS:
        # The value is Go-%#v formatted: a quoted string, a number, a bool, "object"...
        match = _VALUE_DETAIL_RE.match(rest)
        if match:
            detail = match.group("detail").strip()
            if kind == "Unsupported value":
                return f"unsupported value {match.group('value')}: {detail}"
            return detail
        return f"{kind.lower()}: {rest.strip()}"
    return rest.strip()


def kube_field_errors(message: str) -> list[FieldError]:
    """Field errors from the text of an API server's 422 (or strict-decoding 400) message."""
    unknown = _UNKNOWN_FIELD_RE.findall(message) or _NOT_DECLARED_RE.findall(message)
    if unknown:
        return [FieldError(field=_rest_field(f), message="unknown field") for f in unknown]
    denied = _POLICY_DENIED_RE.search(message)
    if denied:
        field = denied.group("field") or ROOT_FIELD
        return [FieldError(field=field, message=denied.group("message").strip())]
    text = _HEAD_RE.sub("", message, count=1)
    errors: list[FieldError] = []
    for piece in _split_aggregate(text):
        match = _ERROR_RE.match(piece)
        if match is None:
            errors.append(FieldError(field=ROOT_FIELD, message=piece))
            continue
        errors.append(
            FieldError(
                field=_rest_field(match.group("field") or ""),
                message=_kube_message(match.group("body")),
            )
        )
    return errors


def from_kube_admission(status: str | Mapping[str, Any]) -> Problem:
    """422 from what the API server answered when it refused a MinecraftServer.

    ``status`` is the Status object of the response (``details.causes`` are
    used when present), or just its ``message``.
    """
    message = status if isinstance(status, str) else str(status.get("message") or "")
    errors: list[FieldError] = []
    if not isinstance(status, str):
        details = status.get("details")
        causes = details.get("causes") if isinstance(details, Mapping) else None
        for cause in causes or []:
            if not isinstance(cause, Mapping):
                continue
            field = str(cause.get("field") or "")
            text = str(cause.get("message") or cause.get("reason") or "invalid")
            if field:
                body = text if text.split(": ", 1)[0] in _KUBE_ERROR_TYPES else None
                errors.append(
                    FieldError(
                        field=_rest_field(field),
                        message=_kube_message(body) if body else text,
                    )
                )
            else:
                errors.extend(kube_field_errors(text))
    if not errors:
        errors = kube_field_errors(message)
    detail = "the cluster refused the server: " + (
        "; ".join(f"{e['field']}: {e['message']}" for e in errors) or message
    )
    return unprocessable(errors, detail)
