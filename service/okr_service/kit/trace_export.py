"""Exporting traces: OpenTelemetry's SDK, loaded only when the standard `OTEL_*`
variables turn tracing on (okr_service/backends.py); off, nothing here is imported."""

from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter, SpanExporter

from okr_service.kit.settings import TracingSettings
from okr_service.kit.tracing import INSTRUMENTATION


class UnknownExporter(ValueError):
    pass


def exporter_named(name: str) -> SpanExporter:
    if name == "otlp":
        # Imported only when chosen: the OTLP exporter pulls in protobuf.
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        return OTLPSpanExporter()  # endpoint, headers, timeout: OTEL_EXPORTER_OTLP_*
    if name == "console":
        return ConsoleSpanExporter()
    raise UnknownExporter(f"OTEL_TRACES_EXPORTER={name} is not supported (otlp, console, none)")


def provider_from_environment(settings: TracingSettings | None = None) -> TracerProvider | None:
    """The provider the `OTEL_*` variables ask for, or None (tracing off)."""
    exporter = (settings or TracingSettings()).exporter
    if exporter is None:
        return None
    # Resource.create() reads OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES.
    provider = TracerProvider(resource=Resource.create({"service.name": INSTRUMENTATION}))
    provider.add_span_processor(BatchSpanProcessor(exporter_named(exporter)))
    return provider
