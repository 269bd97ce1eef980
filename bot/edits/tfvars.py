"""Change one string in a Terraform ``.tfvars`` file and nothing else.

python-hcl2 parses the file into a Lark tree whose nodes carry their character offsets in the
original text (its parser is built with ``propagate_positions``). We find the attribute (and, for
``serving.chat_llm.version``, the keys of nested object literals, or ``[N]`` items of tuples),
replace exactly the characters of its string literal, then parse the result again and check that the
target now holds the new string and every other attribute is unchanged. python-hcl2's own writer is
never used: it drops comments and reformats the file.

Only literal values are rewritten: a quoted string without interpolation, a number (written back as
a quoted string; Terraform converts it for a ``string`` variable) or ``null``. Expressions,
heredocs and templates are refused with a message naming the variable.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any, TypeAlias

import hcl2
from lark import Token, Tree
from lark.exceptions import LarkError

from bot.edits.base import EditError, EditResult, KeyNotFound, UnsupportedValue, VerificationFailed
from bot.edits.paths import InvalidPath, PathSegment, as_index, format_path, parse_path

# python-hcl2's parse tree: rule nodes whose leaves are the lexer's tokens.
_Node: TypeAlias = Tree[Token]

_LITERAL_KINDS = ("string", "int_lit", "float_lit", "literal_value")


@dataclass(frozen=True)
class _Literal:
    kind: str  # one of _LITERAL_KINDS
    start: int
    end: int
    value: str | None  # decoded string content, the number's text, or None for null


def edit_tfvars_value(text: str, variable: str, new_value: str, *, number: bool = False) -> EditResult:
    """Set the variable (``chat_llm_version`` or ``serving.chat_llm.version``) to the string ``new_value``
    (``number``: to the integer ``new_value``)."""
    try:
        segments = parse_path(variable)
    except InvalidPath as exc:
        raise EditError(str(exc)) from exc
    if isinstance(segments[0], int):
        raise EditError(f"{variable}: a tfvars path starts with a variable name")
    tree = _parse(text)
    literal = _locate(tree, segments)
    if literal.kind == ("int_lit" if number else "string") and literal.value == new_value:
        return EditResult(text=text, changed=False, old_value=literal.value)
    if number and not (new_value.isascii() and new_value.isdigit()):
        raise UnsupportedValue(f"{new_value!r} is not a whole number")
    spelled = str(int(new_value)) if number else hcl_string_literal(new_value)
    new_text = text[: literal.start] + spelled + text[literal.end :]
    _verify(text, new_text, segments, new_value, number=number)
    return EditResult(text=new_text, changed=True, old_value=literal.value)


def hcl_string_literal(value: str) -> str:
    """``value`` as an HCL quoted string, escaping quotes, backslashes, control characters and templates."""
    out: list[str] = []
    for char in value:
        if char in ('"', "\\"):
            out.append("\\" + char)
        elif char == "\n":
            out.append("\\n")
        elif char == "\r":
            out.append("\\r")
        elif char == "\t":
            out.append("\\t")
        elif not char.isprintable():
            out.append(f"\\u{ord(char):04x}" if ord(char) <= 0xFFFF else f"\\U{ord(char):08x}")
        else:
            out.append(char)
    # ``${`` and ``%{`` start templates in HCL strings; doubling the sigil makes them literal.
    return '"' + "".join(out).replace("${", "$${").replace("%{", "%%{") + '"'


def _parse(text: str) -> _Node:
    try:
        return hcl2.parses_to_tree(text)
    except LarkError as exc:
        line = getattr(exc, "line", None)
        where = f" at line {line}" if isinstance(line, int) and line > 0 else ""
        raise EditError(f"not valid HCL{where}: {str(exc).splitlines()[0] if str(exc) else exc!r}") from exc


def _children(tree: _Node, name: str) -> list[_Node]:
    return [child for child in tree.children if isinstance(child, Tree) and child.data == name]


def _rule(tree: _Node, index: int) -> _Node:
    """The child the grammar makes a rule node (an attribute's or object element's name and value)."""
    child = tree.children[index]
    if not isinstance(child, Tree):
        raise EditError(f"unexpected token {str(child)!r} where the HCL grammar has a {tree.data} part")
    return child


def _first_tree(tree: _Node) -> _Node | None:
    return next((child for child in tree.children if isinstance(child, Tree)), None)


def _identifier_text(tree: _Node) -> str | None:
    """The name an ``identifier``/``keyword``/``literal_value`` node spells, else None."""
    if tree.data in ("identifier", "keyword", "literal_value"):
        token = tree.children[0]
        return str(token) if isinstance(token, Token) else None
    return None


def _locate(tree: _Node, segments: tuple[PathSegment, ...]) -> _Literal:
    body = _children(tree, "body")[0]
    name = str(segments[0])
    attributes = [
        attribute
        for attribute in _children(body, "attribute")
        if _identifier_text(_rule(attribute, 0)) == name
    ]
    if not attributes:
        available = ", ".join(
            text for a in _children(body, "attribute") if (text := _identifier_text(_rule(a, 0)))
        )
        raise KeyNotFound(f"{name}: no such variable (variables in the file: {available or 'none'})")
    if len(attributes) > 1:
        raise EditError(f"{name}: the variable is assigned {len(attributes)} times")
    expression = _rule(attributes[0], -1)
    for depth, segment in enumerate(segments[1:], start=1):
        expression = _step(expression, segment, segments[:depth], segments[: depth + 1])
    return _literal(expression, format_path(segments))


def _unwrap(expression: _Node) -> _Node:
    """The meaningful node under an ``expr_term`` wrapper (``expr_term(object)`` → ``object``)."""
    while (
        expression.data == "expr_term"
        and len(expression.children) == 1
        and isinstance(expression.children[0], Tree)
    ):
        expression = expression.children[0]
    return expression


def _step(
    expression: _Node, segment: PathSegment, here: tuple[PathSegment, ...], wanted: tuple[PathSegment, ...]
) -> _Node:
    node = _unwrap(expression)
    if node.data == "object":
        if isinstance(segment, int):
            raise KeyNotFound(f"{format_path(wanted)}: {format_path(here)} is an object, not a list")
        matches = []
        for element in _children(node, "object_elem"):
            key = _object_key(_rule(element, 0))
            if key == segment:
                matches.append(_rule(element, -1))
        if not matches:
            raise KeyNotFound(f"{format_path(wanted)}: no such key in {format_path(here)}")
        if len(matches) > 1:
            raise EditError(f"{format_path(wanted)}: the key appears {len(matches)} times")
        return matches[0]
    if node.data == "tuple":
        index = as_index(segment)
        items = [
            child
            for child in node.children
            if isinstance(child, Tree) and child.data != "new_line_or_comment"
        ]
        if index is None:
            raise KeyNotFound(
                f"{format_path(wanted)}: {format_path(here)} is a list; address its items as [N]"
            )
        if index >= len(items):
            raise KeyNotFound(f"{format_path(wanted)}: {format_path(here)} has only {len(items)} item(s)")
        return items[index]
    raise KeyNotFound(f"{format_path(wanted)}: {format_path(here)} is not an object or list literal")


def _object_key(key_tree: _Node) -> str | None:
    """An object key's name: ``chat_llm = ...`` and ``"chat_llm" = ...`` both give ``chat_llm``."""
    node = _unwrap(_first_tree(key_tree) or key_tree)
    name = _identifier_text(node)
    if name is not None:
        return name
    if node.data == "string":
        return _decode_string(node)
    return None


