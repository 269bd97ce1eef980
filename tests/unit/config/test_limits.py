"""Hostile ``.gitops-bot.yaml`` files: too deep or too large is a config error naming a line, at once.

Before the limits, 3,000 nested brackets (or a compact block list ``- - - …``) made the loader die
with ``RecursionError`` (the handler's job was retried until ``dead``), and a file of a few MiB
kept a worker busy for minutes.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from bot.config import (
    MAX_CONFIG_BYTES,
    MAX_NESTING_DEPTH,
    ConfigInvalid,
    check_config_file,
    load_repo_config,
    load_repo_config_bytes,
)

MINIMAL = """\
version: 1
deployments:
  - name: chat
    trigger:
      image: {repository: registry.example.com/serving/chat-llm}
    targets:
      - {file: apps/chat/values.yaml, key: image.tag}
"""
DEEP = 3_000


@contextmanager
def answered_at_once(seconds: float = 5.0) -> Iterator[None]:
    """A generous wall-clock guard (not a benchmark): the answer must not take minutes."""
    started = time.monotonic()
    yield
    assert time.monotonic() - started < seconds


def _single_error(text: str) -> str:
    with answered_at_once(), pytest.raises(ConfigInvalid) as caught:
        load_repo_config(text)
    (error,) = caught.value.errors
    return str(error)


@pytest.mark.parametrize(
    ("shape", "text", "line"),
    [
        ("flow lists", "version: 1\nusers: " + "[" * DEEP + "]" * DEEP + "\n", 2),
        ("flow mappings", "version: 1\nusers: " + "{a: " * DEEP + "1" + "}" * DEEP + "\n", 2),
        ("compact block lists", "version: 1\nusers:\n  " + "- " * DEEP + "x\n", 3),
        (
            "indented block mappings",
            "version: 1\nusers:\n" + "".join(" " * (depth + 1) + f"k{depth}:\n" for depth in range(200)),
            MAX_NESTING_DEPTH + 1,  # the key k62 of the 64th mapping is the 65th level
        ),
    ],
)
def test_deep_nesting_is_a_config_error_naming_the_line(shape: str, text: str, line: int) -> None:
    message = _single_error(text)
    assert f".gitops-bot.yaml:{line}:" in message, shape
    assert f"nested deeper than {MAX_NESTING_DEPTH} levels" in message
    assert "recursion" not in message


def test_deep_nesting_in_a_block_mapping_of_thousands_of_levels_is_refused_by_size() -> None:
    text = "version: 1\n" + "".join(" " * depth + f"k{depth}:\n" for depth in range(DEEP))
    assert len(text) > MAX_CONFIG_BYTES
    assert "at most 256 KiB" in _single_error(text)


def test_aliases_do_not_multiply_the_depth() -> None:
    # Each anchor nests the previous one: the composed tree stays within the limit, and the
    # loader neither recurses without bound nor expands the aliases.
    levels = "[" * 40 + "x" + "]" * 40
    lines = [f"a0: &a0 {levels}"]
    lines += [f"a{i}: &a{i} {'[' * 40}*a{i - 1}{']' * 40}" for i in range(1, 100)]
    text = "version: 1\nusers:\n" + "".join(f"  {line}\n" for line in lines)
    with answered_at_once(), pytest.raises(ConfigInvalid) as caught:
        load_repo_config(text)
    assert all("users" in error.key_path for error in caught.value.errors)


def test_a_file_of_several_mib_is_a_config_error_naming_the_line_where_the_limit_is_crossed() -> None:
    padding = "# padding to make the file large\n"
    text = MINIMAL + padding * (4 * 1024 * 1024 // len(padding))
    message = _single_error(text)
    crossed = 7 + (MAX_CONFIG_BYTES - len(MINIMAL)) // len(padding) + 1
    assert f".gitops-bot.yaml:{crossed}:" in message
    assert "4.0 MiB" in message and "at most 256 KiB" in message


def test_a_file_just_under_the_limit_loads() -> None:
    padding = "# padding\n"
    text = MINIMAL + padding * ((MAX_CONFIG_BYTES - len(MINIMAL)) // len(padding))
    assert len(text.encode()) <= MAX_CONFIG_BYTES
    assert load_repo_config(text).deployments[0].name == "chat"


def test_bytes_are_measured_before_they_are_decoded() -> None:
    with answered_at_once(), pytest.raises(ConfigInvalid) as caught:
        load_repo_config_bytes(b"\xff" * (MAX_CONFIG_BYTES + 1))
    assert "at most 256 KiB" in str(caught.value)
    with pytest.raises(ConfigInvalid) as caught:
        load_repo_config_bytes(b"version: 1\nusers:\n  U1: \xff\n")
    (error,) = caught.value.errors
    assert (error.line, error.column) == (3, 7)
    assert "not UTF-8" in error.message


def test_check_config_file_reports_deep_and_huge_files(tmp_path: Path) -> None:
    deep = tmp_path / "deep.yaml"
    deep.write_text("version: 1\nusers: " + "[" * DEEP + "]" * DEEP + "\n", encoding="utf-8")
    huge = tmp_path / "huge.yaml"
    huge.write_bytes(b"version: 1\n" + b"#" * (8 * 1024 * 1024) + b"\n")
    with answered_at_once():
        (deep_error,) = check_config_file(deep)
        (huge_error,) = check_config_file(huge)
    assert (deep_error.file, deep_error.line) == (str(deep), 2)
    assert f"nested deeper than {MAX_NESTING_DEPTH} levels" in deep_error.message
    assert huge_error.file == str(huge) and huge_error.line == 2
    assert "8.0 MiB" in huge_error.message
