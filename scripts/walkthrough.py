"""Walk a nonconformity from raise to closed through the web app alone, signed in as each demo user in turn.

Run it against a running ``make run`` started with the demo policy (deadlines of seconds):

    CAPA_POLICY_FILE=examples/demo-policy.toml make run
    .venv/bin/python scripts/walkthrough.py --screenshots docs/screenshots

Each person has a browser of their own (Debian's Chromium, ``/usr/bin/chromium``) and only fills in the pages:

    otto    raises NC-1 (Housing H-100, defect code SURF, owner olivia) and NC-2 (owner oscar); NC-2 is then left
            alone; then the same burr on lots L44 and L45 (NC-3, NC-4): the third of H-100 and SURF within 90 days
    quinn   finds NC-5, the CAPA the demo policy's sentinel (rule product-defect) opened, in her My work, raised by the
            system, its raise naming the rule and linking NC-1, NC-3 and NC-4, and opens Sentinels; then triages
            NC-1, signing it: severity level 4 by occurrence level 2 gives the class major, and a CAPA is needed
    olivia  contains NC-1 ("raised under SOP-QA-014 rev C") with a photo of the burr, finds its root cause (five
            whys, 6M category, escape point and why it was not detected, the similar nonconformities checked, NC-3
            and NC-4 ticked) and plans three actions, one for oscar and two for herself, the third a training (its
            course, otto and oscar its audience, 100 % to be trained; the plan names the affected document CL-3),
            with an effectiveness criterion
    quinn   approves the plan, signing it (a major record's plan waits for quality)
    oscar   completes his action; olivia records otto's and oscar's training, then completes her two actions
    mike    verifies (he implemented none), with no adverse effect and its evidence, signing with his password
    otto    raises NC-6 in NC-1's effectiveness window: housings of lot L41, made before the fix, returned by a
            customer with the same burr; olivia sees it on NC-1 as a recurrence_detected entry and in its
            effectiveness window, quinn as a recurrence on the sentinel's CAPA
    olivia  holding NC-6, asks to pause its containment while the customer ships the housings back; quinn approves
            the pause, signing it, and sees NC-6 paused, not late; olivia resumes it once the parts are in
    mike    watches NC-2 escalate on his overdue board to level 2
    quinn   reviews NC-1 as effective once its effectiveness window has passed: the form shows NC-6 counted beside
            the criterion, and her evidence says how she judged it (a lot made before the fix); the criterion met
            with its data, signing it: NC-1 is closed; she downloads its CAPA report
    ada     finds NC-1 closed and NC-2 still late in the records list, and NC-2 alone by searching for its lot
    olivia  opens Help: the lifecycle, who does what, the policy in force and the site's working-day calendar

With ``--screenshots DIR`` it writes docs/web.md's pictures there, at 1280 px: ``raise.png`` (the raise form
filled in), ``sentinels.png`` (quinn's Sentinels page with the linked CAPA), ``triage.png`` (quinn's triage form
filled in, the form alone), ``paused-record.png`` (NC-6 paused, as quinn sees it once she approved),
``record.png`` (NC-2 as its owner sees it once escalated), ``board.png`` (mike's board), ``closed-record.png``
(NC-1 closed as quinn sees it, with its photo, criterion, effectiveness window and signatures), ``records.png``
(ada's records list) and ``help.png`` (the help page), full page; and at 360 px ``phone-sentinels.png``,
``phone-paused-record.png``, ``phone-record.png``, ``phone-board.png``, ``phone-closed-record.png``,
``phone-records.png`` and ``phone-help.png``. It prints a line per step and exits 1 with one line saying what
went wrong.
"""

import argparse
import os
import re
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from playwright.sync_api import Browser, Locator, Page, ViewportSize, expect, sync_playwright
from playwright.sync_api import Error as PlaywrightError

from cli.devstack import DEMO_TIME_ZONE

CHROMIUM = "/usr/bin/chromium"
# The tour's evidence files: the containment's photo comes from here.
EVIDENCE = Path(__file__).resolve().parents[1] / "examples" / "evidence"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]
DESKTOP = ViewportSize(width=1280, height=900)
PHONE = ViewportSize(width=360, height=780)
# How long a page may take to show what a submitted form did (the workflow answers in well under a second).
STEP_TIMEOUT_MS = 15_000
# How long to wait for a deadline of the demo policy to pass (its longest window is two minutes).
WAIT_SECONDS = 240.0
POLL_SECONDS = 2.0
# The escalation level the late record shows on the board before the screenshots: level 2 is the owner's
# manager's manager (maria), 20 s after the containment deadline of a critical record under the demo policy.
BOARD_LEVEL = 2
# A containment due later than this after raising means the app is not running a seconds-scale policy.
DEMO_DUE_WITHIN = timedelta(minutes=10)
# Pages show times in the reader's zone, for the demo people the demo site's (`make run`: Europe/Berlin unless
# CAPA_SITE_TIME_ZONE says otherwise), with its abbreviation after the seconds.
SHOWN_TIME = "%Y-%m-%d %H:%M:%S"
SHOWN_ZONE = ZoneInfo(os.environ.get("CAPA_SITE_TIME_ZONE", DEMO_TIME_ZONE))
LOCAL_MINUTE = "%Y-%m-%dT%H:%M"
# The plan's effectiveness criterion, by its inputs' names on the plan form (row 1).
CRITERION = {
    "measure": "housings rejected for burr at final inspection",
    "baseline": "12 in lot L42 (6 %)",
    "threshold": "0 in 3 consecutive lots",
    "data_source": "QC database, line 3 final inspection",
    "window_lots": "3",
}
# The password field of a signed step's form: the person re-enters their password to sign it.
SIGNING_LABEL = "Your password (signs this step)"


