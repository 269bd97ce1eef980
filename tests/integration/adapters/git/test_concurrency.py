"""Many jobs on one repository at once, from threads and from processes, sharing one data directory."""

from __future__ import annotations

import multiprocessing
import threading
import traceback
from multiprocessing.synchronize import Event as ProcessEvent
from pathlib import Path

import pytest

from bot.adapters.git import GitWorkspaces
from tests.integration.adapters.git.conftest import BOT, Upstream, run_git

pytestmark = pytest.mark.integration

START_TIMEOUT = 60.0


def one_job(data_dir: Path, url: str, name: str) -> str:
    """What an update job does: fetch, own work tree, edit, commit, push its branch."""
    workspaces = GitWorkspaces(
        data_dir, identity=BOT, command_timeout=60, network_timeout=60, lock_timeout=60
    )
    with workspaces.worktree(url) as tree:
        tree.write_text(f"jobs/{name}.txt", f"{name}\n")
        tree.write_text("apps/chat/values.yaml", f"image:\n  tag: {name}\n")
        sha = tree.commit(f"job {name}")
        assert sha is not None
        tree.push(f"jobs/{name}")
        return sha


def process_main(
    data_dir: str, url: str, name: str, ready: ProcessEvent, go: ProcessEvent, errors: str
) -> None:
    ready.set()
    if not go.wait(START_TIMEOUT):
        raise SystemExit(2)
    try:
        one_job(Path(data_dir), url, name)
    except BaseException:
        Path(errors, f"{name}.txt").write_text(traceback.format_exc())
        raise SystemExit(1) from None


def test_eight_threads_and_two_processes_on_one_repository(upstream: Upstream, tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    errors_dir = tmp_path / "errors"
    errors_dir.mkdir()
    context = multiprocessing.get_context("spawn")  # fork is unsafe in a process that has threads
    go = context.Event()
    processes = []
    for index in range(2):
        ready = context.Event()
        process = context.Process(
            target=process_main,
            args=(str(data_dir), upstream.url, f"process-{index}", ready, go, str(errors_dir)),
        )
        process.start()
        processes.append((process, ready))

    thread_errors: dict[str, BaseException] = {}
    thread_go = threading.Event()

    def thread_main(name: str) -> None:
        thread_go.wait(START_TIMEOUT)
        try:
            one_job(data_dir, upstream.url, name)
        except BaseException as error:
            thread_errors[name] = error

    threads = [threading.Thread(target=thread_main, args=(f"thread-{i}",)) for i in range(8)]
    for thread in threads:
        thread.start()
    try:
        for _, ready in processes:
            assert ready.wait(START_TIMEOUT), "a job process did not start"
        # Everyone starts together, before any mirror exists: the first clone races too.
        go.set()
        thread_go.set()
        for thread in threads:
            thread.join(START_TIMEOUT)
        for process, _ in processes:
            process.join(START_TIMEOUT)
    finally:
        for process, _ in processes:
            if process.is_alive():
                process.kill()
                process.join()

    assert not any(thread.is_alive() for thread in threads)
    assert thread_errors == {}
    process_errors = {path.name: path.read_text() for path in errors_dir.iterdir()}
    assert process_errors == {}
    assert [process.exitcode for process, _ in processes] == [0, 0]

    expected = {f"jobs/thread-{i}" for i in range(8)} | {"jobs/process-0", "jobs/process-1"}
    assert expected <= upstream.branches()
    for branch in expected:
        name = branch.removeprefix("jobs/")
        assert upstream.show(branch, f"jobs/{name}.txt") == f"{name}\n"

    mirror = data_dir / "mirrors" / "local" / "acme" / "gitops.git"
    fsck = run_git("fsck", "--full", "--strict", "--no-dangling", cwd=mirror)
    assert "error" not in fsck and "missing" not in fsck and "broken" not in fsck
    assert run_git("worktree", "list", "--porcelain", cwd=mirror).count("worktree ") == 1
    assert list((data_dir / "worktrees" / "local" / "acme" / "gitops").iterdir()) == []
    assert not list(mirror.parent.glob(".gitops.git.clone-*"))
