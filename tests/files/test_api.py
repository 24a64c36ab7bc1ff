"""Evidence files through the HTTP API: upload (multipart) to a step or an action, download by hash, and the
refusals a caller meets, each naming the file."""

import hashlib
from collections.abc import AsyncIterator
from typing import Any

import httpx

from tests.api.flow import BASE, Api
from tests.files import samples
from tests.report.pdf import text

FILES = "/records/{}/files"


async def _upload(
    api: Api, who: str | None, record_id: str, files: list[tuple[str, bytes]], to: str | None = None
) -> httpx.Response:
    headers = api.stack.bearer(who) if who else {}
    parts = [("file", (name, content)) for name, content in files]
    data = {"to": to} if to else None
    return await api.http.post(BASE + FILES.format(record_id), files=parts, data=data, headers=headers)


async def test_a_png_and_a_pdf_go_up_and_come_back_byte_for_byte(api: Api) -> None:
    """Two files in one upload to the record's current step (containment): 201 with both FileRefs, the record's
    timeline names each, and each downloads with its hash, its type and its name as an attachment."""
    record_id = await api.raise_record()
    png, pdf = samples.png(), samples.pdf()
    response = await _upload(api, "otto", record_id, [("burr photo.png", png), ("inspection.pdf", pdf)])
    assert response.status_code == 201, response.text
    refs = response.json()
    assert [(r["name"], r["media_type"], r["to"], r["uploaded_by"]) for r in refs] == [
        ("burr photo.png", "image/png", "containment", "otto"),
        ("inspection.pdf", "application/pdf", "containment", "otto"),
    ]
    assert [r["sha256"] for r in refs] == [hashlib.sha256(png).hexdigest(), hashlib.sha256(pdf).hexdigest()]
    assert [r["size"] for r in refs] == [len(png), len(pdf)]

    record = await api.record(record_id)
    assert record["files"] == refs
    attached = [e for e in record["events"] if e["kind"] == "file_attached"]
    assert [e["details"] for e in attached] == refs

    for ref, content in zip(refs, (png, pdf), strict=True):
        download = await api.call("oscar", "GET", f"{FILES.format(record_id)}/{ref['sha256']}")
        assert download.status_code == 200
        assert hashlib.sha256(download.content).hexdigest() == ref["sha256"]
        assert download.content == content
        assert download.headers["content-type"].startswith(ref["media_type"])
        assert download.headers["content-disposition"].startswith("attachment;")
        assert ref["name"].replace(" ", "%20") in download.headers["content-disposition"] or (
            ref["name"] in download.headers["content-disposition"]
        )
        assert download.headers["x-content-type-options"] == "nosniff"


async def test_the_same_file_again_answers_the_one_already_attached(api: Api) -> None:
    """Sent twice to the same step: the record lists it once; named ``to`` an action it goes there."""
    record_id = await api.record_at("action-planned")
    first = await _upload(api, "oscar", record_id, [("log.csv", b"part,mm\nH-200,0.31\n")], to="A1")
    again = await _upload(api, "oscar", record_id, [("log-copy.csv", b"part,mm\nH-200,0.31\n")], to="A1")
    assert first.status_code == again.status_code == 201, again.text
    assert again.json() == first.json()
    assert first.json()[0]["to"] == "A1"
    assert first.json()[0]["media_type"] == "text/csv"
    record = await api.record(record_id)
    assert len(record["files"]) == 1


async def test_without_a_token_nothing_is_uploaded_or_downloaded(api: Api) -> None:
    """401 for both, and the record takes no file."""
    record_id = await api.raise_record()
    assert (await _upload(api, None, record_id, [("a.png", samples.png())])).status_code == 401
    sha = hashlib.sha256(samples.png()).hexdigest()
    assert (await api.call(None, "GET", f"{FILES.format(record_id)}/{sha}")).status_code == 401
    assert (await api.record(record_id))["files"] == []


