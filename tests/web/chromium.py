"""Real headless Chromium (Debian's /usr/bin/chromium) for the browser tests: how it is started, and a person
signing in through the sign-in page."""

from playwright.async_api import Browser, BrowserContext, Page, ViewportSize, expect

from tests.stack import PASSWORD

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
    """A fresh browser window, ``name`` signed in through the form and shown their open steps."""
    context = await chromium.new_context(base_url=base_url, viewport=viewport)
    page = await context.new_page()
    await page.goto("/")
    await expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    await page.get_by_label("User name").fill(name)
    await page.get_by_label("Password").fill(PASSWORD)
    await page.get_by_role("button", name="Sign in").click()
    await expect(page.get_by_role("heading", name="My open steps")).to_be_visible()
    await expect(page.locator(".who")).to_contain_text(name)
    return context, page
