"""A job that loses its lease stops its Terraform: two workers never run the same command.

A real worker pool on the real database runs a handler that starts a long "terraform" (a
stand-in script that writes its pid, then sleeps; it ignores nothing, so it shows the stop is
the runner's doing); the test takes the job's lease away as another worker would after a
stall. The heartbeat notices, the runner stops the process group, the job ends ``lease_lost``.
"""

from __future__ import annotations

import asyncio
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import update

from bot.adapters.terraform_cli import TerraformRunner
from bot.adapters.terraform_cli.sandbox import Executor
from bot.cancellation import JobCancelled
from bot.routing import Router
from bot.services import build_services
from bot.settings import Settings
from bot.storage.models import Job
from bot.worker import WorkerPool
from tests.integration.adapters.terraform_cli.test_runner import eventually, group_gone

SLEEPER = """#!{python}
import os, sys, time
with open(sys.argv[-1], "w") as out:
    out.write(str(os.getpgid(0)))
time.sleep(120)
"""


async def test_losing_the_lease_stops_terraform(
    tmp_path: Path, database_url: str, executor: Executor
) -> None:
    binary = tmp_path / "terraform"
    binary.write_text(SLEEPER.format(python=sys.executable))
    binary.chmod(0o755)
    groupfile = tmp_path / "group"
    outcome: dict[str, object] = {}
    router = Router()

    @router.register("internal", "test", name="long.plan")
    def long_plan(ctx) -> None:
        runner = TerraformRunner(str(binary), kill_grace_seconds=0.5, executor=executor)
        started = time.monotonic()
        try:
            asyncio.run(runner.run("plan", [str(groupfile)], cwd=tmp_path))
        except JobCancelled as stopped:
            outcome["stopped"] = str(stopped)
            outcome["after"] = time.monotonic() - started
            raise

    settings = Settings(
        _env_file=None, database_url=database_url, job_lease_seconds=0.6, job_poll_interval_seconds=0.05
    )
    services = build_services(settings)
    with services.database.transaction() as session:
        services.queue.enqueue(session, "long.plan")
    pool = WorkerPool(services, router, concurrency=1)
    await pool.start()
    try:
        await eventually(lambda: groupfile.is_file() and groupfile.read_text() != "", "terraform to start")
        leaders = _leaders_of(binary)
        assert leaders, "the runner starts terraform in a process group of its own"
        # Another worker took the job over (as after a stall): the lease token no longer matches.
        with services.database.transaction() as session:
            later = datetime.now(UTC) + timedelta(minutes=5)  # and holds it: no claim back here
            session.execute(update(Job).values(lease_owner="another-worker", lease_expires_at=later))
        await eventually(lambda: "stopped" in outcome, "the runner to stop terraform", timeout=15)
        for pgid in leaders:
            await eventually(lambda pgid=pgid: group_gone(pgid), "terraform's process group to be gone")
    finally:
        await pool.stop()
        services.close()
    assert "its lease lost" in str(outcome["stopped"])
    assert float(outcome["after"]) < 10


def _leaders_of(binary: Path) -> list[int]:
    """Process-group leaders whose command line names ``binary`` (bwrap's or terraform's own)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes()
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rfind(")") + 2 :].split()
        if str(binary).encode() in cmdline and fields[2] == entry.name:
            found.append(int(entry.name))
    return found
