"""The `craftplane-router` process, wired: the game port, the table from the cluster, and the
HTTP endpoint (/metrics, /healthz, /readyz, ready once the table is listed)."""

from __future__ import annotations

import asyncio

import aiohttp
import pytest
from mcproto.packets.login.login import LoginDisconnect

from craftplane.testing.processes import free_port
from craftplane_router import main
from craftplane_router.settings import RouterSettings
from tests.unit.router.factories import server
from tests.unit.router.netfakes import LOGIN_MAP, Packets, login_hello
from tests.unit.router.test_table_source import NAMESPACES, SERVERS, namespace
from tests.unit.watchfakes import WatchedApi

pytestmark = pytest.mark.unit


async def _get(session: aiohttp.ClientSession, url: str) -> tuple[int, str]:
    async with session.get(url) as response:
        return response.status, await response.text()


async def _until_status(session: aiohttp.ClientSession, url: str, status: int) -> str:
    async with asyncio.timeout(10):
        while True:
            try:
                got, text = await _get(session, url)
            except aiohttp.ClientConnectionError:
                got, text = 0, ""
            if got == status:
                return text
            await asyncio.sleep(0.02)


async def test_the_process_routes_from_the_cluster_and_reports_readiness() -> None:
    cluster = WatchedApi()
    cluster.refuse_lists = 2  # not ready until the API server answers
    cluster.listings[NAMESPACES] = ([namespace("tenant-acme", "acme")], "1")
    cluster.listings[SERVERS] = (
        [server("survival", phase="Stopped", hostnames=["survival.example.com"])],
        "2",
    )
    port, metrics_port = free_port(), free_port()
    settings = RouterSettings(
        host="127.0.0.1", port=port, metrics_host="127.0.0.1", metrics_port=metrics_port
    )
    stop = asyncio.Event()
    task = asyncio.create_task(main.run(settings, kube=cluster, stop=stop))  # type: ignore[arg-type]
    base = f"http://127.0.0.1:{metrics_port}"
    try:
        async with aiohttp.ClientSession() as session:
            assert await _until_status(session, f"{base}/healthz", 200)
            await _until_status(session, f"{base}/readyz", 200)
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.write(login_hello("survival.example.com"))
            packet = await Packets(reader).next(LOGIN_MAP)
            writer.close()
            assert isinstance(packet, LoginDisconnect)
            _, text = await _get(session, f"{base}/metrics")
            assert (
                'craftplane_router_connections_total{namespace="tenant-acme",result="refused_stopped",server="survival"} 1.0'
                in text
            )
            assert "# TYPE craftplane_router_wake_requests_total counter" in text
            assert "craftplane_router_wake_requests_total{" not in text  # a stopped server
            stop.set()
            await asyncio.wait_for(task, 10)
    finally:
        stop.set()
        await asyncio.gather(task, return_exceptions=True)


def test_version_and_help(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main.parse_args(["--help"])
    assert exited.value.code == 0
    out = capsys.readouterr().out
    assert "CRAFTPLANE_ROUTER_ACCEPT_PROXY_FROM" in out and "CRAFTPLANE_ROUTER_SPLICE_MODE" in out
    with pytest.raises(SystemExit):
        main.parse_args(["--version"])
    assert capsys.readouterr().out.startswith("craftplane-router ")


def test_bad_settings_exit_with_code_2(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CRAFTPLANE_ROUTER_ACCEPT_PROXY_FROM", "everyone")
    with pytest.raises(SystemExit) as exited:
        main.main([])
    assert exited.value.code == 2
