"""Who is asking: the dependencies routes declare to get the signed-in user and the one client layer.

The API authenticates with ``Authorization: Bearer <token>`` only; the web app with its session cookie only.
Keeping the two apart means a cookie can never carry a cross-site API call, so only the forms need CSRF tokens.
"""

from collections.abc import Callable, Coroutine
from typing import Annotated, Any

import structlog
from fastapi import Depends, HTTPException, Request, Response
from fastapi.routing import APIRoute
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from client.records import CapaClient
from models.enums import Role
from models.tables import User

_bearer = HTTPBearer(auto_error=False, description="An API token (`capa_...`) made by an admin")

SESSION_KEY = "sid"


def get_client(request: Request) -> CapaClient:
    client: CapaClient = request.app.state.client
    return client


Client = Annotated[CapaClient, Depends(get_client)]


def unauthorized(detail: str = "sign in: send Authorization: Bearer <API token>") -> HTTPException:
    return HTTPException(401, detail, headers={"WWW-Authenticate": "Bearer"})


async def api_user(
    request: Request, client: Client, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]
) -> User:
    """The user the bearer token acts as; 401 for a missing, unknown or revoked token, or a deactivated user."""
    known: User | None = getattr(request.state, "api_user", None)
    if known is not None:
        return known
    if credentials is None:
        raise unauthorized()
    user = await client.token_user(credentials.credentials)
    if user is None:
        raise unauthorized("the API token is unknown, revoked, or its user is deactivated")
    structlog.contextvars.bind_contextvars(actor=user.name)
    request.state.api_user = user
    return user


ApiUser = Annotated[User, Depends(api_user)]


class AuthenticatedRoute(APIRoute):
    """A route that authenticates before FastAPI reads the body, so an unauthenticated call gets 401 and nothing
    else (not a 422 describing the body it sent)."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def authenticated(request: Request) -> Response:
            await api_user(request, get_client(request), await _bearer(request))
            return await handler(request)

        return authenticated


def require_role(user: User, *roles: Role) -> None:
    """Refuse (403) anyone whose role is not among ``roles``; step permissions stay with the workflow."""
    if Role(user.role) not in roles:
        wanted = " or ".join(role.value for role in roles)
        raise HTTPException(403, f"{user.name} is {user.role}; this needs {wanted}")


class SignInRequired(Exception):
    """A page was asked for without a live session; the app answers 401 with the sign-in form."""


async def web_user(request: Request, client: Client) -> User:
    """The user of the browser's live session, or SignInRequired."""
    session_id = request.session.get(SESSION_KEY)
    if not isinstance(session_id, str):
        raise SignInRequired
    user = await client.session_user(session_id)
    if user is None:
        request.session.clear()
        raise SignInRequired
    structlog.contextvars.bind_contextvars(actor=user.name)
    # Pages name people by their full names (``api.web.rendering.person``): the directory's, read once here.
    request.state.full_names = await client.full_names()
    # Pages show times in the reader's zone (``api.web.rendering.when``) and read their date-times in it.
    request.state.time_zone = await client.zone_of(user)
    return user


WebUser = Annotated[User, Depends(web_user)]
