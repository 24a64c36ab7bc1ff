"""Records written through the read-model writer, as the workflow's steps write them."""

from datetime import timedelta

from sqlalchemy import Engine

from activities.records import write_change, write_snapshot
from models.enums import EventKind, RootCauseMethod
from models.payloads import CapaState, RecordChange, RecordSnapshot, RootCause
from tests.builders import T0, event, state


def raised(engine: Engine, record_id: str, title: str, description: str, **fields: object) -> CapaState:
    """Write a record as its raising writes it: the whole state and its first entry."""
    capa = state(record_id).model_copy(update={"title": title, "description": description, **fields})
    write_snapshot(engine, RecordSnapshot(state=capa, new_events=[event(1)]))
    return capa


def root_cause_found(engine: Engine, capa: CapaState, cause: str, whys: list[str]) -> None:
    """Write the record's root-cause step as the step's change reaches the read model."""
    found = RootCause(
        cycle=1,
        method=RootCauseMethod.FIVE_WHYS,
        cause=cause,
        whys=whys,
        category=None,
        escape_point=None,
        similar_checked=None,
        by="olivia",
        at=T0 + timedelta(days=1),
    )
    change = RecordChange(
        record_id=capa.id,
        after=1,
        fields={"root_causes": [found.model_dump(mode="json")]},
        new_events=[event(2, EventKind.ROOT_CAUSE_SUBMITTED)],
    )
    write_change(engine, change)
