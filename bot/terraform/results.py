"""What a ``plan`` or ``apply`` came to for one project, and the one-line headlines the comments
show: plain data and pure functions, shared by planning, applying and reporting."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from bot.terraform.locks import LockInfo
from bot.terraform.projects import ProjectTarget

if TYPE_CHECKING:
    from bot.adapters.terraform_cli.plan_summary import PlanSummary
    from bot.config import RepoConfig

# not_run: an earlier execution_order_group failed and abort_on_execution_order_fail is set.
Status = Literal["planned", "no_changes", "failed", "locked", "applied", "apply_failed", "refused", "not_run"]

# The statuses a command counts as done: the commit status is green only when every project is.
PLANNED: frozenset[Status] = frozenset({"planned", "no_changes", "applied"})
APPLIED: frozenset[Status] = frozenset({"applied", "no_changes"})


@dataclass(frozen=True)
class TerraformRequest:
    """One ``plan`` or ``apply`` on a pull request: who asked, and which projects (None: every one)."""

    repo: str
    number: int
    requested_by: str
    config: RepoConfig | None
    installation_id: int | None = None
    project: str | None = None
    directory: str | None = None
    workspace: str | None = None
    extra_args: tuple[str, ...] = ()
    executable: str = "/gitops"  # how the user called the bot, for the commands the reply suggests


@dataclass(frozen=True)
class ProjectResult:
    target: ProjectTarget
    status: Status
    headline: str
    output: str = ""
    lock: LockInfo | None = None
    policy_lines: tuple[str, ...] = ()  # the plan comment's ❌/⚠️ lines of its policy checks
    run_id: int | None = None  # its Terraform run on the console (bot.terraform.runs)

    @property
    def ok(self) -> bool:
        return self.status in PLANNED


def plan_headline(summary: PlanSummary | None) -> str:
    if summary is None:
        return ""
    if not summary.has_changes:
        return "No changes. Your infrastructure matches the configuration."
    return f"Plan: {summary.add} to add, {summary.change} to change, {summary.destroy} to destroy."


_APPLY_COMPLETE = re.compile(r"Apply complete! Resources: .*")


def apply_headline(output: str) -> str:
    found = _APPLY_COMPLETE.findall(output)
    return found[-1].strip() if found else "Apply complete."
