"""The table of who does what is one table: the rules module holds it and the docs print it as it is."""

from pathlib import Path

from models import rules

DOCS = Path(__file__).resolve().parents[2] / "docs"


def test_the_lifecycle_docs_print_the_rules_table_as_the_rules_hold_it() -> None:
    assert rules.who_does_what_table() in (DOCS / "lifecycle.md").read_text(encoding="utf-8")


def test_every_signed_step_of_the_table_is_signed_in_the_rules() -> None:
    """A row marked signed names a step the record refuses unsigned, and the other way round."""
    signed_rows = {duty.step.split(" (")[0] for duty in rules.WHO_DOES_WHAT if duty.signed}
    assert signed_rows == {
        "triage",
        "plan approval",
        "extension decision",
        "concession",
        "verification",
        "effectiveness review",
        "cancellation",
        "amendment of a field",
        "move to the procedure in force",
        "pause decision",
    }
    assert {
        rules.Step.TRIAGE,
        rules.Step.DECIDE_PLAN,
        rules.Step.DECIDE_EXTENSION,
        rules.Step.CONCEDE,
        rules.Step.VERIFY,
        rules.Step.REVIEW,
        rules.Step.CANCEL,
        rules.Step.AMEND,
        rules.Step.MOVE_PROCEDURE,
        rules.Step.DECIDE_PAUSE,
    } == rules.SIGNED_STEPS
