"""The dashboard's day-2 screens in a real browser, against a server running for real on the
sandbox's real node (the stand-in image: RCON, a pod log, restarts): the console tab, the
editable settings and their field errors, and who did what in the timeline."""

from __future__ import annotations

import json
import secrets
from typing import Any

import pytest
from playwright.async_api import Locator, Page, expect

from craftplane.testing.gateway import Tenant
from craftplane.testing.kubectl import Kubectl
from craftplane.testing.wait import async_wait_for
from tests.dashboard.conftest import Dashboard, screenshot
from tests.realnode.conftest import apply_server

pytestmark = [pytest.mark.e2e, pytest.mark.real]

LIVE_TIMEOUT = 90_000  # ms: the operator, NATS and the projection all take part
START_TIMEOUT = 180_000  # ms: a real container starts (image unpacked, world generated)


def unique(prefix: str) -> str:
    return f"{prefix}-{secrets.token_hex(3)}"


def row(page: Page, name: str) -> Locator:
    return page.locator(f'[data-testid="server-row"][data-name="{name}"]')


async def running_server(
    dashboard: Dashboard, tenant: Tenant, kubectl: Kubectl
) -> tuple[Page, str]:
    """A server of the tenant's running on the real node, and a page signed in that shows it."""
    name = unique("day2")
    apply_server(kubectl, tenant.namespace, name)
    page = await dashboard.sign_in(tenant)
    await expect(row(page, name)).to_have_attribute("data-status", "running", timeout=START_TIMEOUT)
    return page, name


def cr_spec(kubectl: Kubectl, tenant: Tenant, name: str) -> tuple[dict[str, Any], int]:
    body = kubectl.get("minecraftserver", name, tenant.namespace)
    assert body is not None, f"no MinecraftServer {tenant.namespace}/{name}"
    return body["spec"], int(body["metadata"]["generation"])


async def test_a_console_command_shows_its_output_in_the_console_tab(
    dashboard: Dashboard, real_tenant: Tenant, kubectl: Kubectl, capsys: pytest.CaptureFixture[str]
) -> None:
    page, name = await running_server(dashboard, real_tenant, kubectl)
    await page.goto(f"/#/servers/{name}/console")
    await expect(page.get_by_test_id("tab-console")).to_have_attribute("aria-current", "page")

    # The pod's log follows live over the WebSocket: its start-up lines are there.
    log = page.get_by_test_id("console-log")
    await expect(log).to_contain_text("Starting minecraft server", timeout=LIVE_TIMEOUT)
    await expect(log).to_have_attribute("data-following", "true")

    command = page.get_by_label("Command")
    await command.fill("list")
    await command.press("Enter")
    entry = page.locator('[data-testid="console-command"][data-command="list"]')
    await expect(entry).to_have_attribute("data-state", "done")
    await expect(entry.get_by_test_id("console-output")).to_contain_text(
        "There are 0 of a max of 10 players online"
    )
    await screenshot(page, "console", capsys)

    # Up brings the command back: the history is kept per server in this tab's sessionStorage.
    await expect(command).to_have_value("")
    await command.press("ArrowUp")
    await expect(command).to_have_value("list")
    await command.press("ArrowDown")
    await expect(command).to_have_value("")
    stored = await page.evaluate(f"sessionStorage.getItem('craftplane.console.history.{name}')")
    assert json.loads(stored) == ["list"]

    # The timeline says who ran it.
    await page.get_by_test_id("tab-overview").click()
    ran = page.locator('[data-testid="timeline-item"][data-type="request.console"]')
    await expect(ran).to_have_count(1, timeout=LIVE_TIMEOUT)
    await expect(ran).to_contain_text("list")
    await expect(ran.get_by_test_id("timeline-actor")).to_have_text(real_tenant.name)

    kubectl.run("delete", "mcs", name, "-n", real_tenant.namespace, "--wait=false")


