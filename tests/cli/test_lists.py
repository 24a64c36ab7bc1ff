"""``capa list`` and ``capa overdue`` read the read model; it must agree with the workflows' own state."""

from datetime import datetime
from typing import Any

from sqlmodel import Session

from models.tables import Nonconformity
from tests.cli.conftest import Capa, assert_one_line_error, eventually


def _instant(text: str | None) -> datetime | None:
    return None if text is None else datetime.fromisoformat(text)


async def _assert_list_matches_query(capa: Capa, record_ids: list[str]) -> list[dict[str, Any]]:
    rows = {row["id"]: row for row in (await capa.ok("list", "--json", user="maria")).json()}
    for record_id in record_ids:
        state = await capa.query(record_id)
        row = rows[record_id]
        assert (row["stage"], row["owner"], _instant(row["due_at"]), row["escalation_level"]) == (
            state.stage.value,
            state.owner,
            state.due_at,
            state.escalation_level,
        ), record_id
    return list(rows.values())


async def test_list_agrees_with_the_workflow_query(capa: Capa) -> None:
    """Listed stage, owner, due and escalation level equal the workflow's query; --stage/--owner filter."""
    in_containment = await capa.raise_record(owner="olivia", severity="critical")
    in_action = await capa.raise_record(owner="oscar", severity="minor")
    await capa.ok("contain", in_action, "--summary", "Held", "--disposition", "rework", user="oscar")
    await capa.ok("root-cause", in_action, "--method", "8d", "--cause", "Fixture drift", user="oscar")
    await capa.ok("plan", in_action, "--action", "paul:7d:Re-qualify the fixture", user="oscar")
    reassigned = await capa.raise_record(owner="olivia")
    await capa.ok("reassign", reassigned, "--owner", "paul", "--reason", "Olivia on leave", user="maria")

    await _assert_list_matches_query(capa, [in_containment, in_action, reassigned])
    action_stage = [row["id"] for row in (await capa.ok("list", "--stage", "action", "--json", user="maria")).json()]
    assert in_action in action_stage
    assert in_containment not in action_stage
    pauls = [row["id"] for row in (await capa.ok("list", "--owner", "paul", "--json", user="maria")).json()]
    assert set(pauls) >= {in_action, reassigned}
    assert in_containment not in pauls
    table = (await capa.ok("list", user="maria")).out
    assert in_containment in table


async def test_overdue_shows_the_late_action_and_its_escalation(capa: Capa) -> None:
    """A late action shows on `capa overdue` with holder, lateness and level 1; list still matches the query."""
    record_id = await capa.raise_record(owner="olivia")
    await capa.ok("contain", record_id, "--summary", "Held", "--disposition", "quarantine", user="olivia")
    await capa.ok("root-cause", record_id, "--method", "other", "--cause", "Unclear drawing", user="olivia")
    await capa.ok("plan", record_id, "--action", "oscar:3s:Redraw the detail", user="olivia")

    async def escalated() -> dict[str, Any] | None:
        items = (await capa.ok("overdue", "--json", user="maria")).json()
        return next((i for i in items if i["id"] == record_id and i["escalation_level"] == 1), None)

    item = await eventually(escalated)
    assert item["target"] == "A1"
    assert item["holder"] == item["owner"] == "oscar"
    assert item["stage"] == "action"
    assert item["late_by_seconds"] >= 0
    assert item["late_by"]
    assert item["due_at"]

    table = (await capa.ok("overdue", user="maria")).out
    assert "LATE BY" in table
    row = next(line for line in table.splitlines() if record_id in line)
    assert row.split()[-1] == "L1"
    listed = (await capa.ok("list", "--overdue", user="maria")).out.splitlines()
    row_at = next(n for n, line in enumerate(listed) if record_id in line)
    assert "late by" in listed[row_at + 1]
    overdue_ids = [row["id"] for row in (await capa.ok("list", "--overdue", "--json", user="maria")).json()]
    assert record_id in overdue_ids
    await _assert_list_matches_query(capa, [record_id])


async def test_a_step_lists_at_once_while_the_entry_before_it_is_not_yet_stored(capa: Capa) -> None:
    """A step's answer carries only what it changed. When the read model misses the entry before it (an alarm's
    ring whose write the worker has not made yet, played here by winding the stored row back), the step still
    shows in the list the moment it returns: the record is written whole instead."""
    record_id = await capa.raise_record(owner="olivia")
    with Session(capa.engine) as session, session.begin():
        row = session.get(Nonconformity, record_id)
        assert row is not None
        row.last_seq = 0
    await capa.ok("contain", record_id, "--summary", "Held", "--disposition", "quarantine", user="olivia")
    rows = {row["id"]: row for row in (await capa.ok("list", "--json", user="maria")).json()}
    assert rows[record_id]["stage"] == "root_cause"
    await _assert_list_matches_query(capa, [record_id])


async def test_what_people_typed_reaches_the_terminal_as_text(capa: Capa) -> None:
    """A title with Rich markup is listed and shown literally; one with an ANSI escape or a bell is refused
    before it is stored, naming each option at fault."""
    escaped = await capa(
        "raise",
        "--title",
        "Burr \x1b[2J\x1b[31mcleared",
        "--description",
        "Seen \x1b]0;owned\x07 at station 4",
        "--severity",
        "minor",
        "--source",
        "inspection",
        "--owner",
        "olivia",
        user="otto",
    )
    assert_one_line_error(escaped, 2, "--title: contains a control character (U+001B)", "--description")
    title = "Burr cleared [bold]screen[/bold] [link=https://evil.example]here[/link]"
    raised = await capa.ok(
        "raise",
        "--title",
        title,
        "--description",
        "Seen at station 4",
        "--severity",
        "minor",
        "--source",
        "inspection",
        "--owner",
        "olivia",
        "--json",
        user="otto",
    )
    record_id = raised.json()["id"]
    for run in (
        await capa.ok("list", "--owner", "olivia", user="maria"),
        await capa.ok("show", record_id, user="maria"),
    ):
        assert title in run.out, run.out


async def test_listing_by_someone_not_in_the_directory_names_the_option(capa: Capa) -> None:
    """A mistyped --owner is a usage error, not an empty list that reads as "nothing is waiting"."""
    run = await capa("list", "--owner", "olvia", user="maria")
    assert_one_line_error(run, 2, "--owner: no user named olvia")


async def test_inbox_shows_what_waits_for_the_signed_in_person(capa: Capa) -> None:
    """`capa inbox` lists the steps waiting for the acting person, named as a to-do list names them, and not
    someone else's."""
    record_id = await capa.raise_record(owner="paul")
    held = (await capa.ok("inbox", "--json", user="paul")).json()
    (item,) = [item for item in held if item["id"] == record_id]
    assert (item["step"], item["label"], item["target"], item["holder"]) == ("contain", "Contain", "stage", "paul")
    assert record_id not in [item["id"] for item in (await capa.ok("inbox", "--json", user="oscar")).json()]
    table = (await capa.ok("inbox", user="paul")).out
    assert record_id in table
    assert "Contain" in table
