"""Policy sets in ``.gitops-bot.yaml``: Rego files from the repository's default branch, checked
against every plan of the projects they name (Atlantis's ``policies:`` / conftest step)."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from bot.config.fields import Name, ProjectName, RelativePath, StrictModel


class Policy(StrictModel):
    """One policy set: every ``.rego`` file under ``paths`` (files or folders), package ``main``."""

    name: Name
    paths: Annotated[tuple[RelativePath, ...], Field(min_length=1)]
    projects: tuple[ProjectName, ...] = ()
    """The projects it checks; empty: every project."""

    def applies_to(self, project: str) -> bool:
        return not self.projects or project in self.projects
