"""Evidence files on the record page: the "Attach files" form (multipart, still CSRF-protected), files sent with a
step's form, the list of files with thumbnails, and downloads for signed-in people only."""

import hashlib
import re

import httpx

from tests.api.flow import Api
from tests.files import samples
from tests.stack import PASSWORD, Stack
from tests.web.pages import Browser, browser, record_id_of


async def _raised(stack: Stack) -> str:
    async with browser(stack, "otto") as otto:
        return record_id_of(await otto.raise_record())


async def _attach(
    person: Browser, record_id: str, files: list[tuple[str, bytes]], to: str = "", token: str | None = None
) -> httpx.Response:
    await person.get(f"/records/{record_id}")
    data = {"csrftoken": token if token is not None else person.csrftoken(), "to": to}
    return await person.http.post(
        f"/records/{record_id}/files", data=data, files=[("file", (name, content)) for name, content in files]
    )


async def test_files_attached_on_the_page_are_listed_with_a_thumbnail_and_download(stack: Stack) -> None:
    """Otto (an operator) attaches a photo and a PDF to containment: the page lists each with name, size, type,
    short hash and a download link, the photo as a thumbnail served inline through the signed-in route."""
    record_id = await _raised(stack)
    png, pdf = samples.png(), samples.pdf()
    png_sha, pdf_sha = hashlib.sha256(png).hexdigest(), hashlib.sha256(pdf).hexdigest()
    async with browser(stack, "otto") as otto:
        page = await otto.get(f"/records/{record_id}")
        assert 'id="form-files"' in page.text
        assert 'enctype="multipart/form-data"' in page.text
        sent = await _attach(otto, record_id, [("burr.png", png), ("8D report.pdf", pdf)], to="containment")
        assert sent.status_code == 303, sent.text
        page = await otto.get(f"/records/{record_id}")
        assert "Attached to containment: burr.png, 8D report.pdf" in page.text
        files = page.text.split('id="files"', 1)[1].split("</section>", 1)[0]
        for name, sha, media_type, size in (
            ("burr.png", png_sha, "image/png", f"{len(png)} B"),
            ("8D report.pdf", pdf_sha, "application/pdf", f"{len(pdf)} B"),
        ):
            assert f'href="/records/{record_id}/files/{sha}" download="{name}">{name}</a>' in files
            assert f"{size} · {media_type} · SHA-256 <code" in files
            assert f">{sha[:12]}</code>" in files
        thumbnails = re.findall(r'<img class="thumb" src="([^"]+)"', files)
        assert thumbnails == [f"/records/{record_id}/files/{png_sha}?thumbnail=true"]

        thumbnail = await otto.http.get(thumbnails[0])
        assert thumbnail.status_code == 200
        assert thumbnail.content == png
        assert thumbnail.headers["content-type"] == "image/png"
        assert thumbnail.headers["content-disposition"].startswith("inline;")
        assert thumbnail.headers["x-content-type-options"] == "nosniff"
        download = await otto.http.get(f"/records/{record_id}/files/{pdf_sha}?thumbnail=true")
        assert download.content == pdf
        assert download.headers["content-disposition"].startswith("attachment;")

    async with browser(stack) as anonymous:
        refused = await anonymous.http.get(thumbnails[0])
        assert refused.status_code == 401
        assert refused.content != png


async def test_an_upload_without_the_forms_csrf_token_is_refused_and_attaches_nothing(stack: Stack) -> None:
    """No token, a wrong one, or the file before the token (multipart read as it streams): 403, no file."""
    record_id = await _raised(stack)
    async with browser(stack, "olivia") as olivia:
        for token in ("", "forged"):
            sent = await _attach(olivia, record_id, [("burr.png", samples.png())], token=token)
            assert sent.status_code == 403, token
        real = olivia.csrftoken()
        body = (
            b'--b\r\nContent-Disposition: form-data; name="file"; filename="burr.png"\r\n\r\n'
            + samples.png()
            + b'\r\n--b\r\nContent-Disposition: form-data; name="csrftoken"\r\n\r\n'
            + real.encode()
            + b"\r\n--b--\r\n"
        )
        late = await olivia.http.post(
            f"/records/{record_id}/files",
            content=body,
            headers={"Content-Type": "multipart/form-data; boundary=b"},
        )
        assert late.status_code == 403
    assert (await stack.client.show_record(record_id)).state.files == []


async def test_a_step_form_sends_its_files_with_the_step(stack: Stack) -> None:
    """Containment with a photo: the step is taken and the photo is attached to containment."""
    record_id = await _raised(stack)
    async with browser(stack, "olivia") as olivia:
        await olivia.get(f"/records/{record_id}")
        form = {"csrftoken": olivia.csrftoken(), "summary": "Lot quarantined", "disposition": "quarantine"}
        sent = await olivia.http.post(
            f"/records/{record_id}/contain", data=form, files=[("file", ("quarantine.png", samples.png()))]
        )
        assert sent.status_code == 303, sent.text
    state = (await stack.client.show_record(record_id)).state
    assert state.containment is not None
    assert [(f.name, f.to, f.uploaded_by) for f in state.files] == [("quarantine.png", "containment", "olivia")]


async def test_a_file_of_another_type_is_refused_on_the_page_naming_it(stack: Stack) -> None:
    """An executable called .pdf: 415, the page says which file and what is accepted; nothing attached."""
    record_id = await _raised(stack)
    async with browser(stack, "otto") as otto:
        sent = await _attach(otto, record_id, [("invoice.pdf", samples.exe())])
        assert sent.status_code == 415
        assert "invoice.pdf is not a file of an accepted type" in sent.text
    assert (await stack.client.show_record(record_id)).state.files == []


async def test_a_signed_step_form_sends_its_files_and_its_password(api: Api, stack: Stack) -> None:
    """Verification with a report attached: the password (read with the upload, as typed) signs the step and the
    report is attached to verification; a wrong password records nothing, not even the file."""
    record_id = await api.record_at("verification")
    async with browser(stack, "mike") as mike:
        await mike.get(f"/records/{record_id}")
        form = {"csrftoken": mike.csrftoken(), "result": "pass", "evidence": "50 housings checked"}
        files = [("file", ("check.pdf", samples.pdf()))]
        wrong = await mike.http.post(f"/records/{record_id}/verify", data={**form, "password": "not it"}, files=files)
        assert wrong.status_code == 403, wrong.text
        refused = (await stack.client.show_record(record_id)).state
        assert refused.stage.value == "verification"
        assert refused.files == []
        signed = await mike.http.post(f"/records/{record_id}/verify", data={**form, "password": PASSWORD}, files=files)
        assert signed.status_code == 303, signed.text
    state = (await stack.client.show_record(record_id)).state
    assert state.stage.value == "effectiveness"
    assert [(f.name, f.to, f.uploaded_by) for f in state.files] == [("check.pdf", "verification", "mike")]
