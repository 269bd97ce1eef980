"""Terraform as Kubernetes Jobs: each plan and each apply of a project runs as one Job.

The same :class:`~bot.adapters.terraform_cli.operations.TerraformOperations` as the local runner,
so the plan, apply and drift flows do not change. For one operation:

1. **Re-attach or start.** A run is named by its :func:`~.manifest.run_key` (repository, pull
   request, head, project, workspace, operation). When the queue job that runs it is retried (the
   bot restarted, or another replica took the job over), the row of the run still going, or
   finished and not yet taken, is found and its Job followed: Terraform is never started twice
   for the same run, which matters most for an apply. Otherwise the work tree is packed (without
   ``.git`` and ``.terraform``), stored with a one-time token (:mod:`.store`), and the Job created.
2. **Follow** (:mod:`.watch`). The pod fetches its work tree from the bot, runs Terraform and prints
   its output; the pod's log is followed and each line goes to ``on_line`` (the job log) as it comes.
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
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path

import structlog

from bot.adapters.terraform_cli.arguments import (
    check_workspace,
    checked_extra_args,
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
    JobSettings,
    Operation,
    env_secret_for,
    job_manifest,
    job_name_prefix,
    run_key,
)
from bot.adapters.terraform_jobs.store import JobRunRow, TerraformJobRuns
from bot.adapters.terraform_jobs.watch import Finished, JobWatch, timed_out_step
from bot.adapters.terraform_jobs.wire import JobSpec

log = structlog.get_logger("gitops_bot.terraform")

_TIMED_STEPS: tuple[Step, ...] = ("init", "workspace", "plan", "show", "apply", "run")
# A run's token outlives the Job's deadline a little, so a result sent at the last moment is taken.
_TOKEN_GRACE_SECONDS = 120.0
_BACKSTOP_SECONDS = 60


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
    ) -> Finished:
        status = self.status()
        if not status.ok:
            return Finished(None, status.detail)
        if context is None:
            return Finished(
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
                return Finished(None, started)
            row = started
        watch = JobWatch(self.jobs, self.runs, self.poll_seconds)
        return await watch.watch(row, self._deadline_seconds(spec), on_line)

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

    @staticmethod
    def _stopped_step(finished: Finished) -> StepResult:
        """The step a run ended in without a result, for the comment and the job log."""
        exit_code = -9 if finished.timed_out else 1
        return replace(
            timed_out_step(finished.step),
            exit_code=exit_code,
            timed_out=finished.timed_out,
            output=f"{finished.error}\n",
        )
