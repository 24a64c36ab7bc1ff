"""The web app's pages over HTTP: sign-in, sessions, CSRF, forms offered and refused, the board."""

import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from sqlmodel import Session, select
from temporalio.testing import WorkflowEnvironment

from api.app import SESSION_COOKIE
from core.accounts import FREE_FAILURES
from models.enums import Stage
from models.tables import SignInFailures
from tests.stack import PASSWORD, Stack, running_stack
from tests.web.pages import Browser, browser, eventually, record_id_of

PAGES = ("/", "/raise", "/records", "/board", "/help")
SIGN_IN_FORM = 'action="/login"'


def _forms(page: httpx.Response) -> set[str]:
    """The steps whose forms a record page offers, by the last part of their action."""
    return set(re.findall(r'action="/records/NC-[\d-]+/([a-z-]+)"', page.text))


async def _raised(stack: Stack, title: str = "Burr on housing edge") -> str:
    async with browser(stack, "otto") as otto:
        return record_id_of(await otto.raise_record(title=title))


async def _count(stack: Stack) -> int:
    return await stack.client.count_records()


async def test_signing_in_leads_to_the_local_page_asked_for(stack: Stack) -> None:
    """A good sign-in redirects (303) to ``next`` when it is a path here, and to / when it points elsewhere."""
    async with browser(stack) as person:
        await person.get("/login", next="/records")
        response = await person.post("/login", {"name": "mike", "password": PASSWORD, "next": "/records"})
        assert (response.status_code, response.headers["location"]) == (303, "/records")
        home = await person.get("/")
        assert home.status_code == 200
        assert "<strong>Mike Brandt (mike)</strong> · manager" in home.text
    for foreign in ("https://evil.example/", "//evil.example/x", "/\\evil.example"):
        async with browser(stack) as person:
            await person.get("/login")
            response = await person.post("/login", {"name": "mike", "password": PASSWORD, "next": foreign})
            assert response.headers["location"] == "/"


async def test_a_wrong_password_is_refused_with_401_and_no_session(stack: Stack) -> None:
    """The message does not say whether the name exists, the password is not echoed, and no page opens."""
    async with browser(stack) as person:
        response = await person.sign_in("oscar", "not-oscars-password")
        assert response.status_code == 401
        assert "wrong user name or password" in response.text
        assert "not-oscars-password" not in response.text
        assert (await person.get("/")).status_code == 401


async def test_repeated_failed_sign_ins_are_slowed_down(stack: Stack) -> None:
    """After the free failures, the next attempt, even with the right password, waits: 429 with Retry-After."""
    async with browser(stack) as person:
        for _ in range(FREE_FAILURES):
            assert (await person.sign_in("nina", "guessed-password-1")).status_code == 401
        response = await person.sign_in("nina", PASSWORD)
        assert response.status_code == 429
        assert int(response.headers["retry-after"]) >= 1
        assert "too many failed sign-ins" in response.text
        assert (await person.get("/")).status_code == 401


async def test_every_page_answers_401_with_only_the_sign_in_form_when_signed_out(stack: Stack) -> None:
    """Without a live session no page, record or board shows anything but the sign-in form."""
    title = "Signed-out visitors must not see this title"
    record_id = await _raised(stack, title)
    async with browser(stack) as visitor:
        for path in (*PAGES, f"/records/{record_id}", "/records?stage=containment"):
            page = await visitor.get(path)
            assert page.status_code == 401, path
            assert SIGN_IN_FORM in page.text
            # The only trace of the page asked for is where to go after signing in.
            shown = re.sub(r'name="next" value="[^"]*"', "", page.text)
            assert title not in shown
            assert record_id not in shown
            assert "Sign out" not in shown
        login = await visitor.get(f"/records/{record_id}")
        assert f'name="next" value="/records/{record_id}"' in login.text
        refused = await visitor.post("/raise", {"title": "x", "description": "y", "severity": "minor"})
        assert refused.status_code == 401
        assert SIGN_IN_FORM in refused.text


