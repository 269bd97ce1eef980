"""Traffic steps through git, end to end: the stand-in GitHub, real git, a real Prometheus scraping
the vLLM-shaped exporter. The update writes the first step's weight with the version; each later
step is its own commit (a pull request the bot merges, or a push); a failure at any step reverts
them all; pause, resume and promote act on the current step; a restart loses nothing."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy import select

from bot.app import create_app
from bot.deployments.due_steps import enqueue_due_steps
from bot.services import build_services
from bot.storage.models import Analysis, AnalysisStep
from handlers.deployments import due_analysis_steps
from tests.integration.deployments.test_canary_flow import exporter, prometheus
from tests.support.botenv import WEBHOOK_SECRET, BotEnv, bot_env, distribution_push
from tests.support.github_standin_git import git
from tests.support.markdown import swallowed_lines
from tests.support.prometheus import PrometheusServer
from tests.support.vllm_exporter import Traffic, VllmExporter

__all__ = ["exporter", "prometheus"]  # the canary flow's module fixtures: one exporter, one Prometheus

REPO = "acme/gitops"
ERROR_RATE = (
    'sum(rate(http_requests_total{deployment="{{ deployment }}",version="{{ version }}",status=~"5.."}'
    "[{{ interval }}])) / "
    'sum(rate(http_requests_total{deployment="{{ deployment }}",version="{{ version }}"}[{{ interval }}]))'
)
VALUES = "image:\n  tag: 1.0.0  # stable\ntraffic:\n  latest: 100   # HTTPRoute weights\n  previous: 0\n"
MESH = 'mirror_percent = 0 # Istio mirror\nhost = "chat"\n'


def config(*, via: str = "pull_request", shadow: bool = False, failure_limit: int = 1) -> str:
    shadow_block = (
        "      shadow:\n"
        "        weight_target: {file: mesh/chat.tfvars, variable: mirror_percent}\n"
        "        weight: 25\n"
        "        duration: 3s\n"
        if shadow
        else ""
    )
    return f"""\
version: 1
deployments:
  - name: chat
    trigger: {{image: {{repository: registry.example.com/serving/chat}}}}
    targets: [{{file: apps/chat/values.yaml, key: image.tag}}]
    canary:
      interval: 3s
      failure_limit: {failure_limit}
      min_requests: 5
      metrics:
        - name: error_rate
          query: '{ERROR_RATE}'
          max: 0.05
      steps: [{{weight: 10, duration: 3s}}, {{weight: 50, duration: 3s}}, {{weight: 100}}]
      weight_target: {{file: apps/chat/values.yaml, key: traffic.latest, stable: traffic.previous}}
      steps_via: {via}
{shadow_block}      rollback: {{automerge: true}}
"""


def files(**options: object) -> dict[str, str]:
    return {".gitops-bot.yaml": config(**options), "apps/chat/values.yaml": VALUES, "mesh/chat.tfvars": MESH}  # type: ignore[arg-type]


@contextmanager
def environment(
    tmp_path: Path, database_url: str, prometheus: PrometheusServer, **options: object
) -> Iterator[BotEnv]:
    with bot_env(
        tmp_path, database_url, repo=REPO, files=files(**options), prometheus_url=prometheus.url
    ) as built:
        built.standin.set_permission(REPO, "alice", "write")
        yield built


def on_main(env: BotEnv, path: str = "apps/chat/values.yaml") -> str:
    return git(env.standin.repo_path(REPO), "show", f"main:{path}").stdout.decode()


def deploy(env: BotEnv, version: str) -> int:
    assert env.post_registry(distribution_push("serving/chat", version, "sha256:" + "c" * 64)) == 202
    env.run_jobs()
    pull = next(p for p in env.standin.pulls(REPO) if p.head_ref == f"gitops-bot/chat/{version}")
    env.standin.merge_pull_request(REPO, pull.number, user="alice")
    env.run_jobs()
    return pull.number


def analysis_row(env: BotEnv) -> Analysis:
    with env.services.database.sessions() as session:
        row = session.scalars(select(Analysis).order_by(Analysis.id.desc())).first()
        assert row is not None
        session.expunge(row)
        return row


def rungs(env: BotEnv, analysis_id: int) -> list[tuple[int, str, str | None]]:
    with env.services.database.sessions() as session:
        rows = session.scalars(
            select(AnalysisStep).where(AnalysisStep.analysis_id == analysis_id).order_by(AnalysisStep.index)
        )
        return [(row.weight, row.status, row.commit_sha) for row in rows]


def drive(env: BotEnv, until: Callable[[Analysis], bool], timeout: float = 60.0) -> Analysis:
    """What the scheduler's leader and the workers do, until ``until`` holds for the analysis."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        due_analysis_steps(env.services)
        env.run_jobs()
        analysis = analysis_row(env)
        if until(analysis):
            return analysis
        time.sleep(0.3)
    raise AssertionError(
        f"the analysis did not get there: {analysis_row(env).status} {analysis_row(env).reason}"
    )


