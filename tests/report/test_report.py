"""The CAPA report's PDF, read back as text: every fact, signature, file hash and timeline entry of a record is
in it, printed as written, on pages numbered "page X of Y"."""

import tomllib
from datetime import UTC, datetime
from importlib.resources import files
from pathlib import Path

import pytest

from models.enums import Stage
from models.formatting import moment
from models.payloads import CapaState, Signature
from models.sentences import sentence
from report import render_pdf, report_content
from report.render import TEMPLATE
from tests.report.pdf import body, pages, text
from tests.report.samples import GENERATED_AT, NAMES, closed_record, sha

HOSTILE = '#panic("x") *bold* $x$ <lab> @ref _under_ `raw` \\ ] [ // /* {"} = heading'


def report_of(state: CapaState, **kwargs: str) -> bytes:
    content = report_content(state, names=NAMES, generated_by="ada", generated_at=GENERATED_AT, **kwargs)
    return render_pdf(content, at=GENERATED_AT)


@pytest.fixture(scope="module")
def closed() -> CapaState:
    return closed_record(actions=3)


@pytest.fixture(scope="module")
def closed_text(closed: CapaState) -> str:
    pdf = report_of(closed)
    assert pdf.startswith(b"%PDF-")
    return text(pdf)


def test_the_record_facts(closed_text: str) -> None:
    for fact in (
        "NC-2026-0042",
        "Burr on housing edge",
        "Line 3 housings show a burr on the top edge; found at final inspection.",
        "Severity major",
        "Found by inspection",
        "Raised 2026-02-02 08:15:00 UTC by Otto Berger (otto)",
        "Owner Olivia Novak (olivia)",
        "Product H-200",
        "Lot L-4711",
        "Quantity affected 120 pcs",
        "Stage closed",
        "Closed 2026-03-02 14:15:00 UTC",
    ):
        assert fact in closed_text


def test_containment_root_cause_and_actions(closed_text: str, closed: CapaState) -> None:
    assert "Lot L-4711 quarantined, 120 pcs" in closed_text
    assert "Disposition quarantine, 120 pcs" in closed_text
    assert "Deburring tool used beyond its change interval" in closed_text
    assert "1. Burr on edge 2. Deburring tool worn 3. No tool-life counter on station 3" in closed_text
    assert "Escape point Final inspection only samples 1 in 20" in closed_text
    for action in closed.actions:
        assert action.description in closed_text
        assert f"Evidence: {action.evidence}" in closed_text
        assert f"{NAMES[action.owner]} ({action.owner})" in closed_text


def test_verification_review_and_every_signature(closed_text: str) -> None:
    assert "Verification: pass 50 housings checked, no burr Mike Brennan (mike), 2026-02-22 08:15:00 UTC" in closed_text
    assert "Effectiveness review: effective No burr in 3 lots since" in closed_text
    for manifestation in (
        "Signed by Mike Brennan (mike), verified: actions implemented, 2026-02-22 08:15:00 UTC",
        "Signed by Maria Keller (maria), approved: effective, record closed, 2026-03-02 14:15:00 UTC",
    ):
        # Under its step, in the list of signatures, and on its timeline entry.
        assert closed_text.count(manifestation) == 3
    assert sha("maria approved: effective, record closed") in closed_text


def test_every_file_with_name_size_type_and_hash(closed_text: str) -> None:
    for name, media_type, size in (
        ("IMG_2231.jpg", "image/jpeg", "2.4 MB (2,483,117 bytes)"),
        ("tool-change-WO-5501.pdf", "application/pdf", "177.0 KB (181,204 bytes)"),
        ("inspection-50pcs.csv", "text/csv", "812 bytes"),
    ):
        assert f"{name} {media_type} {size}" in closed_text
        assert f"sha256 {sha(name)}" in closed_text
    assert "A1 tool-change-WO-5501.pdf" in closed_text


def test_the_whole_timeline_and_its_chain_head(closed_text: str, closed: CapaState) -> None:
    for event in closed.events:
        assert sentence(event) in closed_text
        assert f"{event.seq} {moment(event.at)}" in closed_text
        assert f"sha256 {event.hash}" in closed_text
    head = closed.chain_head
    assert head == closed.events[-1].hash
    assert f"Chain head (the hash of the last timeline entry, chained to every entry before it) {head}" in closed_text


