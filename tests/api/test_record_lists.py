"""Finding records through the API: the list's search and filters, its export as CSV and XLSX (parsed back), and
a bad filter refused naming its parameter."""

import csv
import io

import openpyxl

from tests.api.flow import Api


async def _lot(api: Api, lot: str, title: str, **fields: str) -> str:
    return await api.raise_record(lot=lot, title=title, **fields)


async def test_the_list_searches_filters_and_sorts(api: Api) -> None:
    """`q` finds a record by its lot; severity and product filter; sort=title orders by title."""
    torque = await _lot(api, "LS-8812", "Torque out of spec", severity="critical", product="P-LIST")
    burr = await _lot(api, "LS-8813", "Burr on the edge", product="P-LIST")
    found = await api.get("maria", "/records", q="LS-8812")
    assert ([item["id"] for item in found["items"]], found["total"]) == ([torque], 1)
    critical = await api.get("maria", "/records", product="p-list", severity="critical")
    assert [item["id"] for item in critical["items"]] == [torque]
    by_title = await api.get("maria", "/records", product="P-LIST", sort="title", direction="desc")
    assert [item["id"] for item in by_title["items"]] == [torque, burr]


async def test_the_filtered_list_exports_as_csv_and_xlsx(api: Api) -> None:
    """The export holds the records the same filters list, one row each under a heading, as CSV and as a workbook
    that opens; a title that looks like a formula stays text."""
    first = await _lot(api, "EX-1001", '=HYPERLINK("http://x") burr', product="P-EXPORT")
    second = await _lot(api, "EX-1002", "Scratch on cover", product="P-EXPORT")

    response = await api.call("maria", "GET", "/records/export", format="csv", product="P-EXPORT", sort="id")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/csv")
    assert 'attachment; filename="records-' in response.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(response.content.decode("utf-8-sig"))))
    assert [(row["Record"], row["Lot"], row["Product"]) for row in rows] == [
        (first, "EX-1001", "P-EXPORT"),
        (second, "EX-1002", "P-EXPORT"),
    ]
    assert rows[0]["Title"] == '\'=HYPERLINK("http://x") burr'
    assert rows[1]["Stage"] == "containment"
    assert rows[1]["Raised at (UTC)"].endswith("+00:00")

    response = await api.call("maria", "GET", "/records/export", format="xlsx", q="EX-1002")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/vnd.openxmlformats")
    sheet = openpyxl.load_workbook(io.BytesIO(response.content)).active
    assert sheet is not None
    table = [[cell.value for cell in row] for row in sheet.iter_rows()]
    assert table[0][:3] == ["Record", "Title", "Stage"]
    assert [row[0] for row in table[1:]] == [second]

    response = await api.call("maria", "GET", "/records/export", format="xlsx", q="EX-1001")
    cell = openpyxl.load_workbook(io.BytesIO(response.content)).active["B2"]  # type: ignore[index]
    assert (cell.value, cell.data_type) == ('=HYPERLINK("http://x") burr', "s")


async def test_a_bad_filter_is_refused_naming_the_parameter(api: Api) -> None:
    """An unknown sort, a date that is none, or a range ending before it starts: 422 naming the parameter."""
    for params, field in [
        ({"sort": "colour"}, "sort"),
        ({"raised_from": "2026-02-30"}, "raised_from"),
        ({"due_from": "2026-03-05", "due_to": "2026-03-01"}, "due_to"),
        ({"severity": "huge"}, "severity"),
    ]:
        for path in ("/records", "/records/export"):
            response = await api.call("maria", "GET", path, **params)
            assert response.status_code == 422, (path, params, response.text)
            problem = response.json()
            assert [error["field"] for error in problem["errors"]] == [field], problem
            assert field in problem["detail"]
    response = await api.call("maria", "GET", "/records/export", format="pdf")
    assert (response.status_code, response.json()["errors"][0]["field"]) == (422, "format")
