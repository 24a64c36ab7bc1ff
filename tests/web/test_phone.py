"""Every page of the web app on a 360 px phone in Chromium, without sideways scrolling: sign-in, my work, raise,
records, a record in each stage with the forms it offers there (as the person who takes them), the board, a problem
page and help. A page passes when the document is no wider than the window and no box on it scrolls sideways (the
lists of records and steps aside, which show as cards on a phone); a failure names what sticks out.

A new page joins by an entry in ``PHONE_PAGES``: its path (``{name}`` for a record prepared below), who looks at it
and what must show on it first.
"""

import os
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import pytest_asyncio
from playwright.async_api import Browser, BrowserContext, Page, expect
from temporalio.testing import WorkflowEnvironment

from models.policy import CURRENT_RULES
from tests.policies import uniform_policy
from tests.stack import Stack, running_stack
from tests.web.chromium import PHONE, signed_in
from tests.web.pages import browser, eventually, record_id_of

# The current rules (quality's triage, plan approval, concession and amendment forms), an effectiveness window of
# seconds so records reach their review; a minor record's containment is late after a second and escalated at once.
_UNIFORM = uniform_policy(
    "web-phone", remind_before=[], escalate_after=["0s", "1h"], effectiveness_after="2s", rules=CURRENT_RULES
).replace('effectiveness_review = "1h"\n', 'effectiveness_review = "1h"\nplan_approval = true\n')
_HEAD, _MINOR = _UNIFORM.split("[severity.minor]\n")
POLICY = _HEAD + "[severity.minor]\n" + _MINOR.replace('containment = "1h"', 'containment = "1s"', 1)
# Where each page's screenshot goes (a temporary folder unless named).
SHOTS = "CAPAFLOW_WEB_SCREENSHOTS"


@dataclass(frozen=True)
class PhonePage:
    """A page to open at 360 px: ``path`` (``{name}`` names a record of ``prepared_records``), the person looking
    (None: signed out) and a selector that must be visible before the width is measured."""

    name: str
    path: str
    who: str | None
    shows: str


PHONE_PAGES = [
    PhonePage("sign-in", "/login", None, "form[action='/login']"),
    PhonePage("my-work", "/", "olivia", "main h1"),
    PhonePage("raise", "/raise", "otto", "form[action='/raise']"),
    PhonePage("records", "/records", "olivia", "main table"),
    PhonePage("records-searched", "/records?q=burr&sort=title&direction=desc", "olivia", "main h1"),
    PhonePage("records-refused", "/records?raised_from=2026-03-05&raised_to=2026-03-01", "olivia", ".invalid"),
    PhonePage("board", "/board", "mike", "main h1"),
    PhonePage("board-team", "/board?team=1", "mike", "main h1"),
    PhonePage("notifications", "/notifications", "olivia", "main h1"),
    PhonePage("reports", "/reports", "quinn", "main h1"),
    PhonePage("reports-period", "/reports?since=2026-01-01&until=2026-12-31&severity=minor", "maria", "main h1"),
    PhonePage("problem", "/board", "olivia", "main .error"),
    PhonePage("help", "/help", "olivia", "#matrix"),
    PhonePage("procedure", "/procedure", "quinn", "main h1"),
    PhonePage("record-late", "/records/{late}", "olivia", ".badges .late-tag"),
    PhonePage("record-triage", "/records/{triage}", "quinn", "#form-triage"),
    PhonePage("record-containment", "/records/{containment}", "olivia", "#form-contain"),
    PhonePage("record-concession", "/records/{concession}", "quinn", "#form-concede"),
    PhonePage("record-root-cause", "/records/{root_cause}", "olivia", "#form-root-cause"),
    PhonePage("record-plan", "/records/{plan}", "olivia", "#form-plan"),
    PhonePage("record-plan-approval", "/records/{plan_approval}", "quinn", "#form-decide-plan"),
    PhonePage("record-action", "/records/{action}", "oscar", "#form-complete-action-A1"),
    PhonePage("record-extension", "/records/{extension}", "mike", "#form-decide-extension-A1"),
    PhonePage("record-verification", "/records/{verification}", "mike", "#form-verify"),
    PhonePage("record-effectiveness", "/records/{effectiveness}", "quinn", "#form-review"),
    PhonePage("record-closed", "/records/{closed}", "quinn", "#form-amend"),
    PhonePage("record-cancelled", "/records/{cancelled}", "olivia", ".stage-cancelled"),
]


