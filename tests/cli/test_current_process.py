"""The current CAPA process through ``capa``: quality triages, approves the plan and reviews against criteria set in
advance; a closed record is still amended, signed; and careless input is named by its option in one line."""

from collections.abc import AsyncIterator

import pytest
import pytest_asyncio
from temporalio.testing import WorkflowEnvironment

from models.policy import CURRENT_RULES
from tests.cli.conftest import Capa, assert_one_line_error, eventually, serving
from tests.policies import uniform_policy
from tests.stack import running_stack

# Under the current rules, asking what an auditor asks of a major nonconformity: quality approves the plan, the
# reviewer is not the verifier, five whys give at least three whys and the root cause names its escape. The
# effectiveness window of a few seconds lets the test reach the review.
CURRENT_POLICY = uniform_policy(
    "cli-current", effectiveness_after="3s", remind_before=["30m"], escalate_after=["1h"], rules=CURRENT_RULES
).replace(
    'escalate_after = ["1h"]\n',
    'escalate_after = ["1h"]\nplan_approval = true\nindependent_review = true\nmin_whys = 3\nescape_required = true\n',
)
WHYS = ("--why", "Burr left on the edge", "--why", "Tool life not tracked", "--why", "No tool-life limit in the MES")
CRITERION = "measure=burr rejects at final inspection,baseline=2.1 %,threshold=< 0.2 %,source=QC-DB line 3,days=30"


@pytest_asyncio.fixture(scope="module")
async def capa(dev_server: WorkflowEnvironment, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Capa]:
    """This module's stack, its policy under the current process rules."""
    workdir = tmp_path_factory.mktemp("capa-current")
    async with running_stack(dev_server, workdir, policy=CURRENT_POLICY) as stack, serving(stack.app) as url:
        yield Capa(dev_server, stack.settings, stack.engine, url, workdir / "config")


async def raise_current(capa: Capa, *extra: str) -> str:
    """A major nonconformity at inspection with a defect code; ``extra`` options added to the raise."""
    run = await capa.ok(
        "raise",
        "--title",
        "Burr on housing edge",
        "--description",
        "Found at final inspection, station 4",
        "--severity",
        "major",
        "--source",
        "inspection",
        "--owner",
        "olivia",
        "--product",
        "H-100",
        "--lot",
        "L-4711",
        "--quantity",
        "120",
        "--defect-code",
        "SURF",
        *extra,
        user="otto",
    )
    return run.out.strip()


