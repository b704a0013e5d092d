"""Whole rows read through asyncpg itself, for the reads every request makes.

SQLAlchemy's Core costs about as much CPU per row as asyncpg's decoding (96 key results:
2.7 ms of CPU through a session, 1.4 ms straight). The hot reads are a handful of fixed
shapes (rows by ID, rows grouped under a key), so their SQL is written once per table from
the model's metadata and run on the request's own connection: same transaction, same
tenant switch, same row-level security. Rows keep what callers rely on from SQLAlchemy's:
attribute access, and enum columns read as their Python enums.
"""

from collections.abc import Mapping, Sequence
from enum import Enum
from functools import cache, partial
from operator import itemgetter
from typing import Any

import asyncpg  # type: ignore[import-untyped]
from sqlalchemy import Enum as EnumType
from sqlalchemy import Table
from sqlalchemy.ext.asyncio import AsyncSession

from okr_service.kit.db import begin, driver_errors


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
    return await fetch_as(record_class(table), db, sql, *arguments)


async def fetch_as(kind: type[Record], db: AsyncSession, sql: str, *arguments: Any) -> list[Record]:
    """The rows `sql` selects as `kind` (`Record`: read by position or column name)."""
    connection = await db.connection()
    await begin(connection)  # a read going first must not run outside the transaction
    raw = await connection.get_raw_connection()
    driver = raw.driver_connection
    assert driver is not None
    async with driver_errors(connection, sql, arguments):
        rows: list[Record] = await driver.fetch(sql, *arguments, record_class=kind)
    return rows


def as_list(values: Sequence[Any]) -> list[Any]:
    """A list asyncpg binds as a uuid[] (it takes no other sequence)."""
    return values if isinstance(values, list) else list(values)
