""" "My work" through the client layer: every step a person may take now that a record waits for, soonest due
first, and on a record, who it waits for.

What counts as work and who may take it is ``models.rules`` (``work_waiting``, over ``available_steps``); this
module reads the open records' states from the read model in one query and applies those rules to them.
"""

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from pydantic import BaseModel
from sqlalchemy import Engine

from client.directory import Directory
from client.errors import CapaError, ErrorKind
from core import readmodel
from models import pauses, rules
from models.enums import Role, Severity, Stage
from models.payloads import Actor, CapaState
from models.rules import Step, Work
from models.tables import User

# People who may act on records they neither own nor hold an action of: verifications, reviews, decisions.
_BEYOND_THEIR_OWN = (Role.MANAGER, Role.ADMIN, Role.QUALITY)


class WorkItem(BaseModel):
    """One step waiting for the person: on which record, what to do (``step`` and ``label``, with the action it
    concerns), and the deadline it counts against (``rules.work_clock``): its original ``due_at``, lateness
    counted from it, the due after extensions (``revised_due_at``, None when never extended), who holds it and
    its escalation level. A step no deadline runs for (rare) has no due."""

    record_id: str
    title: str
    stage: Stage
    severity: Severity
    step: Step
    action_id: str | None
    label: str
    holder: str
    due_at: datetime | None
    revised_due_at: datetime | None
    late_by: timedelta | None
    escalation_level: int
    # Honest pauses: "paused — waiting on supplier until 2026-03-20" while the deadline is paused (not late then).
    paused: str | None = None

    @property
    def target(self) -> str:
        """The deadline as the overdue list names it: "stage", or the action id."""
        return self.action_id or "stage"

    @property
    def late(self) -> bool:
        return self.paused is None and self.late_by is not None and self.late_by > timedelta(0)


def _item(state: CapaState, work: Work, now: datetime) -> WorkItem:
    clock = rules.work_clock(state, work)
    due = clock.original_due_at if clock else None
    return WorkItem(
        record_id=state.id,
        title=state.title,
        stage=state.stage,
        severity=state.severity,
        step=work.step,
        action_id=work.action_id,
        label=work.label(state.stage),
        holder=clock.holder if clock else state.owner,
        due_at=due,
        revised_due_at=clock.due_at if clock and clock.due_at != clock.original_due_at else None,
        late_by=now - due if due else None,
        escalation_level=clock.escalation_level if clock else 0,
        paused=pauses.paused_label(clock) if clock else None,
    )


def work_items(states: Sequence[CapaState], actor: Actor, now: datetime) -> list[WorkItem]:
    """Every step waiting for ``actor`` on ``states``, soonest due first (those without a due last), then by
    record and in the lifecycle's order."""
    order = {step: index for index, step in enumerate(rules.WORK_STEPS)}
    items = [_item(state, work, now) for state in states for work in rules.work_waiting(state, actor)]
    far = datetime.max.replace(tzinfo=UTC)
    return sorted(items, key=lambda i: (i.due_at or far, i.record_id, order[i.step], i.action_id or ""))


def actor_of(user: User) -> Actor:
    return Actor(name=user.name, roles=[Role(user.role)])


def work_of(engine: Engine, user: User, now: datetime) -> list[WorkItem]:
    """What waits for ``user`` now (a blocking read of the read model)."""
    concerning = None if Role(user.role) in _BEYOND_THEIR_OWN else user.name
    states = readmodel.open_record_states(engine, concerning=concerning)
    return work_items(states, actor_of(user), now)


class Waiting(BaseModel):
    """A step a record waits for, and the people who may take it (login names)."""

    step: Step
    action_id: str | None
    label: str
    people: list[str]


class MyWork(Directory):
    """The directory, and what it waits for."""

    async def my_work(self, name: str) -> list[WorkItem]:
        """Every step ``name`` may take now that a record waits for, soonest due first."""
        user = await self.user(name)
        if user is None:
            raise CapaError(ErrorKind.NOT_FOUND, f"name: no user named {name}")
        return await self._db(work_of, self._engine, user, datetime.now(UTC))

    def count_work(self, user: User) -> int:
        """How many steps wait for ``user``, read here and now (blocking): for the navigation of a page being
        rendered, which cannot wait for a thread."""
        return len(work_of(self._engine, user, datetime.now(UTC)))

    async def waiting_for(self, state: CapaState) -> list[Waiting]:
        """The steps ``state`` waits for, each with the active people of the directory who may take it."""
        people = [actor_of(user) for user in await self.list_users() if user.active]
        return [
            Waiting(step=work.step, action_id=work.action_id, label=work.label(state.stage), people=names)
            for work, names in rules.waiting_on(state, people)
        ]
