"""Locks on SQLite and PostgreSQL: exclusive per target, re-entrant per PR, released on close."""

from __future__ import annotations

import threading

from bot.storage.db import Database
from bot.terraform.locks import LockKey, LockStore


def test_one_pull_request_at_a_time(database: Database) -> None:
    locks = LockStore(database)
    key = LockKey("acme/infra", "terraform/staging", "default", "serving-staging")
    first = locks.acquire(key, pr_number=1, owner="alice", pr_url="https://github.com/acme/infra/pull/1")
    assert first.acquired and first.lock.pr_number == 1
    again = locks.acquire(key, pr_number=1, owner="alice")
    assert again.acquired and again.lock.id == first.lock.id
    other = locks.acquire(key, pr_number=2, owner="bob")
    assert not other.acquired
    assert other.lock.pr_number == 1 and other.lock.pr_url.endswith("/pull/1")
    # Another workspace of the same dir is a different lock.
    assert locks.acquire(
        LockKey("acme/infra", "terraform/staging", "blue", "x"), pr_number=2, owner="bob"
    ).acquired
    assert [lock.key.workspace for lock in locks.list("acme/infra", pr_number=2)] == ["blue"]
    released = locks.release_pull("acme/infra", 1)
    assert [lock.id for lock in released] == [first.lock.id]
    assert locks.acquire(key, pr_number=2, owner="bob").acquired


def test_release_by_id(database: Database) -> None:
    locks = LockStore(database)
    taken = locks.acquire(LockKey("acme/infra", "tf"), pr_number=3, owner="carol")
    assert locks.get(taken.lock.id) == taken.lock
    assert locks.release(taken.lock.id) == taken.lock
    assert locks.release(taken.lock.id) is None
    assert locks.list() == []


def test_racing_pull_requests_get_exactly_one_winner(database: Database) -> None:
    locks = LockStore(database)
    key = LockKey("acme/infra", "tf/prod")
    results: list[bool] = []
    barrier = threading.Barrier(8)

    def take(number: int) -> None:
        barrier.wait()
        results.append(locks.acquire(key, pr_number=number, owner=f"user{number}").acquired)

    threads = [threading.Thread(target=take, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results.count(True) == 1
