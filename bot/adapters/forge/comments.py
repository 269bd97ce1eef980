"""Splitting command output that is longer than one GitHub comment allows (pure).

Atlantis's ``SplitComment`` cuts the text every ``max - len(sepEnd) - len(sepStart)`` bytes
and wraps the pieces in a fixed continuation footer and header. This does the same job but
keeps each part valid Markdown on its own:

* the cut goes after a line break when one is near, instead of mid-line;
* a ``` / ~~~ code fence or ``<details>`` block open at the cut is closed at the end of the
  part and opened again (same info string, same summary) at the start of the next one;
* every part but the last ends with a continuation notice, every part but the first starts
  with "Continued from previous comment";
* at most ``max_comments`` parts are produced. When more would be needed the **end** of the
  output is kept, since Terraform prints its summary last, and the first part says that the
  beginning was left out.

Lengths are counted in UTF-16 code units, which is never less than the number of characters,
so a part that fits by this measure fits GitHub's 65,536-character limit however GitHub counts.
The notices are parameters so the caller can pass text rendered from templates.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from bot.adapters.forge.port import MAX_COMMENT_LENGTH, Comment, Forge

DEFAULT_MAX_COMMENTS = 5

CONTINUED_NOTICE = (
    "\n\n> [!NOTE]\n> The output is longer than one comment allows. Continued in the next comment."
)
CONTINUED_HEADER = "Continued from previous comment.\n\n"
TRUNCATED_HEADER = (
    "> [!WARNING]\n> The output is too long for {max_comments} comments: its first {omitted_lines} lines "
    "are left out and only the end, where the summary is, is shown.\n\n"
)

# A CommonMark fence: up to three spaces, then three or more backticks or tildes.
_FENCE = re.compile(r"^ {0,3}(?P<marker>`{3,}|~{3,})(?P<info>[^\n]*)$")
_DETAILS_TAG = re.compile(r"<details\b[^>]*>(?:\s*<summary\b[^>]*>.*?</summary\s*>)?|</details\s*>", re.I)
# When capping, a start inside a line moves to the next line start if one is this close.
_SNAP_TO_LINE = 2_000


def comment_length(text: str) -> int:
    """Length in UTF-16 code units: characters outside the BMP (emoji) count twice."""
    return len(text) + sum(1 for char in text if ord(char) > 0xFFFF)


@dataclass(frozen=True)
class _Block:
    kind: str  # "fence" | "details"
    opener: str  # text that opens the block again in the next part
    marker: str = ""  # for a fence: the run of backticks or tildes that opened it


@dataclass(frozen=True)
class _State:
    blocks: tuple[_Block, ...] = ()
    # False when the text so far ends inside a line: the rest of that line is not a line start,
    # so it can never be a fence marker.
    at_line_start: bool = True

    @property
    def in_fence(self) -> bool:
        return bool(self.blocks) and self.blocks[-1].kind == "fence"


def _apply_line(blocks: list[_Block], line: str, *, whole_line: bool) -> None:
    """Update the open blocks for one line (without its line break)."""
    if whole_line:
        match = _FENCE.match(line)
        if match:
            marker = match.group("marker")
            if blocks and blocks[-1].kind == "fence":
                opened = blocks[-1].marker
                if marker[0] == opened[0] and len(marker) >= len(opened) and not match.group("info").strip():
                    blocks.pop()
                return
            if not (marker[0] == "`" and "`" in match.group("info")):
                blocks.append(_Block("fence", line.lstrip(" "), marker))
                return
    if blocks and blocks[-1].kind == "fence":
        return
    for tag in _DETAILS_TAG.finditer(line):
        if tag.group(0).startswith("</"):
            for index in range(len(blocks) - 1, -1, -1):
                if blocks[index].kind == "details":
                    del blocks[index]
                    break
        else:
            blocks.append(_Block("details", tag.group(0)))


def _scan(state: _State, text: str) -> _State:
    blocks = list(state.blocks)
    at_line_start = state.at_line_start
    lines = text.split("\n")
    for index, line in enumerate(lines):
        complete = index < len(lines) - 1
        if not complete and not line:
            break
        _apply_line(blocks, line.rstrip("\r"), whole_line=at_line_start and complete)
        at_line_start = complete
    return _State(tuple(blocks), at_line_start)


def _reopeners(state: _State) -> str:
    parts = []
    for block in state.blocks:
        parts.append(block.opener + ("\n\n" if block.kind == "details" else "\n"))
    return "".join(parts)


def _closers(state: _State, chunk: str) -> str:
    if not state.blocks:
        return ""
    closing = [block.marker if block.kind == "fence" else "</details>" for block in reversed(state.blocks)]
    lead = "" if chunk.endswith("\n") else "\n"
    return lead + "\n".join(closing)


def _fit(text: str, start: int, budget: int) -> int:
    """The largest end such that text[start:end] measures at most ``budget``."""
    end = min(len(text), start + max(budget, 0))
    while end > start:
        over = comment_length(text[start:end]) - budget
        if over <= 0:
            break
        # Each character is one or two units: dropping over // 2 never drops too many.
        end -= max(1, over // 2)
    return max(end, start)


def _split_from(
    text: str,
    start: int,
    state: _State,
    first_header: str,
    *,
    limit: int,
    notice: str,
    header: str,
) -> list[str]:
    parts: list[str] = []
    position = start
    prefix_header = first_header
    while True:
        prefix = prefix_header + _reopeners(state)
        rest = text[position:]
        if comment_length(prefix) + comment_length(rest) <= limit:
            parts.append(prefix + rest)
            return parts
        budget = limit - comment_length(prefix) - comment_length(notice)
        while True:
            if budget <= 0:
                raise ValueError(f"a comment limit of {limit} is too small for the continuation notices")
            end = _fit(text, position, budget)
            newline = text.rfind("\n", position, end)
            # Prefer a cut after a line break unless that wastes more than half the space.
            if newline >= 0 and newline + 1 - position > (end - position) // 2:
                end = newline + 1
            if end <= position:
                raise ValueError(f"a comment limit of {limit} is too small for the continuation notices")
            chunk = text[position:end]
            end_state = _scan(state, chunk)
            part = prefix + chunk + _closers(end_state, chunk) + notice
            over = comment_length(part) - limit
            if over <= 0:
                break
            budget -= over
        parts.append(part)
        position = end
        state = end_state
        prefix_header = header


def split_comment(
    body: str,
    *,
    limit: int = MAX_COMMENT_LENGTH,
    max_comments: int | None = DEFAULT_MAX_COMMENTS,
    continued_notice: str = CONTINUED_NOTICE,
    continued_header: str = CONTINUED_HEADER,
    truncated_header: str = TRUNCATED_HEADER,
) -> list[str]:
    """Cut ``body`` into comments of at most ``limit`` (UTF-16 units), at most ``max_comments`` of them.

    ``truncated_header`` may use ``{max_comments}`` and ``{omitted_lines}``.
    """
    if limit <= 0:
        raise ValueError("the comment limit must be positive")
    if max_comments is not None and max_comments < 1:
        raise ValueError("max_comments must be at least 1")
    if comment_length(body) <= limit:
        return [body]

    def split_at(start: int) -> list[str]:
        if start == 0:
            return _split_from(
                body, 0, _State(), "", limit=limit, notice=continued_notice, header=continued_header
            )
        first = truncated_header.format(max_comments=max_comments, omitted_lines=body.count("\n", 0, start))
        return _split_from(
            body,
            start,
            _scan(_State(), body[:start]),
            first,
            limit=limit,
            notice=continued_notice,
            header=continued_header,
        )

    parts = split_at(0)
    if max_comments is None or len(parts) <= max_comments:
        return parts
    return _keep_the_end(body, split_at, max_comments=max_comments, limit=limit)


def _keep_the_end(
    body: str, split_at: Callable[[int], list[str]], *, max_comments: int, limit: int
) -> list[str]:
    """The parts of the shortest tail of ``body`` that fits in ``max_comments`` comments."""
    # The smallest start whose tail fits in max_comments parts. Dropping text from the front
    # never needs more parts, so a binary search over the start offset finds it.
    low, high = 1, len(body)
    best = split_at(high)
    if len(best) > max_comments:
        raise ValueError(f"a comment limit of {limit} is too small for the truncation notice")
    while low < high:
        middle = (low + high) // 2
        candidate = split_at(middle)
        if len(candidate) <= max_comments:
            high, best = middle, candidate
        else:
            low = middle + 1
    start = high
    # Start at a line boundary when one is close, so the first kept line is whole.
    if start > 0 and body[start - 1] != "\n":
        newline = body.find("\n", start, start + _SNAP_TO_LINE)
        if newline >= 0:
            snapped = split_at(newline + 1) if newline + 1 < len(body) else None
            if snapped is not None and len(snapped) <= max_comments:
                best = snapped
    return best


def post_comment(
    forge: Forge,
    repo: str,
    number: int,
    body: str,
    *,
    max_comments: int | None = DEFAULT_MAX_COMMENTS,
) -> list[Comment]:
    """Post ``body`` on PR/issue ``number``, split as :func:`split_comment` cuts it (in order), at
    the forge's own limit (``max_comment_length``, GitHub's when it names none)."""
    limit = int(getattr(forge, "max_comment_length", MAX_COMMENT_LENGTH))
    return [
        forge.create_comment(repo, number, part)
        for part in split_comment(body, limit=limit, max_comments=max_comments)
    ]
