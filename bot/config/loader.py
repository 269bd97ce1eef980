"""Read ``.gitops-bot.yaml`` text into a :class:`RepoConfig`, or report every problem with its line.

The YAML is loaded with ruamel.yaml's round-trip loader because it records where each key and
list item sits (``CommentedMap.lc.key(k)``, ``CommentedSeq.lc.item(i)``); each pydantic error's
``loc`` is walked through that data to find the line and column of the offending key (or, for a
missing key, of the mapping that should hold it). Cross-reference problems (``promote.to`` naming
no deployment, repeated names) are collected through the validation context and located the same way.

The file is untrusted input (anyone who can push to the default branch writes it), so it is
bounded before any real work: at most :data:`MAX_CONFIG_BYTES`, measured before decoding or
parsing, and at most :data:`MAX_NESTING_DEPTH` levels of mappings and lists, enforced by
ruamel.yaml's composer (``YAML.max_depth``), which stops at the first node past the limit instead
of recursing until Python's stack gives out. Both are reported as ordinary config errors with a line.
"""

from __future__ import annotations

import difflib
import os
import types
import typing
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.composer import MaxDepthExceededError
from ruamel.yaml.error import MarkedYAMLError, YAMLError

from bot.config.schema import CROSS_CHECK_CONTEXT_KEY, RepoConfig

DEFAULT_FILENAME = ".gitops-bot.yaml"

MAX_CONFIG_BYTES = 256 * 1024
"""The largest config accepted. The example config (two projects, three deployments with canaries)
is 4 KiB, so this leaves room for well over a hundred fully specified deployments, while keeping
ruamel.yaml's pure-Python round-trip load (roughly a second per 100 KiB of the densest YAML) to
a few seconds at worst."""

MAX_NESTING_DEPTH = 64
"""Mappings and lists (and the scalars inside the deepest) nested in each other. The schema's
deepest key (``deployments[].canary.metrics[].baseline.relative_max``) is 8 levels down; 64 is
far above any valid file and far below the depth at which the loader would exhaust the stack."""

Loc = tuple[str | int, ...]


@dataclass(frozen=True)
class ConfigError:
    """One problem in the file; ``line`` and ``column`` are 1-based."""

    file: str
    line: int
    column: int
    key_path: str
    message: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}:{self.column}"
        return f"{where}: {self.key_path}: {self.message}" if self.key_path else f"{where}: {self.message}"


class ConfigInvalid(ValueError):
    """The file is not a valid config; ``errors`` lists every problem found, in file order."""

    def __init__(self, errors: Sequence[ConfigError]) -> None:
        self.errors = list(errors)
        super().__init__("\n".join(str(error) for error in self.errors))


def load_repo_config(text: str, filename: str = DEFAULT_FILENAME) -> RepoConfig:
    """Parse and validate the config text; raises :class:`ConfigInvalid` naming file, line and key."""
    # Characters never take fewer bytes than one: only a long text can be over the limit.
    if len(text) > MAX_CONFIG_BYTES:
        _check_size(text.encode("utf-8", "surrogatepass"), filename)
    data = _load_yaml(text, filename)
    if not isinstance(data, CommentedMap):
        kind = "empty" if data is None else ("a list" if isinstance(data, list) else f"the scalar {data!r}")
        raise ConfigInvalid(
            [
                ConfigError(
                    filename,
                    1,
                    1,
                    "",
                    f"expected a mapping with 'version: 1' at the top, but the file is {kind}",
                )
            ]
        )
    cross_problems: list[tuple[Loc, str]] = []
    try:
        config = RepoConfig.model_validate(data, context={CROSS_CHECK_CONTEXT_KEY: cross_problems})
    except ValidationError as exc:
        raise ConfigInvalid(_sorted(_from_validation_error(exc, data, filename))) from exc
    if cross_problems:
        raise ConfigInvalid(
            _sorted(_located(filename, data, tuple(loc), message) for loc, message in cross_problems)
        )
    return config


def load_repo_config_bytes(data: bytes, filename: str = DEFAULT_FILENAME) -> RepoConfig:
    """:func:`load_repo_config` for the file's bytes: the size is checked before decoding, and text
    that is not UTF-8 is a config error naming the line of the first bad byte."""
    _check_size(data, filename)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line, column = _line_and_column(data, exc.start)
        raise ConfigInvalid(
            [ConfigError(filename, line, column, "", f"the file is not UTF-8 text ({exc.reason})")]
        ) from None
    return load_repo_config(text, filename)


