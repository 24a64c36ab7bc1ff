"""Serve the app with uvicorn: ``capa api``, and the API container's command."""

import uvicorn

from api.app import create_app
from core import sites
from core.database import make_engine
from core.migrations import ensure_schema
from core.settings import Settings


def serve(settings: Settings, host: str, port: int) -> int:
    """Serve until stopped; returns the exit code. Logs go through structlog (core.logging), not uvicorn's own.

    A database whose schema is behind this release is refused before anything listens (SchemaBehindError names
    ``capa db upgrade``), like the worker does.
    """
    engine = make_engine(settings.sqlalchemy_url)
    try:
        ensure_schema(engine)
        # The default site exists from the first start on (``core.sites``).
        sites.default_site(engine, settings.site_name, settings.site_time_zone)
    finally:
        engine.dispose()
    config = uvicorn.Config(
        create_app(settings),
        host=host,
        port=port,
        log_config=None,
        access_log=False,
        proxy_headers=True,
        server_header=False,
    )
    server = uvicorn.Server(config)
    server.run()
    return 0 if server.started else 1
