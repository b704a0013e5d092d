"""Which fields a selection asks of an object of one type, as GraphQL's CollectFields
defines it: fragments and inline fragments that apply to the type, @skip and @include
evaluated with the operation's variables, fields merged under their response key."""

from graphql import (
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLIncludeDirective,
    GraphQLObjectType,
    GraphQLSchema,
    GraphQLSkipDirective,
    InlineFragmentNode,
    SelectionNode,
    SelectionSetNode,
    is_abstract_type,
)
from graphql.execution.values import VariableValues, get_directive_values

Collected = dict[str, list[FieldNode]]  # response key -> the field nodes merged under it


def collect(
    schema: GraphQLSchema,
    fragments: dict[str, FragmentDefinitionNode],
    variables: VariableValues,
    type_: GraphQLObjectType,
    selection_sets: list[SelectionSetNode],
) -> Collected:
    fields: Collected = {}
    visited: set[str] = set()
    for selection_set in selection_sets:
        _collect(schema, fragments, variables, type_, selection_set, fields, visited)
    return fields


def _collect(
    schema: GraphQLSchema,
    fragments: dict[str, FragmentDefinitionNode],
    variables: VariableValues,
    type_: GraphQLObjectType,
    selection_set: SelectionSetNode,
    fields: Collected,
    visited: set[str],
) -> None:
    for selection in selection_set.selections:
        if not _included(selection, variables):
            continue
        if isinstance(selection, FieldNode):
            key = (selection.alias or selection.name).value
            fields.setdefault(key, []).append(selection)
        elif isinstance(selection, InlineFragmentNode):
            condition = selection.type_condition
            if condition is None or _applies(schema, condition.name.value, type_):
                _collect(
                    schema, fragments, variables, type_, selection.selection_set, fields, visited
                )
        elif isinstance(selection, FragmentSpreadNode):
            name = selection.name.value
            fragment = fragments.get(name)
            if name in visited or fragment is None:
                continue
            visited.add(name)
            if _applies(schema, fragment.type_condition.name.value, type_):
                _collect(
                    schema, fragments, variables, type_, fragment.selection_set, fields, visited
                )


def _included(node: SelectionNode, variables: VariableValues) -> bool:
    skip = get_directive_values(GraphQLSkipDirective, node, variables)
    if skip is not None and skip["if"] is True:
        return False
    include = get_directive_values(GraphQLIncludeDirective, node, variables)
    return not (include is not None and include["if"] is False)


def _applies(schema: GraphQLSchema, condition: str, type_: GraphQLObjectType) -> bool:
    if condition == type_.name:
        return True
    conditional = schema.get_type(condition)
    return (
        conditional is not None
        and is_abstract_type(conditional)
        and schema.is_sub_type(conditional, type_)
    )