def check_config_file(
    path: str | os.PathLike[str], *, checkout: str | os.PathLike[str] | None = None
) -> list[ConfigError]:
    """Every problem in the config file at ``path`` (empty when valid), for ``gitops-bot check-config``;
    with ``checkout``, also what it names that the checkout lacks (:mod:`bot.config.checkout`)."""
    errors = _check_file(path)
    if errors or checkout is None:
        return errors
    return _check_checkout(Path(path), Path(checkout))


def _check_checkout(path: Path, root: Path) -> list[ConfigError]:
    from bot.config.checkout import checkout_problems

    text = path.read_text(encoding="utf-8")
    data = _load_yaml(text, os.fspath(path))
    config = load_repo_config(text, os.fspath(path))
    resolved = root.resolve()

    def inside(relative: str) -> Path | None:
        candidate = (root / relative).resolve()
        return candidate if candidate.is_relative_to(resolved) else None  # no symlink out of it

    def read(relative: str) -> str | None:
        found = inside(relative)
        if found is None or not found.is_file():
            return None
        return found.read_text(encoding="utf-8", errors="replace")

    def is_dir(relative: str) -> bool:
        found = inside(relative)
        return found is not None and found.is_dir()

    problems = checkout_problems(config, read, is_dir)
    return _sorted(_located(os.fspath(path), data, loc, message) for loc, message in problems)


def _check_file(path: str | os.PathLike[str]) -> list[ConfigError]:
    shown = os.fspath(path)
    try:
        with Path(path).open("rb") as handle:
            data = handle.read(MAX_CONFIG_BYTES + 1)  # never more than the limit into memory
            total = os.fstat(handle.fileno()).st_size
    except OSError as exc:
        return [ConfigError(shown, 1, 1, "", f"cannot read the file: {exc}")]
    try:
        if len(data) > MAX_CONFIG_BYTES:
            _check_size(data, shown, total=max(total, len(data)))
        load_repo_config_bytes(data, shown)
    except ConfigInvalid as exc:
        return exc.errors
    return []


# --------------------------------------------------------------------------- limits


def _check_size(data: bytes, filename: str, *, total: int | None = None) -> None:
    """Raise :class:`ConfigInvalid` when ``data`` (``total`` bytes in all) is over the limit,
    naming the line where the limit is crossed."""
    size = len(data) if total is None else total
    if size <= MAX_CONFIG_BYTES:
        return
    line, column = _line_and_column(data, MAX_CONFIG_BYTES)
    raise ConfigInvalid(
        [
            ConfigError(
                filename,
                line,
                column,
                "",
                f"the file is {_size_text(size)}; a {DEFAULT_FILENAME} may be at most "
                f"{_size_text(MAX_CONFIG_BYTES)} (the limit is crossed on this line)",
            )
        ]
    )


def _line_and_column(data: bytes, offset: int) -> tuple[int, int]:
    """1-based line and column (in bytes) of ``offset`` in ``data``."""
    line_start = data.rfind(b"\n", 0, offset) + 1
    return data.count(b"\n", 0, offset) + 1, offset - line_start + 1


def _size_text(size: int) -> str:
    if size >= 1024 * 1024:
        return f"{size / (1024 * 1024):.1f} MiB"
    if size % 1024 == 0:
        return f"{size // 1024} KiB"
    return f"{size:,} bytes"


# --------------------------------------------------------------------------- YAML


def _load_yaml(text: str, filename: str) -> Any:
    yaml = YAML(typ="rt")
    yaml.max_depth = MAX_NESTING_DEPTH
    try:
        return yaml.load(text)
    except MaxDepthExceededError as exc:
        mark = exc.problem_mark
        line, column = (mark.line + 1, mark.column + 1) if mark is not None else (1, 1)
        message = (
            f"nested deeper than {MAX_NESTING_DEPTH} levels of mappings and lists; "
            "no valid config comes close"
        )
        raise ConfigInvalid([ConfigError(filename, line, column, "", message)]) from None
    except RecursionError:  # a safety net: the depth limit above should make this unreachable
        message = f"nested too deeply to read (the limit is {MAX_NESTING_DEPTH} levels)"
        raise ConfigInvalid([ConfigError(filename, 1, 1, "", message)]) from None
    except MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, column = (mark.line + 1, mark.column + 1) if mark is not None else (1, 1)
        message = " ".join(part for part in (exc.context, exc.problem) if part)
        raise ConfigInvalid(
            [ConfigError(filename, line, column, "", f"YAML syntax error: {message}")]
        ) from exc
    except YAMLError as exc:
        raise ConfigInvalid([ConfigError(filename, 1, 1, "", f"YAML syntax error: {exc}")]) from exc


