"""Every query of the Grafana dashboard, run by a real Prometheus scraping a real bot's /metrics.

The bot is served over HTTP with a deployment under analysis (its canary over its bound), an older
version rolled back, a drifted project and a webhook handled; Prometheus scrapes it every second.
Each panel's and variable's query (Grafana's variables as "All" selects them) must evaluate without
error or warning, and those that show the deployment, its canary and the bot itself must find them.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from bot.storage.models import Analysis, AnalysisInterval, Deployment
from bot.storage.types import utcnow
from tests.support import grafana
from tests.support.botenv import BotEnv, bot_env, distribution_push, served
from tests.support.prometheus import PrometheusServer, running_prometheus

REPO = "acme/gitops"
FILES = {
    ".gitops-bot.yaml": """\
version: 1
deployments:
  - name: chat
    trigger: {image: {repository: registry.example.com/serving/chat}}
    targets: [{file: apps/chat/values.yaml, key: image.tag}]
""",
    "apps/chat/values.yaml": "image:\n  tag: 1.0.0\n",
}


def seed(env: BotEnv) -> None:
    """chat 1.0.0 rolled back; chat 1.1.0 under analysis, its error rate above its bound."""
    now = utcnow()
    evidence = {
        "source": "prometheus",
        "measurements": [
            {"metric": "error_rate", "value": 0.2, "max": 0.05, "baseline_value": 0.01},
            {"metric": "tokens_per_second", "value": 80.0, "baseline_value": 100.0,
             "baseline_relative_min": 0.9},
        ],
    }  # fmt: skip
    with env.services.database.transaction() as session:
        common = {"repo": REPO, "name": "chat", "merged_at": now, "updated_at": now, "details": {}}
        session.add(Deployment(**common, version="1.0.0", status="rolled_back", merge_commit_sha="a" * 40,
                               rollback_pr_number=3))  # fmt: skip
        current = Deployment(**common, version="1.1.0", status="analysing", merge_commit_sha="b" * 40)
        session.add(current)
        session.flush()
        analysis = Analysis(deployment_id=current.id, status="running", config={},
                            started_at=now - timedelta(minutes=2))  # fmt: skip
        session.add(analysis)
        session.flush()
        session.add(AnalysisInterval(analysis_id=analysis.id, index=0, at=now, verdict="fail",
                                     measurements=evidence))  # fmt: skip
    env.services.metrics.drift_detected.labels(repo=REPO, project="network").set(1)


@pytest.fixture
def env(tmp_path: Path, sqlite_database_url: str) -> Iterator[BotEnv]:
    with bot_env(tmp_path, sqlite_database_url, repo=REPO, files=FILES) as built:
        assert built.post_registry(distribution_push("serving/chat", "1.2.0", "sha256:" + "d" * 64)) == 202
        built.run_jobs()  # webhook, events stored, jobs finished: the counters have samples
        seed(built)
        yield built


@pytest.fixture
def prometheus(tmp_path: Path, env: BotEnv) -> Iterator[PrometheusServer]:
    with served(env.client.app) as url:
        target = url.removeprefix("http://")
        with running_prometheus(tmp_path / "prometheus", scrape_targets=[target]) as server:
            server.wait_for_scrape([target])  # a second scrape: rate() has two samples
            yield server


def query(prometheus: PrometheusServer, expr: str) -> dict[str, Any]:
    params = urllib.parse.urlencode({"query": expr})
    with urllib.request.urlopen(f"{prometheus.url}/api/v1/query?{params}", timeout=5) as answer:
        return json.load(answer)


@pytest.mark.timeout(60)
def test_every_dashboard_query_runs_on_prometheus_against_the_bot(prometheus: PrometheusServer) -> None:
    results: dict[str, list[dict[str, Any]]] = {}
    for item in grafana.queries(grafana.load()):
        expr = grafana.substitute(item.expr, rate_interval="1m", range_="1h")
        try:
            answer = query(prometheus, expr)
        except urllib.error.HTTPError as error:  # a 400 carries Prometheus's reason
            raise AssertionError(f"{item.where}: {error.read().decode()}\n{expr}") from error
        assert answer["status"] == "success", (item.where, answer)
        assert not answer.get("warnings"), (item.where, answer["warnings"])
        results[item.where] = answer["data"]["result"]

    def labels(where: str, *names: str) -> list[tuple[str, ...]]:
        return sorted(tuple(row["metric"].get(name, "") for name in names) for row in results[where])

    def number(where: str) -> float:
        (row,) = results[where]
        return float(row["value"][1])

    # The bot itself.
    assert number("Replicas scraped [A]") == 1
    assert {row["metric"]["status"] for row in results["Queue now [A]"]} >= {"queued", "done", "dead"}
    assert results["Job duration p95 by handler [A]"] and results["Webhook latency [B]"]
    # The deployment, its canary against its bounds, the rollback, the drift.
    assert labels("Deployments [A]", "deployment", "version", "state") == [("chat", "1.1.0", "analysing")]
    assert number("Analysing [A]") == 1
    canary = [(r["metric"]["metric"], float(r["value"][1])) for r in results["Canary: $metric [A]"]]
    assert sorted(canary) == [("error_rate", 0.2), ("tokens_per_second", 80.0)]
    bounds = [(r["metric"]["metric"], r["metric"]["bound"], float(r["value"][1]))
              for r in results["Canary: $metric [B]"]]  # fmt: skip
    assert sorted(bounds) == [("error_rate", "upper", 0.05), ("tokens_per_second", "lower", 90.0)]
    assert labels("Canary: $metric [C]", "metric") == [("error_rate",), ("tokens_per_second",)]
    assert labels("Canary metrics beyond their bound [A]", "metric") == [
        ("error_rate",),
        ("tokens_per_second",),
    ]
    assert labels("Projects with drift [A]", "project") == [("network",)]
    assert number("Projects drifted [A]") == 1
    # The template variables find what the panels filter on.
    assert labels("variable repo", "repo") == [(REPO,)]
    assert labels("variable metric", "metric") == [("error_rate",), ("tokens_per_second",)]
    assert results["variable job"]