def _decode_string(node: _Node) -> str | None:
    """The content of a string literal without templates, or None when it has interpolation/directives."""
    parts: list[str] = []
    for part in _children(node, "string_part"):
        token = part.children[0]
        if not isinstance(token, Token) or token.type not in (
            "STRING_CHARS",
            "ESCAPED_INTERPOLATION",
            "ESCAPED_DIRECTIVE",
        ):
            return None
        parts.append(str(token))
    return _unescape("".join(parts))


def _unescape(raw: str) -> str:
    out: list[str] = []
    position = 0
    simple = {"n": "\n", "r": "\r", "t": "\t", '"': '"', "\\": "\\"}
    while position < len(raw):
        char = raw[position]
        if char == "\\" and position + 1 < len(raw):
            code = raw[position + 1]
            if code in simple:
                out.append(simple[code])
                position += 2
                continue
            width = {"u": 4, "U": 8}.get(code)
            if width is not None:
                out.append(chr(int(raw[position + 2 : position + 2 + width], 16)))
                position += 2 + width
                continue
        if raw.startswith(("$${", "%%{"), position):
            out.append(raw[position + 1 : position + 3])
            position += 3
            continue
        out.append(char)
        position += 1
    return "".join(out)


def _literal(expression: _Node, path: str) -> _Literal:
    node = _unwrap(expression)
    if node.data not in _LITERAL_KINDS:
        raise UnsupportedValue(f"{path}: the value is {_describe(node.data)}, not a literal string")
    start, end = node.meta.start_pos, node.meta.end_pos
    if node.data == "string":
        value = _decode_string(node)
        if value is None:
            raise UnsupportedValue(
                f"{path}: the string contains interpolation or directives; it is not rewritten"
            )
        return _Literal("string", start, end, value)
    if node.data == "literal_value":
        word = _identifier_text(node)
        if word != "null":
            raise UnsupportedValue(f"{path}: the value is the boolean {word}, not a string")
        return _Literal("literal_value", start, end, None)
    token = node.children[0]
    return _Literal(node.data, start, end, str(token))


