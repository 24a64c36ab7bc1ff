"""One record's lifecycle through the client layer, taken the way its people would while things fail around them.

A person whose request fails with "unavailable" looks at the record before sending it again (the client's
message says so), so a step is never sent twice once it has landed. A stage planned to run late is left alone
until its whole escalation ladder has fired; a step is recorded with the clock it ends, so the checks know which
escalations were due.
"""

import asyncio
import random
import re
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import partial

from client.errors import CapaError, ErrorKind, StepPending
from client.records import CapaClient
from core.readmodel import DEMO_PASSWORD
from models.enums import (
    ActionStatus,
    CancelCategory,
    CauseCategory,
    Disposition,
    EffectivenessResult,
    EventKind,
    RootCauseMethod,
    Severity,
    Source,
    Stage,
    TriageDecision,
    VerificationResult,
)
from models.payloads import (
    CancelStep,
    CapaState,
    Clock,
    CompleteActionStep,
    ContainmentStep,
    Criterion,
    CriterionResult,
    PlanDecisionStep,
    PlannedAction,
    PlanStep,
    RaiseStep,
    ReviewStep,
    RootCauseStep,
    StepOutcome,
    TriageStep,
    VerifyStep,
)

# The stage clocks a record runs through, by the ``target`` its timeline events name; actions are A1, A2.
STAGE_TARGETS = ("containment", "root_cause", "action", "verification", "effectiveness")
# The demo directory's people: otto raises, olivia owns (and owns an action, as oscar does), maria (a manager who
# implemented nothing) verifies, and quinn (quality) triages, approves plans, reviews and cancels.
QUALITY = "quinn"
VERIFIER = "maria"
# Each class's process rules as the bundled default policy sets them, but for the latest due of an action: the
# run's deadlines are seconds.
_CLASS_RULES = {
    Severity.CRITICAL: "plan_approval = true\nmin_whys = 3\nescape_required = true\nindependent_review = true\n",
    Severity.MAJOR: "plan_approval = true\nmin_whys = 3\nescape_required = true\n",
    Severity.MINOR: "",
}
_WHYS = ("Burr on edge", "Deburring tool worn", "No tool-life counter on the deburring station")
_RAISED_ID = re.compile(r"(NC-\d{4}-\d{4,}) was raised")
_POLL_SECONDS = 1.0
_POLL_MAX_SECONDS = 5.0
# Looks stay a second apart for this long, then grow towards _POLL_MAX_SECONDS.
_POLL_PATIENCE_SECONDS = 15.0
# What a worker says of a workflow stopped on a non-determinism error: it answers nothing until someone repairs it.
# ("Workflow Task in failed state" is no such sign: the server says it too while a task lost with a killed worker
# is retried.)
STOPPED = "Nondeterminism"
_RETRY_SECONDS = 1.0


@dataclass(frozen=True)
class Timings:
    """The seconds-scale policy the run uses and how the people in it keep to it."""

    window: int  # every stage's allowed time, in seconds (the policy file counts whole seconds)
    escalate_after: tuple[int, ...]  # the escalation ladder, after the due time
    effectiveness_after: int
    # A step sent closer than this to its due time counts as late: it waits for the ladder like a planned one.
    margin: float
    # How long one step may take, all retries included, before the lifecycle is reported stuck.
    step_deadline: float

    def policy_toml(self) -> str:
        window = f"{self.window}s"
        ladder = ", ".join(f'"{seconds}s"' for seconds in self.escalate_after)
        section = (
            f'containment = "{window}"\nroot_cause = "{window}"\naction_plan = "{window}"\n'
            f'verification = "{window}"\neffectiveness_after = "{self.effectiveness_after}s"\n'
            f'effectiveness_review = "{window}"\nremind_before = ["{self.window // 2}s"]\n'
            f"escalate_after = [{ladder}]\n"
        )
        return '[policy]\nname = "chaos-seconds"\n' + "".join(
            f"\n[severity.{s.value}]\n{section}{_CLASS_RULES[s]}" for s in Severity
        )


@dataclass(frozen=True)
class RecordPlan:
    """What happens to one record: which clocks run late, how many actions, whether it is cancelled."""

    number: int
    severity: Severity
    late: frozenset[str]
    actions: int
    cancel: bool

    @property
    def expected_stage(self) -> Stage:
        return Stage.CANCELLED if self.cancel else Stage.CLOSED

    @classmethod
    def draw(cls, number: int, rng: random.Random) -> "RecordPlan":
        actions = rng.choice((1, 2))
        targets = [*STAGE_TARGETS, *(f"A{i}" for i in range(1, actions + 1))]
        return cls(
            number=number,
            severity=rng.choice(list(Severity)),
            late=frozenset(rng.sample(targets, rng.choice((0, 1, 1, 2)))),
            actions=actions,
            # Every tenth record is cancelled by quality after containment, instead of triaged: raised against the
            # wrong lot.
            cancel=number % 10 == 9,
        )


