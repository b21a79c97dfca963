from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route, WebSocketRoute
from starlette.testclient import TestClient
from starlette.websockets import WebSocket, WebSocketDisconnect

from craftplane import tokens
from craftplane_gateway import auth, problems
from craftplane_gateway.problems import PROBLEM_MEDIA_TYPE, Problem

pytestmark = pytest.mark.unit

KEY = "s" * 48
ALLOWED = ("https://dashboard.example",)
LONG_AGO = datetime(2020, 1, 1, tzinfo=UTC)


async def whoami(request: Request) -> Response:
    principal = auth.authenticate(request, KEY, allowed_origins=ALLOWED)
    return JSONResponse({"tenant": principal.tenant, "namespace": principal.namespace})


async def ws_endpoint(websocket: WebSocket) -> None:
    try:
        token = auth.token_from_websocket(websocket)
    except Problem:
        await websocket.close(code=1008)
        return
    await websocket.accept()
    if token is None:
        token = (await websocket.receive_json())["token"]
    try:
        principal = auth.principal_from_token(token, KEY)
    except Problem as problem:
        await websocket.send_json(
            {"type": "error", "code": "unauthorized", "message": problem.detail}
        )
        await websocket.close(code=1008)
        return
    await websocket.send_json({"tenant": principal.tenant})
    await websocket.close()


@pytest.fixture(scope="module")
def client() -> Iterator[TestClient]:
    app = Starlette(
        routes=[
            Route("/whoami", whoami, methods=["GET", "POST"]),
            WebSocketRoute("/ws", ws_endpoint),
        ],
        exception_handlers=dict(problems.EXCEPTION_HANDLERS),
    )
    with TestClient(app, base_url="https://gateway.example") as test_client:
        yield test_client


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def cookie(token: str) -> dict[str, str]:
    return {"Cookie": f"{auth.COOKIE_NAME}={token}"}


def good() -> str:
    return tokens.mint("acme", KEY)


def test_bearer_header(client: TestClient) -> None:
    response = client.get("/whoami", headers=bearer(good()))
    assert response.status_code == 200
    assert response.json() == {"tenant": "acme", "namespace": "tenant-acme"}


def test_bearer_scheme_is_case_insensitive(client: TestClient) -> None:
    response = client.get("/whoami", headers={"Authorization": f"bearer  {good()}"})
    assert response.status_code == 200


def test_cookie(client: TestClient) -> None:
    response = client.get("/whoami", headers=cookie(good()))
    assert response.status_code == 200
    assert response.json()["tenant"] == "acme"


def test_header_wins_over_cookie(client: TestClient) -> None:
    other = tokens.mint("other", KEY)
    response = client.get("/whoami", headers={**bearer(other), **cookie(good())})
    assert response.json()["tenant"] == "other"


def test_missing_token_is_401_with_challenge(client: TestClient) -> None:
    response = client.get("/whoami")
    assert response.status_code == 401
    assert response.headers["content-type"] == PROBLEM_MEDIA_TYPE
    assert response.headers["www-authenticate"] == 'Bearer realm="craftplane"'
    body = response.json()
    assert body["status"] == 401
    assert body["type"] == "https://craftplane.io/problems/unauthorized"
    assert body["instance"] == "/whoami"


@pytest.mark.parametrize(
    ("token", "reason"),
    [
        (tokens.mint("acme", "x" * 48), "bad signature"),
        (tokens.mint("acme", KEY, ttl=timedelta(minutes=1), now=LONG_AGO), "token expired"),
        ("garbage", "malformed token"),
    ],
)
def test_invalid_token_is_401(client: TestClient, token: str, reason: str) -> None:
    response = client.get("/whoami", headers=bearer(token))
    assert response.status_code == 401
    assert 'error="invalid_token"' in response.headers["www-authenticate"]
    assert response.json()["detail"] == reason


def test_other_scheme_is_401(client: TestClient) -> None:
    response = client.get("/whoami", headers={"Authorization": "Basic dXNlcjpwYXNz"})
    assert response.status_code == 401
    response = client.get("/whoami", headers={"Authorization": "Bearer   "})
    assert response.status_code == 401


@pytest.mark.parametrize("param", ["token", "access_token"])
def test_token_in_query_refused(client: TestClient, param: str) -> None:
    # Refused even when the same request carries a valid header: the URL
    # leaked the credential, and it must never look like it worked.
    response = client.get(f"/whoami?{param}={good()}", headers=bearer(good()))
    assert response.status_code == 400
    assert response.headers["content-type"] == PROBLEM_MEDIA_TYPE
    body = response.json()
    assert body["type"] == "https://craftplane.io/problems/token-in-query"
    assert good()[:20] not in response.text


def test_cookie_write_needs_own_or_allowed_origin(client: TestClient) -> None:
    cookies = cookie(good())
    evil = client.post("/whoami", headers={**cookies, "Origin": "https://evil.example"})
    assert evil.status_code == 403
    assert evil.headers["content-type"] == PROBLEM_MEDIA_TYPE
    same = client.post("/whoami", headers={**cookies, "Origin": "https://gateway.example"})
    assert same.status_code == 200
    allowed = client.post("/whoami", headers={**cookies, "Origin": ALLOWED[0]})
    assert allowed.status_code == 200
    no_browser = client.post("/whoami", headers=cookies)
    assert no_browser.status_code == 200
    # A bearer header is never sent implicitly: any origin may use it.
    header = client.post("/whoami", headers={**bearer(good()), "Origin": "https://evil.example"})
    assert header.status_code == 200
    read = client.get("/whoami", headers={**cookies, "Origin": "https://evil.example"})
    assert read.status_code == 200


def test_token_from_request_none_without_credentials() -> None:
    scope = {"type": "http", "method": "GET", "path": "/", "headers": [], "query_string": b""}
    assert auth.token_from_request(Request(scope)) is None


def test_principal_from_token() -> None:
    assert auth.principal_from_token(good(), KEY) == auth.Principal("acme", "tenant-acme")
    with pytest.raises(Problem) as caught:
        auth.principal_from_token("nope", KEY)
    assert caught.value.status == 401


def test_websocket_header(client: TestClient) -> None:
    with client.websocket_connect("/ws", headers=bearer(good())) as ws:
        assert ws.receive_json() == {"tenant": "acme"}


def test_websocket_cookie(client: TestClient) -> None:
    with client.websocket_connect("/ws", headers=cookie(good())) as ws:
        assert ws.receive_json() == {"tenant": "acme"}


def test_websocket_first_message(client: TestClient) -> None:
    with client.websocket_connect("/ws") as ws:
        ws.send_json({"type": "auth", "token": good()})
        assert ws.receive_json() == {"tenant": "acme"}


def test_websocket_bad_first_message(client: TestClient) -> None:
    with client.websocket_connect("/ws") as ws:
        ws.send_json({"type": "auth", "token": tokens.mint("acme", "z" * 48)})
        assert ws.receive_json()["code"] == "unauthorized"


def test_websocket_query_token_refused(client: TestClient) -> None:
    with (
        pytest.raises(WebSocketDisconnect) as caught,
        client.websocket_connect(f"/ws?token={good()}") as ws,
    ):
        ws.receive_json()
    assert caught.value.code == 1008
