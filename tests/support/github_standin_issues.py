"""Plain issues for the GitHub stand-in (`github_standin`): list, create, read, edit and close.

GitHub numbers issues and pull requests from one sequence and lists pull requests among issues
(each with a ``pull_request`` key); the stand-in does the same, so a client that forgets to skip
pull requests is caught. Issue webhooks are not sent (the bot does not listen to them).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

MAX_TITLE_LENGTH = 256


@dataclass
class PlainIssue:
    number: int
    id: int
    repo: str
    title: str
    body: str
    user: str
    state: str = "open"
    closed_at: str | None = None
    created_at: str = ""
    updated_at: str = ""
    labels: list[str] = field(default_factory=list)


class IssuesMixin:
    """The issue routes of ``GitHubStandIn`` (which provides the state and helpers used here)."""

    _plain_issues: dict[tuple[str, int], PlainIssue]

    def issues(self, full_name: str) -> list[PlainIssue]:
        """Read-back: the repository's plain issues, oldest first."""
        with self._lock:  # type: ignore[attr-defined]
            name = self._repo(full_name).full_name  # type: ignore[attr-defined]
            return [issue for (repo, _), issue in sorted(self._plain_issues.items()) if repo == name]

    def _issue_routes(self, repo: str) -> list[tuple[str, str, Any]]:
        return [
            ("GET", rf"{repo}/issues", self._h_list_issues),
            ("POST", rf"{repo}/issues", self._h_create_issue),
            ("GET", rf"{repo}/issues/(?P<number>\d+)", self._h_get_issue),
            ("PATCH", rf"{repo}/issues/(?P<number>\d+)", self._h_edit_issue),
        ]

    def _plain_issue_json(self, issue: PlainIssue) -> dict[str, Any]:
        standin: Any = self
        url = f"{standin.base_url}/repos/{issue.repo}/issues/{issue.number}"
        repo = standin._repo(issue.repo)
        return {
            "url": url,
            "repository_url": f"{standin.base_url}/repos/{issue.repo}",
            "labels_url": f"{url}/labels{{/name}}",
            "comments_url": f"{url}/comments",
            "events_url": f"{url}/events",
            "html_url": f"{standin.html_base}/{issue.repo}/issues/{issue.number}",
            "id": issue.id,
            "node_id": f"I_{issue.id}",
            "number": issue.number,
            "title": issue.title,
            "body": issue.body,
            "user": standin._user_json(issue.user),
            "labels": [standin._label_json(repo, name) for name in issue.labels],
            "state": issue.state,
            "state_reason": "completed" if issue.state == "closed" else None,
            "locked": False,
            "assignee": None,
            "assignees": [],
            "milestone": None,
            "comments": 0,
            "created_at": issue.created_at,
            "updated_at": issue.updated_at,
            "closed_at": issue.closed_at,
            "author_association": standin._association(repo, issue.user),
        }

    def _h_list_issues(self, *, full_name: str, query: dict[str, list[str]], **_: Any) -> Any:
        standin: Any = self
        state = query.get("state", ["open"])[0]
        if state not in ("open", "closed", "all"):
            from tests.support.github_standin import validation

            raise validation("Issue", field_name="state", code="invalid")
        # Pull requests are issues too, numbered from the same sequence.
        entries: list[tuple[int, str, dict[str, Any]]] = [
            (issue.number, issue.state, self._plain_issue_json(issue))
            for (repo, _), issue in self._plain_issues.items()
            if repo == full_name
        ]
        entries += [
            (pull.number, pull.state, standin._issue_json(pull))
            for pull in standin._pulls.values()
            if pull.repo == full_name
        ]
        chosen = [entry for entry in entries if state == "all" or entry[1] == state]
        descending = query.get("direction", ["desc"])[0] != "asc"
        chosen.sort(key=lambda entry: entry[0], reverse=descending)
        return standin._paginate([data for _, _, data in chosen], query, f"/repos/{full_name}/issues")

    def _h_create_issue(self, *, full_name: str, body: Any, identity: Any, **_: Any) -> Any:
        from tests.support.github_standin import MAX_BODY_LENGTH, _now, validation

        standin: Any = self
        title = body.get("title") if isinstance(body, dict) else None
        if not isinstance(title, str) or not title.strip() or len(title) > MAX_TITLE_LENGTH:
            raise validation("Issue", field_name="title", code="missing_field")
        text = str(body.get("body") or "")
        if len(text) > MAX_BODY_LENGTH:
            raise validation("Issue", field_name="body", code="custom", message="body is too long")
        number = standin._issue_numbers.get(full_name, 0) + 1
        standin._issue_numbers[full_name] = number
        now = _now()
        issue = PlainIssue(
            number, next(standin._ids), full_name, title, text, identity.login, "open", None, now, now
        )
        self._plain_issues[(full_name, number)] = issue
        data = self._plain_issue_json(issue)
        return 201, data, {"Location": data["url"]}

    def _plain_issue(self, full_name: str, number: str) -> PlainIssue:
        from tests.support.github_standin import not_found

        issue = self._plain_issues.get((full_name, int(number)))
        if issue is None:
            raise not_found()
        return issue

    def _h_get_issue(self, *, full_name: str, number: str, **_: Any) -> Any:
        standin: Any = self
        pull = standin._pulls.get((full_name, int(number)))
        if pull is not None:
            return 200, standin._issue_json(pull), {}
        return 200, self._plain_issue_json(self._plain_issue(full_name, number)), {}

    def _h_edit_issue(self, *, full_name: str, number: str, body: Any, **_: Any) -> Any:
        from tests.support.github_standin import MAX_BODY_LENGTH, _now, validation

        issue = self._plain_issue(full_name, number)  # editing a PR through /issues is not served
        changes = body if isinstance(body, dict) else {}
        if "state" in changes and changes["state"] not in ("open", "closed"):
            raise validation("Issue", field_name="state", code="invalid")
        if "title" in changes and (not isinstance(changes["title"], str) or not changes["title"].strip()):
            raise validation("Issue", field_name="title", code="missing_field")
        if len(str(changes.get("body") or "")) > MAX_BODY_LENGTH:
            raise validation("Issue", field_name="body", code="custom", message="body is too long")
        issue.title = changes.get("title", issue.title)
        issue.body = str(changes.get("body", issue.body) or "")
        if changes.get("state") == "closed" and issue.state != "closed":
            issue.closed_at = _now()
        elif changes.get("state") == "open":
            issue.closed_at = None
        issue.state = changes.get("state", issue.state)
        issue.updated_at = _now()
        return 200, self._plain_issue_json(issue), {}
