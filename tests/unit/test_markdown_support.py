"""The GitHub-flavoured check the flows' tests apply to every body and comment the bot writes."""

from __future__ import annotations

from tests.support.markdown import render, setext_headings, swallowed_lines


def test_a_sentence_right_after_a_table_is_swallowed_and_caught() -> None:
    broken = "| a | b |\n| --- | --- |\n| 1 | 2 |\nAn interval with fewer requests is inconclusive.\n"
    assert swallowed_lines(broken) == ["An interval with fewer requests is inconclusive."]
    assert "<td>An interval" in render(broken)
    fixed = broken.replace("| 1 | 2 |\n", "| 1 | 2 |\n\n")
    assert swallowed_lines(fixed) == [] and "<p>An interval" in render(fixed)


def test_a_rule_right_under_a_paragraph_makes_it_a_heading_and_is_caught() -> None:
    broken = "Supersedes #40 (1.3.0).\n---\n<sub>Opened by gitops-bot.</sub>\n"
    assert setext_headings(broken) == ["Supersedes #40 (1.3.0)."]
    assert setext_headings(broken.replace("\n---", "\n\n---")) == []
