"""Which projects a pull request plans, and the apply requirements: tables, no I/O."""

from __future__ import annotations

import pytest

from bot.adapters.forge.port import Review
from bot.config import load_repo_config
from bot.redaction import redact_tokens as redact
from bot.terraform.projects import (
    ProjectTarget,
    head_approvers,
    modified_projects,
    select_targets,
    unmet_requirements,
)

CONFIG = load_repo_config(
    """\
version: 1
projects:
  - name: staging
    dir: terraform/staging
  - name: staging-blue
    dir: terraform/staging
    workspace: blue
  - name: prod
    dir: terraform/prod
    autoplan: {enabled: false}
  - name: modules
    dir: terraform/net
    autoplan: {when_modified: ["*.tf", "../modules/**/*.tf"]}
"""
)


@pytest.mark.parametrize(
    ("changed", "names"),
    [
        (["terraform/staging/main.tf"], ["staging", "staging-blue"]),
        (["terraform/staging/prod.auto.tfvars"], ["staging", "staging-blue"]),
        (["terraform/staging/.terraform.lock.hcl"], ["staging", "staging-blue"]),
        (["terraform/prod/main.tf"], []),
        (["terraform/net/vpc.tf"], ["modules"]),
        (["README.md", "apps/chat/values.yaml"], []),
    ],
)
def test_autoplan_follows_when_modified(changed: list[str], names: list[str]) -> None:
    assert [target.name for target in modified_projects(CONFIG, changed)] == names


def test_without_projects_every_changed_terraform_directory_is_one() -> None:
    changed = ["infra/a/main.tf", "infra/a/vars.tfvars", "infra/b/x.tofu", "docs/readme.md", "root.tf"]
    assert modified_projects(None, changed) == [
        ProjectTarget("", "."),
        ProjectTarget("", "infra/a"),
        ProjectTarget("", "infra/b"),
    ]


@pytest.mark.parametrize(
    ("flags", "expected"),
    [
        ({"project": "prod"}, ["prod"]),
        ({"project": "nope"}, "no project is named `nope`"),
        ({"directory": "terraform/staging", "workspace": "blue"}, ["staging-blue"]),
        ({"directory": "terraform/staging"}, ["staging"]),
        ({"directory": "elsewhere"}, [""]),
        ({}, ["staging", "staging-blue"]),
    ],
)
def test_commands_select_targets(flags: dict[str, str], expected: list[str] | str) -> None:
    options = {"project": None, "directory": None, "workspace": None, **flags}
    result = select_targets(CONFIG, ["terraform/staging/main.tf"], **options)  # type: ignore[arg-type]
    if isinstance(expected, str):
        assert isinstance(result, str) and expected in result
    else:
        assert not isinstance(result, str)
        assert [target.name for target in result] == expected


@pytest.mark.parametrize(
    ("state", "unmet"),
    [
        ({"approved": True, "mergeable": True, "undiverged": True}, 0),
        ({"approved": False, "mergeable": True, "undiverged": True}, 1),
        ({"approved": False, "mergeable": False, "undiverged": False}, 3),
    ],
)
def test_apply_requirements(state: dict[str, bool], unmet: int) -> None:
    assert len(unmet_requirements(("approved", "mergeable", "undiverged"), **state)) == unmet
    assert unmet_requirements((), approved=False, mergeable=False, undiverged=False) == []


def test_token_like_strings_are_redacted() -> None:
    text = "token ghp_" + "a" * 36 + " and AKIA" + "B" * 16 + '\npassword = "hunter2hunter2"\n'
    cleaned = redact(text)
    assert "ghp_" not in cleaned and "AKIA" not in cleaned and "hunter2" not in cleaned
    assert cleaned.count("[redacted]") == 3


HEAD, OLD = "h" * 40, "o" * 40


@pytest.mark.parametrize(
    ("reviews", "approvers"),
    [
        ([Review("alice", "APPROVED", HEAD)], ("alice",)),
        ([Review("alice", "APPROVED", OLD)], ()),  # approved an older head
        ([Review("dev", "APPROVED", HEAD)], ()),  # the author
        ([Review("alice", "APPROVED", HEAD), Review("alice", "CHANGES_REQUESTED", HEAD)], ()),
        ([Review("alice", "APPROVED", HEAD), Review("alice", "COMMENTED", HEAD)], ("alice",)),
        ([Review("alice", "APPROVED", HEAD), Review("alice", "DISMISSED", HEAD)], ()),
        ([Review("alice", "APPROVED", OLD), Review("alice", "APPROVED", HEAD)], ("alice",)),
        ([Review("bob", "APPROVED", HEAD), Review("Alice", "APPROVED", HEAD)], ("Alice", "bob")),
        ([Review("alice", "APPROVED", None)], ()),
    ],
)
def test_head_approvers(reviews: list[Review], approvers: tuple[str, ...]) -> None:
    assert head_approvers(reviews, author="Dev", head_sha=HEAD) == approvers


def test_autoplanned_targets_keep_apply_on() -> None:
    config = load_repo_config("version: 1\nprojects:\n  - {name: a, dir: a, apply_on: merge}\n")
    (target,) = modified_projects(config, ["a/main.tf"])
    assert target.apply_on == "merge"