@dataclass
class StepSent:
    """One step as the driver sent it: the clock it ends (if any) and when it was first sent."""

    record_id: str
    step: str
    target: str | None
    due_at: datetime | None
    sent_at: datetime
    late: bool


@dataclass
class LifecycleResult:
    plan: RecordPlan
    record_id: str | None = None
    steps: list[StepSent] = field(default_factory=list)
    # Refusals the driver met and dealt with, by step and kind (unavailable, then retried or found landed).
    refusals: Counter[tuple[str, str]] = field(default_factory=Counter)
    error: str | None = None
    seconds: float = 0.0


class StuckError(Exception):
    """A step or a wait did not complete within its deadline."""


class Lifecycle:
    def __init__(self, client: CapaClient, plan: RecordPlan, timings: Timings) -> None:
        self._client = client
        self._plan = plan
        self._timings = timings
        self.result = LifecycleResult(plan)

    async def run(self) -> LifecycleResult:
        began = time.monotonic()
        try:
            await self._lifecycle()
        except (CapaError, StuckError) as exc:
            self.result.error = str(exc)
        except Exception as exc:  # one record's failure is reported; the run goes on
            self.result.error = f"{type(exc).__name__}: {str(exc).splitlines()[0][:300]}"
        self.result.seconds = time.monotonic() - began
        return self.result

    async def _lifecycle(self) -> None:
        plan, client = self._plan, self._client
        rid = await self._raise()
        await self._step(
            "contain",
            "containment",
            lambda: client.take_step(
                rid,
                "olivia",
                ContainmentStep(summary=f"Lot L-{plan.number} quarantined", disposition=Disposition.QUARANTINE),
            ),
            lambda s: s.containment is not None,
        )
        if plan.cancel:
            # Cancelling ends the root-cause clock that containment started.
            await self._step(
                "cancel",
                "root_cause",
                lambda: client.sign(
                    rid,
                    QUALITY,
                    CancelStep(reason="raised against the wrong lot", category=CancelCategory.RAISED_IN_ERROR),
                    DEMO_PASSWORD,
                ),
                lambda s: s.stage is Stage.CANCELLED,
            )
            return
        triage = _triage(await self._show())
        await self._step(
            "triage",
            None,
            lambda: client.sign(rid, QUALITY, triage, DEMO_PASSWORD),
            lambda s: s.triage is not None,
        )
        root_cause = _root_cause(await self._show())
        await self._step(
            "root cause",
            "root_cause",
            lambda: client.take_step(rid, "olivia", root_cause),
            lambda s: bool(s.root_causes),
        )
        owners = ["olivia", "oscar"][: plan.actions]
        await self._step(
            "plan",
            "action",
            lambda: client.take_step(rid, "olivia", PlanStep(actions=self._actions(owners), criteria=[_CRITERION])),
            _planned,
        )
        if (await self._show()).pending_plan is not None:
            # The policy asks quality to approve the plan of this class; the actions' clocks run meanwhile.
            await self._step(
                "approve plan",
                None,
                lambda: client.sign(rid, QUALITY, PlanDecisionStep(approve=True), DEMO_PASSWORD),
                lambda s: s.pending_plan is None,
            )
        for number, owner in enumerate(owners, start=1):
            action_id = f"A{number}"
            await self._step(
                f"complete {action_id}",
                action_id,
                partial(
                    client.take_step,
                    rid,
                    owner,
                    CompleteActionStep(action_id=action_id, evidence=f"Done, work order WO-{plan.number}-{action_id}"),
                ),
                partial(_completed, action_id=action_id),
            )
        await self._step(
            "verify",
            "verification",
            lambda: client.sign(
                rid,
                VERIFIER,
                VerifyStep(
                    result=VerificationResult.PASS,
                    evidence="50 parts checked",
                    no_adverse_effect=True,
                    adverse_effect_evidence="Mating-edge dimensions of the 50 parts within tolerance",
                ),
                DEMO_PASSWORD,
            ),
            lambda s: bool(s.verifications),
        )
        verified = await self._show()
        await self._wait(
            lambda s: s.clock is not None, "the effectiveness review to fall due", verified.effectiveness_due_at
        )
        await self._step(
            "review",
            "effectiveness",
            lambda: client.sign(
                rid,
                QUALITY,
                ReviewStep(
                    result=EffectivenessResult.EFFECTIVE,
                    evidence="No recurrence",
                    criteria_results=[CriterionResult(criterion=1, met=True, data="0 of 600 housings with a burr")],
                ),
                DEMO_PASSWORD,
            ),
            lambda s: s.stage is Stage.CLOSED,
        )

    def _actions(self, owners: list[str]) -> list[PlannedAction]:
        now = datetime.now(UTC)
        actions = []
        for number, owner in enumerate(owners, start=1):
            # A late action gets a short deadline and runs over it; an on-time one has room to spare.
            window = self._timings.window / 2 if f"A{number}" in self._plan.late else self._timings.window * 2
            actions.append(
                PlannedAction(
                    owner=owner, due_at=now + timedelta(seconds=window), description=f"Action {number} of the plan"
                )
            )
        return actions

    # --- the driver's habits ------------------------------------------------------------------------------

    async def _raise(self) -> str:
        plan = self._plan
        deadline = time.monotonic() + self._timings.step_deadline
        while True:
            try:
                rid = await self._client.raise_record(
                    "otto",
                    RaiseStep(
                        title=f"Burr on housing edge, lot L-{plan.number}",
                        description="Housings from line 3 show a burr on the mating edge.",
                        severity=plan.severity,
                        source=Source.INSPECTION,
                        owner="olivia",
                        product="H-200",
                        lot=f"L-{plan.number}",
                        quantity=120,
                    ),
                )
            except CapaError as exc:
                self.result.refusals[("raise", exc.kind.value)] += 1
                raised = _RAISED_ID.search(exc.message)
                if raised is not None:
                    # Started, but not opened in time: the record exists; wait for it rather than raise it twice.
                    rid = raised[1]
                    self.result.record_id = rid
                    await self._wait(lambda s: s.policy is not None, "the record to open")
                    return rid
                if exc.kind is not ErrorKind.UNAVAILABLE or time.monotonic() > deadline:
                    raise
                await asyncio.sleep(_RETRY_SECONDS)
                continue
            self.result.record_id = rid
            return rid

    async def _step(
        self,
        step: str,
        target: str | None,
        send: Callable[[], Awaitable[StepOutcome]],
        landed: Callable[[CapaState], bool],
    ) -> None:
        """Send a step once its clock is as late as planned; after a failure, look before sending again."""
        rid = self.result.record_id
        assert rid is not None
        state = await self._show()
        clock = _clock(state, target)
        late = False
        if clock is not None and target is not None:
            margin = timedelta(seconds=self._timings.margin)
            late = target in self._plan.late or datetime.now(UTC) >= clock.due_at - margin
            if late:
                ladder = len(self._timings.escalate_after)
                # The holder acts once the last escalation has gone out (its recipients are known), as a person who
                # reacts to the notice would; not at the instant the workflow raised the level.
                await self._wait(
                    lambda s: (
                        (c := _clock(s, target)) is None
                        or (c.escalation_level >= ladder and _escalation_sent(s, target, ladder))
                    ),
                    f"{target} to escalate to level {ladder}",
                    not_before=clock.due_at + timedelta(seconds=self._timings.escalate_after[-1]),
                )
        self.result.steps.append(StepSent(rid, step, target, clock.due_at if clock else None, datetime.now(UTC), late))
        deadline = time.monotonic() + self._timings.step_deadline
        while True:
            try:
                await send()
                return
            except StepPending as pending:
                self.result.refusals[(step, pending.kind.value)] += 1
                if await self._follow(pending, landed, deadline):
                    return
                # Lost before any worker took it (the server restarted meanwhile): send it again.
            except CapaError as exc:
                self.result.refusals[(step, exc.kind.value)] += 1
                if landed(await self._show()):
                    return  # an earlier attempt was applied after all
                # Unavailable, or a signing held back while several of the signer's were checked at once: try again.
                # A plan whose due dates passed while it waited: new dates, again.
                retry = exc.kind in {ErrorKind.UNAVAILABLE, ErrorKind.TOO_MANY_ATTEMPTS} or (
                    step == "plan" and exc.kind is ErrorKind.INVALID
                )
                if not retry:
                    raise CapaError(exc.kind, f"{rid} {step}: {exc.message}") from None
                if time.monotonic() > deadline:
                    raise StuckError(
                        f"{rid} {step}: still refused after {self._timings.step_deadline:.0f}s: {exc}"
                    ) from None
            await asyncio.sleep(_RETRY_SECONDS)

    async def _follow(self, pending: StepPending, landed: Callable[[CapaState], bool], deadline: float) -> bool:
        """Wait for a pending step's outcome, as its sender would; False when the server no longer knows it."""
        rid = pending.record_id
        while True:
            try:
                await self._client.step_outcome(rid, pending.update_id)
                return True
            except StepPending:
                pass
            except CapaError as exc:
                if landed(await self._show()):
                    return True
                # Lost (the server restarted), or a plan whose due dates passed while it waited: send it again.
                if exc.kind is ErrorKind.NOT_FOUND or (pending.step == "plan" and exc.kind is ErrorKind.INVALID):
                    return False
                if exc.kind is not ErrorKind.UNAVAILABLE:
                    raise CapaError(exc.kind, f"{rid} {pending.step}: {exc.message}") from None
                await asyncio.sleep(_RETRY_SECONDS)
            if time.monotonic() > deadline:
                raise StuckError(f"{rid} {pending.step}: still pending after {self._timings.step_deadline:.0f}s")

    async def _show(self) -> CapaState:
        rid = self.result.record_id
        assert rid is not None
        deadline = time.monotonic() + self._timings.step_deadline
        while True:
            try:
                shown = await self._client.show_record(rid)
            except CapaError as exc:
                if exc.kind is not ErrorKind.UNAVAILABLE or STOPPED in exc.message or time.monotonic() > deadline:
                    raise
                self.result.refusals[("show", exc.kind.value)] += 1
            else:
                # A view the product marks as taken from the read model because the workflow did not answer may
                # lag the record; a careful person looks again before acting on it.
                if shown.stale is None or time.monotonic() > deadline:
                    return shown.state
                self.result.refusals[("show", "Stale")] += 1
            await asyncio.sleep(_RETRY_SECONDS)

    async def _wait(
        self, condition: Callable[[CapaState], bool], what: str, not_before: datetime | None = None
    ) -> CapaState:
        """Poll the record until ``condition`` holds; not before ``not_before``, when it cannot hold earlier.

        Hundreds of lifecycles polling the workflows all the time would load the workers more than the faults do.
        """
        if not_before is not None:
            await asyncio.sleep(max(0.0, (not_before - datetime.now(UTC)).total_seconds()))
        deadline = time.monotonic() + self._timings.step_deadline
        pause = _POLL_SECONDS
        patient_until = time.monotonic() + _POLL_PATIENCE_SECONDS
        while True:
            state = await self._show()
            if condition(state):
                return state
            if time.monotonic() > deadline:
                raise StuckError(
                    f"{state.id}: waited {self._timings.step_deadline:.0f}s for {what}; it is in {state.stage.value}"
                )
            await asyncio.sleep(pause)
            # A person looks again less often once they have waited a while: every look is a query a worker
            # answers, and a run whose records lag would otherwise load its workers with looks.
            if time.monotonic() > patient_until:
                pause = min(pause * 1.5, _POLL_MAX_SECONDS)