async def test_a_session_cookie_from_before_sign_in_is_not_the_signed_in_one(stack: Stack) -> None:
    """Session fixation: a cookie planted in the browser (here otto's own) is replaced at sign-in, never promoted."""
    async with browser(stack, "otto") as attacker:
        planted = attacker.http.cookies[SESSION_COOKIE]
    async with browser(stack) as victim:
        victim.http.cookies.set(SESSION_COOKIE, planted, domain="testserver.local")
        await victim.get("/login")
        signed_in = await victim.post("/login", {"name": "mike", "password": PASSWORD})
        assert signed_in.status_code == 303
        fresh = signed_in.cookies[SESSION_COOKIE]
        assert fresh != planted
    async with browser(stack) as replay:
        replay.http.cookies.set(SESSION_COOKIE, planted, domain="testserver.local")
        page = await replay.get("/")
        assert "<strong>mike</strong>" not in page.text
        assert page.status_code == 401  # signing in again ended the session the planted cookie named
    async with browser(stack) as forger:
        forger.http.cookies.set(SESSION_COOKIE, "eyJzaWQiOiAiYWJjIn0=.forged.sig", domain="testserver.local")
        assert (await forger.get("/")).status_code == 401


async def test_signing_out_ends_the_session_on_the_server(stack: Stack) -> None:
    """After sign-out a copy of the old cookie opens nothing: the session is ended, not only forgotten."""
    async with browser(stack, "maria") as person:
        copied = person.http.cookies[SESSION_COOKIE]
        await person.get("/")
        response = await person.post("/logout", {})
        assert (response.status_code, response.headers["location"]) == (303, "/login")
        assert (await person.get("/")).status_code == 401
    async with browser(stack) as thief:
        thief.http.cookies.set(SESSION_COOKIE, copied, domain="testserver.local")
        assert (await thief.get("/")).status_code == 401


async def test_a_form_without_the_right_csrf_token_is_refused_and_changes_nothing(stack: Stack) -> None:
    """A raise posted with the session cookie but no token, or another token, is 403 and raises nothing."""
    form = {"title": "Forged", "description": "d", "severity": "minor", "source": "other", "owner": "olivia"}
    async with browser(stack, "otto") as otto:
        before = await _count(stack)
        missing = await otto.http.post("/raise", data=form)
        assert missing.status_code == 403
        async with browser(stack, "oscar") as other:
            others_token = other.http.cookies["csrftoken"]
        for token in ("wrong-token", others_token):
            wrong = await otto.http.post("/raise", data={**form, "csrftoken": token})
            assert wrong.status_code == 403
        logout = await otto.http.post("/logout", data={})
        assert logout.status_code == 403
        assert (await otto.get("/")).status_code == 200
        assert await _count(stack) == before


async def test_a_bad_raise_comes_back_with_the_message_beside_the_field(stack: Stack) -> None:
    """An empty title or a negative quantity: 422, the message under that input, the rest kept, nothing raised."""
    async with browser(stack, "otto") as otto:
        before = await _count(stack)
        empty = await otto.raise_record(title="")
        assert empty.status_code == 422
        assert re.search(r'id="raise-title-error"[^>]*>required<', empty.text)
        assert 'value="L-4711"' in empty.text
        negative = await otto.raise_record(quantity="-5")
        assert negative.status_code == 422
        assert re.search(r'id="raise-quantity-error"[^>]*>at least 0<', negative.text)
        operator_owner = await otto.raise_record(owner="otto")
        assert operator_owner.status_code == 422
        assert re.search(r'id="raise-owner-error"[^>]*>otto is an operator', operator_owner.text)
        # What the form refuses and what the directory refuses are named together.
        both = await otto.raise_record(title="", owner="otto")
        assert re.search(r'id="raise-title-error"[^>]*>required<', both.text)
        assert re.search(r'id="raise-owner-error"[^>]*>otto is an operator', both.text)
        assert "Not accepted (2 problems):" in both.text
        assert await _count(stack) == before


