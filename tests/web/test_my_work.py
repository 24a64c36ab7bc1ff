""" "My work" in Chromium: each role finds the step a record waits for in their list right after the step that
created it, counted in the navigation, and the record page names who it waits for."""

import os
import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import pytest_asyncio
from playwright.async_api import Browser, Page, expect
from temporalio.testing import WorkflowEnvironment

from models.enums import Stage
from models.policy import CURRENT_RULES
from tests.policies import uniform_policy
from tests.stack import Stack, running_stack
from tests.web.chromium import PHONE, signed_in
from tests.web.pages import browser, eventually, record_id_of

# The current rules, quality approving every plan, and an effectiveness review due seconds after verification.
POLICY = uniform_policy(
    "web-my-work", remind_before=[], escalate_after=["1h"], effectiveness_after="3s", rules=CURRENT_RULES
).replace('effectiveness_review = "1h"\n', 'effectiveness_review = "1h"\nplan_approval = true\n')
# Where the page's screenshots go (a temporary folder unless named).
SHOTS = "CAPAFLOW_WEB_SCREENSHOTS"


@pytest_asyncio.fixture(scope="module")
async def stack(dev_server: WorkflowEnvironment, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Stack]:
    async with running_stack(dev_server, tmp_path_factory.mktemp("web-my-work"), policy=POLICY) as running:
        yield running


def _local(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M")


async def _listed(page: Page, record_id: str, label: str) -> None:
    """``page``'s person opens My work and finds ``label`` on ``record_id`` there."""
    await page.goto("/")
    row = page.locator("table.work tbody tr").filter(has=page.get_by_role("link", name=record_id, exact=True))
    await expect(row).to_have_count(1)
    await expect(row).to_contain_text(label)


async def _not_listed(page: Page, record_id: str) -> None:
    await page.goto("/")
    await expect(page.get_by_role("heading", name="My work")).to_be_visible()
    await expect(page.get_by_role("link", name=record_id, exact=True)).to_have_count(0)


async def test_each_role_finds_its_work_right_after_the_step_that_created_it(
    chromium: Browser, base_url: str, stack: Stack, tmp_path: Path
) -> None:
    """Quality finds the triage of a new record and the owner its containment; quality the plan's approval, each
    action owner their action; a manager of the requester's line the extension decision; a manager the
    verification after the last action (never the owner, who holds its deadline); quality the review once it
    falls due. The navigation counts the list, and the record page names who it waits for."""
    shots = Path(os.environ.get(SHOTS) or tmp_path)
    shots.mkdir(parents=True, exist_ok=True)
    _, quinn = await signed_in(chromium, base_url, "quinn")
    _, olivia = await signed_in(chromium, base_url, "olivia")
    _, oscar = await signed_in(chromium, base_url, "oscar")
    _, mike = await signed_in(chromium, base_url, "mike")

    async with browser(stack, "otto") as otto:
        record_id = record_id_of(await otto.raise_record(title="Scratch on cover plate", severity="major"))
    await _listed(quinn, record_id, "Triage")
    await expect(quinn.get_by_role("link", name=re.compile(r"^My work \(\d+\)$"))).to_be_visible()
    await _listed(olivia, record_id, "Contain")
    await _not_listed(mike, record_id)

    async with (
        browser(stack, "quinn") as quinn_forms,
        browser(stack, "olivia") as olivia_forms,
        browser(stack, "oscar") as oscar_forms,
        browser(stack, "mike") as mike_forms,
    ):
        triage = {"severity_level": "3", "occurrence_level": "2", "decision": "capa"}
        assert (await quinn_forms.step(record_id, "triage", **triage)).status_code == 303
        await _not_listed(quinn, record_id)
        contain = {"summary": "Plates quarantined", "disposition": "quarantine", "quantity": "40"}
        assert (await olivia_forms.step(record_id, "contain", **contain)).status_code == 303
        root_cause = {"method": "other", "category": "method", "cause": "Rack", "similar_checked": "None found"}
        assert (await olivia_forms.step(record_id, "root-cause", **root_cause)).status_code == 303
        plan = {
            "description-1": "Pad the racks",
            "owner-1": "oscar",
            "due-1": _local(datetime.now(UTC) + timedelta(days=3)),
            "kind-1": "corrective",
            "measure-1": "scratched covers",
            "baseline-1": "3 %",
            "threshold-1": "< 0.5 %",
            "data_source-1": "QC database",
            "window_lots-1": "5",
        }
        assert (await olivia_forms.step(record_id, "plan", **plan)).status_code == 303
        await _listed(quinn, record_id, "Approve the plan")
        await _listed(oscar, record_id, "Complete A1")
        assert (await quinn_forms.step(record_id, "decide-plan", decision="approve")).status_code == 303
        await _not_listed(quinn, record_id)

        until = _local(datetime.now(UTC) + timedelta(days=6))
        extension = {"action_id": "A1", "until": until, "reason": "Pads arrive next week"}
        assert (await oscar_forms.step(record_id, "request-extension", **extension)).status_code == 303
        await _listed(mike, record_id, "Decide the extension of A1")
        decided = await mike_forms.step(record_id, "decide-extension", action_id="A1", decision="approve")
        assert decided.status_code == 303, decided.text

        completed = await oscar_forms.step(record_id, "complete-action", action_id="A1", evidence="Racks padded")
        assert completed.status_code == 303, completed.text
        await _listed(mike, record_id, "Verify")
        await _not_listed(olivia, record_id)
        await _not_listed(oscar, record_id)
        await mike.screenshot(path=str(shots / "my-work.png"), full_page=True)
        await olivia.goto(f"/records/{record_id}")
        waiting = olivia.locator(".waiting li")
        await expect(waiting).to_have_count(1)
        await expect(waiting).to_contain_text("Verify: ")
        await expect(waiting).to_contain_text("Mike Brandt (mike)")
        await expect(waiting).not_to_contain_text("olivia")
        await expect(waiting).not_to_contain_text("oscar")

        phone_context, phone = await signed_in(chromium, base_url, "mike", viewport=PHONE)
        await phone.screenshot(path=str(shots / "phone-my-work.png"), full_page=True)
        await phone_context.close()

        verified = await mike_forms.step(
            record_id,
            "verify",
            result="pass",
            evidence="Racks checked",
            no_adverse_effect="on",
            adverse_effect_evidence="Plating unchanged",
        )
        assert verified.status_code == 303, verified.text

    async def review_listed() -> bool:
        await quinn.goto("/")
        row = quinn.locator("table.work tbody tr").filter(has=quinn.get_by_role("link", name=record_id, exact=True))
        return "Review effectiveness" in (await row.all_inner_texts() or [""])[0]

    state, _ = await stack.client.show_record(record_id)
    assert state.stage is Stage.EFFECTIVENESS
    await eventually(review_listed, "the review in quinn's My work once it falls due")
    await _not_listed(mike, record_id)
