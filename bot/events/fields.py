"""Strict readers for the fields parsers need; every failure is a specific ``MalformedEvent``.

Parsers are lenient about fields they do not use and strict about the ones they do: a
missing or mistyped required field names the field and where it was expected, e.g.
``pull_request event has no 'pull_request' object``.
"""

from __future__ import annotations

import hashlib
import json
import math
import sys
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from pydantic import TypeAdapter, ValidationError

from bot import fast_json
from bot.events.model import MalformedEvent

_DATETIME: TypeAdapter[datetime] = TypeAdapter(datetime)

_KIND_NAMES = {
    dict: "an object",
    list: "a list",
    str: "a string",
    int: "an integer",
    float: "a number",
    bool: "a boolean",
    type(None): "null",
}


def kind_of(value: object) -> str:
    """The JSON kind of a value with its article, for messages: "an object", "a list"."""
    return _KIND_NAMES.get(type(value), f"a {type(value).__name__}")


# Deeper than any sender's payload (GitHub's are under 10 levels); deeper documents
# are refused before anything recursive (encoders, the database) sees them.
MAX_JSON_DEPTH = 100
# GitHub, MLflow and Slack ids are 64-bit; anything wider is not an id of theirs.
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1


def _keep_number_text(text: str) -> float | str:
    """A float literal; one too large for a double (``1e999``) is kept as its source text."""
    value = float(text)
    return value if math.isfinite(value) else text


def load_json(body: bytes, what: str) -> Any:
    """Decode a JSON body; ``what`` names the sender, e.g. "GitHub webhook body".

    Most bodies are read by orjson (:mod:`bot.fast_json`), which says when it cannot be
    sure of giving ``json``'s value; those, and every body that is refused, are read here.

    ``NaN``/``Infinity`` (which Python writes but JSON lacks) and floats that overflow a
    double are kept as their source text, as strings: no database stores them as numbers,
    and a parser that needs the number then refuses the field by name.
    """
    if not body:
        raise MalformedEvent(f"{what} is empty")
    fast = fast_json.parse(body, MAX_JSON_DEPTH)
    if fast is not None:
        return fast.value
    try:
        data = json.loads(body, parse_constant=str, parse_float=_keep_number_text)
    except UnicodeDecodeError as exc:
        raise MalformedEvent(f"{what} is not UTF-8 text: {exc.reason}") from exc
    except json.JSONDecodeError as exc:
        position = f"line {exc.lineno} column {exc.colno}"
        raise MalformedEvent(f"{what} is not valid JSON: {exc.msg} at {position}") from exc
    except RecursionError as exc:
        raise MalformedEvent(f"{what} is nested deeper than {MAX_JSON_DEPTH} levels") from exc
    except ValueError as exc:
        # Python refuses integer literals longer than sys.get_int_max_str_digits() (4300).
        limit = sys.get_int_max_str_digits()
        raise MalformedEvent(f"{what} holds an integer literal longer than {limit} digits") from exc
    if json_depth(data) > MAX_JSON_DEPTH:
        raise MalformedEvent(f"{what} is nested deeper than {MAX_JSON_DEPTH} levels")
    return data


def json_depth(value: Any) -> int:
    """How deeply lists and objects nest (a scalar is 0), without recursion."""
    deepest = 0
    pending: list[tuple[Any, int]] = [(value, 0)]
    while pending:
        item, depth = pending.pop()
        if isinstance(item, dict):
            children: Any = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        depth += 1
        if depth > deepest:
            deepest = depth
            if deepest > MAX_JSON_DEPTH:
                return deepest
        pending.extend((child, depth) for child in children if isinstance(child, dict | list))
    return deepest


def load_json_object(body: bytes, what: str) -> dict[str, Any]:
    data = load_json(body, what)
    if not isinstance(data, dict):
        raise MalformedEvent(f"{what} must be a JSON object, got {kind_of(data)}")
    return data


def require_object(data: Mapping[str, Any], key: str, where: str) -> dict[str, Any]:
    value = data.get(key)
    if value is None:
        raise MalformedEvent(f"{where} has no '{key}' object")
    if not isinstance(value, dict):
        raise MalformedEvent(f"{where}: '{key}' must be an object, got {kind_of(value)}")
    return value


def optional_object(data: Mapping[str, Any], key: str, where: str) -> dict[str, Any] | None:
    value = data.get(key)
    if value is None:
        return None
    if not isinstance(value, dict):
        raise MalformedEvent(f"{where}: '{key}' must be an object, got {kind_of(value)}")
    return value


