"""structlog set-up: one format for every log line of the process, the bot's and uvicorn's.

The bot logs through structlog, uvicorn (and any library) through the standard library; both end
in one handler whose ``ProcessorFormatter`` runs the same processors and the same renderer, so a
line from ``uvicorn`` looks like a line from ``gitops_bot.worker``: JSON objects (the image's
default, for log collectors) or readable lines for a terminal (``GITOPS_BOT_LOG_JSON=false``).
Every line carries ``timestamp``, ``level`` and ``logger``, and ``delivery_id`` and ``job_id``
from context variables while a delivery or a job is being handled.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import MutableMapping
from typing import IO, Any

import structlog

# uvicorn names its server logger "uvicorn.error" although it logs every start-up line there.
_LOGGER_NAMES = {"uvicorn.error": "uvicorn"}
# Loggers that keep handlers of their own unless told otherwise: theirs go, the root's is used.
_FOREIGN_LOGGERS = ("uvicorn", "uvicorn.error", "uvicorn.access", "alembic")


def wants_json(setting: bool | None, stream: IO[str] | None = None) -> bool:
    """``GITOPS_BOT_LOG_JSON``, or when unset: JSON unless the stream is a terminal."""
    if setting is not None:
        return setting
    stream = stream if stream is not None else sys.stderr
    return not (hasattr(stream, "isatty") and stream.isatty())


def _logger_name(logger: Any, _method: str, event_dict: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    """``logger``: the name given to ``structlog.get_logger`` or the stdlib logger's name."""
    record = event_dict.get("_record")
    name = record.name if record is not None else getattr(logger, "name", None)
    if name:
        event_dict.setdefault("logger", _LOGGER_NAMES.get(name, name))
    return event_dict


def _shared_processors() -> list[structlog.types.Processor]:
    return [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        _logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        structlog.processors.StackInfoRenderer(),
    ]


def log_formatter(*, json: bool, colors: bool = False) -> structlog.stdlib.ProcessorFormatter:
    """The one formatter: structlog's events and stdlib records, rendered alike."""
    renderer: structlog.types.Processor = (
        structlog.processors.JSONRenderer()
        if json
        else structlog.dev.ConsoleRenderer(colors=colors, exception_formatter=structlog.dev.plain_traceback)
    )
    final: list[structlog.types.Processor] = [structlog.stdlib.ProcessorFormatter.remove_processors_meta]
    if json:
        final.append(structlog.processors.format_exc_info)  # the traceback as a string field
    return structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=_shared_processors(),
        processors=[*final, renderer],
    )


def configure_logging(
    level: str = "INFO", *, json: bool | None = None, stream: IO[str] | None = None
) -> None:
    """Process-wide logging set-up; called once by the CLI, never by the app factory.

    ``json``: ``GITOPS_BOT_LOG_JSON`` (None: JSON unless ``stream``, default stderr, is a terminal)."""
    stream = stream if stream is not None else sys.stderr
    as_json = wants_json(json, stream)
    numeric = logging.getLevelName(level.upper())
    structlog.configure(
        processors=[*_shared_processors(), structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        wrapper_class=structlog.make_filtering_bound_logger(numeric),
        logger_factory=structlog.stdlib.LoggerFactory(),
        cache_logger_on_first_use=True,
    )
    handler = logging.StreamHandler(stream)
    colors = not as_json and hasattr(stream, "isatty") and stream.isatty()
    handler.setFormatter(log_formatter(json=as_json, colors=colors))
    root = logging.getLogger()
    for existing in list(root.handlers):
        root.removeHandler(existing)
    root.addHandler(handler)
    root.setLevel(numeric)
    for name in _FOREIGN_LOGGERS:
        # Whatever configured them before (uvicorn's own dictConfig sets their levels, a library
        # may disable them), from here on the root's handler and level decide.
        foreign = logging.getLogger(name)
        foreign.handlers.clear()
        foreign.propagate = True
        foreign.setLevel(logging.NOTSET)
        foreign.disabled = False
