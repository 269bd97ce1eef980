"""Saved plans on SQLite and PostgreSQL: the plan file is stored with its row, so another store
on the same database (another replica, or this one after a restart) applies it; it expires,
is spent by an apply, replaced by a newer plan, and never read when plans are listed."""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import fields
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import event

from bot.storage.db import Database
from bot.terraform.apply_gate import PlanFacts
from bot.terraform.projects import ProjectTarget
from bot.terraform.store import NewPlan, PlanStore, SavedPlan

REPO, NUMBER = "acme/infra", 7
STAGING = ProjectTarget("staging", "terraform/staging", "default")
PROD = ProjectTarget("prod", "terraform/prod", "default")
HEAD, NEW_HEAD, BASE = "h" * 40, "n" * 40, "b" * 40
TTL = 3600.0
# Plans can be megabytes: big enough to be more than a page, a buffer or a column default.
PLAN_BYTES = os.urandom(3 * 1024 * 1024 + 17)


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def store(database: Database, clock: Clock) -> PlanStore:
    return PlanStore(database, ttl_seconds=TTL, clock=clock)


@pytest.fixture
def other_replica(database_url: str, clock: Clock) -> Iterator[PlanStore]:
    """A second store with its own engine and connections on the same database."""
    database = Database(database_url)
    yield PlanStore(database, ttl_seconds=TTL, clock=clock)
    database.dispose()


def made_plan(
    tmp_path: Path, data: bytes = PLAN_BYTES, *, head: str = HEAD, status: str = "planned"
) -> NewPlan:
    planfile = tmp_path / "worktree" / "terraform" / "staging" / "gitops-bot-default.tfplan"
    planfile.parent.mkdir(parents=True, exist_ok=True)
    planfile.write_bytes(data)
    return NewPlan(
        head, BASE, status, planfile, "Plan: 1 to add, 0 to change, 0 to destroy.", "output", "dev"
    )


def only(store: PlanStore) -> SavedPlan:
    (plan,) = store.for_pull(REPO, NUMBER)
    return plan


def test_another_replica_applies_the_plan_after_the_work_tree_is_gone(
    store: PlanStore, other_replica: PlanStore, tmp_path: Path
) -> None:
    new = made_plan(tmp_path)
    store.save(REPO, NUMBER, STAGING, new)
    assert new.planfile is not None
    new.planfile.unlink()  # the planning work tree is removed; the planning replica may die

    saved = only(other_replica)
    assert (saved.project, saved.dir, saved.workspace, saved.head_sha) == (
        "staging",
        STAGING.dir,
        "default",
        HEAD,
    )
    assert saved.has_planfile and saved.planfile_size == len(PLAN_BYTES) and not saved.expired
    assert saved.facts == PlanFacts("planned", True, HEAD, BASE, expired=False)
    destination = tmp_path / "apply-tree" / "gitops-bot-default.tfplan"
    destination.parent.mkdir()
    assert other_replica.place_planfile(saved, destination)
    assert destination.read_bytes() == PLAN_BYTES


def test_the_plan_file_is_never_read_when_plans_are_listed(
    store: PlanStore, database: Database, tmp_path: Path
) -> None:
    store.save(REPO, NUMBER, STAGING, made_plan(tmp_path))
    statements: list[str] = []

    def record(conn, cursor, statement, parameters, context, executemany) -> None:  # type: ignore[no-untyped-def]
        statements.append(statement)

    event.listen(database.engine, "before_cursor_execute", record)
    try:
        saved = only(store)
        store.comment_ids(REPO, NUMBER, [STAGING])
    finally:
        event.remove(database.engine, "before_cursor_execute", record)
    assert statements and not any("planfile_data" in statement for statement in statements)
    # Nothing handed out carries the bytes: not a field, not in a repr (which logs would show).
    assert all(field.type not in ("bytes", "bytes | None") for field in fields(SavedPlan))
    assert len(repr(saved)) < 1000


