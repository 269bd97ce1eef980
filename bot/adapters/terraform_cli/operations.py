"""What the Terraform flows need of a runner, wherever it runs Terraform.

:class:`bot.adapters.terraform_cli.runner.TerraformRunner` runs it here (in the sandbox, or as
a plain child process); the Kubernetes Job runner runs each plan and each apply as a Job. The
flows (plan, apply, drift) are written against this protocol only, so they do not know which.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Protocol

from bot.adapters.terraform_cli.results import ApplyResult, OnLine, PlanResult, RunContext
from bot.adapters.terraform_cli.sandbox import ExecutorStatus
from bot.adapters.terraform_cli.workflow import Workflow


class TerraformOperations(Protocol):
    binary: str

    def status(self) -> ExecutorStatus: ...

    def with_binary(self, binary: str) -> TerraformOperations:
        """The same runner for another binary (a project's pinned Terraform version)."""
        ...

    async def plan(
        self,
        directory: Path,
        *,
        workspace: str = ...,
        planfile: Path | None = None,
        extra_args: Sequence[str] = (),
        on_line: OnLine | None = None,
        root: Path | None = None,
        context: RunContext | None = None,
        workflow: Workflow | None = None,
    ) -> PlanResult:
        """The plan stage of ``workflow`` (None: init, workspace, plan, show), wherever it runs."""
        ...

    async def init_and_apply(
        self,
        directory: Path,
        planfile: Path,
        *,
        workspace: str = ...,
        extra_args: Sequence[str] = (),
        on_line: OnLine | None = None,
        root: Path | None = None,
        context: RunContext | None = None,
        workflow: Workflow | None = None,
    ) -> ApplyResult:
        """init, then the apply stage of ``workflow`` (None: workspace, apply of the saved plan)."""
        ...
