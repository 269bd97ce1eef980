"""The order the suite is handed to pytest-xdist's workers (tests/support/scheduling.py)."""

from __future__ import annotations

from pathlib import Path

from tests.support.scheduling import (
    DurationRecorder,
    load_durations,
    slice_lengths,
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
    ordered = xdist_order(items, 2, seconds)

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
    ordered = xdist_order(items, 2, {"tests/unit/old.py": 0.1})
    assert ordered[0][0] == "tests/integration/new.py"  # 5 s expected against 0.5 s and 0.1 s
    assert xdist_order(items, 1, {}) == items


def test_durations_are_merged_into_the_file(tmp_path: Path) -> None:
    path = tmp_path / "durations.json"
    assert load_durations(path) == {}
    write_durations({"tests/unit/a.py": 1.234, "tests/unit/b.py": 2.0}, path)
    recorder = DurationRecorder(path)

    class Report:
        nodeid = "tests/unit/b.py::test_x"
        duration = 0.5

    recorder.pytest_runtest_logreport(Report())
    recorder.pytest_runtest_logreport(Report())
    recorder.pytest_sessionfinish()
    assert load_durations(path) == {"tests/unit/a.py": 1.2, "tests/unit/b.py": 1.0}
    path.write_text("not json")
    assert load_durations(path) == {}
