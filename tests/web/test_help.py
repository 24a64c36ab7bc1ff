"""The help page for people (/help): the lifecycle, who does what (the rules module's table) and the policy in force,
reached from everyone's navigation; the API documentation link only in an admin's."""

import html
import re
from collections.abc import AsyncIterator
from importlib import resources

import pytest
import pytest_asyncio
from temporalio.testing import WorkflowEnvironment

from models.rules import WHO_DOES_WHAT
from tests.stack import Stack, running_stack
from tests.web.pages import POLICY, browser, record_id_of

# The bundled default policy: the current rules, different deadlines per class.
DEFAULT_POLICY = resources.files("models").joinpath("default_policy.toml").read_text(encoding="utf-8")


@pytest_asyncio.fixture(scope="module")
async def stack(dev_server: WorkflowEnvironment, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Stack]:
    async with running_stack(dev_server, tmp_path_factory.mktemp("web-help"), policy=DEFAULT_POLICY) as running:
        yield running


def _text(page: str) -> str:
    """What a reader sees: tags dropped, entities decoded, white space collapsed."""
    return re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", "", page)))


def _row(page: str, label: str) -> list[str]:
    """The cells of the policy table's row ``label``."""
    match = re.search(rf'<tr><th scope="row">{re.escape(label)}</th>(.*?)</tr>', page)
    assert match, f"no row {label!r}"
    return re.findall(r"<td>(.*?)</td>", match[1])


async def test_help_names_who_does_what_and_the_deadlines_of_each_class(stack: Stack) -> None:
    """Every row of the table of who does what is on the page, with whether it is signed and who may not; the
    policy table gives each class its deadlines, reminders, escalations and process rules; the risk matrix and
    its levels' wording are shown."""
    async with browser(stack, "olivia") as olivia:
        response = await olivia.get("/help")
    assert response.status_code == 200
    page, text = response.text, _text(response.text)
    assert "default-2026" in text
    for duty in WHO_DOES_WHAT:
        assert f"{duty.step[:1].upper()}{duty.step[1:]}: {duty.who}." in text, duty.step
    assert "Verification: a manager or quality. Signed. Not the owner, not anyone who implemented" in text
    assert "Triage (class, CAPA needed?, reportability): quality. Signed." in text
    assert "Raise: anyone signed in." in text
    assert re.search(r"<th scope=\"col\">critical</th><th scope=\"col\">major</th><th scope=\"col\">minor</th>", page)
    assert _row(page, "Containment") == ["1d", "3d", "7d"]
    assert _row(page, "Root cause") == ["7d", "14d", "30d"]
    assert _row(page, "Effectiveness review opens after") == ["30d", "60d", "90d"]
    assert _row(page, "Reminders before the due time") == ["12h, 2h", "2d, 12h", "5d, 1d"]
    assert _row(page, "Escalation up the line")[0] == "level 1: at the due time, level 2: 1d late, level 3: 3d late"
    assert _row(page, "Quality approves the plan") == ["yes", "yes", "no"]
    assert _row(page, "Extensions a line manager may approve") == ["1", "1", "2"]
    assert "Triage." in text
    assert 'id="matrix"' in page
    assert page.count('class="class-critical"') == 6
    assert "critical: safety, regulatory or field-action impact" in text
    assert "persistent: weekly or more" in text


async def test_everyone_has_help_in_the_navigation_and_only_admins_the_api(stack: Stack) -> None:
    """ "Help" leads every signed-in person to /help (marked as the current page there); "API" (the Swagger page at
    /docs) shows in an admin's navigation only."""
    for name, admin in (("otto", False), ("olivia", False), ("mike", False), ("quinn", False), ("ada", True)):
        async with browser(stack, name) as person:
            home = (await person.get("/")).text
            assert '<a href="/help">Help</a>' in home, name
            assert ('<a href="/docs">API</a>' in home) is admin, name
            assert ">Docs<" not in home
            help_page = (await person.get("/help")).text
            assert '<a href="/help" aria-current="page">Help</a>' in help_page


async def test_help_asks_for_a_sign_in(stack: Stack) -> None:
    async with browser(stack) as stranger:
        response = await stranger.get("/help")
    assert response.status_code == 401
    assert 'action="/login"' in response.text


async def test_help_under_the_earlier_rules_says_so_and_shows_no_triage(
    dev_server: WorkflowEnvironment, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """A site still on the earlier rules reads that a manager verifies, reviews and cancels; no triage, no matrix,
    and the policy table has the deadlines only."""
    workdir = tmp_path_factory.mktemp("web-help-earlier")
    async with running_stack(dev_server, workdir, policy=POLICY) as earlier, browser(earlier, "olivia") as olivia:
        response = await olivia.get("/help")
    page, text = response.text, _text(response.text)
    assert "earlier process rules" in text
    assert "a manager verifies, reviews effectiveness, decides extensions, reassigns and cancels" in text
    assert "Triage." not in text
    assert 'id="matrix"' not in page
    assert _row(page, "Containment") == ["1h", "1h", "1h"]
    assert "Quality approves the plan" not in text


async def test_the_record_page_says_how_its_deadlines_are_counted(stack: Stack) -> None:
    """A record raised at a site without a calendar counts in calendar time, and so does one raised at a site with a
    calendar under a policy that writes no window in working days (``tests/calendars`` covers one that does)."""
    async with browser(stack, "otto") as otto:
        before = record_id_of(await otto.raise_record())
        assert "Deadlinesin calendar time" in _text((await otto.get(f"/records/{before}")).text)
        [site] = [s.name for s in await stack.client.list_sites()][:1]
        toml = 'timezone = "UTC"\nhours = "08:00-16:00"\nholidays = [2026-12-07, 2026-12-24, 2026-12-25]\n'
        await stack.client.import_calendar(site, toml=toml, actor="ada")
        after = record_id_of(await otto.raise_record())
        text = _text((await otto.get(f"/records/{after}")).text)
    # The default policy writes no window in working days: the calendar is pinned, the deadlines run in calendar time.
    assert "Deadlinesin calendar time" in text