class WalkError(Exception):
    """A step did not do what it should; the message says which and why, on one line."""


@dataclass(frozen=True)
class Raised:
    """What otto types into the raise form."""

    title: str
    description: str
    severity: str
    source: str
    owner: str
    product: str
    lot: str
    quantity: int
    defect_code: str
    customer: str = ""


BURR = Raised(
    title="Burr on housing edge, lot L42",
    description="Sharp burr along the top edge of housings from line 3, found at the end-of-line check.",
    severity="major",
    source="inspection",
    owner="olivia",
    product="Housing H-100",
    lot="L42",
    quantity=12,
    defect_code="SURF",
)
TORQUE = Raised(
    title="Wrong torque on M6 cover screws, station 4",
    description="Torque audit at station 4 found cover screws at 6 Nm instead of 9 Nm.",
    severity="critical",
    source="process",
    owner="oscar",
    product="Gearbox cover GC-7",
    lot="L43",
    quantity=40,
    defect_code="ASSY",
)
# The same burr on the next two lots of line 3: with NC-1 they are three of Housing H-100 and SURF, and the demo
# policy's sentinel (three within 90 days) opens one linked CAPA, raised by the system and owned by quinn.
MORE_BURRS = tuple(
    Raised(
        title=f"Burr on housing edge, lot {lot}",
        description=f"The same burr along the top edge, housings of lot {lot} from line 3, end-of-line check.",
        severity="major",
        source="inspection",
        owner="olivia",
        product=BURR.product,
        lot=lot,
        quantity=quantity,
        defect_code=BURR.defect_code,
    )
    for lot, quantity in (("L44", 9), ("L45", 5))
)
# Raised during NC-1's effectiveness window: the same product and defect code, but housings made before the tool-life
# counter was fitted, returned by a customer. The window records it on NC-1 (and the sentinel on its linked CAPA);
# quinn's review says how she judged it.
RETURNED = Raised(
    title="Burr on returned housings, lot L41",
    description="Customer return: 3 housings of lot L41, made on line 3 before the tool-life counter, burr on top.",
    severity="minor",
    source="customer-complaint",
    owner="olivia",
    product=BURR.product,
    lot="L41",
    quantity=3,
    defect_code=BURR.defect_code,
    customer="Nordwerk GmbH",
)
# The training action in olivia's plan (A3): its course, who must complete it (all of them).
TRAINING_COURSE = "TR-113 Tool-life counter and start-up check CL-3, line 3"
TRAINED = ("otto", "oscar")
# The demo policy's sentinel rule and the procedure revision it pins.
SENTINEL_RULE = "product-defect"
PROCEDURE = "raised under SOP-QA-014 rev C"


def say(started: float, message: str) -> None:
    sys.stdout.write(f"[{time.monotonic() - started:6.1f}s] {message}\n")
    sys.stdout.flush()


def one_line(text: str) -> str:
    return " ".join(text.split())


@contextmanager
def step(what: str) -> Iterator[None]:
    """Name the step in a browser's or a page check's failure, which says only what it expected."""
    try:
        yield
    except (PlaywrightError, AssertionError) as exc:
        lines = [line for line in str(exc).splitlines() if line.strip()]
        raise WalkError(f"{what}: {one_line(lines[0]) if lines else type(exc).__name__}") from exc


