"""What every database can store: parsed events are checked and normalised before storing.

PostgreSQL refuses what SQLite takes without a word: ``\\u0000`` in text and JSON, lone
UTF-16 surrogates (``\\ud800``), NaN and infinities in JSON, and strings longer than a
``VARCHAR``. Deciding here, on plain data and before the database sees anything, makes
both databases answer the same, and turns what used to be a 500 into a stored event or a
400 that says why:

* payload and domain strings (keys too) holding NUL or a lone surrogate are stored with
  those characters written as their JSON escape text (``\\u0000``), so what the sender
  sent stays readable; non-finite numbers are stored as the strings ``NaN``,
  ``Infinity``, ``-Infinity``;
* a dedupe key that is too long or unstorable is replaced by its sha256, which keeps the
  identity dedupe relies on;
* an event name, action or delivery id that does not fit its column, or that holds NUL
  or a surrogate, is refused with 400 naming the header or field: those are the event's
  identity and are never rewritten.
"""

from __future__ import annotations

import dataclasses
import math
import re
from collections.abc import Mapping, Sequence
from typing import Any

from bot import fast_json
from bot.events import ParsedEvent, domain_event_from_json
from bot.events.fields import stable_digest
from bot.intake.errors import IntakeError
from bot.storage.models import Event

_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")

# Where each checked field comes from, per source, so a refusal names what to fix.
_ORIGINS: Mapping[str, Mapping[str, str]] = {
    "github": {
        "event": "the event name (X-GitHub-Event header)",
        "delivery_id": "the delivery id (X-GitHub-Delivery header)",
        "action": "the 'action' field",
    },
    "gitlab": {
        "event": "the hook name (X-Gitlab-Event header)",
        "delivery_id": "the delivery id (X-Gitlab-Event-UUID or Idempotency-Key header)",
        "action": "the object_attributes 'action' field",
    },
    "mlflow": {
        "event": "the 'entity' field",
        "delivery_id": "the delivery id (X-MLflow-Delivery-Id header)",
        "action": "the 'action' field",
    },
    "slack": {"action": "the command or interaction type", "delivery_id": "the trigger id"},
}
_DEFAULT_ORIGINS: Mapping[str, str] = {
    "event": "the event name",
    "action": "the action",
    "delivery_id": "the delivery id",
}


def _column_length(name: str) -> int:
    length = getattr(Event.__table__.c[name].type, "length", None)
    if not isinstance(length, int):
        raise TypeError(f"events.{name} has no length")
    return length


# Read from the model, so a migration that widens a column widens the check with it.
_IDENTITY_LIMITS: Mapping[str, int] = {
    name: _column_length(name) for name in ("event", "action", "delivery_id")
}
_DEDUPE_KEY_LIMIT = _column_length("dedupe_key")


def escape_text(text: str) -> str:
    """NUL and lone surrogates written as their JSON escapes (``\\u0000``); the rest unchanged."""
    if _UNSTORABLE.search(text) is None:
        return text
    return _UNSTORABLE.sub(lambda match: f"\\u{ord(match.group()):04x}", text)


def _same(new: Sequence[Any], old: Sequence[Any]) -> bool:
    return all(a is b for a, b in zip(new, old, strict=True))


def storable_json(value: Any) -> Any:
    """``value`` with every string escaped and non-finite numbers as text; unchanged parts are reused."""
    # Nearly every payload needs nothing: orjson proves that in a tenth of the walk's time.
    if fast_json.survives_as_json(value):
        return value
    return _storable(value)


def _storable(value: Any) -> Any:
    if isinstance(value, str):
        return escape_text(value)
    if isinstance(value, float) and not math.isfinite(value):
        return "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")
    if isinstance(value, Mapping):
        keys = [_storable(key) for key in value]
        items = [_storable(item) for item in value.values()]
        if _same(keys, list(value)) and _same(items, list(value.values())):
            return value
        return dict(zip(keys, items, strict=True))
    if isinstance(value, list | tuple):
        converted = [_storable(item) for item in value]
        return value if _same(converted, value) else converted
    return value


def _check_identity(item: ParsedEvent) -> None:
    origins = {**_DEFAULT_ORIGINS, **_ORIGINS.get(item.source, {})}
    for field, limit in _IDENTITY_LIMITS.items():
        value = getattr(item, field)
        if value is None:
            continue
        if len(value) > limit:
            raise IntakeError(
                400, f"{origins[field]} is {len(value)} characters long; at most {limit} are accepted"
            )
        if _UNSTORABLE.search(value):
            raise IntakeError(400, f"{origins[field]} holds a NUL character or a lone UTF-16 surrogate")


def _storable_dedupe_key(key: str) -> str:
    if len(key) <= _DEDUPE_KEY_LIMIT and _UNSTORABLE.search(key) is None:
        return key
    return f"sha256:{stable_digest(key)}"


def storable_event(item: ParsedEvent) -> ParsedEvent:
    """The event as it will be stored, or IntakeError(400) when its identity cannot be."""
    _check_identity(item)
    payload_json = fast_json.storable_text(item.payload)
    payload = item.payload if payload_json is not None else _storable(item.payload)
    domain = item.domain
    if domain is not None:
        dumped = domain.model_dump(mode="json")
        escaped = storable_json(dumped)
        if escaped is not dumped:
            domain = domain_event_from_json(escaped)
    reason = escape_text(item.ignored_reason) if item.ignored_reason is not None else None
    return dataclasses.replace(
        item,
        dedupe_key=_storable_dedupe_key(item.dedupe_key),
        payload=payload,
        domain=domain,
        ignored_reason=reason,
        payload_json=payload_json,
    )


def storable_events(parsed: Sequence[ParsedEvent]) -> list[ParsedEvent]:
    return [storable_event(item) for item in parsed]
