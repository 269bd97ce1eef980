"""What GitHub's refusal to merge means (pure: status, message and the pull request as it is now)."""

from __future__ import annotations

import pytest

from bot.adapters.forge.github.pull_requests import merge_refusal
from bot.adapters.forge.port import MergeRefusal, MergeResult, PullRequest

EXPECTED = "a" * 40
MOVED = "b" * 40


def pull_request(*, state: str = "open", merged: bool = False, head_sha: str = EXPECTED) -> PullRequest:
    return PullRequest(
        number=7,
        title="bump",
        body="",
        state=state,
        merged=merged,
        draft=False,
        author="gitops-bot",
        head_ref="gitops-bot/chat-1.4.0",
        head_sha=head_sha,
        head_repo="acme/gitops",
        base_ref="main",
        base_sha="c" * 40,
        base_repo="acme/gitops",
        is_fork=False,
        mergeable=None,
        mergeable_state="unknown",
        merge_commit_sha="d" * 40 if merged else None,
        html_url="https://github.com/acme/gitops/pull/7",
    )


def refused(refusal: MergeRefusal, message: str) -> MergeResult:
    return MergeResult(merged=False, refusal=refusal, message=message)


@pytest.mark.parametrize(
    ("status", "message", "current", "expected"),
    [
        pytest.param(
            409,
            "Head branch was modified",
            None,
            refused(MergeRefusal.HEAD_MOVED, "Head branch was modified"),
            id="409-head-moved",
        ),
        pytest.param(
            405,
            "Pull Request is not mergeable",
            pull_request(merged=True),
            MergeResult(merged=True, sha="d" * 40, message="Pull Request is not mergeable"),
            id="405-our-own-earlier-merge",
        ),
        pytest.param(
            405,
            "not mergeable",
            pull_request(merged=True, head_sha=MOVED),
            refused(MergeRefusal.ALREADY_MERGED, "not mergeable"),
            id="405-merged-by-someone-else",
        ),
        pytest.param(
            405,
            "not mergeable",
            pull_request(state="closed"),
            refused(MergeRefusal.CLOSED, "not mergeable"),
            id="405-closed",
        ),
        pytest.param(
            405,
            "not mergeable",
            pull_request(head_sha=MOVED),
            refused(MergeRefusal.HEAD_MOVED, "not mergeable"),
            id="405-head-moved",
        ),
        pytest.param(
            405,
            "Merge commits are not allowed on this repository",
            pull_request(),
            refused(MergeRefusal.METHOD_NOT_ALLOWED, "Merge commits are not allowed on this repository"),
            id="405-method",
        ),
        pytest.param(
            405,
            "Required status check is failing",
            pull_request(),
            refused(MergeRefusal.NOT_MERGEABLE, "Required status check is failing"),
            id="405-not-mergeable",
        ),
        pytest.param(
            422,
            "Squash merges are not allowed",
            None,
            refused(MergeRefusal.METHOD_NOT_ALLOWED, "Squash merges are not allowed"),
            id="422-method",
        ),
        pytest.param(422, "Validation Failed: sha is invalid", None, None, id="422-other-is-raised"),
        pytest.param(403, "Resource not accessible by integration", None, None, id="403-is-raised"),
        pytest.param(405, "not mergeable", None, None, id="405-without-the-pull-request-is-raised"),
    ],
)
def test_merge_refusal(
    status: int, message: str, current: PullRequest | None, expected: MergeResult | None
) -> None:
    assert merge_refusal(status, message, expected_head_sha=EXPECTED, current=current) == expected
