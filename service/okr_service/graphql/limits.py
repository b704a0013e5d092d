"""Abuse limits on GraphQL documents: tokens, depth, aliases, introspection and query cost.

Every limit is checked before anything executes and answers a GraphQL error with a stable
`extensions.code` (HTTP 200, like any other invalid document):

| limit        | checked                         | code                     |
| ------------ | ------------------------------- | ------------------------ |
| tokens       | while parsing (graphql-core)    | `TOO_MANY_TOKENS`        |
| depth        | validation rule                 | `QUERY_TOO_DEEP`         |
| aliases      | validation rule                 | `TOO_MANY_ALIASES`       |
| introspection| validation rule (when disabled) | `INTROSPECTION_DISABLED` |
| cost         | after validation, with variables| `QUERY_TOO_COSTLY`       |

The validation rules are classes made once per set of limits (`validation_rules` is cached),
so strawberry's ValidationCache, keyed by the rule classes, keeps hitting; the token limit
is a parse option, part of the ParserCache's key, so that cache keeps hitting too.

Query cost (like GitHub's node limit, reported like Shopify's `cost` extension) is the
number of objects the response can hold at most, computed from the document alone:

- every field of an object, interface or union type counts once per parent object it can
  appear under (scalars and enums are free; `__typename` and introspection are free);
- a connection field (`first`/`after`, type `...Connection`) counts as one object, and the
  lists inside it (`edges`, `nodes`) hold `first` items (default 25, as the resolvers);
- any other list field with a `first` argument holds `first` items (its schema default when
  absent); a list field without one is estimated at `query_cost_list_estimate` items;
- sizes multiply down the tree: `objectives(first: 100) { edges { node { keyResults
  { id } } } }` costs 1 + 100 + 100 + 100 x 5 = 701.

Defaults: lists without `first` are estimated at 5 items (an objective's key results, its
links, a team's children are short lists), and the limit is 200,000: twice the heaviest
dashboard query we know (15 aliased team pages of 100 objectives, each with its key
results, links and latest check-ins: about 100,000), while a multiplicative blow-up
(`teams(first: 100)` -> children -> children -> objectives -> key results ->
`checkIns(first: 100)`: millions) is refused before it runs.

Every executed operation reports `{"cost": {"requestedQueryCost": N, "maximumAvailable": M}}`
in the response's `extensions`.
"""

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from graphql import (
    DocumentNode,
    ExecutionResult,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLInterfaceType,
    GraphQLList,
    GraphQLNamedType,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLOutputType,
    GraphQLSchema,
    InlineFragmentNode,
    IntValueNode,
    OperationDefinitionNode,
    SelectionSetNode,
    StringValueNode,
    ValidationContext,
    ValidationRule,
    VariableNode,
    Visitor,
    get_named_type,
    get_operation_ast,
    is_leaf_type,
    visit,
)
from graphql.error import GraphQLSyntaxError
from graphql.validation import ASTValidationRule
from strawberry.extensions import SchemaExtension

from okr_service.kit.json_input import InputTooDeep, holds_nul
from okr_service.kit.settings import Settings

DEFAULT_PAGE_SIZE = 25  # what a connection returns without `first` (okr_service/graphql/nodes.py)


@dataclass(frozen=True, slots=True)
class Limits:
    max_depth: int
    max_aliases: int
    max_tokens: int
    max_cost: int
    list_estimate: int
    default_page_size: int
    introspection: bool
    max_json_depth: int

    @classmethod
    def from_settings(cls, settings: Settings) -> "Limits":
        return cls(
            max_depth=settings.max_query_depth,
            max_aliases=settings.max_query_aliases,
            max_tokens=settings.max_query_tokens,
            max_cost=settings.max_query_cost,
            list_estimate=settings.query_cost_list_estimate,
            default_page_size=min(DEFAULT_PAGE_SIZE, settings.max_page_size),
            introspection=settings.introspection,
            max_json_depth=settings.max_json_depth,
        )


# --- validation rules ------------------------------------------------------------------


def _fragments(context: ValidationContext) -> dict[str, FragmentDefinitionNode]:
    return {
        definition.name.value: definition
        for definition in context.document.definitions
        if isinstance(definition, FragmentDefinitionNode)
    }


