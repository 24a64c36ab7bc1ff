"""Each kind of timeline entry reads as one sentence; an entry of an earlier shape as its fields, never JSON."""

from datetime import UTC, datetime, timedelta

import pytest

from models.enums import (
    ActionKind,
    AmendableField,
    CauseCategory,
    Disposition,
    EffectivenessResult,
    EventKind,
    LinkKind,
    RootCauseMethod,
    Severity,
    Source,
    Stage,
    TriageDecision,
    VerificationResult,
)
from models.payloads import (
    ENTRY_OF_KIND,
    AmendEntry,
    CancelEntry,
    ChainStartedEntry,
    ClosedEntry,
    CommentEntry,
    CompletionEntry,
    ConcessionEntry,
    ContainmentStep,
    EffectivenessDueEntry,
    EntryDetails,
    EscalationEntry,
    Event,
    ExtensionDecisionEntry,
    ExtensionRequestEntry,
    FileRef,
    LinkStep,
    PauseDecisionEntry,
    PauseRequestEntry,
    PlanAmendmentEntry,
    PlanDecisionEntry,
    PlanEntry,
    PlannedAction,
    ProcedureMovedEntry,
    RaiseStep,
    ReassignEntry,
    RecurrenceEntry,
    RecurrenceSource,
    ReminderEntry,
    Rescope,
    ResumeEntry,
    ReviewEntry,
    RootCauseEntry,
    TrainingEntry,
    TriageEntry,
    VerifyEntry,
)
from models.policy import Procedure
from models.sentences import sentence

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
DUE = T0 + timedelta(days=10)

