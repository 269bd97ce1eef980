"""What a deployment's page (``/deployments/{owner}/{repo}/{name}``) shows, decided without I/O: its
version history as git tells it (each merge, revert and promotion with its pull request), and its
promotion chain as a timeline (staging → prod: what each stage runs, what is on its way).

Git is the truth: the history is the commits of the default branch that changed the deployment's
target files, each with the version written in them (read by the caller from git, with the same
reading a merge is recorded with), kept when the version changed. What the bot knows of a commit
(its recorded deployment and canary state, which of its pull requests promoted a version) is
handed in from the database.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from bot.console.overview_view import Row
from bot.deployments.plan import REVERT_BRANCH_PREFIX

_MERGE = re.compile(r"^Merge pull request #(?P<number>\d{1,10}) from (?P<head>\S+)$")
_SQUASH = re.compile(r"^(?P<title>.*) \(#(?P<number>\d{1,10})\)$")
# GitLab's default merge commit: "Merge branch 'src' into 'main'", the title, "See merge request g/p!N".
_GITLAB_MERGE = re.compile(r"^Merge branch '(?P<head>[^']{1,255})' into '[^']{1,255}'$")
_GITLAB_REFERENCE = re.compile(r"^See merge request \S*!(?P<number>\d{1,10})\s*$", re.MULTILINE)


@dataclass(frozen=True)
class Commit:
    """A commit of the default branch that changed a target file, and the version it left there."""

    sha: str
    author: str
    at: datetime
    subject: str
    body: str
    version: str | None  # None: no target holds a version at this commit
    digest: str | None = None


@dataclass(frozen=True)
class Recorded:
    """What the bot recorded for a merge commit: the deployment row and its analysis."""

    deployment_id: int
    status: str
    analysis_id: int | None = None
    pr_url: str | None = None


@dataclass(frozen=True)
class Known:
    """What the database says about the commits' pull requests."""

    recorded: Mapping[str, Recorded]  # by merge commit sha
    promotions: frozenset[int] = frozenset()  # the bot's promotion pull requests
    pull_urls: Mapping[int, str] = field(default_factory=dict)  # the bot's pull requests' addresses

    def url(self, number: int) -> str | None:
        return self.pull_urls.get(number)


@dataclass(frozen=True)
class Merged:
    """How a commit came to the default branch: its pull request, branch and title, when known."""

    title: str
    number: int | None
    branch: str | None


def merged_from(subject: str, body: str) -> Merged:
    """GitHub's merge (``Merge pull request #N from owner/branch`` + the title as the body), squash
    and rebase (``title (#N)``) messages, GitLab's merge (``Merge branch 'b' into 'main'``, the title,
    ``See merge request group/project!N``); anything else is a commit pushed as it is."""
    merge = _MERGE.match(subject)
    if merge:
        head = merge["head"]
        branch = head.split("/", 1)[1] if "/" in head else head
        title = body.strip().splitlines()[0].strip() if body.strip() else subject
        return Merged(title, int(merge["number"]), branch)
    squash = _SQUASH.match(subject)
    if squash:
        return Merged(squash["title"], int(squash["number"]), None)
    gitlab = _GITLAB_MERGE.match(subject)
    if gitlab:
        reference = _GITLAB_REFERENCE.search(body)
        lines = [line.strip() for line in body.strip().splitlines() if line.strip()]
        title = lines[0] if lines and not _GITLAB_REFERENCE.match(lines[0]) else subject
        return Merged(title, int(reference["number"]) if reference else None, gitlab["head"])
    return Merged(subject, None, None)


def change_kind(deployment: str, merged: Merged, promotions: frozenset[int]) -> str:
    """``revert``, ``promotion``, ``update`` (the bot's version bump), ``pull request`` (a person's)
    or ``commit`` (pushed without a pull request)."""
    branch = merged.branch or ""
    if branch.startswith(REVERT_BRANCH_PREFIX) or merged.title.startswith('Revert "'):
        return "revert"
    if merged.number is not None and merged.number in promotions:
        return "promotion"
    if branch.startswith(f"gitops-bot/{deployment}/"):
        return "update"
    return "pull request" if merged.number is not None else "commit"


