"""The dashboard in a real browser against the whole platform: sign-in, the live list, the
create form and its field errors, a server's page and actions, tenant isolation, servers made
with kubectl, and the gateway dying under an open page."""

from __future__ import annotations

import re
import secrets
from collections.abc import Awaitable
from datetime import UTC, datetime, timedelta

import pytest
from playwright.async_api import Locator, Page, expect

from craftplane import tokens
from craftplane.testing.kubectl import Kubectl
from craftplane.testing.mcserver import FakeMinecraftServer, joined
from craftplane.testing.plugin import server_manifest
from craftplane.testing.processes import ManagedProcess
from craftplane.testing.wait import async_wait_for
from tests.dashboard.conftest import PHONE, Dashboard, Tenant, row_log, screenshot

pytestmark = pytest.mark.e2e

LIVE_TIMEOUT = 90_000  # ms: the operator, NATS and the projection all take part (on a busy host)


def unique(prefix: str) -> str:
    return f"{prefix}-{secrets.token_hex(3)}"


async def _nonempty(log: Awaitable[list[str]]) -> list[str] | None:
    return (await log) or None


def row(page: Page, name: str) -> Locator:
    return page.locator(f'[data-testid="server-row"][data-name="{name}"]')


async def expect_status(page: Page, name: str, status: str, timeout: int = LIVE_TIMEOUT) -> None:
    await expect(row(page, name)).to_have_attribute("data-status", status, timeout=timeout)


async def test_sign_in_link_keeps_the_token_out_of_the_url_and_sign_out_forgets_it(
    dashboard: Dashboard, tenant: Tenant
) -> None:
    page = await dashboard.open()
    await page.goto(f"/#token={tenant.token}")
    await expect(page.get_by_test_id("tenant")).to_have_text(tenant.name)
    await expect(page.get_by_test_id("connection")).to_have_attribute("data-state", "live")
    assert tenant.token not in page.url
    assert await page.evaluate("sessionStorage.getItem('craftplane.token')") == tenant.token

    # A reload keeps the session (this tab's sessionStorage)...
    await page.reload()
    await expect(page.get_by_test_id("connection")).to_have_attribute("data-state", "live")

    # ...and signing out forgets it.
    await page.get_by_test_id("sign-out").click()
    await expect(page.get_by_test_id("signin-notice")).to_contain_text("signed out")
    assert await page.evaluate("sessionStorage.getItem('craftplane.token')") is None

    # A token the gateway refuses is reported on the form, not kept.
    await page.get_by_label("Access token").fill(tokens.mint(tenant.name, tokens.generate_key()))
    await page.get_by_role("button", name="Sign in").click()
    await expect(page.get_by_test_id("signin-error")).to_contain_text("refused")
    assert await page.evaluate("sessionStorage.getItem('craftplane.token')") is None


async def test_expired_or_refused_token_returns_to_sign_in_with_a_message(
    dashboard: Dashboard, tenant: Tenant, dashboard_token_key: str
) -> None:
    # A session whose token runs out while the page is open.
    short = tokens.mint(tenant.name, dashboard_token_key, ttl=timedelta(seconds=4))
    page = await dashboard.open()
    await page.goto(f"/#token={short}")
    await expect(page.get_by_test_id("connection")).to_have_attribute("data-state", "live")
    await expect(page.get_by_test_id("signin-notice")).to_contain_text("expired", timeout=15_000)
    assert await page.evaluate("sessionStorage.getItem('craftplane.token')") is None

    # A stale sign-in link.
    old = tokens.mint(
        tenant.name,
        dashboard_token_key,
        ttl=timedelta(minutes=1),
        now=datetime.now(UTC) - timedelta(hours=1),
    )
    await page.goto(f"/#token={old}")
    await expect(page.get_by_test_id("signin-notice")).to_contain_text("link has expired")
    assert old not in page.url

    # A token that looks fine here but that the gateway refuses (revoked key): the gateway's
    # 401 signs the page out with its reason.
    forged = tokens.mint(tenant.name, tokens.generate_key())
    await page.goto(f"/#token={forged}")
    await expect(page.get_by_test_id("signin-notice")).to_contain_text("session has ended")


