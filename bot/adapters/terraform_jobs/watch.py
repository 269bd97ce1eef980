"""Following one Terraform Job to its end: its pod's log forwarded line by line, then its result.

:class:`~bot.adapters.terraform_jobs.runner.KubernetesJobRunner` starts (or re-attaches to) a
Job and hands it here. :class:`JobWatch` waits for the pod, forwards each log line to the job log
under the step the pod announced (``--- terraform <step>``), then reads the result the pod sent to
the bot. It ends in a :class:`Finished`: the outcome, or why there is none (a pod that can never
start, a Job that failed or vanished without a result, the deadline).

Whatever way the watch ends without a result (the deadline, the job's stop signal, a cancelled
task), the Job is deleted and its run marked abandoned, so Terraform never goes on alone and no
later retry re-attaches to it; a run whose result was taken is marked consumed.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import time
from dataclasses import dataclass
from typing import get_args

import structlog

from bot.adapters.terraform_cli.arguments import step_failure
from bot.adapters.terraform_cli.results import OnLine, Step, StepResult
from bot.adapters.terraform_jobs.kubernetes import JobsApi, JobsApiError
from bot.adapters.terraform_jobs.manifest import COMMAND
from bot.adapters.terraform_jobs.store import JobRunRow, TerraformJobRuns
from bot.adapters.terraform_jobs.wire import JobOutcome, WireError
from bot.cancellation import JobCancelled, current_stop

log = structlog.get_logger("gitops_bot.terraform")

_STEPS: tuple[Step, ...] = get_args(Step)
# What the pod's exit code means when it sent no result (see bot.adapters.terraform_jobs.pod).
_POD_EXIT_REASONS = {
    2: "the pod's environment or spec was unusable (is the Job's image the bot's own?)",
    3: "the pod could not fetch its work tree from the bot (can it reach the callback URL?)",
    4: "the pod could not send its result back to the bot (can it reach the callback URL?)",
    143: "the pod was stopped (SIGTERM) before it finished",
}


@dataclass(frozen=True)
class Finished:
    """How a Job ended: its outcome, or why there is none."""

    outcome: JobOutcome | None
    error: str = ""
    timed_out: bool = False
    step: Step = "init"


class JobWatch:
    """Follows Jobs through ``jobs`` and reads their results from ``runs``, polling every ``poll_seconds``."""

    def __init__(self, jobs: JobsApi, runs: TerraformJobRuns, poll_seconds: float) -> None:
        self.jobs = jobs
        self.runs = runs
        self.poll_seconds = poll_seconds

    async def watch(self, row: JobRunRow, deadline_seconds: float, on_line: OnLine | None) -> Finished:
        """The run's end: its outcome (the run is then consumed), or why there is none (the Job is
        then deleted and the run abandoned)."""
        deadline = time.monotonic() + deadline_seconds
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
    ) -> Finished | None:
        """Wait for the pod, then forward its log until it ends; a :class:`Finished` when the run
        ended without a result to wait for (timeout, a pod that cannot start)."""
        pod = await self._wait_for_pod(row, deadline)
        if pod is None or isinstance(pod, Finished):
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
                        return _out_of_time(step[0])
                    continue
                if line is None:
                    return None
                step[0] = _marked_step(line) or step[0]
                await _forward(on_line, step[0], line)
        finally:
            if not reader.done():
                # Deleting the Job ends the stream; the thread then finishes on its own.
                reader.cancel()

    async def _wait_for_pod(self, row: JobRunRow, deadline: float) -> str | Finished | None:
        """The pod's name once it runs (or ran); None when it is gone but the result is stored."""
        while True:
            pod = await asyncio.to_thread(self.jobs.pod_state, row.namespace, row.job_name)
            if pod.hopeless:
                return Finished(None, f"the Terraform Job's pod cannot start: {pod.reason}")
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
                    return Finished(
                        None, f"the Terraform Job {row.job_name} {why} and sent no result", timed_out
                    )
            self._check_stop(row)
            if time.monotonic() > deadline:
                return Finished(
                    None, f"the Terraform Job's pod did not start in time ({pod.reason or 'pending'})", True
                )
            await asyncio.sleep(self.poll_seconds)

    async def _await_result(self, row: JobRunRow, deadline: float, step: Step) -> Finished:
        """After the log ended: the result the pod sent, or why there is none."""
        while True:
            raw = await asyncio.to_thread(self.runs.result, row.id)
            if raw is not None:
                try:
                    return Finished(JobOutcome.from_json(raw))
                except WireError as error:
                    return Finished(None, f"the Terraform Job sent a result the bot cannot read: {error}")
            job = await asyncio.to_thread(self.jobs.job_state, row.namespace, row.job_name)
            if job.phase in ("failed", "missing"):
                pod = await asyncio.to_thread(self.jobs.pod_state, row.namespace, row.job_name)
                why = _POD_EXIT_REASONS.get(
                    pod.exit_code or 0, job.reason or f"pod exit code {pod.exit_code}"
                )
                return Finished(None, f"the Terraform Job {row.job_name} failed: {why}")
            self._check_stop(row)
            if time.monotonic() > deadline:
                return _out_of_time(step)
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


def timed_out_step(step: Step) -> StepResult:
    return StepResult(step, COMMAND, -9, "", 0.0, timed_out=True)


def _out_of_time(step: Step) -> Finished:
    """The run's deadline passed during ``step``."""
    return Finished(None, step_failure(f"terraform {step}", timed_out_step(step)), True, step)


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
