"""Canary benchmark: how fast a breach becomes a revert pull request, and what analyses cost.

    .venv/bin/python bench/canary.py                    # both parts
    .venv/bin/python bench/canary.py --runs 5 --analyses 100

**Breach to revert.** The whole bot in this process as `serve` runs it (intake, queue on
SQLite, workers, and the scheduler's leader enqueueing due steps every second), a real
Prometheus scraping a vLLM-shaped exporter every second, and the GitHub stand-in over real
git. Each run deploys a new version with healthy traffic (push, pull request, merge), lets
one healthy interval pass, then turns its error rate to 50% and measures the time from that
moment to the revert pull request existing. The bound it is judged against is
``interval x failure_limit`` (the earliest the verdict can fail) plus one scrape interval.

**500 analyses.** ``--analyses`` running analyses (each with the two default decisive metrics
and the request-count guard: 5 queries per interval) on one process, against the same real
Prometheus, for ``--intervals`` intervals of ``--interval`` seconds. Reported: queries sent,
and the process's CPU seconds per interval (user + system, from ``resource.getrusage``), also
as a share of one core.

Goals: breach-to-revert within one interval of the bound; 500 analyses under 10% of a core.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from fastapi.testclient import TestClient  # noqa: E402

from bench.common import (  # noqa: E402
    bot_settings,
    migrated_database,
    percentile,
    post_registry,
    serving,
    standin,
    wait_until,
)
from bot.canary.defaults import VllmDefaults  # noqa: E402
from bot.config import load_repo_config  # noqa: E402
from bot.deployments.plan import analysis_plan  # noqa: E402
from bot.logging import configure_logging  # noqa: E402
from bot.settings import Settings  # noqa: E402
from bot.storage.models import Analysis, AnalysisInterval, Deployment  # noqa: E402
from bot.storage.types import utcnow  # noqa: E402
from tests.support.botenv import REGISTRY_TOKEN, distribution_push  # noqa: E402
from tests.support.github_standin import GitHubStandIn  # noqa: E402
from tests.support.prometheus import running_prometheus  # noqa: E402
from tests.support.vllm_exporter import Traffic, VllmExporter, vllm_exporter  # noqa: E402

REPO = "acme/gitops"
ERROR_RATE = (
    'sum(rate(http_requests_total{deployment="{{ deployment }}",version="{{ version }}",status=~"5.."}'
    '[{{ interval }}])) / sum(rate(http_requests_total{deployment="{{ deployment }}",version="{{ version }}"}'
    "[{{ interval }}]))"
)


def config_text(interval: int, failure_limit: int) -> str:
    return f"""\
version: 1
deployments:
  - name: chat
    trigger: {{image: {{repository: registry.example.com/serving/chat}}}}
    targets: [{{file: apps/chat/values.yaml, key: image.tag}}]
    canary:
      interval: {interval}s
      duration: 1h
      failure_limit: {failure_limit}
      min_requests: 5
      metrics:
        - name: error_rate
          query: '{ERROR_RATE}'
          max: 0.05
      rollback: {{automerge: false}}
