"""Durable Terraform runs: each project's plan or apply, its output as it comes, and its result.

``planning`` and ``applying`` open :func:`command_runs` around their Terraform; each project's
run starts (a ``terraform_runs`` row, :mod:`bot.terraform.runs_store`) just before its Terraform
does and gets a :class:`RunOutput` as its ``on_line``: every line redacted, into the job's log as
before, and into the run's rows in small batches. The console's ``/runs/{id}`` follows those rows
live; the commit statuses ``gitops-bot/plan|apply`` link to them (:func:`status_link`).

Recording output must never stop or slow Terraform for long: lines are written from the thread
the runner calls back on (its event loop, so no locking and no thread of our own) in batches of
:data:`FLUSH_LINES` or every :data:`FLUSH_SECONDS`; a failing write is logged and the run's
output stops being recorded, nothing more. At most :data:`MAX_LINES` lines are kept per run.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import timedelta
from typing import TYPE_CHECKING
from urllib.parse import urlencode

import structlog
from sqlalchemy.exc import SQLAlchemyError

from bot.cancellation import JobCancelled
from bot.storage.models import TerraformRunStatus
from bot.storage.types import utcnow
from bot.terraform.projects import ProjectTarget
from bot.terraform.results import ProjectResult
from bot.terraform.runs_store import NewRun, RunLine, TerraformRuns

if TYPE_CHECKING:
    from bot.services import Services

log = structlog.get_logger("gitops_bot.terraform")

FLUSH_LINES = 50
FLUSH_SECONDS = 0.5
MAX_LINES = 20_000
TRUNCATED_STEP = "bot"
SUCCEEDED_OUTCOMES = frozenset({"planned", "no_changes", "applied"})
# A run still "running" this long after its timeouts has no process left to end it.
STALE_MARGIN_SECONDS = 15 * 60

LineSink = Callable[[str, str], None]


def truncation_notice(limit: int) -> str:
    return f"[output truncated: only the first {limit} lines of this run are kept]"


class RunOutput:
    """One run's ``on_line(step, line)``: redacted, to the job log (``also``) and the run's rows."""

    def __init__(
        self,
        store: TerraformRuns,
        run_id: int,
        *,
        redact: Callable[[str], str],
        also: LineSink | None = None,
        max_lines: int = MAX_LINES,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.store = store
        self.run_id = run_id
        self.redact = redact
        self.also = also
        self.max_lines = max_lines
        self.clock = clock
        self.seq = 0
        self.pending: list[RunLine] = []
        self.truncated = False
        self.broken = False
        # The first line, and any line after a quiet spell, is written at once: a live page shows it.
        self.flushed_at = -math.inf
        self.timer: asyncio.TimerHandle | None = None

    def __call__(self, step: str, line: str) -> None:
        if self.also is not None:
            self.also(step, line)
        if self.broken or self.truncated:
            return
        if self.seq >= self.max_lines:
            self.truncated = True
            self._add(TRUNCATED_STEP, truncation_notice(self.max_lines))
            self.flush()
            return
        self._add(step, self.redact(line))
        if len(self.pending) >= FLUSH_LINES or self.clock() - self.flushed_at >= FLUSH_SECONDS:
            self.flush()
        else:
            self._flush_later()

    def _add(self, step: str, line: str) -> None:
        self.seq += 1
        self.pending.append(RunLine(self.seq, step[:16], line))

    def _flush_later(self) -> None:
        """Lines followed by silence are written after FLUSH_SECONDS, on the runner's own loop."""
        if self.timer is not None:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # called outside an event loop: the next line or close() writes them
            return
        self.timer = loop.call_later(FLUSH_SECONDS, self._timed_flush)

    def _timed_flush(self) -> None:
        self.timer = None
        self.flush()

    def flush(self) -> None:
        self.flushed_at = self.clock()
        if not self.pending and not self.truncated:
            return
        batch, self.pending = self.pending, []
        if self.broken:
            return
        try:
            self.store.append(self.run_id, batch, truncated=self.truncated)
        except SQLAlchemyError:
            # The run goes on without its console output; the job log still has every line.
            log.exception("terraform.run_output_lost", run_id=self.run_id)
            self.broken = True

    def close(self) -> None:
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None
        if self.pending:
            self.flush()


@dataclass(frozen=True)
class CommandOf:
    """The command whose projects' runs are recorded: one ``plan`` or ``apply`` on a pull request."""

    repo: str
    number: int
    pr_url: str | None
    head_sha: str
    command: str  # plan | apply
    requested_by: str


