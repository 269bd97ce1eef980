"""Idle benchmark: what a bot with nothing to do costs, in CPU and memory.

    .venv/bin/python bench/idle.py                      # 300 s per target, SQLite and PostgreSQL
    .venv/bin/python bench/idle.py --seconds 30 --targets sqlite

``gitops-bot serve`` (HTTP, workers and scheduler in one process, as ``make run`` starts it) with
one GitOps repository on the local forge and nothing happening: no webhook, no open pull
request. After it is ready and a settling period, the bench reads the server's CPU time (user +
system, all threads, from ``/proc``) over ``--seconds`` and its resident memory (``VmRSS``) at
the end. On PostgreSQL it also counts the statements the bot sent (``pg_stat_statements`` is not
needed: the transactions committed in the bot's database, from ``pg_stat_database``).

The anchors, in the same run: the floor, uvicorn serving the intake benchmark's bare route
(``bench/bare_app.py``) with nothing to do (uvicorn's own loop wakes ten times a second); and on
PostgreSQL the same bot with its notifications off (``GITOPS_BOT_JOB_NOTIFICATIONS=false``),
polling the queue every 0.5 s as on SQLite. To measure
another version of the bot (the previous commit, say), point ``--bot-root`` at a checkout of it:
its ``bot`` package is then the one served and migrated.

Goal: under 0.5% of one core on SQLite and on PostgreSQL; resident memory under 200 MiB.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import load  # noqa: E402
from bench.intake import migrate, postgres_problem, postgres_schema  # noqa: E402

DEFAULT_POSTGRES = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
GOAL_CPU_PERCENT = 0.5
GOAL_RSS_MIB = 200.0


@dataclass(frozen=True)
class IdleReading:
    target: str
    variant: str
    seconds: float
    cpu_percent: float
    rss_mib: float | None
    commits_per_second: float | None = None

    def row(self) -> list[str]:
        commits = "-" if self.commits_per_second is None else f"{self.commits_per_second:.2f}"
        rss = "-" if self.rss_mib is None else f"{self.rss_mib:.0f}"
        return [self.target, self.variant, f"{self.seconds:.0f}", f"{self.cpu_percent:.2f}", rss, commits]


def rss_mib(pid: int) -> float | None:
    """Resident memory of a process, from /proc; None elsewhere."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


def postgres_commits(conninfo: str) -> int:
    import psycopg

    with psycopg.connect(conninfo, autocommit=True) as connection:
        row = connection.execute(
            "SELECT xact_commit FROM pg_stat_database WHERE datname = current_database()"
        ).fetchone()
    return int(row[0]) if row else 0


def measure(
    target: str,
    variant: str,
    env_extra: dict[str, str],
    seconds: float,
    settle: float,
    postgres_url: str,
    bot_root: Path | None = None,
) -> IdleReading | str:
    with tempfile.TemporaryDirectory(prefix="gitops-bot-bench-idle-") as tmp, contextlib.ExitStack() as stack:
        workdir = Path(tmp)
        conninfo: str | None = None
        if target == "sqlite":
            url = f"sqlite:///{workdir / 'gitops-bot.db'}"
        else:
            problem = postgres_problem(postgres_url)
            if problem:
                return problem
            url, conninfo, _schema = stack.enter_context(postgres_schema(postgres_url))
        env = load.server_environment(
            {
                "GITOPS_BOT_LOG_LEVEL": "WARNING",
                "GITOPS_BOT_DATABASE_URL": url,
                "GITOPS_BOT_DATA_DIR": str(workdir / "data"),
                "GITOPS_BOT_GITOPS_REPOS": "acme/gitops",
                **env_extra,
            }
        )
        if bot_root is not None:  # that checkout's bot, not this one's
            env["PYTHONPATH"] = str(bot_root)
        migrate(env, workdir, bot_root)
        server = load.ServerProcess(
            f"{target}-{variant}", load.bot_command("serve", bot_root=bot_root), env, workdir
        )
        stack.callback(server.stop)
        server.wait_ready()
        time.sleep(settle)
        cpu_before = server.cpu_seconds() or 0.0
        commits_before = postgres_commits(conninfo) if conninfo else None
        started = time.monotonic()
        time.sleep(seconds)
        elapsed = time.monotonic() - started
        cpu = (server.cpu_seconds() or 0.0) - cpu_before
        commits = None
        if conninfo and commits_before is not None:
            # The bench's own two reads are in the count; they are negligible over minutes.
            commits = (postgres_commits(conninfo) - commits_before) / elapsed
        return IdleReading(
            target, variant, elapsed, 100 * cpu / elapsed, rss_mib(server.process.pid), commits
        )


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=float, default=300.0, help="measured idle time per run")
    parser.add_argument("--settle", type=float, default=5.0, help="seconds after ready before measuring")
    parser.add_argument(
        "--targets", nargs="+", default=["sqlite", "postgres"], choices=["sqlite", "postgres"]
    )
    parser.add_argument("--skip-anchor", action="store_true", help="no bare-route or notifications-off run")
    parser.add_argument("--bot-root", type=Path, help="serve the bot of this checkout instead")
    parser.add_argument(
        "--env", action="append", default=[], metavar="KEY=VALUE", help="a setting for the bot (repeatable)"
    )
    parser.add_argument("--postgres-url", default=DEFAULT_POSTGRES)
    return parser.parse_args(argv)


