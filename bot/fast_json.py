"""orjson's speed where its answer is the standard library's, and only there.

The intake parses every webhook body and checks every stored payload; with ``json`` those
two cost more than half of a request's CPU (a 23 KB pull request delivery: about 0.35 ms
to parse with the depth check, 0.75 ms to walk for unstorable text). orjson does the same
work several times faster, but does not always mean the same thing:

* an integer literal outside the 64-bit range comes back as a float (``json``: the exact
  int);
* it accepts nesting up to 1024 levels, deeper than the bot's limit;
* it refuses ``NaN``, ``Infinity``, numbers that overflow a double, lone surrogate escapes,
  a byte-order mark and UTF-16 text, all of which the bot's exact reader turns into
  values or into a message of its own;
* when writing, it refuses lone surrogates, keys that are not strings and integers
  beyond 64 bits, and writes NaN and infinities as ``null``.

So a fast path here is taken only where its answer is certainly the exact path's. Otherwise
``parse``, ``exact_text`` and ``storable_text`` answer None (the caller takes the exact path),
and ``dumps`` and ``loads`` take it themselves. Pure: no I/O.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from itertools import accumulate
from typing import Any

import orjson

# Integer literals of 19 digits or more may fall outside the 64-bit range orjson keeps
# exact. Digits are mapped to "0" and everything else to a space, so a run is a substring.
_LONG_DIGIT_RUN = b"0" * 19
_DIGITS_ONLY = bytes(ord("0") if byte in b"0123456789" else ord(" ") for byte in range(256))

# The depth of a valid JSON text, read off its bytes: escapes removed first (so an escaped
# quote cannot end a string), then everything but brackets and quotes. A bracket is inside a
# string when an odd number of quotes precede it; dropping two adjacent quotes keeps that
# parity, so the many strings without brackets go in one replace before the exact split.
_ESCAPE = re.compile(rb"\\.", re.DOTALL)
_NOT_STRUCTURE = bytes(byte for byte in range(256) if byte not in b'[]{}"')
_NESTING = {ord("["): 1, ord("{"): 1, ord("]"): -1, ord("}"): -1}


@dataclass(frozen=True)
class Written:
    """A value's JSON text, written and checked already: :func:`dumps` hands it on as it is."""

    text: bytes


@dataclass(frozen=True)
class Parsed:
    """What a fast parse found; a class of its own because ``None`` is a JSON value."""

    value: Any


def text_depth(text: bytes) -> int:
    """How deeply the lists and objects of a *valid* JSON text nest (a scalar is 0)."""
    if b"\\" in text:
        text = _ESCAPE.sub(b"", text)
    structure = text.translate(None, _NOT_STRUCTURE)
    structure = structure.replace(b'""', b"")
    if b'"' in structure:
        structure = b"".join(structure.split(b'"')[::2])
    return max(accumulate(map(_NESTING.__getitem__, structure)), default=0)


def parse(body: bytes, max_depth: int | None) -> Parsed | None:
    """The value ``json.loads`` gives for ``body``, or None: take the exact path.

    None for every body orjson refuses (the exact path then gives its own value or message),
    for bodies that may hold an integer orjson would turn into a float, and for bodies
    nested deeper than ``max_depth`` (None: no limit but orjson's own).
    """
    if _LONG_DIGIT_RUN in body.translate(_DIGITS_ONLY):
        return None
    try:
        value = orjson.loads(body)
    except orjson.JSONDecodeError:
        return None
    if max_depth is not None and text_depth(body) > max_depth:
        return None
    return Parsed(value)


def exact_text(value: Any) -> bytes | None:
    """orjson's text for ``value`` when it reads back as ``value``, else None.

    None for lone surrogates, keys that are not strings, integers beyond 64 bits and types
    JSON lacks (orjson refuses them or writes them as strings), and for NaN and infinities
    (written as ``null``) and tuples (read back as lists).
    """
    try:
        text = orjson.dumps(value)
    except TypeError:
        return None
    return text if orjson.loads(text) == value else None


def dumps(value: Any) -> str:
    """The JSON value ``json.dumps`` writes, as compact UTF-8 text; ``json.dumps`` itself
    for what orjson would write differently (so NaN stays NaN, and an unknown type raises).
    A :class:`Written` value is its text."""
    if isinstance(value, Written):
        return value.text.decode()
    text = exact_text(value)
    return json.dumps(value) if text is None else text.decode()


def loads(text: str | bytes | bytearray | memoryview) -> Any:
    """``json.loads(text)``, through orjson where that gives the same value."""
    data = text.encode("utf-8", "surrogatepass") if isinstance(text, str) else bytes(text)
    fast = parse(data, None)
    return json.loads(text if isinstance(text, str) else data) if fast is None else fast.value


def storable_text(value: Any) -> bytes | None:
    """``value``'s JSON text when any database stores ``value`` unchanged, else None.

    That is: every key is a string, no string holds NUL or a lone surrogate, no number is
    NaN, infinite or beyond 64 bits, and every container is a dict or a list. None means
    "not certain": the caller walks the value.
    """
    text = exact_text(value)
    return None if text is None or b"\\u0000" in text else text


def survives_as_json(value: Any) -> bool:
    """Whether :func:`storable_text` finds ``value`` storable as it is."""
    return storable_text(value) is not None
