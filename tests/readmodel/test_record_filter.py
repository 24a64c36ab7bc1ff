"""The records list's one filter model: words from the search index, each field, the date ranges, every sort
order, and the refusal of values it cannot take (on SQLite and PostgreSQL)."""

from datetime import date, timedelta
from typing import Any

import pytest
from pydantic import ValidationError
from sqlalchemy import Engine

from core.readmodel import (
    RecordFilter,
    count_records,
    list_records,
    overdue_items,
    record_columns,
    seed_demo_users,
    team_of,
)
from models.enums import ActionStatus, RootCauseMethod, Severity, Source, Stage
from models.payloads import RootCause
from tests.builders import T0, action, clock, event, publish, state

NOW = T0 + timedelta(days=30)


def _record(engine: Engine, record_id: str, **fields: Any) -> None:
    """Publish a record as its workflow writes it, with these fields of its state changed."""
    capa = state(
        record_id, **{k: fields.pop(k) for k in ("stage", "owner", "severity", "stage_clock", "actions") if k in fields}
    )
    fields.setdefault("description", f"About {fields['title']}.")
    publish(engine, capa.model_copy(update=fields), [event(1)])


@pytest.fixture
def records(engine: Engine) -> Engine:
    """Five records differing in every filtered field; one has a root cause and evidence to search for."""
    cause = RootCause(
        cycle=1,
        method=RootCauseMethod.FIVE_WHYS,
        cause="Worn torque wrench",
        whys=["No calibration interval"],
        category=None,
        escape_point=None,
        similar_checked=None,
        by="olivia",
        at=T0,
    )
    _record(
        engine,
        "NC-2026-0001",
        title="Burr on housing edge",
        product="HX-200",
        lot="L-2291",
        severity=Severity.CRITICAL,
        stage_clock=clock("olivia", T0 + timedelta(days=3)),
    )
    _record(
        engine,
        "NC-2026-0002",
        title="Loose fastener",
        product="HX-300",
        lot="L-5000",
        source=Source.CUSTOMER_COMPLAINT,
        stage=Stage.ACTION,
        owner="oscar",
        raised_at=T0 + timedelta(days=5),
        root_causes=[cause],
        actions=[
            action("A1", "mike", T0 + timedelta(days=40)).model_copy(update={"evidence": "Calibrated wrench 4711"}),
        ],
    )
    _record(
        engine,
        "NC-2026-0003",
        title="aardvark label smudged",
        product="hx-200",
        lot="L-7",
        severity=Severity.MINOR,
        stage=Stage.CLOSED,
        owner="mike",
        raised_at=T0 + timedelta(days=10),
        closed_at=T0 + timedelta(days=20),
    )
    _record(
        engine,
        "NC-2026-0004",
        title="Zinc plating thin",
        product=None,
        lot=None,
        stage=Stage.ROOT_CAUSE,
        owner="oscar",
        raised_at=T0 + timedelta(days=1),
        stage_clock=clock("oscar", T0 + timedelta(days=60), level=1),
    )
    _record(
        engine,
        "NC-2026-0005",
        title="Burr again",
        product="HX-9",
        stage=Stage.CANCELLED,
        raised_at=T0 + timedelta(days=2),
        actions=[action("A1", "olivia", T0 + timedelta(days=1), status=ActionStatus.COMPLETED)],
    )
    return engine


def _ids(engine: Engine, **where: Any) -> list[str]:
    chosen = RecordFilter.model_validate(where)
    listed = [r.id for r in list_records(engine, chosen, now=NOW)]
    assert count_records(engine, chosen, now=NOW) == len(listed)
    return listed


def test_search_finds_a_record_by_its_lot(records: Engine) -> None:
    """A lot number typed into the search box finds its record, and only it."""
    assert _ids(records, q="L-2291") == ["NC-2026-0001"]
    assert _ids(records, q="2291") == ["NC-2026-0001"]


def test_search_finds_root_causes_and_evidence(records: Engine) -> None:
    """The search reaches the root cause and the actions' evidence, stemmed ("wrenches" finds "wrench")."""
    assert _ids(records, q="calibration interval") == ["NC-2026-0002"]
    assert _ids(records, q="wrenches") == ["NC-2026-0002"]
    assert _ids(records, q="4711") == ["NC-2026-0002"]