def bare_reading(seconds: float, settle: float) -> IdleReading:
    """The floor: the bare FastAPI route of the intake benchmark under uvicorn, idle as long."""
    with tempfile.TemporaryDirectory(prefix="gitops-bot-bench-idle-") as tmp:
        command = [sys.executable, str(ROOT / "bench" / "bare_app.py")]
        server = load.ServerProcess("bare", command, load.server_environment({}), Path(tmp))
        try:
            server.wait_ready()
            time.sleep(settle)
            before, started = server.cpu_seconds() or 0.0, time.monotonic()
            time.sleep(seconds)
            elapsed = time.monotonic() - started
            cpu = (server.cpu_seconds() or 0.0) - before
            return IdleReading(
                "bare", "uvicorn, no bot", elapsed, 100 * cpu / elapsed, rss_mib(server.process.pid)
            )
        finally:
            server.stop()


def run(options: argparse.Namespace) -> tuple[list[IdleReading], list[str]]:
    readings: list[IdleReading] = []
    skipped: list[str] = []
    if not options.skip_anchor:
        print(f"  bare route: {options.seconds:g} s idle", flush=True)
        readings.append(bare_reading(options.seconds, options.settle))
    settings = dict(item.split("=", 1) for item in options.env)
    for target in options.targets:
        variants: list[tuple[str, dict[str, str]]] = [("bot", settings)]
        if target == "postgres" and not options.skip_anchor:
            variants.append(
                ("anchor: notifications off", {**settings, "GITOPS_BOT_JOB_NOTIFICATIONS": "false"})
            )
        for variant, extra in variants:
            print(f"  {target} / {variant}: {options.seconds:g} s idle", flush=True)
            reading = measure(
                target,
                variant,
                extra,
                options.seconds,
                options.settle,
                options.postgres_url,
                options.bot_root,
            )
            if isinstance(reading, str):
                skipped.append(f"{target}: {reading}")
                break
            readings.append(reading)
    return readings, skipped


def report(readings: Sequence[IdleReading], skipped: Sequence[str]) -> str:
    lines = [
        load.table(
            ["target", "variant", "seconds", "CPU % of a core", "RSS MiB", "PG commits/s"],
            [reading.row() for reading in readings],
        )
    ]
    lines += [f"skipped {reason}" for reason in skipped]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    options = parse_args(argv)
    readings, skipped = run(options)
    print(report(readings, skipped))
    for reading in readings:
        if reading.variant != "bot":
            continue
        met = reading.cpu_percent < GOAL_CPU_PERCENT
        anchors = [r for r in readings if r.target in (reading.target, "bare") and r.variant != "bot"]
        beside = "".join(f"; {anchor.variant}: {anchor.cpu_percent:.2f}%" for anchor in anchors)
        print(
            f"goal (idle on {reading.target} under {GOAL_CPU_PERCENT}% of a core, {reading.seconds:.0f} s): "
            f"{'met' if met else 'NOT met'} ({reading.cpu_percent:.2f}%{beside})"
        )
        if reading.rss_mib is not None:
            verdict = "met" if reading.rss_mib < GOAL_RSS_MIB else "NOT met"
            print(
                f"goal (idle resident memory on {reading.target} under {GOAL_RSS_MIB:.0f} MiB): "
                f"{verdict} ({reading.rss_mib:.0f} MiB)"
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
