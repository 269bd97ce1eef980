from __future__ import annotations

import pytest

from bot.edits.paths import InvalidPath, as_index, format_path, parse_path


@pytest.mark.parametrize(
    ("text", "segments"),
    [
        ("image.tag", ("image", "tag")),
        ("containers[0].image.tag", ("containers", 0, "image", "tag")),
        ("a.b.0.c", ("a", "b", "0", "c")),
        ("matrix[1][2]", ("matrix", 1, 2)),
        ('podAnnotations."example.com/version"', ("podAnnotations", "example.com/version")),
        ('"a\\"b".c', ('a"b', "c")),
        ("serving.chat_llm.version", ("serving", "chat_llm", "version")),
        ("kebab-case.key_1", ("kebab-case", "key_1")),
    ],
)
def test_parse_path(text: str, segments: tuple[str | int, ...]) -> None:
    assert parse_path(text) == segments
    assert parse_path(format_path(segments)) == segments


@pytest.mark.parametrize(
    "text", ["", " a", "a.", ".a", "a..b", "a[x]", "a[0", '"unterminated', 'a.""', "a b"]
)
def test_invalid_paths_are_rejected(text: str) -> None:
    with pytest.raises(InvalidPath):
        parse_path(text)


def test_bare_numeric_segment_is_an_index_only_for_lists() -> None:
    assert as_index("0") == 0
    assert as_index(3) == 3
    assert as_index("tag") is None
