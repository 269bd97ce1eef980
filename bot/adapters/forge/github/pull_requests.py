"""Writing pull requests on GitHub: bringing one up to date with its spec, and what a refused
merge means (the latter pure, over the port's data)."""

from __future__ import annotations

from typing import Any

import structlog
from github.GithubException import GithubException

from bot.adapters.forge.github.convert import login_of
from bot.adapters.forge.github.errors import error_message
from bot.adapters.forge.port import MergeRefusal, MergeResult, PullRequest, PullRequestSpec, reviewer_targets

log = structlog.get_logger("gitops_bot.forge")


def bring_up_to_date(repo: str, pr: Any, spec: PullRequestSpec) -> bool:
    """Edit an open pull request to match ``spec``; whether anything changed."""
    edits: dict[str, str] = {}
    if (pr.title or "") != spec.title:
        edits["title"] = spec.title
    if (pr.body or "") != spec.body:
        edits["body"] = spec.body
    if pr.base.ref != spec.base:
        edits["base"] = spec.base
    if edits:
        pr.edit(**edits)
    users, _ = reviewer_targets(spec.reviewers)
    reviewed: frozenset[str] = frozenset()
    requested = {user.login.lower() for user in pr.requested_reviewers or ()}
    if any(user.lower() not in requested for user in users):
        reviewed = frozenset(login_of(review.user).lower() for review in pr.get_reviews())
    added = add_labels_and_reviewers(repo, pr, spec, reviewed=reviewed)
    return bool(edits) or added


def add_labels_and_reviewers(repo: str, pr: Any, spec: PullRequestSpec, *, reviewed: frozenset[str]) -> bool:
    """Add the labels and review requests ``spec`` wants and ``pr`` lacks; whether any were added."""
    changed = False
    present = {label.name.lower() for label in pr.labels}
    missing_labels = [label for label in spec.labels if label.lower() not in present]
    if missing_labels:
        pr.add_to_labels(*missing_labels)
        changed = True
    users, teams = reviewer_targets(spec.reviewers)
    author = login_of(pr.user).lower()
    requested_users = {user.login.lower() for user in pr.requested_reviewers or ()}
    requested_teams = {team.slug.lower() for team in pr.requested_teams or ()}
    # Never re-request someone who already reviewed (that would ask them again) or the author
    # (GitHub refuses that).
    missing_users = [
        user
        for user in users
        if user.lower() not in requested_users and user.lower() not in reviewed and user.lower() != author
    ]
    missing_teams = [team for team in teams if team.lower() not in requested_teams]
    if missing_users or missing_teams:
        try:
            pr.create_review_request(reviewers=missing_users, team_reviewers=missing_teams)
            changed = True
        except GithubException as error:
            if error.status != 422:
                raise
            # Reviewers who are not collaborators must not fail the update itself.
            log.warning(
                "forge.review_request_refused",
                repo=repo,
                number=pr.number,
                reviewers=missing_users,
                teams=missing_teams,
                reason=error_message(error),
            )
    return changed


def merge_refusal(
    status: int, message: str, *, expected_head_sha: str, current: PullRequest | None
) -> MergeResult | None:
    """What GitHub's refusal to merge means; None when the error is no refusal (the caller raises it).

    A 405 ("not mergeable") is read against ``current``, the pull request as it is now."""
    if status == 409:
        return MergeResult(merged=False, refusal=MergeRefusal.HEAD_MOVED, message=message)
    if status == 405 and current is not None:
        if current.merged:
            # A retried PUT whose first attempt did merge: same head, so it is our merge.
            if current.head_sha == expected_head_sha:
                return MergeResult(merged=True, sha=current.merge_commit_sha, message=message)
            return MergeResult(merged=False, refusal=MergeRefusal.ALREADY_MERGED, message=message)
        if not current.is_open:
            return MergeResult(merged=False, refusal=MergeRefusal.CLOSED, message=message)
        if current.head_sha != expected_head_sha:
            return MergeResult(merged=False, refusal=MergeRefusal.HEAD_MOVED, message=message)
        refusal = MergeRefusal.METHOD_NOT_ALLOWED if "not allowed" in message.lower() else None
        return MergeResult(merged=False, refusal=refusal or MergeRefusal.NOT_MERGEABLE, message=message)
    if status == 422 and "merge" in message.lower() and "allowed" in message.lower():
        return MergeResult(merged=False, refusal=MergeRefusal.METHOD_NOT_ALLOWED, message=message)
    return None