async def test_a_form_with_several_bad_fields_marks_each_and_sums_them_up_at_the_top(stack: Stack) -> None:
    """An empty title, a quantity of "ten" and no severity: each input says what is wrong, the top of the page
    lists all three by their labels, and nothing is raised."""
    async with browser(stack, "otto") as otto:
        before = await _count(stack)
        page = await otto.raise_record(title="", quantity="ten", severity="")
        assert page.status_code == 422
        assert re.search(r'id="raise-title-error"[^>]*>required<', page.text)
        assert re.search(r'id="raise-quantity-error"[^>]*>not a whole number<', page.text)
        assert re.search(r'id="raise-severity-error"[^>]*>required<', page.text)
        assert "Not accepted (3 problems):" in page.text
        for line in ("Title: required", "Severity: required", "Quantity affected: not a whole number"):
            assert f"<li>{line}</li>" in page.text
        assert await _count(stack) == before


async def test_a_plan_refusal_marks_the_row_of_each_action_at_fault(stack: Stack) -> None:
    """Rows 1 and 3 of the plan form filled (row 2 left empty), each with a due date in the past: both rows'
    due inputs are marked, each named by its place in the plan."""
    record_id = await _raised(stack)
    async with browser(stack, "olivia") as olivia:
        await olivia.step(record_id, "contain", summary="Sorted", disposition="quarantine")
        await olivia.step(record_id, "root-cause", method="other", cause="Worn tool")
        await _wait_for_stage(olivia, record_id, Stage.ACTION)
        past = _due(-1)
        rows = {"description-1": "Sort", "owner-1": "olivia", "due-1": past, "kind-1": "preventive"}
        rows |= {"description-3": "Replace", "owner-3": "oscar", "due-3": past, "kind-3": "corrective"}
        page = await olivia.step(record_id, "plan", **rows)
        assert page.status_code == 422
        assert re.search(r'id="plan-due-1-error"[^>]*>[^<]* is not in the future<', page.text)
        assert re.search(r'id="plan-due-3-error"[^>]*>[^<]* is not in the future<', page.text)
        assert "Not accepted (2 problems):" in page.text
        assert "<li>Due (1): " in page.text
        assert "<li>Due (2): " in page.text


async def test_a_raise_opens_the_record_page(stack: Stack) -> None:
    """A good raise redirects (303) to its record, which says it was raised and by whom."""
    async with browser(stack, "otto") as otto:
        response = await otto.raise_record(title="Scratched cover")
        record_id = record_id_of(response)
        page = await otto.get(f"/records/{record_id}")
        assert page.status_code == 200
        assert f"{record_id} raised; olivia owns it" in page.text
        assert "Scratched cover" in page.text
        assert "containment" in page.text


async def test_the_record_page_offers_a_step_only_to_who_may_take_it(stack: Stack) -> None:
    """Owner: containment; operator and another owner: nothing but attaching files, commenting and watching (anyone
    may); manager: containment, reassign and cancel; the link to the record's workflow in the Temporal UI is for
    administrators alone."""
    record_id = await _raised(stack)
    expected = {
        "olivia": {"contain", "request-extension", "request-pause", "files", "comment", "watch"},
        "otto": {"files", "comment", "watch"},
        "oscar": {"files", "comment", "watch"},
        "mike": {"contain", "reassign", "cancel", "files", "comment", "watch"},
    }
    workflow = f"{stack.settings.temporal_ui_url}/namespaces/default/workflows/{record_id}"
    for name, forms in expected.items():
        async with browser(stack, name) as person:
            page = await person.get(f"/records/{record_id}")
            assert page.status_code == 200
            assert _forms(page) == forms, name
            # The Temporal UI can end a workflow outside the record's rules: only administrators are sent there.
            assert f'href="{workflow}"' not in page.text, name
    async with browser(stack, "ada") as admin:
        assert f'href="{workflow}"' in (await admin.get(f"/records/{record_id}")).text


