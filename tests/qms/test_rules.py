"""The pure checks of QMS update actions: what a plan states, what verification waits for, training progress."""

from datetime import date

from models.enums import ActionKind
from models.qms import (
    QmsDetails,
    ReadAcross,
    closure_problems,
    completion_problems,
    documents_problems,
    merge,
    plan_problems,
    training_progress,
)


def test_training_progress_reads_as_people_trained_against_the_threshold() -> None:
    details: QmsDetails | None = QmsDetails(
        course="WI-042", audience=[f"op{n}" for n in range(10)], threshold_percent=90
    )
    details = merge(details, QmsDetails(completions=[f"op{n}" for n in range(7)]))
    assert details is not None
    assert training_progress(details) == "7 of 10 trained (70%), threshold 90%"
    assert [f for f, _ in closure_problems(ActionKind.TRAINING, details)] == ["completions"]
    details = merge(details, QmsDetails(completions=["op6", "op7", "op8"]))
    assert details is not None
    assert len(details.completions) == 9
    assert closure_problems(ActionKind.TRAINING, details) == []


def test_each_kind_names_what_it_lacks() -> None:
    assert [f for f, _ in plan_problems(ActionKind.DOCUMENT_CHANGE, QmsDetails())] == ["document_id"]
    assert [f for f, _ in plan_problems(ActionKind.TRAINING, QmsDetails(course="x"))] == ["threshold_percent"]
    assert [f for f, _ in plan_problems(ActionKind.CORRECTIVE, QmsDetails())] == ["details"]
    assert plan_problems(ActionKind.CORRECTIVE, None) == []
    doc: QmsDetails | None = QmsDetails(document_id="WI-042", revision_to="C")
    assert [f for f, _ in closure_problems(ActionKind.DOCUMENT_CHANGE, doc)] == ["effective_date"]
    doc = merge(doc, QmsDetails(effective_date=date(2027, 1, 4)))
    assert closure_problems(ActionKind.DOCUMENT_CHANGE, doc) == []
    assert [f for f, _ in closure_problems(ActionKind.CHANGE_CONTROL, QmsDetails())] == ["reference"]
    across = QmsDetails(read_across=[ReadAcross(target="line 4")])
    assert [f for f, _ in closure_problems(ActionKind.READ_ACROSS, across)] == ["read_across"]


def test_a_plan_states_its_documents_or_justifies_none() -> None:
    assert documents_problems([ActionKind.CORRECTIVE], None, None) == []
    assert [f for f, _ in documents_problems([ActionKind.TRAINING], None, None)] == ["affected_documents"]
    assert [f for f, _ in documents_problems([ActionKind.CORRECTIVE], [], " ")] == ["no_documents_justification"]
    assert documents_problems([ActionKind.TRAINING], [], "No document changes") == []
    assert documents_problems([ActionKind.DOCUMENT_CHANGE], ["WI-042"], None) == []


def test_a_completion_records_what_the_work_found_and_leaves_the_approved_plan_alone() -> None:
    """Completing an action may add its new revision, reference or outcomes, never rewrite what quality approved."""
    training = QmsDetails(course="Seal fitting", audience=["otto", "oscar"], threshold_percent=100)
    lowered = QmsDetails(threshold_percent=1, audience=["otto"], completions=["nobody"])
    assert sorted(f for f, _ in completion_problems(training, lowered)) == [
        "audience",
        "completions",
        "threshold_percent",
    ]
    document = QmsDetails(document_id="WI-9", revision_from="A")
    assert [f for f, _ in completion_problems(document, QmsDetails(document_id="WI-OTHER", revision_to="B"))] == [
        "document_id"
    ]
    assert completion_problems(document, QmsDetails(document_id="WI-9", revision_to="B")) == []
    across = QmsDetails(read_across=[ReadAcross(target="H-510"), ReadAcross(target="Line 4")])
    assert [f for f, _ in completion_problems(across, QmsDetails(read_across=[ReadAcross(target="H-999")]))] == [
        "read_across"
    ]


def test_read_across_outcomes_are_recorded_per_target_and_no_target_is_lost() -> None:
    """An outcome for one target keeps the others, still waiting for theirs."""
    across = QmsDetails(read_across=[ReadAcross(target="H-510"), ReadAcross(target="Line 4")])
    merged = merge(across, QmsDetails(read_across=[ReadAcross(target="H-510", outcome="no issue")]))
    assert merged is not None
    assert [(item.target, item.outcome) for item in merged.read_across] == [("H-510", "no issue"), ("Line 4", None)]
    assert closure_problems(ActionKind.READ_ACROSS, merged) == [("read_across", "record the outcome for Line 4")]


def test_a_training_threshold_the_audience_cannot_reach_is_refused_at_the_plan() -> None:
    """Five trained out of an audience of one could never be met: the plan says so instead of the record sticking."""
    problems = plan_problems(ActionKind.TRAINING, QmsDetails(course="x", audience=["otto"], threshold_count=5))
    assert [f for f, _ in problems] == ["threshold_count"]
