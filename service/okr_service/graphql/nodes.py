"""Relay plumbing shared by every node type: lookups by ID, cursor connections, user errors."""

from collections.abc import Awaitable, Callable, Iterable, Sequence
from typing import Annotated, Any, ClassVar, Self, TypeVar
from uuid import UUID

import strawberry
from sqlalchemy.ext.asyncio import AsyncSession
from strawberry import relay

# Registers every enum the types use, described, before any type is built.
from okr_service.graphql import enums  # noqa: F401
from okr_service.graphql.context import BatchLoad, Info
from okr_service.kit.errors import DomainError, ErrorCode
from okr_service.kit.ids import (
    decode_cursor,
    decode_global_id,
    decode_position,
    encode_cursor,
    encode_position,
)
from okr_service.kit.models import TenantMixin
from okr_service.kit.principal import Scope
from okr_service.kit.repository import Page, ParentRows, Window, page, rows_by_ids
from okr_service.kit.rows import Record


@strawberry.type(description="An expected problem with the input: nothing was written.")
class UserError:
    field: list[str] | None = strawberry.field(description="Path to the input field at fault.")
    message: str = strawberry.field(description="What is wrong, for people.")
    code: ErrorCode = strawberry.field(description="What is wrong, stable, for programs.")


_BY_IDS: dict[type[TenantMixin], BatchLoad] = {}


def by_ids(model: type[TenantMixin]) -> BatchLoad:
    """The batch function loading rows of `model` by ID (one per model, so loaders are shared)."""
    if model not in _BY_IDS:
        _BY_IDS[model] = _rows_by_ids_of(model)
    return _BY_IDS[model]


def _rows_by_ids_of(model: type[TenantMixin]) -> BatchLoad:
    async def load(db: AsyncSession, organization_id: UUID, ids: list[UUID]) -> dict[UUID, Record]:
        return await rows_by_ids(db, model, organization_id, ids)

    return load


class ModelNode(relay.Node):
    """A node backed by one table row."""

    model: ClassVar[type[TenantMixin]]

    @classmethod
    def from_row(cls, row: Any) -> Self:
        raise NotImplementedError

    @classmethod
    async def load(cls, info: Info, id_: UUID | None) -> Self | None:
        if id_ is None:
            return None
        row = await info.context.loader(by_ids(cls.model)).load(id_)
        return None if row is None else cls.from_row(row)

    @classmethod
    async def resolve_reference(cls, info: Info, id: strawberry.ID) -> Self | None:
        """Federation's `_entities`: this node as another subgraph references it (its global
        ID), within the caller's organization: another tenant's ID is null, as if unknown."""
        type_name, id_ = decode_global_id(id, field="id")
        return await cls.load(info, id_) if type_name == cls.__name__ else None

    @classmethod
    async def load_required(cls, info: Info, id_: UUID) -> Self:
        """Load a row a foreign key guarantees to exist."""
        found = await cls.load(info, id_)
        assert found is not None, f"{cls.__name__} {id_} referenced but missing"
        return found

    @classmethod
    async def load_many(cls, info: Info, ids: Iterable[UUID | None]) -> list[Self]:
        """The rows of `ids` that exist, in order, each once (one batched statement)."""
        unique = [id_ for id_ in dict.fromkeys(ids) if id_ is not None]
        rows = await info.context.loader(by_ids(cls.model)).load_many(unique)
        return [cls.from_row(row) for row in rows if row is not None]

    @classmethod
    async def resolve_nodes(  # type: ignore[override]
        cls, *, info: Info, node_ids: Iterable[str], required: bool = False
    ) -> list[Self | None]:
        ids = [parse_uuid(node_id) for node_id in node_ids]
        loader = info.context.loader(by_ids(cls.model))
        rows = await loader.load_many([id_ for id_ in ids if id_ is not None])
        found = {row.id: cls.from_row(row) for row in rows if row is not None}
        return [found.get(id_) if id_ else None for id_ in ids]