def test_an_expired_plan_is_refused_and_its_file_dropped(
    store: PlanStore, clock: Clock, tmp_path: Path
) -> None:
    store.save(REPO, NUMBER, STAGING, made_plan(tmp_path))
    before = only(store)
    clock.advance(TTL - 1)
    assert not only(store).expired and store.place_planfile(before, tmp_path / "early.tfplan")

    clock.advance(1)
    expired = only(store)
    assert expired.expired and expired.facts.expired
    assert not store.place_planfile(before, tmp_path / "late.tfplan")
    assert not (tmp_path / "late.tfplan").exists()
    # The sweep (also run by every save) drops the bytes and keeps the row, so apply can say why.
    assert store.drop_expired_files() == 1
    assert store.drop_expired_files() == 0
    swept = only(store)
    assert swept.expired and not swept.has_planfile and swept.status == "planned"


def test_a_new_plan_replaces_the_file_and_sweeps_other_expired_plans(
    store: PlanStore, clock: Clock, tmp_path: Path
) -> None:
    store.save(REPO, NUMBER + 1, PROD, made_plan(tmp_path, b"other pull request"))
    store.save(REPO, NUMBER, STAGING, made_plan(tmp_path, b"first"))
    first = only(store)
    clock.advance(TTL + 5)
    store.save(REPO, NUMBER, STAGING, made_plan(tmp_path, b"second", head=NEW_HEAD))
    second = only(store)
    assert second.id == first.id and second.head_sha == NEW_HEAD and not second.expired
    assert second.planfile_sha256 != first.planfile_sha256
    # The plan the gate judged is the plan applied: the replaced one is gone.
    assert not store.place_planfile(first, tmp_path / "first.tfplan")
    assert store.place_planfile(second, tmp_path / "second.tfplan")
    assert (tmp_path / "second.tfplan").read_bytes() == b"second"
    (other,) = store.for_pull(REPO, NUMBER + 1)
    assert other.expired and not other.has_planfile


@pytest.mark.parametrize("applied", [True, False])
def test_an_apply_spends_the_plan_file(store: PlanStore, tmp_path: Path, applied: bool) -> None:
    store.save(REPO, NUMBER, STAGING, made_plan(tmp_path))
    saved = only(store)
    store.record_apply(saved, applied=applied, output="Apply complete!")
    after = only(store)
    assert after.status == ("applied" if applied else "apply_failed")
    assert not after.has_planfile and not store.place_planfile(saved, tmp_path / "again.tfplan")


def test_a_plan_without_a_file(store: PlanStore, tmp_path: Path) -> None:
    store.save(
        REPO, NUMBER, STAGING, NewPlan(HEAD, BASE, "failed", None, "terraform plan failed", "boom", "dev")
    )
    saved = only(store)
    assert saved.status == "failed" and not saved.has_planfile and saved.planfile_size is None
    assert not store.place_planfile(saved, tmp_path / "none.tfplan")


def test_discarding_a_pull_request_forgets_its_plans_only(
    store: PlanStore, other_replica: PlanStore, tmp_path: Path
) -> None:
    store.save(REPO, NUMBER, STAGING, made_plan(tmp_path))
    store.save(REPO, NUMBER, PROD, made_plan(tmp_path))
    store.save(REPO, NUMBER + 1, STAGING, made_plan(tmp_path))
    doomed = store.for_pull(REPO, NUMBER)
    other_replica.discard_pull(REPO, NUMBER)
    assert store.for_pull(REPO, NUMBER) == []
    assert not any(store.place_planfile(plan, tmp_path / "gone.tfplan") for plan in doomed)
    assert len(store.for_pull(REPO, NUMBER + 1)) == 1


def test_comment_ids_survive_until_the_next_plan(store: PlanStore, tmp_path: Path) -> None:
    store.save(REPO, NUMBER, STAGING, made_plan(tmp_path))
    store.remember_comments(REPO, NUMBER, [STAGING], [11, 12])
    assert store.comment_ids(REPO, NUMBER, [STAGING, PROD]) == {11, 12}
    store.save(REPO, NUMBER, STAGING, made_plan(tmp_path))
    assert store.comment_ids(REPO, NUMBER, [STAGING]) == set()