class CommandRuns:
    """The runs of one command's projects, by target key."""

    def __init__(self, services: Services, of: CommandOf) -> None:
        self.store = TerraformRuns(services.database)
        self.redact = services.redactor().redact
        self.of = of
        self.outputs: dict[str, RunOutput] = {}

    def start(self, target: ProjectTarget, also: LineSink | None = None) -> RunOutput:
        """The target's run starts now; its ``on_line``."""
        of = self.of
        where = (target.name, target.dir, target.workspace)
        new = NewRun(of.repo, of.number, of.pr_url, *where, of.command, of.head_sha, of.requested_by)
        run = self.store.start(new)
        output = RunOutput(self.store, run.id, redact=self.redact, also=also)
        self.outputs[target.key] = output
        return output

    def finish(self, result: ProjectResult) -> ProjectResult:
        """The project's run ends with its result; the result, knowing its run."""
        output = self.outputs.pop(result.target.key, None)
        if output is None:
            return result
        output.close()
        ok = result.status in SUCCEEDED_OUTCOMES
        status = TerraformRunStatus.SUCCEEDED if ok else TerraformRunStatus.FAILED
        self.store.finish(output.run_id, status, outcome=result.status, headline=self.redact(result.headline))
        return replace(result, run_id=output.run_id)

    def end_open(self, status: TerraformRunStatus, headline: str) -> None:
        """Every run not finished yet ends (the command stopped or failed before their results)."""
        for output in self.outputs.values():
            output.close()
            self.store.finish(output.run_id, status, outcome=None, headline=headline)
        self.outputs.clear()


@contextmanager
def command_runs(services: Services, of: CommandOf) -> Iterator[CommandRuns]:
    """The command's runs; any still running when it stops (cancelled, or an error) end with it."""
    runs = CommandRuns(services, of)
    try:
        yield runs
    except JobCancelled:
        runs.end_open(TerraformRunStatus.CANCELLED, f"{of.command} stopped")
        raise
    except BaseException:
        runs.end_open(TerraformRunStatus.FAILED, f"{of.command} ended with an error")
        raise
    # Projects started and never given a result (none expected): they did not succeed.
    runs.end_open(TerraformRunStatus.FAILED, f"{of.command} ended without a result")


# -- links ----------------------------------------------------------------------------------------


def console_url(public_url: str | None, path: str) -> str | None:
    """An absolute console link (``GITOPS_BOT_PUBLIC_URL``); None without one (GitHub takes no
    relative ``target_url``)."""
    base = (public_url or "").rstrip("/")
    return f"{base}{path}" if base else None


def pull_runs_path(repo: str, number: int) -> str:
    return "/runs?" + urlencode({"repo": repo, "pr": number})


def status_link(public_url: str | None, repo: str, number: int, run_ids: Sequence[int]) -> str | None:
    """Where a command's commit status links: its one run, or the pull request's runs when the
    command ran several projects (or none yet: the pending status, before they start)."""
    if len(run_ids) == 1:
        return console_url(public_url, f"/runs/{run_ids[0]}")
    return console_url(public_url, pull_runs_path(repo, number))


def results_link(
    public_url: str | None, repo: str, number: int, results: Sequence[ProjectResult]
) -> str | None:
    """The final status's link: the runs the command made (None when it ran no Terraform)."""
    run_ids = [result.run_id for result in results if result.run_id is not None]
    return status_link(public_url, repo, number, run_ids) if run_ids else None


def run_urls(public_url: str | None, results: Sequence[ProjectResult]) -> dict[str, str]:
    """Each result's run link by target key (what the plan comment shows), when the bot has a URL."""
    links = {r.target.key: console_url(public_url, f"/runs/{r.run_id}") for r in results if r.run_id}
    return {key: url for key, url in links.items() if url is not None}


STALE_HEADLINE = "the bot stopped before this run ended (a restart?); its output ends there"


def purge_runs(services: Services) -> int:
    """Drop the runs older than the saved plans' TTL (a run's output is kept as long as its plan),
    and end the runs still "running" long after any Terraform would have been stopped."""
    settings = services.settings
    longest = settings.terraform_init_timeout_seconds + max(
        settings.terraform_plan_timeout_seconds, settings.terraform_apply_timeout_seconds
    )
    now = utcnow()
    runs = TerraformRuns(services.database)
    runs.end_stale(now - timedelta(seconds=longest + STALE_MARGIN_SECONDS), STALE_HEADLINE)
    return runs.purge(now - timedelta(seconds=settings.terraform_plan_ttl_seconds))
