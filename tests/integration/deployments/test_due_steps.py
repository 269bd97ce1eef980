"""One job per tick measures every due analysis: offered once while it is unfinished, each
interval stored once at the index it was measured for, one unreadable analysis not stopping
the others. Prometheus here is a closed port: every interval is measured as unreachable
(inconclusive), which is all the batching needs; the verdicts are tested in test_canary_flow."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select, update

from bot.canary import IntervalResult
from bot.canary.defaults import VllmDefaults
from bot.config import load_repo_config
from bot.deployments.analysis import append_interval, append_intervals
from bot.deployments.due_steps import BATCH_HANDLER, enqueue_due_steps, measure_due
from bot.deployments.plan import analysis_plan
from bot.services import Services, build_services
from bot.settings import Settings
from bot.storage.models import Analysis, AnalysisInterval, Deployment, Job
from bot.storage.types import utcnow

REPO = "acme/gitops"


def _services(database_url: str) -> Services:
    # A closed port: every query answers "unreachable" at once.
    return build_services(
        Settings(_env_file=None, database_url=database_url, prometheus_url="http://127.0.0.1:9")
    )


def _analyses(services: Services, count: int) -> list[int]:
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
    with services.database.transaction() as session:
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
