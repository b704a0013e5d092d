"""Rows read through asyncpg directly behave as SQLAlchemy's did for their callers: the
same attributes and enum types, inside the request's transaction only, and the driver's
failures raised as SQLAlchemy raises them (so a timeout is still QUERY_TIMEOUT and a lost
connection still a 503)."""

import asyncio
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Enum, text
from sqlalchemy.dialects import postgresql
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from okr_service.key_results.models import KeyResult
from okr_service.kit.ids import decode_global_id
from okr_service.kit.numbers import to_decimal
from okr_service.kit.outage import is_database_unavailable, is_query_timeout
from okr_service.kit.repository import rows_by_ids
from okr_service.kit.rows import (
    columns,
    fetch,
    nested_row,
    nested_rows,
    record_class,
    select_where,
)
from okr_service.models import Base
from okr_service.okr.enums import Direction, Metric
from tests import factories
from tests.conftest import Api

KEY_RESULTS = KeyResult.__table__


async def key_result_id(api: Api) -> str:
    return (await factories.okr(api))["key_result"]


async def test_rows_read_like_sqlalchemy_rows(api: Api, engine: AsyncEngine) -> None:
    _, id_ = decode_global_id(await key_result_id(api), field="id")
    async with AsyncSession(engine) as db, db.begin():
        [fast] = (await rows_by_ids(db, KeyResult, api.organization_id, [id_])).values()
        slow = (await db.execute(KEY_RESULTS.select().where(KEY_RESULTS.c.id == id_))).one()
    for column in KEY_RESULTS.columns:
        assert getattr(fast, column.name) == getattr(slow, column.name), column.name
        assert type(getattr(fast, column.name)) in (type(getattr(slow, column.name)), type(None))
    assert fast.metric is slow.metric
    assert isinstance(fast.metric, Metric)
    assert isinstance(fast.direction, Direction)
    assert fast["id"] == fast.id == id_
    with pytest.raises(AttributeError):
        _ = fast.no_such_column


async def test_a_read_of_some_columns_has_those_and_the_extra_ones(
    api: Api, engine: AsyncEngine
) -> None:
    _, id_ = decode_global_id(await key_result_id(api), field="id")
    only = ("id", "metric", "target_value", "current_value")
    selected = columns(KEY_RESULTS, "k", only, numbers_as_floats=True)
    sql = f"SELECT {selected}, 7 FROM key_results k WHERE k.id = $1"
    async with AsyncSession(engine) as db, db.begin():
        [some] = await fetch(db, KEY_RESULTS, sql, id_, extra=("seven",), only=only)
        [whole] = (await rows_by_ids(db, KeyResult, api.organization_id, [id_])).values()
    assert some.id == whole.id
    assert some.metric is whole.metric
    assert type(some.target_value) is float
    assert some.target_value == float(whole.target_value)
    assert some.seven == 7
    with pytest.raises(AttributeError):
        _ = some.title


@settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(number=st.floats(allow_nan=False, allow_infinity=False))
async def test_a_number_read_as_a_float_is_the_float_of_its_decimal(
    engine: AsyncEngine, number: float
) -> None:
    """Figures computed from a read of numbers as floats (a report's) are those computed
    from whole rows: they only ever take the float of a stored NUMERIC (stored from the
    API's floats)."""
    stored = to_decimal(number)
    async with engine.connect() as connection:
        read = await connection.execute(
            text("SELECT CAST(CAST(:stored AS numeric) AS float8)"), {"stored": stored}
        )
    assert read.scalar_one() == float(stored)


@pytest.mark.parametrize("table", Base.metadata.sorted_tables, ids=str)
async def test_rows_nested_in_another_read_like_its_own_rows(
    api: Api, engine: AsyncEngine, table: Any
) -> None:
    """A table's rows read as an array inside another statement have the same attributes,
    values and types as its rows read alone: checked for every table, on a seeded
    organisation (a table it leaves empty compares empty lists)."""
    await factories.okr(api)
    key = ", ".join(f'"{column.name}"' for column in table.primary_key.columns)
    every = f"WHERE true ORDER BY {key}"
    async with AsyncSession(engine) as db, db.begin():
        alone = await fetch(db, table, select_where(table, every))
        sql = f'SELECT ARRAY(SELECT {nested_row(table, "t")} FROM "{table.name}" t {every})'
        [[array]] = await fetch(db, table, sql)
    nested = nested_rows(table, array)
    assert len(nested) == len(alone)
    for inner, outer in zip(nested, alone, strict=True):
        for column in table.columns:
            assert getattr(inner, column.name) == getattr(outer, column.name), column.name
            assert type(getattr(inner, column.name)) is type(getattr(outer, column.name))


async def test_a_read_going_first_runs_inside_the_transaction(engine: AsyncEngine) -> None:
    """SQLAlchemy begins a transaction with its first statement; a read through asyncpg
    going first must not run outside it (it would miss the tenant switch)."""
    async with AsyncSession(engine) as db, db.begin():
        await db.connection()
        await fetch(db, KEY_RESULTS, select_where(KEY_RESULTS, "LIMIT 1"))
        in_transaction = await db.execute(text("SELECT now() = statement_timestamp()"))
        assert in_transaction.scalar_one() is False  # now() is the transaction's start


async def test_a_statement_over_its_time_limit_is_a_query_timeout(engine: AsyncEngine) -> None:
    async with AsyncSession(engine) as db, db.begin():
        await db.execute(text("SET LOCAL statement_timeout = '50ms'"))
        with pytest.raises(DBAPIError) as raised:
            await fetch(db, KEY_RESULTS, select_where(KEY_RESULTS, "WHERE pg_sleep(1) IS NULL"))
    assert is_query_timeout(raised.value)
    assert not is_database_unavailable(raised.value)


async def test_a_lost_connection_is_an_outage_and_leaves_the_pool(engine: AsyncEngine) -> None:
    db = AsyncSession(engine)
    transaction = await db.begin()
    pid = (await db.execute(text("SELECT pg_backend_pid()"))).scalar_one()
    async with engine.connect() as other:
        await other.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
    await asyncio.sleep(0.2)  # the server's goodbye has arrived
    with pytest.raises(DBAPIError) as raised:
        await fetch(db, KEY_RESULTS, select_where(KEY_RESULTS, "LIMIT 1"))
    assert raised.value.connection_invalidated
    assert is_database_unavailable(raised.value)
    await transaction.rollback()  # nothing to roll back on a connection that is gone
    await db.close()
    async with engine.connect() as connection:  # the pool hands out a live one again
        assert (await connection.execute(text("SELECT 1"))).scalar_one() == 1


@pytest.mark.parametrize(
    "column",
    [
        column
        for table in Base.metadata.sorted_tables
        for column in table.columns
        if isinstance(column.type, Enum) and column.type.enum_class is not None
    ],
    ids=str,
)
def test_every_enum_column_reads_back_the_member_sqlalchemy_stored(column: Any) -> None:
    """What SQLAlchemy writes for a member (its name, not its value) reads back as that
    member: checked for every enum column of every table."""
    store = column.type.bind_processor(postgresql.asyncpg.dialect())
    index = list(column.table.columns).index(column)
    read = getattr(record_class(column.table), column.name).fget
    for member in column.type.enum_class:
        stored = store(member) if store else member.name
        assert read(FakeRow(index, stored)) is member


class FakeRow(tuple[Any, ...]):
    """A row holding `value` at `index` (the record classes read columns by position)."""

    def __new__(cls, index: int, value: Any) -> "FakeRow":
        return super().__new__(cls, [None] * index + [value])
