"""`capa pause`, `capa decide-pause` and `capa resume`, as a subprocess through the API."""

from tests.cli.conftest import Capa, assert_one_line_error


async def test_a_pause_asked_decided_and_resumed(capa: Capa) -> None:
    """Olivia asks, otto may not; quinn approves (signed); the record shows the paused clock; olivia resumes."""
    record_id = await capa.raise_record()
    args = ("--waiting-on", "supplier", "--until", "10d", "--reason", "Supplier 8D on the resin lot")
    refused = await capa("pause", record_id, *args, user="otto")
    assert_one_line_error(refused, 1, "only its holder (olivia)")
    asked = await capa.ok("pause", record_id, *args, user="olivia")
    assert "pause requested" in asked.out
    decided = await capa.ok("decide-pause", record_id, "--approve", user="quinn")
    assert "pause approved" in decided.out
    shown = await capa.ok("show", record_id, "--json", user="quinn")
    assert shown.json()["clock"]["paused_at"] is not None
    resumed = await capa.ok("resume", record_id, "--reason", "The 8D arrived", user="olivia")
    assert "resumed" in resumed.out
