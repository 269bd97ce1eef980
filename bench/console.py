"""Console benchmark: how long each page takes to render with a big database behind it.

    .venv/bin/python bench/console.py                          # 10,000 events, 500 deployments
    .venv/bin/python bench/console.py --events 500 --deployments 20 --requests 5

The bot's app serves over real HTTP on loopback (uvicorn, as ``serve`` runs it; no workers, so
nothing but the requests uses the CPU) from a fresh SQLite file filled with ``--events`` webhook
events (each with the realistic ``pull_request`` body the intake bench sends, a job and an audit
action), ``--deployments`` deployments in one GitOps repository on the GitHub stand-in (each
with a few merged versions, every tenth analysing a canary with its intervals, open update pull
requests, refusals), Terraform runs with their output, and locks. Each page and its JSON twin
is fetched ``--requests`` times, one request at a time, after one warm-up request; the time is
from the request sent to the last byte of the answer.

Goal: every page's p95 under 100 ms with 10,000 events and 500 deployments.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402
from fastapi.testclient import TestClient  # noqa: E402

from bench.common import bot_settings, migrated_database, percentile, standin  # noqa: E402
from bot.app import create_app  # noqa: E402
from bot.logging import configure_logging  # noqa: E402
from bot.storage.db import Database  # noqa: E402
from bot.storage.models import (  # noqa: E402
    Action,
    Analysis,
    AnalysisInterval,
    Deployment,
    Event,
    Job,
    Lock,
    TerraformRun,
    TerraformRunLine,
    UpdateRequest,
)
from bot.storage.types import utcnow  # noqa: E402
from tests.support.botenv import served  # noqa: E402

REPO = "acme/gitops"
GOAL_MS = 100.0
PAYLOAD = json.loads((ROOT / "bench" / "fixtures" / "intake.json").read_text())["payload"]
CANARY = {
    "interval": "1m",
    "intervals": 10,
    "failure_limit": 2,
    "metrics": [{"name": "error_rate", "max": 0.05}, {"name": "ttft_p99_seconds", "max": 0.5}],
}


def repository_files(deployments: int) -> dict[str, str]:
    """A GitOps repository with ``deployments`` deployments, as staging/prod pairs with promotion."""
    config = ["version: 1", "deployments:"]
    files: dict[str, str] = {}
    for index in range(deployments):
        app, stage = f"model-{index // 2:03d}", ("staging" if index % 2 == 0 else "prod")
        name = f"{app}-{stage}"
        config += [
            f"  - name: {name}",
            f"    trigger: {{image: {{repository: registry.example.com/serving/{app}}}}}",
            f"    targets: [{{file: apps/{app}/values-{stage}.yaml, key: image.tag}}]",
        ]
        if stage == "staging":
            config.append(f"    promote: {{to: {app}-prod}}")
        files[f"apps/{app}/values-{stage}.yaml"] = "image:\n  tag: 1.0.0\n"
    files[".gitops-bot.yaml"] = "\n".join(config) + "\n"
    return files


def deployment_name(index: int) -> str:
    return f"model-{index // 2:03d}-{'staging' if index % 2 == 0 else 'prod'}"


def seed(database: Database, *, events: int, deployments: int) -> dict[str, Any]:
    """Fill the database; returns ids the page list needs (an analysis, a run)."""
    now = utcnow()
    with database.sessions() as session:
        event_rows = [
            Event(
                source="github",
                event="pull_request",
                action="opened",
                delivery_id=f"bench-{number}",
                dedupe_key=f"github:bench-{number}",
                status="done" if number % 7 else "ignored",
                ignored_reason=None if number % 7 else "no deployment's trigger matches serving/other",
                received_at=now - timedelta(seconds=events - number),
                finished_at=now - timedelta(seconds=events - number - 1),
                payload=PAYLOAD,
            )
            for number in range(events)
        ]
        session.add_all(event_rows)
        session.flush()
        session.add_all(
            Job(event_id=row.id, handler="pull_request.opened", status="done", attempts=1)
            for row in event_rows
        )
        session.add_all(
            Action(
                kind="update.propose",
                actor="gitops-bot",
                repo=REPO,
                target=deployment_name(number % deployments),
                summary=f"No update of {deployment_name(number % deployments)} to 0.{number}.0: "
                "the version is older than the running one.",
                outcome="refused" if number % 3 else "opened",
                details={"code": "backwards", "reason": "the version is older than the running one"},
                event_id=row.id,
                at=row.received_at,
            )
            for number, row in enumerate(event_rows)
        )
        analysis_id = _seed_deployments(session, deployments, now)
        run_id = _seed_terraform(session, now)
        session.commit()
    return {"analysis": analysis_id, "run": run_id}


def _seed_deployments(session: Any, deployments: int, now: Any) -> int:
    analysis_id = 0
    for index in range(deployments):
        name = deployment_name(index)
        for version in range(1, 4):
            analysing = version == 3 and index % 10 == 0
            row = Deployment(
                repo=REPO,
                name=name,
                version=f"1.{version}.0",
                previous_version=f"1.{version - 1}.0",
                pr_number=index * 10 + version,
                pr_url=f"https://github.com/{REPO}/pull/{index * 10 + version}",
                merge_commit_sha=f"{index:020x}{version:020x}",
                merged_at=now - timedelta(hours=4 - version),
                status="analysing" if analysing else "passed",
            )
            session.add(row)
            session.flush()
            if analysing:
                analysis = Analysis(deployment_id=row.id, status="running", config=CANARY, started_at=now)
                session.add(analysis)
                session.flush()
                analysis_id = analysis.id
                session.add_all(_intervals(analysis.id, now))
        session.add(
            UpdateRequest(
                repo=REPO, deployment=name, version="1.4.0", branch=f"gitops-bot/{name}/1.4.0", status="open",
                pr_number=10_000 + index, pr_url=f"https://github.com/{REPO}/pull/{10_000 + index}",
            )
        )  # fmt: skip
    return analysis_id


def _intervals(analysis_id: int, now: Any) -> list[AnalysisInterval]:
    return [
        AnalysisInterval(
            analysis_id=analysis_id,
            index=index,
            at=now - timedelta(minutes=6 - index),
            verdict="pass",
            request_count=120.0,
            measurements={
                "error_rate": {"value": 0.01, "baseline": 0.01, "verdict": "pass"},
                "ttft_p99_seconds": {"value": 0.3, "baseline": 0.28, "verdict": "pass"},
            },
        )
        for index in range(6)
    ]


def _seed_terraform(session: Any, now: Any) -> int:
    run_id = 0
    for number in range(200):
        run = TerraformRun(
            repo=REPO, pr_number=number, project="serving", dir="terraform/serving", workspace="default",
            command="plan", head_sha=f"{number:040x}", status="succeeded", requested_by="alice",
            started_at=now - timedelta(minutes=number), finished_at=now, outcome="planned",
            headline="Plan: 1 to add, 0 to change, 0 to destroy.", line_count=40,
        )  # fmt: skip
        session.add(run)
        session.flush()
        run_id = run_id or run.id
        session.add_all(
            TerraformRunLine(
                run_id=run.id, seq=seq, step="plan", line=f"  # terraform_data.item[{seq}] will be created"
            )
            for seq in range(1, 41)
        )
        if number < 50:
            session.add(
                Lock(repo=REPO, dir=f"terraform/p{number}", workspace="default", project=f"p{number}",
                     pr_number=number, owner="alice")
            )  # fmt: skip
    return run_id


def pages(ids: dict[str, Any]) -> list[str]:
    """Every console page and its JSON twin, as an operator opens them."""
    deployment = f"/deployments/{REPO}/{deployment_name(0)}"
    return [
        "/",
        "/api/overview",
        deployment,
        f"/api{deployment}",
        f"/analyses/{ids['analysis']}",
        f"/api/analyses/{ids['analysis']}",
        "/locks",
        "/api/locks",
        "/runs",
        f"/runs/{ids['run']}",
        "/api/runs",
        "/updates",
        "/api/updates",
        "/events",
        "/events?status=ignored",
        "/api/events",
        "/actions",
        "/actions?outcome=refused",
        "/api/actions",
    ]


def measure(base: str, path: str, requests: int) -> tuple[int, list[float]]:
    with httpx.Client(base_url=base, timeout=30) as client:
        status = client.get(path).status_code  # warm-up: the config cache, the first query plans
        times: list[float] = []
        for _ in range(requests):
            started = time.perf_counter()
            answer = client.get(path)
            times.append((time.perf_counter() - started) * 1000)
            status = answer.status_code
    return status, times


@contextmanager
def console_serving(root: Path, deployments: int, events: int) -> Iterator[tuple[str, dict[str, Any]]]:
    database_url = migrated_database(root)
    with standin(root, REPO, repository_files(deployments)) as github:
        settings = bot_settings(root, github, database_url, gitops_repos=[REPO], console_auth="none")
        app = create_app(settings, run_workers=False)
        with TestClient(app):  # the lifespan: services built, the mirror ready
            database = Database(database_url)
            ids = seed(database, events=events, deployments=deployments)
            database.dispose()
            with served(app) as base:
                yield base, ids


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--events", type=int, default=10_000)
    parser.add_argument("--deployments", type=int, default=500)
    parser.add_argument("--requests", type=int, default=20, help="timed requests per page")
    args = parser.parse_args()
    configure_logging("WARNING", json=False)

    rows: list[tuple[str, int, float, float, float]] = []
    with tempfile.TemporaryDirectory(prefix="gitops-bot-bench-console-") as tmp:
        seeding = time.perf_counter()
        with console_serving(Path(tmp), args.deployments, args.events) as (base, ids):
            took = time.perf_counter() - seeding
            print(f"seeded {args.events} events, {args.deployments} deployments in {took:.1f} s")
            for path in pages(ids):
                status, times = measure(base, path, args.requests)
                rows.append((path, status, statistics.median(times), percentile(times, 0.95), max(times)))

    width = max(len(path) for path, *_ in rows)
    print(f"{'page'.ljust(width)}  status   p50 ms   p95 ms   max ms")
    for path, status, p50, p95, worst in rows:
        print(f"{path.ljust(width)}  {status:>6}  {p50:7.1f}  {p95:7.1f}  {worst:7.1f}")
    failing = [path for path, status, _, p95, _ in rows if status != 200 or p95 >= GOAL_MS]
    slowest = max(rows, key=lambda row: row[3])
    detail = f"slowest p95 {slowest[3]:.1f} ms, {slowest[0]}"
    verdict = "met" if not failing else f"NOT met (over: {', '.join(failing)}; {detail})"
    shown = verdict if failing else f"{verdict} ({detail})"
    print(f"goal (every page 200 with p95 under {GOAL_MS:.0f} ms): {shown}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
