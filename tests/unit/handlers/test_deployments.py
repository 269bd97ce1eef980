"""The deployments concern's handlers: ``deployments.comment`` (``/gitops rollback|promote|status``),
``deployments.pull_request_closed`` and ``deployments.alert_firing``. Each case here stops before
git (a revert or a recorded merge needs the repository: tests/integration/deployments)."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import func, select

from bot.storage.models import Analysis, Deployment
from tests.unit.handlers.conftest import MakeDriver
from tests.unit.handlers.driver import REPO, HandlerDriver, alertmanager, comment, pull_request

HANDLER = "deployments.comment"
COMMENT_ID = 2090011223
MERGE_SHA = "e5bd3914e2e596debea16f433f57875b5b90bcd6"
NO_DEPLOYMENTS = "version: 1\n"


def seed_deployment(driver: HandlerDriver, *, name: str = "chat-llm-staging", version: str = "1.2.3") -> None:
    with driver.services.database.transaction() as session:
        session.add(
            Deployment(
                repo=REPO,
                name=name,
                version=version,
                previous_version="1.2.2",
                pr_number=42,
                pr_url=f"https://github.com/{REPO}/pull/42",
                merge_commit_sha=MERGE_SHA,
                merged_at=datetime(2024, 5, 2, 10, 30, tzinfo=UTC),
                status="recorded",
            )
        )


def count(driver: HandlerDriver, model: type[Deployment] | type[Analysis]) -> int:
    with driver.services.database.sessions() as session:
        return int(session.scalar(select(func.count()).select_from(model)) or 0)


# -- deployments.comment ------------------------------------------------------------------------------


def test_status_is_open_to_anyone_and_gets_eyes_then_the_table(driver: HandlerDriver) -> None:
    seed_deployment(driver)
    driver.run(HANDLER, comment("/gitops status"))

    assert driver.forge.calls_to("permission_level") == []  # no permission needed
    assert [(r.comment_id, r.reaction) for r in driver.forge.reactions] == [(COMMENT_ID, "eyes")]
    (table,) = driver.forge.comment_bodies(REPO, 42)
    assert (
        "| `chat-llm-staging` | `1.2.3` ([#42](https://github.com/acme/gitops/pull/42)) | recorded |" in table
    )


def test_status_with_nothing_deployed_says_so(driver: HandlerDriver) -> None:
    driver.run(HANDLER, comment("/gitops status"))

    (body,) = driver.forge.comment_bodies(REPO, 42)
    assert body.endswith("**Deployments**\n\nNo deployment is recorded yet.")
    assert "**#42: Terraform plans**\n\nNone: comment `/gitops plan` to plan this pull request." in body
    assert "**#42: locks held:** none." in body and "**#42: canary analyses:** none" in body


def test_status_links_each_analysis_of_the_pull_request_to_the_console(make_driver: MakeDriver) -> None:
    driver = make_driver(public_url="https://gitops.example.com")
    seed_deployment(driver)
    with driver.services.database.transaction() as session:
        deployment = session.scalars(select(Deployment)).one()
        analysis = Analysis(deployment_id=deployment.id, status="failed", reason="error_rate", config={})
        session.add(analysis)
        session.flush()
        analysis_id = analysis.id
    driver.run(HANDLER, comment("/gitops status"))

    (body,) = driver.forge.comment_bodies(REPO, 42)
    url = f"https://gitops.example.com/analyses/{analysis_id}"
    assert f"**#42: canary analyses:** `chat-llm-staging` `1.2.3` [failed]({url})." in body
    assert (
        "**#42: Terraform plans** ([runs](https://gitops.example.com/runs?repo=acme%2Fgitops&pr=42))" in body
    )


def test_a_reader_may_not_roll_back_and_is_told_why(driver: HandlerDriver) -> None:
    seed_deployment(driver)
    driver.forge.set_permission(REPO, "bob", "read")
    driver.run(HANDLER, comment("/gitops rollback"))

    assert driver.forge.comment_bodies(REPO, 42) == [
        "@bob may not run `rollback` here: bob has read permission; this needs write permission or higher."
    ]
    assert driver.forge.reactions == []  # a refused command is never acknowledged
    (action,) = driver.actions("comment.rollback")
    assert action.outcome == "refused" and action.summary.startswith("refused /gitops rollback on #42")


def test_rollback_with_nothing_deployed_answers_with_the_reason(driver: HandlerDriver) -> None:
    driver.forge.set_permission(REPO, "bob", "write")
    driver.run(HANDLER, comment("/gitops rollback"))

    assert [(r.comment_id, r.reaction) for r in driver.forge.reactions] == [(COMMENT_ID, "eyes")]
    (answer,) = driver.forge.comment_bodies(REPO, 42)
    assert answer.startswith("Nothing to roll back:")
    (action,) = driver.actions("rollback.request")
    assert action.outcome == "refused" and action.summary == answer
    assert driver.forge.calls_to("open_or_update_pull_request") == []


def test_promote_with_nothing_merged_answers_with_the_reason(driver: HandlerDriver) -> None:
    driver.forge.set_permission(REPO, "bob", "maintain")
    driver.run(HANDLER, comment("/gitops promote"))

    assert len(driver.forge.reactions) == 1
    assert driver.forge.comment_bodies(REPO, 42) == [
        "Nothing to promote: #42 has no merged deployment recorded."
    ]


def test_in_dry_run_a_rollback_is_recorded_not_performed(make_driver: MakeDriver) -> None:
    driver = make_driver(dry_run=True)
    seed_deployment(driver)
    driver.forge.set_permission(REPO, "bob", "admin")
    driver.run(HANDLER, comment("/gitops rollback chat-llm-staging"))

    assert driver.forge.writes == []
    (action,) = driver.actions("comment.rollback")
    assert (action.outcome, action.dry_run) == ("dry_run", True)
    assert action.summary == "/gitops rollback on #42 (dry run: not performed)"


def test_terraform_commands_and_help_are_not_the_deployments_concern(driver: HandlerDriver) -> None:
    bodies = ("/gitops plan", "/gitops help", "/gitops rollbak", "/gitops status embedder", "atlantis unlock")
    for comment_id, body in enumerate(bodies, start=1):
        driver.run(HANDLER, comment(body, comment_id=comment_id))

    assert driver.forge.calls == []


def test_a_bots_comment_is_ignored(driver: HandlerDriver) -> None:
    driver.run(HANDLER, comment("/gitops rollback", login="gitops-bot[bot]", user_type="Bot"))

    assert driver.forge.calls == []


# -- deployments.pull_request_closed ---------------------------------------------------------------


def test_closed_without_merge_records_nothing(driver: HandlerDriver) -> None:
    driver.run("deployments.pull_request_closed", pull_request(action="closed", state="closed"))

    assert driver.forge.calls == [] and count(driver, Deployment) == 0


def test_a_merge_in_a_repository_without_deployments_records_nothing(make_driver: MakeDriver) -> None:
    driver = make_driver(config=NO_DEPLOYMENTS)
    driver.run("deployments.pull_request_closed", pull_request("github/pull_request.closed_merged.json"))

    assert [call.method for call in driver.forge.calls] == ["default_branch", "read_file"]  # the config
    assert count(driver, Deployment) == 0


def test_a_merge_outside_the_allowlist_is_ignored(make_driver: MakeDriver) -> None:
    driver = make_driver(config=NO_DEPLOYMENTS, repo_allowlist=["acme/other"])
    driver.run("deployments.pull_request_closed", pull_request("github/pull_request.closed_merged.json"))

    assert driver.forge.calls == []


# -- deployments.alert_firing ------------------------------------------------------------------------


def test_an_alert_for_a_deployment_without_a_canary_counts_against_nothing(driver: HandlerDriver) -> None:
    seed_deployment(driver)
    driver.run("deployments.alert_firing", alertmanager())

    assert driver.forge.calls == []
    assert count(driver, Analysis) == 0 and driver.actions() == []