async def test_server_lifecycle_through_the_dashboard(
    dashboard: Dashboard,
    tenant: Tenant,
    other_tenant: Tenant,
    capsys: pytest.CaptureFixture[str],
) -> None:
    name = unique("ui")
    page = await dashboard.sign_in(tenant)
    onlooker = await dashboard.sign_in(other_tenant)
    await page.evaluate("window.__sameDocument = true")

    # Create through the form: the row is there at once, deploying.
    await page.get_by_test_id("create-button").click()
    await expect(page.get_by_role("heading", name="New server")).to_be_visible()
    await page.get_by_label("Name", exact=True).fill(name)
    await page.get_by_label("Server type").select_option("PAPER")
    await page.get_by_label("Version").fill("1.21.4")
    await page.get_by_label("Memory").fill("2Gi")
    await page.get_by_label("World storage").fill("5Gi")
    await page.get_by_label("Message of the day").fill("Built by the browser test")
    await page.get_by_label("Max players").fill("12")
    await page.get_by_label("Game mode").select_option("creative")
    await page.get_by_label("Difficulty").select_option("hard")
    await page.get_by_label("I accept the Minecraft EULA").check()
    await page.get_by_test_id("create-submit").click()

    await expect(row(page, name)).to_be_visible(timeout=5_000)
    # The recorder notes the row within a tick of it showing (its first status is the point).
    shown = await async_wait_for(
        lambda: _nonempty(row_log(page, name)), timeout=5, what="the row recorded"
    )
    assert shown[0] == "deploying", shown

    # ...and turns running by itself, with an address and a player count.
    await expect_status(page, name, "running")
    await expect(row(page, name).get_by_test_id("server-type")).to_have_text("PAPER")
    await expect(row(page, name).get_by_test_id("server-version")).to_have_text("1.21.4")
    await expect(row(page, name).get_by_test_id("copy-address")).to_be_visible()
    statuses = await row_log(page, name)
    assert statuses[0] == "deploying" and statuses[-1] == "running", statuses
    assert await page.evaluate("window.__sameDocument") is True  # no reload happened
    await expect(page.get_by_test_id("server-summary")).to_contain_text("1 running")
    await screenshot(page, "list-laptop", capsys)

    # The server's page: state, address, settings, events, chart.
    await row(page, name).get_by_test_id("server-link").click()
    detail = page.get_by_test_id("server-page")
    await expect(detail).to_have_attribute("data-status", "running")
    await expect(page.get_by_test_id("detail-address")).to_contain_text(":")
    await expect(page.get_by_test_id("detail-settings")).to_contain_text("creative")
    await expect(page.get_by_test_id("detail-settings")).to_contain_text("5Gi")
    await expect(page.get_by_test_id("detail-retain")).to_have_text("world kept")
    await expect(page.get_by_test_id("timeline-item").first).to_be_visible()
    await expect(
        page.locator('[data-testid="timeline-item"][data-type="k8s.running"]')
    ).to_have_count(1, timeout=LIVE_TIMEOUT)
    await expect(page.get_by_test_id("players-chart")).to_be_visible()
    await screenshot(page, "detail-laptop", capsys)

    # Copy the address.
    address = await page.locator('[data-testid="detail-address"] code').inner_text()
    await page.get_by_test_id("copy-address").click()
    await expect(page.get_by_test_id("copy-address")).to_have_attribute("data-copied", "true")
    assert await page.evaluate("navigator.clipboard.readText()") == address

    # Stop, from the keyboard: the page follows the server to stopped.
    await page.get_by_test_id("action-stop").focus()
    await page.keyboard.press("Enter")
    await expect(detail).to_have_attribute("data-status", "stopped", timeout=LIVE_TIMEOUT)
    await expect(page.get_by_test_id("action-start")).to_be_enabled()
    await expect(page.get_by_test_id("detail-address")).to_contain_text("Stopped")

    # Delete asks first, says the world is kept, and Escape backs out.
    await page.get_by_test_id("action-delete").click()
    dialog = page.get_by_test_id("confirm-dialog")
    await expect(dialog).to_be_visible()
    await expect(page.get_by_test_id("delete-world-note")).to_have_attribute("data-retain", "true")
    await expect(page.get_by_test_id("delete-world-note")).to_contain_text("world is kept")
    await expect(page.get_by_test_id("confirm-cancel")).to_be_focused()
    await page.keyboard.press("Escape")
    await expect(dialog).to_be_hidden()
    await page.get_by_test_id("action-delete").click()
    await page.get_by_test_id("confirm-ok").click()

    # Back on the list, the server leaves it.
    await expect(page.get_by_role("heading", name="Servers", exact=True)).to_be_visible()
    await expect(row(page, name)).to_have_count(0, timeout=LIVE_TIMEOUT)
    assert (await row_log(page, name))[-1] == "gone"
    await expect(page.get_by_test_id("list-empty")).to_be_visible()

    # The other tenant, signed in the whole time, never saw it.
    assert await row_log(onlooker, name) == []
    await expect(onlooker.get_by_test_id("list-empty")).to_be_visible()
    await expect(onlooker.get_by_test_id("connection")).to_have_attribute("data-state", "live")
    await onlooker.goto(f"/#/servers/{name}")
    await expect(onlooker.get_by_test_id("detail-error")).to_contain_text("No server named")


