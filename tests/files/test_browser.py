"""Files through real headless Chromium: the "Attach files" form as a browser sends it (its CSRF token before the
files) and the thumbnail the record page then shows."""

import os
import tempfile
from pathlib import Path

from playwright.async_api import Browser, expect

from tests.files import samples
from tests.stack import Stack
from tests.web.test_browser import _signed_in, base_url, chromium, stack

__all__ = ["base_url", "chromium", "stack"]


async def test_a_photo_attached_in_the_browser_shows_as_a_thumbnail(
    chromium: Browser,
    base_url: str,
    stack: Stack,
) -> None:
    """Otto raises a record, chooses a photo in "Attach files" and sends it: the page lists it, and its thumbnail
    is an image the browser loaded (through the signed-in route)."""
    context, otto = await _signed_in(chromium, base_url, "otto")
    await otto.goto("/raise")
    await otto.get_by_label("Title").fill("Burr on housing edge")
    await otto.get_by_label("What happened").fill("Line 3 housings show a burr")
    await otto.get_by_label("Severity").select_option("major")
    await otto.get_by_label("Owner").select_option("olivia")
    await otto.get_by_role("button", name="Raise", exact=True).click()
    with tempfile.TemporaryDirectory() as folder:
        photo = Path(folder) / "burr.png"
        photo.write_bytes(samples.png(64, 48))
        form = otto.locator("#form-files")
        await form.get_by_label("Files").set_input_files(str(photo))
        await form.get_by_role("button", name="Attach").click()
    await expect(otto.get_by_role("status")).to_contain_text("Attached to containment: burr.png")
    thumbnail = otto.locator("#files img.thumb")
    await expect(thumbnail).to_have_count(1)
    await expect(thumbnail).to_have_attribute("alt", "burr.png")
    loaded = "() => { const i = document.querySelector('#files img.thumb'); return i.complete && i.naturalWidth }"
    await otto.wait_for_function(loaded, timeout=5000)
    assert await thumbnail.evaluate("image => image.naturalWidth") == 64
    if os.environ.get("CAPA_SCREENSHOT"):
        await otto.locator("#files").screenshot(path=os.environ["CAPA_SCREENSHOT"])
    # On a phone the page still fits its width: the file's hash in the timeline and the list wraps.
    await otto.set_viewport_size({"width": 360, "height": 780})
    await otto.reload()
    assert await otto.evaluate("document.documentElement.scrollWidth") <= 360
    if os.environ.get("CAPA_SCREENSHOT"):
        await otto.screenshot(path=os.environ["CAPA_SCREENSHOT"].replace(".png", "-360.png"), full_page=True)
    await context.close()