def test_generated_at_and_by_on_every_page(closed: CapaState) -> None:
    shown = pages(report_of(closed))
    generated = "Generated at 2026-03-02 09:30:05 UTC by Ada Lovelace (ada)"
    for number, page in enumerate(shown, start=1):
        assert generated in page
        assert f"NC-2026-0042 page {number} of {len(shown)}" in page
        assert page.startswith("CAPA report NC-2026-0042")


def test_record_text_is_printed_as_written_never_as_markup() -> None:
    state = closed_record(actions=1, title=HOSTILE[:200])
    hostile = {
        "description": HOSTILE,
        "containment": state.containment.model_copy(update={"summary": HOSTILE}),  # type: ignore[union-attr]
        "actions": [state.actions[0].model_copy(update={"evidence": HOSTILE})],
        "root_causes": [state.root_causes[0].model_copy(update={"whys": [HOSTILE, '#import "/etc/passwd"']})],
    }
    shown = text(report_of(state.model_copy(update=hostile)))
    assert f"CAPA report NC-2026-0042 {HOSTILE[:50]}" not in shown  # the header holds the id and stage only
    assert shown.count(HOSTILE) >= 4  # title (twice: title block and first entry), description, summary, why
    assert f"Evidence: {HOSTILE}" in shown
    assert '#import "/etc/passwd"' in shown


def test_a_long_record_runs_onto_numbered_pages() -> None:
    state = closed_record(actions=30, entries=200)
    assert len(state.actions) == 30
    assert len(state.events) == 200
    pdf = report_of(state)
    shown = pages(pdf)
    total = len(shown)
    assert total >= 6
    for number, page in enumerate(shown, start=1):
        assert page.startswith("CAPA report NC-2026-0042")
        assert page.endswith(f"NC-2026-0042 page {number} of {total}")
    everything = body(pdf)
    for event in state.events:
        assert sentence(event) in everything
    for action in state.actions:
        assert f"Evidence: {action.evidence}" in everything
    # The timeline's heading row is repeated on each page it runs onto.
    assert sum("# Time By What happened" in page for page in shown) >= 3


def test_a_record_without_signatures_files_or_chain_reads_cleanly() -> None:
    state = closed_record(actions=1, chained=False)
    plain = state.model_copy(
        update={
            "verifications": [v.model_copy(update={"signature": None}) for v in state.verifications],
            "reviews": [r.model_copy(update={"signature": None}) for r in state.reviews],
            "files": [],
            "events": [
                e.model_copy(update={"details": e.details.model_copy(update={"signature": None})}) for e in state.events
            ],
        }
    )
    shown = text(report_of(plain))
    for absent in ("Signed by", "Signatures", "Evidence files", "sha256", "Chain head"):
        assert absent not in shown
    for event in plain.events:
        assert sentence(event) in shown


def test_an_open_record_says_what_is_not_recorded_yet() -> None:
    state = closed_record(actions=1)
    raised = state.model_copy(
        update={
            "stage": Stage.CONTAINMENT,
            "closed_at": None,
            "containment": None,
            "root_causes": [],
            "actions": [],
            "verifications": [],
            "reviews": [],
            "files": [],
            "events": state.events[:1],
        }
    )
    shown = text(report_of(raised, stale="its workflow did not answer (no worker)"))
    for missing in ("Containment", "Root cause", "Action plan", "Verification", "Effectiveness review"):
        assert f"{missing}: not recorded." in shown
    assert "Shown as last recorded: its workflow did not answer (no worker)." in shown


def test_the_template_ships_in_the_wheel() -> None:
    assert (files("report") / TEMPLATE).is_file()
    project = tomllib.loads((Path(__file__).parents[2] / "pyproject.toml").read_text())
    assert "report" in project["tool"]["setuptools"]["packages"]
    assert "*.typ" in project["tool"]["setuptools"]["package-data"]["report"]


def test_a_signature_that_states_its_manifestation_is_shown_as_it_says() -> None:
    state = closed_record(actions=1, chained=False)
    signed = Signature(
        signer="nina",
        full_name="Nina Roth",
        meaning="rejected: extension",
        signed_at=datetime(2026, 2, 10, 10, 0, tzinfo=UTC),
        content_sha256=sha("decision"),
    )
    state.verifications[0].signature = signed
    content = report_content(state, names=NAMES, generated_by="ada", generated_at=GENERATED_AT)
    said = "Signed by Nina Roth (nina), rejected: extension, 2026-02-10 10:00:00 UTC"
    assert content["verifications"][0]["signature"] == {"manifestation": said, "content_sha256": sha("decision")}
    assert said in [s["manifestation"] for s in content["signatures"]]
    assert said in text(render_pdf(content, at=GENERATED_AT))
