"""The first start on the local forge: with no GitOps repository configured, ``gitops-bot serve``
creates ``local/gitops`` from the example repository the bot ships (once) and uses it, so that a
registry push opens a pull request one can see, merge and watch."""

from __future__ import annotations

from dataclasses import dataclass

from bot.settings import Settings
from bot.shipped import EXAMPLES, shipped_directory

EXAMPLE_REPO = "local/gitops"


@dataclass(frozen=True)
class Seeded:
    settings: Settings
    created: bool  # the repository was made now (False: it was there from an earlier start)


def with_example_repository(settings: Settings) -> Seeded | None:
    """``settings`` using ``local/gitops`` (created from the example when missing); None when the
    forge is not local or a GitOps repository is configured."""
    if settings.effective_forge != "local" or settings.gitops_repos:
        return None
    # Here, not at the top: `gitops-bot pr` names EXAMPLE_REPO in its help without loading git.
    from bot.adapters.forge.local.repos import LocalRepos

    repos = LocalRepos(settings.local_repos_dir)
    created = False
    if not repos.exists(EXAMPLE_REPO):
        example = shipped_directory(EXAMPLES) / "gitops-repo"
        repos.create(EXAMPLE_REPO, example, message="The example GitOps repository")
        created = True
    return Seeded(settings.model_copy(update={"gitops_repos": [EXAMPLE_REPO]}), created)
