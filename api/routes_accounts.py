"""People and API tokens: who I am and what I hold, the directory, passwords, activation, tokens.

Admins manage users and tokens. Anyone signed in may read the directory's names, roles and reporting lines,
because raising a record and planning actions both name the people who will hold them; e-mail addresses are
personal data and are shown only to managers, admins and the person themself.
"""

from typing import Annotated

from fastapi import APIRouter, HTTPException, Path, Query, Request, Response, status

from api.deps import ApiUser, AuthenticatedRoute, Client, require_role
from api.errors import REFUSALS, Problem
from api.params import Limit, Offset, RowId
from api.schemas import (
    Me,
    MyWorkItem,
    NotificationPreference,
    NotificationPreferenceUpdate,
    Page,
    PasswordChange,
    TokenCreate,
    TokenCreated,
    TokenPublic,
    UserCreate,
    UserPublic,
    UserUpdate,
)
from client.errors import CapaError, ErrorKind, FieldProblem
from core import accounts
from models.enums import Role
from models.payloads import USER_NAME_PATTERN
from models.tables import User

router = APIRouter(route_class=AuthenticatedRoute)

UserName = Annotated[str, Path(pattern=USER_NAME_PATTERN, description="The user's login name", examples=["olivia"])]
NOT_FOUND: dict[int | str, dict[str, object]] = {404: {"model": Problem, "description": "No such user or token"}}
TOO_MANY: dict[int | str, dict[str, object]] = {
    429: {"model": Problem, "description": "Too many wrong passwords; wait `Retry-After` seconds"}
}


def _sees_email(viewer: User, user: User) -> bool:
    return viewer.name == user.name or Role(viewer.role) in (Role.MANAGER, Role.ADMIN)


async def _existing_user(client: Client, name: str) -> User:
    user = await client.user(name)
    if user is None:
        raise CapaError(ErrorKind.NOT_FOUND, f"name: no user named {name}")
    return user


# --- me -----------------------------------------------------------------------------------------------------------


@router.get("/me", tags=["me"], responses=REFUSALS)
async def me(user: ApiUser, client: Client) -> Me:
    """The user the bearer token acts as, and the zone their times are shown in."""
    zone = await client.zone_of(user)
    return Me(**UserPublic.of(user).model_dump(), shown_time_zone=str(zone))


@router.get("/me/items", tags=["me"], responses=REFUSALS)
async def my_items(user: ApiUser, client: Client, limit: Limit = 50, offset: Offset = 0) -> Page[MyWorkItem]:
    """ "My work": every step the caller may take now that a record waits for (their steps and actions,
    verifications, reviews, decisions, approvals, triage), soonest due first; late ones have a positive
    ``late_by_seconds``."""
    items = await client.my_work(user.name)
    return Page(
        items=[MyWorkItem.of(item) for item in items[offset : offset + limit]],
        total=len(items),
        limit=limit,
        offset=offset,
    )


# --- the directory ------------------------------------------------------------------------------------------------


@router.get("/users", tags=["users"], responses=REFUSALS)
async def list_users(user: ApiUser, client: Client, limit: Limit = 50, offset: Offset = 0) -> Page[UserPublic]:
    """The directory by name; e-mail addresses only for managers and admins (and one's own)."""
    users = await client.list_users()
    return Page(
        items=[UserPublic.of(u, show_email=_sees_email(user, u)) for u in users[offset : offset + limit]],
        total=len(users),
        limit=limit,
        offset=offset,
    )


@router.post("/users", tags=["users"], status_code=status.HTTP_201_CREATED, responses=REFUSALS)
async def add_user(body: UserCreate, user: ApiUser, client: Client) -> UserPublic:
    """Add someone to the directory (admins); set their password next to let them sign in."""
    require_role(user, Role.ADMIN)
    if body.site is not None:
        await client.checked_site(body.site)
    added = await client.add_user(
        body.name,
        body.role,
        body.manager,
        body.email,
        full_name=body.full_name,
        site=body.site,
        time_zone=body.time_zone,
        actor=user.name,
    )
    return UserPublic.of(added)


@router.patch("/users/{name}", tags=["users"], responses={**REFUSALS, **NOT_FOUND})
async def update_user(name: UserName, body: UserUpdate, user: ApiUser, client: Client) -> UserPublic:
    """Change someone's full name, role, manager, e-mail, home site or zone (admins): only the fields given
    change; null clears a manager, an e-mail, a home site or a zone. Every field at fault is named at once, and
    then nothing changes."""
    require_role(user, Role.ADMIN)
    await _existing_user(client, name)
    given = body.model_fields_set
    problems = []
    if "role" in given and body.role is None:
        problems.append(FieldProblem("role", "choose one of " + ", ".join(r.value for r in Role)))
    if "full_name" in given and body.full_name is None:
        problems.append(FieldProblem("full_name", "1 to 120 characters; a full name cannot be removed"))
    if name == user.name and body.role not in (None, Role.ADMIN):
        problems.append(FieldProblem("role", "you cannot take away your own admin role; another admin can"))
    if problems:
        raise CapaError.invalid(*problems)
    changes = {field: getattr(body, field) for field in given}
    return UserPublic.of(await client.update_user(name, actor=user.name, **changes))


