"""After a merge: a canary analysis on a real Prometheus scraping vLLM-shaped metrics, and the
rollback through a git revert pull request, end to end through the stand-in and real git."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import github
import pytest
from sqlalchemy import select

from bot.adapters.prometheus import PrometheusQueries
from bot.storage.models import Analysis, Deployment
from handlers.deployments import due_analysis_steps
from tests.support.botenv import BOT_LOGIN, FORGES, GITLAB_TOKEN, TOKEN, BotEnv, bot_env, distribution_push
from tests.support.github_standin_git import git
from tests.support.markdown import swallowed_lines
from tests.support.prometheus import PrometheusServer, running_prometheus
from tests.support.vllm_exporter import Traffic, VllmExporter, vllm_exporter

REPO = "acme/gitops"
ERROR_RATE = (
    'sum(rate(http_requests_total{deployment="{{ deployment }}",version="{{ version }}",status=~"5.."}'
    "[{{ interval }}])) / "
    'sum(rate(http_requests_total{deployment="{{ deployment }}",version="{{ version }}"}[{{ interval }}]))'
)
CONFIG = f"""\
version: 1
deployments:
  - name: chat
    trigger: {{image: {{repository: registry.example.com/serving/chat}}}}
    targets: [{{file: apps/chat/values.yaml, key: image.tag}}]
    canary:
      interval: 3s
      duration: 9s
      failure_limit: 2
      min_requests: 5
      inconclusive_limit: 2
      metrics:
        - name: error_rate
          query: '{ERROR_RATE}'
          max: 0.05
      rollback: {{automerge: true}}
    promote: {{to: chat-prod}}
  - name: chat-prod  # moves only by promotion: no tag matches its policy
    trigger: {{image: {{repository: registry.example.com/serving/chat, tags: "regex:^promoted-only$"}}}}
    targets: [{{file: apps/chat/values-prod.yaml, key: image.tag}}]
