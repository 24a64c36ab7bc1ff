"""Finding records in the web app: the records list's search by lot, its filters marked when refused, its export
opened as CSV and as XLSX, sortable columns, the overdue board's titles, filters and "my team", and both lists as
cards on a 360 px phone (no sideways scrolling). Chromium where a person's eyes matter, plain HTTP otherwise."""

import csv
import io
from datetime import UTC, datetime, timedelta
from pathlib import Path

import openpyxl
from playwright.async_api import Browser, Page, expect

from models.enums import Severity, Source
from models.payloads import RaiseStep
from tests.builders import clock, event, publish, state
from tests.stack import Stack
from tests.web.chromium import DESKTOP, PHONE, signed_in
from tests.web.pages import browser

# Records that exist only in the read model (as the board reads them): years no record of the dev server has.
LATE_OF_OLIVIA = "NC-2019-0001"
LATE_OF_PAUL = "NC-2019-0002"


async def _raise(stack: Stack, title: str, lot: str, product: str = "P-WEB") -> str:
    step = RaiseStep(
        title=title,
        description=f"{title}, found at final inspection",
        severity=Severity.MAJOR,
        source=Source.INSPECTION,
        owner="olivia",
        product=product,
        lot=lot,
    )
    return await stack.client.raise_record("otto", step)


async def _no_sideways_scroll(page: Page) -> None:
    widths = await page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
    assert widths[0] <= widths[1], f"{page.url}: {widths[0]} px wide in a {widths[1]} px window"


async def test_a_search_by_lot_finds_its_record(chromium: Browser, base_url: str, stack: Stack) -> None:
    """Maria types a lot number into the records list's search box: its record is listed, the other is not."""
    wanted = await _raise(stack, "Weld spatter on bracket", "WL-5517")
    other = await _raise(stack, "Weld spatter on frame", "WL-5518")
    context, page = await signed_in(chromium, base_url, "maria", DESKTOP)
    await page.get_by_role("link", name="Records", exact=True).click()
    await page.get_by_role("searchbox", name="Search").fill("WL-5517")
    await page.get_by_role("button", name="Search").click()
    await expect(page.get_by_role("link", name=wanted)).to_be_visible()
    await expect(page.get_by_role("link", name=other)).to_have_count(0)
    await expect(page.locator(".lead")).to_contain_text("1 record")
    await expect(page.get_by_role("cell", name="Weld spatter on bracket")).to_be_visible()
    await context.close()


async def test_the_filtered_list_downloads_as_csv_and_xlsx(
    chromium: Browser, base_url: str, stack: Stack, tmp_path: Path
) -> None:
    """The export links of a filtered list download the records it lists, a CSV file and a workbook that opens."""
    first = await _raise(stack, "Paint run on door", "EXP-1", product="P-DOWNLOAD")
    second = await _raise(stack, "Paint blister on door", "EXP-2", product="P-DOWNLOAD")
    context, page = await signed_in(chromium, base_url, "mike", DESKTOP)
    await page.goto("/records?product=P-DOWNLOAD&sort=id")
    await expect(page.locator(".lead")).to_contain_text("2 records")

    async with page.expect_download() as csv_download:
        await page.get_by_role("link", name="CSV").click()
    saved = tmp_path / (await csv_download.value).suggested_filename
    await (await csv_download.value).save_as(saved)
    assert saved.suffix == ".csv"
    rows = list(csv.DictReader(io.StringIO(saved.read_text(encoding="utf-8-sig"))))
    assert [(row["Record"], row["Lot"]) for row in rows] == [(first, "EXP-1"), (second, "EXP-2")]

    async with page.expect_download() as xlsx_download:
        await page.get_by_role("link", name="Excel (XLSX)").click()
    saved = tmp_path / (await xlsx_download.value).suggested_filename
    await (await xlsx_download.value).save_as(saved)
    sheet = openpyxl.load_workbook(saved).active
    assert sheet is not None
    assert [row[0].value for row in sheet.iter_rows(min_row=2)] == [first, second]
    await context.close()


async def test_a_refused_filter_is_marked_on_the_form(stack: Stack) -> None:
    """A date range that ends before it starts: 422, the field marked with its message, the values kept."""
    async with browser(stack, "maria") as maria:
        page = await maria.get("/records", raised_from="2026-03-05", raised_to="2026-03-01", q="burr")
    assert page.status_code == 422
    assert 'name="raised_to" type="date" value="2026-03-01" aria-invalid="true"' in page.text
    assert "ends before the range starts (2026-03-05)" in page.text
    assert 'value="burr"' in page.text