@router.put(
    "/users/{name}/password",
    tags=["users"],
    status_code=status.HTTP_204_NO_CONTENT,
    responses={**REFUSALS, **NOT_FOUND, **TOO_MANY},
)
async def set_password(
    request: Request, name: UserName, body: PasswordChange, user: ApiUser, client: Client
) -> Response:
    """Set a sign-in password: an admin for anyone, or a user for themself with ``current_password``.

    It ends the user's browser sessions, so whoever had the old password is signed out.
    """
    if Role(user.role) is not Role.ADMIN:
        if name != user.name:
            raise HTTPException(403, f"{user.name} may set only their own password; an admin sets others'")
        if body.current_password is None:
            raise CapaError(ErrorKind.INVALID, "current_password: give your current password to set a new one")
        address = request.client.host if request.client else None
        checked = await client.sign_in(user.name, body.current_password, address=address)
        if isinstance(checked, accounts.SignInRefused):
            if checked.retry_after is not None:
                raise HTTPException(429, checked.message, headers={"Retry-After": str(checked.retry_after)})
            raise HTTPException(403, "current_password: that is not your current password")
    await _existing_user(client, name)
    await client.set_password(name, body.password, actor=user.name)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post("/users/{name}/deactivate", tags=["users"], responses={**REFUSALS, **NOT_FOUND})
async def deactivate(name: UserName, user: ApiUser, client: Client) -> UserPublic:
    """Sign someone out everywhere and refuse their password and tokens (admins); their records stay."""
    require_role(user, Role.ADMIN)
    if name == user.name:
        raise CapaError(ErrorKind.INVALID, "name: you cannot deactivate yourself; another admin can")
    await _existing_user(client, name)
    await client.set_active(name, active=False, actor=user.name)
    return UserPublic.of(await _existing_user(client, name))


@router.post("/users/{name}/activate", tags=["users"], responses={**REFUSALS, **NOT_FOUND})
async def activate(name: UserName, user: ApiUser, client: Client) -> UserPublic:
    """Let a deactivated user sign in and use their tokens again (admins)."""
    require_role(user, Role.ADMIN)
    await _existing_user(client, name)
    await client.set_active(name, active=True, actor=user.name)
    return UserPublic.of(await _existing_user(client, name))


@router.put("/users/{name}/notifications/{kind}", tags=["users"], responses={**REFUSALS, **NOT_FOUND})
async def set_notification_preference(
    name: UserName,
    kind: Annotated[str, Path(max_length=64, description="The kind of notification", examples=["reminder_sent"])],
    body: NotificationPreferenceUpdate,
    user: ApiUser,
    client: Client,
) -> NotificationPreference:
    """Turn e-mail of one kind of notification on or off (admins for anyone, a user for themself)."""
    if name != user.name:
        require_role(user, Role.ADMIN)
    await _existing_user(client, name)
    await client.set_email_preference(name, kind, enabled=body.email)
    return NotificationPreference(user=name, kind=kind, email=body.email)


# --- tokens -------------------------------------------------------------------------------------------------------


@router.get("/tokens", tags=["tokens"], responses=REFUSALS)
async def list_tokens(
    user: ApiUser,
    client: Client,
    owner: Annotated[str | None, Query(pattern=USER_NAME_PATTERN, description="Only this user's tokens")] = None,
    limit: Limit = 50,
    offset: Offset = 0,
) -> Page[TokenPublic]:
    """API tokens, oldest first, never their secrets (admins)."""
    require_role(user, Role.ADMIN)
    tokens = await client.list_tokens(owner)
    return Page(
        items=[TokenPublic.of(t) for t in tokens[offset : offset + limit]],
        total=len(tokens),
        limit=limit,
        offset=offset,
    )


@router.post("/tokens", tags=["tokens"], status_code=status.HTTP_201_CREATED, responses=REFUSALS)
async def create_token(body: TokenCreate, user: ApiUser, client: Client) -> TokenCreated:
    """Make a token acting as ``user`` (admins); the secret is in this response and never again."""
    require_role(user, Role.ADMIN)
    token, secret = await client.create_token(body.user, body.label, created_by=user.name)
    return TokenCreated(**TokenPublic.of(token).model_dump(), secret=secret)


@router.delete("/tokens/{token_id}", tags=["tokens"], responses={**REFUSALS, **NOT_FOUND})
async def revoke_token(token_id: RowId, user: ApiUser, client: Client) -> TokenPublic:
    """Revoke a token (admins): it is refused from the next request on. Revoking twice changes nothing."""
    require_role(user, Role.ADMIN)
    if not any(token.id == token_id for token in await client.list_tokens()):
        raise CapaError(ErrorKind.NOT_FOUND, f"token_id: no token {token_id}")
    return TokenPublic.of(await client.revoke_token(token_id, actor=user.name))
