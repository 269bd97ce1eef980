"""Run Terraform (or OpenTofu) the Atlantis way: init, workspace, plan to a file, show, apply that file.

A thin typed layer over ``asyncio.create_subprocess_exec``; no shell is involved, so extra
arguments from comments stay single argv words. Every step:

- runs in its own process group (``start_new_session``), so a timeout or a cancelled task
  stops Terraform *and* whatever it started (providers, ``local-exec`` commands): first
  SIGINT to the group, which is Terraform's documented graceful stop (it is what Ctrl-C
  sends; providers ignore it and let Terraform wind down, releasing state locks), then
  SIGKILL to the group after a grace period. No process outlives the step.
- streams its output line by line to ``on_line(step, line)`` (the job log) while collecting it.
- has a timeout (``StepTimeouts``); a step that hits it reports ``timed_out=True``.

Machine output: the summary comes from ``terraform show -json <planfile>`` (Terraform's
stable JSON plan format), parsed in ``plan_summary``. ``plan`` itself runs with human output,
because that text is what users read in the PR comment and the job log; ``plan -json``
would only add progress events we do not need.

``apply`` only ever applies a saved plan file: there is no code path that runs
``terraform apply`` without one.

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
import contextlib
import os
import shutil
import signal
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

import structlog

from bot.adapters.terraform_cli.arguments import (
    check_workspace,
    checked_extra_args,
    step_failure,
    var_files_problem,
)
from bot.adapters.terraform_cli.environment import DEFAULT_INHERITED_ENV, build_environment
from bot.adapters.terraform_cli.plan_summary import PlanJSONError, parse_plan_json
from bot.adapters.terraform_cli.process import OutputCollector, interrupt, pump_lines, signal_group
from bot.adapters.terraform_cli.results import (
    DEFAULT_WORKSPACE,
    ApplyResult,
    OnLine,
    PlanRequest,
    PlanResult,
    Step,
    StepResult,
    StepTimeouts,
)
from bot.adapters.terraform_cli.sandbox import Executor, SandboxExecutor, SandboxUnavailable
from bot.cancellation import JobCancelled, current_stop

log = structlog.get_logger("gitops_bot.terraform")

_PIPE_DRAIN_SECONDS = 5.0
_STOP_POLL_SECONDS = 0.2


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

    def environment(self, workspace: str | None = None) -> dict[str, str]:
        extra = dict(self.extra_env)
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
    ) -> StepResult:
        """Run ``<binary> <args>`` in ``cwd`` through the executor; never raises for Terraform's failures.

        ``root`` is the work tree the sandbox may write (default ``cwd``). Raises ``JobCancelled``
        when the job's stop signal is set while the command runs (its processes are stopped first).
        """
        env = self.environment(workspace)
        limit = self.timeouts.for_step(step) if timeout is None else timeout
        executable = shutil.which(self.binary, path=env.get("PATH"))
        argv = (executable or self.binary, *args)
        started = time.monotonic()
        if executable is None:
            message = f"the Terraform executable {self.binary!r} was not found on PATH\n"
            return StepResult(step, argv, 127, message, 0.0, timed_out=False)
        try:
            command = self.executor.wrap(argv, env, cwd=cwd, root=(root or cwd))
        except SandboxUnavailable as error:
            return StepResult(step, argv, 126, f"terraform was not run: {error}\n", 0.0, timed_out=False)

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
        timed_out = await self._supervise(process, collector, step, limit, wrapped, forward_stdout)
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

    async def _supervise(
        self,
        process: asyncio.subprocess.Process,
        collector: OutputCollector,
        step: Step,
        limit: float,
        wrapped: bool,
        forward_stdout: bool,
    ) -> bool:
        """Read its output until it exits, the timeout stops it (True) or the job is stopped (raises)."""
        assert process.stdout is not None and process.stderr is not None
        pumps = [
            asyncio.create_task(
                pump_lines(process.stdout, collector, is_stdout=True, forward=forward_stdout)
            ),
            asyncio.create_task(pump_lines(process.stderr, collector, is_stdout=False, forward=True)),
        ]
        timed_out = False
        try:
            try:
                async with asyncio.timeout(limit):
                    await self._wait_unless_stopped(process)
            except TimeoutError:
                timed_out = True
                log.warning(
                    "terraform step timed out; stopping it", step=step, timeout=limit, pid=process.pid
                )
                await self._stop(process, wrapped=wrapped)
            await self._drain(process, pumps)
        except BaseException:
            # Cancelled (or failing): stop Terraform and everything it started, then re-raise.
            await self._stop(process, wrapped=wrapped)
            raise
        finally:
            for task in pumps:
                task.cancel()
            if process.returncode is None:
                # Last resort when cleanup itself was interrupted: leave no process behind.
                signal_group(process.pid, signal.SIGKILL)
        return timed_out

    async def _wait_unless_stopped(self, process: asyncio.subprocess.Process) -> None:
        """Wait for the process; if the job's stop signal is set meanwhile, stop it and raise."""
        stop = current_stop.get()
        if stop is None:
            await process.wait()
            return
        waiting = asyncio.ensure_future(process.wait())
        try:
            while not waiting.done():
                if stop.is_set():
                    log.warning("terraform stopped: the job lost its lease", pid=process.pid)
                    raise JobCancelled("the job lost its lease; terraform was stopped")
                await asyncio.wait({waiting}, timeout=_STOP_POLL_SECONDS)
        finally:
            if not waiting.done():
                waiting.cancel()

    async def _stop(self, process: asyncio.subprocess.Process, *, wrapped: bool) -> None:
        if process.returncode is None:
            interrupt(process.pid, wrapped=wrapped)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.shield(process.wait()), self.kill_grace_seconds)
        # Also whatever the group still holds after Terraform itself exited.
        signal_group(process.pid, signal.SIGKILL)
        await process.wait()

    async def _drain(self, process: asyncio.subprocess.Process, pumps: list[asyncio.Task[None]]) -> None:
        """Read what is left in the pipes; a leftover child holding them open is killed."""
        _done, pending = await asyncio.wait(pumps, timeout=_PIPE_DRAIN_SECONDS)
        if pending:
            signal_group(process.pid, signal.SIGKILL)
            await asyncio.wait(pending, timeout=_PIPE_DRAIN_SECONDS)
        for pump in pumps:
            error = pump.exception() if pump.done() and not pump.cancelled() else None
            if error is not None:
                raise error

    # -- the steps -------------------------------------------------------------------------

    async def init(
        self, directory: Path, *, on_line: OnLine | None = None, root: Path | None = None
    ) -> StepResult:
        args = ["init", "-input=false", "-no-color"]
        return await self.run("init", args, cwd=directory, on_line=on_line, root=root)

    async def select_workspace(
        self,
        directory: Path,
        workspace: str,
        *,
        create: bool = True,
        on_line: OnLine | None = None,
        root: Path | None = None,
    ) -> StepResult:
        check_workspace(workspace)
        args = ["workspace", "select", *(["-or-create"] if create else []), "-no-color", workspace]
        return await self.run("workspace", args, cwd=directory, on_line=on_line, root=root)

    async def show_plan(
        self, directory: Path, planfile: Path, *, workspace: str, root: Path | None = None
    ) -> StepResult:
        return await self.run(
            "show",
            ["show", "-json", "-no-color", str(planfile)],
            cwd=directory,
            workspace=workspace,
            forward_stdout=False,
            root=root,
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
    ) -> PlanResult:
        """init, workspace (unless default), plan to ``planfile``, and summarise it with show -json.

        ``planfile`` (default: inside ``directory``) must be inside ``root`` when sandboxed.
        """
        check_workspace(workspace)
        extra = checked_extra_args(extra_args)
        directory = directory.resolve()
        root = (root or directory).resolve()
        planfile = (planfile or default_planfile(directory, workspace)).resolve()
        # A stale plan must never be applied in place of this one, even if this plan fails.
        planfile.unlink(missing_ok=True)
        steps: list[StepResult] = []

        def failed(message: str) -> PlanResult:
            planfile.unlink(missing_ok=True)
            return PlanResult(directory, workspace, False, None, None, tuple(steps), error=message)

        problem = var_files_problem(directory, extra)
        if problem is not None:
            return failed(problem)
        steps.append(await self.init(directory, on_line=on_line, root=root))
        if not steps[-1].ok:
            return failed(step_failure("terraform init", steps[-1]))
        if workspace != DEFAULT_WORKSPACE:
            steps.append(await self.select_workspace(directory, workspace, on_line=on_line, root=root))
            if not steps[-1].ok:
                return failed(step_failure(f"selecting workspace {workspace!r}", steps[-1]))
        args = ["plan", "-input=false", "-no-color", f"-out={planfile}", "-detailed-exitcode", *extra]
        plan = await self.run("plan", args, cwd=directory, on_line=on_line, workspace=workspace, root=root)
        steps.append(plan)
        # -detailed-exitcode: 0 no changes, 2 changes (a success), anything else an error.
        if plan.timed_out or plan.exit_code not in (0, 2):
            return failed(step_failure("terraform plan", plan))
        show = await self.show_plan(directory, planfile, workspace=workspace, root=root)
        steps.append(show)
        if not show.ok:
            return failed(step_failure("terraform show -json", show))
        try:
            summary = parse_plan_json(show.stdout)
        except PlanJSONError as error:
            return failed(f"could not read the saved plan: {error}")
        return PlanResult(directory, workspace, plan.exit_code == 2, planfile, summary, tuple(steps))

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
        """Apply the saved ``planfile`` (and nothing else) in ``directory``."""
        check_workspace(workspace)
        extra = checked_extra_args(extra_args)
        directory = directory.resolve()
        root = (root or directory).resolve()
        planfile = planfile.resolve()
        steps: list[StepResult] = []
        if not planfile.is_file():
            return ApplyResult(
                directory, workspace, planfile, (), error=f"there is no saved plan at {planfile}; plan first"
            )
        problem = var_files_problem(directory, extra)
        if problem is not None:
            return ApplyResult(directory, workspace, planfile, (), error=problem)
        if workspace != DEFAULT_WORKSPACE:
            steps.append(
                await self.select_workspace(directory, workspace, create=False, on_line=on_line, root=root)
            )
            if not steps[-1].ok:
                message = step_failure(f"selecting workspace {workspace!r}", steps[-1])
                return ApplyResult(directory, workspace, planfile, tuple(steps), error=message)
        args = ["apply", "-input=false", "-no-color", *extra, str(planfile)]
        result = await self.run("apply", args, cwd=directory, on_line=on_line, workspace=workspace, root=root)
        steps.append(result)
        error = None if result.ok else step_failure("terraform apply", result)
        return ApplyResult(directory, workspace, planfile, tuple(steps), error=error)


__all__ = [
    "DEFAULT_INHERITED_ENV",
    "DEFAULT_WORKSPACE",
    "ApplyResult",
    "OnLine",
    "PlanRequest",
    "PlanResult",
    "Step",
    "StepResult",
    "StepTimeouts",
    "TerraformRunner",
    "build_environment",
    "default_planfile",
]
