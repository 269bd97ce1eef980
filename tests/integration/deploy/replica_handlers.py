"""Handlers for the multi-replica test, loaded by real `gitops-bot serve`/`worker` processes
through ``GITOPS_BOT_HANDLERS=tests.integration.deploy.replica_handlers:router``.

Each registry push is one job whose side effect is a row in ``replica_effects``, written the
way the real handlers write theirs: idempotently, keyed by what the action is about (a pull
request is opened or updated by its head branch; here, the delivery), so a job retried after
its worker died cannot act twice. Every attempt is also logged in ``replica_runs`` (start and
finish, process id), and the scheduler's leader logs each tick of a periodic task in
``replica_ticks``, so the test can see who ran what, when.
"""

from __future__ import annotations

import os
import time

from sqlalchemy import text

from bot.jobs import HandlerContext
from bot.routing import Router
from bot.services import Services

# Seconds each job works: long enough that a SIGKILL lands mid-job.
JOB_SECONDS = float(os.environ.get("REPLICA_TEST_JOB_SECONDS", "0.2"))
TICK_EVERY = float(os.environ.get("REPLICA_TEST_TICK_EVERY", "0.2"))

TABLES = (
    """CREATE TABLE replica_runs (
        id BIGSERIAL PRIMARY KEY, delivery TEXT NOT NULL, job_id BIGINT NOT NULL, pid INTEGER NOT NULL,
        started_at TIMESTAMPTZ NOT NULL DEFAULT clock_timestamp(), finished_at TIMESTAMPTZ)""",
    """CREATE TABLE replica_effects (
        delivery TEXT PRIMARY KEY, pid INTEGER NOT NULL,
        at TIMESTAMPTZ NOT NULL DEFAULT clock_timestamp())""",
    """CREATE TABLE replica_ticks (
        id BIGSERIAL PRIMARY KEY, pid INTEGER NOT NULL,
        at TIMESTAMPTZ NOT NULL DEFAULT clock_timestamp())""",
)

router = Router()


@router.register("registry", "image", "pushed", name="replica_test.record")
def record(ctx: HandlerContext) -> None:
    assert ctx.event is not None
    delivery, pid = ctx.event.delivery_id, os.getpid()
    database = ctx.services.database
    with database.transaction() as session:
        run_id = session.execute(
            text("INSERT INTO replica_runs (delivery, job_id, pid) VALUES (:d, :j, :p) RETURNING id"),
            {"d": delivery, "j": ctx.job.id, "p": pid},
        ).scalar_one()
    time.sleep(JOB_SECONDS)
    with database.transaction() as session:
        session.execute(
            text(
                "INSERT INTO replica_effects (delivery, pid) VALUES (:d, :p)"
                " ON CONFLICT (delivery) DO NOTHING"
            ),
            {"d": delivery, "p": pid},
        )
        session.execute(
            text("UPDATE replica_runs SET finished_at = clock_timestamp() WHERE id = :id"), {"id": run_id}
        )


@router.periodic("replica_test.tick", every_seconds=TICK_EVERY)
def tick(services: Services) -> None:
    with services.database.transaction() as session:
        session.execute(text("INSERT INTO replica_ticks (pid) VALUES (:p)"), {"p": os.getpid()})
