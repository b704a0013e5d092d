"""Runs a query operation level by level instead of field by field.

Each level of the response is completed for all its objects at once: one batch resolver
call per field (so one SQL statement per relation and level), leaves serialised by the
schema's own scalars and enums, no task and no resolver call per object. Root fields run
their Strawberry resolver (the same page and filter semantics). Anything this path does
not serve raises `Unsupported`; the caller then runs the whole operation through
Strawberry, never half and half.
"""

import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from decimal import Decimal
from functools import cache
from operator import attrgetter
from typing import Any

from graphql import (
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLEnumType,
    GraphQLField,
    GraphQLFloat,
    GraphQLID,
    GraphQLList,
    GraphQLNamedType,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLOutputType,
    GraphQLScalarType,
    GraphQLSchema,
    GraphQLString,
    InlineFragmentNode,
    OperationDefinitionNode,
    SelectionSetNode,
    get_named_type,
    is_abstract_type,
    is_leaf_type,
)
from graphql.execution.values import VariableValues, get_argument_values
from strawberry.schema.schema import Schema
from strawberry.types.arguments import convert_arguments

from okr_service.graphql.cycles.types import Cycle
from okr_service.graphql.initiatives.types import Initiative
from okr_service.graphql.key_results.types import CheckIn, KeyResult
from okr_service.graphql.objectives.types import Objective
from okr_service.graphql.planner.collect import Collected, collect
from okr_service.graphql.planner.fields import (
    READS_FIGURE_INPUTS,
    RESOLVERS,
    Run,
    Typed,
    objectives_with_figure_inputs,
    rows_of,
)
from okr_service.graphql.teams.types import Team
from okr_service.kit.ids import decode_global_id, global_id

DEFINITION = "strawberry-definition"
# Node types `node(id:)` serves (admin-only ones stay with Strawberry, which checks roles).
NODE_TYPES = {
    node.__name__: node for node in (Objective, KeyResult, CheckIn, Team, Cycle, Initiative)
}
# Root fields served through their own Strawberry resolver (called once per request).
ROOT_FIELDS = frozenset(
    {"objectives", "keyResults", "teams", "cycles", "initiatives", "alignmentLinks", "cycleReport"}
)


class Unsupported(Exception):
    """This document is not (entirely) served here: Strawberry runs it, now and later."""


class Fallback(Exception):
    """This request is not served here (what it met, not what it asks): Strawberry runs it."""


@dataclass(frozen=True)
class ResolverInfo:
    """What root resolvers read of Strawberry's `info`: the request's context."""

    context: Any


