"""Process control with stand-in executables: kill after the grace period, missing binary, output cap."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

import pytest

from bot.adapters.terraform_cli import LocalExecutor, StepTimeouts, TerraformRunner
from bot.adapters.terraform_cli.sandbox import Executor
from tests.integration.adapters.terraform_cli.test_runner import eventually, group_gone, process_gone

# Ignores SIGINT (as a hung provider might) and starts a child that does too.
STUBBORN = """#!{python}
import os, signal, subprocess, sys, time
signal.signal(signal.SIGINT, signal.SIG_IGN)
code = "import signal, time; signal.signal(signal.SIGINT, signal.SIG_IGN); time.sleep(60)"
child = subprocess.Popen([sys.executable, "-c", code])
with open(sys.argv[-1], "w") as out:
    out.write(str(child.pid))
print("started", flush=True)
time.sleep(60)
"""

CHATTY = """#!{python}
import sys
for i in range(2000):
    print("line %d " % i + "x" * 50)
sys.stderr.write("no newline at the end")
sys.exit(3)
"""


def write_executable(path: Path, text: str) -> Path:
    path.write_text(text.format(python=sys.executable), encoding="utf-8")
    path.chmod(0o755)
    return path


async def children_gone(executor: Executor, pidfile: Path, groups: list[int]) -> None:
    """A pid written inside the sandbox is its own namespace's: there the process groups tell."""
    if isinstance(executor, LocalExecutor):
        child = int(pidfile.read_text())
        await eventually(lambda: process_gone(child), "the child to be killed with its group")
    assert groups
    for pgid in groups:
        await eventually(lambda pgid=pgid: group_gone(pgid), "the process group to be empty")


async def test_a_process_ignoring_sigint_is_killed_after_the_grace_period(
    tmp_path: Path, executor: Executor
) -> None:
    binary = write_executable(tmp_path / "stubborn", STUBBORN)
    runner = TerraformRunner(
        str(binary), timeouts=StepTimeouts(plan=1.0), kill_grace_seconds=0.5, executor=executor
    )
    pidfile = tmp_path / "child.pid"
    result = await runner.run("plan", [str(pidfile)], cwd=tmp_path)
    assert result.timed_out and not result.ok
    assert result.exit_code == -9  # SIGKILL, after SIGINT was ignored
    assert result.output == "started\n"
    assert result.duration < 10
    assert result.pid is not None
    await children_gone(executor, pidfile, [result.pid])


async def test_cancellation_kills_a_stubborn_process_group(tmp_path: Path, executor: Executor) -> None:
    binary = write_executable(tmp_path / "stubborn", STUBBORN)
    runner = TerraformRunner(str(binary), kill_grace_seconds=0.3, executor=executor)
    pidfile = tmp_path / "child.pid"
    started = asyncio.Event()
    task = asyncio.create_task(
        runner.run("plan", [str(pidfile)], cwd=tmp_path, on_line=lambda step, line: started.set())
    )
    await asyncio.wait_for(started.wait(), 10)
    groups = _group_leaders_started_here()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    await children_gone(executor, pidfile, groups)


def _group_leaders_started_here() -> list[int]:
    """Process-group leaders started by this test process (the runner starts each in its own group)."""
    me = str(os.getpid())
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            fields = stat[stat.rfind(")") + 2 :].split()
            if fields[1] == me and fields[2] == entry.name:
                found.append(int(entry.name))
    return found


async def test_missing_executable_is_a_clear_failure(tmp_path: Path) -> None:
    runner = TerraformRunner("no-such-terraform-binary")
    result = await runner.run("init", ["init"], cwd=tmp_path)
    assert result.exit_code == 127 and not result.ok and result.pid is None
    assert "'no-such-terraform-binary' was not found on PATH" in result.output
    plan = await runner.plan(tmp_path)
    assert not plan.ok and plan.error is not None and "was not found on PATH" in plan.error


async def test_output_is_streamed_whole_but_kept_up_to_the_limit(tmp_path: Path) -> None:
    binary = write_executable(tmp_path / "chatty", CHATTY)
    runner = TerraformRunner(str(binary), max_output_chars=10_000)
    streamed: list[str] = []
    result = await runner.run("plan", [], cwd=tmp_path, on_line=lambda step, line: streamed.append(line))
    assert result.exit_code == 3 and not result.ok
    assert len(streamed) == 2001 and streamed[-1] == "no newline at the end"
    assert result.truncated
    assert len(result.output) < 10_200
    assert result.output.endswith("[output truncated after 10000 characters]\n")


async def test_a_failing_log_callback_does_not_break_the_step(tmp_path: Path) -> None:
    binary = write_executable(tmp_path / "chatty", CHATTY)
    runner = TerraformRunner(str(binary))
    calls = 0

    def broken(step: str, line: str) -> None:
        nonlocal calls
        calls += 1
        raise RuntimeError("log store is down")

    result = await runner.run("plan", [], cwd=tmp_path, on_line=broken)
    assert calls == 1
    assert result.exit_code == 3 and result.output.count("\n") == 2001
