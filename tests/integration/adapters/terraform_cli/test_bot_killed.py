"""SIGKILL of the bot leaves no Terraform running: the sandbox (``--die-with-parent``, a PID
namespace) ends everything inside it, and a local Terraform gets SIGKILL from the kernel
(``PR_SET_PDEATHSIG``) when the bot dies."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from bot.adapters.terraform_cli.sandbox import Executor
from tests.integration.adapters.terraform_cli.test_runner import eventually

pytestmark = pytest.mark.integration

# Stands in for terraform and what it starts (a provider, a local-exec command): it starts a
# child, records both, and sleeps far longer than the test.
TERRAFORM = """#!{python}
import subprocess, sys, time
child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(300)", "provider-of-" + sys.argv[0]])
with open(sys.argv[-1], "w") as out:
    out.write("started")
time.sleep(300)
"""

BOT = """
import asyncio, sys
from pathlib import Path
from bot.adapters.terraform_cli import LocalExecutor, TerraformRunner
from tests.integration.adapters.terraform_cli.conftest import sandbox_executor
executor = LocalExecutor() if sys.argv[1] == "local" else sandbox_executor()
runner = TerraformRunner(sys.argv[2], executor=executor)
asyncio.run(runner.run("plan", [sys.argv[3]], cwd=Path(sys.argv[4])))
"""


def _processes_naming(binary: Path) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and entry.name != str(os.getpid()):
            try:
                if str(binary).encode() in (entry / "cmdline").read_bytes():
                    stat = (entry / "stat").read_text()
                    if stat[stat.rfind(")") + 2] != "Z":
                        found.append(int(entry.name))
            except OSError:
                continue
    return found


async def test_killing_the_bot_kills_its_terraform(tmp_path: Path, executor: Executor) -> None:
    binary = tmp_path / "terraform"
    binary.write_text(TERRAFORM.format(python=sys.executable))
    binary.chmod(0o755)
    marker = tmp_path / "started"
    mode = "local" if executor.mode == "local" else "sandbox"
    bot = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(BOT), mode, str(binary), str(marker), str(tmp_path)],
        cwd=Path(__file__).resolve().parents[4],
    )
    try:
        await eventually(lambda: marker.is_file(), "terraform to start", timeout=30)
        await eventually(lambda: len(_processes_naming(binary)) >= 2, "terraform and its child")
        os.kill(bot.pid, signal.SIGKILL)
        bot.wait(10)
        if mode == "local":
            # PDEATHSIG reaches terraform itself; what terraform started is its own business,
            # as with any parent killed outright (the sandbox is what takes the whole tree down).
            await eventually(lambda: len(_processes_naming(binary)) <= 1, "terraform to die with the bot")
        else:
            await eventually(lambda: _processes_naming(binary) == [], "everything in the sandbox to die")
    finally:
        bot.kill()
        for pid in _processes_naming(binary):
            os.kill(pid, signal.SIGKILL)
