"""The current CAPA process in the web app: quality's forms offered to quality only, a refused triage kept as
typed, and the whole lifecycle in Chromium from the raise to the effectiveness review by quality."""

import os
import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
import pytest_asyncio
from playwright.async_api import Browser, FloatRect, Page, expect
from temporalio.testing import WorkflowEnvironment

from models.enums import Stage
from models.policy import CURRENT_RULES
from tests.policies import uniform_policy
from tests.stack import PASSWORD, Stack, running_stack
from tests.web.chromium import PHONE, signed_in
from tests.web.pages import browser, eventually, record_id_of

# The current rules, quality approving every plan, and an effectiveness window of seconds.
POLICY = uniform_policy(
    "web-process", remind_before=[], escalate_after=["1h"], effectiveness_after="3s", rules=CURRENT_RULES
).replace('effectiveness_review = "1h"\n', 'effectiveness_review = "1h"\nplan_approval = true\n')
# Where the record page's screenshots go (a temporary folder unless named).
SHOTS = "CAPAFLOW_WEB_SCREENSHOTS"
# A password typed into a refused form: never shown again.
TYPED_PASSWORD = "typed-" + "secret-1"


@pytest_asyncio.fixture(scope="module")
async def stack(dev_server: WorkflowEnvironment, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Stack]:
    async with running_stack(dev_server, tmp_path_factory.mktemp("web-process"), policy=POLICY) as running:
        yield running


def _forms(page: httpx.Response) -> set[str]:
    """The steps whose forms a record page offers, by the last part of their action."""
    return set(re.findall(r'action="/records/NC-[\d-]+/([a-z-]+)"', page.text))