class _Depth:
    """Levels of nested selection sets; introspection fields do not count.

    Each fragment's depth is computed once: a document spreading fragments that spread
    others twice over ("fragment bombs") would otherwise take exponential time.
    """

    def __init__(self, fragments: Mapping[str, FragmentDefinitionNode]) -> None:
        self.fragments = fragments
        self.known: dict[str, int] = {}
        self.visiting: set[str] = set()

    def of(self, selection_set: SelectionSetNode | None) -> int:
        if selection_set is None:
            return 0
        deepest = 0
        for selection in selection_set.selections:
            if isinstance(selection, FieldNode):
                if selection.name.value.startswith("__") or selection.selection_set is None:
                    continue
                found = 1 + self.of(selection.selection_set)
            elif isinstance(selection, InlineFragmentNode):
                found = self.of(selection.selection_set)
            elif isinstance(selection, FragmentSpreadNode):
                found = self.fragment(selection.name.value)
            else:  # pragma: no cover - graphql-core has no other selection kind
                continue
            deepest = max(deepest, found)
        return deepest

    def fragment(self, name: str) -> int:
        if name in self.known:
            return self.known[name]
        fragment = self.fragments.get(name)
        if fragment is None or name in self.visiting:
            return 0  # unknown or cyclic fragments are reported by the standard rules
        self.visiting.add(name)
        self.known[name] = self.of(fragment.selection_set)
        self.visiting.discard(name)
        return self.known[name]


def depth_rule(max_depth: int) -> type[ASTValidationRule]:
    class QueryDepthRule(ValidationRule):
        def enter_operation_definition(self, node: OperationDefinitionNode, *_: Any) -> None:
            depth = _Depth(_fragments(self.context)).of(node.selection_set)
            if depth > max_depth:
                name = node.name.value if node.name else "anonymous"
                self.report_error(
                    GraphQLError(
                        f"Operation '{name}' is {depth} levels deep; at most {max_depth} "
                        "are allowed.",
                        node,
                        extensions={"code": "QUERY_TOO_DEEP", "depth": depth, "max": max_depth},
                    )
                )

    return QueryDepthRule


def alias_rule(max_aliases: int) -> type[ASTValidationRule]:
    class AliasCountRule(ValidationRule):
        def __init__(self, context: ValidationContext) -> None:
            super().__init__(context)
            self.count = 0

        def enter_field(self, node: FieldNode, *_: Any) -> None:
            if node.alias is not None:
                self.count += 1

        def leave_document(self, node: Any, *_: Any) -> None:
            if self.count > max_aliases:
                self.report_error(
                    GraphQLError(
                        f"The document uses {self.count} aliases; at most {max_aliases} "
                        "are allowed.",
                        extensions={
                            "code": "TOO_MANY_ALIASES",
                            "aliases": self.count,
                            "max": max_aliases,
                        },
                    )
                )

    return AliasCountRule


class NoIntrospectionRule(ValidationRule):
    """`__schema` and `__type` refused (`__typename` stays allowed)."""

    def enter_field(self, node: FieldNode, *_: Any) -> Any:
        if node.name.value in ("__schema", "__type"):
            self.report_error(
                GraphQLError(
                    "Introspection is disabled on this server.",
                    node,
                    extensions={"code": "INTROSPECTION_DISABLED"},
                )
            )
            return self.SKIP  # one error per introspection field, not one per subfield
        return None


@lru_cache
def validation_rules(limits: Limits) -> tuple[type[ASTValidationRule], ...]:
    """The rule classes of `limits`: the same classes every time (the ValidationCache's key)."""
    rules = [depth_rule(limits.max_depth), alias_rule(limits.max_aliases)]
    if not limits.introspection:
        rules.append(NoIntrospectionRule)
    return tuple(rules)


# --- query cost ------------------------------------------------------------------------


def _unwrap(type_: GraphQLOutputType) -> tuple[bool, GraphQLNamedType]:
    """(is a list, the named type) of a field's type."""
    if isinstance(type_, GraphQLNonNull):
        type_ = type_.of_type
    return isinstance(type_, GraphQLList), get_named_type(type_)


def _is_connection(type_: GraphQLNamedType) -> bool:
    return (
        isinstance(type_, GraphQLObjectType)
        and type_.name.endswith("Connection")
        and "edges" in type_.fields
    )


