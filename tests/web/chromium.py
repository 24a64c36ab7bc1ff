"""Real headless Chromium (Debian's /usr/bin/chromium) for the browser tests: the browser, the app served over
real HTTP (both fixtures, per test module), and a person signing in through the sign-in page."""

import asyncio
import socket
from collections.abc import AsyncIterator
from pathlib import Path

import pytest_asyncio
import uvicorn
from playwright.async_api import Browser, BrowserContext, Page, ViewportSize, async_playwright, expect

from tests.stack import PASSWORD, Stack
from tests.web.pages import eventually

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]
DESKTOP = ViewportSize(width=1280, height=900)
PHONE = ViewportSize(width=360, height=780)


async def signed_in(
    chromium: Browser, base_url: str, name: str, viewport: ViewportSize = DESKTOP
) -> tuple[BrowserContext, Page]:
    """A fresh browser window, ``name`` signed in through the form and shown their work."""
    context = await chromium.new_context(base_url=base_url, viewport=viewport)
    page = await context.new_page()
    await page.goto("/")
    await expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    await page.get_by_label("User name").fill(name)
    await page.get_by_label("Password").fill(PASSWORD)
    await page.get_by_role("button", name="Sign in").click()
    await expect(page.get_by_role("heading", name="My work")).to_be_visible()
    await expect(page.locator(".who")).to_contain_text(name)
    return context, page


@pytest_asyncio.fixture(scope="module")
async def base_url(stack: Stack) -> AsyncIterator[str]:
    """The app served over real HTTP on a free local port, in this event loop."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(stack.app, log_config=None, access_log=False, lifespan="off"))
    serving = asyncio.create_task(server.serve(sockets=[sock]))

    async def started() -> bool:
        return server.started

    await eventually(started, "uvicorn serving", within=10)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    await serving
    sock.close()


@pytest_asyncio.fixture(scope="module")
async def chromium() -> AsyncIterator[Browser]:
    """Debian's Chromium; a missing browser fails the test, it is never downloaded or skipped."""
    assert Path(CHROMIUM).exists(), f"{CHROMIUM} is missing: apt-get install chromium"
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield browser
        await browser.close()
