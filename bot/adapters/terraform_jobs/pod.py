"""What a Terraform Job's container runs: ``gitops-bot terraform-job``.

It reads three variables and nothing else of the bot's configuration (the pod has none):
``GITOPS_BOT_JOB_URL`` (its run's callback URL), ``GITOPS_BOT_JOB_TOKEN`` (the run's one-time
token) and ``GITOPS_BOT_JOB_SPEC`` (:class:`~bot.adapters.terraform_jobs.wire.JobSpec`). They are
removed from the environment at once, so Terraform (and whatever a pull request makes it run)
does not inherit the token; everything else in the pod's environment (the operator's Secret:
cloud credentials) is passed to Terraform.

1. ``GET {url}/bundle`` (retried with backoff while the bot cannot be reached) and unpack the
   work tree into a fresh directory under ``$TMPDIR``.
2. Run the operation with the bot's own :class:`~bot.adapters.terraform_cli.runner.TerraformRunner`
   on a :class:`~bot.adapters.terraform_cli.sandbox.LocalExecutor` (the pod is the isolation),
   printing ``--- terraform <step>`` before each step and every line Terraform prints: the pod's
   log, which the bot follows.
3. ``PUT {url}/result``: the steps, and for a plan whether it changes anything and its plan file.

Exit codes: 0 the result was delivered (also when Terraform failed: that is in the result),
2 the environment or the spec is unusable, 3 the work tree could not be fetched, 4 the result
could not be delivered, 143 stopped (SIGTERM: the bot deleted the Job; Terraform gets its
graceful stop first). Messages go to stderr; the token is never printed.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import sys
import tempfile
import time
from collections.abc import Callable, Mapping, MutableMapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import httpx
from pydantic import ValidationError

from bot.adapters.terraform_cli.results import Step, StepResult, StepTimeouts
from bot.adapters.terraform_cli.runner import TerraformRunner
from bot.adapters.terraform_cli.sandbox import LocalExecutor
from bot.adapters.terraform_cli.workflow import Workflow
from bot.adapters.terraform_jobs.bundle import MAX_COMPRESSED_BYTES, BundleError, extract_bundle
from bot.adapters.terraform_jobs.wire import MAX_RESULT_BYTES, JobOutcome, JobSpec, WireError

ENV_URL = "GITOPS_BOT_JOB_URL"
ENV_TOKEN = "GITOPS_BOT_JOB_TOKEN"
ENV_SPEC = "GITOPS_BOT_JOB_SPEC"

EXIT_DELIVERED = 0
EXIT_UNUSABLE = 2
EXIT_NO_BUNDLE = 3
EXIT_NOT_DELIVERED = 4
EXIT_STOPPED = 128 + signal.SIGTERM

_CONNECT_SECONDS = 10.0
_RETRIED_STATUSES = frozenset({500, 502, 503, 504})
_KEPT_OUTPUT_CHARS = 64 * 1024  # of each step, when the whole result is too large to send


class PodFailure(Exception):
    """The pod cannot go on; ``exit_code`` says which way (see the module's docstring)."""

    def __init__(self, exit_code: int, message: str) -> None:
        super().__init__(message)
        self.exit_code = exit_code


@dataclass(frozen=True)
class Callback:
    """The run's two routes on the bot, with retries while the bot cannot be reached."""

    url: str
    token: str = field(repr=False)  # never printed
    attempts: int = 6
    backoff_seconds: float = 1.0  # doubled after each failed attempt
    timeout_seconds: float = 60.0  # between two bytes of an answer (connecting: 10 seconds)

    def _client(self) -> httpx.Client:
        return httpx.Client(timeout=httpx.Timeout(self.timeout_seconds, connect=_CONNECT_SECONDS))

    def _headers(self, **extra: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}", **extra}

    def _retrying(self, what: str, call: Callable[[], httpx.Response], exit_code: int) -> httpx.Response:
        delay = self.backoff_seconds
        for attempt in range(1, self.attempts + 1):
            try:
                response = call()
            except httpx.TransportError as error:
                problem = f"{type(error).__name__}: {error}"
            else:
                if response.status_code not in _RETRIED_STATUSES:
                    return response
                problem = f"HTTP {response.status_code}"
            if attempt < self.attempts:
                print(f"{what}: {problem}; retrying in {delay:g}s", file=sys.stderr, flush=True)
                time.sleep(delay)
                delay *= 2
        raise PodFailure(exit_code, f"{what} failed after {self.attempts} attempts: {problem}")

    def fetch_bundle(self) -> bytes:
        def call() -> httpx.Response:
            with (
                self._client() as client,
                client.stream("GET", f"{self.url}/bundle", headers=self._headers()) as response,
            ):
                if response.status_code != 200:
                    response.read()
                    return response
                body = bytearray()
                for chunk in response.iter_bytes():
                    body += chunk
                    if len(body) > MAX_COMPRESSED_BYTES:
                        raise PodFailure(EXIT_NO_BUNDLE, "the work tree is over the size limit")
                return httpx.Response(200, content=bytes(body))

        response = self._retrying("fetching the work tree", call, EXIT_NO_BUNDLE)
        if response.status_code != 200:
            raise PodFailure(EXIT_NO_BUNDLE, f"fetching the work tree: {_refusal(response)}")
        return response.content

    def send_result(self, body: bytes) -> str:
        """Deliver the result; what the bot said (a 409 after a retry: the first attempt got there)."""

        def call() -> httpx.Response:
            headers = self._headers(**{"Content-Type": "application/json"})
            with self._client() as client:
                return client.put(f"{self.url}/result", content=body, headers=headers)

        response = self._retrying("sending the result", call, EXIT_NOT_DELIVERED)
        if response.status_code == 204:
            return "the result was delivered"
        if response.status_code == 409:
            return "a result was already stored for this run"
        raise PodFailure(EXIT_NOT_DELIVERED, f"sending the result: {_refusal(response)}")


def _refusal(response: httpx.Response) -> str:
    try:
        detail = response.json().get("detail")
    except ValueError:
        detail = None
    return f"HTTP {response.status_code}" + (f" ({detail})" if isinstance(detail, str) else "")


def take_environment(environ: MutableMapping[str, str]) -> tuple[Callback, JobSpec]:
    """The callback and the spec from the three variables, which are removed from ``environ``."""
    values = {name: environ.pop(name, "") for name in (ENV_URL, ENV_TOKEN, ENV_SPEC)}
    missing = [name for name, value in values.items() if not value]
    if missing:
        raise PodFailure(EXIT_UNUSABLE, f"{', '.join(missing)} not set: this command runs in a Terraform Job")
    try:
        spec = JobSpec.from_json(values[ENV_SPEC])
    except WireError as error:
        raise PodFailure(EXIT_UNUSABLE, f"{ENV_SPEC} is not a usable spec: {error}") from error
    return Callback(values[ENV_URL].rstrip("/"), values[ENV_TOKEN]), spec


def print_line(_step: Step, line: str) -> None:
    print(line, flush=True)


class _AnnouncingRunner(TerraformRunner):
    """The bot's runner, announcing each step in the log (the bot tells the steps apart by it)."""

    async def run(self, step: Step, args: Any, **kwargs: Any) -> StepResult:
        print(f"--- terraform {step}", flush=True)
        return await super().run(step, args, **kwargs)


def runner_for(spec: JobSpec) -> TerraformRunner:
    timeouts = StepTimeouts(**dict(spec.timeouts))
    # Everything the pod has is Terraform's to use (the token was taken out of the environment).
    return _AnnouncingRunner(spec.binary, timeouts=timeouts, inherit_env=("*",), executor=LocalExecutor())


async def run_operation(spec: JobSpec, root: Path, runner: TerraformRunner) -> JobOutcome:
    """Run the spec's operation in the work tree unpacked at ``root`` (Terraform's failures are in
    the outcome, not raised)."""
    directory, planfile = root / spec.directory, root / spec.planfile
    if not directory.is_dir():
        return _failed(spec, f"the directory {spec.directory} is not in the work tree")
    try:
        workflow = None if spec.workflow is None else Workflow.model_validate(spec.workflow)
    except ValidationError as error:
        return _failed(spec, f"the workflow in the spec is not valid: {error}")
    try:
        if spec.operation == "plan":
            plan = await runner.plan(
                directory,
                workspace=spec.workspace,
                planfile=planfile,
                extra_args=spec.extra_args,
                on_line=print_line,
                root=root,
                context=spec.context,
                workflow=workflow,
            )
            saved = plan.planfile.read_bytes() if plan.ok and plan.planfile is not None else None
            has_changes = plan.has_changes if plan.ok else None
            return JobOutcome(
                operation="plan", steps=plan.steps, has_changes=has_changes, error=plan.error, planfile=saved
            )
        applied = await runner.init_and_apply(
            directory,
            planfile,
            workspace=spec.workspace,
            extra_args=spec.extra_args,
            on_line=print_line,
            root=root,
            context=spec.context,
            workflow=workflow,
        )
        return JobOutcome(operation="apply", steps=applied.steps, error=applied.error)
    except ValueError as error:  # a workspace name or an argument the runner refuses
        return _failed(spec, str(error))


def _failed(spec: JobSpec, message: str) -> JobOutcome:
    return JobOutcome(operation=spec.operation, steps=(), error=message)


def encode(outcome: JobOutcome, limit: int = MAX_RESULT_BYTES) -> bytes:
    """The result's JSON; one over ``limit`` is sent as a failure with each step's output cut."""
    body = outcome.to_json().encode("utf-8")
    if len(body) <= limit:
        return body
    steps = tuple(
        replace(step, output=step.output[-_KEPT_OUTPUT_CHARS:], stdout="", truncated=True)
        for step in outcome.steps
    )
    error = (
        f"the result of this Terraform Job ({len(body)} bytes) is over the {limit}-byte limit the bot "
        "accepts; each step's output was cut to its end"
    )
    return JobOutcome(operation=outcome.operation, steps=steps, error=error).to_json().encode("utf-8")


async def _execute(spec: JobSpec, callback: Callback) -> int:
    bundle = await asyncio.to_thread(callback.fetch_bundle)
    root = Path(tempfile.mkdtemp(prefix="gitops-bot-job-"))
    try:
        try:
            await asyncio.to_thread(extract_bundle, bundle, root)
        except BundleError as error:
            outcome = _failed(spec, f"the Terraform Job could not unpack its work tree: {error}")
        else:
            outcome = await run_operation(spec, root, runner_for(spec))
        said = await asyncio.to_thread(callback.send_result, encode(outcome))
    finally:
        await asyncio.to_thread(shutil.rmtree, root, True)
    print(said, file=sys.stderr, flush=True)
    return EXIT_DELIVERED


async def _main(spec: JobSpec, callback: Callback) -> int:
    task = asyncio.current_task()
    assert task is not None
    loop = asyncio.get_running_loop()
    # The bot deleted the Job: cancelling stops Terraform gracefully (SIGINT, then SIGKILL).
    with contextlib.suppress(NotImplementedError, RuntimeError):
        loop.add_signal_handler(signal.SIGTERM, task.cancel)
    try:
        return await _execute(spec, callback)
    except asyncio.CancelledError:
        print("stopped (SIGTERM): the bot no longer waits for this run", file=sys.stderr, flush=True)
        return EXIT_STOPPED


def main(environ: Mapping[str, str] | None = None) -> int:
    """``gitops-bot terraform-job``: the exit code (see the module's docstring)."""
    try:
        callback, spec = take_environment(os.environ if environ is None else dict(environ))
        return asyncio.run(_main(spec, callback))
    except PodFailure as failure:
        print(f"gitops-bot terraform-job: {failure}", file=sys.stderr, flush=True)
        return failure.exit_code
