"""The checks a plan or apply makes before running anything, and how a failed step is described.

Extra arguments from comments are checked against an allowlist
(:mod:`bot.adapters.terraform_cli.safety`), and a ``-var-file`` must resolve, symlinks followed,
to a file inside the project directory.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from bot.adapters.terraform_cli.results import StepResult
from bot.adapters.terraform_cli.safety import (
    ExtraArgsRefused,
    check_extra_args,
    is_valid_workspace,
    var_file_problem,
)


def check_workspace(workspace: str) -> None:
    if not is_valid_workspace(workspace):
        raise ValueError(f"invalid Terraform workspace name {workspace!r}")


def checked_extra_args(extra_args: Sequence[str]) -> tuple[str, ...]:
    """The allowlisted arguments in their one-word form; ValueError naming the refused one."""
    checked = check_extra_args(extra_args)
    if isinstance(checked, ExtraArgsRefused):
        raise ValueError(checked.message)
    return checked


def var_files_problem(directory: Path, extra_args: Sequence[str]) -> str | None:
    """Why a ``-var-file`` among ``extra_args`` may not be used, or None when all may."""
    for arg in extra_args:
        if arg.startswith("-var-file="):
            problem = var_file_problem(directory, arg.removeprefix("-var-file="))
            if problem is not None:
                return problem
    return None


def step_failure(what: str, step: StepResult) -> str:
    """The one-line reason a failed step gives (timeout, missing binary, signal or exit code)."""
    if step.timed_out:
        return f"{what} timed out and was stopped"
    if step.exit_code == 127 and step.duration == 0.0:
        return step.output.strip()
    if step.exit_code < 0:
        return f"{what} was killed by signal {-step.exit_code}"
    return f"{what} failed with exit code {step.exit_code}"
