"""Refused steps through ``capa``: one line naming the problem, a non-zero exit, and the record untouched."""

import uuid

from google.protobuf.duration_pb2 import Duration
from temporalio.api.workflowservice.v1 import RegisterNamespaceRequest

from tests.cli.conftest import Capa, assert_one_line_error


async def test_step_in_the_wrong_stage(capa: Capa) -> None:
    """A root cause sent while the record is in containment is refused with exit 1, naming the stage."""
    record_id = await capa.raise_record()
    before = await capa.show(record_id)
    run = await capa("root-cause", record_id, "--method", "other", "--cause", "Unknown", user="olivia")
    assert_one_line_error(run, 1, record_id, "stage containment")
    assert await capa.show(record_id) == before


async def test_step_by_the_wrong_person(capa: Capa) -> None:
    """An owner who does not own the record cannot contain it; the message names who may."""
    record_id = await capa.raise_record(owner="olivia")
    before = await capa.show(record_id)
    run = await capa("contain", record_id, "--summary", "Held", "--disposition", "scrap", user="oscar")
    assert_one_line_error(run, 1, "oscar may not", "olivia")
    assert await capa.show(record_id) == before


async def test_bad_input_names_the_option(capa: Capa) -> None:
    """A blank summary, an unknown disposition or a malformed --action is refused with exit 2, naming it."""
    record_id = await capa.raise_record()
    before = await capa.show(record_id)

    blank = await capa("contain", record_id, "--summary", "   ", "--disposition", "scrap", user="olivia")
    assert_one_line_error(blank, 2, "--summary")
    unknown = await capa("contain", record_id, "--summary", "Held", "--disposition", "burn", user="olivia")
    assert_one_line_error(unknown, 2, "--disposition", "burn")
    malformed = await capa("plan", record_id, "--action", "olivia:next week:Fix", user="olivia")
    assert_one_line_error(malformed, 2, "--action 'olivia:next week:Fix'", "'next week' is not a date")
    operator = await capa("reassign", record_id, "--owner", "otto", "--reason", "x", user="maria")
    assert_one_line_error(operator, 2, "--owner", "otto is an operator")
    # Several bad values at once are each named, in one line: the option, and which of a repeated option.
    several = await capa("reassign", record_id, "--owner", "otto smith", "--reason", " ", user="maria")
    assert_one_line_error(several, 2, "--owner: ", "--reason: required")
    whys = ["--why", "Burr", "--why", " ", "--why", "Tool worn"]
    blank_why = await capa("root-cause", record_id, "--method", "five-whys", "--cause", "x", *whys, user="olivia")
    assert_one_line_error(blank_why, 2, "--why 2: required")

    assert await capa.show(record_id) == before


async def test_self_verification(capa: Capa) -> None:
    """A manager who completed an action may not verify the plan; another manager may."""
    record_id = await capa.raise_record(owner="olivia")
    await capa.ok("contain", record_id, "--summary", "Held", "--disposition", "quarantine", user="olivia")
    await capa.ok("root-cause", record_id, "--method", "fishbone", "--cause", "Worn tool", user="olivia")
    await capa.ok("plan", record_id, "--action", "olivia:5d:Replace tool", user="olivia")
    await capa.ok("complete-action", record_id, "A1", "--evidence", "WO-1", user="mike")
    before = await capa.show(record_id)

    run = await capa("verify", record_id, "--result", "pass", "--evidence", "Checked", user="mike")
    assert_one_line_error(run, 1, "mike may not verify", "implemented")
    assert await capa.show(record_id) == before
    await capa.ok("verify", record_id, "--result", "pass", "--evidence", "Checked", user="maria")


async def test_someone_not_signed_in_and_no_one_chosen(capa: Capa) -> None:
    """--as names only a stored sign-in: anyone else (even a name no directory has) is refused naming `capa login`;
    with several sign-ins and no --as, the command asks for one. Nothing is sent either way."""
    record_id = await capa.raise_record()
    before = await capa.show(record_id)
    stranger = await capa.run("--as", "zed", "contain", record_id, "--summary", "Held", "--disposition", "scrap")
    assert_one_line_error(stranger, 1, "not signed in as zed", "capa login zed")
    nobody = await capa.run("contain", record_id, "--summary", "Held", "--disposition", "scrap")
    assert_one_line_error(nobody, 2, "pass --as NAME")
    assert await capa.show(record_id) == before


async def test_unknown_record(capa: Capa) -> None:
    """A record id nobody raised is reported as not existing, for reads and for steps."""
    shown = await capa("show", "NC-2099-9999", user="maria")
    assert_one_line_error(shown, 1, "NC-2099-9999 does not exist")
    step = await capa("contain", "NC-2099-9999", "--summary", "Held", "--disposition", "scrap", user="olivia")
    assert_one_line_error(step, 1, "NC-2099-9999 does not exist")


async def test_an_api_that_does_not_answer(capa: Capa) -> None:
    """A CAPA_API_URL nobody serves is one line naming the address and CAPA_API_URL, exit 1."""
    run = await capa.run("list", env={"CAPA_API_URL": "http://127.0.0.1:9", "CAPA_TOKEN": "capa_unused"})
    assert_one_line_error(run, 1, "http://127.0.0.1:9", "CAPA_API_URL")


async def test_a_namespace_temporal_does_not_have(capa: Capa) -> None:
    """A mistyped TEMPORAL_NAMESPACE is named as such to the operator's `capa records migrate`, which talks to
    Temporal itself."""
    run = await capa.run("records", "migrate", env={"TEMPORAL_NAMESPACE": "qualty"})
    assert_one_line_error(run, 1, "has no namespace qualty", "TEMPORAL_NAMESPACE")


async def test_migrate_names_where_it_looked_when_nothing_is_left_to_move(capa: Capa) -> None:
    """With no record of the earlier shape, `capa records migrate` says so and names the namespace it searched."""
    namespace = f"quiet-{uuid.uuid4().hex[:8]}"
    await capa.env.client.workflow_service.register_namespace(
        RegisterNamespaceRequest(namespace=namespace, workflow_execution_retention_period=Duration(seconds=86400))
    )
    run = await capa("records", "migrate", env={"TEMPORAL_NAMESPACE": namespace})
    assert run.code == 0, run
    address = capa.env.client.service_client.config.target_host
    assert (
        run.out.strip()
        == f"no running record of the earlier shape in namespace {namespace} at {address}: nothing to move"
    )


async def test_a_signed_step_needs_the_password_at_the_moment_of_signing(capa: Capa) -> None:
    """Without a terminal and without --password-stdin a signed step is not sent: one line says how to sign."""
    record_id = await capa.raise_record()
    before = await capa.show(record_id)
    await capa.login("mike")
    unsigned = await capa.run("--as", "mike", "cancel", record_id, "--reason", "Duplicate")
    assert_one_line_error(unsigned, 2, "signing needs your password", "--password-stdin")
    empty = await capa.run("--as", "mike", "cancel", record_id, "--reason", "Duplicate", "--password-stdin")
    assert_one_line_error(empty, 2, "--password-stdin: no password on standard input")
    assert await capa.show(record_id) == before
