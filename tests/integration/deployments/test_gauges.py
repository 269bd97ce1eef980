"""``read_gauges`` on SQLite and PostgreSQL: each deployment name's newest version, state and
rollbacks, and the canary series of the current analyses only."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from bot.deployments.gauges import CANARY_SERIES_KEEP, RECENT_INTERVALS, read_gauges
from bot.metrics import CanarySeries, DeploymentSeries
from bot.storage.db import Database
from bot.storage.models import Analysis, AnalysisInterval, Deployment

NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
REPO = "acme/gitops"


def add_deployment(database: Database, name: str, version: str, status: str, **more: Any) -> int:
    with database.transaction() as session:
        row = Deployment(
            repo=more.pop("repo", REPO), name=name, version=version, status=status,
            merge_commit_sha=f"{name}-{version}", merged_at=NOW, updated_at=NOW, details={}, **more,
        )  # fmt: skip
        session.add(row)
        session.flush()
        return row.id


def add_analysis(
    database: Database, deployment_id: int, status: str, *intervals: dict[str, Any], finished: datetime | None
) -> int:
    with database.transaction() as session:
        analysis = Analysis(
            deployment_id=deployment_id, status=status, config={}, started_at=NOW - timedelta(hours=3),
            finished_at=finished,
        )  # fmt: skip
        session.add(analysis)
        session.flush()
        for index, evidence in enumerate(intervals):
            session.add(
                AnalysisInterval(
                    analysis_id=analysis.id, index=index, at=NOW, verdict="pass", measurements=evidence
                )
            )
        return analysis.id


def measured(value: float, metric: str = "error_rate", **more: Any) -> dict[str, Any]:
    return {"source": "prometheus", "measurements": [{"metric": metric, "value": value, "max": 0.05, **more}]}


ALERT = {"source": "alertmanager", "measurements": [{"metric": "alert:HighErrors", "value": None}]}


def test_an_empty_database_says_nothing(database: Database) -> None:
    gauges = read_gauges(database, NOW)
    assert gauges.deployments == () and gauges.canaries == ()


def test_newest_version_and_state_per_name_and_rollbacks_counted(database: Database) -> None:
    add_deployment(database, "chat", "1.0.0", "rolled_back", rollback_pr_number=7)
    add_deployment(database, "chat", "1.1.0", "rolled_back", rollback_pr_number=9)
    add_deployment(database, "chat", "1.2.0", "analysing")
    add_deployment(database, "embed", "2.0.0", "superseded")
    add_deployment(database, "embed", "2.1.0", "rolling_back")  # revert not opened yet: not counted
    add_deployment(database, "chat", "9.0.0", "passed", repo="acme/other")
    gauges = read_gauges(database, NOW)
    assert sorted(gauges.deployments, key=lambda d: (d.repo, d.deployment)) == [
        DeploymentSeries("acme/gitops", "chat", "1.2.0", "analysing", 2),
        DeploymentSeries("acme/gitops", "embed", "2.1.0", "rolling_back", 0),
        DeploymentSeries("acme/other", "chat", "9.0.0", "passed", 0),
    ]


def test_canary_series_of_current_analyses_only(database: Database) -> None:
    # chat: the older version's analysis was cancelled when 1.1.0 merged; only 1.1.0's counts.
    old = add_deployment(database, "chat", "1.0.0", "superseded")
    add_analysis(database, old, "cancelled", measured(0.5), finished=NOW - timedelta(minutes=1))
    chat = add_deployment(database, "chat", "1.1.0", "analysing")
    # An alert's failed interval came after the last measured one: the measured values stay shown.
    add_analysis(database, chat, "running", measured(0.01), measured(0.02), ALERT, finished=None)
    # embed: ended just now, still shown; rank: ended too long ago, gone.
    embed = add_deployment(database, "embed", "2.0.0", "failed")
    add_analysis(database, embed, "failed", measured(0.3, "p95"), finished=NOW - timedelta(minutes=5))
    rank = add_deployment(database, "rank", "3.0.0", "passed")
    add_analysis(
        database, rank, "passed", measured(0.01), finished=NOW - CANARY_SERIES_KEEP - timedelta(seconds=1)
    )
    # A readiness gate still waiting: no interval, no series.
    gate = add_deployment(database, "gate", "1.0.0", "analysing")
    add_analysis(database, gate, "waiting_rollout", finished=None)

    gauges = read_gauges(database, NOW)
    assert sorted(gauges.canaries, key=lambda c: c.deployment) == [
        CanarySeries(REPO, "chat", "1.1.0", "error_rate", 0.02, None, 0.05, None),
        CanarySeries(REPO, "embed", "2.0.0", "p95", 0.3, None, 0.05, None),
    ]


def test_the_newest_analysis_of_a_deployment_is_the_one_shown(database: Database) -> None:
    chat = add_deployment(database, "chat", "1.1.0", "analysing")
    add_analysis(database, chat, "stopped_inconclusive", measured(0.9), finished=NOW - timedelta(minutes=2))
    add_analysis(database, chat, "running", measured(0.04), finished=None)
    (series,) = read_gauges(database, NOW).canaries
    assert series.value == 0.04


def test_a_long_analysis_is_read_from_its_last_intervals(database: Database) -> None:
    chat = add_deployment(database, "chat", "1.1.0", "analysing")
    history = [measured(index / 1000) for index in range(30)]
    add_analysis(database, chat, "running", *history, ALERT, ALERT, finished=None)
    (series,) = read_gauges(database, NOW).canaries
    assert series.value == 0.029
    embed = add_deployment(database, "embed", "2.0.0", "failed")
    add_analysis(database, embed, "failed", measured(0.5), *[ALERT] * RECENT_INTERVALS, finished=NOW)
    assert [c.deployment for c in read_gauges(database, NOW).canaries] == ["chat"]
