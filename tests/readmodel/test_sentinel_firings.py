"""A firing's linked CAPA gets an ordinary record id from the record counter, once: concurrent attempts for the same
firing agree on it, and the counter moves once per firing."""

from concurrent.futures import ThreadPoolExecutor

from sqlalchemy import Engine
from sqlmodel import Session, select

from core.readmodel import allocate_record_id
from core.sentinels import firing_record_id, stored_firing
from models.tables import SentinelFiring


def test_a_firing_gets_one_ordinary_id_however_often_it_is_asked(engine: Engine) -> None:
    before = allocate_record_id(engine, 2031)
    with ThreadPoolExecutor(max_workers=4) as pool:
        ids = list(pool.map(lambda _: firing_record_id(engine, "sentinel:r:H-200/BURR", "run-1", 1, 2031), range(8)))
    second = firing_record_id(engine, "sentinel:r:H-200/BURR", "run-1", 2, 2031)
    after = allocate_record_id(engine, 2031)
    assert len(set(ids)) == 1
    assert [before, ids[0], second, after] == [f"NC-2031-{n:04d}" for n in range(1, 5)]
    assert stored_firing(engine, "sentinel:r:H-200/BURR", "run-1", 1) == ids[0]
    with Session(engine) as session:
        assert len(session.exec(select(SentinelFiring)).all()) == 2
