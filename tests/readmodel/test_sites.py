"""Sites in the read model, on SQLite and PostgreSQL: the default site made once, whose zone people and records
without a site of their own read times in; a person's home site and own zone; every change in the admin log."""

import threading

import pytest
from sqlalchemy import Engine

from core import sites
from core.adminlog import read_log
from core.readmodel import DirectoryError, add_user, get_user, update_user
from core.sites import SiteError
from models.tables import Site


def test_the_default_site_is_made_once_and_then_kept(engine: Engine) -> None:
    """Made from the settings the first time it is asked for (several starts at once make one); a later start
    with other settings finds the one stored."""
    made: list[Site] = []
    starts = [
        threading.Thread(target=lambda: made.append(sites.default_site(engine, "Main site", "Europe/Berlin")))
        for _ in range(4)
    ]
    for start in starts:
        start.start()
    for start in starts:
        start.join()
    assert {(site.name, site.time_zone) for site in made} == {("Main site", "Europe/Berlin")}
    assert sites.default_site(engine, "Main site", "UTC").time_zone == "Europe/Berlin"
    assert [site.name for site in sites.list_sites(engine)] == ["Main site"]


def test_whose_zone_a_person_reads_times_in(engine: Engine) -> None:
    """Their own zone, else their home site's, else the default site's; a record's: its site's, else the default."""
    default = sites.default_site(engine, "Main site", "UTC")
    sites.add_site(engine, "Berlin plant", "Europe/Berlin", actor="ada")
    add_user(engine, "ada", "admin")
    add_user(engine, "bea", "owner", site="Berlin plant")
    add_user(engine, "cai", "owner", site="Berlin plant", time_zone="Asia/Tokyo")

    zones = {name: sites.person_zone(engine, get_user(engine, name), default) for name in ("ada", "bea", "cai")}
    assert zones == {"ada": "UTC", "bea": "Europe/Berlin", "cai": "Asia/Tokyo"}
    assert sites.site_zone(engine, "Berlin plant", default) == "Europe/Berlin"
    assert sites.site_zone(engine, None, default) == "UTC"

    update_user(engine, "cai", time_zone=None, actor="ada")
    update_user(engine, "bea", site=None, actor="ada")
    assert sites.person_zone(engine, get_user(engine, "cai"), default) == "Europe/Berlin"
    assert sites.person_zone(engine, get_user(engine, "bea"), default) == "UTC"
    actions = [(entry.action, entry.target) for entry in read_log(engine, limit=20)[0]][::-1]
    assert ("site_added", "Berlin plant") in actions
    assert actions[-2:] == [("time_zone_changed", "cai"), ("home_site_changed", "bea")]


@pytest.mark.parametrize(
    ("name", "zone", "field"),
    [("Mars base", "Mars/Olympus", "time_zone"), ("", "UTC", "name"), ("Main site", "UTC", "name")],
)
def test_a_bad_site_is_refused_naming_the_field(engine: Engine, name: str, zone: str, field: str) -> None:
    """An unknown zone, an empty name or a name taken: refused on that field, and no site is added."""
    sites.default_site(engine, "Main site", "UTC")
    with pytest.raises(SiteError) as refused:
        sites.add_site(engine, name, zone)
    assert refused.value.problem.field == field
    assert [site.name for site in sites.list_sites(engine)] == ["Main site"]


def test_a_person_at_a_site_that_does_not_exist_is_refused(engine: Engine) -> None:
    """A home site must exist, and a zone of one's own must be known: each is named, and nothing changes."""
    add_user(engine, "ada", "admin")
    with pytest.raises(SiteError, match="no site named 'Atlantis'"):
        add_user(engine, "bea", "owner", site="Atlantis")
    with pytest.raises(DirectoryError) as refused:
        update_user(engine, "ada", site="Atlantis", time_zone="Nowhere/City")
    assert [problem.field for problem in refused.value.problems] == ["time_zone", "site"]
    assert get_user(engine, "bea") is None
    ada = get_user(engine, "ada")
    assert ada is not None
    assert (ada.site, ada.time_zone) == (None, None)
