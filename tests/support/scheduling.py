"""The order the suite is handed to pytest-xdist's workers: on each worker, its slowest modules
first and its fastest last.

Why: ``--dist worksteal`` gives each worker an equal slice of the collection, in order, and a
worker that runs out steals the *end* of a busy worker's slice. In collection order the slices
of the first workers end with integration flows of 10-30 s each, so the run ended with one or two
workers finishing a long flow while the others had nothing left to take (a 35 s tail at a third of
the machine). Here each slice holds an equal share of the expected seconds, its modules from the
slowest to the fastest, so what is left at the end, and what is stolen, is short.

The expected seconds come from ``tests/durations.json`` (seconds per test module, written by
``make test-durations``); a module it does not know counts as a typical one of its kind. A stale
file only makes the order less good, never a test wrong. A module's tests stay together, in
their own order (module-scoped fixtures are set up once), except that the fastest modules may be
split to make the slices' lengths equal.

``xdist_order`` is pure: a list of (module, test) pairs in, the same pairs reordered out.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar

DURATIONS_FILE = Path(__file__).resolve().parents[1] / "durations.json"
# A module durations.json does not know yet: about what a typical one of its kind takes.
UNKNOWN_UNIT_MODULE_SECONDS = 0.5
UNKNOWN_OTHER_MODULE_SECONDS = 5.0

T = TypeVar("T")


def module_of(nodeid: str) -> str:
    """``tests/unit/test_x.py`` of ``tests/unit/test_x.py::test_y[param]``."""
    return nodeid.split("::")[0]


def slice_lengths(total: int, workers: int) -> list[int]:
    """How many tests each worker is first given: what xdist's scheduler hands out (the pending
    tests shared evenly among the idle workers, the earlier ones rounded down)."""
    lengths = []
    remaining = total
    for index in range(workers):
        length = remaining // (workers - index)
        lengths.append(length)
        remaining -= length
    return lengths


def expected_seconds(module: str, durations: Mapping[str, float]) -> float:
    if module in durations:
        return durations[module]
    return UNKNOWN_UNIT_MODULE_SECONDS if module.startswith("tests/unit/") else UNKNOWN_OTHER_MODULE_SECONDS


def xdist_order(
    items: Sequence[tuple[str, T]], workers: int, durations: Mapping[str, float]
) -> list[tuple[str, T]]:
    """``items`` (module, test) in collection order, reordered into ``workers`` slices of xdist's
    lengths: modules from the slowest down, each to the slice with the fewest expected seconds
    that still has room (longest-processing-time-first), a module split only when no slice has
    room for all of it."""
    if workers < 2 or len(items) < workers:
        return list(items)
    modules: dict[str, list[tuple[str, T]]] = {}
    for item in items:
        modules.setdefault(item[0], []).append(item)
    by_cost = sorted(modules, key=lambda module: -expected_seconds(module, durations))  # stable
    room = slice_lengths(len(items), workers)
    load = [0.0] * workers
    slices: list[list[tuple[str, T]]] = [[] for _ in range(workers)]
    for module in by_cost:
        tests = modules[module]
        per_test = expected_seconds(module, durations) / len(tests)
        while tests:
            fits = [index for index in range(workers) if room[index] >= len(tests)]
            candidates = fits or [index for index in range(workers) if room[index] > 0]
            chosen = min(candidates, key=lambda index: (load[index], index))
            taken, tests = tests[: room[chosen]], tests[room[chosen] :]
            slices[chosen].extend(taken)
            room[chosen] -= len(taken)
            load[chosen] += per_test * len(taken)
    return [item for part in slices for item in part]


def load_durations(path: Path = DURATIONS_FILE) -> dict[str, float]:
    """Seconds per module; empty when the file is missing or not what it should be."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    if not isinstance(data, dict):
        return {}
    return {
        str(module): float(seconds) for module, seconds in data.items() if isinstance(seconds, int | float)
    }


def write_durations(durations: Mapping[str, float], path: Path = DURATIONS_FILE) -> None:
    rounded = {module: round(seconds, 1) for module, seconds in sorted(durations.items())}
    path.write_text(json.dumps(rounded, indent=1) + "\n", encoding="utf-8")


class DurationRecorder:
    """A pytest plugin: each module's seconds (setup, call and teardown of its tests) as the
    reports arrive, written when the session ends, merged into what the file holds (a run of part
    of the suite updates only the modules it ran)."""

    def __init__(self, path: Path = DURATIONS_FILE) -> None:
        self.path = path
        self.seconds: Counter[str] = Counter()

    def pytest_runtest_logreport(self, report: Any) -> None:
        self.seconds[module_of(str(report.nodeid))] += float(report.duration)

    def pytest_sessionfinish(self) -> None:
        write_durations({**load_durations(self.path), **self.seconds}, self.path)
