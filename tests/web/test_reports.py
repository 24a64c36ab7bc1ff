"""The reports page in real Chromium: charts drawn on the server, their tables and CSV, at desktop and phone width."""

import csv
import io
from pathlib import Path

from playwright.async_api import Browser, Page, expect

from tests.stack import Stack
from tests.stats.fixture import write_fixture
from tests.web.chromium import DESKTOP, PHONE, signed_in

PERIOD = "since=2026-03-01&until=2026-04-30"
FIGURES = 9


async def _charts_drawn(page: Page) -> int:
    """How many chart images the browser decoded (an SVG it could not read has no natural width)."""
    drawn: int = await page.locator("img.chart").evaluate_all(
        "images => images.filter(i => i.complete && i.naturalWidth > 0).length"
    )
    return drawn


async def test_a_manager_reads_the_figures_with_charts_tables_and_csv(
    chromium: Browser, base_url: str, stack: Stack, tmp_path: Path
) -> None:
    """Maria opens Reports from the navigation, narrows the period, and sees each chart with its table; the
    cycle-time table has the worked-out median; the source Pareto downloads as CSV."""
    write_fixture(stack.engine)
    context, page = await signed_in(chromium, base_url, "maria", DESKTOP)
    await page.get_by_role("link", name="Reports", exact=True).click()
    await expect(page.get_by_role("heading", name="Reports for management review")).to_be_visible()
    await page.get_by_label("From", exact=True).fill("2026-03-01")
    await page.get_by_label("To", exact=True).fill("2026-04-30")
    await page.get_by_role("button", name="Show").click()

    await expect(page.locator("section.figure")).to_have_count(FIGURES)
    cycle = page.locator("#cycle-time table")
    await expect(cycle.get_by_role("row", name="Root cause 2 9.5 13.9")).to_be_visible()
    await expect(page.locator("img.chart")).to_have_count(FIGURES)
    await page.wait_for_load_state("networkidle")
    assert await _charts_drawn(page) == FIGURES
    await page.screenshot(path=tmp_path / "reports.png")

    link = page.locator("#pareto-source").get_by_role("link", name="Download the table (CSV)")
    response = await page.request.get(await link.get_attribute("href") or "")
    assert list(csv.reader(io.StringIO(await response.text())))[1:] == [
        ["customer-complaint", "2", "50.0"],
        ["inspection", "2", "100.0"],
    ]
    await context.close()


async def test_the_reports_page_fits_a_phone(chromium: Browser, base_url: str, stack: Stack, tmp_path: Path) -> None:
    """At 360 px the charts scale to the width and nothing scrolls sideways."""
    write_fixture(stack.engine)
    context, page = await signed_in(chromium, base_url, "quinn", PHONE)
    await page.goto(f"/reports?{PERIOD}")
    await page.wait_for_load_state("networkidle")

    assert await _charts_drawn(page) == FIGURES
    await page.screenshot(path=tmp_path / "phone-reports.png")
    wide = await page.evaluate(
        "[...document.querySelectorAll('body *')].filter(e => e.getBoundingClientRect().right > window.innerWidth)"
        ".map(e => e.tagName + '.' + e.className + ' ' + Math.round(e.getBoundingClientRect().right))"
    )
    assert await page.evaluate("document.documentElement.scrollWidth <= window.innerWidth"), wide
    await context.close()


async def test_a_bad_period_is_marked_on_the_form(chromium: Browser, base_url: str, stack: Stack) -> None:
    """A period ending before it starts is refused beside the To field; an owner has no Reports link."""
    context, page = await signed_in(chromium, base_url, "maria", DESKTOP)
    await page.goto("/reports?since=2026-04-30&until=2026-03-01")
    await expect(page.get_by_label("To", exact=True)).to_have_attribute("aria-invalid", "true")
    await expect(page.locator(".field-error")).to_contain_text("before the start of the period")
    owner_context, owner = await signed_in(chromium, base_url, "olivia", DESKTOP)
    await expect(owner.get_by_role("link", name="Reports", exact=True)).to_have_count(0)
    await context.close()
    await owner_context.close()