def require_list(data: Mapping[str, Any], key: str, where: str) -> list[Any]:
    value = data.get(key)
    if value is None:
        raise MalformedEvent(f"{where} has no '{key}' list")
    if not isinstance(value, list):
        raise MalformedEvent(f"{where}: '{key}' must be a list, got {kind_of(value)}")
    return value


def optional_list(data: Mapping[str, Any], key: str, where: str) -> list[Any]:
    value = data.get(key)
    if value is None:
        return []
    if not isinstance(value, list):
        raise MalformedEvent(f"{where}: '{key}' must be a list, got {kind_of(value)}")
    return value


def require_str(data: Mapping[str, Any], key: str, where: str, *, allow_empty: bool = False) -> str:
    value = data.get(key)
    if value is None:
        raise MalformedEvent(f"{where} has no '{key}' string")
    if not isinstance(value, str):
        raise MalformedEvent(f"{where}: '{key}' must be a string, got {kind_of(value)}")
    if not value and not allow_empty:
        raise MalformedEvent(f"{where}: '{key}' is empty")
    return value


def optional_str(data: Mapping[str, Any], key: str, where: str) -> str | None:
    """A string, or None when absent, null or empty."""
    value = data.get(key)
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise MalformedEvent(f"{where}: '{key}' must be a string, got {kind_of(value)}")
    return value


def require_int(data: Mapping[str, Any], key: str, where: str) -> int:
    value = data.get(key)
    if value is None:
        raise MalformedEvent(f"{where} has no '{key}' integer")
    if isinstance(value, bool) or not isinstance(value, int):
        raise MalformedEvent(f"{where}: '{key}' must be an integer, got {kind_of(value)}")
    return _int64(value, key, where)


def optional_int(data: Mapping[str, Any], key: str, where: str) -> int | None:
    value = data.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise MalformedEvent(f"{where}: '{key}' must be an integer, got {kind_of(value)}")
    return _int64(value, key, where)


def _int64(value: int, key: str, where: str) -> int:
    if not INT64_MIN <= value <= INT64_MAX:
        raise MalformedEvent(f"{where}: '{key}' is out of the 64-bit integer range")
    return value


def optional_bool(data: Mapping[str, Any], key: str, where: str, default: bool = False) -> bool:
    value = data.get(key)
    if value is None:
        return default
    if not isinstance(value, bool):
        raise MalformedEvent(f"{where}: '{key}' must be true or false, got {kind_of(value)}")
    return value


def require_version_str(data: Mapping[str, Any], key: str, where: str) -> str:
    """A version number that some senders spell as a string and others as an integer."""
    value = data.get(key)
    if isinstance(value, bool) or not isinstance(value, str | int) or value == "":
        if value is None:
            raise MalformedEvent(f"{where} has no '{key}'")
        raise MalformedEvent(f"{where}: '{key}' must be a string or an integer, got {kind_of(value)}")
    return str(value)


def string_map(data: Mapping[str, Any], key: str, where: str) -> dict[str, str]:
    """An object of string values (labels, annotations, tags); absent or null is empty."""
    value = data.get(key)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise MalformedEvent(f"{where}: '{key}' must be an object of strings, got {kind_of(value)}")
    result: dict[str, str] = {}
    for name, item in value.items():
        if not isinstance(item, str):
            raise MalformedEvent(f"{where}: '{key}.{name}' must be a string, got {kind_of(item)}")
        result[str(name)] = item
    return result


def parse_time(value: object, where: str) -> datetime | None:
    """RFC 3339 text or Unix seconds; None for absent, empty or Go's zero time."""
    if value is None or value == "":
        return None
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise MalformedEvent(f"{where} must be a timestamp, got {kind_of(value)}")
    try:
        parsed = _DATETIME.validate_python(value)
    except ValidationError as exc:
        raise MalformedEvent(f"{where} is not a valid timestamp: {value!r}") from exc
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    # Go marshals an unset time.Time as 0001-01-01T00:00:00Z (Alertmanager's endsAt, ...).
    if parsed.year == 1:
        return None
    return parsed


def stable_digest(*parts: object) -> str:
    """A sha256 hex digest of JSON-encoded parts, for ids the sender does not provide."""
    encoded = json.dumps(parts, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(encoded.encode("utf-8")).hexdigest()


def lower_keys(headers: Mapping[str, str]) -> dict[str, str]:
    return {key.lower(): value for key, value in headers.items()}