def ended(analysis: Analysis) -> bool:
    return analysis.status not in ("waiting_rollout", "running", "stepping", "paused")


def bot_comments(env: BotEnv, number: int) -> list[str]:
    return [c.body for c in env.standin.comments(REPO, number) if c.user != "alice"]


def test_a_healthy_canary_climbs_step_by_step_one_commit_each(
    tmp_path: Path, database_url: str, prometheus: PrometheusServer, exporter: VllmExporter
) -> None:
    exporter.set("chat", "1.1.0", Traffic())
    with environment(tmp_path, database_url, prometheus) as env:
        assert env.post_registry(distribution_push("serving/chat", "1.1.0", "sha256:" + "c" * 64)) == 202
        env.run_jobs()
        (update,) = env.standin.pulls(REPO)
        branch = git(env.standin.repo_path(REPO), "show", f"{update.head_ref}:apps/chat/values.yaml")
        # The version and the first step's weight in one commit: a merge never starts at 100.
        assert branch.stdout.decode() == VALUES.replace("1.0.0", "1.1.0").replace(
            "latest: 100", "latest: 10"
        ).replace("previous: 0", "previous: 90")
        assert "| 1 | 10% | 3s |" in update.body and "`traffic.latest`: `100` → `10`" in update.body
        env.standin.merge_pull_request(REPO, update.number, user="alice")
        env.run_jobs()

        analysis = drive(env, ended)
        assert analysis.status == "passed", analysis.reason
        assert "every step passed" in (analysis.reason or "")
        assert on_main(env) == VALUES.replace("1.0.0", "1.1.0")  # 100 / 0 again, at the new version
        steps = [p for p in env.standin.pulls(REPO) if p.head_ref.startswith("gitops-bot/step/")]
        assert [(p.head_ref, p.merged, p.labels) for p in steps] == [
            ("gitops-bot/step/chat/1.1.0/2", True, ["canary-step"]),
            ("gitops-bot/step/chat/1.1.0/3", True, ["canary-step"]),
        ]
        weights = [(w, s) for w, s, _ in rungs(env, analysis.id)]
        assert weights == [(10, "passed"), (50, "passed"), (100, "passed")]
        log = git(env.standin.repo_path(REPO), "log", "--format=%s", "main").stdout.decode().splitlines()
        assert log[:4] == [
            "Merge pull request #3 from acme/gitops-bot/step/chat/1.1.0/3",
            "chat 1.1.0: canary step 3/3 (100%)",
            "Merge pull request #2 from acme/gitops-bot/step/chat/1.1.0/2",
            "chat 1.1.0: canary step 2/3 (50%)",
        ]
        comments = bot_comments(env, update.number)
        assert any("Canary at step 2/3 (50%)" in body for body in comments)
        assert any("Canary passed" in body for body in comments)
        assert all(swallowed_lines(body) == [] for body in comments)
        assert [a["outcome"] for a in env.actions("canary.step")] == ["committed", "committed"]
        detail = env.client.get(f"/api/analyses/{analysis.id}").json()
        assert [(s["weight"], s["status"], s["pr_number"]) for s in detail["steps"]] == [
            (10, "passed", None),
            (50, "passed", 2),
            (100, "passed", 3),
        ]
        page = env.client.get(f"/analyses/{analysis.id}").text
        assert "Traffic steps" in page and "step 2/3 (50%)" in page


