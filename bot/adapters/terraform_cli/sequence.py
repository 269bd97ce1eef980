"""The sequence one stage of a workflow runs, and what its shell commands are given (pure).

:func:`plan_operations` and :func:`apply_operations` turn a :class:`~.workflow.Workflow` (or none:
today's sequence) into :class:`Operation` s, with the implicit parts the rules of
:mod:`bot.adapters.terraform_cli.workflow` add: ``workspace`` after ``init``, ``show`` after
``plan``, the apply's ``init`` when its stage names none, and a comment's extra arguments after
the workflow's. :mod:`bot.adapters.terraform_cli.stages` runs them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from bot.adapters.terraform_cli.results import DEFAULT_WORKSPACE, RunContext, Step
from bot.adapters.terraform_cli.workflow import DEFAULT_WORKFLOW, Workflow, WorkflowStep


@dataclass(frozen=True)
class Operation:
    """One thing a stage does, in order: a Terraform command, a shell command or an env value."""

    step: Step
    args: tuple[str, ...] = ()  # init/plan/apply: the extra arguments, the comment's last
    command: str = ""  # run, and env with a command
    name: str = ""  # env: the variable
    value: str | None = None  # env: the value, when it is not a command's output
    create: bool = True  # workspace: create it when missing (plan), or not (apply)


def _operations(
    steps: Sequence[WorkflowStep], *, workspace: str, comment_args: tuple[str, ...], create: bool
) -> list[Operation]:
    sequence: list[Operation] = []
    for step in steps:
        kind = step.kind
        if kind == "init":
            sequence.append(Operation("init", step.terraform.extra_args))
            if workspace != DEFAULT_WORKSPACE:
                sequence.append(Operation("workspace", create=create))
        elif kind in ("plan", "apply"):
            sequence.append(Operation(kind, (*step.terraform.extra_args, *comment_args)))
            if kind == "plan":
                sequence.append(Operation("show"))
        elif kind == "run":
            sequence.append(Operation("run", command=step.run or ""))
        else:
            assert step.env is not None
            sequence.append(
                Operation("env", command=step.env.command or "", name=step.env.name, value=step.env.value)
            )
    return sequence


def plan_operations(
    workflow: Workflow | None, *, workspace: str, extra_args: Sequence[str] = ()
) -> tuple[Operation, ...]:
    """What a plan runs, in order; ``extra_args`` (a comment's, already checked) go to ``plan``."""
    stage = (workflow or DEFAULT_WORKFLOW).plan
    return tuple(_operations(stage.steps, workspace=workspace, comment_args=tuple(extra_args), create=True))


def apply_operations(
    workflow: Workflow | None, *, workspace: str, extra_args: Sequence[str] = (), init: bool = True
) -> tuple[Operation, ...]:
    """What an apply runs, in order. ``init=False`` (an apply in the work tree its plan was made
    in) drops the init that otherwise always comes first."""
    chosen = workflow or DEFAULT_WORKFLOW
    steps = list(chosen.apply.steps)
    if not any(step.kind == "init" for step in steps):
        steps.insert(0, WorkflowStep(init=chosen.plan.init))
    sequence = _operations(steps, workspace=workspace, comment_args=tuple(extra_args), create=False)
    if not init:
        sequence = [operation for operation in sequence if operation.step != "init"]
    return tuple(sequence)


def terraform_args(operations: Sequence[Operation]) -> tuple[str, ...]:
    """Every extra argument the sequence gives Terraform (to check its ``-var-file``s)."""
    return tuple(arg for operation in operations for arg in operation.args)


def showfile_for(planfile: Path) -> Path:
    """Where the plan's ``show -json`` is written for the steps after the plan (``$SHOWFILE``)."""
    return planfile.with_name(planfile.name + ".json")


def run_variables(
    *,
    directory: Path,
    root: Path,
    workspace: str,
    planfile: Path,
    showfile: Path | None,
    context: RunContext | None,
) -> dict[str, str]:
    """The variables of :data:`RUN_VARIABLES` a run step gets (the pull request's only with a context;
    ``PULL_NUM`` only for a pull request, not a drift check of the default branch)."""
    variables = {
        "WORKSPACE": workspace,
        "DIR": str(directory),
        "REPO_REL_DIR": directory.relative_to(root).as_posix() if directory.is_relative_to(root) else ".",
        "PLANFILE": str(planfile),
    }
    if showfile is not None:
        variables["SHOWFILE"] = str(showfile)
    if context is not None:
        owner, _, name = context.repo.partition("/")
        variables.update(
            PROJECT_NAME=context.project_name,
            HEAD_COMMIT=context.head_sha,
            BASE_REPO_OWNER=owner,
            BASE_REPO_NAME=name,
        )
        if context.number > 0:
            variables["PULL_NUM"] = str(context.number)
    return variables


__all__ = [
    "Operation",
    "apply_operations",
    "plan_operations",
    "run_variables",
    "showfile_for",
    "terraform_args",
]
