"""Procedure-version pinning through the HTTP API: the procedure in force with the open records under an older
one, and quality's signed move (refused for others and without the right password)."""

from core.readmodel import publish_policy
from models.policy import parse_policy
from tests.api.flow import Api
from tests.procedures.conftest import POLICY_D
from tests.stack import PASSWORD


async def test_quality_moves_a_record_raised_under_rev_c_to_rev_d(api: Api) -> None:
    """A record raised under rev C is listed as behind once rev D is in force; mike (a manager) may not move it;
    a wrong password records nothing; quinn's signed move records a procedure_moved entry and the record is no
    longer behind; moving it again is refused."""
    record_id = await api.raise_record()
    shown = await api.get("otto", "/procedure")
    assert shown["in_force"] == "SOP-QA-014 rev C, policy 2026-11"
    assert record_id not in [r["id"] for r in shown["behind"]]

    publish_policy(api.stack.engine, parse_policy(POLICY_D))
    shown = await api.until(
        lambda: api.get("otto", "/procedure"), lambda p: record_id in [r["id"] for r in p["behind"]]
    )
    assert shown["procedure"] == {"document": "SOP-QA-014", "revision": "D", "effective": "2026-11-01"}
    [behind] = [r for r in shown["behind"] if r["id"] == record_id]
    assert behind["raised_under"] == "raised under SOP-QA-014 rev C, policy 2026-11"

    path = f"/records/{record_id}/procedure-move"
    body = {"reason": "SOP-QA-014 rev D issued", "password": PASSWORD}
    manager = await api.call("mike", "POST", path, body)
    assert manager.status_code == 403, manager.text
    wrong = await api.call("quinn", "POST", path, {**body, "password": "not-her-password"})
    assert wrong.status_code in (401, 403), wrong.text
    assert "password" in wrong.text

    outcome = await api.ok("quinn", "POST", path, body)
    [entry] = [e for e in outcome["entries"] if e["kind"] == "procedure_moved"]
    assert entry["details"]["from_procedure"]["revision"] == "C"
    assert entry["details"]["to_procedure"]["revision"] == "D"
    assert entry["details"]["signature"]["meaning"] == "approved: record moved to the procedure in force"
    shown = await api.until(
        lambda: api.get("otto", "/procedure"), lambda p: record_id not in [r["id"] for r in p["behind"]]
    )
    again = await api.call("quinn", "POST", path, body)
    assert again.status_code == 422, again.text
    assert "already raised under SOP-QA-014 rev D" in again.text