async def test_new_lifecycle_to_closed_and_amended(capa: Capa) -> None:
    """Raise with a defect code and a link, triage by quality, contain, find the cause, plan with a criterion,
    quality approves the plan, complete, verify with no adverse effect, quality reviews each criterion, closed; the
    closed record's lot is amended, signed; `capa show` prints all of it, and the linked record shows the link."""
    earlier = await raise_current(capa)
    record_id = await raise_current(capa, "--link", f"recurrence-of={earlier}")

    triaged = await capa.ok(
        "triage",
        record_id,
        "--severity-level",
        "4",
        "--occurrence-level",
        "2",
        "--decision",
        "capa",
        "--rationale",
        "Housing edge cuts the assembler",
        "--customer-notification",
        user="quinn",
    )
    assert "triaged, capa" in triaged.out
    await capa.ok(
        "contain",
        record_id,
        "--summary",
        "Lot L-4711 held and sorted",
        "--split",
        "quarantine=100",
        "--split",
        "scrap=20",
        "--shipped",
        "0",
        user="olivia",
    )
    await capa.ok(
        "root-cause",
        record_id,
        "--method",
        "five-whys",
        "--cause",
        "Deburring tool worn beyond its limit",
        *WHYS,
        "--category",
        "machine",
        "--escape-point",
        "Final inspection",
        "--non-detection-cause",
        "Edge not in the inspection plan",
        "--similar-checked",
        "Searched NCs for burr on H-100",
        "--similar",
        earlier,
        user="olivia",
    )
    await capa.ok(
        "plan",
        record_id,
        "--action",
        "olivia:10d:Replace the deburring tool",
        "--action",
        "owner=oscar,due=20d,description=Track tool life in the MES, per spindle",
        "--criterion",
        CRITERION,
        user="olivia",
    )
    await capa.ok("decide-plan", record_id, "--approve", user="quinn")
    await capa.ok("complete-action", record_id, "A1", "--evidence", "Work order WO-981", user="olivia")
    await capa.ok("complete-action", record_id, "A2", "--evidence", "MES change CR-77", user="oscar")
    await capa.ok(
        "verify",
        record_id,
        "--result",
        "pass",
        "--evidence",
        "Audit of 50 parts",
        "--no-adverse-effect",
        "--adverse-effect-evidence",
        "Dimensions within drawing on 50 parts",
        user="maria",
    )

    async def review_due() -> bool:
        return "effectiveness_due" in [event["kind"] for event in (await capa.show(record_id))["events"]]

    await eventually(review_due)
    reviewed = await capa.ok(
        "review",
        record_id,
        "--result",
        "effective",
        "--evidence",
        "QC-DB extract",
        "--criterion-result",
        "1=met:0.1 % over 30 days, 4 lots",
        user="quinn",
    )
    assert "stage now closed" in reviewed.out
    amended = await capa.ok(
        "amend", record_id, "--field", "lot", "--value", "L-4712", "--reason", "Lot misread from the tag", user="quinn"
    )
    assert "lot amended" in amended.out

    shown = await capa.show(record_id)
    assert shown["stage"] == "closed"
    assert shown["lot"] == "L-4712"
    assert shown["defect_code"] == "SURF"
    assert shown["triage"]["risk_class"] == "major"
    assert shown["triage"]["customer_notification"] is True
    assert shown["criteria"][0]["window_days"] == 30
    assert shown["reviews"][-1]["criteria_results"] == [
        {"criterion": 1, "met": True, "data": "0.1 % over 30 days, 4 lots"}
    ]
    assert shown["verifications"][-1]["no_adverse_effect"] is True
    assert shown["actions"][1]["description"] == "Track tool life in the MES, per spindle"
    assert [(link["kind"], link["record_id"]) for link in shown["linked"]] == [("recurrence-of", earlier)]
    kinds = [event["kind"] for event in shown["events"]]
    assert kinds[:2] == ["raised", "triaged"]
    assert kinds.index("plan_decided") < kinds.index("verified") < kinds.index("closed") < kinds.index("amended")

    human = (await capa.ok("show", record_id, user="maria")).out
    for said in (
        "defect code SURF",
        "major (severity 4, occurrence 2), capa; customer notification",
        "quarantine 100, scrap 20",
        "Effectiveness criteria",
        "burr rejects at final inspection: baseline 2.1 %, threshold < 0.2 %, from QC-DB line 3; data: 0.1 % over",
        "met",
        "Linked records",
        "recurrence-of",
        "Lot corrected by quinn from “L-4711” to “L-4712”: Lot misread from the tag",
    ):
        assert said in human, said
    other = await capa.show(earlier)
    assert [(link["kind"], link["record_id"]) for link in other["linked"]] == [("recurred-as", record_id)]
    assert "recurred-as" in (await capa.ok("show", earlier, user="maria")).out


