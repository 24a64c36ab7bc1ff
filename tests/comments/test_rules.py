"""Who may comment, and whom a comment mentions: the rule the workflow's validator, the client layer and the pages
share."""

import pytest

from models.enums import Role, Stage
from models.payloads import Actor, CommentInput
from models.refusals import ErrorKind, Rejection
from models.rules import available_steps, check_comment, mentioned
from tests.files.test_rules import _record

OPERATOR = Actor(name="otto", roles=[Role.OPERATOR])


@pytest.mark.parametrize(
    ("text", "names"),
    [
        ("@quinn please look at the lot", ["quinn"]),
        ("@olivia and @mike.b: see @olivia's photo.", ["olivia", "mike.b"]),
        ("write to quinn@plant.test, not @", []),
        ("done, @greta.", ["greta"]),
    ],
)
def test_mentions_are_the_at_names_of_the_text(text: str, names: list[str]) -> None:
    """Each ``@name`` once, in order; an e-mail address or a bare ``@`` mentions nobody."""
    assert mentioned(text) == names


def test_anyone_signed_in_may_comment_on_an_open_record() -> None:
    """An operator, who holds no step, may comment; the pages offer it."""
    check_comment(_record(), CommentInput(actor=OPERATOR, text="@olivia the burr is on lot L-4711 too"))
    assert available_steps(_record(), OPERATOR).comment


@pytest.mark.parametrize("stage", [Stage.CLOSED, Stage.CANCELLED])
def test_an_ended_record_takes_no_comments(stage: Stage) -> None:
    """Closed or cancelled: refused as the wrong stage, naming what it still takes; and not offered."""
    with pytest.raises(Rejection) as refused:
        check_comment(_record(stage), CommentInput(actor=OPERATOR, text="late remark"))
    assert refused.value.kind is ErrorKind.WRONG_STAGE
    assert "only quality's signed amendments" in refused.value.message
    assert not available_steps(_record(stage), OPERATOR).comment


def test_a_comment_mentions_only_whom_its_text_names() -> None:
    """Mentions the text does not name are refused on ``mentions``: nobody is told of a comment about others."""
    with pytest.raises(Rejection) as refused:
        check_comment(_record(), CommentInput(actor=OPERATOR, text="@olivia see this", mentions=["olivia", "ada"]))
    assert [p.field for p in refused.value.problems] == ["mentions"]
