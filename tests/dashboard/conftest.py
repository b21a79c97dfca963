"""The dashboard in a real browser: Debian's chromium driven by Playwright, against a gateway
of the session's own (own database and durable consumer) serving the built dashboard, with the
session's operator reconciling the servers, and tenants whose namespaces exist.

Nothing here sleeps: every wait is on a condition (Playwright's expect / wait_for).
"""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import Browser, BrowserContext, Page, async_playwright, expect

from craftplane import tokens
from craftplane.sandbox import node
from craftplane.testing.gateway import Tenant, gateway_process, unique_consumer
from craftplane.testing.kubectl import Kubectl
from craftplane.testing.platform import Platform
from craftplane.testing.plugin import drop_tenant, make_tenant, revive, scratch_database
from craftplane.testing.processes import ManagedProcess

ROOT = Path(__file__).resolve().parents[2]
DASHBOARD = ROOT / "dashboard"
DIST = DASHBOARD / "dist"
SCREENSHOTS = ROOT / "test-artifacts" / "screenshots"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
LAPTOP = {"width": 1366, "height": 860}
PHONE = {"width": 390, "height": 844}

# Records every status each server row shows, and rows leaving, as the page changes: a test
# can then tell that a row went deploying -> running without the page being reloaded, however
# short a state lasted.
ROW_RECORDER = """
(() => {
  window.__rowLog = [];
  window.__rowLogErrors = [];
  const last = new Map();
  // An exception in an observer callback is lost silently: keep it where a test can see it.
  const scan = () => {
    try {
      record();
    } catch (err) {
      window.__rowLogErrors.push(String(err));
    }
  };
  const record = () => {
    const seen = new Set();
    for (const row of document.querySelectorAll('[data-testid="server-row"]')) {
      const name = row.dataset.name, status = row.dataset.status;
      seen.add(name);
      if (last.get(name) !== status) {
        last.set(name, status);
        window.__rowLog.push({name, status, t: Date.now()});
      }
    }
    for (const name of [...last.keys()]) {
      if (!seen.has(name)) {
        last.delete(name);
        window.__rowLog.push({name, status: 'gone', t: Date.now()});
      }
    }
  };
  new MutationObserver(scan).observe(document, {
    subtree: true, childList: true, attributes: true, attributeFilter: ['data-status'],
  });
})();
"""


def chromium_path() -> str:
    found = os.environ.get("CRAFTPLANE_CHROMIUM") or shutil.which("chromium")
    if not found:
        pytest.fail("Debian's chromium is not installed (apt-get install chromium)")
    return found


def _newest_source_mtime() -> float:
    paths = [
        DASHBOARD / "index.html",
        DASHBOARD / "package-lock.json",
        DASHBOARD / "vite.config.js",
    ]
    paths += [p for p in (DASHBOARD / "src").rglob("*") if p.is_file()]
    paths += [p for p in (DASHBOARD / "public").rglob("*") if p.is_file()]
    return max(p.stat().st_mtime for p in paths if p.exists())


def build_dashboard() -> Path:
    """dashboard/dist, built with npm (npm ci first when node_modules is missing or stale)."""
    index = DIST / "index.html"
    if index.exists() and index.stat().st_mtime >= _newest_source_mtime():
        return DIST
    npm = shutil.which("npm")
    if npm is None:
        pytest.fail("npm is needed to build the dashboard (Node.js >= 20.19)")
    installed = DASHBOARD / "node_modules" / ".package-lock.json"
    lock = DASHBOARD / "package-lock.json"
    if not installed.exists() or installed.stat().st_mtime < lock.stat().st_mtime:
        subprocess.run([npm, "ci", "--no-audit", "--no-fund"], cwd=DASHBOARD, check=True)
    subprocess.run([npm, "run", "build"], cwd=DASHBOARD, check=True)
    return DIST


@pytest.fixture(scope="session")
def dashboard_dist() -> Path:
    return build_dashboard()


@pytest.fixture(scope="session")
def dashboard_token_key() -> str:
    return tokens.generate_key()


@pytest.fixture(scope="session")
async def dashboard_db(platform: Platform) -> AsyncIterator[str]:
    async with scratch_database(platform, "dash") as dsn:
        yield dsn


@pytest.fixture(scope="module")
def dashboard_gateway(
    platform: Platform,
    operator: ManagedProcess,
    dashboard_dist: Path,
    dashboard_db: str,
    dashboard_token_key: str,
) -> Iterator[ManagedProcess]:
    proc = gateway_process(
        platform,
        index=70,
        database_url=dashboard_db,
        token_key=dashboard_token_key,
        consumer=unique_consumer(),
        extra={"CRAFTPLANE_GATEWAY_DASHBOARD_DIR": str(dashboard_dist)},
    )
    proc.log_path = ROOT / "test-artifacts" / "gateway-dashboard.log"
    proc.start()
    yield proc
    proc.terminate()