async def test_pending_plan_amendment_and_extensions_are_shown(capa: Capa) -> None:
    """An amendment awaiting quality and an extension asked for are on `capa show`; the amendment is decided with
    `capa decide-plan --return`, which needs its reason; the extension with `decide-extension --action`, after which
    the action shows its revised due and its original one."""
    record_id = await raise_current(capa)
    await capa.ok(
        "triage", record_id, "--severity-level", "2", "--occurrence-level", "1", "--decision", "capa", user="quinn"
    )
    await capa.ok("contain", record_id, "--summary", "Held", "--disposition", "quarantine", user="olivia")
    await capa.ok(
        "root-cause",
        record_id,
        "--method",
        "fishbone",
        "--cause",
        "Worn tool",
        "--category",
        "machine",
        "--escape-point",
        "Final inspection",
        "--non-detection-cause",
        "Edge not in the inspection plan",
        "--similar-checked",
        "None found",
        user="olivia",
    )
    await capa.ok("plan", record_id, "--action", "olivia:10d:Replace tool", "--criterion", CRITERION, user="olivia")
    shown = (await capa.ok("show", record_id, user="maria")).out
    assert "awaiting approval" in shown
    await capa.ok("decide-plan", record_id, "--approve", user="quinn")
    await capa.ok(
        "amend-plan",
        record_id,
        "--add",
        "owner=oscar,due=12d,description=Add a gauge",
        "--rescope",
        "A1=Replace the tool and its holder",
        "--reason",
        "The holder is worn too",
        user="olivia",
    )
    await capa.ok(
        "request-extension", record_id, "--action", "A1", "--until", "20d", "--reason", "Parts late", user="olivia"
    )
    shown = (await capa.ok("show", record_id, user="maria")).out
    assert "amendment, adding A2, re-scoping A1" in shown
    assert "A1 to " in shown
    assert "extension 1" in shown
    no_reason = await capa("decide-plan", record_id, "--return", user="quinn")
    assert_one_line_error(no_reason, 2, "--reason")
    await capa.ok("decide-plan", record_id, "--return", "--reason", "Gauge belongs to another CAPA", user="quinn")
    await capa.ok("decide-extension", record_id, "--approve", "--action", "A1", user="mike")
    decided = await capa.show(record_id)
    assert decided["pending_extensions"] == []
    a1 = decided["actions"][0]
    assert a1["due_at"] != a1["original_due_at"]
    # The revised due in the actions table, the original one under it.
    assert "was " in (await capa.ok("show", record_id, user="maria")).out


async def test_process_prints_who_does_what_and_the_risk_matrix(capa: Capa) -> None:
    """`capa process` prints the table of who does what, the matrix with each level's wording and the defect
    codes."""
    out = (await capa.ok("process", user="maria")).out
    for said in ("Who does what", "triage", "quality", "Risk matrix", "S5", "O5", "critical", "isolated", "SURF"):
        assert said in out, said
    data = (await capa.ok("process", "--json", user="maria")).json()
    assert data["rules"] == CURRENT_RULES
    assert data["matrix"][3][1] == "major"


async def test_careless_input_is_named_by_its_option(capa: Capa) -> None:
    """A level out of range, an unknown decision, a malformed --criterion or --criterion-result, a bad --split or
    --link, and a missing reason: each refused with exit 2 and one line naming the option; nothing changes."""
    record_id = await raise_current(capa)
    before = await capa.show(record_id)
    assert "major (provisional, until quality's triage)" in (await capa.ok("show", record_id, user="maria")).out
    triage = ("triage", record_id, "--occurrence-level", "2", "--decision", "capa")
    level = await capa(*triage, "--severity-level", "7", user="quinn")
    assert_one_line_error(level, 2, "--severity-level", "less than or equal to 5")
    not_a_number = await capa(*triage, "--severity-level", "high", user="quinn")
    assert_one_line_error(not_a_number, 2, "--severity-level", "valid integer")
    decision = await capa(
        "triage", record_id, "--severity-level", "2", "--occurrence-level", "2", "--decision", "maybe", user="quinn"
    )
    assert_one_line_error(decision, 2, "--decision", "maybe")
    malformed = await capa(
        "plan", record_id, "--action", "olivia:10d:Fix", "--criterion", "measure=rejects", user="olivia"
    )
    assert_one_line_error(malformed, 2, "--criterion 'measure=rejects'", "baseline, threshold, source missing")
    no_window = await capa(
        "plan", record_id, "--action", "olivia:10d:Fix", "--criterion", CRITERION.replace(",days=30", ""), user="olivia"
    )
    assert_one_line_error(no_window, 2, "--criterion", "days=N, lots=N or units=N")
    result = await capa(
        "review", record_id, "--result", "effective", "--evidence", "x", "--criterion-result", "first=yes", user="quinn"
    )
    assert_one_line_error(result, 2, "--criterion-result 'first=yes'", "N=met:DATA")
    split = await capa("contain", record_id, "--summary", "Held", "--split", "burn=3", user="olivia")
    assert_one_line_error(split, 2, "--split 'burn=3'", "not a disposition")
    link = await capa("link", record_id, "--kind", "sibling-of", "--to", "NC-2026-0001", user="olivia")
    assert_one_line_error(link, 2, "--kind", "sibling-of")
    bad_link = await capa(
        "raise",
        "--title",
        "t",
        "--description",
        "d",
        "--severity",
        "minor",
        "--source",
        "inspection",
        "--owner",
        "olivia",
        "--link",
        "recurrence-of",
        user="otto",
    )
    assert_one_line_error(bad_link, 2, "--link 'recurrence-of'", "KIND=ID")
    no_reason = await capa("amend", record_id, "--field", "lot", "--value", "L-1", user="quinn")
    assert_one_line_error(no_reason, 2, "--reason")
    neither = await capa("amend", record_id, "--field", "lot", "--reason", "typo", user="quinn")
    assert_one_line_error(neither, 2, "--value", "--clear")
    field = await capa("amend", record_id, "--field", "owner", "--value", "x", "--reason", "typo", user="quinn")
    assert_one_line_error(field, 2, "--field", "owner")
    code = await capa(
        "raise",
        "--title",
        "t",
        "--description",
        "d",
        "--severity",
        "minor",
        "--source",
        "inspection",
        "--owner",
        "olivia",
        "--defect-code",
        "NOPE",
        user="otto",
    )
    assert_one_line_error(code, 2, "--defect-code", "NOPE is not a defect code")
    assert await capa.show(record_id) == before