async def test_a_step_refused_by_the_workflow_shows_why(stack: Stack) -> None:
    """Otto posting containment anyway gets 403 and the workflow's reason; a missing summary is 422 inline."""
    record_id = await _raised(stack)
    async with browser(stack, "otto") as otto:
        refused = await otto.step(record_id, "contain", summary="Sorted", disposition="quarantine")
        assert refused.status_code == 403
        assert "otto may not submit containment" in refused.text
    async with browser(stack, "olivia") as olivia:
        empty = await olivia.step(record_id, "contain", summary="", disposition="quarantine")
        assert empty.status_code == 422
        assert re.search(r'id="contain-summary-error"[^>]*>required<', empty.text)
        unknown = await olivia.step(record_id, "contain", summary="Sorted", disposition="melt-down")
        assert unknown.status_code == 422
        assert 'id="contain-disposition-error"' in unknown.text
        state = await olivia.get(f"/records/{record_id}")
        assert "containment_submitted" not in state.text


def _due(days: float) -> str:
    return (datetime.now(UTC) + timedelta(days=days)).strftime("%Y-%m-%dT%H:%M")


async def _wait_for_stage(person: Browser, record_id: str, stage: Stage) -> None:
    async def reached() -> bool:
        return f"stage-{stage.value}" in (await person.get(f"/records/{record_id}")).text

    await eventually(reached, f"{record_id} in {stage.value}")


async def test_a_record_goes_from_raise_to_closed_through_the_pages_alone(stack: Stack) -> None:
    """Raise, contain, root cause, a two-action plan, completions, an extension, verification, review: closed."""
    async with browser(stack, "otto") as otto:
        record_id = record_id_of(await otto.raise_record())
    async with browser(stack, "olivia") as olivia:
        home = await olivia.get("/")
        assert record_id in home.text
        accepted = await olivia.step(record_id, "contain", summary="Lot quarantined", disposition="quarantine")
        assert (accepted.status_code, accepted.headers["location"]) == (303, f"/records/{record_id}")
        five_whys = await olivia.step(record_id, "root-cause", method="five-whys", whys="", cause="Worn tool")
        assert five_whys.status_code == 422
        assert 'id="root-cause-whys-error"' in five_whys.text
        await olivia.step(
            record_id,
            "root-cause",
            method="five-whys",
            whys="Burr on edge\nTool worn\nNo tool-life counter",
            category="machine",
            cause="Deburring tool used beyond its change interval",
        )
        past = await olivia.step(
            record_id, "plan", **{"description-1": "Replace tool", "owner-1": "oscar", "due-1": _due(-1)}
        )
        assert past.status_code == 422
        assert 'id="plan-due-1-error"' in past.text
        planned = await olivia.step(
            record_id,
            "plan",
            **{
                "description-1": "Replace the deburring tool",
                "owner-1": "oscar",
                "due-1": _due(7),
                "kind-1": "corrective",
                "description-3": "Add a tool-life counter",
                "owner-3": "olivia",
                "due-3": _due(14),
                "kind-3": "preventive",
            },
        )
        assert planned.status_code == 303
        page = await olivia.get(f"/records/{record_id}")
        assert _forms(page) == {"complete-action", "request-extension", "request-pause", "files", "comment", "watch"}
        extension = await olivia.step(record_id, "request-extension", action_id="A2", until=_due(20), reason="Parts")
        assert extension.status_code == 303
    async with browser(stack, "mike") as mike:
        assert "decide-extension" in _forms(await mike.get(f"/records/{record_id}"))
        assert (await mike.step(record_id, "decide-extension", decision="approve")).status_code == 303
    async with browser(stack, "oscar") as oscar:
        page = await oscar.get(f"/records/{record_id}")
        assert 'action="/records/' + record_id + '/complete-action"' in page.text
        assert (await oscar.step(record_id, "complete-action", action_id="A1", evidence="WO-5531")).status_code == 303
    async with browser(stack, "olivia") as olivia:
        assert (await olivia.step(record_id, "complete-action", action_id="A2", evidence="WO-5532")).status_code == 303
    async with browser(stack, "mike") as mike:
        await _wait_for_stage(mike, record_id, Stage.VERIFICATION)
        verified = await mike.step(record_id, "verify", result="pass", evidence="50 housings checked")
        assert verified.status_code == 303
        await _wait_for_stage(mike, record_id, Stage.EFFECTIVENESS)

        async def review_due() -> bool:
            return "review" in _forms(await mike.get(f"/records/{record_id}"))

        await eventually(review_due, "the effectiveness review falls due")
        reviewed = await mike.step(record_id, "review", result="effective", evidence="No burr in 3 lots")
        assert reviewed.status_code == 303
        closed = await mike.get(f"/records/{record_id}")
        assert "stage-closed" in closed.text
        assert _forms(closed) == set()
        for kind in ("containment_submitted", "plan_submitted", "extension_decided", "verified", "closed"):
            assert f"event-{kind}" in closed.text


