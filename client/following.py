"""Following records in the app, through the client layer: comments with @mentions, watching a record, and each
person's own notification list (their log-channel outbox rows) with what they have read.

A comment is a step like any other (``Step.COMMENT``, judged by ``models.rules.check_comment``); this layer adds
what the workflow cannot know: whom the text's ``@name``s are in the directory, and, for a record whose workflow
has ended, the same rule's refusal from the read model.
"""

import structlog

from client.errors import CapaError, ErrorKind, FieldProblem
from client.steps import STEP_UPDATES, Steps
from core import notification_list, readmodel
from models import rules
from models.payloads import CommentInput, CommentStep, Payload, StepOutcome
from models.refusals import Rejection
from models.rules import Step
from models.tables import OutboxMessage, User

log = structlog.get_logger(__name__)


class Following(Steps):
    """Comments, watchers and one's own notifications, on top of taking steps."""

    async def mentions_in(self, step: CommentStep) -> list[str]:
        """The people ``step`` mentions, each an active person in the directory; a name that is not, refused on
        ``text``."""
        names = rules.mentioned(step.text)
        problems = []
        found: list[str] = []
        # People type names as they say them (@Olivia): a name the directory has in another case is that person,
        # unless two people's names differ only in case.
        by_folded: dict[str, list[User]] = {}
        for person in await self.list_users():
            by_folded.setdefault(person.name.casefold(), []).append(person)
        for name in names:
            same = by_folded.get(name.casefold(), [])
            user = next((p for p in same if p.name == name), same[0] if len(same) == 1 else None)
            if user is not None:
                found.append(user.name)
            if user is None:
                problems.append(FieldProblem("text", f"@{name}: nobody of that name in the directory"))
            elif not user.active:
                problems.append(FieldProblem("text", f"@{name} is deactivated and would not hear of it"))
        if problems:
            raise CapaError.invalid(*problems)
        return list(dict.fromkeys(found))

    async def take_step(self, record_id: str, actor_name: str, step: Payload) -> StepOutcome:
        """A comment goes by ``comment``; every other step as ``Steps`` takes it."""
        if isinstance(step, CommentStep):
            return await self.comment(record_id, actor_name, step)
        return await super().take_step(record_id, actor_name, step)

    async def comment(self, record_id: str, actor_name: str, step: CommentStep) -> StepOutcome:
        """Comment on an open record as ``actor_name``; the people it mentions and the record's watchers hear of
        it. A record that has ended is refused by the same rule, judged on the read model's copy."""
        actor = await self.actor(actor_name)
        await self.check_submitted(step)
        inp = CommentInput(actor=actor, text=step.text, mentions=await self.mentions_in(step) or None)
        stored = await self._db(readmodel.load_record_state, self._engine, record_id)
        if stored is not None and not stored.stage.is_open:
            try:
                rules.check_comment(stored, inp)
            except Rejection as rejection:
                log.info("comment refused", record_id=record_id, workflow_id=record_id, actor=actor.name)
                raise CapaError.from_rejection(rejection) from None
        return await self._update(record_id, STEP_UPDATES[Step.COMMENT], inp)

    # --- watching -----------------------------------------------------------------------------------------

    async def _known_record(self, record_id: str) -> None:
        if not await self._db(readmodel.existing_records, self._engine, [record_id]):
            raise CapaError(ErrorKind.NOT_FOUND, f"{record_id} does not exist")

    async def watch(self, record_id: str, name: str) -> bool:
        """``name`` hears of every notice of the record from now on; False when they already did."""
        await self._known_record(record_id)
        added = await self._db(notification_list.watch, self._engine, record_id, name)
        log.info("record watched", record_id=record_id, workflow_id=record_id, actor=name, added=added)
        return added

    async def unwatch(self, record_id: str, name: str) -> bool:
        """``name`` stops hearing of the record's notices (beyond those naming them); False when not watching."""
        await self._known_record(record_id)
        removed = await self._db(notification_list.unwatch, self._engine, record_id, name)
        log.info("record unwatched", record_id=record_id, workflow_id=record_id, actor=name, removed=removed)
        return removed

    async def watchers(self, record_id: str) -> list[str]:
        return await self._db(notification_list.watchers_of, self._engine, record_id)

    # --- one's own notifications --------------------------------------------------------------------------

    async def my_notifications(
        self, name: str, *, unread_only: bool = False, limit: int = 50, offset: int = 0
    ) -> list[OutboxMessage]:
        """``name``'s notifications in the app, newest first."""
        return await self._db(
            notification_list.list_mine, self._engine, name, unread_only=unread_only, limit=limit, offset=offset
        )

    async def count_my_notifications(self, name: str, *, unread_only: bool = False) -> int:
        return await self._db(notification_list.count_mine, self._engine, name, unread_only=unread_only)

    def unread_now(self, name: str) -> int:
        """How many unread notifications ``name`` has, answered at once (one indexed count): what the pages'
        navigation shows, from the synchronous part of rendering a page."""
        return notification_list.count_mine(self._engine, name, unread_only=True)

    async def mark_read(self, name: str, row_id: int) -> OutboxMessage:
        """Mark one of ``name``'s notifications read; NOT_FOUND for an id that is not one of theirs."""
        row = await self._db(notification_list.mark_read, self._engine, name, row_id)
        if row is None:
            raise CapaError(ErrorKind.NOT_FOUND, f"notification_id: {name} has no notification {row_id}")
        log.info("notification read", actor=name, outbox_id=row_id, record_id=row.record_id)
        return row

    async def mark_all_read(self, name: str) -> int:
        """Mark every unread notification of ``name`` read; how many were."""
        count = await self._db(notification_list.mark_all_read, self._engine, name)
        log.info("notifications read", actor=name, count=count)
        return count
