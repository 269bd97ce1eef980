"""The order the suite is handed to pytest-xdist's workers: each worker's slice holds an equal
share of the expected seconds, from its slowest modules to its fastest, and the modules that
mostly wait are spread out so that no more of them run at once than the cores leave room for.

Why: ``--dist worksteal`` gives each worker an equal slice of the collection, in order, and a
worker that runs out steals the *end* of a busy worker's slice. In collection order the slices
of the first workers end with integration flows of 10-30 s each, so the run ended with one or two
workers finishing a long flow while the others had nothing left to take (a 35 s tail at a third of
the machine). Here each slice holds an equal share of the expected seconds, its modules from the
slowest to the fastest, so what is left at the end, and what is stolen, is short.

Some of the slowest modules mostly wait (a canary analysis on a real Prometheus sleeps through
its intervals: 130 s of a module for 17 s of CPU). Slowest-first put them at the head of every
slice at once, and the run spent 50 s with all four workers waiting and the cores a third busy.
Each slice's order is therefore worked out on a simulated clock: a worker starts a waiting
module only while fewer than ``workers - cores`` others are in one, and otherwise its slowest
busy one.

The expected seconds (wall and CPU) come from ``tests/durations.json`` (written by
``make test-durations``); a module it does not know counts as a typical busy one of its kind. A
stale file only makes the order less good, never a test wrong. A module's tests stay together,
in their own order (module-scoped fixtures are set up once), except that the fastest modules may
be split to make the slices' lengths equal.

``xdist_order`` is pure: a list of (module, test) pairs in, the same pairs reordered out.
"""

from __future__ import annotations

import json
import resource
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Generic, TypeVar

import pytest

DURATIONS_FILE = Path(__file__).resolve().parents[1] / "durations.json"
# A module durations.json does not know yet: about what a typical one of its kind takes.
UNKNOWN_UNIT_MODULE_SECONDS = 0.5
UNKNOWN_OTHER_MODULE_SECONDS = 5.0
# A module whose CPU (its worker's and the processes it waited for) is under this share of its
# wall time mostly waits: on a timer, a server's interval, a subprocess's sleep.
WAITING_CPU_SHARE = 0.3
# The name of the user property a worker puts each test's CPU seconds under (--write-durations).
CPU_PROPERTY = "cpu_seconds"

T = TypeVar("T")


@dataclass(frozen=True)
class ModuleCost:
    """What a test module took: wall seconds of its tests (setup and teardown included) and, when
    measured, the CPU seconds of its worker and the processes that worker waited for."""

    seconds: float
    cpu: float | None = None

    @property
    def waits(self) -> bool:
        return self.cpu is not None and self.cpu < WAITING_CPU_SHARE * self.seconds


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


def expected_cost(module: str, durations: Mapping[str, ModuleCost]) -> ModuleCost:
    if module in durations:
        return durations[module]
    unit = module.startswith("tests/unit/")
    return ModuleCost(UNKNOWN_UNIT_MODULE_SECONDS if unit else UNKNOWN_OTHER_MODULE_SECONDS)


def waiting_allowed(workers: int, cores: int) -> int:
    """How many workers may be in a waiting module at once: the workers beyond one per core
    (what is left keeps every core busy); every worker when there are cores enough."""
    return max(1, workers - cores) if workers > cores else workers


@dataclass
class _Group(Generic[T]):
    """A module's tests in one slice (all of them, or a share of a split fast module)."""

    tests: list[tuple[str, T]]
    seconds: float
    waits: bool


def _slices(
    items: Sequence[tuple[str, T]], workers: int, durations: Mapping[str, ModuleCost]
) -> list[list[_Group[T]]]:
    """Modules from the slowest down, each to the slice with the fewest expected seconds that still
    has room (longest-processing-time-first), a module split only when no slice has room for all."""
    modules: dict[str, list[tuple[str, T]]] = {}
    for item in items:
        modules.setdefault(item[0], []).append(item)
    by_cost = sorted(modules, key=lambda module: -expected_cost(module, durations).seconds)  # stable
    room = slice_lengths(len(items), workers)
    load = [0.0] * workers
    slices: list[list[_Group[T]]] = [[] for _ in range(workers)]
    for module in by_cost:
        cost = expected_cost(module, durations)
        tests = modules[module]
        per_test = cost.seconds / len(tests)
        while tests:
            fits = [index for index in range(workers) if room[index] >= len(tests)]
            candidates = fits or [index for index in range(workers) if room[index] > 0]
            chosen = min(candidates, key=lambda index: (load[index], index))
            taken, tests = tests[: room[chosen]], tests[room[chosen] :]
            slices[chosen].append(_Group(taken, per_test * len(taken), cost.waits))
            room[chosen] -= len(taken)
            load[chosen] += per_test * len(taken)
    return slices


