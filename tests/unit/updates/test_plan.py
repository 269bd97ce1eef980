"""The update planner and the trigger matching: pure tables, no I/O."""

from __future__ import annotations

import pytest

from bot.adapters.forge.port import PullRequest
from bot.config import load_repo_config
from bot.events.model import ImagePushed, ModelVersionAliasSet, ModelVersionCreated
from bot.updates.branch_names import version_from_branch
from bot.updates.plan import NoUpdate, PendingUpdate, UpdatePlan, plan_update
from bot.updates.triggers import automerge_decision, image_matches, model_matches

CONFIG = load_repo_config(
    """\
version: 1
deployments:
  - name: chat
    trigger: {image: {repository: registry.example.com/serving/chat, tags: "semver:^1"}}
    targets:
      - {file: values.yaml, key: image.tag}
      - {file: values.yaml, key: image.digest, format: digest}
  - name: hub
    trigger: {image: {repository: nginx, tags: "regex:^1\\\\.2[0-9]\\\\.[0-9]+$"}}
    targets: [{file: hub.yaml, key: tag}]
  - name: pinned
    trigger: {image: {repository: registry.example.com/serving/chat, tags: "1.5.0-hotfix"}}
    targets: [{file: pinned.yaml, key: tag}]
  - name: ranker
    trigger: {model: {name: ranker, alias: champion}}
    targets: [{file: ranker.tfvars, variable: version}]
  - name: scorer
    trigger: {model: {name: scorer}}
    targets: [{file: scorer.yaml, key: v}]
"""
)
CHAT = CONFIG.deployments[0]
VALUES = "image:\n  tag: 1.2.0 # pinned by the bot\n  digest: sha256:" + "0" * 64 + "\n"
DIGEST = "sha256:" + "a" * 64


def plan(
    version: str, *, files: dict[str, str | None] | None = None, **kwargs: object
) -> UpdatePlan | NoUpdate:
    return plan_update(
        repo="acme/gitops",
        deployment=CHAT,
        version=version,
        digest=kwargs.pop("digest", DIGEST),  # type: ignore[arg-type]
        files=files if files is not None else {"values.yaml": VALUES},
        **kwargs,  # type: ignore[arg-type]
    )


@pytest.mark.parametrize(
    ("version", "kwargs", "expected"),
    [
        ("1.3.0", {}, "accepted"),
        ("1.2.0", {"digest": "sha256:" + "0" * 64}, "already_current"),
        ("1.1.0", {}, "older_than_current"),
        ("2.0.0", {}, "no_match"),
        ("1.3.0-rc.1", {}, "no_match"),
        ("1.3.0", {"quarantined": {"1.3.0"}}, "quarantined"),
        ("1.3.0", {"quarantined": {"1.4.0"}}, "not_newer_than_quarantined"),
        ("1.1.0", {"explicit": True}, "accepted"),
        ("2.0.0", {"explicit": True}, "accepted"),
        ("../x", {}, "invalid_version"),
        ("1.3.0", {"digest": "md5:abc"}, "invalid_digest"),
        ("1.3.0", {"files": {"values.yaml": None}}, "missing_file"),
        ("1.3.0", {"files": {}, "unusable": {"values.yaml": "it is a symlink"}}, "unusable_file"),
        ("1.3.0", {"unusable": {"values.yaml": "it is a symlink"}}, "unusable_file"),
        ("1.3.0", {"files": {"values.yaml": "other: 1\n"}}, "bad_target"),
    ],
)
def test_decisions(version: str, kwargs: dict[str, object], expected: str) -> None:
    result = plan(version, **kwargs)  # type: ignore[arg-type]
    code = "accepted" if isinstance(result, UpdatePlan) else result.code
    assert code == expected, result


def test_a_target_the_forge_will_not_hand_out_as_a_file_is_refused_with_why() -> None:
    result = plan("1.3.0", files={}, unusable={"values.yaml": "values.yaml at main is a symlink, not a file"})
    assert isinstance(result, NoUpdate) and result.refused
    assert result.reason == (
        "values.yaml (a target of chat) cannot be edited: values.yaml at main is a symlink, not a file"
    )


