"""Logging: every line of the process (the service's, uvicorn's, the libraries') in one
format, JSON objects one per line or plain text, chosen by `OKR_LOG_FORMAT`.

Loggers stay the standard library's; one formatter renders each record (JSON with orjson,
text with structlog's console renderer). The configuration is a
`logging.config.dictConfig` dictionary, so uvicorn applies it again in each worker process
it starts (`serve --workers N`), which would otherwise log with uvicorn's defaults only.
"""

import logging
import logging.config
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, Literal

import orjson
import structlog

LogFormat = Literal["json", "text"]
Render = Callable[[dict[str, Any]], str]

# What every record carries, as opposed to the fields a caller adds with `extra={...}`;
# `color_message` is uvicorn's copy of its message with terminal colours: noise in a line.
RECORD_ATTRIBUTES = frozenset(logging.makeLogRecord({}).__dict__) | {
    "message",
    "asctime",
    "color_message",
}


def to_json(event: dict[str, Any]) -> str:
    """orjson, an order of magnitude faster than the standard library here. A value it
    cannot encode is logged as its repr() rather than losing the line."""
    try:
        return dumps(event)
    except TypeError:  # an integer beyond 64 bits, somewhere inside
        return dumps(
            {key: value if encodes(value) else repr(value) for key, value in event.items()}
        )


def dumps(value: Any) -> str:
    return orjson.dumps(value, default=repr, option=orjson.OPT_NON_STR_KEYS).decode()


def encodes(value: Any) -> bool:
    try:
        dumps(value)
    except TypeError:
        return False
    return True


class LineFormatter(logging.Formatter):
    """Each record as one line of `timestamp`, `level`, `logger`, `event`, its `extra={...}`
    fields and `exception`, rendered as JSON by orjson or as text by structlog.

    structlog's own `ProcessorFormatter` gives the same fields through a chain of processors
    and a copy of every record (kept there for other handlers; there is one handler here).
    The service logs a line per request, so the direct route is worth its few lines: it
    costs about 15 µs of CPU a line where that chain and the standard library's JSON
    encoder cost about 38.
    """

    def __init__(self, render: Render) -> None:
        super().__init__()
        self.render = render

    def format(self, record: logging.LogRecord) -> str:
        event: dict[str, Any] = {
            "event": record.getMessage(),
            "timestamp": datetime.fromtimestamp(record.created, UTC)
            .isoformat()
            .replace("+00:00", "Z"),
            "level": record.levelname.lower(),
            "logger": record.name,
        }
        for key, value in record.__dict__.items():
            if key not in RECORD_ATTRIBUTES:
                event[key] = value
        if record.exc_info:  # a traceback is one string field: a JSON line stays one line
            event["exception"] = self.formatException(record.exc_info)
        if record.stack_info:
            event["stack_info"] = record.stack_info
        return self.render(event)


def formatter(log_format: LogFormat) -> logging.Formatter:
    """One formatter for every record; `extra={...}` fields become keys of the line."""
    if log_format == "json":
        return LineFormatter(to_json)
    console = structlog.dev.ConsoleRenderer(colors=False)
    return LineFormatter(lambda event: console(None, "", event))


def logging_config(log_format: LogFormat, level: str) -> dict[str, Any]:
    """Root and uvicorn's loggers to stderr in `log_format`. uvicorn's access log is left
    to the service's own request line (okr_service/kit/observe.py), which says more."""
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {
            "okr": {"()": "okr_service.kit.logs.formatter", "log_format": log_format},
        },
        "handlers": {
            "stderr": {
                "class": "logging.StreamHandler",
                "formatter": "okr",
                "stream": "ext://sys.stderr",
            },
        },
        "root": {"handlers": ["stderr"], "level": level},
        "loggers": {
            **{
                name: {"handlers": [], "level": level, "propagate": True}
                for name in ("uvicorn", "uvicorn.error", "uvicorn.access")
            },
            # Alembic logs a line per plugin it sets up at INFO, at every migration: noise.
            "alembic.runtime.plugins": {"level": "WARNING"},
        },
    }


def configure_logging(log_format: LogFormat, level: str) -> None:
    logging.config.dictConfig(logging_config(log_format, level))
