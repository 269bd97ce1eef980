"""Issues through the PyGithub adapter and the stand-in: one open issue per title, never a PR."""

from __future__ import annotations

from bot.adapters.forge.github import GitHubForge
from bot.adapters.forge.port import ChangeOutcome, IssueSpec
from tests.integration.adapters.forge.conftest import REPO
from tests.support.github_standin import GitHubStandIn


def test_open_update_find_and_close_an_issue(standin: GitHubStandIn, forge: GitHubForge) -> None:
    assert forge.find_open_issue(REPO, "Drift in staging") is None
    opened = forge.open_or_update_issue(REPO, IssueSpec("Drift in staging", "Plan: 1 to add."))
    assert opened.outcome is ChangeOutcome.CREATED
    assert opened.issue.state == "open" and opened.issue.html_url.endswith(f"/issues/{opened.issue.number}")

    same = forge.open_or_update_issue(REPO, IssueSpec("Drift in staging", "Plan: 1 to add."))
    assert (same.outcome, same.issue.number) == (ChangeOutcome.UNCHANGED, opened.issue.number)
    updated = forge.open_or_update_issue(REPO, IssueSpec("Drift in staging", "Plan: 2 to add."))
    assert (updated.outcome, updated.issue.body) == (ChangeOutcome.UPDATED, "Plan: 2 to add.")
    assert [issue.body for issue in standin.issues(REPO)] == ["Plan: 2 to add."]
    assert forge.find_open_issue(REPO, "Drift in staging") == updated.issue

    forge.close_issue(REPO, opened.issue.number, body="No drift any more.")
    (closed,) = standin.issues(REPO)
    assert (closed.state, closed.body) == ("closed", "No drift any more.")
    assert forge.find_open_issue(REPO, "Drift in staging") is None
    # A closed issue is not reopened: drift found again opens a new one.
    again = forge.open_or_update_issue(REPO, IssueSpec("Drift in staging", "Plan: 1 to add."))
    assert again.outcome is ChangeOutcome.CREATED and again.issue.number != opened.issue.number


def test_a_pull_request_with_the_title_is_not_the_issue(standin: GitHubStandIn, forge: GitHubForge) -> None:
    standin.commit(REPO, "drift-fix", {"README.md": "fixed\n"}, "fix")
    number = standin.open_pull_request(REPO, head="drift-fix", title="Drift in staging", user="dev")
    assert forge.find_open_issue(REPO, "Drift in staging") is None
    opened = forge.open_or_update_issue(REPO, IssueSpec("Drift in staging", "body"))
    assert opened.issue.number == number + 1  # issues and pull requests share one sequence
    assert standin.pull(REPO, number).title == "Drift in staging"


def test_issues_are_found_past_the_first_page(standin: GitHubStandIn, forge: GitHubForge) -> None:
    for index in range(35):
        forge.open_or_update_issue(REPO, IssueSpec(f"Other {index}", "x"))
    wanted = forge.open_or_update_issue(REPO, IssueSpec("Drift in prod", "y")).issue
    assert forge.find_open_issue(REPO, "Drift in prod") == wanted