async def test_only_quality_triages_and_a_correction_needs_its_rationale(capa: Capa) -> None:
    """A manager may not triage (exit 1, naming quality); correction-only without a rationale is refused naming
    --rationale; with one, quality's triage is signed and the record shows it."""
    record_id = await raise_current(capa)
    manager = await capa(
        "triage",
        record_id,
        "--severity-level",
        "1",
        "--occurrence-level",
        "1",
        "--decision",
        "correction-only",
        "--rationale",
        "Cosmetic",
        user="maria",
    )
    assert_one_line_error(manager, 1, "maria may not", "quality")
    bare = await capa(
        "triage",
        record_id,
        "--severity-level",
        "1",
        "--occurrence-level",
        "1",
        "--decision",
        "correction-only",
        user="quinn",
    )
    assert_one_line_error(bare, 2, "--rationale")
    await capa.ok(
        "triage",
        record_id,
        "--severity-level",
        "1",
        "--occurrence-level",
        "1",
        "--decision",
        "correction-only",
        "--rationale",
        "Cosmetic, one part",
        user="quinn",
    )
    shown = await capa.show(record_id)
    assert shown["triage"]["decision"] == "correction-only"
    assert shown["severity"] == "minor"
    assert shown["provisional_severity"] == "major"
    assert "minor (raised as major)" in (await capa.ok("show", record_id, user="maria")).out


async def test_rework_needs_quality_concession(capa: Capa) -> None:
    """Product split between rework and scrap, some shipped: `capa show` says a concession is needed until quality
    grants it with `capa concede`, then shows who granted it and why; shipped product needs the customers' notice."""
    record_id = await raise_current(capa)
    containment = ("contain", record_id, "--summary", "Sorted", "--split", "rework=80", "--split", "scrap=40")
    untold = await capa(*containment, "--shipped", "12", user="olivia")
    assert_one_line_error(untold, 2, "--customers-told", "say whether customers were told")
    await capa.ok(*containment, "--shipped", "12", "--customers-told", user="olivia")
    shown = (await capa.ok("show", record_id, user="maria")).out
    assert "rework 80, scrap 40" in shown
    assert "12, customers told" in shown
    assert "needed from quality" in shown
    by_manager = await capa("concede", record_id, "--justification", "Rework per WI-12", user="maria")
    assert_one_line_error(by_manager, 1, "maria may not", "quality")
    await capa.ok("concede", record_id, "--justification", "Rework per WI-12 restores the edge", user="quinn")
    shown = (await capa.ok("show", record_id, user="maria")).out
    assert "Rework per WI-12 restores the edge" in shown
    assert "needed from quality" not in shown
    assert (await capa.show(record_id))["containment"]["concession"]["by"] == "quinn"