def test_the_same_tag_with_a_new_digest_is_brought_in_line() -> None:
    result = plan("1.2.0")
    assert isinstance(result, UpdatePlan)
    assert "digest changed" in result.reason
    assert [edit.location for edit in result.edits if edit.changed] == ["image.digest"]


def test_a_plan_changes_only_the_value_and_keeps_the_comment() -> None:
    result = plan("1.3.0")
    assert isinstance(result, UpdatePlan)
    assert result.branch == "gitops-bot/chat/1.3.0"
    assert result.previous_version == "1.2.0"
    assert result.contents["values.yaml"] == VALUES.replace("1.2.0", "1.3.0").replace("0" * 64, "a" * 64)
    assert "-  tag: 1.2.0 # pinned by the bot\n" in result.diff
    assert "+  tag: 1.3.0 # pinned by the bot\n" in result.diff


def test_a_newer_open_update_wins_and_older_ones_are_superseded() -> None:
    newer = PendingUpdate("1.4.0", 7, "https://example/7", "gitops-bot/chat/1.4.0")
    older = PendingUpdate("1.2.5", 6, "https://example/6", "gitops-bot/chat/1.2.5")
    blocked = plan("1.3.0", pending=[newer])
    assert isinstance(blocked, NoUpdate) and blocked.code == "newer_pending" and blocked.pending == newer
    superseding = plan("1.3.0", pending=[older])
    assert isinstance(superseding, UpdatePlan) and superseding.supersedes == (older,)
    own = plan("1.3.0", pending=[PendingUpdate("1.3.0", 8, "u", "gitops-bot/chat/1.3.0")])
    assert isinstance(own, UpdatePlan) and own.supersedes == ()


@pytest.mark.parametrize(
    ("branch", "version"),
    [("gitops-bot/chat/1.3.0", "1.3.0"), ("gitops-bot/chatter/1.0.0", None), ("gitops-bot/chat/", None)],
)
def test_versions_are_read_back_from_branch_names(branch: str, version: str | None) -> None:
    assert version_from_branch("chat", branch) == version


def image(repository: str, tag: str | None, registry: str = "registry.example.com") -> ImagePushed:
    return ImagePushed(
        registry=registry, repository=repository, tag=tag, digest=DIGEST, format="distribution", event_id="e"
    )


@pytest.mark.parametrize(
    ("pushed", "names"),
    [
        (image("serving/chat", "1.3.0"), ["chat", "pinned"]),
        (image("serving/chat", None), []),
        (image("serving/chat", "1.3.0", registry="other.example.com"), []),
        (image("library/nginx", "1.25.3", registry="docker.io"), ["hub"]),
        (image("serving/other", "1.3.0"), []),
    ],
)
def test_image_triggers_match_the_repository_with_docker_hub_normalised(
    pushed: ImagePushed, names: list[str]
) -> None:
    assert [match.deployment.name for match in image_matches(CONFIG, pushed)] == names


@pytest.mark.parametrize(
    ("event", "names"),
    [
        (ModelVersionAliasSet(name="ranker", alias="champion", version="4"), ["ranker"]),
        (ModelVersionAliasSet(name="ranker", alias="challenger", version="5"), []),
        (ModelVersionCreated(name="ranker", version="6"), []),
        (ModelVersionCreated(name="scorer", version="2"), ["scorer"]),
        (ModelVersionAliasSet(name="scorer", alias="champion", version="2"), []),
    ],
)
def test_model_triggers_follow_new_versions_or_one_alias(
    event: ModelVersionCreated | ModelVersionAliasSet, names: list[str]
) -> None:
    assert [match.deployment.name for match in model_matches(CONFIG, event)] == names


