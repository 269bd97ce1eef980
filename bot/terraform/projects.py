"""Which Terraform projects a pull request plans: pure functions (whether one may be applied is
:mod:`bot.terraform.apply_gate`).

Atlantis's semantics: with projects in ``.gitops-bot.yaml``, a project is planned when a changed
file matches one of its ``autoplan.when_modified`` globs (relative to its ``dir``); without
configured projects, every directory holding a changed ``.tf`` file is a project of its own
(workspace ``default``). ``-p`` names a configured project; ``-d``/``-w`` name a directory and a
workspace (a configured project when one matches, else an ad-hoc one).
"""

from __future__ import annotations

import fnmatch
import posixpath
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from bot.config import RepoConfig

TERRAFORM_SUFFIXES = (".tf", ".tf.json", ".tofu", ".tfvars", ".tfvars.json")


@dataclass(frozen=True)
class ProjectTarget:
    """One (dir, workspace) to plan or apply; ``name`` is "" for an unconfigured directory."""

    name: str
    dir: str
    workspace: str = "default"
    apply_requirements: tuple[str, ...] = ()
    apply_on: str = "comment"

    @property
    def label(self) -> str:
        """How comments name it: the project name, else ``dir`` (and the workspace when not default)."""
        where = self.dir if self.workspace == "default" else f"{self.dir} ({self.workspace})"
        return self.name or where

    @property
    def key(self) -> str:
        return f"{self.name}|{self.dir}|{self.workspace}"


def _relative(path: str, directory: str) -> str | None:
    if directory in ("", "."):
        return path
    prefix = directory.rstrip("/") + "/"
    return path[len(prefix) :] if path.startswith(prefix) else None


def _matches(relative: str, patterns: Iterable[str]) -> bool:
    for pattern in patterns:
        if fnmatch.fnmatchcase(relative, pattern) or fnmatch.fnmatchcase(
            relative, pattern.removeprefix("**/")
        ):
            return True
        if pattern.startswith("**/") and fnmatch.fnmatchcase(posixpath.basename(relative), pattern[3:]):
            return True
    return False


def configured_targets(config: RepoConfig | None) -> list[ProjectTarget]:
    if config is None:
        return []
    return [
        ProjectTarget(
            project.name, project.dir, project.workspace, tuple(project.apply_requirements), project.apply_on
        )
        for project in config.projects
    ]


def modified_projects(config: RepoConfig | None, changed_files: Sequence[str]) -> list[ProjectTarget]:
    """The projects a change touches (for autoplan and for a bare ``plan``), in config order."""
    if config is not None and config.projects:
        found = []
        for project in config.projects:
            if not project.autoplan.enabled:
                continue
            relative = [r for r in (_relative(path, project.dir) for path in changed_files) if r is not None]
            if any(_matches(r, project.autoplan.when_modified) for r in relative):
                found.append(
                    ProjectTarget(
                        project.name,
                        project.dir,
                        project.workspace,
                        tuple(project.apply_requirements),
                        project.apply_on,
                    )
                )
        return found
    directories = sorted(
        {posixpath.dirname(path) or "." for path in changed_files if path.endswith(TERRAFORM_SUFFIXES)}
    )
    return [ProjectTarget("", directory) for directory in directories]


def select_targets(
    config: RepoConfig | None,
    changed_files: Sequence[str],
    *,
    project: str | None,
    directory: str | None,
    workspace: str | None,
) -> list[ProjectTarget] | str:
    """The targets a ``plan``/``apply`` command names, or a sentence saying why there are none."""
    configured = configured_targets(config)
    if project is not None:
        named = [target for target in configured if target.name == project]
        if not named:
            known = ", ".join(t.name for t in configured) or "none are configured"
            return f"no project is named `{project}` in .gitops-bot.yaml (projects: {known})"
        return named
    if directory is not None or workspace is not None:
        wanted_dir = directory if directory is not None else "."
        wanted_ws = workspace or "default"
        matching = [t for t in configured if t.dir == wanted_dir and t.workspace == wanted_ws]
        if matching:
            return matching
        if directory is None:
            matching = [t for t in modified_projects(config, changed_files) if t.workspace == wanted_ws]
            return matching or f"no modified project uses workspace `{wanted_ws}`"
        return [ProjectTarget("", wanted_dir, wanted_ws)]
    modified = modified_projects(config, changed_files)
    return (
        modified
        or "this pull request changes no Terraform project (nothing matched `autoplan.when_modified`)"
    )