@dataclass(frozen=True)
class Entry:
    """One version change in the history."""

    sha: str
    at: datetime
    author: str
    title: str
    kind: str
    version: str | None
    previous_version: str | None
    pr_number: int | None
    pr_url: str | None
    recorded: Recorded | None

    @property
    def short(self) -> str:
        return self.sha[:10]

    def to_json(self) -> dict[str, Any]:
        recorded = self.recorded
        return {
            "sha": self.sha,
            "at": self.at.isoformat(),
            "author": self.author,
            "title": self.title,
            "kind": self.kind,
            "version": self.version,
            "previous_version": self.previous_version,
            "pull_request": None
            if self.pr_number is None
            else {"number": self.pr_number, "url": self.pr_url},
            "deployment_id": recorded.deployment_id if recorded else None,
            "status": recorded.status if recorded else None,
            "analysis_id": recorded.analysis_id if recorded else None,
        }


def history(
    deployment: str,
    commits: Sequence[Commit],
    before_oldest: tuple[str | None, str | None],
    known: Known,
    pull_url: str,
) -> list[Entry]:
    """The commits (newest first) that changed the version or its digest, as entries.

    ``before_oldest``: (version, digest) at the oldest commit's parent. Between two commits of a
    path-limited first-parent log nothing changed the files, so each commit's "before" is the
    next older one's "after". ``pull_url``: the forge's pull request address, ``{number}`` in it."""
    entries: list[Entry] = []
    for position, commit in enumerate(commits):
        older = commits[position + 1] if position + 1 < len(commits) else None
        was = (older.version, older.digest) if older is not None else before_oldest
        if (commit.version, commit.digest) == was or commit.version is None:
            continue
        merged = merged_from(commit.subject, commit.body)
        recorded = known.recorded.get(commit.sha)
        url = None
        if merged.number is not None:
            url = known.url(merged.number) or (recorded.pr_url if recorded else None)
            url = url or pull_url.format(number=merged.number)
        entries.append(
            Entry(
                sha=commit.sha,
                at=commit.at,
                author=commit.author,
                title=merged.title,
                kind=change_kind(deployment, merged, known.promotions),
                version=commit.version,
                previous_version=was[0],
                pr_number=merged.number,
                pr_url=url,
                recorded=recorded,
            )
        )
    return entries


# --------------------------------------------------------------------------- the promotion chain


@dataclass(frozen=True)
class Stage:
    """One deployment of the chain, as the timeline shows it."""

    row: Row
    current: bool  # the page's own deployment
    relation: str  # first | same | waiting | differs | empty
    note: str


def stage_note(row: Row, previous: Row | None) -> tuple[str, str]:
    """How a stage stands against the one before it: (relation, sentence)."""
    if previous is None:
        return "first", "first stage"
    source = previous.version
    if row.version is None and source is None:
        return "empty", f"nothing deployed yet; promoted from {previous.member.name}"
    if source is not None and row.version == source:
        return "same", f"runs what {previous.member.name} runs"
    waiting = [pull for pull in row.facts.pulls if pull.version == source]
    if source is not None and waiting:
        return "waiting", f"promotion of {source} from {previous.member.name} open as #{waiting[0].number}"
    if source is None:
        return "differs", f"{previous.member.name} runs nothing yet"
    return "differs", f"{previous.member.name} runs {source}"


def timeline(rows: Sequence[Row], name: str) -> list[Stage]:
    """The chain's stages in order (``rows`` as the group lists them, first stage first)."""
    stages: list[Stage] = []
    previous: Row | None = None
    for row in rows:
        relation, note = stage_note(row, previous)
        stages.append(Stage(row, row.member.name == name, relation, note))
        previous = row
    return stages


def stage_json(stage: Stage) -> dict[str, Any]:
    row = stage.row
    return {
        "name": row.member.name,
        "environment": row.environment,
        "version": row.version,
        "state": row.state.name,
        "relation": stage.relation,
        "note": stage.note,
        "open_pull_requests": [
            {"number": p.number, "url": p.url, "version": p.version} for p in row.facts.pulls
        ],
        "href": row.href,
    }


__all__ = [
    "Commit",
    "Entry",
    "Known",
    "Merged",
    "Recorded",
    "Stage",
    "change_kind",
    "history",
    "merged_from",
    "stage_json",
    "stage_note",
    "timeline",
]
