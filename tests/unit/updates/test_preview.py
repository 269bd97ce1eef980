"""What an event would do in a repository, decided offline: pure tables over the live decisions."""

from __future__ import annotations

import pytest

from bot.config import load_repo_config
from bot.events.model import ImagePushed, ModelVersionAliasSet, ModelVersionCreated
from bot.updates.plan import UpdatePlan, plan_update
from bot.updates.preview import NOT_KNOWN_OFFLINE, PreviewEvent, event_matches, preview_event, target_paths

CONFIG = load_repo_config(
    """\
version: 1
deployments:
  - name: chat-staging
    trigger: {image: {repository: registry.example.com/serving/chat, tags: "semver:^1"}}
    targets:
      - {file: values.yaml, key: image.tag}
      - {file: staging.tfvars, variable: chat_version}
  - name: chat-prod
    trigger: {image: {repository: registry.example.com/serving/chat, tags: "semver:~1.2"}}
    targets: [{file: prod.yaml, key: image.tag}]
  - name: ranker
    trigger: {model: {name: ranker, alias: champion}}
    targets: [{file: staging.tfvars, variable: ranker_version}]
"""
)
FILES: dict[str, str | None] = {
    "values.yaml": "image:\n  tag: 1.2.0  # set by the bot\n",
    "staging.tfvars": 'chat_version = "1.2.0"\nranker_version = "3"\n',
    "prod.yaml": "image:\n  tag: 1.2.0\n",
}
DIGEST = "sha256:" + "a" * 64


def image(reference: str, digest: str | None = None) -> ImagePushed:
    name, _, tag = reference.rpartition(":")
    registry, _, repository = name.partition("/")
    return ImagePushed(
        registry=registry,
        repository=repository,
        tag=tag or None,
        digest=digest,
        format="distribution",
        event_id="test",
    )


def digest_only(name: str) -> ImagePushed:
    registry, _, repository = name.partition("/")
    return ImagePushed(
        registry=registry, repository=repository, digest=DIGEST, format="distribution", event_id="test"
    )


@pytest.mark.parametrize(
    ("event", "expected", "ignored"),
    [
        # image match: both deployments follow the repository; prod's policy admits 1.2.x only
        (
            image("registry.example.com/serving/chat:1.2.5"),
            {"chat-staging": "proposes", "chat-prod": "proposes"},
            None,
        ),
        # policy refusal: staging moves, prod's ~1.2 refuses 1.3.0
        (
            image("registry.example.com/serving/chat:1.3.0"),
            {"chat-staging": "proposes", "chat-prod": "refused"},
            None,
        ),
        # never backwards, and the same version again changes nothing
        (
            image("registry.example.com/serving/chat:1.1.0"),
            {"chat-staging": "refused", "chat-prod": "refused"},
            None,
        ),
        (
            image("registry.example.com/serving/chat:1.2.0"),
            {"chat-staging": "unchanged", "chat-prod": "unchanged"},
            None,
        ),
        # no match, with the reason the bot would store on the event
        (
            image("registry.example.com/serving/other:1.3.0"),
            {},
            "no deployment's trigger matches registry.example.com/serving/other (in acme-gitops)",
        ),
        (image("other.example.com/serving/chat:1.3.0"), {}, "no deployment's trigger matches"),
        # digest-only push: names no version, moves nothing
        (digest_only("registry.example.com/serving/chat"), {}, "a push by digest names no version"),
        # model trigger: the alias the deployment follows; a new version without it is not followed
        (ModelVersionAliasSet(name="ranker", alias="champion", version="4"), {"ranker": "proposes"}, None),
        (ModelVersionAliasSet(name="ranker", alias="challenger", version="4"), {}, "alias challenger"),
        (ModelVersionCreated(name="ranker", version="4"), {}, "model ranker version 4"),
    ],
)
def test_decisions(event: PreviewEvent, expected: dict[str, str], ignored: str | None) -> None:
    preview = preview_event(CONFIG, event, repo="acme-gitops", files=FILES)
    assert {item.deployment.name: item.status for item in preview.deployments} == expected
    if ignored is None:
        assert preview.ignored is None
    else:
        assert preview.ignored is not None and ignored in preview.ignored
    assert preview.proposes == ("proposes" in expected.values())
    assert preview.not_known == NOT_KNOWN_OFFLINE


