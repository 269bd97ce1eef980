"""Change one scalar in a YAML file (Helm values, Kustomize patches) and nothing else.

Why a splice and not ``ruamel.yaml``'s round-trip dump: even with ``preserve_quotes`` and the
file's own indentation detected, the dumper re-spaces ``key:   value`` and ``-   item``, rewrites
flow maps (``{cpu: 1,  memory: 1Gi}``), moves end-of-line comments and drops trailing spaces, so a
one-value bump would show up as a diff of unrelated lines (pinned by a test). Instead we use
ruamel.yaml to *locate* the value (its composer reports each node's exact start and end offset in
the original text), replace exactly those characters, and then *verify* by composing the edited
text again: the document must be identical node for node except the target scalar, which must
now hold the new string. Everything outside the value's characters — comments, anchors and
aliases, quoting, key order, indentation, ``---``/``...`` markers, CRLF line endings, a BOM, the
trailing newline — is untouched by construction.

Rules:

* the path uses :mod:`bot.edits.paths` syntax (``containers[0].image.tag``);
* a missing key is an error naming the path (keys are never created);
* a value reached through an alias (``tag: *version``) or a merge key (``<<: *base``) is refused,
  because writing it would change every other user of the anchor: edit the anchored value instead;
  editing the anchored value itself (``tag: &version 1.2.3``) is allowed and keeps the anchor;
* the scalar keeps its quote style; a plain scalar stays plain only if the new text would still
  read back as a string under both YAML 1.1 (Helm's go-yaml) and YAML 1.2, otherwise it is
  written double-quoted (``1.10`` would be the float 1.1, ``on`` a boolean);
* block scalars (``|``, ``>``), mappings and sequences are refused;
* a file with several documents (``---`` separating them) is refused: a key path would be ambiguous;
* an empty value (``tag:``) is filled in after the colon.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ruamel.yaml import YAML
from ruamel.yaml.composer import MaxDepthExceededError
from ruamel.yaml.error import MarkedYAMLError, YAMLError
from ruamel.yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode
from ruamel.yaml.resolver import VersionedResolver

from bot.edits.base import EditError, EditResult, KeyNotFound, UnsupportedValue, VerificationFailed
from bot.edits.paths import InvalidPath, PathSegment, as_index, format_path, parse_path

# Deeper than any values file (Helm charts stay well under 20 levels); the composer stops at
# the first node past it instead of exhausting the stack.
MAX_DEPTH = 200

_STR_TAG = "tag:yaml.org,2002:str"
_INT_TAG = "tag:yaml.org,2002:int"
_NULL_TAG = "tag:yaml.org,2002:null"
_MERGE_TAG = "tag:yaml.org,2002:merge"

# Node properties (anchor ``&name``, tag ``!!str``) that the composer includes in a scalar's span.
_PROPERTIES = re.compile(r"(?:[&!]\S*\s+)*")
# Characters that may not start a plain scalar, or that end one inside a flow collection.
_PLAIN_FORBIDDEN_START = set("-?:,[]{}#&*!|>'\"%@`")
_PLAIN_FORBIDDEN_ANYWHERE = set(",[]{}\t\r\n")


@dataclass(frozen=True)
class _Located:
    node: ScalarNode
    key_node: ScalarNode | None  # the mapping key when the scalar is a mapping value


def edit_yaml_value(text: str, key: str, new_value: str, *, number: bool = False) -> EditResult:
    """Set the string scalar at ``key`` to ``new_value``, changing only that scalar's characters
    (``number``: the integer ``new_value``, written plain)."""
    try:
        segments = parse_path(key)
    except InvalidPath as exc:
        raise EditError(str(exc)) from exc
    root = _compose_single_document(text)
    located = _locate(root, segments)
    node = located.node
    old_value = None if node.tag == _NULL_TAG else node.value
    if node.tag in (_STR_TAG, _INT_TAG) and node.value == new_value:
        return EditResult(text=text, changed=False, old_value=old_value)

    start, end = _value_span(text, located, key)
    rendered = _integer(new_value) if number else render_scalar(new_value, node.style)
    if start == end and located.key_node is not None:
        # ``tag:`` with nothing after it: keep exactly one space between the colon and the value.
        rendered = rendered if text[start - 1 : start] in (" ", "\t") else " " + rendered
    new_text = text[:start] + rendered + text[end:]
    _verify(text, new_text, node, segments, new_value, tag=_INT_TAG if number else _STR_TAG)
    return EditResult(text=new_text, changed=True, old_value=old_value)


def _integer(value: str) -> str:
    if not value.isdigit() or not value.isascii():
        raise UnsupportedValue(f"{value!r} is not a whole number")
    return str(int(value))


def render_scalar(value: str, style: str | None) -> str:
    """Spell ``value`` as a YAML scalar in ``style`` (None = plain), quoting when plain is not a string."""
    if style == "'" and "\n" not in value and value.isprintable():
        return "'" + value.replace("'", "''") + "'"
    if style is None and is_plain_safe(value):
        return value
    if style in (None, '"', "'"):
        return _double_quoted(value)
    raise UnsupportedValue(f"cannot rewrite a {style!r} block scalar")


def is_plain_safe(value: str) -> bool:
    """True when ``value`` written unquoted reads back as the same string in YAML 1.1 and 1.2, anywhere."""
    if not value or value != value.strip() or not value.isprintable():
        return False
    if value[0] in _PLAIN_FORBIDDEN_START or any(char in _PLAIN_FORBIDDEN_ANYWHERE for char in value):
        return False
    if ": " in value or " #" in value or value.endswith(":"):
        return False
    for version in ((1, 1), (1, 2)):
        resolved = VersionedResolver(version=version).resolve(ScalarNode, value, (True, False))
        if str(resolved) != _STR_TAG:
            return False
    return True


def _double_quoted(value: str) -> str:
    escaped: list[str] = []
    for char in value:
        if char in ('"', "\\"):
            escaped.append("\\" + char)
        elif char == "\n":
            escaped.append("\\n")
        elif char == "\t":
            escaped.append("\\t")
        elif not char.isprintable():
            escaped.append(f"\\u{ord(char):04x}" if ord(char) <= 0xFFFF else f"\\U{ord(char):08x}")
        else:
            escaped.append(char)
    return '"' + "".join(escaped) + '"'


def _compose_single_document(text: str) -> Node:
    yaml = YAML(typ="rt")
    yaml.max_depth = MAX_DEPTH
    try:
        composed: list[Node | None] = list(yaml.compose_all(text))
    except MaxDepthExceededError as exc:
        mark = exc.problem_mark
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark is not None else ""
        raise EditError(f"{where}nested deeper than {MAX_DEPTH} levels; not edited") from None
    except MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark is not None else ""
        raise EditError(f"not valid YAML: {where}{exc.problem or exc.context}") from exc
    except YAMLError as exc:
        raise EditError(f"not valid YAML: {exc}") from exc
    documents = [document for document in composed if document is not None]
    if not documents:
        raise KeyNotFound("the file holds no YAML document")
    if len(documents) > 1:
        raise EditError(
            f"the file holds {len(documents)} YAML documents; a key path is ambiguous, so multi-document "
            "files are not edited (split the file or point the target at a single-document file)"
        )
    return documents[0]


def _locate(root: Node, segments: tuple[PathSegment, ...]) -> _Located:
    node = root
    key_node: ScalarNode | None = None
    for depth, segment in enumerate(segments):
        here = format_path(segments[:depth]) or "the document root"
        wanted = format_path(segments[: depth + 1])
        if isinstance(node, MappingNode):
            if isinstance(segment, int):
                raise KeyNotFound(f"{wanted}: {here} is a mapping, not a list")
            key_node, child = _mapping_lookup(node, segment, wanted, here)
            if child.start_mark.index < key_node.end_mark.index:
                raise UnsupportedValue(
                    f"{wanted}: the value is an alias of an anchor defined at line "
                    f"{child.start_mark.line + 1}; "
                    "writing it would change every user of that anchor, so target the anchored key instead"
                )
        elif isinstance(node, SequenceNode):
            index = as_index(segment)
            if index is None:
                raise KeyNotFound(f"{wanted}: {here} is a list; address its items as [N]")
            if index >= len(node.value):
                raise KeyNotFound(f"{wanted}: {here} has only {len(node.value)} item(s)")
            child = node.value[index]
            previous_end = node.value[index - 1].end_mark.index if index else node.start_mark.index
            if child.start_mark.index < previous_end:
                raise UnsupportedValue(
                    f"{wanted}: the item is an alias of an anchor defined at line "
                    f"{child.start_mark.line + 1}; "
                    "target the anchored value instead"
                )
            key_node = None
        else:
            raise KeyNotFound(f"{wanted}: {here} is a scalar, not a mapping or list")
        node = child
    if not isinstance(node, ScalarNode):
        kind = "mapping" if isinstance(node, MappingNode) else "list"
        raise UnsupportedValue(f"{format_path(segments)}: the value is a {kind}, not a scalar")
    return _Located(node=node, key_node=key_node)


def _mapping_lookup(node: MappingNode, segment: str, wanted: str, here: str) -> tuple[ScalarNode, Node]:
    matches = [
        (key, value)
        for key, value in node.value
        if isinstance(key, ScalarNode) and key.tag != _MERGE_TAG and key.value == segment
    ]
    if len(matches) > 1:
        raise EditError(f"{wanted}: the key appears {len(matches)} times in {here}")
    if matches:
        return matches[0]
    for key, value in node.value:
        if isinstance(key, ScalarNode) and key.tag == _MERGE_TAG:
            merged = value.value if isinstance(value, SequenceNode) else [value]
            for source in merged:
                if isinstance(source, MappingNode) and any(
                    isinstance(k, ScalarNode) and k.value == segment for k, _ in source.value
                ):
                    raise UnsupportedValue(
                        f"{wanted}: the key comes from a merge key (<<) whose mapping is defined at line "
                        f"{source.start_mark.line + 1}; edit it there"
                    )
    available = ", ".join(key.value for key, _ in node.value if isinstance(key, ScalarNode))
    raise KeyNotFound(f"{wanted}: no such key in {here} (keys there: {available or 'none'})")


def _value_span(text: str, located: _Located, key: str) -> tuple[int, int]:
    node = located.node
    start, end = node.start_mark.index, node.end_mark.index
    if node.style in ("|", ">"):
        raise UnsupportedValue(f"{key}: the value is a block scalar ({node.style}); it is not rewritten")
    if node.tag == _NULL_TAG and start == end:
        if located.key_node is None:
            raise UnsupportedValue(f"{key}: the list item is empty; write a placeholder value first")
        # The composer places an empty value after any following comment; anchor it to the colon instead.
        colon = text.find(":", located.key_node.end_mark.index)
        if colon < 0:
            raise EditError(f"{key}: cannot find the ':' after the key")
        position = colon + 1
        return position, position
    properties = _PROPERTIES.match(text, start, end)
    value_start = properties.end() if properties else start
    if value_start >= end:
        raise UnsupportedValue(f"{key}: the value has an anchor or tag but no content")
    return value_start, end


def _verify(
    old_text: str,
    new_text: str,
    target: ScalarNode,
    segments: tuple[PathSegment, ...],
    new_value: str,
    *,
    tag: str = _STR_TAG,
) -> None:
    """The edited document must equal the old one node for node, except the target, now ``new_value``."""
    path = format_path(segments)
    try:
        new_root = _compose_single_document(new_text)
    except EditError as exc:
        raise VerificationFailed(f"{path}: the edited file no longer parses ({exc})") from exc
    old_root = _compose_single_document(old_text)
    located = _locate(new_root, segments)
    if located.node.tag != tag or located.node.value != new_value:
        what = "the string" if tag == _STR_TAG else "the number"
        raise VerificationFailed(
            f"{path}: the edited file reads back {located.node.value!r} ({located.node.tag}) "
            f"instead of {what} {new_value!r}"
        )
    _compare(old_root, new_root, target.start_mark.index, path, set())


def _compare(old: Node, new: Node, target_start: int, path: str, seen: set[tuple[int, int]]) -> None:
    pair = (id(old), id(new))
    if pair in seen:
        return
    seen.add(pair)
    if type(old) is not type(new):
        raise VerificationFailed(f"{path}: the edit changed the structure at line {old.start_mark.line + 1}")
    if isinstance(old, ScalarNode):
        if old.start_mark.index == target_start:
            return
        if (old.tag, old.value) != (new.tag, new.value):
            raise VerificationFailed(
                f"{path}: the edit changed another value at line {old.start_mark.line + 1}: "
                f"{old.value!r} became {new.value!r}"
            )
        return
    if len(old.value) != len(new.value) or old.tag != new.tag:
        raise VerificationFailed(f"{path}: the edit changed the structure at line {old.start_mark.line + 1}")
    for old_item, new_item in zip(old.value, new.value, strict=True):
        if isinstance(old_item, tuple):
            _compare(old_item[0], new_item[0], target_start, path, seen)
            _compare(old_item[1], new_item[1], target_start, path, seen)
        else:
            _compare(old_item, new_item, target_start, path, seen)
