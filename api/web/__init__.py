"""The web app: server-rendered pages for the shop floor (a phone) and the office (a desktop).

``pages`` holds the pages, ``lists`` the records list and the board, ``steps`` the record page's step forms,
``following`` the notifications page and watching a record, ``reports`` the management-review figures, ``guide``
the help page, ``forms`` how a form fills a step's model and how a refusal marks its inputs, ``rendering`` the
templates and their filters.
"""

from fastapi import FastAPI

from api.deps import SignInRequired
from api.web import (
    files,
    following,
    guide,
    lists,
    pages,
    procedure,
    report,
    reports,
    sentinels,  # recurrence sentinels
    steps,
)


def install(app: FastAPI) -> None:
    """Add the pages, and the answer to a page asked for without a live session."""
    # Before the record page: /records.csv is not a record.
    app.include_router(lists.router)
    app.include_router(pages.router)
    # Before the step forms: /records/{id}/files is not a step.
    app.include_router(files.router)
    app.include_router(following.router)
    app.include_router(steps.router)
    app.include_router(report.router)
    app.include_router(reports.router)
    app.include_router(guide.router)
    app.include_router(procedure.router)  # procedure-version pinning
    app.include_router(sentinels.router)  # recurrence sentinels
    app.add_exception_handler(SignInRequired, pages.sign_in_required)