async def test_field_errors_from_the_api_show_beside_their_inputs(
    dashboard: Dashboard, tenant: Tenant, kubectl: Kubectl
) -> None:
    page = await dashboard.sign_in(tenant)
    await page.goto("/#/new")
    await page.get_by_label("Name", exact=True).fill("Not_A_Name")
    await page.get_by_label("Memory").fill("100Mi")
    await page.get_by_label("Version").fill("latest-please")
    await page.get_by_label("Max players").fill("0")
    await page.get_by_test_id("create-submit").click()  # EULA left unticked

    await expect(page.get_by_test_id("form-errors")).to_be_focused()
    for field, text in (
        ("name", "pattern"),
        ("memory", "at least"),
        ("version", "pattern"),
        ("maxPlayers", "greater than or equal to 1"),
        ("eula", "EULA"),
    ):
        error = page.get_by_test_id(f"error-{field}")
        await expect(error).to_contain_text(text)
        # Beside its input: the input points at it, and says it is invalid.
        error_id = await error.get_attribute("id")
        field_input = page.locator(f"#{field}")
        await expect(field_input).to_have_attribute("aria-invalid", "true")
        await expect(field_input).to_have_attribute(
            "aria-describedby", re.compile(rf"\b{error_id}\b")
        )
    assert kubectl.run("get", "mcs", "-n", tenant.namespace, "-o", "name").stdout == ""  # none made

    # Fixing them clears the errors and creates the server.
    name = unique("fixed")
    await page.get_by_label("Name", exact=True).fill(name)
    await page.get_by_label("Memory").fill("1Gi")
    await page.get_by_label("Version").fill("LATEST")
    await page.get_by_label("Max players").fill("5")
    await page.get_by_label("I accept the Minecraft EULA").check()
    await page.get_by_test_id("create-submit").click()
    await expect(row(page, name)).to_be_visible()

    # A name that is taken is reported on the name field.
    await page.goto("/#/new")
    await page.get_by_label("Name", exact=True).fill(name)
    await page.get_by_label("I accept the Minecraft EULA").check()
    await page.get_by_test_id("create-submit").click()
    await expect(page.get_by_test_id("error-name")).to_contain_text("already exists")
    kubectl.run("delete", "mcs", name, "-n", tenant.namespace, "--wait=false")
    await page.goto("/#/")
    await expect(row(page, name)).to_have_count(0, timeout=LIVE_TIMEOUT)


async def test_server_made_with_kubectl_appears_by_itself(
    dashboard: Dashboard, tenant: Tenant, kubectl: Kubectl
) -> None:
    page = await dashboard.sign_in(tenant)
    await page.evaluate("window.__sameDocument = true")
    name = unique("gitops")
    kubectl.apply(server_manifest(name, version="1.21.1"), tenant.namespace)

    await expect_status(page, name, "running")
    # Event frames carry only what changed; the rest (type, version, age) is filled in.
    await expect(row(page, name).get_by_test_id("server-type")).to_have_text("PAPER")
    await expect(row(page, name).get_by_test_id("server-version")).to_have_text("1.21.1")
    await expect(row(page, name).get_by_test_id("server-age")).to_have_text(
        re.compile(r"^\d+[smhd]$")
    )

    kubectl.run("delete", "mcs", name, "-n", tenant.namespace, "--wait=false")
    await expect(row(page, name)).to_have_count(0, timeout=LIVE_TIMEOUT)
    assert await page.evaluate("window.__sameDocument") is True


