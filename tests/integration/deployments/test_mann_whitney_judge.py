"""The statistical judge on a real Prometheus: the scenario suite in small (backfilled series,
judged at interval ends in the past, through the code the bot runs), and end to end on a live
vLLM-shaped exporter: a slower canary is rolled back."""

from __future__ import annotations

import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.adapters.prometheus import PrometheusQueries
from tests.integration.deployments.test_vllm_canary import deploy, latest_analysis, tick_until
from tests.support.botenv import BotEnv, bot_env
from tests.support.canary_scenarios import Run, Traffic, openmetrics, plan_for, verdicts
from tests.support.prometheus import PrometheusServer, running_prometheus
from tests.support.vllm_exporter import Traffic as LiveTraffic
from tests.support.vllm_exporter import VllmExporter, vllm_exporter

START = int(time.time()) - 3 * 3600
RUNS = [
    *(Run("aa", f"aa-{n}", START, 10, Traffic()) for n in range(4)),
    *(Run("worse", f"worse-{n}", START, 3, Traffic(ttft_scale=1.2)) for n in range(6)),
    Run("zero", "zero", START, 3, Traffic(rps=0.0)),
]


@pytest.fixture(scope="module")
def backfilled() -> Iterator[PrometheusServer]:
    text = openmetrics(RUNS, interval=60, step=15, replicas=4)
    with (
        tempfile.TemporaryDirectory() as scratch,
        running_prometheus(Path(scratch), openmetrics=text) as prom,
    ):
        yield prom


def judged(prom: PrometheusServer, scenario: str) -> list[list[tuple[str, dict]]]:
    with PrometheusQueries(prom.url, timeout_seconds=30) as client:
        return [
            list(verdicts(client, run, plan_for(run, interval=60, judge="mann_whitney")))
            for run in RUNS
            if run.scenario == scenario
        ]


def test_an_equal_canary_passes(backfilled: PrometheusServer) -> None:
    intervals = [verdict for run in judged(backfilled, "aa") for verdict, _ in run]
    assert len(intervals) == 40 and intervals.count("fail") == 0


def test_a_twenty_percent_slower_canary_fails_within_three_intervals(backfilled: PrometheusServer) -> None:
    for run in judged(backfilled, "worse"):
        assert "fail" in [verdict for verdict, _ in run]
        failed = next(evidence for verdict, evidence in run if verdict == "fail")
        (ttft,) = [m for m in failed["measurements"] if m["metric"] == "ttft_p99"]
        test = ttft["test"]
        assert test["status"] == "fail" and test["p_value"] < 0.05 and test["effect"] >= 0.1
        assert test["canary_median"] > test["stable_median"] and test["canary_samples"] >= 30
        assert "significantly worse: U=" in ttft["reason"]
    # The first interval has too few samples: the test is inconclusive, never failed.
    first = judged(backfilled, "worse")[0][0][1]
    (ttft,) = [m for m in first["measurements"] if m["metric"] == "ttft_p99"]
    assert ttft["test"]["status"] == "inconclusive" and "too few samples" in ttft["test"]["reason"]


def test_no_traffic_is_inconclusive(backfilled: PrometheusServer) -> None:
    (run,) = judged(backfilled, "zero")
    assert [verdict for verdict, _ in run] == ["inconclusive"] * 3


# -- end to end, live ---------------------------------------------------------------------------------

REPO = "acme/serving"
CONFIG = """\
version: 1
deployments:
  - name: llama
    trigger: {image: {repository: registry.example.com/serving/llama}}
    targets: [{file: apps/llama/values.yaml, key: image.tag}]
    canary:
      interval: 3s
      duration: 12s
      failure_limit: 2
      inconclusive_limit: 4
      min_requests: 5
      judge: {kind: mann_whitney, confidence: 0.95, min_samples: 5, min_effect: 0.1, sample_step: 1s}
      rollback: {automerge: false}
"""


@pytest.fixture
def live(tmp_path: Path, database_url: str) -> Iterator[tuple[BotEnv, VllmExporter]]:
    with vllm_exporter() as exporter:
        exporter.set("llama", "1.0.0", LiveTraffic())
        with (
            running_prometheus(
                tmp_path / "prometheus", scrape_targets=[exporter.url], scrape_interval="1s"
            ) as prom,
            bot_env(
                tmp_path, database_url, repo=REPO, prometheus_url=prom.url,
                files={".gitops-bot.yaml": CONFIG, "apps/llama/values.yaml": "image:\n  tag: 1.0.0\n"},
            ) as env,
        ):  # fmt: skip
            env.standin.set_permission(REPO, "alice", "write")
            yield env, exporter


def test_live_a_slower_canary_is_rolled_back(live: tuple[BotEnv, VllmExporter]) -> None:
    """(An equal canary passing is the A/A scenario above, on the same code.)"""
    env, exporter = live
    exporter.set("llama", "1.1.0", LiveTraffic(ttft_seconds=0.12))  # 1.5x slower to first token
    deploy(env, "1.1.0")
    tick_until(env, lambda: latest_analysis(env).status not in ("running", "waiting_rollout"), timeout=60)
    failed = latest_analysis(env)
    assert failed.status == "failed" and "significantly worse" in (failed.reason or ""), failed.reason
    env.run_jobs()
    assert any(p.head_ref == "gitops-bot/revert/llama/1.1.0" for p in env.standin.pulls(REPO))
