"""The rows of Terraform Job runs on SQLite and PostgreSQL: tokens, expiry, one result, re-attach, purge."""

from __future__ import annotations

import hashlib
import threading
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from bot.adapters.terraform_jobs.store import JobRunRow, Refusal, TerraformJobRuns
from bot.storage.db import Database
from bot.storage.models import TerraformJobRun, TerraformJobRunStatus

NOW = datetime(2026, 12, 5, 12, 0, 0, tzinfo=UTC)
SPEC = {"version": 1, "operation": "plan", "directory": "terraform/staging"}
KEY = "a" * 64


def create(runs: TerraformJobRuns, key: str = KEY, *, ttl: float = 600, now: datetime = NOW, **kw):
    arguments = {
        "operation": "plan",
        "namespace": "terraform-runs",
        "job_name_prefix": "tf-plan-infra-staging",
        "spec": '{"version": 1, "operation": "plan", "directory": "terraform/staging"}',
        "bundle": b"\x1f\x8bbundle",
    }
    arguments.update(kw)
    return runs.create(key, ttl_seconds=ttl, now=now, **arguments)


def test_a_new_run_is_named_after_its_id_and_keeps_only_its_tokens_digest(database: Database) -> None:
    runs = TerraformJobRuns(database)
    row, token = create(runs)
    assert row == JobRunRow(
        id=row.id,
        run_key=KEY,
        operation="plan",
        namespace="terraform-runs",
        job_name=f"tf-plan-infra-staging-{row.id}",
        status=TerraformJobRunStatus.CREATED,
        spec=SPEC,
        created_at=NOW,
        expires_at=NOW + timedelta(seconds=600),
    )
    assert len(token) >= 43 and runs.get(row.id) == row
    second, other_token = create(runs, spec=SPEC)  # the spec as an object works too
    assert second.id != row.id and other_token != token and second.spec == SPEC
    with database.sessions() as session:
        stored = session.scalars(select(TerraformJobRun).where(TerraformJobRun.id == row.id)).one()
        assert stored.token_sha256 == hashlib.sha256(token.encode()).hexdigest()
        assert token not in repr(
            [getattr(stored, column.key) for column in TerraformJobRun.__table__.columns]
        )


def test_a_long_prefix_is_cut_to_a_dns_label(database: Database) -> None:
    row, _token = create(TerraformJobRuns(database), job_name_prefix="tf-" + "x" * 80)
    assert len(row.job_name) <= 63 and row.job_name.endswith(f"x-{row.id}")
    assert row.job_name.startswith("tf-xxx")


def test_the_bundle_goes_only_with_the_token_and_in_time(database: Database) -> None:
    runs = TerraformJobRuns(database)
    row, token = create(runs)
    assert runs.bundle(row.id, token, NOW) == b"\x1f\x8bbundle"
    assert runs.bundle(row.id, "wrong", NOW) is Refusal.UNAUTHORIZED
    assert runs.bundle(row.id, "", NOW) is Refusal.UNAUTHORIZED
    assert runs.bundle(row.id, None, NOW) is Refusal.UNAUTHORIZED
    assert runs.bundle(row.id + 1000, token, NOW) is Refusal.NOT_FOUND
    assert runs.bundle(row.id, token, NOW + timedelta(seconds=600)) is Refusal.EXPIRED
    # Someone else's token is no key to this run.
    other, other_token = create(runs)
    assert runs.bundle(row.id, other_token, NOW) is Refusal.UNAUTHORIZED
    runs.mark(other.id, "abandoned")
    assert runs.bundle(other.id, other_token, NOW) is Refusal.EXPIRED


def test_one_result_per_run(database: Database) -> None:
    runs = TerraformJobRuns(database)
    row, token = create(runs)
    assert runs.result(row.id) is None
    assert runs.authorize(row.id, token, NOW) == row
    assert runs.store_result(row.id, "wrong", b"{}", NOW) is Refusal.UNAUTHORIZED
    assert runs.store_result(row.id, token, b'{"first": 1}', NOW + timedelta(seconds=5)) == "stored"
    assert runs.result(row.id) == b'{"first": 1}'
    assert runs.get(row.id).status == TerraformJobRunStatus.FINISHED
    with database.sessions() as session:
        assert session.get(TerraformJobRun, row.id).finished_at == NOW + timedelta(seconds=5)
    assert runs.store_result(row.id, token, b'{"second": 2}', NOW) is Refusal.ALREADY_STORED
    assert runs.authorize(row.id, token, NOW) is Refusal.ALREADY_STORED
    assert runs.bundle(row.id, token, NOW) is Refusal.EXPIRED  # the run is over for its pod
    assert runs.result(row.id) == b'{"first": 1}'
    assert runs.store_result(row.id + 1000, token, b"{}", NOW) is Refusal.NOT_FOUND
    assert runs.result(row.id + 1000) is None


