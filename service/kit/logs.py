"""Logging: every line of the process (the service's, uvicorn's, the libraries') in one
format, JSON objects one per line or plain text, chosen by `OKR_LOG_FORMAT`.

Loggers stay the standard library's; structlog only renders. The configuration is a
`logging.config.dictConfig` dictionary, so uvicorn applies it again in each worker process
it starts (`serve --workers N`), which would otherwise log with uvicorn's defaults only.
"""

import logging
import logging.config
from collections.abc import Mapping, MutableMapping
from typing import Any, Literal

import structlog

LogFormat = Literal["json", "text"]


def drop_color_message(_: Any, __: str, event: MutableMapping[str, Any]) -> Mapping[str, Any]:
    """uvicorn passes a copy of its message with terminal colours: noise in a log line."""
    event.pop("color_message", None)
    return event


def formatter(log_format: LogFormat) -> logging.Formatter:
    """One formatter for every record; `extra={...}` fields become keys of the line."""
    renderer: Any = (
        structlog.processors.JSONRenderer()
        if log_format == "json"
        else structlog.dev.ConsoleRenderer(colors=False)
    )
    return structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=[
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.stdlib.add_log_level,
            structlog.stdlib.add_logger_name,
            structlog.stdlib.ExtraAdder(),
            drop_color_message,
        ],
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            # A traceback is one string field: a JSON line stays one line.
            structlog.processors.format_exc_info,
            renderer,
        ],
    )


def logging_config(log_format: LogFormat, level: str) -> dict[str, Any]:
    """Root and uvicorn's loggers to stderr in `log_format`. uvicorn's access log is left
    to the service's own request line (service/kit/observe.py), which says more."""
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {
            "okr": {"()": "service.kit.logs.formatter", "log_format": log_format},
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
            name: {"handlers": [], "level": level, "propagate": True}
            for name in ("uvicorn", "uvicorn.error", "uvicorn.access")
        },
    }


def configure_logging(log_format: LogFormat, level: str) -> None:
    logging.config.dictConfig(logging_config(log_format, level))
