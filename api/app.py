"""The FastAPI application: the JSON API under /api/v1, the web pages at /, health at /healthz and /readyz.

One CapaClient (one long-lived Temporal connection and one database engine) serves every request of the
process. Middleware order, outermost first: the body's limits (``api.limits``), CSRF (every web form POST must
carry the token of the signed cookie), then the signed session cookie, then the app.
"""

import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import structlog
from asgi_csrf import asgi_csrf  # type: ignore[import-untyped]
from fastapi import FastAPI, HTTPException, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.staticfiles import StaticFiles
from starlette.middleware.sessions import SessionMiddleware
from starlette.routing import BaseRoute
from starlette.types import ASGIApp, Scope
from temporalio.common import MetricMeter

from api.errors import capa_error_handler, problem_response
from api.limits import UPLOAD_MARGIN, RequestLimits, is_upload
from client.errors import CapaError, ErrorKind, FieldProblem, plain
from client.records import CapaClient
from core.metrics import HttpMetrics, metrics_runtime
from core.settings import Settings
from models.refusals import path, said

log = structlog.get_logger(__name__)

STATIC = Path(__file__).parent / "static"
SESSION_COOKIE = "capa_session"
API_PREFIX = "/api/"


def _is_api(scope: Scope) -> bool:
    """API calls authenticate with a bearer token, never a cookie, so they need no CSRF token."""
    path: str = scope.get("path", "")
    return path.startswith(API_PREFIX) or path in ("/healthz", "/readyz", "/openapi.json")


async def _validation_handler(_request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    problems = []
    for error in exc.errors():
        # The location (body, query, path) is not part of the field's name; a body field may itself be called
        # "query".
        loc = list(error["loc"])
        if loc and loc[0] in ("body", "query", "path", "header", "cookie"):
            loc = loc[1:]
        problems.append(FieldProblem(path(*loc) or None, plain(error)))
    return problem_response(422, ErrorKind.INVALID.value, said(problems), problems=problems)


async def _http_handler(_request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    kind = {401: "Unauthenticated", 403: "NotAllowed", 404: "NotFound", 429: "TooManyAttempts"}.get(
        exc.status_code, "Refused"
    )
    return problem_response(exc.status_code, kind, str(exc.detail), headers=dict(exc.headers or {}))


def _route_template(request: Request) -> str:
    """The path with each path parameter's value put back as ``{name}``: one metric series per route, whatever
    ids are asked for (``/api/v1/records/{record_id}``); ``unmatched`` for a path no route answers."""
    if not isinstance(request.scope.get("route"), BaseRoute):
        return "unmatched"
    names = {str(value): name for name, value in request.path_params.items()}
    return "/".join(f"{{{names[part]}}}" if part in names else part for part in request.url.path.split("/"))


def create_app(settings: Settings, client: CapaClient | None = None) -> ASGIApp:
    """The whole ASGI app. Given no client, it opens one at start and closes it at shutdown."""

    runtime = metrics_runtime(settings, api=True) if client is None else None
    metrics = HttpMetrics(runtime.metric_meter if runtime is not None else MetricMeter.noop)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if client is None:
            app.state.client = await CapaClient.open(settings, runtime)
        log.info("api started", base_url=settings.base_url, task_queue=settings.task_queue)
        yield

    app = FastAPI(
        title="capaflow",
        summary="Corrective and preventive actions: raise nonconformities and take them to closed.",
        version="1",
        lifespan=lifespan,
    )
    app.state.settings = settings
    if client is not None:
        app.state.client = client
    app.add_exception_handler(CapaError, capa_error_handler)
    app.add_exception_handler(RequestValidationError, _validation_handler)
    app.add_exception_handler(HTTPException, _http_handler)

    @app.middleware("http")
    async def _bind_request(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        structlog.contextvars.clear_contextvars()
        structlog.contextvars.bind_contextvars(method=request.method, path=request.url.path)
        started = time.perf_counter()
        response = await call_next(request)
        metrics.observe(request.method, _route_template(request), response.status_code, time.perf_counter() - started)
        # Pages show people's work: never cached by a shared proxy, never framed by another site.
        response.headers.setdefault("Cache-Control", "no-store")
        response.headers["X-Frame-Options"] = "DENY"
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Referrer-Policy"] = "same-origin"
        return response

    from api import health, routes, web  # noqa: PLC0415 - the routers import this module's names

    app.include_router(health.router)
    app.include_router(routes.router)
    web.install(app)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")

    secret = settings.session_secret()
    sessions = SessionMiddleware(
        app,
        secret_key=secret,
        session_cookie=SESSION_COOKIE,
        max_age=12 * 3600,
        same_site="lax",
        https_only=settings.secure_cookies,
    )

    def skip_api(scope: dict[str, Any]) -> bool:
        # asgi_csrf cannot read a multipart body with the python-multipart this app runs on (it passes the parser
        # a FileClass argument that python-multipart no longer takes, and fails with 500): the forms that send
        # files are checked by the route that reads them, token first, before a file is written (api.uploads).
        return _is_api(scope) or is_upload(scope)

    protected: ASGIApp = asgi_csrf(
        sessions,
        signing_secret=secret,
        cookie_secure=settings.secure_cookies,
        cookie_samesite="Strict",
        skip_if_scope=skip_api,
        # Even a first, cookieless sign-in must carry the token the form got, or another site could sign a
        # browser into an account of its choosing.
        always_protect={"/login"},
    )
    return RequestLimits(protected, upload_limit=settings.max_file_bytes + UPLOAD_MARGIN)