# --------------------------------------------------------------------------- pydantic errors → lines


def _from_validation_error(exc: ValidationError, data: CommentedMap, filename: str) -> list[ConfigError]:
    errors: list[ConfigError] = []
    details = exc.errors(include_url=False)
    failing_locs = [tuple(error["loc"]) for error in details]
    for error in details:
        loc = tuple(error["loc"])
        # A list whose every item failed is also reported as too short; the item errors say more.
        if error["type"] == "too_short" and any(
            other[: len(loc)] == loc and len(other) > len(loc) for other in failing_locs
        ):
            continue
        message = _message(error, loc, data)
        errors.append(_located(filename, data, loc, message))
    return errors


def _message(error: Any, loc: Loc, data: CommentedMap) -> str:
    kind = error["type"]
    if kind == "extra_forbidden":
        unknown = str(loc[-1])
        allowed = _allowed_keys(loc[:-1], data)
        hint = ""
        close = difflib.get_close_matches(unknown, allowed, n=1)
        if close:
            hint = f"; did you mean {close[0]!r}?"
        listed = f" (allowed: {', '.join(allowed)})" if allowed else ""
        return f"unknown key {unknown!r}{listed}{hint}"
    if kind == "missing":
        return "required key is missing"
    if kind == "too_short":
        return f"needs at least {error['ctx']['min_length']} item(s)"
    message = str(error["msg"])
    for prefix in ("Value error, ", "Assertion failed, "):
        message = message.removeprefix(prefix)
    return message


def _located(filename: str, data: CommentedMap, loc: Loc, message: str) -> ConfigError:
    line, column, path = _position(data, loc)
    return ConfigError(filename, line, column, path, message)


def _position(data: CommentedMap, loc: Loc) -> tuple[int, int, str]:
    """(line, column, key path) of the deepest part of ``loc`` present in the YAML data."""
    node: Any = data
    line, column = 1, 1
    parts: list[str] = []
    for part in loc:
        if part == "[key]":  # pydantic's marker for an invalid dict key: the key's own position is right
            continue
        if isinstance(node, CommentedMap) and isinstance(part, str) and part in node:
            key_line, key_column = node.lc.key(part)
            line, column = key_line + 1, key_column + 1
            node = node[part]
        elif isinstance(node, CommentedSeq) and isinstance(part, int) and 0 <= part < len(node):
            item_line, item_column = node.lc.item(part)
            line, column = item_line + 1, item_column + 1
            node = node[part]
        elif isinstance(part, str) and ("[" in part or "-" in part) and part not in (node or {}):
            continue  # a pydantic schema tag such as 'function-after[...]', not a key
        else:
            node = None  # a missing key: stay at the mapping that should hold it
        parts.append(f"[{part}]" if isinstance(part, int) else (f".{part}" if parts else str(part)))
    return line, column, "".join(parts)


def _allowed_keys(loc: Loc, data: CommentedMap) -> list[str]:
    """The keys the model at ``loc`` accepts, to suggest the intended one for an unknown key."""
    model: Any = RepoConfig
    for part in loc:
        if isinstance(part, int):
            continue
        if not (isinstance(model, type) and issubclass(model, BaseModel)) or part not in model.model_fields:
            return []
        model = _model_in(model.model_fields[part].annotation)
        if model is None:
            return []
    if isinstance(model, type) and issubclass(model, BaseModel):
        return list(model.model_fields)
    return []


def _model_in(annotation: Any) -> type[BaseModel] | None:
    """The pydantic model inside ``X``, ``X | None`` or ``tuple[X, ...]``."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType, tuple, list, typing.Annotated):
        for argument in typing.get_args(annotation):
            found = _model_in(argument)
            if found is not None:
                return found
    return None


def _sorted(errors: Any) -> list[ConfigError]:
    return sorted(errors, key=lambda error: (error.line, error.column))
