"""The JSON log lines: one object per record with the ``extra`` fields and any traceback,
whatever the values are, and never more than one line per record."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from datetime import date

import pytest

from gateway.core.observability import JsonLineFormatter, record_request


@pytest.fixture
def lines() -> Iterator[io.StringIO]:
    """What the gateway's access and application loggers write, formatted as in production."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonLineFormatter())
    logger = logging.getLogger("gateway")
    previous = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        yield stream
    finally:
        logger.removeHandler(handler)
        logger.setLevel(previous)


def _records(stream: io.StringIO) -> list[dict[str, object]]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def test_an_access_log_line_is_one_json_object_with_the_request_fields(
    lines: io.StringIO,
) -> None:
    record_request("POST", "/token", 200, 0.00123)
    (entry,) = _records(lines)
    assert entry["level"] == "INFO" and entry["logger"] == "gateway.access"
    assert entry["message"] == "request"
    assert (entry["method"], entry["route"], entry["status"]) == ("POST", "/token", 200)
    assert entry["duration_ms"] == 1.23
    # "2026-11-28 05:06:16,924": the seconds part is cached, the milliseconds are not.
    assert str(entry["time"])[19] == "," and len(str(entry["time"])) == 23


def test_a_traceback_and_values_json_cannot_hold_are_written_not_dropped(
    lines: io.StringIO,
) -> None:
    log = logging.getLogger("gateway.test")
    try:
        raise ValueError("the store refused")
    except ValueError:
        log.exception("failed %s", "twice", extra={"day": date(2026, 1, 2), "quote": 'a "b"'})
    (entry,) = _records(lines)
    assert entry["message"] == "failed twice"
    assert "ValueError: the store refused" in str(entry["exc_info"])
    assert entry["day"] == "2026-01-02" and entry["quote"] == 'a "b"'


def test_a_line_break_in_a_message_cannot_forge_a_second_log_line(lines: io.StringIO) -> None:
    logging.getLogger("gateway.test").warning('x"}\n{"level": "INFO", "message": "forged"')
    assert len(lines.getvalue().splitlines()) == 1
    assert _records(lines)[0]["level"] == "WARNING"