@dataclass
class Operation:
    strawberry_schema: Schema
    fragments: dict[str, FragmentDefinitionNode]
    variables: VariableValues
    run: Run

    @property
    def schema(self) -> GraphQLSchema:
        return self.strawberry_schema._schema

    async def execute(self, operation: OperationDefinitionNode) -> dict[str, Any]:
        query = self.schema.query_type
        assert query is not None
        fields = self.collect(query, [operation.selection_set])
        data: dict[str, Any] = {}
        for key, nodes in fields.items():
            name = nodes[0].name.value
            if name == "__typename":
                data[key] = query.name
                continue
            field_def = query.fields[name]
            if name == "node":
                value = await self.node(field_def, nodes[0])
            elif name in ROOT_FIELDS:
                value = await self.root_value(field_def, nodes[0])
            else:
                raise Unsupported(name)
            [data[key]] = await self.complete(field_def.type, [value], nodes)
        return data

    def collect(self, type_: GraphQLObjectType, selection_sets: list[Any]) -> Collected:
        return collect(self.schema, self.fragments, self.variables, type_, selection_sets)

    async def root_value(self, field_def: GraphQLField, node: FieldNode) -> Any:
        strawberry_field = field_def.extensions[DEFINITION]
        resolver = strawberry_field.base_resolver
        kwargs = convert_arguments(
            get_argument_values(field_def, node, self.variables),
            strawberry_field.arguments,
            self.strawberry_schema.schema_converter.scalar_registry,
            self.strawberry_schema.config,
        )
        info = ResolverInfo(self.run.context)
        return await resolver.wrapped_func(None, info, **kwargs)

    async def node(self, field_def: GraphQLField, node: FieldNode) -> Any:
        """`node(id:)` of a type served here, read as its own loader would."""
        type_name, id_ = decode_global_id(
            get_argument_values(field_def, node, self.variables)["id"], field="id"
        )
        if type_name not in NODE_TYPES:
            raise Fallback(type_name)  # admin-only nodes and the rarer types
        node_type = NODE_TYPES[type_name]
        if node_type is Objective and self.reads_figure_inputs(node):
            rows = await objectives_with_figure_inputs(self.run, [id_])
        else:
            rows = await rows_of(self.run, node_type.model, [id_])
        return None if (row := rows.get(id_)) is None else Typed(type_name, row)

    def reads_figure_inputs(self, node: FieldNode) -> bool:
        """Whether an objective's selection asks for its figures or key results."""
        objective = self.schema.get_type(Objective.__name__)
        assert isinstance(objective, GraphQLObjectType)
        assert node.selection_set is not None
        asked = self.collect(objective, [node.selection_set]).values()
        return any(nodes[0].name.value in READS_FIGURE_INPUTS for nodes in asked)

    async def complete(
        self, type_: GraphQLOutputType, values: list[Any], nodes: list[FieldNode]
    ) -> list[Any]:
        """The response values of `values`, all of `type_`."""
        if isinstance(type_, GraphQLNonNull):
            completed = await self.complete(type_.of_type, values, nodes)
            if any(value is None for value in completed):
                raise Fallback("null in a non-null position")  # Strawberry reports it
            return completed
        if isinstance(type_, GraphQLList):
            return await self.complete_lists(type_.of_type, values, nodes)
        if is_leaf_type(type_):
            serialize = leaf_serializer(type_)
            return [None if value is None else serialize(value) for value in values]
        return await self.complete_objects(type_, values, nodes)

    async def complete_lists(
        self, item_type: GraphQLOutputType, lists: list[Any], nodes: list[FieldNode]
    ) -> list[Any]:
        items = [item for value in lists if value is not None for item in value]
        completed = iter(await self.complete(item_type, items, nodes))
        return [None if value is None else [next(completed) for _ in value] for value in lists]

    async def complete_objects(
        self, type_: GraphQLOutputType, values: list[Any], nodes: list[FieldNode]
    ) -> list[Any]:
        """Objects grouped by their runtime type, each group completed in one pass."""
        groups: dict[str, list[int]] = {}
        for index, value in enumerate(values):
            if value is not None:
                groups.setdefault(self.runtime_type(type_, value), []).append(index)
        completed: list[Any] = [None] * len(values)
        selection_sets = [node.selection_set for node in nodes if node.selection_set]
        for type_name, indexes in groups.items():
            runtime = self.schema.get_type(type_name)
            assert isinstance(runtime, GraphQLObjectType)
            level = Level.of(runtime, [values[i] for i in indexes], self.run)
            fields = self.collect(runtime, selection_sets)
            found = await self.complete_fields(level, fields)
            for index, value in zip(indexes, found, strict=True):
                completed[index] = value
        return completed

    def runtime_type(self, type_: GraphQLOutputType, value: Any) -> str:
        if not is_abstract_type(type_):
            return type_.name  # type: ignore[union-attr]
        if isinstance(value, Typed):
            return value.type_name
        definition = getattr(type(value), "__strawberry_definition__", None)
        if definition is None:
            raise Fallback(f"no runtime type for {type(value).__name__}")
        name: str = definition.name
        return name

    async def complete_fields(self, level: "Level", fields: Collected) -> list[dict[str, Any]]:
        results: list[dict[str, Any]] = [{} for _ in level.values]
        for key, nodes in fields.items():
            values = await self.field_values(level, nodes)
            for result, value in zip(results, values, strict=True):
                result[key] = value
        return results

    async def field_values(self, level: "Level", nodes: list[FieldNode]) -> list[Any]:
        name = nodes[0].name.value
        if name == "__typename":
            return [level.type.name] * len(level.values)
        field_def = level.type.fields[name]
        raw = await self.resolve(level, field_def, name, nodes[0])
        return await self.complete(field_def.type, raw, nodes)

    async def resolve(
        self, level: "Level", field_def: GraphQLField, name: str, node: FieldNode
    ) -> list[Any]:
        type_ = level.type
        resolver = RESOLVERS.get((type_.name, name))
        if resolver is not None:
            args = get_argument_values(field_def, node, self.variables)
            return await resolver(self.run, level.values, args)
        if name == "id" and is_node(type_):
            return [global_id(type_.name, value.id) for value in level.values]
        strawberry_field = field_def.extensions.get(DEFINITION)
        if strawberry_field is None:
            raise Fallback(f"{type_.name}.{name}")  # a runtime type the check did not see
        if strawberry_field.base_resolver is None:
            attribute = strawberry_field.python_name
            read = attrgetter(attribute)
            return list(map(read, level.values if level.has_column(attribute) else level.objects()))
        if is_plain_method(strawberry_field):
            method = strawberry_field.base_resolver.wrapped_func
            return [method(obj) for obj in level.objects()]
        raise Fallback(f"{type_.name}.{name}")


