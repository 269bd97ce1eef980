"""``terraform.pull_request`` (handlers/terraform.py): which pull requests autoplan, and locks
released when one closes. Every branch here stops before a plan runs (that needs git and
Terraform: tests/integration/terraform covers it)."""

from __future__ import annotations

import pytest

from bot.events import ParsedEvent
from bot.terraform.locks import LockKey
from tests.unit.handlers.conftest import MakeDriver
from tests.unit.handlers.driver import REPO, HandlerDriver, pull_request

HANDLER = "terraform.pull_request"
HUMAN_BRANCH = "feature/more-gpus"
NO_AUTOPLAN = """\
version: 1
projects:
  - name: staging
    dir: terraform/staging
    autoplan: {enabled: false}
"""
APPLY_ON_PLAN_ONLY = """\
version: 1
projects:
  - name: staging
    dir: terraform/staging
"""


def hold_lock(driver: HandlerDriver, number: int = 42, directory: str = "terraform/staging") -> None:
    taken = driver.services.locks.acquire(LockKey(REPO, directory), pr_number=number, owner="alice")
    assert taken.acquired


@pytest.mark.parametrize(
    ("case", "event"),
    [
        ("a fork", pull_request("github/pull_request.opened_fork.json")),
        ("the bot's own update branch", pull_request()),
        ("a draft", pull_request(head_ref=HUMAN_BRANCH, draft=True)),
        ("a label change", pull_request(head_ref=HUMAN_BRANCH, action="labeled")),
    ],
)
def test_pull_requests_that_never_autoplan(driver: HandlerDriver, case: str, event: ParsedEvent) -> None:
    driver.forge.add_pull_request(REPO, 42, head_ref=HUMAN_BRANCH, changed=["terraform/staging/main.tf"])
    driver.run(HANDLER, event)

    assert driver.forge.calls == [], case
    assert driver.actions() == []


def test_projects_with_autoplan_disabled_do_not_even_list_the_changes(make_driver: MakeDriver) -> None:
    driver = make_driver(config=NO_AUTOPLAN)
    driver.forge.add_pull_request(REPO, 42, head_ref=HUMAN_BRANCH, changed=["terraform/staging/main.tf"])
    driver.run(HANDLER, pull_request(head_ref=HUMAN_BRANCH))

    assert driver.forge.calls_to("list_changed_files") == []
    assert driver.forge.writes == []


def test_a_change_outside_terraform_plans_nothing(driver: HandlerDriver) -> None:
    driver.forge.add_pull_request(
        REPO, 42, head_ref=HUMAN_BRANCH, changed=["README.md", "apps/chat/values.yaml"]
    )
    driver.run(HANDLER, pull_request(head_ref=HUMAN_BRANCH))

    assert [call.method for call in driver.forge.calls][-1] == "list_changed_files"
    assert driver.forge.writes == [] and driver.actions() == []


def test_in_dry_run_an_autoplan_is_recorded_instead_of_run(make_driver: MakeDriver) -> None:
    driver = make_driver(dry_run=True)
    driver.forge.add_pull_request(REPO, 42, head_ref=HUMAN_BRANCH, changed=["terraform/staging/main.tf"])
    driver.run(HANDLER, pull_request(head_ref=HUMAN_BRANCH))

    assert driver.forge.writes == []
    (action,) = driver.actions("terraform.plan")
    assert (action.outcome, action.dry_run, action.actor) == ("dry_run", True, "alice")
    assert action.summary == "autoplan on #42 (dry run: not run)"


def test_closed_without_merge_releases_the_locks_and_applies_nothing(driver: HandlerDriver) -> None:
    hold_lock(driver)
    hold_lock(driver, number=7, directory="terraform/prod")  # another pull request's lock stays
    driver.run(HANDLER, pull_request(head_ref=HUMAN_BRANCH, action="closed", state="closed"))

    assert [lock.pr_number for lock in driver.services.locks.list(REPO)] == [7]
    assert driver.forge.calls == []  # not even the config: only a merge can apply


def test_merged_without_apply_on_merge_releases_the_locks(make_driver: MakeDriver) -> None:
    driver = make_driver(config=APPLY_ON_PLAN_ONLY)
    hold_lock(driver)
    driver.run(HANDLER, pull_request("github/pull_request.closed_merged.json", head_ref=HUMAN_BRANCH))

    assert driver.services.locks.list(REPO) == []
    assert [call.method for call in driver.forge.calls] == ["default_branch", "read_file"]  # the config
    assert driver.forge.writes == []


def test_merged_in_dry_run_applies_nothing(make_driver: MakeDriver) -> None:
    driver = make_driver(
        config=APPLY_ON_PLAN_ONLY.replace(
            "dir: terraform/staging", "dir: terraform/staging\n    apply_on: merge"
        ),
        dry_run=True,
    )
    hold_lock(driver)
    driver.run(HANDLER, pull_request("github/pull_request.closed_merged.json", head_ref=HUMAN_BRANCH))

    assert driver.forge.calls == []
    assert driver.services.locks.list(REPO) == []
