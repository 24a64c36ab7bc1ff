"""The web app under test: one product stack per test module, browsers (cookie jars) signed in as anyone, and
for the browser tests the app served over real HTTP and Debian's Chromium."""

import asyncio
import socket
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio
import uvicorn
from playwright.async_api import Browser, async_playwright
from temporalio.testing import WorkflowEnvironment

from tests.stack import Stack, running_stack
from tests.web.chromium import CHROMIUM, CHROMIUM_ARGS
from tests.web.pages import POLICY, eventually


@pytest_asyncio.fixture(scope="module")
async def stack(dev_server: WorkflowEnvironment, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Stack]:
    async with running_stack(dev_server, tmp_path_factory.mktemp("web"), policy=POLICY) as running:
        yield running


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
