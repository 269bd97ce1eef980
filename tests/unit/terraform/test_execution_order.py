"""The order a pull request's projects run in: execution order groups (pure, table-tested)."""

from __future__ import annotations

import pytest

from bot.config import load_repo_config
from bot.terraform.execution_order import aborts, execution_groups, group_of, run_in_order
from bot.terraform.projects import ProjectTarget


@pytest.mark.parametrize(
    ("items", "groups"),
    [
        ([], []),
        ([("a", 0)], [(0, ["a"])]),
        # Lowest first; config order inside a group.
        ([("app", 1), ("net", 0), ("db", 0)], [(0, ["net", "db"]), (1, ["app"])]),
        ([("a", 2), ("b", -1), ("c", 2), ("d", 0)], [(-1, ["b"]), (0, ["d"]), (2, ["a", "c"])]),
        ([("a", 0), ("b", 0), ("c", 0)], [(0, ["a", "b", "c"])]),
    ],
)
def test_execution_groups(items: list[tuple[str, int]], groups: list[tuple[int, list[str]]]) -> None:
    found = execution_groups(items, lambda item: item[1])
    assert [(number, [name for name, _ in members]) for number, members in found] == groups


# Each project's result when it runs: True succeeded, False failed.
OUTCOMES = {"net": True, "db": False, "app": True, "web": True, "edge": True}


@pytest.mark.parametrize(
    ("groups", "abort", "results", "runs"),
    [
        # Without abort every group runs, whatever failed before.
        (
            [(0, ["net", "db"]), (1, ["app"])],
            False,
            ["net:ok", "db:failed", "app:ok"],
            [["net", "db"], ["app"]],
        ),
        # With it, a failed group stops every later one; each project says which group stopped it.
        (
            [(0, ["net", "db"]), (1, ["app"]), (2, ["web", "edge"])],
            True,
            ["net:ok", "db:failed", "app:not run (0)", "web:not run (0)", "edge:not run (0)"],
            [["net", "db"]],
        ),
        # The failed group is the first to run, not the first of all: a later group can stop too.
        (
            [(0, ["net"]), (1, ["db"]), (2, ["app"])],
            True,
            ["net:ok", "db:failed", "app:not run (1)"],
            [["net"], ["db"]],
        ),
        (
            [(0, ["net"]), (1, ["app", "web"])],
            True,
            ["net:ok", "app:ok", "web:ok"],
            [["net"], ["app", "web"]],
        ),
        ([], True, [], []),
    ],
)
def test_run_in_order(
    groups: list[tuple[int, list[str]]], abort: bool, results: list[str], runs: list[list[str]]
) -> None:
    ran: list[list[str]] = []

    def run(members: list[str]) -> list[str]:
        ran.append(members)
        return [f"{name}:{'ok' if OUTCOMES[name] else 'failed'}" for name in members]

    found = run_in_order(
        groups,
        run,
        failed=lambda result: result.endswith(":failed"),
        abort=abort,
        not_run=lambda name, group: f"{name}:not run ({group})",
    )
    assert found == results
    assert ran == runs


def test_group_of_reads_the_config() -> None:
    config = load_repo_config(
        "version: 1\nabort_on_execution_order_fail: true\nprojects:\n"
        "  - {name: app, dir: app, execution_order_group: 3}\n  - {name: net, dir: net}\n"
    )
    assert group_of(config, ProjectTarget("app", "app")) == 3
    assert group_of(config, ProjectTarget("net", "net")) == 0
    assert group_of(config, ProjectTarget("", "elsewhere")) == 0  # a directory no project names
    assert group_of(None, ProjectTarget("app", "app")) == 0
    assert aborts(config) and not aborts(None)
