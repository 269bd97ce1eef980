"""Terraform runs' rows on SQLite and PostgreSQL: start, lines in batches, one end, listings, purge;
and the output sink that writes them (batches, the line cap, a database that fails)."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from bot.cancellation import JobCancelled
from bot.services import build_services
from bot.settings import Settings
from bot.storage.db import Database
from bot.storage.models import TerraformRunLine, TerraformRunStatus
from bot.terraform.projects import ProjectTarget
from bot.terraform.results import ProjectResult
from bot.terraform.runs import FLUSH_LINES, CommandOf, RunOutput, command_runs, truncation_notice
from bot.terraform.runs_store import NewRun, RunLine, TerraformRuns

NOW = datetime(2026, 12, 14, 9, 0, 0, tzinfo=UTC)
STAGING = ProjectTarget(name="staging", dir="terraform/staging", workspace="default")
PROD = ProjectTarget(name="prod", dir="terraform/prod", workspace="default")


def new_run(number: int = 7, *, repo: str = "acme/infra", command: str = "plan") -> NewRun:
    url = f"https://github.example/{repo}/pull/{number}"
    return NewRun(repo, number, url, "staging", "terraform/staging", "default", command, "a" * 40, "dev")


class Clock:
    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> datetime:
        return self.now


def stored_lines(database: Database) -> int:
    with database.sessions() as session:
        return int(session.scalar(select(func.count()).select_from(TerraformRunLine)) or 0)


def test_a_run_starts_running_takes_its_lines_in_order_and_ends_once(database: Database) -> None:
    clock = Clock()
    runs = TerraformRuns(database, clock=clock)
    run = runs.start(new_run())
    assert (run.status, run.running, run.line_count, run.truncated, run.started_at) == (
        "running", True, 0, False, NOW,
    )  # fmt: skip
    assert (run.pr_url, run.label, run.finished_at, run.outcome, run.headline) == (
        "https://github.example/acme/infra/pull/7", "staging", None, None, "",
    )  # fmt: skip
    runs.append(run.id, [RunLine(1, "init", "Initializing…"), RunLine(2, "init", "")])
    runs.append(run.id, [RunLine(3, "plan", "Plan: 1 to add, 0 to change, 0 to destroy.")])
    assert runs.get(run.id).line_count == 3
    assert runs.lines(run.id) == [
        RunLine(1, "init", "Initializing…"),
        RunLine(2, "init", ""),
        RunLine(3, "plan", "Plan: 1 to add, 0 to change, 0 to destroy."),
    ]
    assert [x.seq for x in runs.lines(run.id, after=1, limit=1)] == [2]
    now, lines = runs.since(run.id, after=2, limit=10)
    assert now is not None and now.running and [x.seq for x in lines] == [3]

    clock.now = NOW + timedelta(seconds=42)
    assert runs.finish(run.id, TerraformRunStatus.SUCCEEDED, outcome="planned", headline="Plan: 1 to add.")
    # The first end stands: a late "cancelled" does not overwrite it.
    assert not runs.finish(run.id, TerraformRunStatus.CANCELLED, outcome=None, headline="stopped")
    ended = runs.get(run.id)
    assert (ended.status, ended.outcome, ended.headline, ended.finished_at) == (
        "succeeded", "planned", "Plan: 1 to add.", NOW + timedelta(seconds=42),
    )  # fmt: skip
    assert runs.get(run.id + 1000) is None and runs.since(run.id + 1000, after=0, limit=5) == (None, [])


def test_runs_list_newest_first_by_pull_request_and_continue_after_a_run(database: Database) -> None:
    clock = Clock()
    runs = TerraformRuns(database, clock=clock)
    made = []
    for minute, (repo, number) in enumerate([("acme/infra", 7), ("acme/infra", 8), ("acme/other", 7)] * 2):
        clock.now = NOW + timedelta(minutes=minute)
        made.append(runs.start(new_run(number, repo=repo)))
    newest = [run.id for run in reversed(made)]
    assert [run.id for run in runs.newest(10)] == newest
    assert [run.id for run in runs.newest(10, repo="acme/infra", pr_number=7)] == [made[3].id, made[0].id]
    first = runs.newest(2)
    rest = runs.newest(10, before=(first[-1].started_at, first[-1].id))
    assert [run.id for run in first + rest] == newest


def test_purge_drops_old_runs_with_their_lines(database: Database) -> None:
    clock = Clock()
    runs = TerraformRuns(database, clock=clock)
    old = runs.start(new_run(1))
    runs.append(old.id, [RunLine(1, "plan", "old")], truncated=True)
    assert runs.get(old.id).truncated
    clock.now = NOW + timedelta(days=8)
    kept = runs.start(new_run(2))
    runs.append(kept.id, [RunLine(1, "plan", "new")])
    assert runs.purge(NOW + timedelta(days=1)) == 1
    assert runs.get(old.id) is None and runs.lines(old.id) == [] and runs.get(kept.id) is not None
    assert stored_lines(database) == 1


class Ticks:
    """A monotonic clock the test moves."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_output_is_redacted_and_written_in_batches(database: Database) -> None:
    runs = TerraformRuns(database)
    run = runs.start(new_run())
    logged: list[tuple[str, str]] = []
    ticks = Ticks()
    redact = lambda text: text.replace("hunter2", "[redacted]")  # noqa: E731
    output = RunOutput(runs, run.id, redact=redact, also=lambda s, x: logged.append((s, x)), clock=ticks)
    output("init", "password hunter2")  # the first line is written at once
    assert runs.lines(run.id) == [RunLine(1, "init", "password [redacted]")]
    for n in range(FLUSH_LINES - 1):  # within the half second: kept until the batch is full
        output("plan", f"line {n}")
    assert runs.get(run.id).line_count == 1
    output("plan", "the fiftieth")
    assert runs.get(run.id).line_count == FLUSH_LINES + 1
    output("plan", "quiet")
    assert runs.get(run.id).line_count == FLUSH_LINES + 1
    ticks.now += 0.6  # a line after a quiet spell goes at once, with the ones before it
    output("plan", "after a pause")
    assert runs.get(run.id).line_count == FLUSH_LINES + 3
    output("show", "last")
    output.close()
    assert [x.line for x in runs.lines(run.id, after=FLUSH_LINES + 2)] == ["after a pause", "last"]
    assert logged[0] == ("init", "password hunter2") and len(logged) == FLUSH_LINES + 4


