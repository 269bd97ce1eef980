"""Pure deployment decisions: the analysis plan, what follows it, rollback rules, names."""

from __future__ import annotations

import json
import urllib.parse
from dataclasses import dataclass, replace
from datetime import UTC, datetime

import pytest

from bot.canary import VllmDefaults
from bot.config import load_repo_config
from bot.deployments.plan import (
    FAILED,
    INCONCLUSIVE,
    PASSED,
    ROLLED_BACK,
    ROLLING_BACK,
    SUPERSEDED,
    AnalysisPlan,
    RollbackOutcome,
    alert_matches,
    analysis_plan,
    decide_rollback,
    graph_url,
    is_revert_branch,
    next_step,
    revert_branch,
    revert_title,
    rollback_decision,
)

CONFIG = load_repo_config(
    """\
version: 1
deployments:
  - name: chat
    trigger: {image: {repository: registry.example.com/serving/chat}}
    targets:
      - {file: apps/chat/values.yaml, key: image.tag}
      - {file: apps/chat/values.yaml, key: image.digest, format: digest}
    canary:
      interval: 30s
      duration: 5m
      readiness: {namespace: serving, deployment: chat-canary, timeout: 2m}
      rollback: {automerge: true}
    promote: {to: chat-prod}
  - name: chat-prod
    trigger: {image: {repository: registry.example.com/serving/chat}}
    targets: [{file: apps/chat/values-prod.yaml, key: image.tag}]
  - name: embed
    trigger: {image: {repository: registry.example.com/serving/embed}}
    targets: [{file: infra/embed.tfvars, variable: embed_image, format: image}]
    canary:
      interval: 1m
      duration: 10m
      metrics:
        - name: p99
          query: 'histogram_quantile(0.99, rate(lat{a="{{ deployment }}",v="{{ version }}"}[{{ interval }}]))'
          max: 0.5
          baseline: {relative_max: 1.2}
"""
)
DIGEST = "sha256:" + "a" * 64


# --------------------------------------------------------------------------- analysis_plan


def plan_for(name: str, version: str = "1.1.0", stable: str | None = "1.0.0") -> AnalysisPlan:
    deployment = next(d for d in CONFIG.deployments if d.name == name)
    assert deployment.canary is not None
    return analysis_plan(
        repo="acme/gitops",
        deployment=deployment,
        canary=deployment.canary,
        version=version,
        stable_version=stable,
        defaults=VllmDefaults(),
        channel="#deploys",
        installation_id=7,
    )


def test_without_metrics_the_plan_uses_the_vllm_defaults_rendered_for_the_version() -> None:
    plan = plan_for("chat")
    names = [metric.name for metric in plan.metrics]
    assert "error_rate" in names and "ttft_p99" in names
    for metric in plan.metrics:
        assert "{{" not in metric.query and '"1.1.0"' in metric.query and "[30s]" in metric.query
        if metric.baseline_query is not None:
            assert '"1.0.0"' in metric.baseline_query
    assert "{{" not in plan.request_count_query and '"1.1.0"' in plan.request_count_query
    assert (plan.interval_seconds, plan.duration_seconds, plan.rollback_automerge) == (30, 300, True)
    assert plan.readiness is not None and plan.readiness.deployment == "chat-canary"
    assert plan.readiness.timeout_seconds == 120 and plan.namespace == "serving"
    assert plan.promote_to == "chat-prod" and plan.on_failure == "revert"


def test_configured_metrics_and_their_baseline() -> None:
    plan = plan_for("embed", version="3", stable="2")
    (metric,) = plan.metrics
    assert metric.query == 'histogram_quantile(0.99, rate(lat{a="embed",v="3"}[1m]))'
    assert metric.baseline_query == 'histogram_quantile(0.99, rate(lat{a="embed",v="2"}[1m]))'
    assert (metric.max, metric.baseline_relative_max) == (0.5, 1.2)


def test_no_stable_version_means_no_baseline_query() -> None:
    (metric,) = plan_for("embed", version="3", stable=None).metrics
    assert metric.baseline_query is None


def test_the_plan_survives_the_database_as_json() -> None:
    plan = plan_for("chat")
    stored = json.loads(json.dumps(plan.to_json()))
    assert AnalysisPlan.from_json(stored) == plan
    assert plan.queries() == AnalysisPlan.from_json(stored).queries()
    assert plan.request_count_query in plan.queries()


# --------------------------------------------------------------------------- after the analysis


@pytest.mark.parametrize(
    ("on_failure", "promote_to", "status", "action", "text"),
    [
        ("revert", None, "failed", "roll_back", "rolling back (git revert)"),
        ("revert", "chat-prod", "failed", "roll_back", "rolling back (git revert)"),
        ("notify", None, "failed", "notify_only", "notify only (on_failure: notify)"),
        ("revert", "chat-prod", "passed", "promote", "promoting to chat-prod"),
        ("notify", "chat-prod", "passed", "promote", "promoting to chat-prod"),
        ("revert", None, "passed", "mark_healthy", "marked healthy"),
        (
            "revert",
            "chat-prod",
            "stopped_inconclusive",
            "investigate",
            "analysis stopped without a verdict: check the metrics and the canary's traffic",
        ),
        # Not an end the follow-up acts on: nothing to do, nothing to announce.
        ("revert", "chat-prod", "cancelled", "none", None),
        ("revert", "chat-prod", "running", "none", None),
    ],
)
def test_next_step(
    on_failure: str, promote_to: str | None, status: str, action: str, text: str | None
) -> None:
    plan = replace(plan_for("chat"), on_failure=on_failure, promote_to=promote_to)
    step = next_step(plan, status)
    assert (step.action, step.text) == (action, text)
    assert step.rolls_back is (action == "roll_back") and step.promotes is (action == "promote")