class AdminNode(ModelNode):
    """A node only admin keys may fetch, by `node(id:)` too."""

    @classmethod
    async def resolve_nodes(  # type: ignore[override]
        cls, *, info: Info, node_ids: Iterable[str], required: bool = False
    ) -> list[Self | None]:
        info.context.principal.require(Scope.ADMIN)
        return await super().resolve_nodes(info=info, node_ids=node_ids, required=required)


def parse_uuid(value: str) -> UUID | None:
    try:
        return UUID(value)
    except ValueError:
        return None


NodeT = TypeVar("NodeT", bound=ModelNode)


def prime(info: Info, *rows: TenantMixin) -> None:
    """Hand rows a mutation already holds to the request's loaders: its payload's fields
    then read them without asking the database again."""
    for row in rows:
        info.context.loader(by_ids(type(row))).prime(row.id, row)


def page_size(first: int | None, limit: int) -> int:
    """The page `first` asks for, at most `limit` (the app's `max_page_size`)."""
    if first is None:
        return min(25, limit)
    if not 0 <= first <= limit:
        raise DomainError.single("first", f"Must be between 0 and {limit}.", ErrorCode.OUT_OF_RANGE)
    return first


Fetch = Callable[[AsyncSession, Window], Awaitable[Page]]
# The arguments of every connection.
FIRST = (
    "How many items to return, from 0 to the server's largest page (100 unless configured "
    "otherwise); 25 when omitted."
)
AFTER = "The `endCursor` of the previous page: this page starts after it."
First = Annotated[int | None, strawberry.argument(description=FIRST)]
After = Annotated[str | None, strawberry.argument(description=AFTER)]
Counter = Callable[[], Awaitable[int | None]]
# Fields many types share.
CREATED = "When it was created."
UPDATED = "When any of its fields last changed."
VERSION = (
    "Grows by one with each change. Pass it back as `expectedVersion` to update only the "
    "state you read (optimistic concurrency)."
)


async def no_count() -> None:
    return None


@strawberry.type(description="One page of a list, in the list's order, and where it goes on.")
class Connection(relay.Connection[relay.NodeType]):
    """Named `<Node>Connection` in the schema, as Strawberry names relay connections."""

    counter: strawberry.Private[Counter] = no_count

    @strawberry.field(
        description="How many items the whole list holds, every page together (its filters "
        "applied). Counted only when selected. Null for lists filtered by health, a figure "
        "derived from each item's key results: counting those would mean measuring them all."
    )
    async def total_count(self) -> int | None:
        return await self.counter()


def window_of(info: Info, first: int | None, after: str | None) -> Window:
    """The page `first`/`after` ask for (at most the app's `max_page_size` items)."""
    return page_window(first, after, limit=info.context.settings.max_page_size)


def page_window(first: int | None, after: str | None, *, limit: int) -> Window:
    """The page `first`/`after` ask for, at most `limit` items."""
    after_id = decode_cursor(after) if after is not None else None  # "" is malformed too
    return Window(page_size(first, limit), after_id)


async def connection(
    info: Info,
    node_type: type[NodeT],
    *,
    first: int | None,
    after: str | None,
    fetch: Fetch | None = None,
) -> Connection[NodeT]:
    """A keyset page of `node_type` in creation order, read by `fetch` (a domain service's
    list); every row of the node's table when no `fetch` is given."""
    window = window_of(info, first, after)
    organization_id = info.context.principal.organization_id

    async def every_row(db: AsyncSession, window: Window) -> Page:
        return await page(db, node_type.model, organization_id, window)

    read = fetch or every_row
    found = await info.context.run(lambda db: read(db, window))
    count = found.total

    async def counter() -> int | None:
        return None if count is None else await info.context.run(count)

    return as_connection(node_type, found, after, counter)


