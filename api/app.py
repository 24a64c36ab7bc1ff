"""The FastAPI application: the JSON API under /api/v1, the web pages at /, health at /healthz and /readyz.

One CapaClient (one long-lived Temporal connection and one database engine) serves every request of the
process. Middleware order, outermost first: CSRF (every web form POST must carry the token of the signed
cookie), then the signed session cookie, then the app.
"""

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
from starlette.types import ASGIApp, Scope

from api.errors import capa_error_handler, problem_response
from client.records import CapaClient, CapaError
from core.settings import Settings

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
    first = exc.errors()[0]
    field = ".".join(str(part) for part in first["loc"] if part != "body") or "body"
    return problem_response(422, "InvalidInput", f"{field}: {first['msg']}")


async def _http_handler(_request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    kind = {401: "Unauthenticated", 403: "NotAllowed", 404: "NotFound", 429: "TooManyAttempts"}.get(
        exc.status_code, "Refused"
    )
    return problem_response(exc.status_code, kind, str(exc.detail), headers=dict(exc.headers or {}))


def create_app(settings: Settings, client: CapaClient | None = None) -> ASGIApp:
    """The whole ASGI app. Given no client, it opens one at start and closes it at shutdown."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if client is None:
            app.state.client = await CapaClient.open(settings)
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
        response = await call_next(request)
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
        return _is_api(scope)

    protected: ASGIApp = asgi_csrf(
        sessions,
        signing_secret=secret,
        cookie_secure=settings.secure_cookies,
        cookie_samesite="Strict",
        skip_if_scope=skip_api,
    )
    return protected
