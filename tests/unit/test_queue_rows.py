"""``JobQueue.job_row``: the one place a job row is built from what a producer offers (no I/O)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from bot.queue import JobOffer, JobQueue
from bot.storage.db import Database
from bot.storage.models import Job

NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
LATER = NOW + timedelta(minutes=5)


@pytest.fixture(scope="module")
def queue() -> JobQueue:
    # The engine connects lazily: building rows never touches this database.
    return JobQueue(Database("sqlite://"), max_attempts=5)


@pytest.mark.parametrize(
    ("offer", "expected"),
    [
        (
            JobOffer("h"),
            {"event_id": None, "payload": None, "dedupe_key": None, "run_after": NOW, "max_attempts": 5},
        ),
        (JobOffer("h", event_id=7), {"event_id": 7, "run_after": NOW}),
        (JobOffer("h", payload={"n": 1}, dedupe_key="tick:1"), {"payload": {"n": 1}, "dedupe_key": "tick:1"}),
        (JobOffer("h", run_after=LATER, max_attempts=2), {"run_after": LATER, "max_attempts": 2}),
    ],
)
def test_a_row_holds_what_was_offered_and_the_queue_defaults(
    queue: JobQueue, offer: JobOffer, expected: dict[str, Any]
) -> None:
    row = queue.job_row(offer, NOW)
    assert {key: row[key] for key in expected} == expected
    assert row["handler"] == "h"
    assert row["status"] == "queued" and row["attempts"] == 0
    assert row["created_at"] == row["updated_at"] == NOW
    assert row["lease_owner"] is row["lease_expires_at"] is row["last_error"] is row["finished_at"] is None


def test_every_column_but_the_id_is_set(queue: JobQueue) -> None:
    # Rows of one executemany must all name the same columns, and none may be left to chance.
    columns = {column.name for column in Job.__table__.columns} - {"id"}
    assert set(queue.job_row(JobOffer("h"), NOW)) == columns


def test_the_payload_is_copied(queue: JobQueue) -> None:
    payload = {"n": 1}
    row = queue.job_row(JobOffer("h", payload=payload), NOW)
    payload["n"] = 2
    assert row["payload"] == {"n": 1}
