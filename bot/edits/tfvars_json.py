"""Change one string in a ``.tfvars.json`` (or any JSON) file and nothing else.

``json`` cannot tell where a value sits in the text, so a small scanner walks the document with
the standard library's own string and number scanners and records every value's character span.
We replace exactly the target's span with the JSON spelling of the new string, keeping the file's
indentation, key order, spacing and line endings, then parse the result with ``json`` and check it
equals the old document with only that one value changed.

Only strings, numbers and ``null`` are rewritten (numbers become strings, as a ``string`` variable
expects); objects, arrays and booleans are refused. A path that goes through a key appearing twice
in one object is refused, since JSON parsers disagree on which one wins.
"""

from __future__ import annotations

import copy
import json
import json.decoder
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from bot.edits.base import EditError, EditResult, KeyNotFound, UnsupportedValue, VerificationFailed
from bot.edits.paths import InvalidPath, PathSegment, as_index, format_path, parse_path

_NUMBER = re.compile(r"-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][-+]?\d+)?")
_WHITESPACE = re.compile(r"[ \t\n\r]*")
# json's own string scanner (the C one where it is built): the exact decoding json.loads does, with
# the end offset we need. The module does not declare it in __all__, so typeshed leaves it out.
scanstring: Callable[[str, int, bool], tuple[str, int]] = json.decoder.scanstring  # type: ignore[attr-defined]


@dataclass
class _Value:
    kind: str  # object, array, string, number, true, false, null
    start: int
    end: int
    decoded: Any = None
    members: list[tuple[str, _Value]] = field(default_factory=list)  # objects
    items: list[_Value] = field(default_factory=list)  # arrays


def edit_json_value(text: str, variable: str, new_value: str, *, number: bool = False) -> EditResult:
    """Set the string at ``variable`` (``chat_llm_version``, ``serving.chat_llm.version``) to the value
    (``number``: to the integer ``new_value``)."""
    try:
        segments = parse_path(variable)
    except InvalidPath as exc:
        raise EditError(str(exc)) from exc
    root = _scan_document(text)
    target = _locate(root, segments)
    if number and not (new_value.isascii() and new_value.isdigit()):
        raise UnsupportedValue(f"{new_value!r} is not a whole number")
    if number and target.kind == "number" and text[target.start : target.end] == new_value:
        return EditResult(text=text, changed=False, old_value=new_value)
    if not number and target.kind == "string" and target.decoded == new_value:
        return EditResult(text=text, changed=False, old_value=new_value)
    if target.kind not in ("string", "number", "null"):
        raise UnsupportedValue(
            f"{format_path(segments)}: the value is {_describe(target.kind)}, not a string"
        )
    old_value = (
        None
        if target.kind == "null"
        else (target.decoded if target.kind == "string" else text[target.start : target.end])
    )
    written: str | int = int(new_value) if number else new_value
    new_text = text[: target.start] + json.dumps(written) + text[target.end :]
    _verify(text, new_text, segments, written)
    return EditResult(text=new_text, changed=True, old_value=old_value)


def _describe(kind: str) -> str:
    return {
        "object": "an object",
        "array": "an array",
        "true": "the boolean true",
        "false": "the boolean false",
    }[kind]


def _scan_document(text: str) -> _Value:
    position = 1 if text.startswith("\ufeff") else 0
    try:
        value, position = _scan_value(text, _skip(text, position))
    except (ValueError, IndexError) as exc:
        raise EditError(f"not valid JSON: {exc}") from exc
    position = _skip(text, position)
    if position != len(text):
        raise EditError(f"not valid JSON: extra data at line {_line(text, position)}")
    return value


def _skip(text: str, position: int) -> int:
    match = _WHITESPACE.match(text, position)
    return match.end() if match else position


def _line(text: str, position: int) -> int:
    return text.count("\n", 0, position) + 1


