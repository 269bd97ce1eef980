"""What the update, command and deployment workflows post on the forge, rendered from their
templates with the context each workflow gives them (real plans, evidence and rows): the cases
``test_forge_markdown`` reads on GitHub's terms."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from bot.adapters.forge.port import PullRequest
from bot.canary.defaults import defaults_from_settings
from bot.canary.evidence import IntervalResult, Measurement
from bot.commands.grammar import DidYouMean, Usage, parse_comment
from bot.commands.render import render_comment_reply
from bot.config import load_repo_config
from bot.deployments import plan as plans
from bot.deployments.plan import RollbackOutcome
from bot.deployments.pull_status import AnalysisLine, LockLine, PlanLine, PullStatus
from bot.deployments.status import DeploymentStatus
from bot.deployments.store import DeployedVersion
from bot.events.model import ImagePushed
from bot.templating import template_environment
from bot.updates.plan import PendingUpdate, UpdatePlan, plan_update
from bot.updates.render import UpdateTexts, canary_plan
from bot.updates.source import image_source

TEMPLATES = template_environment()
REPO = "acme/gitops"
PR_URL = f"https://github.com/{REPO}/pull/42"
PROMETHEUS = "https://prometheus.example.com"
CONSOLE = "https://gitops.example.com"
HEAD = "9f2c4e1d7b3a5c6e8f0a1b2c3d4e5f6a7b8c9d0e"
AT = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
ERROR_RATE = (
    'sum(rate(http_requests_total{deployment="{{ deployment }}",version="{{ version }}",status=~"5..|429"}'
    '[{{ interval }}])) / sum(rate(http_requests_total{deployment="{{ deployment }}",version="{{ version }}"}'
    "[{{ interval }}]))"
)
TTFT = 'histogram_quantile(0.99, sum by (le) (rate(ttft_bucket{version="{{ version }}"}[{{ interval }}])))'
CONFIG = load_repo_config(
    f"""\
version: 1
deployments:
  - name: chat
    trigger: {{image: {{repository: registry.example.com/serving/chat}}}}
    targets: [{{file: apps/chat/values.yaml, key: image.tag}}]
    canary:
      interval: 1m
      duration: 10m
      min_requests: 20
      readiness: {{namespace: serving, deployment: chat}}
      metrics:
        - {{name: error_rate, query: '{ERROR_RATE}', max: 0.05}}
        - {{name: ttft_p99, query: '{TTFT}', baseline: {{relative_max: 1.5}}}}
      rollback: {{automerge: true}}
    promote: {{to: chat-prod}}
  - name: chat-prod
    trigger: {{image: {{repository: registry.example.com/serving/chat, tags: "regex:^never$"}}}}
    targets: [{{file: apps/chat/values-prod.yaml, key: image.tag}}]
    canary: {{on_failure: notify}}
  - name: ranker
    trigger: {{image: {{repository: registry.example.com/ranker}}}}
    targets: [{{file: apps/ranker.yaml, key: tag}}]
