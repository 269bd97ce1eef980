"""What the local forge tells the bot, as GitHub would by webhook: a pull request opened, updated,
merged or closed, a comment written. Each is a GitHub-shaped payload read by the same parser as a
real delivery (:func:`bot.events.github.parse_github`), stored with source ``local`` and routed to
the same handlers (:data:`bot.routing.FORGE_EVENT_ALIASES`), so the local loop is the real one.
"""

from __future__ import annotations

import dataclasses
import json
import uuid
import zlib
from collections.abc import Callable, Sequence
from typing import Any

from bot.events import ParsedEvent
from bot.events.github import parse_github

SOURCE = "local"
Sink = Callable[[Sequence[ParsedEvent]], object]


def _repository(repo: str, default_branch: str) -> dict[str, Any]:
    # One id per repository name: a branch of the same repository is never taken for a fork.
    return {"id": zlib.crc32(repo.encode()) % 2**31, "full_name": repo, "default_branch": default_branch}


def pull_request_payload(
    action: str, pull: Any, *, repo: str, default_branch: str, sender: str
) -> dict[str, Any]:
    """``pull``: a :class:`~bot.adapters.forge.port.PullRequest`."""
    repository = _repository(repo, default_branch)
    return {
        "action": action,
        "number": pull.number,
        "pull_request": {
            "number": pull.number,
            "title": pull.title,
            "user": {"login": pull.author},
            "head": {"sha": pull.head_sha, "ref": pull.head_ref, "repo": repository},
            "base": {"sha": pull.base_sha, "ref": pull.base_ref, "repo": repository},
            "merged": pull.merged,
            "merge_commit_sha": pull.merge_commit_sha,
            "draft": pull.draft,
            "labels": [{"name": label} for label in pull.labels],
            "html_url": pull.html_url,
        },
        "repository": repository,
        "sender": {"login": sender},
    }


def comment_payload(
    *, repo: str, number: int, comment_id: int, body: str, author: str, created_at: str, html_url: str
) -> dict[str, Any]:
    return {
        "action": "created",
        "issue": {"number": number, "pull_request": {"html_url": html_url}},
        "comment": {
            "id": comment_id,
            "url": html_url,
            "html_url": f"{html_url}#comment-{comment_id}",
            "user": {"login": author, "type": "User"},
            "author_association": "OWNER",
            "body": body,
            "created_at": created_at,
        },
        "repository": _repository(repo, "main"),
        "sender": {"login": author},
    }


def as_events(event: str, payload: dict[str, Any]) -> list[ParsedEvent]:
    """The payload as GitHub's parser reads it, stored as the local forge's."""
    headers = {
        "X-GitHub-Event": event,
        "X-GitHub-Delivery": f"local-{uuid.uuid4()}",
        "Content-Type": "application/json",
    }
    parsed = parse_github(headers, json.dumps(payload).encode())
    return [dataclasses.replace(item, source=SOURCE) for item in parsed]
