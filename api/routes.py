"""The JSON API, /api/v1: records and their steps, people and tokens, notifications.

Every route authenticates with the bearer token, calls the one client layer (``client.records.CapaClient``) with
the token's user as the actor, and lets the app's error handlers turn a ``CapaError`` into 403/404/409/422/503.
"""

from fastapi import APIRouter

from api import (
    routes_accounts,
    routes_admin_log,
    routes_files,
    routes_following,
    routes_notifications,
    routes_procedures,
    routes_process,
    routes_records,
    routes_reports,
    routes_sentinels,  # recurrence sentinels
    routes_sign_in,
    routes_sites,
    routes_stats,
)

router = APIRouter(prefix="/api/v1")
router.include_router(routes_records.router)
router.include_router(routes_accounts.router)
router.include_router(routes_notifications.router)
router.include_router(routes_following.router)
router.include_router(routes_reports.router)
router.include_router(routes_sign_in.router)
router.include_router(routes_files.router)
router.include_router(routes_admin_log.router)
router.include_router(routes_process.router)
router.include_router(routes_sites.router)
router.include_router(routes_stats.router)
router.include_router(routes_procedures.router)  # procedure-version pinning
# recurrence sentinels
router.include_router(routes_sentinels.router)
