"""The web app in real headless Chromium (Debian's /usr/bin/chromium), served by uvicorn on a local port.

The web manual's screenshots (docs/web.md) come from `make run` instead, through scripts/walkthrough.py.
"""

import re
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio
from playwright.async_api import Browser, expect
from temporalio.testing import WorkflowEnvironment

from tests.policies import uniform_policy
from tests.stack import Stack, running_stack
from tests.web.chromium import base_url, chromium
from tests.web.chromium import signed_in as _signed_in

# tests/files runs its browser test on these fixtures.
__all__ = ["_signed_in", "base_url", "chromium", "stack"]

# Root cause is due seconds after containment and escalates at once (level 1 at the due time).
POLICY = uniform_policy("browser-tests", remind_before=[], escalate_after=["0s", "1h"], root_cause="4s")
BOARD_REFRESH = 2


@pytest_asyncio.fixture(scope="module")
async def stack(dev_server: WorkflowEnvironment, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Stack]:
    async with running_stack(
        dev_server, tmp_path_factory.mktemp("browser"), policy=POLICY, board_refresh=BOARD_REFRESH
    ) as running:
        yield running


async def test_raise_contain_and_watch_it_escalate_on_the_board(chromium: Browser, base_url: str, stack: Stack) -> None:
    """Otto raises through the form, olivia contains it from My steps, mike's board shows its root cause escalate."""
    otto_context, otto = await _signed_in(chromium, base_url, "otto")
    await otto.get_by_role("link", name="Raise", exact=True).click()
    await otto.get_by_label("Title").fill("Burr on housing edge")
    await otto.get_by_label("What happened").fill("Line 3 housings show a burr on the top edge, found at final check")
    await otto.get_by_label("Severity").select_option("major")
    await otto.get_by_label("Owner").select_option("olivia")
    await otto.get_by_label("Product").fill("Housing H-200")
    await otto.get_by_label("Lot").fill("L-4711")
    await otto.get_by_label("Quantity affected").fill("120")
    await otto.get_by_role("button", name="Raise", exact=True).click()
    await expect(otto).to_have_url(re.compile(r"/records/NC-\d{4}-\d{4,}$"))
    record_id = otto.url.rsplit("/", 1)[1]
    await expect(otto.get_by_role("status")).to_contain_text(f"{record_id} raised")
    await expect(otto.locator(".stage")).to_have_text("containment")
    await expect(otto.locator("form.step")).to_have_count(0)
    await otto_context.close()

    mike_context, board = await _signed_in(chromium, base_url, "mike")
    await board.get_by_role("link", name="Overdue board").click()
    await expect(board.get_by_role("heading", name="Overdue board")).to_be_visible()
    await expect(board.get_by_role("link", name=record_id)).to_have_count(0)

    olivia_context, olivia = await _signed_in(chromium, base_url, "olivia")
    await olivia.get_by_role("link", name=record_id).click()
    await expect(olivia.get_by_role("heading", name="Burr on housing edge")).to_be_visible()
    contain = olivia.locator("#form-contain")
    await contain.get_by_label("What was done to control it").fill("120 housings of lot L-4711 quarantined")
    await contain.get_by_label("Disposition").select_option("quarantine")
    await contain.get_by_label("Quantity").fill("120")
    await contain.get_by_role("button", name="Submit containment").click()
    await expect(olivia.get_by_role("status")).to_contain_text("Containment recorded")
    await expect(olivia.locator(".stage")).to_have_text("root cause")
    await expect(olivia.locator("#form-root-cause")).to_be_visible()

    # Nobody touches mike's board: it reloads itself until the late root cause shows, escalated to level 1.
    row = board.locator("tr", has=board.get_by_role("link", name=record_id))
    await expect(row).to_contain_text("root cause", timeout=30_000)
    await expect(row.locator(".level")).to_have_text(re.compile(r"L[1-9]"), timeout=30_000)
    await expect(row.locator(".late-tag")).to_contain_text("LATE")
    await expect(row).to_contain_text("olivia")
    await expect(row).to_contain_text("major")

    await olivia_context.close()
    await mike_context.close()