def _describe(kind: str) -> str:
    return {
        "object": "an object",
        "tuple": "a list",
        "heredoc_template": "a heredoc",
        "heredoc_template_trim": "a heredoc",
        "function_call": "a function call",
        "identifier": "a reference",
        "expr_term": "a parenthesised expression",
    }.get(kind, "an expression")


def _verify(
    old_text: str, new_text: str, segments: tuple[PathSegment, ...], new_value: str, *, number: bool = False
) -> None:
    path = format_path(segments)
    try:
        new_tree = _parse(new_text)
        new_data = hcl2.loads(new_text)
    except (EditError, LarkError) as exc:
        raise VerificationFailed(f"{path}: the edited file no longer parses ({exc})") from exc
    literal = _locate(new_tree, segments)
    if literal.kind != ("int_lit" if number else "string") or literal.value != new_value:
        raise VerificationFailed(
            f"{path}: the edited file reads back {literal.value!r} instead of {new_value!r}"
        )
    expected = copy.deepcopy(hcl2.loads(old_text))
    _set_in_loaded(expected, segments, int(new_value) if number else hcl_string_literal(new_value), path)
    if expected != new_data:
        raise VerificationFailed(f"{path}: the edit changed more than the one value")


def _set_in_loaded(data: Any, segments: tuple[PathSegment, ...], literal: str | int, path: str) -> None:
    """Mirror the edit on python-hcl2's dict form (which keeps strings and quoted keys with their quotes)."""
    for position, segment in enumerate(segments):
        last = position == len(segments) - 1
        if isinstance(data, list):
            index = as_index(segment)
            if index is None or index >= len(data):
                raise VerificationFailed(f"{path}: cannot follow the path in the parsed file")
            if last:
                data[index] = literal
            else:
                data = data[index]
            continue
        key = next((k for k in (segment, f'"{segment}"') if isinstance(data, dict) and k in data), None)
        if key is None:
            raise VerificationFailed(f"{path}: cannot follow the path in the parsed file")
        if last:
            data[key] = literal
        else:
            data = data[key]
