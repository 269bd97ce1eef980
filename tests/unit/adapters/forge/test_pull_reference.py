"""A text posted on a forge names a pull request the way that forge links it: "#12" on GitHub,
"!12" on GitLab (where "#12" is issue 12 and would link there)."""

from __future__ import annotations

import pytest

from bot import reasons
from bot.adapters.forge.names import pull_reference
from bot.templating import template_environment


@pytest.mark.parametrize(
    ("repo", "expected"),
    [
        ("acme/gitops", "#12"),
        ("github:acme/gitops", "#12"),
        ("gitlab:platform/gitops", "!12"),
        ("GitLab:platform/sub/gitops", "!12"),
    ],
)
def test_the_forge_decides_the_sigil(repo: str, expected: str) -> None:
    assert pull_reference(repo, 12) == expected


def test_templates_and_reasons_use_it() -> None:
    rendered = template_environment().from_string("{{ pull_ref(repo, 7) }}")
    assert rendered.render(repo="gitlab:platform/gitops") == "!7"
    assert rendered.render(repo="acme/gitops") == "#7"
    assert reasons.draft_pull_request("gitlab:platform/gitops", 7).reason.startswith("!7 is a draft")
    assert reasons.closed_without_merge("acme/gitops", 7).reason.startswith("#7 was closed")
