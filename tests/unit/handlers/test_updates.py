"""handlers/updates.py: image pushes and model versions become updates; bot pull requests are
settled when they close and automerged when their deployment asks for it."""

from __future__ import annotations

from sqlalchemy import select

from bot.storage.models import UpdateRequest
from tests.unit.handlers.conftest import MakeDriver
from tests.unit.handlers.driver import INSTALLATION, REPO, HandlerDriver, mlflow, pull_request, registry

BOT_BRANCH = "gitops-bot/chat-llm-staging-1.2.3"  # the head of the sample pull_request payloads
HEAD_SHA = "6dcb09b5b57875f334f61aebed695e2e4193db5e"
CONFIG = """\
version: 1
deployments:
  - name: chat-llm-staging
    trigger:
      image: {repository: registry.example.com/serving/chat-llm, tags: "semver:>=1.0.0,<2"}
    targets:
      - {file: apps/chat-llm/values-staging.yaml, key: image.tag}
    pull_request: {automerge: true}
  - name: embedder
    trigger:
      image: {repository: registry.example.com/serving/embedder}
    targets:
      - {file: apps/embedder/values.yaml, key: image.tag}
"""
VALUES = 'image:\n  repository: registry.example.com/serving/chat-llm\n  tag: "1.2.0"\n'


def seed_update(driver: HandlerDriver, *, deployment: str = "chat-llm-staging", status: str = "open") -> None:
    with driver.services.database.transaction() as session:
        session.add(
            UpdateRequest(
                repo=REPO,
                deployment=deployment,
                version="1.2.3",
                branch=BOT_BRANCH,
                status=status,
                pr_number=42,
                pr_url=f"https://github.com/{REPO}/pull/42",
                head_sha="0" * 40,
            )
        )


def update_rows(driver: HandlerDriver) -> list[tuple[str, str, str | None]]:
    with driver.services.database.sessions() as session:
        rows = session.scalars(select(UpdateRequest).order_by(UpdateRequest.id))
        return [(row.deployment, str(row.status), row.head_sha) for row in rows]


# -- updates.image_pushed / updates.model_version_created -----------------------------------------


def test_an_image_push_without_gitops_repositories_reads_nothing(driver: HandlerDriver) -> None:
    driver.run("updates.image_pushed", registry())

    assert driver.forge.calls == [] and driver.actions() == []


def test_a_gitops_repository_without_config_is_reported_in_the_audit_log(make_driver: MakeDriver) -> None:
    driver = make_driver(gitops_repos=[REPO])
    driver.run("updates.image_pushed", registry())

    (action,) = driver.actions("config.unusable")
    assert action.outcome == "refused"
    assert action.summary == f"{REPO} has no .gitops-bot.yaml on its default branch (main)"
    assert driver.forge.writes == []


def test_in_dry_run_a_matching_push_is_recorded_and_nothing_is_written(make_driver: MakeDriver) -> None:
    driver = make_driver(config=CONFIG, dry_run=True, gitops_repos=[REPO])
    driver.forge.add_files(REPO, {"apps/chat-llm/values-staging.yaml": VALUES})
    driver.run("updates.image_pushed", registry())

    assert driver.forge.writes == []
    assert [(deployment, status) for deployment, status, _ in update_rows(driver)] == [
        ("chat-llm-staging", "dry_run")
    ]
    (action,) = driver.actions("update.propose")
    assert (action.outcome, action.dry_run) == ("dry_run", True)
    assert "would open a pull request to deploy 1.2.3 to chat-llm-staging" in action.summary
    # The plan was made from the default branch's files, read through the forge.
    assert ("apps/chat-llm/values-staging.yaml", "main") in [
        (call["path"], call["ref"]) for call in driver.forge.calls_to("read_file")
    ]


