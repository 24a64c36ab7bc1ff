"""Evidence files on the record page: the "Attach files" form, the files a step form sends with its step, and the
download (and thumbnail) of a file, for the signed-in session only.

A form with files is sent as multipart; its files are kept as they stream in (``api.uploads``) and attached
through the client layer, the same as the API's upload.
"""

import re

from fastapi import APIRouter, Request
from fastapi.responses import Response

from api.deps import Client, WebUser
from api.errors import STATUS
from api.routes_files import file_response
from api.uploads import Upload, UploadRefused, read_upload
from api.web.forms import Input, Refusal
from api.web.pages import record_page
from api.web.rendering import problem_page, see
from client.errors import CapaError, ErrorKind, StepPending
from client.files import attach_files, file_of
from client.records import CapaClient
from core.files import FileStore
from models.payloads import PATTERN_WORDS, RECORD_ID_PATTERN, SHA256_PATTERN
from models.rules import Step
from models.tables import User

router = APIRouter(include_in_schema=False)

_RECORD_ID = re.compile(RECORD_ID_PATTERN)
_SHA256 = re.compile(SHA256_PATTERN)
# The form's inputs, for a refusal's messages beside them.
_INPUTS = {"to": Input("to", "Attach to"), "file": Input("file", "Files"), "sha256": Input("file", "Files")}
# What the files sent with a step's form are attached to (completing an action: that action).
STEP_FILE_TARGETS: dict[Step, str] = {
    Step.CONTAIN: "containment",
    Step.ROOT_CAUSE: "root_cause",
    Step.VERIFY: "verification",
    Step.REVIEW: "review",
}


def is_upload(request: Request) -> bool:
    return request.headers.get("content-type", "").lower().startswith("multipart/form-data")


async def read_form_upload(request: Request) -> Upload:
    """A page's multipart form: its CSRF token checked before any file (``api.app`` leaves these forms to this
    check), its files kept, its fields read; UploadRefused names a file refused."""
    token: str = request.scope["csrftoken"]()
    return await read_upload(request, FileStore.of(request.app.state.settings), csrf_token=token)


def refused_upload(refused: UploadRefused) -> Refusal:
    return Refusal({"file": refused.message}, [refused.message], refused.status)


@router.post("/records/{record_id}/files")
async def attach(request: Request, record_id: str, user: WebUser, client: Client) -> Response:
    try:
        upload = await read_form_upload(request)
    except UploadRefused as refused:
        return await _refused(request, user, client, record_id, refused_upload(refused))
    if not upload.files:
        missing = "choose one or more files"
        return await _refused(request, user, client, record_id, Refusal({"file": missing}, [missing], 422))
    try:
        refs = await attach_files(
            client, record_id, user.name, upload.files, upload.fields.get("to", "").strip() or None
        )
    except StepPending:
        request.session["flash"] = f"Sent; {record_id} shows the files once a worker applies them (do not resend)"
        return see(f"/records/{record_id}")
    except CapaError as exc:
        if exc.kind is ErrorKind.UNAVAILABLE:
            return problem_page(request, user, 503, exc.message)
        return await _refused(request, user, client, record_id, Refusal.of(exc, _INPUTS, STATUS[exc.kind]))
    names = ", ".join(ref.name for ref in refs)
    request.session["flash"] = f"Attached to {refs[0].to.replace('_', ' ')}: {names}"
    return see(f"/records/{record_id}#files")


async def _refused(request: Request, user: User, client: CapaClient, record_id: str, refusal: Refusal) -> Response:
    return await record_page(request, user, client, record_id, status=refusal.status, failed="files", refusal=refusal)


@router.get("/records/{record_id}/files/{sha256}")
async def download(
    request: Request, record_id: str, sha256: str, *, user: WebUser, client: Client, thumbnail: bool = False
) -> Response:
    """The file as a download; with ``thumbnail``, an image is shown inline (the record page's thumbnails)."""
    if not _RECORD_ID.fullmatch(record_id):
        return problem_page(request, user, 404, f"{record_id[:40]}: {PATTERN_WORDS[RECORD_ID_PATTERN]}")
    if not _SHA256.fullmatch(sha256):
        return problem_page(request, user, 404, f"{sha256[:80]} is not a file's SHA-256")
    try:
        ref = await file_of(client, record_id, sha256)
        return file_response(FileStore.of(request.app.state.settings), ref, inline=thumbnail)
    except CapaError as exc:
        return problem_page(request, user, STATUS[exc.kind], exc.message)
