"""Earlier similar nonconformities are found by any word of what a person types, best match first."""

from datetime import timedelta

import pytest
from sqlalchemy import Engine

from activities.records import write_snapshot
from core.search import similar
from models.enums import ActionStatus
from models.payloads import RecordSnapshot
from tests.builders import T0, action, event
from tests.search.records import raised, root_cause_found


def _ids(engine: Engine, query: str, exclude: str | None = None) -> list[str]:
    return [hit.record_id for hit in similar(engine, query, exclude=exclude)]


@pytest.fixture
def housing(engine: Engine) -> Engine:
    """One record with every indexed field set, its action done with evidence, and an unrelated record."""
    done = action("A1", "olivia", T0 + timedelta(days=5), status=ActionStatus.COMPLETED)
    raised(
        engine,
        "NC-2026-0001",
        "Burr on housing edge",
        "Line 3 housings show a sharp ridge after milling",
        product="Gearbox",
        lot="Lot4711",
        defect_code="Flash",
        supplier="Acme Castings",
        customer="Nordwerk",
        actions=[done.model_copy(update={"evidence": "Deburring fixture installed, work order WO5531"})],
    )
    raised(engine, "NC-2026-0002", "Label misprinted", "Carton labels show the wrong date")
    return engine


@pytest.mark.parametrize(
    "query",
    [
        "burr",  # title
        "ridge after milling",  # description
        "gearbox",  # product
        "lot4711",  # lot
        "FLASH",  # defect code
        "acme",  # supplier
        "Nordwerk",  # customer
        "WO5531",  # action evidence
    ],
)
def test_a_record_is_found_by_a_word_of_each_indexed_field(housing: Engine, query: str) -> None:
    """A word from the title, description, product, lot, defect code, supplier, customer or an action's evidence
    finds the record, and only it."""
    assert _ids(housing, query) == ["NC-2026-0001"]


def test_the_hit_shows_the_record_and_why_it_matched(housing: Engine) -> None:
    """A hit carries what a list shows (title, stage, severity, when raised) and the matched words in context."""
    [hit] = similar(housing, "sharp ridge")

    assert (hit.record_id, hit.title, hit.stage.value, hit.severity.value) == (
        "NC-2026-0001",
        "Burr on housing edge",
        "containment",
        "major",
    )
    assert hit.raised_at == T0
    assert "[sharp]" in hit.snippet
    assert "[ridge]" in hit.snippet


def test_word_forms_match(housing: Engine) -> None:
    """ "burrs" finds a record about a burr: both backends stem English words."""
    assert _ids(housing, "burrs") == ["NC-2026-0001"]


def test_the_root_cause_is_found_once_the_step_is_written(engine: Engine) -> None:
    """The cause statement and every why of the why-chain find the record after its root-cause step, not before."""
    capa = raised(engine, "NC-2026-0001", "Burr on housing edge", "Line 3 housings show a burr")
    assert _ids(engine, "counter") == []

    root_cause_found(engine, capa, "Cutting tool worn past its life", ["Tool changes not logged", "No counter"])

    assert _ids(engine, "worn") == ["NC-2026-0001"]
    assert _ids(engine, "logged") == ["NC-2026-0001"]
    assert _ids(engine, "counter") == ["NC-2026-0001"]


def test_any_word_matches_and_the_record_sharing_more_words_comes_first(engine: Engine) -> None:
    """Records sharing any one word are listed; the one sharing the most words is first."""
    raised(engine, "NC-2026-0001", "Scratch on cover", "Cover scratched in packing")
    raised(engine, "NC-2026-0002", "Burr on housing edge", "Milled housing edge has a burr")
    raised(engine, "NC-2026-0003", "Housing cracked", "Crack near the housing boss")

    assert _ids(engine, "burr on the housing edge") == ["NC-2026-0002", "NC-2026-0003"]


def test_the_record_under_investigation_is_left_out(engine: Engine) -> None:
    """``exclude`` leaves out the record whose root cause is being investigated; earlier ones stay."""
    raised(engine, "NC-2026-0001", "Burr on housing edge", "Milled housing edge has a burr")
    raised(engine, "NC-2026-0002", "Burr on housing", "Burr found again on line 3")

    assert _ids(engine, "burr housing", exclude="NC-2026-0002") == ["NC-2026-0001"]


def test_a_rewritten_record_is_found_by_its_new_words_only_and_once(engine: Engine) -> None:
    """The search row follows the record's row: a newer state replaces it, the same state written twice (a retried
    activity) leaves one row, an older snapshot arriving late changes nothing."""
    capa = raised(engine, "NC-2026-0001", "Burr on housing edge", "Found at final inspection")
    newer = capa.model_copy(update={"title": "Sharp ridge on cover"})
    for _ in range(2):
        write_snapshot(engine, RecordSnapshot(state=newer, new_events=[event(1), event(2)]))
    write_snapshot(engine, RecordSnapshot(state=capa, new_events=[]))

    assert _ids(engine, "burr") == []
    assert _ids(engine, "ridge") == ["NC-2026-0001"]
    assert _ids(engine, "ridge inspection") == ["NC-2026-0001"]


@pytest.mark.parametrize(
    "query",
    [
        '"',
        '"burr',
        "*",
        "burr*",
        "NEAR(burr housing)",
        "OR",
        "burr OR",
        "-",
        "-burr",
        "burr AND NOT housing",
        "title:burr",
        "burr & housing | !edge",
        "'burr'",
        "^burr",
        "(burr",
        "\x00burr\x07\x1b[31m",
        "burr " * 1024,
        "x" * 5000,
        "épaisseur Übermaß 毛刺",
    ],
)
def test_hostile_or_odd_queries_never_raise(housing: Engine, query: str) -> None:
    """Quotes, operators, column filters, control characters, 5 KB of text: the words are searched, the syntax
    is not obeyed, nothing raises, and without a word of the record nothing is found."""
    hits = similar(housing, query)

    expected = ["NC-2026-0001"] if "burr" in query.lower() else []
    assert [hit.record_id for hit in hits] == expected


@pytest.mark.parametrize("query", ["", "   ", "the of and", '"" * -'])
def test_a_query_without_meaningful_words_finds_nothing(housing: Engine, query: str) -> None:
    """Nothing typed, only common words or only punctuation: an empty list, not every record."""
    assert similar(housing, query) == []


def test_the_limit_caps_the_hits(engine: Engine) -> None:
    """At most ``limit`` records come back."""
    for number in range(1, 6):
        raised(engine, f"NC-2026-{number:04d}", f"Burr number {number}", "A burr")

    assert len(similar(engine, "burr", limit=3)) == 3
