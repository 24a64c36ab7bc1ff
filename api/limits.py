"""What a request may send before anything reads it: a bounded body, web forms url-encoded, and no bearer token
on a page.

Outermost of all middleware, so no body is read whole (a 60 MB sign-in post, say), no form parser meets a kind of
body the pages never send, and the CSRF check (which lets any request carrying ``Authorization: Bearer`` pass) sees
a page's request as the page sends it: pages sign in with their session, never with a token.
"""

import json

from starlette.types import ASGIApp, Message, Receive, Scope, Send

# The largest body any request needs: a plan of 50 actions with long descriptions is well below it.
MAX_BODY_BYTES = 1_000_000
_API_PREFIX = "/api/"


class RequestLimits:
    """Refuse a body over ``MAX_BODY_BYTES`` with 413 and a web form that is not url-encoded with 415; drop a
    page request's ``Authorization`` header."""

    def __init__(self, app: ASGIApp, limit: int = MAX_BODY_BYTES) -> None:
        self.app = app
        self.limit = limit

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
