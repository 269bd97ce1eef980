"""Every body and comment the bot posts on the forge, rendered with the context its workflow gives
it, then through a GitHub-flavoured Markdown renderer: a table ends at its last row and the text
after it is a paragraph, never one more row (GFM continues a table until a blank line); a ``---``
meant as a rule never turns the paragraph above it into a heading.

A template added under ``commands/``, ``deployments/``, ``terraform/`` or ``updates/`` without a
case in ``posted_deployments`` or ``posted_terraform`` fails ``test_every_posted_template_has_a_case``."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.markdown import render, setext_headings, swallowed_lines
from tests.unit.posted_deployments import DEPLOYMENT_CASES, TEMPLATES
from tests.unit.posted_ladder import LADDER_CASES, LADDER_VARIANTS
from tests.unit.posted_terraform import TERRAFORM_CASES

FORGE_FOLDERS = ("commands", "deployments", "terraform", "updates")
CASES = {**DEPLOYMENT_CASES, **TERRAFORM_CASES, **LADDER_CASES}
VARIANTS = {**CASES, **{f"{name} (steps)": case for name, case in LADDER_VARIANTS.items()}}

# Where a table is followed by text: the text that must open the paragraph right after the table.
AFTER_A_TABLE = [
    ("updates/pr_body.md.j2", 0, "An interval with fewer than 20 requests is inconclusive"),
    ("updates/pr_body.md.j2", 1, "An interval with fewer than 1 requests is inconclusive"),
    ("deployments/canary_started.md.j2", 0, "2 failed intervals in a row fail it"),
    ("deployments/status.md.j2", 0, "<strong>#42: locks held:</strong>"),
    ("deployments/rollback_pr_body.md.j2", 0, "<strong>Interval 2</strong>"),
]


def posted_templates() -> list[str]:
    root = Path(TEMPLATES.loader.searchpath[0])  # type: ignore[union-attr]
    return sorted(
        path.relative_to(root).as_posix()
        for folder in FORGE_FOLDERS
        for path in (root / folder).glob("*.md.j2")
    )


def test_every_posted_template_has_a_case() -> None:
    assert sorted(CASES) == posted_templates()


@pytest.mark.parametrize("name", sorted(VARIANTS))
def test_no_line_is_swallowed_by_a_table_nor_a_paragraph_made_a_heading(name: str) -> None:
    for text in VARIANTS[name]():
        assert text.strip(), f"{name} rendered nothing"
        assert swallowed_lines(text) == [], text
        assert setext_headings(text) == [], text


@pytest.mark.parametrize(("name", "case", "paragraph"), AFTER_A_TABLE)
def test_the_text_after_a_table_is_a_paragraph(name: str, case: int, paragraph: str) -> None:
    html = render(CASES[name]()[case])
    assert f"</table>\n<p>{paragraph}" in html, html