async def test_the_overdue_board_is_for_managers(stack: Stack) -> None:
    """An operator or owner gets 403; a manager gets the board, which reloads itself."""
    for name in ("otto", "olivia"):
        async with browser(stack, name) as person:
            page = await person.get("/board")
            assert page.status_code == 403
            assert "for managers" in page.text
    async with browser(stack, "ada") as ada:
        board = await ada.get("/board")
        assert board.status_code == 200
        assert f'<meta http-equiv="refresh" content="{stack.settings.board_refresh}">' in board.text
        assert "Open records by age" in board.text
        # The age chart is drawn on the server by the charting library, as an SVG without script, its numbers
        # beside it as a table.
        assert '<img class="chart" src="/board/ages.svg"' in board.text
        chart = await ada.get("/board/ages.svg")
        assert chart.headers["content-type"] == "image/svg+xml"
        assert "<script" not in chart.text
        assert all(f">{age}<" in chart.text for age in ("&lt; 1 d", "1-7 d", "&gt; 90 d"))
    async with browser(stack, "olivia") as olivia:
        assert (await olivia.get("/board/ages.svg")).status_code == 403


@pytest.mark.parametrize("path", ["/", "/raise", "/records", "/board"])
async def test_pages_forbid_scripts_and_framing(stack: Stack, path: str) -> None:
    """Every page carries a content security policy that allows no script and no framing."""
    async with browser(stack, "ada") as ada:
        page = await ada.get(path)
        assert "script-src" not in page.headers["content-security-policy"]
        assert "default-src 'none'" in page.headers["content-security-policy"]
        assert "frame-ancestors 'none'" in page.headers["content-security-policy"]
        assert "<script" not in page.text


async def test_the_password_never_appears_in_a_response(stack: Stack) -> None:
    """Sign-in (good, bad and throttled), pages, a refused form: no body or header carries a password."""
    typed = "paul-typed-this-wrong"
    async with browser(stack) as person:
        await person.sign_in("paul", typed)
        await person.sign_in("paul", PASSWORD)
        for path in PAGES:
            await person.get(path)
        await person.raise_record(title="")
        await person.post("/logout", {})
        for response in person.responses:
            seen = response.text + str(response.headers)
            assert PASSWORD not in seen
            assert typed not in seen


async def test_a_record_whose_workflow_does_not_answer_is_shown_as_last_recorded_without_forms(
    dev_server: WorkflowEnvironment, tmp_path: Path
) -> None:
    """With no worker, the record page says it is shown as last recorded and offers no step (a step would only
    wait), only watching it, which asks nothing of the workflow; the API says the same in ``Capa-Shown-From``. With
    a worker it is live again and offers the steps."""
    async with running_stack(dev_server, tmp_path) as stack:
        record_id = await _raised(stack)
        async with browser(stack, "olivia") as olivia:
            live = await olivia.get(f"/records/{record_id}")
            assert "contain" in _forms(live)
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=stack.app), base_url="http://t") as http:
            answered = await http.get(f"/api/v1/records/{record_id}", headers=stack.bearer("olivia"))
            assert answered.headers["Capa-Shown-From"] == "workflow"
    # The worker has stopped: nothing answers for the record's workflow.
    async with browser(stack, "olivia") as olivia:
        stale = await olivia.get(f"/records/{record_id}")
    assert stale.status_code == 200
    assert "Shown as last recorded" in stale.text
    assert _forms(stale) == {"watch"}
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=stack.app), base_url="http://t") as http:
        recorded = await http.get(f"/api/v1/records/{record_id}", headers=stack.bearer("olivia"))
    assert recorded.status_code == 200
    assert recorded.headers["Capa-Shown-From"] == "read-model"
    assert recorded.json()["id"] == record_id


