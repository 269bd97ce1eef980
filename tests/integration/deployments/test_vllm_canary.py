"""The vLLM defaults end to end, on SQLite and on PostgreSQL: a deployment that names no metrics is
judged on time to first token (against the stable version) and the error rate, read from a real
Prometheus scraping a vLLM-shaped exporter every second."""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy import select

from bot.storage.models import Analysis, AnalysisInterval, Deployment
from handlers.deployments import due_analysis_steps
from tests.support.botenv import BotEnv, bot_env, distribution_push
from tests.support.github_standin_git import git
from tests.support.prometheus import running_prometheus
from tests.support.vllm_exporter import Traffic, VllmExporter, vllm_exporter

REPO = "acme/serving"
INTERVAL, FAILURE_LIMIT, SCRAPE = 3, 2, 1
CONFIG = f"""\
version: 1
deployments:
  - name: llama
    trigger: {{image: {{repository: registry.example.com/serving/llama}}}}
    targets: [{{file: apps/llama/values.yaml, key: image.tag}}]
    canary:
      interval: {INTERVAL}s
      duration: {3 * INTERVAL}s
      failure_limit: {FAILURE_LIMIT}
      min_requests: 5
      rollback: {{automerge: false}}
"""
FILES = {".gitops-bot.yaml": CONFIG, "apps/llama/values.yaml": "image:\n  tag: 1.0.0\n"}


@pytest.fixture
def exporter() -> Iterator[VllmExporter]:
    with vllm_exporter() as running:
        running.set("llama", "1.0.0", Traffic())  # the stable version: the baseline
        yield running


@contextmanager
def serving(tmp_path: Path, database_url: str, exporter: VllmExporter) -> Iterator[BotEnv]:
    with (
        running_prometheus(
            tmp_path / "prometheus", scrape_targets=[exporter.url], scrape_interval=f"{SCRAPE}s"
        ) as prom,
        bot_env(tmp_path, database_url, repo=REPO, files=FILES, prometheus_url=prom.url) as built,
    ):
        built.standin.set_permission(REPO, "alice", "write")
        yield built


@pytest.fixture
def env(tmp_path: Path, database_url: str, exporter: VllmExporter) -> Iterator[BotEnv]:
    """On SQLite and on PostgreSQL."""
    with serving(tmp_path, database_url, exporter) as built:
        yield built


@pytest.fixture
def sqlite_env(tmp_path: Path, sqlite_database_url: str, exporter: VllmExporter) -> Iterator[BotEnv]:
    with serving(tmp_path, sqlite_database_url, exporter) as built:
        yield built


def deploy(env: BotEnv, version: str) -> int:
    assert env.post_registry(distribution_push("serving/llama", version, "sha256:" + "e" * 64)) == 202
    env.run_jobs()
    pull = next(p for p in env.standin.pulls(REPO) if p.head_ref == f"gitops-bot/llama/{version}")
    env.standin.merge_pull_request(REPO, pull.number, user="alice")
    env.run_jobs()
    return pull.number


def latest_analysis(env: BotEnv) -> Analysis:
    with env.services.database.sessions() as session:
        analysis = session.scalars(select(Analysis).order_by(Analysis.id.desc())).first()
    assert analysis is not None
    return analysis


def tick_until(env: BotEnv, done, timeout: float = 40.0) -> float:  # type: ignore[no-untyped-def]
    """The scheduler's leader every half second; the seconds it took until ``done()``."""
    begun = time.monotonic()
    while time.monotonic() - begun < timeout:
        due_analysis_steps(env.services)
        env.run_jobs()
        if done():
            return time.monotonic() - begun
        time.sleep(0.25)
    raise AssertionError("timed out")


