"""The directory, through the client layer: people, their roles and managers, notification preferences,
sign-in, web sessions and API tokens.

It needs only the read-model database, never Temporal, so ``capa users`` and ``capa tokens`` work (and start
quickly) while Temporal is down. ``CapaClient`` is a ``Directory`` that also reaches the records' workflows.
"""

import asyncio
from collections.abc import Callable
from typing import ParamSpec, TypeVar

from sqlalchemy import Engine
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import DBAPIError

from client.errors import CapaError, ErrorKind, FieldProblem
from core import accounts, adminlog, readmodel
from core.database import make_engine
from core.settings import Settings
from models import rules
from models.enums import Role
from models.payloads import Actor
from models.refusals import InvalidField, Rejection
from models.tables import AdminLogEntry, ApiToken, User

T = TypeVar("T")
P = ParamSpec("P")


class Directory:
    """The people who may act, and how they prove who they are."""

    def __init__(self, engine: Engine, settings: Settings) -> None:
        self._engine = engine
        self._settings = settings

    @staticmethod
    def open_directory(settings: Settings) -> "Directory":
        """The directory alone, on CAPA_DATABASE_URL."""
        return Directory(make_engine(settings.sqlalchemy_url), settings)

    # --- the directory ------------------------------------------------------------------------------------

    async def add_user(
        self,
        name: str,
        role: Role,
        manager: str | None = None,
        email: str | None = None,
        *,
        full_name: str | None = None,
        site: str | None = None,
        time_zone: str | None = None,
        actor: str,
    ) -> User:
        """Add someone to the directory; an administrator's tool that may run before any worker has. ``actor``
        (who adds them) goes into the admin log, as for every change below."""

        def write() -> User:
            from core.migrations import ensure_schema  # noqa: PLC0415 - Alembic loads only when a write needs it

            ensure_schema(self._engine)
            return readmodel.add_user(
                self._engine,
                name,
                role.value,
                manager,
                email,
                full_name=full_name,
                site=site,
                time_zone=time_zone,
                actor=actor,
            )

        return await self._db(write)

    async def update_user(
        self,
        name: str,
        *,
        full_name: str | None = readmodel.UNCHANGED,
        role: Role = readmodel.UNCHANGED,
        manager: str | None = readmodel.UNCHANGED,
        email: str | None = readmodel.UNCHANGED,
        site: str | None = readmodel.UNCHANGED,
        time_zone: str | None = readmodel.UNCHANGED,
        actor: str,
    ) -> User:
        """Change someone's full name, role, manager, e-mail, home site or zone (only those given; None clears all
        but the role); every field at fault is named at once."""
        value = role.value if isinstance(role, Role) else role
        _, after = await self._db(
            readmodel.update_user,
            self._engine,
            name,
            full_name=full_name,
            role=value,
            manager=manager,
            email=email,
            site=site,
            time_zone=time_zone,
            actor=actor,
        )
        return after

    async def list_users(self) -> list[User]:
        return await self._db(readmodel.list_users, self._engine)

    async def full_names(self) -> dict[str, str]:
        """Each person's printed name by login name (``readmodel.printed_name``)."""
        return {user.name: readmodel.printed_name(user) for user in await self.list_users()}

    async def set_email_preference(self, name: str, kind: str, *, enabled: bool) -> None:
        """Turn e-mail of one kind of notification on or off for one person (the log keeps every one)."""

        def write() -> None:
            from core.migrations import ensure_schema  # noqa: PLC0415

            ensure_schema(self._engine)
            readmodel.set_email_preference(self._engine, name, kind, enabled)

        await self._db(write)

    async def user(self, name: str) -> User | None:
        return await self._db(readmodel.get_user, self._engine, name)

    async def actor(self, name: str) -> Actor:
        """Who takes a step, as the directory knows them."""
        user = await self.user(name)
        if user is None:
            raise CapaError(ErrorKind.NOT_ALLOWED, f"unknown user {name}; ask an administrator to add you")
        return Actor(name=user.name, roles=[Role(user.role)])

    async def check_holders(self, holders: dict[str, str]) -> None:
        """People about to hold steps (``holders``: field path -> name) must be in the directory, in a role
        that may hold them; every one who is not is named at once."""
        problems = await self.holder_problems(holders)
        if problems:
            raise CapaError.invalid(*problems)

    async def holder_problems(self, holders: dict[str, str]) -> list[FieldProblem]:
        """What is wrong with each of ``holders`` (field path -> name) as the holder of a step: unknown,
        deactivated (they could never act on it) or in a role that may not hold it."""
        problems: list[FieldProblem] = []
        for field, name in holders.items():
            user = await self.user(name)
            if user is None:
                problems.append(FieldProblem(field, f"no user named {name}; an administrator adds people"))
                continue
            if not user.active:
                problems.append(FieldProblem(field, f"{name} is deactivated; choose someone who can act"))
                continue
            try:
                rules.check_owner_roles(field, name, [Role(user.role)])
            except Rejection as rejection:
                problems.extend(rejection.problems)
        return problems

    # --- sign-in ------------------------------------------------------------------------------------------

    async def sign_in(self, name: str, password: str, *, address: str | None = None) -> User | accounts.SignInRefused:
        """The user these credentials belong to, or why not (including how long to wait after many failures);
        ``address``: the client's network address, which failures are counted against with the name.

        The database parts run in the thread pool every database call shares, the Argon2 hash in a small pool
        of its own, so a flood of sign-ins waits for hashing among itself and never holds up other requests."""
        attempt = await self._db(accounts.begin_sign_in, self._engine, name, address=address)
        if isinstance(attempt, accounts.SignInRefused):
            return attempt
        checked = await asyncio.get_running_loop().run_in_executor(
            accounts.HASHING, accounts.check_password, attempt, password
        )
        return await self._db(accounts.finish_sign_in, self._engine, attempt, *checked)

    async def set_password(self, name: str, password: str, *, actor: str) -> None:
        await self._db(accounts.set_password, self._engine, name, password, actor=actor)

    async def set_active(self, name: str, *, active: bool, actor: str) -> None:
        await self._db(accounts.set_active, self._engine, name, active=active, actor=actor)

    async def open_session(self, name: str) -> str:
        return await self._db(accounts.open_session, self._engine, name)

    async def session_user(self, session_id: str) -> User | None:
        return await self._db(accounts.session_user, self._engine, session_id)

    async def close_session(self, session_id: str) -> None:
        await self._db(accounts.close_session, self._engine, session_id)

    async def create_token(self, name: str, label: str, created_by: str) -> tuple[ApiToken, str]:
        return await self._db(accounts.create_token, self._engine, name, label, created_by)

    async def token_user(self, secret: str) -> User | None:
        return await self._db(accounts.token_user, self._engine, secret)

    async def admin_log(
        self, *, target: str | None = None, limit: int = 50, offset: int = 0
    ) -> tuple[list[AdminLogEntry], int]:
        """A page of the admin log, newest first (only changes to ``target`` when given), and how many it holds."""
        return await self._db(adminlog.read_log, self._engine, target=target, limit=limit, offset=offset)

    async def list_tokens(self, name: str | None = None) -> list[ApiToken]:
        return await self._db(accounts.list_tokens, self._engine, name)

    async def revoke_token(self, token_id: int, actor: str) -> ApiToken:
        return await self._db(accounts.revoke_token, self._engine, token_id, actor)

    async def _db(self, query: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        """Run a blocking read-model call off the event loop, with its failures as CapaErrors."""
        try:
            return await asyncio.to_thread(query, *args, **kwargs)
        except InvalidField as exc:
            raise CapaError.invalid(*getattr(exc, "problems", (exc.problem,))) from None
        except DBAPIError as exc:
            raise self._database_error(exc) from None

    def _database_error(self, exc: DBAPIError) -> CapaError:
        return database_unavailable(self._settings.sqlalchemy_url, exc)


def database_unavailable(url: str | URL, exc: DBAPIError) -> CapaError:
    """A database that failed a call, named without its password, and the driver's own words, first line only
    (PostgreSQL adds detail and hint lines)."""
    where = make_url(url).render_as_string(hide_password=True)
    reason = str(exc.orig).strip().splitlines()[0]
    return CapaError(ErrorKind.UNAVAILABLE, f"database {where}: {reason}")
