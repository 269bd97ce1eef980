"""Database.serialized: one block per key at a time, across threads (and, on PostgreSQL, processes)."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

from bot.storage.db import Database


def test_blocks_with_one_key_never_overlap_and_other_keys_run_alongside(database: Database) -> None:
    inside: dict[str, int] = {"a": 0, "b": 0}
    most: dict[str, int] = {"a": 0, "b": 0}
    guard = threading.Lock()

    def work(key: str) -> None:
        with database.serialized(f"test:{key}"):
            with guard:
                inside[key] += 1
                most[key] = max(most[key], inside[key])
            time.sleep(0.02)
            with guard:
                inside[key] -= 1

    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=6) as pool:
        list(pool.map(work, ["a", "b"] * 6))
    assert most == {"a": 1, "b": 1}
    assert time.monotonic() - started < 6 * 0.02 * 2 + 1.0  # the two keys ran side by side
