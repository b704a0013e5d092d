"""Runs a query operation level by level instead of field by field.

An operation is compiled once per document (`Plan`): what each position of the response
asks of each type met there, and how each field is resolved and completed; requests walk
the plan with their own variables. Each level of the response is completed for all its
objects at once: one batch resolver call per field (so one SQL statement per relation and
level), leaves serialised by the schema's own scalars and enums, no task and no resolver
call per object. Root fields run their Strawberry resolver (the same page and filter
semantics). Anything this path does not serve raises `Unsupported`; the caller then runs
the whole operation through Strawberry, never half and half.
"""

import math
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from decimal import Decimal
from functools import cache
from itertools import repeat
from operator import attrgetter
from typing import Any

from graphql import (
    GRAPHQL_MAX_INT,
    GRAPHQL_MIN_INT,
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLBoolean,
    GraphQLEnumType,
    GraphQLField,
    GraphQLFloat,
    GraphQLID,
    GraphQLInt,
    GraphQLList,
    GraphQLNamedType,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLOutputType,
    GraphQLScalarType,
    GraphQLSchema,
    GraphQLString,
    InlineFragmentNode,
    ListValueNode,
    ObjectValueNode,
    OperationDefinitionNode,
    SelectionSetNode,
    ValueNode,
    VariableNode,
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
from okr_service.graphql.planner.collect import collect
from okr_service.graphql.planner.fields import (
    READS_FIGURE_INPUTS,
    RESOLVERS,
    BatchResolver,
    Run,
    Typed,
    objectives_with_figure_inputs,
    rows_of,
)
from okr_service.graphql.teams.types import Team
from okr_service.kit.ids import decode_global_id, global_id

DEFINITION = "strawberry-definition"  # a field's or type's extension
DEFINITION_ATTRIBUTE = "__strawberry_definition__"  # a Strawberry class's
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


@dataclass(frozen=True, slots=True)
class Request:
    """One request walking a plan: its variables and what its levels share."""

    variables: VariableValues
    run: Run


# A compiled step: the values of one field for every object of a level, or the response
# values of a list of values of one type.
Resolve = Callable[[Request, "Level"], Awaitable[list[Any]]]
Complete = Callable[[Request, list[Any]], Awaitable[list[Any]]]


class Plan:
    """One query operation of one document, compiled once and walked by every request
    sending it: the fields collected per type met at each position of the response (per
    value of the variables @skip and @include read, when they read any), each with its
    definition, how it is resolved for a whole level and how its values are completed."""

    def __init__(
        self, strawberry_schema: Schema, document: DocumentNode, operation: OperationDefinitionNode
    ) -> None:
        self.strawberry_schema = strawberry_schema
        self.schema: GraphQLSchema = strawberry_schema._schema
        self.fragments = fragments_of(document.definitions)
        self.switches = switch_variables(operation, self.fragments.values())
        query = self.schema.query_type
        assert query is not None
        self.query = query
        self.root = Selection(self, [operation.selection_set], root=True)

    async def execute(self, variables: VariableValues, run: Run) -> dict[str, Any]:
        request = Request(variables, run)
        root = Level(self.query, [None], None)
        [data] = await complete_fields(request, root, self.root.fields(self.query, request))
        return data

    def switched(self, variables: VariableValues) -> tuple[Any, ...]:
        """The values of the variables @skip and @include read (what collecting depends on)."""
        return tuple(variables.coerced.get(name) for name in self.switches)


class Selection:
    """The selection sets asked at one position of the response, with the fields they
    ask of each type met there, collected and compiled at the first meeting."""

    def __init__(self, plan: Plan, selection_sets: list[SelectionSetNode], *, root: bool) -> None:
        self.plan = plan
        self.selection_sets = selection_sets
        self.root = root
        self._fields: dict[tuple[str, tuple[Any, ...]], list[Field]] = {}

    def fields(self, type_: GraphQLObjectType, request: Request) -> list["Field"]:
        plan = self.plan
        key = (type_.name, plan.switched(request.variables) if plan.switches else ())
        found = self._fields.get(key)
        if found is None:
            collected = collect(
                plan.schema, plan.fragments, request.variables, type_, self.selection_sets
            )
            compile_field = root_field if self.root else object_field
            found = [compile_field(plan, type_, name, nodes) for name, nodes in collected.items()]
            self._fields[key] = found
        return found


@dataclass(frozen=True, slots=True)
class Field:
    """One response key of objects of one type: how its values are resolved for a whole
    level, and completed (None: as they are)."""

    key: str
    resolve: Resolve
    complete: Complete | None
    name: str = "__typename"  # the field's own name (`key` may be an alias)

    async def values(self, request: Request, level: "Level") -> list[Any]:
        raw = await self.resolve(request, level)
        return raw if self.complete is None else await self.complete(request, raw)


async def complete_fields(
    request: Request, level: "Level", fields: list[Field]
) -> list[dict[str, Any]]:
    """Each object of `level` as a response object: one resolution per field."""
    if not fields:
        return [{} for _ in level.values]
    # What the level asks, for batch resolvers that read several fields' rows at once.
    request.run.asked[level.type.name] = frozenset(field.name for field in fields)
    columns = [await field.values(request, level) for field in fields]
    if any(len(column) != len(level.values) for column in columns):
        raise ValueError("a field resolved another number of values than its level holds")
    keys = [field.key for field in fields]
    return list(map(dict, map(zip, repeat(keys), zip(*columns, strict=False))))  # checked above


def object_field(plan: Plan, type_: GraphQLObjectType, key: str, nodes: list[FieldNode]) -> Field:
    name = nodes[0].name.value
    if name == "__typename":
        return Field(key, typename(type_.name), None)
    field_def = type_.fields[name]
    resolve = resolution(type_, field_def, name, nodes[0])
    return Field(key, resolve, completion(plan, field_def.type, nodes), name)


def resolution(
    type_: GraphQLObjectType, field_def: GraphQLField, name: str, node: FieldNode
) -> Resolve:
    """How a field of `type_` is resolved for a whole level: its batch resolver, its global
    ID, its column or attribute, its plain method; anything else falls back."""
    resolver = RESOLVERS.get((type_.name, name))
    if resolver is not None:
        return batch_call(resolver, field_def, node)
    if name == "id" and is_node(type_):
        return node_ids(type_.name)
    strawberry_field = field_def.extensions.get(DEFINITION)
    if strawberry_field is not None and strawberry_field.base_resolver is None:
        return attribute(strawberry_field.python_name)
    if strawberry_field is not None and is_plain_method(strawberry_field):
        return method(strawberry_field.base_resolver.wrapped_func)
    return refused(f"{type_.name}.{name}")  # a runtime type the check did not see


def batch_call(resolver: BatchResolver, field_def: GraphQLField, node: FieldNode) -> Resolve:
    """The field's batch resolver, with its arguments (coerced once when they read no
    variable)."""
    constant = not any(variables_in(argument.value) for argument in node.arguments or ())
    arguments: list[dict[str, Any]] = []  # the constant arguments, once coerced

    async def resolve(request: Request, level: Level) -> list[Any]:
        if not constant:
            args = get_argument_values(field_def, node, request.variables)
        elif arguments:
            args = arguments[0]
        else:
            args = get_argument_values(field_def, node, request.variables)
            arguments.append(args)
        return await resolver(request.run, level.values, args)

    return resolve


def node_ids(type_name: str) -> Resolve:

    async def resolve(request: Request, level: Level) -> list[Any]:
        return [global_id(type_name, value.id) for value in level.values]

    return resolve


def attribute(name: str) -> Resolve:
    """A column of the level's rows, else an attribute of its Strawberry objects."""
    read = attrgetter(name)

    async def resolve(request: Request, level: Level) -> list[Any]:
        return list(map(read, level.values if level.has_column(name) else level.objects()))

    return resolve


def method(function: Callable[[Any], Any]) -> Resolve:
    async def resolve(request: Request, level: Level) -> list[Any]:
        return [function(obj) for obj in level.objects()]

    return resolve


def typename(name: str) -> Resolve:
    async def resolve(request: Request, level: Level) -> list[Any]:
        return [name] * len(level.values)

    return resolve


def refused(reason: str) -> Resolve:
    async def resolve(request: Request, level: Level) -> list[Any]:
        raise Fallback(reason)

    return resolve


def root_field(plan: Plan, query: GraphQLObjectType, key: str, nodes: list[FieldNode]) -> Field:
    """A root field: `node(id:)`, or one served through its own Strawberry resolver."""
    name = nodes[0].name.value
    if name == "__typename":
        return Field(key, typename(query.name), None)
    field_def = query.fields[name]
    if name == "node":
        resolve = node_lookup(plan, field_def, nodes[0])
    elif name in ROOT_FIELDS:
        resolve = root_resolver(plan.strawberry_schema, field_def, nodes[0])
    else:
        raise Unsupported(name)
    return Field(key, resolve, completion(plan, field_def.type, nodes))


def root_resolver(strawberry_schema: Schema, field_def: GraphQLField, node: FieldNode) -> Resolve:
    strawberry_field = field_def.extensions[DEFINITION]
    function = strawberry_field.base_resolver.wrapped_func

    async def resolve(request: Request, level: Level) -> list[Any]:
        kwargs = convert_arguments(
            get_argument_values(field_def, node, request.variables),
            strawberry_field.arguments,
            strawberry_schema.schema_converter.scalar_registry,
            strawberry_schema.config,
        )
        return [await function(None, ResolverInfo(request.run.context), **kwargs)]

    return resolve


def node_lookup(plan: Plan, field_def: GraphQLField, node: FieldNode) -> Resolve:
    """`node(id:)` of a type served here, read as its own loader would."""

    async def resolve(request: Request, level: Level) -> list[Any]:
        type_name, id_ = decode_global_id(
            get_argument_values(field_def, node, request.variables)["id"], field="id"
        )
        if type_name not in NODE_TYPES:
            raise Fallback(type_name)  # admin-only nodes and the rarer types
        node_type = NODE_TYPES[type_name]
        if node_type is Objective and reads_figure_inputs(request):
            rows = await objectives_with_figure_inputs(request.run, [id_])
        else:
            rows = await rows_of(request.run, node_type.model, [id_])
        return [None if (row := rows.get(id_)) is None else Typed(type_name, row)]

    def reads_figure_inputs(request: Request) -> bool:
        """Whether the node's selection, as an objective, asks for its figures or key
        results (then they are read with it); known once per value of the switches."""
        switched = plan.switched(request.variables) if plan.switches else ()
        if switched not in asks:
            objective = plan.schema.get_type(Objective.__name__)
            assert isinstance(objective, GraphQLObjectType)
            assert node.selection_set is not None
            collected = collect(
                plan.schema, plan.fragments, request.variables, objective, [node.selection_set]
            )
            asks[switched] = any(n[0].name.value in READS_FIGURE_INPUTS for n in collected.values())
        return asks[switched]

    asks: dict[tuple[Any, ...], bool] = {}
    return resolve


def completion(plan: Plan, type_: GraphQLOutputType, nodes: list[FieldNode]) -> Complete:
    """How values of `type_` become response values, chosen once."""
    if isinstance(type_, GraphQLNonNull):
        return non_null(completion(plan, type_.of_type, nodes))
    if isinstance(type_, GraphQLList):
        return lists(completion(plan, type_.of_type, nodes))
    if is_leaf_type(type_):
        return leaves(leaf_values(type_))
    return Objects(plan, type_, nodes).complete


def non_null(inner: Complete) -> Complete:
    async def complete(request: Request, values: list[Any]) -> list[Any]:
        completed = await inner(request, values)
        if None in completed:
            raise Fallback("null in a non-null position")  # Strawberry reports it
        return completed

    return complete


def lists(inner: Complete) -> Complete:
    async def complete(request: Request, values: list[Any]) -> list[Any]:
        items = [item for value in values if value is not None for item in value]
        completed = iter(await inner(request, items))
        return [None if value is None else [next(completed) for _ in value] for value in values]

    return complete


def leaves(serialize: Callable[[list[Any]], list[Any]]) -> Complete:
    async def complete(request: Request, values: list[Any]) -> list[Any]:
        return serialize(values)

    return complete


class Objects:
    """Objects of one type at one position, grouped by their runtime type, each group
    completed in one pass."""

    def __init__(self, plan: Plan, type_: GraphQLOutputType, nodes: list[FieldNode]) -> None:
        self.schema = plan.schema
        self.type = type_
        self.abstract = is_abstract_type(type_)
        selection_sets = [node.selection_set for node in nodes if node.selection_set]
        self.selection = Selection(plan, selection_sets, root=False)

    async def complete(self, request: Request, values: list[Any]) -> list[Any]:
        if not self.abstract:
            present = [value for value in values if value is not None]
            assert isinstance(self.type, GraphQLObjectType)
            found = await self.complete_type(request, self.type, present)
            if len(present) == len(values):
                return found
            completed = iter(found)
            return [None if value is None else next(completed) for value in values]
        groups: dict[str, list[int]] = {}
        for index, value in enumerate(values):
            if value is not None:
                groups.setdefault(runtime_type(value), []).append(index)
        results: list[Any] = [None] * len(values)
        for type_name, indexes in groups.items():
            runtime = self.schema.get_type(type_name)
            assert isinstance(runtime, GraphQLObjectType)
            found = await self.complete_type(request, runtime, [values[i] for i in indexes])
            for index, value in zip(indexes, found, strict=True):
                results[index] = value
        return results

    async def complete_type(
        self, request: Request, type_: GraphQLObjectType, values: list[Any]
    ) -> list[dict[str, Any]]:
        level = Level.of(type_, values, request.run)
        return await complete_fields(request, level, self.selection.fields(type_, request))


def runtime_type(value: Any) -> str:
    """The concrete type of a value where the schema expects an interface or a union."""
    if isinstance(value, Typed):
        return value.type_name
    definition = getattr(type(value), DEFINITION_ATTRIBUTE, None)
    if definition is None:
        raise Fallback(f"no runtime type for {type(value).__name__}")
    name: str = definition.name
    return name


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
        from_row, table = backing(type_)
        if from_row is None:
            return cls(type_, values, None)
        rows = rows_in(values)
        if table is not None:
            # Kept for the levels below (a key result's figures read its objective's row).
            known = run.remembered(table)
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


@cache
def backing(type_: GraphQLObjectType) -> tuple[Callable[[Any], Any] | None, str | None]:
    """How objects of `type_` are built from a row (None: not from a table), and the table
    whose rows they are (None: rows of no one table)."""
    definition = type_.extensions.get(DEFINITION)
    origin = getattr(definition, "origin", None)
    from_row = getattr(origin, "from_row", None)
    model = getattr(origin, "model", None)
    return from_row, None if model is None else model.__tablename__


def rows_in(values: list[Any]) -> list[Any]:
    """The rows values of a table-backed type stand for (most levels hold rows already)."""
    kinds = {type(value) for value in values}
    if all(kind is not Typed and not hasattr(kind, DEFINITION_ATTRIBUTE) for kind in kinds):
        return values
    return [row_of(value) for value in values]


def row_of(value: Any) -> Any:
    """The row a value of a table-backed type stands for (a Strawberry object keeps it)."""
    if isinstance(value, Typed):
        return value.row
    if hasattr(type(value), DEFINITION_ATTRIBUTE):
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


NUMBERS = (float, Decimal)  # what rows hold for a Float (both serialise as a finite float)


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
            if type(value) in NUMBERS and math.isfinite(found := float(value)):
                return found
            return serialize(value)  # NaN, infinities and the rest: the schema's verdict

        return number
    if type_ in (GraphQLString, GraphQLID):
        return lambda value: value if type(value) is str else serialize(value)
    return serialize


@cache
def leaf_values(type_: GraphQLScalarType | GraphQLEnumType) -> Callable[[list[Any]], list[Any]]:
    """`leaf_serializer` over a level's values, the commonest kinds inline (the results
    the schema's own serializers give them: strings, finite floats, booleans and 32-bit
    integers as they are)."""
    serialize = leaf_serializer(type_)
    kind: type = object  # no value is inline
    if type_ in (GraphQLString, GraphQLID):
        kind = str
    elif type_ is GraphQLFloat:
        return lambda values: [
            found
            if type(value) in NUMBERS and math.isfinite(found := float(value))
            else None
            if value is None
            else serialize(value)
            for value in values
        ]
    elif type_ is GraphQLBoolean:
        kind = bool
    elif type_ is GraphQLInt:
        return lambda values: [
            value
            if type(value) is int and GRAPHQL_MIN_INT <= value <= GRAPHQL_MAX_INT
            else None
            if value is None
            else serialize(value)
            for value in values
        ]
    return lambda values: [
        value if type(value) is kind else None if value is None else serialize(value)
        for value in values
    ]


def switch_variables(
    operation: OperationDefinitionNode, fragments: Iterable[FragmentDefinitionNode]
) -> tuple[str, ...]:
    """The variables any @skip or @include of the document reads."""
    names: dict[str, None] = {}
    pending: list[SelectionSetNode] = [operation.selection_set]
    pending += [fragment.selection_set for fragment in fragments]
    while pending:
        for selection in pending.pop().selections:
            for directive in selection.directives or ():
                for argument in directive.arguments or ():
                    names |= dict.fromkeys(variables_in(argument.value))
            below = getattr(selection, "selection_set", None)  # fields and inline fragments
            if below is not None:
                pending.append(below)
    return tuple(names)


def variables_in(value: ValueNode) -> list[str]:
    """The variables a literal reads (in lists and input objects too)."""
    if isinstance(value, VariableNode):
        return [value.name.value]
    if isinstance(value, ListValueNode):
        return [name for item in value.values for name in variables_in(item)]
    if isinstance(value, ObjectValueNode):
        return [name for item in value.fields for name in variables_in(item.value)]
    return []


def is_node(type_: GraphQLObjectType) -> bool:
    return any(interface.name == "Node" for interface in type_.interfaces)


def fragments_of(definitions: Iterable[Any]) -> dict[str, FragmentDefinitionNode]:
    return {
        definition.name.value: definition
        for definition in definitions
        if isinstance(definition, FragmentDefinitionNode)
    }
