"""What a request may send before anything reads it: a bounded body, web forms url-encoded, and no bearer token
on a page.

Outermost of all middleware, so no body is read whole (a 60 MB sign-in post, say), no form parser meets a kind of
body the pages never send, and the CSRF check (which lets any request carrying ``Authorization: Bearer`` pass) sees
a page's request as the page sends it: pages sign in with their session, never with a token.
"""

import json
import re

from starlette.types import ASGIApp, Message, Receive, Scope, Send

# The largest body any request needs: a plan of 50 actions with long descriptions is well below it.
MAX_BODY_BYTES = 1_000_000
_API_PREFIX = "/api/"
# The routes that take evidence files, and only these, read multipart bodies up to the file size limit and this
# much more (the parts' headers and the form's other fields): the API's upload, and the record page's forms.
UPLOAD_MARGIN = 256 * 1024
_UPLOADS = re.compile(r"^(?:/api/v1)?/records/[^/]+/files$|^/records/[^/]+/[a-z-]+$|^/help/calendar$")


def is_upload(scope: Scope) -> bool:
    """A multipart form posted to a route that takes files."""
    if scope.get("method") != "POST" or not _UPLOADS.match(scope.get("path", "")):
        return False
    headers = {name.lower(): value for name, value in scope.get("headers", [])}
    content_type: bytes = headers.get(b"content-type", b"")
    return content_type.decode("latin-1").lower().startswith("multipart/form-data")


# The scope key under which an upload's refusal is noted once its body went past the limit.
_OVER_LIMIT = "capa.over_limit"


def over_limit(scope: Scope) -> str | None:
    """Why the upload's body was cut off (it went past its limit), if it was."""
    noted: list[str] = scope.get(_OVER_LIMIT, [])
    return noted[0] if noted else None


class RequestLimits:
    """Refuse a body over ``MAX_BODY_BYTES`` with 413 and a web form that is not url-encoded with 415 (except a
    multipart upload to a route that takes files, up to ``upload_limit``); drop a page request's ``Authorization``
    header."""

    def __init__(self, app: ASGIApp, limit: int = MAX_BODY_BYTES, upload_limit: int | None = None) -> None:
        self.app = app
        self.limit = limit
        # None: no route takes files.
        self.upload_limit = upload_limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        api = scope.get("path", "").startswith(_API_PREFIX)
        if not api:
            scope = {**scope, "headers": [(k, v) for k, v in scope["headers"] if k.lower() != b"authorization"]}
        if scope["method"] in ("GET", "HEAD", "OPTIONS"):
            await self.app(scope, receive, send)
            return
        headers = {name.lower(): value for name, value in scope["headers"]}
        content_type = headers.get(b"content-type", b"").decode("latin-1").lower()
        if self.upload_limit is not None and is_upload(scope):
            await self._stream_upload(scope, receive, send, api)
            return
        if not api and content_type.startswith("multipart/"):
            await _refuse(send, 415, "forms are sent url-encoded (application/x-www-form-urlencoded)", api)
            return
        declared = headers.get(b"content-length", b"")
        if declared.isdigit() and int(declared) > self.limit:
            await _refuse(send, 413, f"the body is larger than {self.limit} bytes", api)
            return
        # No length declared (or a false one): read it here, up to the limit, and hand it on whole.
        messages: list[Message] = []
        size = 0
        while True:
            message = await receive()
            messages.append(message)
            if message["type"] != "http.request":
                break
            size += len(message.get("body", b""))
            if size > self.limit:
                await _refuse(send, 413, f"the body is larger than {self.limit} bytes", api)
                return
            if not message.get("more_body", False):
                break
        replay = iter(messages)

        async def replayed() -> Message:
            return next(replay, None) or await receive()

        await self.app(scope, replayed, send)

    async def _stream_upload(self, scope: Scope, receive: Receive, send: Send, api: bool) -> None:
        """Hand the body on as it comes (the route keeps each file as it streams), counting it: past the limit,
        the app is told the client went away, with the reason noted in the scope (``over_limit``) for the route
        to answer 413; if it does not, this does."""
        assert self.upload_limit is not None
        limit = self.upload_limit
        size = 0
        started = False
        noted: list[str] = []
        scope = {**scope, _OVER_LIMIT: noted}

        async def counted() -> Message:
            nonlocal size
            if noted:
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request":
                size += len(message.get("body", b""))
                if size > limit:
                    noted.append(f"the upload is larger than {limit // (1024 * 1024)} MB in all; send fewer files")
                    return {"type": "http.disconnect"}
            return message

        async def watched(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        await self.app(scope, counted, watched)
        if noted and not started:
            await _refuse(send, 413, noted[0], api)


async def _refuse(send: Send, status: int, detail: str, api: bool) -> None:
    """The API's problem document, or a line of text for a page."""
    if api:
        kind = "TooLarge" if status == 413 else "UnsupportedMediaType"
        body = json.dumps({"kind": kind, "detail": detail}).encode()
        content_type = b"application/json"
    else:
        body = f"{detail}\n".encode()
        content_type = b"text/plain; charset=utf-8"
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [(b"content-type", content_type), (b"content-length", str(len(body)).encode())],
        }
    )
    await send({"type": "http.response.body", "body": body})