# --------------------------------------------------------------------------- rollback


@pytest.mark.parametrize(
    ("status", "has_pr", "verdict"),
    [
        (FAILED, False, "proceed"),
        (PASSED, False, "proceed"),  # by hand, a healthy one too
        (INCONCLUSIVE, False, "proceed"),
        (ROLLING_BACK, True, "resume"),
        (ROLLING_BACK, False, "resume"),
        (ROLLED_BACK, True, "already_rolled_back"),  # never twice
        (SUPERSEDED, False, "refused"),
    ],
)
def test_rollback_decision(status: str, has_pr: bool, verdict: str) -> None:
    decision = rollback_decision(status, has_rollback_pr=has_pr)
    assert decision.verdict == verdict and decision.reason


@pytest.mark.parametrize(
    ("deployment", "version", "branch"),
    [
        ("chat", "1.1.0", "gitops-bot/revert/chat/1.1.0"),
        ("chat", DIGEST, "gitops-bot/revert/chat/sha256-" + "a" * 64),
        ("chat", "1..2", "gitops-bot/revert/chat/1-2"),
        ("chat", "v1.lock", "gitops-bot/revert/chat/v1"),
        ("chat", "~^:", "gitops-bot/revert/chat/version"),
    ],
)
def test_revert_branch_is_a_valid_ref(deployment: str, version: str, branch: str) -> None:
    assert revert_branch(deployment, version) == branch
    assert is_revert_branch(branch) and not is_revert_branch("gitops-bot/chat/1.1.0")


def test_revert_title() -> None:
    assert revert_title("Update chat to 1.1.0", "chat", "1.1.0") == 'Revert "Update chat to 1.1.0"'
    assert revert_title("  ", "chat", "1.1.0") == 'Revert "chat 1.1.0"'
    assert revert_title(None, "chat", "1.1.0") == 'Revert "chat 1.1.0"'


def test_graph_url_links_the_query_at_the_interval() -> None:
    at = datetime(2026, 11, 28, 11, 5, 0, tzinfo=UTC)
    url = graph_url("http://prometheus:9090/", 'rate(x{v="1"}[30s])', at=at, window_seconds=30)
    assert url.startswith("http://prometheus:9090/graph?")
    query = urllib.parse.parse_qs(urllib.parse.urlsplit(url).query)
    assert query["g0.expr"] == ['rate(x{v="1"}[30s])']
    assert query["g0.end_input"] == ["2026-11-28 11:05:00"]
    assert query["g0.range_input"] == ["5m"]
    assert "g0.end_input" not in graph_url("http://p", "up", at=None, window_seconds=1)


@pytest.mark.parametrize(
    ("labels", "matches"),
    [
        ({"deployment": "chat"}, True),
        ({"deployment": "chat", "version": "1.1.0"}, True),
        ({"deployment": "chat", "version": "1.0.0"}, False),  # the stable version's alert
        ({"deployment": "chat-prod"}, False),
        ({"alertname": "X"}, False),
    ],
)
def test_alert_matches(labels: dict[str, str], matches: bool) -> None:
    assert alert_matches(labels, deployment="chat", version="1.1.0") is matches


@dataclass(frozen=True)
class Candidate:
    repo: str = "acme/gitops"
    name: str = "chat"
    version: str = "1.1.0"
    status: str = FAILED
    merge_commit_sha: str = "c0ffee" * 7
    rollback_pr_number: int | None = None
    rollback_pr_url: str | None = None


OPEN = Candidate(status=ROLLING_BACK, rollback_pr_number=9, rollback_pr_url="https://forge/pr/9")


@pytest.mark.parametrize(
    ("found", "dry_run", "action", "outcome", "audited"),
    [
        (
            None,
            False,
            "stop",
            RollbackOutcome("nothing_to_revert", "Nothing to roll back: unknown deployment."),
            True,
        ),
        (
            "no merged deployment is recorded for acme/gitops",
            True,
            "stop",
            RollbackOutcome(
                "nothing_to_revert", "Nothing to roll back: no merged deployment is recorded for acme/gitops."
            ),
            True,
        ),
        (
            Candidate(status=ROLLED_BACK, rollback_pr_number=9, rollback_pr_url="https://forge/pr/9"),
            False,
            "stop",
            RollbackOutcome(
                "refused", "chat 1.1.0: this deployment was already rolled back.", 9, "https://forge/pr/9"
            ),
            False,
        ),
        (
            Candidate(status=SUPERSEDED),
            False,
            "stop",
            RollbackOutcome(
                "refused",
                "Not rolling back chat 1.1.0: a newer version of this deployment has merged since; "
                "roll back the newer one instead.",
            ),
            True,
        ),
        (
            OPEN,
            True,
            "stop",
            RollbackOutcome(
                "already_open", "A rollback of chat 1.1.0 is already open: #9.", 9, "https://forge/pr/9"
            ),
            False,
        ),
        # Started but no pull request yet: the steps are idempotent, so it resumes.
        (Candidate(status=ROLLING_BACK), False, "revert", None, False),
        (Candidate(status=FAILED), False, "revert", None, False),
        (Candidate(status=PASSED), False, "revert", None, False),
        (
            Candidate(status=FAILED),
            True,
            "dry_run",
            RollbackOutcome("dry_run", "Dry run: would revert c0ffeec0ffee (chat 1.1.0) in a pull request."),
            False,
        ),
    ],
)
def test_decide_rollback(
    found: Candidate | str | None, dry_run: bool, action: str, outcome: RollbackOutcome | None, audited: bool
) -> None:
    start = decide_rollback(found, dry_run=dry_run)
    assert (start.action, start.outcome, start.audited) == (action, outcome, audited)
