"""``capa similar`` lists earlier records sharing words with what was typed, through the HTTP API."""

from tests.cli.conftest import Capa, assert_one_line_error


async def _raised(capa: Capa, title: str, description: str) -> str:
    run = await capa.ok(
        "raise",
        "--title",
        title,
        "--description",
        description,
        "--severity",
        "major",
        "--source",
        "inspection",
        "--owner",
        "olivia",
        user="otto",
    )
    return run.out.strip()


async def test_similar_finds_an_earlier_record_by_its_root_cause(capa: Capa) -> None:
    """After an earlier record's root cause is recorded, a new record's investigator finds it by a word of its
    why-chain: a table for people, JSON for scripts, the new record itself left out."""
    earlier = await _raised(capa, "Burr on housing edge", "Found at final inspection, station 4")
    await capa.ok("contain", earlier, "--summary", "Held", "--disposition", "rework", user="olivia")
    why = "No tool-life counter on lathe 4"
    await capa.ok("root-cause", earlier, "--method", "five-whys", "--cause", "Tool worn", "--why", why, user="olivia")
    current = await _raised(capa, "Sharp edge on housing", "Operator cut a glove on a housing")

    found = (
        await capa.ok("similar", "tool-life counter on housing", "--exclude", current, "--json", user="otto")
    ).json()

    assert [hit["record_id"] for hit in found] == [earlier]
    assert found[0]["title"] == "Burr on housing edge"
    table = (await capa.ok("similar", "lathe counter", user="otto")).out
    assert earlier in table
    assert "[counter]" in table
    assert current not in table


async def test_similar_with_nothing_alike_or_a_bad_exclude(capa: Capa) -> None:
    """Nothing alike says so; a malformed --exclude is refused naming the option."""
    assert "no similar records" in (await capa.ok("similar", "xylophone", user="otto")).out
    assert_one_line_error(await capa("similar", "burr", "--exclude", "nc-1", user="otto"), 2, "--exclude")
