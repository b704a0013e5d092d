"""The GraphQL schema: every domain's queries and mutations, merged."""

import strawberry
from strawberry import relay
from strawberry.extensions import ParserCache, ValidationCache
from strawberry.schema.config import StrawberryConfig
from strawberry.tools import merge_types
from strawberry.types.base import get_object_definition

from okr_service.graphql.alignment.resolvers import AlignmentMutation, AlignmentQuery
from okr_service.graphql.auth.resolvers import ApiKeyMutation, ApiKeyQuery
from okr_service.graphql.context import Info
from okr_service.graphql.cycles.resolvers import CycleMutation, CycleQuery
from okr_service.graphql.extensions import MaskUnexpectedErrors, QuietSchema, RequestTransaction
from okr_service.graphql.initiatives.resolvers import InitiativeMutation, InitiativeQuery
from okr_service.graphql.integrations.resolvers import IntegrationMutation, IntegrationQuery
from okr_service.graphql.key_results.resolvers import KeyResultMutation, KeyResultQuery
from okr_service.graphql.key_results.types import CheckIn
from okr_service.graphql.limits import QueryLimits
from okr_service.graphql.objectives.resolvers import ObjectiveMutation, ObjectiveQuery
from okr_service.graphql.observe import ObserveOperation
from okr_service.graphql.organizations.types import Viewer, load_viewer
from okr_service.graphql.planner import CompiledReads
from okr_service.graphql.reports.resolvers import ReportQuery
from okr_service.graphql.subscriptions.resolvers import Subscription
from okr_service.graphql.teams.resolvers import TeamMutation, TeamQuery
from okr_service.graphql.webhooks.resolvers import WebhookMutation, WebhookQuery


@strawberry.type
class CoreQuery:
    node: relay.Node | None = relay.node(description="Any object by its global ID.")

    @strawberry.field(description="The caller: its organization and what its key may do.")
    async def viewer(self, info: Info) -> Viewer:
        return await load_viewer(info)


Query = merge_types(
    "Query",
    (
        CoreQuery,
        TeamQuery,
        CycleQuery,
        ObjectiveQuery,
        KeyResultQuery,
        InitiativeQuery,
        AlignmentQuery,
        ReportQuery,
        ApiKeyQuery,
        WebhookQuery,
        IntegrationQuery,
    ),
)
Mutation = merge_types(
    "Mutation",
    (
        TeamMutation,
        CycleMutation,
        ObjectiveMutation,
        KeyResultMutation,
        InitiativeMutation,
        AlignmentMutation,
        ApiKeyMutation,
        WebhookMutation,
        IntegrationMutation,
    ),
)
# merge_types takes no description: the merged types get theirs here.
get_object_definition(Query, strict=True).description = (
    "Reads, all within the caller's organization: any object by its ID, paged lists, the "
    "alignment tree, cycle reviews and good-practice checks."
)
get_object_definition(Mutation, strict=True).description = (
    "Writes: each takes an `input` and answers a payload with the changed object and "
    "`userErrors`; a refused mutation writes nothing."
)


schema = QuietSchema(
    query=Query,
    mutation=Mutation,
    subscription=Subscription,
    types=[CheckIn],
    config=StrawberryConfig(relay_max_results=100),
    extensions=[
        # First, so its span and timing wrap the others (the commit included).
        ObserveOperation,
        RequestTransaction,
        MaskUnexpectedErrors,
        # Depth, aliases, tokens, cost, introspection: the app's settings (limits.py). Its
        # rule classes and token option are made once per set of limits, so the caches
        # below (keyed by them) keep hitting.
        QueryLimits,
        # Queries it can serve are answered level by level, not field by field (planner/).
        CompiledReads,
        # Clients send the same few documents again and again: parse and validate them once.
        lambda: ParserCache(maxsize=1024),
        lambda: ValidationCache(maxsize=1024),
    ],
)
