"""Who is calling: the tenant of a bearer token, from a header or a cookie.

Never from the query string: a URL ends up in access logs, proxy logs and
browser history, so a request carrying ``?token=`` or ``?access_token=`` is
refused (400) before anything else, rather than silently ignored.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Final

from starlette.requests import HTTPConnection
from starlette.websockets import WebSocket

from craftplane import tokens
from craftplane_gateway import problems

COOKIE_NAME: Final = "craftplane_token"
FORBIDDEN_QUERY_PARAMS: Final = ("token", "access_token")
SAFE_METHODS: Final = frozenset({"GET", "HEAD", "OPTIONS"})


@dataclass(frozen=True)
class Principal:
    """An authenticated caller: a tenant, the namespace holding its servers, and who (the
    token's subject: ``alice@acme``, or the tenant for a token naming nobody)."""

    tenant: str
    namespace: str
    subject: str = ""
    # Which token, issued and expiring when: for revocation and closing a socket at expiry;
    # not part of who the caller is.
    token_id: str = field(default="", compare=False)
    issued_at: datetime | None = field(default=None, compare=False)
    expires_at: datetime | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        if not self.subject:
            object.__setattr__(self, "subject", self.tenant)


class Source(StrEnum):
    """Where a token came from."""

    HEADER = "header"
    COOKIE = "cookie"


def _refuse_query_token(conn: HTTPConnection) -> None:
    if any(name in conn.query_params for name in FORBIDDEN_QUERY_PARAMS):
        raise problems.token_in_query()


def credentials(conn: HTTPConnection) -> tuple[str, Source] | None:
    """The token of a request or WebSocket and where it came from, or None.

    The Authorization header wins over the cookie. Problem 400 for a token in
    the query string, 401 for an Authorization header that is not a bearer token.
    """
    _refuse_query_token(conn)
    header = conn.headers.get("authorization")
    if header is not None:
        scheme, _, value = header.strip().partition(" ")
        if scheme.lower() != "bearer":
            raise problems.unauthorized("the Authorization header must be 'Bearer <token>'")
        value = value.strip()
        if not value:
            raise problems.unauthorized("empty bearer token", invalid=True)
        return value, Source.HEADER
    cookie = conn.cookies.get(COOKIE_NAME)
    if cookie:
        return cookie, Source.COOKIE
    return None


def token_from_request(request: HTTPConnection) -> str | None:
    """The bearer token of a request (header, else cookie), or None; see :func:`credentials`."""
    found = credentials(request)
    return found[0] if found else None


def token_from_websocket(websocket: WebSocket) -> str | None:
    """The token of a WebSocket handshake (header, else cookie), or None.

    None means the client must send an ``auth`` frame first. A problem raised
    here (400 query token, 401 bad header) should close the socket (policy
    violation, 1008) without accepting a first message.
    """
    return token_from_request(websocket)


def principal_from_token(
    token: str, key: str, *, max_lifetime: timedelta = tokens.MAX_LIFETIME
) -> Principal:
    """The caller a token stands for; Problem 401 when it is not valid (or meant to live
    longer than ``max_lifetime``)."""
    try:
        claims = tokens.verify(token, key, max_lifetime=max_lifetime)
    except tokens.InvalidToken as exc:
        raise problems.unauthorized(exc.reason, invalid=True) from exc
    return Principal(
        tenant=claims.tenant,
        namespace=tokens.namespace_for(claims.tenant),
        subject=claims.subject,
        token_id=claims.token_id,
        issued_at=claims.issued_at,
        expires_at=claims.expires_at,
    )


def _same_or_allowed_origin(conn: HTTPConnection, allowed_origins: Collection[str]) -> bool:
    origin = conn.headers.get("origin")
    if origin is None:
        # Not a browser, or a same-origin GET; browsers always send Origin on
        # cross-origin (and same-origin) POST, PATCH and DELETE.
        return True
    own = f"{conn.url.scheme}://{conn.url.netloc}"
    return origin == own or origin in allowed_origins


def authenticate(
    request: HTTPConnection,
    key: str,
    *,
    allowed_origins: Collection[str] = (),
    max_lifetime: timedelta = tokens.MAX_LIFETIME,
) -> Principal:
    """The caller of a request; Problem 400/401 (or 403, see below) otherwise.

    A cookie is sent by the browser on its own, so a state-changing request
    authenticated by the cookie alone must come from this origin or one of
    ``allowed_origins`` (CSRF); bearer headers are never sent implicitly.
    """
    found = credentials(request)
    if found is None:
        raise problems.unauthorized()
    token, source = found
    principal = principal_from_token(token, key, max_lifetime=max_lifetime)
    method = request.scope.get("method", "GET")
    if (
        source is Source.COOKIE
        and method not in SAFE_METHODS
        and not _same_or_allowed_origin(request, allowed_origins)
    ):
        raise problems.forbidden(
            "cross-origin request with cookie credentials; send an Authorization header"
        )
    return principal
