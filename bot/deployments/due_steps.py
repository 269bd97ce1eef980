"""Which analyses are due, and the one job per scheduler tick that measures all of them.

The leader's periodic task (every second) reads the due analyses. A readiness poll (an analysis
``waiting_rollout``) is a job of its own, deduplicated by its due time: it talks to Kubernetes.
Every due measurement is left to one *batch* job, offered only while no other batch job is
queued or running, so a tick never doubles the work of a slow one: the next batch starts after
it and takes whatever fell due meanwhile. The batch reads every due analysis in one query, sends
all their queries together (``PrometheusQueries.query_many``: each distinct query once, up to
``BATCH_MAX_QUERIES`` in one request), judges each, and writes every interval in one transaction
(``append_intervals``: one savepoint per analysis). Each interval is stored only at the index it
was measured for, so two leaders offering a batch at once, or an alert landing in between, still
store every interval once.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime

import structlog
from sqlalchemy import exists, func, select
from sqlalchemy.orm import Session

from bot.deployments import plan as plans
from bot.deployments.analysis import STEP_HANDLER, MeasuredInterval, append_intervals, measure_interval
from bot.deployments.due_check import LastRead, read_reason
from bot.deployments.plan import AnalysisPlan
from bot.queue import JobOffer
from bot.services import Services
from bot.storage.models import Analysis, AnalysisInterval, Job, JobStatus
from bot.storage.types import utcnow

log = structlog.get_logger("gitops_bot.deployments")

BATCH_HANDLER = "deployments.analysis_batch"


def step_dedupe_key(analysis_id: int, next_run_at: datetime) -> str:
    # Each readiness poll is its own step; its due time tells the polls apart.
    return f"analysis:{analysis_id}:rollout:{int(next_run_at.timestamp() * 1000)}"


def check_due_steps(services: Services) -> int:
    """The leader's periodic task: :func:`enqueue_due_steps`, unless nothing can be due yet.

    What the last read learned is kept in ``services.due_check``, and
    :func:`bot.deployments.due_check.read_reason` decides whether to read again: an idle bot then
    reads once per lease renewal on SQLite (the renewal writes the file), and every
    ``SAFETY_READ_SECONDS`` on PostgreSQL."""
    state = services.due_check
    signalled = state.take_signal()
    token = services.database.change_token()
    reason = read_reason(
        state.last,
        now=utcnow(),
        monotonic=time.monotonic(),
        token=token,
        listening=state.listening,
        signalled=signalled,
    )
    if reason is None:
        return 0
    started = time.monotonic()
    offered, earliest = _enqueue_due_steps(services, utcnow())
    state.last = LastRead(earliest=earliest, token=token, at=started)
    return offered


def enqueue_due_steps(services: Services, now: datetime | None = None) -> int:
    """Offer the jobs for what is due: a readiness poll per analysis waiting for its rollout, and
    one batch job for every due measurement. Returns how many jobs were added."""
    offered, _earliest = _enqueue_due_steps(services, now or utcnow())
    return offered


def _enqueue_due_steps(services: Services, now: datetime) -> tuple[int, datetime | None]:
    """The jobs added, and the earliest ``next_run_at`` of an active analysis as first read."""
    earliest_query = select(func.min(Analysis.next_run_at)).where(
        Analysis.status.in_(plans.ACTIVE_ANALYSIS), Analysis.next_run_at.is_not(None)
    )
    # Nearly always nothing is due: a read, not a write transaction (idle costs).
    with services.database.reads() as session:
        earliest = session.execute(earliest_query).scalar()
    if earliest is None or earliest > now:
        return 0, earliest
    return _offer_due(services, now), earliest


def _offer_due(services: Services, now: datetime) -> int:
    due_query = (
        select(Analysis.id, Analysis.status, Analysis.next_run_at)
        .where(Analysis.status.in_(plans.ACTIVE_ANALYSIS), Analysis.next_run_at <= now)
        .order_by(Analysis.next_run_at)
    )
    with services.database.transaction() as session:
        due = session.execute(due_query).all()
        if not due:
            return 0
        offers = [
            JobOffer(
                STEP_HANDLER,
                payload={"analysis_id": analysis_id, "index": None},
                dedupe_key=step_dedupe_key(analysis_id, next_run_at),
            )
            for analysis_id, status, next_run_at in due
            if status == "waiting_rollout"
        ]
        if any(status == "running" for _id, status, _at in due) and not _batch_unfinished(session):
            offers.append(
                JobOffer(BATCH_HANDLER, dedupe_key=f"{BATCH_HANDLER}:{int(now.timestamp() * 1000)}")
            )
        return services.queue.offer_many(session, offers, now=now)


def _batch_unfinished(session: Session) -> bool:
    unfinished = exists().where(
        Job.handler == BATCH_HANDLER, Job.status.in_([JobStatus.QUEUED, JobStatus.RUNNING])
    )
    return bool(session.execute(select(unfinished)).scalar())


@dataclass(frozen=True)
class DueMeasurement:
    analysis_id: int
    plan: AnalysisPlan
    index: int  # the interval it measures: how many are stored
    first_on_step: int


def due_measurements(services: Services, now: datetime) -> list[DueMeasurement]:
    """Every running analysis whose interval is due, with its plan and interval count, in one read."""
    count = (
        select(func.count(AnalysisInterval.id))
        .where(AnalysisInterval.analysis_id == Analysis.id)
        .scalar_subquery()
    )
    statement = (
        select(Analysis.id, Analysis.config, Analysis.step_first_interval, count)
        .where(Analysis.status == "running", Analysis.next_run_at <= now)
        .order_by(Analysis.next_run_at, Analysis.id)
    )
    with services.database.reads() as session:
        rows = session.execute(statement).all()
    due: list[DueMeasurement] = []
    for analysis_id, config, first, index in rows:
        try:
            plan = AnalysisPlan.from_json(config)
        except Exception:  # a row no release of the bot wrote: the others are still measured
            log.exception("deployments.analysis_unreadable", analysis_id=analysis_id)
            continue
        due.append(DueMeasurement(analysis_id, plan, int(index), int(first or 0)))
    return due


def measure_due(services: Services, now: datetime | None = None) -> int:
    """The batch job: measure every due analysis, store the intervals; how many were stored."""
    now = now or utcnow()
    due = due_measurements(services, now)
    if not due:
        return 0
    outcomes = services.prometheus().query_many(
        [query for item in due for query in item.plan.queries()], at=now
    )
    measured: list[MeasuredInterval] = []
    for item in due:
        try:
            result, evidence = measure_interval(
                services, item.plan, outcomes, index=item.index, first_on_step=item.first_on_step, now=now
            )
        except Exception:  # one analysis's judge must not stop the others: it is measured again next tick
            log.exception("deployments.measurement_failed", analysis_id=item.analysis_id)
            continue
        measured.append((item.analysis_id, item.index, result, evidence))
    stored = append_intervals(services, measured)
    return sum(1 for appended in stored if appended is not None)


__all__ = [
    "BATCH_HANDLER",
    "DueMeasurement",
    "check_due_steps",
    "due_measurements",
    "enqueue_due_steps",
    "measure_due",
    "step_dedupe_key",
]