@dataclass
class Level:
    """The objects of one type met at one level of the response.

    Types read from a table (those with `from_row`) are carried as their rows: a field
    that is a column is read from the row, the batch resolvers take rows and give rows,
    and the Strawberry object is built only for a field that needs it (a computed
    attribute or a plain method). Other types (connections, edges) are Strawberry's own
    objects, as their root resolvers made them.
    """

    type: GraphQLObjectType
    values: list[Any]
    from_row: Callable[[Any], Any] | None
    _objects: list[Any] | None = None

    @classmethod
    def of(cls, type_: GraphQLObjectType, values: list[Any], run: Run) -> "Level":
        definition = type_.extensions.get(DEFINITION)
        origin = getattr(definition, "origin", None)
        from_row = getattr(origin, "from_row", None)
        if from_row is None:
            return cls(type_, values, None)
        rows = [row_of(value) for value in values]
        model = getattr(origin, "model", None)
        if model is not None:
            # Kept for the levels below (a key result's figures read its objective's row).
            known = run.remembered(model.__tablename__)
            for row in rows:
                known.setdefault(row.id, row)
        return cls(type_, rows, from_row)

    def has_column(self, attribute: str) -> bool:
        return (
            self.from_row is not None and bool(self.values) and hasattr(self.values[0], attribute)
        )

    def objects(self) -> list[Any]:
        if self.from_row is None:
            return self.values
        if self._objects is None:
            self._objects = [self.from_row(row) for row in self.values]
        return self._objects


def row_of(value: Any) -> Any:
    """The row a value of a table-backed type stands for (a Strawberry object keeps it)."""
    if isinstance(value, Typed):
        return value.row
    if hasattr(type(value), "__strawberry_definition__"):
        row = getattr(value, "row", None)
        if row is None:
            raise Fallback(f"{type(value).__name__} without its row")
        return row
    return value


def unserved_field(
    schema: GraphQLSchema,
    fragments: dict[str, FragmentDefinitionNode],
    operation: OperationDefinitionNode,
) -> str | None:
    """The first field of the operation this path does not serve (None: it serves all).

    Checked once per document, before anything is read; @skip and @include are ignored
    (a field that might be asked must be served)."""
    query = schema.query_type
    assert query is not None
    for selection in operation.selection_set.selections:
        if isinstance(selection, FieldNode) and selection.name.value not in {
            "__typename",
            "node",
            *ROOT_FIELDS,
        }:
            return selection.name.value
    return _unserved(schema, fragments, query, operation.selection_set, set(), root=True)


