"""Supervising one running command: its output read to the end, its timeout, the job's stop signal.

A step that hits its timeout is stopped (SIGINT to Terraform, SIGKILL to the group after the
grace period) and reported as timed out; when the job that started it loses its lease
(:mod:`bot.cancellation`) it is stopped the same way and ``JobCancelled`` is raised; a cancelled
task stops it too. No process outlives its step.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal

import structlog

from bot.adapters.terraform_cli.process import (
    OutputCollector,
    descendants,
    interrupt,
    pump_lines,
    running,
    signal_group,
)
from bot.adapters.terraform_cli.results import Step
from bot.cancellation import JobCancelled, current_stop

log = structlog.get_logger("gitops_bot.terraform")

_PIPE_DRAIN_SECONDS = 5.0
_STOP_POLL_SECONDS = 0.2


async def supervise(
    process: asyncio.subprocess.Process,
    collector: OutputCollector,
    step: Step,
    limit: float,
    *,
    wrapped: bool,
    forward_stdout: bool,
    kill_grace_seconds: float,
) -> bool:
    """Read its output until it exits, the timeout stops it (True) or the job is stopped (raises)."""
    assert process.stdout is not None and process.stderr is not None
    pumps = [
        asyncio.create_task(pump_lines(process.stdout, collector, is_stdout=True, forward=forward_stdout)),
        asyncio.create_task(pump_lines(process.stderr, collector, is_stdout=False, forward=True)),
    ]
    timed_out = False
    try:
        try:
            async with asyncio.timeout(limit):
                await _wait_unless_stopped(process)
        except TimeoutError:
            timed_out = True
            log.warning("terraform step timed out; stopping it", step=step, timeout=limit, pid=process.pid)
            await stop(process, wrapped=wrapped, kill_grace_seconds=kill_grace_seconds)
        await _drain(process, pumps)
    except BaseException:
        # Cancelled (or failing): stop Terraform and everything it started, then re-raise.
        await stop(process, wrapped=wrapped, kill_grace_seconds=kill_grace_seconds)
        raise
    finally:
        for task in pumps:
            task.cancel()
        if process.returncode is None:
            # Last resort when cleanup itself was interrupted: leave no process behind.
            signal_group(process.pid, signal.SIGKILL)
    return timed_out


async def _wait_unless_stopped(process: asyncio.subprocess.Process) -> None:
    """Wait for the process; if the job's stop signal is set meanwhile, stop it and raise."""
    stop = current_stop.get()
    if stop is None:
        await process.wait()
        return
    waiting = asyncio.ensure_future(process.wait())
    try:
        while not waiting.done():
            if stop.is_set():
                log.warning("terraform stopped: job cancelled or its lease lost", pid=process.pid)
                raise JobCancelled("job cancelled or its lease lost; terraform was stopped")
            await asyncio.wait({waiting}, timeout=_STOP_POLL_SECONDS)
    finally:
        if not waiting.done():
            waiting.cancel()


async def stop(process: asyncio.subprocess.Process, *, wrapped: bool, kill_grace_seconds: float) -> None:
    """SIGINT (Terraform's graceful stop), SIGKILL to the group after the grace period; returns once
    every process it started is gone.

    In the sandbox, Terraform runs in bubblewrap's own PID namespace and session: killing bwrap makes
    the kernel kill the namespace's processes, but that happens after bwrap is reaped, so they are
    waited for by pid (read from ``/proc`` before the stop), at most the grace period."""
    family = descendants(process.pid) if process.returncode is None else []
    if process.returncode is None:
        interrupt(process.pid, wrapped=wrapped)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.shield(process.wait()), kill_grace_seconds)
    # Also whatever the group still holds after Terraform itself exited.
    signal_group(process.pid, signal.SIGKILL)
    await process.wait()
    deadline = asyncio.get_running_loop().time() + kill_grace_seconds
    while any(running(pid) for pid in family) and asyncio.get_running_loop().time() < deadline:
        await asyncio.sleep(0.02)


async def _drain(process: asyncio.subprocess.Process, pumps: list[asyncio.Task[None]]) -> None:
    """Read what is left in the pipes; a leftover child holding them open is killed."""
    _done, pending = await asyncio.wait(pumps, timeout=_PIPE_DRAIN_SECONDS)
    if pending:
        signal_group(process.pid, signal.SIGKILL)
        await asyncio.wait(pending, timeout=_PIPE_DRAIN_SECONDS)
    for pump in pumps:
        error = pump.exception() if pump.done() and not pump.cancelled() else None
        if error is not None:
            raise error
