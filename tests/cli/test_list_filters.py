"""`capa list` finds and exports records: its search and filters, `--csv` to standard output, `--xlsx FILE`, and a
bad filter refused in one line naming the option."""

import csv
import io
from pathlib import Path

import openpyxl

from tests.cli.conftest import Capa, assert_one_line_error


async def _raised(capa: Capa, title: str, lot: str) -> str:
    run = await capa.ok(
        "raise",
        "--title",
        title,
        "--description",
        "Found at final inspection",
        "--severity",
        "minor",
        "--source",
        "inspection",
        "--owner",
        "olivia",
        "--product",
        "P-CLI",
        "--lot",
        lot,
        user="otto",
    )
    return run.out.strip()


async def test_list_searches_and_exports_the_filtered_records(capa: Capa, tmp_path: Path) -> None:
    """--search finds a record by its lot; --csv prints the same records as CSV, --xlsx writes a workbook."""
    gasket = await _raised(capa, "Gasket torn", "CLI-7731")
    seal = await _raised(capa, "Seal missing", "CLI-7732")

    found = (await capa.ok("list", "--search", "CLI-7731", "--json", user="maria")).json()
    assert [row["id"] for row in found] == [gasket]
    assert gasket in (await capa.ok("list", "-q", "gasket", user="maria")).out

    printed = (await capa.ok("list", "--product", "p-cli", "--sort", "title", "--desc", "--csv", user="maria")).out
    rows = list(csv.DictReader(io.StringIO(printed.lstrip("\ufeff"))))
    assert [(row["Record"], row["Title"], row["Lot"]) for row in rows] == [
        (seal, "Seal missing", "CLI-7732"),
        (gasket, "Gasket torn", "CLI-7731"),
    ]

    workbook = tmp_path / "records.xlsx"
    await capa.ok("list", "--lot", "CLI-7732", "--xlsx", str(workbook), user="maria")
    sheet = openpyxl.load_workbook(workbook).active
    assert sheet is not None
    assert [[cell.value for cell in row][:2] for row in sheet.iter_rows()] == [
        ["Record", "Title"],
        [seal, "Seal missing"],
    ]


async def test_a_bad_filter_is_one_line_naming_the_option(capa: Capa) -> None:
    """A sort column, a date or a range the list cannot take: exit 2, one error line naming the option."""
    assert_one_line_error(await capa("list", "--sort", "colour", user="maria"), 2, "--sort")
    assert_one_line_error(await capa("list", "--raised-from", "2026-02-30", user="maria"), 2, "--raised-from")
    refused = await capa("list", "--due-from", "2026-03-05", "--due-to", "2026-03-01", "--csv", user="maria")
    assert_one_line_error(refused, 2, "--due-to", "ends before the range starts (2026-03-05)")
    assert_one_line_error(await capa("list", "--severity", "huge", user="maria"), 2, "--severity")


async def test_an_export_that_cannot_be_written_as_asked_is_one_line(capa: Capa, tmp_path: Path) -> None:
    """--csv with --xlsx would write CSV into a workbook's name: refused before anything is written; a workbook
    path in a folder that does not exist is one line naming --xlsx, not a traceback."""
    both = tmp_path / "both.xlsx"
    assert_one_line_error(await capa("list", "--csv", "--xlsx", str(both), user="maria"), 2, "--csv and --xlsx")
    assert not both.exists()
    missing = tmp_path / "no-such-folder" / "records.xlsx"
    assert_one_line_error(await capa("list", "--xlsx", str(missing), user="maria"), 2, "--xlsx", "cannot write")
