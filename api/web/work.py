"""The count of "My work" in every page's navigation ("My work (3)")."""

import structlog
from fastapi import Request
from sqlalchemy.exc import SQLAlchemyError

from client.records import CapaClient
from models.tables import User

log = structlog.get_logger(__name__)


def work_count(request: Request, user: User | None) -> int | None:
    """How many steps wait for the signed-in ``user`` (None when signed out, or when the database does not answer:
    the page is shown without the count). The "My work" page's own list is counted, not read again."""
    if user is None:
        return None
    listed = getattr(request.state, "work_items", None)
    if listed is not None:
        return len(listed)
    client: CapaClient = request.app.state.client
    try:
        return client.count_work(user)
    except SQLAlchemyError as exc:
        log.warning("my work not counted", actor=user.name, error=str(exc).splitlines()[0])
        return None
