"""Honest pauses through the HTTP API: the holder asks, quality sees it in their work and decides (signed), the
record and the overdue list show the paused clock, the holder resumes."""

from typing import Any

from tests.api.flow import Api, later
from tests.stack import PASSWORD
from tests.web.pages import browser


async def test_a_pause_is_asked_decided_shown_and_resumed(api: Api) -> None:
    record_id = await api.raise_record()
    until = later(days=14)
    ask = {"waiting_on": "supplier", "expected_until": until, "reason": "Supplier 8D on the resin lot"}
    refused = await api.call("otto", "POST", f"/records/{record_id}/pause-requests", ask)
    assert refused.status_code == 403, refused.text
    asked = await api.ok("olivia", "POST", f"/records/{record_id}/pause-requests", ask)
    assert asked["entries"][-1]["kind"] == "pause_requested"

    async def quinns() -> Any:
        return await api.get("quinn", "/me/items")

    work = await api.until(quinns, lambda p: any(i["record_id"] == record_id for i in p["items"]))
    [item] = [i for i in work["items"] if i["record_id"] == record_id and i["step"] == "decide-pause"]
    assert item["label"] == "Decide the pause of the containment step"

    manager = await api.call(
        "mike", "POST", f"/records/{record_id}/pause-decision", {"approve": True, "password": PASSWORD}
    )
    assert manager.status_code == 403, manager.text
    decided = await api.ok(
        "quinn", "POST", f"/records/{record_id}/pause-decision", {"approve": True, "password": PASSWORD}
    )
    assert decided["entries"][-1]["kind"] == "pause_decided"
    state = await api.until(lambda: api.record(record_id), lambda s: s["clock"]["paused_at"] is not None)
    assert state["clock"]["waiting_on"] == "supplier"

    olivias = await api.until(
        lambda: api.get("olivia", "/me/items"),
        lambda p: any(i["record_id"] == record_id and i["paused"] for i in p["items"]),
    )
    [mine] = [i for i in olivias["items"] if i["record_id"] == record_id]
    assert mine["paused"].startswith("paused — waiting on supplier until ")

    resumed = await api.ok("olivia", "POST", f"/records/{record_id}/resumption", {"reason": "The 8D arrived"})
    assert resumed["entries"][-1]["kind"] == "resumed"
    await api.until(lambda: api.record(record_id), lambda s: s["clock"]["paused_at"] is None)


async def test_the_record_page_asks_decides_shows_and_resumes_a_pause(api: Api) -> None:
    """Through the web forms: olivia asks, quinn approves (signed), the page shows the paused clock and not
    late, the board lists it paused, olivia resumes."""
    record_id = await api.raise_record()
    async with browser(api.stack, "olivia") as olivia:
        page = await olivia.get(f"/records/{record_id}")
        assert "Ask to pause (waiting on supplier or customer)" in page.text
        asked = await olivia.step(
            record_id,
            "request-pause",
            action_id="",
            waiting_on="customer",
            expected_until="2099-01-31T12:00",
            reason="Customer to confirm the drawing",
        )
        assert asked.status_code == 303, asked.text
    async with browser(api.stack, "quinn") as quinn:
        page = await quinn.get(f"/records/{record_id}")
        assert "Decide the pause of the" in page.text
        assert "waiting on customer" in page.text
        decided = await quinn.step(record_id, "decide-pause", action_id="", decision="approve", password=PASSWORD)
        assert decided.status_code == 303, decided.text
        await api.until(lambda: api.record(record_id), lambda s: s["clock"]["paused_at"] is not None)
        shown = await quinn.get(f"/records/{record_id}")
        assert "paused — waiting on customer until" in shown.text
    async with browser(api.stack, "olivia") as olivia:
        resumed = await olivia.step(record_id, "resume", action_id="", reason="Drawing confirmed")
        assert resumed.status_code == 303, resumed.text
    await api.until(lambda: api.record(record_id), lambda s: s["clock"]["paused_at"] is None)
