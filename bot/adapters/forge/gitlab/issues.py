"""The bot's issues on GitLab: one open issue per title (never a merge request)."""

from __future__ import annotations

from typing import Any

from bot.adapters.forge.port import ChangeOutcome, Issue, IssueChange, IssueSpec


def to_issue(data: dict[str, Any]) -> Issue:
    return Issue(
        number=int(data["iid"]),
        title=str(data.get("title") or ""),
        body=str(data.get("description") or ""),
        state="open" if data.get("state") == "opened" else "closed",
        html_url=str(data.get("web_url") or ""),
    )


def find_open(project: Any, title: str) -> Issue | None:
    listed = project.issues.list(
        state="opened", search=title, order_by="created_at", sort="asc", iterator=True, **{"in": "title"}
    )
    for issue in listed:
        if issue.title == title:
            return to_issue(issue.attributes)
    return None


def open_or_update(project: Any, spec: IssueSpec) -> IssueChange:
    found = find_open(project, spec.title)
    if found is None:
        created = project.issues.create({"title": spec.title, "description": spec.body})
        return IssueChange(to_issue(created.attributes), ChangeOutcome.CREATED)
    if found.body == spec.body:
        return IssueChange(found, ChangeOutcome.UNCHANGED)
    updated = project.issues.update(found.number, {"description": spec.body})
    return IssueChange(to_issue(updated), ChangeOutcome.UPDATED)


def close(project: Any, number: int, body: str | None) -> None:
    data: dict[str, Any] = {"state_event": "close"}
    if body is not None:
        data["description"] = body
    project.issues.update(int(number), data)
