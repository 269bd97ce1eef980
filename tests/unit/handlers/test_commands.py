"""``terraform.comment`` (handlers/commands.py): help, usage, refusals and the accepted unlock."""

from __future__ import annotations

import pytest

from bot.terraform.locks import LockKey
from tests.unit.handlers.conftest import MakeDriver
from tests.unit.handlers.driver import REPO, HandlerDriver, comment

HANDLER = "terraform.comment"
COMMENT_ID = 2090011223  # the sample comment's id
PERMISSIONS = """\
version: 1
permissions:
  unlock: [team:sre]
"""


def test_help_is_answered_with_the_help_text(driver: HandlerDriver) -> None:
    driver.run(HANDLER, comment("/gitops help"))

    (reply,) = driver.forge.comment_bodies(REPO, 42)
    assert "Usage:\n  /gitops <command> [options] -- [terraform options]" in reply
    assert "/gitops apply -d . -w staging" in reply
    # Help needs no permission and gets no 👀: it is the answer itself.
    assert [call.method for call in driver.forge.calls] == ["create_comment"]


def test_atlantis_help_names_atlantis(driver: HandlerDriver) -> None:
    driver.run(HANDLER, comment("atlantis help"))

    (reply,) = driver.forge.comment_bodies(REPO, 42)
    assert "atlantis <command> [options]" in reply


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("/gitops plan --bogus", ["Error: unknown flag: --bogus.", "Usage of plan:"]),
        ("/gitops plna", ['Error: unknown command "plna".', "Run '/gitops --help' for usage."]),
        ("/gitops apply -h", ["Usage of apply:"]),
        ("terraform plan", ["Did you mean to use `/gitops` (or `atlantis`) instead of `terraform`?"]),
    ],
)
def test_a_usage_mistake_is_answered_with_the_usage(
    driver: HandlerDriver, body: str, expected: list[str]
) -> None:
    driver.run(HANDLER, comment(body))

    (reply,) = driver.forge.comment_bodies(REPO, 42)
    for text in expected:
        assert text in reply
    assert driver.forge.reactions == []


def test_in_dry_run_a_usage_mistake_is_not_answered(make_driver: MakeDriver) -> None:
    driver = make_driver(dry_run=True)
    driver.run(HANDLER, comment("/gitops plan --bogus"))

    assert driver.forge.calls == []


@pytest.mark.parametrize(
    ("body", "why"),
    [
        ("/gitops rollback", "deployment commands are answered by deployments.comment"),
        ("/gitops status", "deployment commands are answered by deployments.comment"),
        ("Looks good to me, ship it", "not addressed to the bot"),
    ],
)
def test_comments_that_are_not_terraform_commands_are_left_alone(
    driver: HandlerDriver, body: str, why: str
) -> None:
    driver.run(HANDLER, comment(body))

    assert driver.forge.calls == [], why


def test_a_bots_comment_is_ignored(driver: HandlerDriver) -> None:
    driver.run(HANDLER, comment("/gitops help", login="renovate[bot]", user_type="Bot"))

    assert driver.forge.calls == []


def test_a_repository_outside_the_allowlist_is_ignored(make_driver: MakeDriver) -> None:
    driver = make_driver(repo_allowlist=["acme/other"])
    driver.run(HANDLER, comment("/gitops help"))

    assert driver.forge.calls == []


def test_in_dry_run_a_command_is_recorded_not_run(make_driver: MakeDriver) -> None:
    driver = make_driver(dry_run=True)
    driver.run(HANDLER, comment("atlantis plan -d terraform/staging"))

    assert driver.forge.calls == []  # not even a read: nothing is decided on the forge's answers
    (action,) = driver.actions("terraform.plan")
    assert (action.outcome, action.dry_run, action.actor) == ("dry_run", True, "bob")
    assert action.summary == "atlantis plan on #42 (dry run: not run)"


def test_terraform_does_not_run_for_a_fork(driver: HandlerDriver) -> None:
    driver.forge.add_pull_request(REPO, 42, is_fork=True, head_ref="patch-1")
    driver.forge.set_permission(REPO, "bob", "admin")
    driver.run(HANDLER, comment("/gitops plan"))

    assert driver.forge.comment_bodies(REPO, 42) == [
        "Terraform does not run for pull requests from forks here."
    ]
    assert driver.forge.reactions == []
    assert driver.forge.calls_to("permission_level") == []


def test_a_reader_is_refused_without_a_reaction(driver: HandlerDriver) -> None:
    driver.forge.add_pull_request(REPO, 42)
    driver.forge.set_permission(REPO, "bob", "read")
    driver.services.locks.acquire(LockKey(REPO, "terraform/staging"), pr_number=42, owner="alice")
    driver.run(HANDLER, comment("/gitops unlock"))

    assert driver.forge.comment_bodies(REPO, 42) == [
        "@bob may not run `unlock` here: bob has read permission; this needs write permission or higher."
    ]
    assert driver.forge.reactions == []
    assert len(driver.services.locks.list(REPO)) == 1  # still held
    (action,) = driver.actions("terraform.unlock")
    assert action.outcome == "refused" and action.summary.startswith("refused /gitops unlock on #42")


def test_an_accepted_unlock_gets_eyes_then_releases_the_locks(driver: HandlerDriver) -> None:
    driver.forge.add_pull_request(REPO, 42)
    driver.forge.set_permission(REPO, "bob", "write")
    driver.services.locks.acquire(LockKey(REPO, "terraform/staging"), pr_number=42, owner="alice")
    driver.run(HANDLER, comment("atlantis unlock"))

    assert [(r.comment_id, r.reaction) for r in driver.forge.reactions] == [(COMMENT_ID, "eyes")]
    writes = [call.method for call in driver.forge.writes]
    assert writes == ["add_reaction", "create_comment"]  # 👀 before the work, the answer after
    assert driver.forge.comment_bodies(REPO, 42) == [
        "🔓 Released this pull request's locks (`terraform/staging` (default)) and discarded its plans."
    ]
    assert driver.services.locks.list(REPO) == []
    (action,) = driver.actions("terraform.unlock")
    assert action.summary == "unlocked #42: 1 lock(s) released"


def test_permissions_come_from_the_config_on_the_default_branch(make_driver: MakeDriver) -> None:
    driver = make_driver(config=PERMISSIONS)
    driver.forge.add_pull_request(REPO, 42)
    driver.forge.set_permission(REPO, "bob", "read")
    driver.forge.add_team_member("acme", "sre", "bob")
    driver.run(HANDLER, comment("/gitops unlock"))

    assert driver.forge.calls_to("read_file")[0].arguments == {
        "repo": REPO,
        "path": ".gitops-bot.yaml",
        "ref": "main",
    }
    assert len(driver.forge.reactions) == 1
    assert driver.forge.comment_bodies(REPO, 42) == [
        "🔓 Released this pull request's locks (none were held) and discarded its plans."
    ]
