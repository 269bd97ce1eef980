"""``terraform_version`` per project: an exact version or a config error on its line."""

from __future__ import annotations

import pytest

from bot.config import ConfigInvalid, load_repo_config

PROJECT = "version: 1\nprojects:\n  - dir: terraform/staging\n"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("1.15.5", "1.15.5"),
        ('"1.9.0"', "1.9.0"),
        ("1.10.0-rc1", "1.10.0-rc1"),
        ("1.6.0-alpha20230816", "1.6.0-alpha20230816"),
        ("0.15.0-beta.2", "0.15.0-beta.2"),
    ],
)
def test_exact_versions_are_accepted(value: str, expected: str) -> None:
    config = load_repo_config(PROJECT + f"    terraform_version: {value}\n")
    assert config.projects[0].terraform_version == expected


def test_without_it_the_default_binary_runs() -> None:
    assert load_repo_config(PROJECT).projects[0].terraform_version is None


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ('"1.15"', "'1.15' is not an exact Terraform version such as 1.15.5"),
        ("v1.15.5", "'v1.15.5' is not an exact Terraform version"),
        ('">= 1.5"', "'>= 1.5' is not an exact Terraform version"),
        ("../../bin/sh", "'../../bin/sh' is not an exact Terraform version"),
        ('"1.15.5/x"', "'1.15.5/x' is not an exact Terraform version"),
        ('"1.15.5-"', "'1.15.5-' is not an exact Terraform version"),
        ('"1.15.5 "', "'1.15.5 ' is not an exact Terraform version"),
        ("1.15", "Input should be a valid string"),
        ("115", "Input should be a valid string"),
    ],
)
def test_anything_else_is_an_error_on_its_line(value: str, message: str) -> None:
    with pytest.raises(ConfigInvalid) as raised:
        load_repo_config(PROJECT + f"    terraform_version: {value}\n")
    (error,) = [str(error) for error in raised.value.errors]
    assert error.startswith(".gitops-bot.yaml:4:5: projects[0].terraform_version: ")
    assert message in error