"""
)
CHAT, CHAT_PROD, RANKER = CONFIG.deployments


def template(name: str, **context: Any) -> str:
    return TEMPLATES.get_template(name).render(**context)


# -- updates ------------------------------------------------------------------------------------------


def update_plan(deployment: Any, file: str) -> UpdatePlan:
    old = PendingUpdate(
        "1.3.0", 40, f"https://github.com/{REPO}/pull/40", f"gitops-bot/{deployment.name}/1.3.0"
    )
    planned = plan_update(
        repo=REPO,
        deployment=deployment,
        version="1.4.0",
        digest="sha256:" + "a" * 64,
        files={file: "image:\n  tag: 1.2.0 # stable\n" if "values" in file else "tag: 1.2.0\n"},
        pending=[old],
        explicit=deployment is CHAT_PROD,  # moved only by promotion, an explicit version
    )
    assert isinstance(planned, UpdatePlan), planned
    return planned


def update_bodies() -> list[str]:
    push = ImagePushed(
        registry="registry.example.com",
        repository="serving/chat",
        tag="1.4.0",
        digest="sha256:" + "a" * 64,
        format="distribution",
        event_id="evt-1",
        pushed_at=AT,
        actor="ci",
    )
    source = image_source(push)
    texts = UpdateTexts(TEMPLATES)
    defaults = defaults_from_settings(object())
    return [
        texts.body(update_plan(deployment, file), source, canary_plan(deployment, defaults), requested_by=who)
        for deployment, file, who in (
            (CHAT, "apps/chat/values.yaml", ""),
            (CHAT_PROD, "apps/chat/values-prod.yaml", "@alice"),  # the vLLM defaults, notify only
            (RANKER, "apps/ranker.yaml", ""),  # no canary section
        )
    ]


def superseded_comments() -> list[str]:
    plan = update_plan(CHAT, "apps/chat/values.yaml")
    texts = UpdateTexts(TEMPLATES)
    return [texts.superseded_comment(plan.supersedes[0], plan, new_number=41, new_url=f"{PR_URL[:-2]}41")]


# -- commands -----------------------------------------------------------------------------------------


def command_replies(*comments: str) -> Callable[[], list[str]]:
    def replies() -> list[str]:
        parsed = [parse_comment(body) for body in comments]
        assert all(isinstance(reply, Usage | DidYouMean) for reply in parsed), parsed
        return [
            render_comment_reply(reply, TEMPLATES)
            for reply in parsed
            if isinstance(reply, Usage | DidYouMean)
        ]

    return replies


# -- deployments --------------------------------------------------------------------------------------


def analysis() -> plans.AnalysisPlan:
    assert CHAT.canary is not None
    return plans.analysis_plan(
        repo=REPO,
        deployment=CHAT,
        canary=CHAT.canary,
        version="1.4.0",
        stable_version="1.2.0",
        defaults=defaults_from_settings(object()),
    )


def interval(index: int, error_rate: float) -> dict[str, Any]:
    """An interval's evidence as the analysis stores it: measurements with their graph links."""
    failing = error_rate > 0.05
    result = IntervalResult(
        index=index,
        at=AT,
        request_count=180,
        verdict="fail" if failing else "pass",
        reason="error_rate above 0.05" if failing else "",
        measurements=(
            Measurement(
                "error_rate",
                error_rate,
                "<= 0.05",
                None,
                3,
                "fail" if failing else "pass",
                "above 0.05" if failing else "",
                max=0.05,
            ),
            Measurement("ttft_p99", 0.21, "<= 1.5x baseline", 0.18, 3, "pass", "", baseline_relative_max=1.5),
        ),
    )
    evidence = result.to_evidence()
    for measurement in evidence["measurements"]:
        measurement["graph_url"] = plans.graph_url(
            PROMETHEUS, measurement["metric"], at=AT, window_seconds=60
        )
    return evidence


def deployed() -> DeployedVersion:
    return DeployedVersion(
        id=7,
        repo=REPO,
        name="chat",
        version="1.4.0",
        previous_version="1.2.0",
        status="rolling_back",
        merge_commit_sha=HEAD,
        merged_at=AT,
        pr_number=42,
        pr_url=PR_URL,
        rollback_pr_number=None,
        rollback_pr_url=None,
        details={"title": "chat → 1.4.0"},
    )


def revert_pull() -> PullRequest:
    return PullRequest(
        number=43,
        title='Revert "chat → 1.4.0"',
        body="",
        state="open",
        merged=False,
        draft=False,
        author="gitops-bot",
        head_ref="gitops-bot/revert/chat/1.4.0",
        head_sha=HEAD,
        head_repo=REPO,
        base_ref="main",
        base_sha=HEAD,
        base_repo=REPO,
        is_fork=False,
        mergeable=True,
        mergeable_state="clean",
        merge_commit_sha=None,
        html_url=f"https://github.com/{REPO}/pull/43",
    )


def canary_started() -> list[str]:
    return [template("deployments/canary_started.md.j2", plan=analysis(), deployment_id=7)]


