"""In which order a pull request's projects plan and apply: Atlantis's ``execution_order_group``
(pure).

Projects run group by group, the lowest number first (the default group is 0); inside a group in
the order given, side by side where the caller can (plans share the pool of
``GITOPS_BOT_TERRAFORM_MAX_PARALLEL_PLANS``; applies run one after another). With the
repository's ``abort_on_execution_order_fail``, a group in which any project did not succeed (it
failed, was locked or was refused) stops every later group: their projects are reported as not
run, naming the group that stopped them. Without it, every group runs whatever came before.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from itertools import groupby
from typing import TypeVar

from bot.config import RepoConfig
from bot.terraform.projects import ProjectTarget

T = TypeVar("T")
R = TypeVar("R")


def execution_groups(items: Sequence[T], group_of: Callable[[T], int]) -> list[tuple[int, list[T]]]:
    """``items`` by group number, lowest first; each group keeps the order of ``items``."""
    ordered = sorted(items, key=group_of)  # stable: config order within a group
    return [(number, list(members)) for number, members in groupby(ordered, key=group_of)]


def run_in_order(
    groups: Sequence[tuple[int, list[T]]],
    run: Callable[[list[T]], list[R]],
    *,
    failed: Callable[[R], bool],
    abort: bool,
    not_run: Callable[[T, int], R],
) -> list[R]:
    """Run each group (``run`` gets its members); once a group has a ``failed`` result and
    ``abort`` is set, each member of a later group becomes ``not_run(member, failed_group)``."""
    results: list[R] = []
    stopped_by: int | None = None
    for number, members in groups:
        if stopped_by is not None:
            results.extend(not_run(member, stopped_by) for member in members)
            continue
        outcome = run(members)
        results.extend(outcome)
        if abort and any(failed(result) for result in outcome):
            stopped_by = number
    return results


def group_of(config: RepoConfig | None, target: ProjectTarget) -> int:
    """The target's ``execution_order_group`` (0 for a directory no project names)."""
    project = config.project(target.name) if config is not None and target.name else None
    return project.execution_order_group if project is not None else 0


def aborts(config: RepoConfig | None) -> bool:
    return config is not None and config.abort_on_execution_order_fail


__all__ = ["aborts", "execution_groups", "group_of", "run_in_order"]
