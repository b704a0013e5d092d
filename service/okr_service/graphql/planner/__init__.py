"""The compiled read path: query operations answered level by level, not field by field.

Strawberry stays the reference. Parsing, validation, the limits (depth, aliases, tokens,
cost), the tenant switch, roles and error masking all happen before or around this step,
so both paths share them. A query whose every field this path serves (see `fields.py`) is
answered here; anything else (mutations, introspection, fields not served, any error)
runs whole through Strawberry. `OKR_QUERY_PLANNER=false` turns the path off;
`OKR_QUERY_PLANNER_VERIFY=true` runs both and fails any request whose answers differ
(the test suite runs that way, so every query in it is compared).
"""

import logging
from collections.abc import AsyncIterator
from typing import Any

from graphql import ExecutionResult, OperationType, get_operation_ast
from graphql.execution.values import get_variable_values
from sqlalchemy.exc import DBAPIError
from strawberry.extensions import SchemaExtension
from strawberry.types.graphql import OperationType as StrawberryOperationType

from okr_service.graphql.context import Context
from okr_service.graphql.extensions import operation_is
from okr_service.graphql.planner.execute import (
    Fallback,
    Plan,
    Unsupported,
    fragments_of,
    unserved_field,
)
from okr_service.graphql.planner.fields import Run
from okr_service.kit import metrics

logger = logging.getLogger(__name__)
VERDICT_MEMORY = 4096  # documents whose verdict (served or why not) is remembered
PLAN_MEMORY = 1024  # operations served here whose plan is kept (as many as parsed documents)


class AnswersDiffer(AssertionError):
    """In verify mode, the compiled path and Strawberry answered one query differently."""


class CompiledReads(SchemaExtension):
    # Per document and operation: None when this path serves it, else why not. Checked
    # once: clients send the same few documents again and again.
    verdicts: dict[tuple[str, str | None], str | None] = {}
    # Per schema, document and operation this path serves: its compiled plan.
    plans: dict[tuple[Any, str, str | None], Plan] = {}
    answered = 0  # requests this process answered by the compiled path (or compared)

    async def on_execute(self) -> AsyncIterator[None]:
        execution = self.execution_context
        context = execution.context
        planned = await self.planned(context) if isinstance(context, Context) else None
        if planned is not None:
            CompiledReads.answered += 1
        if operation_is(execution, StrawberryOperationType.QUERY):
            metrics.QUERIES_BY_PATH.labels("compiled" if planned is not None else "resolvers").inc()
        verify = planned is not None and context.settings.query_planner_verify
        if planned is not None and not verify:
            execution.result = ExecutionResult(data=planned)
        yield
        if verify:
            compare(planned, execution.result)

    async def planned(self, context: Context) -> dict[str, Any] | None:
        execution = self.execution_context
        document = execution.graphql_document
        key = (execution.query or "", execution.operation_name)
        if not context.settings.query_planner or document is None or execution.result:
            return None
        operation = get_operation_ast(document, execution.operation_name)
        if key not in self.verdicts:
            remember_verdict(key, verdict_on(execution.schema, document, operation))
        if self.verdicts[key] is not None or operation is None:
            return None
        schema = execution.schema
        variables = get_variable_values(
            schema._schema, operation.variable_definitions or (), execution.variables or {}
        )
        if isinstance(variables, list):
            return None  # bad variables: Strawberry reports them
        try:
            return await plan_of(schema, document, operation, key).execute(variables, Run(context))
        except Unsupported as reason:
            remember_verdict(key, str(reason))
        except Fallback:
            pass
        except DBAPIError:
            raise  # the database failed: so would the reference path (an outage is a 503)
        except Exception:
            # An error the reference path reports in its own words (bad IDs, page sizes...).
            logger.debug("compiled read fell back to Strawberry", exc_info=True)
        return None


def verdict_on(schema: Any, document: Any, operation: Any) -> str | None:
    """None when this path serves the operation, else why not."""
    if operation is None or operation.operation is not OperationType.QUERY:
        return "not a query"
    return unserved_field(schema._schema, fragments_of(document.definitions), operation)


def remember_verdict(key: tuple[str, str | None], verdict: str | None) -> None:
    if len(CompiledReads.verdicts) >= VERDICT_MEMORY:
        CompiledReads.verdicts.clear()
    CompiledReads.verdicts[key] = verdict


def plan_of(schema: Any, document: Any, operation: Any, key: tuple[str, str | None]) -> Plan:
    """The operation's plan, compiled at its first request (a plan holds the schema's
    types and fields: one per schema)."""
    plans = CompiledReads.plans
    found = plans.get((schema, *key))
    if found is None:
        if len(plans) >= PLAN_MEMORY:
            plans.clear()
        found = plans[(schema, *key)] = Plan(schema, document, operation)
    return found


def compare(planned: dict[str, Any] | None, result: Any) -> None:
    """Verify mode: the reference answer must be the compiled one, without errors."""
    errors = getattr(result, "errors", None)
    data = getattr(result, "data", None)
    if errors or data != planned:
        logger.error("compiled read differs: compiled %r, reference %r %r", planned, data, errors)
        raise AnswersDiffer("The compiled read path and Strawberry answered differently.")
