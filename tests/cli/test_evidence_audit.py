"""An auditor's sample, scripted: a record taken from raise to closed through ``capa`` by people who signed in with
``capa login``, with files on its containment and an action, its verification and review signed; then the report
an auditor files, the audit trail checked, one timeline row edited behind the product's back and caught, and no
password anywhere in the workflow's history or the logs of the run."""

import logging
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from pypdf import PdfReader
from sqlalchemy import text
from structlog.testing import capture_logs

from tests.cli.conftest import Capa, Run, eventually
from tests.files import samples
from tests.stack import PASSWORD

NEXT_YEAR = (datetime.now(UTC) + timedelta(days=365)).date().isoformat()


async def test_a_closed_record_stands_as_evidence(capa: Capa, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    photo = tmp_path / "quarantine-cage.png"
    photo.write_bytes(samples.png(8, 8))
    work_order = tmp_path / "work-order-WO-981.pdf"
    work_order.write_bytes(samples.pdf())
    runs: list[Run] = []

    async def ok(*args: str, user: str) -> Run:
        run = await capa(*args, user=user)
        runs.append(run)
        assert run.code == 0, f"capa {' '.join(args)} failed ({run.code}): {run.err}"
        return run

    with capture_logs() as entries:
        for person in ("otto", "olivia", "maria"):
            runs.append(await capa.login(person))
        record_id = await capa.raise_record(owner="olivia", user="otto")
        await ok("contain", record_id, "--summary", "Lot L42 quarantined", "--disposition", "quarantine", user="olivia")
        await ok("attach", record_id, str(photo), "--to", "containment", user="olivia")
        await ok(
            "root-cause",
            record_id,
            "--method",
            "five-whys",
            "--cause",
            "Deburring tool worn beyond its limit",
            "--why",
            "Burr left on the edge",
            "--why",
            "Tool life not tracked",
            "--category",
            "machine",
            user="olivia",
        )
        await ok("plan", record_id, "--action", f"olivia:{NEXT_YEAR}:Replace the deburring tool", user="olivia")
        await ok("complete-action", record_id, "A1", "--evidence", "Work order WO-981", user="olivia")
        await ok("attach", record_id, str(work_order), "--to", "A1", user="olivia")
        await ok("verify", record_id, "--result", "pass", "--evidence", "Audit of 50 parts", user="maria")

        async def review_due() -> bool:
            return "effectiveness_due" in [event["kind"] for event in (await capa.show(record_id))["events"]]

        await eventually(review_due)
        await ok("review", record_id, "--result", "effective", "--evidence", "No burrs in 3 lots", user="maria")
        report = tmp_path / "report.pdf"
        await ok("report", record_id, "--pdf", str(report), user="maria")
        verified = await capa.run("audit", "verify", record_id)
        runs.append(verified)

    shown: dict[str, Any] = await capa.show(record_id)
    assert shown["stage"] == "closed"
    signatures = [shown["verifications"][0]["signature"], shown["reviews"][0]["signature"]]
    assert [s["signer"] for s in signatures] == ["maria", "maria"]
    hashes = {ref["to"]: ref["sha256"] for ref in shown["files"]}
    assert set(hashes) == {"containment", "A1"}

    # The report an auditor files names every signature and every file by its hash.
    words = " ".join(" ".join(page.extract_text().split()) for page in PdfReader(report).pages)
    for signature in signatures:
        assert signature["printed"] in words
        assert "Signed by Maria Keller (maria)" in signature["printed"]
    for sha256 in hashes.values():
        assert sha256 in words.replace(" ", "")

    # The trail verifies as written ...
    assert verified.code == 0, verified.err
    assert record_id in verified.out

    # ... and an entry edited directly in the database is named.
    with capa.engine.begin() as connection:
        seq = connection.execute(
            text("SELECT seq FROM events WHERE record_id = :id AND kind = 'verified'"), {"id": record_id}
        ).scalar_one()
        connection.execute(
            text(
                "UPDATE events SET details = replace(details, 'Audit of 50 parts', 'Audit of 500 parts') "
                "WHERE record_id = :id AND seq = :seq"
            ),
            {"id": record_id, "seq": seq},
        )
    tampered = await capa.run("audit", "verify", record_id)
    assert tampered.code != 0
    [line] = tampered.err.strip().splitlines()
    assert line.startswith("error: "), line
    assert f"{record_id} entry {seq} (verified)" in line, line

    # No password in the workflow's history, the logs of the run or anything capa printed.
    history = await capa.env.client.get_workflow_handle(record_id).fetch_history()
    stored = b"".join(event.SerializeToString() for event in history.events)
    assert signatures[0]["content_sha256"].encode() in stored  # the search sees the signed steps' payloads
    assert PASSWORD.encode() not in stored
    printed = "".join(run.out + run.err for run in runs)
    assert PASSWORD not in repr(entries) + caplog.text + printed
