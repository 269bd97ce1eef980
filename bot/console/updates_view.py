"""``/updates``, decided: every deployment's version updates, grouped the way an on-call engineer
asks about them (a Dependency Dashboard, per deployment). Pure: rows in, rows out.

For each deployment: what runs now; the bot's open pull requests (proposed); the versions it
refused and why, in one of a few words (policy, quarantine, backwards, pending, target,
invalid); and what became of earlier pull requests (merged, superseded and by what, closed,
decided in dry run). Deployments with something to look at come first: the newest activity
first, then the ones nothing happened to, in config order.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from bot.console.overview_view import Configured, Newest, deployment_path
from bot.pagination import Cursor, PageRequest

# How many earlier updates and refusals each deployment shows; the audit log has them all.
KEEP_PER_STATE = 10
NEVER = datetime(1970, 1, 1, tzinfo=UTC)
# ``NoUpdate.code`` (bot.updates.plan) → the word the page files a refusal under.
REFUSAL_CATEGORIES: Mapping[str, str] = {
    "no_match": "policy",
    "quarantined": "quarantine",
    "not_newer_than_quarantined": "quarantine",
    "older_than_current": "backwards",
    "newer_pending": "pending",
    "bad_target": "target",
    "missing_file": "target",
    "unusable_file": "target",
    "invalid_version": "invalid",
    "invalid_digest": "invalid",
}
HISTORY_STATES: tuple[str, ...] = ("merged", "superseded", "closed", "dry_run")


@dataclass(frozen=True)
class UpdateRow:
    """An ``update_requests`` row: a pull request the bot opened (or decided to, in dry run)."""

    id: int
    repo: str
    deployment: str
    version: str
    status: str
    updated_at: datetime
    digest: str | None = None
    pr_number: int | None = None
    pr_url: str | None = None
    requested_by: str | None = None
    superseded_by: int | None = None


@dataclass(frozen=True)
class Refusal:
    """An ``update.propose`` audit row the bot refused."""

    id: int
    repo: str
    deployment: str
    version: str
    at: datetime
    code: str
    reason: str
    actor: str

    @property
    def category(self) -> str:
        return REFUSAL_CATEGORIES.get(self.code, "other")


@dataclass
class DeploymentUpdates:
    repo: str
    name: str
    index: int
    current: str | None = None
    previous: str | None = None
    proposed: list[UpdateRow] = field(default_factory=list)
    refused: list[Refusal] = field(default_factory=list)
    history: dict[str, list[UpdateRow]] = field(default_factory=lambda: defaultdict(list))
    last_activity: datetime = NEVER

    @property
    def key(self) -> tuple[str, str]:
        return self.repo, self.name


def refusal_target(target: str | None) -> tuple[str, str] | None:
    """``chat@1.4.0`` (``UpdateAsk.target``) → (deployment, version)."""
    deployment, at, version = (target or "").rpartition("@")
    return (deployment, version) if at and deployment and version else None


def _touch(entry: DeploymentUpdates, at: datetime) -> None:
    entry.last_activity = max(entry.last_activity, at)


def dashboard(
    configured: Iterable[Configured],
    newest: Iterable[Newest],
    updates: Iterable[UpdateRow],
    refusals: Iterable[Refusal],
    *,
    keep: int = KEEP_PER_STATE,
) -> list[DeploymentUpdates]:
    """Every deployment (configured, or known from a merge or an update), its updates filed by
    state, newest first within each; ordered by last activity, then config order."""
    entries: dict[tuple[str, str], DeploymentUpdates] = {}

    def entry(repo: str, name: str) -> DeploymentUpdates:
        return entries.setdefault((repo, name), DeploymentUpdates(repo, name, index=10_000 + len(entries)))

    for item in configured:
        entries.setdefault((item.repo, item.name), DeploymentUpdates(item.repo, item.name, item.index))
    for row in newest:
        found = entry(row.repo, row.name)
        found.current, found.previous = row.version, row.previous_version
    for update in sorted(updates, key=lambda u: (u.updated_at, u.id), reverse=True):
        found = entry(update.repo, update.deployment)
        _touch(found, update.updated_at)
        if update.status == "open":
            found.proposed.append(update)
        elif len(found.history[update.status]) < keep:
            found.history[update.status].append(update)
    for refusal in sorted(refusals, key=lambda r: (r.at, r.id), reverse=True):
        found = entry(refusal.repo, refusal.deployment)
        _touch(found, refusal.at)
        if len(found.refused) < keep:
            found.refused.append(refusal)
    return sorted(entries.values(), key=lambda e: (-e.last_activity.timestamp(), e.repo, e.index))


def page_of(
    entries: Sequence[DeploymentUpdates], page: PageRequest
) -> tuple[list[DeploymentUpdates], Cursor | None]:
    """One page of deployments: the cursor is the last one's place in the (stable) order."""
    start = 0
    if page.after is not None:
        start = page.after.id
    shown = list(entries[start : start + page.limit])
    more = start + page.limit < len(entries)
    return shown, Cursor(shown[-1].last_activity, start + len(shown)) if more and shown else None


def _update_json(row: UpdateRow, versions: Mapping[int, str]) -> dict[str, Any]:
    return {
        "version": row.version,
        "digest": row.digest,
        "state": row.status,
        "pull_request": {"number": row.pr_number, "url": row.pr_url} if row.pr_number else None,
        "requested_by": row.requested_by,
        "superseded_by": versions.get(row.superseded_by) if row.superseded_by else None,
        "at": row.updated_at.isoformat(),
    }


def _refusal_json(refusal: Refusal) -> dict[str, Any]:
    return {
        "version": refusal.version,
        "category": refusal.category,
        "code": refusal.code,
        "reason": refusal.reason,
        "asked_by": refusal.actor,
        "at": refusal.at.isoformat(),
    }


def entry_json(entry: DeploymentUpdates, versions: Mapping[int, str]) -> dict[str, Any]:
    """One deployment's updates as ``/api/updates`` answers them."""
    return {
        "repo": entry.repo,
        "deployment": entry.name,
        "path": deployment_path(entry.repo, entry.name),
        "current_version": entry.current,
        "previous_version": entry.previous,
        "proposed": [_update_json(row, versions) for row in entry.proposed],
        "refused": [_refusal_json(refusal) for refusal in entry.refused],
        **{
            state: [_update_json(row, versions) for row in entry.history.get(state, [])]
            for state in HISTORY_STATES
        },
        "last_activity": entry.last_activity.isoformat() if entry.last_activity != NEVER else None,
    }