@pytest.fixture(autouse=True)
def _dashboard_gateway_running(request: pytest.FixtureRequest) -> None:
    """A test that killed the gateway must not leave the next one without it."""
    revive(request, "dashboard_gateway")


@pytest.fixture
def tenant(kubectl: Kubectl, dashboard_token_key: str, crds_installed: None) -> Iterator[Tenant]:
    """A tenant of the test's own, with no servers yet."""
    made = make_tenant(kubectl, dashboard_token_key, f"dash{secrets.token_hex(4)}")
    yield made
    kubectl.run("delete", "namespace", made.namespace, "--wait=false", check=False)


@pytest.fixture
def real_tenant(
    platform: Platform, kubectl: Kubectl, dashboard_token_key: str, crds_installed: None
) -> Iterator[Tenant]:
    """A tenant whose namespace (tenant-real-*) the sandbox's placement sends to the real node,
    where its servers run the stand-in image for real (RCON, logs, restarts)."""
    cfg = platform.sandbox
    if cfg is None or not node.enabled(cfg):
        pytest.skip("the real node exists only in the sandbox (CRAFTPLANE_REAL_NODE=true)")
    node.start(cfg)  # idempotent: the session's `up` started it already
    made = make_tenant(kubectl, dashboard_token_key, f"real-{secrets.token_hex(3)}", sandbox=cfg)
    yield made
    drop_tenant(kubectl, made, cfg)


@pytest.fixture
def other_tenant(
    kubectl: Kubectl, dashboard_token_key: str, crds_installed: None
) -> Iterator[Tenant]:
    """A second tenant, looking on."""
    made = make_tenant(kubectl, dashboard_token_key, f"other{secrets.token_hex(4)}")
    yield made
    kubectl.run("delete", "namespace", made.namespace, "--wait=false", check=False)


@pytest.fixture(scope="module")
async def browser() -> AsyncIterator[Browser]:
    # The async API: the sync one leaves its own event loop marked as running, which breaks
    # every asyncio fixture and test that comes after it in the session.
    async with async_playwright() as pw:
        instance = await pw.chromium.launch(
            executable_path=chromium_path(), headless=True, args=CHROMIUM_ARGS
        )
        yield instance
        await instance.close()


@dataclass
class Dashboard:
    """Opens dashboard pages in fresh browser contexts (each its own sessionStorage)."""

    browser: Browser
    gateway: ManagedProcess
    contexts: list[BrowserContext] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.gateway.http_port}"

    async def open(self, viewport: dict[str, int] | None = None) -> Page:
        context = await self.browser.new_context(
            viewport=viewport or LAPTOP,  # type: ignore[arg-type]
            base_url=self.url,
        )
        await context.add_init_script(ROW_RECORDER)
        await context.grant_permissions(["clipboard-read", "clipboard-write"])
        self.contexts.append(context)
        page = await context.new_page()
        page.set_default_timeout(30_000)
        return page

    async def sign_in(self, tenant: Tenant, viewport: dict[str, int] | None = None) -> Page:
        """A page signed in as `tenant` by pasting its token, showing the live server list."""
        page = await self.open(viewport)
        await page.goto("/")
        await page.get_by_label("Access token").fill(tenant.token)
        await page.get_by_role("button", name="Sign in").click()
        await expect(page.get_by_test_id("tenant")).to_have_text(tenant.name)
        await expect(page.get_by_test_id("connection")).to_have_attribute("data-state", "live")
        return page

    async def close(self) -> None:
        for context in self.contexts:
            await context.close()
        self.contexts.clear()


@pytest.fixture
async def dashboard(
    browser: Browser, dashboard_gateway: ManagedProcess
) -> AsyncIterator[Dashboard]:
    board = Dashboard(browser, dashboard_gateway)
    yield board
    await board.close()


async def row_log(page: Page, name: str) -> list[str]:
    """Every status the row of `name` showed on this page, in order ('gone' when it left)."""
    log: list[dict[str, Any]] = await page.evaluate("window.__rowLog")
    errors = await page.evaluate("window.__rowLogErrors")
    assert not errors, f"the row recorder failed: {errors}"
    return [entry["status"] for entry in log if entry["name"] == name]


async def screenshot(page: Page, name: str, capsys: pytest.CaptureFixture[str]) -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    await page.screenshot(path=str(path), full_page=True)
    with capsys.disabled():
        print(f"\n[dashboard] screenshot: {path}")
    return path
