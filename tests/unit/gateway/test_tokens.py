from __future__ import annotations

import base64
import hashlib
import hmac
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt
import pytest

from craftplane import tokens

pytestmark = pytest.mark.unit

KEY = "k" * 40
OTHER_KEY = "o" * 40
T0 = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def claims(**overrides: Any) -> dict[str, Any]:
    issued = int(T0.timestamp())
    base: dict[str, Any] = {
        "sub": "acme",
        "tenant": "acme",
        "iat": issued,
        "nbf": issued,
        "exp": issued + 3600,
        "iss": tokens.ISSUER,
        "aud": tokens.AUDIENCE,
        "jti": "abc",
    }
    base.update(overrides)
    return {k: v for k, v in base.items() if v is not None}


def handmade(header: dict[str, Any], payload: dict[str, Any], key: str | None = None) -> str:
    """A JWS built without PyJWT; signed HMAC-SHA256 with ``key``, or unsigned."""
    signing_input = f"{b64(json.dumps(header).encode())}.{b64(json.dumps(payload).encode())}"
    if key is None:
        return signing_input + "."
    mac = hmac.new(key.encode(), signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{b64(mac)}"


def refused(token: str, reason: str, key: str = KEY) -> None:
    with pytest.raises(tokens.InvalidToken) as caught:
        tokens.verify(token, key, now=T0 + timedelta(minutes=1))
    assert reason in caught.value.reason


def test_round_trip() -> None:
    token = tokens.mint("acme", KEY, ttl=timedelta(hours=1), now=T0)
    got = tokens.verify(token, KEY, now=T0 + timedelta(minutes=30))
    assert got.tenant == "acme"
    assert got.expires_at == T0 + timedelta(hours=1)
    assert got.issued_at == T0
    assert got.token_id
    payload = jwt.decode(token, options={"verify_signature": False})
    assert payload["sub"] == payload["tenant"] == "acme"
    assert payload["iss"] == "craftplane"
    assert payload["aud"] == "craftplane-gateway"
    assert {"iat", "nbf", "exp", "jti"} <= payload.keys()
    assert jwt.get_unverified_header(token)["alg"] == "HS256"


def test_default_ttl_is_twelve_hours() -> None:
    token = tokens.mint("acme", KEY, now=T0)
    assert tokens.verify(token, KEY, now=T0).expires_at == T0 + timedelta(hours=12)


def test_each_token_has_its_own_id() -> None:
    first = tokens.verify(tokens.mint("acme", KEY, now=T0), KEY, now=T0)
    second = tokens.verify(tokens.mint("acme", KEY, now=T0), KEY, now=T0)
    assert first.token_id != second.token_id


def test_handmade_hs256_is_accepted() -> None:
    # Sanity check of the helper the refusals below rely on.
    token = handmade({"alg": "HS256", "typ": "JWT"}, claims(), KEY)
    assert tokens.verify(token, KEY, now=T0).tenant == "acme"


def test_alg_none_refused() -> None:
    refused(handmade({"alg": "none", "typ": "JWT"}, claims()), "algorithm")
    refused(handmade({"alg": "None"}, claims()), "algorithm")


def test_missing_alg_refused() -> None:
    refused(handmade({"typ": "JWT"}, claims(), KEY), "algorithm")


def test_hs512_refused_even_with_the_right_key() -> None:
    long_key = KEY * 2
    token = jwt.encode(claims(), long_key, algorithm="HS512")
    refused(token, "algorithm", key=long_key)


def test_rs256_header_refused() -> None:
    # Algorithm confusion: an "RS256" token HMAC-signed with the shared key.
    refused(handmade({"alg": "RS256", "typ": "JWT"}, claims(), KEY), "algorithm")


def test_wrong_key_refused() -> None:
    refused(tokens.mint("acme", OTHER_KEY, now=T0), "signature")


def test_tampered_payload_refused() -> None:
    token = tokens.mint("acme", KEY, now=T0)
    header, _, signature = token.split(".")
    forged = f"{header}.{b64(json.dumps(claims(sub='evil', tenant='evil')).encode())}.{signature}"
    refused(forged, "signature")


def test_expired_refused() -> None:
    token = tokens.mint("acme", KEY, ttl=timedelta(minutes=5), now=T0)
    with pytest.raises(tokens.InvalidToken, match="expired"):
        tokens.verify(token, KEY, now=T0 + timedelta(minutes=6))


def test_small_clock_skew_tolerated() -> None:
    token = tokens.mint("acme", KEY, now=T0)
    assert tokens.verify(token, KEY, now=T0 - timedelta(seconds=10)).tenant == "acme"


def test_not_yet_valid_refused() -> None:
    token = tokens.mint("acme", KEY, now=T0 + timedelta(hours=1))
    with pytest.raises(tokens.InvalidToken, match="not yet valid"):
        tokens.verify(token, KEY, now=T0)


@pytest.mark.parametrize(
    ("overrides", "reason"),
    [
        ({"iss": "someone-else"}, "issuer"),
        ({"aud": "another-service"}, "audience"),
        ({"tenant": None}, "missing claim tenant"),
        ({"exp": None}, "missing claim exp"),
        ({"jti": None}, "missing claim jti"),
        ({"tenant": "Not_A_Tenant", "sub": "Not_A_Tenant"}, "tenant"),
        ({"tenant": "a" * 33, "sub": "a" * 33}, "tenant"),
        ({"tenant": 42, "sub": 42}, "tenant"),
        ({"sub": "other"}, "tenant"),
        ({"exp": "tomorrow"}, "exp"),
    ],
)
def test_bad_claims_refused(overrides: dict[str, Any], reason: str) -> None:
    refused(handmade({"alg": "HS256", "typ": "JWT"}, claims(**overrides), KEY), reason)


@pytest.mark.parametrize(
    "token",
    ["", "not-a-jwt", "a.b", "a.b.c", "x" * 5000, "eyJhbGciOiJIUzI1NiJ9.e30"],
)
def test_malformed_refused(token: str) -> None:
    with pytest.raises(tokens.InvalidToken):
        tokens.verify(token, KEY, now=T0)


@pytest.mark.parametrize("tenant", ["acme", "a", "team-1", "0", "a" * 32])
def test_valid_tenants(tenant: str) -> None:
    assert tokens.is_valid_tenant(tenant)
    assert tokens.verify(tokens.mint(tenant, KEY, now=T0), KEY, now=T0).tenant == tenant


@pytest.mark.parametrize("tenant", ["", "Acme", "-a", "a-", "a_b", "a.b", "a" * 33, "tenant a"])
def test_invalid_tenants(tenant: str) -> None:
    assert not tokens.is_valid_tenant(tenant)
    with pytest.raises(ValueError, match="tenant"):
        tokens.mint(tenant, KEY, now=T0)
    with pytest.raises(ValueError, match="tenant"):
        tokens.namespace_for(tenant)


def test_short_keys_refused() -> None:
    with pytest.raises(ValueError, match="at least 32 bytes"):
        tokens.mint("acme", "short", now=T0)
    with pytest.raises(ValueError, match="at least 32 bytes"):
        tokens.verify(tokens.mint("acme", KEY, now=T0), "short", now=T0)
    tokens.check_key(tokens.generate_key())


def test_ttl_must_be_positive() -> None:
    with pytest.raises(ValueError, match="ttl"):
        tokens.mint("acme", KEY, ttl=timedelta(0))


def test_naive_now_refused() -> None:
    with pytest.raises(ValueError, match="timezone"):
        tokens.mint("acme", KEY, now=datetime(2025, 1, 1))


def test_namespaces() -> None:
    assert tokens.namespace_for("acme") == "tenant-acme"
    assert tokens.tenant_for_namespace("tenant-acme") == "acme"
    assert tokens.tenant_for_namespace("default") is None
    assert tokens.tenant_for_namespace("tenant-") is None
    assert tokens.TENANT_LABEL == "craftplane.io/tenant"
