"""One job per tick measures every due analysis: offered once while it is unfinished, each
interval stored once at the index it was measured for, one unreadable analysis not stopping
the others. Prometheus here is a closed port: every interval is measured as unreachable
(inconclusive), which is all the batching needs; the verdicts are tested in test_canary_flow."""

from __future__ import annotations

import asyncio
import time
from datetime import timedelta

from sqlalchemy import event, select, update

from bot.canary import IntervalResult
from bot.canary.defaults import VllmDefaults
from bot.config import load_repo_config
from bot.deployments.analysis import append_interval, append_intervals
from bot.deployments.due_steps import BATCH_HANDLER, check_due_steps, enqueue_due_steps, measure_due
from bot.deployments.plan import analysis_plan
from bot.routing import Router
from bot.runtime import Runtime
from bot.services import Services, build_services
from bot.settings import Settings
from bot.storage.db import Database
from bot.storage.models import Analysis, AnalysisInterval, Deployment, Job
from bot.storage.types import utcnow

REPO = "acme/gitops"


def _services(database_url: str) -> Services:
    # A closed port: every query answers "unreachable" at once.
    return build_services(
        Settings(_env_file=None, database_url=database_url, prometheus_url="http://127.0.0.1:9")
    )


def _analyses(services: Services, count: int, *, database: Database | None = None) -> list[int]:
    """``count`` running analyses due now, written through ``database`` (another process's) if given."""
    config = load_repo_config(
        "version: 1\ndeployments:\n"
        + "".join(
            f"  - name: model-{n}\n    trigger: {{image: {{repository: r.example.com/m{n}}}}}\n"
            f"    targets: [{{file: v{n}.yaml, key: tag}}]\n"
            f"    canary: {{interval: 30s, duration: 1h}}\n"
            for n in range(count)
        )
    )
    now = utcnow()
    ids = []
    with (database or services.database).transaction() as session:
        for deployment in config.deployments:
            assert deployment.canary is not None
            plan = analysis_plan(
                repo=REPO, deployment=deployment, canary=deployment.canary, version="2.0.0",
                stable_version="1.0.0", defaults=VllmDefaults(),
            )  # fmt: skip
            row = Deployment(
                repo=REPO, name=deployment.name, version="2.0.0", previous_version="1.0.0",
                merge_commit_sha="0" * 40, merged_at=now, status="analysing", updated_at=now,
            )  # fmt: skip
            session.add(row)
            session.flush()
            analysis = Analysis(
                deployment_id=row.id, status="running", config=plan.to_json(), started_at=now, next_run_at=now
            )
            session.add(analysis)
            session.flush()
            ids.append(analysis.id)
    return ids


def _intervals(services: Services) -> dict[int, list[int]]:
    with services.database.sessions() as session:
        rows = session.execute(select(AnalysisInterval.analysis_id, AnalysisInterval.index)).all()
    found: dict[int, list[int]] = {}
    for analysis_id, index in rows:
        found.setdefault(analysis_id, []).append(index)
    return {key: sorted(value) for key, value in found.items()}


def _batch_jobs(services: Services) -> list[str]:
    with services.database.sessions() as session:
        return list(session.execute(select(Job.status).where(Job.handler == BATCH_HANDLER)).scalars())


def test_one_batch_job_is_offered_while_one_is_unfinished(database_url: str) -> None:
    services = _services(database_url)
    _analyses(services, 5)
    assert enqueue_due_steps(services) == 1
    # The next ticks find the same analyses due, and the batch still queued: nothing more.
    assert enqueue_due_steps(services, now=utcnow() + timedelta(seconds=1)) == 0
    assert _batch_jobs(services) == ["queued"]
    job = services.queue.claim("w")
    assert job is not None and job.handler == BATCH_HANDLER
    assert enqueue_due_steps(services, now=utcnow() + timedelta(seconds=2)) == 0  # running
    assert measure_due(services) == 5
    services.queue.complete(job)
    # Measured: the next interval is 30 s away, so nothing is due now, and nothing is offered.
    assert enqueue_due_steps(services, now=utcnow() + timedelta(seconds=3)) == 0
    assert enqueue_due_steps(services, now=utcnow() + timedelta(seconds=31)) == 1
    services.close()


def test_every_due_analysis_gets_one_interval_in_one_batch(database_url: str) -> None:
    services = _services(database_url)
    ids = _analyses(services, 12)
    assert measure_due(services) == 12
    assert _intervals(services) == {analysis_id: [0] for analysis_id in ids}
    assert measure_due(services) == 0  # none is due again before its interval
    later = utcnow() + timedelta(seconds=31)
    assert measure_due(services, now=later) == 12
    assert _intervals(services) == {analysis_id: [0, 1] for analysis_id in ids}
    with services.database.sessions() as session:
        verdicts = set(session.execute(select(AnalysisInterval.verdict)).scalars())
    assert verdicts == {"inconclusive"}
    services.close()