async def test_a_column_heading_sorts_and_sorts_back(stack: Stack) -> None:
    """Clicking Title sorts by title; clicking it again reverses; the filters stay in every link."""
    await _raise(stack, "Alpha scratch", "SRT-1", product="P-SORT")
    await _raise(stack, "Beta scratch", "SRT-2", product="P-SORT")
    async with browser(stack, "maria") as maria:
        ascending = await maria.get("/records", product="P-SORT", sort="title")
        assert ascending.text.index("Alpha scratch") < ascending.text.index("Beta scratch")
        assert 'aria-sort="ascending"><a href="?product=P-SORT&amp;sort=title&amp;direction=desc"' in ascending.text
        descending = await maria.get("/records", product="P-SORT", sort="title", direction="desc")
        assert descending.text.index("Beta scratch") < descending.text.index("Alpha scratch")


def _late_records(stack: Stack) -> None:
    """Two late stage steps: one held by olivia (mike's team, critical), one by paul (nina's team, minor)."""
    overdue = datetime.now(UTC) - timedelta(days=2)
    olivia = state(LATE_OF_OLIVIA, severity=Severity.CRITICAL, stage_clock=clock("olivia", overdue, level=1))
    paul = state(LATE_OF_PAUL, owner="paul", severity=Severity.MINOR, stage_clock=clock("paul", overdue))
    publish(stack.engine, olivia.model_copy(update={"title": "Cracked housing"}), [event(1)])
    publish(stack.engine, paul.model_copy(update={"title": "Label misprint"}), [event(1)])


async def test_the_board_shows_titles_filters_and_my_team(stack: Stack) -> None:
    """Mike's board names each late record's title; "My team" keeps only deadlines of people below him; the
    severity and holder filters narrow it."""
    _late_records(stack)
    async with browser(stack, "mike") as mike:
        everyone = await mike.get("/board")
        assert "Cracked housing" in everyone.text
        assert "Label misprint" in everyone.text
        team = await mike.get("/board", team="1")
        assert "Overdue board: my team" in team.text
        assert LATE_OF_OLIVIA in team.text
        assert LATE_OF_PAUL not in team.text
        minor = await mike.get("/board", severity="minor")
        assert (LATE_OF_PAUL in minor.text, LATE_OF_OLIVIA in minor.text) == (True, False)
        pauls = await mike.get("/board", holder="paul")
        assert (LATE_OF_PAUL in pauls.text, LATE_OF_OLIVIA in pauls.text) == (True, False)
        pauls_in_my_team = await mike.get("/board", holder="paul", team="1")
        assert "Nothing is overdue among these" in pauls_in_my_team.text
    async with browser(stack, "maria") as maria:
        team = await maria.get("/board", team="1")
        assert (LATE_OF_PAUL in team.text, LATE_OF_OLIVIA in team.text) == (True, True)


async def test_the_board_names_a_filter_value_it_does_not_offer(stack: Stack) -> None:
    """A mistyped board link is refused naming each bad filter, not shown as if nothing were filtered."""
    _late_records(stack)
    async with browser(stack, "mike") as mike:
        refused = await mike.get("/board", severity="banana", holder="nobody", stage="critical")
        assert refused.status_code == 422
        assert "severity: choose one of" in refused.text
        assert "held by: no user named nobody" in refused.text
        assert "stage: choose an open stage" in refused.text


async def test_the_lists_are_cards_on_a_phone(chromium: Browser, base_url: str, stack: Stack) -> None:
    """At 360 px the records list and the board show each row as a card of labelled lines, nothing scrolls
    sideways, and the whole record id shows."""
    record_id = await _raise(stack, "Thread damage on a long titled part that wraps", "PH-1", product="P-PHONE")
    _late_records(stack)
    context, page = await signed_in(chromium, base_url, "mike", PHONE)
    await page.goto("/records?product=P-PHONE")
    link = page.get_by_role("link", name=record_id)
    await expect(link).to_be_visible()
    card = page.locator("tr", has=link)
    due = card.locator('td[data-label="Due"]')
    assert await due.evaluate("cell => getComputedStyle(cell, '::before').content") == '"Due"'
    assert await card.evaluate("row => getComputedStyle(row).display") == "block"
    await _no_sideways_scroll(page)
    await page.goto("/board")
    await expect(page.get_by_role("link", name=LATE_OF_OLIVIA)).to_be_visible()
    await expect(page.locator("tr", has=page.get_by_role("link", name=LATE_OF_OLIVIA))).to_contain_text(
        "Cracked housing"
    )
    await _no_sideways_scroll(page)
    await context.close()