def _scan_value(text: str, position: int) -> tuple[_Value, int]:
    if position >= len(text):
        raise ValueError("unexpected end of document")
    char = text[position]
    if char == '"':
        decoded, end = scanstring(text, position + 1, True)
        return _Value("string", position, end, decoded), end
    if char == "{":
        return _scan_object(text, position)
    if char == "[":
        return _scan_array(text, position)
    for word in ("true", "false", "null"):
        if text.startswith(word, position):
            return _Value(word, position, position + len(word)), position + len(word)
    number = _NUMBER.match(text, position)
    if number:
        return _Value("number", position, number.end(), number.group()), number.end()
    raise ValueError(f"unexpected {char!r} at line {_line(text, position)}")


def _scan_object(text: str, start: int) -> tuple[_Value, int]:
    value = _Value("object", start, start)
    position = _skip(text, start + 1)
    if text[position] == "}":
        value.end = position + 1
        return value, value.end
    while True:
        if text[position] != '"':
            raise ValueError(f"expected a key at line {_line(text, position)}")
        key, position = scanstring(text, position + 1, True)
        position = _skip(text, position)
        if text[position] != ":":
            raise ValueError(f"expected ':' at line {_line(text, position)}")
        member, position = _scan_value(text, _skip(text, position + 1))
        value.members.append((key, member))
        position = _skip(text, position)
        if text[position] == "}":
            value.end = position + 1
            return value, value.end
        if text[position] != ",":
            raise ValueError(f"expected ',' or '}}' at line {_line(text, position)}")
        position = _skip(text, position + 1)


def _scan_array(text: str, start: int) -> tuple[_Value, int]:
    value = _Value("array", start, start)
    position = _skip(text, start + 1)
    if text[position] == "]":
        value.end = position + 1
        return value, value.end
    while True:
        item, position = _scan_value(text, position)
        value.items.append(item)
        position = _skip(text, position)
        if text[position] == "]":
            value.end = position + 1
            return value, value.end
        if text[position] != ",":
            raise ValueError(f"expected ',' or ']' at line {_line(text, position)}")
        position = _skip(text, position + 1)


def _locate(root: _Value, segments: tuple[PathSegment, ...]) -> _Value:
    node = root
    for depth, segment in enumerate(segments):
        here = format_path(segments[:depth]) or "the document root"
        wanted = format_path(segments[: depth + 1])
        if node.kind == "object" and not isinstance(segment, int):
            matches = [member for key, member in node.members if key == segment]
            if not matches:
                available = ", ".join(key for key, _ in node.members)
                raise KeyNotFound(f"{wanted}: no such key in {here} (keys there: {available or 'none'})")
            if len(matches) > 1:
                raise EditError(f"{wanted}: the key appears {len(matches)} times in {here}")
            node = matches[0]
        elif node.kind == "array":
            index = as_index(segment)
            if index is None:
                raise KeyNotFound(f"{wanted}: {here} is an array; address its items as [N]")
            if index >= len(node.items):
                raise KeyNotFound(f"{wanted}: {here} has only {len(node.items)} item(s)")
            node = node.items[index]
        else:
            raise KeyNotFound(
                f"{wanted}: {here} is {'an object' if node.kind == 'object' else 'a ' + node.kind}"
            )
    return node


def _verify(old_text: str, new_text: str, segments: tuple[PathSegment, ...], new_value: str | int) -> None:
    path = format_path(segments)
    try:
        new_data = json.loads(new_text.removeprefix("\ufeff"))
    except ValueError as exc:
        raise VerificationFailed(f"{path}: the edited file no longer parses ({exc})") from exc
    expected = copy.deepcopy(json.loads(old_text.removeprefix("\ufeff")))
    container = expected
    for segment in segments[:-1]:
        container = container[_item_index(segment)] if isinstance(container, list) else container[segment]
    last = segments[-1]
    if isinstance(container, list):
        container[_item_index(last)] = new_value
    else:
        container[last] = new_value
    if new_data != expected:
        raise VerificationFailed(f"{path}: the edit changed more than the one value")


def _item_index(segment: PathSegment) -> int:
    """The index of a list item on a path that ``_locate`` already walked in the same document."""
    index = as_index(segment)
    if index is None:
        raise VerificationFailed(f"{format_path((segment,))}: not a list index")
    return index