def test_an_alert_landing_first_keeps_its_index_and_the_measurement_is_not_doubled(
    database_url: str,
) -> None:
    services = _services(database_url)
    first, second = _analyses(services, 2)
    from bot.deployments import due_steps

    due = due_steps.due_measurements(services, utcnow())
    assert [item.index for item in due] == [0, 0]
    # An alert's failed interval takes index 0 of the first analysis before the batch writes.
    alert = IntervalResult(index=0, at=utcnow(), measurements=(), request_count=None, verdict="fail")
    assert append_interval(services, first, alert, alert.to_evidence()) is not None
    measured = IntervalResult(index=0, at=utcnow(), measurements=(), request_count=None, verdict="pass")
    stored = append_intervals(
        services, [(item.analysis_id, item.index, measured, measured.to_evidence()) for item in due]
    )
    # The first's measurement was for index 0, which the alert took: not stored (measured again
    # at its next tick); the second's is.
    assert [appended is not None for appended in stored] == [False, True]
    assert _intervals(services) == {first: [0], second: [0]}
    services.close()


def test_an_unreadable_analysis_does_not_stop_the_others(database_url: str) -> None:
    services = _services(database_url)
    broken, *healthy = _analyses(services, 3)
    with services.database.transaction() as session:
        session.execute(update(Analysis).where(Analysis.id == broken).values(config={"not": "a plan"}))
    assert measure_due(services) == 2
    assert set(_intervals(services)) == set(healthy)
    services.close()


# -- the leader's check reads only when something can be due (bot.deployments.due_check) --------


def _count_analysis_reads(services: Services) -> list[str]:
    """Every statement the bot sends that reads the analyses table, as it goes to the driver."""
    seen: list[str] = []

    @event.listens_for(services.database.engine, "before_cursor_execute")
    def _record(_conn, _cursor, statement: str, *_args: object) -> None:
        if statement.lstrip().upper().startswith("SELECT") and "analyses" in statement:
            seen.append(statement)

    return seen


async def _check_until(services: Services, predicate, timeout: float = 5.0) -> int:
    """Run the periodic check (in a thread, as the scheduler does) until ``predicate()``."""
    deadline = time.monotonic() + timeout
    offered = 0
    while time.monotonic() < deadline:
        offered += await asyncio.to_thread(check_due_steps, services)
        if predicate():
            return offered
        await asyncio.sleep(0.05)
    raise AssertionError("the check never read what changed")


async def test_the_check_reads_again_only_when_an_analysis_changes_or_falls_due(database_url: str) -> None:
    services = _services(database_url)
    # As `serve` runs it: the workers' listener (PostgreSQL) also rings the due check.
    runtime = Runtime(services, Router(), workers=True, scheduler=True)
    await runtime.start()
    try:
        if services.database.is_postgres:
            pool = runtime.pool
            assert pool is not None and pool.notifications is not None
            assert await asyncio.to_thread(pool.notifications.wait_listening, 10.0)
            assert services.due_check.listening  # and its ring on connecting has been given
        # The scheduler writes its lease as it starts: on SQLite that write changes the file.
        scheduler = runtime.scheduler
        assert scheduler is not None
        deadline = time.monotonic() + 10
        while not scheduler.is_leader and time.monotonic() < deadline:
            await asyncio.sleep(0.02)
        assert scheduler.is_leader
        reads = _count_analysis_reads(services)
        assert await asyncio.to_thread(check_due_steps, services) == 0
        assert len(reads) == 1  # the first read: nothing is active
        for _ in range(5):
            assert await asyncio.to_thread(check_due_steps, services) == 0
        assert len(reads) == 1, "an idle check read again with nothing changed"

        # Another process starts an analysis due now: the file changes, or PostgreSQL says so.
        other = Database(database_url)
        try:
            _analyses(services, 1, database=other)
        finally:
            other.dispose()
        offered = await _check_until(services, lambda: bool(_batch_jobs(services)))
        assert offered == 1 and len(_batch_jobs(services)) == 1  # the pool may have claimed it already
        # Due and not yet measured: every tick reads (the offer itself is deduplicated).
        before = len(reads)
        await asyncio.to_thread(check_due_steps, services)
        assert len(reads) > before
    finally:
        await runtime.stop()
        services.close()


def test_a_check_without_news_reads_when_the_earliest_due_time_comes(database_url: str) -> None:
    services = _services(database_url)
    (analysis_id,) = _analyses(services, 1)
    soon = utcnow() + timedelta(seconds=0.5)
    with services.database.transaction() as session:
        session.execute(update(Analysis).where(Analysis.id == analysis_id).values(next_run_at=soon))
    services.due_check.watch(lambda: True)  # as if PostgreSQL listened; no signal will come
    reads = _count_analysis_reads(services)
    assert check_due_steps(services) == 0  # first read: due in half a second
    assert services.due_check.last is not None and services.due_check.last.earliest == soon
    token = services.database.change_token()
    while utcnow() < soon:
        if services.database.change_token() == token:  # on SQLite a write elsewhere would also read
            assert check_due_steps(services) == 0
        time.sleep(0.05)
    assert len(reads) == 1
    assert check_due_steps(services) == 1  # due: read, and the batch offered
    assert _batch_jobs(services) == ["queued"]
    services.close()
