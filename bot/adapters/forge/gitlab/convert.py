"""GitLab's REST answers as the forge port's data (pure: dicts in, port values out).

GitLab's words become GitHub's where the domain reads them: ``opened`` → ``open``, a merge
request's ``detailed_merge_status`` → ``mergeable`` and a GitHub ``mergeable_state``, access levels
→ ``read|triage|write|maintain|admin``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from bot.adapters.forge.port import ChangedFile, Comment, PullRequest, Review, ReviewState

DRAFT_PREFIXES = ("draft:", "[draft]", "(draft)", "draft ")
# detailed_merge_status → (mergeable, GitHub's mergeable_state). GitHub's ``mergeable`` means "no
# conflicts"; required checks and approvals show in the state (blocked), as GitHub's do.
_STILL_COMPUTING = frozenset({"checking", "unchecked", "preparing", "approvals_syncing"})
_CONFLICTS = frozenset({"conflict", "broken_status", "commits_status"})
_BLOCKED = frozenset(
    {
        "ci_must_pass",
        "ci_still_running",
        "not_approved",
        "discussions_not_resolved",
        "blocked_status",
        "requested_changes",
        "external_status_checks",
        "jira_association_missing",
        "merge_request_blocked",
        "security_policy_violations",
        "locked_paths",
        "locked_lfs_files",
        "title_regex",
        "status_checks_must_pass",
    }
)
# GitLab access levels (members API) → the permission levels rules name.
ACCESS_LEVELS = ((50, "admin"), (40, "maintain"), (30, "write"), (15, "triage"), (10, "read"))


def permission_of(access_level: int | None) -> str:
    """Owner → admin, Maintainer → maintain, Developer → write, Reporter and Planner → triage,
    Guest → read; none (or Minimal access) → none."""
    for threshold, level in ACCESS_LEVELS:
        if access_level is not None and access_level >= threshold:
            return level
    return "none"


def merge_state(detailed: str | None, *, state: str, draft: bool) -> tuple[bool | None, str]:
    if state != "opened":
        return None, "unknown"
    status = (detailed or "unchecked").lower()
    if status == "mergeable":
        return True, "clean"
    if status in _STILL_COMPUTING:
        return None, "unknown"
    if status in _CONFLICTS:
        return False, "dirty"
    if status == "need_rebase":
        return True, "behind"
    if status in ("draft_status",) or draft:
        return True, "draft"
    if status in _BLOCKED:
        return True, "blocked"
    return True, "blocked"  # an unknown reason not to merge: wait, as for a required check


def is_draft_title(title: str) -> bool:
    return title.strip().lower().startswith(DRAFT_PREFIXES)


def draft_title(title: str, draft: bool) -> str:
    """GitLab marks a draft by its title: ``Draft: `` added or removed."""
    bare = strip_draft(title)
    return f"Draft: {bare}" if draft else bare


def strip_draft(title: str) -> str:
    text = title.strip()
    for prefix in DRAFT_PREFIXES:
        if text.lower().startswith(prefix):
            return text[len(prefix) :].strip()
    return text


def username(user: Any) -> str:
    return str(user.get("username")) if isinstance(user, Mapping) and user.get("username") else "ghost"


def to_pull_request(mr: Mapping[str, Any], repo: str, *, head_repo: str | None, full: bool) -> PullRequest:
    """``mr``: a merge request's JSON; ``head_repo``: the source project's name (None: deleted fork)."""
    state = str(mr.get("state") or "opened")
    draft = bool(mr.get("draft") or mr.get("work_in_progress"))
    found = mr.get("diff_refs")
    refs: Mapping[str, Any] = found if isinstance(found, Mapping) else {}
    mergeable, merge_status = (
        merge_state(mr.get("detailed_merge_status"), state=state, draft=draft) if full else (None, "unknown")
    )
    same_project = mr.get("source_project_id") == mr.get("target_project_id")
    return PullRequest(
        number=int(mr["iid"]),
        title=strip_draft(str(mr.get("title") or "")) if draft else str(mr.get("title") or ""),
        body=str(mr.get("description") or ""),
        state="open" if state in ("opened", "locked") else "closed",
        merged=state == "merged",
        draft=draft,
        author=username(mr.get("author")),
        head_ref=str(mr.get("source_branch") or ""),
        head_sha=str(mr.get("sha") or refs.get("head_sha") or ""),
        head_repo=repo if same_project else head_repo,
        base_ref=str(mr.get("target_branch") or ""),
        base_sha=str(refs.get("start_sha") or refs.get("base_sha") or ""),
        base_repo=repo,
        is_fork=not same_project,
        mergeable=mergeable,
        mergeable_state=merge_status,
        merge_commit_sha=mr.get("merge_commit_sha") or mr.get("squash_commit_sha") or None,
        html_url=str(mr.get("web_url") or ""),
        labels=tuple(str(label) for label in mr.get("labels") or ()),
        requested_reviewers=tuple(username(user) for user in mr.get("reviewers") or ()),
    )


def to_changed_file(diff: Mapping[str, Any]) -> ChangedFile:
    if diff.get("new_file"):
        status = "added"
    elif diff.get("deleted_file"):
        status = "removed"
    elif diff.get("renamed_file"):
        status = "renamed"
    else:
        status = "modified"
    new_path = str(diff.get("new_path") or diff.get("old_path"))
    previous = str(diff.get("old_path")) if diff.get("renamed_file") else None
    return ChangedFile(filename=new_path, status=status, previous_filename=previous)


def to_comment(note: Mapping[str, Any], mr_url: str) -> Comment:
    return Comment(
        id=int(note["id"]),
        body=str(note.get("body") or ""),
        html_url=f"{mr_url}#note_{note['id']}",
        author=username(note.get("author")),
    )


def approvals_as_reviews(approvals: Mapping[str, Any], head_sha: str) -> tuple[Review, ...]:
    """GitLab's approvals as approving reviews at the head (GitLab resets approvals on new commits
    when the project asks it to; an approval it still lists stands for the current head)."""
    return tuple(
        Review(user=username(entry.get("user")), state=ReviewState.APPROVED, commit_id=head_sha)
        for entry in approvals.get("approved_by") or ()
        if isinstance(entry, Mapping)
    )