def test_a_model_version_no_deployment_follows_changes_nothing(make_driver: MakeDriver) -> None:
    driver = make_driver(config=CONFIG, gitops_repos=[REPO])
    driver.run("updates.model_version_created", mlflow())

    assert driver.forge.writes == [] and update_rows(driver) == [] and driver.actions() == []


# -- updates.pull_request ---------------------------------------------------------------------------


def test_a_human_branch_is_not_the_updates_concern(driver: HandlerDriver) -> None:
    seed_update(driver)
    driver.run("updates.pull_request", pull_request(head_ref="feature/faster-tokenizer"))

    assert driver.jobs("updates.automerge") == []
    assert driver.forge.calls == []


def test_a_pull_request_from_a_fork_is_ignored(driver: HandlerDriver) -> None:
    driver.run(
        "updates.pull_request", pull_request("github/pull_request.opened_fork.json", head_ref=BOT_BRANCH)
    )

    assert driver.jobs("updates.automerge") == []


def test_an_opened_bot_pull_request_gets_an_automerge_check(driver: HandlerDriver) -> None:
    driver.run("updates.pull_request", pull_request())

    (job,) = driver.jobs("updates.automerge")
    assert job.payload == {"repo": REPO, "number": 42, "installation_id": INSTALLATION}
    assert driver.forge.calls == []


def test_closed_without_merge_settles_the_row_as_closed(driver: HandlerDriver) -> None:
    seed_update(driver)
    driver.run("updates.pull_request", pull_request(action="closed", state="closed"))

    assert update_rows(driver) == [("chat-llm-staging", "closed", HEAD_SHA)]
    assert driver.jobs("updates.automerge") == []


def test_merged_settles_the_row_as_merged(driver: HandlerDriver) -> None:
    seed_update(driver)
    driver.run("updates.pull_request", pull_request("github/pull_request.closed_merged.json"))

    assert [status for _, status, _ in update_rows(driver)] == ["merged"]


# -- updates.automerge --------------------------------------------------------------------------------

JOB = {"repo": REPO, "number": 42, "installation_id": INSTALLATION}


def test_automerge_merges_a_clean_pull_request_at_its_head(make_driver: MakeDriver) -> None:
    driver = make_driver(config=CONFIG)
    seed_update(driver)
    driver.forge.add_pull_request(REPO, 42, head_ref=BOT_BRANCH, mergeable_state="clean")
    driver.run("updates.automerge", payload=JOB)

    (merge,) = driver.forge.calls_to("merge_pull_request")
    assert merge["expected_head_sha"] == HEAD_SHA
    assert driver.forge.get_pull_request(REPO, 42).merged
    (action,) = driver.actions("update.automerge")
    assert action.outcome == "merged"
    assert action.summary == "Merged #42 (chat-llm-staging): required checks passed (clean)"


def test_automerge_waits_while_checks_run(make_driver: MakeDriver) -> None:
    driver = make_driver(config=CONFIG)
    seed_update(driver)
    driver.forge.add_pull_request(REPO, 42, head_ref=BOT_BRANCH, mergeable_state="blocked")
    driver.run("updates.automerge", payload=JOB)

    assert driver.forge.calls_to("get_pull_request") != []
    assert driver.forge.writes == [] and driver.actions() == []


def test_automerge_is_off_for_a_deployment_that_does_not_ask(make_driver: MakeDriver) -> None:
    driver = make_driver(config=CONFIG)
    seed_update(driver, deployment="embedder")
    driver.forge.add_pull_request(REPO, 42, head_ref=BOT_BRANCH)
    driver.run("updates.automerge", payload=JOB)

    assert driver.forge.calls_to("get_pull_request") == [] and driver.forge.writes == []


def test_automerge_does_nothing_in_dry_run(make_driver: MakeDriver) -> None:
    driver = make_driver(config=CONFIG, dry_run=True)
    seed_update(driver)
    driver.forge.add_pull_request(REPO, 42, head_ref=BOT_BRANCH)
    driver.run("updates.automerge", payload=JOB)

    assert driver.forge.calls == []
