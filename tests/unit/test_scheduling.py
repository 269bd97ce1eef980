"""The order the suite is handed to pytest-xdist's workers (tests/support/scheduling.py)."""

from __future__ import annotations

from pathlib import Path

from tests.support.scheduling import (
    CPU_PROPERTY,
    CpuMeter,
    DurationRecorder,
    ModuleCost,
    load_durations,
    slice_lengths,
    waiting_allowed,
    write_durations,
    xdist_order,
)


def collection(sizes: dict[str, int]) -> list[tuple[str, str]]:
    return [(module, f"{module}::t{index}") for module, count in sizes.items() for index in range(count)]


def test_slices_have_the_lengths_xdist_hands_out() -> None:
    assert slice_lengths(3967, 4) == [991, 992, 992, 992]
    assert slice_lengths(10, 3) == [3, 3, 4]
    assert sum(slice_lengths(3967, 6)) == 3967


def test_each_slice_runs_its_slowest_modules_first_and_keeps_modules_whole() -> None:
    sizes = {
        "tests/integration/a.py": 3,
        "tests/unit/b.py": 20,
        "tests/integration/c.py": 2,
        "tests/unit/d.py": 15,
    }
    sizes |= {"tests/integration/e.py": 4, "tests/unit/f.py": 4}
    seconds = {"tests/integration/a.py": 90.0, "tests/integration/c.py": 80.0, "tests/integration/e.py": 30.0}
    seconds |= {"tests/unit/b.py": 2.0, "tests/unit/d.py": 1.0, "tests/unit/f.py": 0.5}
    items = collection(sizes)
    ordered = xdist_order(items, 2, {module: ModuleCost(value) for module, value in seconds.items()})

    assert sorted(ordered) == sorted(items)  # nothing lost, nothing twice
    first, second = ordered[:24], ordered[24:]  # xdist's lengths: 24 and 24
    for part in (first, second):
        costs = [seconds[module] for module, _ in part]
        assert costs == sorted(costs, reverse=True), part  # slowest first, fastest last
    # The two slowest modules are on different workers; a module's tests stay in their order.
    assert {first[0][0], second[0][0]} == {"tests/integration/a.py", "tests/integration/c.py"}
    a_tests = [test for module, test in ordered if module == "tests/integration/a.py"]
    assert a_tests == [test for module, test in items if module == "tests/integration/a.py"]
    # Only a fast module is split to even the lengths.
    split = {module for module, _ in first} & {module for module, _ in second}
    assert split <= {"tests/unit/b.py", "tests/unit/d.py", "tests/unit/f.py"}


def test_an_unknown_module_counts_as_a_typical_one_and_one_worker_keeps_the_order() -> None:
    items = collection({"tests/unit/new.py": 2, "tests/integration/new.py": 2, "tests/unit/old.py": 2})
    ordered = xdist_order(items, 2, {"tests/unit/old.py": ModuleCost(0.1)})
    assert ordered[0][0] == "tests/integration/new.py"  # 5 s expected against 0.5 s and 0.1 s
    assert xdist_order(items, 1, {}) == items


def waiting_at_once(ordered: list[tuple[str, str]], workers: int, costs: dict[str, ModuleCost]) -> int:
    """The most waiting modules running at once if every worker ran its slice as expected."""
    lengths = slice_lengths(len(ordered), workers)
    spans = []
    start = 0
    for length in lengths:
        clock = 0.0
        for module in dict.fromkeys(module for module, _ in ordered[start : start + length]):
            seconds = costs[module].seconds
            if costs[module].waits:
                spans.append((clock, clock + seconds))
            clock += seconds
        start += length
    return max(sum(1 for begin, end in spans if begin <= moment < end) for moment, _ in spans)


def test_modules_that_mostly_wait_are_spread_so_the_cores_stay_busy() -> None:
    # Four canary-like modules (long, a tenth of their time on the CPU) and busy ones.
    waiting = {f"tests/integration/wait{index}.py": ModuleCost(100.0 - index, cpu=10.0) for index in range(4)}
    busy = {f"tests/integration/busy{index}.py": ModuleCost(60.0 - index, cpu=40.0) for index in range(8)}
    costs = waiting | busy
    items = collection(dict.fromkeys(costs, 4))

    slowest_first = xdist_order(items, 4, costs)  # cores enough: nothing held back
    assert waiting_at_once(slowest_first, 4, costs) == 4
    on_two_cores = xdist_order(items, 4, costs, cores=2)
    assert sorted(on_two_cores) == sorted(items)
    assert waiting_at_once(on_two_cores, 4, costs) == 2
    # Each slice still holds the same modules; only their order changed.
    start = 0
    for length in slice_lengths(len(items), 4):
        part = slice(start, start + length)
        assert {module for module, _ in on_two_cores[part]} == {module for module, _ in slowest_first[part]}
        start += length


def test_how_many_workers_may_wait_at_once() -> None:
    assert waiting_allowed(4, 2) == 2
    assert waiting_allowed(2, 2) == 2  # a worker per core: waiting costs nobody a core
    assert waiting_allowed(3, 2) == 1
    assert waiting_allowed(4, 8) == 4
    assert ModuleCost(100.0, cpu=10.0).waits
    assert not ModuleCost(100.0, cpu=60.0).waits
    assert not ModuleCost(100.0).waits  # not measured: counted as busy


def test_durations_are_merged_into_the_file(tmp_path: Path) -> None:
    path = tmp_path / "durations.json"
    assert load_durations(path) == {}
    write_durations({"tests/unit/a.py": ModuleCost(1.234, cpu=1.0), "tests/unit/b.py": ModuleCost(2.0)}, path)
    recorder = DurationRecorder(path)

    class Report:
        nodeid = "tests/unit/b.py::test_x"
        when = "call"
        duration = 0.5
        user_properties: list[tuple[str, object]] = []

    class Teardown(Report):
        when = "teardown"
        duration = 0.0
        user_properties = [(CPU_PROPERTY, 0.25), ("other", 9)]

    for report in (Report(), Teardown(), Report(), Teardown()):
        recorder.pytest_runtest_logreport(report)
    recorder.pytest_sessionfinish()
    assert load_durations(path) == {
        "tests/unit/a.py": ModuleCost(1.2, cpu=1.0),
        "tests/unit/b.py": ModuleCost(1.0, cpu=0.5),
    }
    path.write_text('{"tests/unit/a.py": 3.5, "tests/unit/b.py": "x"}')  # the file's first form
    assert load_durations(path) == {"tests/unit/a.py": ModuleCost(3.5)}
    path.write_text("not json")
    assert load_durations(path) == {}


def test_each_tests_cpu_reaches_its_teardown_report() -> None:
    class Item:
        nodeid = "tests/unit/a.py::test_x"

        def __init__(self) -> None:
            self.user_properties: list[tuple[str, object]] = []

    class Call:
        def __init__(self, when: str) -> None:
            self.when = when

    meter = CpuMeter()
    item = Item()
    meter.pytest_runtest_logstart(item.nodeid)
    sum(range(200_000))
    meter.pytest_runtest_makereport(item, Call("call"))
    assert item.user_properties == []
    meter.pytest_runtest_makereport(item, Call("teardown"))
    [(name, value)] = item.user_properties
    assert name == CPU_PROPERTY and isinstance(value, float) and value >= 0
