"""QMS updates in the read views and notices: a training record tells the action's owner and the record's owner,
`capa show --json` carries each action's details and training progress, and the help page's who-does-what table
names who records training."""

from datetime import timedelta

from cli.render import state_json
from models import notices
from models.enums import ActionKind, EventKind, Stage
from models.payloads import CapaState, Event, TrainingEntry
from models.qms import QmsDetails, summary
from models.rules import WHO_DOES_WHAT
from tests import builders
from tests.builders import T0

DETAILS = QmsDetails(
    course="WI-7 torque check", audience=["oscar", "otto"], threshold_percent=100, completions=["oscar"]
)


def _state() -> CapaState:
    training = builders.action("A1", "oscar", T0 + timedelta(days=5)).model_copy(
        update={"kind": ActionKind.TRAINING, "details": DETAILS}
    )
    return builders.state(stage=Stage.ACTION, actions=[training]).model_copy(
        update={"affected_documents": ["WI-7 rev C"]}
    )


def test_a_training_record_tells_the_action_owner_and_the_record_owner_not_the_recorder() -> None:
    state = _state()
    entry = TrainingEntry(action_id="A1", people=["oscar"], progress="1 of 2 trained (50%), threshold 100%")
    event = Event(seq=6, at=T0, kind=EventKind.TRAINING_RECORDED, actor="mike", details=entry)
    notice = notices.for_step(state, event)
    assert notice is not None
    assert notice.recipients == ["oscar", "olivia"]
    assert "1 of 2 trained (50%), threshold 100%" in notice.subject
    by_owner = event.model_copy(update={"actor": "oscar"})
    told = notices.for_step(state, by_owner)
    assert told is not None
    assert told.recipients == ["olivia"]


def test_show_json_carries_details_progress_and_affected_documents() -> None:
    data = state_json(_state())
    action = data["actions"][0]
    assert action["kind"] == "training"
    assert action["details"]["course"] == "WI-7 torque check"
    assert action["training_progress"] == "1 of 2 trained (50%), threshold 100%"
    assert "course WI-7 torque check" in action["qms"]
    assert data["affected_documents"] == ["WI-7 rev C"]


def test_details_read_as_lines_per_kind() -> None:
    document = QmsDetails(document_id="WI-042", revision_from="B", revision_to="C")
    assert summary(ActionKind.DOCUMENT_CHANGE, document) == ["document WI-042 rev B → C"]
    assert summary(ActionKind.CHANGE_CONTROL, QmsDetails(reference="CC-118")) == ["change control reference CC-118"]
    assert summary(ActionKind.CORRECTIVE, None) == []


def test_who_records_training_is_in_the_who_does_what_table() -> None:
    assert any(duty.step.startswith("record training") for duty in WHO_DOES_WHAT)