@pytest.mark.parametrize("page", ["²", "٣", "9" * 5000, "-1", "0", "x"])
async def test_a_page_number_that_is_no_page_shows_the_first(stack: Stack, page: str) -> None:
    """A page or row count that is not plain digits (a superscript two, Arabic digits, five thousand nines) shows
    the first page instead of failing."""
    record_id = await _raised(stack)
    async with browser(stack, "otto") as otto:
        listing = await otto.get("/records", page=page)
        assert listing.status_code == 200
        record = await otto.get(f"/records/{record_id}", plan_rows=page)
        assert record.status_code == 200


async def test_a_form_sent_as_multipart_is_refused_with_415_and_changes_nothing(stack: Stack) -> None:
    """The pages send url-encoded forms; a multipart post, signed in or not, is 415, not a server error."""
    async with browser(stack, "otto") as otto:
        before = await _count(stack)
        await otto.get("/raise")
        fields = {"csrftoken": otto.csrftoken(), "title": "Burr", "description": "x", "severity": "minor"}
        raised = await otto.http.post("/raise", files={"evidence": ("a.txt", b"x")}, data=fields)
        assert raised.status_code == 415
        login = await otto.http.post("/login", files={"name": ("n", b"otto")})
        assert login.status_code == 415
        assert await _count(stack) == before


async def test_a_body_over_the_limit_is_refused_before_it_is_read_whole(stack: Stack) -> None:
    """Two megabytes posted to the sign-in form, with or without a declared length: 413, nobody signed in."""
    async with browser(stack) as anonymous:
        large = {"name": "otto", "password": "x" * 2_000_000}
        declared = await anonymous.http.post("/login", data=large)
        assert declared.status_code == 413

        async def chunks() -> AsyncIterator[bytes]:
            for _ in range(40):
                yield b"p" * 50_000

        streamed = await anonymous.http.post(
            "/login", content=chunks(), headers={"Content-Type": "application/x-www-form-urlencoded"}
        )
        assert streamed.status_code == 413
        assert (await anonymous.get("/")).status_code == 401


async def test_a_bearer_header_does_not_switch_off_a_forms_csrf_check(stack: Stack) -> None:
    """A page post without its form's token is refused even when it carries ``Authorization: Bearer``, which the
    CSRF check would otherwise let through: pages sign in with their session, never with a token."""
    async with browser(stack, "otto") as otto:
        before = await _count(stack)
        fields = {"title": "Burr", "description": "x", "severity": "minor", "source": "process", "owner": "olivia"}
        forged = await otto.http.post("/raise", data=fields, headers={"Authorization": "Bearer anything"})
        assert forged.status_code == 403
        assert await _count(stack) == before


async def test_a_sign_in_with_a_name_no_one_can_have_is_refused_at_once_and_kept_nowhere(stack: Stack) -> None:
    """A name of ten thousand characters (or a password typed into the name field) is refused like a wrong
    password, but is neither echoed back nor kept as a failed name, so such posts cannot fill the database."""
    long_name = "n" * 10_000
    async with browser(stack) as anonymous:
        for name in (long_name, "Summer 2026!"):
            refused = await anonymous.sign_in(name)
            assert refused.status_code == 401
            assert "wrong user name or password" in refused.text
            assert name not in refused.text
    with Session(stack.engine) as session:
        kept = session.exec(select(SignInFailures.name)).all()
    assert long_name not in kept
    assert "Summer 2026!" not in kept
