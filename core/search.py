"""Full-text search of records, for "earlier similar nonconformities" (ISO 9001 10.2.1 b3) and the records list.

The records list's search box filters through the same index (``matching``): a record must hold every word.

Each record has one row in ``record_search``: its title, its details (description, product, lot, defect code,
supplier, customer), its root causes (every cause statement and why-chain) and its actions' evidence. The
read-model writer upserts that row in the transaction that writes the record's own row (``write_document``);
migration 0007 creates the index and fills it for the records already there (``reindex``).

SQLite indexes the row with an FTS5 table whose content is ``record_search`` (triggers keep the two in step);
PostgreSQL with a generated ``tsvector`` column under a GIN index. Both stem English words, so "burrs" finds
"burr". What people type is never handed over as query syntax: it is cut into words here and each word is
quoted (FTS5) or parsed as plain text (``plainto_tsquery``), so quotes, ``NEAR(``, ``OR`` or ``-`` are just
characters.
"""

import functools
import re
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from pydantic import BaseModel
from sqlalchemy import Column, Connection, Engine, Insert, MetaData, String, Table, Text, bindparam
from sqlalchemy import select as select_columns
from sqlalchemy import text as sql
from sqlalchemy.sql.selectable import TextualSelect

from core.database import insert_for_dialect, session_scope, table_of
from models.enums import Severity, Stage
from models.payloads import CapaState
from models.tables import Nonconformity, UtcDateTime

# The table the writer fills, and (SQLite) the FTS5 table over it, whose shadow tables share its name as prefix.
TABLE = "record_search"
FTS_TABLE = "record_search_fts"
# The text search configuration of PostgreSQL and the tokenizer of FTS5: both stem English.
PG_CONFIG = "english"
FTS_TOKENIZER = "porter unicode61 remove_diacritics 2"

# The most words of a query that count, and the longest word: a pasted page must not become a huge query.
MOST_WORDS = 32
LONGEST_WORD = 64
# The most hits one search returns.
MOST_HITS = 100

# The text columns, in the order FTS5 and ``bm25`` weigh them: a word in the title counts most.
COLUMNS = ("title", "details", "root_cause", "evidence")
_FTS_WEIGHTS = (4.0, 2.0, 2.0, 1.0)

# Only the columns the writer sets: SQLite numbers the rows itself, PostgreSQL computes the tsvector.
_search_rows = Table(
    TABLE,
    MetaData(),
    Column("record_id", String, primary_key=True),
    *(Column(name, Text, nullable=False) for name in COLUMNS),
)

# Words too common to say two records are alike; PostgreSQL's English configuration drops these too.
_STOP_WORDS = frozenset(
    """a about above after again against all am an and any are as at be because been before being below between
    both but by can could did do does doing down during each few for from further had has have having he her here
    hers him his how i if in into is it its itself just me more most my no nor not now of off on once only or other
    our ours out over own same she should so some such than that the their theirs them then there these they this
    those through to too under until up very was we were what when where which while who whom why will with would
    you your yours""".split()  # noqa: SIM905 - a word list reads best as words, not 130 quoted lines
)
_WORD = re.compile(r"[^\W_]+")


class SearchHit(BaseModel):
    """One record a search found, best match first; ``snippet``: a few words around the match, the words in
    [brackets]."""

    record_id: str
    title: str
    stage: Stage
    severity: Severity
    raised_at: datetime
    snippet: str


def is_index_table(name: str) -> bool:
    """Whether ``name`` is one of the search index's tables, which the migrations keep and the models do not name."""
    return name == TABLE or name.startswith(FTS_TABLE)


def words(query: str) -> list[str]:
    """The meaningful words of ``query``: letters and digits only, lower case, each once, without common words."""
    found: list[str] = []
    for word in _WORD.findall(query.casefold()):
        if word in _STOP_WORDS or word in found or len(word) > LONGEST_WORD:
            continue
        found.append(word)
        if len(found) == MOST_WORDS:
            break
    return found


def similar(engine: Engine, text: str, *, exclude: str | None = None, limit: int = 10) -> list[SearchHit]:
    """Records sharing any meaningful word of ``text``, best match first (bm25 on SQLite, ts_rank on PostgreSQL);
    ``exclude``: a record to leave out (the one being investigated). No meaningful word: no hit."""
    found = words(text)
    limit = max(0, min(limit, MOST_HITS))
    if not found or limit == 0:
        return []
    if engine.dialect.name == "postgresql":
        query, parameters = _postgres_query(found)
    else:
        query, parameters = _sqlite_query(found)
    with session_scope(engine) as session:
        rows = session.connection().execute(query, {**parameters, "exclude": exclude, "limit": limit}).all()
    return [
        SearchHit(
            record_id=row.id,
            title=row.title,
            stage=Stage(row.stage),
            severity=Severity(row.severity),
            raised_at=row.raised_at,
            snippet=" ".join(row.snippet.split()),
        )
        for row in rows
    ]


def _sqlite_query(found: list[str]) -> tuple[TextualSelect, dict[str, Any]]:
    # Every word a quoted string (a quote inside doubled), joined by OR: FTS5 reads no operator from the user.
    match = " OR ".join('"{}"'.format(word.replace('"', '""')) for word in found)
    weights = ", ".join(str(weight) for weight in _FTS_WEIGHTS)
    query = sql(
        f"""
        SELECT r.id, r.title, r.stage, r.severity, r.raised_at,
               snippet({FTS_TABLE}, -1, '[', ']', '…', 12) AS snippet
        FROM {FTS_TABLE}
        JOIN {TABLE} s ON s.id = {FTS_TABLE}.rowid
        JOIN nonconformities r ON r.id = s.record_id
        WHERE {FTS_TABLE} MATCH :match AND (:exclude IS NULL OR r.id != :exclude)
        ORDER BY bm25({FTS_TABLE}, {weights}), r.raised_at DESC, r.id
        LIMIT :limit
        """  # noqa: S608 - only this module's names and weights are formatted in; the words are a bound parameter
    ).columns(raised_at=UtcDateTime())
    return query, {"match": match}