def _interleave(slices: list[list[_Group[T]]], waiting_limit: int) -> list[list[_Group[T]]]:
    """Each slice's groups in the order its worker should run them, on a simulated clock: the
    worker that is free first takes its slowest waiting group while fewer than ``waiting_limit``
    other workers are in one, else its slowest busy group (a waiting one when none is left)."""
    pending = [sorted(groups, key=lambda group: -group.seconds) for groups in slices]  # stable
    ordered: list[list[_Group[T]]] = [[] for _ in slices]
    clock = [0.0] * len(slices)
    waiting_until = [0.0] * len(slices)  # when the waiting group a worker is in ends
    while any(pending):
        worker = min((index for index, groups in enumerate(pending) if groups), key=lambda i: (clock[i], i))
        now = clock[worker]
        others_waiting = sum(
            1 for index, until in enumerate(waiting_until) if index != worker and until > now
        )
        waiting = [group for group in pending[worker] if group.waits]
        busy = [group for group in pending[worker] if not group.waits]
        group = waiting[0] if waiting and (others_waiting < waiting_limit or not busy) else busy[0]
        pending[worker].remove(group)
        ordered[worker].append(group)
        clock[worker] = now + group.seconds
        if group.waits:
            waiting_until[worker] = clock[worker]
    return ordered


def xdist_order(
    items: Sequence[tuple[str, T]],
    workers: int,
    durations: Mapping[str, ModuleCost],
    cores: int | None = None,
) -> list[tuple[str, T]]:
    """``items`` (module, test) in collection order, reordered into ``workers`` slices of xdist's
    lengths, each in the order its worker should run it (``cores``: the machine's; None, as
    many as workers, so waiting modules are not held back)."""
    if workers < 2 or len(items) < workers:
        return list(items)
    limit = waiting_allowed(workers, workers if cores is None else cores)
    slices = _interleave(_slices(items, workers, durations), limit)
    return [test for groups in slices for group in groups for test in group.tests]


def load_durations(path: Path = DURATIONS_FILE) -> dict[str, ModuleCost]:
    """What each module took; empty when the file is missing or not what it should be. A bare
    number (the file's first form) is wall seconds with the CPU not measured."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    if not isinstance(data, dict):
        return {}
    costs = {}
    for module, value in data.items():
        if isinstance(value, int | float):
            costs[str(module)] = ModuleCost(float(value))
        elif isinstance(value, dict) and isinstance(value.get("seconds"), int | float):
            cpu = value.get("cpu")
            costs[str(module)] = ModuleCost(
                float(value["seconds"]), float(cpu) if isinstance(cpu, int | float) else None
            )
    return costs


def write_durations(durations: Mapping[str, ModuleCost], path: Path = DURATIONS_FILE) -> None:
    document = {
        module: {"seconds": round(cost.seconds, 1)}
        | ({} if cost.cpu is None else {"cpu": round(cost.cpu, 1)})
        for module, cost in sorted(durations.items())
    }
    path.write_text(json.dumps(document, indent=1) + "\n", encoding="utf-8")


def cpu_seconds() -> float:
    """CPU seconds of this process and of the child processes it has waited for."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


class CpuMeter:
    """A pytest plugin where tests run (each xdist worker, or the one process): each test's CPU
    seconds, from its start to its teardown, as a user property of its teardown report, which
    xdist carries to the controller."""

    def __init__(self) -> None:
        self.started: dict[str, float] = {}

    def pytest_runtest_logstart(self, nodeid: str) -> None:
        self.started[nodeid] = cpu_seconds()

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_makereport(self, item: Any, call: Any) -> None:
        started = self.started.pop(item.nodeid, None) if call.when == "teardown" else None
        if started is not None:
            # The report is made from the item's properties after this hook has run.
            item.user_properties.append((CPU_PROPERTY, cpu_seconds() - started))


class DurationRecorder:
    """A pytest plugin where every report arrives (the one process, or xdist's controller): each
    module's seconds (setup, call and teardown of its tests) and CPU seconds, written when the
    session ends, merged into what the file holds (a run of part of the suite updates only the
    modules it ran)."""

    def __init__(self, path: Path = DURATIONS_FILE) -> None:
        self.path = path
        self.seconds: dict[str, float] = {}
        self.cpu: dict[str, float] = {}

    def pytest_runtest_logreport(self, report: Any) -> None:
        module = module_of(str(report.nodeid))
        self.seconds[module] = self.seconds.get(module, 0.0) + float(report.duration)
        for name, value in getattr(report, "user_properties", ()):
            if name == CPU_PROPERTY and report.when == "teardown":
                self.cpu[module] = self.cpu.get(module, 0.0) + float(value)

    def pytest_sessionfinish(self) -> None:
        measured = {
            module: ModuleCost(seconds, self.cpu.get(module)) for module, seconds in self.seconds.items()
        }
        write_durations({**load_durations(self.path), **measured}, self.path)
