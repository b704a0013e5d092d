"""The log line formatter: the fields of a line, one line per record whatever it holds."""

import io
import json
import logging
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from okr_service.kit.logs import LogFormat, logging_config


@pytest.fixture
def captured() -> Iterator[io.StringIO]:
    """The service's logging configuration, writing to a buffer; the previous one after."""
    root = logging.getLogger()
    saved = (root.handlers[:], root.level)
    yield io.StringIO()
    root.handlers[:], root.level = saved


def lines(buffer: io.StringIO, log_format: LogFormat) -> list[str]:
    logging.config.dictConfig(logging_config(log_format, "INFO"))
    logging.getLogger().handlers[0].setStream(buffer)  # type: ignore[attr-defined]
    request = logging.getLogger("okr_service.request")
    request.info("request", extra={"request_id": "r-1", "status": 200, "error_codes": None})
    coloured = {"color_message": "\x1b[1mStarted\x1b[0m server process [%d]"}
    logging.getLogger("uvicorn.error").info("Started server process [%d]", 7, extra=coloured)
    try:
        raise ValueError("bad\ninput")
    except ValueError:
        logging.getLogger("okr_service.app").exception("unexpected error %s", "e-1")
    unusual: dict[str, Any] = {
        "key": uuid.UUID(int=1),
        "huge": 2**70,
        "thing": object(),
        "by_status": {404: 2},
    }
    logging.getLogger("okr_service.app").warning("unusual values", extra=unusual)
    logging.getLogger("okr_service.app").debug("below the level")
    return buffer.getvalue().splitlines()


def test_json_lines_carry_the_fields_and_stay_one_line_each(captured: io.StringIO) -> None:
    records = [json.loads(line) for line in lines(captured, "json")]

    request, started, error, unusual = records
    assert request == {
        "event": "request",
        "timestamp": request["timestamp"],
        "level": "info",
        "logger": "okr_service.request",
        "request_id": "r-1",
        "status": 200,
        "error_codes": None,
    }
    assert request["timestamp"].endswith("Z")
    assert started["event"] == "Started server process [7]"
    assert "color_message" not in started
    assert error["event"] == "unexpected error e-1"
    assert error["level"] == "error"
    assert error["exception"].startswith("Traceback (most recent call last):")
    assert error["exception"].endswith("ValueError: bad\ninput")
    # A value JSON cannot hold still leaves a line, with the value as text.
    assert unusual["event"] == "unusual values"
    assert unusual["key"] == str(uuid.UUID(int=1))
    assert unusual["huge"] == str(2**70)
    assert unusual["thing"].startswith("<object object")
    assert unusual["by_status"] == {"404": 2}


def test_text_lines_carry_the_same_fields(captured: io.StringIO) -> None:
    text = lines(captured, "text")

    assert "[info     ] request" in text[0]
    assert "[okr_service.request]" in text[0]
    assert "request_id=r-1" in text[0]
    assert text[1].endswith("[uvicorn.error]")
    assert "Traceback (most recent call last):" in text
    assert not [line for line in text if "below the level" in line]