# One entry of every kind, and the sentence it reads as.
ENTRIES: dict[EventKind, tuple[str, EntryDetails, str]] = {
    EventKind.RAISED: (
        "otto",
        RaiseStep(
            title="Burr on housing edge",
            description="Found at final inspection",
            severity=Severity.MAJOR,
            source=Source.CUSTOMER_COMPLAINT,
            owner="olivia",
            product="H-100",
            lot="L42",
            quantity=12,
        ),
        "Raised by otto, major from customer complaint, owned by olivia: Burr on housing edge"
        " (product H-100, lot L42, 12 pcs)",
    ),
    EventKind.CONTAINMENT_SUBMITTED: (
        "olivia",
        ContainmentStep(summary="quarantined 40 pcs", disposition=Disposition.SCRAP),
        "Containment by olivia: quarantined 40 pcs (scrap)",
    ),
    EventKind.ROOT_CAUSE_SUBMITTED: (
        "olivia",
        RootCauseEntry(
            method=RootCauseMethod.FIVE_WHYS,
            cause="Worn deburring tool",
            whys=["Burr left on the edge", "Tool life not tracked"],
            category=CauseCategory.MACHINE,
            cycle=1,
        ),
        "Root cause by olivia (five-whys, cycle 1): Worn deburring tool;"
        " whys: Burr left on the edge / Tool life not tracked; category: machine",
    ),
    EventKind.PLAN_SUBMITTED: (
        "olivia",
        PlanEntry(
            actions=[
                PlannedAction(owner="olivia", due_at=DUE, description="Replace tool"),
                PlannedAction(owner="oscar", due_at=DUE, description="Add counter", kind=ActionKind.PREVENTIVE),
            ],
            action_ids=["A1", "A2"],
        ),
        "Action plan by olivia: A1 corrective for olivia, due 2026-03-12 09:00:00 UTC: Replace tool;"
        " A2 preventive for oscar, due 2026-03-12 09:00:00 UTC: Add counter",
    ),
    EventKind.ACTION_COMPLETED: (
        "oscar",
        CompletionEntry(action_id="A1", evidence="Tool replaced, WO-5531", on_time=True),
        "A1 completed by oscar, on time: Tool replaced, WO-5531",
    ),
    EventKind.VERIFIED: (
        "maria",
        VerifyEntry(result=VerificationResult.FAIL, evidence="3 of 50 parts burred"),
        "Verification by maria, fail: 3 of 50 parts burred",
    ),
    EventKind.EFFECTIVENESS_DUE: (
        "system",
        EffectivenessDueEntry(review_due_at=DUE),
        "Effectiveness review due by 2026-03-12 09:00:00 UTC",
    ),
    EventKind.EFFECTIVENESS_REVIEWED: (
        "maria",
        ReviewEntry(result=EffectivenessResult.NOT_EFFECTIVE, evidence="Burrs again in lot L44"),
        "Effectiveness review by maria, not effective: Burrs again in lot L44",
    ),
    EventKind.CLOSED: ("maria", ClosedEntry(cycles=2), "Closed after 2 cycles"),
    EventKind.REMINDER_SENT: (
        "system",
        ReminderEntry(
            target="root_cause",
            holder="olivia",
            due_at=DUE,
            scheduled_at=DUE - timedelta(days=1),
            recipients=["olivia"],
        ),
        "Reminder to olivia: root cause due in 1d, at 2026-03-12 09:00:00 UTC",
    ),
    EventKind.ESCALATED: (
        "system",
        EscalationEntry(
            target="root_cause",
            holder="olivia",
            due_at=DUE,
            scheduled_at=DUE,
            recipients=["maria", "ada"],
            level=2,
            late_by="2d3h14m9s",
        ),
        "Escalation level 2 to the managers of olivia (maria, ada): root cause late by 2d 3h",
    ),
    EventKind.EXTENSION_REQUESTED: (
        "oscar",
        ExtensionRequestEntry(
            action_id="A2", until=DUE + timedelta(days=5), reason="Supplier late", target="A2", current_due_at=DUE
        ),
        "Extension of A2 asked by oscar, from 2026-03-12 09:00:00 UTC to 2026-03-17 09:00:00 UTC (5d more):"
        " Supplier late",
    ),
    EventKind.EXTENSION_DECIDED: (
        "maria",
        ExtensionDecisionEntry(approve=True, target="A2", requested_by="oscar", due_at=DUE + timedelta(days=5)),
        "Extension of A2 asked by oscar approved by maria, now due 2026-03-17 09:00:00 UTC",
    ),
    EventKind.REASSIGNED: (
        "maria",
        ReassignEntry(new_owner="paul", reason="olivia on leave", target="record", previous="olivia"),
        "Record reassigned from olivia to paul by maria: olivia on leave",
    ),
    EventKind.CANCELLED: (
        "maria",
        CancelEntry(reason="Raised twice", stage=Stage.ROOT_CAUSE),
        "Cancelled by maria in root cause: Raised twice",
    ),
    EventKind.FILE_ATTACHED: (
        "oscar",
        FileRef(
            name="burr.png",
            size=14_540,
            media_type="image/png",
            sha256="ab" * 32,
            to="root_cause",
            uploaded_by="oscar",
            uploaded_at=T0,
        ),
        f"File burr.png attached to root cause by oscar (14.2 KB, image/png, SHA-256 {'ab' * 32})",
    ),
    EventKind.CHAIN_STARTED: (
        "system",
        ChainStartedEntry(sealed=["a" * 64, "b" * 64, "c" * 64]),
        "Audit chain started, sealing entries 1 to 3",
    ),
    EventKind.TRIAGED: (
        "quinn",
        TriageEntry(
            severity_level=4,
            occurrence_level=3,
            decision=TriageDecision.CAPA,
            regulatory_report=True,
            risk_class=Severity.MAJOR,
            previous_class=Severity.MINOR,
        ),
        "Triaged by quinn: severity 4, occurrence 3, class major (was minor; deadlines re-armed), capa;"
        " to report: regulatory report",
    ),
    EventKind.PLAN_AMENDED: (
        "olivia",
        PlanAmendmentEntry(
            add=[PlannedAction(owner="oscar", due_at=T0, description="Train line 3")],
            rescope=[Rescope(action_id="A1", description="Replace both tools")],
            reason="Second tool worn too",
            action_ids=["A2"],
        ),
        "Plan amended by olivia (Second tool worn too): added A2 for oscar, due 2026-03-02 09:00:00 UTC: Train line 3;"
        " A1 re-scoped: Replace both tools",
    ),
    EventKind.PLAN_DECIDED: (
        "quinn",
        PlanDecisionEntry(approve=False, reason="No preventive action", what="plan"),
        "The plan returned by quinn: No preventive action",
    ),
    EventKind.CONCESSION_GRANTED: (
        "quinn",
        ConcessionEntry(justification="Burr is cosmetic on a hidden face", customer_approval="CA-77"),
        "Concession granted by quinn (customer approval CA-77): Burr is cosmetic on a hidden face",
    ),
    EventKind.AMENDED: (
        "quinn",
        AmendEntry(field=AmendableField.LOT, value="L-4712", reason="Typo at intake", previous="L-4711"),
        "Lot corrected by quinn from “L-4711” to “L-4712”: Typo at intake",
    ),
    EventKind.LINKED: (
        "olivia",
        LinkStep(kind=LinkKind.RECURRENCE_OF, record_id="NC-2026-0001"),
        "Linked by olivia: recurrence of NC-2026-0001",
    ),
    EventKind.COMMENTED: (
        "otto",
        CommentEntry(text="@quinn the lot is on hold", mentions=["quinn"]),
        "Comment by otto (mentions quinn): @quinn the lot is on hold",
    ),
    # recurrence
    EventKind.RECURRENCE_DETECTED: (
        "system",
        RecurrenceEntry(
            source=RecurrenceSource.SENTINEL,
            rule="burr-90d",
            record_ids=["NC-2026-0007"],
            escalate=True,
            recipients=["mike"],
            target="containment",
            level=1,
        ),
        'Recurrence detected by rule "burr-90d": NC-2026-0007; containment escalated to level 1 (mike)',
    ),
    # Procedure-version pinning.
    EventKind.PROCEDURE_MOVED: (
        "quinn",
        ProcedureMovedEntry(
            reason="SOP-QA-014 rev D issued",
            from_procedure=Procedure(document="SOP-QA-014", revision="C"),
            to_procedure=Procedure(document="SOP-QA-014", revision="D"),
            from_policy="2026-11",
            to_policy="2026-12",
            to_digest="0123456789ab",
        ),
        "Moved by quinn from SOP-QA-014 rev C, policy 2026-11 to SOP-QA-014 rev D, policy 2026-12: SOP-QA-014 rev D"
        " issued",
    ),
    # QMS updates that gate closure
    EventKind.TRAINING_RECORDED: (
        "olivia",
        TrainingEntry(action_id="A1", people=["op1", "op2"], progress="2 of 10 trained (20%), threshold 90%"),
        "Training of A1 recorded by olivia: op1, op2 (2 of 10 trained (20%), threshold 90%)",
    ),
    # honest pauses
    EventKind.PAUSE_REQUESTED: (
        "olivia",
        PauseRequestEntry(
            target="A1",
            waiting_on="supplier",
            expected_until=T0 + timedelta(days=5),
            reason="8D from the supplier",
            due_at=T0 + timedelta(days=3),
        ),
        "Pause of A1 asked by olivia, waiting on supplier until 2026-03-07 09:00:00 UTC (due 2026-03-05 09:00:00 UTC):"
        " 8D from the supplier",
    ),
    EventKind.PAUSE_DECIDED: (
        "quinn",
        PauseDecisionEntry(
            target="A1",
            approve=True,
            requested_by="olivia",
            waiting_on="supplier",
            expected_until=T0 + timedelta(days=5),
            remaining=timedelta(days=3),
        ),
        "Pause of A1 asked by olivia approved by quinn: paused — waiting on supplier until 2026-03-07 09:00:00 UTC,"
        " 3d left",
    ),
    EventKind.RESUMED: (
        "olivia",
        ResumeEntry(
            target="A1",
            paused_at=T0,
            paused_for=timedelta(days=4),
            due_at=T0 + timedelta(days=7),
            waiting_on="supplier",
            reason="the 8D arrived",
        ),
        "A1 resumed by olivia after 4d paused, now due 2026-03-09 09:00:00 UTC: the 8D arrived",
    ),
}


