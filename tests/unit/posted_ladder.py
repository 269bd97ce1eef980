"""What the traffic ladder posts on the forge (the update's body with steps, the canary started
comment, each step's comment and commit body), rendered with the context its workflows give:
cases for ``test_forge_markdown``."""

from __future__ import annotations

from collections.abc import Callable

from bot.canary.defaults import defaults_from_settings
from bot.config import load_repo_config
from bot.deployments import plan as plans
from bot.deployments.ladder import LadderPlan, ladder_rows
from bot.events.model import ImagePushed
from bot.updates.plan import UpdatePlan, plan_update
from bot.updates.render import UpdateTexts, canary_plan
from bot.updates.source import image_source
from tests.unit.posted_deployments import AT, HEAD, REPO, TEMPLATES, template

CONFIG = load_repo_config(
    """\
version: 1
deployments:
  - name: chat-prod
    trigger: {image: {repository: registry.example.com/serving/chat}}
    targets: [{file: apps/chat/values.yaml, key: image.tag}]
    canary:
      interval: 1m
      readiness: {namespace: serving, deployment: chat}
      steps: [{weight: 10, duration: 10m}, {weight: 50, duration: 10m}, {weight: 100}]
      weight_target: {file: apps/chat/values.yaml, key: traffic.latest, stable: traffic.previous}
      shadow:
        weight_target: {file: apps/chat/mesh.tfvars, variable: mirror_percent}
        weight: 20
        duration: 30m
"""
)
(CHAT,) = CONFIG.deployments
VALUES = "image:\n  tag: 1.2.0\ntraffic:\n  latest: 100\n  previous: 0\n"


def _plan(*, mirrors: bool) -> UpdatePlan:
    files = {
        "apps/chat/values.yaml": VALUES,
        "apps/chat/mesh.tfvars": "mirror_percent = 0\n" if mirrors else "x = 1\n",
    }
    planned = plan_update(repo=REPO, deployment=CHAT, version="1.4.0", digest=None, files=files)
    assert isinstance(planned, UpdatePlan), planned
    return planned


def update_bodies() -> list[str]:
    push = ImagePushed(
        registry="registry.example.com",
        repository="serving/chat",
        tag="1.4.0",
        digest=None,
        format="distribution",
        event_id="evt-1",
        pushed_at=AT,
        actor="ci",
    )
    canary = canary_plan(CHAT, defaults_from_settings(object()))
    texts = UpdateTexts(TEMPLATES)
    return [texts.body(_plan(mirrors=m), image_source(push), canary, requested_by="") for m in (True, False)]


def analysis(*, shadow: bool = True) -> plans.AnalysisPlan:
    assert CHAT.canary is not None
    return plans.analysis_plan(
        repo=REPO,
        deployment=CHAT,
        canary=CHAT.canary,
        version="1.4.0",
        stable_version="1.2.0",
        defaults=defaults_from_settings(object()),
        shadow_problem=None if shadow else "x.tfvars has no mirror_percent",
    )


def _ladder() -> LadderPlan:
    ladder = analysis().ladder
    assert ladder is not None
    return ladder


def canary_started() -> list[str]:
    return [
        template("deployments/canary_started.md.j2", plan=analysis(shadow=s), deployment_id=7)
        for s in (True, False)
    ]


def canary_steps() -> list[str]:
    ladder = _ladder()
    stored = [
        {"index": 0, "status": "passed", "commit_sha": HEAD},
        {"index": 1, "status": "passed", "commit_sha": HEAD, "pr_number": 51},
        {"index": 2, "status": "judging", "commit_sha": HEAD, "pr_number": 52},
    ]
    rows = ladder_rows(ladder, stored)
    common = {"plan": analysis(), "ladder": ladder, "rows": rows}
    return [
        template(
            "deployments/canary_step.md.j2",
            **common,
            step=2,
            event="committed",
            reason=None,
            sha=HEAD,
            step_pr_url=f"https://github.com/{REPO}/pull/52",
            by=None,
        ),
        template(
            "deployments/canary_step.md.j2",
            **common,
            step=3,
            event="stuck",
            reason="#53 could not be merged by the bot (review required); merge it and the canary goes on",
            sha=None,
            step_pr_url=f"https://github.com/{REPO}/pull/53",
            by=None,
        ),
        template(
            "deployments/canary_step.md.j2",
            **common,
            step=2,
            event="paused",
            reason=None,
            sha=None,
            step_pr_url=None,
            by="alice",
        ),
        template(
            "deployments/canary_step.md.j2",
            **common,
            step=2,
            event="resumed",
            reason=None,
            sha=None,
            step_pr_url=None,
            by="alice",
        ),
        template(
            "deployments/canary_step.md.j2",
            **common,
            step=3,
            event="promoted",
            reason=None,
            sha=None,
            step_pr_url=None,
            by="alice",
        ),
    ]


def step_commits() -> list[str]:
    ladder = _ladder()
    return [template("deployments/step_commit.md.j2", plan=analysis(), ladder=ladder, to=to) for to in (1, 3)]


def gated_bodies() -> list[str]:
    """An update whose model gates passed, and one whose gates failed (a draft)."""
    from bot.config.deployments import MetricGate, TagGate
    from bot.updates.gates import RunFacts, evaluate_gates

    push = ImagePushed(
        registry="registry.example.com", repository="serving/chat", tag="1.4.0", digest=None,
        format="distribution", event_id="evt-1", pushed_at=AT, actor="ci",
    )  # fmt: skip
    gates = (
        MetricGate(metric="eval_accuracy", min=0.82),
        TagGate(tag="validation_status", equals="approved"),
    )
    facts = [
        RunFacts(
            "r1", {"eval_accuracy": 0.9}, {"validation_status": "approved"}, run_url="https://mlflow/#/r1"
        ),
        RunFacts("r2", {"eval_accuracy": 0.7}, {}, {"validation_status": "pending"}),
    ]
    texts = UpdateTexts(TEMPLATES)
    canary = canary_plan(CHAT, defaults_from_settings(object()))
    return [
        texts.body(
            _plan(mirrors=True), image_source(push), canary, requested_by="", gates=evaluate_gates(gates, f)
        )
        for f in facts
    ] + [
        texts.body(
            _plan(mirrors=True),
            image_source(push),
            canary,
            requested_by="",
            gates=evaluate_gates(gates, "MLflow is down"),
        )
    ]


LADDER_CASES: dict[str, Callable[[], list[str]]] = {
    "deployments/canary_step.md.j2": canary_steps,
    "deployments/step_commit.md.j2": step_commits,
}
# Cases of templates that have others already (their ladder variants are checked too).
LADDER_VARIANTS: dict[str, Callable[[], list[str]]] = {
    "deployments/canary_started.md.j2": canary_started,
    "updates/pr_body.md.j2": update_bodies,
    "updates/pr_body.md.j2 (gates)": gated_bodies,
}