class Walk:
    """The people's browsers (one context each, signed in once) and the steps they take."""

    def __init__(self, browser: Browser, url: str, password: str, screenshots: Path | None) -> None:
        self.browser = browser
        self.url = url.rstrip("/")
        self.password = password
        self.screenshots = screenshots
        self.pages: dict[str, Page] = {}
        self.started = time.monotonic()

    def say(self, message: str) -> None:
        say(self.started, message)

    # --- people and pages -----------------------------------------------------------------------------------

    def person(self, name: str) -> Page:
        """``name``'s browser, signed in through the sign-in form the first time."""
        if name in self.pages:
            return self.pages[name]
        context = self.browser.new_context(base_url=self.url, viewport=DESKTOP)
        context.set_default_timeout(STEP_TIMEOUT_MS)
        page = context.new_page()
        page.goto("/")
        expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
        page.get_by_label("User name").fill(name)
        page.get_by_label("Password").fill(self.password)
        page.get_by_role("button", name="Sign in").click()
        refused = page.locator("p.error")
        if refused.count():
            raise WalkError(f"{name} cannot sign in: {one_line(refused.first.inner_text())}")
        expect(page.locator(".who")).to_contain_text(name)
        role = one_line(page.locator(".who span").inner_text()).rpartition(" ")[2]
        self.say(f"{name} signed in ({role})")
        self.pages[name] = page
        return page

    def open_record(self, page: Page, record_id: str, via: str) -> None:
        """Follow the record's link from ``via`` (My work ``/`` or the records list), as a person would."""
        page.goto(via)
        link = page.get_by_role("link", name=record_id, exact=True)
        if not link.count():
            where = "My work" if via == "/" else via
            raise WalkError(f"{record_id} is not listed on {where} for {self.name_of(page)}")
        link.first.click()
        expect(page.locator(".record-id")).to_have_text(record_id)

    def name_of(self, page: Page) -> str:
        return next(name for name, known in self.pages.items() if known is page)

    def submit(self, page: Page, form: Locator, button: str, done: str, stage: str) -> None:
        """Press the form's button; the record must say ``done`` and be in ``stage`` afterwards."""
        form.get_by_role("button", name=button, exact=True).click()
        page.wait_for_load_state()
        refusal = page.locator("p.error, p.field-error")
        if refusal.count():
            raise WalkError(f"{self.name_of(page)}: {button} not accepted: {one_line(refusal.first.inner_text())}")
        expect(page.get_by_role("status")).to_contain_text(done)
        expect(page.locator(".record-head .stage")).to_have_text(stage)

    def fact(self, page: Page, name: str) -> str:
        """The value of one of the record's facts (Owner, Due, Policy, ...)."""
        fact = page.locator(".facts > div").filter(has=page.locator("dt", has_text=re.compile(f"^{name}$")))
        if not fact.count():
            raise WalkError(f"the record page of {page.url} shows no {name!r}")
        return one_line(fact.locator("dd").inner_text())

    def shoot(self, page: Page, name: str, *, phone: bool = False) -> None:
        if self.screenshots is None:
            return
        path = self.screenshots / name
        # Thumbnails load lazily: bring each into view and wait for it, or a full-page picture shows empty frames.
        images = page.locator("img")
        for number in range(images.count()):
            image = images.nth(number)
            image.scroll_into_view_if_needed()
            expect(image).to_have_js_property("complete", True)
            if not image.evaluate("image => image.naturalWidth"):
                raise WalkError(f"{image.get_attribute('alt')} does not show on {page.url}")
        page.evaluate("window.scrollTo(0, 0)")
        if phone:
            page.set_viewport_size(PHONE)
            page.screenshot(path=path)
            page.set_viewport_size(DESKTOP)
        else:
            page.screenshot(path=path, full_page=True)
        self.say(f"wrote {path}")

    def wait_for(self, page: Page, what: str, ready: Locator) -> float:
        """Reload ``page`` until ``ready`` shows; the seconds it took."""
        since = time.monotonic()
        deadline = since + WAIT_SECONDS
        while not ready.count():
            if time.monotonic() >= deadline:
                raise WalkError(f"{what}: not within {WAIT_SECONDS:.0f}s")
            time.sleep(POLL_SECONDS)
            page.reload()
        return time.monotonic() - since

    # --- the steps ------------------------------------------------------------------------------------------

    def raise_record(self, raised: Raised, *, shot: str | None = None) -> str:
        otto = self.person("otto")
        otto.goto("/")
        otto.get_by_role("link", name="Raise", exact=True).click()
        otto.get_by_label("Title").fill(raised.title)
        otto.get_by_label("What happened").fill(raised.description)
        otto.get_by_label("Severity").select_option(raised.severity)
        otto.get_by_label("Found by").select_option(raised.source)
        otto.get_by_label("Owner").select_option(raised.owner)
        otto.get_by_label("Product").fill(raised.product)
        otto.get_by_label("Lot").fill(raised.lot)
        otto.get_by_label("Quantity affected").fill(str(raised.quantity))
        otto.get_by_label("Defect code").select_option(raised.defect_code)
        if raised.customer:
            otto.locator("#raise-customer").fill(raised.customer)
        if shot:
            otto.evaluate("document.activeElement.blur()")  # the picture shows the form, not a focus ring
            self.shoot(otto, shot)
        otto.get_by_role("button", name="Raise", exact=True).click()
        otto.wait_for_load_state()
        refusal = otto.locator("p.error, p.field-error")
        if refusal.count():
            raise WalkError(f"otto: the raise was not accepted: {one_line(refusal.first.inner_text())}")
        expect(otto).to_have_url(re.compile(r"/records/NC-\d{4}-\d{4,}$"))
        record_id = otto.url.rsplit("/", 1)[1]
        expect(otto.get_by_role("status")).to_contain_text(f"{record_id} raised")
        expect(otto.locator("form.step")).to_have_count(0)
        due = self.fact(otto, "Due")
        self.say(
            f"otto raised {record_id} “{raised.title}” ({raised.severity}, {raised.defect_code}, "
            f"owner {raised.owner}); contain by {due}"
        )
        due_at = datetime.strptime(due[: len("2026-01-01 00:00:00")], SHOWN_TIME).replace(tzinfo=SHOWN_ZONE)
        if due_at - datetime.now(UTC) > DEMO_DUE_WITHIN:
            raise WalkError(
                f"{record_id} follows policy {self.fact(otto, 'Policy')}, whose deadlines are too far off to watch; "
                "start the app with CAPA_POLICY_FILE=examples/demo-policy.toml make run"
            )
        return record_id

    def triage(self, record_id: str) -> None:
        """Quinn (quality) classes the record from its severity and occurrence levels and decides a CAPA is needed."""
        quinn = self.person("quinn")
        self.open_record(quinn, record_id, via="/")
        expect(quinn.locator("#form-triage")).to_contain_text("(provisional)")
        form = quinn.locator("#form-triage")
        form.locator("#triage-severity_level").select_option("4")
        form.locator("#triage-occurrence_level").select_option("2")
        form.locator("#triage-decision").select_option("capa")
        form.locator("#triage-rationale").fill("Sharp edge a fitter can cut a hand on; seen on one lot so far.")
        form.locator("#triage-customer_notification").check()
        form.get_by_label(SIGNING_LABEL).fill(self.password)
        if self.screenshots is not None:
            quinn.evaluate("document.activeElement.blur()")
            form.screenshot(path=self.screenshots / "triage.png")
            self.say(f"wrote {self.screenshots / 'triage.png'}")
        self.submit(quinn, form, "Submit triage", "Triage recorded", "containment")
        heading = one_line(quinn.locator("#triage-heading").inner_text())
        if heading != "Triage: major, capa":
            raise WalkError(f"{record_id} after triage at severity 4, occurrence 2 shows {heading!r}")
        self.say(f"quinn triaged {record_id}, signing it: severity 4 by occurrence 2 gives major, CAPA needed")

    def contain(self, record_id: str, others: list[str]) -> None:
        olivia = self.person("olivia")
        self.open_record(olivia, record_id, via="/")
        expect(olivia.locator("#raised-under")).to_contain_text(PROCEDURE)
        form = olivia.locator("#form-contain")
        form.get_by_label("What was done to control it").fill(
            "Lot L42 moved to the blocked-stock cage, 12 housings tagged; lots L44 and L45 "
            f"({' and '.join(others)}) held with it. Line 3 stock checked: no other lot affected."
        )
        form.locator("#contain-disposition").select_option("quarantine")
        form.locator("#contain-quantity").fill("12")
        form.locator("input[type=file]").set_input_files(str(EVIDENCE / "burr-photo.png"))
        self.submit(olivia, form, "Submit containment", "Containment recorded", "root cause")
        expect(olivia.locator("#files img")).to_be_visible()
        self.say(
            f"olivia contained {record_id} ({self.fact(olivia, 'Procedure')}): lot L42 quarantined, "
            "with a photo of the burr"
        )

    def root_cause(self, record_id: str, others: list[str]) -> None:
        olivia = self.person("olivia")
        form = olivia.locator("#form-root-cause")
        form.get_by_label("Method").select_option("five-whys")
        form.get_by_label("6M category").select_option("machine")
        form.get_by_label("Why-chain").fill(
            "The housings have a burr on the top edge\n"
            "The deburring tool no longer cuts cleanly\n"
            "The tool ran 3,000 parts past its change interval\n"
            "Nobody counts the parts a deburring tool has run on line 3"
        )
        form.get_by_label("Root cause", exact=True).fill(
            "Deburring tools on line 3 are changed by eye; without a tool-life counter a worn tool stays in use."
        )
        form.get_by_label("Escape point").fill("Deburring station 3.2; the in-process check samples 1 in 50")
        form.get_by_label("Why it was not detected").fill(
            "A 1-in-50 sample misses a tool that wears between samples; the burr is felt, not seen."
        )
        # The form lists the records sharing words with this one: she ticks the burrs on the later lots.
        labels = form.locator(".similar-list label")
        listed = [one_line(text).split(" ", 1)[0] for text in labels.all_inner_texts()]
        burrs = sorted(name for name in listed if name in others)
        for name in burrs:
            form.locator(f".similar-list input[value='{name}']").check()
        form.locator("#root-cause-similar_checked").fill(
            f"Searched burr, housing and deburring: {', '.join(listed) or 'nothing'} listed; "
            f"{' and '.join(burrs) or 'none'} the same burr on lots L44 and L45, same tool; no earlier burr. "
            "Lines 1 and 2 have tool-life counters; no burr."
        )
        self.submit(olivia, form, "Submit root cause", "Root cause recorded", "action")
        self.say(
            f"olivia found the root cause of {record_id}: no tool-life counter on line 3 "
            f"(the form listed {', '.join(listed) or 'no similar record'}; she ticked {', '.join(burrs) or 'none'})"
        )

    def plan(self, record_id: str) -> None:
        olivia = self.person("olivia")
        form = olivia.locator("#form-plan")
        today = datetime.now(SHOWN_ZONE).replace(second=0, microsecond=0)
        rows = (
            ("oscar", today + timedelta(days=7), "corrective", "Fit a tool-life counter to station 3.2"),
            ("olivia", today + timedelta(days=2), "preventive", "Add the deburring tool to the line 3 start-up check"),
            (
                "olivia",
                today + timedelta(days=3),
                "training",
                "Train line 3 on the tool-life counter and start-up check",
            ),
        )
        for number, (owner, due, kind, description) in enumerate(rows, start=1):
            form.locator(f"#plan-description-{number}").fill(description)
            form.locator(f"#plan-owner-{number}").select_option(owner)
            form.locator(f"#plan-due-{number}").fill(due.strftime(LOCAL_MINUTE))
            form.locator(f"#plan-kind-{number}").select_option(kind)
        # A3 is a QMS update: a training, its course, audience and threshold; the plan names the affected documents.
        form.locator("#plan-course-3").fill(TRAINING_COURSE)
        form.locator("#plan-audience-3").fill("\n".join(TRAINED))
        form.locator("#plan-threshold_percent-3").fill("100")
        form.locator("#plan-affected_documents").fill("CL-3 rev C (line 3 start-up check)")
        for name, value in CRITERION.items():
            form.locator(f"#plan-{name}-1").fill(value)
        self.submit(olivia, form, "Submit plan", "Action plan recorded", "action")
        expect(olivia.locator("body")).to_contain_text("awaits approval by quality")
        self.say(
            f"olivia planned {record_id}: A1 for oscar, A2 and the training A3 ({', '.join(TRAINED)}, 100 %) for "
            "herself, one criterion, CL-3 affected; it awaits quality"
        )

    def record_training(self, record_id: str, action_id: str) -> None:
        """The action's owner records who completed the course; verification waits for the threshold."""
        olivia = self.person("olivia")
        self.open_record(olivia, record_id, via="/")
        form = olivia.locator(f"#form-record-training-{action_id}")
        for number in range(1, len(TRAINED) + 1):
            form.locator(f"#record-training-{action_id}-people-{number}").check()
        self.submit(olivia, form, "Record training", "Training recorded", "action")
        progress = olivia.locator(".timeline .event-training_recorded strong").last
        self.say(f"olivia recorded the training of {action_id}: {one_line(progress.inner_text())}")

    def approve_plan(self, record_id: str) -> None:
        quinn = self.person("quinn")
        self.open_record(quinn, record_id, via="/")
        form = quinn.locator("#form-decide-plan")
        form.get_by_label(SIGNING_LABEL).fill(self.password)
        self.submit(quinn, form, "Approve plan", "Plan decision recorded", "action")
        self.say(f"quinn approved the plan of {record_id}, signing it")

    def complete_action(self, name: str, record_id: str, evidence: str, stage: str, action: str = "") -> None:
        page = self.person(name)
        self.open_record(page, record_id, via="/")
        forms = page.locator(
            f"form[id='form-complete-action-{action}']" if action else "form[id^='form-complete-action-']"
        )
        if forms.count() != 1:
            raise WalkError(f"{name} is offered {forms.count()} actions {action} to complete on {record_id}, not 1")
        action_id = (forms.get_attribute("id") or "").rpartition("-")[2]
        forms.get_by_label("Evidence").fill(evidence)
        self.submit(page, forms, f"Complete {action_id}", "Action completed", stage)
        self.say(f"{name} completed {action_id} of {record_id}; it is in {stage}")

    def verify(self, record_id: str) -> None:
        mike = self.person("mike")
        self.open_record(mike, record_id, via="/")
        form = mike.locator("#form-verify")
        form.locator("#verify-result").select_option("pass")
        form.locator("#verify-evidence").fill("50 housings of the next lot checked at final inspection: no burr.")
        form.locator("#verify-no_adverse_effect").check()
        form.locator("#verify-adverse_effect_evidence").fill(
            "Edge radius and housing fit unchanged on the same 50 housings; cycle time of station 3.2 unchanged."
        )
        form.get_by_label(SIGNING_LABEL).fill(self.password)
        self.submit(mike, form, "Submit verification", "Verification recorded", "effectiveness")
        self.say(
            f"mike verified {record_id}: pass, no adverse effect; "
            f"the review falls due at {self.fact(mike, 'Review falls due')}"
        )

    def watch_board(self, record_id: str) -> str:
        """Reload mike's board until the record shows at ``BOARD_LEVEL``, saying when it appears and climbs."""
        mike = self.person("mike")
        mike.goto("/")
        mike.get_by_role("link", name="Overdue board").click()
        expect(mike.get_by_role("heading", name="Overdue board")).to_be_visible()
        self.say(f"mike watches the overdue board for {record_id}")
        row = mike.locator("table.board tbody tr").filter(has=mike.get_by_role("link", name=record_id, exact=True))
        deadline = time.monotonic() + WAIT_SECONDS
        seen = ""
        while True:
            if row.count():
                level = one_line(row.locator(".level").inner_text())
                if level != seen:
                    late = one_line(row.locator(".late-tag").inner_text())
                    self.say(f"{record_id} on mike's board: {late}, escalation level {level}, held by {TORQUE.owner}")
                    seen = level
                if int(level.removeprefix("L")) >= BOARD_LEVEL:
                    return level
            if time.monotonic() >= deadline:
                raise WalkError(f"{record_id} did not reach L{BOARD_LEVEL} on mike's board within {WAIT_SECONDS:.0f}s")
            time.sleep(POLL_SECONDS)
            mike.reload()

    def shoot_escalated(self, record_id: str) -> None:
        if self.screenshots is None:
            return
        mike = self.person("mike")
        mike.reload()
        self.shoot(mike, "board.png")
        self.shoot(mike, "phone-board.png", phone=True)
        oscar = self.person("oscar")
        self.open_record(oscar, record_id, via="/")
        self.shoot(oscar, "record.png")
        self.shoot(oscar, "phone-record.png", phone=True)

    def review(self, record_id: str, returned: str) -> None:
        quinn = self.person("quinn")
        self.open_record(quinn, record_id, via="/records")
        self.say(f"quinn waits for the effectiveness review of {record_id} to fall due")
        waited = self.wait_for(quinn, f"the effectiveness review of {record_id}", quinn.locator("#form-review"))
        form = quinn.locator("#form-review")
        # The window's data beside the criterion: the returned lot was raised in the window.
        counted = form.locator(".window-data").first
        expect(counted).to_contain_text(returned)
        self.say(f"quinn's review form shows beside criterion 1: {one_line(counted.inner_text())}")
        form.locator("#review-result").select_option("effective")
        form.locator("#review-evidence").fill(
            "No burr on housings made since the tool-life counter: 3 lots, 600 housings, no rejects at final "
            f"inspection. {returned}, raised in the window, is lot L41, made before the counter was fitted "
            "(production record checked): judged not a recurrence of the cause; it is handled on its own record."
        )
        form.locator("#review-met-1").select_option("true")
        form.locator("#review-data-1").fill(
            f"0 of 600 housings rejected for burr in lots L46 to L48 (QC database); {returned} is pre-fix lot L41"
        )
        form.get_by_label(SIGNING_LABEL).fill(self.password)
        self.submit(quinn, form, "Submit review", "Effectiveness review recorded", "closed")
        expect(
            quinn.get_by_text("Signed by Quinn Rivera (quinn), approved: effective, record closed")
        ).not_to_have_count(0)
        expect(quinn.locator("section", has=quinn.locator("#criteria-heading"))).to_contain_text("met")
        self.say(f"quinn reviewed {record_id} as effective, criterion 1 met (waited {waited:.0f}s), signing it; closed")
        with quinn.expect_download() as download:
            quinn.get_by_role("link", name="Download report (PDF)").click()
        report = download.value.path()
        if not report.read_bytes().startswith(b"%PDF-"):
            raise WalkError(f"the report of {record_id} is not a PDF")
        self.say(f"quinn downloaded the CAPA report of {record_id} ({report.stat().st_size:,} bytes)")
        self.shoot(quinn, "closed-record.png")
        self.shoot(quinn, "phone-closed-record.png", phone=True)

    def find_sentinel_capa(self, triggered: list[str]) -> str:
        """Quinn finds the CAPA the sentinel opened in My work, opens it, then looks at the Sentinels page."""
        quinn = self.person("quinn")
        quinn.goto("/")
        row = quinn.locator("table.work tbody tr").filter(has_text=f"rule {SENTINEL_RULE}")
        self.wait_for(quinn, f"the CAPA of the rule {SENTINEL_RULE} in quinn's My work", row)
        capa = one_line(row.first.locator('td[data-label="Record"] a').first.inner_text())
        self.say(f"quinn finds {capa} in My work, raised by the system: “{one_line(row.first.inner_text())[:90]}…”")
        self.open_record(quinn, capa, via="/")
        expect(quinn.locator(".facts")).to_contain_text("system")
        raised = quinn.locator(".timeline .event-raised").first
        expect(raised).to_contain_text(SENTINEL_RULE)
        for record_id in triggered:
            expect(quinn.locator("body").get_by_role("link", name=record_id, exact=True).first).to_be_visible()
        self.say(f"{capa}'s raise names the rule {SENTINEL_RULE} and links {', '.join(triggered)}")
        quinn.get_by_role("link", name="Sentinels", exact=True).click()
        expect(quinn.get_by_role("heading", name="Recurrence sentinels")).to_be_visible()
        sentinel = quinn.locator("table.list tbody tr").filter(has=quinn.get_by_role("link", name=capa, exact=True))
        expect(sentinel).to_contain_text(SENTINEL_RULE)
        self.say(f"quinn opens Sentinels: {one_line(sentinel.first.inner_text())}")
        self.shoot(quinn, "sentinels.png")
        self.shoot(quinn, "phone-sentinels.png", phone=True)
        return capa

    def see_recurrence(self, record_id: str, capa: str, returned: str) -> None:
        """The raise in the window shows on NC-1 as a recurrence_detected entry, and on the sentinel's CAPA."""
        olivia = self.person("olivia")
        self.open_record(olivia, record_id, via="/records")
        entry = olivia.locator(".timeline .event-recurrence_detected").filter(has_text=returned)
        self.wait_for(olivia, f"the recurrence of {returned} on {record_id}", entry)
        self.say(f"olivia sees on {record_id}: {one_line(entry.first.locator('strong').inner_text())}")
        expect(olivia.locator("section", has=olivia.locator("#window-heading"))).to_contain_text(returned)
        quinn = self.person("quinn")
        self.open_record(quinn, capa, via="/records")
        entry = quinn.locator(".timeline .event-recurrence_detected").filter(has_text=returned)
        self.wait_for(quinn, f"the recurrence of {returned} on {capa}", entry)
        self.say(f"quinn sees {returned} recorded as a recurrence on {capa}")

    def pause(self, record_id: str) -> None:
        """The holder asks to pause the containment while the customer sends the parts back; quality approves it,
        signing; the record shows it paused, not late; once the parts are in, the holder resumes it."""
        olivia = self.person("olivia")
        self.open_record(olivia, record_id, via="/")
        form = olivia.locator("#form-request-pause")
        form.locator("#request-pause-waiting_on").select_option("customer")
        until = datetime.now(SHOWN_ZONE).replace(second=0, microsecond=0) + timedelta(days=2)
        form.locator("#request-pause-expected_until").fill(until.strftime(LOCAL_MINUTE))
        form.locator("#request-pause-reason").fill(
            "The customer ships the 3 returned housings back (RMA 5521); their containment is decided once they are in."
        )
        self.submit(olivia, form, "Request pause", "Pause requested", "containment")
        self.say(f"olivia, holding {record_id}, asks to pause its containment: waiting on the customer")
        quinn = self.person("quinn")
        self.open_record(quinn, record_id, via="/")
        form = quinn.locator("form[id^='form-decide-pause-']").first
        form.get_by_label(SIGNING_LABEL).fill(self.password)
        self.submit(quinn, form, "Approve", "Pause decided", "containment")
        tag = quinn.locator(".record-head .paused-tag")
        expect(tag).to_be_visible()
        self.say(f"quinn approved the pause of {record_id}, signing it: {one_line(tag.inner_text())}")
        self.shoot(quinn, "paused-record.png")
        self.shoot(quinn, "phone-paused-record.png", phone=True)
        self.open_record(olivia, record_id, via="/records")
        form = olivia.locator("#form-resume")
        form.locator("#resume-reason").fill("The 3 housings arrived from the customer today (RMA 5521).")
        self.submit(olivia, form, "Resume", "Clock resumed", "containment")
        self.say(f"olivia resumed {record_id} once the parts were in: contain by {self.fact(olivia, 'Due')}")

    def audit(self, closed: str, late: str) -> None:
        ada = self.person("ada")
        ada.goto("/")
        ada.get_by_role("link", name="Records", exact=True).click()
        for record_id, stage in ((closed, "closed"), (late, "containment")):
            row = ada.locator("table.list tbody tr").filter(has=ada.get_by_role("link", name=record_id, exact=True))
            expect(row.locator('td[data-label="Stage"]')).to_have_text(stage)
        level = one_line(
            ada.locator("table.list tbody tr")
            .filter(has=ada.get_by_role("link", name=late, exact=True))
            .locator(".level")
            .inner_text()
        )
        self.say(f"ada sees {closed} closed and {late} still in containment, level {level}")
        ada.get_by_role("searchbox", name="Search").fill(TORQUE.lot)
        ada.get_by_role("button", name="Search").click()
        expect(ada.locator("table.list tbody tr")).to_have_count(1)
        expect(ada.get_by_role("link", name=late, exact=True)).to_be_visible()
        self.say(f"ada searches the records for lot {TORQUE.lot}: {late} alone")
        ada.get_by_role("link", name="Records", exact=True).click()
        self.shoot(ada, "records.png")
        self.shoot(ada, "phone-records.png", phone=True)

    def read_help(self) -> None:
        olivia = self.person("olivia")
        olivia.goto("/")
        olivia.get_by_role("link", name="Help", exact=True).click()
        expect(olivia.get_by_role("heading", name="Who does what")).to_be_visible()
        calendar = olivia.locator("table.calendars tbody tr").first
        expect(calendar).to_contain_text("08:00-16:00")
        self.say(
            "olivia reads Help: the lifecycle, who does what, the policy in force and the site's calendar "
            f"({one_line(calendar.inner_text())})"
        )
        self.shoot(olivia, "help.png")
        self.shoot(olivia, "phone-help.png", phone=True)


