"""How every mutation runs: the service call, its user errors, and the transaction."""

from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import strawberry
from graphql import (
    FragmentDefinitionNode,
    FragmentSpreadNode,
    InlineFragmentNode,
    SelectionSetNode,
)
from sqlalchemy.ext.asyncio import AsyncSession

from okr_service.events.service import camel_case
from okr_service.graphql.context import Info
from okr_service.graphql.nodes import UserError
from okr_service.kit.errors import DomainError, ErrorCode
from okr_service.kit.ids import optional_id
from okr_service.kit.models import Base
from okr_service.kit.principal import Principal
from okr_service.kit.validation import Problems

PayloadT = TypeVar("PayloadT")


@strawberry.type
class Payload:
    user_errors: list[UserError] = strawberry.field(
        default_factory=list,
        description="Why the input was refused, one entry per problem; empty when the change "
        "was made. When any is reported, nothing was written.",
    )


EXPECTED_VERSION = (
    "Refuse the update with VERSION_CONFLICT unless the object is still at this `version` "
    "(optimistic concurrency); omitted: no check."
)


def changed(what: str) -> Any:
    """A payload's field holding the object a mutation changed."""
    return strawberry.field(
        default=None, description=f"{what}; null when `userErrors` says why nothing was written."
    )


def input_argument(description: str) -> Any:
    """The `input` argument of a mutation, described."""
    return strawberry.argument(description=description)


async def mutate(
    info: Info,
    payload: Callable[..., PayloadT],
    action: Callable[[AsyncSession, Principal], Awaitable[dict[str, Any]]],
) -> PayloadT:
    """Run `action` and wrap its result (payload field -> value) or its user errors.

    A mutation reporting user errors writes nothing: alone in its request it marks the
    transaction for rollback; beside other mutations it runs in a savepoint so theirs stand.
    """
    context = info.context
    alone = root_field_count(info.operation.selection_set, info._raw_info.fragments) == 1
    context.forget_reads()
    try:
        async with context.db_lock:
            if alone:
                fields = await action(context.db, context.principal)
            else:
                async with context.db.begin_nested():
                    fields = await action(context.db, context.principal)
    except DomainError as error:
        if alone:
            context.rollback_only = True
        return payload(
            user_errors=[
                UserError(
                    field=None if e.field is None else list(e.field), message=e.message, code=e.code
                )
                for e in error.errors
            ]
        )
    return payload(**fields)


def root_field_count(
    selections: SelectionSetNode, fragments: dict[str, FragmentDefinitionNode]
) -> int:
    """How many fields an operation selects at its root, fragments expanded (a fragment
    holding two mutations is two). @skip/@include are ignored: overcounting only costs a
    savepoint, undercounting would lose a sibling's write."""
    count = 0
    for selection in selections.selections:
        if isinstance(selection, FragmentSpreadNode):
            fragment = fragments.get(selection.name.value)
            count += root_field_count(fragment.selection_set, fragments) if fragment else 0
        elif isinstance(selection, InlineFragmentNode):
            count += root_field_count(selection.selection_set, fragments)
        else:
            count += 1
    return count


def changes_of(
    input_: object, model: type[Base], references: dict[str, str] | None = None
) -> dict[str, Any]:
    """The fields a partial update input actually sets (UNSET ones are left out).

    Global IDs of `references` (field -> node type) become UUIDs; null for a column that
    cannot be null is a REQUIRED user error.
    """
    changes = {
        name: value
        for name, value in vars(input_).items()
        if value is not strawberry.UNSET and name != "id"
    }
    columns = model.__table__.columns
    problems = Problems()
    for name, value in changes.items():
        if value is None and name in columns and not columns[name].nullable:
            problems.add(camel_case(name), "This field cannot be null.", ErrorCode.REQUIRED)
    problems.raise_if_any()
    for name, type_name in (references or {}).items():
        if name in changes:
            changes[name] = optional_id(changes[name], type_name, field=camel_case(name))
    return changes