def test_no_result_after_expiry_or_once_abandoned(database: Database) -> None:
    runs = TerraformJobRuns(database)
    late, late_token = create(runs, ttl=60)
    assert runs.store_result(late.id, late_token, b"{}", NOW + timedelta(seconds=61)) is Refusal.EXPIRED
    assert runs.authorize(late.id, late_token, NOW + timedelta(seconds=61)) is Refusal.EXPIRED
    gone, gone_token = create(runs)
    runs.mark(gone.id, TerraformJobRunStatus.ABANDONED)
    assert runs.store_result(gone.id, gone_token, b"{}", NOW) is Refusal.EXPIRED
    assert runs.result(late.id) is None and runs.result(gone.id) is None


def test_two_results_at_once_store_exactly_one(database: Database) -> None:
    runs = TerraformJobRuns(database)
    row, token = create(runs)
    answers: list[object] = []
    start = threading.Barrier(4)

    def send(body: bytes) -> None:
        start.wait()
        answers.append(runs.store_result(row.id, token, body, NOW))

    threads = [threading.Thread(target=send, args=(f'{{"n": {n}}}'.encode(),)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(map(str, answers)) == ["already_stored"] * 3 + ["stored"]


def test_the_newest_live_run_of_a_key_is_reattached(database: Database) -> None:
    runs = TerraformJobRuns(database)
    assert runs.reattachable(KEY) is None
    old, _ = create(runs)
    runs.mark(old.id, "consumed")
    assert runs.reattachable(KEY) is None  # a consumed run is not taken again
    going, _ = create(runs)
    create(runs, "b" * 64)
    assert runs.reattachable(KEY) == going
    finished, finished_token = create(runs)
    runs.store_result(finished.id, finished_token, b"{}", NOW)
    reattached = runs.reattachable(KEY)
    assert reattached is not None and reattached.id == finished.id
    assert reattached.status == "finished"
    runs.mark(finished.id, "abandoned")
    assert runs.reattachable(KEY) is None  # only the newest run of a key counts


def test_a_run_the_bot_is_done_with_drops_its_bundle_and_result(database: Database) -> None:
    runs = TerraformJobRuns(database)
    row, token = create(runs)
    runs.store_result(row.id, token, b'{"r": 1}', NOW)
    runs.mark(row.id, "consumed")
    assert runs.result(row.id) is None and runs.get(row.id).status == "consumed"
    with database.sessions() as session:
        assert session.get(TerraformJobRun, row.id).bundle == b""


def test_purge_deletes_expired_runs_and_those_done_with(database: Database) -> None:
    runs = TerraformJobRuns(database)
    live, _ = create(runs, ttl=3600)
    expired, _ = create(runs, ttl=60)
    consumed, _ = create(runs, ttl=3600)
    abandoned, _ = create(runs, ttl=3600)
    finished, finished_token = create(runs, ttl=3600)
    runs.store_result(finished.id, finished_token, b"{}", NOW)
    runs.mark(consumed.id, "consumed")
    runs.mark(abandoned.id, "abandoned")

    assert runs.purge(NOW + timedelta(seconds=120)) == 3
    assert runs.get(expired.id) is None and runs.get(consumed.id) is None and runs.get(abandoned.id) is None
    assert runs.get(live.id) == live and runs.get(finished.id) is not None
    assert runs.purge(NOW + timedelta(seconds=120)) == 0
    assert runs.purge(NOW + timedelta(hours=2)) == 2


def test_an_unknown_status_is_refused(database: Database) -> None:
    runs = TerraformJobRuns(database)
    row, _ = create(runs)
    with pytest.raises(ValueError, match="running"):
        runs.mark(row.id, "running")
    assert runs.get(row.id).status == "created"
