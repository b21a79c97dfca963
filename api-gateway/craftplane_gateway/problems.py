"""RFC 9457 problem details: every error the gateway answers, in one shape.

A route raises :class:`Problem` (usually through one of the constructors
below); :func:`handle_problem` turns it into an ``application/problem+json``
response. Validation errors carry ``errors``: a list of ``{"field", "message"}``
with dotted camelCase paths as they appear in the request body
(``spec.resources.memory``, ``spec.env[0].name``, ``name``), whether the
gateway's pydantic model or the Kubernetes API server refused the object.
"""

from __future__ import annotations

import functools
import re
import typing
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from http import HTTPStatus
from typing import Any, Final, TypedDict

from pydantic import BaseModel, ValidationError
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from craftplane.contracts.spec import MinecraftServerSpec

PROBLEM_MEDIA_TYPE: Final = "application/problem+json"
PROBLEM_BASE: Final = "https://craftplane.io/problems/"
REALM: Final = "craftplane"
DEFAULT_RETRY_AFTER: Final = 5
ROOT_FIELD: Final = "body"


class FieldError(TypedDict):
    """One invalid field: a dotted camelCase path and what is wrong with it."""

    field: str
    message: str


class Problem(Exception):
    """An error answered as problem details; raise it from a route."""

    def __init__(
        self,
        status: int,
        title: str,
        detail: str | None = None,
        *,
        slug: str | None = None,
        errors: Sequence[FieldError] | None = None,
        headers: Mapping[str, str] | None = None,
        instance: str | None = None,
    ) -> None:
        super().__init__(detail or title)
        self.status = status
        self.title = title
        self.detail = detail
        self.type = PROBLEM_BASE + (slug or _slug(title))
        self.errors: list[FieldError] = list(errors or [])
        self.headers: dict[str, str] = dict(headers or {})
        self.instance = instance

    def to_dict(self) -> dict[str, Any]:
        """The JSON body."""
        body: dict[str, Any] = {"type": self.type, "title": self.title, "status": self.status}
        if self.detail is not None:
            body["detail"] = self.detail
        if self.instance is not None:
            body["instance"] = self.instance
        if self.errors:
            body["errors"] = [dict(e) for e in self.errors]
        return body

    def __repr__(self) -> str:
        return f"Problem({self.status}, {self.title!r}, {self.detail!r})"


