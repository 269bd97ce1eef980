"""The readiness gate: the analysis counts metrics only once Kubernetes has rolled the version
out (a Kubernetes API stand-in, reached by the real client through ``host``)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from bot.storage.models import Analysis
from tests.integration.deployments.test_canary_flow import FILES, REPO, analyse_until_done, deploy, values
from tests.support.botenv import BotEnv, bot_env
from tests.support.kubernetes_standin import KubernetesStandIn
from tests.support.prometheus import running_prometheus
from tests.support.vllm_exporter import Traffic, VllmExporter, vllm_exporter

GATED = dict(FILES)
GATED[".gitops-bot.yaml"] = FILES[".gitops-bot.yaml"].replace(
    "      rollback: {automerge: true}",
    "      readiness: {namespace: serving, deployment: chat, timeout: 4s}\n      rollback: {automerge: true}",
)


@pytest.fixture
def exporter() -> Iterator[VllmExporter]:
    with vllm_exporter() as running:
        yield running


@pytest.fixture
def cluster() -> Iterator[KubernetesStandIn]:
    with KubernetesStandIn(auto_step_seconds=0.1) as api:
        api.apply_deployment("serving", "chat", "registry.example.com/serving/chat:1.0.0", replicas=2)
        api.settle("serving", "chat")
        yield api


@pytest.fixture
def env(
    tmp_path: Path, sqlite_database_url: str, exporter: VllmExporter, cluster: KubernetesStandIn
) -> Iterator[BotEnv]:
    with (
        running_prometheus(tmp_path / "prometheus", scrape_targets=[exporter.url]) as prom,
        bot_env(
            tmp_path,
            sqlite_database_url,
            repo=REPO,
            files=GATED,
            prometheus_url=prom.url,
            kubernetes_api_url=cluster.url,
            rollout_poll_seconds=0.2,
        ) as built,
    ):
        built.standin.set_permission(REPO, "alice", "write")
        yield built


def first_analysis(env: BotEnv) -> Analysis:
    with env.services.database.sessions() as session:
        analysis = session.scalars(select(Analysis).order_by(Analysis.id)).first()
        assert analysis is not None
        return analysis


def test_metrics_count_only_after_the_rollout(
    env: BotEnv, exporter: VllmExporter, cluster: KubernetesStandIn
) -> None:
    exporter.set("chat", "1.1.0", Traffic())
    deploy(env, "1.1.0")
    assert first_analysis(env).status == "waiting_rollout"
    # The GitOps controller syncs the merge: the cluster rolls the new image out.
    cluster.apply_deployment("serving", "chat", "registry.example.com/serving/chat:1.1.0", replicas=2)
    analysis = analyse_until_done(env)
    assert analysis.status == "passed", analysis.reason


def test_a_rollout_that_never_finishes_fails_the_analysis(
    env: BotEnv, exporter: VllmExporter, cluster: KubernetesStandIn
) -> None:
    exporter.set("chat", "1.2.0", Traffic())
    cluster.stall("serving", "chat")
    deploy(env, "1.2.0")
    cluster.apply_deployment("serving", "chat", "registry.example.com/serving/chat:1.2.0", replicas=2)
    analysis = analyse_until_done(env)
    assert analysis.status == "failed"
    assert "did not finish within 4s" in (analysis.reason or "")
    env.run_jobs()
    assert values(env) == "image:\n  tag: 1.0.0  # stable\n"  # reverted through git
