"""An admin sets a site's working-day calendar on the help page in real headless Chromium: a .toml file sets it,
an .ics file adds its holidays, and a calendar refused marks the file's field with the reason."""

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio
from playwright.async_api import Browser, expect
from temporalio.testing import WorkflowEnvironment

from tests.stack import Stack, running_stack
from tests.web.chromium import DESKTOP, PHONE, base_url, chromium, signed_in

__all__ = ["base_url", "chromium"]

TOML = (
    'timezone = "UTC"\nweekdays = ["mon", "tue", "wed", "thu", "fri"]\nhours = "07:00-15:00"\nholidays = [2026-12-07]\n'
)
ICS = (
    "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//site//holidays//EN\r\n"
    "BEGIN:VEVENT\r\nUID:1\r\nDTSTART;VALUE=DATE:20261224\r\nSUMMARY:Christmas Eve\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
)
SHOTS = Path(__file__).parents[2] / "build" / "screenshots"


@pytest_asyncio.fixture(scope="module")
async def stack(dev_server: WorkflowEnvironment, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Stack]:
    async with running_stack(dev_server, tmp_path_factory.mktemp("calendar-browser")) as running:
        yield running


async def test_an_admin_uploads_a_sites_calendar_on_the_help_page(
    chromium: Browser, base_url: str, tmp_path: Path
) -> None:
    toml, ics, bad = tmp_path / "plant.toml", tmp_path / "holidays.ics", tmp_path / "bad.toml"
    toml.write_text(TOML)
    ics.write_text(ICS)
    bad.write_text('hours = "16:00-08:00"\n')
    SHOTS.mkdir(parents=True, exist_ok=True)
    for viewport, width in ((DESKTOP, 1280), (PHONE, 360)):
        context, page = await signed_in(chromium, base_url, "ada", viewport)
        await page.goto("/help#calendars")
        form = page.locator("#form-calendar")
        await form.get_by_label("Calendar file").set_input_files(str(bad))
        await form.get_by_role("button", name="Set the calendar").click()
        field = page.locator("#calendar-file")
        await expect(field).to_have_attribute("aria-invalid", "true")
        await expect(page.locator("#calendar-file-error")).to_contain_text("hours")
        await page.locator("#calendar-file").screenshot(path=str(SHOTS / f"calendar-refused-{width}.png"))
        await page.locator("#form-calendar").screenshot(path=str(SHOTS / f"calendar-form-refused-{width}.png"))
        await page.locator("#form-calendar").get_by_label("Calendar file").set_input_files(str(toml))
        await page.locator("#form-calendar").get_by_role("button", name="Set the calendar").click()
        await expect(page.locator("table.calendars")).to_contain_text("07:00-15:00 (UTC), 1 holiday")
        await page.locator("#form-calendar").get_by_label("Calendar file").set_input_files(str(ics))
        await page.locator("#form-calendar").get_by_role("button", name="Set the calendar").click()
        await expect(page.locator("table.calendars")).to_contain_text("2026-12-07, 2026-12-24")
        await page.locator("#calendars").screenshot(path=str(SHOTS / f"calendar-set-{width}.png"))
        await context.close()


async def test_the_form_is_for_admins_only(chromium: Browser, base_url: str) -> None:
    context, page = await signed_in(chromium, base_url, "otto")
    await page.goto("/help")
    await expect(page.locator("table.calendars")).to_be_visible()
    await expect(page.locator("#form-calendar")).to_have_count(0)
    await context.close()
