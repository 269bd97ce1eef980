"""The canary judges on a scenario suite, on a real Prometheus: how often each fails a healthy
canary, how fast it catches a slower one, and what it says with no traffic.

    .venv/bin/python bench/judge.py
    .venv/bin/python bench/judge.py --aa-runs 40 --worse-runs 80

vLLM-shaped series (time to first token histograms with vLLM's buckets, HTTP request counters)
for a stable and a canary version, ``--replicas`` replicas scraped every ``--step`` seconds, 5
requests per second per version, are backfilled into a fresh Prometheus
(``tests/support/canary_scenarios.py``); each interval is judged at its end by the code the bot
runs, with the vLLM defaults, once with ``judge: thresholds`` and once with ``judge: mann_whitney``
(confidence 0.95, min_samples 30, min_effect 0.1):

* **A/A**: canary and stable drawn from the same distribution, noisy, 5 rps; the share of
  intervals that fail (goal: at most 1% over at least 200 intervals);
* **TTFT 20% worse**: every canary request 20% slower (so its p99 too); the share of runs with a
  failing interval among their first 3 (goal: at least 95%);
* **zero traffic**: the canary gets no requests; every interval must be inconclusive.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.adapters.prometheus import PrometheusQueries  # noqa: E402
from tests.support.canary_scenarios import Run, Traffic, openmetrics, plan_for, verdicts  # noqa: E402
from tests.support.prometheus import running_prometheus  # noqa: E402

JUDGES = ("thresholds", "mann_whitney")


def scenario_runs(aa: int, worse: int, zero: int, start: int, median: float) -> list[Run]:
    stable = Traffic(ttft_median=median)
    runs = [Run("aa", f"aa-{n}", start, 10, stable, stable) for n in range(aa)]
    slower = Traffic(ttft_scale=1.2, ttft_median=median)
    runs += [Run("worse", f"worse-{n}", start, 3, slower, stable) for n in range(worse)]
    runs += [Run("zero", f"zero-{n}", start, 3, Traffic(rps=0.0), stable) for n in range(zero)]
    return runs


def judge_all(
    client: PrometheusQueries, runs: list[Run], interval: int, step: int
) -> dict[str, dict[str, list[list[str]]]]:
    """Per judge, per scenario: each run's interval verdicts."""
    found: dict[str, dict[str, list[list[str]]]] = {judge: {} for judge in JUDGES}
    for judge in JUDGES:
        for run in runs:
            plan = plan_for(run, interval=interval, judge=judge, step=step)
            found[judge].setdefault(run.scenario, []).append(
                [verdict for verdict, _ in verdicts(client, run, plan)]
            )
    return found


def report(found: dict[str, dict[str, list[list[str]]]]) -> list[str]:
    lines = [
        "| judge | A/A false failures (intervals) | TTFT +20% caught within 3 intervals (runs) "
        "| zero traffic inconclusive (intervals) |",
        "| --- | --- | --- | --- |",
    ]
    for judge in JUDGES:
        aa = [v for run in found[judge].get("aa", []) for v in run]
        worse = found[judge].get("worse", [])
        zero = [v for run in found[judge].get("zero", []) for v in run]
        aa_fail = sum(v == "fail" for v in aa)
        caught = sum("fail" in run[:3] for run in worse)
        zero_inconclusive = sum(v == "inconclusive" for v in zero)
        lines.append(
            f"| {judge} | {aa_fail}/{len(aa)} = {100 * aa_fail / max(1, len(aa)):.1f}% "
            f"| {caught}/{len(worse)} = {100 * caught / max(1, len(worse)):.0f}% "
            f"| {zero_inconclusive}/{len(zero)} |"
        )
    return lines


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--aa-runs", type=int, default=20, help="A/A runs of 10 intervals (default: 20 = 200 intervals)"
    )
    parser.add_argument("--worse-runs", type=int, default=40, help="runs with TTFT 20%% worse (default: 40)")
    parser.add_argument("--zero-runs", type=int, default=5, help="runs without canary traffic (default: 5)")
    parser.add_argument("--interval", type=int, default=60, help="analysis interval, seconds (default: 60)")
    parser.add_argument("--step", type=int, default=15, help="scrape interval, seconds (default: 15)")
    parser.add_argument("--replicas", type=int, default=4, help="replicas per version (default: 4)")
    parser.add_argument(
        "--ttft-median", type=float, default=0.03,
        help="median time to first token, seconds (default: 0.03, p99 76 ms; "
        "0.12 puts p99 in vLLM's 250-500 ms bucket)",
    )  # fmt: skip
    args = parser.parse_args()
    start = int(time.time()) - 4 * 3600
    runs = scenario_runs(args.aa_runs, args.worse_runs, args.zero_runs, start, args.ttft_median)
    began = time.monotonic()
    text = openmetrics(runs, interval=args.interval, step=args.step, replicas=args.replicas)
    with (
        tempfile.TemporaryDirectory() as scratch,
        running_prometheus(Path(scratch), openmetrics=text) as prom,
    ):
        loaded = time.monotonic() - began
        with PrometheusQueries(prom.url, timeout_seconds=30) as client:
            found = judge_all(client, runs, args.interval, args.step)
    print(
        f"scenario suite: interval {args.interval}s, scrape {args.step}s, {args.replicas} replicas, "
        "5 rps per version"
    )
    print(
        f"(data generated and backfilled in {loaded:.1f} s; "
        f"judged in {time.monotonic() - began - loaded:.1f} s)"
    )
    for line in report(found):
        print(line)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
