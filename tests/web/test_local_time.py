"""Local time in Chromium: a person at the Berlin plant reads a Berlin record's times in CET, types a plan's due
in CET, and a date alone falls due at the end of that day in Berlin; on a phone as on a desktop."""

import os
from datetime import UTC, date, datetime, time
from pathlib import Path
from zoneinfo import ZoneInfo

from playwright.async_api import Browser, expect

from models import formatting
from tests.stack import Stack
from tests.web.chromium import DESKTOP, PHONE, signed_in
from tests.web.pages import browser

BERLIN = ZoneInfo("Europe/Berlin")
# Where the screenshots go (a temporary folder unless named).
SHOTS = "CAPAFLOW_WEB_SCREENSHOTS"


async def test_a_berlin_record_reads_in_cet_on_a_desktop_and_a_phone(
    stack: Stack, chromium: Browser, base_url: str, tmp_path: Path
) -> None:
    """Maria and Olivia work at the Berlin plant: Maria raises there (the site offered first), Olivia plans A1 due
    on a January day at 10:00 (typed in CET) and A2 due that day alone; the page shows both in CET, 09:00Z and
    22:59:59Z as kept, and at 360 px nothing scrolls sideways."""
    shots = Path(os.environ.get(SHOTS) or tmp_path)
    client = stack.client
    if "Berlin plant" not in {site.name for site in await client.list_sites()}:
        await client.add_site("Berlin plant", "Europe/Berlin", actor="ada")
    for name in ("maria", "olivia"):
        await client.update_user(name, site="Berlin plant", actor="ada")
    day = date(datetime.now(UTC).year + 1, 1, 15)

    context, page = await signed_in(chromium, base_url, "maria", DESKTOP)
    await page.goto("/raise")
    await expect(page.get_by_label("Site")).to_have_value("Berlin plant")
    await page.get_by_label("Title").fill("Burr on housing edge")
    await page.get_by_label("What happened").fill("Line 3 housings show a burr on the top edge")
    await page.get_by_label("Severity").select_option("major")
    await page.get_by_label("Owner").select_option("olivia")
    await page.get_by_role("button", name="Raise").click()
    await expect(page.locator("dt:text-is('Site') + dd")).to_have_text("Berlin plant")
    record_id = page.url.rsplit("/", 1)[1]
    await context.close()

    async with browser(stack, "olivia") as olivia:
        for step, fields in (
            ("contain", {"summary": "Lot quarantined", "disposition": "quarantine"}),
            ("root-cause", {"method": "other", "cause": "Worn tool"}),
        ):
            assert (await olivia.step(record_id, step, **fields)).status_code == 303

    context, page = await signed_in(chromium, base_url, "olivia", DESKTOP)
    await page.goto(f"/records/{record_id}")
    plan = page.locator("form[action$='/plan']")
    await expect(plan.get_by_text("Due (CET)").first).to_be_visible()
    await plan.locator("#plan-description-1").fill("Replace deburring tool")
    await plan.locator("#plan-owner-1").select_option("olivia")
    await plan.locator("#plan-due-1").fill(f"{day.isoformat()}T10:00")
    await plan.get_by_role("button", name="Submit plan").click()
    await expect(page.get_by_text(f"due {day.isoformat()} 10:00:00 CET").first).to_be_visible()
    state = await client.show_record(record_id)
    assert state.state.actions[0].clock.due_at == datetime.combine(day, time(9, 0), tzinfo=UTC)
    raised = formatting.moment(state.state.raised_at, BERLIN)
    await expect(page.get_by_text(raised).first).to_be_visible()
    await page.screenshot(path=str(shots / "local-time-record-1280.png"), full_page=True)
    await context.close()

    context, phone = await signed_in(chromium, base_url, "olivia", PHONE)
    await phone.goto(f"/records/{record_id}")
    await expect(phone.get_by_text(raised).first).to_be_visible()
    width = await phone.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"], f"the record page is {width} px wide on a {PHONE['width']} px phone"
    await phone.screenshot(path=str(shots / "local-time-record-360.png"), full_page=True)
    await context.close()