"""


def breach_to_revert(root: Path, runs: int, interval: int, failure_limit: int) -> list[float]:
    database_url = migrated_database(root)
    files = {
        ".gitops-bot.yaml": config_text(interval, failure_limit),
        "apps/chat/values.yaml": "image:\n  tag: 1.0.0\n",
    }
    with (
        vllm_exporter() as exporter,
        running_prometheus(root / "prometheus", scrape_targets=[exporter.url]) as prometheus,
        standin(root, REPO, files) as github,
    ):
        exporter.set("chat", "1.0.0", Traffic())
        settings = bot_settings(
            root,
            github,
            database_url,
            registry_token=REGISTRY_TOKEN,
            gitops_repos=[REPO],
            prometheus_url=prometheus.url,
            scheduler_tick_seconds=0.2,
            job_poll_interval_seconds=0.1,
        )
        with serving(settings, github) as client:
            times = [one_breach(client, github, exporter, run, interval) for run in range(runs)]
    return times


def one_breach(
    client: TestClient, github: GitHubStandIn, exporter: VllmExporter, run: int, interval: int
) -> float:
    """Deploy version ``1.<run+1>.0``, let one healthy interval pass, break it; seconds to the revert PR."""
    version = f"1.{run + 1}.0"
    exporter.set("chat", version, Traffic())
    body = distribution_push("serving/chat", version, f"sha256:{run + 1:064x}")
    assert post_registry(client, body).status_code == 202
    branch = f"gitops-bot/chat/{version}"
    if not wait_until(lambda: any(p.head_ref == branch for p in github.pulls(REPO)), 30, step=0.02):
        raise SystemExit(f"run {run}: no update pull request")
    number = next(p.number for p in github.pulls(REPO) if p.head_ref == branch)
    github.merge_pull_request(REPO, number, user="alice")
    github.flush()
    time.sleep(interval * 1.2)  # one healthy interval
    exporter.set("chat", version, Traffic(error_ratio=0.5))
    breached = time.monotonic()
    revert = f"gitops-bot/revert/chat/{version}"
    if not wait_until(lambda: any(p.head_ref == revert for p in github.pulls(REPO)), 60, step=0.02):
        raise SystemExit(f"run {run}: no revert pull request within 60 s")
    elapsed = time.monotonic() - breached
    print(f"  run {run + 1}: breach to revert PR {elapsed:.2f} s", flush=True)
    return elapsed


@contextmanager
def exporter_process(count: int) -> Iterator[str]:
    """The exporter for ``count`` deployments in a child process: its CPU (rendering 2 x count
    series every scrape) is the fake vLLM servers', not the bot's, so it stays out of the figure."""
    code = (
        "import sys, threading\n"
        f"sys.path.insert(0, {str(ROOT)!r})\n"
        "from tests.support.vllm_exporter import Traffic, vllm_exporter\n"
        "with vllm_exporter() as exporter:\n"
        f"    for n in range({count}):\n"
        "        exporter.set(f'model-{n:03d}', '2.0.0', Traffic())\n"
        "        exporter.set(f'model-{n:03d}', '1.0.0', Traffic())\n"
        "    print(exporter.url, flush=True)\n"
        "    sys.stdin.read()\n"
    )
    child = subprocess.Popen(
        [sys.executable, "-c", code], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    try:
        assert child.stdout is not None
        yield child.stdout.readline().strip()
    finally:
        assert child.stdin is not None
        child.stdin.close()
        child.wait(timeout=10)


def wait_scraped(url: str, timeout: float = 30.0) -> None:
    """Prometheus picks static targets up some seconds after it is ready; wait for the first scrape."""
    query = urllib.parse.urlencode({"query": "up == 1"})
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with urllib.request.urlopen(f"{url}/api/v1/query?{query}", timeout=2) as answer:
            if json.load(answer)["data"]["result"]:
                time.sleep(2)  # a rate() needs two samples
                return
        time.sleep(0.2)
    raise RuntimeError("Prometheus never scraped the exporter")


def many_analyses(root: Path, count: int, intervals: int, interval: int) -> None:
    from bot.deployments.due_steps import enqueue_due_steps
    from bot.routing import Router
    from bot.services import build_services
    from handlers.deployments import analysis_batch, analysis_step

    database_url = migrated_database(root, "many.db")
    # In configs of 1,000 deployments: one .gitops-bot.yaml may hold at most 256 KiB.
    deployments = [
        deployment
        for start in range(0, count, 1000)
        for deployment in load_repo_config(
            "version: 1\ndeployments:\n"
            + "".join(
                f"  - name: model-{n:03d}\n    trigger: {{image: {{repository: r.example.com/m{n}}}}}\n"
                f"    targets: [{{file: v{n}.yaml, key: tag}}]\n"
                f"    canary: {{interval: {interval}s, duration: 1h}}\n"
                for n in range(start, min(start + 1000, count))
            )
        ).deployments
    ]
    with (
        exporter_process(count) as exporter_url,
        running_prometheus(root / "prom-many", scrape_targets=[exporter_url]) as prom,
    ):
        wait_scraped(prom.url)
        router = Router()
        router.register("internal", "deployments", "analysis_step", name="deployments.analysis_step")(
            analysis_step
        )
        router.register("internal", "deployments", "analysis_batch", name="deployments.analysis_batch")(
            analysis_batch
        )
        settings = Settings(_env_file=None, database_url=database_url, prometheus_url=prom.url, workers=4)
        services = build_services(settings)
        now = utcnow()
        with services.database.transaction() as session:
            for deployment in deployments:
                assert deployment.canary is not None
                plan = analysis_plan(
                    repo=REPO, deployment=deployment, canary=deployment.canary, version="2.0.0",
                    stable_version="1.0.0", defaults=VllmDefaults(),
                )  # fmt: skip
                row = Deployment(
                    repo=REPO, name=deployment.name, version="2.0.0", previous_version="1.0.0",
                    merge_commit_sha="0" * 40, merged_at=now, status="analysing", updated_at=now,
                )  # fmt: skip
                session.add(row)
                session.flush()
                session.add(
                    Analysis(deployment_id=row.id, status="running", config=plan.to_json(), started_at=now,
                             next_run_at=now)
                )  # fmt: skip
        queries_per_interval = len(plan.queries())
        import asyncio

        from bot.worker import WorkerPool

        async def run() -> tuple[float, int]:
            pool = WorkerPool(services, router, concurrency=4)
            await pool.start()
            start = resource.getrusage(resource.RUSAGE_SELF)
            begun = time.monotonic()
            for _ in range(intervals * interval):
                if await asyncio.to_thread(enqueue_due_steps, services):
                    pool.wake()  # as the scheduler rings the workers after offering jobs
                await asyncio.sleep(1.0)  # the scheduler tick
            end = resource.getrusage(resource.RUSAGE_SELF)
            await pool.stop()
            elapsed = time.monotonic() - begun
            cpu = (end.ru_utime - start.ru_utime) + (end.ru_stime - start.ru_stime)
            return cpu, int(elapsed)

        cpu, elapsed = asyncio.run(run())
        with services.database.sessions() as session:
            measured = session.query(AnalysisInterval).count()
        services.close()
    done_intervals = measured / count
    print(f"{count} analyses, interval {interval} s, {elapsed} s: {measured} intervals measured "
          f"({done_intervals:.1f} each), {measured * queries_per_interval} Prometheus queries")  # fmt: skip
    per_interval = cpu / max(done_intervals, 1e-9)
    print(f"CPU: {cpu:.2f} s in {elapsed} s = {cpu / elapsed * 100:.1f}% of one core; "
          f"{per_interval:.2f} CPU s per interval of all {count}")  # fmt: skip
    # The larger of: CPU over the wall time, and CPU per interval of all of them over the interval
    # (a short run may hold fewer or more intervals than its length): what the load costs steadily.
    share = max(cpu / elapsed, per_interval / interval) * 100
    limit = 10 if count <= 500 else 100  # the goals: 500 analyses under 10% of a core, 5,000 under one core
    print(
        f"goal ({count} analyses under {limit}% of one core): {'met' if share < limit else 'NOT met'} "
        f"({share:.1f}%)"
    )
    # The bench process is the bot here (the exporter and Prometheus run in processes of their own).
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    if count > 500:  # the memory goal is the 500-analysis load's (and an idle bot's)
        print(f"resident memory under {count} analyses: {peak:.0f} MiB peak (no goal at this load)")
        return
    verdict = "met" if peak < 200 else "NOT met"
    print(f"goal (resident memory under the load under 200 MiB): {verdict} ({peak:.0f} MiB peak)")


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--interval", type=int, default=3)
    parser.add_argument("--failure-limit", type=int, default=2)
    parser.add_argument("--analyses", type=int, default=500)
    parser.add_argument("--many-interval", type=int, default=30)
    parser.add_argument("--intervals", type=int, default=3)
    parser.add_argument("--skip-revert", action="store_true")
    parser.add_argument("--skip-many", action="store_true")
    args = parser.parse_args()
    configure_logging("WARNING", json=False)
    with tempfile.TemporaryDirectory(prefix="gitops-bot-bench-canary-") as tmp:
        root = Path(tmp)
        if not args.skip_revert:
            times = breach_to_revert(root, args.runs, args.interval, args.failure_limit)
            bound = args.interval * args.failure_limit + 1
            p99 = percentile(times, 0.99)
            print(
                f"breach to revert PR over {len(times)} runs: p50 {statistics.median(times):.2f} s, "
                f"p99 {p99:.2f} s; bound interval x failure_limit + scrape = {bound} s"
            )
            print(
                f"goal (breach to revert PR within one interval of the bound, <= {bound + args.interval} s): "
                f"{'met' if p99 <= bound + args.interval else 'NOT met'} (p99 {p99:.2f} s)"
            )
        if not args.skip_many:
            many_analyses(root, args.analyses, args.intervals, args.many_interval)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