def test_a_refusal_says_why() -> None:
    preview = preview_event(
        CONFIG, image("registry.example.com/serving/chat:1.3.0"), repo="acme-gitops", files=FILES
    )
    prod = next(item for item in preview.deployments if item.deployment.name == "chat-prod")
    assert prod.status == "refused"
    assert prod.decision.code == "no_match"  # type: ignore[union-attr]
    assert prod.decision.reason == "1.3.0 does not match the tag policy semver:~1.2"  # type: ignore[union-attr]
    assert prod.diff == ""


def test_the_diff_is_the_one_the_update_would_propose() -> None:
    event = image("registry.example.com/serving/chat:1.3.0")
    preview = preview_event(CONFIG, event, repo="acme-gitops", files=FILES)
    staging = preview.deployments[0]
    live = plan_update(
        repo="acme-gitops", deployment=CONFIG.deployments[0], version="1.3.0", digest=None, files=FILES
    )
    assert isinstance(live, UpdatePlan) and isinstance(staging.decision, UpdatePlan)
    assert staging.diff == live.diff
    assert staging.decision.branch == "gitops-bot/chat-staging/1.3.0"
    assert staging.diff == (  # in the order of the deployment's targets
        "diff --git a/values.yaml b/values.yaml\n"
        "--- a/values.yaml\n"
        "+++ b/values.yaml\n"
        "@@ -1,2 +1,2 @@\n"
        " image:\n"
        "-  tag: 1.2.0  # set by the bot\n"
        "+  tag: 1.3.0  # set by the bot\n"
        "diff --git a/staging.tfvars b/staging.tfvars\n"
        "--- a/staging.tfvars\n"
        "+++ b/staging.tfvars\n"
        "@@ -1,2 +1,2 @@\n"
        '-chat_version = "1.2.0"\n'
        '+chat_version = "1.3.0"\n'
        ' ranker_version = "3"\n'
    )


def test_missing_and_unusable_targets_are_refused_as_live() -> None:
    event = image("registry.example.com/serving/chat:1.3.0")
    missing = preview_event(CONFIG, event, repo="r", files={**FILES, "values.yaml": None})
    assert missing.deployments[0].decision.code == "missing_file"  # type: ignore[union-attr]
    linked = preview_event(
        CONFIG, event, repo="r", files=FILES, unusable={"values.yaml": "values.yaml leads outside"}
    )
    assert linked.deployments[0].status == "refused"
    assert "values.yaml leads outside" in linked.deployments[0].decision.reason


def test_a_digest_reaches_the_targets_that_want_it() -> None:
    config = load_repo_config(
        "version: 1\ndeployments:\n  - name: d\n"
        "    trigger: {image: {repository: reg.example.com/app}}\n"
        "    targets: [{file: v.yaml, key: image, format: 'tag@digest'}]\n"
    )
    event = image("reg.example.com/app:2.0.0", DIGEST)
    preview = preview_event(
        config, event, repo="r", files={"v.yaml": "image: 1.0.0@sha256:" + "0" * 64 + "\n"}
    )
    assert preview.deployments[0].status == "proposes"
    assert f"+image: 2.0.0@{DIGEST}\n" in preview.deployments[0].diff
    without = preview_event(
        config, image("reg.example.com/app:2.0.0"), repo="r", files={"v.yaml": "image: x\n"}
    )
    assert without.deployments[0].decision.code == "bad_target"  # type: ignore[union-attr]


def test_only_the_matching_deployments_files_are_read() -> None:
    matches = event_matches(CONFIG, ModelVersionAliasSet(name="ranker", alias="champion", version="4"))
    assert target_paths(matches) == ("staging.tfvars",)
    matches = event_matches(CONFIG, image("registry.example.com/serving/chat:1.3.0"))
    assert target_paths(matches) == ("prod.yaml", "staging.tfvars", "values.yaml")
    assert target_paths(event_matches(CONFIG, digest_only("registry.example.com/serving/chat"))) == ()


def test_counts_by_status() -> None:
    preview = preview_event(
        CONFIG, image("registry.example.com/serving/chat:1.3.0"), repo="acme-gitops", files=FILES
    )
    assert (preview.count("proposes"), preview.count("refused"), preview.count("unchanged")) == (1, 1, 0)
    assert preview.source.summary == "registry push registry.example.com/serving/chat:1.3.0"