class _CostWalk:
    """Costs per parent object: every count is linear in the number of parents, so a
    fragment's cost (per page size) is computed once and multiplied, never walked again."""

    def __init__(
        self,
        schema: GraphQLSchema,
        operation: OperationDefinitionNode,
        fragments: Mapping[str, FragmentDefinitionNode],
        variables: Mapping[str, Any],
        limits: Limits,
    ) -> None:
        self.schema = schema
        self.fragments = fragments
        self.variables = variables
        self.limits = limits
        self.defaults = {
            definition.variable.name.value: definition.default_value
            for definition in operation.variable_definitions or ()
        }
        self.known: dict[tuple[str, str | None, int | None], int] = {}
        self.visiting: set[str] = set()

    def first(self, node: FieldNode, field_default: Any) -> int | None:
        """The `first` argument's value when known (a literal, a variable, a default)."""
        for argument in node.arguments or ():
            if argument.name.value != "first":
                continue
            value = argument.value
            if isinstance(value, VariableNode):
                name = value.name.value
                given = self.variables.get(name)
                if given is None:
                    default = self.defaults.get(name)
                    given = int(default.value) if isinstance(default, IntValueNode) else None
                return _count(given)
            if isinstance(value, IntValueNode):
                return _count(int(value.value))
            return None  # null: the default
        return _count(field_default)

    def cost(self, selection_set: SelectionSetNode | None, parent: Any, page: int | None) -> int:
        """Objects one `parent` object's selection can hold (`page`: its lists' size)."""
        if selection_set is None:
            return 0
        total = 0
        fields = isinstance(parent, GraphQLObjectType | GraphQLInterfaceType)
        for selection in selection_set.selections:
            if isinstance(selection, FieldNode):
                if fields:  # a union selects only `__typename` directly: free
                    total += self.field_cost(selection, parent, page)
            elif isinstance(selection, InlineFragmentNode):
                condition = selection.type_condition
                target = self.schema.get_type(condition.name.value) if condition else parent
                total += self.cost(selection.selection_set, target, page)
            elif isinstance(selection, FragmentSpreadNode):
                total += self.fragment_cost(selection.name.value, parent, page)
        return total

    def fragment_cost(self, name: str, parent: Any, page: int | None) -> int:
        key = (name, getattr(parent, "name", None), page)
        if key in self.known:
            return self.known[key]
        fragment = self.fragments.get(name)
        if fragment is None or name in self.visiting:
            return 0  # unknown or cyclic: refused by validation anyway
        self.visiting.add(name)
        target = self.schema.get_type(fragment.type_condition.name.value)
        self.known[key] = self.cost(fragment.selection_set, target, page)
        self.visiting.discard(name)
        return self.known[key]

    def field_cost(
        self, node: FieldNode, parent: GraphQLObjectType | GraphQLInterfaceType, page: int | None
    ) -> int:
        name = node.name.value
        field = parent.fields.get(name)
        if name.startswith("__") or field is None:
            return 0
        is_list, named = _unwrap(field.type)
        if is_leaf_type(named):
            return 0
        first_argument = field.args.get("first")
        first = (
            self.first(node, first_argument.default_value) if first_argument is not None else None
        )
        if _is_connection(named):
            size = self.limits.default_page_size if first is None else first
            return 1 + self.cost(node.selection_set, named, size)
        if is_list:
            if first_argument is not None:
                items = self.limits.default_page_size if first is None else first
            else:
                items = page if page is not None else self.limits.list_estimate
        else:
            items = 1
        return items * (1 + self.cost(node.selection_set, named, None))


def _count(value: Any) -> int | None:
    if isinstance(value, bool) or not isinstance(value, int):
        return None  # not an Int: coercion refuses the operation before anything runs
    return max(value, 0)


def query_cost(
    schema: GraphQLSchema,
    document: Any,
    operation_name: str | None,
    variables: Mapping[str, Any] | None,
    limits: Limits,
) -> int | None:
    """The requested cost of the operation to run, or None when there is no such operation."""
    operation = get_operation_ast(document, operation_name)
    if operation is None:
        return None
    root = schema.get_root_type(operation.operation)
    fragments = {
        definition.name.value: definition
        for definition in document.definitions
        if isinstance(definition, FragmentDefinitionNode)
    }
    walk = _CostWalk(schema, operation, fragments, variables or {}, limits)
    return walk.cost(operation.selection_set, root, None)


# --- input: text PostgreSQL cannot store, nesting too deep ------------------------------


def nul_error() -> GraphQLError:
    return GraphQLError(
        "Text may not contain the NUL character (U+0000).",
        extensions={"code": "INVALID_VALUE"},
    )


def input_error(
    document: DocumentNode,
    operation_name: str | None,
    variables: Mapping[str, Any] | None,
    max_depth: int,
) -> GraphQLError | None:
    """Why the operation's input cannot run (U+0000 in its text, variables nested too
    deep), or None. The HTTP layer refuses deep JSON before this (400); here it guards
    other callers of the schema. Walked iteratively: any depth costs no stack."""
    try:
        if holds_nul(_declared(document, operation_name, variables), max_depth):
            return nul_error()
    except InputTooDeep as too_deep:
        return GraphQLError(too_deep.message, extensions={"code": too_deep.code})
    return nul_error() if _document_holds_nul(document) else None


