"""Signed bearer tokens carrying a tenant, shared by the gateway and the CLI.

A token is an HS256 JWT. Verification never trusts the token's header: the
only accepted algorithm is HS256, so ``alg: none`` and algorithm-confusion
tokens (RS256 signed with the HMAC key as a "public key") are refused before
any signature check.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Final

import jwt
from jwt.exceptions import InvalidSubjectError

from craftplane.clock import utcnow
from craftplane.contracts.names import TENANT_LABEL

__all__ = [
    "ALGORITHM",
    "AUDIENCE",
    "DEFAULT_TTL",
    "ISSUER",
    "LEEWAY",
    "MAX_LIFETIME",
    "MIN_KEY_BYTES",
    "RESERVED_TENANTS",
    "TENANT_LABEL",
    "TENANT_PATTERN",
    "Claims",
    "InvalidToken",
    "check_key",
    "generate_key",
    "is_reserved_tenant",
    "is_subject_of",
    "is_valid_tenant",
    "mint",
    "namespace_for",
    "tenant_for_namespace",
    "verify",
]

ALGORITHM: Final = "HS256"
ISSUER: Final = "craftplane"
AUDIENCE: Final = "craftplane-gateway"
DEFAULT_TTL: Final = timedelta(hours=12)
# Clock skew tolerated between the minting host and the gateway.
LEEWAY: Final = timedelta(seconds=30)
# The longest a token may live (exp - iat): a leaked token stops working within this, and a
# revocation need only be remembered this long.
MAX_LIFETIME: Final = timedelta(days=30)
# RFC 7518 §3.2: an HS256 key must be at least as long as the hash output.
MIN_KEY_BYTES: Final = 32
# A real token is a few hundred bytes; anything much longer is not worth parsing.
MAX_TOKEN_LENGTH: Final = 4096

TENANT_PATTERN: Final = r"^[a-z0-9]([a-z0-9-]{0,30}[a-z0-9])?$"
NAMESPACE_PREFIX: Final = "tenant-"
_TENANT_RE: Final = re.compile(TENANT_PATTERN)
# Names that read as the platform's own namespaces: a token for them would confuse anyone
# reading an audit log or RBAC rule, even though its namespace is tenant-<name>.
RESERVED_TENANTS: Final = frozenset({"default", "kube-system", "craftplane-system"})
_RESERVED_PREFIXES: Final = ("kube-", "craftplane")
_REQUIRED_CLAIMS: Final = ["sub", "tenant", "iat", "nbf", "exp", "iss", "aud", "jti"]
# A person within a tenant: printable, no spaces or '@' (the tenant follows the '@').
_USER_RE: Final = re.compile(r"^[A-Za-z0-9._+-]{1,64}$")


class InvalidToken(Exception):
    """A token that must not authenticate anybody; ``reason`` is safe to show to the caller."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class Claims:
    """What a verified token says."""

    tenant: str
    expires_at: datetime
    issued_at: datetime
    token_id: str
    subject: str = ""
    """Who holds the token (``sub``): the tenant itself, or ``<user>@<tenant>``."""

    def __post_init__(self) -> None:
        if not self.subject:
            object.__setattr__(self, "subject", self.tenant)


def is_valid_tenant(tenant: object) -> bool:
    """Whether ``tenant`` is a tenant name (a DNS label of at most 32 characters)."""
    return isinstance(tenant, str) and _TENANT_RE.fullmatch(tenant) is not None


def is_reserved_tenant(tenant: str) -> bool:
    """Whether ``tenant`` is a name kept for the platform (no tenant token is minted for it)."""
    return tenant in RESERVED_TENANTS or tenant.startswith(_RESERVED_PREFIXES)


def namespace_for(tenant: str) -> str:
    """The namespace holding a tenant's servers."""
    if not is_valid_tenant(tenant):
        raise ValueError(f"not a tenant name: {tenant!r} (expected {TENANT_PATTERN})")
    return f"{NAMESPACE_PREFIX}{tenant}"


def tenant_for_namespace(namespace: str) -> str | None:
    """The tenant owning ``namespace`` by the naming convention, or None."""
    if not namespace.startswith(NAMESPACE_PREFIX):
        return None
    tenant = namespace.removeprefix(NAMESPACE_PREFIX)
    return tenant if is_valid_tenant(tenant) else None


def is_subject_of(subject: object, tenant: str) -> bool:
    """Whether ``subject`` may stand for someone in ``tenant``: the tenant itself (every
    token minted before subjects existed), or ``<user>@<tenant>``. Binding the subject to the
    tenant keeps a token from naming a person of another tenant."""
    if not isinstance(subject, str):
        return False
    if subject == tenant:
        return True
    user, at, rest = subject.rpartition("@")
    return bool(at) and rest == tenant and _USER_RE.fullmatch(user) is not None


def check_key(key: str) -> None:
    """Refuse a signing key too short for HS256; call it when loading settings."""
    if len(key.encode()) < MIN_KEY_BYTES:
        raise ValueError(f"the token signing key must be at least {MIN_KEY_BYTES} bytes")


def generate_key() -> str:
    """A fresh random signing key."""
    return secrets.token_urlsafe(48)


def _at(now: datetime | None) -> datetime:
    """``now`` checked to be aware, or the clock's time."""
    if now is None:
        return utcnow()
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    return now


