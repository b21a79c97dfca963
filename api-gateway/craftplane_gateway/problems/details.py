"""The problem details type and one constructor per kind of error the gateway answers."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Final, TypedDict

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


def not_found(name: str, what: str = "server") -> Problem:
    """404 for a server (or a backup, a restore: ``what``): the same body whether it is absent
    or another tenant's."""
    return Problem(404, "Not found", f"{what} {name!r} not found", slug="not-found")


def no_tenant() -> Problem:
    """404 for a route without a server name when the token's tenant has no tenant namespace:
    it names nothing, so the caller learns no more than from a server it does not have."""
    return Problem(404, "Not found", "not found", slug="not-found")


def route_not_found(detail: str = "no such route") -> Problem:
    """404 for a path that is no route."""
    return Problem(404, "Not found", detail, slug="not-found")


def method_not_allowed(detail: str = "method not allowed on this route") -> Problem:
    """405."""
    return Problem(405, "Method not allowed", detail, slug="method-not-allowed")


def name_taken(name: str, what: str = "server") -> Problem:
    """409: a server (or ``what``) of this name already exists in the tenant's namespace."""
    return Problem(409, "Conflict", f"a {what} named {name!r} already exists", slug="name-taken")


def conflict(detail: str) -> Problem:
    """409: the server's state does not allow this now (e.g. it is being deleted)."""
    return Problem(409, "Conflict", detail, slug="conflict")


def server_not_running(detail: str) -> Problem:
    """409: the server has no pod (or no RCON, or no previous container) to do this with."""
    return Problem(409, "Conflict", detail, slug="server-not-running")


def too_many_requests(detail: str, *, retry_after: int) -> Problem:
    """429 with ``Retry-After`` in whole seconds: the caller's rate limit is used up."""
    return Problem(
        429,
        "Too many requests",
        detail,
        slug="rate-limited",
        headers={"Retry-After": str(max(1, retry_after))},
    )


def payload_too_large(limit: int) -> Problem:
    """413: the body is longer than the gateway reads."""
    return Problem(
        413,
        "Payload too large",
        f"the request body must be at most {limit} bytes",
        slug="payload-too-large",
    )


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
