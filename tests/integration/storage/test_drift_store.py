from __future__ import annotations

from datetime import UTC, datetime

from bot.storage.db import Database
from bot.terraform.drift_store import DriftRecord, DriftStore

REPO = "acme/infra"
FIRST = datetime(2026, 12, 5, 6, 0, 5, tzinfo=UTC)
SECOND = datetime(2026, 12, 5, 12, 0, 7, tzinfo=UTC)


def test_one_row_per_project_holding_its_latest_check(database: Database) -> None:
    store = DriftStore(database)
    drifted = DriftRecord(
        REPO, "staging", "terraform/staging", "default", "drift", "Plan: 1 to add", "a" * 40, 7
    )
    store.record(drifted, now=FIRST)
    store.record(DriftRecord(REPO, "prod", "terraform/prod", "blue", "failed", "boom", None, None), now=FIRST)
    clean = DriftRecord(
        REPO, "staging", "terraform/staging", "default", "no_drift", "No changes", "b" * 40, None
    )
    store.record(clean, now=SECOND)

    assert store.last_checked(REPO) == {"staging": SECOND, "prod": FIRST}
    assert store.last_checked("acme/other") == {}
    assert [(r.project, r.status, r.issue_number) for r in store.latest(REPO)] == [
        ("prod", "failed", None),
        ("staging", "no_drift", None),
    ]
    assert store.get(REPO, "staging") == DriftRecord(
        REPO, "staging", "terraform/staging", "default", "no_drift", "No changes", "b" * 40, None, SECOND
    )
    assert store.get(REPO, "missing") is None