async def test_a_file_is_served_only_through_a_record_it_is_attached_to(api: Api) -> None:
    """A hash attached to another record, or to none, is 404 here; a malformed hash is 422."""
    mine, other = await api.raise_record(), await api.raise_record()
    uploaded = await _upload(api, "otto", other, [("secret.pdf", samples.pdf())])
    sha = uploaded.json()[0]["sha256"]
    elsewhere = await api.call("otto", "GET", f"{FILES.format(mine)}/{sha}")
    assert elsewhere.status_code == 404
    assert "has no file with SHA-256" in elsewhere.json()["detail"]
    assert (await api.call("otto", "GET", f"{FILES.format(mine)}/{'0' * 64}")).status_code == 404
    assert (await api.call("otto", "GET", f"{FILES.format(mine)}/../../etc")).status_code in (404, 422)


async def test_a_file_of_another_type_is_refused_415_naming_it(api: Api) -> None:
    """An executable called .pdf and an HTML page: 415 naming the file and the accepted types; nothing kept."""
    record_id = await api.raise_record()
    for name, content in (("invoice.pdf", samples.exe()), ("page.html", b"<html><script>x</script></html>")):
        response = await _upload(api, "otto", record_id, [("ok.png", samples.png()), (name, content)])
        assert response.status_code == 415, response.text
        assert response.json()["kind"] == "UnsupportedMediaType"
        assert name in response.json()["detail"]
        assert "PDF, PNG, JPEG, WebP, XLSX, DOCX, CSV, TXT" in response.json()["detail"]
    assert (await api.record(record_id))["files"] == []


async def test_a_file_over_the_limit_is_refused_413_naming_it_before_the_rest_is_read(api: Api) -> None:
    """A file past CAPA_MAX_FILE_MB (1 MB here): 413 naming it, streamed and stopped, not read whole; a body far
    past the limit is cut off too."""
    record_id = await api.raise_record()
    big = await _upload(api, "otto", record_id, [("scan.txt", b"a" * (1024 * 1024 + 1))])
    assert big.status_code == 413, big.text
    assert big.json()["kind"] == "TooLarge"
    assert "scan.txt is larger than 1 MB" in big.json()["detail"]

    sent = 0

    async def endless() -> AsyncIterator[bytes]:
        nonlocal sent
        yield b'--b\r\nContent-Disposition: form-data; name="file"; filename="huge.txt"\r\n\r\n'
        while sent < 50 * 1024 * 1024:
            sent += 64 * 1024
            yield b"a" * 64 * 1024

    headers: dict[str, Any] = {**api.stack.bearer("otto"), "Content-Type": "multipart/form-data; boundary=b"}
    streamed = await api.http.post(BASE + FILES.format(record_id), content=endless(), headers=headers)
    assert streamed.status_code == 413
    assert "huge.txt" in streamed.json()["detail"]
    assert sent < 2 * 1024 * 1024
    assert (await api.record(record_id))["files"] == []


async def test_the_openapi_document_lists_the_routes_with_their_refusals(api: Api) -> None:
    """Upload (multipart, 201, 413, 415) and download are in /openapi.json."""
    document = (await api.http.get("/openapi.json")).json()
    upload = document["paths"]["/api/v1/records/{record_id}/files"]["post"]
    assert {"201", "401", "404", "409", "413", "415"} <= set(upload["responses"])
    assert "multipart/form-data" in upload["requestBody"]["content"]
    assert "get" in document["paths"]["/api/v1/records/{record_id}/files/{sha256}"]


async def test_the_report_names_each_attached_file_by_its_hash(api: Api) -> None:
    """The CAPA report lists the files the record holds, each with its SHA-256, under the step it was attached to."""
    record_id = await api.raise_record()
    png = samples.png(3, 3)
    uploaded = await _upload(api, "otto", record_id, [("burr-close-up.png", png)])
    assert uploaded.status_code == 201, uploaded.text
    report = await api.call("otto", "GET", f"/records/{record_id}/report.pdf")
    assert report.status_code == 200
    shown = text(report.content)
    assert hashlib.sha256(png).hexdigest() in shown
    assert "burr-close-up.png" in shown


async def test_an_upload_over_the_limit_in_all_is_refused_413(api: Api) -> None:
    """Two files each under the limit but together well over it (and its margin): 413, nothing attached."""
    record_id = await api.raise_record()
    half = b"a" * (900 * 1024)
    response = await _upload(api, "otto", record_id, [("one.txt", half), ("two.txt", half + b"b")])
    assert response.status_code == 413, response.text
    assert "in all" in response.json()["detail"]
    assert (await api.record(record_id))["files"] == []