def answering(browser: Browser, steps: Walk) -> None:
    """The web app answers its health check, or the walk stops saying how to start it."""
    try:
        answer = browser.new_page().goto(f"{steps.url}/healthz")
    except PlaywrightError as exc:
        reason = exc.message.splitlines()[0] if exc.message else type(exc).__name__
        raise WalkError(f"no web app at {steps.url} ({reason}); start it with `make run`") from exc
    if answer is None or not answer.ok:
        raise WalkError(f"{steps.url}/healthz answers {answer.status if answer else 'nothing'}; is `make run` up?")
    steps.say(f"capaflow answers at {steps.url}")


def actions(steps: Walk, main: str) -> None:
    """Oscar completes A1; olivia records the training of A3, then completes A2 and A3: verification is next."""
    with step(f"oscar completing his action on {main}"):
        steps.complete_action(
            "oscar", main, "Counter live on station 3.2, stops the line at 2,000 parts; CR-88.", "action"
        )
    with step(f"olivia recording the training of A3 on {main}"):
        steps.record_training(main, "A3")
    with step(f"olivia completing her actions on {main}"):
        steps.complete_action(
            "olivia", main, "Start-up check CL-3 rev. C released; shift leads trained, TR-112.", "action", "A2"
        )
        steps.complete_action(
            "olivia",
            main,
            "TR-113 held on line 3; otto and oscar trained, attendance list TR-113-01.",
            "verification",
            "A3",
        )


