"""Terraform for pull requests: the workflow's entry points, for the handlers and commands.

``plan`` (:mod:`bot.terraform.planning`) and ``apply`` (:mod:`bot.terraform.applying`, each saved
plan judged by the pure :mod:`bot.terraform.apply_gate`) run in a work tree at the pull request's
head; saved plans and their files are :mod:`bot.terraform.store`'s, locks are
:mod:`bot.terraform.locks`'s; what the pull request is told (one comment per command, split at
65,536 characters, commit statuses ``gitops-bot/plan`` and ``gitops-bot/apply``) is
:mod:`bot.terraform.reporting`'s. ``unlock`` and the end of a pull request are here; ``approve_policies`` is
:mod:`bot.terraform.policy_checks`'s.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from bot.terraform.applying import apply_pull_request
from bot.terraform.locks import LockInfo
from bot.terraform.planning import plan_pull_request
from bot.terraform.policy_checks import approve_policies
from bot.terraform.results import ProjectResult
from bot.terraform.store import plan_store

if TYPE_CHECKING:
    from bot.services import Services

__all__ = [
    "ProjectResult",
    "apply_pull_request",
    "approve_policies",
    "plan_pull_request",
    "release_pull_request",
    "unlock_one",
    "unlock_pull_request",
]


def unlock_pull_request(services: Services, *, repo: str, number: int) -> list[LockInfo]:
    """``unlock``: release the pull request's locks and discard its plans (as Atlantis does)."""
    released = services.locks.release_pull(repo, number)
    plan_store(services).discard_pull(repo, number)
    return released


def unlock_one(services: Services, lock_id: int) -> LockInfo | None:
    """``unlock`` for one lock (the console's): release it and discard the plan it guarded; None
    when it was no longer held."""
    released = services.locks.release(lock_id)
    if released is not None:
        key = released.key
        plan_store(services).discard_target(
            key.repo, released.pr_number, dir=key.dir, workspace=key.workspace, project=key.project
        )
    return released


def release_pull_request(services: Services, *, repo: str, number: int) -> list[LockInfo]:
    """The pull request merged or closed."""
    return unlock_pull_request(services, repo=repo, number=number)
