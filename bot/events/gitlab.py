"""GitLab webhooks → ``ParsedEvent``, in the forge-neutral words the handlers know.

GitLab names its hooks by ``X-Gitlab-Event`` ("Merge Request Hook", "Note Hook", "Push Hook",
"Pipeline Hook"); this parser turns them into the events GitHub's parser returns, so the same
handlers act on both (:data:`bot.routing.FORGE_EVENT_ALIASES`):

* a merge request hook is a ``pull_request`` event; GitLab's actions become GitHub's (``open`` →
  ``opened``, ``merge`` → ``closed`` with ``merged``, ``update`` with new commits → ``synchronize``,
  a draft marked ready → ``ready_for_review``, new labels → ``labeled``, other updates → ``edited``;
  ``approved``/``unapproved`` keep their names);
* a note on a merge request is an ``issue_comment`` ``created`` (a system note, written by GitLab
  itself, and notes on issues, commits and snippets are ignored);
* a push hook is a ``push`` (GitLab lists at most 20 commits: past that the changed files are partial);
* a pipeline hook for a merge request that finished is GitLab's own ``pipeline`` event.

Every project is named ``gitlab:<path_with_namespace>``. A delivery is identified by
``X-Gitlab-Event-UUID`` and deduplicated by ``Idempotency-Key`` (the same on GitLab's retries) when
sent; a note by its id, so a replayed note never runs its command twice.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

from bot.adapters.forge.names import gitlab_name
from bot.events.fields import (
    load_json_object,
    lower_keys,
    optional_bool,
    optional_int,
    optional_list,
    optional_object,
    optional_str,
    parse_time,
    require_int,
    require_object,
    require_str,
)
from bot.events.images import bounded_key
from bot.events.model import (
    MalformedEvent,
    ParsedEvent,
    PipelineFinished,
    PullRequestChanged,
    PullRequestComment,
    Push,
)

SOURCE = "gitlab"
# GitLab includes at most this many commits in a push hook (``total_commits_count`` has them all).
PUSH_COMMIT_LIMIT = 20
ZERO_SHA = "0" * 40
FINISHED_PIPELINE = frozenset({"success", "failed", "canceled", "skipped"})
# Project and group access tokens act as bot users named project_<id>_bot_<hash> / group_<id>_bot_<hash>.
_TOKEN_BOT_USER = re.compile(r"^(?:project|group)_\d+_bot(?:_[0-9a-f]+)?$")

_HOOKS = {
    "merge request hook": "pull_request",
    "note hook": "issue_comment",
    "push hook": "push",
    "pipeline hook": "pipeline",
}
_MR_ACTIONS = {"open": "opened", "reopen": "reopened", "close": "closed", "merge": "closed"}


def parse_gitlab(headers: Mapping[str, str], body: bytes) -> list[ParsedEvent]:
    """Parse one verified GitLab delivery. ``headers`` may use any letter case."""
    lowered = lower_keys(headers)
    hook = lowered.get("x-gitlab-event", "").strip()
    if not hook:
        raise MalformedEvent("GitLab request has no X-Gitlab-Event header")
    idempotency = lowered.get("idempotency-key", "").strip()
    delivery_id = lowered.get("x-gitlab-event-uuid", "").strip() or idempotency
    if not delivery_id:
        raise MalformedEvent(
            "GitLab request has neither an X-Gitlab-Event-UUID nor an Idempotency-Key header"
        )
    payload = load_json_object(body, "GitLab webhook body")
    event = _HOOKS.get(hook.lower())
    dedupe = bounded_key(f"gitlab:{idempotency}") if idempotency else delivery_id

    def parsed(name: str, action: str | None, domain: Any, reason: str | None, key: str) -> list[ParsedEvent]:
        return [
            ParsedEvent(
                source=SOURCE,
                event=name,
                action=action,
                delivery_id=delivery_id,
                dedupe_key=key,
                payload=payload,
                domain=domain,
                ignored_reason=reason,
            )
        ]

    if event is None:
        return parsed(_slug(hook), None, None, f"GitLab '{hook}' events are not acted on", dedupe)
    build = _BUILDERS[event]
    action, outcome, key = build(payload)
    if isinstance(outcome, str):
        return parsed(event, action, None, outcome, key or dedupe)
    return parsed(event, action, outcome, None, key or dedupe)


def _iso_time(value: object) -> object:
    """GitLab's hooks write times as ``2015-05-17 18:21:36 UTC`` as well as ISO 8601."""
    if isinstance(value, str) and value.endswith(" UTC"):
        return value[: -len(" UTC")].replace(" ", "T") + "Z"
    return value


