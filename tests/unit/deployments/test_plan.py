"""Pure deployment decisions: what a merge deployed, the analysis plan, rollback rules, names."""

from __future__ import annotations

import json
import urllib.parse
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
    alert_matches,
    analysis_plan,
    deployments_touched,
    graph_url,
    is_revert_branch,
    revert_branch,
    revert_title,
    rollback_decision,
    split_written_value,
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


def files(**texts: str | None):  # type: ignore[no-untyped-def]
    return lambda path: texts.get(path)


# --------------------------------------------------------------------------- deployments_touched


CHAT_BEFORE = f"image:\n  tag: 1.0.0\n  digest: {'sha256:' + 'b' * 64}\n"
CHAT_AFTER = f"image:\n  tag: 1.1.0\n  digest: {DIGEST}\n"


@pytest.mark.parametrize(
    ("changed", "before", "after", "expected"),
    [
        # A version change in a target file: one deployment, with its previous version and digest.
        (
            ["apps/chat/values.yaml"],
            {"apps/chat/values.yaml": CHAT_BEFORE},
            {"apps/chat/values.yaml": CHAT_AFTER},
            [("chat", "1.1.0", "1.0.0", DIGEST)],
        ),
        # The file changed but not the version (a comment, resources): nothing deployed.
        (
            ["apps/chat/values.yaml"],
            {"apps/chat/values.yaml": CHAT_BEFORE},
            {"apps/chat/values.yaml": CHAT_BEFORE + "resources: {}\n"},
            [],
        ),
        # A new file: deployed, with no previous version.
        (
            ["apps/chat/values.yaml"],
            {},
            {"apps/chat/values.yaml": CHAT_AFTER},
            [("chat", "1.1.0", None, DIGEST)],
        ),
        # Files outside every target: nothing.
        (["README.md"], {}, {"README.md": "x"}, []),
        # A deleted target file: nothing to analyse.
        (["apps/chat/values.yaml"], {"apps/chat/values.yaml": CHAT_BEFORE}, {}, []),
        # Two deployments in one pull request.
        (
            ["apps/chat/values-prod.yaml", "infra/embed.tfvars"],
            {
                "apps/chat/values-prod.yaml": "image:\n  tag: 0.9.0\n",
                "infra/embed.tfvars": 'embed_image = "r/e:2"\n',
            },
            {
                "apps/chat/values-prod.yaml": "image:\n  tag: 1.0.0\n",
                "infra/embed.tfvars": f'embed_image = "registry.example.com/serving/embed:3@{DIGEST}"\n',
            },
            [("chat-prod", "1.0.0", "0.9.0", None), ("embed", "3", "2", DIGEST)],
        ),
    ],
)
def test_deployments_touched(changed, before, after, expected) -> None:  # type: ignore[no-untyped-def]
    touched = deployments_touched(CONFIG, changed, files(**after), files(**before))
    assert [(t.name, t.version, t.previous_version, t.digest) for t in touched] == expected


def test_a_digest_only_change_is_a_deployment() -> None:
    before = f"image:\n  tag: 1.0.0\n  digest: {'sha256:' + 'b' * 64}\n"
    after = f"image:\n  tag: 1.0.0\n  digest: {DIGEST}\n"
    (touched,) = deployments_touched(
        CONFIG,
        ["apps/chat/values.yaml"],
        files(**{"apps/chat/values.yaml": after}),
        files(**{"apps/chat/values.yaml": before}),
    )
    assert (touched.version, touched.digest, touched.files) == ("1.0.0", DIGEST, ("apps/chat/values.yaml",))


@pytest.mark.parametrize(
    ("target_format", "value", "expected"),
    [
        ("tag", "1.2.3", ("1.2.3", None)),
        ("digest", DIGEST, (DIGEST, DIGEST)),
        ("tag@digest", f"1.2.3@{DIGEST}", ("1.2.3", DIGEST)),
        ("image", "registry.example.com:5000/serving/chat:1.2.3", ("1.2.3", None)),
        ("image@digest", f"registry.example.com/serving/chat:1.2.3@{DIGEST}", ("1.2.3", DIGEST)),
        ("image@digest", f"registry.example.com/serving/chat@{DIGEST}", (DIGEST, DIGEST)),
    ],
)
def test_split_written_value(target_format: str, value: str, expected: tuple[str, str | None]) -> None:
    assert split_written_value(target_format, value) == expected


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