def _local(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M")


async def _stage(stack: Stack, record_id: str, stage: Stage) -> None:
    async def reached() -> bool:
        state, _ = await stack.client.show_record(record_id)
        return state.stage is stage

    await eventually(reached, f"{record_id} in {stage.value}")


async def test_quality_forms_are_offered_to_quality_and_verification_to_a_manager(stack: Stack) -> None:
    """Triage, amendment, concession and plan approval are offered to quinn (quality), not to mike (manager);
    verification is offered to mike, not to the owner."""
    async with browser(stack, "otto") as otto:
        record_id = record_id_of(await otto.raise_record(severity="minor"))
    async with browser(stack, "quinn") as quinn, browser(stack, "mike") as mike, browser(stack, "olivia") as olivia:
        quality_forms = _forms(await quinn.get(f"/records/{record_id}"))
        manager_forms = _forms(await mike.get(f"/records/{record_id}"))
        assert {"triage", "amend", "link", "cancel"} <= quality_forms
        assert not {"triage", "amend", "cancel"} & manager_forms
        page = await quinn.get(f"/records/{record_id}")
        assert "provisional: raised as minor" in page.text
        assert "Your password signs this step as" in page.text

        response = await quinn.step(
            record_id, "triage", severity_level="4", occurrence_level="3", decision="capa", rationale="Sharp edge"
        )
        assert response.status_code == 303, response.text
        response = await olivia.step(
            record_id,
            "contain",
            summary="Lot L-4711 sorted",
            **{"share-1": "quarantine", "share_quantity-1": "100", "share-2": "use-as-is", "share_quantity-2": "20"},
        )
        assert response.status_code == 303, response.text
        assert "concede" in _forms(await quinn.get(f"/records/{record_id}"))
        assert "concede" not in _forms(await mike.get(f"/records/{record_id}"))
        response = await quinn.step(record_id, "concede", justification="Burr below 0.1 mm on the 20 kept")
        assert response.status_code == 303, response.text
        page = await mike.get(f"/records/{record_id}")
        assert "Burr below 0.1 mm on the 20 kept" in page.text
        assert "quarantine 100 pcs, use as is 20 pcs" in page.text

        await _stage(stack, record_id, Stage.ROOT_CAUSE)
        response = await olivia.step(
            record_id,
            "root-cause",
            method="five-whys",
            category="machine",
            whys="Burr\nTool worn\nNo tool-life counter",
            cause="No tool-life counter on the deburring station",
            similar_checked="Searched burr on housings: none earlier",
        )
        assert response.status_code == 303, response.text
        due = _local(datetime.now(UTC) + timedelta(days=3))
        response = await olivia.step(
            record_id,
            "plan",
            **{"description-1": "Add a tool-life counter", "owner-1": "oscar", "due-1": due, "kind-1": "corrective"},
        )
        assert response.status_code == 303, response.text
        assert "decide-plan" in _forms(await quinn.get(f"/records/{record_id}"))
        assert "decide-plan" not in _forms(await mike.get(f"/records/{record_id}"))
        assert "awaits approval by quality" in (await mike.get(f"/records/{record_id}")).text
        response = await quinn.step(record_id, "decide-plan", decision="approve")
        assert response.status_code == 303, response.text
        async with browser(stack, "oscar") as oscar:
            response = await oscar.step(record_id, "complete-action", action_id="A1", evidence="Counter fitted")
            assert response.status_code == 303, response.text
        await _stage(stack, record_id, Stage.VERIFICATION)
        assert "verify" in _forms(await mike.get(f"/records/{record_id}"))
        assert "verify" not in _forms(await olivia.get(f"/records/{record_id}"))


async def test_a_refused_triage_marks_each_field_at_fault_and_keeps_what_was_typed(stack: Stack) -> None:
    """A triage without a severity level or a decision comes back with both marked, the occurrence chosen, the
    rationale and the flags ticked as sent, and the password not echoed."""
    async with browser(stack, "otto") as otto:
        record_id = record_id_of(await otto.raise_record())
    async with browser(stack, "quinn") as quinn:
        response = await quinn.step(
            record_id,
            "triage",
            occurrence_level="3",
            rationale="Seen twice this month",
            regulatory_report="on",
            password=TYPED_PASSWORD,
        )
        assert response.status_code == 422, response.text
        page = response.text
        assert re.search(r'id="triage-severity_level" name="severity_level" required aria-invalid="true"', page)
        assert re.search(r'id="triage-decision" name="decision" required aria-invalid="true"', page)
        assert '<option value="3" selected>' in page
        assert "Seen twice this month</textarea>" in page
        assert re.search(
            r'id="triage-regulatory_report" name="regulatory_report" type="checkbox" value="on" checked', page
        )
        assert not re.search(r'id="triage-field_action"[^>]* checked', page)
        assert TYPED_PASSWORD not in page
        state, _ = await stack.client.show_record(record_id)
        assert state.triage is None


async def _in_action(stack: Stack, title: str, owners: tuple[str, ...]) -> str:
    """A record raised, triaged, contained, its root cause found and its plan (one action per owner) approved."""
    async with browser(stack, "otto") as otto:
        record_id = record_id_of(await otto.raise_record(title=title, severity="minor"))
    async with browser(stack, "quinn") as quinn, browser(stack, "olivia") as olivia:
        steps = (
            (quinn, "triage", {"severity_level": "2", "occurrence_level": "2", "decision": "capa"}),
            (olivia, "contain", {"summary": "Lot sorted", "disposition": "quarantine", "quantity": "10"}),
            (
                olivia,
                "root-cause",
                {"method": "other", "category": "method", "cause": "No check", "similar_checked": "None found"},
            ),
        )
        for person, step, fields in steps:
            response = await person.step(record_id, step, **fields)
            assert response.status_code == 303, response.text
        due = _local(datetime.now(UTC) + timedelta(days=2))
        rows: dict[str, str] = {}
        for row, owner in enumerate(owners, 1):
            rows |= {f"description-{row}": f"Action of {owner}", f"owner-{row}": owner, f"due-{row}": due}
        assert (await olivia.step(record_id, "plan", **rows)).status_code == 303
        assert (await quinn.step(record_id, "decide-plan", decision="approve")).status_code == 303
    await _stage(stack, record_id, Stage.ACTION)
    return record_id


async def test_two_extension_requests_each_get_a_decision_form_and_the_original_due_stays_beside(
    stack: Stack,
) -> None:
    """Oscar and olivia each ask more time for their action: mike is offered one decision form per request, each
    naming its action; the approved one shows its new due with the original beside it."""
    record_id = await _in_action(stack, "Two late actions", ("oscar", "olivia"))
    until = _local(datetime.now(UTC) + timedelta(days=9))
    async with browser(stack, "oscar") as oscar, browser(stack, "olivia") as olivia:
        for person, action in ((oscar, "A1"), (olivia, "A2")):
            response = await person.step(
                record_id, "request-extension", action_id=action, until=until, reason="Parts late"
            )
            assert response.status_code == 303, response.text
    async with browser(stack, "mike") as mike:
        page = await mike.get(f"/records/{record_id}")
        assert "Extension requests pending (2)" in page.text
        assert 'id="form-decide-extension-A1"' in page.text
        assert 'id="form-decide-extension-A2"' in page.text
        response = await mike.step(record_id, "decide-extension", action_id="A2", decision="approve")
        assert response.status_code == 303, response.text
        page = await mike.get(f"/records/{record_id}")
        assert "Extension requests pending (1)" in page.text
        assert 'id="form-decide-extension-A2"' not in page.text
        assert re.search(r"\(originally [^)]+, extended\)", page.text)
        refused = await mike.step(record_id, "decide-extension", action_id="A1", decision="reject")
        assert refused.status_code == 422
        assert re.search(r'id="decide-extension-A1-reason"[^>]*aria-invalid="true"', refused.text)


async def test_a_plan_amended_after_approval_awaits_quality_again(stack: Stack) -> None:
    """Olivia adds an action and re-scopes A1 on the amendment form; the page says it awaits quality, and quinn,
    not mike, is offered its approval; approved, the record holds both actions, A1 re-scoped."""
    record_id = await _in_action(stack, "Plan to amend", ("oscar",))
    due = _local(datetime.now(UTC) + timedelta(days=4))
    async with browser(stack, "olivia") as olivia, browser(stack, "quinn") as quinn, browser(stack, "mike") as mike:
        page = await olivia.get(f"/records/{record_id}")
        assert 'name="rescope_action-1" value="A1"' in page.text
        response = await olivia.step(
            record_id,
            "amend-plan",
            reason="A fixture is needed too",
            **{
                "add-description-1": "Build a fixture",
                "add-owner-1": "olivia",
                "add-due-1": due,
                "rescope_action-1": "A1",
                "rescope-1": "Replace the tool and add a counter",
            },
        )
        assert response.status_code == 303, response.text
        assert "Plan amendment submitted by" in (await mike.get(f"/records/{record_id}")).text
        assert "decide-plan" not in _forms(await mike.get(f"/records/{record_id}"))
        assert "decide-plan" in _forms(await quinn.get(f"/records/{record_id}"))
        assert (await quinn.step(record_id, "decide-plan", decision="approve")).status_code == 303
    state, _ = await stack.client.show_record(record_id)
    assert [(a.id, a.description) for a in state.actions] == [
        ("A1", "Replace the tool and add a counter"),
        ("A2", "Build a fixture"),
    ]


async def test_a_link_set_at_raise_shows_on_both_records_and_root_cause_lists_similar_ones(stack: Stack) -> None:
    """A record raised as a recurrence of another (with a defect code) shows the link, the other shows it the
    other way; refused containment and root-cause forms mark the field at fault and keep what was ticked; the
    root-cause form lists the earlier record to tick as similar."""
    async with browser(stack, "otto") as otto:
        first = record_id_of(await otto.raise_record(title="Flaking paint on bracket B-7"))
        raise_page = await otto.get("/raise")
        assert "SURF (surface defect: burr, scratch, dent)" in raise_page.text
        second = record_id_of(
            await otto.raise_record(
                title="Flaking paint on bracket B-7 again",
                defect_code="SURF",
                **{"link_kind-1": "recurrence-of", "link_record-1": first},
            )
        )
        page = await otto.get(f"/records/{second}")
        assert re.search(rf'recurrence of <a href="/records/{first}">{first}</a>', page.text)
        assert "surface defect: burr, scratch, dent" in page.text
        page = await otto.get(f"/records/{first}")
        assert re.search(rf'<a href="/records/{second}">{second}</a>', page.text)
    async with browser(stack, "quinn") as quinn, browser(stack, "olivia") as olivia:
        triage = {"severity_level": "2", "occurrence_level": "2", "decision": "capa"}
        assert (await quinn.step(second, "triage", **triage)).status_code == 303
        # A finding of the process concerns product: "no product affected" is refused, marked and kept ticked.
        refused = await olivia.step(second, "contain", summary="Brackets sorted", no_product_affected="on")
        assert refused.status_code == 422, refused.text
        assert re.search(r'id="contain-no_product_affected"[^>]* checked aria-invalid="true"', refused.text)
        contain = {"summary": "Brackets sorted", "disposition": "quarantine", "quantity": "5"}
        assert (await olivia.step(second, "contain", **contain)).status_code == 303
        await _stage(stack, second, Stage.ROOT_CAUSE)
        page = await olivia.get(f"/records/{second}")
        assert re.search(rf'name="similar-1" type="checkbox" value="{first}"', page.text)
        refused = await olivia.step(
            second, "root-cause", method="other", cause="Primer skipped", **{"similar-1": first}
        )
        assert refused.status_code == 422, refused.text
        assert re.search(r'id="root-cause-category"[^>]*aria-invalid="true"', refused.text)
        assert re.search(rf'name="similar-1" type="checkbox" value="{first}"[^>]* checked', refused.text)
        response = await olivia.step(
            second,
            "root-cause",
            method="other",
            category="method",
            cause="Primer skipped",
            similar_checked="Searched flaking paint",
            **{"similar-1": first},
        )
        assert response.status_code == 303, response.text
        page = await olivia.get(f"/records/{second}")
        assert re.search(rf'Similar records: <a href="/records/{first}">', page.text)


async def _fill_in(page: Page, form: str, **fields: str) -> None:
    """Fill the inputs of ``form`` by their ids (``#<form>-<name>``), selects by their option's value."""
    for name, value in fields.items():
        field = page.locator(f"#{form}-{name}")
        if await field.evaluate("element => element.tagName") == "SELECT":
            await field.select_option(value)
        else:
            await field.fill(value)


async def _sign_and_send(page: Page, form: str, button: str) -> None:
    scope = page.locator(f"#form-{form}")
    await scope.locator('input[name="password"]').fill(PASSWORD)
    await scope.get_by_role("button", name=button).click()


# The top of a phone's full page, small enough to look at.
_TOP = FloatRect(x=0, y=0, width=PHONE["width"], height=1500)


async def _no_sideways_scroll(page: Page) -> None:
    width = await page.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"], f"the record page is {width} px wide on a {PHONE['width']} px phone"


async def test_the_current_lifecycle_end_to_end_in_chromium(
    chromium: Browser, base_url: str, stack: Stack, tmp_path: Path
) -> None:
    """Raise, triage by quinn, contain, root cause, plan with a criterion, plan approved by quinn, action
    completed, verified by mike, reviewed by quinn against the criterion: closed; the page fits a phone."""
    shots = Path(os.environ.get(SHOTS) or tmp_path)
    shots.mkdir(parents=True, exist_ok=True)
    otto_context, otto = await signed_in(chromium, base_url, "otto")
    await otto.get_by_role("link", name="Raise", exact=True).click()
    await _fill_in(
        otto,
        "raise",
        title="Scratch on cover plate",
        description="Cover plates of lot L-88 scratched at final inspection",
        severity="major",
        owner="olivia",
        product="Cover C-10",
        lot="L-88",
        quantity="40",
        supplier="Acme Plating",
    )
    await otto.get_by_role("button", name="Raise", exact=True).click()
    await expect(otto).to_have_url(re.compile(r"/records/NC-\d{4}-\d{4,}$"))
    record_id = otto.url.rsplit("/", 1)[1]
    await otto_context.close()

    # Quality's triage form, with the policy's matrix, fits a phone.
    phone_context, phone = await signed_in(chromium, base_url, "quinn", viewport=PHONE)
    await phone.goto(f"/records/{record_id}")
    await expect(phone.locator("#form-triage")).to_be_visible()
    await _no_sideways_scroll(phone)
    await phone.screenshot(path=str(shots / "process-triage-360.png"), full_page=True, clip=_TOP)
    await phone_context.close()

    quinn_context, quinn = await signed_in(chromium, base_url, "quinn")
    await quinn.goto(f"/records/{record_id}")
    await expect(quinn.locator("#form-triage")).to_contain_text("Severity level")
    await _fill_in(quinn, "triage", severity_level="4", occurrence_level="2", decision="capa")
    await quinn.locator("#triage-customer_notification").check()
    await _sign_and_send(quinn, "triage", "Submit triage")
    await expect(quinn.get_by_role("status")).to_contain_text("Triage recorded")
    await expect(quinn.locator("#triage-heading")).to_contain_text("capa")

    olivia_context, olivia = await signed_in(chromium, base_url, "olivia")
    await olivia.goto(f"/records/{record_id}")
    await _fill_in(olivia, "contain", summary="40 plates of L-88 quarantined", disposition="quarantine", quantity="40")
    await olivia.get_by_role("button", name="Submit containment").click()
    await expect(olivia.get_by_role("status")).to_contain_text("Containment recorded")
    await expect(olivia.locator(".stage")).to_have_text("root cause")
    await _fill_in(
        olivia,
        "root-cause",
        method="fishbone",
        category="material",
        cause="Plating rack scratches the plates",
        similar_checked="Searched scratch and cover: none earlier",
    )
    await olivia.get_by_role("button", name="Submit root cause").click()
    await expect(olivia.get_by_role("status")).to_contain_text("Root cause recorded")
    due = _local(datetime.now(UTC) + timedelta(days=5))
    await _fill_in(
        olivia,
        "plan",
        **{
            "description-1": "Pad the plating racks",
            "owner-1": "oscar",
            "due-1": due,
            "measure-1": "scratched covers at final inspection",
            "baseline-1": "3.2 %",
            "threshold-1": "< 0.5 %",
            "data_source-1": "QC database, line 2",
            "window_lots-1": "5",
        },
    )
    await olivia.get_by_role("button", name="Submit plan").click()
    await expect(olivia.get_by_role("status")).to_contain_text("Action plan recorded")
    await expect(olivia.locator("body")).to_contain_text("awaits approval by quality")

    await quinn.goto(f"/records/{record_id}")
    await _sign_and_send(quinn, "decide-plan", "Approve plan")
    await expect(quinn.get_by_role("status")).to_contain_text("Plan decision recorded")

    oscar_context, oscar = await signed_in(chromium, base_url, "oscar")
    await oscar.goto(f"/records/{record_id}")
    await oscar.locator("#complete-action-A1-evidence").fill("Racks padded, photo in the line log")
    await oscar.get_by_role("button", name="Complete A1").click()
    await expect(oscar.get_by_role("status")).to_contain_text("Action completed")
    await oscar_context.close()

    mike_context, mike = await signed_in(chromium, base_url, "mike")
    await mike.goto(f"/records/{record_id}")
    await _fill_in(
        mike,
        "verify",
        result="pass",
        evidence="Racks checked on line 2",
        adverse_effect_evidence="Plating thickness unchanged in 3 lots",
    )
    await mike.locator("#verify-no_adverse_effect").check()
    await _sign_and_send(mike, "verify", "Submit verification")
    await expect(mike.get_by_role("status")).to_contain_text("Verification recorded")
    await mike_context.close()

    await _stage(stack, record_id, Stage.EFFECTIVENESS)

    async def review_offered() -> bool:
        await quinn.goto(f"/records/{record_id}")
        return await quinn.locator("#form-review").count() == 1

    await eventually(review_offered, "the review offered to quinn")
    await _fill_in(quinn, "review", result="effective", evidence="5 lots without a scratch", **{"met-1": "true"})
    await quinn.locator("#review-data-1").fill("0 of 2,000 covers scratched in lots L-90 to L-94")
    await _sign_and_send(quinn, "review", "Submit review")
    await expect(quinn.get_by_role("status")).to_contain_text("closed")
    await expect(quinn.locator(".stage")).to_have_text("closed")
    await expect(quinn.locator("#criteria-heading")).to_be_visible()
    await expect(quinn.locator("section", has=quinn.locator("#criteria-heading"))).to_contain_text("met")
    await quinn.screenshot(path=str(shots / "process-record-1280.png"), full_page=True)
    await quinn_context.close()

    phone_context, phone = await signed_in(chromium, base_url, "olivia", viewport=PHONE)
    await phone.goto(f"/records/{record_id}")
    await _no_sideways_scroll(phone)
    await phone.screenshot(path=str(shots / "process-record-360.png"), full_page=True)
    await phone.screenshot(path=str(shots / "process-record-360-top.png"), full_page=True, clip=_TOP)
    await phone_context.close()
    await olivia_context.close()
