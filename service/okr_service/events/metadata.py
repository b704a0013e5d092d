"""What the table metadata tells the event log: which columns reference which objects, and
which rows the database deletes along with a row (ON DELETE CASCADE).

Derived from the foreign keys, so a new reference column shows as a global ID in payloads
and a new cascading table is told about without anybody updating a list here.
"""

from functools import cache
from typing import Any

from sqlalchemy import ForeignKeyConstraint

from okr_service.kit.models import Base

# A column may reference rows without a foreign key (the row may outlive it); it names the
# referenced table in its `info`, e.g. `mapped_column(info={REFERENCES: "objectives"})`.
REFERENCES = "references"
# The tenant key: every table has it, no payload shows it.
TENANT_TABLE = "organizations"


@cache
def _class_names() -> dict[str, str]:
    """Table name -> the name of the class mapped to it (which is its GraphQL type name)."""
    tables: dict[str, str] = {}
    for mapper in Base.registry.mappers:
        table: Any = mapper.local_table
        tables[table.name] = mapper.class_.__name__
    return tables


def referenced_table(column: Any) -> str | None:
    """The table whose row `column` references (by `id`), or None for a plain value."""
    for foreign_key in column.foreign_keys:
        if foreign_key.column.key == "id" and foreign_key.column.table.name != TENANT_TABLE:
            name: str = foreign_key.column.table.name
            return name
    referenced = column.info.get(REFERENCES)
    return referenced if isinstance(referenced, str) else None


def referenced_type(column: Any) -> str | None:
    """The type name of the object `column` references, or None for a plain value."""
    table = referenced_table(column)
    return None if table is None else _class_names()[table]


def model_of(type_name: str) -> type[Base]:
    """The mapped class of a type name (`KeyResult` -> the `KeyResult` model)."""
    for mapper in Base.registry.mappers:
        if mapper.class_.__name__ == type_name:
            model: type[Base] = mapper.class_
            return model
    raise KeyError(type_name)


def cascading_references(table: Any) -> list[tuple[type[Base], Any]]:
    """(model, column) of every tenant reference to `table` the database cascades deletes
    through: rows of `model` whose `column` holds a deleted row's id go with it."""
    found: list[tuple[type[Base], Any]] = []
    for mapper in Base.registry.mappers:
        own_table: Any = mapper.local_table
        for constraint in own_table.constraints:
            if not isinstance(constraint, ForeignKeyConstraint) or constraint.ondelete != "CASCADE":
                continue
            if constraint.referred_table is not table:
                continue
            for column in constraint.columns:
                if column.key != "organization_id":
                    found.append((mapper.class_, column))
    return found
