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
from sqlalchemy import Column, Numeric, Table
from sqlalchemy import Enum as EnumType
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


def _column_attributes(
    table: Table, extra: tuple[str, ...] = (), only: tuple[str, ...] | None = None
) -> dict[str, Any]:
    """Each column of `table` (the `only` ones when given), then each `extra` value, as a
    property reading its position (in C), enum columns as their Python enums: what
    `record_class` and `nested_row_class` rows share."""
    attributes: dict[str, Any] = {"__slots__": ()}
    chosen = _chosen(table, only)
    for index, column in enumerate(chosen):
        enum = column.type.enum_class if isinstance(column.type, EnumType) else None
        if enum is None:
            attributes[column.name] = property(itemgetter(index))
        else:
            # SQLAlchemy stores a member's name (not its value).
            members = dict(enum.__members__)
            attributes[column.name] = property(partial(_enum_at, index, members))
    for index, name in enumerate(extra, start=len(chosen)):
        attributes[name] = property(itemgetter(index))
    return attributes


@cache
def record_class(
    table: Table, extra: tuple[str, ...] = (), only: tuple[str, ...] | None = None
) -> type[Record]:
    """Rows of `table`, selected with `columns(table, only=only)` then the `extra` values a
    read adds (computed columns, as they come)."""
    suffix = "".join(f"_{name}" for name in extra) + ("_some" if only is not None else "")
    attributes = _column_attributes(table, extra, only)
    return type(f"{table.name}{suffix}_record", (Record,), attributes)


class NestedRow(tuple):  # type: ignore[type-arg]
    """A row of one table read inside another's, as `nested_row(table)` selects it: the
    same attributes as `record_class(table)`'s rows (by name only: `row["id"]` is not)."""

    __slots__ = ()


@cache
def nested_row_class(table: Table) -> type[NestedRow]:
    return type(f"{table.name}_nested_row", (NestedRow,), _column_attributes(table))


@cache
def nested_row(table: Table, alias: str) -> str:
    """`ROW(<every column of alias>)`: one row of `table` as a single value (of an array,
    say), decoded by `nested_rows`. An anonymous record keeps `columns(table)`'s order,
    which the table's own row type (its columns in the order migrations added them) need
    not."""
    return f"ROW({columns(table, alias)})"


def nested_rows(table: Table, values: Sequence[tuple[Any, ...]] | None) -> list[NestedRow]:
    """The rows of an array of `nested_row(table, ...)` values."""
    row = nested_row_class(table)
    return [row(value) for value in values or ()]


@cache
def columns(
    table: Table,
    alias: str | None = None,
    only: tuple[str, ...] | None = None,
    *,
    numbers_as_floats: bool = False,
) -> str:
    """The table's column list (the `only` ones when given), for a select whose rows
    `record_class(table, only=only)` reads. `numbers_as_floats` reads NUMERIC columns as
    float8, for reads that only compute with them: a float costs a fraction of a Decimal
    to decode, and both round a NUMERIC to the same float."""
    prefix = f"{alias}." if alias else ""
    return ", ".join(
        f'{prefix}"{column.name}"'
        + ("::float8" if numbers_as_floats and isinstance(column.type, Numeric) else "")
        for column in _chosen(table, only)
    )


def _chosen(table: Table, only: tuple[str, ...] | None) -> list[Column[Any]]:
    return list(table.columns) if only is None else [table.c[name] for name in only]


@cache
def select_where(table: Table, where: str) -> str:
    """`SELECT <every column> FROM table <where>`; `where` is the caller's constant SQL."""
    return f'SELECT {columns(table)} FROM "{table.name}" {where}'  # noqa: S608 (no input)


async def fetch(
    db: AsyncSession,
    table: Table,
    sql: str,
    *arguments: Any,
    extra: tuple[str, ...] = (),
    only: tuple[str, ...] | None = None,
) -> list[Record]:
    """The rows `sql` (positional `$n` parameters) selects, each with every column of
    `table` (the `only` ones when given, see `columns`) then the `extra` ones, on the
    session's connection inside its transaction."""
    return await fetch_as(record_class(table, extra, only), db, sql, *arguments)


async def fetch_rows(db: AsyncSession, sql: str, *arguments: Any) -> list[asyncpg.Record]:
    """`fetch` for rows of no one table (a join, a write's RETURNING): asyncpg's records,
    read by position or by column name, enum columns as the names stored."""
    return await fetch_as(asyncpg.Record, db, sql, *arguments)


async def fetch_as(
    kind: type[asyncpg.Record], db: AsyncSession, sql: str, *arguments: Any
) -> list[Any]:
    """The rows `sql` selects as `kind` (a `Record` class: read by position or name)."""
    connection = await db.connection()
    await begin(connection)  # a statement going first must not run outside the transaction
    raw = await connection.get_raw_connection()
    driver = raw.driver_connection
    assert driver is not None
    with traced_driver_sql(connection, sql):
        async with driver_errors(connection, sql, arguments):
            rows: list[Any] = await driver.fetch(sql, *arguments, record_class=kind)
    return rows


class Statement(NamedTuple):
    """SQL with its positional arguments (`$1`...), for another statement to carry along
    (a data-modifying CTE: two writes of different domains in one round trip)."""

    sql: str
    arguments: list[Any]


async def execute(db: AsyncSession, statement: Statement) -> None:
    await fetch_rows(db, statement.sql, *statement.arguments)


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
