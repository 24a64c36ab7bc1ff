"""The unread count the navigation of every page shows beside "Notifications"."""

from fastapi import Request

from client.records import CapaClient
from models.tables import User


def unread_count(request: Request, user: User | None) -> int:
    """How many notifications the signed-in ``user`` has not read yet (0 on the sign-in page)."""
    if user is None:
        return 0
    client: CapaClient = request.app.state.client
    return client.unread_now(user.name)
