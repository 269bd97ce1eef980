"""What ``/events`` and ``/actions`` (and their JSON twins) may be filtered by, and how a stored
payload is shown: pure, no database, no I/O.

A filter the page cannot use is a :class:`~bot.pagination.BadRequest` naming the parameter and
what it takes, never a silently empty list. Payloads and audit details are shown redacted twice
over: values under secret-looking keys (``token``, ``signature``, Slack's ``response_url``, …)
are replaced whatever they hold, then the text goes through the bot's redactor, which knows the
configured secrets and token-like strings.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, fields
from typing import Any

from bot.pagination import BadRequest
from bot.redaction import REDACTED
from bot.storage.models import EventStatus

# Where a webhook can come from (``Event.source``): the intake's routes and the bot's own.
EVENT_SOURCES: tuple[str, ...] = ("github", "gitlab", "registry", "mlflow", "alertmanager", "slack")
EVENT_STATUSES: tuple[str, ...] = tuple(status.value for status in EventStatus)
# An audit row's outcome (``Action.outcome``): the ones the bot writes, for the page's choices.
ACTION_OUTCOMES: tuple[str, ...] = (
    "done", "opened", "updated", "refused", "unchanged", "dry_run",
    "failed", "merged", "recorded", "duplicate",
)  # fmt: skip
# Shown inline in a list row; the whole payload is on the event's own page.
PREVIEW_CHARS = 2_000
_MAX_FILTER_CHARS = 255
_KIND = re.compile(r"[A-Za-z0-9_.:-]{1,129}")
_SECRET_KEY = re.compile(
    r"(?i)(token|secret|password|passwd|signature|authorization|cookie|api[_-]?key|private[_-]?key"
    r"|credential|response_url|trigger_id)"
)


@dataclass(frozen=True)
class EventFilters:
    source: str | None = None
    kind: str | None = None  # ``event`` or ``event.action``, as /api/events names it
    status: str | None = None
    repo: str | None = None
    deployment: str | None = None

    def given(self) -> dict[str, str]:
        return _given(self)


@dataclass(frozen=True)
class ActionFilters:
    kind: str | None = None
    outcome: str | None = None
    actor: str | None = None
    repo: str | None = None
    deployment: str | None = None

    def given(self) -> dict[str, str]:
        return _given(self)


EVENT_FILTER_NAMES: tuple[str, ...] = tuple(field.name for field in fields(EventFilters))
ACTION_FILTER_NAMES: tuple[str, ...] = tuple(field.name for field in fields(ActionFilters))


def _given(filters: EventFilters | ActionFilters) -> dict[str, str]:
    return {field.name: value for field in fields(filters) if (value := getattr(filters, field.name))}


def _text(query: Mapping[str, str], name: str) -> str | None:
    value = query.get(name, "").strip()
    if not value:
        return None
    if len(value) > _MAX_FILTER_CHARS:
        raise BadRequest(f"{name} is at most {_MAX_FILTER_CHARS} characters")
    return value


def _one_of(query: Mapping[str, str], name: str, allowed: tuple[str, ...]) -> str | None:
    value = _text(query, name)
    if value is not None and value not in allowed:
        raise BadRequest(f"{name} must be one of {', '.join(allowed)}; got {value[:40]!r}")
    return value


def _kind(query: Mapping[str, str]) -> str | None:
    value = _text(query, "kind")
    if value is not None and not _KIND.fullmatch(value):
        raise BadRequest(f"kind is a name such as pull_request.opened or update.propose; got {value[:40]!r}")
    return value


def parse_event_filters(query: Mapping[str, str]) -> EventFilters:
    """``?source=&kind=&status=&repo=&deployment=`` (empty values ignored)."""
    return EventFilters(
        source=_one_of(query, "source", EVENT_SOURCES),
        kind=_kind(query),
        status=_one_of(query, "status", EVENT_STATUSES),
        repo=_text(query, "repo"),
        deployment=_text(query, "deployment"),
    )


def parse_action_filters(query: Mapping[str, str]) -> ActionFilters:
    """``?kind=&outcome=&actor=&repo=&deployment=`` (empty values ignored; any outcome the
    bot may write is accepted, the list above only offers the usual ones)."""
    outcome = _text(query, "outcome")
    if outcome is not None and not _KIND.fullmatch(outcome):
        raise BadRequest(f"outcome is a word such as refused or done; got {outcome[:40]!r}")
    return ActionFilters(
        kind=_kind(query),
        outcome=outcome,
        actor=_text(query, "actor"),
        repo=_text(query, "repo"),
        deployment=_text(query, "deployment"),
    )


def split_kind(kind: str) -> tuple[str, str | None]:
    """``pull_request.opened`` → (``pull_request``, ``opened``); ``push`` → (``push``, None)."""
    event, _, action = kind.partition(".")
    return event, action or None


def shown_document(value: Any, redact: Callable[[str], str]) -> str:
    """A stored payload or audit detail as the console shows it: indented as ``json.dumps(…,
    indent=2)`` does, every value under a secret-looking key replaced, then redacted."""
    if value is None:
        return ""
    return redact("\n".join(_pretty_lines(value, "", None, last=True)))


def shown_preview(value: Any, redact: Callable[[str], str], limit: int = PREVIEW_CHARS) -> tuple[str, bool]:
    """The start of :func:`shown_document`, for a list row: only as much of the payload is walked,
    scrubbed and redacted as is shown (a row must not cost a whole payload). As safe as redacting
    the whole: the cut falls at a line end, and each value (each string) is on one line."""
    if value is None:
        return "", False
    kept: list[str] = []
    size = 0
    for line in _pretty_lines(value, "", None, last=True):
        if size + len(line) + 1 > limit and kept:
            return redact("\n".join(kept)), True
        kept.append(line)
        size += len(line) + 1
    return redact("\n".join(kept)), False


def _pretty_lines(value: Any, indent: str, key: str | None, *, last: bool) -> Iterator[str]:
    """``json.dumps(value, indent=2)`` line by line, lazily (as far as it is read), with every value
    under a secret-looking key (``token``, ``signature``, Slack's ``response_url`` …) replaced."""
    head = f"{indent}{json.dumps(key, ensure_ascii=False)}: " if key is not None else indent
    comma = "" if last else ","
    if key is not None and _SECRET_KEY.search(key) and value not in (None, ""):
        yield f"{head}{json.dumps(REDACTED)}{comma}"
        return
    if isinstance(value, Mapping) and value:
        yield head + "{"
        items = list(value.items())
        for position, (inner_key, inner) in enumerate(items):
            yield from _pretty_lines(inner, indent + "  ", str(inner_key), last=position == len(items) - 1)
        yield f"{indent}}}{comma}"
    elif isinstance(value, list) and value:
        yield head + "["
        for position, inner in enumerate(value):
            yield from _pretty_lines(inner, indent + "  ", None, last=position == len(value) - 1)
        yield f"{indent}]{comma}"
    else:
        yield f"{head}{json.dumps(value, ensure_ascii=False, default=str)}{comma}"


def redacted_document(value: Any, redact: Callable[[str], str]) -> Any:
    """The JSON twin of :func:`shown_document`: the same redaction, as data again."""
    text = shown_document(value, redact)
    if not text:
        return None
    try:
        return json.loads(text)
    except ValueError:  # a redaction that crossed a quote: the text is still safe to give out
        return text


def job_json(job: Any, redact: Callable[[str], str]) -> dict[str, Any]:
    """A job of an event: what ran, how often, how it ended and why."""
    return {
        "id": job.id,
        "handler": job.handler,
        "status": job.status,
        "attempts": job.attempts,
        "max_attempts": job.max_attempts,
        "error": redact(job.last_error) if job.last_error else None,
        "reason": job.ignored_reason,
        "created_at": job.created_at.isoformat(),
        "finished_at": job.finished_at.isoformat() if job.finished_at else None,
    }
