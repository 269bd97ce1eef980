"""Which projects a pull request plans: tables, no I/O."""

from __future__ import annotations

import pytest

from bot.config import load_repo_config
from bot.redaction import redact_tokens as redact
from bot.terraform.projects import ProjectTarget, modified_projects, select_targets

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
    result = select_targets(CONFIG, ["terraform/staging/main.tf"], **options)
    if isinstance(expected, str):
        assert isinstance(result, str) and expected in result
    else:
        assert not isinstance(result, str)
        assert [target.name for target in result] == expected


def test_token_like_strings_are_redacted() -> None:
    text = "token ghp_" + "a" * 36 + " and AKIA" + "B" * 16 + '\npassword = "hunter2hunter2"\n'
    cleaned = redact(text)
    assert "ghp_" not in cleaned and "AKIA" not in cleaned and "hunter2" not in cleaned
    assert cleaned.count("[redacted]") == 3


def test_autoplanned_targets_keep_apply_on() -> None:
    config = load_repo_config("version: 1\nprojects:\n  - {name: a, dir: a, apply_on: merge}\n")
    (target,) = modified_projects(config, ["a/main.tf"])
    assert target.apply_on == "merge"