async def child_connection(
    info: Info,
    node_type: type[NodeT],
    parent_id: UUID,
    rows: ParentRows,
    *,
    first: int | None,
    after: str | None,
) -> Connection[NodeT]:
    """A keyset page of a parent's list (`rows`): one statement for every parent of the
    request asking for the same page, and one COUNT for all of them when `totalCount` is
    selected."""
    window = window_of(info, first, after)

    async def pages(db: AsyncSession, organization_id: UUID, keys: list[UUID]) -> Any:
        return await rows.pages(db, organization_id, keys, window)

    found = await info.context.loader(pages, name=("pages", rows, window)).load(parent_id)

    async def counter() -> int | None:
        loader = info.context.loader(rows.counts, name=("counts", rows))
        counted: int = await loader.load(parent_id)
        return counted

    return as_connection(node_type, found, after, counter)


ItemT = TypeVar("ItemT")


def list_page(
    info: Info, items: Sequence[ItemT], first: int | None, after: str | None
) -> tuple[list[tuple[str, ItemT]], relay.PageInfo]:
    """One page of a list the request computed whole (a report's), each item with its
    position as its cursor. A list computed afresh may have changed since the previous
    page: a cursor is a place in it, not an item."""
    return positions_page(items, first, after, limit=info.context.settings.max_page_size)


def positions_page(
    items: Sequence[ItemT], first: int | None, after: str | None, *, limit: int
) -> tuple[list[tuple[str, ItemT]], relay.PageInfo]:
    """`list_page`, at most `limit` items."""
    size = page_size(first, limit)
    start = 0 if after is None else decode_position(after) + 1
    end = min(start + size, len(items))
    chosen = [(encode_position(index), items[index]) for index in range(start, end)]
    return chosen, relay.PageInfo(
        has_next_page=start + size < len(items),
        has_previous_page=after is not None,
        start_cursor=chosen[0][0] if chosen else None,
        end_cursor=chosen[-1][0] if chosen else None,
    )


def list_connection(
    info: Info,
    items: Sequence[ItemT],
    node_of: Callable[[ItemT], NodeT],
    *,
    first: int | None,
    after: str | None,
) -> Connection[NodeT]:
    """A page of a list computed whole, as a connection of the nodes `node_of` makes (only
    for the items of the page)."""
    limit = info.context.settings.max_page_size
    return positions_connection(items, node_of, first, after, limit=limit)


def positions_connection(
    items: Sequence[ItemT],
    node_of: Callable[[ItemT], Any],
    first: int | None,
    after: str | None,
    *,
    limit: int,
) -> Connection[Any]:
    """`list_connection`, at most `limit` items."""
    chosen, page_info = positions_page(items, first, after, limit=limit)
    return page_connection(chosen, page_info, len(items), node_of)


def page_connection(
    chosen: list[tuple[str, ItemT]],
    page_info: relay.PageInfo,
    total: int,
    node_of: Callable[[ItemT], Any],
) -> Connection[Any]:
    """A page `positions_page` chose of a list of `total` items, as a connection of the
    nodes `node_of` makes."""

    async def counter() -> int:
        return total

    edges = [relay.Edge(node=node_of(item), cursor=cursor) for cursor, item in chosen]
    return Connection(edges=edges, page_info=page_info, counter=counter)


def as_connection(
    node_type: type[NodeT], found: Page, after: str | None, counter: Counter
) -> Connection[NodeT]:
    return rows_connection(found, after, counter, node_type.from_row)


def rows_connection(
    found: Page, after: str | None, counter: Counter, node_of: Callable[[Any], Any]
) -> Connection[Any]:
    """A keyset page as a connection, each row's node made by `node_of` (the compiled read
    path keeps the rows themselves)."""
    edges = [relay.Edge(node=node_of(row), cursor=encode_cursor(row.id)) for row in found.rows]
    end_cursor = edges[-1].cursor if edges else None
    if found.resume_after is not None:
        end_cursor = encode_cursor(found.resume_after)
    return Connection(
        edges=edges,
        page_info=relay.PageInfo(
            has_next_page=found.has_next,
            has_previous_page=after is not None,
            start_cursor=edges[0].cursor if edges else None,
            end_cursor=end_cursor,
        ),
        counter=counter,
    )
