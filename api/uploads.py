"""A multipart upload read as it streams in: each file part goes straight into the file store (``core.files``),
hashed, measured and refused the moment it passes the size limit; the other parts are short text fields.

Starlette's own form parser would first spool every file to a temporary file of its own; this one writes each
file once, to its draft in the store, and can say which file was too large or of the wrong kind.
"""

import secrets
from dataclasses import dataclass, field

import anyio
from fastapi import Request
from fastapi.responses import JSONResponse
from python_multipart.exceptions import MultipartParseError
from python_multipart.multipart import MultipartParser, parse_options_header
from starlette.requests import ClientDisconnect

from api.errors import Problem, problem_response
from api.limits import over_limit
from core.files import ACCEPTED_NAMES, Draft, FileRefused, FileStore, StoredFile

# A form of the pages carries a handful of short fields beside its files; more is not a form of ours.
_MAX_FIELDS = 60
CSRF_FIELD = "csrftoken"
_MAX_FIELD_BYTES = 8000
MAX_FILES = 20


class UploadRefused(Exception):
    """An upload refused as a whole: 413 (too large), 415 (not an accepted type), 403 (a page's form without its
    CSRF token) or 400 (not a form of ours)."""

    def __init__(self, status: int, message: str, name: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.name = name

    @classmethod
    def of(cls, refused: FileRefused) -> "UploadRefused":
        return cls(413 if refused.too_large else 415, refused.message, refused.name)

    def response(self) -> JSONResponse:
        kind = {413: "TooLarge", 415: "UnsupportedMediaType"}.get(self.status, "Refused")
        return problem_response(self.status, kind, self.message)


# The API's refusals of an upload, for the OpenAPI document.
UPLOAD_REFUSALS: dict[int | str, dict[str, object]] = {
    413: {"model": Problem, "description": "A file (named in `detail`) is larger than CAPA_MAX_FILE_MB"},
    415: {"model": Problem, "description": f"A file (named in `detail`) is not one of: {ACCEPTED_NAMES}"},
}


@dataclass
class Upload:
    """What a multipart form held: the files it kept (in order) and its text fields, as sent (not stripped)."""

    files: list[StoredFile] = field(default_factory=list)
    fields: dict[str, str] = field(default_factory=dict)


class _Reader:
    """The parser's callbacks: headers of a part, then its data into a draft (a file) or a field's bytes."""

    def __init__(self, store: FileStore, file_field: str, csrf_token: str | None) -> None:
        self.store = store
        self.file_field = file_field
        # A page's form must carry its CSRF token before any file; None: the API, which needs none.
        self.csrf_token = csrf_token
        self.verified = csrf_token is None
        self.upload = Upload()
        self.draft: Draft | None = None
        self._headers: dict[bytes, bytes] = {}
        self._header = b""
        self._value = b""
        self._name = ""
        self._data = bytearray()
        # A browser sends an empty file part when no file was chosen: skipped, neither a file nor a field.
        self._skip = False

    def on_part_begin(self) -> None:
        self._headers, self.draft, self._data, self._name, self._skip = {}, None, bytearray(), "", False

    def on_header_field(self, data: bytes, start: int, end: int) -> None:
        self._header += data[start:end]

    def on_header_value(self, data: bytes, start: int, end: int) -> None:
        self._value += data[start:end]

    def on_header_end(self) -> None:
        self._headers[self._header.lower()] = self._value
        self._header, self._value = b"", b""

    def on_headers_finished(self) -> None:
        _, options = parse_options_header(self._headers.get(b"content-disposition", b""))
        self._name = options.get(b"name", b"").decode("utf-8", "replace")
        filename = options.get(b"filename")
        if filename is None:
            if len(self.upload.fields) >= _MAX_FIELDS:
                raise UploadRefused(400, f"the form has more than {_MAX_FIELDS} fields")
            return
        if not self.verified:
            raise UploadRefused(403, "the form's CSRF token must come before its files: reload the page")
        if self._name != self.file_field:
            raise UploadRefused(400, f"files are sent in the form field {self.file_field!r}, not {self._name!r}")
        if len(self.upload.files) >= MAX_FILES:
            raise UploadRefused(400, f"at most {MAX_FILES} files at once")
        shown = filename.decode("utf-8", "replace")
        self._skip = not shown
        if shown:
            self.draft = self.store.draft(shown)

    def on_part_data(self, data: bytes, start: int, end: int) -> None:
        if self.draft is not None:
            self.draft.write(data[start:end])
            return
        if self._skip:
            return
        self._data += data[start:end]
        if len(self._data) > _MAX_FIELD_BYTES:
            raise UploadRefused(413, f"the form field {self._name!r} is longer than {_MAX_FIELD_BYTES} bytes")

    def on_part_end(self) -> None:
        if self.draft is not None:
            with self.draft:
                self.upload.files.append(self.draft.keep())
            self.draft = None
        elif not self._skip:
            value = self._data.decode("utf-8", "replace")
            if self._name == CSRF_FIELD and self.csrf_token is not None:
                self._check_token(value.strip())
            else:
                self.upload.fields[self._name] = value

    def _check_token(self, value: str) -> None:
        assert self.csrf_token is not None
        if not secrets.compare_digest(value.encode(), self.csrf_token.encode()):
            raise UploadRefused(403, "the form's CSRF token does not match: reload the page and send it again")
        self.verified = True


async def read_upload(
    request: Request, store: FileStore, file_field: str = "file", csrf_token: str | None = None
) -> Upload:
    """Read a multipart form, keeping each file of ``file_field`` as it streams in; UploadRefused for a file too
    large or of a type not accepted (naming it), or a body that is no such form. With ``csrf_token`` (a page's
    form), the form's ``csrftoken`` field must match it and come before any file, or the upload is refused (403)
    before a file is written."""
    content_type, options = parse_options_header(request.headers.get("content-type"))
    boundary = options.get(b"boundary")
    if content_type != b"multipart/form-data" or not boundary:
        raise UploadRefused(415, "files are sent as multipart/form-data")
    reader = _Reader(store, file_field, csrf_token)
    parser = MultipartParser(
        boundary,
        {
            "on_part_begin": reader.on_part_begin,
            "on_part_data": reader.on_part_data,
            "on_part_end": reader.on_part_end,
            "on_header_field": reader.on_header_field,
            "on_header_value": reader.on_header_value,
            "on_header_end": reader.on_header_end,
            "on_headers_finished": reader.on_headers_finished,
        },
    )
    try:
        # The parser's callbacks write, hash and fsync the files: in a worker thread, one chunk at a time, so the
        # event loop serves other requests meanwhile.
        async for chunk in request.stream():
            await anyio.to_thread.run_sync(parser.write, chunk)
        await anyio.to_thread.run_sync(parser.finalize)
    except FileRefused as refused:
        raise UploadRefused.of(refused) from None
    except ClientDisconnect:
        why = over_limit(request.scope)
        if why is None:
            raise
        raise UploadRefused(413, why) from None
    except MultipartParseError as exc:
        raise UploadRefused(400, f"the form could not be read: {exc}") from None
    finally:
        if reader.draft is not None:
            reader.draft.discard()
    if not reader.verified:
        raise UploadRefused(403, "the form carries no CSRF token: reload the page and send it again")
    return reader.upload
