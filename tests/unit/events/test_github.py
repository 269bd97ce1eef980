from __future__ import annotations

import copy
import json
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

import pytest

from bot.events import (
    ImagePushed,
    MalformedEvent,
    PullRequestChanged,
    PullRequestComment,
    Push,
    parse_github,
)
from tests.unit.events.samples import body, data, github_headers, raw


def parse_one(event: str, payload: Any, delivery: str = "delivery-1"):
    parsed = parse_github(github_headers(event, delivery), body(payload))
    assert len(parsed) == 1
    return parsed[0]


def test_pr_comment_is_normalised() -> None:
    parsed = parse_github(github_headers("issue_comment", "d-1"), raw("github/issue_comment.created.json"))

    assert len(parsed) == 1
    event = parsed[0]
    assert event.routing_key == ("github", "issue_comment", "created")
    # Keyed on the comment, so a replay under a fresh delivery id is a duplicate.
    assert (event.delivery_id, event.dedupe_key) == ("d-1", "issue_comment:acme/gitops:2090011223:created")
    assert event.ignored_reason is None
    assert event.payload["comment"]["id"] == 2090011223
    assert event.domain == PullRequestComment(
        repo="acme/gitops",
        pr_number=42,
        comment_id=2090011223,
        comment_url="https://api.github.com/repos/acme/gitops/issues/comments/2090011223",
        html_url="https://github.com/acme/gitops/pull/42#issuecomment-2090011223",
        author="bob",
        author_type="User",
        author_association="COLLABORATOR",
        body="/gitops plan -p serving-staging",
        installation_id=31415926,
        created_at=datetime(2024, 5, 2, 10, 20, tzinfo=UTC),
    )


def test_pull_request_opened_is_normalised() -> None:
    event = parse_one("pull_request", data("github/pull_request.opened.json"))

    assert event.routing_key == ("github", "pull_request", "opened")
    assert event.domain == PullRequestChanged(
        action="opened",
        repo="acme/gitops",
        number=42,
        title="chat-llm-staging: 1.2.2 -> 1.2.3",
        author="alice",
        head_sha="6dcb09b5b57875f334f61aebed695e2e4193db5e",
        head_ref="gitops-bot/chat-llm-staging-1.2.3",
        head_repo="acme/gitops",
        base_ref="main",
        base_sha="9049f1265b7d61be4a8904a9a27120d2064dab3b",
        is_fork=False,
        merged=False,
        merge_commit_sha=None,
        draft=False,
        labels=("model-update", "staging"),
        html_url="https://github.com/acme/gitops/pull/42",
        installation_id=31415926,
        default_branch="main",
    )


def test_merged_pull_request() -> None:
    domain = parse_one("pull_request", data("github/pull_request.closed_merged.json")).domain

    assert isinstance(domain, PullRequestChanged)
    assert (domain.action, domain.merged) == ("closed", True)
    assert domain.merge_commit_sha == "e5bd3914e2e596debea16f433f57875b5b90bcd6"


@pytest.mark.parametrize(
    ("change", "is_fork", "head_repo"),
    [
        pytest.param(lambda pr: None, True, "mallory/gitops", id="fork-by-id"),
        pytest.param(lambda pr: pr["head"].update(repo=None), True, None, id="deleted-fork"),
        pytest.param(
            lambda pr: [pr["head"]["repo"].pop("id"), pr["base"]["repo"].pop("id")],
            True,
            "mallory/gitops",
            id="fork-by-name",
        ),
        pytest.param(
            lambda pr: pr["head"]["repo"].update(id=700100, full_name="acme/gitops"),
            False,
            "acme/gitops",
            id="same-repo",
        ),
    ],
)
def test_fork_detection(change, is_fork: bool, head_repo: str | None) -> None:
    payload = data("github/pull_request.opened_fork.json")
    change(payload["pull_request"])

    domain = parse_one("pull_request", payload).domain

    assert isinstance(domain, PullRequestChanged)
    assert (domain.is_fork, domain.head_repo, domain.draft) == (is_fork, head_repo, True)
    assert domain.installation_id is None


def test_push_collects_changed_files() -> None:
    event = parse_one("push", data("github/push.json"))

    assert event.routing_key == ("github", "push", None)
    domain = event.domain
    assert isinstance(domain, Push)
    assert domain.changed_files == (
        "apps/chat-llm/old-values.yaml",
        "apps/chat-llm/values-staging.yaml",
        "docs/rollouts.md",
        "terraform/staging/serving.auto.tfvars",
    )
    assert (domain.repo, domain.ref, domain.branch, domain.is_default_branch) == (
        "acme/gitops",
        "refs/heads/main",
        "main",
        True,
    )
    assert (domain.before, domain.after) == (
        "9049f1265b7d61be4a8904a9a27120d2064dab3b",
        "e5bd3914e2e596debea16f433f57875b5b90bcd6",
    )
    assert (domain.pusher, domain.installation_id, domain.forced, domain.deleted) == (
        "bob",
        31415926,
        False,
        False,
    )
    assert domain.changed_files_complete is True