async def test_gateway_killed_and_restarted_under_an_open_page(
    dashboard: Dashboard,
    dashboard_gateway: ManagedProcess,
    tenant: Tenant,
    kubectl: Kubectl,
    capsys: pytest.CaptureFixture[str],
) -> None:
    kept, removed, added = unique("kept"), unique("removed"), unique("added")
    kubectl.apply("---\n".join(server_manifest(n) for n in (kept, removed)), tenant.namespace)
    page = await dashboard.sign_in(tenant)
    await page.evaluate("window.__sameDocument = true")
    await expect_status(page, kept, "running")
    await expect_status(page, removed, "running")

    dashboard_gateway.kill()  # SIGKILL: no goodbye on the WebSocket
    indicator = page.get_by_test_id("connection")
    await expect(indicator).to_have_attribute("data-state", "reconnecting", timeout=15_000)
    await expect(indicator).to_contain_text("Offline")
    await expect(page.get_by_test_id("stale-banner")).to_be_visible()
    await screenshot(page, "list-outage", capsys)

    # While the page cannot hear about it, the servers change.
    kubectl.apply(server_manifest(added), tenant.namespace)
    kubectl.run("delete", "mcs", removed, "-n", tenant.namespace, "--wait=false")
    kubectl.run("wait", "--for=delete", f"mcs/{removed}", "-n", tenant.namespace, "--timeout=60s")

    dashboard_gateway.start()
    await expect(indicator).to_have_attribute("data-state", "live", timeout=LIVE_TIMEOUT)
    await expect(page.get_by_test_id("stale-banner")).to_be_hidden()
    # The fresh snapshot (and what follows it) makes the list right again.
    await expect_status(page, added, "running")
    await expect(row(page, removed)).to_have_count(0, timeout=LIVE_TIMEOUT)
    await expect_status(page, kept, "running")
    assert await page.evaluate("window.__sameDocument") is True

    for name in (kept, added):
        kubectl.run("delete", "mcs", name, "-n", tenant.namespace, "--wait=false")
    await expect(page.get_by_test_id("server-row")).to_have_count(0, timeout=LIVE_TIMEOUT)


async def test_player_counts_show_in_the_list_and_the_chart(
    dashboard: Dashboard,
    tenant: Tenant,
    kubectl: Kubectl,
    capsys: pytest.CaptureFixture[str],
) -> None:
    name = unique("lobby")
    game = await FakeMinecraftServer(max_players=20).start()
    try:
        manifest = server_manifest(name)
        manifest = manifest.replace(
            "metadata:\n",
            f"metadata:\n  annotations:\n    craftplane.io/ping-target: '{game.address}'\n",
        )
        kubectl.apply(manifest, tenant.namespace)
        page = await dashboard.sign_in(tenant)
        await expect_status(page, name, "running")
        players = row(page, name).get_by_test_id("server-players")
        await expect(players).to_have_text("0 / 20", timeout=LIVE_TIMEOUT)

        await row(page, name).get_by_test_id("server-link").click()
        chart = page.get_by_test_id("players-chart")
        await expect(chart).to_have_attribute("data-current", "0", timeout=LIVE_TIMEOUT)
        async with joined(game.address, "Alex"):
            await expect(chart).to_have_attribute("data-current", "1", timeout=LIVE_TIMEOUT)
            await expect(page.get_by_test_id("detail-players")).to_have_text("1 / 20")
            await expect(chart.locator("svg path.line")).to_be_visible()
            await screenshot(page, "detail-players", capsys)
        await expect(chart).to_have_attribute("data-current", "0", timeout=LIVE_TIMEOUT)
        kubectl.run("delete", "mcs", name, "-n", tenant.namespace, "--wait=false")
        await page.get_by_test_id("back-to-list").click()
        await expect(row(page, name)).to_have_count(0, timeout=LIVE_TIMEOUT)
    finally:
        await game.stop()


async def test_phone_width_screenshots(
    dashboard: Dashboard,
    tenant: Tenant,
    kubectl: Kubectl,
    capsys: pytest.CaptureFixture[str],
) -> None:
    name = unique("phone")
    kubectl.apply(server_manifest(name), tenant.namespace)
    page = await dashboard.sign_in(tenant, viewport=PHONE)
    await expect_status(page, name, "running")
    # No sideways scrolling at phone width.
    assert await page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    await screenshot(page, "list-phone", capsys)
    await row(page, name).get_by_test_id("server-link").click()
    await expect(page.get_by_test_id("server-page")).to_have_attribute("data-status", "running")
    await expect(page.get_by_test_id("action-stop")).to_be_visible()
    assert await page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    await screenshot(page, "detail-phone", capsys)
    kubectl.run("delete", "mcs", name, "-n", tenant.namespace, "--wait=false")
    await page.get_by_test_id("back-to-list").click()
    await expect(row(page, name)).to_have_count(0, timeout=LIVE_TIMEOUT)