def _declared(
    document: DocumentNode, operation_name: str | None, variables: Mapping[str, Any] | None
) -> dict[str, Any]:
    """The variables the operation declares: the others are never read, so never scanned."""
    operation = get_operation_ast(document, operation_name)
    if operation is None or not variables:
        return {}
    names = {definition.variable.name.value for definition in operation.variable_definitions or ()}
    return {name: value for name, value in variables.items() if name in names}


class _NulFinder(Visitor):
    def __init__(self) -> None:
        super().__init__()
        self.found = False

    def enter_string_value(self, node: StringValueNode, *_: Any) -> Any:
        if "\x00" in node.value:
            self.found = True
            return self.BREAK
        return None


def _document_holds_nul(document: DocumentNode) -> bool:
    """Whether a string literal of the document holds U+0000 (written as `\\u0000`, or as
    itself: the lexer takes both). A text with neither a NUL nor a `\\u` escape holds none:
    a scan of the text in C, where walking the whole tree took a third of a millisecond on
    every request."""
    text = document.loc.source.body if document.loc is not None else None
    if text is not None and "\x00" not in text and "\\u" not in text:
        return False
    finder = _NulFinder()
    visit(document, finder)
    return finder.found


# --- the extension ---------------------------------------------------------------------

TOO_MANY_TOKENS_MESSAGE = "Document contains more than"  # graphql-core's max_tokens error


def limits_of(context: Any) -> Limits:
    """The limits of the app serving the request (`app.state.limits`, set by create_app)."""
    request = getattr(context, "request", None)
    limits = getattr(getattr(getattr(request, "app", None), "state", None), "limits", None)
    if not isinstance(limits, Limits):
        raise RuntimeError("No app.state.limits: serve the schema through create_app().")
    return limits


class QueryLimits(SchemaExtension):
    """Applies the app's limits to every operation: token limit, validation rules, cost."""

    limits: Limits

    def __init__(self) -> None:
        self.cost: int | None = None

    def on_operation(self) -> Iterator[None]:
        context = self.execution_context
        self.limits = limits_of(context.context)
        context.parse_options["max_tokens"] = self.limits.max_tokens
        context.validation_rules = context.validation_rules + validation_rules(self.limits)
        try:
            yield
        except GraphQLSyntaxError as raised:  # raised by a parsing extension (ParserCache)
            self._code_parse_error(raised)
            raise

    def on_parse(self) -> Iterator[None]:
        yield
        for error in self.execution_context.pre_execution_errors or ():  # strawberry's parse
            if isinstance(error, GraphQLSyntaxError):
                self._code_parse_error(error)

    @staticmethod
    def _code_parse_error(error: GraphQLError) -> None:
        if error.extensions and "code" in error.extensions:
            return
        if TOO_MANY_TOKENS_MESSAGE in error.message:
            error.extensions = {**(error.extensions or {}), "code": "TOO_MANY_TOKENS"}
        else:
            error.extensions = {**(error.extensions or {}), "code": "GRAPHQL_PARSE_FAILED"}

    def on_execute(self) -> Iterator[None]:
        context = self.execution_context
        if context.result is None and context.graphql_document is not None:
            error = input_error(
                context.graphql_document,
                context.operation_name,
                context.variables,
                self.limits.max_json_depth,
            )
            if error is not None:
                context.result = ExecutionResult(data=None, errors=[error])
                yield
                return
            self.cost = query_cost(
                context.schema._schema,
                context.graphql_document,
                context.operation_name,
                context.variables,
                self.limits,
            )
            if self.cost is not None and self.cost > self.limits.max_cost:
                # A result set before execution: strawberry runs nothing.
                context.result = ExecutionResult(
                    data=None,
                    errors=[
                        GraphQLError(
                            f"The query's cost is {self.cost}, above the limit of "
                            f"{self.limits.max_cost}: ask for smaller pages (`first`) or "
                            "fewer nested lists.",
                            extensions={
                                "code": "QUERY_TOO_COSTLY",
                                "cost": self.cost,
                                "max": self.limits.max_cost,
                            },
                        )
                    ],
                )
        yield
        result = context.result
        if self.cost is not None and isinstance(result, ExecutionResult):
            # Also on the raw result, for what keeps it (the Idempotency-Key's stored answer).
            result.extensions = {**(result.extensions or {}), **self.get_results()}

    def get_results(self) -> dict[str, Any]:
        if self.cost is None:
            return {}
        return {"cost": {"requestedQueryCost": self.cost, "maximumAvailable": self.limits.max_cost}}
