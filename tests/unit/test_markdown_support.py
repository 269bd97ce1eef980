"""The GitHub-flavoured check the flows' tests apply to every body and comment the bot writes."""

from __future__ import annotations

from tests.support.markdown import render, swallowed_lines


def test_a_sentence_right_after_a_table_is_swallowed_and_caught() -> None:
    broken = "| a | b |\n| --- | --- |\n| 1 | 2 |\nAn interval with fewer requests is inconclusive.\n"
    assert swallowed_lines(broken) == ["An interval with fewer requests is inconclusive."]
    assert "<td>An interval" in render(broken)
    fixed = broken.replace("| 1 | 2 |\n", "| 1 | 2 |\n\n")
    assert swallowed_lines(fixed) == [] and "<p>An interval" in render(fixed)
