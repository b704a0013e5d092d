"""The schema as an Apollo Federation 2 subgraph (`OKR_FEDERATION=true`).

The same types, resolvers and extensions as the plain schema, plus what a federation router
asks of a subgraph: `_service { sdl }` (the schema with `@link` and `@key`) and
`_entities(representations:)`, which resolves other subgraphs' references to the node types
below by their global ID, within the caller's organization. The plain schema stays free of
federation directives: the keys are attached to this schema's copy of each type only.
"""

import copy
import functools
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import strawberry
from strawberry import relay
from strawberry.federation.schema_directives import Key
from strawberry.federation.types import FieldSet
from strawberry.schema.schema_converter import GraphQLCoreConverter
from strawberry.types.base import StrawberryObjectDefinition

from okr_service.graphql.cycles.types import Cycle
from okr_service.graphql.extensions import QuietSchema
from okr_service.graphql.initiatives.types import Initiative
from okr_service.graphql.key_results.types import KeyResult
from okr_service.graphql.objectives.types import Objective
from okr_service.graphql.schema import schema
from okr_service.graphql.teams.types import Team

# The node types other services reference (a roadmap item points at the key result it moves).
ENTITIES: tuple[type[Any], ...] = (Objective, KeyResult, Team, Cycle, Initiative)


class FederatedSchema(strawberry.federation.Schema, QuietSchema):
    """A federation subgraph that logs client errors as quietly as the plain schema."""


def keyed(definition: StrawberryObjectDefinition) -> list[object]:
    return [*(definition.directives or ()), Key(fields=FieldSet("id"))]


@contextmanager
def keys_attached(types: tuple[type[Any], ...]) -> Iterator[None]:
    """Each type carries `@key(fields: "id")` while a schema is built from it, and no longer
    after: the plain schema, built from the same classes, must not show it."""
    definitions = [type_.__strawberry_definition__ for type_ in types]
    saved = [definition.directives for definition in definitions]
    try:
        for definition in definitions:
            definition.directives = keyed(definition)
        yield
    finally:
        for definition, directives in zip(definitions, saved, strict=True):
            definition.directives = directives


def keep_keys(built: strawberry.Schema, types: tuple[type[Any], ...]) -> None:
    """The built schema's own copy of each type's definition keeps the key (its SDL, as
    `_service` prints it, reads the definitions at print time)."""
    for type_ in types:
        definition = type_.__strawberry_definition__
        graphql_type = built._schema.get_type(definition.name)
        assert graphql_type is not None, definition.name
        own = copy.copy(definition)
        own.directives = keyed(definition)
        graphql_type.extensions = {
            **graphql_type.extensions,
            GraphQLCoreConverter.DEFINITION_BACKREF: own,
        }


def with_own_node_field(query: type[Any]) -> type[Any]:
    """`query` with a `node` field of its own: Strawberry's relay `node` field is bound to
    the one schema it was built into."""
    (node,) = (f for f in query.__strawberry_definition__.fields if f.python_name == "node")
    own = type(
        "Query",
        (query,),
        {
            "__annotations__": {"node": relay.Node | None},
            "node": relay.node(description=node.description),
        },
    )
    return strawberry.type(own, description=query.__strawberry_definition__.description)


@functools.cache
def federated_schema() -> FederatedSchema:
    """The plain schema's operations, types and extensions as a Federation 2 subgraph."""
    with keys_attached(ENTITIES):
        built = FederatedSchema(
            query=with_own_node_field(schema.query),
            mutation=schema.mutation,
            subscription=schema.subscription,
            types=ENTITIES,
            extensions=schema.extensions,
            config=schema.config,
        )
    keep_keys(built, ENTITIES)
    return built
