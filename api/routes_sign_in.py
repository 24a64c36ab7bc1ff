"""Signing in for a token, and signing that token out: what ``capa login`` and ``capa logout`` call.

``POST /sign-in`` checks a name and password through the same sign-in as the web app (``core.accounts``, with its
throttle) and answers a new personal API token acting as that person; ``DELETE /me/token`` revokes the token that
calls it. The password is checked and dropped: it is never logged, stored or echoed.
"""

import hashlib
from typing import Annotated

from fastapi import APIRouter, HTTPException, Request, status
from pydantic import BaseModel, Field

from api.deps import ApiUser, Client, unauthorized
from api.errors import REFUSALS, Problem
from api.schemas import Body, TokenPublic, UserPublic
from core import accounts

router = APIRouter(tags=["me"])

DEFAULT_LABEL = "capa login"


class SignIn(Body):
    """A person's name and password; ``label`` says where the token is kept (e.g. the host of the shell)."""

    name: Annotated[str, Field(min_length=1, max_length=64, description="Login name", examples=["maria"])]
    password: Annotated[str, Field(min_length=1, max_length=accounts.MAX_PASSWORD_LENGTH, repr=False)]
    label: Annotated[str | None, Field(min_length=1, max_length=80, description="What the token is for")] = None


class SignedIn(BaseModel):
    """A personal API token for the person who signed in: shown this once, only its hash is kept."""

    token: str = Field(description="Send as `Authorization: Bearer <token>`; revoke it with `DELETE /me/token`")
    user: UserPublic


@router.post(
    "/sign-in",
    status_code=status.HTTP_201_CREATED,
    responses={
        401: {"model": Problem, "description": "Wrong name or password, or a deactivated person"},
        422: REFUSALS[422],
        429: {"model": Problem, "description": "Too many wrong passwords; wait `Retry-After` seconds"},
        503: REFUSALS[503],
    },
)
async def sign_in(body: SignIn, client: Client) -> SignedIn:
    """Sign in with a name and password for a new personal API token (what `capa login` does)."""
    checked = await client.sign_in(body.name, body.password)
    if isinstance(checked, accounts.SignInRefused):
        if checked.retry_after is not None:
            raise HTTPException(429, checked.message, headers={"Retry-After": str(checked.retry_after)})
        raise unauthorized(checked.message)
    _token, secret = await client.create_token(checked.name, body.label or DEFAULT_LABEL, created_by=checked.name)
    return SignedIn(token=secret, user=UserPublic.of(checked))


@router.delete("/me/token", responses=REFUSALS)
async def sign_out(request: Request, user: ApiUser, client: Client) -> TokenPublic:
    """Revoke the token this request is made with (what `capa logout` does): refused from the next request on."""
    secret = request.headers.get("authorization", "").partition(" ")[2].strip()
    digest = hashlib.sha256(secret.encode()).hexdigest()
    token = next((token for token in await client.list_tokens(user.name) if token.secret_hash == digest), None)
    if token is None or token.id is None:
        raise unauthorized()
    return TokenPublic.of(await client.revoke_token(token.id, actor=user.name))