def test_search_wants_every_word_and_takes_no_query_syntax(records: Engine) -> None:
    """Every word must be there (burr AND housing); quotes, OR, NEAR( and dashes are just characters."""
    assert _ids(records, q="burr") == ["NC-2026-0001", "NC-2026-0005"]
    assert _ids(records, q="burr housing") == ["NC-2026-0001"]
    assert _ids(records, q='burr OR "zinc" NEAR( -housing') == []
    assert len(_ids(records, q="the of")) == 5


def test_each_field_filters(records: Engine) -> None:
    """Stage, severity, source, owner (and open-action owner), product and lot (any case), overdue."""
    assert _ids(records, stage="closed") == ["NC-2026-0003"]
    assert _ids(records, severity="critical") == ["NC-2026-0001"]
    assert _ids(records, source="customer-complaint") == ["NC-2026-0002"]
    assert _ids(records, owner="mike") == ["NC-2026-0002", "NC-2026-0003"]
    assert _ids(records, product="HX-200") == ["NC-2026-0001", "NC-2026-0003"]
    assert _ids(records, lot="l-5000") == ["NC-2026-0002"]
    assert _ids(records, overdue=True) == ["NC-2026-0001"]
    assert _ids(records, product="HX-200", severity="minor") == ["NC-2026-0003"]


def test_date_ranges_take_whole_days_both_ends_included(records: Engine) -> None:
    """raised/closed/due from-to: a day's records are in whether the day starts or ends the range."""
    day = T0.date()
    assert _ids(records, raised_from=day + timedelta(days=1), raised_to=day + timedelta(days=5), sort="id") == [
        "NC-2026-0002",
        "NC-2026-0004",
        "NC-2026-0005",
    ]
    assert _ids(records, closed_from=day + timedelta(days=20), closed_to=day + timedelta(days=20)) == ["NC-2026-0003"]
    assert _ids(records, due_to=day + timedelta(days=3)) == ["NC-2026-0001"]
    assert _ids(records, due_from=day + timedelta(days=41)) == ["NC-2026-0004"]


@pytest.mark.parametrize(
    ("sort", "ascending"),
    [
        ("id", ["NC-2026-0001", "NC-2026-0002", "NC-2026-0003", "NC-2026-0004", "NC-2026-0005"]),
        ("raised_at", ["NC-2026-0001", "NC-2026-0004", "NC-2026-0005", "NC-2026-0002", "NC-2026-0003"]),
        ("severity", ["NC-2026-0001", "NC-2026-0002", "NC-2026-0004", "NC-2026-0005", "NC-2026-0003"]),
        ("stage", ["NC-2026-0001", "NC-2026-0004", "NC-2026-0002", "NC-2026-0003", "NC-2026-0005"]),
        ("owner", ["NC-2026-0003", "NC-2026-0001", "NC-2026-0005", "NC-2026-0002", "NC-2026-0004"]),
        ("title", ["NC-2026-0003", "NC-2026-0005", "NC-2026-0001", "NC-2026-0002", "NC-2026-0004"]),
    ],
)
def test_every_sort_both_ways(records: Engine, sort: str, ascending: list[str]) -> None:
    """Severity sorts critical first and stage in lifecycle order (not alphabetically), title ignoring case; the id
    breaks ties; descending reverses the order (ties still by id)."""
    assert _ids(records, sort=sort) == ascending
    descending = _ids(records, sort=sort, direction="desc")
    if sort in ("id", "raised_at", "title"):
        assert descending == ascending[::-1]
    else:
        assert sorted(descending) == sorted(ascending)
        assert descending != ascending


def test_due_sort_lists_nothing_due_last_either_way(records: Engine) -> None:
    """Soonest due first by default, latest due first descending; records with nothing due last in both."""
    assert _ids(records) == ["NC-2026-0001", "NC-2026-0002", "NC-2026-0004", "NC-2026-0003", "NC-2026-0005"]
    assert _ids(records, direction="desc")[:3] == ["NC-2026-0004", "NC-2026-0002", "NC-2026-0001"]


