"""Terraform as Kubernetes Jobs: each plan and each apply of a project runs as one Job.

The same :class:`~bot.adapters.terraform_cli.operations.TerraformOperations` as the local runner,
so the plan, apply and drift flows do not change. For one operation:

1. **Re-attach or start.** A run is named by its :func:`~.manifest.run_key` (repository, pull
   request, head, project, workspace, operation). When the queue job that runs it is retried (the
   bot restarted, or another replica took the job over), the row of the run still going, or
   finished and not yet taken, is found and its Job followed: Terraform is never started twice
   for the same run, which matters most for an apply. Otherwise the work tree is packed (without
   ``.git`` and ``.terraform``), stored with a one-time token (:mod:`.store`), and the Job created.
2. **Follow.** The pod fetches its work tree from the bot, runs Terraform and prints its output;
   the pod's log is followed and each line goes to ``on_line`` (the job log) as it comes.
3. **Take the result.** The pod sends its result (every step's output and exit code, and the
   plan file) back to the bot; it is read from the database, the plan file is written into this
   work tree where the local runner would have left it, and the summary is parsed here.

A timeout (the steps' timeouts added up, plus time to start the pod) or the job's stop signal
(lease lost, ``/gitops cancel``) deletes the Job, which stops Terraform in the pod (SIGTERM, then
SIGKILL after the pod's grace period); the stop raises ``JobCancelled`` as the local runner does.
A pod that can never start (a missing Secret, an invalid image) fails the run at once, with the
reason the kubelet gives.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import get_args

import structlog

from bot.adapters.terraform_cli.arguments import (
    check_workspace,
    checked_extra_args,
    step_failure,
    var_files_problem,
)
from bot.adapters.terraform_cli.plan_summary import PlanJSONError, parse_plan_json
from bot.adapters.terraform_cli.results import (
    DEFAULT_WORKSPACE,
    ApplyResult,
    OnLine,
    PlanResult,
    RunContext,
    Step,
    StepResult,
    StepTimeouts,
)
from bot.adapters.terraform_cli.runner import default_planfile
from bot.adapters.terraform_cli.sandbox import ExecutorStatus
from bot.adapters.terraform_cli.workflow import Workflow
from bot.adapters.terraform_jobs.bundle import make_bundle
from bot.adapters.terraform_jobs.kubernetes import JobsApi, JobsApiError
from bot.adapters.terraform_jobs.manifest import (
    COMMAND,
    JobSettings,
    Operation,
    env_secret_for,
    job_manifest,
    job_name_prefix,
    run_key,
)
from bot.adapters.terraform_jobs.store import JobRunRow, TerraformJobRuns
from bot.adapters.terraform_jobs.wire import JobOutcome, JobSpec, WireError
from bot.cancellation import JobCancelled, current_stop

log = structlog.get_logger("gitops_bot.terraform")

_STEPS: tuple[Step, ...] = get_args(Step)
_TIMED_STEPS: tuple[Step, ...] = ("init", "workspace", "plan", "show", "apply", "run")
# What the pod's exit code means when it sent no result (see bot.adapters.terraform_jobs.pod).
_POD_EXIT_REASONS = {
    2: "the pod's environment or spec was unusable (is the Job's image the bot's own?)",
    3: "the pod could not fetch its work tree from the bot (can it reach the callback URL?)",
    4: "the pod could not send its result back to the bot (can it reach the callback URL?)",
    143: "the pod was stopped (SIGTERM) before it finished",
}
# A run's token outlives the Job's deadline a little, so a result sent at the last moment is taken.
_TOKEN_GRACE_SECONDS = 120.0
_BACKSTOP_SECONDS = 60


@dataclass(frozen=True)
class _Finished:
    """How a Job ended: its outcome, or why there is none."""

    outcome: JobOutcome | None
    error: str = ""
    timed_out: bool = False
    step: Step = "init"


class KubernetesJobRunner:
    """Runs each plan and apply as a Kubernetes Job (``GITOPS_BOT_TERRAFORM_EXECUTOR=kubernetes``)."""

    def __init__(
        self,
        binary: str,
        *,
        jobs: Callable[[], JobsApi],
        runs: TerraformJobRuns,
        settings: JobSettings | None,
        callback_url: str | None,
        timeouts: StepTimeouts | None = None,
        problem: str | None = None,
        poll_seconds: float = 1.0,
        start_timeout_seconds: float = 300.0,
    ) -> None:
        self.binary = binary
        self._jobs_factory = jobs
        self._jobs: JobsApi | None = None
        self.runs = runs
        self.settings = settings
        self.callback_url = callback_url.rstrip("/") if callback_url else None
        self.timeouts = timeouts or StepTimeouts()
        self.problem = problem  # a configuration problem found before anything runs
        self.poll_seconds = poll_seconds
        self.start_timeout_seconds = start_timeout_seconds
        self._status: ExecutorStatus | None = None

    def with_binary(self, binary: str) -> KubernetesJobRunner:
        """The same runner for another binary (a project's pinned version), looked up in the pod."""
        twin = KubernetesJobRunner(
            binary,
            jobs=self._jobs_factory,
            runs=self.runs,
            settings=self.settings,
            callback_url=self.callback_url,
            timeouts=self.timeouts,
            problem=self.problem,
            poll_seconds=self.poll_seconds,
            start_timeout_seconds=self.start_timeout_seconds,
        )
        twin._jobs, twin._status = self._jobs, self._status
        return twin

    @property
    def jobs(self) -> JobsApi:
        if self._jobs is None:
            self._jobs = self._jobs_factory()
        return self._jobs

    def status(self) -> ExecutorStatus:
        """Configured, and allowed to list Jobs in the namespace? (Probed once; a failure is retried.)"""
        if self._status is not None:
            return self._status
        if self.problem is not None:
            return ExecutorStatus("kubernetes", False, self.problem)
        assert self.settings is not None
        namespace = self.settings.namespace
        try:
            self.jobs.probe(namespace)
        except (JobsApiError, ValueError) as error:
            return ExecutorStatus("kubernetes", False, f"Terraform Jobs cannot run: {error}")
        self._status = ExecutorStatus(
            "kubernetes", True, f"a Kubernetes Job per run in namespace {namespace}"
        )
        return self._status

    # -- the operations ------------------------------------------------------------------

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
        check_workspace(workspace)
        extra = checked_extra_args(extra_args)
        directory = directory.resolve()
        root = (root or directory).resolve()
        planfile = (planfile or default_planfile(directory, workspace)).resolve()
        planfile.unlink(missing_ok=True)  # a stale plan must never stand in for this one

        def failed(message: str, steps: tuple[StepResult, ...] = ()) -> PlanResult:
            planfile.unlink(missing_ok=True)
            return PlanResult(directory, workspace, False, None, None, steps, error=message)

        problem = var_files_problem(directory, extra)
        if problem is not None:
            return failed(problem)
        spec = self._spec("plan", root, directory, workspace, extra, planfile, context, workflow)
        finished = await self._execute(spec, context, root, on_line)
        if finished.outcome is None:
            return failed(finished.error, (self._stopped_step(finished),))
        outcome = finished.outcome
        if outcome.error is not None:
            return failed(outcome.error, outcome.steps)
        if outcome.planfile is None:
            return failed("the Terraform Job sent no plan file", outcome.steps)
        show = next((step for step in outcome.steps if step.step == "show"), None)
        try:
            summary = parse_plan_json(show.stdout if show is not None else "")
        except PlanJSONError as error:
            return failed(f"could not read the saved plan: {error}", outcome.steps)
        planfile.write_bytes(outcome.planfile)
        return PlanResult(directory, workspace, bool(outcome.has_changes), planfile, summary, outcome.steps)

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
    ) -> ApplyResult:
        check_workspace(workspace)
        extra = checked_extra_args(extra_args)
        directory = directory.resolve()
        root = (root or directory).resolve()
        planfile = planfile.resolve()
        if not planfile.is_file():
            return ApplyResult(
                directory, workspace, planfile, (), error=f"there is no saved plan at {planfile}; plan first"
            )
        problem = var_files_problem(directory, extra)
        if problem is not None:
            return ApplyResult(directory, workspace, planfile, (), error=problem)
        spec = self._spec("apply", root, directory, workspace, extra, planfile, context, workflow)
        finished = await self._execute(spec, context, root, on_line)
        if finished.outcome is None:
            steps = (self._stopped_step(finished),)
            return ApplyResult(directory, workspace, planfile, steps, error=finished.error)
        outcome = finished.outcome
        return ApplyResult(directory, workspace, planfile, outcome.steps, error=outcome.error)

    # -- one Job -------------------------------------------------------------------------

    def _spec(
        self,
        operation: Operation,
        root: Path,
        directory: Path,
        workspace: str,
        extra: Sequence[str],
        planfile: Path,
        context: RunContext | None,
        workflow: Workflow | None,
    ) -> JobSpec:
        return JobSpec(
            operation=operation,
            directory=directory.relative_to(root).as_posix() or ".",
            workspace=workspace,
            extra_args=tuple(extra),
            binary=Path(self.binary).name,
            planfile=planfile.relative_to(root).as_posix(),
            timeouts={step: self.timeouts.for_step(step) for step in _TIMED_STEPS},
            workflow=None if workflow is None else workflow.model_dump(mode="json"),
            context=context,
        )

    def _deadline_seconds(self, spec: JobSpec) -> float:
        """The steps' timeouts added up (a workflow's run and env steps too), plus time to start."""
        fixed: tuple[Step, ...] = (
            ("init", "workspace", "plan", "show")
            if spec.operation == "plan"
            else ("init", "workspace", "apply")
        )
        commands = 0
        if spec.workflow is not None:
            workflow = Workflow.model_validate(spec.workflow)
            stage = workflow.plan if spec.operation == "plan" else workflow.apply
            commands = sum(1 for step in stage.steps if step.kind in ("run", "env"))
        total = sum(self.timeouts.for_step(step) for step in fixed) + commands * self.timeouts.for_step("run")
        return total + self.start_timeout_seconds

    async def _execute(
        self, spec: JobSpec, context: RunContext | None, root: Path, on_line: OnLine | None
    ) -> _Finished:
        status = self.status()
        if not status.ok:
            return _Finished(None, status.detail)
        if context is None:
            return _Finished(
                None, "a Terraform Job needs to know its pull request and project (no run context)"
            )
        assert self.settings is not None
        key = run_key(
            context.repo, context.number, context.head_sha, context.project, spec.workspace, spec.operation
        )
        row = await asyncio.to_thread(self.runs.reattachable, key)
        if row is not None and await asyncio.to_thread(self._still_there, row):
            log.info("terraform_job.reattached", job=row.job_name, run_id=row.id, operation=spec.operation)
        else:
            if row is not None:
                await asyncio.to_thread(self.runs.mark, row.id, "abandoned")
            started = await self._start(spec, context, root, key)
            if isinstance(started, str):
                return _Finished(None, started)
            row = started
        return await self._watch(row, spec, on_line)

    def _still_there(self, row: JobRunRow) -> bool:
        """Can this run still give a result: finished already, or its Job still exists?"""
        if row.status == "finished":
            return True
        try:
            return self.jobs.job_state(row.namespace, row.job_name).phase != "missing"
        except JobsApiError:
            return False

    async def _start(self, spec: JobSpec, context: RunContext, root: Path, key: str) -> JobRunRow | str:
        assert self.settings is not None and self.callback_url is not None
        settings = self.settings
        try:
            bundle = await asyncio.to_thread(make_bundle, root)
        except ValueError as error:
            return f"the work tree cannot be sent to the Terraform Job: {error}"
        deadline = self._deadline_seconds(spec)
        row, token = await asyncio.to_thread(
            self.runs.create,
            key,
            spec.operation,
            settings.namespace,
            job_name_prefix(context.repo, context.project_name or context.project, spec.operation),
            spec.to_json(),
            bundle,
            deadline + _TOKEN_GRACE_SECONDS,
        )
        manifest = job_manifest(
            settings,
            name=row.job_name,
            run_id=row.id,
            operation=spec.operation,
            spec_json=spec.to_json(),
            callback_url=f"{self.callback_url}/internal/terraform-jobs/{row.id}",
            token=token,
            env_secret=env_secret_for(settings, context.repo, context.project_name),
            # The cluster's own backstop, after the bot's: a Job outlives a bot that died.
            deadline_seconds=int(deadline) + _BACKSTOP_SECONDS,
        )
        try:
            await asyncio.to_thread(self.jobs.create_job, settings.namespace, manifest)
        except JobsApiError as error:
            await asyncio.to_thread(self.runs.mark, row.id, "abandoned")
            return f"the Terraform Job could not be created: {error}"
        log.info("terraform_job.created", job=row.job_name, run_id=row.id, namespace=settings.namespace)
        return row

    async def _watch(self, row: JobRunRow, spec: JobSpec, on_line: OnLine | None) -> _Finished:
        deadline = time.monotonic() + self._deadline_seconds(spec)
        step: list[Step] = ["init"]
        try:
            ended = await self._follow(row, on_line, deadline, step)
            if ended is None:
                ended = await self._await_result(row, deadline, step[0])
        except BaseException:
            # Stopped (JobCancelled), cancelled or broken: the Job must not go on alone.
            await asyncio.shield(self._discard(row))
            raise
        if ended.outcome is None:
            await self._discard(row)
        else:
            await asyncio.to_thread(self.runs.mark, row.id, "consumed")
        return ended

    async def _follow(
        self, row: JobRunRow, on_line: OnLine | None, deadline: float, step: list[Step]
    ) -> _Finished | None:
        """Wait for the pod, then forward its log until it ends; a :class:`_Finished` when the run
        ended without a result to wait for (timeout, a pod that cannot start)."""
        pod = await self._wait_for_pod(row, deadline)
        if pod is None or isinstance(pod, _Finished):
            return pod
        loop = asyncio.get_running_loop()
        lines: asyncio.Queue[str | None] = asyncio.Queue()

        def pump() -> None:
            try:
                for line in self.jobs.follow_log(row.namespace, pod):
                    loop.call_soon_threadsafe(lines.put_nowait, line)
            except JobsApiError as error:
                log.warning("terraform_job.log_broken", job=row.job_name, error=str(error))
            finally:
                loop.call_soon_threadsafe(lines.put_nowait, None)

        reader = asyncio.ensure_future(asyncio.to_thread(pump))
        try:
            while True:
                try:
                    line = await asyncio.wait_for(lines.get(), timeout=self.poll_seconds)
                except TimeoutError:
                    self._check_stop(row)
                    if time.monotonic() > deadline:
                        return _Finished(
                            None, step_failure(f"terraform {step[0]}", _timed_out(step[0])), True, step[0]
                        )
                    continue
                if line is None:
                    return None
                step[0] = _marked_step(line) or step[0]
                await _forward(on_line, step[0], line)
        finally:
            if not reader.done():
                # Deleting the Job ends the stream; the thread then finishes on its own.
                reader.cancel()

    async def _wait_for_pod(self, row: JobRunRow, deadline: float) -> str | _Finished | None:
        """The pod's name once it runs (or ran); None when it is gone but the result is stored."""
        while True:
            pod = await asyncio.to_thread(self.jobs.pod_state, row.namespace, row.job_name)
            if pod.hopeless:
                return _Finished(None, f"the Terraform Job's pod cannot start: {pod.reason}")
            if pod.phase in ("running", "terminated") and pod.name is not None:
                return pod.name
            if pod.phase == "none":
                job = await asyncio.to_thread(self.jobs.job_state, row.namespace, row.job_name)
                if job.phase != "running":
                    if (
                        row.status == "finished"
                        or await asyncio.to_thread(self.runs.result, row.id) is not None
                    ):
                        return None  # done and gone (its Job expired): the result is all there is
                    why = f"failed ({job.reason})" if job.phase == "failed" else "is gone"
                    timed_out = job.reason.startswith("DeadlineExceeded")
                    return _Finished(
                        None, f"the Terraform Job {row.job_name} {why} and sent no result", timed_out
                    )
            self._check_stop(row)
            if time.monotonic() > deadline:
                return _Finished(
                    None, f"the Terraform Job's pod did not start in time ({pod.reason or 'pending'})", True
                )
            await asyncio.sleep(self.poll_seconds)

    async def _await_result(self, row: JobRunRow, deadline: float, step: Step) -> _Finished:
        """After the log ended: the result the pod sent, or why there is none."""
        while True:
            raw = await asyncio.to_thread(self.runs.result, row.id)
            if raw is not None:
                try:
                    return _Finished(JobOutcome.from_json(raw))
                except WireError as error:
                    return _Finished(None, f"the Terraform Job sent a result the bot cannot read: {error}")
            job = await asyncio.to_thread(self.jobs.job_state, row.namespace, row.job_name)
            if job.phase in ("failed", "missing"):
                pod = await asyncio.to_thread(self.jobs.pod_state, row.namespace, row.job_name)
                why = _POD_EXIT_REASONS.get(
                    pod.exit_code or 0, job.reason or f"pod exit code {pod.exit_code}"
                )
                return _Finished(None, f"the Terraform Job {row.job_name} failed: {why}")
            self._check_stop(row)
            if time.monotonic() > deadline:
                return _Finished(None, step_failure(f"terraform {step}", _timed_out(step)), True, step)
            await asyncio.sleep(self.poll_seconds)

    def _check_stop(self, row: JobRunRow) -> None:
        stop = current_stop.get()
        if stop is not None and stop.is_set():
            log.warning("terraform_job.stopped", job=row.job_name, reason="the job was stopped")
            raise JobCancelled("the job was stopped; its Terraform Job was deleted")

    async def _discard(self, row: JobRunRow) -> None:
        """Delete the Job (stopping Terraform in it) and let nobody re-attach to the run."""
        with contextlib.suppress(JobsApiError):
            await asyncio.to_thread(self.jobs.delete_job, row.namespace, row.job_name)
        await asyncio.to_thread(self.runs.mark, row.id, "abandoned")
        log.info("terraform_job.deleted", job=row.job_name, run_id=row.id)

    @staticmethod
    def _stopped_step(finished: _Finished) -> StepResult:
        """The step a run ended in without a result, for the comment and the job log."""
        exit_code = -9 if finished.timed_out else 1
        return replace(
            _timed_out(finished.step),
            exit_code=exit_code,
            timed_out=finished.timed_out,
            output=f"{finished.error}\n",
        )


def _timed_out(step: Step) -> StepResult:
    return StepResult(step, COMMAND, -9, "", 0.0, timed_out=True)


def _marked_step(line: str) -> Step | None:
    """The pod announces each step with a line ``--- terraform <step>``."""
    if not line.startswith("--- terraform "):
        return None
    words = line.split()
    name = words[2] if len(words) > 2 else ""
    return next((step for step in _STEPS if step == name), None)


async def _forward(on_line: OnLine | None, step: Step, line: str) -> None:
    if on_line is None:
        return
    result = on_line(step, line)
    if inspect.isawaitable(result):
        await result
