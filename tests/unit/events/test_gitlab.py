"""GitLab's hooks (payloads shaped as GitLab's documentation records them) as the forge-neutral events."""

from __future__ import annotations

import json

import pytest

from bot.events import (
    MalformedEvent,
    PipelineFinished,
    PullRequestChanged,
    PullRequestComment,
    Push,
    parse_gitlab,
)
from bot.routing import FORGE_EVENT_ALIASES
from tests.unit.events.samples import data, gitlab_headers, raw


def test_an_opened_merge_request_is_a_pull_request_opened() -> None:
    (event,) = parse_gitlab(gitlab_headers("Merge Request Hook"), raw("gitlab/merge_request.open.json"))
    assert (event.source, event.event, event.action) == ("gitlab", "pull_request", "opened")
    assert FORGE_EVENT_ALIASES["gitlab"] == "github"  # the GitHub handlers act on it
    pr = event.domain
    assert isinstance(pr, PullRequestChanged)
    assert pr.repo == "gitlab:awesome_space/awesome_project"
    assert (pr.number, pr.head_ref, pr.base_ref) == (1, "ms-viewport", "master")
    assert pr.head_sha == "da1560886d4f094c3e6c9ef40349f7d38b5d27d7"
    assert (pr.author, pr.labels, pr.is_fork, pr.merged) == ("root", ("API",), False, False)
    assert event.dedupe_key == "gitlab:idem-4d0fb6fa-2a4c-4bb7-8b61-6f0a9c7f0a51"


def test_new_commits_are_synchronize_and_a_merge_is_closed_and_merged() -> None:
    (pushed,) = parse_gitlab(
        gitlab_headers("Merge Request Hook"), raw("gitlab/merge_request.update_push.json")
    )
    assert pushed.action == "synchronize"
    (merged,) = parse_gitlab(gitlab_headers("Merge Request Hook"), raw("gitlab/merge_request.merge.json"))
    assert merged.action == "closed" and isinstance(merged.domain, PullRequestChanged)
    assert (
        merged.domain.merged and merged.domain.merge_commit_sha == "c5b0d9e0aa08bf6b0e8b3a8a4ffbe3f4d3bf9a5d"
    )


@pytest.mark.parametrize(
    ("changes", "attributes", "action"),
    [
        ({"draft": {"previous": True, "current": False}}, {}, "ready_for_review"),
        ({"labels": {"previous": [], "current": []}}, {}, "labeled"),
        ({"title": {"previous": "a", "current": "b"}}, {}, "edited"),
        ({}, {"action": "reopen"}, "reopened"),
        ({}, {"action": "close"}, "closed"),
        ({}, {"action": "approved"}, "approved"),
    ],
)
def test_merge_request_actions(changes: dict, attributes: dict, action: str) -> None:
    payload = data("gitlab/merge_request.open.json")
    payload["object_attributes"]["action"] = "update"
    payload["object_attributes"].update(attributes)
    payload["changes"] = changes
    (event,) = parse_gitlab(gitlab_headers("Merge Request Hook"), json.dumps(payload).encode())
    assert event.action == action


def test_a_note_on_a_merge_request_is_a_comment_keyed_by_the_note() -> None:
    (event,) = parse_gitlab(gitlab_headers("Note Hook"), raw("gitlab/note.merge_request.json"))
    assert (event.event, event.action) == ("issue_comment", "created")
    comment = event.domain
    assert isinstance(comment, PullRequestComment)
    assert (comment.repo, comment.pr_number, comment.comment_id) == ("gitlab:gitlabhq/gitlab-test", 1, 1244)
    assert (comment.author, comment.author_type, comment.body) == ("root", "User", "/gitops plan -p staging")
    # A replay under a new delivery id is the same note: stored once.
    (again,) = parse_gitlab(
        gitlab_headers("Note Hook", uuid="another"), raw("gitlab/note.merge_request.json")
    )
    assert again.dedupe_key == event.dedupe_key


def test_notes_that_are_not_commands_of_people_are_ignored() -> None:
    (on_issue,) = parse_gitlab(gitlab_headers("Note Hook"), raw("gitlab/note.issue.json"))
    assert on_issue.ignored and "not on a merge request" in (on_issue.ignored_reason or "")
    payload = data("gitlab/note.merge_request.json")
    payload["object_attributes"]["system"] = True
    (system,) = parse_gitlab(gitlab_headers("Note Hook"), json.dumps(payload).encode())
    assert system.ignored and "system note" in (system.ignored_reason or "")
    payload["object_attributes"]["system"] = False
    payload["user"]["username"] = "project_42_bot_3f2a9c"
    (by_token,) = parse_gitlab(gitlab_headers("Note Hook"), json.dumps(payload).encode())
    assert isinstance(by_token.domain, PullRequestComment) and by_token.domain.author_type == "Bot"


def test_a_push_lists_at_most_twenty_commits_so_more_is_partial() -> None:
    (event,) = parse_gitlab(gitlab_headers("Push Hook"), raw("gitlab/push.json"))
    push = event.domain
    assert isinstance(push, Push)
    assert (push.repo, push.branch, push.pusher) == ("gitlab:mike/diaspora", "master", "jsmith")
    assert set(push.changed_files) == {"CHANGELOG", "app/controller/application.rb"}
    assert not push.changed_files_complete  # total_commits_count 4, two listed


def test_a_finished_pipeline_of_a_merge_request() -> None:
    (event,) = parse_gitlab(gitlab_headers("Pipeline Hook"), raw("gitlab/pipeline.success.json"))
    assert (event.event, event.action) == ("pipeline", "success")
    assert event.domain == PipelineFinished(
        repo="gitlab:gitlabhq/gitlab-test",
        status="success",
        sha="da1560886d4f094c3e6c9ef40349f7d38b5d27d7",
        ref="ms-viewport",
        merge_request=1,
    )
    payload = data("gitlab/pipeline.success.json")
    payload["object_attributes"]["status"] = "running"
    (running,) = parse_gitlab(gitlab_headers("Pipeline Hook"), json.dumps(payload).encode())
    assert running.ignored


def test_other_hooks_are_stored_and_ignored() -> None:
    (event,) = parse_gitlab(gitlab_headers("Issue Hook"), b'{"object_kind": "issue"}')
    assert event.ignored and event.event == "issue_hook"


@pytest.mark.parametrize(
    ("headers", "body", "message"),
    [
        ({}, b"{}", "X-Gitlab-Event"),
        ({"X-Gitlab-Event": "Push Hook"}, b"{}", "X-Gitlab-Event-UUID"),
        (gitlab_headers("Merge Request Hook"), b"{}", "object_attributes"),
        (gitlab_headers("Merge Request Hook"), b"[]", "JSON object"),
    ],
)
def test_malformed_deliveries_say_what_is_wrong(headers: dict, body: bytes, message: str) -> None:
    with pytest.raises(MalformedEvent, match=message):
        parse_gitlab(headers, body)
