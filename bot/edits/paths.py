"""The address syntax shared by YAML keys, tfvars variables and tfvars.json paths.

A path is dot-separated segments, each optionally followed by list indexes in brackets::

    image.tag
    containers[0].image.tag
    serving.chat_llm.version
    podAnnotations."example.com/version"      (double quotes for a key that contains dots)
    a.b.0.c

``[0]`` always means "item 0 of a list". A bare numeric segment such as the ``0`` in ``a.b.0.c``
means item 0 when the value it is applied to is a list and the key ``"0"`` when it is a mapping, so
both spellings used by Helm (``--set a.b[0].c``) and by yq-style tools work.
"""

from __future__ import annotations

import re

PathSegment = str | int

_INDEX = re.compile(r"\[(\d+)\]")
_BARE = re.compile(r"[^.\[\]\"\s]+")


class InvalidPath(ValueError):
    """The path text does not follow the syntax above."""


def parse_path(text: str) -> tuple[PathSegment, ...]:
    """Split a path into segments: ``str`` for keys, ``int`` for bracketed list indexes."""
    if not text or text != text.strip():
        raise InvalidPath(f"invalid path {text!r}: must be non-empty without surrounding spaces")
    segments: list[PathSegment] = []
    position = 0
    expect_key = True
    while position < len(text):
        if expect_key:
            if text[position] == '"':
                key, position = _read_quoted(text, position)
                segments.append(key)
            else:
                match = _BARE.match(text, position)
                if match is None:
                    raise InvalidPath(f"invalid path {text!r}: expected a key at character {position + 1}")
                segments.append(match.group())
                position = match.end()
            expect_key = False
            continue
        index = _INDEX.match(text, position)
        if index is not None:
            segments.append(int(index.group(1)))
            position = index.end()
        elif text[position] == "." and position + 1 < len(text):
            position += 1
            expect_key = True
        else:
            raise InvalidPath(
                f"invalid path {text!r}: unexpected {text[position]!r} at character {position + 1}"
            )
    if expect_key:
        raise InvalidPath(f"invalid path {text!r}: ends with a separator")
    return tuple(segments)


def _read_quoted(text: str, position: int) -> tuple[str, int]:
    chars: list[str] = []
    position += 1
    while position < len(text):
        char = text[position]
        if char == "\\" and position + 1 < len(text) and text[position + 1] in '"\\':
            chars.append(text[position + 1])
            position += 2
        elif char == '"':
            if not chars:
                raise InvalidPath(f"invalid path {text!r}: empty quoted key")
            return "".join(chars), position + 1
        else:
            chars.append(char)
            position += 1
    raise InvalidPath(f"invalid path {text!r}: unterminated quoted key")


def format_path(segments: tuple[PathSegment, ...] | list[PathSegment]) -> str:
    """The canonical spelling of a path (inverse of :func:`parse_path`), used in error messages."""
    parts: list[str] = []
    for segment in segments:
        if isinstance(segment, int):
            parts.append(f"[{segment}]")
            continue
        spelled = (
            segment
            if _BARE.fullmatch(segment)
            else '"' + segment.replace("\\", "\\\\").replace('"', '\\"') + '"'
        )
        parts.append(("." if parts else "") + spelled)
    return "".join(parts)


def as_index(segment: PathSegment) -> int | None:
    """The list index a segment denotes when applied to a list, or None."""
    if isinstance(segment, int):
        return segment
    return int(segment) if segment.isdigit() else None
