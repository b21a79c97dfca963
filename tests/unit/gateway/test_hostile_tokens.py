"""Tokens against a hostile tenant: maximum lifetime, the deny list, the socket's guard, the
write limit and the CLI's refusals (fake clocks throughout)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any

import jwt
import pytest

from craftplane import cli, tokens
from craftplane_gateway import auth, ws_guard
from craftplane_gateway.db.revocations import DenyList
from craftplane_gateway.problems import Problem
from craftplane_gateway.ratelimit import TokenBuckets
from craftplane_gateway.revocations import Revocations
from craftplane_gateway.routes import common
from craftplane_gateway.tenants import TenantNamespaces
from tests.unit.gateway.fakes import FakeNamespaces

pytestmark = pytest.mark.unit

KEY = "k" * 48
T0 = datetime(2030, 1, 1, tzinfo=UTC)


def _claims(**overrides: Any) -> dict[str, Any]:
    issued = int(T0.timestamp())
    claims: dict[str, Any] = {
        "sub": "acme", "tenant": "acme", "iat": issued, "nbf": issued, "exp": issued + 3600,
        "iss": tokens.ISSUER, "aud": tokens.AUDIENCE, "jti": "j1",
    }  # fmt: skip
    claims.update(overrides)
    return {k: v for k, v in claims.items() if v is not None}


def _signed(**overrides: Any) -> str:
    return jwt.encode(_claims(**overrides), KEY, algorithm="HS256")


def test_a_token_living_longer_than_the_maximum_is_refused() -> None:
    century = int(T0.timestamp()) + 100 * 365 * 86400
    with pytest.raises(tokens.InvalidToken, match="lifetime exceeds"):
        tokens.verify(_signed(exp=century), KEY, now=T0)
    with pytest.raises(tokens.InvalidToken, match="lifetime exceeds"):
        tokens.verify(_signed(), KEY, now=T0, max_lifetime=timedelta(minutes=59))
    assert tokens.verify(_signed(), KEY, now=T0).token_id == "j1"


def test_a_token_without_exp_is_refused() -> None:
    with pytest.raises(tokens.InvalidToken, match="missing claim exp"):
        tokens.verify(_signed(exp=None), KEY, now=T0)


def test_mint_refuses_reserved_tenants_and_long_lifetimes() -> None:
    for name in ("default", "kube-system", "kube-public", "craftplane-system", "craftplanex"):
        assert tokens.is_reserved_tenant(name)
        with pytest.raises(ValueError, match="reserved"):
            tokens.mint(name, KEY)
    assert not tokens.is_reserved_tenant("acme")
    with pytest.raises(ValueError, match="at most 30 days"):
        tokens.mint("acme", KEY, ttl=timedelta(days=31))


@pytest.mark.parametrize(
    "argv",
    [
        ["--tenant", "kube-system"],
        ["--tenant", "craftplane-system"],
        ["--tenant", "default"],
        ["--tenant", "kube-anything"],
        ["--tenant", "acme", "--hours", "-1"],
        ["--tenant", "acme", "--hours", "0"],
        ["--tenant", "acme", "--hours", "nan"],
        ["--tenant", "acme", "--hours", str(24 * 31)],
    ],
)
def test_cli_refuses_with_one_line_and_exit_2(
    argv: list[str], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CRAFTPLANE_TOKEN_KEY", KEY)
    assert cli.main(["token", "mint", *argv]) == 2
    out = capsys.readouterr()
    assert out.out == "" and out.err.count("\n") == 1 and out.err.startswith("craftplane: error")


def test_cli_mints_a_valid_token(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CRAFTPLANE_TOKEN_KEY", KEY)
    assert cli.main(["token", "mint", "--tenant", "acme", "--hours", "2"]) == 0
    claims = tokens.verify(capsys.readouterr().out.strip(), KEY)
    assert claims.expires_at - claims.issued_at == timedelta(hours=2)


@pytest.mark.parametrize(
    "argv",
    [
        ["--tenant", "acme"],
        ["--tenant", "acme", "--jti", "x", "--all-before", "2030-01-01T00:00:00Z"],
        ["--tenant", "acme", "--all-before", "yesterday"],
        ["--tenant", "acme", "--all-before", "2030-01-01T00:00:00"],
        ["--tenant", "kube-system", "--jti", "x"],
    ],
)
def test_cli_revoke_refuses_bad_arguments(
    argv: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(["token", "revoke", *argv]) == 2
    assert capsys.readouterr().err.startswith("craftplane: error")


def test_the_deny_list_revokes_by_id_and_by_cut_off() -> None:
    deny = DenyList(frozenset({("acme", "j1")}), {"beta": T0})
    assert deny.revokes("acme", "j1", T0)
    assert not deny.revokes("other", "j1", T0)
    assert deny.revokes("beta", "any", T0 - timedelta(seconds=1))
    assert not deny.revokes("beta", "any", T0)


def _who(jti: str = "j1", issued: datetime = T0, expires: datetime | None = None) -> auth.Principal:
    return auth.Principal("acme", "tenant-acme", token_id=jti, issued_at=issued, expires_at=expires)


def test_revocations_refuse_until_loaded_then_by_the_list() -> None:
    cache = Revocations(lambda: None)
    with pytest.raises(Problem) as caught:
        cache.check(_who())
    assert caught.value.status == 503
    assert cache.install(DenyList())
    assert not cache.install(DenyList())  # unchanged: nobody is woken
    cache.check(_who())
    cache.install(DenyList(frozenset({("acme", "j1")})))
    with pytest.raises(Problem) as caught:
        cache.check(_who())
    assert caught.value.status == 401 and caught.value.detail == "token revoked"
    cache.check(_who("j2"))


def test_seconds_left() -> None:
    assert ws_guard.seconds_left(None, T0) is None
    assert ws_guard.seconds_left(T0 + timedelta(seconds=3), T0) == 3
    assert ws_guard.seconds_left(T0 - timedelta(seconds=3), T0) == 0


async def test_the_guard_ends_at_expiry_on_a_fake_clock() -> None:
    cache = Revocations(lambda: None)
    cache.install(DenyList())
    now = [T0]
    guard = asyncio.create_task(
        ws_guard.token_ends(_who(expires=T0 + timedelta(hours=1)), cache, clock=lambda: now[0])
    )
    await asyncio.sleep(0.01)
    assert not guard.done()
    now[0] = T0 + timedelta(hours=1)
    cache.install(DenyList(frozenset({("other", "x")})))  # any change re-checks the clock
    assert await asyncio.wait_for(guard, 1) == "token expired"


async def test_the_guard_ends_on_revocation_without_waiting_for_expiry() -> None:
    cache = Revocations(lambda: None)
    cache.install(DenyList())
    guard = asyncio.create_task(
        ws_guard.token_ends(_who(expires=T0 + timedelta(days=1)), cache, clock=lambda: T0)
    )
    await asyncio.sleep(0.01)
    cache.install(DenyList(frozenset(), {"acme": T0 + timedelta(seconds=1)}))
    assert await asyncio.wait_for(guard, 1) == "token revoked"


async def test_the_guard_uses_a_real_timer_when_nothing_changes() -> None:
    cache = Revocations(lambda: None)
    cache.install(DenyList())
    soon = datetime.now(UTC) + timedelta(milliseconds=50)
    assert await asyncio.wait_for(ws_guard.token_ends(_who(expires=soon), cache), 2) == (
        "token expired"
    )


def test_message_text_caps_frames() -> None:
    assert ws_guard.message_text({"type": "websocket.receive", "text": "{}"}, 10) == "{}"
    with pytest.raises(ws_guard.FrameTooBig):
        ws_guard.message_text({"type": "websocket.receive", "text": "x" * 11}, 10)
    with pytest.raises(ws_guard.FrameTooBig):
        ws_guard.message_text({"type": "websocket.receive", "text": "é" * 6}, 10)
    with pytest.raises(ws_guard.FrameTooBig):
        ws_guard.message_text({"type": "websocket.receive", "bytes": b"x" * 11}, 10)
    assert ws_guard.message_text({"type": "websocket.receive", "bytes": b"\xff"}, 10) == "\ufffd"


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


async def test_writes_are_limited_per_subject_with_retry_after() -> None:
    clock = FakeClock()
    cache = Revocations(lambda: None)
    cache.install(DenyList())
    gw = SimpleNamespace(
        settings=SimpleNamespace(
            token_key=KEY,
            allowed_origins=[],
            token_max_lifetime=tokens.MAX_LIFETIME,
            write_rate=10.0,
            write_burst=20,
        ),
        write_limit=TokenBuckets(10, 20, clock=clock),
        revocations=cache,
        tenants=TenantNamespaces(FakeNamespaces().tenant("acme")),  # type: ignore[arg-type]
    )
    alice = tokens.mint("acme", KEY, subject="alice@acme")
    bob = tokens.mint("acme", KEY, subject="bob@acme")

    def request(token: str) -> Any:
        headers = {"authorization": f"Bearer {token}"}
        return SimpleNamespace(
            state=SimpleNamespace(gw=gw),
            query_params={},
            headers=headers,
            cookies={},
            scope={"method": "POST"},
            path_params={},
        )

    for _ in range(20):
        await common.writer(request(alice))  # type: ignore[arg-type]
    with pytest.raises(Problem) as caught:
        await common.writer(request(alice))  # type: ignore[arg-type]
    assert caught.value.status == 429 and caught.value.headers["Retry-After"] == "1"
    await common.writer(request(bob))  # type: ignore[arg-type]
    clock.now += 0.15
    await common.writer(request(alice))  # type: ignore[arg-type]
