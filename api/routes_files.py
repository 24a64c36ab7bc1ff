"""Evidence files of a record: ``POST /api/v1/records/{id}/files`` (multipart) and ``GET .../files/{sha256}``.

Anyone signed in may read every record and attach files to an open one (``models.rules.check_attach_file``); a file
is only ever served through a record it is attached to.
"""

from typing import Annotated, Any

from fastapi import APIRouter, Path, Request, Response, status
from fastapi.responses import FileResponse

from api.deps import ApiUser, AuthenticatedRoute, Client
from api.errors import REFUSALS, STEP_REFUSALS
from api.params import RecordId
from api.uploads import UPLOAD_REFUSALS, UploadRefused, read_upload
from client.errors import CapaError, ErrorKind, FieldProblem
from client.files import attach_files, file_of
from core.files import IMAGES, FileStore
from models.payloads import SHA256_PATTERN, FileRef

router = APIRouter(tags=["files"], route_class=AuthenticatedRoute)

Sha256 = Annotated[str, Path(pattern=SHA256_PATTERN, description="The file's SHA-256, in lower-case hex")]

# What the upload's body is, for the OpenAPI document (the route reads it as it streams, not through FastAPI).
_UPLOAD_BODY = {
    "required": True,
    "content": {
        "multipart/form-data": {
            "schema": {
                "type": "object",
                "required": ["file"],
                "properties": {
                    "file": {
                        "type": "array",
                        "items": {"type": "string", "format": "binary"},
                        "description": "One or more files (PDF, PNG, JPEG, WebP, XLSX, DOCX, CSV, TXT)",
                    },
                    "to": {
                        "type": "string",
                        "description": "containment, root_cause, verification, review or an action id (A1); "
                        "default: the step the record is in",
                    },
                },
            }
        }
    },
}


def file_store(request: Request) -> FileStore:
    return FileStore.of(request.app.state.settings)


@router.post(
    "/records/{record_id}/files",
    status_code=status.HTTP_201_CREATED,
    response_model=list[FileRef],
    responses={**STEP_REFUSALS, **UPLOAD_REFUSALS},
    openapi_extra={"requestBody": _UPLOAD_BODY},
)
async def attach(record_id: RecordId, request: Request, user: ApiUser, client: Client) -> Any:
    """Keep the files (by their SHA-256, typed by their content, at most CAPA_MAX_FILE_MB each) and attach them
    to a step or an action of the open record; answers the files as the record lists them. The same file sent
    again to the same step answers the one already there."""
    try:
        upload = await read_upload(request, file_store(request))
    except UploadRefused as refused:
        return refused.response()
    if not upload.files:
        raise CapaError.invalid(FieldProblem("file", "send at least one file"))
    return await attach_files(client, record_id, user.name, upload.files, upload.fields.get("to", "").strip() or None)


@router.get(
    "/records/{record_id}/files/{sha256}",
    response_class=FileResponse,
    responses={
        200: {"description": "The file, as it was uploaded", "content": {"application/octet-stream": {}}},
        **REFUSALS,
        404: {**STEP_REFUSALS[404], "description": "No such record, or no such file attached to it"},
    },
)
async def download(record_id: RecordId, sha256: Sha256, request: Request, user: ApiUser, client: Client) -> Response:
    """A file attached to the record, under the name it was uploaded with."""
    ref = await file_of(client, record_id, sha256)
    return file_response(file_store(request), ref, inline=False)


def file_response(store: FileStore, ref: FileRef, *, inline: bool) -> Response:
    """The kept file, typed as its content showed, offered as a download (``inline``: an image shown in a page)."""
    path = store.path_of(ref.sha256)
    if not path.is_file():
        raise CapaError(ErrorKind.NOT_FOUND, f"{ref.name} ({ref.sha256}) is attached but missing from the file store")
    disposition = "inline" if inline and ref.media_type in IMAGES else "attachment"
    return FileResponse(
        path,
        media_type=ref.media_type,
        filename=ref.name,
        content_disposition_type=disposition,
        headers={"X-Content-Type-Options": "nosniff", "Cache-Control": "private, max-age=3600"},
    )