async def test_links_and_a_duplicate_cancelled_by_quality(capa: Capa) -> None:
    """`capa link` relates two records, each showing the link its own way; quality cancels a duplicate with its
    category and the record it duplicates; a cancellation without a category is refused naming --category."""
    first = await raise_current(capa)
    second = await raise_current(capa)
    linked = await capa.ok(
        "link", second, "--kind", "related", "--to", first, "--reason", "Same fixture", user="olivia"
    )
    assert f"linked: related {first}" in linked.out
    assert [(link["kind"], link["record_id"]) for link in (await capa.show(first))["linked"]] == [("related", second)]
    bare = await capa("cancel", second, "--reason", "Raised twice", user="quinn")
    assert_one_line_error(bare, 2, "--category")
    await capa.ok(
        "cancel", second, "--category", "duplicate", "--duplicate-of", first, "--reason", "Raised twice", user="quinn"
    )
    shown = await capa.show(second)
    assert (shown["stage"], shown["cancel_category"]) == ("cancelled", "duplicate")
    human = (await capa.ok("show", second, user="maria")).out
    assert "duplicate: Raised twice" in human
    assert f"as duplicate of {first}" in human


async def test_criteria_at_verification_and_an_inconclusive_review(capa: Capa) -> None:
    """A plan without criteria: verification must set them (refused naming --criterion, and --no-adverse-effect
    is asked for); an inconclusive review extends the window once, and the next review judges the criterion."""
    record_id = await raise_current(capa)
    await capa.ok(
        "triage", record_id, "--severity-level", "3", "--occurrence-level", "3", "--decision", "capa", user="quinn"
    )
    await capa.ok("contain", record_id, "--summary", "Held", "--disposition", "quarantine", user="olivia")
    await capa.ok(
        "root-cause",
        record_id,
        "--method",
        "is-is-not",
        "--cause",
        "Worn tool",
        "--category",
        "machine",
        "--escape-point",
        "Final inspection",
        "--non-detection-cause",
        "Edge not checked",
        "--similar-checked",
        "None found",
        user="olivia",
    )
    await capa.ok("plan", record_id, "--action", "olivia:10d:Replace tool", user="olivia")
    await capa.ok("decide-plan", record_id, "--approve", user="quinn")
    await capa.ok("complete-action", record_id, "A1", "--evidence", "WO-1", user="olivia")
    verify = ("verify", record_id, "--result", "pass", "--evidence", "Checked")
    unset = await capa(*verify, "--no-adverse-effect", "--adverse-effect-evidence", "Drawing met", user="maria")
    assert_one_line_error(unset, 2, "--criterion", "set the effectiveness criteria")
    unsaid = await capa(*verify, "--criterion", CRITERION, user="maria")
    assert_one_line_error(unsaid, 2, "--no-adverse-effect")
    await capa.ok(
        *verify,
        "--criterion",
        CRITERION,
        "--no-adverse-effect",
        "--adverse-effect-evidence",
        "Drawing met",
        user="maria",
    )

    async def reviews_due(count: int) -> bool:
        events = (await capa.show(record_id))["events"]
        return [event["kind"] for event in events].count("effectiveness_due") >= count

    await eventually(lambda: reviews_due(1))
    await capa.ok(
        "review",
        record_id,
        "--result",
        "inconclusive",
        "--evidence",
        "Only one lot so far",
        "--criterion-result",
        "1=not-met:one lot, 0.4 %",
        user="quinn",
    )
    shown = await capa.show(record_id)
    assert (shown["stage"], shown["window_extended"]) == ("effectiveness", True)
    await eventually(lambda: reviews_due(2))
    await capa.ok(
        "review",
        record_id,
        "--result",
        "effective",
        "--evidence",
        "Four lots",
        "--criterion-result",
        "1=met:four lots, 0.1 %",
        user="quinn",
    )
    assert (await capa.show(record_id))["stage"] == "closed"
