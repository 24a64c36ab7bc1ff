"""The open records' states "My work" applies the rules to: read in one query, with the entry that says whether a
plan amendment was returned."""

from datetime import timedelta

from sqlalchemy import Engine

from core.readmodel import open_record_states
from models import rules
from models.enums import EventKind, Stage
from models.payloads import Event
from tests.builders import T0, action, event, publish, state


def _returned(seq: int) -> Event:
    details = {"approve": False, "reason": "too vague", "what": "amendment"}
    return Event(seq=seq, at=T0 + timedelta(minutes=seq), kind=EventKind.PLAN_DECIDED, actor="quinn", details=details)


def test_open_states_are_read_with_their_latest_plan_entry_and_only_what_concerns_a_person(engine: Engine) -> None:
    """Closed records are left out; a person who is neither manager nor quality gets the records they own or hold
    an action of; each state carries its latest plan decision, so a returned amendment is known."""
    publish(
        engine, state("NC-2026-0001", stage=Stage.ACTION), [event(1), _returned(2), event(3, EventKind.REMINDER_SENT)]
    )
    acting = state("NC-2026-0002", stage=Stage.ACTION, owner="oscar", actions=[action("A1", "olivia", T0)])
    publish(engine, acting, [event(1)])
    publish(engine, state("NC-2026-0003", stage=Stage.CLOSED), [event(1)])

    every = {s.id: s for s in open_record_states(engine)}
    assert sorted(every) == ["NC-2026-0001", "NC-2026-0002"]
    assert [e.seq for e in every["NC-2026-0001"].events] == [2]
    assert rules.amendment_returned(every["NC-2026-0001"])
    assert every["NC-2026-0002"].events == []
    assert sorted(s.id for s in open_record_states(engine, concerning="olivia")) == ["NC-2026-0001", "NC-2026-0002"]
    assert [s.id for s in open_record_states(engine, concerning="oscar")] == ["NC-2026-0002"]
    assert open_record_states(engine, concerning="otto") == []
