"""Issues over PyGithub: GitHub lists pull requests among issues, so every look-up skips them."""

from __future__ import annotations

from typing import Any

from bot.adapters.forge.port import ChangeOutcome, Issue, IssueChange, IssueSpec


def to_issue(issue: Any) -> Issue:
    return Issue(
        number=issue.number,
        title=issue.title or "",
        body=issue.body or "",
        state=issue.state,
        html_url=issue.html_url,
    )


def find_open(repository: Any, title: str) -> Any | None:
    """The oldest open issue titled ``title`` (the REST list is newest first by default)."""
    for issue in repository.get_issues(state="open", sort="created", direction="asc"):
        # Title first: reading a missing `pull_request` of a listed issue fetches the issue again.
        if issue.title == title and issue.pull_request is None:
            return issue
    return None


def open_or_update(repository: Any, spec: IssueSpec) -> IssueChange:
    existing = find_open(repository, spec.title)
    if existing is None:
        created = repository.create_issue(title=spec.title, body=spec.body)
        return IssueChange(to_issue(created), ChangeOutcome.CREATED)
    if (existing.body or "") == spec.body:
        return IssueChange(to_issue(existing), ChangeOutcome.UNCHANGED)
    existing.edit(body=spec.body)
    return IssueChange(to_issue(existing), ChangeOutcome.UPDATED)


def close(repository: Any, number: int, body: str | None) -> None:
    issue = repository.get_issue(number)
    if body is None:
        issue.edit(state="closed")
    else:
        issue.edit(state="closed", body=body)
