"""Comments, watchers and one's own notifications through the HTTP API."""

from typing import Any

from tests.api.flow import Api


async def _mine(api: Api, who: str, **params: Any) -> dict[str, Any]:
    page: dict[str, Any] = await api.get(who, "/me/notifications", **params)
    return page


async def test_a_mention_reaches_the_persons_notifications_which_they_mark_read(api: Api) -> None:
    """Otto mentions greta in a comment: the comment is the record's last entry; greta's list has it unread with a
    link to the record; marking it read sets read_at and lowers the unread count; read-all clears the rest."""
    record_id = await api.raise_record()
    before = (await _mine(api, "greta"))["unread"]
    outcome = await api.ok("otto", "POST", f"/records/{record_id}/comments", {"text": "@greta is this lot on hold?"})
    assert outcome["entries"][-1]["kind"] == "commented"
    assert outcome["entries"][-1]["details"] == {"text": "@greta is this lot on hold?", "mentions": ["greta"]}

    # The page and its unread count are two reads: wait until both show the comment.
    page = await api.until(
        lambda: _mine(api, "greta", unread="true"),
        lambda p: p["unread"] == before + 1 and any(i["record_id"] == record_id for i in p["items"]),
    )
    [newest] = [item for item in page["items"] if item["record_id"] == record_id]
    assert newest["kind"] == "commented"
    assert newest["read_at"] is None
    assert newest["link"].endswith(f"/records/{record_id}")
    assert "otto commented: @greta is this lot on hold?" in newest["subject"]

    read = await api.ok("greta", "POST", f"/me/notifications/{newest['id']}/read")
    assert read["read_at"] is not None
    assert (await _mine(api, "greta"))["unread"] == before
    assert (await api.ok("greta", "POST", "/me/notifications/read-all"))["read"] == before
    assert (await _mine(api, "greta", unread="true")) | {"items": []} == {
        "items": [],
        "total": 0,
        "unread": 0,
        "limit": 50,
        "offset": 0,
    }


async def test_a_notification_is_read_only_by_its_recipient(api: Api) -> None:
    """Another person's notification id is not found for the caller (404), and stays unread."""
    record_id = await api.raise_record()
    await api.ok("otto", "POST", f"/records/{record_id}/comments", {"text": "@paul please have a look"})
    page = await api.until(lambda: _mine(api, "paul"), lambda p: any(i["record_id"] == record_id for i in p["items"]))
    row_id = next(i["id"] for i in page["items"] if i["record_id"] == record_id)
    response = await api.call("greta", "POST", f"/me/notifications/{row_id}/read")
    assert response.status_code == 404, response.text
    assert "notification_id" in response.json()["detail"]
    assert next(i for i in (await _mine(api, "paul"))["items"] if i["id"] == row_id)["read_at"] is None


async def test_a_watcher_gets_the_records_comments_until_they_unwatch(api: Api) -> None:
    """Nina watches (twice: no change), gets a comment that mentions nobody, unwatches and gets the next one no
    more; an unknown record is 404."""
    record_id = await api.raise_record()
    watching = await api.ok("nina", "PUT", f"/records/{record_id}/watch")
    assert watching == {"record_id": record_id, "watching": True, "watchers": ["nina"]}
    assert (await api.ok("nina", "PUT", f"/records/{record_id}/watch"))["watchers"] == ["nina"]
    await api.ok("otto", "POST", f"/records/{record_id}/comments", {"text": "Second lot checked: clean"})
    await api.until(lambda: _mine(api, "nina"), lambda p: any("Second lot checked" in i["subject"] for i in p["items"]))
    assert (await api.ok("nina", "DELETE", f"/records/{record_id}/watch"))["watching"] is False
    await api.ok("otto", "POST", f"/records/{record_id}/comments", {"text": "Third lot checked: clean"})
    await api.until(lambda: api.record(record_id), lambda s: s["events"][-1]["kind"] == "commented")
    assert not any("Third lot" in i["subject"] for i in (await _mine(api, "nina"))["items"])
    assert (await api.call("nina", "PUT", "/records/NC-2026-99999999/watch")).status_code == 404


async def test_a_comment_naming_nobody_known_or_on_a_cancelled_record_is_refused(api: Api) -> None:
    """``@nobody`` is 422 naming ``text``; a cancelled record answers 409: only quality's signed amendments."""
    record_id = await api.raise_record()
    unknown = await api.call("otto", "POST", f"/records/{record_id}/comments", {"text": "@nobody look"})
    assert unknown.status_code == 422, unknown.text
    assert [e["field"] for e in unknown.json()["errors"]] == ["text"]
    cancelled = await api.step("mike", record_id, "cancellation")
    assert cancelled.status_code == 200, cancelled.text
    await api.until(lambda: api.record(record_id), lambda s: s["stage"] == "cancelled")
    ended = await api.call("otto", "POST", f"/records/{record_id}/comments", {"text": "one more thing"})
    assert ended.status_code == 409, ended.text
    assert "only quality's signed amendments" in ended.json()["detail"]


async def test_a_mention_finds_the_person_whatever_the_case_it_is_typed_in(api: Api) -> None:
    """People type names as they say them: "@OSCAR" mentions oscar, whose notifications get it."""
    record_id = await api.raise_record()
    outcome = await api.ok("otto", "POST", f"/records/{record_id}/comments", {"text": "@OSCAR please check"})
    assert outcome["entries"][-1]["details"]["mentions"] == ["oscar"]
    await api.until(lambda: _mine(api, "oscar"), lambda p: any(i["record_id"] == record_id for i in p["items"]))