def _unserved(
    schema: GraphQLSchema,
    fragments: dict[str, FragmentDefinitionNode],
    parent: GraphQLNamedType,
    selection_set: SelectionSetNode,
    visited: set[str],
    *,
    root: bool = False,
) -> str | None:
    for selection in selection_set.selections:
        found: str | None = None
        if isinstance(selection, FieldNode):
            found = _unserved_field(schema, fragments, parent, selection, visited, root=root)
        elif isinstance(selection, InlineFragmentNode):
            condition = selection.type_condition
            type_ = schema.get_type(condition.name.value) if condition else parent
            assert type_ is not None
            found = _unserved(schema, fragments, type_, selection.selection_set, visited)
        elif isinstance(selection, FragmentSpreadNode):
            name = selection.name.value
            fragment = fragments.get(name)
            if fragment is None or name in visited:
                continue
            visited.add(name)
            type_ = schema.get_type(fragment.type_condition.name.value)
            assert type_ is not None
            found = _unserved(schema, fragments, type_, fragment.selection_set, visited)
        if found is not None:
            return found
    return None


def _unserved_field(
    schema: GraphQLSchema,
    fragments: dict[str, FragmentDefinitionNode],
    parent: GraphQLNamedType,
    node: FieldNode,
    visited: set[str],
    *,
    root: bool,
) -> str | None:
    name = node.name.value
    if name == "__typename":
        return None
    concrete = list(schema.get_possible_types(parent)) if is_abstract_type(parent) else [parent]
    for type_ in concrete:
        assert isinstance(type_, GraphQLObjectType)
        if not root and not serves(type_, name):
            return f"{type_.name}.{name}"
    if node.selection_set is None:
        return None
    field_def = concrete[0].fields[name]  # type: ignore[attr-defined]
    return _unserved(schema, fragments, get_named_type(field_def.type), node.selection_set, visited)


def serves(type_: GraphQLObjectType, name: str) -> bool:
    if (type_.name, name) in RESOLVERS or (name == "id" and is_node(type_)):
        return True
    strawberry_field = type_.fields[name].extensions.get(DEFINITION)
    return strawberry_field is not None and (
        strawberry_field.base_resolver is None or is_plain_method(strawberry_field)
    )


def is_plain_method(strawberry_field: Any) -> bool:
    """A resolver computing from its object alone (no info, no arguments, no I/O)."""
    resolver = strawberry_field.base_resolver
    return (
        resolver is not None
        and not resolver.is_async
        and resolver.info_parameter is None
        and not resolver.arguments
        and resolver.self_parameter is not None
    )


@cache
def leaf_serializer(type_: GraphQLScalarType | GraphQLEnumType) -> Callable[[Any], Any]:
    """`type_.serialize`, with a shortcut for the values rows hold (same results: enum
    members remembered as the schema serializes them, finite floats and numerics as
    floats, strings as they are); anything else goes to the schema's own."""
    serialize = type_.serialize
    if isinstance(type_, GraphQLEnumType):
        serialized: dict[Any, Any] = {}

        def enum(value: Any) -> Any:
            found = serialized.get(value)
            if found is None:
                found = serialized[value] = serialize(value)
            return found

        return enum
    if type_ is GraphQLFloat:

        def number(value: Any) -> Any:
            if type(value) in (float, Decimal) and math.isfinite(found := float(value)):
                return found
            return serialize(value)  # NaN, infinities and the rest: the schema's verdict

        return number
    if type_ in (GraphQLString, GraphQLID):
        return lambda value: value if type(value) is str else serialize(value)
    return serialize


def is_node(type_: GraphQLObjectType) -> bool:
    return any(interface.name == "Node" for interface in type_.interfaces)


def fragments_of(definitions: Iterable[Any]) -> dict[str, FragmentDefinitionNode]:
    return {
        definition.name.value: definition
        for definition in definitions
        if isinstance(definition, FragmentDefinitionNode)
    }