def test_a_failure_at_a_later_step_reverts_the_update_and_every_step(
    tmp_path: Path, database_url: str, prometheus: PrometheusServer, exporter: VllmExporter
) -> None:
    version = "1.2.0" if "sqlite" in database_url else "1.2.1"  # series of their own per database
    exporter.set("chat", version, Traffic())
    with environment(tmp_path, database_url, prometheus, shadow=True) as env:
        before = (on_main(env), on_main(env, "mesh/chat.tfvars"))
        number = deploy(env, version)
        assert on_main(env, "mesh/chat.tfvars") == MESH.replace("= 0", "= 25")  # the shadow mirrors
        assert "latest: 0 " in on_main(env)  # users see nothing of it yet
        drive(env, lambda a: a.step == 2 and a.status == "running")  # shadow, step 1 passed: at 50%
        assert on_main(env, "mesh/chat.tfvars") == MESH  # the mirror stopped after the shadow
        exporter.set("chat", version, Traffic(error_ratio=0.5))
        analysis = drive(env, ended)
        assert analysis.status == "failed", analysis.reason
        env.run_jobs()
        revert = next(p for p in env.standin.pulls(REPO) if p.head_ref == f"gitops-bot/revert/chat/{version}")
        assert revert.merged
        # Byte-identical to before the update: the old version at its old weight, no mirror.
        assert (on_main(env), on_main(env, "mesh/chat.tfvars")) == before
        statuses = [s for _, s, _ in rungs(env, analysis.id)]
        assert statuses == ["passed", "passed", "failed", "pending"]
        assert any("Canary failed" in body for body in bot_comments(env, number))


def test_pause_resume_and_promote_act_on_the_current_step(
    tmp_path: Path, sqlite_database_url: str, prometheus: PrometheusServer, exporter: VllmExporter
) -> None:
    exporter.set("chat", "1.3.0", Traffic())
    with environment(tmp_path, sqlite_database_url, prometheus) as env:
        number = deploy(env, "1.3.0")
        env.standin.post_comment_as("alice", REPO, number, "/gitops pause")
        env.run_jobs()
        assert "Paused the canary of chat 1.3.0 at step 1/3 (10%)" in bot_comments(env, number)[-1]
        paused = analysis_row(env)
        assert (paused.status, paused.next_run_at) == ("paused", None)
        # Nothing is measured while paused, however late it gets.
        assert enqueue_due_steps(env.services, now=datetime.now(UTC) + timedelta(hours=1)) == 0
        assert env.client.get(f"/api/analyses/{paused.id}").json()["intervals"] == []
        env.standin.post_comment_as("alice", REPO, number, "/gitops pause")
        env.run_jobs()
        assert "already paused" in bot_comments(env, number)[-1]
        env.standin.post_comment_as("alice", REPO, number, "/gitops status")
        env.run_jobs()
        assert "`chat` `1.3.0` paused at step 1/3 (10%)" in bot_comments(env, number)[-1]

        env.standin.post_comment_as("alice", REPO, number, "/gitops resume")
        env.run_jobs()
        assert analysis_row(env).status == "running"
        env.standin.post_comment_as("alice", REPO, number, "/gitops promote")
        env.run_jobs()
        analysis = drive(env, ended)
        assert analysis.status == "passed", analysis.reason
        assert [(w, s) for w, s, _ in rungs(env, analysis.id)] == [
            (10, "passed"),
            (50, "skipped"),
            (100, "passed"),
        ]
        assert on_main(env) == VALUES.replace("1.0.0", "1.3.0")
        kinds = [a["kind"] for a in env.actions() if a["kind"].startswith("canary.")]
        assert {"canary.pause", "canary.resume", "canary.promote"} <= set(kinds)