def test_push_of_a_tag_with_no_commits() -> None:
    payload = data("github/push.json")
    payload.update(ref="refs/tags/v1.0.0", commits=[], created=True, forced=True)

    domain = parse_one("push", payload).domain

    assert isinstance(domain, Push)
    assert (domain.branch, domain.is_default_branch, domain.changed_files) == (None, False, ())
    assert (domain.created, domain.forced) == (True, True)


@pytest.mark.parametrize("event_name", ["package", "registry_package"])
def test_container_package_becomes_an_image_push(event_name: str) -> None:
    event = parse_github(
        github_headers(event_name, f"delivery-{event_name}"), raw(f"github/{event_name}.published.json")
    )[0]

    assert event.routing_key == ("registry", "image", "pushed")
    assert event.delivery_id == f"delivery-{event_name}"
    digest = "sha256:2f1e3c0a6b9d4e7f8a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f6071"
    assert event.dedupe_key == f"ghcr.io/acme/chat-llm:1.2.3@{digest}"
    assert event.domain == ImagePushed(
        registry="ghcr.io",
        repository="acme/chat-llm",
        tag="1.2.3",
        digest=digest,
        media_type="application/vnd.oci.image.index.v1+json",
        format="github-package",
        event_id=f"delivery-{event_name}",
        pushed_at=datetime(2024, 5, 2, 9, 59, 58, tzinfo=UTC),
        actor="ci-builder",
    )


def test_package_and_registry_package_for_one_publication_share_a_dedupe_key() -> None:
    package = parse_github(github_headers("package", "a"), raw("github/package.published.json"))[0]
    legacy = parse_github(
        github_headers("registry_package", "b"), raw("github/registry_package.published.json")
    )[0]

    assert package.dedupe_key == legacy.dedupe_key
    assert package.delivery_id != legacy.delivery_id


def test_package_without_package_url_uses_owner_and_registry_url() -> None:
    payload = data("github/package.published.json")
    version = payload["package"]["package_version"]
    del version["package_url"]
    version["container_metadata"]["tag"]["name"] = ""

    domain = parse_one("package", payload).domain

    assert isinstance(domain, ImagePushed)
    assert (domain.registry, domain.repository, domain.tag) == ("ghcr.io", "acme/chat-llm", None)
    assert domain.reference == f"ghcr.io/acme/chat-llm@{version['name']}"


def test_package_digest_falls_back_to_the_version_name() -> None:
    payload = data("github/package.published.json")
    version = payload["package"]["package_version"]
    del version["container_metadata"]["tag"]["digest"]

    domain = parse_one("package", payload).domain

    assert isinstance(domain, ImagePushed)
    assert domain.digest == version["name"]