def _local(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M")


@dataclass(frozen=True)
class Taken:
    """A step taken on the record page: who takes it, the step, its form (``form-<form>`` on the page) and what is
    filled in."""

    who: str
    step: str
    form: str
    fields: dict[str, str]


# The lifecycle of a major record under the current rules, one step after another.
LIFECYCLE: list[Taken] = [
    Taken("quinn", "triage", "triage", {"severity_level": "4", "occurrence_level": "2", "decision": "capa"}),
    Taken(
        "olivia",
        "contain",
        "contain",
        {"summary": "Lot L-4711 quarantined", "disposition": "quarantine", "quantity": "120"},
    ),
    Taken(
        "olivia",
        "root-cause",
        "root-cause",
        {
            "method": "five-whys",
            "category": "machine",
            "whys": "Burr\nTool worn\nNo tool-life counter",
            "cause": "No tool-life counter on the deburring station",
            "similar_checked": "Searched burr on housings: none earlier",
        },
    ),
    Taken(
        "olivia",
        "plan",
        "plan",
        {
            "description-1": "Add a tool-life counter to the deburring station",
            "owner-1": "oscar",
            "due-1": _local(datetime.now(UTC) + timedelta(days=5)),
            "measure-1": "housings with a burr at final inspection",
            "baseline-1": "3.2 %",
            "threshold-1": "< 0.5 %",
            "data_source-1": "QC database, line 3",
            "window_lots-1": "5",
        },
    ),
    Taken("quinn", "decide-plan", "decide-plan", {"decision": "approve"}),
    Taken("oscar", "complete-action", "complete-action-A1", {"action_id": "A1", "evidence": "Counter fitted"}),
    Taken(
        "mike",
        "verify",
        "verify",
        {
            "result": "pass",
            "evidence": "Counter checked on line 3",
            "adverse_effect_evidence": "Cycle time unchanged in 3 lots",
            "no_adverse_effect": "on",
        },
    ),
    Taken(
        "quinn",
        "review",
        "review",
        {
            "result": "effective",
            "evidence": "5 lots without a burr",
            "criterion-1": "1",
            "met-1": "true",
            "data-1": "0 of 2,000 housings with a burr in lots L-4712 to L-4716",
        },
    ),
]
# How many lifecycle steps each prepared record has been through.
STEPS_TAKEN = {
    "triage": 0,
    "containment": 1,
    "root_cause": 2,
    "plan": 3,
    "plan_approval": 4,
    "action": 5,
    "extension": 5,
    "verification": 6,
    "effectiveness": 7,
    "closed": 8,
}


@pytest_asyncio.fixture(scope="module")
async def stack(dev_server: WorkflowEnvironment, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Stack]:
    async with running_stack(dev_server, tmp_path_factory.mktemp("web-phone"), policy=POLICY) as running:
        yield running


async def _take(stack: Stack, record_id: str, taken: Taken) -> None:
    """The step taken on the record page, once the page offers its form to who takes it."""
    async with browser(stack, taken.who) as person:

        async def offered() -> bool:
            page = await person.get(f"/records/{record_id}")
            return f'id="form-{taken.form}"' in page.text

        await eventually(offered, f"{taken.form} offered to {taken.who} on {record_id}")
        response = await person.step(record_id, taken.step, **taken.fields)
        assert response.status_code == 303, response.text


@pytest_asyncio.fixture(scope="module")
async def prepared_records(stack: Stack) -> dict[str, str]:
    """A record at each point of the lifecycle whose page the phone opens, by name."""
    records: dict[str, str] = {}
    async with browser(stack, "otto") as otto:
        for name in [*STEPS_TAKEN, "concession", "cancelled"]:
            records[name] = record_id_of(await otto.raise_record(title=f"Burr on housing edge ({name})"))
        records["late"] = record_id_of(await otto.raise_record(title="Scratched cover plates", severity="minor"))
    for name, taken in STEPS_TAKEN.items():
        for step in LIFECYCLE[:taken]:
            await _take(stack, records[name], step)
    until = _local(datetime.now(UTC) + timedelta(days=9))
    extension = {"action_id": "A1", "until": until, "reason": "The counter's parts come next week"}
    await _take(stack, records["extension"], Taken("oscar", "request-extension", "request-extension", extension))
    concession = records["concession"]
    await _take(stack, concession, LIFECYCLE[0])
    shares = {"share-1": "quarantine", "share_quantity-1": "100", "share-2": "use-as-is", "share_quantity-2": "20"}
    await _take(stack, concession, Taken("olivia", "contain", "contain", {"summary": "Lot sorted", **shares}))
    cancel = {"category": "raised-in-error", "reason": "Raised on the wrong line"}
    await _take(stack, records["cancelled"], Taken("quinn", "cancel", "cancel", cancel))
    return records


OVERFLOW = """() => {
  const width = window.innerWidth;
  const wide = [];
  // Inside a box that scrolls or clips sideways, what sticks out of the window is that box's doing, not the page's.
  const clipped = element => {
    for (let up = element.parentElement; up && up !== document.body; up = up.parentElement) {
      if (getComputedStyle(up).overflowX !== "visible") return true;
    }
    return false;
  };
  for (const element of document.body.querySelectorAll("*")) {
    const box = element.getBoundingClientRect();
    if (box.width > 0 && box.right > width + 0.5 && !clipped(element)) {
      const classes = typeof element.className === "string" ? element.className.trim().split(/\\s+/) : [];
      const name = element.tagName.toLowerCase() + (element.id ? "#" + element.id : "")
        + classes.filter(Boolean).map(c => "." + c).join("");
      wide.push(`${name} (to ${Math.round(box.right)} px)`);
    }
  }
  // A box that scrolls sideways hides what it holds behind a swipe nobody is told about: only the lists, which
  // turn into cards on a phone, may hold more than fits.
  const swiped = [...document.body.querySelectorAll("*")].filter(element =>
    ["auto", "scroll"].includes(getComputedStyle(element).overflowX)
    && element.scrollWidth > element.clientWidth + 1
    && !element.querySelector("table.list")
  ).map(element =>
    `${element.tagName.toLowerCase()}.${element.className}: ${element.scrollWidth} px in ${element.clientWidth} px`
  );
  return {scroll: document.documentElement.scrollWidth, width, wide: wide.slice(0, 10), swiped};
}"""


class Phones:
    """A phone per person, signed in once (None: a phone nobody signed in on)."""

    def __init__(self, chromium: Browser, base_url: str) -> None:
        self._chromium = chromium
        self._base_url = base_url
        self._contexts: dict[str | None, BrowserContext] = {}

    async def page(self, who: str | None) -> Page:
        if who not in self._contexts:
            if who is None:
                self._contexts[who] = await self._chromium.new_context(base_url=self._base_url, viewport=PHONE)
            else:
                self._contexts[who], page = await signed_in(self._chromium, self._base_url, who, viewport=PHONE)
                await page.close()
        return await self._contexts[who].new_page()

    async def close(self) -> None:
        for context in self._contexts.values():
            await context.close()


@pytest_asyncio.fixture(scope="module")
async def phones(chromium: Browser, base_url: str) -> AsyncIterator[Phones]:
    phones = Phones(chromium, base_url)
    yield phones
    await phones.close()


@pytest.mark.parametrize("phone_page", PHONE_PAGES, ids=lambda page: page.name)
async def test_the_page_fits_a_phone_without_sideways_scrolling(
    phone_page: PhonePage, prepared_records: dict[str, str], phones: Phones, tmp_path: Path
) -> None:
    """At 360 px the page, with every form it offers its viewer, is no wider than the window."""
    page = await phones.page(phone_page.who)
    await page.goto(phone_page.path.format(**prepared_records))
    await expect(page.locator(phone_page.shows).first).to_be_visible()
    shots = Path(os.environ.get(SHOTS) or tmp_path)
    shots.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=str(shots / f"phone-{phone_page.name}.png"), full_page=True)
    measured = await page.evaluate(OVERFLOW)
    await page.close()
    assert measured["scroll"] <= measured["width"], (
        f"{phone_page.name} ({phone_page.path}) is {measured['scroll']} px wide on a {measured['width']} px phone;"
        f" sticking out: {', '.join(measured['wide'])}"
    )
    assert measured["swiped"] == [], f"{phone_page.name} ({phone_page.path}) hides content behind a sideways swipe"
