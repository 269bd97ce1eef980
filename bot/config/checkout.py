"""``gitops-bot check-config --repo DIR``: what a config names must exist in the checkout it lives
in: every deployment's target files, the key or variable each target addresses (found by the same
editors the bot edits with), the canary's weight_target, and every Terraform project's directory.
Pure: the checkout is read through the two callables given.
"""

from __future__ import annotations

from collections.abc import Callable

from bot.config.schema import Deployment, RepoConfig
from bot.edits import EditError, apply_edit

Loc = tuple[str | int, ...]
# A value every editor accepts where a version goes: the edit is made in memory and thrown away.
PROBE = "0.0.0-check"


def checkout_problems(
    config: RepoConfig, read: Callable[[str], str | None], is_dir: Callable[[str], bool]
) -> list[tuple[Loc, str]]:
    """(where in the config, what is wrong) for every target and project the checkout lacks.

    ``read(path)``: the file's text, None when there is no such regular file; ``is_dir(path)``."""
    problems: list[tuple[Loc, str]] = []
    for d, deployment in enumerate(config.deployments):
        for t, target in enumerate(deployment.targets):
            where: Loc = ("deployments", d, "targets", t)
            text = read(target.file)
            if text is None:
                problems.append(((*where, "file"), f"{target.file} does not exist in the checkout"))
                continue
            try:
                apply_edit(target.file, text, target, PROBE)
            except EditError as error:  # missing, or a mapping or an expression no version can replace
                key = "key" if target.key is not None else "variable"
                problems.append(((*where, key), f"{deployment.name}: {error}"))
        problems.extend(_weight_problems(d, deployment, read))
    for p, project in enumerate(config.projects):
        if not is_dir(project.dir):
            problems.append((("projects", p, "dir"), f"{project.dir} is not a directory in the checkout"))
    return problems


def _weight_problems(
    d: int, deployment: Deployment, read: Callable[[str], str | None]
) -> list[tuple[Loc, str]]:
    """The canary's weight_target must exist and hold a value the ladder can write a weight over."""
    from bot.deployments.ladder import ladder_from_config, shadow_location, weight_problem

    canary = deployment.canary
    ladder = ladder_from_config(canary) if canary is not None else None
    if ladder is None:
        return []
    problems: list[tuple[Loc, str]] = []
    problem = weight_problem(read(ladder.target.file), ladder.target)
    if problem is not None:
        problems.append((("deployments", d, "canary", "weight_target"), f"{deployment.name}: {problem}"))
    mirror = shadow_location(canary)
    if mirror is not None:
        problem = weight_problem(read(mirror.file), mirror, "the shadow's weight_target")
        if problem is not None:
            where: Loc = ("deployments", d, "canary", "shadow", "weight_target")
            problems.append((where, f"{deployment.name}: {problem} (without it the shadow stage is skipped)"))
    return problems
