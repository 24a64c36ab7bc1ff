"""`capa comment`, `capa watch`/`unwatch` and `capa notifications mine`/`read`, as a subprocess through the API."""

from tests.cli.conftest import Capa, assert_one_line_error, eventually


async def test_a_mention_and_a_watch_reach_the_persons_notifications_which_they_read(capa: Capa) -> None:
    """Paul watches a record; otto comments mentioning greta: greta and paul each list the comment as unread;
    paul marks his read by id, greta all of hers with --all; `--unread` then lists nothing."""
    record_id = await capa.raise_record()
    watched = await capa.ok("watch", record_id, user="paul")
    assert f"{record_id}: you watch it" in watched.out
    said = await capa.ok("comment", record_id, "@greta the burr is on lot L-4712 too", user="otto")
    assert f"{record_id}: comment added" in said.out
    assert "commented" in said.out

    async def listed(name: str) -> list[dict[str, object]] | None:
        rows = (await capa.ok("notifications", "mine", "--unread", "--json", user=name)).json()["items"]
        return [row for row in rows if row["record_id"] == record_id and row["kind"] == "commented"] or None

    [for_greta] = await eventually(lambda: listed("greta"))
    [for_paul] = await eventually(lambda: listed("paul"))
    assert "otto commented: @greta the burr" in str(for_greta["subject"])
    table = await capa.ok("notifications", "mine", user="paul")
    assert "Your notifications" in table.out
    assert record_id in table.out

    await capa.ok("notifications", "read", str(for_paul["id"]), user="paul")
    read_all = await capa.ok("notifications", "read", "--all", user="greta")
    assert "marked read" in read_all.out
    for name in ("paul", "greta"):
        assert await listed(name) is None
    assert "no longer watch" in (await capa.ok("unwatch", record_id, user="paul")).out


async def test_bad_comments_and_reads_end_in_one_line(capa: Capa) -> None:
    """An unknown @name names TEXT (exit 2), `notifications read` needs an ID or --all, an id that is not yours is
    not found (exit 1)."""
    record_id = await capa.raise_record()
    unknown = await capa("comment", record_id, "@nobody look here", user="otto")
    assert_one_line_error(unknown, 2, "TEXT", "@nobody")
    assert_one_line_error(await capa("notifications", "read", user="otto"), 2, "--all")
    assert_one_line_error(await capa("notifications", "read", "999999", user="otto"), 1, "999999")
