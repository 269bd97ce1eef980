"""One log format for the whole process: the bot's structlog events and uvicorn's stdlib records
come out alike, as JSON objects or as readable lines (``GITOPS_BOT_LOG_JSON``)."""

from __future__ import annotations

import io
import json
import logging
import re
from collections.abc import Iterator

import pytest
import structlog

from bot.logging import configure_logging, wants_json


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.fixture(autouse=True)
def restore_logging() -> Iterator[None]:
    """configure_logging is process-wide: put back what the other tests run with."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    uvicorn = {name: (logging.getLogger(name).handlers[:], logging.getLogger(name).propagate) for name in (
        "uvicorn", "uvicorn.error", "uvicorn.access")}  # fmt: skip
    yield
    structlog.reset_defaults()
    root.handlers[:] = handlers
    root.setLevel(level)
    for name, (kept, propagate) in uvicorn.items():
        logging.getLogger(name).handlers[:] = kept
        logging.getLogger(name).propagate = propagate


def _log_both() -> None:
    with structlog.contextvars.bound_contextvars(job_id=7, delivery_id="d-1"):
        structlog.get_logger("gitops_bot.worker").info("job_finished", outcome="done")
    logging.getLogger("uvicorn.error").info("Uvicorn running on %s://%s:%d", "http", "127.0.0.1", 8080)
    logging.getLogger("uvicorn.error").debug("below the level")
    structlog.get_logger("gitops_bot.worker").debug("below the level")


def test_json_lines_from_the_bot_and_uvicorn_share_their_keys() -> None:
    stream = io.StringIO()
    configure_logging("INFO", json=True, stream=stream)
    _log_both()
    bot, server = (json.loads(line) for line in stream.getvalue().splitlines())
    assert bot["event"] == "job_finished" and bot["logger"] == "gitops_bot.worker"
    assert (bot["job_id"], bot["delivery_id"], bot["outcome"]) == (7, "d-1", "done")
    assert server == {
        "event": "Uvicorn running on http://127.0.0.1:8080",
        "level": "info",
        "logger": "uvicorn",
        "timestamp": server["timestamp"],
    }
    assert {"timestamp", "level", "logger", "event"} <= bot.keys()
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d+Z", server["timestamp"])


def test_readable_lines_look_alike_for_the_bot_and_uvicorn() -> None:
    stream = io.StringIO()
    configure_logging("INFO", json=False, stream=stream)
    _log_both()
    bot, server = stream.getvalue().splitlines()
    shape = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d+Z \[info\s*\] (.+?)\s+\[([\w.]+)\](.*)"
    assert re.fullmatch(shape, bot) and re.fullmatch(shape, server)
    assert "job_finished" in bot and "[gitops_bot.worker]" in bot and "job_id=7" in bot
    assert "Uvicorn running on http://127.0.0.1:8080" in server and "[uvicorn]" in server
    assert "{" not in stream.getvalue()  # no JSON, no colour codes on a stream that is no terminal
    assert "\x1b[" not in stream.getvalue()


def test_an_exception_is_one_record_with_its_traceback() -> None:
    stream = io.StringIO()
    configure_logging("INFO", json=True, stream=stream)
    try:
        raise ValueError("broken")
    except ValueError:
        logging.getLogger("uvicorn.error").exception("Exception in ASGI application")
        structlog.get_logger("gitops_bot.worker").exception("claim_failed")
    records = [json.loads(line) for line in stream.getvalue().splitlines()]
    assert [record["event"] for record in records] == ["Exception in ASGI application", "claim_failed"]
    assert all("ValueError: broken" in record["exception"] for record in records)
    assert all(record["level"] == "error" for record in records)


@pytest.mark.parametrize(
    ("setting", "stream", "expected"),
    [
        (True, Terminal(), True),
        (False, io.StringIO(), False),
        (None, Terminal(), False),
        (None, io.StringIO(), True),
    ],
)
def test_json_unless_told_or_on_a_terminal(setting: bool | None, stream: io.StringIO, expected: bool) -> None:
    assert wants_json(setting, stream) is expected


def test_unset_on_a_terminal_gives_readable_lines() -> None:
    stream = Terminal()
    configure_logging("INFO", json=None, stream=stream)
    structlog.get_logger("gitops_bot.serve").info("hello")
    assert not stream.getvalue().startswith("{") and "hello" in stream.getvalue()
