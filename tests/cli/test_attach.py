"""`capa attach`: evidence files on a step or an action through the HTTP API, shown by `capa show`."""

import hashlib
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio
from temporalio.testing import WorkflowEnvironment

from tests.cli.conftest import POLICY, Capa, assert_one_line_error, serving
from tests.files import samples
from tests.stack import running_stack

MAX_FILE_MB = 1  # this module's API takes files up to 1 MB, so a file too large is small enough to send


@pytest_asyncio.fixture(scope="module")
async def capa(dev_server: WorkflowEnvironment, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Capa]:
    workdir = tmp_path_factory.mktemp("capa")
    async with (
        running_stack(dev_server, workdir, policy=POLICY, max_file_mb=MAX_FILE_MB) as stack,
        serving(stack.app) as url,
    ):
        yield Capa(dev_server, stack.settings, stack.engine, url, workdir / "config")


def _write(folder: Path, name: str, content: bytes) -> Path:
    path = folder / name
    path.write_bytes(content)
    return path


async def test_a_photo_on_containment_and_a_pdf_on_an_action(capa: Capa, tmp_path: Path) -> None:
    """A PNG attached to containment and a PDF to action A1 each print one line (name, size, type, short hash,
    where it went), and `capa show` lists both by step and action, as `--json` does in full."""
    record_id = await capa.raise_record(owner="olivia")
    photo = _write(tmp_path, "burr.png", samples.png())
    report = _write(tmp_path, "tool change.pdf", samples.pdf())
    photo_hash = hashlib.sha256(photo.read_bytes()).hexdigest()
    report_hash = hashlib.sha256(report.read_bytes()).hexdigest()

    run = await capa.ok("attach", record_id, str(photo), "--to", "containment", user="otto")
    assert run.out.splitlines() == [
        f"{record_id}: burr.png ({photo.stat().st_size} B, image/png, sha256 {photo_hash[:12]}) attached to containment"
    ]
    await capa.ok("contain", record_id, "--summary", "Lot quarantined", "--disposition", "quarantine", user="olivia")
    await capa.ok("root-cause", record_id, "--method", "fishbone", "--cause", "Worn deburring tool", user="olivia")
    await capa.ok("plan", record_id, "--action", "oscar:10d:Replace the deburring tool", user="olivia")
    refs = (await capa.ok("attach", record_id, str(report), "--to", "A1", "--json", user="oscar")).json()
    assert [(r["name"], r["size"], r["media_type"], r["sha256"], r["to"], r["uploaded_by"]) for r in refs] == [
        ("tool change.pdf", report.stat().st_size, "application/pdf", report_hash, "A1", "oscar")
    ]

    shown = await capa.show(record_id)
    assert [(f["name"], f["to"], f["sha256"]) for f in shown["files"]] == [
        ("burr.png", "containment", photo_hash),
        ("tool change.pdf", "A1", report_hash),
    ]
    table = (await capa.ok("show", record_id, user="maria")).out
    files = table[table.index("Files") : table.index("Timeline")]
    assert f"containment  burr.png ({photo.stat().st_size} B, image/png, sha256 {photo_hash[:12]})" in files
    assert f"action A1    tool change.pdf ({report.stat().st_size} B, application/pdf, sha256 {report_hash[:12]})" in (
        files
    )


async def test_root_cause_is_named_either_way(capa: Capa, tmp_path: Path) -> None:
    """`--to root-cause` (the command's spelling) and `--to root_cause` (the API's) both reach the root cause."""
    record_id = await capa.raise_record(owner="olivia")
    first = _write(tmp_path, "fishbone.png", samples.png(3, 3))
    second = _write(tmp_path, "analysis.pdf", samples.pdf())
    await capa.ok("attach", record_id, str(first), "--to", "root-cause", user="olivia")
    await capa.ok("attach", record_id, str(second), "--to", "root_cause", user="olivia")
    shown = await capa.show(record_id)
    assert [(f["name"], f["to"]) for f in shown["files"]] == [
        ("fishbone.png", "root_cause"),
        ("analysis.pdf", "root_cause"),
    ]


async def test_a_refused_type_is_one_line_naming_the_file(capa: Capa, tmp_path: Path) -> None:
    """A program renamed .pdf is refused by its content: one line naming the file, exit 1, nothing attached."""
    record_id = await capa.raise_record(owner="olivia")
    fake = _write(tmp_path, "invoice.pdf", samples.exe())
    run = await capa("attach", record_id, str(fake), user="olivia")
    assert_one_line_error(run, 1, "invoice.pdf", "not a file of an accepted type")
    assert (await capa.show(record_id))["files"] == []


async def test_a_file_too_large_is_one_line_naming_it(capa: Capa, tmp_path: Path) -> None:
    """A PDF over the API's size limit, sent after one that fits: one line naming it and the limit, exit 1, and
    neither is attached."""
    record_id = await capa.raise_record(owner="olivia")
    fits = _write(tmp_path, "inspection.pdf", samples.pdf())
    scan = _write(tmp_path, "scan.pdf", samples.pdf() + b"\0" * (MAX_FILE_MB * 1024 * 1024))
    run = await capa("attach", record_id, str(fits), str(scan), user="olivia")
    assert_one_line_error(run, 1, "scan.pdf", f"larger than {MAX_FILE_MB} MB")
    assert (await capa.show(record_id))["files"] == []


async def test_a_missing_file_is_named_before_anything_is_sent(capa: Capa, tmp_path: Path) -> None:
    """One missing file among good ones: exit 2 naming it, and none of the files is attached."""
    record_id = await capa.raise_record(owner="olivia")
    photo = _write(tmp_path, "burr.png", samples.png())
    missing = tmp_path / "no-such-photo.png"
    run = await capa("attach", record_id, str(photo), str(missing), user="olivia")
    assert_one_line_error(run, 2, str(missing), "no such file")
    assert (await capa.show(record_id))["files"] == []


async def test_an_unknown_action_names_the_option(capa: Capa, tmp_path: Path) -> None:
    """A `--to` naming no action of the record is refused naming --to and the action, exit 1."""
    record_id = await capa.raise_record(owner="olivia")
    photo = _write(tmp_path, "burr.png", samples.png())
    run = await capa("attach", record_id, str(photo), "--to", "A9", user="olivia")
    assert_one_line_error(run, 1, "--to", "A9")