def _slug(hook: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", hook.lower()).strip("_") or "unknown"


def _project_name(payload: Mapping[str, Any], where: str) -> tuple[str, dict[str, Any]]:
    project = require_object(payload, "project", where)
    return gitlab_name(require_str(project, "path_with_namespace", f"{where}: project")), project


def _username(payload: Mapping[str, Any], where: str) -> str:
    user = optional_object(payload, "user", where)
    if user is None:
        return optional_str(payload, "user_username", where) or "ghost"
    return optional_str(user, "username", f"{where}: user") or "ghost"


Built = tuple[str | None, Any, str | None]  # (action, domain event or why ignored, dedupe key)


def _merge_request(payload: Mapping[str, Any]) -> Built:
    where = "merge request hook"
    attributes = require_object(payload, "object_attributes", where)
    at = f"{where}: object_attributes"
    gitlab_action = optional_str(attributes, "action", at) or "update"
    action = _mr_action(gitlab_action, attributes, optional_object(payload, "changes", where) or {})
    repo, project = _project_name(payload, where)
    source = optional_object(attributes, "source", at)
    target = optional_object(attributes, "target", at) or project
    source_id = optional_int(attributes, "source_project_id", at)
    target_id = optional_int(attributes, "target_project_id", at)
    head_repo = (
        gitlab_name(str(source["path_with_namespace"]))
        if source and isinstance(source.get("path_with_namespace"), str)
        else (repo if source_id == target_id else None)
    )
    last_commit = optional_object(attributes, "last_commit", at) or {}
    labels = optional_list(attributes, "labels", at) or optional_list(payload, "labels", where)
    state = optional_str(attributes, "state", at) or ""
    return (
        action,
        PullRequestChanged(
            action=action,
            repo=repo,
            number=require_int(attributes, "iid", at),
            title=optional_str(attributes, "title", at) or "",
            author=_username(payload, where),
            head_sha=str(last_commit.get("id") or ""),
            head_ref=require_str(attributes, "source_branch", at),
            head_repo=head_repo,
            base_ref=require_str(attributes, "target_branch", at),
            base_sha="",
            is_fork=source_id is not None and target_id is not None and source_id != target_id,
            merged=gitlab_action == "merge" or state == "merged",
            merge_commit_sha=optional_str(attributes, "merge_commit_sha", at),
            draft=optional_bool(attributes, "draft", at) or optional_bool(attributes, "work_in_progress", at),
            labels=tuple(str(label.get("title")) for label in labels if isinstance(label, dict)),
            html_url=optional_str(attributes, "url", at) or "",
            default_branch=optional_str(target, "default_branch", f"{where}: target"),
        ),
        None,
    )


def _mr_action(action: str, attributes: Mapping[str, Any], changes: Mapping[str, Any]) -> str:
    if action in _MR_ACTIONS:
        return _MR_ACTIONS[action]
    if action != "update":
        return action  # approved, unapproved, approval, unapproval
    if attributes.get("oldrev"):
        return "synchronize"  # new commits on the source branch
    draft = changes.get("draft") if isinstance(changes.get("draft"), dict) else None
    if draft is not None and draft.get("previous") and not draft.get("current"):
        return "ready_for_review"
    if "labels" in changes:
        return "labeled"
    return "edited"


def _note(payload: Mapping[str, Any]) -> Built:
    where = "note hook"
    attributes = require_object(payload, "object_attributes", where)
    at = f"{where}: object_attributes"
    note_id = require_int(attributes, "id", at)
    repo, _ = _project_name(payload, where)
    key = bounded_key(f"issue_comment:{repo}:{note_id}:created")
    note_action = optional_str(attributes, "action", at) or "create"
    if note_action != "create":
        return "created", f"note action '{note_action}' is not acted on (only 'create')", None
    if attributes.get("noteable_type") != "MergeRequest":
        return "created", "note is not on a merge request", key
    if optional_bool(attributes, "system", at):
        return "created", "a system note (written by GitLab), not a person's comment", key
    merge_request = require_object(payload, "merge_request", where)
    author = _username(payload, where)
    url = optional_str(attributes, "url", at) or ""
    return (
        "created",
        PullRequestComment(
            repo=repo,
            pr_number=require_int(merge_request, "iid", f"{where}: merge_request"),
            comment_id=note_id,
            comment_url=url,
            html_url=url,
            author=author,
            author_type="Bot" if _TOKEN_BOT_USER.match(author) else "User",
            author_association="NONE",
            body=require_str(attributes, "note", at, allow_empty=True),
            created_at=parse_time(_iso_time(attributes.get("created_at")), f"{at}.created_at"),
        ),
        key,
    )


def _push(payload: Mapping[str, Any]) -> Built:
    where = "push hook"
    repo, project = _project_name(payload, where)
    before = require_str(payload, "before", where)
    after = require_str(payload, "after", where)
    commits = [commit for commit in optional_list(payload, "commits", where) if isinstance(commit, dict)]
    total = optional_int(payload, "total_commits_count", where)
    files: dict[str, None] = {}
    for commit in commits:
        for kind in ("added", "modified", "removed"):
            for path in commit.get(kind) or ():
                if isinstance(path, str):
                    files[path] = None
    return (
        None,
        Push(
            repo=repo,
            ref=require_str(payload, "ref", where),
            before=before,
            after=after,
            default_branch=optional_str(project, "default_branch", f"{where}: project"),
            pusher=optional_str(payload, "user_username", where),
            changed_files=tuple(files),
            changed_files_complete=total is None or total <= len(commits) <= PUSH_COMMIT_LIMIT,
            deleted=after == ZERO_SHA,
            created=before == ZERO_SHA,
        ),
        None,
    )


def _pipeline(payload: Mapping[str, Any]) -> Built:
    where = "pipeline hook"
    attributes = require_object(payload, "object_attributes", where)
    at = f"{where}: object_attributes"
    status = require_str(attributes, "status", at)
    repo, _ = _project_name(payload, where)
    merge_request = optional_object(payload, "merge_request", where)
    if status not in FINISHED_PIPELINE:
        return status, f"pipeline is {status}, not finished", None
    if merge_request is None:
        return status, "pipeline is not for a merge request", None
    return (
        status,
        PipelineFinished(
            repo=repo,
            status=status,
            sha=require_str(attributes, "sha", at),
            ref=optional_str(attributes, "ref", at),
            merge_request=require_int(merge_request, "iid", f"{where}: merge_request"),
        ),
        None,
    )


_BUILDERS: dict[str, Callable[[Mapping[str, Any]], Built]] = {
    "pull_request": _merge_request,
    "issue_comment": _note,
    "push": _push,
    "pipeline": _pipeline,
}