def pull(**overrides: object) -> PullRequest:
    values: dict[str, object] = dict(
        number=1, title="t", body="", state="open", merged=False, draft=False, author="gitops-bot",
        head_ref="gitops-bot/chat/1.3.0", head_sha="a" * 40, head_repo="acme/gitops", base_ref="main",
        base_sha="b" * 40, base_repo="acme/gitops", is_fork=False, mergeable=True, mergeable_state="clean",
        merge_commit_sha=None, html_url="https://example/1",
    )  # fmt: skip
    values.update(overrides)
    return PullRequest(**values)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("overrides", "decision"),
    [
        ({}, "merge"),
        ({"mergeable_state": "unstable"}, "merge"),
        ({"mergeable_state": "blocked"}, "wait"),
        ({"mergeable_state": "behind"}, "wait"),
        ({"mergeable": None, "mergeable_state": "unknown"}, "wait"),
        ({"draft": True}, "wait"),
        ({"mergeable": False, "mergeable_state": "dirty"}, "give_up"),
        ({"state": "closed"}, "give_up"),
    ],
)
def test_automerge_waits_for_required_checks(overrides: dict[str, object], decision: str) -> None:
    assert automerge_decision(pull(**overrides))[0] == decision


STEPPED = load_repo_config(
    """\
version: 1
deployments:
  - name: chat
    trigger: {image: {repository: registry.example.com/serving/chat}}
    targets: [{file: values.yaml, key: image.tag}]
    canary:
      steps: [{weight: 10, duration: 5m}, {weight: 100}]
      weight_target: {file: route.yaml, key: weights.canary, stable: weights.stable}
      shadow: {weight_target: {file: mesh.tfvars, variable: mirror}, weight: 30, duration: 5m}
"""
).deployments[0]
ROUTE = "weights:\n  canary: 100\n  stable: 0\n"


def stepped(files: dict[str, str | None]) -> UpdatePlan | NoUpdate:
    return plan_update(repo="acme/gitops", deployment=STEPPED, version="1.3.0", digest=None, files=files)


def test_with_steps_the_update_writes_the_first_rung_in_the_same_commit() -> None:
    planned = stepped(
        {"values.yaml": "image:\n  tag: 1.2.0\n", "route.yaml": ROUTE, "mesh.tfvars": "mirror = 0\n"}
    )
    assert isinstance(planned, UpdatePlan) and planned.traffic is not None
    assert planned.contents == {
        "values.yaml": "image:\n  tag: 1.3.0\n",
        "route.yaml": "weights:\n  canary: 0\n  stable: 100\n",  # users see nothing while it shadows
        "mesh.tfvars": "mirror = 30\n",
    }
    assert (planned.traffic.first, planned.traffic.later) == (
        "shadow (30% mirrored)",
        ("step 1/2 (10%)", "step 2/2 (100%)"),
    )


def test_a_router_that_cannot_mirror_skips_the_shadow_saying_why() -> None:
    planned = stepped(
        {"values.yaml": "image:\n  tag: 1.2.0\n", "route.yaml": ROUTE, "mesh.tfvars": "host = 1\n"}
    )
    assert isinstance(planned, UpdatePlan) and planned.traffic is not None
    assert planned.contents["route.yaml"] == "weights:\n  canary: 10\n  stable: 90\n"
    assert "mesh.tfvars" not in planned.contents
    assert (
        planned.traffic.shadow_skipped
        == "mesh.tfvars: mirror: no such variable (variables in the file: host)"
    )


@pytest.mark.parametrize(
    ("route", "reason"),
    [
        (None, "route.yaml (a target of chat) does not exist on the default branch"),
        ("weights: {}\n", "route.yaml: weights.canary: no such key"),
    ],
)
def test_a_missing_weight_refuses_the_update(route: str | None, reason: str) -> None:
    refused = stepped(
        {"values.yaml": "image:\n  tag: 1.2.0\n", "route.yaml": route, "mesh.tfvars": "mirror = 0\n"}
    )
    assert isinstance(refused, NoUpdate) and refused.code in ("missing_file", "bad_target")
    assert reason in refused.reason


def test_the_weight_alone_never_opens_an_update() -> None:
    current = stepped(
        {"values.yaml": "image:\n  tag: 1.3.0\n", "route.yaml": ROUTE, "mesh.tfvars": "mirror = 0\n"}
    )
    assert isinstance(current, NoUpdate) and current.code == "already_current"