@pytest.mark.parametrize(
    ("given", "field"),
    [
        ({"stage": "done"}, "stage"),
        ({"severity": "huge"}, "severity"),
        ({"source": "gossip"}, "source"),
        ({"sort": "colour"}, "sort"),
        ({"direction": "up"}, "direction"),
        ({"raised_from": "2026-02-30"}, "raised_from"),
        ({"due_from": "2026-03-05", "due_to": "2026-03-04"}, "due_to"),
        ({"owner": "no such name!"}, "owner"),
        ({"q": "x" * 2001}, "q"),
    ],
)
def test_a_bad_value_is_refused_naming_its_field(given: dict[str, str], field: str) -> None:
    """Every value the filter cannot take is refused, naming that field (the API's 422, the page's marked input)."""
    with pytest.raises(ValidationError) as refused:
        RecordFilter.model_validate(given)
    assert [error["loc"] for error in refused.value.errors()] == [(field,)]


def test_filters_round_trip_as_query_parameters() -> None:
    """What a list links to (pages, sorting, export) asks for the same filter again."""
    chosen = RecordFilter(q="burr", lot="L-7", overdue=True, raised_from=date(2026, 3, 1), sort="title")
    assert RecordFilter.model_validate(chosen.filters()) == chosen
    assert RecordFilter(q="  ", lot="").filters() == {}


def test_the_board_filters_by_severity_stage_and_holders(records: Engine) -> None:
    """The overdue board's filters; its items carry the record's title."""
    late = overdue_items(records, NOW)
    assert [(i.record_id, i.title) for i in late] == [("NC-2026-0001", "Burr on housing edge")]
    assert overdue_items(records, NOW, severity=Severity.MINOR) == []
    assert overdue_items(records, NOW, stage=Stage.CONTAINMENT) == late
    assert overdue_items(records, NOW, holders=["olivia"]) == late
    assert overdue_items(records, NOW, holders=["oscar", "mike"]) == []
    assert overdue_items(records, NOW + timedelta(days=50), holders=["mike"])[0].target == "A1"


def test_my_team_is_everyone_below_in_the_reporting_line(engine: Engine) -> None:
    """A manager's team: their reports and their reports' reports, however far down; nobody above or beside."""
    seed_demo_users(engine)
    assert team_of(engine, "maria") == ["mike", "olivia", "oscar", "otto"]
    assert team_of(engine, "mike") == ["olivia", "oscar", "otto"]
    assert team_of(engine, "ada") == ["greta", "maria", "mike", "olivia", "oscar", "otto", "quinn"]
    assert team_of(engine, "olivia") == []


def test_an_export_reads_only_its_columns_in_the_lists_order(records: Engine) -> None:
    """The export's rows: the columns asked for, of the records the same filter lists, in its order, times in UTC."""
    chosen = RecordFilter(product="hx-200", sort="raised_at", direction="desc")
    rows = record_columns(records, chosen, ["id", "lot", "raised_at", "closed_at"], now=NOW)
    assert [tuple(row) for row in rows] == [
        ("NC-2026-0003", "L-7", T0 + timedelta(days=10), T0 + timedelta(days=20)),
        ("NC-2026-0001", "L-2291", T0, None),
    ]
    assert rows[0].raised_at.utcoffset() == timedelta(0)


def test_a_site_filter_finds_its_records_and_the_default_site_takes_those_raised_before_sites(engine: Engine) -> None:
    _record(engine, "NC-2026-0101", title="Berlin burr", site="Berlin plant")
    _record(engine, "NC-2026-0102", title="Monterrey scratch", site="Monterrey")
    _record(engine, "NC-2026-0103", title="Raised before sites")

    def ids(site: str) -> list[str]:
        where = RecordFilter(site=site, sort="id")
        listed = [row.id for row in list_records(engine, where, now=NOW, default_site="Berlin plant")]
        assert count_records(engine, where, now=NOW, default_site="Berlin plant") == len(listed)
        return listed

    assert ids("Berlin plant") == ["NC-2026-0101", "NC-2026-0103"]
    assert ids("Monterrey") == ["NC-2026-0102"]
    assert ids("Nowhere") == []
