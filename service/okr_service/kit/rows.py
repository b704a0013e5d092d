"""Whole rows read through asyncpg itself, for the reads every request makes.

SQLAlchemy's Core costs about as much CPU per row as asyncpg's decoding (96 key results:
2.7 ms of CPU through a session, 1.4 ms straight). The hot reads are a handful of fixed
shapes (rows by ID, rows grouped under a key), so their SQL is written once per table from
the model's metadata and run on the request's own connection: same transaction, same
tenant switch, same row-level security. Rows keep what callers rely on from SQLAlchemy's:
attribute access, and enum columns read as their Python enums.

The hottest write, a check-in, goes the same way (`Statement`, `execute`, `instance_of`):
building, compiling and flushing its statements through SQLAlchemy cost more CPU than the
rest of the request, and each round trip costs a send on the socket.
"""

from collections.abc import Mapping, Sequence
from enum import Enum
from functools import cache, partial
from operator import itemgetter
from typing import Any, NamedTuple, TypeVar

import asyncpg  # type: ignore[import-untyped]
from sqlalchemy import Enum as EnumType
from sqlalchemy import Table
from sqlalchemy.ext.asyncio import AsyncSession

from okr_service.kit.db import begin, driver_errors
from okr_service.kit.models import Base
from okr_service.kit.tracing import traced_driver_sql


class Record(asyncpg.Record):  # type: ignore[misc]
    """A row of one table: `row.title` as well as `row["title"]` and `row[0]`."""

    __slots__ = ()

    # Every column is a property of the table's own class (`record_class`).


def _enum_at(index: int, members: Mapping[str, Enum], row: Record) -> Any:
    value = row[index]
    return None if value is None else members[value]


@cache
def record_class(table: Table) -> type[Record]:
    """Rows of `table`, selected with `columns(table)`: each column an attribute (read by
    position, in C), enum columns as their Python enums."""
    attributes: dict[str, Any] = {"__slots__": ()}
    for index, column in enumerate(table.columns):
        enum = column.type.enum_class if isinstance(column.type, EnumType) else None
        if enum is None:
            attributes[column.name] = property(itemgetter(index))
        else:
            # SQLAlchemy stores a member's name (not its value).
            members = dict(enum.__members__)
            attributes[column.name] = property(partial(_enum_at, index, members))
    return type(f"{table.name}_record", (Record,), attributes)


@cache
def columns(table: Table, alias: str | None = None) -> str:
    """The table's column list, for a select whose rows `record_class(table)` reads."""
    prefix = f"{alias}." if alias else ""
    return ", ".join(f'{prefix}"{column.name}"' for column in table.columns)


@cache
def select_where(table: Table, where: str) -> str:
    """`SELECT <every column> FROM table <where>`; `where` is the caller's constant SQL."""
    return f'SELECT {columns(table)} FROM "{table.name}" {where}'  # noqa: S608 (no input)


async def fetch(db: AsyncSession, table: Table, sql: str, *arguments: Any) -> list[Record]:
    """The rows `sql` (positional `$n` parameters) selects, each with every column of
    `table` (see `columns`), on the session's connection inside its transaction."""
    return await _fetch(db, sql, arguments, record_class(table))


async def fetch_rows(db: AsyncSession, sql: str, *arguments: Any) -> list[asyncpg.Record]:
    """`fetch` for rows of no one table (a join, a write's RETURNING): asyncpg's records,
    read by position or by column name, enum columns as the names stored."""
    return await _fetch(db, sql, arguments, asyncpg.Record)


async def _fetch(
    db: AsyncSession, sql: str, arguments: Sequence[Any], record: type[asyncpg.Record]
) -> list[Any]:
    connection = await db.connection()
    await begin(connection)  # a statement going first must not run outside the transaction
    raw = await connection.get_raw_connection()
    driver = raw.driver_connection
    assert driver is not None
    with traced_driver_sql(connection, sql):
        async with driver_errors(connection, sql, arguments):
            rows: list[Any] = await driver.fetch(sql, *arguments, record_class=record)
    return rows


class Statement(NamedTuple):
    """SQL with its positional arguments (`$1`...), for another statement to carry along
    (a data-modifying CTE: two writes of different domains in one round trip)."""

    sql: str
    arguments: list[Any]


async def execute(db: AsyncSession, statement: Statement) -> None:
    await _fetch(db, statement.sql, statement.arguments, asyncpg.Record)


ModelT = TypeVar("ModelT", bound=Base)


def instance_of(model: type[ModelT], row: asyncpg.Record, start: int = 0) -> ModelT:
    """An instance of `model` (not in any session) holding the row's values of its columns,
    selected with `columns(table)` from position `start` on: for a write that runs its own
    SQL yet hands its rows on as models (payloads, events' snapshots)."""
    values = {}
    for index, column in enumerate(model.__table__.columns, start):
        value = row[index]
        enum = column.type.enum_class if isinstance(column.type, EnumType) else None
        values[column.key] = value if enum is None or value is None else enum[value]
    return model(**values)


def as_list(values: Sequence[Any]) -> list[Any]:
    """A list asyncpg binds as a uuid[] (it takes no other sequence)."""
    return values if isinstance(values, list) else list(values)
