"""Running one stage of a project: a plan's or an apply's operations, in order (the I/O half of
workflows; what runs, in which order, is :mod:`bot.adapters.terraform_cli.sequence`).

Every command goes through the runner, so a workflow's ``run`` and ``env`` commands are confined,
streamed, timed out and stopped exactly like Terraform. The first failing operation ends the
stage with its reason; a plan stage that failed leaves no plan file behind.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from bot.adapters.terraform_cli.arguments import step_failure, var_files_problem
from bot.adapters.terraform_cli.plan_summary import PlanJSONError, PlanSummary, parse_plan_json
from bot.adapters.terraform_cli.results import (
    ApplyResult,
    OnLine,
    PlanResult,
    RunContext,
    Step,
    StepResult,
)
from bot.adapters.terraform_cli.sequence import Operation, run_variables, showfile_for, terraform_args

_SHOWN_COMMAND_CHARS = 80


class Commands(Protocol):
    """What a stage needs of :class:`~bot.adapters.terraform_cli.runner.TerraformRunner`."""

    async def run(
        self,
        step: Step,
        args: Sequence[str],
        *,
        cwd: Path,
        on_line: OnLine | None = None,
        timeout: float | None = None,
        workspace: str | None = None,
        forward_stdout: bool = True,
        root: Path | None = None,
        env: Mapping[str, str] | None = None,
    ) -> StepResult: ...

    async def shell(
        self,
        step: Step,
        command: str,
        *,
        cwd: Path,
        env: Mapping[str, str],
        on_line: OnLine | None = None,
        forward_stdout: bool = True,
        root: Path | None = None,
    ) -> StepResult: ...

    async def init(
        self,
        directory: Path,
        *,
        on_line: OnLine | None = None,
        root: Path | None = None,
        args: Sequence[str] = (),
        env: Mapping[str, str] | None = None,
    ) -> StepResult: ...

    async def select_workspace(
        self,
        directory: Path,
        workspace: str,
        *,
        create: bool = True,
        on_line: OnLine | None = None,
        root: Path | None = None,
        env: Mapping[str, str] | None = None,
    ) -> StepResult: ...

    async def show_plan(
        self,
        directory: Path,
        planfile: Path,
        *,
        workspace: str,
        root: Path | None = None,
        env: Mapping[str, str] | None = None,
    ) -> StepResult: ...


@dataclass(frozen=True)
class Place:
    """Where a stage runs (paths resolved) and for whom."""

    directory: Path
    root: Path  # the work tree the sandbox may write
    workspace: str
    planfile: Path
    on_line: OnLine | None = None
    context: RunContext | None = None


def _shown(command: str) -> str:
    first = command.strip().splitlines()[0] if command.strip() else command
    return first if len(first) <= _SHOWN_COMMAND_CHARS else first[: _SHOWN_COMMAND_CHARS - 1] + "…"


@dataclass
class _Stage:
    commands: Commands
    place: Place
    variables: dict[str, str]
    env: dict[str, str] = field(default_factory=dict)  # set by the workflow's env steps so far
    steps: list[StepResult] = field(default_factory=list)

    def _ran(self, result: StepResult, what: str) -> str | None:
        self.steps.append(result)
        return None if result.ok else step_failure(what, result)

    async def common(self, operation: Operation) -> str | None:
        """Run an init, workspace, run or env operation; why it failed, or None."""
        commands, place = self.commands, self.place
        on_line, root = place.on_line, place.root
        if operation.step == "init":
            result = await commands.init(
                place.directory, args=operation.args, env=self.env, on_line=on_line, root=root
            )
            return self._ran(result, "terraform init")
        if operation.step == "workspace":
            result = await commands.select_workspace(
                place.directory, place.workspace, create=operation.create, env=self.env, on_line=on_line,
                root=root,
            )  # fmt: skip
            return self._ran(result, f"selecting workspace {place.workspace!r}")
        if operation.step == "env" and operation.value is not None:
            self.env[operation.name] = operation.value
            return None
        # The bot's variables last: a workflow cannot shadow them (its env names are checked too).
        env = {**self.env, **self.variables}
        if operation.step == "run":
            result = await commands.shell(
                "run", operation.command, cwd=place.directory, env=env, on_line=on_line, root=root
            )
            return self._ran(result, f"the run step `{_shown(operation.command)}`")
        # An env command's stdout is the value (a token, at times): kept out of the log and output.
        result = await commands.shell(
            "env", operation.command, cwd=place.directory, env=env, forward_stdout=False,
            on_line=on_line, root=root,
        )  # fmt: skip
        problem = self._ran(result, f"the env step setting {operation.name}")
        if problem is None:
            self.env[operation.name] = result.stdout.strip()
        return problem


async def run_plan(commands: Commands, operations: Sequence[Operation], place: Place) -> PlanResult:
    """Plan to ``place.planfile`` as ``operations`` say and summarise it (``show -json``)."""
    planfile, showfile = place.planfile, showfile_for(place.planfile)
    # A stale plan must never be applied in place of this one, even if this plan fails.
    planfile.unlink(missing_ok=True)
    variables = run_variables(
        directory=place.directory, root=place.root, workspace=place.workspace, planfile=planfile,
        showfile=showfile, context=place.context,
    )  # fmt: skip
    stage = _Stage(commands, place, variables)

    def failed(message: str) -> PlanResult:
        planfile.unlink(missing_ok=True)
        showfile.unlink(missing_ok=True)
        return PlanResult(place.directory, place.workspace, False, None, None, tuple(stage.steps), message)

    problem = var_files_problem(place.directory, terraform_args(operations))
    if problem is not None:
        return failed(problem)
    has_changes, summary = False, None
    for index, operation in enumerate(operations):
        if operation.step == "plan":
            plan = await _plan(stage, operation)
            # -detailed-exitcode: 0 no changes, 2 changes (a success), anything else an error.
            if plan.timed_out or plan.exit_code not in (0, 2):
                return failed(step_failure("terraform plan", plan))
            has_changes = plan.exit_code == 2
        elif operation.step == "show":
            shown = await _show(stage, later_shell=_shell_after(operations, index))
            if isinstance(shown, str):
                return failed(shown)
            summary = shown
        elif (problem := await stage.common(operation)) is not None:
            return failed(problem)
    return PlanResult(place.directory, place.workspace, has_changes, planfile, summary, tuple(stage.steps))


def _shell_after(operations: Sequence[Operation], index: int) -> bool:
    return any(operation.step in ("run", "env") for operation in operations[index + 1 :])


async def _plan(stage: _Stage, operation: Operation) -> StepResult:
    place = stage.place
    args = [
        "plan",
        "-input=false",
        "-no-color",
        f"-out={place.planfile}",
        "-detailed-exitcode",
        *operation.args,
    ]
    result = await stage.commands.run(
        "plan", args, cwd=place.directory, on_line=place.on_line, workspace=place.workspace,
        root=place.root, env=stage.env,
    )  # fmt: skip
    stage.steps.append(result)
    return result


async def _show(stage: _Stage, *, later_shell: bool) -> PlanSummary | str:
    """The plan's summary from ``show -json`` (written to ``$SHOWFILE`` when a later step may
    read it), or why there is none."""
    place = stage.place
    show = await stage.commands.show_plan(
        place.directory, place.planfile, workspace=place.workspace, root=place.root, env=stage.env
    )
    stage.steps.append(show)
    if not show.ok:
        return step_failure("terraform show -json", show)
    try:
        summary = parse_plan_json(show.stdout)
    except PlanJSONError as error:
        return f"could not read the saved plan: {error}"
    if later_shell:
        showfile_for(place.planfile).write_text(show.stdout, encoding="utf-8")
    return summary


async def run_apply(commands: Commands, operations: Sequence[Operation], place: Place) -> ApplyResult:
    """Apply the saved ``place.planfile`` (and nothing else) as ``operations`` say."""
    planfile = place.planfile

    def ended(steps: Sequence[StepResult], error: str | None) -> ApplyResult:
        return ApplyResult(place.directory, place.workspace, planfile, tuple(steps), error=error)

    if not planfile.is_file():
        return ended((), f"there is no saved plan at {planfile}; plan first")
    problem = var_files_problem(place.directory, terraform_args(operations))
    if problem is not None:
        return ended((), problem)
    variables = run_variables(
        directory=place.directory, root=place.root, workspace=place.workspace, planfile=planfile,
        showfile=None, context=place.context,
    )  # fmt: skip
    stage = _Stage(commands, place, variables)
    for operation in operations:
        if operation.step == "apply":
            args = ["apply", "-input=false", "-no-color", *operation.args, str(planfile)]
            result = await commands.run(
                "apply", args, cwd=place.directory, on_line=place.on_line, workspace=place.workspace,
                root=place.root, env=stage.env,
            )  # fmt: skip
            problem = stage._ran(result, "terraform apply")
        else:
            problem = await stage.common(operation)
        if problem is not None:
            return ended(stage.steps, problem)
    return ended(stage.steps, None)


__all__ = ["Commands", "Place", "run_apply", "run_plan"]
