"""A GitHub stand-in with one GitOps repository, and the real PyGithub adapter pointed at it."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.adapters.forge.github import GitHubForge, GitHubForgeFactory
from tests.support.github_standin import GitHubStandIn
from tests.support.requirements import require

REPO = "acme/gitops"
TOKEN = "ghp_standin_token"
FILES = {
    "README.md": "# gitops\n",
    "apps/chat-llm/values-staging.yaml": "image:\n  tag: 1.0.0\n",
    "terraform/staging/main.tf": 'resource "null_resource" "x" {}\n',
}


def fast_factory(standin: GitHubStandIn, **overrides: object) -> GitHubForgeFactory:
    options: dict[str, object] = {
        "api_url": standin.base_url,
        "token": TOKEN,
        "timeout": 10,
        "seconds_between_writes": 0.0,
        "backoff_factor": 0.0,
        "secondary_rate_wait": 0.05,
        "max_retry_wait": 2.0,
        "mergeable_poll_interval": 0.01,
    }
    options.update(overrides)
    return GitHubForgeFactory(**options)  # type: ignore[arg-type]


@pytest.fixture
def standin(tmp_path: Path) -> Iterator[GitHubStandIn]:
    require(shutil.which("git") is not None, "the git executable")
    with GitHubStandIn(tmp_path / "github") as server:
        server.add_token(TOKEN, login="gitops-bot")
        server.create_repo(REPO, FILES)
        yield server


@pytest.fixture
def factory(standin: GitHubStandIn) -> Iterator[GitHubForgeFactory]:
    built = fast_factory(standin)
    yield built
    built.close()


@pytest.fixture
def forge(factory: GitHubForgeFactory) -> GitHubForge:
    return factory.for_installation(None)
