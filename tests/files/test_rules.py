"""Who may attach a file, and to what: the rule the workflow's validator and the pages share."""

from datetime import UTC, datetime

import pytest

from models.enums import Role, Severity, Source, Stage
from models.payloads import Actor, AttachFileInput, CapaState, FileRef
from models.refusals import ErrorKind, Rejection
from models.rules import available_steps, check_attach_file
from tests.policies import EARLIER

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
OPERATOR = Actor(name="otto", roles=[Role.OPERATOR])


def _record(stage: Stage = Stage.CONTAINMENT, files: list[FileRef] | None = None) -> CapaState:
    return CapaState(
        id="NC-2026-0001",
        title="Burr",
        description="Burr on the edge",
        severity=Severity.MAJOR,
        source=Source.PROCESS,
        product=None,
        lot=None,
        quantity=None,
        raised_by="otto",
        raised_at=T0,
        owner="olivia",
        policy=EARLIER.for_severity(Severity.MAJOR),
        stage=stage,
        files=files or [],
    )


def _attach(to: str = "containment") -> AttachFileInput:
    return AttachFileInput(actor=OPERATOR, name="a.pdf", size=10, media_type="application/pdf", sha256="0" * 64, to=to)


@pytest.mark.parametrize("to", ["containment", "root_cause", "verification", "review"])
def test_anyone_signed_in_may_attach_to_any_step_of_an_open_record(to: str) -> None:
    """An operator, who holds no step, may still add evidence; the pages offer it."""
    check_attach_file(_record(), _attach(to))
    assert available_steps(_record(), OPERATOR).attach


@pytest.mark.parametrize("stage", [Stage.CLOSED, Stage.CANCELLED])
def test_an_ended_record_takes_no_files(stage: Stage) -> None:
    """Closed or cancelled: refused as the wrong stage, and not offered."""
    with pytest.raises(Rejection) as refused:
        check_attach_file(_record(stage), _attach())
    assert refused.value.kind is ErrorKind.WRONG_STAGE
    assert not available_steps(_record(stage), OPERATOR).attach


def test_an_action_the_record_lacks_is_refused_naming_to() -> None:
    with pytest.raises(Rejection) as refused:
        check_attach_file(_record(), _attach("A7"))
    assert refused.value.kind is ErrorKind.NOT_FOUND
    assert [p.field for p in refused.value.problems] == ["to"]