def test_lines_followed_by_silence_are_written_from_the_runners_loop(database: Database) -> None:
    runs = TerraformRuns(database)
    run = runs.start(new_run())
    output = RunOutput(runs, run.id, redact=str)

    async def terraform() -> list[int]:
        output("plan", "first")  # written at once
        output("plan", "second")  # waits for the timer: Terraform says nothing for a while
        seen = [runs.get(run.id).line_count]
        await asyncio.sleep(0.8)
        return [*seen, runs.get(run.id).line_count]

    started = time.monotonic()
    assert asyncio.run(terraform()) == [1, 2]
    assert time.monotonic() - started < 5


def test_output_stops_at_the_cap_with_a_marker(database: Database) -> None:
    runs = TerraformRuns(database)
    run = runs.start(new_run())
    output = RunOutput(runs, run.id, redact=str, max_lines=5)
    for n in range(12):
        output("plan", f"line {n}")
    output.close()
    lines = runs.lines(run.id)
    assert [x.line for x in lines] == [f"line {n}" for n in range(5)] + [truncation_notice(5)]
    assert lines[-1].step == "bot"
    stored = runs.get(run.id)
    assert (stored.truncated, stored.line_count) == (True, 6)


def test_a_failing_database_loses_the_output_not_the_run(database: Database) -> None:
    runs = TerraformRuns(database)
    run = runs.start(new_run())
    output = RunOutput(runs, run.id + 1000, redact=str)  # no such run: its lines break the foreign key
    logged: list[str] = []
    output.also = lambda step, line: logged.append(line)
    output("plan", "one")
    output("plan", "two")
    output.close()
    assert output.broken and logged == ["one", "two"]
    assert runs.lines(run.id + 1000) == []


@pytest.fixture
def services(database_url: str):
    built = build_services(Settings(_env_file=None, database_url=database_url))
    yield built
    built.close()


def test_a_commands_runs_end_with_their_results_or_with_the_command(services) -> None:
    runs = TerraformRuns(services.database)
    of = CommandOf("acme/infra", 7, None, "b" * 40, "plan", "dev")
    with command_runs(services, of) as command:
        command.start(STAGING)("plan", "Plan: 1 to add")
        command.start(PROD)
        result = command.finish(ProjectResult(STAGING, "planned", "Plan: 1 to add."))
    staging, prod = sorted(runs.newest(10), key=lambda run: run.project != "staging")
    assert result.run_id == staging.id and (staging.status, staging.outcome) == ("succeeded", "planned")
    assert runs.lines(staging.id) == [RunLine(1, "plan", "Plan: 1 to add")]
    # A project started and never given a result did not succeed.
    assert (prod.status, prod.headline) == ("failed", "plan ended without a result")

    with pytest.raises(JobCancelled), command_runs(services, of) as command:
        command.start(STAGING)
        raise JobCancelled("cancelled by dev")
    assert runs.newest(1)[0].status == "cancelled"
    with pytest.raises(RuntimeError), command_runs(services, of) as command:
        command.start(STAGING)
        command.finish(ProjectResult(STAGING, "failed", "terraform init failed"))
        raise RuntimeError("the database went away")
    assert (runs.newest(1)[0].status, runs.newest(1)[0].outcome) == ("failed", "failed")
