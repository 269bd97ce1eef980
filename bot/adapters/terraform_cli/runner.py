"""Run Terraform (or OpenTofu) the Atlantis way: init, workspace, plan to a file, show, apply that file.

A thin typed layer over ``asyncio.create_subprocess_exec``; no shell is involved in Terraform's
commands, so extra arguments from comments stay single argv words. A project's custom workflow
(:mod:`bot.adapters.terraform_cli.workflow`) adds its own ``run``/``env`` commands: those, and only
those, run with ``sh -c``, in the same executor and under the same rules. Every step:

- runs in its own process group (``start_new_session``), so a timeout or a cancelled task
  stops Terraform *and* whatever it started (providers, ``local-exec`` commands): first
  SIGINT to the group, which is Terraform's documented graceful stop (it is what Ctrl-C
  sends; providers ignore it and let Terraform wind down, releasing state locks), then
  SIGKILL to the group after a grace period. No process outlives the step.
- streams its output line by line to ``on_line(step, line)`` (the job log) while collecting it.
- has a timeout (``StepTimeouts``); a step that hits it reports ``timed_out=True``
  (:mod:`bot.adapters.terraform_cli.supervision`).

Machine output: the summary comes from ``terraform show -json <planfile>`` (Terraform's
stable JSON plan format), parsed in ``plan_summary``. ``plan`` itself runs with human output,
because that text is what users read in the PR comment and the job log; ``plan -json``
would only add progress events we do not need.

``apply`` only ever applies a saved plan file: there is no code path that runs
``terraform apply`` without one. The order of the steps is :mod:`bot.adapters.terraform_cli.sequence`;
:mod:`bot.adapters.terraform_cli.stages` runs them.

Where a command runs is the executor's business (:mod:`bot.adapters.terraform_cli.sandbox`): by default
inside a bubblewrap sandbox that sees only its work tree, so Terraform from a pull request
cannot read the bot's secrets; ``local`` runs it as a plain child process. When the job that
started a command loses its lease (:mod:`bot.cancellation`), the command's process group is
stopped and ``JobCancelled`` is raised: two workers never run the same command.

The environment is built, not inherited wholesale (:mod:`bot.adapters.terraform_cli.environment`),
and extra arguments from comments are checked before anything runs
(:mod:`bot.adapters.terraform_cli.arguments`).

A working directory belongs to one run at a time: callers give each (project, workspace)
plan its own checkout, as Atlantis does.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

from bot.adapters.terraform_cli.arguments import check_workspace, checked_extra_args
from bot.adapters.terraform_cli.environment import DEFAULT_INHERITED_ENV, build_environment
from bot.adapters.terraform_cli.process import OutputCollector
from bot.adapters.terraform_cli.results import (
    DEFAULT_WORKSPACE,
    ApplyResult,
    OnLine,
    PlanRequest,
    PlanResult,
    RunContext,
    Step,
    StepResult,
    StepTimeouts,
)
from bot.adapters.terraform_cli.sandbox import (
    Executor,
    ExecutorStatus,
    SandboxExecutor,
    SandboxUnavailable,
)
from bot.adapters.terraform_cli.sequence import apply_operations, plan_operations
from bot.adapters.terraform_cli.stages import Place, run_apply, run_plan
from bot.adapters.terraform_cli.supervision import supervise
from bot.adapters.terraform_cli.workflow import Workflow

# A workflow's run and env commands: sh -c, a POSIX shell every image has at this path.
SHELL = "/bin/sh"


def default_planfile(directory: Path, workspace: str) -> Path:
    return directory / f"gitops-bot-{workspace}.tfplan"


class TerraformRunner:
    def __init__(
        self,
        binary: str = "terraform",
        *,
        timeouts: StepTimeouts | None = None,
        kill_grace_seconds: float = 10.0,
        inherit_env: Sequence[str] = DEFAULT_INHERITED_ENV,
        env: Mapping[str, str] | None = None,
        max_output_chars: int = 32 * 1024 * 1024,
        executor: Executor | None = None,
    ) -> None:
        if not binary:
            raise ValueError("the Terraform executable name is empty")
        self.binary = binary
        self.timeouts = timeouts or StepTimeouts()
        self.kill_grace_seconds = kill_grace_seconds
        self.inherit_env = tuple(inherit_env)
        self.extra_env = dict(env or {})
        self.max_output_chars = max_output_chars
        self.executor: Executor = executor if executor is not None else SandboxExecutor()

    def status(self) -> ExecutorStatus:
        """Whether commands can run here, and how isolated (the executor's probe)."""
        return self.executor.status()

    def with_binary(self, binary: str) -> TerraformRunner:
        """The same runner (executor, timeouts, environment) for another binary."""
        return TerraformRunner(
            binary,
            timeouts=self.timeouts,
            kill_grace_seconds=self.kill_grace_seconds,
            inherit_env=self.inherit_env,
            env=self.extra_env,
            max_output_chars=self.max_output_chars,
            executor=self.executor,
        )

    def environment(
        self, workspace: str | None = None, env: Mapping[str, str] | None = None
    ) -> dict[str, str]:
        """The built environment, plus ``env`` (a workflow's env steps) and the pinned workspace."""
        extra = {**self.extra_env, **(env or {})}
        if workspace is not None:
            # Pins the workspace for this step whatever .terraform/environment says.
            extra["TF_WORKSPACE"] = workspace
        return build_environment(os.environ, inherit=self.inherit_env, extra=extra)

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
    ) -> StepResult:
        """Run ``<binary> <args>`` in ``cwd`` through the executor; never raises for Terraform's failures.

        ``root`` is the work tree the sandbox may write (default ``cwd``); ``env`` is added to the
        built environment. Raises ``JobCancelled`` when the job's stop signal is set while the
        command runs (its processes are stopped first).
        """
        environment = self.environment(workspace, env)
        executable = shutil.which(self.binary, path=environment.get("PATH"))
        if executable is None:
            message = f"the Terraform executable {self.binary!r} was not found on PATH\n"
            return StepResult(step, (self.binary, *args), 127, message, 0.0, timed_out=False)
        return await self.spawn(
            step, (executable, *args), environment, cwd=cwd, on_line=on_line, timeout=timeout,
            forward_stdout=forward_stdout, root=root,
        )  # fmt: skip

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
    ) -> StepResult:
        """A workflow's ``run``/``env`` command: ``sh -c`` in ``cwd``, confined like Terraform."""
        environment = self.environment(None, env)
        argv = (SHELL, "-c", command)
        return await self.spawn(
            step, argv, environment, cwd=cwd, on_line=on_line, forward_stdout=forward_stdout, root=root
        )

    async def spawn(
        self,
        step: Step,
        argv: tuple[str, ...],
        env: dict[str, str],
        *,
        cwd: Path,
        on_line: OnLine | None = None,
        timeout: float | None = None,
        forward_stdout: bool = True,
        root: Path | None = None,
    ) -> StepResult:
        """Start ``argv`` through the executor and supervise it (output, timeout, stop signal)."""
        limit = self.timeouts.for_step(step) if timeout is None else timeout
        started = time.monotonic()
        try:
            command = self.executor.wrap(argv, env, cwd=cwd, root=(root or cwd))
        except SandboxUnavailable as error:
            what = "the command" if step in ("run", "env") else "terraform"
            return StepResult(step, argv, 126, f"{what} was not run: {error}\n", 0.0, timed_out=False)

        collector = OutputCollector(step, on_line, self.max_output_chars)
        process = await asyncio.create_subprocess_exec(
            *command.argv,
            cwd=str(command.cwd),
            env=command.env,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            start_new_session=True,
            preexec_fn=command.preexec,
        )
        # Inside a wrapper (bwrap) the graceful stop must spare the wrapper (see process.interrupt).
        wrapped = command.argv[0] != argv[0]
        timed_out = await supervise(
            process, collector, step, limit, wrapped=wrapped, forward_stdout=forward_stdout,
            kill_grace_seconds=self.kill_grace_seconds,
        )  # fmt: skip
        assert process.returncode is not None
        return StepResult(
            step=step,
            argv=argv,
            exit_code=process.returncode,
            output=collector.output(),
            duration=time.monotonic() - started,
            timed_out=timed_out,
            stdout=collector.stdout(),
            truncated=collector.truncated,
            pid=process.pid,
        )

    # -- the steps -------------------------------------------------------------------------

    async def init(
        self,
        directory: Path,
        *,
        on_line: OnLine | None = None,
        root: Path | None = None,
        args: Sequence[str] = (),
        env: Mapping[str, str] | None = None,
    ) -> StepResult:
        """``init``; ``args`` are a workflow's (checked when the workflow was)."""
        argv = ["init", "-input=false", "-no-color", *args]
        return await self.run("init", argv, cwd=directory, on_line=on_line, root=root, env=env)

    async def select_workspace(
        self,
        directory: Path,
        workspace: str,
        *,
        create: bool = True,
        on_line: OnLine | None = None,
        root: Path | None = None,
        env: Mapping[str, str] | None = None,
    ) -> StepResult:
        check_workspace(workspace)
        args = ["workspace", "select", *(["-or-create"] if create else []), "-no-color", workspace]
        return await self.run("workspace", args, cwd=directory, on_line=on_line, root=root, env=env)

    async def show_plan(
        self,
        directory: Path,
        planfile: Path,
        *,
        workspace: str,
        root: Path | None = None,
        env: Mapping[str, str] | None = None,
    ) -> StepResult:
        args = ["show", "-json", "-no-color", str(planfile)]
        return await self.run(
            "show", args, cwd=directory, workspace=workspace, forward_stdout=False, root=root, env=env
        )

    async def plan(
        self,
        directory: Path,
        *,
        workspace: str = DEFAULT_WORKSPACE,
        planfile: Path | None = None,
        extra_args: Sequence[str] = (),
        on_line: OnLine | None = None,
        root: Path | None = None,
        context: RunContext | None = None,
        workflow: Workflow | None = None,
    ) -> PlanResult:
        """init, workspace (unless default), plan to ``planfile``, and summarise it with show -json;
        or the plan stage of ``workflow`` (:mod:`bot.adapters.terraform_cli.workflow`).

        ``planfile`` (default: inside ``directory``) must be inside ``root`` when sandboxed.
        ``context`` names the pull request and project for a workflow's run steps.
        """
        check_workspace(workspace)
        operations = plan_operations(workflow, workspace=workspace, extra_args=checked_extra_args(extra_args))
        directory = directory.resolve()
        planfile = (planfile or default_planfile(directory, workspace)).resolve()
        place = Place(directory, (root or directory).resolve(), workspace, planfile, on_line, context)
        return await run_plan(self, operations, place)

    async def apply(
        self,
        directory: Path,
        planfile: Path,
        *,
        workspace: str = DEFAULT_WORKSPACE,
        extra_args: Sequence[str] = (),
        on_line: OnLine | None = None,
        root: Path | None = None,
    ) -> ApplyResult:
        """Apply the saved ``planfile`` (and nothing else) in ``directory``, where it was planned."""
        return await self.init_and_apply(
            directory, planfile, workspace=workspace, extra_args=extra_args, on_line=on_line, root=root,
            init=False,
        )  # fmt: skip

    async def init_and_apply(
        self,
        directory: Path,
        planfile: Path,
        *,
        workspace: str = DEFAULT_WORKSPACE,
        extra_args: Sequence[str] = (),
        on_line: OnLine | None = None,
        root: Path | None = None,
        context: RunContext | None = None,
        workflow: Workflow | None = None,
        init: bool = True,
    ) -> ApplyResult:
        """``init`` (a fresh work tree has no providers), then the apply of the saved plan (or the
        apply stage of ``workflow``); nothing after a step that failed."""
        check_workspace(workspace)
        extra = checked_extra_args(extra_args)
        operations = apply_operations(workflow, workspace=workspace, extra_args=extra, init=init)
        directory = directory.resolve()
        place = Place(
            directory, (root or directory).resolve(), workspace, planfile.resolve(), on_line, context
        )
        return await run_apply(self, operations, place)


__all__ = [
    "DEFAULT_INHERITED_ENV",
    "DEFAULT_WORKSPACE",
    "ApplyResult",
    "OnLine",
    "PlanRequest",
    "PlanResult",
    "RunContext",
    "Step",
    "StepResult",
    "StepTimeouts",
    "TerraformRunner",
    "build_environment",
    "default_planfile",
]