def _set(path: str, value: Any) -> Any:
    def change(payload: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        target = payload
        for key in parents:
            target = target[key]
        target[last] = value

    return change


@pytest.mark.parametrize(
    ("event", "sample", "change", "reason"),
    [
        ("ping", "ping", None, "ping"),
        (
            "issue_comment",
            "issue_comment.on_issue",
            None,
            "comment is on an issue, not a pull request",
        ),
        (
            "issue_comment",
            "issue_comment.created",
            _set("action", "edited"),
            "issue_comment action 'edited' is not acted on (only 'created')",
        ),
        (
            "issue_comment",
            "issue_comment.created",
            _set("action", "deleted"),
            "issue_comment action 'deleted' is not acted on (only 'created')",
        ),
        ("check_suite", "ping", None, "GitHub 'check_suite' events are not acted on"),
        ("installation", "ping", None, "GitHub 'installation' events are not acted on"),
        (
            "package",
            "package.published",
            _set("package.package_type", "npm"),
            "package type 'npm' is not a container image",
        ),
        (
            "registry_package",
            "registry_package.published",
            _set("action", "deleted"),
            "registry_package action 'deleted' is not acted on (only 'published' and 'updated')",
        ),
    ],
)
def test_ignored_events_keep_their_reason(event: str, sample: str, change, reason: str) -> None:
    payload = data(f"github/{sample}.json")
    if change is not None:
        change(payload)

    parsed = parse_one(event, payload, delivery="d-ignored")

    assert parsed.domain is None
    assert parsed.ignored_reason == reason
    assert parsed.source == "github"
    assert parsed.event == event
    assert parsed.delivery_id == "d-ignored"
    if event == "issue_comment":  # comments are keyed on the comment (tests/unit/events/test_json_limits.py)
        assert parsed.dedupe_key.startswith("issue_comment:acme/gitops:")
    else:
        assert parsed.dedupe_key == "d-ignored"
    assert parsed.payload == payload


def _drop(path: str) -> Any:
    def change(payload: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        target = payload
        for key in parents:
            target = target[key]
        del target[last]

    return change


def _untagged_without_digest(payload: dict[str, Any]) -> None:
    version = payload["package"]["package_version"]
    version["container_metadata"]["tag"] = {"name": "", "digest": ""}
    del version["name"], version["version"]


@pytest.mark.parametrize(
    ("event", "sample", "change", "message"),
    [
        (
            "pull_request",
            "pull_request.opened",
            _drop("pull_request"),
            "pull_request event has no 'pull_request' object",
        ),
        (
            "pull_request",
            "pull_request.opened",
            _drop("pull_request.head.sha"),
            "pull_request event: pull_request.head has no 'sha' string",
        ),
        (
            "pull_request",
            "pull_request.opened",
            _set("pull_request.number", "42"),
            "pull_request event: pull_request: 'number' must be an integer, got a string",
        ),
        (
            "pull_request",
            "pull_request.opened",
            _drop("pull_request.base.repo"),
            "pull_request event: pull_request.base has no 'repo' object",
        ),
        (
            "pull_request",
            "pull_request.opened",
            _set("pull_request.labels", [{"id": 1}]),
            "pull_request event: pull_request.labels[0] has no 'name' string",
        ),
        (
            "issue_comment",
            "issue_comment.created",
            _drop("comment"),
            "issue_comment event has no 'comment' object",
        ),
        (
            "issue_comment",
            "issue_comment.created",
            _drop("comment.body"),
            "issue_comment event: comment has no 'body' string",
        ),
        (
            "issue_comment",
            "issue_comment.created",
            _drop("repository"),
            "issue_comment event has no 'repository' object",
        ),
        (
            "issue_comment",
            "issue_comment.created",
            _drop("action"),
            "issue_comment event has no 'action' string",
        ),
        ("push", "push", _drop("ref"), "push event has no 'ref' string"),
        ("push", "push", _set("commits", {}), "push event: 'commits' must be a list, got an object"),
        (
            "push",
            "push",
            _set("commits", [{"added": [1]}]),
            "push event: commits[0].added must hold file paths (strings)",
        ),
        (
            "push",
            "push",
            _set("installation", {"id": "x"}),
            "push event: installation: 'id' must be an integer, got a string",
        ),
        (
            "package",
            "package.published",
            _drop("package.package_version"),
            "package event: package has no 'package_version' object",
        ),
        (
            "package",
            "package.published",
            _untagged_without_digest,
            "package event: package.package_version has neither a container tag nor a digest",
        ),
    ],
)
def test_malformed_payloads_name_the_problem(event: str, sample: str, change, message: str) -> None:
    payload = copy.deepcopy(data(f"github/{sample}.json"))
    change(payload)

    with pytest.raises(MalformedEvent) as caught:
        parse_github(github_headers(event), body(payload))

    assert str(caught.value) == message


@pytest.mark.parametrize(
    ("headers", "content", "message"),
    [
        ({"x-github-delivery": "d"}, b"{}", "GitHub request has no X-GitHub-Event header"),
        ({"x-github-event": "push"}, b"{}", "GitHub request has no X-GitHub-Delivery header"),
        (
            {"x-github-event": " ", "x-github-delivery": "d"},
            b"{}",
            "GitHub request has no X-GitHub-Event header",
        ),
        (github_headers("push"), b"", "GitHub webhook body is empty"),
        (github_headers("push"), b"{not json", "GitHub webhook body is not valid JSON"),
        (github_headers("push"), b"[1, 2]", "GitHub webhook body must be a JSON object, got a list"),
        (github_headers("push"), b"\xff\xfe", "GitHub webhook body is not"),
        (
            {**github_headers("push"), "content-type": "application/x-www-form-urlencoded"},
            b"other=1",
            "GitHub form body has no 'payload' field",
        ),
    ],
)
def test_malformed_requests(headers: dict[str, str], content: bytes, message: str) -> None:
    with pytest.raises(MalformedEvent) as caught:
        parse_github(headers, content)

    assert str(caught.value).startswith(message)


def test_header_names_are_matched_case_insensitively() -> None:
    headers = {"X-GitHub-Event": "ping", "X-GitHub-Delivery": "D-1"}

    event = parse_github(headers, raw("github/ping.json"))[0]

    assert (event.event, event.delivery_id, event.ignored_reason) == ("ping", "D-1", "ping")


def test_form_encoded_delivery_is_accepted() -> None:
    payload = data("github/push.json")
    headers = {**github_headers("push"), "content-type": "application/x-www-form-urlencoded"}

    event = parse_github(headers, urlencode({"payload": json.dumps(payload)}).encode())[0]

    assert isinstance(event.domain, Push)
    assert event.payload == payload


def test_redelivery_has_the_same_dedupe_key_and_new_delivery_is_distinct() -> None:
    first = parse_github(github_headers("push", "guid-1"), raw("github/push.json"))[0]
    redelivered = parse_github(github_headers("push", "guid-1"), raw("github/push.json"))[0]
    another = parse_github(github_headers("push", "guid-2"), raw("github/push.json"))[0]

    assert first.dedupe_key == redelivered.dedupe_key == "guid-1"
    assert another.dedupe_key != first.dedupe_key