def _postgres_query(found: list[str]) -> tuple[TextualSelect, dict[str, Any]]:
    # Each word parsed as plain text on its own and the queries OR-ed: no tsquery syntax comes from the user.
    parameters = {f"w{n}": word for n, word in enumerate(found)}
    tsquery = " || ".join(f"plainto_tsquery('{PG_CONFIG}', :{name})" for name in parameters)
    content = " || ' … ' || ".join(f"s.{column}" for column in COLUMNS)
    query = sql(
        f"""
        WITH q AS (SELECT {tsquery} AS query),
        hits AS (
            SELECT s.record_id, {content} AS content, ts_rank(s.document, q.query) AS rank, q.query
            FROM {TABLE} s, q
            WHERE s.document @@ q.query AND (CAST(:exclude AS varchar) IS NULL OR s.record_id != :exclude)
        )
        SELECT r.id, r.title, r.stage, r.severity, r.raised_at,
               ts_headline('{PG_CONFIG}', hits.content, hits.query,
                           'StartSel=[, StopSel=], MinWords=5, MaxWords=12, MaxFragments=1') AS snippet
        FROM hits JOIN nonconformities r ON r.id = hits.record_id
        ORDER BY hits.rank DESC, r.raised_at DESC, r.id
        LIMIT :limit
        """  # noqa: S608 - only this module's names and parameter names are formatted in; the words are bound
    ).columns(raised_at=UtcDateTime())
    return query, parameters


def matching(query: str, dialect: str) -> TextualSelect:
    """The ids of the records whose indexed text holds every meaningful word of ``query`` (stemmed as the index
    stems), for the records list's search box; a query without one (only common words) matches every record."""
    found = words(query)
    if not found:
        return sql(f"SELECT record_id FROM {TABLE}").columns(record_id=String())  # noqa: S608 - a constant name
    if dialect == "postgresql":
        names = {f"search_w{n}": word for n, word in enumerate(found)}
        tsquery = " && ".join(_pg_word(name, word) for name, word in names.items())
        return (
            sql(f"SELECT record_id FROM {TABLE} WHERE document @@ ({tsquery})")  # noqa: S608 - names, not words
            .bindparams(**names)
            .columns(record_id=String())
        )
    # Every word a quoted string (a quote inside doubled); side by side FTS5 wants them all.
    match = " ".join('"{}"'.format(word.replace('"', '""')) for word in found)
    return (
        sql(
            f"SELECT s.record_id FROM {TABLE} s JOIN {FTS_TABLE} ON s.id = {FTS_TABLE}.rowid "  # noqa: S608 - names
            f"WHERE {FTS_TABLE} MATCH :search_match"
        )
        .bindparams(search_match=match)
        .columns(record_id=String())
    )


def _pg_word(name: str, word: str) -> str:
    """One word of a search as a tsquery. PostgreSQL's parser reads the number of "L-2291" or "HX-200" as a signed
    one ("-2291"), so a number typed on its own looks for both."""
    word_query = f"plainto_tsquery('{PG_CONFIG}', :{name})"
    if not word.isdigit():
        return word_query
    return f"({word_query} || plainto_tsquery('{PG_CONFIG}', '-' || :{name}))"


# --- keeping the index ------------------------------------------------------------------------------------------


def document(state: CapaState) -> dict[str, str]:
    """The search row of a record: the text of each indexed column."""
    details = [state.description, state.product, state.lot, state.defect_code, state.supplier, state.customer]
    causes = [line for cause in state.root_causes for line in (cause.cause, *cause.whys)]
    evidence = [action.evidence for action in state.actions]
    return {
        "record_id": state.id,
        "title": state.title,
        "details": _lines(details),
        "root_cause": _lines(causes),
        "evidence": _lines(evidence),
    }


def _lines(parts: Sequence[str | None]) -> str:
    # One line of text, so a snippet across two parts reads "Tool worn; No tool-life counter".
    return "; ".join(part for part in parts if part)


def write_document(connection: Connection, state: CapaState) -> None:
    """Write the record's search row (replacing the one there), in the caller's transaction."""
    connection.execute(_upsert(connection.dialect.name), document(state))


@functools.cache
def _upsert(dialect: str) -> Insert:
    upsert = insert_for_dialect(dialect, _search_rows)
    return upsert.on_conflict_do_update(
        index_elements=["record_id"], set_={name: upsert.excluded[name] for name in COLUMNS}
    )


# How many records ``reindex`` reads at a time.
_REINDEX_BATCH = 500


def reindex(connection: Connection) -> int:
    """Rewrite every record's search row from its stored state, in the caller's transaction; how many it wrote.

    Migration 0007 calls it to index the records already in the database; it also repairs an index by hand.
    """
    records = table_of(Nonconformity)
    page = (
        select_columns(records.c.id, records.c.state_json)
        .where(records.c.id > bindparam("after"))
        .order_by(records.c.id)
        .limit(_REINDEX_BATCH)
    )
    connection.execute(_search_rows.delete())
    written, after = 0, ""
    while rows := connection.execute(page, {"after": after}).all():
        states = [CapaState.model_validate_json(row.state_json) for row in rows]
        connection.execute(_upsert(connection.dialect.name), [document(state) for state in states])
        written += len(rows)
        after = rows[-1].id
    return written
