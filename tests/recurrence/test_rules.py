"""Which raise a record's effectiveness window records, and what its review shows beside each criterion (pure)."""

from datetime import UTC, datetime, timedelta

import pytest

from models import recurrence, rules
from models.enums import EventKind, Severity, Source, Stage, VerificationResult
from models.payloads import (
    SYSTEM_ACTOR,
    CapaState,
    Criterion,
    Event,
    RecurrenceEntry,
    RecurrenceInput,
    RecurrenceSource,
    Verification,
)
from models.refusals import ErrorKind, Rejection
from report.content import report_content
from tests.policies import EARLIER
from tests.report.samples import GENERATED_AT, NAMES

T0 = datetime(2026, 3, 2, 8, tzinfo=UTC)


def _state(**update: object) -> CapaState:
    state = CapaState(
        id="NC-2026-0001",
        title="Burr",
        description="Burr on housing edge",
        severity=Severity.MAJOR,
        source=Source.INSPECTION,
        product="H-200",
        lot=None,
        quantity=None,
        raised_by="otto",
        raised_at=T0,
        owner="olivia",
        policy=EARLIER.for_severity(Severity.MAJOR),
        stage=Stage.EFFECTIVENESS,
        defect_code="BURR",
        effectiveness_due_at=T0 + timedelta(days=60),
        verifications=[Verification(round=1, result=VerificationResult.PASS, evidence="ok", by="maria", at=T0)],
        criteria=[
            Criterion(measure="burr rejects", baseline="2 %", threshold="< 0.2 %", data_source="QC"),
            Criterion(measure="H-210 rejects", baseline="1 %", threshold="0", data_source="QC", products=["H-210"]),
        ],
    )
    return state.model_copy(update=update)


def test_a_raise_matches_by_product_and_defect_code_or_by_a_criterions_product() -> None:
    state = _state()
    day = T0 + timedelta(days=5)
    assert recurrence.matched_criteria(state, "H-200", "BURR") == [1, 2]
    assert recurrence.matched_criteria(state, "H-210", "CRACK") == [2]
    assert recurrence.matched_criteria(state, "H-200", "CRACK") is None
    assert recurrence.is_recurrence(state, "NC-2026-0002", day, "H-200", "BURR")
    assert not recurrence.is_recurrence(state, "NC-2026-0002", T0 + timedelta(days=61), "H-200", "BURR")
    assert not recurrence.is_recurrence(state, "NC-2026-0001", day, "H-200", "BURR")


def test_the_review_shows_each_criterions_matching_raises() -> None:
    at = T0 + timedelta(days=3)
    own = RecurrenceEntry(source=RecurrenceSource.EFFECTIVENESS, record_ids=["NC-2026-0002"])
    named = RecurrenceEntry(source=RecurrenceSource.EFFECTIVENESS, record_ids=["NC-2026-0003"], criteria=[2])
    events = [
        Event(seq=1, at=at, kind=EventKind.RECURRENCE_DETECTED, actor=SYSTEM_ACTOR, details=own),
        Event(seq=2, at=at, kind=EventKind.RECURRENCE_DETECTED, actor=SYSTEM_ACTOR, details=named),
    ]
    first, second = recurrence.window_data(_state(events=events))
    assert (first.number, first.count, second.count) == (1, 1, 2)
    assert second.said() == (
        "2 matching nonconformities raised in the window: NC-2026-0002 (2026-03-05), NC-2026-0003 (2026-03-05)"
    )


def test_a_recurrence_is_refused_on_itself_twice_and_once_ended() -> None:
    inp = RecurrenceInput(source=RecurrenceSource.SENTINEL, record_ids=["NC-2026-0009"])
    with pytest.raises(Rejection) as itself:
        rules.check_recurrence(_state(), inp.model_copy(update={"record_ids": ["NC-2026-0001"]}))
    assert itself.value.kind is ErrorKind.INVALID
    with pytest.raises(Rejection) as ended:
        rules.check_recurrence(_state(stage=Stage.CLOSED), inp)
    assert ended.value.kind is ErrorKind.WRONG_STAGE
    seen = Event(
        seq=1,
        at=T0,
        kind=EventKind.RECURRENCE_DETECTED,
        actor=SYSTEM_ACTOR,
        details=RecurrenceEntry(**inp.model_dump()),
    )
    with pytest.raises(Rejection) as twice:
        rules.check_recurrence(_state(events=[seen]), inp)
    assert twice.value.problems[0].field == "record_ids"
    rules.check_recurrence(_state(), inp)


def test_the_report_shows_the_windows_data_once_a_matching_raise_was_recorded() -> None:
    entry = RecurrenceEntry(source=RecurrenceSource.EFFECTIVENESS, record_ids=["NC-2026-0002"])
    event = Event(
        seq=1, at=T0 + timedelta(days=3), kind=EventKind.RECURRENCE_DETECTED, actor=SYSTEM_ACTOR, details=entry
    )
    content = report_content(_state(events=[event]), names=NAMES, generated_by="ada", generated_at=GENERATED_AT)
    shown = str(content)
    assert "Effectiveness window, criterion 1" in shown
    assert "1 matching nonconformity raised in the window: NC-2026-0002 (2026-03-05)" in shown
