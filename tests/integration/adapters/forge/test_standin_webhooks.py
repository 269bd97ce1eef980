"""The stand-in's webhooks reach the bot's real intake, signed as GitHub signs them.

These tests drive the stand-in with PyGithub (through the adapter) and deliver its webhooks to
the bot's FastAPI app, whose signature check is the judge of the signing.
"""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from fastapi.testclient import TestClient

from bot.adapters.forge.comments import post_comment
from bot.adapters.forge.github import GitHubForge
from bot.adapters.forge.port import MAX_COMMENT_LENGTH, MergeMethod, PullRequestSpec
from bot.app import create_app
from bot.routing import Router
from bot.settings import Settings
from bot.storage.db import migrate
from tests.integration.adapters.forge.conftest import REPO
from tests.support.databases import sqlite_url
from tests.support.github_standin import GitHubStandIn
from tests.support.github_standin_git import text

SECRET = "gh-webhook-secret"


def recording_router() -> Router:
    router = Router()
    for event in ("pull_request", "issue_comment", "push"):
        router.register("github", event, None, name=f"test.{event}")(lambda ctx: None)
    return router


@pytest.fixture
def bot(tmp_path) -> Iterator[TestClient]:
    url = sqlite_url(tmp_path)
    migrate(url)
    settings = Settings(_env_file=None, database_url=url, github_webhook_secret=SECRET)
    with TestClient(create_app(settings, router=recording_router())) as client:
        yield client


def open_update(standin: GitHubStandIn, forge: GitHubForge) -> int:
    standin.commit(
        REPO, "gitops-bot/chat-llm/1.1.0", {"apps/chat-llm/values-staging.yaml": "image:\n  tag: 1.1.0\n"}
    )
    change = forge.open_or_update_pull_request(
        REPO, PullRequestSpec(head="gitops-bot/chat-llm/1.1.0", base="main", title="chat-llm 1.1.0", body="b")
    )
    return change.pull_request.number


@pytest.mark.parametrize("method", [MergeMethod.MERGE, MergeMethod.SQUASH])
def test_merging_sends_a_signed_closed_webhook_with_the_merge_commit(
    standin: GitHubStandIn, forge: GitHubForge, bot: TestClient, method: MergeMethod
) -> None:
    standin.set_webhook("/webhooks/github", SECRET, client=bot)
    number = open_update(standin, forge)
    pull = forge.get_pull_request(REPO, number)
    result = forge.merge_pull_request(REPO, number, expected_head_sha=pull.head_sha, method=method)
    standin.flush()

    opened = standin.deliveries_of("pull_request", "opened")
    closed = standin.deliveries_of("pull_request", "closed")
    assert [d.status for d in opened] == [202]
    assert [d.status for d in closed] == [202]
    payload = closed[0].payload
    assert payload["pull_request"]["merged"] is True
    assert payload["pull_request"]["merge_commit_sha"] == result.sha
    assert payload["pull_request"]["number"] == number
    assert payload["repository"]["full_name"] == REPO
    assert closed[0].headers["X-GitHub-Event"] == "pull_request"
    assert closed[0].headers["X-Hub-Signature-256"].startswith("sha256=")
    # A real commit on the base branch: two parents for a merge, one for a squash.
    parents = text(standin.repo_path(REPO), "rev-list", "--parents", "-n", "1", result.sha).split()[1:]
    assert len(parents) == (2 if method is MergeMethod.MERGE else 1)


def test_a_wrong_secret_is_refused_by_the_bot(
    standin: GitHubStandIn, forge: GitHubForge, bot: TestClient
) -> None:
    standin.set_webhook("/webhooks/github", "not-the-secret", client=bot)
    open_update(standin, forge)
    (delivery,) = standin.flush()
    assert delivery.status == 401


def test_redelivery_is_recognised_as_a_duplicate(
    standin: GitHubStandIn, forge: GitHubForge, bot: TestClient
) -> None:
    standin.set_webhook("/webhooks/github", SECRET, client=bot)
    open_update(standin, forge)
    (first,) = standin.flush()
    again = standin.redeliver(first)
    standin.flush()
    assert first.status == 202
    assert again.guid == first.guid
    assert again.status == 200


def test_comments_as_a_user_and_pushes_send_their_events(
    standin: GitHubStandIn, forge: GitHubForge, bot: TestClient
) -> None:
    standin.set_webhook("/webhooks/github", SECRET, client=bot, events={"pull_request", "issue_comment"})
    number = open_update(standin, forge)
    standin.post_comment_as("alice", REPO, number, "/gitops plan")
    standin.commit(REPO, "gitops-bot/chat-llm/1.1.0", {"extra.txt": "x\n"}, "more")
    standin.flush()
    (comment,) = standin.deliveries_of("issue_comment", "created")
    assert comment.status == 202
    assert comment.payload["comment"]["body"] == "/gitops plan"
    assert comment.payload["comment"]["user"]["login"] == "alice"
    assert comment.payload["issue"]["number"] == number
    assert "pull_request" in comment.payload["issue"]
    (sync,) = standin.deliveries_of("pull_request", "synchronize")
    assert sync.status == 202
    assert sync.payload["after"] == standin.branch_sha(REPO, "gitops-bot/chat-llm/1.1.0")


def test_a_comment_over_the_limit_gets_githubs_422(standin: GitHubStandIn, forge: GitHubForge) -> None:
    number = open_update(standin, forge)
    body = "x" * (MAX_COMMENT_LENGTH + 1)
    # The adapter refuses before sending; the raw API call shows what GitHub answers.
    with pytest.raises(ValueError, match="split it"):
        forge.create_comment(REPO, number, body)
    answer = httpx.post(
        f"{standin.base_url}/repos/{REPO}/issues/{number}/comments",
        json={"body": body},
        headers={"Authorization": "token ghp_standin_token"},
    )
    assert answer.status_code == 422
    error = answer.json()
    assert error["message"] == "Validation Failed"
    assert "maximum is 65536 characters" in error["errors"][0]["message"]


def test_a_200000_character_plan_is_posted_in_parts_that_github_accepts(
    standin: GitHubStandIn, forge: GitHubForge
) -> None:
    number = open_update(standin, forge)
    lines = [f"  # terraform_data.node_pool[{i}] will be created" for i in range(4000)]
    plan = "\n".join(lines)
    body = "Ran plan\n<details><summary>Show output</summary>\n\n```diff\n" + plan + "\n```\n</details>\n"
    assert len(body) > 200_000
    posted = post_comment(forge, REPO, number, body, max_comments=3)
    assert len(posted) == 3
    stored = [c.body for c in standin.comments(REPO, number)]
    assert len(stored) == 3
    for part in stored:
        assert len(part) <= MAX_COMMENT_LENGTH
        assert part.count("```") % 2 == 0  # every code block opened is closed
        assert part.count("<details>") == part.count("</details>")
    # The cap keeps the end of the output, and says what it left out.
    assert "node_pool[3999]" in stored[-1]
    assert "node_pool[0] " not in "".join(stored)
