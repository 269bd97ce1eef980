"""Writing merge requests: bringing one up to date with its spec, and merging one at a known head."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import structlog
from gitlab import exceptions as gitlab_errors

from bot.adapters.forge.gitlab.convert import draft_title, is_draft_title
from bot.adapters.forge.gitlab.errors import error_message
from bot.adapters.forge.port import (
    ChangeOutcome,
    MergeRefusal,
    MergeResult,
    PullRequest,
    PullRequestSpec,
    reviewer_targets,
)

# A username's GitLab user id (None: no such user), as the adapter looks it up and caches it.
UserIds = Callable[[str], int | None]

log = structlog.get_logger("gitops_bot.forge")


def open_or_update(user_id: UserIds, project: Any, spec: PullRequestSpec) -> tuple[ChangeOutcome, int]:
    """Idempotent by source branch: (what happened, the merge request's iid)."""
    existing = _find_open(project, spec.head)
    if existing is None:
        data: dict[str, Any] = {
            "source_branch": spec.head,
            "target_branch": spec.base,
            "title": draft_title(spec.title, spec.draft),
            "description": spec.body,
        }
        if spec.labels:
            data["labels"] = ",".join(spec.labels)
        reviewer_ids = _reviewer_ids(user_id, spec, author=None)
        if reviewer_ids:
            data["reviewer_ids"] = reviewer_ids
        try:
            created = project.mergerequests.create(data)
        except gitlab_errors.GitlabCreateError as error:
            # Another worker opened it between our look-up and our create (GitLab: 409).
            if error.response_code != 409:
                raise
            existing = _find_open(project, spec.head)
            if existing is None:
                raise
        else:
            return ChangeOutcome.CREATED, int(created.iid)
    changed = _bring_up_to_date(user_id, project, existing, spec)
    return (ChangeOutcome.UPDATED if changed else ChangeOutcome.UNCHANGED), int(existing["iid"])


def _find_open(project: Any, head: str) -> dict[str, Any] | None:
    for mr in project.mergerequests.list(state="opened", source_branch=head, iterator=True):
        data = dict(mr.attributes)
        if data.get("source_branch") == head and data.get("source_project_id") == data.get(
            "target_project_id"
        ):
            return data
    return None


def _bring_up_to_date(user_id: UserIds, project: Any, mr: dict[str, Any], spec: PullRequestSpec) -> bool:
    """Only what differs is sent; labels and reviewers are only ever added (a person's stay)."""
    edits: dict[str, Any] = {}
    # A draft is a title prefix on GitLab: a person who marked it ready keeps it ready.
    title = draft_title(spec.title, is_draft_title(str(mr.get("title") or "")))
    if (mr.get("title") or "") != title:
        edits["title"] = title
    if (mr.get("description") or "") != spec.body:
        edits["description"] = spec.body
    if mr.get("target_branch") != spec.base:
        edits["target_branch"] = spec.base
    present = {str(label).lower() for label in mr.get("labels") or ()}
    missing = [label for label in spec.labels if label.lower() not in present]
    if missing:
        edits["add_labels"] = ",".join(missing)
    current = [int(user["id"]) for user in mr.get("reviewers") or () if isinstance(user, dict)]
    author = (mr.get("author") or {}).get("username")
    wanted = [found for found in _reviewer_ids(user_id, spec, author=author) if found not in current]
    if wanted:
        edits["reviewer_ids"] = current + wanted
    if edits:
        project.mergerequests.update(int(mr["iid"]), edits)
    return bool(edits)


def _reviewer_ids(user_id: UserIds, spec: PullRequestSpec, *, author: str | None) -> list[int]:
    """User ids of the configured reviewers; GitLab has no team reviewers (``team:`` entries are
    left to the project's approval rules), and an unknown username is logged, never fatal."""
    users, teams = reviewer_targets(spec.reviewers)
    if teams:
        log.info("forge.gitlab_team_reviewers_skipped", teams=list(teams))
    found: list[int] = []
    for user in users:
        if author is not None and user.lower() == author.lower():
            continue
        found_id = user_id(user)
        if found_id is None:
            log.warning("forge.review_request_refused", reviewer=user, reason="no such GitLab user")
        elif found_id not in found:
            found.append(found_id)
    return found


def merge(
    mr: Any,
    current: Callable[[], PullRequest],
    *,
    expected_head_sha: str,
    squash: bool,
    message: str | None,
) -> MergeResult:
    """``PUT …/merge`` with ``sha`` (GitLab refuses with 409 when the head moved); a refusal is a result."""
    options: dict[str, Any] = {"sha": expected_head_sha}
    if squash:
        options["squash"] = True
    if message:
        options["merge_commit_message"] = message
    try:
        answer = mr.merge(**options)
    except gitlab_errors.GitlabMRClosedError as error:
        refusal = refused(error.response_code, error_message(error), expected_head_sha, current)
        if refusal is None:
            raise
        return refusal
    data = answer if isinstance(answer, dict) else dict(mr.attributes)
    sha = data.get("merge_commit_sha") or data.get("squash_commit_sha") or data.get("sha")
    return MergeResult(merged=data.get("state") == "merged", sha=sha, message="merged")


def refused(
    status: int | None, message: str, expected_head_sha: str, current: Callable[[], PullRequest]
) -> MergeResult | None:
    """What GitLab's refusal means: 409 the head moved; 405/406/422 read against the merge request now."""
    if status == 409:
        return MergeResult(merged=False, refusal=MergeRefusal.HEAD_MOVED, message=message)
    if status not in (401, 405, 406, 422):
        return None
    pr = current()
    if pr.merged:
        if pr.head_sha == expected_head_sha:  # a retried PUT whose first attempt merged
            return MergeResult(merged=True, sha=pr.merge_commit_sha, message=message)
        return MergeResult(merged=False, refusal=MergeRefusal.ALREADY_MERGED, message=message)
    if not pr.is_open:
        return MergeResult(merged=False, refusal=MergeRefusal.CLOSED, message=message)
    if pr.head_sha != expected_head_sha:
        return MergeResult(merged=False, refusal=MergeRefusal.HEAD_MOVED, message=message)
    if status == 401:
        return None  # the token may not merge here: an error, not a refusal
    return MergeResult(merged=False, refusal=MergeRefusal.NOT_MERGEABLE, message=message)
