"""Leader election: one scheduler at a time, and a takeover within one lease period."""

from __future__ import annotations

import asyncio
import time

from bot.scheduler import LeaderLease, Scheduler
from bot.services import build_services
from bot.settings import Settings
from bot.storage.db import Database


def test_lease_is_exclusive_until_it_expires(database: Database) -> None:
    lease = LeaderLease(database, ttl_seconds=0.5)
    assert lease.try_acquire("a")
    assert not lease.try_acquire("b")
    assert lease.try_acquire("a")  # renewal
    assert lease.holder() == "a"
    deadline = time.monotonic() + 5
    while not lease.try_acquire("b"):
        assert time.monotonic() < deadline
        time.sleep(0.05)
    assert lease.holder() == "b"
    assert not lease.try_acquire("a")
    lease.release("b")
    assert lease.holder() is None
    assert lease.try_acquire("a")


async def test_only_the_leader_runs_periodic_tasks_and_a_follower_takes_over(database_url: str) -> None:
    runs: list[str] = []
    services = build_services(Settings(_env_file=None, database_url=database_url))

    def make(holder: str) -> Scheduler:
        def task(_services) -> None:
            runs.append(holder)

        from bot.routing import PeriodicTask

        return Scheduler(
            services, [PeriodicTask("t", 0.0, task)], tick_seconds=0.05, lease_seconds=0.6, holder=holder
        )

    first, second = make("first"), make("second")
    await first.start()
    await asyncio.sleep(0.2)
    await second.start()
    await asyncio.sleep(0.4)
    assert first.is_leader and not second.is_leader
    assert set(runs) == {"first"}
    # The leader dies without releasing its lease (its task is simply cancelled).
    assert first._task is not None
    first._task.cancel()
    died_at = time.monotonic()
    while not second.is_leader:
        assert time.monotonic() - died_at < 2.0, "no takeover within the lease period"
        await asyncio.sleep(0.02)
    assert time.monotonic() - died_at <= 0.6 + 0.3
    runs.clear()
    await asyncio.sleep(0.2)
    assert set(runs) == {"second"}
    await second.stop()
    services.close()
