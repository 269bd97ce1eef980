"""Process control and output collection for one terraform command (Linux).

A command runs in its own process group, so a stop reaches Terraform *and* what it started
(providers, ``local-exec`` commands): SIGINT first (Terraform's documented graceful stop, what
Ctrl-C sends; it releases state locks), then SIGKILL to the whole group. Inside a sandbox the
group leader is ``bwrap``, which would die of SIGINT at once and take Terraform with it, so the
graceful signal goes to the other members only.

Output is read from both pipes as it comes, decoded incrementally (a multi-byte character split
across reads stays whole), forwarded line by line and kept up to a limit.
"""

from __future__ import annotations

import asyncio
import codecs
import contextlib
import inspect
import os
import signal
from pathlib import Path

import structlog

from bot.adapters.terraform_cli.results import OnLine, Step

log = structlog.get_logger("gitops_bot.terraform")

READ_CHUNK = 64 * 1024


def signal_group(pgid: int, signum: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signum)


def group_members(pgid: int) -> list[int]:
    """The processes of process group ``pgid`` (Linux ``/proc``; host pids, sandboxes included)."""
    members = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # Fields after the command name (which may hold spaces and parentheses): state ppid pgrp ...
        fields = stat[stat.rfind(")") + 2 :].split()
        if len(fields) > 2 and fields[2] == str(pgid):
            members.append(int(entry.name))
    return members


def interrupt(pgid: int, *, wrapped: bool) -> None:
    """Terraform's graceful stop (SIGINT), to Terraform itself even when it runs inside a wrapper.

    A sandbox's ``bwrap`` would die of SIGINT at once and take Terraform with it before it
    released its state lock, so the wrapper (the group leader) is left out; it ends when
    Terraform ends.
    """
    if not wrapped:
        signal_group(pgid, signal.SIGINT)
        return
    for pid in group_members(pgid):
        if pid != pgid:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGINT)


class OutputCollector:
    """Keeps a step's output (up to a limit) and forwards each line to the callback."""

    def __init__(self, step: Step, on_line: OnLine | None, limit: int) -> None:
        self.step = step
        self.on_line = on_line
        self.limit = limit
        self.lines: list[str] = []
        self.stdout_lines: list[str] = []
        self.size = 0
        self.stdout_size = 0
        self.truncated = False

    async def add(self, line: str, *, is_stdout: bool, forward: bool) -> None:
        if is_stdout:
            if self.stdout_size + len(line) + 1 <= self.limit:
                self.stdout_lines.append(line)
                self.stdout_size += len(line) + 1
            else:
                self.truncated = True
        if forward:
            if self.size + len(line) + 1 <= self.limit:
                self.lines.append(line)
                self.size += len(line) + 1
            else:
                self.truncated = True
            await self._forward(line)

    async def _forward(self, line: str) -> None:
        if self.on_line is None:
            return
        try:
            result = self.on_line(self.step, line)
            if inspect.isawaitable(result):
                await result
        except Exception:
            # A failing log sink must not leave Terraform half-run: keep running, stop forwarding.
            log.exception("terraform output callback failed; no more lines are forwarded", step=self.step)
            self.on_line = None

    def output(self) -> str:
        text = "".join(f"{line}\n" for line in self.lines)
        if self.truncated:
            text += f"[output truncated after {self.limit} characters]\n"
        return text

    def stdout(self) -> str:
        return "".join(f"{line}\n" for line in self.stdout_lines)


async def pump_lines(
    reader: asyncio.StreamReader, collector: OutputCollector, *, is_stdout: bool, forward: bool
) -> None:
    decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
    pending = ""
    while chunk := await reader.read(READ_CHUNK):
        pending += decoder.decode(chunk)
        *lines, pending = pending.split("\n")
        for line in lines:
            await collector.add(line.rstrip("\r"), is_stdout=is_stdout, forward=forward)
    pending += decoder.decode(b"", final=True)
    if pending:
        await collector.add(pending.rstrip("\r"), is_stdout=is_stdout, forward=forward)


def descendants(pid: int) -> list[int]:
    """Every live descendant of ``pid`` (Linux ``/proc``; none elsewhere), read once."""
    parents: dict[int, list[int]] = {}
    try:
        entries = os.listdir("/proc")
    except OSError:
        return []
    for entry in entries:
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", encoding="ascii", errors="replace") as stat:
                # "pid (comm) state ppid ...": comm may hold spaces and parentheses.
                ppid = int(stat.read().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        parents.setdefault(ppid, []).append(int(entry))
    found: list[int] = []
    todo = list(parents.get(pid, ()))
    while todo:
        child = todo.pop()
        found.append(child)
        todo.extend(parents.get(child, ()))
    return found


def running(pid: int) -> bool:
    """Whether ``pid`` still runs anything (a zombie does not: it only waits to be reaped)."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] not in ("Z", "X")
    except (OSError, IndexError):
        return False
