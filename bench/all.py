"""Every benchmark in one run, and `bench/results/latest.md` with each goal MET or NOT MET.

    make bench                                   # = .venv/bin/python bench/all.py
    .venv/bin/python bench/all.py --only idle canary
    .venv/bin/python bench/all.py --anchor HEAD~3  # also the previous bot, beside this one
    .venv/bin/python bench/all.py --full         # each benchmark's own (long) defaults

Each benchmark runs as its own process, one after the other (they would distort each other's
numbers), with short defaults that still measure its goal (`--full` for the long ones). Every
benchmark prints its goals as ``goal (<what>): met|NOT met (<numbers>)``; this collects those lines
and each benchmark's whole output into the report. Comparisons within a benchmark (the bot's
intake against the bare route, the cached mirror against a clone, PostgreSQL with and without
notifications) are same-run ratios already.

``--anchor REV`` adds the same measurements of another version of the bot (a git revision of this
repository, checked out in a temporary work tree): the canary and update benchmarks as that
revision has them, and the idle benchmark serving that revision's bot. Their goal lines appear
beside this run's, marked with the revision.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
GOAL_LINE = re.compile(r"^goal \((?P<goal>.*?)\): (?P<verdict>met|NOT met|UNKNOWN)\b ?(?P<detail>.*)$")

# name -> (short arguments, full arguments); each benchmark's own defaults are its full run.
BENCHES: dict[str, tuple[list[str], list[str]]] = {
    "intake": (["--duration", "10", "--open-duration", "10", "--warmup", "2"], []),
    "update": (["--events", "200", "--deployments", "20", "--warmup", "5"], []),
    "burst": (["--rounds", "3"], []),
    "canary": (["--runs", "5", "--analyses", "500", "--intervals", "2"], []),
    "git": (["--rounds", "3"], []),
    "plan": (
        ["--projects", "10", "--pools", "1", "2", "--latency-runs", "3", "--jobs", "0"],
        ["--jobs", "0"],
    ),
    "console": (["--events", "2000", "--deployments", "100", "--requests", "20"], []),
    "idle": (["--seconds", "60"], []),
}
# What an anchor revision is measured on: (benchmark, script taken from the anchor, arguments).
ANCHORED = ("canary", "update", "idle")


# The machine's speed, read before and after the benchmarks: this kind of VM has been seen to run
# at less than half its usual speed for hours, and every number of a run moves with it.
SPEED_PROCESS_STARTS = 300
SPEED_LOOP_ITERATIONS = 2_000_000


def machine_speed() -> str:
    """Best of three: seconds for 300 starts of ``true`` (what wake-ups and git cost) and for a
    pure-Python loop."""
    starts, loops = [], []
    for _ in range(3):
        started = time.perf_counter()
        for _ in range(SPEED_PROCESS_STARTS):
            subprocess.run(["true"], check=False)
        starts.append(time.perf_counter() - started)
        started = time.perf_counter()
        total = 0
        for number in range(SPEED_LOOP_ITERATIONS):
            total += number * number
        loops.append(time.perf_counter() - started)
    return f"{SPEED_PROCESS_STARTS} process starts {min(starts):.2f} s, Python loop {min(loops):.2f} s"


@dataclass
class BenchRun:
    name: str
    command: list[str]
    label: str = ""
    returncode: int | None = None
    seconds: float = 0.0
    output: str = ""
    goals: list[tuple[str, str, str]] = field(default_factory=list)  # (goal, verdict, detail)


def unwrapped(detail: str) -> str:
    """A goal line's numbers without the one pair of parentheses around them (a detail that ends
    in parentheses of its own keeps them)."""
    return detail[1:-1] if detail.startswith("(") and detail.endswith(")") else detail


def run_bench(run: BenchRun, env: dict[str, str]) -> BenchRun:
    print(f"== {run.name}{run.label}: {' '.join(run.command[1:])}", flush=True)
    started = time.monotonic()
    completed = subprocess.run(
        run.command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=3600, check=False
    )
    run.seconds = time.monotonic() - started
    run.returncode = completed.returncode
    run.output = completed.stdout + (
        f"\n[stderr]\n{completed.stderr[-4000:]}" if completed.returncode else ""
    )
    for line in completed.stdout.splitlines():
        found = GOAL_LINE.match(line.strip())
        if found:
            verdict = {"met": "MET", "NOT met": "NOT MET"}.get(found["verdict"], "UNKNOWN")
            run.goals.append((found["goal"], verdict, unwrapped(found["detail"].strip())))
    for goal, verdict, detail in run.goals:
        print(f"   {verdict:<8} {goal} {detail}", flush=True)
    if completed.returncode:
        print(f"   exited {completed.returncode}; see the report", flush=True)
    return run


def anchor_checkout(revision: str, into: Path) -> Path:
    path = into / "anchor"
    subprocess.run(
        ["git", "worktree", "add", "--detach", "--quiet", str(path), revision], cwd=ROOT, check=True
    )
    return path


def remove_checkout(path: Path) -> None:
    subprocess.run(["git", "worktree", "remove", "--force", str(path)], cwd=ROOT, check=False)


def planned_runs(
    names: Sequence[str], full: bool, anchor: Path | None, revision: str | None
) -> list[BenchRun]:
    runs: list[BenchRun] = []
    for name in names:
        short, long = BENCHES[name]
        arguments = long if full else short
        runs.append(BenchRun(name, [sys.executable, f"bench/{name}.py", *arguments]))
        if anchor is None or name not in ANCHORED:
            continue
        label = f" (anchor {revision})"
        if name == "idle":  # this idle benchmark, serving the anchor's bot
            command = [
                sys.executable,
                "bench/idle.py",
                *arguments,
                "--skip-anchor",
                "--bot-root",
                str(anchor),
            ]
        else:
            extra = ["--skip-revert"] if name == "canary" else []
            # Through bench/checkout.py: the anchor's bot with the anchor's templates and migrations.
            script = str(anchor / "bench" / f"{name}.py")
            command = [sys.executable, str(ROOT / "bench" / "checkout.py"), script, *arguments, *extra]
        runs.append(BenchRun(name, command, label=label))
    return runs


def report(runs: Sequence[BenchRun], started: datetime, revision: str | None, speeds: Sequence[str]) -> str:
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True)
    dirty = subprocess.run(["git", "status", "--porcelain"], cwd=ROOT, capture_output=True, text=True).stdout
    lines = [
        "# Benchmarks: latest run",
        "",
        f"Started {started:%Y-%m-%d %H:%M} UTC on commit {commit.stdout.strip()}"
        f"{' (with uncommitted changes)' if dirty.strip() else ''}, {os.cpu_count()} cores"
        + (f"; anchor {revision}" if revision else "")
        + ". Written by `make bench` (`bench/all.py`); see `bench/README.md` for what each measures.",
        "",
        f"Machine speed before: {speeds[0]}; after: {speeds[-1]}. Compare this run's numbers with "
        "another's only when these agree.",
        "",
        "| benchmark | goal | verdict | measured |",
        "| --- | --- | --- | --- |",
    ]
    for run in runs:
        if not run.goals:
            state = "ran, no goal line" if run.returncode == 0 else f"FAILED (exit {run.returncode})"
            lines.append(f"| {run.name}{run.label} | - | {state} | - |")
        for goal, verdict, detail in run.goals:
            shown = f"**{verdict}**" if not run.label else f"{verdict} (anchor)"
            lines.append(f"| {run.name}{run.label} | {goal} | {shown} | {detail} |")
    for run in runs:
        lines += ["", f"## {run.name}{run.label}: {run.seconds:.0f} s, exit {run.returncode}", ""]
        lines += [
            f"    {' '.join(Path(part).name if part == sys.executable else part for part in run.command)}"
        ]
        lines += ["", "```", run.output.strip(), "```"]
    return "\n".join(lines) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--only", nargs="+", choices=list(BENCHES), default=list(BENCHES))
    parser.add_argument("--full", action="store_true", help="each benchmark's own, longer defaults")
    parser.add_argument("--anchor", metavar="REV", help="also measure this git revision's bot")
    parser.add_argument("--output", type=Path, default=RESULTS / "latest.md")
    options = parser.parse_args(argv)
    started = datetime.now(UTC)
    speeds = [machine_speed()]
    print(f"machine speed: {speeds[0]}", flush=True)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    with tempfile.TemporaryDirectory(prefix="gitops-bot-bench-all-") as tmp:
        anchor = anchor_checkout(options.anchor, Path(tmp)) if options.anchor else None
        try:
            runs = [
                run_bench(run, env)
                for run in planned_runs(options.only, options.full, anchor, options.anchor)
            ]
        finally:
            if anchor is not None:
                remove_checkout(anchor)
    speeds.append(machine_speed())
    print(f"machine speed after: {speeds[-1]}", flush=True)
    options.output.parent.mkdir(parents=True, exist_ok=True)
    options.output.write_text(report(runs, started, options.anchor, speeds))
    print(f"report: {options.output}")
    return 1 if any(run.returncode for run in runs) else 0


if __name__ == "__main__":
    raise SystemExit(main())