async def test_memory_and_motd_saved_from_the_settings_form_reach_the_cr(
    dashboard: Dashboard, real_tenant: Tenant, kubectl: Kubectl, capsys: pytest.CaptureFixture[str]
) -> None:
    page, name = await running_server(dashboard, real_tenant, kubectl)
    await page.goto(f"/#/servers/{name}/settings")

    memory = page.get_by_label("Memory")
    await expect(memory).to_have_value("1Gi")  # prefilled from the spec
    await expect(page.get_by_label("Message of the day")).to_have_value("real node")
    await memory.fill("768Mi")
    await page.get_by_label("Message of the day").fill("Changed from the dashboard")

    # Before saving, the form says this restarts the server.
    note = page.get_by_test_id("settings-restart-note")
    await expect(note).to_have_attribute("data-restarts", "true")
    await expect(note).to_contain_text("restarts")
    await expect(page.get_by_test_id("settings-save")).to_have_text("Save and restart")
    await screenshot(page, "settings", capsys)
    await page.get_by_test_id("settings-save").click()
    await expect(page.get_by_test_id("toast").filter(has_text="Saved")).to_be_visible()

    async def saved() -> dict[str, Any] | None:
        spec, _ = cr_spec(kubectl, real_tenant, name)
        ok = (
            spec["resources"]["memory"] == "768Mi"
            and spec["properties"]["motd"] == "Changed from the dashboard"
        )
        return spec if ok else None

    spec = await async_wait_for(saved, timeout=30, what="the CR's spec has the new settings")
    assert spec["resources"]["cpu"] == "250m"  # only the changed fields were patched
    assert spec["properties"]["maxPlayers"] == 10

    # The form follows the saved spec, with nothing left to save.
    await expect(memory).to_have_value("768Mi")
    await expect(page.get_by_test_id("settings-save")).to_be_disabled()

    # The timeline shows the change, by the token's subject, naming the changed paths.
    await page.get_by_test_id("tab-overview").click()
    update = page.locator('[data-testid="timeline-item"][data-type="request.update"]')
    await expect(update).to_have_count(1, timeout=LIVE_TIMEOUT)
    await expect(update.get_by_test_id("timeline-actor")).to_have_text(real_tenant.name)
    await expect(update).to_contain_text("spec.resources.memory")
    await expect(page.get_by_test_id("detail-settings")).to_contain_text("768Mi")

    kubectl.run("delete", "mcs", name, "-n", real_tenant.namespace, "--wait=false")


async def test_a_bad_memory_shows_the_api_field_error_beside_its_input(
    dashboard: Dashboard, real_tenant: Tenant, kubectl: Kubectl
) -> None:
    page, name = await running_server(dashboard, real_tenant, kubectl)
    before = cr_spec(kubectl, real_tenant, name)
    await page.goto(f"/#/servers/{name}/settings")
    memory = page.get_by_label("Memory")

    for value in ("12", "abc"):
        await memory.fill(value)
        await page.get_by_test_id("settings-save").click()
        error = page.get_by_test_id("error-memory")
        await expect(error).to_be_visible()
        await expect(page.get_by_test_id("settings-errors")).to_be_focused()
        # Beside its input: the input points at it and says it is invalid.
        error_id = await error.get_attribute("id")
        await expect(memory).to_have_attribute("aria-invalid", "true")
        described = await memory.get_attribute("aria-describedby")
        assert error_id and described and error_id in described.split()
        assert not await page.get_by_test_id("toast").filter(has_text="Saved").count()

    # Nothing reached the cluster.
    assert cr_spec(kubectl, real_tenant, name) == before

    # Undo puts the spec's value back and clears the errors.
    await page.get_by_test_id("settings-reset").click()
    await expect(memory).to_have_value("1Gi")
    await expect(page.get_by_test_id("error-memory")).to_have_count(0)
    await expect(memory).not_to_have_attribute("aria-invalid", "true")
    kubectl.run("delete", "mcs", name, "-n", real_tenant.namespace, "--wait=false")
