"""The Subscription root: committed events as they happen, resumable with `after`."""

from collections.abc import AsyncGenerator, Collection
from typing import Annotated, TypeAlias
from uuid import UUID

import strawberry
from strawberry.types import Info as StrawberryInfo

from okr_service.events.catalog import EventType, parse_event_types
from okr_service.graphql.subscriptions.context import SubscriptionContext
from okr_service.graphql.subscriptions.follow import follow
from okr_service.graphql.webhooks.types import Event
from okr_service.kit.ids import decode_global_id, optional_id, parse_global_id

SubscriptionInfo: TypeAlias = StrawberryInfo[SubscriptionContext, None]

AFTER = (
    "The `id` of the last event you saw: the events after it are delivered first (none is "
    "lost across a reconnect). Without it, events from now on."
)


async def stream(
    info: SubscriptionInfo,
    after: strawberry.ID | None,
    types: Collection[EventType] = (),
    subject_id: UUID | None = None,
) -> AsyncGenerator[Event, None]:
    context = info.context
    caller = context.caller
    start = optional_id(after, "Event", field="after")
    async with context.slots.taken((caller.organization_id, str(caller.actor_id))):
        async for row in follow(context, after=start, types=types, subject_id=subject_id):
            yield Event.from_row(row)


@strawberry.type(
    description="Live updates over a WebSocket (graphql-transport-ws): committed events only, "
    "within the caller's organization, resumable with `after`."
)
class Subscription:
    @strawberry.subscription(
        description="Committed events of the caller's organization as they happen, oldest "
        "first (what the `events` query lists): of some `types` (catalog names), or of one "
        "object (`subjectId`). Events only admins may read are delivered to admins only."
    )
    async def events(
        self,
        info: SubscriptionInfo,
        types: Annotated[
            list[str] | None,
            strawberry.argument(description="Only events of these types; all when omitted."),
        ] = None,
        subject_id: Annotated[
            strawberry.ID | None,
            strawberry.argument(description="Only events about this object (its global ID)."),
        ] = None,
        after: Annotated[strawberry.ID | None, strawberry.argument(description=AFTER)] = None,
    ) -> AsyncGenerator[Event, None]:
        wanted = parse_event_types(types or (), "types")
        subject = None if subject_id is None else decode_global_id(subject_id, field="subjectId")[1]
        async for event in stream(info, after, wanted, subject):
            yield event

    @strawberry.subscription(
        description="Every committed change of one key result (edits, check-ins, health, "
        "deletion): each event's `data.object` is the key result as it then was."
    )
    async def key_result_changed(
        self,
        info: SubscriptionInfo,
        id: Annotated[
            strawberry.ID, strawberry.argument(description="The global ID of the key result.")
        ],
        after: Annotated[strawberry.ID | None, strawberry.argument(description=AFTER)] = None,
    ) -> AsyncGenerator[Event, None]:
        subject = parse_global_id(id, "KeyResult", field="id")
        async for event in stream(info, after, subject_id=subject):
            yield event

    @strawberry.subscription(
        description="Every committed change of one objective (edits, state, health, "
        "deletion): each event's `data.object` is the objective as it then was."
    )
    async def objective_changed(
        self,
        info: SubscriptionInfo,
        id: Annotated[
            strawberry.ID, strawberry.argument(description="The global ID of the objective.")
        ],
        after: Annotated[strawberry.ID | None, strawberry.argument(description=AFTER)] = None,
    ) -> AsyncGenerator[Event, None]:
        subject = parse_global_id(id, "Objective", field="id")
        async for event in stream(info, after, subject_id=subject):
            yield event
