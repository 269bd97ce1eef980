"""Splitting long command output into GitHub comments."""

from __future__ import annotations

import re

import pytest

from bot.adapters.forge.comments import (
    CONTINUED_HEADER,
    CONTINUED_NOTICE,
    comment_length,
    split_comment,
)
from bot.adapters.forge.port import MAX_COMMENT_LENGTH

FENCE_LINE = re.compile(r"^ {0,3}(`{3,}|~{3,})(.*)$")


def fences_balanced(part: str) -> bool:
    opened: str | None = None
    for line in part.split("\n"):
        match = FENCE_LINE.match(line)
        if not match:
            continue
        if opened is None:
            opened = match.group(1)
        elif (
            match.group(1)[0] == opened[0]
            and len(match.group(1)) >= len(opened)
            and not match.group(2).strip()
        ):
            opened = None
    return opened is None


def details_balanced(part: str) -> bool:
    # Only outside fences matters, and the bodies below never put tags inside fences.
    return part.count("<details") == part.count("</details>")


def plan_output(lines: int, text: str = '+ resource "null_resource" "r{i}" {{}}') -> str:
    body = "".join(text.format(i=i) + "\n" for i in range(lines))
    return (
        "Ran Plan for dir: `terraform/staging`\n\n"
        "<details><summary>Show Output</summary>\n\n"
        "```diff\n" + body + "```\n</details>\n\n"
        f"Plan: {lines} to add, 0 to change, 0 to destroy.\n"
    )


CASES = {
    "plain lines": ("".join(f"line {i}\n" for i in range(2000)), 1000),
    "fenced in details": (plan_output(800), 2000),
    "multibyte and emoji": (plan_output(600, "+ naïve 模型 🚀 {i}"), 1500),
    "one enormous line": ("x" * 9000, 1000),
    "nested details": (
        "<details><summary>outer</summary>\n\n<details><summary>inner</summary>\n\n~~~\n"
        + "".join(f"row {i}\n" for i in range(700))
        + "~~~\n</details>\n</details>\n",
        1200,
    ),
    "four-backtick fence holding a three-backtick line": (
        "````md\n"
        + "".join("```\ninside\n" if i % 50 == 0 else f"text {i}\n" for i in range(900))
        + "````\n",
        1500,
    ),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_every_part_fits_and_is_balanced(name: str) -> None:
    body, limit = CASES[name]
    parts = split_comment(body, limit=limit, max_comments=None)
    assert len(parts) > 1
    for index, part in enumerate(parts):
        assert comment_length(part) <= limit
        assert len(part) <= limit
        assert fences_balanced(part), f"part {index} leaves a fence open"
        assert details_balanced(part), f"part {index} leaves <details> open"
        if index > 0:
            assert part.startswith(CONTINUED_HEADER)
        if index < len(parts) - 1:
            assert part.endswith(CONTINUED_NOTICE)
    assert not parts[-1].endswith(CONTINUED_NOTICE)


@pytest.mark.parametrize("name", sorted(CASES))
def test_no_content_is_lost_or_reordered(name: str) -> None:
    body, limit = CASES[name]
    parts = split_comment(body, limit=limit, max_comments=None)
    # Every original line appears, in order, across the parts (a hard cut may split one line).
    joined = "".join(parts)
    position = 0
    for line in body.split("\n"):
        if not line or len(line) > limit // 2:
            continue
        found = joined.find(line, position)
        assert found >= 0, f"lost {line!r}"
        position = found + len(line)


def test_fences_and_details_are_reopened_with_their_opening_text() -> None:
    parts = split_comment(plan_output(800), limit=2000, max_comments=None)
    second = parts[1][len(CONTINUED_HEADER) :]
    assert second.startswith("<details><summary>Show Output</summary>\n\n```diff\n+ resource")


def test_a_short_body_is_one_untouched_comment() -> None:
    assert split_comment("Plan: 1 to add.") == ["Plan: 1 to add."]
    exactly = "y" * MAX_COMMENT_LENGTH
    assert split_comment(exactly) == [exactly]


def test_the_default_limit_is_githubs() -> None:
    parts = split_comment(plan_output(5000), max_comments=None)
    assert len(parts) > 1
    assert all(comment_length(part) <= MAX_COMMENT_LENGTH for part in parts)


def test_emoji_count_double_so_parts_fit_however_github_counts() -> None:
    body = "🚀" * 3000
    assert comment_length(body) == 6000
    parts = split_comment(body, limit=1000, max_comments=None)
    assert all(len(part.encode("utf-16-le")) // 2 <= 1000 for part in parts)
    assert "".join(parts).count("🚀") == 3000


def test_lines_are_cut_at_line_breaks_when_possible() -> None:
    body = "".join(f"line {i:04}\n" for i in range(1000))
    for part in split_comment(body, limit=800, max_comments=None)[:-1]:
        content = part.removeprefix(CONTINUED_HEADER).removesuffix(CONTINUED_NOTICE)
        assert content.endswith("\n")
        assert all(re.fullmatch(r"line \d{4}", line) for line in content.strip("\n").split("\n"))


@pytest.mark.parametrize("max_comments", [1, 2, 3, 5])
def test_too_many_parts_keep_the_end_with_a_note(max_comments: int) -> None:
    body = plan_output(3000)
    parts = split_comment(body, limit=3000, max_comments=max_comments)
    assert len(parts) == max_comments
    assert "left out" in parts[0] and f"{max_comments} comments" in parts[0]
    assert parts[-1].endswith("Plan: 3000 to add, 0 to change, 0 to destroy.\n")
    for part in parts:
        assert comment_length(part) <= 3000
        assert fences_balanced(part) and details_balanced(part)
    # The kept part reopens the block it starts in, and starts at a line boundary.
    assert "<details><summary>Show Output</summary>\n\n```diff\n+ resource" in parts[0]
    # Only the beginning is dropped: everything after the first kept line is there.
    first_kept = re.search(r'"r(\d+)"', parts[0])
    assert first_kept is not None
    joined = "".join(parts)
    for i in range(int(first_kept.group(1)), 3000):
        assert f'"r{i}"' in joined


def test_custom_notices_from_templates_are_used() -> None:
    parts = split_comment(
        "z\n" * 600,
        limit=300,
        max_comments=2,
        continued_notice="\n(more below)",
        continued_header="(continued)\n",
        truncated_header="(first {omitted_lines} lines hidden, max {max_comments})\n",
    )
    assert parts[0].startswith("(first ") and parts[0].endswith("(more below)")
    assert parts[1].startswith("(continued)\n")


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"limit": 0}, "positive"),
        ({"max_comments": 0}, "at least 1"),
        ({"limit": 50}, "too small"),
    ],
)
def test_bad_parameters_are_refused(kwargs: dict[str, int], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        split_comment("a\n" * 1000, **kwargs)
