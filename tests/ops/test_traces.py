"""Traces, captured by the OpenTelemetry SDK's in-memory exporter: a request continuing a
caller's `traceparent` gives one trace holding the HTTP request, the GraphQL operation (one
span, none per field), its SQL statements and the webhook delivery of the event it caused,
whose request carries the trace on to the receiver."""

from collections.abc import AsyncIterator

import pytest
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

from okr_service.kit.settings import TracingSettings
from okr_service.kit.trace_export import provider_from_environment
from okr_service.kit.tracing import tracer_of
from okr_service.webhooks.worker import DeliveryWorker
from tests.ops.conftest import AppWith
from tests.webhooks.conftest import Receiver, create_endpoint, eventually, worker_settings

CALLER_TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
CALLER_SPAN = "00f067aa0ba902b7"
CREATE_TEAM = (
    "mutation Traced($input: CreateTeamInput!) { createTeam(input: $input) { team { id } } }"
)


@pytest.fixture
def exporter() -> InMemorySpanExporter:
    return InMemorySpanExporter()


@pytest.fixture
def provider(exporter: InMemorySpanExporter) -> TracerProvider:
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    return provider


@pytest.fixture
async def traced_worker(database_url: str, provider: TracerProvider) -> AsyncIterator[None]:
    worker = DeliveryWorker(database_url, worker_settings(), tracer=tracer_of(provider))
    await worker.start()
    yield
    await worker.stop(grace=0)


def hex_id(number: int, width: int) -> str:
    return format(number, f"0{width}x")


async def test_one_trace_joins_request_operation_sql_and_delivery(
    app_with: AppWith,
    provider: TracerProvider,
    exporter: InMemorySpanExporter,
    receiver: Receiver,
    traced_worker: None,
) -> None:
    local = {"webhook_allowed_cidrs": "127.0.0.1/32", "webhook_allow_http": True}
    async with app_with(tracer_provider=provider, **local) as api:
        await create_endpoint(api, receiver.url, eventTypes=["team.created"])
        exporter.clear()
        response = await api.post(
            CREATE_TEAM,
            {"input": {"name": "Traced"}},
            headers_extra={"traceparent": f"00-{CALLER_TRACE}-{CALLER_SPAN}-01"},
        )
        assert response.json()["data"]["createTeam"]["team"]["id"]
        [delivered] = await receiver.wait_for(1)

        def delivery_spans() -> list[ReadableSpan]:
            # In the caller's trace: the worker also claims deliveries other tests left
            # behind (their own traces). A delivery that lost the trace never shows here.
            return [
                s
                for s in exporter.get_finished_spans()
                if s.name.startswith("webhook") and s.context.trace_id == int(CALLER_TRACE, 16)
            ]

        async def finished() -> list[ReadableSpan]:
            return delivery_spans()

        [delivery] = await eventually(finished, bool)

    spans = [
        s for s in exporter.get_finished_spans() if s.context.trace_id == int(CALLER_TRACE, 16)
    ]
    by_name = {span.name: span for span in spans}
    http = by_name["POST /graphql"]
    assert http.kind == SpanKind.SERVER
    assert http.parent is not None
    assert http.parent.span_id == int(CALLER_SPAN, 16)
    assert http.attributes["http.response.status_code"] == 200
    operation = by_name["mutation Traced"]
    assert operation.parent is not None
    assert operation.parent.span_id == http.context.span_id
    assert operation.attributes["graphql.operation.name"] == "Traced"
    # Only these span kinds: no span per resolved field.
    assert {span.name for span in spans} <= {
        "POST /graphql",
        "mutation Traced",
        "webhook delivery team.created",
        "SELECT",
        "INSERT",
        "UPDATE",
        "BEGIN",
        "COMMIT",
        "ROLLBACK",
    }
    sql = [span for span in spans if span.attributes.get("db.system.name") == "postgresql"]
    parents = {span.attributes["db.query.text"].split(" (")[0]: span.parent for span in sql}
    # The key lookup runs before the operation (in the request), the writes inside it.
    assert parents["INSERT INTO teams"].span_id == operation.context.span_id
    assert parents["INSERT INTO events"].span_id == operation.context.span_id
    assert all("Traced" not in span.attributes["db.query.text"] for span in sql)  # no values
    # The delivery (in the same trace): a child of the operation that recorded the event...
    assert delivery.parent is not None
    assert delivery.parent.span_id == operation.context.span_id
    assert delivery.kind == SpanKind.CLIENT
    assert delivery.attributes["http.response.status_code"] == 200
    assert parents["INSERT INTO webhook_attempts"].span_id == delivery.context.span_id
    # ...and the receiver was handed that trace, the delivery span as its parent.
    version, trace_id, parent_id, flags = delivered.headers["traceparent"].split("-")
    assert (version, trace_id, flags) == ("00", CALLER_TRACE, "01")
    assert parent_id == hex_id(delivery.context.span_id, 16)


async def test_without_a_trace_header_a_request_starts_its_own_trace(
    app_with: AppWith, provider: TracerProvider, exporter: InMemorySpanExporter
) -> None:
    async with app_with(tracer_provider=provider) as api:
        exporter.clear()
        await api.post("{ teams(first: 1) { edges { node { id } } } }")
    [http] = [span for span in exporter.get_finished_spans() if span.name == "POST /graphql"]
    assert http.parent is None
    operation = next(s for s in exporter.get_finished_spans() if s.name == "query")
    assert operation.context.trace_id == http.context.trace_id


def test_tracing_is_off_unless_the_standard_variables_ask_for_it() -> None:
    assert provider_from_environment(TracingSettings()) is None
    assert provider_from_environment(TracingSettings(traces_exporter="none")) is None
    assert (
        provider_from_environment(
            TracingSettings(exporter_otlp_endpoint="http://127.0.0.1:4318", sdk_disabled=True)
        )
        is None
    )
    console = provider_from_environment(TracingSettings(traces_exporter="console"))
    assert isinstance(console, TracerProvider)
    console.shutdown()
    otlp = provider_from_environment(
        TracingSettings(exporter_otlp_endpoint="http://127.0.0.1:4318")
    )
    assert isinstance(otlp, TracerProvider)
    otlp.shutdown()
