"""What GitHub makes of the bot's Markdown: rendered by a GitHub-flavoured renderer (markdown-it-py
with GFM tables), the class of mistakes a reader sees but a string comparison does not."""

from __future__ import annotations

from markdown_it import MarkdownIt

_GFM = MarkdownIt("commonmark").enable(["table", "strikethrough"])


def swallowed_lines(markdown: str) -> list[str]:
    """Lines a table took as rows although they have no cell separator: GFM continues a table
    until a blank line, so a sentence right after one becomes a row of it."""
    lines = markdown.splitlines()
    swallowed = []
    for token in _GFM.parse(markdown):
        if token.type == "tr_open" and token.map is not None:
            line = lines[token.map[0]]
            if "|" not in line:
                swallowed.append(line)
    return swallowed


def render(markdown: str) -> str:
    return _GFM.render(markdown)


def setext_headings(markdown: str) -> list[str]:
    """Paragraphs a ``---`` (or ``===``) line right under them turned into a heading: a rule meant
    as a separator needs a blank line above it."""
    tokens = _GFM.parse(markdown)
    return [
        tokens[index + 1].content
        for index, token in enumerate(tokens)
        if token.type == "heading_open" and token.markup in ("-", "=")
    ]