"""
FILES = {
    ".gitops-bot.yaml": CONFIG,
    "apps/chat/values.yaml": "image:\n  tag: 1.0.0  # stable\n",
    "apps/chat/values-prod.yaml": "image:\n  tag: 1.0.0\n",
}


# One exporter and one Prometheus for the module: Prometheus scrapes a new target only seconds after
# it starts. Each test deploys its own version (1.1.0, 1.2.0, ...), so their series never mix.
@pytest.fixture(scope="module")
def exporter() -> Iterator[VllmExporter]:
    with vllm_exporter() as running:
        running.set("chat", "1.0.0", Traffic())
        yield running


@pytest.fixture(scope="module")
def prometheus(
    tmp_path_factory: pytest.TempPathFactory, exporter: VllmExporter
) -> Iterator[PrometheusServer]:
    with running_prometheus(
        tmp_path_factory.mktemp("prometheus"), scrape_targets=[exporter.url], scrape_interval="1s"
    ) as prom:
        yield prom


@pytest.fixture
def env(tmp_path: Path, sqlite_database_url: str, prometheus: PrometheusServer) -> Iterator[BotEnv]:
    with bot_env(
        tmp_path, sqlite_database_url, repo=REPO, files=FILES, prometheus_url=prometheus.url
    ) as built:
        built.standin.set_permission(REPO, "alice", "write")
        yield built


# The rollback and promotion stories on both forges and both databases (one suite, not a copy).
@pytest.fixture(params=FORGES)
def forge_env(
    request: pytest.FixtureRequest, tmp_path: Path, database_url: str, prometheus: PrometheusServer
) -> Iterator[BotEnv]:
    with bot_env(
        tmp_path,
        database_url,
        repo=REPO,
        files=FILES,
        prometheus_url=prometheus.url,
        forge=request.param,
    ) as built:
        built.standin.set_permission(REPO, "alice", "write")
        yield built


def deploy(env: BotEnv, version: str) -> int:
    """A registry push, its pull request merged by a person: the story up to the merge."""
    assert env.post_registry(distribution_push("serving/chat", version, "sha256:" + "c" * 64)) == 202
    env.run_jobs()
    pull = next(p for p in env.standin.pulls(REPO) if p.head_ref == f"gitops-bot/chat/{version}")
    env.standin.merge_pull_request(REPO, pull.number, user="alice")
    env.run_jobs()
    return pull.number


def analyse_until_done(env: BotEnv, timeout: float = 40.0) -> Analysis:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        due_analysis_steps(env.services)  # what the scheduler's leader does every second
        env.run_jobs()
        with env.services.database.sessions() as session:
            analysis = session.scalars(select(Analysis).order_by(Analysis.id.desc())).first()
        assert analysis is not None
        if analysis.status not in ("running", "waiting_rollout"):
            return analysis
        time.sleep(0.5)
    raise AssertionError("the analysis did not finish")


def values(env: BotEnv, path: str = "apps/chat/values.yaml") -> str:
    return git(env.standin.repo_path(REPO), "show", f"main:{path}").stdout.decode()


def test_prometheus_has_the_exporters_series_as_soon_as_it_is_up(prometheus: PrometheusServer) -> None:
    # A canary's first window starts at the merge. Prometheus picks static targets up seconds after
    # it reports ready; a test that merged before then measured no traffic at all (inconclusive).
    with PrometheusQueries(prometheus.url, timeout_seconds=5) as client:
        outcome = client.query_scalar('count(http_requests_total{deployment="chat",version="1.0.0"})')
    assert outcome.value == 2, outcome.error  # the 200 and the 500 series


def test_a_failing_canary_is_reverted_through_git(forge_env: BotEnv, exporter: VllmExporter) -> None:
    env = forge_env
    exporter.set("chat", "1.1.0", Traffic(error_ratio=0.5))
    number = deploy(env, "1.1.0")
    assert values(env) == "image:\n  tag: 1.1.0  # stable\n"
    comments = [c.body for c in env.standin.comments(REPO, number)]
    assert any("Canary analysis started" in body for body in comments)

    analysis = analyse_until_done(env)
    assert analysis.status == "failed"
    env.run_jobs()  # the revert pull request's merge webhook

    # Git is the truth again: the revert is merged on main, comments and all.
    assert values(env) == "image:\n  tag: 1.0.0  # stable\n"
    revert = next(p for p in env.standin.pulls(REPO) if p.head_ref == "gitops-bot/revert/chat/1.1.0")
    assert revert.merged and revert.title.startswith('Revert "')
    assert "canary analysis failed" in revert.body
    assert "#### Evidence" in revert.body and "[error_rate](http://127.0.0.1:" in revert.body
    assert "/graph?g0.expr=" in revert.body
    with env.services.database.sessions() as session:
        row = session.scalars(select(Deployment).where(Deployment.version == "1.1.0")).one()
        assert row.status == "rolled_back"
        assert row.rollback_pr_number == revert.number
    assert "1.1.0" in env.services.quarantine.versions(repo=env.repo, deployment="chat")
    (listed,) = [d for d in env.client.get("/api/deployments").json() if d["version"] == "1.1.0"]
    assert listed["status"] == "rolled_back" and listed["rollback_pr_number"] == revert.number
    detail = env.client.get(f"/api/analyses/{analysis.id}").json()
    assert detail["status"] == "failed"
    assert [i["verdict"] for i in detail["intervals"]][-2:] == ["fail", "fail"]
    assert detail["intervals"][0]["evidence"]["measurements"][0]["metric"] == "error_rate"
    assert env.client.get("/api/analyses/999999").status_code == 404
    # The thread reads in causal order: started, why it failed (with the evidence), what was done.
    started, failed, rolled_back = bot_comments(env, number)
    assert "Canary analysis started" in started
    assert "Canary failed" in failed and "| [error_rate](http://127.0.0.1:" in failed
    assert "Rolling back" in failed
    assert rolled_back.startswith(f"↩️ Rolled back: revert {env.pull_ref(revert.number)} is merged (http")
    assert [swallowed_lines(body) for body in (started, failed, rolled_back, revert.body)] == [[], [], [], []]
    # The quarantined version does not come back by itself.
    assert env.post_registry(distribution_push("serving/chat", "1.1.0", "sha256:" + "d" * 64)) == 202
    env.run_jobs()
    assert not [
        p for p in env.standin.pulls(REPO) if p.state == "open" and p.head_ref.startswith("gitops-bot/chat/")
    ]


def test_a_healthy_canary_passes_and_is_promoted(forge_env: BotEnv, exporter: VllmExporter) -> None:
    env = forge_env
    exporter.set("chat", "1.2.0", Traffic(error_ratio=0.0))
    number = deploy(env, "1.2.0")
    analysis = analyse_until_done(env)
    assert analysis.status == "passed", analysis.reason
    # Every interval measured the canary's traffic: none lost to a Prometheus that had not scraped yet.
    verdicts = [i["verdict"] for i in env.client.get(f"/api/analyses/{analysis.id}").json()["intervals"]]
    assert verdicts == ["pass", "pass", "pass"]
    env.run_jobs()
    promoted = next(p for p in env.standin.pulls(REPO) if p.head_ref == "gitops-bot/chat-prod/1.2.0")
    assert promoted.state == "open"
    assert "promotion of 1.2.0 from chat" in promoted.body
    comments = [c.body for c in env.standin.comments(REPO, number)]
    assert any("Canary passed" in body for body in comments)
    # The console's deployment page reads the history from git: the forge's merge commit names the
    # pull request (GitHub's "Merge pull request #N", GitLab's "See merge request group/project!N").
    assert env.client.get(f"/deployments/{env.repo}/chat").status_code == 200
    latest = env.client.get(f"/api/deployments/{env.repo}/chat").json()["history"][0]
    assert latest["version"] == "1.2.0" and latest["pull_request"]["number"] == number
    assert latest["pull_request"]["url"].endswith(env.pull_path(number))


def test_no_traffic_is_inconclusive_never_failed(env: BotEnv, exporter: VllmExporter) -> None:
    deploy(env, "1.3.0")  # the exporter has no series for 1.3.0: no requests at all
    analysis = analyse_until_done(env)
    assert analysis.status == "stopped_inconclusive"
    assert values(env) == "image:\n  tag: 1.3.0  # stable\n"  # nothing reverted


def test_rollback_by_comment_needs_permission_and_happens_once(
    forge_env: BotEnv, exporter: VllmExporter
) -> None:
    env = forge_env
    exporter.set("chat", "1.4.0", Traffic())
    number = deploy(env, "1.4.0")
    env.standin.set_permission(REPO, "mallory", "read")
    env.standin.post_comment_as("mallory", REPO, number, "/gitops rollback")
    env.run_jobs()
    assert "may not run `rollback`" in env.standin.comments(REPO, number)[-1].body
    env.standin.post_comment_as("alice", REPO, number, "/gitops rollback")
    env.standin.post_comment_as("alice", REPO, number, "/gitops rollback")
    env.run_jobs()
    reverts = [p for p in env.standin.pulls(REPO) if p.head_ref.startswith("gitops-bot/revert/")]
    assert len(reverts) == 1
    assert values(env) == "image:\n  tag: 1.0.0  # stable\n"
    env.standin.post_comment_as("alice", REPO, number, "/gitops status")
    env.run_jobs()
    status = env.standin.comments(REPO, number)[-1].body
    assert "| `chat` | `1.4.0`" in status and "rolled_back" in status
    pull = env.pull_ref(number)
    assert f"**{pull}: canary analyses:** `chat` `1.4.0` " in status  # this pull request's own
    assert f"**{pull}: Terraform plans**" in status and f"**{pull}: locks held:** none." in status
    assert swallowed_lines(status) == []


def alert(deployment: str, wave: int = 0) -> dict:
    return {
        "version": "4",
        "groupKey": f'{{}}:{{alertname="VLLMHighTTFT", deployment="{deployment}"}}',
        "truncatedAlerts": 0,
        "status": "firing",
        "receiver": "gitops-bot",
        "groupLabels": {"alertname": "VLLMHighTTFT"},
        "commonLabels": {"alertname": "VLLMHighTTFT", "deployment": deployment},
        "commonAnnotations": {"summary": "p99 time to first token above 200ms"},
        "externalURL": "http://alertmanager:9093",
        "alerts": [
            {
                "status": "firing",
                "labels": {"alertname": "VLLMHighTTFT", "deployment": deployment, "pod": f"pod-{wave}-{n}"},
                "annotations": {"summary": "p99 time to first token above 200ms"},
                "startsAt": "2026-11-28T11:05:00.000Z",
                "endsAt": "0001-01-01T00:00:00Z",
                "generatorURL": "http://prometheus:9090/graph?g0.expr=ttft",
                "fingerprint": f"f{wave}{n}",
            }
            for n in range(3)
        ],
    }


def test_alerts_naming_the_canary_count_as_failed_intervals(env: BotEnv, exporter: VllmExporter) -> None:
    from tests.support.botenv import REGISTRY_TOKEN

    exporter.set("chat", "1.5.0", Traffic())
    deploy(env, "1.5.0")
    for wave in range(2):  # failure_limit 2: two notifications (of three pods each)
        answer = env.client.post(
            "/webhooks/alertmanager",
            json=alert("chat", wave),
            headers={"Authorization": f"Bearer {REGISTRY_TOKEN}"},
        )
        assert answer.status_code == 202
        env.run_jobs()
    with env.services.database.sessions() as session:
        analysis = session.scalars(select(Analysis).order_by(Analysis.id.desc())).first()
        assert analysis is not None and analysis.status == "failed"
        assert "VLLMHighTTFT" in (analysis.reason or "")
    assert values(env) == "image:\n  tag: 1.0.0  # stable\n"


def test_prometheus_stopped_mid_analysis_is_inconclusive_not_a_rollback(
    tmp_path: Path, sqlite_database_url: str, exporter: VllmExporter
) -> None:
    exporter.set("chat", "1.6.0", Traffic(error_ratio=0.5))
    with (
        running_prometheus(tmp_path / "prometheus", scrape_targets=[exporter.url]) as prom,
        bot_env(tmp_path, sqlite_database_url, repo=REPO, files=FILES, prometheus_url=prom.url) as env,
    ):
        env.standin.set_permission(REPO, "alice", "write")
        deploy(env, "1.6.0")
        prom.stop()
        analysis = analyse_until_done(env)
    assert analysis.status == "stopped_inconclusive"
    assert values(env) == "image:\n  tag: 1.6.0  # stable\n"


def test_a_revert_that_conflicts_is_reported_with_what_to_do(env: BotEnv, exporter: VllmExporter) -> None:
    exporter.set("chat", "1.7.0", Traffic(error_ratio=0.5))
    number = deploy(env, "1.7.0")
    # Someone edits the same line on main after the merge: git cannot revert cleanly.
    env.standin.commit(REPO, "main", {"apps/chat/values.yaml": "image:\n  tag: 1.7.0  # pinned by hand\n"})
    analysis = analyse_until_done(env)
    assert analysis.status == "failed"
    env.run_jobs()
    assert not [p for p in env.standin.pulls(REPO) if p.head_ref.startswith("gitops-bot/revert/")]
    *_, finished, not_done = bot_comments(env, number)
    assert "Canary failed" in finished and "Rolling back" in finished
    assert "conflicts with later changes in apps/chat/values.yaml" in not_done and "by hand" in not_done
    (failed,) = [a for a in env.actions("rollback.request") if a["outcome"] == "failed"]
    assert "conflicts" in failed["summary"]


def test_an_analysis_resumes_after_a_restart(env: BotEnv, exporter: VllmExporter) -> None:
    from bot.services import build_services

    exporter.set("chat", "1.8.0", Traffic())
    deploy(env, "1.8.0")
    from bot.storage.models import AnalysisInterval

    def measured() -> int:
        with env.services.database.sessions() as session:
            return session.query(AnalysisInterval).count()

    deadline = time.monotonic() + 20
    while measured() == 0:  # the first process measures one interval (it is due after 3 s)
        assert time.monotonic() < deadline, "the first interval was never measured"
        due_analysis_steps(env.services)
        env.run_jobs()
        time.sleep(0.2)
    env.services.close()
    # A new process on the same database and data directory picks the analysis up.
    env.services = build_services(env.settings)
    analysis = analyse_until_done(env)
    assert analysis.status == "passed"
    with env.services.database.sessions() as session:
        from bot.storage.models import AnalysisInterval

        count = session.query(AnalysisInterval).filter(AnalysisInterval.analysis_id == analysis.id).count()
    assert count == 3  # duration 9 s / interval 3 s: none skipped, none repeated


def bot_comments(env: BotEnv, number: int) -> list[str]:
    """The bot's comments on the pull request, in the order the forge lists them, read as a person's
    client reads them (PyGithub or python-gitlab against the stand-in's REST API)."""
    if env.forge == "gitlab":
        import gitlab

        lab = gitlab.Gitlab(env.standin.base_url, private_token=GITLAB_TOKEN)
        notes = (
            lab.projects.get(REPO)
            .mergerequests.get(number)
            .notes.list(sort="asc", order_by="created_at", get_all=True)
        )
        return [n.body for n in notes if n.author["username"] == BOT_LOGIN and not n.system]
    client = github.Github(auth=github.Auth.Token(TOKEN), base_url=env.standin.base_url)
    comments = client.get_repo(REPO).get_issue(number).get_comments()
    return [c.body for c in comments if c.user.login == BOT_LOGIN]
