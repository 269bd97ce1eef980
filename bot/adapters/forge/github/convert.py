"""PyGithub objects as the forge port's data (no requests beyond what the attributes read)."""

from __future__ import annotations

from typing import Any

from bot.adapters.forge.port import ChangedFile, Comment, PullRequest, Review


def login_of(user: Any) -> str:
    # A deleted account shows up as null ("ghost" on github.com).
    return user.login if user is not None else "ghost"


def to_pull_request(pr: Any, repo: str, *, full: bool) -> PullRequest:
    """Convert a PyGithub PullRequest. List results lack mergeability: ``full=False`` never
    touches those attributes (touching them would fetch every PR again)."""
    head_repo = pr.head.repo.full_name if pr.head.repo is not None else None
    base_repo = pr.base.repo.full_name if pr.base.repo is not None else repo
    merged = pr.merged if full else pr.merged_at is not None
    return PullRequest(
        number=pr.number,
        title=pr.title or "",
        body=pr.body or "",
        state=pr.state,
        merged=bool(merged),
        draft=bool(pr.draft),
        author=login_of(pr.user),
        head_ref=pr.head.ref,
        head_sha=pr.head.sha,
        head_repo=head_repo,
        base_ref=pr.base.ref,
        base_sha=pr.base.sha,
        base_repo=base_repo,
        is_fork=head_repo is None or head_repo.lower() != base_repo.lower(),
        mergeable=pr.mergeable if full else None,
        mergeable_state=(pr.mergeable_state or "unknown") if full else "unknown",
        merge_commit_sha=pr.merge_commit_sha or None,
        html_url=pr.html_url,
        labels=tuple(label.name for label in pr.labels),
        requested_reviewers=tuple(user.login for user in pr.requested_reviewers or ()),
        requested_teams=tuple(team.slug for team in pr.requested_teams or ()),
    )


def to_comment(comment: Any) -> Comment:
    return Comment(
        id=comment.id, body=comment.body or "", html_url=comment.html_url, author=login_of(comment.user)
    )


def to_changed_file(item: Any) -> ChangedFile:
    return ChangedFile(
        filename=item.filename,
        status=item.status,
        previous_filename=item.previous_filename or None,
    )


def to_review(review: Any) -> Review:
    return Review(
        user=login_of(review.user),
        state=review.state,
        commit_id=review.commit_id,
        submitted_at=review.submitted_at.isoformat() if review.submitted_at else None,
    )
