"""What the request's log line, metrics and trace learn from GraphQL: the operation's type
and name, one span around it (parse to commit, never one per field), its cost and the codes
of its errors. The HTTP layer (okr_service/kit/observe.py) does the accounting."""

from collections.abc import Iterator
from typing import Any

from graphql import GraphQLError
from opentelemetry.trace import Tracer
from strawberry.extensions import SchemaExtension

from okr_service.kit.observe import RequestRecord, record_of

UNKNOWN = "unknown"  # no operation to speak of: the document did not parse


class ObserveOperation(SchemaExtension):
    def on_operation(self) -> Iterator[None]:
        request = getattr(self.execution_context.context, "request", None)
        scope = getattr(request, "scope", None)
        record = record_of(scope) if scope is not None else None
        tracer: Tracer | None = getattr(request.app.state, "tracer", None) if request else None
        if tracer is None:
            yield
        else:
            with tracer.start_as_current_span("graphql.operation") as span:
                yield
                operation_type, name = self._operation()
                span.update_name(f"{operation_type} {name}" if name else operation_type)
                span.set_attribute("graphql.operation.type", operation_type)
                if name:
                    span.set_attribute("graphql.operation.name", name)
        if record is not None:
            record.operation_type, record.operation_name = self._operation()

    def _operation(self) -> tuple[str, str | None]:
        execution = self.execution_context
        try:
            operation_type = execution.operation_type.value
        except Exception:  # no document, or no operation of that name in it
            return UNKNOWN, None
        return operation_type, execution.operation_name


def note_result(record: RequestRecord, errors: list[GraphQLError] | None, extensions: Any) -> None:
    """The codes of an answer's (masked) errors, its error id, and its query cost."""
    for error in errors or ():
        found = error.extensions or {}
        record.error_codes.append(str(found.get("code", "INTERNAL_SERVER_ERROR")))
        if "errorId" in found:
            record.error_id = str(found["errorId"])
    cost = (extensions or {}).get("cost") if isinstance(extensions, dict) else None
    if isinstance(cost, dict) and isinstance(cost.get("requestedQueryCost"), int):
        record.query_cost = cost["requestedQueryCost"]