def test_degraded_time_to_first_token_opens_a_revert_within_the_bound(
    env: BotEnv, exporter: VllmExporter
) -> None:
    exporter.set("llama", "1.1.0", Traffic(ttft_seconds=0.4))  # 5x the stable version's p99
    number = deploy(env, "1.1.0")
    took = tick_until(
        env,
        lambda: any(p.head_ref == "gitops-bot/revert/llama/1.1.0" for p in env.standin.pulls(REPO)),
    )
    analysis = latest_analysis(env)
    with env.services.database.sessions() as session:
        intervals = session.scalars(
            select(AnalysisInterval).where(AnalysisInterval.analysis_id == analysis.id)
        ).all()
        story = [(i.verdict, (i.at - analysis.started_at).total_seconds()) for i in intervals]
    # The earliest a verdict can fail is interval x failure_limit; a scrape and a tick of slack.
    assert took <= INTERVAL * FAILURE_LIMIT + SCRAPE + 2.5, (took, story)
    assert analysis.status == "failed" and "ttft_p99" in (analysis.reason or "")
    revert = next(p for p in env.standin.pulls(REPO) if p.head_ref == "gitops-bot/revert/llama/1.1.0")
    assert revert.state == "open" and not revert.merged  # rollback.automerge is off
    assert revert.title.startswith('Revert "')
    assert "ttft_p99" in revert.body and "/graph?g0.expr=" in revert.body
    # The revert restores the previous version, byte for byte.
    reverted = git(env.standin.repo_path(REPO), "show", f"{revert.head_sha}:apps/llama/values.yaml")
    assert reverted.stdout.decode() == "image:\n  tag: 1.0.0\n"
    with env.services.database.sessions() as session:
        row = session.scalars(select(Deployment).where(Deployment.version == "1.1.0")).one()
        assert row.rollback_pr_number == revert.number
        assert row.pr_number == number
    assert "1.1.0" in env.services.quarantine.versions(repo=REPO, deployment="llama")
    # Merging the revert by hand deploys 1.0.0 again without analysing it: no revert of the revert.
    env.standin.merge_pull_request(REPO, revert.number, user="alice")
    env.run_jobs()
    due_analysis_steps(env.services)
    env.run_jobs()
    with env.services.database.sessions() as session:
        assert session.scalars(select(Analysis).where(Analysis.status == "running")).first() is None
        assert len(session.scalars(select(Analysis)).all()) == 1
    assert not [p for p in env.standin.pulls(REPO) if p.state == "open"]


def test_noisy_but_healthy_never_reverts(sqlite_env: BotEnv, exporter: VllmExporter) -> None:
    env = sqlite_env
    stop = threading.Event()
    jitter = random.Random(6)

    def noise() -> None:  # errors under the 1% bound; first tokens within 1.5x of the stable version
        while not stop.is_set():
            exporter.set(
                "llama",
                "1.2.0",
                Traffic(
                    requests_per_second=jitter.uniform(8, 40),
                    error_ratio=jitter.uniform(0.0, 0.006),
                    ttft_seconds=jitter.uniform(0.055, 0.095),
                    tokens_per_second=jitter.uniform(150, 600),
                ),
            )
            stop.wait(0.3)

    exporter.set("llama", "1.2.0", Traffic())
    thread = threading.Thread(target=noise, daemon=True)
    thread.start()
    try:
        deploy(env, "1.2.0")
        tick_until(env, lambda: latest_analysis(env).status not in ("running", "waiting_rollout"))
    finally:
        stop.set()
        thread.join()
    analysis = latest_analysis(env)
    assert analysis.status == "passed", analysis.reason
    with env.services.database.sessions() as session:
        verdicts = session.scalars(
            select(AnalysisInterval.verdict).where(AnalysisInterval.analysis_id == analysis.id)
        ).all()
    assert "fail" not in verdicts
    assert not [p for p in env.standin.pulls(REPO) if p.head_ref.startswith("gitops-bot/revert/")]
    assert (
        git(env.standin.repo_path(REPO), "show", "main:apps/llama/values.yaml").stdout
        == b"image:\n  tag: 1.2.0\n"
    )