def mint(
    tenant: str,
    key: str,
    *,
    ttl: timedelta = DEFAULT_TTL,
    now: datetime | None = None,
    subject: str | None = None,
    max_ttl: timedelta = MAX_LIFETIME,
) -> str:
    """A token for ``tenant``, valid from ``now`` for ``ttl`` (at most ``max_ttl``);
    ``subject`` (``<user>@<tenant>``) names who holds it, the tenant itself by default."""
    check_key(key)
    if not is_valid_tenant(tenant):
        raise ValueError(f"not a tenant name: {tenant!r} (expected {TENANT_PATTERN})")
    if is_reserved_tenant(tenant):
        raise ValueError(f"{tenant!r} is reserved for the platform, not a tenant name")
    sub = tenant if subject is None else subject
    if not is_subject_of(sub, tenant):
        raise ValueError(f"subject {sub!r} must be {tenant!r} or '<user>@{tenant}'")
    if ttl <= timedelta(0):
        raise ValueError("ttl must be positive")
    if ttl > max_ttl:
        raise ValueError(f"ttl must be at most {_duration(max_ttl)}")
    issued = int(_at(now).timestamp())
    claims: dict[str, Any] = {
        "sub": sub,
        "tenant": tenant,
        "iat": issued,
        "nbf": issued,
        "exp": issued + int(ttl.total_seconds()),
        "iss": ISSUER,
        "aud": AUDIENCE,
        "jti": secrets.token_urlsafe(16),
    }
    return jwt.encode(claims, key, algorithm=ALGORITHM, headers={"typ": "JWT"})


def _duration(span: timedelta) -> str:
    hours = span.total_seconds() / 3600
    return f"{hours / 24:g} days" if hours >= 48 else f"{hours:g} hours"


def _int_claim(payload: dict[str, Any], name: str) -> int:
    value = payload.get(name)
    # bool is an int in Python, never a NumericDate.
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidToken(f"claim {name} is not a number")
    return int(value)


def _check_times(
    payload: dict[str, Any], now: datetime, leeway: timedelta, max_lifetime: timedelta
) -> tuple[int, int]:
    """(iat, exp) of a token valid at ``now``; InvalidToken otherwise."""
    instant = now.timestamp()
    slack = leeway.total_seconds()
    expires = _int_claim(payload, "exp")
    not_before = _int_claim(payload, "nbf")
    issued = _int_claim(payload, "iat")
    if expires <= instant - slack:
        raise InvalidToken("token expired")
    if not_before > instant + slack or issued > instant + slack:
        raise InvalidToken("token not yet valid")
    if expires - issued > max_lifetime.total_seconds():
        raise InvalidToken(f"token lifetime exceeds the maximum of {_duration(max_lifetime)}")
    return issued, expires


def verify(
    token: str,
    key: str,
    *,
    now: datetime | None = None,
    leeway: timedelta = LEEWAY,
    max_lifetime: timedelta = MAX_LIFETIME,
) -> Claims:
    """The claims of a valid token; InvalidToken otherwise (also for one meant to live longer
    than ``max_lifetime``, however it was signed).

    ValueError (not InvalidToken) when ``key`` itself is unusable: that is the
    server's misconfiguration, not the caller's fault.
    """
    check_key(key)
    if not isinstance(token, str) or not token or len(token) > MAX_TOKEN_LENGTH:
        raise InvalidToken("malformed token")
    try:
        header = jwt.get_unverified_header(token)
    except jwt.InvalidTokenError as exc:
        raise InvalidToken("malformed token") from exc
    alg = header.get("alg")
    if alg != ALGORITHM:
        raise InvalidToken(f"algorithm {alg!r} is not accepted; tokens are {ALGORITHM}")
    try:
        payload: dict[str, Any] = jwt.decode(
            token,
            key,
            algorithms=[ALGORITHM],
            audience=AUDIENCE,
            issuer=ISSUER,
            # Times are checked below against ``now``, which PyJWT cannot take.
            options={
                "require": _REQUIRED_CLAIMS,
                "verify_exp": False,
                "verify_nbf": False,
                "verify_iat": False,
            },
        )
    except jwt.InvalidSignatureError as exc:
        raise InvalidToken("bad signature") from exc
    except jwt.MissingRequiredClaimError as exc:
        raise InvalidToken(f"missing claim {exc.claim}") from exc
    except jwt.InvalidAudienceError as exc:
        raise InvalidToken("wrong audience") from exc
    except jwt.InvalidIssuerError as exc:
        raise InvalidToken("wrong issuer") from exc
    except InvalidSubjectError as exc:
        raise InvalidToken("missing or invalid tenant") from exc
    except jwt.InvalidTokenError as exc:
        raise InvalidToken("malformed token") from exc

    issued, expires = _check_times(payload, _at(now), leeway, max_lifetime)

    tenant = payload.get("tenant")
    if not is_valid_tenant(tenant):
        raise InvalidToken("missing or invalid tenant")
    assert isinstance(tenant, str)
    subject = payload.get("sub")
    if not is_subject_of(subject, tenant):
        raise InvalidToken("missing or invalid tenant")
    assert isinstance(subject, str)
    jti = payload.get("jti")
    if not isinstance(jti, str) or not jti:
        raise InvalidToken("claim jti is not a string")
    return Claims(
        tenant=tenant,
        expires_at=datetime.fromtimestamp(expires, UTC),
        issued_at=datetime.fromtimestamp(issued, UTC),
        token_id=jti,
        subject=subject,
    )
