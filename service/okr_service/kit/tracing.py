"""OpenTelemetry traces, off unless the standard `OTEL_*` variables ask for them.

Spans, at the edges only: the HTTP request (continuing a W3C `traceparent` it carries),
the GraphQL operation (one span, never one per field), each SQL statement, and each webhook
delivery (a child of the request that caused the event, its `traceparent` sent along, so
the receiver can join the trace). Off, none of it runs: components hold `None`. Here the
API only; the SDK, which exports, is okr_service/kit/trace_export.py.
"""

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any
from weakref import WeakKeyDictionary

from opentelemetry import propagate
from opentelemetry.context import Context
from opentelemetry.trace import Span, SpanKind, Status, StatusCode, Tracer, TracerProvider
from sqlalchemy import Engine, event
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

INSTRUMENTATION = "okr-service"
SQL_TEXT_LIMIT = 2000  # statements are long; their parameters are never recorded


def tracer_of(provider: TracerProvider | None) -> Tracer | None:
    return provider.get_tracer(INSTRUMENTATION) if provider is not None else None


def extracted(headers: Mapping[str, str]) -> Context:
    """The trace context a caller sent (`traceparent`, `tracestate`), if any."""
    return propagate.extract(headers)


def current_traceparent() -> dict[str, str]:
    """The current span's W3C headers (empty when no span is being recorded)."""
    carrier: dict[str, str] = {}
    propagate.inject(carrier)
    return carrier


# The tracer of each traced engine, for the statements sent to its driver directly.
_SQL_TRACERS: "WeakKeyDictionary[Engine, Tracer]" = WeakKeyDictionary()


def sql_span(tracer: Tracer, statement: str) -> Span:
    """A client span for one SQL statement (its text, never its parameters)."""
    operation = statement.lstrip().split(None, 1)[0].upper() if statement.strip() else "SQL"
    return tracer.start_span(
        operation,
        kind=SpanKind.CLIENT,
        attributes={
            "db.system.name": "postgresql",
            "db.operation.name": operation,
            "db.query.text": statement[:SQL_TEXT_LIMIT],
        },
    )


def failed_span(span: Span, error: BaseException) -> None:
    span.record_exception(error)
    span.set_status(Status(StatusCode.ERROR))
    span.end()


def trace_sql(engine: AsyncEngine, tracer: Tracer) -> None:
    """A client span per SQL statement of `engine`, child of whatever span is current."""
    sync_engine = engine.sync_engine
    _SQL_TRACERS[sync_engine] = tracer

    def before(
        _conn: Any, _cursor: Any, statement: str, _params: Any, context: Any, _many: Any
    ) -> None:
        context._okr_span = sql_span(tracer, statement)

    def after(
        _conn: Any, _cursor: Any, _statement: str, _params: Any, context: Any, _many: Any
    ) -> None:
        span = getattr(context, "_okr_span", None)
        if span is not None:
            span.end()

    def failed(exception_context: Any) -> None:
        span = getattr(exception_context.execution_context, "_okr_span", None)
        if span is not None:
            failed_span(span, exception_context.original_exception)

    event.listen(sync_engine, "before_cursor_execute", before)
    event.listen(sync_engine, "after_cursor_execute", after)
    event.listen(sync_engine, "handle_error", failed)


@contextmanager
def traced_driver_sql(connection: AsyncConnection, statement: str) -> Iterator[None]:
    """`trace_sql`'s span for a statement sent to the driver directly (`kit.rows`)."""
    tracer = _SQL_TRACERS.get(connection.sync_engine)
    if tracer is None:
        yield
        return
    span = sql_span(tracer, statement)
    try:
        yield
    except BaseException as error:
        failed_span(span, error)
        raise
    span.end()