def test_a_step_the_bot_cannot_merge_waits_for_a_person_and_goes_on(
    tmp_path: Path, sqlite_database_url: str, prometheus: PrometheusServer, exporter: VllmExporter
) -> None:
    exporter.set("chat", "1.4.0", Traffic())
    with environment(tmp_path, sqlite_database_url, prometheus) as env:
        number = deploy(env, "1.4.0")
        env.standin.new_pull_merge_block = "At least 1 approving review is required"
        stuck = drive(env, lambda a: a.status == "paused")
        assert "could not commit step 2/3 (50%)" in (stuck.reason or "")
        assert "review is required" in (stuck.reason or "")
        assert "latest: 10 " in on_main(env)  # HEAD still says what the cluster should run
        assert "Canary paused before step 2/3 (50%)" in bot_comments(env, number)[-1]
        env.standin.new_pull_merge_block = None
        (step,) = [p for p in env.standin.pulls(REPO) if p.head_ref.startswith("gitops-bot/step/")]
        env.standin.block_merge(REPO, step.number, None)
        env.standin.merge_pull_request(REPO, step.number, user="alice")  # a person approves and merges
        env.run_jobs()
        assert analysis_row(env).status == "running" and analysis_row(env).step == 1
        analysis = drive(env, ended)
        assert analysis.status == "passed", analysis.reason


def test_pushed_steps_and_a_restart_mid_step(
    tmp_path: Path, database_url: str, prometheus: PrometheusServer, exporter: VllmExporter
) -> None:
    exporter.set("chat", "1.5.0", Traffic())
    with environment(tmp_path, database_url, prometheus, via="push") as env:
        deploy(env, "1.5.0")
        drive(env, lambda a: a.step == 1 and a.status == "running")
        assert "latest: 50 " in on_main(env)
        # A restart: new services and app on the same database, repositories and data.
        env.services.close()
        services = build_services(env.settings)
        app = create_app(env.settings, router=env.router, services=services)
        with TestClient(app) as client:
            env.standin.set_webhook("/webhooks/github", WEBHOOK_SECRET, client=client)
            restarted = BotEnv(env.standin, env.settings, services, client, env.router)
            analysis = drive(restarted, ended)
            assert analysis.status == "passed", analysis.reason
            assert [(w, s) for w, s, _ in rungs(restarted, analysis.id)] == [
                (10, "passed"), (50, "passed"), (100, "passed"),
            ]  # fmt: skip
            assert not [p for p in env.standin.pulls(REPO) if p.head_ref.startswith("gitops-bot/step/")]
            assert on_main(restarted) == VALUES.replace("1.0.0", "1.5.0")
            env.standin.set_webhook(None)
        services.close()


def test_a_newer_version_merged_mid_climb_cancels_the_older_ladder(
    tmp_path: Path, sqlite_database_url: str, prometheus: PrometheusServer, exporter: VllmExporter
) -> None:
    exporter.set("chat", "1.6.0", Traffic())
    exporter.set("chat", "1.7.0", Traffic())
    with environment(tmp_path, sqlite_database_url, prometheus) as env:
        deploy(env, "1.6.0")
        older = analysis_row(env)
        deploy(env, "1.7.0")  # merged while 1.6.0 is on its first step
        assert on_main(env) == VALUES.replace("1.0.0", "1.7.0").replace("latest: 100", "latest: 10").replace(
            "previous: 0", "previous: 90"
        )
        with env.services.database.sessions() as session:
            cancelled = session.get(Analysis, older.id)
            assert cancelled is not None and cancelled.status == "cancelled"
        assert [s for _, s, _ in rungs(env, older.id)] == ["cancelled", "pending", "pending"]
        newer = drive(env, ended)
        assert newer.id != older.id and newer.status == "passed", newer.reason
        assert on_main(env) == VALUES.replace("1.0.0", "1.7.0")