def canary_finished() -> list[str]:
    common = {"plan": analysis(), "merge_sha": HEAD, "evidence": interval(2, 0.31)}
    return [
        template(
            "deployments/canary_finished.md.j2",
            status="failed",
            reason="2 failed intervals in a row",
            verdicts=["pass", "fail", "fail"],
            next_step="",
            rolling_back=True,
            **common,
        ),
        template(
            "deployments/canary_finished.md.j2",
            status="passed",
            reason="10 intervals passed",
            verdicts=["pass"] * 10,
            next_step="Opened #44 to promote 1.4.0 to chat-prod.",
            rolling_back=False,
            **{**common, "evidence": interval(9, 0.01)},
        ),
        template(
            "deployments/canary_finished.md.j2",
            status="stopped_inconclusive",
            reason="no traffic",
            verdicts=["inconclusive"] * 3,
            next_step="",
            rolling_back=False,
            **{**common, "evidence": {}},
        ),
    ]


def rollback_bodies() -> list[str]:
    intervals = [interval(0, 0.01), interval(1, 0.31), interval(2, 0.4)]
    return [
        template(
            "deployments/rollback_pr_body.md.j2",
            deployment=deployed(),
            reason=reason,
            requested_by=who,
            automerge=automerge,
            merge=HEAD,
            intervals=evidence,
        )
        for reason, who, automerge, evidence in (
            ("canary analysis failed: 2 failed intervals in a row", "gitops-bot", True, intervals),
            ("/gitops rollback by @alice", "alice", False, []),
        )
    ]


def rollback_comments() -> list[str]:
    return [
        template(
            "deployments/rollback_comment.md.j2",
            deployment=deployed(),
            reason="canary analysis failed",
            pr=revert_pull(),
            status=status,
            repo=REPO,
        )
        for status in ("merged", "opened")
    ]


def rollback_not_done() -> list[str]:
    conflict = RollbackOutcome(
        "conflict", "Could not revert 9f2c4e1d7b3a (chat 1.4.0): it conflicts. Revert it by hand."
    )
    already = RollbackOutcome(
        "already_open", "A rollback of chat 1.4.0 is already open: #43.", 43, revert_pull().html_url
    )
    return [
        template("deployments/rollback_not_done.md.j2", outcome=outcome) for outcome in (conflict, already)
    ]


def status_comments() -> list[str]:
    statuses = [
        DeploymentStatus(
            REPO,
            "chat",
            "1.4.0",
            "1.2.0",
            "rolled_back",
            AT,
            42,
            PR_URL,
            "failed",
            "error_rate",
            ("pass", "fail", "fail"),
            f"{PR_URL[:-2]}43",
            (("1.5.0", f"{PR_URL[:-2]}45"),),
        ),
        DeploymentStatus(REPO, "chat-prod", "1.2.0", None, "recorded", AT, 30, None),
    ]
    pull = PullStatus(
        42,
        [
            PlanLine("staging", "terraform/staging", "default", "planned", HEAD, False),
            PlanLine("", "terraform/shared", "blue", "failed", HEAD, True),
        ],
        [LockLine("staging", "terraform/staging", "default", "alice")],
        [AnalysisLine("chat", "1.4.0", "failed", "error_rate", f"{CONSOLE}/analyses/3")],
        f"{CONSOLE}/runs?repo=acme%2Fgitops&pr=42",
    )
    empty = PullStatus(42, [], [], [], None)
    return [
        template("deployments/status.md.j2", statuses=statuses, deployment=None, pull=pull, repo=REPO),
        template("deployments/status.md.j2", statuses=[], deployment="chat", pull=empty, repo=REPO),
    ]


DEPLOYMENT_CASES: dict[str, Callable[[], list[str]]] = {
    "commands/comment_help.md.j2": command_replies("/gitops help"),
    "commands/comment_usage.md.j2": command_replies("/gitops plan -x", "/gitops apply --help", "/gitops"),
    "commands/did_you_mean.md.j2": command_replies("/gitops plna"),
    "deployments/canary_finished.md.j2": canary_finished,
    "deployments/canary_started.md.j2": canary_started,
    "deployments/rollback_comment.md.j2": rollback_comments,
    "deployments/rollback_not_done.md.j2": rollback_not_done,
    "deployments/rollback_pr_body.md.j2": rollback_bodies,
    "deployments/status.md.j2": status_comments,
    "updates/pr_body.md.j2": update_bodies,
    "updates/superseded_comment.md.j2": superseded_comments,
}
