"""The report as the API and the record page serve it: a PDF download for signed-in people only."""

import re

from models.payloads import CapaState
from models.sentences import sentence
from tests.api.flow import Api
from tests.report.pdf import body, pages
from tests.web.pages import browser

REPORT = "/records/{}/report.pdf"


async def _closed_record(api: Api) -> str:
    record_id = await api.record_at("effectiveness")
    response = await api.step("mike", record_id, "review")
    assert response.status_code == 200, response.text
    return record_id


async def test_the_api_answers_the_report_as_a_pdf_download(api: Api) -> None:
    record_id = await _closed_record(api)
    response = await api.call("ada", "GET", REPORT.format(record_id))
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/pdf"
    assert response.headers["content-disposition"] == f'attachment; filename="{record_id}-report.pdf"'
    assert response.headers["cache-control"] == "no-store"
    assert response.content.startswith(b"%PDF-")

    state = CapaState.model_validate(await api.record(record_id))
    shown = body(response.content)
    assert state.title in shown
    assert "Generated at " in shown
    assert re.search(r"Generated at \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC by Ada Lovelace \(ada\)", shown)
    for event in state.events:
        assert sentence(event) in shown
    numbered = pages(response.content)
    assert numbered[-1].endswith(f"{record_id} page {len(numbered)} of {len(numbered)}")


async def test_the_report_is_for_signed_in_people_and_known_records(api: Api) -> None:
    record_id = await api.raise_record()
    anonymous = await api.call(None, "GET", REPORT.format(record_id))
    assert anonymous.status_code == 401
    assert anonymous.headers["www-authenticate"] == "Bearer"
    forged = await api.http.get(
        "/api/v1" + REPORT.format(record_id), headers={"Authorization": "Bearer capa_not-a-token"}
    )
    assert forged.status_code == 401
    missing = await api.call("ada", "GET", REPORT.format("NC-2026-9999"))
    assert missing.status_code == 404
    assert missing.json()["kind"] == "NotFound"
    assert "NC-2026-9999" in missing.json()["detail"]
    malformed = await api.call("ada", "GET", REPORT.format("not-a-record"))
    assert malformed.status_code == 422
    # An open record has its report too, saying what is not recorded yet.
    opened = await api.call("otto", "GET", REPORT.format(record_id))
    assert opened.status_code == 200
    assert "Root cause: not recorded." in body(opened.content)


async def test_openapi_lists_the_report(api: Api) -> None:
    document = (await api.http.get("/openapi.json")).json()
    operation = document["paths"]["/api/v1/records/{record_id}/report.pdf"]["get"]
    assert "application/pdf" in operation["responses"]["200"]["content"]
    assert {"401", "404"} <= set(operation["responses"])


async def test_the_record_page_offers_the_report_to_its_session(api: Api) -> None:
    record_id = await api.raise_record()
    async with browser(api.stack, "olivia") as olivia:
        page = await olivia.get(f"/records/{record_id}")
        assert f'href="/records/{record_id}/report.pdf"' in page.text
        assert "Download report (PDF)" in page.text
        report = await olivia.get(REPORT.format(record_id))
        assert report.status_code == 200
        assert report.headers["content-type"] == "application/pdf"
        assert report.headers["content-disposition"] == f'attachment; filename="{record_id}-report.pdf"'
        assert "by olivia" in pages(report.content)[0]
        missing = await olivia.get(REPORT.format("NC-2026-9999"))
        assert missing.status_code == 404
        assert "NC-2026-9999" in missing.text
    async with browser(api.stack) as stranger:
        refused = await stranger.get(REPORT.format(record_id))
        assert refused.status_code == 401
        assert not refused.content.startswith(b"%PDF")
