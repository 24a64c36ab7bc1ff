"""The HTTP API as the CLI's commands for people call it: one person's token, CAPA_API_URL, and the API's
refusals (Problem JSON) turned back into the client layer's ``CapaError`` so they end as the same one-line
``error:`` messages and exit codes as every other failure.

httpx loads only when a command sends, so ``capa --help`` stays quick.
"""

from __future__ import annotations

import re
from contextlib import ExitStack
from pathlib import Path
from typing import TYPE_CHECKING, Any

from client.errors import CapaError, ErrorKind, FieldProblem, StepPending

if TYPE_CHECKING:
    import httpx

TIMEOUT = 120.0  # a step waits up to CAPA_STEP_WAIT for a worker before the API answers it pending
_KIND_OF_STATUS = {
    401: ErrorKind.NOT_ALLOWED,
    403: ErrorKind.NOT_ALLOWED,
    404: ErrorKind.NOT_FOUND,
    409: ErrorKind.WRONG_STAGE,
    422: ErrorKind.INVALID,
    429: ErrorKind.NOT_ALLOWED,
    503: ErrorKind.UNAVAILABLE,
}
_OCTETS = "application/octet-stream"  # the API types a file by its content, not by what the sender says
_STEP_LOCATION = re.compile(r"/records/(?P<record>[^/]+)/steps/(?P<step>[^/]+)$")


class Api:
    """Requests to CAPA_API_URL, made with ``token`` (the sign-in of ``who``, for the messages) when there is one."""

    def __init__(self, base_url: str, token: str | None = None, who: str | None = None) -> None:
        self.base_url = base_url.rstrip("/")
        self.token = token
        self.who = who

    def request(
        self,
        method: str,
        path: str,
        *,
        body: Any = None,
        params: dict[str, Any] | None = None,
        files: list[tuple[str, tuple[str, Any, str]]] | None = None,
        form: dict[str, str] | None = None,
    ) -> httpx.Response:
        """Send one request (a JSON ``body``, or a multipart form of ``files`` and ``form`` fields); a refusal or
        an unreachable API is a ``CapaError``."""
        import httpx  # noqa: PLC0415 - loaded only to send

        headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        query = {key: value for key, value in (params or {}).items() if value is not None}
        try:
            response = httpx.request(
                method,
                f"{self.base_url}/api/v1{path}",
                json=_jsonable(body) if body is not None else None,
                files=files,
                data=form,
                params=query,
                headers=headers,
                timeout=TIMEOUT,
            )
        except httpx.HTTPError as exc:
            reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise CapaError(
                ErrorKind.UNAVAILABLE,
                f"the API at {self.base_url} cannot be reached ({reason}); is it running, and is CAPA_API_URL right?",
            ) from None
        if response.status_code == 202 or response.status_code >= 400:
            raise self._refusal(response)
        return response

    def get(self, path: str, **params: Any) -> Any:
        return self.request("GET", path, params=params).json()

    def post(self, path: str, body: Any = None) -> Any:
        return self.request("POST", path, body=body if body is not None else {}).json()

    def put(self, path: str, body: Any) -> httpx.Response:
        return self.request("PUT", path, body=body)

    def delete(self, path: str) -> Any:
        return self.request("DELETE", path).json()

    def upload(self, path: str, paths: list[Path], form: dict[str, str]) -> Any:
        """POST the files at ``paths`` as the ``file`` parts of a multipart form, each streamed from disk a chunk
        at a time (never read whole), with the text fields ``form``."""
        with ExitStack() as opened:
            # httpx reads a file object a chunk at a time as it writes the body.
            parts = [("file", (local.name, opened.enter_context(local.open("rb")), _OCTETS)) for local in paths]
            return self.request("POST", path, files=parts, form=form).json()

    def all_pages(self, path: str, **params: Any) -> list[Any]:
        """Every item of a paged list, page by page."""
        items: list[Any] = []
        while True:
            page = self.get(path, **params, limit=200, offset=len(items))
            items.extend(page["items"])
            if not page["items"] or len(items) >= page["total"]:
                return items

    def _refusal(self, response: httpx.Response) -> CapaError:
        try:
            problem = response.json()
        except ValueError:
            problem = None
        if not isinstance(problem, dict):
            return CapaError(ErrorKind.UNAVAILABLE, f"the API at {self.base_url} answered HTTP {response.status_code}")
        detail = str(problem.get("detail") or f"HTTP {response.status_code}")
        if response.status_code == 202:
            where = _STEP_LOCATION.search(response.headers.get("location", ""))
            if where is not None:
                pending = StepPending(where["record"], "the step", where["step"])
                pending.message = detail
                return pending
        if response.status_code == 401 and self.token is None:
            # Signing in itself (``capa login``): the answer is all there is to say.
            return CapaError(ErrorKind.NOT_ALLOWED, detail)
        if response.status_code == 401:
            again = f"`capa login {self.who}`" if self.who else "`capa login NAME`, or check CAPA_TOKEN"
            return CapaError(ErrorKind.NOT_ALLOWED, f"{detail}; sign in again: {again}")
        if response.status_code == 429 and response.headers.get("retry-after"):
            detail = f"{detail} (in {response.headers['retry-after']} s)"
        errors = problem.get("errors") or []
        problems = [
            FieldProblem(error.get("field"), str(error.get("message", "")))
            for error in errors
            if isinstance(error, dict)
        ]
        kind = _KIND_OF_STATUS.get(response.status_code, ErrorKind.NOT_ALLOWED)
        if response.status_code >= 500 and response.status_code != 503:
            kind = ErrorKind.UNAVAILABLE
        return CapaError(kind, detail, problems)


def _jsonable(value: Any) -> Any:
    """A body of enums, dates and models as JSON values."""
    from pydantic_core import to_jsonable_python  # noqa: PLC0415

    return to_jsonable_python(value)