def walk(browser: Browser, args: argparse.Namespace) -> None:
    steps = Walk(browser, args.url, args.password, args.screenshots)
    answering(browser, steps)
    with step("otto raising the first record"):
        main = steps.raise_record(BURR, shot="raise.png")
    with step("otto raising the second record"):
        late = steps.raise_record(TORQUE)
    steps.say(f"{late} is left alone: nobody contains it")
    burrs = []
    for raised in MORE_BURRS:
        with step(f"otto raising the burr on lot {raised.lot}"):
            burrs.append(steps.raise_record(raised))
    with step(f"quinn finding the CAPA of the rule {SENTINEL_RULE}"):
        capa = steps.find_sentinel_capa([main, *burrs])
    with step(f"quinn triaging {main}"):
        steps.triage(main)
    with step(f"olivia containing {main}"):
        steps.contain(main, burrs)
    with step(f"olivia submitting the root cause of {main}"):
        steps.root_cause(main, burrs)
    with step(f"olivia planning {main}"):
        steps.plan(main)
    with step(f"quinn approving the plan of {main}"):
        steps.approve_plan(main)
    actions(steps, main)
    with step(f"mike verifying {main}"):
        steps.verify(main)
    with step(f"otto raising the returned lot {RETURNED.lot} in the effectiveness window of {main}"):
        returned = steps.raise_record(RETURNED)
    with step(f"the recurrence of {returned} on {main} and {capa}"):
        steps.see_recurrence(main, capa, returned)
    with step(f"the pause of {returned}"):
        steps.pause(returned)
    with step(f"mike watching {late} on the overdue board"):
        level = steps.watch_board(late)
    with step("taking the screenshots"):
        steps.shoot_escalated(late)
    with step(f"quinn reviewing {main}"):
        steps.review(main, returned)
    with step("ada looking through the records"):
        steps.audit(main, late)
    with step("olivia opening Help"):
        steps.read_help()
    steps.say(
        f"done: {main} went from raise to closed in the web app, {returned} recorded in its effectiveness window; "
        f"{late} reached {level} on the overdue board; the rule {SENTINEL_RULE} opened {capa}"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--url", default="http://127.0.0.1:8000", help="the running web app (default: %(default)s)")
    parser.add_argument("--password", default="capaflow-demo", help="the demo users' password (default: %(default)s)")
    parser.add_argument("--screenshots", type=Path, metavar="DIR", help="write docs/web.md's screenshots into DIR")
    parser.add_argument("--headed", action="store_true", help="show the browser windows, slowed down to watch")
    args = parser.parse_args(argv)
    if not Path(CHROMIUM).exists():
        sys.stderr.write(f"error: {CHROMIUM} is missing: apt-get install chromium\n")
        return 1
    if args.screenshots is not None:
        args.screenshots.mkdir(parents=True, exist_ok=True)
    expect.set_options(timeout=STEP_TIMEOUT_MS)
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(
                executable_path=CHROMIUM,
                headless=not args.headed,
                slow_mo=250 if args.headed else 0,
                args=CHROMIUM_ARGS,
            )
            try:
                walk(browser, args)
            finally:
                browser.close()
    except WalkError as exc:
        sys.stderr.write(f"error: {exc}\n")
        return 1
    except (PlaywrightError, AssertionError) as exc:
        lines = [line for line in str(exc).splitlines() if line.strip()]
        sys.stderr.write(f"error: {one_line(lines[0]) if lines else type(exc).__name__}\n")
        return 1
    except KeyboardInterrupt:
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
