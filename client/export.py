"""The records list exported as a file, through the client layer: the one path the HTTP API, the web app and the CLI
share. CSV (the standard library's ``csv``) for scripts and any spreadsheet, XLSX (openpyxl) to open in Excel as is.

Every record that passes the filter is exported (up to ``EXPORT_MOST``), in the filter's order, one row each with
the columns of ``COLUMNS``. Times are UTC (the header says so). A cell whose text starts like a formula (``=``, ``+``,
``-``, ``@``) is written as text that cannot run: CSV gets a leading apostrophe, XLSX a string cell.
"""

import csv
import io
from datetime import UTC, datetime
from enum import StrEnum
from typing import NamedTuple

import structlog
from openpyxl import Workbook
from openpyxl.cell.cell import Cell as SheetCell
from openpyxl.cell.cell import WriteOnlyCell
from openpyxl.worksheet._write_only import WriteOnlyWorksheet

from client.errors import CapaError, FieldProblem
from client.records import CapaClient
from core.readmodel import RecordFilter

log = structlog.get_logger(__name__)

# The most records one export holds: a larger list is to be narrowed with filters first.
EXPORT_MOST = 50_000

Cell = str | int | datetime | None

# The columns of an export: heading, and the read model's column it shows.
COLUMNS: tuple[tuple[str, str], ...] = (
    ("Record", "id"),
    ("Title", "title"),
    ("Stage", "stage"),
    ("Severity", "severity"),
    ("Source", "source"),
    ("Owner", "owner"),
    ("Product", "product"),
    ("Lot", "lot"),
    ("Quantity", "quantity"),
    ("Defect code", "defect_code"),
    ("Raised by", "raised_by"),
    ("Raised at (UTC)", "raised_at"),
    ("Due at (UTC)", "due_at"),
    ("Escalation level", "escalation_level"),
    ("Closed at (UTC)", "closed_at"),
)
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


class ExportFormat(StrEnum):
    CSV = "csv"
    XLSX = "xlsx"

    @property
    def media_type(self) -> str:
        if self is ExportFormat.CSV:
            return "text/csv; charset=utf-8"
        return "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


class Export(NamedTuple):
    """An exported list: the file's bytes and the name it is offered under (``records-20260301-1015.csv``)."""

    content: bytes
    format: ExportFormat
    made_at: datetime

    @property
    def filename(self) -> str:
        return f"records-{self.made_at:%Y%m%d-%H%M}.{self.format.value}"


async def export_records(client: CapaClient, where: RecordFilter, fmt: ExportFormat, by: str) -> Export:
    """Every record passing ``where``, in its order, as a CSV or XLSX file for ``by`` (a login name, for the log); a
    list longer than ``EXPORT_MOST`` is refused (narrow it with filters)."""
    total = await client.count_records(where)
    if total > EXPORT_MOST:
        raise CapaError.invalid(
            FieldProblem(None, f"{total} records match; an export holds at most {EXPORT_MOST}: narrow the filters")
        )
    rows = await client.record_columns(where, [name for _, name in COLUMNS], limit=EXPORT_MOST)
    table: list[list[Cell]] = [list(row) for row in rows]
    made_at = datetime.now(UTC)
    content = _csv(table) if fmt is ExportFormat.CSV else _xlsx(table)
    log.info("records exported", actor=by, format=fmt.value, records=len(table), filters=where.filters())
    return Export(content, fmt, made_at)


def _csv(table: list[list[Cell]]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow([heading for heading, _ in COLUMNS])
    for row in table:
        writer.writerow([_csv_text(cell) for cell in row])
    # A byte order mark, so Excel reads the file as UTF-8 (an accented name stays one).
    return ("\ufeff" + out.getvalue()).encode()


def _csv_text(cell: Cell) -> str:
    if cell is None:
        return ""
    if isinstance(cell, datetime):
        return cell.astimezone(UTC).isoformat(timespec="seconds")
    text = str(cell)
    return "'" + text if isinstance(cell, str) and text.startswith(_FORMULA_STARTS) else text


def _xlsx(table: list[list[Cell]]) -> bytes:
    book = Workbook(write_only=True)
    sheet = book.create_sheet("Records")
    assert isinstance(sheet, WriteOnlyWorksheet)
    sheet.append([heading for heading, _ in COLUMNS])
    for row in table:
        sheet.append([_xlsx_cell(sheet, cell) for cell in row])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def _xlsx_cell(sheet: WriteOnlyWorksheet, cell: Cell) -> SheetCell | Cell:
    if isinstance(cell, datetime):
        # Excel keeps no time zone: the UTC wall time, as the heading says.
        written = WriteOnlyCell(sheet, cell.astimezone(UTC).replace(tzinfo=None))
        written.number_format = "yyyy-mm-dd hh:mm"
        return written
    if isinstance(cell, str) and cell.startswith("="):
        # openpyxl would write it as a formula.
        written = WriteOnlyCell(sheet, cell)
        written.data_type = "s"
        return written
    return cell