def entry_event(kind: EventKind, seq: int = 1) -> Event:
    actor, details, _ = ENTRIES[kind]
    return Event(seq=seq, at=T0, kind=kind, actor=actor, details=details)


def test_every_kind_with_an_entry_has_a_sentence_here() -> None:
    """The examples below cover every kind a timeline entry can have."""
    assert set(ENTRIES) == set(ENTRY_OF_KIND)


@pytest.mark.parametrize("kind", list(ENTRIES), ids=[kind.value for kind in ENTRIES])
def test_an_entry_reads_as_its_sentence(kind: EventKind) -> None:
    """Who did what, with times and durations in the one form every front end uses."""
    assert sentence(entry_event(kind)) == ENTRIES[kind][2]


def test_a_late_completion_and_a_rejected_extension_say_so() -> None:
    """The outcome is in the sentence, not left to a yes/no field."""
    late = CompletionEntry(action_id="A2", evidence="MES change CR-77", on_time=False)
    event = Event(seq=6, at=T0, kind=EventKind.ACTION_COMPLETED, actor="oscar", details=late)
    assert sentence(event) == "A2 completed by oscar, late: MES change CR-77"
    rejected = ExtensionDecisionEntry(approve=False, reason="No reason given", target="containment", requested_by="o")
    event = Event(seq=7, at=T0, kind=EventKind.EXTENSION_DECIDED, actor="maria", details=rejected)
    assert sentence(event) == "Extension of containment asked by o rejected by maria: No reason given"


def test_an_escalation_a_step_overtook_says_when_the_step_was_done() -> None:
    """Several levels at once and the time the late step was taken are both on the sentence."""
    entry = EscalationEntry(
        target="A1",
        holder="oscar",
        due_at=DUE,
        scheduled_at=DUE,
        recipients=[],
        level=2,
        levels=[1, 2],
        late_by="45s",
        step_done_at=DUE + timedelta(seconds=45),
    )
    event = Event(seq=9, at=T0, kind=EventKind.ESCALATED, actor="system", details=entry)
    assert sentence(event) == (
        "Escalation levels 1, 2 to the managers of oscar: A1 late by 45s, done at 2026-03-12 09:00:45 UTC"
    )


def test_an_entry_of_an_earlier_shape_reads_as_its_fields() -> None:
    """An entry no current model fits is shown field by field, ``key: value``, not as a JSON document."""
    earlier = {"approved": "maybe", "for": {"action": "A1", "days": 3}, "at_times": ["2026-03-02T09:00:00Z"]}
    event = Event.model_validate(
        {"seq": 6, "at": T0, "kind": "extension_decided", "actor": "maria", "details": earlier}
    )
    text = sentence(event)
    assert text == (
        "Extension decided by maria: approved: maybe; for: action A1, days 3; at times: 2026-03-02T09:00:00Z"
    )
