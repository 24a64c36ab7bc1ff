"""Migration 0008 creates the search index and indexes the records already in the database; 0007 is without it."""

from sqlalchemy import Engine, inspect

from core import migrations, search
from core.search import similar
from tests.search.records import raised, root_cause_found


def _index_tables(engine: Engine) -> set[str]:
    return {table for table in inspect(engine).get_table_names() if search.is_index_table(table)}


def test_upgrading_from_0007_indexes_the_records_already_there(blank: Engine) -> None:
    """Records written before the index existed are found by their title, details and root cause once the
    database is upgraded; downgrading to 0007 removes the index and keeps the records."""
    migrations.upgrade(blank)
    capa = raised(blank, "NC-2026-0001", "Burr on housing edge", "Found at final inspection", supplier="Acme")
    root_cause_found(blank, capa, "Cutting tool worn", ["No tool-life counter"])
    raised(blank, "NC-2026-0002", "Label misprinted", "Carton labels show the wrong date")

    steps = migrations.downgrade(blank, "0007")

    # Later revisions go first, then 0008.
    assert steps[-1].revision == "0008"
    assert _index_tables(blank) == set()

    result = migrations.upgrade(blank)

    assert result.steps[0].revision == "0008"
    assert search.TABLE in _index_tables(blank)
    for words in ("housing", "inspection", "acme", "worn", "counter"):
        assert [hit.record_id for hit in similar(blank, words)] == ["NC-2026-0001"], words
    assert [hit.record_id for hit in similar(blank, "carton")] == ["NC-2026-0002"]


def test_a_record_written_after_the_upgrade_is_indexed_by_the_writer(blank: Engine) -> None:
    """After the upgrade from 0007 the read-model writer keeps the index: a new record is found at once."""
    migrations.upgrade(blank, "0007")
    migrations.upgrade(blank)

    raised(blank, "NC-2026-0003", "Burr on housing edge", "Found at final inspection", customer="Nordwerk")

    assert [hit.record_id for hit in similar(blank, "nordwerk")] == ["NC-2026-0003"]