def _slug(title: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-")


# --- constructors -------------------------------------------------------------------


def bad_request(detail: str, *, errors: Sequence[FieldError] | None = None) -> Problem:
    """400: the request cannot be understood (malformed JSON, bad query, token in the URL)."""
    return Problem(400, "Bad request", detail, slug="bad-request", errors=errors)


def token_in_query() -> Problem:
    """400: a credential in the URL ends up in logs and history; it is never used."""
    return Problem(
        400,
        "Bad request",
        "tokens are not accepted in the query string; send an Authorization: Bearer header",
        slug="token-in-query",
    )


def unauthorized(detail: str = "a bearer token is required", *, invalid: bool = False) -> Problem:
    """401 with ``WWW-Authenticate: Bearer`` (RFC 6750); ``invalid`` when a token was sent."""
    challenge = f'Bearer realm="{REALM}"'
    if invalid:
        safe = detail.replace("\\", "").replace('"', "'")
        challenge += f', error="invalid_token", error_description="{safe}"'
    return Problem(
        401,
        "Unauthorized",
        detail,
        slug="unauthorized",
        headers={"WWW-Authenticate": challenge},
    )


def forbidden(detail: str) -> Problem:
    """403: authenticated, but this is not allowed (never used to hide existence: see 404)."""
    return Problem(403, "Forbidden", detail, slug="forbidden")


def not_found(name: str) -> Problem:
    """404 for a server: the same body whether it is absent or another tenant's."""
    return Problem(404, "Not found", f"server {name!r} not found", slug="not-found")


def route_not_found(detail: str = "no such route") -> Problem:
    """404 for a path that is no route."""
    return Problem(404, "Not found", detail, slug="not-found")


def method_not_allowed(detail: str = "method not allowed on this route") -> Problem:
    """405."""
    return Problem(405, "Method not allowed", detail, slug="method-not-allowed")


def name_taken(name: str) -> Problem:
    """409: a server of this name already exists in the tenant's namespace."""
    return Problem(409, "Conflict", f"a server named {name!r} already exists", slug="name-taken")


def conflict(detail: str) -> Problem:
    """409: the server's state does not allow this now (e.g. it is being deleted)."""
    return Problem(409, "Conflict", detail, slug="conflict")


def unsupported_media_type(expected: Iterable[str]) -> Problem:
    """415: the body's Content-Type is not one the route reads."""
    return Problem(
        415,
        "Unsupported media type",
        "expected Content-Type: " + " or ".join(expected),
        slug="unsupported-media-type",
    )


def unprocessable(errors: Sequence[FieldError], detail: str | None = None) -> Problem:
    """422: well-formed but invalid; ``errors`` names the fields."""
    if detail is None:
        count = len(errors)
        detail = f"{count} invalid field" + ("" if count == 1 else "s")
        if errors:
            first = errors[0]
            detail += f": {first['field']}: {first['message']}"
    return Problem(422, "Unprocessable content", detail, slug="validation", errors=errors)


def service_unavailable(detail: str, *, retry_after: int = DEFAULT_RETRY_AFTER) -> Problem:
    """503 with ``Retry-After``: the database or the cluster cannot be reached."""
    return Problem(
        503,
        "Service unavailable",
        detail,
        slug="unavailable",
        headers={"Retry-After": str(max(0, retry_after))},
    )


def internal_error() -> Problem:
    """500 with no detail; the cause belongs in the log, not the response."""
    return Problem(500, "Internal server error", "unexpected error", slug="internal")


# --- pydantic validation errors -----------------------------------------------------

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


# --- Kubernetes API server admission errors -----------------------------------------

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


# --- responses ----------------------------------------------------------------------


def problem_response(problem: Problem) -> JSONResponse:
    """The ``application/problem+json`` response for ``problem``."""
    return JSONResponse(
        problem.to_dict(),
        status_code=problem.status,
        headers=problem.headers,
        media_type=PROBLEM_MEDIA_TYPE,
    )


async def handle_problem(request: Request, exc: Exception) -> Response:
    """Starlette exception handler for :class:`Problem`."""
    if not isinstance(exc, Problem):  # pragma: no cover - registered for Problem only
        raise exc
    if exc.instance is None:
        exc.instance = request.url.path
    return problem_response(exc)


async def handle_http_exception(request: Request, exc: Exception) -> Response:
    """Starlette's own HTTPException (unknown route, wrong method) as problem details."""
    if not isinstance(exc, HTTPException):  # pragma: no cover
        raise exc
    if exc.status_code == 404:
        problem = route_not_found()
    elif exc.status_code == 405:
        problem = method_not_allowed()
    else:
        problem = Problem(exc.status_code, _reason(exc.status_code), exc.detail)
    problem.headers.update(exc.headers or {})
    problem.instance = request.url.path
    return problem_response(problem)


def _reason(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


async def handle_unexpected(request: Request, exc: Exception) -> Response:
    """Anything else: a 500 problem with no detail.

    Registered for ``Exception``, it runs in Starlette's ServerErrorMiddleware,
    which re-raises afterwards so the server still logs the traceback.
    """
    problem = internal_error()
    problem.instance = request.url.path
    return problem_response(problem)


Handler = Callable[[Request, Exception], Awaitable[Response]]

EXCEPTION_HANDLERS: Final[Mapping[Any, Handler]] = {
    Problem: handle_problem,
    HTTPException: handle_http_exception,
    Exception: handle_unexpected,
}