def _clock(state: CapaState, target: str | None) -> Clock | None:
    if target is None:
        return None
    if target in STAGE_TARGETS:
        return state.clock if state.stage.value == target else None
    return state.clock_for(target)


def _escalation_sent(state: CapaState, target: str, level: int) -> bool:
    return any(
        e.kind is EventKind.ESCALATED
        and e.facts().get("target") == target
        and e.facts().get("level") == level
        and e.facts().get("recipients")
        for e in state.events
    )


_CRITERION = Criterion(
    measure="housings with a burr at final inspection",
    baseline="2 %",
    threshold="0 %",
    data_source="final inspection, line 3",
    window_lots=5,
)


def _triage(state: CapaState) -> TriageStep:
    """Quality's triage keeping the class the record was raised with: a CAPA is needed, nothing to report.

    Keeping the class keeps the clocks (a new class would re-arm them), so the checks know which escalations were due.
    """
    assert state.policy is not None
    assert state.policy.process is not None
    matrix = state.policy.process.matrix
    severity, occurrence = next(
        (s, o) for s in range(1, 6) for o in range(1, 6) if matrix[s - 1][o - 1] is state.severity
    )
    return TriageStep(
        severity_level=severity,
        occurrence_level=occurrence,
        decision=TriageDecision.CAPA,
        rationale="Burr on a mating edge: a corrective action is needed",
    )


def _root_cause(state: CapaState) -> RootCauseStep:
    """A five-whys root cause with what the record's class asks: enough whys, the category, the escape point and
    why it did not detect the burr, and the search for similar records."""
    assert state.policy is not None
    rules = state.policy.rules
    whys = [*_WHYS, *(f"Why {n}" for n in range(len(_WHYS) + 1, rules.min_whys + 1))]
    return RootCauseStep(
        method=RootCauseMethod.FIVE_WHYS,
        cause="Deburring tool used beyond its change interval",
        whys=whys,
        category=CauseCategory.MACHINE,
        escape_point="Final inspection, line 3",
        non_detection_cause="The edge is checked by sampling one housing per lot",
        similar_checked="Searched records of line 3 for burrs: none open",
    )


def _planned(state: CapaState) -> bool:
    return bool(state.actions)


def _completed(state: CapaState, action_id: str) -> bool:
    action = state.action(action_id)
    return action is not None and action.status is ActionStatus.COMPLETED
