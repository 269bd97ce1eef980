"""orjson's fast paths answer exactly as ``json`` would, or say "take the exact path"."""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime
from typing import Any

import pytest

from bot.events.fields import MAX_JSON_DEPTH, json_depth, load_json
from bot.fast_json import dumps, loads, parse, survives_as_json, text_depth


def same(a: Any, b: Any) -> bool:
    """Equal and of the same types all the way down (``1 == 1.0`` and ``True == 1`` are not enough)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return list(a) == list(b) and all(same(a[key], b[key]) for key in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    return bool(a == b) or (a != a and b != b)


_TRICKY_TEXT = ['"', "\\", "[", "]", "{", "}", '\\"', "é", "😀", "\n", "\x00", "a", " ", ":", ","]
# Integers of 19 digits or more take the exact path (test below); everything else here is fast.
_NUMBERS = [0, -1, 7, 2**53 + 1, 10**18 - 1, -(10**18 - 1), 0.5, -0.0, 1e300, 3.14159, 1e-300]


def random_document(rng: random.Random, depth: int = 0) -> Any:
    roll = rng.random()
    if depth < 6 and roll < 0.25:
        return {random_text(rng): random_document(rng, depth + 1) for _ in range(rng.randrange(4))}
    if depth < 6 and roll < 0.45:
        return [random_document(rng, depth + 1) for _ in range(rng.randrange(4))]
    if roll < 0.7:
        return random_text(rng)
    if roll < 0.9:
        return rng.choice(_NUMBERS)
    return rng.choice([None, True, False])


def random_text(rng: random.Random) -> str:
    return "".join(rng.choice(_TRICKY_TEXT) for _ in range(rng.randrange(6)))


@pytest.mark.parametrize("seed", range(20))
def test_fast_parse_gives_jsons_value_and_depth(seed: int) -> None:
    rng = random.Random(seed)
    for _ in range(50):
        document = random_document(rng)
        for text in (json.dumps(document), json.dumps(document, ensure_ascii=False, separators=(",", ":"))):
            body = text.encode()
            fast = parse(body, MAX_JSON_DEPTH)
            assert fast is not None, text
            assert same(fast.value, json.loads(body)), text
            assert text_depth(body) == json_depth(fast.value), text


@pytest.mark.parametrize(
    "body",
    [
        b'{"a": 18446744073709551616}',  # 2**64: orjson would give a float
        b'{"a": -9223372036854775809}',  # below -2**63: likewise
        b"[1e999]",
        b"[NaN, Infinity]",
        b'["\\ud800"]',  # a lone surrogate
        b'\xef\xbb\xbf{"a": 1}',  # a byte-order mark
        "[1]".encode("utf-16"),
        b"[" * 101 + b"]" * 101,
        b'{"a": }',
        b'{"a": "\xff"}',
        b"",
    ],
    ids=[
        "2**64",
        "below-int64",
        "overflow",
        "nan",
        "surrogate",
        "bom",
        "utf-16",
        "depth-101",
        "bad",
        "not-utf8",
        "empty",
    ],
)
def test_what_orjson_might_read_otherwise_takes_the_exact_path(body: bytes) -> None:
    assert parse(body, MAX_JSON_DEPTH) is None


def test_the_exact_path_still_answers_for_what_the_fast_one_declines() -> None:
    assert load_json(b'{"a": 18446744073709551616}', "body") == {"a": 2**64}
    assert load_json(b'["\\ud800", 1e999]', "body") == ["\ud800", "1e999"]
    assert load_json("[1]".encode("utf-16"), "body") == [1]


def test_depth_ignores_brackets_inside_strings_and_escaped_quotes() -> None:
    assert text_depth(b'{"a": "[[[", "b": [1, "]]"]}') == 2
    assert text_depth(b'["\\"[", [[]]]') == 3
    assert text_depth(b'"[[[["') == 0
    assert text_depth(b'[{"": "", "x": "{"}]') == 2
    assert text_depth(b"[" * 100 + b"]" * 100) == 100


@pytest.mark.parametrize(
    ("value", "survives"),
    [
        ({"a": [1, 2.5, None, True, "é😀"], "b": {"c": -(2**63)}}, True),
        ({"a": "x\x00y"}, False),
        ({"a": "\ud800"}, False),
        ({"\x00": 1}, False),
        ({"a": float("nan")}, False),
        ({"a": [float("inf")]}, False),
        ({"a": (1, 2)}, False),
        ({1: "a"}, False),
        ({"a": 2**64}, False),
        ({"a": datetime(2026, 1, 1, tzinfo=UTC)}, False),
        ({"a": "\\u0000 as text"}, False),  # a false alarm is allowed: the walk then decides
    ],
    ids=[
        "plain",
        "nul",
        "surrogate",
        "nul-key",
        "nan",
        "inf",
        "tuple",
        "int-key",
        "huge-int",
        "datetime",
        "escape-text",
    ],
)
def test_survives_as_json_only_when_certain(value: Any, survives: bool) -> None:
    assert survives_as_json(value) is survives


@pytest.mark.parametrize("seed", range(10))
def test_dumps_and_loads_keep_jsons_values(seed: int) -> None:
    rng = random.Random(seed)
    for _ in range(50):
        document = random_document(rng)
        assert same(json.loads(dumps(document)), json.loads(json.dumps(document)))
        for text in (json.dumps(document), json.dumps(document, ensure_ascii=False)):
            assert same(loads(text), json.loads(text))
            assert same(loads(text.encode()), json.loads(text))
            assert same(loads(memoryview(text.encode())), json.loads(text))


@pytest.mark.parametrize(
    "value",
    [
        {"a": float("nan")},
        [float("inf"), float("-inf")],
        {"a": "\ud800"},
        {1: "a", None: "b"},
        {"a": 2**64},
        (1, [2, (3,)]),
        {"a": "x\x00y"},
    ],
    ids=["nan", "inf", "surrogate", "non-str-keys", "huge-int", "tuple", "nul"],
)
def test_dumps_writes_what_orjson_would_change_as_json_does(value: Any) -> None:
    assert same(json.loads(dumps(value)), json.loads(json.dumps(value)))


def test_dumps_refuses_what_json_refuses() -> None:
    with pytest.raises(TypeError):
        dumps({"at": datetime(2026, 1, 1, tzinfo=UTC)})
    circular: list[Any] = []
    circular.append(circular)
    with pytest.raises(ValueError, match="Circular"):
        dumps(circular)


def test_loads_takes_what_orjson_refuses() -> None:
    assert loads("[NaN, 18446744073709551616]")[1] == 2**64
    assert loads('["\\ud800"]') == ["\ud800"]
    with pytest.raises(RecursionError):  # as json.loads does; orjson stops at 1024 levels
        loads("[" * 2000 + "]" * 2000)
