"""A notification arriving in the app, in real headless Chromium: otto comments on a record mentioning greta; her
navigation counts it, her notifications page lists it in bold with a link to the record, and she marks it read.
Pages at 1280 and 360 px (screenshots into $CAPAFLOW_WEB_SCREENSHOTS when set, else a temporary folder)."""

import os
from pathlib import Path

from playwright.async_api import Browser, Page, expect

from tests.stack import Stack
from tests.web.chromium import PHONE, base_url, chromium, signed_in
from tests.web.pages import eventually
from tests.web.test_process import SHOTS

__all__ = ["base_url", "chromium"]


async def _raise(page: Page) -> str:
    await page.goto("/raise")
    await page.get_by_label("Title").fill("Burr on housing edge")
    await page.get_by_label("What happened").fill("Line 3 housings show a burr")
    await page.get_by_label("Severity").select_option("major")
    await page.get_by_label("Owner").select_option("olivia")
    await page.get_by_role("button", name="Raise", exact=True).click()
    await expect(page.locator("#form-comment")).to_be_visible()
    return (await page.locator(".record-id").inner_text()).strip()


async def test_a_mention_arrives_in_the_app_and_is_marked_read(
    chromium: Browser, base_url: str, stack: Stack, tmp_path: Path
) -> None:
    """Otto comments "@greta ..." on the record page: the comment shows under Comments; greta's navigation then
    counts one unread, her notifications page shows it in bold linking to the record; "Mark read" clears the count.
    She watches the record from its page. Both pages fit 360 px without sideways scrolling."""
    shots = Path(os.environ.get(SHOTS) or tmp_path)
    shots.mkdir(parents=True, exist_ok=True)
    otto_context, otto = await signed_in(chromium, base_url, "otto")
    greta_context, greta = await signed_in(chromium, base_url, "greta")
    await expect(greta.locator(".unread-badge")).to_have_count(0)

    record_id = await _raise(otto)
    form = otto.locator("#form-comment")
    await form.get_by_label("Add a comment").fill("@nobody is this the same burr?")
    await form.get_by_role("button", name="Comment").click()
    await expect(otto.locator("#form-comment .field-error")).to_contain_text("@nobody")
    await form.get_by_label("Add a comment").fill("@greta is this lot on hold?\nThe burr shows on L-4712 too.")
    await form.get_by_role("button", name="Comment").click()
    await expect(otto.get_by_role("status")).to_contain_text("Comment added")
    await expect(otto.locator("#comments .comment-text")).to_have_text(
        "@greta is this lot on hold?\nThe burr shows on L-4712 too."
    )

    badge = greta.locator("nav .unread-badge")

    async def counted() -> bool:
        await greta.reload()
        return await badge.count() == 1 and (await badge.inner_text()).strip() == "(1 unread)"

    await eventually(counted, "greta's unread count")
    await greta.get_by_role("link", name="Notifications").click()
    row = greta.locator("table.notifications tbody tr").first
    await expect(row).to_have_class("unread")
    await expect(row).to_contain_text("otto commented: @greta is this lot on hold?")
    await expect(row.get_by_role("link", name=record_id)).to_have_attribute("href", f"/records/{record_id}")
    await greta.screenshot(path=str(shots / "notifications.png"), full_page=True)
    await greta.set_viewport_size(PHONE)
    assert await greta.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    await greta.screenshot(path=str(shots / "phone-notifications.png"), full_page=True)

    await row.get_by_role("button", name="Mark read").click()
    await expect(greta.locator("nav .unread-badge")).to_have_count(0)
    await expect(greta.locator("table.notifications tbody tr").first).to_have_class("read")

    await greta.get_by_role("link", name=record_id).click()
    await greta.get_by_role("button", name="Watch").click()
    await expect(greta.get_by_role("status")).to_contain_text(f"You watch {record_id}")
    await expect(greta.get_by_role("button", name="Unwatch")).to_be_visible()
    await expect(greta.locator("#comments")).to_contain_text("mentions Greta Lind")
    assert await greta.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    await greta.locator("#comments").screenshot(path=str(shots / "phone-comments.png"))
    await greta.set_viewport_size({"width": 1280, "height": 900})
    await greta.locator("#comments").screenshot(path=str(shots / "comments.png"))
    await otto_context.close()
    await greta_context.close()
